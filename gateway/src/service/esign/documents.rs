//! Documents: uploaded once with their verified signers and signature placements, then
//! followed by status inquiry (polled, brought forward by callbacks) until signed by every
//! signer, rejected or expired. The PDF is forwarded and never stored.

use std::collections::HashSet;
use std::time::Instant;

use axum::http::StatusCode;
use contracts::esign::{
    DocumentState, DocumentStatus, SignaturePlacement, SigningState, UploadDocument,
};
use contracts::{OurReference, ProviderReference};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::AnyConnection;

use super::validate;
use super::{instance_of, poll_delay_ms};
use crate::app::AppState;
use crate::http::{ApiError, FieldError};
use crate::service::fields::{self, field, rfc3339};
use crate::service::va::provider_error;
use crate::store::calls::{self, Call};
use crate::store::checks::{self, Table};
use crate::store::esign::{
    self as store, DocumentChange, DocumentRow, DocumentSignerRow, document_status as status,
    signer_status,
};
use crate::store::{StoreError, events, new_id, now_ms};

/// Where one signer signs.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlacementInput {
    /// A verified signer of this client (`sgn_…`).
    pub signer_id: String,
    /// 1-based page.
    pub page: i64,
    /// Horizontal position of the signature, in PDF points from the left.
    pub x: i64,
    /// Vertical position of the signature, in PDF points from the top.
    pub y: i64,
}

/// A document to have signed. `Debug` leaves out the PDF.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    /// The product's reference, unique per product.
    pub reference: String,
    /// The title signers see.
    pub title: String,
    /// The PDF, base64.
    pub pdf: String,
    /// Who signs where, in signing order.
    pub signers: Vec<PlacementInput>,
    /// Signers sign one after another in the order given (default: in any order).
    #[serde(default)]
    pub in_order: bool,
}

impl std::fmt::Debug for NewDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewDocument")
            .field("reference", &self.reference)
            .field("signers", &self.signers)
            .finish_non_exhaustive()
    }
}

/// One signer of a document as products see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DocumentSignerView {
    /// `sgn_…`.
    pub signer_id: String,
    /// `pending`, `signed` or `rejected`.
    pub status: String,
    /// This signer's own signing link, when the provider gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_url: Option<String>,
    /// 1-based page.
    pub page: i64,
    /// Horizontal position.
    pub x: i64,
    /// Vertical position.
    pub y: i64,
}

/// A document as products see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Document {
    /// `doc_…`.
    pub id: String,
    /// The product's reference.
    pub reference: String,
    /// The title.
    pub title: String,
    /// `pending`, `signed`, `rejected` or `expired`.
    pub status: String,
    /// Where signers sign.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_url: Option<String>,
    /// Where the signed document can be fetched, once signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
    /// Why it was rejected, when the provider says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Signers sign in the order listed.
    pub in_order: bool,
    /// Each signer's progress.
    pub signers: Vec<DocumentSignerView>,
    /// The provider instance.
    pub provider: String,
    /// Integrity flags for operators (`upload_outcome_unknown`, …).
    pub flags: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// When it was signed, rejected or expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}

fn product_status(stored: &str) -> &'static str {
    match stored {
        status::SIGNED => "signed",
        status::REJECTED => "rejected",
        status::EXPIRED => "expired",
        _ => "pending",
    }
}

impl Document {
    /// The view of a document and its signers.
    pub fn view(row: &DocumentRow, signers: &[DocumentSignerRow]) -> Document {
        Document {
            id: row.id.clone(),
            reference: row.reference.clone(),
            title: row.title.clone(),
            status: product_status(&row.status).to_owned(),
            sign_url: row.sign_url.clone(),
            download_url: row.download_url.clone(),
            reason: row.reason.clone(),
            in_order: row.in_order,
            signers: signers
                .iter()
                .map(|s| DocumentSignerView {
                    signer_id: s.signer_id.clone(),
                    status: s.status.clone(),
                    sign_url: s.sign_url.clone(),
                    page: s.page,
                    x: s.x,
                    y: s.y,
                })
                .collect(),
            provider: row.provider.clone(),
            flags: row.flags.clone(),
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
            completed_at: row.completed_at.map(rfc3339),
        }
    }
}

/// The event payload of a document: ids, statuses and the download link.
pub fn event_data(row: &DocumentRow, signers: &[DocumentSignerRow]) -> Value {
    json!({
        "id": row.id,
        "reference": row.reference,
        "status": product_status(&row.status),
        "download_url": row.download_url,
        "reason": row.reason,
        "signers": signers
            .iter()
            .map(|s| json!({ "signer_id": s.signer_id, "status": s.status }))
            .collect::<Vec<_>>(),
    })
}

