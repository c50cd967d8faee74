//! Checking the forms of registration, re-registration and upload field by field (2.3,
//! 2.5, 2.6 and the shared decisions). Every problem lands in [`Problems`] under the
//! field's name, so one answer lists them all; messages never echo a value, except
//! `Recipient <privyId> not found`, which the shared decisions fix.

use axum::body::Bytes;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use time::Date;
use time::macros::format_description;

use super::form::{Form, Part};
use super::state::{
    Book, DocType, NewUser, Placement, RecipientType, SignatoryStatus, SimRecipient,
};
use super::wire::{PrivyError, Problems};

/// The largest selfie, KTP or supporting-document image: 2 MiB.
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;

/// The largest PDF: 10 MiB.
pub const MAX_PDF_BYTES: usize = 10 * 1024 * 1024;

const BLANK: &str = "can't be blank";
const TAKEN: &str = "has already been taken";

/// The registration form (2.3), checked against what `book` holds: an e-mail or NIK of a
/// registration that is not `rejected` is taken.
pub(super) fn registration(form: &Form, today: Date, book: &Book) -> Result<NewUser, PrivyError> {
    let mut problems = Problems::default();
    let email = email(form, &mut problems);
    let phone = phone(form, &mut problems);
    let identity = identity(form, today, &mut problems);
    let selfie = image(form, "selfie", &mut problems);
    let ktp = image(form, "ktp", &mut problems);
    if email
        .as_deref()
        .is_some_and(|email| book.email_taken(email))
    {
        problems.add("email", TAKEN);
    }
    if identity.as_ref().is_some_and(|i| book.nik_taken(&i.nik)) {
        problems.add("identity.nik", TAKEN);
    }
    match (email, phone, identity, selfie, ktp) {
        (Some(email), Some(phone), Some(identity), Some(_), Some(_)) if problems.is_empty() => {
            Ok(NewUser {
                email,
                phone,
                nik: identity.nik,
                name: identity.name,
                birth_date: identity.birth_date,
            })
        }
        _ => Err(problems.into_error()),
    }
}

fn email(form: &Form, problems: &mut Problems) -> Option<String> {
    match form.text("email").map(str::trim) {
        None | Some("") => {
            problems.add("email", BLANK);
            None
        }
        Some(email) if !email.contains('@') => {
            problems.add("email", "is invalid");
            None
        }
        Some(email) => Some(email.to_owned()),
    }
}

fn phone(form: &Form, problems: &mut Problems) -> Option<String> {
    match form.text("phone").map(str::trim) {
        None | Some("") => {
            problems.add("phone", BLANK);
            None
        }
        Some(phone) => {
            let number = mobile_number(phone);
            if number.is_none() {
                problems.add("phone", "is not an Indonesian mobile number");
            }
            number
        }
    }
}

/// An Indonesian mobile number in national (`08…`) or international (`+628…`, `628…`)
/// form, 9 to 12 digits after the `8`-led subscriber prefix starts; returned as `+628…`,
/// the form PrivyID echoes.
pub(super) fn mobile_number(text: &str) -> Option<String> {
    let subscriber = text
        .strip_prefix("+62")
        .or_else(|| text.strip_prefix("62"))
        .or_else(|| text.strip_prefix('0'))?;
    let valid = subscriber.starts_with('8')
        && (9..=12).contains(&subscriber.len())
        && subscriber.bytes().all(|b| b.is_ascii_digit());
    valid.then(|| format!("+62{subscriber}"))
}

struct Identity {
    nik: String,
    name: String,
    birth_date: String,
}

fn identity(form: &Form, today: Date, problems: &mut Problems) -> Option<Identity> {
    let text = form.text("identity").map(str::trim).unwrap_or_default();
    if text.is_empty() {
        problems.add("identity", BLANK);
        return None;
    }
    let Ok(Value::Object(identity)) = serde_json::from_str::<Value>(text) else {
        problems.add("identity", "must be a JSON object");
        return None;
    };
    let nik = identity_text(&identity, "nik", problems, nik_problem);
    let name = identity_text(&identity, "nama", problems, |_| None);
    let birth_date = identity_text(&identity, "tanggalLahir", problems, |date| {
        birth_date_problem(date, today)
    });
    Some(Identity {
        nik: nik?,
        name: name?,
        birth_date: birth_date?,
    })
}

