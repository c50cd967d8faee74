//! The operations console: a back office in the browser on its own listener
//! (`console.listen`), server-rendered HTML with no script build step.
//!
//! **Login** takes two factors: the operator's password (argon2id), then a one-time code
//! sent over WhatsApp by the gateway's own OTP service (`console.otp_client`'s route and
//! policy, purpose `console.otp_purpose`). Wrong passwords and codes count towards a
//! lockout; an unknown username costs as long as a wrong password and gets the same answer.
//! Sessions live in an HttpOnly, SameSite=Strict cookie (Secure unless configured off),
//! end after `console.idle_timeout_secs` idle or `absolute_timeout_secs` after login, and
//! logout deletes them server-side; the session token changes when the code is accepted.
//! Every form carries a CSRF token (the session's; the login form's is a double-submit
//! cookie) and a post without it is refused.
//!
//! One address may try `console.login_attempts_per_minute` passwords, and at most a few
//! password hashes run at once ([`guard`]).
//!
//! **Roles** are checked on the server for every page and action; what an admin does is
//! written to the audit log (who, what, when, from where), which admins can read here.
//! Every answer carries a content security policy that lets only the console's own
//! stylesheet and script run, forbids framing, and is not cached.
//!
//! **Pages**: the overview; the live monitor and each resource's page with its provider
//! exchanges, personal data masked (`monitor`, `mask`); deliveries with replay and
//! provider health with the switches and each product's failover route (`ops`, `admin`);
//! operator accounts (`admin`); reports downloadable as CSV, XLSX and PDF (`reports`).

pub mod accounts;
mod admin;
pub mod guard;
mod mask;
mod monitor;
mod ops;
mod reports;
pub mod sessions;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sqlx::AnyConnection;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::service::otp::{self, NewOtp, OtpCheck};
use crate::store::{StoreError, new_id, now_ms};
use accounts::{Operator, Role};
use sessions::{COOKIE, Session, stage};

/// The login form's double-submit CSRF cookie.
const LOGIN_CSRF_COOKIE: &str = "gw_console_login";

/// The console's routes (served on the console listener).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/console/assets/console.css", get(stylesheet))
        .route("/console/assets/monitor.js", get(monitor::script))
        .route("/console", get(dashboard))
        .route("/console/login", get(login_page).post(login))
        .route("/console/login/code", get(code_page).post(code))
        .route("/console/logout", post(logout))
        .route("/console/audit", get(audit_page))
        .route("/console/monitor", get(monitor::monitor))
        .route("/console/monitor/rows", get(monitor::rows))
        .route("/console/monitor/stream", get(monitor::stream))
        .route("/console/monitor/{kind}/{id}", get(monitor::detail))
        .route("/console/deliveries", get(ops::deliveries))
        .route("/console/deliveries/replay", post(ops::replay))
        .route("/console/deliveries/{id}", get(ops::delivery))
        .route("/console/providers", get(ops::providers))
        .route("/console/providers/switch", post(admin::switch))
        .route(
            "/console/operators",
            get(admin::operators).post(admin::add_operator),
        )
        .route("/console/operators/{id}", post(admin::change_operator))
        .route("/console/reports", get(reports::index))
        .route("/console/reports/daily", get(reports::daily))
        .route(
            "/console/reports/reconciliations",
            post(reports::run_reconciliation),
        )
        .route(
            "/console/reports/reconciliations/{id}",
            get(reports::reconciliation),
        )
        .route("/console/reports/usage", get(reports::usage))
        .layer(axum::middleware::from_fn(protective_headers))
        .with_state(state)
}

/// The policy every console response carries: only the console's own stylesheet and
/// script run, forms post only to the console, no page may be framed (no clickjacking of
/// an admin's buttons), nothing is cached or leaks in a referrer.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn protective_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The console's stylesheet.
async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CSS,
    )
        .into_response()
}

