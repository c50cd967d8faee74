use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::conformance::esign::{JPEG, PDF, PNG};
use crate::faults::{Fault, FaultRule};
use crate::test_support::Catcher;

mod reference;

const USER: &str = "merchant-user";
const PASSWORD: &str = "merchant-password";
const KEY: &str = "merchant-key-123";
const MERCHANT: &str = "MC0001";
const ENTERPRISE: &str = "enterprise-token-xyz";
const NIK: &str = "3201234567890001";

fn simulator() -> PrivyIdSimulator {
    PrivyIdSimulator::new(config())
}

fn config() -> PrivyIdConfig {
    PrivyIdConfig::new(USER, PASSWORD, KEY, MERCHANT, ENTERPRISE)
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// A `multipart/form-data` body built by hand, parts in order.
#[derive(Clone)]
pub(super) struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Multipart {
    pub(super) fn new() -> Self {
        Self {
            boundary: format!("test{}", hex::encode(rand::random::<[u8; 8]>())),
            body: Vec::new(),
        }
    }

    pub(super) fn text(mut self, name: &str, value: &str) -> Self {
        let head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n",
            self.boundary
        );
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub(super) fn file(
        mut self,
        name: &str,
        file_name: &str,
        content_type: Option<&str>,
        bytes: &[u8],
    ) -> Self {
        let mut head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n",
            self.boundary
        );
        if let Some(content_type) = content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        head.push_str("\r\n");
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// The content type and the finished body.
    pub(super) fn finish(mut self) -> (String, Vec<u8>) {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body,
        )
    }
}

/// One request through the router: status and body as JSON (a JSON string of the raw
/// text when it is not JSON).
async fn send(
    sim: &PrivyIdSimulator,
    request: axum::http::request::Builder,
    body: Vec<u8>,
) -> (u16, Value) {
    let request = request.body(Body::from(body)).expect("request");
    let response = sim.router().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

fn authed(method: &str, path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", basic(USER, PASSWORD))
        .header("merchant-key", KEY)
}

async fn post_form(sim: &PrivyIdSimulator, path: &str, form: Multipart) -> (u16, Value) {
    post_form_with(sim, authed("POST", path), form).await
}

async fn post_form_with(
    sim: &PrivyIdSimulator,
    request: axum::http::request::Builder,
    form: Multipart,
) -> (u16, Value) {
    let (content_type, body) = form.finish();
    send(sim, request.header("content-type", content_type), body).await
}

async fn post_urlencoded(sim: &PrivyIdSimulator, path: &str, body: &str) -> (u16, Value) {
    let request = authed("POST", path).header("content-type", "application/x-www-form-urlencoded");
    send(sim, request, body.as_bytes().to_vec()).await
}

fn identity(nik: &str, nama: &str, birth: &str) -> String {
    json!({"nik": nik, "nama": nama, "tanggalLahir": birth}).to_string()
}

/// A complete, valid registration form the way the adapter sends it.
fn registration_form(email: &str, nik: &str) -> Multipart {
    Multipart::new()
        .text("email", email)
        .text("phone", "081234567890")
        .text("identity", &identity(nik, "Budi Santoso", "1990-01-02"))
        .file("selfie", "selfie.jpg", Some("image/jpeg"), JPEG)
        .file("ktp", "ktp.png", Some("image/png"), PNG)
}

/// A random valid NIK.
fn nik() -> String {
    format!(
        "32{:013}{}",
        rand::random::<u64>() % 10_000_000_000_000,
        1 + rand::random::<u8>() % 9
    )
}

async fn register(sim: &PrivyIdSimulator, email: &str) -> String {
    let (status, answer) =
        post_form(sim, REGISTRATION_PATH, registration_form(email, &nik())).await;
    assert_eq!(status, 201, "{answer}");
    answer["data"]["userToken"]
        .as_str()
        .expect("userToken")
        .to_owned()
}

/// A registered and verified user: its token and privyId.
async fn verified(sim: &PrivyIdSimulator, email: &str) -> (String, String) {
    let token = register(sim, email).await;
    sim.verify(&token).await.expect("verify");
    let privy_id = sim.user(&token).and_then(|u| u.privy_id).expect("privyId");
    (token, privy_id)
}

async fn status_of(sim: &PrivyIdSimulator, token: &str) -> (u16, Value) {
    post_form(
        sim,
        REGISTRATION_STATUS_PATH,
        Multipart::new().text("token", token),
    )
    .await
}

fn owner() -> String {
    json!({"privyId": MERCHANT, "enterpriseToken": ENTERPRISE}).to_string()
}

fn signer(privy_id: &str, page: u32, x: u32, y: u32) -> Value {
    json!({"privyId": privy_id, "type": "Signer", "enterpriseToken": "", "signPage": page, "posX": x, "posY": y})
}

fn upload_form(title: &str, doc_type: &str, recipients: &Value) -> Multipart {
    Multipart::new()
        .text("documentTitle", title)
        .text("docType", doc_type)
        .text("owner", &owner())
        .text("recipients", &recipients.to_string())
        .file("document", "contract.pdf", Some("application/pdf"), PDF)
}

async fn upload(sim: &PrivyIdSimulator, doc_type: &str, recipients: Value) -> String {
    let (status, answer) = post_form(
        sim,
        DOCUMENT_UPLOAD_PATH,
        upload_form("Loan agreement", doc_type, &recipients),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    answer["data"]["docToken"]
        .as_str()
        .expect("docToken")
        .to_owned()
}

async fn document_status_of(sim: &PrivyIdSimulator, doc_token: &str) -> (u16, Value) {
    let path = format!("/v3/merchant/document/status/{doc_token}");
    send(sim, authed("GET", &path), Vec::new()).await
}

fn errors(answer: &Value) -> Vec<(String, Vec<String>)> {
    answer["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let field = e["field"].as_str().unwrap_or_default().to_owned();
            let messages = e["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            (field, messages)
        })
        .collect()
}

fn messages_of(answer: &Value, field: &str) -> Vec<String> {
    errors(answer)
        .into_iter()
        .find(|(f, _)| f == field)
        .map(|(_, messages)| messages)
        .unwrap_or_default()
}

fn is_hex64(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_privy_id(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 6
        && bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2..].iter().all(u8::is_ascii_digit)
}

/// Waits up to two seconds for `done`.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(2), "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---- authentication ---------------------------------------------------------------------

#[tokio::test]
async fn every_route_refuses_missing_or_wrong_credentials_with_the_privyid_401() {
    let sim = simulator();
    let routes = [
        ("POST", REGISTRATION_PATH),
        ("POST", REGISTRATION_STATUS_PATH),
        ("POST", REREGISTER_KTP_PATH),
        ("POST", REREGISTER_SELFIE_PATH),
        ("POST", REREGISTER_FILE_SUPPORT_PATH),
        ("POST", DOCUMENT_UPLOAD_PATH),
        ("GET", "/v3/merchant/document/status/abc"),
        ("POST", "/v3/merchant/document/status/docToken"),
    ];
    let wanted = json!({"code": 401, "errors": [{"field": "authorization", "messages": ["Invalid credentials"]}], "message": "Unauthorized"});
    for (method, path) in routes {
        let cases = [
            Request::builder().method(method).uri(path),
            Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", basic(USER, PASSWORD)),
            Request::builder()
                .method(method)
                .uri(path)
                .header("merchant-key", KEY),
            Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", basic(USER, "wrong"))
                .header("merchant-key", KEY),
            Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", basic(USER, PASSWORD))
                .header("merchant-key", "wrong-key"),
            Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", format!("Bearer {PASSWORD}"))
                .header("merchant-key", KEY),
        ];
        for request in cases {
            let (status, answer) = send(&sim, request, Vec::new()).await;
            assert_eq!((status, &answer), (401, &wanted), "{method} {path}");
        }
    }
    assert!(sim.users().is_empty());
    assert_eq!(sim.calls("registration"), 6, "refused requests count");
    assert_eq!(sim.calls("document_status"), 12);
}

// ---- registration -----------------------------------------------------------------------

#[tokio::test]
async fn a_valid_registration_is_201_waiting_with_a_64_hex_token_and_the_phone_as_plus_62() {
    let sim = simulator();
    let (status, answer) = post_form(
        &sim,
        REGISTRATION_PATH,
        registration_form("budi@example.com", NIK),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["code"], 201);
    assert_eq!(answer["message"], "Registration success");
    let data = &answer["data"];
    assert_eq!(data["email"], "budi@example.com");
    assert_eq!(data["phone"], "+6281234567890");
    assert_eq!(data["status"], "waiting");
    let token = data["userToken"].as_str().expect("token");
    assert!(is_hex64(token), "{token}");
    let user = sim.user(token).expect("kept");
    assert_eq!(user.status, UserStatus::Waiting);
    assert_eq!(user.nik, NIK);
    assert_eq!(user.name, "Budi Santoso");
    assert_eq!(user.birth_date, "1990-01-02");
    assert_eq!(user.privy_id, None);
    assert_eq!(sim.calls("registration"), 1);
}

#[tokio::test]
async fn the_privy_python_sdk_requests_are_accepted_unchanged() {
    let sim = simulator();
    // privy-python-sdk 1.0.8 `register_user`, byte for byte: text parts first, files with a
    // file name and no content type.
    let boundary = "cfe5f0c019b461d27a34f585d4cfa5a6";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nbudi@example.com\r\n").as_bytes());
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"phone\"\r\n\r\n081234567890\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"identity\"\r\n\r\n{{\"nik\": \"{NIK}\", \"nama\": \"Budi\", \"tanggalLahir\": \"1990-01-02\"}}\r\n").as_bytes());
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"selfie\"; filename=\"selfie.jpg\"\r\n\r\n").as_bytes());
    body.extend_from_slice(JPEG);
    body.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"ktp\"; filename=\"ktp.png\"\r\n\r\n").as_bytes());
    body.extend_from_slice(PNG);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = authed("POST", REGISTRATION_PATH).header(
        "content-type",
        format!("multipart/form-data; boundary={boundary}"),
    );
    let (status, answer) = send(&sim, request, body).await;
    assert_eq!(status, 201, "{answer}");
    let token = answer["data"]["userToken"]
        .as_str()
        .expect("token")
        .to_owned();

    // `register_status`: form-urlencoded.
    let (status, answer) =
        post_urlencoded(&sim, REGISTRATION_STATUS_PATH, &format!("token={token}")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["status"], "waiting");

    // `reregister_ktp` and `reregister_file_support`: Token header, file without content
    // type, the category as a text part.
    sim.invalidate(
        &token,
        &[Handler::Ktp, Handler::FileSupport(vec!["KK".to_owned()])],
    )
    .await
    .expect("invalidate");
    let ktp = Multipart::new().file("ktp", "ktp.png", None, PNG);
    let request = authed("POST", REREGISTER_KTP_PATH).header("token", &token);
    let (status, answer) = post_form_with(&sim, request, ktp).await;
    assert_eq!(status, 201, "{answer}");
    let support = Multipart::new().text("fileSupport[][category]", "KK").file(
        "fileSupport[][attachment]",
        "kk.png",
        None,
        PNG,
    );
    let request = authed("POST", REREGISTER_FILE_SUPPORT_PATH).header("token", &token);
    let (status, answer) = post_form_with(&sim, request, support).await;
    assert_eq!(status, 201, "{answer}");
    let user = sim.user(&token).expect("user");
    assert_eq!(
        user.resubmitted,
        vec![Handler::Ktp, Handler::FileSupport(vec!["KK".to_owned()])]
    );

    // `upload_document`: Parallel, a recipient without enterpriseToken or placement.
    sim.verify(&token).await.expect("verify");
    let privy_id = sim.user(&token).and_then(|u| u.privy_id).expect("privyId");
    let form = Multipart::new()
        .text("documentTitle", "Kontrak")
        .text("docType", "Parallel")
        .text(
            "recipients",
            &format!("[{{\"privyId\": \"{privy_id}\", \"type\": \"Signer\"}}]"),
        )
        .text(
            "owner",
            &format!("{{\"privyId\": \"{MERCHANT}\", \"enterpriseToken\": \"{ENTERPRISE}\"}}"),
        )
        .file("document", "doc.pdf", None, PDF);
    let (status, answer) = post_form(&sim, DOCUMENT_UPLOAD_PATH, form).await;
    assert_eq!(status, 201, "{answer}");
    let doc_token = answer["data"]["docToken"]
        .as_str()
        .expect("docToken")
        .to_owned();
    let document = sim.document(&doc_token).expect("document");
    assert_eq!(document.recipients[0].placement, None);
    assert_eq!(document.recipients[0].enterprise_token, "");

    // `document_status`: POST to the literal `docToken`, token in the form.
    let (status, answer) = post_urlencoded(
        &sim,
        "/v3/merchant/document/status/docToken",
        &format!("token={doc_token}"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["docToken"], doc_token.as_str());
    assert_eq!(answer["data"]["documentStatus"], "In Progress");
}

