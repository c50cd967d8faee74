//! The e-signature conformance suite: what every [`ESignature`] adapter (and the
//! [`InboundNotifications`] half that reads its callbacks) must do, checked through the
//! provider's simulator.
//!
//! Every check registers its own signers (fresh e-mail and NIK) and uploads its own
//! documents, so the checks are independent and may run in any order against one
//! simulator; [`run_all`] runs them in the order below and returns a [`Report`]:
//!
//! 1. [`register_is_pending_and_the_provider_holds_one_registration`]
//! 2. [`a_signer_is_pending_before_the_verdict_and_verified_after_with_a_signer_id`]
//! 3. [`an_invalid_signer_resubmits_what_was_asked_and_is_verified_after`]
//! 4. [`a_rejected_signer_reads_rejected_with_code_and_reasons_and_stays_rejected`]
//! 5. [`status_of_an_unknown_signer_or_document_is_not_found`]
//! 6. [`a_registration_the_provider_refuses_is_rejected_and_nothing_is_held`]
//! 7. [`register_timing_out_after_the_effect_is_ambiguous_and_sent_once`]
//! 8. [`provider_outage_on_register_is_retryable_and_holds_nothing`]
//! 9. [`a_document_is_pending_until_every_signer_signed_then_signed_with_a_download_url`]
//! 10. [`a_signer_refusing_rejects_the_document`]
//! 11. [`callbacks_are_events_to_confirm_by_inquiry_and_forged_ones_are_refused`]
//!
//! The simulator must leave verdicts and signatures to the checks (PrivyID:
//! `Schedule::Manual`), and its callback URL must be set (check 11 builds callbacks to
//! it). The adapter under test must time out well below [`HANG_MS`] (the workspace tests
//! use 500 ms), or check 7 cannot observe a timeout.
//!
//! The images and PDF the checks send are the smallest byte strings a provider that
//! sniffs magic bytes accepts: [`JPEG`], [`PNG`] and [`PDF`].

use std::future::Future;
use std::time::Duration;

use axum::body::Bytes;
use contracts::esign::{
    DocumentState, DocumentStatus, RegisterSigner, Resubmission, Resubmit, SignaturePlacement,
    SignerState, SignerStatus, SigningState, UploadDocument,
};
use contracts::inbound::{EventKind, InboundEvent, ResourceRef, Trust};
use contracts::{ESignature, ErrorKind, InboundNotifications, OurReference, ProviderReference};
use rand::Rng;
use time::{Date, Month};

use super::{
    CheckResult, Report, expect_acknowledgements, expect_same_event_id, inbound_request, one_event,
    sim_failed,
};
use crate::callback::{CapturedCallback, SimError};
use crate::faults::{Fault, FaultRule, Faults};

/// How long a [`Fault::HangAfterEffect`] holds the provider's answer back.
pub const HANG_MS: u64 = 2_000;

/// How long one check may take before it counts as failed (a hung adapter).
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// A minimal JPEG: start-of-image, a JFIF header, end-of-image.
pub const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9,
];

/// A minimal PNG: the signature and the start of an `IHDR` chunk.
pub const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, b'I', b'H', b'D', b'R',
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00,
];

/// A minimal PDF: header, catalog, trailer.
pub const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// The name every registration of the suite carries (checked absent from stored payloads).
const NAME: &str = "Siti Rahayu";

/// The phone every registration of the suite carries, E.164.
const PHONE: &str = "+6281234567890";

/// The reason check 4 rejects with.
const REJECT_REASON: &str = "KTP image found on the internet";

/// The operations a check may inject faults into or count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EsignOp {
    /// Register a signer.
    Register,
    /// Ask for a signer's status.
    SignerStatus,
    /// Send again what an invalid verdict asked for.
    Resubmit,
    /// Upload a document.
    Upload,
    /// Ask for a document's status.
    DocumentStatus,
}

/// What the checks need from the provider's side. Implemented by every simulator of an
/// e-signature provider. Its acts change state only: the checks hand callbacks to the
/// adapter themselves.
pub trait EsignSimulator: Send + Sync + std::fmt::Debug {
    /// The simulator's own name of `op`, as its [`Faults`] and [`Self::calls`] know it.
    fn op_name(&self, op: EsignOp) -> &'static str;

    /// The fault rules the simulator's requests consult.
    fn faults(&self) -> Faults;

    /// How many requests of `op_name` (an [`Self::op_name`]) reached the provider's logic.
    fn calls(&self, op_name: &str) -> usize;

    /// The provider verifies the waiting registration `provider_reference`.
    fn verify_signer(&self, provider_reference: &str) -> Result<(), SimError>;

    /// The provider finds the waiting registration fixable and asks for a new KTP photo
    /// and a new selfie.
    fn invalidate_signer(&self, provider_reference: &str) -> Result<(), SimError>;

