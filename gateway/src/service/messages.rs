//! Template messages: validation, the send (once: each send costs money and delivers
//! another message), throttled sends kept and sent again later, and delivery statuses from
//! the provider's webhooks applied forward only, each announced as `message.*`.

use std::time::Instant;

use axum::http::StatusCode;
use contracts::messaging::{DeliveryState, TemplateMessage};
use contracts::{ErrorKind, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::AnyConnection;

use crate::app::AppState;
use crate::http::ApiError;
use crate::service::fields::{self, field, rfc3339};
use crate::service::va::provider_error;
use crate::store::calls::{self, Call};
use crate::store::messages::{self as store, MessageRow, status};
use crate::store::{StoreError, events, new_id, now_ms};

/// A message as products see it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    /// `msg_…`
    pub id: String,
    /// The product's own reference, unique per product.
    pub reference: String,
    /// The provider instance that sent it.
    pub provider: Option<String>,
    /// The recipient, E.164.
    pub recipient: String,
    /// The template.
    pub template: String,
    /// The template language.
    pub language: String,
    /// `queued`, `sent`, `delivered`, `read`, `failed`; `send_unknown` when the provider's
    /// answer was lost (it is never sent again automatically).
    pub status: String,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// Increases with every change.
    pub version: i64,
}

impl From<&MessageRow> for Message {
    fn from(m: &MessageRow) -> Self {
        Message {
            id: m.id.clone(),
            reference: m.reference.clone(),
            provider: m.provider.clone(),
            recipient: m.recipient.clone(),
            template: m.template.clone(),
            language: m.language.clone(),
            status: m.status.clone(),
            error: m.error.clone(),
            created_at: rfc3339(m.created_at),
            version: m.version,
        }
    }
}

/// The event payload for a message: ids and status; no recipient, no parameters.
pub fn event_data(m: &MessageRow) -> Value {
    json!({
        "id": m.id,
        "reference": m.reference,
        "provider": m.provider,
        "template": m.template,
        "status": m.status,
        "error": m.error,
        "version": m.version,
    })
}

/// A template message to send.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// The product's reference, unique per product (1-64 characters).
    pub reference: String,
    /// E.164, with or without `+` (8 to 15 digits).
    pub recipient: String,
    /// A template registered with the provider.
    pub template: String,
    /// Its language code (`id`, `en_US`).
    pub language: String,
    /// Body parameters, in order (each 1-1,024 characters).
    #[serde(default)]
    pub params: Vec<String>,
}

fn validate(req: &NewMessage) -> Result<String, ApiError> {
    let mut errors = Vec::new();
    fields::reference(&req.reference, &mut errors);
    let digits = req.recipient.strip_prefix('+').unwrap_or(&req.recipient);
    if digits.len() < 8 || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(field(
            "recipient",
            "must be an E.164 number: 8 to 15 digits, optionally with a leading +",
        ));
    }
    let name_ok = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    if !name_ok(&req.template, 512) {
        errors.push(field(
            "template",
            "must be a template name: lower-case letters, digits, _",
        ));
    }
    let language_ok = (2..=16).contains(&req.language.len())
        && req
            .language
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'_');
    if !language_ok {
        errors.push(field(
            "language",
            "must be a language code such as id or en_US",
        ));
    }
    if req.params.len() > 20
        || req
            .params
            .iter()
            .any(|p| p.is_empty() || p.chars().count() > 1024)
    {
        errors.push(field("params", "at most 20, each 1 to 1,024 characters"));
    }
    if errors.is_empty() {
        Ok(digits.to_owned())
    } else {
        Err(ApiError::validation(errors))
    }
}

fn route(state: &AppState, client_id: &str) -> Result<Vec<String>, ApiError> {
    let routes: Vec<String> = state
        .client(client_id)
        .map(|c| c.config.routes.messages.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|name| state.registry().messaging(name).is_some())
        .collect();
    if routes.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_route",
            "No route",
            "no provider instance is configured for this client's messages",
        ));
    }
    Ok(routes)
}

