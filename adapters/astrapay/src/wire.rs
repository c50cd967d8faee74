//! Request and answer bodies, fields spelled as AstraPay spells them (1.8, 1.9).
//!
//! Answers are read leniently: every field is optional here and `convert` decides which
//! ones an operation cannot do without. The SNAP envelope (`responseCode`,
//! `responseMessage`) is read by `adapter_snap::client`.

use adapter_snap::codec::SnapAmount;
use serde::{Deserialize, Serialize};

/// `paymentType` asking for the app deeplink (1.8).
pub(crate) const PAYMENT_TYPE_IN_APP: &str = "IN_APP";
/// The service code of the direct-debit payment, quoted in status requests (1.8).
pub(crate) const SERVICE_CODE_DEBIT_PAYMENT: &str = "54";
/// The service code of QR generation, quoted in query requests (1.9).
pub(crate) const SERVICE_CODE_QR_GENERATE: &str = "47";
/// The tip we never ask for (1.9 `additionalInfo.tip`).
pub(crate) const NO_TIP: &str = "0.00";

/// `POST {debit_prefix}/debit/payment-host-to-host` (service 54).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DebitPayment {
    pub(crate) partner_reference_no: String,
    pub(crate) merchant_id: String,
    pub(crate) valid_up_to: String,
    pub(crate) amount: SnapAmount,
    pub(crate) additional_info: DebitPaymentInfo,
}

/// `additionalInfo` of a direct-debit payment.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DebitPaymentInfo {
    pub(crate) description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) payment_type: Option<&'static str>,
}

/// The `2005400` answer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DebitPaymentAnswer {
    #[serde(default)]
    pub(crate) partner_reference_no: Option<String>,
    #[serde(default)]
    pub(crate) reference_no: Option<String>,
    #[serde(default)]
    pub(crate) web_redirect_url: Option<String>,
    #[serde(default)]
    pub(crate) app_redirect_url: Option<String>,
}

/// `POST {debit_prefix}/debit/status` (service 55).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DebitStatus {
    pub(crate) original_partner_reference_no: String,
    /// May be `""` when the payment answer was never read (1.8).
    pub(crate) original_reference_no: String,
    pub(crate) service_code: &'static str,
    pub(crate) amount: SnapAmount,
}

/// `POST {debit_prefix}/debit/refund` (service 58).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DebitRefund {
    pub(crate) original_partner_reference_no: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) original_reference_no: Option<String>,
    pub(crate) partner_refund_no: String,
    pub(crate) refund_amount: SnapAmount,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
}

/// `POST {qris_prefix}/qr/qr-mpm-generate` (service 47).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QrGenerate {
    pub(crate) partner_reference_no: String,
    pub(crate) amount: SnapAmount,
    pub(crate) merchant_id: String,
    pub(crate) terminal_id: String,
    /// Jakarta local time without an offset, as the doc's example (1.9).
    pub(crate) validity_period: String,
    pub(crate) additional_info: Tip,
}

/// `additionalInfo{tip}` of the QRIS calls.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Tip {
    #[serde(default)]
    pub(crate) tip: Option<String>,
}

impl Tip {
    pub(crate) fn none() -> Tip {
        Tip {
            tip: Some(NO_TIP.to_owned()),
        }
    }
}

/// The `2004700` answer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QrGenerateAnswer {
    #[serde(default)]
    pub(crate) reference_no: Option<String>,
    #[serde(default)]
    pub(crate) partner_reference_no: Option<String>,
    #[serde(default)]
    pub(crate) qr_content: Option<String>,
}

/// `POST {qris_prefix}/qr/qr-mpm-query` (service 51).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QrQuery {
    pub(crate) original_reference_no: String,
    pub(crate) original_partner_reference_no: String,
    pub(crate) service_code: &'static str,
    pub(crate) merchant_id: String,
    pub(crate) additional_info: Tip,
}

/// `POST {qris_refund_path}` (service 78).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QrRefund {
    pub(crate) merchant_id: String,
    pub(crate) original_partner_reference_no: String,
    pub(crate) original_reference_no: String,
    pub(crate) partner_refund_no: String,
    pub(crate) refund_amount: SnapAmount,
    pub(crate) reason: String,
}

/// A refund answer: `2005800` / `2025800` (debit) or `2007800` (QRIS).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefundAnswer {
    /// The debit refund's id (`INV/REF/ONP/...`).
    #[serde(default)]
    pub(crate) refund_no: Option<String>,
    /// The QRIS refund's id.
    #[serde(default)]
    pub(crate) reference_no: Option<String>,
}

/// A status answer (`2005500` debit, `2005100` QRIS) or a notification body (services 56
/// and 52): the same payment view.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PaymentView {
    #[serde(default)]
    pub(crate) original_partner_reference_no: Option<String>,
    #[serde(default)]
    pub(crate) original_reference_no: Option<String>,
    #[serde(default)]
    pub(crate) latest_transaction_status: Option<String>,
    #[serde(default)]
    pub(crate) amount: Option<SnapAmount>,
    /// Debit status only: the amount charged.
    #[serde(default)]
    pub(crate) trans_amount: Option<AmountField>,
    #[serde(default)]
    pub(crate) refund_history: Option<Vec<RefundHistory>>,
    /// Status answers: no offset, microseconds (`2022-10-12T11:09:10.912333`).
    #[serde(default)]
    pub(crate) paid_time: Option<String>,
    /// Debit notifications: with offset (`2022-12-15T17:07:15+07:00`).
    #[serde(default)]
    pub(crate) finished_time: Option<String>,
}

/// One `refundHistory[]` entry of a debit status answer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefundHistory {
    #[serde(default)]
    pub(crate) refund_amount: Option<AmountField>,
    #[serde(default)]
    pub(crate) refund_status: Option<String>,
}

/// An amount as AstraPay writes it: the SNAP object, or (in some samples of
/// `additionalInfo`) a bare decimal string.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum AmountField {
    Object(SnapAmount),
    Text(String),
}
