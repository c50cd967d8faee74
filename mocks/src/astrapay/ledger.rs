//! What the simulated AstraPay holds and the business rules of its six services: direct
//! debit payment, status and refund (provider notes 1.8), QRIS generate, query and refund
//! (1.9). Every operation takes the parsed request body and answers the SNAP JSON success
//! body or a [`Refusal`] carrying AstraPay's code (1.11).

use std::collections::{HashMap, HashSet};

use axum::http::StatusCode;
use rand::Rng;
use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::AstraPayConfig;
use super::qr::{self, QrBill};
use crate::callback::SimError;
use crate::snap;
use crate::wib;

/// Service codes (1.8, 1.9).
pub(crate) const DEBIT_PAYMENT: u8 = 54;
pub(crate) const DEBIT_STATUS: u8 = 55;
pub(crate) const DEBIT_REFUND: u8 = 58;
pub(crate) const QR_GENERATE: u8 = 47;
pub(crate) const QR_QUERY: u8 = 51;
pub(crate) const QR_REFUND: u8 = 78;

/// `validUpTo` of a debit payment: 3 to 15 minutes ahead, 15 by default (1.8). The bounds
/// allow [`VALIDITY_GRACE_SECS`] for the time a request spends on the wire.
const DEBIT_MIN_SECS: i64 = 3 * 60;
const DEBIT_MAX_SECS: i64 = 15 * 60;
/// `validityPeriod` of a QR bill: 4 hours by default, at most 24 (1.9).
const QR_DEFAULT_SECS: i64 = 4 * 60 * 60;
const QR_MAX_SECS: i64 = 24 * 60 * 60;
const VALIDITY_GRACE_SECS: i64 = 5;

/// SNAP caps merchant references at 64 characters.
const MAX_REFERENCE_LEN: usize = 64;

/// `2024-04-22T11:50:56.837811`: WIB without offset, microseconds (1.8 `refundTime`,
/// 1.9 `paidTime`).
const MICROS_NO_OFFSET: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]");
const YYMMDD: &[FormatItem<'static>] = format_description!("[year repr:last_two][month][day]");

/// A refused request: the HTTP status, service and case codes of its `responseCode`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    http: u16,
    service: u8,
    case: u8,
    message: String,
}

impl Refusal {
    pub(crate) fn new(http: u16, service: u8, case: u8, message: impl Into<String>) -> Self {
        Self {
            http,
            service,
            case,
            message: message.into(),
        }
    }

    fn missing(service: u8, field: &str) -> Self {
        Self::new(400, service, 2, format!("Invalid Mandatory Field {field}"))
    }

    fn format(service: u8, field: &str) -> Self {
        Self::new(400, service, 1, format!("Invalid Field Format {field}"))
    }

    fn not_found(service: u8) -> Self {
        Self::new(404, service, 1, "Transaction Not Found")
    }

    fn invalid_merchant(service: u8) -> Self {
        Self::new(404, service, 8, "Invalid Merchant")
    }

    /// The answer to send: `{responseCode, responseMessage}` with the code's HTTP status.
    pub(crate) fn answer(&self) -> (StatusCode, Value) {
        snap::error_answer(self.http, self.service, self.case, &self.message)
    }
}

/// The two kinds of payment AstraPay takes here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    /// Direct debit (push-to-pay) through `/merchant-service` (1.8).
    Debit,
    /// A dynamic QRIS bill through `/qris-service` (1.9).
    Qris,
}

/// `latestTransactionStatus` (1.8), shared by debit and QRIS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStatus {
    /// `00`: paid.
    Success,
    /// `01`: a debit payment just created.
    Initiated,
    /// `03`: a QR bill waiting to be paid.
    Pending,
    /// `04`: fully refunded.
    Refunded,
    /// `05`: cancelled or expired unpaid.
    Canceled,
    /// `06`: failed.
    Failed,
}

