//! `/v1/callbacks/{instance}[/…]`: providers' requests in their own formats, authenticated
//! by their own schemes (never by client HMAC), answered in their own formats.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contracts::inbound::{InboundRequest, InboundResponse};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiError;
use super::guard::read_body;
use crate::app::AppState;
use crate::service::callbacks;

/// The routes. The sub-path route takes any number of segments (SNAP's
/// `…/v1.0/access-token/b2b`); OpenAPI cannot template that, so it is routed as a
/// catch-all and documented by [`CallbackDoc`] as `{rest}`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(callback_root, callback_handshake))
        .route(
            "/v1/callbacks/{instance}/{*rest}",
            axum::routing::post(callback_sub),
        )
}

/// The OpenAPI description of the sub-path route.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(paths(callback_sub))]
pub struct CallbackDoc;

/// A provider's webhook verification handshake (WhatsApp's `hub.challenge`), answered by
/// its adapter.
#[utoipa::path(get, path = "/v1/callbacks/{instance}", tag = "callbacks",
    params(("instance" = String, Path, description = "Provider instance name")),
    responses((status = 200, description = "The provider's challenge, echoed"), (status = 403, description = "Wrong verify token"), (status = 404, body = super::error::Problem, content_type = "application/problem+json")))]
async fn callback_handshake(
    State(state): State<AppState>,
    Path(instance): Path<String>,
    request: Request,
) -> Response {
    dispatch(&state, &instance, String::new(), request).await
}

/// A provider's callback (format and answer are the provider's own).
#[utoipa::path(post, path = "/v1/callbacks/{instance}", tag = "callbacks",
    params(("instance" = String, Path, description = "Provider instance name")),
    request_body(content = String, description = "The provider's own format", content_type = "application/octet-stream"),
    responses((status = 200, description = "Acknowledged in the provider's format"), (status = 400, description = "Rejected in the provider's format"), (status = 404, body = super::error::Problem, content_type = "application/problem+json"), (status = 503, description = "Not stored; the provider should retry")))]
async fn callback_root(
    State(state): State<AppState>,
    Path(instance): Path<String>,
    request: Request,
) -> Response {
    dispatch(&state, &instance, String::new(), request).await
}

/// A provider request on a sub-path (protocols with several endpoints, e.g. SNAP's
/// `v1.0/access-token/b2b` and `v1.0/transfer-va/payment`).
#[utoipa::path(post, path = "/v1/callbacks/{instance}/{rest}", tag = "callbacks",
    params(("instance" = String, Path, description = "Provider instance name"), ("rest" = String, Path, description = "Protocol sub-path; may span several segments (`v1.0/transfer-va/payment`)")),
    request_body(content = String, description = "The provider's own format", content_type = "application/octet-stream"),
    responses((status = 200, description = "Answered in the provider's format"), (status = 404, body = super::error::Problem, content_type = "application/problem+json")))]
async fn callback_sub(
    State(state): State<AppState>,
    Path((instance, rest)): Path<(String, String)>,
    request: Request,
) -> Response {
    dispatch(&state, &instance, rest, request).await
}

async fn dispatch(
    state: &AppState,
    instance: &str,
    sub_path: String,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match read_body(body, state.settings().server.body_limit_bytes).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(n, v)| {
            v.to_str()
                .ok()
                .map(|v| (n.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let inbound = InboundRequest::new(
        parts.method.as_str(),
        sub_path,
        headers,
        body,
        OffsetDateTime::now_utc(),
    )
    .with_path(path);
    match callbacks::handle(state, instance, inbound).await {
        Some(reply) => to_response(reply),
        None => ApiError::not_found("callback endpoint").into_response(),
    }
}

fn to_response(reply: InboundResponse) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Body::from(reply.body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    for (name, value) in reply.headers {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}