/// A validated upload.
pub struct Validated {
    reference: String,
    title: String,
    pdf: bytes::Bytes,
    signers: Vec<PlacementInput>,
    in_order: bool,
}

impl std::fmt::Debug for Validated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validated")
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

/// Checks every field that needs no database and lists every problem at once.
pub fn validate(state: &AppState, req: NewDocument) -> Result<Validated, ApiError> {
    let settings = &state.settings().esign;
    let mut errors = Vec::new();
    fields::reference(&req.reference, &mut errors);
    let title = req.title.trim();
    if title.is_empty() || title.chars().count() > 255 || title.chars().any(char::is_control) {
        errors.push(field("title", "must be 1 to 255 printable characters"));
    }
    let pdf = validate::pdf("pdf", &req.pdf, settings.max_pdf_bytes, &mut errors);
    if req.signers.is_empty() || req.signers.len() > settings.max_signers {
        errors.push(field(
            "signers",
            &format!("must list 1 to {} signers", settings.max_signers),
        ));
    }
    let mut seen = HashSet::new();
    for (i, s) in req.signers.iter().enumerate() {
        if !seen.insert(s.signer_id.as_str()) {
            errors.push(field(
                &format!("signers[{i}].signer_id"),
                "lists the same signer twice",
            ));
        }
        if !(1..=10_000).contains(&s.page) {
            errors.push(field(&format!("signers[{i}].page"), "must be 1 to 10000"));
        }
        if !(0..=100_000).contains(&s.x) || !(0..=100_000).contains(&s.y) {
            errors.push(field(
                &format!("signers[{i}].x"),
                "x and y must be 0 to 100000",
            ));
        }
    }
    match pdf {
        Some(pdf) if errors.is_empty() => Ok(Validated {
            reference: req.reference,
            title: title.to_owned(),
            pdf,
            signers: req.signers,
            in_order: req.in_order,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

fn reference_exists(id: String) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "reference_exists",
        "Reference exists",
        "a document with this reference already exists",
    )
    .with_extra(json!({ "id": id }))
}

/// The signers named, checked inside the transaction: each one this client's and
/// verified, all at one provider instance. Returns the instance and the rows to insert.
async fn resolve_signers(
    conn: &mut AnyConnection,
    client_id: &str,
    document_id: &str,
    placements: &[PlacementInput],
    now: i64,
) -> Result<Result<(String, Vec<DocumentSignerRow>), Vec<FieldError>>, StoreError> {
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut providers = HashSet::new();
    for (i, p) in placements.iter().enumerate() {
        let name = format!("signers[{i}].signer_id");
        let Some(signer) = store::get_signer_in(conn, client_id, &p.signer_id).await? else {
            errors.push(field(&name, "no such signer"));
            continue;
        };
        match (signer.status.as_str(), signer.provider_signer_id.as_deref()) {
            (signer_status::VERIFIED, Some(provider_signer_id)) => {
                providers.insert(signer.provider.clone());
                rows.push(DocumentSignerRow {
                    document_id: document_id.to_owned(),
                    position: i as i64,
                    signer_id: signer.id.clone(),
                    provider_signer_id: provider_signer_id.to_owned(),
                    page: p.page,
                    x: p.x,
                    y: p.y,
                    status: "pending".to_owned(),
                    sign_url: None,
                    updated_at: now,
                });
            }
            _ => errors.push(field(&name, "the signer is not verified")),
        }
    }
    if providers.len() > 1 {
        errors.push(field(
            "signers",
            "the signers were registered at different providers",
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let provider = providers.into_iter().next().unwrap_or_default();
    Ok(Ok((provider, rows)))
}

/// Uploads a document: stored `creating` with its signers (the recovery point), then sent
/// once to the provider its signers were registered at.
pub async fn upload(
    state: &AppState,
    client_id: &str,
    req: Validated,
) -> Result<(DocumentRow, Vec<DocumentSignerRow>), ApiError> {
    instance_of(state, client_id)?;
    let id = new_id("doc");
    let now = now_ms();
    let placements = req.signers;
    let (client, reference, title, in_order) = (
        client_id.to_owned(),
        req.reference.clone(),
        req.title.clone(),
        req.in_order,
    );
    let doc_id = id.clone();
    let outcome = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                if let Some(existing) =
                    store::id_by_reference(conn, Table::Documents, &client, &reference).await?
                {
                    return Ok(Err(reference_exists(existing)));
                }
                let (provider, signers) =
                    match resolve_signers(conn, &client, &doc_id, &placements, now).await? {
                        Ok(found) => found,
                        Err(errors) => return Ok(Err(ApiError::validation(errors))),
                    };
                let row = DocumentRow {
                    id: doc_id.clone(),
                    client_id: client.clone(),
                    reference: reference.clone(),
                    provider,
                    status: status::CREATING.to_owned(),
                    title,
                    in_order,
                    provider_reference: None,
                    provider_status: None,
                    sign_url: None,
                    download_url: None,
                    reason: None,
                    flags: Vec::new(),
                    version: 1,
                    created_at: now,
                    updated_at: now,
                    completed_at: None,
                    next_check_at: None,
                    checks: 0,
                };
                if !store::insert_document(conn, &row, &signers).await? {
                    let existing =
                        store::id_by_reference(conn, Table::Documents, &client, &reference)
                            .await?
                            .unwrap_or_default();
                    return Ok(Err(reference_exists(existing)));
                }
                Ok(Ok((row, signers)))
            })
        })
        .await?;
    let (row, signers) = outcome?;
    let Some(adapter) = state.registry().esign(&row.provider) else {
        forget(state, &id, None).await;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "provider_not_configured",
            "Provider not configured",
            "the signers' provider instance is no longer configured",
        ));
    };
    let request = UploadDocument::new(
        OurReference(id.clone()),
        row.title.clone(),
        req.pdf,
        signers
            .iter()
            .map(|s| {
                SignaturePlacement::new(
                    s.provider_signer_id.clone(),
                    s.page as u32,
                    s.x as u32,
                    s.y as u32,
                )
            })
            .collect(),
    )
    .in_order(row.in_order);
    let started = Instant::now();
    let result = adapter.upload_document(&request).await;
    drop(request);
    let call = Call::finished(
        Some(client_id),
        &row.provider,
        "esign.upload",
        started,
        &result,
    )
    .for_resource(&id);
    match result {
        Ok(report) => {
            let next = now_ms() + poll_delay_ms(state, 0);
            let id = id.clone();
            let stored = state
                .db()
                .write(move |conn| {
                    Box::pin(async move {
                        calls::record(conn, std::slice::from_ref(&call)).await?;
                        let now = now_ms();
                        let row = store::document_started(
                            conn,
                            &id,
                            report.provider_reference.as_str(),
                            &report.provider_status,
                            report.sign_url.as_deref(),
                            next,
                            now,
                        )
                        .await?;
                        let signers = store::document_signers(conn, &id).await?;
                        record_signers(conn, &id, &signers, &report, now).await?;
                        let signers = store::document_signers(conn, &id).await?;
                        Ok(row.map(|row| (row, signers)))
                    })
                })
                .await?;
            stored.ok_or_else(|| ApiError::internal(&"uploaded document vanished"))
        }
        Err(e) if e.kind.is_ambiguous() => {
            let id_owned = id.clone();
            let stored = state
                .db()
                .write(move |conn| {
                    Box::pin(async move {
                        calls::record(conn, std::slice::from_ref(&call)).await?;
                        store::document_unknown(conn, &id_owned, now_ms()).await
                    })
                })
                .await;
            if let Err(e) = stored {
                return Err(ApiError::storage(&e));
            }
            tracing::warn!(document = %id, "upload outcome unknown; flagged for operators, never resent");
            Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "provider_timeout",
                "Provider timeout",
                "the provider did not answer in time; the document may exist there and is not sent again; operators resolve it",
            )
            .with_extra(json!({ "id": id, "resource_status": "pending" })))
        }
        Err(e) => {
            forget(state, &id, Some(call)).await;
            Err(provider_error(e))
        }
    }
}

