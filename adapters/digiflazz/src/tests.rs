//! The adapter against a tiny in-test buyer API: exact bodies and signs of every command,
//! the rc table per operation, how each failure is classified, the prepaid status guard,
//! postpaid amounts, PLN tokens, and the webhooks and their acknowledgements.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use contracts::biller::{BillerOrder, BillerTransaction, BillerTxState};
use contracts::inbound::{AckOutcome, EventKind, Inbound, InboundRequest, ResourceRef, Trust};
use contracts::{
    Amount, Biller, ErrorKind, InboundNotifications, OurReference, ProviderError, ProviderReference,
};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use secrecy::SecretString;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::date;
use url::Url;

use crate::{Config, Digiflazz};

const USERNAME: &str = "demo-user";
const API_KEY: &str = "dev-0000-key";
const WEBHOOK_SECRET: &str = "whsecret";
/// Published vectors for `demo-user` / `dev-0000-key` (§1.2).
const SIGN_DEPO: &str = "fa98b834ff5305c72f49bc2f26b61142";
const SIGN_PRICELIST: &str = "6ff316b0d970d663aa05327cbb0fe1f6";
const SIGN_DEPOSIT: &str = "b996153b6b47ecc109ffddafd87bd08d";
/// `md5("demo-user" + "dev-0000-key" + "TRX0001")`.
const REF: &str = "TRX0001";
const SIGN_REF: &str = "fb73add6ef3fea1fa6bf0f37a9006324";
/// `md5("demo-user" + "dev-0000-key" + "12345678901")`.
const METER: &str = "12345678901";
const SIGN_METER: &str = "4469cc3683428ed3866f786a7bca68f6";
const PHONE: &str = "087800001230";
const BILL_CUSTOMER: &str = "530000000001";
const NAME: &str = "SHINTA HANDAYANI";
const PLN_SN: &str = "5721-7714-3897-2629-3021/SHINTA HANDAYANI/R1M/900VA/14.5KWH";
const TOKEN: &str = "57217714389726293021";
const TRANSACTION: &str = "/v1/transaction";

/// What the stand-in answers: HTTP status, body, and a delay before answering.
type Answer = (u16, String, Duration);

/// One request the stand-in saw.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// The stand-in: records every request and answers each path from its script; the last
/// scripted answer repeats.
#[derive(Clone, Default)]
struct Stub {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<HashMap<String, VecDeque<Answer>>>>,
    base_url: String,
}