    /// The provider rejects the waiting registration for good, for `reason`.
    fn reject_signer(&self, provider_reference: &str, reason: &str) -> Result<(), SimError>;

    /// How many registrations the provider holds for `email` (whatever their state).
    fn registrations_for(&self, email: &str) -> usize;

    /// The signer `signer_id` signs `document` (the provider's document id).
    fn sign_document(&self, document: &str, signer_id: &str) -> Result<(), SimError>;

    /// The signer `signer_id` refuses to sign `document`.
    fn refuse_document(&self, document: &str, signer_id: &str) -> Result<(), SimError>;

    /// The callback the provider would post now about the registration, built, not
    /// posted.
    fn registration_callback(&self, provider_reference: &str)
    -> Result<CapturedCallback, SimError>;

    /// The callback the provider would post now about the document, built, not posted.
    fn document_callback(&self, document: &str) -> Result<CapturedCallback, SimError>;

    /// The registration callback with a genuine body and every forged proof the
    /// provider's scheme allows (PrivyID: a wrong or missing token in the URL path).
    fn forged_callbacks(&self, provider_reference: &str)
    -> Result<Vec<CapturedCallback>, SimError>;
}

/// Runs every check in order against `esign` and `inbound` (usually one adapter) through
/// `sim`, and reports which passed and which failed.
pub async fn run_all(
    esign: &dyn ESignature,
    inbound: &dyn InboundNotifications,
    sim: &dyn EsignSimulator,
) -> Report {
    let mut report = Report::new(format!("e-signature conformance of {esign:?}"));
    report.record(
        "register_is_pending_and_the_provider_holds_one_registration",
        guarded(
            sim,
            register_is_pending_and_the_provider_holds_one_registration(esign, sim),
        )
        .await,
    );
    report.record(
        "a_signer_is_pending_before_the_verdict_and_verified_after_with_a_signer_id",
        guarded(
            sim,
            a_signer_is_pending_before_the_verdict_and_verified_after_with_a_signer_id(esign, sim),
        )
        .await,
    );
    report.record(
        "an_invalid_signer_resubmits_what_was_asked_and_is_verified_after",
        guarded(
            sim,
            an_invalid_signer_resubmits_what_was_asked_and_is_verified_after(esign, sim),
        )
        .await,
    );
    report.record(
        "a_rejected_signer_reads_rejected_with_code_and_reasons_and_stays_rejected",
        guarded(
            sim,
            a_rejected_signer_reads_rejected_with_code_and_reasons_and_stays_rejected(esign, sim),
        )
        .await,
    );
    report.record(
        "status_of_an_unknown_signer_or_document_is_not_found",
        guarded(
            sim,
            status_of_an_unknown_signer_or_document_is_not_found(esign),
        )
        .await,
    );
    report.record(
        "a_registration_the_provider_refuses_is_rejected_and_nothing_is_held",
        guarded(
            sim,
            a_registration_the_provider_refuses_is_rejected_and_nothing_is_held(esign, sim),
        )
        .await,
    );
    report.record(
        "register_timing_out_after_the_effect_is_ambiguous_and_sent_once",
        guarded(
            sim,
            register_timing_out_after_the_effect_is_ambiguous_and_sent_once(esign, sim),
        )
        .await,
    );
    report.record(
        "provider_outage_on_register_is_retryable_and_holds_nothing",
        guarded(
            sim,
            provider_outage_on_register_is_retryable_and_holds_nothing(esign, sim),
        )
        .await,
    );
    report.record(
        "a_document_is_pending_until_every_signer_signed_then_signed_with_a_download_url",
        guarded(
            sim,
            a_document_is_pending_until_every_signer_signed_then_signed_with_a_download_url(
                esign, sim,
            ),
        )
        .await,
    );
    report.record(
        "a_signer_refusing_rejects_the_document",
        guarded(sim, a_signer_refusing_rejects_the_document(esign, sim)).await,
    );
    report.record(
        "callbacks_are_events_to_confirm_by_inquiry_and_forged_ones_are_refused",
        guarded(
            sim,
            callbacks_are_events_to_confirm_by_inquiry_and_forged_ones_are_refused(
                esign, inbound, sim,
            ),
        )
        .await,
    );
    report
}

/// Runs one check with no faults left over from another, within [`CHECK_TIMEOUT`].
async fn guarded(
    sim: &dyn EsignSimulator,
    check: impl Future<Output = CheckResult>,
) -> CheckResult {
    sim.faults().clear();
    let result = tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(format!("did not finish within {CHECK_TIMEOUT:?}")));
    sim.faults().clear();
    result
}

