//! The inbound side: the provider calls us (B.4). We answer its B2B token requests with
//! stateless tokens and verify its notifications and inquiries.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use contracts::inbound::{InboundRequest, InboundResponse};
use contracts::{ErrorKind, ProviderError};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::code::ResponseCode;
use crate::codec::{TimestampStyle, body_hash, format_timestamp, parse_timestamp};
use crate::error::ConfigError;
use crate::sign::{
    RsaPublicKey, asymmetric_string, symmetric_string, token_string, verify_hmac_sha512_b64,
};

/// The service code of the B2B token endpoint.
const TOKEN_SERVICE: u8 = 73;

/// How the provider authenticates its notifications (B.4 set-ups 1 and 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyAuth {
    /// A token we issued plus HMAC-SHA512 with the secret we share (set-up 1).
    #[default]
    Symmetric,
    /// RSA with the provider's key, no token (set-up 2).
    Asymmetric,
}

/// The shape of our token answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TokenAnswer {
    /// `expiresIn` as a string (`"900"`), as the standard writes it.
    #[default]
    Standard,
    /// `expiresIn` as a number and `"additionalInfo":""`, `X-TIMESTAMP` in UTC
    /// (nicepay-and-doku.md 2.11.7).
    Doku,
}

/// What we know about the provider that calls us.
#[derive(Clone)]
pub struct InboundConfig {
    /// The id the provider presents as `X-CLIENT-KEY` of its token request.
    pub client_key: String,
    /// What `X-PARTNER-ID` of its notifications must be, when sent; `None` leaves it
    /// unchecked (the token and the signature authenticate the sender already; DOKU's docs
    /// do not say whose id it carries, nicepay-and-doku.md 2.13 #8).
    pub partner_id: Option<String>,
    /// The HMAC-SHA512 key of symmetric notifications (the secret we share with it); our
    /// tokens are also keyed from it.
    pub client_secret: SecretString,
    /// The provider's RSA public key (PEM): its token requests and asymmetric
    /// notifications.
    pub provider_public_key_pem: String,
    /// How notifications are authenticated.
    pub auth: NotifyAuth,
    /// The shape of our token answers.
    pub token_answer: TokenAnswer,
    /// How long our tokens are valid (900 s).
    pub token_ttl: Duration,
    /// How far `X-TIMESTAMP` may be from our clock, both directions (300 s).
    pub max_skew: Duration,
}

impl std::fmt::Debug for InboundConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundConfig")
            .field("client_key", &self.client_key)
            .field("auth", &self.auth)
            .field("token_answer", &self.token_answer)
            .field("token_ttl", &self.token_ttl)
            .field("max_skew", &self.max_skew)
            .finish_non_exhaustive()
    }
}

/// What a verified request told us.
#[derive(Clone, Debug)]
pub struct Verified {
    /// `X-EXTERNAL-ID`: the gateway refuses a reuse within the day (`409xx00`).
    pub external_id: String,
    /// `X-PARTNER-ID`, when sent (checked when the configuration names one).
    pub partner_id: Option<String>,
    /// `X-TIMESTAMP` as received.
    pub timestamp: String,
}

/// Why a request was refused, as SNAP says it (B.6): the answer code is
/// `{http}{service}{case}` with the service code of the endpoint called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status part.
    pub http: u16,
    /// Case code.
    pub case: u8,
    /// `responseMessage`.
    pub message: String,
}

impl Rejection {
    fn new(http: u16, case: u8, message: impl Into<String>) -> Self {
        Rejection {
            http,
            case,
            message: message.into(),
        }
    }

    fn missing(header: &str) -> Self {
        Rejection::new(400, 2, format!("Invalid Mandatory Field {{{header}}}"))
    }

    fn format(field: &str) -> Self {
        Rejection::new(400, 1, format!("Invalid Field Format {{{field}}}"))
    }

    fn unauthorized(reason: &str) -> Self {
        Rejection::new(401, 0, format!("Unauthorized. [{reason}]"))
    }

    fn invalid_token() -> Self {
        Rejection::new(401, 1, "Invalid Token (B2B)")
    }

