//! Provider callbacks: verify in the provider's scheme, then one transaction stores the
//! provider event (unique per provider event id: a replay inserts nothing and changes
//! nothing), applies it to the VA or payment and enqueues the product's event; then the
//! provider's own acknowledgement. Nothing is acknowledged before it is durable.
//!
//! A notification may carry a request id the provider never reuses within a day (SNAP
//! `X-EXTERNAL-ID`): it is remembered in the same transaction, and a reuse is answered as
//! a replay (SNAP `409xx00`) with nothing stored.
//!
//! For VAs whose bill the gateway holds (SNAP host-to-host), the bank's inquiry is answered
//! from the VA store, and a payment is accepted only if the VA is open and the amount is
//! what it owes; otherwise it is refused in the provider's format and nothing is stored.
//!
//! Providers whose callbacks cannot be trusted alone (`Trust::ConfirmByInquiry`) have their
//! callback stored as `unconfirmed` and acknowledged; the confirmer then asks the provider
//! for the status, and only the provider's answer changes the VA (for payments, the status
//! poll is brought forward instead).

use std::time::{Duration, Instant};

use contracts::inbound::{
    AckOutcome, BillView, EventKind, Inbound, InboundEvent, InboundRequest, InboundResponse,
    Lookup, Notification, Refusal, ResourceRef, Trust,
};
use contracts::va::{Numbering, ProviderVaState, VaHandle, VaStatusReport};
use contracts::{Amount, OurReference, ProviderReference};
use sqlx::AnyConnection;

use crate::app::AppState;
use crate::metrics;
use crate::service::bills::{self as bill_service, BalanceWatch, reconcile as bill_reconcile};
use crate::service::messages as message_service;
use crate::service::payments::{self as payment_service, Update};
use crate::service::va::event_data;
use crate::store::bills as bill_store;
use crate::store::checks;
use crate::store::esign as esign_store;
use crate::store::messages as message_store;
use crate::store::payments as payment_store;
use crate::store::provider_events::{self, NewProviderEvent, Unconfirmed, state};
use crate::store::va::{self, PaidTotal, VaRow, status};
use crate::store::{StoreError, events, from_ms, nonces, now_ms, to_ms};

/// The nonce namespace of a provider instance's request ids.
pub fn request_id_scope(instance: &str) -> String {
    format!("provider:{instance}")
}

/// What a batch of callbacks did, for waking the workers and answering the provider.
#[derive(Clone, Debug, Default)]
struct Applied {
    enqueued: bool,
    unconfirmed: bool,
    /// The gateway, holding the bill, refuses the payment (nothing was stored).
    refused: Option<Refusal>,
    /// The request id was used before (nothing was stored).
    replayed: bool,
}

/// How the instance's VAs are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Holder {
    Provider,
    Gateway,
}

fn holder(state: &AppState, instance: &str) -> Holder {
    match state
        .registry()
        .virtual_accounts(instance)
        .map(|a| a.numbering())
    {
        Some(Numbering::HostToHost { .. }) => Holder::Gateway,
        _ => Holder::Provider,
    }
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
    let notification = match adapter.verify_and_parse(&request).await {
        Err(e) => {
            count("rejected");
            tracing::warn!(provider = %instance, kind = e.kind.as_str(), reason = %e.message, "callback rejected");
            return Some(adapter.acknowledge(&request, &AckOutcome::Rejected(e)));
        }
        Ok(Inbound::Reply(reply)) => return Some(reply),
        Ok(Inbound::Lookup(lookup)) => {
            let outcome = match answer_lookup(state, instance, lookup, &request).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    count("store_failed");
                    tracing::error!(provider = %instance, error = %e, "bill inquiry failed");
                    AckOutcome::RetryLater
                }
            };
            count("lookup");
            return Some(adapter.acknowledge(&request, &outcome));
        }
        Ok(Inbound::Events(notification)) => notification,
        Ok(_) => return Some(adapter.acknowledge(&request, &AckOutcome::RetryLater)),
    };
    let trust = adapter.trust();
    let holder = holder(state, instance);
    // Only billers report a deposit balance: nothing to prepare for the others.
    let watch = if state.registry().biller(instance).is_some() {
        BalanceWatch::of(state, instance)
    } else {
        BalanceWatch::default()
    };
    let provider = instance.to_owned();
    let now = to_ms(request.received_at);
    let stored = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                store_notification(conn, &provider, notification, trust, holder, &watch, now).await
            })
        })
        .await;
    match stored {
        Ok(applied) => {
            if applied.enqueued {
                state.wake_outbox();
            }
            if applied.unconfirmed {
                state.wake_confirm();
            }
            let outcome = if applied.replayed {
                count("replayed");
                AckOutcome::Replayed
            } else if let Some(refusal) = applied.refused {
                count("refused");
                AckOutcome::Refused(refusal)
            } else {
                count("accepted");
                AckOutcome::Accepted
            };
            Some(adapter.acknowledge(&request, &outcome))
        }
        Err(e) => {
            count("store_failed");
            tracing::error!(provider = %instance, error = %e, "callback not stored; asking the provider to retry");
            Some(adapter.acknowledge(&request, &AckOutcome::RetryLater))
        }
    }
}

