//! PPOB (biller host-to-host): the catalogue, inquiries, payments and purchases, their
//! pending outcomes, the deposit balance, and H+1 reconciliation ([`reconcile`]).
//!
//! **Exactly once.** A payment is stored `creating` with a fresh `ref_id` (or, for a
//! postpaid bill, the inquiry's) before it is sent; the client's reference and the inquiry
//! are unique, so retries and concurrent duplicates find the first payment instead of
//! buying again. The biller is called once: an ambiguous answer (timeout, 5xx, garbled,
//! "ref_id not unique") leaves the payment `pending`, and only a webhook or a status check
//! (Digiflazz: the same `ref_id` sent again, which the adapter allows only for what the
//! gateway sent) settles it. Nothing moves a payment backwards except the biller's own
//! refund of a success, which is flagged.
//!
//! **Amounts** are whole rupiah: `biller_cost` (what the deposit is debited) and
//! `customer_total` (what the customer pays) are kept apart.

pub mod reconcile;

use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use contracts::biller::{BillerOrder, BillerTransaction, BillerTxState};
use contracts::{Amount, Biller, ErrorKind, OurReference, ProviderError, ProviderReference};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::AnyConnection;
use time::{OffsetDateTime, UtcOffset};

use crate::app::AppState;
use crate::http::ApiError;
use crate::service::fields::{self, field, rfc3339};
use crate::service::va::provider_error;
use crate::store::bills::{
    self as store, InquiryRow, PaymentChange, PaymentRow, ProductRow, Taken, status,
};
use crate::store::calls::{self, Call};
use crate::store::checks::{self, Table};
use crate::store::{Flagged, StoreError, add_flag, events, from_ms, new_id, now_ms, to_ms};

/// Asia/Jakarta (WIB), UTC+7 all year: billers' days.
pub const WIB: UtcOffset = match UtcOffset::from_hms(7, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// A fresh `ref_id`: 26 upper-case alphanumerics (a ULID), unique and never reused.
fn new_ref_id() -> String {
    ulid::Ulid::new().to_string()
}

/// The client's biller instances that are configured, in route order; 403 when none.
fn instances_of(state: &AppState, client_id: &str) -> Result<Vec<String>, ApiError> {
    let names: Vec<String> = state
        .client(client_id)
        .map(|c| c.config.routes.bills.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|name| state.registry().biller(name).is_some())
        .collect();
    if names.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "bills_not_enabled",
            "Bills not enabled",
            "this client has no biller configured",
        ));
    }
    Ok(names)
}

fn adapter(state: &AppState, instance: &str) -> Result<Arc<dyn Biller>, ApiError> {
    state.registry().biller(instance).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "provider_not_configured",
            "Provider not configured",
            "the biller instance is no longer configured",
        )
    })
}

// ---------------------------------------------------------------- catalogue

/// A product as products see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Product {
    /// The biller's product code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// The biller's category (`Pulsa`, `Data`, `PLN`, `PDAM`, …).
    pub category: String,
    /// The brand.
    pub brand: String,
    /// `prepaid` (buy directly) or `postpaid` (inquiry first).
    pub kind: &'static str,
    /// Prepaid: what one purchase costs, whole rupiah.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    /// Postpaid: the admin fee per bill sheet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_fee: Option<i64>,
    /// Whether it can be bought now.
    pub available: bool,
    /// The biller instance selling it.
    pub provider: String,
}

impl From<&ProductRow> for Product {
    fn from(p: &ProductRow) -> Self {
        Product {
            code: p.code.clone(),
            name: p.name.clone(),
            category: p.category.clone(),
            brand: p.brand.clone(),
            kind: if p.postpaid { "postpaid" } else { "prepaid" },
            price: p.price,
            admin_fee: p.admin_fee,
            available: p.available,
            provider: p.provider.clone(),
        }
    }
}

/// Fetches a biller's price list and replaces the stored catalogue.
pub async fn refresh_catalogue(state: &AppState, instance: &str) -> Result<usize, ApiError> {
    let biller = adapter(state, instance)?;
    let started = Instant::now();
    let result = biller.products().await;
    let call = Call::finished(None, instance, "bill.products", started, &result);
    let products = match result {
        Ok(products) => products,
        Err(e) => {
            record(state, call).await;
            return Err(provider_error(e));
        }
    };
    let now = now_ms();
    let rows: Vec<ProductRow> = products
        .into_iter()
        .map(|p| ProductRow {
            provider: instance.to_owned(),
            code: p.code,
            name: p.name,
            category: p.category,
            brand: p.brand,
            postpaid: p.postpaid,
            price: p.price.map(Amount::rupiah),
            admin_fee: p.admin_fee.map(Amount::rupiah),
            commission: p.commission.map(Amount::rupiah),
            available: p.available,
            description: p.description,
            refreshed_at: now,
        })
        .collect();
    let n = rows.len();
    let provider = instance.to_owned();
    state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, std::slice::from_ref(&call)).await?;
                store::replace_catalogue(conn, &provider, &rows).await
            })
        })
        .await?;
    Ok(n)
}

