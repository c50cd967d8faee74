//! "BniEnc" (formerly "BniHashing"), the encryption of the `data` field (spec A.4).
//!
//! A keyed additive shift over 7-bit ASCII, applied twice (client id, then secret key),
//! behind a reversed Unix timestamp, then URL-safe Base64 without padding. It is an
//! obfuscation, not a MAC (A.4.4): a wrong key character corrupts only every `L`-th byte,
//! so callers must also enforce the timestamp window and validate the shape of what
//! decrypts. Everything works on bytes; "now" is always a parameter.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use serde::Serialize;

/// Standard alphabet, padding optional: what A.4.2 step 1 leaves after mapping `-_` back.
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Longest timestamp prefix we read: more digits than any `i64` has cannot be a time.
const MAX_TIMESTAMP_DIGITS: usize = 18;

/// Why a `data` value cannot be decrypted (A.4.2 notes: all of these mean "cannot decrypt").
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecryptError {
    /// Not Base64 in either alphabet.
    #[error("data is not base64")]
    Base64,
    /// No `.` between the timestamp and the JSON.
    #[error("no timestamp separator")]
    NoSeparator,
    /// The part before the first `.` is not a decimal Unix time.
    #[error("timestamp prefix is not a number")]
    Timestamp,
}

/// Why an encrypted message was refused after decryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OpenError {
    /// It does not decrypt to `timestamp.text`.
    #[error("cannot decrypt: {0}")]
    Undecryptable(#[from] DecryptError),
    /// Its timestamp is outside the window (A.4.2 step 4), in either direction.
    #[error("timestamp {skew} s away from now, outside the window")]
    Stale {
        /// `timestamp - now`, seconds.
        skew: i64,
    },
}

/// A decrypted message: its timestamp and the text after the first `.`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Opened {
    /// Unix seconds from the reversed prefix.
    pub timestamp: i64,
    /// The JSON text (pure ASCII by construction: every byte is `< 0x80`).
    pub json: String,
}

/// One client's keys: the client id and the secret key, both used as text (A.4).
pub(crate) struct BniEnc<'a> {
    client_id: &'a [u8],
    secret: &'a [u8],
}

impl<'a> BniEnc<'a> {
    /// Keys for `client_id` and `secret_key`.
    pub(crate) fn new(client_id: &'a str, secret_key: &'a str) -> Self {
        BniEnc {
            client_id: client_id.as_bytes(),
            secret: secret_key.as_bytes(),
        }
    }

    /// Encrypts `json` (which must already be pure ASCII, see [`to_ascii_json`]) stamped
    /// with `unix_secs` (A.4.1).
    pub(crate) fn encrypt(&self, json: &str, unix_secs: i64) -> String {
        let mut plain = timestamp_prefix(unix_secs).into_bytes();
        plain.push(b'.');
        plain.extend_from_slice(json.as_bytes());
        self.encrypt_bytes(&plain)
    }

    /// A.4.1 steps 3 and 4 over raw bytes.
    pub(crate) fn encrypt_bytes(&self, plain: &[u8]) -> String {
        let once = shift_forward(plain, self.client_id);
        URL_SAFE_NO_PAD.encode(shift_forward(&once, self.secret))
    }

    /// A.4.2 steps 1 and 2: Base64 back to the shifted-back bytes.
    pub(crate) fn decrypt_bytes(&self, data: &str) -> Result<Vec<u8>, DecryptError> {
        let standard: String = data
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                other => other,
            })
            .collect();
        let raw = LENIENT_STANDARD
            .decode(standard)
            .map_err(|_| DecryptError::Base64)?;
        Ok(shift_back(&shift_back(&raw, self.client_id), self.secret))
    }

    /// A.4.2 steps 1 to 3: decrypts and splits off the timestamp.
    pub(crate) fn decrypt(&self, data: &str) -> Result<Opened, DecryptError> {
        let plain = self.decrypt_bytes(data)?;
        let dot = plain
            .iter()
            .position(|&b| b == b'.')
            .ok_or(DecryptError::NoSeparator)?;
        let timestamp = parse_reversed_timestamp(&plain[..dot])?;
        // Every byte is < 0x80 after the mod-128 shift, so this is ASCII, hence UTF-8.
        let json =
            String::from_utf8(plain[dot + 1..].to_vec()).map_err(|_| DecryptError::NoSeparator)?;
        Ok(Opened { timestamp, json })
    }

    /// A.4.2 steps 1 to 4: decrypts and enforces `|timestamp - now| <= window`.
    pub(crate) fn open(&self, data: &str, now: i64, window: i64) -> Result<Opened, OpenError> {
        let opened = self.decrypt(data)?;
        check_fresh(opened.timestamp, now, window)?;
        Ok(opened)
    }
}

