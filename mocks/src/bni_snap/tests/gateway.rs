//! A small stand-in for the gateway's SNAP endpoints, written from B.4 with the
//! `crate::snap` primitives: it issues B2B tokens to the bank (RSA over `key|timestamp`,
//! verified with BNI's public key), verifies notifications (token + HMAC, or RSA without a
//! token), refuses a reused `X-EXTERNAL-ID` with `409xx00`, and answers inquiries (svc 24)
//! and payments (svc 25) like a merchant holding bills.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::keys;
use crate::server::{self, Running};
use crate::snap;

/// The id the gateway issued to the bank.
pub(super) const ISSUED_ID: &str = "GW-ISSUED-ID";
/// The HMAC key the gateway issued to the bank.
pub(super) const ISSUED_SECRET: &str = "GW-ISSUED-SECRET";
/// Where the fake gateway serves, under its own prefix (signed paths include it).
pub(super) const PREFIX: &str = "/callbacks/bni_snap/v1.0";

/// One request the gateway received.
#[derive(Clone, Debug)]
pub(super) struct Received {
    pub(super) path: String,
    pub(super) headers: HeaderMap,
    pub(super) body: Value,
}

impl Received {
    pub(super) fn header(&self, name: &str) -> Option<String> {
        let value = self.headers.get(name)?.to_str().ok()?;
        Some(value.to_owned())
    }
}

#[derive(Default)]
struct State_ {
    asymmetric: bool,
    tokens: HashSet<String>,
    external_ids: HashSet<String>,
    /// virtualAccountNo → (name, total) of the bills the gateway holds (host-to-host).
    bills: HashMap<String, (String, i64)>,
    /// paymentRequestId → virtualAccountNo and amount of the payments taken.
    paid: HashMap<String, (String, i64)>,
    refuse_payments: bool,
    received: Vec<Received>,
}

#[derive(Clone)]
pub(super) struct FakeGateway {
    state: Arc<Mutex<State_>>,
}

pub(super) struct Urls {
    pub(super) token: String,
    pub(super) inquiry: String,
    pub(super) payment: String,
}

