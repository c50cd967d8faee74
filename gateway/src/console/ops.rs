//! Console pages for operations: event deliveries that fail or were dead-lettered, with
//! their attempts and replay (admin, audited), and provider health (success rate, latency
//! percentiles, error mix over the last hour and day; billers' deposits).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::accounts::{Operator, Role};
use super::sessions::Session;
use super::{Remote, audit, csrf_ok, csrf_refused, escape, forbidden, page, signed_in, storage};
use crate::app::AppState;
use crate::service::fields::rfc3339;
use crate::store::{StoreError, events, now_ms, switches};

/// The deliveries filter.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct DeliveryQuery {
    /// Only this product.
    client: Option<String>,
    /// `dead_letter` (default) or `failing` (still retrying after a failure).
    state: Option<String>,
}

type EventLine = (String, String, String, String, i64, Option<String>, i64);

pub(super) async fn deliveries(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<DeliveryQuery>,
) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let which = match q.state.as_deref() {
        Some("failing") => "failing",
        _ => "dead_letter",
    };
    let sql = if which == "failing" {
        "SELECT id, client_id, type, delivery_state, attempts, last_error, created_at FROM events WHERE delivery_state = 'pending' AND attempts > 0 AND ($1 = '' OR client_id = $1) ORDER BY created_at DESC LIMIT 200"
    } else {
        "SELECT id, client_id, type, delivery_state, attempts, last_error, created_at FROM events WHERE delivery_state = 'failed' AND ($1 = '' OR client_id = $1) ORDER BY created_at DESC LIMIT 200"
    };
    let rows: Vec<EventLine> = match sqlx::query_as(sql)
        .bind(q.client.clone().unwrap_or_default())
        .fetch_all(state.db().pool())
        .await
    {
        Ok(rows) => rows,
        Err(e) => return storage(&StoreError::from(e)),
    };
    let admin = operator.role == Role::Admin;
    let mut table = String::from(
        "<tr><th></th><th>Event</th><th>Product</th><th>Type</th><th>Attempts</th><th>Last error</th><th>Created</th></tr>",
    );
    for (id, client, kind, _, attempts, error, created) in &rows {
        let check = if admin {
            format!(
                "<input type=\"checkbox\" name=\"ids\" value=\"{}\" aria-label=\"replay {}\">",
                escape(id),
                escape(id)
            )
        } else {
            String::new()
        };
        table.push_str(&format!(
            "<tr><td>{check}</td><td><a href=\"/console/deliveries/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{attempts}</td><td>{}</td><td>{}</td></tr>",
            escape(client),
            escape(kind),
            escape(error.as_deref().unwrap_or("")),
            rfc3339(*created),
            id = escape(id),
        ));
    }
    let chosen = q.client.clone().unwrap_or_default();
    let mut clients: Vec<&String> = state.settings().clients.keys().collect();
    clients.sort();
    let options: String = std::iter::once(String::from("<option value=\"\">All products</option>"))
        .chain(clients.iter().map(|c| {
            format!(
                "<option value=\"{c}\"{}>{c}</option>",
                if **c == chosen { " selected" } else { "" },
                c = escape(c)
            )
        }))
        .collect();
    let tabs = format!(
        "<form class=\"filters\" method=\"get\" action=\"/console/deliveries\">\
         <label>Product<select name=\"client\">{options}</select></label>\
         <label>Which<select name=\"state\"><option value=\"dead_letter\"{dead}>Dead-lettered</option>\
         <option value=\"failing\"{failing}>Failing (still retrying)</option></select></label>\
         <button>Show</button></form><p>{} shown</p>",
        rows.len(),
        dead = if which == "failing" { "" } else { " selected" },
        failing = if which == "failing" { " selected" } else { "" },
    );
    let body = if admin {
        format!(
            "{tabs}<form method=\"post\" action=\"/console/deliveries/replay\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><table>{table}</table>\
             <p><button>Replay selected</button></p></form>",
            escape(&session.csrf_token)
        )
    } else {
        format!("{tabs}<table>{table}</table>")
    };
    let title = if which == "failing" {
        "Failing deliveries"
    } else {
        "Dead-lettered deliveries"
    };
    page(title, Some((&operator, &session)), &body).into_response()
}

