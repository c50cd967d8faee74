//! `/v1/events`: pull the same events that are pushed, see delivery attempts, redeliver.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiError;
use super::guard::ClientId;
use crate::app::AppState;
use crate::store::events::{self, EventRow};
use crate::store::{from_ms, now_ms};

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(get_event))
        .routes(routes!(list_attempts))
        .routes(routes!(redeliver))
}

fn rfc3339(ms: i64) -> String {
    from_ms(ms)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// An event with its delivery state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Event {
    /// `evt_…`, also the `webhook-id` of every delivery.
    id: String,
    /// `virtual_account.paid`, …
    #[serde(rename = "type")]
    event_type: String,
    /// RFC 3339.
    created_at: String,
    /// The resource as it was when the event happened.
    #[schema(value_type = Object)]
    data: serde_json::Value,
    /// Delivery state and attempts.
    delivery: Delivery,
}

/// Delivery state of an event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Delivery {
    /// `pending`, `delivered`, `failed` (dead-lettered).
    status: String,
    /// Attempts so far.
    attempts: i64,
    /// Next attempt, RFC 3339, while pending.
    next_attempt_at: Option<String>,
    /// When delivered.
    delivered_at: Option<String>,
    /// Last failure.
    last_error: Option<String>,
}

impl From<&EventRow> for Event {
    fn from(e: &EventRow) -> Self {
        let body: serde_json::Value = serde_json::from_str(&e.body).unwrap_or_default();
        Event {
            id: e.id.clone(),
            event_type: e.event_type.clone(),
            created_at: rfc3339(e.created_at),
            data: body.get("data").cloned().unwrap_or_default(),
            delivery: Delivery {
                status: e.delivery_state.clone(),
                attempts: e.attempts,
                next_attempt_at: e.next_attempt_at.map(rfc3339),
                delivered_at: e.delivered_at.map(rfc3339),
                last_error: e.last_error.clone(),
            },
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct EventQuery {
    /// Only events after this event id (oldest first).
    after: Option<String>,
    /// Only this type.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// Page size, 1-200 (default 50).
    limit: Option<i64>,
}

/// A page of events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct EventPage {
    data: Vec<Event>,
    /// Pass as `after` for the next page.
    next_cursor: Option<String>,
}

/// Events of this product, oldest first.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventQuery),
    responses((status = 200, body = EventPage)), security(("signed_request" = [])))]
async fn list_events(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Query(q): Query<EventQuery>,
) -> Result<Response, ApiError> {
    let limit = super::page_limit(q.limit)?;
    let rows = events::list(
        state.db(),
        &client,
        q.after.as_deref(),
        q.event_type.as_deref(),
        limit,
    )
    .await?;
    let next_cursor = rows.last().map(|r| r.id.clone());
    let page = EventPage {
        data: rows.iter().map(Event::from).collect(),
        next_cursor,
    };
    Ok((StatusCode::OK, axum::Json(page)).into_response())
}

/// One event.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "events", params(("id" = String, Path, description = "evt_…")),
    responses((status = 200, body = Event), (status = 404, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn get_event(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = events::get(state.db(), &client, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok((StatusCode::OK, axum::Json(Event::from(&row))).into_response())
}

/// One delivery attempt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AttemptView {
    /// 1-based.
    attempt: i64,
    /// RFC 3339.
    started_at: String,
    /// How long it took.
    duration_ms: i64,
    /// HTTP status received, if any.
    status_code: Option<i64>,
    /// Transport failure, if any.
    error: Option<String>,
    /// Where it was sent.
    url: String,
}

/// The attempts list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AttemptPage {
    data: Vec<AttemptView>,
}

/// Delivery attempts of one event.
#[utoipa::path(get, path = "/v1/events/{id}/attempts", tag = "events", params(("id" = String, Path, description = "evt_…")),
    responses((status = 200, body = AttemptPage), (status = 404, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn list_attempts(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    events::get(state.db(), &client, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    let data = events::attempts(state.db(), &client, &id)
        .await?
        .into_iter()
        .map(|a| AttemptView {
            attempt: a.attempt,
            started_at: rfc3339(a.started_at),
            duration_ms: a.duration_ms,
            status_code: a.status_code,
            error: a.error,
            url: a.url,
        })
        .collect();
    Ok((StatusCode::OK, axum::Json(AttemptPage { data })).into_response())
}

/// Send one event again now (also a dead-lettered one).
#[utoipa::path(post, path = "/v1/events/{id}/redeliver", tag = "events", params(("id" = String, Path, description = "evt_…")),
    responses((status = 202, body = Event), (status = 404, body = super::error::Problem, content_type = "application/problem+json")),
    security(("signed_request" = [])))]
async fn redeliver(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (c, i) = (client.clone(), id.clone());
    let found = state
        .db()
        .write(move |conn| Box::pin(async move { events::redeliver(conn, &c, &i, now_ms()).await }))
        .await?;
    if !found {
        return Err(ApiError::not_found("event"));
    }
    state.wake_outbox();
    let row = events::get(state.db(), &client, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok((StatusCode::ACCEPTED, axum::Json(Event::from(&row))).into_response())
}
