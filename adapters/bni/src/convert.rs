//! contracts ⇄ wire: requests out, answers back, and `va_status` to a state.

use contracts::va::{
    CreateVa, IssuedVa, PaymentRule, ProviderVaState, UpdateVa, VaHandle, VaStatusReport,
};
use contracts::{Amount, OurReference};
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::{format_description, offset};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::config::{BillingType, Config};
use crate::error::Error;
use crate::wire::{self, kind};

/// Western Indonesia Time, the zone of every BNI date.
const WIB: UtcOffset = offset!(+7);

/// ISO 8601 with offset, second precision: `2016-03-01T16:00:00+07:00` (A.3).
const ISO_FORMAT: &[BorrowedFormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
);

/// BNI's older local form: `2016-03-01 16:00:00`, implicitly WIB (A.3).
const WIB_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// The `billing_type` for `rule`: exact amounts are always `c`; partial payments are `i`,
/// only when this client id is configured for it.
pub(crate) fn billing_type(
    rule: PaymentRule,
    configured: BillingType,
) -> Result<&'static str, Error> {
    match (rule, configured) {
        (PaymentRule::Exact, _) => Ok("c"),
        (PaymentRule::Partial, BillingType::I) => Ok("i"),
        (PaymentRule::Partial, BillingType::C) => Err(Error::Unsupported(
            "partial payments need billing_type \"i\", and this instance is configured for \"c\"",
        )),
    }
}

/// `createbilling` for `request`; `virtual_account` empty so BNI assigns the number.
pub(crate) fn create_billing<'a>(
    request: &'a CreateVa,
    config: &'a Config,
) -> Result<wire::CreateBilling<'a>, Error> {
    let customer = &request.customer;
    Ok(wire::CreateBilling {
        kind: kind::CREATE,
        client_id: &config.client_id,
        trx_id: request.reference.as_str(),
        trx_amount: request.amount.to_string(),
        billing_type: billing_type(request.rule, config.billing_type)?,
        customer_name: &customer.name,
        customer_email: customer.email.as_deref().unwrap_or_default(),
        customer_phone: customer.phone.as_deref().unwrap_or_default(),
        virtual_account: "",
        datetime_expired: format_expiry(request.expires_at)?,
        description: request.description.as_deref().unwrap_or_default(),
    })
}

/// `updatebilling` with every field, since BNI blanks the ones left out (A.3).
pub(crate) fn update_billing<'a>(
    request: &'a UpdateVa,
    config: &'a Config,
) -> Result<wire::UpdateBilling<'a>, Error> {
    let customer = &request.customer;
    Ok(wire::UpdateBilling {
        kind: kind::UPDATE,
        client_id: &config.client_id,
        trx_id: request.handle.reference.as_str(),
        trx_amount: request.amount.to_string(),
        customer_name: &customer.name,
        customer_email: customer.email.as_deref().unwrap_or_default(),
        customer_phone: customer.phone.as_deref().unwrap_or_default(),
        datetime_expired: format_expiry(request.expires_at)?,
        description: request.description.as_deref().unwrap_or_default(),
    })
}

/// `inactivebilling` for a billing whose VA number is known.
pub(crate) fn inactive_billing<'a>(
    handle: &'a VaHandle,
    va_number: &'a str,
    config: &'a Config,
) -> wire::InactiveBilling<'a> {
    wire::InactiveBilling {
        kind: kind::INACTIVE,
        client_id: &config.client_id,
        trx_id: handle.reference.as_str(),
        virtual_account: va_number,
    }
}

/// `inquirybilling`: our reference is all BNI needs, so it works after a lost create.
pub(crate) fn inquiry_billing<'a>(
    handle: &'a VaHandle,
    config: &'a Config,
) -> wire::InquiryBilling<'a> {
    wire::InquiryBilling {
        kind: kind::INQUIRY,
        client_id: &config.client_id,
        trx_id: handle.reference.as_str(),
    }
}

/// `datetime_expired` as ISO 8601 in WIB (accepted since spec 1.9.0, A.3).
pub(crate) fn format_expiry(at: OffsetDateTime) -> Result<String, Error> {
    at.to_offset(WIB)
        .format(ISO_FORMAT)
        .map_err(|_| Error::Unsupported("expiry cannot be formatted"))
}

/// The VA of a create answer, which must be about our reference.
pub(crate) fn issued_va(
    result: wire::BillingResult,
    reference: &OurReference,
    bank: &str,
) -> Result<IssuedVa, Error> {
    check_echo(&result, reference)?;
    let va_number = result
        .virtual_account
        .filter(|n| is_digits(n))
        .ok_or(Error::Malformed("create answer without a VA number"))?;
    Ok(IssuedVa::new(va_number, bank.to_owned(), None))
}

/// An answer naming another `trx_id` is not ours.
pub(crate) fn check_echo(
    result: &wire::BillingResult,
    reference: &OurReference,
) -> Result<(), Error> {
    match result.trx_id.as_deref() {
        Some(trx_id) if trx_id != reference.as_str() => {
            Err(Error::Malformed("answer for another trx_id"))
        }
        _ => Ok(()),
    }
}

