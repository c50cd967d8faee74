//! The adapter against a tiny in-test HTTP server: exact wire fields and tokens, and how
//! every kind of failure is classified.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use contracts::va::{CreateVa, PaymentRule, ProviderVaState, UpdateVa, VaHandle};
use contracts::{Amount, Customer, ErrorKind, OurReference, ProviderReference, VirtualAccounts};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;
use url::Url;

use crate::signature::SANDBOX_KEY;
use crate::{BillingDefaults, Config, ConfigError, Nicepay};

const IMID: &str = "IONPAYTEST";
const T_XID: &str = "IONPAYTEST02202212141423372834";

/// A configuration for tests: the public sandbox key, our callback URL filled in.
pub(crate) fn config(base_url: &str) -> Config {
    Config {
        base_url: Url::parse(base_url).expect("base url"),
        imid: IMID.to_owned(),
        merchant_key: SecretString::from(SANDBOX_KEY),
        bank_code: "BNIN".to_owned(),
        notification_url: Some(Url::parse("https://gw.example/v1/callbacks/np").expect("url")),
        timeout_ms: 2_000,
        billing: BillingDefaults::default(),
    }
}

/// What the stub answers: HTTP status, body, and a delay before answering.
type Answer = (u16, String, Duration);
type Responder = Arc<dyn Fn(&str, &Value) -> Answer + Send + Sync>;

#[derive(Clone)]
struct Stub {
    seen: Arc<Mutex<Vec<(String, Value)>>>,
    respond: Responder,
}

impl Stub {
    fn seen(&self) -> Vec<(String, Value)> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn handle(State(stub): State<Stub>, uri: Uri, body: Bytes) -> (StatusCode, String) {
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    stub.seen
        .lock()
        .expect("lock")
        .push((uri.path().to_owned(), json.clone()));
    let (status, body, delay) = (stub.respond)(uri.path(), &json);
    tokio::time::sleep(delay).await;
    (StatusCode::from_u16(status).expect("status"), body)
}

/// Starts a server on a free port; returns the adapter pointed at it and the stub.
async fn serve(
    respond: impl Fn(&str, &Value) -> Answer + Send + Sync + 'static,
) -> (Nicepay, Stub) {
    let stub = Stub {
        seen: Arc::default(),
        respond: Arc::new(respond),
    };
    let app = Router::new().fallback(handle).with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut config = config(&format!("http://{addr}"));
    config.timeout_ms = 300;
    (adapter(config), stub)
}

fn adapter(config: Config) -> Nicepay {
    Nicepay::new(config, reqwest::Client::new()).expect("valid config")
}

fn ok(body: Value) -> Answer {
    (200, body.to_string(), Duration::ZERO)
}

fn amount(rupiah: i64) -> Amount {
    Amount::new(rupiah).expect("amount")
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn create_request() -> CreateVa {
    CreateVa::new(
        OurReference("va_01HX".to_owned()),
        amount(150_000),
        Customer {
            name: "Budi Santoso".to_owned(),
            phone: Some("081234567890".to_owned()),
            email: Some("budi@example.co.id".to_owned()),
        },
        datetime!(2030-01-02 03:04:05 UTC),
    )
    .with_description(Some("Angsuran 3".to_owned()))
}

fn registration_ok(_: &str, body: &Value) -> Answer {
    ok(json!({
        "resultCd": "0000", "resultMsg": "SUCCESS", "tXid": T_XID,
        "referenceNo": body["referenceNo"], "payMethod": "02", "amt": body["amt"],
        "currency": "IDR", "bankCd": "BNIN", "vacctNo": "8625000012345678",
        "vacctValidDt": body["vacctValidDt"], "vacctValidTm": body["vacctValidTm"],
        "transDt": "20240101", "transTm": "101010", "mitraCd": null, "payNo": null
    }))
}

fn handle_with_txid() -> VaHandle {
    VaHandle::new(
        OurReference("va_01HX".to_owned()),
        Some(ProviderReference(T_XID.to_owned())),
        Some("8625000012345678".to_owned()),
        amount(150_000),
    )
}

fn str_field<'a>(body: &'a Value, name: &str) -> &'a str {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} is a string"))
}

