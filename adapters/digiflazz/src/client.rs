//! HTTP plumbing: URLs under the base URL, the request `sign` (§1.2), JSON `POST`s
//! (§1.1), the per-exchange deadline, a capped body read, and the first reading of the
//! answer: `data`, whatever the HTTP status when Digiflazz wrote it (§1.1: business errors
//! may come with any status).

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;
use url::Url;

use crate::config::Config;
use crate::error::{Error, Operation};
use crate::signature;
use crate::wire::Envelope;

/// `POST /v1/cek-saldo`.
pub(crate) const BALANCE: &str = "v1/cek-saldo";
/// `POST /v1/price-list`.
pub(crate) const PRICE_LIST: &str = "v1/price-list";
/// `POST /v1/deposit`.
pub(crate) const DEPOSIT: &str = "v1/deposit";
/// `POST /v1/transaction`: topup and the postpaid commands.
pub(crate) const TRANSACTION: &str = "v1/transaction";
/// `POST /v1/inquiry-pln`.
pub(crate) const INQUIRY_PLN: &str = "v1/inquiry-pln";

/// Sends requests for one buyer account.
pub(crate) struct Client {
    http: reqwest::Client,
    base_url: Url,
    username: String,
    api_key: SecretString,
    testing: bool,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url.as_str())
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The client of a validated `config`; no I/O.
    pub(crate) fn new(config: &Config, http: reqwest::Client) -> Client {
        Client {
            http,
            base_url: config.base_url.clone(),
            username: config.username.clone(),
            api_key: config.api_key.clone(),
            testing: config.testing,
            timeout: config.timeout(),
        }
    }

    pub(crate) fn base_url(&self) -> &Url {
        &self.base_url
    }

    pub(crate) fn username(&self) -> &str {
        &self.username
    }

    /// Whether `/v1/transaction` commands carry `"testing": true`.
    pub(crate) fn testing(&self) -> bool {
        self.testing
    }

    /// `md5(username + api_key + suffix)` (§1.2).
    pub(crate) fn sign(&self, suffix: &str) -> Result<String, Error> {
        signature::sign(&self.username, &self.api_key, suffix).map_err(|_| Error::Signing)
    }

    /// Posts `body` as JSON to `path` and returns the answer's `data`.
    pub(crate) async fn post(
        &self,
        operation: Operation,
        path: &str,
        body: &impl Serialize,
    ) -> Result<Value, Error> {
        let body = serde_json::to_vec(body)
            .map_err(|_| Error::Request("the request cannot be written as JSON"))?;
        let response = self
            .http
            .post(self.url(path))
            .timeout(self.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let body = read_capped(response, operation.max_body_bytes()).await;
        if (200..300).contains(&status) {
            tracing::debug!(operation = operation.name(), status, "digiflazz answered");
        } else {
            tracing::warn!(
                operation = operation.name(),
                status,
                "digiflazz answered non-2xx"
            );
        }
        read_answer(status, body)
    }

    /// `{base_url}/{path}`, keeping a path of the base URL.
    fn url(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path.split('/'));
        }
        url
    }
}

/// A connect failure means the request never left; anything else may have reached
/// Digiflazz.
fn transport_error(err: reqwest::Error) -> Error {
    if err.is_connect() {
        Error::Connect(err)
    } else if err.is_timeout() {
        Error::Timeout(err)
    } else {
        Error::Transport(err)
    }
}

/// Reads the body chunk by chunk, refusing more than `limit` bytes.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, Error> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(Error::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| {
        if err.is_timeout() {
            Error::Timeout(err)
        } else {
            Error::Transport(err)
        }
    })? {
        if body.len() + chunk.len() > limit {
            return Err(Error::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `data` of an answer. A 2xx answer must carry one; a non-2xx answer counts as
/// Digiflazz's own only when its `data` carries `rc` or `status`, and is otherwise
/// classified by its HTTP status.
pub(crate) fn read_answer(status: u16, body: Result<Vec<u8>, Error>) -> Result<Value, Error> {
    let success = (200..300).contains(&status);
    let body = match body {
        Ok(body) => body,
        Err(err) if success => return Err(err),
        Err(_) => return Err(Error::Status { status }),
    };
    let envelope = serde_json::from_slice::<Envelope>(&body);
    match envelope {
        Ok(Envelope { data: Some(data) }) if success || is_business_answer(&data) => Ok(data),
        Ok(_) if success => Err(Error::Unreadable("the answer has no `data`")),
        Err(_) if success => Err(Error::Unreadable("not a JSON answer")),
        _ => Err(Error::Status { status }),
    }
}

/// A `data` object with a string `rc` or `status`: what Digiflazz writes.
fn is_business_answer(data: &Value) -> bool {
    ["rc", "status"]
        .iter()
        .any(|key| data.get(key).is_some_and(Value::is_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn client(base_url: &str) -> Client {
        let mut config = Config::new(
            "demo-user",
            SecretString::from("dev-0000-key"),
            SecretString::from("whsecret"),
        );
        config.base_url = Url::parse(base_url).expect("url");
        Client::new(&config, reqwest::Client::new())
    }

    #[test]
    fn urls_keep_a_proxy_path() {
        assert_eq!(
            client("https://api.digiflazz.com")
                .url(TRANSACTION)
                .as_str(),
            "https://api.digiflazz.com/v1/transaction"
        );
        assert_eq!(
            client("http://proxy.internal/digiflazz/")
                .url(INQUIRY_PLN)
                .as_str(),
            "http://proxy.internal/digiflazz/v1/inquiry-pln"
        );
    }

    fn read(status: u16, body: &str) -> Result<Value, Error> {
        read_answer(status, Ok(body.as_bytes().to_vec()))
    }

    #[test]
    fn a_2xx_answer_gives_its_data_or_is_unreadable() {
        assert_eq!(
            read(200, r#"{"data":{"deposit":1}}"#).expect("data"),
            serde_json::json!({"deposit": 1})
        );
        assert_eq!(
            read(200, r#"{"data":[]}"#).expect("data"),
            serde_json::json!([])
        );
        for body in [r#"{"data":null}"#, r#"{"error":"x"}"#, "[]", "<html>", ""] {
            assert!(
                matches!(read(200, body), Err(Error::Unreadable(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn a_non_2xx_answer_is_read_only_when_digiflazz_wrote_it() {
        let refusal = r#"{"data":{"rc":"41","status":"Gagal","message":"Signature Anda salah"}}"#;
        assert_eq!(read(400, refusal).expect("data")["rc"], "41");
        assert_eq!(read(500, refusal).expect("data")["status"], "Gagal");
        for body in [
            "simulated fault",
            r#"{"data":{"detail":"x"}}"#,
            r#"{"data":{"rc":41}}"#,
        ] {
            assert!(
                matches!(read(503, body), Err(Error::Status { status: 503 })),
                "{body}"
            );
        }
        assert!(matches!(
            read_answer(502, Err(Error::TooLarge { limit: 1 })),
            Err(Error::Status { status: 502 })
        ));
        assert!(matches!(
            read_answer(200, Err(Error::TooLarge { limit: 1 })),
            Err(Error::TooLarge { limit: 1 })
        ));
    }
}
