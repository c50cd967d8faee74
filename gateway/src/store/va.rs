//! Virtual accounts. Status changes are conditional updates (`WHERE status = …`), so two
//! concurrent callbacks for one VA cannot both apply: the database decides.

use contracts::Customer;
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, StoreError};

/// VA statuses as stored. `issuing` and `pending` are internal recovery points: the
/// provider call is in flight, or its outcome is unknown and resolved by inquiry.
pub mod status {
    /// Provider call in flight.
    pub const ISSUING: &str = "issuing";
    /// Provider outcome unknown; the scheduler inquires.
    pub const PENDING: &str = "pending";
    /// Open for payment.
    pub const ACTIVE: &str = "active";
    /// Paid in full.
    pub const PAID: &str = "paid";
    /// Past expiry unpaid.
    pub const EXPIRED: &str = "expired";
    /// Cancelled on request.
    pub const CANCELLED: &str = "cancelled";
    /// Never issued (every provider refused).
    pub const FAILED: &str = "failed";
}

/// A stored virtual account.
#[derive(Clone, Debug)]
pub struct VaRow {
    pub id: String,
    pub client_id: String,
    pub reference: String,
    pub provider: Option<String>,
    pub bank: Option<String>,
    pub va_number: Option<String>,
    pub provider_reference: Option<String>,
    pub amount: i64,
    pub paid_amount: i64,
    pub status: String,
    pub payment_rule: String,
    pub customer: Customer,
    pub description: Option<String>,
    pub expires_at: i64,
    pub paid_at: Option<i64>,
    pub flags: Vec<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl VaRow {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let customer: String = row.try_get("customer")?;
        let flags: String = row.try_get("flags")?;
        Ok(VaRow {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            reference: row.try_get("reference")?,
            provider: row.try_get("provider")?,
            bank: row.try_get("bank")?,
            va_number: row.try_get("va_number")?,
            provider_reference: row.try_get("provider_reference")?,
            amount: row.try_get("amount")?,
            paid_amount: row.try_get("paid_amount")?,
            status: row.try_get("status")?,
            payment_rule: row.try_get("payment_rule")?,
            customer: serde_json::from_str(&customer)
                .map_err(|e| StoreError::Corrupt(format!("customer: {e}")))?,
            description: row.try_get("description")?,
            expires_at: row.try_get("expires_at")?,
            paid_at: row.try_get("paid_at")?,
            flags: serde_json::from_str(&flags).unwrap_or_default(),
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// Reads one VA of `client_id`.
pub async fn get(db: &Db, client_id: &str, id: &str) -> Result<Option<VaRow>, StoreError> {
    let sql = "SELECT id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at FROM virtual_accounts WHERE id = $1 AND client_id = $2";
    let row = sqlx::query(sql)
        .bind(id)
        .bind(client_id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(VaRow::from_row).transpose()
}

/// Reads one VA whatever its owner (workers only; never behind the product API).
pub async fn get_unscoped(conn: &mut AnyConnection, id: &str) -> Result<Option<VaRow>, StoreError> {
    let sql = "SELECT id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at FROM virtual_accounts WHERE id = $1";
    let row = sqlx::query(sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(VaRow::from_row).transpose()
}

/// Finds the VA a provider callback names, by provider and one of its identifiers.
pub async fn find_for_provider(
    conn: &mut AnyConnection,
    provider: &str,
    id: Option<&str>,
    provider_reference: Option<&str>,
    va_number: Option<&str>,
) -> Result<Option<VaRow>, StoreError> {
    // One indexed lookup at a time, most specific first: our id, the provider's id, then
    // the VA number (which a bank may reuse over time, so only open VAs match it).
    if let Some(id) = id {
        let sql = "SELECT id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at FROM virtual_accounts WHERE id = $1 AND provider = $2";
        let row = sqlx::query(sql)
            .bind(id)
            .bind(provider)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = row {
            return VaRow::from_row(&row).map(Some);
        }
    }
    if let Some(reference) = provider_reference {
        let sql = "SELECT id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at FROM virtual_accounts WHERE provider = $1 AND provider_reference = $2 LIMIT 1";
        let row = sqlx::query(sql)
            .bind(provider)
            .bind(reference)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = row {
            return VaRow::from_row(&row).map(Some);
        }
    }
    if let Some(number) = va_number {
        let sql = "SELECT id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at FROM virtual_accounts WHERE provider = $1 AND va_number = $2 AND status IN ('active', 'pending') ORDER BY created_at DESC LIMIT 1";
        let row = sqlx::query(sql)
            .bind(provider)
            .bind(number)
            .fetch_optional(conn)
            .await?;
        return row.as_ref().map(VaRow::from_row).transpose();
    }
    Ok(None)
}

/// The caller's filters for a list.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub reference: Option<String>,
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: i64,
}

/// Lists the client's VAs, newest first, cursor-paginated by id.
pub async fn list(db: &Db, client_id: &str, filter: &ListFilter) -> Result<Vec<VaRow>, StoreError> {
    // Ids are `va_` + lower-case alphanumerics, so "zzzz" sorts after every one in any
    // collation: no cursor means all, and the (client_id, id) index serves the range.
    let cursor = filter.cursor.clone().unwrap_or_else(|| "zzzz".to_owned());
    let status = filter.status.clone().unwrap_or_default();
    // A reference names at most one VA: use the unique index.
    let rows = match &filter.reference {
        Some(reference) => {
            let sql = "SELECT id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at FROM virtual_accounts WHERE client_id = $1 AND reference = $2 AND ($3 = '' OR status = $3) AND id < $4";
            sqlx::query(sql)
                .bind(client_id)
                .bind(reference)
                .bind(status)
                .bind(cursor)
                .fetch_all(db.pool())
                .await?
        }
        None => {
            let sql = "SELECT id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at FROM virtual_accounts WHERE client_id = $1 AND ($2 = '' OR status = $2) AND id < $3 ORDER BY id DESC LIMIT $4";
            sqlx::query(sql)
                .bind(client_id)
                .bind(status)
                .bind(cursor)
                .bind(filter.limit)
                .fetch_all(db.pool())
                .await?
        }
    };
    rows.iter().map(VaRow::from_row).collect()
}

/// The id of the client's VA with `reference`, if any.
pub async fn id_by_reference(
    conn: &mut AnyConnection,
    client_id: &str,
    reference: &str,
) -> Result<Option<String>, StoreError> {
    let id = sqlx::query_scalar(
        "SELECT id FROM virtual_accounts WHERE client_id = $1 AND reference = $2",
    )
    .bind(client_id)
    .bind(reference)
    .fetch_optional(conn)
    .await?;
    Ok(id)
}

/// Inserts a new VA in `issuing`. Returns `false` when the reference is taken.
pub async fn insert(conn: &mut AnyConnection, va: &VaRow) -> Result<bool, StoreError> {
    let sql = "INSERT INTO virtual_accounts (id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) ON CONFLICT (client_id, reference) DO NOTHING";
    let customer =
        serde_json::to_string(&va.customer).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let flags = serde_json::to_string(&va.flags).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let done = sqlx::query(sql)
        .bind(&va.id)
        .bind(&va.client_id)
        .bind(&va.reference)
        .bind(&va.provider)
        .bind(&va.bank)
        .bind(&va.va_number)
        .bind(&va.provider_reference)
        .bind(va.amount)
        .bind(va.paid_amount)
        .bind(&va.status)
        .bind(&va.payment_rule)
        .bind(customer)
        .bind(&va.description)
        .bind(va.expires_at)
        .bind(va.paid_at)
        .bind(flags)
        .bind(va.version)
        .bind(va.created_at)
        .bind(va.updated_at)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// What the provider issued, recorded on an `issuing` or `pending` VA.
#[derive(Clone, Debug)]
pub struct Issued {
    pub provider: String,
    pub bank: String,
    pub va_number: String,
    pub provider_reference: Option<String>,
}

/// Marks the VA active with what the provider issued. Returns the row, or `None` when the
/// VA was no longer waiting for its provider.
pub async fn mark_issued(
    conn: &mut AnyConnection,
    id: &str,
    issued: &Issued,
    now: i64,
) -> Result<Option<VaRow>, StoreError> {
    let sql = "UPDATE virtual_accounts SET provider = $2, bank = $3, va_number = $4, provider_reference = $5, status = 'active', next_check_at = NULL, updated_at = $6 WHERE id = $1 AND status IN ('issuing', 'pending') RETURNING id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at";
    let row = sqlx::query(sql)
        .bind(id)
        .bind(&issued.provider)
        .bind(&issued.bank)
        .bind(&issued.va_number)
        .bind(&issued.provider_reference)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(VaRow::from_row).transpose()
}

/// Marks an in-flight VA pending at `provider`, to be resolved by inquiry at `check_at`.
pub async fn mark_pending(
    conn: &mut AnyConnection,
    id: &str,
    provider: &str,
    check_at: i64,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE virtual_accounts SET provider = $2, status = 'pending', next_check_at = $3, updated_at = $4 WHERE id = $1 AND status IN ('issuing', 'pending')")
        .bind(id)
        .bind(provider)
        .bind(check_at)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks an in-flight VA failed (no provider issued it).
pub async fn mark_failed(conn: &mut AnyConnection, id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE virtual_accounts SET status = 'failed', next_check_at = NULL, updated_at = $2 WHERE id = $1 AND status IN ('issuing', 'pending')")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves a VA from `from` to `to` (a terminal change); returns the new row if it moved.
pub async fn transition(
    conn: &mut AnyConnection,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
) -> Result<Option<VaRow>, StoreError> {
    let sql = "UPDATE virtual_accounts SET status = $3, version = version + 1, updated_at = $4 WHERE id = $1 AND status = $2 RETURNING id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at";
    let row = sqlx::query(sql)
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(VaRow::from_row).transpose()
}

/// Changes amount and expiry of an active VA.
pub async fn update_terms(
    conn: &mut AnyConnection,
    id: &str,
    amount: i64,
    expires_at: i64,
    now: i64,
) -> Result<Option<VaRow>, StoreError> {
    let sql = "UPDATE virtual_accounts SET amount = $2, expires_at = $3, version = version + 1, updated_at = $4 WHERE id = $1 AND status = 'active' RETURNING id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at";
    let row = sqlx::query(sql)
        .bind(id)
        .bind(amount)
        .bind(expires_at)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(VaRow::from_row).transpose()
}

/// How a payment changes the total paid.
#[derive(Clone, Copy, Debug)]
pub enum PaidTotal {
    /// The provider reports the cumulative total (BNI): never move below what is stored,
    /// so an out-of-order callback cannot move it backwards.
    Cumulative(i64),
    /// Only this payment's amount is known: add it.
    Increment(i64),
}

/// Records money received on an active VA. When the total reaches the amount the VA becomes
/// `paid`, once: the `WHERE status = 'active'` guard makes a second application a no-op,
/// also between concurrent transactions (the row lock re-checks it).
pub async fn record_payment(
    conn: &mut AnyConnection,
    id: &str,
    total: PaidTotal,
    paid_at: i64,
    now: i64,
) -> Result<Option<VaRow>, StoreError> {
    let (cumulative, increment) = match total {
        PaidTotal::Cumulative(c) => (c, 0),
        PaidTotal::Increment(i) => (-1, i),
    };
    let sql = "UPDATE virtual_accounts SET paid_amount = CASE WHEN $2 >= 0 THEN (CASE WHEN $2 > paid_amount THEN $2 ELSE paid_amount END) ELSE paid_amount + $3 END, status = CASE WHEN (CASE WHEN $2 >= 0 THEN (CASE WHEN $2 > paid_amount THEN $2 ELSE paid_amount END) ELSE paid_amount + $3 END) >= amount THEN 'paid' ELSE status END, paid_at = CASE WHEN (CASE WHEN $2 >= 0 THEN (CASE WHEN $2 > paid_amount THEN $2 ELSE paid_amount END) ELSE paid_amount + $3 END) >= amount THEN $4 ELSE paid_at END, version = version + 1, updated_at = $5 WHERE id = $1 AND status = 'active' RETURNING id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at";
    let row = sqlx::query(sql)
        .bind(id)
        .bind(cumulative)
        .bind(increment)
        .bind(paid_at)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(VaRow::from_row).transpose()
}

/// Adds a flag (e.g. `overpaid`) to a VA whatever its status, for operators.
pub async fn add_flag(
    conn: &mut AnyConnection,
    va: &VaRow,
    flag: &str,
    now: i64,
) -> Result<(), StoreError> {
    super::add_flag(
        conn,
        super::Flagged::VirtualAccount,
        &va.id,
        &va.flags,
        flag,
        now,
    )
    .await
}

/// Active VAs past their expiry (for the scheduler), oldest first.
pub async fn expired_ids(db: &Db, now: i64, limit: i64) -> Result<Vec<String>, StoreError> {
    let ids = sqlx::query_scalar("SELECT id FROM virtual_accounts WHERE status = 'active' AND expires_at <= $1 ORDER BY expires_at LIMIT $2")
        .bind(now)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    Ok(ids)
}

/// VAs whose provider outcome is unknown and due for an inquiry, plus `issuing` rows left
/// behind by a crash (older than `stale_before`).
pub async fn due_for_check(
    db: &Db,
    now: i64,
    stale_before: i64,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    let ids = sqlx::query_scalar("SELECT id FROM virtual_accounts WHERE (status = 'pending' AND next_check_at <= $1) OR (status = 'issuing' AND updated_at <= $2) ORDER BY updated_at LIMIT $3")
        .bind(now)
        .bind(stale_before)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    Ok(ids)
}

/// Deletes a VA that no provider issued (every provider refused or was unavailable), so
/// its reference can be used again.
pub async fn delete_unissued(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM virtual_accounts WHERE id = $1 AND status IN ('issuing', 'pending')")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Pushes the next inquiry for an unresolved VA to `at`.
pub async fn postpone_check(conn: &mut AnyConnection, id: &str, at: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE virtual_accounts SET status = CASE WHEN status = 'issuing' THEN 'pending' ELSE status END, next_check_at = $2 WHERE id = $1 AND status IN ('issuing', 'pending')")
        .bind(id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Allocates the next VA serial of `provider` (1, 2, 3, …; never reused).
pub async fn allocate_serial(conn: &mut AnyConnection, provider: &str) -> Result<i64, StoreError> {
    let next: i64 = sqlx::query_scalar("INSERT INTO va_serials (provider, next_serial) VALUES ($1, 2) ON CONFLICT (provider) DO UPDATE SET next_serial = va_serials.next_serial + 1 RETURNING next_serial")
        .bind(provider)
        .fetch_one(conn)
        .await?;
    Ok(next - 1)
}

/// Records, on a VA still waiting for its provider, the instance and the number the
/// gateway assigned before calling it.
pub async fn assign_number(
    conn: &mut AnyConnection,
    id: &str,
    provider: &str,
    va_number: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE virtual_accounts SET provider = $2, va_number = $3, updated_at = $4 WHERE id = $1 AND status IN ('issuing', 'pending')")
        .bind(id)
        .bind(provider)
        .bind(va_number)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// The VA with `va_number` at `provider`, whatever its status: for numbers the gateway
/// assigned itself, which are never reused.
pub async fn by_number(
    conn: &mut AnyConnection,
    provider: &str,
    va_number: &str,
) -> Result<Option<VaRow>, StoreError> {
    let sql = "SELECT id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at FROM virtual_accounts WHERE provider = $1 AND va_number = $2 ORDER BY created_at DESC LIMIT 1";
    let row = sqlx::query(sql)
        .bind(provider)
        .bind(va_number)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(VaRow::from_row).transpose()
}

/// Takes the VA's row lock for the rest of the transaction (a no-op update: PostgreSQL
/// makes a concurrent writer of the same row wait; SQLite has one writer anyway) and
/// returns the row as it is now, after any concurrent change committed.
pub async fn lock(conn: &mut AnyConnection, id: &str) -> Result<Option<VaRow>, StoreError> {
    let sql = "UPDATE virtual_accounts SET updated_at = updated_at WHERE id = $1 RETURNING id, client_id, reference, provider, bank, va_number, provider_reference, amount, paid_amount, status, payment_rule, customer, description, expires_at, paid_at, flags, version, created_at, updated_at";
    let row = sqlx::query(sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(VaRow::from_row).transpose()
}
