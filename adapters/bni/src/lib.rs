//! BNI eCollection, the legacy encrypted-JSON API: virtual accounts (billings) and the
//! payment callbacks BNI posts for them.
//!
//! Written to the protocol reference `bni-and-snap.md` Part A, which follows BNI
//! eCollection spec v3.0.x (with the ISO 8601 dates of 1.9.0) and BNI's official SDKs;
//! the "BniEnc" cipher is pinned by the published vectors TV-1..TV-8.
//!
//! Every operation is one `POST` to the service root whose encrypted `data` carries the
//! `type`: `createbilling`, `updatebilling`, `inactivebilling`, `inquirybilling`. Billing
//! types `c` (exact) and, when configured, `i` (partial) are offered.
//!
//! Not supported: open (`o`), minimum (`m`, `n`) and maximum (`x`) billings, SMS billings
//! (`createbillingsms`), cardless withdrawals, choosing the VA number (BNI always assigns
//! it), and BNI's SNAP API (a different protocol, not this crate). BNI has no refunds or
//! reversals in this API.
//!
//! # Layout
//! - `lib.rs`: [`Bni`] and its [`contracts::VirtualAccounts`] and
//!   [`contracts::InboundNotifications`] impls: convert → sign and send → classify →
//!   convert back.
//! - `config.rs`: [`Config`] (serde, secrets redacted) and [`Config::validate`].
//! - `client.rs`: sealing, the HTTP call, the bounded read, opening the answer.
//! - `wire.rs`: the request and answer shapes as BNI spells them.
//! - `convert.rs`: contracts ⇄ wire, `va_status` to a state (unknown stays pending).
//! - `signature.rs`: the BniEnc cipher and pure-ASCII JSON, with the known-answer tests.
//! - `webhook.rs`: callback verification, parsing and acknowledgement.
//! - `error.rs`: the private errors and BNI's status-code table.

mod client;
mod config;
mod convert;
mod error;
mod signature;
mod webhook;
mod wire;

#[cfg(test)]
mod adapter_tests;

use std::sync::Arc;

use async_trait::async_trait;
use contracts::inbound::{
    AckOutcome, Inbound, InboundRequest, InboundResponse, Notification, Trust,
};
use contracts::va::{CreateVa, IssuedVa, PaymentRule, UpdateVa, VaHandle, VaStatusReport};
use contracts::{Capabilities, InboundNotifications, ProviderError, VirtualAccounts};
use time::OffsetDateTime;

pub use config::{BillingType, Config, ConfigError};

use client::Client;
use error::{CallbackError, Error, Operation};

/// One BNI eCollection client id, ready to call BNI and to read its callbacks.
pub struct Bni {
    config: Config,
    client: Client,
}

impl std::fmt::Debug for Bni {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bni")
            .field("base_url", &self.config.base_url.as_str())
            .field("client_id", &self.config.client_id)
            .field("billing_type", &self.config.billing_type)
            .finish_non_exhaustive()
    }
}

impl Bni {
    /// Builds the adapter on the gateway's `http` client (redirects disabled). No I/O.
    pub fn new(config: Config, http: reqwest::Client) -> Result<Bni, ConfigError> {
        config.validate()?;
        let client = Client::new(&config, http);
        Ok(Bni { config, client })
    }

    /// What this instance offers: virtual accounts and inbound callbacks, one shared adapter.
    pub fn capabilities(self) -> Capabilities {
        let adapter = Arc::new(self);
        Capabilities {
            virtual_accounts: Some(adapter.clone()),
            inbound: Some(adapter),
            ..Capabilities::default()
        }
    }

    /// [`InboundNotifications::verify_and_parse`] with the clock as a parameter.
    pub(crate) fn verify_at(
        &self,
        request: &InboundRequest,
        now: i64,
    ) -> Result<Inbound, ProviderError> {
        if !request.method.eq_ignore_ascii_case("POST") {
            return Err(CallbackError::Envelope.into());
        }
        let event = webhook::parse_callback(&self.config, &request.body, now)?;
        Ok(Inbound::Events(Notification::new(vec![event])))
    }

    /// The VA number `inactivebilling` needs: from the handle, else from an inquiry.
    async fn va_number_of(&self, handle: &VaHandle) -> Result<String, ProviderError> {
        if let Some(number) = handle.va_number.as_ref().filter(|n| !n.is_empty()) {
            return Ok(number.clone());
        }
        self.inquire(handle)
            .await?
            .va_number
            .ok_or_else(|| Error::Malformed("inquiry answer without a VA number").into())
    }
}

#[async_trait]
impl VirtualAccounts for Bni {
    async fn create(&self, request: &CreateVa) -> Result<IssuedVa, ProviderError> {
        let billing = convert::create_billing(request, &self.config)?;
        let result = self.client.call(Operation::Create, &billing).await?;
        Ok(convert::issued_va(
            result,
            &request.reference,
            &self.config.bank,
        )?)
    }

    async fn update(&self, request: &UpdateVa) -> Result<(), ProviderError> {
        let billing = convert::update_billing(request, &self.config)?;
        let data = self.client.send(Operation::Update, &billing).await?;
        Ok(check_echo(data.as_deref(), &request.handle)?)
    }

    async fn cancel(&self, handle: &VaHandle) -> Result<(), ProviderError> {
        let va_number = self.va_number_of(handle).await?;
        let billing = convert::inactive_billing(handle, &va_number, &self.config);
        let data = self.client.send(Operation::Cancel, &billing).await?;
        Ok(check_echo(data.as_deref(), handle)?)
    }

    async fn inquire(&self, handle: &VaHandle) -> Result<VaStatusReport, ProviderError> {
        let billing = convert::inquiry_billing(handle, &self.config);
        let inquiry = self.client.call(Operation::Inquire, &billing).await?;
        let now = OffsetDateTime::now_utc();
        Ok(convert::status_report(
            inquiry,
            &handle.reference,
            &self.config.client_id,
            now,
        )?)
    }

    fn supports_rule(&self, rule: PaymentRule) -> bool {
        convert::billing_type(rule, self.config.billing_type).is_ok()
    }
}

/// An update or cancel answer may carry `{virtual_account, trx_id}`; if it does, it must
/// be about our billing.
fn check_echo(data: Option<&str>, handle: &VaHandle) -> Result<(), Error> {
    let Some(json) = data else { return Ok(()) };
    let result: wire::BillingResult =
        serde_json::from_str(json).map_err(|_| Error::Malformed("unreadable decrypted data"))?;
    convert::check_echo(&result, &handle.reference)
}

#[async_trait]
impl InboundNotifications for Bni {
    /// Strong by default: the body is encrypted with our secret and time-stamped. With
    /// `confirm_callbacks`, callbacks are hints confirmed by inquiry (A.4.4 d), since the
    /// cipher is not a MAC.
    fn trust(&self) -> Trust {
        if self.config.confirm_callbacks {
            Trust::ConfirmByInquiry
        } else {
            Trust::Strong
        }
    }

    async fn verify_and_parse(&self, request: &InboundRequest) -> Result<Inbound, ProviderError> {
        self.verify_at(request, OffsetDateTime::now_utc().unix_timestamp())
    }

    /// `Accepted` → HTTP 200 `{"status":"000"}` (A.5). Rejections → HTTP 400 with BNI's
    /// sample failure body `{"status":"999","message":…}`; BNI reads the body `status`,
    /// the HTTP code is ours. `RetryLater` → HTTP 503 `{"status":"997",…}`.
    fn acknowledge(&self, _request: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
        webhook::acknowledge(outcome)
    }
}
