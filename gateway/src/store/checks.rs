//! Scheduling of status inquiries for rows that a provider settles later: when each row is
//! asked about next (`next_check_at`), how many times it was (`checks`), and which rows are
//! due. One mechanism for every table that has those columns.

use sqlx::AnyConnection;

use super::{Db, StoreError};

/// The tables whose rows are followed by status inquiry until they settle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// `esign_signers`.
    Signers,
    /// `esign_documents`.
    Documents,
    /// `bill_payments`.
    BillPayments,
}

impl Table {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Signers => "esign_signers",
            Table::Documents => "esign_documents",
            Table::BillPayments => "bill_payments",
        }
    }
}

/// Sets a row's next status inquiry (`None`: none) and counts this one.
pub async fn schedule_check(
    conn: &mut AnyConnection,
    table: Table,
    id: &str,
    at: Option<i64>,
) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE {} SET next_check_at = $2, checks = checks + 1 WHERE id = $1",
        table.name()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Brings a row's next status inquiry forward to `at` (a callback said something changed);
/// rows with nothing to ask about (no provider reference) are left alone.
pub async fn bring_check_forward(
    conn: &mut AnyConnection,
    table: Table,
    id: &str,
    at: i64,
) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE {} SET next_check_at = $2 WHERE id = $1 AND provider_reference IS NOT NULL AND (next_check_at IS NULL OR next_check_at > $2)",
        table.name()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Rows due for a status inquiry.
pub async fn due(db: &Db, table: Table, now: i64, limit: i64) -> Result<Vec<String>, StoreError> {
    let sql = format!(
        "SELECT id FROM {} WHERE next_check_at IS NOT NULL AND next_check_at <= $1 ORDER BY next_check_at LIMIT $2",
        table.name()
    );
    let ids = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    Ok(ids)
}
