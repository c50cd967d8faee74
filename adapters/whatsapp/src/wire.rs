//! Request and answer bodies as the Cloud API spells them (3.2, 3.3, 3.4, 3.7).

use serde::{Deserialize, Serialize};

/// `POST /{version}/{phone-number-id}/messages` with a template (3.2).
#[derive(Clone, Serialize)]
pub(crate) struct TemplateSend<'a> {
    pub(crate) messaging_product: &'static str,
    pub(crate) recipient_type: &'static str,
    /// Digits only. Personal data: this struct has no `Debug`.
    pub(crate) to: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) template: Template<'a>,
}

/// The `template` object (3.2).
#[derive(Clone, Serialize)]
pub(crate) struct Template<'a> {
    pub(crate) name: &'a str,
    pub(crate) language: Language<'a>,
    /// `[]` for a template without parameters (3.2, as clients send it).
    pub(crate) components: Vec<Component<'a>>,
}

/// `language{code}` (3.2).
#[derive(Clone, Serialize)]
pub(crate) struct Language<'a> {
    pub(crate) code: &'a str,
}

/// A template component: the body, or a button (3.2).
#[derive(Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Component<'a> {
    /// `{"type":"body","parameters":[…]}`.
    Body { parameters: Vec<Parameter<'a>> },
    /// `{"type":"button","sub_type":"url","index":"0","parameters":[…]}`: the copy-code
    /// button of an authentication template, stored by Meta as a URL button.
    Button {
        sub_type: &'static str,
        /// A string: Cloud API examples show `"0"` (3.2).
        index: &'static str,
        parameters: Vec<Parameter<'a>>,
    },
}

/// A text parameter `{"type":"text","text":…}`.
#[derive(Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Parameter<'a> {
    Text { text: &'a str },
}

/// A successful send (3.3).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct SendAnswer {
    #[serde(default)]
    pub(crate) messages: Vec<SentId>,
}

/// `messages[]` of a successful send.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct SentId {
    /// The `wamid.…`.
    pub(crate) id: String,
    /// `accepted`, or a paused / held value (3.3, 3.10 #2); informational.
    #[serde(default)]
    pub(crate) message_status: Option<String>,
}

/// The Graph error envelope (3.4).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ErrorEnvelope {
    pub(crate) error: GraphError,
}

/// `error` of the Graph envelope. `message`, `error_user_*` and `error_data` are not
/// read: they may quote the request, and the code is what Meta advises to branch on.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct GraphError {
    pub(crate) code: i64,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) error_subcode: Option<i64>,
    #[serde(default)]
    pub(crate) fbtrace_id: Option<String>,
}

/// A webhook delivery (3.7).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Webhook {
    pub(crate) entry: Vec<Entry>,
}

/// `entry[]`.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Entry {
    #[serde(default)]
    pub(crate) changes: Vec<Change>,
}

/// `entry[].changes[]`.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Change {
    #[serde(default)]
    pub(crate) value: Option<ChangeValue>,
}

/// `changes[].value`. `messages`, `contacts` and `metadata` are not read.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ChangeValue {
    /// Kept raw: each one is the payload of its event.
    #[serde(default)]
    pub(crate) statuses: Vec<serde_json::Value>,
    /// Failures without message context (3.7).
    #[serde(default)]
    pub(crate) errors: Vec<StatusError>,
}

/// One `statuses[]` object (3.7). Holds the recipient id: no `Debug` that shows it.
#[derive(Clone, Deserialize)]
pub(crate) struct Status {
    pub(crate) id: String,
    pub(crate) status: String,
    /// Unix seconds, as a string (3.7); a number is read too.
    #[serde(default)]
    pub(crate) timestamp: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) errors: Vec<StatusError>,
}

/// `statuses[].errors[]` and `value.errors[]` (3.7).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct StatusError {
    pub(crate) code: i64,
    #[serde(default)]
    pub(crate) title: Option<String>,
}
