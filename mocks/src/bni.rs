//! Simulator of BNI eCollection, the legacy encrypted-JSON VA API (provider notes, Part A).
//!
//! One `POST /` takes `{"client_id", "prefix"?, "data"}` where `data` is the BniEnc-encrypted
//! request ([`crypto`]); the operation is the decrypted `type`. The simulator checks each
//! request as BNI does and answers with BNI's own `status` codes (A.7), always with HTTP 200
//! for business outcomes: `{"status":"000","data":"<encrypted, fresh timestamp>"}` or
//! `{"status":"<code>","message":"<text>"}`. It keeps the billings, and can act: `pay`
//! records a payment and posts BNI's encrypted callback (A.5) to the configured URL.
//!
//! Choices where the protocol notes are silent (marked `[U]` or `[I]` there):
//! - `data` that does not decrypt, or whose timestamp is outside the window, gets
//!   `{"status":"999","message":"waktu server tidak sesuai NTP atau secret key salah."}`,
//!   the answer of BNI's own sample code for that failure. A wrong outer `client_id` is
//!   `002`, a missing envelope field, unparseable JSON or a `prefix` other than the configured
//!   one `001`; an unknown `type` `004`.
//! - The check order of `createbilling` is: required fields (`001`), inner `client_id`
//!   (`002`), duplicate `trx_id` (`105`, before any other validation, so an identical
//!   retry of a create that took effect is always told `105`), billing type (`016`, or
//!   `801` for `j`/`z`/`d`), amount (`013`/`001`), type vs amount (`011`), lengths
//!   (`001`), expiry (`012`, also when not in the future), VA (`006`/`102`).
//! - A generated VA is `prefix` + client id zero-padded to 3 digits (5 when the prefix has
//!   3 or more digits, the `988` layout of A.6) + random digits up to 16. A given VA must
//!   have that head. A VA is "in use" (`102`) while another billing with it is active.
//! - Without `datetime_expired` a billing never expires.
//! - `updatebilling` blanks every omitted optional field, `datetime_expired` included (the
//!   billing then never expires); `107` applies to installment billings whose new amount is
//!   below what was paid; a deactivated billing answers `103` like an expired one.
//! - `inactivebilling` of a paid billing is `100`, of an expired one `103`, of an already
//!   deactivated one `000` (idempotent); a `virtual_account` that does not match is `006`.
//!   Its answer `data` is `{virtual_account, trx_id}` like create's.
//! - `createbillingsms` is accepted like `createbilling` plus its rules (`201` unless type
//!   `c`, name at most 14 characters and phone starting `628`, else `001`); no SMS is sent.
//! - Installment payments above the amount still due are refused by `pay`.

pub mod crypto;

mod billing;

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
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use self::billing::{Billing, Details, Payment};
pub use self::billing::{BillingState, BillingType, BillingView, PaymentView};
use crate::callback::{
    self, CallbackOptions, CallbackOutcome, CapturedCallback, Outgoing, SimError, Tamper,
};
use crate::faults::{self, Faults};
use crate::server::{self, Running};
use crate::wib;

/// How the simulated bank knows its one client.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BniConfig {
    /// BNI-assigned client id, e.g. `"123"`.
    pub client_id: String,
    /// The client's secret key (32 hex characters at BNI, used as text).
    pub secret_key: String,
    /// VA prefix, e.g. `"8"` or `"988"`.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Where payment callbacks go (BNI registers one URL per client id).
    #[serde(default)]
    pub callback_url: Option<String>,
    /// Accepted distance between a request's encrypted timestamp and now.
    #[serde(default = "default_window")]
    pub timestamp_window_secs: i64,
}

fn default_prefix() -> String {
    "8".to_owned()
}

fn default_window() -> i64 {
    300
}

impl BniConfig {
    /// A configuration with prefix `8`, no callback URL and a 300 s window.
    pub fn new(client_id: &str, secret_key: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            secret_key: secret_key.to_owned(),
            prefix: default_prefix(),
            callback_url: None,
            timestamp_window_secs: default_window(),
        }
    }

    /// The fixed head of this client's VA numbers (A.6).
    fn va_head(&self) -> String {
        let width = if self.prefix.len() >= 3 { 5 } else { 3 };
        format!("{}{:0>width$}", self.prefix, self.client_id)
    }
}

