//! `/v1/payments`: thin handlers over [`crate::service::payments`].

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::guard::ClientId;
use super::va::Body;
use super::{ApiError, ListQuery};
use crate::app::AppState;
use crate::service::payments::{
    self as service, NewPayment, NewRefund, Payment, Refund, RefundResult,
};
use crate::store::payments as store;

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_payment, list_payments))
        .routes(routes!(get_payment))
        .routes(routes!(create_refund, list_refunds))
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

/// Take a payment: answers what the customer does next (`action`).
#[utoipa::path(post, path = "/v1/payments", tag = "payments",
    request_body = NewPayment,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 201, description = "Started: pending until paid", body = Payment),
        (status = 409, description = "reference_exists / idempotency_in_progress", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed / method_not_available / provider_rejected / idempotency_key_reused", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "provider_unavailable: nothing was started", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 504, description = "provider_timeout: pending, resolved by status inquiry", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn create_payment(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Body(request): Body<NewPayment>,
) -> Result<Response, ApiError> {
    let validated = service::validate(request)?;
    let row = service::create(&state, &client, validated).await?;
    Ok(json(StatusCode::CREATED, &Payment::from(&row)))
}

/// A page of payments.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct PaymentPage {
    data: Vec<Payment>,
    next_cursor: Option<String>,
}

/// List payments, newest first.
#[utoipa::path(get, path = "/v1/payments", tag = "payments", params(ListQuery),
    responses((status = 200, body = PaymentPage)), security(("signed_request" = [])))]
async fn list_payments(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = super::page_limit(q.limit)?;
    let rows = store::list(
        state.db(),
        &client,
        q.reference.as_deref(),
        q.status.as_deref(),
        q.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let (rows, next_cursor) = super::page(rows, limit, |r| r.id.clone());
    let page = PaymentPage {
        data: rows.iter().map(Payment::from).collect(),
        next_cursor,
    };
    Ok(json(StatusCode::OK, &page))
}

/// One payment.
#[utoipa::path(get, path = "/v1/payments/{id}", tag = "payments",
    params(("id" = String, Path, description = "pay_…")),
    responses((status = 200, body = Payment), (status = 404, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn get_payment(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = service::get(&state, &client, &id).await?;
    Ok(json(StatusCode::OK, &Payment::from(&row)))
}

/// Refund all or part of a paid payment.
#[utoipa::path(post, path = "/v1/payments/{id}/refunds", tag = "payments",
    params(("id" = String, Path, description = "pay_…"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    request_body = NewRefund,
    responses(
        (status = 201, description = "Refund accepted: `succeeded`, or `pending` until the provider confirms", body = RefundResult),
        (status = 404, body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "payment_not_refundable", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed (amount above what remains) / refund_not_supported / provider_rejected", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn create_refund(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
    Body(request): Body<NewRefund>,
) -> Result<Response, ApiError> {
    let (refund, payment) = service::refund(&state, &client, &id, request).await?;
    Ok(json(
        StatusCode::CREATED,
        &RefundResult {
            refund: Refund::from(&refund),
            payment: Payment::from(&payment),
        },
    ))
}

/// The refunds of a payment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RefundList {
    data: Vec<Refund>,
}

/// A payment's refunds, oldest first.
#[utoipa::path(get, path = "/v1/payments/{id}/refunds", tag = "payments",
    params(("id" = String, Path, description = "pay_…")),
    responses((status = 200, body = RefundList), (status = 404, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn list_refunds(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let payment = service::get(&state, &client, &id).await?;
    let rows = store::refunds(state.db(), &payment.id).await?;
    Ok(json(
        StatusCode::OK,
        &RefundList {
            data: rows.iter().map(Refund::from).collect(),
        },
    ))
}
