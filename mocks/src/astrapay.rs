//! Simulator of AstraPay's SNAP BI merchant API: direct debit (push-to-pay) and dynamic
//! QRIS (provider notes, section 1).
//!
//! Serves, each with its service prefix (1.1):
//! - `POST /snap-service/snap/v1.0/access-token/b2b` (1.6): RSA-signed token requests,
//!   `expiresIn` as the string `"900"`;
//! - `POST /merchant-service/snap/v1.0/debit/payment-host-to-host`, `/debit/status`,
//!   `/debit/refund` (1.8, services 54, 55, 58, `CHANNEL-ID` 00854, 00155, 00258);
//! - `POST /qris-service/snap/v1.0/qr/qr-mpm-generate`, `/qr-mpm-query`, `/qr-mpm-refund`
//!   (1.9, services 47, 51, 78, `CHANNEL-ID` 00447, 00551, 01878); the refund also
//!   without the prefix, `/snap/v1.0/qr/qr-mpm-refund`, as the notes print it (1.14 #2).
//!
//! Every service call is checked as [`crate::snap::SnapProvider::check`] does (1.5, 1.13):
//! mandatory headers `400xx02`, the service's fixed `CHANNEL-ID` `400xx01`, token `401xx01`,
//! HMAC-SHA512 over the **full** request path (service prefix included) `401xx00`, a
//! repeated `X-EXTERNAL-ID` `409xx00`; then the body's fields (mandatory `400xx02`, formats
//! `400xx01`) and the business rules, answering AstraPay's codes (1.11) with the HTTP status
//! of their first three digits.
//!
//! It can **act**: [`AstraPaySimulator::complete`], [`AstraPaySimulator::fail`] and
//! [`AstraPaySimulator::expire`] end a payment (`latestTransactionStatus` 00, 06, 05) and
//! post the notify of 1.8 (debit, `CHANNEL-ID` 00656) or 1.9 (QRIS, 00752) to the gateway
//! as 1.12 reads it: AstraPay first asks the gateway's token URL for a B2B token (signed with
//! AstraPay's key, [`crate::keys::ASTRAPAY`]), then posts with that token and an
//! HMAC-SHA512 signature keyed with the secret the merchant issued to AstraPay.
//!
//! Choices where the notes are silent:
//! - One namespace of `partnerReferenceNo` for debit and QRIS: a reference used by either
//!   service is a duplicate for both (`4095401` / `4094701`).
//! - A new debit payment reads `01` (Initiated), a new QR bill `03` (Pending); unpaid past
//!   `validUpTo` / `validityPeriod` both read `05`. `validUpTo` must carry an offset and lie
//!   3 to 15 minutes ahead, with 5 seconds of grace each side for the wire (`4035415`);
//!   `validityPeriod` may omit the offset (WIB) and lies up to 24 hours ahead (`4004701`).
//! - Debit status must carry the payment's amount (`4045513` otherwise); an empty or absent
//!   `originalReferenceNo` finds the payment by `originalPartnerReferenceNo` alone. QRIS
//!   query and refund need `originalReferenceNo` present but take it empty the same way (the
//!   gateway may hold only its own reference after a lost answer).
//! - Refunds, debit and QRIS alike: only of a paid payment (`404xx00`), partial allowed,
//!   cumulative at most the amount (`403xx02`), a repeated `partnerRefundNo` answers the same
//!   refund (`404xx18` if it asks another amount). Partly refunded reads `00` with
//!   `refundHistory`; fully refunded reads `04`. The QRIS query carries `refundHistory` (as the
//!   debit status does) once a bill has a refund.
//! - Fault and counter operations: `token`, `debit-payment`, `debit-status`,
//!   `debit-refund`, `qr-generate`, `qr-query`, `qr-refund`, and the generic `create`,
//!   `status`, `refund` covering the debit and QRIS operation of that kind (a rule for the
//!   specific name is consulted first).

mod ledger;
mod qr;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::Value;

