//! What the simulated PrivyID merchant holds: registrations and documents, and the only
//! transitions between their states (2.4, 2.5, 2.7).

use axum::body::Bytes;
use rand::Rng;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::wire::PrivyError;
use crate::callback::SimError;

/// A registration's `status` (2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UserStatus {
    /// Still being verified.
    Waiting,
    /// Verified; has a `privyId` and can sign.
    Verified,
    /// Already registered at Privy; has a `privyId` and can sign.
    Registered,
    /// Fixable: waits for what `reject.handlers` asks to be sent again (2.5).
    Invalid,
    /// Final.
    Rejected,
}

impl UserStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Verified => "verified",
            Self::Registered => "registered",
            Self::Invalid => "invalid",
            Self::Rejected => "rejected",
        }
    }

    /// Whether documents may name the user as a recipient.
    pub fn can_sign(self) -> bool {
        matches!(self, Self::Verified | Self::Registered)
    }
}

/// One `reject.handlers[]` entry: what an `invalid` user must send again, or (in
/// [`SimUser::resubmitted`]) what was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handler {
    /// A new KTP photo (`/reregister/ktp`).
    Ktp,
    /// A new selfie (`/reregister/selfie`).
    Selfie,
    /// A supporting document of one of these categories (`KK`, `SIM`, …)
    /// (`/reregister/file-support`).
    FileSupport(Vec<String>),
}

impl Handler {
    /// `KTP`, `SELFIE` or `FILE-SUPPORT`.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Ktp => "KTP",
            Self::Selfie => "SELFIE",
            Self::FileSupport(_) => "FILE-SUPPORT",
        }
    }

    fn instruction(&self) -> &'static str {
        match self {
            Self::Ktp => "The KTP photo is blurred or cut off. Please upload a new KTP photo.",
            Self::Selfie => {
                "The face in the selfie cannot be matched with the KTP. Please upload a new selfie."
            }
            Self::FileSupport(_) => "Please upload one of the supporting documents listed.",
        }
    }

    pub(super) fn wire(&self) -> Value {
        let mut handler = json!({"category": self.category(), "handler": self.instruction()});
        if let Self::FileSupport(categories) = self {
            handler["file_support"] = json!(categories);
        }
        handler
    }
}

/// The `reject` object of an `invalid` or `rejected` user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// `PRVS003` (invalid) or `PRVS006` (rejected).
    pub code: String,
    /// Why, in PrivyID's words.
    pub reason: String,
    /// What to send again (empty for `rejected`).
    pub handlers: Vec<Handler>,
}

/// One registration. `Debug` shows no personal data.
#[derive(Clone, PartialEq, Eq)]
pub struct SimUser {
    /// `userToken`: 64 lowercase hex characters.
    pub user_token: String,
    /// `privyId` (two capital letters and four digits), once verified or registered.
    pub privy_id: Option<String>,
    /// `userId` of callbacks, once verified or registered.
    pub user_id: u64,
    /// The current status.
    pub status: UserStatus,
    /// `email` as sent.
    pub email: String,
    /// `phone` as PrivyID echoes it, `+628…`.
    pub phone: String,
    /// `identity.nik`.
    pub nik: String,
    /// `identity.nama`.
    pub name: String,
    /// `identity.tanggalLahir`, `YYYY-MM-DD`.
    pub birth_date: String,
    /// The verdict of an `invalid` or `rejected` user.
    pub reject: Option<Reject>,
    /// How many re-registration requests were accepted.
    pub resubmissions: u32,
    /// What they sent, oldest first (a file-support entry names its one category).
    pub resubmitted: Vec<Handler>,
    /// When the registration was accepted.
    pub registered_at: OffsetDateTime,
    /// When the status last changed (`processedAt`); `None` before the first change.
    pub processed_at: Option<OffsetDateTime>,
    /// Re-registration is open: `invalid`, or `waiting` after a resubmission and before
    /// the next verdict (so every handler asked for can be sent, one request each).
    resubmitting: bool,
}

impl std::fmt::Debug for SimUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimUser")
            .field("user_token", &self.user_token)
            .field("privy_id", &self.privy_id)
            .field("status", &self.status)
            .field("reject", &self.reject)
            .field("resubmissions", &self.resubmissions)
            .field("resubmitted", &self.resubmitted)
            .finish_non_exhaustive()
    }
}

/// What a registration request brings (already validated).
pub(super) struct NewUser {
    pub(super) email: String,
    pub(super) phone: String,
    pub(super) nik: String,
    pub(super) name: String,
    pub(super) birth_date: String,
}

