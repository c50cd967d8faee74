//! The one error taxonomy every adapter maps its provider's codes into.
//!
//! The kind decides what the gateway does next; the provider code and message are kept for
//! operators. The most important distinction is [`ErrorKind::Timeout`]: the request may
//! have taken effect, so a money-moving call is **never** retried blindly after it — the
//! resource is marked pending and resolved by a status inquiry.

/// What kind of failure a provider call ended in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The provider refused the request (validation, business rule). Do not retry.
    Rejected,
    /// The provider says the resource does not exist.
    NotFound,
    /// The provider says the resource (our reference) already exists.
    Duplicate,
    /// The resource is in a state that forbids the operation (already paid, expired, …).
    Conflict,
    /// The provider could not be reached or answered 5xx / "temporarily offline"; the
    /// request did not take effect. Safe to retry or fail over.
    Unavailable,
    /// The provider throttled us. Safe to retry later.
    RateLimited,
    /// No answer in time, or an answer that does not tell the outcome: the request **may
    /// have taken effect**. Never retry a money-moving call blindly; inquire first.
    Timeout,
    /// Our credentials were refused.
    Unauthorized,
    /// The provider answered something we cannot read (malformed body, unknown shape).
    /// For a money-moving call this is as ambiguous as a timeout.
    Protocol,
    /// An inbound request failed signature, token or decryption checks.
    InvalidSignature,
    /// This adapter does not offer the operation.
    NotSupported,
    /// The adapter's configuration cannot work (caught at start-up where possible).
    Misconfigured,
    /// Our deposit (float) at the provider cannot cover the request; nothing happened
    /// (Digiflazz rc 44, IAK rc 17). Not retryable until the deposit is topped up.
    InsufficientBalance,
}

impl ErrorKind {
    /// Whether the request certainly did not take effect and may be sent again (or to
    /// another provider).
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Unavailable | ErrorKind::RateLimited)
    }

    /// Whether the outcome is unknown: the request may or may not have taken effect.
    pub fn is_ambiguous(self) -> bool {
        matches!(self, ErrorKind::Timeout | ErrorKind::Protocol)
    }

    /// A short stable name, for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Rejected => "rejected",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Protocol => "protocol",
            ErrorKind::InvalidSignature => "invalid_signature",
            ErrorKind::NotSupported => "not_supported",
            ErrorKind::Misconfigured => "misconfigured",
            ErrorKind::InsufficientBalance => "insufficient_balance",
        }
    }
}

/// A failed provider call, normalized. Messages never carry secrets or personal data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}{}: {message}", provider_code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
pub struct ProviderError {
    /// What kind of failure it was.
    pub kind: ErrorKind,
    /// The provider's own code (`"105"`, `"9009"`, `"4012700"`), when it gave one.
    pub provider_code: Option<String>,
    /// A human-readable explanation, safe to show to operators.
    pub message: String,
}

impl ProviderError {
    /// An error of `kind` with a message and no provider code.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            provider_code: None,
            message: message.into(),
        }
    }

    /// An error of `kind` carrying the provider's own code.
    pub fn with_code(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            provider_code: Some(code.into()),
            message: message.into(),
        }
    }

    /// The explicit answer for an operation an adapter does not offer.
    pub fn not_supported(operation: &str) -> Self {
        Self::new(
            ErrorKind::NotSupported,
            format!("{operation} is not supported by this provider"),
        )
    }

    /// Whether the request certainly did not take effect (see [`ErrorKind::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_is_ambiguous_not_retryable() {
        assert!(!ErrorKind::Timeout.is_retryable());
        assert!(ErrorKind::Timeout.is_ambiguous());
        assert!(ErrorKind::Unavailable.is_retryable());
        assert!(!ErrorKind::Rejected.is_retryable());
    }

    #[test]
    fn display_shows_code() {
        let e = ProviderError::with_code(ErrorKind::Duplicate, "105", "Duplicate Billing ID");
        assert_eq!(e.to_string(), "Duplicate (105): Duplicate Billing ID");
    }
}