#[tokio::test]
async fn an_empty_registration_lists_every_missing_field() {
    let sim = simulator();
    let (status, answer) = post_form(&sim, REGISTRATION_PATH, Multipart::new()).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["code"], 422);
    assert_eq!(answer["message"], "Unprocessable Entity");
    let blank = vec!["can't be blank".to_owned()];
    assert_eq!(
        errors(&answer),
        vec![
            ("email".to_owned(), blank.clone()),
            ("phone".to_owned(), blank.clone()),
            ("identity".to_owned(), blank.clone()),
            ("selfie".to_owned(), blank.clone()),
            ("ktp".to_owned(), blank),
        ]
    );
    assert!(sim.users().is_empty());
    // A body that is not a form reads as an empty one.
    let request = authed("POST", REGISTRATION_PATH).header("content-type", "application/json");
    let (status, answer) = send(&sim, request, b"{\"email\":\"a@b.c\"}".to_vec()).await;
    assert_eq!(status, 422);
    assert_eq!(messages_of(&answer, "email"), vec!["can't be blank"]);
}

#[tokio::test]
async fn each_bad_registration_field_has_its_own_message() {
    let sim = simulator();
    let big_jpeg = {
        let mut bytes = JPEG.to_vec();
        bytes.resize(MAX_IMAGE_BYTES + 1, 0);
        bytes
    };
    let form = Multipart::new()
        .text("email", "budi.example.com")
        .text("phone", "0212345678")
        .text("identity", &identity("3201234567890010", " ", "1990-13-01"))
        .text("selfie", "not a file")
        .file("ktp", "ktp.gif", Some("image/gif"), b"GIF89a....");
    let (status, answer) = post_form(&sim, REGISTRATION_PATH, form).await;
    assert_eq!(status, 422, "{answer}");
    let expected = [
        ("email", "is invalid"),
        ("phone", "is not an Indonesian mobile number"),
        ("identity.nik", "can't end with 0"),
        ("identity.nama", "can't be blank"),
        (
            "identity.tanggalLahir",
            "must be a valid date in YYYY-MM-DD format",
        ),
        ("selfie", "must be a file upload"),
        ("ktp", "must be a JPEG or PNG image"),
    ];
    let got = errors(&answer);
    assert_eq!(got.len(), expected.len(), "{answer}");
    for ((field, messages), (want_field, want_message)) in got.iter().zip(expected) {
        assert_eq!(
            (field.as_str(), messages.as_slice()),
            (want_field, &[want_message.to_owned()][..])
        );
    }

    let tomorrow = (crate::wib::now().date() + time::Duration::days(1)).to_string();
    let form = Multipart::new()
        .text("email", "budi@example.com")
        .text("phone", "+6281234567890")
        .text("identity", &identity("32012345", "Budi", &tomorrow))
        .file("selfie", "selfie.jpg", Some("image/jpeg"), &big_jpeg)
        .file("ktp", "ktp.png", Some("image/png"), &[]);
    let (status, answer) = post_form(&sim, REGISTRATION_PATH, form).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        messages_of(&answer, "identity.nik"),
        vec!["must be 16 digits"]
    );
    assert_eq!(
        messages_of(&answer, "identity.tanggalLahir"),
        vec!["must be in the past"]
    );
    assert_eq!(
        messages_of(&answer, "selfie"),
        vec!["is too large (maximum is 2 MB)"]
    );
    assert_eq!(messages_of(&answer, "ktp"), vec!["can't be blank"]);
    assert!(messages_of(&answer, "email").is_empty());
    assert!(messages_of(&answer, "phone").is_empty());

    for (text, field, message) in [
        ("not json", "identity", "must be a JSON object"),
        ("[1,2]", "identity", "must be a JSON object"),
        (
            "{\"nama\":\"Budi\",\"tanggalLahir\":\"1990-01-02\"}",
            "identity.nik",
            "can't be blank",
        ),
        (
            "{\"nik\":3201234567890001,\"nama\":\"Budi\",\"tanggalLahir\":\"1990-01-02\"}",
            "identity.nik",
            "must be a string",
        ),
    ] {
        let form = Multipart::new()
            .text("email", "siti@example.com")
            .text("phone", "081234567890")
            .text("identity", text)
            .file("selfie", "s.jpg", None, JPEG)
            .file("ktp", "k.png", None, PNG);
        let (status, answer) = post_form(&sim, REGISTRATION_PATH, form).await;
        assert_eq!(status, 422, "{text}: {answer}");
        assert_eq!(
            messages_of(&answer, field),
            vec![message],
            "{text}: {answer}"
        );
    }
    assert!(sim.users().is_empty());
}

