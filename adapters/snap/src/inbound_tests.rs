//! Our token endpoint and notification verification, on the published vectors where
//! they apply (TV-S4, TV-S6).

use bytes::Bytes;
use openssl::rsa::Rsa;
use time::macros::datetime;

use super::*;
use crate::sign::tests::{
    DEMO_PRIVATE, DEMO_PUBLIC, TV_S4, TV_S6_ASYMMETRIC, TV_S6_BODY, TV_S6_SYMMETRIC,
    TV_S6_TIMESTAMP,
};
use crate::sign::{RsaPrivateKey, hmac_sha512_b64};

const CLIENT_KEY: &str = "BNI-TEST-CLIENT";
const SECRET: &str = "MERCHANT-ISSUED-SECRET";
const TOKEN_TIMESTAMP: &str = "2024-01-01T10:00:00+07:00";
/// 30 s after [`TOKEN_TIMESTAMP`].
const NOW: OffsetDateTime = datetime!(2024-01-01 03:00:30 UTC);
/// 10 s after TV-S6's timestamp.
const NOTIFY_NOW: OffsetDateTime = datetime!(2024-01-01 04:00:15 UTC);
const CALLBACK_ROOT: &str = "/v1/callbacks/bni_snap";

fn config(auth: NotifyAuth) -> InboundConfig {
    InboundConfig {
        client_key: CLIENT_KEY.to_owned(),
        partner_id: Some(CLIENT_KEY.to_owned()),
        client_secret: SecretString::from(SECRET),
        provider_public_key_pem: DEMO_PUBLIC.to_owned(),
        auth,
        token_answer: TokenAnswer::Standard,
        token_ttl: Duration::from_secs(900),
        max_skew: Duration::from_secs(300),
    }
}

fn inbound(auth: NotifyAuth) -> SnapInbound {
    SnapInbound::new(config(auth)).expect("inbound")
}

fn request(sub_path: &str, headers: &[(&str, &str)], body: &str) -> InboundRequest {
    InboundRequest::new(
        "POST",
        sub_path,
        headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned()))
            .collect(),
        Bytes::from(body.to_owned()),
        NOW,
    )
    .with_path(format!("{CALLBACK_ROOT}/{sub_path}"))
}

fn token_request(client_key: &str, timestamp: &str, signature: &str, body: &str) -> InboundRequest {
    request(
        "v1.0/access-token/b2b",
        &[
            ("X-CLIENT-KEY", client_key),
            ("X-TIMESTAMP", timestamp),
            ("X-SIGNATURE", signature),
            ("Content-Type", "application/json"),
        ],
        body,
    )
}

const GRANT: &str = r#"{"grantType":"client_credentials","additionalInfo":{}}"#;

fn json(response: &InboundResponse) -> Value {
    serde_json::from_slice(&response.body).expect("json answer")
}

fn header<'r>(response: &'r InboundResponse, name: &str) -> Option<&'r str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A token issued a minute before TV-S6's notification.
fn issued_token(inbound: &SnapInbound) -> String {
    inbound.issue_token(NOTIFY_NOW - Duration::from_secs(60)).0
}

