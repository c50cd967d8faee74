//! The adapter against a tiny in-test merchant API: exact multipart parts and headers,
//! every status table, how each failure is classified, OAuth2 token handling, and the
//! callbacks and their acknowledgements.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use base64::Engine;
use contracts::esign::{
    DocumentSigner, DocumentState, RegisterSigner, Resubmission, Resubmit, SignaturePlacement,
    SignerState, SigningState, SupportingDocument, UploadDocument, Verdict,
};
use contracts::inbound::{
    AckOutcome, EventKind, Inbound, InboundEvent, InboundRequest, ResourceRef, Trust,
};
use contracts::{
    ESignature, ErrorKind, InboundNotifications, OurReference, ProviderError, ProviderReference,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::date;
use url::Url;

use crate::{AuthConfig, Config, PrivyId};

const MERCHANT_KEY: &str = "merchant-k3y-0001";
const USERNAME: &str = "merchant-user";
const PASSWORD: &str = "basic-pa55word";
const CLIENT_ID: &str = "client-1";
const CLIENT_SECRET: &str = "client-s3cret";
const MERCHANT_PRIVY_ID: &str = "MR0001";
const ENTERPRISE_TOKEN: &str = "enterprise-t0ken-0001";
const CALLBACK_TOKEN: &str = "cb-Zx81kQ2vN7pL0aR5tY3wE9uI";
const USER_TOKEN: &str = "6b1f0c4de1a8a1b9d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5";
const DOC_TOKEN: &str = "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b";
const NIK: &str = "3174012505900012";
const NAME: &str = "Budi Santoso";
const EMAIL: &str = "budi@example.co.id";
const PHONE: &str = "+6281234567890";
const SIGNER_A: &str = "AB1234";
const SIGNER_B: &str = "CD5678";

const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F'];
const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x01];
const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n";

/// What the stand-in answers: HTTP status, body, and a delay before answering.
type Answer = (u16, String, Duration);

/// One request the stand-in saw.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The stand-in: records every request and answers each path from its script; the last
/// scripted answer repeats.
#[derive(Clone, Default)]
struct Stub {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<HashMap<String, VecDeque<Answer>>>>,
    base_url: String,
}

impl Stub {
    fn on(&self, path: &str, answers: Vec<Answer>) -> &Stub {
        self.script
            .lock()
            .expect("lock")
            .insert(path.to_owned(), answers.into());
        self
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn seen_at(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }

    fn only(&self) -> Seen {
        let seen = self.seen();
        assert_eq!(seen.len(), 1, "exactly one request");
        seen[0].clone()
    }

    fn answer(&self, path: &str) -> Answer {
        let mut script = self.script.lock().expect("lock");
        match script.get_mut(path) {
            Some(answers) if answers.len() > 1 => answers.pop_front().expect("an answer"),
            Some(answers) => answers.front().cloned().expect("an answer"),
            None => (404, error_body(404, "path", "Not found"), Duration::ZERO),
        }
    }
}

async fn handle(
    State(stub): State<Stub>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let path = uri.path().to_owned();
    stub.seen.lock().expect("lock").push(Seen {
        method,
        path: path.clone(),
        headers,
        body,
    });
    let (status, body, delay) = stub.answer(&path);
    tokio::time::sleep(delay).await;
    (StatusCode::from_u16(status).expect("status"), body)
}

/// Starts a stand-in with an empty script.
async fn serve() -> Stub {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stub = Stub {
        base_url: format!("http://{addr}"),
        ..Stub::default()
    };
    let app = Router::new().fallback(handle).with_state(stub.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    stub
}

fn basic() -> AuthConfig {
    AuthConfig::Basic {
        username: USERNAME.to_owned(),
        password: SecretString::from(PASSWORD),
    }
}

fn oauth2(stub: &Stub) -> AuthConfig {
    AuthConfig::Oauth2 {
        token_url: Url::parse(&format!("{}/oauth/token", stub.base_url)).expect("url"),
        client_id: CLIENT_ID.to_owned(),
        client_secret: SecretString::from(CLIENT_SECRET),
        scope: Some("merchant".to_owned()),
    }
}

fn config(base_url: &str, auth: AuthConfig) -> Config {
    let mut config = Config::new(
        SecretString::from(MERCHANT_KEY),
        auth,
        MERCHANT_PRIVY_ID,
        SecretString::from(ENTERPRISE_TOKEN),
        SecretString::from(CALLBACK_TOKEN),
    );
    config.base_url = Url::parse(base_url).expect("base url");
    config.request_timeout_ms = 3_000;
    config
}

fn adapter(config: Config) -> PrivyId {
    PrivyId::new(config, reqwest::Client::new()).expect("valid config")
}

/// The adapter with Basic auth against `stub`.
fn privy(stub: &Stub) -> PrivyId {
    adapter(config(&stub.base_url, basic()))
}

/// The adapter with a short deadline against `stub`.
fn impatient(stub: &Stub) -> PrivyId {
    let mut config = config(&stub.base_url, basic());
    config.request_timeout_ms = 300;
    adapter(config)
}

fn answer(status: u16, body: Value) -> Answer {
    (status, body.to_string(), Duration::ZERO)
}

fn success(status: u16, data: Value) -> Answer {
    answer(
        status,
        json!({"code": status, "data": data, "message": "Success"}),
    )
}

fn error_body(status: u16, field: &str, message: &str) -> String {
    json!({"code": status, "errors": [{"field": field, "messages": [message]}],
           "message": "Error"})
    .to_string()
}

fn refusal(status: u16, field: &str, message: &str) -> Answer {
    (status, error_body(status, field, message), Duration::ZERO)
}

fn registered() -> Answer {
    success(
        201,
        json!({"email": EMAIL, "phone": "+6281234567890", "userToken": USER_TOKEN,
               "status": "waiting"}),
    )
}

fn registration_status(status: &str, extra: Value) -> Answer {
    let mut data = json!({
        "userToken": USER_TOKEN, "status": status, "email": EMAIL, "phone": "+6281234567890",
        "processedAt": "2019-01-28 17:20:29 +0700",
        "identity": {"nama": NAME, "nik": NIK, "tanggalLahir": "1990-05-17"},
    });
    if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
        data.extend(extra.clone());
    }
    success(200, data)
}

fn uploaded() -> Answer {
    success(
        201,
        json!({
            "docToken": DOC_TOKEN,
            "urlDocument": format!("https://sign-sandbox.privy.id/doc/{DOC_TOKEN}"),
            "recipients": [
                {"privyId": SIGNER_A, "type": "Signer", "enterpriseToken": "",
                 "magicLink": format!("https://sign-sandbox.privy.id/sign/{DOC_TOKEN}/{SIGNER_A}")},
                {"privyId": SIGNER_B, "type": "Signer", "enterpriseToken": "",
                 "magicLink": format!("https://sign-sandbox.privy.id/sign/{DOC_TOKEN}/{SIGNER_B}")},
            ],
        }),
    )
}

fn document_answer(status: &str, signatories: &[(&str, &str, &str)], download: bool) -> Answer {
    let recipients: Vec<Value> = signatories
        .iter()
        .map(|(id, kind, state)| json!({"privyId": id, "type": kind, "signatoryStatus": state}))
        .collect();
    let mut data = json!({
        "docToken": DOC_TOKEN,
        "urlDocument": format!("https://sign-sandbox.privy.id/doc/{DOC_TOKEN}"),
        "documentStatus": status,
        "recipients": recipients,
    });
    if download {
        data["download"] = json!({"url": "https://sign-sandbox.privy.id/download/x.pdf"});
    }
    success(200, data)
}

fn signer_request() -> RegisterSigner {
    RegisterSigner::new(
        OurReference("sgn_01HZX".to_owned()),
        NIK.to_owned(),
        NAME.to_owned(),
        EMAIL.to_owned(),
        PHONE.to_owned(),
        date!(1990 - 05 - 17),
        Bytes::from_static(JPEG),
        Bytes::from_static(PNG),
    )
}

fn user() -> ProviderReference {
    ProviderReference(USER_TOKEN.to_owned())
}

fn doc() -> ProviderReference {
    ProviderReference(DOC_TOKEN.to_owned())
}

fn upload_request(in_order: bool) -> UploadDocument {
    UploadDocument::new(
        OurReference("doc_01HZX".to_owned()),
        "Perjanjian Kredit".to_owned(),
        Bytes::from_static(PDF),
        vec![
            SignaturePlacement::new(SIGNER_A.to_owned(), 1, 100, 650),
            SignaturePlacement::new(SIGNER_B.to_owned(), 2, 0, 40),
        ],
    )
    .in_order(in_order)
}

/// One multipart part as received.
#[derive(Debug)]
struct Part {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    bytes: Bytes,
}

async fn parts(seen: &Seen) -> Vec<Part> {
    let content_type = seen.header("content-type").expect("a content type");
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let request = Request::builder()
        .header("content-type", content_type)
        .body(Body::from(seen.body.clone()))
        .expect("request");
    let mut multipart = Multipart::from_request(request, &())
        .await
        .expect("multipart");
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await.expect("a field") {
        let name = field.name().expect("a name").to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.expect("bytes");
        parts.push(Part {
            name,
            file_name,
            content_type,
            bytes,
        });
    }
    parts
}

fn names(parts: &[Part]) -> Vec<&str> {
    parts.iter().map(|p| p.name.as_str()).collect()
}

fn part<'a>(parts: &'a [Part], name: &str) -> &'a Part {
    parts
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no part {name}"))
}