use ledger::{Body, Ledger, Operation, Outcome};
pub use ledger::{PaymentKind, PaymentView, TransactionStatus};

use crate::callback::{CallbackOptions, CallbackOutcome, CapturedCallback, SimError, Tamper};
use crate::conformance::payments::{PaymentOp, PaymentSimulator};
use crate::faults::{self, Faults};
use crate::keys;
use crate::server::{self, Running};
use crate::snap::{SnapNotifier, SnapNotifierConfig, SnapProvider, SnapProviderConfig};
use crate::wib;

/// B2B access token (1.6).
pub const TOKEN_PATH: &str = "/snap-service/snap/v1.0/access-token/b2b";
/// Direct debit payment (1.8, service 54).
pub const DEBIT_PAYMENT_PATH: &str = "/merchant-service/snap/v1.0/debit/payment-host-to-host";
/// Direct debit status (1.8, service 55).
pub const DEBIT_STATUS_PATH: &str = "/merchant-service/snap/v1.0/debit/status";
/// Direct debit refund (1.8, service 58).
pub const DEBIT_REFUND_PATH: &str = "/merchant-service/snap/v1.0/debit/refund";
/// QRIS generate (1.9, service 47).
pub const QR_GENERATE_PATH: &str = "/qris-service/snap/v1.0/qr/qr-mpm-generate";
/// QRIS query (1.9, service 51).
pub const QR_QUERY_PATH: &str = "/qris-service/snap/v1.0/qr/qr-mpm-query";
/// QRIS refund (1.9, service 78).
pub const QR_REFUND_PATH: &str = "/qris-service/snap/v1.0/qr/qr-mpm-refund";
/// QRIS refund as the notes print it, without the service prefix (1.14 #2).
pub const QR_REFUND_BARE_PATH: &str = "/snap/v1.0/qr/qr-mpm-refund";

/// `CHANNEL-ID` of the debit notify AstraPay sends (1.8, service 56).
pub const DEBIT_NOTIFY_CHANNEL: &str = "00656";
/// `CHANNEL-ID` of the QRIS notify AstraPay sends (1.9, service 52).
pub const QR_NOTIFY_CHANNEL: &str = "00752";

/// What a [`crate::faults::Fault::Malformed`] answers: cut off mid-string.
const MALFORMED: &str = r#"{"responseCode":"2005400","responseMessage":"Succ"#;

/// One service endpoint: its operation names, SNAP service code and fixed `CHANNEL-ID`.
struct Route {
    op: &'static str,
    generic: &'static str,
    service: u8,
    channel: &'static str,
    operation: Operation,
}

const ROUTES: [(&str, Route); 7] = [
    (
        DEBIT_PAYMENT_PATH,
        Route {
            op: "debit-payment",
            generic: "create",
            service: ledger::DEBIT_PAYMENT,
            channel: "00854",
            operation: Ledger::debit_payment,
        },
    ),
    (
        DEBIT_STATUS_PATH,
        Route {
            op: "debit-status",
            generic: "status",
            service: ledger::DEBIT_STATUS,
            channel: "00155",
            operation: Ledger::debit_status,
        },
    ),
    (
        DEBIT_REFUND_PATH,
        Route {
            op: "debit-refund",
            generic: "refund",
            service: ledger::DEBIT_REFUND,
            channel: "00258",
            operation: Ledger::debit_refund,
        },
    ),
    (
        QR_GENERATE_PATH,
        Route {
            op: "qr-generate",
            generic: "create",
            service: ledger::QR_GENERATE,
            channel: "00447",
            operation: Ledger::qr_generate,
        },
    ),
    (
        QR_QUERY_PATH,
        Route {
            op: "qr-query",
            generic: "status",
            service: ledger::QR_QUERY,
            channel: "00551",
            operation: Ledger::qr_query,
        },
    ),
    (
        QR_REFUND_PATH,
        Route {
            op: "qr-refund",
            generic: "refund",
            service: ledger::QR_REFUND,
            channel: "01878",
            operation: Ledger::qr_refund,
        },
    ),
    (
        QR_REFUND_BARE_PATH,
        Route {
            op: "qr-refund",
            generic: "refund",
            service: ledger::QR_REFUND,
            channel: "01878",
            operation: Ledger::qr_refund,
        },
    ),
];

