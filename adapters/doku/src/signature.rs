//! DOKU's non-SNAP request signature (2.3): `HMACSHA256=` + Base64 of HMAC-SHA256, keyed
//! with the Secret Key as UTF-8, over the component string
//!
//! ```text
//! Client-Id:{id}\nRequest-Id:{id}\nRequest-Timestamp:{ts}\nRequest-Target:{path}[\nDigest:{digest}]
//! ```
//!
//! with no trailing newline, and `Digest` = Base64(SHA-256(the exact body bytes)) only for
//! requests with a body. Base64 is the standard alphabet with padding.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest as _, Sha256};

/// The prefix of every `Signature` header value.
pub(crate) const PREFIX: &str = "HMACSHA256=";

/// The header fields a signature covers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Components<'a> {
    /// `Client-Id`.
    pub client_id: &'a str,
    /// `Request-Id`.
    pub request_id: &'a str,
    /// `Request-Timestamp`.
    pub timestamp: &'a str,
    /// `Request-Target`: the URL path, starting with `/`.
    pub target: &'a str,
    /// The body, when the request has one (POST); `None` omits the `Digest` line (GET).
    pub body: Option<&'a [u8]>,
}

/// Base64(SHA-256(`body`)): the `Digest` component.
pub(crate) fn digest(body: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(body))
}

/// The component string, byte for byte.
pub(crate) fn component_string(components: &Components<'_>) -> String {
    let mut text = format!(
        "Client-Id:{}\nRequest-Id:{}\nRequest-Timestamp:{}\nRequest-Target:{}",
        components.client_id, components.request_id, components.timestamp, components.target
    );
    if let Some(body) = components.body {
        text.push_str("\nDigest:");
        text.push_str(&digest(body));
    }
    text
}

