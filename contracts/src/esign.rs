//! E-signature: register signers (identity verification by the provider) and have
//! documents signed. Identity data is personal data: adapters forward it and keep nothing.

use async_trait::async_trait;
use bytes::Bytes;
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

/// The provider's view of a signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerState {
    /// Waiting for the provider's verification.
    Pending,
    /// Verified: can sign.
    Verified,
    /// Data was wrong but fixable: register again with corrected data.
    Invalid {
        /// The provider's reasons.
        reasons: Vec<String>,
    },
    /// Refused for good.
    Rejected {
        /// The provider's reasons.
        reasons: Vec<String>,
    },
    /// A code we do not know: never final.
    Unknown,
}

/// A registered signer as the provider knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignerStatus {
    /// The provider's token or id for the signer.
    pub provider_reference: ProviderReference,
    /// Its state.
    pub state: SignerState,
}

impl SignerStatus {
    /// A status.
    pub fn new(provider_reference: ProviderReference, state: SignerState) -> Self {
        SignerStatus {
            provider_reference,
            state,
        }
    }
}

/// Where a signer signs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignaturePlacement {
    /// The signer's provider reference.
    pub signer: ProviderReference,
    /// 1-based page.
    pub page: u32,
    /// Horizontal position, in the provider's units.
    pub x: u32,
    /// Vertical position.
    pub y: u32,
}

impl SignaturePlacement {
    /// A placement.
    pub fn new(signer: ProviderReference, page: u32, x: u32, y: u32) -> Self {
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
    /// Who signs where.
    pub signers: Vec<SignaturePlacement>,
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
        }
    }
}

/// The provider's view of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// A document as the provider knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DocumentStatus {
    /// The provider's id.
    pub provider_reference: ProviderReference,
    /// Its state.
    pub state: DocumentState,
    /// Where signers sign, when the provider gives a URL.
    pub sign_url: Option<String>,
}

impl DocumentStatus {
    /// A status.
    pub fn new(
        provider_reference: ProviderReference,
        state: DocumentState,
        sign_url: Option<String>,
    ) -> Self {
        DocumentStatus {
            provider_reference,
            state,
            sign_url,
        }
    }
}

/// Register signers and have documents signed at one provider instance.
#[async_trait]
pub trait ESignature: Send + Sync + std::fmt::Debug {
    /// Registers a signer (or registers again after an `Invalid` verdict).
    async fn register_signer(
        &self,
        request: &RegisterSigner,
    ) -> Result<SignerStatus, ProviderError>;

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