async fn forget(state: &AppState, id: &str, call: Option<Call>) {
    let id = id.to_owned();
    let _ = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                if let Some(call) = call {
                    calls::record(conn, std::slice::from_ref(&call)).await?;
                }
                store::delete_unstarted_document(conn, &id).await
            })
        })
        .await;
}

fn signing_status(state: SigningState) -> &'static str {
    match state {
        SigningState::Signed => "signed",
        SigningState::Rejected => "rejected",
        SigningState::Pending => "pending",
        _ => "unknown",
    }
}

/// Records each signer's progress the provider reports; returns whether any changed.
async fn record_signers(
    conn: &mut AnyConnection,
    document_id: &str,
    stored: &[DocumentSignerRow],
    report: &DocumentStatus,
    now: i64,
) -> Result<bool, StoreError> {
    let mut changed = false;
    for reported in &report.signers {
        let Some(row) = stored
            .iter()
            .find(|s| s.provider_signer_id == reported.signer)
        else {
            continue;
        };
        let new_status = signing_status(reported.state);
        if new_status == "unknown" {
            continue;
        }
        let link_changed = reported.sign_url.is_some() && reported.sign_url != row.sign_url;
        if new_status != row.status || link_changed {
            store::set_document_signer(
                conn,
                document_id,
                row.position,
                new_status,
                reported.sign_url.as_deref(),
                now,
            )
            .await?;
            changed |= new_status != row.status;
        }
    }
    Ok(changed)
}

