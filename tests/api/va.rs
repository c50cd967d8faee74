//! The virtual-account lifecycle through the real API: issue, pay, partial and over
//! payments, change, cancel, expiry, lists and batch jobs.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, Options, TestApp, va_body};
use crate::on_both_backends;

async fn va_json(app: &TestApp, id: &str) -> Value {
    app.get_va("demo", id).await.json().await.expect("json")
}

async fn issue_pay_paid_once_and_a_signed_event_is_delivered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let va = app.issue("INV-100", 150_000).await;
    assert_eq!(va["status"], "active");
    assert_eq!(va["provider"], "bni_main");
    assert_eq!(va["bank"], "BNI");
    let id = va["id"].as_str().expect("id");
    let number = va["va_number"].as_str().expect("number");
    assert_eq!(number.len(), 16);
    assert_eq!(
        app.bni.billing(id).expect("billing at BNI").virtual_account,
        number
    );

    let answer = app.bni.pay(id, 150_000).await.expect("pay");
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, r#"{"status":"000"}"#)
    );
    let paid = va_json(&app, id).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["paid_amount"], 150_000);
    assert!(paid["paid_at"].is_string());

    let events = app.receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert!(event.verified, "signature verifies: {:?}", event.failure);
    assert_eq!(event.event_type, "virtual_account.paid");
    assert_eq!(event.body["data"]["id"], id);
    assert_eq!(event.body["data"]["status"], "paid");
    assert!(
        event.body["data"].get("customer").is_none(),
        "no personal data in events"
    );
    // A late repeat of the same callback changes nothing and sends nothing.
    let again = app.bni.redeliver_last(id).await.expect("redeliver");
    assert_eq!(again.status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.receiver.unique_ids().len(), 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE resource_id = $1", id)
            .await,
        1
    );
}
on_both_backends!(issue_pay_paid_once_and_a_signed_event_is_delivered);

async fn underpayment_stays_active_and_overpayment_is_flagged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = va_body("PART-1", 100_000);
    body["payment_rule"] = json!("partial");
    let va = app.issue_body(&body).await;
    let id = va["id"].as_str().expect("id");
    app.bni.pay(id, 40_000).await.expect("first instalment");
    let partial = va_json(&app, id).await;
    assert_eq!(
        (partial["status"].as_str(), partial["paid_amount"].as_i64()),
        (Some("active"), Some(40_000))
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE resource_id = $1", id)
            .await,
        0
    );
    // The rest and more: the bank reports a cumulative total above the bill.
    app.bni.pay(id, 60_000).await.expect("second instalment");
    let paid = va_json(&app, id).await;
    assert_eq!(
        (paid["status"].as_str(), paid["paid_amount"].as_i64()),
        (Some("paid"), Some(100_000))
    );

    // Out of order: the callback with the higher cumulative total arrives first.
    let mut ooo = va_body("OOO-1", 50_000);
    ooo["payment_rule"] = json!("partial");
    let ooo = app.issue_body(&ooo).await;
    let ooo_id = ooo["id"].as_str().expect("id");
    let outcomes = app
        .bni
        .pay_out_of_order(ooo_id, &[20_000, 30_000])
        .await
        .expect("pay");
    assert!(outcomes.iter().all(|o| o.status == 200));
    let settled = va_json(&app, ooo_id).await;
    assert_eq!(
        (settled["status"].as_str(), settled["paid_amount"].as_i64()),
        (Some("paid"), Some(50_000))
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE resource_id = $1", ooo_id)
            .await,
        1
    );

    // The bank reports more than was billed (e.g. an open-minimum billing): paid, flagged.
    let over = app.issue("OVER-1", 50_000).await;
    let over_id = over["id"].as_str().expect("id");
    let number = over["va_number"].as_str().expect("va");
    let answer =
        crate::callbacks::post_bni_payment(&app, over_id, number, 50_000, 60_000, 60_000, "777001")
            .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    let flagged = va_json(&app, over_id).await;
    assert_eq!(flagged["status"], "paid");
    assert_eq!(flagged["paid_amount"], 60_000);
    assert!(
        flagged["flags"]
            .as_array()
            .expect("flags")
            .contains(&json!("overpaid")),
        "{flagged}"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM events WHERE resource_id = $1",
            over_id
        )
        .await,
        1
    );
}
on_both_backends!(underpayment_stays_active_and_overpayment_is_flagged);