/// The `Signature` header value for `components`.
pub(crate) fn sign(secret: &SecretString, components: &Components<'_>) -> String {
    let mac = mac(secret, &component_string(components));
    format!("{PREFIX}{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether `header` is the signature of `components`, compared in constant time on the
/// decoded bytes.
pub(crate) fn verify(secret: &SecretString, components: &Components<'_>, header: &str) -> bool {
    let Some(encoded) = header.trim().strip_prefix(PREFIX) else {
        return false;
    };
    let Ok(given) = STANDARD.decode(encoded) else {
        return false;
    };
    mac(secret, &component_string(components))
        .verify_slice(&given)
        .is_ok()
}

fn mac(secret: &SecretString, message: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message.as_bytes());
    mac
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The secret of the worked example in 2.3.
    pub(crate) const SECRET: &str = "SK-EXAMPLE-NOT-A-REAL-KEY";
    /// The Client-Id of the worked example in 2.3.
    pub(crate) const CLIENT_ID: &str = "MCH-0001-10791114622547";
    /// Row 3 of 2.3: the notification body, exact bytes.
    pub(crate) const NOTIFICATION_BODY: &str = r#"{"service":{"id":"VIRTUAL_ACCOUNT"},"acquirer":{"id":"BCA"},"channel":{"id":"VIRTUAL_ACCOUNT_BCA"},"transaction":{"status":"SUCCESS","date":"2021-01-27T03:24:23Z","original_request_id":"cc682442-6c22-493e-8121-b9ef6b3fa728"},"order":{"invoice_number":"INV-20210124-0001","amount":150000},"virtual_account_info":{"virtual_account_number":"1900600000000046"},"virtual_account_payment":{"date":"20210127102423","systrace_number":"408173","reference_number":"17089","channel_code":""}}"#;
    /// Row 3 of 2.3: its Request-Id, timestamp and signature.
    pub(crate) const NOTIFICATION_REQUEST_ID: &str = "479b663f-5c9d-400d-8e80-3e548a8f7639";
    pub(crate) const NOTIFICATION_TIMESTAMP: &str = "2021-01-27T03:24:24Z";
    pub(crate) const NOTIFICATION_SIGNATURE: &str =
        "HMACSHA256=o6pBYJWNNBLtN6tv6VwoiLYI4Cbmek2GzkvLWO0vido=";

    const VA_BODY: &str = r#"{"order":{"invoice_number":"INV-20210124-0001","amount":150000},"virtual_account_info":{"expired_time":60,"reusable_status":false,"info1":"Merchant Demo Store"},"customer":{"name":"Taufik Ismail","email":"taufik@example.com"}}"#;

    fn secret() -> SecretString {
        SecretString::from(SECRET)
    }

    #[test]
    fn row_1_va_create_post_matches_the_worked_example() {
        let components = Components {
            client_id: CLIENT_ID,
            request_id: "cc682442-6c22-493e-8121-b9ef6b3fa728",
            timestamp: "2020-10-21T03:38:28Z",
            target: "/bca-virtual-account/v2/payment-code",
            body: Some(VA_BODY.as_bytes()),
        };
        assert_eq!(
            digest(VA_BODY.as_bytes()),
            "tHS3dAgYKCxLVZCzmL7FGXcEllf2nJn1gfG3duRqMn8="
        );
        let signature = sign(&secret(), &components);
        assert_eq!(
            signature,
            "HMACSHA256=uQt+i5vOTYzJiE87Hk+5lulp9bCKjAp6MUxSbD4Q0Wg="
        );
        assert!(verify(&secret(), &components, &signature));
    }

    #[test]
    fn row_2_check_status_get_has_no_digest_line() {
        let components = Components {
            client_id: CLIENT_ID,
            request_id: "d895fb53-479c-4f77-a76a-ab81b40d77cb",
            timestamp: "2020-08-11T08:45:42Z",
            target: "/orders/v1/status/INV-20210124-0001",
            body: None,
        };
        let text = component_string(&components);
        assert!(text.ends_with("Request-Target:/orders/v1/status/INV-20210124-0001"));
        assert!(!text.contains("Digest"));
        assert_eq!(
            sign(&secret(), &components),
            "HMACSHA256=F7Cw6zKAbUBgmpjRdXxRHmHrt+nziNeRZTDMvplmLHM="
        );
    }

    #[test]
    fn row_3_notification_matches_and_verifies() {
        let components = Components {
            client_id: CLIENT_ID,
            request_id: NOTIFICATION_REQUEST_ID,
            timestamp: NOTIFICATION_TIMESTAMP,
            target: "/payments/notifications",
            body: Some(NOTIFICATION_BODY.as_bytes()),
        };
        assert_eq!(
            digest(NOTIFICATION_BODY.as_bytes()),
            "mgMEVWbGEFXTblmUV5TuLOT8nGNVtySY4fF+x75hTAk="
        );
        assert_eq!(sign(&secret(), &components), NOTIFICATION_SIGNATURE);
        assert!(verify(&secret(), &components, NOTIFICATION_SIGNATURE));
    }

    #[test]
    fn component_lines_are_joined_by_lf_without_a_trailing_newline() {
        let components = Components {
            client_id: "C",
            request_id: "R",
            timestamp: "T",
            target: "/p",
            body: Some(b""),
        };
        assert_eq!(
            component_string(&components),
            "Client-Id:C\nRequest-Id:R\nRequest-Timestamp:T\nRequest-Target:/p\n\
             Digest:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn verification_refuses_tampering_wrong_keys_and_malformed_headers() {
        let components = Components {
            client_id: CLIENT_ID,
            request_id: NOTIFICATION_REQUEST_ID,
            timestamp: NOTIFICATION_TIMESTAMP,
            target: "/payments/notifications",
            body: Some(NOTIFICATION_BODY.as_bytes()),
        };
        let other_key = SecretString::from("SK-OTHER");
        assert!(!verify(&other_key, &components, NOTIFICATION_SIGNATURE));
        let tampered = NOTIFICATION_BODY.replace("150000", "150001");
        let tampered = Components {
            body: Some(tampered.as_bytes()),
            ..components
        };
        assert!(!verify(&secret(), &tampered, NOTIFICATION_SIGNATURE));
        let other_target = Components {
            target: "/other",
            ..components
        };
        assert!(!verify(&secret(), &other_target, NOTIFICATION_SIGNATURE));
        let bare = NOTIFICATION_SIGNATURE.trim_start_matches(PREFIX);
        for header in ["", bare, "HMACSHA256=***", "HMACSHA256="] {
            assert!(!verify(&secret(), &components, header), "{header:?}");
        }
    }
}
