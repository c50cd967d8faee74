//! A small Digiflazz client written from the protocol and the shared decisions alone, for
//! running the biller conformance suite against the simulator in this crate's tests: it
//! proves the suite passes a client that follows the protocol, and catches one that does
//! not.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use contracts::biller::{
    BillInquiry, BillPeriod, BillerOrder, BillerProduct, BillerTransaction, BillerTxState,
    CustomerInfo, SettlementRecord,
};
use contracts::inbound::{
    AckOutcome, EventKind, Inbound, InboundEvent, InboundRequest, InboundResponse, Notification,
    ResourceRef, Trust,
};
use contracts::{
    Amount, Biller, ErrorKind, InboundNotifications, OurReference, ProviderError, ProviderReference,
};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use time::{Date, OffsetDateTime};

use super::super::{hub_signature, sign};

/// What the `#[async_trait]` methods return, written out (mocks has no async-trait).
type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// The rc codes that book nothing (shared decisions, "RC mapping").
fn formed_tidak(rc: &str) -> Option<ErrorKind> {
    match rc {
        "44" => Some(ErrorKind::InsufficientBalance),
        "41" | "42" | "45" => Some(ErrorKind::Unauthorized),
        "49" => Some(ErrorKind::Duplicate),
        "83" => Some(ErrorKind::RateLimited),
        "62" | "66" | "68" => Some(ErrorKind::Unavailable),
        "40" | "43" | "47" | "56" | "61" | "63" | "64" | "65" | "67" | "69" | "80" | "81"
        | "82" | "87" | "88" => Some(ErrorKind::Rejected),
        _ => None,
    }
}

#[derive(Debug)]
pub(crate) struct Client {
    base_url: String,
    http: reqwest::Client,
    username: String,
    api_key: String,
    webhook_secret: String,
    careless_status: bool,
    careless_event_ids: bool,
}

impl Client {
    pub(crate) fn new(base_url: &str, username: &str, api_key: &str, webhook_secret: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .expect("client");
        Self {
            base_url: base_url.to_owned(),
            http,
            username: username.to_owned(),
            api_key: api_key.to_owned(),
            webhook_secret: webhook_secret.to_owned(),
            careless_status: false,
            careless_event_ids: false,
        }
    }

    /// Re-submits a prepaid status check whatever `sent_at` says.
    pub(crate) fn with_careless_status(mut self) -> Self {
        self.careless_status = true;
        self
    }

    /// Event ids of the reference alone: every webhook about one purchase looks the same.
    pub(crate) fn with_careless_event_ids(mut self) -> Self {
        self.careless_event_ids = true;
        self
    }

    /// Posts `body` to `path` and returns its `data`; `money` says whether a lost answer
    /// may hide a booked transaction (then it is `Timeout`, else `Unavailable`).
    async fn call(&self, path: &str, body: Value, money: bool) -> Result<Value, ProviderError> {
        let lost = |what: String| {
            let kind = if money {
                ErrorKind::Timeout
            } else {
                ErrorKind::Unavailable
            };
            ProviderError::new(kind, what)
        };
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .json(&body)
            .send()
            .await
            .map_err(|err| {
                if err.is_connect() {
                    ProviderError::new(ErrorKind::Unavailable, "connection refused")
                } else {
                    lost(format!("no answer: {}", err.without_url()))
                }
            })?;
        if response.status().is_server_error() {
            return Err(lost(format!("HTTP {}", response.status())));
        }
        let text = response
            .text()
            .await
            .map_err(|err| lost(format!("body lost: {}", err.without_url())))?;
        let mut json: Value =
            serde_json::from_str(&text).map_err(|_| lost("unparseable body".to_owned()))?;
        Ok(json["data"].take())
    }

    fn sign(&self, suffix: &str) -> String {
        sign(&self.username, &self.api_key, suffix)
    }

    fn transaction_body(&self, order: &BillerOrder, command: Option<&str>) -> Value {
        let reference = order.reference.as_str();
        let mut body = json!({
            "username": self.username, "buyer_sku_code": order.product_code,
            "customer_no": order.customer_no, "ref_id": reference,
            "sign": self.sign(reference), "testing": true,
        });
        if let Some(command) = command {
            body["commands"] = json!(command);
        }
        body
    }

    /// Sends a money-moving or status command and reads the transaction it answers.
    async fn transaction(
        &self,
        order: &BillerOrder,
        command: Option<&str>,
    ) -> Result<BillerTransaction, ProviderError> {
        let body = self.transaction_body(order, command);
        let data = self.call("/v1/transaction", body, true).await?;
        if data["status"].as_str().is_none() {
            return Err(ProviderError::new(
                ErrorKind::Timeout,
                "answer without status",
            ));
        }
        if command == Some("status-pasca") && data["rc"] == "50" {
            return Ok(BillerTransaction::new(
                order.reference.clone(),
                BillerTxState::NotFound,
                "50",
            ));
        }
        refusal(&data)?;
        to_transaction(&data, order.reference.clone())
    }

