//! Simulator of NICEPAY Indonesia's V2 direct API for virtual accounts (provider notes,
//! Part 1).
//!
//! Serves `POST /nicepay/direct/v2/registration`, `/inquiry` and `/cancel` with JSON bodies
//! authenticated by `merchantToken` (1.3), answers every call with a JSON object carrying
//! NICEPAY's `resultCd` (1.10; HTTP 200 throughout), keeps transactions by `tXid`, and can
//! act: `pay` marks a VA paid and posts the form-encoded notification (1.7) to the
//! registration's `dbProcessUrl`.
//!
//! Choices where the notes are silent or unconfirmed (result codes and messages come from
//! NICEPAY's published code table):
//! - A body that is not a JSON object, or a `Content-Type` other than `application/json`
//!   (any case), is `9001`; a `timeStamp` that is not 14 digits is `9031` (its value is
//!   not checked against the clock: published vector 6 has 94 seconds).
//! - Field checks come before the token (`9010` for registration, inquiry and cancel
//!   alike); a duplicate `referenceNo` (`9009`, per iMid, for ever) is checked right after
//!   the token, before bank and expiry, so an identical retry is always told `9009`.
//! - Only `payMethod` `02` is activated (`9012` otherwise). `currency` must be `IDR`
//!   (`9013`). `cartData` must be a string holding JSON (`9022`); its total is not compared
//!   with `amt`. An `amt` of 0 is `9209`.
//! - Empty `vacctValidDt`/`vacctValidTm` give a default expiry of
//!   [`NicepayConfig::default_expiry_secs`]; letters or an invalid or past date are `9210`,
//!   wrong lengths or only one of the two `9211`.
//! - VA numbers are a simulated per-bank prefix plus random digits (or `merFixAcctId`) to 16
//!   digits; the prefixes are made up, not NICEPAY's.
//! - Inquiry without `tXid` finds the transaction by `referenceNo` (set
//!   [`NicepayConfig::inquiry_requires_txid`] to refuse that with `8004`); with a `tXid`
//!   whose `referenceNo` differs it is `9228`.
//! - After a successful cancel the inquiry reports `status` `"4"` (as expired; the real
//!   value is undocumented) and `cancelAmt` = the amount, which tells it from a plain
//!   expiry. Cancel of a paid VA is `9330`, of an expired or cancelled one `9318`, a
//!   partial cancel (`cancelType` 2/02) of an unpaid VA `9327`, an `amt` above the
//!   transaction's `9319`.
//! - `tXid` is iMid + `02` + `yyyyMMddHHmmss` (WIB) + 4 random digits. Note 1.14 says
//!   `yyMMddHHmmss`, but every published sample (e.g. `IONPAYTEST02202212141423372834`)
//!   has a four-digit year, which is what makes them 30 characters long.
//! - A payment of any positive amount closes the VA; `matchCl` tells match (1), over (2)
//!   or under (3), and the notification's `amt` is the amount paid.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::callback::{
    self, CallbackOptions, CallbackOutcome, CapturedCallback, Outgoing, SimError, Tamper,
};
use crate::faults::{self, Faults};
use crate::server::{self, Running};
use crate::wib;

/// Path of the registration call.
pub const REGISTRATION_PATH: &str = "/nicepay/direct/v2/registration";
/// Path of the status inquiry call.
pub const INQUIRY_PATH: &str = "/nicepay/direct/v2/inquiry";
/// Path of the cancel call.
pub const CANCEL_PATH: &str = "/nicepay/direct/v2/cancel";

/// The bank codes of 1.9 and the simulated VA prefix of each.
const BANKS: [(&str, &str); 10] = [
    ("BMRI", "70014"),
    ("BNIN", "8848"),
    ("BRIN", "88807"),
    ("CENA", "1076"),
    ("BBBA", "8625"),
    ("IBBK", "7812"),
    ("HNBN", "9722"),
    ("BNIA", "5919"),
    ("BDIN", "7915"),
    ("OTHR", "9999"),
];

/// The simulated merchant.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NicepayConfig {
    /// Merchant id, e.g. `IONPAYTEST` (10 characters at NICEPAY).
    pub imid: String,
    /// The merchant key that ends every `merchantToken` concatenation.
    pub merchant_key: String,
    /// VA prefix per `bankCd`, replacing the simulated defaults for those banks.
    #[serde(default)]
    pub bank_prefixes: BTreeMap<String, String>,
    /// Validity of a VA registered without `vacctValidDt`/`vacctValidTm` (default a day).
    #[serde(default = "default_expiry_secs")]
    pub default_expiry_secs: i64,
    /// Refuse inquiries without `tXid` (`8004`) instead of finding them by `referenceNo`.
    #[serde(default)]
    pub inquiry_requires_txid: bool,
}

fn default_expiry_secs() -> i64 {
    24 * 60 * 60
}

impl NicepayConfig {
    /// A merchant with the simulated bank prefixes and a one-day default expiry.
    pub fn new(imid: &str, merchant_key: &str) -> Self {
        Self {
            imid: imid.to_owned(),
            merchant_key: merchant_key.to_owned(),
            bank_prefixes: BTreeMap::new(),
            default_expiry_secs: default_expiry_secs(),
            inquiry_requires_txid: false,
        }
    }

