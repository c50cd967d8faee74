//! Configuration of one WhatsApp Business phone number: where the Graph API is, which
//! number sends, and the three secrets (3.1 access token, 3.5 verify token, 3.6 app secret).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// One WhatsApp Cloud API sender, as configured.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The Graph API host (3.1). A path here (a proxy) is kept; the version follows it.
    #[serde(default = "default_base_url")]
    pub base_url: Url,
    /// The Graph API version segment, `vNN.N` (3.1, 3.10 #4).
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The sending phone number's id (not the number itself), digits.
    pub phone_number_id: String,
    /// The system-user or app access token sent as `Authorization: Bearer` (3.1).
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub access_token: SecretString,
    /// The App Secret: the HMAC-SHA256 key of `X-Hub-Signature-256` (3.6).
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub app_secret: SecretString,
    /// The token Meta echoes in the subscription handshake (3.5).
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub verify_token: SecretString,
    /// Whole-call deadline per request, in milliseconds. Default 10000.
    #[serde(default = "default_timeout_ms")]
    pub request_timeout_ms: u64,
}

fn default_base_url() -> Url {
    Url::parse("https://graph.facebook.com").expect("a constant, valid URL")
}

fn default_api_version() -> String {
    "v21.0".to_owned()
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// Why a [`Config`] cannot work. Never contains a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required value is empty.
    #[error("whatsapp: `{0}` must not be empty")]
    Empty(&'static str),
    /// `base_url` is not an http(s) URL with a host and without query or fragment.
    #[error("whatsapp: `base_url` must be an http(s) URL without query or fragment")]
    BaseUrl,
    /// `api_version` is not of the form `vNN.N`.
    #[error("whatsapp: `api_version` must look like `v21.0`")]
    ApiVersion,
    /// `phone_number_id` is not all digits.
    #[error("whatsapp: `phone_number_id` must be digits only")]
    PhoneNumberId,
    /// `request_timeout_ms` is zero.
    #[error("whatsapp: `request_timeout_ms` must be greater than zero")]
    Timeout,
}

impl From<ConfigError> for contracts::ProviderError {
    fn from(err: ConfigError) -> Self {
        contracts::ProviderError::new(contracts::ErrorKind::Misconfigured, err.to_string())
    }
}

impl Config {
    /// A configuration with every default filled in.
    pub fn new(
        phone_number_id: impl Into<String>,
        access_token: SecretString,
        app_secret: SecretString,
        verify_token: SecretString,
    ) -> Config {
        Config {
            base_url: default_base_url(),
            api_version: default_api_version(),
            phone_number_id: phone_number_id.into(),
            access_token,
            app_secret,
            verify_token,
            request_timeout_ms: default_timeout_ms(),
        }
    }

    /// Checks everything that can be checked without I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(self.base_url.scheme(), "http" | "https")
            || !self.base_url.has_host()
            || self.base_url.query().is_some()
            || self.base_url.fragment().is_some()
        {
            return Err(ConfigError::BaseUrl);
        }
        let required = [
            ("phone_number_id", self.phone_number_id.as_str()),
            ("access_token", self.access_token.expose_secret()),
            ("app_secret", self.app_secret.expose_secret()),
            ("verify_token", self.verify_token.expose_secret()),
        ];
        if let Some((name, _)) = required.iter().find(|(_, value)| value.trim().is_empty()) {
            return Err(ConfigError::Empty(name));
        }
        if !is_version(&self.api_version) {
            return Err(ConfigError::ApiVersion);
        }
        if !self.phone_number_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::PhoneNumberId);
        }
        if self.request_timeout_ms == 0 {
            return Err(ConfigError::Timeout);
        }
        Ok(())
    }

    /// The whole-call deadline.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

/// `vNN.N`: `v`, digits, `.`, digits.
fn is_version(version: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    version
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| digits(major) && digits(minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Config {
        Config::new(
            "106540352242922",
            SecretString::from("EAAG-t0ken"),
            SecretString::from("app-s3cret"),
            SecretString::from("verify-t0ken"),
        )
    }

    #[test]
    fn defaults_are_filled_from_a_minimal_document() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "phone_number_id": "106540352242922",
            "access_token": "a",
            "app_secret": "b",
            "verify_token": "c",
        }))
        .expect("parses");
        assert_eq!(config.base_url.as_str(), "https://graph.facebook.com/");
        assert_eq!(config.api_version, "v21.0");
        assert_eq!(config.request_timeout_ms, 10_000);
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let parsed = serde_json::from_value::<Config>(serde_json::json!({
            "phone_number_id": "1", "access_token": "a", "app_secret": "b",
            "verify_token": "c", "token": "d",
        }));
        assert!(parsed.is_err());
    }

    #[test]
    fn each_invalid_setting_is_named() {
        type Change = fn(&mut Config);
        let cases: Vec<(Change, ConfigError)> = vec![
            (
                |c| c.base_url = Url::parse("ftp://graph.facebook.com").expect("url"),
                ConfigError::BaseUrl,
            ),
            (
                |c| c.base_url = Url::parse("https://graph.facebook.com/?a=1").expect("url"),
                ConfigError::BaseUrl,
            ),
            (|c| c.api_version = "21.0".into(), ConfigError::ApiVersion),
            (|c| c.api_version = "v21".into(), ConfigError::ApiVersion),
            (|c| c.api_version = "v21.x".into(), ConfigError::ApiVersion),
            (
                |c| c.phone_number_id = " ".into(),
                ConfigError::Empty("phone_number_id"),
            ),
            (
                |c| c.phone_number_id = "10654/../x".into(),
                ConfigError::PhoneNumberId,
            ),
            (
                |c| c.access_token = SecretString::from(""),
                ConfigError::Empty("access_token"),
            ),
            (
                |c| c.app_secret = SecretString::from(" "),
                ConfigError::Empty("app_secret"),
            ),
            (
                |c| c.verify_token = SecretString::from(""),
                ConfigError::Empty("verify_token"),
            ),
            (|c| c.request_timeout_ms = 0, ConfigError::Timeout),
        ];
        for (change, expected) in cases {
            let mut config = sample();
            change(&mut config);
            assert_eq!(config.validate(), Err(expected));
        }
    }

    #[test]
    fn serializing_and_debug_redact_every_secret() {
        let config = sample();
        let shown = serde_json::to_string(&config).expect("serializes");
        assert!(!shown.contains("t0ken") && !shown.contains("s3cret"));
        assert_eq!(shown.matches("[redacted]").count(), 3);
        let debug = format!("{config:?}");
        assert!(!debug.contains("t0ken") && !debug.contains("s3cret"));
    }
}
