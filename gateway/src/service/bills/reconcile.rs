//! H+1 reconciliation of one biller's day (Asia/Jakarta) with the gateway's records.
//!
//! The biller's side comes from its daily records where it publishes them
//! ([`contracts::Biller::settlement`]); Digiflazz does not, so each transaction the gateway
//! sent that day is asked about (the adapter re-sends a prepaid `ref_id` only for what the
//! gateway sent, within the biller's horizon), and transactions the biller announced by
//! webhook that the gateway does not know are read from the callback journal. Categories:
//! `matched`, `missing_at_gateway`, `missing_at_biller`, `amount_mismatch`,
//! `status_mismatch`, and `unchecked` when the biller could not be asked. The report also
//! gives the balance drift: the deposit before the day's first success, minus what the
//! day's successes cost, against the deposit after the last (only for reports over every
//! client: one client's transactions cannot explain a shared deposit).
//!
//! The report changes nothing: operators (or the status checks) act on it.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::http::StatusCode;
use contracts::biller::{BillerOrder, BillerTxState};
use contracts::{Amount, ErrorKind, OurReference};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::{Date, OffsetDateTime, Time};

use super::{WIB, instances_of};
use crate::app::AppState;
use crate::http::ApiError;
use crate::service::fields::{field, rfc3339};
use crate::store::bills::{self as store, PaymentRow, ReconciliationRow, status};
use crate::store::calls::{self, Call};
use crate::store::provider_events::state as event_state;
use crate::store::{StoreError, from_ms, new_id, now_ms, to_ms};

/// A reconciliation request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReconciliation {
    /// The biller instance.
    pub biller: String,
    /// The day, `YYYY-MM-DD` in Asia/Jakarta: usually yesterday (H+1); today gives the day
    /// so far.
    pub date: String,
}

/// A stored report as products see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reconciliation {
    /// `rec_…`.
    pub id: String,
    /// The biller instance.
    pub biller: String,
    /// The day reconciled (Asia/Jakarta).
    pub date: String,
    /// Counts per category, totals and the balance drift.
    pub summary: Value,
    /// One entry per transaction that is not `matched` (and the matched ones, marked so).
    pub items: Value,
    /// RFC 3339.
    pub created_at: String,
}

impl From<&ReconciliationRow> for Reconciliation {
    fn from(r: &ReconciliationRow) -> Self {
        Reconciliation {
            id: r.id.clone(),
            biller: r.provider.clone(),
            date: r.day.clone(),
            summary: r.summary.clone(),
            items: r.items.clone(),
            created_at: rfc3339(r.created_at),
        }
    }
}

/// The categories, in report order.
pub const CATEGORIES: [&str; 6] = [
    "matched",
    "missing_at_gateway",
    "missing_at_biller",
    "amount_mismatch",
    "status_mismatch",
    "unchecked",
];

/// The biller's word about one transaction.
#[derive(Clone, Debug)]
struct Theirs {
    status: &'static str,
    biller_cost: Option<i64>,
    code: String,
}

fn their_status(state: &BillerTxState) -> &'static str {
    match state {
        BillerTxState::Success => "success",
        BillerTxState::Failed { .. } => "failed",
        BillerTxState::Pending => "pending",
        _ => "not_found",
    }
}

fn our_status(stored: &str) -> &'static str {
    match stored {
        status::SUCCESS => "success",
        status::FAILED => "failed",
        _ => "pending",
    }
}

/// The `[start, end)` of `day` in Asia/Jakarta, in ms.
pub fn day_window(day: Date) -> (i64, i64) {
    let start = day.with_time(Time::MIDNIGHT).assume_offset(WIB);
    let end = start + time::Duration::days(1);
    (to_ms(start), to_ms(end))
}