/// The catalogue of the client's billers, fetched first where it was never fetched.
pub async fn products(
    state: &AppState,
    client_id: &str,
    category: Option<&str>,
) -> Result<Vec<ProductRow>, ApiError> {
    let instances = instances_of(state, client_id)?;
    for instance in &instances {
        if store::catalogue_refreshed_at(state.db(), instance)
            .await?
            .is_none()
        {
            refresh_catalogue(state, instance).await?;
        }
    }
    Ok(store::products(state.db(), &instances, category).await?)
}

/// Refreshes every biller's catalogue older than the refresh interval (scheduler).
pub async fn refresh_due_catalogues(state: &AppState) -> Result<(), StoreError> {
    let every_ms = (state.settings().bills.catalogue_refresh_secs * 1000.0) as i64;
    let now = now_ms();
    let billers: Vec<String> = state.registry().billers();
    for instance in billers {
        let last = store::catalogue_refreshed_at(state.db(), &instance).await?;
        if last.is_none_or(|at| now - at >= every_ms)
            && let Err(e) = refresh_catalogue(state, &instance).await
        {
            tracing::warn!(provider = %instance, code = e.code(), "price list refresh failed");
        }
    }
    Ok(())
}

/// The product `code` at the first of the client's billers that sells it (404 otherwise).
async fn find_product(
    state: &AppState,
    client_id: &str,
    code: &str,
) -> Result<ProductRow, ApiError> {
    for row in products(state, client_id, None).await? {
        if row.code == code {
            return Ok(row);
        }
    }
    Err(ApiError::validation(vec![field(
        "product_code",
        "no biller of this client sells this product",
    )]))
}

// ---------------------------------------------------------------- inquiries

/// An inquiry request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInquiry {
    /// The product (a postpaid bill, or a prepaid product to check the customer for).
    pub product_code: String,
    /// The customer number (PLN customer id or meter, PDAM account, phone number).
    pub customer_no: String,
}

/// A bill (or checked customer) as products see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Inquiry {
    /// `inq_…`.
    pub id: String,
    /// The product.
    pub product_code: String,
    /// The customer number.
    pub customer_no: String,
    /// The name on the bill or meter.
    pub customer_name: String,
    /// The bill amount, all sheets (prepaid: the product's price).
    pub amount: i64,
    /// Admin fee, all sheets.
    pub admin_fee: i64,
    /// Late-payment penalties.
    pub penalty: i64,
    /// What the customer pays: amount + admin fee + penalty.
    pub total: i64,
    /// Periods, meter readings, tariff and power, as the biller gives them.
    pub details: Value,
    /// Pay before this (and on the same day in Asia/Jakarta).
    pub expires_at: String,
    /// The biller instance.
    pub provider: String,
}

impl From<&InquiryRow> for Inquiry {
    fn from(i: &InquiryRow) -> Self {
        Inquiry {
            id: i.id.clone(),
            product_code: i.product_code.clone(),
            customer_no: i.customer_no.clone(),
            customer_name: i.customer_name.clone(),
            amount: i.amount,
            admin_fee: i.admin_fee,
            penalty: i.penalty,
            total: i.customer_total,
            details: i.details.clone(),
            expires_at: rfc3339(i.expires_at),
            provider: i.provider.clone(),
        }
    }
}

fn customer_no_ok(customer_no: &str, errors: &mut Vec<crate::http::FieldError>) {
    let ok = (4..=64).contains(&customer_no.len())
        && customer_no
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b',' || b == b'.');
    if !ok {
        errors.push(field(
            "customer_no",
            "must be 4 to 64 digits (a comma separates a second number where the product needs one)",
        ));
    }
}

/// When an inquiry made at `now` stops being payable: after the TTL, and never past the
/// end of its day in Asia/Jakarta.
fn inquiry_expiry(state: &AppState, now: i64) -> i64 {
    let local = from_ms(now).to_offset(WIB);
    let end_of_day = local
        .replace_time(time::Time::MIDNIGHT)
        .saturating_add(time::Duration::days(1));
    (now + state.settings().bills.inquiry_ttl_secs * 1000).min(to_ms(end_of_day) - 1)
}

