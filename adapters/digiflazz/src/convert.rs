//! contracts ⇄ wire: request bodies checked before anything is sent, the status table
//! (§1.4, §5.3), lenient amounts, postpaid bill sheets (§1.3.5) and the PLN prepaid token
//! in `sn` (§1.7).

use contracts::biller::{
    BillInquiry, BillPeriod, BillerOrder, BillerProduct, BillerTransaction, BillerTxState,
    CustomerInfo,
};
use contracts::{Amount, OurReference, ProviderReference};
use serde_json::{Map, Number, Value, json};
use time::OffsetDateTime;

use crate::DepositTicket;
use crate::client::Client;
use crate::error::{Error, unformed_kind};
use crate::signature;
use crate::wire::{
    BalanceRequest, DepositRequest, Inquiry, PlnCustomer, PlnInquiryRequest, PostpaidRequest,
    PriceItem, PriceListRequest, Sheet, TopupRequest, Transaction,
};

/// The longest provider text copied into a message.
const MAX_MESSAGE_CHARS: usize = 300;

/// The longest `ref_id` Digiflazz takes.
const MAX_REF_ID_CHARS: usize = 26;

/// The digits of a PLN prepaid token (STS, §1.7).
const TOKEN_DIGITS: usize = 20;

/// The postpaid commands of `/v1/transaction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// `inq-pasca` (§1.3.5).
    Inquire,
    /// `pay-pasca` (§1.3.6).
    Pay,
    /// `status-pasca` (§1.3.7).
    Status,
}

impl Command {
    fn name(self) -> &'static str {
        match self {
            Command::Inquire => "inq-pasca",
            Command::Pay => "pay-pasca",
            Command::Status => "status-pasca",
        }
    }
}

// ---------------------------------------------------------------------------------------
// Requests

/// `ref_id`: upper-case alphanumeric, 1 to 26 characters (the simulator and Digiflazz
/// refuse others with rc 40).
pub(crate) fn ref_id(reference: &OurReference) -> Result<&str, Error> {
    let text = reference.as_str();
    let valid = (1..=MAX_REF_ID_CHARS).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !valid {
        return Err(Error::Request(
            "the reference must be 1 to 26 upper-case letters and digits",
        ));
    }
    Ok(text)
}

/// A product code or customer number: non-empty visible ASCII, sent and signed verbatim.
fn visible<'a>(value: &'a str, refusal: &'static str) -> Result<&'a str, Error> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Request(refusal));
    }
    Ok(value)
}

fn product_code(code: &str) -> Result<&str, Error> {
    visible(code, "the product code must be non-empty visible ASCII")
}

fn customer_no(number: &str) -> Result<&str, Error> {
    visible(
        number,
        "the customer number must be non-empty visible ASCII",
    )
}

/// `/v1/cek-saldo` (§1.3.1).
pub(crate) fn balance(client: &Client) -> Result<BalanceRequest<'_>, Error> {
    Ok(BalanceRequest {
        cmd: "deposit",
        username: client.username(),
        sign: client.sign(signature::BALANCE)?,
    })
}

/// `/v1/price-list` of one kind (§1.3.2): `"prepaid"` or `"pasca"`.
pub(crate) fn price_list(client: &Client, postpaid: bool) -> Result<PriceListRequest<'_>, Error> {
    Ok(PriceListRequest {
        cmd: if postpaid { "pasca" } else { "prepaid" },
        username: client.username(),
        sign: client.sign(signature::PRICE_LIST)?,
    })
}

/// `/v1/deposit` (§1.3.3).
pub(crate) fn deposit<'a>(
    client: &'a Client,
    amount: Amount,
    bank: &'a str,
    owner_name: &'a str,
) -> Result<DepositRequest<'a>, Error> {
    if amount == Amount::ZERO {
        return Err(Error::Request(
            "a deposit ticket needs an amount above zero",
        ));
    }
    visible(bank, "the bank must be non-empty visible ASCII")?;
    if owner_name.trim().is_empty() || owner_name.chars().any(char::is_control) {
        return Err(Error::Request(
            "the owner name must be non-empty and free of control characters",
        ));
    }
    Ok(DepositRequest {
        username: client.username(),
        amount: amount.rupiah(),
        bank,
        owner_name,
        sign: client.sign(signature::DEPOSIT)?,
    })
}

