//! contracts ⇄ wire: Checkout bodies and answers, SNAP VA bodies and answers, and the
//! status tables. Every status DOKU may add later maps to pending / unknown, never to a
//! final state.

use adapter_snap::codec::{SnapAmount, TimestampStyle, format_timestamp, parse_timestamp};
use contracts::payment::{
    CreatePayment, PaymentAction, PaymentStatusReport, ProviderPaymentState, StartedPayment,
};
use contracts::va::{CreateVa, IssuedVa, ProviderVaState, UpdateVa, VaHandle, VaStatusReport};
use contracts::{Amount, Customer, ErrorKind, OurReference, ProviderError, ProviderReference};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::config::{Config, MAX_DUE_MINUTES};
use crate::error::Error;
use crate::wire::{
    CheckoutAnswer, CheckoutCustomer, CheckoutOrder, CheckoutPayment, CheckoutRequest,
    DeleteVaRequest, OrderStatus, VaAdditionalInfo, VaConfig, VaData, VaRequest, VaStatusRequest,
};

/// `order.invoice_number` and `trxId` are at most 64 characters (2.4, 2.11.4).
const MAX_REFERENCE_LEN: usize = 64;
/// `virtualAccountName` is at most 255 characters (2.11.4).
const MAX_NAME_LEN: usize = 255;
/// Closed VA: exactly the billed amount, once (2.11.4).
const TRX_TYPE_CLOSED: &str = "C";

// ---- Checkout (2.5, 2.6, 2.8) -----------------------------------------------------------

/// The Checkout request for `request` at `now`.
pub(crate) fn checkout_request(
    config: &Config,
    request: &CreatePayment,
    now: OffsetDateTime,
) -> Result<CheckoutRequest, Error> {
    let invoice = reference_text(&request.reference).map_err(Error::Request)?;
    Ok(CheckoutRequest {
        order: CheckoutOrder {
            amount: request.amount.rupiah(),
            invoice_number: invoice.to_owned(),
            currency: "IDR",
            callback_url: request.return_url.clone().filter(|url| !url.is_empty()),
        },
        payment: CheckoutPayment {
            payment_due_date: due_minutes(request.expires_at, now, config.payment_due_minutes),
            payment_method_types: config.payment_method_types.clone(),
        },
        customer: checkout_customer(&request.customer),
    })
}

/// `payment.payment_due_date`: whole minutes from `now` to `expires_at`, rounded up so
/// DOKU never closes the payment before the gateway does, at least 1 and at most 30 days;
/// `default` when the expiry is not in the future.
pub(crate) fn due_minutes(expires_at: OffsetDateTime, now: OffsetDateTime, default: u32) -> u32 {
    let seconds = (expires_at - now).whole_seconds();
    let Ok(seconds) = u64::try_from(seconds) else {
        return default;
    };
    if seconds == 0 {
        return default;
    }
    u32::try_from(seconds.div_ceil(60))
        .unwrap_or(MAX_DUE_MINUTES)
        .clamp(1, MAX_DUE_MINUTES)
}

fn checkout_customer(customer: &Customer) -> Option<CheckoutCustomer> {
    let name = Some(truncate(customer.name.trim(), MAX_NAME_LEN)).filter(|n| !n.is_empty());
    let email = usable_email(customer.email.as_deref());
    let phone = usable_phone(customer.phone.as_deref());
    if name.is_none() && email.is_none() && phone.is_none() {
        return None;
    }
    Some(CheckoutCustomer { name, email, phone })
}

