//! Signers: registration (sent once), the provider's verdict found by status inquiry
//! (polled, and brought forward by callbacks), re-registration after an `invalid`
//! verdict, and the events products receive.
//!
//! Stored statuses: `creating` → `pending` → `verified` | `invalid` | `rejected`, with
//! `invalid` → `pending` again after a resubmission, and `creating` → `unknown` when the
//! registration's outcome is not known. Products see `pending_verification` for the first
//! three of these. `verified` and `rejected` are final: a later report that contradicts
//! them is flagged for operators and not applied.

use std::time::Instant;

use axum::http::StatusCode;
use contracts::esign::{
    RegisterSigner, Resubmission, Resubmit, SignerState, SignerStatus, SupportingDocument, Verdict,
};
use contracts::{ErrorKind, OurReference, ProviderReference};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::AnyConnection;
use time::Date;

use super::validate::{self, mask_nik, mask_phone};
use super::{instance_of, poll_delay_ms};
use crate::app::AppState;
use crate::http::ApiError;
use crate::service::fields::{self, field, rfc3339};
use crate::service::va::provider_error;
use crate::store::calls::{self, Call};
use crate::store::checks::{self, Table};
use crate::store::esign::{self as store, SignerChange, SignerRow, signer_status as status};
use crate::store::{Flagged, StoreError, add_flag, events, new_id, now_ms};
use crate::vault::Vault;

/// A signer to register. Personal data: `Debug` shows the reference only.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSigner {
    /// The product's reference, unique per product.
    pub reference: String,
    /// The 16-digit NIK from the KTP.
    pub nik: String,
    /// Full name as on the KTP.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Indonesian mobile number, `+628…`.
    pub phone: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub birth_date: String,
    /// A face close-up, base64 JPEG or PNG.
    pub selfie: String,
    /// The KTP photo, base64 JPEG or PNG.
    pub ktp_image: String,
}

impl std::fmt::Debug for NewSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSigner")
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

/// The identity as sealed at rest.
#[derive(Serialize, Deserialize)]
struct Identity {
    nik: String,
    name: String,
    email: String,
    phone: String,
    birth_date: String,
}

/// The identity as the owning client reads it back: NIK and phone masked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IdentityView {
    /// `3171**********01`.
    pub nik: String,
    /// Full name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// `+62812****7890`.
    pub phone: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
}

/// Something the provider wants sent again.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ResubmitView {
    /// `ktp_image`, `selfie` or `supporting_document`.
    pub item: &'static str,
    /// For a supporting document: the categories the provider accepts (`KK`, `SIM`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

/// A signer as products see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Signer {
    /// `sgn_…`.
    pub id: String,
    /// The product's reference.
    pub reference: String,
    /// `pending_verification`, `invalid` (send again what `resubmit` lists), `verified`
    /// or `rejected` (final).
    pub status: String,
    /// The provider's reasons, joined, when invalid or rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The provider's reasons, one by one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The provider's code for the verdict (PrivyID `PRVS003`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// What to send again (`POST /v1/esign/signers/{id}/resubmissions`) while invalid.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resubmit: Vec<ResubmitView>,
    /// The provider instance.
    pub provider: String,
    /// The identity registered, masked; absent once erased after the retention period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityView>,
    /// Integrity flags for operators (`registration_outcome_unknown`, …).
    pub flags: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// When it was verified or rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
}

/// What products see of a stored status.
pub fn product_status(stored: &str) -> &'static str {
    match stored {
        status::VERIFIED => "verified",
        status::REJECTED => "rejected",
        status::INVALID => "invalid",
        _ => "pending_verification",
    }
}

fn verdict_of(row: &SignerRow) -> Option<Verdict> {
    row.verdict
        .as_deref()
        .and_then(|v| serde_json::from_str(v).ok())
}

fn resubmit_views(verdict: &Verdict) -> Vec<ResubmitView> {
    verdict
        .resubmit
        .iter()
        .filter_map(|r| match r {
            Resubmit::KtpImage => Some(ResubmitView {
                item: "ktp_image",
                categories: Vec::new(),
            }),
            Resubmit::Selfie => Some(ResubmitView {
                item: "selfie",
                categories: Vec::new(),
            }),
            Resubmit::SupportingDocument { categories } => Some(ResubmitView {
                item: "supporting_document",
                categories: categories.clone(),
            }),
            _ => None,
        })
        .collect()
}

