use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::faults::{Fault, FaultRule};

mod gateway;

use gateway::{FakeGateway, ISSUED_ID, ISSUED_SECRET};

const CLIENT_KEY: &str = "BNI-TEST-CLIENT";
const PARTNER_ID: &str = "BNI-TEST-PARTNER";
const SECRET: &str = "SNAP-TEST-SECRET";
const SERVICE_ID: &str = "    8123";

fn config() -> BniSnapConfig {
    let notify = BniSnapNotify::symmetric(ISSUED_ID, ISSUED_SECRET);
    BniSnapConfig::new(CLIENT_KEY, PARTNER_ID, SECRET, notify)
}

fn simulator() -> BniSnapSimulator {
    BniSnapSimulator::new(config())
}

fn customer_no(serial: u64) -> String {
    format!("{serial:012}")
}

fn number(serial: u64) -> String {
    format!("{SERVICE_ID}{}", customer_no(serial))
}

fn tomorrow() -> String {
    wib::iso(wib::now() + time::Duration::days(1))
}

fn identity(serial: u64) -> Value {
    json!({
        "partnerServiceId": SERVICE_ID,
        "customerNo": customer_no(serial),
        "virtualAccountNo": number(serial),
    })
}

fn with(mut body: Value, extra: Value) -> Value {
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    body
}

fn create_body(trx_id: &str, serial: u64, amount: i64) -> Value {
    with(
        identity(serial),
        json!({
            "virtualAccountName": "Budi",
            "virtualAccountPhone": "6281234567890",
            "trxId": trx_id,
            "totalAmount": snap::amount(amount),
            "virtualAccountTrxType": "C",
            "expiredDate": tomorrow(),
            "additionalInfo": {},
        }),
    )
}

fn named(trx_id: &str, serial: u64) -> Value {
    with(identity(serial), json!({ "trxId": trx_id }))
}

fn without(mut body: Value, key: &str) -> Value {
    if let Some(fields) = body.as_object_mut() {
        fields.remove(key);
    }
    body
}

/// One signed service call as the merchant (the gateway) sends it; fields can be spoiled
/// before sending.
#[derive(Clone)]
struct Call {
    method: &'static str,
    path: String,
    /// The path that is signed, when it differs from the one requested.
    signed_path: Option<String>,
    /// The body that is signed.
    body: String,
    /// The body sent, when it differs from the signed one.
    sent: Option<String>,
    token: Option<String>,
    secret: String,
    partner_id: String,
    channel_id: Option<String>,
    external_id: String,
    timestamp: String,
}

impl Call {
    fn new(method: &'static str, path: &str, body: &Value, token: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            signed_path: None,
            body: body.to_string(),
            sent: None,
            token: Some(token.to_owned()),
            secret: SECRET.to_owned(),
            partner_id: PARTNER_ID.to_owned(),
            channel_id: Some(DEFAULT_CHANNEL_ID.to_owned()),
            external_id: snap::external_id(),
            timestamp: snap::timestamp(false),
        }
    }

    fn request(&self) -> Request<Body> {
        let token = self.token.clone().unwrap_or_default();
        let message = format!(
            "{}:{}:{token}:{}:{}",
            self.method,
            self.signed_path.as_deref().unwrap_or(&self.path),
            snap::body_hash(self.body.as_bytes()),
            self.timestamp
        );
        let signature = snap::hmac_sha512_b64(self.secret.as_bytes(), &message);
        let mut request = Request::builder()
            .method(self.method)
            .uri(&self.path)
            .header("content-type", "application/json")
            .header("x-timestamp", &self.timestamp)
            .header("x-signature", signature)
            .header("x-partner-id", &self.partner_id)
            .header("x-external-id", &self.external_id);
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(channel_id) = &self.channel_id {
            request = request.header("channel-id", channel_id);
        }
        let body = self.sent.clone().unwrap_or_else(|| self.body.clone());
        request.body(Body::from(body)).expect("request")
    }
}

/// What a request through the router answered.
struct Answer {
    status: u16,
    body: Value,
    timestamp: Option<String>,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["responseCode"].as_str().unwrap_or_default()
    }

    fn data(&self) -> &Value {
        &self.body["virtualAccountData"]
    }
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let timestamp = response
        .headers()
        .get("x-timestamp")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        body,
        timestamp,
    }
}

fn token_request(path: &str, client_key: &str, private_pem: &str) -> Request<Body> {
    let stamp = snap::timestamp(false);
    let signature = snap::rsa_sign_b64(private_pem, format!("{client_key}|{stamp}").as_bytes());
    Request::post(path)
        .header("content-type", "application/json")
        .header("x-client-key", client_key)
        .header("x-timestamp", stamp)
        .header("x-signature", signature)
        .body(Body::from(
            r#"{"grantType":"client_credentials","additionalInfo":{}}"#,
        ))
        .expect("request")
}

