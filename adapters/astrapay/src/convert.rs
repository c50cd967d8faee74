//! contracts ⇄ wire: request bodies, expiry clamping, the `latestTransactionStatus` table,
//! and answers back into contracts values.

use adapter_snap::codec::{SnapAmount, TimestampStyle, format_timestamp, parse_timestamp};
use contracts::payment::{
    CreatePayment, PaymentAction, PaymentHandle, PaymentStatusReport, ProviderPaymentState,
    RefundOutcome, RefundRequest, RefundState, StartedPayment,
};
use contracts::{Amount, ProviderError, ProviderReference};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime};

use crate::config::{Config, Qris};
use crate::error::{Operation, malformed};
use crate::wire::{
    AmountField, DebitPayment, DebitPaymentAnswer, DebitPaymentInfo, DebitRefund, DebitStatus,
    PAYMENT_TYPE_IN_APP, PaymentView, QrGenerate, QrGenerateAnswer, QrQuery, QrRefund,
    RefundAnswer, RefundHistory, SERVICE_CODE_DEBIT_PAYMENT, SERVICE_CODE_QR_GENERATE, Tip,
};

/// The unified-API name of AstraPay direct debit.
pub(crate) const METHOD_DEBIT: &str = "astrapay";
/// The unified-API name of QRIS.
pub(crate) const METHOD_QRIS: &str = "qris";

/// `validUpTo` of a direct debit: at least 3 and at most 15 minutes ahead (1.8).
const DEBIT_MIN_VALIDITY: Duration = Duration::minutes(3);
const DEBIT_MAX_VALIDITY: Duration = Duration::minutes(15);
/// `validityPeriod` of a QR bill: at most 24 hours ahead (1.9). The doc states no minimum;
/// a bill that expires before anyone can scan it is useless, so it lives at least a minute.
const QR_MIN_VALIDITY: Duration = Duration::minutes(1);
const QR_MAX_VALIDITY: Duration = Duration::hours(24);

/// Asia/Jakarta (WIB), the zone of AstraPay's offset-less times.
const JAKARTA: time::UtcOffset = time::macros::offset!(+7);

/// `2022-10-17T20:00:00`: Jakarta wall-clock time without an offset (1.9 example).
const LOCAL_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");

/// The two payment methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    /// Push-to-pay direct debit (1.8).
    Debit,
    /// QRIS MPM (1.9).
    Qris,
}

impl Method {
    /// The method named `name`, when this instance offers it.
    pub(crate) fn parse(name: &str, qris_enabled: bool) -> Result<Method, ProviderError> {
        match name {
            METHOD_DEBIT => Ok(Method::Debit),
            METHOD_QRIS if qris_enabled => Ok(Method::Qris),
            _ => Err(ProviderError::not_supported(&format!(
                "payment method {name:?}"
            ))),
        }
    }
}

