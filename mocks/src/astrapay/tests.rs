use std::sync::{Arc, Mutex};

use axum::body::Body as HttpBody;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use super::*;
use crate::faults::{Fault, FaultRule};
use crate::snap;

const CLIENT_ID: &str = "astrapay-client-1";
const SECRET: &str = "test-client-secret";
const NOTIFY_KEY: &str = "gateway-issued-key";
const NOTIFY_SECRET: &str = "gateway-issued-secret";

fn simulator() -> AstraPaySimulator {
    AstraPaySimulator::new(AstraPayConfig::new(
        CLIENT_ID,
        SECRET,
        NOTIFY_KEY,
        NOTIFY_SECRET,
    ))
}

async fn send(
    router: Router,
    path: &str,
    headers: &[(String, String)],
    body: String,
) -> (StatusCode, Value) {
    let mut request = Request::post(path);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = request.body(HttpBody::from(body)).expect("request");
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn token_headers(client_key: &str, private_pem: &str) -> Vec<(String, String)> {
    let stamp = snap::timestamp(false);
    let signature = snap::rsa_sign_b64(private_pem, format!("{client_key}|{stamp}").as_bytes());
    vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-client-key".to_owned(), client_key.to_owned()),
        ("x-timestamp".to_owned(), stamp),
        ("x-signature".to_owned(), signature),
    ]
}

