//! Pure encodings of SNAP BI: the canonical body for hashing (B.3.2), amount objects
//! (B.5), timestamps (B.2) and `X-EXTERNAL-ID` values.

use contracts::Amount;
use contracts::money::AmountError as ContractAmountError;
use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::error::AmountError;

/// Asia/Jakarta (WIB), the zone of SNAP timestamps without an offset.
pub const JAKARTA: UtcOffset = time::macros::offset!(+7);

/// Deletes JSON whitespace outside string literals (B.3.2). Key order, string contents
/// (`"    8129"`) and escapes (`\u00e9`, `\/`) stay byte for byte: this is not a parse and
/// re-serialisation, which would change such bytes and break the hash.
pub fn minify(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut in_string = false;
    let mut escaped = false;
    for &byte in body {
        if in_string {
            out.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if byte == b'"' {
            in_string = true;
            out.push(byte);
        } else if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(byte);
        }
    }
    out
}

/// Lowercase hex SHA-256 of [`minify`]`(body)`; an empty body hashes the empty string
/// (TV-S7).
pub fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(minify(body)))
}

/// A SNAP amount object, `{"value":"150000.00","currency":"IDR"}` (B.5). `value` is also
/// read from a bare JSON integer, as some senders write it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapAmount {
    /// Decimal text with two decimals.
    #[serde(deserialize_with = "string_or_integer")]
    pub value: String,
    /// ISO 4217 currency; only `IDR` is accepted.
    pub currency: String,
}

impl SnapAmount {
    /// Whole rupiah as SNAP writes them: `"150000.00"`, `"IDR"`.
    pub fn idr(amount: Amount) -> SnapAmount {
        SnapAmount {
            value: format_amount(amount),
            currency: "IDR".to_owned(),
        }
    }

    /// The amount in whole rupiah. Accepts `"150000.00"` and `"150000"`; refuses non-zero
    /// cents (never rounded), negatives, other currencies and anything else.
    pub fn rupiah(&self) -> Result<Amount, AmountError> {
        if self.currency != "IDR" {
            return Err(AmountError::new("currency is not IDR"));
        }
        if self.value.trim_start().starts_with('-') {
            return Err(AmountError::new("negative value"));
        }
        Amount::parse_decimal(&self.value).map_err(|err| {
            AmountError::new(match err {
                ContractAmountError::Fraction => "non-zero cents",
                ContractAmountError::TooLarge => "value too large",
                ContractAmountError::Negative => "negative value",
                ContractAmountError::NotANumber => "value is not a decimal number",
            })
        })
    }
}

fn string_or_integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        String(String),
        Unsigned(u64),
        Signed(i64),
    }
    Ok(match Text::deserialize(deserializer)? {
        Text::String(text) => text,
        Text::Unsigned(n) => n.to_string(),
        Text::Signed(n) => n.to_string(),
    })
}

/// Whole rupiah with two decimals: `"150000.00"`.
pub fn format_amount(amount: Amount) -> String {
    amount.to_snap_string()
}

/// How we write `X-TIMESTAMP` and date fields (B.2: BNI's SDK sends Jakarta time with
/// `+07:00`, DOKU's SDK UTC with `Z`; both whole seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampStyle {
    /// `2024-01-01T10:00:00+07:00`.
    #[default]
    Jakarta,
    /// `2024-01-01T03:00:00Z`.
    Utc,
}