pub(super) async fn delivery(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let event: Option<(String, String, String, i64)> = match sqlx::query_as(
        "SELECT client_id, type, delivery_state, attempts FROM events WHERE id = $1",
    )
    .bind(&id)
    .fetch_optional(state.db().pool())
    .await
    {
        Ok(event) => event,
        Err(e) => return storage(&StoreError::from(e)),
    };
    let Some((client, kind, delivery_state, attempts)) = event else {
        return (
            StatusCode::NOT_FOUND,
            page(
                "Not found",
                Some((&operator, &session)),
                "<p>No such event.</p>",
            ),
        )
            .into_response();
    };
    let tries = match events::attempts(state.db(), &client, &id).await {
        Ok(tries) => tries,
        Err(e) => return storage(&e),
    };
    let mut table = String::from(
        "<tr><th>#</th><th>Started</th><th>Took</th><th>Status</th><th>Error</th></tr>",
    );
    for t in &tries {
        table.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td><td>{}</td></tr>",
            t.attempt,
            rfc3339(t.started_at),
            t.duration_ms,
            t.status_code.map_or_else(String::new, |s| s.to_string()),
            escape(t.error.as_deref().unwrap_or("")),
        ));
    }
    let body = format!(
        "<p>{} for <strong>{}</strong>: {} after {} attempts.</p><table>{table}</table>",
        escape(&kind),
        escape(&client),
        escape(&delivery_state),
        attempts
    );
    page(&format!("Event {id}"), Some((&operator, &session)), &body).into_response()
}

/// `POST /console/deliveries/replay` (admin): puts the selected events back in the queue
/// now, each written to the audit log.
pub(super) async fn replay(
    State(state): State<AppState>,
    Remote(remote): Remote,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut csrf = String::new();
    let mut ids = Vec::new();
    for (key, value) in url::form_urlencoded::parse(&body) {
        match key.as_ref() {
            "csrf" => csrf = value.into_owned(),
            "ids" => ids.push(value.into_owned()),
            _ => {}
        }
    }
    if !csrf_ok(&session.csrf_token, &csrf) {
        return csrf_refused();
    }
    if operator.role != Role::Admin {
        return forbidden(&operator, &session);
    }
    let who = operator.clone();
    let replayed = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                let now = now_ms();
                let mut n = 0;
                for id in ids.iter().take(500) {
                    let client: Option<String> =
                        sqlx::query_scalar("SELECT client_id FROM events WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&mut *conn)
                            .await?;
                    let Some(client) = client else { continue };
                    if events::redeliver(conn, &client, id, now).await? {
                        audit(
                            conn,
                            Some(&who),
                            &who.username,
                            "event_replayed",
                            Some(id),
                            Some(&client),
                            &remote,
                        )
                        .await?;
                        n += 1;
                    }
                }
                Ok(n)
            })
        })
        .await;
    match replayed {
        Ok(n) => {
            if n > 0 {
                state.wake_outbox();
            }
            Redirect::to("/console/deliveries").into_response()
        }
        Err(e) => storage(&e),
    }
}

/// Latency percentile `p` (0-100) of sorted durations.
fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// One provider's calls over a window, summarised: (calls, success %, p50, p95, p99, errors).
/// Calls refused because the instance was switched off never reached the provider: they
/// count in the error mix (as `disabled`) but not in the rate or the latencies.
fn summarise(all: &[(String, i64)]) -> (usize, f64, i64, i64, i64, String) {
    let refused = all.iter().filter(|(o, _)| o == "disabled").count();
    let calls: Vec<(String, i64)> = all
        .iter()
        .filter(|(o, _)| o != "disabled")
        .cloned()
        .collect();
    let calls = calls.as_slice();
    let ok = calls.iter().filter(|(o, _)| o == "ok").count();
    let mut durations: Vec<i64> = calls.iter().map(|(_, d)| *d).collect();
    durations.sort_unstable();
    let mut errors: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for (outcome, _) in calls.iter().filter(|(o, _)| o != "ok") {
        *errors.entry(outcome.as_str()).or_default() += 1;
    }
    if refused > 0 {
        errors.insert("disabled", refused);
    }
    let mix = errors
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rate = if calls.is_empty() {
        100.0
    } else {
        ok as f64 * 100.0 / calls.len() as f64
    };
    (
        calls.len(),
        rate,
        percentile(&durations, 50),
        percentile(&durations, 95),
        percentile(&durations, 99),
        mix,
    )
}

