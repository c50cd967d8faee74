//! DOKU adapter: virtual accounts through DOKU's SNAP BI API, hosted payments through the
//! non-SNAP DOKU Checkout API, and the notifications DOKU posts for both.
//!
//! Written to the project's protocol reference `providers/nicepay-and-doku.md` part 2
//! (section numbers in comments: 2.3, 2.11.4, …), which follows developers.doku.com and
//! DOKU's official SDKs (`doku-python-library` 1.1.72 for SNAP, the Jokul libraries and
//! plugins for non-SNAP), and to `bni-and-snap.md` part B for the generic SNAP rules. The
//! SNAP signing, token cache and token endpoint are [`adapter_snap`]'s.
//!
//! What it covers:
//! - [`contracts::VirtualAccounts`] over SNAP (2.11): `create` (create-va, svc 27),
//!   `update` (update-va, svc 28, kept `ACTIVE`), `cancel` (delete-va, svc 31) and
//!   `inquire` (check status, svc 26). Closed VAs only ([`contracts::va::PaymentRule::Exact`],
//!   `virtualAccountTrxType` `C`, not reusable). Numbers are the gateway's:
//!   [`contracts::va::Numbering::Serial`], `customerNo` = the serial zero-padded to
//!   `customer_no_digits`, and the VA number = `partner_service_id` + `customerNo`
//!   (`8129000000000001`). Update, cancel and inquire find the VA by that number, so the
//!   handle must carry it (or the bare serial).
//! - [`contracts::Payments`], method `doku_checkout` (2.5, 2.6): a hosted checkout page;
//!   `create` answers a redirect to `response.payment.url`. Our reference is both the
//!   invoice number and the `Request-Id`, so a resend after a timeout is DOKU-idempotent
//!   (2.9).
//! - [`contracts::InboundNotifications`] (trust [`contracts::inbound::Trust::Strong`]): DOKU's
//!   B2B token request and SNAP VA payment notification (2.11.7), and the non-SNAP HTTP
//!   notification of Checkout payments (2.7); see `webhook.rs` for which path is which.
//!
//! Not supported: **refunds** — the protocol reference documents no DOKU refund API, so
//! [`contracts::Payments::refund`] answers `NotSupported`. Also out of scope: DOKU's
//! non-SNAP VA API (2.4), open / DOKU `V` VAs and min/max amounts, reusable VAs, DOKU-generated
//! numbers, SNAP direct inquiry (DOKU asking the gateway what a VA owes), line items and
//! the VA description (`freeTexts`, whose limits DOKU does not publish).
//!
//! # Layout
//! - `lib.rs`: [`Doku`] and its contracts impls; each call is convert → sign and send →
//!   classify → convert back.
//! - `config.rs`: [`Config`], [`ConfigError`] and `validate`.
//! - `client.rs`: the non-SNAP Checkout HTTP plumbing (signed headers, capped read).
//! - `wire.rs`: Checkout and SNAP VA bodies, spelled as DOKU spells them.
//! - `convert.rs`: contracts ⇄ wire, the VA identity, the status tables.
//! - `signature.rs`: the non-SNAP `HMACSHA256=` signature, with the 2.3 worked examples.
//! - `webhook.rs`: inbound routing, verification, parsing and acknowledgements.
//! - `error.rs`: the private Checkout error and both code tables → [`contracts::ErrorKind`].
#![deny(missing_docs)]

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

use adapter_snap::client::{Answer, ClientConfig, ServiceCall, SnapClient};
use adapter_snap::inbound::{InboundConfig, NotifyAuth, SnapInbound, TokenAnswer};
use async_trait::async_trait;
use contracts::inbound::{
    AckOutcome, Inbound, InboundRequest, InboundResponse, Notification, Trust,
};
use contracts::payment::{
    CreatePayment, PaymentHandle, PaymentStatusReport, RefundOutcome, RefundRequest, StartedPayment,
};
use contracts::va::{
    CreateVa, IssuedVa, Numbering, PaymentRule, UpdateVa, VaHandle, VaStatusReport,
};
use contracts::{
    Capabilities, ErrorKind, InboundNotifications, Payments, ProviderError, VirtualAccounts,
};
use serde::Serialize;
use time::OffsetDateTime;

