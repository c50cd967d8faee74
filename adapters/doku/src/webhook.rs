//! DOKU's calls to the gateway, told apart by the path below the instance's callback root:
//!
//! | sub-path | what | verified by |
//! |---|---|---|
//! | `…access-token/b2b` | DOKU asks for a B2B token before a SNAP notification (2.11.7) | RSA, DOKU's key ([`adapter_snap::inbound::SnapInbound`]) |
//! | `…transfer-va/payment` | SNAP VA payment notification (2.11.7) | our token + HMAC-SHA512 |
//! | `""` (the root) | non-SNAP HTTP notification of a Checkout payment (2.7) | `Signature` HMAC-SHA256 (2.3) |
//!
//! A request at the root that carries SNAP's `X-SIGNATURE` and no non-SNAP `Signature`
//! header is read as a SNAP VA notification, for a notification URL configured without
//! the service path.

use adapter_snap::code::ResponseCode;
use adapter_snap::codec::parse_timestamp;
use adapter_snap::inbound::answer;
use contracts::inbound::{
    AckOutcome, EventKind, InboundEvent, InboundRequest, InboundResponse, Refusal, ResourceRef,
};
use contracts::{Amount, ErrorKind, OurReference, ProviderError};
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::convert::{parse_doku_date, payment_state, without_spaces};
use crate::signature::{self, Components};
use crate::wire::{OrderStatus, VaData};

/// The SNAP service code of the payment notification (B.1).
pub(crate) const PAYMENT_SERVICE: u8 = 25;
/// The SNAP service code of the token endpoint (B.1).
const TOKEN_SERVICE: u8 = 73;
/// DOKU's SDK answers a bad token on the notification with service code 27 (2.11.7).
const BAD_TOKEN_SERVICE: u8 = 27;
/// How far a Checkout notification's `Request-Timestamp` may be from the time it arrived,
/// both ways. DOKU publishes no window (2.13 #2); this is the SNAP one (B.4).
const CHECKOUT_MAX_SKEW: time::Duration = time::Duration::minutes(5);

/// Which of DOKU's calls a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// The B2B token request.
    Token,
    /// The SNAP VA payment notification.
    VaPayment,
    /// The non-SNAP Checkout notification.
    Checkout,
    /// A path DOKU does not call.
    Unknown,
}

/// Tells DOKU's calls apart by `sub_path` (see the module docs).
pub(crate) fn route(request: &InboundRequest) -> Route {
    let sub_path = request.sub_path.trim_end_matches('/');
    if sub_path.ends_with("access-token/b2b") {
        Route::Token
    } else if sub_path.ends_with("transfer-va/payment") {
        Route::VaPayment
    } else if !sub_path.is_empty() {
        Route::Unknown
    } else if request.header("X-SIGNATURE").is_some() && request.header("Signature").is_none() {
        Route::VaPayment
    } else {
        Route::Checkout
    }
}

// ---- SNAP VA payment (2.11.7) -----------------------------------------------------------

/// The event of a verified SNAP VA payment notification. The body is read leniently (13
/// keys in DOKU's SDK, any more ignored); `paidAmount` and an id (`trxId` or the VA
/// number) are required.
pub(crate) fn parse_va_payment(body: &[u8]) -> Result<InboundEvent, ProviderError> {
    let payload: Value =
        serde_json::from_slice(body).map_err(|_| rejected("the body is not JSON"))?;
    if !payload.is_object() {
        return Err(rejected("the body is not a JSON object"));
    }
    let data: VaData = serde_json::from_value(payload.clone())
        .map_err(|_| rejected("the body is not a VA payment"))?;
    let amount = data
        .paid_amount
        .as_ref()
        .ok_or_else(|| rejected("paidAmount is missing"))?
        .rupiah()
        .map_err(|_| rejected("paidAmount is not whole rupiah in IDR"))?;
    let va_number = va_number(&data);
    let reference = data
        .trx_id
        .clone()
        .filter(|id| !id.is_empty())
        .map(OurReference);
    if reference.is_none() && va_number.is_none() {
        return Err(rejected("neither trxId nor the VA number is present"));
    }
    let event_key = data
        .payment_request_id
        .clone()
        .filter(|id| !id.is_empty())
        .or_else(|| reference.as_ref().map(|r| r.0.clone()))
        .ok_or_else(|| rejected("neither paymentRequestId nor trxId is present"))?;
    let kind = EventKind::VaPayment {
        amount,
        cumulative: None,
        billed: None,
        paid_at: data.trx_date_time.as_deref().and_then(parse_timestamp),
        payment_reference: data.payment_request_id.clone(),
    };
    let resource = ResourceRef::VirtualAccount {
        reference,
        provider_reference: None,
        va_number,
    };
    Ok(InboundEvent::new(
        resource,
        kind,
        format!("va:{event_key}"),
        payload,
    ))
}