/// A token from our token endpoint, asked for at [`NOW`] with TV-S4's signature.
fn endpoint_token(inbound: &SnapInbound) -> String {
    let response = inbound.answer_token_request_at(
        &token_request(CLIENT_KEY, TOKEN_TIMESTAMP, TV_S4, GRANT),
        NOW,
    );
    assert_eq!(response.status, 200);
    json(&response)["accessToken"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// A symmetric notification of TV-S6's body signed over `signed_path`.
fn notification(token: &str, signed_path: &str, timestamp: &str, body: &str) -> InboundRequest {
    let message = symmetric_string(
        "POST",
        signed_path,
        token,
        &body_hash(body.as_bytes()),
        timestamp,
    );
    let signature = hmac_sha512_b64(SECRET.as_bytes(), &message);
    let authorization = format!("Bearer {token}");
    request(
        "v1.0/transfer-va/payment",
        &[
            ("Authorization", &authorization),
            ("X-TIMESTAMP", timestamp),
            ("X-SIGNATURE", &signature),
            ("X-PARTNER-ID", CLIENT_KEY),
            ("X-EXTERNAL-ID", "41807553358950093184"),
            ("CHANNEL-ID", "95221"),
        ],
        body,
    )
}

#[test]
fn a_tv_s4_token_request_gets_a_standard_token_answer() {
    let inbound = inbound(NotifyAuth::Symmetric);
    let response = inbound.answer_token_request_at(
        &token_request(CLIENT_KEY, TOKEN_TIMESTAMP, TV_S4, GRANT),
        NOW,
    );
    assert_eq!(response.status, 200);
    assert!(
        response
            .body
            .starts_with(br#"{"responseCode":"2007300","responseMessage":"Successful""#)
    );
    let body = json(&response);
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], "900");
    assert!(body.get("additionalInfo").is_none());
    assert_eq!(header(&response, "X-CLIENT-KEY"), Some(CLIENT_KEY));
    assert_eq!(
        header(&response, "X-TIMESTAMP"),
        Some("2024-01-01T10:00:30+07:00")
    );
    assert_eq!(response.content_type, "application/json");
}

#[test]
fn the_doku_token_answer_has_a_numeric_lifetime_and_a_utc_timestamp() {
    let mut config = config(NotifyAuth::Symmetric);
    config.token_answer = TokenAnswer::Doku;
    let inbound = SnapInbound::new(config).expect("inbound");
    let body = r#"{"grantType": "client_credentials", "additionalInfo": ""}"#;
    let response = inbound.answer_token_request_at(
        &token_request(CLIENT_KEY, TOKEN_TIMESTAMP, TV_S4, body),
        NOW,
    );
    assert_eq!(response.status, 200);
    let answer = json(&response);
    assert_eq!(answer["expiresIn"], 900);
    assert_eq!(answer["additionalInfo"], "");
    let keys: Vec<&String> = answer.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 6, "only the keys DOKU's SDK accepts: {keys:?}");
    assert_eq!(
        header(&response, "X-TIMESTAMP"),
        Some("2024-01-01T03:00:30Z")
    );
}

#[test]
fn token_requests_are_refused_with_the_right_codes() {
    let inbound = inbound(NotifyAuth::Symmetric);
    let other = Rsa::generate(2048).expect("rsa");
    let other = RsaPrivateKey::from_pem(
        &String::from_utf8(other.private_key_to_pem().expect("pem")).expect("utf8"),
    )
    .expect("key");
    let wrong_key = other.sign_b64(token_string(CLIENT_KEY, TOKEN_TIMESTAMP).as_bytes());
    let demo = RsaPrivateKey::from_pem(DEMO_PRIVATE).expect("demo");
    let stale_ts = "2024-01-01T09:54:00+07:00";
    let stale = demo.sign_b64(token_string(CLIENT_KEY, stale_ts).as_bytes());
    let stranger = demo.sign_b64(token_string("SOMEONE", TOKEN_TIMESTAMP).as_bytes());
    let cases = [
        (
            token_request(CLIENT_KEY, TOKEN_TIMESTAMP, &wrong_key, GRANT),
            "4017300",
            "Unauthorized. [Signature]",
        ),
        (
            token_request("SOMEONE", TOKEN_TIMESTAMP, &stranger, GRANT),
            "4017300",
            "Unauthorized. [Unknown client]",
        ),
        (
            token_request(CLIENT_KEY, stale_ts, &stale, GRANT),
            "4017300",
            "Unauthorized. [Timestamp]",
        ),
        (
            token_request(CLIENT_KEY, TOKEN_TIMESTAMP, "", GRANT),
            "4007302",
            "Invalid Mandatory Field {X-SIGNATURE}",
        ),
        (
            token_request(CLIENT_KEY, "yesterday", TV_S4, GRANT),
            "4007301",
            "Invalid Field Format {X-TIMESTAMP}",
        ),
        (
            token_request(
                CLIENT_KEY,
                TOKEN_TIMESTAMP,
                TV_S4,
                r#"{"additionalInfo":{}}"#,
            ),
            "4007302",
            "Invalid Mandatory Field {grantType}",
        ),
        (
            token_request(
                CLIENT_KEY,
                TOKEN_TIMESTAMP,
                TV_S4,
                r#"{"grantType":"password"}"#,
            ),
            "4007301",
            "Invalid Field Format {grantType}",
        ),
        (
            token_request(CLIENT_KEY, TOKEN_TIMESTAMP, TV_S4, "grant"),
            "4007300",
            "Bad Request",
        ),
    ];
    for (request, code, message) in cases {
        let response = inbound.answer_token_request_at(&request, NOW);
        let body = json(&response);
        assert_eq!(body["responseCode"], code, "{message}");
        assert_eq!(body["responseMessage"], message);
        assert_eq!(response.status, code[..3].parse::<u16>().expect("status"));
        assert!(body.get("accessToken").is_none());
    }
}