/// The started payment out of an accepted Checkout answer (HTTP 200, or the 409 replay of
/// it, 2.9). `message[0]` must be `SUCCESS` and `response.payment.url` present (2.5).
pub(crate) fn started_payment(
    reference: &OurReference,
    answer: CheckoutAnswer,
) -> Result<StartedPayment, Error> {
    let message = crate::client::first_message(answer.message.as_deref());
    match message.as_deref() {
        Some("SUCCESS") => {}
        Some(other) => return Err(Error::Refused(crate::error::bounded(other))),
        None => return Err(Error::Malformed("the answer has no message")),
    }
    let response = answer
        .response
        .ok_or(Error::Malformed("the answer has no response"))?;
    let invoice = response.order.and_then(|o| o.invoice_number);
    if invoice.is_some_and(|invoice| invoice != reference.as_str()) {
        return Err(Error::Malformed("the answer is about another invoice"));
    }
    let payment = response.payment.unwrap_or_default();
    let url = payment
        .url
        .filter(|url| !url.is_empty())
        .ok_or(Error::Malformed("the answer has no payment url"))?;
    let provider_reference = payment
        .token_id
        .or(response.uuid)
        .filter(|id| !id.is_empty())
        .map(ProviderReference);
    let expires_at = payment.expired_date.as_deref().and_then(parse_doku_date);
    Ok(
        StartedPayment::new(provider_reference, PaymentAction::Redirect { url })
            .with_expires_at(expires_at),
    )
}

/// DOKU's `transaction.status` (2.8) as a payment state. `FAILED` is reported as failed,
/// as DOKU asks the merchant to start a new request after it; statuses DOKU marks
/// non-final (`PENDING`, `TIMEOUT`, `REDIRECT`) stay pending, and unknown ones are
/// [`ProviderPaymentState::Unknown`].
pub(crate) fn payment_state(status: &str) -> ProviderPaymentState {
    match status.trim().to_ascii_uppercase().as_str() {
        "SUCCESS" => ProviderPaymentState::Paid,
        "EXPIRED" => ProviderPaymentState::Expired,
        "FAILED" => ProviderPaymentState::Failed,
        "REFUNDED" => ProviderPaymentState::Refunded,
        "PENDING" | "TIMEOUT" | "REDIRECT" => ProviderPaymentState::Pending,
        _ => ProviderPaymentState::Unknown,
    }
}

/// A status answer (2.6) about `invoice` as a report.
pub(crate) fn payment_report(
    invoice: &OurReference,
    answer: OrderStatus,
) -> Result<PaymentStatusReport, Error> {
    let order = answer.order.unwrap_or_default();
    if order
        .invoice_number
        .is_some_and(|number| number != invoice.as_str())
    {
        return Err(Error::Malformed("the answer is about another invoice"));
    }
    let transaction = answer.transaction.unwrap_or_default();
    let status = transaction
        .status
        .ok_or(Error::Malformed("the answer has no transaction.status"))?;
    let state = payment_state(&status);
    let mut report = PaymentStatusReport::new(state, status);
    if state == ProviderPaymentState::Paid {
        let amount = order
            .amount
            .as_deref()
            .and_then(|text| Amount::parse_decimal(text).ok())
            .ok_or(Error::Malformed("a paid order without a readable amount"))?;
        report.paid_amount = Some(amount);
        report.paid_at = transaction.date.as_deref().and_then(parse_doku_date);
    }
    Ok(report)
}

/// A DOKU date: ISO 8601 (`2021-01-27T03:24:23Z`, any SNAP form) or the compact
/// `yyyyMMddHHmmss` of the non-SNAP answers, read as Asia/Jakarta time (2.4, 2.13 #6).
pub(crate) fn parse_doku_date(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if text.len() == 14 && text.bytes().all(|b| b.is_ascii_digit()) {
        let format = time::macros::format_description!("[year][month][day][hour][minute][second]");
        let local = PrimitiveDateTime::parse(text, format).ok()?;
        return Some(local.assume_offset(adapter_snap::codec::JAKARTA));
    }
    parse_timestamp(text)
}

// ---- SNAP VA (2.11.4, 2.11.5) -----------------------------------------------------------

/// The identity triple of one VA: `customerNo`, and the VA number with and without the
/// spaces of `partnerServiceId`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VaIdentity {
    pub partner_service_id: String,
    pub customer_no: String,
}

impl VaIdentity {
    fn new(config: &Config, customer_no: String) -> Self {
        VaIdentity {
            partner_service_id: config.padded_partner_service_id(),
            customer_no,
        }
    }