fn text(parts: &[Part], name: &str) -> String {
    let part = part(parts, name);
    assert_eq!(part.file_name, None, "{name} is a text part");
    String::from_utf8(part.bytes.to_vec()).expect("utf-8")
}

fn json_part(parts: &[Part], name: &str) -> Value {
    serde_json::from_str(&text(parts, name)).expect("a JSON text part")
}

fn assert_file(part: &Part, file_name: &str, content_type: &str, bytes: &[u8]) {
    assert_eq!(part.file_name.as_deref(), Some(file_name), "{}", part.name);
    assert_eq!(
        part.content_type.as_deref(),
        Some(content_type),
        "{}",
        part.name
    );
    assert_eq!(part.bytes.as_ref(), bytes, "{}", part.name);
}

fn basic_header(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn assert_merchant_headers(seen: &Seen) {
    assert_eq!(
        seen.header("authorization"),
        Some(basic_header(USERNAME, PASSWORD).as_str())
    );
    assert_eq!(seen.header("merchant-key"), Some(MERCHANT_KEY));
}

// ---------------------------------------------------------------------------------------
// Registration (2.3)

#[tokio::test]
async fn a_registration_is_posted_as_the_multipart_privyid_expects() {
    let stub = serve().await;
    stub.on("/v3/merchant/registration", vec![registered()]);
    let status = privy(&stub)
        .register_signer(&signer_request())
        .await
        .expect("registered");
    assert_eq!(status.provider_reference, user());
    assert_eq!(status.signer_id, None);
    assert_eq!(status.state, SignerState::Pending);
    assert_eq!(status.provider_status, "waiting");

    let seen = stub.only();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/v3/merchant/registration");
    assert_merchant_headers(&seen);
    assert_eq!(seen.header("token"), None);
    let parts = parts(&seen).await;
    assert_eq!(
        names(&parts),
        ["email", "phone", "identity", "selfie", "ktp"]
    );
    assert_eq!(text(&parts, "email"), EMAIL);
    assert_eq!(text(&parts, "phone"), "081234567890");
    assert_eq!(
        json_part(&parts, "identity"),
        json!({"nik": NIK, "nama": NAME, "tanggalLahir": "1990-05-17"})
    );
    assert_file(part(&parts, "selfie"), "selfie.jpg", "image/jpeg", JPEG);
    assert_file(part(&parts, "ktp"), "ktp.png", "image/png", PNG);
}

#[tokio::test]
async fn a_base_url_path_is_kept_in_front_of_v3() {
    let stub = serve().await;
    stub.on("/privy/v3/merchant/registration", vec![registered()]);
    let privy = adapter(config(&format!("{}/privy/", stub.base_url), basic()));
    privy
        .register_signer(&signer_request())
        .await
        .expect("registered");
    assert_eq!(stub.only().path, "/privy/v3/merchant/registration");
}

#[tokio::test]
async fn unusable_registrations_are_refused_before_anything_is_sent() {
    let stub = serve().await;
    stub.on("/v3/merchant/registration", vec![registered()]);
    let privy = privy(&stub);
    let mut foreign = signer_request();
    foreign.phone = "+6591234567".to_owned();
    let mut national = signer_request();
    national.phone = "081234567890".to_owned();
    let mut gif_selfie = signer_request();
    gif_selfie.selfie = Bytes::from_static(b"GIF89a....");
    let mut pdf_ktp = signer_request();
    pdf_ktp.ktp_image = Bytes::from_static(PDF);
    let mut empty_ktp = signer_request();
    empty_ktp.ktp_image = Bytes::new();
    for request in [foreign, national, gif_selfie, pdf_ktp, empty_ktp] {
        let err = privy.register_signer(&request).await.expect_err("refused");
        assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
        assert!(!err.message.contains("9123") && !err.message.contains("0812"));
    }
    assert!(stub.seen().is_empty());
}

#[tokio::test]
async fn a_registration_answer_without_a_user_token_is_ambiguous() {
    let stub = serve().await;
    stub.on(
        "/v3/merchant/registration",
        vec![success(201, json!({"status": "waiting"}))],
    );
    let err = privy(&stub)
        .register_signer(&signer_request())
        .await
        .expect_err("unreadable");
    assert_eq!(err.kind, ErrorKind::Timeout);
}

// ---------------------------------------------------------------------------------------
// Registration status (2.4)

async fn signer_status_for(
    answer: Answer,
) -> Result<contracts::esign::SignerStatus, ProviderError> {
    let stub = serve().await;
    stub.on("/v3/merchant/registration/status", vec![answer]);
    privy(&stub).signer_status(&user()).await
}

#[tokio::test]
async fn the_status_inquiry_posts_the_user_token() {
    let stub = serve().await;
    stub.on(
        "/v3/merchant/registration/status",
        vec![registration_status("waiting", json!({}))],
    );
    let status = privy(&stub).signer_status(&user()).await.expect("status");
    assert_eq!(status.state, SignerState::Pending);
    assert_eq!(status.provider_status, "waiting");
    assert_eq!(status.provider_reference, user());
    let seen = stub.only();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/v3/merchant/registration/status");
    assert_merchant_headers(&seen);
    let parts = parts(&seen).await;
    assert_eq!(names(&parts), ["token"]);
    assert_eq!(text(&parts, "token"), USER_TOKEN);
}

#[tokio::test]
async fn verified_and_registered_signers_carry_their_privy_id() {
    for status in ["verified", "registered"] {
        let answer = registration_status(status, json!({"privyId": SIGNER_A}));
        let signer = signer_status_for(answer).await.expect("status");
        assert_eq!(signer.state, SignerState::Verified, "{status}");
        assert_eq!(signer.signer_id.as_deref(), Some(SIGNER_A));
        assert_eq!(signer.provider_status, status);
    }
}

#[tokio::test]
async fn a_verified_signer_without_privy_id_is_a_protocol_error() {
    for extra in [json!({}), json!({"privyId": ""}), json!({"privyId": null})] {
        let err = signer_status_for(registration_status("verified", extra))
            .await
            .expect_err("protocol");
        assert_eq!(err.kind, ErrorKind::Protocol);
    }
}

fn reject() -> Value {
    json!({"reject": {
        "code": "PRVS003",
        "reason": "Data tidak valid",
        "handlers": [
            {"category": "KTP", "handler": "Unggah ulang foto KTP yang jelas"},
            {"category": "SELFIE", "handler": "Unggah ulang swafoto"},
            {"category": "FILE-SUPPORT", "handler": "Unggah dokumen pendukung",
             "file_support": ["KK", {"category": "SIM"}, {"name": "PASPOR"}]},
        ],
    }})
}

#[tokio::test]
async fn an_invalid_signer_gets_a_fixable_verdict() {
    let signer = signer_status_for(registration_status("invalid", reject()))
        .await
        .expect("status");
    let expected = Verdict::new(
        Some("PRVS003".to_owned()),
        vec![
            "Data tidak valid".to_owned(),
            "Unggah ulang foto KTP yang jelas".to_owned(),
            "Unggah ulang swafoto".to_owned(),
            "Unggah dokumen pendukung".to_owned(),
        ],
        vec![
            Resubmit::KtpImage,
            Resubmit::Selfie,
            Resubmit::SupportingDocument {
                categories: vec!["KK".to_owned(), "SIM".to_owned(), "PASPOR".to_owned()],
            },
        ],
    );
    assert_eq!(signer.state, SignerState::Invalid(expected));
    assert_eq!(signer.signer_id, None);
    assert_eq!(signer.provider_status, "invalid");
}

#[tokio::test]
async fn a_rejected_signer_keeps_reasons_and_asks_for_nothing() {
    let signer = signer_status_for(registration_status("rejected", reject()))
        .await
        .expect("status");
    let SignerState::Rejected(verdict) = signer.state else {
        panic!("rejected expected, got {:?}", signer.state);
    };
    assert_eq!(verdict.code.as_deref(), Some("PRVS003"));
    assert_eq!(verdict.reasons.len(), 4);
    assert!(verdict.resubmit.is_empty());
}

#[tokio::test]
async fn an_unknown_signer_status_is_never_final() {
    let signer = signer_status_for(registration_status("suspended", json!({})))
        .await
        .expect("status");
    assert_eq!(signer.state, SignerState::Unknown);
    assert_eq!(signer.provider_status, "suspended");
}

#[tokio::test]
async fn an_unknown_user_token_is_not_found() {
    let err = signer_status_for(refusal(404, "token", "User not found"))
        .await
        .expect_err("unknown");
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(err.message, "token: User not found");
}

// ---------------------------------------------------------------------------------------
// Re-registration (2.5)

const REREGISTER_KTP: &str = "/v3/user/merchant/reregister/ktp";
const REREGISTER_SELFIE: &str = "/v3/user/merchant/reregister/selfie";
const REREGISTER_FILE: &str = "/v3/user/merchant/reregister/file-support";

fn resubmitted() -> Answer {
    success(201, json!({"userToken": USER_TOKEN, "status": "waiting"}))
}

fn full_resubmission() -> Resubmission {
    Resubmission::new(
        user(),
        Some(Bytes::from_static(PNG)),
        Some(Bytes::from_static(JPEG)),
        vec![
            SupportingDocument::new("KK".to_owned(), Bytes::from_static(JPEG)),
            SupportingDocument::new("SIM".to_owned(), Bytes::from_static(PNG)),
        ],
    )
}

fn script_reregistration(stub: &Stub, ktp: Answer, selfie: Answer, file: Answer) {
    stub.on(REREGISTER_KTP, vec![ktp])
        .on(REREGISTER_SELFIE, vec![selfie])
        .on(REREGISTER_FILE, vec![file]);
}

#[tokio::test]
async fn each_resubmitted_item_is_its_own_request_with_the_token_header() {
    let stub = serve().await;
    script_reregistration(&stub, resubmitted(), resubmitted(), resubmitted());
    privy(&stub)
        .resubmit_signer(&full_resubmission())
        .await
        .expect("resubmitted");

    let seen = stub.seen();
    let paths: Vec<_> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            REREGISTER_KTP,
            REREGISTER_SELFIE,
            REREGISTER_FILE,
            REREGISTER_FILE
        ]
    );
    for request in &seen {
        assert_eq!(request.method, Method::POST);
        assert_merchant_headers(request);
        assert_eq!(request.header("token"), Some(USER_TOKEN));
    }
    let ktp = parts(&seen[0]).await;
    assert_eq!(names(&ktp), ["ktp"]);
    assert_file(&ktp[0], "ktp.png", "image/png", PNG);
    let selfie = parts(&seen[1]).await;
    assert_eq!(names(&selfie), ["selfie"]);
    assert_file(&selfie[0], "selfie.jpg", "image/jpeg", JPEG);
    for (request, category, file_name, content_type, bytes) in [
        (&seen[2], "KK", "attachment.jpg", "image/jpeg", JPEG),
        (&seen[3], "SIM", "attachment.png", "image/png", PNG),
    ] {
        let parts = parts(request).await;
        assert_eq!(
            names(&parts),
            ["fileSupport[][category]", "fileSupport[][attachment]"]
        );
        assert_eq!(text(&parts, "fileSupport[][category]"), category);
        assert_file(&parts[1], file_name, content_type, bytes);
    }
}