/// Stores the message, then sends it through the client's route: an unavailable instance
/// fails over; a throttled send stays queued and is sent again later; an ambiguous answer
/// leaves it `send_unknown` (never resent).
pub async fn send(
    state: &AppState,
    client_id: &str,
    req: NewMessage,
) -> Result<MessageRow, ApiError> {
    let recipient = validate(&req)?;
    let route = route(state, client_id)?;
    let now = now_ms();
    let row = MessageRow {
        id: new_id("msg"),
        client_id: client_id.to_owned(),
        reference: req.reference.clone(),
        provider: None,
        recipient,
        template: req.template.clone(),
        language: req.language.clone(),
        status: status::QUEUED.0.to_owned(),
        rank: status::QUEUED.1,
        provider_reference: None,
        error: None,
        params: req.params.clone(),
        attempts: 0,
        next_attempt_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let insert = row.clone();
    let existing = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                if store::insert(conn, &insert).await? {
                    Ok(None)
                } else {
                    store::id_by_reference(conn, &insert.client_id, &insert.reference).await
                }
            })
        })
        .await?;
    if let Some(id) = existing {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "reference_exists",
            "Reference exists",
            "a message with this reference already exists",
        )
        .with_extra(json!({ "id": id })));
    }
    match attempt(state, &row, &route).await? {
        Outcome::Done(row) => Ok(*row),
        Outcome::Refused(_, e) => {
            // Refused while the product waits: forget it, so the reference can be reused.
            let id = row.id.clone();
            state
                .db()
                .write(move |conn| Box::pin(async move { store::delete_unsent(conn, &id).await }))
                .await?;
            Err(provider_error(e))
        }
    }
}

enum Outcome {
    Done(Box<MessageRow>),
    /// The provider refused the message for good (at this instance); nothing was sent.
    Refused(String, ProviderError),
}

/// One pass over the route for a queued message.
async fn attempt(
    state: &AppState,
    row: &MessageRow,
    route: &[String],
) -> Result<Outcome, StoreError> {
    let message = TemplateMessage::new(
        row.recipient.clone(),
        row.template.clone(),
        row.language.clone(),
        row.params.clone(),
    );
    let mut last: Option<(String, ProviderError)> = None;
    let mut calls = Vec::new();
    for instance in route {
        let Some(adapter) = state.registry().messaging(instance) else {
            continue;
        };
        let started = Instant::now();
        let result = adapter.send_template(&message).await;
        calls.push(
            Call::finished(
                Some(&row.client_id),
                instance,
                "message.send",
                started,
                &result,
            )
            .for_resource(&row.id),
        );
        match result {
            Ok(sent) => {
                let (id, provider, reference) =
                    (row.id.clone(), instance.clone(), sent.provider_reference.0);
                let stored = settle(state, calls, move |conn, now| {
                    Box::pin(async move {
                        store::advance(
                            conn,
                            &id,
                            status::SENT,
                            Some(&provider),
                            Some(&reference),
                            None,
                            now,
                        )
                        .await?;
                        store::get_unscoped(conn, &id).await
                    })
                })
                .await?;
                return Ok(Outcome::Done(Box::new(
                    stored.unwrap_or_else(|| row.clone()),
                )));
            }
            Err(e) if e.kind == ErrorKind::Unavailable => last = Some((instance.clone(), e)),
            Err(e) if e.kind == ErrorKind::RateLimited => {
                last = Some((instance.clone(), e));
                break;
            }
            Err(e) if e.kind.is_ambiguous() => {
                let (id, provider) = (row.id.clone(), instance.clone());
                let stored = settle(state, calls, move |conn, now| {
                    Box::pin(async move {
                        store::advance(
                            conn,
                            &id,
                            status::SEND_UNKNOWN,
                            Some(&provider),
                            None,
                            None,
                            now,
                        )
                        .await?;
                        store::get_unscoped(conn, &id).await
                    })
                })
                .await?;
                return Ok(Outcome::Done(Box::new(
                    stored.unwrap_or_else(|| row.clone()),
                )));
            }
            Err(e) => {
                settle(state, calls, |_, _| Box::pin(async { Ok(None) })).await?;
                return Ok(Outcome::Refused(instance.clone(), e));
            }
        }
    }
    // Throttled or unavailable everywhere: nothing was sent; keep it and send it later.
    let (provider, error) = last.unwrap_or_else(|| {
        (
            route.first().cloned().unwrap_or_default(),
            ProviderError::new(ErrorKind::Unavailable, "no provider available"),
        )
    });
    let delay = retry_delay_ms(row.attempts);
    let id = row.id.clone();
    let stored = settle(state, calls, move |conn, now| {
        Box::pin(async move {
            store::retry_at(conn, &id, &provider, now + delay, now).await?;
            store::get_unscoped(conn, &id).await
        })
    })
    .await?;
    tracing::info!(message = %row.id, kind = error.kind.as_str(), "message throttled; it is sent again later");
    Ok(Outcome::Done(Box::new(
        stored.unwrap_or_else(|| row.clone()),
    )))
}

