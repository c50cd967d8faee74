//! SNAP response codes (B.6): HTTP status (3 digits) + service code (2) + case code (2).

use contracts::ErrorKind;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 7-digit SNAP `responseCode`, e.g. `2002700` (200 / create-va / success).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResponseCode {
    /// The HTTP status part (`200`, `401`, …).
    pub http: u16,
    /// The service code (`27` create-va, `73` token, …; some providers send `00`).
    pub service: u8,
    /// The case code (`00`, `01`, …).
    pub case: u8,
}

impl ResponseCode {
    /// A code from its parts.
    pub fn new(http: u16, service: u8, case: u8) -> Self {
        ResponseCode {
            http,
            service,
            case,
        }
    }

    /// Reads exactly seven ASCII digits, any service code accepted (B.6).
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 7 || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let http = text[0..3].parse().ok()?;
        let service = text[3..5].parse().ok()?;
        let case = text[5..7].parse().ok()?;
        if http < 100 {
            return None;
        }
        Some(ResponseCode::new(http, service, case))
    }

    /// HTTP 200: the operation succeeded.
    pub fn is_success(&self) -> bool {
        self.http == 200
    }

    /// HTTP 202: accepted, still being processed.
    pub fn is_in_progress(&self) -> bool {
        self.http == 202
    }
}

impl std::fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:03}{:02}{:02}", self.http, self.service, self.case)
    }
}

impl Serialize for ResponseCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ResponseCode {
    /// From a JSON string (`"2002700"`) or a bare number (`2003000`, as in BI's samples).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CodeVisitor)
    }
}

struct CodeVisitor;

impl Visitor<'_> for CodeVisitor {
    type Value = ResponseCode;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a 7-digit SNAP response code")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<ResponseCode, E> {
        ResponseCode::parse(text).ok_or_else(|| E::custom("not a 7-digit SNAP response code"))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<ResponseCode, E> {
        self.visit_str(&n.to_string())
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<ResponseCode, E> {
        self.visit_str(&n.to_string())
    }
}

/// The generic meaning of a failure code (B.6); `None` for 2xx. Adapters refine it per
/// service where a provider's use of a case differs.
pub fn error_kind(code: ResponseCode) -> Option<ErrorKind> {
    let kind = match (code.http, code.case) {
        (200..=299, _) => return None,
        (400 | 403, _) => ErrorKind::Rejected,
        (401, _) => ErrorKind::Unauthorized,
        (404, 1) => ErrorKind::NotFound,
        // Paid bill, expired bill, invalid transaction status, cancelled.
        (404, 14 | 19 | 0 | 4) => ErrorKind::Conflict,
        (404, _) => ErrorKind::Rejected,
        (405, _) => ErrorKind::NotSupported,
        // Same X-EXTERNAL-ID twice in one day.
        (409, 0) => ErrorKind::Conflict,
        (409, 1) => ErrorKind::Duplicate,
        (429, _) => ErrorKind::RateLimited,
        // "General error" / "timeout": the merchant must check the status.
        (500 | 504, _) => ErrorKind::Timeout,
        (503, _) => ErrorKind::Unavailable,
        _ => ErrorKind::Protocol,
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_seven_digits() {
        let code = ResponseCode::parse("4012700").expect("code");
        assert_eq!(code, ResponseCode::new(401, 27, 0));
        assert_eq!(code.to_string(), "4012700");
        assert_eq!(ResponseCode::new(200, 0, 0).to_string(), "2000000");
        assert_eq!(ResponseCode::new(404, 25, 12).to_string(), "4042512");
        for bad in [
            "", "200270", "20027000", "2OO2700", "+200270", "0002700", " 200270",
        ] {
            assert_eq!(ResponseCode::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn success_and_in_progress() {
        assert!(ResponseCode::new(200, 27, 0).is_success());
        assert!(!ResponseCode::new(202, 27, 0).is_success());
        assert!(ResponseCode::new(202, 27, 0).is_in_progress());
        assert!(!ResponseCode::new(401, 27, 0).is_in_progress());
    }

    #[test]
    fn serde_reads_strings_and_numbers_and_writes_strings() {
        let from_string: ResponseCode = serde_json::from_str(r#""2002700""#).expect("string");
        let from_number: ResponseCode = serde_json::from_str("2003000").expect("number");
        assert_eq!(from_string, ResponseCode::new(200, 27, 0));
        assert_eq!(from_number, ResponseCode::new(200, 30, 0));
        assert_eq!(
            serde_json::to_string(&from_number).expect("json"),
            r#""2003000""#
        );
        for bad in [
            r#""abc""#,
            "123",
            "20030001",
            "null",
            "2003000.5",
            r#""2003000 ""#,
        ] {
            assert!(serde_json::from_str::<ResponseCode>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn error_kind_table() {
        let cases = [
            ("2002700", None),
            ("2022700", None),
            ("4002701", Some(ErrorKind::Rejected)),
            ("4012700", Some(ErrorKind::Unauthorized)),
            ("4012701", Some(ErrorKind::Unauthorized)),
            ("4032705", Some(ErrorKind::Rejected)),
            ("4043001", Some(ErrorKind::NotFound)),
            ("4042714", Some(ErrorKind::Conflict)),
            ("4042719", Some(ErrorKind::Conflict)),
            ("4042700", Some(ErrorKind::Conflict)),
            ("4042704", Some(ErrorKind::Conflict)),
            ("4042712", Some(ErrorKind::Rejected)),
            ("4042713", Some(ErrorKind::Rejected)),
            ("4052700", Some(ErrorKind::NotSupported)),
            ("4092700", Some(ErrorKind::Conflict)),
            ("4092701", Some(ErrorKind::Duplicate)),
            ("4292700", Some(ErrorKind::RateLimited)),
            ("5002700", Some(ErrorKind::Timeout)),
            ("5002701", Some(ErrorKind::Timeout)),
            ("5042700", Some(ErrorKind::Timeout)),
            ("5032700", Some(ErrorKind::Unavailable)),
            ("3022700", Some(ErrorKind::Protocol)),
            ("4182700", Some(ErrorKind::Protocol)),
        ];
        for (text, kind) in cases {
            let code = ResponseCode::parse(text).expect("code");
            assert_eq!(error_kind(code), kind, "{text}");
        }
    }
}
