//! DOKU SNAP virtual accounts (2.11): the field rules of 2.11.4, the VA ledger and the
//! answers of 2.11.5.

use std::collections::HashMap;

use axum::http::StatusCode;
use rand::Rng;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::callback::SimError;
use crate::snap::{self, amount, error_answer};
use crate::wib;

/// SNAP service codes of DOKU's VA services (2.11.1).
pub(crate) const CREATE: u8 = 27;
pub(crate) const UPDATE: u8 = 28;
pub(crate) const DELETE: u8 = 31;
pub(crate) const STATUS: u8 = 26;

/// The `additionalInfo.channel` values DOKU's SDK accepts (2.11.4).
const CHANNELS: [&str; 14] = [
    "VIRTUAL_ACCOUNT_BCA",
    "VIRTUAL_ACCOUNT_BANK_MANDIRI",
    "VIRTUAL_ACCOUNT_BRI",
    "VIRTUAL_ACCOUNT_BNI",
    "VIRTUAL_ACCOUNT_BANK_DANAMON",
    "VIRTUAL_ACCOUNT_BANK_PERMATA",
    "VIRTUAL_ACCOUNT_MAYBANK",
    "VIRTUAL_ACCOUNT_BNC",
    "VIRTUAL_ACCOUNT_BTN",
    "VIRTUAL_ACCOUNT_BSI",
    "VIRTUAL_ACCOUNT_BANK_CIMB",
    "VIRTUAL_ACCOUNT_SINARMAS",
    "VIRTUAL_ACCOUNT_DOKU",
    "VIRTUAL_ACCOUNT_BSS",
];

/// Characters `virtualAccountName` may hold besides ASCII letters and digits (2.11.4).
const NAME_PUNCTUATION: &str = " .-/+,=_:'@%";

/// A refusal: the HTTP status and SNAP answer to send as is.
pub(crate) type Refusal = (StatusCode, Value);

/// Where a VA stands, as the simulated DOKU sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VaState {
    /// Takes payments.
    Active,
    /// Set `INACTIVE` by an update: takes no payments until set `ACTIVE` again.
    Inactive,
    /// Paid, and takes no further payment (closed or not reusable).
    Paid,
    /// Past its `expiredDate` without a closing payment.
    Expired,
    /// Deleted by the merchant.
    Deleted,
}

impl VaState {
    fn as_str(self) -> &'static str {
        match self {
            VaState::Active => "active",
            VaState::Inactive => "inactive",
            VaState::Paid => "paid",
            VaState::Expired => "expired",
            VaState::Deleted => "deleted",
        }
    }
}

/// A payment into a VA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaPayment {
    /// DOKU's id of the payment (`paymentRequestId`).
    pub payment_request_id: String,
    /// Whole rupiah paid.
    pub amount: i64,
    /// When it was paid.
    pub paid_at: OffsetDateTime,
    /// Whether the merchant answered its notification with `2002500`.
    pub acknowledged: bool,
}

/// A VA as the simulated DOKU holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaView {
    /// `partnerServiceId` as received (space-padded to 8).
    pub partner_service_id: String,
    /// `customerNo` as received.
    pub customer_no: String,
    /// `partnerServiceId` + `customerNo`, spaces kept.
    pub virtual_account_no: String,
    /// `trxId`: the merchant's reference.
    pub trx_id: String,
    /// `totalAmount` in whole rupiah.
    pub amount: i64,
    /// `virtualAccountTrxType`: `C`, `O` or `V`.
    pub trx_type: String,
    /// `additionalInfo.channel`.
    pub channel: String,
    /// `virtualAccountConfig.reusableStatus`.
    pub reusable: bool,
    /// When it stops taking payments.
    pub expires_at: OffsetDateTime,
    /// Where it stands now.
    pub state: VaState,
    /// Every payment, oldest first.
    pub payments: Vec<VaPayment>,
}

