//! HTTP plumbing: the messages endpoint (3.1), one JSON `POST` with the Bearer token and
//! the per-request deadline, a capped body read, and the first classification of the
//! answer (transport, HTTP status, Graph envelope).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use url::Url;

use crate::config::Config;
use crate::error::Error;
use crate::wire::{ErrorEnvelope, SendAnswer};

/// The most of an answer the adapter reads; Cloud API answers are a few hundred bytes.
pub(crate) const MAX_BODY_BYTES: usize = 256 * 1024;

/// Posts to one phone number's messages endpoint.
pub(crate) struct Client {
    http: reqwest::Client,
    /// `{base_url}/{api_version}/{phone_number_id}/messages`.
    messages_url: Url,
    access_token: SecretString,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("messages_url", &self.messages_url.as_str())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The client of a validated `config`; no I/O.
    pub(crate) fn new(config: &Config, http: reqwest::Client) -> Client {
        Client {
            http,
            messages_url: messages_url(config),
            access_token: config.access_token.clone(),
            timeout: config.timeout(),
        }
    }

    /// The endpoint, for [`crate::WhatsApp`]'s `Debug`.
    pub(crate) fn messages_url(&self) -> &Url {
        &self.messages_url
    }

    /// Posts `body` and reads the answer of a successful send (3.3).
    pub(crate) async fn send<B: Serialize>(&self, body: &B) -> Result<SendAnswer, Error> {
        let response = self
            .http
            .post(self.messages_url.clone())
            .timeout(self.timeout)
            .bearer_auth(self.access_token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let bytes = read_capped(response).await?;
        classify(status, &bytes)
    }
}

/// `{base_url}/{api_version}/{phone_number_id}/messages`, keeping a path of `base_url`.
fn messages_url(config: &Config) -> Url {
    let mut url = config.base_url.clone();
    let base = config.base_url.path().trim_end_matches('/');
    url.set_path(&format!(
        "{base}/{}/{}/messages",
        config.api_version, config.phone_number_id
    ));
    url
}

/// A connect failure means the request never left; anything else may have reached Meta.
fn transport_error(err: reqwest::Error) -> Error {
    if err.is_connect() {
        Error::Connect(err)
    } else if err.is_timeout() {
        Error::Timeout(err)
    } else {
        Error::Transport(err)
    }
}

/// Reads the body chunk by chunk, refusing more than [`MAX_BODY_BYTES`].
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, Error> {
    let too_large = Error::TooLarge {
        limit: MAX_BODY_BYTES,
    };
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
    {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| {
        if err.is_timeout() {
            Error::Timeout(err)
        } else {
            Error::Transport(err)
        }
    })? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A 2xx answer as a send answer; any other as the error it carries (3.4).
pub(crate) fn classify(status: u16, body: &[u8]) -> Result<SendAnswer, Error> {
    if !(200..300).contains(&status) {
        return Err(match serde_json::from_slice::<ErrorEnvelope>(body) {
            Ok(envelope) => Error::Graph {
                status,
                error: envelope.error,
            },
            Err(_) => Error::Status { status },
        });
    }
    serde_json::from_slice::<SendAnswer>(body).map_err(|_| Error::Malformed("not a send answer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_keeps_a_proxy_path() {
        let mut config = Config::new(
            "106540352242922",
            SecretString::from("t"),
            SecretString::from("s"),
            SecretString::from("v"),
        );
        assert_eq!(
            messages_url(&config).as_str(),
            "https://graph.facebook.com/v21.0/106540352242922/messages"
        );
        config.base_url = Url::parse("http://proxy.internal/meta/").expect("url");
        config.api_version = "v14.0".to_owned();
        assert_eq!(
            messages_url(&config).as_str(),
            "http://proxy.internal/meta/v14.0/106540352242922/messages"
        );
    }
}