#[tokio::test]
async fn registration_sends_nicepay_fields_and_the_registration_token() {
    let (nicepay, stub) = serve(registration_ok).await;
    let before = OffsetDateTime::now_utc();

    let issued = nicepay.create(&create_request()).await.expect("created");

    assert_eq!(issued.va_number, "8625000012345678");
    assert_eq!(issued.bank, "BNI");
    assert_eq!(
        issued.provider_reference,
        Some(ProviderReference(T_XID.to_owned()))
    );
    let seen = stub.seen();
    assert_eq!(seen.len(), 1);
    let (path, body) = &seen[0];
    assert_eq!(path, "/nicepay/direct/v2/registration");
    let mut names: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "amt",
            "bankCd",
            "billingAddr",
            "billingCity",
            "billingCountry",
            "billingEmail",
            "billingNm",
            "billingPhone",
            "billingPostCd",
            "billingState",
            "cartData",
            "currency",
            "dbProcessUrl",
            "goodsNm",
            "iMid",
            "merFixAcctId",
            "merchantToken",
            "payMethod",
            "referenceNo",
            "timeStamp",
            "vacctValidDt",
            "vacctValidTm",
        ]
    );
    let expected = json!({
        "iMid": IMID, "payMethod": "02", "currency": "IDR", "amt": "150000",
        "referenceNo": "va_01HX", "goodsNm": "Angsuran 3", "billingNm": "Budi Santoso",
        "billingPhone": "081234567890", "billingEmail": "budi@example.co.id",
        "billingAddr": "Jakarta", "billingCity": "Jakarta", "billingState": "DKI Jakarta",
        "billingPostCd": "10110", "billingCountry": "Indonesia", "cartData": "{}",
        "dbProcessUrl": "https://gw.example/v1/callbacks/np", "bankCd": "BNIN",
        "vacctValidDt": "20300102", "vacctValidTm": "100405", "merFixAcctId": "",
    });
    for (name, value) in expected.as_object().expect("object") {
        assert_eq!(&body[name], value, "field {name}");
    }
    let time_stamp = str_field(body, "timeStamp");
    let sent_at = crate::convert::wib_date_time(Some(&time_stamp[..8]), Some(&time_stamp[8..]))
        .expect("timeStamp is YYYYMMDDHHMMSS");
    assert!(
        (sent_at - before).whole_seconds().abs() <= 5,
        "timeStamp {time_stamp} is WIB wall-clock time"
    );
    assert_eq!(
        str_field(body, "merchantToken"),
        sha256_hex(&format!("{time_stamp}{IMID}va_01HX150000{SANDBOX_KEY}"))
    );
}

#[tokio::test]
async fn a_partial_payment_va_is_not_supported_and_sends_nothing() {
    let (nicepay, stub) = serve(registration_ok).await;
    assert!(!nicepay.supports_rule(PaymentRule::Partial));
    let request = create_request().with_rule(PaymentRule::Partial);
    let err = nicepay.create(&request).await.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::NotSupported);
    assert!(stub.seen().is_empty());
}

#[tokio::test]
async fn a_duplicate_reference_is_duplicate() {
    let (nicepay, _stub) = serve(|_, _| {
        ok(json!({"resultCd": "9009", "resultMsg": "Reference Number already exist"}))
    })
    .await;
    let err = nicepay.create(&create_request()).await.expect_err("dup");
    assert_eq!(err.kind, ErrorKind::Duplicate);
    assert_eq!(err.provider_code.as_deref(), Some("9009"));
}

#[tokio::test]
async fn inquiry_sends_the_txid_and_a_token_over_the_reference() {
    let (nicepay, stub) = serve(|_, body| {
        ok(json!({
            "resultCd": "0000", "resultMsg": "SUCCESS", "tXid": body["tXid"],
            "iMid": IMID, "referenceNo": body["referenceNo"], "payMethod": "02",
            "amt": "150000", "cancelAmt": null, "status": "0", "bankCd": "BNIN",
            "vacctNo": "8625000012345678", "depositDt": "20240105", "depositTm": "093000",
            "cardNo": null
        }))
    })
    .await;

    let report = nicepay
        .inquire(&handle_with_txid())
        .await
        .expect("inquired");

    assert_eq!(report.state, ProviderVaState::Paid);
    assert_eq!(report.paid_amount, Some(amount(150_000)));
    assert_eq!(report.paid_at, Some(datetime!(2024-01-05 09:30:00 +7)));
    assert_eq!(report.payment_reference.as_deref(), Some(T_XID));
    assert_eq!(report.va_number.as_deref(), Some("8625000012345678"));
    let seen = stub.seen();
    let (path, body) = &seen[0];
    assert_eq!(path, "/nicepay/direct/v2/inquiry");
    assert_eq!(body["tXid"], T_XID);
    assert_eq!(body["iMid"], IMID);
    assert_eq!(body["referenceNo"], "va_01HX");
    assert_eq!(body["amt"], "150000");
    let time_stamp = str_field(body, "timeStamp");
    assert_eq!(
        str_field(body, "merchantToken"),
        sha256_hex(&format!("{time_stamp}{IMID}va_01HX150000{SANDBOX_KEY}"))
    );
}