#[tokio::test]
async fn an_email_or_nik_in_use_is_taken_until_that_registration_is_rejected() {
    let sim = simulator();
    let token = register(&sim, "budi@example.com").await;
    let nik_in_use = sim.user(&token).expect("user").nik;
    let (status, answer) = post_form(
        &sim,
        REGISTRATION_PATH,
        registration_form("BUDI@example.com", &nik_in_use),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        errors(&answer),
        vec![
            (
                "email".to_owned(),
                vec!["has already been taken".to_owned()]
            ),
            (
                "identity.nik".to_owned(),
                vec!["has already been taken".to_owned()]
            ),
        ]
    );
    sim.reject(&token, "KTP image found on the internet")
        .await
        .expect("reject");
    let (status, answer) = post_form(
        &sim,
        REGISTRATION_PATH,
        registration_form("budi@example.com", &nik_in_use),
    )
    .await;
    assert_eq!(status, 201, "a rejected user registers again: {answer}");
    assert_eq!(sim.users().len(), 2);
}

// ---- registration status ----------------------------------------------------------------

#[tokio::test]
async fn status_of_an_unknown_token_is_the_privyid_404() {
    let sim = simulator();
    let (status, answer) = status_of(&sim, &"ab".repeat(32)).await;
    assert_eq!(status, 404);
    assert_eq!(
        answer,
        json!({"code": 404, "errors": [{"field": "token", "messages": ["User not found"]}], "message": "Not found"})
    );
    let (status, _) = post_form(&sim, REGISTRATION_STATUS_PATH, Multipart::new()).await;
    assert_eq!(status, 404, "no token at all");
    assert_eq!(sim.calls("registration_status"), 2);
}

#[tokio::test]
async fn status_shows_each_state_with_the_fields_it_carries() {
    let sim = simulator();
    let token = register(&sim, "budi@example.com").await;
    let (status, answer) = status_of(&sim, &token).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["code"], 200);
    let data = &answer["data"];
    assert_eq!(data["status"], "waiting");
    assert_eq!(data["userToken"], token.as_str());
    assert_eq!(data["email"], "budi@example.com");
    assert_eq!(data["phone"], "+6281234567890");
    assert_eq!(
        data["identity"],
        json!({"nama": "Budi Santoso", "nik": sim.user(&token).expect("user").nik, "tanggalLahir": "1990-01-02"})
    );
    for absent in ["privyId", "processedAt", "reject"] {
        assert!(data.get(absent).is_none(), "{absent} while waiting: {data}");
    }

    sim.verify(&token).await.expect("verify");
    let (_, answer) = status_of(&sim, &token).await;
    let data = &answer["data"];
    assert_eq!(data["status"], "verified");
    assert!(
        is_privy_id(data["privyId"].as_str().unwrap_or_default()),
        "{data}"
    );
    let processed = data["processedAt"].as_str().unwrap_or_default();
    assert_eq!(
        processed.len(),
        "2019-01-28 17:20:29 +0700".len(),
        "{processed}"
    );
    assert!(processed.ends_with(" +0700"), "{processed}");
    assert!(data.get("reject").is_none());

    let invalid = register(&sim, "siti@example.com").await;
    let handlers = [
        Handler::Ktp,
        Handler::Selfie,
        Handler::FileSupport(vec!["KK".to_owned(), "SIM".to_owned()]),
    ];
    sim.invalidate(&invalid, &handlers)
        .await
        .expect("invalidate");
    let (_, answer) = status_of(&sim, &invalid).await;
    let data = &answer["data"];
    assert_eq!(data["status"], "invalid");
    assert!(data.get("privyId").is_none());
    let reject = &data["reject"];
    assert_eq!(reject["code"], INVALID_CODE);
    assert_eq!(reject["reason"], INVALID_REASON);
    let handlers = reject["handlers"].as_array().expect("handlers");
    let categories: Vec<&str> = handlers
        .iter()
        .filter_map(|h| h["category"].as_str())
        .collect();
    assert_eq!(categories, vec!["KTP", "SELFIE", "FILE-SUPPORT"]);
    assert!(
        handlers
            .iter()
            .all(|h| !h["handler"].as_str().unwrap_or_default().is_empty())
    );
    assert!(handlers[0].get("file_support").is_none());
    assert_eq!(handlers[2]["file_support"], json!(["KK", "SIM"]));

    let rejected = register(&sim, "joko@example.com").await;
    sim.reject(&rejected, FAMILY_CARD_REASON)
        .await
        .expect("reject");
    let (_, answer) = status_of(&sim, &rejected).await;
    let data = &answer["data"];
    assert_eq!(data["status"], "rejected");
    assert_eq!(
        data["reject"],
        json!({"code": REJECTED_CODE, "reason": FAMILY_CARD_REASON, "handlers": []})
    );

    let registered = register(&sim, "ani@example.com").await;
    sim.mark_registered(&registered).await.expect("registered");
    let (_, answer) = status_of(&sim, &registered).await;
    assert_eq!(answer["data"]["status"], "registered");
    assert!(is_privy_id(
        answer["data"]["privyId"].as_str().unwrap_or_default()
    ));
}