/// The merchant's side: a router and a token it obtained.
struct Merchant {
    sim: BniSnapSimulator,
    router: Router,
    token: String,
}

impl Merchant {
    async fn new(sim: BniSnapSimulator) -> Self {
        let router = sim.router();
        let path = sim.config().token_path.clone();
        let request = token_request(&path, CLIENT_KEY, keys::MERCHANT.private_pem);
        let answer = send(&router, request).await;
        assert_eq!(answer.code(), "2007300", "{:?}", answer.body);
        let token = answer.body["accessToken"]
            .as_str()
            .expect("token")
            .to_owned();
        Self { sim, router, token }
    }

    async fn start() -> Self {
        Self::new(simulator()).await
    }

    fn path(&self, service: &str) -> String {
        self.sim
            .config()
            .service_path(&format!("/transfer-va/{service}"))
    }

    fn call(&self, service: &str, body: &Value) -> Call {
        let method = match service {
            "update-va" | "update-status" => "PUT",
            "delete-va" => "DELETE",
            _ => "POST",
        };
        Call::new(method, &self.path(service), body, &self.token)
    }

    async fn send(&self, call: &Call) -> Answer {
        send(&self.router, call.request()).await
    }

    async fn request(&self, service: &str, body: &Value) -> Answer {
        self.send(&self.call(service, body)).await
    }

    async fn create(&self, trx_id: &str, serial: u64, amount: i64) -> Answer {
        let answer = self
            .request("create-va", &create_body(trx_id, serial, amount))
            .await;
        assert_eq!(answer.code(), "2002700", "{:?}", answer.body);
        answer
    }
}

// ---- token --------------------------------------------------------------------------------

#[tokio::test]
async fn the_token_service_issues_a_string_900_token_to_the_merchant_key_only() {
    let sim = simulator();
    let router = sim.router();
    let good = token_request(DEFAULT_TOKEN_PATH, CLIENT_KEY, keys::MERCHANT.private_pem);
    let answer = send(&router, good).await;
    assert_eq!((answer.status, answer.code()), (200, "2007300"));
    assert_eq!(answer.body["expiresIn"], json!("900"));
    assert_eq!(answer.body["tokenType"], json!("Bearer"));
    assert!(answer.timestamp.is_some());

    let other_key = token_request(DEFAULT_TOKEN_PATH, CLIENT_KEY, keys::BNI.private_pem);
    let answer = send(&router, other_key).await;
    assert_eq!((answer.status, answer.code()), (401, "4017300"));
    let unknown = token_request(DEFAULT_TOKEN_PATH, "SOMEONE", keys::MERCHANT.private_pem);
    assert_eq!(send(&router, unknown).await.code(), "4017300");
    assert_eq!(sim.tokens_issued(), 1);
    assert_eq!(sim.calls("access-token"), 3);
}

// ---- create -------------------------------------------------------------------------------

#[tokio::test]
async fn create_echoes_the_request_in_virtual_account_data_and_the_timestamp_in_a_header() {
    let merchant = Merchant::start().await;
    let call = merchant.call("create-va", &create_body("INV-1", 1, 150_000));
    let answer = merchant.send(&call).await;
    assert_eq!((answer.status, answer.code()), (200, "2002700"));
    assert_eq!(answer.timestamp.as_deref(), Some(call.timestamp.as_str()));
    let data = answer.data();
    assert_eq!(data["partnerServiceId"], json!(SERVICE_ID));
    assert_eq!(data["virtualAccountNo"], json!(number(1)));
    assert_eq!(data["trxId"], json!("INV-1"));
    assert_eq!(data["totalAmount"], snap::amount(150_000));
    assert_eq!(data["virtualAccountTrxType"], json!("C"));

    let held = merchant.sim.va("INV-1").expect("held");
    assert_eq!(held.va_number, "8123000000000001");
    assert_eq!(held.virtual_account_no, number(1));
    assert_eq!(
        (held.state, held.total_amount),
        (VaState::Active, Some(150_000))
    );
    assert_eq!(merchant.sim.calls("create-va"), 1);
}