    /// The VA prefix of a known bank code.
    fn prefix(&self, bank_cd: &str) -> Option<String> {
        let (_, default) = BANKS.iter().find(|(code, _)| *code == bank_cd)?;
        let configured = self.bank_prefixes.get(bank_cd).cloned();
        Some(configured.unwrap_or_else(|| (*default).to_owned()))
    }
}

impl std::fmt::Debug for NicepayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NicepayConfig")
            .field("imid", &self.imid)
            .field("merchant_key", &"<redacted>")
            .field("bank_prefixes", &self.bank_prefixes)
            .field("default_expiry_secs", &self.default_expiry_secs)
            .field("inquiry_requires_txid", &self.inquiry_requires_txid)
            .finish()
    }
}

/// `lowercase_hex(SHA-256(concat(parts) + merchant_key))`, the shape of every NICEPAY token.
pub fn merchant_token(parts: &[&str], merchant_key: &str) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hasher.update(merchant_key.as_bytes());
    hex::encode(hasher.finalize())
}

/// Token of a V2 registration or inquiry (`reference` = `referenceNo`) or cancel
/// (`reference` = `tXid`): `timeStamp + iMid + reference + amt + merchantKey`.
pub fn request_token(timestamp: &str, imid: &str, reference: &str, amt: &str, key: &str) -> String {
    merchant_token(&[timestamp, imid, reference, amt], key)
}

/// Token of a payment notification: `iMid + tXid + amt + merchantKey`.
pub fn notification_token(imid: &str, t_xid: &str, amt: &str, key: &str) -> String {
    merchant_token(&[imid, t_xid, amt], key)
}

/// NICEPAY result codes (1.10) the simulator produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code {
    TxidRequired,
    InvalidMessage,
    AmountMissing,
    AmountInvalid,
    DuplicateReference,
    InvalidToken,
    InvalidMid,
    MethodNotActive,
    CurrencyMissing,
    ReferenceMissing,
    GoodsMissing,
    BuyerNameMissing,
    PhoneMissing,
    EmailMissing,
    DbProcessUrlMissing,
    CartData,
    CityMissing,
    StateMissing,
    PostCodeMissing,
    CountryMissing,
    DateTime,
    ReferenceTooLong,
    AmountTooSmall,
    ExpiryInvalid,
    ExpiryLength,
    VacctTooLong,
    NotFound,
    InvalidBank,
    InvalidCancelType,
    CannotCancel,
    CancelAmountTooLarge,
    PartialBeforePurchase,
    AlreadyPaid,
}

impl Code {
    fn code_and_message(self) -> (&'static str, &'static str) {
        match self {
            Self::TxidRequired => ("8004", "The tXid error during the order inquiry."),
            Self::InvalidMessage => (
                "9001",
                "Failed to register your order. Please check your HTTP Message.",
            ),
            Self::AmountMissing => ("9007", "Undefined: Amount."),
            Self::AmountInvalid => (
                "9008",
                "Invalid Request Amount. Amount should only number and do not includes decimal.",
            ),
            Self::DuplicateReference => ("9009", "Reference Number already exist."),
            Self::InvalidToken => ("9010", "Invalid Merchant Token."),
            Self::InvalidMid => ("9011", "Invalid MID, Merchant is not registered."),
            Self::MethodNotActive => ("9012", "This Payment method is currently not activated."),
            Self::CurrencyMissing => ("9013", "Undefined: Currency Code."),
            Self::ReferenceMissing => ("9014", "Undefined: Reference No."),
            Self::GoodsMissing => ("9015", "Undefined: Goods Name."),
            Self::BuyerNameMissing => ("9016", "Undefined: Buyer Name."),
            Self::PhoneMissing => ("9017", "Undefined: Buyer Phone Number."),
            Self::EmailMissing => ("9018", "Undefined: Buyer Email Address."),
            Self::DbProcessUrlMissing => ("9020", "Undefined: Debit Process URL."),
            Self::CartData => ("9022", "Invalid Cart Data. Please send valid JSON format."),
            Self::CityMissing => ("9025", "Undefined: Buyer City."),
            Self::StateMissing => ("9026", "Undefined: Buyer State."),
            Self::PostCodeMissing => ("9027", "Undefined: Buyer Postal Code."),
            Self::CountryMissing => ("9028", "Undefined: Buyer Country."),
            Self::DateTime => ("9031", "Date/Time check."),
            Self::ReferenceTooLong => ("9207", "Reference Number Maximum Length Exceed."),
            Self::AmountTooSmall => ("9209", "the payment amount is too small."),
            Self::ExpiryInvalid => (
                "9210",
                "Error in expiration date of deposit, expiration time for deposit, and inclusion of letters.",
            ),
            Self::ExpiryLength => (
                "9211",
                "Expiration date and time for deposit length is not valid.",
            ),
            Self::VacctTooLong => ("9226", "VacctNo is exceeded limit digit."),
            Self::NotFound => ("9228", "Transaction not found."),
            Self::InvalidBank => ("9237", "Invalid BankCd."),
            Self::InvalidCancelType => ("9301", "Invalid Cancel Type."),
            Self::CannotCancel => ("9318", "Virtual account can not request to cancel."),
            Self::CancelAmountTooLarge => (
                "9319",
                "The amount you entered is larger than the amount you want to cancel.",
            ),
            Self::PartialBeforePurchase => {
                ("9327", "It can not be partial cancelation before purchase.")
            }
            Self::AlreadyPaid => (
                "9330",
                "Virtual account deposit has been completed can not be canceled.",
            ),
        }
    }