async fn token_of(sim: &AstraPaySimulator) -> String {
    let headers = token_headers(CLIENT_ID, keys::MERCHANT.private_pem);
    let body = json!({"grantType": "client_credentials"}).to_string();
    let (status, answer) = send(sim.router(), TOKEN_PATH, &headers, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["accessToken"].as_str().expect("token").to_owned()
}

/// A client's signed service call, as the notes' 1.4 describe it.
struct Call {
    path: &'static str,
    channel: &'static str,
    signed_path: &'static str,
    external_id: String,
    drop_header: Option<&'static str>,
}

impl Call {
    fn new(path: &'static str, channel: &'static str) -> Self {
        Self {
            path,
            channel,
            signed_path: path,
            external_id: snap::external_id(),
            drop_header: None,
        }
    }

    async fn send(
        &self,
        sim: &AstraPaySimulator,
        token: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let body = body.to_string();
        let stamp = snap::timestamp(false);
        let message = format!(
            "POST:{}:{token}:{}:{stamp}",
            self.signed_path,
            snap::body_hash(body.as_bytes())
        );
        let headers: Vec<(String, String)> = [
            ("content-type", "application/json".to_owned()),
            ("authorization", format!("Bearer {token}")),
            ("x-timestamp", stamp),
            (
                "x-signature",
                snap::hmac_sha512_b64(SECRET.as_bytes(), &message),
            ),
            ("x-partner-id", CLIENT_ID.to_owned()),
            ("x-external-id", self.external_id.clone()),
            ("channel-id", self.channel.to_owned()),
        ]
        .into_iter()
        .filter(|(name, _)| Some(*name) != self.drop_header)
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        send(sim.router(), self.path, &headers, body).await
    }
}

fn code(answer: &Value) -> &str {
    answer["responseCode"].as_str().unwrap_or_default()
}

fn in_minutes(minutes: i64) -> String {
    wib::iso(wib::now() + time::Duration::minutes(minutes))
}

fn debit_body(reference: &str) -> Value {
    json!({
        "partnerReferenceNo": reference,
        "merchantId": AstraPayConfig::new("", "", "", "").merchant_id,
        "validUpTo": in_minutes(10),
        "amount": {"value": "150000.00", "currency": "IDR"},
        "additionalInfo": {"description": "Order 1"},
    })
}

fn debit_status_body(reference: &str) -> Value {
    json!({
        "originalPartnerReferenceNo": reference,
        "originalReferenceNo": "",
        "serviceCode": "54",
        "amount": {"value": "150000.00", "currency": "IDR"},
    })
}

fn debit_refund_body(reference: &str, refund_no: &str, rupiah: i64) -> Value {
    json!({
        "originalPartnerReferenceNo": reference,
        "partnerRefundNo": refund_no,
        "refundAmount": snap::amount(rupiah),
        "reason": "customer asked",
    })
}

fn qr_body(reference: &str) -> Value {
    json!({
        "partnerReferenceNo": reference,
        "amount": {"value": "25000.00", "currency": "IDR"},
        "merchantId": "210000240",
        "terminalId": "A01",
        "additionalInfo": {"tip": "0.00"},
    })
}

fn qr_query_body(reference: &str, reference_no: &str) -> Value {
    json!({
        "originalReferenceNo": reference_no,
        "originalPartnerReferenceNo": reference,
        "serviceCode": "47",
        "merchantId": "210000240",
        "additionalInfo": {"tip": "0.00"},
    })
}

fn qr_refund_body(reference: &str, refund_no: &str, rupiah: i64) -> Value {
    json!({
        "merchantId": "210000240",
        "originalPartnerReferenceNo": reference,
        "originalReferenceNo": "",
        "partnerRefundNo": refund_no,
        "refundAmount": snap::amount(rupiah),
        "reason": "customer asked",
    })
}

fn debit() -> Call {
    Call::new(DEBIT_PAYMENT_PATH, "00854")
}

fn debit_status() -> Call {
    Call::new(DEBIT_STATUS_PATH, "00155")
}

fn debit_refund() -> Call {
    Call::new(DEBIT_REFUND_PATH, "00258")
}

fn qr_generate() -> Call {
    Call::new(QR_GENERATE_PATH, "00447")
}

fn qr_query() -> Call {
    Call::new(QR_QUERY_PATH, "00551")
}

fn qr_refund() -> Call {
    Call::new(QR_REFUND_PATH, "01878")
}

fn is_ref(text: &str, prefix: &str) -> bool {
    let Some(rest) = text.strip_prefix(prefix) else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    parts.len() == 2
        && parts[0].len() == 6
        && parts[0].bytes().all(|b| b.is_ascii_digit())
        && parts[1].len() == 11
        && parts[1]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `2024-04-22T11:50:56.837811`: no offset, six decimals.
fn is_micros_without_offset(text: &str) -> bool {
    text.len() == 26
        && text.as_bytes()[19] == b'.'
        && text[20..].bytes().all(|b| b.is_ascii_digit())
}

// ---- token ---------------------------------------------------------------------------

#[tokio::test]
async fn the_token_answer_carries_expires_in_as_a_string() {
    let sim = simulator();
    let headers = token_headers(CLIENT_ID, keys::MERCHANT.private_pem);
    let body = json!({"grantType": "client_credentials"}).to_string();
    let (status, answer) = send(sim.router(), TOKEN_PATH, &headers, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(code(&answer), "2007300");
    assert_eq!(answer["tokenType"], "Bearer");
    assert_eq!(answer["expiresIn"], json!("900"));
    assert_eq!(sim.tokens_issued(), 1);
    assert_eq!(sim.calls("token"), 1);
}

#[tokio::test]
async fn a_token_request_signed_with_another_key_or_client_is_refused() {
    let sim = simulator();
    let body = json!({"grantType": "client_credentials"}).to_string();
    for headers in [
        token_headers(CLIENT_ID, keys::ASTRAPAY.private_pem),
        token_headers("someone-else", keys::MERCHANT.private_pem),
    ] {
        let (status, answer) = send(sim.router(), TOKEN_PATH, &headers, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(code(&answer), "4017300");
    }
    assert_eq!(sim.tokens_issued(), 0);
}

// ---- SNAP checks -----------------------------------------------------------------------

#[tokio::test]
async fn every_service_wants_its_own_channel_id() {
    let sim = simulator();
    let token = token_of(&sim).await;
    let cases = [
        (DEBIT_PAYMENT_PATH, "00155", "4005401", debit_body("CH-1")),
        (
            DEBIT_STATUS_PATH,
            "00854",
            "4005501",
            debit_status_body("CH-1"),
        ),
        (
            DEBIT_REFUND_PATH,
            "00155",
            "4005801",
            debit_refund_body("CH-1", "R", 1),
        ),
        (QR_GENERATE_PATH, "00854", "4004701", qr_body("CH-2")),
        (QR_QUERY_PATH, "00447", "4005101", qr_query_body("CH-2", "")),
        (
            QR_REFUND_PATH,
            "00258",
            "4007801",
            qr_refund_body("CH-2", "R", 1),
        ),
    ];
    for (path, wrong_channel, want, body) in cases {
        let (status, answer) = Call::new(path, wrong_channel)
            .send(&sim, &token, &body)
            .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::BAD_REQUEST, want),
            "{path}"
        );
    }
    assert!(sim.payments().is_empty());
}

#[tokio::test]
async fn the_signature_covers_the_full_path_with_the_service_prefix() {
    let sim = simulator();
    let token = token_of(&sim).await;
    let mut call = debit();
    call.signed_path = "/snap/v1.0/debit/payment-host-to-host";
    let (status, answer) = call.send(&sim, &token, &debit_body("SIG-1")).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNAUTHORIZED, "4015400")
    );
    assert!(sim.payment("SIG-1").is_none());
    let (status, answer) = debit().send(&sim, &token, &debit_body("SIG-1")).await;
    assert_eq!((status, code(&answer)), (StatusCode::OK, "2005400"));
}

#[tokio::test]
async fn missing_headers_expired_tokens_and_reused_external_ids_are_refused() {
    let sim = simulator();
    let token = token_of(&sim).await;
    let mut call = debit();
    call.drop_header = Some("x-external-id");
    let (_, answer) = call.send(&sim, &token, &debit_body("HDR-1")).await;
    assert_eq!(code(&answer), "4005402");

    let call = debit();
    let (_, answer) = call.send(&sim, &token, &debit_body("HDR-2")).await;
    assert_eq!(code(&answer), "2005400");
    let (status, answer) = call.send(&sim, &token, &debit_body("HDR-3")).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "4095400"));

    sim.expire_tokens();
    let (status, answer) = debit().send(&sim, &token, &debit_body("HDR-4")).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNAUTHORIZED, "4015401")
    );
    let fresh = token_of(&sim).await;
    let (_, answer) = debit().send(&sim, &fresh, &debit_body("HDR-4")).await;
    assert_eq!(code(&answer), "2005400");
}

