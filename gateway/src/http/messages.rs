//! `/v1/messages`: thin handlers over [`crate::service::messages`].

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiError;
use super::guard::ClientId;
use super::va::Body;
use crate::app::AppState;
use crate::service::messages::{self as service, Message, NewMessage};

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_message))
        .routes(routes!(get_message))
}

/// Send a template message; its delivery arrives as `message.delivered|read|failed` events.
#[utoipa::path(post, path = "/v1/messages", tag = "messages",
    request_body = NewMessage,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 201, description = "Sent, or queued when the provider throttled (sent again later), or `send_unknown` when its answer was lost", body = Message),
        (status = 409, description = "reference_exists / idempotency_in_progress", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed / no_route / provider_rejected (nothing was sent)", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn send_message(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Body(request): Body<NewMessage>,
) -> Result<Response, ApiError> {
    let row = service::send(&state, &client, request).await?;
    Ok((StatusCode::CREATED, axum::Json(Message::from(&row))).into_response())
}

/// One message and how far it got.
#[utoipa::path(get, path = "/v1/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "msg_…")),
    responses((status = 200, body = Message), (status = 404, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn get_message(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = service::get(&state, &client, &id).await?;
    Ok((StatusCode::OK, axum::Json(Message::from(&row))).into_response())
}