impl std::fmt::Debug for BniConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BniConfig")
            .field("client_id", &self.client_id)
            .field("secret_key", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("callback_url", &self.callback_url)
            .field("timestamp_window_secs", &self.timestamp_window_secs)
            .finish()
    }
}

/// BNI's answer codes (A.7) that the simulator produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    InvalidParameter,
    WrongClient,
    ServiceNotFound,
    InvalidVa,
    TechnicalFailure,
    TypeAmountMismatch,
    InvalidExpiry,
    DecimalAmount,
    InvalidBillingType,
    Paid,
    NotFound,
    VaInUse,
    Expired,
    DuplicateTrxId,
    AmountNotChangeable,
    SmsNeedsFixed,
    TypeNotSupported,
    ContentType,
    Undecryptable,
}

impl Code {
    fn status_and_message(self) -> (&'static str, &'static str) {
        match self {
            Self::InvalidParameter => ("001", "Incomplete/invalid Parameter(s)"),
            Self::WrongClient => ("002", "IP address not allowed or wrong Client ID"),
            Self::ServiceNotFound => ("004", "Service not found"),
            Self::InvalidVa => ("006", "Invalid VA Number"),
            Self::TechnicalFailure => ("008", "Technical Failure"),
            Self::TypeAmountMismatch => ("011", "Billing type does not match billing amount"),
            Self::InvalidExpiry => ("012", "Invalid expiry date/time"),
            Self::DecimalAmount => (
                "013",
                "IDR currency cannot have billing amount with decimal fraction",
            ),
            Self::InvalidBillingType => ("016", "Invalid Billing Type"),
            Self::Paid => ("100", "Billing has been paid"),
            Self::NotFound => ("101", "Billing not found"),
            Self::VaInUse => ("102", "VA Number is in use"),
            Self::Expired => ("103", "Billing has been expired"),
            Self::DuplicateTrxId => ("105", "Duplicate Billing ID"),
            Self::AmountNotChangeable => ("107", "Amount can not be changed"),
            Self::SmsNeedsFixed => ("201", "SMS Payment can only be used with Fixed Payment"),
            Self::TypeNotSupported => ("801", "Billing type not supported for this Client ID"),
            Self::ContentType => ("998", "\"Content-Type\" header not defined as it should be"),
            Self::Undecryptable => (
                "999",
                "waktu server tidak sesuai NTP atau secret key salah.",
            ),
        }
    }

    fn into_response(self) -> Response {
        let (status, message) = self.status_and_message();
        axum::Json(json!({ "status": status, "message": message })).into_response()
    }
}

/// What a [`crate::faults::Fault::Malformed`] answers: cut off mid-string.
const MALFORMED: &str = r#"{"status":"000","data":"SRETFRQWGBcgHBgON"#;

/// A simulated BNI eCollection host for one client id. Clones share state.
#[derive(Clone)]
pub struct BniSimulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: BniConfig,
    callback_url: Mutex<Option<String>>,
    ledger: Mutex<Ledger>,
    faults: Faults,
    http: std::sync::OnceLock<reqwest::Client>,
}

impl std::fmt::Debug for BniSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BniSimulator")
            .field("client_id", &self.inner.config.client_id)
            .finish_non_exhaustive()
    }
}

impl BniSimulator {
    /// A simulator with no billings.
    pub fn new(config: BniConfig) -> Self {
        let first_ntb = rand::rng().random_range(100_000..900_000);
        Self {
            inner: Arc::new(Inner {
                callback_url: Mutex::new(config.callback_url.clone()),
                config,
                ledger: Mutex::new(Ledger {
                    next_ntb: first_ntb,
                    ..Ledger::default()
                }),
                faults: Faults::default(),
                http: std::sync::OnceLock::new(),
            }),
        }
    }

