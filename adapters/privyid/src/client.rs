//! HTTP plumbing: URLs under the base URL, the `Merchant-Key` and `Authorization` headers
//! (2.2), multipart bodies built afresh for each attempt, the per-exchange deadline, a capped
//! body read, the one resend after a refused OAuth2 token, and the first reading of the
//! answer (HTTP status, body `code`, `errors[]`).

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderValue;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, RequestBuilder};
use secrecy::ExposeSecret;
use url::Url;

use crate::auth::{self, Authenticate, Credential};
use crate::config::{Config, ConfigError};
use crate::error::{Error, Operation};
use crate::wire::{Envelope, ErrorBody};

/// The most of an answer the adapter reads; PrivyID answers are a few kilobytes.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The longest provider text copied into an error message.
const MAX_DETAIL_CHARS: usize = 300;

/// One part of a multipart body. Values may be personal data: no `Debug`.
pub(crate) enum Field {
    /// A text part (JSON-valued fields are text parts, 2.1).
    Text { name: &'static str, value: String },
    /// A file part with its filename and content type.
    File {
        name: &'static str,
        file_name: String,
        content_type: &'static str,
        bytes: Bytes,
    },
}

/// A request to the merchant API, kept so that it can be sent twice. Holds personal data:
/// no `Debug`.
pub(crate) struct Call {
    pub(crate) method: Method,
    /// Path segments under the base URL, each percent-encoded as needed.
    pub(crate) segments: Vec<String>,
    /// The multipart body; `None` sends no body.
    pub(crate) fields: Option<Vec<Field>>,
    /// The `Token` header of re-registration (2.5).
    pub(crate) user_token: Option<HeaderValue>,
}

impl Call {
    /// A multipart `POST` to `path` (`/`-separated, constant segments).
    pub(crate) fn post(path: &str, fields: Vec<Field>) -> Call {
        Call {
            method: Method::POST,
            segments: path.split('/').map(str::to_owned).collect(),
            fields: Some(fields),
            user_token: None,
        }
    }
}

/// Sends calls to one merchant's API.
pub(crate) struct Client {
    http: reqwest::Client,
    base_url: Url,
    merchant_key: HeaderValue,
    auth: Box<dyn Authenticate>,
    scheme: &'static str,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url.as_str())
            .field("auth", &self.scheme)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// One answer as received.
struct Received {
    status: u16,
    body: Result<Vec<u8>, Error>,
    credential: Credential,
}

impl Client {
    /// The client of a validated `config`; no I/O.
    pub(crate) fn new(config: &Config, http: reqwest::Client) -> Result<Client, ConfigError> {
        let mut merchant_key = HeaderValue::from_str(config.merchant_key.expose_secret())
            .map_err(|_| ConfigError::HeaderValue("merchant_key"))?;
        merchant_key.set_sensitive(true);
        Ok(Client {
            auth: auth::from_config(&config.auth, http.clone(), config.timeout()),
            http,
            base_url: config.base_url.clone(),
            merchant_key,
            scheme: config.auth.scheme(),
            timeout: config.timeout(),
        })
    }

    /// Sends `call` and returns the answer's `data` (`null` when absent). A 401 to an
    /// OAuth2 token is answered by one new token and one resend: PrivyID refused the call
    /// at the door.
    pub(crate) async fn send(
        &self,
        operation: Operation,
        call: &Call,
    ) -> Result<serde_json::Value, Error> {
        let mut received = self.attempt(call).await?;
        if received.status == 401 && self.auth.refused(received.credential) {
            tracing::info!(
                operation = operation.name(),
                "privyid refused the access token; renewing once"
            );
            received = self.attempt(call).await?;
        }
        tracing::debug!(
            operation = operation.name(),
            status = received.status,
            "privyid answered"
        );
        read_answer(received.status, received.body)
    }

    async fn attempt(&self, call: &Call) -> Result<Received, Error> {
        let request = self.request(call)?;
        let (request, credential) = self.auth.authorize(request).await?;
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let body = read_capped(response).await;
        Ok(Received {
            status,
            body,
            credential,
        })
    }