/// Where a request came from: the peer address, for the audit log.
#[derive(Debug)]
pub struct Remote(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Remote {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Remote(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string()),
        ))
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let secure = if state.settings().console.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let age = max_age.map_or_else(String::new, |s| format!("; Max-Age={s}"));
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/console; HttpOnly; SameSite=Strict{secure}{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page in the console's layout (readable on a laptop and a phone; no scripts).
fn page(title: &str, operator: Option<(&Operator, &Session)>, body: &str) -> Html<String> {
    let nav = operator.map_or_else(String::new, |(op, session)| {
        let audit = if op.role == Role::Admin {
            "<a href=\"/console/operators\">Operators</a><a href=\"/console/audit\">Audit log</a>"
        } else {
            ""
        };
        format!(
            "<nav><a href=\"/console\">Overview</a><a href=\"/console/monitor\">Monitor</a>\
             <a href=\"/console/deliveries\">Deliveries</a>\
             <a href=\"/console/providers\">Providers</a><a href=\"/console/reports\">Reports</a>{audit}<span class=\"who\">{} ({})</span>\
             <form method=\"post\" action=\"/console/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button>Log out</button></form></nav>",
            escape(&op.username),
            op.role.as_str(),
            escape(&session.csrf_token)
        )
    });
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Gateway console</title><link rel=\"stylesheet\" href=\"/console/assets/console.css\"></head>\
         <body><header><strong>Gateway console</strong>{nav}</header><main><h1>{title}</h1>{body}</main></body></html>",
        title = escape(title),
    ))
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1b1f23;background:#f6f8fa}\
header{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;padding:.75rem 1rem;background:#24292f;color:#fff}\
header a{color:#fff}nav{display:flex;flex-wrap:wrap;gap:1rem;align-items:center}nav form{display:inline}\
.who{opacity:.8}main{max-width:90rem;margin:0 auto;padding:1rem}\
form.card{background:#fff;padding:1rem;border-radius:6px;max-width:24rem;display:grid;gap:.75rem}\
label{display:grid;gap:.25rem}input{padding:.5rem;font-size:1rem}button{padding:.5rem 1rem;font-size:1rem}\
.error{color:#b42318}form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin-bottom:1rem}\
form.filters input{width:9rem}table{border-collapse:collapse;width:100%;background:#fff}\
form.inline{display:inline}form.inline button,td button{padding:.2rem .5rem;font-size:.85rem}\
.num{text-align:right}.off{color:#b42318;font-weight:600}.active{font-weight:600}\
td,th{padding:.4rem .6rem;border-bottom:1px solid #d0d7de;text-align:left;font-size:.9rem}\
form.inline input{width:8rem;padding:.25rem;font-size:.85rem}\
@media(max-width:700px){td,th{font-size:.8rem;padding:.3rem}table{display:block;overflow-x:auto}}";

fn forbidden(operator: &Operator, session: &Session) -> Response {
    (
        StatusCode::FORBIDDEN,
        page(
            "Not allowed",
            Some((operator, session)),
            "<p>This needs the admin role.</p>",
        ),
    )
        .into_response()
}

/// The live session of a request and its operator, when the session is at `stage`;
/// otherwise a redirect to the login page.
async fn session_at(
    state: &AppState,
    headers: &HeaderMap,
    wanted: &'static str,
) -> Result<(Operator, Session), Response> {
    let to_login = || Redirect::to("/console/login").into_response();
    let Some(token) = cookie(headers, COOKIE) else {
        return Err(to_login());
    };
    let idle_ms = state.settings().console.idle_timeout_secs * 1000;
    let found = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                let Some(session) = sessions::find(conn, &token, idle_ms, now_ms()).await? else {
                    return Ok(None);
                };
                let operator = accounts::by_id(conn, &session.operator_id).await?;
                Ok(operator.map(|o| (o, session)))
            })
        })
        .await;
    match found {
        Ok(Some((operator, session))) if session.stage == wanted && !operator.disabled => {
            Ok((operator, session))
        }
        Ok(_) => Err(to_login()),
        Err(e) => Err(storage(&e)),
    }
}

/// The logged-in operator of a request, or a redirect to the login page.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<(Operator, Session), Response> {
    session_at(state, headers, stage::ACTIVE).await
}

fn storage(e: &StoreError) -> Response {
    tracing::error!(error = %e, "console storage failure");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        page(
            "Try again",
            None,
            "<p>The console cannot reach its database right now.</p>",
        ),
    )
        .into_response()
}

fn csrf_ok(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        page(
            "Not allowed",
            None,
            "<p>The form expired or did not come from this console.</p>",
        ),
    )
        .into_response()
}

