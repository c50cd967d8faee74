//! contracts ⇄ wire: building NICEPAY requests from the gateway's and reading NICEPAY's
//! answers back. Signing is not done here (see [`crate::signature`]): requests leave this
//! module with an empty `merchantToken`.
//!
//! Dates and times on the wire are Asia/Jakarta (WIB, UTC+7, no daylight saving), as
//! separate `YYYYMMDD` and `HHMMSS` fields (protocol 1.2).

use contracts::va::{CreateVa, IssuedVa, ProviderVaState, VaHandle, VaStatusReport};
use contracts::{Amount, Customer, ProviderReference};
use time::macros::{format_description, offset};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::config::Config;
use crate::error::Error;
use crate::wire::{
    CANCEL_FULL, CURRENCY, CancelRequest, CancelResponse, InquiryRequest, InquiryResponse,
    PAY_METHOD_VA, RegistrationRequest, RegistrationResponse,
};

/// Asia/Jakarta.
pub(crate) const WIB: UtcOffset = offset!(+7);

/// `billingNm` is A30 in the older docs (100 in newer ones): send at most 30 characters.
const MAX_NAME_CHARS: usize = 30;
/// `goodsNm` is AN100.
const MAX_GOODS_CHARS: usize = 100;
/// `billingPhone` is N15.
const MAX_PHONE_DIGITS: usize = 15;
/// `billingEmail` is ANS40.
const MAX_EMAIL_CHARS: usize = 40;

/// `timeStamp`: `YYYYMMDDHHMMSS` in WIB.
pub(crate) fn time_stamp(now: OffsetDateTime) -> Result<String, Error> {
    now.to_offset(WIB)
        .format(format_description!(
            "[year][month][day][hour][minute][second]"
        ))
        .map_err(|err| Error::Request(format!("cannot format timeStamp: {err}")))
}

/// A VA registration (1.4), unsigned.
pub(crate) fn registration(
    config: &Config,
    request: &CreateVa,
    now: OffsetDateTime,
) -> Result<RegistrationRequest, Error> {
    let expires = request.expires_at.to_offset(WIB);
    let valid_dt = expires
        .format(format_description!("[year][month][day]"))
        .map_err(|err| Error::Request(format!("cannot format vacctValidDt: {err}")))?;
    let valid_tm = expires
        .format(format_description!("[hour][minute][second]"))
        .map_err(|err| Error::Request(format!("cannot format vacctValidTm: {err}")))?;
    let goods = request
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(request.reference.as_str());
    let billing = &config.billing;
    Ok(RegistrationRequest {
        timeStamp: time_stamp(now)?,
        iMid: config.imid.clone(),
        payMethod: PAY_METHOD_VA,
        currency: CURRENCY,
        amt: amount_text(request.amount),
        referenceNo: request.reference.as_str().to_owned(),
        goodsNm: truncate(goods, MAX_GOODS_CHARS),
        billingNm: truncate(request.customer.name.trim(), MAX_NAME_CHARS),
        billingPhone: billing_phone(&request.customer).unwrap_or_else(|| billing.phone.clone()),
        billingEmail: billing_email(&request.customer).unwrap_or_else(|| billing.email.clone()),
        billingAddr: billing.address.clone(),
        billingCity: billing.city.clone(),
        billingState: billing.state.clone(),
        billingPostCd: billing.post_code.clone(),
        billingCountry: billing.country.clone(),
        cartData: "{}",
        dbProcessUrl: config
            .notification_url
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        merchantToken: String::new(),
        bankCd: config.bank_code.clone(),
        vacctValidDt: valid_dt,
        vacctValidTm: valid_tm,
        merFixAcctId: "",
    })
}

