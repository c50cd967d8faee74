//! The adapter against a tiny in-test Graph API: exact bodies and headers, how every kind
//! of failure is classified, and the inbound handshake and status deliveries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use contracts::inbound::{AckOutcome, EventKind, Inbound, InboundRequest, ResourceRef, Trust};
use contracts::messaging::{DeliveryState, OtpMessage, TemplateMessage};
use contracts::{ErrorKind, InboundNotifications, Messaging, ProviderError, ProviderReference};
use secrecy::SecretString;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use url::Url;

use crate::signature::sign;
use crate::{Config, WhatsApp};

const PHONE_NUMBER_ID: &str = "106540352242922";
const TOKEN: &str = "EAAG-access-t0ken";
const APP_SECRET: &str = "test-app-secret";
const VERIFY_TOKEN: &str = "verify-t0ken";
const WAMID: &str = "wamid.HBgLNjI4MTIzNDU2Nzg5MBUCABEYEjQ=";

fn config(base_url: &str) -> Config {
    let mut config = Config::new(
        PHONE_NUMBER_ID,
        SecretString::from(TOKEN),
        SecretString::from(APP_SECRET),
        SecretString::from(VERIFY_TOKEN),
    );
    config.base_url = Url::parse(base_url).expect("base url");
    config.request_timeout_ms = 300;
    config
}

fn adapter(config: Config) -> WhatsApp {
    WhatsApp::new(config, reqwest::Client::new()).expect("valid config")
}

/// What the stand-in answers: HTTP status, body, and a delay before answering.
type Answer = (u16, String, Duration);

/// One request the stand-in saw: path, headers, JSON body.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Clone)]
struct Stub {
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Arc<Answer>,
}

impl Stub {
    fn only(&self) -> Seen {
        let seen = self.seen.lock().expect("lock");
        assert_eq!(seen.len(), 1, "exactly one request");
        seen[0].clone()
    }
}

async fn handle(
    State(stub): State<Stub>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    stub.seen.lock().expect("lock").push(Seen {
        path: uri.path().to_owned(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let (status, body, delay) = stub.answer.as_ref().clone();
    tokio::time::sleep(delay).await;
    (StatusCode::from_u16(status).expect("status"), body)
}

/// Starts a stand-in answering every request with `answer`.
async fn serve(answer: Answer) -> (WhatsApp, Stub) {
    let stub = Stub {
        seen: Arc::default(),
        answer: Arc::new(answer),
    };
    let app = Router::new().fallback(handle).with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (adapter(config(&format!("http://{addr}"))), stub)
}

fn accepted() -> Answer {
    let body = json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": "6281234567890", "wa_id": "6281234567890"}],
        "messages": [{"id": WAMID, "message_status": "accepted"}],
    });
    (200, body.to_string(), Duration::ZERO)
}

fn graph_error(status: u16, code: i64, kind: &str) -> Answer {
    let body = json!({"error": {
        "message": "(#131030) Recipient phone number not in allowed list",
        "type": kind, "code": code, "error_subcode": 2655007,
        "error_data": {"messaging_product": "whatsapp", "details": "6281234567890"},
        "fbtrace_id": "AbCdEfTrace",
    }});
    (status, body.to_string(), Duration::ZERO)
}

fn template_message(params: &[&str]) -> TemplateMessage {
    TemplateMessage::new(
        "+6281234567890".to_owned(),
        "order_update".to_owned(),
        "id".to_owned(),
        params.iter().map(|p| (*p).to_owned()).collect(),
    )
}

fn otp_message() -> OtpMessage {
    OtpMessage::new(
        "+62 812-3456-7890".to_owned(),
        "login_code".to_owned(),
        "id".to_owned(),
        "482913".to_owned(),
    )
}

#[tokio::test]
async fn a_template_is_posted_as_the_cloud_api_spells_it() {
    let (whatsapp, stub) = serve(accepted()).await;
    let sent = whatsapp
        .send_template(&template_message(&["Budi", "INV-001"]))
        .await
        .expect("sent");
    assert_eq!(sent.provider_reference, ProviderReference(WAMID.to_owned()));

    let seen = stub.only();
    assert_eq!(seen.path, format!("/v21.0/{PHONE_NUMBER_ID}/messages"));
    assert_eq!(
        seen.headers["authorization"].to_str().expect("ascii"),
        format!("Bearer {TOKEN}")
    );
    assert_eq!(seen.headers["content-type"], "application/json");
    assert_eq!(
        seen.body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "6281234567890",
            "type": "template",
            "template": {
                "name": "order_update",
                "language": {"code": "id"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "Budi"},
                    {"type": "text", "text": "INV-001"},
                ]}],
            },
        })
    );
}

