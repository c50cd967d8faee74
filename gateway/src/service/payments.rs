//! Payments (e-wallet, checkout, QRIS): validation, routing by method, the provider call
//! with its ambiguous outcomes resolved by status inquiry (never by a second create),
//! provider reports applied exactly once, status polling for payments whose callback never
//! comes, and refunds that can never give back more than was paid.
//!
//! Status rules (DESIGN.md "Status mapping defaults to pending"): only an explicit provider
//! success or failure is final. `Paid` with an amount other than the one charged is
//! flagged and not applied. A `Paid` report after the gateway closed a payment as failed
//! or expired is applied (the provider holds the money) and flagged. A payment the provider
//! still calls pending well past its expiry is closed as expired by the gateway and
//! flagged `expired_by_gateway`.

use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use contracts::payment::{
    CreatePayment, PaymentAction, PaymentHandle, PaymentStatusReport, ProviderPaymentState,
    RefundRequest, RefundState,
};
use contracts::{Amount, Customer, ErrorKind, OurReference, Payments, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::AnyConnection;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::AppState;
use crate::http::ApiError;
use crate::service::fields::{self, field, rfc3339};
use crate::service::va::{CustomerView, provider_error};
use crate::store::calls::{self, Call};
use crate::store::payments::{
    self as store, PaymentRow, RefundRow, Reserve, refund_status, status,
};
use crate::store::{StoreError, events, new_id, now_ms, to_ms};

/// How long a payment stays payable when the product does not say.
const DEFAULT_VALIDITY_SECS: i64 = 15 * 60;

/// A payment as products see it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payment {
    /// `pay_…`
    pub id: String,
    /// The product's own reference, unique per product.
    pub reference: String,
    /// The method (`astrapay`, `qris`, `doku_checkout`).
    pub method: String,
    /// The provider instance that took it.
    pub provider: Option<String>,
    /// Charged amount, whole rupiah.
    pub amount: i64,
    /// Paid, whole rupiah.
    pub paid_amount: i64,
    /// Refunded so far, whole rupiah.
    pub refunded_amount: i64,
    /// `pending`, `paid`, `failed`, `expired`, `refunded`, `partially_refunded`.
    pub status: String,
    /// What the customer does next; absent when the provider's answer was lost (the
    /// payment is then resolved by status inquiry).
    pub action: Option<ActionView>,
    /// Who pays.
    pub customer: CustomerView,
    /// What is paid for.
    pub description: Option<String>,
    /// RFC 3339.
    pub expires_at: String,
    /// RFC 3339, when paid.
    pub paid_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// Integrity flags for operators (`amount_mismatch`, `paid_after_expired`, …).
    pub flags: Vec<String>,
    /// Increases with every change, so consumers can drop stale events.
    pub version: i64,
}

/// What the customer must do to pay.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema, PartialEq, Eq)]
pub struct ActionView {
    /// `redirect`, `deeplink` or `qr`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The URL to open (redirect, deeplink).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
    /// The QRIS payload to show as a QR code.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub qr_string: Option<String>,
}

impl ActionView {
    fn from_action(action: &PaymentAction) -> Option<Self> {
        let (kind, url, qr_string) = match action {
            PaymentAction::Redirect { url } => ("redirect", Some(url.clone()), None),
            PaymentAction::Deeplink { url } => ("deeplink", Some(url.clone()), None),
            PaymentAction::Qr { qr_string } => ("qr", None, Some(qr_string.clone())),
            _ => return None,
        };
        Some(ActionView {
            kind: kind.to_owned(),
            url,
            qr_string,
        })
    }
}

fn product_status(row: &PaymentRow) -> String {
    match row.status.as_str() {
        status::CREATING => status::PENDING.to_owned(),
        other => other.to_owned(),
    }
}