    /// `virtualAccountNo` on the wire: the padded `partnerServiceId` + `customerNo`.
    pub(crate) fn wire_number(&self) -> String {
        format!("{}{}", self.partner_service_id, self.customer_no)
    }

    /// The number the customer pays to: without the padding (`8129000000000001`).
    pub(crate) fn number(&self) -> String {
        format!("{}{}", self.partner_service_id.trim(), self.customer_no)
    }
}

/// The identity of a new VA: the gateway's serial, zero-padded to `customer_no_digits`.
pub(crate) fn identity_for_serial(
    config: &Config,
    serial: Option<u64>,
) -> Result<VaIdentity, ProviderError> {
    let serial = serial.ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Rejected,
            "create needs the serial the gateway allocates for this instance",
        )
    })?;
    let digits = usize::from(config.customer_no_digits);
    let customer_no = format!("{serial:0digits$}");
    if customer_no.len() > digits {
        return Err(ProviderError::new(
            ErrorKind::Rejected,
            format!("serial {serial} has more than {digits} digits"),
        ));
    }
    Ok(VaIdentity::new(config, customer_no))
}

/// The identity of an issued VA, from the handle's VA number: the full number
/// (`partnerServiceId` + `customerNo`, with or without the padding), or the bare serial.
pub(crate) fn identity_of(config: &Config, handle: &VaHandle) -> Result<VaIdentity, ProviderError> {
    let number: String = handle
        .va_number
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(|c| *c != ' ')
        .collect();
    let digits = usize::from(config.customer_no_digits);
    let customer_no = match number.strip_prefix(config.partner_service_id.as_str()) {
        Some(rest) if number.len() > digits && is_digits(rest) && rest.len() <= 20 => {
            rest.to_owned()
        }
        _ if is_digits(&number) && number.len() <= digits => format!("{number:0>digits$}"),
        _ => {
            return Err(ProviderError::new(
                ErrorKind::Rejected,
                "DOKU finds a VA by its number; the handle carries no usable VA number",
            ));
        }
    };
    Ok(VaIdentity::new(config, customer_no))
}

/// The create VA body (svc 27).
pub(crate) fn create_body(
    config: &Config,
    identity: &VaIdentity,
    request: &CreateVa,
) -> Result<VaRequest, ProviderError> {
    let trx_id = reference_text(&request.reference).map_err(rejected)?;
    Ok(VaRequest {
        partner_service_id: identity.partner_service_id.clone(),
        customer_no: identity.customer_no.clone(),
        virtual_account_no: identity.wire_number(),
        virtual_account_name: va_name(&request.customer.name)?,
        virtual_account_email: usable_email(request.customer.email.as_deref()),
        virtual_account_phone: usable_phone(request.customer.phone.as_deref()),
        trx_id: trx_id.to_owned(),
        total_amount: SnapAmount::idr(request.amount),
        virtual_account_trx_type: TRX_TYPE_CLOSED,
        additional_info: VaAdditionalInfo {
            channel: config.va_channel.clone(),
            virtual_account_config: Some(VaConfig {
                reusable_status: Some(false),
                status: None,
            }),
        },
        expired_date: expired_date(request.expires_at),
    })
}

/// The update VA body (svc 28): every field again, the VA kept `ACTIVE`.
pub(crate) fn update_body(
    config: &Config,
    identity: &VaIdentity,
    request: &UpdateVa,
) -> Result<VaRequest, ProviderError> {
    let trx_id = reference_text(&request.handle.reference).map_err(rejected)?;
    Ok(VaRequest {
        partner_service_id: identity.partner_service_id.clone(),
        customer_no: identity.customer_no.clone(),
        virtual_account_no: identity.wire_number(),
        virtual_account_name: va_name(&request.customer.name)?,
        virtual_account_email: usable_email(request.customer.email.as_deref()),
        virtual_account_phone: usable_phone(request.customer.phone.as_deref()),
        trx_id: trx_id.to_owned(),
        total_amount: SnapAmount::idr(request.amount),
        virtual_account_trx_type: TRX_TYPE_CLOSED,
        additional_info: VaAdditionalInfo {
            channel: config.va_channel.clone(),
            virtual_account_config: Some(VaConfig {
                reusable_status: None,
                status: Some("ACTIVE"),
            }),
        },
        expired_date: expired_date(request.expires_at),
    })
}

