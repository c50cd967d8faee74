//! Configuration of one BNI eCollection instance (a client id and its secret key).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// The widest freshness window we allow: BNI's own PHP library uses 480 s, its Node SDK
/// 300 s (A.4.2 step 4); anything much wider only helps replays.
const MAX_WINDOW_SECS: i64 = 900;

/// One BNI eCollection client, as configured.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to `POST` every request; the operation travels inside the encrypted payload
    /// (A.1), so this is the service root, e.g. `https://api.bni-ecollection.com/`.
    pub base_url: Url,
    /// The BNI-assigned client id (digits, e.g. `"001"`); first key of the cipher.
    pub client_id: String,
    /// The secret key (32 hex characters from BNI, used as text); second key of the cipher.
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub secret_key: SecretString,
    /// The VA prefix BNI assigned, sent as the envelope's `prefix` (A.1).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Which billing types this client id may use: `c` fixed only, or `i` also
    /// installment (partial) billings.
    #[serde(default)]
    pub billing_type: BillingType,
    /// Freshness window for encrypted messages, both directions, in seconds.
    #[serde(default = "default_window")]
    pub timestamp_window_secs: i64,
    /// Per-request timeout, from connecting to the end of the response body.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// When true, callbacks are only hints to be confirmed by `inquirybilling` (A.4.4 d).
    #[serde(default)]
    pub confirm_callbacks: bool,
    /// The bank name reported for issued VAs.
    #[serde(default = "default_bank")]
    pub bank: String,
}

/// The BNI `billing_type` this instance is set up for (A.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BillingType {
    /// `c`: fixed (closed) payment, exactly the billed amount, once.
    #[default]
    C,
    /// `i`: installment; several payments until the cumulative total reaches the amount.
    /// Exact-amount VAs are still issued as `c`.
    I,
}

/// Why a [`Config`] cannot work. Never contains the secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `client_id` is empty or not all digits.
    #[error("client_id must be a non-empty string of digits")]
    ClientId,
    /// `secret_key` is empty.
    #[error("secret_key must not be empty")]
    SecretKey,
    /// `prefix` is empty or not all digits.
    #[error("prefix must be a non-empty string of digits")]
    Prefix,
    /// `timestamp_window_secs` is outside `1..=900`.
    #[error("timestamp_window_secs must be within 1..=900, got {0}")]
    Window(i64),
    /// `base_url` is not `http` or `https`.
    #[error("base_url must use http or https, got {0:?}")]
    Scheme(String),
    /// `timeout_ms` is zero.
    #[error("timeout_ms must be greater than zero")]
    Timeout,
    /// `bank` is empty.
    #[error("bank must not be empty")]
    Bank,
}

impl Config {
    /// Checks everything that can be checked without talking to BNI.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !is_digits(&self.client_id) {
            return Err(ConfigError::ClientId);
        }
        if self.secret_key.expose_secret().is_empty() {
            return Err(ConfigError::SecretKey);
        }
        if !is_digits(&self.prefix) {
            return Err(ConfigError::Prefix);
        }
        if !(1..=MAX_WINDOW_SECS).contains(&self.timestamp_window_secs) {
            return Err(ConfigError::Window(self.timestamp_window_secs));
        }
        if !matches!(self.base_url.scheme(), "http" | "https") {
            return Err(ConfigError::Scheme(self.base_url.scheme().to_owned()));
        }
        if self.timeout_ms == 0 {
            return Err(ConfigError::Timeout);
        }
        if self.bank.trim().is_empty() {
            return Err(ConfigError::Bank);
        }
        Ok(())
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn default_prefix() -> String {
    "8".to_owned()
}

fn default_window() -> i64 {
    300
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_bank() -> String {
    "BNI".to_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid configuration with the credentials of the spec's vectors TV-3..TV-7.
    pub(crate) fn sample(base_url: &str) -> Config {
        let text = format!(
            r#"{{"base_url":"{base_url}","client_id":"123","secret_key":"0123456789abcdef0123456789abcdef"}}"#
        );
        serde_json::from_str(&text).expect("sample config")
    }

    #[test]
    fn defaults_fill_optional_fields() {
        let config = sample("http://127.0.0.1:9101");
        assert_eq!(config.prefix, "8");
        assert_eq!(config.billing_type, BillingType::C);
        assert_eq!(config.timestamp_window_secs, 300);
        assert_eq!(config.timeout_ms, 10_000);
        assert!(!config.confirm_callbacks);
        assert_eq!(config.bank, "BNI");
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn unknown_fields_are_refused_and_billing_type_is_lowercase() {
        let unknown = r#"{"base_url":"http://x","client_id":"1","secret_key":"s","extra":1}"#;
        assert!(serde_json::from_str::<Config>(unknown).is_err());
        let partial =
            r#"{"base_url":"http://x","client_id":"1","secret_key":"s","billing_type":"i"}"#;
        let config: Config = serde_json::from_str(partial).expect("parses");
        assert_eq!(config.billing_type, BillingType::I);
        let upper =
            r#"{"base_url":"http://x","client_id":"1","secret_key":"s","billing_type":"C"}"#;
        assert!(serde_json::from_str::<Config>(upper).is_err());
    }

    #[test]
    fn secret_never_shows_in_serialized_or_debug_form() {
        let config = sample("http://127.0.0.1:9101");
        let shown = serde_json::to_string(&config).expect("serializes");
        assert!(shown.contains(r#""secret_key":"[redacted]""#));
        assert!(!shown.contains("0123456789abcdef"));
        assert!(!format!("{config:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn validate_refuses_what_cannot_work() {
        let base = sample("http://127.0.0.1:9101");
        type Change = fn(&mut Config);
        let cases: [(Change, ConfigError); 8] = [
            (|c| c.client_id = "12a".into(), ConfigError::ClientId),
            (|c| c.client_id = String::new(), ConfigError::ClientId),
            (
                |c| c.secret_key = SecretString::from(""),
                ConfigError::SecretKey,
            ),
            (|c| c.prefix = "98x".into(), ConfigError::Prefix),
            (|c| c.timestamp_window_secs = 0, ConfigError::Window(0)),
            (|c| c.timestamp_window_secs = 901, ConfigError::Window(901)),
            (
                |c| c.base_url = Url::parse("ftp://bni.example").expect("url"),
                ConfigError::Scheme("ftp".into()),
            ),
            (|c| c.timeout_ms = 0, ConfigError::Timeout),
        ];
        for (change, expected) in cases {
            let mut config = base.clone();
            change(&mut config);
            assert_eq!(config.validate(), Err(expected));
        }
        let mut widest = base;
        widest.timestamp_window_secs = 900;
        assert_eq!(widest.validate(), Ok(()));
    }
}
