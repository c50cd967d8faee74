//! The outbound side: we call a SNAP provider with a cached B2B token (B.2, B.3).

use std::time::Duration;

use contracts::{ErrorKind, ProviderError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::Mutex;
use tokio::time::{Instant, timeout_at};
use url::Url;

use crate::code::{ResponseCode, error_kind};
use crate::codec::{TimestampStyle, body_hash, external_id, format_timestamp};
use crate::error::ConfigError;
use crate::sign::{RsaPrivateKey, hmac_sha512_b64, symmetric_string, token_string};

/// The most answer body we read.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// A token is renewed this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// The lifetime assumed when a token answer omits `expiresIn` (B.2: 900 s).
const DEFAULT_TOKEN_LIFETIME: u64 = 900;

/// How to reach one SNAP provider as one merchant.
#[derive(Clone)]
pub struct ClientConfig {
    /// The provider's base URL; may carry a path prefix (`https://host/apisnap`). Signed
    /// paths are the full path after the host.
    pub base_url: Url,
    /// The token path relative to `base_url`, e.g. `/v1.0/access-token/b2b`.
    pub token_path: String,
    /// `X-CLIENT-KEY` of the token call.
    pub client_key: String,
    /// `X-PARTNER-ID` of service calls.
    pub partner_id: String,
    /// The HMAC-SHA512 key of service signatures (its UTF-8 bytes).
    pub client_secret: SecretString,
    /// The merchant's RSA private key (PEM) that signs token requests.
    pub private_key_pem: SecretString,
    /// How `X-TIMESTAMP` is written.
    pub timestamp_style: TimestampStyle,
    /// The deadline of a whole call, token included.
    pub timeout: Duration,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url.as_str())
            .field("token_path", &self.token_path)
            .field("client_key", &self.client_key)
            .field("partner_id", &self.partner_id)
            .field("timestamp_style", &self.timestamp_style)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// One service call.
pub struct ServiceCall<'a> {
    /// HTTP method.
    pub method: reqwest::Method,
    /// Path relative to `base_url`, e.g. `/v1.0/transfer-va/create-va` (may carry a query).
    pub path: &'a str,
    /// The `CHANNEL-ID` header.
    pub channel_id: &'a str,
    /// The body, sent compact; the bytes signed are the bytes sent.
    pub body: &'a Value,
    /// Extra headers (e.g. `X-DEVICE-ID`).
    pub headers: &'a [(&'a str, String)],
}

impl std::fmt::Debug for ServiceCall<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCall")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("channel_id", &self.channel_id)
            .finish_non_exhaustive()
    }
}

/// A provider's answer that carries a readable `responseCode`, success or not.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The HTTP status of the answer.
    pub http_status: u16,
    /// The `responseCode`.
    pub code: ResponseCode,
    /// The `responseMessage` (empty when absent).
    pub message: String,
    /// The whole JSON body.
    pub body: Value,
}

struct CachedToken {
    value: SecretString,
    refresh_at: Instant,
}

/// Calls one SNAP provider: signs, sends, and keeps the B2B token. Debug is redacted.
pub struct SnapClient {
    config: ClientConfig,
    http: reqwest::Client,
    key: RsaPrivateKey,
    /// Held across a token fetch, so concurrent callers wait for one refresh.
    token: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for SnapClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapClient")
            .field("base_url", &self.config.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl SnapClient {
    /// Checks the configuration and parses the key. No I/O.
    pub fn new(config: ClientConfig, http: reqwest::Client) -> Result<SnapClient, ConfigError> {
        check_base_url(&config.base_url)?;
        if !config.token_path.starts_with('/') {
            return Err(ConfigError::Path("token_path"));
        }
        for (field, value) in [
            ("client_key", config.client_key.as_str()),
            ("partner_id", config.partner_id.as_str()),
            ("client_secret", config.client_secret.expose_secret()),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::Empty(field));
            }
        }
        if config.timeout.is_zero() {
            return Err(ConfigError::Duration("timeout"));
        }
        let key =
            RsaPrivateKey::from_pem(config.private_key_pem.expose_secret()).map_err(|source| {
                ConfigError::Key {
                    field: "private_key",
                    source,
                }
            })?;
        Ok(SnapClient {
            config,
            http,
            key,
            token: Mutex::new(None),
        })
    }

