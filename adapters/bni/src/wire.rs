//! Request and response shapes, spelled exactly as BNI spells them (A.1, A.3, A.5).
//!
//! Field order of the request structs is the order of the spec's vectors (TV-4, TV-6), so
//! the serialized plaintext reproduces them byte for byte. None of these derive `Debug`:
//! they carry customer names, e-mails and phone numbers.

use serde::{Deserialize, Serialize};

/// The plaintext envelope around every request (A.1).
#[derive(Serialize)]
pub(crate) struct RequestEnvelope<'a> {
    pub client_id: &'a str,
    pub prefix: &'a str,
    pub data: &'a str,
}

/// The plaintext envelope around every answer: `{"status","data"}` on success,
/// `{"status","message"}` on failure (A.1).
#[derive(Deserialize)]
pub(crate) struct ResponseEnvelope {
    pub status: String,
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `createbilling` (A.3).
#[derive(Serialize)]
pub(crate) struct CreateBilling<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub client_id: &'a str,
    pub trx_id: &'a str,
    pub trx_amount: String,
    pub billing_type: &'static str,
    pub customer_name: &'a str,
    pub customer_email: &'a str,
    pub customer_phone: &'a str,
    pub virtual_account: &'a str,
    pub datetime_expired: String,
    pub description: &'a str,
}

/// `updatebilling` (A.3): every field again, since omitted ones are blanked.
#[derive(Serialize)]
pub(crate) struct UpdateBilling<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub client_id: &'a str,
    pub trx_id: &'a str,
    pub trx_amount: String,
    pub customer_name: &'a str,
    pub customer_email: &'a str,
    pub customer_phone: &'a str,
    pub datetime_expired: String,
    pub description: &'a str,
}

/// `inactivebilling` (A.2).
#[derive(Serialize)]
pub(crate) struct InactiveBilling<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub client_id: &'a str,
    pub trx_id: &'a str,
    pub virtual_account: &'a str,
}

/// `inquirybilling` (A.3).
#[derive(Serialize)]
pub(crate) struct InquiryBilling<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub client_id: &'a str,
    pub trx_id: &'a str,
}

/// Decrypted `data` of a create or update answer: `{virtual_account, trx_id}`.
#[derive(Deserialize)]
pub(crate) struct BillingResult {
    #[serde(default)]
    pub virtual_account: Option<String>,
    #[serde(default)]
    pub trx_id: Option<String>,
}

/// Decrypted `data` of an inquiry answer; every value a string or null (A.3). Fields we
/// do not use (names, e-mail, phone, description) are not read.
#[derive(Deserialize)]
pub(crate) struct BillingInquiry {
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub trx_id: Option<String>,
    #[serde(default)]
    pub trx_amount: Option<String>,
    #[serde(default)]
    pub virtual_account: Option<String>,
    #[serde(default)]
    pub va_status: Option<String>,
    #[serde(default)]
    pub payment_amount: Option<String>,
    #[serde(default)]
    pub payment_ntb: Option<String>,
    #[serde(default)]
    pub datetime_expired: Option<String>,
    #[serde(default)]
    pub datetime_expired_iso8601: Option<String>,
    #[serde(default)]
    pub datetime_payment: Option<String>,
    #[serde(default)]
    pub datetime_payment_iso8601: Option<String>,
}

/// The plaintext envelope of a payment callback (A.5).
#[derive(Deserialize)]
pub(crate) struct CallbackEnvelope {
    pub client_id: String,
    pub data: String,
}

/// Decrypted `data` of a payment callback; all values strings (A.5).
#[derive(Deserialize)]
pub(crate) struct PaymentNotification {
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub trx_id: Option<String>,
    #[serde(default)]
    pub virtual_account: Option<String>,
    #[serde(default)]
    pub trx_amount: Option<String>,
    #[serde(default)]
    pub payment_amount: Option<String>,
    #[serde(default)]
    pub cumulative_payment_amount: Option<String>,
    #[serde(default)]
    pub payment_ntb: Option<String>,
    #[serde(default)]
    pub datetime_payment: Option<String>,
    #[serde(default)]
    pub datetime_payment_iso8601: Option<String>,
}

/// The `type` values we send (A.2), lower case as current SDKs send them.
pub(crate) mod kind {
    pub(crate) const CREATE: &str = "createbilling";
    pub(crate) const UPDATE: &str = "updatebilling";
    pub(crate) const INACTIVE: &str = "inactivebilling";
    pub(crate) const INQUIRY: &str = "inquirybilling";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::BniEnc;
    use crate::signature::to_ascii_json;
    use crate::signature::vectors::{OUR_CLIENT_ID, OUR_SECRET, TV4_CIPHER};

    #[test]
    fn create_billing_serializes_to_tv4_exactly() {
        let request = CreateBilling {
            kind: kind::CREATE,
            client_id: "123",
            trx_id: "INV-0001",
            trx_amount: "150000".to_owned(),
            billing_type: "c",
            customer_name: "Budi",
            customer_email: "budi@example.com",
            customer_phone: "08123456789",
            virtual_account: "8123000000000001",
            datetime_expired: "2023-11-15T23:59:59+07:00".to_owned(),
            description: "Test",
        };
        let json = to_ascii_json(&request).expect("serializes");
        let keys = BniEnc::new(OUR_CLIENT_ID, OUR_SECRET);
        assert_eq!(keys.encrypt(&json, 1_700_000_000), TV4_CIPHER);
    }

    #[test]
    fn inquiry_serializes_to_tv6_plaintext() {
        let request = InquiryBilling {
            kind: kind::INQUIRY,
            client_id: "123",
            trx_id: "INV-0001",
        };
        let json = to_ascii_json(&request).expect("serializes");
        assert_eq!(
            json,
            r#"{"type":"inquirybilling","client_id":"123","trx_id":"INV-0001"}"#
        );
    }

    #[test]
    fn envelope_is_client_id_prefix_data() {
        let envelope = RequestEnvelope {
            client_id: "123",
            prefix: "8",
            data: "abc",
        };
        let json = serde_json::to_string(&envelope).expect("serializes");
        assert_eq!(json, r#"{"client_id":"123","prefix":"8","data":"abc"}"#);
    }
}