#[tokio::test]
async fn create_refuses_each_field_rule_of_b5_with_its_code() {
    let merchant = Merchant::start().await;
    let base = create_body("INV-F", 7, 150_000);
    let long_trx = "T".repeat(65);
    let cases = [
        (
            with(base.clone(), json!({"partnerServiceId": "   8123"})),
            "4002701",
        ),
        (
            with(base.clone(), json!({"partnerServiceId": "    81a3"})),
            "4002701",
        ),
        (
            with(base.clone(), json!({"partnerServiceId": "00008123"})),
            "4002701",
        ),
        (
            with(base.clone(), json!({"customerNo": "00000000000A"})),
            "4002701",
        ),
        (
            with(
                base.clone(),
                json!({"virtualAccountNo": "8123000000000007"}),
            ),
            "4002701",
        ),
        (without(base.clone(), "partnerServiceId"), "4002702"),
        (without(base.clone(), "trxId"), "4002702"),
        (with(base.clone(), json!({"trxId": long_trx})), "4002701"),
        (without(base.clone(), "virtualAccountName"), "4002702"),
        (without(base.clone(), "totalAmount"), "4002702"),
        (
            with(
                base.clone(),
                json!({"totalAmount": {"value": "150000", "currency": "IDR"}}),
            ),
            "4002701",
        ),
        (
            with(
                base.clone(),
                json!({"totalAmount": {"value": "150000.50", "currency": "IDR"}}),
            ),
            "4002701",
        ),
        (
            with(
                base.clone(),
                json!({"totalAmount": {"value": "150000.00", "currency": "USD"}}),
            ),
            "4002701",
        ),
        (
            with(base.clone(), json!({"totalAmount": 150000})),
            "4002701",
        ),
        (
            with(base.clone(), json!({"expiredDate": "2099-01-01T10:00:00"})),
            "4002701",
        ),
        (
            with(
                base.clone(),
                json!({"expiredDate": "2020-01-01T10:00:00+07:00"}),
            ),
            "4002701",
        ),
        (
            with(base.clone(), json!({"virtualAccountPhone": "081234567890"})),
            "4002701",
        ),
        (
            with(base.clone(), json!({"virtualAccountTrxType": "Z"})),
            "4002701",
        ),
        (with(base.clone(), json!({"trxId": 12345})), "4002701"),
    ];
    for (body, want) in cases {
        let answer = merchant.request("create-va", &body).await;
        assert_eq!(answer.code(), want, "{body}");
        assert_eq!(answer.status, 400, "{body}");
    }
    let garbage = Call {
        body: "not json".to_owned(),
        ..merchant.call("create-va", &json!({}))
    };
    assert_eq!(merchant.send(&garbage).await.code(), "4002700");
    assert!(merchant.sim.vas().is_empty());
}

#[tokio::test]
async fn an_open_va_needs_no_total_and_a_lower_case_type_is_accepted() {
    let merchant = Merchant::start().await;
    let body = with(
        without(create_body("INV-O", 8, 0), "totalAmount"),
        json!({"virtualAccountTrxType": "o"}),
    );
    let answer = merchant.request("create-va", &body).await;
    assert_eq!(answer.code(), "2002700", "{:?}", answer.body);
    assert_eq!(
        merchant.sim.va("INV-O").expect("held").trx_type,
        TrxType::Open
    );
}

#[tokio::test]
async fn a_duplicate_trx_id_or_a_number_in_use_is_409_2701_and_a_deleted_number_is_free() {
    let merchant = Merchant::start().await;
    merchant.create("INV-D", 2, 150_000).await;
    let again = merchant
        .request("create-va", &create_body("INV-D", 2, 150_000))
        .await;
    assert_eq!((again.status, again.code()), (409, "4092701"));
    let other_trx = merchant
        .request("create-va", &create_body("INV-E", 2, 150_000))
        .await;
    assert_eq!(other_trx.code(), "4092701");
    let other_number = merchant
        .request("create-va", &create_body("INV-D", 3, 150_000))
        .await;
    assert_eq!(other_number.code(), "4092701");
    assert_eq!(merchant.sim.vas().len(), 1);

    let deleted = merchant.request("delete-va", &named("INV-D", 2)).await;
    assert_eq!(deleted.code(), "2003100");
    merchant.create("INV-E", 2, 150_000).await;
    assert_eq!(merchant.sim.va(&number(2)).expect("held").trx_id, "INV-E");
}

// ---- inquiry, update, update-status, delete, status ----------------------------------------

#[tokio::test]
async fn inquiry_va_answers_a_held_va_and_refuses_an_unknown_one_with_404_3012() {
    let merchant = Merchant::start().await;
    merchant.create("INV-I", 4, 150_000).await;
    let answer = merchant.request("inquiry-va", &named("INV-I", 4)).await;
    assert_eq!(answer.code(), "2003000");
    assert_eq!(answer.data()["virtualAccountName"], json!("Budi"));
    assert_eq!(answer.data()["paymentDate"], Value::Null);
    assert!(answer.data()["lastUpdateDate"].is_string());

    let unknown = merchant.request("inquiry-va", &named("INV-X", 4)).await;
    assert_eq!((unknown.status, unknown.code()), (404, "4043012"));
    let wrong_number = merchant.request("inquiry-va", &named("INV-I", 5)).await;
    assert_eq!(wrong_number.code(), "4043012");
    let no_trx = merchant.request("inquiry-va", &identity(4)).await;
    assert_eq!(no_trx.code(), "4003002");
}

