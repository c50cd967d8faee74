//! AstraPay calling us (1.12): our B2B token endpoint, the direct-debit notify (service 56,
//! 1.8) and the QRIS notify (service 52, 1.9): verify, parse, acknowledge.
//!
//! AstraPay first asks `…/access-token/b2b` for a token, signing `clientKey|timestamp`
//! with its RSA key; then it posts each notification with that Bearer token and an
//! HMAC-SHA512 signature keyed with the secret we issued. Which path it signs is not
//! documented (1.12, 1.14 #5): the verifier accepts the full path as received and the
//! path below the instance's callback root.

use adapter_snap::code::ResponseCode;
use adapter_snap::codec::parse_timestamp;
use adapter_snap::inbound::{SnapInbound, answer};
use contracts::inbound::{
    AckOutcome, EventKind, Inbound, InboundEvent, InboundRequest, InboundResponse, Notification,
    ResourceRef,
};
use contracts::payment::ProviderPaymentState;
use contracts::{ErrorKind, OurReference, ProviderError, ProviderReference};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::convert::{Method, charged_amount, non_empty, payment_state};
use crate::wire::{NO_TIP, PaymentView};

/// The answer AstraPay expects to a stored notification (1.8).
const ACCEPTED_MESSAGE: &str = "Request has been processed successfully";

/// The callback endpoints, told apart by the end of the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `…/access-token/b2b` (service 73).
    Token,
    /// `…/debit/notify` (service 56).
    DebitNotify,
    /// `…/qr/qr-mpm-notify` (service 52).
    QrNotify,
}

impl Endpoint {
    /// The endpoint `request` is for, by its `sub_path` suffix.
    pub(crate) fn of(request: &InboundRequest) -> Option<Endpoint> {
        let path = request.sub_path.trim_end_matches('/');
        if path.ends_with("access-token/b2b") {
            Some(Endpoint::Token)
        } else if path.ends_with("debit/notify") {
            Some(Endpoint::DebitNotify)
        } else if path.ends_with("qr/qr-mpm-notify") {
            Some(Endpoint::QrNotify)
        } else {
            None
        }
    }

    /// The SNAP service code of answers on this endpoint.
    pub(crate) fn service(self) -> u8 {
        match self {
            Endpoint::Token => 73,
            Endpoint::DebitNotify => 56,
            Endpoint::QrNotify => 52,
        }
    }
}

/// The service code of the endpoint `request` is for; `00` for an unknown path.
fn service_of(request: &InboundRequest) -> u8 {
    Endpoint::of(request).map_or(0, Endpoint::service)
}

/// Answers a token request, or verifies a notification and parses its one event.
pub(crate) fn verify_and_parse(
    inbound: &SnapInbound,
    request: &InboundRequest,
    now: OffsetDateTime,
) -> Result<Inbound, ProviderError> {
    let (endpoint, method) = match Endpoint::of(request) {
        None => {
            return Err(ProviderError::new(
                ErrorKind::Rejected,
                "not an AstraPay callback path",
            ));
        }
        Some(Endpoint::Token) => {
            return Ok(Inbound::Reply(
                inbound.answer_token_request_at(request, now),
            ));
        }
        Some(endpoint @ Endpoint::DebitNotify) => (endpoint, Method::Debit),
        Some(endpoint @ Endpoint::QrNotify) => (endpoint, Method::Qris),
    };
    let verified = inbound
        .verify_at(request, now)
        .map_err(|rejection| rejection.into_provider_error(endpoint.service()))?;
    let event = parse(endpoint.service(), method, &request.body)?;
    Ok(Inbound::Events(
        Notification::new(vec![event]).with_request_id(Some(verified.external_id)),
    ))
}

