//! The adapter's configuration: one NICEPAY merchant (iMid) and its key.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

/// One NICEPAY V2 direct merchant.
///
/// `base_url` is the host root, e.g. `https://dev.nicepay.co.id`. The adapter appends
/// `/nicepay/direct/v2/registration`, `/inquiry` and `/cancel`. A base that already ends
/// in `/nicepay` (the form NICEPAY's SDKs use, `https://dev.nicepay.co.id/nicepay`) is
/// accepted too and gets only `/direct/v2/...` appended, so both spellings reach the same
/// wire path (protocol 1.1). Any other path prefix (a proxy) is kept.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Host root of the NICEPAY API, with or without a trailing `/nicepay`.
    pub base_url: Url,
    /// Merchant id (`iMid`, AN10), e.g. `IONPAYTEST`.
    pub imid: String,
    /// The merchant key that ends every `merchantToken` hash.
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub merchant_key: SecretString,
    /// The bank the VAs are issued at (`bankCd`, protocol 1.9). Default `BNIN` (BNI).
    #[serde(default = "default_bank_code")]
    pub bank_code: String,
    /// Where NICEPAY posts payment notifications (`dbProcessUrl`). The gateway fills it with
    /// the instance's callback URL before building; [`crate::Nicepay::new`] refuses `None`.
    #[serde(default)]
    pub notification_url: Option<Url>,
    /// Per-request timeout in milliseconds, from connect to the last body byte. Default 10000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Values for the billing fields NICEPAY requires but a VA bill does not carry.
    #[serde(default)]
    pub billing: BillingDefaults,
}

/// Billing fields NICEPAY's registration requires (protocol 1.4) that the unified API does
/// not carry. The address fields are sent as they are on every registration; `phone` and
/// `email` are sent only for a customer who has none (NICEPAY answers `9017`/`9018` to an
/// empty `billingPhone`/`billingEmail`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct BillingDefaults {
    /// `billingAddr`. Default `"Jakarta"`.
    pub address: String,
    /// `billingCity`. Default `"Jakarta"`.
    pub city: String,
    /// `billingState`. Default `"DKI Jakarta"`.
    pub state: String,
    /// `billingPostCd`. Default `"10110"`.
    pub post_code: String,
    /// `billingCountry`. Default `"Indonesia"`.
    pub country: String,
    /// `billingPhone` for a customer without a usable phone number (digits only, at most
    /// 15). Default `"080000000000"`.
    pub phone: String,
    /// `billingEmail` for a customer without a usable e-mail (at most 40 characters).
    /// Default `"noreply@example.com"`; set the merchant's own address in production.
    pub email: String,
}

impl Default for BillingDefaults {
    fn default() -> Self {
        BillingDefaults {
            address: "Jakarta".to_owned(),
            city: "Jakarta".to_owned(),
            state: "DKI Jakarta".to_owned(),
            post_code: "10110".to_owned(),
            country: "Indonesia".to_owned(),
            phone: "080000000000".to_owned(),
            email: "noreply@example.com".to_owned(),
        }
    }
}

