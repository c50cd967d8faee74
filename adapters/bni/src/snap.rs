//! SNAP BI mode (Part B): the VA number layout, the merchant → bank VA services (B.1,
//! B.5) and what their response codes mean per operation (B.6).
//!
//! Inquiry decision: `inquiry-va` (svc 30) tells whether the VA exists and whether it is
//! open, expired or deleted; only when it reports a `paymentDate` (or `404xx14` "Paid
//! Bill") is the payment status service (svc 26) asked for the payment view, and the VA
//! is reported paid only when that view says `paymentFlagStatus` `00` with a readable
//! `paidAmount`. Anything else stays [`ProviderVaState::Unknown`].

use std::time::Duration;

use adapter_snap::codec::{SnapAmount, TimestampStyle, format_timestamp, parse_timestamp};
use adapter_snap::{
    Answer, ClientConfig, InboundConfig, ResponseCode, ServiceCall, SnapClient, SnapInbound,
    TokenAnswer, error_kind,
};
use contracts::va::{
    CreateVa, IssuedVa, Numbering, PaymentRule, ProviderVaState, UpdateVa, VaHandle, VaStatusReport,
};
use contracts::{Customer, ErrorKind, ProviderError};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::config::{Bills, Config, ConfigError};

/// Service codes (B.1).
pub(crate) mod service {
    pub(crate) const INQUIRY: u8 = 24;
    pub(crate) const PAYMENT: u8 = 25;
    pub(crate) const STATUS: u8 = 26;
    pub(crate) const CREATE: u8 = 27;
    pub(crate) const UPDATE: u8 = 28;
    pub(crate) const INQUIRY_VA: u8 = 30;
    pub(crate) const DELETE: u8 = 31;
}

/// How our serials become SNAP's identity triple (B.5): `partnerServiceId` (digits,
/// space-padded to 8) + `customerNo` (the serial, zero-padded).
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// `partner_service_id` digits, unpadded.
    pub(crate) psid: String,
    /// `customerNo` digits.
    pub(crate) digits: u8,
}

/// The identity triple of one VA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Triple {
    pub(crate) partner_service_id: String,
    pub(crate) customer_no: String,
    pub(crate) virtual_account_no: String,
}

impl Layout {
    /// `customerNo` for `serial`, which must fit the configured digits.
    pub(crate) fn customer_no(&self, serial: u64) -> Option<String> {
        let text = format!("{serial:0width$}", width = usize::from(self.digits));
        (text.len() == usize::from(self.digits)).then_some(text)
    }

    /// The number customers pay to: `partner_service_id` + `customerNo`, no spaces.
    pub(crate) fn va_number(&self, customer_no: &str) -> String {
        format!("{}{customer_no}", self.psid)
    }

    /// The triple of `customer_no`.
    pub(crate) fn triple(&self, customer_no: &str) -> Triple {
        let partner_service_id = format!("{:>8}", self.psid);
        Triple {
            virtual_account_no: format!("{partner_service_id}{customer_no}"),
            partner_service_id,
            customer_no: customer_no.to_owned(),
        }
    }

    /// The `customerNo` inside one of our VA numbers (spaces tolerated).
    pub(crate) fn customer_no_of(&self, va_number: &str) -> Option<String> {
        let compact: String = va_number.chars().filter(|c| *c != ' ').collect();
        let customer_no = compact.strip_prefix(&self.psid)?;
        let ok = customer_no.len() == usize::from(self.digits)
            && customer_no.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| customer_no.to_owned())
    }
}

/// One BNI SNAP instance.
pub(crate) struct SnapBni {
    pub(crate) client: SnapClient,
    pub(crate) inbound: SnapInbound,
    pub(crate) layout: Layout,
    pub(crate) bills: Bills,
    pub(crate) bank: String,
    channel_id: String,
    service_prefix: String,
}

