//! E-signature end to end through the PrivyID simulator: signers verified by polling alone,
//! invalid → resubmitted → verified, rejected with reasons, forged callbacks changing
//! nothing, a document signed by two signers, other clients seeing nothing, bad input never
//! reaching the provider, an ambiguous registration never sent twice, identities sealed at
//! rest.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mocks::privyid::{CallbackPolicy, Handler};
use mocks::{Fault, FaultRule};
use serde_json::{Value, json};

use crate::helpers::{Backend, Options, PRIVY_CALLBACK_TOKEN, TestApp};
use crate::on_both_backends;

/// A JPEG as far as magic bytes go.
fn jpeg() -> String {
    STANDARD.encode([
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1,
    ])
}

fn pdf() -> String {
    STANDARD.encode(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
}

/// NIK of a man born 12 May 1990 in Jakarta Selatan, serial `serial`.
fn signer_body(reference: &str, serial: u32, email: &str) -> Value {
    json!({
        "reference": reference,
        "nik": format!("31710112059{:05}", serial),
        "name": "Budi Santoso",
        "email": email,
        "phone": "+6281234567890",
        "birth_date": "1990-05-12",
        "selfie": jpeg(),
        "ktp_image": jpeg(),
    })
}

async fn register(app: &TestApp, reference: &str, serial: u32, email: &str) -> Value {
    let (status, body) = app
        .post(
            "demo",
            "/v1/esign/signers",
            &signer_body(reference, serial, email),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending_verification");
    body
}

async fn user_token(app: &TestApp, signer: &str) -> String {
    sqlx::query_scalar::<_, String>("SELECT provider_reference FROM esign_signers WHERE id = $1")
        .bind(signer)
        .fetch_one(app.state.db().pool())
        .await
        .expect("the signer has the provider's token")
}

async fn signer_reaches(app: &TestApp, id: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = app
            .get_json("demo", &format!("/v1/esign/signers/{id}"))
            .await;
        if last["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("signer {id} never reached {status}: {last}");
}

async fn document_where(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = app
            .get_json("demo", &format!("/v1/esign/documents/{id}"))
            .await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("document {id} never got there: {last}");
}

async fn verified_signer(app: &TestApp, reference: &str, serial: u32, email: &str) -> String {
    let signer = register(app, reference, serial, email).await;
    let id = signer["id"].as_str().expect("id").to_owned();
    app.privyid
        .verify(&user_token(app, &id).await)
        .await
        .expect("verified at the provider");
    signer_reaches(app, &id, "verified").await;
    id
}

/// Personal data of the test signers, as sent and as it would be formatted.
const PERSONAL: [&str; 5] = [
    "3171011205900001",
    "Budi Santoso",
    "6281234567890",
    "81234567890",
    "budi@example.com",
];

async fn verified_by_polling_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.privyid.set_callback_policy(CallbackPolicy::Never);
    let signer = register(&app, "BORROWER-1", 1, "budi@example.com").await;
    let id = signer["id"].as_str().expect("id");
    assert_eq!(signer["provider"], "privyid_main");
    // Returned to the owner masked.
    assert_eq!(signer["identity"]["nik"], "3171**********01");
    assert_eq!(signer["identity"]["phone"], "+62812****7890");
    assert_eq!(signer["identity"]["name"], "Budi Santoso");
    assert_eq!(app.privyid.users().len(), 1);
    // Sealed at rest: neither the identity column nor the fingerprint shows the NIK.
    let (identity, fingerprint): (String, String) =
        sqlx::query_as("SELECT identity, nik_fingerprint FROM esign_signers WHERE id = $1")
            .bind(id)
            .fetch_one(app.state.db().pool())
            .await
            .expect("row");
    for clear in PERSONAL {
        assert!(
            !identity.contains(clear) && !fingerprint.contains(clear),
            "{clear} stored in clear"
        );
    }
    let posted = app
        .privyid
        .verify(&user_token(&app, id).await)
        .await
        .expect("verify");
    assert!(posted.is_empty(), "no callback is posted: {posted:?}");
    let verified = signer_reaches(&app, id, "verified").await;
    assert!(verified["decided_at"].is_string());
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id) == vec!["esign.signer.verified".to_owned()]
        })
        .await,
        "{:?}",
        app.event_types_for(id)
    );
    let event = app
        .receiver
        .received()
        .into_iter()
        .find(|e| e.body["data"]["id"] == id)
        .expect("event");
    let payload = event.body.to_string();
    for clear in PERSONAL {
        assert!(!payload.contains(clear), "{clear} in the event: {payload}");
    }
}
on_both_backends!(verified_by_polling_alone);