/// Formats `at` in `style`, whole seconds.
pub fn format_timestamp(at: OffsetDateTime, style: TimestampStyle) -> String {
    let (offset, zone) = match style {
        TimestampStyle::Jakarta => (JAKARTA, "+07:00"),
        TimestampStyle::Utc => (UtcOffset::UTC, "Z"),
    };
    let t = at.to_offset(offset);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an ISO 8601 timestamp as SNAP senders write it (B.2, B.5): extended
/// (`2024-01-01T10:00:00+07:00`, `…Z`, `…​.000Z`, fractions of any length, `+0700`) or
/// basic (`20201231T235959Z`). Without an offset the time is Asia/Jakarta.
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    let mut c = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let year = c.number(4)?;
    let extended = c.eat(b'-');
    let month = c.number(2)?;
    c.separator(extended, b'-')?;
    let day = c.number(2)?;
    if !(c.eat(b'T') || c.eat(b't')) {
        return None;
    }
    let hour = c.number(2)?;
    c.separator(extended, b':')?;
    let minute = c.number(2)?;
    c.separator(extended, b':')?;
    let second = c.number(2)?;
    let nanos = c.fraction()?;
    let offset = c.offset()?;
    if !c.done() {
        return None;
    }
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn number(&mut self, len: usize) -> Option<u32> {
        let digits = self.bytes.get(self.at..self.at + len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += len;
        Some(digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.bytes.get(self.at) == Some(&byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// In the extended form the separator is required, in the basic form absent.
    fn separator(&mut self, extended: bool, byte: u8) -> Option<()> {
        (self.eat(byte) == extended).then_some(())
    }

    /// Fractional seconds of any length, truncated to nanoseconds.
    fn fraction(&mut self) -> Option<u32> {
        if !(self.eat(b'.') || self.eat(b',')) {
            return Some(0);
        }
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        let digits = &self.bytes[start..self.at];
        if digits.is_empty() {
            return None;
        }
        let mut nanos = 0u32;
        for i in 0..9 {
            nanos = nanos * 10 + digits.get(i).map_or(0, |d| u32::from(d - b'0'));
        }
        Some(nanos)
    }

    fn offset(&mut self) -> Option<UtcOffset> {
        if self.done() {
            return Some(JAKARTA);
        }
        if self.eat(b'Z') || self.eat(b'z') {
            return Some(UtcOffset::UTC);
        }
        let sign: i8 = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = i8::try_from(self.number(2)?).ok()?;
        self.eat(b':');
        let minutes = i8::try_from(self.number(2)?).ok()?;
        UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

/// A fresh `X-EXTERNAL-ID`: 16 random digits followed by the Unix seconds, 26 digits in
/// all (the form DOKU's SDK sends, B.2). Digits only, the safe reading of the standard.
pub fn external_id() -> String {
    let mut rng = rand::rng();
    let mut id: String = (0..16)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    let seconds = OffsetDateTime::now_utc().unix_timestamp().max(0);
    id.push_str(&format!("{seconds:010}"));
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn amount(rupiah: i64) -> Amount {
        Amount::new(rupiah).expect("amount")
    }

    #[test]
    fn minify_removes_whitespace_outside_strings_only() {
        let body = b"{ \"partnerServiceId\" : \"    8129\",\n\t\"name\": \"Budi  Santoso\" ,\r\n \"list\": [ 1, 2 ] }";
        assert_eq!(
            minify(body),
            br#"{"partnerServiceId":"    8129","name":"Budi  Santoso","list":[1,2]}"#.to_vec()
        );
    }

    #[test]
    fn minify_keeps_escapes_byte_for_byte() {
        let body = br#"{"name": "Jos\u00e9 \"Q\" \\ x", "url": "a\/b", "k": "\\"}"#;
        assert_eq!(
            minify(body),
            br#"{"name":"Jos\u00e9 \"Q\" \\ x","url":"a\/b","k":"\\"}"#.to_vec()
        );
    }

    #[test]
    fn python_sdk_separators_hash_like_the_compact_body() {
        // TV-S5's body as BNI's and DOKU's Python SDKs send it (B.3.2).
        let compact = br#"{"partnerServiceId":"    8123","customerNo":"000000000001","virtualAccountNo":"    8123000000000001","virtualAccountName":"Budi","trxId":"INV-0001","totalAmount":{"value":"150000.00","currency":"IDR"},"virtualAccountTrxType":"C","expiredDate":"2024-01-02T10:00:00+07:00","additionalInfo":{}}"#;
        let spaced = br#"{"partnerServiceId": "    8123", "customerNo": "000000000001", "virtualAccountNo": "    8123000000000001", "virtualAccountName": "Budi", "trxId": "INV-0001", "totalAmount": {"value": "150000.00", "currency": "IDR"}, "virtualAccountTrxType": "C", "expiredDate": "2024-01-02T10:00:00+07:00", "additionalInfo": {}}"#;
        let expected = "44406f98cf12909ba85912f068de956411b1881ca9a9dbdeeb0e9348c887041e";
        assert_eq!(body_hash(compact), expected);
        assert_eq!(body_hash(spaced), expected);
    }

    #[test]
    fn body_hash_vectors_tv_s2_s3_s6_s7_and_astrapay() {
        let cases: [(&[u8], &str); 5] = [
            (
                br#"{"partnerReferenceNo":"2020102900000000000001","amount":{"value":"12345678.00","currency":"IDR"},"feeAmount":{"value":"12345678.00","currency":"IDR"},"merchantId":"00007100010926","terminalId":"213141251124","validityPeriod":"2009-07-03T12:08:56-07:00"}"#,
                "01463f60dbb6ca538581579dd95b31c8ba9fc6600eca750e4d8460ca4e402111",
            ),
            (
                br#"{"originalPartnerReferenceNo":"GP24043015193402809","originalReferenceNo":"A120240430081940S9vu8gSjaRID","merchantId":"G099333790","amount":{"value":"102800.00","currency":"IDR"},"latestTransactionStatus":"00","transactionStatusDesc":"SUCCESS","additionalInfo":{"refundHistory":[]}}"#,
                "79ebbe6a6b695262dd686d0dedafc57c94e3b3dededf8d63971f8a95699ace85",
            ),
            (
                crate::sign::tests::TV_S6_BODY.as_bytes(),
                "857d9f56d1dae91605873fa12470c8afcf92467aee7bcff6c5979e0f3045d766",
            ),
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                br#"{"partnerReferenceNo":"TRX001","merchantId":"M-1","amount":{"value":"10000.00","currency":"IDR"},"additionalInfo":{"description":"Test"}}"#,
                "be2f3d842954f823cbf60fdd93ccde23f5bb48a62828066708a1b86248d2d319",
            ),
        ];
        for (body, hash) in cases {
            assert_eq!(body_hash(body), hash);
        }
        // AstraPay §1.4: a request without a body hashes `{}`.
        assert_eq!(
            body_hash(b"{}"),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn amounts_format_and_parse() {
        let snap = SnapAmount::idr(amount(150_000));
        assert_eq!(
            serde_json::to_string(&snap).expect("json"),
            r#"{"value":"150000.00","currency":"IDR"}"#
        );
        assert_eq!(format_amount(amount(0)), "0.00");
        assert_eq!(snap.rupiah(), Ok(amount(150_000)));
        let bare = SnapAmount {
            value: "150000".into(),
            currency: "IDR".into(),
        };
        assert_eq!(bare.rupiah(), Ok(amount(150_000)));
        let number: SnapAmount =
            serde_json::from_str(r#"{"value":150000,"currency":"IDR"}"#).expect("json");
        assert_eq!(number.rupiah(), Ok(amount(150_000)));
    }

    #[test]
    fn amounts_refuse_cents_negatives_currencies_and_garbage() {
        for (value, currency) in [
            ("150000.50", "IDR"),
            ("-1.00", "IDR"),
            ("150000.00", "USD"),
            ("abc", "IDR"),
            ("", "IDR"),
            ("1e5", "IDR"),
            ("1.2.3", "IDR"),
        ] {
            let snap = SnapAmount {
                value: value.into(),
                currency: currency.into(),
            };
            assert!(snap.rupiah().is_err(), "{value} {currency}");
        }
    }

    #[test]
    fn timestamps_format_in_both_styles() {
        let at = datetime!(2024-01-01 03:00:00.750 UTC);
        assert_eq!(
            format_timestamp(at, TimestampStyle::Jakarta),
            "2024-01-01T10:00:00+07:00"
        );
        assert_eq!(
            format_timestamp(at, TimestampStyle::Utc),
            "2024-01-01T03:00:00Z"
        );
        let style: TimestampStyle = serde_json::from_str(r#""utc""#).expect("json");
        assert_eq!(style, TimestampStyle::Utc);
        assert_eq!(TimestampStyle::default(), TimestampStyle::Jakarta);
    }

    #[test]
    fn timestamps_parse_in_every_accepted_form() {
        let expected = datetime!(2024-01-01 03:00:00 UTC);
        for text in [
            "2024-01-01T10:00:00+07:00",
            "2024-01-01T03:00:00Z",
            "2024-01-01T03:00:00.000Z",
            "2024-01-01T10:00:00",
            "2024-01-01T10:00:00+0700",
            "2024-01-01T02:00:00-01:00",
            "20240101T030000Z",
            "20240101T100000+0700",
        ] {
            assert_eq!(parse_timestamp(text), Some(expected), "{text}");
        }
        assert_eq!(
            parse_timestamp("2024-03-01T08:27:49.024Z"),
            Some(datetime!(2024-03-01 08:27:49.024 UTC))
        );
        assert_eq!(
            parse_timestamp("2024-03-01T08:27:49.123456789123Z"),
            Some(datetime!(2024-03-01 08:27:49.123456789 UTC))
        );
        assert_eq!(
            parse_timestamp("2024-03-01T08:27:49.5"),
            Some(datetime!(2024-03-01 01:27:49.5 UTC))
        );
    }

    #[test]
    fn timestamps_refuse_malformed_text() {
        for text in [
            "",
            "2024-01-01",
            "2024-01-01 10:00:00+07:00",
            "2024-13-01T10:00:00Z",
            "2024-02-30T10:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T10:00:00.Z",
            "2024-01-01T10:00:00+7",
            "2024-01-01T10:00:00Zjunk",
            "2024-0101T10:00:00Z",
            "1704078000",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
    }

    #[test]
    fn external_ids_are_26_digits_and_differ() {
        let a = external_id();
        let b = external_id();
        assert_eq!(a.len(), 26);
        assert!(a.bytes().all(|d| d.is_ascii_digit()));
        assert_ne!(a, b);
    }
}