    /// The response code for `service`.
    pub fn code(&self, service: u8) -> ResponseCode {
        ResponseCode::new(self.http, service, self.case)
    }

    /// As a [`ProviderError`]: `InvalidSignature` for 401, `Rejected` otherwise, with the
    /// 7-digit code as the provider code.
    pub fn into_provider_error(self, service: u8) -> ProviderError {
        let kind = if self.http == 401 {
            ErrorKind::InvalidSignature
        } else {
            ErrorKind::Rejected
        };
        ProviderError::with_code(kind, self.code(service).to_string(), self.message)
    }
}

/// Verifies one provider's calls to us and issues its tokens. Debug is redacted.
pub struct SnapInbound {
    config: InboundConfig,
    public_key: RsaPublicKey,
    token_key: [u8; 32],
}

impl std::fmt::Debug for SnapInbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapInbound")
            .field("client_key", &self.config.client_key)
            .field("auth", &self.config.auth)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct TokenClaims {
    sub: String,
    exp: i64,
}

impl SnapInbound {
    /// Checks the configuration and parses the provider's key. No I/O.
    pub fn new(config: InboundConfig) -> Result<SnapInbound, ConfigError> {
        if config.client_key.trim().is_empty() {
            return Err(ConfigError::Empty("client_key"));
        }
        if config.auth == NotifyAuth::Symmetric && config.client_secret.expose_secret().is_empty() {
            return Err(ConfigError::Empty("client_secret"));
        }
        if config.token_ttl.is_zero() {
            return Err(ConfigError::Duration("token_ttl"));
        }
        if config.max_skew.is_zero() {
            return Err(ConfigError::Duration("max_skew"));
        }
        let public_key =
            RsaPublicKey::from_pem(&config.provider_public_key_pem).map_err(|source| {
                ConfigError::Key {
                    field: "provider_public_key",
                    source,
                }
            })?;
        let token_key = derive_token_key(&config.client_secret, &config.client_key);
        Ok(SnapInbound {
            config,
            public_key,
            token_key,
        })
    }

    /// Answers the provider's B2B token request (`POST …/access-token/b2b`) in SNAP form:
    /// `X-CLIENT-KEY` must be our client key, `X-TIMESTAMP` within `max_skew`,
    /// `X-SIGNATURE` RSA over `key|timestamp` with the provider's key; any
    /// `additionalInfo` type is accepted. `2007300` with a token, else `4017300`
    /// (`[Signature]`, `[Unknown client]`, `[Timestamp]`) or `4007301`/`4007302`.
    pub fn answer_token_request(&self, request: &InboundRequest) -> InboundResponse {
        self.answer_token_request_at(request, OffsetDateTime::now_utc())
    }

    /// [`SnapInbound::answer_token_request`] with the clock as a parameter.
    pub fn answer_token_request_at(
        &self,
        request: &InboundRequest,
        now: OffsetDateTime,
    ) -> InboundResponse {
        let mut response = match self.check_token_request(request, now) {
            Ok(()) => self.token_answer(now),
            Err(rejection) => answer(
                rejection.code(TOKEN_SERVICE),
                &rejection.message,
                Map::new(),
            ),
        };
        let style = match self.config.token_answer {
            TokenAnswer::Standard => TimestampStyle::Jakarta,
            TokenAnswer::Doku => TimestampStyle::Utc,
        };
        response.headers = vec![
            ("X-TIMESTAMP".to_owned(), format_timestamp(now, style)),
            ("X-CLIENT-KEY".to_owned(), self.config.client_key.clone()),
        ];
        response
    }

    fn check_token_request(
        &self,
        request: &InboundRequest,
        now: OffsetDateTime,
    ) -> Result<(), Rejection> {
        if !request.method.eq_ignore_ascii_case("POST") {
            return Err(Rejection::new(
                405,
                0,
                "Requested Function Is Not Supported",
            ));
        }
        let client_key = required(request, "X-CLIENT-KEY")?;
        let timestamp = required(request, "X-TIMESTAMP")?;
        let signature = required(request, "X-SIGNATURE")?;
        if client_key != self.config.client_key {
            return Err(Rejection::unauthorized("Unknown client"));
        }
        self.check_timestamp(timestamp, now)?;
        let message = token_string(client_key, timestamp);
        if !self.public_key.verify_b64(message.as_bytes(), signature) {
            return Err(Rejection::unauthorized("Signature"));
        }
        check_grant(&request.body)
    }

