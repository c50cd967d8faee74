//! Console reports, each viewable as a page and downloadable as CSV, Excel (.xlsx) and
//! PDF — the three built from one [`exports::Table`], so they hold the same rows:
//!
//! - **Daily transactions**: every virtual account, payment and bill payment created on an
//!   Asia/Jakarta day (all products or one), with totals per kind and status. No personal
//!   data: ids, references, statuses, amounts and times only.
//! - **Reconciliation**: the stored H+1 reports (products' and operators'), each with its
//!   summary and items; admins run one for a biller and a day (audited).
//! - **Usage**: per product and provider instance over a range of days, one table whose
//!   `item` is either a provider operation (`count` = calls; the failed and the refused
//!   because an operator disabled the instance follow as `<operation>:failed` and
//!   `<operation>:disabled` when there are any) or a business outcome
//!   (`virtual_accounts_paid`, `payments_paid`, `bill_payments_success`, with the amount).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use exports::{Cell, Column, Format as Download, RowError, Table};
use serde::Deserialize;
use serde_json::Value;
use time::Date;

use super::accounts::{Operator, Role};
use super::sessions::Session;
use super::{Remote, audit, csrf_ok, csrf_refused, escape, forbidden, page, signed_in, storage};
use crate::app::AppState;
use crate::service::bills::reconcile::{self, CATEGORIES, day_window};
use crate::service::bills::today_wib;
use crate::service::fields::rfc3339;
use crate::store::StoreError;
use crate::store::bills::ReconciliationRow;

/// Rows shown on a page; the downloads have them all.
const SHOWN_ROWS: usize = 1_000;
/// The longest usage range, in days.
const MAX_USAGE_DAYS: i64 = 366;

/// `format=`: none or `html` is the page (`Ok(None)`); `Err` for anything unknown.
fn parse_format(text: &str) -> Result<Option<Download>, ()> {
    match text {
        "" | "html" => Ok(None),
        name => Download::parse(name).map(Some).ok_or(()),
    }
}

/// A `YYYY-MM-DD` date.
fn parse_day(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text.trim(), &format).ok()
}

/// A download's file name: the non-empty parts joined by `-`, each reduced to letters,
/// digits, `_` and `.`, then the extension.
fn filename(parts: &[&str], format: Download) -> String {
    let stem: Vec<String> = parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        })
        .collect();
    format!("{}.{}", stem.join("-"), format.extension())
}

/// The most transactions a daily report holds (a busier day is reported per product):
/// 100,000 rows take about 1.5 s of a core and 300 MiB to render as PDF (BENCHMARKS.md).
const MAX_REPORT_ROWS: usize = 200_000;