    fn into_response(self) -> Response {
        let (code, message) = self.code_and_message();
        axum::Json(json!({ "resultCd": code, "resultMsg": message })).into_response()
    }
}

/// What a [`crate::faults::Fault::Malformed`] answers: cut off mid-string.
const MALFORMED: &str = r#"{"resultCd":"0000","resultMsg":"SUCC"#;

/// Where a simulated transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionState {
    /// Waiting for payment (`status` `"3"`).
    Unpaid,
    /// Paid (`"0"`).
    Paid,
    /// Past `vacctValidDt`/`vacctValidTm` unpaid (`"4"`).
    Expired,
    /// Cancelled through the API (reported as `"4"`, with `cancelAmt`).
    Cancelled,
}

impl TransactionState {
    /// The VA `status` code an inquiry reports (1.8).
    pub fn status_code(self) -> &'static str {
        match self {
            Self::Paid => "0",
            Self::Unpaid => "3",
            Self::Expired | Self::Cancelled => "4",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Unpaid => "unpaid",
            Self::Paid => "paid",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A read-only snapshot of a transaction, for tests and the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransactionView {
    /// NICEPAY's transaction id.
    pub t_xid: String,
    /// The merchant's `referenceNo`.
    pub reference_no: String,
    /// Registered amount.
    pub amt: i64,
    /// `bankCd`.
    pub bank_cd: String,
    /// VA number.
    pub vacct_no: String,
    /// `vacctValidDt` (`YYYYMMDD`, WIB).
    pub vacct_valid_dt: String,
    /// `vacctValidTm` (`HHMMSS`, WIB).
    pub vacct_valid_tm: String,
    /// The notification URL given at registration.
    pub db_process_url: String,
    /// Where it stands.
    pub state: TransactionState,
    /// The `status` an inquiry reports.
    pub status: &'static str,
    /// Amount paid, once paid.
    pub paid_amount: Option<i64>,
    /// `matchCl` of the payment (`1` match, `2` over, `3` under), once paid.
    pub match_cl: Option<&'static str>,
    /// When it was paid (`+07:00`).
    pub paid_at: Option<String>,
    /// When it was cancelled (`+07:00`).
    pub cancelled_at: Option<String>,
    /// When it was registered (`+07:00`).
    pub created_at: String,
}

/// A form-encoded notification's fields, in order.
type FormFields = Vec<(&'static str, String)>;

#[derive(Clone, Debug)]
struct Deposit {
    amount: i64,
    match_cl: &'static str,
    at: OffsetDateTime,
    /// The notification as posted, form fields in order.
    notification: FormFields,
}

#[derive(Clone, Debug)]
struct Transaction {
    t_xid: String,
    reference_no: String,
    amt: i64,
    currency: String,
    goods_nm: String,
    billing_nm: String,
    description: Option<String>,
    bank_cd: String,
    vacct_no: String,
    valid_until: OffsetDateTime,
    db_process_url: String,
    req_dt: String,
    req_tm: String,
    created_at: OffsetDateTime,
    deposit: Option<Deposit>,
    cancelled_at: Option<OffsetDateTime>,
}

impl Transaction {
    fn state(&self, now: OffsetDateTime) -> TransactionState {
        if self.deposit.is_some() {
            TransactionState::Paid
        } else if self.cancelled_at.is_some() {
            TransactionState::Cancelled
        } else if now > self.valid_until {
            TransactionState::Expired
        } else {
            TransactionState::Unpaid
        }
    }

    fn registration_answer(&self) -> Value {
        json!({
            "resultCd": "0000",
            "resultMsg": "SUCCESS",
            "tXid": self.t_xid,
            "referenceNo": self.reference_no,
            "payMethod": "02",
            "amt": self.amt.to_string(),
            "currency": self.currency,
            "goodsNm": self.goods_nm,
            "billingNm": self.billing_nm,
            "description": self.description,
            "transDt": wib::date(self.created_at),
            "transTm": wib::time_of_day(self.created_at),
            "bankCd": self.bank_cd,
            "vacctNo": self.vacct_no,
            "vacctValidDt": wib::date(self.valid_until),
            "vacctValidTm": wib::time_of_day(self.valid_until),
            "mitraCd": null,
            "payNo": null,
            "payValidDt": null,
            "payValidTm": null,
        })
    }

    /// Every field of 1.5; card, CVS and e-wallet fields are null for a VA.
    fn inquiry_answer(&self, imid: &str, now: OffsetDateTime) -> Value {
        let state = self.state(now);
        let deposit_at = self.deposit.as_ref().map(|d| d.at);
        let mut answer = json!({
            "resultCd": "0000",
            "resultMsg": "SUCCESS",
            "tXid": self.t_xid,
            "iMid": imid,
            "referenceNo": self.reference_no,
            "payMethod": "02",
            "amt": self.amt.to_string(),
            "cancelAmt": self.cancelled_at.map(|_| self.amt.to_string()),
            "reqDt": self.req_dt,
            "reqTm": self.req_tm,
            "transDt": wib::date(self.created_at),
            "transTm": wib::time_of_day(self.created_at),
            "depositDt": deposit_at.map(wib::date),
            "depositTm": deposit_at.map(wib::time_of_day),
            "currency": self.currency,
            "goodsNm": self.goods_nm,
            "billingNm": self.billing_nm,
            "status": state.status_code(),
            "bankCd": self.bank_cd,
            "vacctNo": self.vacct_no,
            "vacctValidDt": wib::date(self.valid_until),
            "vacctValidTm": wib::time_of_day(self.valid_until),
        });
        let nulls = [
            "cardNo",
            "cardExpYymm",
            "issuBankCd",
            "acquBankCd",
            "preauthToken",
            "ccTransType",
            "instmntType",
            "instmntMon",
            "recurringToken",
            "payNo",
            "mitraCd",
            "payValidDt",
            "payValidTm",
            "receiptCode",
            "mRefNo",
        ];
        if let Some(fields) = answer.as_object_mut() {
            for key in nulls {
                fields.insert(key.to_owned(), Value::Null);
            }
        }
        answer
    }

    fn view(&self, now: OffsetDateTime) -> TransactionView {
        let state = self.state(now);
        TransactionView {
            t_xid: self.t_xid.clone(),
            reference_no: self.reference_no.clone(),
            amt: self.amt,
            bank_cd: self.bank_cd.clone(),
            vacct_no: self.vacct_no.clone(),
            vacct_valid_dt: wib::date(self.valid_until),
            vacct_valid_tm: wib::time_of_day(self.valid_until),
            db_process_url: self.db_process_url.clone(),
            state,
            status: state.status_code(),
            paid_amount: self.deposit.as_ref().map(|d| d.amount),
            match_cl: self.deposit.as_ref().map(|d| d.match_cl),
            paid_at: self.deposit.as_ref().map(|d| wib::iso(d.at)),
            cancelled_at: self.cancelled_at.map(wib::iso),
            created_at: wib::iso(self.created_at),
        }
    }

    /// The notification fields of 1.7 for a deposit of `amount` (token added by the
    /// sender).
    fn notification(&self, amount: i64, match_cl: &'static str, at: OffsetDateTime) -> FormFields {
        vec![
            ("tXid", self.t_xid.clone()),
            ("referenceNo", self.reference_no.clone()),
            ("payMethod", "02".to_owned()),
            ("amt", amount.to_string()),
            ("currency", self.currency.clone()),
            ("goodsNm", self.goods_nm.clone()),
            ("billingNm", self.billing_nm.clone()),
            ("transDt", wib::date(self.created_at)),
            ("transTm", wib::time_of_day(self.created_at)),
            ("matchCl", match_cl.to_owned()),
            ("status", "0".to_owned()),
            ("bankCd", self.bank_cd.clone()),
            ("vacctNo", self.vacct_no.clone()),
            ("vacctValidDt", wib::date(self.valid_until)),
            ("vacctValidTm", wib::time_of_day(self.valid_until)),
            ("depositDt", wib::date(at)),
            ("depositTm", wib::time_of_day(at)),
        ]
    }
}

/// A simulated NICEPAY host for one merchant. Clones share state.
#[derive(Clone)]
pub struct NicepaySimulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: NicepayConfig,
    ledger: Mutex<Ledger>,
    faults: Faults,
    http: std::sync::OnceLock<reqwest::Client>,
}

impl std::fmt::Debug for NicepaySimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NicepaySimulator")
            .field("imid", &self.inner.config.imid)
            .finish_non_exhaustive()
    }
}