/// Looks up a postpaid bill (or checks a prepaid customer) at the client's biller that
/// sells the product. Moves no money.
pub async fn inquire(
    state: &AppState,
    client_id: &str,
    req: NewInquiry,
) -> Result<InquiryRow, ApiError> {
    let mut errors = Vec::new();
    customer_no_ok(&req.customer_no, &mut errors);
    if req.product_code.is_empty() || req.product_code.len() > 64 {
        errors.push(field("product_code", "must be 1 to 64 characters"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let product = find_product(state, client_id, &req.product_code).await?;
    let biller = adapter(state, &product.provider)?;
    let ref_id = new_ref_id();
    let inquiry_id = new_id("inq");
    let now = now_ms();
    let started = Instant::now();
    let row = if product.postpaid {
        let order = BillerOrder::new(
            OurReference(ref_id.clone()),
            product.code.clone(),
            req.customer_no.clone(),
            true,
        );
        let result = biller.inquire(&order).await;
        let call = Call::finished(
            Some(client_id),
            &product.provider,
            "bill.inquire",
            started,
            &result,
        )
        .for_resource(&inquiry_id);
        record(state, call).await;
        let bill = result.map_err(provider_error)?;
        let mut details = match bill.details {
            Value::Object(map) => Value::Object(map),
            _ => json!({}),
        };
        details["periods"] = serde_json::to_value(&bill.periods).unwrap_or(Value::Null);
        InquiryRow {
            id: inquiry_id.clone(),
            client_id: client_id.to_owned(),
            provider: product.provider.clone(),
            ref_id,
            product_code: product.code.clone(),
            customer_no: req.customer_no,
            postpaid: true,
            customer_name: bill.customer_name,
            amount: bill.amount.rupiah(),
            admin_fee: bill.admin_fee.rupiah(),
            penalty: bill.penalty.rupiah(),
            biller_cost: bill.biller_cost.rupiah(),
            customer_total: bill.customer_total.rupiah(),
            details,
            provider_reference: bill.provider_reference.map(|r| r.0),
            expires_at: inquiry_expiry(state, now),
            created_at: now,
        }
    } else {
        let Some(price) = product.price else {
            return Err(ApiError::validation(vec![field(
                "product_code",
                "the product has no price at the biller",
            )]));
        };
        let result = biller
            .validate_customer(&product.code, &req.customer_no)
            .await;
        let call = Call::finished(
            Some(client_id),
            &product.provider,
            "bill.validate_customer",
            started,
            &result,
        )
        .for_resource(&inquiry_id);
        record(state, call).await;
        let customer = result.map_err(provider_error)?;
        InquiryRow {
            id: inquiry_id.clone(),
            client_id: client_id.to_owned(),
            provider: product.provider.clone(),
            ref_id,
            product_code: product.code.clone(),
            customer_no: req.customer_no,
            postpaid: false,
            customer_name: customer.name,
            amount: price,
            admin_fee: 0,
            penalty: 0,
            biller_cost: price,
            customer_total: price,
            details: customer.details,
            provider_reference: None,
            expires_at: inquiry_expiry(state, now),
            created_at: now,
        }
    };
    let insert = row.clone();
    state
        .db()
        .write(move |conn| Box::pin(async move { store::insert_inquiry(conn, &insert).await }))
        .await?;
    Ok(row)
}

// ---------------------------------------------------------------- payments

/// A payment (postpaid, by inquiry) or purchase (prepaid) request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBillPayment {
    /// The product's reference, unique per product: a retry with it finds the first
    /// payment instead of buying again.
    pub reference: String,
    /// Pay this inquiry (postpaid bills; or a checked prepaid customer).
    pub inquiry_id: Option<String>,
    /// Buy this prepaid product directly (with `customer_no`).
    pub product_code: Option<String>,
    /// The customer number, with `product_code`.
    pub customer_no: Option<String>,
    /// The most the biller may debit for a prepaid product (refused above it).
    pub max_price: Option<i64>,
}

/// A payment or purchase as products see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BillPayment {
    /// `bill_…`.
    pub id: String,
    /// The product's reference.
    pub reference: String,
    /// `pending`, `success` or `failed`.
    pub status: String,
    /// The product.
    pub product_code: String,
    /// `prepaid` or `postpaid`.
    pub kind: &'static str,
    /// The customer number.
    pub customer_no: String,
    /// The inquiry paid, for postpaid bills.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inquiry_id: Option<String>,
    /// The biller's serial or receipt number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// The 20-digit PLN prepaid token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// What the customer pays, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_total: Option<i64>,
    /// What the biller debited from the deposit, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub biller_cost: Option<i64>,
    /// The biller's message (why it failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Token details (name, tariff, power, kWh) or the paid bill's details.
    pub details: Value,
    /// The biller instance.
    pub provider: String,
    /// Integrity flags for operators (`needs_review`, `refunded_after_success`, …).
    pub flags: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once success or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}

fn product_status(stored: &str) -> &'static str {
    match stored {
        status::SUCCESS => "success",
        status::FAILED => "failed",
        _ => "pending",
    }
}

impl From<&PaymentRow> for BillPayment {
    fn from(p: &PaymentRow) -> Self {
        BillPayment {
            id: p.id.clone(),
            reference: p.reference.clone(),
            status: product_status(&p.status).to_owned(),
            product_code: p.product_code.clone(),
            kind: if p.postpaid { "postpaid" } else { "prepaid" },
            customer_no: p.customer_no.clone(),
            inquiry_id: p.inquiry_id.clone(),
            serial_number: p.serial_number.clone(),
            token: p.token.clone(),
            customer_total: p.customer_total,
            biller_cost: p.biller_cost,
            message: p.message.clone(),
            details: p.details.clone(),
            provider: p.provider.clone(),
            flags: p.flags.clone(),
            created_at: rfc3339(p.created_at),
            completed_at: p.completed_at.map(rfc3339),
        }
    }
}