    /// Sends `call` with a valid token. `Ok` for every answer with a readable
    /// `responseCode`; a `401xx01` (invalid token) is answered by one new token and one
    /// resend, since the provider refused the call at the door.
    pub async fn call(&self, call: &ServiceCall<'_>) -> Result<Answer, ProviderError> {
        let deadline = Instant::now() + self.config.timeout;
        let body = call.body.to_string().into_bytes();
        let token = self.token(deadline).await?;
        let answer = self.send(call, &body, &token, deadline).await?;
        if answer.code.http != 401 || answer.code.case != 1 {
            return Ok(answer);
        }
        tracing::info!(path = call.path, "SNAP token refused; renewing once");
        self.forget(&token).await;
        let token = self.token(deadline).await?;
        self.send(call, &body, &token, deadline).await
    }

    /// Drops the cached token; the next call fetches a new one.
    pub async fn invalidate_token(&self) {
        *self.token.lock().await = None;
    }

    /// Drops the cached token if it is still `used` (another caller may have renewed it).
    async fn forget(&self, used: &SecretString) {
        let mut cached = self.token.lock().await;
        if cached
            .as_ref()
            .is_some_and(|t| t.value.expose_secret() == used.expose_secret())
        {
            *cached = None;
        }
    }

    /// The cached token, or a new one. Nothing was sent to the service yet, so running
    /// out of time here is `Unavailable`, not `Timeout`.
    async fn token(&self, deadline: Instant) -> Result<SecretString, ProviderError> {
        match timeout_at(deadline, self.cached_or_fetch()).await {
            Ok(result) => result,
            Err(_) => Err(ProviderError::new(
                ErrorKind::Unavailable,
                "SNAP token request timed out",
            )),
        }
    }

    async fn cached_or_fetch(&self) -> Result<SecretString, ProviderError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(token.value.clone());
        }
        let (value, lifetime) = self.fetch_token().await?;
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        *cached = Some(CachedToken {
            value: value.clone(),
            refresh_at: Instant::now() + lifetime - margin,
        });
        Ok(value)
    }

    async fn fetch_token(&self) -> Result<(SecretString, Duration), ProviderError> {
        let (url, _) = self.url(&self.config.token_path);
        let timestamp = format_timestamp(OffsetDateTime::now_utc(), self.config.timestamp_style);
        let signature = self
            .key
            .sign_b64(token_string(&self.config.client_key, &timestamp).as_bytes());
        let body = r#"{"grantType":"client_credentials","additionalInfo":{}}"#;
        let response = self
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .header("X-TIMESTAMP", &timestamp)
            .header("X-CLIENT-KEY", &self.config.client_key)
            .header("X-SIGNATURE", signature)
            .body(body)
            .send()
            .await
            .map_err(|err| token_transport_error(&err))?;
        let status = response.status().as_u16();
        let bytes = read_limited(response).await.map_err(|_| {
            ProviderError::new(ErrorKind::Unavailable, "SNAP token answer was cut off")
        })?;
        token_from_answer(status, &bytes)
    }

    async fn send(
        &self,
        call: &ServiceCall<'_>,
        body: &[u8],
        token: &SecretString,
        deadline: Instant,
    ) -> Result<Answer, ProviderError> {
        let (url, signed_path) = self.url(call.path);
        let timestamp = format_timestamp(OffsetDateTime::now_utc(), self.config.timestamp_style);
        let message = symmetric_string(
            call.method.as_str(),
            &signed_path,
            token.expose_secret(),
            &body_hash(body),
            &timestamp,
        );
        let signature = hmac_sha512_b64(
            self.config.client_secret.expose_secret().as_bytes(),
            &message,
        );
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Bearer {}", token.expose_secret()))
            .header("X-TIMESTAMP", &timestamp)
            .header("X-SIGNATURE", signature)
            .header("X-PARTNER-ID", &self.config.partner_id)
            .header("X-EXTERNAL-ID", external_id())
            .header("CHANNEL-ID", call.channel_id);
        for (name, value) in call.headers {
            request = request.header(*name, value);
        }
        let exchange = async {
            let response = request
                .body(body.to_vec())
                .send()
                .await
                .map_err(|err| service_transport_error(&err))?;
            let status = response.status().as_u16();
            let bytes = read_limited(response).await?;
            parse_answer(status, &bytes)
        };
        match timeout_at(deadline, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ProviderError::new(
                ErrorKind::Timeout,
                "no SNAP answer within the deadline",
            )),
        }
    }

    /// The URL of `path` below the base URL, and the path as signed: the full path after
    /// the host, with the query string (B.3.2).
    fn url(&self, path: &str) -> (Url, String) {
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        let mut url = self.config.base_url.clone();
        let full = format!("{}{path}", url.path().trim_end_matches('/'));
        url.set_path(&full);
        url.set_query(query);
        let signed = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        (url, signed)
    }
}

fn check_base_url(url: &Url) -> Result<(), ConfigError> {
    if matches!(url.scheme(), "http" | "https") && url.host().is_some() {
        Ok(())
    } else {
        Err(ConfigError::Url(url.scheme().to_owned()))
    }
}

