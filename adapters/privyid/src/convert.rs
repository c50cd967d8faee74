//! contracts ⇄ wire: the multipart bodies of registration (2.3), status (2.4),
//! re-registration (2.5) and upload (2.6); the status tables of signers (2.4) and documents
//! (2.7), and the reject verdict.

use bytes::Bytes;
use contracts::ProviderReference;
use contracts::esign::{
    DocumentSigner, DocumentState, DocumentStatus, RegisterSigner, Resubmission, Resubmit,
    SignerState, SignerStatus, SigningState, UploadDocument, Verdict,
};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::macros::format_description;

use crate::client::{Call, Field};
use crate::error::Error;
use crate::wire::{
    Document, DocumentRecipient, FileSupport, Handler, Identity, Owner, Recipient, Registered,
    Registration, Reject, Uploaded,
};

/// `POST /v3/merchant/registration` (2.3).
pub(crate) const REGISTRATION: &str = "v3/merchant/registration";
/// `POST /v3/merchant/registration/status` (2.4).
pub(crate) const REGISTRATION_STATUS: &str = "v3/merchant/registration/status";
/// `POST /v3/user/merchant/reregister/{ktp,selfie,file-support}` (2.5): no `/merchant`
/// segment before `/user`.
pub(crate) const REREGISTER: &str = "v3/user/merchant/reregister";
/// `POST /v3/merchant/document/upload` (2.6).
pub(crate) const UPLOAD: &str = "v3/merchant/document/upload";
/// `GET /v3/merchant/document/status/{docToken}` (2.7).
pub(crate) const DOCUMENT_STATUS: &str = "v3/merchant/document/status";

/// PrivyID's `documentStatus` of a document waiting for signatures (2.7).
const IN_PROGRESS: &str = "In Progress";

/// The document owner: the merchant (2.6 `owner`).
pub(crate) struct DocumentOwner<'a> {
    pub(crate) privy_id: &'a str,
    pub(crate) enterprise_token: &'a str,
}

/// The registration body: `email`, `phone` (national), `identity` (JSON text), `selfie`,
/// `ktp` (2.3). The phone and both images are checked before anything is sent.
pub(crate) fn registration(request: &RegisterSigner) -> Result<Call, Error> {
    let phone = national_phone(&request.phone)?;
    let selfie = image("selfie", &request.selfie)?;
    let ktp = image("ktp", &request.ktp_image)?;
    let identity = Identity {
        nik: &request.nik,
        nama: &request.name,
        tanggal_lahir: request
            .birth_date
            .format(format_description!("[year]-[month]-[day]"))
            .map_err(|_| Error::Request("the birth date cannot be written as YYYY-MM-DD"))?,
    };
    let fields = vec![
        text("email", request.email.clone()),
        text("phone", phone),
        text("identity", json(&identity)?),
        selfie,
        ktp,
    ];
    Ok(Call::post(REGISTRATION, fields))
}

/// `+62812…` (E.164) as PrivyID's national `0812…` (2.3). Other countries are refused: the
/// registration is for Indonesian KTP holders.
pub(crate) fn national_phone(e164: &str) -> Result<String, Error> {
    let Some(subscriber) = e164.trim().strip_prefix("+62") else {
        return Err(Error::Request(
            "the phone number must be an Indonesian E.164 number (+62…)",
        ));
    };
    if !(8..=13).contains(&subscriber.len()) || !subscriber.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Request(
            "the phone number is not an E.164 number of 8 to 13 digits after +62",
        ));
    }
    Ok(format!("0{subscriber}"))
}

/// A JPEG or PNG file part named `name`, its type read from the magic bytes; anything else
/// is refused before sending (2.3: `.png/.jpg/.jpeg`).
pub(crate) fn image(name: &'static str, bytes: &Bytes) -> Result<Field, Error> {
    let (extension, content_type) = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        ("jpg", "image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G']) {
        ("png", "image/png")
    } else {
        return Err(Error::Request("an image is neither JPEG nor PNG"));
    };
    let stem = match name {
        "ktp" => "ktp",
        "selfie" => "selfie",
        _ => "attachment",
    };
    Ok(Field::File {
        name,
        file_name: format!("{stem}.{extension}"),
        content_type,
        bytes: bytes.clone(),
    })
}