#[test]
fn a_token_from_our_endpoint_is_accepted_with_a_matching_hmac() {
    let inbound = inbound(NotifyAuth::Symmetric);
    let token = endpoint_token(&inbound);
    let timestamp = "2024-01-01T10:01:00+07:00";
    let request = notification(&token, "/v1.0/transfer-va/payment", timestamp, TV_S6_BODY);
    let at = NOW + Duration::from_secs(40);
    assert!(inbound.verify_at(&request, at).is_ok());
}

#[test]
fn an_issued_token_is_accepted_with_a_matching_hmac() {
    let inbound = inbound(NotifyAuth::Symmetric);
    let token = issued_token(&inbound);
    let path = format!("{CALLBACK_ROOT}/v1.0/transfer-va/payment");
    let request = notification(&token, &path, TV_S6_TIMESTAMP, TV_S6_BODY);
    let verified = inbound.verify_at(&request, NOTIFY_NOW).expect("verified");
    assert_eq!(verified.external_id, "41807553358950093184");
    assert_eq!(verified.partner_id.as_deref(), Some(CLIENT_KEY));
    assert_eq!(verified.timestamp, TV_S6_TIMESTAMP);
}

#[test]
fn the_python_sdk_body_spacing_still_verifies() {
    let inbound = inbound(NotifyAuth::Symmetric);
    let token = issued_token(&inbound);
    let spaced = TV_S6_BODY.replace("\":", "\": ").replace(",\"", ", \"");
    let message = symmetric_string(
        "POST",
        "/v1.0/transfer-va/payment",
        &token,
        &body_hash(TV_S6_BODY.as_bytes()),
        TV_S6_TIMESTAMP,
    );
    let signature = hmac_sha512_b64(SECRET.as_bytes(), &message);
    let mut request = notification(
        &token,
        "/v1.0/transfer-va/payment",
        TV_S6_TIMESTAMP,
        &spaced,
    );
    set_header(&mut request, "x-signature", &signature);
    assert!(inbound.verify_at(&request, NOTIFY_NOW).is_ok());
}

fn set_header(request: &mut InboundRequest, name: &str, value: &str) {
    request.headers.retain(|(n, _)| n != name);
    request.headers.push((name.to_owned(), value.to_owned()));
}

#[test]
fn tampered_expired_and_foreign_tokens_are_invalid_tokens() {
    let inbound = inbound(NotifyAuth::Symmetric);
    let token = issued_token(&inbound);
    let mut tampered = token.clone().into_bytes();
    tampered[3] ^= 1;
    let tampered = String::from_utf8(tampered).expect("ascii");
    let mut foreign_config = config(NotifyAuth::Symmetric);
    foreign_config.client_key = "OTHER-CLIENT".to_owned();
    let foreign = SnapInbound::new(foreign_config)
        .expect("inbound")
        .issue_token(NOW)
        .0;
    let mut other_secret_config = config(NotifyAuth::Symmetric);
    other_secret_config.client_secret = SecretString::from("ANOTHER-SECRET");
    let other_secret = SnapInbound::new(other_secret_config)
        .expect("inbound")
        .issue_token(NOW)
        .0;
    let path = "/v1.0/transfer-va/payment";
    for bad in [
        tampered,
        foreign,
        other_secret,
        "garbage".to_owned(),
        format!("{token}x"),
    ] {
        let request = notification(&bad, path, TV_S6_TIMESTAMP, TV_S6_BODY);
        let rejection = inbound
            .verify_at(&request, NOTIFY_NOW)
            .expect_err("refused");
        assert_eq!(rejection, Rejection::new(401, 1, "Invalid Token (B2B)"));
    }
    // 15 minutes later the token has expired, though the notification itself is fresh.
    let token = endpoint_token(&inbound);
    let later = NOW + Duration::from_secs(901);
    let request = notification(&token, path, "2024-01-01T10:15:31+07:00", TV_S6_BODY);
    let rejection = inbound.verify_at(&request, later).expect_err("expired");
    assert_eq!(rejection.code(25).to_string(), "4012501");
    let just_before = NOW + Duration::from_secs(899);
    let request = notification(&token, path, "2024-01-01T10:15:29+07:00", TV_S6_BODY);
    assert!(inbound.verify_at(&request, just_before).is_ok());
}

