//! PPOB: catalogue, inquiries, payments, deposit balances, reconciliation reports. A
//! payment's status moves by conditional updates on its `version`, so a webhook and a
//! status check answering at once apply once; `(provider, ref_id)` and the inquiry are
//! unique, so one inquiry is paid at most once however many requests race.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Db, StoreError, corrupt};

/// Payment statuses as stored.
pub mod status {
    /// Stored; the biller call is in flight (the recovery point).
    pub const CREATING: &str = "creating";
    /// Sent; the biller has not said how it ended (or its answer was lost).
    pub const PENDING: &str = "pending";
    /// Done: the product was delivered or the bill paid.
    pub const SUCCESS: &str = "success";
    /// Failed at the biller: no money kept.
    pub const FAILED: &str = "failed";
}

/// A product of a biller's catalogue.
#[derive(Clone, Debug)]
pub struct ProductRow {
    pub provider: String,
    pub code: String,
    pub name: String,
    pub category: String,
    pub brand: String,
    pub postpaid: bool,
    pub price: Option<i64>,
    pub admin_fee: Option<i64>,
    pub commission: Option<i64>,
    pub available: bool,
    pub description: String,
    pub refreshed_at: i64,
}

impl ProductRow {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(ProductRow {
            provider: row.try_get("provider")?,
            code: row.try_get("code")?,
            name: row.try_get("name")?,
            category: row.try_get("category")?,
            brand: row.try_get("brand")?,
            postpaid: row.try_get::<i64, _>("postpaid")? != 0,
            price: row.try_get("price")?,
            admin_fee: row.try_get("admin_fee")?,
            commission: row.try_get("commission")?,
            available: row.try_get::<i64, _>("available")? != 0,
            description: row.try_get("description")?,
            refreshed_at: row.try_get("refreshed_at")?,
        })
    }
}

const PRODUCT_COLUMNS: &str = "provider, code, name, category, brand, postpaid, price, admin_fee, commission, available, description, refreshed_at";