impl Stub {
    fn on(&self, path: &str, answers: Vec<Answer>) -> &Stub {
        self.script
            .lock()
            .expect("lock")
            .insert(path.to_owned(), answers.into());
        self
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn forget(&self) {
        self.seen.lock().expect("lock").clear();
    }

    fn only(&self) -> Seen {
        let seen = self.seen();
        assert_eq!(seen.len(), 1, "exactly one request");
        seen[0].clone()
    }

    fn answer(&self, path: &str) -> Answer {
        let mut script = self.script.lock().expect("lock");
        match script.get_mut(path) {
            Some(answers) if answers.len() > 1 => answers.pop_front().expect("an answer"),
            Some(answers) => answers.front().cloned().expect("an answer"),
            None => (404, "no such path".to_owned(), Duration::ZERO),
        }
    }
}

async fn handle(
    State(stub): State<Stub>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let path = uri.path().to_owned();
    stub.seen.lock().expect("lock").push(Seen {
        method,
        path: path.clone(),
        headers,
        body,
    });
    let (status, body, delay) = stub.answer(&path);
    tokio::time::sleep(delay).await;
    (StatusCode::from_u16(status).expect("status"), body)
}

/// Starts a stand-in with an empty script.
async fn serve() -> Stub {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stub = Stub {
        base_url: format!("http://{addr}"),
        ..Stub::default()
    };
    let app = Router::new().fallback(handle).with_state(stub.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    stub
}

fn config(base_url: &str) -> Config {
    let mut config = Config::new(
        USERNAME,
        SecretString::from(API_KEY),
        SecretString::from(WEBHOOK_SECRET),
    );
    config.base_url = Url::parse(base_url).expect("base url");
    config.request_timeout_ms = 3_000;
    config
}

fn adapter(config: Config) -> Digiflazz {
    Digiflazz::new(config, reqwest::Client::new()).expect("valid config")
}

fn digiflazz(stub: &Stub) -> Digiflazz {
    adapter(config(&stub.base_url))
}

fn impatient(stub: &Stub) -> Digiflazz {
    let mut config = config(&stub.base_url);
    config.request_timeout_ms = 300;
    adapter(config)
}

fn rupiah(value: i64) -> Amount {
    Amount::new(value).expect("an amount")
}

fn answer(status: u16, body: Value) -> Answer {
    (status, body.to_string(), Duration::ZERO)
}

fn raw(status: u16, body: &str) -> Answer {
    (status, body.to_owned(), Duration::ZERO)
}

fn data(data: Value) -> Answer {
    answer(200, json!({ "data": data }))
}

fn gagal(rc: &str, message: &str) -> Value {
    json!({"rc": rc, "status": "Gagal", "message": message})
}

fn prepaid_order() -> BillerOrder {
    BillerOrder::new(
        OurReference(REF.to_owned()),
        "xld10".to_owned(),
        PHONE.to_owned(),
        false,
    )
}

fn pln_order() -> BillerOrder {
    BillerOrder::new(
        OurReference(REF.to_owned()),
        "pln20".to_owned(),
        METER.to_owned(),
        false,
    )
}

fn postpaid_order() -> BillerOrder {
    BillerOrder::new(
        OurReference(REF.to_owned()),
        "pln".to_owned(),
        BILL_CUSTOMER.to_owned(),
        true,
    )
}

fn topup_data(status: &str, rc: &str, sn: &str, message: &str) -> Value {
    json!({
        "ref_id": REF, "customer_no": PHONE, "buyer_sku_code": "xld10", "message": message,
        "status": status, "rc": rc, "sn": sn, "buyer_last_saldo": 98500, "price": 1500,
        "tele": "@seller", "wa": "081200000000",
    })
}

fn topup(status: &str, rc: &str, sn: &str, message: &str) -> Answer {
    data(topup_data(status, rc, sn, message))
}

/// A `pay-pasca` / `status-pasca` answer for [`BILL_CUSTOMER`], one sheet.
fn pasca_data(status: &str, rc: &str, sn: &str, message: &str) -> Value {
    json!({
        "ref_id": REF, "customer_no": BILL_CUSTOMER, "customer_name": "Budi Santoso",
        "buyer_sku_code": "pln", "admin": 2500, "message": message, "status": status,
        "rc": rc, "sn": sn, "buyer_last_saldo": 490000, "price": 10000,
        "selling_price": 11000,
        "desc": {"tarif": "R1", "daya": 1300, "lembar_tagihan": 1, "detail": [
            {"periode": "202611", "nilai_tagihan": "8000", "admin": "2500", "denda": "500",
             "meter_awal": "00080000", "meter_akhir": "00081000"}]},
    })
}

fn pasca(status: &str, rc: &str, sn: &str, message: &str) -> Answer {
    data(pasca_data(status, rc, sn, message))
}

/// The worked example (§1.3.5): `530000000001` one sheet, `530000000002` two, everything
/// doubled.
fn inquiry_data(sheets: i64) -> Value {
    let detail: Vec<Value> = (1..=sheets)
        .map(|i| json!({"periode": format!("20261{i}"), "nilai_tagihan": "8000", "admin": "2500", "denda": "500"}))
        .collect();
    json!({
        "ref_id": REF, "customer_no": format!("53000000000{sheets}"),
        "customer_name": "Budi Santoso", "buyer_sku_code": "pln", "admin": 2500 * sheets,
        "message": "Transaksi Sukses", "status": "Sukses", "rc": "00",
        "buyer_last_saldo": 500000, "price": 10000 * sheets, "selling_price": 11000 * sheets,
        "desc": {"tarif": "R1", "daya": 1300, "lembar_tagihan": sheets,
                 "alamat": "JL. MERDEKA 1", "jatuh_tempo": "20261120", "detail": detail},
    })
}

fn assert_json_post(seen: &Seen, path: &str) {
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, path);
    assert_eq!(seen.header("content-type"), Some("application/json"));
}

/// The failure kind, or the state of the transaction.
fn outcome(result: Result<BillerTransaction, ProviderError>) -> Result<BillerTxState, ErrorKind> {
    result.map(|t| t.state).map_err(|e| e.kind)
}

fn failed(code: &str, reason: &str) -> Result<BillerTxState, ErrorKind> {
    Ok(BillerTxState::Failed {
        code: code.to_owned(),
        reason: reason.to_owned(),
    })
}

// ---------------------------------------------------------------------------------------
// Balance (§1.3.1) and price list (§1.3.2)

#[tokio::test]
async fn the_balance_is_asked_with_the_depo_sign() {
    let stub = serve().await;
    stub.on("/v1/cek-saldo", vec![data(json!({"deposit": 1_500_000}))]);
    let balance = digiflazz(&stub).balance().await.expect("balance");
    assert_eq!(balance, rupiah(1_500_000));
    let seen = stub.only();
    assert_json_post(&seen, "/v1/cek-saldo");
    assert_eq!(
        seen.json(),
        json!({"cmd": "deposit", "username": USERNAME, "sign": SIGN_DEPO})
    );
}

#[tokio::test]
async fn balances_are_read_leniently_and_refusals_by_rc() {
    let stub = serve().await;
    let digiflazz = digiflazz(&stub);
    stub.on("/v1/cek-saldo", vec![data(json!({"deposit": "250000"}))]);
    assert_eq!(digiflazz.balance().await.expect("string"), rupiah(250000));
    stub.on("/v1/cek-saldo", vec![data(json!({"deposit": 250000.0}))]);
    assert_eq!(digiflazz.balance().await.expect("float"), rupiah(250000));
    let cases = [
        (gagal("41", "Signature Anda salah"), ErrorKind::Unauthorized),
        (gagal("42", "Username salah"), ErrorKind::Unauthorized),
        (
            gagal("45", "IP Anda tidak dikenali"),
            ErrorKind::Unauthorized,
        ),
        (json!({"deposit": 1000.5}), ErrorKind::Protocol),
        (json!({"saldo": 1000}), ErrorKind::Unavailable),
    ];
    for (body, kind) in cases {
        stub.on("/v1/cek-saldo", vec![data(body.clone())]);
        let err = digiflazz.balance().await.expect_err("refused");
        assert_eq!(err.kind, kind, "{body}");
    }
}

fn prepaid_item(sku: &str, price: Value, buyer: bool, seller: bool) -> Value {
    json!({
        "product_name": format!("Produk {sku}"), "category": "Pulsa", "brand": "XL",
        "type": "Umum", "seller_name": "Seller", "price": price, "buyer_sku_code": sku,
        "buyer_product_status": buyer, "seller_product_status": seller,
        "unlimited_stock": true, "stock": 0, "multi": true, "start_cut_off": "23:45",
        "end_cut_off": "00:15", "desc": "Pulsa XL 10.000",
    })
}

#[tokio::test]
async fn the_price_list_is_two_calls_prepaid_then_postpaid() {
    let stub = serve().await;
    let prepaid = json!([
        prepaid_item("xld10", json!(10250), true, true),
        prepaid_item("xld25", json!("25100"), true, false),
        prepaid_item("xld50", json!(50100.5), true, true),
        {"product_name": "Tanpa SKU"},
    ]);
    let pasca = json!([{
        "product_name": "PLN Pascabayar", "category": "Pascabayar", "brand": "PLN",
        "seller_name": "Seller", "admin": 2500, "commission": "1000",
        "buyer_sku_code": "pln", "buyer_product_status": true,
        "seller_product_status": true, "desc": "Tagihan PLN",
    }]);
    stub.on("/v1/price-list", vec![data(prepaid), data(pasca)]);
    let products = digiflazz(&stub).products().await.expect("products");

    let seen = stub.seen();
    assert_eq!(seen.len(), 2);
    for (request, cmd) in seen.iter().zip(["prepaid", "pasca"]) {
        assert_json_post(request, "/v1/price-list");
        assert_eq!(
            request.json(),
            json!({"cmd": cmd, "username": USERNAME, "sign": SIGN_PRICELIST})
        );
    }
    let codes: Vec<_> = products.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(
        codes,
        ["xld10", "xld25", "pln"],
        "unreadable items are left out"
    );
    let xld10 = &products[0];
    assert_eq!(
        (
            xld10.name.as_str(),
            xld10.category.as_str(),
            xld10.brand.as_str()
        ),
        ("Produk xld10", "Pulsa", "XL")
    );
    assert!(!xld10.postpaid && xld10.available);
    assert_eq!(xld10.price, Some(rupiah(10250)));
    assert_eq!((xld10.admin_fee, xld10.commission), (None, None));
    assert_eq!(xld10.description, "Pulsa XL 10.000");
    assert_eq!(products[1].price, Some(rupiah(25100)));
    assert!(!products[1].available, "seller status off");
    let pln = &products[2];
    assert!(pln.postpaid && pln.available);
    assert_eq!(pln.price, None);
    assert_eq!(pln.admin_fee, Some(rupiah(2500)));
    assert_eq!(pln.commission, Some(rupiah(1000)));
}

#[tokio::test]
async fn a_refused_price_list_stops_at_the_first_call() {
    let stub = serve().await;
    let digiflazz = digiflazz(&stub);
    let cases = [
        (
            gagal("83", "Limitasi pengecekan pricelist"),
            ErrorKind::RateLimited,
        ),
        (gagal("41", "Signature Anda salah"), ErrorKind::Unauthorized),
        (json!({"message": "?"}), ErrorKind::Unavailable),
    ];
    for (body, kind) in cases {
        stub.forget();
        stub.on("/v1/price-list", vec![data(body.clone())]);
        let err = digiflazz.products().await.expect_err("refused");
        assert_eq!(err.kind, kind, "{body}");
        assert_eq!(stub.seen().len(), 1);
    }
}

// ---------------------------------------------------------------------------------------
// PLN customer validation (§1.3.8)

#[tokio::test]
async fn a_pln_meter_is_validated_with_the_customer_number_sign() {
    let stub = serve().await;
    stub.on(
        "/v1/inquiry-pln",
        vec![data(json!({
            "message": "Transaksi Sukses", "status": "Sukses", "rc": "00",
            "customer_no": METER, "meter_no": "32127971177", "subscriber_id": "523301888548",
            "name": NAME, "segment_power": "R1 /000001300",
        }))],
    );
    let customer = digiflazz(&stub)
        .validate_customer("pln20", METER)
        .await
        .expect("valid");
    assert_eq!(customer.customer_no, METER);
    assert_eq!(customer.name, NAME);
    assert_eq!(
        customer.details,
        json!({"meter_no": "32127971177", "subscriber_id": "523301888548",
               "segment_power": "R1 /000001300"})
    );
    let seen = stub.only();
    assert_json_post(&seen, "/v1/inquiry-pln");
    assert_eq!(
        seen.json(),
        json!({"username": USERNAME, "customer_no": METER, "sign": SIGN_METER})
    );
}

#[tokio::test]
async fn a_refused_validation_is_an_error_by_rc() {
    let stub = serve().await;
    let digiflazz = digiflazz(&stub);
    let cases = [
        (gagal("54", "Nomor tujuan salah"), ErrorKind::Rejected, "54"),
        (
            gagal("45", "IP Anda tidak dikenali"),
            ErrorKind::Unauthorized,
            "45",
        ),
        (
            gagal("86", "Limitasi pengecekan nomor PLN"),
            ErrorKind::Rejected,
            "86",
        ),
        (
            json!({"status": "Pending", "rc": "03", "message": "Pending"}),
            ErrorKind::Unavailable,
            "03",
        ),
    ];
    for (body, kind, rc) in cases {
        stub.on("/v1/inquiry-pln", vec![data(body.clone())]);
        let err = digiflazz
            .validate_customer("pln20", "12345678909")
            .await
            .expect_err("refused");
        assert_eq!(err.kind, kind, "{body}");
        assert_eq!(err.provider_code.as_deref(), Some(rc));
        assert!(!err.message.contains("12345678909"));
    }
    stub.forget();
    for number in ["", "1234 5678", "12345678901\n"] {
        let err = digiflazz
            .validate_customer("pln20", number)
            .await
            .expect_err("unsent");
        assert_eq!(err.kind, ErrorKind::Rejected);
    }
    assert!(stub.seen().is_empty());
}

// ---------------------------------------------------------------------------------------
// Prepaid purchase (§1.3.4)

#[tokio::test]
async fn a_purchase_sends_the_exact_topup_body() {
    let stub = serve().await;
    stub.on(
        TRANSACTION,
        vec![topup("Sukses", "00", "1234567890", "Transaksi Sukses")],
    );
    let transaction = digiflazz(&stub)
        .purchase(&prepaid_order())
        .await
        .expect("bought");
    let seen = stub.only();
    assert_json_post(&seen, TRANSACTION);
    assert_eq!(
        seen.json(),
        json!({"username": USERNAME, "buyer_sku_code": "xld10", "customer_no": PHONE,
               "ref_id": REF, "sign": SIGN_REF})
    );
    assert_eq!(transaction.reference, OurReference(REF.to_owned()));
    assert_eq!(transaction.state, BillerTxState::Success);
    assert_eq!(transaction.provider_reference, None);
    assert_eq!(transaction.serial_number.as_deref(), Some("1234567890"));
    assert_eq!(transaction.token, None);
    assert_eq!(transaction.biller_cost, Some(rupiah(1500)));
    assert_eq!(transaction.customer_total, None);
    assert_eq!(transaction.balance_after, Some(rupiah(98500)));
    assert_eq!(transaction.provider_status, "00");
    assert_eq!(transaction.message, "Transaksi Sukses");
    assert_eq!(transaction.details, Value::Null);
}

#[tokio::test]
async fn testing_and_max_price_are_sent_when_set() {
    let stub = serve().await;
    stub.on(TRANSACTION, vec![topup("Pending", "03", "", "Pending")]);
    let mut config = config(&stub.base_url);
    config.testing = true;
    let order = prepaid_order().max_price(Some(rupiah(1600)));
    let transaction = adapter(config).purchase(&order).await.expect("pending");
    assert_eq!(transaction.state, BillerTxState::Pending);
    assert_eq!(transaction.serial_number, None);
    assert_eq!(
        stub.only().json(),
        json!({"username": USERNAME, "buyer_sku_code": "xld10", "customer_no": PHONE,
               "ref_id": REF, "sign": SIGN_REF, "testing": true, "max_price": 1600})
    );
}

#[tokio::test]
async fn a_pln_purchase_carries_the_token_and_its_details() {
    let stub = serve().await;
    let digiflazz = digiflazz(&stub);
    let with_sn = |sn: &str| {
        let mut body = topup_data("Sukses", "00", sn, "Transaksi Sukses");
        body["customer_no"] = json!(METER);
        body["buyer_sku_code"] = json!("pln20");
        data(body)
    };
    stub.on(TRANSACTION, vec![with_sn(PLN_SN)]);
    let transaction = digiflazz.purchase(&pln_order()).await.expect("bought");
    assert_eq!(transaction.serial_number.as_deref(), Some(PLN_SN));
    assert_eq!(transaction.token.as_deref(), Some(TOKEN));
    assert_eq!(
        transaction.details,
        json!({"token": TOKEN, "name": NAME, "tariff": "R1M", "power": "900VA",
               "kwh": "14.5KWH"})
    );

    stub.on(
        TRANSACTION,
        vec![with_sn(
            "5721 7714 3897 2629 3021 /SHINTA-HANDAYANI  /R1M/900VA/14.5KWH",
        )],
    );
    let transaction = digiflazz.purchase(&pln_order()).await.expect("bought");
    assert_eq!(transaction.token.as_deref(), Some(TOKEN));
    assert_eq!(transaction.details["name"], "SHINTA-HANDAYANI");

    let short = "5721-7714-3897-2629-302/SHINTA HANDAYANI/R1M/900VA/14.5KWH";
    stub.on(TRANSACTION, vec![with_sn(short)]);
    let transaction = digiflazz.purchase(&pln_order()).await.expect("bought");
    assert_eq!(transaction.serial_number.as_deref(), Some(short));
    assert_eq!(transaction.token, None);
    assert_eq!(transaction.details, Value::Null);
}

#[tokio::test]
async fn a_failed_or_refunded_purchase_delivers_no_token() {
    let stub = serve().await;
    let mut body = topup_data("Gagal", "74", PLN_SN, "Transaksi Refund");
    body["buyer_sku_code"] = json!("pln20");
    stub.on(TRANSACTION, vec![data(body)]);
    let transaction = digiflazz(&stub)
        .purchase(&pln_order())
        .await
        .expect("answered");
    assert_eq!(
        Ok(transaction.state.clone()),
        failed("74", "Transaksi Refund")
    );
    assert_eq!(transaction.serial_number.as_deref(), Some(PLN_SN));
    assert_eq!(transaction.token, None);
}

/// Every rc of §1.4 as a money-moving or status answer: (status, rc, expected).
fn rc_table() -> Vec<(&'static str, &'static str, Result<(), ErrorKind>)> {
    use ErrorKind::Unavailable;
    use ErrorKind::{Duplicate, InsufficientBalance, RateLimited, Rejected, Unauthorized};
    let mut cases = vec![
        ("Sukses", "00", Ok(())),
        ("Pending", "03", Ok(())),
        ("Pending", "99", Ok(())),
        ("Gagal", "44", Err(InsufficientBalance)),
        ("Gagal", "41", Err(Unauthorized)),
        ("Gagal", "42", Err(Unauthorized)),
        ("Gagal", "45", Err(Unauthorized)),
        ("Gagal", "49", Err(Duplicate)),
        ("Gagal", "83", Err(RateLimited)),
        ("Gagal", "62", Err(Unavailable)),
        ("Gagal", "66", Err(Unavailable)),
        ("Gagal", "68", Err(Unavailable)),
    ];
    for rc in [
        "40", "43", "47", "56", "61", "63", "64", "65", "67", "69", "80", "81", "82", "87", "88",
    ] {
        cases.push(("Gagal", rc, Err(Rejected)));
    }
    for rc in [
        "01", "02", "51", "52", "53", "54", "55", "57", "58", "59", "60", "70", "71", "72", "73",
        "74", "84", "85", "86",
    ] {
        cases.push(("Gagal", rc, Ok(())));
    }
    cases
}

/// Checks one answer against the table: `Ok(())` rows are the state of `status`.
fn assert_row(
    status: &str,
    rc: &str,
    expected: Result<(), ErrorKind>,
    result: Result<BillerTransaction, ProviderError>,
    message: &str,
) {
    match expected {
        Ok(()) => {
            let transaction = result.expect("a transaction");
            let state = match status {
                "Sukses" => BillerTxState::Success,
                "Pending" => BillerTxState::Pending,
                _ => BillerTxState::Failed {
                    code: rc.to_owned(),
                    reason: message.to_owned(),
                },
            };
            assert_eq!(transaction.state, state, "{status} {rc}");
            assert_eq!(transaction.provider_status, rc);
            assert_eq!(transaction.message, message);
        }
        Err(kind) => {
            let err = result.expect_err("an error");
            assert_eq!(err.kind, kind, "{status} {rc}");
            assert_eq!(err.provider_code.as_deref(), Some(rc));
            assert_eq!(err.message, message);
        }
    }
}

#[tokio::test]
async fn purchase_answers_follow_the_rc_table() {
    let stub = serve().await;
    let digiflazz = digiflazz(&stub);
    for (status, rc, expected) in rc_table() {
        let message = format!("pesan {rc}");
        stub.on(TRANSACTION, vec![topup(status, rc, "", &message)]);
        let result = digiflazz.purchase(&prepaid_order()).await;
        assert_row(status, rc, expected, result, &message);
    }
}

#[tokio::test]
async fn pay_and_status_answers_follow_the_rc_table() {
    let stub = serve().await;
    let digiflazz = digiflazz(&stub);
    let recent = prepaid_order().sent_at(Some(OffsetDateTime::now_utc()));
    for (status, rc, expected) in rc_table() {
        let message = format!("pesan {rc}");
        stub.on(TRANSACTION, vec![pasca(status, rc, "", &message)]);
        let result = digiflazz.pay(&postpaid_order()).await;
        assert_row(status, rc, expected, result, &message);
        let result = digiflazz.status(&postpaid_order()).await;
        if rc == "50" {
            assert_eq!(outcome(result), Ok(BillerTxState::NotFound));
        } else {
            assert_row(status, rc, expected, result, &message);
        }
        stub.on(TRANSACTION, vec![topup(status, rc, "", &message)]);
        let result = digiflazz.status(&recent).await;
        assert_row(status, rc, expected, result, &message);
    }
}

#[tokio::test]
async fn business_errors_are_read_whatever_the_http_status() {
    let stub = serve().await;
    let digiflazz = digiflazz(&stub);
    let cases = [
        (
            400,
            gagal("41", "Signature Anda salah"),
            Err(ErrorKind::Unauthorized),
        ),
        (
            403,
            gagal("45", "IP Anda tidak dikenali"),
            Err(ErrorKind::Unauthorized),
        ),
        (
            500,
            gagal("44", "Saldo tidak cukup"),
            Err(ErrorKind::InsufficientBalance),
        ),
        (
            400,
            gagal("02", "Transaksi Gagal"),
            failed("02", "Transaksi Gagal"),
        ),
        (
            200,
            topup_data("Sukses", "00", "1234567890", "Transaksi Sukses"),
            Ok(BillerTxState::Success),
        ),
    ];
    for (status, body, expected) in cases {
        stub.on(TRANSACTION, vec![answer(status, json!({ "data": body }))]);
        let result = digiflazz.purchase(&prepaid_order()).await;
        assert_eq!(outcome(result), expected, "HTTP {status}");
    }
}

#[tokio::test]
async fn unusable_orders_are_refused_before_anything_is_sent() {
    let stub = serve().await;
    stub.on(TRANSACTION, vec![topup("Sukses", "00", "1", "ok")]);
    let digiflazz = digiflazz(&stub);
    let order = |reference: &str, code: &str, customer: &str| {
        BillerOrder::new(
            OurReference(reference.to_owned()),
            code.to_owned(),
            customer.to_owned(),
            false,
        )
    };
    let orders = [
        order("trx0001", "xld10", PHONE),
        order("TRX-0001", "xld10", PHONE),
        order("", "xld10", PHONE),
        order(&"A".repeat(27), "xld10", PHONE),
        order(REF, "", PHONE),
        order(REF, "xld 10", PHONE),
        order(REF, "xld10", ""),
        order(REF, "xld10", "0878 0000 1230"),
        order(REF, "xld10", "087800001230\u{e9}"),
    ];
    for order in orders {
        let err = digiflazz.purchase(&order).await.expect_err("refused");
        assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
        assert!(!err.message.contains("0878"), "{err}");
        let mut postpaid = order.clone();
        postpaid.postpaid = true;
        for err in [
            digiflazz.inquire(&postpaid).await.expect_err("refused"),
            digiflazz.pay(&postpaid).await.expect_err("refused"),
            digiflazz.status(&postpaid).await.expect_err("refused"),
        ] {
            assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
        }
    }
    let mismatched = [
        digiflazz.purchase(&postpaid_order()).await.err(),
        digiflazz.inquire(&prepaid_order()).await.err(),
        digiflazz.pay(&prepaid_order()).await.err(),
    ];
    for err in mismatched {
        assert_eq!(err.expect("refused").kind, ErrorKind::Rejected);
    }
    assert!(stub.seen().is_empty());
}

#[tokio::test]
async fn contradicting_answers_are_protocol_errors() {
    let stub = serve().await;
    let digiflazz = digiflazz(&stub);
    let mut other_ref = topup_data("Sukses", "00", "1", "ok");
    other_ref["ref_id"] = json!("TRX0002");
    let mut fraction = topup_data("Sukses", "00", "1", "ok");
    fraction["price"] = json!(1500.5);
    let mut typed = topup_data("Sukses", "00", "1", "ok");
    typed["sn"] = json!({"token": 1});
    for body in [other_ref, fraction, typed] {
        stub.on(TRANSACTION, vec![data(body.clone())]);
        let err = digiflazz
            .purchase(&prepaid_order())
            .await
            .expect_err("protocol");
        assert_eq!(err.kind, ErrorKind::Protocol, "{body}");
        assert!(err.kind.is_ambiguous());
    }
}

#[tokio::test]
async fn an_unknown_status_is_pending_never_failed() {
    let stub = serve().await;
    stub.on(TRANSACTION, vec![topup("Diproses", "03", "", "Diproses")]);
    let transaction = digiflazz(&stub)
        .purchase(&prepaid_order())
        .await
        .expect("answered");
    assert_eq!(transaction.state, BillerTxState::Pending);
}

#[tokio::test]
async fn webhook_style_answers_fill_the_provider_reference_and_numeric_strings() {
    let stub = serve().await;
    let mut body = topup_data("Sukses", "00", "1234567890", "Transaksi Sukses");
    body["trx_id"] = json!("5ca22497cc6d0f965d9f84ac");
    body["price"] = json!("1500");
    body["buyer_last_saldo"] = json!("98500.00");
    stub.on(TRANSACTION, vec![data(body)]);
    let transaction = digiflazz(&stub)
        .purchase(&prepaid_order())
        .await
        .expect("bought");
    assert_eq!(
        transaction.provider_reference,
        Some(ProviderReference("5ca22497cc6d0f965d9f84ac".to_owned()))
    );
    assert_eq!(transaction.biller_cost, Some(rupiah(1500)));
    assert_eq!(transaction.balance_after, Some(rupiah(98500)));
}

// ---------------------------------------------------------------------------------------
// Postpaid inquiry (§1.3.5) and payment (§1.3.6)

fn bill_order(customer: &str) -> BillerOrder {
    BillerOrder::new(
        OurReference(REF.to_owned()),
        "pln".to_owned(),
        customer.to_owned(),
        true,
    )
}

#[tokio::test]
async fn an_inquiry_of_one_sheet_matches_the_worked_example() {
    let stub = serve().await;
    stub.on(TRANSACTION, vec![data(inquiry_data(1))]);
    let mut config = config(&stub.base_url);
    config.testing = true;
    let inquiry = adapter(config)
        .inquire(&bill_order(BILL_CUSTOMER))
        .await
        .expect("bill");
    let seen = stub.only();
    assert_json_post(&seen, TRANSACTION);
    assert_eq!(
        seen.json(),
        json!({"commands": "inq-pasca", "username": USERNAME, "buyer_sku_code": "pln",
               "customer_no": BILL_CUSTOMER, "ref_id": REF, "sign": SIGN_REF,
               "testing": true})
    );
    assert_eq!(inquiry.reference, OurReference(REF.to_owned()));
    assert_eq!(inquiry.provider_reference, None);
    assert_eq!(inquiry.customer_name, "Budi Santoso");
    assert_eq!(inquiry.amount, rupiah(8000));
    assert_eq!(inquiry.admin_fee, rupiah(2500));
    assert_eq!(inquiry.penalty, rupiah(500));
    assert_eq!(inquiry.customer_total, rupiah(11000));
    assert_eq!(inquiry.biller_cost, rupiah(10000));
    assert_eq!(inquiry.periods.len(), 1);
    let sheet = &inquiry.periods[0];
    assert_eq!(
        (
            sheet.period.as_str(),
            sheet.amount,
            sheet.admin_fee,
            sheet.penalty
        ),
        ("202611", 8000, 2500, 500)
    );
    assert_eq!(
        (sheet.meter_start.clone(), sheet.meter_end.clone()),
        (None, None)
    );
    assert_eq!(
        inquiry.details,
        json!({"tarif": "R1", "daya": 1300, "lembar_tagihan": 1, "alamat": "JL. MERDEKA 1",
               "jatuh_tempo": "20261120"})
    );
}

#[tokio::test]
async fn two_sheets_double_every_amount() {
    let stub = serve().await;
    stub.on(TRANSACTION, vec![data(inquiry_data(2))]);
    let inquiry = digiflazz(&stub)
        .inquire(&bill_order("530000000002"))
        .await
        .expect("bill");
    assert_eq!(
        stub.only().json(),
        json!({"commands": "inq-pasca", "username": USERNAME, "buyer_sku_code": "pln",
               "customer_no": "530000000002", "ref_id": REF, "sign": SIGN_REF})
    );
    assert_eq!(inquiry.amount, rupiah(16000));
    assert_eq!(inquiry.admin_fee, rupiah(5000));
    assert_eq!(inquiry.penalty, rupiah(1000));
    assert_eq!(inquiry.customer_total, rupiah(22000));
    assert_eq!(inquiry.biller_cost, rupiah(20000));
    let periods: Vec<_> = inquiry.periods.iter().map(|p| p.period.as_str()).collect();
    assert_eq!(periods, ["202611", "202612"]);
    assert_eq!(inquiry.details["lembar_tagihan"], 2);
}

#[tokio::test]
async fn sheets_without_bill_amounts_take_the_amount_from_the_total() {
    let stub = serve().await;
    stub.on(
        TRANSACTION,
        vec![data(json!({
            "ref_id": REF, "customer_no": "8801234560001", "customer_name": "Budi",
            "buyer_sku_code": "bpjs", "admin": 2500, "message": "Transaksi Sukses",
            "status": "Sukses", "rc": "00", "price": 151000, "selling_price": 152500,
            "desc": {"jumlah_peserta": "3", "lembar_tagihan": 1, "alamat": "JAKARTA",
                     "detail": [{"periode": "02"}]},
        }))],
    );
    let mut order = bill_order("8801234560001");
    order.product_code = "bpjs".to_owned();
    let inquiry = digiflazz(&stub).inquire(&order).await.expect("bill");
    assert_eq!(inquiry.amount, rupiah(150000));
    assert_eq!(inquiry.penalty, Amount::ZERO);
    assert_eq!(inquiry.periods[0].period, "02");
    assert_eq!(inquiry.periods[0].amount, 0);
    assert_eq!(
        inquiry.details,
        json!({"jumlah_peserta": "3", "lembar_tagihan": 1, "alamat": "JAKARTA"})
    );
}

#[tokio::test]
async fn a_failed_inquiry_is_an_error_whatever_the_code() {
    let stub = serve().await;
    let digiflazz = digiflazz(&stub);
    let cases = [
        (gagal("02", "Transaksi Gagal"), ErrorKind::Rejected, "02"),
        (
            gagal("60", "Tagihan belum tersedia"),
            ErrorKind::Rejected,
            "60",
        ),
        (gagal("01", "Timeout"), ErrorKind::Rejected, "01"),
        (
            gagal("44", "Saldo tidak cukup"),
            ErrorKind::InsufficientBalance,
            "44",
        ),
        (gagal("49", "Ref ID tidak unik"), ErrorKind::Duplicate, "49"),
        (gagal("42", "Username salah"), ErrorKind::Unauthorized, "42"),
        (
            json!({"status": "Pending", "rc": "99", "message": "DF Router Issue"}),
            ErrorKind::Unavailable,
            "99",
        ),
    ];
    for (body, kind, rc) in cases {
        stub.on(TRANSACTION, vec![data(body.clone())]);
        let err = digiflazz
            .inquire(&bill_order("530000000003"))
            .await
            .expect_err("no bill");
        assert_eq!(err.kind, kind, "{body}");
        assert_eq!(err.provider_code.as_deref(), Some(rc));
    }
    let mut no_price = inquiry_data(1);
    if let Some(map) = no_price.as_object_mut() {
        map.remove("selling_price");
    }
    stub.on(TRANSACTION, vec![data(no_price)]);
    let err = digiflazz
        .inquire(&bill_order(BILL_CUSTOMER))
        .await
        .expect_err("protocol");
    assert_eq!(err.kind, ErrorKind::Protocol);
}

#[tokio::test]
async fn a_payment_sends_pay_pasca_and_reports_the_receipt() {
    let stub = serve().await;
    let mut body = pasca_data("Sukses", "00", "0123456789012345678901234567ABCD", "Sukses");
    body["trx_id"] = json!("5ca22497cc6d0f965d9f84ad");
    stub.on(TRANSACTION, vec![data(body)]);
    let transaction = digiflazz(&stub).pay(&postpaid_order()).await.expect("paid");
    let seen = stub.only();
    assert_json_post(&seen, TRANSACTION);
    assert_eq!(
        seen.json(),
        json!({"commands": "pay-pasca", "username": USERNAME, "buyer_sku_code": "pln",
               "customer_no": BILL_CUSTOMER, "ref_id": REF, "sign": SIGN_REF})
    );
    assert_eq!(transaction.state, BillerTxState::Success);
    assert_eq!(
        transaction.serial_number.as_deref(),
        Some("0123456789012345678901234567ABCD")
    );
    assert_eq!(transaction.token, None, "a postpaid receipt is no token");
    assert_eq!(
        transaction.provider_reference,
        Some(ProviderReference("5ca22497cc6d0f965d9f84ad".to_owned()))
    );
    assert_eq!(transaction.biller_cost, Some(rupiah(10000)));
    assert_eq!(transaction.customer_total, Some(rupiah(11000)));
    assert_eq!(transaction.balance_after, Some(rupiah(490000)));
    assert_eq!(transaction.details["tarif"], "R1");
    assert_eq!(transaction.details["detail"][0]["meter_awal"], "00080000");
}

#[tokio::test]
async fn a_payment_without_inquiry_fails_finally() {
    let stub = serve().await;
    stub.on(
        TRANSACTION,
        vec![data(json!({"ref_id": REF, "status": "Gagal", "rc": "02",
                         "message": "Inquiry tidak ditemukan"}))],
    );
    let result = digiflazz(&stub).pay(&postpaid_order()).await;
    assert_eq!(outcome(result), failed("02", "Inquiry tidak ditemukan"));
}

// ---------------------------------------------------------------------------------------
// Status (§1.3.4, §1.3.7)

#[tokio::test]
async fn postpaid_status_asks_status_pasca_without_needing_sent_at() {
    let stub = serve().await;
    stub.on(
        TRANSACTION,
        vec![pasca("Sukses", "00", "S1234554321N", "Sukses")],
    );
    let transaction = digiflazz(&stub)
        .status(&postpaid_order())
        .await
        .expect("status");
    assert_eq!(
        stub.only().json(),
        json!({"commands": "status-pasca", "username": USERNAME, "buyer_sku_code": "pln",
               "customer_no": BILL_CUSTOMER, "ref_id": REF, "sign": SIGN_REF})
    );
    assert_eq!(transaction.state, BillerTxState::Success);
    assert_eq!(transaction.serial_number.as_deref(), Some("S1234554321N"));
}

#[tokio::test]
async fn an_unknown_postpaid_reference_is_not_found() {
    let stub = serve().await;
    let digiflazz = digiflazz(&stub);
    let answers = [
        json!({"status": "Gagal", "rc": "50", "message": "Data belum ada", "ref_id": REF,
               "customer_no": BILL_CUSTOMER, "buyer_sku_code": "pln"}),
        json!({"status": "Gagal", "rc": "02", "message": "Data belum ada", "ref_id": REF}),
    ];
    for body in answers {
        stub.on(TRANSACTION, vec![data(body.clone())]);
        let transaction = digiflazz.status(&postpaid_order()).await.expect("answered");
        assert_eq!(transaction.state, BillerTxState::NotFound, "{body}");
        assert_eq!(transaction.message, "Data belum ada");
        assert_eq!(transaction.serial_number, None);
    }
    stub.on(
        TRANSACTION,
        vec![data(
            json!({"status": "Gagal", "rc": "50", "message": "Transaksi tidak ditemukan",
                         "ref_id": REF}),
        )],
    );
    let result = digiflazz.pay(&postpaid_order()).await;
    assert_eq!(
        outcome(result),
        failed("50", "Transaksi tidak ditemukan"),
        "only a status check is not found"
    );
}

#[tokio::test]
async fn a_prepaid_status_check_without_sent_at_or_past_the_horizon_sends_nothing() {
    let stub = serve().await;
    stub.on(TRANSACTION, vec![topup("Sukses", "00", "1", "ok")]);
    let now = OffsetDateTime::now_utc();
    let digiflazz = digiflazz(&stub);
    for sent_at in [
        None,
        Some(now - time::Duration::days(89)),
        Some(now - time::Duration::days(400)),
    ] {
        let order = prepaid_order().sent_at(sent_at);
        let err = digiflazz.status(&order).await.expect_err("refused");
        assert_eq!(err.kind, ErrorKind::Rejected, "{sent_at:?}");
        assert!(!err.is_retryable());
    }
    let mut config = config(&stub.base_url);
    config.status_horizon_days = 30;
    let short = adapter(config);
    let order = prepaid_order().sent_at(Some(now - time::Duration::days(31)));
    let err = short.status(&order).await.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert!(stub.seen().is_empty(), "re-submitting would buy");
    let order = prepaid_order().sent_at(Some(now - time::Duration::days(29)));
    short.status(&order).await.expect("within the horizon");
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn a_prepaid_status_check_resends_the_identical_topup() {
    let stub = serve().await;
    stub.on(
        TRANSACTION,
        vec![
            topup("Pending", "03", "", "Pending"),
            topup("Sukses", "00", "1234567890", "Transaksi Sukses"),
        ],
    );
    let mut config = config(&stub.base_url);
    config.testing = true;
    let digiflazz = adapter(config);
    let order = prepaid_order().max_price(Some(rupiah(1600)));
    let bought = digiflazz.purchase(&order).await.expect("pending");
    assert_eq!(bought.state, BillerTxState::Pending);
    let order = order.sent_at(Some(OffsetDateTime::now_utc() - time::Duration::days(88)));
    let status = digiflazz.status(&order).await.expect("status");
    assert_eq!(status.state, BillerTxState::Success);
    assert_eq!(status.serial_number.as_deref(), Some("1234567890"));
    let seen = stub.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].json(), seen[1].json());
    assert_eq!(seen[1].json()["max_price"], 1600);
}

