//! What can go wrong calling PrivyID, and how each failure maps into the gateway's one
//! taxonomy ([`contracts::ProviderError`]).
//!
//! Registration, re-registration and upload change something at PrivyID: an answer that
//! did not arrive, or arrived unreadable, leaves the outcome unknown ([`ErrorKind::Timeout`]).
//! The two status reads change nothing, so the same failures are only
//! [`ErrorKind::Unavailable`]: safe to ask again.

use contracts::{ErrorKind, ProviderError};

/// The calls the adapter makes, for classification and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `POST /v3/merchant/registration` (2.3).
    RegisterSigner,
    /// `POST /v3/user/merchant/reregister/*` (2.5).
    ResubmitSigner,
    /// `POST /v3/merchant/registration/status` (2.4).
    SignerStatus,
    /// `POST /v3/merchant/document/upload` (2.6).
    UploadDocument,
    /// `GET /v3/merchant/document/status/{docToken}` (2.7).
    DocumentStatus,
}

impl Operation {
    /// A stable name for logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Operation::RegisterSigner => "register_signer",
            Operation::ResubmitSigner => "resubmit_signer",
            Operation::SignerStatus => "signer_status",
            Operation::UploadDocument => "upload_document",
            Operation::DocumentStatus => "document_status",
        }
    }

    /// Whether the call changes something at PrivyID, so that a lost or unreadable answer
    /// may hide an effect.
    pub(crate) fn writes(self) -> bool {
        match self {
            Operation::RegisterSigner | Operation::ResubmitSigner | Operation::UploadDocument => {
                true
            }
            Operation::SignerStatus | Operation::DocumentStatus => false,
        }
    }

    /// The kind of a failure that leaves the outcome unknown.
    fn unknown_outcome(self) -> ErrorKind {
        if self.writes() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Unavailable
        }
    }
}

