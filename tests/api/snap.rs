//! SNAP BI end to end: VAs issued through DOKU and BNI in SNAP mode and paid by their
//! simulators (token from our inbound token endpoint, then the HMAC-signed notification);
//! host-to-host VAs the gateway holds, asked about and paid by the bank; DOKU Checkout.

use std::time::Duration;

use mocks::{CallbackOptions, Tamper};
use serde_json::{Value, json};

use crate::helpers::{BNI_H2H_PREFIX, Backend, TestApp, payment_body, va_body};
use crate::on_both_backends;

const VA_EVENTS: &str = "SELECT COUNT(*) FROM provider_events WHERE resource_id = $1";

fn with_provider(reference: &str, amount: i64, provider: &str) -> Value {
    let mut body = va_body(reference, amount);
    body["provider"] = json!(provider);
    body
}

async fn paid_once(app: &TestApp, id: &str) {
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id) == vec!["virtual_account.paid".to_owned()]
        })
        .await,
        "exactly one virtual_account.paid for {id}: {:?}",
        app.event_types_for(id)
    );
}

async fn doku_snap_va_is_paid(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let va = app
        .issue_body(&with_provider("INV-DOKU-1", 150_000, "doku_main"))
        .await;
    assert_eq!(va["status"], "active");
    assert_eq!(va["bank"], "BNI");
    let number = va["va_number"].as_str().expect("number");
    assert!(number.starts_with("8129") && number.len() == 16, "{number}");
    let id = va["id"].as_str().expect("id");
    let outcomes = app
        .doku
        .pay_va_with(id, 150_000, CallbackOptions::repeated(3, true))
        .await
        .expect("paid");
    for o in &outcomes {
        assert_eq!(o.status, 200, "{}", o.body);
        assert!(o.body.contains("2002500"), "{}", o.body);
    }
    let paid = app
        .get_json("demo", &format!("/v1/virtual-accounts/{id}"))
        .await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["paid_amount"], 150_000);
    assert_eq!(app.count(VA_EVENTS, id).await, 1);
    paid_once(&app, id).await;
}
on_both_backends!(doku_snap_va_is_paid);

async fn bni_snap_va_is_paid_and_forgeries_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let va = app
        .issue_body(&with_provider("INV-BNI-1", 75_000, "bni_snap"))
        .await;
    let id = va["id"].as_str().expect("id");
    assert!(
        va["va_number"]
            .as_str()
            .expect("number")
            .starts_with("8123")
    );
    for tamper in [Tamper::FlipByte, Tamper::WrongKey, Tamper::StaleTimestamp] {
        let forged = app
            .bni_snap
            .pay_with(id, 75_000, CallbackOptions::tampered(tamper))
            .await
            .expect("posted");
        assert_eq!(forged[0].status, 401, "{tamper:?}: {}", forged[0].body);
    }
    assert_eq!(app.count(VA_EVENTS, id).await, 0, "forgeries store nothing");
    let genuine = app.bni_snap.pay(id, 75_000).await.expect("paid");
    assert_eq!(genuine.status, 200, "{}", genuine.body);
    assert!(
        genuine.body.contains("\"paymentFlagStatus\":\"00\""),
        "{}",
        genuine.body
    );
    let again = app.bni_snap.redeliver_last(id).await.expect("resent");
    assert_eq!(again.status, 200, "a provider retry is acknowledged");
    assert_eq!(app.count(VA_EVENTS, id).await, 1);
    paid_once(&app, id).await;
}
on_both_backends!(bni_snap_va_is_paid_and_forgeries_store_nothing);

fn code(answer: &Value) -> &str {
    answer["responseCode"].as_str().unwrap_or_default()
}