/// The simulated merchant account at AstraPay, and the credentials the merchant issued to
/// AstraPay for its notifications (1.3, 1.12).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AstraPayConfig {
    /// Client ID: the expected `X-CLIENT-KEY` on token calls and `X-PARTNER-ID` on service
    /// calls.
    pub client_id: String,
    /// Client Secret: the HMAC-SHA512 key of service signatures.
    pub client_secret: String,
    /// The merchant's RSA public key (PEM), verifying token requests.
    #[serde(default = "default_merchant_public_key_pem")]
    pub merchant_public_key_pem: String,
    /// The payment-channel `merchantId` (a UUID).
    #[serde(default = "default_merchant_id")]
    pub merchant_id: String,
    /// The numeric QRIS `merchantId`.
    #[serde(default = "default_qris_merchant_id")]
    pub qris_merchant_id: String,
    /// The QRIS `terminalId`.
    #[serde(default = "default_qris_terminal_id")]
    pub qris_terminal_id: String,
    /// The client key the merchant issued to AstraPay: `X-CLIENT-KEY` on the token request
    /// to the merchant and `X-PARTNER-ID` on notifications.
    pub notify_client_key: String,
    /// The secret the merchant issued to AstraPay: HMAC key of notifications.
    pub notify_client_secret: String,
    /// AstraPay's RSA private key (PEM), signing its token requests to the merchant.
    #[serde(default = "default_astrapay_private_key_pem")]
    pub astrapay_private_key_pem: String,
    /// Where the simulator is reached from outside: the base of `webRedirectUrl`.
    #[serde(default = "default_public_base_url")]
    pub public_base_url: String,
}

fn default_merchant_public_key_pem() -> String {
    keys::MERCHANT.public_pem.to_owned()
}

fn default_merchant_id() -> String {
    "9653109f-6c3e-4b7a-9d2e-1f0a5b8c7d64".to_owned()
}

fn default_qris_merchant_id() -> String {
    "210000240".to_owned()
}

fn default_qris_terminal_id() -> String {
    "A01".to_owned()
}

fn default_astrapay_private_key_pem() -> String {
    keys::ASTRAPAY.private_pem.to_owned()
}

fn default_public_base_url() -> String {
    "https://sandbox.astrapay.com".to_owned()
}

impl AstraPayConfig {
    /// A merchant with the given credentials, the test keys of [`crate::keys`] (the
    /// gateway's [`keys::MERCHANT`], AstraPay's [`keys::ASTRAPAY`]), sample merchant and
    /// terminal ids and the sandbox host as public base URL.
    pub fn new(
        client_id: &str,
        client_secret: &str,
        notify_client_key: &str,
        notify_client_secret: &str,
    ) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            merchant_public_key_pem: default_merchant_public_key_pem(),
            merchant_id: default_merchant_id(),
            qris_merchant_id: default_qris_merchant_id(),
            qris_terminal_id: default_qris_terminal_id(),
            notify_client_key: notify_client_key.to_owned(),
            notify_client_secret: notify_client_secret.to_owned(),
            astrapay_private_key_pem: default_astrapay_private_key_pem(),
            public_base_url: default_public_base_url(),
        }
    }

    fn provider(&self) -> SnapProvider {
        SnapProvider::new(SnapProviderConfig {
            client_key: self.client_id.clone(),
            partner_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            merchant_public_key_pem: self.merchant_public_key_pem.clone(),
            token_ttl_secs: 900,
            expires_in_as_number: false,
        })
    }

    fn notifier(&self, channel_id: &str) -> SnapNotifier {
        SnapNotifier::new(SnapNotifierConfig {
            client_key: self.notify_client_key.clone(),
            partner_id: self.notify_client_key.clone(),
            client_secret: self.notify_client_secret.clone(),
            provider_private_key_pem: self.astrapay_private_key_pem.clone(),
            channel_id: channel_id.to_owned(),
            utc_timestamps: false,
            asymmetric: false,
        })
    }
}