/// The inquiry answer as a report; `now` decides whether an unpaid closed billing expired.
pub(crate) fn status_report(
    inquiry: wire::BillingInquiry,
    reference: &OurReference,
    client_id: &str,
    now: OffsetDateTime,
) -> Result<VaStatusReport, Error> {
    check_inquiry_echo(&inquiry, reference, client_id)?;
    let paid = optional_amount(inquiry.payment_amount.as_deref())?;
    let billed = optional_amount(inquiry.trx_amount.as_deref())?;
    let expires_at = parse_time(
        inquiry.datetime_expired_iso8601.as_deref(),
        inquiry.datetime_expired.as_deref(),
    );
    let va_status = inquiry.va_status.as_deref();
    let mut report = VaStatusReport::new(
        state_of(va_status, paid, billed, expires_at, now),
        va_status.unwrap_or("null"),
    );
    report.paid_amount = paid;
    report.payment_reference = inquiry.payment_ntb.filter(|ntb| !ntb.is_empty());
    report.paid_at = parse_time(
        inquiry.datetime_payment_iso8601.as_deref(),
        inquiry.datetime_payment.as_deref(),
    );
    report.va_number = inquiry.virtual_account.filter(|n| !n.is_empty());
    Ok(report)
}

fn check_inquiry_echo(
    inquiry: &wire::BillingInquiry,
    reference: &OurReference,
    client_id: &str,
) -> Result<(), Error> {
    if inquiry
        .trx_id
        .as_deref()
        .is_some_and(|t| t != reference.as_str())
    {
        return Err(Error::Malformed("inquiry answer for another trx_id"));
    }
    if inquiry.client_id.as_deref().is_some_and(|c| c != client_id) {
        return Err(Error::Malformed("inquiry answer for another client_id"));
    }
    Ok(())
}