#[tokio::test]
async fn a_template_without_parameters_sends_empty_components() {
    let (whatsapp, stub) = serve(accepted()).await;
    whatsapp
        .send_template(&template_message(&[]))
        .await
        .expect("sent");
    assert_eq!(stub.only().body["template"]["components"], json!([]));
}

#[tokio::test]
async fn an_otp_carries_the_same_code_in_the_body_and_the_copy_code_button() {
    let (whatsapp, stub) = serve(accepted()).await;
    let sent = whatsapp.send_otp(&otp_message()).await.expect("sent");
    assert_eq!(sent.provider_reference.as_str(), WAMID);
    let body = stub.only().body;
    assert_eq!(body["to"], "6281234567890");
    assert_eq!(
        body["template"],
        json!({
            "name": "login_code",
            "language": {"code": "id"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
                {"type": "button", "sub_type": "url", "index": "0",
                 "parameters": [{"type": "text", "text": "482913"}]},
            ],
        })
    );
}

#[tokio::test]
async fn unusable_requests_are_refused_before_anything_is_sent() {
    let (whatsapp, stub) = serve(accepted()).await;
    let mut national = template_message(&[]);
    national.recipient = "081234567890".to_owned();
    let mut no_code = otp_message();
    no_code.code = String::new();
    let mut no_name = template_message(&[]);
    no_name.template = " ".to_owned();
    for err in [
        whatsapp
            .send_template(&national)
            .await
            .expect_err("national"),
        whatsapp.send_otp(&no_code).await.expect_err("no code"),
        whatsapp.send_template(&no_name).await.expect_err("no name"),
    ] {
        assert_eq!(err.kind, ErrorKind::Rejected);
        assert!(!err.message.contains("081234567890"));
    }
    assert!(stub.seen.lock().expect("lock").is_empty());
}

async fn send_error(answer: Answer) -> ProviderError {
    let (whatsapp, _stub) = serve(answer).await;
    whatsapp.send_otp(&otp_message()).await.expect_err("fails")
}

#[tokio::test]
async fn each_error_class_maps_onto_the_taxonomy() {
    let cases = [
        (
            graph_error(400, 130429, "OAuthException"),
            ErrorKind::RateLimited,
        ),
        (
            graph_error(400, 131056, "OAuthException"),
            ErrorKind::RateLimited,
        ),
        (
            graph_error(400, 4, "OAuthException"),
            ErrorKind::RateLimited,
        ),
        (
            graph_error(401, 190, "OAuthException"),
            ErrorKind::Unauthorized,
        ),
        (
            graph_error(401, 0, "OAuthException"),
            ErrorKind::Unauthorized,
        ),
        (
            graph_error(400, 131026, "OAuthException"),
            ErrorKind::Rejected,
        ),
        (
            graph_error(400, 131047, "OAuthException"),
            ErrorKind::Rejected,
        ),
        (
            graph_error(404, 132001, "OAuthException"),
            ErrorKind::Rejected,
        ),
        (
            graph_error(400, 132000, "OAuthException"),
            ErrorKind::Rejected,
        ),
        (
            graph_error(503, 131016, "OAuthException"),
            ErrorKind::Unavailable,
        ),
        (
            graph_error(500, 131000, "OAuthException"),
            ErrorKind::Timeout,
        ),
        (graph_error(500, 1, "OAuthException"), ErrorKind::Timeout),
        (
            (502, "<html>bad gateway</html>".to_owned(), Duration::ZERO),
            ErrorKind::Timeout,
        ),
        ((503, String::new(), Duration::ZERO), ErrorKind::Unavailable),
        ((200, "{}".to_owned(), Duration::ZERO), ErrorKind::Protocol),
        (
            (200, "not json".to_owned(), Duration::ZERO),
            ErrorKind::Protocol,
        ),
    ];
    for (answer, expected) in cases {
        let status = answer.0;
        let err = send_error(answer).await;
        assert_eq!(err.kind, expected, "{status}: {err}");
    }
}

