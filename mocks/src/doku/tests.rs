use std::sync::{Arc, Mutex};

use axum::body::Body as HttpBody;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use super::*;
use crate::faults::{Fault, FaultRule};
use crate::keys;
use crate::snap::{self, external_id, hmac_sha512_b64, rsa_sign_b64};
use crate::wib;

const CLIENT: &str = "BRN-0201-1700000000001";
const SECRET: &str = "SK-doku-merchant-secret";

fn simulator() -> DokuSimulator {
    DokuSimulator::new(DokuConfig::new(CLIENT, SECRET))
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    raw: Bytes,
    json: Value,
}

async fn send(
    sim: &DokuSimulator,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request
        .body(HttpBody::from(body.to_owned()))
        .expect("request");
    let response = sim.router().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let raw = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        raw,
        json,
    }
}

// ---- SNAP client side, built from mocks::snap ----

async fn token(sim: &DokuSimulator) -> String {
    let stamp = snap::timestamp(true);
    let signature = rsa_sign_b64(
        keys::MERCHANT.private_pem,
        format!("{CLIENT}|{stamp}").as_bytes(),
    );
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("x-client-key", CLIENT.to_owned()),
        ("x-timestamp", stamp),
        ("x-signature", signature),
    ];
    let answer = send(
        sim,
        "POST",
        TOKEN_PATH,
        &headers,
        r#"{"grantType": "client_credentials", "additionalInfo": ""}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    answer.json["accessToken"]
        .as_str()
        .expect("token")
        .to_owned()
}

fn snap_headers(
    method: &str,
    path: &str,
    token: &str,
    secret: &str,
    body: &str,
) -> Vec<(&'static str, String)> {
    let stamp = snap::timestamp(true);
    let message = format!(
        "{method}:{path}:{token}:{}:{stamp}",
        snap::body_hash(body.as_bytes())
    );
    vec![
        ("content-type", "application/json".to_owned()),
        ("authorization", format!("Bearer {token}")),
        ("x-timestamp", stamp),
        ("x-signature", hmac_sha512_b64(secret.as_bytes(), &message)),
        ("x-partner-id", CLIENT.to_owned()),
        ("x-external-id", external_id()),
        ("channel-id", "SDK".to_owned()),
    ]
}

async fn snap_call(
    sim: &DokuSimulator,
    method: &str,
    path: &str,
    token: &str,
    body: &Value,
) -> Answer {
    // Python's separators: the signature covers the minified form only.
    let text = serde_json::to_string(body)
        .expect("json")
        .replace("\":", "\": ")
        .replace(",\"", ", \"");
    let headers = snap_headers(method, path, token, SECRET, &text);
    send(sim, method, path, &headers, &text).await
}

fn create_body(trx_id: &str, customer_no: &str) -> Value {
    json!({
        "partnerServiceId": "    8129",
        "virtualAccountName": "Budi Santoso",
        "trxId": trx_id,
        "totalAmount": {"value": "150000.00", "currency": "IDR"},
        "virtualAccountTrxType": "C",
        "customerNo": customer_no,
        "virtualAccountNo": format!("    8129{customer_no}"),
        "virtualAccountEmail": "budi@example.com",
        "virtualAccountPhone": "6281234567890",
        "additionalInfo": {
            "channel": "VIRTUAL_ACCOUNT_BNI",
            "virtualAccountConfig": {"reusableStatus": false},
            "origin": {"product": "SDK", "source": "python"}
        },
        "expiredDate": wib::iso(wib::now() + time::Duration::days(1)),
    })
}

fn identity(trx_id: &str, customer_no: &str) -> Value {
    json!({
        "partnerServiceId": "    8129",
        "customerNo": customer_no,
        "virtualAccountNo": format!("    8129{customer_no}"),
        "trxId": trx_id,
        "additionalInfo": {"channel": "VIRTUAL_ACCOUNT_BNI"},
    })
}

fn with(mut body: Value, path: &[&str], value: Option<Value>) -> Value {
    let mut target = &mut body;
    for key in &path[..path.len() - 1] {
        target = &mut target[*key];
    }
    let last = path[path.len() - 1];
    if let Some(fields) = target.as_object_mut() {
        match value {
            Some(value) => fields.insert(last.to_owned(), value),
            None => fields.remove(last),
        };
    }
    body
}