#[tokio::test]
async fn a_failed_item_stops_the_rest_and_earlier_items_stay_sent() {
    let stub = serve().await;
    script_reregistration(
        &stub,
        resubmitted(),
        refusal(422, "selfie", "is not a face"),
        resubmitted(),
    );
    let err = privy(&stub)
        .resubmit_signer(&full_resubmission())
        .await
        .expect_err("stopped");
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert_eq!(err.message, "selfie: is not a face");
    let paths: Vec<_> = stub.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, [REREGISTER_KTP, REREGISTER_SELFIE]);
}

#[tokio::test]
async fn a_first_item_refused_for_state_is_an_error() {
    let stub = serve().await;
    let not_invalid = refusal(422, "token", "User is not in invalid state");
    script_reregistration(&stub, not_invalid, resubmitted(), resubmitted());
    let err = privy(&stub)
        .resubmit_signer(&full_resubmission())
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert_eq!(err.message, "token: User is not in invalid state");
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn a_registration_already_waiting_again_ends_the_resubmission() {
    let stub = serve().await;
    let not_invalid = refusal(422, "token", "User is not in invalid state");
    script_reregistration(&stub, resubmitted(), not_invalid, resubmitted());
    privy(&stub)
        .resubmit_signer(&full_resubmission())
        .await
        .expect("taken with the first item");
    let paths: Vec<_> = stub.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, [REREGISTER_KTP, REREGISTER_SELFIE]);
}