/// `docType` (2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocType {
    /// Signers sign in recipient order.
    Serial,
    /// Signers sign in any order.
    Parallel,
}

impl DocType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Serial => "Serial",
            Self::Parallel => "Parallel",
        }
    }
}

/// `documentStatus` (2.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentState {
    /// Waiting for signatures.
    InProgress,
    /// Every signer signed.
    Completed,
    /// A recipient refused.
    Rejected,
    /// Expired unsigned.
    Expired,
}

impl DocumentState {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "In Progress",
            Self::Completed => "Completed",
            Self::Rejected => "Rejected",
            Self::Expired => "Expired",
        }
    }

    /// `eventName` and `message` of the callback announcing this state.
    pub(super) fn event(self) -> (&'static str, &'static str) {
        match self {
            Self::InProgress | Self::Completed => ("document-signed", "Document Signed"),
            Self::Rejected => ("document-rejected", "Document Rejected"),
            Self::Expired => ("document-expired", "Document Expired"),
        }
    }
}

/// A recipient's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecipientType {
    /// Signs the document.
    Signer,
    /// Reviews it; not needed for completion.
    Reviewer,
}

impl RecipientType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signer => "Signer",
            Self::Reviewer => "Reviewer",
        }
    }
}

/// A recipient's `signatoryStatus` (2.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatoryStatus {
    /// Not acted yet.
    InProgress,
    /// Signed (or, for a reviewer, reviewed).
    Completed,
    /// Refused.
    Rejected,
}

impl SignatoryStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "In Progress",
            Self::Completed => "Completed",
            Self::Rejected => "Rejected",
        }
    }
}

/// Where a recipient signs: `signPage`, `posX`, `posY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Placement {
    /// 1-based page.
    pub page: u32,
    /// Horizontal position.
    pub x: u32,
    /// Vertical position.
    pub y: u32,
}

/// One recipient of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimRecipient {
    /// The recipient's `privyId`.
    pub privy_id: String,
    /// Signer or reviewer.
    pub kind: RecipientType,
    /// `enterpriseToken` as sent (empty for a person).
    pub enterprise_token: String,
    /// How far the recipient got.
    pub status: SignatoryStatus,
    /// Where the recipient signs, when the upload said.
    pub placement: Option<Placement>,
}

/// One uploaded document. `Debug` leaves the PDF out.
#[derive(Clone, PartialEq, Eq)]
pub struct SimDocument {
    /// `docToken`: 64 lowercase hex characters.
    pub doc_token: String,
    /// `documentTitle`.
    pub title: String,
    /// `docType`.
    pub doc_type: DocType,
    /// `documentStatus`.
    pub status: DocumentState,
    /// The recipients, in upload order.
    pub recipients: Vec<SimRecipient>,
    /// `templateId`, when sent.
    pub template_id: Option<String>,
    /// The PDF as uploaded.
    pub pdf: Bytes,
    /// When it was uploaded.
    pub uploaded_at: OffsetDateTime,
    /// The scheme and host the upload reached (`http://127.0.0.1:4010`): the root of
    /// `urlDocument`, magic links and the download URL.
    pub base_url: String,
}

impl std::fmt::Debug for SimDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDocument")
            .field("doc_token", &self.doc_token)
            .field("doc_type", &self.doc_type)
            .field("status", &self.status)
            .field("recipients", &self.recipients)
            .field("pdf_bytes", &self.pdf.len())
            .finish_non_exhaustive()
    }
}

impl SimDocument {
    /// `urlDocument`: `<base>/doc/<docToken>`.
    pub fn url_document(&self) -> String {
        format!("{}/doc/{}", self.base_url, self.doc_token)
    }

    /// A recipient's `magicLink`: `<base>/sign/<docToken>/<privyId>`.
    pub fn magic_link(&self, privy_id: &str) -> String {
        format!("{}/sign/{}/{privy_id}", self.base_url, self.doc_token)
    }

    /// `download.url` (`<base>/doc/<docToken>/download`), once completed.
    pub fn download_url(&self) -> Option<String> {
        (self.status == DocumentState::Completed)
            .then(|| format!("{}/download", self.url_document()))
    }

    fn recipient_index(&self, privy_id: &str) -> Result<usize, SimError> {
        self.recipients
            .iter()
            .position(|r| r.privy_id == privy_id)
            .ok_or_else(|| {
                SimError::NotFound(format!(
                    "recipient {privy_id} of document {}",
                    self.doc_token
                ))
            })
    }

