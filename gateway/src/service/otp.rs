//! One-time passwords over WhatsApp. The policy is the gateway's (RELIABILITY.md §7.5); the
//! adapter only delivers.
//!
//! - A code is 6 digits derived from a random seed (CSPRNG) and the OTP key:
//!   `HMAC-SHA256(key, "otp-code" ‖ seed)` → 6 digits. The code is never stored; the seed
//!   and a keyed hash of the code are, so a resend repeats the same code and a copy of the
//!   database without the key reveals none.
//! - A code is valid `ttl_secs`, checked at most `max_attempts` times, used once; a check
//!   compares keyed hashes in constant time under the OTP's row lock, so two concurrent
//!   checks of one OTP cannot both succeed.
//! - A resend waits `resend_after_secs`; sends to one recipient are capped per window and
//!   sends of one client per hour. Answers never say whether a number has WhatsApp.
//! - Codes and phone numbers never reach logs.

use std::time::Instant;

use axum::http::StatusCode;
use contracts::messaging::OtpMessage;
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{AnyConnection, Row};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::auth::mac;
use crate::http::ApiError;
use crate::service::fields::{field, rfc3339};
use crate::service::va::provider_error;
use crate::store::calls::{self, Call};
use crate::store::{StoreError, new_id, now_ms};

/// A new OTP request.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOtp {
    /// E.164 (Indonesian numbers: `+62…`).
    pub recipient: String,
    /// A purpose configured in `otp.purposes` (`login`, …).
    pub purpose: String,
    /// `whatsapp`.
    pub channel: String,
}

/// An OTP as products see it: never the code.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Otp {
    /// `otp_…`
    pub id: String,
    /// RFC 3339: the code stops working then.
    pub expires_at: String,
    /// RFC 3339: the earliest resend.
    pub resend_after: String,
}

/// A code to check.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpCheck {
    /// The 6 digits the user typed.
    pub code: String,
}

fn key(state: &AppState) -> Result<Vec<u8>, ApiError> {
    state
        .settings()
        .otp
        .key
        .as_ref()
        .map(|k| k.expose_secret().as_bytes().to_vec())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "otp_not_configured",
                "OTP not configured",
                "this gateway has no OTP key",
            )
        })
}

/// The code a seed stands for.
fn code_of(key: &[u8], seed: &str) -> String {
    let digest = mac(key, &[b"otp-code", seed.as_bytes()]);
    let mut n = [0u8; 8];
    n.copy_from_slice(&digest[..8]);
    format!("{:06}", u64::from_be_bytes(n) % 1_000_000)
}

/// The stored check value of `code` for OTP `id`.
fn code_hash(key: &[u8], id: &str, code: &str) -> String {
    hex::encode(mac(
        key,
        &[b"otp-check", id.as_bytes(), b":", code.as_bytes()],
    ))
}

fn too_many(detail: &str, retry_after: u64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "Too many codes",
        detail.to_owned(),
    )
    .with_retry_after(retry_after)
}

