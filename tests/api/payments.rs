//! Payments end to end through the real router and the AstraPay simulator: each method's
//! action → paid → event; failed; expired; refunds full and partial; forged and replayed
//! notifications; a lost callback resolved by status polling; a create timeout resolved by
//! inquiry; a token expiring mid-run; tenancy.

use std::time::Duration;

use mocks::{CallbackOptions, CapturedCallback, Fault, FaultRule, Tamper};
use serde_json::{Value, json};

use crate::helpers::{Backend, Options, TestApp, payment_body};
use crate::on_both_backends;

fn sorted(mut types: Vec<String>) -> Vec<String> {
    types.sort();
    types
}

const PAYMENT_EVENTS: &str = "SELECT COUNT(*) FROM provider_events WHERE resource_id = $1";

/// A payment of demo's at AstraPay, paid (notified) and seen `paid`; its id.
async fn paid_payment(app: &TestApp, reference: &str, amount: i64, method: &str) -> String {
    let payment = app.pay_body(&payment_body(reference, amount, method)).await;
    let id = payment["id"].as_str().expect("id").to_owned();
    app.astrapay.complete(&id).await.expect("notify");
    app.payment_reaches(&id, "paid").await;
    id
}

/// Posts a captured provider request to the gateway as is; returns status and JSON body.
async fn post_captured(app: &TestApp, captured: &CapturedCallback) -> (u16, Value) {
    let url = captured.url.clone().expect("captured callback has a URL");
    let mut request = app.http.post(url).body(captured.body.clone());
    for (name, value) in &captured.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Has the simulator hold a token the gateway issued (AstraPay's token step).
async fn hand_token(app: &TestApp) {
    let (status, body) = post_captured(app, &app.astrapay.token_request()).await;
    assert_eq!(status, 200, "token request refused: {body}");
    assert_eq!(body["responseCode"], "2007300");
    app.astrapay
        .use_token(body["accessToken"].as_str().expect("token"));
}

async fn astrapay_redirect_is_paid_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let payment = app
        .pay_body(&payment_body("ORDER-1", 125_000, "astrapay"))
        .await;
    assert_eq!(payment["status"], "pending");
    assert_eq!(payment["provider"], "astrapay_main");
    assert_eq!(payment["action"]["type"], "redirect");
    let url = payment["action"]["url"].as_str().expect("url");
    assert!(url.starts_with("https://"), "{url}");
    let id = payment["id"].as_str().expect("id");
    let outcomes = app
        .astrapay
        .complete_with(id, CallbackOptions::repeated(4, true))
        .await
        .expect("notify");
    for o in &outcomes {
        assert_eq!(o.status, 200, "{}", o.body);
        assert!(o.body.contains("2005600"), "{}", o.body);
    }
    let paid = app.payment_reaches(id, "paid").await;
    assert_eq!(paid["paid_amount"], 125_000);
    assert!(paid["paid_at"].is_string());
    assert_eq!(app.count(PAYMENT_EVENTS, id).await, 1, "one provider event");
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id) == vec!["payment.paid".to_owned()]
        })
        .await,
        "exactly one payment.paid: {:?}",
        app.event_types_for(id)
    );
}
on_both_backends!(astrapay_redirect_is_paid_once);

async fn qris_shows_a_qr_and_is_paid(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let payment = app
        .pay_body(&payment_body("ORDER-QR", 50_000, "qris"))
        .await;
    assert_eq!(payment["action"]["type"], "qr");
    let qr = payment["action"]["qr_string"].as_str().expect("qr");
    assert!(qr.starts_with("000201"), "{qr}");
    let id = payment["id"].as_str().expect("id");
    let outcome = app.astrapay.complete(id).await.expect("notify");
    assert_eq!(outcome.status, 200, "{}", outcome.body);
    assert!(outcome.body.contains("2005200"), "{}", outcome.body);
    app.payment_reaches(id, "paid").await;
}
on_both_backends!(qris_shows_a_qr_and_is_paid);

