//! Configuration of one AstraPay merchant: the credentials AstraPay issued us (1.3), the
//! credentials we issued AstraPay for its notifications (1.12), and the service paths.

use std::time::Duration;

use adapter_snap::codec::TimestampStyle;
use adapter_snap::sign::{RsaPrivateKey, RsaPublicKey};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// SNAP's `X-PARTNER-ID` is String(36) (B.2); AstraPay sends its Client ID there.
const MAX_PARTNER_ID_CHARS: usize = 36;

/// One AstraPay merchant, as configured.
///
/// Outbound calls (1.3–1.6): `client_id` is `X-CLIENT-KEY` on the token call and
/// `X-PARTNER-ID` on service calls, `client_secret` keys the HMAC-SHA512 service signature,
/// `private_key` signs the token request. Inbound (1.12): AstraPay asks *us* for a token
/// with `notify_client_key`, signed with its own key (`astrapay_public_key` verifies it),
/// then signs each notification with `notify_client_secret`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// AstraPay's host, e.g. `https://sandbox.astrapay.com` (1.2). Service prefixes are
    /// appended to it; a path here (a proxy) is kept and signed.
    pub base_url: Url,
    /// The Client ID AstraPay issued.
    pub client_id: String,
    /// The Client Secret AstraPay issued: the HMAC-SHA512 key of service signatures.
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub client_secret: SecretString,
    /// Our RSA private key (PEM, PKCS#8 or PKCS#1) whose public half AstraPay holds.
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub private_key: SecretString,
    /// The payment-channel `merchantId` (a UUID) sent on direct-debit payments (1.8).
    pub merchant_id: String,
    /// The numeric QRIS `merchantId` (1.9). With `qris_terminal_id`, enables method `qris`.
    #[serde(default)]
    pub qris_merchant_id: Option<String>,
    /// The QRIS `terminalId` (1.9). With `qris_merchant_id`, enables method `qris`.
    #[serde(default)]
    pub qris_terminal_id: Option<String>,
    /// Send `paymentType: "IN_APP"` on direct debits and answer the app deeplink
    /// (`appRedirectUrl`) when AstraPay returns one (1.8). Default false: a web redirect.
    #[serde(default)]
    pub in_app: bool,
    /// The B2B token path (1.6).
    #[serde(default = "default_token_path")]
    pub token_path: String,
    /// The direct-debit service prefix (1.8).
    #[serde(default = "default_debit_prefix")]
    pub debit_prefix: String,
    /// The QRIS service prefix (1.9).
    #[serde(default = "default_qris_prefix")]
    pub qris_prefix: String,
    /// The whole QRIS refund path: its prefix is not documented (1.14 open question 2).
    #[serde(default = "default_qris_refund_path")]
    pub qris_refund_path: String,
    /// How `X-TIMESTAMP` is written on our calls. Default Jakarta time, `+07:00` (1.4).
    #[serde(default)]
    pub timestamp_style: TimestampStyle,
    /// Whole-call deadline per request (token fetch included), in milliseconds. Default 10000.
    #[serde(default = "default_timeout_ms")]
    pub request_timeout_ms: u64,
    /// The client id we issued AstraPay: its `X-CLIENT-KEY` when it asks for a token.
    pub notify_client_key: String,
    /// The client secret we issued AstraPay: the HMAC-SHA512 key of its notifications.
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub notify_client_secret: SecretString,
    /// AstraPay's RSA public key (PEM): verifies its token requests to us.
    pub astrapay_public_key: String,
}

/// The QRIS identity, present when method `qris` is offered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Qris {
    pub(crate) merchant_id: String,
    pub(crate) terminal_id: String,
}

fn default_token_path() -> String {
    "/snap-service/snap/v1.0/access-token/b2b".to_owned()
}

fn default_debit_prefix() -> String {
    "/merchant-service/snap/v1.0".to_owned()
}

fn default_qris_prefix() -> String {
    "/qris-service/snap/v1.0".to_owned()
}

