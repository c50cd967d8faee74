//! contracts ⇄ wire: recipients, template and OTP bodies (3.2), the send answer (3.3), and
//! the delivery-status table (3.7).

use contracts::ProviderReference;
use contracts::messaging::{DeliveryState, OtpMessage, SentMessage, TemplateMessage};
use time::OffsetDateTime;

use crate::error::Error;
use crate::wire::{Component, Language, Parameter, SendAnswer, Template, TemplateSend};

/// E.164 numbers are at most 15 digits.
const MAX_E164_DIGITS: usize = 15;

/// `to`: the recipient's digits in international format (3.2, 3.8). A leading `+` and the
/// usual separators are dropped; a national number (leading `0`) is refused rather than
/// guessed into a country.
pub(crate) fn recipient(raw: &str) -> Result<String, Error> {
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let mut digits = String::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(Error::Request("the recipient is not a phone number")),
        }
    }
    if digits.is_empty() || digits.len() > MAX_E164_DIGITS {
        return Err(Error::Request("the recipient is not an E.164 phone number"));
    }
    if digits.starts_with('0') {
        return Err(Error::Request(
            "the recipient must be in international format (country code, no leading 0)",
        ));
    }
    Ok(digits)
}

fn required(value: &str, what: &'static str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::Request(what));
    }
    Ok(())
}

fn send<'a>(
    to: String,
    name: &'a str,
    language: &'a str,
    components: Vec<Component<'a>>,
) -> TemplateSend<'a> {
    TemplateSend {
        messaging_product: "whatsapp",
        recipient_type: "individual",
        to,
        kind: "template",
        template: Template {
            name,
            language: Language { code: language },
            components,
        },
    }
}

/// A template send: the body parameters in order, `components: []` without any (3.2).
pub(crate) fn template(message: &TemplateMessage) -> Result<TemplateSend<'_>, Error> {
    let to = recipient(&message.recipient)?;
    required(&message.template, "the template name is empty")?;
    required(&message.language, "the template language is empty")?;
    let components = if message.params.is_empty() {
        Vec::new()
    } else {
        let parameters = message
            .params
            .iter()
            .map(|text| Parameter::Text { text })
            .collect();
        vec![Component::Body { parameters }]
    };
    Ok(send(to, &message.template, &message.language, components))
}

/// An authentication-template send: the code as the body's one parameter and again in the
/// copy-code button, which Meta stores as URL button `index "0"` (3.2).
pub(crate) fn otp(message: &OtpMessage) -> Result<TemplateSend<'_>, Error> {
    let to = recipient(&message.recipient)?;
    required(&message.template, "the template name is empty")?;
    required(&message.language, "the template language is empty")?;
    required(&message.code, "the code is empty")?;
    let code = message.code.as_str();
    let components = vec![
        Component::Body {
            parameters: vec![Parameter::Text { text: code }],
        },
        Component::Button {
            sub_type: "url",
            index: "0",
            parameters: vec![Parameter::Text { text: code }],
        },
    ];
    Ok(send(to, &message.template, &message.language, components))
}

/// The `wamid` of `messages[0]` (3.3). A 2xx without one does not tell whether a message
/// went out: [`Error::Malformed`], which is ambiguous.
pub(crate) fn sent(answer: SendAnswer) -> Result<SentMessage, Error> {
    let first = answer
        .messages
        .into_iter()
        .next()
        .ok_or(Error::Malformed("no messages[0]"))?;
    if first.id.trim().is_empty() {
        return Err(Error::Malformed("an empty message id"));
    }
    if let Some(status) = &first.message_status {
        tracing::debug!(message_status = %status, "whatsapp accepted a message");
    }
    Ok(SentMessage::new(ProviderReference(first.id)))
}

/// `statuses[].status` (3.7). Anything else (`played`, `deleted`, `warning`, a future
/// value) is `None`: skipped, never guessed.
pub(crate) fn delivery_state(status: &str) -> Option<DeliveryState> {
    match status {
        "sent" => Some(DeliveryState::Sent),
        "delivered" => Some(DeliveryState::Delivered),
        "read" => Some(DeliveryState::Read),
        "failed" => Some(DeliveryState::Failed),
        _ => None,
    }
}

/// A Unix-seconds `timestamp`, a string in 3.7 (a number is read too).
pub(crate) fn timestamp(value: &serde_json::Value) -> Option<OffsetDateTime> {
    let seconds = match value {
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok()?,
        serde_json::Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_become_international_digits() {
        for raw in [
            "+6281234567890",
            "6281234567890",
            " +62 812-3456-7890 ",
            "+62 (812) 3456.7890",
        ] {
            assert_eq!(recipient(raw).expect(raw), "6281234567890");
        }
    }

    #[test]
    fn national_and_non_numbers_are_refused_without_echoing_them() {
        for raw in [
            "081234567890",
            "",
            "+",
            "62812abc",
            "1234567890123456",
            "++62812",
        ] {
            let err = recipient(raw).expect_err(raw).to_string();
            assert!(raw.is_empty() || raw == "+" || !err.contains(raw), "{err}");
        }
    }

    #[test]
    fn known_statuses_map_and_others_are_skipped() {
        assert_eq!(delivery_state("sent"), Some(DeliveryState::Sent));
        assert_eq!(delivery_state("delivered"), Some(DeliveryState::Delivered));
        assert_eq!(delivery_state("read"), Some(DeliveryState::Read));
        assert_eq!(delivery_state("failed"), Some(DeliveryState::Failed));
        for other in ["played", "deleted", "warning", "SENT", ""] {
            assert_eq!(delivery_state(other), None, "{other}");
        }
    }

    #[test]
    fn timestamps_are_unix_seconds() {
        let at = time::macros::datetime!(2023-11-14 22:13:20 UTC);
        assert_eq!(timestamp(&serde_json::json!("1700000000")), Some(at));
        assert_eq!(timestamp(&serde_json::json!(1700000000)), Some(at));
        assert_eq!(timestamp(&serde_json::json!("soon")), None);
        assert_eq!(timestamp(&serde_json::json!(null)), None);
    }
}
