//! SNAP signatures (B.3): RSASSA-PKCS1-v1_5/SHA-256 for token requests and asymmetric
//! notifications, HMAC-SHA512 for symmetric service calls, and their strings to sign.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use sha2::Sha512;

use crate::error::KeyError;

/// The smallest RSA modulus we accept (B.3.1: 2048-bit keys).
const MIN_RSA_BITS: u32 = 2048;

/// An RSA private key that signs SNAP token requests (and, for a provider simulator,
/// notifications). Debug output is redacted.
#[derive(Clone)]
pub struct RsaPrivateKey {
    key: PKey<Private>,
}

impl std::fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaPrivateKey([redacted])")
    }
}

impl RsaPrivateKey {
    /// Reads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`), RSA, at least 2048 bits.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = PKey::private_key_from_pem(pem.trim().as_bytes())
            .map_err(|_| KeyError::Pem("private"))?;
        check_rsa(key.rsa().map(|rsa| rsa.size() * 8).ok())?;
        Ok(RsaPrivateKey { key })
    }

    /// Base64 of the RSASSA-PKCS1-v1_5 / SHA-256 signature of `message`.
    pub fn sign_b64(&self, message: &[u8]) -> String {
        // Signing with a parsed RSA key fails only if the library cannot allocate; an
        // empty signature is then refused by the verifier, never accepted.
        self.try_sign(message)
            .map(|signature| STANDARD.encode(signature))
            .unwrap_or_else(|_| {
                tracing::error!("RSA signing failed");
                String::new()
            })
    }

    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key)?;
        signer.update(message)?;
        signer.sign_to_vec()
    }

    /// The matching public key (for tests and simulators).
    pub fn public_key(&self) -> Result<RsaPublicKey, KeyError> {
        let der = self
            .key
            .public_key_to_der()
            .map_err(|_| KeyError::Pem("public"))?;
        let key = PKey::public_key_from_der(&der).map_err(|_| KeyError::Pem("public"))?;
        Ok(RsaPublicKey { key })
    }
}

/// An RSA public key that verifies a provider's (or a merchant's) SNAP signatures.
#[derive(Clone)]
pub struct RsaPublicKey {
    key: PKey<Public>,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaPublicKey")
    }
}

impl RsaPublicKey {
    /// Reads a PEM public key: SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`) or PKCS#1
    /// (`BEGIN RSA PUBLIC KEY`), RSA, at least 2048 bits.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pem = pem.trim().as_bytes();
        let key = match PKey::public_key_from_pem(pem) {
            Ok(key) => key,
            Err(_) => Rsa::public_key_from_pem_pkcs1(pem)
                .and_then(PKey::from_rsa)
                .map_err(|_| KeyError::Pem("public"))?,
        };
        check_rsa(key.rsa().map(|rsa| rsa.size() * 8).ok())?;
        Ok(RsaPublicKey { key })
    }

    /// Whether `signature_b64` (standard Base64) is a valid RSASSA-PKCS1-v1_5 / SHA-256
    /// signature of `message`. Anything unreadable is simply not valid.
    pub fn verify_b64(&self, message: &[u8], signature_b64: &str) -> bool {
        let Ok(signature) = STANDARD.decode(signature_b64.trim()) else {
            return false;
        };
        Verifier::new(MessageDigest::sha256(), &self.key)
            .and_then(|mut verifier| {
                verifier.update(message)?;
                verifier.verify(&signature)
            })
            .unwrap_or(false)
    }
}

fn check_rsa(bits: Option<u32>) -> Result<(), KeyError> {
    match bits {
        None => Err(KeyError::NotRsa),
        Some(bits) if bits < MIN_RSA_BITS => Err(KeyError::TooShort(bits)),
        Some(_) => Ok(()),
    }
}

/// The token request's string to sign: `client_key|timestamp` (B.3.1).
pub fn token_string(client_key: &str, timestamp: &str) -> String {
    format!("{client_key}|{timestamp}")
}

/// The symmetric string to sign, `METHOD:path:token:bodyHash:timestamp` (B.3.2), with the
/// method upper-cased and the token without `Bearer `.
pub fn symmetric_string(
    method: &str,
    path: &str,
    token: &str,
    body_hash: &str,
    timestamp: &str,
) -> String {
    format!(
        "{}:{path}:{token}:{body_hash}:{timestamp}",
        method.to_ascii_uppercase()
    )
}

/// The asymmetric string to sign, `METHOD:path:bodyHash:timestamp` (B.3.3).
pub fn asymmetric_string(method: &str, path: &str, body_hash: &str, timestamp: &str) -> String {
    format!(
        "{}:{path}:{body_hash}:{timestamp}",
        method.to_ascii_uppercase()
    )
}

