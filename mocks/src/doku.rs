//! Simulator of DOKU for one merchant: SNAP virtual accounts and the non-SNAP Checkout
//! (provider notes `nicepay-and-doku.md` Part 2).
//!
//! **Routes**
//! - `POST /authorization/v1/access-token/b2b`: SNAP B2B token (2.11.2), RSA-verified with the
//!   merchant's public key; `expiresIn` a JSON number; only the standard keys.
//! - `POST`/`PUT`/`DELETE /virtual-accounts/bi-snap-va/v1.1/transfer-va/{create-va,update-va,delete-va}`
//!   and `POST /orders/v1.0/transfer-va/status` (2.11.1): checked with
//!   [`SnapProvider::check`] over the full request path, any `CHANNEL-ID` (present), then the
//!   field rules of 2.11.4 (`400xx01` / `400xx02`); answers carry only the key sets of 2.11.5.
//! - `POST /checkout/v1/payment` and `GET /orders/v1/status/{invoice}` (2.5, 2.6): the
//!   `Signature` header of 2.3 (LF joins, no trailing LF, `Digest` over the raw bytes, none
//!   for GET; 401 on mismatch), `Request-Id` idempotency (2.9: same id and body → the same
//!   answer with HTTP 409); every answer signed with the `Response-Timestamp` variant.
//!
//! **Acting**: [`DokuSimulator::pay_va`] gets a token from the gateway's token URL (signed
//! with DOKU's key) and posts the 13-key SNAP notification of 2.11.7, HMAC-signed with the
//! merchant's secret; `2002500` acknowledges. [`DokuSimulator::complete_checkout`],
//! [`DokuSimulator::fail_checkout`] and [`DokuSimulator::expire_checkout`] post the 2.7 HTTP
//! notification signed with `Request-Target` = the notification URL's path; any 2xx
//! acknowledges.
//!
//! Choices where the notes are silent (each marked where it is made):
//! - A duplicate create (a `trxId` ever used, or the number of a live VA) is `4092700`
//!   "Conflict", the code DOKU's SDK table uses; a VA not found is `404xx12`, a paid one
//!   `404xx14`, an expired one `404xx19`; a status inquiry about a deleted VA is `4042604`
//!   (transaction cancelled). Status of an unpaid VA: `paidAmount` `0.00` and no
//!   `paymentFlagStatus`; of a paid one: `paymentFlagStatus` `00`.
//! - VA amounts are whole rupiah: cents other than `00` are `400xx01`.
//! - Checkout errors carry both the `message[]` array and the `error` object of 2.10; an
//!   invoice already held is a 409; a reused `Request-Id` with another body is a 409 too.
//! - SNAP notifications go out with `X-PARTNER-ID` = the merchant's client id (2.13 #8),
//!   `CHANNEL-ID` `VA004` (DOKU's sample) and UTC `X-TIMESTAMP`s.
//!
//! Tampering: SNAP notifications as [`SnapNotifier::notification`] says; Checkout
//! notifications: `FlipByte` changes one byte of the body after signing, `WrongKey` signs
//! with another secret, `StaleTimestamp` signs a `Request-Timestamp` 10 minutes old.

mod checkout;
mod va;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde_json::Value;
use time::OffsetDateTime;

pub use checkout::{CheckoutState, CheckoutView, component, digest, request_signature, signature};
pub use va::{VaPayment, VaState, VaView};

use crate::callback::{self, CallbackOptions, CallbackOutcome, CapturedCallback, SimError, Tamper};
use crate::conformance::payments::{PaymentOp, PaymentSimulator};
use crate::conformance::va::{SimulatedVa, VaOp, VaSimulator};
use crate::faults::{self, Faults};
use crate::server::{self, Running};
use crate::snap::{SnapNotifier, SnapNotifierConfig, SnapProvider, SnapProviderConfig};

