//! Template messages end to end through the WhatsApp simulator: send, delivery statuses by
//! signed webhook (forward only, however they arrive), forged webhooks, the subscription
//! handshake, a throttled send kept and sent later, refusals.

use std::time::Duration;

use mocks::whatsapp::MessageStatus;
use mocks::{CallbackOptions, Tamper};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, WA_VERIFY_TOKEN};
use crate::on_both_backends;

const MESSAGE_EVENTS: &str = "SELECT COUNT(*) FROM provider_events WHERE resource_id = $1";

fn reminder(reference: &str) -> Value {
    json!({
        "reference": reference,
        "recipient": "+6281234567890",
        "template": "payment_reminder",
        "language": "id",
        "params": ["Budi", "Rp150.000"],
    })
}

async fn message(app: &TestApp, id: &str) -> Value {
    app.get_json("demo", &format!("/v1/messages/{id}")).await
}

async fn reaches(app: &TestApp, id: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = message(app, id).await;
        if last["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("message {id} never reached {status}: {last}");
}

async fn statuses_only_move_forward(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, sent) = app.post("demo", "/v1/messages", &reminder("MSG-1")).await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["provider"], "wa_main");
    let id = sent["id"].as_str().expect("id");
    let at_provider = app.whatsapp.messages();
    assert_eq!(at_provider.len(), 1);
    let wamid = at_provider[0].id.clone();
    assert_eq!(at_provider[0].params, ["Budi", "Rp150.000"]);
    // Read arrives before delivered, and everything twice.
    let outcomes = app
        .whatsapp
        .post_statuses(
            &wamid,
            &[
                MessageStatus::Read,
                MessageStatus::Delivered,
                MessageStatus::Read,
                MessageStatus::Sent,
            ],
            CallbackOptions::repeated(2, false),
        )
        .await
        .expect("posted");
    assert!(outcomes.iter().all(|o| o.status == 200), "{outcomes:?}");
    let read = reaches(&app, id, "read").await;
    assert!(read["error"].is_null());
    // Three distinct statuses stored once each; the late ones changed nothing.
    assert_eq!(app.count(MESSAGE_EVENTS, id).await, 3);
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id) == vec!["message.read".to_owned()]
        })
        .await,
        "{:?}",
        app.event_types_for(id)
    );
    assert_eq!(message(&app, id).await["status"], "read");
}
on_both_backends!(statuses_only_move_forward);

async fn failures_are_final_and_forgeries_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, sent) = app.post("demo", "/v1/messages", &reminder("MSG-2")).await;
    let id = sent["id"].as_str().expect("id");
    let wamid = app.whatsapp.messages()[0].id.clone();
    for tamper in [Tamper::FlipByte, Tamper::WrongKey] {
        let forged = app
            .whatsapp
            .fail_with(&wamid, 131_026, CallbackOptions::tampered(tamper))
            .await
            .expect("posted");
        assert_eq!(forged[0].status, 401, "{tamper:?}");
    }
    assert_eq!(app.count(MESSAGE_EVENTS, id).await, 0, "nothing stored");
    assert_eq!(message(&app, id).await["status"], "sent");
    app.whatsapp.fail(&wamid, 131_026).await.expect("posted");
    let failed = reaches(&app, id, "failed").await;
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("131026")),
        "{failed}"
    );
    app.whatsapp.read(&wamid).await.expect("posted");
    assert_eq!(
        message(&app, id).await["status"],
        "failed",
        "failed is final"
    );
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id) == vec!["message.failed".to_owned()]
        })
        .await
    );
}
on_both_backends!(failures_are_final_and_forgeries_store_nothing);

async fn a_throttled_send_is_kept_and_sent_later(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.whatsapp.throttle(1);
    let (status, queued) = app.post("demo", "/v1/messages", &reminder("MSG-3")).await;
    assert_eq!(status, 201, "{queued}");
    assert_eq!(queued["status"], "queued");
    let id = queued["id"].as_str().expect("id");
    let sent = reaches(&app, id, "sent").await;
    assert_eq!(sent["provider"], "wa_main");
    assert_eq!(app.whatsapp.messages().len(), 1, "sent once, not lost");
}
on_both_backends!(a_throttled_send_is_kept_and_sent_later);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_the_handshake() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // An unknown template: refused by the provider, nothing kept, the reference reusable.
    let mut unknown = reminder("MSG-4");
    unknown["template"] = json!("no_such_template");
    let (status, problem) = app.post("demo", "/v1/messages", &unknown).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "provider_rejected");
    assert_eq!(problem["provider_code"], "132001");
    let (status, _) = app.post("demo", "/v1/messages", &reminder("MSG-4")).await;
    assert_eq!(status, 201);
    let mut bad = reminder("MSG-5");
    bad["recipient"] = json!("0812");
    let (status, problem) = app.post("demo", "/v1/messages", &bad).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "recipient");
    // The subscription handshake, answered by the adapter.
    let ok = app
        .whatsapp
        .handshake(WA_VERIFY_TOKEN, "1158201444")
        .await
        .expect("handshake");
    assert_eq!((ok.status, ok.body.as_str()), (200, "1158201444"));
    let wrong = app
        .whatsapp
        .handshake("not-the-token", "1158201444")
        .await
        .expect("handshake");
    assert_eq!(wrong.status, 403);
    // Another client cannot read it.
    let (_, sent) = app.post("demo", "/v1/messages", &reminder("MSG-6")).await;
    let seen = app
        .signed(
            "demo2",
            "GET",
            &format!("/v1/messages/{}", sent["id"].as_str().expect("id")),
            None,
        )
        .send()
        .await
        .expect("send");
    assert_eq!(seen.status(), 404);
}