/// The status inquiry of a registration: part `token` (2.4).
pub(crate) fn registration_status(user_token: &ProviderReference) -> Result<Call, Error> {
    let token = reference(user_token, "the registration token is empty")?;
    Ok(Call::post(
        REGISTRATION_STATUS,
        vec![text("token", token.to_owned())],
    ))
}

/// The re-registration requests, in order: KTP, selfie, each supporting document (2.5),
/// each with the `Token` header. Every item is checked before the first is sent.
pub(crate) fn resubmissions(request: &Resubmission) -> Result<Vec<(&'static str, Call)>, Error> {
    let token = reference(
        &request.provider_reference,
        "the registration token is empty",
    )?;
    let mut header = HeaderValue::from_str(token)
        .map_err(|_| Error::Request("the registration token is not a header value"))?;
    header.set_sensitive(true);
    let mut calls = Vec::new();
    if let Some(ktp) = &request.ktp_image {
        calls.push(("ktp", vec![image("ktp", ktp)?]));
    }
    if let Some(selfie) = &request.selfie {
        calls.push(("selfie", vec![image("selfie", selfie)?]));
    }
    for document in &request.supporting {
        let category = document.category.trim();
        if category.is_empty() {
            return Err(Error::Request("a supporting document has no category"));
        }
        calls.push((
            "file-support",
            vec![
                text("fileSupport[][category]", category.to_owned()),
                image("fileSupport[][attachment]", &document.image)?,
            ],
        ));
    }
    if calls.is_empty() {
        return Err(Error::Request(
            "a resubmission must carry at least one item",
        ));
    }
    Ok(calls
        .into_iter()
        .map(|(item, fields)| {
            let mut call = Call::post(&format!("{REREGISTER}/{item}"), fields);
            call.user_token = Some(header.clone());
            (item, call)
        })
        .collect())
}

/// The upload body: `documentTitle`, `docType`, `owner`, `recipients` (each a `Signer` with
/// `signPage`, `posX`, `posY`), `document` (2.6).
pub(crate) fn upload(request: &UploadDocument, owner: &DocumentOwner<'_>) -> Result<Call, Error> {
    if request.title.trim().is_empty() {
        return Err(Error::Request("the document title is empty"));
    }
    if !request.pdf.starts_with(b"%PDF-") {
        return Err(Error::Request("the document is not a PDF"));
    }
    if request.signers.is_empty() {
        return Err(Error::Request("a document needs at least one signer"));
    }
    let mut recipients = Vec::with_capacity(request.signers.len());
    for signer in &request.signers {
        if signer.signer.trim().is_empty() {
            return Err(Error::Request("a signer has no privyId"));
        }
        if signer.page == 0 {
            return Err(Error::Request("signature pages are numbered from 1"));
        }
        recipients.push(Recipient {
            privy_id: signer.signer.trim(),
            kind: "Signer",
            enterprise_token: "",
            sign_page: signer.page,
            pos_x: signer.x,
            pos_y: signer.y,
        });
    }
    let owner = Owner {
        privy_id: owner.privy_id,
        enterprise_token: owner.enterprise_token,
    };
    let doc_type = if request.in_order {
        "Serial"
    } else {
        "Parallel"
    };
    let fields = vec![
        text("documentTitle", request.title.clone()),
        text("docType", doc_type.to_owned()),
        text("owner", json(&owner)?),
        text("recipients", json(&recipients)?),
        Field::File {
            name: "document",
            file_name: format!("{}.pdf", file_stem(request.reference.as_str())),
            content_type: "application/pdf",
            bytes: request.pdf.clone(),
        },
    ];
    Ok(Call::post(UPLOAD, fields))
}

/// `GET /v3/merchant/document/status/{docToken}` (2.7), the token percent-encoded.
pub(crate) fn document_status(doc_token: &ProviderReference) -> Result<Call, Error> {
    let token = reference(doc_token, "the document token is empty")?;
    let mut segments: Vec<String> = DOCUMENT_STATUS.split('/').map(str::to_owned).collect();
    segments.push(token.to_owned());
    Ok(Call {
        method: Method::GET,
        segments,
        fields: None,
        user_token: None,
    })
}

