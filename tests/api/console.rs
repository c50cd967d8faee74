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

    /// A page's HTML.
    async fn html(&self, path: &str, session: &str) -> String {
        self.get(path, session).await.text().await.expect("html")
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
    // Every answer forbids framing, foreign scripts and caching.
    let login = console.get("/console/login", "nothing").await;
    let header = |name: &str| {
        login
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("cache-control"), "no-store");
    let policy = header("content-security-policy");
    assert!(
        policy.contains("frame-ancestors 'none'")
            && policy.contains("script-src 'self'")
            && !policy.contains("unsafe-inline"),
        "{policy}"
    );
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
    let page = console.html("/console/login/code", &pending).await;
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
    let html = console.html("/console", &staff).await;
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
    let mut payments = Vec::new();
    for reference in ["DEAD-PULSA-1", "DEAD-PULSA-2"] {
        let (status, bought) = app
            .post(
                "demo",
                "/v1/bills/payments",
                &serde_json::json!({"reference": reference, "product_code": "xld10", "customer_no": "087800001230"}),
            )
            .await;
        assert_eq!(status, 201, "{bought}");
        payments.push(bought["id"].as_str().expect("id").to_owned());
    }
    const DEAD: &str =
        "SELECT COUNT(*) FROM events WHERE resource_id = $1 AND delivery_state = 'failed'";
    let mut events = Vec::new();
    for payment in &payments {
        assert!(
            app.eventually(std::time::Duration::from_secs(10), || async {
                app.count(DEAD, payment).await == 1
            })
            .await,
            "dead-lettered"
        );
        let event: String = sqlx::query_scalar("SELECT id FROM events WHERE resource_id = $1")
            .bind(payment)
            .fetch_one(app.state.db().pool())
            .await
            .expect("event");
        events.push(event);
    }
    let event = events[0].clone();
    app.receiver.set_down(false);
    // Staff sees them, has no replay form, and a forged replay post is refused.
    let staff = console.log_in(&app, STAFF).await;
    let page = console.html("/console/deliveries", &staff).await;
    assert!(page.contains(&event) && page.contains(&events[1]), "{page}");
    assert!(!page.contains("Replay selected"));
    let mine = console
        .html("/console/deliveries?client=demo", &staff)
        .await;
    assert!(mine.contains(&event), "{mine}");
    let other = console
        .html("/console/deliveries?client=demo2", &staff)
        .await;
    assert!(!other.contains(&event), "per product: {other}");
    let overview = console.html("/console", &staff).await;
    let forged = console
        .post(
            "/console/deliveries/replay",
            &staff,
            &[("csrf", &csrf_in(&overview)), ("ids", &event)],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(app.count(DEAD, &payments[0]).await, 1, "nothing replayed");
    // The admin replays both in one post; each is delivered and in the audit log.
    let admin = console.log_in(&app, ADMIN).await;
    let page = console.html("/console/deliveries", &admin).await;
    assert!(page.contains("Replay selected"));
    let attempts = console
        .html(&format!("/console/deliveries/{event}"), &admin)
        .await;
    assert!(attempts.contains("after 3 attempts"), "{attempts}");
    let replayed = console
        .post(
            "/console/deliveries/replay",
            &admin,
            &[
                ("csrf", &csrf_in(&page)),
                ("ids", &events[0]),
                ("ids", &events[1]),
            ],
        )
        .await;
    assert_eq!(replayed.status(), 303);
    for event in &events {
        assert!(
            app.eventually(std::time::Duration::from_secs(10), || async {
                app.receiver
                    .received()
                    .iter()
                    .any(|r| &r.id == event && r.verified)
            })
            .await,
            "{event} delivered after the replay"
        );
        assert_eq!(
            app.count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'event_replayed' AND target = $1",
                event
            )
            .await,
            1
        );
    }
    // Provider health: the purchases' calls, their success rate, the deposit and its
    // threshold.
    let providers = console.get("/console/providers", &staff).await;
    assert_eq!(providers.status(), 200);
    let html = providers.text().await.expect("html");
    assert!(
        html.contains("<tr><td>digiflazz_main</td><td>digiflazz</td><td>1 h</td>"),
        "{html}"
    );
    let row = html
        .split("<tr><td>digiflazz_main</td><td>digiflazz</td><td>1 h</td>")
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("the biller's last hour");
    assert!(
        !row.starts_with("<td>0</td>") && row.contains("100.0 %"),
        "{row}"
    );
    assert!(
        html.contains("Biller deposits") && html.contains("<td>Rp1000000</td>"),
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
        .html("/console/monitor?kind=bill_payment&reference=MON-1", &staff)
        .await;
    assert!(
        page.contains(&id) && page.contains("<script src=\"/console/assets/monitor.js\">"),
        "{page}"
    );
    let script = console
        .get("/console/assets/monitor.js", "nothing")
        .await
        .text()
        .await
        .expect("js");
    assert!(
        script.contains("new EventSource('/console/monitor/stream?'"),
        "{script}"
    );
    assert!(
        !page.contains("087800001230"),
        "no customer number in the list"
    );
    let other = console
        .html("/console/monitor?kind=payment&reference=MON-1", &staff)
        .await;
    assert!(!other.contains(&id), "filtered out");
    let detail = console
        .html(&format!("/console/monitor/bill_payment/{id}"), &staff)
        .await;
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
        .html("/console/monitor/rows?reference=MON-2", &staff)
        .await;
    assert!(rows.contains("MON-2") && rows.starts_with("<tr>"), "{rows}");
}
on_both_backends!(the_monitor_lists_filters_and_streams_changes);

/// The console's csrf token on a page of a logged-in operator.
async fn csrf_of(console: &Console, session: &str) -> String {
    let html = console
        .get("/console", session)
        .await
        .text()
        .await
        .expect("html");
    csrf_in(&html)
}

async fn switching_an_instance_off_fails_new_vas_over_and_is_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let console = console(&app).await;
    let admin = console.log_in(&app, ADMIN).await;
    let staff = console.log_in(&app, STAFF).await;
    let page = console.html("/console/providers", &admin).await;
    assert!(
        page.contains("id=\"switch-bni_main\"") && page.contains("Switch off"),
        "{page}"
    );
    // Staff: no switch forms, and a forged post with the staff's own token is refused.
    let staff_page = console.html("/console/providers", &staff).await;
    assert!(!staff_page.contains("Switch off"), "{staff_page}");
    let staff_csrf = csrf_of(&console, &staff).await;
    let forged = console
        .post(
            "/console/providers/switch",
            &staff,
            &[
                ("csrf", &staff_csrf),
                ("instance", "bni_main"),
                ("state", "off"),
                ("reason", "forged"),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM provider_switches WHERE instance = $1",
            "bni_main"
        )
        .await,
        0
    );
    let csrf = csrf_of(&console, &admin).await;
    // A reason is required; an unknown instance and a missing token are refused.
    for (form, want) in [
        (
            vec![
                ("csrf", csrf.as_str()),
                ("instance", "bni_main"),
                ("state", "off"),
            ],
            400,
        ),
        (
            vec![
                ("csrf", csrf.as_str()),
                ("instance", "nope"),
                ("state", "off"),
                ("reason", "x"),
            ],
            400,
        ),
        (
            vec![
                ("csrf", "wrong"),
                ("instance", "bni_main"),
                ("state", "off"),
                ("reason", "x"),
            ],
            403,
        ),
    ] {
        let response = console
            .post("/console/providers/switch", &admin, &form)
            .await;
        assert_eq!(response.status(), want, "{form:?}");
    }
    assert!(!app.state.registry().switches().is_off("bni_main"));
    let off = console
        .post(
            "/console/providers/switch",
            &admin,
            &[
                ("csrf", &csrf),
                ("instance", "bni_main"),
                ("state", "off"),
                ("reason", "bank maintenance"),
            ],
        )
        .await;
    assert_eq!(off.status(), 303);
    assert!(app.state.registry().switches().is_off("bni_main"));
    // New VAs go to the next instance of the route; nothing reached the switched-off one.
    let va = app.issue("SWITCH-1", 150_000).await;
    assert_eq!(va["provider"], "nicepay_main", "{va}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM provider_calls WHERE provider = 'bni_main' AND outcome = $1",
            "disabled"
        )
        .await,
        1
    );
    let page = console.html("/console/providers", &admin).await;
    assert!(
        page.contains("bank maintenance")
            && page.contains("<s>bni_main</s> (off)")
            && page.contains("<span class=\"active\">nicepay_main</span> (active)"),
        "{page}"
    );
    // On again: back to the primary.
    let on = console
        .post(
            "/console/providers/switch",
            &admin,
            &[("csrf", &csrf), ("instance", "bni_main"), ("state", "on")],
        )
        .await;
    assert_eq!(on.status(), 303);
    let va = app.issue("SWITCH-2", 150_000).await;
    assert_eq!(va["provider"], "bni_main", "{va}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action LIKE $1 AND username = 'ops-admin'",
            "provider_switched_%"
        )
        .await,
        2
    );
}
on_both_backends!(switching_an_instance_off_fails_new_vas_over_and_is_audited);

