//! Configuration of one PrivyID merchant: where the v3 merchant API is, how requests
//! authenticate (2.2), the document owner (2.6), and the secret path segment of the callback
//! URL registered with PrivyID (2.9).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// The shortest accepted `callback_token`: the token is the callbacks' only proof (2.9).
pub(crate) const MIN_CALLBACK_TOKEN_CHARS: usize = 24;

/// One PrivyID merchant, as configured.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The API host (2.1: `https://core.privy.id`, sandbox `https://api-sandbox.privy.id`).
    /// A path here (a proxy) is kept; `/v3/...` follows it.
    #[serde(default = "default_base_url")]
    pub base_url: Url,
    /// Sent as the `Merchant-Key` header on every request (2.2).
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub merchant_key: SecretString,
    /// How requests authenticate.
    pub auth: AuthConfig,
    /// The merchant's own `privyId`: the document owner (2.6 `owner.privyId`).
    pub merchant_privy_id: String,
    /// The merchant's `owner.enterpriseToken` (2.2, 2.6).
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub enterprise_token: SecretString,
    /// The last path segment of the callback URL registered with PrivyID
    /// (`<gateway>/v1/callbacks/<instance>/<callback_token>`): the only proof a callback
    /// carries. At least 24 characters, URL-unreserved (`A-Z a-z 0-9 - . _ ~`).
    #[serde(serialize_with = "contracts::serialize_redacted")]
    pub callback_token: SecretString,
    /// Deadline of each HTTP exchange (an API call, a token request), in milliseconds.
    /// Default 30000.
    #[serde(default = "default_timeout_ms")]
    pub request_timeout_ms: u64,
}

/// How requests to the merchant API authenticate. `Merchant-Key` is sent with either.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "scheme", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// `Authorization: Basic base64(username:password)` with the credentials PrivyID issues
    /// (2.2).
    Basic {
        /// The user id; must not contain `:` (RFC 7617).
        username: String,
        /// The password.
        #[serde(serialize_with = "contracts::serialize_redacted")]
        password: SecretString,
    },
    /// OAuth2 client credentials (RFC 6749 §4.4): a `POST` of
    /// `grant_type=client_credentials` (and `scope` when set) to `token_url` with HTTP Basic
    /// client authentication; requests then carry `Authorization: Bearer <access_token>`.
    /// Tokens are cached until 30 s before they expire and fetched by one caller at a time;
    /// a 401 from the API drops the token and the request is sent once more with a new one.
    Oauth2 {
        /// The token endpoint.
        token_url: Url,
        /// The client id.
        client_id: String,
        /// The client secret.
        #[serde(serialize_with = "contracts::serialize_redacted")]
        client_secret: SecretString,
        /// The scope asked for, if any.
        #[serde(default)]
        scope: Option<String>,
    },
}

fn default_base_url() -> Url {
    Url::parse("https://core.privy.id").expect("a constant, valid URL")
}

fn default_timeout_ms() -> u64 {
    30_000
}

/// Why a [`Config`] cannot work. Never contains a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required value is empty.
    #[error("privyid: `{0}` must not be empty")]
    Empty(&'static str),
    /// `base_url` is not an http(s) URL with a host and without query or fragment.
    #[error("privyid: `base_url` must be an http(s) URL without query or fragment")]
    BaseUrl,
    /// `auth.token_url` is not an http(s) URL with a host and without fragment.
    #[error("privyid: `auth.token_url` must be an http(s) URL without fragment")]
    TokenUrl,
    /// A value sent in a header holds characters a header cannot carry.
    #[error("privyid: `{0}` must be printable ASCII without surrounding spaces")]
    HeaderValue(&'static str),
    /// `auth.username` contains `:`, which Basic authentication cannot carry.
    #[error("privyid: `auth.username` must not contain `:`")]
    Username,
    /// `callback_token` is too short or not URL-unreserved.
    #[error(
        "privyid: `callback_token` must be at least {MIN_CALLBACK_TOKEN_CHARS} characters of \
         A-Z a-z 0-9 - . _ ~"
    )]
    CallbackToken,
    /// `request_timeout_ms` is zero.
    #[error("privyid: `request_timeout_ms` must be greater than zero")]
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
        merchant_key: SecretString,
        auth: AuthConfig,
        merchant_privy_id: impl Into<String>,
        enterprise_token: SecretString,
        callback_token: SecretString,
    ) -> Config {
        Config {
            base_url: default_base_url(),
            merchant_key,
            auth,
            merchant_privy_id: merchant_privy_id.into(),
            enterprise_token,
            callback_token,
            request_timeout_ms: default_timeout_ms(),
        }
    }

    /// Checks everything that can be checked without I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !is_http_url(&self.base_url) || self.base_url.query().is_some() {
            return Err(ConfigError::BaseUrl);
        }
        let required = [
            ("merchant_key", self.merchant_key.expose_secret()),
            ("merchant_privy_id", self.merchant_privy_id.as_str()),
            ("enterprise_token", self.enterprise_token.expose_secret()),
        ];
        if let Some((name, _)) = required.iter().find(|(_, value)| value.trim().is_empty()) {
            return Err(ConfigError::Empty(name));
        }
        if !is_header_value(self.merchant_key.expose_secret()) {
            return Err(ConfigError::HeaderValue("merchant_key"));
        }
        self.auth.validate()?;
        if !is_callback_token(self.callback_token.expose_secret()) {
            return Err(ConfigError::CallbackToken);
        }
        if self.request_timeout_ms == 0 {
            return Err(ConfigError::Timeout);
        }
        Ok(())
    }

    /// The deadline of one HTTP exchange.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

