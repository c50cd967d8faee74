//! Signed client requests (API.md "Authentication of products"): the canonical string,
//! signing (for `gateway sign`, tests and the load generator) and verification.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// `hex(sha256(body))`.
pub fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The string a client signs:
/// `METHOD "\n" PATH_AND_QUERY "\n" X-Timestamp "\n" X-Nonce "\n" hex(SHA-256(body))`.
pub fn canonical(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "{}\n{path_and_query}\n{timestamp}\n{nonce}\n{}",
        method.to_ascii_uppercase(),
        body_hash(body)
    )
}

/// `hex(HMAC-SHA256(secret, canonical))`.
pub fn sign(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    hex::encode(mac(
        secret,
        &[canonical(method, path_and_query, timestamp, nonce, body).as_bytes()],
    ))
}

/// HMAC-SHA256 of the concatenated `parts` under `secret` (HMAC takes keys of any length).
pub(crate) fn mac(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as hmac::digest::KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Whether `signature` (hex) matches any of `secrets`, compared in constant time.
pub fn verify(
    secrets: &[Vec<u8>],
    signature: &str,
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> bool {
    let Ok(given) = hex::decode(signature.trim()) else {
        return false;
    };
    let canonical = canonical(method, path_and_query, timestamp, nonce, body);
    let mut matched = subtle::Choice::from(0u8);
    for secret in secrets {
        matched |= mac(secret, &[canonical.as_bytes()])
            .as_slice()
            .ct_eq(&given);
    }
    matched.into()
}

/// The four headers of a signed request.
#[derive(Clone, Debug)]
pub struct SignedHeaders {
    pub client_id: String,
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
}

impl SignedHeaders {
    /// Signs a request now with a fresh random nonce.
    pub fn new(
        client_id: &str,
        secret: &[u8],
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> SignedHeaders {
        let timestamp = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let nonce = random_nonce();
        let signature = sign(secret, method, path_and_query, &timestamp, &nonce, body);
        SignedHeaders {
            client_id: client_id.to_owned(),
            timestamp,
            nonce,
            signature,
        }
    }

    /// As `(name, value)` pairs.
    pub fn pairs(&self) -> [(&'static str, String); 4] {
        [
            ("X-Client-Id", self.client_id.clone()),
            ("X-Timestamp", self.timestamp.clone()),
            ("X-Nonce", self.nonce.clone()),
            ("X-Signature", self.signature.clone()),
        ]
    }
}

/// 32 random hex characters.
pub fn random_nonce() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_string_matches_the_contract() {
        let c = canonical(
            "post",
            "/v1/virtual-accounts?x=1",
            "2026-11-22T15:04:05Z",
            "n0nce-0000000000",
            b"",
        );
        assert_eq!(
            c,
            "POST\n/v1/virtual-accounts?x=1\n2026-11-22T15:04:05Z\nn0nce-0000000000\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn either_rotation_secret_verifies_and_a_wrong_one_does_not() {
        let sig = sign(b"new-secret-0123456789", "GET", "/v1/events", "t", "n", b"");
        let secrets = vec![
            b"old-secret-0123456789".to_vec(),
            b"new-secret-0123456789".to_vec(),
        ];
        assert!(verify(&secrets, &sig, "GET", "/v1/events", "t", "n", b""));
        assert!(!verify(
            &secrets[..1],
            &sig,
            "GET",
            "/v1/events",
            "t",
            "n",
            b""
        ));
        assert!(!verify(&secrets, &sig, "GET", "/v1/events", "t", "n", b"x"));
        assert!(!verify(&secrets, "zz", "GET", "/v1/events", "t", "n", b""));
    }
}