    /// `POST /`, the whole eCollection API.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", post(handle))
            .with_state(self.clone())
    }

    /// Serves [`Self::router`] on `addr`.
    pub async fn spawn(&self, addr: SocketAddr) -> io::Result<Running> {
        server::spawn(self.router(), addr).await
    }

    /// The fault rules requests consult; the operation is the request's `type`.
    pub fn faults(&self) -> Faults {
        self.inner.faults.clone()
    }

    /// The configured client id.
    pub fn client_id(&self) -> &str {
        &self.inner.config.client_id
    }

    /// Points payment callbacks at `url`.
    pub fn set_callback_url(&self, url: impl Into<String>) {
        *lock(&self.inner.callback_url) = Some(url.into());
    }

    /// Where payment callbacks go, if anywhere.
    pub fn callback_url(&self) -> Option<String> {
        lock(&self.inner.callback_url).clone()
    }

    /// How many requests of `op` (a `type`, case-insensitive) reached the business logic
    /// (those answered by a fault other than latency or hang-after-effect do not count).
    pub fn calls(&self, op: &str) -> usize {
        let ledger = self.ledger();
        ledger
            .calls
            .get(&op.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// A snapshot of the billing `trx_id`.
    pub fn billing(&self, trx_id: &str) -> Option<BillingView> {
        let ledger = self.ledger();
        ledger.billings.get(trx_id).map(|b| b.view(wib::now()))
    }

    /// Snapshots of every billing, ordered by `trx_id`.
    pub fn billings(&self) -> Vec<BillingView> {
        let now = wib::now();
        self.ledger()
            .billings
            .values()
            .map(|b| b.view(now))
            .collect()
    }

    /// Makes the billing (by `trx_id` or VA number) expire now.
    pub fn expire(&self, va_or_trx: &str) -> Result<(), SimError> {
        let now = wib::now();
        let mut ledger = self.ledger();
        let billing = ledger
            .find_mut(va_or_trx, now)
            .ok_or_else(|| SimError::NotFound(va_or_trx.to_owned()))?;
        billing.expires_at = Some(now - time::Duration::seconds(1));
        Ok(())
    }

    /// Records a payment of `amount` into the billing (by `trx_id` or VA number) and posts
    /// its callback once.
    pub async fn pay(&self, va_or_trx: &str, amount: i64) -> Result<CallbackOutcome, SimError> {
        let outcomes = self
            .pay_with(va_or_trx, amount, CallbackOptions::default())
            .await?;
        outcomes
            .into_iter()
            .next()
            .ok_or_else(|| SimError::Delivery("no callback was posted".to_owned()))
    }

    /// Records a payment and posts its callback as `options` say (duplicates, concurrency,
    /// tampering). Tampering here: `FlipByte` flips one bit of the `data` character that
    /// carries the JSON's opening brace (so it can no longer decrypt to JSON); `WrongKey`
    /// encrypts with a different secret; `StaleTimestamp` stamps it 10 minutes ago.
    pub async fn pay_with(
        &self,
        va_or_trx: &str,
        amount: i64,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let url = self.url_if_needed(options.times)?;
        let json = self.ledger().pay(va_or_trx, amount, wib::now())?;
        match url {
            Some(url) => self.post_callback(&url, &json, &options).await,
            None => Ok(Vec::new()),
        }
    }

    /// Records one payment per amount, in order, then posts their callbacks in reverse
    /// order (the last payment's first). Returns the outcomes in posting order.
    pub async fn pay_out_of_order(
        &self,
        va_or_trx: &str,
        amounts: &[i64],
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let url = self.url_if_needed(1)?.ok_or(SimError::NoCallbackUrl)?;
        let mut callbacks = Vec::new();
        for &amount in amounts {
            callbacks.push(self.ledger().pay(va_or_trx, amount, wib::now())?);
        }
        let once = CallbackOptions::default();
        let mut outcomes = Vec::new();
        for json in callbacks.iter().rev() {
            outcomes.extend(self.post_callback(&url, json, &once).await?);
        }
        Ok(outcomes)
    }

    /// Posts the callback of the billing's last payment again (freshly encrypted).
    pub async fn redeliver_last(&self, va_or_trx: &str) -> Result<CallbackOutcome, SimError> {
        let url = self.url_if_needed(1)?.ok_or(SimError::NoCallbackUrl)?;
        let json = self.last_callback_json(va_or_trx)?;
        let outcomes = self
            .post_callback(&url, &json, &CallbackOptions::default())
            .await?;
        outcomes
            .into_iter()
            .next()
            .ok_or_else(|| SimError::Delivery("no callback was posted".to_owned()))
    }

    /// Records a payment of `amount` into the billing (by `trx_id` or VA number) and
    /// returns its callback as it would be posted, without posting it (no callback URL
    /// is needed).
    pub fn pay_and_capture(
        &self,
        va_or_trx: &str,
        amount: i64,
    ) -> Result<CapturedCallback, SimError> {
        let json = self.ledger().pay(va_or_trx, amount, wib::now())?;
        Ok(self.outgoing(&json, Tamper::None).into())
    }

    /// The callback of the billing's last payment, freshly encrypted and spoiled as
    /// `tamper` says (see [`Self::pay_with`]), without posting it.
    pub fn callback_for_last_payment(
        &self,
        va_or_trx: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        let json = self.last_callback_json(va_or_trx)?;
        Ok(self.outgoing(&json, tamper).into())
    }

    /// The decrypted callback of the billing's last payment.
    fn last_callback_json(&self, va_or_trx: &str) -> Result<String, SimError> {
        let mut ledger = self.ledger();
        let billing = ledger
            .find_mut(va_or_trx, wib::now())
            .ok_or_else(|| SimError::NotFound(va_or_trx.to_owned()))?;
        let last = billing.payments.last();
        last.map(|p| p.callback_json.clone())
            .ok_or_else(|| SimError::NothingToRedeliver(va_or_trx.to_owned()))
    }

    fn url_if_needed(&self, times: u32) -> Result<Option<String>, SimError> {
        if times == 0 {
            return Ok(None);
        }
        self.callback_url().map(Some).ok_or(SimError::NoCallbackUrl)
    }

    async fn post_callback(
        &self,
        url: &str,
        json: &str,
        options: &CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let outgoing = Outgoing {
            url: url.to_owned(),
            ..self.outgoing(json, options.tamper)
        };
        callback::deliver(
            self.inner.http.get_or_init(callback::http_client),
            &outgoing,
            options.times,
            options.concurrent,
        )
        .await
    }

    /// The callback request for `json`, encrypted now and spoiled as `tamper` says, to the
    /// configured callback URL (empty when there is none).
    fn outgoing(&self, json: &str, tamper: Tamper) -> Outgoing {
        let config = &self.inner.config;
        let mut unix = OffsetDateTime::now_utc().unix_timestamp();
        let mut secret = config.secret_key.clone();
        match tamper {
            Tamper::None | Tamper::FlipByte => {}
            Tamper::WrongKey => secret = wrong_key(&secret),
            Tamper::StaleTimestamp => unix -= 600,
        }
        let mut data = crypto::encrypt(&config.client_id, &secret, json, unix);
        if tamper == Tamper::FlipByte {
            data = flip_brace_bit(&data);
        }
        let body = json!({ "client_id": config.client_id, "data": data });
        Outgoing {
            url: self.callback_url().unwrap_or_default(),
            content_type: "application/json",
            user_agent: "bni-ecollection-simulator",
            body: body.to_string(),
        }
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(&self.inner.ledger)
    }

    /// Handles one decrypted request whose faults have been applied.
    fn dispatch(&self, request: Request) -> Response {
        let config = &self.inner.config;
        let now = wib::now();
        let fields = Fields(&request.fields);
        let mut ledger = self.ledger();
        *ledger.calls.entry(request.op.clone()).or_default() += 1;
        let result = match request.op.as_str() {
            "createbilling" => ledger.create(config, &fields, now, false),
            "createbillingsms" => ledger.create(config, &fields, now, true),
            "updatebilling" => ledger.update(config, &fields, now),
            "inquirybilling" => ledger.inquiry(config, &fields, now),
            "inactivebilling" => ledger.deactivate(config, &fields, now),
            _ => Err(Code::ServiceNotFound),
        };
        drop(ledger);
        match result {
            Ok(data) => self.success(&data, now),
            Err(code) => {
                tracing::debug!(op = %request.op, code = ?code, "bni simulator refused request");
                code.into_response()
            }
        }
    }

    fn success(&self, data: &Value, now: OffsetDateTime) -> Response {
        let config = &self.inner.config;
        let json = crypto::ascii_json(data);
        let data = crypto::encrypt(
            &config.client_id,
            &config.secret_key,
            &json,
            now.unix_timestamp(),
        );
        axum::Json(json!({ "status": "000", "data": data })).into_response()
    }
}

async fn handle(State(sim): State<BniSimulator>, headers: HeaderMap, body: Bytes) -> Response {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let request = match open_request(&sim.inner.config, &headers, &body, now) {
        Ok(request) => request,
        Err(code) => return code.into_response(),
    };
    let fault = sim.inner.faults.take(&request.op);
    faults::apply(fault, MALFORMED, || async move { sim.dispatch(request) }).await
}

/// A request whose envelope checked out and whose `data` decrypted.
struct Request {
    /// `type`, lower-cased.
    op: String,
    fields: Map<String, Value>,
}

/// A.1 and A.4: content type, envelope, client id, decryption, `type`.
fn open_request(
    config: &BniConfig,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Request, Code> {
    if !is_json(headers) {
        return Err(Code::ContentType);
    }
    let outer: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| Code::InvalidParameter)?;
    let outer = Fields(&outer);
    if outer.required("client_id")? != config.client_id {
        return Err(Code::WrongClient);
    }
    if outer
        .text("prefix")
        .is_some_and(|prefix| prefix != config.prefix)
    {
        return Err(Code::InvalidParameter);
    }
    let data = outer.required("data")?;
    let payload = crypto::decrypt(
        &config.client_id,
        &config.secret_key,
        &data,
        now,
        config.timestamp_window_secs,
    )
    .map_err(|err| {
        tracing::debug!(error = %err, "bni simulator could not decrypt a request");
        Code::Undecryptable
    })?;
    let Value::Object(fields) = payload else {
        return Err(Code::InvalidParameter);
    };
    let op = Fields(&fields).required("type")?.to_ascii_lowercase();
    Ok(Request { op, fields })
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Field access with BNI's leniency: numbers are read as their decimal text, blank strings
/// count as absent.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn text(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(text) if !text.trim().is_empty() => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }

    fn required(&self, key: &str) -> Result<String, Code> {
        self.text(key).ok_or(Code::InvalidParameter)
    }

    /// An optional text of at most `max` characters (`001` when longer).
    fn bounded(&self, key: &str, max: usize) -> Result<Option<String>, Code> {
        match self.text(key) {
            Some(text) if text.chars().count() > max => Err(Code::InvalidParameter),
            other => Ok(other),
        }
    }

    fn check_client(&self, config: &BniConfig) -> Result<(), Code> {
        if self.required("client_id")? == config.client_id {
            Ok(())
        } else {
            Err(Code::WrongClient)
        }
    }

    /// The changeable fields of create and update: amount (`013`/`001`), amount vs type
    /// (`011`), lengths (`001`), expiry (`012`).
    fn details(&self, billing_type: BillingType, now: OffsetDateTime) -> Result<Details, Code> {
        let trx_amount = self.amount("trx_amount")?;
        billing_type.check_amount(trx_amount)?;
        let customer_name = self.bounded("customer_name", 255)?;
        Ok(Details {
            trx_amount,
            customer_name: customer_name.ok_or(Code::InvalidParameter)?,
            customer_email: self.bounded("customer_email", 255)?,
            customer_phone: self.bounded("customer_phone", 30)?,
            description: self.bounded("description", 100)?,
            expires_at: self.expiry(now)?,
        })
    }

    fn amount(&self, key: &str) -> Result<i64, Code> {
        parse_amount(self.0.get(key).ok_or(Code::InvalidParameter)?)
    }

    /// `datetime_expired`: absent is `None`; unparseable or not in the future is `012`.
    fn expiry(&self, now: OffsetDateTime) -> Result<Option<OffsetDateTime>, Code> {
        let Some(text) = self.text("datetime_expired") else {
            return Ok(None);
        };
        match wib::parse_spaced_or_iso(&text) {
            Some(at) if at > now => Ok(Some(at)),
            _ => Err(Code::InvalidExpiry),
        }
    }
}

/// Whole rupiah as a string or number, at most 14 digits; any fraction is `013`.
fn parse_amount(value: &Value) -> Result<i64, Code> {
    let text = match value {
        Value::String(text) => text.trim().to_owned(),
        Value::Number(number) => number.to_string(),
        _ => return Err(Code::InvalidParameter),
    };
    if let Some((whole, fraction)) = text.split_once(['.', ',']) {
        return if is_digits(whole) && is_digits(fraction) {
            Err(Code::DecimalAmount)
        } else {
            Err(Code::InvalidParameter)
        };
    }
    if !is_digits(&text) || text.len() > 14 {
        return Err(Code::InvalidParameter);
    }
    text.parse().map_err(|_| Code::InvalidParameter)
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Default)]
struct Ledger {
    billings: BTreeMap<String, Billing>,
    /// VA number → the `trx_id`s that used it, so lookups by number stay O(1) however
    /// many billings the simulator holds (it serves load tests too).
    by_va: HashMap<String, Vec<String>>,
    calls: HashMap<String, usize>,
    next_ntb: u64,
}

