//! E-signature: register signers (identity verification by the provider) and have
//! documents signed. Identity data is personal data: adapters forward it and keep nothing.

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::{OurReference, ProviderError, ProviderReference};

/// A signer to register. `Debug` shows no personal data.
#[derive(Clone)]
#[non_exhaustive]
pub struct RegisterSigner {
    /// Our reference (the signer's gateway id).
    pub reference: OurReference,
    /// The 16-digit NIK from the KTP.
    pub nik: String,
    /// Full name as on the KTP.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Phone number, E.164.
    pub phone: String,
    /// Date of birth.
    pub birth_date: Date,
    /// Selfie image bytes.
    pub selfie: Bytes,
    /// KTP image bytes.
    pub ktp_image: Bytes,
}

impl RegisterSigner {
    /// A registration request.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        reference: OurReference,
        nik: String,
        name: String,
        email: String,
        phone: String,
        birth_date: Date,
        selfie: Bytes,
        ktp_image: Bytes,
    ) -> Self {
        RegisterSigner {
            reference,
            nik,
            name,
            email,
            phone,
            birth_date,
            selfie,
            ktp_image,
        }
    }
}

impl std::fmt::Debug for RegisterSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterSigner")
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

/// What the provider wants sent again before it verifies a signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum Resubmit {
    /// A new photo of the KTP.
    KtpImage,
    /// A new selfie.
    Selfie,
    /// A supporting document of one of these categories (PrivyID `KK`, `SIM`, …).
    SupportingDocument {
        /// The categories the provider accepts, as it names them.
        categories: Vec<String>,
    },
}

/// Why the provider did not verify a signer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Verdict {
    /// The provider's code (PrivyID `PRVS003`), when it gives one.
    pub code: Option<String>,
    /// The provider's reasons, as it words them.
    pub reasons: Vec<String>,
    /// What to send again (only for a fixable verdict).
    pub resubmit: Vec<Resubmit>,
}

impl Verdict {
    /// A verdict.
    pub fn new(code: Option<String>, reasons: Vec<String>, resubmit: Vec<Resubmit>) -> Self {
        Verdict {
            code,
            reasons,
            resubmit,
        }
    }
}

/// The provider's view of a signer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignerState {
    /// Waiting for the provider's verification.
    Pending,
    /// Verified: can sign.
    Verified,
    /// Data was wrong but fixable: send again what the verdict names.
    Invalid(Verdict),
    /// Refused for good.
    Rejected(Verdict),
    /// A code we do not know: never final.
    Unknown,
}

/// A registered signer as the provider knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignerStatus {
    /// The provider's handle on the registration (PrivyID `userToken`): what status
    /// inquiries and re-registration name.
    pub provider_reference: ProviderReference,
    /// The signer's identity at the provider once verified (PrivyID `privyId`): what
    /// documents name as recipients.
    pub signer_id: Option<String>,
    /// Its state.
    pub state: SignerState,
    /// The provider's raw status, for operators.
    pub provider_status: String,
}

impl SignerStatus {
    /// A status.
    pub fn new(
        provider_reference: ProviderReference,
        signer_id: Option<String>,
        state: SignerState,
        provider_status: impl Into<String>,
    ) -> Self {
        SignerStatus {
            provider_reference,
            signer_id,
            state,
            provider_status: provider_status.into(),
        }
    }
}

/// A supporting document sent with a re-registration.
#[derive(Clone)]
#[non_exhaustive]
pub struct SupportingDocument {
    /// Its category, as the provider names it (`KK`, `SIM`, …).
    pub category: String,
    /// The image bytes.
    pub image: Bytes,
}

impl SupportingDocument {
    /// A supporting document.
    pub fn new(category: String, image: Bytes) -> Self {
        SupportingDocument { category, image }
    }
}

impl std::fmt::Debug for SupportingDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupportingDocument")
            .field("category", &self.category)
            .field("bytes", &self.image.len())
            .finish()
    }
}

/// What a signer found `Invalid` sends again. `Debug` shows no personal data.
#[derive(Clone)]
#[non_exhaustive]
pub struct Resubmission {
    /// The registration ([`SignerStatus::provider_reference`]).
    pub provider_reference: ProviderReference,
    /// A new KTP photo.
    pub ktp_image: Option<Bytes>,
    /// A new selfie.
    pub selfie: Option<Bytes>,
    /// Supporting documents.
    pub supporting: Vec<SupportingDocument>,
}

impl Resubmission {
    /// A resubmission.
    pub fn new(
        provider_reference: ProviderReference,
        ktp_image: Option<Bytes>,
        selfie: Option<Bytes>,
        supporting: Vec<SupportingDocument>,
    ) -> Self {
        Resubmission {
            provider_reference,
            ktp_image,
            selfie,
            supporting,
        }
    }
}

impl std::fmt::Debug for Resubmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resubmission")
            .field("ktp_image", &self.ktp_image.is_some())
            .field("selfie", &self.selfie.is_some())
            .field("supporting", &self.supporting)
            .finish_non_exhaustive()
    }
}

