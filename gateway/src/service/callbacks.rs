//! Provider callbacks: verify in the provider's scheme, then one transaction stores the
//! provider event (unique per provider event id: a replay inserts nothing and changes
//! nothing), applies it to the VA and enqueues the product's event; then the provider's own
//! acknowledgement. Nothing is acknowledged before it is durable.
//!
//! Providers whose callbacks cannot be trusted alone (`Trust::ConfirmByInquiry`) have their
//! callback stored as `unconfirmed` and acknowledged; the confirmer then asks the provider
//! for the status, and only the provider's answer changes the VA.

use std::time::{Duration, Instant};

use contracts::inbound::{
    AckOutcome, EventKind, Inbound, InboundEvent, InboundRequest, InboundResponse, ResourceRef,
    Trust,
};
use contracts::va::{ProviderVaState, VaHandle, VaStatusReport};
use contracts::{Amount, OurReference, ProviderReference};
use sqlx::AnyConnection;

use crate::app::AppState;
use crate::metrics;
use crate::service::va::event_data;
use crate::store::provider_events::{self, NewProviderEvent, Unconfirmed, state};
use crate::store::va::{self, PaidTotal, VaRow, status};
use crate::store::{StoreError, events, now_ms, to_ms};

/// What a batch of callbacks did, for waking the workers.
#[derive(Clone, Copy, Debug, Default)]
struct Applied {
    enqueued: bool,
    unconfirmed: bool,
}

