//! Biller host-to-host (PPOB): prepaid purchases (PLN tokens, pulsa, data, e-money) and
//! postpaid bills (PLN, PDAM, BPJS, …) through an aggregator holding our deposit. Shaped to
//! fit Digiflazz and IAK alike (the provider reference's common model, §4–5).
//!
//! Money moves on [`Biller::purchase`] and [`Biller::pay`]. Their outcome is a
//! [`BillerTransaction`] whose state is `Success`, `Failed` or `Pending`; an error is either a
//! refusal before anything was booked (`Rejected`, `InsufficientBalance`, `Unavailable`, …:
//! nothing happened) or ambiguous (`Timeout`, `Protocol`: the transaction may exist), and an
//! ambiguous outcome is **never** `Failed`: the gateway keeps it pending and asks
//! [`Biller::status`] with the same reference. Amounts are explicit on both sides:
//! `biller_cost` is what the biller debits from our deposit, `customer_total` what the
//! customer pays (Digiflazz `price` / `selling_price`; IAK the other way round).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::{Amount, OurReference, ProviderError, ProviderReference};

/// A product in the biller's price list.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BillerProduct {
    /// The biller's product code (SKU, Digiflazz `buyer_sku_code`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// The biller's category (`Pulsa`, `Data`, `PLN`, `PDAM`, …), as it names it.
    pub category: String,
    /// The brand (`TELKOMSEL`, `PLN`, …), as the biller names it.
    pub brand: String,
    /// Whether the product is a postpaid bill (inquiry first).
    pub postpaid: bool,
    /// Prepaid: what the biller debits us per purchase.
    pub price: Option<Amount>,
    /// Postpaid: the admin fee per bill sheet.
    pub admin_fee: Option<Amount>,
    /// Postpaid: our commission per bill sheet.
    pub commission: Option<Amount>,
    /// Whether the biller sells it now (buyer and seller status both active).
    pub available: bool,
    /// The biller's description.
    pub description: String,
}

impl BillerProduct {
    /// A product.
    pub fn new(
        code: String,
        name: String,
        category: String,
        brand: String,
        postpaid: bool,
    ) -> Self {
        BillerProduct {
            code,
            name,
            category,
            brand,
            postpaid,
            price: None,
            admin_fee: None,
            commission: None,
            available: true,
            description: String::new(),
        }
    }
}

/// One bill sheet of a postpaid inquiry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BillPeriod {
    /// The period as the biller gives it (`202611`, or a count of months for BPJS).
    pub period: String,
    /// The bill amount of the sheet.
    pub amount: i64,
    /// The admin fee of the sheet.
    pub admin_fee: i64,
    /// Late-payment penalty (`denda`).
    pub penalty: i64,
    /// Meter reading at the start, where the product has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meter_start: Option<String>,
    /// Meter reading at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meter_end: Option<String>,
}

/// A postpaid bill found by inquiry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BillInquiry {
    /// Our reference, sent with the inquiry and to be sent again with the payment.
    pub reference: OurReference,
    /// The biller's handle for paying it, when it has one (IAK `tr_id`).
    pub provider_reference: Option<ProviderReference>,
    /// Customer name on the bill. Personal data.
    pub customer_name: String,
    /// The bill amount, all sheets (without admin and penalty).
    pub amount: Amount,
    /// Admin fee charged to the customer, all sheets.
    pub admin_fee: Amount,
    /// Penalties, all sheets.
    pub penalty: Amount,
    /// What the biller will debit from our deposit.
    pub biller_cost: Amount,
    /// What the customer pays in total (amount + admin + penalty).
    pub customer_total: Amount,
    /// The sheets.
    pub periods: Vec<BillPeriod>,
    /// Product-specific details (PLN `tarif`, `daya`; PDAM `alamat`, …) as a JSON object.
    pub details: serde_json::Value,
}

impl BillInquiry {
    /// An inquiry result.
    pub fn new(
        reference: OurReference,
        customer_name: String,
        amount: Amount,
        admin_fee: Amount,
        penalty: Amount,
        biller_cost: Amount,
        customer_total: Amount,
    ) -> Self {
        BillInquiry {
            reference,
            provider_reference: None,
            customer_name,
            amount,
            admin_fee,
            penalty,
            biller_cost,
            customer_total,
            periods: Vec::new(),
            details: serde_json::Value::Null,
        }
    }
}

/// A purchase, inquiry, payment or status request. `reference` is our `ref_id`: unique,
/// upper-case alphanumeric, at most 26 characters, allocated and stored before the first
/// send.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BillerOrder {
    /// Our reference, reused for the payment of an inquiry and for status checks.
    pub reference: OurReference,
    /// Product code (SKU).
    pub product_code: String,
    /// Customer number (meter number, phone number, customer id). Personal data.
    pub customer_no: String,
    /// Whether it is a postpaid bill.
    pub postpaid: bool,
    /// The most we accept to be debited, when the biller supports a cap.
    pub max_price: Option<Amount>,
    /// When we first sent it: set only for transactions the gateway sent. A biller whose
    /// status check re-submits (Digiflazz prepaid) refuses a status check without it, or
    /// past its horizon, because re-submitting would buy.
    pub sent_at: Option<OffsetDateTime>,
    /// The biller's handle from the inquiry, for billers that pay by it (IAK `tr_id`).
    pub inquiry_reference: Option<ProviderReference>,
}

impl BillerOrder {
    /// An order.
    pub fn new(
        reference: OurReference,
        product_code: String,
        customer_no: String,
        postpaid: bool,
    ) -> Self {
        BillerOrder {
            reference,
            product_code,
            customer_no,
            postpaid,
            max_price: None,
            sent_at: None,
            inquiry_reference: None,
        }
    }

