//! The virtual-account capability: issue a VA for a bill, change it while unpaid, cancel
//! it, and ask the provider what it knows about it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Amount, Customer, OurReference, ProviderError, ProviderReference};

/// How a VA accepts payments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentRule {
    /// Exactly the billed amount, once (BNI `c`).
    Exact,
    /// Several payments until the cumulative total reaches the billed amount (BNI `i`).
    Partial,
}

/// A request to issue a virtual account.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CreateVa {
    /// Our reference: the VA's gateway id, sent as the provider's merchant-side id.
    pub reference: OurReference,
    /// The billed amount.
    pub amount: Amount,
    /// Who pays.
    pub customer: Customer,
    /// When the VA stops accepting payments.
    pub expires_at: OffsetDateTime,
    /// Free text shown to the payer where the provider supports it.
    pub description: Option<String>,
    /// How payments are accepted (an adapter that supports only one rule says so).
    pub rule: PaymentRule,
    /// The serial the gateway allocated, for adapters whose [`VirtualAccounts::numbering`]
    /// has one: unique per provider instance, below `10^digits`.
    pub serial: Option<u64>,
}

impl CreateVa {
    /// A request for an exact-amount VA.
    pub fn new(
        reference: OurReference,
        amount: Amount,
        customer: Customer,
        expires_at: OffsetDateTime,
    ) -> Self {
        CreateVa {
            reference,
            amount,
            customer,
            expires_at,
            description: None,
            rule: PaymentRule::Exact,
            serial: None,
        }
    }

    /// Sets the gateway-allocated serial.
    pub fn with_serial(mut self, serial: Option<u64>) -> Self {
        self.serial = serial;
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, description: Option<String>) -> Self {
        self.description = description;
        self
    }

    /// Sets the payment rule.
    pub fn with_rule(mut self, rule: PaymentRule) -> Self {
        self.rule = rule;
        self
    }
}

/// What the provider issued.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedVa {
    /// The number the customer pays to.
    pub va_number: String,
    /// The bank the VA lives at (`"BNI"`, `"BCA"`, …).
    pub bank: String,
    /// The provider's id for the VA, when it has one (NICEPAY `tXid`).
    pub provider_reference: Option<ProviderReference>,
}

impl IssuedVa {
    /// An issued VA.
    pub fn new(
        va_number: String,
        bank: String,
        provider_reference: Option<ProviderReference>,
    ) -> Self {
        IssuedVa {
            va_number,
            bank,
            provider_reference,
        }
    }
}

/// Identifies an issued VA at its provider, with what each provider needs to find it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VaHandle {
    /// Our reference.
    pub reference: OurReference,
    /// The provider's id, when the provider gave one at creation.
    pub provider_reference: Option<ProviderReference>,
    /// The VA number, when known.
    pub va_number: Option<String>,
    /// The billed amount (some providers sign it into every request).
    pub amount: Amount,
}

impl VaHandle {
    /// A handle for a VA.
    pub fn new(
        reference: OurReference,
        provider_reference: Option<ProviderReference>,
        va_number: Option<String>,
        amount: Amount,
    ) -> Self {
        VaHandle {
            reference,
            provider_reference,
            va_number,
            amount,
        }
    }
}

/// A change to an unpaid VA. Providers that blank omitted fields get every field again.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct UpdateVa {
    /// Which VA.
    pub handle: VaHandle,
    /// The new billed amount.
    pub amount: Amount,
    /// The new expiry.
    pub expires_at: OffsetDateTime,
    /// The customer, unchanged or not.
    pub customer: Customer,
    /// The description, unchanged or not.
    pub description: Option<String>,
}

impl UpdateVa {
    /// An update request.
    pub fn new(
        handle: VaHandle,
        amount: Amount,
        expires_at: OffsetDateTime,
        customer: Customer,
        description: Option<String>,
    ) -> Self {
        UpdateVa {
            handle,
            amount,
            expires_at,
            customer,
            description,
        }
    }
}

