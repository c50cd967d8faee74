//! PPOB end to end through the Digiflazz simulator: a PLN token bought and delivered, a
//! postpaid bill inquired and paid once, pending purchases settled by webhook or by the
//! status check alone, a purchase timing out resolved without buying twice, an exhausted
//! deposit refused and announced, forged webhooks refused, other clients seeing nothing,
//! and a day reconciled with every mismatch category seeded.

use std::time::Duration;

use mocks::digiflazz::CallbackPolicy;
use mocks::{Fault, FaultRule};
use serde_json::{Value, json};

use crate::helpers::{Backend, DIGIFLAZZ_WEBHOOK_SECRET, Options, TestApp};
use crate::on_both_backends;

async fn buy(app: &TestApp, reference: &str, sku: &str, customer_no: &str) -> (u16, Value) {
    app.post(
        "demo",
        "/v1/bills/payments",
        &json!({"reference": reference, "product_code": sku, "customer_no": customer_no}),
    )
    .await
}

async fn bill(app: &TestApp, id: &str) -> Value {
    app.get_json("demo", &format!("/v1/bills/payments/{id}"))
        .await
}

async fn bill_reaches(app: &TestApp, id: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = bill(app, id).await;
        if last["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("bill payment {id} never reached {status}: {last}");
}

async fn ref_id_of(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar::<_, String>("SELECT ref_id FROM bill_payments WHERE id = $1")
        .bind(id)
        .fetch_one(app.state.db().pool())
        .await
        .expect("the payment has a ref_id")
}

async fn events_reach(app: &TestApp, id: &str, want: &[&str]) {
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id) == want.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
        })
        .await,
        "{id}: {:?}",
        app.event_types_for(id)
    );
}

async fn a_pln_token_is_bought_and_delivered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let products = app
        .get_json("demo", "/v1/bills/products?category=pln")
        .await;
    let pln20 = products["data"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["code"] == "pln20")
        .cloned()
        .expect("pln20 listed");
    assert_eq!(pln20["kind"], "prepaid");
    let price = pln20["price"].as_i64().expect("price");
    let before = app.digiflazz.deposit();
    // Check the meter first, then pay that check.
    let (status, inquiry) = app
        .post(
            "demo",
            "/v1/bills/inquiries",
            &json!({"product_code": "pln20", "customer_no": "12345678901"}),
        )
        .await;
    assert_eq!(status, 201, "{inquiry}");
    assert!(inquiry["customer_name"].is_string(), "{inquiry}");
    assert_eq!(inquiry["total"], price);
    let (status, paid) = app
        .post(
            "demo",
            "/v1/bills/payments",
            &json!({"reference": "TOKEN-1", "inquiry_id": inquiry["id"]}),
        )
        .await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!(paid["status"], "success", "{paid}");
    let token = paid["token"].as_str().expect("token");
    assert_eq!(token.len(), 20);
    assert!(token.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(paid["biller_cost"], price);
    assert_eq!(app.digiflazz.deposit(), before - price);
    let id = paid["id"].as_str().expect("id");
    events_reach(&app, id, &["bill.payment.success"]).await;
    let event = app
        .receiver
        .received()
        .into_iter()
        .find(|e| e.body["data"]["id"] == id)
        .expect("event");
    assert_eq!(event.body["data"]["token"], token);
    assert!(
        !event.body.to_string().contains("12345678901"),
        "no customer number in events"
    );
    let balance = app
        .get_json("demo", "/v1/billers/digiflazz_main/balance")
        .await;
    assert_eq!(balance["balance"], before - price, "{balance}");
    assert_eq!(balance["low"], false);
}
on_both_backends!(a_pln_token_is_bought_and_delivered);