impl VaView {
    /// The number a payer types: the VA number without its padding spaces.
    pub fn number(&self) -> String {
        self.virtual_account_no.replace(' ', "")
    }

    /// Whole rupiah paid so far.
    pub fn paid_total(&self) -> i64 {
        self.payments.iter().map(|p| p.amount).sum()
    }
}

#[derive(Clone, Debug)]
struct Va {
    partner_service_id: String,
    customer_no: String,
    virtual_account_no: String,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    trx_id: String,
    amount: i64,
    trx_type: String,
    expired_date: String,
    expires_at: OffsetDateTime,
    channel: String,
    reusable: bool,
    min_amount: Option<i64>,
    max_amount: Option<i64>,
    inactive: bool,
    deleted: bool,
    payments: Vec<VaPayment>,
    updated_at: OffsetDateTime,
}

impl Va {
    fn state(&self, now: OffsetDateTime) -> VaState {
        if self.deleted {
            VaState::Deleted
        } else if !self.payments.is_empty() && (self.trx_type == "C" || !self.reusable) {
            VaState::Paid
        } else if now >= self.expires_at {
            VaState::Expired
        } else if self.inactive {
            VaState::Inactive
        } else {
            VaState::Active
        }
    }

    fn view(&self, now: OffsetDateTime) -> VaView {
        VaView {
            partner_service_id: self.partner_service_id.clone(),
            customer_no: self.customer_no.clone(),
            virtual_account_no: self.virtual_account_no.clone(),
            trx_id: self.trx_id.clone(),
            amount: self.amount,
            trx_type: self.trx_type.clone(),
            channel: self.channel.clone(),
            reusable: self.reusable,
            expires_at: self.expires_at,
            state: self.state(now),
            payments: self.payments.clone(),
        }
    }

    fn config_json(&self, with_status: bool) -> Value {
        let mut config = Map::new();
        config.insert("reusableStatus".to_owned(), json!(self.reusable));
        if let Some(min) = self.min_amount {
            config.insert("minAmount".to_owned(), json!(amount_text(min)));
        }
        if let Some(max) = self.max_amount {
            config.insert("maxAmount".to_owned(), json!(amount_text(max)));
        }
        if with_status {
            let status = if self.inactive { "INACTIVE" } else { "ACTIVE" };
            config.insert("status".to_owned(), json!(status));
        }
        Value::Object(config)
    }

    /// `virtualAccountData` of create and update answers: the VA as stored (2.11.5).
    fn data(&self, how_to_pay_base: &str, with_status: bool) -> Value {
        let mut data = json!({
            "partnerServiceId": self.partner_service_id,
            "customerNo": self.customer_no,
            "virtualAccountNo": self.virtual_account_no,
            "virtualAccountName": self.name,
            "trxId": self.trx_id,
            "totalAmount": amount(self.amount),
            "virtualAccountTrxType": self.trx_type,
            "expiredDate": self.expired_date,
            "additionalInfo": {
                "channel": self.channel,
                "virtualAccountConfig": self.config_json(with_status),
                "howToPayPage": format!("{how_to_pay_base}/how-to-pay/{}", self.number()),
                "howToPayApi": format!("{how_to_pay_base}/how-to-pay-api/{}", self.number()),
            },
        });
        if let Some(fields) = data.as_object_mut() {
            if let Some(email) = &self.email {
                fields.insert("virtualAccountEmail".to_owned(), json!(email));
            }
            if let Some(phone) = &self.phone {
                fields.insert("virtualAccountPhone".to_owned(), json!(phone));
            }
        }
        data
    }

    fn number(&self) -> String {
        self.virtual_account_no.replace(' ', "")
    }
}

fn amount_text(rupiah: i64) -> String {
    format!("{rupiah}.00")
}

