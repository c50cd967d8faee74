//! The five `POST` routes of the buyer API (§1.3) and the checks every request passes:
//! a JSON body (`Content-Type: application/json`), the required fields as strings, the
//! username (rc 42), the `sign` (rc 41), then the command's own rules.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::DigiflazzSimulator;
use super::catalogue::{self, SimProduct};
use super::ledger::{Done, Order};
use super::wire::{self, Echo, Refusal};
use crate::faults;

/// What a [`crate::faults::Fault::Malformed`] answers: cut off mid-string.
const MALFORMED: &str = r#"{"data":{"ref_id":"CP"#;

/// The longest `ref_id` the simulator takes (shared decisions: 1–26 upper-case
/// alphanumerics).
const MAX_REF_ID: usize = 26;

/// The banks a deposit ticket may name (§1.3.3).
const BANKS: &[(&str, &str)] = &[
    ("BCA", "6042888890"),
    ("MANDIRI", "1550009910888"),
    ("BRI", "213501000291307"),
    ("BNI", "8000000031"),
    ("FLIP", "8807711223344"),
    ("SHOPEEPAY", "8938011223344"),
];

/// An answer and, for a new transaction, what to announce afterwards.
pub(super) struct Reply {
    data: Value,
    booked: Option<Booked>,
}

/// A transaction a request booked: its `trx_id`, and how it ends when it is pending.
struct Booked {
    trx_id: String,
    pending_end: Option<bool>,
}

impl Reply {
    fn data(data: Value) -> Self {
        Self { data, booked: None }
    }
}

type Fields = Map<String, Value>;

pub(super) async fn cek_saldo(
    State(sim): State<DigiflazzSimulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        sim,
        "cek-saldo",
        &headers,
        &body,
        DigiflazzSimulator::cek_saldo,
    )
    .await
}

pub(super) async fn price_list(
    State(sim): State<DigiflazzSimulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        sim,
        "price-list",
        &headers,
        &body,
        DigiflazzSimulator::price_list,
    )
    .await
}

pub(super) async fn transaction(
    State(sim): State<DigiflazzSimulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = parse(&headers, &body);
    let op = match json.get("commands").and_then(Value::as_str) {
        None => "topup",
        Some("inq-pasca") => "inq-pasca",
        Some("pay-pasca") => "pay-pasca",
        Some("status-pasca") => "status-pasca",
        Some(_) => "transaction",
    };
    serve(
        sim,
        op,
        &headers,
        &body,
        DigiflazzSimulator::run_transaction,
    )
    .await
}

pub(super) async fn inquiry_pln(
    State(sim): State<DigiflazzSimulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        sim,
        "inquiry-pln",
        &headers,
        &body,
        DigiflazzSimulator::inquiry_pln,
    )
    .await
}

pub(super) async fn deposit(
    State(sim): State<DigiflazzSimulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        sim,
        "deposit",
        &headers,
        &body,
        DigiflazzSimulator::deposit_ticket,
    )
    .await
}

/// The common path: fault, count, the command, then the announcement of what it booked.
/// Every business outcome is HTTP 200 with `{"data": …}` (shared decisions).
async fn serve(
    sim: DigiflazzSimulator,
    op: &'static str,
    headers: &HeaderMap,
    body: &Bytes,
    act: fn(&DigiflazzSimulator, &Value) -> Reply,
) -> Response {
    let json = parse(headers, body);
    let fault = sim.inner.faults.take(op);
    faults::apply(fault, MALFORMED, || async move {
        sim.count(op);
        let reply = act(&sim, &json);
        if let Some(booked) = reply.booked {
            sim.follow_up(booked.trx_id, booked.pending_end);
        }
        let body = json!({ "data": reply.data }).to_string();
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    })
    .await
}

/// The body as JSON when it is declared and parses as JSON, else `null` (rc 40).
fn parse(headers: &HeaderMap, body: &[u8]) -> Value {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !declared {
        return Value::Null;
    }
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

fn fields(json: &Value) -> Result<&Fields, Refusal> {
    json.as_object().ok_or(wire::PAYLOAD_ERROR)
}

/// A required string field.
fn text<'a>(fields: &'a Fields, name: &str) -> Result<&'a str, Refusal> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .ok_or(wire::PAYLOAD_ERROR)
}

/// An optional string field.
fn optional_text<'a>(fields: &'a Fields, name: &str) -> Result<Option<&'a str>, Refusal> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(wire::PAYLOAD_ERROR),
    }
}

/// An optional boolean field.
fn optional_bool(fields: &Fields, name: &str) -> Result<Option<bool>, Refusal> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(_) => Err(wire::PAYLOAD_ERROR),
    }
}

/// An optional whole number, not negative.
fn optional_amount(fields: &Fields, name: &str) -> Result<Option<i64>, Refusal> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_i64()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or(wire::PAYLOAD_ERROR),
    }
}

