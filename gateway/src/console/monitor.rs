//! The live monitor: virtual accounts, payments, bill payments, signers, documents and
//! messages in one list, filtered by product, provider, kind, status, reference and date,
//! newest change first; the page follows changes through a server-sent event stream (a few
//! lines of inline script, no build step) and works as a plain list without it. The list
//! shows ids, references, statuses and times only. A resource's detail page shows its
//! stored fields, the calls made to its provider, the provider's callbacks with their
//! payloads and the events sent to the product with their bodies, personal data masked
//! (see [`mask`]) or, for customers' identities, left out.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{escape, mask, page, signed_in, storage};
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

/// How a stored column is shown on a resource's page.
#[derive(Clone, Copy, Debug)]
enum Show {
    /// Text as stored.
    Text,
    /// A whole number.
    Number,
    /// Unix milliseconds, as RFC 3339.
    Time,
    /// `0` / `1` as `no` / `yes`.
    YesNo,
    /// A customer's number: its last 4 characters only.
    Digits,
    /// Personal text: its first and last two characters only.
    Masked,
    /// JSON, with personal values masked.
    Json,
}

/// The columns a resource's page shows, per kind, in order. Never read: customers (names,
/// phones, e-mails), descriptions, titles and message parameters the product wrote
/// (they may name people or carry codes), sealed identities and NIK fingerprints, and
/// links that open a checkout, a signing page or a document.
fn fields(kind: &str) -> &'static [(&'static str, Show)] {
    match kind {
        "virtual_account" => &[
            ("id", Show::Text),
            ("client_id", Show::Text),
            ("reference", Show::Text),
            ("provider", Show::Text),
            ("bank", Show::Text),
            ("va_number", Show::Text),
            ("provider_reference", Show::Text),
            ("status", Show::Text),
            ("amount", Show::Number),
            ("paid_amount", Show::Number),
            ("payment_rule", Show::Text),
            ("expires_at", Show::Time),
            ("paid_at", Show::Time),
            ("flags", Show::Json),
            ("version", Show::Number),
            ("created_at", Show::Time),
            ("updated_at", Show::Time),
            ("next_check_at", Show::Time),
        ],
        "payment" => &[
            ("id", Show::Text),
            ("client_id", Show::Text),
            ("reference", Show::Text),
            ("provider", Show::Text),
            ("method", Show::Text),
            ("provider_reference", Show::Text),
            ("status", Show::Text),
            ("amount", Show::Number),
            ("paid_amount", Show::Number),
            ("refunded_amount", Show::Number),
            ("expires_at", Show::Time),
            ("paid_at", Show::Time),
            ("flags", Show::Json),
            ("version", Show::Number),
            ("created_at", Show::Time),
            ("updated_at", Show::Time),
            ("next_check_at", Show::Time),
            ("checks", Show::Number),
        ],
        "bill_payment" => &[
            ("id", Show::Text),
            ("client_id", Show::Text),
            ("reference", Show::Text),
            ("provider", Show::Text),
            ("ref_id", Show::Text),
            ("product_code", Show::Text),
            ("customer_no", Show::Digits),
            ("postpaid", Show::YesNo),
            ("inquiry_id", Show::Text),
            ("status", Show::Text),
            ("serial_number", Show::Masked),
            ("token", Show::Digits),
            ("biller_cost", Show::Number),
            ("customer_total", Show::Number),
            ("balance_after", Show::Number),
            ("provider_reference", Show::Text),
            ("provider_status", Show::Text),
            ("message", Show::Text),
            ("details", Show::Json),
            ("flags", Show::Json),
            ("version", Show::Number),
            ("created_at", Show::Time),
            ("updated_at", Show::Time),
            ("sent_at", Show::Time),
            ("completed_at", Show::Time),
            ("next_check_at", Show::Time),
            ("checks", Show::Number),
        ],
        "signer" => &[
            ("id", Show::Text),
            ("client_id", Show::Text),
            ("reference", Show::Text),
            ("provider", Show::Text),
            ("status", Show::Text),
            ("provider_reference", Show::Text),
            ("provider_signer_id", Show::Text),
            ("provider_status", Show::Text),
            ("verdict", Show::Json),
            ("flags", Show::Json),
            ("version", Show::Number),
            ("created_at", Show::Time),
            ("updated_at", Show::Time),
            ("decided_at", Show::Time),
            ("next_check_at", Show::Time),
            ("checks", Show::Number),
        ],
        "document" => &[
            ("id", Show::Text),
            ("client_id", Show::Text),
            ("reference", Show::Text),
            ("provider", Show::Text),
            ("status", Show::Text),
            ("in_order", Show::YesNo),
            ("provider_reference", Show::Text),
            ("provider_status", Show::Text),
            ("reason", Show::Text),
            ("flags", Show::Json),
            ("version", Show::Number),
            ("created_at", Show::Time),
            ("updated_at", Show::Time),
            ("completed_at", Show::Time),
            ("next_check_at", Show::Time),
            ("checks", Show::Number),
        ],
        "message" => &[
            ("id", Show::Text),
            ("client_id", Show::Text),
            ("reference", Show::Text),
            ("provider", Show::Text),
            ("recipient", Show::Masked),
            ("template", Show::Text),
            ("language", Show::Text),
            ("status", Show::Text),
            ("provider_reference", Show::Text),
            ("error", Show::Text),
            ("attempts", Show::Number),
            ("next_attempt_at", Show::Time),
            ("version", Show::Number),
            ("created_at", Show::Time),
            ("updated_at", Show::Time),
        ],
        _ => &[],
    }
}

