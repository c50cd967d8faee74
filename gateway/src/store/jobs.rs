//! Batch jobs (`POST /v1/virtual-accounts/batch`): a job row and one row per item, worked
//! through by a background worker that takes a lease on the job.

use sqlx::AnyConnection;
use sqlx::Row;

use super::{Db, StoreError};

/// A job and its progress.
#[derive(Clone, Debug)]
pub struct JobRow {
    pub id: String,
    pub client_id: String,
    pub kind: String,
    pub state: String,
    pub total: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One item of a job.
#[derive(Clone, Debug)]
pub struct ItemRow {
    pub idx: i64,
    pub request: String,
    pub state: String,
    pub resource_id: Option<String>,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
}

/// Creates a job with its items (each a JSON request).
pub async fn create(
    conn: &mut AnyConnection,
    id: &str,
    client_id: &str,
    kind: &str,
    items: &[String],
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO jobs (id, client_id, kind, state, total, created_at, updated_at) VALUES ($1, $2, $3, 'queued', $4, $5, $5)")
        .bind(id)
        .bind(client_id)
        .bind(kind)
        .bind(items.len() as i64)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    for (idx, request) in items.iter().enumerate() {
        sqlx::query(
            "INSERT INTO job_items (job_id, idx, request, state) VALUES ($1, $2, $3, 'queued')",
        )
        .bind(id)
        .bind(idx as i64)
        .bind(request)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn job_from_row(row: &sqlx::any::AnyRow) -> Result<JobRow, StoreError> {
    Ok(JobRow {
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        kind: row.try_get("kind")?,
        state: row.try_get("state")?,
        total: row.try_get("total")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// One job of `client_id`.
pub async fn get(db: &Db, client_id: &str, id: &str) -> Result<Option<JobRow>, StoreError> {
    let row = sqlx::query("SELECT id, client_id, kind, state, total, created_at, updated_at FROM jobs WHERE id = $1 AND client_id = $2")
        .bind(id)
        .bind(client_id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(job_from_row).transpose()
}

/// The items of a job, in order.
pub async fn items(db: &Db, job_id: &str) -> Result<Vec<ItemRow>, StoreError> {
    let rows = sqlx::query("SELECT idx, request, state, resource_id, error_code, error_detail FROM job_items WHERE job_id = $1 ORDER BY idx")
        .bind(job_id)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(ItemRow {
                idx: row.try_get("idx")?,
                request: row.try_get("request")?,
                state: row.try_get("state")?,
                resource_id: row.try_get("resource_id")?,
                error_code: row.try_get("error_code")?,
                error_detail: row.try_get("error_detail")?,
            })
        })
        .collect()
}

/// Takes the lease on the oldest job that is queued or running with an expired lease.
pub async fn lease_next(
    conn: &mut AnyConnection,
    now: i64,
    lease_until: i64,
) -> Result<Option<JobRow>, StoreError> {
    let row = sqlx::query("UPDATE jobs SET state = 'running', lease_until = $2, updated_at = $1 WHERE id = (SELECT id FROM jobs WHERE state IN ('queued', 'running') AND (lease_until IS NULL OR lease_until <= $1) ORDER BY created_at LIMIT 1) RETURNING id, client_id, kind, state, total, created_at, updated_at")
        .bind(now)
        .bind(lease_until)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(job_from_row).transpose()
}

/// Records an item's outcome.
pub async fn finish_item(
    conn: &mut AnyConnection,
    job_id: &str,
    idx: i64,
    state: &str,
    resource_id: Option<&str>,
    error: Option<(&str, &str)>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE job_items SET state = $3, resource_id = $4, error_code = $5, error_detail = $6 WHERE job_id = $1 AND idx = $2")
        .bind(job_id)
        .bind(idx)
        .bind(state)
        .bind(resource_id)
        .bind(error.map(|e| e.0))
        .bind(error.map(|e| e.1))
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks a job done and releases its lease.
pub async fn finish(conn: &mut AnyConnection, job_id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE jobs SET state = 'completed', lease_until = NULL, updated_at = $2 WHERE id = $1",
    )
    .bind(job_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
