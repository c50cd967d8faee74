//! Field rules and views shared by every resource products create: their reference, an
//! amount, a customer, times.

use contracts::{Amount, Customer};
use time::format_description::well_known::Rfc3339;

use crate::http::FieldError;
use crate::service::va::CustomerView;
use crate::store::from_ms;

/// A problem with one field.
pub fn field(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

/// A stored time as RFC 3339.
pub fn rfc3339(ms: i64) -> String {
    from_ms(ms).format(&Rfc3339).unwrap_or_default()
}

/// The product's reference: 1 to 64 printable characters.
pub fn reference(reference: &str, errors: &mut Vec<FieldError>) {
    if reference.is_empty() || reference.len() > 64 || reference.chars().any(char::is_control) {
        errors.push(field("reference", "must be 1 to 64 printable characters"));
    }
}

/// An amount to bill or charge: whole rupiah, at least 1.
pub fn amount(rupiah: i64, errors: &mut Vec<FieldError>) -> Option<Amount> {
    match Amount::new(rupiah) {
        Ok(a) if a.rupiah() >= 1 => Some(a),
        _ => {
            errors.push(field(
                "amount",
                "must be a whole number of rupiah from 1 to 99999999999999",
            ));
            None
        }
    }
}

/// Who pays: a printable name, optionally a phone number and an e-mail address.
pub fn customer(view: &CustomerView, errors: &mut Vec<FieldError>) -> Customer {
    let name = view.name.trim();
    if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        errors.push(field(
            "customer.name",
            "must be 1 to 255 printable characters",
        ));
    }
    if let Some(phone) = &view.phone {
        let digits = phone.strip_prefix('+').unwrap_or(phone);
        if digits.len() < 8 || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(field(
                "customer.phone",
                "must be 8 to 15 digits, optionally with a leading +",
            ));
        }
    }
    if let Some(email) = &view.email
        && (email.len() > 254 || !email.contains('@') || email.chars().any(char::is_whitespace))
    {
        errors.push(field("customer.email", "must be an e-mail address"));
    }
    Customer {
        name: name.to_owned(),
        phone: view.phone.clone(),
        email: view.email.clone(),
    }
}

impl From<&Customer> for CustomerView {
    fn from(c: &Customer) -> Self {
        CustomerView {
            name: c.name.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
        }
    }
}