/// `register_signer` answers `Pending` with a provider reference and no signer id yet,
/// and the provider holds exactly one registration for the e-mail.
pub async fn register_is_pending_and_the_provider_holds_one_registration(
    esign: &dyn ESignature,
    sim: &dyn EsignSimulator,
) -> CheckResult {
    let request = signer_request("NEW");
    let registered = register(esign, &request).await?;
    expect_signer_state(&registered, "right after register", |s| {
        matches!(s, SignerState::Pending)
    })?;
    if registered.provider_reference.as_str().trim().is_empty() {
        return Err("register answered an empty provider reference".to_owned());
    }
    if registered.signer_id.is_some() {
        return Err(format!(
            "register answered signer_id {:?} before any verification",
            registered.signer_id
        ));
    }
    expect_held_once(sim, &request.email)
}

/// Status says `Pending` until the provider decides; once it verifies, `Verified` with a
/// non-empty signer id, about the same registration.
pub async fn a_signer_is_pending_before_the_verdict_and_verified_after_with_a_signer_id(
    esign: &dyn ESignature,
    sim: &dyn EsignSimulator,
) -> CheckResult {
    let registered = register(esign, &signer_request("VER")).await?;
    let reference = &registered.provider_reference;
    let before = signer_status(esign, reference).await?;
    expect_signer_state(&before, "before the verdict", |s| {
        matches!(s, SignerState::Pending)
    })?;
    sim.verify_signer(reference.as_str()).map_err(sim_failed)?;
    let after = signer_status(esign, reference).await?;
    expect_signer_state(&after, "after verification", |s| {
        matches!(s, SignerState::Verified)
    })?;
    if &after.provider_reference != reference {
        return Err(format!(
            "status names registration {}, want {reference}",
            after.provider_reference
        ));
    }
    expect_signer_id(&after).map(drop)
}

/// A fixable verdict reads `Invalid` with the provider's code and asks for a new KTP
/// photo and selfie; `resubmit_signer` with both is accepted and reaches the provider;
/// the signer is `Pending` again, and `Verified` once the provider verifies.
pub async fn an_invalid_signer_resubmits_what_was_asked_and_is_verified_after(
    esign: &dyn ESignature,
    sim: &dyn EsignSimulator,
) -> CheckResult {
    let registered = register(esign, &signer_request("INV")).await?;
    let reference = registered.provider_reference;
    sim.invalidate_signer(reference.as_str())
        .map_err(sim_failed)?;
    let invalid = signer_status(esign, &reference).await?;
    let SignerState::Invalid(verdict) = &invalid.state else {
        return Err(format!(
            "status after an invalid verdict says {:?} (provider status {:?}), want Invalid",
            invalid.state, invalid.provider_status
        ));
    };
    if verdict
        .code
        .as_deref()
        .is_none_or(|code| code.trim().is_empty())
    {
        return Err(format!("the Invalid verdict carries no code: {verdict:?}"));
    }
    for wanted in [Resubmit::KtpImage, Resubmit::Selfie] {
        if !verdict.resubmit.contains(&wanted) {
            return Err(format!(
                "the Invalid verdict asks for {:?}, want {wanted:?} among them",
                verdict.resubmit
            ));
        }
    }
    let op = sim.op_name(EsignOp::Resubmit);
    let sent_before = sim.calls(op);
    let resubmission = Resubmission::new(
        reference.clone(),
        Some(Bytes::from_static(PNG)),
        Some(Bytes::from_static(JPEG)),
        Vec::new(),
    );
    esign
        .resubmit_signer(&resubmission)
        .await
        .map_err(|err| format!("resubmit_signer with a KTP photo and a selfie failed: {err}"))?;
    if sim.calls(op) == sent_before {
        return Err("resubmit_signer answered Ok but sent nothing to the provider".to_owned());
    }
    let resubmitted = signer_status(esign, &reference).await?;
    expect_signer_state(&resubmitted, "after resubmitting", |s| {
        matches!(s, SignerState::Pending)
    })?;
    sim.verify_signer(reference.as_str()).map_err(sim_failed)?;
    let verified = signer_status(esign, &reference).await?;
    expect_signer_state(&verified, "after the resubmission was verified", |s| {
        matches!(s, SignerState::Verified)
    })?;
    expect_signer_id(&verified).map(drop)
}

/// A final refusal reads `Rejected` with the provider's code and its reason; sending
/// images again is refused (`Rejected` or `Conflict`), and the signer stays `Rejected`.
pub async fn a_rejected_signer_reads_rejected_with_code_and_reasons_and_stays_rejected(
    esign: &dyn ESignature,
    sim: &dyn EsignSimulator,
) -> CheckResult {
    let registered = register(esign, &signer_request("REJ")).await?;
    let reference = registered.provider_reference;
    sim.reject_signer(reference.as_str(), REJECT_REASON)
        .map_err(sim_failed)?;
    expect_rejected_verdict(&signer_status(esign, &reference).await?, "after rejection")?;
    let resubmission = Resubmission::new(
        reference.clone(),
        Some(Bytes::from_static(PNG)),
        Some(Bytes::from_static(JPEG)),
        Vec::new(),
    );
    match esign.resubmit_signer(&resubmission).await {
        Err(err) if matches!(err.kind, ErrorKind::Rejected | ErrorKind::Conflict) => {}
        Err(err) => {
            return Err(format!(
                "resubmitting for a rejected signer: want Rejected or Conflict, got {err}"
            ));
        }
        Ok(()) => return Err("resubmitting for a rejected signer answered Ok".to_owned()),
    }
    expect_rejected_verdict(
        &signer_status(esign, &reference).await?,
        "after a refused resubmission",
    )
}

