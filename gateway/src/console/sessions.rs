//! Console sessions: a random token in an HttpOnly cookie, only its SHA-256 stored; a
//! session is first `otp` (password checked, code sent) and then `active`; it ends after
//! the idle timeout, at the absolute expiry, or at logout (deleted server-side). Each
//! session has its own CSRF token, required in every form it posts.

use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::store::StoreError;

/// The session cookie.
pub const COOKIE: &str = "gw_console";

/// Session stages.
pub mod stage {
    /// The password was right; the WhatsApp code is awaited.
    pub const OTP: &str = "otp";
    /// Logged in.
    pub const ACTIVE: &str = "active";
}

/// A stored session.
#[derive(Clone, Debug)]
pub struct Session {
    pub token_hash: String,
    pub operator_id: String,
    pub stage: String,
    pub otp_id: Option<String>,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// A fresh random token (hex of 32 bytes).
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// What is stored for a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Starts a session at `stage`; returns the token for the cookie.
pub async fn start(
    conn: &mut AnyConnection,
    operator_id: &str,
    stage: &str,
    otp_id: Option<&str>,
    now: i64,
    expires_at: i64,
) -> Result<(String, Session), StoreError> {
    let token = random_token();
    let session = Session {
        token_hash: token_hash(&token),
        operator_id: operator_id.to_owned(),
        stage: stage.to_owned(),
        otp_id: otp_id.map(str::to_owned),
        csrf_token: random_token(),
        created_at: now,
        last_seen_at: now,
        expires_at,
    };
    sqlx::query("INSERT INTO console_sessions (token_hash, operator_id, stage, otp_id, csrf_token, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&session.token_hash)
        .bind(&session.operator_id)
        .bind(&session.stage)
        .bind(&session.otp_id)
        .bind(&session.csrf_token)
        .bind(session.created_at)
        .bind(session.last_seen_at)
        .bind(session.expires_at)
        .execute(conn)
        .await?;
    Ok((token, session))
}

/// The live session of `token` at `now` (touched: its idle clock restarts); an idle or
/// expired one is deleted and `None`.
pub async fn find(
    conn: &mut AnyConnection,
    token: &str,
    idle_ms: i64,
    now: i64,
) -> Result<Option<Session>, StoreError> {
    let hash = token_hash(token);
    let row = sqlx::query("SELECT token_hash, operator_id, stage, otp_id, csrf_token, created_at, last_seen_at, expires_at FROM console_sessions WHERE token_hash = $1")
        .bind(&hash)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let session = Session {
        token_hash: row.try_get("token_hash")?,
        operator_id: row.try_get("operator_id")?,
        stage: row.try_get("stage")?,
        otp_id: row.try_get("otp_id")?,
        csrf_token: row.try_get("csrf_token")?,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        expires_at: row.try_get("expires_at")?,
    };
    if session.expires_at <= now || session.last_seen_at + idle_ms <= now {
        end(conn, &hash).await?;
        return Ok(None);
    }
    sqlx::query("UPDATE console_sessions SET last_seen_at = $2 WHERE token_hash = $1")
        .bind(&hash)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(Some(session))
}

/// Ends a session (by its stored hash).
pub async fn end(conn: &mut AnyConnection, token_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends an operator's half-finished logins (a new password step replaces them).
pub async fn end_pending(conn: &mut AnyConnection, operator_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM console_sessions WHERE operator_id = $1 AND stage = 'otp'")
        .bind(operator_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes every session past its absolute expiry or idle for `idle_ms` (the scheduler's
/// sweep: a session nobody presents again is not found, so not ended, by [`find`]).
pub async fn purge(db: &crate::store::Db, idle_ms: i64, now: i64) -> Result<u64, StoreError> {
    let done =
        sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(now)
            .bind(now - idle_ms)
            .execute(db.pool())
            .await?;
    Ok(done.rows_affected())
}