/// Every VA, with indexes by number (live VAs only) and by `trxId` (all, deleted too).
#[derive(Debug, Default)]
pub(crate) struct VaLedger {
    vas: Vec<Va>,
    by_number: HashMap<(String, String), usize>,
    by_trx: HashMap<String, usize>,
}

/// The body of one service call, as a JSON object.
pub(crate) struct Body<'a> {
    fields: &'a Map<String, Value>,
    service: u8,
}

impl<'a> Body<'a> {
    pub(crate) fn parse(value: &'a Value, service: u8) -> Result<Self, Refusal> {
        match value {
            Value::Object(fields) => Ok(Self { fields, service }),
            _ => Err(error_answer(400, service, 0, "Bad Request")),
        }
    }

    fn format(&self, field: &str) -> Refusal {
        error_answer(
            400,
            self.service,
            1,
            &format!("Invalid Field Format [{field}]"),
        )
    }

    fn missing(&self, field: &str) -> Refusal {
        error_answer(
            400,
            self.service,
            2,
            &format!("Invalid Mandatory Field [{field}]"),
        )
    }

    /// A string field: `None` when absent or null, a format refusal when another type.
    fn text(&self, field: &str) -> Result<Option<&'a str>, Refusal> {
        match self.fields.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.as_str())),
            Some(_) => Err(self.format(field)),
        }
    }

    fn required(&self, field: &str) -> Result<&'a str, Refusal> {
        self.text(field)?
            .filter(|text| !text.is_empty())
            .ok_or_else(|| self.missing(field))
    }

    /// `partnerServiceId`, `customerNo` and (when `check_number`) `virtualAccountNo`
    /// = the two joined, spaces kept.
    fn identity(&self, check_number: bool) -> Result<(String, String), Refusal> {
        let psid = self.required("partnerServiceId")?;
        let digits = psid.trim_start_matches(' ');
        let psid_ok = psid.chars().count() == 8
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit());
        if !psid_ok {
            return Err(self.format("partnerServiceId"));
        }
        let customer_no = self.required("customerNo")?;
        if customer_no.len() > 20 || !customer_no.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.format("customerNo"));
        }
        if check_number {
            let number = self.required("virtualAccountNo")?;
            if number != format!("{psid}{customer_no}") {
                return Err(self.format("virtualAccountNo"));
            }
        }
        Ok((psid.to_owned(), customer_no.to_owned()))
    }

    fn name(&self, required: bool) -> Result<Option<String>, Refusal> {
        let Some(name) = self.optional_or_required("virtualAccountName", required)? else {
            return Ok(None);
        };
        let count = name.chars().count();
        let allowed = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || NAME_PUNCTUATION.contains(c));
        if !(1..=255).contains(&count) || !allowed {
            return Err(self.format("virtualAccountName"));
        }
        Ok(Some(name.to_owned()))
    }

    fn optional_or_required(
        &self,
        field: &str,
        required: bool,
    ) -> Result<Option<&'a str>, Refusal> {
        if required {
            self.required(field).map(Some)
        } else {
            self.text(field)
        }
    }

    fn contact(&self) -> Result<(Option<String>, Option<String>), Refusal> {
        let email = self.text("virtualAccountEmail")?;
        if email.is_some_and(|e| e.is_empty() || e.chars().count() > 255) {
            return Err(self.format("virtualAccountEmail"));
        }
        let phone = self.text("virtualAccountPhone")?;
        if phone.is_some_and(|p| !(9..=30).contains(&p.chars().count())) {
            return Err(self.format("virtualAccountPhone"));
        }
        Ok((email.map(str::to_owned), phone.map(str::to_owned)))
    }

    fn trx_id(&self) -> Result<String, Refusal> {
        let trx_id = self.required("trxId")?;
        if trx_id.len() > 64 || !trx_id.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(self.format("trxId"));
        }
        Ok(trx_id.to_owned())
    }

    /// `totalAmount`: `value` 1–16 digits, `.`, 2 digits; `currency` `IDR`. The simulated
    /// DOKU deals in whole rupiah, so cents other than `00` are a format refusal too.
    fn total_amount(&self, required: bool) -> Result<Option<i64>, Refusal> {
        match self.fields.get("totalAmount") {
            None | Some(Value::Null) if required => Err(self.missing("totalAmount")),
            None | Some(Value::Null) => Ok(None),
            Some(value) => snap::parse_amount(value)
                .map(Some)
                .ok_or_else(|| self.format("totalAmount")),
        }
    }

    fn trx_type(&self, required: bool) -> Result<Option<String>, Refusal> {
        let Some(kind) = self.optional_or_required("virtualAccountTrxType", required)? else {
            return Ok(None);
        };
        match kind {
            "C" | "O" | "V" => Ok(Some(kind.to_owned())),
            _ => Err(self.format("virtualAccountTrxType")),
        }
    }

    /// `expiredDate`: ISO 8601 with an offset or `Z`, whole seconds.
    fn expired_date(&self, required: bool) -> Result<Option<(String, OffsetDateTime)>, Refusal> {
        let Some(text) = self.optional_or_required("expiredDate", required)? else {
            return Ok(None);
        };
        let parsed = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()
            .filter(|_| !text.contains('.'));
        parsed
            .map(|at| Some((text.to_owned(), at)))
            .ok_or_else(|| self.format("expiredDate"))
    }

    fn additional_info(&self) -> Result<&'a Map<String, Value>, Refusal> {
        match self.fields.get("additionalInfo") {
            Some(Value::Object(info)) => Ok(info),
            None | Some(Value::Null) => Err(self.missing("additionalInfo")),
            Some(_) => Err(self.format("additionalInfo")),
        }
    }

    fn channel(&self, info: &Map<String, Value>) -> Result<String, Refusal> {
        match info.get("channel") {
            Some(Value::String(channel)) if CHANNELS.contains(&channel.as_str()) => {
                Ok(channel.clone())
            }
            None | Some(Value::Null) => Err(self.missing("additionalInfo.channel")),
            Some(_) => Err(self.format("additionalInfo.channel")),
        }
    }

    /// `virtualAccountConfig`: its object, or `None` when absent.
    fn va_config(
        &self,
        info: &'a Map<String, Value>,
    ) -> Result<Option<&'a Map<String, Value>>, Refusal> {
        match info.get("virtualAccountConfig") {
            Some(Value::Object(config)) => Ok(Some(config)),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(self.format("additionalInfo.virtualAccountConfig")),
        }
    }

    /// `minAmount` / `maxAmount`: amount strings (`"10000.00"`) or amount objects; max ≥
    /// min; not with `C`.
    fn bounds(
        &self,
        config: &Map<String, Value>,
        trx_type: &str,
    ) -> Result<(Option<i64>, Option<i64>), Refusal> {
        let read = |name: &str| -> Result<Option<i64>, Refusal> {
            let field = format!("additionalInfo.virtualAccountConfig.{name}");
            match config.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => {
                    snap::parse_amount(&json!({"value": text, "currency": "IDR"}))
                        .map(Some)
                        .ok_or_else(|| self.format(&field))
                }
                Some(value) => snap::parse_amount(value)
                    .map(Some)
                    .ok_or_else(|| self.format(&field)),
            }
        };
        let (min, max) = (read("minAmount")?, read("maxAmount")?);
        if (min.is_some() || max.is_some()) && trx_type == "C" {
            return Err(self.format("additionalInfo.virtualAccountConfig"));
        }
        if let (Some(min), Some(max)) = (min, max)
            && max < min
        {
            return Err(self.format("additionalInfo.virtualAccountConfig.maxAmount"));
        }
        Ok((min, max))
    }
}