async fn another_process_switch_is_picked_up_by_the_scheduler(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    {
        let mut conn = app.state.db().pool().acquire().await.expect("conn");
        for instance in ["wa_main", "digiflazz_main"] {
            gateway::store::switches::set(&mut conn, instance, true, Some("spam"), "ops-admin", 1)
                .await
                .expect("set");
        }
    }
    assert!(!app.state.registry().switches().is_off("wa_main"));
    gateway::scheduler::tick(&app.state, 0).await.expect("tick");
    assert!(app.state.registry().switches().is_off("wa_main"));
    // A message is refused as unavailable before anything is sent.
    let (status, body) = app
        .post(
            "demo",
            "/v1/otp",
            &serde_json::json!({"recipient": "+6281234567890", "purpose": "login", "channel": "whatsapp"}),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(app.whatsapp.last_code_for("6281234567890").is_none());
    // So is a purchase from a switched-off biller: nothing is bought, nothing is owed.
    let (status, body) = app
        .post(
            "demo",
            "/v1/bills/payments",
            &serde_json::json!({"reference": "OFF-1", "product_code": "xld10", "customer_no": "087800001230"}),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM bill_payments WHERE reference = $1 AND status = 'success'",
            "OFF-1"
        )
        .await,
        0
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM provider_calls WHERE provider = 'digiflazz_main' AND outcome = $1",
            "disabled"
        )
        .await,
        1
    );
}
on_both_backends!(another_process_switch_is_picked_up_by_the_scheduler);

