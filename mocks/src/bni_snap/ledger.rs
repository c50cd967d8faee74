//! The VAs the simulated bank holds, the field rules of B.5 and what each service does to
//! them. Every operation takes the parsed request body and answers the
//! `virtualAccountData` of a success or a [`Refusal`]; the caller wraps either into a SNAP
//! answer with its service code.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::callback::SimError;
use crate::snap;
use crate::wib;

/// The longest `virtualAccountName` (B.5).
const NAME_MAX: usize = 255;
/// The longest `trxId` (B.5).
const TRX_ID_MAX: usize = 64;
/// The longest `customerNo` (B.5: String(20)).
const CUSTOMER_NO_MAX: usize = 20;

/// The request fields create and update keep and echo (B.5), in answer order.
const ECHOED: [&str; 13] = [
    "partnerServiceId",
    "customerNo",
    "virtualAccountNo",
    "virtualAccountName",
    "virtualAccountEmail",
    "virtualAccountPhone",
    "trxId",
    "totalAmount",
    "billDetails",
    "freeTexts",
    "virtualAccountTrxType",
    "feeAmount",
    "expiredDate",
];

/// A refusal: HTTP status, case code and message; the service code is added by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) http: u16,
    pub(super) case: u8,
    pub(super) message: String,
}

impl Refusal {
    fn new(http: u16, case: u8, message: impl Into<String>) -> Self {
        Self {
            http,
            case,
            message: message.into(),
        }
    }

    pub(super) fn bad_request() -> Self {
        Self::new(400, 0, "Bad Request")
    }

    fn format(field: &str) -> Self {
        Self::new(400, 1, format!("Invalid Field Format [{field}]"))
    }

    fn mandatory(field: &str) -> Self {
        Self::new(400, 2, format!("Invalid Mandatory Field [{field}]"))
    }

    fn unknown_va() -> Self {
        Self::new(404, 12, "Invalid Bill/Virtual Account [Not Found]")
    }

    fn transaction_not_found() -> Self {
        Self::new(404, 1, "Transaction Not Found")
    }

    fn cancelled() -> Self {
        Self::new(404, 4, "Transaction Cancelled")
    }

    fn amount() -> Self {
        Self::new(404, 13, "Invalid Amount")
    }

    fn paid() -> Self {
        Self::new(404, 14, "Paid Bill")
    }

    fn expired() -> Self {
        Self::new(404, 19, "Invalid Bill/Virtual Account [Expired]")
    }

    fn duplicate() -> Self {
        Self::new(409, 1, "Duplicate partnerReferenceNo")
    }

    /// The SNAP answer of this refusal for `service`.
    pub(super) fn answer(&self, service: u8) -> (axum::http::StatusCode, Value) {
        snap::error_answer(self.http, service, self.case, &self.message)
    }
}

/// `virtualAccountTrxType` (B.5), which decides what payments a VA takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrxType {
    /// `C`: exactly the total, once.
    Closed,
    /// `O`: any amount, any number of times.
    Open,
    /// `I`: several payments until the total is reached.
    Installment,
    /// `M`: one payment of at least the total.
    Minimum,
    /// `L`: one payment of at most the total.
    Maximum,
    /// `N`: several payments, each at least the total.
    OpenMinimum,
    /// `X`: several payments, each at most the total.
    OpenMaximum,
}

impl TrxType {
    fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_uppercase().as_str() {
            "C" => Self::Closed,
            "O" => Self::Open,
            "I" => Self::Installment,
            "M" => Self::Minimum,
            "L" => Self::Maximum,
            "N" => Self::OpenMinimum,
            "X" => Self::OpenMaximum,
            _ => return None,
        })
    }
}

/// Where a VA stands at the bank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VaState {
    /// Takes payments.
    Active,
    /// Closed by payment (or flagged paid through Update Status VA).
    Paid,
    /// Past `expiredDate`, unpaid.
    Expired,
    /// Deleted through Delete VA.
    Deleted,
}

impl VaState {
    fn name(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paid => "paid",
            Self::Expired => "expired",
            Self::Deleted => "deleted",
        }
    }
}

