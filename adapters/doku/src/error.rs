//! What can go wrong talking to DOKU, and how each failure maps into the gateway's one
//! taxonomy ([`contracts::ProviderError`]).
//!
//! Two protocols, two tables:
//! - non-SNAP Checkout (2.10): the HTTP status decides, since DOKU's error bodies are only
//!   partly documented. 5xx to a create is ambiguous (the payment may exist: resolve by
//!   status) except 503, which says the service took nothing; 5xx to a status query is a
//!   plain outage.
//! - SNAP VA (2.11.5, B.6): the 7-digit `responseCode` decides through
//!   [`adapter_snap::code::error_kind`], with DOKU's per-service readings in [`snap_kind`].

use adapter_snap::code::{ResponseCode, error_kind};
use contracts::{ErrorKind, ProviderError};

/// The Checkout operations, which read the same HTTP status differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CheckoutOp {
    /// `POST /checkout/v1/payment`: money may move after it.
    Create,
    /// `GET /orders/v1/status/{invoice}`: a read.
    Status,
}

/// A failed Checkout call, before it is normalized.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// No connection could be made: the request never left.
    #[error("could not connect to DOKU")]
    Connect(#[source] reqwest::Error),
    /// The deadline passed or the exchange broke off after the request may have left.
    #[error("DOKU did not answer in time")]
    Timeout(#[source] reqwest::Error),
    /// The answer was longer than the adapter reads.
    #[error("DOKU's answer is larger than {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// DOKU (or a proxy before it) answered a non-success HTTP status.
    #[error("DOKU answered HTTP {status}: {message}")]
    Status {
        /// Which call.
        op: CheckoutOp,
        /// The HTTP status.
        status: u16,
        /// `error.code`, when the body carried one.
        code: Option<String>,
        /// `error.message` or `message[0]`, bounded; empty when the body had none.
        message: String,
    },
    /// A success status with an answer that says no (`message[0]` other than `SUCCESS`).
    #[error("DOKU refused the payment: {0}")]
    Refused(String),
    /// The answer is not what the protocol describes.
    #[error("DOKU's answer is malformed: {0}")]
    Malformed(&'static str),
    /// Our own request could not be built from what the gateway asked; nothing was sent.
    #[error("cannot build the request: {0}")]
    Request(&'static str),
}

impl From<Error> for ProviderError {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::Connect(_) => ProviderError::new(ErrorKind::Unavailable, message),
            Error::Timeout(_) => ProviderError::new(ErrorKind::Timeout, message),
            Error::TooLarge { .. } | Error::Malformed(_) => {
                ProviderError::new(ErrorKind::Protocol, message)
            }
            Error::Status {
                op, status, code, ..
            } => {
                let code = code.unwrap_or_else(|| status.to_string());
                ProviderError::with_code(status_kind(op, status), code, message)
            }
            Error::Refused(_) | Error::Request(_) => {
                ProviderError::new(ErrorKind::Rejected, message)
            }
        }
    }
}

/// Classifies a non-success HTTP status of a Checkout call (2.9, 2.10).
pub(crate) fn status_kind(op: CheckoutOp, status: u16) -> ErrorKind {
    match (op, status) {
        (_, 401) => ErrorKind::Unauthorized,
        (CheckoutOp::Status, 404) => ErrorKind::NotFound,
        // A 409 that is not the replay of our own success: the invoice number (our
        // reference) was used before with other content.
        (CheckoutOp::Create, 409) => ErrorKind::Duplicate,
        (_, 408) => ErrorKind::Timeout,
        (_, 429) => ErrorKind::RateLimited,
        (_, 400..=499) => ErrorKind::Rejected,
        // "Service Unavailable": DOKU (or its edge) took nothing; a resend is safe, and
        // DOKU-idempotent anyway (2.9).
        (CheckoutOp::Create, 503) => ErrorKind::Unavailable,
        // The payment may have been created before DOKU failed: resolve by status.
        (CheckoutOp::Create, 500..=599) => ErrorKind::Timeout,
        (CheckoutOp::Status, 500..=599) => ErrorKind::Unavailable,
        _ => ErrorKind::Protocol,
    }
}

/// The SNAP VA services (2.11.1), with their BI service codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SnapOp {
    /// Create VA, svc 27.
    Create,
    /// Update VA, svc 28.
    Update,
    /// Delete VA, svc 31.
    Delete,
    /// Check status VA, svc 26.
    Status,
}

impl SnapOp {
    /// The BI service code.
    pub(crate) fn service(self) -> u8 {
        match self {
            SnapOp::Create => 27,
            SnapOp::Update => 28,
            SnapOp::Delete => 31,
            SnapOp::Status => 26,
        }
    }
}

