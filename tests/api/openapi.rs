//! The OpenAPI document describes exactly the routes the server has.

use serde_json::Value;

use crate::helpers::{Backend, TestApp};

#[tokio::test]
async fn every_documented_operation_exists_on_the_real_router() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc: Value = app
        .http
        .get(format!("{}/openapi.json", app.base_url))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (path, item) in paths {
        for method in ["get", "post", "patch", "put", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let concrete = path
                .replace("{instance}", "bni_main")
                .replace("{rest}", "sub")
                .replace("{id}", "x_missing");
            let response = app
                .http
                .request(
                    method.to_uppercase().parse().expect("method"),
                    format!("{}{concrete}", app.base_url),
                )
                .body("{}")
                .send()
                .await
                .expect("send");
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert!(
                status != 404 || body.contains("\"code\""),
                "{method} {path} is documented but the router does not know it"
            );
            checked += 1;
        }
    }
    assert!(checked >= 19, "only {checked} operations documented");
    for expected in [
        "/v1/virtual-accounts",
        "/v1/virtual-accounts/{id}",
        "/v1/virtual-accounts/{id}/cancel",
        "/v1/virtual-accounts/batch",
        "/v1/jobs/{id}",
        "/v1/events",
        "/v1/events/{id}/attempts",
        "/v1/events/{id}/redeliver",
        "/v1/callbacks/{instance}",
        "/v1/callbacks/{instance}/{rest}",
        "/v1/payments",
        "/v1/payments/{id}",
        "/v1/payments/{id}/refunds",
        "/v1/messages",
        "/v1/messages/{id}",
        "/v1/otp",
        "/v1/otp/{id}/verify",
        "/v1/otp/{id}/resend",
        "/v1/support-links",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/usage",
    ] {
        assert!(
            paths.contains_key(expected),
            "{expected} missing from the document"
        );
    }
    // Undocumented paths really are absent.
    let absent = app
        .http
        .get(format!("{}/v1/nothing-here", app.base_url))
        .send()
        .await
        .expect("send");
    assert_eq!(absent.status(), 404);
    // The callback sub-path takes several segments (SNAP's endpoints), as documented.
    let snap = app
        .http
        .post(format!(
            "{}/v1/callbacks/astrapay_main/v1.0/access-token/b2b",
            app.base_url
        ))
        .body("{}")
        .send()
        .await
        .expect("send");
    let status = snap.status().as_u16();
    let body: Value = snap.json().await.expect("json");
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["responseCode"], "4007302",
        "answered by the adapter in SNAP format"
    );
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            app.http
                .get(format!("{}{path}", app.base_url))
                .send()
                .await
                .expect("send")
                .status(),
            200
        );
    }
    app.issue("METRICS-1", 1_000).await;
    let metrics = app
        .http
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("gateway_provider_calls_total"),
        "{metrics}"
    );
    assert!(metrics.contains("gateway_outbox_backlog"));
    assert!(metrics.contains("gateway_http_request_duration_seconds"));
}