type Operation =
    fn(&mut Ledger, &NicepayConfig, &Fields<'_>, OffsetDateTime) -> Result<Value, Code>;

impl NicepaySimulator {
    /// A simulator with no transactions.
    pub fn new(config: NicepayConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                ledger: Mutex::new(Ledger::default()),
                faults: Faults::default(),
                http: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The three V2 direct endpoints.
    pub fn router(&self) -> Router {
        Router::new()
            .route(REGISTRATION_PATH, post(registration))
            .route(INQUIRY_PATH, post(inquiry))
            .route(CANCEL_PATH, post(cancel))
            .with_state(self.clone())
    }

    /// Serves [`Self::router`] on `addr`.
    pub async fn spawn(&self, addr: SocketAddr) -> io::Result<Running> {
        server::spawn(self.router(), addr).await
    }

    /// The fault rules requests consult, with operations `registration`, `inquiry` and
    /// `cancel`.
    pub fn faults(&self) -> Faults {
        self.inner.faults.clone()
    }

    /// The configured merchant id.
    pub fn imid(&self) -> &str {
        &self.inner.config.imid
    }

    /// How many requests of `op` reached the business logic (those answered by a fault
    /// other than latency or hang-after-effect do not count).
    pub fn calls(&self, op: &str) -> usize {
        let ledger = self.ledger();
        ledger
            .calls
            .get(&op.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// A snapshot of the transaction with this `tXid`, `referenceNo` or VA number.
    pub fn transaction(&self, reference_or_txid: &str) -> Option<TransactionView> {
        let ledger = self.ledger();
        let t_xid = ledger.find(reference_or_txid, wib::now())?;
        ledger.transactions.get(&t_xid).map(|t| t.view(wib::now()))
    }

    /// Snapshots of every transaction, ordered by `tXid`.
    pub fn transactions(&self) -> Vec<TransactionView> {
        let now = wib::now();
        self.ledger()
            .transactions
            .values()
            .map(|t| t.view(now))
            .collect()
    }

    /// Makes the VA (by VA number, `tXid` or `referenceNo`) expire now.
    pub fn expire(&self, va_or_reference: &str) -> Result<(), SimError> {
        let now = wib::now();
        let mut ledger = self.ledger();
        let transaction = ledger
            .find_mut(va_or_reference, now)
            .ok_or_else(|| SimError::NotFound(va_or_reference.to_owned()))?;
        transaction.valid_until = now - time::Duration::seconds(1);
        Ok(())
    }

    /// Pays `amount` into the VA (by VA number, `tXid` or `referenceNo`) and posts the
    /// notification once.
    pub async fn pay(
        &self,
        va_or_reference: &str,
        amount: i64,
    ) -> Result<CallbackOutcome, SimError> {
        let outcomes = self
            .pay_with(va_or_reference, amount, CallbackOptions::default())
            .await?;
        outcomes
            .into_iter()
            .next()
            .ok_or_else(|| SimError::Delivery("no notification was posted".to_owned()))
    }

    /// Pays and posts the notification as `options` say. Tampering here: `FlipByte`
    /// changes one hex digit of `merchantToken`, `WrongKey` computes it with another key;
    /// `StaleTimestamp` does not apply (notifications carry no timestamp) and is ignored.
    pub async fn pay_with(
        &self,
        va_or_reference: &str,
        amount: i64,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let (url, fields) = self.ledger().pay(va_or_reference, amount, wib::now())?;
        self.notify(&url, fields, &options).await
    }

    /// Posts the notification of the VA's payment again.
    pub async fn redeliver_last(&self, va_or_reference: &str) -> Result<CallbackOutcome, SimError> {
        let (url, fields) = self.last_notification(va_or_reference)?;
        let outcomes = self
            .notify(&url, fields, &CallbackOptions::default())
            .await?;
        outcomes
            .into_iter()
            .next()
            .ok_or_else(|| SimError::Delivery("no notification was posted".to_owned()))
    }

    /// Pays `amount` into the VA (by VA number, `tXid` or `referenceNo`) and returns the
    /// notification as it would be posted to `dbProcessUrl`, without posting it.
    pub fn pay_and_capture(
        &self,
        va_or_reference: &str,
        amount: i64,
    ) -> Result<CapturedCallback, SimError> {
        let (url, fields) = self.ledger().pay(va_or_reference, amount, wib::now())?;
        Ok(self.outgoing(&url, fields, Tamper::None)?.into())
    }

    /// The notification of the VA's payment, spoiled as `tamper` says (see
    /// [`Self::pay_with`]), without posting it.
    pub fn callback_for_last_payment(
        &self,
        va_or_reference: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        let (url, fields) = self.last_notification(va_or_reference)?;
        Ok(self.outgoing(&url, fields, tamper)?.into())
    }

    /// The `dbProcessUrl` and notification fields (without token) of the VA's payment.
    fn last_notification(&self, va_or_reference: &str) -> Result<(String, FormFields), SimError> {
        let ledger = self.ledger();
        let t_xid = ledger
            .find(va_or_reference, wib::now())
            .ok_or_else(|| SimError::NotFound(va_or_reference.to_owned()))?;
        let transaction = ledger.transactions.get(&t_xid);
        let deposit = transaction.and_then(|t| t.deposit.as_ref().map(|d| (t, d)));
        let (transaction, deposit) =
            deposit.ok_or_else(|| SimError::NothingToRedeliver(va_or_reference.to_owned()))?;
        Ok((
            transaction.db_process_url.clone(),
            deposit.notification.clone(),
        ))
    }

    async fn notify(
        &self,
        url: &str,
        fields: FormFields,
        options: &CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let outgoing = self.outgoing(url, fields, options.tamper)?;
        callback::deliver(
            self.inner.http.get_or_init(callback::http_client),
            &outgoing,
            options.times,
            options.concurrent,
        )
        .await
    }

    /// The form-encoded notification to `url`, its `merchantToken` computed (and spoiled
    /// as `tamper` says) and inserted after `tXid`.
    fn outgoing(
        &self,
        url: &str,
        mut fields: FormFields,
        tamper: Tamper,
    ) -> Result<Outgoing, SimError> {
        let config = &self.inner.config;
        let field = |name: &str| {
            let found = fields.iter().find(|(key, _)| *key == name);
            found.map(|(_, value)| value.clone()).unwrap_or_default()
        };
        let (t_xid, amt) = (field("tXid"), field("amt"));
        let key = match tamper {
            Tamper::WrongKey => format!("{}-wrong", config.merchant_key),
            Tamper::None | Tamper::FlipByte | Tamper::StaleTimestamp => config.merchant_key.clone(),
        };
        let mut token = notification_token(&config.imid, &t_xid, &amt, &key);
        if tamper == Tamper::FlipByte {
            token = flip_first_hex_digit(&token);
        }
        fields.insert(1, ("merchantToken", token));
        let body = serde_urlencoded::to_string(&fields)
            .map_err(|err| SimError::Delivery(err.to_string()))?;
        Ok(Outgoing {
            url: url.to_owned(),
            content_type: "application/x-www-form-urlencoded",
            user_agent: "Jakarta Commons-HttpClient/3.1",
            body,
        })
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.inner
            .ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn serve(
        self,
        op: &'static str,
        headers: HeaderMap,
        body: Bytes,
        operation: Operation,
    ) -> Response {
        let fault = self.inner.faults.take(op);
        faults::apply(fault, MALFORMED, || async move {
            let mut ledger = self.ledger();
            *ledger.calls.entry(op.to_owned()).or_default() += 1;
            let result = parse_body(&headers, &body).and_then(|fields| {
                operation(
                    &mut ledger,
                    &self.inner.config,
                    &Fields(&fields),
                    wib::now(),
                )
            });
            drop(ledger);
            match result {
                Ok(answer) => axum::Json(answer).into_response(),
                Err(code) => {
                    tracing::debug!(op, code = ?code, "nicepay simulator refused request");
                    code.into_response()
                }
            }
        })
        .await
    }
}

async fn registration(
    State(sim): State<NicepaySimulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.serve("registration", headers, body, Ledger::register)
        .await
}

async fn inquiry(State(sim): State<NicepaySimulator>, headers: HeaderMap, body: Bytes) -> Response {
    sim.serve("inquiry", headers, body, Ledger::inquire).await
}

async fn cancel(State(sim): State<NicepaySimulator>, headers: HeaderMap, body: Bytes) -> Response {
    sim.serve("cancel", headers, body, Ledger::cancel).await
}

/// `application/json` in any letter case, and a JSON object (whitespace is irrelevant).
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Code> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Code::InvalidMessage);
    }
    serde_json::from_slice(body).map_err(|_| Code::InvalidMessage)
}

/// Field access: numbers read as their decimal text, empty strings as absent.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn text(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }

    fn required(&self, key: &str, missing: Code) -> Result<String, Code> {
        self.text(key).ok_or(missing)
    }

    fn check_mid(&self, config: &NicepayConfig) -> Result<(), Code> {
        match self.text("iMid") {
            Some(imid) if imid == config.imid => Ok(()),
            _ => Err(Code::InvalidMid),
        }
    }

    /// `timeStamp`: 14 digits (not checked against the clock).
    fn timestamp(&self) -> Result<String, Code> {
        let stamp = self.required("timeStamp", Code::DateTime)?;
        if stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit()) {
            Ok(stamp)
        } else {
            Err(Code::DateTime)
        }
    }

    /// `amt` as a string or number: the decimal text (what the token hashes) and its value.
    fn amount(&self) -> Result<(String, i64), Code> {
        let text = self.required("amt", Code::AmountMissing)?;
        if text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Code::AmountInvalid);
        }
        let value = text.parse().map_err(|_| Code::AmountInvalid)?;
        Ok((text, value))
    }

    fn pay_method(&self) -> Result<(), Code> {
        match self.text("payMethod").as_deref() {
            Some("02") => Ok(()),
            _ => Err(Code::MethodNotActive),
        }
    }

    fn check_token(&self, expected: &str) -> Result<(), Code> {
        let given = self.text("merchantToken").unwrap_or_default();
        if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(())
        } else {
            Err(Code::InvalidToken)
        }
    }

    /// `vacctValidDt` + `vacctValidTm` (WIB), or the default validity when both are empty.
    fn expiry(&self, now: OffsetDateTime, default_secs: i64) -> Result<OffsetDateTime, Code> {
        match (self.text("vacctValidDt"), self.text("vacctValidTm")) {
            (None, None) => Ok(now + time::Duration::seconds(default_secs)),
            (Some(date), Some(time_of_day)) => {
                let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
                if !digits(&date) || !digits(&time_of_day) {
                    return Err(Code::ExpiryInvalid);
                }
                if date.len() != 8 || time_of_day.len() != 6 {
                    return Err(Code::ExpiryLength);
                }
                match wib::parse_date_time(&date, &time_of_day) {
                    Some(at) if at > now => Ok(at),
                    _ => Err(Code::ExpiryInvalid),
                }
            }
            _ => Err(Code::ExpiryLength),
        }
    }

    /// `cartData` must be a string that holds JSON.
    fn cart_data(&self) -> Result<(), Code> {
        match self.0.get("cartData") {
            Some(Value::String(cart)) if serde_json::from_str::<Value>(cart).is_ok() => Ok(()),
            _ => Err(Code::CartData),
        }
    }
}

