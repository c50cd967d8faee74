//! `/v1/bills`, `/v1/billers/{instance}/balance`, `/v1/reconciliations`: thin handlers
//! over [`crate::service::bills`]. A client without a biller route gets 403
//! `bills_not_enabled`.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::guard::ClientId;
use super::va::Body;
use super::{ApiError, ListQuery};
use crate::app::AppState;
use crate::service::bills::reconcile::{self, NewReconciliation, Reconciliation};
use crate::service::bills::{
    self as service, Balance, BillPayment, Inquiry, NewBillPayment, NewInquiry, Product,
};
use crate::store::bills as store;

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(create_inquiry))
        .routes(routes!(create_payment, list_payments))
        .routes(routes!(get_payment))
        .routes(routes!(get_balance))
        .routes(routes!(create_reconciliation))
        .routes(routes!(get_reconciliation))
        .routes(routes!(get_reconciliation_csv))
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

/// The product filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ProductQuery {
    /// Only this category (`PLN`, `Pulsa`, `Data`, `PDAM`, …; case-insensitive).
    category: Option<String>,
}

/// The catalogue.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ProductList {
    data: Vec<Product>,
}

/// The products the client's billers sell, with prices (refreshed on a schedule).
#[utoipa::path(get, path = "/v1/bills/products", tag = "bills", params(ProductQuery),
    responses((status = 200, body = ProductList), (status = 403, description = "bills_not_enabled", body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn list_products(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Query(q): Query<ProductQuery>,
) -> Result<Response, ApiError> {
    let rows = service::products(&state, &client, q.category.as_deref()).await?;
    let list = ProductList {
        data: rows.iter().map(Product::from).collect(),
    };
    Ok(json(StatusCode::OK, &list))
}

/// Look up a postpaid bill (or check a prepaid customer, e.g. a PLN meter). Moves no money.
#[utoipa::path(post, path = "/v1/bills/inquiries", tag = "bills",
    request_body = NewInquiry,
    responses(
        (status = 201, description = "The bill: amount, admin fee, penalty, total, details; pay before `expires_at`", body = Inquiry),
        (status = 403, description = "bills_not_enabled", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed / provider_rejected (no bill, wrong number)", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "provider_unavailable", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn create_inquiry(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Body(request): Body<NewInquiry>,
) -> Result<Response, ApiError> {
    let row = service::inquire(&state, &client, request).await?;
    Ok(json(StatusCode::CREATED, &Inquiry::from(&row)))
}

/// Pay a bill (by `inquiry_id`) or buy a prepaid product (`product_code` + `customer_no`).
#[utoipa::path(post, path = "/v1/bills/payments", tag = "bills",
    request_body = NewBillPayment,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 201, description = "`success` (with `serial_number`, the PLN `token`), `failed`, or `pending` until a webhook or a status check settles it", body = BillPayment),
        (status = 403, description = "bills_not_enabled", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "inquiry not found", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "reference_exists / inquiry_already_paid (with the existing `id`)", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 410, description = "inquiry_expired", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed / inquiry_required / product_unavailable / provider_rejected", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "biller_balance_insufficient / provider_unavailable: nothing was bought", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn create_payment(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Body(request): Body<NewBillPayment>,
) -> Result<Response, ApiError> {
    let row = service::pay(&state, &client, request).await?;
    Ok(json(StatusCode::CREATED, &BillPayment::from(&row)))
}

/// A page of bill payments.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct BillPaymentPage {
    data: Vec<BillPayment>,
    next_cursor: Option<String>,
}

/// List bill payments and purchases, newest first.
#[utoipa::path(get, path = "/v1/bills/payments", tag = "bills", params(ListQuery),
    responses((status = 200, body = BillPaymentPage)), security(("signed_request" = [])))]
async fn list_payments(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = super::page_limit(q.limit)?;
    let rows = store::list_payments(
        state.db(),
        &client,
        q.reference.as_deref(),
        q.status.as_deref(),
        q.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let (rows, next_cursor) = super::page(rows, limit, |r| r.id.clone());
    let page = BillPaymentPage {
        data: rows.iter().map(BillPayment::from).collect(),
        next_cursor,
    };
    Ok(json(StatusCode::OK, &page))
}

/// One bill payment or purchase.
#[utoipa::path(get, path = "/v1/bills/payments/{id}", tag = "bills",
    params(("id" = String, Path, description = "bill_…")),
    responses((status = 200, body = BillPayment), (status = 404, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn get_payment(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = service::get(&state, &client, &id).await?;
    Ok(json(StatusCode::OK, &BillPayment::from(&row)))
}

/// Our deposit at a biller, read now.
#[utoipa::path(get, path = "/v1/billers/{instance}/balance", tag = "bills",
    params(("instance" = String, Path, description = "A biller instance of this client")),
    responses((status = 200, body = Balance), (status = 404, body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "provider_unavailable", body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn get_balance(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(instance): Path<String>,
) -> Result<Response, ApiError> {
    let balance = service::balance(&state, &client, &instance).await?;
    Ok(json(StatusCode::OK, &balance))
}

/// Reconcile the client's transactions of one day (Asia/Jakarta) with a biller's records.
#[utoipa::path(post, path = "/v1/reconciliations", tag = "bills",
    request_body = NewReconciliation,
    responses(
        (status = 201, description = "The report: counts per category, balance drift, items", body = Reconciliation),
        (status = 422, description = "validation_failed", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn create_reconciliation(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Body(request): Body<NewReconciliation>,
) -> Result<Response, ApiError> {
    let report = reconcile::request(&state, &client, request).await?;
    Ok(json(StatusCode::CREATED, &Reconciliation::from(&report)))
}

/// A stored reconciliation report.
#[utoipa::path(get, path = "/v1/reconciliations/{id}", tag = "bills",
    params(("id" = String, Path, description = "rec_…")),
    responses((status = 200, body = Reconciliation), (status = 404, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn get_reconciliation(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let report = reconcile::get(&state, &client, &id).await?;
    Ok(json(StatusCode::OK, &Reconciliation::from(&report)))
}

/// A stored reconciliation report as CSV (one line per item).
#[utoipa::path(get, path = "/v1/reconciliations/{id}/csv", tag = "bills",
    params(("id" = String, Path, description = "rec_…")),
    responses((status = 200, description = "text/csv", body = String, content_type = "text/csv"), (status = 404, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn get_reconciliation_csv(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let report = reconcile::get(&state, &client, &id).await?;
    let disposition = format!(
        "attachment; filename=\"reconciliation-{}-{}.csv\"",
        report.provider, report.day
    );
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        reconcile::csv(&report),
    )
        .into_response())
}