/// The event payload: ids, status, what was delivered and the amounts; no customer number.
pub fn event_data(p: &PaymentRow) -> Value {
    json!({
        "id": p.id,
        "reference": p.reference,
        "status": product_status(&p.status),
        "product_code": p.product_code,
        "serial_number": p.serial_number,
        "token": p.token,
        "customer_total": p.customer_total,
        "biller_cost": p.biller_cost,
        "version": p.version,
    })
}

/// What to send, once validated and resolved.
struct Order {
    provider: String,
    product_code: String,
    customer_no: String,
    postpaid: bool,
    inquiry: Option<InquiryRow>,
    max_price: Option<i64>,
    customer_total: Option<i64>,
}

async fn resolve(
    state: &AppState,
    client_id: &str,
    req: &NewBillPayment,
) -> Result<Order, ApiError> {
    let mut errors = Vec::new();
    fields::reference(&req.reference, &mut errors);
    if req.max_price.is_some_and(|m| m < 1) {
        errors.push(field("max_price", "must be a positive number of rupiah"));
    }
    match (&req.inquiry_id, &req.product_code, &req.customer_no) {
        (Some(_), None, None) => {}
        (None, Some(_), Some(no)) => customer_no_ok(no, &mut errors),
        _ => errors.push(field(
            "inquiry_id",
            "give either inquiry_id, or product_code with customer_no",
        )),
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    instances_of(state, client_id)?;
    if let Some(inquiry_id) = &req.inquiry_id {
        let inquiry = store::get_inquiry(state.db(), client_id, inquiry_id)
            .await?
            .ok_or_else(|| ApiError::not_found("inquiry"))?;
        if inquiry.expires_at <= now_ms() {
            return Err(ApiError::new(
                StatusCode::GONE,
                "inquiry_expired",
                "Inquiry expired",
                "the inquiry can no longer be paid: inquire again",
            ));
        }
        return Ok(Order {
            provider: inquiry.provider.clone(),
            product_code: inquiry.product_code.clone(),
            customer_no: inquiry.customer_no.clone(),
            postpaid: inquiry.postpaid,
            max_price: if inquiry.postpaid {
                None
            } else {
                req.max_price
            },
            customer_total: Some(inquiry.customer_total),
            inquiry: Some(inquiry),
        });
    }
    let (Some(code), Some(customer_no)) = (&req.product_code, &req.customer_no) else {
        return Err(ApiError::internal(&"validated request lost its product"));
    };
    let product = find_product(state, client_id, code).await?;
    if product.postpaid {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "inquiry_required",
            "Inquiry required",
            "a postpaid bill is paid by its inquiry_id: inquire first",
        ));
    }
    if !product.available {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "product_unavailable",
            "Product unavailable",
            "the biller does not sell this product now",
        ));
    }
    Ok(Order {
        provider: product.provider.clone(),
        product_code: product.code.clone(),
        customer_no: customer_no.clone(),
        postpaid: false,
        inquiry: None,
        max_price: req.max_price,
        customer_total: product.price,
    })
}

fn taken(t: Taken) -> ApiError {
    match t {
        Taken::Reference(id) => ApiError::new(
            StatusCode::CONFLICT,
            "reference_exists",
            "Reference exists",
            "a bill payment with this reference already exists",
        )
        .with_extra(json!({ "id": id })),
        Taken::Inquiry(id) => ApiError::new(
            StatusCode::CONFLICT,
            "inquiry_already_paid",
            "Inquiry already paid",
            "this inquiry is paid (or being paid) by another payment",
        )
        .with_extra(json!({ "id": id })),
    }
}

/// Pays a bill or buys a product: stored `creating` (unique by reference and inquiry),
/// sent once, then settled by the biller's answer, or left `pending` for a webhook or a
/// status check when the answer is ambiguous.
pub async fn pay(
    state: &AppState,
    client_id: &str,
    req: NewBillPayment,
) -> Result<PaymentRow, ApiError> {
    let order = resolve(state, client_id, &req).await?;
    let biller = adapter(state, &order.provider)?;
    let now = now_ms();
    let ref_id = order
        .inquiry
        .as_ref()
        .filter(|i| i.postpaid)
        .map_or_else(new_ref_id, |i| i.ref_id.clone());
    let row = PaymentRow {
        id: new_id("bill"),
        client_id: client_id.to_owned(),
        reference: req.reference.clone(),
        provider: order.provider.clone(),
        ref_id: ref_id.clone(),
        product_code: order.product_code.clone(),
        customer_no: order.customer_no.clone(),
        postpaid: order.postpaid,
        inquiry_id: order.inquiry.as_ref().map(|i| i.id.clone()),
        status: status::CREATING.to_owned(),
        serial_number: None,
        token: None,
        biller_cost: None,
        customer_total: order.customer_total,
        balance_after: None,
        provider_reference: None,
        provider_status: None,
        message: None,
        details: json!({}),
        flags: Vec::new(),
        version: 1,
        created_at: now,
        updated_at: now,
        sent_at: None,
        completed_at: None,
        next_check_at: None,
        checks: 0,
    };
    let insert = row.clone();
    state
        .db()
        .write(move |conn| Box::pin(async move { store::insert_payment(conn, &insert).await }))
        .await?
        .map_err(taken)?;
    let biller_order = BillerOrder::new(
        OurReference(ref_id),
        order.product_code.clone(),
        order.customer_no.clone(),
        order.postpaid,
    )
    .max_price(order.max_price.and_then(|m| Amount::new(m).ok()))
    .inquiry_reference(
        order
            .inquiry
            .as_ref()
            .and_then(|i| i.provider_reference.clone())
            .map(ProviderReference),
    );
    let sent_at = now_ms();
    let started = Instant::now();
    let result = if order.postpaid {
        biller.pay(&biller_order).await
    } else {
        biller.purchase(&biller_order).await
    };
    let operation = if order.postpaid {
        "bill.pay"
    } else {
        "bill.purchase"
    };
    let call = Call::finished(
        Some(client_id),
        &order.provider,
        operation,
        started,
        &result,
    )
    .for_resource(&row.id);
    match result {
        Ok(tx) => settle_sent(state, &row.id, &order.provider, sent_at, Some(tx), call).await,
        Err(e) if e.kind.is_ambiguous() || e.kind == ErrorKind::Duplicate => {
            tracing::warn!(payment = %row.id, kind = e.kind.as_str(), "bill payment outcome unknown; pending until the biller says");
            settle_sent(state, &row.id, &order.provider, sent_at, None, call).await
        }
        Err(e) => {
            forget(state, &row.id, call).await;
            if e.kind == ErrorKind::InsufficientBalance {
                refresh_balance_soon(state, &order.provider);
            }
            Err(bill_error(e))
        }
    }
}

