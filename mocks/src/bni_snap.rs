//! Simulator of BNI's SNAP BI virtual accounts (provider notes, Part B), an independent
//! reading of B.1–B.6 and the "Simulator notes".
//!
//! BNI's real SNAP VA paths are not public (open question 1), so the simulator serves the
//! standard ones under a configurable prefix: `POST {token_path}` (default
//! `/v1.0/access-token/b2b`, B.3.1, `expiresIn` `"900"` as a string) and, under
//! `{service_prefix}` (default `/v1.0`), `POST /transfer-va/create-va` (svc 27),
//! `PUT /transfer-va/update-va` (28), `PUT /transfer-va/update-status` (29),
//! `POST /transfer-va/inquiry-va` (30), `DELETE /transfer-va/delete-va` with a JSON body
//! (31) and `POST /transfer-va/status` (26). Every service call is checked by
//! [`SnapProvider::check`] (B.2 headers, B.3.2 signature over the full request path,
//! `X-EXTERNAL-ID` once a day), then its fields by the rules of B.5; answers wrap their data
//! in `virtualAccountData` and echo the request's `X-TIMESTAMP`.
//!
//! The simulator acts in two modes:
//! - **Bank-held VAs** (created here): [`BniSnapSimulator::pay`] posts the B.4 payment
//!   notification (svc 25) to the gateway's payment URL, with a token from the gateway's
//!   token URL and HMAC (symmetric set-up) or RSA-signed without a token (asymmetric). The
//!   payment is booked only once the gateway answers `2002500`.
//! - **Gateway-held VAs** (host-to-host): [`BniSnapSimulator::pay_h2h`] asks the gateway's
//!   inquiry URL what a number owes (svc 24) and, on `2002400` with a `totalAmount`, posts
//!   the payment (svc 25) with `paymentRequestId` = `inquiryRequestId`.
//!
//! Choices where the notes are silent or unconfirmed:
//! - A duplicate `trxId` (for ever) or a `virtualAccountNo` held by an active VA on create
//!   is `409 2701 Duplicate partnerReferenceNo` (open question 8: the standard fixes no
//!   code; `409xx01` is its generic duplicate). An identical retry of a create that took
//!   effect is therefore told `4092701`.
//! - Create requires the identity triple (the standard lets the bank generate it): BNI VA
//!   numbers are prefix + client id + the merchant's serial, so the merchant always knows
//!   the number it asks for (B.5 mapping).
//! - A missing, null or empty field is `400xx02`, a field of another type or shape
//!   `400xx01`, a body that is not a JSON object `400xx00`. `totalAmount` is mandatory
//!   except for open VAs (`O`), and never 0; `virtualAccountTrxType` defaults to `C`;
//!   `virtualAccountPhone` must be digits starting `62`; `expiredDate` must carry an offset
//!   and lie in the future; without it a VA never expires.
//! - Unknown VA: `404xx12` on update, update-status, inquiry-va and delete (a `trxId` whose
//!   VA has another number counts as unknown); `404 2601 Transaction Not Found` on status.
//!   A deleted VA: `404xx04 Transaction Cancelled` everywhere except delete, which
//!   succeeds again (a retried delete); an expired VA may be deleted. A paid VA: `404xx14` on update, update-status and
//!   delete; an expired one `404xx19` on update, update-status and (unpaid) status.
//! - Inquiry VA answers paid and expired VAs too (`paymentDate`, `expiredDate` tell).
//!   Status answers the payment view of the last payment (`paymentFlagStatus` `00`); for an
//!   active unpaid VA it answers `2002600` with the identity triple and `totalAmount` and
//!   **no** `paymentFlagStatus` and no `paidAmount`.
//! - Update Status VA `paidStatus` `Y` closes an unpaid VA as paid without a payment; `N`
//!   reopens it.
//! - Resent notifications keep the body (and `paymentRequestId`) byte for byte, with
//!   `flagAdvise` `N`; only `X-EXTERNAL-ID`, `X-TIMESTAMP` and the signature change.
//! - Fault operations are `access-token`, `create-va`, `update-va`, `update-status`,
//!   `inquiry-va`, `delete-va` and `status`; a rule for `inquire` applies to both reads of a
//!   VA (`inquiry-va` and `status`), whichever an adapter uses, and [`BniSnapSimulator::calls`]
//!   of `inquire` counts both.