#[tokio::test]
async fn update_changes_an_active_va_and_refuses_unknown_paid_and_expired_ones() {
    let merchant = Merchant::start().await;
    merchant.create("INV-U", 5, 150_000).await;
    let update = create_body("INV-U", 5, 175_000);
    let answer = merchant.request("update-va", &update).await;
    assert_eq!(answer.code(), "2002800", "{:?}", answer.body);
    assert_eq!(answer.data()["totalAmount"], snap::amount(175_000));
    assert_eq!(
        merchant.sim.va("INV-U").expect("held").total_amount,
        Some(175_000)
    );

    let unknown = merchant
        .request("update-va", &create_body("INV-Y", 5, 1))
        .await;
    assert_eq!((unknown.status, unknown.code()), (404, "4042812"));

    merchant
        .sim
        .pay_and_capture("INV-U", 175_000)
        .expect("paid");
    let paid = merchant.request("update-va", &update).await;
    assert_eq!(paid.code(), "4042814");
    let deleted = merchant.request("delete-va", &named("INV-U", 5)).await;
    assert_eq!(deleted.code(), "4043114");

    merchant.create("INV-V", 6, 150_000).await;
    merchant.sim.expire("INV-V").expect("expire");
    let expired = merchant
        .request("update-va", &create_body("INV-V", 6, 150_000))
        .await;
    assert_eq!(expired.code(), "4042819");
}

#[tokio::test]
async fn update_status_flags_a_va_paid_and_back_but_not_one_with_a_payment() {
    let merchant = Merchant::start().await;
    merchant.create("INV-S", 9, 150_000).await;
    let flag = |paid: &str| with(named("INV-S", 9), json!({ "paidStatus": paid }));
    let answer = merchant.request("update-status", &flag("Y")).await;
    assert_eq!(answer.code(), "2002900");
    assert_eq!(answer.data()["paidStatus"], json!("Y"));
    assert_eq!(merchant.sim.va("INV-S").expect("held").state, VaState::Paid);
    assert_eq!(
        merchant.request("update-status", &flag("N")).await.code(),
        "2002900"
    );
    assert_eq!(
        merchant.sim.va("INV-S").expect("held").state,
        VaState::Active
    );
    assert_eq!(
        merchant
            .request("update-status", &flag("maybe"))
            .await
            .code(),
        "4002901"
    );

    let unknown = with(named("INV-Z", 9), json!({"paidStatus": "Y"}));
    assert_eq!(
        merchant.request("update-status", &unknown).await.code(),
        "4042912"
    );
    merchant
        .sim
        .pay_and_capture("INV-S", 150_000)
        .expect("paid");
    assert_eq!(
        merchant.request("update-status", &flag("N")).await.code(),
        "4042914"
    );
}

#[tokio::test]
async fn delete_closes_a_va_once_and_again_and_inquiry_then_says_cancelled() {
    let merchant = Merchant::start().await;
    merchant.create("INV-R", 10, 150_000).await;
    let answer = merchant.request("delete-va", &named("INV-R", 10)).await;
    assert_eq!(answer.code(), "2003100");
    assert_eq!(answer.data()["trxId"], json!("INV-R"));
    assert_eq!(
        merchant.sim.va("INV-R").expect("held").state,
        VaState::Deleted
    );
    let again = merchant.request("delete-va", &identity(10)).await;
    assert_eq!(again.code(), "2003100");
    let inquiry = merchant.request("inquiry-va", &named("INV-R", 10)).await;
    assert_eq!(inquiry.code(), "4043004");
    assert_eq!(
        merchant.request("status", &identity(10)).await.code(),
        "4042604"
    );
    let unknown = merchant.request("delete-va", &identity(11)).await;
    assert_eq!(unknown.code(), "4043112");
    assert!(matches!(
        merchant.sim.pay_and_capture("INV-R", 150_000),
        Err(SimError::NotPayable {
            state: "deleted",
            ..
        })
    ));
}

#[tokio::test]
async fn status_reports_the_payment_or_its_absence_and_404_2601_for_an_unknown_number() {
    let merchant = Merchant::start().await;
    let unknown = merchant.request("status", &identity(12)).await;
    assert_eq!((unknown.status, unknown.code()), (404, "4042601"));

    merchant.create("INV-T", 12, 150_000).await;
    let unpaid = merchant.request("status", &identity(12)).await;
    assert_eq!(unpaid.code(), "2002600");
    assert!(unpaid.data().get("paymentFlagStatus").is_none());
    assert!(unpaid.data().get("paidAmount").is_none());

    merchant
        .sim
        .pay_and_capture("INV-T", 150_000)
        .expect("paid");
    let request = with(identity(12), json!({"inquiryRequestId": "INQ-1"}));
    let paid = merchant.request("status", &request).await;
    assert_eq!(paid.code(), "2002600");
    assert_eq!(paid.data()["paymentFlagStatus"], json!("00"));
    assert_eq!(paid.data()["paidAmount"], snap::amount(150_000));
    assert_eq!(paid.data()["inquiryRequestId"], json!("INQ-1"));
    let view = merchant.sim.va("INV-T").expect("held");
    assert_eq!(
        paid.data()["paymentRequestId"],
        json!(view.payments[0].payment_request_id)
    );
    let other = with(identity(12), json!({"paymentRequestId": "NOPE"}));
    assert_eq!(merchant.request("status", &other).await.code(), "4042601");

    merchant.create("INV-W", 13, 150_000).await;
    merchant.sim.expire("INV-W").expect("expire");
    assert_eq!(
        merchant.request("status", &identity(13)).await.code(),
        "4042619"
    );
    let inquiry = merchant.request("inquiry-va", &named("INV-W", 13)).await;
    assert_eq!(inquiry.code(), "2003000");
}

