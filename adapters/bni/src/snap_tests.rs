//! SNAP mode against a small in-test BNI that checks every SNAP header and signature with
//! the primitives pinned by the published vectors, and BNI's calls to us signed the same
//! way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use adapter_snap::codec::{TimestampStyle, body_hash, format_timestamp};
use adapter_snap::sign::{
    RsaPrivateKey, RsaPublicKey, asymmetric_string, hmac_sha512_b64, symmetric_string,
    token_string, verify_hmac_sha512_b64,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use contracts::inbound::{
    AckOutcome, BillView, EventKind, Inbound, InboundNotifications, InboundRequest, Refusal,
    ResourceRef, Trust,
};
use contracts::va::{CreateVa, Numbering, PaymentRule, ProviderVaState, UpdateVa, VaHandle};
use contracts::{Amount, Customer, ErrorKind, OurReference, ProviderError, VirtualAccounts};
use secrecy::SecretString;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::{Bills, Bni, Config, ConfigError, Protocol};

const MERCHANT_PRIVATE: &str = include_str!("../../../mocks/keys/merchant.private.pem");
const MERCHANT_PUBLIC: &str = include_str!("../../../mocks/keys/merchant.public.pem");
const BANK_PRIVATE: &str = include_str!("../../../mocks/keys/bni.private.pem");
const BANK_PUBLIC: &str = include_str!("../../../mocks/keys/bni.public.pem");
const OTHER_PRIVATE: &str = include_str!("../../../testdata/snap-demo/private.pem");

const CLIENT_KEY: &str = "BNI-TEST-CLIENT";
const PARTNER_ID: &str = "BNI-PARTNER";
const CLIENT_SECRET: &str = "SNAP-TEST-SECRET";
const NOTIFY_KEY: &str = "GW-ISSUED-TO-BNI";
const NOTIFY_SECRET: &str = "MERCHANT-ISSUED-SECRET";
const CALLBACK_ROOT: &str = "/v1/callbacks/bni_snap";

fn snap_json(base_url: &str) -> Value {
    json!({
        "protocol": "snap",
        "base_url": base_url,
        "client_key": CLIENT_KEY,
        "partner_id": PARTNER_ID,
        "client_secret": CLIENT_SECRET,
        "private_key": MERCHANT_PRIVATE,
        "partner_service_id": "8123",
        "notify_client_key": NOTIFY_KEY,
        "notify_client_secret": NOTIFY_SECRET,
        "bank_public_key": BANK_PUBLIC,
        "timeout_ms": 3000,
    })
}

fn config_from(value: Value) -> Config {
    serde_json::from_value(value).expect("config")
}

fn snap_config(base_url: &str) -> Config {
    config_from(snap_json(base_url))
}

fn adapter(config: Config) -> Bni {
    Bni::new(config, reqwest::Client::new()).expect("adapter")
}

fn rupiah(value: i64) -> Amount {
    Amount::new(value).expect("amount")
}

fn budi() -> Customer {
    Customer {
        name: "Budi".to_owned(),
        phone: Some("081234567890".to_owned()),
        email: Some("budi@example.com".to_owned()),
    }
}

fn create_request(reference: &str, serial: u64) -> CreateVa {
    CreateVa::new(
        OurReference(reference.to_owned()),
        rupiah(150_000),
        budi(),
        datetime!(2099-01-02 10:00:00 +07:00),
    )
    .with_serial(Some(serial))
}

fn handle(reference: &str, va_number: Option<&str>) -> VaHandle {
    VaHandle::new(
        OurReference(reference.to_owned()),
        None,
        va_number.map(str::to_owned),
        rupiah(150_000),
    )
}

fn kind<T: std::fmt::Debug>(result: Result<T, ProviderError>) -> ErrorKind {
    result.expect_err("an error").kind
}

// ---------------------------------------------------------------------------------------
// The in-test bank.

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Default)]
struct Bank {
    seen: Mutex<Vec<Seen>>,
    tokens: Mutex<u32>,
    /// By `virtualAccountNo`: (trxId, state) with state "open", "deleted" or "paid".
    vas: Mutex<HashMap<String, (String, &'static str)>>,
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn reply(code: &str, data: Value) -> Response {
    let status = StatusCode::from_u16(code[..3].parse().expect("status")).expect("status");
    let body =
        json!({"responseCode": code, "responseMessage": "stand-in", "virtualAccountData": data});
    (status, axum::Json(body)).into_response()
}

async fn token(State(bank): State<Arc<Bank>>, headers: HeaderMap) -> Response {
    let message = token_string(
        header(&headers, "x-client-key"),
        header(&headers, "x-timestamp"),
    );
    let key = RsaPublicKey::from_pem(MERCHANT_PUBLIC).expect("key");
    if header(&headers, "x-client-key") != CLIENT_KEY
        || !key.verify_b64(message.as_bytes(), header(&headers, "x-signature"))
    {
        return reply("4017300", json!({}));
    }
    let mut tokens = bank.tokens.lock().expect("lock");
    *tokens += 1;
    let body = json!({"responseCode": "2007300", "responseMessage": "Successful",
        "accessToken": format!("bank-token-{tokens}"), "tokenType": "Bearer", "expiresIn": "900"});
    axum::Json(body).into_response()
}

async fn service(
    State(bank): State<Arc<Bank>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let token = header(&headers, "authorization")
        .strip_prefix("Bearer ")
        .unwrap_or_default();
    let message = symmetric_string(
        method.as_str(),
        uri.path(),
        token,
        &body_hash(&raw),
        header(&headers, "x-timestamp"),
    );
    let svc = uri.path().rsplit('/').next().unwrap_or_default().to_owned();
    let code = |http: &str, case: &str| {
        let service = match svc.as_str() {
            "create-va" => "27",
            "update-va" => "28",
            "inquiry-va" => "30",
            "delete-va" => "31",
            _ => "26",
        };
        format!("{http}{service}{case}")
    };
    if !verify_hmac_sha512_b64(
        CLIENT_SECRET.as_bytes(),
        &message,
        header(&headers, "x-signature"),
    ) || header(&headers, "x-partner-id") != PARTNER_ID
        || header(&headers, "channel-id") != "95221"
        || header(&headers, "x-external-id").len() < 10
    {
        return reply(&code("401", "00"), json!({}));
    }
    let body: Value = serde_json::from_slice(&raw).unwrap_or_default();
    bank.seen.lock().expect("lock").push(Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers.clone(),
        body: body.clone(),
    });
    let number = body["virtualAccountNo"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let trx_id = body["trxId"].as_str().unwrap_or_default().to_owned();
    let mut vas = bank.vas.lock().expect("lock");
    let known = vas.get(&number).cloned();
    match (svc.as_str(), known) {
        ("create-va", Some(_)) => reply(&code("409", "01"), json!({})),
        ("create-va", None) => {
            vas.insert(number, (trx_id, "open"));
            reply(&code("200", "00"), body)
        }
        (_, None) => reply(&code("404", "12"), json!({})),
        ("status", Some((trx, "paid"))) => reply(
            &code("200", "00"),
            json!({"trxId": trx, "paymentFlagStatus": "00", "paymentRequestId": "PR-1",
                "paidAmount": {"value": "150000.00", "currency": "IDR"},
                "referenceNo": "233171", "trxDateTime": "2024-01-01T11:00:00+07:00"}),
        ),
        ("status", Some(_)) => reply(&code("200", "00"), json!({})),
        (_, Some((_, "deleted"))) => reply(&code("404", "04"), json!({})),
        ("inquiry-va", Some((trx, "paid"))) => reply(
            &code("200", "00"),
            json!({"trxId": trx, "paymentDate": "2024-01-01T11:00:00+07:00",
                "expiredDate": "2099-01-02T10:00:00+07:00"}),
        ),
        ("inquiry-va", Some((trx, _))) => reply(
            &code("200", "00"),
            json!({"trxId": trx, "paymentDate": null, "expiredDate": "2099-01-02T10:00:00+07:00"}),
        ),
        (_, Some((_, "paid"))) => reply(&code("404", "14"), json!({})),
        ("delete-va", Some((trx, _))) => {
            vas.insert(number, (trx.clone(), "deleted"));
            reply(&code("200", "00"), json!({"trxId": trx}))
        }
        (_, Some((trx, _))) => reply(&code("200", "00"), json!({"trxId": trx})),
    }
}

async fn spawn_bank() -> (String, Arc<Bank>) {
    let bank = Arc::new(Bank::default());
    let app = Router::new()
        .route("/snap/v1.0/access-token/b2b", post(token))
        .route("/snap/v1.0/transfer-va/{service}", any(service))
        .with_state(bank.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/snap", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, bank)
}

impl Bank {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn set(&self, number: &str, state: &'static str) {
        let mut vas = self.vas.lock().expect("lock");
        if let Some(va) = vas.get_mut(number) {
            va.1 = state;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Configuration.

#[test]
fn a_snap_configuration_validates_with_its_defaults() {
    let config = snap_config("https://bni.example/snap");
    assert_eq!(config.protocol, Protocol::Snap);
    assert_eq!(config.validate(), Ok(()));
    assert_eq!(config.snap_channel_id(), "95221");
    assert_eq!(config.snap_customer_no_digits(), 12);
    assert_eq!(config.snap_token_path(), "/v1.0/access-token/b2b");
    assert_eq!(config.snap_service_prefix(), "/v1.0");
    assert_eq!(config.bills, None);
    let shown = format!(
        "{} {config:?}",
        serde_json::to_string(&config).expect("json")
    );
    for secret in [CLIENT_SECRET, NOTIFY_SECRET, "PRIVATE KEY-----\nMII"] {
        assert!(!shown.contains(secret), "{secret}");
    }
    let bni = adapter(config);
    assert_eq!(bni.numbering(), Numbering::Serial { digits: 12 });
    assert_eq!(bni.va_number_for(1).as_deref(), Some("8123000000000001"));
    assert_eq!(bni.va_number_for(1_000_000_000_000), None);
    assert_eq!(bni.trust(), Trust::Strong);
    assert!(bni.supports_rule(PaymentRule::Exact));
    assert!(!bni.supports_rule(PaymentRule::Partial));
    assert!(!format!("{bni:?}").contains(CLIENT_SECRET));
}

#[test]
fn snap_requires_its_fields() {
    for field in [
        "client_key",
        "partner_id",
        "client_secret",
        "private_key",
        "partner_service_id",
        "notify_client_key",
        "bank_public_key",
        "notify_client_secret",
    ] {
        let mut value = snap_json("https://bni.example");
        value.as_object_mut().map(|o| o.remove(field));
        let config = config_from(value);
        assert_eq!(
            config.validate(),
            Err(ConfigError::Missing(field, Protocol::Snap)),
            "{field}"
        );
    }
    let mut asymmetric = snap_json("https://bni.example");
    asymmetric["notify_auth"] = json!("asymmetric");
    asymmetric
        .as_object_mut()
        .map(|o| o.remove("notify_client_secret"));
    assert_eq!(config_from(asymmetric).validate(), Ok(()));
}

#[test]
fn snap_refuses_ecollection_fields_and_bad_values() {
    let cases: [(&str, Value, ConfigError); 10] = [
        (
            "client_id",
            json!("123"),
            ConfigError::OtherProtocol("client_id", Protocol::Snap),
        ),
        (
            "secret_key",
            json!("s"),
            ConfigError::OtherProtocol("secret_key", Protocol::Snap),
        ),
        (
            "prefix",
            json!("9"),
            ConfigError::OtherProtocol("prefix", Protocol::Snap),
        ),
        (
            "billing_type",
            json!("i"),
            ConfigError::OtherProtocol("billing_type", Protocol::Snap),
        ),
        (
            "confirm_callbacks",
            json!(true),
            ConfigError::OtherProtocol("confirm_callbacks", Protocol::Snap),
        ),
        (
            "partner_service_id",
            json!("812345678"),
            ConfigError::PartnerServiceId,
        ),
        (
            "partner_service_id",
            json!(" 8123"),
            ConfigError::PartnerServiceId,
        ),
        (
            "customer_no_digits",
            json!(21),
            ConfigError::CustomerNoDigits(21),
        ),
        (
            "token_path",
            json!("v1.0/token"),
            ConfigError::Path("token_path"),
        ),
        (
            "service_prefix",
            json!("v1.0"),
            ConfigError::Path("service_prefix"),
        ),
    ];
    for (field, value, expected) in cases {
        let mut json = snap_json("https://bni.example");
        json[field] = value;
        assert_eq!(config_from(json).validate(), Err(expected), "{field}");
    }
    let mut unknown = snap_json("https://bni.example");
    unknown["api_key"] = json!("x");
    assert!(serde_json::from_value::<Config>(unknown).is_err());
}

#[test]
fn ecollection_refuses_snap_fields() {
    for (field, value) in [
        ("client_key", json!("k")),
        ("partner_service_id", json!("8123")),
        ("bills", json!("gateway")),
        ("notify_auth", json!("asymmetric")),
        ("timestamp_style", json!("utc")),
    ] {
        let json =
            json!({"base_url": "http://x", "client_id": "123", "secret_key": "s", field: value});
        let config = config_from(json);
        assert_eq!(
            config.validate(),
            Err(ConfigError::OtherProtocol(field, Protocol::Ecollection)),
            "{field}"
        );
    }
    let missing = config_from(json!({"base_url": "http://x", "secret_key": "s"}));
    assert_eq!(missing.validate(), Err(ConfigError::ClientId));
    let legacy = adapter(config_from(
        json!({"base_url": "http://x", "client_id": "123", "secret_key": "s"}),
    ));
    assert_eq!(legacy.numbering(), Numbering::Provider);
    assert_eq!(legacy.va_number_for(1), None);
}

#[test]
fn unusable_keys_are_refused_at_construction() {
    let mut json = snap_json("https://bni.example");
    json["bank_public_key"] = json!("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----");
    let result = Bni::new(config_from(json), reqwest::Client::new());
    assert!(matches!(result, Err(ConfigError::Snap(_))));
    let mut json = snap_json("https://bni.example");
    json["private_key"] = json!(BANK_PUBLIC);
    assert!(matches!(
        Bni::new(config_from(json), reqwest::Client::new()),
        Err(ConfigError::Snap(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Bank-held VAs.

#[tokio::test]
async fn create_sends_the_snap_create_va_and_returns_the_number() {
    let (url, bank) = spawn_bank().await;
    let bni = adapter(snap_config(&url));
    let issued = bni
        .create(&create_request("INV-0001", 1))
        .await
        .expect("created");
    assert_eq!(issued.va_number, "8123000000000001");
    assert_eq!(issued.bank, "BNI");
    let seen = bank.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/snap/v1.0/transfer-va/create-va")
    );
    let expected = json!({
        "partnerServiceId": "    8123", "customerNo": "000000000001",
        "virtualAccountNo": "    8123000000000001", "virtualAccountName": "Budi",
        "virtualAccountEmail": "budi@example.com", "virtualAccountPhone": "6281234567890",
        "trxId": "INV-0001", "totalAmount": {"value": "150000.00", "currency": "IDR"},
        "virtualAccountTrxType": "C", "expiredDate": "2099-01-02T10:00:00+07:00",
        "additionalInfo": {},
    });
    assert_eq!(seen[0].body, expected);
    assert!(header(&seen[0].headers, "x-timestamp").ends_with("+07:00"));
}

#[tokio::test]
async fn a_second_create_of_the_same_number_is_duplicate() {
    let (url, _bank) = spawn_bank().await;
    let bni = adapter(snap_config(&url));
    bni.create(&create_request("INV-0001", 7))
        .await
        .expect("created");
    let err = bni
        .create(&create_request("INV-0001", 7))
        .await
        .expect_err("duplicate");
    assert_eq!(err.kind, ErrorKind::Duplicate);
    assert_eq!(err.provider_code.as_deref(), Some("4092701"));
}

#[tokio::test]
async fn creates_without_a_serial_or_for_partial_payments_are_refused_before_io() {
    let bni = adapter(snap_config("http://127.0.0.1:9"));
    let no_serial = create_request("INV-0001", 1).with_serial(None);
    assert_eq!(kind(bni.create(&no_serial).await), ErrorKind::Rejected);
    let partial = create_request("INV-0001", 1).with_rule(PaymentRule::Partial);
    assert_eq!(kind(bni.create(&partial).await), ErrorKind::Rejected);
    let too_big = create_request("INV-0001", 1_000_000_000_000);
    assert_eq!(kind(bni.create(&too_big).await), ErrorKind::Rejected);
}

#[tokio::test]
async fn inquiry_reports_active_then_paid_then_cancelled() {
    let (url, bank) = spawn_bank().await;
    let bni = adapter(snap_config(&url));
    bni.create(&create_request("INV-0001", 1))
        .await
        .expect("created");
    let handle = handle("INV-0001", Some("8123000000000001"));
    let report = bni.inquire(&handle).await.expect("report");
    assert_eq!(report.state, ProviderVaState::Active);
    assert_eq!(report.va_number.as_deref(), Some("8123000000000001"));
    assert_eq!(report.paid_amount, None);
    let inquiry = bank.seen().pop().expect("seen");
    assert_eq!(inquiry.path, "/snap/v1.0/transfer-va/inquiry-va");
    assert_eq!(inquiry.body["trxId"], "INV-0001");
    assert_eq!(inquiry.body["virtualAccountNo"], "    8123000000000001");

    bank.set("    8123000000000001", "paid");
    let paid = bni.inquire(&handle).await.expect("report");
    assert_eq!(paid.state, ProviderVaState::Paid);
    assert_eq!(paid.paid_amount, Some(rupiah(150_000)));
    assert_eq!(paid.payment_reference.as_deref(), Some("233171"));
    assert_eq!(paid.paid_at, Some(datetime!(2024-01-01 11:00:00 +07:00)));
    assert_eq!(
        bank.seen().pop().expect("seen").path,
        "/snap/v1.0/transfer-va/status"
    );

    bank.set("    8123000000000001", "deleted");
    let cancelled = bni.inquire(&handle).await.expect("report");
    assert_eq!(cancelled.state, ProviderVaState::Cancelled);
    assert_eq!(cancelled.provider_status, "4043004");
}

#[tokio::test]
async fn inquiry_of_an_unknown_va_is_not_found() {
    let (url, _bank) = spawn_bank().await;
    let bni = adapter(snap_config(&url));
    let err = bni
        .inquire(&handle("INV-404", Some("8123000000000404")))
        .await
        .expect_err("unknown");
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(err.provider_code.as_deref(), Some("4043012"));
    let no_number = bni
        .inquire(&handle("INV-404", None))
        .await
        .expect_err("no number");
    assert_eq!(no_number.kind, ErrorKind::Rejected);
    let foreign = bni
        .inquire(&handle("INV-404", Some("9999000000000404")))
        .await;
    assert_eq!(kind(foreign), ErrorKind::Rejected);
}

#[tokio::test]
async fn update_puts_every_field_and_cancel_deletes_with_a_body() {
    let (url, bank) = spawn_bank().await;
    let bni = adapter(snap_config(&url));
    bni.create(&create_request("INV-0001", 1))
        .await
        .expect("created");
    let handle = handle("INV-0001", Some("8123000000000001"));
    let update = UpdateVa::new(
        handle.clone(),
        rupiah(175_000),
        datetime!(2099-01-03 10:00:00 +07:00),
        budi(),
        None,
    );
    bni.update(&update).await.expect("updated");
    let seen = bank.seen().pop().expect("seen");
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("PUT", "/snap/v1.0/transfer-va/update-va")
    );
    assert_eq!(
        seen.body["totalAmount"],
        json!({"value": "175000.00", "currency": "IDR"})
    );
    assert_eq!(seen.body["expiredDate"], "2099-01-03T10:00:00+07:00");
    assert_eq!(seen.body["customerNo"], "000000000001");

    bni.cancel(&handle).await.expect("cancelled");
    let seen = bank.seen().pop().expect("seen");
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("DELETE", "/snap/v1.0/transfer-va/delete-va")
    );
    assert_eq!(
        seen.body,
        json!({"partnerServiceId": "    8123", "customerNo": "000000000001",
            "virtualAccountNo": "    8123000000000001", "trxId": "INV-0001", "additionalInfo": {}})
    );
    let unknown = bni
        .cancel(&self::handle("INV-2", Some("8123000000000002")))
        .await;
    assert_eq!(kind(unknown), ErrorKind::NotFound);
}

#[tokio::test]
async fn update_of_a_paid_va_is_a_conflict() {
    let (url, bank) = spawn_bank().await;
    let bni = adapter(snap_config(&url));
    bni.create(&create_request("INV-0001", 1))
        .await
        .expect("created");
    bank.set("    8123000000000001", "paid");
    let update = UpdateVa::new(
        handle("INV-0001", Some("8123000000000001")),
        rupiah(175_000),
        datetime!(2099-01-03 10:00:00 +07:00),
        budi(),
        None,
    );
    assert_eq!(kind(bni.update(&update).await), ErrorKind::Conflict);
}

#[tokio::test]
async fn the_bank_token_is_fetched_once_for_many_calls() {
    let (url, bank) = spawn_bank().await;
    let bni = adapter(snap_config(&url));
    for serial in 1..=3 {
        bni.create(&create_request(&format!("INV-{serial}"), serial))
            .await
            .expect("created");
    }
    assert_eq!(*bank.tokens.lock().expect("lock"), 1);
}

// ---------------------------------------------------------------------------------------
// Gateway-held (host-to-host) VAs.

fn h2h_config() -> Config {
    let mut json = snap_json("http://127.0.0.1:9");
    json["bills"] = json!("gateway");
    config_from(json)
}

#[tokio::test]
async fn host_to_host_create_update_cancel_call_no_one_and_inquiry_is_not_supported() {
    let bni = adapter(h2h_config());
    assert_eq!(bni.numbering(), Numbering::HostToHost { digits: 12 });
    assert_eq!(bni.va_number_for(42).as_deref(), Some("8123000000000042"));
    let issued = bni
        .create(&create_request("INV-0001", 42))
        .await
        .expect("created");
    assert_eq!(issued.va_number, "8123000000000042");
    let handle = handle("INV-0001", Some("8123000000000042"));
    let update = UpdateVa::new(
        handle.clone(),
        rupiah(1),
        datetime!(2099-01-01 0:00 UTC),
        budi(),
        None,
    );
    bni.update(&update).await.expect("no I/O");
    bni.cancel(&handle).await.expect("no I/O");
    assert_eq!(kind(bni.inquire(&handle).await), ErrorKind::NotSupported);
    assert_eq!(
        kind(
            bni.create(&create_request("INV-0002", 1).with_serial(None))
                .await
        ),
        ErrorKind::Rejected
    );
}

// ---------------------------------------------------------------------------------------
// BNI calling us.

const PAYMENT_PATH: &str = "v1.0/transfer-va/payment";

fn payment_body() -> String {
    r#"{"partnerServiceId":"    8123","customerNo":"000000000001","virtualAccountNo":"    8123000000000001","virtualAccountName":"Budi","trxId":"INV-0001","paymentRequestId":"PR-0001","paidAmount":{"value":"150000.00","currency":"IDR"},"totalAmount":{"value":"150000.00","currency":"IDR"},"trxDateTime":"2024-01-01T11:00:00+07:00","referenceNo":"233171","flagAdvise":"N","additionalInfo":{}}"#.to_owned()
}

fn now_stamp() -> String {
    format_timestamp(OffsetDateTime::now_utc(), TimestampStyle::Jakarta)
}

fn inbound(sub_path: &str, headers: Vec<(&str, String)>, body: String) -> InboundRequest {
    InboundRequest::new(
        "POST",
        sub_path,
        headers
            .into_iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v))
            .collect(),
        Bytes::from(body),
        OffsetDateTime::now_utc(),
    )
    .with_path(format!("{CALLBACK_ROOT}/{sub_path}"))
}

/// BNI asks our token endpoint, signing with `key`.
fn token_request(client_key: &str, key: &str) -> InboundRequest {
    let timestamp = now_stamp();
    let signature = RsaPrivateKey::from_pem(key)
        .expect("key")
        .sign_b64(token_string(client_key, &timestamp).as_bytes());
    inbound(
        "v1.0/access-token/b2b",
        vec![
            ("X-CLIENT-KEY", client_key.to_owned()),
            ("X-TIMESTAMP", timestamp),
            ("X-SIGNATURE", signature),
        ],
        r#"{"grantType":"client_credentials","additionalInfo":{}}"#.to_owned(),
    )
}

async fn our_token(bni: &Bni) -> String {
    let Ok(Inbound::Reply(reply)) = bni
        .verify_and_parse(&token_request(NOTIFY_KEY, BANK_PRIVATE))
        .await
    else {
        panic!("no token reply");
    };
    assert_eq!(reply.status, 200);
    let body: Value = serde_json::from_slice(&reply.body).expect("json");
    assert_eq!(body["responseCode"], "2007300");
    body["accessToken"].as_str().expect("token").to_owned()
}

/// A symmetric notification to `sub_path`, HMAC over the full path as received.
fn symmetric(sub_path: &str, token: &str, timestamp: &str, body: String) -> InboundRequest {
    let path = format!("{CALLBACK_ROOT}/{sub_path}");
    let message = symmetric_string("POST", &path, token, &body_hash(body.as_bytes()), timestamp);
    inbound(
        sub_path,
        vec![
            ("Authorization", format!("Bearer {token}")),
            ("X-TIMESTAMP", timestamp.to_owned()),
            (
                "X-SIGNATURE",
                hmac_sha512_b64(NOTIFY_SECRET.as_bytes(), &message),
            ),
            ("X-PARTNER-ID", NOTIFY_KEY.to_owned()),
            ("X-EXTERNAL-ID", "20240101000000000001".to_owned()),
            ("CHANNEL-ID", "95221".to_owned()),
        ],
        body,
    )
}

/// An asymmetric notification signed with `key` over "/" + sub_path.
fn asymmetric(key: &str, body: String) -> InboundRequest {
    let timestamp = now_stamp();
    let message = asymmetric_string(
        "POST",
        &format!("/{PAYMENT_PATH}"),
        &body_hash(body.as_bytes()),
        &timestamp,
    );
    let signature = RsaPrivateKey::from_pem(key)
        .expect("key")
        .sign_b64(message.as_bytes());
    inbound(
        PAYMENT_PATH,
        vec![
            ("X-TIMESTAMP", timestamp),
            ("X-SIGNATURE", signature),
            ("X-EXTERNAL-ID", "20240101000000000002".to_owned()),
        ],
        body,
    )
}

async fn events(
    bni: &Bni,
    request: &InboundRequest,
) -> (Vec<contracts::inbound::InboundEvent>, Option<String>) {
    match bni.verify_and_parse(request).await {
        Ok(Inbound::Events(notification)) => (notification.events, notification.request_id),
        other => panic!("not events: {other:?}"),
    }
}

fn expected_payment() -> (ResourceRef, EventKind) {
    (
        ResourceRef::VirtualAccount {
            reference: Some(OurReference("INV-0001".to_owned())),
            provider_reference: None,
            va_number: Some("8123000000000001".to_owned()),
        },
        EventKind::VaPayment {
            amount: rupiah(150_000),
            cumulative: None,
            billed: Some(rupiah(150_000)),
            paid_at: Some(datetime!(2024-01-01 11:00:00 +07:00)),
            payment_reference: Some("233171".to_owned()),
        },
    )
}

#[tokio::test]
async fn a_symmetric_payment_with_our_token_becomes_a_va_payment() {
    let bni = adapter(snap_config("http://127.0.0.1:9"));
    let token = our_token(&bni).await;
    let request = symmetric(PAYMENT_PATH, &token, &now_stamp(), payment_body());
    let (events, request_id) = events(&bni, &request).await;
    assert_eq!(request_id.as_deref(), Some("20240101000000000001"));
    assert_eq!(events.len(), 1);
    let (resource, kind) = expected_payment();
    assert_eq!(events[0].resource, resource);
    assert_eq!(events[0].kind, kind);
    assert_eq!(events[0].provider_event_id, "payment:PR-0001");
    assert_eq!(
        events[0].payload,
        serde_json::from_str::<Value>(&payment_body()).expect("json")
    );
}

#[tokio::test]
async fn an_asymmetric_payment_verifies_with_the_banks_key() {
    let mut json = snap_json("http://127.0.0.1:9");
    json["notify_auth"] = json!("asymmetric");
    let bni = adapter(config_from(json));
    let (events, request_id) = events(&bni, &asymmetric(BANK_PRIVATE, payment_body())).await;
    assert_eq!(request_id.as_deref(), Some("20240101000000000002"));
    assert_eq!(events[0].kind, expected_payment().1);
    let err = bni
        .verify_and_parse(&asymmetric(OTHER_PRIVATE, payment_body()))
        .await
        .expect_err("wrong key");
    assert_eq!(err.kind, ErrorKind::InvalidSignature);
    assert_eq!(err.provider_code.as_deref(), Some("4012500"));
}

#[tokio::test]
async fn lenient_bodies_with_bare_numbers_and_python_spacing_parse() {
    let bni = adapter(snap_config("http://127.0.0.1:9"));
    let token = our_token(&bni).await;
    let body = r#"{"partnerServiceId": "    8123", "customerNo": 1, "virtualAccountNo": "    8123000000000001", "trxId": "INV-0001", "paymentRequestId": "PR-0001", "channelCode": 6011, "paymentType": 1, "responseCode": 2002500, "paidAmount": {"value": "150000.00", "currency": "IDR"}, "trxDateTime": "20240101T040000Z", "referenceNo": 233171, "virtualAccountName": "Jos\u00e9"}"#;
    let request = symmetric(PAYMENT_PATH, &token, &now_stamp(), body.to_owned());
    let (events, _) = events(&bni, &request).await;
    let (resource, _) = expected_payment();
    assert_eq!(events[0].resource, resource);
    let EventKind::VaPayment {
        billed,
        paid_at,
        payment_reference,
        ..
    } = &events[0].kind
    else {
        panic!("not a payment");
    };
    assert_eq!(*billed, None);
    assert_eq!(*paid_at, Some(datetime!(2024-01-01 04:00:00 UTC)));
    assert_eq!(payment_reference.as_deref(), Some("233171"));
}

#[tokio::test]
async fn bad_payment_fields_are_rejected_with_snap_codes() {
    let bni = adapter(snap_config("http://127.0.0.1:9"));
    let token = our_token(&bni).await;
    let base: Value = serde_json::from_str(&payment_body()).expect("json");
    let cases = [
        ("paidAmount", Value::Null, "4002502"),
        (
            "paidAmount",
            json!({"value": "150000.50", "currency": "IDR"}),
            "4002501",
        ),
        (
            "paidAmount",
            json!({"value": "0.00", "currency": "IDR"}),
            "4002501",
        ),
        ("paymentRequestId", Value::Null, "4002502"),
        ("partnerServiceId", json!("    9999"), "4002501"),
        ("customerNo", json!("12"), "4002501"),
        ("virtualAccountNo", json!("    8123000000000002"), "4002501"),
        ("trxDateTime", json!("yesterday"), "4002501"),
    ];
    for (field, value, code) in cases {
        let mut body = base.clone();
        match value {
            Value::Null => {
                body.as_object_mut().map(|o| o.remove(field));
            }
            value => body[field] = value,
        }
        let request = symmetric(PAYMENT_PATH, &token, &now_stamp(), body.to_string());
        let err = bni.verify_and_parse(&request).await.expect_err(field);
        assert_eq!(err.kind, ErrorKind::Rejected, "{field}");
        assert_eq!(err.provider_code.as_deref(), Some(code), "{field}");
    }
    let not_json = symmetric(PAYMENT_PATH, &token, &now_stamp(), "[]".to_owned());
    let err = bni.verify_and_parse(&not_json).await.expect_err("array");
    assert_eq!(err.provider_code.as_deref(), Some("4002500"));
}

#[tokio::test]
async fn tampered_stale_and_foreign_requests_are_refused() {
    let bni = adapter(snap_config("http://127.0.0.1:9"));
    let token = our_token(&bni).await;
    let mut tampered = symmetric(PAYMENT_PATH, &token, &now_stamp(), payment_body());
    tampered.body = Bytes::from(payment_body().replace("150000.00", "950000.00"));
    let stale_time = format_timestamp(
        OffsetDateTime::now_utc() - time::Duration::minutes(10),
        TimestampStyle::Jakarta,
    );
    let stale = symmetric(PAYMENT_PATH, &token, &stale_time, payment_body());
    let mut other_json = snap_json("http://127.0.0.1:9");
    other_json["notify_client_key"] = json!("SOMEONE-ELSE");
    let other = adapter(config_from(other_json));
    let foreign_token = match other
        .verify_and_parse(&token_request("SOMEONE-ELSE", BANK_PRIVATE))
        .await
    {
        Ok(Inbound::Reply(reply)) => {
            serde_json::from_slice::<Value>(&reply.body).expect("json")["accessToken"]
                .as_str()
                .expect("token")
                .to_owned()
        }
        other => panic!("{other:?}"),
    };
    let foreign = symmetric(PAYMENT_PATH, &foreign_token, &now_stamp(), payment_body());
    let cases = [
        (tampered, "4012500", "Unauthorized. [Signature]"),
        (stale, "4012500", "Unauthorized. [Timestamp]"),
        (foreign, "4012501", "Invalid Token (B2B)"),
    ];
    for (request, code, message) in cases {
        let err = bni.verify_and_parse(&request).await.expect_err(message);
        assert_eq!(err.kind, ErrorKind::InvalidSignature, "{message}");
        assert_eq!(err.provider_code.as_deref(), Some(code));
        assert_eq!(err.message, message);
        // The answer repeats the rejection's code.
        let ack = bni.acknowledge(&request, &AckOutcome::Rejected(err));
        assert_eq!(ack.status, 401);
        assert!(
            ack.body
                .starts_with(format!(r#"{{"responseCode":"{code}""#).as_bytes())
        );
    }
    let wrong_key = bni
        .verify_and_parse(&token_request(NOTIFY_KEY, OTHER_PRIVATE))
        .await;
    let Ok(Inbound::Reply(reply)) = wrong_key else {
        panic!("token requests are answered");
    };
    assert_eq!(reply.status, 401);
    assert!(reply.body.starts_with(br#"{"responseCode":"4017300""#));
}

#[tokio::test]
async fn host_to_host_inquiry_becomes_a_lookup_and_is_refused_for_bank_held_bills() {
    let bni = adapter(h2h_config());
    let token = our_token(&bni).await;
    let body = json!({"partnerServiceId": "    8123", "customerNo": "000000000042",
        "virtualAccountNo": "    8123000000000042", "inquiryRequestId": "IR-1",
        "trxDateTime": "2024-01-01T11:00:00+07:00", "channelCode": 6011});
    let request = symmetric(
        "v1.0/transfer-va/inquiry",
        &token,
        &now_stamp(),
        body.to_string(),
    );
    let Ok(Inbound::Lookup(lookup)) = bni.verify_and_parse(&request).await else {
        panic!("not a lookup");
    };
    assert_eq!(lookup.request_id.as_deref(), Some("20240101000000000001"));
    assert_eq!(
        lookup.resource,
        ResourceRef::VirtualAccount {
            reference: None,
            provider_reference: None,
            va_number: Some("8123000000000042".to_owned()),
        }
    );
    let bank_held = adapter(snap_config("http://127.0.0.1:9"));
    let token = our_token(&bank_held).await;
    let request = symmetric(
        "v1.0/transfer-va/inquiry",
        &token,
        &now_stamp(),
        body.to_string(),
    );
    assert_eq!(
        kind(bank_held.verify_and_parse(&request).await),
        ErrorKind::Rejected
    );
}

#[tokio::test]
async fn unknown_paths_are_rejected_in_both_protocols() {
    let bni = adapter(snap_config("http://127.0.0.1:9"));
    for path in [
        "",
        "v1.0/transfer-va/create-va",
        "v1.0/transfer-va/payment/extra",
    ] {
        let request = inbound(path, Vec::new(), "{}".to_owned());
        assert_eq!(
            kind(bni.verify_and_parse(&request).await),
            ErrorKind::Rejected,
            "{path}"
        );
    }
    let legacy = adapter(config_from(
        json!({"base_url": "http://x", "client_id": "123", "secret_key": "s"}),
    ));
    let request = inbound(PAYMENT_PATH, Vec::new(), "{}".to_owned());
    assert_eq!(
        kind(legacy.verify_and_parse(&request).await),
        ErrorKind::Rejected
    );
}

// ---------------------------------------------------------------------------------------
// Acknowledgements.

fn ack(bni: &Bni, sub_path: &str, body: &str, outcome: &AckOutcome) -> (u16, Value, Vec<u8>) {
    let request = inbound(sub_path, Vec::new(), body.to_owned());
    let response = bni.acknowledge(&request, outcome);
    assert_eq!(response.content_type, "application/json");
    assert!(response.headers.iter().any(|(n, _)| n == "X-TIMESTAMP"));
    let value = serde_json::from_slice(&response.body).expect("json");
    (response.status, value, response.body.to_vec())
}

#[test]
fn an_accepted_payment_is_answered_2002500_with_the_echo() {
    let bni = adapter(snap_config("http://127.0.0.1:9"));
    let (status, body, raw) = ack(&bni, PAYMENT_PATH, &payment_body(), &AckOutcome::Accepted);
    assert_eq!(status, 200);
    assert!(raw.starts_with(br#"{"responseCode":"2002500","responseMessage":"Successful""#));
    let request: Value = serde_json::from_str(&payment_body()).expect("json");
    let data = &body["virtualAccountData"];
    for field in [
        "partnerServiceId",
        "customerNo",
        "virtualAccountNo",
        "virtualAccountName",
        "trxId",
        "paymentRequestId",
        "paidAmount",
        "totalAmount",
        "trxDateTime",
        "referenceNo",
        "flagAdvise",
    ] {
        assert_eq!(data[field], request[field], "{field}");
    }
    assert_eq!(data["paymentFlagStatus"], "00");
    assert_eq!(
        data["paymentFlagReason"],
        json!({"english": "Success", "indonesia": "Sukses"})
    );
}

#[test]
fn a_bill_is_answered_2002400_with_what_it_owes() {
    let bni = adapter(h2h_config());
    let request = json!({"partnerServiceId": "    8123", "customerNo": "000000000042",
        "virtualAccountNo": "    8123000000000042", "inquiryRequestId": "IR-1"});
    let view = BillView::new(
        OurReference("INV-0042".to_owned()),
        "8123000000000042".to_owned(),
        rupiah(150_000),
        "Budi".to_owned(),
        datetime!(2099-01-02 03:00:00 UTC),
    );
    let (status, body, raw) = ack(
        &bni,
        "v1.0/transfer-va/inquiry",
        &request.to_string(),
        &AckOutcome::Bill(view),
    );
    assert_eq!(status, 200);
    assert!(raw.starts_with(br#"{"responseCode":"2002400""#));
    assert_eq!(
        body["virtualAccountData"],
        json!({"partnerServiceId": "    8123", "customerNo": "000000000042",
            "virtualAccountNo": "    8123000000000042", "virtualAccountName": "Budi",
            "trxId": "INV-0042", "totalAmount": {"value": "150000.00", "currency": "IDR"},
            "inquiryRequestId": "IR-1", "expiredDate": "2099-01-02T10:00:00+07:00",
            "inquiryStatus": "00", "inquiryReason": {"english": "Success", "indonesia": "Sukses"}})
    );
}

#[test]
fn refusals_replays_rejections_and_retries_have_their_snap_codes() {
    let bni = adapter(snap_config("http://127.0.0.1:9"));
    let body = payment_body();
    let cases = [
        (AckOutcome::Refused(Refusal::UnknownBill), 404, "4042512"),
        (AckOutcome::Refused(Refusal::Cancelled), 404, "4042512"),
        (AckOutcome::Refused(Refusal::Expired), 404, "4042519"),
        (AckOutcome::Refused(Refusal::AlreadyPaid), 404, "4042514"),
        (AckOutcome::Refused(Refusal::AmountMismatch), 404, "4042513"),
        (AckOutcome::Refused(Refusal::Inconsistent), 404, "4042518"),
        (AckOutcome::Replayed, 409, "4092500"),
        (
            AckOutcome::Rejected(ProviderError::with_code(
                ErrorKind::InvalidSignature,
                "4012501",
                "Invalid Token (B2B)",
            )),
            401,
            "4012501",
        ),
        (
            AckOutcome::Rejected(ProviderError::new(ErrorKind::Rejected, "no")),
            400,
            "4002500",
        ),
        (AckOutcome::RetryLater, 500, "5002501"),
    ];
    for (outcome, status, code) in cases {
        let (got_status, answer, _) = ack(&bni, PAYMENT_PATH, &body, &outcome);
        assert_eq!(
            (got_status, answer["responseCode"].as_str()),
            (status, Some(code)),
            "{outcome:?}"
        );
        if status == 404 {
            let data = &answer["virtualAccountData"];
            assert_eq!(data["paymentFlagStatus"], "01", "{outcome:?}");
            assert!(data["paymentFlagReason"]["english"].is_string());
            assert_eq!(data["paymentRequestId"], "PR-0001");
        }
    }
    assert_eq!(
        ack(&bni, PAYMENT_PATH, &body, &AckOutcome::Replayed).1["responseMessage"],
        "Conflict"
    );
    assert_eq!(
        ack(&bni, PAYMENT_PATH, &body, &AckOutcome::RetryLater).1["responseMessage"],
        "Internal Server Error"
    );
    let (status, answer, _) = ack(
        &bni,
        "v1.0/transfer-va/inquiry",
        r#"{"inquiryRequestId":"IR-1"}"#,
        &AckOutcome::Refused(Refusal::Expired),
    );
    assert_eq!(
        (status, answer["responseCode"].as_str()),
        (404, Some("4042419"))
    );
    assert_eq!(answer["virtualAccountData"]["inquiryStatus"], "01");
    assert_eq!(answer["virtualAccountData"]["inquiryRequestId"], "IR-1");
}

#[test]
fn secrets_stay_out_of_debug_and_serialized_config() {
    let mut config = snap_config("http://127.0.0.1:9");
    config.client_secret = Some(SecretString::from("TOP-SECRET-1"));
    let shown = format!(
        "{config:?} {}",
        serde_json::to_string(&config).expect("json")
    );
    assert!(!shown.contains("TOP-SECRET-1"));
    assert!(shown.contains("[redacted]"));
    let _: Bills = config.bills.unwrap_or_default();
}
