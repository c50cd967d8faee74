//! Standard Webhooks signatures: `v1,<base64(HMAC-SHA256(key, id "." timestamp "." body))>`,
//! one per active secret, space-separated; `key` is the base64 part of `whsec_…`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The key bytes of a `whsec_` secret (24 to 64 bytes), or `None` if it is not one.
pub fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    (24..=64).contains(&key.len()).then_some(key)
}

/// The `webhook-signature` header value for `keys`.
pub fn signature_header(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .filter_map(|key| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Some(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A fresh random secret, `whsec_` + base64 of 32 bytes.
pub fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn matches_the_specification_example() {
        let key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid secret");
        let body = br#"{"test": 2432232314}"#;
        let header = signature_header(&[key], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_sends_one_signature_per_key() {
        let a = decode_secret(&generate_secret()).expect("a");
        let b = decode_secret(&generate_secret()).expect("b");
        let header = signature_header(&[a, b], "evt_1", 1, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        assert!(decode_secret("whsec_c2hvcnQ=").is_none());
        assert!(decode_secret("nope").is_none());
    }
}