// ---- signatures, tokens, external ids ------------------------------------------------------

#[tokio::test]
async fn service_calls_are_checked_like_the_bank_checks_them() {
    let merchant = Merchant::start().await;
    let good = merchant.call("create-va", &create_body("INV-A", 20, 150_000));
    let cases = [
        (
            Call {
                token: None,
                ..good.clone()
            },
            "4002702",
        ),
        (
            Call {
                token: Some("forged".to_owned()),
                ..good.clone()
            },
            "4012701",
        ),
        (
            Call {
                secret: "another".to_owned(),
                ..good.clone()
            },
            "4012700",
        ),
        (
            Call {
                partner_id: "SOMEONE".to_owned(),
                ..good.clone()
            },
            "4012700",
        ),
        (
            Call {
                channel_id: Some("00000".to_owned()),
                ..good.clone()
            },
            "4002701",
        ),
        (
            Call {
                channel_id: None,
                ..good.clone()
            },
            "4002702",
        ),
        (
            Call {
                signed_path: Some("/v1.0/transfer-va/create".to_owned()),
                ..good.clone()
            },
            "4012700",
        ),
        (
            Call {
                sent: Some(good.body.replace("Budi", "Budy")),
                ..good.clone()
            },
            "4012700",
        ),
        (
            Call {
                timestamp: "yesterday".to_owned(),
                ..good.clone()
            },
            "4002701",
        ),
    ];
    for (call, want) in cases {
        let answer = merchant.send(&call).await;
        assert_eq!(answer.code(), want, "{:?}", answer.body);
        assert_eq!(answer.status.to_string(), want[..3]);
    }
    assert!(merchant.sim.vas().is_empty());
    assert_eq!(merchant.send(&good).await.code(), "2002700");
}

#[tokio::test]
async fn the_signature_covers_the_minified_body_so_a_pretty_printed_body_passes() {
    let merchant = Merchant::start().await;
    let body = create_body("INV-P", 21, 150_000);
    let pretty = serde_json::to_string_pretty(&body).expect("json");
    let call = Call {
        sent: Some(pretty),
        ..merchant.call("create-va", &body)
    };
    assert_eq!(merchant.send(&call).await.code(), "2002700");
    assert_eq!(
        merchant.sim.va("INV-P").expect("held").partner_service_id,
        SERVICE_ID
    );
}

#[tokio::test]
async fn a_reused_external_id_is_409_xx00_and_an_expired_token_401_xx01() {
    let merchant = Merchant::start().await;
    let first = merchant.call("create-va", &create_body("INV-G", 22, 150_000));
    assert_eq!(merchant.send(&first).await.code(), "2002700");
    let reused = Call {
        body: named("INV-G", 22).to_string(),
        ..merchant.call("inquiry-va", &json!({}))
    };
    let reused = Call {
        external_id: first.external_id.clone(),
        ..reused
    };
    let answer = merchant.send(&reused).await;
    assert_eq!((answer.status, answer.code()), (409, "4093000"));

    merchant.sim.expire_tokens();
    let late = merchant.request("inquiry-va", &named("INV-G", 22)).await;
    assert_eq!((late.status, late.code()), (401, "4013001"));
    let fresh = Merchant::new(merchant.sim.clone()).await;
    let answer = fresh.request("inquiry-va", &named("INV-G", 22)).await;
    assert_eq!(answer.code(), "2003000");
    assert_eq!(fresh.sim.tokens_issued(), 2);
}

#[tokio::test]
async fn services_and_signatures_follow_a_configured_prefix() {
    let mut config = config();
    config.token_path = "/snap/v1/access-token/b2b".to_owned();
    config.service_prefix = "/snap-service/v1/".to_owned();
    config.channel_id = None;
    let merchant = Merchant::new(BniSnapSimulator::new(config)).await;
    assert_eq!(
        merchant.path("create-va"),
        "/snap-service/v1/transfer-va/create-va"
    );
    let call = Call {
        channel_id: None,
        ..merchant.call("create-va", &create_body("INV-B", 23, 150_000))
    };
    assert_eq!(merchant.send(&call).await.code(), "2002700");
    let standard = Call {
        path: "/v1.0/transfer-va/inquiry-va".to_owned(),
        ..merchant.call("inquiry-va", &named("INV-B", 23))
    };
    assert_eq!(merchant.send(&standard).await.status, 404);
}