mod ledger;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on, post};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use self::ledger::{Fields, Ledger, Refusal};
pub use self::ledger::{PaymentView, TrxType, VaState, VaView};
use crate::callback::{self, CallbackOptions, CallbackOutcome, CapturedCallback, SimError, Tamper};
use crate::conformance::va::{SimulatedVa, VaOp, VaSimulator};
use crate::faults::{self, Faults};
use crate::server::{self, Running};
use crate::snap::{self, SnapNotifier, SnapNotifierConfig, SnapProvider, SnapProviderConfig};
use crate::{keys, wib};

/// Default path of the B2B token service.
pub const DEFAULT_TOKEN_PATH: &str = "/v1.0/access-token/b2b";
/// Default prefix of the VA services.
pub const DEFAULT_SERVICE_PREFIX: &str = "/v1.0";
/// `CHANNEL-ID` of the constructors (Bank Indonesia's example value, B.2).
pub const DEFAULT_CHANNEL_ID: &str = "95221";
/// Path the payment notification is signed over when no payment URL is set (B.1).
const DEFAULT_PAYMENT_PATH: &str = "/v1.0/transfer-va/payment";
/// Lifetime of the B2B tokens the bank issues (B.2).
const TOKEN_TTL_SECS: u64 = 900;
/// `channelCode` of the bank's inquiries and payments (ISO 18245, B.4).
const CHANNEL_CODE: u32 = 6011;
/// The fault and call-count group of both reads of a VA.
const INQUIRE_GROUP: &str = "inquire";
/// What a [`crate::faults::Fault::Malformed`] answers: cut off mid-string.
const MALFORMED: &str = r#"{"responseCode":"2002700","responseMessage":"Succ"#;

/// The merchant the simulated bank serves, and how the bank notifies it.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BniSnapConfig {
    /// Expected `X-CLIENT-KEY` on token requests (the client id BNI issued).
    pub client_key: String,
    /// Expected `X-PARTNER-ID` on service calls.
    pub partner_id: String,
    /// HMAC-SHA512 key of the merchant's service signatures.
    pub client_secret: String,
    /// The merchant's public key (PEM), verifying its token requests.
    #[serde(default = "merchant_public_key")]
    pub merchant_public_key_pem: String,
    /// `CHANNEL-ID` required on service calls and sent on notifications; `None` accepts
    /// any (notifications then send [`DEFAULT_CHANNEL_ID`]).
    #[serde(default = "default_channel_id")]
    pub channel_id: Option<String>,
    /// Path of the token service.
    #[serde(default = "default_token_path")]
    pub token_path: String,
    /// Prefix of the VA services (`""` serves them at `/transfer-va/...`).
    #[serde(default = "default_service_prefix")]
    pub service_prefix: String,
    /// How the bank authenticates to the merchant's endpoints (B.4).
    pub notify: BniSnapNotify,
}

/// How the bank authenticates to the merchant (the gateway) when it notifies or asks it.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BniSnapNotify {
    /// The id the merchant issued to the bank: `X-CLIENT-KEY` of the bank's token requests
    /// and `X-PARTNER-ID` of its notifications.
    pub client_key: String,
    /// The HMAC key the merchant issued (symmetric set-up).
    #[serde(default)]
    pub client_secret: String,
    /// The bank's private key (PEM): signs its token requests and asymmetric notifications.
    #[serde(default = "bank_private_key")]
    pub bank_private_key_pem: String,
    /// RSA-signed notifications without a token (B.4 set-up 2) instead of token + HMAC.
    #[serde(default)]
    pub asymmetric: bool,
}

fn merchant_public_key() -> String {
    keys::MERCHANT.public_pem.to_owned()
}

fn bank_private_key() -> String {
    keys::BNI.private_pem.to_owned()
}

fn default_channel_id() -> Option<String> {
    Some(DEFAULT_CHANNEL_ID.to_owned())
}

fn default_token_path() -> String {
    DEFAULT_TOKEN_PATH.to_owned()
}

fn default_service_prefix() -> String {
    DEFAULT_SERVICE_PREFIX.to_owned()
}

impl BniSnapConfig {
    /// A merchant with the standard paths, `CHANNEL-ID` [`DEFAULT_CHANNEL_ID`] and the
    /// test keys ([`keys::MERCHANT`]'s public half verifies the merchant).
    pub fn new(
        client_key: &str,
        partner_id: &str,
        client_secret: &str,
        notify: BniSnapNotify,
    ) -> Self {
        Self {
            client_key: client_key.to_owned(),
            partner_id: partner_id.to_owned(),
            client_secret: client_secret.to_owned(),
            merchant_public_key_pem: merchant_public_key(),
            channel_id: default_channel_id(),
            token_path: default_token_path(),
            service_prefix: default_service_prefix(),
            notify,
        }
    }

