use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use super::*;
use crate::faults::{Fault, FaultRule};
use crate::test_support::post_json;

mod reference;

const USER: &str = "demo-user";
const KEY: &str = "dev-0000-key";
const SECRET: &str = "whsecret";

/// Pending transactions wait for `settle` unless a test sets a timer.
fn config() -> DigiflazzConfig {
    let mut config = DigiflazzConfig::new(USER, KEY, SECRET);
    config.pending_after = Duration::ZERO;
    config
}

fn simulator() -> DigiflazzSimulator {
    DigiflazzSimulator::new(config())
}

async fn call(sim: &DigiflazzSimulator, path: &str, body: &Value) -> (StatusCode, Value) {
    post_json(
        sim.router(),
        path,
        Some("application/json"),
        body.to_string(),
    )
    .await
}

/// The `data` of an HTTP 200 answer.
async fn data(sim: &DigiflazzSimulator, path: &str, body: &Value) -> Value {
    let (status, answer) = call(sim, path, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["data"].clone()
}

fn topup(ref_id: &str, sku: &str, customer_no: &str) -> Value {
    json!({
        "username": USER, "buyer_sku_code": sku, "customer_no": customer_no,
        "ref_id": ref_id, "sign": sign(USER, KEY, ref_id), "testing": true,
    })
}

fn command(command: &str, ref_id: &str, sku: &str, customer_no: &str) -> Value {
    let mut body = topup(ref_id, sku, customer_no);
    body["commands"] = json!(command);
    body
}

async fn buy(sim: &DigiflazzSimulator, ref_id: &str, sku: &str, customer_no: &str) -> Value {
    data(sim, TRANSACTION_PATH, &topup(ref_id, sku, customer_no)).await
}

async fn run(sim: &DigiflazzSimulator, verb: &str, ref_id: &str, sku: &str, no: &str) -> Value {
    data(sim, TRANSACTION_PATH, &command(verb, ref_id, sku, no)).await
}

fn price_of(sku: &str) -> i64 {
    default_products()
        .into_iter()
        .find(|p| p.sku == sku)
        .map(|p| p.price)
        .expect("product")
}

// ---- signatures ------------------------------------------------------------------------

#[test]
fn the_published_sign_vectors_hold() {
    assert_eq!(sign(USER, KEY, "depo"), "fa98b834ff5305c72f49bc2f26b61142");
    assert_eq!(
        sign(USER, KEY, "pricelist"),
        "6ff316b0d970d663aa05327cbb0fe1f6"
    );
    assert_eq!(
        sign(USER, KEY, "deposit"),
        "b996153b6b47ecc109ffddafd87bd08d"
    );
    assert_eq!(
        sign(USER, KEY, "TRX-0001"),
        "f163fc30ca4b1f35c76026a000f0fcaf"
    );
}

#[test]
fn the_webhook_signature_vector_holds() {
    let body = br#"{"data":{"ref_id":"TRX-0001","status":"Sukses"}}"#;
    assert_eq!(
        hub_signature(SECRET.as_bytes(), body),
        "sha1=1420c13590e4e35bd02208873306de3ae01ff74e"
    );
}

#[tokio::test]
async fn every_command_is_signed_with_its_own_suffix() {
    let sim = simulator();
    let saldo =
        |suffix: &str| json!({"cmd": "deposit", "username": USER, "sign": sign(USER, KEY, suffix)});
    assert_eq!(
        data(&sim, CEK_SALDO_PATH, &saldo("depo")).await,
        json!({"deposit": 5_000_000})
    );
    assert_eq!(
        data(&sim, CEK_SALDO_PATH, &saldo("deposit")).await["rc"],
        "41"
    );

    let list =
        |suffix: &str| json!({"cmd": "prepaid", "username": USER, "sign": sign(USER, KEY, suffix)});
    assert!(
        data(&sim, PRICE_LIST_PATH, &list("pricelist"))
            .await
            .is_array()
    );
    assert_eq!(data(&sim, PRICE_LIST_PATH, &list("depo")).await["rc"], "41");

    let ticket = |suffix: &str| {
        json!({"username": USER, "amount": 200_000, "bank": "BCA", "owner_name": "PT CONTOH",
               "sign": sign(USER, KEY, suffix)})
    };
    assert_eq!(
        data(&sim, DEPOSIT_PATH, &ticket("deposit")).await["rc"],
        "00"
    );
    assert_eq!(data(&sim, DEPOSIT_PATH, &ticket("depo")).await["rc"], "41");

    let pln = |suffix: &str| json!({"username": USER, "customer_no": "12345678901", "sign": sign(USER, KEY, suffix)});
    assert_eq!(
        data(&sim, INQUIRY_PLN_PATH, &pln("12345678901")).await["rc"],
        "00"
    );
    assert_eq!(data(&sim, INQUIRY_PLN_PATH, &pln("depo")).await["rc"], "41");

    let mut wrong = topup("TRX0001", "xld10", "081234567890");
    wrong["sign"] = json!(sign(USER, KEY, "TRX0002"));
    let refused = data(&sim, TRANSACTION_PATH, &wrong).await;
    assert_eq!(
        (refused["status"].clone(), refused["rc"].clone()),
        (json!("Gagal"), json!("41"))
    );
    assert!(refused.get("buyer_last_saldo").is_none(), "{refused}");
    assert!(sim.transactions().is_empty());
}

#[tokio::test]
async fn the_trx_0001_vector_passes_the_signature_and_its_hyphen_is_refused_as_a_payload_error() {
    let sim = simulator();
    let refused = buy(&sim, "TRX-0001", "xld10", "081234567890").await;
    assert_eq!(refused["rc"], "40", "{refused}");
    assert_eq!(refused["ref_id"], "TRX-0001");
    assert!(sim.transactions().is_empty());
}

#[tokio::test]
async fn a_wrong_username_is_rc_42_and_a_wrong_key_rc_41_both_gagal_with_http_200() {
    let sim = simulator();
    let mut body = topup("REF1", "xld10", "081234567890");
    body["username"] = json!("someone-else");
    let (status, answer) = call(&sim, TRANSACTION_PATH, &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["data"]["rc"], "42");
    assert_eq!(answer["data"]["status"], "Gagal");

    let mut body = topup("REF1", "xld10", "081234567890");
    body["sign"] = json!(sign(USER, "prod-key", "REF1"));
    let answer = data(&sim, TRANSACTION_PATH, &body).await;
    assert_eq!(
        (answer["rc"].as_str(), answer["status"].as_str()),
        (Some("41"), Some("Gagal"))
    );
    assert_eq!(sim.calls("topup"), 2);
}

#[tokio::test]
async fn a_body_not_sent_as_json_or_missing_fields_is_a_payload_error() {
    let sim = simulator();
    let body = topup("REF1", "xld10", "081234567890").to_string();
    let (status, answer) = post_json(
        sim.router(),
        TRANSACTION_PATH,
        Some("application/x-www-form-urlencoded"),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["data"]["rc"], "40");
    let (_, answer) = post_json(
        sim.router(),
        TRANSACTION_PATH,
        Some("application/json"),
        "{".to_owned(),
    )
    .await;
    assert_eq!(answer["data"]["rc"], "40");
    let mut missing = topup("REF1", "xld10", "081234567890");
    missing
        .as_object_mut()
        .expect("object")
        .remove("customer_no");
    assert_eq!(data(&sim, TRANSACTION_PATH, &missing).await["rc"], "40");
    let mut typed = topup("REF1", "xld10", "081234567890");
    typed["testing"] = json!("yes");
    assert_eq!(data(&sim, TRANSACTION_PATH, &typed).await["rc"], "40");
    let (_, answer) = post_json(
        sim.router(),
        CEK_SALDO_PATH,
        Some("application/json; charset=utf-8"),
        json!({"cmd": "deposit", "username": USER, "sign": sign(USER, KEY, "depo")}).to_string(),
    )
    .await;
    assert_eq!(answer["data"]["deposit"], 5_000_000);
    assert!(sim.transactions().is_empty());
}

#[tokio::test]
async fn ref_ids_must_be_upper_case_alphanumerics_of_at_most_26() {
    let sim = simulator();
    let longest = "A".repeat(26);
    for bad in ["ref1", "REF_1", "REF 1", &"A".repeat(27)] {
        assert_eq!(
            buy(&sim, bad, "xld10", "081234567890").await["rc"],
            "40",
            "{bad}"
        );
    }
    assert_eq!(
        buy(&sim, &longest, "xld10", "081234567890").await["status"],
        "Sukses"
    );
    assert_eq!(sim.transactions().len(), 1);
}

// ---- prepaid ----------------------------------------------------------------------------

#[tokio::test]
async fn the_prepaid_test_numbers_script_every_prepaid_sku() {
    let sim = simulator();
    let skus = ["xld10", "tsel5", "pln20", "pln50", "pln100"];
    for (i, sku) in skus.iter().enumerate() {
        let cases = [
            ("087800001230", "Sukses", "00"),
            ("087800001232", "Gagal", "02"),
            ("087800001233", "Pending", "03"),
            ("087800001234", "Pending", "03"),
            ("081399998888", "Sukses", "00"),
        ];
        for (j, (number, status, rc)) in cases.iter().enumerate() {
            let answer = buy(&sim, &format!("S{i}N{j}"), sku, number).await;
            assert_eq!(
                (answer["status"].as_str(), answer["rc"].as_str()),
                (Some(*status), Some(*rc)),
                "{sku} {number}: {answer}"
            );
            assert_eq!(answer["sn"] == "", *status != "Sukses", "{answer}");
            assert_eq!(answer["buyer_sku_code"], *sku);
            assert_eq!(answer["customer_no"], *number);
            assert!(answer["price"].is_i64() && answer["buyer_last_saldo"].is_i64());
            assert!(answer["tele"].is_string() && answer["wa"].is_string());
        }
    }
    assert_eq!(
        buy(&sim, "XL1", "xld10", "087800001230").await["sn"],
        "1234567890"
    );
}

#[tokio::test]
async fn a_pln_token_serial_number_carries_twenty_digits_name_tariff_power_and_kwh() {
    let sim = simulator();
    let answer = buy(&sim, "PLN1", "pln20", "12345678901").await;
    let sn = answer["sn"].as_str().expect("sn");
    let parts: Vec<&str> = sn.split('/').collect();
    assert_eq!(parts.len(), 5, "{sn}");
    let groups: Vec<&str> = parts[0].split('-').collect();
    assert_eq!(groups.len(), 5, "{sn}");
    assert!(
        groups
            .iter()
            .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_digit())),
        "{sn}"
    );
    assert!(!parts[1].trim().is_empty());
    assert_eq!(&parts[2..], ["R1M", "900VA", "14.5KWH"]);
    let inquiry = json!({"username": USER, "customer_no": "12345678901", "sign": sign(USER, KEY, "12345678901")});
    assert_eq!(
        data(&sim, INQUIRY_PLN_PATH, &inquiry).await["name"],
        parts[1]
    );
    let other = buy(&sim, "PLN2", "pln20", "12345678901").await;
    assert_ne!(other["sn"], answer["sn"], "tokens are random");
}