    fn event(&self, data: &Value) -> Result<InboundEvent, ProviderError> {
        let reference = OurReference(text(data, "ref_id").to_owned());
        let transaction = to_transaction(data, reference.clone())?;
        let id = if self.careless_event_ids {
            reference.to_string()
        } else {
            format!(
                "{}:{}:{}:{}",
                reference,
                text(data, "status"),
                text(data, "rc"),
                text(data, "sn")
            )
        };
        let resource = ResourceRef::BillPayment {
            reference,
            provider_reference: transaction.provider_reference.clone(),
        };
        let kind = EventKind::BillUpdate {
            transaction: Box::new(transaction),
        };
        Ok(InboundEvent::new(resource, kind, id, json!({"data": data})))
    }
}

fn text<'a>(data: &'a Value, name: &str) -> &'a str {
    data[name].as_str().unwrap_or_default()
}

fn rupiah(value: &Value) -> Option<Amount> {
    match value {
        Value::Number(n) => n.as_i64().and_then(|n| Amount::new(n).ok()),
        Value::String(s) => s.parse::<i64>().ok().and_then(|n| Amount::new(n).ok()),
        _ => None,
    }
}

fn protocol(what: &str) -> ProviderError {
    ProviderError::new(ErrorKind::Protocol, what)
}

/// A `Gagal` with a code that books nothing, as an error.
fn refusal(data: &Value) -> Result<(), ProviderError> {
    let rc = text(data, "rc");
    match formed_tidak(rc) {
        Some(kind) if text(data, "status") == "Gagal" => {
            Err(ProviderError::with_code(kind, rc, text(data, "message")))
        }
        _ => Ok(()),
    }
}

fn to_transaction(
    data: &Value,
    reference: OurReference,
) -> Result<BillerTransaction, ProviderError> {
    let rc = text(data, "rc");
    let state = match text(data, "status") {
        "Sukses" => BillerTxState::Success,
        "Pending" => BillerTxState::Pending,
        "Gagal" => BillerTxState::Failed {
            code: rc.to_owned(),
            reason: text(data, "message").to_owned(),
        },
        _ => return Err(protocol("unknown status")),
    };
    let mut tx = BillerTransaction::new(reference, state, rc);
    let sn = text(data, "sn");
    tx.serial_number = Some(sn.to_owned()).filter(|sn| !sn.is_empty());
    tx.token = token(sn);
    tx.provider_reference = data["trx_id"]
        .as_str()
        .map(|id| ProviderReference(id.to_owned()));
    tx.biller_cost = rupiah(&data["price"]);
    tx.customer_total = rupiah(&data["selling_price"]);
    tx.balance_after = rupiah(&data["buyer_last_saldo"]);
    text(data, "message").clone_into(&mut tx.message);
    Ok(tx)
}

/// The first 20 digits of `sn` when it starts with 20 digits among `[0-9 -]`.
fn token(sn: &str) -> Option<String> {
    let head = sn.split('/').next().unwrap_or_default();
    let digits: String = head.chars().filter(char::is_ascii_digit).collect();
    let clean = head
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ');
    (clean && digits.len() >= 20).then(|| digits[..20].to_owned())
}

fn to_bill(data: &Value, reference: OurReference) -> Result<BillInquiry, ProviderError> {
    let amount = |v: &Value| rupiah(v).ok_or_else(|| protocol("amount"));
    let mut periods = Vec::new();
    for detail in data["desc"]["detail"].as_array().into_iter().flatten() {
        let mut period = BillPeriod::default();
        text(detail, "periode").clone_into(&mut period.period);
        period.amount = amount(&detail["nilai_tagihan"])?.rupiah();
        period.admin_fee = amount(&detail["admin"])?.rupiah();
        period.penalty = amount(&detail["denda"])?.rupiah();
        periods.push(period);
    }
    let sum = |f: fn(&BillPeriod) -> i64| {
        Amount::new(periods.iter().map(f).sum()).map_err(|_| protocol("sum"))
    };
    let mut bill = BillInquiry::new(
        reference,
        text(data, "customer_name").to_owned(),
        sum(|p| p.amount)?,
        amount(&data["admin"])?,
        sum(|p| p.penalty)?,
        amount(&data["price"])?,
        amount(&data["selling_price"])?,
    );
    bill.periods = periods;
    bill.details = data["desc"].clone();
    Ok(bill)
}

fn to_product(item: &Value, postpaid: bool) -> BillerProduct {
    let mut product = BillerProduct::new(
        text(item, "buyer_sku_code").to_owned(),
        text(item, "product_name").to_owned(),
        text(item, "category").to_owned(),
        text(item, "brand").to_owned(),
        postpaid,
    );
    product.price = rupiah(&item["price"]).filter(|_| !postpaid);
    product.admin_fee = rupiah(&item["admin"]);
    product.commission = rupiah(&item["commission"]);
    product.available =
        item["buyer_product_status"] == true && item["seller_product_status"] == true;
    product
}

