//! How requests authenticate: one small trait, one implementation per
//! [`crate::AuthConfig`] scheme. A further scheme is one more implementation and one more
//! config variant.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::RequestBuilder;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::client::read_capped;
use crate::config::AuthConfig;
use crate::error::{Error, TokenError};
use crate::wire::TokenAnswer;

/// How long before its expiry a cached token is renewed.
const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// Which credential authorized a request, so that a refusal drops exactly that one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Credential(u64);

/// Adds credentials to a request to the merchant API.
#[async_trait]
pub(crate) trait Authenticate: Send + Sync {
    /// `request` with its `Authorization` header, and which credential it carries.
    async fn authorize(
        &self,
        request: RequestBuilder,
    ) -> Result<(RequestBuilder, Credential), Error>;

    /// The API answered 401 to a request carrying `credential`. Returns whether sending
    /// it again could succeed (a new credential will be used).
    fn refused(&self, credential: Credential) -> bool;
}

/// The authenticator of `config` on the adapter's `http` client; no I/O.
pub(crate) fn from_config(
    config: &AuthConfig,
    http: reqwest::Client,
    timeout: Duration,
) -> Box<dyn Authenticate> {
    match config {
        AuthConfig::Basic { username, password } => Box::new(Basic {
            username: username.clone(),
            password: password.clone(),
        }),
        AuthConfig::Oauth2 {
            token_url,
            client_id,
            client_secret,
            scope,
        } => Box::new(ClientCredentials {
            http,
            token_url: token_url.clone(),
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            scope: scope.clone(),
            timeout,
            cache: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(0),
        }),
    }
}

/// `Authorization: Basic base64(username:password)` (2.2).
struct Basic {
    username: String,
    password: SecretString,
}

#[async_trait]
impl Authenticate for Basic {
    async fn authorize(
        &self,
        request: RequestBuilder,
    ) -> Result<(RequestBuilder, Credential), Error> {
        let request = request.basic_auth(&self.username, Some(self.password.expose_secret()));
        Ok((request, Credential(0)))
    }

    /// The credentials are fixed: sending again cannot help.
    fn refused(&self, _: Credential) -> bool {
        false
    }
}

/// A token and until when it is used.
struct Cached {
    token: SecretString,
    refresh_at: Instant,
    credential: Credential,
}

/// OAuth2 client credentials (RFC 6749 §4.4) with a cached Bearer token.
struct ClientCredentials {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    scope: Option<String>,
    timeout: Duration,
    /// The current token; read without waiting for a fetch in progress.
    cache: Mutex<Option<Cached>>,
    /// Held while fetching, so concurrent callers wait for one fetch; counts the tokens
    /// fetched, which numbers the [`Credential`]s.
    fetching: tokio::sync::Mutex<u64>,
}

#[async_trait]
impl Authenticate for ClientCredentials {
    async fn authorize(
        &self,
        request: RequestBuilder,
    ) -> Result<(RequestBuilder, Credential), Error> {
        let (token, credential) = match self.fresh() {
            Some(current) => current,
            None => tokio::time::timeout(self.timeout, self.renew())
                .await
                .map_err(|_| Error::Token(TokenError::Unreachable))??,
        };
        Ok((request.bearer_auth(token.expose_secret()), credential))
    }

    /// Drops the refused token unless another caller already replaced it.
    fn refused(&self, credential: Credential) -> bool {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.as_ref().is_some_and(|c| c.credential == credential) {
            *cache = None;
        }
        true
    }
}

impl ClientCredentials {
    /// The cached token while it is not due for renewal.
    fn fresh(&self) -> Option<(SecretString, Credential)> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| (c.token.clone(), c.credential))
    }

    /// One fetch at a time; whoever waited for another caller's fetch uses its token.
    async fn renew(&self) -> Result<(SecretString, Credential), Error> {
        let mut fetched = self.fetching.lock().await;
        if let Some(current) = self.fresh() {
            return Ok(current);
        }
        let (token, lifetime) = self.fetch().await.map_err(Error::Token)?;
        *fetched += 1;
        let credential = Credential(*fetched);
        let refresh_at = Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN);
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = Some(Cached {
            token: token.clone(),
            refresh_at,
            credential,
        });
        Ok((token, credential))
    }

    /// `POST token_url` with `grant_type=client_credentials` (RFC 6749 §4.4.2) and the
    /// client authenticated by HTTP Basic, id and secret form-encoded first (§2.3.1).
    async fn fetch(&self) -> Result<(SecretString, Duration), TokenError> {
        let body = token_request_body(self.scope.as_deref());
        let response = self
            .http
            .post(self.token_url.clone())
            .timeout(self.timeout)
            .basic_auth(
                form_encode(&self.client_id),
                Some(form_encode(self.client_secret.expose_secret())),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|_| TokenError::Unreachable)?;
        let status = response.status().as_u16();
        tracing::debug!(status, "privyid token endpoint answered");
        let body = read_capped(response)
            .await
            .map_err(|_| TokenError::Unreachable)?;
        token_from_answer(status, &body)
    }
}

