//! Payments and their refunds. As for VAs, every status change is a conditional update
//! (`WHERE status IN (…)`), so duplicate or concurrent provider reports cannot apply twice.
//! Refunds reserve their amount in the same transaction that checks what remains, so two
//! concurrent refunds can never give back more than was paid.

use contracts::Customer;
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, StoreError, corrupt};

/// Payment statuses as stored. `creating` is the internal recovery point while the provider
/// call is in flight or its outcome is unknown; products see it as `pending`.
pub mod status {
    /// Provider call in flight, or its outcome unknown (resolved by status inquiry).
    pub const CREATING: &str = "creating";
    /// Started at the provider; waiting for the customer.
    pub const PENDING: &str = "pending";
    /// Paid.
    pub const PAID: &str = "paid";
    /// Failed at the provider.
    pub const FAILED: &str = "failed";
    /// Expired unpaid.
    pub const EXPIRED: &str = "expired";
    /// Paid and partly refunded.
    pub const PARTIALLY_REFUNDED: &str = "partially_refunded";
    /// Paid and wholly refunded.
    pub const REFUNDED: &str = "refunded";
}

/// Refund statuses as stored.
pub mod refund_status {
    /// The provider call is in flight.
    pub const REQUESTING: &str = "requesting";
    /// The provider accepted it; final state later.
    pub const PENDING: &str = "pending";
    /// The outcome is unknown (timeout): resolved by status inquiry, never by resending.
    pub const UNKNOWN: &str = "unknown";
    /// Done.
    pub const SUCCEEDED: &str = "succeeded";
    /// Refused by the provider; nothing moved.
    pub const FAILED: &str = "failed";
}

const COLUMNS: &str = "id, client_id, reference, provider, method, amount, paid_amount, refunded_amount, status, action, provider_reference, customer, description, return_url, expires_at, paid_at, flags, version, created_at, updated_at, checks";

/// A stored payment.
#[derive(Clone, Debug)]
pub struct PaymentRow {
    pub id: String,
    pub client_id: String,
    pub reference: String,
    pub provider: Option<String>,
    pub method: String,
    pub amount: i64,
    pub paid_amount: i64,
    pub refunded_amount: i64,
    pub status: String,
    /// What the customer does next, as JSON (`{"type":"redirect","url":…}`).
    pub action: Option<serde_json::Value>,
    pub provider_reference: Option<String>,
    pub customer: Customer,
    pub description: Option<String>,
    pub return_url: Option<String>,
    pub expires_at: i64,
    pub paid_at: Option<i64>,
    pub flags: Vec<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub checks: i64,
}

impl PaymentRow {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let customer: String = row.try_get("customer")?;
        let flags: String = row.try_get("flags")?;
        let action: Option<String> = row.try_get("action")?;
        Ok(PaymentRow {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            reference: row.try_get("reference")?,
            provider: row.try_get("provider")?,
            method: row.try_get("method")?,
            amount: row.try_get("amount")?,
            paid_amount: row.try_get("paid_amount")?,
            refunded_amount: row.try_get("refunded_amount")?,
            status: row.try_get("status")?,
            action: action.and_then(|a| serde_json::from_str(&a).ok()),
            provider_reference: row.try_get("provider_reference")?,
            customer: serde_json::from_str(&customer)
                .map_err(|e| StoreError::Corrupt(format!("customer: {e}")))?,
            description: row.try_get("description")?,
            return_url: row.try_get("return_url")?,
            expires_at: row.try_get("expires_at")?,
            paid_at: row.try_get("paid_at")?,
            flags: serde_json::from_str(&flags).unwrap_or_default(),
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            checks: row.try_get("checks")?,
        })
    }

    /// Whether the status can no longer change except by refunds.
    pub fn is_settled(&self) -> bool {
        !matches!(self.status.as_str(), status::CREATING | status::PENDING)
    }
}

