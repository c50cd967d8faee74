//! Provider calls, recorded for `/v1/usage` and the console's resource pages: who called
//! which provider instance for what, about which resource, and how it ended.

use sqlx::AnyConnection;
use sqlx::Row;

use super::{Db, StoreError, new_id};

/// One provider call.
#[derive(Clone, Debug)]
pub struct Call {
    /// The product the call was made for, when one was.
    pub client_id: Option<String>,
    /// The gateway id of the resource the call was about (`va_…`, `pay_…`, `bill_…`, …);
    /// `None` for calls about no single resource (balance, catalogue, settlement).
    pub resource_id: Option<String>,
    /// The provider instance called.
    pub provider: String,
    /// What was asked (`va.create`, `bill.pay`, …).
    pub operation: &'static str,
    /// `ok`, or the failure's short name.
    pub outcome: String,
    /// How long the call took.
    pub duration_ms: i64,
    /// When it ended (unix ms).
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
            resource_id: None,
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

    /// The same record, about the resource `id`.
    pub fn for_resource(self, id: &str) -> Call {
        Call {
            resource_id: Some(id.to_owned()),
            ..self
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
        sqlx::query("INSERT INTO provider_calls (id, client_id, resource_id, provider, operation, outcome, duration_ms, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(new_id("call"))
            .bind(&call.client_id)
            .bind(&call.resource_id)
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
    /// The provider instance.
    pub provider: String,
    /// The operation.
    pub operation: String,
    /// `ok`, the failure's short name (`timeout`, `unavailable`, `rejected`, …), or
    /// `disabled`: refused by the gateway because an operator switched the instance off.
    pub outcome: String,
    /// How many calls.
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