fn parse_day(text: &str) -> Result<Date, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = Date::parse(text, &format)
        .map_err(|_| ApiError::validation(vec![field("date", "must be a date, YYYY-MM-DD")]))?;
    if day > super::today_wib() {
        return Err(ApiError::validation(vec![field(
            "date",
            "must not be in the future (Asia/Jakarta); today gives the day so far",
        )]));
    }
    Ok(day)
}

/// `POST /v1/reconciliations`: reconciles the client's transactions with `biller` for the
/// day, stores the report and returns it.
pub async fn request(
    state: &AppState,
    client_id: &str,
    req: NewReconciliation,
) -> Result<ReconciliationRow, ApiError> {
    let instances = instances_of(state, client_id)?;
    if !instances.contains(&req.biller) {
        return Err(ApiError::validation(vec![field(
            "biller",
            "not a biller instance of this client",
        )]));
    }
    let day = parse_day(&req.date)?;
    run(state, Some(client_id), &req.biller, day).await
}

/// Reconciles `provider`'s `day`: the client's transactions, or every client's (`None`:
/// the nightly run for operators).
pub async fn run(
    state: &AppState,
    client_id: Option<&str>,
    provider: &str,
    day: Date,
) -> Result<ReconciliationRow, ApiError> {
    let biller = state.registry().biller(provider).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "provider_not_configured",
            "Provider not configured",
            "the biller instance is not configured",
        )
    })?;
    let (from, to) = day_window(day);
    let ours = store::sent_between(state.db(), provider, client_id, from, to).await?;
    let mut theirs: BTreeMap<String, Theirs> = BTreeMap::new();
    let mut checked = true;
    let mut calls_made = Vec::new();
    let started = Instant::now();
    let settlement = biller.settlement(day).await;
    match settlement {
        Ok(records) => {
            calls_made.push(Call::finished(
                None,
                provider,
                "bill.settlement",
                started,
                &Ok::<(), contracts::ProviderError>(()),
            ));
            for r in records {
                theirs.insert(
                    r.reference.0.clone(),
                    Theirs {
                        status: their_status(&r.state),
                        biller_cost: Some(r.amount.rupiah()),
                        code: String::new(),
                    },
                );
            }
        }
        Err(e) if e.kind == ErrorKind::NotSupported => checked = false,
        Err(e) => return Err(crate::service::va::provider_error(e)),
    }
    if !checked {
        for row in &ours {
            let order = BillerOrder::new(
                OurReference(row.ref_id.clone()),
                row.product_code.clone(),
                row.customer_no.clone(),
                row.postpaid,
            )
            .sent_at(row.sent_at.map(from_ms));
            let started = Instant::now();
            let result = biller.status(&order).await;
            calls_made.push(
                Call::finished(client_id, provider, "bill.status", started, &result)
                    .for_resource(&row.id),
            );
            if let Ok(tx) = result {
                let code = match &tx.state {
                    BillerTxState::Failed { code, .. } => code.clone(),
                    _ => tx.provider_status.clone(),
                };
                theirs.insert(
                    row.ref_id.clone(),
                    Theirs {
                        status: their_status(&tx.state),
                        biller_cost: tx.biller_cost.map(Amount::rupiah),
                        code,
                    },
                );
            }
        }
    }
    let unknown = unmatched_callbacks(state, provider, from, to).await?;
    let mut items = Vec::new();
    let mut counts: BTreeMap<&str, i64> = CATEGORIES.iter().map(|c| (*c, 0)).collect();
    let (mut our_cost, mut their_cost) = (0i64, 0i64);
    for row in &ours {
        let mine = our_status(&row.status);
        if mine == "success" {
            our_cost += row.biller_cost.unwrap_or(0);
        }
        let found = theirs.remove(&row.ref_id);
        if let Some(t) = &found
            && t.status == "success"
        {
            their_cost += t.biller_cost.unwrap_or(0);
        }
        let category = match &found {
            None if checked => "missing_at_biller",
            None => "unchecked",
            Some(t) if t.status == "not_found" => "missing_at_biller",
            Some(t) if t.status != mine => "status_mismatch",
            Some(t) if mine == "success" && t.biller_cost != row.biller_cost => "amount_mismatch",
            Some(_) => "matched",
        };
        *counts.entry(category).or_default() += 1;
        items.push(item(category, Some(row), &row.ref_id, found.as_ref()));
    }
    // What the biller has that the gateway does not: its daily records beyond ours, and
    // webhooks about references the gateway never made.
    for (ref_id, t) in &theirs {
        *counts.entry("missing_at_gateway").or_default() += 1;
        items.push(item("missing_at_gateway", None, ref_id, Some(t)));
    }
    for (ref_id, cost) in unknown {
        if theirs.contains_key(&ref_id) {
            continue;
        }
        *counts.entry("missing_at_gateway").or_default() += 1;
        let t = Theirs {
            status: "unknown",
            biller_cost: cost,
            code: String::new(),
        };
        items.push(item("missing_at_gateway", None, &ref_id, Some(&t)));
    }
    let drift = if client_id.is_none() {
        balance_drift(&ours)
    } else {
        Value::Null
    };
    let current = store::balance(state.db(), provider).await?;
    let summary = json!({
        "counts": counts,
        "transactions": ours.len(),
        "our_success_cost": our_cost,
        "biller_success_cost": their_cost,
        "balance": drift,
        "biller_balance_now": current.map(|(b, _, _)| b),
        "source": if checked { "biller_records" } else { "status_checks" },
    });
    let report = ReconciliationRow {
        id: new_id("rec"),
        client_id: client_id.map(str::to_owned),
        provider: provider.to_owned(),
        day: day.to_string(),
        summary,
        items: Value::Array(items),
        created_at: now_ms(),
    };
    let insert = report.clone();
    state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, &calls_made).await?;
                store::insert_reconciliation(conn, &insert).await
            })
        })
        .await?;
    Ok(report)
}