/// Where a signer signs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignaturePlacement {
    /// The signer's identity at the provider ([`SignerStatus::signer_id`], PrivyID
    /// `privyId`).
    pub signer: String,
    /// 1-based page.
    pub page: u32,
    /// Horizontal position, in the provider's units.
    pub x: u32,
    /// Vertical position.
    pub y: u32,
}

impl SignaturePlacement {
    /// A placement.
    pub fn new(signer: String, page: u32, x: u32, y: u32) -> Self {
        SignaturePlacement { signer, page, x, y }
    }
}

/// A document to have signed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct UploadDocument {
    /// Our reference.
    pub reference: OurReference,
    /// The title.
    pub title: String,
    /// The PDF bytes.
    pub pdf: Bytes,
    /// Who signs where, in signing order.
    pub signers: Vec<SignaturePlacement>,
    /// Whether signers sign one after another in the order given (PrivyID `Serial`)
    /// rather than in any order (`Parallel`).
    pub in_order: bool,
}

impl UploadDocument {
    /// An upload request.
    pub fn new(
        reference: OurReference,
        title: String,
        pdf: Bytes,
        signers: Vec<SignaturePlacement>,
    ) -> Self {
        UploadDocument {
            reference,
            title,
            pdf,
            signers,
            in_order: false,
        }
    }

    /// Signers sign one after another in the order given.
    pub fn in_order(mut self, in_order: bool) -> Self {
        self.in_order = in_order;
        self
    }
}

/// The provider's view of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocumentState {
    /// Waiting for signatures.
    Pending,
    /// Signed by everyone.
    Signed,
    /// Refused by a signer or the provider.
    Rejected {
        /// Why.
        reason: Option<String>,
    },
    /// Expired unsigned.
    Expired,
    /// A code we do not know: never final.
    Unknown,
}

/// How far one signer of a document got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SigningState {
    /// Not signed yet.
    Pending,
    /// Signed.
    Signed,
    /// Refused to sign.
    Rejected,
    /// A code we do not know.
    Unknown,
}

/// One signer of a document as the provider reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DocumentSigner {
    /// The signer's identity at the provider (PrivyID `privyId`).
    pub signer: String,
    /// How far they got.
    pub state: SigningState,
    /// Where this signer signs, when the provider gives each signer a link.
    pub sign_url: Option<String>,
}

impl DocumentSigner {
    /// A document signer.
    pub fn new(signer: String, state: SigningState, sign_url: Option<String>) -> Self {
        DocumentSigner {
            signer,
            state,
            sign_url,
        }
    }
}

/// A document as the provider knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DocumentStatus {
    /// The provider's id (PrivyID `docToken`).
    pub provider_reference: ProviderReference,
    /// Its state.
    pub state: DocumentState,
    /// Where signers sign, when the provider gives a URL.
    pub sign_url: Option<String>,
    /// Each signer's progress, when the provider reports it.
    pub signers: Vec<DocumentSigner>,
    /// Where the signed document can be fetched, once signed.
    pub download_url: Option<String>,
    /// The provider's raw status, for operators.
    pub provider_status: String,
}

impl DocumentStatus {
    /// A status.
    pub fn new(
        provider_reference: ProviderReference,
        state: DocumentState,
        sign_url: Option<String>,
        provider_status: impl Into<String>,
    ) -> Self {
        DocumentStatus {
            provider_reference,
            state,
            sign_url,
            signers: Vec::new(),
            download_url: None,
            provider_status: provider_status.into(),
        }
    }

    /// Sets each signer's progress.
    pub fn with_signers(mut self, signers: Vec<DocumentSigner>) -> Self {
        self.signers = signers;
        self
    }

    /// Sets the download URL.
    pub fn with_download_url(mut self, url: Option<String>) -> Self {
        self.download_url = url;
        self
    }
}

/// Register signers and have documents signed at one provider instance.
#[async_trait]
pub trait ESignature: Send + Sync + std::fmt::Debug {
    /// Registers a signer. The identity and images are sent once: after an ambiguous
    /// error the registration may exist, and nothing here can look it up by our reference.
    async fn register_signer(
        &self,
        request: &RegisterSigner,
    ) -> Result<SignerStatus, ProviderError>;

    /// Sends again what an `Invalid` verdict asked for; the signer is pending again.
    async fn resubmit_signer(&self, request: &Resubmission) -> Result<(), ProviderError>;

    /// Asks for a signer's verification status.
    async fn signer_status(
        &self,
        signer: &ProviderReference,
    ) -> Result<SignerStatus, ProviderError>;

    /// Uploads a document with its signers.
    async fn upload_document(
        &self,
        request: &UploadDocument,
    ) -> Result<DocumentStatus, ProviderError>;

    /// Asks for a document's status.
    async fn document_status(
        &self,
        document: &ProviderReference,
    ) -> Result<DocumentStatus, ProviderError>;
}
