//! Checking one `POST /{version}/{phone_number_id}/messages` body against the template
//! registry (provider notes 3.2, 3.2a, 3.9), and the Graph error envelope of refusals
//! (3.4).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Template;

/// A synchronous refusal in the Graph error envelope (3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct GraphError {
    pub(super) status: StatusCode,
    pub(super) code: u32,
    pub(super) title: &'static str,
    pub(super) details: String,
}

impl GraphError {
    pub(super) fn new(status: StatusCode, code: u32, title: &'static str, details: &str) -> Self {
        Self {
            status,
            code,
            title,
            details: details.to_owned(),
        }
    }

    /// 401 / 190: the bearer token is missing or not the configured one.
    pub(super) fn bad_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            190,
            "Invalid OAuth access token - Cannot parse access token",
            "The access token is missing, malformed or not valid for this phone number.",
        )
    }

    /// 400 / 100: a path or body field Graph cannot use.
    pub(super) fn invalid_parameter(details: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 100, "Invalid parameter", details)
    }

    /// 400 / 131008: a required field is absent.
    fn missing(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            131_008,
            "Required parameter is missing",
            &format!("The parameter {field} is required."),
        )
    }

    /// 400 / 131009: a field is present but its value is not valid.
    fn invalid_value(details: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            131_009,
            "Parameter value is not valid",
            details,
        )
    }

    /// 404 / 132001: no approved template of that name in that language.
    fn template_missing(name: &str, language: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            132_001,
            "Template name does not exist in the translation",
            &format!("template name ({name}) does not exist in {language}"),
        )
    }

    /// 400 / 132000: the parameters do not fit the template.
    fn param_mismatch(details: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            132_000,
            "Number of parameters does not match the expected number of params",
            details,
        )
    }

    /// 400 / 130429: the phone number's throughput is used up.
    pub(super) fn throughput() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            130_429,
            "Rate limit hit",
            "Cloud API message throughput has been reached.",
        )
    }

    /// 400 / 131056: too many messages to the same recipient in a short time.
    pub(super) fn pair_limit() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            131_056,
            "(Business Account, Consumer Account) pair rate limit hit",
            "Too many messages sent from this phone number to the same phone number in a short period of time.",
        )
    }

    /// The envelope: `{"error":{message, type, code, error_data, fbtrace_id}}`.
    pub(super) fn body(&self, fbtrace_id: &str) -> Value {
        json!({
            "error": {
                "message": format!("(#{}) {}", self.code, self.title),
                "type": "OAuthException",
                "code": self.code,
                "error_data": {
                    "messaging_product": "whatsapp",
                    "details": self.details,
                },
                "fbtrace_id": fbtrace_id,
            }
        })
    }

    pub(super) fn into_response(self, fbtrace_id: &str) -> Response {
        (self.status, axum::Json(self.body(fbtrace_id))).into_response()
    }
}

/// What a request body asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Request {
    /// A template message, checked and accepted.
    Template(Accepted),
    /// A read receipt for an inbound message (3.2a).
    MarkRead,
}

/// A template send that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Accepted {
    /// `to` exactly as sent (echoed as `contacts[0].input`).
    pub(super) input: String,
    /// `to` as digits only (the `wa_id`).
    pub(super) wa_id: String,
    pub(super) template: String,
    pub(super) language: String,
    pub(super) params: Vec<String>,
    pub(super) button_code: Option<String>,
    pub(super) authentication: bool,
    pub(super) biz_opaque_callback_data: Option<String>,
}

/// Whether `body` (already JSON) is a read receipt rather than a send (3.2a).
pub(super) fn is_read_receipt(body: &Value) -> bool {
    body.get("status").is_some() && body.get("type").is_none()
}

/// Checks a request body against `templates` (3.2, 3.2a, 3.9).
pub(super) fn check(templates: &[Template], body: &Value) -> Result<Request, GraphError> {
    if !body.is_object() {
        return Err(GraphError::invalid_parameter(
            "The request body must be a JSON object.",
        ));
    }
    match str_field(body, "messaging_product")? {
        "whatsapp" => {}
        _ => {
            return Err(GraphError::invalid_parameter(
                "messaging_product must be whatsapp.",
            ));
        }
    }
    if is_read_receipt(body) {
        return check_read_receipt(body);
    }
    if let Some(kind) = body.get("recipient_type")
        && kind.as_str() != Some("individual")
    {
        return Err(GraphError::invalid_value(
            "recipient_type must be individual.",
        ));
    }
    let to = str_field(body, "to")?;
    let wa_id = recipient(to)?;
    match str_field(body, "type")? {
        "template" => {}
        _ => {
            return Err(GraphError::invalid_parameter(
                "Only template messages can be sent outside a customer service window.",
            ));
        }
    }
    let template = body
        .get("template")
        .ok_or_else(|| GraphError::missing("template"))?;
    let name = str_field(template, "name").map_err(|_| GraphError::missing("template.name"))?;
    let language = template
        .get("language")
        .and_then(|language| language.get("code"))
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::missing("template.language.code"))?;
    let registered = templates
        .iter()
        .find(|t| t.name == name && t.language == language)
        .ok_or_else(|| GraphError::template_missing(name, language))?;
    let components = match template.get("components") {
        None | Some(Value::Null) => &Vec::new(),
        Some(Value::Array(components)) => components,
        Some(_) => {
            return Err(GraphError::invalid_value(
                "template.components must be an array.",
            ));
        }
    };
    let (params, button_code) = check_components(registered, components)?;
    let biz_opaque_callback_data = match body.get("biz_opaque_callback_data") {
        None | Some(Value::Null) => None,
        Some(Value::String(data)) => Some(data.clone()),
        Some(_) => {
            return Err(GraphError::invalid_value(
                "biz_opaque_callback_data must be a string.",
            ));
        }
    };
    Ok(Request::Template(Accepted {
        input: to.to_owned(),
        wa_id,
        template: registered.name.clone(),
        language: registered.language.clone(),
        params,
        button_code,
        authentication: registered.copy_code_button,
        biz_opaque_callback_data,
    }))
}