/// Status of a signer or a document the provider never saw is `NotFound`.
pub async fn status_of_an_unknown_signer_or_document_is_not_found(
    esign: &dyn ESignature,
) -> CheckResult {
    let unknown = ProviderReference(hex::encode(rand::random::<[u8; 32]>()));
    match esign.signer_status(&unknown).await {
        Err(err) if err.kind == ErrorKind::NotFound => {}
        Err(err) => {
            return Err(format!(
                "status of an unknown signer: want NotFound, got {err}"
            ));
        }
        Ok(status) => return Err(format!("status of an unknown signer answered {status:?}")),
    }
    match esign.document_status(&unknown).await {
        Err(err) if err.kind == ErrorKind::NotFound => Ok(()),
        Err(err) => Err(format!(
            "status of an unknown document: want NotFound, got {err}"
        )),
        Ok(status) => Err(format!("status of an unknown document answered {status:?}")),
    }
}

/// A registration the provider refuses (a NIK whose 16th digit is 0, forwarded as it is)
/// is `Rejected`, and the provider holds nothing for it.
pub async fn a_registration_the_provider_refuses_is_rejected_and_nothing_is_held(
    esign: &dyn ESignature,
    sim: &dyn EsignSimulator,
) -> CheckResult {
    let mut request = signer_request("BAD");
    let first_fifteen: String = request.nik.chars().take(15).collect();
    request.nik = format!("{first_fifteen}0");
    match esign.register_signer(&request).await {
        Err(err) if err.kind == ErrorKind::Rejected => {}
        Err(err) => {
            return Err(format!(
                "register with a NIK ending in 0: want Rejected, got {err}"
            ));
        }
        Ok(status) => {
            return Err(format!(
                "register with a NIK ending in 0 answered {:?}",
                status.state
            ));
        }
    }
    match sim.registrations_for(&request.email) {
        0 => Ok(()),
        n => Err(format!(
            "the provider holds {n} registrations after refusing one"
        )),
    }
}

/// A registration whose answer never arrives (the provider acted, then hung) is
/// ambiguous (`Timeout` or `Protocol`), never success and never `Unavailable` (which would
/// invite a second registration with the same identity); the provider saw exactly one
/// request and holds one registration.
pub async fn register_timing_out_after_the_effect_is_ambiguous_and_sent_once(
    esign: &dyn ESignature,
    sim: &dyn EsignSimulator,
) -> CheckResult {
    let op = sim.op_name(EsignOp::Register);
    let before = sim.calls(op);
    sim.faults()
        .push(FaultRule::once(op, Fault::HangAfterEffect { ms: HANG_MS }));
    let request = signer_request("HANG");
    match esign.register_signer(&request).await {
        Err(err) if err.kind.is_ambiguous() => {}
        Err(err) => {
            return Err(format!(
                "register that hung after the effect: want Timeout or Protocol, got {err}"
            ));
        }
        Ok(status) => {
            return Err(format!(
                "register that hung after the effect answered {:?}",
                status.state
            ));
        }
    }
    let sent = sim.calls(op) - before;
    if sent != 1 {
        return Err(format!(
            "the provider saw {sent} registrations, want exactly 1"
        ));
    }
    expect_held_once(sim, &request.email)
}

/// A provider that is down (or answers HTTP 503) on register is `Unavailable` and
/// retryable, and holds nothing; the retried registration then succeeds once.
pub async fn provider_outage_on_register_is_retryable_and_holds_nothing(
    esign: &dyn ESignature,
    sim: &dyn EsignSimulator,
) -> CheckResult {
    let op = sim.op_name(EsignOp::Register);
    for (fault, what) in [
        (Fault::Down, "register during an outage"),
        (Fault::Status { code: 503 }, "register answered HTTP 503"),
    ] {
        let request = signer_request("DOWN");
        sim.faults().push(FaultRule::once(op, fault));
        match esign.register_signer(&request).await {
            Err(err) if err.kind == ErrorKind::Unavailable && err.is_retryable() => {}
            Err(err) => return Err(format!("{what}: want Unavailable (retryable), got {err}")),
            Ok(status) => return Err(format!("{what}: answered {:?}", status.state)),
        }
        if sim.registrations_for(&request.email) != 0 {
            return Err(format!("{what}: the provider holds a registration anyway"));
        }
        register(esign, &request).await?;
        expect_held_once(sim, &request.email)?;
    }
    Ok(())
}