/// Starts an OTP and sends its code.
pub async fn create(state: &AppState, client_id: &str, req: NewOtp) -> Result<Otp, ApiError> {
    let key = key(state)?;
    let settings = &state.settings().otp;
    let mut errors = Vec::new();
    let digits = req.recipient.strip_prefix('+').unwrap_or(&req.recipient);
    if digits.len() < 8 || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(field("recipient", "must be an E.164 number"));
    } else if !settings
        .allowed_country_codes
        .iter()
        .any(|cc| digits.starts_with(cc.as_str()))
    {
        errors.push(field(
            "recipient",
            "codes go only to numbers of the allowed countries",
        ));
    }
    let purpose = settings.purposes.get(&req.purpose);
    if purpose.is_none() {
        errors.push(field("purpose", "is not a configured purpose"));
    }
    if req.channel != "whatsapp" {
        errors.push(field("channel", "must be whatsapp"));
    }
    let Some(purpose) = purpose.filter(|_| errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let recipient = digits.to_owned();
    let provider = state
        .client(client_id)
        .and_then(|c| c.config.routes.messages.first().cloned())
        .filter(|p| state.registry().messaging(p).is_some())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_route",
                "No route",
                "no provider instance is configured for this client's messages",
            )
        })?;
    let now = now_ms();
    let mut seed = [0u8; 16];
    rand::rng().fill_bytes(&mut seed);
    let seed = hex::encode(seed);
    let id = new_id("otp");
    let code = code_of(&key, &seed);
    let hash = code_hash(&key, &id, &code);
    let (ttl, max_attempts, cooldown) = purpose.limits(settings);
    let expires_at = now + ttl * 1000;
    let resend_after = now + cooldown * 1000;
    let max_failures = settings.max_failures_per_recipient_day;
    let (window, per_recipient, per_client) = (
        settings.send_window_secs * 1000,
        settings.max_sends_per_recipient,
        settings.max_sends_per_client_hour,
    );
    let row = (
        id.clone(),
        client_id.to_owned(),
        req.purpose.clone(),
        recipient.clone(),
        seed,
        hash,
        max_attempts,
    );
    let allowed = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                if let Some(refusal) =
                    caps(conn, &row.1, &row.3, now, window, per_recipient, per_client).await?
                {
                    return Ok(Some(refusal));
                }
                if failures_today(conn, &row.3, now).await? >= max_failures {
                    return Ok(Some(too_many(
                        "too many wrong codes for this number today; try again tomorrow",
                        86_400,
                    )));
                }
                sqlx::query("INSERT INTO otps (id, client_id, purpose, recipient, seed, code_hash, attempts, max_attempts, status, expires_at, resend_after, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, 'pending', $8, $9, $10, $10)")
                    .bind(&row.0)
                    .bind(&row.1)
                    .bind(&row.2)
                    .bind(&row.3)
                    .bind(&row.4)
                    .bind(&row.5)
                    .bind(row.6)
                    .bind(expires_at)
                    .bind(resend_after)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                record_send(conn, &row.0, &row.1, &row.3, now).await?;
                Ok(None)
            })
        })
        .await?;
    if let Some(refusal) = allowed {
        return Err(refusal);
    }
    deliver(state, client_id, &provider, &id, &recipient, purpose, code).await?;
    Ok(Otp {
        id,
        expires_at: rfc3339(expires_at),
        resend_after: rfc3339(resend_after),
    })
}

/// The caps a new send must stay within; `Some` is the refusal.
async fn caps(
    conn: &mut AnyConnection,
    client_id: &str,
    recipient: &str,
    now: i64,
    window: i64,
    per_recipient: i64,
    per_client: i64,
) -> Result<Option<ApiError>, StoreError> {
    let to_recipient: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM otp_sends WHERE recipient = $1 AND sent_at > $2")
            .bind(recipient)
            .bind(now - window)
            .fetch_one(&mut *conn)
            .await?;
    if to_recipient >= per_recipient {
        return Ok(Some(too_many(
            "too many codes were sent to this number recently; try again later",
            u64::try_from(window / 1000).unwrap_or(600),
        )));
    }
    let by_client: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM otp_sends WHERE client_id = $1 AND sent_at > $2")
            .bind(client_id)
            .bind(now - 3_600_000)
            .fetch_one(conn)
            .await?;
    if by_client >= per_client {
        tracing::error!(client = %client_id, "client reached its hourly OTP cap");
        return Ok(Some(too_many(
            "this client's hourly OTP cap is reached",
            3600,
        )));
    }
    Ok(None)
}

/// Wrong codes typed for `recipient` in the last day.
async fn failures_today(
    conn: &mut AnyConnection,
    recipient: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let failures: Option<i64> = sqlx::query_scalar("SELECT CAST(SUM(CASE WHEN status = 'verified' THEN attempts - 1 ELSE attempts END) AS BIGINT) FROM otps WHERE recipient = $1 AND created_at > $2")
        .bind(recipient)
        .bind(now - 86_400_000)
        .fetch_one(conn)
        .await?;
    Ok(failures.unwrap_or(0))
}