/// A 404 about the VA (B.6 case codes).
fn not_found(service: u8) -> Refusal {
    error_answer(404, service, 12, "Invalid Bill/Virtual Account [Not Found]")
}

impl VaLedger {
    fn live(&self, psid: &str, customer_no: &str) -> Option<usize> {
        self.by_number
            .get(&(psid.to_owned(), customer_no.to_owned()))
            .copied()
    }

    /// The VA an update, delete or status call names: by number, its `trxId` matching when
    /// given. A deleted VA is still found by its `trxId`.
    fn named(
        &self,
        body: &Body<'_>,
        psid: &str,
        customer_no: &str,
        trx_id: Option<&str>,
    ) -> Result<usize, Refusal> {
        let index = match trx_id {
            Some(trx_id) => self.by_trx.get(trx_id).copied(),
            None => self.live(psid, customer_no).or_else(|| {
                self.vas
                    .iter()
                    .rposition(|va| va.partner_service_id == psid && va.customer_no == customer_no)
            }),
        };
        let index = index.ok_or_else(|| not_found(body.service))?;
        let va = &self.vas[index];
        if va.partner_service_id != psid || va.customer_no != customer_no {
            return Err(not_found(body.service));
        }
        Ok(index)
    }

    /// Create VA (27): 2.11.4 rules, then a duplicate `trxId` (ever, deleted VAs included)
    /// or a live VA with the same number is `4092700` "Conflict" — the code DOKU's SDK
    /// table uses for create conflicts (2.11.5).
    pub(crate) fn create(
        &mut self,
        body: &Body<'_>,
        how_to_pay: &str,
        now: OffsetDateTime,
    ) -> Result<Value, Refusal> {
        let (psid, customer_no) = body.identity(false)?;
        let name = body.name(true)?.unwrap_or_default();
        let (email, phone) = body.contact()?;
        let trx_id = body.trx_id()?;
        let amount = body.total_amount(true)?.unwrap_or_default();
        let trx_type = body.trx_type(true)?.unwrap_or_default();
        if trx_type == "C" && amount <= 0 {
            return Err(body.format("totalAmount"));
        }
        let (expired_date, expires_at) = body
            .expired_date(true)?
            .unwrap_or_else(|| (String::new(), now));
        let info = body.additional_info()?;
        let channel = body.channel(info)?;
        let config = body
            .va_config(info)?
            .ok_or_else(|| body.missing("additionalInfo.virtualAccountConfig"))?;
        let reusable = match config.get("reusableStatus") {
            Some(Value::Bool(reusable)) => *reusable,
            None | Some(Value::Null) => {
                return Err(body.missing("additionalInfo.virtualAccountConfig.reusableStatus"));
            }
            Some(_) => {
                return Err(body.format("additionalInfo.virtualAccountConfig.reusableStatus"));
            }
        };
        let (min_amount, max_amount) = body.bounds(config, &trx_type)?;
        if self.by_trx.contains_key(&trx_id) {
            return Err(error_answer(409, CREATE, 0, "Conflict. [Duplicate trxId]"));
        }
        if self.live(&psid, &customer_no).is_some() {
            return Err(error_answer(
                409,
                CREATE,
                0,
                "Conflict. [Duplicate virtualAccountNo]",
            ));
        }
        let va = Va {
            virtual_account_no: format!("{psid}{customer_no}"),
            partner_service_id: psid.clone(),
            customer_no: customer_no.clone(),
            name,
            email,
            phone,
            trx_id: trx_id.clone(),
            amount,
            trx_type,
            expired_date,
            expires_at,
            channel,
            reusable,
            min_amount,
            max_amount,
            inactive: false,
            deleted: false,
            payments: Vec::new(),
            updated_at: now,
        };
        let data = va.data(how_to_pay, false);
        let index = self.vas.len();
        self.vas.push(va);
        self.by_number.insert((psid, customer_no), index);
        self.by_trx.insert(trx_id, index);
        Ok(success(CREATE, json!({ "virtualAccountData": data })))
    }