fn keys_of(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

async fn create_one(sim: &DokuSimulator, token: &str, trx_id: &str, customer_no: &str) -> Answer {
    snap_call(
        sim,
        "POST",
        CREATE_VA_PATH,
        token,
        &create_body(trx_id, customer_no),
    )
    .await
}

#[tokio::test]
async fn token_answers_a_numeric_expiry_with_only_the_allowed_keys() {
    let sim = simulator();
    let stamp = "2024-01-01T03:00:00Z".to_owned();
    let signature = rsa_sign_b64(
        keys::MERCHANT.private_pem,
        format!("{CLIENT}|{stamp}").as_bytes(),
    );
    let headers = [
        ("x-client-key", CLIENT.to_owned()),
        ("x-timestamp", stamp.clone()),
        ("x-signature", signature),
    ];
    let answer = send(
        &sim,
        "POST",
        TOKEN_PATH,
        &headers,
        r#"{"grantType":"client_credentials","additionalInfo":""}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["expiresIn"], json!(900));
    assert_eq!(
        keys_of(&answer.json),
        [
            "accessToken",
            "expiresIn",
            "responseCode",
            "responseMessage",
            "tokenType"
        ]
    );
    assert_eq!(answer.json["responseCode"], "2007300");

    let forged = rsa_sign_b64(
        keys::DOKU.private_pem,
        format!("{CLIENT}|{stamp}").as_bytes(),
    );
    let headers = [
        ("x-client-key", CLIENT.to_owned()),
        ("x-timestamp", stamp),
        ("x-signature", forged),
    ];
    let answer = send(
        &sim,
        "POST",
        TOKEN_PATH,
        &headers,
        r#"{"grantType":"client_credentials"}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json["responseCode"], "4017300");
    assert_eq!(sim.tokens_issued(), 1);
    assert_eq!(sim.calls(ops::TOKEN), 2);
}

#[tokio::test]
async fn create_va_holds_the_va_and_answers_the_sdk_key_set() {
    let sim = simulator();
    let token = token(&sim).await;
    let answer = create_one(&sim, &token, "INV-0001", "000000000001").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    assert_eq!(answer.json["responseCode"], "2002700");
    assert_eq!(
        keys_of(&answer.json),
        ["responseCode", "responseMessage", "virtualAccountData"]
    );
    let data = &answer.json["virtualAccountData"];
    assert_eq!(data["virtualAccountNo"], "    8129000000000001");
    assert_eq!(
        data["totalAmount"],
        json!({"value": "150000.00", "currency": "IDR"})
    );
    for key in ["channel", "howToPayPage", "howToPayApi"] {
        assert!(data["additionalInfo"][key].is_string(), "{key}");
    }
    assert!(answer.headers.contains_key("x-timestamp"));
    let va = sim.va("INV-0001").expect("held");
    assert_eq!(va.number(), "8129000000000001");
    assert_eq!((va.amount, va.state), (150_000, VaState::Active));
    assert_eq!(sim.vas_for("INV-0001"), 1);
    assert_eq!(sim.calls(ops::CREATE_VA), 1);
}

#[tokio::test]
async fn create_va_refuses_each_broken_rule_with_its_code() {
    let sim = simulator();
    let token = token(&sim).await;
    let base = || create_body("INV-RULES", "000000000002");
    let cases: Vec<(Value, &str)> = vec![
        (
            with(base(), &["partnerServiceId"], Some(json!("8129"))),
            "4002701",
        ),
        (
            with(base(), &["partnerServiceId"], Some(json!("   A8129"))),
            "4002701",
        ),
        (with(base(), &["partnerServiceId"], None), "4002702"),
        (
            with(base(), &["customerNo"], Some(json!("12AB"))),
            "4002701",
        ),
        (
            with(base(), &["customerNo"], Some(json!("1".repeat(21)))),
            "4002701",
        ),
        (
            with(
                base(),
                &["virtualAccountName"],
                Some(json!("Budi <script>")),
            ),
            "4002701",
        ),
        (with(base(), &["virtualAccountName"], None), "4002702"),
        (
            with(base(), &["virtualAccountPhone"], Some(json!("0812"))),
            "4002701",
        ),
        (
            with(base(), &["trxId"], Some(json!("X".repeat(65)))),
            "4002701",
        ),
        (with(base(), &["trxId"], None), "4002702"),
        (
            with(
                base(),
                &["totalAmount"],
                Some(json!({"value": "150000", "currency": "IDR"})),
            ),
            "4002701",
        ),
        (
            with(
                base(),
                &["totalAmount"],
                Some(json!({"value": "150000.00", "currency": "USD"})),
            ),
            "4002701",
        ),
        (
            with(
                base(),
                &["totalAmount"],
                Some(json!({"value": "150000.50", "currency": "IDR"})),
            ),
            "4002701",
        ),
        (
            with(base(), &["virtualAccountTrxType"], Some(json!("I"))),
            "4002701",
        ),
        (
            with(base(), &["expiredDate"], Some(json!("2024-01-02 10:00:00"))),
            "4002701",
        ),
        (
            with(
                base(),
                &["expiredDate"],
                Some(json!("2024-01-02T10:00:00.123+07:00")),
            ),
            "4002701",
        ),
        (with(base(), &["expiredDate"], None), "4002702"),
        (with(base(), &["additionalInfo"], None), "4002702"),
        (
            with(
                base(),
                &["additionalInfo", "channel"],
                Some(json!("VIRTUAL_ACCOUNT_XYZ")),
            ),
            "4002701",
        ),
        (
            with(base(), &["additionalInfo", "channel"], None),
            "4002702",
        ),
        (
            with(
                base(),
                &["additionalInfo", "virtualAccountConfig", "reusableStatus"],
                None,
            ),
            "4002702",
        ),
        (
            with(
                base(),
                &["additionalInfo", "virtualAccountConfig", "minAmount"],
                Some(json!("1000.00")),
            ),
            "4002701",
        ),
    ];
    for (body, code) in cases {
        let answer = snap_call(&sim, "POST", CREATE_VA_PATH, &token, &body).await;
        assert_eq!(answer.json["responseCode"], code, "{body}");
        assert_eq!(answer.status.as_u16(), 400);
        assert_eq!(keys_of(&answer.json), ["responseCode", "responseMessage"]);
    }
    assert!(sim.vas().is_empty());
    // Open VAs with bounds, and the DOKU-only V, pass.
    let open = with(base(), &["virtualAccountTrxType"], Some(json!("V")));
    let open = with(
        open,
        &["additionalInfo", "virtualAccountConfig", "minAmount"],
        Some(json!("10000.00")),
    );
    let answer = snap_call(&sim, "POST", CREATE_VA_PATH, &token, &open).await;
    assert_eq!(answer.json["responseCode"], "2002700", "{}", answer.json);
}

#[tokio::test]
async fn duplicates_tokens_and_signatures_are_refused() {
    let sim = simulator();
    let token = token(&sim).await;
    assert_eq!(
        create_one(&sim, &token, "INV-DUP", "000000000003")
            .await
            .json["responseCode"],
        "2002700"
    );
    let again = create_one(&sim, &token, "INV-DUP", "000000000004").await;
    assert_eq!(
        (again.status.as_u16(), again.json["responseCode"].as_str()),
        (409, Some("4092700"))
    );
    let same_number = create_one(&sim, &token, "INV-DUP2", "000000000003").await;
    assert_eq!(same_number.json["responseCode"], "4092700");
    assert_eq!(sim.vas_for("INV-DUP"), 1);
    assert_eq!(sim.vas().len(), 1);

    let body = create_body("INV-SIG", "000000000005");
    let text = body.to_string();
    // A signature with another secret, over another path, an unknown token, a reused
    // X-EXTERNAL-ID, and no CHANNEL-ID.
    let wrong_secret = snap_headers("POST", CREATE_VA_PATH, &token, "other", &text);
    let wrong_path = snap_headers("POST", "/v1.0/transfer-va/create-va", &token, SECRET, &text);
    let unknown_token = snap_headers("POST", CREATE_VA_PATH, "not-a-token", SECRET, &text);
    let mut no_channel = snap_headers("POST", CREATE_VA_PATH, &token, SECRET, &text);
    no_channel.retain(|(name, _)| *name != "channel-id");
    for (headers, code) in [
        (wrong_secret, "4012700"),
        (wrong_path, "4012700"),
        (unknown_token, "4012701"),
        (no_channel, "4002702"),
    ] {
        let answer = send(&sim, "POST", CREATE_VA_PATH, &headers, &text).await;
        assert_eq!(answer.json["responseCode"], code);
    }
    let headers = snap_headers("POST", CREATE_VA_PATH, &token, SECRET, &text);
    assert_eq!(
        send(&sim, "POST", CREATE_VA_PATH, &headers, &text)
            .await
            .json["responseCode"],
        "2002700"
    );
    let body2 = create_body("INV-SIG2", "000000000006").to_string();
    let mut reused = snap_headers("POST", CREATE_VA_PATH, &token, SECRET, &body2);
    let external = headers
        .iter()
        .find(|(n, _)| *n == "x-external-id")
        .map(|(_, v)| v.clone());
    let message_fixed = reused.iter().position(|(n, _)| *n == "x-external-id");
    if let (Some(index), Some(external)) = (message_fixed, external) {
        reused[index].1 = external;
    }
    assert_eq!(
        send(&sim, "POST", CREATE_VA_PATH, &reused, &body2)
            .await
            .json["responseCode"],
        "4092700"
    );
    assert!(sim.va("INV-SIG2").is_none());

    sim.expire_tokens();
    let answer = create_one(&sim, &token, "INV-EXP", "000000000007").await;
    assert_eq!(answer.json["responseCode"], "4012701");
    let fresh = super::tests::token(&sim).await;
    assert_eq!(
        create_one(&sim, &fresh, "INV-EXP", "000000000007")
            .await
            .json["responseCode"],
        "2002700"
    );
}

#[tokio::test]
async fn update_delete_and_status_follow_the_va_lifecycle() {
    let sim = simulator();
    let token = token(&sim).await;
    create_one(&sim, &token, "INV-LIFE", "000000000010").await;

    let status_body = json!({"partnerServiceId": "    8129", "customerNo": "000000000010", "virtualAccountNo": "    8129000000000010", "additionalInfo": {}});
    let status = snap_call(&sim, "POST", VA_STATUS_PATH, &token, &status_body).await;
    assert_eq!(status.json["responseCode"], "2002600", "{}", status.json);
    assert_eq!(
        keys_of(&status.json),
        [
            "additionalInfo",
            "responseCode",
            "responseMessage",
            "virtualAccountData"
        ]
    );
    assert_eq!(
        status.json["virtualAccountData"]["paidAmount"]["value"],
        "0.00"
    );
    assert!(
        status.json["virtualAccountData"]
            .get("paymentFlagStatus")
            .is_none()
    );

    let mut update = identity("INV-LIFE", "000000000010");
    update["additionalInfo"]["virtualAccountConfig"] = json!({"status": "ACTIVE"});
    update["totalAmount"] = snap::amount(175_000);
    let answer = snap_call(&sim, "PUT", UPDATE_VA_PATH, &token, &update).await;
    assert_eq!(answer.json["responseCode"], "2002800", "{}", answer.json);
    assert_eq!(
        keys_of(&answer.json),
        ["responseCode", "responseMessage", "virtualAccountData"]
    );
    assert_eq!(sim.va("INV-LIFE").map(|va| va.amount), Some(175_000));

    let mismatched = with(
        update.clone(),
        &["virtualAccountNo"],
        Some(json!("8129000000000010")),
    );
    assert_eq!(
        snap_call(&sim, "PUT", UPDATE_VA_PATH, &token, &mismatched)
            .await
            .json["responseCode"],
        "4002801"
    );
    let no_status = with(
        update.clone(),
        &["additionalInfo", "virtualAccountConfig", "status"],
        None,
    );
    assert_eq!(
        snap_call(&sim, "PUT", UPDATE_VA_PATH, &token, &no_status)
            .await
            .json["responseCode"],
        "4002802"
    );
    let unknown = with(update.clone(), &["trxId"], Some(json!("INV-NONE")));
    assert_eq!(
        snap_call(&sim, "PUT", UPDATE_VA_PATH, &token, &unknown)
            .await
            .json["responseCode"],
        "4042812"
    );

    // Paying closes it: the wrong amount is refused, the right one recorded.
    assert!(matches!(
        sim.pay_va_and_capture("INV-LIFE", 150_000),
        Err(SimError::AmountRefused { .. })
    ));
    sim.pay_va_and_capture("INV-LIFE", 175_000).expect("paid");
    assert!(matches!(
        sim.pay_va_and_capture("INV-LIFE", 175_000),
        Err(SimError::NotPayable { state: "paid", .. })
    ));
    let status = snap_call(&sim, "POST", VA_STATUS_PATH, &token, &status_body).await;
    let data = &status.json["virtualAccountData"];
    assert_eq!(
        (
            data["paymentFlagStatus"].as_str(),
            data["paidAmount"]["value"].as_str()
        ),
        (Some("00"), Some("175000.00"))
    );
    assert_eq!(
        snap_call(&sim, "PUT", UPDATE_VA_PATH, &token, &update)
            .await
            .json["responseCode"],
        "4042814"
    );
    let delete_paid = snap_call(
        &sim,
        "DELETE",
        DELETE_VA_PATH,
        &token,
        &identity("INV-LIFE", "000000000010"),
    )
    .await;
    assert_eq!(delete_paid.json["responseCode"], "4043114");

    create_one(&sim, &token, "INV-DEL", "000000000011").await;
    let delete = snap_call(
        &sim,
        "DELETE",
        DELETE_VA_PATH,
        &token,
        &identity("INV-DEL", "000000000011"),
    )
    .await;
    assert_eq!(delete.json["responseCode"], "2003100", "{}", delete.json);
    assert_eq!(
        keys_of(&delete.json),
        ["responseCode", "responseMessage", "virtualAccountData"]
    );
    assert_eq!(sim.va("INV-DEL").map(|va| va.state), Some(VaState::Deleted));
    let again = snap_call(
        &sim,
        "DELETE",
        DELETE_VA_PATH,
        &token,
        &identity("INV-DEL", "000000000011"),
    )
    .await;
    assert_eq!(again.json["responseCode"], "4043112");
    let deleted_status = json!({"partnerServiceId": "    8129", "customerNo": "000000000011", "virtualAccountNo": "    8129000000000011"});
    assert_eq!(
        snap_call(&sim, "POST", VA_STATUS_PATH, &token, &deleted_status)
            .await
            .json["responseCode"],
        "4042604"
    );
    let unknown_status = json!({"partnerServiceId": "    8129", "customerNo": "000000000099", "virtualAccountNo": "    8129000000000099"});
    assert_eq!(
        snap_call(&sim, "POST", VA_STATUS_PATH, &token, &unknown_status)
            .await
            .json["responseCode"],
        "4042612"
    );
}

#[tokio::test]
async fn faults_apply_per_operation() {
    let sim = simulator();
    let token = token(&sim).await;
    sim.faults()
        .push(FaultRule::once(ops::CREATE_VA, Fault::Down));
    assert_eq!(
        create_one(&sim, &token, "INV-F", "000000000020")
            .await
            .status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(sim.calls(ops::CREATE_VA), 0);
    sim.faults()
        .push(FaultRule::once(ops::CREATE_VA, Fault::Malformed));
    let garbled = create_one(&sim, &token, "INV-F", "000000000020").await;
    assert!(garbled.json.is_null() && garbled.status == StatusCode::OK);
    assert!(sim.va("INV-F").is_none());
    assert_eq!(
        create_one(&sim, &token, "INV-F", "000000000020").await.json["responseCode"],
        "2002700"
    );
    assert_eq!(sim.calls(ops::CREATE_VA), 1);
}

// ---- Checkout ----

const EXAMPLE_SECRET: &str = "SK-EXAMPLE-NOT-A-REAL-KEY";
const EXAMPLE_CLIENT: &str = "MCH-0001-10791114622547";

#[test]
fn signature_reproduces_the_worked_examples_of_2_3() {
    let va_body = r#"{"order":{"invoice_number":"INV-20210124-0001","amount":150000},"virtual_account_info":{"expired_time":60,"reusable_status":false,"info1":"Merchant Demo Store"},"customer":{"name":"Taufik Ismail","email":"taufik@example.com"}}"#;
    assert_eq!(
        digest(va_body.as_bytes()),
        "tHS3dAgYKCxLVZCzmL7FGXcEllf2nJn1gfG3duRqMn8="
    );
    let signature = request_signature(
        EXAMPLE_SECRET,
        EXAMPLE_CLIENT,
        "cc682442-6c22-493e-8121-b9ef6b3fa728",
        "2020-10-21T03:38:28Z",
        "/bca-virtual-account/v2/payment-code",
        Some(va_body.as_bytes()),
    );
    assert_eq!(
        signature,
        "HMACSHA256=uQt+i5vOTYzJiE87Hk+5lulp9bCKjAp6MUxSbD4Q0Wg="
    );
    let get = request_signature(
        EXAMPLE_SECRET,
        EXAMPLE_CLIENT,
        "d895fb53-479c-4f77-a76a-ab81b40d77cb",
        "2020-08-11T08:45:42Z",
        "/orders/v1/status/INV-20210124-0001",
        None,
    );
    assert_eq!(
        get,
        "HMACSHA256=F7Cw6zKAbUBgmpjRdXxRHmHrt+nziNeRZTDMvplmLHM="
    );
    let notify_body = r#"{"service":{"id":"VIRTUAL_ACCOUNT"},"acquirer":{"id":"BCA"},"channel":{"id":"VIRTUAL_ACCOUNT_BCA"},"transaction":{"status":"SUCCESS","date":"2021-01-27T03:24:23Z","original_request_id":"cc682442-6c22-493e-8121-b9ef6b3fa728"},"order":{"invoice_number":"INV-20210124-0001","amount":150000},"virtual_account_info":{"virtual_account_number":"1900600000000046"},"virtual_account_payment":{"date":"20210127102423","systrace_number":"408173","reference_number":"17089","channel_code":""}}"#;
    assert_eq!(
        digest(notify_body.as_bytes()),
        "mgMEVWbGEFXTblmUV5TuLOT8nGNVtySY4fF+x75hTAk="
    );
    let notify = request_signature(
        EXAMPLE_SECRET,
        EXAMPLE_CLIENT,
        "479b663f-5c9d-400d-8e80-3e548a8f7639",
        "2021-01-27T03:24:24Z",
        "/payments/notifications",
        Some(notify_body.as_bytes()),
    );
    assert_eq!(
        notify,
        "HMACSHA256=o6pBYJWNNBLtN6tv6VwoiLYI4Cbmek2GzkvLWO0vido="
    );
}

fn checkout_headers(
    request_id: &str,
    target: &str,
    body: Option<&str>,
    secret: &str,
) -> Vec<(&'static str, String)> {
    let stamp = checkout::utc_timestamp(OffsetDateTime::now_utc());
    let signature = request_signature(
        secret,
        CLIENT,
        request_id,
        &stamp,
        target,
        body.map(str::as_bytes),
    );
    vec![
        ("content-type", "application/json".to_owned()),
        ("client-id", CLIENT.to_owned()),
        ("request-id", request_id.to_owned()),
        ("request-timestamp", stamp),
        ("signature", signature),
    ]
}

fn checkout_body(invoice: &str) -> String {
    json!({
        "order": {"amount": 150000, "invoice_number": invoice, "currency": "IDR"},
        "payment": {"payment_due_date": 60, "payment_method_types": ["VIRTUAL_ACCOUNT_BANK_MANDIRI"]},
    })
    .to_string()
}

async fn create_checkout(sim: &DokuSimulator, invoice: &str, request_id: &str) -> Answer {
    let body = checkout_body(invoice);
    let headers = checkout_headers(request_id, CHECKOUT_PATH, Some(&body), SECRET);
    send(sim, "POST", CHECKOUT_PATH, &headers, &body).await
}

/// Verifies DOKU's response signature (2.3, `Response-Timestamp` variant).
fn response_signed(answer: &Answer, target: &str) -> bool {
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let text = component(
        &header("client-id"),
        &header("request-id"),
        "Response-Timestamp",
        &header("response-timestamp"),
        target,
        Some(&answer.raw),
    );
    signature(SECRET, &text) == header("signature")
}

#[tokio::test]
async fn checkout_create_answers_a_payment_url_and_replays_with_409() {
    let sim = simulator();
    let answer = create_checkout(&sim, "INV-CO-1", "rid-1").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    assert_eq!(answer.json["message"][0], "SUCCESS");
    let url = answer.json["response"]["payment"]["url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(url.starts_with(DEFAULT_CHECKOUT_BASE_URL), "{url}");
    assert!(response_signed(&answer, CHECKOUT_PATH));
    let view = sim.checkout("INV-CO-1").expect("held");
    assert_eq!(
        (
            view.amount,
            view.state,
            view.url.as_str(),
            view.request_id.as_str()
        ),
        (150_000, CheckoutState::Pending, url.as_str(), "rid-1")
    );

    let replay = create_checkout(&sim, "INV-CO-1", "rid-1").await;
    assert_eq!(replay.status, StatusCode::CONFLICT);
    assert_eq!(replay.json, answer.json);
    let other_body = create_checkout(&sim, "INV-CO-2", "rid-1").await;
    assert_eq!(other_body.status, StatusCode::CONFLICT);
    assert_ne!(other_body.json, answer.json);
    let same_invoice = create_checkout(&sim, "INV-CO-1", "rid-2").await;
    assert_eq!(same_invoice.status, StatusCode::CONFLICT);
    assert_eq!(sim.checkouts_for("INV-CO-1"), 1);
    assert!(sim.checkout("INV-CO-2").is_none());
    assert_eq!(sim.calls(ops::CHECKOUT), 4);
}

#[tokio::test]
async fn checkout_refuses_bad_signatures_and_fields() {
    let sim = simulator();
    let body = checkout_body("INV-CO-3");
    let wrong = checkout_headers("rid-3", CHECKOUT_PATH, Some(&body), "other-secret");
    let answer = send(&sim, "POST", CHECKOUT_PATH, &wrong, &body).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.json["message"][0].is_string() && answer.json["error"]["message"].is_string());
    // Signed over other bytes than those sent (whitespace counts here: raw-byte Digest).
    let spaced = body.replace(':', ": ");
    let headers = checkout_headers("rid-4", CHECKOUT_PATH, Some(&body), SECRET);
    assert_eq!(
        send(&sim, "POST", CHECKOUT_PATH, &headers, &spaced)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // A trailing LF in the component string is a different signature.
    let stamp = checkout::utc_timestamp(OffsetDateTime::now_utc());
    let text = component(
        CLIENT,
        "rid-5",
        "Request-Timestamp",
        &stamp,
        CHECKOUT_PATH,
        Some(body.as_bytes()),
    ) + "\n";
    let headers = vec![
        ("client-id", CLIENT.to_owned()),
        ("request-id", "rid-5".to_owned()),
        ("request-timestamp", stamp),
        ("signature", signature(SECRET, &text)),
    ];
    assert_eq!(
        send(&sim, "POST", CHECKOUT_PATH, &headers, &body)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let mut fractional = checkout_headers("rid-6", CHECKOUT_PATH, Some(&body), SECRET);
    fractional[3].1 = "2024-01-01T03:00:00.000Z".to_owned();
    assert_eq!(
        send(&sim, "POST", CHECKOUT_PATH, &fractional, &body)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let long_id = "r".repeat(129);
    let headers = checkout_headers(&long_id, CHECKOUT_PATH, Some(&body), SECRET);
    assert_eq!(
        send(&sim, "POST", CHECKOUT_PATH, &headers, &body)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    for broken in [
        json!({"order": {"invoice_number": "INV-X"}, "payment": {"payment_due_date": 60}}),
        json!({"order": {"amount": 1000}, "payment": {"payment_due_date": 60}}),
        json!({"order": {"amount": 1000, "invoice_number": "INV-X"}}),
        json!({"order": {"amount": 10.5, "invoice_number": "INV-X"}, "payment": {"payment_due_date": 60}}),
        json!({"order": {"amount": 1000, "invoice_number": "I".repeat(65)}, "payment": {"payment_due_date": 60}}),
    ] {
        let text = broken.to_string();
        let headers = checkout_headers(&checkout::request_id(), CHECKOUT_PATH, Some(&text), SECRET);
        let answer = send(&sim, "POST", CHECKOUT_PATH, &headers, &text).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{broken}");
    }
    assert!(sim.checkout("INV-CO-3").is_none());
}

#[tokio::test]
async fn checkout_status_is_signed_without_digest() {
    let sim = simulator();
    create_checkout(&sim, "INV-ST-1", "rid-st-1").await;
    let target = format!("{CHECKOUT_STATUS_PREFIX}INV-ST-1");
    let headers = checkout_headers("rid-st-2", &target, None, SECRET);
    let answer = send(&sim, "GET", &target, &headers, "").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    assert_eq!(answer.json["transaction"]["status"], "PENDING");
    assert_eq!(
        answer.json["transaction"]["original_request_id"],
        "rid-st-1"
    );
    assert!(response_signed(&answer, &target));
    // With a Digest line (of the empty body) it is not DOKU's GET signature.
    let with_digest = checkout_headers("rid-st-3", &target, Some(""), SECRET);
    assert_eq!(
        send(&sim, "GET", &target, &with_digest, "").await.status,
        StatusCode::UNAUTHORIZED
    );
    let unknown = format!("{CHECKOUT_STATUS_PREFIX}INV-NONE");
    let headers = checkout_headers("rid-st-4", &unknown, None, SECRET);
    assert_eq!(
        send(&sim, "GET", &unknown, &headers, "").await.status,
        StatusCode::NOT_FOUND
    );

    PaymentSimulator::complete(&sim, "INV-ST-1").expect("completes");
    let headers = checkout_headers("rid-st-5", &target, None, SECRET);
    let answer = send(&sim, "GET", &target, &headers, "").await;
    assert_eq!(answer.json["transaction"]["status"], "SUCCESS");
    assert_eq!(answer.json["channel"]["id"], "VIRTUAL_ACCOUNT_BANK_MANDIRI");
    assert!(matches!(
        PaymentSimulator::fail(&sim, "INV-ST-1"),
        Err(SimError::NotPayable { state: "paid", .. })
    ));
    assert_eq!(sim.payments_for("INV-ST-1"), 1);
}

// ---- acting against a local merchant ----

/// What the local merchant received.
#[derive(Clone, Default)]
struct Merchant {
    received: Arc<Mutex<Vec<(String, Value)>>>,
    snap: Option<SnapProvider>,
}

async fn merchant_token(State(m): State<Merchant>, headers: HeaderMap, body: Bytes) -> Response {
    let snap = m.snap.clone().expect("snap merchant");
    let (status, answer) = snap.token_answer(&headers, &body);
    (status, axum::Json(answer)).into_response()
}

async fn merchant_va(State(m): State<Merchant>, headers: HeaderMap, body: Bytes) -> Response {
    let snap = m.snap.clone().expect("snap merchant");
    let value: Value = serde_json::from_slice(&body).unwrap_or_default();
    m.received
        .lock()
        .expect("lock")
        .push(("va".to_owned(), value));
    match snap.check(
        "POST",
        "/v1/transfer-va/payment",
        &headers,
        &body,
        25,
        Some(NOTIFY_CHANNEL_ID),
    ) {
        Ok(()) => axum::Json(json!({"responseCode": "2002500", "responseMessage": "success"}))
            .into_response(),
        Err((status, answer)) => (status, axum::Json(answer)).into_response(),
    }
}

async fn merchant_checkout(State(m): State<Merchant>, headers: HeaderMap, body: Bytes) -> Response {
    let value: Value = serde_json::from_slice(&body).unwrap_or_default();
    m.received
        .lock()
        .expect("lock")
        .push(("checkout".to_owned(), value));
    match checkout::verify_request(
        &headers,
        CLIENT,
        SECRET,
        "/payments/notifications",
        Some(&body),
    ) {
        Ok(_) => StatusCode::OK.into_response(),
        Err((status, _)) => status.into_response(),
    }
}

async fn spawn_merchant(sim: &DokuSimulator) -> (Merchant, Running) {
    // The merchant issues tokens to DOKU's key and shares the secret key with it.
    let snap = SnapProvider::new(SnapProviderConfig {
        client_key: CLIENT.to_owned(),
        partner_id: CLIENT.to_owned(),
        client_secret: SECRET.to_owned(),
        merchant_public_key_pem: keys::DOKU.public_pem.to_owned(),
        token_ttl_secs: 900,
        expires_in_as_number: true,
    });
    let merchant = Merchant {
        received: Arc::default(),
        snap: Some(snap),
    };
    let router = Router::new()
        .route("/v1.0/access-token/b2b", post(merchant_token))
        .route("/v1/transfer-va/payment", post(merchant_va))
        .route("/payments/notifications", post(merchant_checkout))
        .with_state(merchant.clone());
    let running = server::spawn(router, server::any_local_port())
        .await
        .expect("bind");
    let base = &running.base_url;
    sim.set_urls(
        &format!("{base}/v1.0/access-token/b2b"),
        &format!("{base}/v1/transfer-va/payment"),
        &format!("{base}/payments/notifications"),
    );
    (merchant, running)
}

#[tokio::test]
async fn pay_va_gets_a_token_and_posts_the_13_key_notification() {
    let sim = simulator();
    let (merchant, _running) = spawn_merchant(&sim).await;
    let token = token(&sim).await;
    create_one(&sim, &token, "INV-PAY", "000000000030").await;
    let outcome = sim.pay_va("INV-PAY", 150_000).await.expect("delivered");
    assert_eq!(outcome.status, 200, "{}", outcome.body);
    let va = sim.va("INV-PAY").expect("held");
    assert_eq!(va.state, VaState::Paid);
    assert!(va.payments[0].acknowledged);
    let received = merchant.received.lock().expect("lock").clone();
    let body = &received[0].1;
    let allowed = [
        "partnerServiceId",
        "customerNo",
        "virtualAccountNo",
        "virtualAccountName",
        "virtualAccountEmail",
        "virtualAccountPhone",
        "trxId",
        "paymentRequestId",
        "paidAmount",
        "trxDateTime",
        "additionalInfo",
        "virtualAccountTrxType",
        "expiredDate",
    ];
    assert!(
        keys_of(body)
            .iter()
            .all(|key| allowed.contains(&key.as_str())),
        "{body}"
    );
    assert_eq!(
        body["paidAmount"],
        json!({"value": "150000.00", "currency": "IDR"})
    );
    assert_eq!(body["virtualAccountNo"], "    8129000000000030");

    // Duplicates reuse the token; a tampered one is refused by the merchant.
    create_one(&sim, &token, "INV-PAY2", "000000000031").await;
    let outcomes = sim
        .pay_va_with("INV-PAY2", 150_000, CallbackOptions::repeated(3, true))
        .await
        .expect("delivered");
    assert!(outcomes.iter().all(|o| o.status == 200));
    let first_id =
        |i: usize| merchant.received.lock().expect("lock")[i].1["paymentRequestId"].clone();
    assert_eq!(first_id(1), first_id(3));
    let spoiled = sim
        .redeliver_va("INV-PAY2", CallbackOptions::tampered(Tamper::WrongKey))
        .await
        .expect("posted");
    assert_eq!(spoiled[0].status, 401);
}

#[tokio::test]
async fn checkout_notifications_are_signed_for_the_notification_path() {
    let sim = simulator();
    let (merchant, _running) = spawn_merchant(&sim).await;
    create_checkout(&sim, "INV-N-1", "rid-n-1").await;
    let outcome = sim.complete_checkout("INV-N-1").await.expect("delivered");
    assert_eq!(outcome.status, 200);
    let view = sim.checkout("INV-N-1").expect("held");
    assert_eq!(view.state, CheckoutState::Success);
    assert!(view.acknowledged);
    let received = merchant.received.lock().expect("lock").clone();
    let body = &received[0].1;
    assert_eq!(body["transaction"]["status"], "SUCCESS");
    assert_eq!(body["transaction"]["original_request_id"], "rid-n-1");
    assert_eq!(
        body["order"],
        json!({"invoice_number": "INV-N-1", "amount": 150000})
    );
    assert_eq!(body["acquirer"]["id"], "BANK_MANDIRI");

    create_checkout(&sim, "INV-N-2", "rid-n-2").await;
    let outcomes = sim
        .fail_checkout_with("INV-N-2", CallbackOptions::tampered(Tamper::FlipByte))
        .await
        .expect("posted");
    assert_eq!(outcomes[0].status, 401);
    assert!(!sim.checkout("INV-N-2").expect("held").acknowledged);
    for tamper in [Tamper::WrongKey, Tamper::None] {
        let captured = sim.checkout_notification("INV-N-2", tamper).expect("built");
        let headers: HeaderMap = captured
            .headers
            .iter()
            .filter_map(|(n, v)| {
                Some((
                    HeaderName::from_bytes(n.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        let verdict = checkout::verify_request(
            &headers,
            CLIENT,
            SECRET,
            "/payments/notifications",
            Some(&captured.body),
        );
        assert_eq!(verdict.is_ok(), tamper == Tamper::None);
    }
    create_checkout(&sim, "INV-N-3", "rid-n-3").await;
    sim.expire_checkout("INV-N-3").await.expect("delivered");
    assert_eq!(
        sim.checkout("INV-N-3").map(|c| c.state),
        Some(CheckoutState::Expired)
    );
    assert!(matches!(
        sim.complete_checkout("INV-N-3").await,
        Err(SimError::NotPayable {
            state: "expired",
            ..
        })
    ));
}

#[test]
fn debug_output_hides_the_secret_key() {
    let text = format!("{:?} {:?}", simulator(), DokuConfig::new(CLIENT, SECRET));
    assert!(
        !text.contains(SECRET) && !text.contains("PRIVATE"),
        "{text}"
    );
}
