//! What can go wrong calling Digiflazz, and how each failure maps into the gateway's one
//! taxonomy ([`contracts::ProviderError`]).
//!
//! Digiflazz refuses with HTTP 200 and `data.status: "Gagal"` plus an `rc` (§1.4). The codes
//! whose transaction is not formed ("Terbentuk Transaksi: Tidak") mean nothing was booked
//! and map onto a kind here; a formed `Gagal` on a purchase, payment or status is a final
//! `Failed` state and never reaches this module.
//!
//! Purchase and payment move money: an answer that did not arrive, or arrived unreadable,
//! leaves the outcome unknown ([`ErrorKind::Timeout`]). Every other call is safe to ask
//! again, so the same failures are only [`ErrorKind::Unavailable`].

use contracts::{ErrorKind, ProviderError};

/// The calls the adapter makes, for classification and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `POST /v1/cek-saldo` (§1.3.1).
    Balance,
    /// `POST /v1/price-list` (§1.3.2).
    PriceList,
    /// `POST /v1/deposit` (§1.3.3).
    DepositTicket,
    /// `POST /v1/transaction`, prepaid topup (§1.3.4).
    Purchase,
    /// `POST /v1/transaction`, `inq-pasca` (§1.3.5).
    Inquire,
    /// `POST /v1/transaction`, `pay-pasca` (§1.3.6).
    Pay,
    /// `POST /v1/transaction`: the prepaid topup re-sent (§1.3.4) or `status-pasca`
    /// (§1.3.7).
    Status,
    /// `POST /v1/inquiry-pln` (§1.3.8).
    ValidateCustomer,
}

