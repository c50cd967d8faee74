//! Request and answer bodies as the buyer API spells them (§1.3, §1.5).
//!
//! Amounts arrive as JSON numbers or numeric strings (§1.3.2: the docs type them both
//! ways), so they are read as raw JSON values and converted in `convert.rs`. Types that
//! hold a customer number or name have no `Debug`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /v1/cek-saldo` (§1.3.1).
#[derive(Serialize)]
pub(crate) struct BalanceRequest<'a> {
    /// Always `"deposit"`.
    pub(crate) cmd: &'static str,
    pub(crate) username: &'a str,
    pub(crate) sign: String,
}

/// `POST /v1/price-list` (§1.3.2), unfiltered.
#[derive(Serialize)]
pub(crate) struct PriceListRequest<'a> {
    /// `"prepaid"` or `"pasca"`.
    pub(crate) cmd: &'static str,
    pub(crate) username: &'a str,
    pub(crate) sign: String,
}

/// `POST /v1/deposit` (§1.3.3): `bank` in lower case although the doc's example spells
/// it `Bank`.
#[derive(Serialize)]
pub(crate) struct DepositRequest<'a> {
    pub(crate) username: &'a str,
    pub(crate) amount: i64,
    pub(crate) bank: &'a str,
    pub(crate) owner_name: &'a str,
    pub(crate) sign: String,
}

/// `POST /v1/transaction`, prepaid topup (§1.3.4): no `commands`; `cb_url` is never sent
/// (the webhook is configured in the member panel).
#[derive(Serialize)]
pub(crate) struct TopupRequest<'a> {
    pub(crate) username: &'a str,
    pub(crate) buyer_sku_code: &'a str,
    pub(crate) customer_no: &'a str,
    pub(crate) ref_id: &'a str,
    pub(crate) sign: String,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) testing: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_price: Option<i64>,
}

/// `POST /v1/transaction` with `commands` `inq-pasca`, `pay-pasca` or `status-pasca`
/// (§1.3.5 – 1.3.7).
#[derive(Serialize)]
pub(crate) struct PostpaidRequest<'a> {
    pub(crate) commands: &'static str,
    pub(crate) username: &'a str,
    pub(crate) buyer_sku_code: &'a str,
    pub(crate) customer_no: &'a str,
    pub(crate) ref_id: &'a str,
    pub(crate) sign: String,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) testing: bool,
}

/// `POST /v1/inquiry-pln` (§1.3.8).
#[derive(Serialize)]
pub(crate) struct PlnInquiryRequest<'a> {
    pub(crate) username: &'a str,
    pub(crate) customer_no: &'a str,
    pub(crate) sign: String,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Every answer: `{"data": …}`, an object or (price list) an array.
#[derive(Deserialize)]
pub(crate) struct Envelope {
    #[serde(default)]
    pub(crate) data: Option<Value>,
}

/// `data` of a transaction command or a webhook (§1.3.4 – 1.3.7, §1.5): the prepaid
/// shape, with the postpaid fields (`customer_name`, `admin`, `selling_price`, `desc`)
/// where the command has them. `customer_no` and `customer_name` are not read.
#[derive(Deserialize)]
pub(crate) struct Transaction {
    #[serde(default)]
    pub(crate) ref_id: Option<String>,
    /// Digiflazz's own id; webhooks carry it (§1.5).
    #[serde(default)]
    pub(crate) trx_id: Option<String>,
    /// `Sukses`, `Pending` or `Gagal`.
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) rc: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    /// Serial number, receipt reference or PLN token (`""` until success).
    #[serde(default)]
    pub(crate) sn: Option<String>,
    #[serde(default)]
    pub(crate) price: Option<Value>,
    #[serde(default)]
    pub(crate) selling_price: Option<Value>,
    #[serde(default)]
    pub(crate) buyer_last_saldo: Option<Value>,
    #[serde(default)]
    pub(crate) desc: Option<Value>,
}

/// `data` of `inq-pasca` (§1.3.5). `customer_name` is personal data.
#[derive(Deserialize)]
pub(crate) struct Inquiry {
    #[serde(default)]
    pub(crate) ref_id: Option<String>,
    #[serde(default)]
    pub(crate) customer_name: Option<String>,
    #[serde(default)]
    pub(crate) admin: Option<Value>,
    #[serde(default)]
    pub(crate) price: Option<Value>,
    #[serde(default)]
    pub(crate) selling_price: Option<Value>,
    #[serde(default)]
    pub(crate) desc: Option<serde_json::Map<String, Value>>,
}

/// One `desc.detail[]` entry: a bill sheet. Amounts are numeric strings (`"8000"`).
#[derive(Deserialize)]
pub(crate) struct Sheet {
    #[serde(default)]
    pub(crate) periode: Option<Value>,
    #[serde(default)]
    pub(crate) nilai_tagihan: Option<Value>,
    #[serde(default)]
    pub(crate) admin: Option<Value>,
    #[serde(default)]
    pub(crate) denda: Option<Value>,
    #[serde(default)]
    pub(crate) meter_awal: Option<Value>,
    #[serde(default)]
    pub(crate) meter_akhir: Option<Value>,
}

/// `data` of `/v1/inquiry-pln` (§1.3.8). `name` is personal data.
#[derive(Deserialize)]
pub(crate) struct PlnCustomer {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) meter_no: Option<Value>,
    #[serde(default)]
    pub(crate) subscriber_id: Option<Value>,
    #[serde(default)]
    pub(crate) segment_power: Option<Value>,
}

/// One price-list item (§1.3.2), prepaid or postpaid.
#[derive(Debug, Deserialize)]
pub(crate) struct PriceItem {
    pub(crate) buyer_sku_code: String,
    #[serde(default)]
    pub(crate) product_name: Option<String>,
    #[serde(default)]
    pub(crate) category: Option<String>,
    #[serde(default)]
    pub(crate) brand: Option<String>,
    /// Prepaid: what a purchase debits.
    #[serde(default)]
    pub(crate) price: Option<Value>,
    /// Postpaid: admin fee per sheet.
    #[serde(default)]
    pub(crate) admin: Option<Value>,
    /// Postpaid: our commission per sheet.
    #[serde(default)]
    pub(crate) commission: Option<Value>,
    #[serde(default)]
    pub(crate) buyer_product_status: Option<bool>,
    #[serde(default)]
    pub(crate) seller_product_status: Option<bool>,
    #[serde(default)]
    pub(crate) desc: Option<String>,
}

/// `data` of `/v1/deposit` (§1.3.3).
#[derive(Debug, Deserialize)]
pub(crate) struct DepositTicket {
    #[serde(default)]
    pub(crate) bank: Option<String>,
    #[serde(default)]
    pub(crate) payment_method: Option<String>,
    #[serde(default)]
    pub(crate) account_no: Option<Value>,
    #[serde(default)]
    pub(crate) notes: Option<String>,
    #[serde(default)]
    pub(crate) amount: Option<Value>,
}