impl std::fmt::Debug for AstraPayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AstraPayConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("merchant_id", &self.merchant_id)
            .field("qris_merchant_id", &self.qris_merchant_id)
            .field("qris_terminal_id", &self.qris_terminal_id)
            .field("notify_client_key", &self.notify_client_key)
            .field("notify_client_secret", &"<redacted>")
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
}

/// Where notifications go: the gateway's token URL and its two notify URLs.
#[derive(Clone, Debug, Default)]
struct Urls {
    token: String,
    debit_notify: String,
    qris_notify: String,
}

/// A simulated AstraPay for one merchant. Clones share state.
#[derive(Clone)]
pub struct AstraPaySimulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: AstraPayConfig,
    provider: SnapProvider,
    debit_notifier: SnapNotifier,
    qris_notifier: SnapNotifier,
    ledger: Mutex<Ledger>,
    urls: Mutex<Urls>,
    faults: Faults,
}

impl std::fmt::Debug for AstraPaySimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AstraPaySimulator")
            .field("client_id", &self.inner.config.client_id)
            .finish_non_exhaustive()
    }
}

impl AstraPaySimulator {
    /// A simulator holding no payment, with no notification URLs yet.
    pub fn new(config: AstraPayConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                provider: config.provider(),
                debit_notifier: config.notifier(DEBIT_NOTIFY_CHANNEL),
                qris_notifier: config.notifier(QR_NOTIFY_CHANNEL),
                config,
                ledger: Mutex::new(Ledger::default()),
                urls: Mutex::new(Urls::default()),
                faults: Faults::default(),
            }),
        }
    }

    /// The token endpoint and the six (seven with the bare QRIS refund path) service
    /// endpoints.
    pub fn router(&self) -> Router {
        let mut router = Router::new().route(TOKEN_PATH, post(token));
        for (path, _) in &ROUTES {
            router = router.route(path, post(service));
        }
        router.with_state(self.clone())
    }

    /// Serves [`Self::router`] on `addr`.
    pub async fn spawn(&self, addr: SocketAddr) -> io::Result<Running> {
        server::spawn(self.router(), addr).await
    }

    /// The configuration.
    pub fn config(&self) -> &AstraPayConfig {
        &self.inner.config
    }

    /// The fault rules requests consult (operation names in the module docs).
    pub fn faults(&self) -> Faults {
        self.inner.faults.clone()
    }

    /// How many requests of `op` (a specific or generic name of the module docs) reached
    /// the provider's logic; those answered by a fault other than latency or
    /// hang-after-effect do not count.
    pub fn calls(&self, op: &str) -> usize {
        let ledger = self.ledger();
        ledger
            .calls
            .get(&op.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// Where AstraPay asks for its token and posts the debit and QRIS notifications.
    pub fn set_urls(&self, token_url: &str, debit_notify_url: &str, qris_notify_url: &str) {
        *self.urls() = Urls {
            token: token_url.to_owned(),
            debit_notify: debit_notify_url.to_owned(),
            qris_notify: qris_notify_url.to_owned(),
        };
    }

    /// Every token issued to the merchant so far is now expired (its next call answers
    /// `401xx01`).
    pub fn expire_tokens(&self) {
        self.inner.provider.expire_tokens();
    }

    /// How many tokens were issued to the merchant so far.
    pub fn tokens_issued(&self) -> usize {
        self.inner.provider.tokens_issued()
    }

    /// A snapshot of the payment under `partner_reference_no`.
    pub fn payment(&self, partner_reference_no: &str) -> Option<PaymentView> {
        self.ledger().view(partner_reference_no, wib::now())
    }

    /// Snapshots of every payment, ordered by `partnerReferenceNo`.
    pub fn payments(&self) -> Vec<PaymentView> {
        self.ledger().views(wib::now())
    }

    /// The customer pays: status `00`; posts the notification once.
    pub async fn complete(&self, partner_reference_no: &str) -> Result<CallbackOutcome, SimError> {
        first(
            self.complete_with(partner_reference_no, CallbackOptions::default())
                .await?,
        )
    }

    /// The customer pays; the notification is posted as `options` say (`times = 0`
    /// records the payment only). Tampering as [`SnapNotifier::notification`] documents.
    pub async fn complete_with(
        &self,
        partner_reference_no: &str,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        self.act(partner_reference_no, Outcome::Paid, &options)
            .await
    }

    /// The payment fails: status `06`; posts the notification once.
    pub async fn fail(&self, partner_reference_no: &str) -> Result<CallbackOutcome, SimError> {
        first(
            self.fail_with(partner_reference_no, CallbackOptions::default())
                .await?,
        )
    }

    /// The payment fails; the notification is posted as `options` say.
    pub async fn fail_with(
        &self,
        partner_reference_no: &str,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        self.act(partner_reference_no, Outcome::Failed, &options)
            .await
    }

    /// The payment expires unpaid: status `05`; posts the notification once.
    pub async fn expire(&self, partner_reference_no: &str) -> Result<CallbackOutcome, SimError> {
        first(
            self.expire_with(partner_reference_no, CallbackOptions::default())
                .await?,
        )
    }

    /// The payment expires unpaid; the notification is posted as `options` say.
    pub async fn expire_with(
        &self,
        partner_reference_no: &str,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        self.act(partner_reference_no, Outcome::Canceled, &options)
            .await
    }

    /// The token request AstraPay sends the merchant before notifying, built, not posted.
    pub fn token_request(&self) -> CapturedCallback {
        let token_url = self.urls().token.clone();
        self.inner.debit_notifier.token_request(&token_url)
    }

    /// Holds `token` (issued by the merchant) for the next notifications.
    pub fn use_token(&self, token: &str) {
        self.inner.debit_notifier.use_token(token);
        self.inner.qris_notifier.use_token(token);
    }

    /// The notification of how the payment under `partner_reference_no` ended (the same
    /// body every time, signed afresh with the held token), spoiled as `tamper` says,
    /// built, not posted.
    pub fn notification_for(
        &self,
        partner_reference_no: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        let (kind, body) = {
            let ledger = self.ledger();
            let payment = ledger
                .get(partner_reference_no)
                .ok_or_else(|| SimError::NotFound(partner_reference_no.to_owned()))?;
            let body = payment
                .notification()
                .cloned()
                .ok_or_else(|| SimError::NothingToRedeliver(partner_reference_no.to_owned()))?;
            (payment.kind(), body)
        };
        let urls = self.urls().clone();
        let (notifier, url) = self.notifier(kind, &urls);
        if url.is_empty() {
            return Err(SimError::NoCallbackUrl);
        }
        Ok(notifier.notification(url, &body, tamper))
    }

    async fn act(
        &self,
        partner_reference_no: &str,
        outcome: Outcome,
        options: &CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let (kind, body) = self.record(partner_reference_no, outcome)?;
        let urls = self.urls().clone();
        let (notifier, url) = self.notifier(kind, &urls);
        notifier.post(&urls.token, url, &body, options).await
    }

    fn record(
        &self,
        partner_reference_no: &str,
        outcome: Outcome,
    ) -> Result<(PaymentKind, Value), SimError> {
        let config = &self.inner.config;
        self.ledger()
            .finish(config, partner_reference_no, outcome, wib::now())
    }

    fn notifier<'a>(&'a self, kind: PaymentKind, urls: &'a Urls) -> (&'a SnapNotifier, &'a str) {
        match kind {
            PaymentKind::Debit => (&self.inner.debit_notifier, &urls.debit_notify),
            PaymentKind::Qris => (&self.inner.qris_notifier, &urls.qris_notify),
        }
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.inner
            .ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn urls(&self) -> MutexGuard<'_, Urls> {
        self.inner
            .urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, ops: &[&str]) {
        let mut ledger = self.ledger();
        for op in ops {
            *ledger.calls.entry((*op).to_owned()).or_default() += 1;
        }
    }

    /// The call's SNAP checks, then its body's fields and rules.
    fn handle(&self, route: &Route, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
        let config = &self.inner.config;
        let result = self
            .inner
            .provider
            .check(
                "POST",
                path,
                headers,
                body,
                route.service,
                Some(route.channel),
            )
            .and_then(|()| {
                let fields = Body::parse(body, route.service).map_err(|r| r.answer())?;
                let request = Body::new(&fields, route.service);
                let mut ledger = self.ledger();
                (route.operation)(&mut ledger, config, &request, wib::now()).map_err(|r| r.answer())
            });
        match result {
            Ok(answer) => (StatusCode::OK, axum::Json(answer)).into_response(),
            Err((status, answer)) => {
                tracing::debug!(op = route.op, status = %status, "astrapay simulator refused request");
                (status, axum::Json(answer)).into_response()
            }
        }
    }
}