impl From<&PaymentRow> for Payment {
    fn from(p: &PaymentRow) -> Self {
        Payment {
            id: p.id.clone(),
            reference: p.reference.clone(),
            method: p.method.clone(),
            provider: p.provider.clone(),
            amount: p.amount,
            paid_amount: p.paid_amount,
            refunded_amount: p.refunded_amount,
            status: product_status(p),
            action: p
                .action
                .as_ref()
                .and_then(|a| serde_json::from_value(a.clone()).ok()),
            customer: CustomerView::from(&p.customer),
            description: p.description.clone(),
            expires_at: rfc3339(p.expires_at),
            paid_at: p.paid_at.map(rfc3339),
            created_at: rfc3339(p.created_at),
            flags: p.flags.clone(),
            version: p.version,
        }
    }
}

/// The event payload for a payment: ids, status and amounts; no personal data.
pub fn event_data(p: &PaymentRow) -> Value {
    json!({
        "id": p.id,
        "reference": p.reference,
        "method": p.method,
        "provider": p.provider,
        "amount": p.amount,
        "paid_amount": p.paid_amount,
        "refunded_amount": p.refunded_amount,
        "status": product_status(p),
        "expires_at": rfc3339(p.expires_at),
        "paid_at": p.paid_at.map(rfc3339),
        "flags": p.flags,
        "version": p.version,
    })
}

/// A request to take a payment.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    /// The product's reference, unique per product (1-64 characters).
    pub reference: String,
    /// Amount to charge, whole rupiah, at least 1.
    pub amount: i64,
    /// `astrapay`, `qris`, `doku_checkout`, … (whatever the client's route offers).
    pub method: String,
    /// Who pays.
    pub customer: CustomerView,
    /// Where the provider sends the customer afterwards (http or https).
    #[serde(default)]
    pub return_url: Option<String>,
    /// What is paid for, up to 100 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// RFC 3339, in the future; default 15 minutes from now. Providers may shorten it
    /// (the answer's `expires_at` is the one that holds).
    #[serde(default)]
    pub expires_at: Option<String>,
    /// A provider instance from the client's payment route; default: the first instance
    /// of the route that offers the method, then the next if it is unavailable.
    #[serde(default)]
    pub provider: Option<String>,
}

/// A validated payment request.
#[derive(Clone, Debug)]
pub struct Validated {
    reference: String,
    amount: Amount,
    method: String,
    customer: Customer,
    return_url: Option<String>,
    description: Option<String>,
    expires_at: OffsetDateTime,
    provider: Option<String>,
}

/// Checks every field and lists every problem at once.
pub fn validate(req: NewPayment) -> Result<Validated, ApiError> {
    let mut errors = Vec::new();
    fields::reference(&req.reference, &mut errors);
    let amount = fields::amount(req.amount, &mut errors);
    if req.method.is_empty()
        || req.method.len() > 32
        || !req
            .method
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        errors.push(field("method", "must be a method name such as astrapay"));
    }
    let customer = fields::customer(&req.customer, &mut errors);
    if let Some(url) = &req.return_url {
        let ok = url::Url::parse(url)
            .map(|u| matches!(u.scheme(), "http" | "https") && url.len() <= 2048)
            .unwrap_or(false);
        if !ok {
            errors.push(field("return_url", "must be an http or https URL"));
        }
    }
    if req
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 100 || d.chars().any(char::is_control))
    {
        errors.push(field(
            "description",
            "must be at most 100 printable characters",
        ));
    }
    let now = OffsetDateTime::now_utc();
    let expires_at = match req
        .expires_at
        .as_deref()
        .map(|t| OffsetDateTime::parse(t, &Rfc3339))
    {
        None => Some(now + time::Duration::seconds(DEFAULT_VALIDITY_SECS)),
        Some(Ok(t)) if t > now => Some(t),
        Some(Ok(_)) => {
            errors.push(field("expires_at", "must be in the future"));
            None
        }
        Some(Err(_)) => {
            errors.push(field("expires_at", "must be an RFC 3339 time"));
            None
        }
    };
    match (amount, expires_at) {
        (Some(amount), Some(expires_at)) if errors.is_empty() => Ok(Validated {
            reference: req.reference,
            amount,
            method: req.method,
            customer,
            return_url: req.return_url,
            description: req.description,
            expires_at,
            provider: req.provider,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

/// The client's payment instances that offer `method`, in route order (only `requested`,
/// when the product names one).
fn route(
    state: &AppState,
    client_id: &str,
    method: &str,
    requested: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    let mut routes = state
        .client(client_id)
        .map(|c| c.config.routes.payments.clone())
        .unwrap_or_default();
    if let Some(requested) = requested {
        if !routes.iter().any(|r| r == requested) {
            return Err(ApiError::validation(vec![field(
                "provider",
                "is not in this client's payment route",
            )]));
        }
        routes.retain(|r| r == requested);
    }
    let offering: Vec<String> = routes
        .into_iter()
        .filter(|name| {
            state
                .registry()
                .payments(name)
                .is_some_and(|p| p.methods().contains(&method))
        })
        .collect();
    if offering.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "method_not_available",
            "Method not available",
            format!("no provider in this client's route offers the method {method}"),
        ));
    }
    Ok(offering)
}

