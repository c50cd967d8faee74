//! WhatsApp adapter: template messages and copy-code OTPs through Meta's WhatsApp Business
//! Platform Cloud API (Graph API), and the delivery-status webhooks Meta posts back.
//!
//! Written to the project's protocol reference `astrapay-privyid-whatsapp.md` section 3;
//! section numbers in comments (3.2, 3.6, …) are that document's.
//!
//! What it covers:
//! - [`contracts::Messaging`]: `send_template` posts a template message (3.2) with the
//!   body parameters in order (`components: []` without any); `send_otp` posts an
//!   authentication template whose body carries the code and whose copy-code button
//!   (`sub_type "url"`, `index "0"`) carries the same code. The answer's `messages[0].id`
//!   (`wamid.…`, 3.3) is the [`contracts::messaging::SentMessage`] reference. Graph errors
//!   (3.4) map by code: rate limits are `RateLimited`, auth failures `Unauthorized`,
//!   undeliverable recipients and template problems `Rejected`, explicit outages
//!   `Unavailable`; unknown and 5xx errors and timeouts after sending are `Timeout`, since
//!   every send costs money and delivers another message.
//! - [`contracts::InboundNotifications`] (trust [`contracts::inbound::Trust::Strong`]):
//!   the `GET` subscription handshake on the callback root (3.5, verify token compared in
//!   constant time, challenge echoed as plain text), and `POST` deliveries verified by
//!   `X-Hub-Signature-256` (HMAC-SHA256 with the App Secret over the raw body, 3.6), each
//!   `statuses[]` object with status `sent`, `delivered`, `read` or `failed` becoming one
//!   [`contracts::inbound::EventKind::MessageStatus`] (3.7), keyed `"<wamid>:<status>"`.
//!
//! Not supported: free-form (session) messages, media, named template parameters, header
//! and quick-reply components, `biz_opaque_callback_data`, mark-as-read (3.2a), and inbound
//! user messages (acknowledged, no events). Statuses other than the four above (`played`,
//! …) and `value.errors[]` without a message are acknowledged and not applied. Recipients
//! must be in international format (a national `0…` number is refused, not guessed).
//!
//! # Layout
//! - `lib.rs`: [`WhatsApp`] and its contracts impls; each send is convert → send →
//!   classify → convert back.
//! - `config.rs`: [`Config`], [`ConfigError`] and `validate`.
//! - `client.rs`: the messages endpoint, Bearer auth, deadline, capped read, first
//!   classification.
//! - `wire.rs`: request, answer, error and webhook bodies as the Cloud API spells them.
//! - `convert.rs`: recipients, template and OTP bodies, the status table.
//! - `signature.rs`: `X-Hub-Signature-256`, with the 3.6 known-answer vectors.
//! - `webhook.rs`: handshake, delivery verify / parse / acknowledge.
//! - `error.rs`: the private error and the Graph code table → [`contracts::ErrorKind`].
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

use async_trait::async_trait;
use contracts::inbound::{AckOutcome, Inbound, InboundRequest, InboundResponse, Trust};
use contracts::messaging::{OtpMessage, SentMessage, TemplateMessage};
use contracts::{Capabilities, InboundNotifications, Messaging, ProviderError};

pub use config::{Config, ConfigError};

use client::Client;
use error::Error;
use webhook::Secrets;

/// One WhatsApp Business phone number: sends templates and OTPs and reads Meta's
/// delivery-status webhooks.
pub struct WhatsApp {
    client: Client,
    secrets: Secrets,
}

impl std::fmt::Debug for WhatsApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsApp")
            .field("messages_url", &self.client.messages_url().as_str())
            .finish_non_exhaustive()
    }
}

impl WhatsApp {
    /// Builds the adapter from `config` on the gateway's `http` client. Validates; no I/O,
    /// no spawned tasks.
    pub fn new(config: Config, http: reqwest::Client) -> Result<WhatsApp, ConfigError> {
        config.validate()?;
        Ok(WhatsApp {
            client: Client::new(&config, http),
            secrets: Secrets {
                app_secret: config.app_secret,
                verify_token: config.verify_token,
            },
        })
    }

    /// What this instance offers: messaging and inbound notifications, one shared adapter.
    pub fn capabilities(self) -> Capabilities {
        let adapter = Arc::new(self);
        Capabilities {
            messaging: Some(adapter.clone()),
            inbound: Some(adapter),
            ..Capabilities::default()
        }
    }

    /// Sends a built body and reads the `wamid`; logs neither recipient nor content.
    async fn deliver<B: serde::Serialize + Sync>(
        &self,
        kind: &'static str,
        body: &B,
    ) -> Result<SentMessage, ProviderError> {
        let result = self.client.send(body).await.and_then(convert::sent);
        result.map_err(|err: Error| {
            let err = ProviderError::from(err);
            tracing::warn!(
                message_kind = kind,
                kind = err.kind.as_str(),
                code = err.provider_code.as_deref().unwrap_or(""),
                error = %err,
                "whatsapp send failed"
            );
            err
        })
    }
}

#[async_trait]
impl Messaging for WhatsApp {
    async fn send_template(&self, message: &TemplateMessage) -> Result<SentMessage, ProviderError> {
        let body = convert::template(message)?;
        self.deliver("template", &body).await
    }

    async fn send_otp(&self, message: &OtpMessage) -> Result<SentMessage, ProviderError> {
        let body = convert::otp(message)?;
        self.deliver("otp", &body).await
    }
}

#[async_trait]
impl InboundNotifications for WhatsApp {
    /// Strong: an HMAC over the raw body with the App Secret (3.6).
    fn trust(&self) -> Trust {
        Trust::Strong
    }

    async fn verify_and_parse(&self, request: &InboundRequest) -> Result<Inbound, ProviderError> {
        webhook::verify_and_parse(&self.secrets, request)
    }

    fn acknowledge(&self, request: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
        webhook::acknowledge(request, outcome)
    }
}
