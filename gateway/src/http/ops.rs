//! Operations: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, `/v1/usage`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::guard::ClientId;
use super::{ApiError, FieldError};
use crate::app::AppState;
use crate::store::calls::{self, UsageLine};
use crate::store::{events, now_ms, to_ms};

/// Unauthenticated operations routes.
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// Product routes.
pub fn product_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(usage))
}

/// `/openapi.json`, serving the document built from the routes.
pub fn openapi_route(doc: Arc<utoipa::openapi::OpenApi>) -> axum::Router<AppState> {
    axum::Router::new().route(
        "/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
}

/// Process health.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Health {
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(Health { status: "ok" })).into_response()
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn readyz(State(state): State<AppState>) -> Response {
    if state.db().ping().await {
        (StatusCode::OK, axum::Json(Health { status: "ready" })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(Health {
                status: "database unreachable",
            }),
        )
            .into_response()
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> Response {
    if let Ok((n, age_ms)) = events::backlog(state.db(), now_ms()).await {
        crate::metrics::global().outbox_backlog.set(n);
        crate::metrics::global()
            .outbox_oldest_age
            .set(age_ms / 1000);
    }
    let mut response = crate::metrics::global().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct UsageQuery {
    /// Start, RFC 3339 (default: 24 h ago).
    from: Option<String>,
    /// End, RFC 3339 (default: now).
    to: Option<String>,
}

/// Usage per provider instance and operation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Usage {
    from: String,
    to: String,
    data: Vec<UsageLine>,
}

/// This product's provider calls, by instance, operation and outcome.
#[utoipa::path(get, path = "/v1/usage", tag = "operations", params(UsageQuery),
    responses((status = 200, body = Usage), (status = 422, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn usage(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Query(q): Query<UsageQuery>,
) -> Result<Response, ApiError> {
    let now = OffsetDateTime::now_utc();
    let parse = |name: &str, v: Option<String>, default: OffsetDateTime| match v {
        None => Ok(default),
        Some(t) => OffsetDateTime::parse(&t, &Rfc3339).map_err(|_| FieldError {
            field: name.to_owned(),
            message: "must be an RFC 3339 time".into(),
        }),
    };
    let from = parse("from", q.from, now - time::Duration::days(1));
    let to = parse("to", q.to, now);
    let (from, to) = match (from, to) {
        (Ok(f), Ok(t)) => (f, t),
        (f, t) => {
            return Err(ApiError::validation(
                [f.err(), t.err()].into_iter().flatten().collect(),
            ));
        }
    };
    let data = calls::usage(state.db(), &client, to_ms(from), to_ms(to)).await?;
    let body = Usage {
        from: from.format(&Rfc3339).unwrap_or_default(),
        to: to.format(&Rfc3339).unwrap_or_default(),
        data,
    };
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}
