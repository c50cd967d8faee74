//! `X-Hub-Signature-256` (3.6): `sha256=` and the lowercase hex of HMAC-SHA256 keyed with
//! the App Secret over the raw body bytes exactly as received.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The header's prefix before the hex digest.
const PREFIX: &str = "sha256=";

/// Why a signature header was refused. Carries nothing of the header or the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignatureError {
    /// Not `sha256=` followed by 64 hex digits.
    Malformed,
    /// Well formed, but not the MAC of this body under our key.
    Mismatch,
}

fn mac(secret: &SecretString) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes keys of any length")
}

/// The header value Meta would send for `body`.
#[cfg(test)]
pub(crate) fn sign(secret: &SecretString, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks `header` against `body` in constant time.
pub(crate) fn verify(
    secret: &SecretString,
    body: &[u8],
    header: &str,
) -> Result<(), SignatureError> {
    let digest = header
        .trim()
        .strip_prefix(PREFIX)
        .filter(|hex| hex.len() == 64)
        .and_then(|hex| hex::decode(hex).ok())
        .ok_or(SignatureError::Malformed)?;
    let mut mac = mac(secret);
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&digest)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> SecretString {
        SecretString::from(s)
    }

    /// 3.6: the `whatsapp_sdk` Hex docs vector.
    #[test]
    fn the_published_vector_is_reproduced() {
        assert_eq!(
            sign(&key("secret"), b"test"),
            "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
        );
        let header = "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914";
        assert_eq!(verify(&key("secret"), b"test", header), Ok(()));
    }

    /// 3.6, second vector; reproducible with
    /// `printf '%s' '{"object":"whatsapp_business_account","entry":[]}' |
    ///  openssl dgst -sha256 -hmac test-app-secret`.
    #[test]
    fn the_envelope_vector_is_reproduced() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = "sha256=c84a394cc475525991e78ff16e430b02e47f953877d2af0ade26956ce6f384dc";
        assert_eq!(sign(&key("test-app-secret"), body), header);
        assert_eq!(verify(&key("test-app-secret"), body, header), Ok(()));
    }

    #[test]
    fn uppercase_hex_is_read() {
        let header = "sha256=0329A06B62CD16B33EB6792BE8C60B158D89A2EE3A876FCE9A881EBB488C0914";
        assert_eq!(verify(&key("secret"), b"test", header), Ok(()));
    }

    #[test]
    fn tampered_body_and_wrong_key_are_refused() {
        let header = sign(&key("secret"), b"test");
        assert_eq!(
            verify(&key("secret"), b"tesT", &header),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&key("Secret"), b"test", &header),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let good = sign(&key("secret"), b"test");
        let hex = good.trim_start_matches(PREFIX);
        for header in [
            "",
            hex,
            &format!("sha1={hex}"),
            &format!("sha256={}", &hex[..62]),
            &format!("sha256={}zz", &hex[..62]),
            "sha256=",
        ] {
            assert_eq!(
                verify(&key("secret"), b"test", header),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
    }
}
