//! PrivyID's JSON envelopes (provider notes 2.3 to 2.9 and the shared decisions): refusals,
//! successes, the `data` of status answers and the bodies of callbacks.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

use super::state::{SimDocument, SimUser, UserStatus};

/// `processedAt`: `2019-01-28 17:20:29 +0700` (2.9).
const PROCESSED_AT: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
);

/// One entry of `errors[]`: a field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct FieldError {
    pub(super) field: String,
    pub(super) messages: Vec<String>,
}

/// A refusal: `{"code":<status>,"errors":[{"field","messages"}],"message"}` (2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PrivyError {
    pub(super) status: StatusCode,
    pub(super) errors: Vec<FieldError>,
    pub(super) message: &'static str,
}

impl PrivyError {
    fn one(status: StatusCode, field: &str, text: &str, message: &'static str) -> Self {
        Self {
            status,
            errors: vec![FieldError {
                field: field.to_owned(),
                messages: vec![text.to_owned()],
            }],
            message,
        }
    }

    /// 401: Basic credentials or `Merchant-Key` missing or wrong.
    pub(super) fn unauthorized() -> Self {
        Self::one(
            StatusCode::UNAUTHORIZED,
            "authorization",
            "Invalid credentials",
            "Unauthorized",
        )
    }

    /// 404: no registration has this `userToken`.
    pub(super) fn user_not_found() -> Self {
        Self::one(
            StatusCode::NOT_FOUND,
            "token",
            "User not found",
            "Not found",
        )
    }

    /// 404: no document has this `docToken`.
    pub(super) fn document_not_found() -> Self {
        Self::one(
            StatusCode::NOT_FOUND,
            "docToken",
            "Document not found",
            "Not found",
        )
    }

    /// 422 with one entry.
    pub(super) fn invalid(field: &str, text: &str) -> Self {
        Self::one(
            StatusCode::UNPROCESSABLE_ENTITY,
            field,
            text,
            "Unprocessable Entity",
        )
    }

    /// 400: the body cannot be read as a form at all.
    pub(super) fn bad_body(text: &str) -> Self {
        Self::one(StatusCode::BAD_REQUEST, "body", text, "Bad Request")
    }

    /// 413: the body is over the transport limit.
    pub(super) fn too_large() -> Self {
        Self::one(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body",
            "is too large",
            "Payload Too Large",
        )
    }

    pub(super) fn body(&self) -> Value {
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|e| json!({"field": e.field, "messages": e.messages}))
            .collect();
        json!({"code": self.status.as_u16(), "errors": errors, "message": self.message})
    }
}

impl IntoResponse for PrivyError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body())
    }
}

/// Every problem of one request, one entry per field in the order first seen (422).
#[derive(Debug, Default)]
pub(super) struct Problems(Vec<FieldError>);

impl Problems {
    /// Adds `text` to `field`'s entry.
    pub(super) fn add(&mut self, field: &str, text: impl Into<String>) {
        let text = text.into();
        match self.0.iter_mut().find(|e| e.field == field) {
            Some(entry) => entry.messages.push(text),
            None => self.0.push(FieldError {
                field: field.to_owned(),
                messages: vec![text],
            }),
        }
    }

    /// Whether `field` has a problem already.
    pub(super) fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    /// Whether nothing was found.
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The 422 listing every problem.
    pub(super) fn into_error(self) -> PrivyError {
        PrivyError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors: self.0,
            message: "Unprocessable Entity",
        }
    }
}

