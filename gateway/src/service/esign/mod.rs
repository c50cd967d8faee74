//! E-signature: signers registered (identity verification) at the provider and documents
//! they sign.
//!
//! **Trust.** PrivyID signs none of its callbacks, so a callback only brings the status
//! inquiry of its signer or document forward (`service::callbacks`); what the provider
//! answers to the inquiry is the only thing that changes a record. The scheduler also
//! polls every signer and document still pending (`esign.poll_secs`, doubling up to
//! `esign.poll_max_secs`), so products get their events when callbacks never come.
//!
//! **Never sent twice.** Registration and upload carry personal data and create something
//! at the provider, which cannot be looked up by our reference: an ambiguous answer leaves
//! the signer or document `unknown` and flagged for operators, never resent.
//!
//! **Personal data.** NIK, name, birth date, e-mail and phone are validated, sealed with
//! the data key (`crate::vault`, bound to the row) and returned, masked, to the owning
//! client only; the NIK is looked up by a keyed fingerprint. Images and PDFs are forwarded
//! to the provider and never stored. Event payloads carry ids, statuses and the provider's
//! reasons only.

pub mod documents;
pub mod signers;
pub mod validate;

use axum::http::StatusCode;
use contracts::ESignature;
use std::sync::Arc;

use crate::app::AppState;
use crate::http::ApiError;

/// The client's e-signature instance (the first of `routes.esign` that offers it), or
/// 403 `esign_not_enabled`.
pub(crate) fn instance_of(
    state: &AppState,
    client_id: &str,
) -> Result<(String, Arc<dyn ESignature>), ApiError> {
    state
        .client(client_id)
        .map(|c| c.config.routes.esign.clone())
        .unwrap_or_default()
        .into_iter()
        .find_map(|name| state.registry().esign(&name).map(|a| (name, a)))
        .ok_or_else(not_enabled)
}

/// Whether the client may use e-signature at all (403 otherwise, before anything else).
pub(crate) fn ensure_enabled(state: &AppState, client_id: &str) -> Result<(), ApiError> {
    instance_of(state, client_id).map(|_| ())
}

fn not_enabled() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "esign_not_enabled",
        "E-signature not enabled",
        "this client has no e-signature provider configured",
    )
}

/// Delay before the next status inquiry after `checks` unanswered ones.
pub(crate) fn poll_delay_ms(state: &AppState, checks: i64) -> i64 {
    let s = &state.settings().esign;
    let first = s.poll_secs.max(0.05);
    let delay = first * 2f64.powi(checks.clamp(0, 30) as i32);
    (delay.min(s.poll_max_secs.max(first)) * 1000.0) as i64
}

/// Signers and documents due for a status inquiry (scheduler): each asked once per tick.
/// Returns how many were asked.
pub async fn check_due(state: &AppState) -> Result<usize, crate::store::StoreError> {
    use crate::store::checks::{Table, due};
    let now = crate::store::now_ms();
    let mut asked = 0;
    for table in [Table::Signers, Table::Documents] {
        for id in due(state.db(), table, now, 50).await? {
            match table {
                Table::Signers => signers::check(state, &id).await?,
                Table::Documents => documents::check(state, &id).await?,
                Table::BillPayments => crate::service::bills::check(state, &id).await?,
            };
            asked += 1;
        }
    }
    Ok(asked)
}

/// Erases the sealed identity of signers decided more than the retention ago (scheduler).
pub async fn erase_expired_identities(state: &AppState) -> Result<u64, crate::store::StoreError> {
    let days = state.settings().esign.identity_retention_days;
    let before = crate::store::now_ms() - days.saturating_mul(86_400_000);
    state
        .db()
        .write(move |conn| {
            Box::pin(async move { crate::store::esign::erase_identities(conn, before).await })
        })
        .await
}