/// What a SNAP `responseCode` other than success means for `op`: the generic B.6 mapping,
/// except that a 409 on create is a duplicate `trxId` / VA number (DOKU's SDK table calls
/// `4092700` "conflict"; each call carries a fresh `X-EXTERNAL-ID`, so it cannot be an
/// external-id reuse), and that an unknown VA on a status inquiry is `NotFound`
/// (`404xx01` not found, `404xx12` invalid bill / VA).
pub(crate) fn snap_kind(op: SnapOp, code: ResponseCode) -> ErrorKind {
    match (op, code.http, code.case) {
        (SnapOp::Create, 409, _) => ErrorKind::Duplicate,
        (SnapOp::Status, 404, 1 | 12) => ErrorKind::NotFound,
        _ => error_kind(code).unwrap_or(ErrorKind::Protocol),
    }
}

/// The error for a SNAP answer carrying `code`, keeping the code and DOKU's message.
pub(crate) fn snap_error(op: SnapOp, code: ResponseCode, message: &str) -> ProviderError {
    ProviderError::with_code(snap_kind(op, code), code.to_string(), bounded(message))
}

/// A provider message as an operator sees it: at most 200 characters, in case a proxy
/// answers with a whole page.
pub(crate) fn bounded(message: &str) -> String {
    match message.char_indices().nth(200) {
        Some((cut, _)) => message[..cut].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkout_statuses_map_by_operation() {
        let table = [
            (CheckoutOp::Create, 401, ErrorKind::Unauthorized),
            (CheckoutOp::Status, 401, ErrorKind::Unauthorized),
            (CheckoutOp::Create, 400, ErrorKind::Rejected),
            (CheckoutOp::Create, 404, ErrorKind::Rejected),
            (CheckoutOp::Status, 404, ErrorKind::NotFound),
            (CheckoutOp::Create, 409, ErrorKind::Duplicate),
            (CheckoutOp::Create, 429, ErrorKind::RateLimited),
            (CheckoutOp::Create, 500, ErrorKind::Timeout),
            (CheckoutOp::Create, 503, ErrorKind::Unavailable),
            (CheckoutOp::Create, 504, ErrorKind::Timeout),
            (CheckoutOp::Status, 500, ErrorKind::Unavailable),
            (CheckoutOp::Status, 503, ErrorKind::Unavailable),
            (CheckoutOp::Create, 302, ErrorKind::Protocol),
        ];
        for (op, status, kind) in table {
            assert_eq!(status_kind(op, status), kind, "{op:?} HTTP {status}");
        }
    }

    #[test]
    fn checkout_errors_keep_doku_code_and_message() {
        let err = ProviderError::from(Error::Status {
            op: CheckoutOp::Create,
            status: 400,
            code: Some("invalid_parameter".to_owned()),
            message: "Invalid amount".to_owned(),
        });
        assert_eq!(err.kind, ErrorKind::Rejected);
        assert_eq!(err.provider_code.as_deref(), Some("invalid_parameter"));
        assert!(err.message.contains("Invalid amount"));
    }

    #[test]
    fn snap_codes_map_with_doku_overrides() {
        let code = |text: &str| ResponseCode::parse(text).expect("code");
        let table = [
            (SnapOp::Create, "4092700", ErrorKind::Duplicate),
            (SnapOp::Create, "4092701", ErrorKind::Duplicate),
            (SnapOp::Create, "4002701", ErrorKind::Rejected),
            (SnapOp::Create, "4012700", ErrorKind::Unauthorized),
            (SnapOp::Create, "5002700", ErrorKind::Timeout),
            (SnapOp::Create, "5042700", ErrorKind::Timeout),
            (SnapOp::Create, "5032700", ErrorKind::Unavailable),
            (SnapOp::Status, "4042601", ErrorKind::NotFound),
            (SnapOp::Status, "4042612", ErrorKind::NotFound),
            (SnapOp::Delete, "4043114", ErrorKind::Conflict),
            (SnapOp::Update, "4042819", ErrorKind::Conflict),
            (SnapOp::Update, "4092800", ErrorKind::Conflict),
            (SnapOp::Status, "4292600", ErrorKind::RateLimited),
        ];
        for (op, text, kind) in table {
            assert_eq!(snap_kind(op, code(text)), kind, "{op:?} {text}");
        }
        let err = snap_error(SnapOp::Create, code("4092700"), "Conflict");
        assert_eq!(err.provider_code.as_deref(), Some("4092700"));
        assert_eq!(err.message, "Conflict");
    }

    #[test]
    fn long_messages_are_bounded() {
        assert_eq!(bounded(&"é".repeat(500)).chars().count(), 200);
        assert_eq!(bounded("short"), "short");
    }
}