/// `grant_type=client_credentials`, and `scope` when set (RFC 6749 §4.4.2).
fn token_request_body(scope: Option<&str>) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    if let Some(scope) = scope {
        form.append_pair("scope", scope);
    }
    form.finish()
}

/// `application/x-www-form-urlencoded` of one value.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The token and its lifetime out of a token endpoint's answer (RFC 6749 §5.1, §5.2).
/// A missing `expires_in` gives a token used for one request only.
fn token_from_answer(status: u16, body: &[u8]) -> Result<(SecretString, Duration), TokenError> {
    match status {
        200..=299 => {}
        400 | 401 | 403 => return Err(TokenError::Refused(status)),
        429 => return Err(TokenError::Throttled),
        _ => return Err(TokenError::Status(status)),
    }
    let answer: TokenAnswer = serde_json::from_slice(body).map_err(|_| TokenError::Unreadable)?;
    if !answer.token_type.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::NotBearer);
    }
    let token = answer.access_token.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TokenError::Unreadable);
    }
    let seconds = match answer.expires_in {
        None | Some(serde_json::Value::Null) => 0,
        Some(serde_json::Value::Number(n)) => n.as_u64().ok_or(TokenError::Unreadable)?,
        Some(serde_json::Value::String(s)) => {
            s.trim().parse().map_err(|_| TokenError::Unreadable)?
        }
        Some(_) => return Err(TokenError::Unreadable),
    };
    Ok((SecretString::from(token), Duration::from_secs(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(body: serde_json::Value) -> Result<(String, u64), TokenError> {
        token_from_answer(200, body.to_string().as_bytes())
            .map(|(t, d)| (t.expose_secret().to_owned(), d.as_secs()))
    }

    #[test]
    fn a_token_response_gives_the_token_and_its_lifetime() {
        let answer = serde_json::json!({
            "access_token": "at-1", "token_type": "Bearer", "expires_in": 3600,
        });
        assert_eq!(token(answer), Ok(("at-1".to_owned(), 3600)));
        let answer = serde_json::json!({
            "access_token": "at-2", "token_type": "bearer", "expires_in": "60",
        });
        assert_eq!(token(answer), Ok(("at-2".to_owned(), 60)));
        let answer = serde_json::json!({"access_token": "at-3", "token_type": "Bearer"});
        assert_eq!(token(answer), Ok(("at-3".to_owned(), 0)));
    }

    #[test]
    fn unusable_token_responses_are_refused() {
        let cases = [
            (
                serde_json::json!({"access_token": "a", "token_type": "mac"}),
                TokenError::NotBearer,
            ),
            (
                serde_json::json!({"access_token": " ", "token_type": "Bearer"}),
                TokenError::Unreadable,
            ),
            (
                serde_json::json!({"access_token": "a b", "token_type": "Bearer"}),
                TokenError::Unreadable,
            ),
            (
                serde_json::json!({"token_type": "Bearer"}),
                TokenError::Unreadable,
            ),
            (
                serde_json::json!({"access_token": "a", "token_type": "Bearer", "expires_in": -1}),
                TokenError::Unreadable,
            ),
        ];
        for (answer, expected) in cases {
            assert_eq!(token(answer.clone()), Err(expected), "{answer}");
        }
        let refused = token_from_answer(401, br#"{"error":"invalid_client"}"#);
        assert_eq!(refused.err(), Some(TokenError::Refused(401)));
        assert_eq!(
            token_from_answer(429, b"").err(),
            Some(TokenError::Throttled)
        );
        assert_eq!(
            token_from_answer(503, b"").err(),
            Some(TokenError::Status(503))
        );
    }

    #[test]
    fn client_credentials_are_form_encoded_before_basic() {
        assert_eq!(form_encode("client:1 &x"), "client%3A1+%26x");
        assert_eq!(form_encode("plain-id_1.2~"), "plain-id_1.2%7E");
    }
}