pub use config::{Config, ConfigError, VA_CHANNELS};

use client::{CHECKOUT_PATH, CheckoutClient, STATUS_PATH, Signed};
use error::{CheckoutOp, Error, SnapOp, snap_error};
use webhook::Route;

/// The unified-API method this adapter serves.
pub const METHOD_CHECKOUT: &str = "doku_checkout";

/// SNAP token path (2.11.1).
const TOKEN_PATH: &str = "/authorization/v1/access-token/b2b";
/// SNAP VA service paths (2.11.1).
const CREATE_VA_PATH: &str = "/virtual-accounts/bi-snap-va/v1.1/transfer-va/create-va";
const UPDATE_VA_PATH: &str = "/virtual-accounts/bi-snap-va/v1.1/transfer-va/update-va";
const DELETE_VA_PATH: &str = "/virtual-accounts/bi-snap-va/v1.1/transfer-va/delete-va";
const STATUS_VA_PATH: &str = "/orders/v1.0/transfer-va/status";

/// How long our tokens for DOKU live, and how far DOKU's `X-TIMESTAMP` may be off.
const TOKEN_TTL: Duration = Duration::from_secs(900);
const MAX_SKEW: Duration = Duration::from_secs(300);

/// One DOKU merchant: issues SNAP VAs, starts Checkout payments, reads DOKU's notifications.
pub struct Doku {
    config: Config,
    snap: SnapClient,
    inbound: SnapInbound,
    checkout: CheckoutClient,
}

impl std::fmt::Debug for Doku {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doku")
            .field("base_url", &self.config.base_url.as_str())
            .field("client_id", &self.config.client_id)
            .field("partner_service_id", &self.config.partner_service_id)
            .field("va_channel", &self.config.va_channel)
            .finish_non_exhaustive()
    }
}

impl Doku {
    /// Builds the adapter from a validated `config` on the gateway's `http` client (which
    /// should not follow redirects): parses the keys, no I/O, no spawned tasks.
    pub fn new(config: Config, http: reqwest::Client) -> Result<Doku, ConfigError> {
        config.validate()?;
        let timeout = Duration::from_millis(config.request_timeout_ms);
        let snap = SnapClient::new(
            ClientConfig {
                base_url: config.base_url.clone(),
                token_path: TOKEN_PATH.to_owned(),
                client_key: config.client_id.clone(),
                partner_id: config.client_id.clone(),
                client_secret: config.secret_key.clone(),
                private_key_pem: config.private_key.clone(),
                timestamp_style: config.timestamp_style,
                timeout,
            },
            http.clone(),
        )
        .map_err(|err| ConfigError::Snap(err.to_string()))?;
        let inbound = SnapInbound::new(InboundConfig {
            client_key: config.client_id.clone(),
            partner_id: None,
            client_secret: config.secret_key.clone(),
            provider_public_key_pem: config.doku_public_key.clone(),
            auth: NotifyAuth::Symmetric,
            token_answer: TokenAnswer::Doku,
            token_ttl: TOKEN_TTL,
            max_skew: MAX_SKEW,
        })
        .map_err(|err| ConfigError::Snap(err.to_string()))?;
        let checkout = CheckoutClient::new(
            http,
            config.base_url.clone(),
            config.client_id.clone(),
            config.secret_key.clone(),
            timeout,
        );
        Ok(Doku {
            config,
            snap,
            inbound,
            checkout,
        })
    }

    /// What this instance offers: virtual accounts, Checkout payments and inbound
    /// notifications, one shared adapter.
    pub fn capabilities(self) -> Capabilities {
        let adapter = Arc::new(self);
        Capabilities {
            virtual_accounts: Some(adapter.clone()),
            payments: Some(adapter.clone()),
            inbound: Some(adapter),
            ..Capabilities::default()
        }
    }