/// `partnerServiceId` (padding removed) + `customerNo`, else `virtualAccountNo` without
/// its spaces.
fn va_number(data: &VaData) -> Option<String> {
    let psid = data.partner_service_id.as_deref().map(without_spaces);
    let customer_no = data.customer_no.as_deref().map(without_spaces);
    let joined = match (psid, customer_no) {
        (Some(psid), Some(customer_no)) if !customer_no.is_empty() => {
            Some(format!("{psid}{customer_no}"))
        }
        _ => data.virtual_account_no.as_deref().map(without_spaces),
    };
    joined.filter(|number| !number.is_empty())
}

/// The SNAP answer to a VA payment notification for `outcome` (2.11.7, B.4, B.6).
pub(crate) fn ack_va_payment(request: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
    let code = |http, case| ResponseCode::new(http, PAYMENT_SERVICE, case);
    match outcome {
        AckOutcome::Accepted => answer(code(200, 0), "success", va_echo(request, true)),
        AckOutcome::Rejected(err) => ack_va_rejection(request, err),
        AckOutcome::Replayed => answer(code(409, 0), "Conflict", Map::new()),
        AckOutcome::Refused(refusal) => {
            let (case, message) = refusal_code(*refusal);
            answer(code(404, case), message, va_echo(request, true))
        }
        AckOutcome::RetryLater => answer(code(500, 1), "Internal Server Error", Map::new()),
        // A bill view answers an inquiry, which DOKU does not send here; anything new is
        // not known to be stored, so DOKU should send it again.
        _ => answer(code(500, 0), "General Error", Map::new()),
    }
}

/// A refused notification keeps the SNAP code it was refused with, as DOKU's SDK answers
/// it: a bad token `4012701` (service 27, 2.11.7), other codes re-keyed to service 25.
fn ack_va_rejection(request: &InboundRequest, err: &ProviderError) -> InboundResponse {
    let given = err.provider_code.as_deref().and_then(ResponseCode::parse);
    let (code, message) = match given {
        Some(given) if given.http == 401 && given.case == 1 => (
            ResponseCode::new(401, BAD_TOKEN_SERVICE, 1),
            "Invalid Token (B2B)".to_owned(),
        ),
        Some(given) => (
            ResponseCode::new(given.http, PAYMENT_SERVICE, given.case),
            err.message.clone(),
        ),
        None if err.kind == ErrorKind::InvalidSignature => (
            ResponseCode::new(401, PAYMENT_SERVICE, 0),
            "Unauthorized. [Signature]".to_owned(),
        ),
        None => (
            ResponseCode::new(400, PAYMENT_SERVICE, 0),
            "Bad Request".to_owned(),
        ),
    };
    let fields = if code.http == 401 {
        va_echo(request, false)
    } else {
        Map::new()
    };
    answer(code, &message, fields)
}

fn refusal_code(refusal: Refusal) -> (u8, &'static str) {
    match refusal {
        Refusal::Expired => (19, "Invalid Bill/Virtual Account [Expired]"),
        Refusal::AlreadyPaid => (14, "Paid Bill"),
        Refusal::AmountMismatch => (13, "Invalid Amount"),
        Refusal::Inconsistent => (18, "Inconsistent Request"),
        Refusal::UnknownBill | Refusal::Cancelled => (12, "Invalid Bill/Virtual Account"),
        _ => (12, "Invalid Bill/Virtual Account"),
    }
}

/// `virtualAccountData` echoing the notification (2.11.7): the identity, name and
/// `paymentRequestId`, `trxDateTime` null, and `additionalInfo` as received (or null).
fn va_echo(request: &InboundRequest, with_additional_info: bool) -> Map<String, Value> {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let field = |name: &str| body.get(name).cloned().unwrap_or(Value::Null);
    let additional_info = if with_additional_info {
        field("additionalInfo")
    } else {
        Value::Null
    };
    let data = json!({
        "partnerServiceId": field("partnerServiceId"),
        "customerNo": field("customerNo"),
        "virtualAccountNo": field("virtualAccountNo"),
        "virtualAccountName": field("virtualAccountName"),
        "paymentRequestId": field("paymentRequestId"),
        "trxDateTime": Value::Null,
        "additionalInfo": additional_info,
    });
    let mut fields = Map::new();
    fields.insert("virtualAccountData".to_owned(), data);
    fields
}

/// The answer to a token request the adapter did not answer itself (the gateway refused
/// it before the adapter saw it).
pub(crate) fn ack_token(outcome: &AckOutcome) -> InboundResponse {
    let code = |http, case| ResponseCode::new(http, TOKEN_SERVICE, case);
    match outcome {
        AckOutcome::Rejected(err) if err.kind == ErrorKind::InvalidSignature => {
            answer(code(401, 0), "Unauthorized. [Signature]", Map::new())
        }
        AckOutcome::Rejected(_) => answer(code(400, 0), "Bad Request", Map::new()),
        _ => answer(code(500, 0), "General Error", Map::new()),
    }
}

// ---- non-SNAP Checkout notification (2.7) -----------------------------------------------