async fn a_postpaid_bill_is_inquired_and_paid_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, inquiry) = app
        .post(
            "demo",
            "/v1/bills/inquiries",
            &json!({"product_code": "pln", "customer_no": "530000000001"}),
        )
        .await;
    assert_eq!(status, 201, "{inquiry}");
    assert_eq!(
        (
            inquiry["amount"].as_i64(),
            inquiry["admin_fee"].as_i64(),
            inquiry["penalty"].as_i64(),
            inquiry["total"].as_i64()
        ),
        (Some(8_000), Some(2_500), Some(500), Some(11_000)),
        "{inquiry}"
    );
    assert_eq!(
        inquiry["details"]["periods"].as_array().map(Vec::len),
        Some(1)
    );
    let body = json!({"reference": "PLN-BILL-1", "inquiry_id": inquiry["id"]});
    let (status, paid) = app.post("demo", "/v1/bills/payments", &body).await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!(paid["status"], "success", "{paid}");
    assert!(paid["serial_number"].is_string(), "{paid}");
    let id = paid["id"].as_str().expect("id");
    // The same reference again, and the same inquiry under another reference: the first
    // payment, never a second one.
    let (status, again) = app.post("demo", "/v1/bills/payments", &body).await;
    assert_eq!(
        (status, again["code"].as_str(), again["id"].as_str()),
        (409, Some("reference_exists"), Some(id))
    );
    let (status, again) = app
        .post(
            "demo",
            "/v1/bills/payments",
            &json!({"reference": "PLN-BILL-2", "inquiry_id": inquiry["id"]}),
        )
        .await;
    assert_eq!(
        (status, again["code"].as_str(), again["id"].as_str()),
        (409, Some("inquiry_already_paid"), Some(id))
    );
    assert_eq!(app.digiflazz.calls("pay-pasca"), 1);
    // A postpaid product is never bought without its inquiry.
    let (status, problem) = buy(&app, "PLN-BILL-3", "pln", "530000000001").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("inquiry_required")),
        "{problem}"
    );
    events_reach(&app, id, &["bill.payment.success"]).await;
}
on_both_backends!(a_postpaid_bill_is_inquired_and_paid_once);

async fn concurrent_duplicates_buy_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = app.digiflazz.deposit();
    let body =
        json!({"reference": "RACE-1", "product_code": "xld10", "customer_no": "087800001230"});
    let answers =
        futures::future::join_all((0..5).map(|_| app.post("demo", "/v1/bills/payments", &body)))
            .await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let conflicts = answers.iter().filter(|(s, _)| *s == 409).count();
    assert_eq!((created, conflicts), (1, 4), "{answers:?}");
    assert_eq!(app.digiflazz.calls("topup"), 1);
    assert_eq!(app.digiflazz.transactions().len(), 1);
    assert_eq!(app.digiflazz.deposit(), before - 10_150);
}
on_both_backends!(concurrent_duplicates_buy_once);

async fn pending_then_webhook_success(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, pending) = buy(&app, "PULSA-1", "xld10", "087800001233").await;
    assert_eq!(status, 201, "{pending}");
    assert_eq!(pending["status"], "pending");
    let id = pending["id"].as_str().expect("id");
    let posted = app
        .digiflazz
        .settle(&ref_id_of(&app, id).await, true)
        .await
        .expect("settled");
    assert!(posted.iter().all(|p| p.status == 200), "{posted:?}");
    let done = bill_reaches(&app, id, "success").await;
    assert!(done["serial_number"].is_string(), "{done}");
    events_reach(&app, id, &["bill.payment.success"]).await;
    // The same webhook again changes nothing.
    const STORED: &str = "SELECT COUNT(*) FROM provider_events WHERE resource_id = $1";
    let stored = app.count(STORED, id).await;
    let again = app
        .digiflazz
        .webhook_for(&ref_id_of(&app, id).await)
        .expect("webhook");
    let response = app
        .http
        .post(again.url.clone().expect("url"))
        .headers(header_map(&again.headers))
        .body(again.body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(app.count(STORED, id).await, stored);
}
on_both_backends!(pending_then_webhook_success);

fn header_map(headers: &[(String, String)]) -> reqwest::header::HeaderMap {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(name.as_bytes()),
            reqwest::header::HeaderValue::from_str(value),
        ) {
            map.insert(n, v);
        }
    }
    map
}