#[tokio::test]
async fn graph_errors_keep_the_code_and_name_the_reason_without_personal_data() {
    let err = send_error(graph_error(400, 131026, "OAuthException")).await;
    assert_eq!(err.provider_code.as_deref(), Some("131026"));
    assert!(
        err.message.contains("not a WhatsApp user"),
        "{}",
        err.message
    );
    assert!(err.message.contains("AbCdEfTrace"));
    assert!(!err.message.contains("6281234567890"));
    assert!(!err.message.contains("482913"));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_send_that_times_out_is_ambiguous_not_retryable() {
    let err = send_error((200, accepted().1, Duration::from_secs(1))).await;
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let whatsapp = adapter(config(&format!("http://{addr}")));
    let err = whatsapp
        .send_otp(&otp_message())
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert!(err.is_retryable());
}

fn offline() -> WhatsApp {
    adapter(config("https://graph.facebook.com"))
}

fn get(query: &str) -> InboundRequest {
    InboundRequest::new(
        "GET",
        "",
        Vec::new(),
        Bytes::new(),
        OffsetDateTime::now_utc(),
    )
    .with_path(format!("/v1/callbacks/wa_main?{query}"))
}

fn post(body: &str, signature: Option<String>) -> InboundRequest {
    let headers = signature
        .map(|s| vec![("x-hub-signature-256".to_owned(), s)])
        .unwrap_or_default();
    InboundRequest::new(
        "POST",
        "",
        headers,
        Bytes::from(body.to_owned()),
        OffsetDateTime::now_utc(),
    )
    .with_path("/v1/callbacks/wa_main")
}

fn signed(body: &str) -> InboundRequest {
    post(
        body,
        Some(sign(&SecretString::from(APP_SECRET), body.as_bytes())),
    )
}

#[tokio::test]
async fn the_handshake_echoes_the_challenge_for_our_token() {
    let whatsapp = offline();
    let request = get("hub.mode=subscribe&hub.verify_token=verify-t0ken&hub.challenge=1158201444");
    let Inbound::Reply(reply) = whatsapp.verify_and_parse(&request).await.expect("ok") else {
        panic!("a handshake is answered directly");
    };
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, Bytes::from("1158201444"));
    assert!(reply.content_type.starts_with("text/plain"));
}

#[tokio::test]
async fn the_handshake_decodes_a_percent_encoded_token() {
    let mut config = config("https://graph.facebook.com");
    config.verify_token = SecretString::from("a b&c");
    let whatsapp = adapter(config);
    let request = get("hub.mode=subscribe&hub.verify_token=a%20b%26c&hub.challenge=42");
    assert!(matches!(
        whatsapp.verify_and_parse(&request).await,
        Ok(Inbound::Reply(_))
    ));
}

#[tokio::test]
async fn a_handshake_with_a_wrong_or_missing_token_is_refused_with_403() {
    let whatsapp = offline();
    for query in [
        "hub.mode=subscribe&hub.verify_token=verify-t0keN&hub.challenge=1",
        "hub.mode=subscribe&hub.verify_token=verify-t0ke&hub.challenge=1",
        "hub.mode=subscribe&hub.challenge=1",
        "",
    ] {
        let request = get(query);
        let err = whatsapp.verify_and_parse(&request).await.expect_err(query);
        assert_eq!(err.kind, ErrorKind::InvalidSignature, "{query}");
        assert!(!err.message.contains(VERIFY_TOKEN));
        let ack = whatsapp.acknowledge(&request, &AckOutcome::Rejected(err));
        assert_eq!(ack.status, 403);
    }
}