/// A document uploaded for two verified signers (in order, with placements) is `Pending`
/// with a signing URL and both signers pending; after the first signs it is still
/// `Pending` with that signer `Signed`; after the second, `Signed` with a download URL.
pub async fn a_document_is_pending_until_every_signer_signed_then_signed_with_a_download_url(
    esign: &dyn ESignature,
    sim: &dyn EsignSimulator,
) -> CheckResult {
    let first = verified_signer(esign, sim, "DA").await?;
    let second = verified_signer(esign, sim, "DB").await?;
    let uploaded = upload(esign, &[first.clone(), second.clone()], "SIGN").await?;
    expect_document_state(&uploaded, "right after upload", |s| {
        matches!(s, DocumentState::Pending)
    })?;
    if uploaded
        .sign_url
        .as_deref()
        .is_none_or(|url| url.trim().is_empty())
    {
        return Err("upload answered no sign_url".to_owned());
    }
    expect_signers(
        &uploaded,
        &[
            (&first, SigningState::Pending),
            (&second, SigningState::Pending),
        ],
    )?;
    let document = uploaded.provider_reference;

    sim.sign_document(document.as_str(), &first)
        .map_err(sim_failed)?;
    let half = document_status(esign, &document).await?;
    expect_document_state(&half, "after the first signature", |s| {
        matches!(s, DocumentState::Pending)
    })?;
    expect_signers(
        &half,
        &[
            (&first, SigningState::Signed),
            (&second, SigningState::Pending),
        ],
    )?;

    sim.sign_document(document.as_str(), &second)
        .map_err(sim_failed)?;
    let done = document_status(esign, &document).await?;
    expect_document_state(&done, "after every signature", |s| {
        matches!(s, DocumentState::Signed)
    })?;
    expect_signers(
        &done,
        &[
            (&first, SigningState::Signed),
            (&second, SigningState::Signed),
        ],
    )?;
    if done
        .download_url
        .as_deref()
        .is_none_or(|url| url.trim().is_empty())
    {
        return Err("a signed document has no download_url".to_owned());
    }
    Ok(())
}

/// A signer refusing to sign makes the document `Rejected`, with that signer `Rejected`
/// when signers are reported.
pub async fn a_signer_refusing_rejects_the_document(
    esign: &dyn ESignature,
    sim: &dyn EsignSimulator,
) -> CheckResult {
    let signer = verified_signer(esign, sim, "RF").await?;
    let uploaded = upload(esign, std::slice::from_ref(&signer), "REFUSE").await?;
    let document = uploaded.provider_reference;
    sim.refuse_document(document.as_str(), &signer)
        .map_err(sim_failed)?;
    let refused = document_status(esign, &document).await?;
    expect_document_state(&refused, "after a signer refused", |s| {
        matches!(s, DocumentState::Rejected { .. })
    })?;
    let reported = refused.signers.iter().find(|s| s.signer == signer);
    match reported {
        Some(s) if s.state != SigningState::Rejected => Err(format!(
            "the refusing signer reads {:?}, want Rejected",
            s.state
        )),
        _ => Ok(()),
    }
}

/// A registration callback verifies into exactly one `StatusChanged` event about that
/// signer, from an adapter whose trust is `ConfirmByInquiry`; the same callback parsed
/// twice, or sent again, has the same `provider_event_id`, and another transition another
/// one; the stored payload carries no NIK, name, birth date or phone; every forged
/// callback is refused (`InvalidSignature` or `Rejected`); acknowledgements are 2xx for
/// accepted and not for rejected; a document callback is one `StatusChanged` event about
/// the document.
pub async fn callbacks_are_events_to_confirm_by_inquiry_and_forged_ones_are_refused(
    esign: &dyn ESignature,
    inbound: &dyn InboundNotifications,
    sim: &dyn EsignSimulator,
) -> CheckResult {
    if inbound.trust() != Trust::ConfirmByInquiry {
        return Err(format!(
            "trust() is {:?}: unsigned callbacks must be ConfirmByInquiry",
            inbound.trust()
        ));
    }
    let request = signer_request("CB");
    let reference = register(esign, &request).await?.provider_reference;
    let waiting = registration_callback(sim, &reference)?;
    let waiting_event = one_event(inbound, &waiting).await?;
    sim.verify_signer(reference.as_str()).map_err(sim_failed)?;
    let verified = registration_callback(sim, &reference)?;
    let event = one_event(inbound, &verified).await?;
    expect_status_changed(
        &event,
        &ResourceRef::Signer {
            provider_reference: reference.clone(),
        },
    )?;
    if waiting_event.provider_event_id == event.provider_event_id {
        return Err(format!(
            "the waiting and the verified callbacks share provider_event_id {:?}: the second would be dropped",
            event.provider_event_id
        ));
    }
    expect_same_event_id(
        &event,
        &one_event(inbound, &verified).await?,
        "the same callback parsed twice",
    )?;
    let resent = registration_callback(sim, &reference)?;
    expect_same_event_id(
        &event,
        &one_event(inbound, &resent).await?,
        "a resent callback",
    )?;
    expect_no_personal_data(&event, &request)?;
    let forged = sim
        .forged_callbacks(reference.as_str())
        .map_err(sim_failed)?;
    for callback in &forged {
        expect_forged_refused(inbound, callback).await?;
    }
    expect_acknowledgements(inbound, &inbound_request(&verified))?;

    let signer = expect_signer_id(&signer_status(esign, &reference).await?)?;
    let document = upload(esign, std::slice::from_ref(&signer), "CB")
        .await?
        .provider_reference;
    sim.sign_document(document.as_str(), &signer)
        .map_err(sim_failed)?;
    let callback = sim
        .document_callback(document.as_str())
        .map_err(sim_failed)?;
    let event = one_event(inbound, &callback).await?;
    expect_status_changed(
        &event,
        &ResourceRef::Document {
            provider_reference: document,
        },
    )
}