    /// One SNAP VA call with `body`, answered with a readable `responseCode`.
    async fn snap_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &impl Serialize,
    ) -> Result<Answer, ProviderError> {
        let body = serde_json::to_value(body).map_err(|_| {
            ProviderError::new(ErrorKind::Rejected, "the request body cannot be encoded")
        })?;
        self.snap
            .call(&ServiceCall {
                method,
                path,
                channel_id: &self.config.channel_id,
                body: &body,
                headers: &[],
            })
            .await
    }

    /// The Checkout status answer for `handle` (2.6).
    async fn checkout_status(&self, handle: &PaymentHandle) -> Result<PaymentStatusReport, Error> {
        let mut segments = STATUS_PATH.to_vec();
        segments.push(handle.reference.as_str());
        let request_id = client::request_id();
        let reply = self
            .checkout
            .send(Signed {
                method: reqwest::Method::GET,
                url: self.checkout.url(&segments),
                request_id: &request_id,
                body: None,
                now: OffsetDateTime::now_utc(),
            })
            .await?;
        let answer = client::decode(CheckoutOp::Status, &reply, &[])?;
        convert::payment_report(&handle.reference, answer)
    }

    /// Starts a Checkout payment (2.5) and reads the answer, a 409 replay included (2.9).
    async fn checkout_create(&self, request: &CreatePayment) -> Result<StartedPayment, Error> {
        let now = OffsetDateTime::now_utc();
        let body = convert::checkout_request(&self.config, request, now)?;
        let bytes =
            serde_json::to_vec(&body).map_err(|_| Error::Request("the body cannot be encoded"))?;
        let reply = self
            .checkout
            .send(Signed {
                method: reqwest::Method::POST,
                url: self.checkout.url(&CHECKOUT_PATH),
                request_id: request.reference.as_str(),
                body: Some(bytes),
                now,
            })
            .await?;
        let answer = client::decode(CheckoutOp::Create, &reply, &[409])?;
        match convert::started_payment(&request.reference, answer) {
            Err(Error::Refused(_) | Error::Malformed(_)) if reply.status == 409 => {
                Err(client::status_error(CheckoutOp::Create, &reply))
            }
            other => other,
        }
    }
}

/// Accepts `answer` as the success of `op`: its own success code (or another `200` of the
/// same service). `202` (in progress) leaves the outcome open: ambiguous, resolve by
/// inquiry. A success of another service is not an answer to this call.
fn expect_success(op: SnapOp, answer: &Answer) -> Result<(), ProviderError> {
    let code = answer.code;
    if code.http == 200 && code.service == op.service() {
        return Ok(());
    }
    if code.is_in_progress() {
        return Err(ProviderError::with_code(
            ErrorKind::Timeout,
            code.to_string(),
            "DOKU is still processing the request",
        ));
    }
    if code.http / 100 == 2 {
        return Err(ProviderError::with_code(
            ErrorKind::Protocol,
            code.to_string(),
            "DOKU answered a success code of another service",
        ));
    }
    Err(snap_error(op, code, &answer.message))
}

#[async_trait]
impl VirtualAccounts for Doku {
    async fn create(&self, request: &CreateVa) -> Result<IssuedVa, ProviderError> {
        if request.rule != PaymentRule::Exact {
            return Err(ProviderError::not_supported("a partial-payment VA"));
        }
        let identity = convert::identity_for_serial(&self.config, request.serial)?;
        let body = convert::create_body(&self.config, &identity, request)?;
        let answer = self
            .snap_call(reqwest::Method::POST, CREATE_VA_PATH, &body)
            .await?;
        expect_success(SnapOp::Create, &answer)?;
        let data = wire::va_data(&answer.body);
        convert::issued_va(&self.config, &identity, &request.reference, data)
    }

    async fn update(&self, request: &UpdateVa) -> Result<(), ProviderError> {
        let identity = convert::identity_of(&self.config, &request.handle)?;
        let body = convert::update_body(&self.config, &identity, request)?;
        let answer = self
            .snap_call(reqwest::Method::PUT, UPDATE_VA_PATH, &body)
            .await?;
        expect_success(SnapOp::Update, &answer)
    }