#[tokio::test]
async fn settlement_is_not_supported() {
    let stub = serve().await;
    let err = digiflazz(&stub)
        .settlement(date!(2026 - 11 - 01))
        .await
        .expect_err("unsupported");
    assert_eq!(err.kind, ErrorKind::NotSupported);
    assert!(stub.seen().is_empty());
}

// ---------------------------------------------------------------------------------------
// Transport

/// Runs every operation once; (name, failure kind).
async fn every_operation(digiflazz: &Digiflazz) -> Vec<(&'static str, ErrorKind)> {
    let recent = prepaid_order().sent_at(Some(OffsetDateTime::now_utc()));
    let kind = |result: Result<(), ProviderError>| result.expect_err("fails").kind;
    vec![
        (
            "purchase",
            kind(digiflazz.purchase(&prepaid_order()).await.map(drop)),
        ),
        (
            "pay",
            kind(digiflazz.pay(&postpaid_order()).await.map(drop)),
        ),
        ("status", kind(digiflazz.status(&recent).await.map(drop))),
        (
            "status-pasca",
            kind(digiflazz.status(&postpaid_order()).await.map(drop)),
        ),
        (
            "inquire",
            kind(digiflazz.inquire(&postpaid_order()).await.map(drop)),
        ),
        (
            "validate_customer",
            kind(digiflazz.validate_customer("pln20", METER).await.map(drop)),
        ),
        ("balance", kind(digiflazz.balance().await.map(drop))),
        ("products", kind(digiflazz.products().await.map(drop))),
        (
            "deposit_ticket",
            kind(
                digiflazz
                    .deposit_ticket(rupiah(1_000_000), "BCA", "PT Contoh")
                    .await
                    .map(drop),
            ),
        ),
    ]
}

