//! Request and answer shapes, spelled exactly as DOKU spells them: snake_case for the
//! non-SNAP Checkout API (2.5–2.7), camelCase for SNAP VA (2.11.4–2.11.7).
//!
//! Answers are read leniently: DOKU says it may add fields (2.7), so every answer field is
//! optional and unknown ones are ignored; what a field must hold is decided in
//! `convert.rs`.

use adapter_snap::codec::SnapAmount;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

// ---- non-SNAP Checkout (2.5, 2.6, 2.7) --------------------------------------------------

/// `POST /checkout/v1/payment` body (2.5).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CheckoutRequest {
    pub order: CheckoutOrder,
    pub payment: CheckoutPayment,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<CheckoutCustomer>,
}

/// `order` of a Checkout request.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CheckoutOrder {
    /// Whole rupiah as a JSON number.
    pub amount: i64,
    pub invoice_number: String,
    pub currency: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

/// `payment` of a Checkout request.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CheckoutPayment {
    /// Minutes.
    pub payment_due_date: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method_types: Option<Vec<String>>,
}

/// `customer` of a Checkout request. Personal data: never logged.
#[derive(Clone, Serialize)]
pub(crate) struct CheckoutCustomer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl std::fmt::Debug for CheckoutCustomer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckoutCustomer").finish_non_exhaustive()
    }
}

/// The Checkout answer: `{"message":["SUCCESS"],"response":{…}}` (2.5).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct CheckoutAnswer {
    #[serde(default)]
    pub message: Option<Vec<Value>>,
    #[serde(default)]
    pub response: Option<CheckoutResponse>,
}

/// `response` of a Checkout answer.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct CheckoutResponse {
    #[serde(default)]
    pub order: Option<OrderInfo>,
    #[serde(default)]
    pub payment: Option<CheckoutPaymentInfo>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub uuid: Option<String>,
}

/// `response.payment` of a Checkout answer.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct CheckoutPaymentInfo {
    #[serde(default, deserialize_with = "lenient_text")]
    pub token_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub expired_date: Option<String>,
}

/// `order` in answers and notifications: `{invoice_number, amount}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct OrderInfo {
    #[serde(default, deserialize_with = "lenient_text")]
    pub invoice_number: Option<String>,
    /// A JSON number in DOKU's samples; a numeric string is read too.
    #[serde(default, deserialize_with = "lenient_text")]
    pub amount: Option<String>,
}

/// `transaction` in status answers and notifications (2.6, 2.7).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct TransactionInfo {
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub date: Option<String>,
}

/// The `GET /orders/v1/status/{invoice}` answer (2.6) and the HTTP notification body
/// (2.7): both carry `order` and `transaction`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct OrderStatus {
    #[serde(default)]
    pub order: Option<OrderInfo>,
    #[serde(default)]
    pub transaction: Option<TransactionInfo>,
}

/// A non-SNAP error body: `{"error":{"code","message","type"}}` or `{"message":[…]}` (2.10).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub error: Option<ErrorDetail>,
    #[serde(default)]
    pub message: Option<Vec<Value>>,
}

/// `error` of a non-SNAP error body.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(default, deserialize_with = "lenient_text")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub message: Option<String>,
}

// ---- SNAP VA (2.11.4, 2.11.5, 2.11.7) ---------------------------------------------------

/// `additionalInfo.virtualAccountConfig` of create (`reusableStatus`) and update (`status`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VaConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reusable_status: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

/// `additionalInfo` of VA requests.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VaAdditionalInfo {
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_account_config: Option<VaConfig>,
}

/// Create VA (svc 27) and Update VA (svc 28) bodies: the same fields (2.11.4).
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VaRequest {
    pub partner_service_id: String,
    pub customer_no: String,
    pub virtual_account_no: String,
    pub virtual_account_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_account_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_account_phone: Option<String>,
    pub trx_id: String,
    pub total_amount: SnapAmount,
    pub virtual_account_trx_type: &'static str,
    pub additional_info: VaAdditionalInfo,
    pub expired_date: String,
}

impl std::fmt::Debug for VaRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaRequest")
            .field("customer_no", &self.customer_no)
            .field("trx_id", &self.trx_id)
            .finish_non_exhaustive()
    }
}

