//! Inbound: PrivyID's callbacks (2.9) and the answers it expects.
//!
//! PrivyID signs nothing. The callback URL registered with it ends in a secret segment,
//! `<gateway>/v1/callbacks/<instance>/<callback_token>`, and that segment (compared in
//! constant time) is the only proof. Even a genuine callback only says "look again": each
//! becomes one [`EventKind::StatusChanged`] the gateway confirms by a status inquiry.
//!
//! Steps: check the path token → `POST` only → parse `{eventName, message, data}` → one
//! event about `data.docToken`, else about `data.userToken`, else none.

use contracts::inbound::{
    AckOutcome, EventKind, Inbound, InboundEvent, InboundRequest, InboundResponse, Notification,
    ResourceRef,
};
use contracts::{ErrorKind, ProviderError, ProviderReference};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::wire::{Callback, CallbackData};

/// What inbound requests are checked with.
pub(crate) struct Callbacks {
    pub(crate) token: SecretString,
}

fn rejected(message: &'static str) -> ProviderError {
    ProviderError::new(ErrorKind::Rejected, message)
}

/// Verifies and parses one callback.
pub(crate) fn verify_and_parse(
    callbacks: &Callbacks,
    request: &InboundRequest,
) -> Result<Inbound, ProviderError> {
    verify_token(&callbacks.token, &request.sub_path)?;
    if !request.method.eq_ignore_ascii_case("POST") {
        return Err(rejected("privyid callbacks are POST requests"));
    }
    let event = parse(&request.body)?;
    Ok(Inbound::Events(Notification::new(
        event.into_iter().collect(),
    )))
}

/// The path segment after the instance must be our callback token, compared in constant
/// time (its length is not secret).
fn verify_token(token: &SecretString, sub_path: &str) -> Result<(), ProviderError> {
    let matches: bool = sub_path
        .as_bytes()
        .ct_eq(token.expose_secret().as_bytes())
        .into();
    if !matches {
        return Err(ProviderError::new(
            ErrorKind::InvalidSignature,
            "privyid callback: the callback token in the path is missing or wrong",
        ));
    }
    Ok(())
}

/// The event of a callback: about the document when `data.docToken` is there, else about
/// the signer when `data.userToken` is; `None` for any other callback.
fn parse(body: &[u8]) -> Result<Option<InboundEvent>, ProviderError> {
    let callback: Callback = serde_json::from_slice(body)
        .map_err(|_| rejected("privyid callback: not a JSON object with eventName"))?;
    let Some(data) = callback.data else {
        tracing::info!(event = %callback.event_name, "privyid callback without data ignored");
        return Ok(None);
    };
    let message = callback.message.as_deref();
    let event_name = callback.event_name.as_str();
    if let Some(doc_token) = non_empty(&data.doc_token) {
        return Ok(Some(document_event(event_name, message, doc_token, &data)));
    }
    if let Some(user_token) = non_empty(&data.user_token) {
        return Ok(Some(signer_event(event_name, message, user_token, &data)));
    }
    tracing::info!(event = %event_name, "privyid callback about nothing known ignored");
    Ok(None)
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A document callback (`document-signed`, `document-rejected`, `document-expired`), keyed
/// `"<eventName>:<docToken>:<documentStatus>:<signatoryStatus,…>"`.
fn document_event(
    event_name: &str,
    message: Option<&str>,
    doc_token: &str,
    data: &CallbackData,
) -> InboundEvent {
    let status = data.document_status.clone().unwrap_or_default();
    let signatories = data
        .recipients
        .iter()
        .flatten()
        .map(|r| r.signatory_status.as_deref().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(",");
    InboundEvent::new(
        ResourceRef::Document {
            provider_reference: ProviderReference(doc_token.to_owned()),
        },
        EventKind::StatusChanged {
            provider_status: status.clone(),
        },
        format!("{event_name}:{doc_token}:{status}:{signatories}"),
        json!({
            "eventName": event_name,
            "message": message,
            "data": {"docToken": doc_token, "documentStatus": status},
        }),
    )
}

/// A registration callback, keyed `"register:<userToken>:<status>:<processedAt>"`. The
/// payload leaves out the identity, e-mail and phone the callback carries.
fn signer_event(
    event_name: &str,
    message: Option<&str>,
    user_token: &str,
    data: &CallbackData,
) -> InboundEvent {
    let status = data.status.clone().unwrap_or_default();
    let processed_at = data.processed_at.as_deref().unwrap_or("");
    InboundEvent::new(
        ResourceRef::Signer {
            provider_reference: ProviderReference(user_token.to_owned()),
        },
        EventKind::StatusChanged {
            provider_status: status.clone(),
        },
        format!("register:{user_token}:{status}:{processed_at}"),
        json!({
            "eventName": event_name,
            "message": message,
            "data": {"userToken": user_token, "status": status},
        }),
    )
}

/// PrivyID's answers: 200 `{"code":200,"message":"OK"}` for what is stored (or nothing to
/// store), 401 for a wrong token, 400 for an unusable callback, 503 to have it try again.
pub(crate) fn acknowledge(outcome: &AckOutcome) -> InboundResponse {
    match outcome {
        AckOutcome::Rejected(err) if err.kind == ErrorKind::InvalidSignature => {
            InboundResponse::json(
                401,
                &json!({"code": 401, "errors": [], "message": "Unauthorized"}),
            )
        }
        AckOutcome::Rejected(_) => InboundResponse::json(
            400,
            &json!({"code": 400, "errors": [], "message": "Bad Request"}),
        ),
        AckOutcome::RetryLater => {
            InboundResponse::json(503, &json!({"code": 503, "message": "Try again later"}))
        }
        _ => InboundResponse::json(200, &json!({"code": 200, "message": "OK"})),
    }
}