fn expected_after_sending(operation: &str) -> ErrorKind {
    match operation {
        "purchase" | "pay" => ErrorKind::Timeout,
        _ => ErrorKind::Unavailable,
    }
}

fn script_everything(stub: &Stub, answer: Answer) {
    for path in [
        TRANSACTION,
        "/v1/inquiry-pln",
        "/v1/cek-saldo",
        "/v1/price-list",
        "/v1/deposit",
    ] {
        stub.on(path, vec![answer.clone()]);
    }
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_for_every_call() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let digiflazz = adapter(config(&format!("http://{addr}")));
    for (operation, kind) in every_operation(&digiflazz).await {
        assert_eq!(kind, ErrorKind::Unavailable, "{operation}");
    }
}

#[tokio::test]
async fn timeouts_are_ambiguous_for_purchase_and_pay_only() {
    let stub = serve().await;
    let slow = (
        200,
        json!({"data": topup_data("Sukses", "00", "1", "ok")}).to_string(),
        Duration::from_millis(1_500),
    );
    script_everything(&stub, slow);
    for (operation, kind) in every_operation(&impatient(&stub)).await {
        assert_eq!(kind, expected_after_sending(operation), "{operation}");
    }
}

#[tokio::test]
async fn server_errors_and_garbled_answers_are_ambiguous_for_purchase_and_pay_only() {
    let answers = [
        raw(500, "simulated fault"),
        raw(502, "<html>Bad Gateway</html>"),
        raw(503, "simulated outage"),
        raw(504, "simulated timeout"),
        raw(200, r#"{"data":{"ref_id":"TRX0001","status":"Suk"#),
        raw(200, "<html>ok</html>"),
        raw(200, r#"{"data":{}}"#),
        raw(200, r#"{"data":null}"#),
        raw(200, "{}"),
    ];
    for answer in answers {
        let stub = serve().await;
        let shown = format!("HTTP {} {}", answer.0, answer.1);
        script_everything(&stub, answer);
        for (operation, kind) in every_operation(&digiflazz(&stub)).await {
            assert_eq!(
                kind,
                expected_after_sending(operation),
                "{operation} after {shown}"
            );
        }
    }
}

#[tokio::test]
async fn proxy_refusals_without_a_digiflazz_body_are_classified_by_status() {
    let stub = serve().await;
    let digiflazz = digiflazz(&stub);
    for (status, kind) in [
        (401, ErrorKind::Unauthorized),
        (403, ErrorKind::Unauthorized),
        (404, ErrorKind::Rejected),
        (429, ErrorKind::RateLimited),
    ] {
        stub.on(TRANSACTION, vec![raw(status, "denied")]);
        let err = digiflazz
            .purchase(&prepaid_order())
            .await
            .expect_err("refused");
        assert_eq!(err.kind, kind, "HTTP {status}");
    }
}

// ---------------------------------------------------------------------------------------
// Deposit ticket (§1.3.3)

#[tokio::test]
async fn a_deposit_ticket_is_signed_with_deposit() {
    let stub = serve().await;
    stub.on(
        "/v1/deposit",
        vec![data(
            json!({"rc": "00", "bank": "BCA", "payment_method": "Bank Transfer",
                         "account_no": "6042888890", "notes": "DF-TOPUP-1234",
                         "amount": 10_000_123}),
        )],
    );
    let ticket = digiflazz(&stub)
        .deposit_ticket(rupiah(10_000_000), "BCA", "PT Contoh Sejahtera")
        .await
        .expect("ticket");
    assert_eq!(
        ticket,
        crate::DepositTicket {
            bank: "BCA".to_owned(),
            payment_method: "Bank Transfer".to_owned(),
            account_no: "6042888890".to_owned(),
            notes: "DF-TOPUP-1234".to_owned(),
            amount: rupiah(10_000_123),
        }
    );
    let seen = stub.only();
    assert_json_post(&seen, "/v1/deposit");
    assert_eq!(
        seen.json(),
        json!({"username": USERNAME, "amount": 10_000_000, "bank": "BCA",
               "owner_name": "PT Contoh Sejahtera", "sign": SIGN_DEPOSIT})
    );
}

#[tokio::test]
async fn a_refused_or_unusable_deposit_ticket_is_an_error() {
    let stub = serve().await;
    let digiflazz = digiflazz(&stub);
    stub.on(
        "/v1/deposit",
        vec![data(gagal("41", "Signature Anda salah"))],
    );
    let err = digiflazz
        .deposit_ticket(rupiah(1_000_000), "BCA", "PT Contoh")
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert_eq!(err.provider_code.as_deref(), Some("41"));
    stub.on(
        "/v1/deposit",
        vec![data(json!({"rc": "40", "message": "Payload Error"}))],
    );
    let err = digiflazz
        .deposit_ticket(rupiah(1_000_000), "BCA", "PT Contoh")
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Rejected);
    stub.forget();
    for (amount, bank, owner) in [
        (Amount::ZERO, "BCA", "PT Contoh"),
        (rupiah(1000), "", "PT Contoh"),
        (rupiah(1000), "B CA", "PT Contoh"),
        (rupiah(1000), "BCA", " "),
        (rupiah(1000), "BCA", "PT\nContoh"),
    ] {
        let err = digiflazz
            .deposit_ticket(amount, bank, owner)
            .await
            .expect_err("unsent");
        assert_eq!(err.kind, ErrorKind::Rejected);
    }
    assert!(stub.seen().is_empty());
}

// ---------------------------------------------------------------------------------------
// Webhooks (§1.5)

fn offline() -> Digiflazz {
    adapter(config("https://api.digiflazz.com"))
}

fn hmac_hex(secret: &str, body: &str) -> String {
    let key = PKey::hmac(secret.as_bytes()).expect("key");
    let mut signer = Signer::new(MessageDigest::sha1(), &key).expect("signer");
    signer.update(body.as_bytes()).expect("update");
    hex::encode(signer.sign_to_vec().expect("mac"))
}

fn webhook(method: &str, signature: Option<&str>, agent: &str, body: &str) -> InboundRequest {
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-digiflazz-event".to_owned(), "update".to_owned()),
        (
            "x-digiflazz-delivery".to_owned(),
            "1b2c3d4e-0000-4000-8000-000000000001".to_owned(),
        ),
        ("user-agent".to_owned(), agent.to_owned()),
    ];
    if let Some(signature) = signature {
        headers.push(("x-hub-signature".to_owned(), signature.to_owned()));
    }
    InboundRequest::new(
        method,
        "",
        headers,
        Bytes::from(body.to_owned()),
        OffsetDateTime::now_utc(),
    )
}

fn signed(body: &str) -> InboundRequest {
    let signature = format!("sha1={}", hmac_hex(WEBHOOK_SECRET, body));
    webhook("POST", Some(&signature), "DigiFlazz-Hookshot/1.0", body)
}

async fn event_of(request: &InboundRequest) -> contracts::inbound::InboundEvent {
    match offline().verify_and_parse(request).await.expect("verified") {
        Inbound::Events(notification) => {
            assert_eq!(notification.events.len(), 1);
            assert_eq!(notification.request_id, None);
            notification.events[0].clone()
        }
        other => panic!("expected events, got {other:?}"),
    }
}

fn bill_update(event: &contracts::inbound::InboundEvent) -> &BillerTransaction {
    match &event.kind {
        EventKind::BillUpdate { transaction } => transaction,
        other => panic!("expected a bill update, got {other:?}"),
    }
}

fn prepaid_webhook(status: &str, rc: &str, sn: &str) -> String {
    json!({"data": {
        "trx_id": "5ca22497cc6d0f965d9f84ac", "ref_id": REF, "customer_no": METER,
        "buyer_sku_code": "pln20", "message": "Transaksi Sukses", "status": status, "rc": rc,
        "buyer_last_saldo": 98500, "sn": sn, "price": 20500, "tele": "@seller",
        "wa": "081200000000",
    }})
    .to_string()
}

#[tokio::test]
async fn the_published_vector_verifies_prefixed_and_bare() {
    let body = r#"{"data":{"ref_id":"TRX-0001","status":"Sukses"}}"#;
    for signature in [
        "sha1=1420c13590e4e35bd02208873306de3ae01ff74e",
        "1420c13590e4e35bd02208873306de3ae01ff74e",
    ] {
        let request = webhook("POST", Some(signature), "DigiFlazz-Hookshot/1.0", body);
        let event = event_of(&request).await;
        assert_eq!(
            event.resource,
            ResourceRef::BillPayment {
                reference: OurReference("TRX-0001".to_owned()),
                provider_reference: None,
            }
        );
        assert_eq!(event.provider_event_id, "TRX-0001:Sukses::");
        assert_eq!(bill_update(&event).state, BillerTxState::Success);
        assert_eq!(
            event.payload,
            json!({"data": {"ref_id": "TRX-0001", "status": "Sukses"}})
        );
    }
}

#[tokio::test]
async fn a_prepaid_webhook_is_a_bill_update_with_the_token() {
    let body = prepaid_webhook("Sukses", "00", PLN_SN);
    let event = event_of(&signed(&body)).await;
    assert_eq!(
        event.resource,
        ResourceRef::BillPayment {
            reference: OurReference(REF.to_owned()),
            provider_reference: Some(ProviderReference("5ca22497cc6d0f965d9f84ac".to_owned())),
        }
    );
    assert_eq!(event.provider_event_id, format!("{REF}:Sukses:00:{PLN_SN}"));
    assert_eq!(
        event.payload,
        serde_json::from_str::<Value>(&body).expect("json")
    );
    let transaction = bill_update(&event);
    assert_eq!(transaction.state, BillerTxState::Success);
    assert_eq!(transaction.token.as_deref(), Some(TOKEN));
    assert_eq!(transaction.details["kwh"], "14.5KWH");
    assert_eq!(transaction.biller_cost, Some(rupiah(20500)));
    assert_eq!(transaction.balance_after, Some(rupiah(98500)));
    assert_eq!(transaction.provider_status, "00");
}

#[tokio::test]
async fn failed_webhooks_are_failed_whatever_the_code() {
    for (status, rc, expected) in [
        ("Gagal", "02", failed("02", "Transaksi Sukses")),
        ("Gagal", "74", failed("74", "Transaksi Sukses")),
        ("Gagal", "44", failed("44", "Transaksi Sukses")),
        ("Pending", "99", Ok(BillerTxState::Pending)),
    ] {
        let event = event_of(&signed(&prepaid_webhook(status, rc, ""))).await;
        let transaction = bill_update(&event);
        assert_eq!(Ok(transaction.state.clone()), expected, "{status} {rc}");
        assert_eq!(transaction.token, None);
    }
}

#[tokio::test]
async fn a_redelivery_has_the_same_event_id_and_a_change_a_new_one() {
    let pending = prepaid_webhook("Pending", "03", "");
    let first = event_of(&signed(&pending)).await;
    let again = event_of(&signed(&pending)).await;
    assert_eq!(first.provider_event_id, again.provider_event_id);
    let done = event_of(&signed(&prepaid_webhook("Sukses", "00", PLN_SN))).await;
    assert_ne!(first.provider_event_id, done.provider_event_id);
}

#[tokio::test]
async fn a_postpaid_webhook_has_the_bill_details_and_no_token() {
    let mut data = pasca_data("Sukses", "00", "57217714389726293021ABCDEF", "Sukses");
    data["trx_id"] = json!("5ca22497cc6d0f965d9f84ae");
    let body = json!({ "data": data }).to_string();
    let signature = format!("sha1={}", hmac_hex(WEBHOOK_SECRET, &body));
    let request = webhook(
        "POST",
        Some(&signature),
        "DigiFlazz-Pasca-Hookshot/1.0",
        &body,
    );
    let event = event_of(&request).await;
    let transaction = bill_update(&event);
    assert_eq!(transaction.state, BillerTxState::Success);
    assert_eq!(transaction.token, None);
    assert_eq!(transaction.customer_total, Some(rupiah(11000)));
    assert_eq!(transaction.biller_cost, Some(rupiah(10000)));
    assert_eq!(transaction.details["lembar_tagihan"], 1);
    assert_eq!(
        event.provider_event_id,
        format!("{REF}:Sukses:00:57217714389726293021ABCDEF")
    );
}

#[tokio::test]
async fn a_ping_after_a_valid_signature_is_answered_ok() {
    let body = json!({"sed": "a8f5f167f44f4964e6c998dee827110c", "hook_id": "17",
                      "hook": {"url": "https://gateway.example/v1/callbacks/digiflazz",
                               "secret": "x", "type": "prepaid", "status": true}})
    .to_string();
    match offline()
        .verify_and_parse(&signed(&body))
        .await
        .expect("verified")
    {
        Inbound::Reply(reply) => {
            assert_eq!(reply.status, 200);
            assert_eq!(
                serde_json::from_slice::<Value>(&reply.body).expect("json"),
                json!({"status": "ok"})
            );
        }
        other => panic!("expected a reply, got {other:?}"),
    }
    let unsigned = webhook("POST", None, "DigiFlazz-Hookshot/1.0", &body);
    let err = offline()
        .verify_and_parse(&unsigned)
        .await
        .expect_err("unsigned ping");
    assert_eq!(err.kind, ErrorKind::InvalidSignature);
}

#[tokio::test]
async fn tampered_unsigned_or_wrongly_keyed_webhooks_are_refused_with_401() {
    let digiflazz = offline();
    let body = prepaid_webhook("Sukses", "00", PLN_SN);
    let good = format!("sha1={}", hmac_hex(WEBHOOK_SECRET, &body));
    let tampered = prepaid_webhook("Sukses", "00", "1111-2222-3333-4444-5555/X");
    let wrong_key = format!("sha1={}", hmac_hex("other-secret", &body));
    let requests = [
        webhook("POST", Some(&good), "DigiFlazz-Hookshot/1.0", &tampered),
        webhook("POST", None, "DigiFlazz-Hookshot/1.0", &body),
        webhook("POST", Some(""), "DigiFlazz-Hookshot/1.0", &body),
        webhook("POST", Some(&wrong_key), "DigiFlazz-Hookshot/1.0", &body),
        webhook(
            "POST",
            Some(&good[..good.len() - 2]),
            "DigiFlazz-Hookshot/1.0",
            &body,
        ),
    ];
    for request in requests {
        let err = digiflazz
            .verify_and_parse(&request)
            .await
            .expect_err("refused");
        assert_eq!(err.kind, ErrorKind::InvalidSignature);
        assert!(!err.message.contains(WEBHOOK_SECRET));
        let ack = digiflazz.acknowledge(&request, &AckOutcome::Rejected(err));
        assert_eq!(ack.status, 401);
        assert_eq!(ack.content_type, "application/json");
        assert_eq!(
            serde_json::from_slice::<Value>(&ack.body).expect("json"),
            json!({"status": "error", "message": "invalid signature"})
        );
    }
}

#[tokio::test]
async fn signed_but_unusable_webhooks_are_rejected_with_400() {
    let digiflazz = offline();
    let bodies = [
        "not json",
        "[1,2]",
        r#"{"data":{"status":"Sukses"}}"#,
        r#"{"data":{"ref_id":"","status":"Sukses"}}"#,
        r#"{"data":{"ref_id":"TRX0001"}}"#,
        r#"{"data":{"ref_id":"TRX0001","status":"Sukses","price":20500.5}}"#,
        r#"{"data":null}"#,
    ];
    let mut requests: Vec<_> = bodies.iter().map(|body| signed(body)).collect();
    let good = prepaid_webhook("Sukses", "00", "1");
    let mut get = signed(&good);
    get.method = "GET".to_owned();
    requests.push(get);
    for request in requests {
        let err = digiflazz
            .verify_and_parse(&request)
            .await
            .expect_err("rejected");
        assert_eq!(err.kind, ErrorKind::Rejected, "{:?}", request.body);
        let ack = digiflazz.acknowledge(&request, &AckOutcome::Rejected(err));
        assert_eq!(ack.status, 400);
        assert_eq!(
            serde_json::from_slice::<Value>(&ack.body).expect("json"),
            json!({"status": "error", "message": "bad request"})
        );
    }
}

#[test]
fn acknowledgements_are_those_digiflazz_gets() {
    let digiflazz = offline();
    let request = signed("{}");
    let ack = |outcome| {
        let ack = digiflazz.acknowledge(&request, &outcome);
        assert_eq!(ack.content_type, "application/json");
        (
            ack.status,
            serde_json::from_slice::<Value>(&ack.body).expect("json"),
        )
    };
    let ok = (200, json!({"status": "ok"}));
    assert_eq!(ack(AckOutcome::Accepted), ok);
    assert_eq!(ack(AckOutcome::Replayed), ok);
    assert_eq!(
        ack(AckOutcome::RetryLater),
        (503, json!({"status": "error", "message": "try again"}))
    );
    assert_eq!(digiflazz.trust(), Trust::Strong);
}

// ---------------------------------------------------------------------------------------
// Construction

#[test]
fn debug_and_serialized_config_show_no_secret() {
    let config = config("https://api.digiflazz.com");
    let digiflazz = adapter(config.clone());
    let capabilities = adapter(config.clone()).capabilities();
    let shown = format!(
        "{digiflazz:?} {config:?} {:?} {:?} {}",
        capabilities.biller,
        capabilities.inbound,
        serde_json::to_string(&config).expect("serializes"),
    );
    for secret in [API_KEY, WEBHOOK_SECRET] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert_eq!(
        format!("{digiflazz:?}"),
        r#"Digiflazz { base_url: "https://api.digiflazz.com/", username: "demo-user" }"#
    );
}

#[test]
fn capabilities_offer_biller_and_inbound_on_one_adapter() {
    let capabilities = offline().capabilities();
    let biller = capabilities.biller.expect("biller");
    let inbound = capabilities.inbound.expect("inbound");
    assert!(std::ptr::addr_eq(
        Arc::as_ptr(&biller),
        Arc::as_ptr(&inbound)
    ));
    assert!(capabilities.payments.is_none());
    assert!(capabilities.virtual_accounts.is_none());
    assert!(capabilities.esign.is_none());
    assert!(capabilities.messaging.is_none());
}

#[test]
fn an_invalid_config_is_refused_at_construction() {
    let mut no_key = config("https://api.digiflazz.com");
    no_key.api_key = SecretString::from("");
    let mut far_horizon = config("https://api.digiflazz.com");
    far_horizon.status_horizon_days = 120;
    let mut no_secret = config("https://api.digiflazz.com");
    no_secret.webhook_secret = SecretString::from("");
    for config in [no_key, far_horizon, no_secret] {
        let err = Digiflazz::new(config, reqwest::Client::new()).expect_err("invalid");
        assert_eq!(ProviderError::from(err).kind, ErrorKind::Misconfigured);
    }
}
