//! SNAP mode, BNI calling us (B.4): its token requests, payment notifications (svc 25)
//! and, for gateway-held bills, inquiries (svc 24); and our SNAP answers to them.
//!
//! Endpoints are told apart by the end of the callback sub-path, so any prefix BNI puts
//! before them works: `…access-token/b2b`, `…transfer-va/payment`, `…transfer-va/inquiry`.

use adapter_snap::codec::{SnapAmount, TimestampStyle, format_timestamp, parse_timestamp};
use adapter_snap::{ResponseCode, answer};
use contracts::inbound::{
    AckOutcome, BillView, EventKind, Inbound, InboundEvent, InboundRequest, InboundResponse,
    Lookup, Notification, Refusal, ResourceRef,
};
use contracts::{Amount, ErrorKind, OurReference, ProviderError};
use serde_json::{Map, Value, json};

use crate::config::Bills;
use crate::snap::{Layout, SnapBni, service, text_of};

/// Which endpoint of ours BNI called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    Payment,
    Inquiry,
}

impl Endpoint {
    pub(crate) fn of(request: &InboundRequest) -> Option<Endpoint> {
        let path = request.sub_path.trim_end_matches('/');
        if path.ends_with("access-token/b2b") {
            Some(Endpoint::Token)
        } else if path.ends_with("transfer-va/payment") {
            Some(Endpoint::Payment)
        } else if path.ends_with("transfer-va/inquiry") {
            Some(Endpoint::Inquiry)
        } else {
            None
        }
    }

    fn service(self) -> u8 {
        match self {
            Endpoint::Token => 73,
            Endpoint::Payment => service::PAYMENT,
            Endpoint::Inquiry => service::INQUIRY,
        }
    }
}

/// A field problem in a request, as SNAP states it (B.6 `400xx01`/`400xx02`).
fn field_error(service: u8, case: u8, field: &str) -> ProviderError {
    let message = if case == 2 {
        format!("Invalid Mandatory Field {{{field}}}")
    } else {
        format!("Invalid Field Format {{{field}}}")
    };
    ProviderError::with_code(
        ErrorKind::Rejected,
        ResponseCode::new(400, service, case).to_string(),
        message,
    )
}

impl SnapBni {
    pub(crate) fn verify_and_parse(
        &self,
        request: &InboundRequest,
    ) -> Result<Inbound, ProviderError> {
        let endpoint = match Endpoint::of(request) {
            Some(Endpoint::Inquiry) if self.bills == Bills::Bank => None,
            other => other,
        };
        let Some(endpoint) = endpoint else {
            return Err(ProviderError::new(
                ErrorKind::Rejected,
                "no BNI SNAP endpoint at this callback path",
            ));
        };
        if endpoint == Endpoint::Token {
            return Ok(Inbound::Reply(self.inbound.answer_token_request(request)));
        }
        let svc = endpoint.service();
        let verified = self
            .inbound
            .verify(request)
            .map_err(|rejection| rejection.into_provider_error(svc))?;
        let body = read_body(&request.body, svc)?;
        let request_id = Some(verified.external_id);
        match endpoint {
            Endpoint::Payment => {
                let event = payment_event(&self.layout, body)?;
                Ok(Inbound::Events(
                    Notification::new(vec![event]).with_request_id(request_id),
                ))
            }
            _ => {
                let va_number = identity(&self.layout, &body, svc)?;
                required_text(&body, "inquiryRequestId", svc)?;
                let resource = ResourceRef::VirtualAccount {
                    reference: None,
                    provider_reference: None,
                    va_number: Some(va_number),
                };
                Ok(Inbound::Lookup(Lookup::new(resource, request_id)))
            }
        }
    }
}

fn read_body(body: &[u8], svc: u8) -> Result<Value, ProviderError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(ProviderError::with_code(
            ErrorKind::Rejected,
            ResponseCode::new(400, svc, 0).to_string(),
            "Bad Request",
        )),
    }
}

fn required_text(body: &Value, field: &str, svc: u8) -> Result<String, ProviderError> {
    match &body[field] {
        Value::Null => Err(field_error(svc, 2, field)),
        value => text_of(value).ok_or_else(|| field_error(svc, 1, field)),
    }
}

