//! `SnapClient` against a local SNAP provider stand-in that checks every header and
//! signature the way a provider does.

use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use contracts::ErrorKind;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::*;
use crate::codec::{body_hash, parse_timestamp};
use crate::sign::tests::{DEMO_PRIVATE, DEMO_PUBLIC};
use crate::sign::{RsaPublicKey, symmetric_string, token_string, verify_hmac_sha512_b64};

const CLIENT_KEY: &str = "BNI-TEST-CLIENT";
const PARTNER_ID: &str = "PARTNER-1";
const SECRET: &str = "SNAP-TEST-SECRET";

#[derive(Default)]
struct Provider {
    token_requests: AtomicUsize,
    service_requests: AtomicUsize,
    /// Tokens numbered below this are refused with 4012701 by services.
    refuse_tokens_below: AtomicUsize,
    token_delay_ms: AtomicUsize,
    /// `expiresIn` sent with tokens.
    expires_in: StdMutex<Option<Value>>,
    last_headers: StdMutex<Option<HeaderMap>>,
    external_ids: StdMutex<Vec<String>>,
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn snap(status: u16, code: &str, extra: Value) -> Response {
    let mut body = json!({"responseCode": code, "responseMessage": "stand-in"});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    (
        StatusCode::from_u16(status).expect("status"),
        axum::Json(body),
    )
        .into_response()
}

async fn token(State(p): State<Arc<Provider>>, headers: HeaderMap, body: Bytes) -> Response {
    let n = p.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
    let delay = p.token_delay_ms.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    let timestamp = header(&headers, "x-timestamp");
    let public = RsaPublicKey::from_pem(DEMO_PUBLIC).expect("key");
    let message = token_string(header(&headers, "x-client-key"), timestamp);
    let grant: Value = serde_json::from_slice(&body).unwrap_or_default();
    if header(&headers, "x-client-key") != CLIENT_KEY
        || parse_timestamp(timestamp).is_none()
        || !public.verify_b64(message.as_bytes(), header(&headers, "x-signature"))
        || grant["grantType"] != "client_credentials"
        || header(&headers, "content-type") != "application/json"
    {
        return snap(401, "4017300", json!({}));
    }
    let expires = p
        .expires_in
        .lock()
        .expect("lock")
        .clone()
        .unwrap_or(json!("900"));
    snap(
        200,
        "2007300",
        json!({"accessToken": format!("tok-{n}"), "tokenType": "Bearer", "expiresIn": expires}),
    )
}

async fn service(
    State(p): State<Arc<Provider>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    p.service_requests.fetch_add(1, Ordering::SeqCst);
    *p.last_headers.lock().expect("lock") = Some(headers.clone());
    p.external_ids
        .lock()
        .expect("lock")
        .push(header(&headers, "x-external-id").to_owned());
    let token = header(&headers, "authorization")
        .strip_prefix("Bearer ")
        .unwrap_or_default()
        .to_owned();
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or_default();
    let message = symmetric_string(
        method.as_str(),
        path,
        &token,
        &body_hash(&body),
        header(&headers, "x-timestamp"),
    );
    if !verify_hmac_sha512_b64(SECRET.as_bytes(), &message, header(&headers, "x-signature")) {
        return snap(401, "4012700", json!({}));
    }
    let number: usize = token
        .strip_prefix("tok-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if number < p.refuse_tokens_below.load(Ordering::SeqCst) {
        return snap(401, "4012701", json!({}));
    }
    let echo: Value = serde_json::from_slice(&body).unwrap_or_default();
    snap(200, "2002700", json!({"virtualAccountData": echo}))
}

async fn hang() -> Response {
    tokio::time::sleep(Duration::from_secs(10)).await;
    snap(200, "2002700", json!({}))
}

async fn down() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "service unavailable").into_response()
}

async fn throttled() -> Response {
    (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response()
}

async fn html() -> Response {
    (
        StatusCode::BAD_GATEWAY,
        [("content-type", "text/html")],
        "<html><body>502 Bad Gateway</body></html>",
    )
        .into_response()
}

async fn numeric_code() -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        r#"{"responseCode":2003000,"responseMessage":"Successful"}"#,
    )
        .into_response()
}