/// What the provider says about a VA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderVaState {
    /// Open for payment.
    Active,
    /// Paid in full.
    Paid,
    /// Past its expiry.
    Expired,
    /// Deactivated on request.
    Cancelled,
    /// Closed, but the provider does not say why (BNI `va_status` 2 without a payment).
    Inactive,
    /// A code we do not know: never final, resolve later.
    Unknown,
}

/// The answer to a status inquiry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VaStatusReport {
    /// The provider's view of the VA.
    pub state: ProviderVaState,
    /// Total paid so far, when the provider reports it.
    pub paid_amount: Option<Amount>,
    /// The provider's reference of the (last) payment, when paid.
    pub payment_reference: Option<String>,
    /// When it was (last) paid.
    pub paid_at: Option<OffsetDateTime>,
    /// The VA number, when reported.
    pub va_number: Option<String>,
    /// The provider's id, when reported.
    pub provider_reference: Option<ProviderReference>,
    /// The bank the VA lives at, when the provider says.
    pub bank: Option<String>,
    /// The raw provider status code, for operators.
    pub provider_status: String,
}

impl VaStatusReport {
    /// A report with only the state and the raw code filled.
    pub fn new(state: ProviderVaState, provider_status: impl Into<String>) -> Self {
        VaStatusReport {
            state,
            paid_amount: None,
            payment_reference: None,
            paid_at: None,
            va_number: None,
            provider_reference: None,
            bank: None,
            provider_status: provider_status.into(),
        }
    }
}

/// Who assigns VA numbers, and who holds the bill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Numbering {
    /// The provider assigns the number and holds the bill.
    Provider,
    /// The gateway allocates a serial of at most `digits` digits ([`CreateVa::serial`]),
    /// the adapter turns it into the number it sends (SNAP `customerNo`), and the provider
    /// holds the bill: create, update and cancel are still calls to the provider.
    Serial {
        /// How many digits the serial may have.
        digits: u8,
    },
    /// The gateway allocates the serial as for [`Numbering::Serial`] and holds the bill
    /// itself: create, update and cancel call no one, the bank asks the gateway what a
    /// number owes and whether to accept a payment (SNAP host-to-host inquiry and payment),
    /// and the gateway answers from its own store.
    HostToHost {
        /// How many digits the serial may have.
        digits: u8,
    },
}

impl Numbering {
    /// The serial's digit count, when the gateway allocates numbers.
    pub fn serial_digits(self) -> Option<u8> {
        match self {
            Numbering::Provider => None,
            Numbering::Serial { digits } | Numbering::HostToHost { digits } => Some(digits),
        }
    }
}

/// Issue and manage virtual accounts at one provider instance.
///
/// `create` moves no money but must still be safe after a timeout: the adapter sends our
/// reference, and [`VirtualAccounts::inquire`] by that reference tells whether the VA
/// exists. An inquiry for a reference the provider never saw answers
/// [`crate::ErrorKind::NotFound`].
#[async_trait]
pub trait VirtualAccounts: Send + Sync + std::fmt::Debug {
    /// Issues a VA.
    async fn create(&self, request: &CreateVa) -> Result<IssuedVa, ProviderError>;

    /// Changes the amount and/or expiry of an unpaid VA.
    async fn update(&self, request: &UpdateVa) -> Result<(), ProviderError>;

    /// Deactivates an unpaid VA.
    async fn cancel(&self, handle: &VaHandle) -> Result<(), ProviderError>;

    /// Asks the provider for the VA's current state.
    async fn inquire(&self, handle: &VaHandle) -> Result<VaStatusReport, ProviderError>;

    /// Whether the adapter can honour `rule`.
    fn supports_rule(&self, rule: PaymentRule) -> bool {
        rule == PaymentRule::Exact
    }

    /// Who assigns numbers, and who holds the bill.
    fn numbering(&self) -> Numbering {
        Numbering::Provider
    }

    /// The VA number `serial` becomes, for adapters whose [`VirtualAccounts::numbering`]
    /// has a serial: pure formatting, so the gateway records the number before it calls
    /// the provider (and can ask about it after a timeout).
    fn va_number_for(&self, serial: u64) -> Option<String> {
        let _ = serial;
        None
    }
}