#[tokio::test]
async fn inquiry_without_a_txid_sends_an_empty_one() {
    let (nicepay, stub) = serve(|_, _| {
        ok(json!({"resultCd": "0000", "tXid": T_XID, "referenceNo": "va_01HX", "status": "3"}))
    })
    .await;
    let handle = VaHandle::new(OurReference("va_01HX".to_owned()), None, None, amount(1));
    let report = nicepay.inquire(&handle).await.expect("inquired");
    assert_eq!(report.state, ProviderVaState::Active);
    assert_eq!(report.paid_amount, None);
    assert_eq!(stub.seen()[0].1["tXid"], "");
}

#[tokio::test]
async fn an_unknown_status_is_unknown_and_an_unknown_transaction_is_not_found() {
    let (nicepay, _stub) = serve(|_, _| ok(json!({"resultCd": "0000", "status": "7"}))).await;
    let report = nicepay
        .inquire(&handle_with_txid())
        .await
        .expect("inquired");
    assert_eq!(report.state, ProviderVaState::Unknown);
    assert_eq!(report.provider_status, "7");

    let (nicepay, _stub) =
        serve(|_, _| ok(json!({"resultCd": "9228", "resultMsg": "Transaction not found"}))).await;
    let err = nicepay
        .inquire(&handle_with_txid())
        .await
        .expect_err("missing");
    assert_eq!(err.kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn cancel_sends_a_full_va_cancel_with_a_token_over_the_txid() {
    let (nicepay, stub) = serve(|_, body| {
        ok(
            json!({"resultCd": "0000", "resultMsg": "SUCCESS", "tXid": body["tXid"],
            "referenceNo": "va_01HX", "amt": "150000", "canceltXid": "C1"}),
        )
    })
    .await;

    nicepay
        .cancel(&handle_with_txid())
        .await
        .expect("cancelled");

    let seen = stub.seen();
    assert_eq!(seen.len(), 1);
    let (path, body) = &seen[0];
    assert_eq!(path, "/nicepay/direct/v2/cancel");
    assert_eq!(body["tXid"], T_XID);
    assert_eq!(body["iMid"], IMID);
    assert_eq!(body["payMethod"], "02");
    assert_eq!(body["cancelType"], "1");
    assert_eq!(body["amt"], "150000");
    let time_stamp = str_field(body, "timeStamp");
    assert_eq!(
        str_field(body, "merchantToken"),
        sha256_hex(&format!("{time_stamp}{IMID}{T_XID}150000{SANDBOX_KEY}"))
    );
}

#[tokio::test]
async fn cancel_without_a_txid_asks_for_it_first() {
    let (nicepay, stub) = serve(|path, body| {
        if path.ends_with("/inquiry") {
            ok(json!({"resultCd": "0000", "tXid": T_XID, "referenceNo": "va_01HX", "status": "3"}))
        } else {
            ok(json!({"resultCd": "0000", "tXid": body["tXid"]}))
        }
    })
    .await;
    let handle = VaHandle::new(OurReference("va_01HX".to_owned()), None, None, amount(5));
    nicepay.cancel(&handle).await.expect("cancelled");
    let seen = stub.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].0, "/nicepay/direct/v2/cancel");
    assert_eq!(seen[1].1["tXid"], T_XID);
}

#[tokio::test]
async fn cancelling_a_paid_va_is_a_conflict() {
    for code in ["9330", "9318"] {
        let (nicepay, _stub) = serve(move |_, _| {
            ok(json!({"resultCd": code, "resultMsg": "Virtual account can not be canceled"}))
        })
        .await;
        let err = nicepay
            .cancel(&handle_with_txid())
            .await
            .expect_err("refused");
        assert_eq!(err.kind, ErrorKind::Conflict, "resultCd {code}");
    }
}

