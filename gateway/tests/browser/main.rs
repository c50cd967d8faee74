//! The operations console end to end, in headless Chromium driven over WebDriver, against
//! the real `gateway sandbox` binary: two-factor login, the live monitor updating in place,
//! a staff operator refused admin actions (also when the forms are forged), replay of a
//! dead-lettered event to a webhook receiver, the audit log, reports downloaded as CSV,
//! XLSX and PDF with the same rows, and screenshots of every page.
//!
//! One sandbox and one chromedriver serve the whole file; the scenarios run in order in one
//! test so that two browsers never compete for the machine. Everything started here (the
//! sandbox, chromedriver, the browsers, the receiver) stops when the test ends, also when
//! it fails.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`). `CONSOLE_SCREENSHOTS=<dir>` keeps the screenshots.

mod webdriver;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gateway::auth::SignedHeaders;
use serde_json::{Value, json};
use time::macros::{format_description, offset};

use webdriver::{Browser, Driver, Session, TempDir, free_port, poll};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Without the background-networking switches a closed network refuses the browser's
/// connections.
const BROWSER_ARGS: [&str; 10] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

const DEMO_SECRET: &str = "demo-sandbox-secret-0001";

/// How long a page or a server-side effect may take to show up.
const WAIT: Duration = Duration::from_secs(15);

const FORBIDDEN: &str = "This needs the admin role.";

/// A sandbox operator.
struct Operator {
    username: &'static str,
    password: &'static str,
    /// The WhatsApp number as the simulator knows it (no `+`).
    whatsapp: &'static str,
}

const ADMIN: Operator = Operator {
    username: "ops-admin",
    password: "sandbox-admin-password",
    whatsapp: "6281100000001",
};

const STAFF: Operator = Operator {
    username: "ops-staff",
    password: "sandbox-staff-password",
    whatsapp: "6281100000002",
};

/// Fails, naming the packages, when the browser is not installed.
fn require_browser() {
    for (binary, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(binary).exists(),
            "{binary} is missing: install Debian's `{package}` package (the console's browser \
             tests need `chromium` and `chromium-driver`: apt-get install chromium chromium-driver)"
        );
    }
}

/// A new browser session; when Chromium does not start, the end of chromedriver's log says
/// why.
async fn open_browser(driver: &Driver) -> Session {
    match Session::new(driver, &browser()).await {
        Ok(session) => session,
        Err(e) => {
            let log = std::fs::read_to_string(driver.log()).unwrap_or_default();
            let tail = &log[log.floor_char_boundary(log.len().saturating_sub(3000))..];
            panic!("Chromium did not start: {e}; chromedriver's log ends with:\n{tail}")
        }
    }
}

fn browser() -> Browser {
    Browser {
        binary: PathBuf::from(CHROMIUM),
        args: BROWSER_ARGS.iter().map(|a| (*a).to_owned()).collect(),
    }
}

/// Today's date in Asia/Jakarta (WIB, UTC+7), `YYYY-MM-DD`.
fn today_wib() -> String {
    time::OffsetDateTime::now_utc()
        .to_offset(offset!(+7))
        .date()
        .format(format_description!("[year]-[month]-[day]"))
        .expect("a date formats")
}

// ---------------------------------------------------------------- the sandbox

