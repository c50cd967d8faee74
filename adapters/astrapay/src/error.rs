//! The operations AstraPay serves us, their service codes and `CHANNEL-ID`s (1.8, 1.9), and
//! how each one's response codes (1.11) become a [`contracts::ErrorKind`].

use adapter_snap::client::Answer;
use adapter_snap::code::{ResponseCode, error_kind};
use contracts::{ErrorKind, ProviderError};

/// Longest piece of an AstraPay `responseMessage` passed on to operators.
const MAX_MESSAGE_CHARS: usize = 150;

/// One outbound AstraPay service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    /// Direct debit, push-to-pay (1.8).
    DebitPayment,
    /// Direct-debit status (1.8).
    DebitStatus,
    /// Direct-debit refund (1.8).
    DebitRefund,
    /// QRIS MPM generate (1.9).
    QrGenerate,
    /// QRIS MPM query (1.9).
    QrQuery,
    /// QRIS MPM refund (1.9).
    QrRefund,
}

impl Operation {
    /// The SNAP service code: digits 4–5 of every response code of this call.
    pub(crate) fn service(self) -> u8 {
        match self {
            Operation::DebitPayment => 54,
            Operation::DebitStatus => 55,
            Operation::DebitRefund => 58,
            Operation::QrGenerate => 47,
            Operation::QrQuery => 51,
            Operation::QrRefund => 78,
        }
    }

    /// The fixed `CHANNEL-ID` AstraPay requires on this service (1.8, 1.9 tables).
    pub(crate) fn channel_id(self) -> &'static str {
        match self {
            Operation::DebitPayment => "00854",
            Operation::DebitStatus => "00155",
            Operation::DebitRefund => "00258",
            Operation::QrGenerate => "00447",
            Operation::QrQuery => "00551",
            Operation::QrRefund => "01878",
        }
    }

    /// Whether the call moves money: then an answer that does not tell the outcome is
    /// ambiguous ([`ErrorKind::Timeout`]), never "safe to retry".
    pub(crate) fn moves_money(self) -> bool {
        match self {
            Operation::DebitPayment
            | Operation::DebitRefund
            | Operation::QrGenerate
            | Operation::QrRefund => true,
            Operation::DebitStatus | Operation::QrQuery => false,
        }
    }
}

/// What a readable answer means for `op`: `Ok` for a 2xx of the operation's service (the
/// caller tells `200` from `202`), else the error it stands for.
pub(crate) fn classify(op: Operation, answer: &Answer) -> Result<(), ProviderError> {
    let code = answer.code;
    if (code.is_success() || code.is_in_progress()) && code.service == op.service() {
        return Ok(());
    }
    Err(ProviderError::with_code(
        kind_of(op, code),
        code.to_string(),
        short(&answer.message),
    ))
}

/// The kind of a non-success `code` for `op`.
///
/// | code | kind | why |
/// |---|---|---|
/// | 2xx of another service | Protocol | not an answer to this call |
/// | `404xx08` Invalid Merchant (`4045108` on QRIS), `4044717` Invalid Terminal | Misconfigured | our `merchant_id` / `terminalId` |
/// | 5xx on create or refund | Timeout | 1.11 `500xx01`: "merchant must check the status" |
/// | 5xx on status or query | Unavailable | a read changed nothing |
/// | `4095401`, `4094701` duplicate `partnerReferenceNo` | Duplicate | (SNAP 409 case 01) |
/// | `4045501` / `404xx01` | NotFound | (SNAP 404 case 01) |
/// | `4045800` invalid status | Conflict | (SNAP 404 case 00) |
/// | `4035802` exceeds amount, `4045813` invalid amount, `4035814`, `4035815`, `4035823`, `4035415` | Rejected | (SNAP 403, other 404) |
/// | anything else | the SNAP table of `adapter_snap::code::error_kind` | |
fn kind_of(op: Operation, code: ResponseCode) -> ErrorKind {
    match (code.http, code.service, code.case) {
        (200..=299, _, _) => ErrorKind::Protocol,
        (404, _, 8) | (404, 47, 17) => ErrorKind::Misconfigured,
        (500..=599, _, _) if op.moves_money() => ErrorKind::Timeout,
        (500..=599, _, _) => ErrorKind::Unavailable,
        _ => error_kind(code).unwrap_or(ErrorKind::Protocol),
    }
}

