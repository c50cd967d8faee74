//! Admin actions: switching provider instances off and on, and managing operator
//! accounts. Each is refused to staff on the server (a forged form post included) and
//! written to the audit log.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::accounts::{self, AccountError, Listed, Operator, Role};
use super::sessions::Session;
use super::{Remote, audit, csrf_ok, csrf_refused, escape, forbidden, page, signed_in, storage};
use crate::app::AppState;
use crate::service::fields::rfc3339;
use crate::store::{now_ms, switches};

/// A form body's fields (the last value of a repeated name wins).
fn fields(body: &Bytes) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The signed-in admin of a form post whose CSRF token matches, or the refusal.
async fn admin_post(
    state: &AppState,
    headers: &HeaderMap,
    form: &BTreeMap<String, String>,
) -> Result<(Operator, Session), Response> {
    let (operator, session) = signed_in(state, headers).await?;
    if !csrf_ok(
        &session.csrf_token,
        form.get("csrf").map_or("", String::as_str),
    ) {
        return Err(csrf_refused());
    }
    if operator.role != Role::Admin {
        return Err(forbidden(&operator, &session));
    }
    Ok((operator, session))
}

fn bad_request(
    operator: &Operator,
    session: &Session,
    title: &str,
    back: &str,
    why: &str,
) -> Response {
    (
        StatusCode::BAD_REQUEST,
        page(
            title,
            Some((operator, session)),
            &format!(
                "<p class=\"error\">{}</p><p><a href=\"{back}\">Back</a></p>",
                escape(why)
            ),
        ),
    )
        .into_response()
}

// ---------------------------------------------------------------- provider switches

/// `POST /console/providers/switch` (admin; `instance`, `state` = `off` | `on`, `reason`
/// required to switch off): stops or resumes new business for one instance at once, on
/// every gateway process sharing the database within a few scheduler ticks.
pub(super) async fn switch(
    State(state): State<AppState>,
    Remote(remote): Remote,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = fields(&body);
    let (operator, session) = match admin_post(&state, &headers, &form).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let instance = form.get("instance").cloned().unwrap_or_default();
    if state.registry().get(&instance).is_none() {
        return bad_request(
            &operator,
            &session,
            "Providers",
            "/console/providers",
            "No such provider instance.",
        );
    }
    let off = match form.get("state").map(String::as_str) {
        Some("off") => true,
        Some("on") => false,
        _ => {
            return bad_request(
                &operator,
                &session,
                "Providers",
                "/console/providers",
                "Say whether to switch the instance off or on.",
            );
        }
    };
    let reason = form
        .get("reason")
        .map(|r| r.trim().chars().take(200).collect::<String>())
        .filter(|r| !r.is_empty());
    if off && reason.is_none() {
        return bad_request(
            &operator,
            &session,
            "Providers",
            "/console/providers",
            "Give a reason for switching the instance off.",
        );
    }
    let who = operator.clone();
    let target = instance.clone();
    let changed = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                let changed = switches::set(
                    conn,
                    &target,
                    off,
                    reason.as_deref(),
                    &who.username,
                    now_ms(),
                )
                .await?;
                if changed {
                    audit(
                        conn,
                        Some(&who),
                        &who.username,
                        if off {
                            "provider_switched_off"
                        } else {
                            "provider_switched_on"
                        },
                        Some(&target),
                        reason.as_deref(),
                        &remote,
                    )
                    .await?;
                }
                Ok(changed)
            })
        })
        .await;
    match changed {
        Ok(_) => {
            if let Err(e) = switches::load(state.db(), state.registry().switches()).await {
                return storage(&e);
            }
            tracing::info!(instance = %instance, off, operator = %operator.username, "provider instance switched");
            Redirect::to("/console/providers").into_response()
        }
        Err(e) => storage(&e),
    }
}

// ---------------------------------------------------------------- operators

/// `GET /console/operators` (admin): the accounts, with actions, and a form to add one.
pub(super) async fn operators(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if operator.role != Role::Admin {
        return forbidden(&operator, &session);
    }
    operators_page(&state, &operator, &session, StatusCode::OK, None).await
}