/// Starts a payment: stored as `creating` (the recovery point), then each instance of the
/// route that offers the method in turn. `Unavailable` fails over; an ambiguous answer
/// leaves the payment to a status inquiry and is never sent again.
pub async fn create(
    state: &AppState,
    client_id: &str,
    req: Validated,
) -> Result<PaymentRow, ApiError> {
    let route = route(state, client_id, &req.method, req.provider.as_deref())?;
    let now = now_ms();
    let row = PaymentRow {
        id: new_id("pay"),
        client_id: client_id.to_owned(),
        reference: req.reference.clone(),
        provider: None,
        method: req.method.clone(),
        amount: req.amount.rupiah(),
        paid_amount: 0,
        refunded_amount: 0,
        status: status::CREATING.to_owned(),
        action: None,
        provider_reference: None,
        customer: req.customer.clone(),
        description: req.description.clone(),
        return_url: req.return_url.clone(),
        expires_at: to_ms(req.expires_at),
        paid_at: None,
        flags: Vec::new(),
        version: 1,
        created_at: now,
        updated_at: now,
        checks: 0,
    };
    insert_new(state, &row).await?;
    let request = CreatePayment::new(
        OurReference(row.id.clone()),
        req.amount,
        req.method,
        req.customer,
        req.return_url,
        req.expires_at,
    )
    .with_description(req.description);
    let mut calls = Vec::new();
    let mut last: Option<ProviderError> = None;
    for instance in &route {
        let Some(adapter) = state.registry().payments(instance) else {
            continue;
        };
        let started = Instant::now();
        let result = adapter.create(&request).await;
        calls.push(
            Call::finished(
                Some(client_id),
                instance,
                "payment.create",
                started,
                &result,
            )
            .for_resource(&row.id),
        );
        match result {
            Ok(started) => {
                let action = ActionView::from_action(&started.action)
                    .and_then(|a| serde_json::to_value(a).ok());
                let expires_at = started.expires_at.map_or(row.expires_at, to_ms);
                let check_at = now_ms() + poll_delay_ms(state, 0);
                let (id, provider) = (row.id.clone(), instance.clone());
                let reference = started.provider_reference.map(|r| r.0);
                let stored = state
                    .db()
                    .write(move |conn| {
                        Box::pin(async move {
                            calls::record(conn, &calls).await?;
                            match store::mark_started(
                                conn,
                                &id,
                                &provider,
                                action.as_ref(),
                                reference.as_deref(),
                                expires_at,
                                check_at,
                                now_ms(),
                            )
                            .await?
                            {
                                Some(row) => Ok(Some(row)),
                                None => store::get_unscoped(conn, &id).await,
                            }
                        })
                    })
                    .await?;
                return stored.ok_or_else(|| ApiError::internal(&"started payment vanished"));
            }
            Err(e) if e.is_retryable() => last = Some(e),
            Err(e) if e.kind.is_ambiguous() || e.kind == ErrorKind::Duplicate => {
                return Err(unknown_outcome(state, &row.id, instance, calls).await);
            }
            Err(e) => {
                forget(state, &row.id, calls).await;
                return Err(provider_error(e));
            }
        }
    }
    forget(state, &row.id, calls).await;
    Err(provider_error(last.unwrap_or_else(|| {
        ProviderError::new(ErrorKind::Unavailable, "no provider available")
    })))
}