/// One payment the bank took.
#[derive(Clone, Debug)]
pub(super) struct Payment {
    pub(super) request_id: String,
    pub(super) amount: i64,
    pub(super) reference_no: String,
    pub(super) at: OffsetDateTime,
    /// The payment notification's body (B.4), as posted.
    pub(super) notification: Value,
}

/// A read-only snapshot of one payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaymentView {
    /// The bank's `paymentRequestId` (the same on every resend of its notification).
    pub payment_request_id: String,
    /// Amount paid, in rupiah.
    pub amount: i64,
    /// The bank's `referenceNo`.
    pub reference_no: String,
    /// When it was paid (`+07:00`).
    pub paid_at: String,
}

impl Payment {
    fn view(&self) -> PaymentView {
        PaymentView {
            payment_request_id: self.request_id.clone(),
            amount: self.amount,
            reference_no: self.reference_no.clone(),
            paid_at: wib::iso(self.at),
        }
    }
}

/// A read-only snapshot of a VA, for tests and the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VaView {
    /// `partnerServiceId` as received (8 characters, left-padded with spaces).
    pub partner_service_id: String,
    /// `customerNo` as received.
    pub customer_no: String,
    /// `virtualAccountNo` as received (`partnerServiceId` + `customerNo`).
    pub virtual_account_no: String,
    /// The number the customer pays to: `virtualAccountNo` without its padding.
    pub va_number: String,
    /// The merchant's `trxId`.
    pub trx_id: String,
    /// `virtualAccountName`.
    pub name: String,
    /// What payments it takes.
    pub trx_type: TrxType,
    /// `totalAmount` in rupiah, when given.
    pub total_amount: Option<i64>,
    /// `expiredDate` as received, when given.
    pub expired_date: Option<String>,
    /// Where it stands.
    pub state: VaState,
    /// Update Status VA set `paidStatus` `Y`.
    pub flagged_paid: bool,
    /// Sum of the payments taken.
    pub paid_amount: i64,
    /// The payments taken, oldest first.
    pub payments: Vec<PaymentView>,
    /// A payment notified to the merchant and not acknowledged yet.
    pub pending_payment_request_id: Option<String>,
}

#[derive(Clone, Debug)]
pub(super) struct Va {
    /// Identity and the other create/update fields, as received.
    echo: Map<String, Value>,
    additional_info: Value,
    pub(super) virtual_account_no: String,
    pub(super) trx_id: String,
    trx_type: TrxType,
    total: Option<i64>,
    expires_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    deleted_at: Option<OffsetDateTime>,
    flagged_paid: bool,
    pub(super) payments: Vec<Payment>,
    pub(super) pending: Option<Payment>,
}

impl Va {
    pub(super) fn state(&self, now: OffsetDateTime) -> VaState {
        if self.flagged_paid || self.closed_by_payments() {
            VaState::Paid
        } else if self.deleted_at.is_some() {
            VaState::Deleted
        } else if self.expires_at.is_some_and(|at| now > at) {
            VaState::Expired
        } else {
            VaState::Active
        }
    }

    /// Sets the expiry (tests make a VA expire now).
    pub(super) fn expire_at(&mut self, at: OffsetDateTime) {
        self.expires_at = Some(at);
    }

    fn paid_amount(&self) -> i64 {
        self.payments.iter().map(|p| p.amount).sum()
    }

    fn closed_by_payments(&self) -> bool {
        match self.trx_type {
            _ if self.payments.is_empty() => false,
            TrxType::Closed | TrxType::Minimum | TrxType::Maximum => true,
            TrxType::Installment => self.total.is_some_and(|t| self.paid_amount() >= t),
            TrxType::Open | TrxType::OpenMinimum | TrxType::OpenMaximum => false,
        }
    }

    fn text(&self, key: &str) -> String {
        let value = self.echo.get(key).and_then(Value::as_str);
        value.unwrap_or_default().to_owned()
    }