impl SnapBni {
    /// Builds the SNAP side of a validated `config`; parses the keys. No I/O.
    pub(crate) fn new(config: &Config, http: reqwest::Client) -> Result<SnapBni, ConfigError> {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        let secret =
            |value: &Option<SecretString>| value.clone().unwrap_or_else(|| SecretString::from(""));
        let client = SnapClient::new(
            ClientConfig {
                base_url: config.base_url.clone(),
                token_path: config.snap_token_path().to_owned(),
                client_key: text(&config.client_key),
                partner_id: text(&config.partner_id),
                client_secret: secret(&config.client_secret),
                private_key_pem: secret(&config.private_key),
                timestamp_style: config.timestamp_style.unwrap_or_default(),
                timeout: Duration::from_millis(config.timeout_ms),
            },
            http,
        )?;
        let inbound = SnapInbound::new(InboundConfig {
            client_key: text(&config.notify_client_key),
            partner_id: Some(text(&config.notify_client_key)),
            client_secret: secret(&config.notify_client_secret),
            provider_public_key_pem: text(&config.bank_public_key),
            auth: config.snap_notify_auth(),
            token_answer: TokenAnswer::Standard,
            token_ttl: Duration::from_secs(900),
            max_skew: Duration::from_secs(config.timestamp_window_secs.unsigned_abs()),
        })?;
        Ok(SnapBni {
            client,
            inbound,
            layout: Layout {
                psid: text(&config.partner_service_id),
                digits: config.snap_customer_no_digits(),
            },
            bills: config.bills.unwrap_or_default(),
            bank: config.bank.clone(),
            channel_id: config.snap_channel_id().to_owned(),
            service_prefix: config.snap_service_prefix().to_owned(),
        })
    }

    pub(crate) fn numbering(&self) -> Numbering {
        let digits = self.layout.digits;
        match self.bills {
            Bills::Bank => Numbering::Serial { digits },
            Bills::Gateway => Numbering::HostToHost { digits },
        }
    }

    pub(crate) fn va_number_for(&self, serial: u64) -> Option<String> {
        let customer_no = self.layout.customer_no(serial)?;
        Some(self.layout.va_number(&customer_no))
    }