impl TransactionStatus {
    /// The two-digit `latestTransactionStatus`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Success => "00",
            Self::Initiated => "01",
            Self::Pending => "03",
            Self::Refunded => "04",
            Self::Canceled => "05",
            Self::Failed => "06",
        }
    }

    /// The QRIS `transactionStatusDesc` (1.9 bill statuses).
    pub fn description(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Initiated => "INITIATED",
            Self::Pending => "PENDING",
            Self::Refunded => "REFUND",
            Self::Canceled => "CANCELED",
            Self::Failed => "FAILED",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Success => "paid",
            Self::Initiated | Self::Pending => "pending",
            Self::Refunded => "refunded",
            Self::Canceled => "canceled",
            Self::Failed => "failed",
        }
    }
}

/// How a payment ended, as the acting methods decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Paid,
    Failed,
    Canceled,
}

/// A read-only snapshot of a payment, for tests and the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaymentView {
    /// Debit or QRIS.
    pub kind: PaymentKind,
    /// The merchant's `partnerReferenceNo`.
    pub partner_reference_no: String,
    /// AstraPay's `referenceNo`.
    pub reference_no: String,
    /// The charged amount, whole rupiah.
    pub amount: i64,
    /// Where it stands.
    pub status: TransactionStatus,
    /// The sum of its refunds, whole rupiah.
    pub refunded: i64,
    /// How many refunds it had.
    pub refund_count: usize,
    /// Debit: the webview URL.
    pub web_redirect_url: Option<String>,
    /// Debit with `paymentType` `IN_APP`: the app link.
    pub app_redirect_url: Option<String>,
    /// QRIS: the QR string.
    pub qr_content: Option<String>,
    /// When it stops being payable (`+07:00`).
    pub valid_until: String,
}

#[derive(Clone, Debug)]
struct Refund {
    partner_refund_no: String,
    refund_no: String,
    amount: i64,
    at: OffsetDateTime,
    reason: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct Payment {
    kind: PaymentKind,
    partner_reference_no: String,
    reference_no: String,
    amount: i64,
    valid_until: OffsetDateTime,
    web_redirect_url: Option<String>,
    app_redirect_url: Option<String>,
    qr_content: Option<String>,
    tip: String,
    finished: Option<(Outcome, OffsetDateTime)>,
    refunds: Vec<Refund>,
    /// The notification body of how it ended, kept so a resend is the same event.
    notification: Option<Value>,
}

impl Payment {
    fn status(&self, now: OffsetDateTime) -> TransactionStatus {
        match self.finished {
            Some((Outcome::Paid, _)) if self.refunded() >= self.amount => {
                TransactionStatus::Refunded
            }
            Some((Outcome::Paid, _)) => TransactionStatus::Success,
            Some((Outcome::Failed, _)) => TransactionStatus::Failed,
            Some((Outcome::Canceled, _)) => TransactionStatus::Canceled,
            None if now > self.valid_until => TransactionStatus::Canceled,
            None if self.kind == PaymentKind::Debit => TransactionStatus::Initiated,
            None => TransactionStatus::Pending,
        }
    }

    fn refunded(&self) -> i64 {
        self.refunds.iter().map(|r| r.amount).sum()
    }

    fn paid_at(&self) -> Option<OffsetDateTime> {
        match self.finished {
            Some((Outcome::Paid, at)) => Some(at),
            _ => None,
        }
    }

    pub(crate) fn kind(&self) -> PaymentKind {
        self.kind
    }

    pub(crate) fn notification(&self) -> Option<&Value> {
        self.notification.as_ref()
    }

    fn view(&self, now: OffsetDateTime) -> PaymentView {
        PaymentView {
            kind: self.kind,
            partner_reference_no: self.partner_reference_no.clone(),
            reference_no: self.reference_no.clone(),
            amount: self.amount,
            status: self.status(now),
            refunded: self.refunded(),
            refund_count: self.refunds.len(),
            web_redirect_url: self.web_redirect_url.clone(),
            app_redirect_url: self.app_redirect_url.clone(),
            qr_content: self.qr_content.clone(),
            valid_until: wib::iso(self.valid_until),
        }
    }