/// `identity.<key>`: a non-blank string that `check` finds nothing wrong with.
fn identity_text(
    identity: &Map<String, Value>,
    key: &str,
    problems: &mut Problems,
    check: impl Fn(&str) -> Option<&'static str>,
) -> Option<String> {
    let field = format!("identity.{key}");
    let problem = match identity.get(key) {
        None | Some(Value::Null) => Some(BLANK),
        Some(Value::String(text)) if text.trim().is_empty() => Some(BLANK),
        Some(Value::String(text)) => check(text.trim()),
        Some(_) => Some("must be a string"),
    };
    if let Some(problem) = problem {
        problems.add(&field, problem);
        return None;
    }
    identity
        .get(key)
        .and_then(Value::as_str)
        .map(|text| text.trim().to_owned())
}

/// A NIK is 16 digits and its 16th digit is not 0 (2.3).
pub(super) fn nik_problem(nik: &str) -> Option<&'static str> {
    if nik.len() != 16 || !nik.bytes().all(|b| b.is_ascii_digit()) {
        return Some("must be 16 digits");
    }
    if nik.ends_with('0') {
        return Some("can't end with 0");
    }
    None
}

/// `YYYY-MM-DD`, a real date, before `today`.
fn birth_date_problem(text: &str, today: Date) -> Option<&'static str> {
    match Date::parse(text, format_description!("[year]-[month]-[day]")) {
        Err(_) => Some("must be a valid date in YYYY-MM-DD format"),
        Ok(date) if date >= today => Some("must be in the past"),
        Ok(_) => None,
    }
}

/// The image file part `field`: present, not empty, at most [`MAX_IMAGE_BYTES`], JPEG or
/// PNG by its first bytes (a client may send no content type, as `privy-python-sdk`
/// does).
pub(super) fn image(form: &Form, field: &str, problems: &mut Problems) -> Option<Bytes> {
    let problem = match form.part(field) {
        None => Some(BLANK),
        Some(part) => file_problem(part, MAX_IMAGE_BYTES, "is too large (maximum is 2 MB)")
            .or_else(|| (!is_image(&part.bytes)).then_some("must be a JPEG or PNG image")),
    };
    match problem {
        Some(problem) => {
            problems.add(field, problem);
            None
        }
        None => form.part(field).map(|part| part.bytes.clone()),
    }
}

/// A file part: not empty, uploaded as a file (with a file name), at most `max` bytes
/// (`too_large` otherwise).
fn file_problem(part: &Part, max: usize, too_large: &'static str) -> Option<&'static str> {
    if part.bytes.is_empty() {
        Some(BLANK)
    } else if part.file_name.is_none() {
        Some("must be a file upload")
    } else if part.bytes.len() > max {
        Some(too_large)
    } else {
        None
    }
}

/// JPEG (`FF D8 FF`) or PNG (`89 50 4E 47`).
fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF]) || bytes.starts_with(&[0x89, 0x50, 0x4E, 0x47])
}

/// A non-blank text part, or a `BLANK` problem.
pub(super) fn required_text(form: &Form, field: &str, problems: &mut Problems) -> Option<String> {
    match form.text(field).map(str::trim) {
        Some(text) if !text.is_empty() => Some(text.to_owned()),
        _ => {
            problems.add(field, BLANK);
            None
        }
    }
}

/// The merchant's own identity, which `owner` must repeat.
pub(super) struct Owner<'a> {
    pub(super) privy_id: &'a str,
    pub(super) enterprise_token: &'a str,
}

