//! Click-to-chat support links (provider reference 3.8): `https://wa.me/<number>?text=…`
//! to the configured customer-care number, the text of the topic with the user's name in
//! WhatsApp bold (`*…*`), percent-encoded (`%20` for spaces, never `+`).

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::http::ApiError;
use crate::service::fields::field;

/// A support link request.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSupportLink {
    /// A topic configured in `support.topics`.
    pub topic: String,
    /// The user's name (1-100 characters), shown in bold in the prefilled text.
    pub name: String,
}

/// The link to open.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SupportLink {
    /// `https://wa.me/<number>?text=<prefilled text>`.
    pub url: String,
    /// The prefilled text, as the user will see it.
    pub text: String,
}

/// Builds the link.
pub fn link(state: &AppState, req: &NewSupportLink) -> Result<SupportLink, ApiError> {
    let support = &state.settings().support;
    let Some(number) = &support.number else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "support_not_configured",
            "Support not configured",
            "this gateway has no customer-care number",
        ));
    };
    let mut errors = Vec::new();
    let template = support.topics.get(&req.topic);
    if template.is_none() {
        errors.push(field("topic", "is not a configured topic"));
    }
    // Formatting characters would break out of the bold; control characters out of the line.
    let name: String = req
        .name
        .trim()
        .chars()
        .filter(|c| !matches!(c, '*' | '_' | '~' | '`') && !c.is_control())
        .collect();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(field("name", "must be 1 to 100 characters"));
    }
    let Some(template) = template.filter(|_| errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let text = template.replace("{name}", &format!("*{name}*"));
    Ok(SupportLink {
        url: format!("https://wa.me/{number}?text={}", encode(&text)),
        text,
    })
}

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` percent-encoded
/// as UTF-8.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn text_is_encoded_as_encode_uri_component_does() {
        assert_eq!(
            encode("Halo, saya *Budi* butuh bantuan: bayar & tagihan?"),
            "Halo%2C%20saya%20*Budi*%20butuh%20bantuan%3A%20bayar%20%26%20tagihan%3F"
        );
        assert_eq!(encode("Siti Nurhaliza é"), "Siti%20Nurhaliza%20%C3%A9");
    }
}
