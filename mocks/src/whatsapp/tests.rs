use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::Request;
use axum::routing::get;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::faults::{Fault, FaultRule};

const TOKEN: &str = "EAAG-test-access-token";
const PHONE_ID: &str = "106540352242922";
const SECRET: &str = "test-app-secret";
const TO: &str = "6281234567890";
const VERIFY: &str = "verify-me";

fn simulator() -> WhatsAppSimulator {
    let mut config = WhatsAppConfig::new(TOKEN, PHONE_ID, SECRET);
    config
        .templates
        .push(Template::utility("hello_world", "en_US", 0));
    WhatsAppSimulator::new(config)
}

async fn call(
    sim: &WhatsAppSimulator,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut request = Request::post(path).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Body::from(body.to_string())).expect("request");
    let response = sim.router().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn send(sim: &WhatsAppSimulator, body: Value) -> (u16, Value) {
    call(
        sim,
        &format!("/v21.0/{PHONE_ID}/messages"),
        Some(TOKEN),
        body,
    )
    .await
}

fn otp(to: &str, body_code: &str, button_code: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {
            "name": "otp_login",
            "language": {"code": "id"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": body_code}]},
                {"type": "button", "sub_type": "url", "index": "0",
                 "parameters": [{"type": "text", "text": button_code}]},
            ],
        },
    })
}

fn reminder(params: &[&str]) -> Value {
    let parameters: Vec<Value> = params
        .iter()
        .map(|text| json!({"type": "text", "text": text}))
        .collect();
    json!({
        "messaging_product": "whatsapp",
        "to": TO,
        "type": "template",
        "biz_opaque_callback_data": "inv/0001",
        "template": {
            "name": "payment_reminder",
            "language": {"code": "id"},
            "components": [{"type": "body", "parameters": parameters}],
        },
    })
}

fn error_code(answer: &Value) -> u64 {
    answer["error"]["code"].as_u64().unwrap_or_default()
}