fn item(category: &str, row: Option<&PaymentRow>, ref_id: &str, theirs: Option<&Theirs>) -> Value {
    json!({
        "category": category,
        "ref_id": ref_id,
        "payment_id": row.map(|r| r.id.clone()),
        "reference": row.map(|r| r.reference.clone()),
        "product_code": row.map(|r| r.product_code.clone()),
        "our_status": row.map(|r| our_status(&r.status)),
        "our_biller_cost": row.and_then(|r| r.biller_cost),
        "biller_status": theirs.map(|t| t.status),
        "biller_cost": theirs.and_then(|t| t.biller_cost),
        "biller_code": theirs.map(|t| t.code.clone()).filter(|c| !c.is_empty()),
    })
}

/// Webhooks the biller posted that day about references the gateway does not have:
/// `(ref_id, cost)`.
async fn unmatched_callbacks(
    state: &AppState,
    provider: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(String, Option<i64>)>, StoreError> {
    let rows: Vec<(Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT detail, amount FROM provider_events WHERE provider = $1 AND kind = 'bill.update' AND state = $2 AND received_at >= $3 AND received_at < $4 ORDER BY received_at",
    )
    .bind(provider)
    .bind(event_state::UNMATCHED)
    .bind(from)
    .bind(to)
    .fetch_all(state.db().pool())
    .await?;
    let mut seen = BTreeMap::new();
    for (detail, amount) in rows {
        if let Some(ref_id) = detail.as_deref().and_then(|d| d.strip_prefix(UNKNOWN_REF)) {
            seen.entry(ref_id.to_owned()).or_insert(amount);
        }
    }
    Ok(seen.into_iter().collect())
}

/// How an unmatched bill callback's detail names the biller's reference.
pub const UNKNOWN_REF: &str = "unknown ref_id ";

/// The day's deposit movement explained by its successes, from the balances the biller
/// reported after each: opening (before the first success) − their cost = closing (after
/// the last) when nothing else moved the deposit.
fn balance_drift(ours: &[PaymentRow]) -> Value {
    let mut successes: Vec<&PaymentRow> = ours
        .iter()
        .filter(|r| r.status == status::SUCCESS && r.balance_after.is_some())
        .collect();
    successes.sort_by_key(|r| (r.completed_at, r.sent_at));
    let (Some(first), Some(last)) = (successes.first(), successes.last()) else {
        return Value::Null;
    };
    let spent: i64 = successes.iter().map(|r| r.biller_cost.unwrap_or(0)).sum();
    let opening = first.balance_after.unwrap_or(0) + first.biller_cost.unwrap_or(0);
    let closing = last.balance_after.unwrap_or(0);
    json!({
        "opening": opening,
        "spent": spent,
        "expected_closing": opening - spent,
        "closing": closing,
        "drift": closing - (opening - spent),
    })
}

/// The report as CSV: one line per item, no customer numbers.
pub fn csv(report: &ReconciliationRow) -> String {
    let mut out = String::from(
        "category,ref_id,payment_id,reference,product_code,our_status,our_biller_cost,biller_status,biller_cost,biller_code\n",
    );
    let cell = |v: &Value| -> String {
        let text = match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text
        }
    };
    if let Value::Array(items) = &report.items {
        for i in items {
            let fields = [
                "category",
                "ref_id",
                "payment_id",
                "reference",
                "product_code",
                "our_status",
                "our_biller_cost",
                "biller_status",
                "biller_cost",
                "biller_code",
            ];
            let line: Vec<String> = fields.iter().map(|f| cell(&i[*f])).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
    }
    out
}

/// The nightly run (scheduler): once the configured hour has passed in Asia/Jakarta,
/// reconciles yesterday with every biller that has no operators' report for it yet.
pub async fn nightly(state: &AppState) -> Result<(), StoreError> {
    let Some(hour) = state.settings().bills.reconcile_at_hour else {
        return Ok(());
    };
    let now = OffsetDateTime::now_utc().to_offset(WIB);
    if now.hour() < hour {
        return Ok(());
    }
    let Some(yesterday) = now.date().previous_day() else {
        return Ok(());
    };
    let billers: Vec<String> = state.registry().billers();
    for provider in billers {
        if store::nightly_exists(state.db(), &provider, &yesterday.to_string()).await? {
            continue;
        }
        match run(state, None, &provider, yesterday).await {
            Ok(report) => {
                tracing::info!(provider = %provider, day = %yesterday, report = %report.id, summary = %report.summary["counts"], "nightly reconciliation")
            }
            Err(e) => {
                tracing::error!(provider = %provider, code = e.code(), "nightly reconciliation failed")
            }
        }
    }
    Ok(())
}

/// One report of the client.
pub async fn get(
    state: &AppState,
    client_id: &str,
    id: &str,
) -> Result<ReconciliationRow, ApiError> {
    store::get_reconciliation(state.db(), client_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("reconciliation"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wib_day_starts_at_17_utc_the_day_before() {
        let (from, to) = day_window(time::macros::date!(2026 - 11 - 21));
        assert_eq!(rfc3339(from), "2026-11-20T17:00:00Z");
        assert_eq!(to - from, 86_400_000);
    }

    #[test]
    fn csv_cells_with_commas_or_quotes_are_quoted() {
        let report = ReconciliationRow {
            id: "rec_1".into(),
            client_id: None,
            provider: "digiflazz".into(),
            day: "2026-11-21".into(),
            summary: json!({}),
            items: json!([{"category": "matched", "ref_id": "A1", "reference": "INV,1 \"x\"", "our_biller_cost": 10150}]),
            created_at: 0,
        };
        let text = csv(&report);
        let line = text.lines().nth(1).expect("a row");
        assert_eq!(line, "matched,A1,,\"INV,1 \"\"x\"\"\",,,10150,,,");
    }
}
