//! `ApiError`: every error the unified API returns, as RFC 9457 `application/problem+json`
//! with a stable `code`. Internal details (database messages, provider secrets) never
//! reach the body; they are logged with the request id instead.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::store::StoreError;

/// One invalid field.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field's path (`customer.name`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The problem document (for the OpenAPI description).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Stable machine-readable code.
    pub code: String,
    /// Explanation of this occurrence.
    pub detail: String,
    /// The request id.
    pub request_id: Option<String>,
    /// Invalid fields, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// Marks a response the idempotency layer must not store (validation errors).
#[derive(Clone, Copy, Debug)]
pub struct DoNotStore;

/// An API error (boxed: it travels through every handler's `Result`).
#[derive(Debug)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    extra: Option<Value>,
    retry_after: Option<u64>,
    store: bool,
}

impl ApiError {
    /// An error with `status`, stable `code`, a title and a detail.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError(Box::new(Inner {
            status,
            code,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            extra: None,
            retry_after: None,
            store: true,
        }))
    }

    /// 422 `validation_failed` listing each bad field. Never stored for idempotency.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Invalid request",
            detail,
        );
        e.0.errors = errors;
        e.0.store = false;
        e
    }

    /// 400 `malformed_request` (unreadable JSON). Never stored.
    pub fn malformed(detail: impl Into<String>) -> Self {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "Malformed request",
            detail,
        );
        e.0.store = false;
        e
    }

    /// 404 `not_found`: also the answer for another client's resource.
    pub fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            format!("no such {what}"),
        )
    }

    /// 401 with `code`; never stored.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, code, "Unauthorized", detail);
        e.0.store = false;
        e
    }

    /// 429 `rate_limited` with `Retry-After`; never stored.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests",
            "request rate limit exceeded",
        );
        e.0.retry_after = Some(retry_after_secs.max(1));
        e.0.store = false;
        e
    }

    /// 500 `internal_error`; the cause is logged, not shown.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal error",
            "the gateway failed to handle the request",
        )
    }

    /// 503 `storage_unavailable`: the database cannot take the write now.
    pub fn storage(cause: &StoreError) -> Self {
        tracing::error!(error = %cause, "storage error");
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "Storage unavailable",
            "the gateway cannot store the request right now; retry",
        );
        e.0.retry_after = Some(1);
        e.0.store = false;
        e
    }

    /// Adds members to the problem document (e.g. the existing resource's id).
    pub fn with_extra(mut self, extra: Value) -> Self {
        self.0.extra = Some(extra);
        self
    }

    /// Adds a `Retry-After`.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.0.retry_after = Some(secs);
        self
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The detail text.
    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    /// The `id` member added with [`ApiError::with_extra`], if any.
    pub fn resource_id(&self) -> Option<String> {
        self.0
            .extra
            .as_ref()?
            .get("id")?
            .as_str()
            .map(str::to_owned)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::storage(&e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = *self.0;
        let mut body = json!({
            "type": format!("https://errors.gateway.local/{}", this.code),
            "title": this.title,
            "status": this.status.as_u16(),
            "code": this.code,
            "detail": this.detail,
        });
        if !this.errors.is_empty() {
            body["errors"] = json!(this.errors);
        }
        if let (Some(Value::Object(extra)), Some(map)) = (this.extra, body.as_object_mut()) {
            for (k, v) in extra {
                map.entry(k).or_insert(v);
            }
        }
        let mut response = (this.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(v) = this
            .retry_after
            .and_then(|s| HeaderValue::from_str(&s.to_string()).ok())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if !this.store {
            response.extensions_mut().insert(DoNotStore);
        }
        response
    }
}

/// Adds `request_id` to problem documents on the way out, so every error names the request
/// it answers (the id is known only at the edge).
pub async fn add_request_id(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    match (is_problem, request_id) {
        (true, Some(id)) => with_request_id(response, id).await,
        _ => response,
    }
}

async fn with_request_id(response: Response, id: String) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let mut value: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({}));
    if let Some(map) = value.as_object_mut() {
        map.insert("request_id".into(), Value::String(id));
    }
    let text = value.to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(text))
}
