//! `gateway sandbox` as a person uses it: simulators in-process, demo credentials, pay a VA
//! through `/sandbox/...`, see the event arrive at the echoing receiver, inject a fault.

use std::time::Duration;

use gateway::Settings;
use gateway::auth::SignedHeaders;
use mocks::server::any_local_port;
use serde_json::{Value, json};

use crate::helpers::va_body;

const DEMO_SECRET: &str = "demo-sandbox-secret-0001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_issues_pays_and_delivers_to_the_echo_receiver() {
    let mut settings = Settings::from_toml(gateway::sandbox::PROFILE).expect("embedded profile");
    let file = std::env::temp_dir().join(format!("gateway-sandbox-{}.db", ulid::Ulid::new()));
    settings.database.url = format!("sqlite://{}?mode=rwc", file.display());
    let started = gateway::sandbox::start(settings, any_local_port(), Some(any_local_port()))
        .await
        .expect("sandbox starts");
    let base = started.base_url.clone();
    let receiver = started
        .receiver
        .as_ref()
        .map(|(r, _)| r.clone())
        .expect("echo receiver");
    let workers = started.app.spawn_workers();
    let servers = started.servers;
    let server = tokio::spawn(started.app.serve(started.listener, std::future::pending()));
    let http = reqwest::Client::new();

    let providers: Value = http
        .get(format!("{base}/sandbox/providers"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(providers["data"].as_array().map(Vec::len), Some(9));

    let signed = |method: &str, path: &str, body: Option<&Value>| {
        let text = body.map(Value::to_string).unwrap_or_default();
        let headers = SignedHeaders::new(
            "demo",
            DEMO_SECRET.as_bytes(),
            method,
            path,
            text.as_bytes(),
        );
        let mut request = http.request(method.parse().expect("method"), format!("{base}{path}"));
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        request
            .header("content-type", "application/json")
            .body(text)
    };
    let mut body = va_body("SANDBOX-1", 150_000);
    body["payment_rule"] = json!("partial");
    let va: Value = signed("POST", "/v1/virtual-accounts", Some(&body))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let id = va["id"].as_str().expect("id").to_owned();
    assert_eq!(va["provider"], "bni_sandbox");

    let pay = |amount: Option<i64>| {
        let body = amount
            .map(|a| json!({"amount": a}))
            .unwrap_or_else(|| json!({}));
        http.post(format!("{base}/sandbox/virtual-accounts/{id}/pay"))
            .json(&body)
            .send()
    };
    assert_eq!(pay(Some(50_000)).await.expect("send").status(), 200);
    let partial: Value = signed("GET", &format!("/v1/virtual-accounts/{id}"), None)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (partial["status"].as_str(), partial["paid_amount"].as_i64()),
        (Some("active"), Some(50_000))
    );
    assert_eq!(
        pay(None).await.expect("send").status(),
        200,
        "pays what is still owed"
    );
    let events = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(events[0].event_type, "virtual_account.paid");
    assert!(events[0].verified);

    // A fault injected at the primary simulator: issuance fails over.
    let fault = http
        .post(format!("{base}/sandbox/providers/bni_sandbox/faults"))
        .json(&json!({"op": "createbilling", "fault": {"kind": "down"}, "times": 1}))
        .send()
        .await
        .expect("send");
    assert_eq!(fault.status(), 200);
    let va: Value = signed(
        "POST",
        "/v1/virtual-accounts",
        Some(&va_body("SANDBOX-2", 10_000)),
    )
    .send()
    .await
    .expect("send")
    .json()
    .await
    .expect("json");
    assert_eq!(va["provider"], "nicepay_sandbox");

    // A payment through each provider, completed by its simulator.
    for (reference, method) in [
        ("SANDBOX-P1", "astrapay"),
        ("SANDBOX-P2", "qris"),
        ("SANDBOX-P3", "doku_checkout"),
    ] {
        let body = crate::helpers::payment_body(reference, 25_000, method);
        let payment: Value = signed("POST", "/v1/payments", Some(&body))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        let id = payment["id"].as_str().expect("payment id").to_owned();
        let done = http
            .post(format!("{base}/sandbox/payments/{id}/complete"))
            .send()
            .await
            .expect("send");
        assert_eq!(done.status(), 200, "{method}");
        let paid: Value = signed("GET", &format!("/v1/payments/{id}"), None)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert_eq!(paid["status"], "paid", "{method}: {paid}");
    }

    // A host-to-host VA: the simulated bank asks the gateway, then pays.
    let mut body = va_body("SANDBOX-H2H", 30_000);
    body["provider"] = json!("bni_h2h_sandbox");
    let va: Value = signed("POST", "/v1/virtual-accounts", Some(&body))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let id = va["id"].as_str().expect("id").to_owned();
    let paid: Value = http
        .post(format!("{base}/sandbox/virtual-accounts/{id}/pay"))
        .json(&json!({}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(paid["inquiry"]["responseCode"], "2002400", "{paid}");
    assert_eq!(paid["payment"]["responseCode"], "2002500", "{paid}");
    let events = receiver.wait_for(5, Duration::from_secs(10)).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types.iter().filter(|t| **t == "payment.paid").count(),
        3,
        "{types:?}"
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "virtual_account.paid")
            .count(),
        2,
        "{types:?}"
    );

    server.abort();
    workers.iter().for_each(tokio::task::JoinHandle::abort);
    drop(servers);
}
