//! What can go wrong sending through the Cloud API, and the Graph error-code table (3.4)
//! mapped into the gateway's one taxonomy ([`contracts::ProviderError`]).
//!
//! Every send delivers a message and costs money, so an answer that does not say the
//! message was refused is [`ErrorKind::Timeout`] (ambiguous), never "safe to retry".

use contracts::{ErrorKind, ProviderError};

use crate::wire::GraphError;

/// A failed send, before it is normalized. Never holds the recipient or the code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// No connection could be made: the request never left.
    #[error("could not connect to the WhatsApp Cloud API")]
    Connect(#[source] reqwest::Error),
    /// The deadline elapsed; the message may have been sent.
    #[error("the WhatsApp Cloud API did not answer in time")]
    Timeout(#[source] reqwest::Error),
    /// The exchange broke off after the request may have been sent.
    #[error("the exchange with the WhatsApp Cloud API broke off")]
    Transport(#[source] reqwest::Error),
    /// The answer was longer than the adapter reads.
    #[error("the WhatsApp Cloud API's answer is larger than {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// A non-2xx answer without a Graph error envelope (an edge or a proxy).
    #[error("the WhatsApp Cloud API answered HTTP {status} without an error body")]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// A Graph error envelope (3.4).
    #[error("{}", describe(.error, *.status))]
    Graph {
        /// The HTTP status it came with.
        status: u16,
        /// The envelope's `error`.
        error: GraphError,
    },
    /// A 2xx answer that is not what 3.3 describes.
    #[error("the WhatsApp Cloud API's answer is malformed: {0}")]
    Malformed(&'static str),
    /// The gateway's request cannot be sent as asked.
    #[error("cannot send: {0}")]
    Request(&'static str),
}

impl From<Error> for ProviderError {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::Connect(_) => ProviderError::new(ErrorKind::Unavailable, message),
            Error::Timeout(_) | Error::Transport(_) => {
                ProviderError::new(ErrorKind::Timeout, message)
            }
            Error::TooLarge { .. } | Error::Malformed(_) => {
                ProviderError::new(ErrorKind::Protocol, message)
            }
            Error::Status { status } => {
                ProviderError::with_code(kind_of_status(status), status.to_string(), message)
            }
            Error::Graph { status, error } => {
                let (kind, _) = classify(&error, status);
                ProviderError::with_code(kind, error.code.to_string(), message)
            }
            Error::Request(_) => ProviderError::new(ErrorKind::Rejected, message),
        }
    }
}

/// The kind of a Graph error and what it means, by `code` (and `type` for code 0), then
/// by HTTP status for codes the table does not know (3.4).
pub(crate) fn classify(error: &GraphError, status: u16) -> (ErrorKind, &'static str) {
    use ErrorKind::{RateLimited, Rejected, Timeout, Unauthorized, Unavailable};
    match error.code {
        4 => (RateLimited, "app API-call rate limit reached"),
        80007 => (RateLimited, "WhatsApp Business Account rate limit reached"),
        130429 => (RateLimited, "Cloud API throughput limit reached"),
        131048 => (RateLimited, "spam rate limit reached (quality-based)"),
        131056 => (
            RateLimited,
            "pair rate limit: too many messages to this recipient in a short time",
        ),
        190 => (Unauthorized, "access token expired or invalid"),
        0 if error.kind.as_deref() == Some("OAuthException") => {
            (Unauthorized, "authentication exception")
        }
        10 | 200..=299 => (Unauthorized, "permission denied"),
        131005 => (Unauthorized, "access denied"),
        131026 => (
            Rejected,
            "message undeliverable: not a WhatsApp user, terms not accepted, or an outdated client",
        ),
        131047 => (
            Rejected,
            "re-engagement required: more than 24 hours since the user last replied",
        ),
        131051 => (Rejected, "unsupported message type"),
        131008 => (Rejected, "a required parameter is missing"),
        131009 => (Rejected, "a parameter value is invalid"),
        131021 => (Rejected, "sender and recipient are the same number"),
        131030 => (
            Rejected,
            "recipient is not in the allowed list (test number)",
        ),
        131031 => (Rejected, "the business account is locked"),
        131042 => (Rejected, "business payment issue"),
        131045 => (
            Rejected,
            "phone number registration certificate is incorrect",
        ),
        368 => (Rejected, "temporarily blocked for policy violation"),
        135000 => (Rejected, "generic user error"),
        132000..=132016 => (Rejected, template_problem(error.code)),
        // Meta says the service is down or in maintenance: nothing was sent.
        2 => (Unavailable, "temporary Graph API service issue"),
        131016 => (Unavailable, "service unavailable"),
        131057 => (Unavailable, "business account in maintenance"),
        // "Unknown" errors do not say whether the message went out.
        1 => (
            Timeout,
            "unknown Graph API error; the message may have been sent",
        ),
        131000 => (Timeout, "generic error; the message may have been sent"),
        _ => match status {
            500..=599 => (Timeout, "server error; the message may have been sent"),
            400..=499 => (Rejected, "request refused"),
            _ => (ErrorKind::Protocol, "unexpected error answer"),
        },
    }
}

/// What a `1320xx` template error means (3.4).
fn template_problem(code: i64) -> &'static str {
    match code {
        132000 => "template parameter count does not match the template",
        132001 => "template does not exist in that language or is not approved",
        132005 => "template text too long after filling parameters",
        132007 => "template content violates a policy",
        132008 => "template parameter value is invalid",
        132012 => "template parameter format does not match",
        132015 => "template is paused for low quality",
        132016 => "template is disabled for low quality",
        _ => "template problem",
    }
}

/// The operator's text of a Graph error: our own meaning of the code (Meta's `message`
/// may quote the request) and the `fbtrace_id` to quote to Meta's support.
fn describe(error: &GraphError, status: u16) -> String {
    let (_, meaning) = classify(error, status);
    let mut text = format!("whatsapp error {}: {meaning}", error.code);
    if let Some(subcode) = error.error_subcode {
        text.push_str(&format!(" (subcode {subcode})"));
    }
    if let Some(trace) = &error.fbtrace_id {
        text.push_str(&format!("; fbtrace_id {trace}"));
    }
    text
}

/// The meaning of a code carried in a status webhook's `errors[]`, for operators.
pub(crate) fn meaning(code: i64) -> &'static str {
    let error = GraphError {
        code,
        kind: None,
        error_subcode: None,
        fbtrace_id: None,
    };
    classify(&error, 400).1
}