async fn settle<F>(
    state: &AppState,
    calls: Vec<Call>,
    step: F,
) -> Result<Option<MessageRow>, StoreError>
where
    F: for<'c> FnOnce(
            &'c mut AnyConnection,
            i64,
        )
            -> futures::future::BoxFuture<'c, Result<Option<MessageRow>, StoreError>>
        + Send
        + 'static,
{
    state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, &calls).await?;
                step(conn, now_ms()).await
            })
        })
        .await
}

fn refusal_text(e: &ProviderError) -> String {
    match &e.provider_code {
        Some(code) => format!("{code}: {}", e.message),
        None => e.message.clone(),
    }
}

async fn fail(
    conn: &mut AnyConnection,
    id: &str,
    provider: &str,
    error: &str,
    now: i64,
) -> Result<(), StoreError> {
    if let Some(row) = store::advance(
        conn,
        id,
        status::FAILED,
        Some(provider),
        None,
        Some(error),
        now,
    )
    .await?
    {
        events::enqueue(
            conn,
            &row.client_id,
            "message.failed",
            &row.id,
            event_data(&row),
            now,
        )
        .await?;
    }
    Ok(())
}

fn retry_delay_ms(attempts: i64) -> i64 {
    // 5 s, 10 s, 20 s, … up to 10 minutes.
    (5_000i64.saturating_mul(1 << attempts.clamp(0, 7))).min(600_000)
}

/// Sends queued messages whose retry time has come (scheduler).
pub async fn send_due(state: &AppState) -> Result<usize, StoreError> {
    let ids = store::due(state.db(), now_ms(), 50).await?;
    let n = ids.len();
    for id in ids {
        let id_owned = id.clone();
        let Some(row) = state
            .db()
            .write(move |conn| Box::pin(async move { store::get_unscoped(conn, &id_owned).await }))
            .await?
        else {
            continue;
        };
        let Ok(route) = route(state, &row.client_id) else {
            continue;
        };
        if let Outcome::Refused(provider, e) = attempt(state, &row, &route).await? {
            // Refused on a later try: the product hears it as `message.failed`.
            tracing::warn!(message = %row.id, kind = e.kind.as_str(), "queued message refused");
            let (id, error) = (row.id.clone(), refusal_text(&e));
            state
                .db()
                .write(move |conn| {
                    Box::pin(async move { fail(conn, &id, &provider, &error, now_ms()).await })
                })
                .await?;
            state.wake_outbox();
        }
    }
    Ok(n)
}

/// Reads one message of the client.
pub async fn get(state: &AppState, client_id: &str, id: &str) -> Result<MessageRow, ApiError> {
    store::get(state.db(), client_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))
}

/// Applies a provider's delivery status inside the caller's transaction: forward only.
/// Returns whether the message moved and whether a product event was enqueued.
pub async fn apply_status(
    conn: &mut AnyConnection,
    row: &MessageRow,
    state: DeliveryState,
    error: Option<&str>,
    now: i64,
) -> Result<(bool, bool), StoreError> {
    let (to, event) = match state {
        DeliveryState::Sent => (status::SENT, None),
        DeliveryState::Delivered => (status::DELIVERED, Some("message.delivered")),
        DeliveryState::Read => (status::READ, Some("message.read")),
        DeliveryState::Failed => (status::FAILED, Some("message.failed")),
    };
    let Some(moved) = store::advance(conn, &row.id, to, None, None, error, now).await? else {
        return Ok((false, false));
    };
    match event {
        Some(event) => {
            events::enqueue(
                conn,
                &moved.client_id,
                event,
                &moved.id,
                event_data(&moved),
                now,
            )
            .await?;
            Ok((true, true))
        }
        None => Ok((true, false)),
    }
}