#[tokio::test]
async fn the_deposit_is_debited_on_booking_and_credited_back_when_it_fails() {
    let sim = simulator();
    let price = price_of("xld10");
    let start = sim.deposit();
    let ok = buy(&sim, "D1", "xld10", "081234567890").await;
    assert_eq!(sim.deposit(), start - price);
    assert_eq!(ok["buyer_last_saldo"], start - price);
    assert_eq!(ok["price"], price);

    buy(&sim, "D2", "xld10", "087800001232").await;
    assert_eq!(sim.deposit(), start - price, "a failure costs nothing");

    let pending = buy(&sim, "D3", "xld10", "087800001234").await;
    assert_eq!(
        pending["buyer_last_saldo"],
        start - 2 * price,
        "pending is debited"
    );
    sim.settle("D3", false).await.expect("settle");
    assert_eq!(sim.deposit(), start - price, "credited back");
    let after = buy(&sim, "D3", "xld10", "087800001234").await;
    assert_eq!(
        (after["status"].as_str(), after["rc"].as_str()),
        (Some("Gagal"), Some("02"))
    );
    assert_eq!(after["buyer_last_saldo"], start - price);

    buy(&sim, "D4", "xld10", "087800001233").await;
    sim.settle("D4", true).await.expect("settle");
    assert_eq!(sim.deposit(), start - 2 * price);
    let settled = buy(&sim, "D4", "xld10", "087800001233").await;
    assert_eq!(settled["status"], "Sukses");
    assert!(!settled["sn"].as_str().unwrap_or_default().is_empty());
}