    /// Update VA (28): identity triple and `trxId` mandatory, `additionalInfo.channel` and
    /// `virtualAccountConfig.status` (`ACTIVE`/`INACTIVE`) mandatory; the other fields
    /// optional and applied when given. Refused for a deleted VA (`4042812`), a paid one
    /// (`4042814`) or an expired one (`4042819`).
    pub(crate) fn update(
        &mut self,
        body: &Body<'_>,
        how_to_pay: &str,
        now: OffsetDateTime,
    ) -> Result<Value, Refusal> {
        let (psid, customer_no) = body.identity(true)?;
        let trx_id = body.trx_id()?;
        let info = body.additional_info()?;
        body.channel(info)?;
        let config = body
            .va_config(info)?
            .ok_or_else(|| body.missing("additionalInfo.virtualAccountConfig"))?;
        let inactive = match config.get("status") {
            Some(Value::String(status)) if status == "ACTIVE" => false,
            Some(Value::String(status)) if status == "INACTIVE" => true,
            None | Some(Value::Null) => {
                return Err(body.missing("additionalInfo.virtualAccountConfig.status"));
            }
            Some(_) => return Err(body.format("additionalInfo.virtualAccountConfig.status")),
        };
        let name = body.name(false)?;
        let (email, phone) = body.contact()?;
        let amount = body.total_amount(false)?;
        let trx_type = body.trx_type(false)?;
        let expiry = body.expired_date(false)?;
        let index = self.named(body, &psid, &customer_no, Some(&trx_id))?;
        let va = &mut self.vas[index];
        let effective_type = trx_type.clone().unwrap_or_else(|| va.trx_type.clone());
        let (min_amount, max_amount) = body.bounds(config, &effective_type)?;
        match va.state(now) {
            VaState::Deleted => return Err(not_found(UPDATE)),
            VaState::Paid => return Err(error_answer(404, UPDATE, 14, "Paid Bill")),
            VaState::Expired if expiry.is_none() => {
                return Err(error_answer(
                    404,
                    UPDATE,
                    19,
                    "Invalid Bill/Virtual Account [Expired]",
                ));
            }
            VaState::Expired | VaState::Active | VaState::Inactive => {}
        }
        if effective_type == "C" && amount.unwrap_or(va.amount) <= 0 {
            return Err(body.format("totalAmount"));
        }
        va.inactive = inactive;
        if let Some(name) = name {
            va.name = name;
        }
        va.email = email.or(va.email.take());
        va.phone = phone.or(va.phone.take());
        if let Some(amount) = amount {
            va.amount = amount;
        }
        if let Some(kind) = trx_type {
            va.trx_type = kind;
        }
        if let Some((text, at)) = expiry {
            va.expired_date = text;
            va.expires_at = at;
        }
        if min_amount.is_some() || max_amount.is_some() {
            va.min_amount = min_amount;
            va.max_amount = max_amount;
        }
        va.updated_at = now;
        Ok(success(
            UPDATE,
            json!({ "virtualAccountData": va.data(how_to_pay, true) }),
        ))
    }

