//! The scheduler: expires VAs past `expires_at` (and announces it), resolves VAs whose
//! creation outcome is unknown by inquiry, asks providers about payments whose callback has
//! not come (and refunds whose outcome is unknown), polls pending e-signature signers and
//! documents, and forgets old nonces, idempotency records and decided signers' identities.

use std::time::Duration;

use crate::app::AppState;
use crate::service::va::{event_data, resolve_unknown};
use crate::store::va::{self, status};
use crate::store::{StoreError, events, idempotency, nonces, now_ms};

/// Runs until the process ends.
pub async fn run(state: AppState) {
    let interval = Duration::from_millis(state.settings().scheduler.interval_ms);
    let mut ticks: u64 = 0;
    loop {
        if let Err(e) = tick(&state, ticks).await {
            tracing::error!(error = %e, "scheduler tick failed");
        }
        ticks = ticks.wrapping_add(1);
        tokio::time::sleep(interval).await;
    }
}

/// One pass of every job (tests call it directly).
pub async fn tick(state: &AppState, ticks: u64) -> Result<(), StoreError> {
    if ticks.is_multiple_of(10) {
        // Switches changed by another gateway process sharing the database.
        crate::store::switches::load(state.db(), state.registry().switches()).await?;
    }
    expire_due(state).await?;
    resolve_pending(state).await?;
    crate::service::payments::check_due(state).await?;
    crate::service::messages::send_due(state).await?;
    crate::service::esign::check_due(state).await?;
    crate::service::bills::check_due(state).await?;
    if ticks.is_multiple_of(60) {
        let now = now_ms();
        let window_ms = state.settings().server.auth_window_secs * 1000;
        // Provider request ids are unique per day: keep them a day and an hour.
        nonces::purge(state.db(), now - 2 * window_ms, now - 25 * 3_600_000).await?;
        let retention_ms = state.settings().server.idempotency_retention_hours * 3_600_000;
        idempotency::purge(state.db(), now - retention_ms).await?;
        let idle_ms = state.settings().console.idle_timeout_secs * 1000;
        crate::console::sessions::purge(state.db(), idle_ms, now).await?;
        crate::service::esign::erase_expired_identities(state).await?;
        crate::service::bills::refresh_due_catalogues(state).await?;
        crate::service::bills::check_balances(state).await?;
        crate::service::bills::reconcile::nightly(state).await?;
    }
    Ok(())
}

/// Marks active VAs past their expiry `expired` and enqueues `virtual_account.expired`.
pub async fn expire_due(state: &AppState) -> Result<usize, StoreError> {
    let ids = va::expired_ids(state.db(), now_ms(), 500).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let expired = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                let mut n = 0;
                for id in ids {
                    let now = now_ms();
                    if let Some(row) =
                        va::transition(conn, &id, status::ACTIVE, status::EXPIRED, now).await?
                    {
                        events::enqueue(
                            conn,
                            &row.client_id,
                            "virtual_account.expired",
                            &row.id,
                            event_data(&row),
                            now,
                        )
                        .await?;
                        n += 1;
                    }
                }
                Ok(n)
            })
        })
        .await?;
    if expired > 0 {
        state.wake_outbox();
    }
    Ok(expired)
}

/// Inquires for VAs left `pending` (timeout on create) or `issuing` by a crash.
pub async fn resolve_pending(state: &AppState) -> Result<(), StoreError> {
    let now = now_ms();
    let stale = now - (state.settings().scheduler.stale_issuing_secs * 1000.0) as i64;
    for id in va::due_for_check(state.db(), now, stale, 50).await? {
        if !resolve_unknown(state, &id).await? {
            let delay = (state.settings().scheduler.inquiry_delay_secs * 1000.0) as i64;
            let id = id.clone();
            state
                .db()
                .write(move |conn| {
                    Box::pin(async move {
                        va::postpone_check(conn, &id, now_ms() + delay.max(1000)).await
                    })
                })
                .await?;
        }
    }
    Ok(())
}