/// `va_status` "1" is open (even when partly paid); "2" is closed, and only the amounts
/// and the expiry tell why. Anything else is unknown, never final.
pub(crate) fn state_of(
    va_status: Option<&str>,
    paid: Option<Amount>,
    billed: Option<Amount>,
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> ProviderVaState {
    match va_status {
        Some("1") => ProviderVaState::Active,
        Some("2") if fully_paid(paid, billed) => ProviderVaState::Paid,
        Some("2") if expires_at.is_some_and(|at| at < now) => ProviderVaState::Expired,
        Some("2") => ProviderVaState::Inactive,
        _ => ProviderVaState::Unknown,
    }
}

fn fully_paid(paid: Option<Amount>, billed: Option<Amount>) -> bool {
    match (paid, billed) {
        (Some(paid), Some(billed)) => paid > Amount::ZERO && paid >= billed,
        _ => false,
    }
}

/// An amount BNI sends as a string of digits; null or empty is absent.
fn optional_amount(text: Option<&str>) -> Result<Option<Amount>, Error> {
    match text {
        None | Some("") => Ok(None),
        Some(digits) => parse_amount(digits)
            .map(Some)
            .ok_or(Error::Malformed("amount is not whole rupiah")),
    }
}

/// Whole rupiah written as digits only, as BNI sends them.
pub(crate) fn parse_amount(text: &str) -> Option<Amount> {
    if !is_digits(text) {
        return None;
    }
    Amount::parse_decimal(text).ok()
}

/// The ISO 8601 form when present and readable, else the WIB local form.
pub(crate) fn parse_time(iso: Option<&str>, wib: Option<&str>) -> Option<OffsetDateTime> {
    iso.and_then(parse_iso).or_else(|| wib.and_then(parse_wib))
}

/// `2023-11-15T10:00:00+07:00`.
pub(crate) fn parse_iso(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// `2023-11-15 10:00:00`, WIB.
pub(crate) fn parse_wib(text: &str) -> Option<OffsetDateTime> {
    PrimitiveDateTime::parse(text, WIB_FORMAT)
        .ok()
        .map(|local| local.assume_offset(WIB))
}

pub(crate) fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2023-11-16 00:00:00 +07:00);

    fn amount(rupiah: i64) -> Option<Amount> {
        Amount::new(rupiah).ok()
    }

    fn inquiry(va_status: Option<&str>, paid: &str, expired: &str) -> wire::BillingInquiry {
        let json = serde_json::json!({
            "client_id": "123", "trx_id": "INV-0001", "trx_amount": "150000",
            "virtual_account": "8123000000000001", "customer_name": "Budi",
            "va_status": va_status, "payment_amount": paid,
            "payment_ntb": if paid == "0" { None } else { Some("233171") },
            "datetime_expired": expired,
            "datetime_payment": if paid == "0" { None } else { Some("2023-11-15 10:00:00") },
        });
        serde_json::from_value(json).expect("inquiry shape")
    }

    fn reference() -> OurReference {
        OurReference("INV-0001".to_owned())
    }

    #[test]
    fn va_status_maps_to_states_and_unknown_stays_pending() {
        let past = Some(datetime!(2023-11-15 23:59:59 +07:00));
        let future = Some(datetime!(2023-11-17 00:00:00 +07:00));
        let cases = [
            (Some("1"), amount(0), future, ProviderVaState::Active),
            (Some("1"), amount(50_000), past, ProviderVaState::Active),
            (Some("2"), amount(150_000), past, ProviderVaState::Paid),
            (Some("2"), amount(200_000), future, ProviderVaState::Paid),
            (Some("2"), amount(50_000), past, ProviderVaState::Expired),
            (Some("2"), amount(0), past, ProviderVaState::Expired),
            (Some("2"), amount(0), future, ProviderVaState::Inactive),
            (Some("2"), None, None, ProviderVaState::Inactive),
            (Some("3"), amount(150_000), past, ProviderVaState::Unknown),
            (Some(""), None, None, ProviderVaState::Unknown),
            (None, amount(150_000), past, ProviderVaState::Unknown),
        ];
        for (status, paid, expires, expected) in cases {
            let state = state_of(status, paid, amount(150_000), expires, NOW);
            assert_eq!(state, expected, "{status:?} {paid:?} {expires:?}");
        }
    }

    #[test]
    fn zero_billed_zero_paid_is_not_paid() {
        let state = state_of(Some("2"), amount(0), amount(0), None, NOW);
        assert_eq!(state, ProviderVaState::Inactive);
    }

    #[test]
    fn paid_inquiry_becomes_a_full_report() {
        let report = status_report(
            inquiry(Some("2"), "150000", "2023-11-15 23:59:59"),
            &reference(),
            "123",
            NOW,
        )
        .expect("report");
        assert_eq!(report.state, ProviderVaState::Paid);
        assert_eq!(report.paid_amount, amount(150_000));
        assert_eq!(report.payment_reference.as_deref(), Some("233171"));
        assert_eq!(report.paid_at, Some(datetime!(2023-11-15 10:00:00 +07:00)));
        assert_eq!(report.va_number.as_deref(), Some("8123000000000001"));
        assert_eq!(report.provider_status, "2");
    }

    #[test]
    fn partly_paid_open_billing_is_active_with_its_paid_amount() {
        let report = status_report(
            inquiry(Some("1"), "50000", "2023-11-17 00:00:00"),
            &reference(),
            "123",
            NOW,
        )
        .expect("report");
        assert_eq!(report.state, ProviderVaState::Active);
        assert_eq!(report.paid_amount, amount(50_000));
    }

    #[test]
    fn unpaid_closed_billing_is_expired_only_after_its_expiry() {
        let expired = status_report(
            inquiry(Some("2"), "0", "2023-11-15 23:59:59"),
            &reference(),
            "123",
            NOW,
        );
        assert_eq!(expired.expect("report").state, ProviderVaState::Expired);
        let closed = status_report(
            inquiry(Some("2"), "0", "2023-11-16 00:00:01"),
            &reference(),
            "123",
            NOW,
        );
        let closed = closed.expect("report");
        assert_eq!(closed.state, ProviderVaState::Inactive);
        assert_eq!(closed.payment_reference, None);
    }

    #[test]
    fn answers_about_other_billings_or_bad_amounts_are_protocol_errors() {
        let other = OurReference("INV-0002".to_owned());
        assert!(status_report(inquiry(Some("1"), "0", ""), &other, "123", NOW).is_err());
        assert!(status_report(inquiry(Some("1"), "0", ""), &reference(), "999", NOW).is_err());
        assert!(status_report(inquiry(Some("1"), "1.5", ""), &reference(), "123", NOW).is_err());
        assert!(status_report(inquiry(Some("1"), "-1", ""), &reference(), "123", NOW).is_err());
    }

    #[test]
    fn expiry_is_sent_as_iso_8601_in_wib() {
        let at = datetime!(2023-11-15 16:59:59 UTC);
        assert_eq!(
            format_expiry(at).expect("formats"),
            "2023-11-15T23:59:59+07:00"
        );
    }

    #[test]
    fn partial_rule_needs_an_installment_instance() {
        assert_eq!(
            billing_type(PaymentRule::Exact, BillingType::C).ok(),
            Some("c")
        );
        assert_eq!(
            billing_type(PaymentRule::Exact, BillingType::I).ok(),
            Some("c")
        );
        assert_eq!(
            billing_type(PaymentRule::Partial, BillingType::I).ok(),
            Some("i")
        );
        assert!(billing_type(PaymentRule::Partial, BillingType::C).is_err());
    }

    #[test]
    fn bni_times_parse_in_both_forms() {
        let expected = Some(datetime!(2023-11-15 03:00:00 UTC));
        assert_eq!(parse_iso("2023-11-15T10:00:00+07:00"), expected);
        assert_eq!(parse_wib("2023-11-15 10:00:00"), expected);
        assert_eq!(
            parse_time(Some("garbage"), Some("2023-11-15 10:00:00")),
            expected
        );
        assert_eq!(parse_wib("15-11-2023 10:00"), None);
    }
}
