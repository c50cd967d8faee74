//! The adapter against a tiny in-test BNI: an axum server that decrypts what it gets with
//! the codec pinned by the published vectors, records it, and answers as told.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use contracts::va::{CreateVa, IssuedVa, PaymentRule, ProviderVaState, UpdateVa, VaHandle};
use contracts::{Amount, Customer, ErrorKind, OurReference, ProviderError, VirtualAccounts};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::config::tests::sample;
use crate::signature::BniEnc;
use crate::signature::vectors::{OUR_CLIENT_ID, OUR_SECRET};
use crate::{BillingType, Bni, Config};

/// What the test server answers: HTTP status, body, and how long to wait first.
struct Reply {
    status: u16,
    body: Vec<u8>,
    delay: Duration,
}

impl Reply {
    fn body(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// `{"status":"000","data":<inner encrypted now>}`.
    fn success(inner: &Value) -> Reply {
        Self::success_at(inner, unix_now())
    }

    fn success_at(inner: &Value, timestamp: i64) -> Reply {
        let data = keys().encrypt(&inner.to_string(), timestamp);
        Self::body(200, json!({"status": "000", "data": data}).to_string())
    }

    fn status(code: &str, message: &str) -> Reply {
        Self::body(200, json!({"status": code, "message": message}).to_string())
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    content_type: Option<String>,
    outer: Value,
    /// The decrypted inner JSON, exactly as sent.
    inner: String,
    timestamp: i64,
}

type Responder = dyn Fn(&Value) -> Reply + Send + Sync;

#[derive(Clone)]
struct Bank {
    seen: Arc<Mutex<Vec<Seen>>>,
    respond: Arc<Responder>,
}

struct TestBni {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestBni {
    async fn start(respond: impl Fn(&Value) -> Reply + Send + Sync + 'static) -> TestBni {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let bank = Bank {
            seen: seen.clone(),
            respond: Arc::new(respond),
        };
        let app = Router::new().route("/", post(handle)).with_state(bank);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        TestBni { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn adapter(&self) -> Bni {
        adapter_with(sample(&self.url))
    }
}

async fn handle(State(bank): State<Bank>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let outer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let data = outer["data"].as_str().unwrap_or_default();
    let opened = keys().decrypt(data).expect("the adapter's data decrypts");
    let inner: Value = serde_json::from_str(&opened.json).expect("inner JSON");
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    bank.seen.lock().expect("lock").push(Seen {
        content_type,
        outer: outer.clone(),
        inner: opened.json,
        timestamp: opened.timestamp,
    });
    let reply = (bank.respond)(&inner);
    tokio::time::sleep(reply.delay).await;
    let status = StatusCode::from_u16(reply.status).expect("status");
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        reply.body,
    )
}

fn keys() -> BniEnc<'static> {
    BniEnc::new(OUR_CLIENT_ID, OUR_SECRET)
}

fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn adapter_with(config: Config) -> Bni {
    Bni::new(config, reqwest::Client::new()).expect("valid config")
}

fn budi() -> Customer {
    Customer {
        name: "Budi".to_owned(),
        phone: Some("08123456789".to_owned()),
        email: Some("budi@example.com".to_owned()),
    }
}

fn rupiah(value: i64) -> Amount {
    Amount::new(value).expect("amount")
}

fn create_request() -> CreateVa {
    CreateVa::new(
        OurReference("INV-0001".to_owned()),
        rupiah(150_000),
        budi(),
        datetime!(2023-11-15 23:59:59 +07:00),
    )
    .with_description(Some("Test".to_owned()))
}

/// A handle with only what the gateway has after a create that timed out.
fn bare_handle() -> VaHandle {
    VaHandle::new(
        OurReference("INV-0001".to_owned()),
        None,
        None,
        rupiah(150_000),
    )
}

fn kind<T: std::fmt::Debug>(result: Result<T, ProviderError>) -> ErrorKind {
    result.expect_err("an error").kind
}

/// A stateful BNI: create stores the billing, inquiry reports it unpaid.
fn stateful_bank() -> impl Fn(&Value) -> Reply + Send + Sync + 'static {
    let billings: Mutex<HashMap<String, Value>> = Mutex::new(HashMap::new());
    move |inner| {
        let trx_id = inner["trx_id"].as_str().unwrap_or_default().to_owned();
        let mut billings = billings.lock().expect("lock");
        match inner["type"].as_str() {
            Some("createbilling") if billings.contains_key(&trx_id) => {
                Reply::status("105", "Duplicate Billing ID")
            }
            Some("createbilling") => {
                billings.insert(trx_id.clone(), inner.clone());
                Reply::success(&json!({"virtual_account": "8123000000000001", "trx_id": trx_id}))
            }
            Some("inquirybilling") => match billings.get(&trx_id) {
                Some(billing) => Reply::success(&inquiry_answer(billing)),
                None => Reply::status("101", "Billing not found"),
            },
            _ => Reply::status("004", "Service not found"),
        }
    }
}

fn inquiry_answer(billing: &Value) -> Value {
    json!({
        "client_id": "123", "trx_id": billing["trx_id"], "trx_amount": billing["trx_amount"],
        "virtual_account": "8123000000000001", "customer_name": billing["customer_name"],
        "customer_email": billing["customer_email"], "customer_phone": billing["customer_phone"],
        "description": billing["description"], "billing_type": billing["billing_type"],
        "va_status": "1", "payment_amount": "0", "payment_ntb": null,
        "datetime_created": "2023-11-14 10:00:00", "datetime_expired": "2023-11-15 23:59:59",
        "datetime_last_updated": "2023-11-14 10:00:00", "datetime_payment": null,
        "datetime_expired_iso8601": "2023-11-15T23:59:59+07:00", "datetime_payment_iso8601": null,
    })
}

const CREATE_PLAINTEXT: &str = r#"{"type":"createbilling","client_id":"123","trx_id":"INV-0001","trx_amount":"150000","billing_type":"c","customer_name":"Budi","customer_email":"budi@example.com","customer_phone":"08123456789","virtual_account":"","datetime_expired":"2023-11-15T23:59:59+07:00","description":"Test"}"#;

#[tokio::test]
async fn create_then_inquire_round_trip_uses_the_exact_wire_format() {
    let bni = TestBni::start(stateful_bank()).await;
    let adapter = bni.adapter();
    let issued = adapter.create(&create_request()).await.expect("created");
    let expected = IssuedVa::new("8123000000000001".to_owned(), "BNI".to_owned(), None);
    assert_eq!(issued, expected);

    let report = adapter.inquire(&bare_handle()).await.expect("inquired");
    assert_eq!(report.state, ProviderVaState::Active);
    assert_eq!(report.paid_amount, Some(Amount::ZERO));
    assert_eq!(report.va_number.as_deref(), Some("8123000000000001"));
    assert_eq!(report.provider_status, "1");

    let seen = bni.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        assert_eq!(request.outer["client_id"], "123");
        assert_eq!(request.outer["prefix"], "8");
        assert_eq!(request.outer.as_object().map(|o| o.len()), Some(3));
        assert!((request.timestamp - unix_now()).abs() <= 5, "stamped now");
    }
    assert_eq!(seen[0].inner, CREATE_PLAINTEXT);
    let inquiry = r#"{"type":"inquirybilling","client_id":"123","trx_id":"INV-0001"}"#;
    assert_eq!(seen[1].inner, inquiry);
}