    /// The recipient at `index` may act now: the document is in progress, the recipient
    /// has not acted, and in a serial document every earlier signer has signed.
    fn check_turn(&self, index: usize) -> Result<(), SimError> {
        if self.status != DocumentState::InProgress {
            return Err(wrong_state(
                &format!("document {} in progress", self.doc_token),
                self.status.as_str(),
            ));
        }
        let recipient = &self.recipients[index];
        if recipient.status != SignatoryStatus::InProgress {
            return Err(wrong_state(
                &format!("recipient {} yet to act", recipient.privy_id),
                recipient.status.as_str(),
            ));
        }
        let earlier_unsigned = self.recipients[..index]
            .iter()
            .any(|r| r.kind == RecipientType::Signer && r.status != SignatoryStatus::Completed);
        if self.doc_type == DocType::Serial
            && recipient.kind == RecipientType::Signer
            && earlier_unsigned
        {
            return Err(wrong_state(
                &format!("turn of {} on serial document", recipient.privy_id),
                "an earlier signer has not signed",
            ));
        }
        Ok(())
    }
}

/// An act asked of something in the wrong state. [`SimError`] names no such case, so it
/// is told as "nothing matches <what the act needs> (it is <state>)".
fn wrong_state(wanted: &str, state: &str) -> SimError {
    SimError::NotFound(format!("{wanted} (it is {state})"))
}

/// Every registration and document of the merchant.
#[derive(Default)]
pub(super) struct Book {
    pub(super) users: Vec<SimUser>,
    pub(super) documents: Vec<SimDocument>,
    next_user_id: u64,
}

impl Book {
    pub(super) fn user(&self, user_token: &str) -> Option<&SimUser> {
        self.users.iter().find(|u| u.user_token == user_token)
    }

    fn user_mut(&mut self, user_token: &str) -> Result<&mut SimUser, SimError> {
        self.users
            .iter_mut()
            .find(|u| u.user_token == user_token)
            .ok_or_else(|| SimError::NotFound(format!("registration {user_token}")))
    }

    /// A user who may be named as a recipient.
    pub(super) fn signer(&self, privy_id: &str) -> Option<&SimUser> {
        self.users
            .iter()
            .find(|u| u.status.can_sign() && u.privy_id.as_deref() == Some(privy_id))
    }

    /// An e-mail held by a registration that is not `rejected` (case-insensitive).
    pub(super) fn email_taken(&self, email: &str) -> bool {
        self.users
            .iter()
            .any(|u| u.status != UserStatus::Rejected && u.email.eq_ignore_ascii_case(email))
    }

    /// A NIK held by a registration that is not `rejected`.
    pub(super) fn nik_taken(&self, nik: &str) -> bool {
        self.users
            .iter()
            .any(|u| u.status != UserStatus::Rejected && u.nik == nik)
    }

    /// Keeps a new `waiting` registration and returns it.
    pub(super) fn register(&mut self, new: NewUser, now: OffsetDateTime) -> SimUser {
        let user = SimUser {
            user_token: hex::encode(rand::random::<[u8; 32]>()),
            privy_id: None,
            user_id: 0,
            status: UserStatus::Waiting,
            email: new.email,
            phone: new.phone,
            nik: new.nik,
            name: new.name,
            birth_date: new.birth_date,
            reject: None,
            resubmissions: 0,
            resubmitted: Vec::new(),
            registered_at: now,
            processed_at: None,
            resubmitting: false,
        };
        self.users.push(user.clone());
        user
    }

    /// A waiting user, for a verdict; `expected_resubmissions` guards a scheduled verdict
    /// against a resubmission that came after it was scheduled.
    fn waiting_user(
        &mut self,
        user_token: &str,
        expected_resubmissions: Option<u32>,
    ) -> Result<&mut SimUser, SimError> {
        let user = self.user_mut(user_token)?;
        if user.status != UserStatus::Waiting {
            return Err(wrong_state(
                &format!("waiting registration {user_token}"),
                user.status.as_str(),
            ));
        }
        if expected_resubmissions.is_some_and(|n| n != user.resubmissions) {
            return Err(wrong_state(
                &format!("verdict scheduled for registration {user_token}"),
                "resubmitted since",
            ));
        }
        Ok(user)
    }