impl Operation {
    /// A stable name for logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Operation::Balance => "balance",
            Operation::PriceList => "price_list",
            Operation::DepositTicket => "deposit_ticket",
            Operation::Purchase => "purchase",
            Operation::Inquire => "inquire",
            Operation::Pay => "pay",
            Operation::Status => "status",
            Operation::ValidateCustomer => "validate_customer",
        }
    }

    /// Whether the call moves money, so that a lost or unreadable answer may hide a
    /// purchase or payment.
    pub(crate) fn moves_money(self) -> bool {
        match self {
            Operation::Purchase | Operation::Pay => true,
            Operation::Balance
            | Operation::PriceList
            | Operation::DepositTicket
            | Operation::Inquire
            | Operation::Status
            | Operation::ValidateCustomer => false,
        }
    }

    /// The most of an answer the adapter reads: the full price list runs to megabytes,
    /// every other answer to a few hundred bytes.
    pub(crate) fn max_body_bytes(self) -> usize {
        match self {
            Operation::PriceList => 32 * 1024 * 1024,
            _ => 1024 * 1024,
        }
    }

    /// The kind of a failure that leaves the outcome unknown.
    fn unknown_outcome(self) -> ErrorKind {
        if self.moves_money() {
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
    /// The request could not be signed (OpenSSL without MD5); nothing was sent.
    #[error("cannot compute Digiflazz's request signature (MD5 unavailable)")]
    Signing,
    /// No connection could be made (refused, DNS, TLS): the request never left.
    #[error("could not connect to Digiflazz")]
    Connect(#[source] reqwest::Error),
    /// The deadline elapsed after the request may have been sent.
    #[error("Digiflazz did not answer in time")]
    Timeout(#[source] reqwest::Error),
    /// The exchange broke off after the request may have been sent.
    #[error("the exchange with Digiflazz broke off")]
    Transport(#[source] reqwest::Error),
    /// An answer longer than the adapter reads.
    #[error("Digiflazz's answer is larger than {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// A non-2xx answer that is not a Digiflazz answer (no `data.rc` / `data.status`).
    #[error("Digiflazz answered HTTP {status}")]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// A 2xx answer that does not tell the outcome (not JSON, no `data`, no
    /// `data.status`).
    #[error("Digiflazz's answer is unreadable: {0}")]
    Unreadable(&'static str),
    /// Digiflazz refused: `status: "Gagal"` with this `rc` where the operation has no
    /// `Failed` state, or a code that books nothing.
    #[error("{message}")]
    Refused {
        /// Digiflazz's `rc`.
        rc: String,
        /// Digiflazz's `message`, cleaned; it never carries the request's data.
        message: String,
    },
    /// A readable answer that contradicts the protocol.
    #[error("Digiflazz's answer contradicts the protocol: {0}")]
    Protocol(&'static str),
    /// An amount field that is not a whole, non-negative number of rupiah.
    #[error("Digiflazz's `{0}` is not a whole rupiah amount")]
    Amount(&'static str),
    /// A field the answer must carry is missing.
    #[error("Digiflazz's answer has no `{0}`")]
    Missing(&'static str),
    /// An inquiry answered neither `Sukses` nor `Gagal` (§1.1: inquiries are final at
    /// once): no bill and no refusal; asking again is safe.
    #[error("Digiflazz gave no final answer to the inquiry")]
    Undecided {
        /// Digiflazz's `rc`.
        rc: String,
    },
}

/// The kind of a `Gagal` whose transaction is not formed (§1.4 "Terbentuk Transaksi:
/// Tidak"): nothing was booked. `None` for every other code.
pub(crate) fn unformed_kind(rc: &str) -> Option<ErrorKind> {
    let kind = match rc {
        "44" => ErrorKind::InsufficientBalance,
        "41" | "42" | "45" => ErrorKind::Unauthorized,
        // The ref_id was used before: the gateway treats it as ambiguous and asks status.
        "49" => ErrorKind::Duplicate,
        "83" => ErrorKind::RateLimited,
        // Seller disrupted, seller cut-off, out of stock: nothing booked, try again later.
        "62" | "66" | "68" => ErrorKind::Unavailable,
        "40" | "43" | "47" | "56" | "61" | "63" | "64" | "65" | "67" | "69" | "80" | "81"
        | "82" | "87" | "88" => ErrorKind::Rejected,
        _ => return None,
    };
    Some(kind)
}

/// Normalizes the failure of `operation`.
pub(crate) fn classify(operation: Operation, err: Error) -> ProviderError {
    let message = err.to_string();
    match err {
        Error::Request(_) => ProviderError::new(ErrorKind::Rejected, message),
        Error::Signing => ProviderError::new(ErrorKind::Misconfigured, message),
        Error::Connect(_) => ProviderError::new(ErrorKind::Unavailable, message),
        Error::Timeout(_) | Error::Transport(_) | Error::TooLarge { .. } | Error::Unreadable(_) => {
            ProviderError::new(operation.unknown_outcome(), message)
        }
        Error::Status { status } => ProviderError::new(kind_of_status(status, operation), message),
        Error::Refused { rc, message } => {
            let kind = unformed_kind(&rc).unwrap_or(ErrorKind::Rejected);
            ProviderError::with_code(kind, rc, message)
        }
        Error::Undecided { rc } => ProviderError::with_code(ErrorKind::Unavailable, rc, message),
        Error::Protocol(_) | Error::Amount(_) | Error::Missing(_) => {
            ProviderError::new(ErrorKind::Protocol, message)
        }
    }
}

/// The kind of a non-2xx answer that is not a Digiflazz answer (a proxy's, a load
/// balancer's): a 4xx says the request was not handled, a 5xx may come after it was.
fn kind_of_status(status: u16, operation: Operation) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Unauthorized,
        408 => ErrorKind::Unavailable,
        429 => ErrorKind::RateLimited,
        400..=499 => ErrorKind::Rejected,
        _ => operation.unknown_outcome(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Operation; 8] = [
        Operation::Balance,
        Operation::PriceList,
        Operation::DepositTicket,
        Operation::Purchase,
        Operation::Inquire,
        Operation::Pay,
        Operation::Status,
        Operation::ValidateCustomer,
    ];

    #[test]
    fn every_unformed_code_of_the_table_has_a_kind_and_formed_codes_have_none() {
        use ErrorKind::Unavailable;
        use ErrorKind::{Duplicate, InsufficientBalance, RateLimited, Rejected, Unauthorized};
        let unformed = [
            ("40", Rejected),
            ("41", Unauthorized),
            ("42", Unauthorized),
            ("43", Rejected),
            ("44", InsufficientBalance),
            ("45", Unauthorized),
            ("47", Rejected),
            ("49", Duplicate),
            ("56", Rejected),
            ("61", Rejected),
            ("62", Unavailable),
            ("63", Rejected),
            ("64", Rejected),
            ("65", Rejected),
            ("66", Unavailable),
            ("67", Rejected),
            ("68", Unavailable),
            ("69", Rejected),
            ("80", Rejected),
            ("81", Rejected),
            ("82", Rejected),
            ("83", RateLimited),
            ("87", Rejected),
            ("88", Rejected),
        ];
        for (rc, kind) in unformed {
            assert_eq!(unformed_kind(rc), Some(kind), "{rc}");
        }
        let formed = [
            "00", "01", "02", "03", "50", "51", "52", "53", "54", "55", "57", "58", "59", "60",
            "70", "71", "72", "73", "74", "84", "85", "86", "99", "", "4", "044",
        ];
        for rc in formed {
            assert_eq!(unformed_kind(rc), None, "{rc}");
        }
    }

    #[test]
    fn a_refusal_keeps_the_code_and_digiflazz_message() {
        for operation in ALL {
            let err = classify(
                operation,
                Error::Refused {
                    rc: "44".to_owned(),
                    message: "Saldo tidak cukup".to_owned(),
                },
            );
            assert_eq!(err.kind, ErrorKind::InsufficientBalance);
            assert!(!err.is_retryable());
            assert_eq!(err.provider_code.as_deref(), Some("44"));
            assert_eq!(err.message, "Saldo tidak cukup");
            let err = classify(
                operation,
                Error::Refused {
                    rc: "54".to_owned(),
                    message: "Nomor tujuan salah".to_owned(),
                },
            );
            assert_eq!(err.kind, ErrorKind::Rejected);
            assert_eq!(err.provider_code.as_deref(), Some("54"));
        }
    }

    #[test]
    fn lost_answers_are_ambiguous_only_where_money_moves() {
        for operation in ALL {
            let expected = if operation.moves_money() {
                ErrorKind::Timeout
            } else {
                ErrorKind::Unavailable
            };
            for err in [
                Error::Unreadable("not JSON"),
                Error::TooLarge { limit: 1 },
                Error::Status { status: 500 },
                Error::Status { status: 502 },
                Error::Status { status: 503 },
                Error::Status { status: 504 },
                Error::Status { status: 302 },
            ] {
                assert_eq!(classify(operation, err).kind, expected, "{operation:?}");
            }
        }
        assert!(Operation::Purchase.moves_money() && Operation::Pay.moves_money());
        assert!(!Operation::Status.moves_money());
    }

    #[test]
    fn other_answers_map_the_same_for_every_operation() {
        for operation in ALL {
            let kind = |err| classify(operation, err).kind;
            assert_eq!(kind(Error::Status { status: 400 }), ErrorKind::Rejected);
            assert_eq!(kind(Error::Status { status: 404 }), ErrorKind::Rejected);
            assert_eq!(kind(Error::Status { status: 401 }), ErrorKind::Unauthorized);
            assert_eq!(kind(Error::Status { status: 403 }), ErrorKind::Unauthorized);
            assert_eq!(kind(Error::Status { status: 408 }), ErrorKind::Unavailable);
            assert_eq!(kind(Error::Status { status: 429 }), ErrorKind::RateLimited);
            assert_eq!(kind(Error::Request("x")), ErrorKind::Rejected);
            assert_eq!(kind(Error::Signing), ErrorKind::Misconfigured);
            assert_eq!(kind(Error::Protocol("x")), ErrorKind::Protocol);
            assert_eq!(kind(Error::Amount("price")), ErrorKind::Protocol);
            assert_eq!(kind(Error::Missing("price")), ErrorKind::Protocol);
            let undecided = classify(
                operation,
                Error::Undecided {
                    rc: "03".to_owned(),
                },
            );
            assert_eq!(undecided.kind, ErrorKind::Unavailable);
            assert_eq!(undecided.provider_code.as_deref(), Some("03"));
        }
        let err = classify(Operation::Purchase, Error::Amount("price"));
        assert_eq!(
            err.message,
            "Digiflazz's `price` is not a whole rupiah amount"
        );
    }
}