/// Writes one audit entry.
pub async fn audit(
    conn: &mut AnyConnection,
    operator: Option<&Operator>,
    username: &str,
    action: &str,
    target: Option<&str>,
    detail: Option<&str>,
    remote: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit_log (id, operator_id, username, action, target, detail, remote, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(new_id("aud"))
        .bind(operator.map(|o| o.id.clone()))
        .bind(username)
        .bind(action)
        .bind(target)
        .bind(detail)
        .bind(remote)
        .bind(now_ms())
        .execute(conn)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- login

fn login_form(csrf: &str, error: Option<&str>) -> String {
    let error = error.map_or_else(String::new, |e| {
        format!("<p class=\"error\">{}</p>", escape(e))
    });
    format!(
        "{error}<form class=\"card\" method=\"post\" action=\"/console/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>Username<input name=\"username\" autocomplete=\"username\" required></label>\
         <label>Password<input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button>Continue</button></form>",
        csrf = escape(csrf)
    )
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if signed_in(&state, &headers).await.is_ok() {
        return Redirect::to("/console").into_response();
    }
    let csrf = sessions::random_token();
    let mut response = page("Log in", None, &login_form(&csrf, None)).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, LOGIN_CSRF_COOKIE, &csrf, Some(3_600)),
    );
    response
}

/// The login form.
#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

const WRONG_LOGIN: &str = "Wrong username or password.";
const LOCKED: &str = "Too many failed attempts: this account is locked for a while.";

async fn login(
    State(state): State<AppState>,
    Remote(remote): Remote,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if !csrf_ok(&expected, &form.csrf) {
        return csrf_refused();
    }
    let again = |status: StatusCode, error: &str| {
        (
            status,
            page("Log in", None, &login_form(&expected, Some(error))),
        )
            .into_response()
    };
    if !state.console_logins().admit(&remote) {
        tracing::warn!(remote = %remote, "console login attempts over the per-address limit");
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts from your address: wait a minute.",
        );
    }
    let username = form.username.trim().to_owned();
    let lookup = username.clone();
    let operator = match state
        .db()
        .write(move |conn| Box::pin(async move { accounts::by_username(conn, &lookup).await }))
        .await
    {
        Ok(found) => found,
        Err(e) => return storage(&e),
    };
    let password = form.password;
    let hash = operator.as_ref().map_or_else(
        || accounts::decoy_hash().to_owned(),
        |o| o.password_hash.clone(),
    );
    let matches = {
        let _turn = state.console_logins().hashing().await;
        tokio::task::spawn_blocking(move || accounts::password_matches(&password, &hash))
            .await
            .unwrap_or(false)
    };
    let settings = state.settings().console.clone();
    let now = now_ms();
    let Some(operator) = operator.filter(|o| !o.disabled) else {
        return again(StatusCode::UNAUTHORIZED, WRONG_LOGIN);
    };
    if operator.locked(now) {
        return again(StatusCode::TOO_MANY_REQUESTS, LOCKED);
    }
    if !matches {
        let locked = wrong_attempt(&state, &operator, "wrong password", None, &remote).await;
        return match locked {
            Ok(true) => again(StatusCode::TOO_MANY_REQUESTS, LOCKED),
            Ok(false) => again(StatusCode::UNAUTHORIZED, WRONG_LOGIN),
            Err(e) => storage(&e),
        };
    }
    // The second factor: a code over WhatsApp through the gateway's own OTP service.
    let Some(client) = settings.otp_client.clone() else {
        return again(
            StatusCode::SERVICE_UNAVAILABLE,
            "Codes cannot be sent: the console has no OTP client.",
        );
    };
    let sent = otp::create(
        &state,
        &client,
        NewOtp {
            recipient: operator.phone.clone(),
            purpose: settings.otp_purpose.clone(),
            channel: "whatsapp".to_owned(),
        },
    )
    .await;
    let otp = match sent {
        Ok(otp) => otp,
        Err(e) => {
            tracing::warn!(operator = %operator.id, code = e.code(), "console login code not sent");
            return again(
                StatusCode::SERVICE_UNAVAILABLE,
                "The login code could not be sent; try again shortly.",
            );
        }
    };
    let operator_id = operator.id.clone();
    let expires = now + 10 * 60_000;
    let started = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                sessions::end_pending(conn, &operator_id).await?;
                sessions::start(conn, &operator_id, stage::OTP, Some(&otp.id), now, expires).await
            })
        })
        .await;
    match started {
        Ok((token, _)) => {
            let mut response = Redirect::to("/console/login/code").into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, set_cookie(&state, COOKIE, &token, None));
            response
        }
        Err(e) => storage(&e),
    }
}