/// Verifies a Checkout HTTP notification (2.7) and parses it into its event: the
/// `Signature` over DOKU's own headers, `Request-Target` = `notification_path` or the path
/// the request arrived at (without a query), `Digest` over the raw body; constant-time.
/// The signed `Request-Timestamp` must lie within 5 minutes of the request's arrival, so
/// a captured notification cannot be replayed later.
pub(crate) fn verify_checkout(
    config: &Config,
    request: &InboundRequest,
) -> Result<InboundEvent, ProviderError> {
    if !request.method.eq_ignore_ascii_case("POST") {
        return Err(rejected("notifications are POSTed"));
    }
    let header = |name: &'static str| {
        request
            .header(name)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| invalid(&format!("the {name} header is missing")))
    };
    let client_id = header("Client-Id")?;
    let request_id = header("Request-Id")?;
    let timestamp = header("Request-Timestamp")?;
    let signature = header("Signature")?;
    if client_id != config.client_id {
        return Err(invalid("the notification is for another Client-Id"));
    }
    let target = config
        .notification_path
        .as_deref()
        .unwrap_or_else(|| request.path.split('?').next().unwrap_or_default());
    let components = Components {
        client_id,
        request_id,
        timestamp,
        target,
        body: Some(&request.body),
    };
    if !signature::verify(&config.secret_key, &components, signature) {
        return Err(invalid("the Signature does not match"));
    }
    let signed_at =
        parse_timestamp(timestamp).ok_or_else(|| invalid("Request-Timestamp is unreadable"))?;
    if (request.received_at - signed_at).abs() > CHECKOUT_MAX_SKEW {
        return Err(invalid("Request-Timestamp is outside the allowed window"));
    }
    parse_checkout(&request.body)
}

/// The event of a verified Checkout notification: the payment named by
/// `order.invoice_number`, in the state of `transaction.status` (2.8).
fn parse_checkout(body: &[u8]) -> Result<InboundEvent, ProviderError> {
    let payload: Value =
        serde_json::from_slice(body).map_err(|_| rejected("the body is not JSON"))?;
    let notification: OrderStatus = serde_json::from_value(payload.clone())
        .map_err(|_| rejected("the body is not a DOKU notification"))?;
    let order = notification.order.unwrap_or_default();
    let transaction = notification.transaction.unwrap_or_default();
    let invoice = order
        .invoice_number
        .filter(|invoice| !invoice.is_empty())
        .ok_or_else(|| rejected("order.invoice_number is missing"))?;
    let status = transaction
        .status
        .filter(|status| !status.is_empty())
        .ok_or_else(|| rejected("transaction.status is missing"))?;
    let amount = match order.amount.as_deref() {
        Some(text) => Some(
            Amount::parse_decimal(text)
                .map_err(|_| rejected("order.amount is not whole rupiah"))?,
        ),
        None => None,
    };
    let state = payment_state(&status);
    let paid_at = match state {
        contracts::payment::ProviderPaymentState::Paid => {
            transaction.date.as_deref().and_then(parse_doku_date)
        }
        _ => None,
    };
    let kind = EventKind::PaymentUpdate {
        state,
        amount,
        paid_at,
        provider_status: status.clone(),
    };
    let resource = ResourceRef::Payment {
        reference: Some(OurReference(invoice.clone())),
        provider_reference: None,
    };
    Ok(InboundEvent::new(
        resource,
        kind,
        format!("{invoice}:{status}"),
        payload,
    ))
}

/// The answer to a Checkout notification: any 2xx acknowledges it (2.7), so a stored one
/// gets 200 with the invoice echoed as DOKU's own example does; a bad signature 401, any
/// other refusal 400 (404 for a bill we refuse), and 503 asks DOKU to retry.
pub(crate) fn ack_checkout(request: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
    match outcome {
        AckOutcome::Accepted | AckOutcome::Replayed => {
            let body: OrderStatus = serde_json::from_slice(&request.body).unwrap_or_default();
            let invoice = body.order.and_then(|o| o.invoice_number);
            InboundResponse::json(200, &json!({ "order": { "invoice_number": invoice } }))
        }
        AckOutcome::Rejected(err) if err.kind == ErrorKind::InvalidSignature => {
            error_json(401, "invalid_signature", "Invalid Header Signature")
        }
        AckOutcome::Rejected(_) => error_json(400, "invalid_request", "Notification not accepted"),
        AckOutcome::Refused(_) => error_json(404, "not_found", "Invoice not accepted"),
        _ => error_json(503, "retry_later", "Try again later"),
    }
}

/// The answer to a request on a path DOKU does not call.
pub(crate) fn ack_unknown() -> InboundResponse {
    error_json(404, "not_found", "Unknown notification path")
}

fn error_json(status: u16, code: &str, message: &str) -> InboundResponse {
    InboundResponse::json(
        status,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

fn invalid(message: &str) -> ProviderError {
    ProviderError::new(ErrorKind::InvalidSignature, message)
}

fn rejected(message: &str) -> ProviderError {
    ProviderError::new(ErrorKind::Rejected, message)
}
