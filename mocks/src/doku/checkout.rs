//! DOKU non-SNAP: the `Signature` header of 2.3, and DOKU Checkout (2.5 create, 2.6
//! status, 2.7 notification, 2.9 idempotency, 2.10 errors).

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

use crate::callback::SimError;
use crate::wib;

const UTC_SECONDS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// `Request-Timestamp` / `Response-Timestamp` form: UTC, literal `Z`, whole seconds (2.2).
pub fn utc_timestamp(at: OffsetDateTime) -> String {
    // Formatting a valid date with a fixed, literal description cannot fail.
    at.to_offset(time::UtcOffset::UTC)
        .format(UTC_SECONDS)
        .unwrap_or_default()
}

/// `base64(SHA-256(body))`, the `Digest` line of 2.3.
pub fn digest(body: &[u8]) -> String {
    BASE64.encode(Sha256::digest(body))
}

/// The 2.3 component string: `Client-Id`, `Request-Id`, `{timestamp_name}` (the request's
/// `Request-Timestamp` or the response's `Response-Timestamp`), `Request-Target` and, when
/// there is a body, `Digest`; LF joins, no trailing LF.
pub fn component(
    client_id: &str,
    request_id: &str,
    timestamp_name: &str,
    timestamp: &str,
    target: &str,
    body: Option<&[u8]>,
) -> String {
    let mut text = format!(
        "Client-Id:{client_id}\nRequest-Id:{request_id}\n{timestamp_name}:{timestamp}\nRequest-Target:{target}"
    );
    if let Some(body) = body {
        text.push_str("\nDigest:");
        text.push_str(&digest(body));
    }
    text
}

/// `HMACSHA256=` + base64(HMAC-SHA256(secret, component)) (2.3).
pub fn signature(secret: &str, component: &str) -> String {
    let mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map(|mut mac| {
        mac.update(component.as_bytes());
        mac.finalize().into_bytes().to_vec()
    });
    format!("HMACSHA256={}", BASE64.encode(mac.unwrap_or_default()))
}

/// The `Signature` of a request (`Request-Timestamp` variant); `body` is `None` for GET.
pub fn request_signature(
    secret: &str,
    client_id: &str,
    request_id: &str,
    timestamp: &str,
    target: &str,
    body: Option<&[u8]>,
) -> String {
    let text = component(
        client_id,
        request_id,
        "Request-Timestamp",
        timestamp,
        target,
        body,
    );
    signature(secret, &text)
}

/// A refusal: HTTP status and the Checkout error body.
pub(crate) type Refusal = (StatusCode, Value);

/// A Checkout error: the `message[]` array the plugins read, plus the `error` object of the
/// Direct API shape (2.10), so a client reading either finds the reason.
pub(crate) fn refusal(status: StatusCode, code: &str, message: &str) -> Refusal {
    let kind = if status == StatusCode::UNAUTHORIZED {
        "authentication_error"
    } else {
        "invalid_request_error"
    };
    (
        status,
        json!({
            "message": [message],
            "error": {"code": code, "message": message, "type": kind},
        }),
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
}

/// The checked headers of a request.
pub(crate) struct Signed {
    pub(crate) request_id: String,
}

/// Checks a request as 2.3 and 2.12 say: `Client-Id` the merchant's, `Request-Id` at most
/// 128 characters, `Request-Timestamp` UTC `…Z` without fractions, and the `Signature` over
/// the component string with `Request-Target` = `target` (the path called) and, when
/// `body` is `Some`, its `Digest` over the raw bytes. 400 for a missing or malformed header,
/// 401 for an unknown client or a wrong signature.
pub(crate) fn verify_request(
    headers: &HeaderMap,
    client_id: &str,
    secret: &str,
    target: &str,
    body: Option<&[u8]>,
) -> Result<Signed, Refusal> {
    let mandatory = |name: &str| {
        header(headers, name).ok_or_else(|| {
            refusal(
                StatusCode::BAD_REQUEST,
                "invalid_header",
                &format!("{name} header is required"),
            )
        })
    };
    let sent_client = mandatory("client-id")?;
    let request_id = mandatory("request-id")?;
    let stamp = mandatory("request-timestamp")?;
    let sent_signature = mandatory("signature")?;
    if request_id.chars().count() > 128 {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "invalid_header",
            "Request-Id must be at most 128 characters",
        ));
    }
    let stamp_ok = time::PrimitiveDateTime::parse(stamp, UTC_SECONDS).is_ok();
    if !stamp_ok {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "invalid_header",
            "Request-Timestamp must be UTC like 2020-08-11T08:45:42Z",
        ));
    }
    if sent_client != client_id {
        return Err(refusal(
            StatusCode::UNAUTHORIZED,
            "invalid_client_id",
            "Invalid Client-Id",
        ));
    }
    let expected = request_signature(secret, sent_client, request_id, stamp, target, body);
    if !bool::from(expected.as_bytes().ct_eq(sent_signature.trim().as_bytes())) {
        return Err(refusal(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "Invalid Header Signature",
        ));
    }
    Ok(Signed {
        request_id: request_id.to_owned(),
    })
}