async fn record_send(
    conn: &mut AnyConnection,
    otp_id: &str,
    client_id: &str,
    recipient: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO otp_sends (otp_id, client_id, recipient, sent_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(otp_id)
    .bind(client_id)
    .bind(recipient)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sends the code once. A refusal by the provider is the product's error; an ambiguous
/// answer is not (the code may have arrived; the user can ask for a resend).
async fn deliver(
    state: &AppState,
    client_id: &str,
    provider: &str,
    id: &str,
    recipient: &str,
    purpose: &crate::config::OtpPurpose,
    code: String,
) -> Result<(), ApiError> {
    let Some(adapter) = state.registry().messaging(provider) else {
        return Err(ApiError::internal(&"messaging instance is not configured"));
    };
    let message = OtpMessage::new(
        recipient.to_owned(),
        purpose.template.clone(),
        purpose.language.clone(),
        code,
    );
    let started = Instant::now();
    let result = adapter.send_otp(&message).await;
    let call =
        Call::finished(Some(client_id), provider, "otp.send", started, &result).for_resource(id);
    let (otp_id, provider) = (id.to_owned(), provider.to_owned());
    state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, &[call]).await?;
                sqlx::query("UPDATE otps SET provider = $2 WHERE id = $1")
                    .bind(&otp_id)
                    .bind(&provider)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await?;
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.kind.is_ambiguous() => {
            tracing::warn!(otp = %id, "OTP send outcome unknown; a resend is the user's choice");
            Ok(())
        }
        // The provider refused this number or this message: answering so would tell the
        // caller whether the number has WhatsApp. The answer stays the same; operators see
        // the code.
        Err(e) if e.kind == contracts::ErrorKind::Rejected => {
            tracing::warn!(otp = %id, code = ?e.provider_code, "OTP not delivered: refused by the provider");
            Ok(())
        }
        Err(e) => Err(provider_error(e)),
    }
}

/// The stored state of an OTP, under its row lock.
struct Locked {
    client_id: String,
    purpose: String,
    recipient: String,
    seed: String,
    code_hash: String,
    attempts: i64,
    max_attempts: i64,
    status: String,
    expires_at: i64,
    resend_after: i64,
}

async fn lock(
    conn: &mut AnyConnection,
    client_id: &str,
    id: &str,
) -> Result<Option<Locked>, StoreError> {
    let row = sqlx::query("UPDATE otps SET updated_at = updated_at WHERE id = $1 AND client_id = $2 RETURNING client_id, purpose, recipient, seed, code_hash, attempts, max_attempts, status, expires_at, resend_after")
        .bind(id)
        .bind(client_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(Locked {
            client_id: r.try_get("client_id")?,
            purpose: r.try_get("purpose")?,
            recipient: r.try_get("recipient")?,
            seed: r.try_get("seed")?,
            code_hash: r.try_get("code_hash")?,
            attempts: r.try_get("attempts")?,
            max_attempts: r.try_get("max_attempts")?,
            status: r.try_get("status")?,
            expires_at: r.try_get("expires_at")?,
            resend_after: r.try_get("resend_after")?,
        })
    })
    .transpose()
}

fn expired() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "otp_expired",
        "Code expired",
        "this code expired or was used already; ask for a new one",
    )
}

fn locked_out() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        "Too many attempts",
        "too many wrong codes; ask for a new one",
    )
}

/// What a check found.
enum Checked {
    Verified,
    Wrong { attempts_left: i64 },
    Refused(ApiError),
}

/// Checks a code: constant-time, once, under the OTP's row lock.
pub async fn verify(
    state: &AppState,
    client_id: &str,
    id: &str,
    check: OtpCheck,
) -> Result<(), ApiError> {
    let key = key(state)?;
    let valid_shape = check.code.len() == 6 && check.code.bytes().all(|b| b.is_ascii_digit());
    let (client, id) = (client_id.to_owned(), id.to_owned());
    let checked = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                let now = now_ms();
                let Some(otp) = lock(conn, &client, &id).await? else {
                    return Ok(Checked::Refused(ApiError::not_found("otp")));
                };
                match otp.status.as_str() {
                    "pending" if otp.expires_at <= now => {
                        return Ok(Checked::Refused(expired()));
                    }
                    "pending" => {}
                    "locked" => return Ok(Checked::Refused(locked_out())),
                    _ => return Ok(Checked::Refused(expired())),
                }
                if otp.attempts >= otp.max_attempts {
                    return Ok(Checked::Refused(locked_out()));
                }
                let given = code_hash(&key, &id, &check.code);
                let right = valid_shape && bool::from(given.as_bytes().ct_eq(otp.code_hash.as_bytes()));
                if right {
                    sqlx::query("UPDATE otps SET status = 'verified', attempts = attempts + 1, updated_at = $2 WHERE id = $1 AND status = 'pending'")
                        .bind(&id)
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                    return Ok(Checked::Verified);
                }
                let attempts = otp.attempts + 1;
                let status = if attempts >= otp.max_attempts { "locked" } else { "pending" };
                sqlx::query("UPDATE otps SET attempts = $2, status = $3, updated_at = $4 WHERE id = $1")
                    .bind(&id)
                    .bind(attempts)
                    .bind(status)
                    .bind(now)
                    .execute(conn)
                    .await?;
                Ok(Checked::Wrong {
                    attempts_left: otp.max_attempts - attempts,
                })
            })
        })
        .await?;
    match checked {
        Checked::Verified => Ok(()),
        Checked::Wrong { attempts_left } => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_code",
            "Invalid code",
            "the code is not right",
        )
        .with_extra(json!({ "attempts_left": attempts_left }))),
        Checked::Refused(e) => Err(e),
    }
}