/// Upper-case letters and digits, 1 to 26 of them.
fn valid_ref_id(ref_id: &str) -> bool {
    (1..=MAX_REF_ID).contains(&ref_id.len())
        && ref_id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Digits (SAMSAT pairs joined by a comma; dots only with `allow_dot`).
fn valid_customer_no(customer_no: &str, allow_dot: bool) -> bool {
    !customer_no.is_empty()
        && customer_no
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b',' || (allow_dot && b == b'.'))
}

fn ct_eq(presented: &str, expected: &str) -> bool {
    bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

impl DigiflazzSimulator {
    /// `username` (rc 42) and `sign` = md5(username + key + `suffix`) (rc 41).
    fn authenticate(&self, fields: &Fields, suffix: &str) -> Result<(), Refusal> {
        let username = text(fields, "username")?;
        let sign = text(fields, "sign")?;
        let config = &self.inner.config;
        if !ct_eq(username, &config.username) {
            return Err(wire::BAD_USERNAME);
        }
        let expected = wire::sign(&config.username, &config.api_key, suffix);
        if !ct_eq(sign, &expected) {
            return Err(wire::BAD_SIGN);
        }
        Ok(())
    }

    /// `/v1/cek-saldo` (§1.3.1).
    fn cek_saldo(&self, json: &Value) -> Reply {
        let answer = (|| {
            let fields = fields(json)?;
            let cmd = text(fields, "cmd")?;
            self.authenticate(fields, "depo")?;
            if cmd != "deposit" {
                return Err(wire::PAYLOAD_ERROR);
            }
            Ok(json!({ "deposit": self.state().ledger.deposit }))
        })();
        Reply::data(answer.unwrap_or_else(wire::refused))
    }

    /// `/v1/price-list` (§1.3.2), filtered by `code`, `category`, `brand` and `type`.
    fn price_list(&self, json: &Value) -> Reply {
        let answer = (|| {
            let fields = fields(json)?;
            let cmd = text(fields, "cmd")?;
            self.authenticate(fields, "pricelist")?;
            let postpaid = match cmd {
                "prepaid" => false,
                "pasca" => true,
                _ => return Err(wire::PAYLOAD_ERROR),
            };
            let filters = [
                ("code", optional_text(fields, "code")?),
                ("category", optional_text(fields, "category")?),
                ("brand", optional_text(fields, "brand")?),
                ("type", optional_text(fields, "type")?),
            ];
            let items: Vec<Value> = self
                .inner
                .config
                .products
                .iter()
                .filter(|p| p.postpaid == postpaid && matches_filters(p, &filters))
                .map(price_list_item)
                .collect();
            Ok(Value::Array(items))
        })();
        Reply::data(answer.unwrap_or_else(wire::refused))
    }

    /// `/v1/transaction` (§1.3.4–1.3.7).
    fn run_transaction(&self, json: &Value) -> Reply {
        match self.try_run_transaction(json) {
            Ok(reply) => reply,
            Err(refusal) => {
                let fields = json.as_object();
                let echoed = |name| {
                    fields
                        .and_then(|f| f.get(name))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                };
                let echo = Echo {
                    ref_id: echoed("ref_id"),
                    customer_no: echoed("customer_no"),
                    sku: echoed("buyer_sku_code"),
                };
                let signed = fields.is_some_and(|fields| {
                    let ref_id = fields.get("ref_id").and_then(Value::as_str);
                    ref_id.is_some_and(|ref_id| self.authenticate(fields, ref_id).is_ok())
                });
                let saldo = signed.then(|| self.state().ledger.deposit);
                Reply::data(wire::refused_transaction(refusal, echo, saldo))
            }
        }
    }

    fn try_run_transaction(&self, json: &Value) -> Result<Reply, Refusal> {
        let fields = fields(json)?;
        let ref_id = text(fields, "ref_id")?;
        self.authenticate(fields, ref_id)?;
        if !valid_ref_id(ref_id) {
            return Err(wire::PAYLOAD_ERROR);
        }
        // `testing` is checked for its type only: the simulated deposit always moves.
        optional_bool(fields, "testing")?;
        let allow_dot = optional_bool(fields, "allow_dot")?.unwrap_or(false);
        let order = Order {
            ref_id,
            sku: text(fields, "buyer_sku_code")?,
            customer_no: text(fields, "customer_no")?,
            max_price: optional_amount(fields, "max_price")?,
            cb_url: optional_text(fields, "cb_url")?,
        };
        if !valid_customer_no(order.customer_no, allow_dot) {
            return Err(wire::PAYLOAD_ERROR);
        }
        let products = &self.inner.config.products;
        let command = optional_text(fields, "commands")?;
        let mut state = self.state();
        let ledger = &mut state.ledger;
        let done = match command {
            None => ledger.topup(products, order)?,
            Some("inq-pasca") => ledger.inquire(products, order)?,
            Some("pay-pasca") => ledger.pay(products, order)?,
            Some("status-pasca") => ledger.status(order)?,
            Some(_) => return Err(wire::PAYLOAD_ERROR),
        };
        Ok(match done {
            Done::Answer(data) => Reply::data(data),
            Done::Booked {
                data,
                trx_id,
                pending_end,
            } => Reply {
                data,
                booked: Some(Booked {
                    trx_id,
                    pending_end,
                }),
            },
        })
    }

    /// `/v1/inquiry-pln` (§1.3.8): a customer number ending in `9` is unknown (rc 54).
    fn inquiry_pln(&self, json: &Value) -> Reply {
        let answer = (|| {
            let fields = fields(json)?;
            let customer_no = text(fields, "customer_no")?;
            self.authenticate(fields, customer_no)?;
            if !valid_customer_no(customer_no, false) || customer_no.ends_with('9') {
                return Err(wire::WRONG_NUMBER);
            }
            Ok(pln_customer(customer_no))
        })();
        Reply::data(answer.unwrap_or_else(wire::refused))
    }

    /// `/v1/deposit` (§1.3.3): a transfer ticket; the deposit moves only when the
    /// transfer arrives ([`DigiflazzSimulator::set_deposit`]).
    fn deposit_ticket(&self, json: &Value) -> Reply {
        let answer = (|| {
            let fields = fields(json)?;
            self.authenticate(fields, "deposit")?;
            let amount = optional_amount(fields, "amount")?
                .filter(|amount| *amount > 0)
                .ok_or(wire::PAYLOAD_ERROR)?;
            let bank = text(fields, "bank")?;
            let owner = text(fields, "owner_name")?;
            let (_, account_no) = BANKS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(bank))
                .ok_or(wire::PAYLOAD_ERROR)?;
            if owner.trim().is_empty() {
                return Err(wire::PAYLOAD_ERROR);
            }
            let unique: i64 = rand::random_range(1..=999);
            Ok(json!({
                "rc": "00", "bank": bank, "payment_method": "Bank Transfer",
                "account_no": account_no,
                "notes": format!("DF{}", hex::encode_upper(rand::random::<[u8; 3]>())),
                "amount": amount + unique,
            }))
        })();
        Reply::data(answer.unwrap_or_else(wire::refused))
    }
}