fn message_id(answer: &Value) -> String {
    answer["messages"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn an_otp_template_is_accepted_and_kept() {
    let sim = simulator();
    let (status, answer) = send(&sim, otp(TO, "482913", "482913")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["messaging_product"], "whatsapp");
    assert_eq!(answer["contacts"], json!([{"input": TO, "wa_id": TO}]));
    let id = message_id(&answer);
    assert!(id.starts_with("wamid.") && id.len() > 20, "{id}");
    let message = sim.message(&id).expect("kept");
    assert_eq!(message.to, TO);
    assert_eq!(message.template, "otp_login");
    assert_eq!(message.params, vec!["482913".to_owned()]);
    assert_eq!(message.button_code.as_deref(), Some("482913"));
    assert_eq!(message.state, MessageStatus::Sent);
    assert_eq!(sim.last_code_for(TO).as_deref(), Some("482913"));
    assert_eq!(sim.calls("send"), 1);
}

#[tokio::test]
async fn a_utility_template_is_accepted_and_ids_are_unique() {
    let sim = simulator();
    let (status, first) = send(&sim, reminder(&["Budi", "150000"])).await;
    assert_eq!(status, 200, "{first}");
    let (_, second) = send(&sim, reminder(&["Budi", "150000"])).await;
    assert_ne!(message_id(&first), message_id(&second));
    let messages = sim.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[0].params,
        vec!["Budi".to_owned(), "150000".to_owned()]
    );
    assert_eq!(
        messages[0].biz_opaque_callback_data.as_deref(),
        Some("inv/0001")
    );
    assert!(!messages[0].authentication);
    assert_eq!(sim.last_code_for(TO), None, "a reminder carries no code");
}

#[tokio::test]
async fn last_code_for_follows_the_latest_otp_per_number() {
    let sim = simulator();
    send(&sim, otp(TO, "111111", "111111")).await;
    send(&sim, otp("+6289876543210", "222222", "222222")).await;
    send(&sim, otp(TO, "333333", "333333")).await;
    send(&sim, reminder(&["Budi", "1"])).await;
    assert_eq!(sim.last_code_for(TO).as_deref(), Some("333333"));
    assert_eq!(
        sim.last_code_for("+6289876543210").as_deref(),
        Some("222222")
    );
    assert_eq!(
        sim.last_code_for("6289876543210").as_deref(),
        Some("222222")
    );
    assert_eq!(sim.last_code_for("6280000000000"), None);
}

#[tokio::test]
async fn a_heyoo_request_is_accepted_unchanged() {
    let sim = simulator();
    // heyoo 0.1.2: v14.0, no recipient_type, components [] for a template without parameters.
    let body = json!({
        "messaging_product": "whatsapp",
        "to": TO,
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}, "components": []},
    });
    let (status, answer) = call(
        &sim,
        &format!("/v14.0/{PHONE_ID}/messages"),
        Some(TOKEN),
        body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // Its read receipt, on v15.0.
    let receipt = json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.HBgLNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjA"});
    let (status, answer) = call(
        &sim,
        &format!("/v15.0/{PHONE_ID}/messages"),
        Some(TOKEN),
        receipt,
    )
    .await;
    assert_eq!((status, answer), (200, json!({"success": true})));
    assert_eq!(sim.calls("mark_read"), 1);
    assert_eq!(sim.messages().len(), 1);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_190() {
    let sim = simulator();
    let path = format!("/v21.0/{PHONE_ID}/messages");
    for token in [None, Some("EAAG-other")] {
        let (status, answer) = call(&sim, &path, token, otp(TO, "1", "1")).await;
        assert_eq!(status, 401);
        assert_eq!(error_code(&answer), 190);
        assert_eq!(answer["error"]["type"], "OAuthException");
        assert!(
            answer["error"]["fbtrace_id"]
                .as_str()
                .is_some_and(|id| id.starts_with('A'))
        );
    }
    assert!(sim.messages().is_empty());
}

#[tokio::test]
async fn an_unknown_phone_number_id_or_version_is_100() {
    let sim = simulator();
    for path in [
        "/v21.0/999999/messages".to_owned(),
        format!("/latest/{PHONE_ID}/messages"),
    ] {
        let (status, answer) = call(&sim, &path, Some(TOKEN), otp(TO, "1", "1")).await;
        assert_eq!((status, error_code(&answer)), (400, 100), "{path}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("(#100)"))
        );
    }
}

#[tokio::test]
async fn an_unknown_template_or_language_is_132001() {
    let sim = simulator();
    let mut unknown = otp(TO, "1", "1");
    unknown["template"]["name"] = json!("otp_signup");
    let mut english = otp(TO, "1", "1");
    english["template"]["language"]["code"] = json!("en_US");
    for body in [unknown, english] {
        let (status, answer) = send(&sim, body).await;
        assert_eq!((status, error_code(&answer)), (404, 132_001), "{answer}");
    }
}

#[tokio::test]
async fn a_wrong_parameter_count_is_132000() {
    let sim = simulator();
    for params in [&["Budi"][..], &["Budi", "1", "2"], &[]] {
        let (status, answer) = send(&sim, reminder(params)).await;
        assert_eq!((status, error_code(&answer)), (400, 132_000), "{answer}");
    }
    let mut no_components = reminder(&[]);
    no_components["template"]["components"] = json!([]);
    let (status, answer) = send(&sim, no_components).await;
    assert_eq!((status, error_code(&answer)), (400, 132_000));
    assert!(sim.messages().is_empty());
}

#[tokio::test]
async fn an_otp_whose_button_differs_or_is_missing_is_refused() {
    let sim = simulator();
    let (status, answer) = send(&sim, otp(TO, "482913", "482914")).await;
    assert_eq!((status, error_code(&answer)), (400, 132_000));
    assert!(
        answer["error"]["error_data"]["details"]
            .as_str()
            .is_some_and(|d| d.contains("copy-code"))
    );
    let mut no_button = otp(TO, "482913", "482913");
    no_button["template"]["components"]
        .as_array_mut()
        .expect("array")
        .pop();
    let (status, answer) = send(&sim, no_button).await;
    assert_eq!((status, error_code(&answer)), (400, 132_000));
    let mut wrong_sub_type = otp(TO, "482913", "482913");
    wrong_sub_type["template"]["components"][1]["sub_type"] = json!("quick_reply");
    let (_, answer) = send(&sim, wrong_sub_type).await;
    assert_eq!(error_code(&answer), 132_000);
    let mut wrong_index = otp(TO, "482913", "482913");
    wrong_index["template"]["components"][1]["index"] = json!("1");
    let (_, answer) = send(&sim, wrong_index).await;
    assert_eq!(error_code(&answer), 132_000);
    let mut numeric_index = otp(TO, "482913", "482913");
    numeric_index["template"]["components"][1]["index"] = json!(0);
    let (status, _) = send(&sim, numeric_index).await;
    assert_eq!(status, 200);
    let mut button_on_utility = reminder(&["Budi", "1"]);
    button_on_utility["template"]["components"]
        .as_array_mut()
        .expect("array")
        .push(json!({"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "x"}]}));
    let (_, answer) = send(&sim, button_on_utility).await;
    assert_eq!(error_code(&answer), 132_000);
    assert_eq!(sim.messages().len(), 1);
    assert_eq!(sim.last_code_for(TO).as_deref(), Some("482913"));
}

#[tokio::test]
async fn other_body_errors_are_refused() {
    let sim = simulator();
    for to in ["62812", "6281234567890123", "62-812-3456", ""] {
        let (status, answer) = send(&sim, otp(to, "1", "1")).await;
        assert_eq!((status, error_code(&answer)), (400, 131_009), "{to}");
    }
    let mut no_to = otp(TO, "1", "1");
    no_to.as_object_mut().expect("object").remove("to");
    assert_eq!(error_code(&send(&sim, no_to).await.1), 131_008);
    let mut product = otp(TO, "1", "1");
    product["messaging_product"] = json!("sms");
    assert_eq!(error_code(&send(&sim, product).await.1), 100);
    let mut text = otp(TO, "1", "1");
    text["type"] = json!("text");
    assert_eq!(error_code(&send(&sim, text).await.1), 100);
    let (status, answer) = send(&sim, json!("not an object")).await;
    assert_eq!((status, error_code(&answer)), (400, 100));
    assert!(sim.messages().is_empty());
}

#[tokio::test]
async fn throttle_and_pair_limit_refuse_the_next_sends() {
    let sim = simulator();
    sim.throttle(2);
    for _ in 0..2 {
        let (status, answer) = send(&sim, otp(TO, "1", "1")).await;
        assert_eq!((status, error_code(&answer)), (400, 130_429));
    }
    sim.pair_limit(1);
    let (_, answer) = send(&sim, otp(TO, "1", "1")).await;
    assert_eq!(error_code(&answer), 131_056);
    let (status, _) = send(&sim, otp(TO, "1", "1")).await;
    assert_eq!(status, 200);
    assert_eq!(sim.messages().len(), 1);
    assert_eq!(sim.calls("send"), 4);
}

#[tokio::test]
async fn faults_apply_to_sends() {
    let sim = simulator();
    sim.faults().push(FaultRule::once("send", Fault::Down));
    let (status, _) = send(&sim, otp(TO, "1", "1")).await;
    assert_eq!(status, 503);
    sim.faults().push(FaultRule::once("send", Fault::Malformed));
    let (status, answer) = send(&sim, otp(TO, "1", "1")).await;
    assert_eq!(status, 200);
    assert!(answer.is_string(), "unparseable: {answer}");
    assert_eq!(sim.calls("send"), 0);
    assert!(sim.messages().is_empty());
}

#[test]
fn debug_hides_secrets_and_personal_data() {
    let config = WhatsAppConfig::new(TOKEN, PHONE_ID, SECRET);
    let shown = format!("{config:?} {:?}", WhatsAppSimulator::new(config.clone()));
    assert!(!shown.contains(TOKEN) && !shown.contains(SECRET), "{shown}");
    let message = Message {
        id: "wamid.x".to_owned(),
        to: TO.to_owned(),
        template: "otp_login".to_owned(),
        language: "id".to_owned(),
        params: vec!["482913".to_owned()],
        button_code: Some("482913".to_owned()),
        authentication: true,
        biz_opaque_callback_data: None,
        state: MessageStatus::Sent,
        sent_at: 0,
    };
    let shown = format!("{message:?}");
    assert!(!shown.contains(TO) && !shown.contains("482913"), "{shown}");
}

#[test]
fn signature_matches_the_published_vectors() {
    // 3.6: the whatsapp_sdk vector and the self-computed one.
    assert_eq!(
        signature(b"secret", b"test"),
        "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
    );
    assert_eq!(
        signature(
            b"test-app-secret",
            br#"{"object":"whatsapp_business_account","entry":[]}"#
        ),
        "sha256=c84a394cc475525991e78ff16e430b02e47f953877d2af0ade26956ce6f384dc"
    );
}

#[test]
fn status_rank_only_moves_up_and_failed_is_terminal() {
    use MessageStatus::{Delivered, Failed, Read, Sent};
    assert_eq!(Sent.advance(Read), Read);
    assert_eq!(Read.advance(Delivered), Read);
    assert_eq!(Delivered.advance(Sent), Delivered);
    assert_eq!(Read.advance(Failed(131_026)), Failed(131_026));
    assert_eq!(Failed(131_047).advance(Read), Failed(131_047));
}

/// What the local receiver saw.
#[derive(Clone, Debug)]
struct Seen {
    verified: bool,
    body: Value,
    raw: String,
}

/// The query pairs of one handshake request.
type QueryPairs = Vec<(String, String)>;

#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Seen>>>,
    queries: Arc<Mutex<Vec<QueryPairs>>>,
}

impl Receiver {
    async fn spawn() -> (Self, String, Running) {
        let receiver = Self::default();
        let router = Router::new()
            .route("/webhooks/whatsapp", get(verify).post(receive))
            .with_state(receiver.clone());
        let running = server::spawn(router, server::any_local_port())
            .await
            .expect("bind");
        let url = format!("{}/webhooks/whatsapp", running.base_url);
        (receiver, url, running)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn statuses(&self) -> Vec<String> {
        self.seen()
            .iter()
            .map(|seen| status_of(&seen.body).0)
            .collect()
    }
}

fn status_of(body: &Value) -> (String, Value) {
    let status = &body["entry"][0]["changes"][0]["value"]["statuses"][0];
    (
        status["status"].as_str().unwrap_or_default().to_owned(),
        status.clone(),
    )
}

/// Verifies over the raw bytes, as the gateway must (3.6).
async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let presented = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let verified = presented == signature(SECRET.as_bytes(), &body);
    let raw = String::from_utf8_lossy(&body).into_owned();
    let parsed = serde_json::from_slice(&body).unwrap_or(Value::Null);
    receiver.seen.lock().expect("lock").push(Seen {
        verified,
        body: parsed,
        raw,
    });
    if verified {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

async fn verify(
    State(receiver): State<Receiver>,
    Query(query): Query<Vec<(String, String)>>,
) -> (StatusCode, String) {
    receiver.queries.lock().expect("lock").push(query.clone());
    let get = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    };
    if get("hub.mode") == "subscribe" && get("hub.verify_token") == VERIFY {
        (StatusCode::OK, get("hub.challenge"))
    } else {
        (StatusCode::FORBIDDEN, String::new())
    }
}

async fn sent_otp(sim: &WhatsAppSimulator) -> String {
    let (status, answer) = send(sim, otp(TO, "482913", "482913")).await;
    assert_eq!(status, 200, "{answer}");
    message_id(&answer)
}

#[tokio::test]
async fn deliver_read_and_fail_post_signed_status_webhooks() {
    let sim = simulator();
    let (receiver, url, _running) = Receiver::spawn().await;
    sim.set_webhook_url(&url);
    let id = sent_otp(&sim).await;
    assert_eq!(sim.deliver(&id).await.expect("posted").status, 200);
    assert_eq!(sim.read(&id).await.expect("posted").status, 200);
    assert_eq!(sim.message(&id).expect("kept").state, MessageStatus::Read);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| s.verified));
    let body = &seen[0].body;
    assert_eq!(body["object"], "whatsapp_business_account");
    assert_eq!(body["entry"][0]["id"], "102290129340398");
    let change = &body["entry"][0]["changes"][0];
    assert_eq!(change["field"], "messages");
    assert_eq!(change["value"]["messaging_product"], "whatsapp");
    assert_eq!(change["value"]["metadata"]["phone_number_id"], PHONE_ID);
    let (status, entry) = status_of(body);
    assert_eq!(status, "delivered");
    assert_eq!(entry["id"], json!(id));
    assert_eq!(entry["recipient_id"], TO);
    assert_eq!(entry["pricing"]["category"], "authentication");
    assert!(entry.get("errors").is_none());
    let timestamp: i64 = entry["timestamp"]
        .as_str()
        .expect("string")
        .parse()
        .expect("digits");
    assert!((time::OffsetDateTime::now_utc().unix_timestamp() - timestamp).abs() < 60);

    let other = sent_otp(&sim).await;
    assert_eq!(sim.fail(&other, 131_026).await.expect("posted").status, 200);
    let seen = receiver.seen();
    let (status, entry) = status_of(&seen[2].body);
    assert_eq!(status, "failed");
    assert_eq!(entry["errors"][0]["code"], 131_026);
    assert!(entry.get("pricing").is_none());
    // Meta's escaping of `/` is kept, so only raw-byte verification passes.
    assert!(seen[2].raw.contains(r"https:\/\/developers.facebook.com"));
    assert_eq!(
        sim.message(&other).expect("kept").state,
        MessageStatus::Failed(131_026)
    );
}

#[tokio::test]
async fn tampered_webhooks_fail_verification() {
    let sim = simulator();
    let (receiver, url, _running) = Receiver::spawn().await;
    sim.set_webhook_url(&url);
    let id = sent_otp(&sim).await;
    for tamper in [Tamper::FlipByte, Tamper::WrongKey] {
        let outcomes = sim
            .deliver_with(&id, CallbackOptions::tampered(tamper))
            .await
            .expect("posted");
        assert_eq!(outcomes.len(), 1);
        assert_eq!(outcomes[0].status, 401, "{tamper:?}");
    }
    let seen = receiver.seen();
    assert!(seen.iter().all(|s| !s.verified));
    assert_eq!(
        status_of(&seen[0].body).0,
        "delivered",
        "flipped body is still JSON"
    );
    let stale = sim
        .read_with(&id, CallbackOptions::tampered(Tamper::StaleTimestamp))
        .await
        .expect("posted");
    assert_eq!(
        stale[0].status, 200,
        "a genuinely signed old status is valid"
    );
}

#[tokio::test]
async fn statuses_post_out_of_order_and_repeated() {
    let sim = simulator();
    let (receiver, url, _running) = Receiver::spawn().await;
    sim.set_webhook_url(&url);
    let id = sent_otp(&sim).await;
    let order = [
        MessageStatus::Read,
        MessageStatus::Delivered,
        MessageStatus::Sent,
    ];
    let outcomes = sim
        .post_statuses(&id, &order, CallbackOptions::repeated(2, false))
        .await
        .expect("posted");
    assert_eq!(outcomes.len(), 6);
    assert_eq!(
        receiver.statuses(),
        ["read", "read", "delivered", "delivered", "sent", "sent"]
    );
    assert!(receiver.seen().iter().all(|s| s.verified));
    assert_eq!(sim.message(&id).expect("kept").state, MessageStatus::Read);
    let sent = receiver.seen()[4].body.clone();
    let (_, entry) = status_of(&sent);
    assert_eq!(entry["conversation"]["origin"]["type"], "authentication");

    let concurrent = sim
        .deliver_with(&id, CallbackOptions::repeated(3, true))
        .await
        .expect("posted");
    assert_eq!(concurrent.len(), 3);
    assert_eq!(receiver.seen().len(), 9);

    let recorded_only = sim
        .fail_with(&id, 131_047, CallbackOptions::repeated(0, false))
        .await
        .expect("recorded");
    assert!(recorded_only.is_empty());
    assert_eq!(receiver.seen().len(), 9);
    assert_eq!(
        sim.message(&id).expect("kept").state,
        MessageStatus::Failed(131_047)
    );
}

#[tokio::test]
async fn acting_needs_a_message_and_a_url() {
    let sim = simulator();
    assert!(matches!(
        sim.deliver("wamid.nope").await,
        Err(SimError::NotFound(_))
    ));
    let id = sent_otp(&sim).await;
    assert!(matches!(sim.read(&id).await, Err(SimError::NoCallbackUrl)));
    assert_eq!(sim.message(&id).expect("kept").state, MessageStatus::Sent);
    sim.set_webhook_url("http://127.0.0.1:9/closed");
    assert!(matches!(sim.read(&id).await, Err(SimError::Delivery(_))));
}

#[tokio::test]
async fn handshake_sends_the_subscription_query() {
    let sim = simulator();
    let (receiver, url, _running) = Receiver::spawn().await;
    sim.set_webhook_url(&url);
    let request = sim.handshake_request(VERIFY, "1158201444");
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.url.as_deref(),
        Some(
            format!("{url}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")
                .as_str()
        )
    );
    let outcome = sim.handshake(VERIFY, "1158201444").await.expect("answered");
    assert_eq!((outcome.status, outcome.body.as_str()), (200, "1158201444"));
    let outcome = sim.handshake("wrong token", "42").await.expect("answered");
    assert_eq!(outcome.status, 403);
    let queries = receiver.queries.lock().expect("lock").clone();
    assert_eq!(
        queries[1],
        [
            ("hub.mode".to_owned(), "subscribe".to_owned()),
            ("hub.verify_token".to_owned(), "wrong token".to_owned()),
            ("hub.challenge".to_owned(), "42".to_owned()),
        ]
    );
}