// ---- state machine ----------------------------------------------------------------------

#[tokio::test]
async fn verdicts_only_leave_waiting_and_privy_ids_are_unique() {
    let sim = simulator();
    let mut ids = std::collections::HashSet::new();
    for n in 0..20 {
        let (token, privy_id) = verified(&sim, &format!("user{n}@example.com")).await;
        assert!(is_privy_id(&privy_id), "{privy_id}");
        assert!(ids.insert(privy_id), "privyId reused");
        assert!(sim.verify(&token).await.is_err(), "verified twice");
        assert!(sim.invalidate(&token, &[Handler::Ktp]).await.is_err());
        assert!(sim.reject(&token, "late").await.is_err());
        assert_eq!(sim.user(&token).expect("user").status, UserStatus::Verified);
    }
    let token = register(&sim, "late@example.com").await;
    sim.reject(&token, "no").await.expect("reject");
    assert!(
        sim.verify(&token).await.is_err(),
        "a rejected user stays rejected"
    );
    assert!(matches!(
        sim.verify("unknown").await,
        Err(SimError::NotFound(_))
    ));
}

#[tokio::test]
async fn re_registration_is_open_only_for_an_invalid_user_until_the_next_verdict() {
    let sim = simulator();
    let token = register(&sim, "budi@example.com").await;
    let ktp = || Multipart::new().file("ktp", "ktp.jpg", Some("image/jpeg"), JPEG);
    let selfie = || Multipart::new().file("selfie", "selfie.png", Some("image/png"), PNG);
    let with_token = |path: &str, token: &str| authed("POST", path).header("token", token);
    let not_invalid = json!({"code": 422, "errors": [{"field": "token", "messages": ["User is not in invalid state"]}], "message": "Unprocessable Entity"});

    let (status, answer) =
        post_form_with(&sim, with_token(REREGISTER_KTP_PATH, &token), ktp()).await;
    assert_eq!(
        (status, &answer),
        (422, &not_invalid),
        "a fresh waiting user"
    );

    sim.invalidate(&token, &[Handler::Ktp, Handler::Selfie])
        .await
        .expect("invalidate");
    let bad = Multipart::new().file("ktp", "ktp.txt", Some("text/plain"), b"hello");
    let (status, answer) = post_form_with(&sim, with_token(REREGISTER_KTP_PATH, &token), bad).await;
    assert_eq!(status, 422);
    assert_eq!(
        messages_of(&answer, "ktp"),
        vec!["must be a JPEG or PNG image"]
    );
    assert_eq!(sim.user(&token).expect("user").status, UserStatus::Invalid);

    let (status, answer) =
        post_form_with(&sim, with_token(REREGISTER_KTP_PATH, &token), ktp()).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        answer["data"],
        json!({"userToken": token, "status": "waiting"})
    );
    let user = sim.user(&token).expect("user");
    assert_eq!(user.status, UserStatus::Waiting);
    assert_eq!(user.reject, None);
    let (status, answer) =
        post_form_with(&sim, with_token(REREGISTER_SELFIE_PATH, &token), selfie()).await;
    assert_eq!(
        status, 201,
        "the second item of the same resubmission: {answer}"
    );
    let user = sim.user(&token).expect("user");
    assert_eq!(user.resubmissions, 2);
    assert_eq!(user.resubmitted, vec![Handler::Ktp, Handler::Selfie]);

    sim.verify(&token).await.expect("verify");
    let (status, answer) =
        post_form_with(&sim, with_token(REREGISTER_KTP_PATH, &token), ktp()).await;
    assert_eq!(
        (status, &answer),
        (422, &not_invalid),
        "closed after the verdict"
    );

    let (status, answer) = post_form_with(
        &sim,
        with_token(REREGISTER_KTP_PATH, &"cd".repeat(32)),
        ktp(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(messages_of(&answer, "token"), vec!["User not found"]);
    let (status, _) = post_form(&sim, REREGISTER_KTP_PATH, ktp()).await;
    assert_eq!(status, 404, "no Token header");

    let support = Multipart::new().file("fileSupport[][attachment]", "kk.png", None, PNG);
    let other = register(&sim, "siti@example.com").await;
    sim.invalidate(&other, &[Handler::FileSupport(vec!["KK".to_owned()])])
        .await
        .expect("invalidate");
    let (status, answer) = post_form_with(
        &sim,
        with_token(REREGISTER_FILE_SUPPORT_PATH, &other),
        support,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        messages_of(&answer, "fileSupport[][category]"),
        vec!["can't be blank"]
    );
    assert_eq!(sim.calls("reregister"), 8);
}

#[tokio::test]
async fn a_rejected_user_cannot_re_register() {
    let sim = simulator();
    let token = register(&sim, "budi@example.com").await;
    sim.reject(&token, FAMILY_CARD_REASON)
        .await
        .expect("reject");
    let request = authed("POST", REREGISTER_SELFIE_PATH).header("token", &token);
    let form = Multipart::new().file("selfie", "s.jpg", None, JPEG);
    let (status, answer) = post_form_with(&sim, request, form).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        messages_of(&answer, "token"),
        vec!["User is not in invalid state"]
    );
    assert_eq!(sim.user(&token).expect("user").status, UserStatus::Rejected);
}

// ---- documents --------------------------------------------------------------------------

#[tokio::test]
async fn an_upload_is_201_with_links_under_the_host_it_reached() {
    let sim = simulator();
    let (_, first) = verified(&sim, "budi@example.com").await;
    let (_, second) = verified(&sim, "siti@example.com").await;
    let recipients = json!([signer(&first, 1, 100, 650), signer(&second, 2, 300, 650)]);
    let request = authed("POST", DOCUMENT_UPLOAD_PATH).header("host", "privy.test:4010");
    let form = upload_form("Loan agreement", "Serial", &recipients).text("templateId", "TPL-1");
    let (status, answer) = post_form_with(&sim, request, form).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["message"], "Document successfully upload and shared");
    let data = &answer["data"];
    let doc_token = data["docToken"].as_str().expect("docToken");
    assert!(is_hex64(doc_token));
    assert_eq!(
        data["urlDocument"],
        format!("http://privy.test:4010/doc/{doc_token}")
    );
    assert_eq!(
        data["recipients"],
        json!([
            {"privyId": first, "type": "Signer", "enterpriseToken": "", "magicLink": format!("http://privy.test:4010/sign/{doc_token}/{first}")},
            {"privyId": second, "type": "Signer", "enterpriseToken": "", "magicLink": format!("http://privy.test:4010/sign/{doc_token}/{second}")},
        ])
    );
    let document = sim.document(doc_token).expect("kept");
    assert_eq!(document.title, "Loan agreement");
    assert_eq!(document.doc_type, DocType::Serial);
    assert_eq!(document.status, DocumentState::InProgress);
    assert_eq!(document.template_id.as_deref(), Some("TPL-1"));
    assert_eq!(document.pdf.as_ref(), PDF);
    assert_eq!(
        document.recipients[1].placement,
        Some(Placement {
            page: 2,
            x: 300,
            y: 650
        })
    );
    assert_eq!(sim.calls("document_upload"), 1);
}