    /// `refundHistory[]` (1.8).
    fn refund_history(&self) -> Value {
        let history: Vec<Value> = self
            .refunds
            .iter()
            .map(|refund| {
                json!({
                    "refundNo": refund.refund_no,
                    "partnerReferenceNo": refund.partner_refund_no,
                    "refundAmount": snap::amount(refund.amount),
                    "refundStatus": "00",
                    "refundDate": wib::iso(refund.at),
                    "reason": refund.reason,
                })
            })
            .collect();
        Value::Array(history)
    }

    fn debit_status_answer(&self, now: OffsetDateTime) -> Value {
        let mut answer = json!({
            "responseCode": snap::response_code(200, DEBIT_STATUS, 0),
            "responseMessage": "Successful",
            "originalPartnerReferenceNo": self.partner_reference_no,
            "originalReferenceNo": self.reference_no,
            "serviceCode": DEBIT_PAYMENT.to_string(),
            "latestTransactionStatus": self.status(now).code(),
            "refundHistory": self.refund_history(),
            "transAmount": snap::amount(self.amount),
            "feeAmount": snap::amount(0),
        });
        if let (Some(at), Some(fields)) = (self.paid_at(), answer.as_object_mut()) {
            fields.insert("paidTime".to_owned(), json!(wib::iso(at)));
        }
        answer
    }

    fn qr_query_answer(
        &self,
        config: &AstraPayConfig,
        external_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Value {
        let status = self.status(now);
        let mut info = json!({ "tip": self.tip });
        let mut answer = json!({
            "responseCode": snap::response_code(200, QR_QUERY, 0),
            "responseMessage": "Successful",
            "originalReferenceNo": self.reference_no,
            "originalPartnerReferenceNo": self.partner_reference_no,
            "originalExternalId": external_id,
            "serviceCode": QR_GENERATE.to_string(),
            "latestTransactionStatus": status.code(),
            "transactionStatusDesc": status.description(),
            "amount": snap::amount(self.amount),
            "terminalId": config.qris_terminal_id,
        });
        let Some(fields) = answer.as_object_mut() else {
            return answer;
        };
        if let Some(at) = self.paid_at() {
            fields.insert("paidTime".to_owned(), json!(micros_no_offset(at)));
            if let Some(info) = info.as_object_mut() {
                info.insert("customerPan".to_owned(), json!(CUSTOMER_PAN));
                info.insert(
                    "customerReferenceNumber".to_owned(),
                    json!(self.reference_no),
                );
                info.insert("issuerName".to_owned(), json!(ISSUER_NNS));
            }
        }
        if !self.refunds.is_empty() {
            fields.insert("refundHistory".to_owned(), self.refund_history());
        }
        fields.insert("additionalInfo".to_owned(), info);
        answer
    }

    /// The notify body of 1.8 (debit) or 1.9 (QRIS) for the payment's end.
    fn notification_body(&self, config: &AstraPayConfig, at: OffsetDateTime) -> Value {
        let status = self.status(at);
        match self.kind {
            PaymentKind::Debit => json!({
                "originalPartnerReferenceNo": self.partner_reference_no,
                "originalReferenceNo": self.reference_no,
                "merchantId": config.merchant_id,
                "amount": snap::amount(self.amount),
                "latestTransactionStatus": status.code(),
                "finishedTime": wib::iso(at),
                "additionalInfo": {
                    "transAmount": snap::amount(self.amount),
                    "feeAmount": snap::amount(0),
                    "payMethod": "Balance",
                    "payOption": "AstraPay",
                },
            }),
            PaymentKind::Qris => json!({
                "originalReferenceNo": self.reference_no,
                "originalPartnerReferenceNo": self.partner_reference_no,
                "latestTransactionStatus": status.code(),
                "transactionStatusDesc": status.description(),
                "customerNumber": CUSTOMER_PAN,
                "destinationNumber": merchant_pan(config),
                "destinationAccountName": MERCHANT_NAME,
                "externalStoreId": config.qris_terminal_id,
                "amount": snap::amount(self.amount),
                "additionalInfo": {
                    "tip": self.tip,
                    "deviceId": config.qris_terminal_id,
                    "channel": "POS",
                    "gracePeriod": "0",
                    "terminalId": config.qris_terminal_id,
                    "userName": MERCHANT_NAME,
                    "merchantPan": merchant_pan(config),
                    "customerPan": CUSTOMER_PAN,
                    "issuerName": ISSUER_NNS,
                    "transactionId": format!("INV/QRM/{}/{}", yymmdd(at), random_code(11)),
                },
            }),
        }
    }
}

/// The name QR bills and QRIS notifications carry (tag 59, `destinationAccountName`).
const MERCHANT_NAME: &str = "GATEWAY SANDBOX MERCHANT";
/// The simulated payer's PAN (an AstraPay wallet, NNS 93600822); not a real person's.
const CUSTOMER_PAN: &str = "9360082200000000017";
/// The issuer's NNS code as `issuerName` carries it (1.9 example).
const ISSUER_NNS: &str = "93600822";

fn merchant_pan(config: &AstraPayConfig) -> String {
    format!("93600822{:0>10}", config.qris_merchant_id)
}

fn micros_no_offset(at: OffsetDateTime) -> String {
    // Formatting a valid date with a fixed, literal description cannot fail.
    at.to_offset(wib::OFFSET)
        .format(MICROS_NO_OFFSET)
        .unwrap_or_default()
}

fn yymmdd(at: OffsetDateTime) -> String {
    at.to_offset(wib::OFFSET).format(YYMMDD).unwrap_or_default()
}

/// `count` random upper-case letters and digits.
fn random_code(count: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..count)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

fn random_digits(count: usize) -> String {
    let mut rng = rand::rng();
    (0..count)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// A random version-4 UUID, as in `webRedirectUrl` (1.8).
fn uuid_v4() -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A request body's fields, read with the codes of one service: absent, `null` or empty
/// mandatory fields are `400xx02`, wrong types or formats `400xx01`.
pub(crate) struct Body<'a> {
    fields: &'a Map<String, Value>,
    service: u8,
}

impl<'a> Body<'a> {
    /// The body as a JSON object, else `400xx00 Bad Request`.
    pub(crate) fn parse(bytes: &[u8], service: u8) -> Result<Map<String, Value>, Refusal> {
        match serde_json::from_slice(bytes) {
            Ok(Value::Object(fields)) => Ok(fields),
            _ => Err(Refusal::new(400, service, 0, "Bad Request")),
        }
    }