/// The buyer fields registration requires, with the code each one's absence gets.
const REQUIRED_BUYER_FIELDS: [(&str, Code); 9] = [
    ("goodsNm", Code::GoodsMissing),
    ("billingNm", Code::BuyerNameMissing),
    ("billingPhone", Code::PhoneMissing),
    ("billingEmail", Code::EmailMissing),
    ("billingCity", Code::CityMissing),
    ("billingState", Code::StateMissing),
    ("billingPostCd", Code::PostCodeMissing),
    ("billingCountry", Code::CountryMissing),
    ("dbProcessUrl", Code::DbProcessUrlMissing),
];

/// What registration's field and token checks yield.
struct Checked {
    timestamp: String,
    reference_no: String,
    amt: i64,
}

/// Registration's checks up to and including the token (1.4, 1.3).
fn check_registration(config: &NicepayConfig, f: &Fields<'_>) -> Result<Checked, Code> {
    f.check_mid(config)?;
    let timestamp = f.timestamp()?;
    f.pay_method()?;
    if f.required("currency", Code::CurrencyMissing)? != "IDR" {
        return Err(Code::CurrencyMissing);
    }
    let (amt_text, amt) = f.amount()?;
    let reference_no = f.required("referenceNo", Code::ReferenceMissing)?;
    if reference_no.chars().count() > 40 {
        return Err(Code::ReferenceTooLong);
    }
    for (key, missing) in REQUIRED_BUYER_FIELDS {
        f.required(key, missing)?;
    }
    f.cart_data()?;
    let key = &config.merchant_key;
    f.check_token(&request_token(
        &timestamp,
        &config.imid,
        &reference_no,
        &amt_text,
        key,
    ))?;
    Ok(Checked {
        timestamp,
        reference_no,
        amt,
    })
}

