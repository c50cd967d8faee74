//! Provider events: every verified callback, unique per `(provider, provider_event_id)`, so a
//! replayed callback inserts nothing and changes nothing.

use sqlx::AnyConnection;
use sqlx::Row;

use super::{Db, StoreError, new_id};

/// States of a stored provider event.
pub mod state {
    /// Applied to its resource.
    pub const APPLIED: &str = "applied";
    /// Stored and acknowledged; waits for confirmation by status inquiry.
    pub const UNCONFIRMED: &str = "unconfirmed";
    /// Verified but changed nothing (late, for a closed resource, or contradicted by the
    /// provider's own status).
    pub const IGNORED: &str = "ignored";
    /// No resource of ours matches it; kept for operators.
    pub const UNMATCHED: &str = "unmatched";
}

/// A provider event to store.
#[derive(Clone, Debug)]
pub struct NewProviderEvent {
    pub provider: String,
    pub provider_event_id: String,
    pub client_id: Option<String>,
    pub resource_id: Option<String>,
    pub kind: String,
    pub amount: Option<i64>,
    pub state: String,
    pub detail: Option<String>,
    pub payload: String,
    pub received_at: i64,
    pub next_attempt_at: Option<i64>,
}

/// Inserts the event; returns its id, or `None` when the same provider event was stored
/// before (a replay).
pub async fn insert(
    conn: &mut AnyConnection,
    event: &NewProviderEvent,
) -> Result<Option<String>, StoreError> {
    let id = new_id("pev");
    let done = sqlx::query("INSERT INTO provider_events (id, provider, provider_event_id, client_id, resource_id, kind, amount, state, detail, payload, received_at, processed_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (provider, provider_event_id) DO NOTHING")
        .bind(&id)
        .bind(&event.provider)
        .bind(&event.provider_event_id)
        .bind(&event.client_id)
        .bind(&event.resource_id)
        .bind(&event.kind)
        .bind(event.amount)
        .bind(&event.state)
        .bind(&event.detail)
        .bind(&event.payload)
        .bind(event.received_at)
        .bind(if event.state == state::UNCONFIRMED { None } else { Some(event.received_at) })
        .bind(event.next_attempt_at)
        .execute(conn)
        .await?;
    Ok((done.rows_affected() == 1).then_some(id))
}

/// Marks an event processed in `new_state`.
pub async fn settle(
    conn: &mut AnyConnection,
    id: &str,
    new_state: &str,
    detail: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE provider_events SET state = $2, detail = COALESCE($3, detail), processed_at = $4, next_attempt_at = NULL WHERE id = $1")
        .bind(id)
        .bind(new_state)
        .bind(detail)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Pushes an unconfirmed event's next confirmation attempt back.
pub async fn retry_later(
    conn: &mut AnyConnection,
    id: &str,
    at: i64,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE provider_events SET attempts = attempts + 1, next_attempt_at = $2, detail = $3 WHERE id = $1")
        .bind(id)
        .bind(at)
        .bind(detail)
        .execute(conn)
        .await?;
    Ok(())
}

/// An unconfirmed event due for confirmation.
#[derive(Clone, Debug)]
pub struct Unconfirmed {
    pub id: String,
    pub provider: String,
    pub resource_id: Option<String>,
    pub amount: Option<i64>,
    pub attempts: i64,
}

/// Unconfirmed events due now.
pub async fn due_unconfirmed(
    db: &Db,
    now: i64,
    limit: i64,
) -> Result<Vec<Unconfirmed>, StoreError> {
    let rows = sqlx::query("SELECT id, provider, resource_id, amount, attempts FROM provider_events WHERE state = 'unconfirmed' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2")
        .bind(now)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Unconfirmed {
                id: row.try_get("id")?,
                provider: row.try_get("provider")?,
                resource_id: row.try_get("resource_id")?,
                amount: row.try_get("amount")?,
                attempts: row.try_get("attempts")?,
            })
        })
        .collect()
}

/// How many provider events exist for a resource (tests and operators).
pub async fn count_for_resource(db: &Db, resource_id: &str) -> Result<i64, StoreError> {
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM provider_events WHERE resource_id = $1")
        .bind(resource_id)
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

/// The amount stored with a provider event, when that event was stored (`Some(None)`: it
/// was, without an amount); `None` when it never was.
pub async fn amount_of(
    conn: &mut AnyConnection,
    provider: &str,
    provider_event_id: &str,
) -> Result<Option<Option<i64>>, StoreError> {
    let row = sqlx::query(
        "SELECT amount FROM provider_events WHERE provider = $1 AND provider_event_id = $2",
    )
    .bind(provider)
    .bind(provider_event_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.try_get("amount").map_err(StoreError::from))
        .transpose()
}