/// The answer for a refusal before anything was booked.
fn bill_error(e: ProviderError) -> ApiError {
    if e.kind == ErrorKind::InsufficientBalance {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "biller_balance_insufficient",
            "Biller deposit insufficient",
            "our deposit at the biller cannot cover this payment; nothing was bought",
        )
        .with_extra(json!({ "provider_code": e.provider_code }))
        .with_retry_after(300);
    }
    provider_error(e)
}

/// Marks the payment sent and applies the biller's answer (`None`: it was ambiguous).
async fn settle_sent(
    state: &AppState,
    id: &str,
    provider: &str,
    sent_at: i64,
    tx: Option<BillerTransaction>,
    call: Call,
) -> Result<PaymentRow, ApiError> {
    let first_check = sent_at + check_delay_ms(state, 0);
    let id_owned = id.to_owned();
    let watch = BalanceWatch::of(state, provider);
    let (row, enqueued) = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, std::slice::from_ref(&call)).await?;
                // A webhook may have settled it while the call was in flight.
                let Some(row) = store::mark_sent(conn, &id_owned, sent_at, first_check).await?
                else {
                    return Ok((None, false));
                };
                match tx {
                    Some(tx) => {
                        let applied = apply(conn, &row, &tx, first_check, &watch, now_ms()).await?;
                        Ok((applied.row.or(Some(row)), applied.enqueued))
                    }
                    None => Ok((Some(row), false)),
                }
            })
        })
        .await?;
    if enqueued {
        state.wake_outbox();
    }
    row.ok_or_else(|| ApiError::internal(&"bill payment vanished"))
}

async fn forget(state: &AppState, id: &str, call: Call) {
    let id = id.to_owned();
    let _ = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, std::slice::from_ref(&call)).await?;
                store::delete_unsent(conn, &id).await
            })
        })
        .await;
}

async fn record(state: &AppState, call: Call) {
    let _ = state
        .db()
        .write(move |conn| {
            Box::pin(async move { calls::record(conn, std::slice::from_ref(&call)).await })
        })
        .await;
}

/// Reads one payment of the client.
pub async fn get(state: &AppState, client_id: &str, id: &str) -> Result<PaymentRow, ApiError> {
    store::get_payment(state.db(), client_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("bill payment"))
}

fn check_delay_ms(state: &AppState, checks: i64) -> i64 {
    let s = &state.settings().bills;
    let first = s.check_secs.max(0.05);
    let delay = first * 2f64.powi(checks.clamp(0, 30) as i32);
    (delay.min(s.check_max_secs.max(first)) * 1000.0) as i64
}

/// What recording a biller's balance needs from the settings: its low-balance threshold
/// and the clients to tell when it goes low. Read before entering a transaction.
#[derive(Clone, Debug, Default)]
pub struct BalanceWatch {
    provider: String,
    threshold: Option<i64>,
    clients: Vec<String>,
}

impl BalanceWatch {
    /// The watch of biller `instance`.
    pub fn of(state: &AppState, instance: &str) -> BalanceWatch {
        BalanceWatch {
            provider: instance.to_owned(),
            threshold: state.settings().bills.low_balance.get(instance).copied(),
            clients: state
                .clients()
                .filter(|(_, c)| c.config.routes.bills.iter().any(|b| b == instance))
                .map(|(id, _)| id.clone())
                .collect(),
        }
    }

