use axum::Router;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::IntoResponse;
use axum::routing::post;

use super::*;
use crate::keys;

const TV_S1: &str = "WzW49tYIgKIBmBi/gVBHGLAkhEaZlXM11zcZxAiyHji6TLPjPbwLu3Z45it25AIeG0XDItcdTSkds47zFEMh6IP0PXPIP1+Ey4RmX/o2fuYRF/xBHvfvKnMmANMTS1axsXBSW3EHqYpbVrkCcqNnB3u+wu63us9WIhRZaWgxgQ2PJLaiVHIwgu9u7jxkWX7Bg4rerZH3RKdQfIJAAJsSN13efR7VdSAyzU7QaKjgislxrLqmesYNJkbD03XLjHdo6YWuzAVV7xdZRpLiGkIAkW7luXTBZYBO+4oENZAPQYzrLeN1qRY1Sr7BgLONCA2QA26BB6SYW4R7qofS9+RyOQ==";
const TV_S3: &str = "RoJnP2tH/YiOhHM/lMVBMSAuzRmS8VrWdIy04Qqyb56daV7oWFMFoMMzqnjQ+q0MIUalYgU094GWQnCx2c29xb1kkqHhv2+iJ9xl6NjGmFGYqyvcKvUDAV83Y1Mw9JnsEcjcupdGw9/MRv/mm2GMrQ+BCZGfc4a46JDyPZbcY294vDGqs5rFBN6iYer5ro4cAQGo9hET2G82Y+j50vCyO/79GFE4vB1rvtu6PK2Bxi+vTYV8k7P7PS8tOPWM2O+kjiVWjwvLR99Botou+a8sxlQqZaihfWMKcByzV+Lgkr9cptpjys+1NIRWT1ad/sJBSLHyldzC3q2oRn5z5oZmyg==";
const TV_S4: &str = "AZkS2bQlbdNQY4xYsSQ3NwVaFuLhLzWHLjAsykPNNx1MhuypHfvGwuGupSskwg+bqxJQM77fMt+PTfY13xRfbFoDq/i3w+CgpB5uPBuYx2icBCOmwJlThLn7+RozYzwl/6fYIPL1g39yjWjud23zlf4tA4LwkM9PWwxxIQvwUE7/CDGqTC1AL7RYTcwIxT/vxi+6xjGTDiwnQnhX4m+3gRdOon6cG6WSyIUYpFSDjkoWy3J7iGwP0Grn545hLLHTQE/6yl+I1n8ATaMbvsLdoKNO/J3TlMapdvP6lQn9NNn3S2jZW12JdYZWzBguNy5Oy0+sStJQW99t6iJ5pu9n7Q==";
const TV_S6_RSA: &str = "hPEOZmu6FGe1u6LBKPlcxhvkhVhqXXJLe4cg65b2OQFiy5TAhNvxJu3MKPu9hvf7aQ0of5lsd3XJuHicHZPyS91zfi3hT5lWaWwLyRE6Vi6ZRieClKAC5Ohb6yaKY8pMhQQv9m9kM/4AAowavSnt7REeu/L0QmzyTY2bzVQNeQtHek5TcuxcZ2f13OmvJuw8hvM3LUSLZIAo6WK0enGhFYlXaCSxfEIOmwVKdaH2ymiv5SfqNCExwuaeOiRfGKfMbJZvimVL0cH4VeO1ObY8HZ+5fSNIjL4bW1v0rX8uneqA+Ku5hbfKMjuO0bjZbROxwKRfeBeAiBVcpdII1eMZ3g==";