/// `t` cut to whole seconds.
fn floor_second(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// `t` raised to the next whole second, unless it is one.
fn ceil_second(t: OffsetDateTime) -> OffsetDateTime {
    let floor = floor_second(t);
    if floor == t {
        t
    } else {
        floor + Duration::SECOND
    }
}

/// `expires_at` clamped into `[now + min, now + max]`, whole seconds, never past either bound.
fn clamp(
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
    min: Duration,
    max: Duration,
) -> OffsetDateTime {
    let earliest = ceil_second(now + min);
    let latest = floor_second(now + max);
    floor_second(expires_at).clamp(earliest, latest)
}

/// The direct debit's `validUpTo` for `expires_at`: within 3–15 minutes of `now` (1.8).
pub(crate) fn debit_valid_up_to(expires_at: OffsetDateTime, now: OffsetDateTime) -> OffsetDateTime {
    clamp(expires_at, now, DEBIT_MIN_VALIDITY, DEBIT_MAX_VALIDITY)
}

/// The QR bill's `validityPeriod` for `expires_at`: at most 24 hours from `now` (1.9).
pub(crate) fn qr_validity(expires_at: OffsetDateTime, now: OffsetDateTime) -> OffsetDateTime {
    clamp(expires_at, now, QR_MIN_VALIDITY, QR_MAX_VALIDITY)
}

/// Jakarta local time without an offset, as `validityPeriod` is written.
pub(crate) fn jakarta_local(at: OffsetDateTime) -> String {
    at.to_offset(JAKARTA)
        .format(LOCAL_FORMAT)
        .unwrap_or_else(|_| format_timestamp(at, TimestampStyle::Jakarta))
}

/// The direct-debit payment body (service 54).
pub(crate) fn debit_payment(
    config: &Config,
    request: &CreatePayment,
    valid_up_to: OffsetDateTime,
) -> DebitPayment {
    // `description` is mandatory (1.8); the product's text, else our reference.
    let description = request
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(request.reference.as_str())
        .to_owned();
    DebitPayment {
        partner_reference_no: request.reference.as_str().to_owned(),
        merchant_id: config.merchant_id.clone(),
        valid_up_to: format_timestamp(valid_up_to, TimestampStyle::Jakarta),
        amount: SnapAmount::idr(request.amount),
        additional_info: DebitPaymentInfo {
            description,
            payment_type: config.in_app.then_some(PAYMENT_TYPE_IN_APP),
        },
    }
}

/// The started payment out of a `2005400` answer. With `in_app`, the app deeplink wins
/// when AstraPay sent one; otherwise the web page where the payer confirms by PIN.
pub(crate) fn started_debit(
    answer: DebitPaymentAnswer,
    request: &CreatePayment,
    in_app: bool,
    valid_up_to: OffsetDateTime,
) -> Result<StartedPayment, ProviderError> {
    let op = Operation::DebitPayment;
    check_echo(op, answer.partner_reference_no.as_deref(), request)?;
    let web = non_empty(answer.web_redirect_url);
    let app = non_empty(answer.app_redirect_url);
    let action = match (web, app) {
        (_, Some(url)) if in_app => PaymentAction::Deeplink { url },
        (Some(url), _) => PaymentAction::Redirect { url },
        (None, Some(url)) => PaymentAction::Deeplink { url },
        (None, None) => return Err(malformed(op, "no webRedirectUrl or appRedirectUrl")),
    };
    Ok(StartedPayment::new(
        non_empty(answer.reference_no).map(ProviderReference),
        action,
    )
    .with_expires_at(Some(valid_up_to)))
}

/// The QR generate body (service 47).
pub(crate) fn qr_generate(
    qris: &Qris,
    request: &CreatePayment,
    validity: OffsetDateTime,
) -> QrGenerate {
    QrGenerate {
        partner_reference_no: request.reference.as_str().to_owned(),
        amount: SnapAmount::idr(request.amount),
        merchant_id: qris.merchant_id.clone(),
        terminal_id: qris.terminal_id.clone(),
        validity_period: jakarta_local(validity),
        additional_info: Tip::none(),
    }
}

/// The started payment out of a `2004700` answer: the QRIS string to show.
pub(crate) fn started_qr(
    answer: QrGenerateAnswer,
    request: &CreatePayment,
    validity: OffsetDateTime,
) -> Result<StartedPayment, ProviderError> {
    let op = Operation::QrGenerate;
    check_echo(op, answer.partner_reference_no.as_deref(), request)?;
    let qr_string = non_empty(answer.qr_content).ok_or_else(|| malformed(op, "no qrContent"))?;
    Ok(StartedPayment::new(
        non_empty(answer.reference_no).map(ProviderReference),
        PaymentAction::Qr { qr_string },
    )
    .with_expires_at(Some(validity)))
}

/// An answer naming another `partnerReferenceNo` is not about our payment.
fn check_echo(
    op: Operation,
    echo: Option<&str>,
    request: &CreatePayment,
) -> Result<(), ProviderError> {
    match echo {
        Some(echo) if !echo.is_empty() && echo != request.reference.as_str() => {
            Err(malformed(op, "partnerReferenceNo is not ours"))
        }
        _ => Ok(()),
    }
}

/// The debit status body (service 55).
pub(crate) fn debit_status(handle: &PaymentHandle) -> DebitStatus {
    DebitStatus {
        original_partner_reference_no: handle.reference.as_str().to_owned(),
        original_reference_no: provider_reference_or_empty(handle),
        service_code: SERVICE_CODE_DEBIT_PAYMENT,
        amount: SnapAmount::idr(handle.amount),
    }
}

/// The QR query body (service 51). `originalReferenceNo` is mandatory; when the generate
/// answer was never read it is sent empty and AstraPay finds the bill by our reference.
pub(crate) fn qr_query(qris: &Qris, handle: &PaymentHandle) -> QrQuery {
    QrQuery {
        original_reference_no: provider_reference_or_empty(handle),
        original_partner_reference_no: handle.reference.as_str().to_owned(),
        service_code: SERVICE_CODE_QR_GENERATE,
        merchant_id: qris.merchant_id.clone(),
        additional_info: Tip::none(),
    }
}

fn provider_reference_or_empty(handle: &PaymentHandle) -> String {
    handle
        .provider_reference
        .as_ref()
        .map(|r| r.as_str().to_owned())
        .unwrap_or_default()
}

/// `latestTransactionStatus` (1.8 table, shared by debit status and notify, QRIS query
/// and notify) as a payment state:
///
/// | code | AstraPay says | state |
/// |---|---|---|
/// | `00` | Success | Paid; in a status answer whose `refundHistory` holds successful refunds, PartiallyRefunded (or Refunded when they sum to the charge) |
/// | `01` | Initiated | Pending |
/// | `02` | Paying | Pending |
/// | `03` | Pending | Pending |
/// | `04` | Refunded | Refunded; PartiallyRefunded when the successful refunds sum below the charged amount |
/// | `05` | Canceled | QRIS: Expired (CANCELED is the expired bill, 1.9); debit: Failed (the payer cancelled) |
/// | `06` | Failed | Failed |
/// | `07` | Not found | Unknown |
/// | anything else | — | Unknown: never final |
pub(crate) fn payment_state(
    code: &str,
    method: Method,
    partly_refunded: bool,
) -> ProviderPaymentState {
    match (code, method) {
        ("00", _) => ProviderPaymentState::Paid,
        ("01" | "02" | "03", _) => ProviderPaymentState::Pending,
        ("04", _) if partly_refunded => ProviderPaymentState::PartiallyRefunded,
        ("04", _) => ProviderPaymentState::Refunded,
        ("05", Method::Qris) => ProviderPaymentState::Expired,
        ("05", Method::Debit) => ProviderPaymentState::Failed,
        ("06", _) => ProviderPaymentState::Failed,
        _ => ProviderPaymentState::Unknown,
    }
}

/// Whether money was taken: then the amount and time are the payment's.
fn was_paid(state: ProviderPaymentState) -> bool {
    matches!(
        state,
        ProviderPaymentState::Paid
            | ProviderPaymentState::Refunded
            | ProviderPaymentState::PartiallyRefunded
    )
}

/// A status answer (`2005500` / `2005100`) as a report about `handle`.
pub(crate) fn status_report(
    op: Operation,
    method: Method,
    view: PaymentView,
    handle: &PaymentHandle,
) -> Result<PaymentStatusReport, ProviderError> {
    if let Some(echo) = view.original_partner_reference_no.as_deref()
        && !echo.is_empty()
        && echo != handle.reference.as_str()
    {
        return Err(malformed(op, "originalPartnerReferenceNo is not ours"));
    }
    let code = view
        .latest_transaction_status
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| malformed(op, "no latestTransactionStatus"))?;
    let charged = charged_amount(&view).map_err(|what| malformed(op, what))?;
    let refunded =
        refunded_amount(view.refund_history.as_deref()).map_err(|what| malformed(op, what))?;
    let partly = matches!((refunded, charged), (Some(r), Some(c)) if r < c);
    // A paid payment with successful refunds in its history has been refunded in part (or
    // in whole), even while AstraPay still reports `00`.
    let state = match (payment_state(&code, method, partly), refunded) {
        (ProviderPaymentState::Paid, Some(r)) if r.rupiah() > 0 && partly => {
            ProviderPaymentState::PartiallyRefunded
        }
        (ProviderPaymentState::Paid, Some(r)) if r.rupiah() > 0 => ProviderPaymentState::Refunded,
        (state, _) => state,
    };
    let mut report = PaymentStatusReport::new(state, code);
    if was_paid(state) {
        report.paid_amount = charged;
        report.paid_at = view.paid_time.as_deref().and_then(parse_timestamp);
    }
    report.refunded_amount = refunded;
    report.provider_reference = non_empty(view.original_reference_no)
        .map(ProviderReference)
        .or_else(|| handle.provider_reference.clone());
    Ok(report)
}