// ---- debit -----------------------------------------------------------------------------

#[tokio::test]
async fn a_debit_payment_answers_a_reference_and_a_webview_url() {
    let sim = simulator();
    let token = token_of(&sim).await;
    let (status, answer) = debit().send(&sim, &token, &debit_body("DEB-1")).await;
    assert_eq!((status, code(&answer)), (StatusCode::OK, "2005400"));
    assert_eq!(answer["partnerReferenceNo"], "DEB-1");
    let reference_no = answer["referenceNo"].as_str().expect("referenceNo");
    assert!(is_ref(reference_no, "INV/PAC/ONP/"), "{reference_no}");
    let web = answer["webRedirectUrl"].as_str().expect("webRedirectUrl");
    let id = web
        .strip_prefix("https://sandbox.astrapay.com/merchant-service/payments/")
        .expect("webview URL");
    assert_eq!(id.len(), 36);
    assert!(answer.get("appRedirectUrl").is_none());
    let held = sim.payment("DEB-1").expect("held");
    assert_eq!((held.kind, held.amount), (PaymentKind::Debit, 150_000));
    assert_eq!(held.status, TransactionStatus::Initiated);
}

#[tokio::test]
async fn an_in_app_debit_payment_also_answers_an_app_link() {
    let sim = simulator();
    let token = token_of(&sim).await;
    let mut body = debit_body("APP-1");
    body["additionalInfo"]["paymentType"] = json!("IN_APP");
    let (_, answer) = debit().send(&sim, &token, &body).await;
    let web = answer["webRedirectUrl"].as_str().expect("web");
    let app = answer["appRedirectUrl"].as_str().expect("app");
    let id = app
        .strip_prefix("astrapay://payment-channel/payment?id=")
        .expect("app link");
    assert!(web.ends_with(id));
}

#[tokio::test]
async fn debit_payment_fields_are_checked_with_the_codes_of_service_54() {
    let sim = simulator();
    let token = token_of(&sim).await;
    let mut cases = Vec::new();
    let mut body = debit_body("F-1");
    body.as_object_mut()
        .expect("object")
        .remove("partnerReferenceNo");
    cases.push((body, "4005402"));
    let mut body = debit_body("F-2");
    body["additionalInfo"] = json!({});
    cases.push((body, "4005402"));
    let mut body = debit_body("F-3");
    body["amount"] = json!({"value": "150000.50", "currency": "IDR"});
    cases.push((body, "4005401"));
    let mut body = debit_body("F-4");
    body["amount"] = json!({"value": "150000", "currency": "USD"});
    cases.push((body, "4005401"));
    let mut body = debit_body("F-5");
    body["validUpTo"] = json!("2030-01-01T10:00:00");
    cases.push((body, "4005401"));
    for minutes in [1, 20] {
        let mut body = debit_body("F-6");
        body["validUpTo"] = json!(in_minutes(minutes));
        cases.push((body, "4035415"));
    }
    let mut body = debit_body("F-7");
    body["additionalInfo"]["paymentType"] = json!("WEB");
    cases.push((body, "4005401"));
    let mut body = debit_body("F-8");
    body["merchantId"] = json!("another-merchant");
    cases.push((body, "4045408"));
    let mut body = debit_body("F-9");
    body["partnerReferenceNo"] = json!("X".repeat(65));
    cases.push((body, "4005401"));
    for (body, want) in cases {
        let (_, answer) = debit().send(&sim, &token, &body).await;
        assert_eq!(code(&answer), want, "{body}");
    }
    assert!(sim.payments().is_empty());
    let mut body = debit_body("F-10");
    body.as_object_mut().expect("object").remove("validUpTo");
    let (_, answer) = debit().send(&sim, &token, &body).await;
    assert_eq!(code(&answer), "2005400", "validUpTo is optional");
}

#[tokio::test]
async fn a_second_payment_under_the_same_reference_is_a_duplicate() {
    let sim = simulator();
    let token = token_of(&sim).await;
    let (_, first) = debit().send(&sim, &token, &debit_body("DUP-1")).await;
    assert_eq!(code(&first), "2005400");
    let (status, again) = debit().send(&sim, &token, &debit_body("DUP-1")).await;
    assert_eq!((status, code(&again)), (StatusCode::CONFLICT, "4095401"));
    let (_, qr) = qr_generate().send(&sim, &token, &qr_body("DUP-1")).await;
    assert_eq!(code(&qr), "4094701");
    assert_eq!(sim.payments().len(), 1);
    assert_eq!(PaymentSimulator::payments_for(&sim, "DUP-1"), 1);
}