    /// Delete VA (31): identity triple and `trxId` mandatory; refused for an unknown or
    /// already deleted VA (`4043112`) and a paid one (`4043114`).
    pub(crate) fn delete(
        &mut self,
        body: &Body<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Refusal> {
        let (psid, customer_no) = body.identity(true)?;
        let trx_id = body.trx_id()?;
        let info = body.additional_info()?;
        body.channel(info)?;
        let index = self.named(body, &psid, &customer_no, Some(&trx_id))?;
        let va = &mut self.vas[index];
        match va.state(now) {
            VaState::Deleted => return Err(not_found(DELETE)),
            VaState::Paid => return Err(error_answer(404, DELETE, 14, "Paid Bill")),
            VaState::Active | VaState::Inactive | VaState::Expired => {}
        }
        va.deleted = true;
        va.updated_at = now;
        let data = json!({
            "partnerServiceId": va.partner_service_id,
            "customerNo": va.customer_no,
            "virtualAccountNo": va.virtual_account_no,
            "trxId": va.trx_id,
            "additionalInfo": {"channel": va.channel},
        });
        self.by_number.remove(&(psid, customer_no));
        Ok(success(DELETE, json!({ "virtualAccountData": data })))
    }

    /// Check status (26): by number (the live VA, else the last deleted one). Paid →
    /// `paymentFlagStatus` `00` with the paid amount; unpaid and open → `paidAmount`
    /// `0.00` and no flag; deleted → `4042604` (transaction cancelled); expired unpaid →
    /// `4042619`; unknown → `4042612`.
    pub(crate) fn status(&self, body: &Body<'_>, now: OffsetDateTime) -> Result<Value, Refusal> {
        let (psid, customer_no) = body.identity(true)?;
        body.name(false)?;
        for field in ["inquiryRequestId", "paymentRequestId"] {
            if body.text(field)?.is_some_and(|id| id.len() > 128) {
                return Err(body.format(field));
            }
        }
        let index = self.named(body, &psid, &customer_no, None)?;
        let va = &self.vas[index];
        let state = va.state(now);
        let last = va.payments.last();
        match state {
            VaState::Deleted => return Err(error_answer(404, STATUS, 4, "Transaction Cancelled")),
            VaState::Expired if last.is_none() => {
                return Err(error_answer(
                    404,
                    STATUS,
                    19,
                    "Invalid Bill/Virtual Account [Expired]",
                ));
            }
            VaState::Expired | VaState::Active | VaState::Inactive | VaState::Paid => {}
        }
        let paid: i64 = va.payments.iter().map(|p| p.amount).sum();
        let mut data = json!({
            "partnerServiceId": va.partner_service_id,
            "customerNo": va.customer_no,
            "virtualAccountNo": va.virtual_account_no,
            "virtualAccountName": va.name,
            "trxId": va.trx_id,
            "inquiryRequestId": body.text("inquiryRequestId")?,
            "paymentRequestId": last.map(|p| p.payment_request_id.clone()),
            "paidAmount": amount(paid),
            "totalAmount": amount(va.amount),
            "billDetails": [],
            "trxDateTime": last.map(|p| wib::iso(p.paid_at)),
            "transactionDate": last.map(|p| wib::iso(p.paid_at)),
        });
        if let (Some(fields), Some(_)) = (data.as_object_mut(), last) {
            fields.insert("paymentFlagStatus".to_owned(), json!("00"));
            fields.insert(
                "paymentFlagReason".to_owned(),
                json!({"english": "Success", "indonesia": "Sukses"}),
            );
        } else if let Some(fields) = data.as_object_mut() {
            fields.insert(
                "paymentFlagReason".to_owned(),
                json!({"english": "Pending", "indonesia": "Menunggu Pembayaran"}),
            );
        }
        let acquirer = va.channel.trim_start_matches("VIRTUAL_ACCOUNT_");
        Ok(success(
            STATUS,
            json!({
                "virtualAccountData": data,
                "additionalInfo": {"acquirer": {"id": acquirer}, "trxId": va.trx_id},
            }),
        ))
    }

    /// Records a payment of `amount` into the VA of `trx_id`: closed VAs take exactly their
    /// amount once; open (`O`/`V`) ones any positive amount within their bounds, once
    /// unless reusable. Returns the index of the VA.
    pub(crate) fn pay(
        &mut self,
        trx_id: &str,
        amount: i64,
        now: OffsetDateTime,
    ) -> Result<usize, SimError> {
        let index = *self
            .by_trx
            .get(trx_id)
            .ok_or_else(|| SimError::NotFound(trx_id.to_owned()))?;
        let va = &mut self.vas[index];
        match va.state(now) {
            VaState::Active => {}
            state => {
                return Err(SimError::NotPayable {
                    reference: trx_id.to_owned(),
                    state: state.as_str(),
                });
            }
        }
        let refuse = |reason: &str| SimError::AmountRefused {
            amount,
            reason: reason.to_owned(),
        };
        if amount <= 0 {
            return Err(refuse("not positive"));
        }
        if va.trx_type == "C" && amount != va.amount {
            return Err(refuse("a closed VA takes exactly its amount"));
        }
        if va.min_amount.is_some_and(|min| amount < min) {
            return Err(refuse("below minAmount"));
        }
        if va.max_amount.is_some_and(|max| amount > max) {
            return Err(refuse("above maxAmount"));
        }
        let digits: String = {
            let mut rng = rand::rng();
            (0..20)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect()
        };
        va.payments.push(VaPayment {
            payment_request_id: digits,
            amount,
            paid_at: now,
            acknowledged: false,
        });
        Ok(index)
    }

    /// The 2.11.7 notification body of the last payment into the VA at `index`: only the
    /// 13 keys DOKU's SDK accepts.
    pub(crate) fn notification(&self, trx_id: &str) -> Result<Value, SimError> {
        let index = *self
            .by_trx
            .get(trx_id)
            .ok_or_else(|| SimError::NotFound(trx_id.to_owned()))?;
        let va = &self.vas[index];
        let payment = va
            .payments
            .last()
            .ok_or_else(|| SimError::NothingToRedeliver(trx_id.to_owned()))?;
        let mut body = json!({
            "partnerServiceId": va.partner_service_id,
            "customerNo": va.customer_no,
            "virtualAccountNo": va.virtual_account_no,
            "virtualAccountName": va.name,
            "trxId": va.trx_id,
            "paymentRequestId": payment.payment_request_id,
            "paidAmount": amount(payment.amount),
            "trxDateTime": wib::iso(payment.paid_at),
            "additionalInfo": {"channel": va.channel},
            "virtualAccountTrxType": va.trx_type,
            "expiredDate": va.expired_date,
        });
        if let Some(fields) = body.as_object_mut() {
            if let Some(email) = &va.email {
                fields.insert("virtualAccountEmail".to_owned(), json!(email));
            }
            if let Some(phone) = &va.phone {
                fields.insert("virtualAccountPhone".to_owned(), json!(phone));
            }
        }
        Ok(body)
    }

    /// Marks the last payment into the VA of `trx_id` acknowledged.
    pub(crate) fn acknowledge(&mut self, trx_id: &str) {
        let index = self.by_trx.get(trx_id).copied();
        if let Some(payment) = index.and_then(|i| self.vas[i].payments.last_mut()) {
            payment.acknowledged = true;
        }
    }

    pub(crate) fn view(&self, trx_id: &str, now: OffsetDateTime) -> Option<VaView> {
        let index = self.by_trx.get(trx_id)?;
        Some(self.vas[*index].view(now))
    }

    pub(crate) fn views(&self, now: OffsetDateTime) -> Vec<VaView> {
        self.vas.iter().map(|va| va.view(now)).collect()
    }

    /// How many VAs (deleted ones too) carry `trx_id`.
    pub(crate) fn count_for(&self, trx_id: &str) -> usize {
        self.vas.iter().filter(|va| va.trx_id == trx_id).count()
    }

    pub(crate) fn len(&self) -> usize {
        self.vas.len()
    }
}

/// A success answer: `responseCode` `200{service}00`, `responseMessage` `Successful`, and
/// the given keys.
fn success(service: u8, rest: Value) -> Value {
    let mut answer = json!({
        "responseCode": snap::response_code(200, service, 0),
        "responseMessage": "Successful",
    });
    if let (Some(fields), Value::Object(rest)) = (answer.as_object_mut(), rest) {
        fields.extend(rest);
    }
    answer
}