/// Reads one document of the client with its signers (404 for another client's).
pub async fn get(
    state: &AppState,
    client_id: &str,
    id: &str,
) -> Result<(DocumentRow, Vec<DocumentSignerRow>), ApiError> {
    let row = store::get_document(state.db(), client_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("document"))?;
    let signers = store::document_signers_of(state.db(), &row.id).await?;
    Ok((row, signers))
}

/// Applies the provider's answer about a document inside the caller's transaction: the
/// next inquiry is at `after_progress` when something moved (the back-off restarts: more
/// signatures may follow soon) and at `idle` otherwise. Returns whether an event was
/// enqueued.
pub(crate) async fn apply_report(
    conn: &mut AnyConnection,
    row: &DocumentRow,
    report: &DocumentStatus,
    (after_progress, idle): (i64, i64),
    now: i64,
) -> Result<bool, StoreError> {
    let stored = store::document_signers(conn, &row.id).await?;
    if row.status != status::PENDING {
        return Ok(false);
    }
    let signers_changed = record_signers(conn, &row.id, &stored, report, now).await?;
    let (target, reason) = match &report.state {
        DocumentState::Pending => (status::PENDING, None),
        DocumentState::Signed => (status::SIGNED, None),
        DocumentState::Rejected { reason } => (status::REJECTED, reason.as_deref()),
        DocumentState::Expired => (status::EXPIRED, None),
        _ => {
            checks::schedule_check(conn, Table::Documents, &row.id, Some(idle)).await?;
            return Ok(false);
        }
    };
    let final_state = target != status::PENDING;
    if !final_state && !signers_changed {
        checks::schedule_check(conn, Table::Documents, &row.id, Some(idle)).await?;
        return Ok(false);
    }
    let change = DocumentChange {
        status: target,
        provider_status: &report.provider_status,
        sign_url: report.sign_url.as_deref(),
        download_url: report.download_url.as_deref(),
        reason,
        completed_at: final_state.then_some(now),
        next_check_at: (!final_state).then_some(after_progress),
    };
    let Some(changed) = store::change_document(conn, &row.id, row.version, &change, now).await?
    else {
        return Ok(false);
    };
    let event = match target {
        status::SIGNED => "esign.document.signed",
        status::REJECTED => "esign.document.rejected",
        status::EXPIRED => "esign.document.expired",
        _ => return Ok(false),
    };
    let signers = store::document_signers(conn, &row.id).await?;
    events::enqueue(
        conn,
        &changed.client_id,
        event,
        &changed.id,
        event_data(&changed, &signers),
        now,
    )
    .await?;
    Ok(true)
}

/// Asks the provider about one document (scheduler) and applies the answer. Returns
/// whether an event was enqueued.
pub async fn check(state: &AppState, id: &str) -> Result<bool, StoreError> {
    let id_owned = id.to_owned();
    let row = state
        .db()
        .write(move |conn| {
            Box::pin(async move { store::get_document_unscoped(conn, &id_owned).await })
        })
        .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let adapter = state.registry().esign(&row.provider);
    let (Some(token), Some(adapter), true) = (
        row.provider_reference.clone(),
        adapter,
        row.status == status::PENDING,
    ) else {
        let id = row.id.clone();
        state
            .db()
            .write(move |conn| {
                Box::pin(
                    async move { checks::schedule_check(conn, Table::Documents, &id, None).await },
                )
            })
            .await?;
        return Ok(false);
    };
    let started = Instant::now();
    let result = adapter.document_status(&ProviderReference(token)).await;
    let call = Call::finished(
        Some(&row.client_id),
        &row.provider,
        "esign.document_status",
        started,
        &result,
    )
    .for_resource(&row.id);
    let first = now_ms() + poll_delay_ms(state, 0);
    let later = now_ms() + poll_delay_ms(state, row.checks + 1);
    let enqueued = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                calls::record(conn, std::slice::from_ref(&call)).await?;
                let now = now_ms();
                let Some(fresh) = store::get_document_unscoped(conn, &row.id).await? else {
                    return Ok(false);
                };
                match result {
                    Ok(report) => apply_report(conn, &fresh, &report, (first, later), now).await,
                    Err(_) => {
                        checks::schedule_check(conn, Table::Documents, &fresh.id, Some(later))
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