#[tokio::test]
async fn a_repeat_topup_is_the_status_check_and_books_nothing() {
    let sim = simulator();
    let first = buy(&sim, "REP1", "xld10", "087800001233").await;
    let deposit = sim.deposit();
    let again = buy(&sim, "REP1", "xld10", "087800001233").await;
    assert_eq!(first, again);
    assert_eq!(sim.deposit(), deposit);
    assert_eq!(sim.transactions().len(), 1);
    assert_eq!(sim.calls("topup"), 2);
}

#[tokio::test]
async fn a_reused_ref_id_with_other_fields_is_rc_49() {
    let sim = simulator();
    buy(&sim, "DUP1", "xld10", "081234567890").await;
    let deposit = sim.deposit();
    assert_eq!(buy(&sim, "DUP1", "xld10", "081234567891").await["rc"], "49");
    assert_eq!(buy(&sim, "DUP1", "tsel5", "081234567890").await["rc"], "49");
    assert_eq!(
        run(&sim, "inq-pasca", "DUP1", "pln", "530000000001").await["rc"],
        "49"
    );
    assert_eq!(
        run(&sim, "pay-pasca", "DUP1", "pln", "530000000001").await["rc"],
        "49"
    );
    run(&sim, "inq-pasca", "DUP2", "pln", "530000000001").await;
    assert_eq!(buy(&sim, "DUP2", "xld10", "081234567890").await["rc"], "49");
    assert_eq!(
        run(&sim, "inq-pasca", "DUP2", "pln", "530000000002").await["rc"],
        "49"
    );
    assert_eq!(sim.deposit(), deposit);
    assert_eq!(sim.transactions().len(), 1);
}

#[tokio::test]
async fn an_insufficient_deposit_is_rc_44_and_books_nothing() {
    let sim = simulator();
    sim.set_deposit(price_of("xld10") - 1);
    let refused = buy(&sim, "LOW1", "xld10", "081234567890").await;
    assert_eq!(
        (refused["rc"].as_str(), refused["status"].as_str()),
        (Some("44"), Some("Gagal"))
    );
    assert_eq!(refused["buyer_last_saldo"], price_of("xld10") - 1);
    assert!(sim.transactions().is_empty());
    sim.set_deposit(price_of("xld10"));
    assert_eq!(
        buy(&sim, "LOW1", "xld10", "081234567890").await["status"],
        "Sukses"
    );
    assert_eq!(sim.deposit(), 0);
}

#[tokio::test]
async fn unknown_skus_are_rc_43_and_a_seller_out_of_stock_books_gagal_53() {
    let sim = simulator();
    assert_eq!(buy(&sim, "SKU1", "nope", "081234567890").await["rc"], "43");
    assert_eq!(
        buy(&sim, "SKU2", "pln", "530000000001").await["rc"],
        "43",
        "postpaid without commands"
    );
    assert_eq!(
        run(&sim, "inq-pasca", "SKU3", "xld10", "081234567890").await["rc"],
        "43"
    );
    assert!(sim.transactions().is_empty());
    let deposit = sim.deposit();
    let out = buy(&sim, "SKU4", UNAVAILABLE_SKU, "081234567890").await;
    assert_eq!(
        (out["status"].as_str(), out["rc"].as_str()),
        (Some("Gagal"), Some("53"))
    );
    assert_eq!(sim.deposit(), deposit);
    assert_eq!(sim.transaction("SKU4").map(|t| t.rc), Some("53"));
    assert_eq!(
        buy(&sim, "SKU5", "XLD10", "081234567890").await["status"],
        "Sukses"
    );
}

#[tokio::test]
async fn a_max_price_below_the_price_is_rc_69_and_books_nothing() {
    let sim = simulator();
    let mut body = topup("MAX1", "xld10", "081234567890");
    body["max_price"] = json!(price_of("xld10") - 1);
    assert_eq!(data(&sim, TRANSACTION_PATH, &body).await["rc"], "69");
    assert!(sim.transactions().is_empty());
    body["max_price"] = json!(price_of("xld10"));
    assert_eq!(
        data(&sim, TRANSACTION_PATH, &body).await["status"],
        "Sukses"
    );
}

#[tokio::test]
async fn past_ninety_days_a_status_check_buys_again() {
    let sim = simulator();
    buy(&sim, "OLD1", "xld10", "081234567890").await;
    let deposit = sim.deposit();
    sim.pass_days(90);
    buy(&sim, "OLD1", "xld10", "081234567890").await;
    assert_eq!(sim.deposit(), deposit, "90 days: still the status check");
    sim.pass_days(1);
    buy(&sim, "OLD1", "xld10", "081234567890").await;
    assert_eq!(sim.deposit(), deposit - price_of("xld10"), "bought again");
    assert_eq!(sim.transactions().len(), 2);
    assert_eq!(BillerSimulator::transactions_for(&sim, "OLD1"), 2);
    assert_eq!(
        sim.transaction("OLD1").map(|t| t.created),
        Some(sim.today())
    );
}

// ---- postpaid ---------------------------------------------------------------------------

#[tokio::test]
async fn the_pln_inquiry_is_the_official_worked_example_for_one_and_two_sheets() {
    let sim = simulator();
    let one = run(&sim, "inq-pasca", "INQ1", "pln", "530000000001").await;
    assert_eq!(
        (one["status"].as_str(), one["rc"].as_str()),
        (Some("Sukses"), Some("00")),
        "{one}"
    );
    assert_eq!(
        (
            one["admin"].clone(),
            one["selling_price"].clone(),
            one["price"].clone()
        ),
        (json!(2_500), json!(11_000), json!(10_000))
    );
    assert!(one["customer_name"].is_string());
    let desc = &one["desc"];
    assert_eq!(
        (
            desc["tarif"].clone(),
            desc["daya"].clone(),
            desc["lembar_tagihan"].clone()
        ),
        (json!("R1"), json!(1300), json!(1))
    );
    let detail = &desc["detail"][0];
    assert_eq!(
        (
            detail["nilai_tagihan"].clone(),
            detail["admin"].clone(),
            detail["denda"].clone()
        ),
        (json!("8000"), json!("2500"), json!("500"))
    );
    assert_eq!(detail["periode"].as_str().map(str::len), Some(6));
    assert!(
        detail.get("meter_awal").is_none(),
        "meters come with the payment"
    );

    let two = run(&sim, "inq-pasca", "INQ2", "pln", "530000000002").await;
    assert_eq!(
        (
            two["admin"].clone(),
            two["selling_price"].clone(),
            two["price"].clone()
        ),
        (json!(5_000), json!(22_000), json!(20_000))
    );
    let periods: Vec<&str> = two["desc"]["detail"]
        .as_array()
        .expect("detail")
        .iter()
        .filter_map(|d| d["periode"].as_str())
        .collect();
    assert_eq!(periods.len(), 2);
    assert!(periods[0] < periods[1], "oldest first: {periods:?}");
    assert_eq!(sim.transactions().len(), 0, "an inquiry books nothing");
    let deposit = sim.deposit();
    assert_eq!(two["buyer_last_saldo"], deposit);
}