/// One column's value as HTML.
fn field_html(row: &AnyRow, index: usize, show: Show) -> Result<String, sqlx::Error> {
    let text = || row.try_get::<Option<String>, _>(index);
    let number = || row.try_get::<Option<i64>, _>(index);
    let shown = match show {
        Show::Text => text()?.map(|t| escape(&t)),
        Show::Digits => text()?.map(|t| escape(&mask::digits(&t))),
        Show::Masked => text()?.map(|t| escape(&mask::masked(&t))),
        Show::Json => text()?.map(|t| escape(&json_field(&t))),
        Show::Number => number()?.map(|n| n.to_string()),
        Show::Time => number()?.map(rfc3339),
        Show::YesNo => number()?.map(|n| if n == 0 { "no" } else { "yes" }.to_owned()),
    };
    Ok(shown.unwrap_or_default())
}

/// A JSON column on one line, masked; anything else as the body rules say.
fn json_field(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => mask::json(&value).to_string(),
        Err(_) => mask::body(text),
    }
}

/// A stored body in a closed `<details>`, masked.
fn body_html(label: &str, text: &str) -> String {
    format!(
        "<details><summary>{label}</summary><pre>{}</pre></details>",
        escape(&mask::body(text))
    )
}

/// A table: its header cells, then its rows (or one `none` row).
fn table(headers: &[&str], rows: &str) -> String {
    let head: String = headers.iter().map(|h| format!("<th>{h}</th>")).collect();
    let rows = if rows.is_empty() {
        format!("<tr><td colspan=\"{}\">none</td></tr>", headers.len())
    } else {
        rows.to_owned()
    };
    format!("<table><tr>{head}</tr>{rows}</table>")
}

/// The resource's row as a field/value table, and the ids its provider calls are recorded
/// under (a bill payment's inquiry besides its own); `None` when there is no such row.
async fn resource(
    state: &AppState,
    kind: &str,
    table_name: &str,
    id: &str,
) -> Result<Option<(String, Vec<String>)>, StoreError> {
    let columns = fields(kind);
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let sql = format!(
        "SELECT {} FROM {table_name} WHERE id = $1",
        names.join(", ")
    );
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(state.db().pool())
        .await?
    else {
        return Ok(None);
    };
    let mut rows = String::new();
    for (index, (name, show)) in columns.iter().enumerate() {
        let value = field_html(&row, index, *show)?;
        rows.push_str(&format!("<tr><th>{name}</th><td>{value}</td></tr>"));
    }
    let mut ids = vec![id.to_owned()];
    if names.contains(&"inquiry_id")
        && let Some(inquiry) = row.try_get::<Option<String>, _>("inquiry_id")?
    {
        ids.push(inquiry);
    }
    Ok(Some((table(&["Field", "Value"], &rows), ids)))
}

type CallLine = (i64, String, String, String, i64);

/// The calls made to providers about the resource, oldest first.
async fn calls_html(state: &AppState, ids: &[String]) -> Result<String, StoreError> {
    let first = ids.first().map_or("", String::as_str);
    let second = ids.get(1).map_or(first, String::as_str);
    let calls: Vec<CallLine> = sqlx::query_as(
        "SELECT at, operation, provider, outcome, duration_ms FROM provider_calls WHERE resource_id = $1 OR resource_id = $2 ORDER BY at, id",
    )
    .bind(first)
    .bind(second)
    .fetch_all(state.db().pool())
    .await?;
    let rows: String = calls
        .iter()
        .map(|(at, operation, provider, outcome, duration)| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{duration} ms</td></tr>",
                rfc3339(*at),
                escape(operation),
                escape(provider),
                escape(outcome),
            )
        })
        .collect();
    Ok(table(
        &["When", "Operation", "Provider", "Outcome", "Duration"],
        &rows,
    ))
}

type CallbackLine = (String, String, Option<String>, i64, String);

