//! BniEnc, the codec of BNI eCollection's `data` field (provider notes A.4).
//!
//! A keyed additive shift over 7-bit ASCII, applied with the client id and then with the
//! secret key, behind a reversed Unix timestamp, in URL-safe Base64 without padding. Not
//! cryptography: a wrong key character only spoils every `L`-th byte (A.4.4). Written here
//! from the protocol notes, independently of the adapter; the published and our own test
//! vectors TV-1..TV-8 pin it.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

/// Why `data` could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Not Base64 (URL-safe or standard alphabet).
    #[error("data is not base64")]
    Base64,
    /// No `digits.` prefix in front of the payload.
    #[error("data has no timestamp prefix")]
    NoTimestamp,
    /// The timestamp is outside the allowed window around now.
    #[error("timestamp {timestamp} is more than the allowed window away from {now}")]
    Stale {
        /// The decrypted Unix time.
        timestamp: i64,
        /// The receiver's Unix time.
        now: i64,
    },
    /// The payload is not UTF-8.
    #[error("payload is not UTF-8")]
    NotUtf8,
    /// The payload is not JSON.
    #[error("payload is not JSON: {0}")]
    Json(String),
}

const ENCODE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(false),
);
/// Decoding is lenient like PHP's `base64_decode` after BNI's `-`/`_` swap: padding
/// optional, trailing bits ignored.
const DECODE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Encrypts `json` (which must already be pure ASCII, see [`ascii_json`]) stamped with
/// `unix_ts`, as BNI's `data` field.
pub fn encrypt(client_id: &str, secret: &str, json: &str, unix_ts: i64) -> String {
    let plaintext = format!("{}.{json}", reversed(&unix_ts.to_string()));
    seal(client_id, secret, plaintext.as_bytes())
}

/// Decrypts BNI's `data` field, checks that its timestamp is within `window` seconds of
/// `now` (both Unix seconds), and parses the JSON.
pub fn decrypt(
    client_id: &str,
    secret: &str,
    data: &str,
    now: i64,
    window: i64,
) -> Result<Value, CryptoError> {
    let (timestamp, json) = open(client_id, secret, data)?;
    if timestamp.abs_diff(now) > window.unsigned_abs() {
        return Err(CryptoError::Stale { timestamp, now });
    }
    serde_json::from_str(&json).map_err(|err| CryptoError::Json(err.to_string()))
}

/// Decrypts `data` into its timestamp and JSON text, without checking either.
pub fn open(client_id: &str, secret: &str, data: &str) -> Result<(i64, String), CryptoError> {
    let plaintext =
        String::from_utf8(unseal(client_id, secret, data)?).map_err(|_| CryptoError::NotUtf8)?;
    let (stamp, json) = plaintext.split_once('.').ok_or(CryptoError::NoTimestamp)?;
    if stamp.is_empty() || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CryptoError::NoTimestamp);
    }
    let timestamp = reversed(stamp)
        .parse()
        .map_err(|_| CryptoError::NoTimestamp)?;
    Ok((timestamp, json.to_owned()))
}

