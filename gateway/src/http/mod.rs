//! The HTTP surface: the unified API, provider callbacks, operations endpoints and (in
//! sandbox mode) the sandbox endpoints.
//!
//! Layers, outermost first: request id (set and propagated) · problem documents get the
//! request id · metrics · trace (sensitive headers redacted) · timeout · body limit; then,
//! for `/v1` product routes only: signed-client auth · per-client rate limit · idempotency.

pub mod bills;
pub mod callbacks;
pub mod error;
pub mod esign;
pub mod events;
pub mod guard;
pub mod idempotency;
pub mod messages;
pub mod ops;
pub mod otp;
pub mod payments;
pub mod va;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;

pub use error::{ApiError, FieldError};

/// The OpenAPI document's static part; paths are added from the routes themselves.
#[derive(OpenApi)]
#[openapi(
    info(title = "Integration gateway API", version = "1", description = "The unified API products call: virtual accounts, payments, e-signature, messages and OTPs, bills (PPOB) and reconciliation, events, operations. Requests are signed (X-Client-Id, X-Timestamp, X-Nonce, X-Signature); errors are RFC 9457 problem documents with a stable `code`."),
    components(schemas(error::Problem, error::FieldError)),
    modifiers(&SignedRequests),
)]
struct ApiDoc;

struct SignedRequests;

impl utoipa::Modify for SignedRequests {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "signed_request",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "X-Signature",
                    "hex(HMAC-SHA256(secret, METHOD\\nPATH_AND_QUERY\\nX-Timestamp\\nX-Nonce\\nhex(SHA-256(body)))), with X-Client-Id, X-Timestamp and X-Nonce",
                ))),
            );
        }
    }
}

fn request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::debug_span!("request", method = %request.method(), route)
}

/// Builds the router and the OpenAPI document from the same route registrations, so the
/// document describes exactly the routes that exist.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let product = OpenApiRouter::new()
        .merge(va::routes())
        .merge(payments::routes())
        .merge(messages::routes())
        .merge(otp::routes())
        .merge(esign::routes())
        .merge(bills::routes())
        .merge(events::routes())
        .merge(ops::product_routes())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::authenticate,
        ));
    let public = OpenApiRouter::new()
        .merge(ops::public_routes())
        .merge(callbacks::routes());
    let mut doc = ApiDoc::openapi();
    doc.merge(callbacks::CallbackDoc::openapi());
    let (api, openapi) = OpenApiRouter::with_openapi(doc)
        .merge(product)
        .merge(public)
        .split_for_parts();
    let openapi = Arc::new(openapi);
    let router = api.merge(ops::openapi_route(openapi.clone()));
    #[cfg(feature = "sandbox")]
    let router = match state.sandbox() {
        Some(sandbox) => router.merge(crate::sandbox::routes(sandbox)),
        None => router,
    };
    // Each `/v1` request is read within its own limit by the guard (`guard::body_limit`).
    let body_limit = state
        .settings()
        .server
        .body_limit_bytes
        .max(state.settings().esign.body_limit_bytes);
    let timeout = Duration::from_millis(state.settings().server.request_timeout_ms);
    let router = router
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            deadline(timeout, request, next)
        }))
        // Spans name the route, never the URI: a callback URL's last segment can be the
        // only secret a provider's callbacks carry (PrivyID).
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetSensitiveRequestHeadersLayer::new([
            HeaderName::from_static("x-signature"),
            axum::http::header::AUTHORIZATION,
        ]))
        .layer(middleware::from_fn(record_metrics))
        .layer(middleware::from_fn(error::add_request_id))
        .layer(PropagateRequestIdLayer::new(HeaderName::from_static(
            "x-request-id",
        )))
        .layer(SetRequestIdLayer::new(
            HeaderName::from_static("x-request-id"),
            MakeId,
        ));
    (router, (*openapi).clone())
}

/// The filters of a resource list.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this reference.
    pub reference: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Page size, 1-200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Cuts `rows` (fetched with one row more than `limit`) to a page; the cursor of the next
/// page is the id of the page's last row when more rows follow.
pub fn page<R>(
    mut rows: Vec<R>,
    limit: i64,
    id: impl Fn(&R) -> String,
) -> (Vec<R>, Option<String>) {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let next = if more { rows.last().map(&id) } else { None };
    (rows, next)
}

/// The page size of a list request: 1 to 200, 50 by default.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(50);
    if (1..=200).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::validation(vec![FieldError {
            field: "limit".into(),
            message: "must be 1 to 200".into(),
        }]))
    }
}

/// The whole-request deadline, answered as a problem document (`request_timeout`). Work
/// cut off here is safe to abandon: a VA left mid-issuance is resolved by inquiry.
async fn deadline(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            axum::http::StatusCode::GATEWAY_TIMEOUT,
            "request_timeout",
            "Request timeout",
            "the gateway did not finish the request in time; its outcome can be read back",
        )
        .into_response(),
    }
}

#[derive(Clone, Copy, Debug)]
struct MakeId;

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&crate::store::new_id("req"))
            .ok()
            .map(RequestId::new)
    }
}

async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let m = crate::metrics::global();
    m.http_requests
        .get_or_create(&vec![
            ("route", route.clone()),
            ("method", method),
            ("status", response.status().as_u16().to_string()),
        ])
        .inc();
    m.http_latency
        .get_or_create(&vec![("route", route)])
        .observe(started.elapsed().as_secs_f64());
    response
}