    fn provider(&self) -> SnapProviderConfig {
        SnapProviderConfig {
            client_key: self.client_key.clone(),
            partner_id: self.partner_id.clone(),
            client_secret: self.client_secret.clone(),
            merchant_public_key_pem: self.merchant_public_key_pem.clone(),
            token_ttl_secs: TOKEN_TTL_SECS,
            expires_in_as_number: false,
        }
    }

    fn notifier(&self) -> SnapNotifierConfig {
        let channel_id = self.channel_id.as_deref().unwrap_or(DEFAULT_CHANNEL_ID);
        SnapNotifierConfig {
            client_key: self.notify.client_key.clone(),
            partner_id: self.notify.client_key.clone(),
            client_secret: self.notify.client_secret.clone(),
            provider_private_key_pem: self.notify.bank_private_key_pem.clone(),
            channel_id: channel_id.to_owned(),
            utc_timestamps: false,
            asymmetric: self.notify.asymmetric,
        }
    }

    /// `service_prefix` + `suffix`, always starting with `/`.
    fn service_path(&self, suffix: &str) -> String {
        let prefix = self.service_prefix.trim_end_matches('/');
        absolute(&format!("{prefix}{suffix}"))
    }
}

impl BniSnapNotify {
    /// Token + HMAC notifications (B.4 set-up 1), signed with [`keys::BNI`].
    pub fn symmetric(client_key: &str, client_secret: &str) -> Self {
        Self {
            client_key: client_key.to_owned(),
            client_secret: client_secret.to_owned(),
            bank_private_key_pem: bank_private_key(),
            asymmetric: false,
        }
    }

    /// RSA-signed notifications without a token (B.4 set-up 2), with [`keys::BNI`].
    pub fn asymmetric(client_key: &str) -> Self {
        Self {
            client_key: client_key.to_owned(),
            client_secret: String::new(),
            bank_private_key_pem: bank_private_key(),
            asymmetric: true,
        }
    }
}

impl std::fmt::Debug for BniSnapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BniSnapConfig")
            .field("client_key", &self.client_key)
            .field("partner_id", &self.partner_id)
            .field("client_secret", &"<redacted>")
            .field("channel_id", &self.channel_id)
            .field("token_path", &self.token_path)
            .field("service_prefix", &self.service_prefix)
            .field("notify", &self.notify)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for BniSnapNotify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BniSnapNotify")
            .field("client_key", &self.client_key)
            .field("client_secret", &"<redacted>")
            .field("bank_private_key_pem", &"<redacted>")
            .field("asymmetric", &self.asymmetric)
            .finish()
    }
}

fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

/// The VA services (B.1) and what each is called in faults and call counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    CreateVa,
    UpdateVa,
    UpdateStatus,
    InquiryVa,
    DeleteVa,
    Status,
}

impl Service {
    const ALL: [Service; 6] = [
        Self::CreateVa,
        Self::UpdateVa,
        Self::UpdateStatus,
        Self::InquiryVa,
        Self::DeleteVa,
        Self::Status,
    ];

    fn code(self) -> u8 {
        match self {
            Self::Status => 26,
            Self::CreateVa => 27,
            Self::UpdateVa => 28,
            Self::UpdateStatus => 29,
            Self::InquiryVa => 30,
            Self::DeleteVa => 31,
        }
    }

    fn op(self) -> &'static str {
        match self {
            Self::CreateVa => "create-va",
            Self::UpdateVa => "update-va",
            Self::UpdateStatus => "update-status",
            Self::InquiryVa => "inquiry-va",
            Self::DeleteVa => "delete-va",
            Self::Status => "status",
        }
    }

    fn method(self) -> (&'static str, MethodFilter) {
        match self {
            Self::CreateVa | Self::InquiryVa | Self::Status => ("POST", MethodFilter::POST),
            Self::UpdateVa | Self::UpdateStatus => ("PUT", MethodFilter::PUT),
            Self::DeleteVa => ("DELETE", MethodFilter::DELETE),
        }
    }

    fn is_read(self) -> bool {
        matches!(self, Self::InquiryVa | Self::Status)
    }

    fn run(self, ledger: &mut Ledger, f: &Fields<'_>) -> Result<Value, Refusal> {
        let now = wib::now();
        match self {
            Self::CreateVa => ledger.create(f, now),
            Self::UpdateVa => ledger.update(f, now),
            Self::UpdateStatus => ledger.update_status(f, now),
            Self::InquiryVa => ledger.inquiry(f, now),
            Self::DeleteVa => ledger.delete(f, now),
            Self::Status => ledger.status(f, now),
        }
    }
}