impl Signer {
    /// The view of `row`, its identity opened with `vault` (absent when erased or when it
    /// cannot be opened, which is logged without content).
    pub fn view(row: &SignerRow, vault: &Vault) -> Signer {
        let identity = row.identity.as_deref().and_then(|sealed| {
            let opened = vault
                .open(sealed, &row.id)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Identity>(&bytes).ok());
            if opened.is_none() {
                tracing::error!(signer = %row.id, "stored identity does not open with the configured data keys");
            }
            opened.map(|i| IdentityView {
                nik: mask_nik(&i.nik),
                name: i.name,
                email: i.email,
                phone: mask_phone(&i.phone),
                birth_date: i.birth_date,
            })
        });
        let verdict = verdict_of(row).unwrap_or_default();
        let show_verdict = matches!(row.status.as_str(), status::INVALID | status::REJECTED);
        Signer {
            id: row.id.clone(),
            reference: row.reference.clone(),
            status: product_status(&row.status).to_owned(),
            reason: (show_verdict && !verdict.reasons.is_empty())
                .then(|| verdict.reasons.join("; ")),
            reasons: if show_verdict {
                verdict.reasons.clone()
            } else {
                Vec::new()
            },
            reason_code: if show_verdict {
                verdict.code.clone()
            } else {
                None
            },
            resubmit: if row.status == status::INVALID {
                resubmit_views(&verdict)
            } else {
                Vec::new()
            },
            provider: row.provider.clone(),
            identity,
            flags: row.flags.clone(),
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
            decided_at: row.decided_at.map(rfc3339),
        }
    }
}

/// The event payload of a signer: ids, status and the provider's verdict; no personal data.
pub fn event_data(row: &SignerRow) -> Value {
    let verdict = verdict_of(row).unwrap_or_default();
    let resubmit = if row.status == status::INVALID {
        resubmit_views(&verdict)
    } else {
        Vec::new()
    };
    json!({
        "id": row.id,
        "reference": row.reference,
        "status": product_status(&row.status),
        "provider": row.provider,
        "reason_code": verdict.code,
        "reasons": verdict.reasons,
        "resubmit": resubmit,
    })
}

/// A validated registration.
pub struct Validated {
    reference: String,
    identity: Identity,
    birth_date: Date,
    selfie: bytes::Bytes,
    ktp_image: bytes::Bytes,
}

impl std::fmt::Debug for Validated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validated")
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