    fn token_answer(&self, now: OffsetDateTime) -> InboundResponse {
        let (token, ttl) = self.issue_token(now);
        let mut fields = Map::new();
        fields.insert("accessToken".to_owned(), Value::String(token));
        fields.insert("tokenType".to_owned(), Value::from("Bearer"));
        match self.config.token_answer {
            TokenAnswer::Standard => {
                fields.insert("expiresIn".to_owned(), Value::String(ttl.to_string()));
            }
            TokenAnswer::Doku => {
                fields.insert("expiresIn".to_owned(), Value::from(ttl));
                fields.insert("additionalInfo".to_owned(), Value::from(""));
            }
        }
        answer(
            ResponseCode::new(200, TOKEN_SERVICE, 0),
            "Successful",
            fields,
        )
    }

    /// A token for our client key, valid `token_ttl` from `now`, and its lifetime in
    /// seconds. Stateless: `base64url(claims) "." base64url(HMAC-SHA256(key, claims))`
    /// with the key derived from the client secret, so every gateway instance (and a
    /// restarted one) accepts it.
    pub fn issue_token(&self, now: OffsetDateTime) -> (String, u64) {
        let ttl = self.config.token_ttl.as_secs().max(1);
        let claims = TokenClaims {
            sub: self.config.client_key.clone(),
            exp: now.unix_timestamp() + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let mut mac = self.token_mac();
        mac.update(payload.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        (format!("{payload}.{tag}"), ttl)
    }

    fn token_mac(&self) -> Hmac<Sha256> {
        match Hmac::<Sha256>::new_from_slice(&self.token_key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        }
    }

    /// Whether `token` is one we issued to our client key and is still valid at `now`.
    fn token_is_valid(&self, token: &str, now: OffsetDateTime) -> bool {
        let Some((payload, tag)) = token.split_once('.') else {
            return false;
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        let mut mac = self.token_mac();
        mac.update(payload.as_bytes());
        if mac.verify_slice(&tag).is_err() {
            return false;
        }
        let claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice::<TokenClaims>(&json).ok());
        claims.is_some_and(|c| c.sub == self.config.client_key && now.unix_timestamp() < c.exp)
    }

    /// Verifies a notification or inquiry (B.4): `X-TIMESTAMP` present, readable and
    /// within `max_skew`; for [`NotifyAuth::Symmetric`] a token we issued, still valid,
    /// and the HMAC over the symmetric string; for [`NotifyAuth::Asymmetric`] the RSA
    /// signature over the asymmetric string. The path is tried as `request.path` and then
    /// as `"/" + request.sub_path`. `X-EXTERNAL-ID` must be present.
    pub fn verify(&self, request: &InboundRequest) -> Result<Verified, Rejection> {
        self.verify_at(request, OffsetDateTime::now_utc())
    }

    /// [`SnapInbound::verify`] with the clock as a parameter.
    pub fn verify_at(
        &self,
        request: &InboundRequest,
        now: OffsetDateTime,
    ) -> Result<Verified, Rejection> {
        self.verify_with(request, now, &|token| self.token_is_valid(token, now))
    }

    pub(crate) fn verify_with(
        &self,
        request: &InboundRequest,
        now: OffsetDateTime,
        token_is_valid: &dyn Fn(&str) -> bool,
    ) -> Result<Verified, Rejection> {
        let timestamp = required(request, "X-TIMESTAMP")?;
        let signature = required(request, "X-SIGNATURE")?;
        let external_id = required(request, "X-EXTERNAL-ID")?;
        let authorization = match self.config.auth {
            NotifyAuth::Symmetric => Some(required(request, "Authorization")?),
            NotifyAuth::Asymmetric => None,
        };
        self.check_timestamp(timestamp, now)?;
        let hash = body_hash(&request.body);
        let signed = match authorization {
            Some(authorization) => {
                let token = strip_bearer(authorization);
                if !token_is_valid(token) {
                    return Err(Rejection::invalid_token());
                }
                let secret = self.config.client_secret.expose_secret().as_bytes();
                paths(request).iter().any(|path| {
                    let message = symmetric_string(&request.method, path, token, &hash, timestamp);
                    verify_hmac_sha512_b64(secret, &message, signature)
                })
            }
            None => paths(request).iter().any(|path| {
                let message = asymmetric_string(&request.method, path, &hash, timestamp);
                self.public_key.verify_b64(message.as_bytes(), signature)
            }),
        };
        if !signed {
            return Err(Rejection::unauthorized("Signature"));
        }
        let partner_id = request.header("X-PARTNER-ID").map(str::to_owned);
        if let (Some(sent), Some(expected)) = (partner_id.as_deref(), &self.config.partner_id)
            && sent != expected
        {
            return Err(Rejection::unauthorized("Unknown client"));
        }
        Ok(Verified {
            external_id: external_id.to_owned(),
            partner_id,
            timestamp: timestamp.to_owned(),
        })
    }

    fn check_timestamp(&self, timestamp: &str, now: OffsetDateTime) -> Result<(), Rejection> {
        let at = parse_timestamp(timestamp).ok_or_else(|| Rejection::format("X-TIMESTAMP"))?;
        if (now - at).unsigned_abs() > self.config.max_skew {
            return Err(Rejection::unauthorized("Timestamp"));
        }
        Ok(())
    }
}

/// The key of our tokens: HMAC-SHA256(client secret, "snap-b2b-token" | client key).
fn derive_token_key(secret: &SecretString, client_key: &str) -> [u8; 32] {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(b"snap-b2b-token|");
    mac.update(client_key.as_bytes());
    mac.finalize().into_bytes().into()
}

fn required<'r>(request: &'r InboundRequest, name: &str) -> Result<&'r str, Rejection> {
    request
        .header(name)
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| Rejection::missing(name))
}

