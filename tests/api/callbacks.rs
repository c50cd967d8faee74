//! Provider callbacks: exactly one state change however often or concurrently a provider
//! repeats itself; tampered, wrong-key and stale callbacks rejected in the provider's own
//! format with nothing stored; NICEPAY callbacks confirmed by inquiry before they count.

use std::time::Duration;

use mocks::{CallbackOptions, Tamper};
use serde_json::{Value, json};

use crate::helpers::{
    BNI_CLIENT, BNI_SECRET, Backend, NICEPAY_IMID, NICEPAY_KEY, TestApp, va_body,
};
use crate::on_both_backends;

/// Posts a BNI payment callback built by hand (encrypted with the simulator's codec).
pub async fn post_bni_payment(
    app: &TestApp,
    trx_id: &str,
    va: &str,
    billed: i64,
    paid: i64,
    cumulative: i64,
    ntb: &str,
) -> (u16, String) {
    let payload = json!({
        "trx_id": trx_id,
        "virtual_account": va,
        "customer_name": "Budi",
        "trx_amount": billed.to_string(),
        "payment_amount": paid.to_string(),
        "cumulative_payment_amount": cumulative.to_string(),
        "payment_ntb": ntb,
        "datetime_payment": "2026-11-22 10:00:00",
        "datetime_payment_iso8601": "2026-11-22T10:00:00+07:00",
    });
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let data = mocks::bni::crypto::encrypt(BNI_CLIENT, BNI_SECRET, &payload.to_string(), now);
    let response = app
        .http
        .post(format!("{}/v1/callbacks/bni_main", app.base_url))
        .header("content-type", "application/json")
        .body(json!({"client_id": BNI_CLIENT, "data": data}).to_string())
        .send()
        .await
        .expect("send");
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

async fn status_of(app: &TestApp, id: &str) -> Value {
    app.get_va("demo", id).await.json().await.expect("json")
}

async fn two_hundred_concurrent_duplicates_change_state_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let va = app.issue("DUP-1", 75_000).await;
    let id = va["id"].as_str().expect("id");
    let outcomes = app
        .bni
        .pay_with(id, 75_000, CallbackOptions::repeated(200, true))
        .await
        .expect("pay");
    assert_eq!(outcomes.len(), 200);
    assert!(
        outcomes
            .iter()
            .all(|o| o.status == 200 && o.body == r#"{"status":"000"}"#),
        "every duplicate is acknowledged"
    );
    let paid = status_of(&app, id).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["paid_amount"], 75_000);
    assert_eq!(paid["version"], 2, "exactly one state change");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM provider_events WHERE resource_id = $1",
            id
        )
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE resource_id = $1", id)
            .await,
        1
    );
    app.receiver.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.receiver.unique_ids().len(), 1);
}
on_both_backends!(two_hundred_concurrent_duplicates_change_state_once);

async fn tampered_wrong_key_and_stale_bni_callbacks_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (i, tamper) in [Tamper::FlipByte, Tamper::WrongKey, Tamper::StaleTimestamp]
        .into_iter()
        .enumerate()
    {
        let va = app.issue(&format!("TAMPER-{i}"), 20_000).await;
        let id = va["id"].as_str().expect("id");
        let outcomes = app
            .bni
            .pay_with(id, 20_000, CallbackOptions::tampered(tamper))
            .await
            .expect("pay");
        let answer: Value = serde_json::from_str(&outcomes[0].body).expect("BNI-format answer");
        assert_eq!(outcomes[0].status, 400, "{tamper:?}");
        assert_eq!(
            answer["status"], "999",
            "{tamper:?}: rejected in BNI's own format"
        );
        assert_eq!(status_of(&app, id).await["status"], "active");
        assert_eq!(
            app.count(
                "SELECT COUNT(*) FROM provider_events WHERE resource_id = $1",
                id
            )
            .await,
            0
        );
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM provider_events WHERE provider = $1",
            "bni_main"
        )
        .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE client_id = $1", "demo")
            .await,
        0
    );
}
on_both_backends!(tampered_wrong_key_and_stale_bni_callbacks_store_nothing);