/// Reads one payment of `client_id`.
pub async fn get(db: &Db, client_id: &str, id: &str) -> Result<Option<PaymentRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM payments WHERE id = $1 AND client_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(client_id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(PaymentRow::from_row).transpose()
}

/// Reads one payment whatever its owner (workers only; never behind the product API).
pub async fn get_unscoped(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<PaymentRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM payments WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(PaymentRow::from_row).transpose()
}

/// Finds the payment a provider callback names: by our id (the reference we sent), else
/// by the provider's id.
pub async fn find_for_provider(
    conn: &mut AnyConnection,
    provider: &str,
    id: Option<&str>,
    provider_reference: Option<&str>,
) -> Result<Option<PaymentRow>, StoreError> {
    if let Some(id) = id {
        let sql = format!("SELECT {COLUMNS} FROM payments WHERE id = $1 AND provider = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(provider)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = row {
            return PaymentRow::from_row(&row).map(Some);
        }
    }
    if let Some(reference) = provider_reference {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments WHERE provider = $1 AND provider_reference = $2 LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(provider)
            .bind(reference)
            .fetch_optional(conn)
            .await?;
        return row.as_ref().map(PaymentRow::from_row).transpose();
    }
    Ok(None)
}

/// Lists the client's payments, newest first, cursor-paginated by id. `pending` also
/// matches payments still `creating` (products see both as pending).
pub async fn list(
    db: &Db,
    client_id: &str,
    reference: Option<&str>,
    status: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Vec<PaymentRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payments WHERE client_id = $1 AND ($2 = '' OR reference = $2) AND ($3 = '' OR status = $3 OR ($3 = 'pending' AND status = 'creating')) AND id < $4 ORDER BY id DESC LIMIT $5"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(client_id)
        .bind(reference.unwrap_or_default())
        .bind(status.unwrap_or_default())
        .bind(cursor.unwrap_or("zzzz"))
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(PaymentRow::from_row).collect()
}

/// The id of the client's payment with `reference`, if any.
pub async fn id_by_reference(
    conn: &mut AnyConnection,
    client_id: &str,
    reference: &str,
) -> Result<Option<String>, StoreError> {
    let id = sqlx::query_scalar("SELECT id FROM payments WHERE client_id = $1 AND reference = $2")
        .bind(client_id)
        .bind(reference)
        .fetch_optional(conn)
        .await?;
    Ok(id)
}

/// Inserts a new payment in `creating`. Returns `false` when the reference is taken.
pub async fn insert(conn: &mut AnyConnection, p: &PaymentRow) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO payments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) ON CONFLICT (client_id, reference) DO NOTHING"
    );
    let customer = serde_json::to_string(&p.customer).map_err(corrupt)?;
    let flags = serde_json::to_string(&p.flags).map_err(corrupt)?;
    let action = p.action.as_ref().map(ToString::to_string);
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&p.id)
        .bind(&p.client_id)
        .bind(&p.reference)
        .bind(&p.provider)
        .bind(&p.method)
        .bind(p.amount)
        .bind(p.paid_amount)
        .bind(p.refunded_amount)
        .bind(&p.status)
        .bind(action)
        .bind(&p.provider_reference)
        .bind(customer)
        .bind(&p.description)
        .bind(&p.return_url)
        .bind(p.expires_at)
        .bind(p.paid_at)
        .bind(flags)
        .bind(p.version)
        .bind(p.created_at)
        .bind(p.updated_at)
        .bind(p.checks)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Records what the provider started on a `creating` payment: it becomes `pending`, with