/// Where a checkout stands (2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckoutState {
    /// Waiting for the customer.
    Pending,
    /// Paid.
    Success,
    /// The payment failed.
    Failed,
    /// Its `payment_due_date` passed unpaid.
    Expired,
}

impl CheckoutState {
    /// DOKU's `transaction.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckoutState::Pending => "PENDING",
            CheckoutState::Success => "SUCCESS",
            CheckoutState::Failed => "FAILED",
            CheckoutState::Expired => "EXPIRED",
        }
    }
}

/// A checkout as the simulated DOKU holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutView {
    /// `order.invoice_number`: the merchant's reference.
    pub invoice_number: String,
    /// `order.amount`, whole rupiah.
    pub amount: i64,
    /// The `Request-Id` of the create call (`transaction.original_request_id`).
    pub request_id: String,
    /// `payment.token_id`.
    pub token_id: String,
    /// `payment.url`: where the customer pays.
    pub url: String,
    /// When it expires unpaid.
    pub expires_at: OffsetDateTime,
    /// Where it stands.
    pub state: CheckoutState,
    /// The channel the customer paid with (`VIRTUAL_ACCOUNT_BCA`, …), once completed or failed.
    pub channel: Option<String>,
    /// Whether the merchant answered the last notification with a 2xx.
    pub acknowledged: bool,
}

#[derive(Clone, Debug)]
struct Checkout {
    view: CheckoutView,
    method_types: Vec<String>,
    settled_at: Option<OffsetDateTime>,
    va_number: String,
}

impl Checkout {
    fn state(&self, now: OffsetDateTime) -> CheckoutState {
        match self.view.state {
            CheckoutState::Pending if now >= self.view.expires_at => CheckoutState::Expired,
            state => state,
        }
    }
}

/// A cached answer for one `Request-Id` (2.9).
#[derive(Clone, Debug)]
struct Cached {
    body_digest: String,
    answer: Value,
}

/// Every checkout by invoice, and the answers by `Request-Id`.
#[derive(Debug, Default)]
pub(crate) struct CheckoutLedger {
    checkouts: Vec<Checkout>,
    by_invoice: HashMap<String, usize>,
    answers: HashMap<String, Cached>,
}

/// What a create needs beyond the body.
pub(crate) struct CreateContext<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) signature: &'a str,
    pub(crate) pay_base_url: &'a str,
    pub(crate) now: OffsetDateTime,
}

fn bad(message: &str) -> Refusal {
    refusal(StatusCode::BAD_REQUEST, "invalid_parameter", message)
}

impl CheckoutLedger {
    /// The answer already given to `request_id`: the same body with HTTP 409 when `body`
    /// is the same (2.9), a 409 refusal when it differs; `None` for a new `Request-Id`.
    pub(crate) fn replay(&self, request_id: &str, body: &[u8]) -> Option<Refusal> {
        let cached = self.answers.get(request_id)?;
        if cached.body_digest == digest(body) {
            return Some((StatusCode::CONFLICT, cached.answer.clone()));
        }
        Some(refusal(
            StatusCode::CONFLICT,
            "duplicate_request_id",
            "Request-Id was already used with another body",
        ))
    }

    /// Remembers the answer given to `request_id`.
    pub(crate) fn remember(&mut self, request_id: &str, body: &[u8], answer: &Value) {
        self.answers.insert(
            request_id.to_owned(),
            Cached {
                body_digest: digest(body),
                answer: answer.clone(),
            },
        );
    }