    pub(crate) fn new(fields: &'a Map<String, Value>, service: u8) -> Self {
        Self { fields, service }
    }

    /// A string that must be there, possibly empty.
    fn present(&self, key: &str) -> Result<&'a str, Refusal> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Err(Refusal::missing(self.service, key)),
            Some(Value::String(text)) => Ok(text),
            Some(_) => Err(Refusal::format(self.service, key)),
        }
    }

    fn mandatory(&self, key: &str) -> Result<&'a str, Refusal> {
        match self.present(key)? {
            "" => Err(Refusal::missing(self.service, key)),
            text => Ok(text),
        }
    }

    fn optional(&self, key: &str) -> Result<Option<&'a str>, Refusal> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(Refusal::format(self.service, key)),
        }
    }

    /// A merchant reference: mandatory, at most 64 characters.
    fn reference(&self, key: &str) -> Result<&'a str, Refusal> {
        let text = self.mandatory(key)?;
        if text.chars().count() > MAX_REFERENCE_LEN {
            return Err(Refusal::format(self.service, key));
        }
        Ok(text)
    }

    /// A SNAP amount object (`{"value":"150000.00","currency":"IDR"}`), positive.
    fn amount(&self, key: &str) -> Result<i64, Refusal> {
        let value = match self.fields.get(key) {
            None | Some(Value::Null) => return Err(Refusal::missing(self.service, key)),
            Some(value) => value,
        };
        let rupiah = snap::parse_amount(value).ok_or_else(|| Refusal::format(self.service, key))?;
        if rupiah <= 0 {
            return Err(Refusal::new(404, self.service, 13, "Invalid Amount"));
        }
        Ok(rupiah)
    }

    /// `additionalInfo` as fields of the same service; absent reads as empty.
    fn additional_info(&self, required: bool) -> Result<Body<'a>, Refusal> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        match self.fields.get("additionalInfo") {
            Some(Value::Object(fields)) => Ok(Body::new(fields, self.service)),
            None | Some(Value::Null) if !required => {
                Ok(Body::new(EMPTY.get_or_init(Map::new), self.service))
            }
            None | Some(Value::Null) => Err(Refusal::missing(self.service, "additionalInfo")),
            Some(_) => Err(Refusal::format(self.service, "additionalInfo")),
        }
    }

    /// The service code of the payment asked about.
    fn service_code(&self, expected: u8) -> Result<(), Refusal> {
        if self.mandatory("serviceCode")? == expected.to_string() {
            Ok(())
        } else {
            Err(Refusal::format(self.service, "serviceCode"))
        }
    }
}