/// Where the simulated bank reaches the gateway (host-to-host and notifications).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayUrls {
    /// The gateway's B2B token URL (symmetric set-up).
    pub token_url: String,
    /// The gateway's inquiry URL (svc 24, host-to-host).
    pub inquiry_url: String,
    /// The gateway's payment URL (svc 25).
    pub payment_url: String,
}

/// The gateway's answer to one request of the bank.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SnapAnswer {
    /// HTTP status.
    pub status: u16,
    /// The body as JSON (`Value::String` of the raw text when it is not JSON).
    pub body: Value,
}

impl SnapAnswer {
    fn from_outcome(outcome: &CallbackOutcome) -> Self {
        let body = serde_json::from_str(&outcome.body)
            .unwrap_or_else(|_| Value::String(outcome.body.clone()));
        Self {
            status: outcome.status,
            body,
        }
    }

    /// The `responseCode`, when the body carries one as a string.
    pub fn response_code(&self) -> Option<&str> {
        self.body.get("responseCode").and_then(Value::as_str)
    }
}

/// What a host-to-host payment got from the gateway.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct H2hPayment {
    /// The `inquiryRequestId` of the inquiry (and `paymentRequestId` of the payment).
    pub inquiry_request_id: String,
    /// The answer to the inquiry (svc 24).
    pub inquiry: SnapAnswer,
    /// The answer to the payment (svc 25); `None` when the inquiry did not answer
    /// `2002400` with a `totalAmount`, so nothing was paid.
    pub payment: Option<SnapAnswer>,
}

/// The last host-to-host payment, for resends and replays.
struct LastH2h {
    body: Value,
    sent: CapturedCallback,
}

/// A simulated BNI SNAP VA host for one merchant. Clones share state.
#[derive(Clone)]
pub struct BniSnapSimulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: BniSnapConfig,
    provider: SnapProvider,
    notifier: SnapNotifier,
    urls: Mutex<GatewayUrls>,
    ledger: Mutex<Ledger>,
    last_h2h: Mutex<Option<LastH2h>>,
    faults: Faults,
    http: OnceLock<reqwest::Client>,
}