/// A checked upload form (2.6).
pub(super) struct Upload {
    pub(super) title: String,
    pub(super) doc_type: DocType,
    pub(super) recipients: Vec<SimRecipient>,
    pub(super) template_id: Option<String>,
    pub(super) pdf: Bytes,
}

/// The upload form: every recipient must be a user of `book` who can sign.
pub(super) fn upload(form: &Form, owner: &Owner<'_>, book: &Book) -> Result<Upload, PrivyError> {
    let mut problems = Problems::default();
    let title = required_text(form, "documentTitle", &mut problems);
    let doc_type = doc_type(form, &mut problems);
    check_owner(form, owner, &mut problems);
    let recipients = recipients(form, book, &mut problems);
    let pdf = pdf(form, &mut problems);
    let template_id = form
        .text("templateId")
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    match (title, doc_type, recipients, pdf) {
        (Some(title), Some(doc_type), Some(recipients), Some(pdf)) if problems.is_empty() => {
            Ok(Upload {
                title,
                doc_type,
                recipients,
                template_id,
                pdf,
            })
        }
        _ => Err(problems.into_error()),
    }
}

fn doc_type(form: &Form, problems: &mut Problems) -> Option<DocType> {
    match required_text(form, "docType", problems)?.as_str() {
        "Serial" => Some(DocType::Serial),
        "Parallel" => Some(DocType::Parallel),
        _ => {
            problems.add("docType", "must be Serial or Parallel");
            None
        }
    }
}

fn check_owner(form: &Form, owner: &Owner<'_>, problems: &mut Problems) {
    let Some(text) = required_text(form, "owner", problems) else {
        return;
    };
    let Ok(Value::Object(sent)) = serde_json::from_str::<Value>(&text) else {
        problems.add("owner", "must be a JSON object");
        return;
    };
    let privy_id = sent.get("privyId").and_then(Value::as_str);
    let token = sent.get("enterpriseToken").and_then(Value::as_str);
    let matches = privy_id == Some(owner.privy_id)
        && token.is_some_and(|token| {
            bool::from(token.as_bytes().ct_eq(owner.enterprise_token.as_bytes()))
        });
    if !matches {
        problems.add("owner", "does not match the merchant");
    }
}

fn recipients(form: &Form, book: &Book, problems: &mut Problems) -> Option<Vec<SimRecipient>> {
    let text = required_text(form, "recipients", problems)?;
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&text) else {
        problems.add("recipients", "must be a JSON array");
        return None;
    };
    if items.is_empty() {
        problems.add("recipients", "must not be empty");
        return None;
    }
    let mut recipients: Vec<SimRecipient> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Some(recipient) = recipient(index + 1, item, problems) else {
            continue;
        };
        if recipients.iter().any(|r| r.privy_id == recipient.privy_id) {
            problems.add(
                "recipients",
                format!("recipient {} is listed twice", index + 1),
            );
        } else if book.signer(&recipient.privy_id).is_none() {
            problems.add(
                "recipients",
                format!("Recipient {} not found", recipient.privy_id),
            );
        }
        recipients.push(recipient);
    }
    // Said only of a list whose every entry could be read.
    let all_read = recipients.len() == items.len();
    if all_read && !recipients.iter().any(|r| r.kind == RecipientType::Signer) {
        problems.add("recipients", "must include a Signer");
    }
    (!problems.has("recipients")).then_some(recipients)
}