async fn admins_manage_operators_and_staff_cannot(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let console = console(&app).await;
    let admin = console.log_in(&app, ADMIN).await;
    let staff = console.log_in(&app, STAFF).await;
    assert_eq!(
        console.get("/console/operators", &staff).await.status(),
        403
    );
    let staff_csrf = csrf_of(&console, &staff).await;
    let forged = console
        .post(
            "/console/operators",
            &staff,
            &[
                ("csrf", &staff_csrf),
                ("username", "mallory"),
                ("role", "admin"),
                ("phone", "+6281100000099"),
                ("password", "mallory-password-1"),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM operators WHERE username = $1",
            "mallory"
        )
        .await,
        0
    );
    let page = console.html("/console/operators", &admin).await;
    assert!(
        page.contains("ops-staff") && page.contains("+62*******0002"),
        "{page}"
    );
    assert!(!page.contains("+6281100000002"), "phones are masked");
    let csrf = csrf_in(&page);
    // Validation is the CLI's: a short password is refused with the reason.
    let short = console
        .post(
            "/console/operators",
            &admin,
            &[
                ("csrf", &csrf),
                ("username", "ops-new"),
                ("role", "staff"),
                ("phone", "+6281100000003"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status(), 400);
    assert!(short.text().await.expect("html").contains("at least 12"));
    let added = console
        .post(
            "/console/operators",
            &admin,
            &[
                ("csrf", &csrf),
                ("username", "ops-new"),
                ("role", "staff"),
                ("phone", "+6281100000003"),
                ("password", "a-long-enough-password"),
            ],
        )
        .await;
    assert_eq!(added.status(), 303);
    let new = console
        .log_in(
            &app,
            ("ops-new", "a-long-enough-password", "+6281100000003"),
        )
        .await;
    assert_eq!(console.get("/console", &new).await.status(), 200);
    // Disabling ends the operator's sessions at once.
    let staff_id: String =
        sqlx::query_scalar("SELECT id FROM operators WHERE username = 'ops-staff'")
            .fetch_one(app.state.db().pool())
            .await
            .expect("id");
    let disabled = console
        .post(
            &format!("/console/operators/{staff_id}"),
            &admin,
            &[("csrf", &csrf), ("action", "disable")],
        )
        .await;
    assert_eq!(disabled.status(), 303);
    assert_eq!(console.get("/console", &staff).await.status(), 303);
    assert_eq!(console.password(STAFF.0, STAFF.1).await.status(), 401);
    // An admin cannot disable or demote themselves.
    let admin_id: String =
        sqlx::query_scalar("SELECT id FROM operators WHERE username = 'ops-admin'")
            .fetch_one(app.state.db().pool())
            .await
            .expect("id");
    for action in ["disable", "make_staff"] {
        let response = console
            .post(
                &format!("/console/operators/{admin_id}"),
                &admin,
                &[("csrf", &csrf), ("action", action)],
            )
            .await;
        assert_eq!(response.status(), 409, "{action}");
    }
    // Promotion takes effect on the next request.
    let new_id: String = sqlx::query_scalar("SELECT id FROM operators WHERE username = 'ops-new'")
        .fetch_one(app.state.db().pool())
        .await
        .expect("id");
    assert_eq!(console.get("/console/audit", &new).await.status(), 403);
    let promoted = console
        .post(
            &format!("/console/operators/{new_id}"),
            &admin,
            &[("csrf", &csrf), ("action", "make_admin")],
        )
        .await;
    assert_eq!(promoted.status(), 303);
    assert_eq!(console.get("/console/audit", &new).await.status(), 200);
    let audit = console.html("/console/audit", &admin).await;
    for action in [
        "operator_created",
        "operator_disabled",
        "operator_role_changed",
    ] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
}
on_both_backends!(admins_manage_operators_and_staff_cannot);

async fn reports_download_the_same_rows_in_three_formats(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let console = console(&app).await;
    let staff = console.log_in(&app, STAFF).await;
    let va = app.issue("REPORT-1", 275_000).await;
    let va_id = va["id"].as_str().expect("id").to_owned();
    let (_, bill) = app
        .post(
            "demo",
            "/v1/bills/payments",
            &serde_json::json!({"reference": "REPORT-2", "product_code": "xld10", "customer_no": "087800001230"}),
        )
        .await;
    let bill_id = bill["id"].as_str().expect("id").to_owned();
    let today = (time::OffsetDateTime::now_utc() + time::Duration::hours(7)).date();
    let path = format!("/console/reports/daily?date={today}");
    let html = console.html(&path, &staff).await;
    assert!(
        html.contains(&va_id) && html.contains("id=\"daily-xlsx\""),
        "{html}"
    );
    let mut tables = Vec::new();
    for format in exports::Format::ALL {
        let response = console
            .get(&format!("{path}&format={}", format.extension()), &staff)
            .await;
        assert_eq!(response.status(), 200, "{format:?}");
        let disposition = response
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            disposition.contains(&format!("transactions-{today}.{}", format.extension())),
            "{disposition}"
        );
        let bytes = response.bytes().await.expect("body");
        tables.push(format.read(&bytes).expect("reads"));
    }
    assert_eq!(tables[0], tables[1], "csv and xlsx");
    assert_eq!(tables[0], tables[2], "csv and pdf");
    let rows = &tables[0];
    assert_eq!(
        rows.len(),
        3,
        "a header, the VA and the bill payment: {rows:?}"
    );
    let va_row = rows
        .iter()
        .find(|r| r.contains(&va_id))
        .expect("the VA's row");
    assert!(va_row.contains(&"275000".to_owned()), "{va_row:?}");
    assert!(rows.iter().any(|r| r.contains(&bill_id)));
    assert!(
        !rows
            .iter()
            .flatten()
            .any(|c| c.contains("087800001230") || c.contains("Budi")),
        "no personal data: {rows:?}"
    );
    // Staff read reports but cannot run a reconciliation, even with their own token.
    let csrf = csrf_of(&console, &staff).await;
    let forged = console
        .post(
            "/console/reports/reconciliations",
            &staff,
            &[
                ("csrf", &csrf),
                ("biller", "digiflazz_main"),
                ("date", &today.to_string()),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM reconciliations WHERE day = $1",
            &today.to_string()
        )
        .await,
        0
    );
    let admin = console.log_in(&app, ADMIN).await;
    let csrf = csrf_of(&console, &admin).await;
    let ran = console
        .post(
            "/console/reports/reconciliations",
            &admin,
            &[
                ("csrf", &csrf),
                ("biller", "digiflazz_main"),
                ("date", &today.to_string()),
            ],
        )
        .await;
    assert_eq!(ran.status(), 303);
    let location = ran
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("to the report")
        .to_owned();
    let mut reports = Vec::new();
    for format in exports::Format::ALL {
        let bytes = console
            .get(&format!("{location}?format={}", format.extension()), &admin)
            .await
            .bytes()
            .await
            .expect("body");
        reports.push(format.read(&bytes).expect("reads"));
    }
    assert_eq!(reports[0], reports[1]);
    assert_eq!(reports[0], reports[2]);
    assert!(
        reports[0]
            .iter()
            .any(|r| r.first().is_some_and(|c| c == "matched")),
        "{:?}",
        reports[0]
    );
    // Usage over the day names the product and the provider.
    let usage = console
        .get(
            &format!("/console/reports/usage?from={today}&to={today}&format=csv"),
            &staff,
        )
        .await
        .text()
        .await
        .expect("csv");
    let usage = exports::read_csv(&usage).expect("csv");
    assert!(
        usage
            .iter()
            .any(|r| r.starts_with(&["demo".to_owned(), "bni_main".to_owned()])),
        "{usage:?}"
    );
    assert!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = $1",
            "reconciliation_run"
        )
        .await
            == 1
    );
}
on_both_backends!(reports_download_the_same_rows_in_three_formats);