#[tokio::test]
async fn each_bad_upload_field_has_its_own_message() {
    let sim = simulator();
    let (status, answer) = post_form(&sim, DOCUMENT_UPLOAD_PATH, Multipart::new()).await;
    assert_eq!(status, 422);
    let fields: Vec<String> = errors(&answer).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        vec![
            "documentTitle",
            "docType",
            "owner",
            "recipients",
            "document"
        ]
    );

    let (_, privy_id) = verified(&sim, "budi@example.com").await;
    let cases: Vec<(Multipart, &str, String)> = vec![
        (
            upload_form("T", "Sequential", &json!([signer(&privy_id, 1, 0, 0)])),
            "docType",
            "must be Serial or Parallel".to_owned(),
        ),
        (
            upload_form("T", "Serial", &json!([signer("ZZ9999", 1, 0, 0)])),
            "recipients",
            "Recipient ZZ9999 not found".to_owned(),
        ),
        (
            upload_form(
                "T",
                "Serial",
                &json!([{"privyId": privy_id, "type": "Signer", "signPage": 0, "posX": 1, "posY": 1}]),
            ),
            "recipients",
            "recipient 1: signPage must be an integer of at least 1".to_owned(),
        ),
        (
            upload_form(
                "T",
                "Serial",
                &json!([{"privyId": privy_id, "type": "Signer", "signPage": 1, "posX": -5, "posY": 1}]),
            ),
            "recipients",
            "recipient 1: posX must be an integer of at least 0".to_owned(),
        ),
        (
            upload_form(
                "T",
                "Serial",
                &json!([{"privyId": privy_id, "type": "Signer", "signPage": 1}]),
            ),
            "recipients",
            "recipient 1: signPage, posX and posY must be sent together".to_owned(),
        ),
        (
            upload_form(
                "T",
                "Serial",
                &json!([{"privyId": privy_id, "type": "Approver"}]),
            ),
            "recipients",
            "recipient 1: type must be Signer or Reviewer".to_owned(),
        ),
        (
            upload_form(
                "T",
                "Serial",
                &json!([{"privyId": privy_id, "type": "Reviewer"}]),
            ),
            "recipients",
            "must include a Signer".to_owned(),
        ),
        (
            upload_form(
                "T",
                "Serial",
                &json!([signer(&privy_id, 1, 0, 0), signer(&privy_id, 2, 0, 0)]),
            ),
            "recipients",
            "recipient 2 is listed twice".to_owned(),
        ),
        (
            upload_form("T", "Serial", &json!({"privyId": privy_id})),
            "recipients",
            "must be a JSON array".to_owned(),
        ),
        (
            upload_form("T", "Serial", &json!([])),
            "recipients",
            "must not be empty".to_owned(),
        ),
        (
            Multipart::new()
                .text("documentTitle", "T")
                .text("docType", "Serial")
                .text(
                    "owner",
                    &json!({"privyId": MERCHANT, "enterpriseToken": "stolen"}).to_string(),
                )
                .text(
                    "recipients",
                    &json!([signer(&privy_id, 1, 0, 0)]).to_string(),
                )
                .file("document", "c.pdf", None, PDF),
            "owner",
            "does not match the merchant".to_owned(),
        ),
        (
            Multipart::new()
                .text("documentTitle", "T")
                .text("docType", "Serial")
                .text("owner", &owner())
                .text(
                    "recipients",
                    &json!([signer(&privy_id, 1, 0, 0)]).to_string(),
                )
                .file("document", "c.pdf", None, JPEG),
            "document",
            "must be a PDF document".to_owned(),
        ),
    ];
    for (form, field, message) in cases {
        let (status, answer) = post_form(&sim, DOCUMENT_UPLOAD_PATH, form).await;
        assert_eq!(status, 422, "{field}: {answer}");
        assert_eq!(
            messages_of(&answer, field),
            vec![message.clone()],
            "{answer}"
        );
    }
    // A user no longer verified cannot be named: only verified and registered users sign.
    let (other, other_id) = verified(&sim, "siti@example.com").await;
    sim.state()
        .book
        .users
        .iter_mut()
        .filter(|u| u.user_token == other)
        .for_each(|u| u.status = UserStatus::Rejected);
    let (_, answer) = post_form(
        &sim,
        DOCUMENT_UPLOAD_PATH,
        upload_form("T", "Serial", &json!([signer(&other_id, 1, 0, 0)])),
    )
    .await;
    assert_eq!(
        messages_of(&answer, "recipients"),
        vec![format!("Recipient {other_id} not found")]
    );
    let mut big = PDF.to_vec();
    big.resize(MAX_PDF_BYTES + 1, b' ');
    let form = Multipart::new()
        .text("documentTitle", "T")
        .text("docType", "Serial")
        .text("owner", &owner())
        .text(
            "recipients",
            &json!([signer(&privy_id, 1, 0, 0)]).to_string(),
        )
        .file("document", "c.pdf", None, &big);
    let (status, answer) = post_form(&sim, DOCUMENT_UPLOAD_PATH, form).await;
    assert_eq!(status, 422);
    assert_eq!(
        messages_of(&answer, "document"),
        vec!["is too large (maximum is 10 MB)"]
    );
    assert!(sim.documents().is_empty());
}

