//! Configuration of one DOKU merchant: one Client-Id, its Secret Key, and the SNAP keys.

use adapter_snap::codec::TimestampStyle;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// The `additionalInfo.channel` values DOKU's SNAP VA accepts (2.11.4).
pub const VA_CHANNELS: [&str; 14] = [
    "VIRTUAL_ACCOUNT_BCA",
    "VIRTUAL_ACCOUNT_BANK_MANDIRI",
    "VIRTUAL_ACCOUNT_BRI",
    "VIRTUAL_ACCOUNT_BNI",
    "VIRTUAL_ACCOUNT_BANK_DANAMON",
    "VIRTUAL_ACCOUNT_BANK_PERMATA",
    "VIRTUAL_ACCOUNT_MAYBANK",
    "VIRTUAL_ACCOUNT_BNC",
    "VIRTUAL_ACCOUNT_BTN",
    "VIRTUAL_ACCOUNT_BSI",
    "VIRTUAL_ACCOUNT_BANK_CIMB",
    "VIRTUAL_ACCOUNT_SINARMAS",
    "VIRTUAL_ACCOUNT_DOKU",
    "VIRTUAL_ACCOUNT_BSS",
];

/// `customerNo` is at most 20 digits (2.11.4).
const MAX_CUSTOMER_NO_DIGITS: u8 = 20;

/// The longest `payment.payment_due_date` we ask for: 30 days, in minutes.
pub(crate) const MAX_DUE_MINUTES: u32 = 30 * 24 * 60;

/// One DOKU merchant, as configured.
///
/// `client_id` and `secret_key` are the pair from DOKU's Back Office; DOKU uses the same
/// pair for the non-SNAP Checkout API (`Client-Id` header, HMAC-SHA256 key, 2.2–2.3) and for
/// SNAP (`X-CLIENT-KEY` / `X-PARTNER-ID`, HMAC-SHA512 key, 2.11.2–2.11.3).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// DOKU's host, e.g. `https://api-sandbox.doku.com` (2.1). A path prefix (a proxy) is
    /// kept in front of every service path, and is part of what is signed.
    pub base_url: Url,
    /// The merchant's Client-Id (`BRN-…` / `MCH-…`).
    pub client_id: String,
    /// DOKU's "Secret Key": the Checkout HMAC-SHA256 key and the SNAP HMAC-SHA512 key.
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub secret_key: SecretString,
    /// The merchant's RSA private key (PEM) signing SNAP token requests; DOKU holds the
    /// public half.
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub private_key: SecretString,
    /// DOKU's RSA public key (PEM), verifying DOKU's token requests to us (2.11.7).
    pub doku_public_key: String,
    /// The SNAP `partnerServiceId` (BIN / company code): up to 8 digits, e.g. `"8129"`; sent
    /// left-padded with spaces to 8 characters.
    pub partner_service_id: String,
    /// How many digits the `customerNo` (the gateway's serial, zero-padded) has.
    #[serde(default = "default_customer_no_digits")]
    pub customer_no_digits: u8,
    /// `additionalInfo.channel` of every VA: the acquiring bank at DOKU (2.11.4).
    #[serde(default = "default_va_channel")]
    pub va_channel: String,
    /// The bank name reported for issued VAs.
    #[serde(default = "default_bank")]
    pub bank: String,
    /// The `CHANNEL-ID` header of SNAP calls; DOKU's SDK always sends `SDK` (2.11.3).
    #[serde(default = "default_channel_id")]
    pub channel_id: String,
    /// Checkout `payment.payment_due_date` (minutes) for a request whose expiry is not in
    /// the future; otherwise the due time runs to the request's expiry.
    #[serde(default = "default_payment_due_minutes")]
    pub payment_due_minutes: u32,
    /// Checkout `payment.payment_method_types` (e.g. `VIRTUAL_ACCOUNT_BCA`); all the methods
    /// enabled in Back Office when absent (2.5).
    #[serde(default)]
    pub payment_method_types: Option<Vec<String>>,
    /// The path DOKU signs as `Request-Target` of Checkout notifications (2.7), when a proxy
    /// in front of the gateway changes it; by default the path the request arrived at.
    #[serde(default)]
    pub notification_path: Option<String>,
    /// How SNAP `X-TIMESTAMP`s are written: UTC `Z`, as DOKU's SDK does (2.11.2).
    #[serde(default = "default_timestamp_style")]
    pub timestamp_style: TimestampStyle,
    /// Whole-call deadline of every request to DOKU, token fetch included, in ms.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
}

