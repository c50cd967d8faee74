//! AstraPay adapter: e-wallet payments through AstraPay's SNAP BI merchant API, and the
//! payment notifications AstraPay posts back.
//!
//! Written to the project's protocol reference `astrapay-privyid-whatsapp.md` section 1
//! (AstraPay's "Snap Keamanan", "Payment Channel SNAP BI V1.0" and "QRIS Dynamic SNAP BI
//! V1.0"), with the generic SNAP rules of `bni-and-snap.md` Part B; section numbers in
//! comments (1.8, 1.12, …) are that document's. Signing, the B2B token and inbound
//! verification come from [`adapter_snap`].
//!
//! What it covers:
//! - [`contracts::Payments`], method `astrapay`: **push-to-pay direct debit without account
//!   binding** (1.8): `debit/payment-host-to-host` answers a web page (or, with
//!   [`Config::in_app`], an app deeplink) where the payer confirms by PIN; `debit/status`;
//!   `debit/refund`, partial refunds allowed.
//! - [`contracts::Payments`], method `qris` (when [`Config::qris_merchant_id`] and
//!   [`Config::qris_terminal_id`] are set): **QRIS MPM dynamic QR** (1.9):
//!   `qr/qr-mpm-generate` answers the QRIS string; `qr/qr-mpm-query`; `qr/qr-mpm-refund`.
//! - [`contracts::InboundNotifications`] (trust [`contracts::inbound::Trust::Strong`]):
//!   our B2B token endpoint for AstraPay (`…/access-token/b2b`), and the debit
//!   (`…/debit/notify`) and QRIS (`…/qr/qr-mpm-notify`) notifications, Bearer token and
//!   HMAC-SHA512 verified (1.12), answered in SNAP form.
//!
//! Not supported: account binding and payment with linking (B2B2C customer tokens, 1.7),
//! the auth-payment (pre-authorization) family, balance inquiry, top-up and disbursement
//! (1.10). A payment method other than the two above answers
//! [`contracts::ErrorKind::NotSupported`].
//!
//! # Layout
//! - `lib.rs`: [`AstraPay`] and its contracts impls; each call is convert → sign and send →
//!   classify → convert back.
//! - `config.rs`: [`Config`], [`ConfigError`] and `validate`.
//! - `client.rs`: paths and `CHANNEL-ID`s, the signed call through
//!   [`adapter_snap::client::SnapClient`].
//! - `wire.rs`: request and answer bodies as AstraPay spells them.
//! - `convert.rs`: contracts ⇄ wire, expiry clamping, the `latestTransactionStatus` table.
//! - `webhook.rs`: token endpoint, notification verify / parse / acknowledge.
//! - `error.rs`: operations, service codes and the response-code table →
//!   [`contracts::ErrorKind`].
#![deny(missing_docs)]

mod client;
mod config;
mod convert;
mod error;
mod webhook;
mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use adapter_snap::inbound::{InboundConfig, NotifyAuth, SnapInbound, TokenAnswer};
use async_trait::async_trait;
use contracts::inbound::{AckOutcome, Inbound, InboundRequest, InboundResponse, Trust};
use contracts::payment::{
    CreatePayment, PaymentHandle, PaymentStatusReport, RefundOutcome, RefundRequest, StartedPayment,
};
use contracts::{Capabilities, ErrorKind, InboundNotifications, Payments, ProviderError};
use time::OffsetDateTime;

pub use config::{Config, ConfigError};

use client::Client;
use config::Qris;
use convert::{METHOD_DEBIT, METHOD_QRIS, Method};
use error::Operation;
use wire::{DebitPaymentAnswer, PaymentView, QrGenerateAnswer, RefundAnswer};

/// How long a token we issue AstraPay lives (1.6: 900 s).
const ISSUED_TOKEN_TTL: Duration = Duration::from_secs(900);
/// How far AstraPay's `X-TIMESTAMP` may be from our clock, both ways.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// One AstraPay merchant: takes direct-debit and QRIS payments and reads AstraPay's
/// notifications.
pub struct AstraPay {
    config: Config,
    qris: Option<Qris>,
    methods: Vec<&'static str>,
    client: Client,
    inbound: SnapInbound,
}

impl std::fmt::Debug for AstraPay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AstraPay")
            .field("base_url", &self.config.base_url.as_str())
            .field("methods", &self.methods)
            .field("in_app", &self.config.in_app)
            .finish_non_exhaustive()
    }
}