async fn change_and_cancel_while_unpaid(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let va = app.issue("CHG-1", 10_000).await;
    let id = va["id"].as_str().expect("id");
    let path = format!("/v1/virtual-accounts/{id}");
    let patched = app
        .signed("demo", "PATCH", &path, Some(&json!({"amount": 12_500})))
        .send()
        .await
        .expect("send");
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.expect("json");
    assert_eq!(patched["amount"], 12_500);
    assert_eq!(app.bni.billing(id).expect("billing").trx_amount, 12_500);
    let cancel_path = format!("/v1/virtual-accounts/{id}/cancel");
    let cancelled = app
        .signed("demo", "POST", &cancel_path, None)
        .send()
        .await
        .expect("send");
    assert_eq!(cancelled.status(), 200);
    assert_eq!(va_json(&app, id).await["status"], "cancelled");
    let events = app.receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(events[0].event_type, "virtual_account.cancelled");
    let again = app
        .signed("demo", "POST", &cancel_path, None)
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), 409);
    // A NICEPAY VA cannot change its amount: the adapter says so explicitly.
    let mut body = va_body("CHG-2", 10_000);
    body["provider"] = json!("nicepay_main");
    let np = app.issue_body(&body).await;
    let np_path = format!("/v1/virtual-accounts/{}", np["id"].as_str().expect("id"));
    let refused = app
        .signed("demo", "PATCH", &np_path, Some(&json!({"amount": 11_000})))
        .send()
        .await
        .expect("send");
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.expect("json");
    assert_eq!(problem["code"], "operation_not_supported");
}
on_both_backends!(change_and_cancel_while_unpaid);

async fn an_expired_va_is_marked_and_announced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = va_body("EXP-1", 10_000);
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    body["expires_at"] = json!(
        soon.format(&time::format_description::well_known::Rfc3339)
            .expect("format")
    );
    let va = app.issue_body(&body).await;
    let id = va["id"].as_str().expect("id").to_owned();
    let events = app.receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(events[0].event_type, "virtual_account.expired");
    assert_eq!(va_json(&app, &id).await["status"], "expired");
}
on_both_backends!(an_expired_va_is_marked_and_announced);

async fn lists_are_cursor_paginated_and_filtered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..5 {
        app.issue(&format!("LIST-{i}"), 1_000 + i).await;
    }
    let first: Value = app.get_json("demo", "/v1/virtual-accounts?limit=2").await;
    assert_eq!(first["data"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let second: Value = app
        .get_json(
            "demo",
            &format!("/v1/virtual-accounts?limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(second["data"].as_array().map(Vec::len), Some(2));
    assert_ne!(first["data"][0]["id"], second["data"][0]["id"]);
    let one: Value = app
        .get_json("demo", "/v1/virtual-accounts?reference=LIST-3")
        .await;
    assert_eq!(one["data"][0]["reference"], "LIST-3");
}
on_both_backends!(lists_are_cursor_paginated_and_filtered);

async fn batch_issues_every_item_and_reports_progress(backend: Backend) {
    let app = TestApp::spawn_with(Options::new(backend)).await;
    let mut items: Vec<Value> = (0..20)
        .map(|i| va_body(&format!("BATCH-{i}"), 10_000 + i))
        .collect();
    items.push(va_body("BATCH-BAD", 0));
    let response = app
        .signed(
            "demo",
            "POST",
            "/v1/virtual-accounts/batch",
            Some(&json!({"items": items})),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.expect("json");
    let job_path = format!("/v1/jobs/{}", accepted["job_id"].as_str().expect("job id"));
    let mut job = Value::Null;
    let mut done = false;
    for _ in 0..300 {
        job = app.get_json("demo", &job_path).await;
        if job["status"] == "completed" {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "job completed: {job}");
    assert_eq!(
        (
            job["total"].as_i64(),
            job["succeeded"].as_i64(),
            job["failed"].as_i64()
        ),
        (Some(21), Some(20), Some(1))
    );
    assert_eq!(job["items"][20]["error_code"], "validation_failed");
    assert!(
        job["items"][0]["virtual_account_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("va_"))
    );
    assert_eq!(app.bni.calls("createbilling"), 20);
    // Another client cannot read the job.
    assert_eq!(
        app.signed("demo2", "GET", &job_path, None)
            .send()
            .await
            .expect("send")
            .status(),
        404
    );
}
on_both_backends!(batch_issues_every_item_and_reports_progress);
