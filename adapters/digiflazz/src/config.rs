//! Configuration of one Digiflazz buyer account: where the API is, the credentials of the
//! API mode in use (§1.1: development and production keys differ), the webhook secret
//! (§1.5) and the prepaid status-check horizon (§1.3.4).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// Digiflazz re-submits a prepaid status check older than 90 days as a new purchase
/// (§1.3.4); the horizon stays at least one day short of that.
pub(crate) const MAX_STATUS_HORIZON_DAYS: i64 = 89;

/// One Digiflazz buyer account, as configured.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The API host (§1.1: `https://api.digiflazz.com`). A path here (a proxy) is kept;
    /// `/v1/...` follows it.
    #[serde(default = "default_base_url")]
    pub base_url: Url,
    /// The buyer username from the member panel.
    pub username: String,
    /// The API key of the mode in use (development `dev-…` or production).
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub api_key: SecretString,
    /// The webhook secret set in the member panel: the HMAC-SHA1 key of `X-Hub-Signature`
    /// (§1.5). Digiflazz signs webhooks only when a secret is set, so one is required.
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub webhook_secret: SecretString,
    /// Sends `"testing": true` with every `/v1/transaction` command (§1.6), for
    /// development keys.
    #[serde(default)]
    pub testing: bool,
    /// Deadline of each HTTP exchange, in milliseconds. Default 30000.
    #[serde(default = "default_timeout_ms")]
    pub request_timeout_ms: u64,
    /// A prepaid status check re-submits the purchase (§1.3.4), so it is sent only for
    /// orders first sent less than this many days ago. Default and maximum 89 (Digiflazz
    /// books a re-submission older than 90 days as a new purchase).
    #[serde(default = "default_status_horizon_days")]
    pub status_horizon_days: i64,
}