/// Checks every field and lists every problem at once; nothing reaches a provider before.
pub fn validate(state: &AppState, req: NewSigner) -> Result<Validated, ApiError> {
    let max = state.settings().esign.max_image_bytes;
    let mut errors = Vec::new();
    fields::reference(&req.reference, &mut errors);
    let birth_date = validate::birth_date(&req.birth_date, &mut errors);
    validate::nik(&req.nik, birth_date, &mut errors);
    validate::name(&req.name, &mut errors);
    validate::email(&req.email, &mut errors);
    let phone = validate::phone(&req.phone, &mut errors);
    let selfie = validate::image("selfie", &req.selfie, max, &mut errors);
    let ktp_image = validate::image("ktp_image", &req.ktp_image, max, &mut errors);
    match (birth_date, selfie, ktp_image) {
        (Some(birth_date), Some(selfie), Some(ktp_image)) if errors.is_empty() => Ok(Validated {
            reference: req.reference,
            identity: Identity {
                nik: req.nik,
                name: req.name.trim().to_owned(),
                email: req.email,
                phone,
                birth_date: req.birth_date,
            },
            birth_date,
            selfie,
            ktp_image,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

fn reference_exists(id: String) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "reference_exists",
        "Reference exists",
        "a signer with this reference already exists",
    )
    .with_extra(json!({ "id": id }))
}

/// Registers a signer: stored `creating` with its sealed identity (the recovery point),
/// then sent to the client's e-signature provider once.
pub async fn register(
    state: &AppState,
    client_id: &str,
    req: Validated,
) -> Result<SignerRow, ApiError> {
    let (instance, adapter) = instance_of(state, client_id)?;
    let vault = state.vault();
    let id = new_id("sgn");
    let identity = serde_json::to_vec(&req.identity).map_err(|e| ApiError::internal(&e))?;
    let sealed = vault
        .seal(&identity, &id)
        .map_err(|e| ApiError::internal(&e))?;
    let fingerprint = vault
        .fingerprint("nik", &req.identity.nik)
        .map_err(|e| ApiError::internal(&e))?;
    let now = now_ms();
    let row = SignerRow {
        id: id.clone(),
        client_id: client_id.to_owned(),
        reference: req.reference.clone(),
        provider: instance.clone(),
        status: status::CREATING.to_owned(),
        provider_reference: None,
        provider_signer_id: None,
        provider_status: None,
        verdict: None,
        identity: Some(sealed),
        nik_fingerprint: fingerprint.clone(),
        flags: Vec::new(),
        version: 1,
        created_at: now,
        updated_at: now,
        decided_at: None,
        next_check_at: None,
        checks: 0,
    };
    let insert = row.clone();
    let conflict = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                if let Some(existing) = store::id_by_reference(
                    conn,
                    Table::Signers,
                    &insert.client_id,
                    &insert.reference,
                )
                .await?
                {
                    return Ok(Some(reference_exists(existing)));
                }
                if let Some(existing) = same_person(conn, &insert).await? {
                    return Ok(Some(signer_exists(existing)));
                }
                if store::insert_signer(conn, &insert).await? {
                    Ok(None)
                } else {
                    let existing = store::id_by_reference(
                        conn,
                        Table::Signers,
                        &insert.client_id,
                        &insert.reference,
                    )
                    .await?
                    .unwrap_or_default();
                    Ok(Some(reference_exists(existing)))
                }
            })
        })
        .await?;
    if let Some(conflict) = conflict {
        return Err(conflict);
    }
    let request = RegisterSigner::new(
        OurReference(id.clone()),
        req.identity.nik,
        req.identity.name,
        req.identity.email,
        req.identity.phone,
        req.birth_date,
        req.selfie,
        req.ktp_image,
    );
    let started = Instant::now();
    let result = adapter.register_signer(&request).await;
    drop(request);
    let call = Call::finished(
        Some(client_id),
        &instance,
        "esign.register",
        started,
        &result,
    )
    .for_resource(&id);
    match result {
        Ok(report) => started_registration(state, &id, report, call).await,
        Err(e) if e.kind.is_ambiguous() => Err(unknown_registration(state, &id, call).await),
        Err(e) => {
            forget(state, &id, call).await;
            Err(provider_error(e))
        }
    }
}

/// A signer of the same client with the same NIK that is not rejected.
async fn same_person(
    conn: &mut AnyConnection,
    new: &SignerRow,
) -> Result<Option<String>, StoreError> {
    let id = sqlx::query_scalar(
        "SELECT id FROM esign_signers WHERE client_id = $1 AND nik_fingerprint = $2 AND status <> 'rejected' LIMIT 1",
    )
    .bind(&new.client_id)
    .bind(&new.nik_fingerprint)
    .fetch_optional(conn)
    .await?;
    Ok(id)
}

fn signer_exists(id: String) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "signer_exists",
        "Signer exists",
        "a signer with this NIK is already registered or being verified for this client",
    )
    .with_extra(json!({ "id": id }))
}

async fn started_registration(
    state: &AppState,
    id: &str,
    report: SignerStatus,
    call: Call,
) -> Result<SignerRow, ApiError> {
    let next = now_ms() + poll_delay_ms(state, 0);
    let delays = Delays::of(state);
    let id = id.to_owned();
    let (row, enqueued) = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, std::slice::from_ref(&call)).await?;
                let now = now_ms();
                let Some(row) = store::signer_started(
                    conn,
                    &id,
                    report.provider_reference.as_str(),
                    &report.provider_status,
                    next,
                    now,
                )
                .await?
                else {
                    return Ok((store::get_signer_unscoped(conn, &id).await?, false));
                };
                // The registration's own answer is the provider speaking directly: apply
                // a verdict it already carries.
                if report.state == SignerState::Pending {
                    return Ok((Some(row), false));
                }
                let (applied, enqueued) = apply_report(conn, &row, &report, &delays, now).await?;
                Ok((applied.or(Some(row)), enqueued))
            })
        })
        .await?;
    if enqueued {
        state.wake_outbox();
    }
    row.ok_or_else(|| ApiError::internal(&"registered signer vanished"))
}