#[tokio::test]
async fn debit_status_follows_the_payment_and_knows_no_stranger() {
    let sim = simulator();
    let token = token_of(&sim).await;
    let (_, created) = debit().send(&sim, &token, &debit_body("ST-1")).await;
    let (_, answer) = debit_status()
        .send(&sim, &token, &debit_status_body("ST-1"))
        .await;
    assert_eq!(code(&answer), "2005500");
    assert_eq!(answer["latestTransactionStatus"], "01");
    assert_eq!(answer["originalReferenceNo"], created["referenceNo"]);
    assert_eq!(answer["serviceCode"], "54");
    assert_eq!(answer["refundHistory"], json!([]));
    assert!(answer.get("paidTime").is_none());

    PaymentSimulator::complete(&sim, "ST-1").expect("complete");
    let (_, answer) = debit_status()
        .send(&sim, &token, &debit_status_body("ST-1"))
        .await;
    assert_eq!(answer["latestTransactionStatus"], "00");
    assert_eq!(answer["transAmount"], snap::amount(150_000));
    let paid_time = answer["paidTime"].as_str().expect("paidTime");
    assert!(snap::parse_timestamp(paid_time).is_some());

    let (status, answer) = debit_status()
        .send(&sim, &token, &debit_status_body("NONE"))
        .await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "4045501"));
    let mut body = debit_status_body("ST-1");
    body["originalReferenceNo"] = json!("INV/PAC/ONP/000000/OTHER000000");
    let (_, answer) = debit_status().send(&sim, &token, &body).await;
    assert_eq!(code(&answer), "4045501");
    let mut body = debit_status_body("ST-1");
    body["serviceCode"] = json!("47");
    let (_, answer) = debit_status().send(&sim, &token, &body).await;
    assert_eq!(code(&answer), "4005501");
    let mut body = debit_status_body("ST-1");
    body["amount"] = snap::amount(1);
    let (_, answer) = debit_status().send(&sim, &token, &body).await;
    assert_eq!(code(&answer), "4045513");
}

#[tokio::test]
async fn failed_and_expired_payments_read_06_and_05() {
    let sim = simulator();
    let token = token_of(&sim).await;
    for (reference, outcome, want) in [
        ("FX-1", Outcome::Failed, "06"),
        ("FX-2", Outcome::Canceled, "05"),
    ] {
        debit().send(&sim, &token, &debit_body(reference)).await;
        sim.record(reference, outcome).expect("record");
        let (_, answer) = debit_status()
            .send(&sim, &token, &debit_status_body(reference))
            .await;
        assert_eq!(answer["latestTransactionStatus"], want);
    }
}

#[tokio::test]
async fn debit_refunds_are_partial_up_to_the_amount_and_only_after_payment() {
    let sim = simulator();
    let token = token_of(&sim).await;
    debit().send(&sim, &token, &debit_body("RF-1")).await;
    let (status, answer) = debit_refund()
        .send(&sim, &token, &debit_refund_body("RF-1", "R-0", 10_000))
        .await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "4045800"));

    PaymentSimulator::complete(&sim, "RF-1").expect("complete");
    let (_, first) = debit_refund()
        .send(&sim, &token, &debit_refund_body("RF-1", "R-1", 50_000))
        .await;
    assert_eq!(code(&first), "2005800");
    assert!(is_ref(
        first["refundNo"].as_str().expect("refundNo"),
        "INV/REF/ONP/"
    ));
    assert_eq!(first["partnerRefundNo"], "R-1");
    assert_eq!(first["refundAmount"], snap::amount(50_000));
    let refund_time = first["refundTime"].as_str().expect("refundTime");
    assert!(is_micros_without_offset(refund_time), "{refund_time}");

    let (_, status_answer) = debit_status()
        .send(&sim, &token, &debit_status_body("RF-1"))
        .await;
    assert_eq!(status_answer["latestTransactionStatus"], "00");
    assert_eq!(
        status_answer["refundHistory"][0]["refundNo"],
        first["refundNo"]
    );
    assert_eq!(
        status_answer["refundHistory"][0]["refundAmount"],
        snap::amount(50_000)
    );

    let (status, answer) = debit_refund()
        .send(&sim, &token, &debit_refund_body("RF-1", "R-2", 100_001))
        .await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "4035802"));

    let (_, again) = debit_refund()
        .send(&sim, &token, &debit_refund_body("RF-1", "R-1", 50_000))
        .await;
    assert_eq!(
        again["refundNo"], first["refundNo"],
        "same partnerRefundNo, same refund"
    );
    let (_, clash) = debit_refund()
        .send(&sim, &token, &debit_refund_body("RF-1", "R-1", 40_000))
        .await;
    assert_eq!(code(&clash), "4045818");

    let (_, rest) = debit_refund()
        .send(&sim, &token, &debit_refund_body("RF-1", "R-3", 100_000))
        .await;
    assert_eq!(code(&rest), "2005800");
    let (_, status_answer) = debit_status()
        .send(&sim, &token, &debit_status_body("RF-1"))
        .await;
    assert_eq!(status_answer["latestTransactionStatus"], "04");
    let view = sim.payment("RF-1").expect("held");
    assert_eq!((view.refunded, view.refund_count), (150_000, 2));

    let (_, unknown) = debit_refund()
        .send(&sim, &token, &debit_refund_body("NONE", "R-9", 1))
        .await;
    assert_eq!(code(&unknown), "4045801");
}

// ---- QRIS ------------------------------------------------------------------------------

#[test]
fn the_crc_is_ccitt_false() {
    assert_eq!(qr::crc16_ccitt_false(b"123456789"), 0x29B1);
    assert_eq!(qr::crc16_ccitt_false(b""), 0xFFFF);
}