    pub(crate) async fn create(&self, request: &CreateVa) -> Result<IssuedVa, ProviderError> {
        if request.rule != PaymentRule::Exact {
            return Err(ProviderError::new(
                ErrorKind::Rejected,
                "BNI SNAP VAs are offered as closed (exact amount) VAs only",
            ));
        }
        let serial = request.serial.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Rejected,
                "a BNI SNAP create needs the gateway-allocated serial",
            )
        })?;
        let customer_no = self.layout.customer_no(serial).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Rejected,
                format!("serial does not fit {} digits", self.layout.digits),
            )
        })?;
        let va_number = self.layout.va_number(&customer_no);
        if self.bills == Bills::Bank {
            let triple = self.layout.triple(&customer_no);
            let body = va_body(
                &triple,
                request.reference.as_str(),
                request.amount,
                &request.customer,
                request.expires_at,
            );
            let answer = self.send(Method::POST, "create-va", &body).await?;
            expect(&answer, service::CREATE, Op::Create)?;
            check_echo(&answer, request.reference.as_str())?;
        }
        Ok(IssuedVa::new(va_number, self.bank.clone(), None))
    }

    pub(crate) async fn update(&self, request: &UpdateVa) -> Result<(), ProviderError> {
        if self.bills == Bills::Gateway {
            return Ok(());
        }
        let handle = &request.handle;
        let triple = self.triple_of(handle)?;
        let body = va_body(
            &triple,
            handle.reference.as_str(),
            request.amount,
            &request.customer,
            request.expires_at,
        );
        let answer = self.send(Method::PUT, "update-va", &body).await?;
        expect(&answer, service::UPDATE, Op::Change)?;
        check_echo(&answer, handle.reference.as_str())
    }

    pub(crate) async fn cancel(&self, handle: &VaHandle) -> Result<(), ProviderError> {
        if self.bills == Bills::Gateway {
            return Ok(());
        }
        let triple = self.triple_of(handle)?;
        let mut body = identity(&triple);
        body.insert("trxId".to_owned(), json!(handle.reference.as_str()));
        body.insert("additionalInfo".to_owned(), json!({}));
        let answer = self
            .send(Method::DELETE, "delete-va", &Value::Object(body))
            .await?;
        expect(&answer, service::DELETE, Op::Change)?;
        check_echo(&answer, handle.reference.as_str())
    }

    pub(crate) async fn inquire(&self, handle: &VaHandle) -> Result<VaStatusReport, ProviderError> {
        if self.bills == Bills::Gateway {
            return Err(ProviderError::not_supported(
                "inquiry of a gateway-held (host-to-host) BNI SNAP VA",
            ));
        }
        let triple = self.triple_of(handle)?;
        let mut body = identity(&triple);
        body.insert("trxId".to_owned(), json!(handle.reference.as_str()));
        body.insert("additionalInfo".to_owned(), json!({}));
        let answer = self
            .send(Method::POST, "inquiry-va", &Value::Object(body))
            .await?;
        let code = answer.code;
        let mut report = match (code.http, code.case) {
            (200, _) if code.service == service::INQUIRY_VA => {
                check_echo(&answer, handle.reference.as_str())?;
                let data = &answer.body["virtualAccountData"];
                if has_text(&data["paymentDate"]) {
                    self.payment_view(&triple, code).await?
                } else {
                    open_state(data, code, OffsetDateTime::now_utc())
                }
            }
            (404, 14) => self.payment_view(&triple, code).await?,
            (404, 4) => VaStatusReport::new(ProviderVaState::Cancelled, code.to_string()),
            (404, 19) => VaStatusReport::new(ProviderVaState::Expired, code.to_string()),
            _ => {
                expect(&answer, service::INQUIRY_VA, Op::Read)?;
                return Err(unexpected(&answer));
            }
        };
        report.va_number = Some(self.layout.va_number(&triple.customer_no));
        report.bank = Some(self.bank.clone());
        Ok(report)
    }

    /// Asks the payment status service (svc 26) for the payment of a VA that
    /// `inquiry-va` says was paid; paid only on `paymentFlagStatus` `00`.
    async fn payment_view(
        &self,
        triple: &Triple,
        inquiry_code: ResponseCode,
    ) -> Result<VaStatusReport, ProviderError> {
        let mut body = identity(triple);
        body.insert("additionalInfo".to_owned(), json!({}));
        let answer = self
            .send(Method::POST, "status", &Value::Object(body))
            .await?;
        match expect(&answer, service::STATUS, Op::Read) {
            Ok(()) => Ok(paid_report(
                &answer.body["virtualAccountData"],
                inquiry_code,
            )),
            Err(err) if err.kind == ErrorKind::NotFound => Ok(VaStatusReport::new(
                ProviderVaState::Unknown,
                format!("{inquiry_code}/{}", answer.code),
            )),
            Err(err) => Err(err),
        }
    }

    fn triple_of(&self, handle: &VaHandle) -> Result<Triple, ProviderError> {
        let number = handle.va_number.as_deref().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Rejected,
                "BNI SNAP identifies a VA by its number (B.5), and the handle has none",
            )
        })?;
        let customer_no = self.layout.customer_no_of(number).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Rejected,
                "the VA number does not fit this instance's partner_service_id and digits",
            )
        })?;
        Ok(self.layout.triple(&customer_no))
    }

    async fn send(
        &self,
        method: Method,
        service: &str,
        body: &Value,
    ) -> Result<Answer, ProviderError> {
        let path = format!("{}/transfer-va/{service}", self.service_prefix);
        self.client
            .call(&ServiceCall {
                method,
                path: &path,
                channel_id: &self.channel_id,
                body,
                headers: &[],
            })
            .await
    }
}