async fn unknown_registration(state: &AppState, id: &str, call: Call) -> ApiError {
    let id_owned = id.to_owned();
    let stored = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, std::slice::from_ref(&call)).await?;
                store::signer_unknown(conn, &id_owned, now_ms()).await
            })
        })
        .await;
    if let Err(e) = stored {
        return ApiError::storage(&e);
    }
    tracing::warn!(signer = %id, "registration outcome unknown; flagged for operators, never resent");
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "provider_timeout",
        "Provider timeout",
        "the provider did not answer in time; the registration may exist there and is not sent again; operators resolve it",
    )
    .with_extra(json!({ "id": id, "resource_status": "pending_verification" }))
}

async fn forget(state: &AppState, id: &str, call: Call) {
    let id = id.to_owned();
    let _ = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, std::slice::from_ref(&call)).await?;
                store::delete_unstarted_signer(conn, &id).await
            })
        })
        .await;
}

/// Reads one signer of the client (404 for another client's).
pub async fn get(state: &AppState, client_id: &str, id: &str) -> Result<SignerRow, ApiError> {
    store::get_signer(state.db(), client_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("signer"))
}

/// The provider status stored when a resubmission was sent.
const RESUBMITTED: &str = "resubmitted";

/// How long after a resubmission a report repeating the verdict it answered is taken as
/// the provider not having caught up yet.
const RESUBMISSION_SETTLING_MS: i64 = 15 * 60 * 1000;

/// Scheduling delays, read from the settings before entering a transaction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Delays {
    first_ms: i64,
    max_ms: i64,
}

impl Delays {
    pub(crate) fn of(state: &AppState) -> Delays {
        Delays {
            first_ms: poll_delay_ms(state, 0),
            max_ms: (state.settings().esign.poll_max_secs * 1000.0) as i64,
        }
    }
}

fn stored_status(state: &SignerState) -> Option<&'static str> {
    match state {
        SignerState::Pending => Some(status::PENDING),
        SignerState::Verified => Some(status::VERIFIED),
        SignerState::Invalid(_) => Some(status::INVALID),
        SignerState::Rejected(_) => Some(status::REJECTED),
        _ => None,
    }
}

/// Applies the provider's answer about a signer inside the caller's transaction.
/// Returns the changed row (`None`: nothing changed) and whether an event was enqueued.
pub(crate) async fn apply_report(
    conn: &mut AnyConnection,
    row: &SignerRow,
    report: &SignerStatus,
    delays: &Delays,
    now: i64,
) -> Result<(Option<SignerRow>, bool), StoreError> {
    let Some(target) = stored_status(&report.state) else {
        return Ok((None, false));
    };
    let verdict = match &report.state {
        SignerState::Invalid(v) | SignerState::Rejected(v) => {
            Some(serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))?)
        }
        _ => None,
    };
    let final_now = matches!(row.status.as_str(), status::VERIFIED | status::REJECTED);
    if final_now {
        if target != row.status {
            add_flag(
                conn,
                Flagged::Signer,
                &row.id,
                &row.flags,
                "provider_status_contradicts_final",
                now,
            )
            .await?;
            tracing::warn!(signer = %row.id, stored = %row.status, reported = target, "provider contradicts a final signer status; not applied");
        }
        return Ok((None, false));
    }
    if target == row.status && verdict == row.verdict {
        return Ok((None, false));
    }
    if target == status::INVALID
        && row.status == status::PENDING
        && row.provider_status.as_deref() == Some(RESUBMITTED)
        && verdict == row.verdict
        && now - row.updated_at < RESUBMISSION_SETTLING_MS
    {
        // The verdict the person just answered: the provider has not looked at the new
        // data yet. Asked again later; a repeat of this verdict after the settling time
        // counts (the new data was no better).
        return Ok((None, false));
    }
    if target == status::VERIFIED && report.signer_id.is_none() {
        // Documents could not name this signer: not applied until the provider says who.
        add_flag(
            conn,
            Flagged::Signer,
            &row.id,
            &row.flags,
            "verified_without_signer_id",
            now,
        )
        .await?;
        return Ok((None, false));
    }
    let decided = matches!(target, status::VERIFIED | status::REJECTED);
    let next_check_at = match target {
        status::PENDING => Some(now + delays.first_ms),
        // Waiting for the person to send something again: ask now and then.
        status::INVALID => Some(now + delays.max_ms),
        _ => None,
    };
    let change = SignerChange {
        status: target,
        provider_signer_id: report.signer_id.as_deref(),
        provider_status: &report.provider_status,
        verdict,
        decided_at: decided.then_some(now),
        next_check_at,
    };
    let Some(changed) = store::change_signer(conn, &row.id, row.version, &change, now).await?
    else {
        return Ok((None, false));
    };
    let event = match target {
        status::VERIFIED => Some("esign.signer.verified"),
        status::REJECTED => Some("esign.signer.rejected"),
        status::INVALID => Some("esign.signer.invalid"),
        _ => None,
    };
    if let Some(event) = event {
        events::enqueue(
            conn,
            &changed.client_id,
            event,
            &changed.id,
            event_data(&changed),
            now,
        )
        .await?;
    }
    Ok((Some(changed), event.is_some()))
}

