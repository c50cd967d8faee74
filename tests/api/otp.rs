//! One-time passwords over the WhatsApp simulator: the happy path, wrong codes counting
//! down, the locked sixth attempt, expiry, one-time use, the resend cooldown (same code),
//! send caps, and concurrent checks of one code.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

const PHONE: &str = "+6281234567890";

async fn start(app: &TestApp, recipient: &str) -> (u16, Value) {
    app.post(
        "demo",
        "/v1/otp",
        &json!({"recipient": recipient, "purpose": "login", "channel": "whatsapp"}),
    )
    .await
}

async fn check(app: &TestApp, id: &str, code: &str) -> (u16, Value) {
    app.post(
        "demo",
        &format!("/v1/otp/{id}/verify"),
        &json!({ "code": code }),
    )
    .await
}

fn wrong(code: &str) -> String {
    let n: u32 = code.parse().expect("digits");
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn a_code_verifies_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, otp) = start(&app, PHONE).await;
    assert_eq!(status, 201, "{otp}");
    assert!(otp.get("code").is_none(), "the code is never in an answer");
    let id = otp["id"].as_str().expect("id");
    let code = app.whatsapp.last_code_for(PHONE).expect("delivered");
    assert_eq!(code.len(), 6);
    let (status, body) = check(&app, id, &code).await;
    assert_eq!((status, body["verified"].clone()), (200, json!(true)));
    let (status, body) = check(&app, id, &code).await;
    assert_eq!(status, 410, "used once: {body}");
    assert_eq!(body["code"], "otp_expired");
    // The code is not in the database in any form a reader could use.
    let stored: i64 = app
        .count(
            "SELECT COUNT(*) FROM otps WHERE id = $1 AND seed <> '' AND code_hash <> ''",
            id,
        )
        .await;
    assert_eq!(stored, 1);
    let plain = app
        .count(
            "SELECT COUNT(*) FROM otps WHERE code_hash LIKE '%' || $1 || '%' OR seed LIKE '%' || $1 || '%'",
            &code,
        )
        .await;
    assert_eq!(plain, 0);
}
on_both_backends!(a_code_verifies_once);

async fn wrong_codes_count_down_and_the_sixth_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, otp) = start(&app, PHONE).await;
    let id = otp["id"].as_str().expect("id");
    let code = app.whatsapp.last_code_for(PHONE).expect("delivered");
    for left in (0..5).rev() {
        let (status, body) = check(&app, id, &wrong(&code)).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["code"], "invalid_code");
        assert_eq!(body["attempts_left"], left);
    }
    let (status, body) = check(&app, id, &code).await;
    assert_eq!(status, 429, "even the right code: {body}");
    assert_eq!(body["code"], "too_many_attempts");
}
on_both_backends!(wrong_codes_count_down_and_the_sixth_is_refused);

async fn expired_codes_and_the_resend_cooldown(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, otp) = start(&app, PHONE).await;
    let id = otp["id"].as_str().expect("id").to_owned();
    let code = app.whatsapp.last_code_for(PHONE).expect("delivered");
    let path = format!("/v1/otp/{id}/resend");
    let (status, body) = app.post("demo", &path, &json!({})).await;
    assert_eq!(status, 429, "too early: {body}");
    // Past the cooldown: the same code is sent again.
    sqlx::query("UPDATE otps SET resend_after = 0 WHERE id = $1")
        .bind(&id)
        .execute(app.state.db().pool())
        .await
        .expect("update");
    let (status, body) = app.post("demo", &path, &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.whatsapp.messages().len(), 2);
    assert_eq!(
        app.whatsapp.last_code_for(PHONE).as_deref(),
        Some(code.as_str())
    );
    // Past its lifetime: refused, right or not.
    sqlx::query("UPDATE otps SET expires_at = 0 WHERE id = $1")
        .bind(&id)
        .execute(app.state.db().pool())
        .await
        .expect("update");
    let (status, body) = check(&app, &id, &code).await;
    assert_eq!(status, 410, "{body}");
    let (status, _) = app.post("demo", &path, &json!({})).await;
    assert_eq!(status, 410);
}
on_both_backends!(expired_codes_and_the_resend_cooldown);