/// `gateway sandbox` as a child process, on free ports, with its own SQLite file.
struct Sandbox {
    child: Child,
    /// `http://127.0.0.1:A`: the API and the `/sandbox` endpoints.
    api: String,
    /// `http://127.0.0.1:C`: the console.
    console: String,
    /// Where the demo client's webhooks go; nothing listens there at first.
    echo: SocketAddr,
    http: reqwest::Client,
    dir: TempDir,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sandbox {
    async fn start() -> Sandbox {
        let dir = TempDir::new("console-browser-sandbox").expect("a temporary directory");
        let [api, console, echo] = [(); 3].map(|()| free_port().expect("a free port"));
        let log = std::fs::File::create(dir.path().join("sandbox.log")).expect("a log file");
        let echo: SocketAddr = ([127, 0, 0, 1], echo).into();
        let database = format!("sqlite://{}?mode=rwc", dir.path().join("db").display());
        let child = Command::new(env!("CARGO_BIN_EXE_gateway"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args(["sandbox", "--listen", &format!("127.0.0.1:{api}")])
            .args(["--console-listen", &format!("127.0.0.1:{console}")])
            .args(["--echo-listen", &echo.to_string()])
            .args([
                "--retry-schedule-secs",
                "0.2,0.2",
                "--database-url",
                &database,
            ])
            // The demo client's events go to the echo address, where this test listens later.
            .env(
                "GATEWAY__CLIENTS__DEMO__WEBHOOK_URL",
                format!("http://{echo}/"),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("the log file")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("gateway sandbox starts");
        let sandbox = Sandbox {
            child,
            api: format!("http://127.0.0.1:{api}"),
            console: format!("http://127.0.0.1:{console}"),
            echo,
            http: reqwest::Client::new(),
            dir,
        };
        sandbox.ready().await;
        sandbox
    }

    async fn ready(&self) {
        let up = |url: String| {
            let http = self.http.clone();
            async move { http.get(url).send().await.is_ok().then_some(()) }
        };
        let api = format!("{}/healthz", self.api);
        let console = format!("{}/console/login", self.console);
        let started = poll(Duration::from_secs(60), || up(api.clone()))
            .await
            .is_some()
            && poll(WAIT, || up(console.clone())).await.is_some();
        assert!(
            started,
            "the sandbox did not start; its output:\n{}",
            std::fs::read_to_string(self.dir.path().join("sandbox.log")).unwrap_or_default()
        );
    }

    /// A request signed as the demo client.
    async fn signed(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let text = body.map(Value::to_string).unwrap_or_default();
        let headers = SignedHeaders::new(
            "demo",
            DEMO_SECRET.as_bytes(),
            method,
            path,
            text.as_bytes(),
        );
        let mut request = self.http.request(
            method.parse().expect("a method"),
            format!("{}{path}", self.api),
        );
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        let response = request
            .header("content-type", "application/json")
            .body(text)
            .send()
            .await
            .expect("the API answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST /sandbox/...`.
    async fn drive(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.api))
            .json(&json!({}))
            .send()
            .await
            .expect("the sandbox answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The last login code the simulated WhatsApp delivered to `who`.
    async fn login_code(&self, who: &Operator) -> String {
        let url = format!("{}/sandbox/otp/last?recipient={}", self.api, who.whatsapp);
        let fetch = || {
            let (http, url) = (self.http.clone(), url.clone());
            async move {
                let response = http.get(url).send().await.ok()?;
                let body: Value = response.json().await.ok()?;
                body["code"].as_str().map(str::to_owned)
            }
        };
        poll(WAIT, fetch)
            .await
            .unwrap_or_else(|| panic!("no login code reached {}'s WhatsApp", who.username))
    }

    /// The demo client's event, as the API shows it.
    async fn event(&self, id: &str) -> Value {
        let (status, body) = self.signed("GET", &format!("/v1/events/{id}"), None).await;
        assert_eq!(status, 200, "GET /v1/events/{id}: {body}");
        body
    }

    /// How many delivery attempts an event has had.
    async fn attempts(&self, id: &str) -> usize {
        let path = format!("/v1/events/{id}/attempts");
        let (status, body) = self.signed("GET", &path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body["data"].as_array().map_or(0, Vec::len)
    }

    fn page(&self, path: &str) -> String {
        format!("{}{path}", self.console)
    }
}

// ---------------------------------------------------------------- the webhook receiver

/// A request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: BTreeMap<String, String>,
    body: Value,
}

/// A webhook receiver that records every POST and answers 204; stops on `Drop`.
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(at: SocketAddr) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let record = got.clone();
        let app = axum::Router::new().fallback(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let record = record.clone();
                async move {
                    let headers = headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                        .collect();
                    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    record
                        .lock()
                        .expect("the receiver's record")
                        .push(Received { headers, body });
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        );
        let listener = tokio::net::TcpListener::bind(at)
            .await
            .expect("the webhook receiver binds the demo client's webhook address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { got, task }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().expect("the receiver's record").clone()
    }
}

// ---------------------------------------------------------------- screenshots

/// Where screenshots go: `CONSOLE_SCREENSHOTS`, else a temporary directory.
struct Shots {
    dir: PathBuf,
    _temporary: Option<TempDir>,
}

impl Shots {
    fn new() -> Shots {
        match std::env::var_os("CONSOLE_SCREENSHOTS") {
            Some(dir) => {
                let dir = PathBuf::from(dir);
                std::fs::create_dir_all(&dir).expect("the screenshot directory");
                Shots {
                    dir,
                    _temporary: None,
                }
            }
            None => {
                let temporary = TempDir::new("console-screenshots").expect("a temporary dir");
                Shots {
                    dir: temporary.path().to_owned(),
                    _temporary: Some(temporary),
                }
            }
        }
    }

    /// Saves `console-<name>.png`; answers its width and height.
    async fn take(&self, session: &Session, name: &str) -> (u32, u32) {
        let png = session.screenshot().await.expect("a screenshot");
        assert!(
            png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "the {name} screenshot is not a PNG"
        );
        // IHDR: width and height, big-endian, at bytes 16..24.
        let size = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
        let path = self.dir.join(format!("console-{name}.png"));
        std::fs::write(&path, &png).expect("the screenshot is written");
        (size(16), size(20))
    }
}

// ---------------------------------------------------------------- helpers

/// Everything the scenarios share.
struct Run {
    sandbox: Sandbox,
    shots: Shots,
    today: String,
}

/// What scenario 2 made: a paid VA and its `virtual_account.paid` event.
struct Paid {
    va: String,
    amount: i64,
    event: String,
}

/// Logs `who` in through the two pages; with `wrong_first`, a wrong code is tried first.
/// With `shots`, the login and code pages are photographed.
async fn log_in(run: &Run, session: &Session, who: &Operator, wrong_first: bool, shots: bool) {
    session
        .goto(&run.sandbox.page("/console/login"))
        .await
        .expect("the login page opens");
    if shots {
        run.shots.take(session, "login").await;
    }
    let username = session.wait_for("input[name=username]", WAIT).await;
    username.send_keys(who.username).await.expect("typed");
    let password = session
        .find("input[name=password]")
        .await
        .expect("a password field");
    password.send_keys(who.password).await.expect("typed");
    let submit = session
        .find("form.card button")
        .await
        .expect("a submit button");
    submit.click().await.expect("clicked");
    session.wait_for_path("/console/login/code", WAIT).await;
    session.wait_for("input[name=code]", WAIT).await;
    let code = run.sandbox.login_code(who).await;
    if shots {
        run.shots.take(session, "code").await;
    }
    if wrong_first {
        let wrong = wrong_code(&code);
        submit_code(session, &wrong).await;
        session.wait_for_text("Wrong or expired code.", WAIT).await;
    }
    submit_code(session, &code).await;
    session.wait_for_path("/console", WAIT).await;
}

/// The same length, every digit different.
fn wrong_code(code: &str) -> String {
    code.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_digit((d + 1) % 10, 10).unwrap_or('0'),
            None => '0',
        })
        .collect()
}

async fn submit_code(session: &Session, code: &str) {
    let field = session.wait_for("input[name=code]", WAIT).await;
    field.send_keys(code).await.expect("typed");
    // Marks this document, to know when the answer has replaced it.
    mark(session).await;
    let submit = session
        .find("form.card button")
        .await
        .expect("a submit button");
    submit.click().await.expect("clicked");
    wait_for_new_document(session).await;
}

async fn mark(session: &Session) {
    session
        .execute("window.__old_document = true;", &[])
        .await
        .expect("a script runs");
}

/// Waits until the document marked by [`mark`] has been replaced and the new one loaded.
async fn wait_for_new_document(session: &Session) {
    session
        .wait_until("the next page", WAIT, async |s: &Session| {
            holds(
                s,
                "return window.__old_document === undefined && document.readyState === 'complete';",
            )
            .await
        })
        .await;
}

/// `Ok` when `script` returns true in the page.
async fn holds(session: &Session, script: &str) -> Result<(), String> {
    match session.execute(script, &[]).await {
        Ok(Value::Bool(true)) => Ok(()),
        Ok(other) => Err(format!("the page says {other}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Cells of every body row of the page's tables (header rows, made of `th`, left out).
async fn table_rows(session: &Session) -> Vec<Vec<String>> {
    let rows = session
        .execute(
            "return Array.from(document.querySelectorAll('main table tr'))\
             .filter(function(r){return r.querySelector('td')})\
             .map(function(r){return Array.from(r.cells).map(function(c){return c.innerText.trim()})});",
            &[],
        )
        .await
        .expect("a script runs");
    serde_json::from_value(rows).expect("rows of text")
}

// ---------------------------------------------------------------- scenarios

/// 1. Password, a wrong code, the right code; the session cookie is out of the page's reach.
async fn log_in_with_password_and_whatsapp_code(run: &Run, admin: &Session) {
    eprintln!("scenario 1: the admin logs in with a password and a WhatsApp code");
    log_in(run, admin, &ADMIN, true, true).await;
    let title = admin.title().await.expect("a title");
    assert!(title.starts_with("Overview"), "{title}");
    admin.wait_for_text("The last 24 hours", WAIT).await;
    let visible = admin
        .execute("return document.cookie;", &[])
        .await
        .expect("a script runs");
    assert!(
        !visible.as_str().unwrap_or_default().contains("gw_console"),
        "the session cookie is readable by scripts: {visible}"
    );
    let cookie = admin
        .cookie("gw_console")
        .await
        .expect("the cookie store answers")
        .expect("the session cookie is set");
    assert_eq!(cookie["httpOnly"], json!(true), "{cookie}");
    assert_eq!(cookie["sameSite"], json!("Strict"), "{cookie}");
}

/// Records every EventSource a page opens (`window.__streams`), from the next page on.
async fn watch_event_sources(session: &Session) {
    let source = "(function(){var Real=window.EventSource;if(!Real){return;}window.__streams=[];\
        window.EventSource=function(url,options){var s=new Real(url,options);window.__streams.push(s);return s;};\
        window.EventSource.prototype=Real.prototype;})();";
    session
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": source }),
        )
        .await
        .expect("the script is installed");
}

/// 2. A VA paid over the API shows up as paid on the open monitor, without a reload.
async fn live_monitor_updates_in_place(run: &Run, admin: &Session) -> Paid {
    eprintln!("scenario 2: the live monitor shows a VA being paid without reloading");
    watch_event_sources(admin).await;
    admin
        .goto(&run.sandbox.page("/console/monitor"))
        .await
        .expect("the monitor opens");
    admin
        .execute("window.__still_here = 42;", &[])
        .await
        .expect("a script runs");
    // The stream's starting point is read before it opens: only then can a change be seen.
    admin
        .wait_until(
            "the monitor's event stream to open",
            WAIT,
            async |s: &Session| {
                holds(
                    s,
                    "return (window.__streams||[]).some(function(s){return s.readyState===1});",
                )
                .await
            },
        )
        .await;
    let amount = 150_000;
    let reference = format!("CONSOLE-E2E-{}", std::process::id());
    let request = json!({
        "reference": reference, "amount": amount, "customer": {"name": "Budi Santoso"},
        "expires_at": "2030-01-01T00:00:00Z",
    });
    let (status, va) = run
        .sandbox
        .signed("POST", "/v1/virtual-accounts", Some(&request))
        .await;
    assert_eq!(status, 201, "{va}");
    let va = va["id"].as_str().expect("the VA's id").to_owned();
    let (status, paid) = run
        .sandbox
        .drive(&format!("/sandbox/virtual-accounts/{va}/pay"))
        .await;
    assert_eq!(status, 200, "{paid}");
    let what = format!("a row for {va} with status paid in #rows");
    admin
        .wait_until(&what, WAIT, async |s: &Session| {
            let rows = s.find_all("#rows tr").await.map_err(|e| e.to_string())?;
            let mut seen = Vec::new();
            for row in rows {
                // The rows are replaced as the page updates: a vanished one is looked at again.
                let text = row.text().await.map_err(|e| e.to_string())?;
                if text.contains(&va) && text.split_whitespace().any(|w| w == "paid") {
                    return Ok(());
                }
                seen.push(text);
            }
            Err(format!("the rows are {seen:?}"))
        })
        .await;
    let still = admin
        .execute("return window.__still_here;", &[])
        .await
        .expect("a script runs");
    assert_eq!(
        still,
        json!(42),
        "the monitor reloaded instead of updating in place"
    );
    let event = paid_event(run, &va).await;
    resource_detail_shows_callback_and_event(admin, &va, &event).await;
    Paid { va, amount, event }
}

/// The id of the VA's `virtual_account.paid` event.
async fn paid_event(run: &Run, va: &str) -> String {
    let (status, events) = run
        .sandbox
        .signed("GET", "/v1/events?type=virtual_account.paid", None)
        .await;
    assert_eq!(status, 200, "{events}");
    events["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["data"]["id"] == json!(va))
        .and_then(|e| e["id"].as_str())
        .unwrap_or_else(|| panic!("no virtual_account.paid event for {va}: {events}"))
        .to_owned()
}

async fn resource_detail_shows_callback_and_event(admin: &Session, va: &str, event: &str) {
    let link = admin
        .find(&format!(
            "#rows a[href='/console/monitor/virtual_account/{va}']"
        ))
        .await
        .expect("the row links to its detail page");
    link.click().await.expect("clicked");
    admin
        .wait_for_path(&format!("/console/monitor/virtual_account/{va}"), WAIT)
        .await;
    admin
        .wait_for_text("Callbacks from the provider", WAIT)
        .await;
    let tables = admin
        .execute(
            "return Array.from(document.querySelectorAll('main table')).map(function(t){return t.rows.length});",
            &[],
        )
        .await
        .expect("a script runs");
    // The resource, its calls to the provider, its callbacks and its events (each a header
    // and at least one row).
    let sizes: Vec<usize> = serde_json::from_value(tables).expect("row counts");
    assert!(
        sizes.len() == 4 && sizes[1] >= 2 && sizes[2] >= 2 && sizes[3] >= 2,
        "no callback or no event on the detail page: {sizes:?}; {}",
        admin.context().await
    );
    let delivery = admin
        .find(&format!("a[href='/console/deliveries/{event}']"))
        .await
        .expect("the detail page links to the event's deliveries");
    assert_eq!(delivery.text().await.expect("its text"), event);
    let text = admin.page_text().await.expect("the page's text");
    assert!(text.contains("virtual_account.paid"), "{text}");
}

/// Waits until the event has been dead-lettered (nothing listens at the webhook URL yet).
async fn dead_lettered(run: &Run, event: &str) -> usize {
    let deadline = Instant::now() + WAIT;
    loop {
        let body = run.sandbox.event(event).await;
        if body["delivery"]["status"] == json!("failed") {
            return run.sandbox.attempts(event).await;
        }
        assert!(
            Instant::now() < deadline,
            "{event} was never dead-lettered: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Posts a form the page did not offer, as a script in the page would.
async fn forge(run: &Run, staff: &Session, action: &str, fields: &[(&str, &str)]) {
    staff
        .goto(&run.sandbox.page("/console"))
        .await
        .expect("the overview opens");
    let fields: Vec<[&str; 2]> = fields.iter().map(|(k, v)| [*k, *v]).collect();
    staff
        .execute(
            "var f=document.createElement('form');f.method='post';f.action=arguments[0];\
             arguments[1].forEach(function(p){var i=document.createElement('input');i.type='hidden';\
             i.name=p[0];i.value=p[1];f.appendChild(i);});document.body.appendChild(f);f.submit();",
            &[json!(action), json!(fields)],
        )
        .await
        .expect("the forged form is posted");
    staff.wait_for_path(action, WAIT).await;
    staff.wait_for_text(FORBIDDEN, WAIT).await;
}

/// 3. Staff sees no replay controls, no audit log, and forged admin posts are refused.
async fn staff_is_refused_admin_actions(run: &Run, driver: &Driver, paid: &Paid) -> usize {
    eprintln!("scenario 3: a staff operator is refused admin pages and forged admin posts");
    let attempts = dead_lettered(run, &paid.event).await;
    let staff = open_browser(driver).await;
    log_in(run, &staff, &STAFF, false, false).await;
    staff_sees_no_admin_controls(run, &staff, paid).await;
    forged_admin_posts_are_refused(run, &staff, paid).await;
    staff.close().await.expect("the staff browser quits");
    // Nothing was replayed.
    let event = run.sandbox.event(&paid.event).await;
    assert_eq!(event["delivery"]["status"], json!("failed"), "{event}");
    assert_eq!(run.sandbox.attempts(&paid.event).await, attempts);
    attempts
}

async fn staff_sees_no_admin_controls(run: &Run, staff: &Session, paid: &Paid) {
    staff
        .goto(&run.sandbox.page("/console/deliveries"))
        .await
        .expect("the deliveries open");
    staff.wait_for_text(&paid.event, WAIT).await;
    let boxes = staff.find_all("input[name=ids]").await.expect("a search");
    assert!(boxes.is_empty(), "staff is offered replay checkboxes");
    let text = staff.page_text().await.expect("the page's text");
    assert!(
        !text.contains("Replay selected"),
        "staff is offered replay: {text}"
    );
    let audit_links = staff
        .find_all("a[href='/console/audit']")
        .await
        .expect("a search");
    assert!(
        audit_links.is_empty(),
        "staff is shown the audit log's link"
    );
    staff
        .goto(&run.sandbox.page("/console/audit"))
        .await
        .expect("the audit page answers");
    staff.wait_for_text(FORBIDDEN, WAIT).await;
}

/// Staff posts, with its own valid CSRF token, the forms only admins are offered.
async fn forged_admin_posts_are_refused(run: &Run, staff: &Session, paid: &Paid) {
    let csrf = staff
        .find("form[action='/console/logout'] input[name=csrf]")
        .await
        .expect("the logout form's token")
        .attribute("value")
        .await
        .expect("an attribute")
        .expect("a token");
    let csrf = csrf.as_str();
    let forgeries: [(&str, &[(&str, &str)]); 4] = [
        (
            "/console/deliveries/replay",
            &[("csrf", csrf), ("ids", &paid.event)],
        ),
        (
            "/console/reports/reconciliations",
            &[
                ("csrf", csrf),
                ("biller", "digiflazz_sandbox"),
                ("date", &run.today),
            ],
        ),
        (
            "/console/providers/switch",
            &[
                ("csrf", csrf),
                ("instance", "nicepay_sandbox"),
                ("state", "off"),
                ("reason", "forged"),
            ],
        ),
        (
            "/console/operators",
            &[
                ("csrf", csrf),
                ("username", "mallory"),
                ("role", "admin"),
                ("phone", "+6281100000099"),
                ("password", "xxxxxxxxxxxxxxxx"),
            ],
        ),
    ];
    for (action, fields) in forgeries {
        forge(run, staff, action, fields).await;
    }
    // The instance is still on.
    staff
        .goto(&run.sandbox.page("/console/providers"))
        .await
        .expect("the providers open");
    let state = staff
        .wait_for("#switch-nicepay_sandbox td:nth-child(3)", WAIT)
        .await
        .text()
        .await
        .expect("its text");
    assert_eq!(state, "on", "the forged switch took effect");
}

/// 4. The admin replays the dead-lettered event; it reaches a receiver now listening.
async fn admin_replays_a_dead_lettered_event(
    run: &Run,
    admin: &Session,
    paid: &Paid,
    attempts: usize,
) {
    eprintln!("scenario 4: the admin replays the dead-lettered event");
    let deliveries = run.sandbox.page("/console/deliveries");
    admin
        .reload_until_text(&deliveries, &paid.event, WAIT)
        .await;
    let checkbox_css = format!("input[name=ids][value='{}']", paid.event);
    let checkbox = admin
        .find(&checkbox_css)
        .await
        .expect("the event's checkbox");
    // Still as scenario 3 left it: the forged replay did nothing.
    let row = admin
        .execute(
            "return Array.from(document.querySelector(arguments[0]).closest('tr').cells).map(function(c){return c.innerText.trim()});",
            &[json!(checkbox_css)],
        )
        .await
        .expect("a script runs");
    assert_eq!(row[3], json!("virtual_account.paid"), "{row}");
    assert_eq!(row[4], json!(attempts.to_string()), "{row}");
    run.shots.take(admin, "deliveries").await;
    let receiver = Receiver::start(run.sandbox.echo).await;
    checkbox.click().await.expect("ticked");
    assert_eq!(
        checkbox.property("checked").await.expect("a property"),
        json!(true)
    );
    let mut replay = None;
    for button in admin.find_all("main form button").await.expect("a search") {
        if button.text().await.expect("its text") == "Replay selected" {
            replay = Some(button);
        }
    }
    mark(admin).await;
    replay
        .expect("a Replay selected button")
        .click()
        .await
        .expect("clicked");
    wait_for_new_document(admin).await;
    let detail = run
        .sandbox
        .page(&format!("/console/deliveries/{}", paid.event));
    admin
        .reload_until_text(&detail, ": delivered after", WAIT)
        .await;
    let got = poll(WAIT, || async {
        receiver
            .received()
            .into_iter()
            .find(|r| r.headers.get("webhook-id") == Some(&paid.event))
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the receiver never got {}: {:?}",
            paid.event,
            receiver.received()
        )
    });
    assert_eq!(got.body["data"]["id"], json!(paid.va), "{:?}", got.body);
    assert_eq!(
        got.body["type"],
        json!("virtual_account.paid"),
        "{:?}",
        got.body
    );
}

/// 5. The audit log names the replay and the logins, and no staff action but logging in.
async fn audit_log_shows_the_replay_and_logins(run: &Run, admin: &Session, paid: &Paid) {
    eprintln!("scenario 5: the audit log shows the replay and the logins");
    admin
        .goto(&run.sandbox.page("/console/audit"))
        .await
        .expect("the audit log opens");
    admin.wait_for_text("event_replayed", WAIT).await;
    // When, who, what, on, detail, from.
    let rows = table_rows(admin).await;
    let has = |who: &str, what: &str| {
        rows.iter()
            .any(|r| r.len() == 6 && r[1] == who && r[2] == what)
    };
    assert!(
        rows.iter().any(|r| r.len() == 6
            && r[1] == ADMIN.username
            && r[2] == "event_replayed"
            && r[3] == paid.event),
        "no replay of {} by {} in {rows:?}",
        paid.event,
        ADMIN.username
    );
    assert!(
        has(ADMIN.username, "login") && has(STAFF.username, "login"),
        "{rows:?}"
    );
    for row in rows.iter().filter(|r| r[1] == STAFF.username) {
        assert!(row[2] == "login" || row[2] == "logout", "staff did {row:?}");
    }
    assert!(
        !rows.iter().flatten().any(|cell| cell.contains("mallory")),
        "the forged operator's name is in the audit log: {rows:?}"
    );
    admin
        .goto(&run.sandbox.page("/console/operators"))
        .await
        .expect("the operators open");
    admin.wait_for_text(STAFF.username, WAIT).await;
    let text = admin.page_text().await.expect("the page's text");
    assert!(
        !text.contains("mallory"),
        "the forged operator exists: {text}"
    );
}

/// Clicks the three download links and reads the files: CSV, XLSX and PDF rows.
async fn download_three(session: &Session, ids: [&str; 3]) -> [Vec<Vec<String>>; 3] {
    let dir = session.downloads().to_owned();
    for entry in std::fs::read_dir(&dir)
        .expect("the download directory")
        .flatten()
    {
        let _ = std::fs::remove_file(entry.path());
    }
    for id in ids {
        session
            .wait_for(&format!("#{id}"), WAIT)
            .await
            .click()
            .await
            .expect("the download starts");
    }
    let files = poll(WAIT, || async { downloaded(&dir) })
        .await
        .unwrap_or_else(|| {
            panic!(
                "the CSV, XLSX and PDF never all arrived in {}: {:?}",
                dir.display(),
                std::fs::read_dir(&dir)
                    .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
            )
        });
    let read = |extension: &str| std::fs::read(&files[extension]).expect("a downloaded file");
    let csv = String::from_utf8(read("csv")).expect("the CSV is UTF-8");
    [
        exports::read_csv(&csv).expect("the CSV reads"),
        exports::read_xlsx(&read("xlsx")).expect("the XLSX reads"),
        exports::read_pdf(&read("pdf")).expect("the PDF reads"),
    ]
}

/// The downloads by extension, once all three are complete.
fn downloaded(dir: &Path) -> Option<BTreeMap<String, PathBuf>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let extension = path.extension()?.to_string_lossy().into_owned();
        if extension == "crdownload" || extension == "tmp" {
            return None;
        }
        files.insert(extension, path);
    }
    ["csv", "xlsx", "pdf"]
        .iter()
        .all(|e| files.contains_key(*e))
        .then_some(files)
}

fn assert_same_tables(tables: &[Vec<Vec<String>>; 3], what: &str) {
    let [csv, xlsx, pdf] = tables;
    assert!(csv.len() >= 2, "the {what} CSV has no rows: {csv:?}");
    assert_eq!(csv, xlsx, "the {what} CSV and XLSX differ");
    assert_eq!(csv, pdf, "the {what} CSV and PDF differ");
}

/// 6. The daily report and a reconciliation, each downloaded three ways with the same rows.
async fn reports_download_the_same_rows_three_ways(run: &Run, admin: &Session, paid: &Paid) {
    eprintln!("scenario 6: reports download as CSV, XLSX and PDF with the same rows");
    let daily = run
        .sandbox
        .page(&format!("/console/reports/daily?date={}", run.today));
    admin.goto(&daily).await.expect("the daily report opens");
    admin.wait_for_text(&paid.va, WAIT).await;
    let tables = download_three(admin, ["daily-csv", "daily-xlsx", "daily-pdf"]).await;
    assert_same_tables(&tables, "daily report");
    let digits = |cell: &String| {
        cell.chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
    };
    assert!(
        tables[0].iter().any(|row| row.contains(&paid.va)
            && row.iter().any(|c| digits(c) == paid.amount.to_string())),
        "no row with {} and {} in {:?}",
        paid.va,
        paid.amount,
        tables[0]
    );
    let bill = buy_pulsa(run).await;
    admin
        .goto(&run.sandbox.page("/console/reports"))
        .await
        .expect("the reports open");
    let form = "form[action='/console/reports/reconciliations']";
    admin.wait_for(&format!("{form} [name=biller]"), WAIT).await;
    let chosen = admin
        .execute(
            "var f=document.querySelector(arguments[2]),b=f.querySelector('[name=biller]'),\
             d=f.querySelector('[name=date]');b.value=arguments[0];d.value=arguments[1];\
             [b,d].forEach(function(e){e.dispatchEvent(new Event('change',{bubbles:true}))});\
             return [b.value,d.value];",
            &[json!("digiflazz_sandbox"), json!(run.today), json!(form)],
        )
        .await
        .expect("the form is filled");
    assert_eq!(chosen, json!(["digiflazz_sandbox", run.today]));
    let mut run_button = None;
    for button in admin
        .find_all(&format!("{form} button"))
        .await
        .expect("a search")
    {
        if button.text().await.expect("its text") == "Run reconciliation" {
            run_button = Some(button);
        }
    }
    mark(admin).await;
    run_button
        .expect("a Run reconciliation button")
        .click()
        .await
        .expect("clicked");
    wait_for_new_document(admin).await;
    let tables = download_three(admin, ["rec-csv", "rec-xlsx", "rec-pdf"]).await;
    assert_same_tables(&tables, "reconciliation");
    assert!(
        tables[0]
            .iter()
            .any(|row| row.first().is_some_and(|c| c == "matched") && row.contains(&bill)),
        "the bill payment {bill} is not matched in {:?}",
        tables[0]
    );
}

/// A pulsa purchase as the demo client (Digiflazz's test number that succeeds at once), so
/// that the biller has something to reconcile; answers its id.
async fn buy_pulsa(run: &Run) -> String {
    let purchase = json!({
        "reference": format!("CONSOLE-E2E-PULSA-{}", std::process::id()),
        "product_code": "xld10", "customer_no": "087800001230",
    });
    let (status, body) = run
        .sandbox
        .signed("POST", "/v1/bills/payments", Some(&purchase))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (201, Some("success")),
        "{body}"
    );
    body["id"].as_str().expect("the payment's id").to_owned()
}

/// 7. Every page photographed at 1280×900, and the monitor at a phone's size.
async fn screenshots_of_every_page(run: &Run, admin: &Session, paid: &Paid) {
    eprintln!("scenario 7: screenshots of every page, at a laptop's and a phone's size");
    let pages = [
        ("overview", "/console".to_owned()),
        ("monitor", "/console/monitor".to_owned()),
        (
            "resource",
            format!("/console/monitor/virtual_account/{}", paid.va),
        ),
        ("providers", "/console/providers".to_owned()),
        ("reports", "/console/reports".to_owned()),
        (
            "daily-report",
            format!("/console/reports/daily?date={}", run.today),
        ),
        ("audit", "/console/audit".to_owned()),
    ];
    for (name, path) in &pages {
        admin
            .goto(&run.sandbox.page(path))
            .await
            .expect("the page opens");
        admin.wait_for("main h1", WAIT).await;
        let (width, _) = run.shots.take(admin, name).await;
        assert_eq!(width, 1280, "the {name} screenshot's width");
    }
    admin
        .set_window_size(390, 844)
        .await
        .expect("the window resizes");
    admin
        .goto(&run.sandbox.page("/console/monitor"))
        .await
        .expect("the monitor opens");
    admin.wait_for_text(&paid.va, WAIT).await;
    let (width, _) = run.shots.take(admin, "monitor-phone").await;
    assert_eq!(width, 390, "the phone screenshot's width");
    admin
        .set_window_size(1280, 900)
        .await
        .expect("the window resizes");
    for name in ["login", "code", "deliveries", "monitor-phone"] {
        let path = run.shots.dir.join(format!("console-{name}.png"));
        assert!(path.exists(), "{} is missing", path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_end_to_end_in_headless_chromium() {
    require_browser();
    let started = Instant::now();
    let run = Run {
        sandbox: Sandbox::start().await,
        shots: Shots::new(),
        today: today_wib(),
    };
    let work = TempDir::new("console-browser").expect("a temporary directory");
    let driver = Driver::start(
        Path::new(CHROMEDRIVER),
        &work.path().join("chromedriver.log"),
    )
    .await
    .expect("chromedriver starts");
    let admin = open_browser(&driver).await;
    log_in_with_password_and_whatsapp_code(&run, &admin).await;
    let paid = live_monitor_updates_in_place(&run, &admin).await;
    let attempts = staff_is_refused_admin_actions(&run, &driver, &paid).await;
    admin_replays_a_dead_lettered_event(&run, &admin, &paid, attempts).await;
    audit_log_shows_the_replay_and_logins(&run, &admin, &paid).await;
    reports_download_the_same_rows_three_ways(&run, &admin, &paid).await;
    screenshots_of_every_page(&run, &admin, &paid).await;
    eprintln!("all scenarios passed in {:?}", started.elapsed());
}