async fn invalid_then_resubmitted_then_verified(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let signer = register(&app, "BORROWER-2", 2, "sari@example.com").await;
    let id = signer["id"].as_str().expect("id");
    let token = user_token(&app, id).await;
    // Nothing to resubmit while pending.
    let resubmission = json!({ "ktp_image": jpeg(), "selfie": jpeg() });
    let path = format!("/v1/esign/signers/{id}/resubmissions");
    let (status, body) = app.post("demo", &path, &resubmission).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("signer_not_invalid")),
        "{body}"
    );
    app.privyid
        .invalidate(&token, &[Handler::Ktp, Handler::Selfie])
        .await
        .expect("invalidate");
    let invalid = signer_reaches(&app, id, "invalid").await;
    let items: Vec<&str> = invalid["resubmit"]
        .as_array()
        .expect("resubmit")
        .iter()
        .filter_map(|r| r["item"].as_str())
        .collect();
    assert_eq!(items, ["ktp_image", "selfie"], "{invalid}");
    assert!(invalid["reason_code"].is_string(), "{invalid}");
    let (status, body) = app.post("demo", &path, &resubmission).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "pending_verification");
    assert!(body["resubmit"].is_null(), "{body}");
    app.privyid.verify(&token).await.expect("verify");
    signer_reaches(&app, id, "verified").await;
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id)
                == vec![
                    "esign.signer.invalid".to_owned(),
                    "esign.signer.verified".to_owned(),
                ]
        })
        .await,
        "{:?}",
        app.event_types_for(id)
    );
}
on_both_backends!(invalid_then_resubmitted_then_verified);

async fn rejected_with_reasons_is_final(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let signer = register(&app, "BORROWER-3", 3, "rudi@example.com").await;
    let id = signer["id"].as_str().expect("id");
    let token = user_token(&app, id).await;
    app.privyid
        .reject(&token, "NIK is not in the family card")
        .await
        .expect("reject");
    let rejected = signer_reaches(&app, id, "rejected").await;
    assert!(
        rejected["reason"]
            .as_str()
            .is_some_and(|r| r.contains("NIK is not in the family card")),
        "{rejected}"
    );
    assert!(rejected["resubmit"].is_null(), "{rejected}");
    let (status, body) = app
        .post(
            "demo",
            &format!("/v1/esign/signers/{id}/resubmissions"),
            &json!({ "selfie": jpeg() }),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id) == vec!["esign.signer.rejected".to_owned()]
        })
        .await
    );
    // A rejected NIK may register again under a new reference.
    let (status, body) = app
        .post(
            "demo",
            "/v1/esign/signers",
            &signer_body("BORROWER-3b", 3, "rudi2@example.com"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}
on_both_backends!(rejected_with_reasons_is_final);

async fn forged_callbacks_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let signer = register(&app, "BORROWER-4", 4, "eka@example.com").await;
    let id = signer["id"].as_str().expect("id");
    let token = user_token(&app, id).await;
    let claim = json!({
        "eventName": "register",
        "message": "User Verified",
        "data": {
            "privyId": "ZZ9999", "userToken": token, "status": "verified",
            "email": "eka@example.com", "phone": "+6281234567890",
            "processedAt": "2026-11-22 10:00:00 +0700",
        },
    });
    let url = |segment: &str| format!("{}/v1/callbacks/privyid_main/{segment}", app.base_url);
    const STORED: &str = "SELECT COUNT(*) FROM provider_events WHERE provider = $1";
    let stored_before = app.count(STORED, "privyid_main").await;
    // Without the callback token: refused in PrivyID's format, nothing stored.
    let refused = app
        .http
        .post(url("not-the-token"))
        .json(&claim)
        .send()
        .await
        .expect("send");
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["code"], 401);
    assert_eq!(app.count(STORED, "privyid_main").await, stored_before);
    // With the token (it leaked, or PrivyID is wrong): acknowledged and stored, but the
    // status inquiry says `waiting`, so the signer stays pending.
    let accepted = app
        .http
        .post(url(PRIVY_CALLBACK_TOKEN))
        .json(&claim)
        .send()
        .await
        .expect("send");
    assert_eq!(accepted.status(), 200);
    let before = app.privyid.calls("registration_status");
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.privyid.calls("registration_status") > before
        })
        .await,
        "the callback brought a status inquiry"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = app
        .get_json("demo", &format!("/v1/esign/signers/{id}"))
        .await;
    assert_eq!(still["status"], "pending_verification", "{still}");
    assert!(app.event_types_for(id).is_empty());
    assert_eq!(app.count(STORED, "privyid_main").await, stored_before + 1);
    // The same callback again: acknowledged, nothing new stored.
    let again = app
        .http
        .post(url(PRIVY_CALLBACK_TOKEN))
        .json(&claim)
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), 200);
    assert_eq!(app.count(STORED, "privyid_main").await, stored_before + 1);
    // Genuine callbacks posted twice: stored once.
    app.privyid.set_callback_policy(CallbackPolicy::Twice);
    let posted = app.privyid.verify(&token).await.expect("verify");
    assert_eq!(posted.len(), 2);
    assert!(posted.iter().all(|p| p.status == 200), "{posted:?}");
    signer_reaches(&app, id, "verified").await;
    assert_eq!(app.count(STORED, "privyid_main").await, stored_before + 2);
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id) == vec!["esign.signer.verified".to_owned()]
        })
        .await
    );
}
on_both_backends!(forged_callbacks_change_nothing);