/// Sends the same code again, after the cooldown and within the caps.
pub async fn resend(state: &AppState, client_id: &str, id: &str) -> Result<Otp, ApiError> {
    let key = key(state)?;
    let settings = &state.settings().otp;
    let (window, per_recipient, per_client) = (
        settings.send_window_secs * 1000,
        settings.max_sends_per_recipient,
        settings.max_sends_per_client_hour,
    );
    let cooldowns: std::collections::BTreeMap<String, i64> = settings
        .purposes
        .iter()
        .map(|(name, p)| (name.clone(), p.limits(settings).2 * 1000))
        .collect();
    let (client, otp_id) = (client_id.to_owned(), id.to_owned());
    let outcome = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                let now = now_ms();
                let Some(otp) = lock(conn, &client, &otp_id).await? else {
                    return Ok(Err(ApiError::not_found("otp")));
                };
                if otp.status != "pending" || otp.expires_at <= now {
                    return Ok(Err(expired()));
                }
                if now < otp.resend_after {
                    let wait = u64::try_from((otp.resend_after - now + 999) / 1000).unwrap_or(1);
                    return Ok(Err(too_many("wait before asking for the code again", wait)));
                }
                if let Some(refusal) = caps(
                    conn,
                    &otp.client_id,
                    &otp.recipient,
                    now,
                    window,
                    per_recipient,
                    per_client,
                )
                .await?
                {
                    return Ok(Err(refusal));
                }
                let cooldown = cooldowns.get(&otp.purpose).copied().unwrap_or(60_000);
                let resend_after = now + cooldown;
                sqlx::query("UPDATE otps SET resend_after = $2, updated_at = $3 WHERE id = $1")
                    .bind(&otp_id)
                    .bind(resend_after)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                record_send(conn, &otp_id, &otp.client_id, &otp.recipient, now).await?;
                Ok(Ok((otp, resend_after)))
            })
        })
        .await?;
    let (otp, resend_after) = outcome?;
    let provider = state
        .client(client_id)
        .and_then(|c| c.config.routes.messages.first().cloned())
        .unwrap_or_default();
    let purpose = state
        .settings()
        .otp
        .purposes
        .get(&otp.purpose)
        .ok_or_else(|| ApiError::internal(&"OTP purpose no longer configured"))?;
    let code = code_of(&key, &otp.seed);
    deliver(
        state,
        client_id,
        &provider,
        id,
        &otp.recipient,
        purpose,
        code,
    )
    .await?;
    Ok(Otp {
        id: id.to_owned(),
        expires_at: rfc3339(otp.expires_at),
        resend_after: rfc3339(resend_after),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_follow_the_seed_and_key() {
        let key = b"0123456789abcdef0123456789abcdef";
        let a = code_of(key, "seed-a");
        assert_eq!(a.len(), 6);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(a, code_of(key, "seed-a"), "a resend repeats the code");
        let other_key = b"fedcba9876543210fedcba9876543210";
        let differing = (0..50)
            .filter(|n| code_of(key, &format!("s{n}")) != code_of(other_key, &format!("s{n}")))
            .count();
        assert!(differing >= 45, "the key decides the code");
        assert_ne!(code_hash(key, "otp_1", &a), code_hash(key, "otp_2", &a));
    }
}