/// A success answer to `op` that lacks what the call needs. [`ErrorKind::Protocol`] is
/// ambiguous: after a money-moving call the gateway resolves it by status.
pub(crate) fn malformed(op: Operation, what: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Protocol,
        format!("astrapay answer to {op:?}: {what}"),
    )
}

/// `responseMessage` as an operator sees it: bounded, in case a proxy returns a page.
fn short(message: &str) -> String {
    message.chars().take(MAX_MESSAGE_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(code: &str) -> Answer {
        let code = ResponseCode::parse(code).expect("code");
        Answer {
            http_status: code.http,
            code,
            message: "message".to_owned(),
            body: serde_json::json!({}),
        }
    }

    fn kind(op: Operation, code: &str) -> Option<ErrorKind> {
        classify(op, &answer(code)).err().map(|err| err.kind)
    }

    #[test]
    fn services_and_channel_ids_are_those_of_the_tables() {
        let table = [
            (Operation::DebitPayment, 54, "00854"),
            (Operation::DebitStatus, 55, "00155"),
            (Operation::DebitRefund, 58, "00258"),
            (Operation::QrGenerate, 47, "00447"),
            (Operation::QrQuery, 51, "00551"),
            (Operation::QrRefund, 78, "01878"),
        ];
        for (op, service, channel) in table {
            assert_eq!((op.service(), op.channel_id()), (service, channel));
            // Every CHANNEL-ID ends in its service code (1.1).
            assert!(channel.ends_with(&format!("{service:02}")));
        }
    }

    #[test]
    fn success_and_in_progress_of_the_service_are_ok() {
        assert_eq!(kind(Operation::DebitPayment, "2005400"), None);
        assert_eq!(kind(Operation::DebitRefund, "2025800"), None);
        assert_eq!(kind(Operation::QrRefund, "2007800"), None);
        assert_eq!(
            kind(Operation::DebitPayment, "2005500"),
            Some(ErrorKind::Protocol)
        );
    }

    #[test]
    fn documented_codes_map_to_their_kinds() {
        use ErrorKind::{Conflict, Duplicate, Misconfigured, NotFound, Rejected, Unauthorized};
        let table = [
            (Operation::DebitPayment, "4095401", Duplicate),
            (Operation::QrGenerate, "4094701", Duplicate),
            (Operation::DebitPayment, "4035415", Rejected),
            (Operation::DebitPayment, "4035405", Rejected),
            (Operation::DebitPayment, "4015400", Unauthorized),
            (Operation::DebitPayment, "4045408", Misconfigured),
            (Operation::QrGenerate, "4044717", Misconfigured),
            (Operation::QrQuery, "4045108", Misconfigured),
            (Operation::DebitStatus, "4045501", NotFound),
            (Operation::QrQuery, "4045101", NotFound),
            (Operation::DebitRefund, "4035802", Rejected),
            (Operation::DebitRefund, "4045813", Rejected),
            (Operation::DebitRefund, "4035814", Rejected),
            (Operation::DebitRefund, "4045800", Conflict),
            (Operation::DebitPayment, "4005402", Rejected),
        ];
        for (op, code, expected) in table {
            assert_eq!(kind(op, code), Some(expected), "{code}");
        }
    }

    #[test]
    fn server_errors_are_ambiguous_only_where_money_moves() {
        for code in ["5005400", "5005401", "5045400"] {
            assert_eq!(
                kind(Operation::DebitPayment, code),
                Some(ErrorKind::Timeout)
            );
        }
        assert_eq!(
            kind(Operation::DebitRefund, "5005801"),
            Some(ErrorKind::Timeout)
        );
        assert_eq!(
            kind(Operation::QrRefund, "5037800"),
            Some(ErrorKind::Timeout)
        );
        assert_eq!(
            kind(Operation::DebitStatus, "5005501"),
            Some(ErrorKind::Unavailable)
        );
    }

    #[test]
    fn errors_carry_the_code_and_a_bounded_message() {
        let mut long = answer("4095401");
        long.message = "x".repeat(1000);
        let err = classify(Operation::DebitPayment, &long).expect_err("duplicate");
        assert_eq!(err.provider_code.as_deref(), Some("4095401"));
        assert_eq!(err.message.len(), MAX_MESSAGE_CHARS);
    }
}