/// The identity triple as JSON fields.
pub(crate) fn identity(triple: &Triple) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert(
        "partnerServiceId".to_owned(),
        json!(triple.partner_service_id),
    );
    body.insert("customerNo".to_owned(), json!(triple.customer_no));
    body.insert(
        "virtualAccountNo".to_owned(),
        json!(triple.virtual_account_no),
    );
    body
}

/// Create and update bodies (B.5): the triple, name, `trxId`, amount, closed type, expiry
/// in Jakarta time, and the payer's contacts when they have SNAP's shape.
fn va_body(
    triple: &Triple,
    reference: &str,
    amount: contracts::Amount,
    customer: &Customer,
    expires_at: OffsetDateTime,
) -> Value {
    let mut body = identity(triple);
    body.insert("virtualAccountName".to_owned(), json!(customer.name));
    if let Some(email) = customer.email.as_deref().filter(|e| e.contains('@')) {
        body.insert("virtualAccountEmail".to_owned(), json!(email));
    }
    if let Some(phone) = customer.phone.as_deref().and_then(snap_phone) {
        body.insert("virtualAccountPhone".to_owned(), json!(phone));
    }
    body.insert("trxId".to_owned(), json!(reference));
    body.insert("totalAmount".to_owned(), json!(SnapAmount::idr(amount)));
    body.insert("virtualAccountTrxType".to_owned(), json!("C"));
    body.insert(
        "expiredDate".to_owned(),
        json!(format_timestamp(expires_at, TimestampStyle::Jakarta)),
    );
    body.insert("additionalInfo".to_owned(), json!({}));
    Value::Object(body)
}

/// A phone as SNAP wants it, `62…` digits (B.4); `None` when it cannot be put so.
pub(crate) fn snap_phone(phone: &str) -> Option<String> {
    let digits: String = phone
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let digits = digits.strip_prefix('+').unwrap_or(&digits);
    let national = if let Some(rest) = digits.strip_prefix('0') {
        format!("62{rest}")
    } else {
        digits.to_owned()
    };
    let ok = national.starts_with("62")
        && (9..=30).contains(&national.len())
        && national.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(national)
}

/// What kind of call, since codes mean different things to each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Create,
    /// Update or delete of an existing VA.
    Change,
    /// Inquiry VA or payment status: a read changes nothing.
    Read,
}

/// Success of `service`, or the error the code means for `op` (B.6 on top of
/// [`error_kind`]): unknown VA (`404xx12`, `404xx01`) is `NotFound` except on create,
/// where `409xx01` is the duplicate; an indeterminate `500`/`504` is harmless on a read.
fn expect(answer: &Answer, service: u8, op: Op) -> Result<(), ProviderError> {
    let code = answer.code;
    if code.is_success() && code.service == service {
        return Ok(());
    }
    let kind = match (op, code.http, code.case) {
        (Op::Change | Op::Read, 404, 12) => ErrorKind::NotFound,
        (Op::Read, 500 | 504, _) => ErrorKind::Unavailable,
        _ if code.is_in_progress() => ErrorKind::Timeout,
        _ => error_kind(code).unwrap_or(ErrorKind::Protocol),
    };
    if kind != ErrorKind::NotFound {
        tracing::info!(code = %code, operation = ?op, "BNI SNAP refused");
    }
    Err(ProviderError::with_code(
        kind,
        code.to_string(),
        answer.message.clone(),
    ))
}

fn unexpected(answer: &Answer) -> ProviderError {
    ProviderError::with_code(
        ErrorKind::Protocol,
        answer.code.to_string(),
        "unexpected BNI SNAP answer",
    )
}

