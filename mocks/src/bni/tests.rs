use serde_json::{Value, json};
use time::OffsetDateTime;

use super::*;
use crate::faults::{Fault, FaultRule};
use crate::test_support::{Catcher, post_json};

const CID: &str = "123";
const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn simulator() -> BniSimulator {
    BniSimulator::new(BniConfig::new(CID, SECRET))
}

fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn envelope(payload: &Value, secret: &str, ts: i64) -> String {
    let data = crypto::encrypt(CID, secret, &crypto::ascii_json(payload), ts);
    json!({ "client_id": CID, "prefix": "8", "data": data }).to_string()
}

/// Posts `payload` encrypted as a client would; returns the outer answer.
async fn call(sim: &BniSimulator, payload: Value) -> Value {
    let body = envelope(&payload, SECRET, unix_now());
    let (status, answer) = post_json(sim.router(), "/", Some("application/json"), body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Posts `payload`, expects `000` and returns the decrypted `data`.
async fn call_ok(sim: &BniSimulator, payload: Value) -> Value {
    let answer = call(sim, payload).await;
    assert_eq!(answer["status"], "000", "{answer}");
    let data = answer["data"].as_str().expect("data");
    crypto::decrypt(CID, SECRET, data, unix_now(), 300).expect("answer decrypts")
}

async fn status_of(sim: &BniSimulator, payload: Value) -> String {
    let answer = call(sim, payload).await;
    assert!(answer.get("data").is_none() || answer["status"] == "000");
    answer["status"].as_str().expect("status").to_owned()
}

fn in_a_day() -> String {
    wib::spaced(wib::now() + time::Duration::days(1))
}

fn create(trx_id: &str, amount: &str, billing_type: &str) -> Value {
    json!({
        "type": "createbilling",
        "client_id": CID,
        "trx_id": trx_id,
        "trx_amount": amount,
        "billing_type": billing_type,
        "customer_name": "Budi",
        "customer_email": "budi@example.com",
        "customer_phone": "08123456789",
        "datetime_expired": in_a_day(),
        "description": "Test",
    })
}

fn with(mut payload: Value, key: &str, value: Value) -> Value {
    payload[key] = value;
    payload
}

fn without(mut payload: Value, key: &str) -> Value {
    if let Some(fields) = payload.as_object_mut() {
        fields.remove(key);
    }
    payload
}

fn inquiry(trx_id: &str) -> Value {
    json!({ "type": "inquirybilling", "client_id": CID, "trx_id": trx_id })
}

fn update(trx_id: &str, amount: &str) -> Value {
    json!({
        "type": "updatebilling",
        "client_id": CID,
        "trx_id": trx_id,
        "trx_amount": amount,
        "customer_name": "Budi Santoso",
        "datetime_expired": in_a_day(),
    })
}

fn deactivate(trx_id: &str) -> Value {
    json!({ "type": "inactivebilling", "client_id": CID, "trx_id": trx_id })
}

#[tokio::test]
async fn create_generates_a_va_and_inquiry_reports_every_field_as_text() {
    let sim = simulator();
    let created = call_ok(&sim, create("INV-1", "150000", "c")).await;
    let va = created["virtual_account"].as_str().expect("va").to_owned();
    assert_eq!(created["trx_id"], "INV-1");
    assert_eq!(va.len(), 16);
    assert!(
        va.starts_with("8123") && va.bytes().all(|b| b.is_ascii_digit()),
        "{va}"
    );

    let data = call_ok(&sim, inquiry("INV-1")).await;
    let fields = data.as_object().expect("object");
    for key in [
        "client_id",
        "trx_id",
        "trx_amount",
        "virtual_account",
        "customer_name",
        "customer_email",
        "customer_phone",
        "description",
        "billing_type",
        "va_status",
        "payment_amount",
        "payment_ntb",
        "datetime_created",
        "datetime_expired",
        "datetime_last_updated",
        "datetime_payment",
        "datetime_created_iso8601",
        "datetime_expired_iso8601",
        "datetime_last_updated_iso8601",
        "datetime_payment_iso8601",
    ] {
        let value = fields.get(key).unwrap_or_else(|| panic!("{key} missing"));
        assert!(value.is_string() || value.is_null(), "{key} = {value}");
    }
    assert_eq!(data["client_id"], CID);
    assert_eq!(data["trx_amount"], "150000");
    assert_eq!(data["virtual_account"], va.as_str());
    assert_eq!(data["billing_type"], "c");
    assert_eq!(data["va_status"], "1");
    assert_eq!(data["payment_amount"], "0");
    assert_eq!(data["payment_ntb"], Value::Null);
    assert_eq!(data["datetime_payment"], Value::Null);
    let created_at = data["datetime_created_iso8601"].as_str().expect("iso");
    assert!(created_at.ends_with("+07:00"), "{created_at}");
    let expired = data["datetime_expired"].as_str().expect("expiry");
    assert_eq!((expired.len(), &expired[10..11]), (19, " "), "{expired}");
    assert_eq!(sim.calls("createbilling"), 1);
    assert_eq!(sim.calls("inquirybilling"), 1);
}

#[tokio::test]
async fn the_988_layout_pads_the_client_id_to_five_digits() {
    let config = BniConfig {
        prefix: "988".to_owned(),
        ..BniConfig::new("244", SECRET)
    };
    assert_eq!(config.va_head(), "98800244");
    let eight = BniConfig::new("1", SECRET);
    assert_eq!(eight.va_head(), "8001");
}

#[tokio::test]
async fn envelope_errors_use_bni_codes() {
    let sim = simulator();
    let body = envelope(&create("INV-1", "1000", "c"), SECRET, unix_now());
    let router = || sim.router();
    let (_, answer) = post_json(router(), "/", None, body.clone()).await;
    assert_eq!(answer["status"], "998");
    let (_, answer) = post_json(router(), "/", Some("text/plain"), body.clone()).await;
    assert_eq!(answer["status"], "998");
    let (_, answer) = post_json(router(), "/", Some("Application/JSON; charset=utf-8"), body).await;
    assert_eq!(answer["status"], "000", "{answer}");

    let wrong_client = json!({ "client_id": "999", "data": "x" }).to_string();
    let (_, answer) = post_json(router(), "/", Some("application/json"), wrong_client).await;
    assert_eq!(answer["status"], "002");
    assert_eq!(
        answer["message"],
        "IP address not allowed or wrong Client ID"
    );
    let (_, answer) = post_json(router(), "/", Some("application/json"), "{".to_owned()).await;
    assert_eq!(answer["status"], "001");
    let no_data = json!({ "client_id": CID }).to_string();
    let (_, answer) = post_json(router(), "/", Some("application/json"), no_data).await;
    assert_eq!(answer["status"], "001");
}

#[tokio::test]
async fn undecryptable_or_stale_data_gets_999_and_reaches_nothing() {
    let sim = simulator();
    let payload = create("INV-1", "1000", "c");
    let wrong_secret = envelope(&payload, "ffffffffffffffffffffffffffffffff", unix_now());
    let stale = envelope(&payload, SECRET, unix_now() - 301);
    for body in [wrong_secret, stale] {
        let (status, answer) = post_json(sim.router(), "/", Some("application/json"), body).await;
        assert_eq!(status, 200);
        assert_eq!(answer["status"], "999");
        assert!(answer.get("data").is_none());
    }
    assert_eq!(sim.calls("createbilling"), 0);
    assert!(sim.billing("INV-1").is_none());
}

#[tokio::test]
async fn the_inner_client_id_must_match_too() {
    let sim = simulator();
    let payload = with(create("INV-1", "1000", "c"), "client_id", json!("999"));
    assert_eq!(status_of(&sim, payload).await, "002");
}

#[tokio::test]
async fn missing_required_fields_are_001() {
    let sim = simulator();
    for key in [
        "trx_id",
        "trx_amount",
        "billing_type",
        "customer_name",
        "client_id",
    ] {
        let payload = without(create("INV-1", "1000", "c"), key);
        assert_eq!(status_of(&sim, payload).await, "001", "without {key}");
    }
    let blank = with(create("INV-1", "1000", "c"), "customer_name", json!(" "));
    assert_eq!(status_of(&sim, blank).await, "001");
    let long_id = with(
        create("INV-1", "1000", "c"),
        "trx_id",
        json!("X".repeat(31)),
    );
    assert_eq!(status_of(&sim, long_id).await, "001");
    assert!(sim.billings().is_empty());
}

#[tokio::test]
async fn a_trx_id_is_unique_for_ever() {
    let sim = simulator();
    call_ok(&sim, create("INV-1", "1000", "c")).await;
    assert_eq!(status_of(&sim, create("INV-1", "1000", "c")).await, "105");
    sim.expire("INV-1").expect("exists");
    assert_eq!(status_of(&sim, create("INV-1", "2000", "c")).await, "105");
    assert_eq!(sim.billings().len(), 1);
}

#[tokio::test]
async fn a_given_va_must_be_well_formed_and_free() {
    let sim = simulator();
    let own = |trx: &str, va: &str| with(create(trx, "1000", "c"), "virtual_account", json!(va));
    let created = call_ok(&sim, own("INV-1", "8123000000000001")).await;
    assert_eq!(created["virtual_account"], "8123000000000001");
    assert_eq!(
        status_of(&sim, own("INV-2", "8123000000000001")).await,
        "102"
    );
    assert_eq!(
        status_of(&sim, own("INV-3", "8999000000000001")).await,
        "006"
    );
    assert_eq!(
        status_of(&sim, own("INV-4", "812300000000001")).await,
        "006"
    );
    assert_eq!(
        status_of(&sim, own("INV-5", "81230000000000a1")).await,
        "006"
    );
    // Once the first billing is inactive its number may be used again.
    call_ok(&sim, deactivate("INV-1")).await;
    call_ok(&sim, own("INV-6", "8123000000000001")).await;
}

#[tokio::test]
async fn amounts_must_be_whole_rupiah() {
    let sim = simulator();
    let amount = |value: Value| with(create("INV-1", "0", "c"), "trx_amount", value);
    assert_eq!(status_of(&sim, amount(json!("150000.00"))).await, "013");
    assert_eq!(status_of(&sim, amount(json!(150000.5))).await, "013");
    assert_eq!(status_of(&sim, amount(json!("15o000"))).await, "001");
    assert_eq!(status_of(&sim, amount(json!("-1"))).await, "001");
    assert_eq!(
        status_of(&sim, amount(json!("123456789012345"))).await,
        "001"
    );
    let created = call_ok(&sim, amount(json!(150000))).await;
    assert_eq!(created["trx_id"], "INV-1");
}

#[tokio::test]
async fn billing_types_and_their_amounts_are_checked() {
    let sim = simulator();
    assert_eq!(status_of(&sim, create("INV-1", "1000", "o")).await, "011");
    assert_eq!(status_of(&sim, create("INV-1", "0", "c")).await, "011");
    assert_eq!(status_of(&sim, create("INV-1", "1000", "q")).await, "016");
    assert_eq!(status_of(&sim, create("INV-1", "1000", "j")).await, "801");
    call_ok(&sim, create("INV-O", "0", "o")).await;
    for (trx, kind) in [
        ("INV-I", "i"),
        ("INV-M", "m"),
        ("INV-N", "n"),
        ("INV-X", "x"),
    ] {
        call_ok(&sim, create(trx, "1000", kind)).await;
    }
    assert_eq!(sim.billings().len(), 5);
}

#[tokio::test]
async fn expiry_accepts_both_forms_and_refuses_nonsense_and_the_past() {
    let sim = simulator();
    let expiring =
        |trx: &str, at: &str| with(create(trx, "1000", "c"), "datetime_expired", json!(at));
    let iso = wib::iso(wib::now() + time::Duration::hours(2));
    call_ok(&sim, expiring("INV-ISO", &iso)).await;
    let billing = sim.billing("INV-ISO").expect("created");
    assert_eq!(billing.expires_at.as_deref(), Some(iso.as_str()));
    call_ok(&sim, expiring("INV-SPACED", &in_a_day())).await;
    assert_eq!(
        status_of(&sim, expiring("INV-1", "2030-02-30 10:00:00")).await,
        "012"
    );
    assert_eq!(status_of(&sim, expiring("INV-1", "soon")).await, "012");
    assert_eq!(
        status_of(&sim, expiring("INV-1", "2020-01-01 10:00:00")).await,
        "012"
    );
}

#[tokio::test]
async fn the_type_is_case_insensitive_and_unknown_types_are_004() {
    let sim = simulator();
    call_ok(
        &sim,
        with(create("INV-1", "1000", "c"), "type", json!("createBilling")),
    )
    .await;
    assert_eq!(sim.calls("CREATEBILLING"), 1);
    let unknown = with(inquiry("INV-1"), "type", json!("deletebilling"));
    assert_eq!(status_of(&sim, unknown).await, "004");
}

#[tokio::test]
async fn non_ascii_names_survive_the_round_trip() {
    let sim = simulator();
    let payload = with(
        create("INV-1", "1000", "c"),
        "customer_name",
        json!("José Ñandú"),
    );
    call_ok(&sim, payload).await;
    let data = call_ok(&sim, inquiry("INV-1")).await;
    assert_eq!(data["customer_name"], "José Ñandú");
}

#[tokio::test]
async fn answers_are_encrypted_with_a_fresh_timestamp() {
    let sim = simulator();
    let answer = call(&sim, create("INV-1", "1000", "c")).await;
    let (ts, _) = crypto::open(CID, SECRET, answer["data"].as_str().expect("data")).expect("opens");
    assert!((ts - unix_now()).abs() <= 2, "{ts}");
}

#[tokio::test]
async fn update_changes_the_billing_and_blanks_what_it_omits() {
    let sim = simulator();
    call_ok(&sim, create("INV-1", "1000", "c")).await;
    let updated = call_ok(&sim, update("INV-1", "2500")).await;
    assert_eq!(updated["trx_id"], "INV-1");
    let data = call_ok(&sim, inquiry("INV-1")).await;
    assert_eq!(data["trx_amount"], "2500");
    assert_eq!(data["customer_name"], "Budi Santoso");
    assert_eq!(data["customer_email"], Value::Null);
    assert_eq!(data["customer_phone"], Value::Null);
    assert_eq!(data["description"], Value::Null);
    call_ok(&sim, without(update("INV-1", "2500"), "datetime_expired")).await;
    assert_eq!(sim.billing("INV-1").expect("exists").expires_at, None);
    assert_eq!(status_of(&sim, update("INV-404", "1")).await, "101");
    assert_eq!(status_of(&sim, update("INV-1", "25.5")).await, "013");
    assert_eq!(
        status_of(&sim, without(update("INV-1", "1"), "customer_name")).await,
        "001"
    );
}

#[tokio::test]
async fn update_is_refused_once_paid_or_expired_or_below_what_was_paid() {
    let sim = simulator();
    call_ok(&sim, create("INV-PAID", "1000", "c")).await;
    call_ok(&sim, create("INV-OLD", "1000", "c")).await;
    call_ok(&sim, create("INV-PART", "1000", "i")).await;
    sim.pay_with("INV-PAID", 1000, CallbackOptions::repeated(0, false))
        .await
        .expect("pays");
    sim.pay_with("INV-PART", 600, CallbackOptions::repeated(0, false))
        .await
        .expect("pays");
    sim.expire("INV-OLD").expect("exists");
    assert_eq!(status_of(&sim, update("INV-PAID", "2000")).await, "100");
    assert_eq!(status_of(&sim, update("INV-OLD", "2000")).await, "103");
    assert_eq!(status_of(&sim, update("INV-PART", "500")).await, "107");
    call_ok(&sim, update("INV-PART", "600")).await;
    assert_eq!(
        sim.billing("INV-PART").expect("exists").state,
        BillingState::Paid
    );
}

#[tokio::test]
async fn deactivated_billings_are_inactive_and_take_no_payment() {
    let sim = simulator();
    assert_eq!(status_of(&sim, deactivate("INV-404")).await, "101");
    let created = call_ok(&sim, create("INV-1", "1000", "c")).await;
    let wrong_va = with(
        deactivate("INV-1"),
        "virtual_account",
        json!("8123999999999999"),
    );
    assert_eq!(status_of(&sim, wrong_va).await, "006");
    let right_va = with(
        deactivate("INV-1"),
        "virtual_account",
        created["virtual_account"].clone(),
    );
    call_ok(&sim, right_va).await;
    call_ok(&sim, deactivate("INV-1")).await;
    assert_eq!(call_ok(&sim, inquiry("INV-1")).await["va_status"], "2");
    assert_eq!(status_of(&sim, update("INV-1", "1000")).await, "103");
    let refused = sim
        .pay_with("INV-1", 1000, CallbackOptions::repeated(0, false))
        .await;
    assert!(
        matches!(
            refused,
            Err(SimError::NotPayable {
                state: "inactive",
                ..
            })
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_expired_billing_is_inactive_and_refuses_payment() {
    let sim = simulator();
    call_ok(&sim, create("INV-1", "1000", "c")).await;
    sim.expire("INV-1").expect("exists");
    assert_eq!(call_ok(&sim, inquiry("INV-1")).await["va_status"], "2");
    assert_eq!(status_of(&sim, deactivate("INV-1")).await, "103");
    let refused = sim
        .pay_with("INV-1", 1000, CallbackOptions::repeated(0, false))
        .await;
    assert!(
        matches!(
            refused,
            Err(SimError::NotPayable {
                state: "expired",
                ..
            })
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn sms_billing_needs_fixed_type_and_an_628_phone() {
    let sim = simulator();
    let sms = |kind: &str, phone: &str| {
        let payload = with(
            create("INV-SMS", "1000", kind),
            "type",
            json!("createbillingsms"),
        );
        with(payload, "customer_phone", json!(phone))
    };
    assert_eq!(status_of(&sim, sms("i", "628123")).await, "201");
    assert_eq!(status_of(&sim, sms("c", "08123")).await, "001");
    call_ok(&sim, sms("c", "628123")).await;
}

#[tokio::test]
async fn faults_answer_without_effect_unless_told_otherwise() {
    let sim = simulator();
    let faults = sim.faults();
    faults.push(FaultRule::once(
        "createbilling",
        Fault::Status { code: 500 },
    ));
    faults.push(FaultRule::once("createbilling", Fault::Down));
    faults.push(FaultRule::once("createbilling", Fault::Malformed));
    faults.push(FaultRule::once(
        "createbilling",
        Fault::HangBeforeEffect { ms: 10 },
    ));
    let body = || envelope(&create("INV-1", "1000", "c"), SECRET, unix_now());
    for expected in [500, 503, 200, 504] {
        let (status, answer) = post_json(sim.router(), "/", Some("application/json"), body()).await;
        assert_eq!(status, expected);
        assert!(answer.is_string(), "a faulty answer is not JSON: {answer}");
    }
    assert_eq!(sim.calls("createbilling"), 0);
    assert!(sim.billing("INV-1").is_none());
    call_ok(&sim, create("INV-1", "1000", "c")).await;
    assert_eq!(sim.calls("createbilling"), 1);
}

#[tokio::test]
async fn a_hang_after_effect_creates_the_billing_before_answering_late() {
    let sim = simulator();
    sim.faults().push(FaultRule::once(
        "createbilling",
        Fault::HangAfterEffect { ms: 5_000 },
    ));
    let running = sim
        .spawn(crate::server::any_local_port())
        .await
        .expect("bind");
    let body = envelope(&create("INV-1", "1000", "c"), SECRET, unix_now());
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(500))
        .build()
        .expect("client");
    let sent = client
        .post(&running.base_url)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await;
    assert!(sent.is_err_and(|err| err.is_timeout()));
    assert!(
        sim.billing("INV-1").is_some(),
        "the effect exists despite the timeout"
    );
    assert_eq!(status_of(&sim, create("INV-1", "1000", "c")).await, "105");
    assert_eq!(call_ok(&sim, inquiry("INV-1")).await["trx_id"], "INV-1");
}

#[tokio::test]
async fn latency_delays_then_acts() {
    let sim = simulator();
    sim.faults()
        .push(FaultRule::once("inquirybilling", Fault::Latency { ms: 50 }));
    call_ok(&sim, create("INV-1", "1000", "c")).await;
    let started = std::time::Instant::now();
    call_ok(&sim, inquiry("INV-1")).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(50));
}

fn decrypt_callback(body: &str, secret: &str) -> Result<Value, crypto::CryptoError> {
    let outer: Value = serde_json::from_str(body).expect("callback envelope is JSON");
    assert_eq!(outer["client_id"], CID);
    crypto::decrypt(
        CID,
        secret,
        outer["data"].as_str().expect("data"),
        unix_now(),
        300,
    )
}

#[tokio::test]
async fn pay_posts_the_encrypted_callback_and_closes_a_fixed_billing() {
    let sim = simulator();
    let (catcher, url, _server) = Catcher::spawn(r#"{"status":"000"}"#).await;
    sim.set_callback_url(url);
    let created = call_ok(&sim, create("INV-1", "150000", "c")).await;
    let va = created["virtual_account"].as_str().expect("va");
    let outcome = sim.pay(va, 150_000).await.expect("paid");
    assert_eq!(
        outcome,
        CallbackOutcome {
            status: 200,
            body: r#"{"status":"000"}"#.to_owned()
        }
    );

    let caught = catcher.caught();
    assert_eq!(caught.len(), 1);
    assert_eq!(caught[0].content_type, "application/json");
    let callback = decrypt_callback(&caught[0].body, SECRET).expect("decrypts");
    for key in [
        "trx_id",
        "virtual_account",
        "customer_name",
        "trx_amount",
        "payment_amount",
        "cumulative_payment_amount",
        "payment_ntb",
        "datetime_payment",
        "datetime_payment_iso8601",
    ] {
        assert!(callback[key].is_string(), "{key} = {}", callback[key]);
    }
    assert_eq!(callback["trx_id"], "INV-1");
    assert_eq!(callback["virtual_account"], va);
    assert_eq!(callback["payment_amount"], "150000");
    assert_eq!(callback["cumulative_payment_amount"], "150000");

    let data = call_ok(&sim, inquiry("INV-1")).await;
    assert_eq!(data["va_status"], "2");
    assert_eq!(data["payment_amount"], "150000");
    assert_eq!(data["payment_ntb"], callback["payment_ntb"]);
    assert_eq!(data["datetime_payment"], callback["datetime_payment"]);
    let again = sim.pay(va, 150_000).await;
    assert!(
        matches!(again, Err(SimError::NotPayable { state: "paid", .. })),
        "{again:?}"
    );
}

#[tokio::test]
async fn payments_follow_the_billing_type_rules() {
    let sim = simulator();
    for (trx, amount, kind) in [
        ("C", "1000", "c"),
        ("I", "1000", "i"),
        ("M", "1000", "m"),
        ("N", "1000", "n"),
        ("X", "1000", "x"),
        ("O", "0", "o"),
    ] {
        call_ok(&sim, create(trx, amount, kind)).await;
    }
    let silent = || CallbackOptions::repeated(0, false);
    let pay = |trx: &'static str, amount: i64| {
        let sim = sim.clone();
        async move { sim.pay_with(trx, amount, silent()).await.map(|_| ()) }
    };
    assert!(pay("C", 999).await.is_err());
    assert!(pay("I", 1001).await.is_err());
    pay("I", 400).await.expect("partial");
    pay("I", 600).await.expect("rest");
    assert_eq!(sim.billing("I").expect("exists").state, BillingState::Paid);
    assert!(pay("M", 999).await.is_err());
    pay("M", 5000).await.expect("over minimum");
    assert_eq!(sim.billing("M").expect("exists").state, BillingState::Paid);
    pay("N", 1000).await.expect("n");
    pay("N", 2000).await.expect("n again");
    assert!(pay("N", 10).await.is_err());
    pay("X", 1000).await.expect("x");
    assert!(pay("X", 1001).await.is_err());
    pay("O", 7).await.expect("o");
    pay("O", 70_000).await.expect("o again");
    let open = sim.billing("O").expect("exists");
    assert_eq!(
        (open.state, open.payment_amount),
        (BillingState::Active, 70_007)
    );
    assert!(pay("O", 0).await.is_err());
    assert!(matches!(pay("NOPE", 1).await, Err(SimError::NotFound(_))));
}

#[tokio::test]
async fn every_payment_has_its_own_ntb_and_a_cumulative_amount() {
    let sim = simulator();
    let (catcher, url, _server) = Catcher::spawn(r#"{"status":"000"}"#).await;
    sim.set_callback_url(url);
    call_ok(&sim, create("INV-1", "1000", "i")).await;
    sim.pay("INV-1", 300).await.expect("first");
    sim.pay("INV-1", 700).await.expect("second");
    let callbacks: Vec<Value> = catcher
        .caught()
        .iter()
        .map(|c| decrypt_callback(&c.body, SECRET).expect("decrypts"))
        .collect();
    assert_eq!(callbacks[0]["cumulative_payment_amount"], "300");
    assert_eq!(callbacks[1]["payment_amount"], "700");
    assert_eq!(callbacks[1]["cumulative_payment_amount"], "1000");
    assert_ne!(callbacks[0]["payment_ntb"], callbacks[1]["payment_ntb"]);
    assert_eq!(
        call_ok(&sim, inquiry("INV-1")).await["payment_ntb"],
        callbacks[1]["payment_ntb"]
    );
}

#[tokio::test]
async fn pay_with_posts_identical_duplicates_concurrently() {
    let sim = simulator();
    let (catcher, url, _server) = Catcher::spawn(r#"{"status":"000"}"#).await;
    sim.set_callback_url(url);
    call_ok(&sim, create("INV-1", "1000", "c")).await;
    let outcomes = sim
        .pay_with("INV-1", 1000, CallbackOptions::repeated(3, true))
        .await
        .expect("paid");
    assert_eq!(outcomes.len(), 3);
    let caught = catcher.caught();
    assert_eq!(caught.len(), 3);
    assert!(caught.iter().all(|c| c.body == caught[0].body));
    assert_eq!(sim.billing("INV-1").expect("exists").payments.len(), 1);
}

#[tokio::test]
async fn tampered_callbacks_cannot_be_read_as_genuine() {
    let sim = simulator();
    let (catcher, url, _server) = Catcher::spawn("{}").await;
    sim.set_callback_url(url);
    for (trx, tamper) in [
        ("A", Tamper::FlipByte),
        ("B", Tamper::WrongKey),
        ("C", Tamper::StaleTimestamp),
    ] {
        call_ok(&sim, create(trx, "1000", "c")).await;
        sim.pay_with(trx, 1000, CallbackOptions::tampered(tamper))
            .await
            .expect("posted");
    }
    let results: Vec<_> = catcher
        .caught()
        .iter()
        .map(|c| decrypt_callback(&c.body, SECRET))
        .collect();
    assert!(
        matches!(results[0], Err(crypto::CryptoError::Json(_))),
        "{:?}",
        results[0]
    );
    assert_eq!(results[1], Err(crypto::CryptoError::NoTimestamp));
    assert!(
        matches!(results[2], Err(crypto::CryptoError::Stale { .. })),
        "{:?}",
        results[2]
    );
}

#[tokio::test]
async fn out_of_order_posts_the_later_payment_first_and_redelivery_repeats_the_last() {
    let sim = simulator();
    let (catcher, url, _server) = Catcher::spawn(r#"{"status":"000"}"#).await;
    sim.set_callback_url(url);
    call_ok(&sim, create("INV-1", "1000", "i")).await;
    let outcomes = sim
        .pay_out_of_order("INV-1", &[400, 600])
        .await
        .expect("paid");
    assert_eq!(outcomes.len(), 2);
    sim.redeliver_last("INV-1").await.expect("redelivered");
    let callbacks: Vec<Value> = catcher
        .caught()
        .iter()
        .map(|c| decrypt_callback(&c.body, SECRET).expect("decrypts"))
        .collect();
    assert_eq!(callbacks.len(), 3);
    assert_eq!(callbacks[0]["cumulative_payment_amount"], "1000");
    assert_eq!(callbacks[1]["cumulative_payment_amount"], "400");
    assert_eq!(callbacks[2], callbacks[0]);
}

#[tokio::test]
async fn acting_without_a_callback_url_is_an_error_before_anything_is_recorded() {
    let sim = simulator();
    call_ok(&sim, create("INV-1", "1000", "c")).await;
    assert!(matches!(
        sim.pay("INV-1", 1000).await,
        Err(SimError::NoCallbackUrl)
    ));
    assert!(sim.billing("INV-1").expect("exists").payments.is_empty());
    assert!(matches!(
        sim.redeliver_last("INV-1").await,
        Err(SimError::NoCallbackUrl)
    ));
}

#[tokio::test]
async fn a_refused_delivery_is_reported_but_the_payment_stands() {
    let sim = simulator();
    sim.set_callback_url("http://127.0.0.1:9/nothing-listens-here");
    call_ok(&sim, create("INV-1", "1000", "c")).await;
    assert!(matches!(
        sim.pay("INV-1", 1000).await,
        Err(SimError::Delivery(_))
    ));
    assert_eq!(
        sim.billing("INV-1").expect("exists").state,
        BillingState::Paid
    );
}

#[test]
fn config_reads_from_json_with_defaults_and_hides_the_secret() {
    let config: BniConfig =
        serde_json::from_str(r#"{"client_id":"123","secret_key":"s3cr3t"}"#).expect("config");
    assert_eq!(config.prefix, "8");
    assert_eq!(config.timestamp_window_secs, 300);
    assert!(!format!("{config:?}").contains("s3cr3t"));
}
