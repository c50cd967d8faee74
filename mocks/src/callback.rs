//! What a simulator's "act" methods share: options for posting a provider callback, the
//! outcome of each post, the errors, and the HTTP delivery itself.

use std::time::Duration;

use axum::body::Bytes;
use serde::{Deserialize, Serialize};

/// How a simulator posts the callback of one payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallbackOptions {
    /// How many times the same callback is posted (duplicates). `0` records the payment
    /// without posting anything: a lost callback, to be found by status inquiry.
    pub times: u32,
    /// Post all `times` copies at once instead of one after the other.
    pub concurrent: bool,
    /// Spoil the callback so the receiver must refuse it.
    pub tamper: Tamper,
}

impl Default for CallbackOptions {
    fn default() -> Self {
        Self {
            times: 1,
            concurrent: false,
            tamper: Tamper::None,
        }
    }
}

impl CallbackOptions {
    /// The same callback posted `times` times, concurrently or not.
    pub fn repeated(times: u32, concurrent: bool) -> Self {
        Self {
            times,
            concurrent,
            tamper: Tamper::None,
        }
    }

    /// One callback, spoiled as `tamper` says.
    pub fn tampered(tamper: Tamper) -> Self {
        Self {
            tamper,
            ..Self::default()
        }
    }
}

/// How a callback is spoiled. Each simulator documents what the variants do to its format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tamper {
    /// A genuine callback.
    #[default]
    None,
    /// One character of the signed or encrypted content changed.
    FlipByte,
    /// Signed or encrypted with a secret other than the configured one.
    WrongKey,
    /// Carries a timestamp 10 minutes old (where the protocol has one).
    StaleTimestamp,
}

/// The receiver's answer to one posted callback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallbackOutcome {
    /// HTTP status of the answer.
    pub status: u16,
    /// Body of the answer, as text.
    pub body: String,
}

/// Why a simulator could not act.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No billing or transaction matches the given VA number or reference.
    #[error("nothing matches {0}")]
    NotFound(String),
    /// The billing or transaction no longer takes payments.
    #[error("{reference} does not take payments: it is {state}")]
    NotPayable {
        /// The billing's or transaction's reference.
        reference: String,
        /// `paid`, `expired`, `inactive`, `cancelled`, ...
        state: &'static str,
    },
    /// The amount breaks the billing's rules.
    #[error("amount {amount} refused: {reason}")]
    AmountRefused {
        /// The offered amount.
        amount: i64,
        /// Which rule it breaks.
        reason: String,
    },
    /// A callback should be posted but the simulator has no callback URL.
    #[error("no callback URL is configured")]
    NoCallbackUrl,
    /// Nothing was delivered before for this reference.
    #[error("no callback was posted yet for {0}")]
    NothingToRedeliver(String),
    /// The payment is recorded, but posting its callback failed (connection refused,
    /// timeout, ...).
    #[error("callback delivery failed: {0}")]
    Delivery(String),
}

/// One HTTP request a simulator posts to the merchant.
#[derive(Clone, Debug)]
pub(crate) struct Outgoing {
    pub(crate) url: String,
    pub(crate) content_type: &'static str,
    pub(crate) user_agent: &'static str,
    pub(crate) body: String,
}

/// A callback exactly as the simulator would post it, built but **not** sent: for tests
/// that hand the raw request to an adapter themselves (the conformance suites).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedCallback {
    /// Where it would go; `None` when the simulator has no callback URL configured.
    pub url: Option<String>,
    /// HTTP method, upper case.
    pub method: String,
    /// Headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte.
    pub body: Bytes,
}

impl From<Outgoing> for CapturedCallback {
    fn from(outgoing: Outgoing) -> Self {
        Self {
            url: Some(outgoing.url).filter(|url| !url.is_empty()),
            method: "POST".to_owned(),
            headers: vec![
                ("content-type".to_owned(), outgoing.content_type.to_owned()),
                ("user-agent".to_owned(), outgoing.user_agent.to_owned()),
            ],
            body: Bytes::from(outgoing.body),
        }
    }
}

/// The HTTP client simulators post callbacks with.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Posts `outgoing` `times` times, one after the other or all at once.
pub(crate) async fn deliver(
    client: &reqwest::Client,
    outgoing: &Outgoing,
    times: u32,
    concurrent: bool,
) -> Result<Vec<CallbackOutcome>, SimError> {
    if concurrent {
        let posts = (0..times).map(|_| post(client, outgoing));
        return futures::future::join_all(posts).await.into_iter().collect();
    }
    let mut outcomes = Vec::new();
    for _ in 0..times {
        outcomes.push(post(client, outgoing).await?);
    }
    Ok(outcomes)
}

/// Sends `captured` once, exactly as built: its method, every header, its body. Used for
/// protocols whose callbacks carry their own headers (SNAP's `X-SIGNATURE`, DOKU's
/// `Signature`, ...).
pub(crate) async fn send_captured(
    client: &reqwest::Client,
    captured: &CapturedCallback,
) -> Result<CallbackOutcome, SimError> {
    let url = captured.url.as_deref().ok_or(SimError::NoCallbackUrl)?;
    let method = reqwest::Method::from_bytes(captured.method.as_bytes())
        .map_err(|err| SimError::Delivery(err.to_string()))?;
    let mut request = client.request(method, url);
    for (name, value) in &captured.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request
        .body(captured.body.clone())
        .send()
        .await
        .map_err(|err| SimError::Delivery(err.without_url().to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|err| SimError::Delivery(err.without_url().to_string()))?;
    tracing::debug!(to = %origin(url), status, "callback posted");
    Ok(CallbackOutcome { status, body })
}

/// Where a callback went, without its path: a callback URL may carry a secret (PrivyID's
/// last segment is the only proof its callbacks carry).
fn origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => "an unparsable URL".to_owned(),
    }
}

async fn post(client: &reqwest::Client, outgoing: &Outgoing) -> Result<CallbackOutcome, SimError> {
    let response = client
        .post(&outgoing.url)
        .header(reqwest::header::CONTENT_TYPE, outgoing.content_type)
        .header(reqwest::header::USER_AGENT, outgoing.user_agent)
        .body(outgoing.body.clone())
        .send()
        .await
        .map_err(|err| SimError::Delivery(err.without_url().to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|err| SimError::Delivery(err.without_url().to_string()))?;
    tracing::debug!(to = %origin(&outgoing.url), status, "callback posted");
    Ok(CallbackOutcome { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_partial_sandbox_json() -> Result<(), serde_json::Error> {
        let options: CallbackOptions = serde_json::from_str(r#"{"tamper":"wrong_key"}"#)?;
        assert_eq!(options, CallbackOptions::tampered(Tamper::WrongKey));
        let options: CallbackOptions = serde_json::from_str(r#"{"times":3,"concurrent":true}"#)?;
        assert_eq!(options, CallbackOptions::repeated(3, true));
        Ok(())
    }
}