/// Answers the bank's question about a bill the gateway holds.
async fn answer_lookup(
    state: &AppState,
    instance: &str,
    lookup: Lookup,
    request: &InboundRequest,
) -> Result<AckOutcome, StoreError> {
    if holder(state, instance) != Holder::Gateway {
        return Ok(AckOutcome::Refused(Refusal::UnknownBill));
    }
    let provider = instance.to_owned();
    let now = to_ms(request.received_at);
    state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                if let Some(id) = &lookup.request_id
                    && !nonces::remember(conn, &request_id_scope(&provider), id, now).await?
                {
                    return Ok(AckOutcome::Replayed);
                }
                let found = held_va(conn, &provider, &lookup.resource).await?;
                let va = match payable(found.as_ref(), now) {
                    Ok(va) => va,
                    Err(refusal) => return Ok(AckOutcome::Refused(refusal)),
                };
                let owed = va.amount - va.paid_amount;
                let Ok(amount) = Amount::new(owed) else {
                    return Ok(AckOutcome::Refused(Refusal::UnknownBill));
                };
                Ok(AckOutcome::Bill(BillView::new(
                    OurReference(va.id.clone()),
                    va.va_number.clone().unwrap_or_default(),
                    amount,
                    va.customer.name.clone(),
                    from_ms(va.expires_at),
                )))
            })
        })
        .await
}

/// The VA a host-to-host request names: by our reference, else by number (numbers the
/// gateway assigns are never reused, so any status matches).
async fn held_va(
    conn: &mut AnyConnection,
    provider: &str,
    resource: &ResourceRef,
) -> Result<Option<VaRow>, StoreError> {
    let (reference, _, number) = resource_keys(resource);
    if let Some(reference) = reference
        && let Some(va) = va::find_for_provider(conn, provider, Some(reference), None, None).await?
    {
        return Ok(Some(va));
    }
    match number {
        Some(number) => va::by_number(conn, provider, number).await,
        None => Ok(None),
    }
}

/// Whether a held VA takes payments now.
fn payable(va: Option<&VaRow>, now: i64) -> Result<&VaRow, Refusal> {
    let Some(va) = va else {
        return Err(Refusal::UnknownBill);
    };
    match va.status.as_str() {
        status::ACTIVE if va.expires_at <= now => Err(Refusal::Expired),
        status::ACTIVE => Ok(va),
        status::PAID => Err(Refusal::AlreadyPaid),
        status::EXPIRED => Err(Refusal::Expired),
        status::CANCELLED => Err(Refusal::Cancelled),
        _ => Err(Refusal::UnknownBill),
    }
}

async fn store_notification(
    conn: &mut AnyConnection,
    provider: &str,
    notification: Notification,
    trust: Trust,
    holder: Holder,
    watch: &BalanceWatch,
    now: i64,
) -> Result<Applied, StoreError> {
    let mut applied = Applied::default();
    if let Some(id) = &notification.request_id
        && !nonces::remember(conn, &request_id_scope(provider), id, now).await?
    {
        applied.replayed = true;
        return Ok(applied);
    }
    for event in notification.events {
        if holder == Holder::Gateway
            && let Some(refusal) = refuse_held_payment(conn, provider, &event, now).await?
        {
            // One refused payment refuses the request; nothing of it is applied.
            applied.refused = Some(refusal);
            return Ok(applied);
        }
        let one = store_one(conn, provider, event, trust, watch, now).await?;
        applied.enqueued |= one.enqueued;
        applied.unconfirmed |= one.unconfirmed;
    }
    Ok(applied)
}