/// Splits EMV TLV text into (id, value) pairs; `None` when a length runs past the end.
fn tlv_fields(text: &str) -> Option<Vec<(String, String)>> {
    let mut fields = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let id = rest.get(..2)?;
        let len: usize = rest.get(2..4)?.parse().ok()?;
        let value = rest.get(4..4 + len)?;
        fields.push((id.to_owned(), value.to_owned()));
        rest = &rest[4 + len..];
    }
    Some(fields)
}

#[tokio::test]
async fn a_qr_bill_carries_an_emv_string_with_a_valid_crc() {
    let sim = simulator();
    let token = token_of(&sim).await;
    let (status, answer) = qr_generate().send(&sim, &token, &qr_body("QR-1")).await;
    assert_eq!((status, code(&answer)), (StatusCode::OK, "2004700"));
    let reference_no = answer["referenceNo"].as_str().expect("referenceNo");
    assert_eq!(reference_no.len(), 10);
    assert_eq!(answer["terminalId"], "A01");
    let qr = answer["qrContent"].as_str().expect("qrContent");
    assert!(qr.starts_with("000201010212"), "{qr}");
    assert!(qr.contains("ID.CO.ASTRAPAY.WWW") && qr.contains("ID.CO.QRIS.WWW"));
    let (payload, crc) = qr.split_at(qr.len() - 4);
    assert!(payload.ends_with("6304"));
    assert_eq!(
        crc,
        format!("{:04X}", qr::crc16_ccitt_false(payload.as_bytes()))
    );
    let fields = tlv_fields(qr).expect("well-formed TLV");
    let value = |id: &str| fields.iter().find(|(i, _)| i == id).map(|(_, v)| v.clone());
    assert_eq!(value("54").as_deref(), Some("25000"));
    assert_eq!(value("53").as_deref(), Some("360"));
    assert!(value("62").is_some_and(|v| v.contains(reference_no)));
    assert_eq!(fields.last().map(|(id, _)| id.as_str()), Some("63"));
    let view = sim.payment("QR-1").expect("held");
    assert_eq!(
        (view.kind, view.status),
        (PaymentKind::Qris, TransactionStatus::Pending)
    );
}

#[tokio::test]
async fn qr_generate_checks_merchant_terminal_validity_and_duplicates() {
    let sim = simulator();
    let token = token_of(&sim).await;
    let mut cases = Vec::new();
    let mut body = qr_body("QG-1");
    body["terminalId"] = json!("Z99");
    cases.push((body, "4044717"));
    let mut body = qr_body("QG-2");
    body["merchantId"] = json!("999999999");
    cases.push((body, "4044708"));
    let mut body = qr_body("QG-3");
    body.as_object_mut().expect("object").remove("terminalId");
    cases.push((body, "4004702"));
    let mut body = qr_body("QG-4");
    body["validityPeriod"] = json!(wib::iso(wib::now() + time::Duration::hours(25)));
    cases.push((body, "4004701"));
    for (body, want) in cases {
        let (_, answer) = qr_generate().send(&sim, &token, &body).await;
        assert_eq!(code(&answer), want, "{body}");
    }
    let mut body = qr_body("QG-5");
    body["validityPeriod"] = json!("2099-01-01T00:00:00");
    let (_, far) = qr_generate().send(&sim, &token, &body).await;
    assert_eq!(code(&far), "4004701", "more than 24 hours ahead");
    let in_an_hour = wib::now() + time::Duration::hours(1);
    let no_offset = wib::iso(in_an_hour).trim_end_matches("+07:00").to_owned();
    body["validityPeriod"] = json!(no_offset);
    let (_, ok) = qr_generate().send(&sim, &token, &body).await;
    assert_eq!(
        code(&ok),
        "2004700",
        "a validityPeriod without offset is WIB"
    );
    let (status, dup) = qr_generate().send(&sim, &token, &body).await;
    assert_eq!((status, code(&dup)), (StatusCode::CONFLICT, "4094701"));
}