/// The provider's callbacks about the resource, with their payloads masked.
async fn callbacks_html(state: &AppState, id: &str) -> Result<String, StoreError> {
    let callbacks: Vec<CallbackLine> = sqlx::query_as(
        "SELECT kind, state, detail, received_at, payload FROM provider_events WHERE resource_id = $1 ORDER BY received_at",
    )
    .bind(id)
    .fetch_all(state.db().pool())
    .await?;
    let rows: String = callbacks
        .iter()
        .map(|(kind, outcome, detail, at, payload)| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(kind),
                escape(outcome),
                escape(detail.as_deref().unwrap_or("")),
                rfc3339(*at),
                body_html("payload", payload),
            )
        })
        .collect();
    Ok(table(
        &["Kind", "Outcome", "Detail", "Received", "Payload"],
        &rows,
    ))
}

type DeliveryLine = (String, String, String, i64, Option<String>, String);

/// The events enqueued for the product about the resource, with their bodies masked.
async fn events_html(state: &AppState, id: &str) -> Result<String, StoreError> {
    let deliveries: Vec<DeliveryLine> = sqlx::query_as(
        "SELECT id, type, delivery_state, attempts, last_error, body FROM events WHERE resource_id = $1 ORDER BY created_at, id",
    )
    .bind(id)
    .fetch_all(state.db().pool())
    .await?;
    let rows: String = deliveries
        .iter()
        .map(|(event, kind, delivery, attempts, error, body)| {
            format!(
                "<tr><td><a href=\"/console/deliveries/{e}\">{e}</a></td><td>{}</td><td>{}</td><td>{attempts}</td><td>{}</td><td>{}</td></tr>",
                escape(kind),
                escape(delivery),
                escape(error.as_deref().unwrap_or("")),
                body_html("body", body),
                e = escape(event),
            )
        })
        .collect();
    Ok(table(
        &[
            "Event",
            "Type",
            "Delivery",
            "Attempts",
            "Last error",
            "Body",
        ],
        &rows,
    ))
}

/// The detail page's body, or `None` when the resource does not exist.
async fn detail_html(
    state: &AppState,
    kind: &str,
    table_name: &str,
    id: &str,
) -> Result<Option<String>, StoreError> {
    let Some((resource, ids)) = resource(state, kind, table_name, id).await? else {
        return Ok(None);
    };
    let calls = calls_html(state, &ids).await?;
    let callbacks = callbacks_html(state, id).await?;
    let events = events_html(state, id).await?;
    Ok(Some(format!(
        "<h2>Resource</h2>{resource}<h2>Calls to the provider</h2>{calls}\
         <h2>Callbacks from the provider</h2>{callbacks}<h2>Events to the product</h2>{events}"
    )))
}

/// `GET /console/monitor/{kind}/{id}`: the resource's stored fields (personal data masked
/// or left out), the calls made to its provider, the provider's callbacks with their
/// payloads and the events sent to the product with their bodies, both masked.
pub(super) async fn detail(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let not_found = |what: &str| {
        (
            StatusCode::NOT_FOUND,
            page(
                "Not found",
                Some((&operator, &session)),
                &format!("<p>No such {what}.</p>"),
            ),
        )
            .into_response()
    };
    let Some((_, table_name)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        return not_found("kind");
    };
    match detail_html(&state, &kind, table_name, &id).await {
        Ok(Some(html)) => {
            page(&format!("{kind} {id}"), Some((&operator, &session)), &html).into_response()
        }
        Ok(None) => not_found("resource"),
        Err(e) => storage(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_shows_its_ids_and_never_a_personal_column() {
        let never = [
            "customer",
            "description",
            "title",
            "params",
            "identity",
            "nik_fingerprint",
            "sign_url",
            "download_url",
            "action",
            "return_url",
        ];
        for (kind, _) in KINDS {
            let names: Vec<&str> = fields(kind).iter().map(|(name, _)| *name).collect();
            assert!(
                names.starts_with(&["id", "client_id", "reference", "provider"]),
                "{kind}: {names:?}"
            );
            for name in never {
                assert!(!names.contains(&name), "{kind} shows {name}");
            }
        }
    }

    #[test]
    fn customer_numbers_and_recipients_are_masked() {
        let show = |kind: &str, column: &str| {
            fields(kind)
                .iter()
                .find(|(name, _)| *name == column)
                .map(|(_, show)| format!("{show:?}"))
        };
        assert_eq!(
            show("bill_payment", "customer_no").as_deref(),
            Some("Digits")
        );
        assert_eq!(show("bill_payment", "token").as_deref(), Some("Digits"));
        assert_eq!(show("message", "recipient").as_deref(), Some("Masked"));
    }
}
