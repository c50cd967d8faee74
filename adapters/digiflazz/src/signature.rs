//! Digiflazz's two schemes: the request `sign` (§1.2: lowercase hex MD5 of
//! `username + apiKey + X`, plain concatenation) and the webhook `X-Hub-Signature` (§1.5:
//! `sha1=` + lowercase hex HMAC-SHA1 of the raw body under the webhook secret).

use openssl::hash::{MessageDigest, hash};
use openssl::pkey::PKey;
use openssl::sign::Signer;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// `X` of `/v1/cek-saldo` (`cmd: "deposit"`): `"depo"`, not `"deposit"` (§1.2).
pub(crate) const BALANCE: &str = "depo";
/// `X` of `/v1/price-list`.
pub(crate) const PRICE_LIST: &str = "pricelist";
/// `X` of `/v1/deposit` (the deposit ticket).
pub(crate) const DEPOSIT: &str = "deposit";

/// The signing primitive is unavailable (an OpenSSL build without MD5 or HMAC-SHA1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unavailable;

/// `md5(username + api_key + suffix)` as lowercase hex. `suffix` is one of the constants
/// above, the `ref_id` (every `/v1/transaction` command) or the `customer_no`
/// (`/v1/inquiry-pln`).
pub(crate) fn sign(
    username: &str,
    api_key: &SecretString,
    suffix: &str,
) -> Result<String, Unavailable> {
    let mut text = String::with_capacity(username.len() + 64 + suffix.len());
    text.push_str(username);
    text.push_str(api_key.expose_secret());
    text.push_str(suffix);
    let digest = hash(MessageDigest::md5(), text.as_bytes()).map_err(|_| Unavailable)?;
    Ok(hex::encode(digest))
}

/// HMAC-SHA1 of `body` under `secret`.
fn webhook_mac(secret: &SecretString, body: &[u8]) -> Result<Vec<u8>, Unavailable> {
    let key = PKey::hmac(secret.expose_secret().as_bytes()).map_err(|_| Unavailable)?;
    let mut signer = Signer::new(MessageDigest::sha1(), &key).map_err(|_| Unavailable)?;
    signer.update(body).map_err(|_| Unavailable)?;
    signer.sign_to_vec().map_err(|_| Unavailable)
}

/// Whether `header` (`sha1=<hex>`, or the bare hex some integrators see, §1.5) is the
/// signature of the raw `body`. Compared in constant time; any hex case is accepted.
pub(crate) fn verify_webhook(secret: &SecretString, header: &str, body: &[u8]) -> bool {
    let header = header.trim();
    let hex_part = match header.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sha1=") => &header[5..],
        _ => header,
    };
    let Ok(claimed) = hex::decode(hex_part) else {
        return false;
    };
    let Ok(expected) = webhook_mac(secret, body) else {
        return false;
    };
    // Both are 20 bytes when well formed; a length difference is not secret.
    claimed.len() == expected.len() && bool::from(claimed.ct_eq(&expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretString {
        SecretString::from("dev-0000-key")
    }

    #[test]
    fn request_signs_match_the_published_vectors() {
        let cases = [
            (BALANCE, "fa98b834ff5305c72f49bc2f26b61142"),
            (PRICE_LIST, "6ff316b0d970d663aa05327cbb0fe1f6"),
            (DEPOSIT, "b996153b6b47ecc109ffddafd87bd08d"),
            ("TRX-0001", "f163fc30ca4b1f35c76026a000f0fcaf"),
        ];
        for (suffix, expected) in cases {
            assert_eq!(
                sign("demo-user", &key(), suffix).as_deref(),
                Ok(expected),
                "{suffix}"
            );
        }
    }

    const BODY: &[u8] = br#"{"data":{"ref_id":"TRX-0001","status":"Sukses"}}"#;
    const SIGNATURE: &str = "sha1=1420c13590e4e35bd02208873306de3ae01ff74e";

    #[test]
    fn the_webhook_vector_verifies_prefixed_bare_and_in_any_case() {
        let secret = SecretString::from("whsecret");
        assert!(verify_webhook(&secret, SIGNATURE, BODY));
        assert!(verify_webhook(&secret, &SIGNATURE[5..], BODY));
        assert!(verify_webhook(&secret, &SIGNATURE.to_uppercase(), BODY));
        assert!(verify_webhook(&secret, &format!(" {SIGNATURE} "), BODY));
    }

    #[test]
    fn anything_else_fails_webhook_verification() {
        let secret = SecretString::from("whsecret");
        let tampered = br#"{"data":{"ref_id":"TRX-0001","status":"Gagal"}}"#;
        assert!(!verify_webhook(&secret, SIGNATURE, tampered));
        assert!(!verify_webhook(
            &SecretString::from("whsecreT"),
            SIGNATURE,
            BODY
        ));
        for header in [
            "",
            "sha1=",
            "sha256=1420c13590e4e35bd02208873306de3ae01ff74e",
            "sha1=1420c13590e4e35bd02208873306de3ae01ff7",
            "sha1=1420c13590e4e35bd02208873306de3ae01ff74e00",
            "sha1=zz20c13590e4e35bd02208873306de3ae01ff74e",
        ] {
            assert!(!verify_webhook(&secret, header, BODY), "{header}");
        }
    }
}
