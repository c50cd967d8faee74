//! The adapter against a small in-test AstraPay stand-in (token endpoint, RSA and HMAC
//! checked on every request), and AstraPay's calls to us end to end through our own token
//! endpoint.

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
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, Uri};
use contracts::inbound::{
    AckOutcome, EventKind, Inbound, InboundNotifications, InboundRequest, ResourceRef, Trust,
};
use contracts::payment::{
    CreatePayment, PaymentAction, PaymentHandle, ProviderPaymentState, RefundOutcome,
    RefundRequest, RefundState,
};
use contracts::{
    Amount, Customer, ErrorKind, OurReference, Payments, ProviderError, ProviderReference,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use time::OffsetDateTime;
use url::Url;

use crate::{AstraPay, Config};

pub(crate) const MERCHANT_PRIVATE_PEM: &str =
    include_str!("../../../mocks/keys/merchant.private.pem");
pub(crate) const MERCHANT_PUBLIC_PEM: &str =
    include_str!("../../../mocks/keys/merchant.public.pem");
pub(crate) const ASTRAPAY_PRIVATE_PEM: &str =
    include_str!("../../../mocks/keys/astrapay.private.pem");
pub(crate) const ASTRAPAY_PUBLIC_PEM: &str =
    include_str!("../../../mocks/keys/astrapay.public.pem");

const CLIENT_ID: &str = "ap-client-0001";
const CLIENT_SECRET: &str = "test-client-secret";
const NOTIFY_KEY: &str = "gw-astrapay-notify";
const NOTIFY_SECRET: &str = "gw-issued-notify-secret";
const MERCHANT_ID: &str = "9653109f-0000-4000-8000-000000000001";
const STUB_TOKEN: &str = "stub-b2b-token";
const CALLBACK_ROOT: &str = "/v1/callbacks/astrapay";

/// A complete configuration with the test keys and QRIS enabled.
pub(crate) fn config(base_url: &str) -> Config {
    Config {
        base_url: Url::parse(base_url).expect("base url"),
        client_id: CLIENT_ID.to_owned(),
        client_secret: SecretString::from(CLIENT_SECRET),
        private_key: SecretString::from(MERCHANT_PRIVATE_PEM),
        merchant_id: MERCHANT_ID.to_owned(),
        qris_merchant_id: Some("210000240".to_owned()),
        qris_terminal_id: Some("T0001".to_owned()),
        in_app: false,
        token_path: "/snap-service/snap/v1.0/access-token/b2b".to_owned(),
        debit_prefix: "/merchant-service/snap/v1.0".to_owned(),
        qris_prefix: "/qris-service/snap/v1.0".to_owned(),
        qris_refund_path: "/qris-service/snap/v1.0/qr/qr-mpm-refund".to_owned(),
        timestamp_style: TimestampStyle::Jakarta,
        request_timeout_ms: 2_000,
        notify_client_key: NOTIFY_KEY.to_owned(),
        notify_client_secret: SecretString::from(NOTIFY_SECRET),
        astrapay_public_key: ASTRAPAY_PUBLIC_PEM.to_owned(),
    }
}

fn amount(rupiah: i64) -> Amount {
    Amount::new(rupiah).expect("amount")
}

// ---------------------------------------------------------------------------------------
// Known answer (1.4).

#[test]
fn the_astrapay_service_signature_vector_of_1_4_holds() {
    let body = r#"{"partnerReferenceNo":"TRX001","merchantId":"M-1","amount":{"value":"10000.00","currency":"IDR"},"additionalInfo":{"description":"Test"}}"#;
    let hash = body_hash(body.as_bytes());
    assert_eq!(
        hash,
        "be2f3d842954f823cbf60fdd93ccde23f5bb48a62828066708a1b86248d2d319"
    );
    let message = symmetric_string(
        "POST",
        "/merchant-service/snap/v1.0/debit/payment-host-to-host",
        "test-b2b-token",
        &hash,
        "2024-01-01T10:00:00+07:00",
    );
    let signature = hmac_sha512_b64(b"test-client-secret", &message);
    assert_eq!(
        signature,
        "S+vTMUEMz0+4YnhESdtINOkaXWMOxDaG68vv0MUUL+3BuBBpUS2OCIci3u5Z/9v3pzvJIzPjUMLtmII/yyr8kg=="
    );
    assert!(verify_hmac_sha512_b64(
        b"test-client-secret",
        &message,
        &signature
    ));
    assert!(!verify_hmac_sha512_b64(
        b"other-secret",
        &message,
        &signature
    ));
}

// ---------------------------------------------------------------------------------------
// The AstraPay stand-in.

/// One service request as the stand-in saw it.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Value,
    /// Whether the HMAC-SHA512 over the full path, our token and the raw body verified.
    signed: bool,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// The answer to a service request: HTTP status, body, delay.
type Reply = (u16, Value, Duration);
type Responder = Arc<dyn Fn(&str, &Value) -> Reply + Send + Sync>;

#[derive(Clone)]
struct Stub {
    seen: Arc<Mutex<Vec<Seen>>>,
    tokens: Arc<Mutex<u32>>,
    respond: Responder,
}

impl Stub {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn only(&self) -> Seen {
        let seen = self.seen();
        assert_eq!(seen.len(), 1, "exactly one service call");
        seen.into_iter().next().expect("one call")
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn handle(
    State(stub): State<Stub>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let path = uri.path().to_owned();
    if path.ends_with("/access-token/b2b") {
        return token(&stub, &headers);
    }
    let token = header(&headers, "authorization")
        .strip_prefix("Bearer ")
        .unwrap_or_default();
    let message = symmetric_string(
        method.as_str(),
        &path,
        token,
        &body_hash(&body),
        header(&headers, "x-timestamp"),
    );
    let signed = token == STUB_TOKEN
        && verify_hmac_sha512_b64(
            CLIENT_SECRET.as_bytes(),
            &message,
            header(&headers, "x-signature"),
        );
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    stub.seen.lock().expect("lock").push(Seen {
        path: path.clone(),
        headers: headers.clone(),
        body: json.clone(),
        signed,
    });
    let (status, answer, delay) = (stub.respond)(&path, &json);
    tokio::time::sleep(delay).await;
    (
        StatusCode::from_u16(status).expect("status"),
        answer.to_string(),
    )
}

/// The B2B token endpoint: our client id, RSA over `clientId|timestamp` (1.4).
fn token(stub: &Stub, headers: &HeaderMap) -> (StatusCode, String) {
    *stub.tokens.lock().expect("lock") += 1;
    let key = RsaPublicKey::from_pem(MERCHANT_PUBLIC_PEM).expect("public key");
    let message = token_string(
        header(headers, "x-client-key"),
        header(headers, "x-timestamp"),
    );
    let ok = header(headers, "x-client-key") == CLIENT_ID
        && key.verify_b64(message.as_bytes(), header(headers, "x-signature"));
    if !ok {
        let body =
            json!({"responseCode": "4017300", "responseMessage": "Unauthorized. [Signature]"});
        return (StatusCode::UNAUTHORIZED, body.to_string());
    }
    let body = json!({
        "responseCode": "2007300", "responseMessage": "Successful",
        "accessToken": STUB_TOKEN, "tokenType": "Bearer", "expiresIn": "900",
    });
    (StatusCode::OK, body.to_string())
}

async fn serve_with(
    change: impl FnOnce(&mut Config),
    respond: impl Fn(&str, &Value) -> Reply + Send + Sync + 'static,
) -> (AstraPay, Stub) {
    let stub = Stub {
        seen: Arc::default(),
        tokens: Arc::default(),
        respond: Arc::new(respond),
    };
    let app = Router::new().fallback(handle).with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut config = config(&format!("http://{addr}"));
    config.request_timeout_ms = 500;
    change(&mut config);
    (adapter(config), stub)
}

async fn serve(
    respond: impl Fn(&str, &Value) -> Reply + Send + Sync + 'static,
) -> (AstraPay, Stub) {
    serve_with(|_| {}, respond).await
}

fn adapter(config: Config) -> AstraPay {
    AstraPay::new(config, reqwest::Client::new()).expect("valid config")
}

fn reply(status: u16, body: Value) -> Reply {
    (status, body, Duration::ZERO)
}

fn create(method: &str) -> CreatePayment {
    CreatePayment::new(
        OurReference("pay_01HX".to_owned()),
        amount(150_000),
        method,
        Customer {
            name: "Budi Santoso".to_owned(),
            phone: Some("081234567890".to_owned()),
            email: None,
        },
        None,
        OffsetDateTime::now_utc() + time::Duration::hours(1),
    )
    .with_description(Some("Cicilan 3".to_owned()))
}

fn handle_of(method: &str, provider_reference: Option<&str>) -> PaymentHandle {
    PaymentHandle::new(
        OurReference("pay_01HX".to_owned()),
        provider_reference.map(|r| ProviderReference(r.to_owned())),
        method,
        amount(150_000),
    )
}

fn refund_of(method: &str, provider_reference: Option<&str>) -> RefundRequest {
    RefundRequest::new(
        handle_of(method, provider_reference),
        OurReference("rf_01HX".to_owned()),
        amount(50_000),
        "customer request",
    )
}

fn debit_ok(_: &str, body: &Value) -> Reply {
    reply(
        200,
        json!({
            "responseCode": "2005400", "responseMessage": "Successful",
            "partnerReferenceNo": body["partnerReferenceNo"],
            "referenceNo": "INV/PAC/ONP/230223/26PIVDJFNW0",
            "webRedirectUrl": "https://sandbox.astrapay.com/merchant-service/payments/6f1c",
            "appRedirectUrl": "astrapay://payment-channel/payment?id=6f1c",
        }),
    )
}

fn expect_err<T: std::fmt::Debug>(result: Result<T, ProviderError>) -> ProviderError {
    result.expect_err("must fail")
}

/// Every request carried the SNAP service headers of 1.5 and a verifying signature.
fn assert_snap_headers(seen: &Seen, channel_id: &str) {
    assert!(seen.signed, "HMAC must verify for {}", seen.path);
    assert_eq!(seen.header("channel-id"), channel_id);
    assert_eq!(seen.header("x-partner-id"), CLIENT_ID);
    assert_eq!(seen.header("content-type"), "application/json");
    let external_id = seen.header("x-external-id");
    assert!(!external_id.is_empty() && external_id.bytes().all(|b| b.is_ascii_digit()));
    assert!(seen.header("x-timestamp").ends_with("+07:00"));
}

// ---------------------------------------------------------------------------------------
// Methods.

#[test]
fn methods_and_refunds_follow_the_configuration() {
    let with_qris = adapter(config("https://sandbox.astrapay.com"));
    assert_eq!(with_qris.methods(), ["astrapay", "qris"]);
    assert!(with_qris.refunds("astrapay") && with_qris.refunds("qris"));
    assert!(!with_qris.refunds("ovo"));

    let mut plain = config("https://sandbox.astrapay.com");
    plain.qris_merchant_id = None;
    plain.qris_terminal_id = None;
    let plain = adapter(plain);
    assert_eq!(plain.methods(), ["astrapay"]);
    assert!(!plain.refunds("qris"));

    let capabilities = adapter(config("https://sandbox.astrapay.com")).capabilities();
    assert!(capabilities.payments.is_some() && capabilities.inbound.is_some());
    assert!(capabilities.virtual_accounts.is_none());
}

#[test]
fn debug_output_shows_no_secret() {
    let shown = format!("{:?}", adapter(config("https://sandbox.astrapay.com")));
    for secret in [CLIENT_SECRET, NOTIFY_SECRET, "PRIVATE KEY"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[tokio::test]
async fn an_unconfigured_method_is_not_supported_and_sends_nothing() {
    let (adapter, stub) = serve_with(
        |c| {
            c.qris_merchant_id = None;
            c.qris_terminal_id = None;
        },
        debit_ok,
    )
    .await;
    let err = expect_err(adapter.create(&create("qris")).await);
    assert_eq!(err.kind, ErrorKind::NotSupported);
    let err = expect_err(adapter.refund(&refund_of("dana", Some("X"))).await);
    assert_eq!(err.kind, ErrorKind::NotSupported);
    assert!(stub.seen().is_empty());
}

// ---------------------------------------------------------------------------------------
// Direct debit (1.8).

#[tokio::test]
async fn a_debit_is_signed_and_answers_the_web_redirect() {
    let (adapter, stub) = serve(debit_ok).await;
    let request = create("astrapay");
    let before = OffsetDateTime::now_utc();
    let started = adapter.create(&request).await.expect("created");
    assert_eq!(
        started.action,
        PaymentAction::Redirect {
            url: "https://sandbox.astrapay.com/merchant-service/payments/6f1c".to_owned()
        }
    );
    assert_eq!(
        started.provider_reference,
        Some(ProviderReference(
            "INV/PAC/ONP/230223/26PIVDJFNW0".to_owned()
        ))
    );
    // An hour was asked; AstraPay allows at most 15 minutes.
    let expires_at = started.expires_at.expect("effective expiry");
    let ahead = expires_at - before;
    assert!(ahead <= time::Duration::minutes(15) + time::Duration::seconds(2));
    assert!(ahead >= time::Duration::minutes(14));

    let seen = stub.only();
    assert_eq!(
        seen.path,
        "/merchant-service/snap/v1.0/debit/payment-host-to-host"
    );
    assert_snap_headers(&seen, "00854");
    assert_eq!(
        seen.body,
        json!({
            "partnerReferenceNo": "pay_01HX",
            "merchantId": MERCHANT_ID,
            "validUpTo": format_timestamp(expires_at, TimestampStyle::Jakarta),
            "amount": {"value": "150000.00", "currency": "IDR"},
            "additionalInfo": {"description": "Cicilan 3"},
        })
    );
    assert_eq!(*stub.tokens.lock().expect("lock"), 1);
}

#[tokio::test]
async fn an_in_app_debit_answers_the_deeplink() {
    let (adapter, stub) = serve_with(|c| c.in_app = true, debit_ok).await;
    let started = adapter.create(&create("astrapay")).await.expect("created");
    assert_eq!(
        started.action,
        PaymentAction::Deeplink {
            url: "astrapay://payment-channel/payment?id=6f1c".to_owned()
        }
    );
    assert_eq!(stub.only().body["additionalInfo"]["paymentType"], "IN_APP");
}

#[tokio::test]
async fn a_base_url_path_is_kept_and_signed() {
    let (adapter, stub) = serve(debit_ok).await;
    let mut config = adapter.config.clone();
    config.base_url = Url::parse(&format!("{}proxy/", config.base_url)).expect("url");
    let proxied = self::adapter(config);
    proxied.create(&create("astrapay")).await.expect("created");
    let seen = stub.only();
    assert_eq!(
        seen.path,
        "/proxy/merchant-service/snap/v1.0/debit/payment-host-to-host"
    );
    assert!(seen.signed);
}

#[tokio::test]
async fn a_duplicate_debit_is_a_duplicate() {
    let (adapter, _) = serve(|_, _| {
        reply(
            409,
            json!({"responseCode": "4095401", "responseMessage": "Duplicate partnerReferenceNo"}),
        )
    })
    .await;
    let err = expect_err(adapter.create(&create("astrapay")).await);
    assert_eq!(err.kind, ErrorKind::Duplicate);
    assert_eq!(err.provider_code.as_deref(), Some("4095401"));
}

#[tokio::test]
async fn a_server_error_on_create_is_ambiguous() {
    for code in ["5005401", "5005400"] {
        let (adapter, _) = serve(move |_, _| {
            reply(
                500,
                json!({"responseCode": code, "responseMessage": "Internal Server Error"}),
            )
        })
        .await;
        let err = expect_err(adapter.create(&create("astrapay")).await);
        assert_eq!(err.kind, ErrorKind::Timeout, "{code}");
        assert!(!err.is_retryable());
    }
    let (adapter, _) = serve(|_, _| (504, json!("gateway timeout"), Duration::ZERO)).await;
    let err = expect_err(adapter.create(&create("astrapay")).await);
    assert!(err.kind.is_ambiguous(), "{err}");
}

#[tokio::test]
async fn no_answer_in_time_after_sending_is_a_timeout() {
    let (adapter, stub) = serve(|path, body| {
        let (status, answer, _) = debit_ok(path, body);
        (status, answer, Duration::from_secs(2))
    })
    .await;
    let err = expect_err(adapter.create(&create("astrapay")).await);
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert_eq!(stub.seen().len(), 1, "sent once, never retried");
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let adapter = adapter(config(&format!("http://{addr}")));
    let err = expect_err(adapter.create(&create("astrapay")).await);
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_success_answer_without_a_page_is_a_protocol_error() {
    let (adapter, _) = serve(|_, _| {
        reply(
            200,
            json!({"responseCode": "2005400", "responseMessage": "Successful", "referenceNo": "R"}),
        )
    })
    .await;
    let err = expect_err(adapter.create(&create("astrapay")).await);
    assert_eq!(err.kind, ErrorKind::Protocol);
}

// ---------------------------------------------------------------------------------------
// QRIS (1.9).

const QR: &str = "00020101021226650016ID.CO.ASTRAPAY.WWW0118936008220000000001520459995303360540615000058025ID5909TOKO BUDI6007JAKARTA6304ABCD";

#[tokio::test]
async fn a_qr_bill_is_generated_and_answers_the_qr_string() {
    let (adapter, stub) = serve(|_, body| {
        reply(
            200,
            json!({
                "responseCode": "2004700", "responseMessage": "Successful",
                "referenceNo": "2000000123", "partnerReferenceNo": body["partnerReferenceNo"],
                "qrContent": QR, "merchantName": "TOKO BUDI", "terminalId": "T0001",
                "additionalInfo": {"tip": "0.00"},
            }),
        )
    })
    .await;
    let mut request = create("qris");
    request.expires_at = OffsetDateTime::now_utc() + time::Duration::days(3);
    let started = adapter.create(&request).await.expect("created");
    assert_eq!(
        started.action,
        PaymentAction::Qr {
            qr_string: QR.to_owned()
        }
    );
    assert_eq!(
        started.provider_reference,
        Some(ProviderReference("2000000123".to_owned()))
    );
    let expires_at = started.expires_at.expect("expiry");
    assert!(expires_at - OffsetDateTime::now_utc() <= time::Duration::hours(24));

    let seen = stub.only();
    assert_eq!(seen.path, "/qris-service/snap/v1.0/qr/qr-mpm-generate");
    assert_snap_headers(&seen, "00447");
    let validity = seen.body["validityPeriod"].as_str().expect("validity");
    assert_eq!(validity, crate::convert::jakarta_local(expires_at));
    assert_eq!(validity.len(), "2022-10-17T20:00:00".len());
    assert_eq!(
        seen.body,
        json!({
            "partnerReferenceNo": "pay_01HX",
            "amount": {"value": "150000.00", "currency": "IDR"},
            "merchantId": "210000240",
            "terminalId": "T0001",
            "validityPeriod": validity,
            "additionalInfo": {"tip": "0.00"},
        })
    );
}

#[tokio::test]
async fn a_duplicate_qr_bill_is_a_duplicate() {
    let (adapter, _) = serve(|_, _| {
        reply(
            409,
            json!({"responseCode": "4094701", "responseMessage": "Duplicate partnerReferenceNo"}),
        )
    })
    .await;
    let err = expect_err(adapter.create(&create("qris")).await);
    assert_eq!(err.kind, ErrorKind::Duplicate);
}

// ---------------------------------------------------------------------------------------
// Status.

#[tokio::test]
async fn a_debit_status_is_asked_and_mapped() {
    let (adapter, stub) = serve(|_, body| {
        reply(
            200,
            json!({
                "responseCode": "2005500", "responseMessage": "Successful",
                "originalPartnerReferenceNo": body["originalPartnerReferenceNo"],
                "originalReferenceNo": "INV/PAC/ONP/230223/26PIVDJFNW0",
                "serviceCode": "54", "latestTransactionStatus": "04",
                "refundHistory": [{
                    "refundNo": "INV/REF/ONP/1", "partnerReferenceNo": "rf_01HX",
                    "refundAmount": {"value": "50000.00", "currency": "IDR"},
                    "refundStatus": "SUCCESS", "refundDate": "2024-04-22T11:50:56.837811",
                    "reason": "customer request",
                }],
                "transAmount": {"value": "150000.00", "currency": "IDR"},
                "feeAmount": {"value": "0.00", "currency": "IDR"},
                "paidTime": "2024-04-22T11:40:00.000001",
            }),
        )
    })
    .await;
    let report = adapter
        .status(&handle_of("astrapay", None))
        .await
        .expect("status");
    assert_eq!(report.state, ProviderPaymentState::PartiallyRefunded);
    assert_eq!(report.refunded_amount, Some(amount(50_000)));
    assert_eq!(report.paid_amount, Some(amount(150_000)));
    assert_eq!(
        report.paid_at,
        Some(time::macros::datetime!(2024-04-22 11:40:00.000001 +7))
    );
    assert_eq!(
        report.provider_reference,
        Some(ProviderReference(
            "INV/PAC/ONP/230223/26PIVDJFNW0".to_owned()
        ))
    );
    assert_eq!(report.provider_status, "04");

    let seen = stub.only();
    assert_eq!(seen.path, "/merchant-service/snap/v1.0/debit/status");
    assert_snap_headers(&seen, "00155");
    assert_eq!(
        seen.body,
        json!({
            "originalPartnerReferenceNo": "pay_01HX",
            "originalReferenceNo": "",
            "serviceCode": "54",
            "amount": {"value": "150000.00", "currency": "IDR"},
        })
    );
}

#[tokio::test]
async fn an_unknown_status_code_is_never_final() {
    let (adapter, _) = serve(|_, _| {
        reply(
            200,
            json!({"responseCode": "2005500", "responseMessage": "Successful", "latestTransactionStatus": "42"}),
        )
    })
    .await;
    let report = adapter
        .status(&handle_of("astrapay", Some("R")))
        .await
        .expect("status");
    assert_eq!(report.state, ProviderPaymentState::Unknown);
    assert_eq!(report.paid_amount, None);
}

#[tokio::test]
async fn an_unknown_payment_is_not_found() {
    let (adapter, _) = serve(|_, _| {
        reply(
            404,
            json!({"responseCode": "4045501", "responseMessage": "Transaction Not Found"}),
        )
    })
    .await;
    let err = expect_err(adapter.status(&handle_of("astrapay", None)).await);
    assert_eq!(err.kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn a_qr_query_is_asked_and_an_expired_bill_is_expired() {
    let (adapter, stub) = serve(|_, _| {
        reply(
            200,
            json!({
                "responseCode": "2005100", "responseMessage": "Successful",
                "originalReferenceNo": "2000000123", "originalPartnerReferenceNo": "pay_01HX",
                "latestTransactionStatus": "05", "transactionStatusDesc": "CANCELED",
                "amount": {"value": "150000.00", "currency": "IDR"},
            }),
        )
    })
    .await;
    let report = adapter
        .status(&handle_of("qris", Some("2000000123")))
        .await
        .expect("status");
    assert_eq!(report.state, ProviderPaymentState::Expired);
    assert_eq!(report.paid_amount, None);

    let seen = stub.only();
    assert_eq!(seen.path, "/qris-service/snap/v1.0/qr/qr-mpm-query");
    assert_snap_headers(&seen, "00551");
    assert_eq!(
        seen.body,
        json!({
            "originalReferenceNo": "2000000123",
            "originalPartnerReferenceNo": "pay_01HX",
            "serviceCode": "47",
            "merchantId": "210000240",
            "additionalInfo": {"tip": "0.00"},
        })
    );
}

#[tokio::test]
async fn a_server_error_on_a_status_read_is_unavailable() {
    let (adapter, _) = serve(|_, _| {
        reply(
            500,
            json!({"responseCode": "5005501", "responseMessage": "Internal Server Error"}),
        )
    })
    .await;
    let err = expect_err(adapter.status(&handle_of("astrapay", None)).await);
    assert_eq!(err.kind, ErrorKind::Unavailable);
}

// ---------------------------------------------------------------------------------------
// Refunds.

fn refund_answer(code: &'static str) -> impl Fn(&str, &Value) -> Reply + Send + Sync {
    move |_, body| {
        let http = code[..3].parse().expect("http");
        reply(
            http,
            json!({
                "responseCode": code, "responseMessage": "message",
                "originalPartnerReferenceNo": body["originalPartnerReferenceNo"],
                "refundNo": "INV/REF/ONP/240422/1", "partnerRefundNo": body["partnerRefundNo"],
                "refundAmount": body["refundAmount"], "refundTime": "2024-04-22T11:50:56.837811",
            }),
        )
    }
}

#[tokio::test]
async fn a_debit_refund_succeeds_with_the_refund_number() {
    let (adapter, stub) = serve(refund_answer("2005800")).await;
    let outcome = adapter
        .refund(&refund_of("astrapay", Some("INV/PAC/ONP/1")))
        .await
        .expect("refunded");
    assert_eq!(
        outcome,
        RefundOutcome::new(
            RefundState::Succeeded,
            Some(ProviderReference("INV/REF/ONP/240422/1".to_owned()))
        )
    );
    let seen = stub.only();
    assert_eq!(seen.path, "/merchant-service/snap/v1.0/debit/refund");
    assert_snap_headers(&seen, "00258");
    assert_eq!(
        seen.body,
        json!({
            "originalPartnerReferenceNo": "pay_01HX",
            "originalReferenceNo": "INV/PAC/ONP/1",
            "partnerRefundNo": "rf_01HX",
            "refundAmount": {"value": "50000.00", "currency": "IDR"},
            "reason": "customer request",
        })
    );
}

#[tokio::test]
async fn a_refund_in_process_is_pending() {
    let (adapter, _) = serve(refund_answer("2025800")).await;
    let outcome = adapter
        .refund(&refund_of("astrapay", None))
        .await
        .expect("accepted");
    assert_eq!(outcome.state, RefundState::Pending);
}

#[tokio::test]
async fn refused_refunds_map_to_their_kinds() {
    let cases = [
        ("4035802", ErrorKind::Rejected),
        ("4045813", ErrorKind::Rejected),
        ("4045800", ErrorKind::Conflict),
        ("5005801", ErrorKind::Timeout),
    ];
    for (code, kind) in cases {
        let (adapter, _) = serve(refund_answer(code)).await;
        let err = expect_err(adapter.refund(&refund_of("astrapay", None)).await);
        assert_eq!(err.kind, kind, "{code}");
        assert_eq!(err.provider_code.as_deref(), Some(code));
    }
}

#[tokio::test]
async fn a_refund_without_an_answer_is_a_timeout() {
    let (adapter, stub) = serve(|path, body| {
        let (status, answer, _) = refund_answer("2005800")(path, body);
        (status, answer, Duration::from_secs(2))
    })
    .await;
    let err = expect_err(adapter.refund(&refund_of("astrapay", None)).await);
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert_eq!(stub.seen().len(), 1, "never resent");
}

#[tokio::test]
async fn a_qr_refund_quotes_the_bill_found_by_query() {
    let (adapter, stub) = serve(|path, body| {
        if path.ends_with("qr-mpm-query") {
            return reply(
                200,
                json!({
                    "responseCode": "2005100", "responseMessage": "Successful",
                    "originalReferenceNo": "2000000123", "originalPartnerReferenceNo": "pay_01HX",
                    "latestTransactionStatus": "00", "paidTime": "2022-10-12T11:09:10.912333",
                    "amount": {"value": "150000.00", "currency": "IDR"},
                }),
            );
        }
        reply(
            200,
            json!({
                "responseCode": "2007800", "responseMessage": "Successful",
                "referenceNo": "RF00000001", "partnerRefundNo": body["partnerRefundNo"],
                "refundAmount": body["refundAmount"], "refundTime": "2022-10-12T12:00:00+07:00",
            }),
        )
    })
    .await;
    let outcome = adapter
        .refund(&refund_of("qris", None))
        .await
        .expect("refunded");
    assert_eq!(
        outcome,
        RefundOutcome::new(
            RefundState::Succeeded,
            Some(ProviderReference("RF00000001".to_owned()))
        )
    );
    let seen = stub.seen();
    assert_eq!(seen.len(), 2);
    let refund = &seen[1];
    assert_eq!(refund.path, "/qris-service/snap/v1.0/qr/qr-mpm-refund");
    assert_snap_headers(refund, "01878");
    assert_eq!(
        refund.body,
        json!({
            "merchantId": "210000240",
            "originalPartnerReferenceNo": "pay_01HX",
            "originalReferenceNo": "2000000123",
            "partnerRefundNo": "rf_01HX",
            "refundAmount": {"value": "50000.00", "currency": "IDR"},
            "reason": "customer request",
        })
    );
}

// ---------------------------------------------------------------------------------------
// AstraPay calling us (1.12).

fn now_stamp() -> String {
    format_timestamp(OffsetDateTime::now_utc(), TimestampStyle::Jakarta)
}

fn inbound_request(sub_path: &str, headers: Vec<(&str, String)>, body: &str) -> InboundRequest {
    let headers = headers
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    InboundRequest::new(
        "POST",
        sub_path,
        headers,
        Bytes::from(body.to_owned()),
        OffsetDateTime::now_utc(),
    )
    .with_path(format!("{CALLBACK_ROOT}/{sub_path}"))
}

/// AstraPay's token request to us, signed with `key_pem`.
fn token_request(client_key: &str, timestamp: &str, key_pem: &str) -> InboundRequest {
    let key = RsaPrivateKey::from_pem(key_pem).expect("private key");
    let signature = key.sign_b64(token_string(client_key, timestamp).as_bytes());
    inbound_request(
        "v1.0/access-token/b2b",
        vec![
            ("content-type", "application/json".to_owned()),
            ("x-client-key", client_key.to_owned()),
            ("x-timestamp", timestamp.to_owned()),
            ("x-signature", signature),
        ],
        r#"{"grantType":"client_credentials"}"#,
    )
}

/// Gets a token from our endpoint as AstraPay would.
async fn our_token(adapter: &AstraPay) -> String {
    let request = token_request(NOTIFY_KEY, &now_stamp(), ASTRAPAY_PRIVATE_PEM);
    let Inbound::Reply(response) = adapter.verify_and_parse(&request).await.expect("answered")
    else {
        panic!("a token request is answered directly");
    };
    assert_eq!(response.status, 200);
    let body: Value = serde_json::from_slice(&response.body).expect("json");
    assert_eq!(body["responseCode"], "2007300");
    assert_eq!(body["expiresIn"], "900");
    body["accessToken"].as_str().expect("token").to_owned()
}

/// A notification as AstraPay would send it, HMAC-signed over `signed_path`.
fn notify(
    sub_path: &str,
    signed_path: &str,
    token: &str,
    secret: &str,
    timestamp: &str,
    body: &str,
) -> InboundRequest {
    let message = symmetric_string(
        "POST",
        signed_path,
        token,
        &body_hash(body.as_bytes()),
        timestamp,
    );
    inbound_request(
        sub_path,
        vec![
            ("content-type", "application/json".to_owned()),
            ("authorization", format!("Bearer {token}")),
            ("x-timestamp", timestamp.to_owned()),
            ("x-signature", hmac_sha512_b64(secret.as_bytes(), &message)),
            ("x-partner-id", NOTIFY_KEY.to_owned()),
            ("x-external-id", "418975812345678901711000000".to_owned()),
            ("channel-id", "00656".to_owned()),
        ],
        body,
    )
}

const DEBIT_NOTIFY: &str = r#"{"originalPartnerReferenceNo":"pay_01HX","originalReferenceNo":"INV/PAC/ONP/230223/26PIVDJFNW0","merchantId":"9653109f-0000-4000-8000-000000000001","amount":{"value":"150000.00","currency":"IDR"},"latestTransactionStatus":"00","finishedTime":"2022-12-15T17:07:15+07:00","additionalInfo":{"transAmount":{"value":"150000.00","currency":"IDR"},"feeAmount":{"value":"0.00","currency":"IDR"},"payMethod":"Balance","payOption":"AstraPay"}}"#;

const QR_NOTIFY: &str = r#"{"originalReferenceNo":"2000000123","originalPartnerReferenceNo":"pay_01HX","latestTransactionStatus":"00","transactionStatusDesc":"SUCCESS","customerNumber":"6281234567890","destinationNumber":"936008220000000001","destinationAccountName":"TOKO BUDI","externalStoreId":"S1","amount":{"value":"150000.00","currency":"IDR"},"additionalInfo":{"tip":"2000.00","channel":"POS","terminalId":"T0001","issuerName":"93600822","transactionId":"INV/QRM/1"}}"#;

const DEBIT_PATH: &str = "v1.0/debit/notify";
const QR_PATH: &str = "snap/v1.0/qr/qr-mpm-notify";

fn single_update(inbound: Inbound) -> (contracts::inbound::InboundEvent, Option<String>) {
    let Inbound::Events(notification) = inbound else {
        panic!("a notification parses to events");
    };
    assert_eq!(notification.events.len(), 1);
    let event = notification.events.into_iter().next().expect("event");
    (event, notification.request_id)
}

#[tokio::test]
async fn a_debit_notify_verifies_on_the_full_and_the_relative_path() {
    let adapter = adapter(config("https://sandbox.astrapay.com"));
    assert_eq!(adapter.trust(), Trust::Strong);
    let token = our_token(&adapter).await;
    let full = format!("{CALLBACK_ROOT}/{DEBIT_PATH}");
    for signed_path in [full.as_str(), "/v1.0/debit/notify"] {
        let request = notify(
            DEBIT_PATH,
            signed_path,
            &token,
            NOTIFY_SECRET,
            &now_stamp(),
            DEBIT_NOTIFY,
        );
        let (event, request_id) =
            single_update(adapter.verify_and_parse(&request).await.expect("verified"));
        assert_eq!(request_id.as_deref(), Some("418975812345678901711000000"));
        assert_eq!(
            event.resource,
            ResourceRef::Payment {
                reference: Some(OurReference("pay_01HX".to_owned())),
                provider_reference: Some(ProviderReference(
                    "INV/PAC/ONP/230223/26PIVDJFNW0".to_owned()
                )),
            }
        );
        assert_eq!(
            event.kind,
            EventKind::PaymentUpdate {
                state: ProviderPaymentState::Paid,
                amount: Some(amount(150_000)),
                paid_at: Some(time::macros::datetime!(2022-12-15 17:07:15 +7)),
                provider_status: "00".to_owned(),
            }
        );
        assert_eq!(event.provider_event_id, "pay_01HX:00");
        assert_eq!(event.payload["additionalInfo"]["payOption"], "AstraPay");
    }
}

#[tokio::test]
async fn a_qr_notify_verifies_and_its_ack_echoes_the_tip() {
    let adapter = adapter(config("https://sandbox.astrapay.com"));
    let token = our_token(&adapter).await;
    // The QRIS doc's relative path (1.9): the merchant base path is not signed.
    let request = notify(
        QR_PATH,
        &format!("/{QR_PATH}"),
        &token,
        NOTIFY_SECRET,
        &now_stamp(),
        QR_NOTIFY,
    );
    let (event, _) = single_update(adapter.verify_and_parse(&request).await.expect("verified"));
    assert_eq!(
        event.resource,
        ResourceRef::Payment {
            reference: Some(OurReference("pay_01HX".to_owned())),
            provider_reference: Some(ProviderReference("2000000123".to_owned())),
        }
    );
    assert!(matches!(
        event.kind,
        EventKind::PaymentUpdate { state: ProviderPaymentState::Paid, amount: Some(a), .. } if a == amount(150_000)
    ));

    let ack = adapter.acknowledge(&request, &AckOutcome::Accepted);
    assert_eq!(ack.status, 200);
    let body: Value = serde_json::from_slice(&ack.body).expect("json");
    assert_eq!(
        body,
        json!({
            "responseCode": "2005200",
            "responseMessage": "Request has been processed successfully",
            "additionalInfo": {"tip": "2000.00"},
        })
    );
}

#[tokio::test]
async fn a_cancelled_debit_notify_is_a_failure_without_amount() {
    let adapter = adapter(config("https://sandbox.astrapay.com"));
    let token = our_token(&adapter).await;
    let body = DEBIT_NOTIFY.replace(
        r#""latestTransactionStatus":"00""#,
        r#""latestTransactionStatus":"05""#,
    );
    let request = notify(
        DEBIT_PATH,
        "/v1.0/debit/notify",
        &token,
        NOTIFY_SECRET,
        &now_stamp(),
        &body,
    );
    let (event, _) = single_update(adapter.verify_and_parse(&request).await.expect("verified"));
    assert_eq!(
        event.kind,
        EventKind::PaymentUpdate {
            state: ProviderPaymentState::Failed,
            amount: None,
            paid_at: None,
            provider_status: "05".to_owned(),
        }
    );
    assert_eq!(event.provider_event_id, "pay_01HX:05");
}

async fn refusal(adapter: &AstraPay, request: &InboundRequest) -> ProviderError {
    expect_err(adapter.verify_and_parse(request).await)
}

#[tokio::test]
async fn forged_stale_or_unauthenticated_notifies_are_refused() {
    let adapter = adapter(config("https://sandbox.astrapay.com"));
    let token = our_token(&adapter).await;
    let path = "/v1.0/debit/notify";
    let stamp = now_stamp();

    // Tampered body: the signature was over the original.
    let mut tampered = notify(
        DEBIT_PATH,
        path,
        &token,
        NOTIFY_SECRET,
        &stamp,
        DEBIT_NOTIFY,
    );
    tampered.body = Bytes::from(DEBIT_NOTIFY.replace("150000.00", "1500000.00"));
    let err = refusal(&adapter, &tampered).await;
    assert_eq!(err.kind, ErrorKind::InvalidSignature);
    assert_eq!(err.provider_code.as_deref(), Some("4015600"));

    // Signed with a key we did not issue.
    let wrong_key = notify(
        DEBIT_PATH,
        path,
        &token,
        "not-our-secret",
        &stamp,
        DEBIT_NOTIFY,
    );
    assert_eq!(
        refusal(&adapter, &wrong_key).await.kind,
        ErrorKind::InvalidSignature
    );

    // Ten minutes old.
    let old = format_timestamp(
        OffsetDateTime::now_utc() - time::Duration::minutes(10),
        TimestampStyle::Jakarta,
    );
    let stale = notify(DEBIT_PATH, path, &token, NOTIFY_SECRET, &old, DEBIT_NOTIFY);
    assert_eq!(
        refusal(&adapter, &stale).await.kind,
        ErrorKind::InvalidSignature
    );

    // A token we never issued, and no token at all.
    let forged = notify(
        DEBIT_PATH,
        path,
        "made-up",
        NOTIFY_SECRET,
        &stamp,
        DEBIT_NOTIFY,
    );
    let err = refusal(&adapter, &forged).await;
    assert_eq!(err.provider_code.as_deref(), Some("4015601"));
    let mut bare = notify(
        DEBIT_PATH,
        path,
        &token,
        NOTIFY_SECRET,
        &stamp,
        DEBIT_NOTIFY,
    );
    bare.headers.retain(|(name, _)| name != "authorization");
    let err = refusal(&adapter, &bare).await;
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert_eq!(err.provider_code.as_deref(), Some("4005602"));

    // A QRIS notify refused carries service 52.
    let qr = notify(
        QR_PATH,
        "/elsewhere",
        &token,
        NOTIFY_SECRET,
        &stamp,
        QR_NOTIFY,
    );
    assert_eq!(
        refusal(&adapter, &qr).await.provider_code.as_deref(),
        Some("4015200")
    );
}

#[tokio::test]
async fn token_requests_not_signed_by_astrapay_get_no_token() {
    let adapter = adapter(config("https://sandbox.astrapay.com"));
    let cases = [
        token_request(NOTIFY_KEY, &now_stamp(), MERCHANT_PRIVATE_PEM),
        token_request("someone-else", &now_stamp(), ASTRAPAY_PRIVATE_PEM),
    ];
    for request in cases {
        let Inbound::Reply(response) = adapter.verify_and_parse(&request).await.expect("answered")
        else {
            panic!("a token request is answered directly");
        };
        assert_eq!(response.status, 401);
        let body: Value = serde_json::from_slice(&response.body).expect("json");
        assert_eq!(body["responseCode"], "4017300");
        assert!(body.get("accessToken").is_none());
    }
}

#[tokio::test]
async fn a_well_signed_body_without_our_reference_is_rejected() {
    let adapter = adapter(config("https://sandbox.astrapay.com"));
    let token = our_token(&adapter).await;
    let body = r#"{"originalReferenceNo":"X","latestTransactionStatus":"00"}"#;
    let request = notify(
        DEBIT_PATH,
        "/v1.0/debit/notify",
        &token,
        NOTIFY_SECRET,
        &now_stamp(),
        body,
    );
    let err = refusal(&adapter, &request).await;
    assert_eq!(err.kind, ErrorKind::Rejected);
    let ack = adapter.acknowledge(&request, &AckOutcome::Rejected(err));
    assert_eq!(ack.status, 400);
    let ack: Value = serde_json::from_slice(&ack.body).expect("json");
    assert_eq!(ack["responseCode"], "4005602");
}

#[tokio::test]
async fn an_unknown_callback_path_is_rejected() {
    let adapter = adapter(config("https://sandbox.astrapay.com"));
    let request = inbound_request("v1.0/transfer-va/payment", vec![], "{}");
    assert_eq!(refusal(&adapter, &request).await.kind, ErrorKind::Rejected);
}

#[test]
fn acknowledgements_follow_the_outcome_in_snap_form() {
    let adapter = adapter(config("https://sandbox.astrapay.com"));
    let debit = inbound_request(DEBIT_PATH, vec![], DEBIT_NOTIFY);
    let qr = inbound_request(QR_PATH, vec![], r#"{"additionalInfo":{}}"#);
    let ack = |request: &InboundRequest, outcome: AckOutcome| {
        let response = adapter.acknowledge(request, &outcome);
        let body: Value = serde_json::from_slice(&response.body).expect("json");
        assert!(
            response
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("x-timestamp"))
        );
        (response.status, body)
    };

    let (status, body) = ack(&debit, AckOutcome::Accepted);
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"responseCode": "2005600", "responseMessage": "Request has been processed successfully"})
    );
    let (_, body) = ack(&qr, AckOutcome::Accepted);
    assert_eq!(body["responseCode"], "2005200");
    assert_eq!(body["additionalInfo"]["tip"], "0.00");

    let signature = ProviderError::with_code(
        ErrorKind::InvalidSignature,
        "4015600",
        "Unauthorized. [Signature]",
    );
    let (status, body) = ack(&debit, AckOutcome::Rejected(signature));
    assert_eq!((status, &body["responseCode"]), (401, &json!("4015600")));
    assert_eq!(body["responseMessage"], "Unauthorized. [Signature]");

    let (status, body) = ack(&qr, AckOutcome::Replayed);
    assert_eq!((status, &body["responseCode"]), (409, &json!("4095200")));
    let (status, body) = ack(&debit, AckOutcome::RetryLater);
    assert_eq!((status, &body["responseCode"]), (500, &json!("5005601")));
    let other = ProviderError::new(ErrorKind::Rejected, "unusable");
    let (status, body) = ack(&debit, AckOutcome::Rejected(other));
    assert_eq!((status, &body["responseCode"]), (400, &json!("4005600")));
}
