//! Simulator of Digiflazz's buyer API (Indonesia): a PPOB aggregator holding the merchant's
//! deposit, selling prepaid products (pulsa, PLN tokens) and paying postpaid bills (provider
//! notes on PPOB billers, section 1, and the shared decisions that fill its gaps).
//!
//! Every route is a `POST` with a JSON body (`Content-Type: application/json`) and answers
//! HTTP 200 `{"data": …}` for every business outcome; only [`faults`](crate::faults) give
//! other statuses, hangs and garbled bodies. Each request is checked in this order: a JSON
//! body with the fields the signature covers (rc 40), `username` (rc 42), `sign` =
//! md5(username + key + X) (rc 41, §1.2), then the command's own fields (rc 40) and rules:
//! - `POST /v1/cek-saldo` (`cmd:"deposit"`, X = `depo`): `{"deposit": n}`.
//! - `POST /v1/price-list` (`cmd:"prepaid"|"pasca"`, X = `pricelist`, filters `code`,
//!   `category`, `brand`, `type`): the [`SimProduct`]s of that kind.
//! - `POST /v1/transaction` (X = `ref_id`, which must be 1–26 upper-case alphanumerics,
//!   rc 40 otherwise):
//!   - without `commands`, a prepaid purchase (§1.3.4): an unknown or inactive SKU is rc 43,
//!     a `max_price` below the price rc 69, a deposit below the price rc 44 (nothing
//!     booked); a seller out of stock books `Gagal` rc 53; otherwise the customer number
//!     decides (§1.6: `087800001232` `Gagal` rc 02, `…233` `Pending` then `Sukses`, `…234`
//!     `Pending` then `Gagal`, anything else `Sukses`). The same `ref_id` again with the
//!     same SKU and number answers the transaction as it stands (the status check) and
//!     books nothing; with other fields it is rc 49; past 90 days the old transaction is
//!     forgotten and the request buys again, as Digiflazz warns.
//!   - `inq-pasca` finds the bill of §1.6's postpaid table (1 or 2 sheets; the inquiry-fail
//!     number is `Gagal` rc 02); `pay-pasca` pays an inquiry of the same `ref_id`, SKU and
//!     number made the same simulated day (rc 02 `Inquiry tidak ditemukan` otherwise) and
//!     ends as the table says; `status-pasca` answers the payment, or rc 50 `Data belum
//!     ada` for a `ref_id` it never paid (or paid more than 90 days ago).
//! - `POST /v1/inquiry-pln` (X = `customer_no`): the meter's customer; a number ending in
//!   `9` is rc 54.
//! - `POST /v1/deposit` (X = `deposit`): a transfer ticket for `amount` plus a unique 1–999.
//!
//! The deposit is debited when a transaction is booked `Sukses` or `Pending` and credited
//! back when it ends `Gagal` (or is refunded, rc 74); `buyer_last_saldo` is the deposit
//! after the transaction's last change. A `Pending` transaction ends by itself
//! [`DigiflazzConfig::pending_after`] after it was booked (a tokio task), or when a test
//! calls [`DigiflazzSimulator::settle`].
//!
//! Webhooks (§1.5) go to a transaction's `cb_url`, else to the URL set with
//! [`DigiflazzSimulator::set_webhook_url`], as the [`CallbackPolicy`] says: `create` when a
//! transaction is booked (from a task of its own: the answer does not wait), `update` when
//! it changes. Each delivery has its own `X-Digiflazz-Delivery` UUID; the body `{"data":
//! …}` is the answer's `data` plus `trx_id`, signed `X-Hub-Signature: sha1=<hex
//! HMAC-SHA1(webhook secret, body)>` (no signature when the secret is empty), with
//! `User-Agent: DigiFlazz-Hookshot/1.0` (prepaid) or `DigiFlazz-Pasca-Hookshot/1.0`.
//!
//! Choices where the notes are silent:
//! - `testing` is type-checked and otherwise ignored: the simulated deposit moves either
//!   way, so balances can be reconciled.
//! - A postpaid number outside §1.6's table has one bill sheet and pays; a prepaid SKU sent
//!   with `commands`, or a postpaid one without, is rc 43.
//! - An inquiry only reserves its `ref_id`: a purchase under it is rc 49, and
//!   `status-pasca` says `Data belum ada` until it is paid. A `ref_id` used by a payment is
//!   rc 49 for a new inquiry.
//! - The ping ([`DigiflazzSimulator::ping`]) carries `X-Digiflazz-Event: ping` and a `hook`
//!   object without the secret.
//! - The simulated calendar starts at today's date in WIB and moves only with
//!   [`DigiflazzSimulator::pass_days`] (the same-day payment rule and the 90-day horizon).
//! - Fault and counter operations: `cek-saldo`, `price-list`, `topup` (prepaid purchases
//!   and their status checks), `inq-pasca`, `pay-pasca`, `status-pasca`, `inquiry-pln`,
//!   `deposit`; a `/v1/transaction` with an unknown `commands` is `transaction`.