/// The VA number (no spaces) of the identity triple, which must be one of ours:
/// `partnerServiceId` ours, `customerNo` digits (a bare number is zero-padded, B.5
/// leniency), `virtualAccountNo` their concatenation.
fn identity(layout: &Layout, body: &Value, svc: u8) -> Result<String, ProviderError> {
    let psid = match &body["partnerServiceId"] {
        Value::Null => return Err(field_error(svc, 2, "partnerServiceId")),
        value => text_of(value).ok_or_else(|| field_error(svc, 1, "partnerServiceId"))?,
    };
    if psid.trim() != layout.psid {
        return Err(field_error(svc, 1, "partnerServiceId"));
    }
    let customer_no = match &body["customerNo"] {
        Value::Null => return Err(field_error(svc, 2, "customerNo")),
        Value::Number(n) => n
            .as_u64()
            .map(|n| format!("{n:0width$}", width = usize::from(layout.digits))),
        Value::String(text) => Some(text.trim().to_owned()),
        _ => None,
    }
    .filter(|c| c.len() == usize::from(layout.digits) && c.bytes().all(|b| b.is_ascii_digit()))
    .ok_or_else(|| field_error(svc, 1, "customerNo"))?;
    let va_number = layout.va_number(&customer_no);
    match &body["virtualAccountNo"] {
        Value::Null => {}
        value => {
            let sent = text_of(value).ok_or_else(|| field_error(svc, 1, "virtualAccountNo"))?;
            if layout.customer_no_of(&sent).as_deref() != Some(customer_no.as_str()) {
                return Err(field_error(svc, 1, "virtualAccountNo"));
            }
        }
    }
    Ok(va_number)
}

fn amount(body: &Value, field: &str, svc: u8) -> Result<Option<Amount>, ProviderError> {
    match &body[field] {
        Value::Null => Ok(None),
        value => serde_json::from_value::<SnapAmount>(value.clone())
            .ok()
            .and_then(|a| a.rupiah().ok())
            .map(Some)
            .ok_or_else(|| field_error(svc, 1, field)),
    }
}

/// The payment notification (B.4) as one `VaPayment` event.
fn payment_event(layout: &Layout, body: Value) -> Result<InboundEvent, ProviderError> {
    let svc = service::PAYMENT;
    let va_number = identity(layout, &body, svc)?;
    let request_id = required_text(&body, "paymentRequestId", svc)?;
    let paid =
        amount(&body, "paidAmount", svc)?.ok_or_else(|| field_error(svc, 2, "paidAmount"))?;
    if paid == Amount::ZERO {
        return Err(field_error(svc, 1, "paidAmount"));
    }
    let paid_at = match &body["trxDateTime"] {
        Value::Null => None,
        value => Some(
            value
                .as_str()
                .and_then(parse_timestamp)
                .ok_or_else(|| field_error(svc, 1, "trxDateTime"))?,
        ),
    };
    let trx_id = match &body["trxId"] {
        Value::Null => None,
        value => Some(text_of(value).ok_or_else(|| field_error(svc, 1, "trxId"))?),
    };
    let kind = EventKind::VaPayment {
        amount: paid,
        cumulative: amount(&body, "cumulativePaymentAmount", svc)?,
        billed: amount(&body, "totalAmount", svc)?,
        paid_at,
        payment_reference: text_of(&body["referenceNo"]),
    };
    let resource = ResourceRef::VirtualAccount {
        reference: trx_id.map(OurReference),
        provider_reference: None,
        va_number: Some(va_number),
    };
    Ok(InboundEvent::new(
        resource,
        kind,
        format!("payment:{request_id}"),
        body,
    ))
}

/// The SNAP answer to `request` for `outcome` (B.4, B.6), with the service code of the
/// endpoint called.
pub(crate) fn acknowledge(
    layout: &Layout,
    request: &InboundRequest,
    outcome: &AckOutcome,
) -> InboundResponse {
    let svc = Endpoint::of(request).map_or(0, Endpoint::service);
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let code = |http, case| ResponseCode::new(http, svc, case);
    match outcome {
        AckOutcome::Accepted => {
            let data = payment_echo(&body, "00", "Success", "Sukses");
            answer(code(200, 0), "Successful", with_data(data))
        }
        AckOutcome::Bill(view) => answer(
            code(200, 0),
            "Successful",
            with_data(bill(layout, &body, view)),
        ),
        AckOutcome::Refused(refusal) => refused(svc, &body, *refusal),
        AckOutcome::Replayed => answer(code(409, 0), "Conflict", Map::new()),
        AckOutcome::Rejected(err) => {
            let rejected = err
                .provider_code
                .as_deref()
                .and_then(ResponseCode::parse)
                .unwrap_or(code(400, 0));
            answer(rejected, &err.message, Map::new())
        }
        AckOutcome::RetryLater => retry_later(svc),
        // An outcome added later: ask BNI to come back rather than lose a payment.
        _ => retry_later(svc),
    }
}

fn retry_later(svc: u8) -> InboundResponse {
    answer(
        ResponseCode::new(500, svc, 1),
        "Internal Server Error",
        Map::new(),
    )
}