/// A success: `{"code":<status>,"data":…,"message":…}`; `code` mirrors the HTTP status.
pub(super) fn success(status: StatusCode, data: Value, message: &str) -> Response {
    json_response(
        status,
        &json!({"code": status.as_u16(), "data": data, "message": message}),
    )
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

pub(super) fn processed_at(at: OffsetDateTime) -> String {
    // A fixed, literal description formats every valid date-time.
    at.to_offset(crate::wib::OFFSET)
        .format(PROCESSED_AT)
        .unwrap_or_default()
}

fn identity(user: &SimUser) -> Value {
    json!({"nama": user.name, "nik": user.nik, "tanggalLahir": user.birth_date})
}

fn reject(user: &SimUser) -> Option<Value> {
    let reject = user.reject.as_ref()?;
    let handlers: Vec<Value> = reject.handlers.iter().map(|h| h.wire()).collect();
    Some(json!({"code": reject.code, "reason": reject.reason, "handlers": handlers}))
}

/// `data` of a registration status answer (2.4).
pub(super) fn registration_status(user: &SimUser) -> Value {
    let mut data = Map::new();
    if let Some(privy_id) = &user.privy_id {
        data.insert("privyId".to_owned(), json!(privy_id));
    }
    data.insert("userToken".to_owned(), json!(user.user_token));
    data.insert("status".to_owned(), json!(user.status.as_str()));
    data.insert("email".to_owned(), json!(user.email));
    data.insert("phone".to_owned(), json!(user.phone));
    if let Some(at) = user.processed_at {
        data.insert("processedAt".to_owned(), json!(processed_at(at)));
    }
    data.insert("identity".to_owned(), identity(user));
    if let Some(reject) = reject(user) {
        data.insert("reject".to_owned(), reject);
    }
    Value::Object(data)
}

/// The `register` callback for the user's current state (2.9).
pub(super) fn register_callback(user: &SimUser) -> Value {
    let mut data = Map::new();
    if let Some(privy_id) = &user.privy_id {
        data.insert("privyId".to_owned(), json!(privy_id));
        data.insert("userId".to_owned(), json!(user.user_id));
    }
    data.insert("email".to_owned(), json!(user.email));
    data.insert("phone".to_owned(), json!(user.phone));
    let at = user.processed_at.unwrap_or(user.registered_at);
    data.insert("processedAt".to_owned(), json!(processed_at(at)));
    data.insert("userToken".to_owned(), json!(user.user_token));
    data.insert("status".to_owned(), json!(user.status.as_str()));
    let mut identity = identity(user);
    // The simulator is never told the place of birth Dukcapil would return.
    identity["tempatLahir"] = json!("");
    data.insert("identity".to_owned(), identity);
    if let Some(reject) = reject(user) {
        data.insert("reject".to_owned(), reject);
    }
    json!({
        "eventName": "register",
        "message": register_message(user.status),
        "data": Value::Object(data),
    })
}

fn register_message(status: UserStatus) -> &'static str {
    match status {
        UserStatus::Waiting => "User Waiting",
        UserStatus::Verified => "User Verified",
        UserStatus::Registered => "Data Verified",
        UserStatus::Invalid => "User Invalid",
        UserStatus::Rejected => "User Rejected",
    }
}

fn recipients(document: &SimDocument, with_links: bool) -> Vec<Value> {
    document
        .recipients
        .iter()
        .map(|r| {
            if with_links {
                json!({
                    "privyId": r.privy_id,
                    "type": r.kind.as_str(),
                    "enterpriseToken": r.enterprise_token,
                    "magicLink": document.magic_link(&r.privy_id),
                })
            } else {
                json!({
                    "privyId": r.privy_id,
                    "type": r.kind.as_str(),
                    "signatoryStatus": r.status.as_str(),
                })
            }
        })
        .collect()
}

/// `data` of the upload answer (2.6).
pub(super) fn uploaded(document: &SimDocument) -> Value {
    json!({
        "docToken": document.doc_token,
        "urlDocument": document.url_document(),
        "recipients": recipients(document, true),
    })
}

/// `data` of a document status answer (2.7).
pub(super) fn document_status(document: &SimDocument) -> Value {
    let mut data = json!({
        "docToken": document.doc_token,
        "urlDocument": document.url_document(),
        "documentStatus": document.status.as_str(),
        "recipients": recipients(document, false),
    });
    if let Some(url) = document.download_url() {
        data["download"] = json!({"url": url});
    }
    data
}

/// The document callback for the document's current state: `document-signed`,
/// `document-rejected` or `document-expired`.
pub(super) fn document_callback(document: &SimDocument) -> Value {
    let (event, message) = document.status.event();
    let mut data = json!({
        "docToken": document.doc_token,
        "documentStatus": document.status.as_str(),
        "recipients": recipients(document, false),
    });
    if let Some(url) = document.download_url() {
        data["download"] = json!({"url": url});
    }
    json!({"eventName": event, "message": message, "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_keep_one_entry_per_field_in_first_seen_order() {
        let mut problems = Problems::default();
        problems.add("email", "is invalid");
        problems.add("identity.nik", "must be 16 digits");
        problems.add("email", "has already been taken");
        assert!(problems.has("email"));
        assert!(!problems.is_empty());
        assert_eq!(
            problems.into_error().body(),
            json!({"code": 422, "errors": [
                {"field": "email", "messages": ["is invalid", "has already been taken"]},
                {"field": "identity.nik", "messages": ["must be 16 digits"]},
            ], "message": "Unprocessable Entity"})
        );
        assert!(Problems::default().is_empty());
    }

    #[test]
    fn processed_at_is_spaced_with_a_numeric_offset_in_wib() {
        let at = OffsetDateTime::from_unix_timestamp(1_548_670_829).expect("valid timestamp");
        assert_eq!(processed_at(at), "2019-01-28 17:20:29 +0700");
    }
}