fn matches_filters(product: &SimProduct, filters: &[(&str, Option<&str>)]) -> bool {
    filters.iter().all(|(name, wanted)| {
        let Some(wanted) = wanted else {
            return true;
        };
        let value = match *name {
            "code" => &product.sku,
            "category" => &product.category,
            "brand" => &product.brand,
            _ => &product.kind,
        };
        value.eq_ignore_ascii_case(wanted)
    })
}

/// One item of the price list, in its prepaid or postpaid shape (§1.3.2).
fn price_list_item(product: &SimProduct) -> Value {
    if product.postpaid {
        return json!({
            "product_name": product.name, "category": product.category,
            "brand": product.brand, "seller_name": product.seller_name,
            "admin": product.admin, "commission": product.commission,
            "buyer_sku_code": product.sku,
            "buyer_product_status": product.buyer_product_status,
            "seller_product_status": product.seller_product_status, "desc": product.description,
        });
    }
    json!({
        "product_name": product.name, "category": product.category, "brand": product.brand,
        "type": product.kind, "seller_name": product.seller_name, "price": product.price,
        "buyer_sku_code": product.sku, "buyer_product_status": product.buyer_product_status,
        "seller_product_status": product.seller_product_status, "unlimited_stock": true,
        "stock": 0, "multi": true, "start_cut_off": "23:45", "end_cut_off": "00:15",
        "desc": product.description,
    })
}

/// The PLN customer behind a meter (11 digits) or customer id (12 digits).
fn pln_customer(customer_no: &str) -> Value {
    let padded = format!("{customer_no:0>12}");
    let tail = |n: usize| &padded[padded.len() - n..];
    let meter_no = if customer_no.len() == 11 {
        customer_no.to_owned()
    } else {
        format!("1{}", tail(10))
    };
    let subscriber_id = if customer_no.len() == 12 {
        customer_no.to_owned()
    } else {
        format!("5{}", tail(11))
    };
    json!({
        "message": wire::SUCCESS.1, "status": "Sukses", "rc": wire::SUCCESS.0,
        "customer_no": customer_no, "meter_no": meter_no, "subscriber_id": subscriber_id,
        "name": catalogue::customer_name(customer_no),
        "segment_power": format!("{} /{:09}", catalogue::PLN_TARIFF, catalogue::PLN_POWER_VA),
    })
}