async fn host_to_host_va_is_asked_about_and_paid_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let prefix = BNI_H2H_PREFIX.len();
    let va = app
        .issue_body(&with_provider("INV-H2H-1", 200_000, "bni_h2h"))
        .await;
    assert_eq!(va["status"], "active", "issued without a call to the bank");
    let number = va["va_number"].as_str().expect("number").to_owned();
    assert!(
        number.starts_with(BNI_H2H_PREFIX) && number.len() == 16,
        "{number}"
    );
    let id = va["id"].as_str().expect("id");

    // The wrong amount is refused, nothing is stored.
    let wrong = app
        .bni_h2h
        .pay_h2h(&number, 199_999, prefix)
        .await
        .expect("asked");
    assert_eq!(
        code(&wrong.inquiry.body),
        "2002400",
        "{}",
        wrong.inquiry.body
    );
    assert_eq!(
        wrong.inquiry.body["virtualAccountData"]["totalAmount"]["value"],
        "200000.00"
    );
    let refused = wrong.payment.expect("payment sent");
    assert_eq!(code(&refused.body), "4042513", "{}", refused.body);
    assert_eq!(app.count(VA_EVENTS, id).await, 0);

    let paid = app
        .bni_h2h
        .pay_h2h(&number, 200_000, prefix)
        .await
        .expect("paid");
    let accepted = paid.payment.expect("payment sent");
    assert_eq!(code(&accepted.body), "2002500", "{}", accepted.body);
    assert_eq!(
        accepted.body["virtualAccountData"]["paymentFlagStatus"],
        "00"
    );
    // The bank's retry (fresh X-EXTERNAL-ID, same paymentRequestId): the original success.
    let resent = app.bni_h2h.resend_payment().await.expect("resent");
    assert_eq!(code(&resent.body), "2002500", "{}", resent.body);
    // The very same request again: a replay within the day.
    let replayed = app.bni_h2h.replay_payment().await.expect("replayed");
    assert_eq!(replayed.status, 409);
    assert_eq!(code(&replayed.body), "4092500", "{}", replayed.body);
    assert_eq!(app.count(VA_EVENTS, id).await, 1);
    let view = app
        .get_json("demo", &format!("/v1/virtual-accounts/{id}"))
        .await;
    assert_eq!(view["status"], "paid");
    paid_once(&app, id).await;

    // Paid already: the bank is told so at the inquiry.
    let late = app
        .bni_h2h
        .pay_h2h(&number, 200_000, prefix)
        .await
        .expect("asked");
    assert_eq!(code(&late.inquiry.body), "4042414", "{}", late.inquiry.body);
    assert!(late.payment.is_none());
    // A number the gateway never issued.
    let unknown = app
        .bni_h2h
        .pay_h2h(&format!("{BNI_H2H_PREFIX}999999999999"), 1_000, prefix)
        .await
        .expect("asked");
    assert_eq!(
        code(&unknown.inquiry.body),
        "4042412",
        "{}",
        unknown.inquiry.body
    );
    assert_eq!(app.count(VA_EVENTS, id).await, 1);
}
on_both_backends!(host_to_host_va_is_asked_about_and_paid_once);

async fn host_to_host_cancelled_and_expired_vas_refuse_payment(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let prefix = BNI_H2H_PREFIX.len();
    let va = app
        .issue_body(&with_provider("INV-H2H-C", 10_000, "bni_h2h"))
        .await;
    let (id, number) = (
        va["id"].as_str().expect("id").to_owned(),
        va["va_number"].as_str().expect("number").to_owned(),
    );
    let cancelled = app
        .signed(
            "demo",
            "POST",
            &format!("/v1/virtual-accounts/{id}/cancel"),
            None,
        )
        .send()
        .await
        .expect("send");
    assert_eq!(cancelled.status(), 200);
    let asked = app
        .bni_h2h
        .pay_h2h(&number, 10_000, prefix)
        .await
        .expect("asked");
    assert_eq!(
        code(&asked.inquiry.body),
        "4042412",
        "{}",
        asked.inquiry.body
    );

    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let mut body = with_provider("INV-H2H-E", 10_000, "bni_h2h");
    body["expires_at"] = json!(
        soon.format(&time::format_description::well_known::Rfc3339)
            .expect("format")
    );
    let va = app.issue_body(&body).await;
    let number = va["va_number"].as_str().expect("number").to_owned();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let asked = app
        .bni_h2h
        .pay_h2h(&number, 10_000, prefix)
        .await
        .expect("asked");
    assert_eq!(
        code(&asked.inquiry.body),
        "4042419",
        "{}",
        asked.inquiry.body
    );
}
on_both_backends!(host_to_host_cancelled_and_expired_vas_refuse_payment);

