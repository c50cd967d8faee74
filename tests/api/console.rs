//! The operations console's login and roles: password then a WhatsApp code from the
//! gateway's own OTP service, HttpOnly SameSite cookies, CSRF on every form, lockout after
//! wrong attempts, logout that ends the session server-side, admin pages refused to staff,
//! and the audit log.

use gateway::console::accounts::{self, Role};
use mocks::server::any_local_port;
use reqwest::redirect::Policy;
use tokio::net::TcpListener;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

const ADMIN: (&str, &str, &str) = ("ops-admin", "admin-password-0001", "+6281100000001");
const STAFF: (&str, &str, &str) = ("ops-staff", "staff-password-0002", "+6281100000002");

struct Console {
    base: String,
    http: reqwest::Client,
}

async fn console(app: &TestApp) -> Console {
    let mut conn = app.state.db().pool().acquire().await.expect("conn");
    accounts::create(&mut conn, ADMIN.0, ADMIN.1, Role::Admin, ADMIN.2)
        .await
        .expect("admin");
    accounts::create(&mut conn, STAFF.0, STAFF.1, Role::Staff, STAFF.2)
        .await
        .expect("staff");
    let listener = TcpListener::bind(any_local_port()).await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(gateway::App::serve_console(
        app.state.clone(),
        listener,
        std::future::pending(),
    ));
    Console {
        base,
        http: reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .expect("client"),
    }
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).expect("form")
}

fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().expect("value").to_owned()
}

fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn value_of(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

impl Console {
    /// Opens the login page: (its csrf, the login cookie).
    async fn login_page(&self) -> (String, String) {
        let response = self
            .http
            .get(format!("{}/console/login", self.base))
            .send()
            .await
            .expect("send");
        let cookie = value_of(&set_cookie(&response, "gw_console_login").expect("login cookie"));
        let html = response.text().await.expect("html");
        (csrf_in(&html), cookie)
    }

    async fn password(&self, user: &str, password: &str) -> reqwest::Response {
        let (csrf, cookie) = self.login_page().await;
        self.http
            .post(format!("{}/console/login", self.base))
            .header("cookie", format!("gw_console_login={cookie}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&[
                ("username", user),
                ("password", password),
                ("csrf", &csrf),
            ]))
            .send()
            .await
            .expect("send")
    }

    async fn get(&self, path: &str, session: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("gw_console={session}"))
            .send()
            .await
            .expect("send")
    }

    async fn post(&self, path: &str, session: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("gw_console={session}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(form))
            .send()
            .await
            .expect("send")
    }

    /// Logs in with both factors; returns the session cookie's value.
    async fn log_in(&self, app: &TestApp, who: (&str, &str, &str)) -> String {
        let response = self.password(who.0, who.1).await;
        assert_eq!(response.status(), 303);
        let pending = value_of(&set_cookie(&response, "gw_console").expect("pending session"));
        let page = self
            .get("/console/login/code", &pending)
            .await
            .text()
            .await
            .expect("html");
        let code = app
            .whatsapp
            .last_code_for(&who.2[1..])
            .expect("a code sent over WhatsApp");
        let response = self
            .post(
                "/console/login/code",
                &pending,
                &[("code", &code), ("csrf", &csrf_in(&page))],
            )
            .await;
        assert_eq!(response.status(), 303, "code accepted");
        let session = value_of(&set_cookie(&response, "gw_console").expect("session"));
        assert_ne!(session, pending, "a new token once logged in");
        session
    }
}