/// The prepaid topup (§1.3.4), also re-sent unchanged as the prepaid status check.
pub(crate) fn topup<'a>(
    client: &'a Client,
    order: &'a BillerOrder,
) -> Result<TopupRequest<'a>, Error> {
    if order.postpaid {
        return Err(Error::Request(
            "a postpaid bill is paid with an inquiry and a payment, not a purchase",
        ));
    }
    let ref_id = ref_id(&order.reference)?;
    Ok(TopupRequest {
        username: client.username(),
        buyer_sku_code: product_code(&order.product_code)?,
        customer_no: customer_no(&order.customer_no)?,
        ref_id,
        sign: client.sign(ref_id)?,
        testing: client.testing(),
        max_price: order.max_price.map(Amount::rupiah),
    })
}

/// A postpaid command (§1.3.5 – 1.3.7). Postpaid takes no `max_price`.
pub(crate) fn postpaid<'a>(
    client: &'a Client,
    command: Command,
    order: &'a BillerOrder,
) -> Result<PostpaidRequest<'a>, Error> {
    if !order.postpaid {
        return Err(Error::Request(
            "a prepaid product is bought with a purchase, not a postpaid command",
        ));
    }
    let ref_id = ref_id(&order.reference)?;
    Ok(PostpaidRequest {
        commands: command.name(),
        username: client.username(),
        buyer_sku_code: product_code(&order.product_code)?,
        customer_no: customer_no(&order.customer_no)?,
        ref_id,
        sign: client.sign(ref_id)?,
        testing: client.testing(),
    })
}

/// `/v1/inquiry-pln` (§1.3.8), signed with the customer number.
pub(crate) fn pln_inquiry<'a>(
    client: &'a Client,
    product: &str,
    number: &'a str,
) -> Result<PlnInquiryRequest<'a>, Error> {
    product_code(product)?;
    let number = customer_no(number)?;
    Ok(PlnInquiryRequest {
        username: client.username(),
        customer_no: number,
        sign: client.sign(number)?,
    })
}