/// What was charged: `transAmount` (debit status), else `amount`.
pub(crate) fn charged_amount(view: &PaymentView) -> Result<Option<Amount>, &'static str> {
    match (&view.trans_amount, &view.amount) {
        (Some(field), _) => amount_of(field).map(Some),
        (None, Some(amount)) => amount
            .rupiah()
            .map(Some)
            .map_err(|_| "amount is not whole rupiah"),
        (None, None) => Ok(None),
    }
}

/// The sum of the successful `refundHistory` entries, `None` when there are none.
fn refunded_amount(history: Option<&[RefundHistory]>) -> Result<Option<Amount>, &'static str> {
    let mut total = Amount::ZERO;
    for entry in history.unwrap_or_default() {
        if !refund_succeeded(entry.refund_status.as_deref()) {
            continue;
        }
        let amount = entry
            .refund_amount
            .as_ref()
            .ok_or("a successful refund without refundAmount")?;
        total = total.saturating_add(amount_of(amount)?);
    }
    Ok((total > Amount::ZERO).then_some(total))
}

/// Whether a `refundStatus` reports a completed refund. The doc names the field but not
/// its values; these are the spellings SNAP services use for success. Anything else
/// (in process, failed, unknown) is not counted as refunded.
fn refund_succeeded(status: Option<&str>) -> bool {
    status.is_some_and(|s| {
        ["00", "SUCCESS", "SUCCESSFUL", "SUCCEEDED"]
            .iter()
            .any(|ok| s.trim().eq_ignore_ascii_case(ok))
    })
}