async fn two_factor_login_and_logout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let console = console(&app).await;
    // Not logged in: sent to the login page.
    let response = console.get("/console", "nothing").await;
    assert_eq!(response.status(), 303);
    // A wrong password and an unknown user get the same answer.
    let wrong = console.password(ADMIN.0, "not-the-password").await;
    assert_eq!(wrong.status(), 401);
    let wrong_text = wrong.text().await.expect("html");
    let unknown = console.password("nobody", "not-the-password").await;
    assert_eq!(unknown.status(), 401);
    assert!(wrong_text.contains("Wrong username or password"));
    assert!(
        unknown
            .text()
            .await
            .expect("html")
            .contains("Wrong username or password")
    );
    // A post without the login form's token is refused.
    let forged = console
        .http
        .post(format!("{}/console/login", console.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("username", ADMIN.0),
            ("password", ADMIN.1),
            ("csrf", "x"),
        ]))
        .send()
        .await
        .expect("send");
    assert_eq!(forged.status(), 403);
    // Password, then the code from WhatsApp.
    let response = console.password(ADMIN.0, ADMIN.1).await;
    let cookie = set_cookie(&response, "gw_console").expect("cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pending = value_of(&cookie);
    // The half-logged-in session opens nothing.
    assert_eq!(console.get("/console", &pending).await.status(), 303);
    let page = console
        .get("/console/login/code", &pending)
        .await
        .text()
        .await
        .expect("html");
    let wrong_code = console
        .post(
            "/console/login/code",
            &pending,
            &[("code", "000000"), ("csrf", &csrf_in(&page))],
        )
        .await;
    assert_eq!(wrong_code.status(), 401);
    let session = console.log_in(&app, ADMIN).await;
    let overview = console.get("/console", &session).await;
    assert_eq!(overview.status(), 200);
    let html = overview.text().await.expect("html");
    assert!(
        html.contains("Overview") && html.contains("ops-admin"),
        "{html}"
    );
    // Logout needs the session's token, then ends the session server-side.
    let forged = console
        .post("/console/logout", &session, &[("csrf", "x")])
        .await;
    assert_eq!(forged.status(), 403);
    let out = console
        .post("/console/logout", &session, &[("csrf", &csrf_in(&html))])
        .await;
    assert_eq!(out.status(), 303);
    assert_eq!(
        console.get("/console", &session).await.status(),
        303,
        "the old cookie opens nothing"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM console_sessions WHERE operator_id IN (SELECT id FROM operators WHERE username = $1)", ADMIN.0).await,
        0
    );
}
on_both_backends!(two_factor_login_and_logout);

async fn staff_cannot_reach_admin_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let console = console(&app).await;
    let staff = console.log_in(&app, STAFF).await;
    let html = console
        .get("/console", &staff)
        .await
        .text()
        .await
        .expect("html");
    assert!(!html.contains("/console/audit"), "no admin link for staff");
    assert_eq!(
        console.get("/console/audit", &staff).await.status(),
        403,
        "refused on the server"
    );
    let admin = console.log_in(&app, ADMIN).await;
    let audit = console.get("/console/audit", &admin).await;
    assert_eq!(audit.status(), 200);
    let html = audit.text().await.expect("html");
    assert!(
        html.contains("ops-staff") && html.contains("login"),
        "{html}"
    );
    assert!(html.contains("127.0.0.1"), "where from: {html}");
}
on_both_backends!(staff_cannot_reach_admin_pages);

async fn wrong_passwords_lock_the_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let console = console(&app).await;
    for attempt in 1..=5 {
        let response = console.password(STAFF.0, "wrong-password-xx").await;
        let want = if attempt < 5 { 401 } else { 429 };
        assert_eq!(response.status(), want, "attempt {attempt}");
    }
    // Locked: even the right password is refused, and no code is sent.
    let response = console.password(STAFF.0, STAFF.1).await;
    assert_eq!(response.status(), 429);
    assert!(app.whatsapp.last_code_for(&STAFF.2[1..]).is_none());
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = $1",
            "account_locked"
        )
        .await,
        1
    );
}
on_both_backends!(wrong_passwords_lock_the_account);

