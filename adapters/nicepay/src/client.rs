//! HTTP plumbing: endpoint URLs, one JSON `POST` with the per-request timeout, a capped
//! body read, and the first classification of the answer (transport, HTTP status, JSON,
//! `resultCd`).
//!
//! V2 direct calls carry no auth header: the `merchantToken` body field is the
//! authentication (protocol 1.2).

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::Error;
use crate::wire::{Envelope, RESULT_OK};

/// The most of an answer the adapter reads. NICEPAY's answers are a few hundred bytes.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The V2 direct operations, each one path below `/nicepay/direct/v2/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Registration,
    Inquiry,
    Cancel,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::Registration => "registration",
            Endpoint::Inquiry => "inquiry",
            Endpoint::Cancel => "cancel",
        }
    }
}

/// Sends V2 direct requests to one NICEPAY host.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    /// `…/nicepay/direct/v2/`, always ending in `/`.
    root: Url,
    timeout: Duration,
}

impl Client {
    pub(crate) fn new(http: reqwest::Client, base_url: &Url, timeout: Duration) -> Self {
        Client {
            http,
            root: api_root(base_url),
            timeout,
        }
    }

    pub(crate) fn url(&self, endpoint: Endpoint) -> Url {
        let mut url = self.root.clone();
        url.set_path(&format!("{}{}", self.root.path(), endpoint.path()));
        url
    }

    /// Posts `request` as JSON and decodes a `resultCd` `0000` answer as `T`.
    pub(crate) async fn post<Req: Serialize, T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        request: &Req,
    ) -> Result<T, Error> {
        let response = self
            .http
            .post(self.url(endpoint))
            .timeout(self.timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(request)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let body = read_capped(response).await?;
        tracing::debug!(endpoint = ?endpoint, status, bytes = body.len(), "nicepay answered");
        let value = classify(status, &body)?;
        serde_json::from_value(value).map_err(|err| Error::Malformed(err.to_string()))
    }
}

/// `base` with `/nicepay` added unless it already ends in it, then `/direct/v2/`.
fn api_root(base: &Url) -> Url {
    let mut root = base.clone();
    let path = base.path().trim_end_matches('/');
    let path = if path.ends_with("/nicepay") {
        format!("{path}/direct/v2/")
    } else {
        format!("{path}/nicepay/direct/v2/")
    };
    root.set_path(&path);
    root.set_query(None);
    root.set_fragment(None);
    root
}

/// A connect failure means the request never left; anything else may have reached NICEPAY.
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

/// Turns an answer into the JSON object of a `0000` result, or the error it stands for.
///
/// NICEPAY answers business errors with HTTP 200 and a `resultCd` (1.4). A 4xx that still
/// carries a `resultCd` is classified by that code; any other non-2xx by its status.
pub(crate) fn classify(status: u16, body: &[u8]) -> Result<serde_json::Value, Error> {
    let parsed = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .filter(serde_json::Value::is_object);
    let success = (200..300).contains(&status);
    if !success && !(400..500).contains(&status) {
        return Err(Error::Status { status });
    }
    let Some(value) = parsed else {
        return Err(if success {
            Error::Malformed("the answer is not a JSON object".to_owned())
        } else {
            Error::Status { status }
        });
    };
    let envelope: Envelope =
        serde_json::from_value(value.clone()).map_err(|err| Error::Malformed(err.to_string()))?;
    match envelope.resultCd.as_deref() {
        Some(RESULT_OK) if success => Ok(value),
        Some(RESULT_OK) | None if !success => Err(Error::Status { status }),
        None => Err(Error::Malformed("the answer has no resultCd".to_owned())),
        Some(code) => Err(Error::Result {
            code: code.to_owned(),
            message: short(envelope.resultMsg.unwrap_or_default()),
        }),
    }
}

/// `resultMsg` as an operator sees it: bounded, in case a proxy returns a page.
fn short(mut message: String) -> String {
    if let Some((cut, _)) = message.char_indices().nth(200) {
        message.truncate(cut);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_of(base: &str, endpoint: Endpoint) -> String {
        let client = Client::new(
            reqwest::Client::new(),
            &Url::parse(base).expect("url"),
            Duration::from_secs(1),
        );
        client.url(endpoint).to_string()
    }

    #[test]
    fn base_urls_with_and_without_nicepay_reach_the_same_path() {
        for base in [
            "https://dev.nicepay.co.id",
            "https://dev.nicepay.co.id/",
            "https://dev.nicepay.co.id/nicepay",
            "https://dev.nicepay.co.id/nicepay/",
        ] {
            assert_eq!(
                url_of(base, Endpoint::Registration),
                "https://dev.nicepay.co.id/nicepay/direct/v2/registration",
                "base {base}"
            );
        }
        assert_eq!(
            url_of("http://127.0.0.1:9102/proxy", Endpoint::Cancel),
            "http://127.0.0.1:9102/proxy/nicepay/direct/v2/cancel"
        );
        assert_eq!(
            url_of("http://127.0.0.1:9102", Endpoint::Inquiry),
            "http://127.0.0.1:9102/nicepay/direct/v2/inquiry"
        );
    }

    #[test]
    fn answers_are_classified() {
        let ok = classify(200, br#"{"resultCd":"0000","tXid":"T"}"#);
        assert!(ok.is_ok());
        assert!(matches!(
            classify(200, br#"{"resultCd":"9009","resultMsg":"dup"}"#),
            Err(Error::Result { code, .. }) if code == "9009"
        ));
        assert!(matches!(
            classify(400, br#"{"resultCd":"9010","resultMsg":"bad token"}"#),
            Err(Error::Result { code, .. }) if code == "9010"
        ));
        assert!(matches!(classify(200, b"<html>"), Err(Error::Malformed(_))));
        assert!(matches!(classify(200, b"[]"), Err(Error::Malformed(_))));
        assert!(matches!(classify(200, b"{}"), Err(Error::Malformed(_))));
        assert!(matches!(
            classify(502, br#"{"resultCd":"0000"}"#),
            Err(Error::Status { status: 502 })
        ));
        assert!(matches!(
            classify(404, b"not found"),
            Err(Error::Status { status: 404 })
        ));
    }
}