    /// Whether a payment of `amount` is acceptable now.
    pub(super) fn accepts(&self, amount: i64, now: OffsetDateTime) -> Result<(), SimError> {
        let state = self.state(now);
        if state != VaState::Active {
            return Err(SimError::NotPayable {
                reference: self.trx_id.clone(),
                state: state.name(),
            });
        }
        let refused = |reason: String| Err(SimError::AmountRefused { amount, reason });
        if amount <= 0 {
            return refused("payments must be positive".to_owned());
        }
        let Some(total) = self.total else {
            return Ok(());
        };
        match self.trx_type {
            TrxType::Closed if amount != total => refused(format!("a closed VA takes {total}")),
            TrxType::Installment if self.paid_amount() + amount > total => {
                refused(format!("only {} is still due", total - self.paid_amount()))
            }
            TrxType::Minimum | TrxType::OpenMinimum if amount < total => {
                refused(format!("at least {total}"))
            }
            TrxType::Maximum | TrxType::OpenMaximum if amount > total => {
                refused(format!("at most {total}"))
            }
            _ => Ok(()),
        }
    }

    /// The payment notification body (B.4) of `payment`, fields in the standard's order.
    pub(super) fn notification(&self, payment: &Payment) -> Value {
        let mut body = self.identity_data();
        body.insert(
            "virtualAccountName".to_owned(),
            json!(self.text("virtualAccountName")),
        );
        body.insert("trxId".to_owned(), json!(self.trx_id));
        body.insert("paymentRequestId".to_owned(), json!(payment.request_id));
        body.insert("paidAmount".to_owned(), snap::amount(payment.amount));
        if let Some(total) = self.total {
            body.insert("totalAmount".to_owned(), snap::amount(total));
        }
        body.insert("trxDateTime".to_owned(), json!(wib::iso(payment.at)));
        body.insert("referenceNo".to_owned(), json!(payment.reference_no));
        body.insert("flagAdvise".to_owned(), json!("N"));
        body.insert("additionalInfo".to_owned(), json!({}));
        Value::Object(body)
    }

    fn echo_data(&self) -> Map<String, Value> {
        let mut data = self.echo.clone();
        data.insert("additionalInfo".to_owned(), self.additional_info.clone());
        data
    }

    /// The answer of Update, Update Status and Inquiry VA: the echo plus `lastUpdateDate`
    /// and `paymentDate` (B.5).
    fn data_with_dates(&self) -> Map<String, Value> {
        let mut data = self.echo_data();
        let paid_at = self.payments.last().map(|p| wib::iso(p.at));
        data.insert(
            "lastUpdateDate".to_owned(),
            json!(wib::iso(self.updated_at)),
        );
        data.insert("paymentDate".to_owned(), json!(paid_at));
        data
    }

    fn identity_data(&self) -> Map<String, Value> {
        let mut data = Map::new();
        for key in ["partnerServiceId", "customerNo", "virtualAccountNo"] {
            data.insert(key.to_owned(), json!(self.text(key)));
        }
        data
    }

    /// The Inquiry Status view of `payment` (B.5).
    fn status_data(&self, payment: &Payment, inquiry_request_id: Option<String>) -> Value {
        let mut data = self.identity_data();
        let extra = json!({
            "inquiryRequestId": inquiry_request_id,
            "paymentRequestId": payment.request_id,
            "paidAmount": snap::amount(payment.amount),
            "totalAmount": self.total.map(snap::amount),
            "trxDateTime": wib::iso(payment.at),
            "transactionDate": wib::iso(payment.at),
            "referenceNo": payment.reference_no,
            "paymentType": "1",
            "flagAdvise": "N",
            "paymentFlagStatus": "00",
            "paymentFlagReason": {"english": "Success", "indonesia": "Sukses"},
            "billDetails": self.echo.get("billDetails").cloned().unwrap_or(json!([])),
            "freeTexts": self.echo.get("freeTexts").cloned().unwrap_or(json!([])),
        });
        if let Value::Object(extra) = extra {
            data.extend(extra);
        }
        data.insert("additionalInfo".to_owned(), json!({}));
        Value::Object(data)
    }

    pub(super) fn view(&self, now: OffsetDateTime) -> VaView {
        VaView {
            partner_service_id: self.text("partnerServiceId"),
            customer_no: self.text("customerNo"),
            virtual_account_no: self.virtual_account_no.clone(),
            va_number: self.virtual_account_no.trim_start().to_owned(),
            trx_id: self.trx_id.clone(),
            name: self.text("virtualAccountName"),
            trx_type: self.trx_type,
            total_amount: self.total,
            expired_date: Some(self.text("expiredDate")).filter(|d| !d.is_empty()),
            state: self.state(now),
            flagged_paid: self.flagged_paid,
            paid_amount: self.paid_amount(),
            payments: self.payments.iter().map(Payment::view).collect(),
            pending_payment_request_id: self.pending.as_ref().map(|p| p.request_id.clone()),
        }
    }
}