/// One verified notification body as its `PaymentUpdate` event.
fn parse(service: u8, method: Method, body: &[u8]) -> Result<InboundEvent, ProviderError> {
    let payload: Value = serde_json::from_slice(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| refusal(service, 0, "Bad Request"))?;
    let view: PaymentView = serde_json::from_value(payload.clone())
        .map_err(|_| refusal(service, 1, "Invalid Field Format"))?;
    let reference = non_empty(view.original_partner_reference_no.clone()).ok_or_else(|| {
        refusal(
            service,
            2,
            "Invalid Mandatory Field {originalPartnerReferenceNo}",
        )
    })?;
    let status = non_empty(view.latest_transaction_status.clone()).ok_or_else(|| {
        refusal(
            service,
            2,
            "Invalid Mandatory Field {latestTransactionStatus}",
        )
    })?;
    let amount =
        charged_amount(&view).map_err(|_| refusal(service, 1, "Invalid Field Format {amount}"))?;
    let state = payment_state(&status, method, false);
    let paid = matches!(
        state,
        ProviderPaymentState::Paid
            | ProviderPaymentState::Refunded
            | ProviderPaymentState::PartiallyRefunded
    );
    let paid_at = view
        .finished_time
        .as_deref()
        .or(view.paid_time.as_deref())
        .and_then(parse_timestamp);
    let kind = EventKind::PaymentUpdate {
        state,
        amount: amount.filter(|_| paid),
        paid_at: paid_at.filter(|_| paid),
        provider_status: status.clone(),
    };
    let resource = ResourceRef::Payment {
        provider_reference: non_empty(view.original_reference_no).map(ProviderReference),
        reference: Some(OurReference(reference.clone())),
    };
    Ok(InboundEvent::new(
        resource,
        kind,
        format!("{reference}:{status}"),
        payload,
    ))
}

/// A well-signed body we cannot use, with the SNAP code AstraPay will be answered.
fn refusal(service: u8, case: u8, message: &str) -> ProviderError {
    ProviderError::with_code(
        ErrorKind::Rejected,
        ResponseCode::new(400, service, case).to_string(),
        message,
    )
}

/// The SNAP answer to `request` for `outcome`, with the service code of its endpoint.
///
/// | outcome | answer |
/// |---|---|
/// | Accepted, debit notify | `2005600` "Request has been processed successfully" (1.8) |
/// | Accepted, QRIS notify | `2005200` with `additionalInfo.tip` echoed, else `"0.00"` (1.9) |
/// | Rejected with a SNAP code of ours (verification, field errors) | that code and message |
/// | Rejected otherwise, Refused | `400xx00` Bad Request |
/// | Replayed (`X-EXTERNAL-ID` reused) | `409xx00` Conflict (1.11) |
/// | RetryLater | `500xx01` Internal Server Error: AstraPay should send it again |
/// | anything else | `500xx00` General Error |
pub(crate) fn acknowledge(request: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
    let service = service_of(request);
    let code = |http, case| ResponseCode::new(http, service, case);
    match outcome {
        AckOutcome::Accepted => accepted(request, code(200, 0)),
        AckOutcome::Rejected(err) => match snap_code(err, service) {
            Some(own) => answer(own, &err.message, Map::new()),
            None => answer(code(400, 0), "Bad Request", Map::new()),
        },
        AckOutcome::Refused(_) => answer(code(400, 0), "Bad Request", Map::new()),
        AckOutcome::Replayed => answer(code(409, 0), "Conflict", Map::new()),
        AckOutcome::RetryLater => answer(code(500, 1), "Internal Server Error", Map::new()),
        _ => answer(code(500, 0), "General Error", Map::new()),
    }
}

fn accepted(request: &InboundRequest, code: ResponseCode) -> InboundResponse {
    let mut fields = Map::new();
    if Endpoint::of(request) == Some(Endpoint::QrNotify) {
        let mut info = Map::new();
        info.insert("tip".to_owned(), Value::String(tip_of(&request.body)));
        fields.insert("additionalInfo".to_owned(), Value::Object(info));
    }
    answer(code, ACCEPTED_MESSAGE, fields)
}

/// The notification's `additionalInfo.tip`, for the QRIS answer to echo.
fn tip_of(body: &[u8]) -> String {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match body.pointer("/additionalInfo/tip") {
        Some(Value::String(tip)) if !tip.trim().is_empty() => tip.clone(),
        Some(Value::Number(tip)) => tip.to_string(),
        _ => NO_TIP.to_owned(),
    }
}

/// The 4xx SNAP code an error of ours carries for this endpoint's service, if any.
fn snap_code(err: &ProviderError, service: u8) -> Option<ResponseCode> {
    err.provider_code
        .as_deref()
        .and_then(ResponseCode::parse)
        .filter(|code| (400..500).contains(&code.http) && code.service == service)
}