/// Why a [`Config`] cannot work. Never contains a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required value is empty.
    #[error("doku: `{0}` must not be empty")]
    Empty(&'static str),
    /// `base_url` is not an http(s) URL with a host and without query or fragment.
    #[error("doku: `base_url` must be an http(s) URL without query or fragment")]
    BaseUrl,
    /// `client_id` has characters a header cannot carry.
    #[error("doku: `client_id` must be printable ASCII without spaces")]
    ClientId,
    /// `partner_service_id` is not 1–8 digits.
    #[error("doku: `partner_service_id` must be 1-8 digits")]
    PartnerServiceId,
    /// `customer_no_digits` is outside `1..=20`.
    #[error("doku: `customer_no_digits` must be within 1..=20, got {0}")]
    CustomerNoDigits(u8),
    /// `va_channel` is not one of DOKU's channels (2.11.4).
    #[error("doku: `va_channel` {0:?} is not a DOKU SNAP VA channel")]
    VaChannel(String),
    /// `payment_due_minutes` is outside `1..=43200` (30 days).
    #[error("doku: `payment_due_minutes` must be within 1..=43200, got {0}")]
    PaymentDue(u32),
    /// `notification_path` does not start with `/` or carries a query.
    #[error("doku: `notification_path` must start with '/' and carry no query")]
    NotificationPath,
    /// `request_timeout_ms` is zero.
    #[error("doku: `request_timeout_ms` must be greater than zero")]
    Timeout,
    /// A SNAP key or setting is unusable (the message names which).
    #[error("doku: {0}")]
    Snap(String),
}

impl From<ConfigError> for contracts::ProviderError {
    fn from(err: ConfigError) -> Self {
        contracts::ProviderError::new(contracts::ErrorKind::Misconfigured, err.to_string())
    }
}

impl Config {
    /// Checks everything that can be checked without I/O (the keys are parsed when the
    /// adapter is built).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.base_url;
        if !matches!(url.scheme(), "http" | "https")
            || !url.has_host()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(ConfigError::BaseUrl);
        }
        if self.client_id.is_empty() {
            return Err(ConfigError::Empty("client_id"));
        }
        if !self.client_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::ClientId);
        }
        let required = [
            ("secret_key", self.secret_key.expose_secret()),
            ("private_key", self.private_key.expose_secret()),
            ("doku_public_key", self.doku_public_key.as_str()),
            ("bank", self.bank.as_str()),
            ("channel_id", self.channel_id.as_str()),
        ];
        if let Some((name, _)) = required.iter().find(|(_, value)| value.trim().is_empty()) {
            return Err(ConfigError::Empty(name));
        }
        self.validate_va()?;
        self.validate_checkout()
    }

    fn validate_va(&self) -> Result<(), ConfigError> {
        let psid = &self.partner_service_id;
        if psid.is_empty() || psid.len() > 8 || !psid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::PartnerServiceId);
        }
        if !(1..=MAX_CUSTOMER_NO_DIGITS).contains(&self.customer_no_digits) {
            return Err(ConfigError::CustomerNoDigits(self.customer_no_digits));
        }
        if !VA_CHANNELS.contains(&self.va_channel.as_str()) {
            return Err(ConfigError::VaChannel(self.va_channel.clone()));
        }
        Ok(())
    }

    fn validate_checkout(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_DUE_MINUTES).contains(&self.payment_due_minutes) {
            return Err(ConfigError::PaymentDue(self.payment_due_minutes));
        }
        if self
            .payment_method_types
            .as_ref()
            .is_some_and(|types| types.is_empty() || types.iter().any(|t| t.trim().is_empty()))
        {
            return Err(ConfigError::Empty("payment_method_types"));
        }
        if let Some(path) = &self.notification_path
            && (!path.starts_with('/') || path.contains('?') || path.contains('#'))
        {
            return Err(ConfigError::NotificationPath);
        }
        if self.request_timeout_ms == 0 {
            return Err(ConfigError::Timeout);
        }
        Ok(())
    }

    /// `partner_service_id` left-padded with spaces to 8 characters (2.11.4).
    pub(crate) fn padded_partner_service_id(&self) -> String {
        format!("{:>8}", self.partner_service_id)
    }
}

fn default_customer_no_digits() -> u8 {
    12
}

fn default_va_channel() -> String {
    "VIRTUAL_ACCOUNT_BNI".to_owned()
}

fn default_bank() -> String {
    "BNI".to_owned()
}

fn default_channel_id() -> String {
    "SDK".to_owned()
}

fn default_payment_due_minutes() -> u32 {
    60
}

fn default_timestamp_style() -> TimestampStyle {
    TimestampStyle::Utc
}

