//! The live monitor: virtual accounts, payments, bill payments, signers, documents and
//! messages in one list, filtered by product, provider, kind, status, reference and date,
//! newest change first; the page follows changes through a server-sent event stream (a few
//! lines of inline script, no build step) and works as a plain list without it. A detail
//! view shows a resource's provider callbacks and event deliveries. No personal data is
//! shown: ids, references, statuses and times only.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::{escape, page, signed_in, storage};
use crate::app::AppState;
use crate::service::fields::rfc3339;
use crate::store::StoreError;

/// The resource kinds and their tables.
const KINDS: [(&str, &str); 6] = [
    ("virtual_account", "virtual_accounts"),
    ("payment", "payments"),
    ("bill_payment", "bill_payments"),
    ("signer", "esign_signers"),
    ("document", "esign_documents"),
    ("message", "messages"),
];

/// The monitor's filters.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Filter {
    client: String,
    provider: String,
    kind: String,
    status: String,
    reference: String,
    /// `YYYY-MM-DD` (UTC): changed on or after.
    from: String,
    /// `YYYY-MM-DD` (UTC): changed before the end of.
    to: String,
}

impl Filter {
    fn day_ms(text: &str, end: bool) -> Option<i64> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let day = time::Date::parse(text, &format).ok()?;
        let day = if end { day.next_day()? } else { day };
        Some(crate::store::to_ms(day.midnight().assume_utc()))
    }

    fn query_string(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("client", &self.client),
                ("provider", &self.provider),
                ("kind", &self.kind),
                ("status", &self.status),
                ("reference", &self.reference),
                ("from", &self.from),
                ("to", &self.to),
            ])
            .finish()
    }
}

/// One line of the monitor.
type Line = (String, String, String, String, Option<String>, String, i64);

async fn lines(state: &AppState, f: &Filter) -> Result<Vec<Line>, StoreError> {
    let from = Filter::day_ms(&f.from, false).unwrap_or(0);
    let to = Filter::day_ms(&f.to, true).unwrap_or(i64::MAX);
    let mut all: Vec<Line> = Vec::new();
    for (kind, table) in KINDS {
        if !f.kind.is_empty() && f.kind != kind {
            continue;
        }
        let sql = format!(
            "SELECT CAST('{kind}' AS TEXT), id, client_id, reference, provider, status, updated_at FROM {table} WHERE ($1 = '' OR client_id = $1) AND ($2 = '' OR provider = $2) AND ($3 = '' OR status = $3) AND ($4 = '' OR reference = $4) AND updated_at >= $5 AND updated_at < $6 ORDER BY updated_at DESC LIMIT 200"
        );
        let rows: Vec<Line> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&f.client)
            .bind(&f.provider)
            .bind(&f.status)
            .bind(&f.reference)
            .bind(from)
            .bind(to)
            .fetch_all(state.db().pool())
            .await?;
        all.extend(rows);
    }
    all.sort_by(|a, b| b.6.cmp(&a.6).then_with(|| b.1.cmp(&a.1)));
    all.truncate(200);
    Ok(all)
}

fn rows_html(lines: &[Line]) -> String {
    let mut html = String::new();
    for (kind, id, client, reference, provider, status, at) in lines {
        html.push_str(&format!(
            "<tr><td>{}</td><td><a href=\"/console/monitor/{}/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(kind),
            escape(kind),
            escape(id),
            escape(id),
            escape(client),
            escape(reference),
            escape(provider.as_deref().unwrap_or("")),
            escape(status),
            rfc3339(*at),
        ));
    }
    html
}

pub(super) async fn monitor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(f): Query<Filter>,
) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let found = match lines(&state, &f).await {
        Ok(found) => found,
        Err(e) => return storage(&e),
    };
    let input = |name: &str, value: &str, placeholder: &str| {
        format!(
            "<label>{name}<input name=\"{name}\" value=\"{}\" placeholder=\"{placeholder}\"></label>",
            escape(value)
        )
    };
    let form = format!(
        "<form class=\"filters\" method=\"get\" action=\"/console/monitor\">{}{}{}{}{}{}{}<button>Filter</button></form>",
        input("client", &f.client, "product"),
        input("provider", &f.provider, "instance"),
        input("kind", &f.kind, "payment, bill_payment, …"),
        input("status", &f.status, "paid, pending, …"),
        input("reference", &f.reference, ""),
        input("from", &f.from, "YYYY-MM-DD"),
        input("to", &f.to, "YYYY-MM-DD"),
    );
    // Live: the stream names a change; the rows are fetched again with the same filters
    // (the console's script reads them from the list's `data-query`).
    let body = format!(
        "{form}<table><thead><tr><th>Kind</th><th>Id</th><th>Product</th><th>Reference</th><th>Provider</th><th>Status</th><th>Changed</th></tr></thead>\
         <tbody id=\"rows\" data-query=\"{}\">{}</tbody></table><script src=\"/console/assets/monitor.js\"></script>",
        escape(&f.query_string()),
        rows_html(&found)
    );
    page("Monitor", Some((&operator, &session)), &body).into_response()
}