async fn an_admin_replays_a_dead_lettered_event_and_staff_cannot(backend: Backend) {
    let mut options = crate::helpers::Options::new(backend);
    options.retry_schedule = vec![0.1, 0.1];
    let app = TestApp::spawn_with(options).await;
    let console = console(&app).await;
    app.receiver.set_down(true);
    let (status, bought) = app
        .post(
            "demo",
            "/v1/bills/payments",
            &serde_json::json!({"reference": "DEAD-PULSA", "product_code": "xld10", "customer_no": "087800001230"}),
        )
        .await;
    assert_eq!(status, 201, "{bought}");
    let payment = bought["id"].as_str().expect("id").to_owned();
    const DEAD: &str =
        "SELECT COUNT(*) FROM events WHERE resource_id = $1 AND delivery_state = 'failed'";
    assert!(
        app.eventually(std::time::Duration::from_secs(10), || async {
            app.count(DEAD, &payment).await == 1
        })
        .await,
        "dead-lettered"
    );
    let event: String = sqlx::query_scalar("SELECT id FROM events WHERE resource_id = $1")
        .bind(&payment)
        .fetch_one(app.state.db().pool())
        .await
        .expect("event");
    app.receiver.set_down(false);
    // Staff sees it, has no replay form, and a forged replay post is refused.
    let staff = console.log_in(&app, STAFF).await;
    let page = console
        .get("/console/deliveries", &staff)
        .await
        .text()
        .await
        .expect("html");
    assert!(page.contains(&event), "{page}");
    assert!(!page.contains("Replay selected"));
    let overview = console
        .get("/console", &staff)
        .await
        .text()
        .await
        .expect("html");
    let forged = console
        .post(
            "/console/deliveries/replay",
            &staff,
            &[("csrf", &csrf_in(&overview)), ("ids", &event)],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(app.count(DEAD, &payment).await, 1, "nothing replayed");
    // The admin replays it; it is delivered and the replay is in the audit log.
    let admin = console.log_in(&app, ADMIN).await;
    let page = console
        .get("/console/deliveries", &admin)
        .await
        .text()
        .await
        .expect("html");
    assert!(page.contains("Replay selected"));
    let attempts = console
        .get(&format!("/console/deliveries/{event}"), &admin)
        .await
        .text()
        .await
        .expect("html");
    assert!(attempts.contains("after 3 attempts"), "{attempts}");
    let replayed = console
        .post(
            "/console/deliveries/replay",
            &admin,
            &[("csrf", &csrf_in(&page)), ("ids", &event)],
        )
        .await;
    assert_eq!(replayed.status(), 303);
    assert!(
        app.eventually(std::time::Duration::from_secs(10), || async {
            app.receiver
                .received()
                .iter()
                .any(|r| r.id == event && r.verified)
        })
        .await,
        "delivered after the replay"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'event_replayed' AND target = $1",
            &event
        )
        .await,
        1
    );
    let providers = console.get("/console/providers", &staff).await;
    assert_eq!(providers.status(), 200);
    let html = providers.text().await.expect("html");
    assert!(
        html.contains("digiflazz_main") && html.contains("Biller deposits"),
        "{html}"
    );
}
on_both_backends!(an_admin_replays_a_dead_lettered_event_and_staff_cannot);

async fn the_monitor_lists_filters_and_streams_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let console = console(&app).await;
    let staff = console.log_in(&app, STAFF).await;
    let (_, bought) = app
        .post(
            "demo",
            "/v1/bills/payments",
            &serde_json::json!({"reference": "MON-1", "product_code": "xld10", "customer_no": "087800001230"}),
        )
        .await;
    let id = bought["id"].as_str().expect("id").to_owned();
    let page = console
        .get("/console/monitor?kind=bill_payment&reference=MON-1", &staff)
        .await
        .text()
        .await
        .expect("html");
    assert!(page.contains(&id) && page.contains("EventSource"), "{page}");
    assert!(
        !page.contains("087800001230"),
        "no customer number in the list"
    );
    let other = console
        .get("/console/monitor?kind=payment&reference=MON-1", &staff)
        .await
        .text()
        .await
        .expect("html");
    assert!(!other.contains(&id), "filtered out");
    let detail = console
        .get(&format!("/console/monitor/bill_payment/{id}"), &staff)
        .await
        .text()
        .await
        .expect("html");
    assert!(detail.contains("bill.payment.success"), "{detail}");
    // The stream names the next change.
    let mut stream = console.get("/console/monitor/stream", &staff).await;
    assert_eq!(stream.status(), 200);
    let (_, _) = app
        .post(
            "demo",
            "/v1/bills/payments",
            &serde_json::json!({"reference": "MON-2", "product_code": "xld10", "customer_no": "087800001230"}),
        )
        .await;
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let chunk = stream.chunk().await.expect("chunk").expect("open");
            let text = String::from_utf8_lossy(&chunk).to_string();
            if text.contains("data:") {
                return text;
            }
        }
    })
    .await
    .expect("a change arrives on the stream");
    assert!(chunk.contains("data:"), "{chunk}");
    let rows = console
        .get("/console/monitor/rows?reference=MON-2", &staff)
        .await
        .text()
        .await
        .expect("html");
    assert!(rows.contains("MON-2") && rows.starts_with("<tr>"), "{rows}");
}
on_both_backends!(the_monitor_lists_filters_and_streams_changes);