async fn failed_and_expired_are_final(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let failing = app
        .pay_body(&payment_body("ORDER-F", 10_000, "astrapay"))
        .await;
    let failing = failing["id"].as_str().expect("id");
    app.astrapay.fail(failing).await.expect("notify");
    app.payment_reaches(failing, "failed").await;
    let expiring = app.pay_body(&payment_body("ORDER-E", 10_000, "qris")).await;
    let expiring = expiring["id"].as_str().expect("id");
    app.astrapay.expire(expiring).await.expect("notify");
    app.payment_reaches(expiring, "expired").await;
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(failing) == vec!["payment.failed".to_owned()]
                && app.event_types_for(expiring) == vec!["payment.expired".to_owned()]
        })
        .await
    );
    // A refund of an unpaid payment is refused and moves nothing.
    let (status, problem) = app
        .post(
            "demo",
            &format!("/v1/payments/{failing}/refunds"),
            &json!({"amount": 1000, "reason": "test"}),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "payment_not_refundable");
}
on_both_backends!(failed_and_expired_are_final);

async fn refund(app: &TestApp, id: &str, amount: i64) -> reqwest::Response {
    app.signed(
        "demo",
        "POST",
        &format!("/v1/payments/{id}/refunds"),
        Some(&json!({"amount": amount, "reason": "customer returned the goods"})),
    )
    .send()
    .await
    .expect("send")
}

async fn refunds_partial_then_full_never_above_paid(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = &paid_payment(&app, "ORDER-R", 100_000, "astrapay").await;

    let first = refund(&app, id, 30_000).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("json");
    assert_eq!(first["refund"]["status"], "succeeded");
    assert_eq!(first["payment"]["status"], "partially_refunded");
    assert_eq!(first["payment"]["refunded_amount"], 30_000);

    let too_much = refund(&app, id, 70_001).await;
    assert_eq!(too_much.status(), 422);
    let problem: Value = too_much.json().await.expect("json");
    assert_eq!(problem["refundable_amount"], 70_000);

    // Two concurrent refunds of the whole remainder: exactly one goes through; the other
    // finds the amount reserved (422) or the payment already refunded (409).
    let (a, b) = tokio::join!(refund(&app, id, 70_000), refund(&app, id, 70_000));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses[0], 201, "{statuses:?}");
    assert!(matches!(statuses[1], 409 | 422), "{statuses:?}");
    let done = app.payment_reaches(id, "refunded").await;
    assert_eq!(done["refunded_amount"], 100_000);
    let at_provider = app.astrapay.payment(id).expect("held");
    assert_eq!(
        at_provider.refunded, 100_000,
        "the provider moved exactly what was paid"
    );
    let refunds = app
        .get_json("demo", &format!("/v1/payments/{id}/refunds"))
        .await;
    let succeeded = refunds["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| r["status"] == "succeeded")
        .count();
    assert_eq!(succeeded, 2);
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            sorted(app.event_types_for(id))
                == ["payment.paid", "payment.refunded", "payment.refunded"]
        })
        .await,
        "{:?}",
        app.event_types_for(id)
    );
}
on_both_backends!(refunds_partial_then_full_never_above_paid);

async fn forged_and_replayed_notifications_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let payment = app
        .pay_body(&payment_body("ORDER-X", 80_000, "astrapay"))
        .await;
    let id = payment["id"].as_str().expect("id");
    // The customer pays; the notification is not posted yet.
    app.astrapay
        .complete_with(id, CallbackOptions::repeated(0, false))
        .await
        .expect("record");
    hand_token(&app).await;
    for tamper in [Tamper::FlipByte, Tamper::WrongKey, Tamper::StaleTimestamp] {
        let forged = app.astrapay.notification_for(id, tamper).expect("built");
        let (status, body) = post_captured(&app, &forged).await;
        assert_eq!(status, 401, "{tamper:?}: {body}");
        assert!(
            body["responseCode"]
                .as_str()
                .is_some_and(|c| c.starts_with("40156")),
            "{tamper:?}: {body}"
        );
    }
    assert_eq!(app.count(PAYMENT_EVENTS, id).await, 0, "nothing stored");
    let current = app.get_json("demo", &format!("/v1/payments/{id}")).await;
    assert_eq!(current["status"], "pending");

    let genuine = app
        .astrapay
        .notification_for(id, Tamper::None)
        .expect("built");
    let (status, body) = post_captured(&app, &genuine).await;
    assert_eq!(
        (status, body["responseCode"].clone()),
        (200, json!("2005600"))
    );
    // The very same request again (same X-EXTERNAL-ID): a replay, refused, nothing stored.
    let (status, body) = post_captured(&app, &genuine).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["responseCode"], "4095600");
    // The provider's own retry (fresh X-EXTERNAL-ID): acknowledged, changes nothing.
    let retry = app
        .astrapay
        .notification_for(id, Tamper::None)
        .expect("built");
    let (status, _) = post_captured(&app, &retry).await;
    assert_eq!(status, 200);
    app.payment_reaches(id, "paid").await;
    assert_eq!(app.count(PAYMENT_EVENTS, id).await, 1);
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id) == vec!["payment.paid".to_owned()]
        })
        .await
    );
}
on_both_backends!(forged_and_replayed_notifications_change_nothing);