fn default_qris_refund_path() -> String {
    "/qris-service/snap/v1.0/qr/qr-mpm-refund".to_owned()
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// Why a [`Config`] cannot work. Never contains a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required value is empty.
    #[error("astrapay: `{0}` must not be empty")]
    Empty(&'static str),
    /// `base_url` is not an http(s) URL with a host and without query or fragment.
    #[error("astrapay: `base_url` must be an http(s) URL without query or fragment")]
    BaseUrl,
    /// `client_id` is longer than SNAP's `X-PARTNER-ID` allows.
    #[error("astrapay: `client_id` must be at most 36 characters")]
    ClientId,
    /// Only one of `qris_merchant_id` and `qris_terminal_id` is set.
    #[error("astrapay: `qris_merchant_id` and `qris_terminal_id` must be set together")]
    QrisPair,
    /// A path does not start with `/`, ends with `/`, or carries a query.
    #[error("astrapay: `{0}` must start with '/', not end with '/' and carry no query")]
    Path(&'static str),
    /// `request_timeout_ms` is zero.
    #[error("astrapay: `request_timeout_ms` must be greater than zero")]
    Timeout,
    /// A key does not parse.
    #[error("astrapay: `{field}` is not a usable RSA key: {reason}")]
    Key {
        /// Which setting holds the key.
        field: &'static str,
        /// What is wrong with it (never the key itself).
        reason: String,
    },
    /// The SNAP layer refused the derived settings.
    #[error("astrapay: {0}")]
    Snap(#[from] adapter_snap::ConfigError),
}

impl From<ConfigError> for contracts::ProviderError {
    fn from(err: ConfigError) -> Self {
        contracts::ProviderError::new(contracts::ErrorKind::Misconfigured, err.to_string())
    }
}

impl Config {
    /// Checks everything that can be checked without I/O, keys included.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(self.base_url.scheme(), "http" | "https")
            || !self.base_url.has_host()
            || self.base_url.query().is_some()
            || self.base_url.fragment().is_some()
        {
            return Err(ConfigError::BaseUrl);
        }
        self.validate_ids()?;
        self.validate_paths()?;
        if self.request_timeout_ms == 0 {
            return Err(ConfigError::Timeout);
        }
        RsaPrivateKey::from_pem(self.private_key.expose_secret()).map_err(|err| {
            ConfigError::Key {
                field: "private_key",
                reason: err.to_string(),
            }
        })?;
        RsaPublicKey::from_pem(&self.astrapay_public_key).map_err(|err| ConfigError::Key {
            field: "astrapay_public_key",
            reason: err.to_string(),
        })?;
        self.qris().map(|_| ())
    }

    fn validate_ids(&self) -> Result<(), ConfigError> {
        let required = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("merchant_id", self.merchant_id.as_str()),
            ("notify_client_key", self.notify_client_key.as_str()),
            (
                "notify_client_secret",
                self.notify_client_secret.expose_secret(),
            ),
        ];
        if let Some((name, _)) = required.iter().find(|(_, value)| value.trim().is_empty()) {
            return Err(ConfigError::Empty(name));
        }
        if self.client_id.chars().count() > MAX_PARTNER_ID_CHARS {
            return Err(ConfigError::ClientId);
        }
        Ok(())
    }

    fn validate_paths(&self) -> Result<(), ConfigError> {
        let paths = [
            ("token_path", &self.token_path),
            ("debit_prefix", &self.debit_prefix),
            ("qris_prefix", &self.qris_prefix),
            ("qris_refund_path", &self.qris_refund_path),
        ];
        for (name, path) in paths {
            if !path.starts_with('/') || path.ends_with('/') || path.contains(['?', '#']) {
                return Err(ConfigError::Path(name));
            }
        }
        Ok(())
    }

    /// The QRIS identity when both halves are set; an error when only one is.
    pub(crate) fn qris(&self) -> Result<Option<Qris>, ConfigError> {
        let merchant = self.qris_merchant_id.as_deref().map(str::trim);
        let terminal = self.qris_terminal_id.as_deref().map(str::trim);
        match (merchant, terminal) {
            (None, None) => Ok(None),
            (Some(""), _) => Err(ConfigError::Empty("qris_merchant_id")),
            (_, Some("")) => Err(ConfigError::Empty("qris_terminal_id")),
            (Some(merchant_id), Some(terminal_id)) => Ok(Some(Qris {
                merchant_id: merchant_id.to_owned(),
                terminal_id: terminal_id.to_owned(),
            })),
            _ => Err(ConfigError::QrisPair),
        }
    }

    /// The whole-call deadline.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::config;

    fn sample() -> Config {
        config("https://sandbox.astrapay.com")
    }

    #[test]
    fn a_complete_config_validates_and_offers_qris() {
        let config = sample();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(
            config.qris(),
            Ok(Some(Qris {
                merchant_id: "210000240".to_owned(),
                terminal_id: "T0001".to_owned(),
            }))
        );
    }

    #[test]
    fn defaults_fill_in_and_unknown_fields_are_refused() {
        let public = crate::tests::ASTRAPAY_PUBLIC_PEM.replace('\n', "\\n");
        let private = crate::tests::MERCHANT_PRIVATE_PEM.replace('\n', "\\n");
        let json = format!(
            r#"{{"base_url":"https://sandbox.astrapay.com","client_id":"cid","client_secret":"s",
            "private_key":"{private}","merchant_id":"m","notify_client_key":"ap",
            "notify_client_secret":"n","astrapay_public_key":"{public}"}}"#
        );
        let config: Config = serde_json::from_str(&json).expect("parses");
        assert_eq!(
            config.token_path,
            "/snap-service/snap/v1.0/access-token/b2b"
        );
        assert_eq!(config.debit_prefix, "/merchant-service/snap/v1.0");
        assert_eq!(config.qris_prefix, "/qris-service/snap/v1.0");
        assert_eq!(
            config.qris_refund_path,
            "/qris-service/snap/v1.0/qr/qr-mpm-refund"
        );
        assert_eq!(config.timestamp_style, TimestampStyle::Jakarta);
        assert_eq!(config.request_timeout_ms, 10_000);
        assert!(!config.in_app);
        assert_eq!(config.qris(), Ok(None));
        assert_eq!(config.validate(), Ok(()));

        let extra = json.replacen('{', r#"{"channel_id":"00854","#, 1);
        assert!(serde_json::from_str::<Config>(&extra).is_err());
        let utc = json.replacen('{', r#"{"timestamp_style":"utc","#, 1);
        let config: Config = serde_json::from_str(&utc).expect("parses");
        assert_eq!(config.timestamp_style, TimestampStyle::Utc);
    }

    #[test]
    fn bad_values_are_refused() {
        type Change = fn(&mut Config);
        let cases: [(Change, ConfigError); 12] = [
            (
                |c| c.base_url = Url::parse("ftp://astrapay.example").expect("url"),
                ConfigError::BaseUrl,
            ),
            (
                |c| c.base_url = Url::parse("https://a.example/?x=1").expect("url"),
                ConfigError::BaseUrl,
            ),
            (
                |c| c.client_id = " ".into(),
                ConfigError::Empty("client_id"),
            ),
            (|c| c.client_id = "x".repeat(37), ConfigError::ClientId),
            (
                |c| c.client_secret = SecretString::from(""),
                ConfigError::Empty("client_secret"),
            ),
            (
                |c| c.merchant_id = String::new(),
                ConfigError::Empty("merchant_id"),
            ),
            (
                |c| c.notify_client_secret = SecretString::from(""),
                ConfigError::Empty("notify_client_secret"),
            ),
            (|c| c.qris_terminal_id = None, ConfigError::QrisPair),
            (
                |c| c.qris_merchant_id = Some(String::new()),
                ConfigError::Empty("qris_merchant_id"),
            ),
            (
                |c| c.debit_prefix = "/merchant-service/snap/v1.0/".into(),
                ConfigError::Path("debit_prefix"),
            ),
            (
                |c| c.token_path = "snap-service/snap/v1.0/access-token/b2b".into(),
                ConfigError::Path("token_path"),
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
    fn unreadable_keys_are_refused_without_showing_them() {
        let mut config = sample();
        config.private_key = SecretString::from("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n");
        let err = config.validate().expect_err("bad key");
        assert!(matches!(
            err,
            ConfigError::Key {
                field: "private_key",
                ..
            }
        ));
        assert!(!err.to_string().contains("c2VjcmV0"));

        let mut config = sample();
        config.astrapay_public_key = "not a key".to_owned();
        assert!(matches!(
            config.validate(),
            Err(ConfigError::Key {
                field: "astrapay_public_key",
                ..
            })
        ));
    }

    #[test]
    fn serializing_and_debug_redact_every_secret() {
        let mut config = sample();
        config.client_secret = SecretString::from("cs-s3cr3t");
        config.notify_client_secret = SecretString::from("ns-s3cr3t");
        let shown = serde_json::to_string(&config).expect("serializes");
        assert!(!shown.contains("s3cr3t"));
        assert!(!shown.contains("PRIVATE KEY"));
        assert_eq!(shown.matches("[redacted]").count(), 3);
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr3t"));
        assert!(!debug.contains("PRIVATE KEY"));
    }
}