/// Field access with the refusals of B.6: absent, null or empty → `400xx02`, another type
/// or shape → `400xx01`.
pub(super) struct Fields<'a>(pub(super) &'a Map<String, Value>);

impl Fields<'_> {
    fn optional(&self, key: &str) -> Result<Option<&str>, Refusal> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(Refusal::format(key)),
        }
    }

    fn required(&self, key: &str) -> Result<&str, Refusal> {
        self.optional(key)?.ok_or_else(|| Refusal::mandatory(key))
    }

    fn bounded(&self, key: &str, max: usize) -> Result<&str, Refusal> {
        let text = self.required(key)?;
        if text.chars().count() > max {
            return Err(Refusal::format(key));
        }
        Ok(text)
    }

    /// The identity triple (B.5): `partnerServiceId` exactly 8 characters, digits
    /// left-padded with spaces; `customerNo` 1–20 digits; `virtualAccountNo` their
    /// concatenation.
    fn identity(&self) -> Result<String, Refusal> {
        let service_id = self.required("partnerServiceId")?;
        let digits = service_id.trim_start_matches(' ');
        if service_id.len() != 8 || digits.is_empty() || !all_digits(digits) {
            return Err(Refusal::format("partnerServiceId"));
        }
        let customer_no = self.required("customerNo")?;
        if customer_no.len() > CUSTOMER_NO_MAX || !all_digits(customer_no) {
            return Err(Refusal::format("customerNo"));
        }
        let number = self.required("virtualAccountNo")?;
        if number != format!("{service_id}{customer_no}") {
            return Err(Refusal::format("virtualAccountNo"));
        }
        Ok(number.to_owned())
    }

    /// An amount object: `value` with exactly two decimals, `.00` (IDR has no cents here),
    /// `currency` `IDR`.
    fn amount(&self, key: &str) -> Result<Option<i64>, Refusal> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => snap::parse_amount(value)
                .map(Some)
                .ok_or_else(|| Refusal::format(key)),
        }
    }

    fn trx_type(&self) -> Result<TrxType, Refusal> {
        match self.optional("virtualAccountTrxType")? {
            None => Ok(TrxType::Closed),
            Some(text) => {
                TrxType::parse(text).ok_or_else(|| Refusal::format("virtualAccountTrxType"))
            }
        }
    }

    /// `expiredDate`: ISO 8601 with an offset, in the future.
    fn expiry(&self, now: OffsetDateTime) -> Result<Option<OffsetDateTime>, Refusal> {
        let Some(text) = self.optional("expiredDate")? else {
            return Ok(None);
        };
        match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(at) if at > now => Ok(Some(at)),
            _ => Err(Refusal::format("expiredDate")),
        }
    }

    /// `virtualAccountPhone` (`62…`, digits) and `virtualAccountEmail` (an `@`), when given.
    fn contacts(&self) -> Result<(), Refusal> {
        if let Some(phone) = self.optional("virtualAccountPhone")?
            && (!phone.starts_with("62") || !all_digits(phone) || phone.len() > 30)
        {
            return Err(Refusal::format("virtualAccountPhone"));
        }
        if let Some(email) = self.optional("virtualAccountEmail")?
            && !email.contains('@')
        {
            return Err(Refusal::format("virtualAccountEmail"));
        }
        Ok(())
    }

    fn echo(&self) -> Map<String, Value> {
        let mut echo = Map::new();
        for key in ECHOED {
            if let Some(value) = self.0.get(key).filter(|v| !v.is_null()) {
                echo.insert(key.to_owned(), value.clone());
            }
        }
        echo
    }

    fn additional_info(&self) -> Value {
        self.0.get("additionalInfo").cloned().unwrap_or(json!({}))
    }
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// What create and update read from a request.
struct VaFields {
    virtual_account_no: String,
    trx_id: String,
    trx_type: TrxType,
    total: Option<i64>,
    expires_at: Option<OffsetDateTime>,
}

