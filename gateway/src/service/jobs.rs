//! Batch issuance (`POST /v1/virtual-accounts/batch`): the request is stored as a job with
//! one item per VA and answered at once; a worker takes a lease on the job and issues the
//! items one by one, recording each result, so progress survives restarts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::service::va::{self, NewVirtualAccount};
use crate::store::jobs::{self, JobRow};
use crate::store::{StoreError, new_id, now_ms};

/// Most items in one batch.
pub const MAX_ITEMS: usize = 1000;

/// Stores a batch job; returns its id.
pub async fn submit(
    state: &AppState,
    client_id: &str,
    items: Vec<NewVirtualAccount>,
) -> Result<String, StoreError> {
    let id = new_id("job");
    let requests: Vec<String> = items
        .iter()
        .map(|i| serde_json::to_string(i).unwrap_or_default())
        .collect();
    let (job_id, client) = (id.clone(), client_id.to_owned());
    state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                jobs::create(
                    conn,
                    &job_id,
                    &client,
                    "virtual_accounts.batch",
                    &requests,
                    now_ms(),
                )
                .await
            })
        })
        .await?;
    Ok(id)
}

/// One item's outcome, as shown in the job.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemView {
    /// Position in the submitted list.
    pub index: i64,
    /// The item's reference.
    pub reference: Option<String>,
    /// `queued`, `succeeded`, `failed`.
    pub status: String,
    /// The VA issued, when succeeded (or when the outcome is pending at the provider).
    pub virtual_account_id: Option<String>,
    /// The problem code, when failed.
    pub error_code: Option<String>,
    /// The problem detail, when failed.
    pub error_detail: Option<String>,
}

/// A job with its progress.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobView {
    /// `job_…`
    pub id: String,
    /// `queued`, `running`, `completed`.
    pub status: String,
    /// Items submitted.
    pub total: i64,
    /// Items finished.
    pub done: i64,
    /// Items that issued a VA.
    pub succeeded: i64,
    /// Items that failed.
    pub failed: i64,
    /// Every item.
    pub items: Vec<ItemView>,
}

/// Reads a job of `client_id` with its items.
pub async fn view(
    state: &AppState,
    client_id: &str,
    id: &str,
) -> Result<Option<JobView>, StoreError> {
    let Some(job) = jobs::get(state.db(), client_id, id).await? else {
        return Ok(None);
    };
    let items: Vec<ItemView> = jobs::items(state.db(), &job.id)
        .await?
        .into_iter()
        .map(|i| ItemView {
            index: i.idx,
            reference: serde_json::from_str::<NewVirtualAccount>(&i.request)
                .ok()
                .map(|r| r.reference),
            status: i.state,
            virtual_account_id: i.resource_id,
            error_code: i.error_code,
            error_detail: i.error_detail,
        })
        .collect();
    let count = |s: &str| items.iter().filter(|i| i.status == s).count() as i64;
    let (succeeded, failed) = (count("succeeded"), count("failed"));
    Ok(Some(JobView {
        id: job.id,
        status: job.state,
        total: job.total,
        done: succeeded + failed,
        succeeded,
        failed,
        items,
    }))
}

/// The worker loop.
pub async fn run(state: AppState) {
    let idle = Duration::from_millis(state.settings().scheduler.interval_ms);
    loop {
        let lease = state
            .db()
            .write(|conn| {
                Box::pin(async move { jobs::lease_next(conn, now_ms(), now_ms() + 300_000).await })
            })
            .await;
        match lease {
            Ok(Some(job)) => {
                if let Err(e) = work(&state, &job).await {
                    tracing::error!(job = %job.id, error = %e, "batch job interrupted");
                }
            }
            Ok(None) => tokio::time::sleep(idle).await,
            Err(e) => {
                tracing::error!(error = %e, "cannot lease batch jobs");
                tokio::time::sleep(idle).await;
            }
        }
    }
}

async fn work(state: &AppState, job: &JobRow) -> Result<(), StoreError> {
    for item in jobs::items(state.db(), &job.id).await? {
        if item.state != "queued" {
            continue;
        }
        let outcome = issue_item(state, &job.client_id, &item.request).await;
        let job_id = job.id.clone();
        state
            .db()
            .write(move |conn| {
                Box::pin(async move {
                    match &outcome {
                        Ok(va_id) => {
                            jobs::finish_item(
                                conn,
                                &job_id,
                                item.idx,
                                "succeeded",
                                Some(va_id),
                                None,
                            )
                            .await
                        }
                        Err((code, detail, va_id)) => {
                            jobs::finish_item(
                                conn,
                                &job_id,
                                item.idx,
                                "failed",
                                va_id.as_deref(),
                                Some((code, detail)),
                            )
                            .await
                        }
                    }
                })
            })
            .await?;
    }
    let job_id = job.id.clone();
    state
        .db()
        .write(move |conn| Box::pin(async move { jobs::finish(conn, &job_id, now_ms()).await }))
        .await
}

type ItemError = (String, String, Option<String>);

async fn issue_item(state: &AppState, client_id: &str, request: &str) -> Result<String, ItemError> {
    let request: NewVirtualAccount = serde_json::from_str(request)
        .map_err(|e| ("malformed_request".to_owned(), e.to_string(), None))?;
    let validated = va::validate(request).map_err(problem)?;
    va::issue(state, client_id, validated)
        .await
        .map(|row| row.id)
        .map_err(problem)
}

fn problem(e: crate::http::ApiError) -> ItemError {
    (e.code().to_owned(), e.detail().to_owned(), e.resource_id())
}
