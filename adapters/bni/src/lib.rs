//! BNI virtual accounts (billings) and the payment callbacks BNI posts for them, over
//! either of BNI's APIs, chosen per instance by `protocol`:
//!
//! - **eCollection** (`protocol = "ecollection"`, the default), the legacy encrypted-JSON
//!   API, written to the protocol reference `bni-and-snap.md` Part A, which follows BNI
//!   eCollection spec v3.0.x (with the ISO 8601 dates of 1.9.0) and BNI's official SDKs;
//!   the "BniEnc" cipher is pinned by the published vectors TV-1..TV-8. Every operation is
//!   one `POST` to the service root whose encrypted `data` carries the `type`:
//!   `createbilling`, `updatebilling`, `inactivebilling`, `inquirybilling`. Billing types
//!   `c` (exact) and, when configured, `i` (partial) are offered. Callbacks arrive at the
//!   instance's callback root. Not supported: open (`o`), minimum (`m`, `n`) and maximum
//!   (`x`) billings, SMS billings (`createbillingsms`), cardless withdrawals, choosing the
//!   VA number (BNI always assigns it). No refunds or reversals exist in this API.
//! - **SNAP BI** (`protocol = "snap"`), Part B, on the shared primitives of
//!   [`adapter_snap`] (B2B token, HMAC-SHA512 service signatures, TV-S1..TV-S7). The
//!   gateway allocates the serial (`customerNo`, [`contracts::va::Numbering`]); the VA
//!   number is `partner_service_id` + `customerNo`. With `bills = "bank"` the VA lives at
//!   BNI: create-va, update-va, delete-va (cancel), and inquiry through inquiry-va plus the
//!   payment status service (see `snap.rs`). With `bills = "gateway"` (host-to-host) the
//!   gateway holds the bill: create, update and cancel call no one, BNI asks our inquiry
//!   endpoint (svc 24) what a number owes, and inquiry is not supported. Either way BNI
//!   posts payments (svc 25) to `…/transfer-va/payment` below the callback root, signed
//!   with a token it gets from our `…/access-token/b2b` plus HMAC, or with its RSA key
//!   (`notify_auth`). Not supported in SNAP mode: partial, open, minimum and maximum VAs
//!   (only `virtualAccountTrxType` `C`), Update Status VA (svc 29), the VA report
//!   (svc 35), and inquiry of a VA without its number (SNAP finds a VA by its number,
//!   B.5). BNI's real SNAP VA paths, `CHANNEL-ID` and notification set-up are not public
//!   (open question 1): paths, channel and set-up are configuration.
//!
//! # Layout
//! - `lib.rs`: [`Bni`] and its [`contracts::VirtualAccounts`] and
//!   [`contracts::InboundNotifications`] impls, dispatching on the protocol: convert →
//!   sign and send → classify → convert back.
//! - `config.rs`: [`Config`] (serde, secrets redacted) and [`Config::validate`] for both
//!   protocols.
//! - eCollection: `client.rs` (sealing, the HTTP call, the bounded read, opening the
//!   answer), `wire.rs` (request and answer shapes as BNI spells them), `convert.rs`
//!   (contracts ⇄ wire, `va_status` to a state, unknown stays pending), `signature.rs`
//!   (the BniEnc cipher and pure-ASCII JSON, with the known-answer tests), `webhook.rs`
//!   (callback verification, parsing and acknowledgement), `error.rs` (the private errors
//!   and BNI's status-code table).
//! - SNAP: `snap.rs` (the number layout, the VA services and their codes per operation),
//!   `snap_webhook.rs` (token endpoint, payment and inquiry verification and parsing, the
//!   SNAP acknowledgements).

mod client;
mod config;
mod convert;
mod error;
mod signature;
mod snap;
mod snap_webhook;
mod webhook;
mod wire;

#[cfg(test)]
mod adapter_tests;
#[cfg(test)]
mod snap_tests;