/// The delete VA body (svc 31).
pub(crate) fn delete_body(
    config: &Config,
    identity: &VaIdentity,
    handle: &VaHandle,
) -> Result<DeleteVaRequest, ProviderError> {
    let trx_id = reference_text(&handle.reference).map_err(rejected)?;
    Ok(DeleteVaRequest {
        partner_service_id: identity.partner_service_id.clone(),
        customer_no: identity.customer_no.clone(),
        virtual_account_no: identity.wire_number(),
        trx_id: trx_id.to_owned(),
        additional_info: VaAdditionalInfo {
            channel: config.va_channel.clone(),
            virtual_account_config: None,
        },
    })
}

/// The check status VA body (svc 26).
pub(crate) fn status_body(identity: &VaIdentity) -> VaStatusRequest {
    VaStatusRequest {
        partner_service_id: identity.partner_service_id.clone(),
        customer_no: identity.customer_no.clone(),
        virtual_account_no: identity.wire_number(),
        additional_info: serde_json::Map::new(),
    }
}

/// The issued VA out of a create answer: the number DOKU echoes (padding removed), else the
/// one we sent. An echo of another `trxId` is an answer about another VA.
pub(crate) fn issued_va(
    config: &Config,
    identity: &VaIdentity,
    reference: &OurReference,
    data: VaData,
) -> Result<IssuedVa, ProviderError> {
    if data
        .trx_id
        .as_deref()
        .is_some_and(|trx_id| trx_id != reference.as_str())
    {
        return Err(ProviderError::new(
            ErrorKind::Protocol,
            "the create answer is about another trxId",
        ));
    }
    let number = data
        .virtual_account_no
        .as_deref()
        .map(without_spaces)
        .filter(|number| !number.is_empty())
        .unwrap_or_else(|| identity.number());
    Ok(IssuedVa::new(number, config.bank.clone(), None))
}

/// Refuses a status answer about another VA: a `customerNo` or `trxId` echo that differs
/// from ours (leading zeros aside, for senders that write `customerNo` as a number).
pub(crate) fn check_echo(
    identity: &VaIdentity,
    reference: &OurReference,
    data: &VaData,
) -> Result<(), ProviderError> {
    let ours = identity.customer_no.trim_start_matches('0');
    let other_customer = data
        .customer_no
        .as_deref()
        .map(without_spaces)
        .is_some_and(|no| !no.is_empty() && no.trim_start_matches('0') != ours);
    let other_trx = data
        .trx_id
        .as_deref()
        .is_some_and(|trx_id| !trx_id.is_empty() && trx_id != reference.as_str());
    if other_customer || other_trx {
        return Err(ProviderError::new(
            ErrorKind::Protocol,
            "the status answer is about another VA",
        ));
    }
    Ok(())
}