impl FakeGateway {
    pub(super) async fn spawn(asymmetric: bool) -> (Self, Urls, Running) {
        let gateway = Self {
            state: Arc::new(Mutex::new(State_ {
                asymmetric,
                ..State_::default()
            })),
        };
        let router = Router::new()
            .route(&format!("{PREFIX}/access-token/b2b"), post(token))
            .route(&format!("{PREFIX}/transfer-va/inquiry"), post(inquiry))
            .route(&format!("{PREFIX}/transfer-va/payment"), post(payment))
            .with_state(gateway.clone());
        let running = server::spawn(router, server::any_local_port())
            .await
            .expect("bind");
        let base = format!("{}{PREFIX}", running.base_url);
        let urls = Urls {
            token: format!("{base}/access-token/b2b"),
            inquiry: format!("{base}/transfer-va/inquiry"),
            payment: format!("{base}/transfer-va/payment"),
        };
        (gateway, urls, running)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State_> {
        self.state.lock().expect("lock")
    }

    pub(super) fn hold_bill(&self, virtual_account_no: &str, name: &str, total: i64) {
        let bill = (name.to_owned(), total);
        self.lock()
            .bills
            .insert(virtual_account_no.to_owned(), bill);
    }

    pub(super) fn refuse_payments(&self, refuse: bool) {
        self.lock().refuse_payments = refuse;
    }

    pub(super) fn forget_tokens(&self) {
        self.lock().tokens.clear();
    }

    pub(super) fn received(&self, path_end: &str) -> Vec<Received> {
        let state = self.lock();
        let matching = state.received.iter().filter(|r| r.path.ends_with(path_end));
        matching.cloned().collect()
    }

    pub(super) fn payments_taken(&self) -> usize {
        self.lock().paid.len()
    }

    fn record(&self, path: &str, headers: &HeaderMap, body: &[u8]) {
        let body = serde_json::from_slice(body).unwrap_or(Value::Null);
        let received = Received {
            path: path.to_owned(),
            headers: headers.clone(),
            body,
        };
        self.lock().received.push(received);
    }

    /// B.4's checks up to the external id, in order: timestamp, token, signature,
    /// partner, `X-EXTERNAL-ID` once.
    fn verify(
        &self,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        svc: u8,
    ) -> Result<(), (StatusCode, Value)> {
        let refuse =
            |http: u16, case: u8, message: &str| snap::error_answer(http, svc, case, message);
        let text = |name: &str| {
            let value = headers.get(name).and_then(|v| v.to_str().ok());
            value.unwrap_or_default().to_owned()
        };
        let stamp = text("x-timestamp");
        let fresh = snap::parse_timestamp(&stamp)
            .is_some_and(|at| (time::OffsetDateTime::now_utc() - at).whole_seconds().abs() <= 300);
        if !fresh {
            return Err(refuse(401, 0, "Unauthorized. [Timestamp]"));
        }
        let hash = snap::body_hash(body);
        let signature = text("x-signature");
        let asymmetric = self.lock().asymmetric;
        let signed = if asymmetric {
            let message = format!("POST:{path}:{hash}:{stamp}");
            snap::rsa_verify_b64(keys::BNI.public_pem, message.as_bytes(), &signature)
        } else {
            let authorization = text("authorization");
            let token = authorization.strip_prefix("Bearer ").unwrap_or_default();
            if !self.lock().tokens.contains(token) {
                return Err(refuse(401, 1, "Invalid Token (B2B)"));
            }
            let message = format!("POST:{path}:{token}:{hash}:{stamp}");
            snap::hmac_sha512_b64(ISSUED_SECRET.as_bytes(), &message) == signature
        };
        if !signed || text("x-partner-id") != ISSUED_ID {
            return Err(refuse(401, 0, "Unauthorized. [Signature]"));
        }
        if !self.lock().external_ids.insert(text("x-external-id")) {
            return Err(refuse(409, 0, "Conflict"));
        }
        Ok(())
    }
}

async fn token(State(gateway): State<FakeGateway>, headers: HeaderMap, body: Bytes) -> Response {
    gateway.record("access-token", &headers, &body);
    let text = |name: &str| {
        let value = headers.get(name).and_then(|v| v.to_str().ok());
        value.unwrap_or_default().to_owned()
    };
    let message = format!("{}|{}", text("x-client-key"), text("x-timestamp"));
    let verified = snap::rsa_verify_b64(
        keys::BNI.public_pem,
        message.as_bytes(),
        &text("x-signature"),
    );
    if text("x-client-key") != ISSUED_ID || !verified {
        let (status, body) = snap::error_answer(401, 73, 0, "Unauthorized. [Signature]");
        return (status, axum::Json(body)).into_response();
    }
    let token = format!("TOKEN-{}", snap::external_id());
    gateway.lock().tokens.insert(token.clone());
    let answer = json!({
        "responseCode": "2007300",
        "responseMessage": "Successful",
        "accessToken": token,
        "tokenType": "Bearer",
        "expiresIn": "900",
    });
    axum::Json(answer).into_response()
}

async fn inquiry(
    State(gateway): State<FakeGateway>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    gateway.record(uri.path(), &headers, &body);
    if let Err((status, refusal)) = gateway.verify(uri.path(), &headers, &body, 24) {
        return (status, axum::Json(refusal)).into_response();
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let number = request["virtualAccountNo"].as_str().unwrap_or_default();
    let bill = gateway.lock().bills.get(number).cloned();
    let Some((name, total)) = bill else {
        let (status, body) = snap::error_answer(404, 24, 12, "Invalid Bill/Virtual Account");
        return (status, axum::Json(body)).into_response();
    };
    let answer = json!({
        "responseCode": "2002400",
        "responseMessage": "Successful",
        "virtualAccountData": {
            "partnerServiceId": request["partnerServiceId"],
            "customerNo": request["customerNo"],
            "virtualAccountNo": number,
            "virtualAccountName": name,
            "inquiryRequestId": request["inquiryRequestId"],
            "totalAmount": snap::amount(total),
            "inquiryStatus": "00",
        },
        "additionalInfo": {},
    });
    axum::Json(answer).into_response()
}

async fn payment(
    State(gateway): State<FakeGateway>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    gateway.record(uri.path(), &headers, &body);
    if let Err((status, refusal)) = gateway.verify(uri.path(), &headers, &body, 25) {
        return (status, axum::Json(refusal)).into_response();
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let number = request["virtualAccountNo"].as_str().unwrap_or_default();
    let request_id = request["paymentRequestId"].as_str().unwrap_or_default();
    let paid = snap::parse_amount(&request["paidAmount"]).unwrap_or(-1);
    let mut state = gateway.lock();
    let refuse = |case: u8, message: &str| {
        let (status, body) = snap::error_answer(404, 25, case, message);
        (status, axum::Json(body)).into_response()
    };
    if state.refuse_payments {
        return refuse(13, "Invalid Amount");
    }
    let repeat = state.paid.get(request_id).cloned();
    if repeat.is_none() {
        if let Some((_, total)) = state.bills.get(number) {
            if paid != *total {
                return refuse(13, "Invalid Amount");
            }
            if state.paid.values().any(|(n, _)| n == number) {
                return refuse(14, "Paid Bill");
            }
        }
        state
            .paid
            .insert(request_id.to_owned(), (number.to_owned(), paid));
    }
    let answer = json!({
        "responseCode": "2002500",
        "responseMessage": "Successful",
        "virtualAccountData": {
            "virtualAccountNo": number,
            "paymentRequestId": request_id,
            "paidAmount": request["paidAmount"],
            "paymentFlagStatus": "00",
            "paymentFlagReason": {"english": "Success", "indonesia": "Sukses"},
        },
        "additionalInfo": {},
    });
    (StatusCode::OK, axum::Json(answer)).into_response()
}