// ---- faults -------------------------------------------------------------------------------

#[tokio::test]
async fn faults_apply_per_operation_and_inquire_covers_both_reads() {
    let merchant = Merchant::start().await;
    merchant
        .sim
        .faults()
        .push(FaultRule::once("create-va", Fault::Down));
    let down = merchant
        .request("create-va", &create_body("INV-H", 30, 150_000))
        .await;
    assert_eq!(down.status, 503);
    assert_eq!(merchant.sim.calls("create-va"), 0);
    merchant.create("INV-H", 30, 150_000).await;

    let sim = &merchant.sim;
    sim.faults().push(FaultRule::once(
        VaSimulator::op_name(sim, VaOp::Inquire),
        Fault::Status { code: 503 },
    ));
    assert_eq!(merchant.request("status", &identity(30)).await.status, 503);
    assert_eq!(
        merchant.request("status", &identity(30)).await.code(),
        "2002600"
    );
    let inquiry = merchant.request("inquiry-va", &named("INV-H", 30)).await;
    assert_eq!(inquiry.code(), "2003000");
    assert_eq!(sim.calls("inquire"), 2);

    sim.faults()
        .push(FaultRule::once("create-va", Fault::Malformed));
    let garbled = merchant
        .request("create-va", &create_body("INV-J", 31, 150_000))
        .await;
    assert!(garbled.body.is_string());
}

// ---- acting: bank-held VAs -----------------------------------------------------------------

async fn paying_setup(asymmetric: bool) -> (Merchant, FakeGateway, Running) {
    let mut config = config();
    if asymmetric {
        config.notify = BniSnapNotify::asymmetric(ISSUED_ID);
    }
    let merchant = Merchant::new(BniSnapSimulator::new(config)).await;
    let (gateway, urls, running) = FakeGateway::spawn(asymmetric).await;
    merchant
        .sim
        .set_urls(urls.token, urls.inquiry, urls.payment);
    (merchant, gateway, running)
}

#[tokio::test]
async fn pay_gets_a_token_then_posts_an_hmac_signed_notification_and_books_on_2002500() {
    let (merchant, gateway, _running) = paying_setup(false).await;
    merchant.create("INV-K", 40, 150_000).await;
    let outcome = merchant.sim.pay("INV-K", 150_000).await.expect("posted");
    assert_eq!(outcome.status, 200, "{}", outcome.body);
    assert_eq!(gateway.received("access-token").len(), 1);
    let posted = gateway.received("/transfer-va/payment");
    assert_eq!(posted.len(), 1);
    let body = &posted[0].body;
    assert_eq!(body["virtualAccountNo"], json!(number(40)));
    assert_eq!(body["partnerServiceId"], json!(SERVICE_ID));
    assert_eq!(body["trxId"], json!("INV-K"));
    assert_eq!(body["paidAmount"], snap::amount(150_000));
    assert_eq!(body["totalAmount"], snap::amount(150_000));
    assert_eq!(body["flagAdvise"], json!("N"));
    assert!(
        body["trxDateTime"]
            .as_str()
            .is_some_and(|t| t.ends_with("+07:00"))
    );
    assert!(posted[0].header("authorization").is_some());
    assert_eq!(
        posted[0].header("channel-id").as_deref(),
        Some(DEFAULT_CHANNEL_ID)
    );

    let view = merchant.sim.va("INV-K").expect("held");
    assert_eq!((view.state, view.paid_amount), (VaState::Paid, 150_000));
    assert_eq!(
        view.payments[0].payment_request_id,
        body["paymentRequestId"].as_str().expect("id")
    );

    merchant.create("INV-L", 41, 150_000).await;
    merchant.sim.pay("INV-L", 150_000).await.expect("posted");
    assert_eq!(
        gateway.received("access-token").len(),
        1,
        "the token is reused"
    );
    assert_eq!(gateway.payments_taken(), 2);
}

#[tokio::test]
async fn a_refused_notification_books_nothing_until_a_resend_is_acknowledged() {
    let (merchant, gateway, _running) = paying_setup(false).await;
    merchant.create("INV-M", 42, 150_000).await;
    gateway.refuse_payments(true);
    let refused = merchant.sim.pay("INV-M", 150_000).await.expect("posted");
    assert_eq!(refused.status, 404);
    let view = merchant.sim.va("INV-M").expect("held");
    assert_eq!(view.state, VaState::Active);
    let pending = view.pending_payment_request_id.expect("pending");

    gateway.refuse_payments(false);
    let outcome = merchant.sim.redeliver_last("INV-M").await.expect("posted");
    assert_eq!(outcome.status, 200);
    let view = merchant.sim.va("INV-M").expect("held");
    assert_eq!(view.state, VaState::Paid);
    assert_eq!(view.payments[0].payment_request_id, pending);
    let posted = gateway.received("/transfer-va/payment");
    assert_eq!(posted[0].body, posted[1].body, "a resend repeats the body");
    assert_ne!(
        posted[0].header("x-external-id"),
        posted[1].header("x-external-id")
    );
}

