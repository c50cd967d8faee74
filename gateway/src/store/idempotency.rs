//! Idempotency keys, scoped per client: `(client_id, key)` is the primary key, so one
//! product can never replay another's response.

use sqlx::AnyConnection;
use sqlx::Row;

use super::{Db, StoreError};

/// What claiming a key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// New key (or an expired / abandoned one taken over): run the request.
    Claimed,
    /// Same key, same body, finished: replay this response.
    Replay { status: u16, body: String },
    /// Same key, different body.
    Mismatch,
    /// Same key, the first request is still running.
    InProgress,
}

/// Claims `key` for a request whose body hashes to `hash`.
///
/// `expired_before`: records created before this are gone (24 h retention).
/// `abandoned_before`: an `in_progress` record this old belongs to a crashed request and is
/// taken over (the business reference still guards against a second resource).
pub async fn claim(
    conn: &mut AnyConnection,
    client_id: &str,
    key: &str,
    hash: &str,
    now: i64,
    expired_before: i64,
    abandoned_before: i64,
) -> Result<Claim, StoreError> {
    let inserted = sqlx::query("INSERT INTO idempotency_keys (client_id, idem_key, request_hash, state, created_at) VALUES ($1, $2, $3, 'in_progress', $4) ON CONFLICT (client_id, idem_key) DO NOTHING")
        .bind(client_id)
        .bind(key)
        .bind(hash)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::Claimed);
    }
    let row = sqlx::query("SELECT request_hash, state, status_code, response_body, created_at FROM idempotency_keys WHERE client_id = $1 AND idem_key = $2")
        .bind(client_id)
        .bind(key)
        .fetch_one(&mut *conn)
        .await?;
    let stored_hash: String = row.try_get("request_hash")?;
    let state: String = row.try_get("state")?;
    let created_at: i64 = row.try_get("created_at")?;
    let abandoned = state == "in_progress" && created_at < abandoned_before;
    if created_at < expired_before || abandoned {
        take_over(conn, client_id, key, hash, now).await?;
        return Ok(Claim::Claimed);
    }
    if stored_hash != hash {
        return Ok(Claim::Mismatch);
    }
    if state == "in_progress" {
        return Ok(Claim::InProgress);
    }
    let status: Option<i64> = row.try_get("status_code")?;
    let body: Option<String> = row.try_get("response_body")?;
    Ok(Claim::Replay {
        status: status.and_then(|s| u16::try_from(s).ok()).unwrap_or(500),
        body: body.unwrap_or_default(),
    })
}

async fn take_over(
    conn: &mut AnyConnection,
    client_id: &str,
    key: &str,
    hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE idempotency_keys SET request_hash = $3, state = 'in_progress', status_code = NULL, response_body = NULL, created_at = $4 WHERE client_id = $1 AND idem_key = $2")
        .bind(client_id)
        .bind(key)
        .bind(hash)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores the final response of a claimed key.
pub async fn complete(
    conn: &mut AnyConnection,
    client_id: &str,
    key: &str,
    status: u16,
    body: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE idempotency_keys SET state = 'done', status_code = $3, response_body = $4 WHERE client_id = $1 AND idem_key = $2")
        .bind(client_id)
        .bind(key)
        .bind(i64::from(status))
        .bind(body)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets a claimed key (responses that are not stored: validation errors, 429).
pub async fn release(
    conn: &mut AnyConnection,
    client_id: &str,
    key: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE client_id = $1 AND idem_key = $2 AND state = 'in_progress'")
        .bind(client_id)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes records created before `before`.
pub async fn purge(db: &Db, before: i64) -> Result<u64, StoreError> {
    let done = db
        .write(move |conn| {
            Box::pin(async move {
                let r = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                    .bind(before)
                    .execute(conn)
                    .await?;
                Ok(r.rows_affected())
            })
        })
        .await?;
    Ok(done)
}