#[test]
fn a_token_survives_a_restart() {
    let token = issued_token(&inbound(NotifyAuth::Symmetric));
    let restarted = inbound(NotifyAuth::Symmetric);
    let request = notification(
        &token,
        "/v1.0/transfer-va/payment",
        TV_S6_TIMESTAMP,
        TV_S6_BODY,
    );
    assert!(restarted.verify_at(&request, NOTIFY_NOW).is_ok());
}

#[test]
fn an_hmac_mismatch_is_unauthorized_signature() {
    let inbound = inbound(NotifyAuth::Symmetric);
    let token = issued_token(&inbound);
    let path = "/v1.0/transfer-va/payment";
    let mut tampered = notification(&token, path, TV_S6_TIMESTAMP, TV_S6_BODY);
    tampered.body = Bytes::from(TV_S6_BODY.replace("150000.00", "1500000.00"));
    let wrong_path = notification(
        &token,
        "/v1.0/transfer-va/inquiry",
        TV_S6_TIMESTAMP,
        TV_S6_BODY,
    );
    for request in [tampered, wrong_path] {
        let rejection = inbound
            .verify_at(&request, NOTIFY_NOW)
            .expect_err("refused");
        assert_eq!(
            rejection,
            Rejection::new(401, 0, "Unauthorized. [Signature]")
        );
        let err = rejection.into_provider_error(25);
        assert_eq!(err.kind, ErrorKind::InvalidSignature);
        assert_eq!(err.provider_code.as_deref(), Some("4012500"));
    }
}

#[test]
fn tv_s6_symmetric_verifies_on_the_relative_path_after_the_full_one() {
    let inbound = inbound(NotifyAuth::Symmetric);
    let headers = [
        ("Authorization", "Bearer MERCHANTISSUEDTOKEN"),
        ("X-TIMESTAMP", TV_S6_TIMESTAMP),
        ("X-SIGNATURE", TV_S6_SYMMETRIC),
        ("X-EXTERNAL-ID", "1"),
    ];
    let known = |token: &str| token == "MERCHANTISSUEDTOKEN";
    // Signed over the path below the callback root ("/" + sub_path).
    let relative = request("v1.0/transfer-va/payment", &headers, TV_S6_BODY);
    assert!(inbound.verify_with(&relative, NOTIFY_NOW, &known).is_ok());
    // Signed over the full path as received.
    let full =
        request("transfer-va/payment", &headers, TV_S6_BODY).with_path("/v1.0/transfer-va/payment");
    assert!(inbound.verify_with(&full, NOTIFY_NOW, &known).is_ok());
    // Neither matches.
    let neither = request("transfer-va/payment", &headers, TV_S6_BODY);
    assert_eq!(
        inbound
            .verify_with(&neither, NOTIFY_NOW, &known)
            .map(|_| ()),
        Err(Rejection::new(401, 0, "Unauthorized. [Signature]"))
    );
    // Our real verifier never issued that token.
    assert_eq!(
        inbound.verify_at(&relative, NOTIFY_NOW).map(|_| ()),
        Err(Rejection::new(401, 1, "Invalid Token (B2B)"))
    );
}