impl AuthConfig {
    /// The scheme's name, for `Debug` of the adapter.
    pub(crate) fn scheme(&self) -> &'static str {
        match self {
            AuthConfig::Basic { .. } => "basic",
            AuthConfig::Oauth2 { .. } => "oauth2",
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        match self {
            AuthConfig::Basic { username, password } => {
                non_empty("auth.username", username)?;
                non_empty("auth.password", password.expose_secret())?;
                if username.contains(':') {
                    return Err(ConfigError::Username);
                }
                Ok(())
            }
            AuthConfig::Oauth2 {
                token_url,
                client_id,
                client_secret,
                scope,
            } => {
                if !is_http_url(token_url) {
                    return Err(ConfigError::TokenUrl);
                }
                non_empty("auth.client_id", client_id)?;
                non_empty("auth.client_secret", client_secret.expose_secret())?;
                match scope {
                    Some(scope) => non_empty("auth.scope", scope),
                    None => Ok(()),
                }
            }
        }
    }
}

fn non_empty(name: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(ConfigError::Empty(name));
    }
    Ok(())
}

/// http(s), a host, no fragment.
fn is_http_url(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.has_host() && url.fragment().is_none()
}

/// Visible ASCII and inner spaces: what an HTTP header value carries verbatim.
fn is_header_value(value: &str) -> bool {
    value.trim() == value && value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// Long enough, and unreserved characters only, so the path segment arrives verbatim.
fn is_callback_token(token: &str) -> bool {
    token.len() >= MIN_CALLBACK_TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLBACK_TOKEN: &str = "cb-0123456789abcdefghijkl";

    fn basic() -> AuthConfig {
        AuthConfig::Basic {
            username: "merchant-user".to_owned(),
            password: SecretString::from("basic-pa55word"),
        }
    }

    fn oauth2() -> AuthConfig {
        AuthConfig::Oauth2 {
            token_url: Url::parse("https://auth.privy.id/oauth/token").expect("url"),
            client_id: "client-1".to_owned(),
            client_secret: SecretString::from("client-s3cret"),
            scope: Some("merchant".to_owned()),
        }
    }

    fn sample(auth: AuthConfig) -> Config {
        Config::new(
            SecretString::from("merchant-k3y"),
            auth,
            "AB1234",
            SecretString::from("enterprise-t0ken"),
            SecretString::from(CALLBACK_TOKEN),
        )
    }

    #[test]
    fn defaults_are_filled_from_a_minimal_document() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "merchant_key": "k",
            "auth": {"scheme": "basic", "username": "u", "password": "p"},
            "merchant_privy_id": "AB1234",
            "enterprise_token": "e",
            "callback_token": CALLBACK_TOKEN,
        }))
        .expect("parses");
        assert_eq!(config.base_url.as_str(), "https://core.privy.id/");
        assert_eq!(config.request_timeout_ms, 30_000);
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn the_oauth2_scheme_parses_with_and_without_scope() {
        for scope in [serde_json::json!("merchant"), serde_json::Value::Null] {
            let mut auth = serde_json::json!({
                "scheme": "oauth2", "token_url": "https://auth.privy.id/oauth/token",
                "client_id": "c", "client_secret": "s",
            });
            if !scope.is_null() {
                auth["scope"] = scope.clone();
            }
            let config: Config = serde_json::from_value(serde_json::json!({
                "merchant_key": "k", "auth": auth, "merchant_privy_id": "AB1234",
                "enterprise_token": "e", "callback_token": CALLBACK_TOKEN,
            }))
            .expect("parses");
            let AuthConfig::Oauth2 { scope: parsed, .. } = &config.auth else {
                panic!("oauth2 expected");
            };
            assert_eq!(parsed.as_deref(), scope.as_str());
            assert_eq!(config.validate(), Ok(()));
        }
    }

    #[test]
    fn unknown_fields_and_schemes_are_refused() {
        let base = serde_json::json!({
            "merchant_key": "k",
            "auth": {"scheme": "basic", "username": "u", "password": "p"},
            "merchant_privy_id": "AB1234", "enterprise_token": "e",
            "callback_token": CALLBACK_TOKEN,
        });
        let mut extra = base.clone();
        extra["merchant_secret"] = serde_json::json!("x");
        let mut auth_extra = base.clone();
        auth_extra["auth"]["realm"] = serde_json::json!("x");
        let mut unknown_scheme = base.clone();
        unknown_scheme["auth"]["scheme"] = serde_json::json!("hmac");
        for document in [extra, auth_extra, unknown_scheme] {
            assert!(serde_json::from_value::<Config>(document).is_err());
        }
        assert!(serde_json::from_value::<Config>(base).is_ok());
    }

    #[test]
    fn each_invalid_setting_is_named() {
        type Change = fn(&mut Config);
        let cases: Vec<(Change, ConfigError)> = vec![
            (
                |c| c.base_url = Url::parse("ftp://core.privy.id").expect("url"),
                ConfigError::BaseUrl,
            ),
            (
                |c| c.base_url = Url::parse("https://core.privy.id/?a=1").expect("url"),
                ConfigError::BaseUrl,
            ),
            (
                |c| c.base_url = Url::parse("https://core.privy.id/#x").expect("url"),
                ConfigError::BaseUrl,
            ),
            (
                |c| c.merchant_key = SecretString::from(" "),
                ConfigError::Empty("merchant_key"),
            ),
            (
                |c| c.merchant_key = SecretString::from("key\nwith-newline"),
                ConfigError::HeaderValue("merchant_key"),
            ),
            (
                |c| c.merchant_privy_id = String::new(),
                ConfigError::Empty("merchant_privy_id"),
            ),
            (
                |c| c.enterprise_token = SecretString::from(""),
                ConfigError::Empty("enterprise_token"),
            ),
            (
                |c| c.callback_token = SecretString::from("too-short-token"),
                ConfigError::CallbackToken,
            ),
            (
                |c| c.callback_token = SecretString::from("cb/0123456789abcdefghijkl"),
                ConfigError::CallbackToken,
            ),
            (|c| c.request_timeout_ms = 0, ConfigError::Timeout),
            (
                |c| {
                    c.auth = AuthConfig::Basic {
                        username: String::new(),
                        password: SecretString::from("p"),
                    }
                },
                ConfigError::Empty("auth.username"),
            ),
            (
                |c| {
                    c.auth = AuthConfig::Basic {
                        username: "u".to_owned(),
                        password: SecretString::from(""),
                    }
                },
                ConfigError::Empty("auth.password"),
            ),
            (
                |c| {
                    c.auth = AuthConfig::Basic {
                        username: "a:b".to_owned(),
                        password: SecretString::from("p"),
                    }
                },
                ConfigError::Username,
            ),
            (
                |c| {
                    if let AuthConfig::Oauth2 { token_url, .. } = &mut c.auth {
                        *token_url = Url::parse("file:///token").expect("url");
                    }
                },
                ConfigError::TokenUrl,
            ),
            (
                |c| {
                    if let AuthConfig::Oauth2 { client_id, .. } = &mut c.auth {
                        client_id.clear();
                    }
                },
                ConfigError::Empty("auth.client_id"),
            ),
            (
                |c| {
                    if let AuthConfig::Oauth2 { client_secret, .. } = &mut c.auth {
                        *client_secret = SecretString::from(" ");
                    }
                },
                ConfigError::Empty("auth.client_secret"),
            ),
            (
                |c| {
                    if let AuthConfig::Oauth2 { scope, .. } = &mut c.auth {
                        *scope = Some(String::new());
                    }
                },
                ConfigError::Empty("auth.scope"),
            ),
        ];
        for (change, expected) in cases {
            let mut config = sample(oauth2());
            change(&mut config);
            assert_eq!(config.validate(), Err(expected));
        }
    }

    #[test]
    fn serializing_and_debug_redact_every_secret() {
        let secrets = [
            "merchant-k3y",
            "basic-pa55word",
            "client-s3cret",
            "enterprise-t0ken",
            CALLBACK_TOKEN,
        ];
        for (auth, redacted) in [(basic(), 4), (oauth2(), 4)] {
            let config = sample(auth);
            let shown = serde_json::to_string(&config).expect("serializes");
            let debug = format!("{config:?}");
            for secret in secrets {
                assert!(!shown.contains(secret), "{shown}");
                assert!(!debug.contains(secret), "{debug}");
            }
            assert_eq!(shown.matches("[redacted]").count(), redacted, "{shown}");
            assert!(shown.contains("AB1234"));
        }
    }
}
