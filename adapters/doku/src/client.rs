//! HTTP plumbing of the non-SNAP Checkout API (2.2–2.6): URLs below `base_url`, the
//! signed headers, one send with the whole-call deadline, a capped body read, and the
//! first classification of the answer (transport, HTTP status, JSON).
//!
//! SNAP VA calls go through [`adapter_snap::client::SnapClient`] instead.

use std::time::Duration;

use adapter_snap::codec::{TimestampStyle, format_timestamp};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use url::Url;

use crate::error::{CheckoutOp, Error, bounded};
use crate::signature::{self, Components};
use crate::wire::ErrorBody;

/// The most of an answer the adapter reads.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Checkout create (2.5).
pub(crate) const CHECKOUT_PATH: [&str; 3] = ["checkout", "v1", "payment"];
/// Check status, followed by the invoice number (2.6).
pub(crate) const STATUS_PATH: [&str; 3] = ["orders", "v1", "status"];

/// An HTTP answer, read whole.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends signed non-SNAP requests to one DOKU host.
pub(crate) struct CheckoutClient {
    http: reqwest::Client,
    base: Url,
    client_id: String,
    secret: SecretString,
    timeout: Duration,
}

impl std::fmt::Debug for CheckoutClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckoutClient")
            .field("base", &self.base.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// One signed request: what to send and the headers' ids.
pub(crate) struct Signed<'a> {
    pub method: reqwest::Method,
    pub url: Url,
    pub request_id: &'a str,
    /// The exact bytes sent; `None` for GET (no `Digest` line, 2.3).
    pub body: Option<Vec<u8>>,
    pub now: OffsetDateTime,
}

impl CheckoutClient {
    pub(crate) fn new(
        http: reqwest::Client,
        base: Url,
        client_id: String,
        secret: SecretString,
        timeout: Duration,
    ) -> Self {
        CheckoutClient {
            http,
            base,
            client_id,
            secret,
            timeout,
        }
    }

    /// `base_url` with `segments` appended, each percent-encoded as a path segment.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Signs and sends `request`, reading the whole answer. The signed `Request-Target` is
    /// the URL's path exactly as sent, base path prefix included.
    pub(crate) async fn send(&self, request: Signed<'_>) -> Result<Reply, Error> {
        let timestamp = format_timestamp(request.now, TimestampStyle::Utc);
        let components = Components {
            client_id: &self.client_id,
            request_id: request.request_id,
            timestamp: &timestamp,
            target: request.url.path(),
            body: request.body.as_deref(),
        };
        let signature = signature::sign(&self.secret, &components);
        let mut builder = self
            .http
            .request(request.method, request.url.clone())
            .timeout(self.timeout)
            .header("Client-Id", &self.client_id)
            .header("Request-Id", request.request_id)
            .header("Request-Timestamp", &timestamp)
            .header("Signature", signature)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = builder.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let body = read_capped(response).await?;
        tracing::debug!(status, bytes = body.len(), "doku answered");
        Ok(Reply { status, body })
    }
}

/// A connect failure means the request never left; anything else may have reached DOKU.
fn transport_error(err: reqwest::Error) -> Error {
    if err.is_connect() {
        Error::Connect(err)
    } else {
        Error::Timeout(err)
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
    while let Some(chunk) = response.chunk().await.map_err(Error::Timeout)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The answer of `op` decoded as `T` when DOKU accepted the call, else the error it stands
/// for. Every 2xx carries a usable answer, and so do the statuses in `also` (409 on create:
/// the replay of the original answer, 2.9).
pub(crate) fn decode<T: DeserializeOwned>(
    op: CheckoutOp,
    reply: &Reply,
    also: &[u16],
) -> Result<T, Error> {
    if (200..300).contains(&reply.status) || also.contains(&reply.status) {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&reply.body)
            && value.is_object()
        {
            return serde_json::from_value(value).map_err(|_| Error::Malformed("unexpected shape"));
        }
        if (200..300).contains(&reply.status) {
            return Err(Error::Malformed("the answer is not a JSON object"));
        }
    }
    Err(status_error(op, reply))
}

/// The error for a non-success answer, with DOKU's own code and message when the body
/// is one of the 2.10 shapes.
pub(crate) fn status_error(op: CheckoutOp, reply: &Reply) -> Error {
    let parsed: ErrorBody = serde_json::from_slice(&reply.body).unwrap_or_default();
    let detail = parsed.error.unwrap_or_default();
    let message = detail
        .message
        .or_else(|| first_message(parsed.message.as_deref()))
        .unwrap_or_default();
    if (200..300).contains(&reply.status) {
        return Error::Malformed("the answer is not what the protocol describes");
    }
    Error::Status {
        op,
        status: reply.status,
        code: detail.code,
        message: bounded(&message),
    }
}

/// `message[0]` as text (2.5).
pub(crate) fn first_message(message: Option<&[serde_json::Value]>) -> Option<String> {
    match message?.first()? {
        serde_json::Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// A fresh random UUID v4, as DOKU's plugins use for `Request-Id` (2.2).
pub(crate) fn request_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> CheckoutClient {
        CheckoutClient::new(
            reqwest::Client::new(),
            Url::parse(base).expect("url"),
            "MCH-1".to_owned(),
            SecretString::from("k"),
            Duration::from_secs(1),
        )
    }

    #[test]
    fn urls_keep_the_base_prefix_and_encode_the_invoice() {
        let plain = client("https://api-sandbox.doku.com");
        assert_eq!(
            plain.url(&CHECKOUT_PATH).as_str(),
            "https://api-sandbox.doku.com/checkout/v1/payment"
        );
        let proxied = client("http://127.0.0.1:9/doku/");
        let mut segments = STATUS_PATH.to_vec();
        segments.push("INV 1/2");
        assert_eq!(
            proxied.url(&segments).path(),
            "/doku/orders/v1/status/INV%201%2F2"
        );
    }

    #[test]
    fn answers_are_decoded_or_classified() {
        let reply = |status, body: &str| Reply {
            status,
            body: body.as_bytes().to_vec(),
        };
        let ok: Result<serde_json::Value, _> =
            decode(CheckoutOp::Create, &reply(200, r#"{"a":1}"#), &[]);
        assert!(ok.is_ok());
        let html: Result<serde_json::Value, _> =
            decode(CheckoutOp::Create, &reply(200, "<html>"), &[]);
        assert!(matches!(html, Err(Error::Malformed(_))));
        let refused: Result<serde_json::Value, _> = decode(
            CheckoutOp::Create,
            &reply(
                400,
                r#"{"error":{"code":"invalid_amount","message":"Bad amount"}}"#,
            ),
            &[],
        );
        assert!(matches!(
            refused,
            Err(Error::Status { status: 400, code: Some(ref c), ref message, .. })
                if c == "invalid_amount" && message == "Bad amount"
        ));
        let listed: Result<serde_json::Value, _> = decode(
            CheckoutOp::Create,
            &reply(400, r#"{"message":["Invalid invoice"]}"#),
            &[],
        );
        assert!(matches!(
            listed,
            Err(Error::Status { ref message, code: None, .. }) if message == "Invalid invoice"
        ));
    }

    #[test]
    fn request_ids_are_uuid_v4() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(id, request_id());
    }
}