    /// `waiting` → `verified` (or `registered`), with a fresh unique `privyId`.
    pub(super) fn verify(
        &mut self,
        user_token: &str,
        status: UserStatus,
        expected_resubmissions: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<(), SimError> {
        self.waiting_user(user_token, expected_resubmissions)?;
        let privy_id = self.new_privy_id();
        self.next_user_id += 1;
        let user_id = 100_000 + self.next_user_id;
        let user = self.user_mut(user_token)?;
        user.status = status;
        user.privy_id = Some(privy_id);
        user.user_id = user_id;
        user.reject = None;
        user.processed_at = Some(now);
        user.resubmitting = false;
        Ok(())
    }

    /// `waiting` → `invalid` or `rejected`, with its verdict.
    pub(super) fn refuse_user(
        &mut self,
        user_token: &str,
        status: UserStatus,
        reject: Reject,
        expected_resubmissions: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<(), SimError> {
        let user = self.waiting_user(user_token, expected_resubmissions)?;
        user.status = status;
        user.reject = Some(reject);
        user.processed_at = Some(now);
        user.resubmitting = false;
        Ok(())
    }

    /// Takes one re-registration request (2.5): only while re-registration is open.
    /// Returns whether the user just left `invalid` (a transition to announce).
    pub(super) fn resubmit(
        &mut self,
        user_token: &str,
        sent: Handler,
        now: OffsetDateTime,
    ) -> Result<bool, PrivyError> {
        self.check_resubmission_open(user_token)?;
        let user = self
            .users
            .iter_mut()
            .find(|u| u.user_token == user_token)
            .ok_or_else(PrivyError::user_not_found)?;
        let left_invalid = user.status == UserStatus::Invalid;
        user.status = UserStatus::Waiting;
        user.reject = None;
        user.resubmitting = true;
        user.resubmissions += 1;
        user.resubmitted.push(sent);
        if left_invalid {
            user.processed_at = Some(now);
        }
        Ok(left_invalid)
    }

    /// `404` for an unknown token; `422` `token` unless the user is `invalid`, or
    /// `waiting` after a resubmission and before the next verdict.
    pub(super) fn check_resubmission_open(&self, user_token: &str) -> Result<(), PrivyError> {
        let user = self
            .user(user_token)
            .ok_or_else(PrivyError::user_not_found)?;
        let open = user.status == UserStatus::Invalid
            || (user.status == UserStatus::Waiting && user.resubmitting);
        if open {
            Ok(())
        } else {
            Err(PrivyError::invalid("token", "User is not in invalid state"))
        }
    }

    /// Two capital letters and four digits, unused by any user.
    fn new_privy_id(&self) -> String {
        let mut rng = rand::rng();
        loop {
            let letters: String = (0..2)
                .map(|_| char::from(b'A' + rng.random_range(0..26u8)))
                .collect();
            let candidate = format!("{letters}{:04}", rng.random_range(0..10_000u32));
            if !self
                .users
                .iter()
                .any(|u| u.privy_id.as_deref() == Some(candidate.as_str()))
            {
                return candidate;
            }
        }
    }

    pub(super) fn document(&self, doc_token: &str) -> Option<&SimDocument> {
        self.documents.iter().find(|d| d.doc_token == doc_token)
    }

    fn document_mut(&mut self, doc_token: &str) -> Result<&mut SimDocument, SimError> {
        self.documents
            .iter_mut()
            .find(|d| d.doc_token == doc_token)
            .ok_or_else(|| SimError::NotFound(format!("document {doc_token}")))
    }

    /// A recipient signs (a reviewer: approves); the document completes when every signer
    /// has signed.
    pub(super) fn sign(&mut self, doc_token: &str, privy_id: &str) -> Result<(), SimError> {
        let document = self.document_mut(doc_token)?;
        let index = document.recipient_index(privy_id)?;
        document.check_turn(index)?;
        document.recipients[index].status = SignatoryStatus::Completed;
        let all_signed = document
            .recipients
            .iter()
            .filter(|r| r.kind == RecipientType::Signer)
            .all(|r| r.status == SignatoryStatus::Completed);
        if all_signed {
            document.status = DocumentState::Completed;
        }
        Ok(())
    }

    /// A recipient refuses: the document is rejected.
    pub(super) fn refuse_document(
        &mut self,
        doc_token: &str,
        privy_id: &str,
    ) -> Result<(), SimError> {
        let document = self.document_mut(doc_token)?;
        let index = document.recipient_index(privy_id)?;
        document.check_turn(index)?;
        document.recipients[index].status = SignatoryStatus::Rejected;
        document.status = DocumentState::Rejected;
        Ok(())
    }

    /// An unfinished document expires.
    pub(super) fn expire(&mut self, doc_token: &str) -> Result<(), SimError> {
        let document = self.document_mut(doc_token)?;
        if document.status != DocumentState::InProgress {
            return Err(wrong_state(
                &format!("document {doc_token} in progress"),
                document.status.as_str(),
            ));
        }
        document.status = DocumentState::Expired;
        Ok(())
    }
}