async fn sessions_end_when_idle_or_past_their_absolute_expiry(backend: Backend) {
    use gateway::console::sessions;
    let app = TestApp::spawn(backend).await;
    let mut conn = app.state.db().pool().acquire().await.expect("conn");
    let operator = accounts::create(&mut conn, ADMIN.0, ADMIN.1, Role::Admin, ADMIN.2)
        .await
        .expect("admin");
    let (idle, start) = (1_800_000, 1_000_000_000_000);
    let (token, _) = sessions::start(
        &mut conn,
        &operator.id,
        "active",
        None,
        start,
        start + 43_200_000,
    )
    .await
    .expect("start");
    // Used within the idle time, it lives on and its idle clock restarts.
    let mut now = start;
    for _ in 0..3 {
        now += idle - 1;
        assert!(
            sessions::find(&mut conn, &token, idle, now)
                .await
                .expect("find")
                .is_some(),
            "alive at {now}"
        );
    }
    // Idle too long: gone, and stays gone.
    assert!(
        sessions::find(&mut conn, &token, idle, now + idle)
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        sessions::find(&mut conn, &token, idle, now)
            .await
            .expect("find")
            .is_none()
    );
    // In use all along, it still ends at its absolute expiry.
    let (token, _) = sessions::start(
        &mut conn,
        &operator.id,
        "active",
        None,
        start,
        start + 3 * idle,
    )
    .await
    .expect("start");
    let mut now = start;
    while now + idle / 2 < start + 3 * idle {
        now += idle / 2;
        assert!(
            sessions::find(&mut conn, &token, idle, now)
                .await
                .expect("find")
                .is_some()
        );
    }
    assert!(
        sessions::find(&mut conn, &token, idle, start + 3 * idle)
            .await
            .expect("find")
            .is_none()
    );
    // The sweep deletes the sessions nobody presents again.
    sessions::start(
        &mut conn,
        &operator.id,
        "active",
        None,
        start,
        start + 43_200_000,
    )
    .await
    .expect("start");
    sessions::start(
        &mut conn,
        &operator.id,
        "active",
        None,
        now,
        now + 43_200_000,
    )
    .await
    .expect("start");
    drop(conn);
    let purged = sessions::purge(app.state.db(), idle, now + 1)
        .await
        .expect("purge");
    assert_eq!(purged, 1, "only the idle one");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM console_sessions WHERE operator_id = $1",
            &operator.id
        )
        .await,
        1
    );
}
on_both_backends!(sessions_end_when_idle_or_past_their_absolute_expiry);