/// A registration answer (2.3): the `userToken`, pending.
pub(crate) fn registered(data: serde_json::Value) -> Result<SignerStatus, Error> {
    let registered: Registered = read(data, "not a registration answer")?;
    let token = registered.user_token.trim();
    if token.is_empty() {
        return Err(Error::Unreadable("an empty userToken"));
    }
    let status = registered
        .status
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "waiting".to_owned());
    Ok(SignerStatus::new(
        ProviderReference(token.to_owned()),
        None,
        SignerState::Pending,
        status,
    ))
}

/// A registration status answer (2.4).
pub(crate) fn signer_status(
    user_token: &ProviderReference,
    data: serde_json::Value,
) -> Result<SignerStatus, Error> {
    let registration: Registration = read(data, "not a registration status")?;
    let mut signer_id = None;
    let state = match registration.status.as_str() {
        "waiting" => SignerState::Pending,
        "verified" | "registered" => {
            let privy_id = registration
                .privy_id
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty())
                .ok_or(Error::Protocol("a verified signer without privyId"))?;
            signer_id = Some(privy_id);
            SignerState::Verified
        }
        "invalid" => SignerState::Invalid(verdict(registration.reject, true)),
        "rejected" => SignerState::Rejected(verdict(registration.reject, false)),
        _ => SignerState::Unknown,
    };
    Ok(SignerStatus::new(
        user_token.clone(),
        signer_id,
        state,
        registration.status,
    ))
}

/// Why a registration was not verified: `reject.code`, `reject.reason` followed by each
/// handler's text, and, when `fixable`, what to send again (2.4).
pub(crate) fn verdict(reject: Option<Reject>, fixable: bool) -> Verdict {
    let reject = reject.unwrap_or_default();
    let handlers = reject.handlers.unwrap_or_default();
    let mut reasons = Vec::new();
    let texts = reject
        .reason
        .iter()
        .chain(handlers.iter().filter_map(|h| h.handler.as_ref()));
    for text in texts {
        push_text(&mut reasons, text);
    }
    let mut resubmit = Vec::new();
    if fixable {
        for handler in &handlers {
            if let Some(item) = resubmit_item(handler) {
                push_unique(&mut resubmit, item);
            }
        }
    }
    let code = reject.code.filter(|c| !c.trim().is_empty());
    Verdict::new(code, reasons, resubmit)
}

/// `KTP` → a new KTP photo, `SELFIE` → a new selfie, `FILE-SUPPORT` → a supporting
/// document of the categories listed. Unknown categories are logged and skipped.
fn resubmit_item(handler: &Handler) -> Option<Resubmit> {
    let category = handler.category.as_deref().unwrap_or("").trim();
    match category.to_ascii_uppercase().as_str() {
        "KTP" => Some(Resubmit::KtpImage),
        "SELFIE" => Some(Resubmit::Selfie),
        "FILE-SUPPORT" => {
            let mut categories = Vec::new();
            for entry in handler.file_support.iter().flatten() {
                let name = match entry {
                    FileSupport::Name(name) => Some(name),
                    FileSupport::Object { category, name } => category.as_ref().or(name.as_ref()),
                    FileSupport::Other(_) => None,
                };
                if let Some(name) = name {
                    push_text(&mut categories, name);
                }
            }
            Some(Resubmit::SupportingDocument { categories })
        }
        _ => {
            tracing::warn!(category, "privyid reject handler of an unknown category");
            None
        }
    }
}

/// An upload answer (2.6): pending, signed at `urlDocument`, each signer at its
/// `magicLink`.
pub(crate) fn uploaded(data: serde_json::Value) -> Result<DocumentStatus, Error> {
    let uploaded: Uploaded = read(data, "not an upload answer")?;
    let token = uploaded.doc_token.trim();
    if token.is_empty() {
        return Err(Error::Unreadable("an empty docToken"));
    }
    let signers = uploaded
        .recipients
        .unwrap_or_default()
        .into_iter()
        .filter(|r| is_signer(r.kind.as_deref()))
        .map(|r| DocumentSigner::new(r.privy_id, SigningState::Pending, r.magic_link))
        .collect();
    Ok(DocumentStatus::new(
        ProviderReference(token.to_owned()),
        DocumentState::Pending,
        uploaded.url_document,
        IN_PROGRESS,
    )
    .with_signers(signers))
}