#[tokio::test]
async fn unusable_resubmissions_send_nothing() {
    let stub = serve().await;
    script_reregistration(&stub, resubmitted(), resubmitted(), resubmitted());
    let privy = privy(&stub);
    let empty = Resubmission::new(user(), None, None, Vec::new());
    let bad_late_item = Resubmission::new(
        user(),
        Some(Bytes::from_static(JPEG)),
        None,
        vec![SupportingDocument::new(
            "KK".to_owned(),
            Bytes::from_static(PDF),
        )],
    );
    let no_category = Resubmission::new(
        user(),
        None,
        None,
        vec![SupportingDocument::new(
            " ".to_owned(),
            Bytes::from_static(JPEG),
        )],
    );
    let no_token = Resubmission::new(
        ProviderReference(String::new()),
        Some(Bytes::from_static(JPEG)),
        None,
        Vec::new(),
    );
    for request in [empty, bad_late_item, no_category, no_token] {
        let err = privy.resubmit_signer(&request).await.expect_err("refused");
        assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    }
    assert!(stub.seen().is_empty());
}

// ---------------------------------------------------------------------------------------
// Document upload (2.6)

#[tokio::test]
async fn an_upload_carries_owner_recipients_with_placement_and_the_pdf() {
    let stub = serve().await;
    stub.on("/v3/merchant/document/upload", vec![uploaded()]);
    let status = privy(&stub)
        .upload_document(&upload_request(true))
        .await
        .expect("uploaded");

    let seen = stub.only();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/v3/merchant/document/upload");
    assert_merchant_headers(&seen);
    let parts = parts(&seen).await;
    assert_eq!(
        names(&parts),
        [
            "documentTitle",
            "docType",
            "owner",
            "recipients",
            "document"
        ]
    );
    assert_eq!(text(&parts, "documentTitle"), "Perjanjian Kredit");
    assert_eq!(text(&parts, "docType"), "Serial");
    assert_eq!(
        json_part(&parts, "owner"),
        json!({"privyId": MERCHANT_PRIVY_ID, "enterpriseToken": ENTERPRISE_TOKEN})
    );
    assert_eq!(
        json_part(&parts, "recipients"),
        json!([
            {"privyId": SIGNER_A, "type": "Signer", "enterpriseToken": "",
             "signPage": 1, "posX": 100, "posY": 650},
            {"privyId": SIGNER_B, "type": "Signer", "enterpriseToken": "",
             "signPage": 2, "posX": 0, "posY": 40},
        ])
    );
    assert_file(
        part(&parts, "document"),
        "doc_01HZX.pdf",
        "application/pdf",
        PDF,
    );

    assert_eq!(status.provider_reference, doc());
    assert_eq!(status.state, DocumentState::Pending);
    assert_eq!(status.provider_status, "In Progress");
    assert_eq!(
        status.sign_url.as_deref(),
        Some(format!("https://sign-sandbox.privy.id/doc/{DOC_TOKEN}").as_str())
    );
    assert_eq!(
        status.signers,
        [
            DocumentSigner::new(
                SIGNER_A.to_owned(),
                SigningState::Pending,
                Some(format!(
                    "https://sign-sandbox.privy.id/sign/{DOC_TOKEN}/{SIGNER_A}"
                )),
            ),
            DocumentSigner::new(
                SIGNER_B.to_owned(),
                SigningState::Pending,
                Some(format!(
                    "https://sign-sandbox.privy.id/sign/{DOC_TOKEN}/{SIGNER_B}"
                )),
            ),
        ]
    );
    assert_eq!(status.download_url, None);
}

#[tokio::test]
async fn signers_in_any_order_make_a_parallel_document() {
    let stub = serve().await;
    stub.on("/v3/merchant/document/upload", vec![uploaded()]);
    privy(&stub)
        .upload_document(&upload_request(false))
        .await
        .expect("uploaded");
    assert_eq!(text(&parts(&stub.only()).await, "docType"), "Parallel");
}

#[tokio::test]
async fn unusable_uploads_are_refused_before_anything_is_sent() {
    let stub = serve().await;
    stub.on("/v3/merchant/document/upload", vec![uploaded()]);
    let privy = privy(&stub);
    let mut not_pdf = upload_request(false);
    not_pdf.pdf = Bytes::from_static(JPEG);
    let mut no_signers = upload_request(false);
    no_signers.signers.clear();
    let mut page_zero = upload_request(false);
    page_zero.signers[1].page = 0;
    let mut no_title = upload_request(false);
    no_title.title = " ".to_owned();
    for request in [not_pdf, no_signers, page_zero, no_title] {
        let err = privy.upload_document(&request).await.expect_err("refused");
        assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    }
    assert!(stub.seen().is_empty());
}