async fn one_address_cannot_spray_passwords_over_many_accounts(backend: Backend) {
    let mut options = crate::helpers::Options::new(backend);
    options.console_logins_per_minute = 4;
    let app = TestApp::spawn_with(options).await;
    let console = console(&app).await;
    // Different usernames each time: no account's lockout is reached.
    for user in ["ops-admin", "ops-staff", "nobody-1", "nobody-2"] {
        let response = console.password(user, "guessed-password-1").await;
        assert_eq!(response.status(), 401, "{user}");
    }
    let response = console.password("nobody-3", "guessed-password-1").await;
    assert_eq!(response.status(), 429);
    assert!(
        response
            .text()
            .await
            .expect("html")
            .contains("Too many attempts from your address")
    );
    // Even the right password waits out the minute, and no code is sent.
    assert_eq!(console.password(ADMIN.0, ADMIN.1).await.status(), 429);
    assert!(app.whatsapp.last_code_for(&ADMIN.2[1..]).is_none());
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM operators WHERE failed_attempts > 1 AND username <> $1",
            ""
        )
        .await,
        0,
        "no account counted more than one failure"
    );
}
on_both_backends!(one_address_cannot_spray_passwords_over_many_accounts);

async fn a_resource_page_shows_its_provider_exchanges_with_personal_data_masked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let console = console(&app).await;
    let staff = console.log_in(&app, STAFF).await;
    let va = app.issue("DETAIL-1", 150_000).await;
    let id = va["id"].as_str().expect("id").to_owned();
    let answer = app.bni.pay(&id, 150_000).await.expect("pay");
    assert_eq!(answer.status, 200);
    let events = app
        .receiver
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(events.len(), 1);

    let page = console
        .html(&format!("/console/monitor/virtual_account/{id}"), &staff)
        .await;
    let section = |heading: &str| {
        let start = page
            .find(heading)
            .unwrap_or_else(|| panic!("{heading}: {page}"));
        page[start..].to_owned()
    };
    let resource = section("<h2>Resource</h2>");
    assert!(
        resource.contains("<tr><th>payment_rule</th>")
            && resource.contains("<tr><th>amount</th><td>150000</td></tr>"),
        "{page}"
    );
    let calls = section("<h2>Calls to the provider</h2>");
    assert!(calls.contains("<td>va.create</td>"), "{page}");
    assert!(calls.contains("<td>bni_main</td>"), "{page}");
    let callbacks = section("<h2>Callbacks from the provider</h2>");
    assert!(
        callbacks.contains("<details><summary>payload</summary><pre>{"),
        "{page}"
    );
    assert!(
        callbacks.contains("&quot;payment_amount&quot;: &quot;150000&quot;"),
        "{page}"
    );
    assert!(
        callbacks.contains("&quot;customer_name&quot;: &quot;Bu********so&quot;"),
        "{page}"
    );
    let events = section("<h2>Events to the product</h2>");
    assert!(
        events.contains("<details><summary>body</summary>"),
        "{page}"
    );
    assert!(
        events.contains(&format!("&quot;id&quot;: &quot;{id}&quot;")),
        "{page}"
    );
    assert!(events.contains("&quot;amount&quot;: 150000"), "{page}");
    assert!(events.contains("/console/deliveries/evt_"), "{page}");
    for personal in [
        "Budi",
        "Santoso",
        "6281234567890",
        "81234567890",
        "budi@example.com",
    ] {
        assert!(!page.contains(personal), "{personal} on the page: {page}");
    }

    let (status, bought) = app
        .post(
            "demo",
            "/v1/bills/payments",
            &serde_json::json!({"reference": "DETAIL-2", "product_code": "xld10", "customer_no": "087800001230"}),
        )
        .await;
    assert_eq!(status, 201, "{bought}");
    let bill = bought["id"].as_str().expect("id");
    let page = console
        .html(&format!("/console/monitor/bill_payment/{bill}"), &staff)
        .await;
    assert!(
        page.contains("<tr><th>customer_no</th><td>********1230</td></tr>"),
        "{page}"
    );
    assert!(page.contains("<td>bill.purchase</td>"), "{page}");
    assert!(!page.contains("087800001230"), "{page}");
    assert!(!page.contains("87800001230"), "{page}");
}
on_both_backends!(a_resource_page_shows_its_provider_exchanges_with_personal_data_masked);