async fn insert_new(state: &AppState, row: &PaymentRow) -> Result<(), ApiError> {
    let insert = row.clone();
    let existing = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                if store::insert(conn, &insert).await? {
                    Ok(None)
                } else {
                    store::id_by_reference(conn, &insert.client_id, &insert.reference).await
                }
            })
        })
        .await?;
    match existing {
        None => Ok(()),
        Some(id) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "reference_exists",
            "Reference exists",
            "a payment with this reference already exists",
        )
        .with_extra(json!({ "id": id }))),
    }
}

/// No provider started the payment: forget the row so the reference can be used again.
async fn forget(state: &AppState, id: &str, calls: Vec<Call>) {
    let id = id.to_owned();
    let _ = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, &calls).await?;
                store::delete_unstarted(conn, &id).await
            })
        })
        .await;
}

/// The provider may have started the payment: keep it `creating` at `instance` and let the
/// scheduler ask.
async fn unknown_outcome(state: &AppState, id: &str, instance: &str, calls: Vec<Call>) -> ApiError {
    let check_at = now_ms() + (state.settings().scheduler.inquiry_delay_secs * 1000.0) as i64;
    let (id_owned, provider) = (id.to_owned(), instance.to_owned());
    let stored = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, &calls).await?;
                store::mark_unknown(conn, &id_owned, &provider, check_at, now_ms()).await
            })
        })
        .await;
    if let Err(e) = stored {
        return ApiError::storage(&e);
    }
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "provider_timeout",
        "Provider timeout",
        "the provider did not answer in time; the payment is pending and will be resolved by status inquiry",
    )
    .with_extra(json!({ "id": id, "resource_status": "pending" }))
}

fn poll_delay_ms(state: &AppState, checks: i64) -> i64 {
    let s = &state.settings().scheduler;
    let first = s.payment_poll_secs.max(0.1);
    let delay = first * 2f64.powi(checks.clamp(0, 30) as i32);
    (delay.min(s.payment_poll_max_secs.max(first)) * 1000.0) as i64
}

fn handle(p: &PaymentRow) -> Result<PaymentHandle, ProviderError> {
    let amount = Amount::new(p.amount)
        .map_err(|e| ProviderError::new(ErrorKind::Misconfigured, e.to_string()))?;
    Ok(PaymentHandle::new(
        OurReference(p.id.clone()),
        p.provider_reference
            .clone()
            .map(contracts::ProviderReference),
        p.method.clone(),
        amount,
    ))
}

fn adapter_of(state: &AppState, p: &PaymentRow) -> Option<Arc<dyn Payments>> {
    p.provider
        .as_deref()
        .and_then(|name| state.registry().payments(name))
}

/// A provider's word about a payment, from a callback or a status inquiry.
#[derive(Clone, Debug)]
pub struct Update {
    /// Its state.
    pub state: ProviderPaymentState,
    /// The amount it names, when it names one.
    pub amount: Option<i64>,
    /// When paid.
    pub paid_at: Option<i64>,
    /// Total refunded, when it says.
    pub refunded: Option<i64>,
}

impl Update {
    /// The update a status report carries.
    pub fn from_report(report: &PaymentStatusReport) -> Self {
        Update {
            state: report.state,
            amount: report.paid_amount.map(Amount::rupiah),
            paid_at: report.paid_at.map(to_ms),
            refunded: report.refunded_amount.map(Amount::rupiah),
        }
    }
}