#[tokio::test]
async fn every_scripted_postpaid_number_of_the_default_catalogue_behaves() {
    let sim = simulator();
    let table = [
        (
            "pln",
            [
                "530000000001",
                "530000000003",
                "530000000006",
                "630000000001",
                "630000000006",
            ],
        ),
        (
            "pdam",
            ["1013226", "1013227", "1013230", "2013226", "2013230"],
        ),
        (
            "internet",
            [
                "6391601001",
                "6391601002",
                "6391601005",
                "7391601001",
                "7391601005",
            ],
        ),
        (
            "bpjs",
            [
                "8801234560001",
                "8801234560002",
                "8801234560005",
                "9801234560001",
                "9801234560005",
            ],
        ),
    ];
    for (
        i,
        (
            sku,
            [
                success,
                inquiry_fails,
                payment_fails,
                pending_ok,
                pending_fail,
            ],
        ),
    ) in table.iter().enumerate()
    {
        let failed = run(&sim, "inq-pasca", &format!("F{i}"), sku, inquiry_fails).await;
        assert_eq!(
            (failed["status"].as_str(), failed["rc"].as_str()),
            (Some("Gagal"), Some("02")),
            "{sku}"
        );
        assert_eq!(
            run(&sim, "pay-pasca", &format!("F{i}"), sku, inquiry_fails).await["rc"],
            "02"
        );
        for (j, (number, status, rc)) in [
            (success, "Sukses", "00"),
            (payment_fails, "Gagal", "02"),
            (pending_ok, "Pending", "03"),
            (pending_fail, "Pending", "03"),
        ]
        .iter()
        .enumerate()
        {
            let reference = format!("P{i}N{j}");
            let bill = run(&sim, "inq-pasca", &reference, sku, number).await;
            assert_eq!(bill["status"], "Sukses", "{sku} {number}: {bill}");
            let paid = run(&sim, "pay-pasca", &reference, sku, number).await;
            assert_eq!(
                (paid["status"].as_str(), paid["rc"].as_str()),
                (Some(*status), Some(*rc)),
                "{sku} {number}: {paid}"
            );
            assert_eq!(paid["selling_price"], bill["selling_price"]);
            assert_eq!(paid["price"], bill["price"]);
            assert_eq!(paid["sn"] == "", *status != "Sukses");
        }
        sim.settle(&format!("P{i}N2"), true).await.expect("settle");
        sim.settle(&format!("P{i}N3"), false).await.expect("settle");
    }
    let bpjs = run(&sim, "status-pasca", "P3N0", "bpjs", "8801234560001").await;
    assert!(
        bpjs["sn"]
            .as_str()
            .is_some_and(|sn| sn.starts_with("BP") && sn.ends_with("JS")),
        "{bpjs}"
    );
    assert_eq!(bpjs["desc"]["detail"][0]["periode"], "01");
    let pln = run(&sim, "status-pasca", "P0N0", "pln", "530000000001").await;
    assert_eq!(pln["sn"].as_str().map(str::len), Some(32));
    assert!(pln["desc"]["detail"][0]["meter_awal"].is_string(), "{pln}");
}

#[tokio::test]
async fn a_payment_needs_an_inquiry_of_the_same_ref_sku_and_number_on_the_same_day() {
    let sim = simulator();
    let none = run(&sim, "pay-pasca", "PAY1", "pln", "530000000001").await;
    assert_eq!(
        (none["rc"].as_str(), none["message"].as_str()),
        (Some("02"), Some("Inquiry tidak ditemukan"))
    );
    run(&sim, "inq-pasca", "PAY2", "pln", "530000000001").await;
    let other = run(&sim, "pay-pasca", "PAY2", "pln", "530000000002").await;
    assert_eq!(
        other["message"], "Inquiry tidak ditemukan",
        "another customer number"
    );
    run(&sim, "inq-pasca", "PAY3", "pln", "530000000001").await;
    sim.pass_days(1);
    assert_eq!(
        run(&sim, "pay-pasca", "PAY3", "pln", "530000000001").await["message"],
        "Inquiry tidak ditemukan"
    );
    assert!(sim.transactions().is_empty());
    run(&sim, "inq-pasca", "PAY3", "pln", "530000000001").await;
    assert_eq!(
        run(&sim, "pay-pasca", "PAY3", "pln", "530000000001").await["status"],
        "Sukses",
        "a new inquiry the next day"
    );
}

#[tokio::test]
async fn a_payment_debits_its_price_and_a_repeat_answers_it_without_booking() {
    let sim = simulator();
    let start = sim.deposit();
    run(&sim, "inq-pasca", "PAID1", "pln", "530000000002").await;
    let paid = run(&sim, "pay-pasca", "PAID1", "pln", "530000000002").await;
    assert_eq!(sim.deposit(), start - 20_000);
    assert_eq!(paid["buyer_last_saldo"], start - 20_000);
    assert_eq!(
        run(&sim, "pay-pasca", "PAID1", "pln", "530000000002").await,
        paid
    );
    assert_eq!(
        run(&sim, "status-pasca", "PAID1", "pln", "530000000002").await,
        paid
    );
    assert_eq!(sim.deposit(), start - 20_000);
    let tx = sim.transaction("PAID1").expect("booked");
    assert!(tx.postpaid);
    assert_eq!((tx.price, tx.selling_price), (20_000, Some(22_000)));

    sim.set_deposit(9_999);
    run(&sim, "inq-pasca", "PAID2", "pln", "530000000001").await;
    assert_eq!(
        run(&sim, "pay-pasca", "PAID2", "pln", "530000000001").await["rc"],
        "44"
    );
    assert!(sim.transaction("PAID2").is_none());
}

