//! The adapter's private errors and BNI's status-code table (A.7), mapped once into
//! [`contracts::ProviderError`].

use contracts::{ErrorKind, ProviderError};

use crate::signature::OpenError;

/// Longest piece of a BNI message we pass on for a code we do not know.
const MAX_MESSAGE_CHARS: usize = 120;

/// Which operation a call was, since the meaning of "technical failure" depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    Create,
    Update,
    Cancel,
    Inquire,
}

impl Operation {
    /// A short stable name, for logs.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Cancel => "cancel",
            Operation::Inquire => "inquire",
        }
    }

    /// What an indeterminate answer (`008`, `009`, `010`, `997`, `999`, …) means: for a call
    /// that changes the billing the outcome is unknown and must be resolved by inquiry
    /// (A.7 retry guidance); a read changed nothing and may simply be asked again.
    fn indeterminate(self) -> ErrorKind {
        match self {
            Operation::Create | Operation::Update | Operation::Cancel => ErrorKind::Timeout,
            Operation::Inquire => ErrorKind::Unavailable,
        }
    }
}

/// How a BNI status code classifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// Always this kind.
    Fixed(ErrorKind),
    /// The outcome is unknown for a change, harmless for a read.
    Indeterminate,
}

/// A.7, every code BNI documents, with its message as BNI returns it.
const STATUS_TABLE: &[(&str, Class, &str)] = &[
    (
        "001",
        Class::Fixed(ErrorKind::Rejected),
        "Incomplete/invalid Parameter(s)",
    ),
    (
        "002",
        Class::Fixed(ErrorKind::Unauthorized),
        "IP address not allowed or wrong Client ID",
    ),
    (
        "004",
        Class::Fixed(ErrorKind::Misconfigured),
        "Service not found",
    ),
    (
        "005",
        Class::Fixed(ErrorKind::Misconfigured),
        "Service not defined",
    ),
    (
        "006",
        Class::Fixed(ErrorKind::Rejected),
        "Invalid VA Number",
    ),
    (
        "007",
        Class::Fixed(ErrorKind::Rejected),
        "Invalid Billing Number",
    ),
    ("008", Class::Indeterminate, "Technical Failure"),
    ("009", Class::Indeterminate, "Unexpected Error"),
    ("010", Class::Indeterminate, "Request Timeout"),
    (
        "011",
        Class::Fixed(ErrorKind::Rejected),
        "Billing type does not match billing amount",
    ),
    (
        "012",
        Class::Fixed(ErrorKind::Rejected),
        "Invalid expiry date/time",
    ),
    (
        "013",
        Class::Fixed(ErrorKind::Rejected),
        "IDR currency cannot have billing amount with decimal fraction",
    ),
    (
        "014",
        Class::Fixed(ErrorKind::Rejected),
        "VA Number should not be defined when Billing Number is set",
    ),
    (
        "015",
        Class::Fixed(ErrorKind::Unauthorized),
        "Invalid Permission(s)",
    ),
    (
        "016",
        Class::Fixed(ErrorKind::Rejected),
        "Invalid Billing Type",
    ),
    (
        "017",
        Class::Fixed(ErrorKind::Rejected),
        "Customer Name cannot be used",
    ),
    (
        "100",
        Class::Fixed(ErrorKind::Conflict),
        "Billing has been paid",
    ),
    (
        "101",
        Class::Fixed(ErrorKind::NotFound),
        "Billing not found",
    ),
    (
        "102",
        Class::Fixed(ErrorKind::Duplicate),
        "VA Number is in use",
    ),
    (
        "103",
        Class::Fixed(ErrorKind::Conflict),
        "Billing has been expired",
    ),
    (
        "104",
        Class::Fixed(ErrorKind::Duplicate),
        "Billing Number is in use",
    ),
    (
        "105",
        Class::Fixed(ErrorKind::Duplicate),
        "Duplicate Billing ID",
    ),
    (
        "107",
        Class::Fixed(ErrorKind::Conflict),
        "Amount can not be changed",
    ),
    ("108", Class::Fixed(ErrorKind::NotFound), "Data not found"),
    (
        "110",
        Class::Fixed(ErrorKind::RateLimited),
        "Exceed Daily Limit Transaction",
    ),
    // Only `createbillingsms` answers 200, which we never send; the billing may exist.
    ("200", Class::Indeterminate, "Failed to send SMS Payment"),
    (
        "201",
        Class::Fixed(ErrorKind::Rejected),
        "SMS Payment can only be used with Fixed Payment",
    ),
    (
        "801",
        Class::Fixed(ErrorKind::Rejected),
        "Billing type not supported for this Client ID",
    ),
    (
        "996",
        Class::Fixed(ErrorKind::RateLimited),
        "Too many inquiry request per hour",
    ),
    // A.7 lists 997 among the indeterminate codes for create/update: it is not known
    // whether "offline" is decided before or after the billing is written.
    ("997", Class::Indeterminate, "System is temporarily offline"),
    // Our own bug (the Content-Type header), not something a retry fixes.
    (
        "998",
        Class::Fixed(ErrorKind::Misconfigured),
        "\"Content-Type\" header not defined as it should be",
    ),
    ("999", Class::Indeterminate, "Internal Error"),
];