    async fn cancel(&self, handle: &VaHandle) -> Result<(), ProviderError> {
        let identity = convert::identity_of(&self.config, handle)?;
        let body = convert::delete_body(&self.config, &identity, handle)?;
        let answer = self
            .snap_call(reqwest::Method::DELETE, DELETE_VA_PATH, &body)
            .await?;
        expect_success(SnapOp::Delete, &answer)
    }

    async fn inquire(&self, handle: &VaHandle) -> Result<VaStatusReport, ProviderError> {
        let identity = convert::identity_of(&self.config, handle)?;
        let body = convert::status_body(&identity);
        let answer = self
            .snap_call(reqwest::Method::POST, STATUS_VA_PATH, &body)
            .await?;
        let code = answer.code;
        if let Some(report) = convert::va_report_from_code(
            &self.config,
            &identity,
            code.http,
            code.case,
            &code.to_string(),
        ) {
            return Ok(report);
        }
        expect_success(SnapOp::Status, &answer)?;
        let data = wire::va_data(&answer.body);
        convert::check_echo(&identity, &handle.reference, &data)?;
        Ok(convert::va_report(
            &self.config,
            &identity,
            handle.amount,
            data,
            &code.to_string(),
        ))
    }

    fn supports_rule(&self, rule: PaymentRule) -> bool {
        rule == PaymentRule::Exact
    }

    fn numbering(&self) -> Numbering {
        Numbering::Serial {
            digits: self.config.customer_no_digits,
        }
    }

    fn va_number_for(&self, serial: u64) -> Option<String> {
        convert::identity_for_serial(&self.config, Some(serial))
            .ok()
            .map(|identity| identity.number())
    }
}

#[async_trait]
impl Payments for Doku {
    fn methods(&self) -> &[&'static str] {
        &[METHOD_CHECKOUT]
    }

    fn refunds(&self, _method: &str) -> bool {
        false
    }

    async fn create(&self, request: &CreatePayment) -> Result<StartedPayment, ProviderError> {
        if request.method != METHOD_CHECKOUT {
            return Err(ProviderError::not_supported(&format!(
                "payment method {:?}",
                request.method
            )));
        }
        Ok(self.checkout_create(request).await?)
    }

    async fn status(&self, handle: &PaymentHandle) -> Result<PaymentStatusReport, ProviderError> {
        Ok(self.checkout_status(handle).await?)
    }

    /// DOKU's refund API is not part of the protocol reference this adapter follows.
    async fn refund(&self, _request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        Err(ProviderError::not_supported("refund"))
    }
}

#[async_trait]
impl InboundNotifications for Doku {
    /// Every DOKU call is signed over its body with a timestamp: SNAP with our token and
    /// HMAC-SHA512, Checkout with HMAC-SHA256.
    fn trust(&self) -> Trust {
        Trust::Strong
    }

    /// Timestamps and tokens are checked against [`InboundRequest::received_at`].
    async fn verify_and_parse(&self, request: &InboundRequest) -> Result<Inbound, ProviderError> {
        match webhook::route(request) {
            Route::Token => Ok(Inbound::Reply(self.inbound.answer_token_request(request))),
            Route::VaPayment => {
                let verified = self
                    .inbound
                    .verify_at(request, request.received_at)
                    .map_err(|rejection| rejection.into_provider_error(webhook::PAYMENT_SERVICE))?;
                let event = webhook::parse_va_payment(&request.body)?;
                Ok(Inbound::Events(
                    Notification::new(vec![event]).with_request_id(Some(verified.external_id)),
                ))
            }
            Route::Checkout => {
                let event = webhook::verify_checkout(&self.config, request)?;
                Ok(Inbound::Events(Notification::new(vec![event])))
            }
            Route::Unknown => Err(ProviderError::new(
                ErrorKind::Rejected,
                "DOKU does not call this path",
            )),
        }
    }

    /// SNAP answers for the SNAP paths (2.11.7), HTTP statuses for Checkout (2.7).
    fn acknowledge(&self, request: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
        match webhook::route(request) {
            Route::Token => webhook::ack_token(outcome),
            Route::VaPayment => webhook::ack_va_payment(request, outcome),
            Route::Checkout => webhook::ack_checkout(request, outcome),
            Route::Unknown => webhook::ack_unknown(),
        }
    }
}