/// For a bill the gateway holds: whether to refuse this payment. A repeat of a payment
/// already stored is accepted again when identical and refused as inconsistent otherwise.
async fn refuse_held_payment(
    conn: &mut AnyConnection,
    provider: &str,
    event: &InboundEvent,
    now: i64,
) -> Result<Option<Refusal>, StoreError> {
    let EventKind::VaPayment { amount, .. } = &event.kind else {
        return Ok(None);
    };
    if let Some(stored) =
        provider_events::amount_of(conn, provider, &event.provider_event_id).await?
    {
        return Ok((stored != Some(amount.rupiah())).then_some(Refusal::Inconsistent));
    }
    // Decide on the row as it is under its lock, so two payments of one bill arriving at
    // once cannot both be accepted (the second waits and then sees it paid).
    let found = match held_va(conn, provider, &event.resource).await? {
        Some(va) => va::lock(conn, &va.id).await?,
        None => None,
    };
    let va = match payable(found.as_ref(), now) {
        Ok(va) => va,
        Err(refusal) => return Ok(Some(refusal)),
    };
    let owed = va.amount - va.paid_amount;
    let fits = match va.payment_rule.as_str() {
        "partial" => amount.rupiah() >= 1 && amount.rupiah() <= owed,
        _ => amount.rupiah() == owed,
    };
    Ok((!fits).then_some(Refusal::AmountMismatch))
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
        ResourceRef::Payment {
            reference,
            provider_reference,
        } => (
            reference.as_ref().map(OurReference::as_str),
            provider_reference.as_ref().map(ProviderReference::as_str),
            None,
        ),
        _ => (None, None, None),
    }
}

async fn store_one(
    conn: &mut AnyConnection,
    provider: &str,
    event: InboundEvent,
    trust: Trust,
    watch: &BalanceWatch,
    now: i64,
) -> Result<Applied, StoreError> {
    if matches!(event.resource, ResourceRef::Payment { .. }) {
        return store_payment_event(conn, provider, event, trust, now).await;
    }
    if matches!(event.resource, ResourceRef::Message { .. }) {
        return store_message_event(conn, provider, event, now).await;
    }
    if matches!(
        event.resource,
        ResourceRef::Signer { .. } | ResourceRef::Document { .. }
    ) {
        return store_esign_event(conn, provider, event, now).await;
    }
    if matches!(event.resource, ResourceRef::BillPayment { .. }) {
        return store_bill_event(conn, provider, event, watch, now).await;
    }
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
            unconfirmed: true,
            ..Applied::default()
        });
    }
    let (settled, detail, enqueued) = apply(conn, &va, &event.kind, now).await?;
    // Stored as `applied` already: only a different outcome needs a second write.
    if settled != state::APPLIED || detail.is_some() {
        provider_events::settle(conn, &event_id, settled, detail.as_deref(), now).await?;
    }
    Ok(Applied {
        enqueued,
        ..Applied::default()
    })
}

