//! `Idempotency-Key` on POST (API.md "Idempotency", RELIABILITY.md §7.1): same key and body
//! within the retention → the first response replayed byte for byte with
//! `Idempotent-Replayed: true`; different body → 422 `idempotency_key_reused`; first still
//! running → 409 `idempotency_in_progress`. Keys are scoped per client. Validation errors,
//! 401 and 429 are not stored; every other final answer (5xx included) is.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::ApiError;
use super::error::DoNotStore;
use super::guard::{ClientId, read_body};
use crate::app::AppState;
use crate::store::idempotency::{self, Claim};
use crate::store::now_ms;

/// The middleware.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get("idempotency-key").cloned() else {
        return next.run(request).await;
    };
    let Some(client) = request.extensions().get::<ClientId>().cloned() else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(k) if valid_key(k) => k.to_owned(),
        _ => return invalid_key().into_response(),
    };
    match run(&state, client.0, key, request, next).await {
        Ok(r) | Err(r) => r,
    }
}

fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

fn invalid_key() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_idempotency_key",
        "Invalid Idempotency-Key",
        "Idempotency-Key must be 1 to 255 visible ASCII characters",
    )
}

async fn run(
    state: &AppState,
    client: String,
    key: String,
    request: Request,
    next: Next,
) -> Result<Response, Response> {
    let (parts, body) = request.into_parts();
    let body = read_body(body, super::guard::body_limit(state, parts.uri.path()))
        .await
        .map_err(IntoResponse::into_response)?;
    let hash = request_hash(parts.method.as_str(), parts.uri.path(), &body);
    match claim(state, &client, &key, hash)
        .await
        .map_err(IntoResponse::into_response)?
    {
        Claim::Claimed => {}
        Claim::Replay { status, body } => return Ok(replay(status, body)),
        Claim::Mismatch => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was used with a different request body",
            )
            .into_response());
        }
        Claim::InProgress => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "Request in progress",
                "a request with this Idempotency-Key is still being processed",
            )
            .with_retry_after(1)
            .into_response());
        }
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    finish(state, client, key, response).await
}

fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b"\n");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

async fn claim(state: &AppState, client: &str, key: &str, hash: String) -> Result<Claim, ApiError> {
    let (client, key) = (client.to_owned(), key.to_owned());
    let now = now_ms();
    let retention_ms = state.settings().server.idempotency_retention_hours * 3_600_000;
    // A key still "in progress" after the whole-request deadline plus a margin belongs to a
    // crashed request.
    let abandoned_ms = state.settings().server.request_timeout_ms as i64 + 60_000;
    state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                idempotency::claim(
                    conn,
                    &client,
                    &key,
                    &hash,
                    now,
                    now - retention_ms,
                    now - abandoned_ms,
                )
                .await
            })
        })
        .await
        .map_err(ApiError::from)
}

async fn finish(
    state: &AppState,
    client: String,
    key: String,
    response: Response,
) -> Result<Response, Response> {
    let store = response.extensions().get::<DoNotStore>().is_none()
        && !matches!(
            response.status(),
            StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
        );
    if !store {
        let _ = state
            .db()
            .write(move |conn| {
                Box::pin(async move { idempotency::release(conn, &client, &key).await })
            })
            .await;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 4 << 20)
        .await
        .map_err(|e| ApiError::internal(&e).into_response())?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = parts.status.as_u16();
    let stored = text.clone();
    state
        .db()
        .write(move |conn| {
            Box::pin(
                async move { idempotency::complete(conn, &client, &key, status, &stored).await },
            )
        })
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok(Response::from_parts(parts, Body::from(text)))
}

fn replay(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
