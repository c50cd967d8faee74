use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;

/// The Standard Webhooks specification's published test vector.
const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SPEC_TIMESTAMP: &str = "1614265330";
const SPEC_BODY: &str = r#"{"test": 2432232314}"#;
const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

const OTHER_SECRET: &str = "whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==";

fn event(id: &str) -> String {
    serde_json::json!({
        "id": id,
        "type": "virtual_account.paid",
        "created_at": "2026-11-22T15:04:05Z",
        "data": { "id": "va_1", "status": "paid" },
    })
    .to_string()
}

fn now() -> String {
    OffsetDateTime::now_utc().unix_timestamp().to_string()
}

async fn deliver(
    receiver: &WebhookReceiver,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, String) {
    let mut request = Request::post(path).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::from(body.to_owned())).expect("request");
    let response = receiver
        .router()
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn deliver_signed(
    receiver: &WebhookReceiver,
    secret: &str,
    id: &str,
    timestamp: &str,
) -> StatusCode {
    let body = event(id);
    let signature = sign(secret, id, timestamp, body.as_bytes()).expect("secret decodes");
    let headers = [
        ("webhook-id", id),
        ("webhook-timestamp", timestamp),
        ("webhook-signature", signature.as_str()),
    ];
    deliver(receiver, "/", &headers, &body).await.0
}

#[test]
fn signing_reproduces_the_standard_webhooks_vector() {
    let signature = sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY.as_bytes());
    assert_eq!(signature.as_deref(), Some(SPEC_SIGNATURE));
    let bare = SPEC_SECRET.trim_start_matches("whsec_");
    assert_eq!(
        sign(bare, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY.as_bytes()).as_deref(),
        Some(SPEC_SIGNATURE)
    );
    assert_eq!(
        sign("whsec_not base64!", SPEC_ID, SPEC_TIMESTAMP, b""),
        None
    );
}

#[test]
fn the_spec_vector_verifies_at_its_own_time_only() {
    let receiver = WebhookReceiver::new(vec![SPEC_SECRET.to_owned()]);
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", SPEC_ID.parse().expect("header"));
    headers.insert("webhook-timestamp", SPEC_TIMESTAMP.parse().expect("header"));
    headers.insert("webhook-signature", SPEC_SIGNATURE.parse().expect("header"));
    let at = 1_614_265_330;
    assert_eq!(
        receiver.verify(&headers, SPEC_BODY.as_bytes(), at + 300),
        Ok(())
    );
    assert!(
        receiver
            .verify(&headers, SPEC_BODY.as_bytes(), at + 301)
            .is_err()
    );
    assert!(
        receiver
            .verify(&headers, SPEC_BODY.as_bytes(), at - 301)
            .is_err()
    );
    assert!(
        receiver
            .verify(&headers, br#"{"test": 2432232315}"#, at)
            .is_err()
    );
}

#[tokio::test]
async fn a_signed_event_is_verified_recorded_and_acknowledged() {
    let receiver = WebhookReceiver::new(vec![SPEC_SECRET.to_owned()]);
    assert_eq!(
        deliver_signed(&receiver, SPEC_SECRET, "evt_1", &now()).await,
        StatusCode::OK
    );
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].id, "evt_1");
    assert_eq!(received[0].event_type, "virtual_account.paid");
    assert_eq!(received[0].body["data"]["status"], "paid");
    assert!(received[0].verified);
    assert_eq!(received[0].failure, None);
}