    /// Records `balance` seen at `at` (ignored when older than what is stored), updates
    /// the metrics, and announces `biller.balance.low` to the biller's clients when it has
    /// just gone below the threshold. Returns whether it is low and whether an event was
    /// enqueued.
    pub(crate) async fn note(
        &self,
        conn: &mut AnyConnection,
        balance: i64,
        at: i64,
    ) -> Result<(bool, bool), StoreError> {
        let low = self.threshold.is_some_and(|t| balance < t);
        let (stored, became_low) =
            store::record_balance(conn, &self.provider, balance, low, at).await?;
        if !stored {
            // A newer reading is already recorded (and shown).
            return Ok((low, false));
        }
        if became_low {
            for client in &self.clients {
                events::enqueue(
                    conn,
                    client,
                    "biller.balance.low",
                    &self.provider,
                    json!({
                        "id": self.provider,
                        "provider": self.provider,
                        "balance": balance,
                        "low_balance_threshold": self.threshold,
                    }),
                    at,
                )
                .await?;
            }
            tracing::warn!(provider = %self.provider, balance, "biller deposit below its low-balance threshold");
        }
        let m = crate::metrics::global();
        let labels = vec![("provider", self.provider.clone())];
        m.biller_balance.get_or_create(&labels).set(balance);
        m.biller_balance_low
            .get_or_create(&labels)
            .set(i64::from(low));
        Ok((low, became_low && !self.clients.is_empty()))
    }
}

/// What applying a biller's word did.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// The row after the change (`None`: nothing changed).
    pub row: Option<PaymentRow>,
    /// Whether a product event was enqueued.
    pub enqueued: bool,
}

fn stored_status(state: &BillerTxState) -> Option<&'static str> {
    match state {
        BillerTxState::Success => Some(status::SUCCESS),
        BillerTxState::Failed { .. } => Some(status::FAILED),
        BillerTxState::Pending => Some(status::PENDING),
        _ => None,
    }
}

/// Applies the biller's word about a payment inside the caller's transaction (its own
/// answer, a webhook, a status check). Forward only: pending → success | failed; a success
/// turned failed is the biller's refund (flagged, announced as failed); a failure turned
/// success is applied (the biller holds the money) and flagged.
pub(crate) async fn apply(
    conn: &mut AnyConnection,
    row: &PaymentRow,
    tx: &BillerTransaction,
    next_check_at: i64,
    watch: &BalanceWatch,
    now: i64,
) -> Result<Applied, StoreError> {
    let mut applied = apply_to_payment(conn, row, tx, next_check_at, now).await?;
    // After the payment's row, so every writer locks in the same order (payment, then
    // balance): two transactions about one payment never wait on each other in a circle.
    if let Some(balance) = tx.balance_after {
        applied.enqueued |= watch.note(conn, balance.rupiah(), now).await?.1;
    }
    Ok(applied)
}

async fn apply_to_payment(
    conn: &mut AnyConnection,
    row: &PaymentRow,
    tx: &BillerTransaction,
    next_check_at: i64,
    now: i64,
) -> Result<Applied, StoreError> {
    let Some(target) = stored_status(&tx.state) else {
        return Ok(Applied::default());
    };
    let amount = |a: Option<Amount>| a.map(Amount::rupiah);
    let flag = match (row.status.as_str(), target) {
        (from, to) if from == to => {
            // Nothing moves; a pending one is asked again later.
            if target == status::PENDING {
                checks::schedule_check(conn, Table::BillPayments, &row.id, Some(next_check_at))
                    .await?;
            }
            return Ok(Applied::default());
        }
        (status::SUCCESS | status::FAILED, status::PENDING) => return Ok(Applied::default()),
        (status::SUCCESS, status::FAILED) => Some("refunded_after_success"),
        (status::FAILED, status::SUCCESS) => Some("success_after_failed"),
        _ => None,
    };
    let (code, message) = match &tx.state {
        BillerTxState::Failed { code, reason } => (code.clone(), reason.clone()),
        _ => (tx.provider_status.clone(), tx.message.clone()),
    };
    let details = (!tx.details.is_null()).then_some(&tx.details);
    let final_state = target != status::PENDING;
    let change = PaymentChange {
        status: target,
        serial_number: tx.serial_number.as_deref(),
        token: tx.token.as_deref(),
        biller_cost: amount(tx.biller_cost),
        customer_total: amount(tx.customer_total),
        balance_after: amount(tx.balance_after),
        provider_reference: tx
            .provider_reference
            .as_ref()
            .map(ProviderReference::as_str),
        provider_status: &code,
        message: &message,
        details,
        completed_at: final_state.then_some(now),
        next_check_at: (!final_state).then_some(next_check_at),
    };
    let Some(changed) = store::change_payment(conn, &row.id, row.version, &change, now).await?
    else {
        return Ok(Applied::default());
    };
    if let Some(flag) = flag {
        add_flag(
            conn,
            Flagged::BillPayment,
            &changed.id,
            &changed.flags,
            flag,
            now,
        )
        .await?;
        tracing::warn!(payment = %changed.id, flag, "biller changed a final bill payment");
    }
    let event = match target {
        status::SUCCESS => Some("bill.payment.success"),
        status::FAILED => Some("bill.payment.failed"),
        _ => None,
    };
    if let Some(event) = event {
        events::enqueue(
            conn,
            &changed.client_id,
            event,
            &changed.id,
            event_data(&changed),
            now,
        )
        .await?;
    }
    Ok(Applied {
        enqueued: event.is_some(),
        row: Some(changed),
    })
}