#[tokio::test]
async fn a_token_the_gateway_forgot_is_fetched_again() {
    let (merchant, gateway, _running) = paying_setup(false).await;
    merchant.create("INV-N", 43, 150_000).await;
    merchant.create("INV-N2", 44, 150_000).await;
    merchant.sim.pay("INV-N", 150_000).await.expect("posted");
    gateway.forget_tokens();
    let outcome = merchant.sim.pay("INV-N2", 150_000).await.expect("posted");
    assert_eq!(outcome.status, 200, "{}", outcome.body);
    assert_eq!(gateway.received("access-token").len(), 2);
}

#[tokio::test]
async fn asymmetric_notifications_are_rsa_signed_without_a_token() {
    let (merchant, gateway, _running) = paying_setup(true).await;
    merchant.create("INV-Q", 45, 150_000).await;
    let outcome = merchant.sim.pay("INV-Q", 150_000).await.expect("posted");
    assert_eq!(outcome.status, 200, "{}", outcome.body);
    assert!(gateway.received("access-token").is_empty());
    let posted = gateway.received("/transfer-va/payment");
    assert!(posted[0].header("authorization").is_none());
    assert_eq!(merchant.sim.va("INV-Q").expect("held").state, VaState::Paid);
    assert!(merchant.sim.token_request().is_none());
}

#[tokio::test]
async fn tampered_notifications_are_refused_and_book_nothing() {
    for asymmetric in [false, true] {
        let (merchant, _gateway, _running) = paying_setup(asymmetric).await;
        for (serial, tamper) in [
            (50, Tamper::FlipByte),
            (51, Tamper::WrongKey),
            (52, Tamper::StaleTimestamp),
        ] {
            let trx_id = format!("INV-TAMPER-{serial}");
            merchant.create(&trx_id, serial, 150_000).await;
            let options = CallbackOptions::tampered(tamper);
            let outcomes = merchant
                .sim
                .pay_with(&trx_id, 150_000, options)
                .await
                .expect("posted");
            assert_eq!(outcomes[0].status, 401, "{tamper:?}: {}", outcomes[0].body);
            assert_eq!(
                merchant.sim.va(&trx_id).expect("held").state,
                VaState::Active
            );
        }
    }
}

#[tokio::test]
async fn pay_refuses_what_the_bank_would_not_take() {
    let (merchant, gateway, _running) = paying_setup(false).await;
    merchant.create("INV-AA", 60, 150_000).await;
    assert!(matches!(
        merchant.sim.pay("INV-AA", 100_000).await,
        Err(SimError::AmountRefused {
            amount: 100_000,
            ..
        })
    ));
    assert!(matches!(
        merchant.sim.pay("INV-NONE", 1).await,
        Err(SimError::NotFound(_))
    ));
    let lost = CallbackOptions::repeated(0, false);
    let outcomes = merchant
        .sim
        .pay_with("INV-AA", 150_000, lost)
        .await
        .expect("booked");
    assert!(outcomes.is_empty());
    assert!(gateway.received("/transfer-va/payment").is_empty());
    assert!(matches!(
        merchant.sim.pay("INV-AA", 150_000).await,
        Err(SimError::NotPayable { state: "paid", .. })
    ));
    merchant.sim.set_urls("", "", "");
    merchant.create("INV-AB", 61, 150_000).await;
    assert!(matches!(
        merchant.sim.pay("INV-AB", 150_000).await,
        Err(SimError::NoCallbackUrl)
    ));
}

#[tokio::test]
async fn installments_are_taken_until_the_total_is_reached() {
    let merchant = Merchant::start().await;
    let body = with(
        create_body("INV-IN", 62, 100_000),
        json!({"virtualAccountTrxType": "I"}),
    );
    assert_eq!(merchant.request("create-va", &body).await.code(), "2002700");
    merchant
        .sim
        .pay_and_capture("INV-IN", 60_000)
        .expect("first");
    assert!(matches!(
        merchant.sim.pay_and_capture("INV-IN", 50_000),
        Err(SimError::AmountRefused { .. })
    ));
    assert_eq!(
        merchant.sim.va("INV-IN").expect("held").state,
        VaState::Active
    );
    merchant
        .sim
        .pay_and_capture("INV-IN", 40_000)
        .expect("second");
    let view = merchant.sim.va("INV-IN").expect("held");
    assert_eq!((view.state, view.paid_amount), (VaState::Paid, 100_000));
}

// ---- acting: gateway-held VAs (host-to-host) -----------------------------------------------