/// Token path (2.11.1).
pub const TOKEN_PATH: &str = "/authorization/v1/access-token/b2b";
/// Create VA path.
pub const CREATE_VA_PATH: &str = "/virtual-accounts/bi-snap-va/v1.1/transfer-va/create-va";
/// Update VA path.
pub const UPDATE_VA_PATH: &str = "/virtual-accounts/bi-snap-va/v1.1/transfer-va/update-va";
/// Delete VA path.
pub const DELETE_VA_PATH: &str = "/virtual-accounts/bi-snap-va/v1.1/transfer-va/delete-va";
/// Check status VA path.
pub const VA_STATUS_PATH: &str = "/orders/v1.0/transfer-va/status";
/// Checkout create path (2.5).
pub const CHECKOUT_PATH: &str = "/checkout/v1/payment";
/// Checkout status path prefix (2.6); the invoice number follows.
pub const CHECKOUT_STATUS_PREFIX: &str = "/orders/v1/status/";

/// Operation names, as [`DokuSimulator::faults`] and [`DokuSimulator::calls`] know them.
pub mod ops {
    /// The B2B token.
    pub const TOKEN: &str = "token";
    /// Create VA.
    pub const CREATE_VA: &str = "create-va";
    /// Update VA.
    pub const UPDATE_VA: &str = "update-va";
    /// Delete VA.
    pub const DELETE_VA: &str = "delete-va";
    /// Check status VA.
    pub const VA_STATUS: &str = "va-status";
    /// Checkout create.
    pub const CHECKOUT: &str = "checkout";
    /// Checkout status.
    pub const CHECKOUT_STATUS: &str = "checkout-status";
    /// Refund: DOKU Checkout has none here, so nothing ever counts under it.
    pub const REFUND: &str = "refund";
}

const MALFORMED: &str = r#"{"responseCode":"2002700","virtualAccountData":{"partnerSer"#;

/// SNAP `CHANNEL-ID` on the notifications DOKU sends (its sample, 2.11.7).
const NOTIFY_CHANNEL_ID: &str = "VA004";

/// Default base of `payment.url` and of the VA `howToPay*` links.
pub const DEFAULT_CHECKOUT_BASE_URL: &str = "https://sandbox.doku.com/checkout-link-v2";

/// What the simulated DOKU knows about the merchant.
#[derive(Clone)]
pub struct DokuConfig {
    /// The merchant's client id (`BRN-…`): `X-CLIENT-KEY` / `X-PARTNER-ID` (SNAP) and
    /// `Client-Id` (Checkout).
    pub client_id: String,
    /// The merchant's Secret Key: HMAC key of SNAP service calls and notifications and of the
    /// Checkout `Signature`.
    pub secret_key: String,
    /// The merchant's public key (PEM), verifying its SNAP token requests.
    pub merchant_public_key_pem: String,
    /// DOKU's private key (PEM), signing the token requests DOKU sends the merchant.
    pub doku_private_key_pem: String,
    /// Base of `payment.url` in Checkout answers (and of the VA `howToPay*` links).
    pub checkout_base_url: String,
}

impl DokuConfig {
    /// A merchant with the test keys of [`crate::keys`]: the gateway's `MERCHANT` public key
    /// and the `DOKU` private key.
    pub fn new(client_id: &str, secret_key: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            secret_key: secret_key.to_owned(),
            merchant_public_key_pem: crate::keys::MERCHANT.public_pem.to_owned(),
            doku_private_key_pem: crate::keys::DOKU.private_pem.to_owned(),
            checkout_base_url: DEFAULT_CHECKOUT_BASE_URL.to_owned(),
        }
    }
}

impl fmt::Debug for DokuConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DokuConfig")
            .field("client_id", &self.client_id)
            .field("secret_key", &"<redacted>")
            .field("checkout_base_url", &self.checkout_base_url)
            .finish_non_exhaustive()
    }
}

/// Where the simulated DOKU sends what it sends the merchant.
#[derive(Clone, Debug, Default)]
struct Urls {
    token: String,
    va_notify: String,
    checkout_notify: String,
}

#[derive(Default)]
struct Ledger {
    vas: va::VaLedger,
    checkouts: checkout::CheckoutLedger,
    calls: HashMap<String, usize>,
    urls: Urls,
}

struct Inner {
    config: DokuConfig,
    snap: SnapProvider,
    notifier: SnapNotifier,
    state: Mutex<Ledger>,
    faults: Faults,
    http: OnceLock<reqwest::Client>,
}

/// A simulated DOKU for one merchant. Clones share state.
#[derive(Clone)]
pub struct DokuSimulator {
    inner: Arc<Inner>,
}