async fn pending_without_webhook_is_settled_by_the_status_check(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.digiflazz.set_callback_policy(CallbackPolicy::Never);
    let (_, prepaid) = buy(&app, "PULSA-2", "xld10", "087800001234").await;
    assert_eq!(prepaid["status"], "pending", "{prepaid}");
    let prepaid_id = prepaid["id"].as_str().expect("id");
    let (_, inquiry) = app
        .post(
            "demo",
            "/v1/bills/inquiries",
            &json!({"product_code": "pln", "customer_no": "630000000001"}),
        )
        .await;
    let (_, postpaid) = app
        .post(
            "demo",
            "/v1/bills/payments",
            &json!({"reference": "PLN-PENDING-1", "inquiry_id": inquiry["id"]}),
        )
        .await;
    assert_eq!(postpaid["status"], "pending", "{postpaid}");
    let postpaid_id = postpaid["id"].as_str().expect("id");
    for (id, success) in [(prepaid_id, false), (postpaid_id, true)] {
        let posted = app
            .digiflazz
            .settle(&ref_id_of(&app, id).await, success)
            .await
            .expect("settled");
        assert!(posted.is_empty(), "no webhook: {posted:?}");
    }
    let failed = bill_reaches(&app, prepaid_id, "failed").await;
    assert!(failed["message"].is_string(), "{failed}");
    bill_reaches(&app, postpaid_id, "success").await;
    assert!(app.digiflazz.calls("status-pasca") >= 1);
    events_reach(&app, prepaid_id, &["bill.payment.failed"]).await;
    events_reach(&app, postpaid_id, &["bill.payment.success"]).await;
    // The status checks re-sent the prepaid ref_id: still one transaction.
    let prepaid_ref = ref_id_of(&app, prepaid_id).await;
    assert_eq!(
        app.digiflazz
            .transactions()
            .iter()
            .filter(|t| t.ref_id == prepaid_ref)
            .count(),
        1
    );
}
on_both_backends!(pending_without_webhook_is_settled_by_the_status_check);

async fn a_purchase_timing_out_is_never_bought_twice(backend: Backend) {
    let mut options = Options::new(backend);
    options.provider_timeout_ms = 400;
    let app = TestApp::spawn_with(options).await;
    let before = app.digiflazz.deposit();
    // No webhook either: only the status check can tell.
    app.digiflazz.set_callback_policy(CallbackPolicy::Never);
    app.digiflazz.faults().push(FaultRule::once(
        "topup",
        Fault::HangAfterEffect { ms: 1_200 },
    ));
    let (status, pending) = buy(&app, "SLOW-TOKEN-1", "pln50", "12345678901").await;
    assert_eq!(status, 201, "{pending}");
    assert_eq!(pending["status"], "pending", "{pending}");
    let id = pending["id"].as_str().expect("id");
    // The product retries with the same reference: the same payment, nothing sent.
    let (status, again) = buy(&app, "SLOW-TOKEN-1", "pln50", "12345678901").await;
    assert_eq!((status, again["id"].as_str()), (409, Some(id)));
    let done = bill_reaches(&app, id, "success").await;
    assert!(done["token"].is_string(), "{done}");
    let ref_id = ref_id_of(&app, id).await;
    assert_eq!(
        app.digiflazz
            .transactions()
            .iter()
            .filter(|t| t.ref_id == ref_id)
            .count(),
        1
    );
    assert_eq!(app.digiflazz.deposit(), before - 50_300);
}
on_both_backends!(a_purchase_timing_out_is_never_bought_twice);

async fn an_exhausted_deposit_is_refused_and_announced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.digiflazz.set_deposit(5_000);
    let (status, problem) = buy(&app, "NO-FLOAT-1", "pln20", "12345678901").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("biller_balance_insufficient")),
        "{problem}"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM bill_payments WHERE reference = $1",
            "NO-FLOAT-1"
        )
        .await,
        0
    );
    // The balance is read again, found low, and both clients routing to the biller told.
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.receiver
                .received()
                .iter()
                .any(|e| e.event_type == "biller.balance.low" && e.body["data"]["balance"] == 5_000)
                && app
                    .receiver2
                    .received()
                    .iter()
                    .any(|e| e.event_type == "biller.balance.low")
        })
        .await
    );
    // (The gauges are process-wide and other tests share the instance name: the unit test
    // `a_low_balance_is_announced_once_and_shows_in_the_metrics` checks them.)
    let balance = app
        .get_json("demo", "/v1/billers/digiflazz_main/balance")
        .await;
    assert_eq!(
        (balance["balance"].as_i64(), balance["low"].as_bool()),
        (Some(5_000), Some(true)),
        "{balance}"
    );
    // The same reference can be used once the deposit is topped up.
    app.digiflazz.set_deposit(1_000_000);
    let (status, paid) = buy(&app, "NO-FLOAT-1", "pln20", "12345678901").await;
    assert_eq!(
        (status, paid["status"].as_str()),
        (201, Some("success")),
        "{paid}"
    );
}
on_both_backends!(an_exhausted_deposit_is_refused_and_announced);