/// Create's and update's field checks (B.5).
fn va_fields(f: &Fields<'_>, now: OffsetDateTime) -> Result<VaFields, Refusal> {
    let virtual_account_no = f.identity()?;
    f.bounded("virtualAccountName", NAME_MAX)?;
    let trx_id = f.bounded("trxId", TRX_ID_MAX)?.to_owned();
    f.contacts()?;
    let trx_type = f.trx_type()?;
    let total = f.amount("totalAmount")?;
    match total {
        None if trx_type != TrxType::Open => return Err(Refusal::mandatory("totalAmount")),
        Some(0) if trx_type != TrxType::Open => return Err(Refusal::format("totalAmount")),
        _ => {}
    }
    f.amount("feeAmount")?;
    let expires_at = f.expiry(now)?;
    Ok(VaFields {
        virtual_account_no,
        trx_id,
        trx_type,
        total,
        expires_at,
    })
}

/// Everything the simulated bank holds.
#[derive(Default)]
pub(super) struct Ledger {
    pub(super) vas: BTreeMap<String, Va>,
    /// `virtualAccountNo` → the `trxId`s that used it, oldest first.
    by_number: HashMap<String, Vec<String>>,
    pub(super) calls: HashMap<String, usize>,
    next_reference: u64,
}

impl Ledger {
    pub(super) fn new(first_reference: u64) -> Self {
        Self {
            next_reference: first_reference,
            ..Self::default()
        }
    }

    /// Create VA (svc 27). The identity triple is required: BNI VA numbers are the
    /// merchant's (prefix and client id, then the merchant's serial), so the bank does not
    /// generate one.
    pub(super) fn create(&mut self, f: &Fields<'_>, now: OffsetDateTime) -> Result<Value, Refusal> {
        let fields = va_fields(f, now)?;
        if self.vas.contains_key(&fields.trx_id) || self.open_with(&fields.virtual_account_no, now)
        {
            return Err(Refusal::duplicate());
        }
        let va = Va {
            echo: f.echo(),
            additional_info: f.additional_info(),
            virtual_account_no: fields.virtual_account_no.clone(),
            trx_id: fields.trx_id.clone(),
            trx_type: fields.trx_type,
            total: fields.total,
            expires_at: fields.expires_at,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            flagged_paid: false,
            payments: Vec::new(),
            pending: None,
        };
        let data = Value::Object(va.echo_data());
        self.by_number
            .entry(fields.virtual_account_no)
            .or_default()
            .push(fields.trx_id.clone());
        self.vas.insert(fields.trx_id, va);
        Ok(data)
    }

    /// Update VA (svc 28): every create field again; the identity triple and `trxId` name
    /// the VA and cannot change.
    pub(super) fn update(&mut self, f: &Fields<'_>, now: OffsetDateTime) -> Result<Value, Refusal> {
        let fields = va_fields(f, now)?;
        let va = self.named_mut(&fields.trx_id, &fields.virtual_account_no)?;
        writable(va, now)?;
        if fields
            .total
            .is_some_and(|total| va.trx_type == TrxType::Installment && total < va.paid_amount())
        {
            return Err(Refusal::amount());
        }
        va.echo = f.echo();
        va.additional_info = f.additional_info();
        va.trx_type = fields.trx_type;
        va.total = fields.total;
        va.expires_at = fields.expires_at;
        va.updated_at = now;
        Ok(Value::Object(va.data_with_dates()))
    }