impl fmt::Debug for DokuSimulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DokuSimulator")
            .field("client_id", &self.inner.config.client_id)
            .finish_non_exhaustive()
    }
}

type VaOperation =
    fn(&mut va::VaLedger, &va::Body<'_>, &DokuConfig, OffsetDateTime) -> Result<Value, va::Refusal>;

impl DokuSimulator {
    /// A simulator holding nothing, with no URLs to notify.
    pub fn new(config: DokuConfig) -> Self {
        let snap = SnapProvider::new(SnapProviderConfig {
            client_key: config.client_id.clone(),
            partner_id: config.client_id.clone(),
            client_secret: config.secret_key.clone(),
            merchant_public_key_pem: config.merchant_public_key_pem.clone(),
            token_ttl_secs: 900,
            expires_in_as_number: true,
        });
        let notifier = SnapNotifier::new(SnapNotifierConfig {
            client_key: config.client_id.clone(),
            partner_id: config.client_id.clone(),
            client_secret: config.secret_key.clone(),
            provider_private_key_pem: config.doku_private_key_pem.clone(),
            channel_id: NOTIFY_CHANNEL_ID.to_owned(),
            utc_timestamps: true,
            asymmetric: false,
        });
        Self {
            inner: Arc::new(Inner {
                config,
                snap,
                notifier,
                state: Mutex::new(Ledger::default()),
                faults: Faults::default(),
                http: OnceLock::new(),
            }),
        }
    }

    /// Every route of the module doc.
    pub fn router(&self) -> Router {
        Router::new()
            .route(TOKEN_PATH, post(token))
            .route(CREATE_VA_PATH, post(create_va))
            .route(UPDATE_VA_PATH, put(update_va))
            .route(DELETE_VA_PATH, delete(delete_va))
            .route(VA_STATUS_PATH, post(va_status))
            .route(CHECKOUT_PATH, post(checkout_create))
            .route("/orders/v1/status/{invoice}", get(checkout_status))
            .with_state(self.clone())
    }

    /// Serves [`Self::router`] on `addr`.
    pub async fn spawn(&self, addr: SocketAddr) -> io::Result<Running> {
        server::spawn(self.router(), addr).await
    }

    /// The fault rules requests consult, with the operations of [`ops`].
    pub fn faults(&self) -> Faults {
        self.inner.faults.clone()
    }

    /// How many requests of `op` (one of [`ops`]) reached DOKU's logic (those answered by a
    /// fault other than latency or hang-after-effect do not count; refused ones do).
    pub fn calls(&self, op: &str) -> usize {
        self.state()
            .calls
            .get(&op.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// Where DOKU asks for a token (the gateway's SNAP token endpoint), posts SNAP VA
    /// notifications, and posts Checkout notifications.
    pub fn set_urls(&self, token_url: &str, va_notify_url: &str, checkout_notify_url: &str) {
        self.state().urls = Urls {
            token: token_url.to_owned(),
            va_notify: va_notify_url.to_owned(),
            checkout_notify: checkout_notify_url.to_owned(),
        };
    }

    /// Every SNAP token issued to the merchant so far expires now.
    pub fn expire_tokens(&self) {
        self.inner.snap.expire_tokens();
    }

    /// How many SNAP tokens were issued to the merchant.
    pub fn tokens_issued(&self) -> usize {
        self.inner.snap.tokens_issued()
    }

    /// The VA with this `trxId` (deleted ones too).
    pub fn va(&self, trx_id: &str) -> Option<VaView> {
        self.state().vas.view(trx_id, OffsetDateTime::now_utc())
    }

    /// Every VA, in creation order.
    pub fn vas(&self) -> Vec<VaView> {
        self.state().vas.views(OffsetDateTime::now_utc())
    }

    /// How many VAs carry `trx_id` (more than 1 would be a second VA for one reference).
    pub fn vas_for(&self, trx_id: &str) -> usize {
        self.state().vas.count_for(trx_id)
    }

    /// The checkout of `invoice`.
    pub fn checkout(&self, invoice: &str) -> Option<CheckoutView> {
        self.state()
            .checkouts
            .view(invoice, OffsetDateTime::now_utc())
    }

    /// How many checkouts carry `invoice` (more than 1 would be a double charge).
    pub fn checkouts_for(&self, invoice: &str) -> usize {
        self.state().checkouts.count_for(invoice)
    }

    // ---- acting: SNAP VA ----

    /// Pays `amount` into the VA of `trx_id` and notifies once (see [`Self::pay_va_with`]).
    pub async fn pay_va(&self, trx_id: &str, amount: i64) -> Result<CallbackOutcome, SimError> {
        let outcomes = self
            .pay_va_with(trx_id, amount, CallbackOptions::default())
            .await?;
        first(outcomes)
    }

    /// Pays `amount` into the VA of `trx_id` (a closed VA takes exactly its amount once),
    /// then gets a token from the token URL when the notifier holds none and posts the
    /// 2.11.7 notification as `options` say. An answer with `responseCode` `2002500`
    /// acknowledges the payment.
    pub async fn pay_va_with(
        &self,
        trx_id: &str,
        amount: i64,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let urls = self.state().urls.clone();
        if options.times > 0 && (urls.token.is_empty() || urls.va_notify.is_empty()) {
            return Err(SimError::NoCallbackUrl);
        }
        let body = {
            let mut state = self.state();
            state.vas.pay(trx_id, amount, OffsetDateTime::now_utc())?;
            state.vas.notification(trx_id)?
        };
        self.notify_va(trx_id, &urls, &body, &options).await
    }

    /// Posts the notification of the last payment into the VA of `trx_id` again.
    pub async fn redeliver_va(
        &self,
        trx_id: &str,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let urls = self.state().urls.clone();
        let body = self.state().vas.notification(trx_id)?;
        self.notify_va(trx_id, &urls, &body, &options).await
    }

    async fn notify_va(
        &self,
        trx_id: &str,
        urls: &Urls,
        body: &Value,
        options: &CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let outcomes = self
            .inner
            .notifier
            .post(&urls.token, &urls.va_notify, body, options)
            .await?;
        if outcomes.iter().any(acknowledges_va) {
            self.state().vas.acknowledge(trx_id);
        }
        Ok(outcomes)
    }

    /// Pays `amount` into the VA of `trx_id` and returns the notification, signed with the
    /// token the notifier holds, without posting it.
    pub fn pay_va_and_capture(
        &self,
        trx_id: &str,
        amount: i64,
    ) -> Result<CapturedCallback, SimError> {
        let body = {
            let mut state = self.state();
            state.vas.pay(trx_id, amount, OffsetDateTime::now_utc())?;
            state.vas.notification(trx_id)?
        };
        let url = self.state().urls.va_notify.clone();
        Ok(self.inner.notifier.notification(&url, &body, Tamper::None))
    }

    /// The notification of the last payment into the VA of `trx_id`, built afresh (new
    /// `X-EXTERNAL-ID` and timestamp, same body) and spoiled as `tamper` says.
    pub fn va_notification(
        &self,
        trx_id: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        let (url, body) = {
            let state = self.state();
            (
                state.urls.va_notify.clone(),
                state.vas.notification(trx_id)?,
            )
        };
        Ok(self.inner.notifier.notification(&url, &body, tamper))
    }

    /// The token request DOKU sends the merchant's token URL before notifying, built but not
    /// posted.
    pub fn token_request(&self) -> CapturedCallback {
        let url = self.state().urls.token.clone();
        self.inner.notifier.token_request(&url)
    }

    /// Hands DOKU a token the merchant issued, for the notifications it builds next.
    pub fn use_token(&self, token: &str) {
        self.inner.notifier.use_token(token);
    }

    // ---- acting: Checkout ----

    /// The customer pays the checkout of `invoice`; the notification is posted once.
    pub async fn complete_checkout(&self, invoice: &str) -> Result<CallbackOutcome, SimError> {
        first(
            self.complete_checkout_with(invoice, CallbackOptions::default())
                .await?,
        )
    }

    /// As [`Self::complete_checkout`], posting as `options` say.
    pub async fn complete_checkout_with(
        &self,
        invoice: &str,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        self.settle_and_notify(invoice, CheckoutState::Success, &options)
            .await
    }

    /// The payment of the checkout of `invoice` fails; the notification is posted once.
    pub async fn fail_checkout(&self, invoice: &str) -> Result<CallbackOutcome, SimError> {
        first(
            self.fail_checkout_with(invoice, CallbackOptions::default())
                .await?,
        )
    }

    /// As [`Self::fail_checkout`], posting as `options` say.
    pub async fn fail_checkout_with(
        &self,
        invoice: &str,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        self.settle_and_notify(invoice, CheckoutState::Failed, &options)
            .await
    }

    /// The checkout of `invoice` expires now, unpaid; the notification is posted once.
    pub async fn expire_checkout(&self, invoice: &str) -> Result<CallbackOutcome, SimError> {
        first(
            self.expire_checkout_with(invoice, CallbackOptions::default())
                .await?,
        )
    }

    /// As [`Self::expire_checkout`], posting as `options` say.
    pub async fn expire_checkout_with(
        &self,
        invoice: &str,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        self.settle_and_notify(invoice, CheckoutState::Expired, &options)
            .await
    }

    async fn settle_and_notify(
        &self,
        invoice: &str,
        outcome: CheckoutState,
        options: &CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let url = self.state().urls.checkout_notify.clone();
        if options.times > 0 && url.is_empty() {
            return Err(SimError::NoCallbackUrl);
        }
        self.settle(invoice, outcome)?;
        let client = self.inner.http.get_or_init(callback::http_client);
        let post = || async {
            let captured = self.checkout_notification(invoice, options.tamper)?;
            callback::send_captured(client, &captured).await
        };
        let outcomes: Vec<CallbackOutcome> = if options.concurrent {
            let posts = (0..options.times).map(|_| post());
            futures::future::join_all(posts)
                .await
                .into_iter()
                .collect::<Result<_, _>>()?
        } else {
            let mut outcomes = Vec::new();
            for _ in 0..options.times {
                outcomes.push(post().await?);
            }
            outcomes
        };
        if outcomes.iter().any(|o| (200..300).contains(&o.status)) {
            self.state().checkouts.acknowledge(invoice);
        }
        Ok(outcomes)
    }

    fn settle(&self, invoice: &str, outcome: CheckoutState) -> Result<(), SimError> {
        self.state()
            .checkouts
            .settle(invoice, outcome, OffsetDateTime::now_utc())
            .map(|_| ())
    }

    /// The 2.7 notification about the settled checkout of `invoice`, built afresh (new
    /// `Request-Id` and timestamp) for the checkout notification URL and spoiled as `tamper`
    /// says; not posted.
    pub fn checkout_notification(
        &self,
        invoice: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        let (url, body) = {
            let state = self.state();
            (
                state.urls.checkout_notify.clone(),
                state.checkouts.notification(invoice)?,
            )
        };
        Ok(self.signed_notification(&url, &body, tamper))
    }

    fn signed_notification(&self, url: &str, body: &Value, tamper: Tamper) -> CapturedCallback {
        let config = &self.inner.config;
        let mut bytes = body.to_string().into_bytes();
        let at = match tamper {
            Tamper::StaleTimestamp => OffsetDateTime::now_utc() - time::Duration::minutes(10),
            Tamper::None | Tamper::FlipByte | Tamper::WrongKey => OffsetDateTime::now_utc(),
        };
        let stamp = checkout::utc_timestamp(at);
        let request_id = checkout::request_id();
        let target = crate::snap::signed_path(url);
        let target = target.split('?').next().unwrap_or_default().to_owned();
        let secret = match tamper {
            Tamper::WrongKey => format!("{}-not-the-secret", config.secret_key),
            Tamper::None | Tamper::FlipByte | Tamper::StaleTimestamp => config.secret_key.clone(),
        };
        let signature = request_signature(
            &secret,
            &config.client_id,
            &request_id,
            &stamp,
            &target,
            Some(&bytes),
        );
        if tamper == Tamper::FlipByte {
            flip_last_digit(&mut bytes);
        }
        CapturedCallback {
            url: Some(url.to_owned()).filter(|url| !url.is_empty()),
            method: "POST".to_owned(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("client-id".to_owned(), config.client_id.clone()),
                ("request-id".to_owned(), request_id),
                ("request-timestamp".to_owned(), stamp),
                ("signature".to_owned(), signature),
            ],
            body: Bytes::from(bytes),
        }
    }

    fn state(&self) -> MutexGuard<'_, Ledger> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, op: &str) {
        *self.state().calls.entry(op.to_owned()).or_default() += 1;
    }

    // ---- serving ----

    fn token_response(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        self.count(ops::TOKEN);
        let (status, answer) = self.inner.snap.token_answer(headers, body);
        let mut response = (status, axum::Json(answer)).into_response();
        let stamp = crate::snap::timestamp(true);
        insert_header(&mut response, "x-timestamp", &stamp);
        insert_header(&mut response, "x-client-key", &self.inner.config.client_id);
        response
    }

    fn va_response(
        &self,
        op: &'static str,
        request: &SnapRequest<'_>,
        service: u8,
        operation: VaOperation,
    ) -> Response {
        self.count(op);
        let result = self.va_answer(request, service, operation);
        let (status, answer) = match result {
            Ok(answer) => (StatusCode::OK, answer),
            Err(refusal) => {
                tracing::debug!(op, code = %refusal.1["responseCode"], "doku simulator refused request");
                refusal
            }
        };
        let mut response = (status, axum::Json(answer)).into_response();
        let stamp = request
            .headers
            .get("x-timestamp")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| crate::snap::timestamp(true), str::to_owned);
        insert_header(&mut response, "x-timestamp", &stamp);
        response
    }

    fn va_answer(
        &self,
        request: &SnapRequest<'_>,
        service: u8,
        operation: VaOperation,
    ) -> Result<Value, va::Refusal> {
        // DOKU takes any CHANNEL-ID (its SDK sends "SDK"), but one must be there (B.2).
        if request
            .headers
            .get("channel-id")
            .is_none_or(|v| v.is_empty())
        {
            return Err(crate::snap::error_answer(
                400,
                service,
                2,
                "Invalid Mandatory Field [CHANNEL-ID]",
            ));
        }
        let path = request
            .uri
            .path_and_query()
            .map_or_else(|| request.uri.path(), |p| p.as_str());
        self.inner.snap.check(
            request.method,
            path,
            request.headers,
            request.body,
            service,
            None,
        )?;
        let value: Value = serde_json::from_slice(request.body)
            .map_err(|_| crate::snap::error_answer(400, service, 0, "Bad Request"))?;
        let body = va::Body::parse(&value, service)?;
        let mut state = self.state();
        operation(
            &mut state.vas,
            &body,
            &self.inner.config,
            OffsetDateTime::now_utc(),
        )
    }

    fn checkout_create_response(&self, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
        self.count(ops::CHECKOUT);
        let config = &self.inner.config;
        let target = uri.path();
        let signed = checkout::verify_request(
            headers,
            &config.client_id,
            &config.secret_key,
            target,
            Some(body),
        );
        let (status, answer, request_id) = match signed {
            Err((status, answer)) => (status, answer, header_text(headers, "request-id")),
            Ok(signed) => {
                let (status, answer) = self.checkout_create(&signed, headers, body);
                (status, answer, signed.request_id)
            }
        };
        self.signed_response(status, &answer, &request_id, target)
    }

    fn checkout_create(
        &self,
        signed: &checkout::Signed,
        headers: &HeaderMap,
        body: &[u8],
    ) -> (StatusCode, Value) {
        let config = &self.inner.config;
        let mut state = self.state();
        if let Some(replayed) = state.checkouts.replay(&signed.request_id, body) {
            return replayed;
        }
        let context = checkout::CreateContext {
            request_id: &signed.request_id,
            client_id: &config.client_id,
            signature: &header_text(headers, "signature"),
            pay_base_url: &config.checkout_base_url,
            now: OffsetDateTime::now_utc(),
        };
        let (status, answer) = match state.checkouts.create(body, &context) {
            Ok(answer) => (StatusCode::OK, answer),
            Err(refusal) => refusal,
        };
        state.checkouts.remember(&signed.request_id, body, &answer);
        (status, answer)
    }

    fn checkout_status_response(&self, uri: &Uri, headers: &HeaderMap, invoice: &str) -> Response {
        self.count(ops::CHECKOUT_STATUS);
        let config = &self.inner.config;
        let target = uri.path();
        let signed =
            checkout::verify_request(headers, &config.client_id, &config.secret_key, target, None);
        let result = signed.and_then(|_| {
            self.state()
                .checkouts
                .status(invoice, OffsetDateTime::now_utc())
        });
        let (status, answer) = match result {
            Ok(answer) => (StatusCode::OK, answer),
            Err(refusal) => refusal,
        };
        self.signed_response(status, &answer, &header_text(headers, "request-id"), target)
    }

    /// A JSON answer with DOKU's response headers: `Client-Id`, `Request-Id`,
    /// `Response-Timestamp` and the `Signature` over them, the path called and the answer's
    /// `Digest` (2.3).
    fn signed_response(
        &self,
        status: StatusCode,
        answer: &Value,
        request_id: &str,
        target: &str,
    ) -> Response {
        let config = &self.inner.config;
        let bytes = answer.to_string();
        let stamp = checkout::utc_timestamp(OffsetDateTime::now_utc());
        let text = component(
            &config.client_id,
            request_id,
            "Response-Timestamp",
            &stamp,
            target,
            Some(bytes.as_bytes()),
        );
        let mut response = (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response();
        insert_header(&mut response, "client-id", &config.client_id);
        insert_header(&mut response, "request-id", request_id);
        insert_header(&mut response, "response-timestamp", &stamp);
        insert_header(
            &mut response,
            "signature",
            &signature(&config.secret_key, &text),
        );
        response
    }
}

/// One SNAP service call as received.
struct SnapRequest<'a> {
    method: &'static str,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

fn header_text(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn insert_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

fn first(outcomes: Vec<CallbackOutcome>) -> Result<CallbackOutcome, SimError> {
    outcomes
        .into_iter()
        .next()
        .ok_or_else(|| SimError::Delivery("no notification was posted".to_owned()))
}

/// Whether a merchant's answer to a SNAP VA notification acknowledges it (`2002500`).
fn acknowledges_va(outcome: &CallbackOutcome) -> bool {
    serde_json::from_str::<Value>(&outcome.body)
        .ok()
        .and_then(|answer| answer.get("responseCode")?.as_str().map(str::to_owned))
        .is_some_and(|code| code == "2002500")
}

/// Changes the last ASCII digit of `body` (the notification always has one: the amount),
/// keeping it valid JSON.
fn flip_last_digit(body: &mut [u8]) {
    if let Some(byte) = body.iter_mut().rev().find(|b| b.is_ascii_digit()) {
        *byte = if *byte == b'9' { b'8' } else { *byte + 1 };
    }
}

fn create(
    ledger: &mut va::VaLedger,
    body: &va::Body<'_>,
    config: &DokuConfig,
    now: OffsetDateTime,
) -> Result<Value, va::Refusal> {
    ledger.create(body, &config.checkout_base_url, now)
}

fn update(
    ledger: &mut va::VaLedger,
    body: &va::Body<'_>,
    config: &DokuConfig,
    now: OffsetDateTime,
) -> Result<Value, va::Refusal> {
    ledger.update(body, &config.checkout_base_url, now)
}

fn remove(
    ledger: &mut va::VaLedger,
    body: &va::Body<'_>,
    _config: &DokuConfig,
    now: OffsetDateTime,
) -> Result<Value, va::Refusal> {
    ledger.delete(body, now)
}

fn status(
    ledger: &mut va::VaLedger,
    body: &va::Body<'_>,
    _config: &DokuConfig,
    now: OffsetDateTime,
) -> Result<Value, va::Refusal> {
    ledger.status(body, now)
}

async fn with_fault(
    sim: &DokuSimulator,
    op: &'static str,
    act: impl FnOnce() -> Response,
) -> Response {
    let fault = sim.inner.faults.take(op);
    faults::apply(fault, MALFORMED, || async move { act() }).await
}

async fn token(State(sim): State<DokuSimulator>, headers: HeaderMap, body: Bytes) -> Response {
    with_fault(&sim, ops::TOKEN, || sim.token_response(&headers, &body)).await
}

async fn serve_va(
    sim: DokuSimulator,
    op: &'static str,
    method: &'static str,
    service: u8,
    operation: VaOperation,
    parts: (Uri, HeaderMap, Bytes),
) -> Response {
    let (uri, headers, body) = parts;
    let request = SnapRequest {
        method,
        uri: &uri,
        headers: &headers,
        body: &body,
    };
    with_fault(&sim, op, || {
        sim.va_response(op, &request, service, operation)
    })
    .await
}

async fn create_va(
    State(sim): State<DokuSimulator>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_va(
        sim,
        ops::CREATE_VA,
        "POST",
        va::CREATE,
        create,
        (uri, headers, body),
    )
    .await
}

async fn update_va(
    State(sim): State<DokuSimulator>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_va(
        sim,
        ops::UPDATE_VA,
        "PUT",
        va::UPDATE,
        update,
        (uri, headers, body),
    )
    .await
}

async fn delete_va(
    State(sim): State<DokuSimulator>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_va(
        sim,
        ops::DELETE_VA,
        "DELETE",
        va::DELETE,
        remove,
        (uri, headers, body),
    )
    .await
}

async fn va_status(
    State(sim): State<DokuSimulator>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_va(
        sim,
        ops::VA_STATUS,
        "POST",
        va::STATUS,
        status,
        (uri, headers, body),
    )
    .await
}

async fn checkout_create(
    State(sim): State<DokuSimulator>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_fault(&sim, ops::CHECKOUT, || {
        sim.checkout_create_response(&uri, &headers, &body)
    })
    .await
}

async fn checkout_status(
    State(sim): State<DokuSimulator>,
    Path(invoice): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    with_fault(&sim, ops::CHECKOUT_STATUS, || {
        sim.checkout_status_response(&uri, &headers, &invoice)
    })
    .await
}

/// DOKU SNAP VA for the VA suite (our reference = `trxId`). Call
/// [`DokuSimulator::set_urls`] first: the paths of those URLs are what the adapter sees
/// (the token request at the token URL, payments at the VA notification URL).
impl VaSimulator for DokuSimulator {
    fn op_name(&self, op: VaOp) -> &'static str {
        match op {
            VaOp::Create => ops::CREATE_VA,
            VaOp::Inquire => ops::VA_STATUS,
            VaOp::Cancel => ops::DELETE_VA,
        }
    }

    fn faults(&self) -> Faults {
        DokuSimulator::faults(self)
    }

    fn calls(&self, op: &str) -> usize {
        DokuSimulator::calls(self, op)
    }

    /// The VA whose `trxId` is `reference`; its number without the padding spaces.
    fn va(&self, reference: &str) -> Option<SimulatedVa> {
        DokuSimulator::va(self, reference).map(|va| SimulatedVa {
            va_number: va.number(),
            amount: va.amount,
            open: va.state == VaState::Active,
        })
    }

    fn va_count(&self) -> usize {
        self.state().vas.len()
    }

    fn pay(&self, reference: &str, amount: i64) -> Result<CapturedCallback, SimError> {
        self.pay_va_and_capture(reference, amount)
    }

    fn callback_for_last_payment(
        &self,
        reference: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        self.va_notification(reference, tamper)
    }

    fn token_request(&self) -> Option<CapturedCallback> {
        Some(DokuSimulator::token_request(self))
    }

    fn use_token(&self, token: &str) {
        DokuSimulator::use_token(self, token);
    }

    fn expire_tokens(&self) {
        DokuSimulator::expire_tokens(self);
    }
}

/// DOKU Checkout as a payment provider (our reference = `invoice_number`). Its
/// notifications need no token.
impl PaymentSimulator for DokuSimulator {
    fn op_name(&self, op: PaymentOp) -> &'static str {
        match op {
            PaymentOp::Create => ops::CHECKOUT,
            PaymentOp::Status => ops::CHECKOUT_STATUS,
            PaymentOp::Refund => ops::REFUND,
        }
    }

    fn faults(&self) -> Faults {
        DokuSimulator::faults(self)
    }

    fn calls(&self, op_name: &str) -> usize {
        DokuSimulator::calls(self, op_name)
    }

    /// Settles the checkout as paid without posting (see [`Self::notification_for`]).
    fn complete(&self, reference: &str) -> Result<(), SimError> {
        self.settle(reference, CheckoutState::Success)
    }

    /// Settles the checkout as failed without posting.
    fn fail(&self, reference: &str) -> Result<(), SimError> {
        self.settle(reference, CheckoutState::Failed)
    }

    fn payments_for(&self, reference: &str) -> usize {
        self.checkouts_for(reference)
    }

    fn notification_for(
        &self,
        reference: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        self.checkout_notification(reference, tamper)
    }
}