/// Serializes `value` as compact JSON with every non-ASCII character escaped as `\uXXXX`
/// (A.4.1 step 1: bytes ≥ 0x80 do not survive the codec).
pub fn ascii_json(value: &Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            // Outside strings JSON is ASCII, so every such character sits in a string.
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Both passes and the Base64 step over a complete plaintext (timestamp prefix included).
pub fn seal(client_id: &str, secret: &str, plaintext: &[u8]) -> String {
    let mut bytes = plaintext.to_vec();
    shift(&mut bytes, client_id.as_bytes(), Direction::Forward);
    shift(&mut bytes, secret.as_bytes(), Direction::Forward);
    ENCODE.encode(bytes)
}

/// Undoes [`seal`]: Base64, then both inverse passes.
pub fn unseal(client_id: &str, secret: &str, data: &str) -> Result<Vec<u8>, CryptoError> {
    let standard: String = data
        .trim()
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    let mut bytes = DECODE.decode(standard).map_err(|_| CryptoError::Base64)?;
    shift(&mut bytes, client_id.as_bytes(), Direction::Back);
    shift(&mut bytes, secret.as_bytes(), Direction::Back);
    Ok(bytes)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Back,
}

/// One pass: byte `i` moves by key byte `(i + L - 1) mod L` (byte 0 uses the *last* key
/// character, from PHP's `substr($key, ($i % $L) - 1, 1)`), modulo 128. An empty key
/// leaves the bytes as they are.
fn shift(bytes: &mut [u8], key: &[u8], direction: Direction) {
    let len = key.len();
    if len == 0 {
        return;
    }
    for (i, byte) in bytes.iter_mut().enumerate() {
        let k = u16::from(key[(i + len - 1) % len]);
        let b = u16::from(*byte);
        let shifted = match direction {
            Direction::Forward => (b + k) % 128,
            Direction::Back => (b + 256 - k) % 128,
        };
        // Always below 128.
        *byte = u8::try_from(shifted).unwrap_or_default();
    }
}

fn reversed(text: &str) -> String {
    text.chars().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TV1_CIPHER: &str = "GEhHGEwbHh0WE0QNA0ZPTU1VCkVPejghNxFFGgQ9NVxVDnBBAVddWFYDUTQRFBMTGRc3EwgDeFR5BE8KMANACTs3PgJ2XltdUk57BT9IUURRVDcgCQ0OYFRGA0lLfkBLUwIzDTVLXlxWUQN3U0JTTFdVewggOEYfRhNIGhRERBoWOD0CClFaXldCA3FBR0ZSXlUJCSA3TxdEE0UYE0FCGRNFQhBDGgoVBVUICz9MSAUiCkYYGkVGGEQRRhkEPjRcXQV2A00KTFtHQwp3I0xPUFFVfQgSOHpICUYJUk92ck1bBnpSeUwKJAQTR0MVERMaFhdGBxdLURdEHEUYBQ4";
    const TV1_PLAIN: &str = r#"4367935441.{"client_id":"001","trx_amount":"100000","name":"Mr. X","customer_email":"xxx@email.com","customer_phone":"08123123123","virtual_account":"8001000000000001","trx_id":"1230000001","type":"createBilling","datetime_expired":"2015-07-01 16:00:00"}"#;
    const TV2_CIPHER: &str = "GkdDFUMcHh0WE0QNA1ZXRVxcCQggOEYXRQNBC0ZyB0kFUAwCCFpgSUtFOUwCFRUWGRdFFxZFSAlABAtRVQUHSk90c0N2WF1XVwNQNRgTFBQYGEUWF0VGGEQRRhkEPjRLWQgFUABNW0hQQwN3Ax0FMVoVNj4IQjhXdloCTlAFclZXeDMaNhgZHBUVTEgXHBwFFQl5SFp6C1ABR3RYRAp_TlEJNBo1GxgaGA5GSQ0VFwMaG08YGk9GITYNOFxUCnFJUQQGTwcKIwsTEkZCERMFEApXd19TewRbdEICWFd_BwodOEIQRBgYGgReFA";
    const TV2_PLAIN: &str = r#"6224045441.{"status":"000","data":{"trx_id":"1230000001","virtual_account":"8001000000000001","customer_name":"Mr. X","payment_ntb":"0123456789","datetime_payment":"2015-06-23 23:23:09","trx_amount":"100000","payment_amount":"100000"}}"#;
    const BNI_CID: &str = "001";
    const BNI_SECRET: &str = "ea0c88921fb033387e66ef7d1e82ab83";
    const CID: &str = "123";
    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    const TV4_JSON: &str = r#"{"type":"createbilling","client_id":"123","trx_id":"INV-0001","trx_amount":"150000","billing_type":"c","customer_name":"Budi","customer_email":"budi@example.com","customer_phone":"08123456789","virtual_account":"8123000000000001","datetime_expired":"2023-11-15T23:59:59+07:00","description":"Test"}"#;
    const TV4_CIPHER: &str = "SRETFRQWGBcgHBgONwgPCHwEHgVIWUtJXk5NfX8BAAR_BQ4GSVFQTlZeS3t4OE85ShMWBxAIXFlhSlN3N044YWU4ERMVFxcKFgtfBgt0eAMHWFBYCB8JGh0aHEJEOEE5e0pPUU1UT0ZdZFp4N044ezkOBkZaWlpXV05dcwF2BHs6HQQmW0lQCxQMTwcHCgQEflNCSlFHUVMLJQx1Cnh_WHxaRVBVU0sWTVhYNj83egsLV1FRS1dGWVBZWnc2UDdHURIVGBgbHh4hJAw_Nwp_CgtXRU9ESElLWV5ZCDVPOU5JFRUUFhUXGRgaHEJERkY5RQNHRlhLXFBWUEl4DQR_CnxGBh0HGRYaHRYcRUBGTGpKFhwZHx8cIhMaI0xERjdDO0VIWEdYUVddVFkBN044bHxVWAVi";
    const TV5_JSON: &str = r#"{"virtual_account":"8123000000000001","trx_id":"INV-0001"}"#;
    const TV5_CIPHER: &str = "ThETFRQWGBcgHBgONwp_CgtXRU9ESElLWV5ZCDVPOU5JFRUUFhUXGRgaHEJERkY5RQNXV1xFUUsLJQxcY2pDSEcSFQVi";
    const TV6_JSON: &str = r#"{"type":"inquirybilling","client_id":"123","trx_id":"INV-0001"}"#;
    const TV6_CIPHER: &str = "SREUFRQWGBcgHBgONwgPCHwEHgVOVVddU1tkdnwBA38GSgQQCEhTUk1YYHF9ejdROxIVGAYSCltbY0l8eTZQOmAwOhAVFxYZDGY";
    const TV7_JSON: &str = r#"{"trx_id":"INV-0001","virtual_account":"8123000000000001","customer_name":"Budi","trx_amount":"150000","payment_amount":"150000","cumulative_payment_amount":"150000","payment_ntb":"233171","datetime_payment":"2023-11-15 10:00:00","datetime_payment_iso8601":"2023-11-15T10:00:00+07:00"}"#;
    const TV7_CIPHER: &str = "SREVHBUWGBcgHBgONwgIEHZLSAUfCS82QBYbRENGOUI6WUtWWlpIVUdLT3UDCwMLOxsFHRUYGxcZGxpDRURGSEcSFQURCUldXV1aAXgHdgR5UEcGIAcpXkxTDj42CgcPeEJQVFlUXAkjDRtIRURGSDkOBlNGYFNNWF1KdQAEDAQMBRwGFxoXGRgaDj42eQoEDk1EWU1cTUZZTGMAegIKd3hPU1hTWwgiDBogRENFRzhEBVJFX1JMV1xJWgZ2OE85SxQWFhsXChMLT0sHegh_BXxBVEReVEtWXgslNkVFSUlFFBMRFxoHGhgkHEJORkU5RQNHRlhLXFBWUEkDdg0DfQVWQ0xYVh4eGhoNTjVHR0hLEBMVExYcPRkaJkJEUEVHRBEaHxQWCmQ";

    fn plain(data: &str, cid: &str, secret: &str) -> String {
        let bytes = unseal(cid, secret, data).expect("decodes");
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn tv1_published_create_request_round_trips_exactly() {
        assert_eq!(seal(BNI_CID, BNI_SECRET, TV1_PLAIN.as_bytes()), TV1_CIPHER);
        assert_eq!(plain(TV1_CIPHER, BNI_CID, BNI_SECRET), TV1_PLAIN);
        let (ts, _) = open(BNI_CID, BNI_SECRET, TV1_CIPHER).expect("opens");
        assert_eq!(ts, 1_445_397_634);
    }

    #[test]
    fn tv2_published_response_round_trips_exactly() {
        assert_eq!(seal(BNI_CID, BNI_SECRET, TV2_PLAIN.as_bytes()), TV2_CIPHER);
        let value = decrypt(BNI_CID, BNI_SECRET, TV2_CIPHER, 1_445_404_226, 300).expect("ok");
        assert_eq!(value["data"]["payment_ntb"], "0123456789");
    }

    #[test]
    fn tv2_with_the_last_secret_character_wrong_decrypts_almost_right() {
        let wrong = "ea0c88921fb033387e66ef7d1e82ab84";
        let text =
            String::from_utf8_lossy(&unseal(BNI_CID, wrong, TV2_CIPHER).expect("b64")).into_owned();
        assert!(
            text.starts_with(r#"5224045441.{"status":"000","data!:{"trx_"#),
            "{text}"
        );
        assert!(decrypt(BNI_CID, wrong, TV2_CIPHER, 1_445_404_226, 300).is_err());
    }

    #[test]
    fn tv3_each_pass_matches_step_by_step() {
        let mut bytes = b"0000000071.{}".to_vec();
        shift(&mut bytes, CID.as_bytes(), Direction::Forward);
        assert_eq!(hex::encode(&bytes), "636162636162636169645f2d30");
        shift(&mut bytes, SECRET.as_bytes(), Direction::Forward);
        assert_eq!(hex::encode(&bytes), "4911131514161817201c180e12");
        assert_eq!(
            encrypt(CID, SECRET, "{}", 1_700_000_000),
            "SRETFRQWGBcgHBgOEg"
        );
    }

    #[test]
    fn tv4_to_tv7_encrypt_exactly_and_decrypt_back() {
        let cases = [
            (TV4_JSON, 1_700_000_000, TV4_CIPHER),
            (TV5_JSON, 1_700_000_005, TV5_CIPHER),
            (TV6_JSON, 1_700_000_100, TV6_CIPHER),
            (TV7_JSON, 1_700_017_200, TV7_CIPHER),
        ];
        for (json, ts, cipher) in cases {
            assert_eq!(encrypt(CID, SECRET, json, ts), cipher, "encrypting {json}");
            let expected: Value = serde_json::from_str(json).expect("json");
            assert_eq!(decrypt(CID, SECRET, cipher, ts + 10, 300), Ok(expected));
        }
    }

    #[test]
    fn tv8_non_ascii_bytes_lose_their_top_bit() {
        let sealed = seal(CID, SECRET, "0000000071.é".as_bytes());
        assert_eq!(unseal(CID, SECRET, &sealed).expect("b64"), b"0000000071.C)");
    }

    #[test]
    fn ascii_json_escapes_what_the_codec_cannot_carry() {
        let value = serde_json::json!({"customer_name": "José 😀"});
        let json = ascii_json(&value);
        assert_eq!(json, r#"{"customer_name":"Jos\u00e9 \ud83d\ude00"}"#);
        let data = encrypt(CID, SECRET, &json, 1_700_000_000);
        assert_eq!(decrypt(CID, SECRET, &data, 1_700_000_000, 300), Ok(value));
    }

    #[test]
    fn timestamps_outside_the_window_are_refused() {
        let data = encrypt(CID, SECRET, "{}", 1_700_000_000);
        assert!(decrypt(CID, SECRET, &data, 1_700_000_300, 300).is_ok());
        assert!(decrypt(CID, SECRET, &data, 1_699_999_700, 300).is_ok());
        assert_eq!(
            decrypt(CID, SECRET, &data, 1_700_000_301, 300),
            Err(CryptoError::Stale {
                timestamp: 1_700_000_000,
                now: 1_700_000_301
            })
        );
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        assert_eq!(
            decrypt(CID, SECRET, "***", 0, 300),
            Err(CryptoError::Base64)
        );
        let no_stamp = seal(CID, SECRET, b"{}");
        assert_eq!(
            decrypt(CID, SECRET, &no_stamp, 0, 300),
            Err(CryptoError::NoTimestamp)
        );
        let letters = seal(CID, SECRET, b"abc.{}");
        assert_eq!(
            decrypt(CID, SECRET, &letters, 0, 300),
            Err(CryptoError::NoTimestamp)
        );
        let not_json = seal(CID, SECRET, b"0000000071.{");
        assert!(matches!(
            decrypt(CID, SECRET, &not_json, 1_700_000_000, 300),
            Err(CryptoError::Json(_))
        ));
        assert_eq!(decrypt("", "", "", 0, 300), Err(CryptoError::NoTimestamp));
    }
}