/// its first status check at `check_at`.
#[allow(clippy::too_many_arguments)]
pub async fn mark_started(
    conn: &mut AnyConnection,
    id: &str,
    provider: &str,
    action: Option<&serde_json::Value>,
    provider_reference: Option<&str>,
    expires_at: i64,
    check_at: i64,
    now: i64,
) -> Result<Option<PaymentRow>, StoreError> {
    let sql = format!(
        "UPDATE payments SET provider = $2, action = $3, provider_reference = COALESCE($4, provider_reference), expires_at = $5, status = 'pending', next_check_at = $6, checks = 0, updated_at = $7 WHERE id = $1 AND status = 'creating' RETURNING {COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(provider)
        .bind(action.map(ToString::to_string))
        .bind(provider_reference)
        .bind(expires_at)
        .bind(check_at)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(PaymentRow::from_row).transpose()
}

/// Keeps a `creating` payment whose outcome is unknown at `provider`, to be resolved by a
/// status inquiry at `check_at`.
pub async fn mark_unknown(
    conn: &mut AnyConnection,
    id: &str,
    provider: &str,
    check_at: i64,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE payments SET provider = $2, next_check_at = $3, updated_at = $4 WHERE id = $1 AND status = 'creating'")
        .bind(id)
        .bind(provider)
        .bind(check_at)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes a payment no provider started, so its reference can be used again.
pub async fn delete_unstarted(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM payments WHERE id = $1 AND status = 'creating'")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves a payment to `to` from any of `from`; returns the new row if it moved.
pub async fn transition(
    conn: &mut AnyConnection,
    id: &str,
    from: &[&str],
    to: &str,
    paid: Option<(i64, i64)>,
    now: i64,
) -> Result<Option<PaymentRow>, StoreError> {
    // `from` holds our own constants only; spelled out as literals for both backends.
    let allowed = from
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "")))
        .collect::<Vec<_>>()
        .join(", ");
    let (paid_amount, paid_at) = paid.map_or((-1, -1), |(a, t)| (a, t));
    let sql = format!(
        "UPDATE payments SET status = $2, paid_amount = CASE WHEN $3 >= 0 THEN $3 ELSE paid_amount END, paid_at = CASE WHEN $4 >= 0 THEN $4 ELSE paid_at END, next_check_at = CASE WHEN $2 IN ('paid', 'failed', 'expired', 'refunded') THEN NULL ELSE next_check_at END, version = version + 1, updated_at = $5 WHERE id = $1 AND status IN ({allowed}) RETURNING {COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(to)
        .bind(paid_amount)
        .bind(paid_at)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(PaymentRow::from_row).transpose()
}

/// Adds a flag for operators (`amount_mismatch`, `paid_after_expired`, …).
pub async fn add_flag(
    conn: &mut AnyConnection,
    p: &PaymentRow,
    flag: &str,
    now: i64,
) -> Result<(), StoreError> {
    super::add_flag(conn, super::Flagged::Payment, &p.id, &p.flags, flag, now).await
}

/// Payments due for a status inquiry: unresolved creations and pending payments whose
/// check time has come.
pub async fn due_for_check(db: &Db, now: i64, limit: i64) -> Result<Vec<String>, StoreError> {
    let ids = sqlx::query_scalar("SELECT id FROM payments WHERE next_check_at IS NOT NULL AND next_check_at <= $1 ORDER BY next_check_at LIMIT $2")
        .bind(now)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    Ok(ids)
}

/// Sets the next status check (`None`: no more checks) and counts this one.
pub async fn schedule_check(
    conn: &mut AnyConnection,
    id: &str,
    at: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE payments SET next_check_at = $2, checks = checks + 1 WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// A stored refund.
#[derive(Clone, Debug)]
pub struct RefundRow {
    pub id: String,
    pub payment_id: String,
    pub client_id: String,
    pub amount: i64,
    pub reason: String,
    pub status: String,
    pub provider_reference: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const REFUND_COLUMNS: &str =
    "id, payment_id, client_id, amount, reason, status, provider_reference, created_at, updated_at";

impl RefundRow {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(RefundRow {
            id: row.try_get("id")?,
            payment_id: row.try_get("payment_id")?,
            client_id: row.try_get("client_id")?,
            amount: row.try_get("amount")?,
            reason: row.try_get("reason")?,
            status: row.try_get("status")?,
            provider_reference: row.try_get("provider_reference")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// Why a refund could not be reserved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reserve {
    /// Reserved: the refund row exists in `requesting`.
    Reserved,
    /// The payment is not in a refundable state.
    NotRefundable(String),
    /// Not that much remains: `remaining` rupiah could still be refunded.
    TooMuch { remaining: i64 },
}

/// Reserves `refund` against its payment: the payment must be paid (or partly refunded)
/// and the refunds not failed, plus this one, must stay within what was paid.
pub async fn reserve_refund(
    conn: &mut AnyConnection,
    refund: &RefundRow,
) -> Result<Reserve, StoreError> {
    // Take the payment row's lock first (PostgreSQL) so concurrent reservations queue.
    let locked = sqlx::query(
        "UPDATE payments SET updated_at = updated_at WHERE id = $1 AND client_id = $2 RETURNING status, paid_amount",
    )
    .bind(&refund.payment_id)
    .bind(&refund.client_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = locked else {
        return Ok(Reserve::NotRefundable("not found".into()));
    };
    let state: String = row.try_get("status")?;
    let paid: i64 = row.try_get("paid_amount")?;
    if state != status::PAID && state != status::PARTIALLY_REFUNDED {
        return Ok(Reserve::NotRefundable(state));
    }
    let committed: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(SUM(amount) AS BIGINT) FROM refunds WHERE payment_id = $1 AND status <> 'failed'",
    )
    .bind(&refund.payment_id)
    .fetch_one(&mut *conn)
    .await?;
    let remaining = paid - committed.unwrap_or(0);
    if refund.amount > remaining {
        return Ok(Reserve::TooMuch { remaining });
    }
    let sql = format!(
        "INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&refund.id)
        .bind(&refund.payment_id)
        .bind(&refund.client_id)
        .bind(refund.amount)
        .bind(&refund.reason)
        .bind(&refund.status)
        .bind(&refund.provider_reference)
        .bind(refund.created_at)
        .bind(refund.updated_at)
        .execute(conn)
        .await?;
    Ok(Reserve::Reserved)
}

/// Sets a refund's status (and the provider's id, when given) if it is still in one of `from`.
pub async fn settle_refund(
    conn: &mut AnyConnection,
    id: &str,
    from: &[&str],
    to: &str,
    provider_reference: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let allowed = from
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "")))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE refunds SET status = $2, provider_reference = COALESCE($3, provider_reference), updated_at = $4 WHERE id = $1 AND status IN ({allowed})"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(to)
        .bind(provider_reference)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A payment's refunds, oldest first.
pub async fn refunds_of(
    conn: &mut AnyConnection,
    payment_id: &str,
) -> Result<Vec<RefundRow>, StoreError> {
    let sql = format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY created_at, id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(payment_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(RefundRow::from_row).collect()
}

/// A payment's refunds, oldest first (reads).
pub async fn refunds(db: &Db, payment_id: &str) -> Result<Vec<RefundRow>, StoreError> {
    let sql = format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY created_at, id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(payment_id)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(RefundRow::from_row).collect()
}

/// Sets the refunded total from the succeeded refunds and the status that follows from
/// it; returns the new row when anything changed.
pub async fn apply_refunds(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
) -> Result<Option<PaymentRow>, StoreError> {
    let sql = format!(
        "UPDATE payments SET refunded_amount = (SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_id = $1 AND status = 'succeeded'), status = CASE WHEN (SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_id = $1 AND status = 'succeeded') >= paid_amount THEN 'refunded' ELSE 'partially_refunded' END, version = version + 1, updated_at = $2 WHERE id = $1 AND status IN ('paid', 'partially_refunded') AND (SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_id = $1 AND status = 'succeeded') > refunded_amount RETURNING {COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(PaymentRow::from_row).transpose()
}