async fn a_lost_callback_is_resolved_by_status_polling(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let payment = app
        .pay_body(&payment_body("ORDER-P", 42_000, "astrapay"))
        .await;
    let id = payment["id"].as_str().expect("id");
    app.astrapay
        .complete_with(id, CallbackOptions::repeated(0, false))
        .await
        .expect("record");
    let paid = app.payment_reaches(id, "paid").await;
    assert_eq!(paid["paid_amount"], 42_000);
    assert!(app.astrapay.calls("debit-status") >= 1);
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id) == vec!["payment.paid".to_owned()]
        })
        .await
    );
}
on_both_backends!(a_lost_callback_is_resolved_by_status_polling);

async fn a_create_timeout_is_pending_and_never_sent_twice(backend: Backend) {
    let mut options = Options::new(backend);
    options.provider_timeout_ms = 500;
    let app = TestApp::spawn_with(options).await;
    app.astrapay.faults().push(FaultRule {
        op: Some("debit-payment".into()),
        fault: Fault::HangAfterEffect { ms: 1_500 },
        times: Some(1),
    });
    let (status, problem) = app
        .post(
            "demo",
            "/v1/payments",
            &payment_body("ORDER-T", 60_000, "astrapay"),
        )
        .await;
    assert_eq!(status, 504, "{problem}");
    assert_eq!(problem["code"], "provider_timeout");
    assert_eq!(problem["status"], 504);
    assert_eq!(problem["resource_status"], "pending");
    let id = problem["id"].as_str().expect("id").to_owned();
    assert_eq!(app.astrapay.calls("debit-payment"), 1);
    // The scheduler asks; the provider has it, waiting for the customer.
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.astrapay.calls("debit-status") >= 1
        })
        .await
    );
    app.astrapay.complete(&id).await.expect("notify");
    app.payment_reaches(&id, "paid").await;
    assert_eq!(
        app.astrapay.calls("debit-payment"),
        1,
        "never created twice"
    );
}
on_both_backends!(a_create_timeout_is_pending_and_never_sent_twice);

async fn a_token_expiring_mid_run_costs_no_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.pay_body(&payment_body("ORDER-K1", 1_000, "astrapay"))
        .await;
    let before = app.astrapay.tokens_issued();
    app.astrapay.expire_tokens();
    for n in 0..3 {
        app.pay_body(&payment_body(&format!("ORDER-K{}", n + 2), 1_000, "qris"))
            .await;
    }
    assert_eq!(
        app.astrapay.tokens_issued(),
        before + 1,
        "one refresh after the provider refused the expired token"
    );
}
on_both_backends!(a_token_expiring_mid_run_costs_no_request);

