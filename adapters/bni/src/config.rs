//! Configuration of one BNI instance: eCollection (a client id and its secret key, the
//! default) or SNAP BI (`protocol = "snap"`: B2B credentials, the VA number layout, and
//! what we know of BNI when it calls us). One flat struct; [`Config::validate`] requires
//! the fields of the chosen protocol and refuses those of the other.

use adapter_snap::{NotifyAuth, TimestampStyle};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// The widest freshness window we allow: BNI's own PHP library uses 480 s, its Node SDK
/// 300 s (A.4.2 step 4); anything much wider only helps replays.
const MAX_WINDOW_SECS: i64 = 900;

/// One BNI client, as configured.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which BNI API this instance speaks.
    #[serde(default)]
    pub protocol: Protocol,
    /// eCollection: where to `POST` every request; the operation travels inside the
    /// encrypted payload (A.1), so this is the service root, e.g.
    /// `https://api.bni-ecollection.com/`. SNAP: the base URL every path is relative to
    /// (it may carry a path prefix, signed as part of the path, B.3.2).
    pub base_url: Url,
    /// eCollection: the BNI-assigned client id (digits, e.g. `"001"`); first key of the
    /// cipher.
    #[serde(default)]
    pub client_id: String,
    /// eCollection: the secret key (32 hex characters from BNI, used as text); second key
    /// of the cipher.
    #[serde(
        default = "empty_secret",
        serialize_with = "contracts::serialize_redacted"
    )]
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
    /// SNAP: `X-CLIENT-KEY` of our token requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    /// SNAP: `X-PARTNER-ID` of our service calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    /// SNAP: the HMAC-SHA512 key of our service calls (B.3.2).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "contracts::serialize_redacted"
    )]
    pub client_secret: Option<SecretString>,
    /// SNAP: our RSA private key (PEM), signing token requests (B.3.1).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "contracts::serialize_redacted"
    )]
    pub private_key: Option<SecretString>,
    /// SNAP: `CHANNEL-ID` (default `"95221"`, B.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// SNAP: BNI's prefix + client id, digits only, at most 8 (e.g. `"8123"`); sent as
    /// `partnerServiceId`, left-padded with spaces to 8 (B.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_service_id: Option<String>,
    /// SNAP: digits of `customerNo`, the serial after `partner_service_id` (default 12,
    /// making BNI's 16-digit VA number with a 4-digit `partner_service_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_no_digits: Option<u8>,
    /// SNAP: the token path below `base_url` (default `/v1.0/access-token/b2b`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_path: Option<String>,
    /// SNAP: the prefix of the VA services below `base_url` (default `/v1.0`; services at
    /// `{service_prefix}/transfer-va/create-va` etc.). BNI's real paths are not public
    /// (open question 1), hence configurable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_prefix: Option<String>,
    /// SNAP: how `X-TIMESTAMP` and dates are written (default Jakarta time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_style: Option<TimestampStyle>,
    /// SNAP: who holds the bill (default the bank).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bills: Option<Bills>,
    /// SNAP: the client id we issued to BNI: `X-CLIENT-KEY` of its token requests to us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_client_key: Option<String>,
    /// SNAP: the secret we issued to BNI, keying its HMAC on notifications (B.4 set-up 1).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "contracts::serialize_redacted"
    )]
    pub notify_client_secret: Option<SecretString>,
    /// SNAP: BNI's RSA public key (PEM), verifying its token requests and asymmetric
    /// notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_public_key: Option<String>,
    /// SNAP: how BNI signs its notifications (B.4; default symmetric, with a token we
    /// issue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_auth: Option<NotifyAuth>,
}

/// The BNI API an instance speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// eCollection, the legacy encrypted-JSON API (Part A).
    #[default]
    Ecollection,
    /// SNAP BI virtual accounts (Part B).
    Snap,
}