/// What applying an update did.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// A product event was enqueued.
    pub enqueued: bool,
    /// Why nothing changed, or what is odd about it (for the provider event's record).
    pub detail: Option<String>,
    /// The update moved the payment to a final state (no more polling needed).
    pub settled: bool,
}

async fn announce(
    conn: &mut AnyConnection,
    row: &PaymentRow,
    event: &str,
    now: i64,
) -> Result<(), StoreError> {
    events::enqueue(conn, &row.client_id, event, &row.id, event_data(row), now).await?;
    Ok(())
}

/// Applies a provider's word to a payment inside the caller's transaction. Conditional
/// updates make a second application of the same word a no-op.
pub async fn apply_update(
    conn: &mut AnyConnection,
    row: &PaymentRow,
    update: &Update,
    now: i64,
) -> Result<Applied, StoreError> {
    let mut applied = Applied::default();
    match update.state {
        ProviderPaymentState::Paid
        | ProviderPaymentState::Refunded
        | ProviderPaymentState::PartiallyRefunded => {
            let charged = update.amount.unwrap_or(row.amount);
            if update.state == ProviderPaymentState::Paid && charged != row.amount {
                store::add_flag(conn, row, "amount_mismatch", now).await?;
                tracing::warn!(payment = %row.id, "provider reports a paid amount other than the one charged; not applied");
                applied.detail = Some("amount_mismatch".into());
                return Ok(applied);
            }
            let from = [
                status::CREATING,
                status::PENDING,
                status::FAILED,
                status::EXPIRED,
            ];
            let paid_at = update.paid_at.unwrap_or(now);
            if let Some(paid) = store::transition(
                conn,
                &row.id,
                &from,
                status::PAID,
                Some((row.amount, paid_at)),
                now,
            )
            .await?
            {
                if matches!(row.status.as_str(), status::FAILED | status::EXPIRED) {
                    store::add_flag(conn, &paid, &format!("paid_after_{}", row.status), now)
                        .await?;
                }
                announce(conn, &paid, "payment.paid", now).await?;
                applied.enqueued = true;
            }
            applied.settled = true;
            if let Some(refunded) = update.refunded.filter(|r| *r > 0) {
                let more = settle_refunds_reported(conn, &row.id, refunded, now).await?;
                applied.enqueued |= more;
            }
        }
        ProviderPaymentState::Failed => {
            if let Some(failed) = store::transition(
                conn,
                &row.id,
                &[status::CREATING, status::PENDING],
                status::FAILED,
                None,
                now,
            )
            .await?
            {
                announce(conn, &failed, "payment.failed", now).await?;
                applied.enqueued = true;
            }
            applied.settled = true;
        }
        ProviderPaymentState::Expired => {
            if let Some(expired) = store::transition(
                conn,
                &row.id,
                &[status::CREATING, status::PENDING],
                status::EXPIRED,
                None,
                now,
            )
            .await?
            {
                announce(conn, &expired, "payment.expired", now).await?;
                applied.enqueued = true;
            }
            applied.settled = true;
        }
        ProviderPaymentState::Pending | ProviderPaymentState::Unknown => {
            applied.detail = Some("not final".into());
        }
    }
    Ok(applied)
}