// ---- helpers ----------------------------------------------------------------------------

/// A registration nobody else uses: e-mail `esign.<tag>.<random>@example.com` and a random
/// valid NIK (16 digits, the last not 0).
fn signer_request(tag: &str) -> RegisterSigner {
    let mut rng = rand::rng();
    let suffix: u32 = rng.random_range(0..100_000_000);
    let nik = format!(
        "32{:013}{}",
        rng.random_range(0..10_000_000_000_000u64),
        rng.random_range(1..10u8)
    );
    // 17 May 1990 is a valid date; the fallback is never taken.
    let birth_date = Date::from_calendar_date(1990, Month::May, 17).unwrap_or(Date::MIN);
    RegisterSigner::new(
        OurReference(format!("ES{tag}{suffix:08}")),
        nik,
        NAME.to_owned(),
        format!("esign.{}.{suffix:08}@example.com", tag.to_ascii_lowercase()),
        PHONE.to_owned(),
        birth_date,
        Bytes::from_static(JPEG),
        Bytes::from_static(PNG),
    )
}

async fn register(
    esign: &dyn ESignature,
    request: &RegisterSigner,
) -> Result<SignerStatus, String> {
    esign
        .register_signer(request)
        .await
        .map_err(|err| format!("register {} failed: {err}", request.reference))
}

async fn signer_status(
    esign: &dyn ESignature,
    reference: &ProviderReference,
) -> Result<SignerStatus, String> {
    esign
        .signer_status(reference)
        .await
        .map_err(|err| format!("signer status of {reference} failed: {err}"))
}

/// Registers a signer, has the provider verify it, and returns its signer id.
async fn verified_signer(
    esign: &dyn ESignature,
    sim: &dyn EsignSimulator,
    tag: &str,
) -> Result<String, String> {
    let reference = register(esign, &signer_request(tag))
        .await?
        .provider_reference;
    sim.verify_signer(reference.as_str()).map_err(sim_failed)?;
    expect_signer_id(&signer_status(esign, &reference).await?)
}

/// Uploads [`PDF`] for `signers`, in order, each with a placement on page 1.
async fn upload(
    esign: &dyn ESignature,
    signers: &[String],
    tag: &str,
) -> Result<DocumentStatus, String> {
    let placements = signers
        .iter()
        .zip(0u32..)
        .map(|(signer, i)| SignaturePlacement::new(signer.clone(), 1, 100 + 200 * i, 650))
        .collect();
    let suffix: u32 = rand::rng().random_range(0..100_000_000);
    let request = UploadDocument::new(
        OurReference(format!("ED{tag}{suffix:08}")),
        format!("Conformance agreement {tag}"),
        Bytes::from_static(PDF),
        placements,
    )
    .in_order(true);
    esign
        .upload_document(&request)
        .await
        .map_err(|err| format!("upload {} failed: {err}", request.reference))
}

async fn document_status(
    esign: &dyn ESignature,
    document: &ProviderReference,
) -> Result<DocumentStatus, String> {
    esign
        .document_status(document)
        .await
        .map_err(|err| format!("document status of {document} failed: {err}"))
}

fn registration_callback(
    sim: &dyn EsignSimulator,
    reference: &ProviderReference,
) -> Result<CapturedCallback, String> {
    let callback = sim
        .registration_callback(reference.as_str())
        .map_err(sim_failed)?;
    if callback.url.is_none() {
        return Err(
            "the simulator has no callback URL: set one before running the suite".to_owned(),
        );
    }
    Ok(callback)
}

fn expect_held_once(sim: &dyn EsignSimulator, email: &str) -> CheckResult {
    match sim.registrations_for(email) {
        1 => Ok(()),
        0 => Err("the provider holds no registration for the signer".to_owned()),
        n => Err(format!(
            "the provider holds {n} registrations for one signer"
        )),
    }
}

