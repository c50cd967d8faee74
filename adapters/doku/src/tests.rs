//! The adapter against small in-test stand-ins of DOKU: exact wire bodies, headers and
//! signatures (checked with the SNAP helpers and by recomputing the Checkout signature),
//! how every kind of failure is classified, and DOKU's notifications end to end.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapter_snap::codec::{TimestampStyle, body_hash, format_timestamp};
use adapter_snap::sign::{
    RsaPrivateKey, RsaPublicKey, hmac_sha512_b64, symmetric_string, token_string,
    verify_hmac_sha512_b64,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use contracts::inbound::{
    AckOutcome, EventKind, Inbound, InboundRequest, InboundResponse, Refusal, ResourceRef,
};
use contracts::payment::{
    CreatePayment, PaymentAction, PaymentHandle, ProviderPaymentState, RefundRequest,
};
use contracts::va::{CreateVa, Numbering, ProviderVaState, UpdateVa, VaHandle};
use contracts::{
    Amount, Customer, ErrorKind, InboundNotifications, OurReference, Payments, ProviderError,
    ProviderReference, VirtualAccounts,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use url::Url;

use crate::signature::tests::{
    CLIENT_ID, NOTIFICATION_BODY, NOTIFICATION_REQUEST_ID, NOTIFICATION_SIGNATURE,
    NOTIFICATION_TIMESTAMP, SECRET,
};
use crate::signature::{self, Components};
use crate::{Config, Doku, METHOD_CHECKOUT};

const MERCHANT_PRIVATE: &str = include_str!("../../../mocks/keys/merchant.private.pem");
const MERCHANT_PUBLIC: &str = include_str!("../../../mocks/keys/merchant.public.pem");
const DOKU_PRIVATE: &str = include_str!("../../../mocks/keys/doku.private.pem");
const DOKU_PUBLIC: &str = include_str!("../../../mocks/keys/doku.public.pem");
const TOKEN: &str = "doku-token-1";
const TOKEN_PATH: &str = "/authorization/v1/access-token/b2b";

/// A configuration for tests: the 2.3 worked example's Client-Id and secret, the mocks'
/// merchant and DOKU keys, `partnerServiceId` 8129.
pub(crate) fn config(base_url: &str) -> Config {
    serde_json::from_value(json!({
        "base_url": base_url,
        "client_id": CLIENT_ID,
        "secret_key": SECRET,
        "private_key": MERCHANT_PRIVATE,
        "doku_public_key": DOKU_PUBLIC,
        "partner_service_id": "8129",
        "request_timeout_ms": 500
    }))
    .expect("test config")
}

fn adapter(config: Config) -> Doku {
    Doku::new(config, reqwest::Client::new()).expect("valid config")
}

// ---- the stand-in -----------------------------------------------------------------------

/// One request the stand-in received.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("header {name}"))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// HTTP status, body, delay before answering.
type Reply = (u16, String, Duration);
type Responder = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

#[derive(Clone)]
struct Stub {
    seen: Arc<Mutex<Vec<Seen>>>,
    respond: Responder,
}

impl Stub {
    /// Everything but token requests.
    fn calls(&self) -> Vec<Seen> {
        let seen = self.seen.lock().expect("lock").clone();
        seen.into_iter().filter(|s| s.path != TOKEN_PATH).collect()
    }

    fn only_call(&self) -> Seen {
        let calls = self.calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        calls.into_iter().next().expect("one call")
    }
}

async fn handle(
    State(stub): State<Stub>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let seen = Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers,
        body,
    };
    stub.seen.lock().expect("lock").push(seen.clone());
    let (status, body, delay) = (stub.respond)(&seen);
    tokio::time::sleep(delay).await;
    (StatusCode::from_u16(status).expect("status"), body)
}

async fn serve(respond: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> (Doku, Stub) {
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
    (adapter(config(&format!("http://{addr}"))), stub)
}

/// An adapter pointed at a port nothing listens on.
async fn unreachable_adapter() -> Doku {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    adapter(config(&format!("http://{addr}")))
}

fn reply(status: u16, body: Value) -> Reply {
    (status, body.to_string(), Duration::ZERO)
}

/// A SNAP stand-in: answers token requests it can verify with the merchant's public key,
/// and everything else with `service`.
fn snap(service: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> impl Fn(&Seen) -> Reply {
    let merchant = RsaPublicKey::from_pem(MERCHANT_PUBLIC).expect("merchant public key");
    move |seen| {
        if seen.path != TOKEN_PATH {
            return service(seen);
        }
        let message = token_string(seen.header("x-client-key"), seen.header("x-timestamp"));
        if seen.header("x-client-key") != CLIENT_ID
            || !merchant.verify_b64(message.as_bytes(), seen.header("x-signature"))
        {
            return reply(
                401,
                json!({"responseCode": "4017300", "responseMessage": "Unauthorized. [Signature]"}),
            );
        }
        reply(
            200,
            json!({"responseCode": "2007300", "responseMessage": "Successful",
                   "accessToken": TOKEN, "tokenType": "Bearer", "expiresIn": 900}),
        )
    }
}

/// Checks the SNAP headers of a service call (2.11.3) and its HMAC-SHA512 signature.
fn assert_snap_signed(seen: &Seen, method: &str, path: &str) {
    assert_eq!(seen.method, method);
    assert_eq!(seen.path, path);
    assert_eq!(seen.header("authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(seen.header("x-partner-id"), CLIENT_ID);
    assert_eq!(seen.header("channel-id"), "SDK");
    let external_id = seen.header("x-external-id");
    assert!(
        external_id.len() == 26 && external_id.bytes().all(|b| b.is_ascii_digit()),
        "{external_id}"
    );
    let timestamp = seen.header("x-timestamp");
    assert!(
        timestamp.ends_with('Z') && timestamp.len() == 20,
        "{timestamp}"
    );
    let message = symmetric_string(method, path, TOKEN, &body_hash(&seen.body), timestamp);
    assert!(
        verify_hmac_sha512_b64(SECRET.as_bytes(), &message, seen.header("x-signature")),
        "X-SIGNATURE does not verify"
    );
}

// ---- fixtures ---------------------------------------------------------------------------

const CREATE_PATH: &str = "/virtual-accounts/bi-snap-va/v1.1/transfer-va/create-va";
const UPDATE_PATH: &str = "/virtual-accounts/bi-snap-va/v1.1/transfer-va/update-va";
const DELETE_PATH: &str = "/virtual-accounts/bi-snap-va/v1.1/transfer-va/delete-va";
const STATUS_PATH: &str = "/orders/v1.0/transfer-va/status";

fn amount(rupiah: i64) -> Amount {
    Amount::new(rupiah).expect("amount")
}

fn customer() -> Customer {
    Customer {
        name: "Budi Santoso".to_owned(),
        phone: Some("081234567890".to_owned()),
        email: Some("budi@example.com".to_owned()),
    }
}

fn create_va() -> CreateVa {
    CreateVa::new(
        OurReference("INV-20240101-0001".to_owned()),
        amount(150_000),
        customer(),
        datetime!(2024-01-02 03:00:00 UTC),
    )
    .with_serial(Some(1))
}

fn va_handle() -> VaHandle {
    VaHandle::new(
        OurReference("INV-20240101-0001".to_owned()),
        None,
        Some("8129000000000001".to_owned()),
        amount(150_000),
    )
}

fn created(seen: &Seen) -> Reply {
    let body = seen.json();
    reply(
        200,
        json!({"responseCode": "2002700", "responseMessage": "Successful",
               "virtualAccountData": {
                   "partnerServiceId": body["partnerServiceId"], "customerNo": body["customerNo"],
                   "virtualAccountNo": body["virtualAccountNo"], "trxId": body["trxId"],
                   "totalAmount": body["totalAmount"], "additionalInfo": {
                       "channel": "VIRTUAL_ACCOUNT_BNI", "howToPayPage": "https://x", "howToPayApi": "https://y"}}}),
    )
}

fn snap_code(code: &str) -> Reply {
    let http = code[..3].parse().expect("http");
    reply(
        http,
        json!({"responseCode": code, "responseMessage": "DOKU says no"}),
    )
}

// ---- virtual accounts (2.11) ------------------------------------------------------------

#[tokio::test]
async fn create_va_sends_the_2_11_4_body_with_verified_snap_headers() {
    let (doku, stub) = serve(snap(created)).await;
    let issued = VirtualAccounts::create(&doku, &create_va())
        .await
        .expect("created");
    assert_eq!(issued.va_number, "8129000000000001");
    assert_eq!(issued.bank, "BNI");

    let seen = stub.only_call();
    assert_snap_signed(&seen, "POST", CREATE_PATH);
    assert_eq!(
        seen.json(),
        json!({
            "partnerServiceId": "    8129",
            "customerNo": "000000000001",
            "virtualAccountNo": "    8129000000000001",
            "virtualAccountName": "Budi Santoso",
            "virtualAccountEmail": "budi@example.com",
            "virtualAccountPhone": "6281234567890",
            "trxId": "INV-20240101-0001",
            "totalAmount": {"value": "150000.00", "currency": "IDR"},
            "virtualAccountTrxType": "C",
            "additionalInfo": {"channel": "VIRTUAL_ACCOUNT_BNI", "virtualAccountConfig": {"reusableStatus": false}},
            "expiredDate": "2024-01-02T10:00:00+07:00"
        })
    );
    let tokens = stub.seen.lock().expect("lock").len() - 1;
    assert_eq!(tokens, 1, "one token request");
}

#[tokio::test]
async fn create_va_refuses_what_it_cannot_send_without_calling_doku() {
    let (doku, stub) = serve(snap(created)).await;
    let no_serial = create_va().with_serial(None);
    assert_eq!(
        VirtualAccounts::create(&doku, &no_serial)
            .await
            .expect_err("no serial")
            .kind,
        ErrorKind::Rejected
    );
    let too_long = create_va().with_serial(Some(1_000_000_000_000));
    assert_eq!(
        VirtualAccounts::create(&doku, &too_long)
            .await
            .expect_err("13 digits")
            .kind,
        ErrorKind::Rejected
    );
    let partial = create_va().with_rule(contracts::va::PaymentRule::Partial);
    assert_eq!(
        VirtualAccounts::create(&doku, &partial)
            .await
            .expect_err("partial")
            .kind,
        ErrorKind::NotSupported
    );
    assert!(stub.calls().is_empty());
    assert_eq!(doku.numbering(), Numbering::Serial { digits: 12 });
}

#[tokio::test]
async fn create_va_classifies_duplicates_outages_and_ambiguity() {
    let cases = [
        ("4092700", ErrorKind::Duplicate),
        ("4092701", ErrorKind::Duplicate),
        ("4002701", ErrorKind::Rejected),
        ("5002700", ErrorKind::Timeout),
        ("5032700", ErrorKind::Unavailable),
        ("2022700", ErrorKind::Timeout),
        ("2000000", ErrorKind::Protocol),
    ];
    for (code, kind) in cases {
        let (doku, _stub) = serve(snap(move |_| snap_code(code))).await;
        let err = VirtualAccounts::create(&doku, &create_va())
            .await
            .expect_err(code);
        assert_eq!(err.kind, kind, "{code}");
    }
    let (doku, _stub) = serve(snap(|_| {
        (200, "<html>oops</html>".to_owned(), Duration::ZERO)
    }))
    .await;
    let err = VirtualAccounts::create(&doku, &create_va())
        .await
        .expect_err("html");
    assert!(err.kind.is_ambiguous(), "{err}");
    let (doku, _stub) = serve(snap(|s| {
        let (status, body, _) = created(s);
        (status, body, Duration::from_secs(2))
    }))
    .await;
    assert_eq!(
        VirtualAccounts::create(&doku, &create_va())
            .await
            .expect_err("slow")
            .kind,
        ErrorKind::Timeout
    );
    let doku = unreachable_adapter().await;
    let err = VirtualAccounts::create(&doku, &create_va())
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
}

#[tokio::test]
async fn create_va_answer_about_another_trx_id_is_ambiguous() {
    let (doku, _stub) = serve(snap(|_| {
        reply(
            200,
            json!({"responseCode": "2002700", "responseMessage": "Successful",
                          "virtualAccountData": {"trxId": "SOMEONE-ELSE"}}),
        )
    }))
    .await;
    let err = VirtualAccounts::create(&doku, &create_va())
        .await
        .expect_err("other trxId");
    assert_eq!(err.kind, ErrorKind::Protocol);
}

#[tokio::test]
async fn update_va_puts_every_field_again_and_keeps_it_active() {
    let (doku, stub) = serve(snap(|_| snap_code("2002800"))).await;
    let update = UpdateVa::new(
        va_handle(),
        amount(175_000),
        datetime!(2024-01-03 03:00:00 UTC),
        customer(),
        None,
    );
    doku.update(&update).await.expect("updated");
    let seen = stub.only_call();
    assert_snap_signed(&seen, "PUT", UPDATE_PATH);
    let body = seen.json();
    assert_eq!(body["partnerServiceId"], "    8129");
    assert_eq!(body["customerNo"], "000000000001");
    assert_eq!(body["virtualAccountNo"], "    8129000000000001");
    assert_eq!(body["trxId"], "INV-20240101-0001");
    assert_eq!(
        body["totalAmount"],
        json!({"value": "175000.00", "currency": "IDR"})
    );
    assert_eq!(body["expiredDate"], "2024-01-03T10:00:00+07:00");
    assert_eq!(
        body["additionalInfo"],
        json!({"channel": "VIRTUAL_ACCOUNT_BNI", "virtualAccountConfig": {"status": "ACTIVE"}})
    );

    let (doku, _stub) = serve(snap(|_| snap_code("4042814"))).await;
    let err = doku.update(&update).await.expect_err("paid");
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert_eq!(err.provider_code.as_deref(), Some("4042814"));
}

#[tokio::test]
async fn cancel_deletes_with_a_json_body() {
    let (doku, stub) = serve(snap(|_| snap_code("2003100"))).await;
    doku.cancel(&va_handle()).await.expect("deleted");
    let seen = stub.only_call();
    assert_snap_signed(&seen, "DELETE", DELETE_PATH);
    assert_eq!(
        seen.json(),
        json!({"partnerServiceId": "    8129", "customerNo": "000000000001",
               "virtualAccountNo": "    8129000000000001", "trxId": "INV-20240101-0001",
               "additionalInfo": {"channel": "VIRTUAL_ACCOUNT_BNI"}})
    );
    let (doku, _stub) = serve(snap(|_| snap_code("4043114"))).await;
    assert_eq!(
        doku.cancel(&va_handle()).await.expect_err("paid").kind,
        ErrorKind::Conflict
    );
    let no_number = VaHandle::new(va_handle().reference, None, None, amount(150_000));
    assert_eq!(
        doku.cancel(&no_number).await.expect_err("no number").kind,
        ErrorKind::Rejected
    );
}

fn status_answer(flag: Option<&str>, paid: &str) -> Value {
    let mut data = json!({
        "partnerServiceId": "    8129", "customerNo": "000000000001",
        "virtualAccountNo": "    8129000000000001", "inquiryRequestId": "IR-1",
        "paymentRequestId": "PR-1", "paidAmount": {"value": paid, "currency": "IDR"},
        "billAmount": {"value": "150000.00", "currency": "IDR"},
        "trxDateTime": "2024-01-01T10:00:00+07:00"
    });
    if let Some(flag) = flag {
        data["paymentFlagStatus"] = flag.into();
    }
    json!({"responseCode": "2002600", "responseMessage": "Successful",
           "virtualAccountData": data, "additionalInfo": {"acquirer": {"id": "BNI"}}})
}

#[tokio::test]
async fn inquire_posts_check_status_and_reports_paid_only_on_evidence() {
    let (doku, stub) = serve(snap(|_| reply(200, status_answer(Some("00"), "150000.00")))).await;
    let report = doku.inquire(&va_handle()).await.expect("status");
    assert_eq!(report.state, ProviderVaState::Paid);
    assert_eq!(report.paid_amount, Some(amount(150_000)));
    assert_eq!(report.paid_at, Some(datetime!(2024-01-01 03:00:00 UTC)));
    assert_eq!(report.payment_reference.as_deref(), Some("PR-1"));
    assert_eq!(report.va_number.as_deref(), Some("8129000000000001"));
    let seen = stub.only_call();
    assert_snap_signed(&seen, "POST", STATUS_PATH);
    assert_eq!(
        seen.json(),
        json!({"partnerServiceId": "    8129", "customerNo": "000000000001",
               "virtualAccountNo": "    8129000000000001", "additionalInfo": {}})
    );

    let cases = [
        (status_answer(None, "0.00"), ProviderVaState::Active),
        (status_answer(None, "150000.00"), ProviderVaState::Paid),
        (status_answer(None, "50000.00"), ProviderVaState::Unknown),
        (
            status_answer(Some("01"), "150000.00"),
            ProviderVaState::Unknown,
        ),
        (
            json!({"responseCode": "2002600", "responseMessage": "Successful"}),
            ProviderVaState::Unknown,
        ),
    ];
    for (answer, state) in cases {
        let text = answer.to_string();
        let (doku, _stub) = serve(snap(move |_| reply(200, answer.clone()))).await;
        let report = doku.inquire(&va_handle()).await.expect("status");
        assert_eq!(report.state, state, "{text}");
    }
}

#[tokio::test]
async fn inquire_of_an_unknown_va_is_not_found_and_state_codes_are_reports() {
    for code in ["4042601", "4042612"] {
        let (doku, _stub) = serve(snap(move |_| snap_code(code))).await;
        let err = doku.inquire(&va_handle()).await.expect_err(code);
        assert_eq!(err.kind, ErrorKind::NotFound, "{code}");
    }
    let (doku, _stub) = serve(snap(|_| snap_code("4042619"))).await;
    let report = doku.inquire(&va_handle()).await.expect("report");
    assert_eq!(report.state, ProviderVaState::Expired);
    let (doku, _stub) = serve(snap(|_| snap_code("5032600"))).await;
    assert_eq!(
        doku.inquire(&va_handle()).await.expect_err("down").kind,
        ErrorKind::Unavailable
    );
    let (doku, _stub) = serve(snap(|_| {
        let mut answer = status_answer(Some("00"), "150000.00");
        answer["virtualAccountData"]["customerNo"] = "000000000002".into();
        reply(200, answer)
    }))
    .await;
    assert_eq!(
        doku.inquire(&va_handle()).await.expect_err("other VA").kind,
        ErrorKind::Protocol
    );
}

// ---- Checkout payments (2.5, 2.6) -------------------------------------------------------

fn create_payment() -> CreatePayment {
    CreatePayment::new(
        OurReference("pay_01HXCHECKOUT".to_owned()),
        amount(150_000),
        METHOD_CHECKOUT,
        customer(),
        Some("https://shop.example/done".to_owned()),
        OffsetDateTime::now_utc() + time::Duration::minutes(90),
    )
}

fn checkout_success(seen: &Seen) -> Value {
    let body = seen.json();
    json!({"message": ["SUCCESS"], "response": {
        "order": {"amount": body["order"]["amount"], "invoice_number": body["order"]["invoice_number"]},
        "payment": {"payment_method_types": ["VIRTUAL_ACCOUNT_BCA"], "payment_due_date": 90,
                    "token_id": "tok_checkout_1", "url": "https://checkout.doku.com/checkout/link/tok_checkout_1",
                    "expired_date": "20240101113000"},
        "uuid": 123456789, "headers": {"request_id": "x", "signature": "y", "date": "z", "client_id": CLIENT_ID}}})
}

/// Checks the non-SNAP headers of a call (2.2) by recomputing its signature (2.3).
fn assert_checkout_signed(seen: &Seen, body: Option<&[u8]>) {
    assert_eq!(seen.header("client-id"), CLIENT_ID);
    let timestamp = seen.header("request-timestamp");
    assert!(
        timestamp.ends_with('Z') && timestamp.len() == 20,
        "{timestamp}"
    );
    let components = Components {
        client_id: CLIENT_ID,
        request_id: seen.header("request-id"),
        timestamp,
        target: &seen.path,
        body,
    };
    let expected = signature::sign(&SecretString::from(SECRET), &components);
    assert_eq!(seen.header("signature"), expected);
}

#[tokio::test]
async fn checkout_create_sends_a_signed_body_and_answers_a_redirect() {
    let (doku, stub) = serve(|seen| reply(200, checkout_success(seen))).await;
    let started = Payments::create(&doku, &create_payment())
        .await
        .expect("started");
    assert_eq!(
        started.action,
        PaymentAction::Redirect {
            url: "https://checkout.doku.com/checkout/link/tok_checkout_1".to_owned()
        }
    );
    assert_eq!(
        started.provider_reference,
        Some(ProviderReference("tok_checkout_1".to_owned()))
    );
    assert_eq!(started.expires_at, Some(datetime!(2024-01-01 04:30:00 UTC)));

    let seen = stub.only_call();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/checkout/v1/payment");
    assert_eq!(seen.header("request-id"), "pay_01HXCHECKOUT");
    assert_checkout_signed(&seen, Some(&seen.body));
    assert_eq!(
        seen.json(),
        json!({
            "order": {"amount": 150000, "invoice_number": "pay_01HXCHECKOUT", "currency": "IDR",
                      "callback_url": "https://shop.example/done"},
            "payment": {"payment_due_date": 90},
            "customer": {"name": "Budi Santoso", "email": "budi@example.com", "phone": "6281234567890"}
        })
    );
}

#[tokio::test]
async fn checkout_replay_409_of_our_own_success_is_success() {
    let (doku, _stub) = serve(|seen| reply(409, checkout_success(seen))).await;
    let started = Payments::create(&doku, &create_payment())
        .await
        .expect("replayed answer");
    assert_eq!(
        started.provider_reference,
        Some(ProviderReference("tok_checkout_1".to_owned()))
    );
    let (doku, _stub) = serve(|_| {
        reply(
            409,
            json!({"error": {"code": "conflict", "message": "Request-Id already used"}}),
        )
    })
    .await;
    let err = Payments::create(&doku, &create_payment())
        .await
        .expect_err("conflict");
    assert_eq!(err.kind, ErrorKind::Duplicate);
    assert_eq!(err.provider_code.as_deref(), Some("conflict"));
}

#[tokio::test]
async fn checkout_create_failures_are_classified() {
    let cases: [(u16, &str, ErrorKind); 7] = [
        (
            400,
            r#"{"message":["Invalid amount"]}"#,
            ErrorKind::Rejected,
        ),
        (
            401,
            r#"{"error":{"message":"Invalid Header Signature"}}"#,
            ErrorKind::Unauthorized,
        ),
        (500, r#"{"error":{"message":"oops"}}"#, ErrorKind::Timeout),
        (502, "<html>Bad Gateway</html>", ErrorKind::Timeout),
        (200, "<html>maintenance</html>", ErrorKind::Protocol),
        (200, r#"{"message":["FAILED"]}"#, ErrorKind::Rejected),
        (
            200,
            r#"{"message":["SUCCESS"],"response":{}}"#,
            ErrorKind::Protocol,
        ),
    ];
    for (status, body, kind) in cases {
        let (doku, _stub) = serve(move |_| (status, body.to_owned(), Duration::ZERO)).await;
        let err = Payments::create(&doku, &create_payment())
            .await
            .expect_err(body);
        assert_eq!(err.kind, kind, "HTTP {status} {body}");
    }
    let (doku, _stub) = serve(|seen| {
        let (status, body, _) = reply(200, checkout_success(seen));
        (status, body, Duration::from_secs(2))
    })
    .await;
    let err = Payments::create(&doku, &create_payment())
        .await
        .expect_err("slow");
    assert_eq!(err.kind, ErrorKind::Timeout);
    let doku = unreachable_adapter().await;
    let err = Payments::create(&doku, &create_payment())
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unavailable);
}

#[tokio::test]
async fn checkout_offers_one_method_and_no_refunds() {
    let (doku, stub) = serve(|seen| reply(200, checkout_success(seen))).await;
    assert_eq!(doku.methods(), &["doku_checkout"]);
    assert!(!doku.refunds(METHOD_CHECKOUT));
    let mut other = create_payment();
    other.method = "astrapay".to_owned();
    assert_eq!(
        Payments::create(&doku, &other)
            .await
            .expect_err("other")
            .kind,
        ErrorKind::NotSupported
    );
    let handle = PaymentHandle::new(
        OurReference("pay_1".to_owned()),
        None,
        METHOD_CHECKOUT,
        amount(1),
    );
    let refund = RefundRequest::new(handle, OurReference("rf_1".to_owned()), amount(1), "x");
    assert_eq!(
        doku.refund(&refund).await.expect_err("refund").kind,
        ErrorKind::NotSupported
    );
    assert!(stub.calls().is_empty());
}

fn order_status(status: &str) -> Value {
    json!({"order": {"invoice_number": "pay_01HXCHECKOUT", "amount": 150000},
           "transaction": {"status": status, "date": "2024-01-01T03:24:23Z",
                           "original_request_id": "pay_01HXCHECKOUT"},
           "service": {"id": "VIRTUAL_ACCOUNT"}, "acquirer": {"id": "BCA"},
           "channel": {"id": "VIRTUAL_ACCOUNT_BCA"}})
}

fn payment_handle() -> PaymentHandle {
    PaymentHandle::new(
        OurReference("pay_01HXCHECKOUT".to_owned()),
        None,
        METHOD_CHECKOUT,
        amount(150_000),
    )
}

#[tokio::test]
async fn checkout_status_gets_a_signed_path_without_digest_and_maps_the_table() {
    let (doku, stub) = serve(|_| reply(200, order_status("SUCCESS"))).await;
    let report = doku.status(&payment_handle()).await.expect("status");
    assert_eq!(report.state, ProviderPaymentState::Paid);
    assert_eq!(report.paid_amount, Some(amount(150_000)));
    assert_eq!(report.paid_at, Some(datetime!(2024-01-01 03:24:23 UTC)));
    assert_eq!(report.provider_status, "SUCCESS");
    let seen = stub.only_call();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path, "/orders/v1/status/pay_01HXCHECKOUT");
    assert!(seen.body.is_empty());
    assert_ne!(seen.header("request-id"), "pay_01HXCHECKOUT");
    assert_checkout_signed(&seen, None);

    let table = [
        ("PENDING", ProviderPaymentState::Pending),
        ("TIMEOUT", ProviderPaymentState::Pending),
        ("REDIRECT", ProviderPaymentState::Pending),
        ("EXPIRED", ProviderPaymentState::Expired),
        ("FAILED", ProviderPaymentState::Failed),
        ("REFUNDED", ProviderPaymentState::Refunded),
        ("SOMETHING_NEW", ProviderPaymentState::Unknown),
    ];
    for (status, state) in table {
        let (doku, _stub) = serve(move |_| reply(200, order_status(status))).await;
        let report = doku.status(&payment_handle()).await.expect(status);
        assert_eq!(report.state, state, "{status}");
        assert_eq!(report.paid_amount, None, "{status}");
    }
}

#[tokio::test]
async fn checkout_status_failures_are_classified() {
    let cases: [(u16, &str, ErrorKind); 5] = [
        (
            404,
            r#"{"error":{"message":"Order not found"}}"#,
            ErrorKind::NotFound,
        ),
        (401, "{}", ErrorKind::Unauthorized),
        (500, "{}", ErrorKind::Unavailable),
        (200, "<html>", ErrorKind::Protocol),
        (
            200,
            r#"{"order":{"invoice_number":"other"},"transaction":{"status":"SUCCESS"}}"#,
            ErrorKind::Protocol,
        ),
    ];
    for (status, body, kind) in cases {
        let (doku, _stub) = serve(move |_| (status, body.to_owned(), Duration::ZERO)).await;
        let err = doku.status(&payment_handle()).await.expect_err(body);
        assert_eq!(err.kind, kind, "HTTP {status} {body}");
    }
}

// ---- notifications (2.7, 2.11.7) --------------------------------------------------------

fn inbound(sub_path: &str, headers: Vec<(&str, String)>, body: &str) -> InboundRequest {
    let headers = headers
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();
    InboundRequest::new(
        "POST",
        sub_path,
        headers,
        Bytes::from(body.to_owned()),
        OffsetDateTime::now_utc(),
    )
    .with_path(format!("/v1/callbacks/doku_main/{sub_path}"))
}

fn body_of(response: &InboundResponse) -> Value {
    serde_json::from_slice(&response.body).expect("JSON answer")
}

/// DOKU's token request to the gateway, signed with the simulator's DOKU key.
fn token_request(client_key: &str, key_pem: &str) -> InboundRequest {
    let timestamp = format_timestamp(OffsetDateTime::now_utc(), TimestampStyle::Utc);
    let key = RsaPrivateKey::from_pem(key_pem).expect("key");
    let signature = key.sign_b64(token_string(client_key, &timestamp).as_bytes());
    inbound(
        "v1.0/access-token/b2b",
        vec![
            ("X-CLIENT-KEY", client_key.to_owned()),
            ("X-TIMESTAMP", timestamp),
            ("X-SIGNATURE", signature),
            ("Content-Type", "application/json".to_owned()),
        ],
        r#"{"grantType": "client_credentials", "additionalInfo": ""}"#,
    )
}

/// The notification body as DOKU's SDK writes it (with spaces after `:` and `,`).
const VA_PAYMENT_BODY: &str = r#"{"partnerServiceId": "    8129", "customerNo": "000000000001", "virtualAccountNo": "    8129000000000001", "virtualAccountName": "Budi Santoso", "virtualAccountEmail": "budi@example.com", "virtualAccountPhone": "6281234567890", "trxId": "INV-20240101-0001", "paymentRequestId": "PR-20240101-77", "paidAmount": {"value": "150000.00", "currency": "IDR"}, "trxDateTime": "2024-01-01T10:00:00+07:00", "additionalInfo": {"channel": "VIRTUAL_ACCOUNT_BNI", "senderName": "Budi"}, "virtualAccountTrxType": "C", "expiredDate": "2024-01-02T10:00:00+07:00"}"#;

fn va_notification(token: &str, secret: &str, body: &str, external_id: &str) -> InboundRequest {
    let sub_path = "v1/transfer-va/payment";
    let path = format!("/v1/callbacks/doku_main/{sub_path}");
    let timestamp = format_timestamp(OffsetDateTime::now_utc(), TimestampStyle::Utc);
    let message = symmetric_string(
        "POST",
        &path,
        token,
        &body_hash(body.as_bytes()),
        &timestamp,
    );
    let signature = hmac_sha512_b64(secret.as_bytes(), &message);
    inbound(
        sub_path,
        vec![
            ("X-TIMESTAMP", timestamp),
            ("X-SIGNATURE", signature),
            ("X-PARTNER-ID", CLIENT_ID.to_owned()),
            ("X-EXTERNAL-ID", external_id.to_owned()),
            ("CHANNEL-ID", "VA004".to_owned()),
            ("Authorization", format!("Bearer {token}")),
        ],
        body,
    )
}

async fn issued_token(doku: &Doku) -> String {
    let parsed = doku
        .verify_and_parse(&token_request(CLIENT_ID, DOKU_PRIVATE))
        .await
        .expect("token request");
    let Inbound::Reply(response) = parsed else {
        panic!("a token request is answered directly: {parsed:?}");
    };
    assert_eq!(response.status, 200);
    let body = body_of(&response);
    assert_eq!(body["responseCode"], "2007300");
    assert_eq!(body["expiresIn"], 900, "DOKU's SDK needs a number");
    body["accessToken"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn snap_va_notification_verifies_end_to_end_through_our_token_endpoint() {
    let doku = adapter(config("http://127.0.0.1:9"));
    let token = issued_token(&doku).await;
    let request = va_notification(
        &token,
        SECRET,
        VA_PAYMENT_BODY,
        "41807553358950093184162180",
    );
    let parsed = doku.verify_and_parse(&request).await.expect("verifies");
    let Inbound::Events(notification) = parsed else {
        panic!("want events: {parsed:?}");
    };
    assert_eq!(
        notification.request_id.as_deref(),
        Some("41807553358950093184162180")
    );
    assert_eq!(notification.events.len(), 1);
    let event = &notification.events[0];
    assert_eq!(
        event.resource,
        ResourceRef::VirtualAccount {
            reference: Some(OurReference("INV-20240101-0001".to_owned())),
            provider_reference: None,
            va_number: Some("8129000000000001".to_owned()),
        }
    );
    assert_eq!(
        event.kind,
        EventKind::VaPayment {
            amount: amount(150_000),
            cumulative: None,
            billed: None,
            paid_at: Some(datetime!(2024-01-01 03:00:00 UTC)),
            payment_reference: Some("PR-20240101-77".to_owned()),
        }
    );
    assert_eq!(event.provider_event_id, "va:PR-20240101-77");
    assert_eq!(event.payload["additionalInfo"]["senderName"], "Budi");
    assert_eq!(doku.trust(), contracts::inbound::Trust::Strong);

    let ack = doku.acknowledge(&request, &AckOutcome::Accepted);
    assert_eq!(ack.status, 200);
    let body = body_of(&ack);
    assert_eq!(
        body,
        json!({"responseCode": "2002500", "responseMessage": "success",
               "virtualAccountData": {
                   "partnerServiceId": "    8129", "customerNo": "000000000001",
                   "virtualAccountNo": "    8129000000000001", "virtualAccountName": "Budi Santoso",
                   "paymentRequestId": "PR-20240101-77", "trxDateTime": null,
                   "additionalInfo": {"channel": "VIRTUAL_ACCOUNT_BNI", "senderName": "Budi"}}})
    );
    assert!(
        body["virtualAccountData"]
            .get("paymentFlagStatus")
            .is_none()
    );
    assert!(ack.body.starts_with(br#"{"responseCode":"2002500""#));
}

#[tokio::test]
async fn snap_va_notifications_with_bad_tokens_keys_or_bodies_are_refused() {
    let doku = adapter(config("http://127.0.0.1:9"));
    let token = issued_token(&doku).await;

    let forged = doku
        .verify_and_parse(&token_request(CLIENT_ID, MERCHANT_PRIVATE))
        .await
        .expect("answered");
    let Inbound::Reply(forged) = forged else {
        panic!("token answer");
    };
    assert_eq!(forged.status, 401);
    assert_eq!(body_of(&forged)["responseCode"], "4017300");

    let bad_token = va_notification("not-our-token", SECRET, VA_PAYMENT_BODY, "1");
    let err = doku.verify_and_parse(&bad_token).await.expect_err("token");
    assert_eq!(err.kind, ErrorKind::InvalidSignature);
    let ack = doku.acknowledge(&bad_token, &AckOutcome::Rejected(err));
    assert_eq!(ack.status, 401);
    let body = body_of(&ack);
    assert_eq!(body["responseCode"], "4012701");
    assert_eq!(body["responseMessage"], "Invalid Token (B2B)");
    assert_eq!(body["virtualAccountData"]["additionalInfo"], Value::Null);

    let wrong_key = va_notification(&token, "SK-OTHER", VA_PAYMENT_BODY, "2");
    let err = doku.verify_and_parse(&wrong_key).await.expect_err("key");
    assert_eq!(err.kind, ErrorKind::InvalidSignature);
    let ack = doku.acknowledge(&wrong_key, &AckOutcome::Rejected(err));
    assert_eq!(body_of(&ack)["responseCode"], "4012500");

    let mut tampered = va_notification(&token, SECRET, VA_PAYMENT_BODY, "3");
    tampered.body = Bytes::from(VA_PAYMENT_BODY.replace("150000.00", "1500000.00"));
    assert_eq!(
        doku.verify_and_parse(&tampered)
            .await
            .expect_err("tampered")
            .kind,
        ErrorKind::InvalidSignature
    );

    let mut stale = va_notification(&token, SECRET, VA_PAYMENT_BODY, "5");
    stale.received_at += time::Duration::minutes(10);
    assert_eq!(
        doku.verify_and_parse(&stale).await.expect_err("stale").kind,
        ErrorKind::InvalidSignature
    );

    let unpaid = r#"{"partnerServiceId":"    8129","customerNo":"000000000001","trxId":"X"}"#;
    let err = doku
        .verify_and_parse(&va_notification(&token, SECRET, unpaid, "4"))
        .await
        .expect_err("no paidAmount");
    assert_eq!(err.kind, ErrorKind::Rejected);
}

#[tokio::test]
async fn snap_acknowledgements_use_doku_codes() {
    let doku = adapter(config("http://127.0.0.1:9"));
    let request = va_notification("t", SECRET, VA_PAYMENT_BODY, "1");
    let code = |outcome: AckOutcome| {
        let ack = doku.acknowledge(&request, &outcome);
        let body = body_of(&ack);
        (
            ack.status,
            body["responseCode"].as_str().expect("code").to_owned(),
        )
    };
    assert_eq!(code(AckOutcome::Replayed), (409, "4092500".to_owned()));
    assert_eq!(code(AckOutcome::RetryLater), (500, "5002501".to_owned()));
    let refusals = [
        (Refusal::UnknownBill, "4042512"),
        (Refusal::Cancelled, "4042512"),
        (Refusal::Expired, "4042519"),
        (Refusal::AlreadyPaid, "4042514"),
        (Refusal::AmountMismatch, "4042513"),
        (Refusal::Inconsistent, "4042518"),
    ];
    for (refusal, want) in refusals {
        assert_eq!(code(AckOutcome::Refused(refusal)), (404, want.to_owned()));
    }
    let missing = ProviderError::with_code(
        ErrorKind::Rejected,
        "4002502",
        "Invalid Mandatory Field {X-TIMESTAMP}",
    );
    assert_eq!(
        code(AckOutcome::Rejected(missing)),
        (400, "4002502".to_owned())
    );
}

fn checkout_notification(path: &str, signature_header: &str, body: &str) -> InboundRequest {
    InboundRequest::new(
        "POST",
        "",
        vec![
            ("client-id".to_owned(), CLIENT_ID.to_owned()),
            ("request-id".to_owned(), NOTIFICATION_REQUEST_ID.to_owned()),
            (
                "request-timestamp".to_owned(),
                NOTIFICATION_TIMESTAMP.to_owned(),
            ),
            ("signature".to_owned(), signature_header.to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ],
        Bytes::from(body.to_owned()),
        datetime!(2021-01-27 03:24:30 UTC),
    )
    .with_path(path)
}

#[tokio::test]
async fn checkout_notification_verifies_with_the_2_3_row_3_vector() {
    let mut config = config("http://127.0.0.1:9");
    config.notification_path = Some("/payments/notifications".to_owned());
    let doku = adapter(config);
    let request = checkout_notification(
        "/v1/callbacks/doku_main",
        NOTIFICATION_SIGNATURE,
        NOTIFICATION_BODY,
    );
    let parsed = doku.verify_and_parse(&request).await.expect("verifies");
    let Inbound::Events(notification) = parsed else {
        panic!("want events");
    };
    assert_eq!(notification.request_id, None);
    let event = &notification.events[0];
    assert_eq!(
        event.resource,
        ResourceRef::Payment {
            reference: Some(OurReference("INV-20210124-0001".to_owned())),
            provider_reference: None,
        }
    );
    assert_eq!(
        event.kind,
        EventKind::PaymentUpdate {
            state: ProviderPaymentState::Paid,
            amount: Some(amount(150_000)),
            paid_at: Some(datetime!(2021-01-27 03:24:23 UTC)),
            provider_status: "SUCCESS".to_owned(),
        }
    );
    assert_eq!(event.provider_event_id, "INV-20210124-0001:SUCCESS");

    // Without `notification_path`, the path the request arrived at is the target.
    let direct = adapter(crate::tests::config("http://127.0.0.1:9"));
    let at_path = checkout_notification(
        "/payments/notifications?source=doku",
        NOTIFICATION_SIGNATURE,
        NOTIFICATION_BODY,
    );
    assert!(direct.verify_and_parse(&at_path).await.is_ok());
    let elsewhere = checkout_notification("/other", NOTIFICATION_SIGNATURE, NOTIFICATION_BODY);
    assert_eq!(
        direct
            .verify_and_parse(&elsewhere)
            .await
            .expect_err("path")
            .kind,
        ErrorKind::InvalidSignature
    );
}

#[tokio::test]
async fn tampered_wrongly_keyed_or_incomplete_checkout_notifications_are_refused() {
    let mut config = config("http://127.0.0.1:9");
    config.notification_path = Some("/payments/notifications".to_owned());
    let doku = adapter(config.clone());
    let path = "/v1/callbacks/doku_main";
    let tampered = NOTIFICATION_BODY.replace("150000", "15000");
    let cases = [
        checkout_notification(path, NOTIFICATION_SIGNATURE, &tampered),
        checkout_notification(path, "HMACSHA256=AAAA", NOTIFICATION_BODY),
        checkout_notification(path, "", NOTIFICATION_BODY),
    ];
    for request in cases {
        let err = doku.verify_and_parse(&request).await.expect_err("refused");
        assert_eq!(err.kind, ErrorKind::InvalidSignature);
    }
    let mut missing = checkout_notification(path, NOTIFICATION_SIGNATURE, NOTIFICATION_BODY);
    missing
        .headers
        .retain(|(name, _)| name != "request-timestamp");
    assert_eq!(
        doku.verify_and_parse(&missing)
            .await
            .expect_err("missing")
            .kind,
        ErrorKind::InvalidSignature
    );
    let mut stale = checkout_notification(path, NOTIFICATION_SIGNATURE, NOTIFICATION_BODY);
    stale.received_at = datetime!(2021-01-27 03:34:24 UTC);
    assert_eq!(
        doku.verify_and_parse(&stale).await.expect_err("stale").kind,
        ErrorKind::InvalidSignature
    );
    let mut other_key = config;
    other_key.secret_key = SecretString::from("SK-ANOTHER-MERCHANT");
    let other = adapter(other_key);
    let genuine = checkout_notification(path, NOTIFICATION_SIGNATURE, NOTIFICATION_BODY);
    assert_eq!(
        other
            .verify_and_parse(&genuine)
            .await
            .expect_err("key")
            .kind,
        ErrorKind::InvalidSignature
    );
}

#[tokio::test]
async fn checkout_acknowledgements_follow_2_7() {
    let doku = adapter(config("http://127.0.0.1:9"));
    let request = checkout_notification("/", NOTIFICATION_SIGNATURE, NOTIFICATION_BODY);
    let accepted = doku.acknowledge(&request, &AckOutcome::Accepted);
    assert_eq!(accepted.status, 200);
    assert_eq!(
        body_of(&accepted),
        json!({"order": {"invoice_number": "INV-20210124-0001"}})
    );
    let status = |outcome: AckOutcome| doku.acknowledge(&request, &outcome).status;
    let invalid = ProviderError::new(ErrorKind::InvalidSignature, "bad");
    assert_eq!(status(AckOutcome::Rejected(invalid)), 401);
    let rejected = ProviderError::new(ErrorKind::Rejected, "bad body");
    assert_eq!(status(AckOutcome::Rejected(rejected)), 400);
    assert_eq!(status(AckOutcome::RetryLater), 503);
    assert_eq!(status(AckOutcome::Replayed), 200);
    assert_eq!(status(AckOutcome::Refused(Refusal::UnknownBill)), 404);
}

#[tokio::test]
async fn unknown_paths_are_refused_and_snap_at_the_root_is_recognised() {
    let doku = adapter(config("http://127.0.0.1:9"));
    let stray = inbound("v1/whatever", vec![], "{}");
    assert_eq!(
        doku.verify_and_parse(&stray).await.expect_err("stray").kind,
        ErrorKind::Rejected
    );
    assert_eq!(doku.acknowledge(&stray, &AckOutcome::Accepted).status, 404);

    let token = issued_token(&doku).await;
    let timestamp = format_timestamp(OffsetDateTime::now_utc(), TimestampStyle::Utc);
    let path = "/v1/callbacks/doku_main";
    let message = symmetric_string(
        "POST",
        path,
        &token,
        &body_hash(VA_PAYMENT_BODY.as_bytes()),
        &timestamp,
    );
    let at_root = InboundRequest::new(
        "POST",
        "",
        vec![
            ("x-timestamp".to_owned(), timestamp),
            (
                "x-signature".to_owned(),
                hmac_sha512_b64(SECRET.as_bytes(), &message),
            ),
            ("x-external-id".to_owned(), "9".to_owned()),
            ("authorization".to_owned(), format!("Bearer {token}")),
        ],
        Bytes::from(VA_PAYMENT_BODY),
        OffsetDateTime::now_utc(),
    )
    .with_path(path);
    let parsed = doku.verify_and_parse(&at_root).await.expect("verifies");
    assert!(matches!(parsed, Inbound::Events(n) if n.events.len() == 1));
    assert_eq!(
        body_of(&doku.acknowledge(&at_root, &AckOutcome::Accepted))["responseCode"],
        "2002500"
    );
}

#[test]
fn construction_checks_keys_and_debug_hides_secrets() {
    let doku = adapter(config("http://127.0.0.1:9"));
    let shown = format!("{doku:?}");
    assert!(!shown.contains(SECRET));
    assert!(!shown.contains("PRIVATE KEY"));
    let capabilities = doku.capabilities();
    assert!(capabilities.virtual_accounts.is_some());
    assert!(capabilities.payments.is_some());
    assert!(capabilities.inbound.is_some());
    assert!(capabilities.esign.is_none());

    let mut bad = config("http://127.0.0.1:9");
    bad.private_key =
        SecretString::from("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----");
    let err = Doku::new(bad, reqwest::Client::new()).expect_err("bad key");
    assert!(matches!(err, crate::ConfigError::Snap(_)), "{err}");
    assert!(!err.to_string().contains("nope"));
    let mut bad = config("http://127.0.0.1:9");
    bad.doku_public_key = "not a key".to_owned();
    assert!(Doku::new(bad, reqwest::Client::new()).is_err());
    let mut bad = config("http://127.0.0.1:9");
    bad.base_url = Url::parse("ftp://x").expect("url");
    assert!(Doku::new(bad, reqwest::Client::new()).is_err());
}