#[derive(Default)]
struct Ledger {
    transactions: BTreeMap<String, Transaction>,
    by_reference: HashMap<String, String>,
    /// VA number → the `tXid`s that used it (lookups stay O(1) under load tests).
    by_vacct: HashMap<String, Vec<String>>,
    calls: HashMap<String, usize>,
}

impl Ledger {
    fn register(
        &mut self,
        config: &NicepayConfig,
        f: &Fields<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Code> {
        let Checked {
            timestamp,
            reference_no,
            amt,
        } = check_registration(config, f)?;
        if self.by_reference.contains_key(&reference_no) {
            return Err(Code::DuplicateReference);
        }
        if amt < 1 {
            return Err(Code::AmountTooSmall);
        }
        let bank_cd = f.text("bankCd").unwrap_or_default();
        let prefix = config.prefix(&bank_cd).ok_or(Code::InvalidBank)?;
        let valid_until = f.expiry(now, config.default_expiry_secs)?;
        let vacct_no = self.vacct_no(&prefix, f.text("merFixAcctId"))?;
        let t_xid = self.new_t_xid(&config.imid, now);
        let transaction = Transaction {
            t_xid: t_xid.clone(),
            reference_no: reference_no.clone(),
            amt,
            currency: "IDR".to_owned(),
            goods_nm: f.text("goodsNm").unwrap_or_default(),
            billing_nm: f.text("billingNm").unwrap_or_default(),
            description: f.text("description"),
            bank_cd,
            vacct_no,
            valid_until,
            db_process_url: f.text("dbProcessUrl").unwrap_or_default(),
            req_dt: f.text("reqDt").unwrap_or_else(|| timestamp[..8].to_owned()),
            req_tm: f.text("reqTm").unwrap_or_else(|| timestamp[8..].to_owned()),
            created_at: now,
            deposit: None,
            cancelled_at: None,
        };
        let answer = transaction.registration_answer();
        self.by_reference.insert(reference_no, t_xid.clone());
        self.by_vacct
            .entry(transaction.vacct_no.clone())
            .or_default()
            .push(t_xid.clone());
        self.transactions.insert(t_xid, transaction);
        Ok(answer)
    }

    fn inquire(
        &mut self,
        config: &NicepayConfig,
        f: &Fields<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Code> {
        f.check_mid(config)?;
        let timestamp = f.timestamp()?;
        let reference_no = f.required("referenceNo", Code::ReferenceMissing)?;
        let (amt_text, _) = f.amount()?;
        f.check_token(&request_token(
            &timestamp,
            &config.imid,
            &reference_no,
            &amt_text,
            &config.merchant_key,
        ))?;
        let transaction = match f.text("tXid") {
            Some(t_xid) => self.transactions.get(&t_xid),
            None if config.inquiry_requires_txid => return Err(Code::TxidRequired),
            None => self
                .by_reference
                .get(&reference_no)
                .and_then(|t| self.transactions.get(t)),
        };
        let transaction = transaction
            .filter(|t| t.reference_no == reference_no)
            .ok_or(Code::NotFound)?;
        Ok(transaction.inquiry_answer(&config.imid, now))
    }

    fn cancel(
        &mut self,
        config: &NicepayConfig,
        f: &Fields<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Code> {
        f.check_mid(config)?;
        let timestamp = f.timestamp()?;
        let t_xid = f.required("tXid", Code::NotFound)?;
        f.pay_method()?;
        let partial = match f.text("cancelType").as_deref() {
            Some("1" | "01") => false,
            Some("2" | "02") => true,
            _ => return Err(Code::InvalidCancelType),
        };
        let (amt_text, amt) = f.amount()?;
        f.check_token(&request_token(
            &timestamp,
            &config.imid,
            &t_xid,
            &amt_text,
            &config.merchant_key,
        ))?;
        let cancel_t_xid = self.new_t_xid(&config.imid, now);
        let transaction = self.transactions.get_mut(&t_xid).ok_or(Code::NotFound)?;
        if amt > transaction.amt {
            return Err(Code::CancelAmountTooLarge);
        }
        match transaction.state(now) {
            TransactionState::Paid => return Err(Code::AlreadyPaid),
            TransactionState::Expired | TransactionState::Cancelled => {
                return Err(Code::CannotCancel);
            }
            TransactionState::Unpaid if partial => return Err(Code::PartialBeforePurchase),
            TransactionState::Unpaid => {}
        }
        transaction.cancelled_at = Some(now);
        Ok(json!({
            "resultCd": "0000",
            "resultMsg": "SUCCESS",
            "tXid": transaction.t_xid,
            "referenceNo": transaction.reference_no,
            "transDt": wib::date(now),
            "transTm": wib::time_of_day(now),
            "description": f.text("cancelMsg"),
            "amt": transaction.amt.to_string(),
            "canceltXid": cancel_t_xid,
        }))
    }

    /// `prefix` + `merFixAcctId` (fixed VA) or random digits, 16 digits in all.
    fn vacct_no(&self, prefix: &str, fixed: Option<String>) -> Result<String, Code> {
        if let Some(fixed) = fixed {
            let vacct_no = format!("{prefix}{fixed}");
            return if vacct_no.len() > 16 || !fixed.bytes().all(|b| b.is_ascii_digit()) {
                Err(Code::VacctTooLong)
            } else {
                Ok(vacct_no)
            };
        }
        let free = 16usize.saturating_sub(prefix.len()).max(4);
        let mut rng = rand::rng();
        loop {
            let tail: String = (0..free)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect();
            let vacct_no = format!("{prefix}{tail}");
            if !self.by_vacct.contains_key(&vacct_no) {
                return Ok(vacct_no);
            }
        }
    }

    /// iMid + `02` + yyyyMMddHHmmss (WIB) + 4 random digits: the shape of every published
    /// sample (`IONPAYTEST02202212141423372834`, 30 characters for a 10-character iMid).
    fn new_t_xid(&self, imid: &str, now: OffsetDateTime) -> String {
        let stamp = wib::stamp(now);
        let mut rng = rand::rng();
        loop {
            let t_xid = format!("{imid}02{stamp}{:04}", rng.random_range(0..10_000));
            if !self.transactions.contains_key(&t_xid) {
                return t_xid;
            }
        }
    }

    /// By `tXid`, `referenceNo`, or VA number (the unpaid one first, else the newest).
    fn find(&self, key: &str, now: OffsetDateTime) -> Option<String> {
        if self.transactions.contains_key(key) {
            return Some(key.to_owned());
        }
        if let Some(t_xid) = self.by_reference.get(key) {
            return Some(t_xid.clone());
        }
        let ids = self
            .by_vacct
            .get(key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let with_va = || ids.iter().filter_map(|id| self.transactions.get(id));
        let unpaid = with_va().find(|t| t.state(now) == TransactionState::Unpaid);
        let chosen = unpaid.or_else(|| with_va().max_by_key(|t| t.created_at))?;
        Some(chosen.t_xid.clone())
    }

    fn find_mut(&mut self, key: &str, now: OffsetDateTime) -> Option<&mut Transaction> {
        let t_xid = self.find(key, now)?;
        self.transactions.get_mut(&t_xid)
    }

    /// Records the deposit; returns the notification URL and fields (without token).
    fn pay(
        &mut self,
        key: &str,
        amount: i64,
        now: OffsetDateTime,
    ) -> Result<(String, FormFields), SimError> {
        let transaction = self
            .find_mut(key, now)
            .ok_or_else(|| SimError::NotFound(key.to_owned()))?;
        let state = transaction.state(now);
        if state != TransactionState::Unpaid {
            return Err(SimError::NotPayable {
                reference: transaction.reference_no.clone(),
                state: state.name(),
            });
        }
        if amount <= 0 {
            return Err(SimError::AmountRefused {
                amount,
                reason: "payments must be positive".to_owned(),
            });
        }
        let match_cl = match amount.cmp(&transaction.amt) {
            std::cmp::Ordering::Equal => "1",
            std::cmp::Ordering::Greater => "2",
            std::cmp::Ordering::Less => "3",
        };
        let notification = transaction.notification(amount, match_cl, now);
        transaction.deposit = Some(Deposit {
            amount,
            match_cl,
            at: now,
            notification: notification.clone(),
        });
        Ok((transaction.db_process_url.clone(), notification))
    }
}

fn flip_first_hex_digit(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    if let Some(first) = chars.first_mut() {
        *first = if *first == '0' { '1' } else { '0' };
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests;