    /// Sets when the gateway first sent it.
    pub fn sent_at(mut self, at: Option<OffsetDateTime>) -> Self {
        self.sent_at = at;
        self
    }

    /// Sets the price cap.
    pub fn max_price(mut self, max: Option<Amount>) -> Self {
        self.max_price = max;
        self
    }

    /// Sets the biller's inquiry handle.
    pub fn inquiry_reference(mut self, reference: Option<ProviderReference>) -> Self {
        self.inquiry_reference = reference;
        self
    }
}

/// Normalized transaction state. Unknown outcomes are `Pending`, never `Failed`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BillerTxState {
    /// In progress: resolve later by callback or status.
    Pending,
    /// Done.
    Success,
    /// Explicitly failed at the biller; no money kept (a refund after success, Digiflazz
    /// rc 74, is also `Failed`).
    Failed {
        /// The biller's code (`02`, `74`, …).
        code: String,
        /// The biller's reason.
        reason: String,
    },
    /// A status check says the biller has no such transaction.
    NotFound,
}

/// A transaction as the biller reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BillerTransaction {
    /// Our reference.
    pub reference: OurReference,
    /// Its state.
    pub state: BillerTxState,
    /// The biller's own id (Digiflazz `trx_id`, IAK `tr_id`), when given.
    pub provider_reference: Option<ProviderReference>,
    /// Serial number / receipt reference as the biller gives it (Digiflazz `sn`).
    pub serial_number: Option<String>,
    /// The 20-digit PLN prepaid token, when the serial number carries one.
    pub token: Option<String>,
    /// What the biller debited.
    pub biller_cost: Option<Amount>,
    /// What the customer pays, when the biller says (postpaid).
    pub customer_total: Option<Amount>,
    /// Our deposit after this transaction, as the biller reports it.
    pub balance_after: Option<Amount>,
    /// The biller's raw status code (Digiflazz `rc`).
    pub provider_status: String,
    /// The biller's message.
    pub message: String,
    /// Product-specific details (parsed PLN token fields, postpaid bill detail) as JSON.
    pub details: serde_json::Value,
}

impl BillerTransaction {
    /// A transaction report.
    pub fn new(
        reference: OurReference,
        state: BillerTxState,
        provider_status: impl Into<String>,
    ) -> Self {
        BillerTransaction {
            reference,
            state,
            provider_reference: None,
            serial_number: None,
            token: None,
            biller_cost: None,
            customer_total: None,
            balance_after: None,
            provider_status: provider_status.into(),
            message: String::new(),
            details: serde_json::Value::Null,
        }
    }
}

/// One row of the biller's records for a day, for H+1 reconciliation, from billers that
/// publish them (settlement files). Digiflazz does not: reconciliation asks per
/// transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SettlementRecord {
    /// Our reference as the biller recorded it.
    pub reference: OurReference,
    /// Its final state at the biller.
    pub state: BillerTxState,
    /// What the biller debited.
    pub amount: Amount,
    /// When the biller recorded it.
    pub at: Option<OffsetDateTime>,
}

impl SettlementRecord {
    /// A record.
    pub fn new(
        reference: OurReference,
        state: BillerTxState,
        amount: Amount,
        at: Option<OffsetDateTime>,
    ) -> Self {
        SettlementRecord {
            reference,
            state,
            amount,
            at,
        }
    }
}

/// A PLN prepaid customer as the biller validates it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CustomerInfo {
    /// The customer number as checked.
    pub customer_no: String,
    /// The name. Personal data.
    pub name: String,
    /// Details (PLN `meter_no`, `subscriber_id`, `segment_power`) as JSON.
    pub details: serde_json::Value,
}

impl CustomerInfo {
    /// A validated customer.
    pub fn new(customer_no: String, name: String, details: serde_json::Value) -> Self {
        CustomerInfo {
            customer_no,
            name,
            details,
        }
    }
}

/// Buy and pay through one biller instance.
#[async_trait]
pub trait Biller: Send + Sync + std::fmt::Debug {
    /// Our deposit balance held at the biller.
    async fn balance(&self) -> Result<Amount, ProviderError>;

    /// The price list, prepaid and postpaid.
    async fn products(&self) -> Result<Vec<BillerProduct>, ProviderError>;

    /// Checks a customer number for a prepaid product (PLN meter → name), where the biller
    /// supports it. Moves no money.
    async fn validate_customer(
        &self,
        product_code: &str,
        customer_no: &str,
    ) -> Result<CustomerInfo, ProviderError>;

    /// Buys a prepaid product. Money-moving: sent once.
    async fn purchase(&self, order: &BillerOrder) -> Result<BillerTransaction, ProviderError>;

    /// Looks up a postpaid bill. Moves no money.
    async fn inquire(&self, order: &BillerOrder) -> Result<BillInquiry, ProviderError>;

    /// Pays a postpaid bill found by [`Biller::inquire`] with the same reference.
    /// Money-moving: sent once.
    async fn pay(&self, order: &BillerOrder) -> Result<BillerTransaction, ProviderError>;

    /// The status of a transaction the gateway sent (status check / advice), by our
    /// reference. Never called for a reference the gateway did not send.
    async fn status(&self, order: &BillerOrder) -> Result<BillerTransaction, ProviderError>;

    /// The biller's records for one day, where it publishes them
    /// ([`ErrorKind::NotSupported`](crate::ErrorKind::NotSupported) otherwise).
    async fn settlement(&self, day: Date) -> Result<Vec<SettlementRecord>, ProviderError>;
}