#[tokio::test]
async fn a_serial_document_is_signed_in_order_then_completed_with_a_download_url() {
    let sim = simulator();
    let (_, first) = verified(&sim, "budi@example.com").await;
    let (_, second) = verified(&sim, "siti@example.com").await;
    let doc = upload(
        &sim,
        "Serial",
        json!([signer(&first, 1, 0, 0), signer(&second, 1, 0, 0)]),
    )
    .await;

    let (status, answer) = document_status_of(&sim, &doc).await;
    assert_eq!(status, 200, "{answer}");
    let data = &answer["data"];
    assert_eq!(data["docToken"], doc.as_str());
    assert_eq!(data["urlDocument"], format!("http://localhost/doc/{doc}"));
    assert_eq!(data["documentStatus"], "In Progress");
    assert_eq!(
        data["recipients"],
        json!([
            {"privyId": first, "type": "Signer", "signatoryStatus": "In Progress"},
            {"privyId": second, "type": "Signer", "signatoryStatus": "In Progress"},
        ])
    );
    assert!(data.get("download").is_none());

    assert!(
        sim.sign(&doc, &second).await.is_err(),
        "second before first"
    );
    assert!(sim.sign(&doc, "ZZ0000").await.is_err(), "not a recipient");
    sim.sign(&doc, &first).await.expect("first signs");
    assert!(sim.sign(&doc, &first).await.is_err(), "signs twice");
    let (_, answer) = document_status_of(&sim, &doc).await;
    assert_eq!(answer["data"]["documentStatus"], "In Progress");
    assert_eq!(
        answer["data"]["recipients"][0]["signatoryStatus"],
        "Completed"
    );

    let before = sim
        .router()
        .oneshot(
            Request::get(format!("/doc/{doc}/download"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(before.status(), 404, "no download before completion");

    sim.sign(&doc, &second).await.expect("second signs");
    let (_, answer) = document_status_of(&sim, &doc).await;
    let data = &answer["data"];
    assert_eq!(data["documentStatus"], "Completed");
    assert_eq!(
        data["download"],
        json!({"url": format!("http://localhost/doc/{doc}/download")})
    );
    assert!(
        sim.expire_document(&doc).await.is_err(),
        "a completed document does not expire"
    );

    let response = sim
        .router()
        .oneshot(
            Request::get(format!("/doc/{doc}/download"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), 200);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(bytes.as_ref(), PDF);
}

#[tokio::test]
async fn a_parallel_document_takes_signatures_in_any_order_and_reviewers_do_not_hold_it_up() {
    let sim = simulator();
    let (_, first) = verified(&sim, "budi@example.com").await;
    let (_, second) = verified(&sim, "siti@example.com").await;
    let (_, reviewer) = verified(&sim, "ani@example.com").await;
    let doc = upload(
        &sim,
        "Parallel",
        json!([signer(&first, 1, 0, 0), {"privyId": reviewer, "type": "Reviewer"}, signer(&second, 1, 0, 0)]),
    )
    .await;
    sim.sign(&doc, &second).await.expect("second first");
    sim.sign(&doc, &first).await.expect("then first");
    let document = sim.document(&doc).expect("document");
    assert_eq!(document.status, DocumentState::Completed);
    assert_eq!(document.recipients[1].status, SignatoryStatus::InProgress);
}

#[tokio::test]
async fn refusal_and_expiry_end_a_document() {
    let sim = simulator();
    let (_, first) = verified(&sim, "budi@example.com").await;
    let refused = upload(&sim, "Parallel", json!([signer(&first, 1, 0, 0)])).await;
    sim.reject_document(&refused, &first).await.expect("refuse");
    let (_, answer) = document_status_of(&sim, &refused).await;
    assert_eq!(answer["data"]["documentStatus"], "Rejected");
    assert_eq!(
        answer["data"]["recipients"][0]["signatoryStatus"],
        "Rejected"
    );
    assert!(sim.sign(&refused, &first).await.is_err());

    let expired = upload(&sim, "Parallel", json!([signer(&first, 1, 0, 0)])).await;
    sim.expire_document(&expired).await.expect("expire");
    let (_, answer) = document_status_of(&sim, &expired).await;
    assert_eq!(answer["data"]["documentStatus"], "Expired");
    assert_eq!(
        answer["data"]["recipients"][0]["signatoryStatus"],
        "In Progress"
    );
    assert!(sim.expire_document(&expired).await.is_err());
}

#[tokio::test]
async fn document_status_of_an_unknown_token_is_the_privyid_404_on_every_form() {
    let sim = simulator();
    let wanted = json!({"code": 404, "errors": [{"field": "docToken", "messages": ["Document not found"]}], "message": "Not found"});
    let (status, answer) = document_status_of(&sim, "nope").await;
    assert_eq!((status, answer), (404, wanted.clone()));
    let (status, answer) =
        post_urlencoded(&sim, "/v3/merchant/document/status/docToken", "token=nope").await;
    assert_eq!((status, answer), (404, wanted.clone()));
    let (status, answer) = post_form(
        &sim,
        "/v3/merchant/document/status/docToken",
        Multipart::new(),
    )
    .await;
    assert_eq!((status, answer), (404, wanted));
    assert_eq!(sim.calls("document_status"), 3);

    let (_, first) = verified(&sim, "budi@example.com").await;
    let doc = upload(&sim, "Parallel", json!([signer(&first, 1, 0, 0)])).await;
    let (status, answer) = post_form(
        &sim,
        &format!("/v3/merchant/document/status/{doc}"),
        Multipart::new(),
    )
    .await;
    assert_eq!(status, 200, "a POST naming the token in the path: {answer}");
    let (status, _) = post_form(
        &sim,
        "/v3/merchant/document/status/:docToken",
        Multipart::new().text("token", &doc),
    )
    .await;
    assert_eq!(status, 200, "the literal :docToken");
}

// ---- callbacks --------------------------------------------------------------------------

#[tokio::test]
async fn each_transition_posts_its_register_callback_once_by_default() {
    let sim = simulator();
    let (catcher, url, _running) = Catcher::spawn(r#"{"code":200,"message":"OK"}"#).await;
    sim.set_callback_url(&url);
    let token = register(&sim, "budi@example.com").await;
    assert!(catcher.caught().is_empty(), "registering is no transition");
    let outcomes = sim.verify(&token).await.expect("verify");
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].status, 200);
    let caught = catcher.caught();
    assert_eq!(caught.len(), 1);
    assert_eq!(caught[0].content_type, "application/json");
    let body: Value = serde_json::from_str(&caught[0].body).expect("json");
    let user = sim.user(&token).expect("user");
    assert_eq!(body["eventName"], "register");
    assert_eq!(body["message"], "User Verified");
    let data = &body["data"];
    assert_eq!(
        data["privyId"],
        user.privy_id.as_deref().unwrap_or_default()
    );
    assert!(data["userId"].as_u64().is_some());
    assert_eq!(data["email"], "budi@example.com");
    assert_eq!(data["phone"], "+6281234567890");
    assert_eq!(data["userToken"], token.as_str());
    assert_eq!(data["status"], "verified");
    assert_eq!(
        data["processedAt"],
        wire::processed_at(user.processed_at.expect("processed"))
    );
    assert_eq!(
        data["identity"],
        json!({"nama": "Budi Santoso", "nik": user.nik, "tanggalLahir": "1990-01-02", "tempatLahir": ""})
    );
    assert!(data.get("reject").is_none());
    assert_eq!(
        sim.registration_callback(&token).expect("callback").body,
        caught[0].body.as_bytes(),
        "the built callback is the posted one"
    );

    let invalid = register(&sim, "siti@example.com").await;
    sim.invalidate(&invalid, &[Handler::Selfie])
        .await
        .expect("invalidate");
    let body: Value = serde_json::from_str(&catcher.caught()[1].body).expect("json");
    assert_eq!(body["message"], "User Invalid");
    assert_eq!(body["data"]["status"], "invalid");
    assert_eq!(body["data"]["reject"]["code"], INVALID_CODE);
    assert!(body["data"].get("privyId").is_none());

    // The resubmission that leaves invalid is announced too (from a task of its own); the
    // second item of the same resubmission is no transition.
    let request = authed("POST", REREGISTER_SELFIE_PATH).header("token", &invalid);
    let form = Multipart::new().file("selfie", "s.jpg", None, JPEG);
    assert_eq!(post_form_with(&sim, request, form.clone()).await.0, 201);
    eventually("the waiting callback", || catcher.caught().len() == 3).await;
    let body: Value = serde_json::from_str(&catcher.caught()[2].body).expect("json");
    assert_eq!(body["message"], "User Waiting");
    assert_eq!(body["data"]["status"], "waiting");
    let request = authed("POST", REREGISTER_SELFIE_PATH).header("token", &invalid);
    assert_eq!(post_form_with(&sim, request, form).await.0, 201);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(catcher.caught().len(), 3);

    let rejected = register(&sim, "joko@example.com").await;
    sim.reject(&rejected, FAMILY_CARD_REASON)
        .await
        .expect("reject");
    let body: Value = serde_json::from_str(&catcher.caught()[3].body).expect("json");
    assert_eq!(body["message"], "User Rejected");
    assert_eq!(body["data"]["reject"]["reason"], FAMILY_CARD_REASON);
}

#[tokio::test]
async fn document_callbacks_report_every_signature_refusal_and_expiry() {
    let sim = simulator();
    let (_, first) = verified(&sim, "budi@example.com").await;
    let (_, second) = verified(&sim, "siti@example.com").await;
    let (catcher, url, _running) = Catcher::spawn("OK").await;
    sim.set_callback_url(&url);
    let doc = upload(
        &sim,
        "Serial",
        json!([signer(&first, 1, 0, 0), signer(&second, 1, 0, 0)]),
    )
    .await;
    sim.sign(&doc, &first).await.expect("first");
    sim.sign(&doc, &second).await.expect("second");
    let bodies: Vec<Value> = catcher
        .caught()
        .iter()
        .map(|c| serde_json::from_str(&c.body).expect("json"))
        .collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["eventName"], "document-signed");
    assert_eq!(bodies[0]["message"], "Document Signed");
    assert_eq!(
        bodies[0]["data"],
        json!({"docToken": doc, "documentStatus": "In Progress", "recipients": [
            {"privyId": first, "type": "Signer", "signatoryStatus": "Completed"},
            {"privyId": second, "type": "Signer", "signatoryStatus": "In Progress"},
        ]})
    );
    assert_eq!(bodies[1]["data"]["documentStatus"], "Completed");
    assert_eq!(
        bodies[1]["data"]["download"]["url"],
        format!("http://localhost/doc/{doc}/download")
    );

    let refused = upload(&sim, "Parallel", json!([signer(&first, 1, 0, 0)])).await;
    sim.reject_document(&refused, &first).await.expect("refuse");
    let expired = upload(&sim, "Parallel", json!([signer(&first, 1, 0, 0)])).await;
    sim.expire_document(&expired).await.expect("expire");
    let caught = catcher.caught();
    let refusal: Value = serde_json::from_str(&caught[2].body).expect("json");
    assert_eq!(
        (refusal["eventName"].as_str(), refusal["message"].as_str()),
        (Some("document-rejected"), Some("Document Rejected"))
    );
    assert_eq!(refusal["data"]["documentStatus"], "Rejected");
    let expiry: Value = serde_json::from_str(&caught[3].body).expect("json");
    assert_eq!(
        (expiry["eventName"].as_str(), expiry["message"].as_str()),
        (Some("document-expired"), Some("Document Expired"))
    );
    let built: Value =
        serde_json::from_slice(&sim.document_callback(&expired).expect("callback").body)
            .expect("json");
    assert_eq!(built, expiry);
}

#[tokio::test]
async fn the_policy_posts_never_or_twice_and_no_url_only_changes_state() {
    let sim = simulator();
    let first = register(&sim, "a@example.com").await;
    assert!(
        sim.verify(&first).await.expect("verify").is_empty(),
        "no URL: no post"
    );
    assert_eq!(sim.user(&first).expect("user").status, UserStatus::Verified);
    assert_eq!(sim.registration_callback(&first).expect("built").url, None);

    let (catcher, url, _running) = Catcher::spawn("OK").await;
    sim.set_callback_url(&url);
    sim.set_callback_policy(CallbackPolicy::Never);
    let second = register(&sim, "b@example.com").await;
    assert!(sim.verify(&second).await.expect("verify").is_empty());
    assert!(catcher.caught().is_empty());
    assert_eq!(
        sim.user(&second).expect("user").status,
        UserStatus::Verified
    );

    sim.set_callback_policy(CallbackPolicy::Twice);
    let third = register(&sim, "c@example.com").await;
    let outcomes = sim.verify(&third).await.expect("verify");
    assert_eq!(outcomes.len(), 2);
    let caught = catcher.caught();
    assert_eq!(caught.len(), 2);
    assert_eq!(caught[0].body, caught[1].body, "the same body twice");

    let mut config = config();
    config.callbacks = CallbackPolicy::Twice;
    assert_eq!(
        PrivyIdSimulator::new(config).state().policy,
        CallbackPolicy::Twice
    );
}

#[tokio::test]
async fn an_unreachable_callback_url_is_a_delivery_error_after_the_change() {
    let sim = simulator();
    let token = register(&sim, "a@example.com").await;
    sim.set_callback_url("http://127.0.0.1:9/callback");
    assert!(matches!(
        sim.verify(&token).await,
        Err(SimError::Delivery(_))
    ));
    assert_eq!(sim.user(&token).expect("user").status, UserStatus::Verified);
}

// ---- schedule ---------------------------------------------------------------------------

fn scheduled(ms: u64) -> PrivyIdSimulator {
    let mut config = config();
    config.schedule = Schedule::After(Duration::from_millis(ms));
    PrivyIdSimulator::new(config)
}

fn status_is(sim: &PrivyIdSimulator, token: &str, status: UserStatus) -> bool {
    sim.user(token).is_some_and(|u| u.status == status)
}

#[tokio::test]
async fn a_schedule_decides_registrations_by_the_email_and_posts_the_callbacks() {
    let sim = scheduled(20);
    let (catcher, url, _running) = Catcher::spawn("OK").await;
    sim.set_callback_url(&url);
    let plain = register(&sim, "budi@example.com").await;
    let rejected = register(&sim, "siti+rejected@example.com").await;
    let invalid = register(&sim, "joko+invalid@example.com").await;
    assert!(
        status_is(&sim, &plain, UserStatus::Waiting),
        "not before the delay"
    );
    eventually("the plain user is verified", || {
        status_is(&sim, &plain, UserStatus::Verified)
    })
    .await;
    eventually("+rejected is rejected", || {
        status_is(&sim, &rejected, UserStatus::Rejected)
    })
    .await;
    eventually("+invalid is invalid", || {
        status_is(&sim, &invalid, UserStatus::Invalid)
    })
    .await;
    let reject = sim.user(&rejected).and_then(|u| u.reject).expect("reject");
    assert_eq!(
        (reject.code.as_str(), reject.reason.as_str()),
        (REJECTED_CODE, FAMILY_CARD_REASON)
    );
    let reject = sim.user(&invalid).and_then(|u| u.reject).expect("reject");
    assert_eq!(reject.code, INVALID_CODE);
    assert_eq!(reject.handlers, vec![Handler::Ktp, Handler::Selfie]);
    eventually("three callbacks", || catcher.caught().len() == 3).await;

    for (path, form) in [
        (
            REREGISTER_KTP_PATH,
            Multipart::new().file("ktp", "k.png", None, PNG),
        ),
        (
            REREGISTER_SELFIE_PATH,
            Multipart::new().file("selfie", "s.jpg", None, JPEG),
        ),
    ] {
        let request = authed("POST", path).header("token", &invalid);
        assert_eq!(post_form_with(&sim, request, form).await.0, 201);
    }
    eventually("a resubmitted +invalid user is verified", || {
        status_is(&sim, &invalid, UserStatus::Verified)
    })
    .await;
    assert_eq!(sim.user(&invalid).expect("user").resubmissions, 2);
}

#[tokio::test]
async fn a_test_that_acts_first_wins_over_the_schedule() {
    let sim = scheduled(60);
    let token = register(&sim, "budi@example.com").await;
    sim.reject(&token, "decided by hand").await.expect("reject");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let user = sim.user(&token).expect("user");
    assert_eq!(user.status, UserStatus::Rejected);
    assert_eq!(
        user.reject.map(|r| r.reason).as_deref(),
        Some("decided by hand")
    );
}

#[tokio::test]
async fn a_schedule_signs_documents_or_refuses_those_titled_reject() {
    let sim = scheduled(20);
    let (first, second) = {
        let a = register(&sim, "budi@example.com").await;
        let b = register(&sim, "siti@example.com").await;
        eventually("both verified", || {
            status_is(&sim, &a, UserStatus::Verified) && status_is(&sim, &b, UserStatus::Verified)
        })
        .await;
        (
            sim.user(&a).and_then(|u| u.privy_id).expect("id"),
            sim.user(&b).and_then(|u| u.privy_id).expect("id"),
        )
    };
    let signed = upload(
        &sim,
        "Serial",
        json!([signer(&first, 1, 0, 0), signer(&second, 1, 0, 0)]),
    )
    .await;
    let (status, answer) = post_form(
        &sim,
        DOCUMENT_UPLOAD_PATH,
        upload_form(
            "Loan [reject]",
            "Serial",
            &json!([signer(&first, 1, 0, 0), signer(&second, 1, 0, 0)]),
        ),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let refused = answer["data"]["docToken"]
        .as_str()
        .expect("docToken")
        .to_owned();
    let done = |token: &str, state| sim.document(token).is_some_and(|d| d.status == state);
    eventually("signed", || done(&signed, DocumentState::Completed)).await;
    eventually("refused", || done(&refused, DocumentState::Rejected)).await;
    let refused = sim.document(&refused).expect("document");
    assert_eq!(refused.recipients[0].status, SignatoryStatus::Rejected);
    assert_eq!(refused.recipients[1].status, SignatoryStatus::InProgress);
}

// ---- faults -----------------------------------------------------------------------------

#[tokio::test]
async fn faults_before_the_effect_store_nothing_and_are_not_counted() {
    let sim = simulator();
    for (fault, status) in [
        (Fault::Down, 503),
        (Fault::Status { code: 500 }, 500),
        (Fault::HangBeforeEffect { ms: 10 }, 504),
    ] {
        sim.faults().push(FaultRule::once("registration", fault));
        let (got, answer) = post_form(
            &sim,
            REGISTRATION_PATH,
            registration_form("budi@example.com", NIK),
        )
        .await;
        assert_eq!(got, status, "{answer}");
    }
    sim.faults()
        .push(FaultRule::once("registration", Fault::Malformed));
    let (status, answer) = post_form(
        &sim,
        REGISTRATION_PATH,
        registration_form("budi@example.com", NIK),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer, Value::String(MALFORMED.to_owned()), "not JSON");
    assert!(sim.users().is_empty());
    assert_eq!(sim.calls("registration"), 0);
    let (status, _) = post_form(
        &sim,
        REGISTRATION_PATH,
        registration_form("budi@example.com", NIK),
    )
    .await;
    assert_eq!(status, 201, "faults are used up");
}

#[tokio::test]
async fn a_hang_after_the_effect_keeps_the_registration_and_answers_late() {
    let sim = simulator();
    sim.faults().push(FaultRule::once(
        "registration",
        Fault::HangAfterEffect { ms: 200 },
    ));
    let started = Instant::now();
    let (status, _) = post_form(
        &sim,
        REGISTRATION_PATH,
        registration_form("budi@example.com", NIK),
    )
    .await;
    assert_eq!(status, 201);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(sim.users().len(), 1);
    assert_eq!(sim.calls("registration"), 1);
}

#[tokio::test]
async fn every_operation_consults_its_own_faults() {
    let sim = simulator();
    let (token, privy_id) = verified(&sim, "budi@example.com").await;
    let doc = upload(&sim, "Parallel", json!([signer(&privy_id, 1, 0, 0)])).await;
    for op in [
        "registration_status",
        "reregister",
        "document_upload",
        "document_status",
    ] {
        sim.faults().push(FaultRule::once(op, Fault::Down));
    }
    let (status, _) = status_of(&sim, &token).await;
    assert_eq!(status, 503);
    let request = authed("POST", REREGISTER_KTP_PATH).header("token", &token);
    let (status, _) = post_form_with(&sim, request, Multipart::new()).await;
    assert_eq!(status, 503);
    let (status, _) = post_form(&sim, DOCUMENT_UPLOAD_PATH, Multipart::new()).await;
    assert_eq!(status, 503);
    let (status, _) = document_status_of(&sim, &doc).await;
    assert_eq!(status, 503);
    assert!(sim.faults().rules().is_empty());
    assert_eq!(sim.documents().len(), 1);
}

// ---- redaction --------------------------------------------------------------------------

#[tokio::test]
async fn debug_output_shows_no_secret_and_no_personal_data() {
    let config = config();
    let shown = format!("{config:?}");
    for secret in [PASSWORD, KEY, ENTERPRISE] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains(USER) && shown.contains(MERCHANT));
    let sim = PrivyIdSimulator::new(config);
    assert!(!format!("{sim:?}").contains(PASSWORD));

    let token = register(&sim, "budi@example.com").await;
    let user = sim.user(&token).expect("user");
    let shown = format!("{user:?}");
    for personal in [
        user.nik.as_str(),
        "Budi Santoso",
        "1990-01-02",
        "81234567890",
        "budi@example.com",
    ] {
        assert!(!shown.contains(personal), "{shown}");
    }
    assert!(shown.contains(&token));

    let (_, privy_id) = verified(&sim, "siti@example.com").await;
    let doc = upload(&sim, "Parallel", json!([signer(&privy_id, 1, 0, 0)])).await;
    let shown = format!("{:?}", sim.document(&doc).expect("document"));
    assert!(
        shown.contains("pdf_bytes") && !shown.contains("%PDF"),
        "{shown}"
    );
}

// ---- the conformance suite --------------------------------------------------------------

#[tokio::test]
async fn the_esign_suite_passes_against_a_client_that_follows_the_protocol() {
    let sim = simulator();
    let running = sim
        .spawn(crate::server::any_local_port())
        .await
        .expect("spawn");
    let callback_token = "cb-0123456789abcdef0123456789";
    sim.set_callback_url(&format!(
        "http://127.0.0.1:1/v1/callbacks/privyid_main/{callback_token}"
    ));
    let client = reference::Client::new(&running.base_url, MERCHANT, ENTERPRISE, callback_token);
    let report = crate::conformance::esign::run_all(&client, &client, &sim).await;
    assert!(report.is_success(), "{report}");
    assert_eq!(report.outcomes.len(), 11);
}

#[tokio::test]
async fn the_esign_suite_catches_a_client_that_drops_the_status_from_event_ids() {
    let sim = simulator();
    let running = sim
        .spawn(crate::server::any_local_port())
        .await
        .expect("spawn");
    let callback_token = "cb-0123456789abcdef0123456789";
    sim.set_callback_url(&format!(
        "http://127.0.0.1:1/v1/callbacks/privyid_main/{callback_token}"
    ));
    let client = reference::Client::new(&running.base_url, MERCHANT, ENTERPRISE, callback_token)
        .with_careless_event_ids();
    let report = crate::conformance::esign::run_all(&client, &client, &sim).await;
    let failures: Vec<&str> = report.failures().map(|(name, _)| name).collect();
    assert_eq!(
        failures,
        vec!["callbacks_are_events_to_confirm_by_inquiry_and_forged_ones_are_refused"],
        "{report}"
    );
}