fn first(outcomes: Vec<CallbackOutcome>) -> Result<CallbackOutcome, SimError> {
    outcomes
        .into_iter()
        .next()
        .ok_or_else(|| SimError::Delivery("no notification was posted".to_owned()))
}

async fn token(State(sim): State<AstraPaySimulator>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = sim.inner.faults.take("token");
    faults::apply(fault, MALFORMED, || async move {
        sim.count(&["token"]);
        let (status, answer) = sim.inner.provider.token_answer(&headers, &body);
        // The token answer echoes the request's X-TIMESTAMP and X-CLIENT-KEY (1.6).
        let echoed: Vec<_> = ["x-timestamp", "x-client-key"]
            .into_iter()
            .filter_map(|name| Some((name, headers.get(name)?.clone())))
            .collect();
        let mut response = (status, axum::Json(answer)).into_response();
        for (name, value) in echoed {
            response.headers_mut().insert(name, value);
        }
        response
    })
    .await
}

async fn service(
    State(sim): State<AstraPaySimulator>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let Some((_, route)) = ROUTES.iter().find(|(p, _)| *p == path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let faults = &sim.inner.faults;
    let fault = faults.take(route.op).or_else(|| faults.take(route.generic));
    faults::apply(fault, MALFORMED, || async move {
        sim.count(&[route.op, route.generic]);
        sim.handle(route, &path, &headers, &body)
    })
    .await
}

impl PaymentSimulator for AstraPaySimulator {
    fn op_name(&self, op: PaymentOp) -> &'static str {
        match op {
            PaymentOp::Create => "create",
            PaymentOp::Status => "status",
            PaymentOp::Refund => "refund",
        }
    }

    fn faults(&self) -> Faults {
        AstraPaySimulator::faults(self)
    }

    fn calls(&self, op_name: &str) -> usize {
        AstraPaySimulator::calls(self, op_name)
    }

    fn complete(&self, reference: &str) -> Result<(), SimError> {
        self.record(reference, Outcome::Paid).map(|_| ())
    }

    fn fail(&self, reference: &str) -> Result<(), SimError> {
        self.record(reference, Outcome::Failed).map(|_| ())
    }

    fn payments_for(&self, reference: &str) -> usize {
        usize::from(self.ledger().get(reference).is_some())
    }

    fn token_request(&self) -> Option<CapturedCallback> {
        Some(AstraPaySimulator::token_request(self))
    }

    fn use_token(&self, token: &str) {
        AstraPaySimulator::use_token(self, token);
    }

    fn expire_tokens(&self) {
        AstraPaySimulator::expire_tokens(self);
    }

    fn notification_for(
        &self,
        reference: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        AstraPaySimulator::notification_for(self, reference, tamper)
    }
}

#[cfg(test)]
mod tests;