async fn nicepay_payment_is_confirmed_by_inquiry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = va_body("NP-1", 30_000);
    body["provider"] = json!("nicepay_main");
    let va = app.issue_body(&body).await;
    let id = va["id"].as_str().expect("id");
    assert_eq!(va["provider"], "nicepay_main");
    let inquiries_before = app.nicepay.calls("inquiry");
    let outcomes = app
        .nicepay
        .pay_with(id, 30_000, CallbackOptions::repeated(3, false))
        .await
        .expect("pay");
    assert!(outcomes.iter().all(|o| o.status == 200));
    let events = app.receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(events[0].event_type, "virtual_account.paid");
    assert_eq!(status_of(&app, id).await["status"], "paid");
    assert_eq!(
        app.nicepay.calls("inquiry") - inquiries_before,
        1,
        "one confirmation inquiry"
    );
}
on_both_backends!(nicepay_payment_is_confirmed_by_inquiry);

async fn post_nicepay_form(app: &TestApp, fields: &[(&str, String)]) -> (u16, String) {
    let body: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let response = app
        .http
        .post(format!("{}/v1/callbacks/nicepay_main", app.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("send");
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

async fn a_well_signed_nicepay_callback_the_provider_denies_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = va_body("NP-FORGED", 45_000);
    body["provider"] = json!("nicepay_main");
    let va = app.issue_body(&body).await;
    let id = va["id"].as_str().expect("id");
    let tx = app.nicepay.transaction(id).expect("registered at NICEPAY");
    let fields = |token: String| {
        vec![
            ("tXid", tx.t_xid.clone()),
            ("merchantToken", token),
            ("referenceNo", id.to_owned()),
            ("payMethod", "02".to_owned()),
            ("amt", "45000".to_owned()),
            ("currency", "IDR".to_owned()),
            ("status", "0".to_owned()),
            ("matchCl", "1".to_owned()),
            ("bankCd", "BNIN".to_owned()),
            ("vacctNo", tx.vacct_no.clone()),
            ("depositDt", "20261122".to_owned()),
            ("depositTm", "100000".to_owned()),
        ]
    };
    // A wrong token is refused outright, in NICEPAY's format.
    let (status, answer) = post_nicepay_form(&app, &fields("0".repeat(64))).await;
    assert_eq!(status, 400);
    assert!(answer.contains("resultCd"), "{answer}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM provider_events WHERE resource_id = $1",
            id
        )
        .await,
        0
    );
    // A valid token (a replayed or forged notification) is stored, then contradicted by the
    // provider's own status: the VA stays active and no event is sent.
    let token = mocks::nicepay::notification_token(NICEPAY_IMID, &tx.t_xid, "45000", NICEPAY_KEY);
    let (status, _) = post_nicepay_form(&app, &fields(token)).await;
    assert_eq!(status, 200);
    let settled = app
        .eventually(Duration::from_secs(10), || async {
            app.count(
                "SELECT COUNT(*) FROM provider_events WHERE resource_id = $1 AND state = 'ignored'",
                id,
            )
            .await
                == 1
        })
        .await;
    assert!(
        settled,
        "the callback was checked against the provider's status"
    );
    assert_eq!(status_of(&app, id).await["status"], "active");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE resource_id = $1", id)
            .await,
        0
    );
}
on_both_backends!(a_well_signed_nicepay_callback_the_provider_denies_changes_nothing);

async fn unknown_instances_and_tampered_nicepay_callbacks_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unknown = app
        .http
        .post(format!("{}/v1/callbacks/nope", app.base_url))
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(unknown.status(), 404);
    let mut body = va_body("NP-T", 10_000);
    body["provider"] = json!("nicepay_main");
    let va = app.issue_body(&body).await;
    let id = va["id"].as_str().expect("id");
    let outcomes = app
        .nicepay
        .pay_with(id, 10_000, CallbackOptions::tampered(Tamper::WrongKey))
        .await
        .expect("pay");
    assert_eq!(outcomes[0].status, 400);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM provider_events WHERE resource_id = $1",
            id
        )
        .await,
        0
    );
}
on_both_backends!(unknown_instances_and_tampered_nicepay_callbacks_are_refused);