    /// Update Status VA (svc 29): `paidStatus` `Y` closes the VA as paid, `N` reopens one
    /// that was only flagged.
    pub(super) fn update_status(
        &mut self,
        f: &Fields<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Refusal> {
        let number = f.identity()?;
        let trx_id = f.required("trxId")?;
        let flag = match f.required("paidStatus")? {
            "Y" => true,
            "N" => false,
            _ => return Err(Refusal::format("paidStatus")),
        };
        let va = self.named_mut(trx_id, &number)?;
        if va.closed_by_payments() {
            return Err(Refusal::paid());
        }
        match va.state(now) {
            VaState::Deleted => return Err(Refusal::cancelled()),
            VaState::Expired => return Err(Refusal::expired()),
            VaState::Active | VaState::Paid => {}
        }
        va.flagged_paid = flag;
        va.updated_at = now;
        let mut data = va.data_with_dates();
        data.insert("paidStatus".to_owned(), json!(if flag { "Y" } else { "N" }));
        Ok(Value::Object(data))
    }

    /// Inquiry VA (svc 30): the VA as the bank holds it, paid or expired included.
    pub(super) fn inquiry(&self, f: &Fields<'_>, now: OffsetDateTime) -> Result<Value, Refusal> {
        let number = f.identity()?;
        let trx_id = f.required("trxId")?;
        let va = self.named(trx_id, &number)?;
        if va.state(now) == VaState::Deleted {
            return Err(Refusal::cancelled());
        }
        Ok(Value::Object(va.data_with_dates()))
    }

    /// Delete VA (svc 31): `trxId` optional (then the number's open VA, else its newest);
    /// deleting a deleted VA again succeeds (a retried delete).
    pub(super) fn delete(&mut self, f: &Fields<'_>, now: OffsetDateTime) -> Result<Value, Refusal> {
        let number = f.identity()?;
        let va = match f.optional("trxId")? {
            Some(trx_id) => self.named_mut(trx_id, &number)?,
            None => {
                let trx_id = self
                    .by_va_number(&number, now)
                    .ok_or_else(Refusal::unknown_va)?;
                self.vas.get_mut(&trx_id).ok_or_else(Refusal::unknown_va)?
            }
        };
        match va.state(now) {
            VaState::Paid => return Err(Refusal::paid()),
            VaState::Deleted => {}
            VaState::Active | VaState::Expired => {
                va.deleted_at = Some(now);
                va.updated_at = now;
            }
        }
        let mut data = va.identity_data();
        data.insert("trxId".to_owned(), json!(va.trx_id));
        data.insert("additionalInfo".to_owned(), f.additional_info());
        Ok(Value::Object(data))
    }

    /// Inquiry Status (svc 26): the payment view of the number's VA (the open one, else the
    /// newest); of the payment `paymentRequestId` names, when given.
    pub(super) fn status(&self, f: &Fields<'_>, now: OffsetDateTime) -> Result<Value, Refusal> {
        let number = f.identity()?;
        let inquiry_request_id = f.optional("inquiryRequestId")?.map(str::to_owned);
        let payment_request_id = f.optional("paymentRequestId")?;
        let va = self
            .by_va_number(&number, now)
            .and_then(|trx_id| self.vas.get(&trx_id))
            .ok_or_else(Refusal::transaction_not_found)?;
        let payment = match payment_request_id {
            Some(id) => Some(
                va.payments
                    .iter()
                    .find(|p| p.request_id == id)
                    .ok_or_else(Refusal::transaction_not_found)?,
            ),
            None => va.payments.last(),
        };
        if let Some(payment) = payment {
            return Ok(va.status_data(payment, inquiry_request_id));
        }
        match va.state(now) {
            VaState::Deleted => Err(Refusal::cancelled()),
            VaState::Expired => Err(Refusal::expired()),
            VaState::Active | VaState::Paid => {
                let mut data = va.identity_data();
                data.insert("inquiryRequestId".to_owned(), json!(inquiry_request_id));
                data.insert("totalAmount".to_owned(), json!(va.total.map(snap::amount)));
                data.insert("additionalInfo".to_owned(), json!({}));
                Ok(Value::Object(data))
            }
        }
    }

    /// The VA `trx_id`, which must carry `number`.
    fn named(&self, trx_id: &str, number: &str) -> Result<&Va, Refusal> {
        self.vas
            .get(trx_id)
            .filter(|va| va.virtual_account_no == number)
            .ok_or_else(Refusal::unknown_va)
    }

    fn named_mut(&mut self, trx_id: &str, number: &str) -> Result<&mut Va, Refusal> {
        self.vas
            .get_mut(trx_id)
            .filter(|va| va.virtual_account_no == number)
            .ok_or_else(Refusal::unknown_va)
    }

    /// Whether an active VA already has `number`.
    fn open_with(&self, number: &str, now: OffsetDateTime) -> bool {
        self.with_number(number)
            .any(|va| va.state(now) == VaState::Active)
    }

    fn with_number<'a>(&'a self, number: &str) -> impl Iterator<Item = &'a Va> + 'a {
        let ids = self.by_number.get(number).map(Vec::as_slice);
        let ids = ids.unwrap_or_default();
        ids.iter().filter_map(|id| self.vas.get(id))
    }