impl Biller for Client {
    fn balance<'a, 'c>(&'a self) -> Answer<'c, Amount>
    where
        'a: 'c,
    {
        Box::pin(async move {
            let body =
                json!({"cmd": "deposit", "username": self.username, "sign": self.sign("depo")});
            let data = self.call("/v1/cek-saldo", body, false).await?;
            refusal(&data)?;
            rupiah(&data["deposit"]).ok_or_else(|| protocol("deposit"))
        })
    }

    fn products<'a, 'c>(&'a self) -> Answer<'c, Vec<BillerProduct>>
    where
        'a: 'c,
    {
        Box::pin(async move {
            let mut products = Vec::new();
            for (cmd, postpaid) in [("prepaid", false), ("pasca", true)] {
                let body =
                    json!({"cmd": cmd, "username": self.username, "sign": self.sign("pricelist")});
                let data = self.call("/v1/price-list", body, false).await?;
                refusal(&data)?;
                let items = data.as_array().ok_or_else(|| protocol("price list"))?;
                products.extend(items.iter().map(|item| to_product(item, postpaid)));
            }
            Ok(products)
        })
    }

    fn validate_customer<'a, 'b, 'd, 'c>(
        &'a self,
        _: &'b str,
        customer_no: &'d str,
    ) -> Answer<'c, CustomerInfo>
    where
        'a: 'c,
        'b: 'c,
        'd: 'c,
    {
        Box::pin(async move {
            let body = json!({"username": self.username, "customer_no": customer_no, "sign": self.sign(customer_no)});
            let data = self.call("/v1/inquiry-pln", body, false).await?;
            refusal(&data)?;
            if text(&data, "status") != "Sukses" {
                return Err(ProviderError::with_code(
                    ErrorKind::Rejected,
                    text(&data, "rc"),
                    text(&data, "message"),
                ));
            }
            Ok(CustomerInfo::new(
                customer_no.to_owned(),
                text(&data, "name").to_owned(),
                data.clone(),
            ))
        })
    }

    fn purchase<'a, 'b, 'c>(&'a self, order: &'b BillerOrder) -> Answer<'c, BillerTransaction>
    where
        'a: 'c,
        'b: 'c,
    {
        Box::pin(self.transaction(order, None))
    }

    fn inquire<'a, 'b, 'c>(&'a self, order: &'b BillerOrder) -> Answer<'c, BillInquiry>
    where
        'a: 'c,
        'b: 'c,
    {
        Box::pin(async move {
            let body = self.transaction_body(order, Some("inq-pasca"));
            let data = self.call("/v1/transaction", body, false).await?;
            refusal(&data)?;
            if text(&data, "status") != "Sukses" {
                return Err(ProviderError::with_code(
                    ErrorKind::Rejected,
                    text(&data, "rc"),
                    text(&data, "message"),
                ));
            }
            to_bill(&data, order.reference.clone())
        })
    }

    fn pay<'a, 'b, 'c>(&'a self, order: &'b BillerOrder) -> Answer<'c, BillerTransaction>
    where
        'a: 'c,
        'b: 'c,
    {
        Box::pin(self.transaction(order, Some("pay-pasca")))
    }

    fn status<'a, 'b, 'c>(&'a self, order: &'b BillerOrder) -> Answer<'c, BillerTransaction>
    where
        'a: 'c,
        'b: 'c,
    {
        Box::pin(async move {
            if order.postpaid {
                return self.transaction(order, Some("status-pasca")).await;
            }
            let horizon = OffsetDateTime::now_utc() - time::Duration::days(89);
            let recent = order.sent_at.is_some_and(|at| at > horizon);
            if !recent && !self.careless_status {
                return Err(ProviderError::new(
                    ErrorKind::Rejected,
                    "re-submitting would buy",
                ));
            }
            self.transaction(order, None).await
        })
    }

    fn settlement<'a, 'c>(&'a self, _: Date) -> Answer<'c, Vec<SettlementRecord>>
    where
        'a: 'c,
    {
        Box::pin(async { Err(ProviderError::not_supported("settlement")) })
    }
}

impl InboundNotifications for Client {
    fn trust(&self) -> Trust {
        Trust::Strong
    }

    fn verify_and_parse<'a, 'b, 'c>(&'a self, request: &'b InboundRequest) -> Answer<'c, Inbound>
    where
        'a: 'c,
        'b: 'c,
    {
        Box::pin(async move {
            let invalid = || ProviderError::new(ErrorKind::InvalidSignature, "bad X-Hub-Signature");
            let presented = request.header("x-hub-signature").ok_or_else(invalid)?;
            let presented = presented.strip_prefix("sha1=").unwrap_or(presented);
            let expected = hub_signature(self.webhook_secret.as_bytes(), &request.body);
            let expected = expected.trim_start_matches("sha1=");
            if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
                return Err(invalid());
            }
            let body: Value = serde_json::from_slice(&request.body)
                .map_err(|_| ProviderError::new(ErrorKind::Rejected, "not JSON"))?;
            let Some(data) = body.get("data") else {
                return Ok(Inbound::Reply(InboundResponse::json(
                    200,
                    &json!({"status": "ok"}),
                )));
            };
            let event = self.event(data)?;
            Ok(Inbound::Events(Notification::new(vec![event])))
        })
    }

    fn acknowledge(&self, _: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
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
            _ => InboundResponse::json(200, &json!({"status": "ok"})),
        }
    }
}