fn default_bank_code() -> String {
    "BNIN".to_owned()
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// Why a [`Config`] cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required value is empty.
    #[error("nicepay: `{0}` must not be empty")]
    Empty(&'static str),
    /// `notification_url` was not filled before building.
    #[error("nicepay: `notification_url` (dbProcessUrl) must be set before building")]
    MissingNotificationUrl,
    /// `base_url` is not an http(s) URL without query or fragment.
    #[error("nicepay: `base_url` must be an http(s) URL without query or fragment")]
    BadBaseUrl,
    /// `notification_url` is not an http(s) URL of at most 255 characters.
    #[error("nicepay: `notification_url` must be an http(s) URL of at most 255 characters")]
    BadNotificationUrl,
    /// `imid` is not 1–10 ASCII letters or digits.
    #[error("nicepay: `imid` must be 1-10 ASCII letters or digits")]
    BadImid,
    /// `bank_code` is not four ASCII capital letters.
    #[error("nicepay: `bank_code` must be four capital letters, e.g. BNIN")]
    BadBankCode,
    /// `timeout_ms` is zero.
    #[error("nicepay: `timeout_ms` must be greater than zero")]
    ZeroTimeout,
    /// `billing.phone` is not 1–15 digits.
    #[error("nicepay: `billing.phone` must be 1-15 digits")]
    BadDefaultPhone,
    /// `billing.email` is not an address of at most 40 characters.
    #[error("nicepay: `billing.email` must be an e-mail address of at most 40 characters")]
    BadDefaultEmail,
}

impl From<ConfigError> for contracts::ProviderError {
    fn from(err: ConfigError) -> Self {
        contracts::ProviderError::new(contracts::ErrorKind::Misconfigured, err.to_string())
    }
}

impl Config {
    /// Checks everything that can be checked without I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use secrecy::ExposeSecret;

        if !is_http(&self.base_url)
            || self.base_url.query().is_some()
            || self.base_url.fragment().is_some()
        {
            return Err(ConfigError::BadBaseUrl);
        }
        if self.imid.is_empty()
            || self.imid.len() > 10
            || !self.imid.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(ConfigError::BadImid);
        }
        if self.merchant_key.expose_secret().is_empty() {
            return Err(ConfigError::Empty("merchant_key"));
        }
        if self.bank_code.len() != 4 || !self.bank_code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ConfigError::BadBankCode);
        }
        match &self.notification_url {
            None => return Err(ConfigError::MissingNotificationUrl),
            Some(url) if !is_http(url) || url.as_str().len() > 255 => {
                return Err(ConfigError::BadNotificationUrl);
            }
            Some(_) => {}
        }
        if self.timeout_ms == 0 {
            return Err(ConfigError::ZeroTimeout);
        }
        self.billing.validate()
    }
}

impl BillingDefaults {
    fn validate(&self) -> Result<(), ConfigError> {
        let required = [
            ("billing.address", &self.address),
            ("billing.city", &self.city),
            ("billing.state", &self.state),
            ("billing.post_code", &self.post_code),
            ("billing.country", &self.country),
        ];
        if let Some((name, _)) = required.iter().find(|(_, value)| value.trim().is_empty()) {
            return Err(ConfigError::Empty(name));
        }
        if self.phone.is_empty()
            || self.phone.len() > 15
            || !self.phone.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(ConfigError::BadDefaultPhone);
        }
        if !crate::convert::usable_email(&self.email) {
            return Err(ConfigError::BadDefaultEmail);
        }
        Ok(())
    }
}

fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.has_host()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Config {
        crate::tests::config("https://dev.nicepay.co.id")
    }

    #[test]
    fn a_complete_config_validates() {
        assert_eq!(sample().validate(), Ok(()));
    }

    #[test]
    fn a_missing_notification_url_is_refused() {
        let mut config = sample();
        config.notification_url = None;
        assert_eq!(config.validate(), Err(ConfigError::MissingNotificationUrl));
    }

    #[test]
    fn bad_values_are_refused() {
        let mut config = sample();
        config.bank_code = "bni".to_owned();
        assert_eq!(config.validate(), Err(ConfigError::BadBankCode));

        let mut config = sample();
        config.imid = "TOO-LONG-IMID".to_owned();
        assert_eq!(config.validate(), Err(ConfigError::BadImid));

        let mut config = sample();
        config.merchant_key = SecretString::from("");
        assert_eq!(config.validate(), Err(ConfigError::Empty("merchant_key")));

        let mut config = sample();
        config.billing.phone = "+62 812".to_owned();
        assert_eq!(config.validate(), Err(ConfigError::BadDefaultPhone));

        let mut config = sample();
        config.timeout_ms = 0;
        assert_eq!(config.validate(), Err(ConfigError::ZeroTimeout));
    }

    #[test]
    fn defaults_fill_in_and_unknown_fields_are_refused() {
        let json = r#"{"base_url":"http://127.0.0.1:9102","imid":"IONPAYTEST","merchant_key":"k"}"#;
        let config: Config = serde_json::from_str(json).expect("parses");
        assert_eq!(config.bank_code, "BNIN");
        assert_eq!(config.timeout_ms, 10_000);
        assert_eq!(config.billing.city, "Jakarta");
        assert!(config.notification_url.is_none());

        let json = r#"{"base_url":"http://x","imid":"I","merchant_key":"k","bankCd":"BNIN"}"#;
        assert!(serde_json::from_str::<Config>(json).is_err());
    }

    #[test]
    fn serializing_redacts_the_merchant_key() {
        let mut config = sample();
        config.merchant_key = SecretString::from("s3cr3t-key");
        let shown = serde_json::to_string(&config).expect("serializes");
        assert!(!shown.contains("s3cr3t"));
        assert!(shown.contains("[redacted]"));
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }
}