/// Asks the provider about one signer (scheduler) and applies the answer. Returns whether
/// an event was enqueued.
pub async fn check(state: &AppState, id: &str) -> Result<bool, StoreError> {
    let id_owned = id.to_owned();
    let row = state
        .db()
        .write(move |conn| {
            Box::pin(async move { store::get_signer_unscoped(conn, &id_owned).await })
        })
        .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let askable = matches!(row.status.as_str(), status::PENDING | status::INVALID);
    let adapter = state.registry().esign(&row.provider);
    let (Some(token), Some(adapter), true) = (row.provider_reference.clone(), adapter, askable)
    else {
        let id = row.id.clone();
        state
            .db()
            .write(move |conn| {
                Box::pin(
                    async move { checks::schedule_check(conn, Table::Signers, &id, None).await },
                )
            })
            .await?;
        return Ok(false);
    };
    let started = Instant::now();
    let result = adapter.signer_status(&ProviderReference(token)).await;
    let call = Call::finished(
        Some(&row.client_id),
        &row.provider,
        "esign.signer_status",
        started,
        &result,
    )
    .for_resource(&row.id);
    let delays = Delays::of(state);
    let retry_at = now_ms() + poll_delay_ms(state, row.checks + 1);
    let enqueued = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, std::slice::from_ref(&call)).await?;
                let now = now_ms();
                let Some(fresh) = store::get_signer_unscoped(conn, &row.id).await? else {
                    return Ok(false);
                };
                match result {
                    Ok(report) => {
                        let (changed, enqueued) =
                            apply_report(conn, &fresh, &report, &delays, now).await?;
                        if changed.is_none()
                            && matches!(fresh.status.as_str(), status::PENDING | status::INVALID)
                        {
                            let next = if fresh.status == status::INVALID {
                                now + delays.max_ms
                            } else {
                                retry_at
                            };
                            checks::schedule_check(conn, Table::Signers, &fresh.id, Some(next))
                                .await?;
                        }
                        Ok(enqueued)
                    }
                    Err(e) => {
                        if e.kind == ErrorKind::NotFound {
                            add_flag(
                                conn,
                                Flagged::Signer,
                                &fresh.id,
                                &fresh.flags,
                                "provider_does_not_know_signer",
                                now,
                            )
                            .await?;
                        }
                        checks::schedule_check(conn, Table::Signers, &fresh.id, Some(retry_at))
                            .await?;
                        Ok(false)
                    }
                }
            })
        })
        .await?;
    if enqueued {
        state.wake_outbox();
    }
    Ok(enqueued)
}

/// A supporting document sent again.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupportingDocumentInput {
    /// Its category, as the provider's verdict names it (`KK`, `SIM`, …).
    pub category: String,
    /// Base64 JPEG or PNG.
    pub image: String,
}

/// What an invalid signer sends again. Images are personal data: `Debug` shows which.
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewResubmission {
    /// A new KTP photo, base64 JPEG or PNG.
    #[serde(default)]
    pub ktp_image: Option<String>,
    /// A new selfie, base64 JPEG or PNG.
    #[serde(default)]
    pub selfie: Option<String>,
    /// Supporting documents.
    #[serde(default)]
    pub supporting_documents: Vec<SupportingDocumentInput>,
}