fn check_read_receipt(body: &Value) -> Result<Request, GraphError> {
    if str_field(body, "status")? != "read" {
        return Err(GraphError::invalid_value("status must be read."));
    }
    if str_field(body, "message_id")?.is_empty() {
        return Err(GraphError::invalid_value("message_id must not be empty."));
    }
    Ok(Request::MarkRead)
}

/// `to` in international format: 8 to 15 digits, a leading `+` tolerated (3.2). Returns
/// the digits.
pub(super) fn recipient(to: &str) -> Result<String, GraphError> {
    let digits = to.strip_prefix('+').unwrap_or(to);
    let valid = (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    if valid {
        Ok(digits.to_owned())
    } else {
        Err(GraphError::invalid_value(
            "to must be a phone number in international format (8 to 15 digits).",
        ))
    }
}

/// The body parameters and the copy-code button's code, checked against the template.
fn check_components(
    template: &Template,
    components: &[Value],
) -> Result<(Vec<String>, Option<String>), GraphError> {
    let mut body_params: Option<Vec<String>> = None;
    let mut button_code: Option<String> = None;
    for component in components {
        match str_field(component, "type")? {
            "body" => {
                if body_params.is_some() {
                    return Err(GraphError::invalid_value(
                        "Only one body component is allowed.",
                    ));
                }
                body_params = Some(parameter_values(component)?);
            }
            "header" => {
                if !parameter_values(component)?.is_empty() {
                    return Err(GraphError::param_mismatch(&format!(
                        "header: template {} takes no header parameters",
                        template.name
                    )));
                }
            }
            "button" => {
                if !template.copy_code_button {
                    return Err(GraphError::param_mismatch(&format!(
                        "button: template {} has no button taking parameters",
                        template.name
                    )));
                }
                if button_code.is_some() {
                    return Err(GraphError::param_mismatch(
                        "button: the copy-code button takes one parameter",
                    ));
                }
                button_code = Some(copy_code(component)?);
            }
            other => {
                return Err(GraphError::invalid_value(&format!(
                    "Unknown component type {other}."
                )));
            }
        }
    }
    let params = body_params.unwrap_or_default();
    if params.len() != template.body_params {
        return Err(GraphError::param_mismatch(&format!(
            "body: number of localizable_params ({}) does not match the expected number of params ({})",
            params.len(),
            template.body_params
        )));
    }
    if template.copy_code_button {
        let Some(code) = &button_code else {
            return Err(GraphError::param_mismatch(
                "button: the copy-code button's parameter is missing",
            ));
        };
        if params.first() != Some(code) {
            return Err(GraphError::param_mismatch(
                "button: the copy-code button's code must equal the code in the body",
            ));
        }
    }
    Ok((params, button_code))
}

/// The copy-code (URL) button of an authentication template: `sub_type` `url`, `index`
/// `"0"` (the number 0 of the legacy docs is taken too), one text parameter (3.2).
fn copy_code(component: &Value) -> Result<String, GraphError> {
    if component.get("sub_type").and_then(Value::as_str) != Some("url") {
        return Err(GraphError::param_mismatch(
            "button: the copy-code button must have sub_type url",
        ));
    }
    let index = component.get("index");
    let first =
        index.and_then(Value::as_str) == Some("0") || index.and_then(Value::as_u64) == Some(0);
    if !first {
        return Err(GraphError::param_mismatch(
            "button: the copy-code button must have index 0",
        ));
    }
    let mut values = parameter_values(component)?;
    if values.len() != 1 {
        return Err(GraphError::param_mismatch(
            "button: the copy-code button takes exactly one parameter",
        ));
    }
    Ok(values.remove(0))
}

/// The values of a component's `parameters` (absent = none): the `text` of text
/// parameters, the JSON of other kinds (currency, date_time, media, payload).
fn parameter_values(component: &Value) -> Result<Vec<String>, GraphError> {
    let parameters = match component.get("parameters") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(parameters)) => parameters,
        Some(_) => return Err(GraphError::invalid_value("parameters must be an array.")),
    };
    parameters
        .iter()
        .map(|parameter| {
            let kind = str_field(parameter, "type")?;
            match kind {
                "text" => {
                    let text = str_field(parameter, "text")?;
                    if text.is_empty() {
                        return Err(GraphError::new(
                            StatusCode::BAD_REQUEST,
                            132_008,
                            "Template Parameter Format Mismatch",
                            "A text parameter must not be empty.",
                        ));
                    }
                    Ok(text.to_owned())
                }
                "currency" | "date_time" | "image" | "document" | "video" | "payload" => {
                    let value = parameter
                        .get(kind)
                        .ok_or_else(|| GraphError::missing(&format!("parameter.{kind}")))?;
                    Ok(match value {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    })
                }
                other => Err(GraphError::invalid_value(&format!(
                    "Unknown parameter type {other}."
                ))),
            }
        })
        .collect()
}

/// A string field of `value`; 131008 when absent or not a string.
fn str_field<'a>(value: &'a Value, field: &str) -> Result<&'a str, GraphError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::missing(field))
}