#[tokio::test]
async fn status_pasca_of_an_unknown_or_old_ref_id_is_data_belum_ada() {
    let sim = simulator();
    let unknown = run(&sim, "status-pasca", "UNK1", "pln", "530000000001").await;
    assert_eq!(
        unknown,
        json!({"status": "Gagal", "rc": "50", "message": "Data belum ada", "ref_id": "UNK1",
               "customer_no": "530000000001", "buyer_sku_code": "pln"})
    );
    buy(&sim, "PRE1", "xld10", "081234567890").await;
    assert_eq!(
        run(&sim, "status-pasca", "PRE1", "xld10", "081234567890").await["rc"],
        "50"
    );
    run(&sim, "inq-pasca", "OLD1", "pln", "530000000001").await;
    assert_eq!(
        run(&sim, "status-pasca", "OLD1", "pln", "530000000001").await["rc"],
        "50",
        "an inquiry is no payment"
    );
    run(&sim, "pay-pasca", "OLD1", "pln", "530000000001").await;
    assert_eq!(
        run(&sim, "status-pasca", "OLD1", "pln", "530000000001").await["rc"],
        "00"
    );
    sim.pass_days(91);
    assert_eq!(
        run(&sim, "status-pasca", "OLD1", "pln", "530000000001").await["message"],
        "Data belum ada"
    );
}

// ---- the other routes -------------------------------------------------------------------

#[tokio::test]
async fn the_price_list_shows_each_kind_with_its_fields_and_filters() {
    let sim = simulator();
    let list = |cmd: &str, extra: Value| {
        let mut body = json!({"cmd": cmd, "username": USER, "sign": sign(USER, KEY, "pricelist")});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        body
    };
    let prepaid = data(&sim, PRICE_LIST_PATH, &list("prepaid", json!({}))).await;
    let prepaid = prepaid.as_array().expect("array");
    assert_eq!(prepaid.len(), 6);
    let xl = prepaid
        .iter()
        .find(|p| p["buyer_sku_code"] == "xld10")
        .expect("xld10");
    assert_eq!(
        (
            xl["price"].clone(),
            xl["buyer_product_status"].clone(),
            xl["seller_product_status"].clone()
        ),
        (json!(10_150), json!(true), json!(true))
    );
    for field in [
        "product_name",
        "category",
        "brand",
        "type",
        "seller_name",
        "unlimited_stock",
        "stock",
        "multi",
        "start_cut_off",
        "end_cut_off",
        "desc",
    ] {
        assert!(xl.get(field).is_some(), "{field}");
    }
    let out = prepaid
        .iter()
        .find(|p| p["buyer_sku_code"] == UNAVAILABLE_SKU)
        .expect("listed");
    assert_eq!(out["seller_product_status"], false);

    let pasca = data(&sim, PRICE_LIST_PATH, &list("pasca", json!({}))).await;
    let pln = pasca
        .as_array()
        .and_then(|a| a.iter().find(|p| p["buyer_sku_code"] == "pln"))
        .expect("pln");
    assert_eq!(
        (pln["admin"].clone(), pln["commission"].clone()),
        (json!(2_500), json!(1_000))
    );
    assert!(pln.get("price").is_none());
    assert_eq!(pasca.as_array().map(Vec::len), Some(4));

    let brand = data(
        &sim,
        PRICE_LIST_PATH,
        &list("prepaid", json!({"brand": "pln"})),
    )
    .await;
    assert_eq!(brand.as_array().map(Vec::len), Some(3));
    let code = data(
        &sim,
        PRICE_LIST_PATH,
        &list("prepaid", json!({"code": "tsel5"})),
    )
    .await;
    assert_eq!(code[0]["price"], 5_250);
    assert_eq!(
        data(&sim, PRICE_LIST_PATH, &list("all", json!({}))).await["rc"],
        "40"
    );
}

#[tokio::test]
async fn the_pln_inquiry_names_the_meters_customer_and_refuses_a_wrong_number() {
    let sim = simulator();
    let ask = |no: &str| json!({"username": USER, "customer_no": no, "sign": sign(USER, KEY, no)});
    let meter = data(&sim, INQUIRY_PLN_PATH, &ask("12345678901")).await;
    assert_eq!(
        (meter["status"].as_str(), meter["rc"].as_str()),
        (Some("Sukses"), Some("00"))
    );
    assert_eq!(meter["meter_no"], "12345678901");
    assert_eq!(meter["subscriber_id"].as_str().map(str::len), Some(12));
    assert_eq!(meter["segment_power"], "R1M /000000900");
    assert!(meter["name"].as_str().is_some_and(|n| !n.is_empty()));
    let id = data(&sim, INQUIRY_PLN_PATH, &ask("530000000001")).await;
    assert_eq!(
        (
            id["subscriber_id"].as_str(),
            id["meter_no"].as_str().map(str::len)
        ),
        (Some("530000000001"), Some(11))
    );
    let wrong = data(&sim, INQUIRY_PLN_PATH, &ask("12345678909")).await;
    assert_eq!(
        (wrong["status"].as_str(), wrong["rc"].as_str()),
        (Some("Gagal"), Some("54"))
    );
    assert_eq!(sim.calls("inquiry-pln"), 3);
}

#[tokio::test]
async fn a_deposit_ticket_adds_a_unique_amount_and_moves_no_money() {
    let sim = simulator();
    let ticket = |bank: &str, amount: Value| {
        json!({"username": USER, "amount": amount, "bank": bank, "owner_name": "PT CONTOH",
               "sign": sign(USER, KEY, "deposit")})
    };
    let answer = data(&sim, DEPOSIT_PATH, &ticket("BCA", json!(10_000_000))).await;
    assert_eq!(
        (answer["rc"].as_str(), answer["payment_method"].as_str()),
        (Some("00"), Some("Bank Transfer"))
    );
    let amount = answer["amount"].as_i64().expect("amount");
    assert!((10_000_001..=10_000_999).contains(&amount), "{amount}");
    assert!(answer["account_no"].is_string() && answer["notes"].is_string());
    assert_eq!(
        data(&sim, DEPOSIT_PATH, &ticket("BANK GAIB", json!(10_000))).await["rc"],
        "40"
    );
    assert_eq!(
        data(&sim, DEPOSIT_PATH, &ticket("BNI", json!("10000"))).await["rc"],
        "40"
    );
    assert_eq!(sim.deposit(), DEFAULT_DEPOSIT);
}