/// The operations of the six services, on a [`Ledger`].
pub(crate) type Operation =
    fn(&mut Ledger, &AstraPayConfig, &Body<'_>, OffsetDateTime) -> Result<Value, Refusal>;

/// Every payment, by `partnerReferenceNo` (one namespace for debit and QRIS), and the
/// request counters.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    payments: HashMap<String, Payment>,
    reference_nos: HashSet<String>,
    pub(crate) calls: HashMap<String, usize>,
}

impl Ledger {
    pub(crate) fn get(&self, partner_reference_no: &str) -> Option<&Payment> {
        self.payments.get(partner_reference_no)
    }

    pub(crate) fn view(
        &self,
        partner_reference_no: &str,
        now: OffsetDateTime,
    ) -> Option<PaymentView> {
        self.payments.get(partner_reference_no).map(|p| p.view(now))
    }

    pub(crate) fn views(&self, now: OffsetDateTime) -> Vec<PaymentView> {
        let mut views: Vec<PaymentView> = self.payments.values().map(|p| p.view(now)).collect();
        views.sort_by(|a, b| a.partner_reference_no.cmp(&b.partner_reference_no));
        views
    }

    fn find(
        &self,
        kind: PaymentKind,
        partner_reference_no: &str,
        reference_no: Option<&str>,
        service: u8,
    ) -> Result<&Payment, Refusal> {
        self.payments
            .get(partner_reference_no)
            .filter(|p| p.kind == kind)
            .filter(|p| reference_no.is_none_or(|r| r.is_empty() || r == p.reference_no))
            .ok_or_else(|| Refusal::not_found(service))
    }

