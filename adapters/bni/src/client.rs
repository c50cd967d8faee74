//! HTTP plumbing: seal a request (A.4.1), `POST` it to the service root (A.1), read a
//! bounded answer, and open it (A.4.2) or turn its status into an [`Error`].

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use url::Url;

use crate::config::Config;
use crate::error::{Error, Operation};
use crate::signature::{BniEnc, to_ascii_json};
use crate::wire;

/// The largest answer we read; BNI's answers are a few hundred bytes.
pub(crate) const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// BNI's success status (A.7).
const SUCCESS: &str = "000";

/// Sends encrypted requests for one client id.
pub(crate) struct Client {
    http: reqwest::Client,
    endpoint: Url,
    client_id: String,
    prefix: String,
    secret: SecretString,
    timeout: Duration,
    window: i64,
}

impl Client {
    /// A client for `config`, on the gateway's shared `http` client. No I/O.
    pub(crate) fn new(config: &Config, http: reqwest::Client) -> Self {
        Client {
            http,
            endpoint: config.base_url.clone(),
            client_id: config.client_id.clone(),
            prefix: config.prefix.clone(),
            secret: config.secret_key.clone(),
            timeout: Duration::from_millis(config.timeout_ms),
            window: config.timestamp_window_secs,
        }
    }

    /// Sends `request` and parses the decrypted `data` of a success, which must be there.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        op: Operation,
        request: &impl Serialize,
    ) -> Result<T, Error> {
        let json = self
            .send(op, request)
            .await?
            .ok_or(Error::Malformed("success without data"))?;
        serde_json::from_str(&json).map_err(|_| Error::Malformed("unreadable decrypted data"))
    }

    /// Sends `request`; on success, the decrypted `data` if BNI sent one.
    pub(crate) async fn send(
        &self,
        op: Operation,
        request: &impl Serialize,
    ) -> Result<Option<String>, Error> {
        let body = self.seal(request, unix_now())?;
        tracing::debug!(operation = op.as_str(), "sending BNI request");
        let (status, answer) = self.post(body).await?;
        let data = interpret(op, status, &answer)?;
        data.map(|sealed| self.open(&sealed, unix_now()))
            .transpose()
    }

    /// The outer JSON with the inner one encrypted at `now` (A.1, A.4.1).
    fn seal(&self, request: &impl Serialize, now: i64) -> Result<Vec<u8>, Error> {
        let json = to_ascii_json(request).map_err(Error::Encode)?;
        let data = self.keys().encrypt(&json, now);
        let envelope = wire::RequestEnvelope {
            client_id: &self.client_id,
            prefix: &self.prefix,
            data: &data,
        };
        serde_json::to_vec(&envelope).map_err(Error::Encode)
    }

    /// Decrypts a response's `data` and enforces the window (A.4.2 step 4).
    fn open(&self, sealed: &str, now: i64) -> Result<String, Error> {
        let opened = self.keys().open(sealed, now, self.window)?;
        Ok(opened.json)
    }

    fn keys(&self) -> BniEnc<'_> {
        BniEnc::new(&self.client_id, self.secret.expose_secret())
    }

    /// `POST`s to the service root; the HTTP status and at most [`MAX_RESPONSE_BYTES`].
    async fn post(&self, body: Vec<u8>) -> Result<(u16, Vec<u8>), Error> {
        let response = self
            .http
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .timeout(self.timeout)
            .body(body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        Ok((status, read_capped(response).await?))
    }
}

/// Reads the body in chunks, refusing more than [`MAX_RESPONSE_BYTES`].
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, Error> {
    let too_large = Error::BodyTooLarge(MAX_RESPONSE_BYTES);
    if response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether the request can have left: a connect failure means it did not; anything later
/// (a timeout, a reset, a broken body) leaves the outcome unknown.
fn transport_error(error: reqwest::Error) -> Error {
    if error.is_builder() {
        Error::Build(error)
    } else if error.is_connect() {
        Error::Connect(error)
    } else {
        Error::Transport(error)
    }
}

/// The sealed `data` of a success, or the error the answer stands for. A readable BNI
/// envelope wins over the HTTP status: BNI reports outcomes in the body (A.1).
fn interpret(op: Operation, http_status: u16, body: &[u8]) -> Result<Option<String>, Error> {
    let http_ok = (200..300).contains(&http_status);
    match serde_json::from_slice::<wire::ResponseEnvelope>(body) {
        Ok(envelope) if envelope.status != SUCCESS => {
            tracing::info!(operation = op.as_str(), code = %envelope.status, "BNI refused");
            Err(Error::Status {
                op,
                code: envelope.status,
                message: envelope.message,
            })
        }
        Ok(envelope) if http_ok => Ok(envelope.data),
        _ if !http_ok => Err(Error::Http(http_status)),
        _ => Err(Error::Malformed("body is not a BNI envelope")),
    }
}

fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::ErrorKind;

    fn kind(result: Result<Option<String>, Error>) -> ErrorKind {
        contracts::ProviderError::from(result.expect_err("an error")).kind
    }

    #[test]
    fn envelope_status_wins_over_http_status() {
        let duplicate = br#"{"status":"105","message":"Duplicate Billing ID"}"#;
        assert_eq!(
            kind(interpret(Operation::Create, 200, duplicate)),
            ErrorKind::Duplicate
        );
        let internal = br#"{"status":"999","message":"Internal Error"}"#;
        assert_eq!(
            kind(interpret(Operation::Create, 500, internal)),
            ErrorKind::Timeout
        );
    }

    #[test]
    fn bare_errors_classify_by_http_status_then_shape() {
        assert_eq!(
            kind(interpret(Operation::Create, 500, b"oops")),
            ErrorKind::Unavailable
        );
        assert_eq!(
            kind(interpret(Operation::Create, 200, b"<html>")),
            ErrorKind::Protocol
        );
        assert_eq!(
            kind(interpret(Operation::Create, 200, b"{}")),
            ErrorKind::Protocol
        );
        let success_on_error = br#"{"status":"000","data":"x"}"#;
        assert_eq!(
            kind(interpret(Operation::Inquire, 503, success_on_error)),
            ErrorKind::Unavailable
        );
    }

    #[test]
    fn success_yields_its_sealed_data() {
        let body = br#"{"status":"000","data":"abc"}"#;
        let data = interpret(Operation::Create, 200, body).expect("success");
        assert_eq!(data.as_deref(), Some("abc"));
        let bare = br#"{"status":"000"}"#;
        assert_eq!(
            interpret(Operation::Cancel, 200, bare).expect("success"),
            None
        );
    }
}