/// One report file is built at a time: the console shares its process with the API, and
/// a large PDF takes a core for a second or more.
static BUILDS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// The table as a file to download.
async fn download(table: Table, format: Download, name: String) -> Response {
    let Ok(_turn) = BUILDS.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let built = tokio::task::spawn_blocking(move || format.write(&table)).await;
    let body = match built {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "report file not built");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// A table that could not be built (a row not matching its columns: a bug, not input).
fn unbuilt(e: &RowError) -> Response {
    tracing::error!(error = %e, "report table not built");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

fn refused(status: StatusCode, who: (&Operator, &Session), title: &str, message: &str) -> Response {
    (
        status,
        page(
            title,
            Some(who),
            &format!(
                "<p class=\"error\">{}</p><p><a href=\"/console/reports\">Back to reports</a></p>",
                escape(message)
            ),
        ),
    )
        .into_response()
}

/// The links to a report's downloads: `<prefix>-csv`, `<prefix>-xlsx`, `<prefix>-pdf`.
fn download_links(path: &str, query: &[(&str, &str)], prefix: &str) -> String {
    let links: Vec<String> = Download::ALL
        .iter()
        .map(|format| {
            let mut serializer = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in query.iter().filter(|(_, v)| !v.is_empty()) {
                serializer.append_pair(k, v);
            }
            serializer.append_pair("format", format.extension());
            format!(
                "<a id=\"{prefix}-{ext}\" href=\"{}\" download>{}</a>",
                escape(&format!("{path}?{}", serializer.finish())),
                format.extension().to_uppercase(),
                ext = format.extension(),
            )
        })
        .collect();
    format!("<p>Download: {}</p>", links.join(" · "))
}

/// A table as HTML, at most `limit` rows, with a note when there are more.
fn html_table(table: &Table, limit: usize) -> String {
    let mut html = String::from("<table><thead><tr>");
    for column in table.columns() {
        html.push_str(&format!("<th>{}</th>", escape(&column.name)));
    }
    html.push_str("</tr></thead><tbody>");
    for row in table.rows().iter().take(limit) {
        html.push_str("<tr>");
        for cell in row {
            match cell {
                Cell::Integer(n) => {
                    html.push_str(&format!("<td class=\"num\">{n}</td>"));
                }
                other => html.push_str(&format!("<td>{}</td>", escape(&other.display()))),
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    if table.len() > limit {
        html.push_str(&format!(
            "<p class=\"note\">Showing the first {limit} of {} rows; the downloads have all of them.</p>",
            table.len()
        ));
    }
    html
}

fn options<'a>(
    names: impl Iterator<Item = &'a String>,
    selected: &str,
    all: Option<&str>,
) -> String {
    let mut html = all.map_or_else(String::new, |label| {
        format!("<option value=\"\">{}</option>", escape(label))
    });
    for name in names {
        let mark = if name == selected { " selected" } else { "" };
        html.push_str(&format!(
            "<option value=\"{n}\"{mark}>{n}</option>",
            n = escape(name)
        ));
    }
    html
}

// ---------------------------------------------------------------- index

/// One stored report in the list: id, product, biller, day, summary, created.
type ReportLine = (String, Option<String>, String, String, String, i64);

/// A report's counts in one line: `3 transactions: matched 2, status_mismatch 1`.
fn counts_summary(summary: &Value) -> String {
    let counts: Vec<String> = CATEGORIES
        .iter()
        .filter_map(|c| {
            let n = summary["counts"][*c].as_i64().unwrap_or(0);
            (n > 0).then(|| format!("{c} {n}"))
        })
        .collect();
    let total = summary["transactions"].as_i64().unwrap_or(0);
    if counts.is_empty() {
        format!("{total} transactions")
    } else {
        format!("{total} transactions: {}", counts.join(", "))
    }
}

/// `GET /console/reports`: the three reports' forms and the latest reconciliations.
pub(super) async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let reports: Vec<ReportLine> = match sqlx::query_as(
        "SELECT id, client_id, provider, day, summary, created_at FROM reconciliations ORDER BY created_at DESC, id DESC LIMIT 50",
    )
    .fetch_all(state.db().pool())
    .await
    {
        Ok(rows) => rows,
        Err(e) => return storage(&StoreError::from(e)),
    };
    let today = today_wib();
    let yesterday = today.previous_day().unwrap_or(today);
    let first = today.replace_day(1).unwrap_or(today);
    let clients = options(state.settings().clients.keys(), "", Some("All products"));
    let mut body = format!(
        "<h2>Daily transactions</h2><form class=\"filters\" method=\"get\" action=\"/console/reports/daily\">\
         <label>Day (Asia/Jakarta)<input type=\"date\" name=\"date\" value=\"{yesterday}\" required></label>\
         <label>Product<select name=\"client\">{clients}</select></label><button>Show</button></form>\
         <h2>Reconciliation</h2>"
    );
    if operator.role == Role::Admin {
        let billers: Vec<String> = state.registry().billers();
        body.push_str(&format!(
            "<form class=\"filters\" method=\"post\" action=\"/console/reports/reconciliations\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <label>Biller<select name=\"biller\" required>{}</select></label>\
             <label>Day (Asia/Jakarta)<input type=\"date\" name=\"date\" value=\"{yesterday}\" required></label>\
             <button>Run reconciliation</button></form>",
            escape(&session.csrf_token),
            options(billers.iter(), "", None),
        ));
    }
    body.push_str(&reports_list(&reports));
    body.push_str(&format!(
        "<h2>Usage</h2><form class=\"filters\" method=\"get\" action=\"/console/reports/usage\">\
         <label>From<input type=\"date\" name=\"from\" value=\"{first}\" required></label>\
         <label>To<input type=\"date\" name=\"to\" value=\"{today}\" required></label>\
         <button>Show</button></form>"
    ));
    page("Reports", Some((&operator, &session)), &body).into_response()
}

fn reports_list(reports: &[ReportLine]) -> String {
    if reports.is_empty() {
        return "<p>No reconciliation reports yet.</p>".to_owned();
    }
    let mut html = String::from(
        "<table><tr><th>Day</th><th>Biller</th><th>Product</th><th>Summary</th><th>Created</th></tr>",
    );
    for (id, client, biller, day, summary, created) in reports {
        let summary: Value = serde_json::from_str(summary).unwrap_or(Value::Null);
        html.push_str(&format!(
            "<tr><td><a href=\"/console/reports/reconciliations/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(id),
            escape(day),
            escape(biller),
            escape(client.as_deref().unwrap_or("all")),
            escape(&counts_summary(&summary)),
            rfc3339(*created),
        ));
    }
    html.push_str("</table>");
    html
}

// ---------------------------------------------------------------- daily

/// The daily report's query.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct DailyQuery {
    /// `YYYY-MM-DD`, Asia/Jakarta.
    date: String,
    /// Only this product.
    client: String,
    /// `html` (default), `csv`, `xlsx` or `pdf`.
    format: String,
}

/// One transaction of the daily report.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Transaction {
    kind: &'static str,
    id: String,
    product: String,
    provider: Option<String>,
    reference: String,
    status: String,
    amount: Option<i64>,
    paid_amount: Option<i64>,
    created_at: i64,
    completed_at: Option<i64>,
}

/// A VA or payment row: id, product, provider, reference, status, amount, paid amount,
/// created, paid.
type MoneyRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
);
/// A bill payment row: id, product, provider, reference, status, price, created,
/// completed.
type BillRow = (
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    i64,
    Option<i64>,
);