impl std::fmt::Debug for BniSnapSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BniSnapSimulator")
            .field("client_key", &self.inner.config.client_key)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BniSnapSimulator {
    /// A simulator holding no VA, with no gateway URLs.
    pub fn new(config: BniSnapConfig) -> Self {
        let first_reference = rand::rng().random_range(100_000..900_000);
        Self {
            inner: Arc::new(Inner {
                provider: SnapProvider::new(config.provider()),
                notifier: SnapNotifier::new(config.notifier()),
                config,
                urls: Mutex::new(GatewayUrls::default()),
                ledger: Mutex::new(Ledger::new(first_reference)),
                last_h2h: Mutex::new(None),
                faults: Faults::default(),
                http: OnceLock::new(),
            }),
        }
    }

    /// The token service and the six VA services.
    pub fn router(&self) -> Router {
        let config = &self.inner.config;
        let mut router = Router::new().route(&absolute(&config.token_path), post(token));
        for service in Service::ALL {
            let handler = move |State(sim): State<BniSnapSimulator>,
                                OriginalUri(uri): OriginalUri,
                                headers: HeaderMap,
                                body: Bytes| async move {
                sim.serve(service, uri, headers, body).await
            };
            let path = config.service_path(&format!("/transfer-va/{}", service.op()));
            router = router.route(&path, on(service.method().1, handler));
        }
        router.with_state(self.clone())
    }

    /// Serves [`Self::router`] on `addr`.
    pub async fn spawn(&self, addr: SocketAddr) -> io::Result<Running> {
        server::spawn(self.router(), addr).await
    }

    /// The fault rules requests consult (operations in the module doc).
    pub fn faults(&self) -> Faults {
        self.inner.faults.clone()
    }

    /// How many requests of `op` reached the bank's logic (those answered by a fault other
    /// than latency or hang-after-effect do not count); `inquire` counts `inquiry-va` and
    /// `status` together.
    pub fn calls(&self, op: &str) -> usize {
        let op = op.to_ascii_lowercase();
        let ledger = self.ledger();
        let count = |op: &str| ledger.calls.get(op).copied().unwrap_or(0);
        if op == INQUIRE_GROUP {
            count(Service::InquiryVa.op()) + count(Service::Status.op())
        } else {
            count(&op)
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BniSnapConfig {
        &self.inner.config
    }

    /// Tells the bank where the gateway's token, inquiry and payment endpoints are.
    pub fn set_urls(
        &self,
        token_url: impl Into<String>,
        inquiry_url: impl Into<String>,
        payment_url: impl Into<String>,
    ) {
        *lock(&self.inner.urls) = GatewayUrls {
            token_url: token_url.into(),
            inquiry_url: inquiry_url.into(),
            payment_url: payment_url.into(),
        };
    }

    /// Where the bank reaches the gateway.
    pub fn urls(&self) -> GatewayUrls {
        lock(&self.inner.urls).clone()
    }

    /// Every token the bank issued so far is now expired: the next service call with one
    /// answers `401xx01`.
    pub fn expire_tokens(&self) {
        self.inner.provider.expire_tokens();
    }

    /// How many tokens the bank issued.
    pub fn tokens_issued(&self) -> usize {
        self.inner.provider.tokens_issued()
    }

    /// A snapshot of the VA with this `trxId` or VA number (padded or not).
    pub fn va(&self, trx_id_or_number: &str) -> Option<VaView> {
        let now = wib::now();
        let ledger = self.ledger();
        let trx_id = ledger.find(trx_id_or_number, now)?;
        ledger.vas.get(&trx_id).map(|va| va.view(now))
    }

    /// Snapshots of every VA, ordered by `trxId`.
    pub fn vas(&self) -> Vec<VaView> {
        let now = wib::now();
        self.ledger().vas.values().map(|va| va.view(now)).collect()
    }

    /// Makes the VA (by `trxId` or number) expire now.
    pub fn expire(&self, trx_id_or_number: &str) -> Result<(), SimError> {
        let now = wib::now();
        let mut ledger = self.ledger();
        let va = ledger
            .find_mut(trx_id_or_number, now)
            .ok_or_else(|| SimError::NotFound(trx_id_or_number.to_owned()))?;
        va.expire_at(now - time::Duration::seconds(1));
        Ok(())
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(&self.inner.ledger)
    }

    fn take_fault(&self, op: &str, is_read: bool) -> Option<faults::Fault> {
        let faults = &self.inner.faults;
        let own = faults.take(op);
        if own.is_none() && is_read {
            return faults.take(INQUIRE_GROUP);
        }
        own
    }

    fn count(&self, op: &str) {
        *self.ledger().calls.entry(op.to_owned()).or_default() += 1;
    }

    async fn serve(self, service: Service, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let fault = self.take_fault(service.op(), service.is_read());
        let stamp = echoed_timestamp(&headers);
        faults::apply(fault, MALFORMED, || async move {
            self.count(service.op());
            let (status, answer) = self.answer(service, &uri, &headers, &body);
            if status != StatusCode::OK {
                tracing::debug!(op = service.op(), status = %status, "bni snap simulator refused request");
            }
            snap_response(status, answer, &stamp)
        })
        .await
    }

    /// Signature and header checks, then the fields and the ledger.
    fn answer(
        &self,
        service: Service,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> (StatusCode, Value) {
        let svc = service.code();
        let path = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
        let channel_id = self.inner.config.channel_id.as_deref();
        let checked =
            self.inner
                .provider
                .check(service.method().0, path, headers, body, svc, channel_id);
        if let Err(refusal) = checked {
            return refusal;
        }
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
            return Refusal::bad_request().answer(svc);
        };
        let result = service.run(&mut self.ledger(), &Fields(&fields));
        match result {
            Ok(data) => {
                let code = snap::response_code(200, svc, 0);
                let answer = json!({
                    "responseCode": code,
                    "responseMessage": "Successful",
                    "virtualAccountData": data,
                });
                (StatusCode::OK, answer)
            }
            Err(refusal) => refusal.answer(svc),
        }
    }

    // ---- bank-held VAs ------------------------------------------------------------------

    /// Pays `amount` into the VA (by `trxId` or number) and posts its notification once;
    /// the payment is booked when the gateway answers `2002500`.
    pub async fn pay(&self, trx_id: &str, amount: i64) -> Result<CallbackOutcome, SimError> {
        let outcomes = self
            .pay_with(trx_id, amount, CallbackOptions::default())
            .await?;
        outcomes
            .into_iter()
            .next()
            .ok_or_else(|| SimError::Delivery("no notification was posted".to_owned()))
    }

    /// Pays and posts the notification (B.4) as `options` say, each copy with its own
    /// `X-EXTERNAL-ID` (a fresh `paymentRequestId` per call, the same in every copy). The
    /// payment is booked when one answer is `2002500` (HTTP 200); `times = 0` books it
    /// without posting (a lost notification). Tampering as [`SnapNotifier::notification`]
    /// documents (`FlipByte` changes a byte of the body after signing, `WrongKey` signs
    /// with another secret or key, `StaleTimestamp` signs a timestamp 10 minutes old).
    pub async fn pay_with(
        &self,
        trx_id: &str,
        amount: i64,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let urls = self.urls();
        if options.times > 0 && urls.payment_url.is_empty() {
            return Err(SimError::NoCallbackUrl);
        }
        let (trx_id, body) = self.ledger().start_payment(trx_id, amount, wib::now())?;
        let request_id = payment_request_id(&body);
        if options.times == 0 {
            self.ledger().settle(&trx_id, &request_id);
            return Ok(Vec::new());
        }
        let notifier = &self.inner.notifier;
        let outcomes = notifier
            .post(&urls.token_url, &urls.payment_url, &body, &options)
            .await?;
        if outcomes.iter().any(acknowledged) {
            self.ledger().settle(&trx_id, &request_id);
        }
        Ok(outcomes)
    }

    /// Posts the notification of the VA's pending payment (else of its last one) again,
    /// with the same body and a fresh `X-EXTERNAL-ID`; books a pending payment the gateway
    /// now acknowledges.
    pub async fn redeliver_last(&self, trx_id: &str) -> Result<CallbackOutcome, SimError> {
        let urls = self.urls();
        if urls.payment_url.is_empty() {
            return Err(SimError::NoCallbackUrl);
        }
        let (trx_id, body) = self.ledger().last_notification(trx_id, wib::now())?;
        let notifier = &self.inner.notifier;
        let outcomes = notifier
            .post(
                &urls.token_url,
                &urls.payment_url,
                &body,
                &CallbackOptions::default(),
            )
            .await?;
        let outcome = outcomes
            .into_iter()
            .next()
            .ok_or_else(|| SimError::Delivery("no notification was posted".to_owned()))?;
        if acknowledged(&outcome) {
            self.ledger().settle(&trx_id, &payment_request_id(&body));
        }
        Ok(outcome)
    }

    /// Pays `amount` into the VA and books it at once (the acknowledgement is out of the
    /// simulator's sight), returning the notification as it would be posted, signed with
    /// the token the bank holds (symmetric) or its key (asymmetric), without posting it.
    pub fn pay_and_capture(&self, trx_id: &str, amount: i64) -> Result<CapturedCallback, SimError> {
        let (trx_id, body) = self.ledger().start_payment(trx_id, amount, wib::now())?;
        self.ledger().settle(&trx_id, &payment_request_id(&body));
        Ok(self.capture(&body, Tamper::None))
    }

    /// The notification of the VA's last payment (pending or booked), signed afresh with a
    /// new `X-EXTERNAL-ID` and spoiled as `tamper` says, without posting it.
    pub fn callback_for_last_payment(
        &self,
        trx_id: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        let (_, body) = self.ledger().last_notification(trx_id, wib::now())?;
        Ok(self.capture(&body, tamper))
    }

    /// The B2B token request the bank sends the gateway before notifying (symmetric
    /// set-up), built but not posted; `None` in the asymmetric set-up.
    pub fn token_request(&self) -> Option<CapturedCallback> {
        if self.inner.config.notify.asymmetric {
            return None;
        }
        Some(self.inner.notifier.token_request(&self.urls().token_url))
    }

    /// Hands the bank a token the gateway issued (from [`Self::token_request`]'s answer).
    pub fn use_token(&self, token: &str) {
        self.inner.notifier.use_token(token);
    }

    /// A notification of `body` to the payment URL, built not posted. Without a payment
    /// URL it is signed over the standard path and carries no URL.
    fn capture(&self, body: &Value, tamper: Tamper) -> CapturedCallback {
        let url = self.urls().payment_url;
        if url.is_empty() {
            let mut captured = self
                .inner
                .notifier
                .notification(DEFAULT_PAYMENT_PATH, body, tamper);
            captured.url = None;
            return captured;
        }
        self.inner.notifier.notification(&url, body, tamper)
    }

    // ---- gateway-held VAs (host-to-host) ------------------------------------------------

    /// A customer pays `amount` into `va_number` (digits; the first
    /// `partner_service_id_len` of them are the `partnerServiceId`), a VA the gateway holds:
    /// the bank asks the gateway's inquiry URL (svc 24) and, when it answers `2002400` with
    /// a `totalAmount`, posts the payment (svc 25) of `amount` (which may differ from what
    /// the gateway asked for) with `paymentRequestId` = `inquiryRequestId`. Nothing is
    /// booked at the bank (the bill is the gateway's). [`SimError::NotFound`] when
    /// `va_number` is not digits that split into a `partnerServiceId` of 1–8 digits and a
    /// `customerNo` of 1–20.
    pub async fn pay_h2h(
        &self,
        va_number: &str,
        amount: i64,
        partner_service_id_len: usize,
    ) -> Result<H2hPayment, SimError> {
        let (service_id, customer_no) = split_va_number(va_number, partner_service_id_len)?;
        let urls = self.urls();
        if urls.inquiry_url.is_empty() || urls.payment_url.is_empty() {
            return Err(SimError::NoCallbackUrl);
        }
        let now = wib::now();
        let request_id = ledger::new_payment_request_id(now);
        let number = format!("{service_id}{customer_no}");
        let inquiry = json!({
            "partnerServiceId": service_id,
            "customerNo": customer_no,
            "virtualAccountNo": number,
            "trxDateTime": wib::iso(now),
            "channelCode": CHANNEL_CODE,
            "inquiryRequestId": request_id,
            "additionalInfo": {},
        });
        let once = CallbackOptions::default();
        let notifier = &self.inner.notifier;
        let outcomes = notifier
            .post(&urls.token_url, &urls.inquiry_url, &inquiry, &once)
            .await?;
        let inquiry = outcomes
            .first()
            .map(SnapAnswer::from_outcome)
            .ok_or_else(|| SimError::Delivery("no inquiry was posted".to_owned()))?;
        let data = inquiry.body.get("virtualAccountData");
        let total = data.and_then(|d| d.get("totalAmount")).cloned();
        let payment = match total {
            Some(total) if inquiry.status == 200 && inquiry.response_code() == Some("2002400") => {
                let body = h2h_payment_body(&inquiry.body, &request_id, amount, total);
                Some(self.post_h2h_payment(&urls.payment_url, body).await?)
            }
            _ => None,
        };
        Ok(H2hPayment {
            inquiry_request_id: request_id,
            inquiry,
            payment,
        })
    }

    async fn post_h2h_payment(&self, url: &str, body: Value) -> Result<SnapAnswer, SimError> {
        let sent = self.inner.notifier.notification(url, &body, Tamper::None);
        let outcome = callback::send_captured(self.http(), &sent).await?;
        *lock(&self.inner.last_h2h) = Some(LastH2h { body, sent });
        Ok(SnapAnswer::from_outcome(&outcome))
    }

    /// Repeats the last host-to-host payment as a retry: same body (same
    /// `paymentRequestId`), fresh `X-EXTERNAL-ID`, timestamp and signature.
    pub async fn resend_payment(&self) -> Result<SnapAnswer, SimError> {
        let body = lock(&self.inner.last_h2h)
            .as_ref()
            .map(|last| last.body.clone());
        let body = body.ok_or_else(|| SimError::NothingToRedeliver("host-to-host".to_owned()))?;
        let urls = self.urls();
        let once = CallbackOptions::default();
        let notifier = &self.inner.notifier;
        let outcomes = notifier
            .post(&urls.token_url, &urls.payment_url, &body, &once)
            .await?;
        outcomes
            .first()
            .map(SnapAnswer::from_outcome)
            .ok_or_else(|| SimError::Delivery("no payment was posted".to_owned()))
    }

    /// Sends the last host-to-host payment again byte for byte, headers included (the same
    /// `X-EXTERNAL-ID`): a replay, which the gateway must refuse with `409 2500`.
    pub async fn replay_payment(&self) -> Result<SnapAnswer, SimError> {
        let sent = lock(&self.inner.last_h2h)
            .as_ref()
            .map(|last| last.sent.clone());
        let sent = sent.ok_or_else(|| SimError::NothingToRedeliver("host-to-host".to_owned()))?;
        let outcome = callback::send_captured(self.http(), &sent).await?;
        Ok(SnapAnswer::from_outcome(&outcome))
    }

    fn http(&self) -> &reqwest::Client {
        self.inner.http.get_or_init(callback::http_client)
    }
}

/// `va_number` split into the padded `partnerServiceId` and the `customerNo`.
fn split_va_number(va_number: &str, service_id_len: usize) -> Result<(String, String), SimError> {
    let digits = va_number.trim();
    let shaped = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let fits = (1..=8).contains(&service_id_len)
        && service_id_len < digits.len()
        && digits.len() - service_id_len <= 20;
    if !shaped || !fits {
        return Err(SimError::NotFound(format!(
            "a VA number of digits with a {service_id_len}-digit partnerServiceId"
        )));
    }
    let (service_id, customer_no) = digits.split_at(service_id_len);
    Ok((format!("{service_id:>8}"), customer_no.to_owned()))
}

/// The payment (B.4) that follows an inquiry answered with `inquiry_answer`.
fn h2h_payment_body(inquiry_answer: &Value, request_id: &str, amount: i64, total: Value) -> Value {
    let data = inquiry_answer.get("virtualAccountData");
    let echoed = |key: &str| data.and_then(|d| d.get(key)).cloned();
    let mut body = Map::new();
    for key in ["partnerServiceId", "customerNo", "virtualAccountNo"] {
        body.insert(key.to_owned(), echoed(key).unwrap_or(Value::Null));
    }
    for key in ["virtualAccountName", "trxId"] {
        if let Some(value) = echoed(key) {
            body.insert(key.to_owned(), value);
        }
    }
    let now = wib::now();
    let reference_no: u32 = rand::rng().random_range(0..1_000_000);
    let rest = json!({
        "paymentRequestId": request_id,
        "channelCode": CHANNEL_CODE,
        "paidAmount": snap::amount(amount),
        "totalAmount": total,
        "trxDateTime": wib::iso(now),
        "referenceNo": format!("{reference_no:06}"),
        "flagAdvise": "N",
        "additionalInfo": {},
    });
    if let Value::Object(rest) = rest {
        body.extend(rest);
    }
    Value::Object(body)
}

fn payment_request_id(body: &Value) -> String {
    let id = body.get("paymentRequestId").and_then(Value::as_str);
    id.unwrap_or_default().to_owned()
}

/// Whether the gateway acknowledged a payment notification: HTTP 200 and `2002500`.
fn acknowledged(outcome: &CallbackOutcome) -> bool {
    outcome.status == 200 && SnapAnswer::from_outcome(outcome).response_code() == Some("2002500")
}

/// The request's `X-TIMESTAMP` to echo, else now.
fn echoed_timestamp(headers: &HeaderMap) -> String {
    let given = headers.get("x-timestamp").and_then(|v| v.to_str().ok());
    given
        .filter(|stamp| !stamp.trim().is_empty())
        .map_or_else(|| snap::timestamp(false), str::to_owned)
}

fn snap_response(status: StatusCode, body: Value, stamp: &str) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(stamp) {
        response.headers_mut().insert("x-timestamp", value);
    }
    response
}

async fn token(State(sim): State<BniSnapSimulator>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = sim.take_fault("access-token", false);
    let stamp = echoed_timestamp(&headers);
    faults::apply(fault, MALFORMED, || async move {
        sim.count("access-token");
        let (status, answer) = sim.inner.provider.token_answer(&headers, &body);
        snap_response(status, answer, &stamp)
    })
    .await
}

impl VaSimulator for BniSnapSimulator {
    fn op_name(&self, op: VaOp) -> &'static str {
        match op {
            VaOp::Create => Service::CreateVa.op(),
            VaOp::Inquire => INQUIRE_GROUP,
            VaOp::Cancel => Service::DeleteVa.op(),
        }
    }

    fn faults(&self) -> Faults {
        BniSnapSimulator::faults(self)
    }

    fn calls(&self, op: &str) -> usize {
        BniSnapSimulator::calls(self, op)
    }

    fn va(&self, reference: &str) -> Option<SimulatedVa> {
        // Only our trxId counts here, not a VA number.
        let found = BniSnapSimulator::va(self, reference)?;
        (found.trx_id == reference).then(|| SimulatedVa {
            va_number: found.va_number,
            amount: found.total_amount.unwrap_or(0),
            open: found.state == VaState::Active,
        })
    }

    fn va_count(&self) -> usize {
        self.ledger().vas.len()
    }

    fn pay(&self, reference: &str, amount: i64) -> Result<CapturedCallback, SimError> {
        self.pay_and_capture(reference, amount)
    }

    fn callback_for_last_payment(
        &self,
        reference: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        BniSnapSimulator::callback_for_last_payment(self, reference, tamper)
    }

    fn token_request(&self) -> Option<CapturedCallback> {
        BniSnapSimulator::token_request(self)
    }

    fn use_token(&self, token: &str) {
        BniSnapSimulator::use_token(self, token);
    }

    fn expire_tokens(&self) {
        BniSnapSimulator::expire_tokens(self);
    }
}

#[cfg(test)]
mod tests;
