//! E-signature signers and documents. A status changes only by a conditional update on
//! the row's `version`, so a callback-triggered inquiry and the poller answering at once
//! cannot both apply (the second sees a changed version and re-reads).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::checks::Table;
use super::{Db, StoreError, corrupt};

/// The id of the client's row with `reference`, if any.
pub async fn id_by_reference(
    conn: &mut AnyConnection,
    table: Table,
    client_id: &str,
    reference: &str,
) -> Result<Option<String>, StoreError> {
    let sql = format!(
        "SELECT id FROM {} WHERE client_id = $1 AND reference = $2",
        table.name()
    );
    let id = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(client_id)
        .bind(reference)
        .fetch_optional(conn)
        .await?;
    Ok(id)
}

/// Signer statuses as stored.
pub mod signer_status {
    /// Stored; the registration is in flight (the recovery point).
    pub const CREATING: &str = "creating";
    /// The registration's outcome is unknown (the provider may hold it); never resent.
    pub const UNKNOWN: &str = "unknown";
    /// Registered; the provider is verifying.
    pub const PENDING: &str = "pending";
    /// The provider wants data sent again.
    pub const INVALID: &str = "invalid";
    /// Verified: can sign.
    pub const VERIFIED: &str = "verified";
    /// Refused for good.
    pub const REJECTED: &str = "rejected";
}

/// Document statuses as stored.
pub mod document_status {
    /// Stored; the upload is in flight.
    pub const CREATING: &str = "creating";
    /// The upload's outcome is unknown; never resent.
    pub const UNKNOWN: &str = "unknown";
    /// Uploaded; waiting for signatures.
    pub const PENDING: &str = "pending";
    /// Signed by every signer.
    pub const SIGNED: &str = "signed";
    /// Refused.
    pub const REJECTED: &str = "rejected";
    /// Expired unsigned.
    pub const EXPIRED: &str = "expired";
}

const SIGNER_COLUMNS: &str = "id, client_id, reference, provider, status, provider_reference, provider_signer_id, provider_status, verdict, identity, nik_fingerprint, flags, version, created_at, updated_at, decided_at, next_check_at, checks";

/// A stored signer.
#[derive(Clone, Debug)]
pub struct SignerRow {
    pub id: String,
    pub client_id: String,
    pub reference: String,
    pub provider: String,
    pub status: String,
    /// The provider's handle on the registration (PrivyID `userToken`).
    pub provider_reference: Option<String>,
    /// The signer's identity at the provider once verified (PrivyID `privyId`).
    pub provider_signer_id: Option<String>,
    pub provider_status: Option<String>,
    /// The provider's verdict (JSON of `contracts::esign::Verdict`) when invalid or rejected.
    pub verdict: Option<String>,
    /// The sealed identity (see `crate::vault`); `None` once erased.
    pub identity: Option<String>,
    pub nik_fingerprint: String,
    pub flags: Vec<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub decided_at: Option<i64>,
    pub next_check_at: Option<i64>,
    pub checks: i64,
}

impl SignerRow {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(SignerRow {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            reference: row.try_get("reference")?,
            provider: row.try_get("provider")?,
            status: row.try_get("status")?,
            provider_reference: row.try_get("provider_reference")?,
            provider_signer_id: row.try_get("provider_signer_id")?,
            provider_status: row.try_get("provider_status")?,
            verdict: row.try_get("verdict")?,
            identity: row.try_get("identity")?,
            nik_fingerprint: row.try_get("nik_fingerprint")?,
            flags: serde_json::from_str(&row.try_get::<String, _>("flags")?).map_err(corrupt)?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            decided_at: row.try_get("decided_at")?,
            next_check_at: row.try_get("next_check_at")?,
            checks: row.try_get("checks")?,
        })
    }
}

/// Inserts a new signer. Returns `false` when the client's reference is taken.
pub async fn insert_signer(conn: &mut AnyConnection, s: &SignerRow) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO esign_signers ({SIGNER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT (client_id, reference) DO NOTHING"
    );
    let flags = serde_json::to_string(&s.flags).map_err(corrupt)?;
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&s.id)
        .bind(&s.client_id)
        .bind(&s.reference)
        .bind(&s.provider)
        .bind(&s.status)
        .bind(&s.provider_reference)
        .bind(&s.provider_signer_id)
        .bind(&s.provider_status)
        .bind(&s.verdict)
        .bind(&s.identity)
        .bind(&s.nik_fingerprint)
        .bind(flags)
        .bind(s.version)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(s.decided_at)
        .bind(s.next_check_at)
        .bind(s.checks)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// One signer of `client_id`.