pub(super) async fn providers(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let now = now_ms();
    let mut table = String::from(
        "<tr><th>Instance</th><th>Kind</th><th>Window</th><th>Calls</th><th>Success</th><th>p50</th><th>p95</th><th>p99</th><th>Errors</th></tr>",
    );
    for instance in state.registry().instances() {
        for (label, span) in [("1 h", 3_600_000i64), ("24 h", 86_400_000)] {
            let calls: Vec<(String, i64)> = match sqlx::query_as(
                "SELECT outcome, duration_ms FROM provider_calls WHERE provider = $1 AND at >= $2",
            )
            .bind(&instance.name)
            .bind(now - span)
            .fetch_all(state.db().pool())
            .await
            {
                Ok(calls) => calls,
                Err(e) => return storage(&StoreError::from(e)),
            };
            let (n, rate, p50, p95, p99, mix) = summarise(&calls);
            let figures = if n == 0 {
                "<td>–</td><td>–</td><td>–</td><td>–</td>".to_owned()
            } else {
                format!("<td>{rate:.1} %</td><td>{p50} ms</td><td>{p95} ms</td><td>{p99} ms</td>")
            };
            table.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{label}</td><td>{n}</td>{figures}<td>{}</td></tr>",
                escape(&instance.name),
                instance.kind,
                escape(&mix),
            ));
        }
    }
    let switches = match switches_and_routes(&state, &operator, &session).await {
        Ok(html) => html,
        Err(e) => return storage(&e),
    };
    let mut balances = String::from(
        "<tr><th>Biller</th><th>Deposit</th><th>Low-balance threshold</th><th>Low</th><th>Read at</th></tr>",
    );
    let rows: Vec<(String, i64, i64, i64)> = match sqlx::query_as(
        "SELECT provider, balance, low, checked_at FROM biller_balances ORDER BY provider",
    )
    .fetch_all(state.db().pool())
    .await
    {
        Ok(rows) => rows,
        Err(e) => return storage(&StoreError::from(e)),
    };
    for (provider, balance, low, at) in rows {
        let threshold = state
            .settings()
            .bills
            .low_balance
            .get(&provider)
            .map_or_else(|| "none".to_owned(), |t| format!("Rp{t}"));
        balances.push_str(&format!(
            "<tr><td>{}</td><td>Rp{balance}</td><td>{threshold}</td><td>{}</td><td>{}</td></tr>",
            escape(&provider),
            if low != 0 { "yes" } else { "no" },
            rfc3339(at),
        ));
    }
    let body = format!(
        "<h2>Calls</h2><table>{table}</table><h2>Biller deposits</h2><table>{balances}</table>{switches}"
    );
    page("Providers", Some((&operator, &session)), &body).into_response()
}