/// Asks the biller about one pending payment (scheduler): applies what it says, flags a
/// payment pending too long, and closes one the biller never received. Returns whether an
/// event was enqueued.
pub async fn check(state: &AppState, id: &str) -> Result<bool, StoreError> {
    let id_owned = id.to_owned();
    let row = state
        .db()
        .write(move |conn| {
            Box::pin(async move { store::get_payment_unscoped(conn, &id_owned).await })
        })
        .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let biller = state.registry().biller(&row.provider);
    let (Some(biller), Some(sent_at), status::PENDING) = (biller, row.sent_at, row.status.as_str())
    else {
        let id = row.id.clone();
        state
            .db()
            .write(move |conn| {
                Box::pin(async move {
                    checks::schedule_check(conn, Table::BillPayments, &id, None).await
                })
            })
            .await?;
        return Ok(false);
    };
    let order = BillerOrder::new(
        OurReference(row.ref_id.clone()),
        row.product_code.clone(),
        row.customer_no.clone(),
        row.postpaid,
    )
    .sent_at(Some(from_ms(sent_at)));
    let started = Instant::now();
    let result = biller.status(&order).await;
    let call = Call::finished(
        Some(&row.client_id),
        &row.provider,
        "bill.status",
        started,
        &result,
    )
    .for_resource(&row.id);
    let settings = &state.settings().bills;
    let watch = BalanceWatch::of(state, &row.provider);
    let next = now_ms() + check_delay_ms(state, row.checks + 1);
    let review_after = settings.review_after_secs * 1000;
    let not_found_after = settings.not_found_after_secs * 1000;
    let enqueued = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, std::slice::from_ref(&call)).await?;
                let now = now_ms();
                let Some(fresh) = store::get_payment_unscoped(conn, &row.id).await? else {
                    return Ok(false);
                };
                if now - sent_at >= review_after {
                    add_flag(
                        conn,
                        Flagged::BillPayment,
                        &fresh.id,
                        &fresh.flags,
                        "needs_review",
                        now,
                    )
                    .await?;
                }
                let fresh = store::get_payment_unscoped(conn, &row.id)
                    .await?
                    .unwrap_or(fresh);
                match result {
                    Ok(tx) if tx.state == BillerTxState::NotFound => {
                        if now - sent_at >= not_found_after {
                            // The send never arrived: nothing was bought.
                            let mut closed = tx.clone();
                            closed.state = BillerTxState::Failed {
                                code: tx.provider_status.clone(),
                                reason: "the biller has no record of this payment".into(),
                            };
                            add_flag(
                                conn,
                                Flagged::BillPayment,
                                &fresh.id,
                                &fresh.flags,
                                "not_found_at_biller",
                                now,
                            )
                            .await?;
                            let fresh = store::get_payment_unscoped(conn, &row.id)
                                .await?
                                .unwrap_or(fresh);
                            let applied = apply(conn, &fresh, &closed, next, &watch, now).await?;
                            return Ok(applied.enqueued);
                        }
                        checks::schedule_check(conn, Table::BillPayments, &fresh.id, Some(next))
                            .await?;
                        Ok(false)
                    }
                    Ok(tx) => {
                        let applied = apply(conn, &fresh, &tx, next, &watch, now).await?;
                        if applied.row.is_none() && fresh.status == status::PENDING {
                            checks::schedule_check(
                                conn,
                                Table::BillPayments,
                                &fresh.id,
                                Some(next),
                            )
                            .await?;
                        }
                        Ok(applied.enqueued)
                    }
                    Err(_) => {
                        checks::schedule_check(conn, Table::BillPayments, &fresh.id, Some(next))
                            .await?;
                        Ok(false)
                    }
                }
            })
        })
        .await?;
    if enqueued {
        state.wake_outbox();
    }
    Ok(enqueued)
}

/// Pending payments due for a status check: each asked once per tick.
pub async fn check_due(state: &AppState) -> Result<usize, StoreError> {
    let ids = checks::due(state.db(), Table::BillPayments, now_ms(), 50).await?;
    let n = ids.len();
    for id in ids {
        check(state, &id).await?;
    }
    Ok(n)
}

// ---------------------------------------------------------------- balance

/// A biller's deposit balance as products see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Balance {
    /// The biller instance.
    pub provider: String,
    /// Our deposit, whole rupiah.
    pub balance: i64,
    /// The configured low-balance threshold, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_balance_threshold: Option<i64>,
    /// Whether the balance is below the threshold.
    pub low: bool,
    /// When the biller said so (RFC 3339).
    pub checked_at: String,
}

/// Reads a biller's balance now and records it (`GET /v1/billers/{instance}/balance`; the
/// client must route to the instance, else 404).
pub async fn balance(
    state: &AppState,
    client_id: &str,
    instance: &str,
) -> Result<Balance, ApiError> {
    let instances = instances_of(state, client_id)?;
    if !instances.iter().any(|i| i == instance) {
        return Err(ApiError::not_found("biller"));
    }
    read_balance(state, instance).await.map_err(|e| match e {
        BalanceError::Provider(e) => provider_error(e),
        BalanceError::Store(e) => ApiError::storage(&e),
    })
}