// ---- webhooks ---------------------------------------------------------------------------

/// One webhook a [`Receiver`] got.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    fn data(&self) -> Value {
        serde_json::from_str::<Value>(&self.body).expect("json")["data"].clone()
    }

    /// The signature verifies over the exact bytes received.
    fn signed(&self) -> bool {
        self.header(SIGNATURE_HEADER) == hub_signature(SECRET.as_bytes(), self.body.as_bytes())
    }
}

/// A merchant endpoint that records every webhook and answers `{"status":"ok"}`.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Received>>>);

impl Receiver {
    async fn spawn() -> (Self, String, Running) {
        let receiver = Self::default();
        let router = Router::new()
            .route("/hook", post(receive))
            .with_state(receiver.clone());
        let running = crate::server::spawn(router, crate::server::any_local_port())
            .await
            .expect("bind");
        let url = format!("{}/hook", running.base_url);
        (receiver, url, running)
    }

    fn got(&self) -> Vec<Received> {
        self.0.lock().expect("lock").clone()
    }

    /// Waits up to 3 s for `n` webhooks.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.got().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.got()
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let headers = headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = String::from_utf8_lossy(&body).into_owned();
    receiver
        .0
        .lock()
        .expect("lock")
        .push(Received { headers, body });
    r#"{"status":"ok"}"#
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<usize> = text.split('-').map(str::len).collect();
    groups == [8, 4, 4, 4, 12] && text.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
}

#[tokio::test]
async fn a_booking_is_announced_once_as_create_with_a_verifiable_signature() {
    let (receiver, url, _running) = Receiver::spawn().await;
    let sim = simulator();
    sim.set_webhook_url(&url);
    let answer = buy(&sim, "WH1", "xld10", "081234567890").await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1);
    let hook = &got[0];
    assert!(hook.signed(), "{hook:?}");
    assert_eq!(hook.header(EVENT_HEADER), "create");
    assert_eq!(hook.header("user-agent"), PREPAID_USER_AGENT);
    assert_eq!(hook.header("content-type"), "application/json");
    assert!(is_uuid(hook.header(DELIVERY_HEADER)), "{hook:?}");
    let mut expected = answer;
    expected["trx_id"] = json!(sim.transaction("WH1").map(|t| t.trx_id));
    assert_eq!(hook.data(), expected);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.got().len(), 1);
}

#[tokio::test]
async fn twice_delivers_the_same_body_under_two_delivery_ids_and_never_delivers_nothing() {
    let (receiver, url, _running) = Receiver::spawn().await;
    let sim = simulator();
    sim.set_webhook_url(&url);
    sim.set_callback_policy(CallbackPolicy::Twice);
    buy(&sim, "TW1", "xld10", "081234567890").await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
    assert_ne!(
        got[0].header(DELIVERY_HEADER),
        got[1].header(DELIVERY_HEADER)
    );
    assert!(got.iter().all(Received::signed));

    sim.set_callback_policy(CallbackPolicy::Never);
    buy(&sim, "NV1", "xld10", "081234567890").await;
    let outcomes = sim.refund("TW1").await.expect("refund");
    assert!(outcomes.is_empty());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(receiver.got().len(), 2);
}

#[tokio::test]
async fn the_pending_timer_ends_each_pending_number_as_scripted_and_announces_the_update() {
    let (receiver, url, _running) = Receiver::spawn().await;
    let mut config = config();
    config.pending_after = Duration::from_millis(150);
    let sim = DigiflazzSimulator::new(config);
    sim.set_webhook_url(&url);
    let start = sim.deposit();
    let price = price_of("xld10");
    buy(&sim, "PT1", "xld10", "087800001233").await;
    buy(&sim, "PT2", "xld10", "087800001234").await;
    assert_eq!(sim.deposit(), start - 2 * price);
    let got = receiver.wait_for(4).await;
    assert_eq!(got.len(), 4, "{got:?}");
    let updates: Vec<Value> = got
        .iter()
        .filter(|h| h.header(EVENT_HEADER) == "update")
        .map(Received::data)
        .collect();
    let outcome = |ref_id: &str| {
        let update = updates
            .iter()
            .find(|d| d["ref_id"] == ref_id)
            .expect("update");
        (update["status"].clone(), update["rc"].clone())
    };
    assert_eq!(outcome("PT1"), (json!("Sukses"), json!("00")));
    assert_eq!(outcome("PT2"), (json!("Gagal"), json!("02")));
    assert_eq!(
        sim.deposit(),
        start - price,
        "the failure was credited back"
    );
    assert!(sim.settle("PT1", true).await.is_err(), "no longer pending");
}

#[tokio::test]
async fn without_a_timer_a_pending_transaction_waits_for_settle() {
    let mut config = config();
    config.pending_after = Duration::ZERO;
    let sim = DigiflazzSimulator::new(config);
    buy(&sim, "WT1", "xld10", "087800001233").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sim.transaction("WT1").map(|t| t.status), Some("Pending"));
    assert!(
        sim.settle("WT1", false)
            .await
            .expect("no url, no webhook")
            .is_empty()
    );
    assert_eq!(sim.transaction("WT1").map(|t| t.status), Some("Gagal"));
    assert!(matches!(
        sim.settle("WT1", true).await,
        Err(SimError::NotPayable { .. })
    ));
    assert!(matches!(
        sim.settle("NOPE", true).await,
        Err(SimError::NotFound(_))
    ));
    assert!(
        BillerSimulator::settle(&sim, "WT1", false).is_ok(),
        "already ended that way"
    );
    assert!(BillerSimulator::settle(&sim, "WT1", true).is_err());
}