fn strip_bearer(authorization: &str) -> &str {
    let trimmed = authorization.trim();
    match trimmed.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("Bearer ") => trimmed[7..].trim(),
        _ => trimmed,
    }
}

/// The full path as received, then the path below the callback root.
fn paths(request: &InboundRequest) -> Vec<String> {
    let relative = format!("/{}", request.sub_path);
    if relative == request.path {
        vec![relative]
    } else {
        vec![request.path.clone(), relative]
    }
}

/// The token request body: `grantType` must be `client_credentials`; `additionalInfo`
/// may be anything (BNI's SDK sends `{}`, DOKU's `""`, B.2).
fn check_grant(body: &[u8]) -> Result<(), Rejection> {
    let body: Value =
        serde_json::from_slice(body).map_err(|_| Rejection::new(400, 0, "Bad Request"))?;
    match body.get("grantType") {
        None | Some(Value::Null) => Err(Rejection::missing("grantType")),
        Some(Value::String(grant)) if grant == "client_credentials" => Ok(()),
        Some(_) => Err(Rejection::format("grantType")),
    }
}

/// A SNAP JSON answer: `{"responseCode": code, "responseMessage": message, …fields}`
/// with `responseCode` first, HTTP status = `code.http`, header `X-TIMESTAMP` (Jakarta).
pub fn answer(code: ResponseCode, message: &str, fields: Map<String, Value>) -> InboundResponse {
    let mut body = format!(
        "{{\"responseCode\":{},\"responseMessage\":{}",
        Value::String(code.to_string()),
        Value::String(message.to_owned())
    );
    for (key, value) in &fields {
        if key == "responseCode" || key == "responseMessage" {
            continue;
        }
        body.push(',');
        body.push_str(&Value::String(key.clone()).to_string());
        body.push(':');
        body.push_str(&value.to_string());
    }
    body.push('}');
    InboundResponse {
        status: code.http,
        content_type: "application/json",
        body: Bytes::from(body),
        headers: vec![(
            "X-TIMESTAMP".to_owned(),
            format_timestamp(OffsetDateTime::now_utc(), TimestampStyle::Jakarta),
        )],
    }
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