fn default_base_url() -> Url {
    Url::parse("https://api.digiflazz.com").expect("a constant, valid URL")
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn default_status_horizon_days() -> i64 {
    MAX_STATUS_HORIZON_DAYS
}

/// Why a [`Config`] cannot work. Never contains a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required value is empty.
    #[error("digiflazz: `{0}` must not be empty")]
    Empty(&'static str),
    /// `base_url` is not an http(s) URL with a host and without query or fragment.
    #[error("digiflazz: `base_url` must be an http(s) URL without query or fragment")]
    BaseUrl,
    /// A value that is signed or sent verbatim holds characters other than printable
    /// ASCII, or surrounding spaces (a key pasted with its newline signs wrongly).
    #[error("digiflazz: `{0}` must be printable ASCII without surrounding spaces")]
    Text(&'static str),
    /// `request_timeout_ms` is zero.
    #[error("digiflazz: `request_timeout_ms` must be greater than zero")]
    Timeout,
    /// `status_horizon_days` is outside 1 to 89.
    #[error("digiflazz: `status_horizon_days` must be between 1 and {MAX_STATUS_HORIZON_DAYS}")]
    StatusHorizon,
}

impl From<ConfigError> for contracts::ProviderError {
    fn from(err: ConfigError) -> Self {
        contracts::ProviderError::new(contracts::ErrorKind::Misconfigured, err.to_string())
    }
}

impl Config {
    /// A configuration with every default filled in.
    pub fn new(
        username: impl Into<String>,
        api_key: SecretString,
        webhook_secret: SecretString,
    ) -> Config {
        Config {
            base_url: default_base_url(),
            username: username.into(),
            api_key,
            webhook_secret,
            testing: false,
            request_timeout_ms: default_timeout_ms(),
            status_horizon_days: default_status_horizon_days(),
        }
    }

    /// Checks everything that can be checked without I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !is_http_url(&self.base_url) {
            return Err(ConfigError::BaseUrl);
        }
        let texts = [
            ("username", self.username.as_str()),
            ("api_key", self.api_key.expose_secret()),
            ("webhook_secret", self.webhook_secret.expose_secret()),
        ];
        for (name, value) in texts {
            if value.trim().is_empty() {
                return Err(ConfigError::Empty(name));
            }
            if !is_printable(value) {
                return Err(ConfigError::Text(name));
            }
        }
        if self.request_timeout_ms == 0 {
            return Err(ConfigError::Timeout);
        }
        if !(1..=MAX_STATUS_HORIZON_DAYS).contains(&self.status_horizon_days) {
            return Err(ConfigError::StatusHorizon);
        }
        Ok(())
    }

    /// The deadline of one HTTP exchange.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

/// http(s), a host, no query, no fragment.
fn is_http_url(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
        && url.has_host()
        && url.query().is_none()
        && url.fragment().is_none()
}

/// Visible ASCII and inner spaces, nothing around.
fn is_printable(value: &str) -> bool {
    value.trim() == value && value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Config {
        Config::new(
            "demo-user",
            SecretString::from("dev-0000-key"),
            SecretString::from("whsecret"),
        )
    }

    #[test]
    fn defaults_are_filled_from_a_minimal_document() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "username": "demo-user", "api_key": "dev-0000-key", "webhook_secret": "whsecret",
        }))
        .expect("parses");
        assert_eq!(config.base_url.as_str(), "https://api.digiflazz.com/");
        assert!(!config.testing);
        assert_eq!(config.request_timeout_ms, 30_000);
        assert_eq!(config.status_horizon_days, 89);
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn every_field_can_be_set_and_unknown_fields_are_refused() {
        let full = serde_json::json!({
            "base_url": "http://127.0.0.1:9000/digiflazz", "username": "u", "api_key": "k",
            "webhook_secret": "s", "testing": true, "request_timeout_ms": 5000,
            "status_horizon_days": 30,
        });
        let config: Config = serde_json::from_value(full.clone()).expect("parses");
        assert!(config.testing);
        assert_eq!(config.request_timeout_ms, 5000);
        assert_eq!(config.status_horizon_days, 30);
        assert_eq!(config.validate(), Ok(()));
        let mut extra = full.clone();
        extra["cb_url"] = serde_json::json!("https://example.com/cb");
        assert!(serde_json::from_value::<Config>(extra).is_err());
        let mut missing = full;
        if let Some(map) = missing.as_object_mut() {
            map.remove("webhook_secret");
        }
        assert!(serde_json::from_value::<Config>(missing).is_err());
    }

    #[test]
    fn each_invalid_setting_is_named() {
        type Change = fn(&mut Config);
        let url = |text: &str| Url::parse(text).expect("url");
        let cases: Vec<(Change, ConfigError)> = vec![
            (
                |c| c.base_url = Url::parse("ftp://api.digiflazz.com").expect("url"),
                ConfigError::BaseUrl,
            ),
            (
                |c| c.base_url = Url::parse("https://api.digiflazz.com/?a=1").expect("url"),
                ConfigError::BaseUrl,
            ),
            (
                |c| c.base_url = Url::parse("https://api.digiflazz.com/#x").expect("url"),
                ConfigError::BaseUrl,
            ),
            (
                |c| c.username = " ".to_owned(),
                ConfigError::Empty("username"),
            ),
            (
                |c| c.username = "demo user\t".to_owned(),
                ConfigError::Text("username"),
            ),
            (
                |c| c.username = "pengguna-é".to_owned(),
                ConfigError::Text("username"),
            ),
            (
                |c| c.api_key = SecretString::from(""),
                ConfigError::Empty("api_key"),
            ),
            (
                |c| c.api_key = SecretString::from("dev-0000-key\n"),
                ConfigError::Text("api_key"),
            ),
            (
                |c| c.webhook_secret = SecretString::from("  "),
                ConfigError::Empty("webhook_secret"),
            ),
            (
                |c| c.webhook_secret = SecretString::from(" whsecret"),
                ConfigError::Text("webhook_secret"),
            ),
            (|c| c.request_timeout_ms = 0, ConfigError::Timeout),
            (|c| c.status_horizon_days = 0, ConfigError::StatusHorizon),
            (|c| c.status_horizon_days = 90, ConfigError::StatusHorizon),
            (|c| c.status_horizon_days = -1, ConfigError::StatusHorizon),
        ];
        for (change, expected) in cases {
            let mut config = sample();
            change(&mut config);
            assert_eq!(config.validate(), Err(expected));
        }
        let mut proxied = sample();
        proxied.base_url = url("http://proxy.internal/digiflazz/");
        assert_eq!(proxied.validate(), Ok(()));
    }

    #[test]
    fn serializing_and_debug_redact_every_secret() {
        let config = sample();
        let shown = serde_json::to_string(&config).expect("serializes");
        let debug = format!("{config:?}");
        for secret in ["dev-0000-key", "whsecret"] {
            assert!(!shown.contains(secret), "{shown}");
            assert!(!debug.contains(secret), "{debug}");
        }
        assert_eq!(shown.matches("[redacted]").count(), 2, "{shown}");
        assert!(shown.contains("demo-user"));
    }
}
