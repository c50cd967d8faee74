//! Inbound: the subscription handshake (3.5), the signed status webhook (3.6, 3.7), and
//! the acknowledgements Meta expects.
//!
//! Steps of a `POST`: verify the signature on the raw bytes → parse the envelope → one
//! event per `statuses[]` object with a known status.

use contracts::inbound::{
    AckOutcome, EventKind, Inbound, InboundEvent, InboundRequest, InboundResponse, Notification,
    ResourceRef,
};
use contracts::{ErrorKind, ProviderError, ProviderReference};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::convert::{delivery_state, timestamp};
use crate::error::meaning;
use crate::signature::{self, SignatureError};
use crate::wire::{Status, StatusError, Webhook};

/// The header Meta signs deliveries with (3.6).
pub(crate) const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// The longest `hub.challenge` echoed back (Meta sends a number, 3.5).
const MAX_CHALLENGE_BYTES: usize = 1024;

/// The secrets inbound requests are checked with.
pub(crate) struct Secrets {
    pub(crate) app_secret: SecretString,
    pub(crate) verify_token: SecretString,
}

fn invalid(message: &'static str) -> ProviderError {
    ProviderError::new(ErrorKind::InvalidSignature, message)
}

fn rejected(message: &'static str) -> ProviderError {
    ProviderError::new(ErrorKind::Rejected, message)
}

/// Verifies and parses one request to the callback root.
pub(crate) fn verify_and_parse(
    secrets: &Secrets,
    request: &InboundRequest,
) -> Result<Inbound, ProviderError> {
    if !request.sub_path.is_empty() {
        return Err(rejected("whatsapp calls the callback root only"));
    }
    match request.method.as_str() {
        "GET" => handshake(&secrets.verify_token, query(&request.path)).map(Inbound::Reply),
        "POST" => {
            verify_signature(&secrets.app_secret, request)?;
            parse(&request.body).map(Inbound::Events)
        }
        _ => Err(rejected(
            "whatsapp sends GET handshakes and POST deliveries only",
        )),
    }
}

/// The query string of the received path, if any.
fn query(path: &str) -> &str {
    path.split_once('?').map_or("", |(_, query)| query)
}

/// The first value of `name` in `query`, percent-decoded.
fn param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// 3.5: `hub.mode=subscribe` and our verify token (compared in constant time) → `200`
/// with the raw challenge as plain text.
fn handshake(verify_token: &SecretString, query: &str) -> Result<InboundResponse, ProviderError> {
    let token = param(query, "hub.verify_token").unwrap_or_default();
    let matches: bool = token
        .as_bytes()
        .ct_eq(verify_token.expose_secret().as_bytes())
        .into();
    if !matches {
        return Err(invalid(
            "whatsapp handshake: the verify token does not match",
        ));
    }
    if param(query, "hub.mode").as_deref() != Some("subscribe") {
        return Err(rejected(
            "whatsapp handshake: hub.mode is not \"subscribe\"",
        ));
    }
    let challenge = param(query, "hub.challenge").unwrap_or_default();
    if challenge.is_empty()
        || challenge.len() > MAX_CHALLENGE_BYTES
        || challenge.chars().any(char::is_control)
    {
        return Err(rejected(
            "whatsapp handshake: hub.challenge is missing or unusable",
        ));
    }
    Ok(InboundResponse::text(200, challenge))
}

/// 3.6: `X-Hub-Signature-256` over the raw body.
fn verify_signature(
    app_secret: &SecretString,
    request: &InboundRequest,
) -> Result<(), ProviderError> {
    let header = request
        .header(SIGNATURE_HEADER)
        .ok_or_else(|| invalid("whatsapp delivery: X-Hub-Signature-256 is missing"))?;
    signature::verify(app_secret, &request.body, header).map_err(|err| match err {
        SignatureError::Malformed => invalid("whatsapp delivery: X-Hub-Signature-256 is malformed"),
        SignatureError::Mismatch => {
            invalid("whatsapp delivery: X-Hub-Signature-256 does not match the body")
        }
    })
}

/// 3.7: one event per known status; user messages and unknown statuses yield none.
fn parse(body: &[u8]) -> Result<Notification, ProviderError> {
    let webhook: Webhook = serde_json::from_slice(body)
        .map_err(|_| rejected("whatsapp delivery: not a webhook envelope"))?;
    let values = webhook
        .entry
        .into_iter()
        .flat_map(|entry| entry.changes)
        .filter_map(|change| change.value);
    let mut events = Vec::new();
    for value in values {
        for error in &value.errors {
            // A failure without message context: nothing to apply it to (3.7).
            tracing::warn!(
                code = error.code,
                "whatsapp reported an error without a message"
            );
        }
        events.extend(value.statuses.into_iter().filter_map(event));
    }
    Ok(Notification::new(events))
}

/// The event of one `statuses[]` object, or `None` (logged without personal data) when its
/// status is unknown or it lacks the id or status.
fn event(payload: serde_json::Value) -> Option<InboundEvent> {
    let Ok(status) = serde_json::from_value::<Status>(payload.clone()) else {
        tracing::warn!("whatsapp status without a usable id or status skipped");
        return None;
    };
    let Some(state) = delivery_state(&status.status) else {
        tracing::info!(status = %status.status, "whatsapp status not applied");
        return None;
    };
    let at = status.timestamp.as_ref().and_then(timestamp);
    let error = status.errors.first().map(describe);
    Some(InboundEvent::new(
        ResourceRef::Message {
            provider_reference: ProviderReference(status.id.clone()),
        },
        EventKind::MessageStatus { state, at, error },
        format!("{}:{}", status.id, status.status),
        payload,
    ))
}

/// `"<code>: <title>"`, the title falling back on the code table.
fn describe(error: &StatusError) -> String {
    let title = error
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| meaning(error.code));
    format!("{}: {title}", error.code)
}

/// The answer Meta expects: 200 for what is stored (or nothing to store), non-2xx to make
/// it retry (3.6). A refused handshake is a 403 (3.5).
pub(crate) fn acknowledge(request: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
    let handshake = request.method == "GET";
    match outcome {
        AckOutcome::Rejected(_) if handshake => InboundResponse::text(403, "Forbidden"),
        AckOutcome::Rejected(err) if err.kind == ErrorKind::InvalidSignature => {
            InboundResponse::text(401, "Unauthorized")
        }
        AckOutcome::Rejected(_) => InboundResponse::text(400, "Bad Request"),
        AckOutcome::RetryLater => InboundResponse::text(503, "Service Unavailable"),
        _ => InboundResponse::text(200, "OK"),
    }
}