const TV_S2_BODY: &str = r#"{"partnerReferenceNo":"2020102900000000000001","amount":{"value":"12345678.00","currency":"IDR"},"feeAmount":{"value":"12345678.00","currency":"IDR"},"merchantId":"00007100010926","terminalId":"213141251124","validityPeriod":"2009-07-03T12:08:56-07:00"}"#;
const TV_S3_BODY: &str = r#"{"originalPartnerReferenceNo":"GP24043015193402809","originalReferenceNo":"A120240430081940S9vu8gSjaRID","merchantId":"G099333790","amount":{"value":"102800.00","currency":"IDR"},"latestTransactionStatus":"00","transactionStatusDesc":"SUCCESS","additionalInfo":{"refundHistory":[]}}"#;
const TV_S5_BODY: &str = r#"{"partnerServiceId":"    8123","customerNo":"000000000001","virtualAccountNo":"    8123000000000001","virtualAccountName":"Budi","trxId":"INV-0001","totalAmount":{"value":"150000.00","currency":"IDR"},"virtualAccountTrxType":"C","expiredDate":"2024-01-02T10:00:00+07:00","additionalInfo":{}}"#;
const TV_S6_BODY: &str = r#"{"partnerServiceId":"    8123","customerNo":"000000000001","virtualAccountNo":"    8123000000000001","virtualAccountName":"Budi","trxId":"INV-0001","paymentRequestId":"PR-0001","paidAmount":{"value":"150000.00","currency":"IDR"},"totalAmount":{"value":"150000.00","currency":"IDR"},"trxDateTime":"2024-01-01T11:00:00+07:00","referenceNo":"233171","flagAdvise":"N","additionalInfo":{}}"#;

fn symmetric(
    secret: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
    stamp: &str,
) -> String {
    let message = format!(
        "{method}:{path}:{token}:{}:{stamp}",
        body_hash(body.as_bytes())
    );
    hmac_sha512_b64(secret.as_bytes(), &message)
}

#[test]
fn tv_s1_and_s4_token_signatures_are_reproduced() {
    let demo = keys::SNAP_DEMO;
    let s1 = b"G1234325-SNAP|2024-03-01T08:27:49.024Z";
    assert_eq!(rsa_sign_b64(demo.private_pem, s1), TV_S1);
    assert!(rsa_verify_b64(demo.public_pem, s1, TV_S1));
    let s4 = b"BNI-TEST-CLIENT|2024-01-01T10:00:00+07:00";
    assert_eq!(rsa_sign_b64(demo.private_pem, s4), TV_S4);
    assert!(rsa_verify_b64(demo.public_pem, s4, TV_S4));
    assert!(!rsa_verify_b64(demo.public_pem, s1, TV_S4));
    assert!(!rsa_verify_b64(keys::MERCHANT.public_pem, s1, TV_S1));
    assert!(!rsa_verify_b64(demo.public_pem, s1, "not base64!"));
}

#[test]
fn tv_s2_symmetric_signature_is_reproduced() {
    assert_eq!(
        body_hash(TV_S2_BODY.as_bytes()),
        "01463f60dbb6ca538581579dd95b31c8ba9fc6600eca750e4d8460ca4e402111"
    );
    let signature = symmetric(
        "myclientsecret",
        "POST",
        "/v1.0/qr/qr-mpm-generate",
        "myaccesstoken",
        TV_S2_BODY,
        "2024-03-05T10:37:16.196Z",
    );
    assert_eq!(
        signature,
        "wmzT7yjg1SxxCsxNsFgCR9SYXiZGGbceF6fV8xe97sAMHxZ+7OEBMIBmvb6Sj6GcksGp3iv77DiomgSbcST3XQ=="
    );
}

#[test]
fn tv_s3_asymmetric_notification_verifies_with_the_demo_key() {
    assert_eq!(
        body_hash(TV_S3_BODY.as_bytes()),
        "79ebbe6a6b695262dd686d0dedafc57c94e3b3dededf8d63971f8a95699ace85"
    );
    let message = format!(
        "POST:/v1.0/debit/notify:{}:2024-05-02T14:43:08+07:00",
        body_hash(TV_S3_BODY.as_bytes())
    );
    assert!(rsa_verify_b64(
        keys::SNAP_DEMO.public_pem,
        message.as_bytes(),
        TV_S3
    ));
    assert_eq!(
        rsa_sign_b64(keys::SNAP_DEMO.private_pem, message.as_bytes()),
        TV_S3
    );
}

#[test]
fn tv_s5_create_va_signature_is_reproduced() {
    assert_eq!(
        body_hash(TV_S5_BODY.as_bytes()),
        "44406f98cf12909ba85912f068de956411b1881ca9a9dbdeeb0e9348c887041e"
    );
    let signature = symmetric(
        "SNAP-TEST-SECRET",
        "POST",
        "/v1.0/transfer-va/create-va",
        "TESTTOKEN123",
        TV_S5_BODY,
        "2024-01-01T10:00:00+07:00",
    );
    assert_eq!(
        signature,
        "BmurCdwodHOl6YnCLVN/JO7IDi0HPdkPxwhPLD6GSlod6+lfOkzn8svcoV83UxJLZvMY2CU0ZTLXX2XHDV+Yjg=="
    );
}