    /// The request of `call`, without `Authorization`.
    fn request(&self, call: &Call) -> Result<RequestBuilder, Error> {
        let mut request = self
            .http
            .request(call.method.clone(), self.url(&call.segments))
            .timeout(self.timeout)
            .header("Merchant-Key", self.merchant_key.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = &call.user_token {
            request = request.header("Token", token.clone());
        }
        if let Some(fields) = &call.fields {
            request = request.multipart(form(fields)?);
        }
        Ok(request)
    }

    /// `{base_url}/{segments…}`, keeping a path of the base URL.
    fn url(&self, segments: &[String]) -> Url {
        let mut url = self.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }
}

/// A fresh multipart body: a `Form` is consumed by sending it.
fn form(fields: &[Field]) -> Result<Form, Error> {
    fields
        .iter()
        .try_fold(Form::new(), |form, field| match field {
            Field::Text { name, value } => Ok(form.text(*name, value.clone())),
            Field::File {
                name,
                file_name,
                content_type,
                bytes,
            } => {
                let part = Part::stream_with_length(bytes.clone(), bytes.len() as u64)
                    .file_name(file_name.clone())
                    .mime_str(content_type)
                    .map_err(|_| Error::Request("a file part has an invalid content type"))?;
                Ok(form.part(*name, part))
            }
        })
}

/// A connect failure means the request never left; anything else may have reached PrivyID.
fn transport_error(err: reqwest::Error) -> Error {
    if err.is_connect() {
        Error::Connect(err)
    } else if err.is_timeout() {
        Error::Timeout(err)
    } else {
        Error::Transport(err)
    }
}

/// Reads the body chunk by chunk, refusing more than [`MAX_BODY_BYTES`].
pub(crate) async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, Error> {
    let too_large = Error::TooLarge {
        limit: MAX_BODY_BYTES,
    };
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
    {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| {
        if err.is_timeout() {
            Error::Timeout(err)
        } else {
            Error::Transport(err)
        }
    })? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `data` of a 2xx answer whose body `code` is 200 or 201; any other answer as the
/// error it is. A non-2xx answer is classified by its status even when its body was
/// unreadable.
fn read_answer(status: u16, body: Result<Vec<u8>, Error>) -> Result<serde_json::Value, Error> {
    if !(200..300).contains(&status) {
        let (field, detail) = body.ok().map(|body| detail(&body)).unwrap_or_default();
        return Err(Error::Status {
            status,
            field,
            detail,
        });
    }
    let envelope: Envelope =
        serde_json::from_slice(&body?).map_err(|_| Error::Unreadable("not a JSON answer"))?;
    match envelope.code {
        Some(200 | 201) => Ok(envelope.data.unwrap_or(serde_json::Value::Null)),
        other => Err(Error::Code(other)),
    }
}

/// The `field` of the first `errors[]` entry, and `"<field>: <messages>"` of it, else
/// the body's `message` (2.3). Only what PrivyID wrote; never a value the request carried.
fn detail(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(body) = serde_json::from_slice::<ErrorBody>(body) else {
        return (None, None);
    };
    match body.errors.unwrap_or_default().into_iter().next() {
        Some(error) => {
            let field = clean(&error.field.unwrap_or_default());
            let messages = error.messages.unwrap_or_default().join(", ");
            let detail = clean(&format!("{field}: {messages}"));
            (Some(field), Some(detail))
        }
        None => {
            let message = body.message.filter(|m| !m.trim().is_empty());
            (None, message.map(|m| clean(&m)))
        }
    }
}

/// Drops control characters and caps the length of provider text.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_DETAIL_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthConfig;
    use secrecy::SecretString;

    fn client(base_url: &str) -> Client {
        let mut config = Config::new(
            SecretString::from("k"),
            AuthConfig::Basic {
                username: "u".to_owned(),
                password: SecretString::from("p"),
            },
            "AB1234",
            SecretString::from("e"),
            SecretString::from("cb-0123456789abcdefghijkl"),
        );
        config.base_url = Url::parse(base_url).expect("url");
        Client::new(&config, reqwest::Client::new()).expect("client")
    }

    fn segments(path: &[&str]) -> Vec<String> {
        path.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn urls_keep_a_proxy_path_and_encode_tokens() {
        let path = segments(&["v3", "merchant", "registration"]);
        assert_eq!(
            client("https://core.privy.id").url(&path).as_str(),
            "https://core.privy.id/v3/merchant/registration"
        );
        assert_eq!(
            client("http://proxy.internal/privy/").url(&path).as_str(),
            "http://proxy.internal/privy/v3/merchant/registration"
        );
        let status = segments(&["v3", "merchant", "document", "status", "a/b?c"]);
        assert_eq!(
            client("https://core.privy.id").url(&status).as_str(),
            "https://core.privy.id/v3/merchant/document/status/a%2Fb%3Fc"
        );
    }

    #[test]
    fn a_success_gives_data_only_with_code_200_or_201() {
        let ok = |body: &str| read_answer(201, Ok(body.as_bytes().to_vec()));
        let data = ok(r#"{"code":201,"data":{"a":1},"message":"x"}"#).expect("data");
        assert_eq!(data, serde_json::json!({"a": 1}));
        assert_eq!(
            ok(r#"{"code":200,"message":"x"}"#).expect("no data"),
            serde_json::Value::Null
        );
        assert!(matches!(
            ok(r#"{"code":422,"errors":[]}"#),
            Err(Error::Code(Some(422)))
        ));
        assert!(matches!(ok(r#"{"data":{}}"#), Err(Error::Code(None))));
        assert!(matches!(ok("<html>"), Err(Error::Unreadable(_))));
    }

    #[test]
    fn error_details_name_the_first_field_and_its_messages() {
        let detail_of = |body: &str| match read_answer(422, Ok(body.as_bytes().to_vec())) {
            Err(Error::Status {
                status: 422,
                detail,
                ..
            }) => detail,
            other => panic!("unexpected {other:?}"),
        };
        let body = r#"{"code":422,"errors":[
            {"field":"identity.nik","messages":["is invalid","must be 16 digits"]},
            {"field":"email","messages":["has already been taken"]}],"message":"Unprocessable"}"#;
        assert_eq!(
            detail_of(body).as_deref(),
            Some("identity.nik: is invalid, must be 16 digits")
        );
        assert_eq!(
            detail_of(r#"{"code":422,"message":"Bad\nthing"}"#).as_deref(),
            Some("Badthing")
        );
        assert_eq!(detail_of("<html>502</html>"), None);
        assert_eq!(detail_of(r#"{"code":422,"errors":[],"message":" "}"#), None);
        let long = format!(r#"{{"code":422,"message":"{}"}}"#, "x".repeat(1000));
        assert_eq!(
            detail_of(&long).map(|d| d.chars().count()),
            Some(MAX_DETAIL_CHARS)
        );
    }

    #[test]
    fn a_refusal_is_classified_by_status_even_with_an_unreadable_body() {
        let answer = read_answer(503, Err(Error::TooLarge { limit: 1 }));
        assert!(matches!(
            answer,
            Err(Error::Status {
                status: 503,
                field: None,
                detail: None
            })
        ));
    }
}