/// Delete VA (svc 31) body.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteVaRequest {
    pub partner_service_id: String,
    pub customer_no: String,
    pub virtual_account_no: String,
    pub trx_id: String,
    pub additional_info: VaAdditionalInfo,
}

/// Check status VA (svc 26) body.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VaStatusRequest {
    pub partner_service_id: String,
    pub customer_no: String,
    pub virtual_account_no: String,
    pub additional_info: serde_json::Map<String, Value>,
}

/// `virtualAccountData` of SNAP answers and the body of DOKU's payment notification
/// (2.11.5, 2.11.7); numbers where BI's samples send them are read as text (B.5).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VaData {
    #[serde(default, deserialize_with = "lenient_text")]
    pub partner_service_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub customer_no: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub virtual_account_no: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub trx_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub payment_request_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_amount")]
    pub paid_amount: Option<SnapAmount>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub payment_flag_status: Option<String>,
    #[serde(default)]
    pub payment_flag_reason: Option<FlagReason>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub trx_date_time: Option<String>,
}

/// `paymentFlagReason`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct FlagReason {
    #[serde(default, deserialize_with = "lenient_text")]
    pub english: Option<String>,
}

/// A SNAP answer's `virtualAccountData`, if it is an object.
pub(crate) fn va_data(body: &Value) -> VaData {
    body.get("virtualAccountData")
        .cloned()
        .and_then(|data| serde_json::from_value(data).ok())
        .unwrap_or_default()
}

/// A string, a number or a boolean as text; anything else (null, objects) as `None`.
fn lenient_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => Some(text),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    })
}

/// A SNAP amount object, or `None` when it is absent or not of that shape.
fn lenient_amount<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SnapAmount>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let text = |name: &str| match value.get(name) {
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    };
    Ok(text("value").map(|amount| SnapAmount {
        value: amount,
        currency: text("currency").unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_read_leniently() {
        let status: OrderStatus = serde_json::from_value(json!({
            "order": {"invoice_number": "INV-1", "amount": 150000, "extra": [1]},
            "transaction": {"status": "SUCCESS", "date": "2021-01-27T03:24:23Z"},
            "service": {"id": "VIRTUAL_ACCOUNT"}
        }))
        .expect("parses");
        let order = status.order.expect("order");
        assert_eq!(order.amount.as_deref(), Some("150000"));
        assert_eq!(order.invoice_number.as_deref(), Some("INV-1"));

        let data = va_data(&json!({"virtualAccountData": {
            "customerNo": 12345678901234567890_u64, "paidAmount": {"value": "10.00", "currency": "IDR"},
            "billAmount": null, "paymentFlagStatus": "00", "trxId": {"odd": 1}
        }}));
        assert_eq!(data.customer_no.as_deref(), Some("12345678901234567890"));
        assert_eq!(data.paid_amount.map(|a| a.value).as_deref(), Some("10.00"));
        assert!(data.trx_id.is_none());
        assert_eq!(
            va_data(&json!({"virtualAccountData": "x"})).customer_no,
            None
        );
    }

    #[test]
    fn create_body_spells_snap_names_and_skips_absent_contact_fields() {
        let body = VaRequest {
            partner_service_id: "    8129".to_owned(),
            customer_no: "000000000001".to_owned(),
            virtual_account_no: "    8129000000000001".to_owned(),
            virtual_account_name: "Budi".to_owned(),
            virtual_account_email: None,
            virtual_account_phone: None,
            trx_id: "INV-1".to_owned(),
            total_amount: SnapAmount {
                value: "150000.00".to_owned(),
                currency: "IDR".to_owned(),
            },
            virtual_account_trx_type: "C",
            additional_info: VaAdditionalInfo {
                channel: "VIRTUAL_ACCOUNT_BNI".to_owned(),
                virtual_account_config: Some(VaConfig {
                    reusable_status: Some(false),
                    status: None,
                }),
            },
            expired_date: "2024-01-02T10:00:00+07:00".to_owned(),
        };
        let value = serde_json::to_value(&body).expect("serializes");
        assert_eq!(value["partnerServiceId"], "    8129");
        assert_eq!(
            value["additionalInfo"],
            json!({"channel": "VIRTUAL_ACCOUNT_BNI", "virtualAccountConfig": {"reusableStatus": false}})
        );
        assert!(value.get("virtualAccountEmail").is_none());
        assert!(!format!("{body:?}").contains("Budi"));
    }
}
