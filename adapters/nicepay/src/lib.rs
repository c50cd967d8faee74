//! NICEPAY Indonesia adapter: one-time virtual accounts through NICEPAY's "V2 Enterprise /
//! direct" API, and the payment notifications NICEPAY posts back.
//!
//! Written to the V2 direct API as NICEPAY documents it on docs.nicepay.co.id (Registration,
//! Status Inquiry, Cancel and Notification – API Virtual Account) and in its official SDKs;
//! the section numbers quoted in comments (1.3, 1.7, …) are those of the project's protocol
//! reference, `providers/nicepay-and-doku.md`, part 1.
//!
//! What it covers:
//! - [`contracts::VirtualAccounts`]: `create` (`/nicepay/direct/v2/registration`,
//!   `payMethod` `02`), `inquire` (`/inquiry`), `cancel` (`/cancel`, full cancel of an
//!   unpaid VA). Only [`contracts::va::PaymentRule::Exact`]: a NICEPAY VA takes one payment,
//!   and an under- or over-payment is only reported (`matchCl`).
//! - [`contracts::InboundNotifications`]: the form-encoded payment / reversal notification
//!   posted to `dbProcessUrl`, verified by its `merchantToken`. It carries no timestamp, so
//!   a captured one replays: trust is [`contracts::inbound::Trust::ConfirmByInquiry`].
//!
//! Not supported: **update**. V2 direct has no VA update call, so
//! [`contracts::VirtualAccounts::update`] answers `ProviderError::not_supported("update")`
//! (cancel and create a new VA instead). Fixed ("static") VAs, cards, e-wallets, the V1
//! API and NICEPAY SNAP are out of scope.
//!
//! # Layout
//! - `lib.rs`: [`Nicepay`] and its contracts impls; each call is convert → sign and send →
//!   classify → convert back.
//! - `config.rs`: [`Config`], [`BillingDefaults`], [`ConfigError`] and `validate`.
//! - `client.rs`: endpoint URLs, the JSON `POST` with timeout and capped body read, first
//!   classification of the answer.
//! - `wire.rs`: request and response bodies, fields spelled as NICEPAY spells them.
//! - `convert.rs`: contracts ⇄ wire, WIB dates, the VA status table.
//! - `signature.rs`: the `merchantToken` formulas, with the published vectors as tests.
//! - `webhook.rs`: notification verify / parse / acknowledge.
//! - `error.rs`: the private `Error` and the `resultCd` table → [`contracts::ErrorKind`].

mod client;
mod config;
mod convert;
mod error;
mod signature;
mod webhook;
mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use contracts::inbound::{
    AckOutcome, Inbound, InboundRequest, InboundResponse, Notification, Trust,
};
use contracts::va::{CreateVa, IssuedVa, PaymentRule, UpdateVa, VaHandle, VaStatusReport};
use contracts::{Capabilities, ErrorKind, InboundNotifications, ProviderError, VirtualAccounts};
use secrecy::SecretString;
use time::OffsetDateTime;

pub use config::{BillingDefaults, Config, ConfigError};

use client::{Client, Endpoint};
use wire::{CancelResponse, InquiryResponse, RegistrationResponse};

/// One NICEPAY merchant (iMid): issues VAs and reads their notifications.
pub struct Nicepay {
    config: Config,
    client: Client,
}

impl std::fmt::Debug for Nicepay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nicepay")
            .field("imid", &self.config.imid)
            .field("base_url", &self.config.base_url.as_str())
            .field("bank_code", &self.config.bank_code)
            .finish_non_exhaustive()
    }
}

impl Nicepay {
    /// Builds the adapter from a validated `config`. No I/O, no spawned tasks. `http`
    /// should not follow redirects; the per-request timeout comes from `config`.
    pub fn new(config: Config, http: reqwest::Client) -> Result<Nicepay, ConfigError> {
        config.validate()?;
        let timeout = Duration::from_millis(config.timeout_ms);
        let client = Client::new(http, &config.base_url, timeout);
        Ok(Nicepay { config, client })
    }