/// Counts a wrong password or code towards the operator's lockout; when it locks the
/// account, ends `session` (a login waiting for its code) and writes the audit entry.
/// Returns whether the account is now locked.
async fn wrong_attempt(
    state: &AppState,
    operator: &Operator,
    why: &'static str,
    session: Option<String>,
    remote: &str,
) -> Result<bool, StoreError> {
    let settings = state.settings().console.clone();
    let (who, remote, now) = (operator.clone(), remote.to_owned(), now_ms());
    state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                let locked = accounts::record_failure(
                    conn,
                    &who.id,
                    settings.max_failed_logins,
                    settings.lockout_secs * 1000,
                    now,
                )
                .await?;
                if locked {
                    if let Some(hash) = &session {
                        sessions::end(conn, hash).await?;
                    }
                    audit(
                        conn,
                        Some(&who),
                        &who.username,
                        "account_locked",
                        None,
                        Some(why),
                        &remote,
                    )
                    .await?;
                }
                Ok(locked)
            })
        })
        .await
}

/// The session waiting for its code.
async fn pending(state: &AppState, headers: &HeaderMap) -> Result<(Operator, Session), Response> {
    session_at(state, headers, stage::OTP).await
}

fn code_form(csrf: &str, error: Option<&str>) -> String {
    let error = error.map_or_else(String::new, |e| {
        format!("<p class=\"error\">{}</p>", escape(e))
    });
    format!(
        "{error}<p>A 6-digit code was sent to your WhatsApp.</p>\
         <form class=\"card\" method=\"post\" action=\"/console/login/code\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>Code<input name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{{6}}\" required></label>\
         <button>Log in</button></form>",
        csrf = escape(csrf)
    )
}

async fn code_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match pending(&state, &headers).await {
        Ok((_, session)) => page(
            "Enter the code",
            None,
            &code_form(&session.csrf_token, None),
        )
        .into_response(),
        Err(response) => response,
    }
}

/// The code form.
#[derive(Deserialize)]
struct CodeForm {
    code: String,
    csrf: String,
}

impl std::fmt::Debug for CodeForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeForm").finish_non_exhaustive()
    }
}