#[test]
fn tv_s6_asymmetric_verifies_with_the_providers_key() {
    let inbound = inbound(NotifyAuth::Asymmetric);
    let headers = [
        ("X-TIMESTAMP", TV_S6_TIMESTAMP),
        ("X-SIGNATURE", TV_S6_ASYMMETRIC),
        ("X-EXTERNAL-ID", "77"),
    ];
    let good = request("v1.0/transfer-va/payment", &headers, TV_S6_BODY);
    let verified = inbound.verify_at(&good, NOTIFY_NOW).expect("verified");
    assert_eq!(verified.external_id, "77");
    assert_eq!(verified.partner_id, None);
    let mut tampered = good.clone();
    tampered.body = Bytes::from(TV_S6_BODY.replace("PR-0001", "PR-0002"));
    assert_eq!(
        inbound.verify_at(&tampered, NOTIFY_NOW).map(|_| ()),
        Err(Rejection::new(401, 0, "Unauthorized. [Signature]"))
    );
}

#[test]
fn stale_missing_and_malformed_headers_are_refused() {
    let inbound = inbound(NotifyAuth::Symmetric);
    let token = issued_token(&inbound);
    let path = "/v1.0/transfer-va/payment";
    let good = notification(&token, path, TV_S6_TIMESTAMP, TV_S6_BODY);
    let stale_now = NOTIFY_NOW + Duration::from_secs(301);
    assert_eq!(
        inbound.verify_at(&good, stale_now).map(|_| ()),
        Err(Rejection::new(401, 0, "Unauthorized. [Timestamp]"))
    );
    let early_now = NOTIFY_NOW - Duration::from_secs(320);
    assert_eq!(
        inbound.verify_at(&good, early_now).map(|_| ()),
        Err(Rejection::new(401, 0, "Unauthorized. [Timestamp]"))
    );
    for missing in [
        "x-external-id",
        "x-timestamp",
        "x-signature",
        "authorization",
    ] {
        let mut request = good.clone();
        request.headers.retain(|(n, _)| n != missing);
        let rejection = inbound.verify_at(&request, NOTIFY_NOW).expect_err(missing);
        assert_eq!((rejection.http, rejection.case), (400, 2), "{missing}");
        assert!(rejection.message.starts_with("Invalid Mandatory Field {"));
        assert_eq!(rejection.clone().code(25).to_string(), "4002502");
        assert_eq!(rejection.into_provider_error(25).kind, ErrorKind::Rejected);
    }
    let mut unreadable = good.clone();
    set_header(&mut unreadable, "x-timestamp", "01/01/2024 11:00");
    assert_eq!(
        inbound.verify_at(&unreadable, NOTIFY_NOW).map(|_| ()),
        Err(Rejection::new(400, 1, "Invalid Field Format {X-TIMESTAMP}"))
    );
    let mut stranger = good;
    set_header(&mut stranger, "x-partner-id", "SOMEONE");
    assert_eq!(
        inbound.verify_at(&stranger, NOTIFY_NOW).map(|_| ()),
        Err(Rejection::new(401, 0, "Unauthorized. [Unknown client]"))
    );
    // Unchecked when the configuration names no partner id.
    let mut lenient = config(NotifyAuth::Symmetric);
    lenient.partner_id = None;
    let lenient = SnapInbound::new(lenient).expect("inbound");
    let token = issued_token(&lenient);
    let mut other = notification(&token, path, TV_S6_TIMESTAMP, TV_S6_BODY);
    set_header(&mut other, "x-partner-id", "DOKU-OWN-ID");
    assert!(lenient.verify_at(&other, NOTIFY_NOW).is_ok());
}

#[test]
fn answers_put_the_response_code_first_and_take_the_status_from_it() {
    let mut fields = Map::new();
    fields.insert("additionalInfo".to_owned(), Value::Object(Map::new()));
    fields.insert(
        "virtualAccountData".to_owned(),
        serde_json::json!({"trxId": "INV-1"}),
    );
    fields.insert("responseCode".to_owned(), Value::from("ignored"));
    let response = answer(ResponseCode::new(404, 25, 12), "Invalid Bill", fields);
    assert_eq!(response.status, 404);
    assert_eq!(
        &response.body[..],
        br#"{"responseCode":"4042512","responseMessage":"Invalid Bill","additionalInfo":{},"virtualAccountData":{"trxId":"INV-1"}}"#
    );
    let timestamp = header(&response, "X-TIMESTAMP").expect("timestamp");
    assert!(timestamp.ends_with("+07:00"));
    assert!(parse_timestamp(timestamp).is_some());
    let escaped = answer(
        ResponseCode::new(200, 25, 0),
        "a \"quoted\" word",
        Map::new(),
    );
    assert_eq!(json(&escaped)["responseMessage"], "a \"quoted\" word");
}

