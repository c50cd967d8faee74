//! Signed-client authentication and the per-client rate limit, as one middleware on the
//! product routes. Order: read the body (bounded) → check headers and timestamp → verify the
//! signature in constant time → rate limit → remember the nonce durably. The answer for an
//! unknown client is the same as for a wrong signature, so client ids cannot be probed.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ApiError;
use crate::app::AppState;
use crate::store::nonces;

/// The authenticated product, available to handlers as an extension.
#[derive(Clone, Debug)]
pub struct ClientId(pub String);

/// Reads a request body up to `limit` bytes; 413 `payload_too_large` beyond.
pub async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload too large",
            format!("request bodies are limited to {limit} bytes"),
        )
    })
}

/// The body limit of a `/v1` request: e-signature requests carry images and PDFs.
pub fn body_limit(state: &AppState, path: &str) -> usize {
    if path.starts_with("/v1/esign/") || path == "/v1/esign" {
        state.settings().esign.body_limit_bytes
    } else {
        state.settings().server.body_limit_bytes
    }
}

/// The middleware.
pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match check(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

async fn check(state: &AppState, request: Request) -> Result<Request, ApiError> {
    let (mut parts, body) = request.into_parts();
    let body = read_body(body, body_limit(state, parts.uri.path())).await?;
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let bad_signature =
        || ApiError::unauthorized("invalid_signature", "missing or invalid request signature");
    let (Some(client_id), Some(timestamp), Some(nonce), Some(signature)) = (
        header("x-client-id"),
        header("x-timestamp"),
        header("x-nonce"),
        header("x-signature"),
    ) else {
        return Err(bad_signature());
    };
    if !valid_nonce(&nonce) {
        return Err(bad_signature());
    }
    let now = OffsetDateTime::now_utc();
    let sent = OffsetDateTime::parse(&timestamp, &Rfc3339).map_err(|_| bad_signature())?;
    if (now - sent).abs() > time::Duration::seconds(state.settings().server.auth_window_secs) {
        return Err(ApiError::unauthorized(
            "stale_timestamp",
            "X-Timestamp is outside the allowed window",
        ));
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let client = state.client(&client_id);
    let secrets = client.map(|c| c.secrets.as_slice()).unwrap_or(&[]);
    let ok = crate::auth::verify(
        secrets,
        &signature,
        parts.method.as_str(),
        path_and_query,
        &timestamp,
        &nonce,
        &body,
    );
    let Some(client) = client.filter(|_| ok) else {
        return Err(bad_signature());
    };
    if let Err(not_until) = client.limiter.check() {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        return Err(ApiError::rate_limited(wait.as_secs_f64().ceil() as u64));
    }
    let fresh = remember_nonce(state, &client_id, &nonce).await?;
    if !fresh {
        return Err(ApiError::unauthorized(
            "replayed_request",
            "this X-Nonce was already used",
        ));
    }
    parts.extensions.insert(ClientId(client_id));
    Ok(Request::from_parts(parts, Body::from(body)))
}

fn valid_nonce(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_graphic())
}

async fn remember_nonce(state: &AppState, client_id: &str, nonce: &str) -> Result<bool, ApiError> {
    let (client_id, nonce) = (client_id.to_owned(), nonce.to_owned());
    let now = crate::store::now_ms();
    // Ordered rather than awaited to durability: every effect of this request is written by
    // the same writer after it, so none can be durable without the nonce.
    state
        .db()
        .write_ordered(move |conn| {
            Box::pin(async move { nonces::remember(conn, &client_id, &nonce, now).await })
        })
        .await
        .map_err(ApiError::from)
}
