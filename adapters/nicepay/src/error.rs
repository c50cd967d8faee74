//! What can go wrong talking to NICEPAY, and how each failure maps into the gateway's one
//! taxonomy ([`contracts::ProviderError`]).
//!
//! NICEPAY answers business errors with HTTP 200 and a `resultCd` other than `0000`
//! (protocol 1.4, 1.10); [`kind_of_result`] is that code table.

use contracts::{ErrorKind, ProviderError};

/// A failed call to NICEPAY, before it is normalized.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// No connection could be made: the request never left.
    #[error("could not connect to NICEPAY")]
    Connect(#[source] reqwest::Error),
    /// The per-request timeout elapsed; the request may have been processed.
    #[error("NICEPAY did not answer in time")]
    Timeout(#[source] reqwest::Error),
    /// The request failed after it may have been sent.
    #[error("the exchange with NICEPAY broke off")]
    Transport(#[source] reqwest::Error),
    /// NICEPAY (or a proxy before it) answered with a non-success HTTP status.
    #[error("NICEPAY answered HTTP {status}")]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// The answer was longer than the adapter reads.
    #[error("NICEPAY's answer is larger than {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The answer is not what the protocol describes.
    #[error("NICEPAY's answer is malformed: {0}")]
    Malformed(String),
    /// NICEPAY said no with a `resultCd`.
    #[error("NICEPAY answered {code}: {message}")]
    Result {
        /// `resultCd`.
        code: String,
        /// `resultMsg`.
        message: String,
    },
    /// Our own request could not be built from what the gateway asked.
    #[error("cannot build the request: {0}")]
    Request(String),
}

/// Classifies a NICEPAY `resultCd` other than `0000` (protocol 1.10).
///
/// Codes the table does not know are [`ErrorKind::Protocol`]: ambiguous, so a money-moving
/// call that got one is resolved by inquiry rather than assumed to have failed.
pub(crate) fn kind_of_result(code: &str) -> ErrorKind {
    match code {
        "9009" => ErrorKind::Duplicate,
        // Invalid merchant token (general / VA module), invalid MID.
        "9010" | "9225" | "9011" => ErrorKind::Unauthorized,
        "9228" => ErrorKind::NotFound,
        // VA cannot be cancelled / VA already paid.
        "9318" | "9330" => ErrorKind::Conflict,
        // VA number pool empty: nothing was issued, another provider may serve the bill.
        "9203" => ErrorKind::Unavailable,
        // Connection / socket / server / timeout error inside NICEPAY: outcome unknown.
        "1001" | "1002" | "1003" | "1004" => ErrorKind::Timeout,
        // Validation and business rules: method not active, amounts, missing or bad fields,
        // cart, expiry, date/time, bank code, cancel type.
        "9007" | "9008" | "9012" | "9014" | "9015" | "9016" | "9017" | "9018" | "9020" | "9022"
        | "9023" | "9031" | "9109" | "9207" | "9209" | "9210" | "9211" | "9237" | "9301" => {
            ErrorKind::Rejected
        }
        _ => ErrorKind::Protocol,
    }
}

impl From<Error> for ProviderError {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::Connect(_) => ProviderError::new(ErrorKind::Unavailable, message),
            Error::Timeout(_) | Error::Transport(_) => {
                ProviderError::new(ErrorKind::Timeout, message)
            }
            Error::Status { status } => {
                ProviderError::with_code(kind_of_status(status), status.to_string(), message)
            }
            Error::TooLarge { .. } | Error::Malformed(_) => {
                ProviderError::new(ErrorKind::Protocol, message)
            }
            Error::Result { code, message } => {
                ProviderError::with_code(kind_of_result(&code), code, message)
            }
            Error::Request(_) => ProviderError::new(ErrorKind::Rejected, message),
        }
    }
}

/// Classifies an HTTP status that carried no NICEPAY `resultCd`. NICEPAY itself answers
/// HTTP 200 (1.4, 1.15 #7), so these come from its edge or a proxy.
fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Unauthorized,
        408 => ErrorKind::Timeout,
        429 => ErrorKind::RateLimited,
        // 5xx: the request was not processed (DESIGN: 5xx is Unavailable).
        500..=599 => ErrorKind::Unavailable,
        400..=499 => ErrorKind::Rejected,
        _ => ErrorKind::Protocol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Protocol 1.10, row by row.
    #[test]
    fn the_result_code_table_maps_onto_the_taxonomy() {
        let table = [
            ("9009", ErrorKind::Duplicate),
            ("9010", ErrorKind::Unauthorized),
            ("9225", ErrorKind::Unauthorized),
            ("9011", ErrorKind::Unauthorized),
            ("9012", ErrorKind::Rejected),
            ("9007", ErrorKind::Rejected),
            ("9008", ErrorKind::Rejected),
            ("9014", ErrorKind::Rejected),
            ("9015", ErrorKind::Rejected),
            ("9016", ErrorKind::Rejected),
            ("9017", ErrorKind::Rejected),
            ("9018", ErrorKind::Rejected),
            ("9020", ErrorKind::Rejected),
            ("9022", ErrorKind::Rejected),
            ("9023", ErrorKind::Rejected),
            ("9203", ErrorKind::Unavailable),
            ("9209", ErrorKind::Rejected),
            ("9210", ErrorKind::Rejected),
            ("9211", ErrorKind::Rejected),
            ("9228", ErrorKind::NotFound),
            ("9237", ErrorKind::Rejected),
            ("9301", ErrorKind::Rejected),
            ("9318", ErrorKind::Conflict),
            ("9330", ErrorKind::Conflict),
            ("1001", ErrorKind::Timeout),
            ("1002", ErrorKind::Timeout),
            ("1003", ErrorKind::Timeout),
            ("1004", ErrorKind::Timeout),
        ];
        for (code, kind) in table {
            assert_eq!(kind_of_result(code), kind, "resultCd {code}");
        }
    }

    #[test]
    fn unknown_result_codes_are_ambiguous_never_a_clean_failure() {
        for code in ["9999", "0001", "", "A000", "0000 "] {
            let kind = kind_of_result(code);
            assert_eq!(kind, ErrorKind::Protocol, "resultCd {code:?}");
            assert!(kind.is_ambiguous());
        }
    }

    #[test]
    fn result_errors_keep_the_provider_code_and_message() {
        let err = ProviderError::from(Error::Result {
            code: "9009".to_owned(),
            message: "Reference Number already exist".to_owned(),
        });
        assert_eq!(err.kind, ErrorKind::Duplicate);
        assert_eq!(err.provider_code.as_deref(), Some("9009"));
        assert_eq!(err.message, "Reference Number already exist");
    }

    #[test]
    fn http_statuses_without_a_result_code_are_classified() {
        let kind = |status| ProviderError::from(Error::Status { status }).kind;
        assert_eq!(kind(500), ErrorKind::Unavailable);
        assert_eq!(kind(503), ErrorKind::Unavailable);
        assert_eq!(kind(429), ErrorKind::RateLimited);
        assert_eq!(kind(403), ErrorKind::Unauthorized);
        assert_eq!(kind(404), ErrorKind::Rejected);
        assert_eq!(kind(302), ErrorKind::Protocol);
    }
}