async fn document_signed_by_two_signers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let borrower = verified_signer(&app, "BORROWER-5", 5, "borrower@example.com").await;
    let lender = verified_signer(&app, "LENDER-5", 6, "lender@example.com").await;
    let pending = register(&app, "BORROWER-6", 7, "late@example.com").await;
    // An unverified signer cannot be named: nothing is uploaded.
    let (status, body) = app
        .post(
            "demo",
            "/v1/esign/documents",
            &json!({
                "reference": "LOAN-0", "title": "Loan agreement", "pdf": pdf(),
                "signers": [{"signer_id": pending["id"], "page": 1, "x": 10, "y": 10}],
            }),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation_failed")),
        "{body}"
    );
    assert_eq!(app.privyid.documents().len(), 0);
    let (status, document) = app
        .post(
            "demo",
            "/v1/esign/documents",
            &json!({
                "reference": "LOAN-1",
                "title": "Loan agreement LOAN-1",
                "pdf": pdf(),
                "signers": [
                    {"signer_id": borrower, "page": 3, "x": 100, "y": 620},
                    {"signer_id": lender, "page": 3, "x": 360, "y": 620},
                ],
            }),
        )
        .await;
    assert_eq!(status, 201, "{document}");
    assert_eq!(document["status"], "pending");
    assert!(document["sign_url"].is_string(), "{document}");
    let signers = document["signers"].as_array().expect("signers");
    assert_eq!(signers.len(), 2);
    assert!(
        signers
            .iter()
            .all(|s| s["status"] == "pending" && s["sign_url"].is_string())
    );
    let id = document["id"].as_str().expect("id");
    let held = app.privyid.documents();
    assert_eq!(held.len(), 1);
    let doc_token = held[0].doc_token.clone();
    let privy_ids: Vec<String> = held[0]
        .recipients
        .iter()
        .map(|r| r.privy_id.clone())
        .collect();
    app.privyid
        .sign(&doc_token, &privy_ids[0])
        .await
        .expect("first signature");
    let half = document_where(&app, id, |d| d["signers"][0]["status"] == "signed").await;
    assert_eq!(half["status"], "pending", "{half}");
    assert_eq!(half["signers"][1]["status"], "pending", "{half}");
    assert!(app.event_types_for(id).is_empty());
    app.privyid
        .sign(&doc_token, &privy_ids[1])
        .await
        .expect("second signature");
    let signed = document_where(&app, id, |d| d["status"] == "signed").await;
    assert!(signed["download_url"].is_string(), "{signed}");
    assert!(signed["completed_at"].is_string(), "{signed}");
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id) == vec!["esign.document.signed".to_owned()]
        })
        .await,
        "{:?}",
        app.event_types_for(id)
    );
    // The reference is the product's: a second upload with it is refused.
    let (status, body) = app
        .post(
            "demo",
            "/v1/esign/documents",
            &json!({
                "reference": "LOAN-1", "title": "Again", "pdf": pdf(),
                "signers": [{"signer_id": borrower, "page": 1, "x": 1, "y": 1}],
            }),
        )
        .await;
    assert_eq!((status, body["id"].as_str()), (409, Some(id)), "{body}");
    assert_eq!(app.privyid.documents().len(), 1);
}
on_both_backends!(document_signed_by_two_signers);

