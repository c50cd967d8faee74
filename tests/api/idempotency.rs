//! Idempotency-Key: replay, reuse with another body, in progress, not stored on
//! validation errors, scoped per client.

use mocks::{Fault, FaultRule};
use serde_json::Value;

use crate::helpers::{Backend, TestApp, va_body};
use crate::on_both_backends;

async fn post_with_key(app: &TestApp, client: &str, key: &str, body: &Value) -> reqwest::Response {
    app.signed(client, "POST", "/v1/virtual-accounts", Some(body))
        .header("Idempotency-Key", key)
        .send()
        .await
        .expect("send")
}

async fn same_key_same_body_replays_the_first_response(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = va_body("IDEM-1", 25_000);
    let first = post_with_key(&app, "demo", "key-1", &body).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.bytes().await.expect("body");
    for _ in 0..3 {
        let again = post_with_key(&app, "demo", "key-1", &body).await;
        assert_eq!(again.status(), 201);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(
            again.bytes().await.expect("body"),
            first_body,
            "replay is byte-identical"
        );
    }
    assert_eq!(app.bni.calls("createbilling"), 1, "one provider call");
    // Different body, same key.
    let reused = post_with_key(&app, "demo", "key-1", &va_body("IDEM-2", 25_000)).await;
    assert_eq!(reused.status(), 422);
    let problem: Value = reused.json().await.expect("json");
    assert_eq!(problem["code"], "idempotency_key_reused");
    assert_eq!(app.bni.calls("createbilling"), 1);
    // Another client with the same key value gets its own execution.
    let other = post_with_key(&app, "demo2", "key-1", &body).await;
    assert_eq!(other.status(), 201);
    assert!(other.headers().get("idempotent-replayed").is_none());
}
on_both_backends!(same_key_same_body_replays_the_first_response);

async fn a_second_request_while_the_first_runs_gets_409(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.bni.faults().push(FaultRule::once(
        "createbilling",
        Fault::Latency { ms: 1500 },
    ));
    let body = va_body("IDEM-SLOW", 25_000);
    let slow = {
        let request = app
            .signed("demo", "POST", "/v1/virtual-accounts", Some(&body))
            .header("Idempotency-Key", "slow-key");
        tokio::spawn(async move { request.send().await.expect("send").status().as_u16() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let second = post_with_key(&app, "demo", "slow-key", &body).await;
    assert_eq!(second.status(), 409);
    assert!(second.headers().get("retry-after").is_some());
    let problem: Value = second.json().await.expect("json");
    assert_eq!(problem["code"], "idempotency_in_progress");
    assert_eq!(slow.await.expect("join"), 201);
    assert_eq!(app.bni.calls("createbilling"), 1);
}
on_both_backends!(a_second_request_while_the_first_runs_gets_409);

async fn validation_errors_are_not_stored_and_bad_keys_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut bad = va_body("IDEM-V", 0);
    bad["customer"]["name"] = Value::String(String::new());
    let first = post_with_key(&app, "demo", "key-v", &bad).await;
    assert_eq!(first.status(), 422);
    let problem: Value = first.json().await.expect("json");
    assert_eq!(problem["code"], "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"amount") && fields.contains(&"customer.name"),
        "{fields:?}"
    );
    let corrected = post_with_key(&app, "demo", "key-v", &va_body("IDEM-V", 5_000)).await;
    assert_eq!(corrected.status(), 201, "the corrected retry executes");
    let long_key = "k".repeat(256);
    let refused = post_with_key(&app, "demo", &long_key, &va_body("IDEM-L", 5_000)).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM virtual_accounts WHERE reference = $1",
            "IDEM-L"
        )
        .await,
        0
    );
}
on_both_backends!(validation_errors_are_not_stored_and_bad_keys_are_refused);

async fn a_reference_is_unique_per_client(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.issue("REF-1", 1_000).await;
    let again = app.create_va("demo", &va_body("REF-1", 1_000)).await;
    assert_eq!(again.status(), 409);
    let problem: Value = again.json().await.expect("json");
    assert_eq!(problem["code"], "reference_exists");
    assert_eq!(problem["id"], first["id"]);
    assert_eq!(app.bni.calls("createbilling"), 1);
}
on_both_backends!(a_reference_is_unique_per_client);