/// `Ok` when `timestamp` is within `window` seconds of `now`, before or after.
pub(crate) fn check_fresh(timestamp: i64, now: i64, window: i64) -> Result<(), OpenError> {
    let skew = timestamp.saturating_sub(now);
    if skew.unsigned_abs() > window.unsigned_abs() {
        return Err(OpenError::Stale { skew });
    }
    Ok(())
}

/// `reverse(decimal(unix_secs))`: 1700000000 → `"0000000071"` (A.4.1 step 2).
fn timestamp_prefix(unix_secs: i64) -> String {
    unix_secs.to_string().chars().rev().collect()
}

fn parse_reversed_timestamp(prefix: &[u8]) -> Result<i64, DecryptError> {
    let digits_only = prefix.iter().all(u8::is_ascii_digit);
    if prefix.is_empty() || prefix.len() > MAX_TIMESTAMP_DIGITS || !digits_only {
        return Err(DecryptError::Timestamp);
    }
    prefix
        .iter()
        .rev()
        .try_fold(0_i64, |acc, &d| {
            acc.checked_mul(10)?.checked_add(i64::from(d - b'0'))
        })
        .ok_or(DecryptError::Timestamp)
}

/// The key byte for position `i`: PHP's `substr($key, ($i % $L) - 1, 1)`, so byte 0 uses
/// the **last** key character, byte 1 the first, … (A.4.1 step 3).
fn key_byte(key: &[u8], i: usize) -> u16 {
    let len = key.len();
    if len == 0 {
        return 0;
    }
    u16::from(key[(i + len - 1) % len])
}

/// `out[i] = (in[i] + key[(i + L - 1) mod L]) mod 128`.
fn shift_forward(input: &[u8], key: &[u8]) -> Vec<u8> {
    input
        .iter()
        .enumerate()
        .map(|(i, &b)| low7(u16::from(b) + key_byte(key, i)))
        .collect()
}

/// `out[i] = (in[i] - key[(i + L - 1) mod L] + 256) mod 128`.
fn shift_back(input: &[u8], key: &[u8]) -> Vec<u8> {
    input
        .iter()
        .enumerate()
        .map(|(i, &b)| low7(u16::from(b) + 256 - key_byte(key, i)))
        .collect()
}

fn low7(value: u16) -> u8 {
    // `% 128` keeps the value below 128: the cast never truncates.
    (value % 128) as u8
}

/// Compact JSON in which every non-ASCII character is escaped as `\uXXXX` (UTF-16, lower
/// case hex, as PHP's `json_encode` writes it). A.4.1 step 1: a byte `>= 0x80` would lose
/// its top bit in the shift and could never be recovered (TV-8).
pub(crate) fn to_ascii_json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let compact = serde_json::to_string(value)?;
    Ok(escape_non_ascii(&compact))
}

/// Escapes every non-ASCII character of serialized JSON. Non-ASCII characters can only
/// occur inside JSON strings, where `\uXXXX` is always a valid replacement.
fn escape_non_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut units = [0_u16; 2];
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        for unit in c.encode_utf16(&mut units) {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    }
    out
}

/// Credentials and ciphertexts of the spec's own vectors (TV-3..TV-7), shared by the tests
/// of the other modules.
#[cfg(test)]
pub(crate) mod vectors {
    /// Client id of TV-3..TV-7.
    pub(crate) const OUR_CLIENT_ID: &str = "123";
    /// Secret key of TV-3..TV-7.
    pub(crate) const OUR_SECRET: &str = "0123456789abcdef0123456789abcdef";
    /// TV-4, createbilling at 1700000000.
    pub(crate) const TV4_CIPHER: &str = "SRETFRQWGBcgHBgONwgPCHwEHgVIWUtJXk5NfX8BAAR_BQ4GSVFQTlZeS3t4OE85ShMWBxAIXFlhSlN3N044YWU4ERMVFxcKFgtfBgt0eAMHWFBYCB8JGh0aHEJEOEE5e0pPUU1UT0ZdZFp4N044ezkOBkZaWlpXV05dcwF2BHs6HQQmW0lQCxQMTwcHCgQEflNCSlFHUVMLJQx1Cnh_WHxaRVBVU0sWTVhYNj83egsLV1FRS1dGWVBZWnc2UDdHURIVGBgbHh4hJAw_Nwp_CgtXRU9ESElLWV5ZCDVPOU5JFRUUFhUXGRgaHEJERkY5RQNHRlhLXFBWUEl4DQR_CnxGBh0HGRYaHRYcRUBGTGpKFhwZHx8cIhMaI0xERjdDO0VIWEdYUVddVFkBN044bHxVWAVi";

