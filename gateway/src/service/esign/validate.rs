//! Field rules of e-signature requests: NIK structure, names, Indonesian mobile numbers,
//! dates of birth, images and PDFs. Messages name the rule, never the value.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use time::{Date, Month, OffsetDateTime};

use crate::http::FieldError;
use crate::service::fields::field;

/// Province codes in the first two digits of a NIK (Dukcapil): Sumatra 11–19, Riau
/// Islands 21, Java and Banten 31–36, Bali and Nusa Tenggara 51–53, Kalimantan 61–65,
/// Sulawesi 71–76, Maluku 81–82, Papua 91–97.
fn province_ok(code: u32) -> bool {
    matches!(code, 11..=19 | 21 | 31..=36 | 51..=53 | 61..=65 | 71..=76 | 81..=82 | 91..=97)
}

/// Checks a NIK: 16 digits; a known province; regency and district codes not `00`; the
/// birth date in digits 7–12 (day + 40 for women) equal to `birth_date` when it is known;
/// a serial that is not `0000` and (PrivyID's rule) a last digit that is not `0`.
pub fn nik(nik: &str, birth_date: Option<Date>, errors: &mut Vec<FieldError>) {
    if nik.len() != 16 || !nik.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(field("nik", "must be the 16 digits of the KTP's NIK"));
        return;
    }
    let num = |range: std::ops::Range<usize>| nik[range].parse::<u32>().unwrap_or(0);
    if !province_ok(num(0..2)) {
        errors.push(field("nik", "does not start with a known province code"));
        return;
    }
    if num(2..4) == 0 || num(4..6) == 0 {
        errors.push(field("nik", "regency and district codes must not be 00"));
        return;
    }
    let (day, month, year) = (num(6..8), num(8..10), num(10..12));
    let day = if day > 40 { day - 40 } else { day };
    let month_ok = Month::try_from(month as u8).ok();
    let plausible = month_ok.is_some_and(|m| {
        // Any century: the two-digit year cannot tell.
        Date::from_calendar_date(2000 + year as i32, m, day as u8).is_ok()
            || Date::from_calendar_date(1900 + year as i32, m, day as u8).is_ok()
    });
    if !plausible {
        errors.push(field("nik", "digits 7 to 12 are not a date of birth"));
        return;
    }
    if let Some(born) = birth_date {
        let same = born.day() as u32 == day
            && born.month() as u32 == month
            && (born.year().rem_euclid(100)) as u32 == year;
        if !same {
            errors.push(field(
                "nik",
                "the date of birth in the NIK does not match birth_date",
            ));
            return;
        }
    }
    if num(12..16) == 0 || nik.ends_with('0') {
        errors.push(field(
            "nik",
            "the serial must not be 0000 and the last digit must not be 0",
        ));
    }
}

/// A name as on the KTP: 1 to 128 characters, letters, spaces and `.,'-`.
pub fn name(name: &str, errors: &mut Vec<FieldError>) {
    let trimmed = name.trim();
    let ok = !trimmed.is_empty()
        && trimmed.chars().count() <= 128
        && trimmed
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, ' ' | '.' | ',' | '\'' | '-'));
    if !ok {
        errors.push(field(
            "name",
            "must be 1 to 128 letters, spaces and . , ' -",
        ));
    }
}

/// An e-mail address (loosely: one `@`, a dot in the domain, no spaces).
pub fn email(email: &str, errors: &mut Vec<FieldError>) {
    let ok = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if !ok {
        errors.push(field("email", "must be an e-mail address"));
    }
}

/// An Indonesian mobile number in E.164 (`+628…`), also accepted as `628…` or `08…`.
/// Returns the E.164 form.
pub fn phone(phone: &str, errors: &mut Vec<FieldError>) -> String {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    let national = digits
        .strip_prefix("62")
        .or_else(|| digits.strip_prefix('0'))
        .unwrap_or("");
    let ok = national.starts_with('8')
        && (9..=13).contains(&national.len())
        && national.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        errors.push(field(
            "phone",
            "must be an Indonesian mobile number: +628… (or 628…, 08…)",
        ));
        return String::new();
    }
    format!("+62{national}")
}

/// A date of birth, `YYYY-MM-DD`: in the past, after 1900, at least 17 years ago (the age
/// at which a KTP is issued).
pub fn birth_date(text: &str, errors: &mut Vec<FieldError>) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let Ok(date) = Date::parse(text, &format) else {
        errors.push(field("birth_date", "must be a date, YYYY-MM-DD"));
        return None;
    };
    let today = OffsetDateTime::now_utc().date();
    let adult = today
        .replace_year(today.year() - 17)
        .unwrap_or_else(|_| today.saturating_sub(time::Duration::days(17 * 365)));
    if date.year() < 1900 || date > adult {
        errors.push(field(
            "birth_date",
            "must be after 1900 and at least 17 years ago",
        ));
        return None;
    }
    Some(date)
}

/// The image types providers take.
fn image_kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("png")
    } else {
        None
    }
}

