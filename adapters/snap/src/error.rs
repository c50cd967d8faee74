//! The crate's own errors. Messages never carry keys, secrets or tokens.

/// Why a key could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not a PEM key of the expected kind (PKCS#8 or PKCS#1 private key,
    /// SubjectPublicKeyInfo or PKCS#1 public key).
    #[error("not a readable {0} key in PEM form")]
    Pem(&'static str),
    /// The key is not an RSA key.
    #[error("the key is not an RSA key")]
    NotRsa,
    /// The RSA key is shorter than 2048 bits (B.3.1 uses 2048-bit keys).
    #[error("the RSA key has {0} bits; at least 2048 are required")]
    TooShort(u32),
}

/// Why a configuration of [`crate::client::SnapClient`] or [`crate::inbound::SnapInbound`]
/// cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A key does not parse.
    #[error("{field}: {source}")]
    Key {
        /// Which setting holds the key.
        field: &'static str,
        /// What is wrong with it.
        source: KeyError,
    },
    /// A required identifier or secret is empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// The base URL cannot carry SNAP calls.
    #[error("base_url must be an http or https URL with a host, got scheme {0:?}")]
    Url(String),
    /// A path does not start with `/`.
    #[error("{0} must start with '/'")]
    Path(&'static str),
    /// A duration is zero.
    #[error("{0} must be greater than zero")]
    Duration(&'static str),
}

/// Why a SNAP amount object is not an [`contracts::Amount`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid SNAP amount: {reason}")]
pub struct AmountError {
    /// What is wrong with it.
    pub reason: &'static str,
}

impl AmountError {
    pub(crate) fn new(reason: &'static str) -> Self {
        AmountError { reason }
    }
}
