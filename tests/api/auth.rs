//! Signed client requests: rotation, wrong signature, stale timestamp, replayed nonce,
//! unknown client, rate limit, body limit, tenancy.

use std::time::Duration;

use gateway::auth::sign;
use serde_json::Value;

use crate::helpers::{Backend, DEMO_SECRET, Options, TestApp, va_body};
use crate::on_both_backends;

fn timestamp(offset_secs: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs))
        .replace_nanosecond(0)
        .expect("ns")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

async fn raw_get(
    app: &TestApp,
    client: &str,
    secret: &str,
    ts: &str,
    nonce: &str,
) -> reqwest::Response {
    let path = "/v1/virtual-accounts";
    let signature = sign(secret.as_bytes(), "GET", path, ts, nonce, b"");
    app.http
        .get(format!("{}{path}", app.base_url))
        .header("X-Client-Id", client)
        .header("X-Timestamp", ts)
        .header("X-Nonce", nonce)
        .header("X-Signature", signature)
        .send()
        .await
        .expect("send")
}

async fn code_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or_default();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

async fn signatures_are_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ok = raw_get(
        &app,
        "demo",
        DEMO_SECRET,
        &timestamp(0),
        "nonce-aaaaaaaaaaaaaaaa1",
    )
    .await;
    assert_eq!(ok.status(), 200);
    // The second secret of a rotation works too.
    let rotated = raw_get(
        &app,
        "demo",
        "demo-rotating-secret-00000009",
        &timestamp(0),
        "nonce-aaaaaaaaaaaaaaaa2",
    )
    .await;
    assert_eq!(rotated.status(), 200);
    let wrong = raw_get(
        &app,
        "demo",
        "not-the-secret-000000000",
        &timestamp(0),
        "nonce-aaaaaaaaaaaaaaaa3",
    )
    .await;
    assert_eq!(code_of(wrong).await, (401, "invalid_signature".to_owned()));
    let unknown = raw_get(
        &app,
        "nobody",
        DEMO_SECRET,
        &timestamp(0),
        "nonce-aaaaaaaaaaaaaaaa4",
    )
    .await;
    assert_eq!(
        code_of(unknown).await,
        (401, "invalid_signature".to_owned())
    );
    let replay = raw_get(
        &app,
        "demo",
        DEMO_SECRET,
        &timestamp(0),
        "nonce-aaaaaaaaaaaaaaaa1",
    )
    .await;
    assert_eq!(code_of(replay).await, (401, "replayed_request".to_owned()));
    let short_nonce = raw_get(&app, "demo", DEMO_SECRET, &timestamp(0), "short").await;
    assert_eq!(short_nonce.status(), 401);
}
on_both_backends!(signatures_are_checked);

async fn timestamps_outside_the_window_are_refused_both_ways(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (offset, expected) in [(-301, 401), (-295, 200), (295, 200), (301, 401)] {
        let nonce = format!("nonce-window-{offset:+}-00000000");
        let response = raw_get(&app, "demo", DEMO_SECRET, &timestamp(offset), &nonce).await;
        let (status, code) = code_of(response).await;
        assert_eq!(status, expected, "offset {offset}");
        if expected == 401 {
            assert_eq!(code, "stale_timestamp");
        }
    }
}
on_both_backends!(timestamps_outside_the_window_are_refused_both_ways);

async fn nonces_survive_a_restart(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let ts = timestamp(0);
    assert_eq!(
        raw_get(&app, "demo", DEMO_SECRET, &ts, "nonce-restart-0000000001")
            .await
            .status(),
        200
    );
    app.restart().await;
    let again = raw_get(&app, "demo", DEMO_SECRET, &ts, "nonce-restart-0000000001").await;
    assert_eq!(code_of(again).await, (401, "replayed_request".to_owned()));
}
on_both_backends!(nonces_survive_a_restart);

async fn another_client_cannot_see_or_change_a_va(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let va = app.issue("TENANT-1", 10_000).await;
    let id = va["id"].as_str().expect("id");
    let (status, code) = code_of(app.get_va("demo2", id).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    let cancel = app
        .signed(
            "demo2",
            "POST",
            &format!("/v1/virtual-accounts/{id}/cancel"),
            None,
        )
        .send()
        .await
        .expect("send");
    assert_eq!(cancel.status(), 404);
    let list: Value = app
        .get_json("demo2", "/v1/virtual-accounts?reference=TENANT-1")
        .await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0));
    // The same reference is free for another client.
    let theirs = app.create_va("demo2", &va_body("TENANT-1", 10_000)).await;
    assert_eq!(theirs.status(), 201);
    assert_eq!(app.get_va("demo", id).await.status(), 200);
    // Events go only to the owner's endpoint.
    let theirs: Value = theirs.json().await.expect("json");
    let their_id = theirs["id"].as_str().expect("id");
    app.nicepay.pay(their_id, 10_000).await.expect("pay");
    let got = app.receiver2.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].body["data"]["id"], their_id);
    assert!(app.receiver.received().is_empty());
}
on_both_backends!(another_client_cannot_see_or_change_a_va);

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let mut options = Options::new(Backend::Sqlite);
    options.rate_per_second = 1;
    options.rate_burst = 2;
    let app = TestApp::spawn_with(options).await;
    let mut limited = None;
    for _ in 0..5 {
        let r = app
            .signed("demo", "GET", "/v1/virtual-accounts", None)
            .send()
            .await
            .expect("send");
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("a request was rate limited");
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(code_of(r).await.1, "rate_limited");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        app.signed("demo", "GET", "/v1/virtual-accounts", None)
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
}

async fn a_body_over_the_limit_gets_413_and_creates_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = va_body("BIG-1", 10_000);
    body["description"] = Value::String("x".repeat(70 * 1024));
    let response = app.create_va("demo", &body).await;
    let request_id = response.headers().get("x-request-id").cloned();
    let (status, code) = code_of(response).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));
    assert!(request_id.is_some());
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM virtual_accounts WHERE reference = $1",
            "BIG-1"
        )
        .await,
        0
    );
}
on_both_backends!(a_body_over_the_limit_gets_413_and_creates_nothing);

#[tokio::test]
async fn errors_are_problem_documents_with_the_request_id() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .signed("demo", "GET", "/v1/virtual-accounts/va_missing", None)
        .header("x-request-id", "req-from-caller-1")
        .send()
        .await
        .expect("send");
    assert_eq!(response.headers()["x-request-id"], "req-from-caller-1");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["request_id"], "req-from-caller-1");
    assert_eq!(body["status"], 404);
    assert_eq!(body["code"], "not_found");
}