    /// POST …/debit/payment-host-to-host (1.8).
    pub(crate) fn debit_payment(
        &mut self,
        config: &AstraPayConfig,
        body: &Body<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Refusal> {
        let svc = DEBIT_PAYMENT;
        let partner_reference_no = body.reference("partnerReferenceNo")?;
        let merchant = body.optional("merchantId")?;
        let amount = body.amount("amount")?;
        let info = body.additional_info(true)?;
        info.mandatory("description")?;
        let in_app = match info.optional("paymentType")? {
            None => false,
            Some("IN_APP") => true,
            Some(_) => return Err(Refusal::format(svc, "additionalInfo.paymentType")),
        };
        let valid_until = debit_valid_until(body.optional("validUpTo")?, now)?;
        if merchant.is_some_and(|m| m != config.merchant_id) {
            return Err(Refusal::invalid_merchant(svc));
        }
        if self.payments.contains_key(partner_reference_no) {
            return Err(Refusal::new(409, svc, 1, "Duplicate partnerReferenceNo"));
        }
        let reference_no = unique_reference(&mut self.reference_nos, || {
            format!("INV/PAC/ONP/{}/{}", yymmdd(now), random_code(11))
        });
        let id = uuid_v4();
        let base = config.public_base_url.trim_end_matches('/');
        let payment = Payment {
            kind: PaymentKind::Debit,
            partner_reference_no: partner_reference_no.to_owned(),
            reference_no,
            amount,
            valid_until,
            web_redirect_url: Some(format!("{base}/merchant-service/payments/{id}")),
            app_redirect_url: in_app.then(|| format!("astrapay://payment-channel/payment?id={id}")),
            qr_content: None,
            tip: "0.00".to_owned(),
            finished: None,
            refunds: Vec::new(),
            notification: None,
        };
        let mut answer = json!({
            "responseCode": snap::response_code(200, svc, 0),
            "responseMessage": "Successful",
            "partnerReferenceNo": payment.partner_reference_no,
            "referenceNo": payment.reference_no,
            "webRedirectUrl": payment.web_redirect_url,
        });
        if let (Some(app), Some(fields)) = (&payment.app_redirect_url, answer.as_object_mut()) {
            fields.insert("appRedirectUrl".to_owned(), json!(app));
        }
        self.payments
            .insert(partner_reference_no.to_owned(), payment);
        Ok(answer)
    }

    /// POST …/debit/status (1.8).
    pub(crate) fn debit_status(
        &mut self,
        _config: &AstraPayConfig,
        body: &Body<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Refusal> {
        let svc = DEBIT_STATUS;
        let partner_reference_no = body.mandatory("originalPartnerReferenceNo")?;
        let reference_no = body.optional("originalReferenceNo")?;
        body.service_code(DEBIT_PAYMENT)?;
        let amount = body.amount("amount")?;
        let payment = self.find(PaymentKind::Debit, partner_reference_no, reference_no, svc)?;
        if payment.amount != amount {
            return Err(Refusal::new(404, svc, 13, "Invalid Amount"));
        }
        Ok(payment.debit_status_answer(now))
    }

    /// POST …/debit/refund (1.8).
    pub(crate) fn debit_refund(
        &mut self,
        _config: &AstraPayConfig,
        body: &Body<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Refusal> {
        let svc = DEBIT_REFUND;
        let request = RefundAsked {
            partner_reference_no: body.mandatory("originalPartnerReferenceNo")?,
            reference_no: body.optional("originalReferenceNo")?,
            partner_refund_no: body.reference("partnerRefundNo")?,
            amount: body.amount("refundAmount")?,
            reason: body.optional("reason")?,
        };
        let (payment, refund) = self.refund(PaymentKind::Debit, &request, svc, now)?;
        Ok(json!({
            "responseCode": snap::response_code(200, svc, 0),
            "responseMessage": "Successful",
            "originalPartnerReferenceNo": payment.partner_reference_no,
            "originalReferenceNo": payment.reference_no,
            "refundNo": refund.refund_no,
            "partnerRefundNo": refund.partner_refund_no,
            "refundAmount": snap::amount(refund.amount),
            "refundTime": micros_no_offset(refund.at),
            "additionalInfo": {},
        }))
    }

    /// POST …/qr/qr-mpm-generate (1.9).
    pub(crate) fn qr_generate(
        &mut self,
        config: &AstraPayConfig,
        body: &Body<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Refusal> {
        let svc = QR_GENERATE;
        let partner_reference_no = body.reference("partnerReferenceNo")?;
        let amount = body.amount("amount")?;
        let merchant = body.mandatory("merchantId")?;
        if !merchant.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Refusal::format(svc, "merchantId"));
        }
        let terminal = body.mandatory("terminalId")?;
        let valid_until = qr_valid_until(body.optional("validityPeriod")?, now)?;
        let tip = body
            .additional_info(false)?
            .optional("tip")?
            .unwrap_or("0.00")
            .to_owned();
        if merchant != config.qris_merchant_id {
            return Err(Refusal::invalid_merchant(svc));
        }
        if terminal != config.qris_terminal_id {
            return Err(Refusal::new(404, svc, 17, "Invalid Terminal"));
        }
        if self.payments.contains_key(partner_reference_no) {
            return Err(Refusal::new(409, svc, 1, "Duplicate partnerReferenceNo"));
        }
        let reference_no = unique_reference(&mut self.reference_nos, || random_digits(10));
        let qr_content = qr::qr_content(&QrBill {
            merchant_id: &config.qris_merchant_id,
            terminal_id: &config.qris_terminal_id,
            merchant_name: MERCHANT_NAME,
            bill_number: &reference_no,
            amount,
        });
        let answer = json!({
            "responseCode": snap::response_code(200, svc, 0),
            "responseMessage": "Successful",
            "referenceNo": reference_no,
            "partnerReferenceNo": partner_reference_no,
            "qrContent": qr_content,
            "merchantName": MERCHANT_NAME,
            "terminalId": config.qris_terminal_id,
            "additionalInfo": { "tip": tip },
        });
        let payment = Payment {
            kind: PaymentKind::Qris,
            partner_reference_no: partner_reference_no.to_owned(),
            reference_no,
            amount,
            valid_until,
            web_redirect_url: None,
            app_redirect_url: None,
            qr_content: Some(qr_content),
            tip,
            finished: None,
            refunds: Vec::new(),
            notification: None,
        };
        self.payments
            .insert(partner_reference_no.to_owned(), payment);
        Ok(answer)
    }

    /// POST …/qr/qr-mpm-query (1.9). `originalReferenceNo` must be there but may be empty
    /// (then the bill is found by `originalPartnerReferenceNo` alone, as after a generate
    /// whose answer was lost).
    pub(crate) fn qr_query(
        &mut self,
        config: &AstraPayConfig,
        body: &Body<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Refusal> {
        let svc = QR_QUERY;
        let reference_no = body.present("originalReferenceNo")?;
        let partner_reference_no = body.mandatory("originalPartnerReferenceNo")?;
        let external_id = body.optional("originalExternalId")?;
        body.service_code(QR_GENERATE)?;
        if body.mandatory("merchantId")? != config.qris_merchant_id {
            return Err(Refusal::invalid_merchant(svc));
        }
        let payment = self.find(
            PaymentKind::Qris,
            partner_reference_no,
            Some(reference_no),
            svc,
        )?;
        Ok(payment.qr_query_answer(config, external_id, now))
    }

    /// POST …/qr/qr-mpm-refund (1.9).
    pub(crate) fn qr_refund(
        &mut self,
        config: &AstraPayConfig,
        body: &Body<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Refusal> {
        let svc = QR_REFUND;
        let merchant = body.mandatory("merchantId")?;
        let request = RefundAsked {
            partner_reference_no: body.mandatory("originalPartnerReferenceNo")?,
            reference_no: Some(body.present("originalReferenceNo")?),
            partner_refund_no: body.reference("partnerRefundNo")?,
            amount: body.amount("refundAmount")?,
            reason: Some(body.mandatory("reason")?),
        };
        if merchant != config.qris_merchant_id {
            return Err(Refusal::invalid_merchant(svc));
        }
        let (payment, refund) = self.refund(PaymentKind::Qris, &request, svc, now)?;
        Ok(json!({
            "responseCode": snap::response_code(200, svc, 0),
            "responseMessage": "Successful",
            "originalPartnerReferenceNo": payment.partner_reference_no,
            "originalReferenceNo": payment.reference_no,
            "partnerRefundNo": refund.partner_refund_no,
            "referenceNo": refund.refund_no,
            "refundAmount": snap::amount(refund.amount),
            "refundTime": wib::iso(refund.at),
        }))
    }

    /// The refund rules shared by debit and QRIS: only a paid payment (`404xx00`);
    /// cumulative refunds at most the amount (`403xx02`); the same `partnerRefundNo` again
    /// answers the same refund when it asks the same, `404xx18` when it does not.
    fn refund(
        &mut self,
        kind: PaymentKind,
        asked: &RefundAsked<'_>,
        svc: u8,
        now: OffsetDateTime,
    ) -> Result<(Payment, Refund), Refusal> {
        self.find(kind, asked.partner_reference_no, asked.reference_no, svc)?;
        let Ledger {
            payments,
            reference_nos,
            ..
        } = self;
        let payment = payments
            .get_mut(asked.partner_reference_no)
            .ok_or_else(|| Refusal::not_found(svc))?;
        if let Some(earlier) = payment
            .refunds
            .iter()
            .find(|r| r.partner_refund_no == asked.partner_refund_no)
        {
            if earlier.amount != asked.amount {
                return Err(Refusal::new(404, svc, 18, "Inconsistent Request"));
            }
            return Ok((payment.clone(), earlier.clone()));
        }
        if payment.status(now) != TransactionStatus::Success {
            return Err(Refusal::new(404, svc, 0, "Invalid Transaction Status"));
        }
        if payment.refunded() + asked.amount > payment.amount {
            return Err(Refusal::new(
                403,
                svc,
                2,
                "Exceeds Transaction Amount Limit",
            ));
        }
        let prefix = match kind {
            PaymentKind::Debit => "INV/REF/ONP",
            PaymentKind::Qris => "INV/REF/QRM",
        };
        let refund_no = unique_reference(reference_nos, || {
            format!("{prefix}/{}/{}", yymmdd(now), random_code(11))
        });
        let refund = Refund {
            partner_refund_no: asked.partner_refund_no.to_owned(),
            refund_no,
            amount: asked.amount,
            at: now,
            reason: asked.reason.map(str::to_owned),
        };
        payment.refunds.push(refund.clone());
        Ok((payment.clone(), refund))
    }

    /// Ends an unfinished, unexpired payment (an expired one may still be cancelled) and
    /// returns its kind and notification body.
    pub(crate) fn finish(
        &mut self,
        config: &AstraPayConfig,
        partner_reference_no: &str,
        outcome: Outcome,
        now: OffsetDateTime,
    ) -> Result<(PaymentKind, Value), SimError> {
        let payment = self
            .payments
            .get_mut(partner_reference_no)
            .ok_or_else(|| SimError::NotFound(partner_reference_no.to_owned()))?;
        let status = payment.status(now);
        let expired_unpaid = payment.finished.is_none() && status == TransactionStatus::Canceled;
        let open = payment.finished.is_none() && !expired_unpaid;
        if !(open || (expired_unpaid && outcome == Outcome::Canceled)) {
            return Err(SimError::NotPayable {
                reference: partner_reference_no.to_owned(),
                state: if expired_unpaid {
                    "expired"
                } else {
                    status.name()
                },
            });
        }
        payment.finished = Some((outcome, now));
        let body = payment.notification_body(config, now);
        payment.notification = Some(body.clone());
        Ok((payment.kind, body))
    }
}

/// A reference not in `used`, from `make`; recorded as used.
fn unique_reference(used: &mut HashSet<String>, make: impl Fn() -> String) -> String {
    loop {
        let candidate = make();
        if used.insert(candidate.clone()) {
            return candidate;
        }
    }
}

/// A refund request, either service.
struct RefundAsked<'a> {
    partner_reference_no: &'a str,
    reference_no: Option<&'a str>,
    partner_refund_no: &'a str,
    amount: i64,
    reason: Option<&'a str>,
}

/// `validUpTo`: ISO-8601 with an offset (`400xx01` otherwise), 3 to 15 minutes ahead
/// (`4035415` otherwise); 15 minutes when absent.
fn debit_valid_until(text: Option<&str>, now: OffsetDateTime) -> Result<OffsetDateTime, Refusal> {
    let Some(text) = text else {
        return Ok(now + time::Duration::seconds(DEBIT_MAX_SECS));
    };
    let at = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| Refusal::format(DEBIT_PAYMENT, "validUpTo"))?;
    let ahead = (at - now).whole_seconds();
    let in_range = (DEBIT_MIN_SECS - VALIDITY_GRACE_SECS..=DEBIT_MAX_SECS + VALIDITY_GRACE_SECS)
        .contains(&ahead);
    if !in_range {
        return Err(Refusal::new(
            403,
            DEBIT_PAYMENT,
            15,
            "validUpTo out of range",
        ));
    }
    Ok(at)
}

/// `validityPeriod`: with or without offset (none = WIB), in the future and at most 24
/// hours ahead (`4004701` otherwise); 4 hours when absent.
fn qr_valid_until(text: Option<&str>, now: OffsetDateTime) -> Result<OffsetDateTime, Refusal> {
    let Some(text) = text else {
        return Ok(now + time::Duration::seconds(QR_DEFAULT_SECS));
    };
    let at = snap::parse_timestamp(text)
        .ok_or_else(|| Refusal::format(QR_GENERATE, "validityPeriod"))?;
    let ahead = (at - now).whole_seconds();
    if ahead <= 0 || ahead > QR_MAX_SECS + VALIDITY_GRACE_SECS {
        return Err(Refusal::format(QR_GENERATE, "validityPeriod"));
    }
    Ok(at)
}