/// Every VA, payment and bill payment created in `[from, to)`, by creation then id; more
/// than [`MAX_REPORT_ROWS`] when there are more (each table is read up to one past it).
async fn transactions(
    state: &AppState,
    (from, to): (i64, i64),
    client: &str,
) -> Result<Vec<Transaction>, StoreError> {
    let mut all = Vec::new();
    for (kind, table) in [
        ("virtual_account", "virtual_accounts"),
        ("payment", "payments"),
    ] {
        let sql = format!(
            "SELECT id, client_id, provider, reference, status, amount, paid_amount, created_at, paid_at FROM {table} WHERE created_at >= $1 AND created_at < $2 AND ($3 = '' OR client_id = $3) ORDER BY created_at, id LIMIT {}",
            MAX_REPORT_ROWS + 1
        );
        let rows: Vec<MoneyRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(from)
            .bind(to)
            .bind(client)
            .fetch_all(state.db().pool())
            .await?;
        all.extend(rows.into_iter().map(|r| money(kind, r)));
    }
    let sql = format!(
        "SELECT id, client_id, provider, reference, status, customer_total, created_at, completed_at FROM bill_payments WHERE created_at >= $1 AND created_at < $2 AND ($3 = '' OR client_id = $3) ORDER BY created_at, id LIMIT {}",
        MAX_REPORT_ROWS + 1
    );
    let bills: Vec<BillRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(from)
        .bind(to)
        .bind(client)
        .fetch_all(state.db().pool())
        .await?;
    all.extend(bills.into_iter().map(bill));
    all.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(all)
}

/// A VA (its paid amount always) or a payment (its paid amount once paid).
fn money(kind: &'static str, row: MoneyRow) -> Transaction {
    let (id, product, provider, reference, status, amount, paid, created_at, paid_at) = row;
    let paid_amount = if kind == "virtual_account" || paid_at.is_some() {
        Some(paid)
    } else {
        None
    };
    Transaction {
        kind,
        id,
        product,
        provider,
        reference,
        status,
        amount: Some(amount),
        paid_amount,
        created_at,
        completed_at: paid_at,
    }
}

/// A bill payment: the price charged (`customer_total`), paid once it succeeded.
fn bill(row: BillRow) -> Transaction {
    let (id, product, provider, reference, status, price, created_at, completed_at) = row;
    let paid_amount = if status == crate::store::bills::status::SUCCESS {
        price
    } else {
        None
    };
    Transaction {
        kind: "bill_payment",
        id,
        product,
        provider: Some(provider),
        reference,
        status,
        amount: price,
        paid_amount,
        created_at,
        completed_at,
    }
}

fn daily_table(day: Date, client: &str, lines: &[Transaction]) -> Result<Table, RowError> {
    let mut subtitle = format!("{day}, Asia/Jakarta");
    if !client.is_empty() {
        subtitle.push_str(&format!(", product {client}"));
    }
    let mut table = Table::new(
        &format!("Transactions {day}"),
        vec![
            Column::text("kind"),
            Column::text("id"),
            Column::text("product"),
            Column::text("provider"),
            Column::text("reference"),
            Column::text("status"),
            Column::integer("amount"),
            Column::integer("paid_amount"),
            Column::text("created_at"),
            Column::text("completed_at"),
        ],
    )
    .with_subtitle(&subtitle);
    for t in lines {
        table.push_row(vec![
            t.kind.into(),
            t.id.clone().into(),
            t.product.clone().into(),
            t.provider.clone().into(),
            t.reference.clone().into(),
            t.status.clone().into(),
            t.amount.into(),
            t.paid_amount.into(),
            rfc3339(t.created_at).into(),
            t.completed_at.map(rfc3339).into(),
        ])?;
    }
    Ok(table)
}