/// One recipient `{"privyId","type","enterpriseToken"?,"signPage"?,"posX"?,"posY"?}`;
/// `number` is 1-based, for messages.
fn recipient(number: usize, item: &Value, problems: &mut Problems) -> Option<SimRecipient> {
    let Value::Object(item) = item else {
        problems.add(
            "recipients",
            format!("recipient {number} must be a JSON object"),
        );
        return None;
    };
    let mut wrong = |text: &str| problems.add("recipients", format!("recipient {number}: {text}"));
    let privy_id = match item.get("privyId").and_then(Value::as_str).map(str::trim) {
        Some(id) if !id.is_empty() => Some(id.to_owned()),
        _ => {
            wrong("privyId can't be blank");
            None
        }
    };
    let kind = match item.get("type").and_then(Value::as_str) {
        Some("Signer") => Some(RecipientType::Signer),
        Some("Reviewer") => Some(RecipientType::Reviewer),
        _ => {
            wrong("type must be Signer or Reviewer");
            None
        }
    };
    let enterprise_token = match item.get("enterpriseToken") {
        None | Some(Value::Null) => Some(String::new()),
        Some(Value::String(token)) => Some(token.clone()),
        Some(_) => {
            wrong("enterpriseToken must be a string");
            None
        }
    };
    let placement = placement(item).map_err(&mut wrong).ok();
    Some(SimRecipient {
        privy_id: privy_id?,
        kind: kind?,
        enterprise_token: enterprise_token?,
        status: SignatoryStatus::InProgress,
        placement: placement?,
    })
}

/// `signPage` (integer ≥ 1), `posX` and `posY` (integers ≥ 0): all three or none. A
/// signer without placement places the signature when signing (what
/// `privy-python-sdk` sends).
fn placement(item: &Map<String, Value>) -> Result<Option<Placement>, &'static str> {
    let keys = ["signPage", "posX", "posY"];
    let present = keys.iter().filter(|key| item.contains_key(**key)).count();
    if present == 0 {
        return Ok(None);
    }
    if present < keys.len() {
        return Err("signPage, posX and posY must be sent together");
    }
    let integer = |key: &str| {
        item.get(key)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    let page = integer("signPage")
        .filter(|page| *page >= 1)
        .ok_or("signPage must be an integer of at least 1")?;
    let x = integer("posX").ok_or("posX must be an integer of at least 0")?;
    let y = integer("posY").ok_or("posY must be an integer of at least 0")?;
    Ok(Some(Placement { page, x, y }))
}

/// The PDF part `document`: present, at most [`MAX_PDF_BYTES`], starting `%PDF-`.
fn pdf(form: &Form, problems: &mut Problems) -> Option<Bytes> {
    let problem = match form.part("document") {
        None => Some(BLANK),
        Some(part) => file_problem(part, MAX_PDF_BYTES, "is too large (maximum is 10 MB)")
            .or_else(|| (!part.bytes.starts_with(b"%PDF-")).then_some("must be a PDF document")),
    };
    match problem {
        Some(problem) => {
            problems.add("document", problem);
            None
        }
        None => form.part("document").map(|part| part.bytes.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_numbers_in_every_accepted_form_become_plus_62() {
        for sent in ["081234567890", "6281234567890", "+6281234567890"] {
            assert_eq!(
                mobile_number(sent).as_deref(),
                Some("+6281234567890"),
                "{sent}"
            );
        }
        assert_eq!(mobile_number("0812345678").as_deref(), Some("+62812345678"));
        for refused in [
            "0212345678",
            "+6221234567",
            "08123",
            "08123456789012",
            "0812-3456-7890",
            "+6581234567",
            "",
        ] {
            assert_eq!(mobile_number(refused), None, "{refused}");
        }
    }

    #[test]
    fn a_nik_is_sixteen_digits_not_ending_in_zero() {
        assert_eq!(nik_problem("3201234567890001"), None);
        assert_eq!(nik_problem("3201234567890010"), Some("can't end with 0"));
        assert_eq!(nik_problem("320123456789001"), Some("must be 16 digits"));
        assert_eq!(nik_problem("32012345678900a1"), Some("must be 16 digits"));
    }

    #[test]
    fn a_birth_date_is_a_real_past_date() {
        let today = Date::from_calendar_date(2024, time::Month::June, 1).expect("date");
        assert_eq!(birth_date_problem("1990-01-02", today), None);
        assert!(birth_date_problem("1990-02-30", today).is_some());
        assert!(birth_date_problem("02-01-1990", today).is_some());
        assert_eq!(
            birth_date_problem("2024-06-01", today),
            Some("must be in the past")
        );
    }
}