fn decode(name: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<Vec<u8>> {
    match STANDARD.decode(text.trim()) {
        Ok(bytes) if !bytes.is_empty() => Some(bytes),
        Ok(_) => {
            errors.push(field(name, "must not be empty"));
            None
        }
        Err(_) => {
            errors.push(field(name, "must be standard base64"));
            None
        }
    }
}

/// A base64 JPEG or PNG of at most `max` bytes.
pub fn image(name: &str, text: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<Bytes> {
    if text.len() > max / 3 * 4 + 8 {
        errors.push(field(name, &format!("must be at most {max} bytes")));
        return None;
    }
    let bytes = decode(name, text, errors)?;
    if bytes.len() > max {
        errors.push(field(name, &format!("must be at most {max} bytes")));
        return None;
    }
    if image_kind(&bytes).is_none() {
        errors.push(field(name, "must be a JPEG or PNG image"));
        return None;
    }
    Some(Bytes::from(bytes))
}

/// A base64 PDF of at most `max` bytes.
pub fn pdf(name: &str, text: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<Bytes> {
    if text.len() > max / 3 * 4 + 8 {
        errors.push(field(name, &format!("must be at most {max} bytes")));
        return None;
    }
    let bytes = decode(name, text, errors)?;
    if bytes.len() > max {
        errors.push(field(name, &format!("must be at most {max} bytes")));
        return None;
    }
    if !bytes.starts_with(b"%PDF-") {
        errors.push(field(name, "must be a PDF document"));
        return None;
    }
    Some(Bytes::from(bytes))
}

/// `3171**********01`: the province and regency, and the last two digits.
pub fn mask_nik(nik: &str) -> String {
    if nik.len() != 16 || !nik.is_ascii() {
        return "****************".to_owned();
    }
    format!("{}{}{}", &nik[..4], "*".repeat(10), &nik[14..])
}

/// `+62812****7890`: the country and operator prefix, and the last four digits.
pub fn mask_phone(phone: &str) -> String {
    if phone.len() < 10 || !phone.is_ascii() {
        return "****".to_owned();
    }
    let keep_tail = 4;
    let head = 6.min(phone.len() - keep_tail);
    format!(
        "{}{}{}",
        &phone[..head],
        "*".repeat(phone.len() - head - keep_tail),
        &phone[phone.len() - keep_tail..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn nik_errors(nik_text: &str, born: Option<Date>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        nik(nik_text, born, &mut errors);
        errors
    }

    #[test]
    fn a_plausible_nik_passes_and_must_match_the_birth_date() {
        // 31 (DKI) 71 01, born 12-05-1990, serial 0001.
        assert!(nik_errors("3171011205900001", Some(date!(1990 - 05 - 12))).is_empty());
        // A woman: day + 40.
        assert!(nik_errors("3171015205900001", Some(date!(1990 - 05 - 12))).is_empty());
        assert_eq!(
            nik_errors("3171011205900001", Some(date!(1991 - 05 - 12)))[0].message,
            "the date of birth in the NIK does not match birth_date"
        );
    }

    #[test]
    fn implausible_niks_are_refused_with_the_rule() {
        let cases = [
            ("317101120590001", "must be the 16 digits of the KTP's NIK"),
            ("31710112059000a1", "must be the 16 digits of the KTP's NIK"),
            (
                "9971011205900001",
                "does not start with a known province code",
            ),
            (
                "3100011205900001",
                "regency and district codes must not be 00",
            ),
            ("3171013205900001", "digits 7 to 12 are not a date of birth"),
            ("3171011213900001", "digits 7 to 12 are not a date of birth"),
            (
                "3171011205900000",
                "the serial must not be 0000 and the last digit must not be 0",
            ),
            (
                "3171011205900010",
                "the serial must not be 0000 and the last digit must not be 0",
            ),
        ];
        for (text, message) in cases {
            let errors = nik_errors(text, None);
            assert_eq!(errors.len(), 1, "{text}");
            assert_eq!(errors[0].message, message, "{text}");
            assert_eq!(errors[0].field, "nik");
        }
    }

    #[test]
    fn phones_normalize_to_e164_and_foreign_numbers_are_refused() {
        for ok in ["+6281234567890", "6281234567890", "081234567890"] {
            let mut errors = Vec::new();
            assert_eq!(phone(ok, &mut errors), "+6281234567890");
            assert!(errors.is_empty());
        }
        for bad in ["+6521234567", "+62212345678", "0812", "+62812345678901234"] {
            let mut errors = Vec::new();
            phone(bad, &mut errors);
            assert_eq!(errors.len(), 1, "{bad}");
        }
    }

    #[test]
    fn images_are_checked_by_size_and_magic() {
        let jpeg = STANDARD.encode([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
        let gif = STANDARD.encode(b"GIF89a....");
        let mut errors = Vec::new();
        assert!(image("selfie", &jpeg, 1024, &mut errors).is_some());
        assert!(image("selfie", &gif, 1024, &mut errors).is_none());
        assert!(image("ktp_image", "!!!", 1024, &mut errors).is_none());
        let big = STANDARD.encode(vec![0xFF; 2048]);
        assert!(image("selfie", &big, 1024, &mut errors).is_none());
        let messages: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "must be a JPEG or PNG image",
                "must be standard base64",
                "must be at most 1024 bytes"
            ]
        );
    }

    #[test]
    fn masks_keep_only_what_identifies_nothing() {
        assert_eq!(mask_nik("3171011205900001"), "3171**********01");
        assert_eq!(mask_phone("+6281234567890"), "+62812****7890");
        assert_eq!(mask_nik("short"), "****************");
    }

    #[test]
    fn birth_dates_must_be_adult_and_well_formed() {
        let mut errors = Vec::new();
        assert!(birth_date("1990-05-12", &mut errors).is_some());
        assert!(birth_date("12-05-1990", &mut errors).is_none());
        assert!(birth_date("2020-01-01", &mut errors).is_none());
        assert_eq!(errors.len(), 2);
    }
}