fn expect_signer_state(
    status: &SignerStatus,
    when: &str,
    wanted: impl Fn(&SignerState) -> bool,
) -> CheckResult {
    if wanted(&status.state) {
        return Ok(());
    }
    Err(format!(
        "signer status {when} says {:?} (provider status {:?})",
        status.state, status.provider_status
    ))
}

fn expect_signer_id(status: &SignerStatus) -> Result<String, String> {
    match &status.signer_id {
        Some(id) if !id.trim().is_empty() => Ok(id.clone()),
        other => Err(format!("a verified signer has signer_id {other:?}")),
    }
}

fn expect_rejected_verdict(status: &SignerStatus, when: &str) -> CheckResult {
    let SignerState::Rejected(verdict) = &status.state else {
        return Err(format!(
            "signer status {when} says {:?} (provider status {:?}), want Rejected",
            status.state, status.provider_status
        ));
    };
    if verdict
        .code
        .as_deref()
        .is_none_or(|code| code.trim().is_empty())
    {
        return Err(format!("the Rejected verdict carries no code: {verdict:?}"));
    }
    if !verdict.reasons.iter().any(|r| r.contains(REJECT_REASON)) {
        return Err(format!(
            "the Rejected verdict's reasons {:?} leave out the provider's {REJECT_REASON:?}",
            verdict.reasons
        ));
    }
    Ok(())
}

fn expect_document_state(
    status: &DocumentStatus,
    when: &str,
    wanted: impl Fn(&DocumentState) -> bool,
) -> CheckResult {
    if wanted(&status.state) {
        return Ok(());
    }
    Err(format!(
        "document status {when} says {:?} (provider status {:?})",
        status.state, status.provider_status
    ))
}

/// The document lists exactly these signers, each in the given state.
fn expect_signers(status: &DocumentStatus, wanted: &[(&String, SigningState)]) -> CheckResult {
    let got: Vec<(&String, SigningState)> = status
        .signers
        .iter()
        .map(|s| (&s.signer, s.state))
        .collect();
    let same = got.len() == wanted.len() && wanted.iter().all(|pair| got.contains(pair));
    if same {
        return Ok(());
    }
    Err(format!(
        "the document reports signers {got:?}, want {wanted:?}"
    ))
}

fn expect_status_changed(event: &InboundEvent, resource: &ResourceRef) -> CheckResult {
    if &event.resource != resource {
        return Err(format!(
            "the callback event is about {:?}, want {resource:?}",
            event.resource
        ));
    }
    match &event.kind {
        EventKind::StatusChanged { provider_status } if !provider_status.trim().is_empty() => {}
        other => {
            return Err(format!(
                "the callback event is {other:?}, want StatusChanged with the claimed status"
            ));
        }
    }
    if event.provider_event_id.trim().is_empty() {
        return Err("the callback event has an empty provider_event_id".to_owned());
    }
    Ok(())
}

/// The payload kept for audit must not carry the identity the callback echoes.
fn expect_no_personal_data(event: &InboundEvent, request: &RegisterSigner) -> CheckResult {
    let stored = event.payload.to_string();
    let national_phone = request.phone.trim_start_matches("+62");
    let birth_date = format!(
        "{}-{:02}-{:02}",
        request.birth_date.year(),
        u8::from(request.birth_date.month()),
        request.birth_date.day()
    );
    let leaks: Vec<&str> = [
        ("NIK", request.nik.as_str()),
        ("name", request.name.as_str()),
        ("birth date", birth_date.as_str()),
        ("phone", national_phone),
    ]
    .into_iter()
    .filter(|(_, value)| stored.contains(value))
    .map(|(what, _)| what)
    .collect();
    if leaks.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the stored payload carries personal data: {leaks:?}"
    ))
}