impl Ledger {
    fn create(
        &mut self,
        config: &BniConfig,
        fields: &Fields<'_>,
        now: OffsetDateTime,
        sms: bool,
    ) -> Result<Value, Code> {
        let trx_id = fields.required("trx_id")?;
        let type_code = fields.required("billing_type")?;
        fields.required("trx_amount")?;
        fields.required("customer_name")?;
        fields.check_client(config)?;
        if self.billings.contains_key(&trx_id) {
            return Err(Code::DuplicateTrxId);
        }
        if trx_id.chars().count() > 30 {
            return Err(Code::InvalidParameter);
        }
        let billing_type = BillingType::parse(&type_code)?;
        let details = fields.details(billing_type, now)?;
        if sms {
            check_sms(billing_type, &details)?;
        }
        let virtual_account = match fields.text("virtual_account") {
            Some(va) => self.claim_va(config, va, now)?,
            None => self.generate_va(config, now)?,
        };
        let answer = json!({ "virtual_account": virtual_account, "trx_id": trx_id });
        self.by_va
            .entry(virtual_account.clone())
            .or_default()
            .push(trx_id.clone());
        let billing = Billing::new(trx_id.clone(), virtual_account, billing_type, details, now);
        self.billings.insert(trx_id, billing);
        Ok(answer)
    }

