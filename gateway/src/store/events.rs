//! Events to products (the outbox). An event row is written in the same transaction as the
//! state change it announces; the dispatcher claims due rows with a lease, delivers them and
//! records every attempt.

use serde_json::{Value, json};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Db, StoreError, from_ms, new_id};

/// Delivery states.
pub mod delivery {
    /// Waiting for (re)delivery.
    pub const PENDING: &str = "pending";
    /// A 2xx was received.
    pub const DELIVERED: &str = "delivered";
    /// Retries exhausted: dead-lettered, replayable on request.
    pub const FAILED: &str = "failed";
}

/// A stored event.
#[derive(Clone, Debug)]
pub struct EventRow {
    pub id: String,
    pub client_id: String,
    pub event_type: String,
    pub resource_id: String,
    pub body: String,
    pub created_at: i64,
    pub delivery_state: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
}

impl EventRow {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(EventRow {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            event_type: row.try_get("type")?,
            resource_id: row.try_get("resource_id")?,
            body: row.try_get("body")?,
            created_at: row.try_get("created_at")?,
            delivery_state: row.try_get("delivery_state")?,
            attempts: row.try_get("attempts")?,
            next_attempt_at: row.try_get("next_attempt_at")?,
            delivered_at: row.try_get("delivered_at")?,
            last_error: row.try_get("last_error")?,
        })
    }
}

/// Enqueues an event for `client_id`: `{"id","type","created_at","data"}`. Returns its id.
pub async fn enqueue(
    conn: &mut AnyConnection,
    client_id: &str,
    event_type: &str,
    resource_id: &str,
    data: Value,
    now: i64,
) -> Result<String, StoreError> {
    let id = new_id("evt");
    let created = from_ms(now)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let body =
        json!({"id": id, "type": event_type, "created_at": created, "data": data}).to_string();
    sqlx::query("INSERT INTO events (id, client_id, type, resource_id, body, created_at, delivery_state, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $6)")
        .bind(&id)
        .bind(client_id)
        .bind(event_type)
        .bind(resource_id)
        .bind(body)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(id)
}

/// Claims up to `limit` due events for delivery, leasing them until `lease_until` so no
/// other dispatcher (or instance) sends them meanwhile.
pub async fn claim_due(
    conn: &mut AnyConnection,
    backend: Backend,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    let sql = match backend {
        Backend::Postgres => {
            "UPDATE events SET lease_until = $2 WHERE id IN (SELECT id FROM events WHERE delivery_state = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id, client_id, type, resource_id, body, created_at, delivery_state, attempts, next_attempt_at, delivered_at, last_error"
        }
        Backend::Sqlite => {
            "UPDATE events SET lease_until = $2 WHERE id IN (SELECT id FROM events WHERE delivery_state = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_attempt_at LIMIT $3) RETURNING id, client_id, type, resource_id, body, created_at, delivery_state, attempts, next_attempt_at, delivered_at, last_error"
        }
    };
    let rows = sqlx::query(sql)
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(EventRow::from_row).collect()
}

/// One delivery attempt, as recorded.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub event_id: String,
    pub client_id: String,
    pub attempt: i64,
    pub started_at: i64,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub url: String,
}

/// What follows an attempt.
#[derive(Clone, Copy, Debug)]
pub enum After {
    /// Delivered.
    Delivered,
    /// Try again at this time.
    RetryAt(i64),
    /// Give up: dead-letter.
    DeadLetter,
}

/// Records an attempt and the event's next state, in one transaction.
pub async fn record_attempt(
    conn: &mut AnyConnection,
    attempt: &Attempt,
    after: After,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO delivery_attempts (id, event_id, client_id, attempt, started_at, duration_ms, status_code, error, url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(new_id("att"))
        .bind(&attempt.event_id)
        .bind(&attempt.client_id)
        .bind(attempt.attempt)
        .bind(attempt.started_at)
        .bind(attempt.duration_ms)
        .bind(attempt.status_code)
        .bind(&attempt.error)
        .bind(&attempt.url)
        .execute(&mut *conn)
        .await?;
    let (state, next, delivered): (&str, Option<i64>, Option<i64>) = match after {
        After::Delivered => (delivery::DELIVERED, None, Some(now)),
        After::RetryAt(at) => (delivery::PENDING, Some(at), None),
        After::DeadLetter => (delivery::FAILED, None, None),
    };
    sqlx::query("UPDATE events SET delivery_state = $2, attempts = $3, next_attempt_at = $4, delivered_at = COALESCE($5, delivered_at), lease_until = NULL, last_error = $6 WHERE id = $1")
        .bind(&attempt.event_id)
        .bind(state)
        .bind(attempt.attempt)
        .bind(next)
        .bind(delivered)
        .bind(&attempt.error)
        .execute(conn)
        .await?;
    Ok(())
}

/// Puts an event of `client_id` back in the queue now. Returns `false` if it is unknown.
pub async fn redeliver(
    conn: &mut AnyConnection,
    client_id: &str,
    id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE events SET delivery_state = 'pending', next_attempt_at = $3, lease_until = NULL WHERE id = $1 AND client_id = $2")
        .bind(id)
        .bind(client_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Events of `client_id` after the cursor `after` (an event id), oldest first.
pub async fn list(
    db: &Db,
    client_id: &str,
    after: Option<&str>,
    event_type: Option<&str>,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    let rows = sqlx::query("SELECT id, client_id, type, resource_id, body, created_at, delivery_state, attempts, next_attempt_at, delivered_at, last_error FROM events WHERE client_id = $1 AND id > $2 AND ($3 = '' OR type = $3) ORDER BY id LIMIT $4")
        .bind(client_id)
        .bind(after.unwrap_or(""))
        .bind(event_type.unwrap_or(""))
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(EventRow::from_row).collect()
}

/// One event of `client_id`.
pub async fn get(db: &Db, client_id: &str, id: &str) -> Result<Option<EventRow>, StoreError> {
    let row = sqlx::query("SELECT id, client_id, type, resource_id, body, created_at, delivery_state, attempts, next_attempt_at, delivered_at, last_error FROM events WHERE client_id = $1 AND id = $2")
        .bind(client_id)
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(EventRow::from_row).transpose()
}

/// The attempts of one event, in order.
pub async fn attempts(
    db: &Db,
    client_id: &str,
    event_id: &str,
) -> Result<Vec<Attempt>, StoreError> {
    let rows = sqlx::query("SELECT event_id, client_id, attempt, started_at, duration_ms, status_code, error, url FROM delivery_attempts WHERE client_id = $1 AND event_id = $2 ORDER BY attempt, started_at")
        .bind(client_id)
        .bind(event_id)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Attempt {
                event_id: row.try_get("event_id")?,
                client_id: row.try_get("client_id")?,
                attempt: row.try_get("attempt")?,
                started_at: row.try_get("started_at")?,
                duration_ms: row.try_get("duration_ms")?,
                status_code: row.try_get("status_code")?,
                error: row.try_get("error")?,
                url: row.try_get("url")?,
            })
        })
        .collect()
}

/// Outbox backlog: how many events wait, and the age of the oldest (ms).
pub async fn backlog(db: &Db, now: i64) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM events WHERE delivery_state = 'pending'")
        .fetch_one(db.pool())
        .await?;
    let n: i64 = row.try_get("n")?;
    let oldest: Option<i64> = row.try_get("oldest")?;
    Ok((n, oldest.map(|o| now - o).unwrap_or(0)))
}