/// Count and amount per kind and status.
fn totals(lines: &[Transaction]) -> BTreeMap<(&'static str, &str), (i64, i64)> {
    let mut totals: BTreeMap<(&'static str, &str), (i64, i64)> = BTreeMap::new();
    for t in lines {
        let entry = totals.entry((t.kind, t.status.as_str())).or_default();
        entry.0 += 1;
        entry.1 = entry.1.saturating_add(t.amount.unwrap_or(0));
    }
    totals
}

/// `GET /console/reports/daily?date=YYYY-MM-DD[&client=][&format=]`.
pub(super) async fn daily(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<DailyQuery>,
) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let who = (&operator, &session);
    let Ok(format) = parse_format(&q.format) else {
        return refused(
            StatusCode::BAD_REQUEST,
            who,
            "Daily transactions",
            "The format must be html, csv, xlsx or pdf.",
        );
    };
    let Some(day) = parse_day(&q.date) else {
        return refused(
            StatusCode::BAD_REQUEST,
            who,
            "Daily transactions",
            "The date must be a day, YYYY-MM-DD.",
        );
    };
    let lines = match transactions(&state, day_window(day), &q.client).await {
        Ok(lines) => lines,
        Err(e) => return storage(&e),
    };
    if lines.len() > MAX_REPORT_ROWS {
        return refused(
            StatusCode::BAD_REQUEST,
            who,
            "Daily transactions",
            &format!(
                "More than {MAX_REPORT_ROWS} transactions were created that day: choose a product."
            ),
        );
    }
    let table = match daily_table(day, &q.client, &lines) {
        Ok(table) => table,
        Err(e) => return unbuilt(&e),
    };
    if let Some(format) = format {
        let date = day.to_string();
        let name = filename(&["transactions", &date, &q.client], format);
        return download(table, format, name).await;
    }
    let mut sums =
        String::from("<table><tr><th>Kind</th><th>Status</th><th>Count</th><th>Amount</th></tr>");
    for ((kind, status), (count, amount)) in totals(&lines) {
        sums.push_str(&format!(
            "<tr><td>{kind}</td><td>{}</td><td>{count}</td><td class=\"num\">{amount}</td></tr>",
            escape(status)
        ));
    }
    sums.push_str("</table>");
    let date = day.to_string();
    let body = format!(
        "<p>{} created on {date} (Asia/Jakarta), {}.</p>{}<h2>Totals</h2>{sums}<h2>Transactions</h2>{}",
        lines.len(),
        if q.client.is_empty() {
            "all products".to_owned()
        } else {
            format!("product {}", escape(&q.client))
        },
        download_links(
            "/console/reports/daily",
            &[("date", &date), ("client", &q.client)],
            "daily"
        ),
        html_table(&table, SHOWN_ROWS),
    );
    page(&format!("Transactions {date}"), Some(who), &body).into_response()
}

// ---------------------------------------------------------------- reconciliation

/// `format=` alone.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct FormatQuery {
    /// `html` (default), `csv`, `xlsx` or `pdf`.
    format: String,
}

/// The items' columns, as `reconcile::csv` writes them; `true` for integers.
const ITEM_COLUMNS: [(&str, bool); 10] = [
    ("category", false),
    ("ref_id", false),
    ("payment_id", false),
    ("reference", false),
    ("product_code", false),
    ("our_status", false),
    ("our_biller_cost", true),
    ("biller_status", false),
    ("biller_cost", true),
    ("biller_code", false),
];

fn item_cell(value: &Value, integer: bool) -> Cell {
    match (value, integer) {
        (Value::Null, _) => Cell::Empty,
        (v, true) => v.as_i64().map_or(Cell::Empty, Cell::Integer),
        (Value::String(s), false) => Cell::Text(s.clone()),
        (other, false) => Cell::Text(other.to_string()),
    }
}

fn reconciliation_table(report: &ReconciliationRow) -> Result<Table, RowError> {
    let product = report.client_id.as_deref().unwrap_or("all products");
    let mut table = Table::new(
        &format!("Reconciliation {} {}", report.provider, report.day),
        ITEM_COLUMNS
            .iter()
            .map(|(name, integer)| {
                if *integer {
                    Column::integer(*name)
                } else {
                    Column::text(*name)
                }
            })
            .collect(),
    )
    .with_subtitle(&format!(
        "{}, Asia/Jakarta, biller {}, {product}",
        report.day, report.provider
    ));
    for item in report.items.as_array().into_iter().flatten() {
        table.push_row(
            ITEM_COLUMNS
                .iter()
                .map(|(name, integer)| item_cell(&item[*name], *integer))
                .collect(),
        )?;
    }
    Ok(table)
}

/// The summary as HTML: counts in category order, costs, the balance drift when given.
fn summary_html(report: &ReconciliationRow) -> String {
    let s = &report.summary;
    let number = |v: &Value| v.as_i64().map_or_else(String::new, |n| n.to_string());
    let mut html = format!(
        "<p>Biller <strong>{}</strong>, {} (Asia/Jakarta), {}; from {}; created {}.</p><table><tr><th>Category</th><th>Count</th></tr>",
        escape(&report.provider),
        escape(&report.day),
        escape(report.client_id.as_deref().unwrap_or("all products")),
        escape(s["source"].as_str().unwrap_or("")),
        rfc3339(report.created_at),
    );
    for category in CATEGORIES {
        html.push_str(&format!(
            "<tr><td>{category}</td><td>{}</td></tr>",
            s["counts"][category].as_i64().unwrap_or(0)
        ));
    }
    html.push_str(&format!(
        "<tr><th>transactions</th><td>{}</td></tr></table><p>Our success cost Rp{}; the biller's Rp{}.</p>",
        number(&s["transactions"]),
        number(&s["our_success_cost"]),
        number(&s["biller_success_cost"]),
    ));
    if let Some(balance) = s["balance"].as_object() {
        html.push_str("<h2>Balance drift</h2><table>");
        for key in ["opening", "spent", "expected_closing", "closing", "drift"] {
            html.push_str(&format!(
                "<tr><th>{key}</th><td>{}</td></tr>",
                balance.get(key).map(number).unwrap_or_default()
            ));
        }
        html.push_str("</table>");
    }
    html
}

/// A stored report's row: id, product, biller, day, summary, items, created.
type StoredLine = (String, Option<String>, String, String, String, String, i64);