#[tokio::test]
async fn a_handshake_without_a_challenge_or_subscribe_mode_is_refused() {
    let whatsapp = offline();
    for query in [
        "hub.mode=subscribe&hub.verify_token=verify-t0ken",
        "hub.mode=subscribe&hub.verify_token=verify-t0ken&hub.challenge=",
        "hub.mode=unsubscribe&hub.verify_token=verify-t0ken&hub.challenge=1",
    ] {
        let request = get(query);
        let err = whatsapp.verify_and_parse(&request).await.expect_err(query);
        assert_eq!(err.kind, ErrorKind::Rejected, "{query}");
        let ack = whatsapp.acknowledge(&request, &AckOutcome::Rejected(err));
        assert_eq!(ack.status, 403);
    }
}

fn statuses(statuses: Value) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "statuses": statuses,
        }}]}],
    })
    .to_string()
}

fn status(state: &str) -> Value {
    json!({
        "id": WAMID, "status": state, "timestamp": "1700000000",
        "recipient_id": "6281234567890",
        "pricing": {"billable": true, "pricing_model": "PMP", "category": "authentication"},
    })
}

async fn events(body: &str) -> Vec<contracts::inbound::InboundEvent> {
    match offline()
        .verify_and_parse(&signed(body))
        .await
        .expect("verified")
    {
        Inbound::Events(notification) => notification.events,
        other => panic!("expected events, got {other:?}"),
    }
}

#[tokio::test]
async fn all_four_statuses_become_message_status_events() {
    let body = statuses(json!([
        status("sent"),
        status("delivered"),
        status("read"),
        status("failed"),
    ]));
    let events = events(&body).await;
    let states: Vec<_> = events
        .iter()
        .map(|e| match &e.kind {
            EventKind::MessageStatus { state, at, .. } => {
                assert_eq!(*at, Some(datetime!(2023-11-14 22:13:20 UTC)));
                *state
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    use DeliveryState::{Delivered, Failed, Read, Sent};
    assert_eq!(states, [Sent, Delivered, Read, Failed]);
    let keys: Vec<_> = events.iter().map(|e| e.provider_event_id.clone()).collect();
    assert_eq!(keys[0], format!("{WAMID}:sent"));
    assert_eq!(keys[3], format!("{WAMID}:failed"));
    assert_eq!(
        events[1].resource,
        ResourceRef::Message {
            provider_reference: ProviderReference(WAMID.to_owned())
        }
    );
    assert_eq!(events[1].payload, status("delivered"));
}

#[tokio::test]
async fn unknown_statuses_are_skipped_not_guessed() {
    let body = statuses(json!([status("played"), status("deleted"), status("read")]));
    let events = events(&body).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].provider_event_id, format!("{WAMID}:read"));
}

#[tokio::test]
async fn a_failure_carries_the_code_and_title() {
    let mut failed = status("failed");
    failed["errors"] = json!([{
        "code": 131026, "title": "Message undeliverable",
        "message": "Message undeliverable", "error_data": {"details": "..."},
    }]);
    let mut untitled = status("failed");
    untitled["id"] = json!("wamid.other");
    untitled["errors"] = json!([{"code": 131047}]);
    let events = events(&statuses(json!([failed, untitled]))).await;
    let errors: Vec<_> = events
        .iter()
        .map(|e| match &e.kind {
            EventKind::MessageStatus { error, .. } => error.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(errors[0].as_deref(), Some("131026: Message undeliverable"));
    let second = errors[1].as_deref().expect("an error");
    assert!(second.starts_with("131047: re-engagement"), "{second}");
}

#[tokio::test]
async fn user_messages_are_acknowledged_with_no_events() {
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
    "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "contacts": [{"profile": {"name": "Budi"}, "wa_id": "6281234567890"}],
        "messages": [{"from": "6281234567890", "id": "wamid.in", "timestamp": "1700000000",
                      "type": "text", "text": {"body": "halo"}}],
    }}]}]})
    .to_string();
    assert!(events(&body).await.is_empty());
}