async fn code(
    State(state): State<AppState>,
    Remote(remote): Remote,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let (operator, session) = match pending(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !csrf_ok(&session.csrf_token, &form.csrf) {
        return csrf_refused();
    }
    let settings = state.settings().console.clone();
    let client = settings.otp_client.clone().unwrap_or_default();
    let checked = otp::verify(
        &state,
        &client,
        session.otp_id.as_deref().unwrap_or_default(),
        OtpCheck { code: form.code },
    )
    .await;
    let now = now_ms();
    if checked.is_err() {
        let pending = Some(session.token_hash.clone());
        let locked = wrong_attempt(&state, &operator, "wrong code", pending, &remote).await;
        return match locked {
            Ok(true) => (
                StatusCode::TOO_MANY_REQUESTS,
                page(
                    "Log in",
                    None,
                    &format!(
                        "<p class=\"error\">{}</p><p><a href=\"/console/login\">Back</a></p>",
                        escape(LOCKED)
                    ),
                ),
            )
                .into_response(),
            Ok(false) => (
                StatusCode::UNAUTHORIZED,
                page(
                    "Enter the code",
                    None,
                    &code_form(&session.csrf_token, Some("Wrong or expired code.")),
                ),
            )
                .into_response(),
            Err(e) => storage(&e),
        };
    }
    // A new token for the logged-in session: the pre-login one is never promoted.
    let absolute = settings.absolute_timeout_secs * 1000;
    let (old, who) = (session.token_hash.clone(), operator.clone());
    let started = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                sessions::end(conn, &old).await?;
                accounts::record_login(conn, &who.id, now).await?;
                audit(
                    conn,
                    Some(&who),
                    &who.username,
                    "login",
                    None,
                    None,
                    &remote,
                )
                .await?;
                sessions::start(conn, &who.id, stage::ACTIVE, None, now, now + absolute).await
            })
        })
        .await;
    match started {
        Ok((token, _)) => {
            let mut response = Redirect::to("/console").into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, set_cookie(&state, COOKIE, &token, None));
            response
        }
        Err(e) => storage(&e),
    }
}

/// The logout form.
#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    Remote(remote): Remote,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !csrf_ok(&session.csrf_token, &form.csrf) {
        return csrf_refused();
    }
    let hash = session.token_hash.clone();
    let ended = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                sessions::end(conn, &hash).await?;
                audit(
                    conn,
                    Some(&operator),
                    &operator.username,
                    "logout",
                    None,
                    None,
                    &remote,
                )
                .await
            })
        })
        .await;
    if let Err(e) = ended {
        return storage(&e);
    }
    let mut response = Redirect::to("/console/login").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&state, COOKIE, "", Some(0)));
    response
}

// ---------------------------------------------------------------- pages

async fn dashboard(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let since = now_ms() - 86_400_000;
    let mut rows = String::new();
    for (label, table) in [
        ("Virtual accounts", "virtual_accounts"),
        ("Payments", "payments"),
        ("Bill payments", "bill_payments"),
        ("Signers", "esign_signers"),
        ("Documents", "esign_documents"),
        ("Messages", "messages"),
    ] {
        let sql = format!(
            "SELECT status, COUNT(*) FROM {table} WHERE created_at >= $1 GROUP BY status ORDER BY status"
        );
        let counts: Vec<(String, i64)> = match sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(since)
            .fetch_all(state.db().pool())
            .await
        {
            Ok(counts) => counts,
            Err(e) => return storage(&StoreError::from(e)),
        };
        let text = if counts.is_empty() {
            "none".to_owned()
        } else {
            counts
                .iter()
                .map(|(s, n)| format!("{} {n}", escape(s)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        rows.push_str(&format!("<tr><th>{label}</th><td>{text}</td></tr>"));
    }
    page(
        "Overview",
        Some((&operator, &session)),
        &format!("<p>The last 24 hours, by status.</p><table>{rows}</table>"),
    )
    .into_response()
}

/// One audit row: who, action, target, detail, from where, when.
type AuditEntry = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

async fn audit_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if operator.role != Role::Admin {
        return forbidden(&operator, &session);
    }
    let entries: Vec<AuditEntry> =
        match sqlx::query_as("SELECT username, action, target, detail, remote, at FROM audit_log ORDER BY at DESC, id DESC LIMIT 200")
            .fetch_all(state.db().pool())
            .await
        {
            Ok(entries) => entries,
            Err(e) => return storage(&StoreError::from(e)),
        };
    let mut rows = String::from(
        "<tr><th>When</th><th>Who</th><th>What</th><th>On</th><th>Detail</th><th>From</th></tr>",
    );
    for (who, action, target, detail, remote, at) in entries {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            crate::service::fields::rfc3339(at),
            escape(&who),
            escape(&action),
            escape(target.as_deref().unwrap_or("")),
            escape(detail.as_deref().unwrap_or("")),
            escape(remote.as_deref().unwrap_or("")),
        ));
    }
    page(
        "Audit log",
        Some((&operator, &session)),
        &format!("<table>{rows}</table>"),
    )
    .into_response()
}