#[tokio::test]
async fn non_ascii_names_travel_escaped() {
    let bni = TestBni::start(stateful_bank()).await;
    let mut request = create_request();
    request.customer.name = "Désirée".to_owned();
    bni.adapter().create(&request).await.expect("created");
    let inner = &bni.seen()[0].inner;
    assert!(
        inner.contains(r#""customer_name":"D\u00e9sir\u00e9e""#),
        "{inner}"
    );
    assert!(inner.is_ascii());
}

#[tokio::test]
async fn create_with_a_used_reference_is_duplicate() {
    let bni = TestBni::start(stateful_bank()).await;
    let adapter = bni.adapter();
    adapter.create(&create_request()).await.expect("first");
    let error = adapter.create(&create_request()).await.expect_err("second");
    assert_eq!(error.kind, ErrorKind::Duplicate);
    assert_eq!(error.provider_code.as_deref(), Some("105"));
}

#[tokio::test]
async fn inquiry_of_an_unknown_reference_is_not_found() {
    let bni = TestBni::start(stateful_bank()).await;
    assert_eq!(
        kind(bni.adapter().inquire(&bare_handle()).await),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn paid_billing_inquires_as_paid() {
    let bni = TestBni::start(|_: &Value| {
        Reply::success(&json!({
            "client_id": "123", "trx_id": "INV-0001", "trx_amount": "150000",
            "virtual_account": "8123000000000001", "va_status": "2",
            "payment_amount": "150000", "payment_ntb": "233171",
            "datetime_expired": "2023-11-15 23:59:59", "datetime_payment": "2023-11-15 10:00:00",
            "datetime_payment_iso8601": "2023-11-15T10:00:00+07:00",
        }))
    })
    .await;
    let report = bni.adapter().inquire(&bare_handle()).await.expect("report");
    assert_eq!(report.state, ProviderVaState::Paid);
    assert_eq!(report.payment_reference.as_deref(), Some("233171"));
    assert_eq!(report.paid_at, Some(datetime!(2023-11-15 10:00:00 +07:00)));
}

#[tokio::test]
async fn timeout_on_create_is_ambiguous_not_retryable() {
    let bni = TestBni::start(|inner: &Value| Reply {
        delay: Duration::from_secs(3),
        ..Reply::success(&json!({"virtual_account": "8123000000000001", "trx_id": inner["trx_id"]}))
    })
    .await;
    let mut config = sample(&bni.url);
    config.timeout_ms = 200;
    let error = adapter_with(config)
        .create(&create_request())
        .await
        .expect_err("timeout");
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn connection_refused_is_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let adapter = adapter_with(sample(&url));
    let error = adapter
        .create(&create_request())
        .await
        .expect_err("refused");
    assert_eq!(error.kind, ErrorKind::Unavailable);
    assert!(error.is_retryable());
}

#[tokio::test]
async fn http_500_without_envelope_is_unavailable() {
    let bni = TestBni::start(|_: &Value| Reply::body(500, "Internal Server Error")).await;
    assert_eq!(
        kind(bni.adapter().create(&create_request()).await),
        ErrorKind::Unavailable
    );
}

#[tokio::test]
async fn garbled_answers_are_protocol_errors() {
    let garbage = [
        Reply::body(200, "<html>maintenance</html>"),
        Reply::body(200, r#"{"status":"000","data":"!!!not base64!!!"}"#),
        Reply::body(200, r#"{"status":"000"}"#),
        Reply::success(&json!({"trx_id": "INV-0001"})),
        Reply::success(&json!({"virtual_account": "8123000000000001", "trx_id": "INV-9999"})),
        Reply::status("555", "something new"),
    ];
    for reply in garbage {
        let reply = Arc::new(reply);
        let bni =
            TestBni::start(move |_: &Value| Reply::body(reply.status, reply.body.clone())).await;
        assert_eq!(
            kind(bni.adapter().create(&create_request()).await),
            ErrorKind::Protocol
        );
    }
}

#[tokio::test]
async fn stale_or_foreign_answer_data_is_a_protocol_error() {
    let answer = json!({"virtual_account": "8123000000000001", "trx_id": "INV-0001"});
    let stale = Reply::success_at(&answer, unix_now() - 301);
    let stale = Arc::new(stale.body);
    let bni = TestBni::start(move |_: &Value| Reply::body(200, stale.as_ref().clone())).await;
    assert_eq!(
        kind(bni.adapter().create(&create_request()).await),
        ErrorKind::Protocol
    );

    let other_secret = BniEnc::new(OUR_CLIENT_ID, "ffffffffffffffffffffffffffffffff");
    let data = other_secret.encrypt(&answer.to_string(), unix_now());
    let foreign = Arc::new(json!({"status": "000", "data": data}).to_string());
    let bni = TestBni::start(move |_: &Value| Reply::body(200, foreign.as_bytes().to_vec())).await;
    assert_eq!(
        kind(bni.adapter().create(&create_request()).await),
        ErrorKind::Protocol
    );
}

#[tokio::test]
async fn oversized_answer_is_a_protocol_error() {
    let bni = TestBni::start(|_: &Value| Reply::body(200, vec![b' '; 2 * 1024 * 1024])).await;
    assert_eq!(
        kind(bni.adapter().inquire(&bare_handle()).await),
        ErrorKind::Protocol
    );
}

#[tokio::test]
async fn technical_failures_are_ambiguous_for_changes_and_retryable_for_reads() {
    let bni = TestBni::start(|_: &Value| Reply::status("999", "Internal Error")).await;
    let adapter = bni.adapter();
    assert_eq!(
        kind(adapter.create(&create_request()).await),
        ErrorKind::Timeout
    );
    assert_eq!(
        kind(adapter.inquire(&bare_handle()).await),
        ErrorKind::Unavailable
    );
}

#[tokio::test]
async fn partial_rule_on_a_fixed_instance_is_rejected_before_any_io() {
    let bni = TestBni::start(stateful_bank()).await;
    let adapter = bni.adapter();
    assert!(adapter.supports_rule(PaymentRule::Exact));
    assert!(!adapter.supports_rule(PaymentRule::Partial));
    let request = create_request().with_rule(PaymentRule::Partial);
    assert_eq!(kind(adapter.create(&request).await), ErrorKind::Rejected);
    assert!(bni.seen().is_empty());
}

#[tokio::test]
async fn installment_instance_sends_billing_type_i_for_partial_rules() {
    let bni = TestBni::start(stateful_bank()).await;
    let mut config = sample(&bni.url);
    config.billing_type = BillingType::I;
    let adapter = adapter_with(config);
    assert!(adapter.supports_rule(PaymentRule::Partial));
    let request = create_request().with_rule(PaymentRule::Partial);
    adapter.create(&request).await.expect("created");
    assert!(bni.seen()[0].inner.contains(r#""billing_type":"i""#));
}

#[tokio::test]
async fn update_resends_every_field() {
    let bni = TestBni::start(|inner: &Value| {
        Reply::success(&json!({"virtual_account": "8123000000000001", "trx_id": inner["trx_id"]}))
    })
    .await;
    let customer = Customer {
        phone: None,
        ..budi()
    };
    let expires = datetime!(2023-11-20 12:00:00 UTC);
    let request = UpdateVa::new(bare_handle(), rupiah(175_000), expires, customer, None);
    bni.adapter().update(&request).await.expect("updated");
    let expected = r#"{"type":"updatebilling","client_id":"123","trx_id":"INV-0001","trx_amount":"175000","customer_name":"Budi","customer_email":"budi@example.com","customer_phone":"","datetime_expired":"2023-11-20T19:00:00+07:00","description":""}"#;
    assert_eq!(bni.seen()[0].inner, expected);
}

#[tokio::test]
async fn update_of_a_paid_billing_is_a_conflict() {
    let bni = TestBni::start(|_: &Value| Reply::status("100", "Billing has been paid")).await;
    let expires = datetime!(2023-11-20 12:00:00 UTC);
    let request = UpdateVa::new(bare_handle(), rupiah(1), expires, budi(), None);
    assert_eq!(
        kind(bni.adapter().update(&request).await),
        ErrorKind::Conflict
    );
}

#[tokio::test]
async fn cancel_sends_inactivebilling_with_the_va_number() {
    let bni = TestBni::start(|_: &Value| Reply::body(200, r#"{"status":"000"}"#)).await;
    let handle = VaHandle::new(
        OurReference("INV-0001".to_owned()),
        None,
        Some("8123000000000001".to_owned()),
        rupiah(150_000),
    );
    bni.adapter().cancel(&handle).await.expect("cancelled");
    let expected = r#"{"type":"inactivebilling","client_id":"123","trx_id":"INV-0001","virtual_account":"8123000000000001"}"#;
    assert_eq!(bni.seen()[0].inner, expected);
}

#[tokio::test]
async fn cancel_without_a_va_number_asks_bni_for_it_first() {
    let bni = TestBni::start(|inner: &Value| match inner["type"].as_str() {
        Some("inquirybilling") => Reply::success(&inquiry_answer(
            &json!({"trx_id": "INV-0001", "trx_amount": "150000"}),
        )),
        _ => Reply::success(&json!({"virtual_account": "8123000000000001", "trx_id": "INV-0001"})),
    })
    .await;
    bni.adapter()
        .cancel(&bare_handle())
        .await
        .expect("cancelled");
    let seen = bni.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1]
            .inner
            .contains(r#""virtual_account":"8123000000000001""#)
    );
}

#[test]
fn capabilities_share_one_adapter_and_debug_hides_the_secret() {
    let adapter = adapter_with(sample("http://127.0.0.1:9"));
    assert!(!format!("{adapter:?}").contains(OUR_SECRET));
    let capabilities = adapter.capabilities();
    assert!(capabilities.virtual_accounts.is_some());
    assert!(capabilities.inbound.is_some());
    assert!(capabilities.payments.is_none());
}

#[test]
fn construction_validates_the_config() {
    let mut config = sample("http://127.0.0.1:9");
    config.client_id = "abc".to_owned();
    assert!(Bni::new(config, reqwest::Client::new()).is_err());
}
