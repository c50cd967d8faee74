//! Payments: e-wallet direct debit, hosted checkout and QRIS. Creating a payment returns
//! what the customer must do next (a redirect, a deeplink or a QR string).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{Amount, Customer, OurReference, ProviderError, ProviderReference};

/// A request to start a payment.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CreatePayment {
    /// Our reference (the payment's gateway id).
    pub reference: OurReference,
    /// The amount to charge.
    pub amount: Amount,
    /// The method as the unified API names it (`astrapay`, `doku_checkout`, `qris`).
    pub method: String,
    /// Who pays.
    pub customer: Customer,
    /// Where to send the customer afterwards.
    pub return_url: Option<String>,
    /// When the payment stops being payable. Adapters clamp it into the provider's allowed
    /// range and report the effective expiry in [`StartedPayment::expires_at`].
    pub expires_at: OffsetDateTime,
    /// What is being paid for, shown to the payer where the provider supports it.
    pub description: Option<String>,
}

impl CreatePayment {
    /// A payment request.
    pub fn new(
        reference: OurReference,
        amount: Amount,
        method: impl Into<String>,
        customer: Customer,
        return_url: Option<String>,
        expires_at: OffsetDateTime,
    ) -> Self {
        CreatePayment {
            reference,
            amount,
            method: method.into(),
            customer,
            return_url,
            expires_at,
            description: None,
        }
    }

    /// Sets the description.
    pub fn with_description(mut self, description: Option<String>) -> Self {
        self.description = description;
        self
    }
}

/// What the customer must do to pay.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaymentAction {
    /// Open this URL in a browser.
    Redirect {
        /// The URL.
        url: String,
    },
    /// Open this app link.
    Deeplink {
        /// The link.
        url: String,
    },
    /// Show this QRIS payload as a QR code.
    Qr {
        /// The EMVCo QR string.
        qr_string: String,
    },
}

/// A started payment.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StartedPayment {
    /// The provider's id.
    pub provider_reference: Option<ProviderReference>,
    /// What the customer does next.
    pub action: PaymentAction,
    /// When the provider stops accepting it, when that differs from what was asked.
    pub expires_at: Option<OffsetDateTime>,
}

impl StartedPayment {
    /// A started payment.
    pub fn new(provider_reference: Option<ProviderReference>, action: PaymentAction) -> Self {
        StartedPayment {
            provider_reference,
            action,
            expires_at: None,
        }
    }

    /// Sets the effective expiry.
    pub fn with_expires_at(mut self, expires_at: Option<OffsetDateTime>) -> Self {
        self.expires_at = expires_at;
        self
    }
}

/// The provider's view of a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderPaymentState {
    /// Not yet paid (or still processing).
    Pending,
    /// Paid.
    Paid,
    /// Explicitly failed.
    Failed,
    /// Expired unpaid.
    Expired,
    /// Fully refunded.
    Refunded,
    /// Partly refunded.
    PartiallyRefunded,
    /// A code we do not know: never final.
    Unknown,
}

/// Identifies a payment at its provider.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PaymentHandle {
    /// Our reference.
    pub reference: OurReference,
    /// The provider's id, when known.
    pub provider_reference: Option<ProviderReference>,
    /// The method.
    pub method: String,
    /// The charged amount.
    pub amount: Amount,
}

impl PaymentHandle {
    /// A handle.
    pub fn new(
        reference: OurReference,
        provider_reference: Option<ProviderReference>,
        method: impl Into<String>,
        amount: Amount,
    ) -> Self {
        PaymentHandle {
            reference,
            provider_reference,
            method: method.into(),
            amount,
        }
    }
}

/// The answer to a payment status query.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PaymentStatusReport {
    /// The provider's view.
    pub state: ProviderPaymentState,
    /// Amount paid, when reported.
    pub paid_amount: Option<Amount>,
    /// When paid, when reported.
    pub paid_at: Option<OffsetDateTime>,
    /// Total refunded so far, when reported.
    pub refunded_amount: Option<Amount>,
    /// The provider's id, when reported.
    pub provider_reference: Option<ProviderReference>,
    /// The raw provider code, for operators.
    pub provider_status: String,
}

impl PaymentStatusReport {
    /// A report.
    pub fn new(state: ProviderPaymentState, provider_status: impl Into<String>) -> Self {
        PaymentStatusReport {
            state,
            paid_amount: None,
            paid_at: None,
            refunded_amount: None,
            provider_reference: None,
            provider_status: provider_status.into(),
        }
    }
}

/// A refund request. `reference` is our refund id, sent so a timed-out refund can be
/// looked up rather than sent twice.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RefundRequest {
    /// The payment.
    pub payment: PaymentHandle,
    /// Our refund reference.
    pub reference: OurReference,
    /// How much to give back.
    pub amount: Amount,
    /// Why, as the product said.
    pub reason: String,
}

impl RefundRequest {
    /// A refund request.
    pub fn new(
        payment: PaymentHandle,
        reference: OurReference,
        amount: Amount,
        reason: impl Into<String>,
    ) -> Self {
        RefundRequest {
            payment,
            reference,
            amount,
            reason: reason.into(),
        }
    }
}

/// Where a refund stands at the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundState {
    /// Done: the money is on its way back.
    Succeeded,
    /// Accepted, final state later (a status query shows it).
    Pending,
}

/// The result of a refund.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefundOutcome {
    /// Where it stands.
    pub state: RefundState,
    /// The provider's id for the refund, when it gave one.
    pub provider_reference: Option<ProviderReference>,
}

impl RefundOutcome {
    /// An outcome.
    pub fn new(state: RefundState, provider_reference: Option<ProviderReference>) -> Self {
        RefundOutcome {
            state,
            provider_reference,
        }
    }
}

/// Take payments at one provider instance.
#[async_trait]
pub trait Payments: Send + Sync + std::fmt::Debug {
    /// The unified-API method names this instance serves.
    fn methods(&self) -> &[&'static str];

    /// Whether payments of `method` can be refunded through this instance; when not,
    /// [`Payments::refund`] answers [`crate::ErrorKind::NotSupported`].
    fn refunds(&self, method: &str) -> bool;

    /// Starts a payment.
    async fn create(&self, request: &CreatePayment) -> Result<StartedPayment, ProviderError>;

    /// Asks for a payment's status.
    async fn status(&self, handle: &PaymentHandle) -> Result<PaymentStatusReport, ProviderError>;

    /// Refunds all or part of a paid payment. Money-moving: never retried blindly.
    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError>;
}