fn default_request_timeout_ms() -> u64 {
    10_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "base_url": "http://127.0.0.1:9103",
            "client_id": "BRN-0201-1700000000001",
            "secret_key": "SK-EXAMPLE-NOT-A-REAL-KEY",
            "private_key": "-----BEGIN PRIVATE KEY-----\nsecret-pem-body\n-----END PRIVATE KEY-----",
            "doku_public_key": "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----",
            "partner_service_id": "8129"
        })
    }

    fn parse(value: serde_json::Value) -> Result<Config, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn defaults_fill_optional_fields() {
        let config = parse(minimal()).expect("parses");
        assert_eq!(config.customer_no_digits, 12);
        assert_eq!(config.va_channel, "VIRTUAL_ACCOUNT_BNI");
        assert_eq!(config.bank, "BNI");
        assert_eq!(config.channel_id, "SDK");
        assert_eq!(config.payment_due_minutes, 60);
        assert_eq!(config.payment_method_types, None);
        assert_eq!(config.notification_path, None);
        assert_eq!(config.timestamp_style, TimestampStyle::Utc);
        assert_eq!(config.request_timeout_ms, 10_000);
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.padded_partner_service_id(), "    8129");
    }

    #[test]
    fn unknown_fields_are_refused_and_styles_are_snake_case() {
        let mut value = minimal();
        value["partnerServiceId"] = "8129".into();
        assert!(parse(value).is_err());
        let mut value = minimal();
        value["timestamp_style"] = "jakarta".into();
        let config = parse(value).expect("parses");
        assert_eq!(config.timestamp_style, TimestampStyle::Jakarta);
        let mut value = minimal();
        value["timestamp_style"] = "UTC".into();
        assert!(parse(value).is_err());
    }

    #[test]
    fn secrets_never_show_in_serialized_or_debug_form() {
        let config = parse(minimal()).expect("parses");
        let shown = serde_json::to_string(&config).expect("serializes");
        assert!(!shown.contains("SK-EXAMPLE"));
        assert!(!shown.contains("secret-pem-body"));
        assert!(shown.contains(r#""secret_key":"[redacted]""#));
        assert!(shown.contains(r#""private_key":"[redacted]""#));
        let debug = format!("{config:?}");
        assert!(!debug.contains("SK-EXAMPLE"));
        assert!(!debug.contains("secret-pem-body"));
    }

    #[test]
    fn validate_refuses_what_cannot_work() {
        let base = parse(minimal()).expect("parses");
        type Change = fn(&mut Config);
        let cases: [(Change, ConfigError); 16] = [
            (
                |c| c.base_url = Url::parse("ftp://doku.example").expect("url"),
                ConfigError::BaseUrl,
            ),
            (
                |c| c.base_url = Url::parse("https://doku.example/?a=1").expect("url"),
                ConfigError::BaseUrl,
            ),
            (
                |c| c.client_id = String::new(),
                ConfigError::Empty("client_id"),
            ),
            (|c| c.client_id = "BRN 1".into(), ConfigError::ClientId),
            (
                |c| c.secret_key = SecretString::from(""),
                ConfigError::Empty("secret_key"),
            ),
            (
                |c| c.private_key = SecretString::from(" "),
                ConfigError::Empty("private_key"),
            ),
            (
                |c| c.doku_public_key = String::new(),
                ConfigError::Empty("doku_public_key"),
            ),
            (
                |c| c.partner_service_id = "123456789".into(),
                ConfigError::PartnerServiceId,
            ),
            (
                |c| c.partner_service_id = " 8129".into(),
                ConfigError::PartnerServiceId,
            ),
            (
                |c| c.customer_no_digits = 0,
                ConfigError::CustomerNoDigits(0),
            ),
            (
                |c| c.customer_no_digits = 21,
                ConfigError::CustomerNoDigits(21),
            ),
            (
                |c| c.va_channel = "VIRTUAL_ACCOUNT_XYZ".into(),
                ConfigError::VaChannel("VIRTUAL_ACCOUNT_XYZ".into()),
            ),
            (|c| c.payment_due_minutes = 0, ConfigError::PaymentDue(0)),
            (
                |c| c.payment_method_types = Some(Vec::new()),
                ConfigError::Empty("payment_method_types"),
            ),
            (
                |c| c.notification_path = Some("payments/notifications".into()),
                ConfigError::NotificationPath,
            ),
            (|c| c.request_timeout_ms = 0, ConfigError::Timeout),
        ];
        for (change, expected) in cases {
            let mut config = base.clone();
            change(&mut config);
            assert_eq!(config.validate(), Err(expected));
        }
        let mut widest = base;
        widest.customer_no_digits = 20;
        widest.partner_service_id = "12345678".into();
        widest.va_channel = "VIRTUAL_ACCOUNT_BANK_CIMB".into();
        widest.notification_path = Some("/payments/notifications".into());
        assert_eq!(widest.validate(), Ok(()));
    }
}