mod catalogue;
mod ledger;
mod routes;
mod wire;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::callback::{self, CallbackOutcome, CapturedCallback, SimError, Tamper};
use crate::conformance::biller::{
    BillerOp, BillerScript, BillerSimulator, PostpaidNumbers, PrepaidNumbers, SheetAmounts,
};
use crate::faults::Faults;
use crate::server::{self, Running};
use ledger::{Ledger, Order};
use wire::Webhook;

pub use catalogue::{PostpaidFees, SimProduct, UNAVAILABLE_SKU, default_products};
pub use wire::{
    DELIVERY_HEADER, EVENT_HEADER, POSTPAID_USER_AGENT, PREPAID_USER_AGENT, SIGNATURE_HEADER,
    hub_signature, sign,
};

/// Balance (§1.3.1).
pub const CEK_SALDO_PATH: &str = "/v1/cek-saldo";
/// Price list (§1.3.2).
pub const PRICE_LIST_PATH: &str = "/v1/price-list";
/// Purchases, inquiries, payments and status (§1.3.4–1.3.7).
pub const TRANSACTION_PATH: &str = "/v1/transaction";
/// PLN prepaid customer validation (§1.3.8).
pub const INQUIRY_PLN_PATH: &str = "/v1/inquiry-pln";
/// Deposit ticket (§1.3.3).
pub const DEPOSIT_PATH: &str = "/v1/deposit";

/// The opening deposit of [`DigiflazzConfig::new`].
pub const DEFAULT_DEPOSIT: i64 = 5_000_000;

/// The simulated buyer account.
#[derive(Clone)]
pub struct DigiflazzConfig {
    /// The buyer's `username`.
    pub username: String,
    /// The API key `sign` is made with.
    pub api_key: String,
    /// The webhook secret: HMAC-SHA1 key of `X-Hub-Signature`.
    pub webhook_secret: String,
    /// The opening deposit, in rupiah.
    pub deposit: i64,
    /// How long a `Pending` test transaction stays pending before its scripted outcome;
    /// zero leaves it pending until [`DigiflazzSimulator::settle`].
    pub pending_after: Duration,
    /// The price list.
    pub products: Vec<SimProduct>,
}

impl DigiflazzConfig {
    /// An account with these credentials, [`DEFAULT_DEPOSIT`], pending transactions ending
    /// after 2 s, and [`default_products`].
    pub fn new(username: &str, api_key: &str, webhook_secret: &str) -> Self {
        Self {
            username: username.to_owned(),
            api_key: api_key.to_owned(),
            webhook_secret: webhook_secret.to_owned(),
            deposit: DEFAULT_DEPOSIT,
            pending_after: Duration::from_secs(2),
            products: default_products(),
        }
    }
}

impl std::fmt::Debug for DigiflazzConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigiflazzConfig")
            .field("username", &self.username)
            .field("api_key", &"<redacted>")
            .field("webhook_secret", &"<redacted>")
            .field("deposit", &self.deposit)
            .field("pending_after", &self.pending_after)
            .field("products", &self.products.len())
            .finish()
    }
}

/// How each `create` and `update` is announced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackPolicy {
    /// One webhook per event.
    #[default]
    Once,
    /// None: the merchant must ask.
    Never,
    /// The same webhook twice, each delivery with its own id (duplicates must
    /// de-duplicate).
    Twice,
}

impl CallbackPolicy {
    fn times(self) -> usize {
        match self {
            Self::Once => 1,
            Self::Never => 0,
            Self::Twice => 2,
        }
    }
}

/// One transaction as the simulated Digiflazz holds it (test data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimTransaction {
    /// The merchant's `ref_id`.
    pub ref_id: String,
    /// `buyer_sku_code` as sent.
    pub sku: String,
    /// `customer_no`.
    pub customer_no: String,
    /// A bill payment (else a prepaid purchase).
    pub postpaid: bool,
    /// `Sukses`, `Pending` or `Gagal`.
    pub status: &'static str,
    /// `rc`: `00`, `03`, `02`, `53`, `74`.
    pub rc: &'static str,
    /// `message`.
    pub message: String,
    /// `price`: what the deposit was debited.
    pub price: i64,
    /// `selling_price` of a bill payment: what the customer pays.
    pub selling_price: Option<i64>,
    /// `sn`, empty until it succeeded.
    pub sn: String,
    /// Digiflazz's id, carried by webhooks.
    pub trx_id: String,
    /// The simulated day it was booked.
    pub created: Date,
    /// The deposit after its last change.
    pub buyer_last_saldo: i64,
    /// Booked by [`DigiflazzSimulator::foreign`], not through the API.
    pub foreign: bool,
}