/// An answer's `virtualAccountData.trxId`, when present, must be ours.
fn check_echo(answer: &Answer, reference: &str) -> Result<(), ProviderError> {
    match answer.body["virtualAccountData"]["trxId"].as_str() {
        Some(trx_id) if !trx_id.is_empty() && trx_id != reference => Err(ProviderError::with_code(
            ErrorKind::Protocol,
            answer.code.to_string(),
            "BNI SNAP answered about another trxId",
        )),
        _ => Ok(()),
    }
}

fn has_text(value: &Value) -> bool {
    value.as_str().is_some_and(|text| !text.trim().is_empty())
}

/// An unpaid VA `inquiry-va` reports: open until its `expiredDate`.
fn open_state(data: &Value, code: ResponseCode, now: OffsetDateTime) -> VaStatusReport {
    let expired = data["expiredDate"]
        .as_str()
        .and_then(parse_timestamp)
        .is_some_and(|at| at <= now);
    let state = if expired {
        ProviderVaState::Expired
    } else {
        ProviderVaState::Active
    };
    VaStatusReport::new(state, code.to_string())
}

/// The payment view of svc 26: paid only with `paymentFlagStatus` `00` and a readable
/// `paidAmount`; anything else is unknown, never success.
fn paid_report(data: &Value, inquiry_code: ResponseCode) -> VaStatusReport {
    let flag = data["paymentFlagStatus"].as_str().unwrap_or("null");
    let paid = serde_json::from_value::<SnapAmount>(data["paidAmount"].clone())
        .ok()
        .and_then(|amount| amount.rupiah().ok())
        .filter(|amount| *amount > contracts::Amount::ZERO);
    let status = format!("{inquiry_code}/paymentFlagStatus:{flag}");
    let (Some(paid), "00") = (paid, flag) else {
        return VaStatusReport::new(ProviderVaState::Unknown, status);
    };
    let mut report = VaStatusReport::new(ProviderVaState::Paid, status);
    report.paid_amount = Some(paid);
    report.payment_reference = text_of(&data["referenceNo"]);
    report.paid_at = data["trxDateTime"]
        .as_str()
        .or(data["paymentDate"].as_str())
        .and_then(parse_timestamp);
    report
}