use std::sync::Arc;

use async_trait::async_trait;
use contracts::inbound::{
    AckOutcome, Inbound, InboundRequest, InboundResponse, Notification, Trust,
};
use contracts::va::{
    CreateVa, IssuedVa, Numbering, PaymentRule, UpdateVa, VaHandle, VaStatusReport,
};
use contracts::{Capabilities, ErrorKind, InboundNotifications, ProviderError, VirtualAccounts};
use time::OffsetDateTime;

pub use config::{BillingType, Bills, Config, ConfigError, Protocol};

use client::Client;
use error::{CallbackError, Error, Operation};
use snap::SnapBni;

/// One BNI client, ready to call BNI and to read its callbacks.
pub struct Bni {
    config: Config,
    mode: Mode,
}

/// The protocol-specific half of an instance.
enum Mode {
    Ecollection(Client),
    Snap(Box<SnapBni>),
}

impl std::fmt::Debug for Bni {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bni")
            .field("base_url", &self.config.base_url.as_str())
            .field("client_id", &self.config.client_id)
            .field("protocol", &self.config.protocol)
            .field("billing_type", &self.config.billing_type)
            .finish_non_exhaustive()
    }
}

impl Bni {
    /// Builds the adapter on the gateway's `http` client (redirects disabled). No I/O.
    /// Validates the configuration and, in SNAP mode, parses the keys.
    pub fn new(config: Config, http: reqwest::Client) -> Result<Bni, ConfigError> {
        config.validate()?;
        let mode = match config.protocol {
            Protocol::Ecollection => Mode::Ecollection(Client::new(&config, http)),
            Protocol::Snap => Mode::Snap(Box::new(SnapBni::new(&config, http)?)),
        };
        Ok(Bni { config, mode })
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

    /// [`InboundNotifications::verify_and_parse`] of an eCollection callback, with the
    /// clock as a parameter.
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
    async fn va_number_of(
        &self,
        client: &Client,
        handle: &VaHandle,
    ) -> Result<String, ProviderError> {
        if let Some(number) = handle.va_number.as_ref().filter(|n| !n.is_empty()) {
            return Ok(number.clone());
        }
        self.inquire_billing(client, handle)
            .await?
            .va_number
            .ok_or_else(|| Error::Malformed("inquiry answer without a VA number").into())
    }

    async fn create_billing(
        &self,
        client: &Client,
        request: &CreateVa,
    ) -> Result<IssuedVa, ProviderError> {
        let billing = convert::create_billing(request, &self.config)?;
        let result = client.call(Operation::Create, &billing).await?;
        Ok(convert::issued_va(
            result,
            &request.reference,
            &self.config.bank,
        )?)
    }

    async fn update_billing(
        &self,
        client: &Client,
        request: &UpdateVa,
    ) -> Result<(), ProviderError> {
        let billing = convert::update_billing(request, &self.config)?;
        let data = client.send(Operation::Update, &billing).await?;
        Ok(check_echo(data.as_deref(), &request.handle)?)
    }

    async fn cancel_billing(
        &self,
        client: &Client,
        handle: &VaHandle,
    ) -> Result<(), ProviderError> {
        let va_number = self.va_number_of(client, handle).await?;
        let billing = convert::inactive_billing(handle, &va_number, &self.config);
        let data = client.send(Operation::Cancel, &billing).await?;
        Ok(check_echo(data.as_deref(), handle)?)
    }

    async fn inquire_billing(
        &self,
        client: &Client,
        handle: &VaHandle,
    ) -> Result<VaStatusReport, ProviderError> {
        let billing = convert::inquiry_billing(handle, &self.config);
        let inquiry = client.call(Operation::Inquire, &billing).await?;
        let now = OffsetDateTime::now_utc();
        Ok(convert::status_report(
            inquiry,
            &handle.reference,
            &self.config.client_id,
            now,
        )?)
    }
}

#[async_trait]
impl VirtualAccounts for Bni {
    async fn create(&self, request: &CreateVa) -> Result<IssuedVa, ProviderError> {
        match &self.mode {
            Mode::Ecollection(client) => self.create_billing(client, request).await,
            Mode::Snap(snap) => snap.create(request).await,
        }
    }

