//! Messages. A message's status only moves forward (`rank`): a late `delivered` after
//! `read` changes nothing, and `failed` is final; the conditional update decides, so
//! concurrent or out-of-order status webhooks cannot move a message backwards.

use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, StoreError};

/// Message statuses as stored, with their rank.
pub mod status {
    /// Stored; the provider call is in flight.
    pub const QUEUED: (&str, i64) = ("queued", 0);
    /// The provider's answer was lost: it may or may not have been sent (never resent).
    pub const SEND_UNKNOWN: (&str, i64) = ("send_unknown", 1);
    /// Accepted by the provider.
    pub const SENT: (&str, i64) = ("sent", 2);
    /// Reached the device.
    pub const DELIVERED: (&str, i64) = ("delivered", 3);
    /// Read.
    pub const READ: (&str, i64) = ("read", 4);
    /// Not delivered; final.
    pub const FAILED: (&str, i64) = ("failed", 5);
}

const COLUMNS: &str = "id, client_id, reference, provider, recipient, template, language, status, rank, provider_reference, error, params, attempts, next_attempt_at, version, created_at, updated_at";

/// A stored message.
#[derive(Clone, Debug)]
pub struct MessageRow {
    pub id: String,
    pub client_id: String,
    pub reference: String,
    pub provider: Option<String>,
    /// Personal data: returned to the owning client only, never logged.
    pub recipient: String,
    pub template: String,
    pub language: String,
    pub status: String,
    pub rank: i64,
    pub provider_reference: Option<String>,
    pub error: Option<String>,
    /// Template parameters (personal data: never logged).
    pub params: Vec<String>,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl MessageRow {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(MessageRow {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            reference: row.try_get("reference")?,
            provider: row.try_get("provider")?,
            recipient: row.try_get("recipient")?,
            template: row.try_get("template")?,
            language: row.try_get("language")?,
            status: row.try_get("status")?,
            rank: row.try_get("rank")?,
            provider_reference: row.try_get("provider_reference")?,
            error: row.try_get("error")?,
            params: serde_json::from_str(&row.try_get::<String, _>("params")?)
                .map_err(|e| StoreError::Corrupt(format!("params: {e}")))?,
            attempts: row.try_get("attempts")?,
            next_attempt_at: row.try_get("next_attempt_at")?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// Reads one message of `client_id`.
pub async fn get(db: &Db, client_id: &str, id: &str) -> Result<Option<MessageRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE id = $1 AND client_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(client_id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(MessageRow::from_row).transpose()
}

/// The message a provider's status names.
pub async fn find_for_provider(
    conn: &mut AnyConnection,
    provider: &str,
    provider_reference: &str,
) -> Result<Option<MessageRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM messages WHERE provider = $1 AND provider_reference = $2 LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(provider)
        .bind(provider_reference)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(MessageRow::from_row).transpose()
}

/// The id of the client's message with `reference`, if any.
pub async fn id_by_reference(
    conn: &mut AnyConnection,
    client_id: &str,
    reference: &str,
) -> Result<Option<String>, StoreError> {
    let id = sqlx::query_scalar("SELECT id FROM messages WHERE client_id = $1 AND reference = $2")
        .bind(client_id)
        .bind(reference)
        .fetch_optional(conn)
        .await?;
    Ok(id)
}

/// Inserts a new message in `queued`. Returns `false` when the reference is taken.
pub async fn insert(conn: &mut AnyConnection, m: &MessageRow) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO messages ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (client_id, reference) DO NOTHING"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&m.id)
        .bind(&m.client_id)
        .bind(&m.reference)
        .bind(&m.provider)
        .bind(&m.recipient)
        .bind(&m.template)
        .bind(&m.language)
        .bind(&m.status)
        .bind(m.rank)
        .bind(&m.provider_reference)
        .bind(&m.error)
        .bind(serde_json::to_string(&m.params).map_err(|e| StoreError::Corrupt(e.to_string()))?)
        .bind(m.attempts)
        .bind(m.next_attempt_at)
        .bind(m.version)
        .bind(m.created_at)
        .bind(m.updated_at)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves a message forward to `to` (never back, never out of `failed`), recording the
/// provider's id and an error when given. Returns the new row if it moved.
pub async fn advance(
    conn: &mut AnyConnection,
    id: &str,
    to: (&str, i64),
    provider: Option<&str>,
    provider_reference: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> Result<Option<MessageRow>, StoreError> {
    let sql = format!(
        "UPDATE messages SET status = $2, rank = $3, provider = COALESCE($4, provider), provider_reference = COALESCE($5, provider_reference), error = COALESCE($6, error), next_attempt_at = NULL, version = version + 1, updated_at = $7 WHERE id = $1 AND rank < $3 AND status <> 'failed' RETURNING {COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(to.0)
        .bind(to.1)
        .bind(provider)
        .bind(provider_reference)
        .bind(error)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(MessageRow::from_row).transpose()
}

/// Deletes a message no provider accepted, so its reference can be used again.
pub async fn delete_unsent(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM messages WHERE id = $1 AND status = 'queued'")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Keeps a throttled message queued at `provider`, to be sent again at `at`.
pub async fn retry_at(
    conn: &mut AnyConnection,
    id: &str,
    provider: &str,
    at: i64,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE messages SET provider = $2, attempts = attempts + 1, next_attempt_at = $3, updated_at = $4 WHERE id = $1 AND status = 'queued'")
        .bind(id)
        .bind(provider)
        .bind(at)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Queued messages due for another send.
pub async fn due(db: &Db, now: i64, limit: i64) -> Result<Vec<String>, StoreError> {
    let ids = sqlx::query_scalar("SELECT id FROM messages WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $1 AND status = 'queued' ORDER BY next_attempt_at LIMIT $2")
        .bind(now)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    Ok(ids)
}

/// Reads one message whatever its owner (workers only).
pub async fn get_unscoped(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<MessageRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(MessageRow::from_row).transpose()
}
