//! Request and answer bodies as the v3 merchant API spells them (2.3 – 2.7, 2.9).
//!
//! Only what the adapter uses is read: personal data in answers (`email`, `phone`,
//! `identity`) is never deserialized. Types that hold personal data have no `Debug`.

use serde::{Deserialize, Serialize};

/// The `identity` text part of a registration (2.3). Personal data.
#[derive(Serialize)]
pub(crate) struct Identity<'a> {
    pub(crate) nik: &'a str,
    pub(crate) nama: &'a str,
    /// `YYYY-MM-DD`.
    #[serde(rename = "tanggalLahir")]
    pub(crate) tanggal_lahir: String,
}

/// The `owner` text part of an upload (2.6).
#[derive(Serialize)]
pub(crate) struct Owner<'a> {
    #[serde(rename = "privyId")]
    pub(crate) privy_id: &'a str,
    #[serde(rename = "enterpriseToken")]
    pub(crate) enterprise_token: &'a str,
}

/// One entry of the `recipients` text part of an upload (2.6), with the placement keys
/// `signPage`, `posX`, `posY` (our reading; PrivyID's v1.9.2 names are not public).
#[derive(Serialize)]
pub(crate) struct Recipient<'a> {
    #[serde(rename = "privyId")]
    pub(crate) privy_id: &'a str,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    #[serde(rename = "enterpriseToken")]
    pub(crate) enterprise_token: &'static str,
    #[serde(rename = "signPage")]
    pub(crate) sign_page: u32,
    #[serde(rename = "posX")]
    pub(crate) pos_x: u32,
    #[serde(rename = "posY")]
    pub(crate) pos_y: u32,
}

/// Every answer: `{"code", "data"?, "message"?}`; errors add `errors[]`.
#[derive(Deserialize)]
pub(crate) struct Envelope {
    #[serde(default)]
    pub(crate) code: Option<i64>,
    #[serde(default)]
    pub(crate) data: Option<serde_json::Value>,
}

/// An error answer (2.3): `{"code", "errors": [{"field", "messages"}], "message"}`.
#[derive(Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub(crate) errors: Option<Vec<FieldError>>,
    #[serde(default)]
    pub(crate) message: Option<String>,
}

/// One `errors[]` entry.
#[derive(Deserialize)]
pub(crate) struct FieldError {
    #[serde(default)]
    pub(crate) field: Option<String>,
    #[serde(default)]
    pub(crate) messages: Option<Vec<String>>,
}

/// `data` of a registration (2.3). `email` and `phone` are not read.
#[derive(Debug, Deserialize)]
pub(crate) struct Registered {
    #[serde(rename = "userToken")]
    pub(crate) user_token: String,
    #[serde(default)]
    pub(crate) status: Option<String>,
}

/// `data` of a registration status (2.4). `email`, `phone` and `identity` are not read.
#[derive(Debug, Deserialize)]
pub(crate) struct Registration {
    #[serde(default, rename = "privyId")]
    pub(crate) privy_id: Option<String>,
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) reject: Option<Reject>,
}

/// `reject` of an `invalid` or `rejected` registration (2.4).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Reject {
    #[serde(default)]
    pub(crate) code: Option<String>,
    #[serde(default)]
    pub(crate) reason: Option<String>,
    #[serde(default)]
    pub(crate) handlers: Option<Vec<Handler>>,
}

/// One `reject.handlers[]` entry: what to send again (2.4).
#[derive(Debug, Deserialize)]
pub(crate) struct Handler {
    /// `KTP`, `SELFIE` or `FILE-SUPPORT`.
    #[serde(default)]
    pub(crate) category: Option<String>,
    /// The instruction, as PrivyID words it.
    #[serde(default)]
    pub(crate) handler: Option<String>,
    /// The accepted supporting-document categories, for `FILE-SUPPORT`.
    #[serde(default)]
    pub(crate) file_support: Option<Vec<FileSupport>>,
}

/// A `file_support[]` entry: a category name, or an object naming one.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum FileSupport {
    Name(String),
    Object {
        #[serde(default)]
        category: Option<String>,
        #[serde(default)]
        name: Option<String>,
    },
    /// Anything else: skipped.
    Other(serde::de::IgnoredAny),
}

/// `data` of an upload (2.6).
#[derive(Debug, Deserialize)]
pub(crate) struct Uploaded {
    #[serde(rename = "docToken")]
    pub(crate) doc_token: String,
    #[serde(default, rename = "urlDocument")]
    pub(crate) url_document: Option<String>,
    #[serde(default)]
    pub(crate) recipients: Option<Vec<UploadedRecipient>>,
}

/// One `recipients[]` entry of an upload answer.
#[derive(Debug, Deserialize)]
pub(crate) struct UploadedRecipient {
    #[serde(rename = "privyId")]
    pub(crate) privy_id: String,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default, rename = "magicLink")]
    pub(crate) magic_link: Option<String>,
}

/// `data` of a document status (2.7).
#[derive(Debug, Deserialize)]
pub(crate) struct Document {
    #[serde(default, rename = "urlDocument")]
    pub(crate) url_document: Option<String>,
    #[serde(rename = "documentStatus")]
    pub(crate) document_status: String,
    #[serde(default)]
    pub(crate) recipients: Option<Vec<DocumentRecipient>>,
    #[serde(default)]
    pub(crate) download: Option<Download>,
}

/// One `recipients[]` entry of a document status.
#[derive(Debug, Deserialize)]
pub(crate) struct DocumentRecipient {
    #[serde(rename = "privyId")]
    pub(crate) privy_id: String,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default, rename = "signatoryStatus")]
    pub(crate) signatory_status: Option<String>,
}

/// `download` of a completed document.
#[derive(Debug, Deserialize)]
pub(crate) struct Download {
    #[serde(default)]
    pub(crate) url: Option<String>,
}

/// A callback (2.9): `{"eventName", "message", "data"}`.
#[derive(Deserialize)]
pub(crate) struct Callback {
    #[serde(rename = "eventName")]
    pub(crate) event_name: String,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) data: Option<CallbackData>,
}

/// `data` of a callback: the tokens and statuses only. `email`, `phone`, `identity` and
/// `reject` are not read.
#[derive(Deserialize)]
pub(crate) struct CallbackData {
    #[serde(default, rename = "docToken")]
    pub(crate) doc_token: Option<String>,
    #[serde(default, rename = "userToken")]
    pub(crate) user_token: Option<String>,
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default, rename = "processedAt")]
    pub(crate) processed_at: Option<String>,
    #[serde(default, rename = "documentStatus")]
    pub(crate) document_status: Option<String>,
    #[serde(default)]
    pub(crate) recipients: Option<Vec<CallbackRecipient>>,
}

/// One `recipients[]` entry of a document callback.
#[derive(Deserialize)]
pub(crate) struct CallbackRecipient {
    #[serde(default, rename = "signatoryStatus")]
    pub(crate) signatory_status: Option<String>,
}

/// An OAuth2 token response (RFC 6749 §5.1).
#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    pub(crate) access_token: String,
    pub(crate) token_type: String,
    /// Seconds; a number, or a numeric string as some servers send it.
    #[serde(default)]
    pub(crate) expires_in: Option<serde_json::Value>,
}