async fn sends_to_one_number_are_capped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for _ in 0..5 {
        let (status, _) = start(&app, PHONE).await;
        assert_eq!(status, 201);
    }
    let (status, body) = start(&app, PHONE).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "too_many_requests");
    assert_eq!(app.whatsapp.messages().len(), 5, "the sixth was not sent");
    let (status, _) = start(&app, "+6281299998888").await;
    assert_eq!(status, 201, "another number is not affected");
}
on_both_backends!(sends_to_one_number_are_capped);

async fn concurrent_checks_of_one_code_succeed_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, otp) = start(&app, PHONE).await;
    let id = otp["id"].as_str().expect("id");
    let code = app.whatsapp.last_code_for(PHONE).expect("delivered");
    let checks = (0..8).map(|_| check(&app, id, &code));
    let results = futures::future::join_all(checks).await;
    let verified = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(verified, 1, "{results:?}");
    assert!(
        results.iter().all(|(s, _)| *s == 200 || *s == 410),
        "{results:?}"
    );
}
on_both_backends!(concurrent_checks_of_one_code_succeed_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otp_requests_are_validated_and_scoped() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, body) = app
        .post(
            "demo",
            "/v1/otp",
            &json!({"recipient": "123", "purpose": "nope", "channel": "sms"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(3), "{body}");
    let (_, otp) = start(&app, PHONE).await;
    let id = otp["id"].as_str().expect("id");
    let (status, _) = app
        .post(
            "demo2",
            &format!("/v1/otp/{id}/verify"),
            &json!({"code": "000000"}),
        )
        .await;
    assert_eq!(status, 404, "another client's OTP does not exist for it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_links_open_a_prefilled_chat() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, link) = app
        .post(
            "demo",
            "/v1/support-links",
            &json!({"topic": "payment", "name": "Budi *Santoso*"}),
        )
        .await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(
        link["text"],
        "Halo, saya *Budi Santoso* butuh bantuan tentang pembayaran."
    );
    assert_eq!(
        link["url"],
        "https://wa.me/6281100000000?text=Halo%2C%20saya%20*Budi%20Santoso*%20butuh%20bantuan%20tentang%20pembayaran."
    );
    let (status, problem) = app
        .post(
            "demo",
            "/v1/support-links",
            &json!({"topic": "nothing", "name": ""}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(2));
}

async fn start_for(app: &TestApp, recipient: &str, purpose: &str) -> (u16, Value) {
    app.post(
        "demo",
        "/v1/otp",
        &json!({"recipient": recipient, "purpose": purpose, "channel": "whatsapp"}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_per_purpose_country_and_daily_failures() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // Numbers outside the allowed countries (+62 by default) get no code.
    let (status, body) = start_for(&app, "+14155550100", "login").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "recipient");
    // A purpose's own limit: two checks.
    let (_, otp) = start_for(&app, PHONE, "quick").await;
    let id = otp["id"].as_str().expect("id");
    let code = app.whatsapp.last_code_for(PHONE).expect("delivered");
    let (_, body) = check(&app, id, &wrong(&code)).await;
    assert_eq!(body["attempts_left"], 1);
    let (_, body) = check(&app, id, &wrong(&code)).await;
    assert_eq!(body["attempts_left"], 0);
    let (status, _) = check(&app, id, &code).await;
    assert_eq!(status, 429);
    // The provider refusing the message is not told to the caller (it would say whether
    // the number has WhatsApp): the same answer as a delivered code.
    let before = app.whatsapp.messages().len();
    let (status, body) = start_for(&app, "+6281277776666", "broken").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.whatsapp.messages().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_with_too_many_wrong_codes_today_gets_no_more() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // 4 codes × 5 wrong checks = 20 failures, the daily cap.
    for _ in 0..4 {
        let (_, otp) = start_for(&app, PHONE, "login").await;
        let id = otp["id"].as_str().expect("id").to_owned();
        let code = app.whatsapp.last_code_for(PHONE).expect("delivered");
        for _ in 0..5 {
            check(&app, &id, &wrong(&code)).await;
        }
    }
    let (status, body) = start_for(&app, PHONE, "login").await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("today")),
        "{body}"
    );
}