/// The switches (with the admin's forms) and each product's routes: which instance takes
/// new business now, which are skipped because they are switched off, and what follows
/// if the active one fails.
async fn switches_and_routes(
    state: &AppState,
    operator: &Operator,
    session: &Session,
) -> Result<String, StoreError> {
    let recorded: std::collections::BTreeMap<String, switches::SwitchRow> =
        switches::all(state.db())
            .await?
            .into_iter()
            .map(|r| (r.instance.clone(), r))
            .collect();
    let off = state.registry().switches().off();
    let admin = operator.role == Role::Admin;
    let csrf = escape(&session.csrf_token);
    let mut table = String::from(
        "<tr><th>Instance</th><th>Kind</th><th>State</th><th>Since</th><th></th></tr>",
    );
    for instance in state.registry().instances() {
        let name = escape(&instance.name);
        let is_off = off.contains(&instance.name);
        let (label, since) = match recorded.get(&instance.name) {
            Some(r) => (
                if is_off {
                    format!(
                        "<span class=\"off\">off</span> — {}",
                        escape(r.reason.as_deref().unwrap_or(""))
                    )
                } else {
                    "on".to_owned()
                },
                format!("{} by {}", rfc3339(r.changed_at), escape(&r.changed_by)),
            ),
            None => ("on".to_owned(), String::new()),
        };
        let action = match (admin, is_off) {
            (false, _) => String::new(),
            (true, true) => format!(
                "<form method=\"post\" action=\"/console/providers/switch\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"instance\" value=\"{name}\">\
                 <input type=\"hidden\" name=\"state\" value=\"on\">\
                 <button>Switch on</button></form>"
            ),
            (true, false) => format!(
                "<form method=\"post\" action=\"/console/providers/switch\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"instance\" value=\"{name}\">\
                 <input type=\"hidden\" name=\"state\" value=\"off\">\
                 <input name=\"reason\" placeholder=\"reason\" required aria-label=\"reason to switch {name} off\">\
                 <button>Switch off</button></form>"
            ),
        };
        table.push_str(&format!(
            "<tr id=\"switch-{name}\"><td>{name}</td><td>{}</td><td>{label}</td><td>{since}</td><td>{action}</td></tr>",
            instance.kind
        ));
    }
    let mut routes = String::from("<tr><th>Product</th><th>For</th><th>Route (in order)</th></tr>");
    let mut clients: Vec<_> = state.settings().clients.iter().collect();
    clients.sort_by(|a, b| a.0.cmp(b.0));
    for (client, config) in clients {
        let r = &config.routes;
        for (what, route) in [
            ("virtual accounts", &r.virtual_accounts),
            ("payments", &r.payments),
            ("messages", &r.messages),
            ("e-signature", &r.esign),
            ("bills", &r.bills),
        ] {
            if route.is_empty() {
                continue;
            }
            let mut active = false;
            let steps: Vec<String> = route
                .iter()
                .map(|i| {
                    let name = escape(i);
                    if off.contains(i) {
                        format!("<s>{name}</s> (off)")
                    } else if !active {
                        active = true;
                        format!("<span class=\"active\">{name}</span> (active)")
                    } else {
                        format!("{name} (standby)")
                    }
                })
                .collect();
            let steps = if active {
                steps.join(" → ")
            } else {
                format!(
                    "{} — <span class=\"off\">no instance on: refused</span>",
                    steps.join(" → ")
                )
            };
            routes.push_str(&format!(
                "<tr><td>{}</td><td>{what}</td><td>{steps}</td></tr>",
                escape(client)
            ));
        }
    }
    let console_warning = state
        .settings()
        .console
        .otp_client
        .as_ref()
        .and_then(|c| state.settings().clients.get(c))
        .filter(|c| !c.routes.messages.is_empty() && c.routes.messages.iter().all(|i| off.contains(i)))
        .map_or_else(String::new, |_| {
            "<p class=\"error\">Every instance that sends the console's login codes is off: nobody can log in until one is switched on.</p>".to_owned()
        });
    Ok(format!(
        "<h2>Switches</h2>{console_warning}<p>An instance switched off gets no new business; status \
         inquiries and callbacks go on, and a virtual account fails over to the next instance of its route.</p>\
         <table>{table}</table><h2>Failover</h2><table>{routes}</table>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_success_rates_are_over_the_calls_given() {
        let calls: Vec<(String, i64)> = (1..=100)
            .map(|d| (if d % 10 == 0 { "timeout" } else { "ok" }.to_owned(), d))
            .collect();
        let (n, rate, p50, p95, p99, mix) = summarise(&calls);
        assert_eq!((n, p50, p95, p99), (100, 50, 95, 99));
        assert!((rate - 90.0).abs() < f64::EPSILON);
        assert_eq!(mix, "timeout 10");
        assert_eq!(summarise(&[]).0, 0);
        assert_eq!(percentile(&[7], 99), 7);
    }

    #[test]
    fn refused_calls_count_in_the_mix_but_not_in_the_rate() {
        let calls = vec![
            ("ok".to_owned(), 10),
            ("disabled".to_owned(), 0),
            ("disabled".to_owned(), 0),
            ("timeout".to_owned(), 30),
        ];
        let (n, rate, p50, _, p99, mix) = summarise(&calls);
        assert_eq!((n, p50, p99), (2, 10, 30));
        assert!((rate - 50.0).abs() < f64::EPSILON);
        assert_eq!(mix, "disabled 2, timeout 1");
    }
}