impl std::fmt::Debug for NewResubmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewResubmission")
            .field("ktp_image", &self.ktp_image.is_some())
            .field("selfie", &self.selfie.is_some())
            .field("supporting_documents", &self.supporting_documents.len())
            .finish()
    }
}

/// Sends again what an `invalid` verdict asked for; the signer is pending verification
/// again. An ambiguous answer also leaves it pending: the next status inquiry tells.
pub async fn resubmit(
    state: &AppState,
    client_id: &str,
    id: &str,
    req: NewResubmission,
) -> Result<SignerRow, ApiError> {
    let row = get(state, client_id, id).await?;
    let max = state.settings().esign.max_image_bytes;
    let mut errors = Vec::new();
    let ktp = req
        .ktp_image
        .as_deref()
        .and_then(|t| validate::image("ktp_image", t, max, &mut errors));
    let selfie = req
        .selfie
        .as_deref()
        .and_then(|t| validate::image("selfie", t, max, &mut errors));
    let mut supporting = Vec::new();
    if req.supporting_documents.len() > 5 {
        errors.push(field("supporting_documents", "at most 5"));
    }
    for (i, doc) in req.supporting_documents.iter().enumerate() {
        let category_ok = (1..=32).contains(&doc.category.len())
            && doc
                .category
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !category_ok {
            errors.push(field(
                &format!("supporting_documents[{i}].category"),
                "must be 1 to 32 letters, digits, - or _",
            ));
        }
        if let Some(image) = validate::image(
            &format!("supporting_documents[{i}].image"),
            &doc.image,
            max,
            &mut errors,
        ) {
            supporting.push(SupportingDocument::new(doc.category.clone(), image));
        }
    }
    if errors.is_empty() && ktp.is_none() && selfie.is_none() && supporting.is_empty() {
        errors.push(field(
            "ktp_image",
            "send at least one of ktp_image, selfie, supporting_documents",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if row.status != status::INVALID {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "signer_not_invalid",
            "Nothing to resubmit",
            "only a signer the provider found invalid can send data again",
        )
        .with_extra(json!({ "resource_status": product_status(&row.status) })));
    }
    let (Some(token), Some(adapter)) = (
        row.provider_reference.clone(),
        state.registry().esign(&row.provider),
    ) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "provider_not_configured",
            "Provider not configured",
            "the signer's provider instance is no longer configured",
        ));
    };
    let request = Resubmission::new(ProviderReference(token), ktp, selfie, supporting);
    let started = Instant::now();
    let result = adapter.resubmit_signer(&request).await;
    drop(request);
    let call = Call::finished(
        Some(client_id),
        &row.provider,
        "esign.resubmit",
        started,
        &result,
    )
    .for_resource(&row.id);
    let ambiguous = matches!(&result, Err(e) if e.kind.is_ambiguous());
    if let Err(e) = result
        && !ambiguous
    {
        record(state, call).await;
        return Err(provider_error(e));
    }
    let next = now_ms() + poll_delay_ms(state, 0);
    let (id, version, answered) = (row.id.clone(), row.version, row.verdict.clone());
    let changed = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, std::slice::from_ref(&call)).await?;
                // The verdict answered is kept (not shown while pending) so a stale
                // report of it is recognised.
                let change = SignerChange {
                    status: status::PENDING,
                    provider_signer_id: None,
                    provider_status: RESUBMITTED,
                    verdict: answered,
                    decided_at: None,
                    next_check_at: Some(next),
                };
                match store::change_signer(conn, &id, version, &change, now_ms()).await? {
                    Some(row) => Ok(row),
                    None => store::get_signer_unscoped(conn, &id)
                        .await?
                        .ok_or_else(|| StoreError::Corrupt("signer vanished".into())),
                }
            })
        })
        .await?;
    if ambiguous {
        return Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "provider_timeout",
            "Provider timeout",
            "the provider did not answer in time; the signer is pending and the next status inquiry tells whether the data arrived",
        )
        .with_extra(json!({ "id": changed.id, "resource_status": "pending_verification" })));
    }
    Ok(changed)
}

async fn record(state: &AppState, call: Call) {
    let _ = state
        .db()
        .write(move |conn| {
            Box::pin(async move { calls::record(conn, std::slice::from_ref(&call)).await })
        })
        .await;
}