#[tokio::test]
async fn an_unknown_recipient_is_a_rejection_naming_the_field() {
    let stub = serve().await;
    stub.on(
        "/v3/merchant/document/upload",
        vec![refusal(422, "recipients", "Recipient CD5678 not found")],
    );
    let err = privy(&stub)
        .upload_document(&upload_request(false))
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert_eq!(err.provider_code.as_deref(), Some("422"));
    assert_eq!(err.message, "recipients: Recipient CD5678 not found");
}

// ---------------------------------------------------------------------------------------
// Document status (2.7)

fn document_path() -> String {
    format!("/v3/merchant/document/status/{DOC_TOKEN}")
}

async fn document_status_for(
    answer: Answer,
) -> Result<contracts::esign::DocumentStatus, ProviderError> {
    let stub = serve().await;
    stub.on(&document_path(), vec![answer]);
    privy(&stub).document_status(&doc()).await
}

#[tokio::test]
async fn the_document_status_is_a_get_with_the_token_in_the_path() {
    let stub = serve().await;
    let answer = document_answer(
        "In Progress",
        &[
            (SIGNER_A, "Signer", "Completed"),
            ("RV0001", "Reviewer", "In Progress"),
            (SIGNER_B, "Signer", "In Progress"),
        ],
        false,
    );
    stub.on(&document_path(), vec![answer]);
    let status = privy(&stub).document_status(&doc()).await.expect("status");
    let seen = stub.only();
    assert_eq!(seen.method, Method::GET);
    assert_eq!(seen.path, document_path());
    assert_merchant_headers(&seen);
    assert!(seen.body.is_empty());

    assert_eq!(status.provider_reference, doc());
    assert_eq!(status.state, DocumentState::Pending);
    assert_eq!(status.provider_status, "In Progress");
    assert_eq!(
        status.signers,
        [
            DocumentSigner::new(SIGNER_A.to_owned(), SigningState::Signed, None),
            DocumentSigner::new(SIGNER_B.to_owned(), SigningState::Pending, None),
        ]
    );
    assert_eq!(status.download_url, None);
}

#[tokio::test]
async fn a_completed_document_is_signed_with_its_download_url() {
    let answer = document_answer(
        "Completed",
        &[
            (SIGNER_A, "Signer", "Completed"),
            (SIGNER_B, "Signer", "Completed"),
        ],
        true,
    );
    let status = document_status_for(answer).await.expect("status");
    assert_eq!(status.state, DocumentState::Signed);
    assert_eq!(
        status.download_url.as_deref(),
        Some("https://sign-sandbox.privy.id/download/x.pdf")
    );
    assert!(
        status
            .signers
            .iter()
            .all(|s| s.state == SigningState::Signed)
    );
}

#[tokio::test]
async fn rejected_expired_and_unknown_documents_map_by_the_table() {
    let cases = [
        (
            "Rejected",
            "Rejected",
            DocumentState::Rejected { reason: None },
            SigningState::Rejected,
        ),
        (
            "Expired",
            "In Progress",
            DocumentState::Expired,
            SigningState::Pending,
        ),
        (
            "Archived",
            "Declined",
            DocumentState::Unknown,
            SigningState::Unknown,
        ),
    ];
    for (document, signatory, state, signing) in cases {
        let answer = document_answer(document, &[(SIGNER_A, "Signer", signatory)], false);
        let status = document_status_for(answer).await.expect("status");
        assert_eq!(status.state, state, "{document}");
        assert_eq!(status.signers[0].state, signing, "{signatory}");
        assert_eq!(status.provider_status, document);
    }
}

#[tokio::test]
async fn an_unknown_document_is_not_found() {
    let err = document_status_for(refusal(404, "docToken", "Document not found"))
        .await
        .expect_err("unknown");
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(err.message, "docToken: Document not found");
}

// ---------------------------------------------------------------------------------------
// Failure classification

fn raw(status: u16, body: &str) -> Answer {
    (status, body.to_owned(), Duration::ZERO)
}