async fn forged_webhooks_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    const STORED: &str = "SELECT COUNT(*) FROM provider_events WHERE provider = $1";
    let (_, pending) = buy(&app, "PULSA-3", "xld10", "087800001233").await;
    let id = pending["id"].as_str().expect("id");
    // The biller's own `create` webhook for the booking may be in flight: count after it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored = app.count(STORED, "digiflazz_main").await;
    let ref_id = ref_id_of(&app, id).await;
    let body =
        json!({"data": {"ref_id": ref_id, "customer_no": "087800001233", "buyer_sku_code": "xld10",
        "message": "Transaksi Sukses", "status": "Sukses", "rc": "00", "sn": "FORGED", "price": 1}})
        .to_string();
    let url = format!("{}/v1/callbacks/digiflazz_main", app.base_url);
    for signature in [None, Some("sha1=0000000000000000000000000000000000000000")] {
        let mut request = app
            .http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-digiflazz-event", "update")
            .body(body.clone());
        if let Some(signature) = signature {
            request = request.header("x-hub-signature", signature);
        }
        let response = request.send().await.expect("send");
        assert_eq!(response.status(), 401);
    }
    // Signed with another secret.
    let wrong = hmac_sha1_hex(b"not-the-secret", body.as_bytes());
    let response = app
        .http
        .post(&url)
        .header("x-hub-signature", format!("sha1={wrong}"))
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bill(&app, id).await["status"], "pending");
    assert_eq!(app.count(STORED, "digiflazz_main").await, stored);
    // The right secret over the same body is taken (Digiflazz's own scheme).
    let right = hmac_sha1_hex(DIGIFLAZZ_WEBHOOK_SECRET.as_bytes(), body.as_bytes());
    let response = app
        .http
        .post(&url)
        .header("x-hub-signature", format!("sha1={right}"))
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    bill_reaches(&app, id, "success").await;
}
on_both_backends!(forged_webhooks_are_refused);

fn hmac_sha1_hex(key: &[u8], body: &[u8]) -> String {
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::sign::Signer;
    let key = PKey::hmac(key).expect("key");
    let mut signer = Signer::new(MessageDigest::sha1(), &key).expect("signer");
    signer.update(body).expect("update");
    signer
        .sign_to_vec()
        .expect("sign")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn another_client_sees_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, inquiry) = app
        .post(
            "demo",
            "/v1/bills/inquiries",
            &json!({"product_code": "pdam", "customer_no": "1013226"}),
        )
        .await;
    let (status, paid) = app
        .post(
            "demo",
            "/v1/bills/payments",
            &json!({"reference": "PDAM-1", "inquiry_id": inquiry["id"]}),
        )
        .await;
    assert_eq!(status, 201, "{paid}");
    let response = app
        .signed(
            "demo2",
            "GET",
            &format!("/v1/bills/payments/{}", paid["id"].as_str().expect("id")),
            None,
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 404);
    let (status, _) = app
        .post(
            "demo2",
            "/v1/bills/payments",
            &json!({"reference": "STEAL-1", "inquiry_id": inquiry["id"]}),
        )
        .await;
    assert_eq!(status, 404);
    let list = app.get_json("demo2", "/v1/bills/payments").await;
    assert_eq!(list["data"], json!([]));
    let (status, problem) = app
        .post(
            "demo",
            "/v1/bills/payments",
            &json!({"reference": "BAD-1", "inquiry_id": inquiry["id"], "product_code": "pln20", "customer_no": "1"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("validation_failed")),
        "{problem}"
    );
}
on_both_backends!(another_client_sees_nothing);