/// A document status answer (2.7); only `Signer` recipients are listed.
pub(crate) fn document(
    doc_token: &ProviderReference,
    data: serde_json::Value,
) -> Result<DocumentStatus, Error> {
    let document: Document = read(data, "not a document status")?;
    let signers = document
        .recipients
        .unwrap_or_default()
        .into_iter()
        .filter(|r| is_signer(r.kind.as_deref()))
        .map(document_signer)
        .collect();
    let download = document
        .download
        .and_then(|d| d.url)
        .filter(|url| !url.trim().is_empty());
    Ok(DocumentStatus::new(
        doc_token.clone(),
        document_state(&document.document_status),
        document.url_document,
        document.document_status,
    )
    .with_signers(signers)
    .with_download_url(download))
}

fn document_signer(recipient: DocumentRecipient) -> DocumentSigner {
    let state = signing_state(recipient.signatory_status.as_deref().unwrap_or(""));
    DocumentSigner::new(recipient.privy_id, state, None)
}

/// `documentStatus` (2.7).
pub(crate) fn document_state(status: &str) -> DocumentState {
    match status {
        IN_PROGRESS => DocumentState::Pending,
        "Completed" => DocumentState::Signed,
        "Rejected" => DocumentState::Rejected { reason: None },
        "Expired" => DocumentState::Expired,
        _ => DocumentState::Unknown,
    }
}

/// `signatoryStatus` (2.7).
pub(crate) fn signing_state(status: &str) -> SigningState {
    match status {
        IN_PROGRESS => SigningState::Pending,
        "Completed" => SigningState::Signed,
        "Rejected" => SigningState::Rejected,
        _ => SigningState::Unknown,
    }
}

/// A recipient's `type` is `Signer` (an answer without types lists signers only).
fn is_signer(kind: Option<&str>) -> bool {
    kind.is_none_or(|kind| kind.eq_ignore_ascii_case("Signer"))
}

fn text(name: &'static str, value: String) -> Field {
    Field::Text { name, value }
}

fn json<T: Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|_| Error::Request("a JSON part cannot be written"))
}

fn read<T: DeserializeOwned>(data: serde_json::Value, what: &'static str) -> Result<T, Error> {
    serde_json::from_value(data).map_err(|_| Error::Unreadable(what))
}

/// A provider reference the gateway passed in, trimmed and non-empty.
fn reference<'a>(reference: &'a ProviderReference, empty: &'static str) -> Result<&'a str, Error> {
    let token = reference.as_str().trim();
    if token.is_empty() {
        return Err(Error::Request(empty));
    }
    Ok(token)
}

/// Our reference as a filename stem: unreserved characters only.
fn file_stem(reference: &str) -> String {
    let stem: String = reference
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() {
        "document".to_owned()
    } else {
        stem
    }
}

fn push_unique<T: PartialEq>(items: &mut Vec<T>, item: T) {
    if !items.contains(&item) {
        items.push(item);
    }
}