#[tokio::test]
async fn update_is_not_supported() {
    let (nicepay, stub) = serve(registration_ok).await;
    let request = create_request();
    let update = UpdateVa::new(
        handle_with_txid(),
        amount(1),
        request.expires_at,
        request.customer.clone(),
        None,
    );
    let err = nicepay.update(&update).await.expect_err("unsupported");
    assert_eq!(err.kind, ErrorKind::NotSupported);
    assert!(err.message.contains("update"));
    assert!(stub.seen().is_empty());
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let (nicepay, _stub) = serve(|path, body| {
        let (_, answer, _) = registration_ok(path, body);
        (200, answer, Duration::from_secs(3))
    })
    .await;
    let err = nicepay.create(&create_request()).await.expect_err("slow");
    assert_eq!(err.kind, ErrorKind::Timeout);
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let nicepay = adapter(config(&format!("http://{addr}")));
    let err = nicepay
        .create(&create_request())
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unavailable);
}

#[tokio::test]
async fn a_server_error_is_unavailable() {
    let (nicepay, _stub) =
        serve(|_, _| (500, "Internal Server Error".to_owned(), Duration::ZERO)).await;
    let err = nicepay.create(&create_request()).await.expect_err("5xx");
    assert_eq!(err.kind, ErrorKind::Unavailable);
}

#[tokio::test]
async fn a_garbled_answer_is_a_protocol_error() {
    let (nicepay, _stub) =
        serve(|_, _| (200, "<html>gateway</html>".to_owned(), Duration::ZERO)).await;
    let err = nicepay
        .create(&create_request())
        .await
        .expect_err("garbled");
    assert_eq!(err.kind, ErrorKind::Protocol);
}

#[tokio::test]
async fn an_oversized_answer_is_a_protocol_error() {
    let (nicepay, _stub) = serve(|_, _| {
        let padding = "x".repeat(crate::client::MAX_BODY_BYTES);
        ok(json!({"resultCd": "0000", "pad": padding}))
    })
    .await;
    let err = nicepay
        .create(&create_request())
        .await
        .expect_err("too big");
    assert_eq!(err.kind, ErrorKind::Protocol);
}

#[tokio::test]
async fn a_success_without_a_va_number_is_a_protocol_error() {
    let (nicepay, _stub) =
        serve(|_, _| ok(json!({"resultCd": "0000", "resultMsg": "SUCCESS", "tXid": T_XID}))).await;
    let err = nicepay
        .create(&create_request())
        .await
        .expect_err("no vacctNo");
    assert_eq!(err.kind, ErrorKind::Protocol);
}

#[test]
fn building_without_a_notification_url_is_refused() {
    let mut config = config("http://127.0.0.1:9");
    config.notification_url = None;
    let err = Nicepay::new(config, reqwest::Client::new()).expect_err("refused");
    assert_eq!(err, ConfigError::MissingNotificationUrl);
}

#[test]
fn capabilities_offer_vas_and_inbound_and_debug_hides_the_key() {
    let nicepay = adapter(config("http://127.0.0.1:9"));
    let shown = format!("{nicepay:?}");
    assert!(shown.contains(IMID));
    assert!(!shown.contains(&SANDBOX_KEY[..12]));
    let capabilities = nicepay.capabilities();
    assert!(capabilities.virtual_accounts.is_some());
    assert!(capabilities.inbound.is_some());
    assert!(capabilities.payments.is_none());
    let inbound = capabilities.inbound.expect("inbound");
    assert_eq!(inbound.trust(), contracts::inbound::Trust::ConfirmByInquiry);
}

#[tokio::test]
async fn the_published_notification_verifies_through_the_trait() {
    let nicepay = adapter(config("http://127.0.0.1:9"));
    let body = format!(
        "tXid={T_XID}&merchantToken=76a7ea699351eef2ffd1ade233547ed7f3b44aea5859aee7c2250bff1bae7dc9\
         &referenceNo=ORD12345&payMethod=02&amt=10000&currency=IDR\
         &goodsNm=Test+Transaction+Nicepay&matchCl=1&status=0&vacctNo=7001400002009226\
         &depositDt=20221214&depositTm=142500"
    );
    let request = contracts::inbound::InboundRequest::new(
        "POST",
        "",
        vec![(
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        )],
        bytes::Bytes::from(body),
        OffsetDateTime::now_utc(),
    );
    let inbound = contracts::InboundNotifications::verify_and_parse(&nicepay, &request)
        .await
        .expect("verifies");
    let contracts::inbound::Inbound::Events(contracts::inbound::Notification { events, .. }) =
        inbound
    else {
        panic!("expected events");
    };
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload["goodsNm"], "Test Transaction Nicepay");
}