/// The provider says `refunded` rupiah went back in all: refunds whose outcome we did not
/// know are settled in order while they fit; the payment's status follows. Returns whether
/// a product event was enqueued.
async fn settle_refunds_reported(
    conn: &mut AnyConnection,
    payment_id: &str,
    refunded: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let refunds = store::refunds_of(conn, payment_id).await?;
    let mut known: i64 = refunds
        .iter()
        .filter(|r| r.status == refund_status::SUCCEEDED)
        .map(|r| r.amount)
        .sum();
    for refund in refunds.iter().filter(|r| {
        matches!(
            r.status.as_str(),
            refund_status::PENDING | refund_status::UNKNOWN | refund_status::REQUESTING
        )
    }) {
        if known + refund.amount <= refunded {
            store::settle_refund(
                conn,
                &refund.id,
                &[
                    refund_status::PENDING,
                    refund_status::UNKNOWN,
                    refund_status::REQUESTING,
                ],
                refund_status::SUCCEEDED,
                None,
                now,
            )
            .await?;
            known += refund.amount;
        }
    }
    let payment = store::get_unscoped(conn, payment_id).await?;
    if let Some(p) = &payment
        && refunded > known
    {
        store::add_flag(conn, p, "refunded_outside_gateway", now).await?;
    }
    match store::apply_refunds(conn, payment_id, now).await? {
        Some(row) => {
            announce(conn, &row, "payment.refunded", now).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Reads one payment of the client.
pub async fn get(state: &AppState, client_id: &str, id: &str) -> Result<PaymentRow, ApiError> {
    store::get(state.db(), client_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment"))
}

/// Asks the provider about one payment (scheduler): resolves unknown creations, applies
/// what the provider says, closes payments long past their expiry, and schedules the next
/// question. Returns whether a product event was enqueued.
pub async fn check(state: &AppState, id: &str) -> Result<bool, StoreError> {
    let id_owned = id.to_owned();
    let Some(row) = state
        .db()
        .write(move |conn| Box::pin(async move { store::get_unscoped(conn, &id_owned).await }))
        .await?
    else {
        return Ok(false);
    };
    let Some(adapter) = adapter_of(state, &row) else {
        return Ok(false);
    };
    let handle = match handle(&row) {
        Ok(h) => h,
        Err(_) => return Ok(false),
    };
    let started = Instant::now();
    let result = adapter.status(&handle).await;
    let provider = row.provider.clone().unwrap_or_default();
    let call = Call::finished(
        Some(&row.client_id),
        &provider,
        "payment.status",
        started,
        &result,
    )
    .for_resource(&row.id);
    let now = now_ms();
    let grace = (state.settings().scheduler.payment_expiry_grace_secs * 1000.0) as i64;
    let next = now + poll_delay_ms(state, row.checks + 1);
    let max_attempts = state.settings().scheduler.inquiry_max_attempts;
    let enqueued = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, &[call]).await?;
                let Some(row) = store::get_unscoped(conn, &row.id).await? else {
                    return Ok(false);
                };
                let mut enqueued = false;
                let mut settled = row.is_settled();
                match result {
                    Ok(report) => {
                        let applied =
                            apply_update(conn, &row, &Update::from_report(&report), now).await?;
                        enqueued |= applied.enqueued;
                        settled |= applied.settled;
                        if row.status == status::CREATING && !applied.settled {
                            // It exists at the provider: waiting for the customer, but the
                            // answer that told us how they pay was lost.
                            store::transition(
                                conn,
                                &row.id,
                                &[status::CREATING],
                                status::PENDING,
                                None,
                                now,
                            )
                            .await?;
                        }
                    }
                    Err(e) if e.kind == ErrorKind::NotFound && row.status == status::CREATING => {
                        // Never started at the provider: nothing can be paid.
                        if let Some(failed) = store::transition(
                            conn,
                            &row.id,
                            &[status::CREATING],
                            status::FAILED,
                            None,
                            now,
                        )
                        .await?
                        {
                            store::add_flag(conn, &failed, "not_started", now).await?;
                            announce(conn, &failed, "payment.failed", now).await?;
                            enqueued = true;
                        }
                        settled = true;
                    }
                    Err(_) => {}
                }
                let current = store::get_unscoped(conn, &row.id).await?;
                if !settled
                    && let Some(current) = &current
                    && current.status == status::PENDING
                    && now > current.expires_at + grace
                    && let Some(expired) = store::transition(
                        conn,
                        &current.id,
                        &[status::PENDING],
                        status::EXPIRED,
                        None,
                        now,
                    )
                    .await?
                {
                    store::add_flag(conn, &expired, "expired_by_gateway", now).await?;
                    announce(conn, &expired, "payment.expired", now).await?;
                    enqueued = true;
                    settled = true;
                }
                let creating = current
                    .as_ref()
                    .is_some_and(|c| c.status == status::CREATING);
                // A refund whose outcome is not known yet keeps the questions coming.
                let open_refunds = store::refunds_of(conn, &row.id).await?.iter().any(|r| {
                    matches!(
                        r.status.as_str(),
                        refund_status::PENDING | refund_status::UNKNOWN
                    )
                });
                let unresolved = creating || open_refunds;
                let next = if settled && !unresolved {
                    None
                } else if unresolved && row.checks + 1 >= max_attempts {
                    tracing::error!(payment = %row.id, "payment or refund outcome still unknown after every inquiry; an operator must look");
                    None
                } else {
                    Some(next)
                };
                store::schedule_check(conn, &row.id, next).await?;
                Ok(enqueued)
            })
        })
        .await?;
    if enqueued {
        state.wake_outbox();
    }
    Ok(enqueued)
}