async fn wrong_codes_lock_the_account_and_end_the_pending_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let console = console(&app).await;
    let response = console.password(STAFF.0, STAFF.1).await;
    assert_eq!(response.status(), 303);
    let pending = value_of(&set_cookie(&response, "gw_console").expect("pending session"));
    let csrf = csrf_in(&console.html("/console/login/code", &pending).await);
    let right = app
        .whatsapp
        .last_code_for(&STAFF.2[1..])
        .expect("a code sent");
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for attempt in 1..=5 {
        let response = console
            .post(
                "/console/login/code",
                &pending,
                &[("csrf", &csrf), ("code", wrong)],
            )
            .await;
        let want = if attempt < 5 { 401 } else { 429 };
        assert_eq!(response.status(), want, "attempt {attempt}");
    }
    // The half-finished login is gone: even the right code cannot finish it.
    let response = console
        .post(
            "/console/login/code",
            &pending,
            &[("csrf", &csrf), ("code", &right)],
        )
        .await;
    assert_eq!(response.status(), 303, "back to the login page");
    assert_eq!(console.password(STAFF.0, STAFF.1).await.status(), 429);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'account_locked' AND detail = $1",
            "wrong code"
        )
        .await,
        1
    );
}
on_both_backends!(wrong_codes_lock_the_account_and_end_the_pending_login);
