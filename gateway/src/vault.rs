//! Personal data at rest: identity fields are sealed with AES-256-GCM under the configured
//! data key before they reach the database, and looked up by a keyed fingerprint (HMAC)
//! instead of their clear value.
//!
//! A sealed value is `v1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>`: the key id (the
//! first 8 hex digits of SHA-256 of the key) names which key sealed it, so after a rotation
//! values sealed under a previous key still open while new ones use the current key. The
//! additional authenticated data binds a value to its row: a sealed identity copied onto
//! another signer does not open.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Decodes a configured data key: base64 of exactly 32 bytes.
pub fn decode_key(text: &str) -> Option<[u8; 32]> {
    let bytes = STANDARD.decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

/// A value could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No data key is configured.
    #[error("no data key is configured")]
    NoKey,
    /// The value is not in the sealed format, or no configured key sealed it.
    #[error("sealed value has an unknown format or key")]
    UnknownKey,
    /// Authentication failed: tampered, or sealed for another row.
    #[error("sealed value does not authenticate")]
    Tampered,
    /// The cipher library failed.
    #[error("cipher failure")]
    Cipher,
}

struct Key {
    id: String,
    bytes: [u8; 32],
}

impl Key {
    fn new(bytes: [u8; 32]) -> Key {
        let digest = Sha256::digest(bytes);
        Key {
            id: hex::encode(&digest[..4]),
            bytes,
        }
    }
}

/// The data keys: the current one seals, every one opens.
pub struct Vault {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field(
                "key_ids",
                &self.keys.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Vault {
    /// The vault of `current` (sealing) and `previous` (opening only); keys that do not
    /// decode are skipped (configuration validation refuses them first).
    pub fn new(current: Option<&SecretString>, previous: &[SecretString]) -> Vault {
        let keys = current
            .into_iter()
            .chain(previous)
            .filter_map(|k| decode_key(k.expose_secret()))
            .map(Key::new)
            .collect();
        Vault { keys }
    }

    /// Whether a key is configured.
    pub fn is_configured(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Seals `plaintext` for the row `bound_to`.
    pub fn seal(&self, plaintext: &[u8], bound_to: &str) -> Result<String, VaultError> {
        let key = self.keys.first().ok_or(VaultError::NoKey)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let mut tag = [0u8; TAG_LEN];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            &key.bytes,
            Some(&nonce),
            bound_to.as_bytes(),
            plaintext,
            &mut tag,
        )
        .map_err(|_| VaultError::Cipher)?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len() + TAG_LEN);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        blob.extend_from_slice(&tag);
        Ok(format!("v1.{}.{}", key.id, STANDARD.encode(blob)))
    }

    /// Opens a value sealed for the row `bound_to`.
    pub fn open(&self, sealed: &str, bound_to: &str) -> Result<Vec<u8>, VaultError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(VaultError::UnknownKey);
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or(VaultError::UnknownKey)?;
        let blob = STANDARD.decode(body).map_err(|_| VaultError::UnknownKey)?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(VaultError::Tampered);
        }
        let (nonce, rest) = blob.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &key.bytes,
            Some(nonce),
            bound_to.as_bytes(),
            ciphertext,
            tag,
        )
        .map_err(|_| VaultError::Tampered)
    }

    /// A keyed fingerprint of `value` for `purpose` (lookups without the clear value):
    /// HMAC-SHA256 under a key derived from the current data key, hex.
    pub fn fingerprint(&self, purpose: &str, value: &str) -> Result<String, VaultError> {
        let key = self.keys.first().ok_or(VaultError::NoKey)?;
        let derived = crate::auth::mac(&key.bytes, &[b"fingerprint:", purpose.as_bytes()]);
        Ok(hex::encode(crate::auth::mac(&derived, &[value.as_bytes()])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretString {
        SecretString::from(STANDARD.encode([byte; 32]))
    }

    #[test]
    fn seals_and_opens_only_for_the_same_row() {
        let vault = Vault::new(Some(&key(7)), &[]);
        let sealed = vault.seal(b"3171012345678901", "sgn_1").expect("seal");
        assert!(!sealed.contains("3171"));
        assert_eq!(
            vault.open(&sealed, "sgn_1").expect("open"),
            b"3171012345678901"
        );
        assert!(matches!(
            vault.open(&sealed, "sgn_2"),
            Err(VaultError::Tampered)
        ));
        // Sealing twice gives different ciphertexts (fresh nonce).
        assert_ne!(
            sealed,
            vault.seal(b"3171012345678901", "sgn_1").expect("seal")
        );
    }

    #[test]
    fn a_flipped_byte_does_not_open() {
        let vault = Vault::new(Some(&key(7)), &[]);
        let sealed = vault.seal(b"secret", "row").expect("seal");
        let (head, body) = sealed.rsplit_once('.').expect("format");
        let mut blob = STANDARD.decode(body).expect("base64");
        blob[NONCE_LEN] ^= 1;
        let spoiled = format!("{head}.{}", STANDARD.encode(blob));
        assert!(matches!(
            vault.open(&spoiled, "row"),
            Err(VaultError::Tampered)
        ));
    }

    #[test]
    fn values_sealed_before_a_rotation_still_open() {
        let old = Vault::new(Some(&key(1)), &[]);
        let sealed = old.seal(b"identity", "row").expect("seal");
        let rotated = Vault::new(Some(&key(2)), &[key(1)]);
        assert_eq!(rotated.open(&sealed, "row").expect("open"), b"identity");
        let fresh = rotated.seal(b"identity", "row").expect("seal");
        assert!(matches!(
            old.open(&fresh, "row"),
            Err(VaultError::UnknownKey)
        ));
    }

    #[test]
    fn fingerprints_are_keyed_and_stable() {
        let a = Vault::new(Some(&key(1)), &[]);
        let b = Vault::new(Some(&key(2)), &[]);
        let fa = a.fingerprint("nik", "3171012345678901").expect("fp");
        assert_eq!(fa, a.fingerprint("nik", "3171012345678901").expect("fp"));
        assert_ne!(fa, b.fingerprint("nik", "3171012345678901").expect("fp"));
        assert_ne!(fa, a.fingerprint("phone", "3171012345678901").expect("fp"));
        assert!(!fa.contains("3171"));
    }

    #[test]
    fn without_a_key_nothing_is_sealed() {
        let vault = Vault::new(None, &[]);
        assert!(!vault.is_configured());
        assert!(matches!(vault.seal(b"x", "row"), Err(VaultError::NoKey)));
        assert!(decode_key("short").is_none());
        assert!(decode_key(&STANDARD.encode([0u8; 32])).is_some());
    }
}
