//! Provider calls, recorded for `/v1/usage`: who called which provider instance for what,
//! and how it ended.

use sqlx::AnyConnection;
use sqlx::Row;

use super::{Db, StoreError, new_id};

/// One provider call.
#[derive(Clone, Debug)]
pub struct Call {
    pub client_id: Option<String>,
    pub provider: String,
    pub operation: &'static str,
    pub outcome: String,
    pub duration_ms: i64,
    pub at: i64,
}

impl Call {
    /// The record of a call that started at `started` and ended with `result`.
    pub fn finished<T, E: CallOutcome>(
        client_id: Option<&str>,
        provider: &str,
        operation: &'static str,
        started: std::time::Instant,
        result: &Result<T, E>,
    ) -> Call {
        Call {
            client_id: client_id.map(str::to_owned),
            provider: provider.to_owned(),
            operation,
            outcome: match result {
                Ok(_) => "ok".to_owned(),
                Err(e) => e.outcome().to_owned(),
            },
            duration_ms: started.elapsed().as_millis() as i64,
            at: super::now_ms(),
        }
    }
}

/// How a failed call is named in usage reports.
pub trait CallOutcome {
    /// A short stable name.
    fn outcome(&self) -> &'static str;
}

impl CallOutcome for contracts::ProviderError {
    fn outcome(&self) -> &'static str {
        if self.provider_code.as_deref() == Some(crate::registry::SWITCHED_OFF) {
            "disabled"
        } else {
            self.kind.as_str()
        }
    }
}

/// Records calls.
pub async fn record(conn: &mut AnyConnection, calls: &[Call]) -> Result<(), StoreError> {
    for call in calls {
        sqlx::query("INSERT INTO provider_calls (id, client_id, provider, operation, outcome, duration_ms, at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(new_id("call"))
            .bind(&call.client_id)
            .bind(&call.provider)
            .bind(call.operation)
            .bind(&call.outcome)
            .bind(call.duration_ms)
            .bind(call.at)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A usage line: calls by provider, operation and outcome.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UsageLine {
    pub provider: String,
    pub operation: String,
    pub outcome: String,
    pub count: i64,
}

/// The client's usage between `from` and `to` (unix ms).
pub async fn usage(
    db: &Db,
    client_id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<UsageLine>, StoreError> {
    let rows = sqlx::query("SELECT provider, operation, outcome, COUNT(*) AS n FROM provider_calls WHERE client_id = $1 AND at >= $2 AND at < $3 GROUP BY provider, operation, outcome ORDER BY provider, operation, outcome")
        .bind(client_id)
        .bind(from)
        .bind(to)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(UsageLine {
                provider: row.try_get("provider")?,
                operation: row.try_get("operation")?,
                outcome: row.try_get("outcome")?,
                count: row.try_get("n")?,
            })
        })
        .collect()
}