#[tokio::test]
async fn any_listed_key_and_any_signature_entry_may_match_during_rotation() {
    let receiver = WebhookReceiver::new(vec![SPEC_SECRET.to_owned(), OTHER_SECRET.to_owned()]);
    assert_eq!(
        deliver_signed(&receiver, OTHER_SECRET, "evt_1", &now()).await,
        StatusCode::OK
    );

    let only_old = WebhookReceiver::new(vec![SPEC_SECRET.to_owned()]);
    let body = event("evt_2");
    let timestamp = now();
    let new = sign(OTHER_SECRET, "evt_2", &timestamp, body.as_bytes()).expect("signs");
    let old = sign(SPEC_SECRET, "evt_2", &timestamp, body.as_bytes()).expect("signs");
    let both = format!("{new} {old}");
    let headers = [
        ("webhook-id", "evt_2"),
        ("webhook-timestamp", timestamp.as_str()),
        ("webhook-signature", both.as_str()),
    ];
    assert_eq!(
        deliver(&only_old, "/", &headers, &body).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_signatures_stale_timestamps_and_missing_headers_are_refused_but_recorded() {
    let receiver = WebhookReceiver::new(vec![SPEC_SECRET.to_owned()]);
    let stale = (OffsetDateTime::now_utc().unix_timestamp() - 301).to_string();
    assert_eq!(
        deliver_signed(&receiver, OTHER_SECRET, "evt_1", &now()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        deliver_signed(&receiver, SPEC_SECRET, "evt_2", &stale).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = deliver(&receiver, "/", &[("webhook-id", "evt_3")], &event("evt_3")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let body = event("evt_4");
    let signature = sign(SPEC_SECRET, "evt_4", &now(), body.as_bytes()).expect("signs");
    let v2 = signature.replacen("v1,", "v2,", 1);
    let headers = [
        ("webhook-id", "evt_4"),
        ("webhook-timestamp", "now"),
        ("webhook-signature", v2.as_str()),
    ];
    assert_eq!(
        deliver(&receiver, "/", &headers, &body).await.0,
        StatusCode::UNAUTHORIZED
    );

    let received = receiver.received();
    assert_eq!(received.len(), 4);
    assert!(received.iter().all(|r| !r.verified && r.failure.is_some()));
    assert_eq!(received[2].id, "evt_3");
}

#[tokio::test]
async fn while_down_every_attempt_gets_503_and_is_only_counted() {
    let receiver = WebhookReceiver::new(vec![SPEC_SECRET.to_owned()]);
    receiver.set_down(true);
    for _ in 0..3 {
        assert_eq!(
            deliver_signed(&receiver, SPEC_SECRET, "evt_1", &now()).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    assert!(receiver.received().is_empty());
    receiver.set_down(false);
    assert_eq!(
        deliver_signed(&receiver, SPEC_SECRET, "evt_1", &now()).await,
        StatusCode::OK
    );
    assert_eq!((receiver.attempts(), receiver.refused_while_down()), (4, 3));
}

#[tokio::test]
async fn any_path_is_served_and_duplicates_share_one_id() {
    let receiver = WebhookReceiver::new(vec![SPEC_SECRET.to_owned()]);
    let body = event("evt_1");
    let timestamp = now();
    let signature = sign(SPEC_SECRET, "evt_1", &timestamp, body.as_bytes()).expect("signs");
    let headers = [
        ("webhook-id", "evt_1"),
        ("webhook-timestamp", timestamp.as_str()),
        ("webhook-signature", signature.as_str()),
    ];
    for path in ["/", "/gateway-events", "/a/b/c"] {
        assert_eq!(
            deliver(&receiver, path, &headers, &body).await.0,
            StatusCode::OK,
            "{path}"
        );
    }
    assert_eq!(receiver.received()[1].path, "/gateway-events");
    assert_eq!(
        receiver.unique_ids().into_iter().collect::<Vec<_>>(),
        vec!["evt_1".to_owned()]
    );
    receiver.clear();
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn wait_for_returns_once_enough_events_arrived() {
    let receiver = WebhookReceiver::new(vec![SPEC_SECRET.to_owned()]).with_echo(true);
    let running = receiver
        .spawn(crate::server::any_local_port())
        .await
        .expect("bind");
    let url = format!("{}/hooks", running.base_url);
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let body = event("evt_late");
        let timestamp = now();
        let signature = sign(SPEC_SECRET, "evt_late", &timestamp, body.as_bytes()).expect("signs");
        reqwest::Client::new()
            .post(url)
            .header("webhook-id", "evt_late")
            .header("webhook-timestamp", timestamp)
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map(|response| response.status().as_u16())
    });
    let received = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(received.len(), 1);
    assert!(received[0].verified);
    assert_eq!(sender.await.expect("joined").expect("sent"), 200);
    assert_eq!(
        receiver.wait_for(2, Duration::from_millis(20)).await.len(),
        1
    );
}

#[test]
fn invalid_secrets_are_refused_by_try_new_and_match_nothing_in_new() {
    assert!(
        WebhookReceiver::try_new(vec![SPEC_SECRET.to_owned(), "whsec_***".to_owned()])
            .is_err_and(|e| e.index == 1)
    );
    let receiver = WebhookReceiver::new(vec!["whsec_***".to_owned()]);
    assert!(format!("{receiver:?}").contains("keys: 0"));
}