    /// `POST /checkout/v1/payment` (2.5): `order.amount` (positive whole number),
    /// `order.invoice_number` (1–64 characters) and `payment.payment_due_date` (positive
    /// minutes) are required; `order.currency`, when given, is `IDR`. An invoice already
    /// held is a 409 (`invoice_number_already_used`).
    pub(crate) fn create(
        &mut self,
        body: &[u8],
        context: &CreateContext<'_>,
    ) -> Result<Value, Refusal> {
        let request: Value =
            serde_json::from_slice(body).map_err(|_| bad("Request body is not valid JSON"))?;
        let order = request
            .get("order")
            .filter(|o| o.is_object())
            .ok_or_else(|| bad("order is required"))?;
        let amount = order
            .get("amount")
            .ok_or_else(|| bad("order.amount is required"))?
            .as_i64()
            .filter(|amount| *amount > 0)
            .ok_or_else(|| bad("order.amount must be a positive whole number"))?;
        let invoice = order
            .get("invoice_number")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("order.invoice_number is required"))?;
        if invoice.is_empty() || invoice.chars().count() > 64 {
            return Err(bad("order.invoice_number must be 1 to 64 characters"));
        }
        if order
            .get("currency")
            .is_some_and(|currency| currency.as_str() != Some("IDR"))
        {
            return Err(bad("order.currency must be IDR"));
        }
        let payment = request.get("payment").filter(|p| p.is_object());
        let due_minutes = payment
            .and_then(|p| p.get("payment_due_date"))
            .ok_or_else(|| bad("payment.payment_due_date is required"))?
            .as_i64()
            .filter(|minutes| *minutes > 0)
            .ok_or_else(|| bad("payment.payment_due_date must be a positive number of minutes"))?;
        let method_types: Vec<String> = payment
            .and_then(|p| p.get("payment_method_types"))
            .and_then(Value::as_array)
            .map(|types| {
                types
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if self.by_invoice.contains_key(invoice) {
            return Err(refusal(
                StatusCode::CONFLICT,
                "invoice_number_already_used",
                "Invoice number already used",
            ));
        }
        let now = context.now;
        let token_id = random_hex(32);
        let expires_at = now + time::Duration::minutes(due_minutes);
        let view = CheckoutView {
            invoice_number: invoice.to_owned(),
            amount,
            request_id: context.request_id.to_owned(),
            url: format!("{}/{token_id}", context.pay_base_url.trim_end_matches('/')),
            token_id,
            expires_at,
            state: CheckoutState::Pending,
            channel: None,
            acknowledged: false,
        };
        let answer = json!({
            "message": ["SUCCESS"],
            "response": {
                "order": {
                    "amount": amount.to_string(),
                    "invoice_number": invoice,
                    "currency": "IDR",
                    "session_id": random_hex(16),
                },
                "payment": {
                    "payment_method_types": method_types,
                    "payment_due_date": due_minutes,
                    "token_id": view.token_id,
                    "url": view.url,
                    "expired_date": wib::stamp(expires_at),
                },
                "uuid": rand::rng().random_range(1_000_000_000_000_000_000u64..10_000_000_000_000_000_000),
                "headers": {
                    "request_id": context.request_id,
                    "signature": context.signature,
                    "date": utc_timestamp(now),
                    "client_id": context.client_id,
                },
            },
        });
        let index = self.checkouts.len();
        self.checkouts.push(Checkout {
            view,
            method_types,
            settled_at: None,
            va_number: random_digits(16),
        });
        self.by_invoice.insert(invoice.to_owned(), index);
        Ok(answer)
    }

    /// `GET /orders/v1/status/{invoice}` (2.6): 404 for an unknown invoice.
    pub(crate) fn status(&self, invoice: &str, now: OffsetDateTime) -> Result<Value, Refusal> {
        let checkout = self
            .by_invoice
            .get(invoice)
            .map(|index| &self.checkouts[*index])
            .ok_or_else(|| refusal(StatusCode::NOT_FOUND, "not_found", "Order not found"))?;
        let state = checkout.state(now);
        let mut answer = json!({
            "order": {"invoice_number": checkout.view.invoice_number, "amount": checkout.view.amount},
            "transaction": {
                "status": state.as_str(),
                "date": utc_timestamp(checkout.settled_at.unwrap_or(now)),
                "original_request_id": checkout.view.request_id,
            },
        });
        if let (Some(fields), Some(channel)) = (answer.as_object_mut(), &checkout.view.channel) {
            fields.extend(channel_blocks(channel));
        }
        Ok(answer)
    }

    /// Settles the pending checkout of `invoice` as `state` and returns its 2.7 notification
    /// body.
    pub(crate) fn settle(
        &mut self,
        invoice: &str,
        state: CheckoutState,
        now: OffsetDateTime,
    ) -> Result<Value, SimError> {
        let index = *self
            .by_invoice
            .get(invoice)
            .ok_or_else(|| SimError::NotFound(invoice.to_owned()))?;
        let checkout = &mut self.checkouts[index];
        let current = checkout.state(now);
        // Only a pending checkout settles; expiring on request works before the due date.
        if current != CheckoutState::Pending {
            return Err(SimError::NotPayable {
                reference: invoice.to_owned(),
                state: match current {
                    CheckoutState::Pending => "pending",
                    CheckoutState::Success => "paid",
                    CheckoutState::Failed => "failed",
                    CheckoutState::Expired => "expired",
                },
            });
        }
        checkout.view.state = state;
        checkout.settled_at = Some(now);
        checkout.view.acknowledged = false;
        if state != CheckoutState::Expired {
            let channel = checkout
                .method_types
                .iter()
                .find(|kind| kind.starts_with("VIRTUAL_ACCOUNT_"))
                .cloned()
                .unwrap_or_else(|| "VIRTUAL_ACCOUNT_BCA".to_owned());
            checkout.view.channel = Some(channel);
        }
        self.notification(invoice)
    }

    /// The 2.7 notification body about the settled checkout of `invoice`.
    pub(crate) fn notification(&self, invoice: &str) -> Result<Value, SimError> {
        let checkout = self
            .by_invoice
            .get(invoice)
            .map(|index| &self.checkouts[*index])
            .ok_or_else(|| SimError::NotFound(invoice.to_owned()))?;
        let settled_at = checkout
            .settled_at
            .ok_or_else(|| SimError::NothingToRedeliver(invoice.to_owned()))?;
        let mut body = serde_json::Map::new();
        let channel = checkout.view.channel.clone();
        if let Some(channel) = &channel {
            body.extend(channel_blocks(channel));
        }
        body.insert(
            "transaction".to_owned(),
            json!({
                "status": checkout.view.state.as_str(),
                "date": utc_timestamp(settled_at),
                "original_request_id": checkout.view.request_id,
            }),
        );
        body.insert(
            "order".to_owned(),
            json!({"invoice_number": checkout.view.invoice_number, "amount": checkout.view.amount}),
        );
        if channel.is_some() {
            body.insert(
                "virtual_account_info".to_owned(),
                json!({"virtual_account_number": checkout.va_number}),
            );
            body.insert(
                "virtual_account_payment".to_owned(),
                json!({
                    "date": wib::stamp(settled_at),
                    "systrace_number": random_digits(6),
                    "reference_number": random_digits(5),
                    "channel_code": "",
                }),
            );
        }
        Ok(Value::Object(body))
    }

    pub(crate) fn acknowledge(&mut self, invoice: &str) {
        if let Some(index) = self.by_invoice.get(invoice) {
            self.checkouts[*index].view.acknowledged = true;
        }
    }

    pub(crate) fn view(&self, invoice: &str, now: OffsetDateTime) -> Option<CheckoutView> {
        let checkout = &self.checkouts[*self.by_invoice.get(invoice)?];
        let mut view = checkout.view.clone();
        view.state = checkout.state(now);
        Some(view)
    }

    /// How many checkouts carry `invoice`.
    pub(crate) fn count_for(&self, invoice: &str) -> usize {
        self.checkouts
            .iter()
            .filter(|c| c.view.invoice_number == invoice)
            .count()
    }
}

/// `service`, `acquirer` and `channel` of a checkout paid through `channel`.
fn channel_blocks(channel: &str) -> serde_json::Map<String, Value> {
    let acquirer = channel.trim_start_matches("VIRTUAL_ACCOUNT_");
    let mut blocks = serde_json::Map::new();
    blocks.insert("service".to_owned(), json!({"id": "VIRTUAL_ACCOUNT"}));
    blocks.insert("acquirer".to_owned(), json!({"id": acquirer}));
    blocks.insert("channel".to_owned(), json!({"id": channel}));
    blocks
}

fn random_digits(count: usize) -> String {
    let mut rng = rand::rng();
    (0..count)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// A fresh `Request-Id`: a random UUID v4 in text form.
pub(crate) fn request_id() -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