/// A provider's delivery status of a message: stored once per provider event, then applied
/// forward only (a late `delivered` after `read` is recorded and changes nothing).
async fn store_message_event(
    conn: &mut AnyConnection,
    provider: &str,
    event: InboundEvent,
    now: i64,
) -> Result<Applied, StoreError> {
    let (
        ResourceRef::Message { provider_reference },
        EventKind::MessageStatus { state, error, .. },
    ) = (&event.resource, &event.kind)
    else {
        return Ok(Applied::default());
    };
    let found =
        message_store::find_for_provider(conn, provider, provider_reference.as_str()).await?;
    let new = NewProviderEvent {
        provider: provider.to_owned(),
        provider_event_id: event.provider_event_id.clone(),
        client_id: found.as_ref().map(|m| m.client_id.clone()),
        resource_id: found.as_ref().map(|m| m.id.clone()),
        kind: "message.status".to_owned(),
        amount: None,
        state: if found.is_some() {
            state::APPLIED
        } else {
            state::UNMATCHED
        }
        .to_owned(),
        detail: None,
        payload: event.payload.to_string(),
        received_at: now,
        next_attempt_at: None,
    };
    let Some(event_id) = provider_events::insert(conn, &new).await? else {
        return Ok(Applied::default()); // a replay: acknowledged, changes nothing
    };
    let Some(message) = found else {
        return Ok(Applied::default());
    };
    let (moved, enqueued) =
        message_service::apply_status(conn, &message, *state, error.as_deref(), now).await?;
    if !moved {
        provider_events::settle(conn, &event_id, state::IGNORED, Some("not forward"), now).await?;
    }
    Ok(Applied {
        enqueued,
        ..Applied::default()
    })
}

/// A biller's webhook about a bill payment or purchase: stored once per provider event,
/// then applied forward only (a late `Pending` after `Sukses` changes nothing). A webhook
/// about a reference the gateway never sent is kept as unmatched, its reference in the
/// detail, for reconciliation (`missing_at_gateway`).
async fn store_bill_event(
    conn: &mut AnyConnection,
    provider: &str,
    event: InboundEvent,
    watch: &BalanceWatch,
    now: i64,
) -> Result<Applied, StoreError> {
    let (ResourceRef::BillPayment { reference, .. }, EventKind::BillUpdate { transaction }) =
        (&event.resource, &event.kind)
    else {
        return Ok(Applied::default());
    };
    let found = bill_store::payment_by_ref(conn, provider, reference.as_str()).await?;
    let new = NewProviderEvent {
        provider: provider.to_owned(),
        provider_event_id: event.provider_event_id.clone(),
        client_id: found.as_ref().map(|p| p.client_id.clone()),
        resource_id: found.as_ref().map(|p| p.id.clone()),
        kind: "bill.update".to_owned(),
        amount: transaction.biller_cost.map(Amount::rupiah),
        state: if found.is_some() {
            state::APPLIED
        } else {
            state::UNMATCHED
        }
        .to_owned(),
        detail: found
            .is_none()
            .then(|| format!("{}{}", bill_reconcile::UNKNOWN_REF, reference.as_str())),
        payload: event.payload.to_string(),
        received_at: now,
        next_attempt_at: None,
    };
    let Some(event_id) = provider_events::insert(conn, &new).await? else {
        return Ok(Applied::default()); // a replay: acknowledged, changes nothing
    };
    let Some(payment) = found else {
        tracing::warn!(
            provider,
            "biller webhook for a reference the gateway never sent, kept as unmatched"
        );
        return Ok(Applied::default());
    };
    let next_check = payment.next_check_at.unwrap_or(now);
    let applied = bill_service::apply(conn, &payment, transaction, next_check, watch, now).await?;
    if applied.row.is_none() {
        provider_events::settle(conn, &event_id, state::IGNORED, Some("no change"), now).await?;
    }
    Ok(Applied {
        enqueued: applied.enqueued,
        ..Applied::default()
    })
}