fn amount_of(field: &AmountField) -> Result<Amount, &'static str> {
    match field {
        AmountField::Object(amount) => amount.rupiah().map_err(|_| "amount is not whole rupiah"),
        AmountField::Text(text) => {
            Amount::parse_decimal(text).map_err(|_| "amount is not whole rupiah")
        }
    }
}

/// The debit refund body (service 58).
pub(crate) fn debit_refund(request: &RefundRequest) -> DebitRefund {
    DebitRefund {
        original_partner_reference_no: request.payment.reference.as_str().to_owned(),
        original_reference_no: request
            .payment
            .provider_reference
            .as_ref()
            .map(|r| r.as_str().to_owned()),
        partner_refund_no: request.reference.as_str().to_owned(),
        refund_amount: SnapAmount::idr(request.amount),
        reason: Some(request.reason.trim().to_owned()).filter(|r| !r.is_empty()),
    }
}

/// The QRIS refund body (service 78); `reason` is mandatory there (1.9).
pub(crate) fn qr_refund(
    qris: &Qris,
    request: &RefundRequest,
    original_reference_no: String,
) -> QrRefund {
    let reason = request.reason.trim();
    QrRefund {
        merchant_id: qris.merchant_id.clone(),
        original_partner_reference_no: request.payment.reference.as_str().to_owned(),
        original_reference_no,
        partner_refund_no: request.reference.as_str().to_owned(),
        refund_amount: SnapAmount::idr(request.amount),
        reason: if reason.is_empty() { "Refund" } else { reason }.to_owned(),
    }
}

/// A refund answer: `200` done, `202` still in process (`2025800`).
pub(crate) fn refund_outcome(in_progress: bool, answer: RefundAnswer) -> RefundOutcome {
    let state = if in_progress {
        RefundState::Pending
    } else {
        RefundState::Succeeded
    };
    let reference = non_empty(answer.refund_no).or_else(|| non_empty(answer.reference_no));
    RefundOutcome::new(state, reference.map(ProviderReference))
}