/// A failed call, before it is normalized. Never holds personal data or a secret.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The gateway's request cannot be sent as asked; nothing was sent.
    #[error("cannot send: {0}")]
    Request(&'static str),
    /// No connection could be made (refused, DNS, TLS): the request never left.
    #[error("could not connect to PrivyID")]
    Connect(#[source] reqwest::Error),
    /// The deadline elapsed after the request may have been sent.
    #[error("PrivyID did not answer in time")]
    Timeout(#[source] reqwest::Error),
    /// The exchange broke off after the request may have been sent.
    #[error("the exchange with PrivyID broke off")]
    Transport(#[source] reqwest::Error),
    /// A successful answer longer than the adapter reads.
    #[error("PrivyID's answer is larger than {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// A non-2xx answer.
    #[error("{}", .detail.clone().unwrap_or_else(|| format!("PrivyID answered HTTP {status}")))]
    Status {
        /// The HTTP status.
        status: u16,
        /// The `field` of the first `errors[]` entry.
        field: Option<String>,
        /// `"<field>: <messages>"` of the first `errors[]` entry, else the body's
        /// `message`, when the body carries either.
        detail: Option<String>,
    },
    /// A 2xx answer that cannot be read (not JSON, or without what the call returns).
    #[error("PrivyID's answer is unreadable: {0}")]
    Unreadable(&'static str),
    /// A 2xx answer whose body `code` is not 200 or 201.
    #[error("PrivyID answered HTTP 2xx with body code {}", .0.map_or_else(|| "(none)".to_owned(), |c| c.to_string()))]
    Code(Option<i64>),
    /// A readable answer that contradicts the protocol.
    #[error("PrivyID's answer contradicts the protocol: {0}")]
    Protocol(&'static str),
    /// The OAuth2 token could not be had; the API request was not sent.
    #[error("OAuth2 token request failed: {0}")]
    Token(TokenError),
}

impl Error {
    /// A re-registration refused because the registration is no longer `invalid`: 422 on
    /// field `token` ("User is not in invalid state", 2.5).
    pub(crate) fn is_not_invalid_any_more(&self) -> bool {
        matches!(self, Error::Status { status: 422, field: Some(field), .. } if field == "token")
    }
}

/// Why the OAuth2 token endpoint gave no usable token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    /// No answer in time, or no connection.
    #[error("the token endpoint could not be reached in time")]
    Unreachable,
    /// The client credentials were refused (RFC 6749 §5.2: `invalid_client`, …).
    #[error("the token endpoint refused the client credentials (HTTP {0})")]
    Refused(u16),
    /// The token endpoint throttled us.
    #[error("the token endpoint throttled the request")]
    Throttled,
    /// Any other non-2xx answer.
    #[error("the token endpoint answered HTTP {0}")]
    Status(u16),
    /// A 2xx answer that is not a token response (RFC 6749 §5.1).
    #[error("the token endpoint's answer is not a token response")]
    Unreadable,
    /// A token of a type other than `Bearer`.
    #[error("the token endpoint issued a token that is not a Bearer token")]
    NotBearer,
}

impl TokenError {
    fn kind(self) -> ErrorKind {
        match self {
            TokenError::Unreachable | TokenError::Status(_) | TokenError::Unreadable => {
                ErrorKind::Unavailable
            }
            TokenError::Refused(_) => ErrorKind::Unauthorized,
            TokenError::Throttled => ErrorKind::RateLimited,
            TokenError::NotBearer => ErrorKind::Misconfigured,
        }
    }
}

/// Normalizes the failure of `operation`.
pub(crate) fn classify(operation: Operation, err: Error) -> ProviderError {
    let message = err.to_string();
    match err {
        Error::Request(_) => ProviderError::new(ErrorKind::Rejected, message),
        Error::Connect(_) => ProviderError::new(ErrorKind::Unavailable, message),
        Error::Timeout(_) | Error::Transport(_) | Error::TooLarge { .. } | Error::Unreadable(_) => {
            ProviderError::new(operation.unknown_outcome(), message)
        }
        Error::Status { status, .. } => ProviderError::with_code(
            kind_of_status(status, operation),
            status.to_string(),
            message,
        ),
        Error::Code(_) | Error::Protocol(_) => ProviderError::new(ErrorKind::Protocol, message),
        Error::Token(token) => ProviderError::new(token.kind(), message),
    }
}

/// The kind of a non-2xx answer, by HTTP status (the body's `code` mirrors it).
fn kind_of_status(status: u16, operation: Operation) -> ErrorKind {
    match status {
        400 | 422 => ErrorKind::Rejected,
        401 | 403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        429 => ErrorKind::RateLimited,
        // The server gave up waiting for our request: it handled nothing.
        408 => ErrorKind::Unavailable,
        // PrivyID says it is not serving: nothing was handled, so it may be sent again.
        503 => ErrorKind::Unavailable,
        // A proxy in front gave up on PrivyID (bad gateway, gateway timeout): PrivyID may
        // have handled the request after all, so for a write the outcome is unknown.
        502 | 504 => operation.unknown_outcome(),
        // A server error may come after the request took effect.
        500..=599 => operation.unknown_outcome(),
        400..=499 => ErrorKind::Rejected,
        _ => ErrorKind::Protocol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITES: [Operation; 3] = [
        Operation::RegisterSigner,
        Operation::ResubmitSigner,
        Operation::UploadDocument,
    ];
    const READS: [Operation; 2] = [Operation::SignerStatus, Operation::DocumentStatus];

    fn status(status: u16, operation: Operation) -> ProviderError {
        classify(
            operation,
            Error::Status {
                status,
                field: None,
                detail: None,
            },
        )
    }

    #[test]
    fn statuses_map_onto_the_taxonomy_for_every_operation() {
        use ErrorKind::{Conflict, NotFound, Protocol, RateLimited, Rejected, Unauthorized};
        use ErrorKind::{Timeout, Unavailable};
        let same_for_all = [
            (400, Rejected),
            (422, Rejected),
            (413, Rejected),
            (401, Unauthorized),
            (403, Unauthorized),
            (404, NotFound),
            (409, Conflict),
            (429, RateLimited),
            (408, Unavailable),
            (503, Unavailable),
            (302, Protocol),
        ];
        for operation in WRITES.into_iter().chain(READS) {
            for (code, expected) in same_for_all {
                let err = status(code, operation);
                assert_eq!(err.kind, expected, "{code} {operation:?}");
                assert_eq!(
                    err.provider_code.as_deref(),
                    Some(code.to_string().as_str())
                );
            }
        }
        for code in [500, 501, 502, 504, 599] {
            for operation in WRITES {
                assert_eq!(status(code, operation).kind, Timeout, "{code}");
            }
            for operation in READS {
                assert_eq!(status(code, operation).kind, Unavailable, "{code}");
            }
        }
    }

    #[test]
    fn unreadable_answers_are_ambiguous_for_writes_and_retryable_for_reads() {
        for operation in WRITES {
            let err = classify(operation, Error::Unreadable("not JSON"));
            assert_eq!(err.kind, ErrorKind::Timeout);
            assert!(!err.is_retryable());
            let err = classify(operation, Error::TooLarge { limit: 1 });
            assert_eq!(err.kind, ErrorKind::Timeout);
        }
        for operation in READS {
            let err = classify(operation, Error::Unreadable("not JSON"));
            assert_eq!(err.kind, ErrorKind::Unavailable);
            assert!(err.is_retryable());
        }
    }

    #[test]
    fn unexpected_codes_and_contradictions_are_protocol_errors() {
        for operation in WRITES.into_iter().chain(READS) {
            assert_eq!(
                classify(operation, Error::Code(Some(422))).kind,
                ErrorKind::Protocol
            );
            assert_eq!(
                classify(operation, Error::Protocol("x")).kind,
                ErrorKind::Protocol
            );
        }
        let shown = classify(Operation::SignerStatus, Error::Code(None)).message;
        assert!(shown.contains("(none)"), "{shown}");
    }

    #[test]
    fn token_failures_never_claim_the_api_call_happened() {
        let kind = |t| classify(Operation::RegisterSigner, Error::Token(t)).kind;
        assert_eq!(kind(TokenError::Unreachable), ErrorKind::Unavailable);
        assert_eq!(kind(TokenError::Status(500)), ErrorKind::Unavailable);
        assert_eq!(kind(TokenError::Unreadable), ErrorKind::Unavailable);
        assert_eq!(kind(TokenError::Refused(401)), ErrorKind::Unauthorized);
        assert_eq!(kind(TokenError::Throttled), ErrorKind::RateLimited);
        assert_eq!(kind(TokenError::NotBearer), ErrorKind::Misconfigured);
    }

    #[test]
    fn the_message_is_the_field_detail_when_there_is_one() {
        let err = classify(
            Operation::RegisterSigner,
            Error::Status {
                status: 422,
                field: Some("email".to_owned()),
                detail: Some("email: has already been taken".to_owned()),
            },
        );
        assert_eq!(err.message, "email: has already been taken");
        assert_eq!(err.kind, ErrorKind::Rejected);
        assert_eq!(err.provider_code.as_deref(), Some("422"));
        assert_eq!(
            status(503, Operation::SignerStatus).message,
            "PrivyID answered HTTP 503"
        );
    }
}