/// The live list: on each change the stream names, the rows are fetched again with the
/// page's filters.
const SCRIPT: &str = "(function(){var rows=document.getElementById('rows');if(!rows||!window.EventSource){return;}\
var q=rows.getAttribute('data-query')||'';var s=new EventSource('/console/monitor/stream?'+q);\
s.onmessage=function(){fetch('/console/monitor/rows?'+q,{credentials:'same-origin'})\
.then(function(r){return r.ok?r.text():null}).then(function(t){if(t!==null){rows.innerHTML=t}})};})();";

/// `GET /console/assets/monitor.js`.
pub(super) async fn script() -> Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// The list's rows alone (what the live page fetches).
pub(super) async fn rows(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(f): Query<Filter>,
) -> Response {
    if let Err(response) = signed_in(&state, &headers).await {
        return response;
    }
    match lines(&state, &f).await {
        Ok(found) => Html(rows_html(&found)).into_response(),
        Err(e) => storage(&e),
    }
}

/// The latest change across every monitored table.
async fn latest(state: &AppState) -> Result<i64, StoreError> {
    let mut newest = 0i64;
    for (_, table) in KINDS {
        let sql = format!("SELECT COALESCE(MAX(updated_at), 0) FROM {table}");
        let at: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(state.db().pool())
            .await?;
        newest = newest.max(at);
    }
    Ok(newest)
}

/// `GET /console/monitor/stream`: one server-sent event (`data: <time>`) whenever
/// something monitored changes; checked every second while the page is open.
pub(super) async fn stream(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(response) = signed_in(&state, &headers).await {
        return response;
    }
    let start = latest(&state).await.unwrap_or(0);
    let updates = futures::stream::unfold((state, start), |(state, seen)| async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            match latest(&state).await {
                Ok(now) if now > seen => {
                    let event = Event::default().data(now.to_string());
                    return Some((Ok::<Event, Infallible>(event), (state, now)));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "monitor stream cannot read changes"),
            }
        }
    });
    Sse::new(updates)
        .keep_alive(KeepAlive::default())
        .into_response()
}

type CallbackLine = (String, String, Option<String>, i64);
type DeliveryLine = (String, String, String, i64, Option<String>);

/// `GET /console/monitor/{kind}/{id}`: a resource's status, its provider callbacks and its
/// event deliveries.
pub(super) async fn detail(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Some((_, table)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        return (
            StatusCode::NOT_FOUND,
            page(
                "Not found",
                Some((&operator, &session)),
                "<p>No such kind.</p>",
            ),
        )
            .into_response();
    };
    let sql = format!(
        "SELECT CAST('{kind}' AS TEXT), id, client_id, reference, provider, status, updated_at FROM {table} WHERE id = $1"
    );
    let line: Option<Line> = match sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&id)
        .fetch_optional(state.db().pool())
        .await
    {
        Ok(line) => line,
        Err(e) => return storage(&StoreError::from(e)),
    };
    let Some(line) = line else {
        return (
            StatusCode::NOT_FOUND,
            page(
                "Not found",
                Some((&operator, &session)),
                "<p>No such resource.</p>",
            ),
        )
            .into_response();
    };
    let callbacks: Vec<CallbackLine> = match sqlx::query_as(
        "SELECT kind, state, detail, received_at FROM provider_events WHERE resource_id = $1 ORDER BY received_at",
    )
    .bind(&id)
    .fetch_all(state.db().pool())
    .await
    {
        Ok(rows) => rows,
        Err(e) => return storage(&StoreError::from(e)),
    };
    let deliveries: Vec<DeliveryLine> = match sqlx::query_as(
        "SELECT id, type, delivery_state, attempts, last_error FROM events WHERE resource_id = $1 ORDER BY created_at",
    )
    .bind(&id)
    .fetch_all(state.db().pool())
    .await
    {
        Ok(rows) => rows,
        Err(e) => return storage(&StoreError::from(e)),
    };
    let mut html = format!(
        "<table><tbody>{}</tbody></table><h2>Provider callbacks</h2><table><tr><th>Kind</th><th>Outcome</th><th>Detail</th><th>Received</th></tr>",
        rows_html(std::slice::from_ref(&line))
    );
    for (kind, outcome, detail, at) in &callbacks {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(kind),
            escape(outcome),
            escape(detail.as_deref().unwrap_or("")),
            rfc3339(*at)
        ));
    }
    html.push_str("</table><h2>Events to the product</h2><table><tr><th>Event</th><th>Type</th><th>Delivery</th><th>Attempts</th><th>Last error</th></tr>");
    for (event, kind, delivery, attempts, error) in &deliveries {
        html.push_str(&format!(
            "<tr><td><a href=\"/console/deliveries/{e}\">{e}</a></td><td>{}</td><td>{}</td><td>{attempts}</td><td>{}</td></tr>",
            escape(kind),
            escape(delivery),
            escape(error.as_deref().unwrap_or("")),
            e = escape(event),
        ));
    }
    html.push_str("</table>");
    page(&format!("{kind} {id}"), Some((&operator, &session)), &html).into_response()
}