#[tokio::test]
async fn the_published_envelope_vector_verifies() {
    // 3.6: key `test-app-secret` over this exact body.
    let body = r#"{"object":"whatsapp_business_account","entry":[]}"#;
    let header =
        "sha256=c84a394cc475525991e78ff16e430b02e47f953877d2af0ade26956ce6f384dc".to_owned();
    let parsed = offline().verify_and_parse(&post(body, Some(header))).await;
    assert!(matches!(parsed, Ok(Inbound::Events(n)) if n.events.is_empty()));
}

#[tokio::test]
async fn tampered_unsigned_and_wrongly_keyed_deliveries_are_refused_with_401() {
    let whatsapp = offline();
    let body = statuses(json!([status("read")]));
    let good = sign(&SecretString::from(APP_SECRET), body.as_bytes());
    let tampered = body.replace("read", "sent");
    let requests = [
        post(&tampered, Some(good.clone())),
        post(&body, None),
        post(&body, Some(good.trim_start_matches("sha256=").to_owned())),
        post(
            &body,
            Some(sign(&SecretString::from("other-secret"), body.as_bytes())),
        ),
    ];
    for request in requests {
        let err = whatsapp
            .verify_and_parse(&request)
            .await
            .expect_err("refused");
        assert_eq!(err.kind, ErrorKind::InvalidSignature);
        let ack = whatsapp.acknowledge(&request, &AckOutcome::Rejected(err));
        assert_eq!(ack.status, 401);
    }
}

#[tokio::test]
async fn a_signed_but_unreadable_delivery_is_rejected_with_400() {
    let whatsapp = offline();
    let request = signed("not json");
    let err = whatsapp
        .verify_and_parse(&request)
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert_eq!(
        whatsapp
            .acknowledge(&request, &AckOutcome::Rejected(err))
            .status,
        400
    );
}

#[tokio::test]
async fn other_paths_and_methods_are_rejected() {
    let whatsapp = offline();
    let body = statuses(json!([]));
    let mut on_sub_path = signed(&body);
    on_sub_path.sub_path = "status".to_owned();
    let mut put = signed(&body);
    put.method = "PUT".to_owned();
    for request in [on_sub_path, put] {
        let err = whatsapp
            .verify_and_parse(&request)
            .await
            .expect_err("refused");
        assert_eq!(err.kind, ErrorKind::Rejected);
    }
}

#[test]
fn acknowledgements_are_those_meta_expects() {
    let whatsapp = offline();
    let request = signed("{}");
    let ack = |outcome| whatsapp.acknowledge(&request, &outcome);
    let accepted = ack(AckOutcome::Accepted);
    assert_eq!(
        (accepted.status, accepted.body.as_ref()),
        (200, b"OK".as_ref())
    );
    assert_eq!(ack(AckOutcome::RetryLater).status, 503);
    assert_eq!(ack(AckOutcome::Replayed).status, 200);
    assert_eq!(whatsapp.trust(), Trust::Strong);
}

#[test]
fn debug_hides_secrets_and_recipients() {
    let whatsapp = offline();
    let shown = format!("{whatsapp:?}");
    assert!(shown.contains(PHONE_NUMBER_ID), "{shown}");
    let shown = format!("{shown} {:?}", whatsapp.capabilities().messaging);
    for secret in [TOKEN, APP_SECRET, VERIFY_TOKEN] {
        assert!(!shown.contains(secret), "{shown}");
    }
    let config = format!("{:?}", config("https://graph.facebook.com"));
    for secret in [TOKEN, APP_SECRET, VERIFY_TOKEN] {
        assert!(!config.contains(secret), "{config}");
    }
    let messages = format!("{:?} {:?}", otp_message(), template_message(&["Budi"]));
    assert!(!messages.contains("6281") && !messages.contains("482913"));
}

#[test]
fn capabilities_offer_messaging_and_inbound() {
    let capabilities = offline().capabilities();
    assert!(capabilities.messaging.is_some());
    assert!(capabilities.inbound.is_some());
    assert!(capabilities.payments.is_none());
}

#[test]
fn an_invalid_config_is_refused_at_construction() {
    let mut config = config("https://graph.facebook.com");
    config.api_version = "latest".to_owned();
    assert!(WhatsApp::new(config, reqwest::Client::new()).is_err());
}