async fn spawn(provider: Arc<Provider>) -> String {
    let app = Router::new()
        .route("/apisnap/v1.0/access-token/b2b", post(token))
        .route("/apisnap/v1.0/transfer-va/create-va", any(service))
        .route("/apisnap/v1.0/hang", post(hang))
        .route("/apisnap/v1.0/html", post(html))
        .route("/apisnap/v1.0/down", post(down))
        .route("/apisnap/v1.0/throttled", post(throttled))
        .route("/apisnap/v1.0/numeric", post(numeric_code))
        .with_state(provider);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/apisnap")
}

fn config(base_url: &str, timeout: Duration) -> ClientConfig {
    ClientConfig {
        base_url: Url::parse(base_url).expect("url"),
        token_path: "/v1.0/access-token/b2b".to_owned(),
        client_key: CLIENT_KEY.to_owned(),
        partner_id: PARTNER_ID.to_owned(),
        client_secret: SecretString::from(SECRET),
        private_key_pem: SecretString::from(DEMO_PRIVATE),
        timestamp_style: TimestampStyle::Jakarta,
        timeout,
    }
}

fn client(base_url: &str) -> SnapClient {
    SnapClient::new(
        config(base_url, Duration::from_secs(5)),
        reqwest::Client::new(),
    )
    .expect("client")
}

fn create_body() -> Value {
    json!({"partnerServiceId": "    8123", "customerNo": "000000000001", "trxId": "INV-0001"})
}

async fn create(client: &SnapClient, body: &Value) -> Result<Answer, ProviderError> {
    client
        .call(&ServiceCall {
            method: reqwest::Method::POST,
            path: "/v1.0/transfer-va/create-va",
            channel_id: "95221",
            body,
            headers: &[("X-DEVICE-ID", "gateway".to_owned())],
        })
        .await
}

async fn post_to(client: &SnapClient, path: &str) -> Result<Answer, ProviderError> {
    client
        .call(&ServiceCall {
            method: reqwest::Method::POST,
            path,
            channel_id: "95221",
            body: &json!({}),
            headers: &[],
        })
        .await
}

#[tokio::test]
async fn service_calls_carry_every_header_and_a_verifiable_signature() {
    let provider = Arc::new(Provider::default());
    let client = client(&spawn(provider.clone()).await);
    let body = create_body();
    let answer = create(&client, &body).await.expect("answer");
    assert_eq!(answer.code, ResponseCode::new(200, 27, 0));
    assert_eq!(answer.http_status, 200);
    assert_eq!(answer.message, "stand-in");
    assert_eq!(answer.body["virtualAccountData"], body);
    assert_eq!(check(&answer, ResponseCode::new(200, 27, 0)), Ok(()));
    let headers = provider
        .last_headers
        .lock()
        .expect("lock")
        .clone()
        .expect("headers");
    assert_eq!(header(&headers, "x-partner-id"), PARTNER_ID);
    assert_eq!(header(&headers, "channel-id"), "95221");
    assert_eq!(header(&headers, "x-device-id"), "gateway");
    assert_eq!(header(&headers, "content-type"), "application/json");
    assert_eq!(header(&headers, "authorization"), "Bearer tok-1");
    assert_eq!(header(&headers, "x-external-id").len(), 26);
    let timestamp = header(&headers, "x-timestamp");
    assert!(timestamp.ends_with("+07:00"), "{timestamp}");
    assert_eq!(timestamp.len(), 25);
    assert_eq!(header(&headers, "x-signature").len(), 88);
}