async fn another_client_sees_and_uses_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let signer = verified_signer(&app, "BORROWER-7", 8, "dewi@example.com").await;
    let (status, _) = app
        .post(
            "demo",
            "/v1/esign/documents",
            &json!({
                "reference": "LOAN-7", "title": "Loan", "pdf": pdf(),
                "signers": [{"signer_id": signer, "page": 1, "x": 1, "y": 1}],
            }),
        )
        .await;
    assert_eq!(status, 201);
    let document = app
        .get_json("demo", "/v1/esign/documents?reference=LOAN-7")
        .await["data"][0]["id"]
        .as_str()
        .expect("listed")
        .to_owned();
    for path in [
        format!("/v1/esign/signers/{signer}"),
        format!("/v1/esign/documents/{document}"),
    ] {
        let response = app
            .signed("demo2", "GET", &path, None)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 404, "{path}");
    }
    for path in ["/v1/esign/signers", "/v1/esign/documents"] {
        let list = app.get_json("demo2", path).await;
        assert_eq!(list["data"], json!([]), "{path}: {list}");
    }
    let (status, body) = app
        .post(
            "demo2",
            "/v1/esign/documents",
            &json!({
                "reference": "STEAL-1", "title": "Not yours", "pdf": pdf(),
                "signers": [{"signer_id": signer, "page": 1, "x": 1, "y": 1}],
            }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["message"], "no such signer", "{body}");
    let (status, body) = app
        .post(
            "demo2",
            &format!("/v1/esign/signers/{signer}/resubmissions"),
            &json!({ "selfie": jpeg() }),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(app.privyid.documents().len(), 1);
}
on_both_backends!(another_client_sees_and_uses_nothing);

async fn bad_input_never_reaches_the_provider(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = signer_body("BAD-1", 10, "bad@example.com");
    body["nik"] = json!("3171011205900010");
    body["birth_date"] = json!("1991-05-12");
    body["phone"] = json!("+6521234567");
    body["selfie"] = json!(STANDARD.encode(b"GIF89a not a photo"));
    body["ktp_image"] =
        json!(STANDARD.encode([[0xFF_u8, 0xD8, 0xFF].as_slice(), &vec![0u8; 70 * 1024]].concat()));
    let (status, problem) = app.post("demo", "/v1/esign/signers", &body).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["nik", "phone", "selfie", "ktp_image"], "{problem}");
    let text = problem.to_string();
    assert!(
        !text.contains("3171011205900010") && !text.contains("1234567"),
        "{text}"
    );
    // A well-formed NIK that is not a date of birth.
    let mut body = signer_body("BAD-2", 11, "bad2@example.com");
    body["nik"] = json!("3171014513900011");
    let (status, problem) = app.post("demo", "/v1/esign/signers", &body).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "nik");
    // A PDF that is not one.
    let (status, problem) = app
        .post(
            "demo",
            "/v1/esign/documents",
            &json!({
                "reference": "BAD-DOC", "title": "x", "pdf": jpeg(),
                "signers": [{"signer_id": "sgn_nobody", "page": 0, "x": 1, "y": 1}],
            }),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(app.privyid.calls("registration"), 0);
    assert_eq!(app.privyid.calls("document_upload"), 0);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM esign_signers WHERE client_id <> $1",
            ""
        )
        .await,
        0
    );
}
on_both_backends!(bad_input_never_reaches_the_provider);

async fn a_client_without_esign_is_forbidden(backend: Backend) {
    let mut options = Options::new(backend);
    options.demo2_esign = false;
    let app = TestApp::spawn_with(options).await;
    let (status, problem) = app
        .post(
            "demo2",
            "/v1/esign/signers",
            &signer_body("NOPE-1", 12, "nope@example.com"),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("esign_not_enabled")),
        "{problem}"
    );
    let response = app
        .signed("demo2", "GET", "/v1/esign/documents", None)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 403);
    assert_eq!(app.privyid.calls("registration"), 0);
}
on_both_backends!(a_client_without_esign_is_forbidden);

