//! `/v1/esign`: thin handlers over [`crate::service::esign`]. A client without an
//! e-signature route gets 403 `esign_not_enabled` on every one of them.

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
use crate::service::esign::documents::{self, Document, NewDocument};
use crate::service::esign::ensure_enabled;
use crate::service::esign::signers::{self, NewResubmission, NewSigner, Signer};
use crate::store::esign as store;

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_signer, list_signers))
        .routes(routes!(get_signer))
        .routes(routes!(resubmit_signer))
        .routes(routes!(create_document, list_documents))
        .routes(routes!(get_document))
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

/// Register a signer for certified e-signature: the provider verifies the identity
/// (`esign.signer.verified`, `.invalid` or `.rejected` follow).
#[utoipa::path(post, path = "/v1/esign/signers", tag = "esign",
    request_body = NewSigner,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 201, description = "Registered: pending verification", body = Signer),
        (status = 403, description = "esign_not_enabled", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "reference_exists / signer_exists (same NIK) / idempotency_in_progress", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "payload_too_large", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed (nothing sent to the provider) / provider_rejected", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "provider_unavailable: nothing was registered", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 504, description = "provider_timeout: the registration may exist; never resent, resolved by operators", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn create_signer(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Body(request): Body<NewSigner>,
) -> Result<Response, ApiError> {
    ensure_enabled(&state, &client)?;
    let validated = signers::validate(&state, request)?;
    let row = signers::register(&state, &client, validated).await?;
    Ok(json(
        StatusCode::CREATED,
        &Signer::view(&row, state.vault()),
    ))
}

/// A page of signers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct SignerPage {
    data: Vec<Signer>,
    next_cursor: Option<String>,
}

/// List signers, newest first (`status`: `pending_verification`, `invalid`, `verified`,
/// `rejected`).
#[utoipa::path(get, path = "/v1/esign/signers", tag = "esign", params(ListQuery),
    responses((status = 200, body = SignerPage), (status = 403, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn list_signers(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    ensure_enabled(&state, &client)?;
    let limit = super::page_limit(q.limit)?;
    let status = q.status.as_deref().map(|s| match s {
        "pending_verification" => "pending_verification",
        "invalid" => "invalid",
        "verified" => "verified",
        "rejected" => "rejected",
        _ => "none",
    });
    let rows = store::list_signers(
        state.db(),
        &client,
        q.reference.as_deref(),
        status,
        q.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let (rows, next_cursor) = super::page(rows, limit, |r| r.id.clone());
    let page = SignerPage {
        data: rows
            .iter()
            .map(|r| Signer::view(r, state.vault()))
            .collect(),
        next_cursor,
    };
    Ok(json(StatusCode::OK, &page))
}

/// One signer (only the client that registered it can read it).
#[utoipa::path(get, path = "/v1/esign/signers/{id}", tag = "esign",
    params(("id" = String, Path, description = "sgn_…")),
    responses((status = 200, body = Signer), (status = 404, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn get_signer(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ensure_enabled(&state, &client)?;
    let row = signers::get(&state, &client, &id).await?;
    Ok(json(StatusCode::OK, &Signer::view(&row, state.vault())))
}

/// Send again what an `invalid` verdict asked for (`resubmit`); the signer is pending
/// verification again.
#[utoipa::path(post, path = "/v1/esign/signers/{id}/resubmissions", tag = "esign",
    params(("id" = String, Path, description = "sgn_…"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    request_body = NewResubmission,
    responses(
        (status = 202, description = "Sent: pending verification", body = Signer),
        (status = 404, body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "signer_not_invalid", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed / provider_rejected", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 504, description = "provider_timeout: pending; the next status inquiry tells", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn resubmit_signer(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
    Body(request): Body<NewResubmission>,
) -> Result<Response, ApiError> {
    ensure_enabled(&state, &client)?;
    let row = signers::resubmit(&state, &client, &id, request).await?;
    Ok(json(
        StatusCode::ACCEPTED,
        &Signer::view(&row, state.vault()),
    ))
}

/// Send a PDF for signature by verified signers (`esign.document.signed`, `.rejected` or
/// `.expired` follow).
#[utoipa::path(post, path = "/v1/esign/documents", tag = "esign",
    request_body = NewDocument,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 201, description = "Uploaded: pending signatures", body = Document),
        (status = 403, description = "esign_not_enabled", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "reference_exists / idempotency_in_progress", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed (unknown or unverified signers; nothing sent) / provider_rejected", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "provider_unavailable: nothing was uploaded", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 504, description = "provider_timeout: the document may exist; never resent, resolved by operators", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn create_document(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Body(request): Body<NewDocument>,
) -> Result<Response, ApiError> {
    ensure_enabled(&state, &client)?;
    let validated = documents::validate(&state, request)?;
    let (row, signers) = documents::upload(&state, &client, validated).await?;
    Ok(json(StatusCode::CREATED, &Document::view(&row, &signers)))
}

/// A page of documents.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct DocumentPage {
    data: Vec<Document>,
    next_cursor: Option<String>,
}

/// List documents, newest first.
#[utoipa::path(get, path = "/v1/esign/documents", tag = "esign", params(ListQuery),
    responses((status = 200, body = DocumentPage), (status = 403, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn list_documents(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    ensure_enabled(&state, &client)?;
    let limit = super::page_limit(q.limit)?;
    let rows = store::list_documents(
        state.db(),
        &client,
        q.reference.as_deref(),
        q.status.as_deref(),
        q.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let (rows, next_cursor) = super::page(rows, limit, |r| r.id.clone());
    let mut data = Vec::with_capacity(rows.len());
    for row in &rows {
        let signers = store::document_signers_of(state.db(), &row.id).await?;
        data.push(Document::view(row, &signers));
    }
    Ok(json(StatusCode::OK, &DocumentPage { data, next_cursor }))
}

/// One document with each signer's progress.
#[utoipa::path(get, path = "/v1/esign/documents/{id}", tag = "esign",
    params(("id" = String, Path, description = "doc_…")),
    responses((status = 200, body = Document), (status = 404, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn get_document(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ensure_enabled(&state, &client)?;
    let (row, signers) = documents::get(&state, &client, &id).await?;
    Ok(json(StatusCode::OK, &Document::view(&row, &signers)))
}