/// A check status answer (2.11.5) as a report. Paid only on explicit evidence:
/// `paymentFlagStatus` `00` (with no zero `paidAmount` beside it), or, without a flag, a
/// `paidAmount` equal to what was billed. Nothing paid is `Active`; anything else is
/// `Unknown`, never final.
pub(crate) fn va_report(
    config: &Config,
    identity: &VaIdentity,
    billed: Amount,
    data: VaData,
    code: &str,
) -> VaStatusReport {
    let paid = data.paid_amount.as_ref().and_then(|a| a.rupiah().ok());
    let flag = data.payment_flag_status.as_deref().map(str::trim);
    let state = match (flag, paid) {
        (Some("00"), Some(amount)) if amount > Amount::ZERO => ProviderVaState::Paid,
        (Some("00"), None) => ProviderVaState::Paid,
        (None, Some(amount)) if amount == billed && amount > Amount::ZERO => ProviderVaState::Paid,
        (_, Some(amount)) if amount == Amount::ZERO => ProviderVaState::Active,
        _ => ProviderVaState::Unknown,
    };
    let reason = data.payment_flag_reason.and_then(|r| r.english);
    let provider_status = flag
        .map(str::to_owned)
        .or(reason)
        .unwrap_or_else(|| code.to_owned());
    let mut report = VaStatusReport::new(state, provider_status);
    report.va_number = Some(
        data.virtual_account_no
            .as_deref()
            .map(without_spaces)
            .filter(|number| !number.is_empty())
            .unwrap_or_else(|| identity.number()),
    );
    report.bank = Some(config.bank.clone());
    if state == ProviderVaState::Paid {
        report.paid_amount = paid.filter(|amount| *amount > Amount::ZERO);
        report.paid_at = data.trx_date_time.as_deref().and_then(parse_timestamp);
        report.payment_reference = data.payment_request_id;
    }
    report
}

/// A report from a status inquiry DOKU answered with a state code instead of data
/// (B.6: `404xx14` paid bill, `404xx19` expired, `404xx04` cancelled).
pub(crate) fn va_report_from_code(
    config: &Config,
    identity: &VaIdentity,
    http: u16,
    case: u8,
    code: &str,
) -> Option<VaStatusReport> {
    let state = match (http, case) {
        (404, 14) => ProviderVaState::Paid,
        (404, 19) => ProviderVaState::Expired,
        (404, 4) => ProviderVaState::Cancelled,
        _ => return None,
    };
    let mut report = VaStatusReport::new(state, code);
    report.va_number = Some(identity.number());
    report.bank = Some(config.bank.clone());
    Some(report)
}

/// `expiredDate`: ISO 8601 with the Jakarta offset, whole seconds (2.11.4).
fn expired_date(at: OffsetDateTime) -> String {
    format_timestamp(at, TimestampStyle::Jakarta)
}

/// `virtualAccountName`: letters, digits, space and `. - / + , = _ : ' @ %` only
/// (2.11.4); anything else becomes a space, runs of spaces collapse, at most 255.
fn va_name(name: &str) -> Result<String, ProviderError> {
    let kept: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " .-/+,=_:'@%".contains(c) {
                c
            } else {
                ' '
            }
        })
        .collect();
    let collapsed = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = truncate(&collapsed, MAX_NAME_LEN);
    if name.is_empty() {
        return Err(ProviderError::new(
            ErrorKind::Rejected,
            "the customer name has no characters DOKU accepts",
        ));
    }
    Ok(name)
}

/// An e-mail address DOKU takes (at most 255 characters, one `@`), else none.
fn usable_email(email: Option<&str>) -> Option<String> {
    let email = email?.trim();
    let ok = email.len() <= 255
        && email.matches('@').count() == 1
        && !email.starts_with('@')
        && !email.ends_with('@')
        && !email.contains(char::is_whitespace);
    ok.then(|| email.to_owned())
}

/// A phone number as DOKU's samples write it (`6281234567890`: digits, country code, 9–30
/// characters, 2.11.4): `+62…` and `08…` are rewritten, anything unusable is dropped.
fn usable_phone(phone: Option<&str>) -> Option<String> {
    let digits: String = phone?.chars().filter(char::is_ascii_digit).collect();
    let international = match digits.strip_prefix('0') {
        Some(rest) => format!("62{rest}"),
        None => digits,
    };
    (9..=30)
        .contains(&international.len())
        .then_some(international)
}

/// Our reference as `trxId` / `invoice_number`: 1–64 printable ASCII characters.
fn reference_text(reference: &OurReference) -> Result<&str, &'static str> {
    let text = reference.as_str();
    if text.is_empty()
        || text.len() > MAX_REFERENCE_LEN
        || !text.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err("the reference must be 1-64 printable ASCII characters");
    }
    Ok(text)
}