async fn expect_forged_refused(
    inbound: &dyn InboundNotifications,
    forged: &CapturedCallback,
) -> CheckResult {
    let url = forged.url.as_deref().unwrap_or("(no URL)");
    match inbound.verify_and_parse(&inbound_request(forged)).await {
        Err(err) if matches!(err.kind, ErrorKind::InvalidSignature | ErrorKind::Rejected) => Ok(()),
        Err(err) => Err(format!(
            "a forged callback to {url}: want InvalidSignature or Rejected, got {err}"
        )),
        Ok(parsed) => Err(format!(
            "a forged callback to {url} was accepted: {parsed:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::ProviderError;
    use contracts::inbound::{AckOutcome, Inbound, InboundRequest, InboundResponse};

    /// An adapter whose provider is always unreachable.
    #[derive(Debug)]
    struct Unreachable;

    /// What the `#[async_trait]` methods return, written out (mocks has no async-trait).
    type Answer<'a, T> =
        std::pin::Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

    fn down<'a, T: 'a>() -> Answer<'a, T> {
        Box::pin(async { Err(ProviderError::new(ErrorKind::Unavailable, "down")) })
    }

    impl ESignature for Unreachable {
        fn register_signer<'a, 'b, 'c>(&'a self, _: &'b RegisterSigner) -> Answer<'c, SignerStatus>
        where
            'a: 'c,
            'b: 'c,
        {
            down()
        }
        fn resubmit_signer<'a, 'b, 'c>(&'a self, _: &'b Resubmission) -> Answer<'c, ()>
        where
            'a: 'c,
            'b: 'c,
        {
            down()
        }
        fn signer_status<'a, 'b, 'c>(&'a self, _: &'b ProviderReference) -> Answer<'c, SignerStatus>
        where
            'a: 'c,
            'b: 'c,
        {
            down()
        }
        fn upload_document<'a, 'b, 'c>(
            &'a self,
            _: &'b UploadDocument,
        ) -> Answer<'c, DocumentStatus>
        where
            'a: 'c,
            'b: 'c,
        {
            down()
        }
        fn document_status<'a, 'b, 'c>(
            &'a self,
            _: &'b ProviderReference,
        ) -> Answer<'c, DocumentStatus>
        where
            'a: 'c,
            'b: 'c,
        {
            down()
        }
    }

    impl InboundNotifications for Unreachable {
        fn trust(&self) -> Trust {
            Trust::Strong
        }
        fn verify_and_parse<'a, 'b, 'c>(&'a self, _: &'b InboundRequest) -> Answer<'c, Inbound>
        where
            'a: 'c,
            'b: 'c,
        {
            Box::pin(async { Err(ProviderError::new(ErrorKind::InvalidSignature, "no")) })
        }
        fn acknowledge(&self, _: &InboundRequest, _: &AckOutcome) -> InboundResponse {
            InboundResponse::text(200, "ok")
        }
    }

    /// A simulator that holds nothing and can do nothing.
    #[derive(Debug, Default)]
    struct Empty(Faults);

    impl EsignSimulator for Empty {
        fn op_name(&self, _: EsignOp) -> &'static str {
            "registration"
        }
        fn faults(&self) -> Faults {
            self.0.clone()
        }
        fn calls(&self, _: &str) -> usize {
            0
        }
        fn verify_signer(&self, reference: &str) -> Result<(), SimError> {
            Err(SimError::NotFound(reference.to_owned()))
        }
        fn invalidate_signer(&self, reference: &str) -> Result<(), SimError> {
            Err(SimError::NotFound(reference.to_owned()))
        }
        fn reject_signer(&self, reference: &str, _: &str) -> Result<(), SimError> {
            Err(SimError::NotFound(reference.to_owned()))
        }
        fn registrations_for(&self, _: &str) -> usize {
            0
        }
        fn sign_document(&self, document: &str, _: &str) -> Result<(), SimError> {
            Err(SimError::NotFound(document.to_owned()))
        }
        fn refuse_document(&self, document: &str, _: &str) -> Result<(), SimError> {
            Err(SimError::NotFound(document.to_owned()))
        }
        fn registration_callback(&self, reference: &str) -> Result<CapturedCallback, SimError> {
            Err(SimError::NotFound(reference.to_owned()))
        }
        fn document_callback(&self, document: &str) -> Result<CapturedCallback, SimError> {
            Err(SimError::NotFound(document.to_owned()))
        }
        fn forged_callbacks(&self, reference: &str) -> Result<Vec<CapturedCallback>, SimError> {
            Err(SimError::NotFound(reference.to_owned()))
        }
    }

    #[tokio::test]
    async fn a_broken_adapter_fails_every_check_without_a_panic_and_faults_are_cleared() {
        let sim = Empty::default();
        let report = run_all(&Unreachable, &Unreachable, &sim).await;
        assert_eq!(report.outcomes.len(), 11);
        assert_eq!(report.failures().count(), 11, "{report}");
        assert!(sim.0.rules().is_empty());
        assert!(report.to_string().contains("11 of 11 checks failed"));
    }

    #[test]
    fn every_registration_has_its_own_email_and_a_valid_nik() {
        let first = signer_request("A");
        let second = signer_request("A");
        assert_ne!(first.email, second.email);
        for request in [&first, &second] {
            assert_eq!(request.nik.len(), 16, "{}", request.nik);
            assert!(request.nik.bytes().all(|b| b.is_ascii_digit()));
            assert!(!request.nik.ends_with('0'));
        }
    }

    #[test]
    fn the_sample_files_start_with_their_magic_bytes() {
        assert!(JPEG.starts_with(&[0xFF, 0xD8, 0xFF]));
        assert!(PNG.starts_with(&[0x89, 0x50, 0x4E, 0x47]));
        assert!(PDF.starts_with(b"%PDF-"));
    }
}