#[tokio::test]
async fn each_answer_class_maps_onto_the_taxonomy_for_writes_and_reads() {
    use ErrorKind::{Conflict, NotFound, Protocol, RateLimited, Rejected, Timeout};
    use ErrorKind::{Unauthorized, Unavailable};
    let unauthorized = raw(
        401,
        r#"{"code":401,"errors":[{"field":"authorization","messages":["Invalid credentials"]}],"message":"Unauthorized"}"#,
    );
    // (answer, kind for a registration, kind for a status read)
    let cases = [
        (refusal(400, "phone", "is invalid"), Rejected, Rejected),
        (
            refusal(422, "email", "has already been taken"),
            Rejected,
            Rejected,
        ),
        (refusal(404, "token", "User not found"), NotFound, NotFound),
        (unauthorized, Unauthorized, Unauthorized),
        (
            refusal(403, "merchant", "Forbidden"),
            Unauthorized,
            Unauthorized,
        ),
        (refusal(409, "token", "Conflict"), Conflict, Conflict),
        (
            refusal(429, "rate", "Too many requests"),
            RateLimited,
            RateLimited,
        ),
        (raw(502, "<html>Bad Gateway</html>"), Timeout, Unavailable),
        (
            raw(503, r#"{"code":503,"message":"Service Unavailable"}"#),
            Unavailable,
            Unavailable,
        ),
        (raw(504, ""), Timeout, Unavailable),
        (
            raw(500, r#"{"code":500,"message":"Internal Server Error"}"#),
            Timeout,
            Unavailable,
        ),
        (raw(501, "oops"), Timeout, Unavailable),
        (raw(201, "not json"), Timeout, Unavailable),
        (
            raw(200, r#"{"code":200,"data":"nonsense"}"#),
            Timeout,
            Unavailable,
        ),
        (raw(200, r#"{"code":422,"errors":[]}"#), Protocol, Protocol),
        (raw(201, r#"{"data":{}}"#), Protocol, Protocol),
    ];
    for (answer, write, read) in cases {
        let status = answer.0;
        let stub = serve().await;
        stub.on("/v3/merchant/registration", vec![answer.clone()])
            .on("/v3/merchant/registration/status", vec![answer]);
        let privy = privy(&stub);
        let err = privy
            .register_signer(&signer_request())
            .await
            .expect_err("fails");
        assert_eq!(err.kind, write, "register, HTTP {status}: {err}");
        let err = privy.signer_status(&user()).await.expect_err("fails");
        assert_eq!(err.kind, read, "status, HTTP {status}: {err}");
        if !(200..300).contains(&status) {
            assert_eq!(err.provider_code, Some(status.to_string()));
        }
    }
}

#[tokio::test]
async fn validation_errors_name_the_first_field_and_never_echo_personal_data() {
    let stub = serve().await;
    let body = json!({"code": 422, "message": "Unprocessable Entity", "errors": [
        {"field": "identity.nik", "messages": ["must be 16 digits", "is invalid"]},
        {"field": "email", "messages": ["has already been taken"]},
    ]});
    stub.on("/v3/merchant/registration", vec![answer(422, body)]);
    let err = privy(&stub)
        .register_signer(&signer_request())
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert_eq!(err.provider_code.as_deref(), Some("422"));
    assert_eq!(err.message, "identity.nik: must be 16 digits, is invalid");
    let shown = format!("{err} {err:?}");
    for personal in [NIK, NAME, EMAIL, "081234567890"] {
        assert!(!shown.contains(personal), "{shown}");
    }
}

#[tokio::test]
async fn timeouts_are_ambiguous_for_writes_and_retryable_for_reads() {
    let stub = serve().await;
    let slow = |answer: Answer| (answer.0, answer.1, Duration::from_millis(1_500));
    stub.on("/v3/merchant/registration", vec![slow(registered())])
        .on(REREGISTER_KTP, vec![slow(resubmitted())])
        .on("/v3/merchant/document/upload", vec![slow(uploaded())])
        .on(
            "/v3/merchant/registration/status",
            vec![slow(registration_status("waiting", json!({})))],
        )
        .on(
            &document_path(),
            vec![slow(document_answer("In Progress", &[], false))],
        );
    let privy = impatient(&stub);
    let ktp_only = Resubmission::new(user(), Some(Bytes::from_static(JPEG)), None, Vec::new());
    let writes = [
        privy.register_signer(&signer_request()).await.err(),
        privy.resubmit_signer(&ktp_only).await.err(),
        privy.upload_document(&upload_request(false)).await.err(),
    ];
    for err in writes {
        let err = err.expect("timed out");
        assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
        assert!(!err.is_retryable());
    }
    let reads = [
        privy.signer_status(&user()).await.err(),
        privy.document_status(&doc()).await.err(),
    ];
    for err in reads {
        let err = err.expect("timed out");
        assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
        assert!(err.is_retryable());
    }
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_even_for_writes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let privy = adapter(config(&format!("http://{addr}"), basic()));
    let err = privy
        .register_signer(&signer_request())
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert!(err.is_retryable());
    let err = privy.document_status(&doc()).await.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unavailable);
}

#[tokio::test]
async fn a_basic_auth_refusal_is_not_sent_again() {
    let stub = serve().await;
    stub.on(
        "/v3/merchant/registration/status",
        vec![refusal(401, "authorization", "Invalid credentials")],
    );
    let err = privy(&stub)
        .signer_status(&user())
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert_eq!(stub.seen().len(), 1);
}

// ---------------------------------------------------------------------------------------
// OAuth2 client credentials

const TOKEN_PATH: &str = "/oauth/token";
const STATUS_PATH: &str = "/v3/merchant/registration/status";

fn token(access_token: &str, expires_in: u64) -> Answer {
    answer(
        200,
        json!({"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in}),
    )
}

fn oauth_privy(stub: &Stub) -> PrivyId {
    adapter(config(&stub.base_url, oauth2(stub)))
}

#[tokio::test]
async fn one_token_serves_several_calls_as_a_bearer() {
    let stub = serve().await;
    stub.on(TOKEN_PATH, vec![token("at-1", 3600)])
        .on(STATUS_PATH, vec![registration_status("waiting", json!({}))]);
    let privy = oauth_privy(&stub);
    for _ in 0..3 {
        privy.signer_status(&user()).await.expect("status");
    }
    let token_requests = stub.seen_at(TOKEN_PATH);
    assert_eq!(token_requests.len(), 1);
    let request = &token_requests[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        request.header("authorization"),
        Some(basic_header(CLIENT_ID, CLIENT_SECRET).as_str())
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.body.as_ref(),
        b"grant_type=client_credentials&scope=merchant"
    );
    let calls = stub.seen_at(STATUS_PATH);
    assert_eq!(calls.len(), 3);
    for call in calls {
        assert_eq!(call.header("authorization"), Some("Bearer at-1"));
        assert_eq!(call.header("merchant-key"), Some(MERCHANT_KEY));
    }
}

#[tokio::test]
async fn a_token_near_expiry_is_not_reused() {
    let stub = serve().await;
    stub.on(TOKEN_PATH, vec![token("at-1", 30), token("at-2", 30)])
        .on(STATUS_PATH, vec![registration_status("waiting", json!({}))]);
    let privy = oauth_privy(&stub);
    privy.signer_status(&user()).await.expect("status");
    privy.signer_status(&user()).await.expect("status");
    assert_eq!(stub.seen_at(TOKEN_PATH).len(), 2);
    let bearers: Vec<_> = stub
        .seen_at(STATUS_PATH)
        .iter()
        .map(|s| s.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(
        bearers,
        [
            Some("Bearer at-1".to_owned()),
            Some("Bearer at-2".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_refused_token_is_renewed_and_the_call_sent_once_more() {
    let stub = serve().await;
    stub.on(TOKEN_PATH, vec![token("at-1", 3600), token("at-2", 3600)])
        .on(
            STATUS_PATH,
            vec![
                refusal(401, "authorization", "Invalid credentials"),
                registration_status("waiting", json!({})),
            ],
        );
    let privy = oauth_privy(&stub);
    let status = privy.signer_status(&user()).await.expect("status");
    assert_eq!(status.state, SignerState::Pending);
    privy.signer_status(&user()).await.expect("status");
    assert_eq!(stub.seen_at(TOKEN_PATH).len(), 2);
    let bearers: Vec<_> = stub
        .seen_at(STATUS_PATH)
        .iter()
        .map(|s| s.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(
        bearers,
        [
            Some("Bearer at-1".to_owned()),
            Some("Bearer at-2".to_owned()),
            Some("Bearer at-2".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_multipart_call_is_rebuilt_for_the_second_attempt() {
    let stub = serve().await;
    stub.on(TOKEN_PATH, vec![token("at-1", 3600), token("at-2", 3600)])
        .on(
            "/v3/merchant/registration",
            vec![
                refusal(401, "authorization", "Invalid credentials"),
                registered(),
            ],
        );
    oauth_privy(&stub)
        .register_signer(&signer_request())
        .await
        .expect("registered");
    let calls = stub.seen_at("/v3/merchant/registration");
    assert_eq!(calls.len(), 2);
    let parts = parts(&calls[1]).await;
    assert_eq!(
        names(&parts),
        ["email", "phone", "identity", "selfie", "ktp"]
    );
    assert_file(part(&parts, "ktp"), "ktp.png", "image/png", PNG);
}

#[tokio::test]
async fn a_second_refusal_is_unauthorized_without_a_third_attempt() {
    let stub = serve().await;
    stub.on(TOKEN_PATH, vec![token("at-1", 3600), token("at-2", 3600)])
        .on(
            STATUS_PATH,
            vec![refusal(401, "authorization", "Invalid credentials")],
        );
    let err = oauth_privy(&stub)
        .signer_status(&user())
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert_eq!(stub.seen_at(STATUS_PATH).len(), 2);
    assert_eq!(stub.seen_at(TOKEN_PATH).len(), 2);
}

#[tokio::test]
async fn concurrent_calls_wait_for_one_token_fetch() {
    let stub = serve().await;
    let slow_token = (
        200,
        json!({"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600}).to_string(),
        Duration::from_millis(200),
    );
    stub.on(TOKEN_PATH, vec![slow_token])
        .on(STATUS_PATH, vec![registration_status("waiting", json!({}))]);
    let privy = oauth_privy(&stub);
    let reference = user();
    let (a, b, c, d) = tokio::join!(
        privy.signer_status(&reference),
        privy.signer_status(&reference),
        privy.signer_status(&reference),
        privy.signer_status(&reference),
    );
    for result in [a, b, c, d] {
        result.expect("status");
    }
    assert_eq!(stub.seen_at(TOKEN_PATH).len(), 1);
    assert_eq!(stub.seen_at(STATUS_PATH).len(), 4);
}

#[tokio::test]
async fn token_endpoint_failures_send_nothing_to_the_api() {
    let cases = [
        (
            answer(401, json!({"error": "invalid_client"})),
            ErrorKind::Unauthorized,
        ),
        (
            answer(400, json!({"error": "invalid_scope"})),
            ErrorKind::Unauthorized,
        ),
        (raw(503, ""), ErrorKind::Unavailable),
        (raw(200, "<html>login</html>"), ErrorKind::Unavailable),
        (
            answer(200, json!({"access_token": "x", "token_type": "MAC"})),
            ErrorKind::Misconfigured,
        ),
    ];
    for (token_answer, expected) in cases {
        let stub = serve().await;
        stub.on(TOKEN_PATH, vec![token_answer])
            .on("/v3/merchant/registration", vec![registered()]);
        let err = oauth_privy(&stub)
            .register_signer(&signer_request())
            .await
            .expect_err("no token");
        assert_eq!(err.kind, expected, "{err}");
        assert!(stub.seen_at("/v3/merchant/registration").is_empty());
        assert!(!err.message.contains(CLIENT_SECRET));
    }
}

// ---------------------------------------------------------------------------------------
// Callbacks (2.9)

fn offline() -> PrivyId {
    adapter(config("https://core.privy.id", basic()))
}

fn callback(method: &str, sub_path: &str, body: &str) -> InboundRequest {
    InboundRequest::new(
        method,
        sub_path,
        vec![("content-type".to_owned(), "application/json".to_owned())],
        Bytes::from(body.to_owned()),
        OffsetDateTime::now_utc(),
    )
    .with_path(format!("/v1/callbacks/privy_main/{sub_path}"))
}

fn register_callback(status: &str, message: &str) -> String {
    json!({
        "eventName": "register",
        "message": message,
        "data": {
            "privyId": SIGNER_A, "userId": 8812, "email": EMAIL, "phone": "+6281234567890",
            "processedAt": "2019-01-28 17:20:29 +0700", "userToken": USER_TOKEN,
            "status": status,
            "identity": {"nama": NAME, "nik": NIK, "tanggalLahir": "1990-05-17",
                         "tempatLahir": "Surabaya"},
            "reject": {"code": "PRVS003", "reason": "Foto KTP buram", "handlers": []},
        },
    })
    .to_string()
}

fn document_callback(event: &str, status: &str, signatories: &[&str]) -> String {
    let recipients: Vec<Value> = signatories
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"privyId": format!("AB000{i}"), "type": "Signer", "signatoryStatus": s}))
        .collect();
    json!({
        "eventName": event,
        "message": "Document Signed",
        "data": {"docToken": DOC_TOKEN, "documentStatus": status, "recipients": recipients},
    })
    .to_string()
}

async fn events_of(body: &str) -> Vec<InboundEvent> {
    let request = callback("POST", CALLBACK_TOKEN, body);
    match offline()
        .verify_and_parse(&request)
        .await
        .expect("verified")
    {
        Inbound::Events(notification) => {
            assert_eq!(notification.request_id, None);
            notification.events
        }
        other => panic!("expected events, got {other:?}"),
    }
}

#[tokio::test]
async fn a_register_callback_is_a_status_change_of_the_signer() {
    let events = events_of(&register_callback("verified", "User Verified")).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(
        event.resource,
        ResourceRef::Signer {
            provider_reference: user()
        }
    );
    assert_eq!(
        event.kind,
        EventKind::StatusChanged {
            provider_status: "verified".to_owned()
        }
    );
    assert_eq!(
        event.provider_event_id,
        format!("register:{USER_TOKEN}:verified:2019-01-28 17:20:29 +0700")
    );
    assert_eq!(
        event.payload,
        json!({"eventName": "register", "message": "User Verified",
               "data": {"userToken": USER_TOKEN, "status": "verified"}})
    );
}

#[tokio::test]
async fn the_audit_payload_carries_no_personal_data() {
    for body in [
        register_callback("invalid", "User Invalid"),
        document_callback("document-signed", "Completed", &["Completed"]),
    ] {
        let events = events_of(&body).await;
        let stored = events[0].payload.to_string();
        for personal in [
            NIK,
            NAME,
            EMAIL,
            "6281234567890",
            "1990-05-17",
            "Surabaya",
            "tanggalLahir",
        ] {
            assert!(!stored.contains(personal), "{stored}");
        }
    }
}

#[tokio::test]
async fn the_same_callback_twice_has_the_same_event_id() {
    let body = register_callback("invalid", "User Invalid");
    let first = events_of(&body).await;
    let second = events_of(&body).await;
    assert_eq!(first[0].provider_event_id, second[0].provider_event_id);
    let other = events_of(&register_callback("verified", "User Verified")).await;
    assert_ne!(first[0].provider_event_id, other[0].provider_event_id);
}

#[tokio::test]
async fn document_callbacks_are_status_changes_of_the_document() {
    let cases = [
        (
            "document-signed",
            "In Progress",
            vec!["Completed", "In Progress"],
        ),
        (
            "document-signed",
            "Completed",
            vec!["Completed", "Completed"],
        ),
        (
            "document-rejected",
            "Rejected",
            vec!["Completed", "Rejected"],
        ),
        ("document-expired", "Expired", vec!["In Progress"]),
    ];
    for (event_name, status, signatories) in cases {
        let events = events_of(&document_callback(event_name, status, &signatories)).await;
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(
            event.resource,
            ResourceRef::Document {
                provider_reference: doc()
            }
        );
        assert_eq!(
            event.kind,
            EventKind::StatusChanged {
                provider_status: status.to_owned()
            }
        );
        assert_eq!(
            event.provider_event_id,
            format!(
                "{event_name}:{DOC_TOKEN}:{status}:{}",
                signatories.join(",")
            )
        );
        assert_eq!(
            event.payload,
            json!({"eventName": event_name, "message": "Document Signed",
                   "data": {"docToken": DOC_TOKEN, "documentStatus": status}})
        );
    }
}

#[tokio::test]
async fn a_callback_with_both_tokens_is_about_the_document() {
    let body = json!({"eventName": "document-signed", "message": "Document Signed",
        "data": {"docToken": DOC_TOKEN, "userToken": USER_TOKEN, "documentStatus": "Completed",
                 "recipients": []}})
    .to_string();
    let events = events_of(&body).await;
    assert!(matches!(events[0].resource, ResourceRef::Document { .. }));
    assert_eq!(
        events[0].provider_event_id,
        format!("document-signed:{DOC_TOKEN}:Completed:")
    );
}

#[tokio::test]
async fn callbacks_about_nothing_known_are_acknowledged_without_events() {
    for body in [
        json!({"eventName": "ping", "message": "hello"}),
        json!({"eventName": "merchant-updated", "data": {"merchantId": 7}}),
        json!({"eventName": "register", "data": {"userToken": "", "status": "verified"}}),
    ] {
        assert!(events_of(&body.to_string()).await.is_empty(), "{body}");
    }
}

#[tokio::test]
async fn a_wrong_or_missing_callback_token_is_refused_with_401() {
    let privy = offline();
    let body = register_callback("verified", "User Verified");
    let mut wrong_last = CALLBACK_TOKEN.to_owned();
    wrong_last.pop();
    wrong_last.push('X');
    for sub_path in [
        "",
        wrong_last.as_str(),
        &CALLBACK_TOKEN[..CALLBACK_TOKEN.len() - 1],
        &format!("{CALLBACK_TOKEN}x"),
        &format!("{CALLBACK_TOKEN}/"),
        &CALLBACK_TOKEN.to_uppercase(),
    ] {
        let request = callback("POST", sub_path, &body);
        let err = privy.verify_and_parse(&request).await.expect_err(sub_path);
        assert_eq!(err.kind, ErrorKind::InvalidSignature, "{sub_path}");
        assert!(!err.message.contains(CALLBACK_TOKEN));
        let ack = privy.acknowledge(&request, &AckOutcome::Rejected(err));
        assert_eq!(ack.status, 401);
        assert_eq!(ack.content_type, "application/json");
        assert_eq!(
            serde_json::from_slice::<Value>(&ack.body).expect("json"),
            json!({"code": 401, "errors": [], "message": "Unauthorized"})
        );
    }
}

#[tokio::test]
async fn other_methods_and_unreadable_bodies_are_rejected_with_400() {
    let privy = offline();
    let good = register_callback("verified", "User Verified");
    let requests = [
        callback("GET", CALLBACK_TOKEN, ""),
        callback("PUT", CALLBACK_TOKEN, &good),
        callback("POST", CALLBACK_TOKEN, "not json"),
        callback("POST", CALLBACK_TOKEN, r#"{"message":"no event name"}"#),
        callback("POST", CALLBACK_TOKEN, r#"{"eventName":7}"#),
        callback(
            "POST",
            CALLBACK_TOKEN,
            r#"{"eventName":"register","data":{"userToken":5}}"#,
        ),
    ];
    for request in requests {
        let err = privy
            .verify_and_parse(&request)
            .await
            .expect_err("rejected");
        assert_eq!(err.kind, ErrorKind::Rejected, "{}", request.method);
        let ack = privy.acknowledge(&request, &AckOutcome::Rejected(err));
        assert_eq!(ack.status, 400);
        assert_eq!(
            serde_json::from_slice::<Value>(&ack.body).expect("json"),
            json!({"code": 400, "errors": [], "message": "Bad Request"})
        );
    }
}

#[test]
fn acknowledgements_are_those_privyid_expects() {
    let privy = offline();
    let request = callback("POST", CALLBACK_TOKEN, "{}");
    let ack = |outcome| {
        let ack = privy.acknowledge(&request, &outcome);
        let body: Value = serde_json::from_slice(&ack.body).expect("json");
        assert_eq!(ack.content_type, "application/json");
        (ack.status, body)
    };
    let ok = (200, json!({"code": 200, "message": "OK"}));
    assert_eq!(ack(AckOutcome::Accepted), ok);
    assert_eq!(ack(AckOutcome::Replayed), ok);
    assert_eq!(
        ack(AckOutcome::RetryLater),
        (503, json!({"code": 503, "message": "Try again later"}))
    );
    assert_eq!(
        ack(AckOutcome::Refused(
            contracts::inbound::Refusal::UnknownBill
        )),
        ok
    );
    assert_eq!(privy.trust(), Trust::ConfirmByInquiry);
}

// ---------------------------------------------------------------------------------------
// Construction

#[test]
fn debug_and_serialized_config_show_no_secret() {
    let secrets = [
        MERCHANT_KEY,
        PASSWORD,
        CLIENT_SECRET,
        ENTERPRISE_TOKEN,
        CALLBACK_TOKEN,
    ];
    let stub = Stub {
        base_url: "http://127.0.0.1:9".to_owned(),
        ..Stub::default()
    };
    for auth in [basic(), oauth2(&stub)] {
        let config = config("https://core.privy.id", auth);
        let privy = adapter(config.clone());
        let capabilities = adapter(config.clone()).capabilities();
        let shown = format!(
            "{privy:?} {config:?} {:?} {:?} {}",
            capabilities.esign,
            capabilities.inbound,
            serde_json::to_string(&config).expect("serializes"),
        );
        for secret in secrets {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("core.privy.id"), "{shown}");
    }
    let shown = format!("{:?}", signer_request());
    assert!(!shown.contains(NIK) && !shown.contains(NAME) && !shown.contains("0812"));
}

#[test]
fn capabilities_offer_esign_and_inbound() {
    let capabilities = offline().capabilities();
    assert!(capabilities.esign.is_some());
    assert!(capabilities.inbound.is_some());
    assert!(capabilities.payments.is_none());
    assert!(capabilities.messaging.is_none());
}

#[test]
fn an_invalid_config_is_refused_at_construction() {
    let mut short_token = config("https://core.privy.id", basic());
    short_token.callback_token = SecretString::from("short");
    let mut no_key = config("https://core.privy.id", basic());
    no_key.merchant_key = SecretString::from("");
    for config in [short_token, no_key] {
        let err = PrivyId::new(config, reqwest::Client::new()).expect_err("invalid");
        let err = ProviderError::from(err);
        assert_eq!(err.kind, ErrorKind::Misconfigured);
    }
}