#[tokio::test]
async fn a_postpaid_payment_is_announced_with_the_pasca_user_agent_and_cb_url_wins() {
    let (receiver, url, _running) = Receiver::spawn().await;
    let (other, other_url, _other_running) = Receiver::spawn().await;
    let sim = simulator();
    sim.set_webhook_url(&url);
    run(&sim, "inq-pasca", "PP1", "pln", "530000000001").await;
    run(&sim, "pay-pasca", "PP1", "pln", "530000000001").await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].header("user-agent"), POSTPAID_USER_AGENT);
    assert_eq!(
        got[0].data()["customer_name"],
        json!(catalogue::customer_name("530000000001"))
    );
    assert!(got[0].data()["trx_id"].is_string());

    let mut body = topup("CB1", "xld10", "081234567890");
    body["cb_url"] = json!(other_url);
    data(&sim, TRANSACTION_PATH, &body).await;
    assert_eq!(other.wait_for(1).await.len(), 1);
    assert_eq!(receiver.got().len(), 1);
}

#[tokio::test]
async fn refund_turns_a_success_into_gagal_74_credits_the_deposit_and_announces_an_update() {
    let (receiver, url, _running) = Receiver::spawn().await;
    let sim = simulator();
    buy(&sim, "RF1", "xld10", "081234567890").await;
    sim.set_webhook_url(&url);
    let before = sim.deposit();
    let outcomes = sim.refund("RF1").await.expect("refund");
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].status, 200);
    assert_eq!(sim.deposit(), before + price_of("xld10"));
    let hook = &receiver.got()[0];
    assert_eq!(hook.header(EVENT_HEADER), "update");
    assert_eq!(
        (hook.data()["status"].clone(), hook.data()["rc"].clone()),
        (json!("Gagal"), json!("74"))
    );
    let status = buy(&sim, "RF1", "xld10", "081234567890").await;
    assert_eq!(status["message"], "Transaksi Refund");
    assert!(sim.refund("RF1").await.is_err(), "refunded once");
    buy(&sim, "RF2", "xld10", "087800001233").await;
    assert!(matches!(
        sim.refund("RF2").await,
        Err(SimError::NotPayable { .. })
    ));
}

#[tokio::test]
async fn forget_set_price_and_foreign_seed_reconciliation() {
    let (receiver, url, _running) = Receiver::spawn().await;
    let sim = simulator();
    run(&sim, "inq-pasca", "FG1", "pln", "530000000001").await;
    run(&sim, "pay-pasca", "FG1", "pln", "530000000001").await;
    sim.forget("FG1").expect("forget");
    assert_eq!(
        run(&sim, "status-pasca", "FG1", "pln", "530000000001").await["rc"],
        "50"
    );
    assert!(sim.forget("FG1").is_err());

    buy(&sim, "SP1", "xld10", "081234567890").await;
    let deposit = sim.deposit();
    sim.set_price("SP1", 11_000).expect("set price");
    assert_eq!(
        buy(&sim, "SP1", "xld10", "081234567890").await["price"],
        11_000
    );
    assert_eq!(sim.deposit(), deposit);
    assert!(sim.set_price("NOPE", 1).is_err());

    sim.set_webhook_url(&url);
    let outcomes = sim
        .foreign("FOREIGN1", "pln20", "12345678901")
        .await
        .expect("foreign");
    assert_eq!(outcomes.len(), 1);
    assert_eq!(sim.deposit(), deposit - price_of("pln20"));
    let tx = sim.transaction("FOREIGN1").expect("booked");
    assert!(tx.foreign && tx.status == "Sukses" && !tx.sn.is_empty());
    let hook = &receiver.got()[0];
    assert_eq!(hook.header(EVENT_HEADER), "create");
    assert_eq!(hook.data()["ref_id"], "FOREIGN1");
    assert!(
        sim.foreign("FOREIGN1", "pln20", "12345678901")
            .await
            .is_err(),
        "ref_id used"
    );
    assert!(sim.foreign("FOREIGN2", "nope", "1").await.is_err());
    let postpaid = sim
        .foreign("FOREIGN3", "pln", "530000000002")
        .await
        .expect("foreign bill");
    assert_eq!(postpaid.len(), 1);
    assert_eq!(sim.transaction("FOREIGN3").map(|t| t.price), Some(20_000));
}

#[tokio::test]
async fn webhook_for_is_create_until_a_change_then_update_and_tampering_breaks_the_signature() {
    let sim = simulator();
    buy(&sim, "WF1", "xld10", "087800001233").await;
    let verifies = |hook: &CapturedCallback| {
        let header = hook.headers.iter().find(|(n, _)| n == SIGNATURE_HEADER);
        header.is_some_and(|(_, v)| *v == hub_signature(SECRET.as_bytes(), &hook.body))
    };
    let event = |hook: &CapturedCallback| {
        hook.headers
            .iter()
            .find(|(n, _)| n == EVENT_HEADER)
            .map(|(_, v)| v.clone())
    };
    let created = sim.webhook_for("WF1").expect("webhook");
    assert!(verifies(&created));
    assert_eq!(event(&created).as_deref(), Some("create"));
    assert_eq!(created.url, None);
    sim.settle("WF1", true).await.expect("settle");
    let updated = sim.webhook_for("WF1").expect("webhook");
    assert_eq!(event(&updated).as_deref(), Some("update"));
    let again = sim.webhook_for("WF1").expect("webhook");
    assert_eq!(updated.body, again.body);
    assert_ne!(updated.headers, again.headers, "a fresh delivery id");
    for tamper in [Tamper::FlipByte, Tamper::WrongKey] {
        let spoiled = sim.tampered_webhook_for("WF1", tamper).expect("webhook");
        assert!(!verifies(&spoiled), "{tamper:?}");
        assert!(serde_json::from_slice::<Value>(&spoiled.body).is_ok());
    }
    assert!(verifies(
        &sim.tampered_webhook_for("WF1", Tamper::StaleTimestamp)
            .expect("webhook")
    ));
    assert!(matches!(
        sim.webhook_for("NOPE"),
        Err(SimError::NotFound(_))
    ));

    sim.set_webhook_url("http://merchant.example/hook");
    let ping = sim.ping();
    assert!(verifies(&ping));
    assert_eq!(event(&ping).as_deref(), Some("ping"));
    let body: Value = serde_json::from_slice(&ping.body).expect("json");
    assert!(body.get("data").is_none() && body["hook_id"].is_string() && body["sed"].is_string());
    assert!(!String::from_utf8_lossy(&ping.body).contains(SECRET));
    assert_eq!(ping.url.as_deref(), Some("http://merchant.example/hook"));
}