fn rejected(message: &'static str) -> ProviderError {
    ProviderError::new(ErrorKind::Rejected, message)
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars()
        .take(max_chars)
        .collect::<String>()
        .trim()
        .to_owned()
}

pub(crate) fn without_spaces(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::FlagReason;
    use time::macros::datetime;

    pub(crate) fn config() -> Config {
        crate::tests::config("http://127.0.0.1:9")
    }

    fn amount(rupiah: i64) -> Amount {
        Amount::new(rupiah).expect("amount")
    }

    fn snap(value: &str) -> Option<SnapAmount> {
        Some(SnapAmount {
            value: value.to_owned(),
            currency: "IDR".to_owned(),
        })
    }

    #[test]
    fn due_minutes_round_up_clamp_and_fall_back() {
        let now = datetime!(2024-01-01 00:00:00 UTC);
        assert_eq!(due_minutes(now + time::Duration::minutes(90), now, 60), 90);
        assert_eq!(due_minutes(now + time::Duration::seconds(61), now, 60), 2);
        assert_eq!(due_minutes(now + time::Duration::seconds(1), now, 60), 1);
        assert_eq!(due_minutes(now, now, 45), 45);
        assert_eq!(due_minutes(now - time::Duration::hours(1), now, 45), 45);
        assert_eq!(
            due_minutes(now + time::Duration::days(365), now, 60),
            MAX_DUE_MINUTES
        );
    }

    #[test]
    fn payment_states_follow_the_2_8_table_and_unknown_is_never_final() {
        let table = [
            ("SUCCESS", ProviderPaymentState::Paid),
            ("EXPIRED", ProviderPaymentState::Expired),
            ("FAILED", ProviderPaymentState::Failed),
            ("REFUNDED", ProviderPaymentState::Refunded),
            ("PENDING", ProviderPaymentState::Pending),
            ("TIMEOUT", ProviderPaymentState::Pending),
            ("REDIRECT", ProviderPaymentState::Pending),
            ("success", ProviderPaymentState::Paid),
            ("SETTLED", ProviderPaymentState::Unknown),
            ("", ProviderPaymentState::Unknown),
            ("SUCCESSFUL", ProviderPaymentState::Unknown),
        ];
        for (status, state) in table {
            assert_eq!(payment_state(status), state, "{status:?}");
        }
    }

    #[test]
    fn doku_dates_read_iso_and_compact_jakarta_forms() {
        assert_eq!(
            parse_doku_date("2021-01-27T03:24:23Z"),
            Some(datetime!(2021-01-27 03:24:23 UTC))
        );
        assert_eq!(
            parse_doku_date("20210127102423"),
            Some(datetime!(2021-01-27 03:24:23 UTC))
        );
        assert_eq!(parse_doku_date("not a date"), None);
    }

    #[test]
    fn identities_come_from_serials_and_from_numbers() {
        let config = config();
        let id = identity_for_serial(&config, Some(1)).expect("fits");
        assert_eq!(id.customer_no, "000000000001");
        assert_eq!(id.wire_number(), "    8129000000000001");
        assert_eq!(id.number(), "8129000000000001");
        assert!(identity_for_serial(&config, Some(1_000_000_000_000)).is_err());
        assert!(identity_for_serial(&config, None).is_err());

        let handle = |number: Option<&str>| {
            VaHandle::new(
                OurReference("r".into()),
                None,
                number.map(str::to_owned),
                amount(1),
            )
        };
        for number in [
            "8129000000000001",
            "    8129000000000001",
            "1",
            "000000000001",
        ] {
            let found = identity_of(&config, &handle(Some(number))).expect(number);
            assert_eq!(found, id, "{number}");
        }
        for number in [
            None,
            Some(""),
            Some("9999000000000001x"),
            Some("7777000000000000001"),
        ] {
            let err = identity_of(&config, &handle(number)).expect_err("unusable");
            assert_eq!(err.kind, ErrorKind::Rejected);
        }
    }

    #[test]
    fn names_phones_and_emails_are_made_acceptable() {
        assert_eq!(va_name("  Budi  <Santoso>!").expect("name"), "Budi Santoso");
        assert_eq!(va_name("O'Neil, S.H.").expect("name"), "O'Neil, S.H.");
        assert!(va_name("日本").is_err());
        assert_eq!(va_name(&"a".repeat(300)).expect("name").len(), 255);
        assert_eq!(
            usable_phone(Some("0812-3456-7890")).as_deref(),
            Some("6281234567890")
        );
        assert_eq!(
            usable_phone(Some("+62 812 3456 7890")).as_deref(),
            Some("6281234567890")
        );
        assert_eq!(usable_phone(Some("123")), None);
        assert_eq!(
            usable_email(Some(" budi@example.com ")).as_deref(),
            Some("budi@example.com")
        );
        assert_eq!(usable_email(Some("budi.example.com")), None);
    }

    #[test]
    fn va_status_is_paid_only_on_explicit_evidence() {
        let config = config();
        let id = identity_for_serial(&config, Some(1)).expect("fits");
        let billed = amount(150_000);
        let data = |flag: Option<&str>, paid: Option<&str>| VaData {
            payment_flag_status: flag.map(str::to_owned),
            paid_amount: paid.and_then(snap),
            payment_request_id: Some("PR-1".to_owned()),
            trx_date_time: Some("2024-01-01T10:00:00+07:00".to_owned()),
            ..VaData::default()
        };
        let state = |flag, paid| va_report(&config, &id, billed, data(flag, paid), "2002600").state;
        assert_eq!(state(Some("00"), Some("150000.00")), ProviderVaState::Paid);
        assert_eq!(state(Some("00"), None), ProviderVaState::Paid);
        assert_eq!(state(None, Some("150000.00")), ProviderVaState::Paid);
        assert_eq!(state(None, Some("0.00")), ProviderVaState::Active);
        assert_eq!(state(Some("01"), Some("0.00")), ProviderVaState::Active);
        assert_eq!(state(Some("00"), Some("0.00")), ProviderVaState::Active);
        assert_eq!(state(None, Some("100000.00")), ProviderVaState::Unknown);
        assert_eq!(
            state(Some("01"), Some("150000.00")),
            ProviderVaState::Unknown
        );
        assert_eq!(state(None, None), ProviderVaState::Unknown);
        assert_eq!(state(Some("99"), None), ProviderVaState::Unknown);

        let paid = va_report(
            &config,
            &id,
            billed,
            data(Some("00"), Some("150000.00")),
            "2002600",
        );
        assert_eq!(paid.paid_amount, Some(billed));
        assert_eq!(paid.paid_at, Some(datetime!(2024-01-01 03:00:00 UTC)));
        assert_eq!(paid.payment_reference.as_deref(), Some("PR-1"));
        assert_eq!(paid.va_number.as_deref(), Some("8129000000000001"));
        assert_eq!(paid.provider_status, "00");
        let reasoned = VaData {
            payment_flag_reason: Some(FlagReason {
                english: Some("Pending".to_owned()),
            }),
            ..data(None, Some("0.00"))
        };
        let active = va_report(&config, &id, billed, reasoned, "2002600");
        assert_eq!(active.provider_status, "Pending");
        assert_eq!(active.paid_amount, None);
    }

    #[test]
    fn state_codes_of_a_status_inquiry_become_reports() {
        let config = config();
        let id = identity_for_serial(&config, Some(1)).expect("fits");
        let state = |case| va_report_from_code(&config, &id, 404, case, "x").map(|r| r.state);
        assert_eq!(state(14), Some(ProviderVaState::Paid));
        assert_eq!(state(19), Some(ProviderVaState::Expired));
        assert_eq!(state(4), Some(ProviderVaState::Cancelled));
        assert_eq!(state(1), None);
        assert_eq!(va_report_from_code(&config, &id, 400, 14, "x"), None);
    }
}
