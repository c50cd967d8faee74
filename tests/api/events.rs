//! Events to products: retries while the receiver is down, dead-letter and redelivery,
//! the pull API, and delivery across a gateway restart.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Backend, Options, TestApp};
use crate::on_both_backends;

async fn pay(app: &TestApp, reference: &str) -> String {
    let va = app.issue(reference, 10_000).await;
    let id = va["id"].as_str().expect("id").to_owned();
    assert_eq!(app.bni.pay(&id, 10_000).await.expect("pay").status, 200);
    id
}

async fn a_receiver_down_for_a_while_gets_every_event_when_back(backend: Backend) {
    let mut options = Options::new(backend);
    options.retry_schedule = vec![0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3];
    let app = TestApp::spawn_with(options).await;
    app.receiver.set_down(true);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(pay(&app, &format!("DOWN-{i}")).await);
    }
    let refused = app
        .eventually(Duration::from_secs(10), || async {
            app.receiver.refused_while_down() >= 10
        })
        .await;
    assert!(refused, "retries happened while down");
    app.receiver.set_down(false);
    let got = app.receiver.wait_for(5, Duration::from_secs(15)).await;
    assert_eq!(app.receiver.unique_ids().len(), 5, "{got:?}");
    assert!(got.iter().all(|e| e.verified));
    // Every attempt is recorded and visible to the product.
    let events: Value = app.get_json("demo", "/v1/events").await;
    let first = events["data"][0]["id"].as_str().expect("event id");
    let attempts: Value = app
        .get_json("demo", &format!("/v1/events/{first}/attempts"))
        .await;
    let attempts = attempts["data"].as_array().expect("attempts");
    assert!(attempts.len() >= 2, "{attempts:?}");
    assert_eq!(
        attempts.first().and_then(|a| a["status_code"].as_i64()),
        Some(503)
    );
    assert_eq!(
        attempts.last().and_then(|a| a["status_code"].as_i64()),
        Some(200)
    );
}
on_both_backends!(a_receiver_down_for_a_while_gets_every_event_when_back);

async fn exhausted_events_are_dead_lettered_and_can_be_redelivered(backend: Backend) {
    let mut options = Options::new(backend);
    options.retry_schedule = vec![0.1, 0.1];
    let app = TestApp::spawn_with(options).await;
    app.receiver.set_down(true);
    let id = pay(&app, "DEAD-1").await;
    let dead = app
        .eventually(Duration::from_secs(10), || async {
            app.count(
                "SELECT COUNT(*) FROM events WHERE resource_id = $1 AND delivery_state = 'failed'",
                &id,
            )
            .await
                == 1
        })
        .await;
    assert!(dead, "dead-lettered after the ladder");
    assert_eq!(
        app.receiver.refused_while_down(),
        3,
        "first try plus two retries"
    );
    app.receiver.set_down(false);
    let events: Value = app
        .get_json("demo", "/v1/events?type=virtual_account.paid")
        .await;
    let event_id = events["data"][0]["id"].as_str().expect("event").to_owned();
    assert_eq!(events["data"][0]["delivery"]["status"], "failed");
    let redeliver = app
        .signed(
            "demo",
            "POST",
            &format!("/v1/events/{event_id}/redeliver"),
            None,
        )
        .send()
        .await
        .expect("send");
    assert_eq!(redeliver.status(), 202);
    let got = app.receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].id, event_id, "the same webhook-id");
    // Another client cannot redeliver or read it.
    let other = app
        .signed(
            "demo2",
            "POST",
            &format!("/v1/events/{event_id}/redeliver"),
            None,
        )
        .send()
        .await
        .expect("send");
    assert_eq!(other.status(), 404);
}
on_both_backends!(exhausted_events_are_dead_lettered_and_can_be_redelivered);

async fn a_restart_mid_delivery_still_delivers(backend: Backend) {
    let mut options = Options::new(backend);
    options.retry_schedule = vec![1.0, 1.0, 1.0, 1.0, 1.0];
    let mut app = TestApp::spawn_with(options).await;
    app.receiver.set_down(true);
    let id = pay(&app, "RESTART-1").await;
    let tried = app
        .eventually(Duration::from_secs(10), || async {
            app.receiver.refused_while_down() >= 1
        })
        .await;
    assert!(tried);
    app.restart().await;
    app.receiver.set_down(false);
    let got = app.receiver.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body["data"]["id"], id.as_str());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.receiver.unique_ids().len(), 1);
}
on_both_backends!(a_restart_mid_delivery_still_delivers);

async fn events_can_be_pulled_after_a_cursor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..3 {
        pay(&app, &format!("PULL-{i}")).await;
    }
    let all: Value = app.get_json("demo", "/v1/events?limit=2").await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(2));
    let cursor = all["next_cursor"].as_str().expect("cursor");
    let rest: Value = app
        .get_json("demo", &format!("/v1/events?after={cursor}"))
        .await;
    assert_eq!(rest["data"].as_array().map(Vec::len), Some(1));
    let none: Value = app.get_json("demo2", "/v1/events").await;
    assert_eq!(none["data"].as_array().map(Vec::len), Some(0));
}
on_both_backends!(events_can_be_pulled_after_a_cursor);