/// A string, or a number written as digits.
pub(crate) fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Number(n) if n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            psid: "8123".to_owned(),
            digits: 12,
        }
    }

    #[test]
    fn serials_become_the_identity_triple_and_back() {
        let layout = layout();
        let customer_no = layout.customer_no(1).expect("fits");
        assert_eq!(customer_no, "000000000001");
        assert_eq!(layout.va_number(&customer_no), "8123000000000001");
        let triple = layout.triple(&customer_no);
        assert_eq!(triple.partner_service_id, "    8123");
        assert_eq!(triple.virtual_account_no, "    8123000000000001");
        assert_eq!(
            layout.customer_no_of("8123000000000001").as_deref(),
            Some("000000000001")
        );
        assert_eq!(
            layout.customer_no_of("    8123000000000001").as_deref(),
            Some("000000000001")
        );
        assert_eq!(layout.customer_no_of("8124000000000001"), None);
        assert_eq!(layout.customer_no_of("812300000000001"), None);
        assert_eq!(
            layout.customer_no(999_999_999_999).as_deref(),
            Some("999999999999")
        );
        assert_eq!(layout.customer_no(1_000_000_000_000), None);
    }

    #[test]
    fn phones_are_sent_as_62_digits_or_not_at_all() {
        assert_eq!(snap_phone("081234567890").as_deref(), Some("6281234567890"));
        assert_eq!(
            snap_phone("+62 812-3456-7890").as_deref(),
            Some("6281234567890")
        );
        assert_eq!(
            snap_phone("6281234567890").as_deref(),
            Some("6281234567890")
        );
        assert_eq!(snap_phone("+1 555 0100"), None);
        assert_eq!(snap_phone("0812"), None);
        assert_eq!(snap_phone("08x234567890"), None);
    }

    #[test]
    fn the_payment_view_is_paid_only_with_flag_00_and_an_amount() {
        let code = ResponseCode::new(200, 30, 0);
        let paid = json!({"paymentFlagStatus": "00", "paidAmount": {"value": "150000.00", "currency": "IDR"},
            "referenceNo": 233171, "trxDateTime": "20240101T040000Z"});
        let report = paid_report(&paid, code);
        assert_eq!(report.state, ProviderVaState::Paid);
        assert_eq!(report.paid_amount, contracts::Amount::new(150_000).ok());
        assert_eq!(report.payment_reference.as_deref(), Some("233171"));
        assert_eq!(
            report.paid_at,
            Some(time::macros::datetime!(2024-01-01 04:00:00 UTC))
        );
        for data in [
            json!({"paymentFlagStatus": "01", "paidAmount": {"value": "150000.00", "currency": "IDR"}}),
            json!({"paymentFlagStatus": "02", "paidAmount": {"value": "150000.00", "currency": "IDR"}}),
            json!({"paymentFlagStatus": "00"}),
            json!({"paymentFlagStatus": "00", "paidAmount": {"value": "0.00", "currency": "IDR"}}),
            json!({}),
        ] {
            assert_eq!(
                paid_report(&data, code).state,
                ProviderVaState::Unknown,
                "{data}"
            );
        }
    }

    #[test]
    fn open_vas_expire_at_their_expired_date() {
        let code = ResponseCode::new(200, 30, 0);
        let now = time::macros::datetime!(2024-01-02 03:00:00 UTC);
        let before = json!({"expiredDate": "2024-01-02T09:59:59+07:00"});
        let after = json!({"expiredDate": "2024-01-02T10:00:01+07:00"});
        assert_eq!(
            open_state(&before, code, now).state,
            ProviderVaState::Expired
        );
        assert_eq!(open_state(&after, code, now).state, ProviderVaState::Active);
        assert_eq!(
            open_state(&json!({}), code, now).state,
            ProviderVaState::Active
        );
    }

    #[test]
    fn codes_mean_what_they_mean_for_each_operation() {
        let answer = |code: &str| Answer {
            http_status: 0,
            code: ResponseCode::parse(code).expect("code"),
            message: String::new(),
            body: Value::Null,
        };
        let cases = [
            ("2002700", service::CREATE, Op::Create, None),
            (
                "4092701",
                service::CREATE,
                Op::Create,
                Some(ErrorKind::Duplicate),
            ),
            (
                "5002700",
                service::CREATE,
                Op::Create,
                Some(ErrorKind::Timeout),
            ),
            (
                "2022700",
                service::CREATE,
                Op::Create,
                Some(ErrorKind::Timeout),
            ),
            (
                "4042812",
                service::UPDATE,
                Op::Change,
                Some(ErrorKind::NotFound),
            ),
            (
                "4042814",
                service::UPDATE,
                Op::Change,
                Some(ErrorKind::Conflict),
            ),
            (
                "4043112",
                service::DELETE,
                Op::Change,
                Some(ErrorKind::NotFound),
            ),
            (
                "4043012",
                service::INQUIRY_VA,
                Op::Read,
                Some(ErrorKind::NotFound),
            ),
            (
                "4043001",
                service::INQUIRY_VA,
                Op::Read,
                Some(ErrorKind::NotFound),
            ),
            (
                "5003001",
                service::INQUIRY_VA,
                Op::Read,
                Some(ErrorKind::Unavailable),
            ),
            (
                "4012701",
                service::CREATE,
                Op::Create,
                Some(ErrorKind::Unauthorized),
            ),
            (
                "2003000",
                service::CREATE,
                Op::Create,
                Some(ErrorKind::Protocol),
            ),
        ];
        for (code, service, op, kind) in cases {
            let result = expect(&answer(code), service, op);
            assert_eq!(result.as_ref().err().map(|e| e.kind), kind, "{code}");
            if let Err(err) = result {
                assert_eq!(err.provider_code.as_deref(), Some(code));
            }
        }
    }
}