/// Handles one provider request for `instance`; `None` when no such instance takes callbacks.
pub async fn handle(
    state: &AppState,
    instance: &str,
    request: InboundRequest,
) -> Option<InboundResponse> {
    let adapter = state.registry().inbound(instance)?;
    let count = |outcome: &str| {
        metrics::global()
            .callbacks
            .get_or_create(&vec![
                ("provider", instance.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    };
    let events = match adapter.verify_and_parse(&request).await {
        Err(e) => {
            count("rejected");
            tracing::warn!(provider = %instance, kind = e.kind.as_str(), reason = %e.message, "callback rejected");
            return Some(adapter.acknowledge(&request, &AckOutcome::Rejected(e)));
        }
        Ok(Inbound::Reply(reply)) => return Some(reply),
        Ok(Inbound::Events(notification)) => notification.events,
        Ok(_) => return Some(adapter.acknowledge(&request, &AckOutcome::RetryLater)),
    };
    let trust = adapter.trust();
    let provider = instance.to_owned();
    let now = to_ms(request.received_at);
    let stored = state
        .db()
        .write(move |conn| {
            Box::pin(async move { store_all(conn, &provider, events, trust, now).await })
        })
        .await;
    match stored {
        Ok(applied) => {
            count("accepted");
            if applied.enqueued {
                state.wake_outbox();
            }
            if applied.unconfirmed {
                state.wake_confirm();
            }
            Some(adapter.acknowledge(&request, &AckOutcome::Accepted))
        }
        Err(e) => {
            count("store_failed");
            tracing::error!(provider = %instance, error = %e, "callback not stored; asking the provider to retry");
            Some(adapter.acknowledge(&request, &AckOutcome::RetryLater))
        }
    }
}

async fn store_all(
    conn: &mut AnyConnection,
    provider: &str,
    events: Vec<InboundEvent>,
    trust: Trust,
    now: i64,
) -> Result<Applied, StoreError> {
    let mut applied = Applied::default();
    for event in events {
        let one = store_one(conn, provider, event, trust, now).await?;
        applied.enqueued |= one.enqueued;
        applied.unconfirmed |= one.unconfirmed;
    }
    Ok(applied)
}

fn resource_keys(resource: &ResourceRef) -> (Option<&str>, Option<&str>, Option<&str>) {
    match resource {
        ResourceRef::VirtualAccount {
            reference,
            provider_reference,
            va_number,
        } => (
            reference.as_ref().map(OurReference::as_str),
            provider_reference.as_ref().map(ProviderReference::as_str),
            va_number.as_deref(),
        ),
        _ => (None, None, None),
    }
}

async fn store_one(
    conn: &mut AnyConnection,
    provider: &str,
    event: InboundEvent,
    trust: Trust,
    now: i64,
) -> Result<Applied, StoreError> {
    let (reference, provider_reference, va_number) = resource_keys(&event.resource);
    let found =
        va::find_for_provider(conn, provider, reference, provider_reference, va_number).await?;
    let (kind, amount) = match &event.kind {
        EventKind::VaPayment { amount, .. } => ("va.payment", amount.rupiah()),
        EventKind::VaReversal { amount } => ("va.reversal", amount.rupiah()),
        _ => ("unknown", 0),
    };
    let confirm = trust == Trust::ConfirmByInquiry && kind == "va.payment";
    let initial = match (&found, confirm) {
        (None, _) => state::UNMATCHED,
        (Some(_), true) => state::UNCONFIRMED,
        (Some(_), false) => state::APPLIED,
    };
    let new = NewProviderEvent {
        provider: provider.to_owned(),
        provider_event_id: event.provider_event_id.clone(),
        client_id: found.as_ref().map(|v| v.client_id.clone()),
        resource_id: found.as_ref().map(|v| v.id.clone()),
        kind: kind.to_owned(),
        amount: Some(amount),
        state: initial.to_owned(),
        detail: None,
        payload: event.payload.to_string(),
        received_at: now,
        next_attempt_at: confirm.then_some(now),
    };
    let Some(event_id) = provider_events::insert(conn, &new).await? else {
        return Ok(Applied::default()); // a replay: acknowledged, changes nothing
    };
    let Some(va) = found else {
        tracing::warn!(
            provider,
            "callback for an unknown virtual account stored as unmatched"
        );
        return Ok(Applied::default());
    };
    if confirm {
        return Ok(Applied {
            enqueued: false,
            unconfirmed: true,
        });
    }
    let (settled, detail, enqueued) = apply(conn, &va, &event.kind, now).await?;
    // Stored as `applied` already: only a different outcome needs a second write.
    if settled != state::APPLIED || detail.is_some() {
        provider_events::settle(conn, &event_id, settled, detail.as_deref(), now).await?;
    }
    Ok(Applied {
        enqueued,
        unconfirmed: false,
    })
}

/// Applies a verified event to its VA. Returns the provider event's final state, a
/// detail for operators, and whether a product event was enqueued.
async fn apply(
    conn: &mut AnyConnection,
    va: &VaRow,
    kind: &EventKind,
    now: i64,
) -> Result<(&'static str, Option<String>, bool), StoreError> {
    match kind {
        EventKind::VaPayment {
            amount,
            cumulative,
            billed,
            paid_at,
            ..
        } => {
            let total = match cumulative {
                Some(c) => PaidTotal::Cumulative(c.rupiah()),
                None => PaidTotal::Increment(amount.rupiah()),
            };
            let billed = billed.map(Amount::rupiah);
            let paid_at = paid_at.map(to_ms).unwrap_or(now);
            apply_payment(conn, va, total, billed, paid_at, now).await
        }
        EventKind::VaReversal { .. } => {
            va::add_flag(conn, va, "reversed", now).await?;
            Ok((
                state::IGNORED,
                Some("reversal recorded for operators".into()),
                false,
            ))
        }
        _ => Ok((state::IGNORED, Some("unsupported event kind".into()), false)),
    }
}

async fn apply_payment(
    conn: &mut AnyConnection,
    va: &VaRow,
    total: PaidTotal,
    billed: Option<i64>,
    paid_at: i64,
    now: i64,
) -> Result<(&'static str, Option<String>, bool), StoreError> {
    if va.status != status::ACTIVE {
        if matches!(va.status.as_str(), status::EXPIRED | status::CANCELLED) {
            va::add_flag(conn, va, "payment_after_close", now).await?;
        }
        return Ok((
            state::IGNORED,
            Some(format!("virtual account is {}", va.status)),
            false,
        ));
    }
    let Some(row) = va::record_payment(conn, &va.id, total, paid_at, now).await? else {
        return Ok((
            state::IGNORED,
            Some("virtual account changed concurrently".into()),
            false,
        ));
    };
    if billed.is_some_and(|b| b != row.amount) {
        va::add_flag(conn, &row, "billed_amount_mismatch", now).await?;
    }
    let row = if row.paid_amount > row.amount {
        va::add_flag(conn, &row, "overpaid", now).await?;
        va::get_unscoped(conn, &row.id).await?.unwrap_or(row)
    } else {
        row
    };
    if row.status == status::PAID {
        events::enqueue(
            conn,
            &row.client_id,
            "virtual_account.paid",
            &row.id,
            event_data(&row),
            now,
        )
        .await?;
        return Ok((state::APPLIED, None, true));
    }
    Ok((
        state::APPLIED,
        Some(format!(
            "partial payment, {} of {}",
            row.paid_amount, row.amount
        )),
        false,
    ))
}

/// The confirmer: resolves `unconfirmed` callbacks by asking the provider for the status.
pub async fn run_confirmer(state: AppState) {
    let idle = Duration::from_millis(state.settings().scheduler.interval_ms);
    loop {
        let due = provider_events::due_unconfirmed(state.db(), now_ms(), 32).await;
        let due = match due {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "confirmer cannot read due callbacks");
                Vec::new()
            }
        };
        let busy = !due.is_empty();
        for event in due {
            if let Err(e) = confirm_one(&state, event).await {
                tracing::error!(error = %e, "callback confirmation failed");
            }
        }
        if !busy {
            state.confirm_woken(idle).await;
        }
    }
}

async fn confirm_one(state: &AppState, event: Unconfirmed) -> Result<(), StoreError> {
    let resource = event.resource_id.clone().unwrap_or_default();
    let va = state
        .db()
        .write(move |conn| Box::pin(async move { va::get_unscoped(conn, &resource).await }))
        .await?;
    let adapter = state.registry().virtual_accounts(&event.provider);
    let (Some(va), Some(adapter)) = (va, adapter) else {
        return settle(
            state,
            &event.id,
            state::IGNORED,
            "resource or provider no longer configured",
        )
        .await;
    };
    let Ok(amount) = Amount::new(va.amount) else {
        return settle(state, &event.id, state::IGNORED, "stored amount invalid").await;
    };
    let handle = VaHandle::new(
        OurReference(va.id.clone()),
        va.provider_reference.clone().map(ProviderReference),
        va.va_number.clone(),
        amount,
    );
    let started = Instant::now();
    let report = adapter.inquire(&handle).await;
    tracing::debug!(provider = %event.provider, elapsed_ms = started.elapsed().as_millis() as u64, "confirmation inquiry");
    match report {
        Ok(report) => apply_report(state, event, va, report).await,
        Err(e) => {
            let backoff = 5_000i64
                .saturating_mul(1 << event.attempts.clamp(0, 10))
                .min(3_600_000);
            let (id, detail) = (
                event.id.clone(),
                format!("status inquiry failed: {}", e.kind.as_str()),
            );
            state
                .db()
                .write(move |conn| {
                    Box::pin(async move {
                        provider_events::retry_later(conn, &id, now_ms() + backoff, &detail).await
                    })
                })
                .await
        }
    }
}

async fn apply_report(
    state: &AppState,
    event: Unconfirmed,
    va: VaRow,
    report: VaStatusReport,
) -> Result<(), StoreError> {
    // Only what the provider itself reports counts: paid in full, or (partial payments) a
    // cumulative total above what we have.
    let reported = report.paid_amount.map(Amount::rupiah);
    let total = match (report.state, reported) {
        (ProviderVaState::Paid, paid) => paid.unwrap_or(va.amount),
        (_, Some(paid)) if paid > va.paid_amount => paid,
        _ => {
            let detail = format!(
                "provider status {} does not confirm the payment; callback not applied",
                report.provider_status
            );
            return settle(state, &event.id, state::IGNORED, &detail).await;
        }
    };
    let paid_at = report.paid_at.map(to_ms).unwrap_or_else(now_ms);
    let id = event.id.clone();
    let enqueued = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                let now = now_ms();
                let fresh = va::get_unscoped(conn, &va.id).await?.unwrap_or(va);
                let (settled, detail, enqueued) = apply_payment(
                    conn,
                    &fresh,
                    PaidTotal::Cumulative(total),
                    None,
                    paid_at,
                    now,
                )
                .await?;
                provider_events::settle(conn, &id, settled, detail.as_deref(), now).await?;
                Ok(enqueued)
            })
        })
        .await?;
    if enqueued {
        state.wake_outbox();
    }
    Ok(())
}

async fn settle(
    state: &AppState,
    id: &str,
    new_state: &'static str,
    detail: &str,
) -> Result<(), StoreError> {
    let (id, detail) = (id.to_owned(), detail.to_owned());
    state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                provider_events::settle(conn, &id, new_state, Some(&detail), now_ms()).await
            })
        })
        .await
}