fn with_data(data: Map<String, Value>) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("virtualAccountData".to_owned(), Value::Object(data));
    fields.insert("additionalInfo".to_owned(), json!({}));
    fields
}

/// B.4's answer data: the request's fields echoed, with the payment flag.
fn payment_echo(body: &Value, flag: &str, english: &str, indonesia: &str) -> Map<String, Value> {
    let mut data = Map::new();
    for field in [
        "partnerServiceId",
        "customerNo",
        "virtualAccountNo",
        "virtualAccountName",
        "trxId",
        "paymentRequestId",
        "paidAmount",
        "totalAmount",
        "trxDateTime",
        "referenceNo",
        "flagAdvise",
    ] {
        if let Some(value) = body.get(field) {
            data.insert(field.to_owned(), value.clone());
        }
    }
    data.insert("paymentFlagStatus".to_owned(), json!(flag));
    data.insert(
        "paymentFlagReason".to_owned(),
        json!({"english": english, "indonesia": indonesia}),
    );
    data
}

/// The inquiry answer (svc 24): what the bill owes.
fn bill(layout: &Layout, body: &Value, view: &BillView) -> Map<String, Value> {
    let mut data = Map::new();
    let triple = layout
        .customer_no_of(&view.va_number)
        .map(|customer_no| layout.triple(&customer_no));
    let echo = |field: &str, ours: Option<&str>| {
        body.get(field)
            .cloned()
            .or_else(|| ours.map(|text| json!(text)))
            .unwrap_or(Value::Null)
    };
    let triple_field = |pick: fn(&crate::snap::Triple) -> &str| triple.as_ref().map(pick);
    data.insert(
        "partnerServiceId".to_owned(),
        echo("partnerServiceId", triple_field(|t| &t.partner_service_id)),
    );
    data.insert(
        "customerNo".to_owned(),
        echo("customerNo", triple_field(|t| &t.customer_no)),
    );
    data.insert(
        "virtualAccountNo".to_owned(),
        echo("virtualAccountNo", triple_field(|t| &t.virtual_account_no)),
    );
    data.insert("virtualAccountName".to_owned(), json!(view.customer_name));
    data.insert("trxId".to_owned(), json!(view.reference.as_str()));
    data.insert(
        "totalAmount".to_owned(),
        json!(SnapAmount::idr(view.amount)),
    );
    data.insert(
        "inquiryRequestId".to_owned(),
        echo("inquiryRequestId", None),
    );
    data.insert(
        "expiredDate".to_owned(),
        json!(format_timestamp(view.expires_at, TimestampStyle::Jakarta)),
    );
    data.insert("inquiryStatus".to_owned(), json!("00"));
    data.insert(
        "inquiryReason".to_owned(),
        json!({"english": "Success", "indonesia": "Sukses"}),
    );
    data
}

/// `404xx..` refusals (B.4); payment answers carry `paymentFlagStatus` `01`, inquiry
/// answers `inquiryStatus` `01`, each with the reason.
fn refused(svc: u8, body: &Value, refusal: Refusal) -> InboundResponse {
    let (case, message, english, indonesia) = match refusal {
        Refusal::UnknownBill => (
            12,
            "Invalid Bill/Virtual Account [Not Found]",
            "Bill not found",
            "Tagihan tidak ditemukan",
        ),
        Refusal::Cancelled => (
            12,
            "Invalid Bill/Virtual Account [Blocked]",
            "Bill cancelled",
            "Tagihan dibatalkan",
        ),
        Refusal::Expired => (
            19,
            "Invalid Bill/Virtual Account",
            "Bill expired",
            "Tagihan kedaluwarsa",
        ),
        Refusal::AlreadyPaid => (
            14,
            "Paid Bill",
            "Bill already paid",
            "Tagihan sudah dibayar",
        ),
        Refusal::AmountMismatch => (
            13,
            "Invalid Amount",
            "Invalid amount",
            "Jumlah tidak sesuai",
        ),
        Refusal::Inconsistent => (
            18,
            "Inconsistent Request",
            "Inconsistent request",
            "Permintaan tidak konsisten",
        ),
        _ => return retry_later(svc),
    };
    let data = if svc == service::INQUIRY {
        let mut data = Map::new();
        for field in [
            "partnerServiceId",
            "customerNo",
            "virtualAccountNo",
            "inquiryRequestId",
        ] {
            if let Some(value) = body.get(field) {
                data.insert(field.to_owned(), value.clone());
            }
        }
        data.insert("inquiryStatus".to_owned(), json!("01"));
        data.insert(
            "inquiryReason".to_owned(),
            json!({"english": english, "indonesia": indonesia}),
        );
        data
    } else {
        payment_echo(body, "01", english, indonesia)
    };
    answer(ResponseCode::new(404, svc, case), message, with_data(data))
}