/// A refund as products see it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Refund {
    /// `rfd_…`
    pub id: String,
    /// The payment refunded.
    pub payment_id: String,
    /// Amount, whole rupiah.
    pub amount: i64,
    /// Why, as the product said.
    pub reason: String,
    /// `pending` (also while its outcome is being confirmed), `succeeded`, `failed`.
    pub status: String,
    /// RFC 3339.
    pub created_at: String,
}

impl From<&RefundRow> for Refund {
    fn from(r: &RefundRow) -> Self {
        let status = match r.status.as_str() {
            refund_status::SUCCEEDED => "succeeded",
            refund_status::FAILED => "failed",
            _ => "pending",
        };
        Refund {
            id: r.id.clone(),
            payment_id: r.payment_id.clone(),
            amount: r.amount,
            reason: r.reason.clone(),
            status: status.to_owned(),
            created_at: rfc3339(r.created_at),
        }
    }
}

/// A refund request.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    /// Amount to give back, whole rupiah, at most what remains refundable.
    pub amount: i64,
    /// Why (1-255 characters).
    pub reason: String,
}

/// A refund and the payment after it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundResult {
    /// The refund.
    pub refund: Refund,
    /// The payment.
    pub payment: Payment,
}

/// Refunds all or part of a paid payment. The amount is reserved first (so concurrent
/// refunds cannot exceed what was paid); the provider is asked once; a timeout leaves the
/// refund `pending` until a status inquiry shows what happened.
pub async fn refund(
    state: &AppState,
    client_id: &str,
    payment_id: &str,
    req: NewRefund,
) -> Result<(RefundRow, PaymentRow), ApiError> {
    let mut errors = Vec::new();
    if Amount::new(req.amount).is_err() || req.amount < 1 {
        errors.push(field(
            "amount",
            "must be a whole number of rupiah, at least 1",
        ));
    }
    let reason = req.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 255 || reason.chars().any(char::is_control) {
        errors.push(field("reason", "must be 1 to 255 printable characters"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let payment = get(state, client_id, payment_id).await?;
    let Some(adapter) = adapter_of(state, &payment) else {
        return Err(ApiError::internal(
            &"payment provider instance is not configured",
        ));
    };
    if !adapter.refunds(&payment.method) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "refund_not_supported",
            "Refunds not supported",
            format!(
                "payments by {} cannot be refunded through the gateway",
                payment.method
            ),
        ));
    }
    let now = now_ms();
    let row = RefundRow {
        id: new_id("rfd"),
        payment_id: payment.id.clone(),
        client_id: client_id.to_owned(),
        amount: req.amount,
        reason,
        status: refund_status::REQUESTING.to_owned(),
        provider_reference: None,
        created_at: now,
        updated_at: now,
    };
    let reserve = row.clone();
    let reserved = state
        .db()
        .write(move |conn| Box::pin(async move { store::reserve_refund(conn, &reserve).await }))
        .await?;
    match reserved {
        Reserve::Reserved => {}
        Reserve::NotRefundable(current) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "payment_not_refundable",
                "Payment cannot be refunded",
                format!("the payment is {}", product_status_str(&current)),
            ));
        }
        Reserve::TooMuch { remaining } => {
            return Err(ApiError::validation(vec![field(
                "amount",
                &format!("exceeds what remains refundable ({remaining})"),
            )])
            .with_extra(json!({ "refundable_amount": remaining })));
        }
    }
    let amount = Amount::new(row.amount).map_err(|e| ApiError::internal(&e))?;
    let handle = handle(&payment).map_err(|e| ApiError::internal(&e))?;
    let request = RefundRequest::new(
        handle,
        OurReference(row.id.clone()),
        amount,
        row.reason.clone(),
    );
    let started = Instant::now();
    let result = adapter.refund(&request).await;
    let provider = payment.provider.clone().unwrap_or_default();
    let call = Call::finished(
        Some(client_id),
        &provider,
        "payment.refund",
        started,
        &result,
    )
    .for_resource(&payment.id);
    let (refund_id, pay_id) = (row.id.clone(), payment.id.clone());
    let outcome = result.clone();
    let check_at = now_ms() + (state.settings().scheduler.inquiry_delay_secs * 1000.0) as i64;
    let (refund_row, payment_row) = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, &[call]).await?;
                let now = now_ms();
                let requesting = [refund_status::REQUESTING];
                match &outcome {
                    Ok(done) => {
                        let to = match done.state {
                            RefundState::Succeeded => refund_status::SUCCEEDED,
                            RefundState::Pending => refund_status::PENDING,
                        };
                        let reference = done.provider_reference.as_ref().map(|r| r.0.as_str());
                        store::settle_refund(conn, &refund_id, &requesting, to, reference, now)
                            .await?;
                        if let Some(row) = store::apply_refunds(conn, &pay_id, now).await? {
                            announce(conn, &row, "payment.refunded", now).await?;
                        }
                        if to == refund_status::PENDING {
                            store::schedule_check(conn, &pay_id, Some(check_at)).await?;
                        }
                    }
                    Err(e) if e.kind.is_ambiguous() => {
                        store::settle_refund(
                            conn,
                            &refund_id,
                            &requesting,
                            refund_status::UNKNOWN,
                            None,
                            now,
                        )
                        .await?;
                        store::schedule_check(conn, &pay_id, Some(check_at)).await?;
                    }
                    Err(_) => {
                        store::settle_refund(
                            conn,
                            &refund_id,
                            &requesting,
                            refund_status::FAILED,
                            None,
                            now,
                        )
                        .await?;
                    }
                }
                let refunds = store::refunds_of(conn, &pay_id).await?;
                let refund = refunds
                    .into_iter()
                    .find(|r| r.id == refund_id)
                    .ok_or_else(|| StoreError::Corrupt("refund vanished".into()))?;
                let payment = store::get_unscoped(conn, &pay_id)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("payment vanished".into()))?;
                Ok((refund, payment))
            })
        })
        .await?;
    state.wake_outbox();
    match result {
        Err(e) if !e.kind.is_ambiguous() => Err(provider_error(e)),
        _ => Ok((refund_row, payment_row)),
    }
}

fn product_status_str(stored: &str) -> &str {
    if stored == status::CREATING {
        status::PENDING
    } else {
        stored
    }
}

/// Payments due for a status inquiry (scheduler): each is asked once per tick.
pub async fn check_due(state: &AppState) -> Result<usize, StoreError> {
    let ids = store::due_for_check(state.db(), now_ms(), 50).await?;
    let n = ids.len();
    for id in ids {
        check(state, &id).await?;
    }
    Ok(n)
}