async fn an_ambiguous_registration_is_never_sent_again(backend: Backend) {
    let mut options = Options::new(backend);
    options.provider_timeout_ms = 500;
    let app = TestApp::spawn_with(options).await;
    app.privyid.faults().push(FaultRule::once(
        "registration",
        Fault::HangAfterEffect { ms: 1_500 },
    ));
    let body = signer_body("SLOW-1", 13, "slow@example.com");
    let (status, problem) = app.post("demo", "/v1/esign/signers", &body).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (504, Some("provider_timeout")),
        "{problem}"
    );
    let id = problem["id"].as_str().expect("id");
    let signer = app
        .get_json("demo", &format!("/v1/esign/signers/{id}"))
        .await;
    assert_eq!(signer["status"], "pending_verification");
    assert_eq!(signer["flags"], json!(["registration_outcome_unknown"]));
    // The product retries: same reference → the same signer, nothing sent.
    let (status, again) = app.post("demo", "/v1/esign/signers", &body).await;
    assert_eq!((status, again["id"].as_str()), (409, Some(id)), "{again}");
    // Same person, new reference → refused as the same NIK, nothing sent.
    let (status, again) = app
        .post(
            "demo",
            "/v1/esign/signers",
            &signer_body("SLOW-2", 13, "slow@example.com"),
        )
        .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("signer_exists")),
        "{again}"
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(app.privyid.calls("registration"), 1);
    assert_eq!(app.privyid.users().len(), 1);
}
on_both_backends!(an_ambiguous_registration_is_never_sent_again);

async fn replayed_creation_returns_the_first_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = signer_body("IDEM-1", 14, "idem@example.com");
    let send = || async {
        app.signed("demo", "POST", "/v1/esign/signers", Some(&body))
            .header("Idempotency-Key", "esign-idem-1")
            .send()
            .await
            .expect("send")
    };
    let first = send().await;
    assert_eq!(first.status(), 201);
    let first_body = first.text().await.expect("body");
    let second = send().await;
    assert_eq!(second.status(), 201);
    assert_eq!(
        second
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(second.text().await.expect("body"), first_body);
    assert_eq!(app.privyid.calls("registration"), 1);
}
on_both_backends!(replayed_creation_returns_the_first_answer);

async fn a_refused_document_is_rejected_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let signer = verified_signer(&app, "BORROWER-9", 15, "tono@example.com").await;
    let (status, document) = app
        .post(
            "demo",
            "/v1/esign/documents",
            &json!({
                "reference": "LOAN-9", "title": "Loan agreement", "pdf": pdf(),
                "signers": [{"signer_id": signer, "page": 1, "x": 1, "y": 1}],
            }),
        )
        .await;
    assert_eq!(status, 201, "{document}");
    let id = document["id"].as_str().expect("id");
    let held = app.privyid.documents();
    app.privyid
        .reject_document(&held[0].doc_token, &held[0].recipients[0].privy_id)
        .await
        .expect("refused");
    let rejected = document_where(&app, id, |d| d["status"] == "rejected").await;
    assert_eq!(rejected["signers"][0]["status"], "rejected", "{rejected}");
    assert!(rejected["download_url"].is_null(), "{rejected}");
    assert!(
        app.eventually(Duration::from_secs(10), || async {
            app.event_types_for(id) == vec!["esign.document.rejected".to_owned()]
        })
        .await,
        "{:?}",
        app.event_types_for(id)
    );
}
on_both_backends!(a_refused_document_is_rejected_once);

async fn identities_are_erased_after_the_retention(backend: Backend) {
    let mut options = Options::new(backend);
    options.identity_retention_days = 0;
    let app = TestApp::spawn_with(options).await;
    let pending = register(&app, "BORROWER-10", 16, "wati@example.com").await;
    let verified = verified_signer(&app, "BORROWER-11", 17, "joko@example.com").await;
    gateway::service::esign::erase_expired_identities(&app.state)
        .await
        .expect("erased");
    let kept = app
        .get_json(
            "demo",
            &format!("/v1/esign/signers/{}", pending["id"].as_str().expect("id")),
        )
        .await;
    assert!(
        kept["identity"].is_object(),
        "an undecided signer keeps it: {kept}"
    );
    let erased = app
        .get_json("demo", &format!("/v1/esign/signers/{verified}"))
        .await;
    assert!(erased["identity"].is_null(), "{erased}");
    assert_eq!(erased["status"], "verified");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM esign_signers WHERE identity IS NULL AND id = $1",
            &verified
        )
        .await,
        1
    );
}
on_both_backends!(identities_are_erased_after_the_retention);