    /// TV-7, payment callback at 1700017200.
    pub(crate) const TV7_CIPHER: &str = "SREVHBUWGBcgHBgONwgIEHZLSAUfCS82QBYbRENGOUI6WUtWWlpIVUdLT3UDCwMLOxsFHRUYGxcZGxpDRURGSEcSFQURCUldXV1aAXgHdgR5UEcGIAcpXkxTDj42CgcPeEJQVFlUXAkjDRtIRURGSDkOBlNGYFNNWF1KdQAEDAQMBRwGFxoXGRgaDj42eQoEDk1EWU1cTUZZTGMAegIKd3hPU1hTWwgiDBogRENFRzhEBVJFX1JMV1xJWgZ2OE85SxQWFhsXChMLT0sHegh_BXxBVEReVEtWXgslNkVFSUlFFBMRFxoHGhgkHEJORkU5RQNHRlhLXFBWUEkDdg0DfQVWQ0xYVh4eGhoNTjVHR0hLEBMVExYcPRkaJkJEUEVHRBEaHxQWCmQ";
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::vectors::{OUR_SECRET, TV4_CIPHER, TV7_CIPHER};

    const BNI_SAMPLE_SECRET: &str = "ea0c88921fb033387e66ef7d1e82ab83";

    const TV1_CIPHER: &str = "GEhHGEwbHh0WE0QNA0ZPTU1VCkVPejghNxFFGgQ9NVxVDnBBAVddWFYDUTQRFBMTGRc3EwgDeFR5BE8KMANACTs3PgJ2XltdUk57BT9IUURRVDcgCQ0OYFRGA0lLfkBLUwIzDTVLXlxWUQN3U0JTTFdVewggOEYfRhNIGhRERBoWOD0CClFaXldCA3FBR0ZSXlUJCSA3TxdEE0UYE0FCGRNFQhBDGgoVBVUICz9MSAUiCkYYGkVGGEQRRhkEPjRcXQV2A00KTFtHQwp3I0xPUFFVfQgSOHpICUYJUk92ck1bBnpSeUwKJAQTR0MVERMaFhdGBxdLURdEHEUYBQ4";
    const TV1_PLAIN: &str = r#"4367935441.{"client_id":"001","trx_amount":"100000","name":"Mr. X","customer_email":"xxx@email.com","customer_phone":"08123123123","virtual_account":"8001000000000001","trx_id":"1230000001","type":"createBilling","datetime_expired":"2015-07-01 16:00:00"}"#;

    const TV2_CIPHER: &str = "GkdDFUMcHh0WE0QNA1ZXRVxcCQggOEYXRQNBC0ZyB0kFUAwCCFpgSUtFOUwCFRUWGRdFFxZFSAlABAtRVQUHSk90c0N2WF1XVwNQNRgTFBQYGEUWF0VGGEQRRhkEPjRLWQgFUABNW0hQQwN3Ax0FMVoVNj4IQjhXdloCTlAFclZXeDMaNhgZHBUVTEgXHBwFFQl5SFp6C1ABR3RYRAp_TlEJNBo1GxgaGA5GSQ0VFwMaG08YGk9GITYNOFxUCnFJUQQGTwcKIwsTEkZCERMFEApXd19TewRbdEICWFd_BwodOEIQRBgYGgReFA";
    const TV2_PLAIN: &str = r#"6224045441.{"status":"000","data":{"trx_id":"1230000001","virtual_account":"8001000000000001","customer_name":"Mr. X","payment_ntb":"0123456789","datetime_payment":"2015-06-23 23:23:09","trx_amount":"100000","payment_amount":"100000"}}"#;