impl AstraPay {
    /// Builds the adapter from `config` on the gateway's `http` client (redirects
    /// disabled). Parses the keys; no I/O, no spawned tasks.
    pub fn new(config: Config, http: reqwest::Client) -> Result<AstraPay, ConfigError> {
        config.validate()?;
        let qris = config.qris()?;
        let client = Client::new(&config, http)?;
        let inbound = SnapInbound::new(InboundConfig {
            client_key: config.notify_client_key.clone(),
            partner_id: Some(config.notify_client_key.clone()),
            client_secret: config.notify_client_secret.clone(),
            provider_public_key_pem: config.astrapay_public_key.clone(),
            auth: NotifyAuth::Symmetric,
            token_answer: TokenAnswer::Standard,
            token_ttl: ISSUED_TOKEN_TTL,
            max_skew: MAX_CLOCK_SKEW,
        })?;
        let mut methods = vec![METHOD_DEBIT];
        if qris.is_some() {
            methods.push(METHOD_QRIS);
        }
        Ok(AstraPay {
            config,
            qris,
            methods,
            client,
            inbound,
        })
    }

    /// What this instance offers: payments and inbound notifications, one shared adapter.
    pub fn capabilities(self) -> Capabilities {
        let adapter = Arc::new(self);
        Capabilities {
            payments: Some(adapter.clone()),
            inbound: Some(adapter),
            ..Capabilities::default()
        }
    }

    fn method(&self, name: &str) -> Result<Method, ProviderError> {
        Method::parse(name, self.qris.is_some())
    }

    /// The QRIS identity; only called for [`Method::Qris`], which needs it to parse.
    fn qris(&self) -> Result<&Qris, ProviderError> {
        self.qris
            .as_ref()
            .ok_or_else(|| ProviderError::not_supported("payment method \"qris\""))
    }

    /// [`Payments::create`] with the clock as a parameter.
    async fn create_at(
        &self,
        request: &CreatePayment,
        now: OffsetDateTime,
    ) -> Result<StartedPayment, ProviderError> {
        match self.method(&request.method)? {
            Method::Debit => {
                let valid_up_to = convert::debit_valid_up_to(request.expires_at, now);
                let body = convert::debit_payment(&self.config, request, valid_up_to);
                let (_, answer): (_, DebitPaymentAnswer) =
                    self.client.send(Operation::DebitPayment, &body).await?;
                convert::started_debit(answer, request, self.config.in_app, valid_up_to)
            }
            Method::Qris => {
                let validity = convert::qr_validity(request.expires_at, now);
                let body = convert::qr_generate(self.qris()?, request, validity);
                let (_, answer): (_, QrGenerateAnswer) =
                    self.client.send(Operation::QrGenerate, &body).await?;
                convert::started_qr(answer, request, validity)
            }
        }
    }

    /// The QRIS bill number a refund must quote: from the handle, else from a query.
    async fn qr_reference(&self, handle: &PaymentHandle) -> Result<String, ProviderError> {
        if let Some(reference) = &handle.provider_reference {
            return Ok(reference.as_str().to_owned());
        }
        self.status(handle)
            .await?
            .provider_reference
            .map(|r| r.0)
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Rejected,
                    "the QRIS bill's referenceNo is unknown; a refund needs it",
                )
            })
    }
}

#[async_trait]
impl Payments for AstraPay {
    fn methods(&self) -> &[&'static str] {
        &self.methods
    }

    fn refunds(&self, method: &str) -> bool {
        self.method(method).is_ok()
    }

    async fn create(&self, request: &CreatePayment) -> Result<StartedPayment, ProviderError> {
        self.create_at(request, OffsetDateTime::now_utc()).await
    }

    async fn status(&self, handle: &PaymentHandle) -> Result<PaymentStatusReport, ProviderError> {
        let method = self.method(&handle.method)?;
        let (op, (_, view)): (_, (_, PaymentView)) = match method {
            Method::Debit => {
                let body = convert::debit_status(handle);
                let op = Operation::DebitStatus;
                (op, self.client.send(op, &body).await?)
            }
            Method::Qris => {
                let body = convert::qr_query(self.qris()?, handle);
                let op = Operation::QrQuery;
                (op, self.client.send(op, &body).await?)
            }
        };
        convert::status_report(op, method, view, handle)
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let (code, answer): (_, RefundAnswer) = match self.method(&request.payment.method)? {
            Method::Debit => {
                let body = convert::debit_refund(request);
                self.client.send(Operation::DebitRefund, &body).await?
            }
            Method::Qris => {
                let reference = self.qr_reference(&request.payment).await?;
                let body = convert::qr_refund(self.qris()?, request, reference);
                self.client.send(Operation::QrRefund, &body).await?
            }
        };
        Ok(convert::refund_outcome(code.is_in_progress(), answer))
    }
}

#[async_trait]
impl InboundNotifications for AstraPay {
    /// Strong: a token we issued plus an HMAC over the body and a fresh timestamp (1.12).
    fn trust(&self) -> Trust {
        Trust::Strong
    }

    async fn verify_and_parse(&self, request: &InboundRequest) -> Result<Inbound, ProviderError> {
        webhook::verify_and_parse(&self.inbound, request, OffsetDateTime::now_utc())
    }

    fn acknowledge(&self, request: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
        webhook::acknowledge(request, outcome)
    }
}