/// The issued VA out of a `0000` registration answer.
pub(crate) fn issued_va(
    config: &Config,
    request: &CreateVa,
    answer: RegistrationResponse,
) -> Result<IssuedVa, Error> {
    check_echo(
        "referenceNo",
        answer.referenceNo.as_deref(),
        request.reference.as_str(),
    )?;
    check_echo("amt", answer.amt.as_deref(), &amount_text(request.amount))?;
    let t_xid = answer
        .tXid
        .ok_or_else(|| Error::Malformed("registration answer has no tXid".to_owned()))?;
    let va_number = answer
        .vacctNo
        .ok_or_else(|| Error::Malformed("registration answer has no vacctNo".to_owned()))?;
    let bank_code = answer.bankCd.as_deref().unwrap_or(&config.bank_code);
    Ok(IssuedVa::new(
        va_number,
        bank_name(bank_code),
        Some(ProviderReference(t_xid)),
    ))
}

/// A status inquiry (1.5), unsigned. NICEPAY lists `tXid` as required, but the token is
/// over `referenceNo`; when we never learnt the tXid (a registration that timed out) we
/// send `""` and let NICEPAY find the transaction by `referenceNo`.
pub(crate) fn inquiry(
    config: &Config,
    handle: &VaHandle,
    now: OffsetDateTime,
) -> Result<InquiryRequest, Error> {
    Ok(InquiryRequest {
        timeStamp: time_stamp(now)?,
        tXid: handle
            .provider_reference
            .as_ref()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        iMid: config.imid.clone(),
        referenceNo: handle.reference.as_str().to_owned(),
        amt: amount_text(handle.amount),
        merchantToken: String::new(),
    })
}

/// The status report out of a `0000` inquiry answer.
pub(crate) fn status_report(
    handle: &VaHandle,
    answer: InquiryResponse,
) -> Result<VaStatusReport, Error> {
    check_echo(
        "referenceNo",
        answer.referenceNo.as_deref(),
        handle.reference.as_str(),
    )?;
    if let (Some(ours), Some(theirs)) = (&handle.provider_reference, answer.tXid.as_deref()) {
        check_echo("tXid", Some(theirs), ours.as_str())?;
    }
    if answer
        .payMethod
        .as_deref()
        .is_some_and(|m| m != PAY_METHOD_VA)
    {
        return Err(Error::Malformed(
            "inquiry answer is not about a virtual account".to_owned(),
        ));
    }
    let status = answer.status.unwrap_or_default();
    let state = va_state(&status);
    let mut report = VaStatusReport::new(state, status);
    report.va_number = answer.vacctNo;
    report.provider_reference = answer.tXid.clone().map(ProviderReference);
    if state == ProviderVaState::Paid {
        let amt = answer
            .amt
            .ok_or_else(|| Error::Malformed("paid inquiry answer has no amt".to_owned()))?;
        report.paid_amount = Some(parse_amount(&amt)?);
        report.paid_at = wib_date_time(answer.depositDt.as_deref(), answer.depositTm.as_deref());
        report.payment_reference = answer.tXid;
    }
    Ok(report)
}

/// A full cancel of the VA `t_xid` (1.6), unsigned.
pub(crate) fn cancel(
    config: &Config,
    handle: &VaHandle,
    t_xid: &str,
    now: OffsetDateTime,
) -> Result<CancelRequest, Error> {
    Ok(CancelRequest {
        timeStamp: time_stamp(now)?,
        tXid: t_xid.to_owned(),
        iMid: config.imid.clone(),
        payMethod: PAY_METHOD_VA,
        cancelType: CANCEL_FULL,
        amt: amount_text(handle.amount),
        merchantToken: String::new(),
    })
}

/// Checks a `0000` cancel answer: when it names a `tXid`, it must be the one we cancelled.
pub(crate) fn check_cancelled(t_xid: &str, answer: &CancelResponse) -> Result<(), Error> {
    check_echo("tXid", answer.tXid.as_deref(), t_xid)
}