/// Replaces a biller's catalogue with `products` (one transaction: readers see the old
/// list or the new one).
pub async fn replace_catalogue(
    conn: &mut AnyConnection,
    provider: &str,
    products: &[ProductRow],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM bill_products WHERE provider = $1")
        .bind(provider)
        .execute(&mut *conn)
        .await?;
    let sql = format!(
        "INSERT INTO bill_products ({PRODUCT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    );
    for p in products {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&p.provider)
            .bind(&p.code)
            .bind(&p.name)
            .bind(&p.category)
            .bind(&p.brand)
            .bind(i64::from(p.postpaid))
            .bind(p.price)
            .bind(p.admin_fee)
            .bind(p.commission)
            .bind(i64::from(p.available))
            .bind(&p.description)
            .bind(p.refreshed_at)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The catalogue of `providers`, optionally one category, by provider order then code.
pub async fn products(
    db: &Db,
    providers: &[String],
    category: Option<&str>,
) -> Result<Vec<ProductRow>, StoreError> {
    let mut all = Vec::new();
    for provider in providers {
        let sql = format!(
            "SELECT {PRODUCT_COLUMNS} FROM bill_products WHERE provider = $1 AND ($2 = '' OR LOWER(category) = LOWER($2)) ORDER BY code"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(provider)
            .bind(category.unwrap_or_default())
            .fetch_all(db.pool())
            .await?;
        for row in &rows {
            all.push(ProductRow::from_row(row)?);
        }
    }
    Ok(all)
}

/// One product of one biller.
pub async fn product(
    db: &Db,
    provider: &str,
    code: &str,
) -> Result<Option<ProductRow>, StoreError> {
    let sql =
        format!("SELECT {PRODUCT_COLUMNS} FROM bill_products WHERE provider = $1 AND code = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(provider)
        .bind(code)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(ProductRow::from_row).transpose()
}

/// When a biller's catalogue was last refreshed, if ever.
pub async fn catalogue_refreshed_at(db: &Db, provider: &str) -> Result<Option<i64>, StoreError> {
    let at = sqlx::query_scalar("SELECT MAX(refreshed_at) FROM bill_products WHERE provider = $1")
        .bind(provider)
        .fetch_one(db.pool())
        .await?;
    Ok(at)
}

/// A stored inquiry (postpaid bill, or a prepaid customer check).
#[derive(Clone, Debug)]
pub struct InquiryRow {
    pub id: String,
    pub client_id: String,
    pub provider: String,
    pub ref_id: String,
    pub product_code: String,
    /// Personal data (often a phone number): returned to the owning client only.
    pub customer_no: String,
    pub postpaid: bool,
    /// Personal data.
    pub customer_name: String,
    pub amount: i64,
    pub admin_fee: i64,
    pub penalty: i64,
    pub biller_cost: i64,
    pub customer_total: i64,
    pub details: serde_json::Value,
    pub provider_reference: Option<String>,
    pub expires_at: i64,
    pub created_at: i64,
}

const INQUIRY_COLUMNS: &str = "id, client_id, provider, ref_id, product_code, customer_no, postpaid, customer_name, amount, admin_fee, penalty, biller_cost, customer_total, details, provider_reference, expires_at, created_at";

impl InquiryRow {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(InquiryRow {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            provider: row.try_get("provider")?,
            ref_id: row.try_get("ref_id")?,
            product_code: row.try_get("product_code")?,
            customer_no: row.try_get("customer_no")?,
            postpaid: row.try_get::<i64, _>("postpaid")? != 0,
            customer_name: row.try_get("customer_name")?,
            amount: row.try_get("amount")?,
            admin_fee: row.try_get("admin_fee")?,
            penalty: row.try_get("penalty")?,
            biller_cost: row.try_get("biller_cost")?,
            customer_total: row.try_get("customer_total")?,
            details: serde_json::from_str(&row.try_get::<String, _>("details")?)
                .map_err(corrupt)?,
            provider_reference: row.try_get("provider_reference")?,
            expires_at: row.try_get("expires_at")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// Stores an inquiry.
pub async fn insert_inquiry(conn: &mut AnyConnection, i: &InquiryRow) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO bill_inquiries ({INQUIRY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&i.id)
        .bind(&i.client_id)
        .bind(&i.provider)
        .bind(&i.ref_id)
        .bind(&i.product_code)
        .bind(&i.customer_no)
        .bind(i64::from(i.postpaid))
        .bind(&i.customer_name)
        .bind(i.amount)
        .bind(i.admin_fee)
        .bind(i.penalty)
        .bind(i.biller_cost)
        .bind(i.customer_total)
        .bind(i.details.to_string())
        .bind(&i.provider_reference)
        .bind(i.expires_at)
        .bind(i.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// One inquiry of `client_id`.
pub async fn get_inquiry(
    db: &Db,
    client_id: &str,
    id: &str,
) -> Result<Option<InquiryRow>, StoreError> {
    let sql =
        format!("SELECT {INQUIRY_COLUMNS} FROM bill_inquiries WHERE id = $1 AND client_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(client_id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(InquiryRow::from_row).transpose()
}

const PAYMENT_COLUMNS: &str = "id, client_id, reference, provider, ref_id, product_code, customer_no, postpaid, inquiry_id, status, serial_number, token, biller_cost, customer_total, balance_after, provider_reference, provider_status, message, details, flags, version, created_at, updated_at, sent_at, completed_at, next_check_at, checks";

/// A stored payment (postpaid) or purchase (prepaid).
#[derive(Clone, Debug)]
pub struct PaymentRow {
    pub id: String,
    pub client_id: String,
    pub reference: String,
    pub provider: String,
    pub ref_id: String,
    pub product_code: String,
    /// Personal data (often a phone number): returned to the owning client only.
    pub customer_no: String,
    pub postpaid: bool,
    pub inquiry_id: Option<String>,
    pub status: String,
    pub serial_number: Option<String>,
    pub token: Option<String>,
    pub biller_cost: Option<i64>,
    pub customer_total: Option<i64>,
    pub balance_after: Option<i64>,
    pub provider_reference: Option<String>,
    pub provider_status: Option<String>,
    pub message: Option<String>,
    pub details: serde_json::Value,
    pub flags: Vec<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub sent_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub next_check_at: Option<i64>,
    pub checks: i64,
}

impl PaymentRow {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(PaymentRow {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            reference: row.try_get("reference")?,
            provider: row.try_get("provider")?,
            ref_id: row.try_get("ref_id")?,
            product_code: row.try_get("product_code")?,
            customer_no: row.try_get("customer_no")?,
            postpaid: row.try_get::<i64, _>("postpaid")? != 0,
            inquiry_id: row.try_get("inquiry_id")?,
            status: row.try_get("status")?,
            serial_number: row.try_get("serial_number")?,
            token: row.try_get("token")?,
            biller_cost: row.try_get("biller_cost")?,
            customer_total: row.try_get("customer_total")?,
            balance_after: row.try_get("balance_after")?,
            provider_reference: row.try_get("provider_reference")?,
            provider_status: row.try_get("provider_status")?,
            message: row.try_get("message")?,
            details: serde_json::from_str(&row.try_get::<String, _>("details")?)
                .map_err(corrupt)?,
            flags: serde_json::from_str(&row.try_get::<String, _>("flags")?).map_err(corrupt)?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            sent_at: row.try_get("sent_at")?,
            completed_at: row.try_get("completed_at")?,
            next_check_at: row.try_get("next_check_at")?,
            checks: row.try_get("checks")?,
        })
    }
}

/// Why a new payment was not stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    /// The client's reference is used: by this payment.
    Reference(String),
    /// The inquiry is being paid or was paid: by this payment.
    Inquiry(String),
}

/// Stores a new payment in `creating`; or says what already holds its reference or its
/// inquiry (concurrent duplicates: exactly one insert wins).
pub async fn insert_payment(
    conn: &mut AnyConnection,
    p: &PaymentRow,
) -> Result<Result<(), Taken>, StoreError> {
    if let Some(id) = payment_id_by_reference(conn, &p.client_id, &p.reference).await? {
        return Ok(Err(Taken::Reference(id)));
    }
    if let Some(inquiry) = &p.inquiry_id
        && let Some(id) = payment_id_by_inquiry(conn, inquiry).await?
    {
        return Ok(Err(Taken::Inquiry(id)));
    }
    let sql = format!(
        "INSERT INTO bill_payments ({PAYMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27) ON CONFLICT DO NOTHING"
    );
    let flags = serde_json::to_string(&p.flags).map_err(corrupt)?;
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&p.id)
        .bind(&p.client_id)
        .bind(&p.reference)
        .bind(&p.provider)
        .bind(&p.ref_id)
        .bind(&p.product_code)
        .bind(&p.customer_no)
        .bind(i64::from(p.postpaid))
        .bind(&p.inquiry_id)
        .bind(&p.status)
        .bind(&p.serial_number)
        .bind(&p.token)
        .bind(p.biller_cost)
        .bind(p.customer_total)
        .bind(p.balance_after)
        .bind(&p.provider_reference)
        .bind(&p.provider_status)
        .bind(&p.message)
        .bind(p.details.to_string())
        .bind(flags)
        .bind(p.version)
        .bind(p.created_at)
        .bind(p.updated_at)
        .bind(p.sent_at)
        .bind(p.completed_at)
        .bind(p.next_check_at)
        .bind(p.checks)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 1 {
        return Ok(Ok(()));
    }
    // Lost a race: name the winner.
    if let Some(id) = payment_id_by_reference(conn, &p.client_id, &p.reference).await? {
        return Ok(Err(Taken::Reference(id)));
    }
    match &p.inquiry_id {
        Some(inquiry) => Ok(Err(Taken::Inquiry(
            payment_id_by_inquiry(conn, inquiry)
                .await?
                .unwrap_or_default(),
        ))),
        None => Err(StoreError::Corrupt(
            "payment insert conflicted on nothing known".into(),
        )),
    }
}

async fn payment_id_by_reference(
    conn: &mut AnyConnection,
    client_id: &str,
    reference: &str,
) -> Result<Option<String>, StoreError> {
    let id =
        sqlx::query_scalar("SELECT id FROM bill_payments WHERE client_id = $1 AND reference = $2")
            .bind(client_id)
            .bind(reference)
            .fetch_optional(conn)
            .await?;
    Ok(id)
}

async fn payment_id_by_inquiry(
    conn: &mut AnyConnection,
    inquiry_id: &str,
) -> Result<Option<String>, StoreError> {
    let id = sqlx::query_scalar("SELECT id FROM bill_payments WHERE inquiry_id = $1")
        .bind(inquiry_id)
        .fetch_optional(conn)
        .await?;
    Ok(id)
}

/// One payment of `client_id`.
pub async fn get_payment(
    db: &Db,
    client_id: &str,
    id: &str,
) -> Result<Option<PaymentRow>, StoreError> {
    let sql =
        format!("SELECT {PAYMENT_COLUMNS} FROM bill_payments WHERE id = $1 AND client_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(client_id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(PaymentRow::from_row).transpose()
}

/// One payment, whoever owns it (workers).
pub async fn get_payment_unscoped(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<PaymentRow>, StoreError> {
    let sql = format!("SELECT {PAYMENT_COLUMNS} FROM bill_payments WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(PaymentRow::from_row).transpose()
}

/// The payment a biller's webhook names by our `ref_id`.
pub async fn payment_by_ref(
    conn: &mut AnyConnection,
    provider: &str,
    ref_id: &str,
) -> Result<Option<PaymentRow>, StoreError> {
    let sql =
        format!("SELECT {PAYMENT_COLUMNS} FROM bill_payments WHERE provider = $1 AND ref_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(provider)
        .bind(ref_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(PaymentRow::from_row).transpose()
}

/// A page of the client's payments, newest first.
pub async fn list_payments(
    db: &Db,
    client_id: &str,
    reference: Option<&str>,
    status: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Vec<PaymentRow>, StoreError> {
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM bill_payments WHERE client_id = $1 AND ($2 = '' OR reference = $2) AND ($3 = '' OR status = $3 OR ($3 = 'pending' AND status = 'creating')) AND id < $4 ORDER BY id DESC LIMIT $5"
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

/// Payments sent to `provider` in `[from, to)` (ms), optionally of one client, oldest first.
pub async fn sent_between(
    db: &Db,
    provider: &str,
    client_id: Option<&str>,
    from: i64,
    to: i64,
) -> Result<Vec<PaymentRow>, StoreError> {
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM bill_payments WHERE provider = $1 AND ($2 = '' OR client_id = $2) AND sent_at >= $3 AND sent_at < $4 ORDER BY sent_at, id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(provider)
        .bind(client_id.unwrap_or_default())
        .bind(from)
        .bind(to)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(PaymentRow::from_row).collect()
}

/// The payment was sent: records when (kept if a webhook got there first), and moves a
/// `creating` one to `pending` with its first check (one a webhook already settled keeps
/// its status).
pub async fn mark_sent(
    conn: &mut AnyConnection,
    id: &str,
    sent_at: i64,
    next_check_at: i64,
) -> Result<Option<PaymentRow>, StoreError> {
    let sql = format!(
        "UPDATE bill_payments SET sent_at = COALESCE(sent_at, $2), status = CASE WHEN status = 'creating' THEN 'pending' ELSE status END, next_check_at = CASE WHEN status = 'creating' THEN $3 ELSE next_check_at END, updated_at = $2, version = version + 1 WHERE id = $1 RETURNING {PAYMENT_COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(sent_at)
        .bind(next_check_at)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(PaymentRow::from_row).transpose()
}

/// Nothing was booked at the biller: forget the payment so its reference can be used again.
pub async fn delete_unsent(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM bill_payments WHERE id = $1 AND status = 'creating'")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// What the biller said about a payment, to store.
#[derive(Clone, Debug)]
pub struct PaymentChange<'a> {
    pub status: &'a str,
    pub serial_number: Option<&'a str>,
    pub token: Option<&'a str>,
    pub biller_cost: Option<i64>,
    pub customer_total: Option<i64>,
    pub balance_after: Option<i64>,
    pub provider_reference: Option<&'a str>,
    pub provider_status: &'a str,
    pub message: &'a str,
    pub details: Option<&'a serde_json::Value>,
    pub completed_at: Option<i64>,
    pub next_check_at: Option<i64>,
}

/// Applies `change` if the row is still at `version`; `None` when it moved meanwhile.
/// Known values are kept when the biller's answer leaves them out.
pub async fn change_payment(
    conn: &mut AnyConnection,
    id: &str,
    version: i64,
    change: &PaymentChange<'_>,
    now: i64,
) -> Result<Option<PaymentRow>, StoreError> {
    let sql = format!(
        "UPDATE bill_payments SET status = $3, serial_number = COALESCE($4, serial_number), token = COALESCE($5, token), biller_cost = COALESCE($6, biller_cost), customer_total = COALESCE($7, customer_total), balance_after = COALESCE($8, balance_after), provider_reference = COALESCE($9, provider_reference), provider_status = $10, message = $11, details = COALESCE($12, details), completed_at = COALESCE(completed_at, $13), next_check_at = $14, sent_at = COALESCE(sent_at, $15), updated_at = $15, version = version + 1 WHERE id = $1 AND version = $2 RETURNING {PAYMENT_COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(version)
        .bind(change.status)
        .bind(change.serial_number)
        .bind(change.token)
        .bind(change.biller_cost)
        .bind(change.customer_total)
        .bind(change.balance_after)
        .bind(change.provider_reference)
        .bind(change.provider_status)
        .bind(change.message)
        .bind(change.details.map(ToString::to_string))
        .bind(change.completed_at)
        .bind(change.next_check_at)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(PaymentRow::from_row).transpose()
}

/// The deposit balance last seen at a biller: `(balance, low, checked_at)`.
pub async fn balance(db: &Db, provider: &str) -> Result<Option<(i64, bool, i64)>, StoreError> {
    let row =
        sqlx::query("SELECT balance, low, checked_at FROM biller_balances WHERE provider = $1")
            .bind(provider)
            .fetch_optional(db.pool())
            .await?;
    row.map(|r| {
        Ok((
            r.try_get("balance")?,
            r.try_get::<i64, _>("low")? != 0,
            r.try_get("checked_at")?,
        ))
    })
    .transpose()
}

/// Records a biller's balance and whether it is low, unless a newer reading is stored.
/// Returns whether it was stored, and whether it just became low (it was not, or was
/// unknown, before).
pub async fn record_balance(
    conn: &mut AnyConnection,
    provider: &str,
    balance: i64,
    low: bool,
    at: i64,
) -> Result<(bool, bool), StoreError> {
    let before: Option<i64> =
        sqlx::query_scalar("SELECT low FROM biller_balances WHERE provider = $1")
            .bind(provider)
            .fetch_optional(&mut *conn)
            .await?;
    let updated = sqlx::query("INSERT INTO biller_balances (provider, balance, low, checked_at) VALUES ($1, $2, $3, $4) ON CONFLICT (provider) DO UPDATE SET balance = excluded.balance, low = excluded.low, checked_at = excluded.checked_at WHERE biller_balances.checked_at <= excluded.checked_at")
        .bind(provider)
        .bind(balance)
        .bind(i64::from(low))
        .bind(at)
        .execute(conn)
        .await?;
    let stored = updated.rows_affected() == 1;
    Ok((stored, stored && low && before != Some(1)))
}

/// A stored reconciliation report.
#[derive(Clone, Debug)]
pub struct ReconciliationRow {
    pub id: String,
    pub client_id: Option<String>,
    pub provider: String,
    pub day: String,
    pub summary: serde_json::Value,
    pub items: serde_json::Value,
    pub created_at: i64,
}

/// Stores a report.
pub async fn insert_reconciliation(
    conn: &mut AnyConnection,
    r: &ReconciliationRow,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO reconciliations (id, client_id, provider, day, summary, items, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&r.id)
        .bind(&r.client_id)
        .bind(&r.provider)
        .bind(&r.day)
        .bind(r.summary.to_string())
        .bind(r.items.to_string())
        .bind(r.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// One report of `client_id`.
pub async fn get_reconciliation(
    db: &Db,
    client_id: &str,
    id: &str,
) -> Result<Option<ReconciliationRow>, StoreError> {
    let row = sqlx::query("SELECT id, client_id, provider, day, summary, items, created_at FROM reconciliations WHERE id = $1 AND client_id = $2")
        .bind(id)
        .bind(client_id)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| {
        Ok(ReconciliationRow {
            id: r.try_get("id")?,
            client_id: r.try_get("client_id")?,
            provider: r.try_get("provider")?,
            day: r.try_get("day")?,
            summary: serde_json::from_str(&r.try_get::<String, _>("summary")?).map_err(corrupt)?,
            items: serde_json::from_str(&r.try_get::<String, _>("items")?).map_err(corrupt)?,
            created_at: r.try_get("created_at")?,
        })
    })
    .transpose()
}

/// Whether the operators' report for `provider` and `day` exists (the nightly run).
pub async fn nightly_exists(db: &Db, provider: &str, day: &str) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM reconciliations WHERE provider = $1 AND day = $2 AND client_id IS NULL",
    )
    .bind(provider)
    .bind(day)
    .fetch_one(db.pool())
    .await?;
    Ok(n > 0)
}
