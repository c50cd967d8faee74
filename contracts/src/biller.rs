//! Biller host-to-host (PPOB): prepaid purchases (PLN tokens, pulsa, data) and postpaid
//! bills (PLN, PDAM, BPJS) through an aggregator. Shaped to fit Digiflazz and IAK alike.
//!
//! Money moves on [`Biller::purchase`] and [`Biller::pay`]. An unknown outcome is never
//! `Failed`: it is `Pending`, resolved by [`Biller::status`] with the same reference.

use async_trait::async_trait;
use time::{Date, OffsetDateTime};

use crate::{Amount, OurReference, ProviderError, ProviderReference};

/// A product in the biller's price list.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BillerProduct {
    /// The biller's product code (SKU).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Category (`pln_prepaid`, `pln_postpaid`, `pdam`, `pulsa`, `data`, `bpjs`, …).
    pub category: String,
    /// Whether the product is a postpaid bill (inquiry first).
    pub postpaid: bool,
    /// What the biller charges us (prepaid) or its admin fee (postpaid).
    pub biller_cost: Amount,
    /// Whether the biller currently sells it.
    pub available: bool,
}

impl BillerProduct {
    /// A product.
    pub fn new(
        code: String,
        name: String,
        category: String,
        postpaid: bool,
        biller_cost: Amount,
        available: bool,
    ) -> Self {
        BillerProduct {
            code,
            name,
            category,
            postpaid,
            biller_cost,
            available,
        }
    }
}

/// A postpaid bill found by inquiry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BillInquiry {
    /// The biller's id for the inquiry, when it has one.
    pub provider_reference: Option<ProviderReference>,
    /// Customer name on the bill.
    pub customer_name: String,
    /// Bill amount.
    pub amount: Amount,
    /// Admin fee charged to the customer.
    pub admin_fee: Amount,
    /// What the biller will debit from our deposit.
    pub biller_cost: Amount,
    /// What the customer pays in total.
    pub customer_total: Amount,
    /// Product-specific details (periods, meter readings, …).
    pub details: serde_json::Value,
}

impl BillInquiry {
    /// An inquiry result.
    pub fn new(
        customer_name: String,
        amount: Amount,
        admin_fee: Amount,
        biller_cost: Amount,
        customer_total: Amount,
    ) -> Self {
        BillInquiry {
            provider_reference: None,
            customer_name,
            amount,
            admin_fee,
            biller_cost,
            customer_total,
            details: serde_json::Value::Null,
        }
    }
}

/// A purchase (prepaid) or payment (postpaid) request. `reference` is our `ref_id`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BillerOrder {
    /// Our reference, reused for status checks.
    pub reference: OurReference,
    /// Product code.
    pub product_code: String,
    /// Customer number (meter number, phone number, customer id).
    pub customer_no: String,
    /// The most we accept to be debited, when the biller supports a cap.
    pub max_price: Option<Amount>,
}

impl BillerOrder {
    /// An order.
    pub fn new(reference: OurReference, product_code: String, customer_no: String) -> Self {
        BillerOrder {
            reference,
            product_code,
            customer_no,
            max_price: None,
        }
    }
}

/// Normalized transaction status. Unknown outcomes are `Pending`, never `Failed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BillerTxState {
    /// In progress or unknown: resolve later by status.
    Pending,
    /// Done.
    Success,
    /// Explicitly failed; no money kept.
    Failed {
        /// The biller's reason.
        reason: String,
    },
}

/// A transaction as the biller reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BillerTransaction {
    /// Our reference.
    pub reference: OurReference,
    /// Its state.
    pub state: BillerTxState,
    /// Serial number / token (the 20-digit PLN token for prepaid electricity).
    pub serial_number: Option<String>,
    /// What the biller debited.
    pub biller_cost: Option<Amount>,
    /// The biller's raw status code.
    pub provider_status: String,
    /// Product-specific details.
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
            serial_number: None,
            biller_cost: None,
            provider_status: provider_status.into(),
            details: serde_json::Value::Null,
        }
    }
}

/// One row of the biller's records for a day, for H+1 reconciliation.
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

/// Buy and pay through one biller instance.
#[async_trait]
pub trait Biller: Send + Sync + std::fmt::Debug {
    /// Our deposit balance held at the biller.
    async fn balance(&self) -> Result<Amount, ProviderError>;

    /// The price list.
    async fn products(&self) -> Result<Vec<BillerProduct>, ProviderError>;

    /// Checks a customer number for a prepaid product (e.g. PLN meter → name), where the
    /// biller supports it.
    async fn validate_customer(
        &self,
        product_code: &str,
        customer_no: &str,
    ) -> Result<String, ProviderError>;

    /// Buys a prepaid product. Money-moving.
    async fn purchase(&self, order: &BillerOrder) -> Result<BillerTransaction, ProviderError>;

    /// Looks up a postpaid bill.
    async fn inquire(&self, order: &BillerOrder) -> Result<BillInquiry, ProviderError>;

    /// Pays a postpaid bill found by [`Biller::inquire`] with the same reference. Money-moving.
    async fn pay(&self, order: &BillerOrder) -> Result<BillerTransaction, ProviderError>;

    /// The status of a transaction we sent (status check / advice), by our reference.
    async fn status(&self, order: &BillerOrder) -> Result<BillerTransaction, ProviderError>;

    /// The biller's records for one day, where it offers them.
    async fn settlement(&self, day: Date) -> Result<Vec<SettlementRecord>, ProviderError>;
}