/// The VA payment status of an inquiry (1.8): `0` Paid, `1` Reversal, `3` Unpaid,
/// `4` Expired.
///
/// Reversal maps to `Unknown`: the deposit was taken back, but the docs do not say
/// whether the VA is then open again, so it is left for an operator (never final). Any
/// other code — including whatever a cancelled VA reads as, which is undocumented
/// (1.15 #2) — is `Unknown` too.
pub(crate) fn va_state(status: &str) -> ProviderVaState {
    match status {
        "0" => ProviderVaState::Paid,
        "3" => ProviderVaState::Active,
        "4" => ProviderVaState::Expired,
        "1" => ProviderVaState::Unknown,
        _ => ProviderVaState::Unknown,
    }
}

/// The bank a `bankCd` names (1.9), as the unified API spells banks; an unknown code is
/// passed through as it is.
pub(crate) fn bank_name(code: &str) -> String {
    match code {
        "BNIN" => "BNI",
        "CENA" => "BCA",
        "BMRI" => "MANDIRI",
        "BRIN" => "BRI",
        "BBBA" => "PERMATA",
        "IBBK" => "MAYBANK",
        "HNBN" => "HANA",
        "BNIA" => "CIMB",
        "BDIN" => "DANAMON",
        other => other,
    }
    .to_owned()
}

/// An amount as NICEPAY writes it: whole rupiah, no decimals (`"10000"`).
pub(crate) fn amount_text(amount: Amount) -> String {
    amount.rupiah().to_string()
}

/// An amount NICEPAY sent (`"10000"`, tolerating `"10000.00"`).
pub(crate) fn parse_amount(text: &str) -> Result<Amount, Error> {
    Amount::parse_decimal(text).map_err(|err| Error::Malformed(format!("amt {text:?}: {err}")))
}

/// A WIB date (`YYYYMMDD`) and time (`HHMMSS`) pair, when both are present and valid.
pub(crate) fn wib_date_time(date: Option<&str>, time: Option<&str>) -> Option<OffsetDateTime> {
    let text = format!("{}{}", date?, time?);
    PrimitiveDateTime::parse(
        &text,
        format_description!("[year][month][day][hour][minute][second]"),
    )
    .ok()
    .map(|at| at.assume_offset(WIB))
}

/// Whether `email` can go into `billingEmail` (ANS40).
pub(crate) fn usable_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && email.chars().count() <= MAX_EMAIL_CHARS
        && !email.chars().any(char::is_whitespace)
}

/// The customer's phone as `billingPhone` (N15): digits only, so `+62 812-3456-7890`
/// becomes `6281234567890`. `None` when there is none or it cannot be made numeric.
fn billing_phone(customer: &Customer) -> Option<String> {
    let phone = customer.phone.as_deref()?.trim();
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.');
    if !phone.chars().all(allowed) {
        return None;
    }
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    (!digits.is_empty() && digits.len() <= MAX_PHONE_DIGITS).then_some(digits)
}