async fn payments_are_the_owners_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let payment = app
        .pay_body(&payment_body("ORDER-O", 5_000, "astrapay"))
        .await;
    let id = payment["id"].as_str().expect("id");
    let seen = app
        .signed("demo2", "GET", &format!("/v1/payments/{id}"), None)
        .send()
        .await
        .expect("send");
    assert_eq!(seen.status(), 404);
    let (refund, _) = app
        .post(
            "demo2",
            &format!("/v1/payments/{id}/refunds"),
            &json!({"amount": 1, "reason": "x"}),
        )
        .await;
    assert_eq!(refund, 404);
    // demo2 has no payment route at all.
    let (status, problem) = app
        .post(
            "demo2",
            "/v1/payments",
            &payment_body("ORDER-O", 5_000, "astrapay"),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "method_not_available");
}
on_both_backends!(payments_are_the_owners_alone);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payment_requests_list_every_field() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, problem) = app
        .post(
            "demo",
            "/v1/payments",
            &json!({
                "reference": "",
                "amount": 0,
                "method": "Astra Pay",
                "customer": {"name": " "},
                "return_url": "ftp://x",
                "expires_at": "yesterday",
            }),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    for field in [
        "reference",
        "amount",
        "method",
        "customer.name",
        "return_url",
        "expires_at",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    let (status, problem) = app
        .post(
            "demo",
            "/v1/payments",
            &payment_body("ORDER-U", 5_000, "gopay"),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "method_not_available");
    // Same reference twice: 409 with the existing id.
    let first = app
        .pay_body(&payment_body("ORDER-D", 5_000, "astrapay"))
        .await;
    let (status, problem) = app
        .post(
            "demo",
            "/v1/payments",
            &payment_body("ORDER-D", 5_000, "astrapay"),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "reference_exists");
    assert_eq!(problem["id"], first["id"]);
}

async fn in_app_payments_answer_a_deeplink(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = payment_body("ORDER-APP", 33_000, "astrapay");
    body["provider"] = json!("astrapay_app");
    let payment = app.pay_body(&body).await;
    assert_eq!(payment["provider"], "astrapay_app");
    assert_eq!(payment["action"]["type"], "deeplink");
    let url = payment["action"]["url"].as_str().expect("url");
    assert!(url.starts_with("astrapay://"), "{url}");
    let id = payment["id"].as_str().expect("id");
    // Paid in the app; the notification goes elsewhere; the status poll finds it.
    app.astrapay
        .complete_with(id, CallbackOptions::repeated(0, false))
        .await
        .expect("record");
    app.payment_reaches(id, "paid").await;
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id) == vec!["payment.paid".to_owned()]
        })
        .await
    );
    // A provider outside the route is refused.
    let mut body = payment_body("ORDER-APP-2", 33_000, "astrapay");
    body["provider"] = json!("bni_main");
    let (refused, _) = app.post("demo", "/v1/payments", &body).await;
    assert_eq!(refused, 422);
}
on_both_backends!(in_app_payments_answer_a_deeplink);

async fn a_retried_create_is_replayed_not_charged_twice(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = payment_body("ORDER-I", 12_000, "qris");
    let send = |body: Value| {
        app.signed("demo", "POST", "/v1/payments", Some(&body))
            .header("Idempotency-Key", "order-i-attempt")
            .send()
    };
    let first = send(body.clone()).await.expect("send");
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("json");
    let again = send(body.clone()).await.expect("send");
    assert_eq!(again.status(), 201);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(
        app.astrapay.calls("qr-generate"),
        1,
        "one QR bill at the provider"
    );
    let mut other = body.clone();
    other["amount"] = json!(12_001);
    let reused = send(other).await.expect("send");
    assert_eq!(reused.status(), 422);
    let problem: Value = reused.json().await.expect("json");
    assert_eq!(problem["code"], "idempotency_key_reused");
}
on_both_backends!(a_retried_create_is_replayed_not_charged_twice);

/// Applies a provider's word to a payment directly, as a callback or a status poll would.
async fn apply(app: &TestApp, id: &str, update: gateway::service::payments::Update) {
    let id = id.to_owned();
    app.state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                let row = gateway::store::payments::get_unscoped(conn, &id)
                    .await?
                    .expect("payment");
                gateway::service::payments::apply_update(
                    conn,
                    &row,
                    &update,
                    gateway::store::now_ms(),
                )
                .await
            })
        })
        .await
        .expect("applied");
}

fn word(
    state: contracts::payment::ProviderPaymentState,
    amount: i64,
) -> gateway::service::payments::Update {
    gateway::service::payments::Update {
        state,
        amount: Some(amount),
        paid_at: None,
        refunded: None,
    }
}