    async fn update(&self, request: &UpdateVa) -> Result<(), ProviderError> {
        match &self.mode {
            Mode::Ecollection(client) => self.update_billing(client, request).await,
            Mode::Snap(snap) => snap.update(request).await,
        }
    }

    async fn cancel(&self, handle: &VaHandle) -> Result<(), ProviderError> {
        match &self.mode {
            Mode::Ecollection(client) => self.cancel_billing(client, handle).await,
            Mode::Snap(snap) => snap.cancel(handle).await,
        }
    }

    async fn inquire(&self, handle: &VaHandle) -> Result<VaStatusReport, ProviderError> {
        match &self.mode {
            Mode::Ecollection(client) => self.inquire_billing(client, handle).await,
            Mode::Snap(snap) => snap.inquire(handle).await,
        }
    }

    fn supports_rule(&self, rule: PaymentRule) -> bool {
        match &self.mode {
            Mode::Ecollection(_) => convert::billing_type(rule, self.config.billing_type).is_ok(),
            Mode::Snap(_) => rule == PaymentRule::Exact,
        }
    }

    fn numbering(&self) -> Numbering {
        match &self.mode {
            Mode::Ecollection(_) => Numbering::Provider,
            Mode::Snap(snap) => snap.numbering(),
        }
    }

    /// SNAP: `partner_service_id` + the serial zero-padded to `customer_no_digits`.
    fn va_number_for(&self, serial: u64) -> Option<String> {
        match &self.mode {
            Mode::Ecollection(_) => None,
            Mode::Snap(snap) => snap.va_number_for(serial),
        }
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
    /// eCollection: strong by default, the body is encrypted with our secret and
    /// time-stamped; with `confirm_callbacks`, callbacks are hints confirmed by inquiry
    /// (A.4.4 d), since the cipher is not a MAC. SNAP: strong, a timestamped HMAC or RSA
    /// signature over the body (B.3).
    fn trust(&self) -> Trust {
        match &self.mode {
            Mode::Ecollection(_) if self.config.confirm_callbacks => Trust::ConfirmByInquiry,
            Mode::Ecollection(_) | Mode::Snap(_) => Trust::Strong,
        }
    }

    /// eCollection callbacks arrive at the callback root; SNAP requests by endpoint
    /// (`snap_webhook.rs`). Anything else is refused.
    async fn verify_and_parse(&self, request: &InboundRequest) -> Result<Inbound, ProviderError> {
        match &self.mode {
            Mode::Ecollection(_) if request.sub_path.trim_matches('/').is_empty() => {
                self.verify_at(request, OffsetDateTime::now_utc().unix_timestamp())
            }
            Mode::Ecollection(_) => Err(ProviderError::new(
                ErrorKind::Rejected,
                "BNI eCollection callbacks arrive at the callback root only",
            )),
            Mode::Snap(snap) => snap.verify_and_parse(request),
        }
    }

    /// eCollection: `Accepted` → HTTP 200 `{"status":"000"}` (A.5). Rejections → HTTP 400
    /// with BNI's sample failure body `{"status":"999","message":…}`; BNI reads the body
    /// `status`, the HTTP code is ours. `RetryLater` → HTTP 503 `{"status":"997",…}`.
    /// SNAP: the answers of B.4 with the service code of the endpoint called
    /// (`snap_webhook::acknowledge`).
    fn acknowledge(&self, request: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
        match &self.mode {
            Mode::Ecollection(_) => webhook::acknowledge(outcome),
            Mode::Snap(snap) => snap_webhook::acknowledge(&snap.layout, request, outcome),
        }
    }
}
