//! A product's endpoint for the gateway's outbound events, verifying Standard Webhooks
//! signatures (API.md, "Events to products").
//!
//! Every event is recorded, verified or not. A request is verified when `webhook-id`,
//! `webhook-timestamp` (Unix seconds, within ±300 s of now by default) and
//! `webhook-signature` are present and one of the signature's space-separated `v1,<base64>`
//! entries equals `base64(HMAC-SHA256(key, id "." timestamp "." body))` for one of the
//! configured secrets (`whsec_<base64 key>`; comparison in constant time). Verified events
//! get `200`, unverified ones `401` (as a product using a Standard Webhooks library would
//! answer), and while [`WebhookReceiver::set_down`] is on every request gets `503` and is
//! only counted.

use std::collections::BTreeSet;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::server::{self, Running};

type HmacSha256 = Hmac<Sha256>;

/// Default accepted distance between `webhook-timestamp` and now.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// One request the receiver got (while up).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Received {
    /// `webhook-id` (or the body's `id` when the header is missing).
    pub id: String,
    /// The body's `type`, e.g. `virtual_account.paid`.
    pub event_type: String,
    /// The body as JSON (`null` if it was not JSON).
    pub body: Value,
    /// Whether the signature checked out.
    pub verified: bool,
    /// Why verification failed.
    pub failure: Option<String>,
    /// The request path.
    pub path: String,
    /// When it arrived.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A secret that is not `whsec_` + Base64.
#[derive(Debug, thiserror::Error)]
#[error("webhook secret number {index} is not whsec_ followed by base64")]
pub struct InvalidSecret {
    /// Position of the secret in the list given.
    pub index: usize,
}

/// A recording, verifying Standard Webhooks endpoint. Clones share state.
#[derive(Clone)]
pub struct WebhookReceiver {
    inner: Arc<Inner>,
}

struct Inner {
    keys: Vec<Vec<u8>>,
    tolerance_secs: i64,
    echo: AtomicBool,
    down: AtomicBool,
    log: Mutex<Log>,
    arrived: Notify,
}

#[derive(Default)]
struct Log {
    received: Vec<Received>,
    attempts: usize,
    refused_while_down: usize,
}

impl std::fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("keys", &self.inner.keys.len())
            .field("tolerance_secs", &self.inner.tolerance_secs)
            .finish_non_exhaustive()
    }
}

impl WebhookReceiver {
    /// A receiver accepting signatures by any of `secrets` (`whsec_<base64>`; a bare
    /// Base64 key is accepted too). A secret that does not decode is logged (not its
    /// value) and matches nothing; use [`Self::try_new`] to refuse it instead.
    pub fn new(secrets: Vec<String>) -> Self {
        let keys = secrets
            .iter()
            .enumerate()
            .filter_map(|(index, secret)| {
                let key = decode_secret(secret);
                if key.is_none() {
                    tracing::warn!(index, "webhook secret is not base64; it will match nothing");
                }
                key
            })
            .collect();
        Self::with_keys(keys)
    }

    /// Like [`Self::new`], but fails on a secret that does not decode.
    pub fn try_new(secrets: Vec<String>) -> Result<Self, InvalidSecret> {
        let keys = secrets
            .iter()
            .enumerate()
            .map(|(index, secret)| decode_secret(secret).ok_or(InvalidSecret { index }))
            .collect::<Result<_, _>>()?;
        Ok(Self::with_keys(keys))
    }