fn billing_email(customer: &Customer) -> Option<String> {
    let email = customer.email.as_deref()?.trim();
    usable_email(email).then(|| email.to_owned())
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// An echoed field, when NICEPAY echoes it, must be what we sent.
fn check_echo(field: &str, echoed: Option<&str>, ours: &str) -> Result<(), Error> {
    match echoed {
        Some(theirs) if theirs != ours => Err(Error::Malformed(format!(
            "answer {field} does not match the request"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::OurReference;
    use time::macros::datetime;

    fn customer(phone: Option<&str>, email: Option<&str>) -> Customer {
        Customer {
            name: "Budi Santoso".to_owned(),
            phone: phone.map(str::to_owned),
            email: email.map(str::to_owned),
        }
    }

    fn amount(rupiah: i64) -> Amount {
        Amount::new(rupiah).expect("amount")
    }

    #[test]
    fn va_status_codes_map_and_unknown_codes_are_never_final() {
        assert_eq!(va_state("0"), ProviderVaState::Paid);
        assert_eq!(va_state("3"), ProviderVaState::Active);
        assert_eq!(va_state("4"), ProviderVaState::Expired);
        for code in ["1", "2", "5", "9", "", "00", " 0", "paid"] {
            assert_eq!(va_state(code), ProviderVaState::Unknown, "status {code:?}");
        }
    }

    #[test]
    fn time_stamps_and_expiry_are_in_jakarta_time() {
        let now = datetime!(2024-01-31 17:30:05 UTC);
        assert_eq!(time_stamp(now).expect("formats"), "20240201003005");
        let mut config = crate::tests::config("http://127.0.0.1:1");
        config.bank_code = "CENA".to_owned();
        let request = CreateVa::new(
            OurReference("va_01".to_owned()),
            amount(10000),
            customer(None, None),
            datetime!(2024-02-01 16:59:59 UTC),
        );
        let wire = registration(&config, &request, now).expect("converts");
        assert_eq!(wire.vacctValidDt, "20240201");
        assert_eq!(wire.vacctValidTm, "235959");
        assert_eq!(wire.bankCd, "CENA");
        assert_eq!(wire.amt, "10000");
        assert_eq!(wire.goodsNm, "va_01");
    }

    #[test]
    fn a_customer_without_phone_or_email_gets_the_configured_defaults() {
        let config = crate::tests::config("http://127.0.0.1:1");
        let now = datetime!(2024-01-31 17:30:05 UTC);
        let request = |c| CreateVa::new(OurReference("r".to_owned()), amount(1), c, now);
        let wire =
            registration(&config, &request(customer(None, Some("bad"))), now).expect("converts");
        assert_eq!(wire.billingPhone, config.billing.phone);
        assert_eq!(wire.billingEmail, config.billing.email);

        let given = customer(Some("+62 812-3456-7890"), Some("budi@example.co.id"));
        let wire = registration(&config, &request(given), now).expect("converts");
        assert_eq!(wire.billingPhone, "6281234567890");
        assert_eq!(wire.billingEmail, "budi@example.co.id");
    }

    #[test]
    fn deposit_date_and_time_are_read_as_wib() {
        assert_eq!(
            wib_date_time(Some("20221214"), Some("142500")),
            Some(datetime!(2022-12-14 14:25:00 +7))
        );
        assert_eq!(wib_date_time(Some("20221214"), None), None);
        assert_eq!(wib_date_time(Some("2022-12-14"), Some("142500")), None);
    }

    #[test]
    fn bank_codes_name_their_banks() {
        assert_eq!(bank_name("BNIN"), "BNI");
        assert_eq!(bank_name("CENA"), "BCA");
        assert_eq!(bank_name("BMRI"), "MANDIRI");
        assert_eq!(bank_name("BRIN"), "BRI");
        assert_eq!(bank_name("BBBA"), "PERMATA");
        assert_eq!(bank_name("XXXX"), "XXXX");
    }

    #[test]
    fn a_paid_inquiry_reports_amount_time_and_reference() {
        let handle = VaHandle::new(OurReference("r1".to_owned()), None, None, amount(10000));
        let answer = InquiryResponse {
            tXid: Some("T1".to_owned()),
            referenceNo: Some("r1".to_owned()),
            amt: Some("10000".to_owned()),
            status: Some("0".to_owned()),
            vacctNo: Some("8625".to_owned()),
            depositDt: Some("20221214".to_owned()),
            depositTm: Some("142500".to_owned()),
            ..InquiryResponse::default()
        };
        let report = status_report(&handle, answer).expect("converts");
        assert_eq!(report.state, ProviderVaState::Paid);
        assert_eq!(report.paid_amount, Some(amount(10000)));
        assert_eq!(report.payment_reference.as_deref(), Some("T1"));
        assert_eq!(report.paid_at, Some(datetime!(2022-12-14 14:25:00 +7)));
        assert_eq!(report.provider_status, "0");
    }

    #[test]
    fn an_inquiry_answer_about_another_reference_is_malformed() {
        let handle = VaHandle::new(OurReference("r1".to_owned()), None, None, amount(1));
        let answer = InquiryResponse {
            referenceNo: Some("r2".to_owned()),
            status: Some("3".to_owned()),
            ..InquiryResponse::default()
        };
        assert!(matches!(
            status_report(&handle, answer),
            Err(Error::Malformed(_))
        ));
    }
}