/// Who holds the bill of a SNAP VA.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bills {
    /// The bank: create, update and delete VAs at BNI (B.5).
    #[default]
    Bank,
    /// The gateway (host-to-host): BNI asks us what a number owes (svc 24) before it
    /// takes a payment.
    Gateway,
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
    /// A field the protocol needs is absent or empty.
    #[error("{0} is required with protocol {1:?}")]
    Missing(&'static str, Protocol),
    /// A field of the other protocol is set.
    #[error("{0} does not apply to protocol {1:?}")]
    OtherProtocol(&'static str, Protocol),
    /// `partner_service_id` is not 1 to 8 digits.
    #[error("partner_service_id must be 1 to 8 digits")]
    PartnerServiceId,
    /// `customer_no_digits` is outside `1..=20` (SNAP `customerNo` is String(20)).
    #[error("customer_no_digits must be within 1..=20, got {0}")]
    CustomerNoDigits(u8),
    /// `token_path` or `service_prefix` does not start with `/`.
    #[error("{0} must start with '/'")]
    Path(&'static str),
    /// A SNAP key or credential cannot be used.
    #[error("{0}")]
    Snap(#[from] adapter_snap::ConfigError),
}

impl Config {
    /// Checks everything that can be checked without talking to BNI: the fields of the
    /// configured protocol, and that none of the other protocol's are set. (Keys are parsed
    /// by [`crate::Bni::new`].)
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_common()?;
        match self.protocol {
            Protocol::Ecollection => self.validate_ecollection(),
            Protocol::Snap => self.validate_snap(),
        }
    }

    fn validate_common(&self) -> Result<(), ConfigError> {
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

    fn validate_ecollection(&self) -> Result<(), ConfigError> {
        let snap_fields = [
            ("client_key", self.client_key.is_some()),
            ("partner_id", self.partner_id.is_some()),
            ("client_secret", self.client_secret.is_some()),
            ("private_key", self.private_key.is_some()),
            ("channel_id", self.channel_id.is_some()),
            ("partner_service_id", self.partner_service_id.is_some()),
            ("customer_no_digits", self.customer_no_digits.is_some()),
            ("token_path", self.token_path.is_some()),
            ("service_prefix", self.service_prefix.is_some()),
            ("timestamp_style", self.timestamp_style.is_some()),
            ("bills", self.bills.is_some()),
            ("notify_client_key", self.notify_client_key.is_some()),
            ("notify_client_secret", self.notify_client_secret.is_some()),
            ("bank_public_key", self.bank_public_key.is_some()),
            ("notify_auth", self.notify_auth.is_some()),
        ];
        if let Some((field, _)) = snap_fields.iter().find(|(_, set)| *set) {
            return Err(ConfigError::OtherProtocol(field, Protocol::Ecollection));
        }
        if !is_digits(&self.client_id) {
            return Err(ConfigError::ClientId);
        }
        if self.secret_key.expose_secret().is_empty() {
            return Err(ConfigError::SecretKey);
        }
        if !is_digits(&self.prefix) {
            return Err(ConfigError::Prefix);
        }
        Ok(())
    }

    /// eCollection fields with a default are refused only when set to something else: a
    /// value equal to the default changes nothing.
    fn validate_snap(&self) -> Result<(), ConfigError> {
        let snap = Protocol::Snap;
        let legacy_fields = [
            ("client_id", !self.client_id.is_empty()),
            ("secret_key", !self.secret_key.expose_secret().is_empty()),
            ("prefix", self.prefix != default_prefix()),
            ("billing_type", self.billing_type != BillingType::C),
            ("confirm_callbacks", self.confirm_callbacks),
        ];
        if let Some((field, _)) = legacy_fields.iter().find(|(_, set)| *set) {
            return Err(ConfigError::OtherProtocol(field, snap));
        }
        let required = [
            ("client_key", self.client_key.as_deref()),
            ("partner_id", self.partner_id.as_deref()),
            (
                "client_secret",
                self.client_secret.as_ref().map(|s| s.expose_secret()),
            ),
            (
                "private_key",
                self.private_key.as_ref().map(|s| s.expose_secret()),
            ),
            ("partner_service_id", self.partner_service_id.as_deref()),
            ("notify_client_key", self.notify_client_key.as_deref()),
            ("bank_public_key", self.bank_public_key.as_deref()),
            ("channel_id", Some(self.snap_channel_id())),
        ];
        if let Some((field, _)) = required
            .iter()
            .find(|(_, value)| value.is_none_or(|v| v.trim().is_empty()))
        {
            return Err(ConfigError::Missing(field, snap));
        }
        let notify_secret = self
            .notify_client_secret
            .as_ref()
            .map(|s| s.expose_secret());
        if self.snap_notify_auth() == NotifyAuth::Symmetric
            && notify_secret.is_none_or(str::is_empty)
        {
            return Err(ConfigError::Missing("notify_client_secret", snap));
        }
        let psid = self.partner_service_id.as_deref().unwrap_or_default();
        if !is_digits(psid) || psid.len() > 8 {
            return Err(ConfigError::PartnerServiceId);
        }
        let digits = self.snap_customer_no_digits();
        if !(1..=20).contains(&digits) {
            return Err(ConfigError::CustomerNoDigits(digits));
        }
        if !self.snap_token_path().starts_with('/') {
            return Err(ConfigError::Path("token_path"));
        }
        if self
            .service_prefix
            .as_deref()
            .is_some_and(|p| !p.is_empty() && !p.starts_with('/'))
        {
            return Err(ConfigError::Path("service_prefix"));
        }
        Ok(())
    }

    /// SNAP `CHANNEL-ID`, defaulted.
    pub(crate) fn snap_channel_id(&self) -> &str {
        self.channel_id.as_deref().unwrap_or("95221")
    }

    /// SNAP `customerNo` digits, defaulted.
    pub(crate) fn snap_customer_no_digits(&self) -> u8 {
        self.customer_no_digits.unwrap_or(12)
    }

    /// SNAP token path, defaulted.
    pub(crate) fn snap_token_path(&self) -> &str {
        self.token_path
            .as_deref()
            .unwrap_or("/v1.0/access-token/b2b")
    }

    /// SNAP service prefix, defaulted, without a trailing `/`.
    pub(crate) fn snap_service_prefix(&self) -> &str {
        self.service_prefix
            .as_deref()
            .unwrap_or("/v1.0")
            .trim_end_matches('/')
    }

    /// SNAP notification authentication, defaulted.
    pub(crate) fn snap_notify_auth(&self) -> NotifyAuth {
        self.notify_auth.unwrap_or_default()
    }
}

fn empty_secret() -> SecretString {
    SecretString::from("")
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