/// A provider's word that a signer or document changed. E-signature callbacks prove
/// nothing (PrivyID signs none), whatever the instance's trust: the callback is stored once
/// per provider event and brings the resource's status inquiry forward; only the
/// provider's answer to that inquiry changes the record.
async fn store_esign_event(
    conn: &mut AnyConnection,
    provider: &str,
    event: InboundEvent,
    now: i64,
) -> Result<Applied, StoreError> {
    let claimed = match &event.kind {
        EventKind::StatusChanged { provider_status } => provider_status.clone(),
        _ => String::new(),
    };
    let (kind, client_id, resource_id) = match &event.resource {
        ResourceRef::Signer { provider_reference } => {
            let found =
                esign_store::signer_for_provider(conn, provider, provider_reference.as_str())
                    .await?;
            (
                "esign.signer",
                found.as_ref().map(|s| s.client_id.clone()),
                found.map(|s| s.id),
            )
        }
        ResourceRef::Document { provider_reference } => {
            let found =
                esign_store::document_for_provider(conn, provider, provider_reference.as_str())
                    .await?;
            (
                "esign.document",
                found.as_ref().map(|d| d.client_id.clone()),
                found.map(|d| d.id),
            )
        }
        _ => return Ok(Applied::default()),
    };
    let new = NewProviderEvent {
        provider: provider.to_owned(),
        provider_event_id: event.provider_event_id.clone(),
        client_id,
        resource_id: resource_id.clone(),
        kind: kind.to_owned(),
        amount: None,
        state: if resource_id.is_some() {
            state::IGNORED
        } else {
            state::UNMATCHED
        }
        .to_owned(),
        detail: Some(format!("claims {claimed:?}; confirming by status inquiry")),
        payload: event.payload.to_string(),
        received_at: now,
        next_attempt_at: None,
    };
    if provider_events::insert(conn, &new).await?.is_none() {
        return Ok(Applied::default()); // a replay: acknowledged, changes nothing
    }
    match (kind, resource_id) {
        ("esign.signer", Some(id)) => {
            checks::bring_check_forward(conn, checks::Table::Signers, &id, now).await?
        }
        ("esign.document", Some(id)) => {
            checks::bring_check_forward(conn, checks::Table::Documents, &id, now).await?
        }
        _ => tracing::warn!(
            provider,
            kind,
            "e-signature callback for an unknown resource stored as unmatched"
        ),
    }
    Ok(Applied::default())
}

/// A provider's report about a payment: stored once per provider event, then applied
/// (or, for providers that must be confirmed, answered by bringing the status poll forward).
async fn store_payment_event(
    conn: &mut AnyConnection,
    provider: &str,
    event: InboundEvent,
    trust: Trust,
    now: i64,
) -> Result<Applied, StoreError> {
    let (reference, provider_reference, _) = resource_keys(&event.resource);
    let found =
        payment_store::find_for_provider(conn, provider, reference, provider_reference).await?;
    let update = match &event.kind {
        EventKind::PaymentUpdate {
            state,
            amount,
            paid_at,
            ..
        } => Some(Update {
            state: *state,
            amount: amount.map(Amount::rupiah),
            paid_at: paid_at.map(to_ms),
            refunded: None,
        }),
        _ => None,
    };
    let confirm = trust == Trust::ConfirmByInquiry;
    let initial = match (&found, &update, confirm) {
        (None, _, _) => state::UNMATCHED,
        (Some(_), None, _) | (Some(_), Some(_), true) => state::IGNORED,
        (Some(_), Some(_), false) => state::APPLIED,
    };
    let new = NewProviderEvent {
        provider: provider.to_owned(),
        provider_event_id: event.provider_event_id.clone(),
        client_id: found.as_ref().map(|p| p.client_id.clone()),
        resource_id: found.as_ref().map(|p| p.id.clone()),
        kind: "payment.update".to_owned(),
        amount: update.as_ref().and_then(|u| u.amount),
        state: initial.to_owned(),
        detail: confirm.then(|| "confirming by status inquiry".to_owned()),
        payload: event.payload.to_string(),
        received_at: now,
        next_attempt_at: None,
    };
    let Some(event_id) = provider_events::insert(conn, &new).await? else {
        return Ok(Applied::default()); // a replay: acknowledged, changes nothing
    };
    let (Some(payment), Some(update)) = (found, update) else {
        if initial == state::UNMATCHED {
            tracing::warn!(
                provider,
                "callback for an unknown payment stored as unmatched"
            );
        }
        return Ok(Applied::default());
    };
    if confirm {
        payment_store::schedule_check(conn, &payment.id, Some(now)).await?;
        return Ok(Applied::default());
    }
    let applied = payment_service::apply_update(conn, &payment, &update, now).await?;
    if !applied.enqueued {
        let detail = applied.detail.unwrap_or_else(|| "no change".to_owned());
        provider_events::settle(conn, &event_id, state::IGNORED, Some(&detail), now).await?;
    } else if applied.settled {
        payment_store::schedule_check(conn, &payment.id, None).await?;
    }
    Ok(Applied {
        enqueued: applied.enqueued,
        ..Applied::default()
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