async fn a_day_is_reconciled_by_category(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // matched
    let (_, matched) = buy(&app, "REC-MATCHED", "xld10", "087800001230").await;
    assert_eq!(matched["status"], "success", "{matched}");
    // amount mismatch: the biller's record later says another price.
    let (_, priced) = buy(&app, "REC-AMOUNT", "tsel5", "081234567890").await;
    app.digiflazz
        .set_price(
            &ref_id_of(&app, priced["id"].as_str().expect("id")).await,
            9_999,
        )
        .expect("repriced");
    // status mismatch: refunded at the biller, and the gateway never told.
    app.digiflazz.set_callback_policy(CallbackPolicy::Never);
    let (_, refunded) = buy(&app, "REC-STATUS", "xld10", "087811112222").await;
    app.digiflazz
        .refund(&ref_id_of(&app, refunded["id"].as_str().expect("id")).await)
        .await
        .expect("refunded");
    // missing at the biller: a postpaid bill the biller later has no record of.
    let (_, inquiry) = app
        .post(
            "demo",
            "/v1/bills/inquiries",
            &json!({"product_code": "bpjs", "customer_no": "8801234560001"}),
        )
        .await;
    let (_, lost) = app
        .post(
            "demo",
            "/v1/bills/payments",
            &json!({"reference": "REC-LOST", "inquiry_id": inquiry["id"]}),
        )
        .await;
    assert_eq!(lost["status"], "success", "{lost}");
    app.digiflazz
        .forget(&ref_id_of(&app, lost["id"].as_str().expect("id")).await)
        .expect("forgotten");
    // missing at the gateway: a transaction someone else made with our account.
    app.digiflazz.set_callback_policy(CallbackPolicy::Once);
    let posted = app
        .digiflazz
        .foreign("FOREIGN0000000000000000001", "xld10", "087812345678")
        .await
        .expect("foreign");
    assert!(posted.iter().all(|p| p.status == 200), "{posted:?}");
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::UtcOffset::from_hms(7, 0, 0).expect("WIB"))
        .date()
        .to_string();
    let (status, report) = app
        .post(
            "demo",
            "/v1/reconciliations",
            &json!({"biller": "digiflazz_main", "date": today}),
        )
        .await;
    assert_eq!(status, 201, "{report}");
    let counts = &report["summary"]["counts"];
    assert_eq!(
        counts,
        &json!({"matched": 1, "missing_at_gateway": 1, "missing_at_biller": 1,
            "amount_mismatch": 1, "status_mismatch": 1, "unchecked": 0}),
        "{report}"
    );
    let by_category = |category: &str| -> Vec<Value> {
        report["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| i["category"] == category)
            .cloned()
            .collect()
    };
    assert_eq!(by_category("status_mismatch")[0]["reference"], "REC-STATUS");
    assert_eq!(by_category("status_mismatch")[0]["biller_status"], "failed");
    assert_eq!(by_category("amount_mismatch")[0]["biller_cost"], 9_999);
    assert_eq!(by_category("missing_at_biller")[0]["reference"], "REC-LOST");
    assert_eq!(
        by_category("missing_at_gateway")[0]["ref_id"],
        "FOREIGN0000000000000000001"
    );
    let id = report["id"].as_str().expect("id");
    let stored = app
        .get_json("demo", &format!("/v1/reconciliations/{id}"))
        .await;
    assert_eq!(stored["summary"], report["summary"]);
    let csv = app
        .signed(
            "demo",
            "GET",
            &format!("/v1/reconciliations/{id}/csv"),
            None,
        )
        .send()
        .await
        .expect("send");
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/csv"))
    );
    let text = csv.text().await.expect("csv");
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("status_mismatch,") && l.contains("REC-STATUS"))
    );
    // Another client cannot read it.
    let response = app
        .signed("demo2", "GET", &format!("/v1/reconciliations/{id}"), None)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 404);
}
on_both_backends!(a_day_is_reconciled_by_category);

async fn the_operators_report_shows_the_balance_drift(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, first) = buy(&app, "DRIFT-1", "xld10", "087800001230").await;
    assert_eq!(first["status"], "success", "{first}");
    // Someone else spends from our deposit between two of our purchases.
    app.digiflazz
        .foreign("FOREIGN0000000000000000002", "tsel5", "081299990000")
        .await
        .expect("foreign");
    let (_, second) = buy(&app, "DRIFT-2", "pln20", "12345678901").await;
    assert_eq!(second["status"], "success", "{second}");
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::UtcOffset::from_hms(7, 0, 0).expect("WIB"))
        .date();
    let report = gateway::service::bills::reconcile::run(&app.state, None, "digiflazz_main", today)
        .await
        .expect("report");
    let balance = &report.summary["balance"];
    assert_eq!(balance["spent"], 10_150 + 20_300, "{balance}");
    // The foreign purchase is the drift: the deposit fell by more than our successes.
    assert_eq!(balance["drift"], -5_250, "{balance}");
    assert_eq!(report.summary["counts"]["matched"], 2, "{}", report.summary);
    assert_eq!(
        report.summary["counts"]["missing_at_gateway"], 1,
        "{}",
        report.summary
    );
    assert!(report.client_id.is_none());
}
on_both_backends!(the_operators_report_shows_the_balance_drift);