/// A stored report, whoever asked for it.
async fn stored_report(
    state: &AppState,
    id: &str,
) -> Result<Option<ReconciliationRow>, StoreError> {
    let row: Option<StoredLine> = sqlx::query_as(
        "SELECT id, client_id, provider, day, summary, items, created_at FROM reconciliations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(state.db().pool())
    .await?;
    Ok(row.map(
        |(id, client_id, provider, day, summary, items, created_at)| {
            let json = |text: &str| {
                serde_json::from_str(text).unwrap_or_else(|e| {
                    tracing::warn!(report = %id, error = %e, "stored reconciliation is not JSON");
                    Value::Null
                })
            };
            ReconciliationRow {
                summary: json(&summary),
                items: json(&items),
                id: id.clone(),
                client_id,
                provider,
                day,
                created_at,
            }
        },
    ))
}

/// `GET /console/reports/reconciliations/{id}[?format=]`.
pub(super) async fn reconciliation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<FormatQuery>,
) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let who = (&operator, &session);
    let Ok(format) = parse_format(&q.format) else {
        return refused(
            StatusCode::BAD_REQUEST,
            who,
            "Reconciliation",
            "The format must be html, csv, xlsx or pdf.",
        );
    };
    let report = match stored_report(&state, &id).await {
        Ok(Some(report)) => report,
        Ok(None) => {
            return refused(
                StatusCode::NOT_FOUND,
                who,
                "Not found",
                "No such reconciliation report.",
            );
        }
        Err(e) => return storage(&e),
    };
    let table = match reconciliation_table(&report) {
        Ok(table) => table,
        Err(e) => return unbuilt(&e),
    };
    if let Some(format) = format {
        let name = filename(&["reconciliation", &report.provider, &report.day], format);
        return download(table, format, name).await;
    }
    let body = format!(
        "{}{}<h2>Items</h2>{}",
        summary_html(&report),
        download_links(
            &format!("/console/reports/reconciliations/{}", report.id),
            &[],
            "rec"
        ),
        html_table(&table, SHOWN_ROWS),
    );
    page(
        &format!("Reconciliation {} {}", report.provider, report.day),
        Some(who),
        &body,
    )
    .into_response()
}

/// `POST /console/reports/reconciliations` (admin; form `csrf`, `biller`, `date`): runs
/// the biller's reconciliation of the day over every product, audited, then shows it.
pub(super) async fn run_reconciliation(
    State(state): State<AppState>,
    Remote(remote): Remote,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let (mut csrf, mut biller, mut date) = (String::new(), String::new(), String::new());
    for (key, value) in url::form_urlencoded::parse(&body) {
        match key.as_ref() {
            "csrf" => csrf = value.into_owned(),
            "biller" => biller = value.into_owned(),
            "date" => date = value.into_owned(),
            _ => {}
        }
    }
    if !csrf_ok(&session.csrf_token, &csrf) {
        return csrf_refused();
    }
    if operator.role != Role::Admin {
        return forbidden(&operator, &session);
    }
    let who = (&operator, &session);
    let Some(day) = parse_day(&date).filter(|d| *d <= today_wib()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            who,
            "Reconciliation",
            "The date must be a day, YYYY-MM-DD, not in the future (Asia/Jakarta).",
        );
    };
    let report = match reconcile::run(&state, None, &biller, day).await {
        Ok(report) => report,
        Err(e) => {
            let message = format!("{}: {}", e.code(), e.detail());
            return refused(e.status(), who, "Reconciliation failed", &message);
        }
    };
    let (who, id, detail) = (
        operator.clone(),
        report.id.clone(),
        format!("{biller} {day}"),
    );
    let audited = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                audit(
                    conn,
                    Some(&who),
                    &who.username,
                    "reconciliation_run",
                    Some(&id),
                    Some(&detail),
                    &remote,
                )
                .await
            })
        })
        .await;
    if let Err(e) = audited {
        return storage(&e);
    }
    Redirect::to(&format!("/console/reports/reconciliations/{}", report.id)).into_response()
}

// ---------------------------------------------------------------- usage

/// The usage report's query.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct UsageQuery {
    /// First day, `YYYY-MM-DD` (Asia/Jakarta); default the first of this month.
    from: String,
    /// Last day, included; default today.
    to: String,
    /// `html` (default), `csv`, `xlsx` or `pdf`.
    format: String,
}

/// The days `from..=to`: both dates, in order, at most [`MAX_USAGE_DAYS`] days.
fn usage_range(from: &str, to: &str, today: Date) -> Result<(Date, Date), &'static str> {
    let first = if from.trim().is_empty() {
        today.replace_day(1).unwrap_or(today)
    } else {
        parse_day(from).ok_or("The first day must be a day, YYYY-MM-DD.")?
    };
    let last = if to.trim().is_empty() {
        today
    } else {
        parse_day(to).ok_or("The last day must be a day, YYYY-MM-DD.")?
    };
    if first > last {
        return Err("The first day must not be after the last.");
    }
    if (last - first).whole_days() + 1 > MAX_USAGE_DAYS {
        return Err("The range must be at most 366 days.");
    }
    Ok((first, last))
}