    fn update(
        &mut self,
        config: &BniConfig,
        fields: &Fields<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Code> {
        let trx_id = fields.required("trx_id")?;
        fields.required("trx_amount")?;
        fields.required("customer_name")?;
        fields.check_client(config)?;
        let billing = self.billings.get_mut(&trx_id).ok_or(Code::NotFound)?;
        match billing.state(now) {
            BillingState::Active => {}
            BillingState::Paid => return Err(Code::Paid),
            BillingState::Expired | BillingState::Inactive => return Err(Code::Expired),
        }
        // Every optional field omitted here is blanked (A.3 updatebilling).
        let details = fields.details(billing.billing_type, now)?;
        let installment = billing.billing_type == BillingType::Installment;
        if installment && details.trx_amount < billing.paid_total() {
            return Err(Code::AmountNotChangeable);
        }
        billing.apply(details, now);
        Ok(json!({ "virtual_account": billing.virtual_account, "trx_id": trx_id }))
    }

    fn inquiry(
        &self,
        config: &BniConfig,
        fields: &Fields<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Code> {
        let trx_id = fields.required("trx_id")?;
        fields.check_client(config)?;
        let billing = self.billings.get(&trx_id).ok_or(Code::NotFound)?;
        Ok(billing.inquiry_data(&config.client_id, now))
    }

    fn deactivate(
        &mut self,
        config: &BniConfig,
        fields: &Fields<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, Code> {
        let trx_id = fields.required("trx_id")?;
        fields.check_client(config)?;
        let billing = self.billings.get_mut(&trx_id).ok_or(Code::NotFound)?;
        if fields
            .text("virtual_account")
            .is_some_and(|va| va != billing.virtual_account)
        {
            return Err(Code::InvalidVa);
        }
        match billing.state(now) {
            BillingState::Active | BillingState::Inactive => {}
            BillingState::Paid => return Err(Code::Paid),
            BillingState::Expired => return Err(Code::Expired),
        }
        if !billing.deactivated {
            billing.deactivated = true;
            billing.updated_at = now;
        }
        Ok(json!({ "virtual_account": billing.virtual_account, "trx_id": trx_id }))
    }

    /// The billings that used VA number `va`.
    fn with_va<'a>(&'a self, va: &str) -> impl Iterator<Item = &'a Billing> + 'a {
        let ids = self.by_va.get(va).map(Vec::as_slice).unwrap_or_default();
        ids.iter().filter_map(|id| self.billings.get(id))
    }

    fn va_in_use(&self, va: &str, now: OffsetDateTime) -> bool {
        self.with_va(va)
            .any(|b| b.state(now) == BillingState::Active)
    }

    fn claim_va(
        &self,
        config: &BniConfig,
        va: String,
        now: OffsetDateTime,
    ) -> Result<String, Code> {
        if va.len() != 16 || !is_digits(&va) || !va.starts_with(&config.va_head()) {
            return Err(Code::InvalidVa);
        }
        if self.va_in_use(&va, now) {
            return Err(Code::VaInUse);
        }
        Ok(va)
    }

    fn generate_va(&self, config: &BniConfig, now: OffsetDateTime) -> Result<String, Code> {
        let head = config.va_head();
        let free = 16usize.checked_sub(head.len()).filter(|free| *free >= 4);
        let free = free.ok_or(Code::TechnicalFailure)?;
        let mut rng = rand::rng();
        for _ in 0..1000 {
            let tail: String = (0..free)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect();
            let va = format!("{head}{tail}");
            if !self.va_in_use(&va, now) {
                return Ok(va);
            }
        }
        Err(Code::TechnicalFailure)
    }

    /// By `trx_id`, else by VA number (the active billing with it, else the newest).
    fn find_mut(&mut self, va_or_trx: &str, now: OffsetDateTime) -> Option<&mut Billing> {
        let key = if self.billings.contains_key(va_or_trx) {
            va_or_trx.to_owned()
        } else {
            let active = self
                .with_va(va_or_trx)
                .find(|b| b.state(now) == BillingState::Active);
            let chosen = active.or_else(|| self.with_va(va_or_trx).max_by_key(|b| b.created_at))?;
            chosen.trx_id.clone()
        };
        self.billings.get_mut(&key)
    }

    /// Records a payment; returns its callback JSON.
    fn pay(
        &mut self,
        va_or_trx: &str,
        amount: i64,
        now: OffsetDateTime,
    ) -> Result<String, SimError> {
        self.next_ntb += 1;
        let ntb = self.next_ntb.to_string();
        let billing = self
            .find_mut(va_or_trx, now)
            .ok_or_else(|| SimError::NotFound(va_or_trx.to_owned()))?;
        let state = billing.state(now);
        if state != BillingState::Active {
            return Err(SimError::NotPayable {
                reference: billing.trx_id.clone(),
                state: state.name(),
            });
        }
        billing
            .check_payment(amount)
            .map_err(|reason| SimError::AmountRefused { amount, reason })?;
        let cumulative = billing.paid_total() + amount;
        let callback_json =
            crypto::ascii_json(&billing.callback_data(amount, cumulative, &ntb, now));
        billing.payments.push(Payment {
            amount,
            cumulative,
            ntb,
            at: now,
            callback_json: callback_json.clone(),
        });
        billing.updated_at = now;
        Ok(callback_json)
    }
}

fn check_sms(billing_type: BillingType, details: &Details) -> Result<(), Code> {
    if billing_type != BillingType::Fixed {
        return Err(Code::SmsNeedsFixed);
    }
    let phone_ok = details
        .customer_phone
        .as_deref()
        .is_some_and(|phone| phone.starts_with("628"));
    if details.customer_name.chars().count() > 14 || !phone_ok {
        return Err(Code::InvalidParameter);
    }
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A secret whose every printable character differs from the real one by 47 or −48, so
/// every byte of the timestamp prefix decrypts to a non-digit.
fn wrong_key(secret: &str) -> String {
    if secret.is_empty() {
        return "wrong-secret".to_owned();
    }
    secret
        .bytes()
        .map(|b| {
            if (32..127).contains(&b) {
                char::from((b - 32 + 47) % 95 + 32)
            } else {
                'x'
            }
        })
        .collect()
}

/// Flips the low bit of `data`'s 16th character, which encodes the low six bits of
/// plaintext byte 11: the `{` after the 10-digit timestamp and the dot. It decrypts to
/// `z` or `|`, never JSON.
fn flip_brace_bit(data: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = data.as_bytes().to_vec();
    if let Some(c) = bytes.get_mut(15)
        && let Some(index) = ALPHABET.iter().position(|a| a == c)
    {
        *c = ALPHABET[index ^ 1];
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests;
