//! Provider-agnostic types and capability traits: the narrow waist of the gateway.
//!
//! The gateway speaks to every provider through the small, object-safe traits defined
//! here; each adapter crate implements the ones its provider offers. Nothing in this crate
//! knows about HTTP servers, databases or configuration formats.
//!
//! # Layout
//! - [`money`]: [`Amount`] (whole rupiah as `i64`).
//! - [`ids`]: newtypes for our references and the provider's.
//! - [`error`]: the one error taxonomy, [`ProviderError`] and [`ErrorKind`].
//! - [`va`]: the virtual-account capability, [`VirtualAccounts`].
//! - [`payment`]: e-wallet / checkout / QRIS payments, [`Payments`].
//! - [`inbound`]: verifying and parsing provider callbacks, [`InboundNotifications`].
//! - [`esign`]: e-signature signers and documents, [`ESignature`].
//! - [`messaging`]: template messages and OTP delivery, [`Messaging`].
//! - [`biller`]: biller host-to-host (PPOB), [`Biller`].
//! - [`Capabilities`]: what one provider instance offers, as trait objects.
#![deny(missing_docs)]

pub mod biller;
pub mod error;
pub mod esign;
pub mod ids;
pub mod inbound;
pub mod messaging;
pub mod money;
pub mod payment;
pub mod va;

use std::sync::Arc;

pub use biller::Biller;
pub use error::{ErrorKind, ProviderError};
pub use esign::ESignature;
pub use ids::{OurReference, ProviderReference};
pub use inbound::InboundNotifications;
pub use messaging::Messaging;
pub use money::Amount;
pub use payment::Payments;
pub use va::VirtualAccounts;

/// Everything one configured provider instance can do. An adapter's constructor fills the
/// capabilities its provider offers and leaves the rest `None`; the gateway's registry
/// answers "not supported by this instance" for the empty ones.
#[derive(Clone, Default)]
pub struct Capabilities {
    /// Issue and manage virtual accounts.
    pub virtual_accounts: Option<Arc<dyn VirtualAccounts>>,
    /// Take e-wallet, checkout and QRIS payments.
    pub payments: Option<Arc<dyn Payments>>,
    /// Verify and parse the provider's callbacks.
    pub inbound: Option<Arc<dyn InboundNotifications>>,
    /// Register signers and have documents signed.
    pub esign: Option<Arc<dyn ESignature>>,
    /// Deliver template messages and OTPs.
    pub messaging: Option<Arc<dyn Messaging>>,
    /// Sell prepaid products and pay bills host-to-host.
    pub biller: Option<Arc<dyn Biller>>,
}

impl std::fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capabilities")
            .field("virtual_accounts", &self.virtual_accounts.is_some())
            .field("payments", &self.payments.is_some())
            .field("inbound", &self.inbound.is_some())
            .field("esign", &self.esign.is_some())
            .field("messaging", &self.messaging.is_some())
            .field("biller", &self.biller.is_some())
            .finish()
    }
}

/// A customer as a provider sees them on a bill. Personal data: never log it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Customer {
    /// Name printed on the bill or VA.
    pub name: String,
    /// Phone number, E.164 or local form, as given.
    pub phone: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
}

impl std::fmt::Debug for Customer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Customer").finish_non_exhaustive()
    }
}

/// Serializes any secret as `"[redacted]"`: for `#[serde(serialize_with = ...)]` on the
/// secret fields of adapter configs, so printing a resolved configuration never shows one.
pub fn serialize_redacted<T, S: serde::Serializer>(
    _: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str("[redacted]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_object_safe(_: &Capabilities) {}

    #[test]
    fn capability_traits_are_object_safe_and_send_sync() {
        fn is_send_sync<T: Send + Sync + ?Sized>() {}
        is_send_sync::<dyn VirtualAccounts>();
        is_send_sync::<dyn Payments>();
        is_send_sync::<dyn InboundNotifications>();
        is_send_sync::<dyn ESignature>();
        is_send_sync::<dyn Messaging>();
        is_send_sync::<dyn Biller>();
        assert_object_safe(&Capabilities::default());
    }

    #[test]
    fn customer_debug_hides_personal_data() {
        let c = Customer {
            name: "Budi Santoso".into(),
            phone: Some("+6281234567890".into()),
            email: None,
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("Budi"));
        assert!(!shown.contains("0812"));
    }
}