/// Provider calls per product, instance and operation: calls, ok, disabled.
type CallRow = (Option<String>, String, String, i64, i64, i64);
/// A business outcome per product and instance: count, amount.
type VolumeRow = (String, Option<String>, i64, i64);

/// One usage line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct UsageLine {
    product: Option<String>,
    provider: String,
    /// 0 for provider operations, 1 for business outcomes (the order within a provider).
    group: u8,
    item: String,
    count: i64,
    amount: Option<i64>,
}

/// The lines by product, provider, then operations (each followed by its failed and
/// disabled calls) before business outcomes, each group by name.
fn usage_lines(
    mut calls: Vec<CallRow>,
    mut volumes: Vec<(&'static str, VolumeRow)>,
) -> Vec<UsageLine> {
    calls.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    volumes.sort_by_key(|(item, _)| *item);
    let mut lines = Vec::new();
    for (product, provider, operation, calls, ok, disabled) in calls {
        let failed = calls - ok - disabled;
        let mut line = |item: String, count: i64| {
            lines.push(UsageLine {
                product: product.clone(),
                provider: provider.clone(),
                group: 0,
                item,
                count,
                amount: None,
            });
        };
        line(operation.clone(), calls);
        if failed > 0 {
            line(format!("{operation}:failed"), failed);
        }
        if disabled > 0 {
            line(format!("{operation}:disabled"), disabled);
        }
    }
    for (item, (product, provider, count, amount)) in volumes {
        lines.push(UsageLine {
            product: Some(product),
            provider: provider.unwrap_or_default(),
            group: 1,
            item: item.to_owned(),
            count,
            amount: Some(amount),
        });
    }
    // Stable: keeps the order above within a product, provider and group.
    lines.sort_by(|a, b| {
        (&a.product, &a.provider, a.group).cmp(&(&b.product, &b.provider, b.group))
    });
    lines
}

async fn usage_data(state: &AppState, from: i64, to: i64) -> Result<Vec<UsageLine>, StoreError> {
    let calls: Vec<CallRow> = sqlx::query_as(
        "SELECT client_id, provider, operation, CAST(COUNT(*) AS BIGINT), CAST(SUM(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(CASE WHEN outcome = 'disabled' THEN 1 ELSE 0 END) AS BIGINT) FROM provider_calls WHERE at >= $1 AND at < $2 GROUP BY client_id, provider, operation",
    )
    .bind(from)
    .bind(to)
    .fetch_all(state.db().pool())
    .await?;
    let mut volumes = Vec::new();
    for (item, sql) in [
        (
            "virtual_accounts_paid",
            "SELECT client_id, provider, CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(paid_amount), 0) AS BIGINT) FROM virtual_accounts WHERE paid_at >= $1 AND paid_at < $2 GROUP BY client_id, provider",
        ),
        (
            "payments_paid",
            "SELECT client_id, provider, CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(paid_amount), 0) AS BIGINT) FROM payments WHERE paid_at >= $1 AND paid_at < $2 GROUP BY client_id, provider",
        ),
        (
            "bill_payments_success",
            "SELECT client_id, provider, CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(customer_total), 0) AS BIGINT) FROM bill_payments WHERE status = 'success' AND completed_at >= $1 AND completed_at < $2 GROUP BY client_id, provider",
        ),
    ] {
        let rows: Vec<VolumeRow> = sqlx::query_as(sql)
            .bind(from)
            .bind(to)
            .fetch_all(state.db().pool())
            .await?;
        volumes.extend(rows.into_iter().map(|r| (item, r)));
    }
    Ok(usage_lines(calls, volumes))
}

fn usage_table(first: Date, last: Date, lines: &[UsageLine]) -> Result<Table, RowError> {
    let mut table = Table::new(
        &format!("Usage {first} to {last}"),
        vec![
            Column::text("product"),
            Column::text("provider"),
            Column::text("item"),
            Column::integer("count"),
            Column::integer("amount"),
        ],
    )
    .with_subtitle(&format!("{first} to {last}, Asia/Jakarta"));
    for l in lines {
        table.push_row(vec![
            l.product.clone().into(),
            l.provider.clone().into(),
            l.item.clone().into(),
            l.count.into(),
            l.amount.into(),
        ])?;
    }
    Ok(table)
}

/// `GET /console/reports/usage?from=&to=[&format=]`.
pub(super) async fn usage(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<UsageQuery>,
) -> Response {
    let (operator, session) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let who = (&operator, &session);
    let Ok(format) = parse_format(&q.format) else {
        return refused(
            StatusCode::BAD_REQUEST,
            who,
            "Usage",
            "The format must be html, csv, xlsx or pdf.",
        );
    };
    let (first, last) = match usage_range(&q.from, &q.to, today_wib()) {
        Ok(range) => range,
        Err(message) => return refused(StatusCode::BAD_REQUEST, who, "Usage", message),
    };
    let lines = match usage_data(&state, day_window(first).0, day_window(last).1).await {
        Ok(lines) => lines,
        Err(e) => return storage(&e),
    };
    let table = match usage_table(first, last, &lines) {
        Ok(table) => table,
        Err(e) => return unbuilt(&e),
    };
    let (from, to) = (first.to_string(), last.to_string());
    if let Some(format) = format {
        return download(table, format, filename(&["usage", &from, &to], format)).await;
    }
    let body = format!(
        "<p>Provider calls and business volume per product and provider instance, {from} to {to} (Asia/Jakarta). \
         An operation's <code>:failed</code> line counts calls that did not succeed, its <code>:disabled</code> line \
         calls refused because the instance was switched off.</p>{}{}",
        download_links(
            "/console/reports/usage",
            &[("from", &from), ("to", &to)],
            "usage"
        ),
        html_table(&table, SHOWN_ROWS),
    );
    page(&format!("Usage {from} to {to}"), Some(who), &body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    fn va(id: &str, created_at: i64, paid_at: Option<i64>) -> MoneyRow {
        (
            id.into(),
            "shop".into(),
            Some("bni_modal".into()),
            format!("INV-{id}"),
            if paid_at.is_some() { "paid" } else { "active" }.into(),
            50_000,
            if paid_at.is_some() { 50_000 } else { 0 },
            created_at,
            paid_at,
        )
    }

    #[test]
    fn daily_rows_carry_amounts_and_times_but_no_personal_data() {
        let lines = vec![
            money("virtual_account", va("va_1", 1_000, Some(2_000))),
            money("payment", va("pay_1", 1_500, None)),
            bill((
                "bp_1".into(),
                "ppob".into(),
                "digiflazz".into(),
                "R-1".into(),
                "success".into(),
                Some(10_150),
                1_800,
                Some(1_900),
            )),
            bill((
                "bp_2".into(),
                "ppob".into(),
                "digiflazz".into(),
                "R-2".into(),
                "pending".into(),
                None,
                1_900,
                None,
            )),
        ];
        let table = daily_table(date!(2026 - 11 - 21), "", &lines).expect("builds");
        let rows = table.display_rows();
        assert_eq!(
            rows[0],
            [
                "kind",
                "id",
                "product",
                "provider",
                "reference",
                "status",
                "amount",
                "paid_amount",
                "created_at",
                "completed_at"
            ]
        );
        assert_eq!(
            rows[1],
            [
                "virtual_account",
                "va_1",
                "shop",
                "bni_modal",
                "INV-va_1",
                "paid",
                "50000",
                "50000",
                "1970-01-01T00:00:01Z",
                "1970-01-01T00:00:02Z"
            ]
        );
        assert_eq!(rows[2][6..8], ["50000", ""]);
        assert_eq!(
            rows[3][6..10],
            [
                "10150",
                "10150",
                "1970-01-01T00:00:01.8Z",
                "1970-01-01T00:00:01.9Z"
            ]
        );
        assert_eq!(rows[4][6..10], ["", "", "1970-01-01T00:00:01.9Z", ""]);
        assert_eq!(table.subtitle(), Some("2026-11-21, Asia/Jakarta"));
        let filtered = daily_table(date!(2026 - 11 - 21), "shop", &lines[..1]).expect("builds");
        assert_eq!(
            filtered.subtitle(),
            Some("2026-11-21, Asia/Jakarta, product shop")
        );
    }

    #[test]
    fn totals_count_and_sum_per_kind_and_status() {
        let lines = vec![
            money("virtual_account", va("a", 1, Some(2))),
            money("virtual_account", va("b", 1, Some(2))),
            money("virtual_account", va("c", 1, None)),
        ];
        let totals = totals(&lines);
        assert_eq!(totals[&("virtual_account", "paid")], (2, 100_000));
        assert_eq!(totals[&("virtual_account", "active")], (1, 50_000));
    }

    #[test]
    fn file_names_name_the_report_and_keep_to_safe_characters() {
        assert_eq!(
            filename(&["transactions", "2026-11-21", ""], Download::Csv),
            "transactions-2026-11-21.csv"
        );
        assert_eq!(
            filename(&["transactions", "2026-11-21", "iki_modal"], Download::Xlsx),
            "transactions-2026-11-21-iki_modal.xlsx"
        );
        assert_eq!(
            filename(
                &["reconciliation", "digi\"flazz/x", "2026-11-21"],
                Download::Pdf
            ),
            "reconciliation-digi_flazz_x-2026-11-21.pdf"
        );
    }

    #[test]
    fn days_and_formats_parse_strictly() {
        assert_eq!(parse_day("2026-11-21"), Some(date!(2026 - 11 - 21)));
        for bad in [
            "",
            "21-11-2026",
            "2026-02-30",
            "2026-11-21T00:00",
            "yesterday",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
        assert_eq!(parse_format(""), Ok(None));
        assert_eq!(parse_format("html"), Ok(None));
        assert_eq!(parse_format("pdf"), Ok(Some(Download::Pdf)));
        assert_eq!(parse_format("xls"), Err(()));
    }

    #[test]
    fn usage_ranges_default_to_this_month_and_stay_within_366_days() {
        let today = date!(2026 - 11 - 21);
        assert_eq!(
            usage_range("", "", today),
            Ok((date!(2026 - 11 - 01), today))
        );
        assert_eq!(
            usage_range("2025-11-21", "2026-11-21", today),
            Ok((date!(2025 - 11 - 21), today))
        );
        assert!(usage_range("2025-11-20", "2026-11-21", today).is_err());
        assert!(usage_range("2026-11-22", "2026-11-21", today).is_err());
        assert!(usage_range("2026-13-01", "", today).is_err());
    }

    #[test]
    fn usage_lines_split_failures_and_follow_with_business_volume() {
        let calls = vec![
            (
                Some("shop".into()),
                "bni_modal".into(),
                "virtual_account.create".into(),
                10,
                7,
                1,
            ),
            (None, "digiflazz".into(), "bill.settlement".into(), 1, 1, 0),
        ];
        let volumes = vec![(
            "virtual_accounts_paid",
            ("shop".into(), Some("bni_modal".into()), 3, 150_000),
        )];
        let lines = usage_lines(calls, volumes);
        let table =
            usage_table(date!(2026 - 11 - 01), date!(2026 - 11 - 21), &lines).expect("builds");
        assert_eq!(
            table.display_rows(),
            vec![
                vec!["product", "provider", "item", "count", "amount"],
                vec!["", "digiflazz", "bill.settlement", "1", ""],
                vec!["shop", "bni_modal", "virtual_account.create", "10", ""],
                vec![
                    "shop",
                    "bni_modal",
                    "virtual_account.create:failed",
                    "2",
                    ""
                ],
                vec![
                    "shop",
                    "bni_modal",
                    "virtual_account.create:disabled",
                    "1",
                    ""
                ],
                vec!["shop", "bni_modal", "virtual_accounts_paid", "3", "150000"],
            ]
        );
    }

    fn report() -> ReconciliationRow {
        ReconciliationRow {
            id: "rec_1".into(),
            client_id: None,
            provider: "digiflazz".into(),
            day: "2026-11-21".into(),
            summary: json!({
                "counts": {"matched": 2, "missing_at_gateway": 0, "status_mismatch": 1},
                "transactions": 3,
                "balance": {"opening": 100, "spent": 30, "expected_closing": 70, "closing": 65, "drift": -5},
            }),
            items: json!([
                {"category": "matched", "ref_id": "A1", "payment_id": "bp_1", "reference": "INV,1",
                 "product_code": "pln20", "our_status": "success", "our_biller_cost": 20150,
                 "biller_status": "success", "biller_cost": 20150, "biller_code": null},
                {"category": "missing_at_gateway", "ref_id": "Z9", "payment_id": null, "reference": null,
                 "product_code": null, "our_status": null, "our_biller_cost": null,
                 "biller_status": "unknown", "biller_cost": -10, "biller_code": "02"},
            ]),
            created_at: 0,
        }
    }

    #[test]
    fn reconciliation_items_keep_the_csv_columns_with_integer_costs() {
        let table = reconciliation_table(&report()).expect("builds");
        let rows = table.display_rows();
        let csv_header: Vec<String> = reconcile::csv(&report())
            .lines()
            .next()
            .expect("a header")
            .split(',')
            .map(str::to_owned)
            .collect();
        assert_eq!(rows[0], csv_header);
        assert_eq!(rows[1][6], "20150");
        assert_eq!(table.rows()[1][8], Cell::Integer(-10));
        assert_eq!(
            rows[2],
            [
                "missing_at_gateway",
                "Z9",
                "",
                "",
                "",
                "",
                "",
                "unknown",
                "-10",
                "02"
            ]
        );
        assert_eq!(
            table.subtitle(),
            Some("2026-11-21, Asia/Jakarta, biller digiflazz, all products")
        );
        let html = summary_html(&report());
        assert!(html.contains("<tr><td>status_mismatch</td><td>1</td></tr>"));
        assert!(html.contains("<tr><th>drift</th><td>-5</td></tr>"));
    }

    #[test]
    fn the_counts_summary_lists_non_zero_categories_in_report_order() {
        assert_eq!(
            counts_summary(&report().summary),
            "3 transactions: matched 2, status_mismatch 1"
        );
        assert_eq!(counts_summary(&Value::Null), "0 transactions");
    }

    #[test]
    fn pages_show_at_most_the_limit_and_say_so() {
        let lines: Vec<Transaction> = (0..3)
            .map(|i| money("payment", va(&format!("p{i}"), i, None)))
            .collect();
        let table = daily_table(date!(2026 - 11 - 21), "", &lines).expect("builds");
        let html = html_table(&table, 2);
        assert_eq!(html.matches("<tr>").count(), 3);
        assert!(html.contains("Showing the first 2 of 3 rows"));
        let links = download_links(
            "/console/reports/daily",
            &[("date", "2026-11-21"), ("client", "")],
            "daily",
        );
        assert!(links.contains(
            "id=\"daily-csv\" href=\"/console/reports/daily?date=2026-11-21&amp;format=csv\""
        ));
        assert!(links.contains("id=\"daily-pdf\""));
    }
}