/// A prepaid status check re-submits the purchase (§1.3.4): only for an order the
/// gateway sent, less than `horizon_days` ago. Past 90 days Digiflazz books it anew.
pub(crate) fn status_horizon(
    order: &BillerOrder,
    horizon_days: i64,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let Some(sent_at) = order.sent_at else {
        return Err(Error::Request(
            "a prepaid status check re-submits the purchase and needs when the order was sent",
        ));
    };
    if now - sent_at >= time::Duration::days(horizon_days) {
        return Err(Error::Request(
            "the order was sent too long ago: a prepaid status check would buy it again",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Answers

/// Drops control characters and caps the length of provider text.
pub(crate) fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_MESSAGE_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn text_of<'a>(data: &'a Value, key: &str) -> &'a str {
    data.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Digiflazz's refusal with `rc` and its message (or one naming the code).
fn refused(rc: &str, message: &str) -> Error {
    let rc = clean(rc);
    let mut message = clean(message);
    if message.is_empty() {
        message = format!("Digiflazz refused the request (rc {rc})");
    }
    Error::Refused { rc, message }
}

fn is_failed(status: &str) -> bool {
    status.trim().eq_ignore_ascii_case("Gagal")
}

fn is_success(status: &str) -> bool {
    status.trim().eq_ignore_ascii_case("Sukses")
}

/// The refusal in a non-transaction answer (balance, price list, deposit ticket):
/// `status: "Gagal"`, or without a status an `rc` other than `00`.
fn refusal(data: &Value) -> Option<Error> {
    let rc = data.get("rc").and_then(Value::as_str);
    let failed = match data.get("status").and_then(Value::as_str) {
        Some(status) => is_failed(status),
        None => rc.is_some_and(|rc| rc != "00"),
    };
    failed.then(|| refused(rc.unwrap_or(""), text_of(data, "message")))
}

/// A whole, non-negative rupiah amount from a number or a numeric string; `null` and
/// `""` are absent. A fraction is a protocol error, never rounded.
pub(crate) fn amount(value: Option<&Value>, field: &'static str) -> Result<Option<Amount>, Error> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Amount::parse_decimal(text)
            .map(Some)
            .map_err(|_| Error::Amount(field)),
        Some(Value::Number(number)) => number_amount(number).map(Some).ok_or(Error::Amount(field)),
        Some(_) => Err(Error::Amount(field)),
    }
}

fn number_amount(number: &Number) -> Option<Amount> {
    if let Some(whole) = number.as_i64() {
        return Amount::new(whole).ok();
    }
    if number.is_u64() {
        return None;
    }
    let float = number.as_f64()?;
    let whole = float.is_finite() && float.fract() == 0.0;
    if !whole || float < 0.0 || float > Amount::MAX as f64 {
        return None;
    }
    Amount::new(float as i64).ok()
}

fn required(value: Option<&Value>, field: &'static str) -> Result<Amount, Error> {
    amount(value, field)?.ok_or(Error::Missing(field))
}

/// A JSON scalar as text (`"202611"` or `202611`); `None` for null, `""` or anything else.
fn scalar_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `data` of `/v1/cek-saldo`: `deposit`.
pub(crate) fn balance_of(data: Value) -> Result<Amount, Error> {
    if let Some(err) = refusal(&data) {
        return Err(err);
    }
    amount(data.get("deposit"), "deposit")?
        .ok_or(Error::Unreadable("the answer has no `data.deposit`"))
}

/// `data` of `/v1/price-list`: the items, each read on its own; an item that cannot be
/// read is left out and logged by its SKU.
pub(crate) fn products(data: Value, postpaid: bool) -> Result<Vec<BillerProduct>, Error> {
    let Value::Array(items) = data else {
        return Err(refusal(&data).unwrap_or(Error::Unreadable("the price list is not a list")));
    };
    let mut products = Vec::with_capacity(items.len());
    for item in items {
        let sku = text_of(&item, "buyer_sku_code").to_owned();
        match product(item, postpaid) {
            Ok(product) => products.push(product),
            Err(err) => {
                tracing::warn!(sku = %clean(&sku), error = %err, "digiflazz price-list item skipped");
            }
        }
    }
    Ok(products)
}

fn product(item: Value, postpaid: bool) -> Result<BillerProduct, Error> {
    let item: PriceItem = serde_json::from_value(item)
        .map_err(|_| Error::Protocol("a price-list item has an unexpected shape"))?;
    if item.buyer_sku_code.trim().is_empty() {
        return Err(Error::Missing("buyer_sku_code"));
    }
    let mut product = BillerProduct::new(
        item.buyer_sku_code,
        item.product_name.unwrap_or_default(),
        item.category.unwrap_or_default(),
        item.brand.unwrap_or_default(),
        postpaid,
    );
    if postpaid {
        product.admin_fee = amount(item.admin.as_ref(), "admin")?;
        product.commission = amount(item.commission.as_ref(), "commission")?;
    } else {
        product.price = amount(item.price.as_ref(), "price")?;
    }
    product.available =
        item.buyer_product_status == Some(true) && item.seller_product_status == Some(true);
    product.description = item.desc.unwrap_or_default();
    Ok(product)
}

/// `data` of `/v1/inquiry-pln`: the customer on `Sukses`; `Gagal` is a refusal (rc 54
/// for an unknown meter).
pub(crate) fn customer(number: &str, data: Value) -> Result<CustomerInfo, Error> {
    decided(&data)?;
    let customer: PlnCustomer = serde_json::from_value(data)
        .map_err(|_| Error::Protocol("the PLN customer has an unexpected shape"))?;
    let details = json!({
        "meter_no": customer.meter_no.unwrap_or(Value::Null),
        "subscriber_id": customer.subscriber_id.unwrap_or(Value::Null),
        "segment_power": customer.segment_power.unwrap_or(Value::Null),
    });
    Ok(CustomerInfo::new(
        number.to_owned(),
        customer.name.unwrap_or_default().trim().to_owned(),
        details,
    ))
}

/// An inquiry's answer (`inquiry-pln`, `inq-pasca`) is `Sukses` (continue) or `Gagal`
/// (a refusal, whatever the code); anything else decides nothing.
fn decided(data: &Value) -> Result<(), Error> {
    let Some(status) = data.get("status").and_then(Value::as_str) else {
        return Err(Error::Unreadable("the answer has no `data.status`"));
    };
    let rc = text_of(data, "rc");
    if is_success(status) {
        Ok(())
    } else if is_failed(status) {
        Err(refused(rc, text_of(data, "message")))
    } else {
        Err(Error::Undecided { rc: clean(rc) })
    }
}

/// The `data` of a transaction command, read: `status` must be there (else the outcome is
/// unknown), and the rest must have the protocol's types.
fn read_transaction(data: Value) -> Result<Transaction, Error> {
    if data.get("status").and_then(Value::as_str).is_none() {
        return Err(Error::Unreadable("the answer has no `data.status`"));
    }
    serde_json::from_value(data)
        .map_err(|_| Error::Protocol("a transaction field has an unexpected type"))
}

/// An answer about another `ref_id` than ours contradicts the protocol.
fn same_reference(ours: &OurReference, theirs: Option<&str>) -> Result<(), Error> {
    match theirs.map(str::trim) {
        Some(theirs) if !theirs.is_empty() && theirs != ours.as_str() => Err(Error::Protocol(
            "the answer is about another ref_id than the one sent",
        )),
        _ => Ok(()),
    }
}

/// `data` of a topup, `pay-pasca` or `status-pasca` (or of a re-sent topup) for `order`.
/// A `Gagal` whose transaction is not formed is a refusal; `status-pasca`'s "no such
/// transaction" (rc 50, `Data belum ada`) is [`BillerTxState::NotFound`].
pub(crate) fn transaction(
    order: &BillerOrder,
    data: Value,
    is_status: bool,
) -> Result<BillerTransaction, Error> {
    let answer = read_transaction(data)?;
    same_reference(&order.reference, answer.ref_id.as_deref())?;
    if is_failed(&answer.status) {
        let rc = answer.rc.as_deref().unwrap_or("");
        let message = answer.message.as_deref().unwrap_or("");
        if is_status && order.postpaid && is_not_found(rc, message) {
            let mut report =
                BillerTransaction::new(order.reference.clone(), BillerTxState::NotFound, clean(rc));
            report.message = clean(message);
            return Ok(report);
        }
        if unformed_kind(rc).is_some() {
            return Err(refused(rc, message));
        }
    }
    report(order.reference.clone(), &answer, order.postpaid)
}

/// `status-pasca` of an unknown (or over 90 days old) `ref_id` (§1.3.7).
fn is_not_found(rc: &str, message: &str) -> bool {
    rc == "50" || message.to_ascii_lowercase().contains("data belum ada")
}

/// A webhook's transaction (§1.5): the state as reported, a `Gagal` of any code being
/// `Failed`.
pub(crate) fn reported(data: Value, postpaid: bool) -> Result<BillerTransaction, Error> {
    let answer = read_transaction(data)?;
    let Some(ref_id) = non_empty(answer.ref_id.as_deref()) else {
        return Err(Error::Missing("ref_id"));
    };
    report(OurReference(ref_id), &answer, postpaid)
}

/// The normalized state of `status` (§5.3); an unknown status is never final.
fn state(status: &str, rc: &str, message: &str) -> BillerTxState {
    if is_success(status) {
        BillerTxState::Success
    } else if is_failed(status) {
        BillerTxState::Failed {
            code: rc.to_owned(),
            reason: message.to_owned(),
        }
    } else {
        if !status.trim().eq_ignore_ascii_case("Pending") {
            tracing::warn!(status = %clean(status), "digiflazz status unknown; kept pending");
        }
        BillerTxState::Pending
    }
}

/// The transaction as Digiflazz reports it. The PLN token is read from `sn` of a
/// successful prepaid purchase only: a postpaid `sn` is a receipt reference that may
/// start with digits, and a failed or refunded purchase delivers no token.
fn report(
    reference: OurReference,
    answer: &Transaction,
    postpaid: bool,
) -> Result<BillerTransaction, Error> {
    let rc = clean(answer.rc.as_deref().unwrap_or(""));
    let message = clean(answer.message.as_deref().unwrap_or(""));
    let state = state(&answer.status, &rc, &message);
    let success = state == BillerTxState::Success;
    let mut report = BillerTransaction::new(reference, state, rc);
    report.message = message;
    report.provider_reference = non_empty(answer.trx_id.as_deref()).map(ProviderReference);
    report.serial_number = non_empty(answer.sn.as_deref());
    report.biller_cost = amount(answer.price.as_ref(), "price")?;
    report.customer_total = amount(answer.selling_price.as_ref(), "selling_price")?;
    report.balance_after = amount(answer.buyer_last_saldo.as_ref(), "buyer_last_saldo")?;
    if postpaid {
        report.details = answer.desc.clone().unwrap_or(Value::Null);
    } else if let Some((token, details)) = report
        .serial_number
        .as_deref()
        .filter(|_| success)
        .and_then(pln_token)
    {
        report.token = Some(token);
        report.details = details;
    }
    Ok(report)
}

/// The PLN prepaid token in `sn` (§1.7): the first 20 digits when `sn` starts with at
/// least 20 digits among `[0-9 -]` (`5721-7714-3897-2629-3021/NAME/R1M/900VA/14.5KWH`),
/// with `{token, name, tariff, power, kwh}` read best-effort from the `/` parts.
pub(crate) fn pln_token(sn: &str) -> Option<(String, Value)> {
    let token: String = sn
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ' ' || *c == '-')
        .filter(char::is_ascii_digit)
        .take(TOKEN_DIGITS)
        .collect();
    if token.len() < TOKEN_DIGITS {
        return None;
    }
    let mut details = Map::new();
    details.insert("token".to_owned(), Value::String(token.clone()));
    for (key, part) in ["name", "tariff", "power", "kwh"]
        .into_iter()
        .zip(sn.split('/').skip(1))
    {
        let part = part.trim();
        if !part.is_empty() {
            details.insert(key.to_owned(), Value::String(part.to_owned()));
        }
    }
    Some((token, Value::Object(details)))
}

/// `data` of `inq-pasca` (§1.3.5): the sheets from `desc.detail[]`, amount = Σ
/// `nilai_tagihan`, penalty = Σ `denda`, admin = `admin`, customer total =
/// `selling_price`, biller cost = `price`; the details are `desc` without `detail`.
///
/// Products whose sheets carry no `nilai_tagihan` (BPJS: `periode` only) get the amount
/// as customer total − admin − penalty, the identity every worked example holds.
pub(crate) fn inquiry(order: &BillerOrder, data: Value) -> Result<BillInquiry, Error> {
    decided(&data)?;
    let answer: Inquiry = serde_json::from_value(data)
        .map_err(|_| Error::Protocol("an inquiry field has an unexpected type"))?;
    same_reference(&order.reference, answer.ref_id.as_deref())?;
    let mut desc = answer.desc.unwrap_or_default();
    let sheets: Vec<Sheet> = match desc.remove("detail") {
        None | Some(Value::Null) => Vec::new(),
        Some(detail) => serde_json::from_value(detail)
            .map_err(|_| Error::Protocol("`desc.detail` is not a list of bill sheets"))?,
    };
    let sheets = sheets.iter().map(sheet).collect::<Result<Vec<_>, _>>()?;
    let total = |part: fn(&ReadSheet) -> Amount| {
        sheets.iter().fold(Amount::ZERO, |total, sheet| {
            total.saturating_add(part(sheet))
        })
    };
    let penalty = total(|s| s.penalty);
    let biller_cost = required(answer.price.as_ref(), "price")?;
    let customer_total = required(answer.selling_price.as_ref(), "selling_price")?;
    let admin_fee = amount(answer.admin.as_ref(), "admin")?.unwrap_or_else(|| total(|s| s.admin));
    let billed = !sheets.is_empty() && sheets.iter().all(|s| s.amount.is_some());
    let amount = if billed {
        total(|s| s.amount.unwrap_or(Amount::ZERO))
    } else {
        customer_total
            .saturating_sub(admin_fee)
            .saturating_sub(penalty)
    };
    let mut inquiry = BillInquiry::new(
        order.reference.clone(),
        answer.customer_name.unwrap_or_default().trim().to_owned(),
        amount,
        admin_fee,
        penalty,
        biller_cost,
        customer_total,
    );
    inquiry.periods = sheets.into_iter().map(|s| s.period).collect();
    inquiry.details = Value::Object(desc);
    Ok(inquiry)
}

/// One bill sheet as read: the period, and its amounts (absent ones are zero in the
/// period; `amount` stays `None` so a sheet without `nilai_tagihan` is known).
struct ReadSheet {
    period: BillPeriod,
    amount: Option<Amount>,
    admin: Amount,
    penalty: Amount,
}

fn sheet(sheet: &Sheet) -> Result<ReadSheet, Error> {
    let amount = amount(sheet.nilai_tagihan.as_ref(), "nilai_tagihan")?;
    let admin = amount_or_zero(sheet.admin.as_ref(), "admin")?;
    let penalty = amount_or_zero(sheet.denda.as_ref(), "denda")?;
    let mut period = BillPeriod::default();
    period.period = scalar_text(sheet.periode.as_ref()).unwrap_or_default();
    period.amount = amount.map_or(0, Amount::rupiah);
    period.admin_fee = admin.rupiah();
    period.penalty = penalty.rupiah();
    period.meter_start = scalar_text(sheet.meter_awal.as_ref());
    period.meter_end = scalar_text(sheet.meter_akhir.as_ref());
    Ok(ReadSheet {
        period,
        amount,
        admin,
        penalty,
    })
}

fn amount_or_zero(value: Option<&Value>, field: &'static str) -> Result<Amount, Error> {
    Ok(amount(value, field)?.unwrap_or(Amount::ZERO))
}

/// `data` of `/v1/deposit` (§1.3.3): `rc` `00` and the transfer to make.
pub(crate) fn deposit_ticket(data: Value) -> Result<DepositTicket, Error> {
    if let Some(err) = refusal(&data) {
        return Err(err);
    }
    if data.get("rc").is_none() {
        return Err(Error::Unreadable("the answer has no `data.rc`"));
    }
    let ticket: crate::wire::DepositTicket = serde_json::from_value(data)
        .map_err(|_| Error::Protocol("the deposit ticket has an unexpected shape"))?;
    Ok(DepositTicket {
        bank: ticket.bank.unwrap_or_default(),
        payment_method: ticket.payment_method.unwrap_or_default(),
        account_no: scalar_text(ticket.account_no.as_ref()).ok_or(Error::Missing("account_no"))?,
        notes: ticket.notes.unwrap_or_default(),
        amount: required(ticket.amount.as_ref(), "amount")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_whole_rupiah_from_numbers_or_numeric_strings() {
        let read = |value: Value| amount(Some(&value), "price").map(|a| a.map(Amount::rupiah));
        assert_eq!(read(json!(10000)).ok(), Some(Some(10000)));
        assert_eq!(read(json!(10000.0)).ok(), Some(Some(10000)));
        assert_eq!(read(json!("8000")).ok(), Some(Some(8000)));
        assert_eq!(read(json!("8000.00")).ok(), Some(Some(8000)));
        assert_eq!(read(json!("")).ok(), Some(None));
        assert_eq!(read(Value::Null).ok(), Some(None));
        assert_eq!(amount(None, "price").ok(), Some(None));
        for bad in [
            json!(10000.5),
            json!("10000.5"),
            json!(-1),
            json!("-1"),
            json!(1e300),
            json!(u64::MAX),
            json!("abc"),
            json!(true),
            json!({"value": 1}),
        ] {
            assert!(
                matches!(read(bad.clone()), Err(Error::Amount("price"))),
                "{bad}"
            );
        }
    }

    #[test]
    fn references_are_upper_case_alphanumeric_up_to_26() {
        for good in ["A", "TRX0001", "ORD20261101A", &"Z".repeat(26)] {
            assert_eq!(
                ref_id(&OurReference(good.to_owned())).ok(),
                Some(good),
                "{good}"
            );
        }
        for bad in [
            "",
            "trx0001",
            "TRX-0001",
            "TRX 0001",
            &"Z".repeat(27),
            "ÄBC",
        ] {
            assert!(ref_id(&OurReference(bad.to_owned())).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_pln_token_is_the_first_twenty_digits_with_best_effort_details() {
        let (token, details) =
            pln_token("5721-7714-3897-2629-3021/SHINTA HANDAYANI/R1M/900VA/14.5KWH")
                .expect("token");
        assert_eq!(token, "57217714389726293021");
        assert_eq!(
            details,
            json!({"token": token, "name": "SHINTA HANDAYANI", "tariff": "R1M",
                   "power": "900VA", "kwh": "14.5KWH"})
        );
        let (token, details) =
            pln_token("5721 7714 3897 2629 3021 /SHINTA-HANDAYANI  /R1M").expect("spaces");
        assert_eq!(token, "57217714389726293021");
        assert_eq!(
            details,
            json!({"token": token, "name": "SHINTA-HANDAYANI", "tariff": "R1M"})
        );
        let (token, details) = pln_token("57217714389726293021").expect("bare");
        assert_eq!(token, "57217714389726293021");
        assert_eq!(details, json!({"token": token}));
        assert_eq!(
            pln_token("572177143897262930219").map(|t| t.0).as_deref(),
            Some("57217714389726293021")
        );
        for no_token in [
            "",
            "1234567890",
            "5721-7714-3897-2629-302/SHINTA/R1M",
            "S1234554321N",
            "A5721771438972629302100",
            "5721-7714-3897-2629/3021",
        ] {
            assert_eq!(pln_token(no_token), None, "{no_token}");
        }
    }
}