async fn operators_page(
    state: &AppState,
    operator: &Operator,
    session: &Session,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let listed = match state
        .db()
        .write(|conn| Box::pin(async move { accounts::list(conn).await }))
        .await
    {
        Ok(listed) => listed,
        Err(e) => return storage(&e),
    };
    let csrf = escape(&session.csrf_token);
    let now = now_ms();
    let mut table = String::from(
        "<tr><th>Username</th><th>Role</th><th>WhatsApp</th><th>Status</th><th>Last login</th><th>Actions</th></tr>",
    );
    for Listed {
        operator: o,
        last_login_at,
    } in &listed
    {
        let status = if o.disabled {
            "disabled".to_owned()
        } else if o.locked(now) {
            format!("locked until {}", rfc3339(o.locked_until.unwrap_or(now)))
        } else {
            "active".to_owned()
        };
        let mut actions = Vec::new();
        if o.id != operator.id {
            let action = |name: &str, label: &str| {
                format!(
                    "<form method=\"post\" action=\"/console/operators/{id}\" class=\"inline\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <input type=\"hidden\" name=\"action\" value=\"{name}\">\
                     <button>{label}</button></form>",
                    id = escape(&o.id),
                )
            };
            actions.push(if o.disabled {
                action("enable", "Enable")
            } else {
                action("disable", "Disable")
            });
            actions.push(match o.role {
                Role::Admin => action("make_staff", "Make staff"),
                Role::Staff => action("make_admin", "Make admin"),
            });
        }
        if o.locked(now) || o.failed_attempts > 0 {
            actions.push(format!(
                "<form method=\"post\" action=\"/console/operators/{id}\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"action\" value=\"unlock\"><button>Unlock</button></form>",
                id = escape(&o.id),
            ));
        }
        table.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&o.username),
            o.role.as_str(),
            escape(&accounts::masked_phone(&o.phone)),
            escape(&status),
            last_login_at.map_or_else(|| "never".to_owned(), rfc3339),
            actions.join(" "),
        ));
    }
    let error = error.map_or_else(String::new, |e| {
        format!("<p class=\"error\">{}</p>", escape(e))
    });
    let body = format!(
        "{error}<table>{table}</table><h2>Add an operator</h2>\
         <form class=\"card\" method=\"post\" action=\"/console/operators\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>Username<input name=\"username\" required pattern=\"[a-z0-9._\\-]{{3,64}}\"></label>\
         <label>Role<select name=\"role\"><option value=\"staff\">staff</option><option value=\"admin\">admin</option></select></label>\
         <label>WhatsApp number<input name=\"phone\" required placeholder=\"+62812…\" inputmode=\"tel\"></label>\
         <label>Initial password (12 characters or more)<input name=\"password\" type=\"password\" minlength=\"12\" autocomplete=\"new-password\" required></label>\
         <button>Add operator</button></form>"
    );
    (status, page("Operators", Some((operator, session)), &body)).into_response()
}

/// `POST /console/operators` (admin): adds an account.
pub(super) async fn add_operator(
    State(state): State<AppState>,
    Remote(remote): Remote,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = fields(&body);
    let (operator, session) = match admin_post(&state, &headers, &form).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let field = |name: &str| {
        form.get(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let (username, phone) = (field("username"), field("phone"));
    let password = form.get("password").cloned().unwrap_or_default();
    let Some(role) = Role::parse(&field("role")) else {
        return operators_page(
            &state,
            &operator,
            &session,
            StatusCode::BAD_REQUEST,
            Some("The role must be admin or staff."),
        )
        .await;
    };
    let who = operator.clone();
    let created = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                match accounts::create(conn, &username, &password, role, &phone).await {
                    Ok(new) => {
                        audit(
                            conn,
                            Some(&who),
                            &who.username,
                            "operator_created",
                            Some(&new.username),
                            Some(role.as_str()),
                            &remote,
                        )
                        .await?;
                        Ok(Ok(()))
                    }
                    Err(AccountError::Store(e)) => Err(e),
                    Err(e) => Ok(Err(e.to_string())),
                }
            })
        })
        .await;
    match created {
        Ok(Ok(())) => Redirect::to("/console/operators").into_response(),
        Ok(Err(why)) => {
            operators_page(
                &state,
                &operator,
                &session,
                StatusCode::BAD_REQUEST,
                Some(&why),
            )
            .await
        }
        Err(e) => storage(&e),
    }
}

/// `POST /console/operators/{id}` (admin; `action` = `disable` | `enable` | `unlock` |
/// `make_admin` | `make_staff`). An admin cannot disable or demote themselves, so the
/// console always keeps an admin.
pub(super) async fn change_operator(
    State(state): State<AppState>,
    Remote(remote): Remote,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = fields(&body);
    let (operator, session) = match admin_post(&state, &headers, &form).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let action = form.get("action").cloned().unwrap_or_default();
    let known = matches!(
        action.as_str(),
        "disable" | "enable" | "unlock" | "make_admin" | "make_staff"
    );
    if !known {
        return operators_page(
            &state,
            &operator,
            &session,
            StatusCode::BAD_REQUEST,
            Some("Unknown action."),
        )
        .await;
    }
    if id == operator.id && matches!(action.as_str(), "disable" | "make_staff") {
        return operators_page(
            &state,
            &operator,
            &session,
            StatusCode::CONFLICT,
            Some("You cannot disable or demote your own account."),
        )
        .await;
    }
    let who = operator.clone();
    let changed = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                let Some(target) = accounts::by_id(conn, &id).await? else {
                    return Ok(None);
                };
                let changed = match action.as_str() {
                    "disable" => accounts::set_disabled(conn, &id, true).await?,
                    "enable" => accounts::set_disabled(conn, &id, false).await?,
                    "unlock" => accounts::unlock(conn, &id).await?,
                    "make_admin" => accounts::set_role(conn, &id, Role::Admin).await?,
                    _ => accounts::set_role(conn, &id, Role::Staff).await?,
                };
                if changed {
                    let (name, detail) = match action.as_str() {
                        "disable" => ("operator_disabled", None),
                        "enable" => ("operator_enabled", None),
                        "unlock" => ("operator_unlocked", None),
                        "make_admin" => ("operator_role_changed", Some("admin")),
                        _ => ("operator_role_changed", Some("staff")),
                    };
                    audit(
                        conn,
                        Some(&who),
                        &who.username,
                        name,
                        Some(&target.username),
                        detail,
                        &remote,
                    )
                    .await?;
                }
                Ok(Some(changed))
            })
        })
        .await;
    match changed {
        Ok(Some(_)) => Redirect::to("/console/operators").into_response(),
        Ok(None) => {
            operators_page(
                &state,
                &operator,
                &session,
                StatusCode::NOT_FOUND,
                Some("No such operator."),
            )
            .await
        }
        Err(e) => storage(&e),
    }
}