/// A simulated Digiflazz buyer account. Clones share state.
#[derive(Clone)]
pub struct DigiflazzSimulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: DigiflazzConfig,
    state: Mutex<SimState>,
    faults: Faults,
    client: reqwest::Client,
    /// The `hook_id` of pings.
    hook_id: String,
}

struct SimState {
    ledger: Ledger,
    webhook_url: String,
    policy: CallbackPolicy,
    calls: HashMap<String, usize>,
}

impl std::fmt::Debug for DigiflazzSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigiflazzSimulator")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl DigiflazzSimulator {
    /// A simulator holding the opening deposit and no transaction, with no webhook URL.
    pub fn new(config: DigiflazzConfig) -> Self {
        let ledger = Ledger::new(config.deposit);
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(SimState {
                    ledger,
                    webhook_url: String::new(),
                    policy: CallbackPolicy::Once,
                    calls: HashMap::new(),
                }),
                faults: Faults::default(),
                client: callback::http_client(),
                hook_id: hex::encode(rand::random::<[u8; 4]>()),
            }),
        }
    }

    /// The five routes of the buyer API.
    pub fn router(&self) -> Router {
        Router::new()
            .route(CEK_SALDO_PATH, post(routes::cek_saldo))
            .route(PRICE_LIST_PATH, post(routes::price_list))
            .route(TRANSACTION_PATH, post(routes::transaction))
            .route(INQUIRY_PLN_PATH, post(routes::inquiry_pln))
            .route(DEPOSIT_PATH, post(routes::deposit))
            .with_state(self.clone())
    }

    /// Serves [`Self::router`] on `addr`.
    pub async fn spawn(&self, addr: SocketAddr) -> io::Result<Running> {
        server::spawn(self.router(), addr).await
    }

    /// The configuration.
    pub fn config(&self) -> &DigiflazzConfig {
        &self.inner.config
    }

    /// The fault rules requests consult (operations `cek-saldo`, `price-list`, `topup`,
    /// `inq-pasca`, `pay-pasca`, `status-pasca`, `inquiry-pln`, `deposit`).
    pub fn faults(&self) -> Faults {
        self.inner.faults.clone()
    }

    /// How many requests of `op` reached the provider's logic, refused ones included;
    /// those answered by a fault other than latency or hang-after-effect do not count.
    pub fn calls(&self, op: &str) -> usize {
        let state = self.state();
        state
            .calls
            .get(&op.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// Where webhooks go (a transaction's `cb_url` wins).
    pub fn set_webhook_url(&self, url: &str) {
        url.clone_into(&mut self.state().webhook_url);
    }

    /// How `create` and `update` events are announced from now on.
    pub fn set_callback_policy(&self, policy: CallbackPolicy) {
        self.state().policy = policy;
    }

    /// The deposit now, in rupiah.
    pub fn deposit(&self) -> i64 {
        self.state().ledger.deposit
    }

    /// Sets the deposit (a transfer arrived, or a test empties it).
    pub fn set_deposit(&self, rupiah: i64) {
        self.state().ledger.deposit = rupiah;
    }

    /// Moves the simulated calendar `days` forward.
    pub fn pass_days(&self, days: u32) {
        self.state().ledger.pass_days(days);
    }

    /// The simulated day (WIB).
    pub fn today(&self) -> Date {
        self.state().ledger.today()
    }

    /// Every transaction, oldest first (one replaced after 90 days included).
    pub fn transactions(&self) -> Vec<SimTransaction> {
        self.state().ledger.transactions()
    }

    /// The transaction `ref_id` now names.
    pub fn transaction(&self, ref_id: &str) -> Option<SimTransaction> {
        self.state().ledger.transaction(ref_id)
    }

    /// A `Pending` transaction ends now, `Sukses` or `Gagal` (deposit credited back);
    /// the `update` webhook is posted as the policy says.
    pub async fn settle(
        &self,
        ref_id: &str,
        success: bool,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let webhook = self.change(ref_id, |ledger, trx_id| ledger.end(trx_id, success))?;
        self.announce(webhook).await
    }

    /// A `Sukses` transaction is refunded: `Gagal`, rc 74, the deposit credited back; the
    /// `update` webhook is posted as the policy says.
    pub async fn refund(&self, ref_id: &str) -> Result<Vec<CallbackOutcome>, SimError> {
        let webhook = self.change(ref_id, Ledger::refund)?;
        self.announce(webhook).await
    }

    /// The biller loses the transaction of `ref_id` (`status-pasca` then says `Data belum
    /// ada`; a prepaid re-submission buys again).
    pub fn forget(&self, ref_id: &str) -> Result<(), SimError> {
        self.state().ledger.forget(ref_id)
    }

    /// The biller's record of `ref_id` now says `price` (the deposit does not move).
    pub fn set_price(&self, ref_id: &str, price: i64) -> Result<(), SimError> {
        self.state().ledger.set_price(ref_id, price)
    }

    /// A transaction the merchant never sent (someone else with its key): booked `Sukses`
    /// under `ref_id`, the deposit debited, the `create` webhook posted as the policy says.
    pub async fn foreign(
        &self,
        ref_id: &str,
        sku: &str,
        customer_no: &str,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let order = Order {
            ref_id,
            sku,
            customer_no,
            max_price: None,
            cb_url: None,
        };
        let webhook = {
            let mut state = self.state();
            let trx_id = state.ledger.foreign(&self.inner.config.products, order)?;
            state.ledger.webhook(&trx_id, &state.webhook_url)?
        };
        self.announce(webhook).await
    }

    /// The webhook announcing the transaction of `ref_id` as it stands (`create` until it
    /// changed, `update` after), with a fresh delivery id; built, not posted.
    pub fn webhook_for(&self, ref_id: &str) -> Result<CapturedCallback, SimError> {
        self.tampered_webhook_for(ref_id, Tamper::None)
    }

    /// [`Self::webhook_for`], spoiled: `FlipByte` changes the body's last digit after
    /// signing, `WrongKey` signs with another secret, `StaleTimestamp` is genuine (the
    /// protocol carries no time).
    pub fn tampered_webhook_for(
        &self,
        ref_id: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        let webhook = {
            let state = self.state();
            let trx_id = state.ledger.trx_id_of(ref_id)?;
            state.ledger.webhook(&trx_id, &state.webhook_url)?
        };
        Ok(webhook.delivery(&self.inner.config.webhook_secret, tamper))
    }

    /// The ping a saved webhook gets (§1.5), signed; built, not posted.
    pub fn ping(&self) -> CapturedCallback {
        let url = self.state().webhook_url.clone();
        let url = Some(url).filter(|url| !url.is_empty());
        wire::ping(url, &self.inner.hook_id, &self.inner.config.webhook_secret)
    }

    /// Changes the live transaction of `ref_id` and builds the webhook of its new state.
    fn change(
        &self,
        ref_id: &str,
        change: impl FnOnce(&mut Ledger, &str) -> Result<(), SimError>,
    ) -> Result<Webhook, SimError> {
        let mut state = self.state();
        let trx_id = state.ledger.trx_id_of(ref_id)?;
        change(&mut state.ledger, &trx_id)?;
        state.ledger.webhook(&trx_id, &state.webhook_url)
    }

    /// Posts `webhook` as the policy says, each delivery with its own id; nothing without
    /// a URL.
    async fn announce(&self, webhook: Webhook) -> Result<Vec<CallbackOutcome>, SimError> {
        if webhook.url.is_none() {
            return Ok(Vec::new());
        }
        let times = self.state().policy.times();
        let secret = &self.inner.config.webhook_secret;
        let mut outcomes = Vec::with_capacity(times);
        for _ in 0..times {
            let delivery = webhook.delivery(secret, Tamper::None);
            outcomes.push(callback::send_captured(&self.inner.client, &delivery).await?);
        }
        Ok(outcomes)
    }

    /// After a booking through the API: announces the `create`, then, for a pending
    /// transaction, ends it as scripted [`DigiflazzConfig::pending_after`] after the
    /// booking and announces the `update`. Runs on a task of its own.
    fn follow_up(&self, trx_id: String, pending_end: Option<bool>) {
        let pending_after = self.inner.config.pending_after;
        let ends = pending_end.is_some() && !pending_after.is_zero();
        let create = {
            let state = self.state();
            state.ledger.webhook(&trx_id, &state.webhook_url).ok()
        };
        let create = create.filter(|webhook| webhook.url.is_some());
        if create.is_none() && !ends {
            return;
        }
        let deadline = tokio::time::Instant::now() + pending_after;
        let sim = self.clone();
        tokio::spawn(async move {
            if let Some(webhook) = create {
                sim.announce_logged(webhook).await;
            }
            if ends {
                tokio::time::sleep_until(deadline).await;
                sim.end_as_scripted(&trx_id).await;
            }
        });
    }

    async fn end_as_scripted(&self, trx_id: &str) {
        let webhook = {
            let mut state = self.state();
            let SimState {
                ledger,
                webhook_url,
                ..
            } = &mut *state;
            // A test that settled it first wins.
            let Some(success) = ledger.scripted_end(trx_id) else {
                return;
            };
            ledger
                .end(trx_id, success)
                .and_then(|()| ledger.webhook(trx_id, webhook_url))
        };
        match webhook {
            Ok(webhook) => self.announce_logged(webhook).await,
            Err(err) => {
                tracing::debug!(error = %err, "digiflazz simulator pending end not applied")
            }
        }
    }

    async fn announce_logged(&self, webhook: Webhook) {
        if let Err(err) = self.announce(webhook).await {
            tracing::debug!(error = %err, "digiflazz simulator webhook not delivered");
        }
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, op: &str) {
        *self.state().calls.entry(op.to_owned()).or_default() += 1;
    }
}

impl BillerSimulator for DigiflazzSimulator {
    fn op_name(&self, op: BillerOp) -> &'static str {
        match op {
            BillerOp::Balance => "cek-saldo",
            BillerOp::Products => "price-list",
            BillerOp::ValidateCustomer => "inquiry-pln",
            BillerOp::Purchase | BillerOp::PrepaidStatus => "topup",
            BillerOp::Inquiry => "inq-pasca",
            BillerOp::Pay => "pay-pasca",
            BillerOp::PostpaidStatus => "status-pasca",
        }
    }

    fn faults(&self) -> Faults {
        DigiflazzSimulator::faults(self)
    }

    fn calls(&self, op_name: &str) -> usize {
        DigiflazzSimulator::calls(self, op_name)
    }

    fn script(&self) -> BillerScript {
        let pln = self
            .inner
            .config
            .products
            .iter()
            .find(|p| p.sku.eq_ignore_ascii_case("pln") && p.postpaid);
        let sheet = pln.map_or_else(SheetAmounts::default, |p| SheetAmounts {
            amount: p.bill,
            admin_fee: p.admin,
            penalty: p.penalty,
            biller_cost: p.bill + p.admin + p.penalty - p.commission,
        });
        let prepaid_price = self
            .inner
            .config
            .products
            .iter()
            .find(|p| p.sku == "xld10")
            .map_or(0, |p| p.price);
        BillerScript {
            prepaid_sku: "xld10".to_owned(),
            prepaid_price,
            pln_sku: "pln20".to_owned(),
            pln_meter: "12345678901".to_owned(),
            unavailable_sku: UNAVAILABLE_SKU.to_owned(),
            postpaid_sku: "pln".to_owned(),
            prepaid: PrepaidNumbers {
                success: "087800001230".to_owned(),
                failure: "087800001232".to_owned(),
                pending_success: "087800001233".to_owned(),
                pending_failure: "087800001234".to_owned(),
            },
            postpaid: PostpaidNumbers {
                one_sheet: "530000000001".to_owned(),
                two_sheets: "530000000002".to_owned(),
                inquiry_fails: "530000000003".to_owned(),
                payment_fails: "530000000006".to_owned(),
            },
            sheet,
            status_resubmits: true,
        }
    }

    fn deposit(&self) -> i64 {
        DigiflazzSimulator::deposit(self)
    }

    fn set_deposit(&self, rupiah: i64) {
        DigiflazzSimulator::set_deposit(self, rupiah);
    }

    fn settle(&self, reference: &str, success: bool) -> Result<(), SimError> {
        let mut state = self.state();
        let trx_id = state.ledger.trx_id_of(reference)?;
        match state.ledger.end(&trx_id, success) {
            // The scripted end came first, the same way.
            Err(SimError::NotPayable { state: now, .. })
                if now == if success { "Sukses" } else { "Gagal" } =>
            {
                Ok(())
            }
            other => other,
        }
    }

    fn transactions_for(&self, reference: &str) -> usize {
        self.state().ledger.count(reference)
    }

    fn webhook_for(&self, reference: &str) -> Result<CapturedCallback, SimError> {
        DigiflazzSimulator::webhook_for(self, reference)
    }

    fn tampered_webhook_for(
        &self,
        reference: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        DigiflazzSimulator::tampered_webhook_for(self, reference, tamper)
    }

    fn ping(&self) -> CapturedCallback {
        DigiflazzSimulator::ping(self)
    }
}

#[cfg(test)]
mod tests;