pub(crate) fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::{Customer, OurReference};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2024-01-01 03:00:00.250 UTC);

    fn amount(rupiah: i64) -> Amount {
        Amount::new(rupiah).expect("amount")
    }

    fn create(method: &str, expires_at: OffsetDateTime) -> CreatePayment {
        CreatePayment::new(
            OurReference("pay_01".to_owned()),
            amount(150_000),
            method,
            Customer {
                name: "Budi".to_owned(),
                phone: None,
                email: None,
            },
            None,
            expires_at,
        )
    }

    fn handle(method: &str) -> PaymentHandle {
        PaymentHandle::new(
            OurReference("pay_01".to_owned()),
            Some(ProviderReference("INV/PAC/ONP/1".to_owned())),
            method,
            amount(150_000),
        )
    }

    #[test]
    fn valid_up_to_is_clamped_into_three_to_fifteen_minutes() {
        let cases = [
            (NOW + Duration::hours(2), datetime!(2024-01-01 03:15:00 UTC)),
            (
                NOW + Duration::minutes(10),
                datetime!(2024-01-01 03:10:00 UTC),
            ),
            (
                NOW + Duration::minutes(1),
                datetime!(2024-01-01 03:03:01 UTC),
            ),
            (NOW - Duration::hours(1), datetime!(2024-01-01 03:03:01 UTC)),
        ];
        for (expires_at, expected) in cases {
            let clamped = debit_valid_up_to(expires_at, NOW);
            assert_eq!(clamped, expected, "{expires_at}");
            assert!(clamped - NOW >= DEBIT_MIN_VALIDITY);
            assert!(clamped - NOW <= DEBIT_MAX_VALIDITY);
        }
        assert_eq!(
            format_timestamp(
                debit_valid_up_to(NOW + Duration::hours(2), NOW),
                TimestampStyle::Jakarta
            ),
            "2024-01-01T10:15:00+07:00"
        );
    }

    #[test]
    fn qr_validity_is_at_most_a_day_in_jakarta_time_without_offset() {
        let far = qr_validity(NOW + Duration::days(3), NOW);
        assert_eq!(far, datetime!(2024-01-02 03:00:00 UTC));
        assert_eq!(jakarta_local(far), "2024-01-02T10:00:00");
        let near = qr_validity(NOW + Duration::hours(4), NOW);
        assert_eq!(jakarta_local(near), "2024-01-01T14:00:00");
        let past = qr_validity(NOW - Duration::hours(1), NOW);
        assert_eq!(past, datetime!(2024-01-01 03:01:01 UTC));
    }

    #[test]
    fn only_offered_methods_parse() {
        assert_eq!(Method::parse("astrapay", false), Ok(Method::Debit));
        assert_eq!(Method::parse("qris", true), Ok(Method::Qris));
        let err = Method::parse("qris", false).expect_err("not configured");
        assert_eq!(err.kind, contracts::ErrorKind::NotSupported);
        assert!(Method::parse("ovo", true).is_err());
    }

    #[test]
    fn the_status_table_maps_every_code() {
        use ProviderPaymentState::{
            Expired, Failed, Paid, PartiallyRefunded, Pending, Refunded, Unknown,
        };
        let table = [
            ("00", Paid, Paid),
            ("01", Pending, Pending),
            ("02", Pending, Pending),
            ("03", Pending, Pending),
            ("04", Refunded, Refunded),
            ("05", Failed, Expired),
            ("06", Failed, Failed),
            ("07", Unknown, Unknown),
            ("08", Unknown, Unknown),
            ("0", Unknown, Unknown),
            ("SUCCESS", Unknown, Unknown),
            ("", Unknown, Unknown),
        ];
        for (code, debit, qris) in table {
            assert_eq!(
                payment_state(code, Method::Debit, false),
                debit,
                "debit {code}"
            );
            assert_eq!(
                payment_state(code, Method::Qris, false),
                qris,
                "qris {code}"
            );
        }
        assert_eq!(payment_state("04", Method::Debit, true), PartiallyRefunded);
        assert_eq!(payment_state("00", Method::Debit, true), Paid);
    }

    fn view(json: serde_json::Value) -> PaymentView {
        serde_json::from_value(json).expect("view")
    }

    #[test]
    fn a_paid_debit_reports_amount_time_and_reference() {
        let answer = view(serde_json::json!({
            "originalPartnerReferenceNo": "pay_01",
            "originalReferenceNo": "INV/PAC/ONP/230223/26PIVDJFNW0",
            "serviceCode": "54",
            "latestTransactionStatus": "00",
            "refundHistory": [],
            "transAmount": {"value": "150000.00", "currency": "IDR"},
            "feeAmount": {"value": "0.00", "currency": "IDR"},
            "paidTime": "2024-04-22T11:50:56.837811",
        }));
        let report = status_report(
            Operation::DebitStatus,
            Method::Debit,
            answer,
            &handle("astrapay"),
        )
        .expect("report");
        assert_eq!(report.state, ProviderPaymentState::Paid);
        assert_eq!(report.paid_amount, Some(amount(150_000)));
        assert_eq!(
            report.paid_at,
            Some(datetime!(2024-04-22 11:50:56.837811 +7))
        );
        assert_eq!(report.refunded_amount, None);
        assert_eq!(
            report.provider_reference,
            Some(ProviderReference(
                "INV/PAC/ONP/230223/26PIVDJFNW0".to_owned()
            ))
        );
        assert_eq!(report.provider_status, "00");
    }

    #[test]
    fn refunds_below_the_charged_amount_are_a_partial_refund() {
        let history = |second: &str| {
            view(serde_json::json!({
                "originalPartnerReferenceNo": "pay_01",
                "latestTransactionStatus": "04",
                "transAmount": {"value": "150000.00", "currency": "IDR"},
                "refundHistory": [
                    {"refundNo": "INV/REF/1", "refundAmount": {"value": "50000.00", "currency": "IDR"}, "refundStatus": "SUCCESS"},
                    {"refundNo": "INV/REF/2", "refundAmount": {"value": "100000.00", "currency": "IDR"}, "refundStatus": second},
                    {"refundNo": "INV/REF/3", "refundAmount": {"value": "1.00", "currency": "IDR"}, "refundStatus": "FAILED"},
                ],
            }))
        };
        let partial = status_report(
            Operation::DebitStatus,
            Method::Debit,
            history("PENDING"),
            &handle("astrapay"),
        )
        .expect("report");
        assert_eq!(partial.state, ProviderPaymentState::PartiallyRefunded);
        assert_eq!(partial.refunded_amount, Some(amount(50_000)));
        assert_eq!(partial.paid_amount, Some(amount(150_000)));

        let full = status_report(
            Operation::DebitStatus,
            Method::Debit,
            history("success"),
            &handle("astrapay"),
        )
        .expect("report");
        assert_eq!(full.state, ProviderPaymentState::Refunded);
        assert_eq!(full.refunded_amount, Some(amount(150_000)));
    }

    #[test]
    fn a_paid_status_with_refunds_in_its_history_is_a_refund() {
        let status = |refunded: &str| {
            view(serde_json::json!({
                "originalPartnerReferenceNo": "pay_01",
                "latestTransactionStatus": "00",
                "transAmount": {"value": "150000.00", "currency": "IDR"},
                "refundHistory": [
                    {"refundNo": "INV/REF/1", "refundAmount": {"value": refunded, "currency": "IDR"}, "refundStatus": "SUCCESS"},
                ],
            }))
        };
        let state = |refunded: &str| {
            status_report(
                Operation::DebitStatus,
                Method::Debit,
                status(refunded),
                &handle("astrapay"),
            )
            .expect("report")
            .state
        };
        assert_eq!(state("30000.00"), ProviderPaymentState::PartiallyRefunded);
        assert_eq!(state("150000.00"), ProviderPaymentState::Refunded);
    }

    #[test]
    fn unknown_or_missing_statuses_are_never_final_or_are_refused() {
        let unknown = view(serde_json::json!({"latestTransactionStatus": "99"}));
        let report = status_report(Operation::QrQuery, Method::Qris, unknown, &handle("qris"))
            .expect("report");
        assert_eq!(report.state, ProviderPaymentState::Unknown);
        assert_eq!(report.paid_amount, None);
        // Keeps the reference it knew.
        assert_eq!(report.provider_reference, handle("qris").provider_reference);

        let missing = view(serde_json::json!({"originalPartnerReferenceNo": "pay_01"}));
        let err = status_report(Operation::QrQuery, Method::Qris, missing, &handle("qris"))
            .expect_err("no status");
        assert_eq!(err.kind, contracts::ErrorKind::Protocol);

        let other = view(
            serde_json::json!({"originalPartnerReferenceNo": "pay_02", "latestTransactionStatus": "00"}),
        );
        assert!(status_report(Operation::QrQuery, Method::Qris, other, &handle("qris")).is_err());
    }

    #[test]
    fn a_qris_query_answer_reports_amount_and_local_paid_time() {
        let answer = view(serde_json::json!({
            "responseCode": "2005100",
            "latestTransactionStatus": "00",
            "transactionStatusDesc": "SUCCESS",
            "paidTime": "2022-10-12T11:09:10.912333",
            "amount": {"value": "150000.00", "currency": "IDR"},
            "terminalId": "T0001",
            "additionalInfo": {"tip": "0.00", "issuerName": "93600822"},
        }));
        let report = status_report(Operation::QrQuery, Method::Qris, answer, &handle("qris"))
            .expect("report");
        assert_eq!(report.state, ProviderPaymentState::Paid);
        assert_eq!(report.paid_amount, Some(amount(150_000)));
        assert_eq!(
            report.paid_at,
            Some(datetime!(2022-10-12 11:09:10.912333 +7))
        );
    }

    #[test]
    fn the_debit_body_carries_description_and_in_app_type() {
        let config = crate::tests::config("https://sandbox.astrapay.com");
        let request = create("astrapay", NOW + Duration::hours(1));
        let valid = debit_valid_up_to(request.expires_at, NOW);
        let body = serde_json::to_value(debit_payment(&config, &request, valid)).expect("json");
        assert_eq!(
            body,
            serde_json::json!({
                "partnerReferenceNo": "pay_01",
                "merchantId": "9653109f-0000-4000-8000-000000000001",
                "validUpTo": "2024-01-01T10:15:00+07:00",
                "amount": {"value": "150000.00", "currency": "IDR"},
                "additionalInfo": {"description": "pay_01"},
            })
        );
        let mut in_app = config;
        in_app.in_app = true;
        let described = request.with_description(Some("Cicilan 3".to_owned()));
        let body = serde_json::to_value(debit_payment(&in_app, &described, valid)).expect("json");
        assert_eq!(
            body["additionalInfo"],
            serde_json::json!({"description": "Cicilan 3", "paymentType": "IN_APP"})
        );
    }

    #[test]
    fn the_redirect_or_deeplink_follows_in_app() {
        let request = create("astrapay", NOW);
        let both = || DebitPaymentAnswer {
            partner_reference_no: Some("pay_01".to_owned()),
            reference_no: Some("INV/PAC/ONP/1".to_owned()),
            web_redirect_url: Some(
                "https://sandbox.astrapay.com/merchant-service/payments/u".to_owned(),
            ),
            app_redirect_url: Some("astrapay://payment-channel/payment?id=u".to_owned()),
        };
        let web = started_debit(both(), &request, false, NOW).expect("started");
        assert!(
            matches!(web.action, PaymentAction::Redirect { ref url } if url.starts_with("https://"))
        );
        assert_eq!(web.expires_at, Some(NOW));
        let app = started_debit(both(), &request, true, NOW).expect("started");
        assert!(
            matches!(app.action, PaymentAction::Deeplink { ref url } if url.starts_with("astrapay://"))
        );
        let mut web_only = both();
        web_only.app_redirect_url = None;
        let fallback = started_debit(web_only, &request, true, NOW).expect("started");
        assert!(matches!(fallback.action, PaymentAction::Redirect { .. }));

        let mut none = both();
        none.web_redirect_url = None;
        none.app_redirect_url = Some(String::new());
        assert!(started_debit(none, &request, false, NOW).is_err());
        let mut other = both();
        other.partner_reference_no = Some("pay_02".to_owned());
        assert!(started_debit(other, &request, false, NOW).is_err());
    }

    #[test]
    fn refund_bodies_and_outcomes() {
        let request = RefundRequest::new(
            handle("astrapay"),
            OurReference("rf_01".to_owned()),
            amount(50_000),
            " ",
        );
        let body = serde_json::to_value(debit_refund(&request)).expect("json");
        assert_eq!(
            body,
            serde_json::json!({
                "originalPartnerReferenceNo": "pay_01",
                "originalReferenceNo": "INV/PAC/ONP/1",
                "partnerRefundNo": "rf_01",
                "refundAmount": {"value": "50000.00", "currency": "IDR"},
            })
        );
        let qris = Qris {
            merchant_id: "210000240".to_owned(),
            terminal_id: "T0001".to_owned(),
        };
        let body = serde_json::to_value(qr_refund(&qris, &request, "1234567890".to_owned()))
            .expect("json");
        assert_eq!(body["reason"], "Refund");
        assert_eq!(body["merchantId"], "210000240");
        assert_eq!(body["originalReferenceNo"], "1234567890");

        let done = refund_outcome(
            false,
            RefundAnswer {
                refund_no: Some("INV/REF/ONP/1".to_owned()),
                reference_no: None,
            },
        );
        assert_eq!(
            done,
            RefundOutcome::new(
                RefundState::Succeeded,
                Some(ProviderReference("INV/REF/ONP/1".to_owned()))
            )
        );
        let pending = refund_outcome(true, RefundAnswer::default());
        assert_eq!(pending, RefundOutcome::new(RefundState::Pending, None));
    }
}