    /// The capabilities this instance offers: virtual accounts and inbound notifications.
    pub fn capabilities(self) -> Capabilities {
        let adapter = Arc::new(self);
        Capabilities {
            virtual_accounts: Some(adapter.clone()),
            inbound: Some(adapter),
            ..Capabilities::default()
        }
    }

    fn key(&self) -> &SecretString {
        &self.config.merchant_key
    }

    /// Status inquiry: by `referenceNo`, with the `tXid` when we have it.
    async fn inquiry(&self, handle: &VaHandle) -> Result<VaStatusReport, error::Error> {
        let mut request = convert::inquiry(&self.config, handle, OffsetDateTime::now_utc())?;
        request.merchantToken = signature::inquiry(
            &request.timeStamp,
            &request.iMid,
            &request.referenceNo,
            &request.amt,
            self.key(),
        );
        let answer: InquiryResponse = self.client.post(Endpoint::Inquiry, &request).await?;
        convert::status_report(handle, answer)
    }

    /// The `tXid` of a VA whose registration answer we never read (a timeout): asked for
    /// by `referenceNo`, since cancel needs it.
    async fn find_t_xid(&self, handle: &VaHandle) -> Result<String, ProviderError> {
        let report = self.inquiry(handle).await?;
        report
            .provider_reference
            .map(|r| r.0)
            .ok_or_else(|| ProviderError::new(ErrorKind::Protocol, "inquiry answer has no tXid"))
    }
}

#[async_trait]
impl VirtualAccounts for Nicepay {
    async fn create(&self, request: &CreateVa) -> Result<IssuedVa, ProviderError> {
        if !self.supports_rule(request.rule) {
            return Err(ProviderError::not_supported("a partial-payment VA"));
        }
        let mut wire = convert::registration(&self.config, request, OffsetDateTime::now_utc())?;
        wire.merchantToken = signature::registration(
            &wire.timeStamp,
            &wire.iMid,
            &wire.referenceNo,
            &wire.amt,
            self.key(),
        );
        let answer: RegistrationResponse = self.client.post(Endpoint::Registration, &wire).await?;
        Ok(convert::issued_va(&self.config, request, answer)?)
    }

    async fn update(&self, _request: &UpdateVa) -> Result<(), ProviderError> {
        // V2 direct has no VA update call.
        Err(ProviderError::not_supported("update"))
    }

    async fn cancel(&self, handle: &VaHandle) -> Result<(), ProviderError> {
        let t_xid = match &handle.provider_reference {
            Some(t_xid) => t_xid.as_str().to_owned(),
            None => self.find_t_xid(handle).await?,
        };
        let mut wire = convert::cancel(&self.config, handle, &t_xid, OffsetDateTime::now_utc())?;
        // Cancel hashes the tXid, not the referenceNo (1.3).
        wire.merchantToken = signature::cancel(
            &wire.timeStamp,
            &wire.iMid,
            &wire.tXid,
            &wire.amt,
            self.key(),
        );
        let answer: CancelResponse = self.client.post(Endpoint::Cancel, &wire).await?;
        Ok(convert::check_cancelled(&t_xid, &answer)?)
    }

    async fn inquire(&self, handle: &VaHandle) -> Result<VaStatusReport, ProviderError> {
        Ok(self.inquiry(handle).await?)
    }

    fn supports_rule(&self, rule: PaymentRule) -> bool {
        rule == PaymentRule::Exact
    }
}

#[async_trait]
impl InboundNotifications for Nicepay {
    fn trust(&self) -> Trust {
        Trust::ConfirmByInquiry
    }

    async fn verify_and_parse(&self, request: &InboundRequest) -> Result<Inbound, ProviderError> {
        let event = webhook::verify_and_parse(&self.config.imid, self.key(), request)?;
        Ok(Inbound::Events(Notification::new(vec![event])))
    }

    fn acknowledge(&self, _request: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
        webhook::acknowledge(outcome)
    }
}