#[tokio::test]
async fn an_empty_webhook_secret_sends_no_signature() {
    let sim = DigiflazzSimulator::new(DigiflazzConfig::new(USER, KEY, ""));
    buy(&sim, "NS1", "xld10", "081234567890").await;
    let hook = sim.webhook_for("NS1").expect("webhook");
    assert!(hook.headers.iter().all(|(n, _)| n != SIGNATURE_HEADER));
}

// ---- faults, counters, config -----------------------------------------------------------

#[tokio::test]
async fn faults_apply_per_operation_before_or_after_the_effect() {
    let sim = simulator();
    let requests = [
        (
            "cek-saldo",
            CEK_SALDO_PATH,
            json!({"cmd": "deposit", "username": USER, "sign": sign(USER, KEY, "depo")}),
        ),
        (
            "price-list",
            PRICE_LIST_PATH,
            json!({"cmd": "pasca", "username": USER, "sign": sign(USER, KEY, "pricelist")}),
        ),
        (
            "topup",
            TRANSACTION_PATH,
            topup("FT1", "xld10", "081234567890"),
        ),
        (
            "inq-pasca",
            TRANSACTION_PATH,
            command("inq-pasca", "FT2", "pln", "530000000001"),
        ),
        (
            "pay-pasca",
            TRANSACTION_PATH,
            command("pay-pasca", "FT2", "pln", "530000000001"),
        ),
        (
            "status-pasca",
            TRANSACTION_PATH,
            command("status-pasca", "FT2", "pln", "530000000001"),
        ),
        (
            "inquiry-pln",
            INQUIRY_PLN_PATH,
            json!({"username": USER, "customer_no": "1", "sign": sign(USER, KEY, "1")}),
        ),
        (
            "deposit",
            DEPOSIT_PATH,
            json!({"username": USER, "amount": 1, "bank": "BRI", "owner_name": "X", "sign": sign(USER, KEY, "deposit")}),
        ),
    ];
    for (op, path, body) in &requests {
        sim.faults()
            .push(FaultRule::once(op, Fault::Status { code: 502 }));
        let (status, _) = call(&sim, path, body).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{op}");
        assert_eq!(
            sim.calls(op),
            0,
            "{op}: a fault before the logic is not counted"
        );
        let (status, _) = call(&sim, path, body).await;
        assert_eq!(status, StatusCode::OK, "{op}");
        assert_eq!(sim.calls(op), 1, "{op}");
    }

    let deposit = sim.deposit();
    for fault in [
        Fault::Down,
        Fault::Malformed,
        Fault::HangBeforeEffect { ms: 10 },
    ] {
        sim.faults().push(FaultRule::once("topup", fault.clone()));
        let (status, answer) = call(
            &sim,
            TRANSACTION_PATH,
            &topup("FT3", "xld10", "081234567890"),
        )
        .await;
        assert!(sim.transaction("FT3").is_none(), "{fault:?}");
        if fault == Fault::Malformed {
            assert_eq!(status, StatusCode::OK);
            assert!(answer.is_string(), "unparseable: {answer}");
        }
    }
    assert_eq!(sim.deposit(), deposit);

    sim.faults()
        .push(FaultRule::once("topup", Fault::HangAfterEffect { ms: 50 }));
    let started = Instant::now();
    let answer = buy(&sim, "FT4", "xld10", "081234567890").await;
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(answer["status"], "Sukses");
    assert_eq!(sim.deposit(), deposit - price_of("xld10"));
}

#[test]
fn the_config_and_the_simulator_never_show_the_secrets() {
    let sim = simulator();
    let shown = format!("{:?} {:?}", sim.config(), sim);
    assert!(!shown.contains(KEY) && !shown.contains(SECRET), "{shown}");
    assert!(shown.contains(USER));
    let config = sim.config();
    assert_eq!(
        (config.deposit, config.products.len()),
        (DEFAULT_DEPOSIT, 10)
    );
    assert_eq!(
        DigiflazzConfig::new(USER, KEY, SECRET).pending_after,
        Duration::from_secs(2)
    );
}

// ---- the biller conformance suite -------------------------------------------------------

async fn suite(client: impl FnOnce(&str) -> reference::Client) -> crate::conformance::Report {
    let mut config = config();
    config.pending_after = Duration::from_secs(10);
    let sim = DigiflazzSimulator::new(config);
    let running = sim
        .spawn(crate::server::any_local_port())
        .await
        .expect("bind");
    let client = client(&running.base_url);
    let report = crate::conformance::biller::run_all(&client, &client, &sim).await;
    assert_eq!(sim.deposit(), DEFAULT_DEPOSIT - spent(&sim));
    report
}

/// What the transactions still debited cost.
fn spent(sim: &DigiflazzSimulator) -> i64 {
    sim.transactions()
        .iter()
        .filter(|t| t.status != "Gagal")
        .map(|t| t.price)
        .sum()
}

#[tokio::test]
async fn the_biller_suite_passes_against_a_client_that_follows_the_protocol() {
    let report = suite(|url| reference::Client::new(url, USER, KEY, SECRET)).await;
    assert!(report.is_success(), "{report}");
    assert_eq!(report.outcomes.len(), 13);
}

#[tokio::test]
async fn the_biller_suite_catches_a_client_that_status_checks_what_it_never_sent() {
    let report =
        suite(|url| reference::Client::new(url, USER, KEY, SECRET).with_careless_status()).await;
    let failed: Vec<&str> = report.failures().map(|(name, _)| name).collect();
    assert_eq!(
        failed,
        ["prepaid_status_without_a_recent_send_is_refused_without_a_request"],
        "{report}"
    );
}

#[tokio::test]
async fn the_biller_suite_catches_a_client_whose_event_ids_ignore_the_status() {
    let report =
        suite(|url| reference::Client::new(url, USER, KEY, SECRET).with_careless_event_ids()).await;
    let failed: Vec<&str> = report.failures().map(|(name, _)| name).collect();
    assert_eq!(
        failed,
        ["webhooks_verify_into_one_bill_update_and_forgeries_are_refused"],
        "{report}"
    );
}

#[tokio::test]
async fn the_biller_suite_catches_a_client_with_the_wrong_webhook_secret() {
    let report = suite(|url| reference::Client::new(url, USER, KEY, "another-secret")).await;
    let failed: Vec<&str> = report.failures().map(|(name, _)| name).collect();
    assert_eq!(
        failed,
        ["webhooks_verify_into_one_bill_update_and_forgeries_are_refused"],
        "{report}"
    );
}