    fn sample_keys() -> BniEnc<'static> {
        BniEnc::new("001", BNI_SAMPLE_SECRET)
    }

    fn our_keys() -> BniEnc<'static> {
        BniEnc::new("123", OUR_SECRET)
    }

    fn decrypt_text(keys: &BniEnc<'_>, data: &str) -> String {
        let bytes = keys.decrypt_bytes(data).expect("base64");
        String::from_utf8(bytes).expect("ascii")
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn tv1_published_ciphertext_decrypts_and_re_encrypts_exactly() {
        let keys = sample_keys();
        assert_eq!(decrypt_text(&keys, TV1_CIPHER), TV1_PLAIN);
        let opened = keys.decrypt(TV1_CIPHER).expect("decrypts");
        assert_eq!(opened.timestamp, 1_445_397_634);
        assert_eq!(keys.encrypt(&opened.json, opened.timestamp), TV1_CIPHER);
        assert_eq!(keys.encrypt_bytes(TV1_PLAIN.as_bytes()), TV1_CIPHER);
    }

    #[test]
    fn tv2_published_ciphertext_decrypts_and_re_encrypts_exactly() {
        let keys = sample_keys();
        assert_eq!(decrypt_text(&keys, TV2_CIPHER), TV2_PLAIN);
        let opened = keys.decrypt(TV2_CIPHER).expect("decrypts");
        assert_eq!(opened.timestamp, 1_445_404_226);
        assert_eq!(keys.encrypt(&opened.json, opened.timestamp), TV2_CIPHER);
    }

    /// A.4.4: the cipher has no integrity. With the last secret character off by one, only
    /// bytes 0, 32, 64, … change: the timestamp moves by one second and the text stays
    /// almost right. This is why the window, the JSON parse and the field-shape checks (and
    /// inquiry before crediting, when configured) carry the real weight.
    #[test]
    fn tv2_with_wrong_last_key_char_decrypts_to_near_plaintext() {
        let wrong = BniEnc::new("001", "ea0c88921fb033387e66ef7d1e82ab84");
        let text = decrypt_text(&wrong, TV2_CIPHER);
        assert!(text.starts_with(r#"5224045441.{"status":"000","data!:{"trx_"#));
        let differing = text
            .bytes()
            .zip(TV2_PLAIN.bytes())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, _)| i % 32)
            .collect::<Vec<_>>();
        assert!(differing.iter().all(|&r| r == 0), "only every 32nd byte");
        let opened = wrong.decrypt(TV2_CIPHER).expect("still has a timestamp");
        assert_eq!(
            opened.timestamp, 1_445_404_225,
            "one second off: window passes"
        );
        assert!(serde_json::from_str::<serde_json::Value>(&opened.json).is_err());
    }

    #[test]
    fn tv3_step_by_step() {
        let plain = b"0000000071.{}";
        let pass1 = shift_forward(plain, b"123");
        assert_eq!(hex(&pass1), "636162636162636169645f2d30");
        let pass2 = shift_forward(&pass1, OUR_SECRET.as_bytes());
        assert_eq!(hex(&pass2), "4911131514161817201c180e12");
        assert_eq!(
            our_keys().encrypt("{}", 1_700_000_000),
            "SRETFRQWGBcgHBgOEg"
        );
        let opened = our_keys().decrypt("SRETFRQWGBcgHBgOEg").expect("decrypts");
        assert_eq!(opened.timestamp, 1_700_000_000);
        assert_eq!(opened.json, "{}");
    }

    #[test]
    fn tv4_create_billing_request_is_exact() {
        let json = r#"{"type":"createbilling","client_id":"123","trx_id":"INV-0001","trx_amount":"150000","billing_type":"c","customer_name":"Budi","customer_email":"budi@example.com","customer_phone":"08123456789","virtual_account":"8123000000000001","datetime_expired":"2023-11-15T23:59:59+07:00","description":"Test"}"#;
        assert_eq!(our_keys().encrypt(json, 1_700_000_000), TV4_CIPHER);
    }

    #[test]
    fn tv5_create_billing_response_is_exact() {
        let cipher = "ThETFRQWGBcgHBgONwp_CgtXRU9ESElLWV5ZCDVPOU5JFRUUFhUXGRgaHEJERkY5RQNXV1xFUUsLJQxcY2pDSEcSFQVi";
        let json = r#"{"virtual_account":"8123000000000001","trx_id":"INV-0001"}"#;
        assert_eq!(our_keys().encrypt(json, 1_700_000_005), cipher);
        let opened = our_keys().decrypt(cipher).expect("decrypts");
        assert_eq!(
            (opened.timestamp, opened.json.as_str()),
            (1_700_000_005, json)
        );
    }

    #[test]
    fn tv6_inquiry_request_is_exact() {
        let cipher = "SREUFRQWGBcgHBgONwgPCHwEHgVOVVddU1tkdnwBA38GSgQQCEhTUk1YYHF9ejdROxIVGAYSCltbY0l8eTZQOmAwOhAVFxYZDGY";
        let json = r#"{"type":"inquirybilling","client_id":"123","trx_id":"INV-0001"}"#;
        assert_eq!(our_keys().encrypt(json, 1_700_000_100), cipher);
    }

    #[test]
    fn tv7_payment_callback_is_exact() {
        let json = r#"{"trx_id":"INV-0001","virtual_account":"8123000000000001","customer_name":"Budi","trx_amount":"150000","payment_amount":"150000","cumulative_payment_amount":"150000","payment_ntb":"233171","datetime_payment":"2023-11-15 10:00:00","datetime_payment_iso8601":"2023-11-15T10:00:00+07:00"}"#;
        assert_eq!(our_keys().encrypt(json, 1_700_017_200), TV7_CIPHER);
        let opened = our_keys().decrypt(TV7_CIPHER).expect("decrypts");
        assert_eq!(
            (opened.timestamp, opened.json.as_str()),
            (1_700_017_200, json)
        );
    }

    #[test]
    fn tv8_raw_utf8_loses_its_top_bits() {
        let keys = our_keys();
        let cipher = keys.encrypt_bytes("0000000071.é".as_bytes());
        assert_eq!(decrypt_text(&keys, &cipher), "0000000071.C)");
    }

    #[test]
    fn ascii_escaping_makes_non_ascii_round_trip() {
        let value = serde_json::json!({"customer_name": "Désirée 😀"});
        let json = to_ascii_json(&value).expect("serializes");
        assert_eq!(
            json,
            r#"{"customer_name":"D\u00e9sir\u00e9e \ud83d\ude00"}"#
        );
        let keys = our_keys();
        let opened = keys
            .decrypt(&keys.encrypt(&json, 1_700_000_000))
            .expect("ok");
        let back: serde_json::Value = serde_json::from_str(&opened.json).expect("json");
        assert_eq!(back, value);
    }

    #[test]
    fn window_is_inclusive_and_applies_both_ways() {
        assert_eq!(check_fresh(1000, 1300, 300), Ok(()));
        assert_eq!(check_fresh(1300, 1000, 300), Ok(()));
        assert_eq!(
            check_fresh(1000, 1301, 300),
            Err(OpenError::Stale { skew: -301 })
        );
        assert_eq!(
            check_fresh(1301, 1000, 300),
            Err(OpenError::Stale { skew: 301 })
        );
        let cipher = our_keys().encrypt("{}", 1_700_000_000);
        assert!(our_keys().open(&cipher, 1_700_000_299, 300).is_ok());
        assert!(our_keys().open(&cipher, 1_700_000_301, 300).is_err());
    }

    #[test]
    fn garbage_does_not_decrypt() {
        let keys = our_keys();
        assert_eq!(keys.decrypt("***"), Err(DecryptError::Base64));
        let no_dot = keys.encrypt_bytes(b"0000000071{}");
        assert_eq!(keys.decrypt(&no_dot), Err(DecryptError::NoSeparator));
        let letters = keys.encrypt_bytes(b"00000x0071.{}");
        assert_eq!(keys.decrypt(&letters), Err(DecryptError::Timestamp));
        let empty = keys.encrypt_bytes(b".{}");
        assert_eq!(keys.decrypt(&empty), Err(DecryptError::Timestamp));
        let huge = keys.encrypt_bytes(b"9999999999999999999999.{}");
        assert_eq!(keys.decrypt(&huge), Err(DecryptError::Timestamp));
    }

    #[test]
    fn padded_and_standard_alphabet_input_is_accepted() {
        let keys = our_keys();
        let padded = format!("{TV7_CIPHER}==");
        assert_eq!(keys.decrypt(&padded), keys.decrypt(TV7_CIPHER));
        let standard = TV7_CIPHER.replace('-', "+").replace('_', "/");
        assert_eq!(keys.decrypt(&standard), keys.decrypt(TV7_CIPHER));
    }
}