pub async fn get_signer(
    db: &Db,
    client_id: &str,
    id: &str,
) -> Result<Option<SignerRow>, StoreError> {
    let sql =
        format!("SELECT {SIGNER_COLUMNS} FROM esign_signers WHERE id = $1 AND client_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(client_id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(SignerRow::from_row).transpose()
}

/// One signer, whoever owns it (workers).
pub async fn get_signer_unscoped(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<SignerRow>, StoreError> {
    let sql = format!("SELECT {SIGNER_COLUMNS} FROM esign_signers WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(SignerRow::from_row).transpose()
}

/// One signer of `client_id`, inside a transaction.
pub async fn get_signer_in(
    conn: &mut AnyConnection,
    client_id: &str,
    id: &str,
) -> Result<Option<SignerRow>, StoreError> {
    let sql =
        format!("SELECT {SIGNER_COLUMNS} FROM esign_signers WHERE id = $1 AND client_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(client_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(SignerRow::from_row).transpose()
}

/// The signer a provider's callback names.
pub async fn signer_for_provider(
    conn: &mut AnyConnection,
    provider: &str,
    provider_reference: &str,
) -> Result<Option<SignerRow>, StoreError> {
    let sql = format!(
        "SELECT {SIGNER_COLUMNS} FROM esign_signers WHERE provider = $1 AND provider_reference = $2 LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(provider)
        .bind(provider_reference)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(SignerRow::from_row).transpose()
}

/// A page of the client's signers, newest first.
pub async fn list_signers(
    db: &Db,
    client_id: &str,
    reference: Option<&str>,
    status: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Vec<SignerRow>, StoreError> {
    let sql = format!(
        "SELECT {SIGNER_COLUMNS} FROM esign_signers WHERE client_id = $1 AND ($2 = '' OR reference = $2) AND ($3 = '' OR status = $3 OR ($3 = 'pending_verification' AND status IN ('creating', 'unknown', 'pending'))) AND id < $4 ORDER BY id DESC LIMIT $5"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(client_id)
        .bind(reference.unwrap_or_default())
        .bind(status.unwrap_or_default())
        .bind(cursor.unwrap_or("zzzz"))
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(SignerRow::from_row).collect()
}

/// The registration was accepted: `creating` → `pending` with the provider's handle.
pub async fn signer_started(
    conn: &mut AnyConnection,
    id: &str,
    provider_reference: &str,
    provider_status: &str,
    next_check_at: i64,
    now: i64,
) -> Result<Option<SignerRow>, StoreError> {
    let sql = format!(
        "UPDATE esign_signers SET status = 'pending', provider_reference = $2, provider_status = $3, next_check_at = $4, updated_at = $5, version = version + 1 WHERE id = $1 AND status = 'creating' RETURNING {SIGNER_COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(provider_reference)
        .bind(provider_status)
        .bind(next_check_at)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(SignerRow::from_row).transpose()
}

/// The registration's outcome is unknown: `creating` → `unknown`, flagged for operators.
pub async fn signer_unknown(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE esign_signers SET status = 'unknown', flags = '[\"registration_outcome_unknown\"]', updated_at = $2, version = version + 1 WHERE id = $1 AND status = 'creating'")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// No provider took the registration: forget it so the reference can be used again.
pub async fn delete_unstarted_signer(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM esign_signers WHERE id = $1 AND status = 'creating'")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// What the provider said about a signer, to store.
#[derive(Clone, Debug)]
pub struct SignerChange<'a> {
    pub status: &'a str,
    pub provider_signer_id: Option<&'a str>,
    pub provider_status: &'a str,
    pub verdict: Option<String>,
    pub decided_at: Option<i64>,
    pub next_check_at: Option<i64>,
}

/// Applies `change` if the row is still at `version`; `None` when it moved meanwhile.
pub async fn change_signer(
    conn: &mut AnyConnection,
    id: &str,
    version: i64,
    change: &SignerChange<'_>,
    now: i64,
) -> Result<Option<SignerRow>, StoreError> {
    let sql = format!(
        "UPDATE esign_signers SET status = $3, provider_signer_id = COALESCE($4, provider_signer_id), provider_status = $5, verdict = $6, decided_at = $7, next_check_at = $8, checks = 0, updated_at = $9, version = version + 1 WHERE id = $1 AND version = $2 RETURNING {SIGNER_COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(version)
        .bind(change.status)
        .bind(change.provider_signer_id)
        .bind(change.provider_status)
        .bind(&change.verdict)
        .bind(change.decided_at)
        .bind(change.next_check_at)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(SignerRow::from_row).transpose()
}

/// Erases the sealed identity of signers decided before `before`. Returns how many.
pub async fn erase_identities(conn: &mut AnyConnection, before: i64) -> Result<u64, StoreError> {
    let done = sqlx::query("UPDATE esign_signers SET identity = NULL WHERE identity IS NOT NULL AND decided_at IS NOT NULL AND decided_at < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

const DOCUMENT_COLUMNS: &str = "id, client_id, reference, provider, status, title, in_order, provider_reference, provider_status, sign_url, download_url, reason, flags, version, created_at, updated_at, completed_at, next_check_at, checks";

/// A stored document.
#[derive(Clone, Debug)]
pub struct DocumentRow {
    pub id: String,
    pub client_id: String,
    pub reference: String,
    pub provider: String,
    pub status: String,
    pub title: String,
    pub in_order: bool,
    /// The provider's id (PrivyID `docToken`).
    pub provider_reference: Option<String>,
    pub provider_status: Option<String>,
    pub sign_url: Option<String>,
    pub download_url: Option<String>,
    pub reason: Option<String>,
    pub flags: Vec<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
    pub next_check_at: Option<i64>,
    pub checks: i64,
}

impl DocumentRow {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(DocumentRow {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            reference: row.try_get("reference")?,
            provider: row.try_get("provider")?,
            status: row.try_get("status")?,
            title: row.try_get("title")?,
            in_order: row.try_get::<i64, _>("in_order")? != 0,
            provider_reference: row.try_get("provider_reference")?,
            provider_status: row.try_get("provider_status")?,
            sign_url: row.try_get("sign_url")?,
            download_url: row.try_get("download_url")?,
            reason: row.try_get("reason")?,
            flags: serde_json::from_str(&row.try_get::<String, _>("flags")?).map_err(corrupt)?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            completed_at: row.try_get("completed_at")?,
            next_check_at: row.try_get("next_check_at")?,
            checks: row.try_get("checks")?,
        })
    }
}

/// One signer of a stored document.
#[derive(Clone, Debug)]
pub struct DocumentSignerRow {
    pub document_id: String,
    pub position: i64,
    pub signer_id: String,
    pub provider_signer_id: String,
    pub page: i64,
    pub x: i64,
    pub y: i64,
    /// `pending`, `signed`, `rejected` or `unknown`.
    pub status: String,
    pub sign_url: Option<String>,
    pub updated_at: i64,
}

impl DocumentSignerRow {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(DocumentSignerRow {
            document_id: row.try_get("document_id")?,
            position: row.try_get("position")?,
            signer_id: row.try_get("signer_id")?,
            provider_signer_id: row.try_get("provider_signer_id")?,
            page: row.try_get("page")?,
            x: row.try_get("x")?,
            y: row.try_get("y")?,
            status: row.try_get("status")?,
            sign_url: row.try_get("sign_url")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// Inserts a new document and its signers. Returns `false` when the reference is taken
/// (nothing inserted).
pub async fn insert_document(
    conn: &mut AnyConnection,
    d: &DocumentRow,
    signers: &[DocumentSignerRow],
) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO esign_documents ({DOCUMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) ON CONFLICT (client_id, reference) DO NOTHING"
    );
    let flags = serde_json::to_string(&d.flags).map_err(corrupt)?;
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&d.id)
        .bind(&d.client_id)
        .bind(&d.reference)
        .bind(&d.provider)
        .bind(&d.status)
        .bind(&d.title)
        .bind(i64::from(d.in_order))
        .bind(&d.provider_reference)
        .bind(&d.provider_status)
        .bind(&d.sign_url)
        .bind(&d.download_url)
        .bind(&d.reason)
        .bind(flags)
        .bind(d.version)
        .bind(d.created_at)
        .bind(d.updated_at)
        .bind(d.completed_at)
        .bind(d.next_check_at)
        .bind(d.checks)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    for s in signers {
        sqlx::query("INSERT INTO esign_document_signers (document_id, position, signer_id, provider_signer_id, page, x, y, status, sign_url, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(&s.document_id)
            .bind(s.position)
            .bind(&s.signer_id)
            .bind(&s.provider_signer_id)
            .bind(s.page)
            .bind(s.x)
            .bind(s.y)
            .bind(&s.status)
            .bind(&s.sign_url)
            .bind(s.updated_at)
            .execute(&mut *conn)
            .await?;
    }
    Ok(true)
}

/// One document of `client_id`.
pub async fn get_document(
    db: &Db,
    client_id: &str,
    id: &str,
) -> Result<Option<DocumentRow>, StoreError> {
    let sql =
        format!("SELECT {DOCUMENT_COLUMNS} FROM esign_documents WHERE id = $1 AND client_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(client_id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(DocumentRow::from_row).transpose()
}

/// One document, whoever owns it (workers).
pub async fn get_document_unscoped(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<DocumentRow>, StoreError> {
    let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM esign_documents WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(DocumentRow::from_row).transpose()
}

/// The document a provider's callback names.
pub async fn document_for_provider(
    conn: &mut AnyConnection,
    provider: &str,
    provider_reference: &str,
) -> Result<Option<DocumentRow>, StoreError> {
    let sql = format!(
        "SELECT {DOCUMENT_COLUMNS} FROM esign_documents WHERE provider = $1 AND provider_reference = $2 LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(provider)
        .bind(provider_reference)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(DocumentRow::from_row).transpose()
}

/// A page of the client's documents, newest first.
pub async fn list_documents(
    db: &Db,
    client_id: &str,
    reference: Option<&str>,
    status: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Vec<DocumentRow>, StoreError> {
    let sql = format!(
        "SELECT {DOCUMENT_COLUMNS} FROM esign_documents WHERE client_id = $1 AND ($2 = '' OR reference = $2) AND ($3 = '' OR status = $3 OR ($3 = 'pending' AND status IN ('creating', 'unknown'))) AND id < $4 ORDER BY id DESC LIMIT $5"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(client_id)
        .bind(reference.unwrap_or_default())
        .bind(status.unwrap_or_default())
        .bind(cursor.unwrap_or("zzzz"))
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(DocumentRow::from_row).collect()
}

/// The signers of a document, in signing order.
pub async fn document_signers(
    conn: &mut AnyConnection,
    document_id: &str,
) -> Result<Vec<DocumentSignerRow>, StoreError> {
    let rows = sqlx::query("SELECT document_id, position, signer_id, provider_signer_id, page, x, y, status, sign_url, updated_at FROM esign_document_signers WHERE document_id = $1 ORDER BY position")
        .bind(document_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(DocumentSignerRow::from_row).collect()
}

/// The signers of a document, read from the pool.
pub async fn document_signers_of(
    db: &Db,
    document_id: &str,
) -> Result<Vec<DocumentSignerRow>, StoreError> {
    let mut conn = db.pool().acquire().await?;
    document_signers(&mut conn, document_id).await
}

/// The upload was accepted: `creating` → `pending`.
pub async fn document_started(
    conn: &mut AnyConnection,
    id: &str,
    provider_reference: &str,
    provider_status: &str,
    sign_url: Option<&str>,
    next_check_at: i64,
    now: i64,
) -> Result<Option<DocumentRow>, StoreError> {
    let sql = format!(
        "UPDATE esign_documents SET status = 'pending', provider_reference = $2, provider_status = $3, sign_url = $4, next_check_at = $5, updated_at = $6, version = version + 1 WHERE id = $1 AND status = 'creating' RETURNING {DOCUMENT_COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(provider_reference)
        .bind(provider_status)
        .bind(sign_url)
        .bind(next_check_at)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(DocumentRow::from_row).transpose()
}

/// The upload's outcome is unknown: `creating` → `unknown`, flagged for operators.
pub async fn document_unknown(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE esign_documents SET status = 'unknown', flags = '[\"upload_outcome_unknown\"]', updated_at = $2, version = version + 1 WHERE id = $1 AND status = 'creating'")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// No provider took the upload: forget it and its signers.
pub async fn delete_unstarted_document(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM esign_documents WHERE id = $1 AND status = 'creating'")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 1 {
        sqlx::query("DELETE FROM esign_document_signers WHERE document_id = $1")
            .bind(id)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// What the provider said about a document, to store.
#[derive(Clone, Debug)]
pub struct DocumentChange<'a> {
    pub status: &'a str,
    pub provider_status: &'a str,
    pub sign_url: Option<&'a str>,
    pub download_url: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub completed_at: Option<i64>,
    pub next_check_at: Option<i64>,
}

/// Applies `change` if the row is still at `version`; `None` when it moved meanwhile.
pub async fn change_document(
    conn: &mut AnyConnection,
    id: &str,
    version: i64,
    change: &DocumentChange<'_>,
    now: i64,
) -> Result<Option<DocumentRow>, StoreError> {
    let sql = format!(
        "UPDATE esign_documents SET status = $3, provider_status = $4, sign_url = COALESCE($5, sign_url), download_url = COALESCE($6, download_url), reason = $7, completed_at = $8, next_check_at = $9, checks = 0, updated_at = $10, version = version + 1 WHERE id = $1 AND version = $2 RETURNING {DOCUMENT_COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(version)
        .bind(change.status)
        .bind(change.provider_status)
        .bind(change.sign_url)
        .bind(change.download_url)
        .bind(change.reason)
        .bind(change.completed_at)
        .bind(change.next_check_at)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(DocumentRow::from_row).transpose()
}

/// Records one signer's progress on a document (and its link, when the provider gives one).
pub async fn set_document_signer(
    conn: &mut AnyConnection,
    document_id: &str,
    position: i64,
    status: &str,
    sign_url: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE esign_document_signers SET status = $3, sign_url = COALESCE($4, sign_url), updated_at = $5 WHERE document_id = $1 AND position = $2")
        .bind(document_id)
        .bind(position)
        .bind(status)
        .bind(sign_url)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