/// Reads at most [`MAX_ANSWER_BYTES`]; a larger answer is unreadable, a broken one is as
/// ambiguous as a timeout.
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, ProviderError> {
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(ProviderError::new(
                        ErrorKind::Protocol,
                        "SNAP answer larger than 1 MiB",
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(bytes),
            Err(_) => {
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    "SNAP answer was cut off",
                ));
            }
        }
    }
}

/// A failure before any answer: refused connections never reached the provider;
/// anything after sending may have taken effect.
fn service_transport_error(err: &reqwest::Error) -> ProviderError {
    if err.is_builder() {
        ProviderError::new(ErrorKind::Misconfigured, "SNAP request could not be built")
    } else if err.is_connect() {
        ProviderError::new(ErrorKind::Unavailable, "SNAP provider unreachable")
    } else {
        ProviderError::new(ErrorKind::Timeout, "SNAP call failed after sending")
    }
}

/// A token request has no effect at the provider, so every transport failure is
/// `Unavailable`.
fn token_transport_error(err: &reqwest::Error) -> ProviderError {
    if err.is_builder() {
        ProviderError::new(
            ErrorKind::Misconfigured,
            "SNAP token request could not be built",
        )
    } else {
        ProviderError::new(ErrorKind::Unavailable, "SNAP token request failed")
    }
}

/// Reads a service answer: a JSON object with a readable `responseCode`. Without one,
/// HTTP 503 (a gateway or load balancer in front of the provider saying the service is
/// down) and 429 did not reach the service and are safe to retry; anything else is
/// unreadable and, for a money-moving call, as ambiguous as a timeout.
fn parse_answer(http_status: u16, bytes: &[u8]) -> Result<Answer, ProviderError> {
    let unreadable = || {
        let kind = match http_status {
            503 => ErrorKind::Unavailable,
            429 => ErrorKind::RateLimited,
            _ => ErrorKind::Protocol,
        };
        ProviderError::new(
            kind,
            format!("HTTP {http_status}: answer without a readable SNAP responseCode"),
        )
    };
    let body: Value = serde_json::from_slice(bytes).map_err(|_| unreadable())?;
    let code = body
        .get("responseCode")
        .and_then(|code| ResponseCode::deserialize(code).ok())
        .ok_or_else(unreadable)?;
    let message = body
        .get("responseMessage")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(Answer {
        http_status,
        code,
        message,
        body,
    })
}

/// Reads a token answer (B.2): `accessToken`, and `expiresIn` as a string or a number.
fn token_from_answer(
    http_status: u16,
    bytes: &[u8],
) -> Result<(SecretString, Duration), ProviderError> {
    let answer = match parse_answer(http_status, bytes) {
        Ok(answer) => answer,
        Err(_) if http_status == 401 || http_status == 403 => {
            return Err(ProviderError::new(
                ErrorKind::Unauthorized,
                format!("SNAP token request refused with HTTP {http_status}"),
            ));
        }
        Err(err) if http_status >= 500 => {
            return Err(ProviderError::new(ErrorKind::Unavailable, err.message));
        }
        Err(err) => return Err(err),
    };
    if !answer.code.is_success() {
        let kind = match answer.code.http {
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::Unavailable,
            _ => ErrorKind::Unauthorized,
        };
        return Err(ProviderError::with_code(
            kind,
            answer.code.to_string(),
            answer.message,
        ));
    }
    let token = answer
        .body
        .get("accessToken")
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ProviderError::new(ErrorKind::Protocol, "SNAP token answer without accessToken")
        })?;
    let seconds = match answer.body.get("expiresIn") {
        None | Some(Value::Null) => Some(DEFAULT_TOKEN_LIFETIME),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        Some(_) => None,
    }
    .filter(|s| *s > 0)
    .ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Protocol,
            "SNAP token answer with unreadable expiresIn",
        )
    })?;
    Ok((
        SecretString::from(token.to_owned()),
        Duration::from_secs(seconds),
    ))
}

/// Whether `answer` is `ok_code` (or another 2xx of the same service); otherwise the
/// error its code means ([`error_kind`]), with the code and message kept. A `202` is
/// in progress: not final, so as ambiguous as a timeout.
pub fn check(answer: &Answer, ok_code: ResponseCode) -> Result<(), ProviderError> {
    let code = answer.code;
    if code == ok_code || (code.is_success() && code.service == ok_code.service) {
        return Ok(());
    }
    let kind = error_kind(code).unwrap_or(if code.is_in_progress() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Protocol
    });
    Err(ProviderError::with_code(
        kind,
        code.to_string(),
        answer.message.clone(),
    ))
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
