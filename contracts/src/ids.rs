//! References: ours (sent to the provider so a status inquiry can always find what happened)
//! and the provider's own.

use serde::{Deserialize, Serialize};

/// Our reference for a resource, sent to the provider as its merchant-side id (BNI
/// `trx_id`, NICEPAY `referenceNo`, SNAP `trxId`). It is the gateway's resource id, so it is
/// unique for ever and a status inquiry by it always finds the one resource it names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OurReference(pub String);

/// The provider's own id for a resource (NICEPAY `tXid`, a SNAP `referenceNo`, …).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderReference(pub String);

impl OurReference {
    /// The reference as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ProviderReference {
    /// The reference as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OurReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for ProviderReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