async fn amounts_are_checked_and_late_payments_flagged(backend: Backend) {
    use contracts::payment::ProviderPaymentState::{Expired, Paid, Pending};
    let app = TestApp::spawn(backend).await;
    let payment = app
        .pay_body(&payment_body("ORDER-M", 90_000, "astrapay"))
        .await;
    let id = payment["id"].as_str().expect("id");
    // "Paid", but not what was charged: flagged, not applied.
    apply(&app, id, word(Paid, 9_000)).await;
    let view = app.get_json("demo", &format!("/v1/payments/{id}")).await;
    assert_eq!(view["status"], "pending");
    assert_eq!(view["flags"], json!(["amount_mismatch"]));
    // Unknown or pending words change nothing.
    apply(&app, id, word(Pending, 90_000)).await;
    assert_eq!(
        app.get_json("demo", &format!("/v1/payments/{id}")).await["status"],
        "pending"
    );
    // Expired, then the provider says paid after all: the money moved, so paid, flagged.
    apply(&app, id, word(Expired, 90_000)).await;
    apply(&app, id, word(Paid, 90_000)).await;
    apply(&app, id, word(Paid, 90_000)).await;
    let view = app.get_json("demo", &format!("/v1/payments/{id}")).await;
    assert_eq!(view["status"], "paid");
    assert!(
        view["flags"]
            .as_array()
            .expect("flags")
            .contains(&json!("paid_after_expired")),
        "{view}"
    );
    // Paid never goes back.
    apply(&app, id, word(Expired, 90_000)).await;
    assert_eq!(
        app.get_json("demo", &format!("/v1/payments/{id}")).await["status"],
        "paid"
    );
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            // Deliveries run concurrently; the events' `version` orders them.
            sorted(app.event_types_for(id)) == ["payment.expired", "payment.paid"]
        })
        .await,
        "{:?}",
        app.event_types_for(id)
    );
}
on_both_backends!(amounts_are_checked_and_late_payments_flagged);

async fn a_refund_timeout_is_pending_then_resolved_by_status(backend: Backend) {
    let mut options = Options::new(backend);
    options.provider_timeout_ms = 500;
    let app = TestApp::spawn_with(options).await;
    let id = &paid_payment(&app, "ORDER-RT", 40_000, "astrapay").await;
    app.astrapay.faults().push(FaultRule {
        op: Some("debit-refund".into()),
        fault: Fault::HangAfterEffect { ms: 1_500 },
        times: Some(1),
    });
    let response = refund(&app, id, 15_000).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["refund"]["status"], "pending", "{body}");
    assert_eq!(body["payment"]["status"], "paid");
    // The status inquiry shows the refund went through; nothing is sent twice.
    let done = app.payment_reaches(id, "partially_refunded").await;
    assert_eq!(done["refunded_amount"], 15_000);
    assert_eq!(app.astrapay.calls("debit-refund"), 1);
    let refunds = app
        .get_json("demo", &format!("/v1/payments/{id}/refunds"))
        .await;
    assert_eq!(refunds["data"][0]["status"], "succeeded");
    assert_eq!(app.astrapay.payment(id).expect("held").refunded, 15_000);
}
on_both_backends!(a_refund_timeout_is_pending_then_resolved_by_status);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_list_in_pages_and_by_status() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let payment = app
            .pay_body(&payment_body(&format!("ORDER-L{n}"), 1_000, "qris"))
            .await;
        ids.push(payment["id"].as_str().expect("id").to_owned());
    }
    app.astrapay.complete(&ids[0]).await.expect("notify");
    app.payment_reaches(&ids[0], "paid").await;
    let first = app.get_json("demo", "/v1/payments?limit=2").await;
    let page: Vec<&str> = first["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(page, [ids[2].as_str(), ids[1].as_str()], "newest first");
    let cursor = first["next_cursor"].as_str().expect("more follow");
    let second = app
        .get_json("demo", &format!("/v1/payments?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second["data"][0]["id"], ids[0].as_str());
    assert!(second["next_cursor"].is_null());
    let pending = app.get_json("demo", "/v1/payments?status=pending").await;
    assert_eq!(pending["data"].as_array().map(Vec::len), Some(2));
    let by_reference = app
        .get_json("demo", "/v1/payments?reference=ORDER-L1")
        .await;
    assert_eq!(by_reference["data"][0]["id"], ids[1].as_str());
}

async fn qris_refunds_partial_then_full(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = &paid_payment(&app, "ORDER-QR-R", 60_000, "qris").await;
    let partial = refund(&app, id, 20_000).await;
    assert_eq!(partial.status(), 201);
    let partial: Value = partial.json().await.expect("json");
    assert_eq!(partial["payment"]["status"], "partially_refunded");
    let rest = refund(&app, id, 40_000).await;
    assert_eq!(rest.status(), 201);
    let done = app.payment_reaches(id, "refunded").await;
    assert_eq!(done["refunded_amount"], 60_000);
    assert_eq!(app.astrapay.payment(id).expect("held").refunded, 60_000);
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            sorted(app.event_types_for(id))
                == ["payment.paid", "payment.refunded", "payment.refunded"]
        })
        .await,
        "{:?}",
        app.event_types_for(id)
    );
}
on_both_backends!(qris_refunds_partial_then_full);