#[tokio::test]
async fn utc_style_and_query_strings_are_signed_as_sent() {
    let provider = Arc::new(Provider::default());
    let base = spawn(provider.clone()).await;
    let mut config = config(&base, Duration::from_secs(5));
    config.timestamp_style = TimestampStyle::Utc;
    let client = SnapClient::new(config, reqwest::Client::new()).expect("client");
    let answer = client
        .call(&ServiceCall {
            method: reqwest::Method::DELETE,
            path: "/v1.0/transfer-va/create-va?x=1&y=a%20b",
            channel_id: "SDK",
            body: &create_body(),
            headers: &[],
        })
        .await
        .expect("answer");
    assert_eq!(answer.code, ResponseCode::new(200, 27, 0));
    let headers = provider
        .last_headers
        .lock()
        .expect("lock")
        .clone()
        .expect("headers");
    assert!(header(&headers, "x-timestamp").ends_with('Z'));
}

#[tokio::test]
async fn the_token_is_cached_across_calls() {
    let provider = Arc::new(Provider::default());
    let client = client(&spawn(provider.clone()).await);
    for _ in 0..5 {
        create(&client, &create_body()).await.expect("answer");
    }
    assert_eq!(provider.token_requests.load(Ordering::SeqCst), 1);
    assert_eq!(provider.service_requests.load(Ordering::SeqCst), 5);
    let ids = provider.external_ids.lock().expect("lock").clone();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "X-EXTERNAL-ID is fresh per call");
    client.invalidate_token().await;
    create(&client, &create_body()).await.expect("answer");
    assert_eq!(provider.token_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn numeric_expires_in_is_read_and_a_short_lifetime_is_renewed() {
    let provider = Arc::new(Provider::default());
    *provider.expires_in.lock().expect("lock") = Some(json!(1));
    let client = client(&spawn(provider.clone()).await);
    create(&client, &create_body()).await.expect("answer");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    create(&client, &create_body()).await.expect("answer");
    assert_eq!(provider.token_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn concurrent_first_calls_share_one_token_request() {
    let provider = Arc::new(Provider::default());
    provider.token_delay_ms.store(200, Ordering::SeqCst);
    let client = Arc::new(client(&spawn(provider.clone()).await));
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { create(&client, &create_body()).await })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("answer");
    }
    assert_eq!(provider.token_requests.load(Ordering::SeqCst), 1);
    assert_eq!(provider.service_requests.load(Ordering::SeqCst), 20);
}

#[tokio::test]
async fn an_invalid_token_answer_costs_one_refresh_and_one_resend() {
    let provider = Arc::new(Provider::default());
    provider.refuse_tokens_below.store(2, Ordering::SeqCst);
    let client = client(&spawn(provider.clone()).await);
    let answer = create(&client, &create_body()).await.expect("answer");
    assert_eq!(answer.code, ResponseCode::new(200, 27, 0));
    assert_eq!(provider.token_requests.load(Ordering::SeqCst), 2);
    assert_eq!(provider.service_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_token_refused_twice_is_returned_not_retried_forever() {
    let provider = Arc::new(Provider::default());
    provider.refuse_tokens_below.store(100, Ordering::SeqCst);
    let client = client(&spawn(provider.clone()).await);
    let answer = create(&client, &create_body()).await.expect("answer");
    assert_eq!(answer.code, ResponseCode::new(401, 27, 1));
    assert_eq!(provider.service_requests.load(Ordering::SeqCst), 2);
    let err = check(&answer, ResponseCode::new(200, 27, 0)).expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert_eq!(err.provider_code.as_deref(), Some("4012701"));
}

#[tokio::test]
async fn a_refused_token_request_is_unauthorized_with_the_code() {
    let provider = Arc::new(Provider::default());
    let base = spawn(provider.clone()).await;
    let mut config = config(&base, Duration::from_secs(5));
    config.client_key = "SOMEONE-ELSE".to_owned();
    let client = SnapClient::new(config, reqwest::Client::new()).expect("client");
    let err = create(&client, &create_body()).await.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert_eq!(err.provider_code.as_deref(), Some("4017300"));
    assert_eq!(provider.service_requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_wrong_secret_is_answered_with_the_providers_code() {
    let provider = Arc::new(Provider::default());
    let base = spawn(provider.clone()).await;
    let mut config = config(&base, Duration::from_secs(5));
    config.client_secret = SecretString::from("WRONG");
    let client = SnapClient::new(config, reqwest::Client::new()).expect("client");
    let answer = create(&client, &create_body()).await.expect("answer");
    assert_eq!(answer.code, ResponseCode::new(401, 27, 0));
    assert_eq!(answer.http_status, 401);
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let client = client(&format!("http://{address}/apisnap"));
    let err = create(&client, &create_body()).await.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unavailable);
}

#[tokio::test]
async fn a_hanging_service_is_a_timeout() {
    let provider = Arc::new(Provider::default());
    let base = spawn(provider).await;
    let client = SnapClient::new(
        config(&base, Duration::from_millis(400)),
        reqwest::Client::new(),
    )
    .expect("client");
    let started = std::time::Instant::now();
    let err = post_to(&client, "/v1.0/hang").await.expect_err("timeout");
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_hanging_token_endpoint_is_unavailable_since_nothing_was_sent() {
    let provider = Arc::new(Provider::default());
    provider.token_delay_ms.store(5_000, Ordering::SeqCst);
    let base = spawn(provider.clone()).await;
    let client = SnapClient::new(
        config(&base, Duration::from_millis(300)),
        reqwest::Client::new(),
    )
    .expect("client");
    let err = create(&client, &create_body()).await.expect_err("timeout");
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert_eq!(provider.service_requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_html_answer_is_a_protocol_error() {
    let provider = Arc::new(Provider::default());
    let client = client(&spawn(provider).await);
    let err = post_to(&client, "/v1.0/html").await.expect_err("html");
    assert_eq!(err.kind, ErrorKind::Protocol);
    assert!(err.message.contains("502"));
}

#[tokio::test]
async fn a_503_or_429_without_snap_body_is_retryable() {
    let provider = Arc::new(Provider::default());
    let client = client(&spawn(provider).await);
    let err = post_to(&client, "/v1.0/down").await.expect_err("503");
    assert_eq!(err.kind, ErrorKind::Unavailable);
    let err = post_to(&client, "/v1.0/throttled").await.expect_err("429");
    assert_eq!(err.kind, ErrorKind::RateLimited);
}

#[tokio::test]
async fn an_unknown_path_without_snap_body_is_a_protocol_error() {
    let provider = Arc::new(Provider::default());
    let client = client(&spawn(provider).await);
    let err = post_to(&client, "/v1.0/nowhere").await.expect_err("404");
    assert_eq!(err.kind, ErrorKind::Protocol);
}

#[tokio::test]
async fn a_numeric_response_code_is_read() {
    let provider = Arc::new(Provider::default());
    let client = client(&spawn(provider).await);
    let answer = post_to(&client, "/v1.0/numeric").await.expect("answer");
    assert_eq!(answer.code, ResponseCode::new(200, 30, 0));
}

#[test]
fn token_answers_are_read_leniently_and_refusals_classified() {
    let ok = |body: &str| token_from_answer(200, body.as_bytes());
    let (token, lifetime) =
        ok(r#"{"responseCode":"2007300","accessToken":"t","expiresIn":"900"}"#).expect("token");
    assert_eq!(token.expose_secret(), "t");
    assert_eq!(lifetime, Duration::from_secs(900));
    let (_, lifetime) =
        ok(r#"{"responseCode":2007300,"accessToken":"t","expiresIn":600}"#).expect("token");
    assert_eq!(lifetime, Duration::from_secs(600));
    let (_, lifetime) = ok(r#"{"responseCode":"2007300","accessToken":"t"}"#).expect("token");
    assert_eq!(lifetime, Duration::from_secs(900));
    for bad in [
        r#"{"responseCode":"2007300","expiresIn":"900"}"#,
        r#"{"responseCode":"2007300","accessToken":"","expiresIn":"900"}"#,
        r#"{"responseCode":"2007300","accessToken":"t","expiresIn":"soon"}"#,
        r#"{"responseCode":"2007300","accessToken":"t","expiresIn":0}"#,
        "<html></html>",
    ] {
        assert_eq!(
            ok(bad).map(|_| ()).expect_err(bad).kind,
            ErrorKind::Protocol
        );
    }
    let refused = token_from_answer(401, br#"{"responseCode":"4017300"}"#).expect_err("refused");
    assert_eq!(refused.kind, ErrorKind::Unauthorized);
    assert_eq!(refused.provider_code.as_deref(), Some("4017300"));
    let busy = token_from_answer(503, br#"{"responseCode":"5037300"}"#).expect_err("busy");
    assert_eq!(busy.kind, ErrorKind::Unavailable);
    let bare = token_from_answer(401, b"Unauthorized").expect_err("bare");
    assert_eq!(bare.kind, ErrorKind::Unauthorized);
    let down = token_from_answer(502, b"<html/>").expect_err("down");
    assert_eq!(down.kind, ErrorKind::Unavailable);
}

#[test]
fn check_accepts_the_services_successes_and_maps_the_rest() {
    let answer = |code: &str| Answer {
        http_status: 200,
        code: ResponseCode::parse(code).expect("code"),
        message: "m".to_owned(),
        body: Value::Null,
    };
    let ok = ResponseCode::new(200, 27, 0);
    assert_eq!(check(&answer("2002700"), ok), Ok(()));
    assert_eq!(check(&answer("2002701"), ok), Ok(()));
    let cases = [
        ("2003000", ErrorKind::Protocol),
        ("2022700", ErrorKind::Timeout),
        ("4092701", ErrorKind::Duplicate),
        ("4042701", ErrorKind::NotFound),
        ("5002700", ErrorKind::Timeout),
    ];
    for (code, kind) in cases {
        let err = check(&answer(code), ok).expect_err(code);
        assert_eq!(err.kind, kind, "{code}");
        assert_eq!(err.provider_code.as_deref(), Some(code));
        assert_eq!(err.message, "m");
    }
}

#[test]
fn configuration_is_checked_and_debug_is_redacted() {
    let good = config("http://127.0.0.1:1/apisnap", Duration::from_secs(1));
    let client = SnapClient::new(good.clone(), reqwest::Client::new()).expect("client");
    let shown = format!("{client:?} {good:?}");
    assert!(!shown.contains(SECRET));
    assert!(!shown.contains("PRIVATE KEY"));
    type Change = fn(&mut ClientConfig);
    let cases: [(Change, ConfigError); 6] = [
        (
            |c| c.base_url = Url::parse("ftp://x").expect("url"),
            ConfigError::Url("ftp".to_owned()),
        ),
        (
            |c| c.token_path = "v1.0/access-token/b2b".to_owned(),
            ConfigError::Path("token_path"),
        ),
        (
            |c| c.client_key = String::new(),
            ConfigError::Empty("client_key"),
        ),
        (
            |c| c.client_secret = SecretString::from(""),
            ConfigError::Empty("client_secret"),
        ),
        (
            |c| c.timeout = Duration::ZERO,
            ConfigError::Duration("timeout"),
        ),
        (
            |c| c.private_key_pem = SecretString::from(DEMO_PUBLIC),
            ConfigError::Key {
                field: "private_key",
                source: crate::error::KeyError::Pem("private"),
            },
        ),
    ];
    for (change, expected) in cases {
        let mut config = good.clone();
        change(&mut config);
        assert_eq!(
            SnapClient::new(config, reqwest::Client::new())
                .map(|_| ())
                .expect_err("bad"),
            expected
        );
    }
}

#[test]
fn urls_keep_the_base_prefix_and_sign_the_full_path() {
    let client = client("https://bank.example/apisnap/");
    let (url, signed) = client.url("/v1.0/transfer-va/create-va");
    assert_eq!(
        url.as_str(),
        "https://bank.example/apisnap/v1.0/transfer-va/create-va"
    );
    assert_eq!(signed, "/apisnap/v1.0/transfer-va/create-va");
    let (_, signed) = client.url("/v1.0/report?from=1&to=2");
    assert_eq!(signed, "/apisnap/v1.0/report?from=1&to=2");
    let root = SnapClient::new(
        config("https://bank.example", Duration::from_secs(1)),
        reqwest::Client::new(),
    )
    .expect("client");
    assert_eq!(root.url("/v1.0/x").1, "/v1.0/x");
}