/// Why a balance could not be read.
#[derive(Debug)]
pub enum BalanceError {
    /// The biller did not answer.
    Provider(ProviderError),
    /// It could not be stored.
    Store(StoreError),
}

/// Asks the biller for the balance, records it, updates the metrics, and announces a
/// balance that just went below its threshold (`biller.balance.low` to every client
/// routing to the biller).
pub async fn read_balance(state: &AppState, instance: &str) -> Result<Balance, BalanceError> {
    let biller = state
        .registry()
        .biller(instance)
        .ok_or_else(|| BalanceError::Provider(ProviderError::not_supported("balance")))?;
    let started = Instant::now();
    let result = biller.balance().await;
    let call = Call::finished(None, instance, "bill.balance", started, &result);
    let balance = match result {
        Ok(b) => b.rupiah(),
        Err(e) => {
            record(state, call).await;
            return Err(BalanceError::Provider(e));
        }
    };
    let watch = BalanceWatch::of(state, instance);
    let threshold = watch.threshold;
    let at = now_ms();
    let (low, enqueued) = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, std::slice::from_ref(&call)).await?;
                watch.note(conn, balance, at).await
            })
        })
        .await
        .map_err(BalanceError::Store)?;
    if enqueued {
        state.wake_outbox();
    }
    Ok(Balance {
        provider: instance.to_owned(),
        balance,
        low_balance_threshold: threshold,
        low,
        checked_at: rfc3339(at),
    })
}

fn refresh_balance_soon(state: &AppState, instance: &str) {
    let (state, instance) = (state.clone(), instance.to_owned());
    tokio::spawn(async move {
        if let Err(e) = read_balance(&state, &instance).await {
            tracing::warn!(provider = %instance, error = ?e, "balance read failed");
        }
    });
}

/// Reads every biller's balance when due (scheduler).
pub async fn check_balances(state: &AppState) -> Result<(), StoreError> {
    let every_ms = (state.settings().bills.balance_check_secs * 1000.0) as i64;
    let now = now_ms();
    let billers: Vec<String> = state.registry().billers();
    for instance in billers {
        let last = store::balance(state.db(), &instance).await?;
        if last.is_none_or(|(_, _, at)| now - at >= every_ms)
            && let Err(e) = read_balance(state, &instance).await
        {
            tracing::warn!(provider = %instance, error = ?e, "balance read failed");
        }
    }
    Ok(())
}

/// Today's date in Asia/Jakarta.
pub fn today_wib() -> time::Date {
    OffsetDateTime::now_utc().to_offset(WIB).date()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Db, DbOptions};

    async fn sqlite() -> Db {
        let file = std::env::temp_dir().join(format!("gateway-bills-{}.db", ulid::Ulid::new()));
        Db::connect(&DbOptions {
            url: format!("sqlite://{}?mode=rwc", file.display()),
            max_connections: 2,
            max_batch: 8,
        })
        .await
        .expect("connect")
    }

    fn gauge(text: &str, name: &str, provider: &str) -> Option<i64> {
        let prefix = format!("{name}{{provider=\"{provider}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
    }

    #[tokio::test]
    async fn a_low_balance_is_announced_once_and_shows_in_the_metrics() {
        let db = sqlite().await;
        let watch = BalanceWatch {
            provider: "unit_test_biller".into(),
            threshold: Some(1_000_000),
            clients: vec!["a".into(), "b".into()],
        };
        let note = |balance: i64, at: i64| {
            let watch = watch.clone();
            db.write(move |conn| Box::pin(async move { watch.note(conn, balance, at).await }))
        };
        assert_eq!(note(2_000_000, 1).await.expect("note"), (false, false));
        assert_eq!(
            note(900_000, 2).await.expect("note"),
            (true, true),
            "crossing announces"
        );
        assert_eq!(
            note(800_000, 3).await.expect("note"),
            (true, false),
            "still low: once"
        );
        // An older reading overwrites neither the stored balance nor the metrics.
        assert_eq!(note(5_000_000, 1).await.expect("note"), (false, false));
        let stored = store::balance(&db, "unit_test_biller").await.expect("read");
        assert_eq!(stored, Some((800_000, true, 3)));
        let text = crate::metrics::global().render();
        assert_eq!(
            gauge(&text, "gateway_biller_balance", "unit_test_biller"),
            Some(800_000)
        );
        let events: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE type = 'biller.balance.low' AND resource_id = 'unit_test_biller'",
        )
        .fetch_one(db.pool())
        .await
        .expect("count");
        assert_eq!(events, 2, "one per client");
        note(700_000, 4).await.expect("note");
        let text = crate::metrics::global().render();
        assert_eq!(
            gauge(&text, "gateway_biller_balance", "unit_test_biller"),
            Some(700_000)
        );
        assert_eq!(
            gauge(&text, "gateway_biller_balance_low", "unit_test_biller"),
            Some(1)
        );
    }
}
