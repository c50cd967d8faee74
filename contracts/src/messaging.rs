//! Messaging: template messages and OTP delivery (WhatsApp Cloud API). The OTP policy
//! (codes, lifetimes, attempts, caps) belongs to the gateway; an adapter only delivers.

use async_trait::async_trait;

use crate::{ProviderError, ProviderReference};

/// A template message to send. `Debug` hides the recipient and parameters.
#[derive(Clone)]
#[non_exhaustive]
pub struct TemplateMessage {
    /// Recipient, E.164 without `+` or with it, as the provider wants (adapter normalizes).
    pub recipient: String,
    /// Template name registered at the provider.
    pub template: String,
    /// Template language code (`id`, `en_US`).
    pub language: String,
    /// Body parameters, in order.
    pub params: Vec<String>,
}

impl TemplateMessage {
    /// A template message.
    pub fn new(recipient: String, template: String, language: String, params: Vec<String>) -> Self {
        TemplateMessage {
            recipient,
            template,
            language,
            params,
        }
    }
}

impl std::fmt::Debug for TemplateMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateMessage")
            .field("template", &self.template)
            .finish_non_exhaustive()
    }
}

/// An OTP to deliver through an authentication template (code in the body and in the
/// copy-code button). `Debug` hides the code and the recipient.
#[derive(Clone)]
#[non_exhaustive]
pub struct OtpMessage {
    /// Recipient.
    pub recipient: String,
    /// Authentication template name.
    pub template: String,
    /// Template language.
    pub language: String,
    /// The code.
    pub code: String,
}

impl OtpMessage {
    /// An OTP message.
    pub fn new(recipient: String, template: String, language: String, code: String) -> Self {
        OtpMessage {
            recipient,
            template,
            language,
            code,
        }
    }
}

impl std::fmt::Debug for OtpMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtpMessage")
            .field("template", &self.template)
            .finish_non_exhaustive()
    }
}

/// A message accepted by the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentMessage {
    /// The provider's message id (`wamid.…`).
    pub provider_reference: ProviderReference,
}

impl SentMessage {
    /// A sent message.
    pub fn new(provider_reference: ProviderReference) -> Self {
        SentMessage { provider_reference }
    }
}

/// Delivery states, ordered: a message never moves backwards.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Accepted by the provider.
    Sent,
    /// Reached the device.
    Delivered,
    /// Read by the recipient.
    Read,
    /// Could not be delivered.
    Failed,
}

/// Send messages through one provider instance. Delivery-status webhooks are parsed by the
/// same adapter's [`crate::InboundNotifications`].
#[async_trait]
pub trait Messaging: Send + Sync + std::fmt::Debug {
    /// Sends a template message. Not retried after an ambiguous failure: each send costs
    /// money and delivers another message.
    async fn send_template(&self, message: &TemplateMessage) -> Result<SentMessage, ProviderError>;

    /// Sends an OTP through an authentication template.
    async fn send_otp(&self, message: &OtpMessage) -> Result<SentMessage, ProviderError>;
}