    fn with_keys(keys: Vec<Vec<u8>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys,
                tolerance_secs: DEFAULT_TOLERANCE_SECS,
                echo: AtomicBool::new(false),
                down: AtomicBool::new(false),
                log: Mutex::new(Log::default()),
                arrived: Notify::new(),
            }),
        }
    }

    /// Prints every event (id, type, verification, pretty body) to stdout, for the
    /// sandbox's `--webhook-echo`.
    pub fn with_echo(self, echo: bool) -> Self {
        self.set_echo(echo);
        self
    }

    /// Turns printing on or off.
    pub fn set_echo(&self, echo: bool) {
        self.inner.echo.store(echo, Ordering::Relaxed);
    }

    /// `POST` on `/` and on any other path.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", post(receive))
            .route("/{*path}", post(receive))
            .with_state(self.clone())
    }

    /// Serves [`Self::router`] on `addr`.
    pub async fn spawn(&self, addr: SocketAddr) -> io::Result<Running> {
        server::spawn(self.router(), addr).await
    }

    /// While `down`, every request is answered `503` and only counted.
    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::Relaxed);
    }

    /// Every request received while up, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.log().received.clone()
    }

    /// The distinct `webhook-id`s received.
    pub fn unique_ids(&self) -> BTreeSet<String> {
        self.log().received.iter().map(|r| r.id.clone()).collect()
    }

    /// Every request, up or down.
    pub fn attempts(&self) -> usize {
        self.log().attempts
    }

    /// Requests answered `503` because the receiver was down.
    pub fn refused_while_down(&self) -> usize {
        self.log().refused_while_down
    }

    /// Forgets everything received.
    pub fn clear(&self) {
        *self.log() = Log::default();
    }

    /// Waits until at least `count` requests were received (while up) or `timeout`
    /// passes; returns what was received.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Created before the check, so an arrival in between still wakes it.
            let arrived = self.inner.arrived.notified();
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.received();
            }
        }
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        self.inner
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), String> {
        let id = header(headers, "webhook-id")?;
        let timestamp = header(headers, "webhook-timestamp")?;
        let signatures = header(headers, "webhook-signature")?;
        let sent: i64 = timestamp
            .parse()
            .map_err(|_| "webhook-timestamp is not Unix seconds".to_owned())?;
        if sent.abs_diff(now) > self.inner.tolerance_secs.unsigned_abs() {
            return Err(format!(
                "webhook-timestamp {sent} is too far from now ({now})"
            ));
        }
        let matches = self.inner.keys.iter().any(|key| {
            let expected = hmac(key, id, timestamp, body);
            signatures
                .split(' ')
                .any(|entry| signature_matches(entry, &expected))
        });
        if matches {
            Ok(())
        } else {
            Err("no v1 signature matches".to_owned())
        }
    }

    fn record(&self, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> bool {
        let now = OffsetDateTime::now_utc();
        let verification = self.verify(headers, body, now.unix_timestamp());
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        let id = header(headers, "webhook-id").map_or_else(|_| text(&json["id"]), str::to_owned);
        let received = Received {
            id,
            event_type: text(&json["type"]),
            verified: verification.is_ok(),
            failure: verification.err(),
            path: uri.path().to_owned(),
            body: json,
            at: now,
        };
        if self.inner.echo.load(Ordering::Relaxed) {
            echo(&received);
        }
        let verified = received.verified;
        self.log().received.push(received);
        self.inner.arrived.notify_waiters();
        verified
    }
}

async fn receive(
    State(receiver): State<WebhookReceiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    {
        let mut log = receiver.log();
        log.attempts += 1;
        if receiver.inner.down.load(Ordering::Relaxed) {
            log.refused_while_down += 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "receiver is down").into_response();
        }
    }
    if receiver.record(&uri, &headers, &body) {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "invalid signature").into_response()
    }
}

/// `v1,<base64>` for the HMAC of `id.timestamp.body` under `secret` (`whsec_<base64>`), as
/// a sender puts it in `webhook-signature`. `None` if the secret does not decode. Meant
/// for tests.
pub fn sign(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> Option<String> {
    let key = decode_secret(secret)?;
    Some(format!(
        "v1,{}",
        STANDARD.encode(hmac(&key, id, timestamp, body))
    ))
}

fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD.decode(encoded).ok().filter(|key| !key.is_empty())
}

fn hmac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn signature_matches(entry: &str, expected: &[u8]) -> bool {
    let Some(encoded) = entry.strip_prefix("v1,") else {
        return false;
    };
    match STANDARD.decode(encoded) {
        Ok(given) => !expected.is_empty() && bool::from(given.ct_eq(expected)),
        Err(_) => false,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| format!("{name} header missing"))
}

fn echo(received: &Received) {
    let verdict = match &received.failure {
        None => "verified".to_owned(),
        Some(reason) => format!("NOT verified: {reason}"),
    };
    let body = serde_json::to_string_pretty(&received.body).unwrap_or_default();
    println!(
        "webhook {} {} ({verdict})\n{body}",
        received.id, received.event_type
    );
}

#[cfg(test)]
mod tests;