/// The kind of a BNI status code for `op`; unknown codes are [`ErrorKind::Protocol`]
/// (ambiguous: resolve by inquiry, never treat as final).
pub(crate) fn kind_for_code(code: &str, op: Operation) -> ErrorKind {
    match lookup(code) {
        Some((Class::Fixed(kind), _)) => kind,
        Some((Class::Indeterminate, _)) => op.indeterminate(),
        None => ErrorKind::Protocol,
    }
}

fn lookup(code: &str) -> Option<(Class, &'static str)> {
    STATUS_TABLE
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|&(_, class, message)| (class, message))
}

/// Everything that can go wrong on an outgoing call, before it becomes a [`ProviderError`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The request asks for something this instance is not set up for; nothing was sent.
    #[error("{0}")]
    Unsupported(&'static str),
    /// Our own request could not be encoded; nothing was sent.
    #[error("cannot encode the request: {0}")]
    Encode(#[source] serde_json::Error),
    /// The request could not be built (a bad URL); nothing was sent.
    #[error("cannot build the request: {0}")]
    Build(#[source] reqwest::Error),
    /// No connection could be made: the request never left.
    #[error("cannot connect to BNI: {0}")]
    Connect(#[source] reqwest::Error),
    /// The request may have been sent, but no complete answer came back in time.
    #[error("no complete answer from BNI: {0}")]
    Transport(#[source] reqwest::Error),
    /// An HTTP error status without a readable BNI envelope.
    #[error("BNI answered HTTP {0}")]
    Http(u16),
    /// The answer was larger than we read.
    #[error("BNI answer exceeds {0} bytes")]
    BodyTooLarge(usize),
    /// The answer is not what the protocol says it should be.
    #[error("malformed BNI answer: {0}")]
    Malformed(&'static str),
    /// The answer's `data` failed decryption or the freshness window.
    #[error("BNI answer data refused: {0}")]
    Sealed(#[from] OpenError),
    /// BNI answered a status other than `000`.
    #[error("{}", status_message(code, message.as_deref()))]
    Status {
        /// Which call it was.
        op: Operation,
        /// BNI's status code.
        code: String,
        /// BNI's message, if any.
        message: Option<String>,
    },
}

impl Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Unsupported(_) | Error::Encode(_) => ErrorKind::Rejected,
            Error::Build(_) => ErrorKind::Misconfigured,
            Error::Connect(_) => ErrorKind::Unavailable,
            Error::Transport(_) => ErrorKind::Timeout,
            Error::Http(status) => kind_for_http(*status),
            Error::BodyTooLarge(_) | Error::Malformed(_) | Error::Sealed(_) => ErrorKind::Protocol,
            Error::Status { op, code, .. } => kind_for_code(code, *op),
        }
    }
}

/// An HTTP status without a BNI envelope. BNI itself answers business outcomes in the
/// body (A.1), so these come from whatever stands in front of it.
fn kind_for_http(status: u16) -> ErrorKind {
    match status {
        // A proxy gave up waiting for BNI: the request may have arrived.
        504 => ErrorKind::Timeout,
        500..=599 => ErrorKind::Unavailable,
        429 => ErrorKind::RateLimited,
        401 | 403 => ErrorKind::Unauthorized,
        // Redirects are disabled; a redirect or a missing route means a wrong base_url.
        300..=399 | 404 | 405 => ErrorKind::Misconfigured,
        _ => ErrorKind::Protocol,
    }
}

/// The table's text for a known code; for an unknown one, BNI's own, shortened.
fn status_message(code: &str, message: Option<&str>) -> String {
    match (lookup(code), message) {
        (Some((_, known)), _) => known.to_owned(),
        (None, Some(text)) => text.chars().take(MAX_MESSAGE_CHARS).collect(),
        (None, None) => format!("unknown BNI status {code:?}"),
    }
}

impl From<Error> for ProviderError {
    fn from(error: Error) -> Self {
        let kind = error.kind();
        let message = error.to_string();
        match error {
            Error::Status { code, .. } => ProviderError::with_code(kind, code, message),
            _ => ProviderError::new(kind, message),
        }
    }
}

/// Why a payment callback was refused (A.4.3, A.4.4, A.5). Messages never carry the
/// decrypted payload.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallbackError {
    /// The body is not the `{"client_id","data"}` envelope.
    #[error("not a BNI callback envelope")]
    Envelope,
    /// The envelope (or the decrypted payload) names another client id.
    #[error("callback is for another client id")]
    ClientId,
    /// `data` failed decryption or the freshness window, or is not a JSON object.
    #[error("callback data refused: {0}")]
    Sealed(String),
    /// Decrypted, but a field is missing or ill-formed.
    #[error("callback field {0} is missing or ill-formed")]
    Field(&'static str),
}

impl From<OpenError> for CallbackError {
    fn from(error: OpenError) -> Self {
        CallbackError::Sealed(error.to_string())
    }
}

impl From<CallbackError> for ProviderError {
    fn from(error: CallbackError) -> Self {
        let kind = match error {
            CallbackError::ClientId | CallbackError::Sealed(_) => ErrorKind::InvalidSignature,
            CallbackError::Envelope | CallbackError::Field(_) => ErrorKind::Rejected,
        };
        ProviderError::new(kind, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorKind::{
        Conflict, Duplicate, Misconfigured, NotFound, Protocol, RateLimited, Rejected, Timeout,
        Unauthorized, Unavailable,
    };

    /// A.7 as the brief classifies it: (code, kind for create/update/cancel, kind for inquire).
    const EXPECTED: &[(&str, ErrorKind, ErrorKind)] = &[
        ("001", Rejected, Rejected),
        ("002", Unauthorized, Unauthorized),
        ("004", Misconfigured, Misconfigured),
        ("005", Misconfigured, Misconfigured),
        ("006", Rejected, Rejected),
        ("007", Rejected, Rejected),
        ("008", Timeout, Unavailable),
        ("009", Timeout, Unavailable),
        ("010", Timeout, Unavailable),
        ("011", Rejected, Rejected),
        ("012", Rejected, Rejected),
        ("013", Rejected, Rejected),
        ("014", Rejected, Rejected),
        ("015", Unauthorized, Unauthorized),
        ("016", Rejected, Rejected),
        ("017", Rejected, Rejected),
        ("100", Conflict, Conflict),
        ("101", NotFound, NotFound),
        ("102", Duplicate, Duplicate),
        ("103", Conflict, Conflict),
        ("104", Duplicate, Duplicate),
        ("105", Duplicate, Duplicate),
        ("107", Conflict, Conflict),
        ("108", NotFound, NotFound),
        ("110", RateLimited, RateLimited),
        ("200", Timeout, Unavailable),
        ("201", Rejected, Rejected),
        ("801", Rejected, Rejected),
        ("996", RateLimited, RateLimited),
        ("997", Timeout, Unavailable),
        ("998", Misconfigured, Misconfigured),
        ("999", Timeout, Unavailable),
    ];

    #[test]
    fn every_documented_code_maps_as_the_table_says() {
        for &(code, change, read) in EXPECTED {
            for op in [Operation::Create, Operation::Update, Operation::Cancel] {
                assert_eq!(kind_for_code(code, op), change, "{code} on {op:?}");
            }
            assert_eq!(
                kind_for_code(code, Operation::Inquire),
                read,
                "{code} on inquire"
            );
        }
        assert_eq!(EXPECTED.len(), STATUS_TABLE.len(), "no code left untested");
    }

    #[test]
    fn unknown_codes_are_ambiguous_protocol_errors() {
        for code in ["003", "106", "123", "", "000", "0", "ok"] {
            assert_eq!(kind_for_code(code, Operation::Create), Protocol, "{code:?}");
            assert!(kind_for_code(code, Operation::Create).is_ambiguous());
        }
    }

    #[test]
    fn indeterminate_codes_on_changes_are_never_retryable() {
        for code in ["008", "009", "010", "997", "999"] {
            let kind = kind_for_code(code, Operation::Create);
            assert!(kind.is_ambiguous() && !kind.is_retryable(), "{code}");
        }
    }

    #[test]
    fn provider_error_keeps_the_code_and_the_documented_text() {
        let error = Error::Status {
            op: Operation::Create,
            code: "105".to_owned(),
            message: Some("whatever BNI wrote".to_owned()),
        };
        let converted = ProviderError::from(error);
        assert_eq!(converted.kind, Duplicate);
        assert_eq!(converted.provider_code.as_deref(), Some("105"));
        assert_eq!(converted.message, "Duplicate Billing ID");
    }

    #[test]
    fn unknown_code_passes_on_a_shortened_bni_message() {
        let error = Error::Status {
            op: Operation::Inquire,
            code: "555".to_owned(),
            message: Some("x".repeat(500)),
        };
        let converted = ProviderError::from(error);
        assert_eq!(converted.kind, Protocol);
        assert_eq!(converted.message.len(), MAX_MESSAGE_CHARS);
    }

    #[test]
    fn bare_http_statuses_classify_by_who_answered() {
        assert_eq!(kind_for_http(500), Unavailable);
        assert_eq!(kind_for_http(503), Unavailable);
        assert_eq!(kind_for_http(504), Timeout);
        assert_eq!(kind_for_http(429), RateLimited);
        assert_eq!(kind_for_http(403), Unauthorized);
        assert_eq!(kind_for_http(302), Misconfigured);
        assert_eq!(kind_for_http(404), Misconfigured);
        assert_eq!(kind_for_http(400), Protocol);
    }
}
