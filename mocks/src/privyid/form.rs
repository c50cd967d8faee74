//! Reading a request body as a form: `multipart/form-data`, what the v3 API documents
//! (2.1), or `application/x-www-form-urlencoded`, what `privy-python-sdk` sends for the
//! calls that carry no file (registration status, document status).

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};

use super::wire::PrivyError;

/// One part of a form. A part with a file name is a file upload; one without is text
/// (as Rack reads multipart bodies).
#[derive(Clone)]
pub(super) struct Part {
    pub(super) name: String,
    pub(super) file_name: Option<String>,
    pub(super) bytes: Bytes,
}

/// Every part of a request body, in order.
#[derive(Clone, Default)]
pub(super) struct Form {
    parts: Vec<Part>,
}

impl Form {
    /// The first text part called `name`; `None` when absent, not text or not UTF-8.
    pub(super) fn text(&self, name: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|p| p.name == name && p.file_name.is_none())
            .and_then(|p| std::str::from_utf8(&p.bytes).ok())
    }

    /// The first part called `name`, file or text.
    pub(super) fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }
}

/// Reads the whole body of `request` as a form. A body of any other content type (or
/// none, as on `GET`) reads as an empty form, so the fields it lacks are reported one by
/// one.
pub(super) async fn read(request: Request) -> Result<Form, PrivyError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        read_multipart(request).await
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        read_urlencoded(request).await
    } else {
        Ok(Form::default())
    }
}

async fn read_multipart(request: Request) -> Result<Form, PrivyError> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|_| PrivyError::bad_body("has no multipart boundary"))?;
    let mut parts = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) => return Err(body_error(err.status())),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field
            .bytes()
            .await
            .map_err(|err| body_error(err.status()))?;
        parts.push(Part {
            name,
            file_name,
            bytes,
        });
    }
    Ok(Form { parts })
}

fn body_error(status: StatusCode) -> PrivyError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        PrivyError::too_large()
    } else {
        PrivyError::bad_body("is not a valid form body")
    }
}

async fn read_urlencoded(request: Request) -> Result<Form, PrivyError> {
    let body = Bytes::from_request(request, &())
        .await
        .map_err(|rejection| body_error(rejection.status()))?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PrivyError::bad_body("is not a valid form"))?;
    let parts = pairs
        .into_iter()
        .map(|(name, value)| Part {
            name,
            file_name: None,
            bytes: Bytes::from(value),
        })
        .collect();
    Ok(Form { parts })
}