fn hmac_sha512(secret: &[u8]) -> Hmac<Sha512> {
    // HMAC accepts keys of any length, so this cannot fail.
    match Hmac::<Sha512>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

/// Base64 of HMAC-SHA512(`secret`, `message`): 88 characters (B.3.2).
pub fn hmac_sha512_b64(secret: &[u8], message: &str) -> String {
    let mut mac = hmac_sha512(secret);
    mac.update(message.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `signature_b64` is HMAC-SHA512(`secret`, `message`), compared in constant time
/// on the decoded bytes.
pub fn verify_hmac_sha512_b64(secret: &[u8], message: &str, signature_b64: &str) -> bool {
    let Ok(signature) = STANDARD.decode(signature_b64.trim()) else {
        return false;
    };
    let mut mac = hmac_sha512(secret);
    mac.update(message.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::codec::body_hash;

    pub(crate) const DEMO_PRIVATE: &str = include_str!("../../../testdata/snap-demo/private.pem");
    pub(crate) const DEMO_PUBLIC: &str = include_str!("../../../testdata/snap-demo/public.pem");

    pub(crate) const TV_S6_BODY: &str = r#"{"partnerServiceId":"    8123","customerNo":"000000000001","virtualAccountNo":"    8123000000000001","virtualAccountName":"Budi","trxId":"INV-0001","paymentRequestId":"PR-0001","paidAmount":{"value":"150000.00","currency":"IDR"},"totalAmount":{"value":"150000.00","currency":"IDR"},"trxDateTime":"2024-01-01T11:00:00+07:00","referenceNo":"233171","flagAdvise":"N","additionalInfo":{}}"#;
    pub(crate) const TV_S6_TIMESTAMP: &str = "2024-01-01T11:00:05+07:00";
    pub(crate) const TV_S6_SYMMETRIC: &str =
        "zeWjIb0zfnFf3PX8DXXjstN0EBkR4NQhRbnbmIbvDmwOCFnJccY1yswTK4Jh+hD+JkQds8m5yZIdfIAyHHfT7g==";
    pub(crate) const TV_S6_ASYMMETRIC: &str = "hPEOZmu6FGe1u6LBKPlcxhvkhVhqXXJLe4cg65b2OQFiy5TAhNvxJu3MKPu9hvf7aQ0of5lsd3XJuHicHZPyS91zfi3hT5lWaWwLyRE6Vi6ZRieClKAC5Ohb6yaKY8pMhQQv9m9kM/4AAowavSnt7REeu/L0QmzyTY2bzVQNeQtHek5TcuxcZ2f13OmvJuw8hvM3LUSLZIAo6WK0enGhFYlXaCSxfEIOmwVKdaH2ymiv5SfqNCExwuaeOiRfGKfMbJZvimVL0cH4VeO1ObY8HZ+5fSNIjL4bW1v0rX8uneqA+Ku5hbfKMjuO0bjZbROxwKRfeBeAiBVcpdII1eMZ3g==";
    const TV_S1: &str = "WzW49tYIgKIBmBi/gVBHGLAkhEaZlXM11zcZxAiyHji6TLPjPbwLu3Z45it25AIeG0XDItcdTSkds47zFEMh6IP0PXPIP1+Ey4RmX/o2fuYRF/xBHvfvKnMmANMTS1axsXBSW3EHqYpbVrkCcqNnB3u+wu63us9WIhRZaWgxgQ2PJLaiVHIwgu9u7jxkWX7Bg4rerZH3RKdQfIJAAJsSN13efR7VdSAyzU7QaKjgislxrLqmesYNJkbD03XLjHdo6YWuzAVV7xdZRpLiGkIAkW7luXTBZYBO+4oENZAPQYzrLeN1qRY1Sr7BgLONCA2QA26BB6SYW4R7qofS9+RyOQ==";
    pub(crate) const TV_S4: &str = "AZkS2bQlbdNQY4xYsSQ3NwVaFuLhLzWHLjAsykPNNx1MhuypHfvGwuGupSskwg+bqxJQM77fMt+PTfY13xRfbFoDq/i3w+CgpB5uPBuYx2icBCOmwJlThLn7+RozYzwl/6fYIPL1g39yjWjud23zlf4tA4LwkM9PWwxxIQvwUE7/CDGqTC1AL7RYTcwIxT/vxi+6xjGTDiwnQnhX4m+3gRdOon6cG6WSyIUYpFSDjkoWy3J7iGwP0Grn545hLLHTQE/6yl+I1n8ATaMbvsLdoKNO/J3TlMapdvP6lQn9NNn3S2jZW12JdYZWzBguNy5Oy0+sStJQW99t6iJ5pu9n7Q==";
    const TV_S3: &str = "RoJnP2tH/YiOhHM/lMVBMSAuzRmS8VrWdIy04Qqyb56daV7oWFMFoMMzqnjQ+q0MIUalYgU094GWQnCx2c29xb1kkqHhv2+iJ9xl6NjGmFGYqyvcKvUDAV83Y1Mw9JnsEcjcupdGw9/MRv/mm2GMrQ+BCZGfc4a46JDyPZbcY294vDGqs5rFBN6iYer5ro4cAQGo9hET2G82Y+j50vCyO/79GFE4vB1rvtu6PK2Bxi+vTYV8k7P7PS8tOPWM2O+kjiVWjwvLR99Botou+a8sxlQqZaihfWMKcByzV+Lgkr9cptpjys+1NIRWT1ad/sJBSLHyldzC3q2oRn5z5oZmyg==";

    fn demo() -> (RsaPrivateKey, RsaPublicKey) {
        (
            RsaPrivateKey::from_pem(DEMO_PRIVATE).expect("demo private key"),
            RsaPublicKey::from_pem(DEMO_PUBLIC).expect("demo public key"),
        )
    }

    #[test]
    fn tv_s1_access_token_signature() {
        let (private, public) = demo();
        let message = token_string("G1234325-SNAP", "2024-03-01T08:27:49.024Z");
        assert_eq!(private.sign_b64(message.as_bytes()), TV_S1);
        assert!(public.verify_b64(message.as_bytes(), TV_S1));
    }

    #[test]
    fn tv_s4_access_token_signature() {
        let (private, public) = demo();
        let message = token_string("BNI-TEST-CLIENT", "2024-01-01T10:00:00+07:00");
        assert_eq!(message, "BNI-TEST-CLIENT|2024-01-01T10:00:00+07:00");
        assert_eq!(private.sign_b64(message.as_bytes()), TV_S4);
        assert!(public.verify_b64(message.as_bytes(), TV_S4));
        assert!(!public.verify_b64(b"BNI-TEST-CLIENT|2024-01-01T10:00:01+07:00", TV_S4));
    }

    #[test]
    fn tv_s2_symmetric_signature() {
        let body = br#"{"partnerReferenceNo":"2020102900000000000001","amount":{"value":"12345678.00","currency":"IDR"},"feeAmount":{"value":"12345678.00","currency":"IDR"},"merchantId":"00007100010926","terminalId":"213141251124","validityPeriod":"2009-07-03T12:08:56-07:00"}"#;
        let message = symmetric_string(
            "post",
            "/v1.0/qr/qr-mpm-generate",
            "myaccesstoken",
            &body_hash(body),
            "2024-03-05T10:37:16.196Z",
        );
        let expected = "wmzT7yjg1SxxCsxNsFgCR9SYXiZGGbceF6fV8xe97sAMHxZ+7OEBMIBmvb6Sj6GcksGp3iv77DiomgSbcST3XQ==";
        let signature = hmac_sha512_b64(b"myclientsecret", &message);
        assert_eq!(signature, expected);
        assert_eq!(signature.len(), 88);
        assert!(verify_hmac_sha512_b64(
            b"myclientsecret",
            &message,
            expected
        ));
        assert!(!verify_hmac_sha512_b64(
            b"otherclientsecret",
            &message,
            expected
        ));
    }

    #[test]
    fn tv_s3_asymmetric_notification_verifies_with_demo_key() {
        let body = br#"{"originalPartnerReferenceNo":"GP24043015193402809","originalReferenceNo":"A120240430081940S9vu8gSjaRID","merchantId":"G099333790","amount":{"value":"102800.00","currency":"IDR"},"latestTransactionStatus":"00","transactionStatusDesc":"SUCCESS","additionalInfo":{"refundHistory":[]}}"#;
        let (private, public) = demo();
        let message = asymmetric_string(
            "POST",
            "/v1.0/debit/notify",
            &body_hash(body),
            "2024-05-02T14:43:08+07:00",
        );
        assert!(public.verify_b64(message.as_bytes(), TV_S3));
        assert_eq!(private.sign_b64(message.as_bytes()), TV_S3);
        let tampered = message.replace("14:43:08", "14:43:09");
        assert!(!public.verify_b64(tampered.as_bytes(), TV_S3));
    }

    #[test]
    fn tv_s5_create_va_symmetric_signature() {
        let body = br#"{"partnerServiceId":"    8123","customerNo":"000000000001","virtualAccountNo":"    8123000000000001","virtualAccountName":"Budi","trxId":"INV-0001","totalAmount":{"value":"150000.00","currency":"IDR"},"virtualAccountTrxType":"C","expiredDate":"2024-01-02T10:00:00+07:00","additionalInfo":{}}"#;
        let message = symmetric_string(
            "POST",
            "/v1.0/transfer-va/create-va",
            "TESTTOKEN123",
            &body_hash(body),
            "2024-01-01T10:00:00+07:00",
        );
        assert_eq!(
            hmac_sha512_b64(b"SNAP-TEST-SECRET", &message),
            "BmurCdwodHOl6YnCLVN/JO7IDi0HPdkPxwhPLD6GSlod6+lfOkzn8svcoV83UxJLZvMY2CU0ZTLXX2XHDV+Yjg=="
        );
    }

    #[test]
    fn tv_s6_payment_notification_both_forms() {
        let hash = body_hash(TV_S6_BODY.as_bytes());
        let symmetric = symmetric_string(
            "POST",
            "/v1.0/transfer-va/payment",
            "MERCHANTISSUEDTOKEN",
            &hash,
            TV_S6_TIMESTAMP,
        );
        assert_eq!(
            hmac_sha512_b64(b"MERCHANT-ISSUED-SECRET", &symmetric),
            TV_S6_SYMMETRIC
        );
        let asymmetric =
            asymmetric_string("POST", "/v1.0/transfer-va/payment", &hash, TV_S6_TIMESTAMP);
        assert_eq!(
            asymmetric,
            format!("POST:/v1.0/transfer-va/payment:{hash}:{TV_S6_TIMESTAMP}")
        );
        let (private, public) = demo();
        assert_eq!(private.sign_b64(asymmetric.as_bytes()), TV_S6_ASYMMETRIC);
        assert!(public.verify_b64(asymmetric.as_bytes(), TV_S6_ASYMMETRIC));
    }

    #[test]
    fn tv_s7_empty_body_symmetric_string() {
        let message = symmetric_string("get", "/v1.0/x?a=1", "t", &body_hash(b""), "ts");
        assert_eq!(
            message,
            "GET:/v1.0/x?a=1:t:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855:ts"
        );
    }

    #[test]
    fn astrapay_payment_host_to_host_vector() {
        let body = br#"{"partnerReferenceNo":"TRX001","merchantId":"M-1","amount":{"value":"10000.00","currency":"IDR"},"additionalInfo":{"description":"Test"}}"#;
        let message = symmetric_string(
            "POST",
            "/merchant-service/snap/v1.0/debit/payment-host-to-host",
            "test-b2b-token",
            &body_hash(body),
            "2024-01-01T10:00:00+07:00",
        );
        assert_eq!(
            hmac_sha512_b64(b"test-client-secret", &message),
            "S+vTMUEMz0+4YnhESdtINOkaXWMOxDaG68vv0MUUL+3BuBBpUS2OCIci3u5Z/9v3pzvJIzPjUMLtmII/yyr8kg=="
        );
    }

    #[test]
    fn garbage_signatures_and_keys_are_refused() {
        let (_, public) = demo();
        assert!(!public.verify_b64(b"x", "not base64!"));
        assert!(!public.verify_b64(b"x", ""));
        assert!(!verify_hmac_sha512_b64(b"k", "m", "%%%"));
        assert!(!verify_hmac_sha512_b64(b"k", "m", ""));
        assert_eq!(
            RsaPrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .map(|_| ()),
            Err(KeyError::Pem("private"))
        );
        assert_eq!(
            RsaPublicKey::from_pem(DEMO_PRIVATE).map(|_| ()),
            Err(KeyError::Pem("public"))
        );
        assert!(RsaPublicKey::from_pem("").is_err());
    }

    #[test]
    fn pkcs1_private_keys_are_read_and_debug_is_redacted() {
        let rsa = Rsa::private_key_from_pem(DEMO_PRIVATE.as_bytes()).expect("rsa");
        let pkcs1 = String::from_utf8(rsa.private_key_to_pem().expect("pem")).expect("utf8");
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let key = RsaPrivateKey::from_pem(&pkcs1).expect("pkcs1 key");
        let message = token_string("BNI-TEST-CLIENT", "2024-01-01T10:00:00+07:00");
        assert_eq!(key.sign_b64(message.as_bytes()), TV_S4);
        assert_eq!(format!("{key:?}"), "RsaPrivateKey([redacted])");
        let public = key.public_key().expect("public");
        assert!(public.verify_b64(message.as_bytes(), TV_S4));
        let pkcs1_public =
            String::from_utf8(rsa.public_key_to_pem_pkcs1().expect("pem")).expect("utf8");
        let public = RsaPublicKey::from_pem(&pkcs1_public).expect("pkcs1 public key");
        assert!(public.verify_b64(message.as_bytes(), TV_S4));
    }

    #[test]
    fn short_rsa_keys_are_refused() {
        let rsa = Rsa::generate(1024).expect("rsa");
        let pem = String::from_utf8(rsa.private_key_to_pem().expect("pem")).expect("utf8");
        assert_eq!(
            RsaPrivateKey::from_pem(&pem).map(|_| ()),
            Err(KeyError::TooShort(1024))
        );
    }
}