#[tokio::test]
async fn qr_query_reports_pending_then_paid_without_offset() {
    let sim = simulator();
    let token = token_of(&sim).await;
    let (_, created) = qr_generate().send(&sim, &token, &qr_body("QQ-1")).await;
    let reference_no = created["referenceNo"]
        .as_str()
        .expect("referenceNo")
        .to_owned();
    let (_, answer) = qr_query()
        .send(&sim, &token, &qr_query_body("QQ-1", &reference_no))
        .await;
    assert_eq!(code(&answer), "2005100");
    assert_eq!(answer["latestTransactionStatus"], "03");
    assert_eq!(answer["transactionStatusDesc"], "PENDING");

    PaymentSimulator::complete(&sim, "QQ-1").expect("complete");
    let (_, answer) = qr_query()
        .send(&sim, &token, &qr_query_body("QQ-1", ""))
        .await;
    assert_eq!(answer["latestTransactionStatus"], "00");
    assert_eq!(answer["transactionStatusDesc"], "SUCCESS");
    assert_eq!(answer["amount"], snap::amount(25_000));
    let paid_time = answer["paidTime"].as_str().expect("paidTime");
    assert!(is_micros_without_offset(paid_time), "{paid_time}");
    assert_eq!(answer["additionalInfo"]["issuerName"], "93600822");

    let (_, unknown) = qr_query()
        .send(&sim, &token, &qr_query_body("NONE", ""))
        .await;
    assert_eq!(code(&unknown), "4045101");
    let (_, wrong) = qr_query()
        .send(&sim, &token, &qr_query_body("QQ-1", "0000000000"))
        .await;
    assert_eq!(code(&wrong), "4045101");
    let mut body = qr_query_body("QQ-1", "");
    body["merchantId"] = json!("111");
    let (_, merchant) = qr_query().send(&sim, &token, &body).await;
    assert_eq!(code(&merchant), "4045108");
    let mut body = qr_query_body("QQ-1", "");
    body.as_object_mut()
        .expect("object")
        .remove("originalReferenceNo");
    let (_, missing) = qr_query().send(&sim, &token, &body).await;
    assert_eq!(code(&missing), "4005102");
    let (_, debit_view) = debit_status()
        .send(&sim, &token, &debit_status_body("QQ-1"))
        .await;
    assert_eq!(
        code(&debit_view),
        "4045501",
        "a QR bill is no debit payment"
    );
}

#[tokio::test]
async fn qr_refunds_answer_2007800_on_either_path() {
    let sim = simulator();
    let token = token_of(&sim).await;
    qr_generate().send(&sim, &token, &qr_body("QRF-1")).await;
    let (_, early) = qr_refund()
        .send(&sim, &token, &qr_refund_body("QRF-1", "Q-0", 5_000))
        .await;
    assert_eq!(code(&early), "4047800");
    PaymentSimulator::complete(&sim, "QRF-1").expect("complete");
    let (_, first) = qr_refund()
        .send(&sim, &token, &qr_refund_body("QRF-1", "Q-1", 5_000))
        .await;
    assert_eq!(code(&first), "2007800");
    let refund_time = first["refundTime"].as_str().expect("refundTime");
    assert!(refund_time.ends_with("+07:00"), "{refund_time}");
    let (_, over) = qr_refund()
        .send(&sim, &token, &qr_refund_body("QRF-1", "Q-2", 20_001))
        .await;
    assert_eq!(code(&over), "4037802");
    let bare = Call::new(QR_REFUND_BARE_PATH, "01878");
    let (_, rest) = bare
        .send(&sim, &token, &qr_refund_body("QRF-1", "Q-3", 20_000))
        .await;
    assert_eq!(code(&rest), "2007800");
    let (_, answer) = qr_query()
        .send(&sim, &token, &qr_query_body("QRF-1", ""))
        .await;
    assert_eq!(answer["latestTransactionStatus"], "04");
    assert_eq!(answer["transactionStatusDesc"], "REFUND");
    assert_eq!(answer["refundHistory"].as_array().map(Vec::len), Some(2));
    let mut body = qr_refund_body("QRF-1", "Q-4", 1);
    body.as_object_mut().expect("object").remove("reason");
    let (_, missing) = qr_refund().send(&sim, &token, &body).await;
    assert_eq!(code(&missing), "4007802");
}

// ---- faults and counters ---------------------------------------------------------------

