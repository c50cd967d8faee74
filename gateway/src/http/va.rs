//! `/v1/virtual-accounts` and `/v1/jobs`: thin handlers over [`crate::service::va`].

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::guard::ClientId;
use super::{ApiError, FieldError, ListQuery};
use crate::app::AppState;
use crate::service::jobs::{self, JobView};
use crate::service::va::{self as service, NewVirtualAccount, VirtualAccount, VirtualAccountPatch};
use crate::store::va::{self as store, ListFilter};

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_va, list_vas))
        .routes(routes!(get_va, patch_va))
        .routes(routes!(cancel_va))
        .routes(routes!(create_batch))
        .routes(routes!(get_job))
}

/// JSON body with our own error for unreadable input.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = bytes::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::malformed(e.body_text()))?;
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| ApiError::malformed(format!("invalid JSON body: {e}")))
    }
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

/// Issue a virtual account.
#[utoipa::path(post, path = "/v1/virtual-accounts", tag = "virtual-accounts",
    request_body = NewVirtualAccount,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 201, description = "Issued", body = VirtualAccount),
        (status = 409, description = "reference_exists / idempotency_in_progress", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed / provider_rejected / idempotency_key_reused", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "provider_unavailable", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 504, description = "provider_timeout: pending, resolved by inquiry", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn create_va(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Body(request): Body<NewVirtualAccount>,
) -> Result<Response, ApiError> {
    let validated = service::validate(request)?;
    let row = service::issue(&state, &client, validated).await?;
    Ok(json(StatusCode::CREATED, &VirtualAccount::from(&row)))
}

/// A page of virtual accounts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct VaPage {
    data: Vec<VirtualAccount>,
    next_cursor: Option<String>,
}

/// List virtual accounts, newest first.
#[utoipa::path(get, path = "/v1/virtual-accounts", tag = "virtual-accounts", params(ListQuery),
    responses((status = 200, body = VaPage)), security(("signed_request" = [])))]
async fn list_vas(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = super::page_limit(q.limit)?;
    let filter = ListFilter {
        reference: q.reference,
        status: q.status,
        cursor: q.cursor,
        limit: limit + 1,
    };
    let rows = store::list(state.db(), &client, &filter).await?;
    let (rows, next_cursor) = super::page(rows, limit, |r| r.id.clone());
    let page = VaPage {
        data: rows.iter().map(VirtualAccount::from).collect(),
        next_cursor,
    };
    Ok(json(StatusCode::OK, &page))
}

/// One virtual account.
#[utoipa::path(get, path = "/v1/virtual-accounts/{id}", tag = "virtual-accounts",
    params(("id" = String, Path, description = "va_…")),
    responses((status = 200, body = VirtualAccount), (status = 404, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn get_va(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = store::get(state.db(), &client, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("virtual account"))?;
    Ok(json(StatusCode::OK, &VirtualAccount::from(&row)))
}

/// Change amount and/or expiry while unpaid.
#[utoipa::path(patch, path = "/v1/virtual-accounts/{id}", tag = "virtual-accounts",
    params(("id" = String, Path, description = "va_…")), request_body = VirtualAccountPatch,
    responses((status = 200, body = VirtualAccount), (status = 409, description = "va_not_changeable", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed / operation_not_supported", body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn patch_va(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
    Body(patch): Body<VirtualAccountPatch>,
) -> Result<Response, ApiError> {
    let row = service::update(&state, &client, &id, patch).await?;
    Ok(json(StatusCode::OK, &VirtualAccount::from(&row)))
}

/// Cancel while unpaid.
#[utoipa::path(post, path = "/v1/virtual-accounts/{id}/cancel", tag = "virtual-accounts",
    params(("id" = String, Path, description = "va_…")),
    responses((status = 200, body = VirtualAccount), (status = 409, description = "va_not_changeable", body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn cancel_va(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = service::cancel(&state, &client, &id).await?;
    Ok(json(StatusCode::OK, &VirtualAccount::from(&row)))
}

/// A batch of VAs to issue.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    /// 1 to 1000 VAs, each as for `POST /v1/virtual-accounts`.
    items: Vec<NewVirtualAccount>,
}

/// The accepted job.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct JobAccepted {
    /// `job_…`; follow it at `GET /v1/jobs/{id}`.
    job_id: String,
    /// `queued`.
    status: String,
    /// Items accepted.
    total: usize,
}

/// Issue many VAs at once (a job).
#[utoipa::path(post, path = "/v1/virtual-accounts/batch", tag = "virtual-accounts", request_body = BatchRequest,
    responses((status = 202, body = JobAccepted), (status = 422, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn create_batch(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Body(request): Body<BatchRequest>,
) -> Result<Response, ApiError> {
    let total = request.items.len();
    if total == 0 || total > jobs::MAX_ITEMS {
        return Err(ApiError::validation(vec![FieldError {
            field: "items".into(),
            message: format!("must hold 1 to {} items", jobs::MAX_ITEMS),
        }]));
    }
    let job_id = jobs::submit(&state, &client, request.items).await?;
    Ok(json(
        StatusCode::ACCEPTED,
        &JobAccepted {
            job_id,
            status: "queued".into(),
            total,
        },
    ))
}

/// A job's progress and per-item results.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "job_…")),
    responses((status = 200, body = JobView), (status = 404, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn get_job(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = jobs::view(&state, &client, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))?;
    Ok(json(StatusCode::OK, &view))
}