    /// The `trxId` of the number's active VA, else of its newest.
    fn by_va_number(&self, number: &str, now: OffsetDateTime) -> Option<String> {
        let active = self
            .with_number(number)
            .find(|va| va.state(now) == VaState::Active);
        let chosen = active.or_else(|| self.with_number(number).max_by_key(|va| va.created_at))?;
        Some(chosen.trx_id.clone())
    }

    /// By `trxId`, by `virtualAccountNo` as received, or by the number without padding.
    pub(super) fn find(&self, key: &str, now: OffsetDateTime) -> Option<String> {
        if self.vas.contains_key(key) {
            return Some(key.to_owned());
        }
        if let Some(trx_id) = self.by_va_number(key, now) {
            return Some(trx_id);
        }
        let number = self
            .by_number
            .keys()
            .find(|number| number.trim_start() == key.trim_start())?;
        self.by_va_number(number, now)
    }

    pub(super) fn find_mut(&mut self, key: &str, now: OffsetDateTime) -> Option<&mut Va> {
        let trx_id = self.find(key, now)?;
        self.vas.get_mut(&trx_id)
    }

    /// Starts a payment of `amount` into the VA (by `trxId` or number): checks it is
    /// acceptable, holds it as pending (replacing an unacknowledged one) and returns the
    /// `trxId` and the notification body.
    pub(super) fn start_payment(
        &mut self,
        key: &str,
        amount: i64,
        now: OffsetDateTime,
    ) -> Result<(String, Value), SimError> {
        let reference_no = self.new_reference_no();
        let request_id = new_payment_request_id(now);
        let va = self
            .find_mut(key, now)
            .ok_or_else(|| SimError::NotFound(key.to_owned()))?;
        va.accepts(amount, now)?;
        let mut payment = Payment {
            request_id,
            amount,
            reference_no,
            at: now,
            notification: Value::Null,
        };
        payment.notification = va.notification(&payment);
        let body = payment.notification.clone();
        va.pending = Some(payment);
        Ok((va.trx_id.clone(), body))
    }

    /// The merchant acknowledged the pending payment `request_id`: the bank books it.
    pub(super) fn settle(&mut self, trx_id: &str, request_id: &str) {
        let Some(va) = self.vas.get_mut(trx_id) else {
            return;
        };
        if va
            .pending
            .as_ref()
            .is_some_and(|p| p.request_id == request_id)
            && let Some(payment) = va.pending.take()
        {
            va.payments.push(payment);
        }
    }

    /// The notification of the VA's pending payment, else of its last booked one.
    pub(super) fn last_notification(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<(String, Value), SimError> {
        let va = self
            .find(key, now)
            .and_then(|trx_id| self.vas.get(&trx_id))
            .ok_or_else(|| SimError::NotFound(key.to_owned()))?;
        let payment = va.pending.as_ref().or(va.payments.last());
        let payment = payment.ok_or_else(|| SimError::NothingToRedeliver(key.to_owned()))?;
        Ok((va.trx_id.clone(), payment.notification.clone()))
    }

    fn new_reference_no(&mut self) -> String {
        self.next_reference = (self.next_reference + 1) % 1_000_000;
        format!("{:06}", self.next_reference)
    }
}

/// Refuses changes to a VA that is deleted (`404xx04`), paid (`404xx14`) or expired
/// (`404xx19`).
fn writable(va: &Va, now: OffsetDateTime) -> Result<(), Refusal> {
    match va.state(now) {
        VaState::Active => Ok(()),
        VaState::Paid => Err(Refusal::paid()),
        VaState::Deleted => Err(Refusal::cancelled()),
        VaState::Expired => Err(Refusal::expired()),
    }
}

/// A fresh `paymentRequestId`: `yyyyMMddHHmmss` (WIB) + 8 random digits.
pub(super) fn new_payment_request_id(now: OffsetDateTime) -> String {
    use rand::Rng;
    let suffix: u32 = rand::rng().random_range(0..100_000_000);
    format!("{}{suffix:08}", wib::stamp(now))
}
