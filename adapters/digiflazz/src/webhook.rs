//! Inbound: Digiflazz's webhooks (§1.5) and the answers it gets.
//!
//! Steps: verify `X-Hub-Signature` on the raw body (HMAC-SHA1 under the webhook secret,
//! constant time, `sha1=` prefix optional) → `POST` only → a body without `data` is the
//! ping sent when the webhook is saved, answered 200 → otherwise one
//! [`EventKind::BillUpdate`] about `data.ref_id`.

use contracts::inbound::{
    AckOutcome, EventKind, Inbound, InboundEvent, InboundRequest, InboundResponse, Notification,
    ResourceRef,
};
use contracts::{ErrorKind, ProviderError};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::convert;
use crate::signature;

/// Verifies and parses one webhook.
pub(crate) fn verify_and_parse(
    secret: &SecretString,
    request: &InboundRequest,
) -> Result<Inbound, ProviderError> {
    let signed = request
        .header("x-hub-signature")
        .is_some_and(|header| signature::verify_webhook(secret, header, &request.body));
    if !signed {
        return Err(ProviderError::new(
            ErrorKind::InvalidSignature,
            "digiflazz webhook: X-Hub-Signature is missing or does not match the body",
        ));
    }
    if !request.method.eq_ignore_ascii_case("POST") {
        return Err(rejected("digiflazz webhooks are POST requests"));
    }
    let body: Value = serde_json::from_slice(&request.body)
        .map_err(|_| rejected("digiflazz webhook: the body is not JSON"))?;
    let Some(fields) = body.as_object() else {
        return Err(rejected("digiflazz webhook: the body is not a JSON object"));
    };
    tracing::debug!(
        event = request.header("x-digiflazz-event").unwrap_or(""),
        delivery = request.header("x-digiflazz-delivery").unwrap_or(""),
        "digiflazz webhook verified"
    );
    let Some(data) = fields.get("data") else {
        tracing::info!("digiflazz webhook ping acknowledged");
        return Ok(Inbound::Reply(ok()));
    };
    let event = event(is_postpaid(request, data), data.clone(), body.clone())?;
    Ok(Inbound::Events(Notification::new(vec![event])))
}

fn rejected(message: &'static str) -> ProviderError {
    ProviderError::new(ErrorKind::Rejected, message)
}

/// Postpaid webhooks come from `DigiFlazz-Pasca-Hookshot` (compared case-insensitively,
/// §1.5) and carry the pay-pasca shape (`selling_price`, `desc`).
fn is_postpaid(request: &InboundRequest, data: &Value) -> bool {
    let agent = request
        .header("user-agent")
        .unwrap_or("")
        .to_ascii_lowercase();
    agent.contains("pasca-hookshot") || data.get("desc").is_some_and(Value::is_object)
}

/// One event, keyed `"<ref_id>:<status>:<rc>:<sn>"` so that a redelivery of the same
/// state is de-duplicated and each change is new.
fn event(postpaid: bool, data: Value, payload: Value) -> Result<InboundEvent, ProviderError> {
    let field = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let event_id = format!(
        "{}:{}:{}:{}",
        field("ref_id"),
        field("status"),
        field("rc"),
        field("sn")
    );
    let transaction = convert::reported(data, postpaid).map_err(|err| {
        tracing::warn!(error = %err, "digiflazz webhook unusable");
        rejected("digiflazz webhook: data is not a transaction Digiflazz reports")
    })?;
    tracing::info!(
        rc = %transaction.provider_status,
        postpaid,
        "digiflazz webhook parsed"
    );
    Ok(InboundEvent::new(
        ResourceRef::BillPayment {
            reference: transaction.reference.clone(),
            provider_reference: transaction.provider_reference.clone(),
        },
        EventKind::BillUpdate {
            transaction: Box::new(transaction),
        },
        event_id,
        payload,
    ))
}

fn ok() -> InboundResponse {
    InboundResponse::json(200, &json!({"status": "ok"}))
}

/// The answers Digiflazz gets: 200 for what is stored (or nothing to store), 401 for a bad
/// signature, 400 for an unusable body, 503 to have it try again.
pub(crate) fn acknowledge(outcome: &AckOutcome) -> InboundResponse {
    match outcome {
        AckOutcome::Rejected(err) if err.kind == ErrorKind::InvalidSignature => {
            InboundResponse::json(
                401,
                &json!({"status": "error", "message": "invalid signature"}),
            )
        }
        AckOutcome::Rejected(_) => {
            InboundResponse::json(400, &json!({"status": "error", "message": "bad request"}))
        }
        AckOutcome::RetryLater => {
            InboundResponse::json(503, &json!({"status": "error", "message": "try again"}))
        }
        _ => ok(),
    }
}