/// Adds `text`, trimmed, unless it is blank or already listed.
fn push_text(texts: &mut Vec<String>, text: &str) {
    let text = text.trim();
    if !text.is_empty() {
        push_unique(texts, text.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indonesian_e164_numbers_become_national() {
        assert_eq!(
            national_phone("+6281234567890").expect("ok"),
            "081234567890"
        );
        assert_eq!(
            national_phone(" +628123456789 ").expect("ok"),
            "08123456789"
        );
    }

    #[test]
    fn other_numbers_are_refused_without_echoing_them() {
        for raw in [
            "081234567890",
            "6281234567890",
            "+6581234567",
            "+62 812 3456 7890",
            "+62812",
            "+6281234567890123",
            "",
        ] {
            let err = national_phone(raw).expect_err(raw).to_string();
            assert!(raw.is_empty() || !err.contains(raw), "{err}");
        }
    }

    #[test]
    fn images_are_typed_by_their_magic_bytes() {
        let jpeg = Bytes::from_static(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]);
        let png = Bytes::from_static(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A]);
        let Ok(Field::File {
            file_name,
            content_type,
            ..
        }) = image("selfie", &jpeg)
        else {
            panic!("a file part");
        };
        assert_eq!(
            (file_name.as_str(), content_type),
            ("selfie.jpg", "image/jpeg")
        );
        let Ok(Field::File {
            file_name,
            content_type,
            ..
        }) = image("fileSupport[][attachment]", &png)
        else {
            panic!("a file part");
        };
        assert_eq!(
            (file_name.as_str(), content_type),
            ("attachment.png", "image/png")
        );
        for other in [
            Bytes::new(),
            Bytes::from_static(b"%PDF-1.7"),
            Bytes::from_static(b"GIF89a"),
            Bytes::from_static(&[0xFF, 0xD8]),
        ] {
            assert!(image("ktp", &other).is_err());
        }
    }

    fn reject(value: serde_json::Value) -> Option<Reject> {
        serde_json::from_value(value).expect("a reject object")
    }

    #[test]
    fn a_fixable_verdict_lists_reasons_and_what_to_resend() {
        let reject = reject(serde_json::json!({
            "code": "PRVS003",
            "reason": "Data tidak sesuai",
            "handlers": [
                {"category": "KTP", "handler": "Foto KTP buram"},
                {"category": "SELFIE", "handler": "Wajah tidak terlihat"},
                {"category": "KTP", "handler": "Foto KTP buram"},
                {"category": "FILE-SUPPORT", "handler": "",
                 "file_support": ["KK", {"category": "SIM"}, {"name": "PASPOR"}, 7, "KK"]},
                {"category": "VIDEO", "handler": "Data tidak sesuai"},
            ],
        }));
        let verdict = verdict(reject, true);
        assert_eq!(verdict.code.as_deref(), Some("PRVS003"));
        assert_eq!(
            verdict.reasons,
            [
                "Data tidak sesuai",
                "Foto KTP buram",
                "Wajah tidak terlihat"
            ]
        );
        assert_eq!(
            verdict.resubmit,
            [
                Resubmit::KtpImage,
                Resubmit::Selfie,
                Resubmit::SupportingDocument {
                    categories: vec!["KK".to_owned(), "SIM".to_owned(), "PASPOR".to_owned()]
                },
            ]
        );
    }

    #[test]
    fn a_final_verdict_keeps_reasons_and_asks_for_nothing() {
        let reject = reject(serde_json::json!({
            "code": "PRVS006", "reason": "KTP ditemukan di internet",
            "handlers": [{"category": "KTP", "handler": "Gunakan KTP asli"}],
        }));
        let verdict = verdict(reject, false);
        assert_eq!(verdict.code.as_deref(), Some("PRVS006"));
        assert_eq!(
            verdict.reasons,
            ["KTP ditemukan di internet", "Gunakan KTP asli"]
        );
        assert!(verdict.resubmit.is_empty());
        assert_eq!(super::verdict(None, true), Verdict::default());
    }

    #[test]
    fn document_and_signing_statuses_follow_the_tables() {
        assert_eq!(document_state("In Progress"), DocumentState::Pending);
        assert_eq!(document_state("Completed"), DocumentState::Signed);
        assert_eq!(
            document_state("Rejected"),
            DocumentState::Rejected { reason: None }
        );
        assert_eq!(document_state("Expired"), DocumentState::Expired);
        for other in ["completed", "Draft", ""] {
            assert_eq!(document_state(other), DocumentState::Unknown, "{other}");
        }
        assert_eq!(signing_state("In Progress"), SigningState::Pending);
        assert_eq!(signing_state("Completed"), SigningState::Signed);
        assert_eq!(signing_state("Rejected"), SigningState::Rejected);
        assert_eq!(signing_state("Expired"), SigningState::Unknown);
    }

    #[test]
    fn references_make_safe_file_names() {
        assert_eq!(file_stem("01JABCDXYZ"), "01JABCDXYZ");
        assert_eq!(file_stem("a/b\"c d"), "a_b_c_d");
        assert_eq!(file_stem(""), "document");
    }
}