#[test]
fn tv_s6_payment_notification_signatures_are_reproduced() {
    let hash = body_hash(TV_S6_BODY.as_bytes());
    assert_eq!(
        hash,
        "857d9f56d1dae91605873fa12470c8afcf92467aee7bcff6c5979e0f3045d766"
    );
    let stamp = "2024-01-01T11:00:05+07:00";
    let signature = symmetric(
        "MERCHANT-ISSUED-SECRET",
        "POST",
        "/v1.0/transfer-va/payment",
        "MERCHANTISSUEDTOKEN",
        TV_S6_BODY,
        stamp,
    );
    assert_eq!(
        signature,
        "zeWjIb0zfnFf3PX8DXXjstN0EBkR4NQhRbnbmIbvDmwOCFnJccY1yswTK4Jh+hD+JkQds8m5yZIdfIAyHHfT7g=="
    );
    let message = format!("POST:/v1.0/transfer-va/payment:{hash}:{stamp}");
    assert_eq!(
        rsa_sign_b64(keys::SNAP_DEMO.private_pem, message.as_bytes()),
        TV_S6_RSA
    );
}

#[test]
fn tv_s7_empty_body_hash() {
    assert_eq!(
        body_hash(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn minify_drops_whitespace_outside_strings_only() {
    let spaced =
        "{ \"partnerServiceId\": \"    8123\",\n\t\"name\": \"a \\\" b\\\\\" , \"x\": [1, 2] }";
    assert_eq!(
        String::from_utf8_lossy(&minify(spaced.as_bytes())),
        "{\"partnerServiceId\":\"    8123\",\"name\":\"a \\\" b\\\\\",\"x\":[1,2]}"
    );
    // Python's default separators (", " and ": ") hash like the compact form.
    let python = TV_S5_BODY.replace("\":", "\": ").replace(",\"", ", \"");
    assert_ne!(python, TV_S5_BODY);
    assert_eq!(
        body_hash(python.as_bytes()),
        body_hash(TV_S5_BODY.as_bytes())
    );
    // Escapes are kept as received, not decoded.
    assert_eq!(minify(br#"{"n": "\u00e9"}"#), br#"{"n":"\u00e9"}"#.to_vec());
}

#[test]
fn timestamps_parse_in_every_sdk_form() {
    let expected = parse_timestamp("2024-01-01T10:00:00+07:00");
    assert!(expected.is_some());
    for form in [
        "2024-01-01T03:00:00Z",
        "2024-01-01T03:00:00.000Z",
        "2024-01-01T10:00:00",
        "2024-01-01T03:00:00.000000+00:00",
    ] {
        assert_eq!(parse_timestamp(form), expected, "{form}");
    }
    assert_eq!(parse_timestamp("2024-01-01 10:00:00"), None);
    assert_eq!(parse_timestamp("yesterday"), None);
    let now = timestamp(false);
    assert!(now.ends_with("+07:00") && now.len() == 25, "{now}");
    let utc = timestamp(true);
    assert!(utc.ends_with('Z') && utc.len() == 20, "{utc}");
    let (a, b) = (parse_timestamp(&now), parse_timestamp(&utc));
    assert!(
        a.zip(b)
            .is_some_and(|(a, b)| (a - b).whole_seconds().abs() <= 2)
    );
}

#[test]
fn codes_and_amounts_have_the_snap_form() {
    assert_eq!(response_code(401, 27, 0), "4012700");
    assert_eq!(response_code(200, 73, 0), "2007300");
    assert_eq!(response_code(409, 5, 1), "4090501");
    assert_eq!(
        amount(150_000),
        json!({"value": "150000.00", "currency": "IDR"})
    );
    assert_eq!(parse_amount(&amount(150_000)), Some(150_000));
    for refused in [
        json!({"value": "150000.50", "currency": "IDR"}),
        json!({"value": "150000", "currency": "IDR"}),
        json!({"value": "150000.0", "currency": "IDR"}),
        json!({"value": "-1.00", "currency": "IDR"}),
        json!({"value": 150000, "currency": "IDR"}),
        json!({"value": "150000.00", "currency": "USD"}),
        json!({"value": "150000.00"}),
    ] {
        assert_eq!(parse_amount(&refused), None, "{refused}");
    }
}

// ---- SnapProvider ----

const CLIENT: &str = "BRN-0001";
const PARTNER: &str = "PARTNER-1";
const SECRET: &str = "shared-secret";

fn provider(number: bool) -> SnapProvider {
    SnapProvider::new(SnapProviderConfig {
        client_key: CLIENT.to_owned(),
        partner_id: PARTNER.to_owned(),
        client_secret: SECRET.to_owned(),
        merchant_public_key_pem: keys::MERCHANT.public_pem.to_owned(),
        token_ttl_secs: 900,
        expires_in_as_number: number,
    })
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.insert(name, value);
        }
    }
    map
}

fn token_headers(client: &str, stamp: &str, key: &str) -> HeaderMap {
    let signature = rsa_sign_b64(key, format!("{client}|{stamp}").as_bytes());
    headers(&[
        ("x-client-key", client),
        ("x-timestamp", stamp),
        ("x-signature", &signature),
    ])
}

const TOKEN_BODY: &[u8] = br#"{"grantType":"client_credentials","additionalInfo":""}"#;

fn get_token(provider: &SnapProvider) -> String {
    let stamp = timestamp(true);
    let (status, answer) = provider.token_answer(
        &token_headers(CLIENT, &stamp, keys::MERCHANT.private_pem),
        TOKEN_BODY,
    );
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn token_answer_issues_tokens_with_only_the_standard_keys() {
    let doku = provider(true);
    let stamp = "2024-01-01T03:00:00Z";
    let (status, answer) = doku.token_answer(
        &token_headers(CLIENT, stamp, keys::MERCHANT.private_pem),
        TOKEN_BODY,
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["responseCode"], "2007300");
    assert_eq!(answer["tokenType"], "Bearer");
    assert_eq!(answer["expiresIn"], json!(900));
    let mut keys_seen: Vec<_> = answer
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys_seen.sort();
    assert_eq!(
        keys_seen,
        [
            "accessToken",
            "expiresIn",
            "responseCode",
            "responseMessage",
            "tokenType"
        ]
    );
    let bni = provider(false);
    let (_, answer) = bni.token_answer(
        &token_headers(
            CLIENT,
            "2024-01-01T10:00:00+07:00",
            keys::MERCHANT.private_pem,
        ),
        br#"{"grantType":"client_credentials","additionalInfo":{}}"#,
    );
    assert_eq!(answer["expiresIn"], json!("900"));
    // No rate limit; every token stays valid.
    let first = get_token(&bni);
    let second = get_token(&bni);
    assert_ne!(first, second);
    assert_eq!(bni.tokens_issued(), 3);
    assert!(bni.token_is_valid(&first) && bni.token_is_valid(&second));
}

#[test]
fn token_answer_refuses_with_snap_codes() {
    let provider = provider(true);
    let stamp = timestamp(false);
    let good = token_headers(CLIENT, &stamp, keys::MERCHANT.private_pem);
    let cases: Vec<(HeaderMap, &[u8], u16, &str)> = vec![
        (
            token_headers("OTHER", &stamp, keys::MERCHANT.private_pem),
            TOKEN_BODY,
            401,
            "4017300",
        ),
        (
            token_headers(CLIENT, &stamp, keys::DOKU.private_pem),
            TOKEN_BODY,
            401,
            "4017300",
        ),
        (
            token_headers(CLIENT, "01/01/2024", keys::MERCHANT.private_pem),
            TOKEN_BODY,
            400,
            "4007301",
        ),
        (
            headers(&[("x-client-key", CLIENT), ("x-timestamp", &stamp)]),
            TOKEN_BODY,
            400,
            "4007302",
        ),
        (good.clone(), b"not json", 400, "4007300"),
        (good.clone(), br#"{"additionalInfo":{}}"#, 400, "4007302"),
        (good.clone(), br#"{"grantType":"password"}"#, 400, "4007301"),
    ];
    for (headers, body, status, code) in cases {
        let (got, answer) = provider.token_answer(&headers, body);
        assert_eq!(got.as_u16(), status, "{answer}");
        assert_eq!(answer["responseCode"], code, "{answer}");
    }
    assert_eq!(provider.tokens_issued(), 0);
    let (status, _) = provider.token_answer(&good, br#"{"grantType":"client_credentials"}"#);
    assert_eq!(status, StatusCode::OK);
}

struct Call {
    method: &'static str,
    path: &'static str,
    token: String,
    stamp: String,
    partner: String,
    external: String,
    channel: String,
    secret: String,
    body: String,
}

impl Call {
    fn new(token: &str) -> Self {
        Self {
            method: "POST",
            path: "/v1.0/transfer-va/create-va",
            token: token.to_owned(),
            stamp: timestamp(false),
            partner: PARTNER.to_owned(),
            external: external_id(),
            channel: "95221".to_owned(),
            secret: SECRET.to_owned(),
            body: TV_S5_BODY.replace("\":", "\": "),
        }
    }

    fn headers(&self) -> HeaderMap {
        let signature = symmetric(
            &self.secret,
            self.method,
            self.path,
            &self.token,
            &self.body,
            &self.stamp,
        );
        headers(&[
            ("authorization", &format!("Bearer {}", self.token)),
            ("x-timestamp", &self.stamp),
            ("x-signature", &signature),
            ("x-partner-id", &self.partner),
            ("x-external-id", &self.external),
            ("channel-id", &self.channel),
        ])
    }

    fn check(&self, provider: &SnapProvider) -> Result<(), (StatusCode, Value)> {
        provider.check(
            self.method,
            self.path,
            &self.headers(),
            self.body.as_bytes(),
            27,
            Some("95221"),
        )
    }
}

fn refusal(result: Result<(), (StatusCode, Value)>) -> String {
    match result {
        Ok(()) => "accepted".to_owned(),
        Err((status, answer)) => {
            let code = answer["responseCode"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert_eq!(status.as_str(), &code[..3]);
            code
        }
    }
}

#[test]
fn check_accepts_a_signed_call_once_per_external_id() {
    let provider = provider(false);
    let token = get_token(&provider);
    let call = Call::new(&token);
    assert_eq!(refusal(call.check(&provider)), "accepted");
    assert_eq!(refusal(call.check(&provider)), "4092700");
    let again = Call {
        external: external_id(),
        ..Call::new(&token)
    };
    assert_eq!(refusal(again.check(&provider)), "accepted");
}

#[test]
fn check_refuses_each_fault_with_its_code() {
    let provider = provider(false);
    let token = get_token(&provider);
    let cases: Vec<(Call, &str)> = vec![
        (
            Call {
                token: "unknown".to_owned(),
                ..Call::new(&token)
            },
            "4012701",
        ),
        (
            Call {
                partner: "OTHER".to_owned(),
                ..Call::new(&token)
            },
            "4012700",
        ),
        (
            Call {
                secret: "other".to_owned(),
                ..Call::new(&token)
            },
            "4012700",
        ),
        (
            Call {
                stamp: "2024-01-01 10:00".to_owned(),
                ..Call::new(&token)
            },
            "4002701",
        ),
        (
            Call {
                channel: "00000".to_owned(),
                ..Call::new(&token)
            },
            "4002701",
        ),
    ];
    for (call, code) in cases {
        assert_eq!(refusal(call.check(&provider)), code);
    }
    // A body changed after signing.
    let call = Call::new(&token);
    let headers = call.headers();
    let changed = call.body.replace("150000.00", "150001.00");
    assert_eq!(
        refusal(provider.check(
            "POST",
            call.path,
            &headers,
            changed.as_bytes(),
            27,
            Some("95221")
        )),
        "4012700"
    );
    // The signed path differs from the one called.
    let call = Call::new(&token);
    assert_eq!(
        refusal(provider.check(
            "POST",
            "/other",
            &call.headers(),
            call.body.as_bytes(),
            27,
            None
        )),
        "4012700"
    );
    // Each mandatory header.
    for name in [
        "authorization",
        "x-timestamp",
        "x-signature",
        "x-partner-id",
        "x-external-id",
        "channel-id",
    ] {
        let call = Call::new(&token);
        let mut headers = call.headers();
        headers.remove(name);
        let result = provider.check(
            "POST",
            call.path,
            &headers,
            call.body.as_bytes(),
            27,
            Some("95221"),
        );
        assert_eq!(refusal(result), "4002702", "{name}");
    }
    // Without an expected channel, CHANNEL-ID is not checked at all (DOKU's SDK sends "SDK").
    let call = Call {
        channel: "SDK".to_owned(),
        ..Call::new(&token)
    };
    assert_eq!(
        refusal(provider.check(
            "POST",
            call.path,
            &call.headers(),
            call.body.as_bytes(),
            27,
            None
        )),
        "accepted"
    );
}

#[test]
fn expired_tokens_are_refused_and_new_ones_work() {
    let provider = provider(true);
    let token = get_token(&provider);
    provider.expire_tokens();
    assert_eq!(refusal(Call::new(&token).check(&provider)), "4012701");
    let fresh = get_token(&provider);
    assert_eq!(refusal(Call::new(&fresh).check(&provider)), "accepted");
}

#[test]
fn debug_output_hides_secrets() {
    let provider = provider(true);
    let text = format!("{provider:?}");
    assert!(
        !text.contains(SECRET) && text.contains("redacted"),
        "{text}"
    );
    let notifier = SnapNotifier::new(notifier_config(false));
    let text = format!("{notifier:?}");
    assert!(
        !text.contains(SECRET) && !text.contains("PRIVATE KEY"),
        "{text}"
    );
}

// ---- SnapNotifier against a merchant played by SnapProvider ----

fn notifier_config(asymmetric: bool) -> SnapNotifierConfig {
    SnapNotifierConfig {
        client_key: CLIENT.to_owned(),
        partner_id: PARTNER.to_owned(),
        client_secret: SECRET.to_owned(),
        provider_private_key_pem: keys::DOKU.private_pem.to_owned(),
        channel_id: "95221".to_owned(),
        utc_timestamps: true,
        asymmetric,
    }
}

/// The merchant's side: issues tokens to the provider's key and checks notifications.
fn merchant() -> SnapProvider {
    SnapProvider::new(SnapProviderConfig {
        merchant_public_key_pem: keys::DOKU.public_pem.to_owned(),
        ..provider(true).config().clone()
    })
}

fn captured_headers(captured: &CapturedCallback) -> HeaderMap {
    let pairs: Vec<(&str, &str)> = captured
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    headers(&pairs)
}

#[test]
fn token_request_and_notification_verify_at_the_merchant() {
    let merchant = merchant();
    let notifier = SnapNotifier::new(notifier_config(false));
    let request = notifier.token_request("http://merchant.test/v1.0/access-token/b2b");
    assert_eq!(request.method, "POST");
    let (status, answer) = merchant.token_answer(&captured_headers(&request), &request.body);
    assert_eq!(status, StatusCode::OK, "{answer}");
    notifier.use_token(answer["accessToken"].as_str().unwrap_or_default());
    let url = "http://merchant.test/v1.0/transfer-va/payment?x=1";
    let body: Value = serde_json::from_str(TV_S6_BODY).unwrap_or_default();
    let check = |captured: &CapturedCallback| {
        refusal(merchant.check(
            "POST",
            "/v1.0/transfer-va/payment?x=1",
            &captured_headers(captured),
            &captured.body,
            25,
            Some("95221"),
        ))
    };
    assert_eq!(
        check(&notifier.notification(url, &body, Tamper::None)),
        "accepted"
    );
    assert_eq!(
        check(&notifier.notification(url, &body, Tamper::WrongKey)),
        "4012500"
    );
    let flipped = notifier.notification(url, &body, Tamper::FlipByte);
    assert!(serde_json::from_slice::<Value>(&flipped.body).is_ok());
    assert_eq!(check(&flipped), "4012500");
    let stale = notifier.notification(url, &body, Tamper::StaleTimestamp);
    let sent = stale
        .headers
        .iter()
        .find(|(name, _)| name == "x-timestamp")
        .map(|(_, v)| v.clone());
    let age = sent
        .as_deref()
        .and_then(parse_timestamp)
        .map(|at| (OffsetDateTime::now_utc() - at).whole_seconds());
    assert!(age.is_some_and(|age| (595..=605).contains(&age)), "{age:?}");
    // Still correctly signed: only its age is wrong.
    assert_eq!(check(&stale), "accepted");
}

#[test]
fn asymmetric_notifications_are_rsa_signed_without_a_token() {
    let notifier = SnapNotifier::new(notifier_config(true));
    let body = json!({"trxId": "INV-1", "paidAmount": amount(10_000)});
    let verify = |tamper| {
        let captured = notifier.notification("http://m.test/notify", &body, tamper);
        assert!(
            captured
                .headers
                .iter()
                .all(|(name, _)| name != "authorization")
        );
        let find = |wanted: &str| {
            captured
                .headers
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.clone())
                .unwrap_or_default()
        };
        let message = format!(
            "POST:/notify:{}:{}",
            body_hash(&captured.body),
            find("x-timestamp")
        );
        rsa_verify_b64(
            keys::DOKU.public_pem,
            message.as_bytes(),
            &find("x-signature"),
        )
    };
    assert!(verify(Tamper::None));
    assert!(!verify(Tamper::WrongKey));
    assert!(!verify(Tamper::FlipByte));
}

async fn token_route(
    State(merchant): State<SnapProvider>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let (status, answer) = merchant.token_answer(&headers, &body);
    (status, axum::Json(answer))
}

async fn notify_route(
    State(merchant): State<SnapProvider>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    match merchant.check("POST", "/notify", &headers, &body, 25, Some("95221")) {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(json!({"responseCode": "2002500"})),
        ),
        Err((status, answer)) => (status, axum::Json(answer)),
    }
}

#[tokio::test]
async fn post_fetches_a_token_reuses_it_and_renews_it_when_refused()
-> Result<(), Box<dyn std::error::Error>> {
    let merchant = merchant();
    let router = Router::new()
        .route("/token", post(token_route))
        .route("/notify", post(notify_route))
        .with_state(merchant.clone());
    let running = crate::server::spawn(router, crate::server::any_local_port()).await?;
    let token_url = format!("{}/token", running.base_url);
    let url = format!("{}/notify", running.base_url);
    let notifier = SnapNotifier::new(notifier_config(false));
    let body = json!({"trxId": "INV-1"});

    let outcomes = notifier
        .post(
            &token_url,
            &url,
            &body,
            &CallbackOptions::repeated(3, false),
        )
        .await?;
    assert_eq!(
        outcomes.iter().map(|o| o.status).collect::<Vec<_>>(),
        [200, 200, 200]
    );
    assert_eq!(merchant.tokens_issued(), 1);

    let outcomes = notifier
        .post(&token_url, &url, &body, &CallbackOptions::repeated(4, true))
        .await?;
    assert!(outcomes.iter().all(|o| o.status == 200), "{outcomes:?}");

    merchant.expire_tokens();
    let outcomes = notifier
        .post(&token_url, &url, &body, &CallbackOptions::default())
        .await?;
    assert_eq!(outcomes[0].status, 200, "{outcomes:?}");
    assert_eq!(merchant.tokens_issued(), 2);

    let outcomes = notifier
        .post(
            &token_url,
            &url,
            &body,
            &CallbackOptions::tampered(Tamper::WrongKey),
        )
        .await?;
    assert_eq!(outcomes[0].status, 401);
    assert!(outcomes[0].body.contains("4012500"));

    let none = CallbackOptions {
        times: 0,
        ..CallbackOptions::default()
    };
    assert!(
        notifier
            .post(&token_url, &url, &body, &none)
            .await?
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn post_reports_a_refused_token_request() -> Result<(), Box<dyn std::error::Error>> {
    let merchant = SnapProvider::new(SnapProviderConfig {
        merchant_public_key_pem: keys::ASTRAPAY.public_pem.to_owned(),
        ..provider(true).config().clone()
    });
    let router = Router::new()
        .route("/token", post(token_route))
        .with_state(merchant);
    let running = crate::server::spawn(router, crate::server::any_local_port()).await?;
    let notifier = SnapNotifier::new(notifier_config(false));
    let result = notifier
        .post(
            &format!("{}/token", running.base_url),
            &format!("{}/notify", running.base_url),
            &json!({}),
            &CallbackOptions::default(),
        )
        .await;
    assert!(matches!(result, Err(SimError::Delivery(_))), "{result:?}");
    Ok(())
}