#[tokio::test]
async fn generic_fault_names_reach_both_services_and_specific_ones_only_theirs() {
    let sim = simulator();
    let token = token_of(&sim).await;
    sim.faults()
        .push(FaultRule::once("qr-generate", Fault::Down));
    let (_, answer) = debit().send(&sim, &token, &debit_body("FL-1")).await;
    assert_eq!(code(&answer), "2005400");
    let (status, _) = qr_generate().send(&sim, &token, &qr_body("FL-2")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(sim.payment("FL-2").is_none());

    sim.faults()
        .push(FaultRule::once("create", Fault::Status { code: 503 }));
    let (status, _) = qr_generate().send(&sim, &token, &qr_body("FL-3")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    sim.faults()
        .push(FaultRule::once("create", Fault::Malformed));
    let (status, answer) = debit().send(&sim, &token, &debit_body("FL-4")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(answer.is_string(), "a garbled answer is no JSON: {answer}");
    assert_eq!(sim.calls("create"), 1);
    assert_eq!(sim.calls("debit-payment"), 1);
    assert_eq!(sim.calls("qr-generate"), 0);
}

// ---- acting and notifications ---------------------------------------------------------

/// What the receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    channel_id: String,
    body: Value,
}

/// A merchant's side of 1.12: issues a token to an RSA-signed request from AstraPay,
/// checks the Bearer token and the HMAC of every notify, and answers SNAP acks.
#[derive(Clone, Default)]
struct Receiver {
    tokens: Arc<Mutex<Vec<String>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn spawn() -> (Self, Urls, Running) {
        let receiver = Self::default();
        let router = Router::new()
            .route("/cb/v1.0/access-token/b2b", post(receiver_token))
            .route("/cb/v1.0/debit/notify", post(receiver_notify))
            .route("/cb/v1.0/qr/qr-mpm-notify", post(receiver_notify))
            .with_state(receiver.clone());
        let running = server::spawn(router, server::any_local_port())
            .await
            .expect("bind");
        let base = format!("{}/cb", running.base_url);
        let urls = Urls {
            token: format!("{base}/v1.0/access-token/b2b"),
            debit_notify: format!("{base}/v1.0/debit/notify"),
            qris_notify: format!("{base}/v1.0/qr/qr-mpm-notify"),
        };
        (receiver, urls, running)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> String {
    let value = headers.get(name).and_then(|v| v.to_str().ok());
    value.unwrap_or_default().to_owned()
}

async fn receiver_token(State(receiver): State<Receiver>, headers: HeaderMap) -> Response {
    let client_key = header_text(&headers, "x-client-key");
    let message = format!("{client_key}|{}", header_text(&headers, "x-timestamp"));
    let signature = header_text(&headers, "x-signature");
    let genuine = client_key == NOTIFY_KEY
        && snap::rsa_verify_b64(keys::ASTRAPAY.public_pem, message.as_bytes(), &signature);
    if !genuine {
        let refusal = json!({"responseCode": "4017300", "responseMessage": "Unauthorized"});
        return (StatusCode::UNAUTHORIZED, axum::Json(refusal)).into_response();
    }
    let token = format!("merchant-token-{}", snap::external_id());
    receiver.tokens.lock().expect("lock").push(token.clone());
    let answer = json!({"responseCode": "2007300", "accessToken": token, "tokenType": "Bearer", "expiresIn": "900"});
    axum::Json(answer).into_response()
}

async fn receiver_notify(
    State(receiver): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let service = if uri.path().ends_with("debit/notify") {
        "56"
    } else {
        "52"
    };
    let token = header_text(&headers, "authorization")
        .strip_prefix("Bearer ")
        .map(str::to_owned)
        .unwrap_or_default();
    if !receiver.tokens.lock().expect("lock").contains(&token) {
        let refusal = json!({"responseCode": format!("401{service}01")});
        return (StatusCode::UNAUTHORIZED, axum::Json(refusal)).into_response();
    }
    let message = format!(
        "POST:{}:{token}:{}:{}",
        uri.path(),
        snap::body_hash(&body),
        header_text(&headers, "x-timestamp")
    );
    let expected = snap::hmac_sha512_b64(NOTIFY_SECRET.as_bytes(), &message);
    if expected != header_text(&headers, "x-signature")
        || header_text(&headers, "x-partner-id") != NOTIFY_KEY
    {
        let refusal = json!({"responseCode": format!("401{service}00")});
        return (StatusCode::UNAUTHORIZED, axum::Json(refusal)).into_response();
    }
    receiver.received.lock().expect("lock").push(Received {
        path: uri.path().to_owned(),
        channel_id: header_text(&headers, "channel-id"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let ack = json!({"responseCode": format!("200{service}00"), "responseMessage": "Successful"});
    axum::Json(ack).into_response()
}

async fn with_receiver() -> (AstraPaySimulator, String, Receiver, Running) {
    let sim = simulator();
    let token = token_of(&sim).await;
    let (receiver, urls, running) = Receiver::spawn().await;
    sim.set_urls(&urls.token, &urls.debit_notify, &urls.qris_notify);
    (sim, token, receiver, running)
}

#[tokio::test]
async fn complete_fail_and_expire_post_the_debit_notify_after_a_token() {
    let (sim, token, receiver, _running) = with_receiver().await;
    for reference in ["N-1", "N-2", "N-3"] {
        debit().send(&sim, &token, &debit_body(reference)).await;
    }
    let paid = sim.complete("N-1").await.expect("posted");
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert!(paid.body.contains("2005600"));
    assert_eq!(sim.fail("N-2").await.expect("posted").status, 200);
    assert_eq!(sim.expire("N-3").await.expect("posted").status, 200);
    assert_eq!(
        receiver.tokens.lock().expect("lock").len(),
        1,
        "the token is reused"
    );

    let received = receiver.received();
    let statuses: Vec<&str> = received
        .iter()
        .map(|r| {
            r.body["latestTransactionStatus"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(statuses, ["00", "06", "05"]);
    let first = &received[0];
    assert_eq!(first.path, "/cb/v1.0/debit/notify");
    assert_eq!(first.channel_id, "00656");
    assert_eq!(first.body["originalPartnerReferenceNo"], "N-1");
    assert_eq!(first.body["amount"], snap::amount(150_000));
    assert_eq!(first.body["additionalInfo"]["payMethod"], "Balance");
    let finished = first.body["finishedTime"].as_str().expect("finishedTime");
    assert!(finished.ends_with("+07:00"));
    assert_eq!(
        sim.payment("N-3").expect("held").status,
        TransactionStatus::Canceled
    );
}

#[tokio::test]
async fn completing_a_qr_bill_posts_the_qris_notify() {
    let (sim, token, receiver, _running) = with_receiver().await;
    let (_, created) = qr_generate().send(&sim, &token, &qr_body("NQ-1")).await;
    let outcomes = sim
        .complete_with("NQ-1", CallbackOptions::repeated(2, false))
        .await
        .expect("posted");
    assert_eq!(
        outcomes.iter().map(|o| o.status).collect::<Vec<_>>(),
        [200, 200]
    );
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let notify = &received[0];
    assert_eq!(notify.path, "/cb/v1.0/qr/qr-mpm-notify");
    assert_eq!(notify.channel_id, "00752");
    assert_eq!(notify.body["originalReferenceNo"], created["referenceNo"]);
    assert_eq!(notify.body["latestTransactionStatus"], "00");
    assert_eq!(notify.body["transactionStatusDesc"], "SUCCESS");
    assert_eq!(notify.body["additionalInfo"]["channel"], "POS");
    assert_eq!(notify.body, received[1].body, "a resend is the same event");
}

#[tokio::test]
async fn tampered_notifications_are_refused_by_a_checking_merchant() {
    let (sim, token, receiver, _running) = with_receiver().await;
    debit().send(&sim, &token, &debit_body("T-1")).await;
    let outcomes = sim
        .complete_with("T-1", CallbackOptions::tampered(Tamper::WrongKey))
        .await
        .expect("posted");
    assert_eq!(outcomes[0].status, 401);
    assert!(receiver.received().is_empty());
    let flipped = sim
        .notification_for("T-1", Tamper::FlipByte)
        .expect("built");
    let genuine = sim.notification_for("T-1", Tamper::None).expect("built");
    assert_ne!(flipped.body, genuine.body);
    assert_eq!(
        genuine.url.as_deref(),
        Some(sim.urls().debit_notify.as_str())
    );
}

#[tokio::test]
async fn times_zero_records_without_posting_and_acting_twice_is_refused() {
    let (sim, token, receiver, _running) = with_receiver().await;
    debit().send(&sim, &token, &debit_body("Z-1")).await;
    let outcomes = sim
        .complete_with("Z-1", CallbackOptions::repeated(0, false))
        .await
        .expect("recorded");
    assert!(outcomes.is_empty());
    assert!(receiver.received().is_empty());
    assert_eq!(
        sim.payment("Z-1").expect("held").status,
        TransactionStatus::Success
    );
    assert!(matches!(
        sim.fail("Z-1").await,
        Err(SimError::NotPayable { state: "paid", .. })
    ));
    assert!(matches!(
        sim.complete("NOPE").await,
        Err(SimError::NotFound(_))
    ));
}

#[tokio::test]
async fn the_conformance_hooks_hand_over_the_token_request_and_the_notification() {
    let sim = simulator();
    let token = token_of(&sim).await;
    debit().send(&sim, &token, &debit_body("H-1")).await;
    assert!(matches!(
        PaymentSimulator::notification_for(&sim, "H-1", Tamper::None),
        Err(SimError::NothingToRedeliver(_))
    ));
    PaymentSimulator::fail(&sim, "H-1").expect("fail");
    assert!(matches!(
        PaymentSimulator::notification_for(&sim, "H-1", Tamper::None),
        Err(SimError::NoCallbackUrl)
    ));
    sim.set_urls(
        "http://gw.test/v1/callbacks/astrapay/v1.0/access-token/b2b",
        "http://gw.test/v1/callbacks/astrapay/v1.0/debit/notify",
        "http://gw.test/v1/callbacks/astrapay/v1.0/qr/qr-mpm-notify",
    );
    let request = PaymentSimulator::token_request(&sim).expect("symmetric set-up");
    let header = |name: &str| {
        let found = request.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let message = format!("{}|{}", header("x-client-key"), header("x-timestamp"));
    assert_eq!(header("x-client-key"), NOTIFY_KEY);
    assert!(snap::rsa_verify_b64(
        keys::ASTRAPAY.public_pem,
        message.as_bytes(),
        &header("x-signature")
    ));

    PaymentSimulator::use_token(&sim, "issued-by-gateway");
    let notification =
        PaymentSimulator::notification_for(&sim, "H-1", Tamper::None).expect("built");
    let find = |name: &str| {
        let found = notification.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.clone()).unwrap_or_default()
    };
    assert_eq!(find("authorization"), "Bearer issued-by-gateway");
    let signed = format!(
        "POST:/v1/callbacks/astrapay/v1.0/debit/notify:issued-by-gateway:{}:{}",
        snap::body_hash(&notification.body),
        find("x-timestamp")
    );
    assert_eq!(
        find("x-signature"),
        snap::hmac_sha512_b64(NOTIFY_SECRET.as_bytes(), &signed)
    );
    let body: Value = serde_json::from_slice(&notification.body).expect("json");
    assert_eq!(body["latestTransactionStatus"], "06");
    assert_eq!(PaymentSimulator::op_name(&sim, PaymentOp::Create), "create");
    assert_eq!(PaymentSimulator::payments_for(&sim, "H-1"), 1);
    assert_eq!(PaymentSimulator::payments_for(&sim, "H-2"), 0);
}

#[test]
fn debug_output_hides_the_secrets() {
    let config = AstraPayConfig::new(CLIENT_ID, SECRET, NOTIFY_KEY, NOTIFY_SECRET);
    let shown = format!("{config:?} {:?}", AstraPaySimulator::new(config.clone()));
    assert!(!shown.contains(SECRET));
    assert!(!shown.contains(NOTIFY_SECRET));
    assert!(!shown.contains("PRIVATE KEY"));
}