#[test]
fn configuration_is_checked_and_debug_is_redacted() {
    let inbound = inbound(NotifyAuth::Symmetric);
    let token = inbound.issue_token(NOW).0;
    let shown = format!("{inbound:?} {:?}", config(NotifyAuth::Symmetric));
    assert!(!shown.contains(SECRET));
    assert!(!shown.contains(&token));
    let mut empty = config(NotifyAuth::Symmetric);
    empty.client_secret = SecretString::from("");
    assert_eq!(
        SnapInbound::new(empty.clone())
            .map(|_| ())
            .expect_err("empty"),
        ConfigError::Empty("client_secret")
    );
    empty.auth = NotifyAuth::Asymmetric;
    assert!(SnapInbound::new(empty).is_ok());
    let mut no_key = config(NotifyAuth::Symmetric);
    no_key.provider_public_key_pem = "nonsense".to_owned();
    assert!(matches!(
        SnapInbound::new(no_key),
        Err(ConfigError::Key {
            field: "provider_public_key",
            ..
        })
    ));
    let mut no_client = config(NotifyAuth::Symmetric);
    no_client.client_key = " ".to_owned();
    assert_eq!(
        SnapInbound::new(no_client).map(|_| ()).expect_err("empty"),
        ConfigError::Empty("client_key")
    );
}

/// RELIABILITY.md W-IN-1, for SNAP notifications: one byte changed anywhere in what is
/// signed (body, timestamp, signature, token) never verifies, and the genuine request
/// always does.
#[test]
fn ten_thousand_one_byte_forgeries_are_all_refused() {
    use rand::Rng;

    let inbound = inbound(NotifyAuth::Symmetric);
    let token = issued_token(&inbound);
    let path = "/v1.0/transfer-va/payment";
    let genuine = notification(&token, path, TV_S6_TIMESTAMP, TV_S6_BODY);
    assert!(inbound.verify_at(&genuine, NOTIFY_NOW).is_ok());
    let mut rng = rand::rng();
    let mut accepted = Vec::new();
    for trial in 0..10_000 {
        let mut forged = genuine.clone();
        let target = trial % 4;
        let mutate = |text: &[u8], rng: &mut rand::rngs::ThreadRng| -> Vec<u8> {
            let mut bytes = text.to_vec();
            let at = rng.random_range(0..bytes.len());
            let mut replacement = bytes[at];
            while replacement == bytes[at] {
                replacement = rng.random_range(0x20u8..0x7f);
            }
            bytes[at] = replacement;
            bytes
        };
        match target {
            0 => forged.body = mutate(&genuine.body, &mut rng).into(),
            1..=3 => {
                let name = ["x-timestamp", "x-signature", "authorization"][target - 1];
                let value = genuine.header(name).expect("header").to_owned();
                // The auth scheme is case-insensitive (RFC 7235): change the token itself.
                let (keep, signed) = value.split_at(if target == 3 { 7 } else { 0 });
                let changed = String::from_utf8(mutate(signed.as_bytes(), &mut rng))
                    .map(|rest| format!("{keep}{rest}"))
                    .expect("ascii stays ascii");
                for (n, v) in &mut forged.headers {
                    if n == name {
                        v.clone_from(&changed);
                    }
                }
            }
            _ => unreachable!("four targets"),
        }
        if inbound.verify_at(&forged, NOTIFY_NOW).is_ok() {
            accepted.push(trial);
        }
    }
    assert!(accepted.is_empty(), "forgeries accepted: {accepted:?}");
    let mut lower_scheme = genuine;
    for (n, v) in &mut lower_scheme.headers {
        if n == "authorization" {
            *v = v.replacen("Bearer", "bearer", 1);
        }
    }
    assert!(inbound.verify_at(&lower_scheme, NOTIFY_NOW).is_ok());
}