#[tokio::test]
async fn pay_h2h_inquires_then_pays_with_the_inquiry_request_id() {
    let (merchant, gateway, _running) = paying_setup(false).await;
    gateway.hold_bill(&number(70), "Siti", 150_000);
    let paid = merchant
        .sim
        .pay_h2h("8123000000000070", 150_000, 4)
        .await
        .expect("posted");
    assert_eq!(paid.inquiry.response_code(), Some("2002400"));
    let payment = paid.payment.expect("paid");
    assert_eq!(
        payment.response_code(),
        Some("2002500"),
        "{:?}",
        payment.body
    );

    let inquiry = &gateway.received("/transfer-va/inquiry")[0].body;
    assert_eq!(inquiry["partnerServiceId"], json!(SERVICE_ID));
    assert_eq!(inquiry["customerNo"], json!("000000000070"));
    assert_eq!(inquiry["virtualAccountNo"], json!(number(70)));
    assert_eq!(inquiry["channelCode"], json!(6011));
    assert_eq!(inquiry["inquiryRequestId"], json!(paid.inquiry_request_id));
    let posted = gateway.received("/transfer-va/payment");
    assert_eq!(
        posted[0].body["paymentRequestId"],
        json!(paid.inquiry_request_id)
    );
    assert_eq!(posted[0].body["virtualAccountName"], json!("Siti"));
    assert_eq!(posted[0].body["totalAmount"], snap::amount(150_000));

    let retry = merchant.sim.resend_payment().await.expect("posted");
    assert_eq!(retry.response_code(), Some("2002500"));
    let replay = merchant.sim.replay_payment().await.expect("posted");
    assert_eq!(
        (replay.status, replay.response_code()),
        (409, Some("4092500"))
    );
    assert_eq!(gateway.payments_taken(), 1);
    assert!(
        merchant.sim.vas().is_empty(),
        "the bank holds no gateway bill"
    );
}

#[tokio::test]
async fn pay_h2h_shows_the_gateways_refusals() {
    let (merchant, gateway, _running) = paying_setup(true).await;
    gateway.hold_bill(&number(71), "Siti", 150_000);
    let wrong = merchant
        .sim
        .pay_h2h("8123000000000071", 140_000, 4)
        .await
        .expect("posted");
    let payment = wrong.payment.expect("posted a payment");
    assert_eq!(
        (payment.status, payment.response_code()),
        (404, Some("4042513"))
    );

    let unknown = merchant
        .sim
        .pay_h2h("8123000000000072", 150_000, 4)
        .await
        .expect("posted");
    assert_eq!(unknown.inquiry.response_code(), Some("4042412"));
    assert!(unknown.payment.is_none());
    assert!(matches!(
        merchant.sim.pay_h2h("8123", 1, 4).await,
        Err(SimError::NotFound(_))
    ));
}

// ---- the conformance hooks -----------------------------------------------------------------

#[tokio::test]
async fn the_va_simulator_hooks_hand_over_tokens_and_build_signed_callbacks() {
    let merchant = Merchant::start().await;
    let sim = &merchant.sim;
    merchant.create("INV-C", 80, 150_000).await;

    let request = VaSimulator::token_request(sim).expect("symmetric");
    let header = |captured: &CapturedCallback, name: &str| {
        let found = captured.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let message = format!("{ISSUED_ID}|{}", header(&request, "x-timestamp"));
    assert!(snap::rsa_verify_b64(
        keys::BNI.public_pem,
        message.as_bytes(),
        &header(&request, "x-signature")
    ));

    VaSimulator::use_token(sim, "GATEWAY-TOKEN");
    let callback = VaSimulator::pay(sim, "INV-C", 150_000).expect("paid");
    assert_eq!(header(&callback, "authorization"), "Bearer GATEWAY-TOKEN");
    let signed = format!(
        "POST:{DEFAULT_PAYMENT_PATH}:GATEWAY-TOKEN:{}:{}",
        snap::body_hash(&callback.body),
        header(&callback, "x-timestamp")
    );
    let want = snap::hmac_sha512_b64(ISSUED_SECRET.as_bytes(), &signed);
    assert_eq!(header(&callback, "x-signature"), want);

    let again = VaSimulator::callback_for_last_payment(sim, "INV-C", Tamper::None).expect("built");
    assert_eq!(again.body, callback.body);
    assert_ne!(
        header(&again, "x-external-id"),
        header(&callback, "x-external-id")
    );

    let held = VaSimulator::va(sim, "INV-C").expect("held");
    assert_eq!(held.va_number, "8123000000000080");
    assert_eq!((held.amount, held.open), (150_000, false));
    assert!(VaSimulator::va(sim, "8123000000000080").is_none());
    assert_eq!(VaSimulator::va_count(sim), 1);
}

#[test]
fn debug_output_hides_secrets_and_keys() {
    let shown = format!("{:?} {:?}", config(), simulator());
    assert!(!shown.contains(SECRET));
    assert!(!shown.contains(ISSUED_SECRET));
    assert!(!shown.contains("PRIVATE KEY"));
    assert!(shown.contains(CLIENT_KEY));
}