/// Classifies a non-2xx answer that carried no Graph envelope.
fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Unauthorized,
        429 => ErrorKind::RateLimited,
        408 => ErrorKind::Timeout,
        // "Service unavailable" from an edge: the request was not handled.
        503 => ErrorKind::Unavailable,
        // Any other 5xx may come after Meta took the message.
        500..=599 => ErrorKind::Timeout,
        400..=499 => ErrorKind::Rejected,
        _ => ErrorKind::Protocol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(code: i64, kind: Option<&str>) -> GraphError {
        GraphError {
            code,
            kind: kind.map(str::to_owned),
            error_subcode: None,
            fbtrace_id: Some("AbCdEf".to_owned()),
        }
    }

    fn kind(code: i64, status: u16) -> ErrorKind {
        ProviderError::from(Error::Graph {
            status,
            error: graph(code, None),
        })
        .kind
    }

    /// 3.4, row by row.
    #[test]
    fn the_code_table_maps_onto_the_taxonomy() {
        use ErrorKind::{RateLimited, Rejected, Timeout, Unauthorized, Unavailable};
        let table = [
            (4, RateLimited),
            (80007, RateLimited),
            (130429, RateLimited),
            (131048, RateLimited),
            (131056, RateLimited),
            (190, Unauthorized),
            (10, Unauthorized),
            (200, Unauthorized),
            (131005, Unauthorized),
            (131026, Rejected),
            (131047, Rejected),
            (131051, Rejected),
            (131008, Rejected),
            (131009, Rejected),
            (131021, Rejected),
            (131030, Rejected),
            (131031, Rejected),
            (131042, Rejected),
            (131045, Rejected),
            (132000, Rejected),
            (132001, Rejected),
            (132005, Rejected),
            (132016, Rejected),
            (368, Rejected),
            (135000, Rejected),
            (2, Unavailable),
            (131016, Unavailable),
            (131057, Unavailable),
            (1, Timeout),
            (131000, Timeout),
        ];
        for (code, expected) in table {
            assert_eq!(kind(code, 400), expected, "code {code}");
        }
    }

    #[test]
    fn code_zero_is_an_auth_failure_only_as_an_oauth_exception() {
        let oauth = Error::Graph {
            status: 401,
            error: graph(0, Some("OAuthException")),
        };
        assert_eq!(ProviderError::from(oauth).kind, ErrorKind::Unauthorized);
        assert_eq!(kind(0, 400), ErrorKind::Rejected);
    }

    #[test]
    fn unknown_codes_fall_back_on_the_http_status() {
        assert_eq!(kind(999_999, 400), ErrorKind::Rejected);
        assert_eq!(kind(999_999, 500), ErrorKind::Timeout);
        assert_eq!(kind(999_999, 200), ErrorKind::Protocol);
    }

    #[test]
    fn rate_limits_and_outages_are_retryable_rejections_are_not() {
        assert!(
            ProviderError::from(Error::Graph {
                status: 400,
                error: graph(130429, None)
            })
            .is_retryable()
        );
        assert!(
            ProviderError::from(Error::Graph {
                status: 503,
                error: graph(131016, None)
            })
            .is_retryable()
        );
        assert!(
            !ProviderError::from(Error::Graph {
                status: 400,
                error: graph(131026, None)
            })
            .is_retryable()
        );
        assert!(
            !ProviderError::from(Error::Graph {
                status: 500,
                error: graph(131000, None)
            })
            .is_retryable()
        );
    }

    #[test]
    fn errors_carry_the_code_the_reason_and_the_trace_id() {
        let err = ProviderError::from(Error::Graph {
            status: 400,
            error: graph(131047, None),
        });
        assert_eq!(err.provider_code.as_deref(), Some("131047"));
        assert!(err.message.contains("re-engagement"), "{}", err.message);
        assert!(err.message.contains("AbCdEf"));
    }

    #[test]
    fn bare_statuses_are_classified_conservatively() {
        let kind = |status| ProviderError::from(Error::Status { status }).kind;
        assert_eq!(kind(401), ErrorKind::Unauthorized);
        assert_eq!(kind(429), ErrorKind::RateLimited);
        assert_eq!(kind(503), ErrorKind::Unavailable);
        assert_eq!(kind(502), ErrorKind::Timeout);
        assert_eq!(kind(504), ErrorKind::Timeout);
        assert_eq!(kind(404), ErrorKind::Rejected);
    }
}