async fn doku_checkout_redirect_paid_failed_expired(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let payment = app
        .pay_body(&payment_body("ORDER-DOKU", 99_000, "doku_checkout"))
        .await;
    assert_eq!(payment["provider"], "doku_main");
    assert_eq!(payment["action"]["type"], "redirect");
    let id = payment["id"].as_str().expect("id");
    let outcome = app.doku.complete_checkout(id).await.expect("notified");
    assert_eq!(outcome.status, 200, "{}", outcome.body);
    let paid = app.payment_reaches(id, "paid").await;
    assert_eq!(paid["paid_amount"], 99_000);
    // DOKU refunds are not offered by the gateway: said so, nothing moves.
    let (status, problem) = app
        .post(
            "demo",
            &format!("/v1/payments/{id}/refunds"),
            &json!({"amount": 1_000, "reason": "test"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "refund_not_supported");

    let failing = app
        .pay_body(&payment_body("ORDER-DOKU-F", 5_000, "doku_checkout"))
        .await;
    let failing = failing["id"].as_str().expect("id");
    app.doku.fail_checkout(failing).await.expect("notified");
    app.payment_reaches(failing, "failed").await;
    let expiring = app
        .pay_body(&payment_body("ORDER-DOKU-E", 5_000, "doku_checkout"))
        .await;
    let expiring = expiring["id"].as_str().expect("id");
    app.doku.expire_checkout(expiring).await.expect("notified");
    app.payment_reaches(expiring, "expired").await;

    let forged = app
        .pay_body(&payment_body("ORDER-DOKU-X", 5_000, "doku_checkout"))
        .await;
    let forged = forged["id"].as_str().expect("id");
    let outcomes = app
        .doku
        .complete_checkout_with(forged, CallbackOptions::tampered(Tamper::WrongKey))
        .await
        .expect("posted");
    assert_eq!(outcomes[0].status, 401);
    assert_eq!(app.count(VA_EVENTS, forged).await, 0);
    let still = app
        .get_json("demo", &format!("/v1/payments/{forged}"))
        .await;
    assert_eq!(still["status"], "pending");
}
on_both_backends!(doku_checkout_redirect_paid_failed_expired);

async fn two_banks_paying_one_held_bill_at_once_pay_it_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let prefix = BNI_H2H_PREFIX.len();
    for trial in 0..5 {
        let va = app
            .issue_body(&with_provider(
                &format!("INV-H2H-R{trial}"),
                20_000,
                "bni_h2h",
            ))
            .await;
        let (id, number) = (
            va["id"].as_str().expect("id").to_owned(),
            va["va_number"].as_str().expect("number").to_owned(),
        );
        let (a, b) = tokio::join!(
            app.bni_h2h.pay_h2h(&number, 20_000, prefix),
            app.bni_h2h.pay_h2h(&number, 20_000, prefix)
        );
        let mut codes: Vec<String> = [a, b]
            .into_iter()
            .map(|h2h| {
                let h2h = h2h.expect("asked");
                match h2h.payment {
                    Some(payment) => code(&payment.body).to_owned(),
                    None => code(&h2h.inquiry.body).to_owned(),
                }
            })
            .collect();
        codes.sort();
        assert_eq!(codes[0], "2002500", "trial {trial}: {codes:?}");
        assert!(
            codes[1] == "4042514" || codes[1] == "4042414",
            "trial {trial}: the second is told the bill is paid: {codes:?}"
        );
        assert_eq!(app.count(VA_EVENTS, &id).await, 1, "trial {trial}");
        let view = app
            .get_json("demo", &format!("/v1/virtual-accounts/{id}"))
            .await;
        assert_eq!(view["paid_amount"], 20_000, "trial {trial}");
    }
}
on_both_backends!(two_banks_paying_one_held_bill_at_once_pay_it_once);
