//! SNAP BI (Bank Indonesia's open API standard) for simulators: both halves a SNAP provider
//! plays, read independently from `bni-and-snap.md` Part B.
//!
//! - [`SnapProvider`]: the provider as a server. It issues B2B access tokens (B.3.1) and
//!   checks every service call the way a provider does (B.2 headers, B.3.2 symmetric
//!   signature over the **minified received body**, `X-EXTERNAL-ID` once per day), answering
//!   refusals with SNAP codes (B.6).
//! - [`SnapNotifier`]: the provider as a client of the merchant (the gateway). In the
//!   symmetric set-up of B.4 it first asks the merchant's token endpoint for a token
//!   (RSA-signed with the provider's key), then posts HMAC-SHA512 signed notifications; in the
//!   asymmetric set-up (B.3.3) it RSA-signs each notification and sends no token.
//! - Free functions for the primitives: [`minify`], [`body_hash`], [`hmac_sha512_b64`],
//!   [`rsa_sign_b64`], [`rsa_verify_b64`], [`timestamp`], [`parse_timestamp`],
//!   [`response_code`], [`amount`], [`parse_amount`].
//!
//! Leniencies the official SDKs need (B "Simulator notes"): `X-TIMESTAMP` with `Z`, `.SSSZ`
//! or `+07:00`; any `additionalInfo` type in the token body; no limit on token issuance and
//! several tokens valid at once; no length check on `CHANNEL-ID`; a JSON object on every
//! answer, errors included.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

use crate::callback::{self, CallbackOptions, CallbackOutcome, CapturedCallback, SimError, Tamper};
use crate::wib;

/// SNAP service code of the B2B access-token service (B.1).
pub const TOKEN_SERVICE: u8 = 73;

/// Removes JSON whitespace outside string literals, keeping every other byte as received
/// (key order, escapes, spaces inside strings such as `"    8123"`): the form SNAP hashes
/// (B.3.2). Bytes that are not JSON are treated the same way.
pub fn minify(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut in_string = false;
    let mut escaped = false;
    for &byte in body {
        if in_string {
            out.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'"' => {
                in_string = true;
                out.push(byte);
            }
            _ => out.push(byte),
        }
    }
    out
}

/// Lowercase hex SHA-256 of [`minify`]`(body)`; the empty body hashes the empty string
/// (TV-S7).
pub fn body_hash(body: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(minify(body)))
}

/// Base64 of HMAC-SHA512(`secret`, `message`) (B.3.2): 88 characters.
pub fn hmac_sha512_b64(secret: &[u8], message: &str) -> String {
    BASE64.encode(hmac_sha512(secret, message))
}

fn hmac_sha512(secret: &[u8], message: &str) -> Vec<u8> {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    match Hmac::<Sha512>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Base64 of RSASSA-PKCS1-v1_5 with SHA-256 over `message`, signed with the PEM private key
/// (PKCS#8 or PKCS#1). An unreadable key yields the empty string, which no verifier
/// accepts.
pub fn rsa_sign_b64(private_pem: &str, message: &[u8]) -> String {
    rsa_sign(private_pem, message)
        .map(|signature| BASE64.encode(signature))
        .unwrap_or_default()
}

fn rsa_sign(private_pem: &str, message: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let key = PKey::private_key_from_pem(private_pem.as_bytes())?;
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key)?;
    signer.update(message)?;
    signer.sign_to_vec()
}

/// Whether `signature_b64` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of `message` under
/// the PEM public key (SubjectPublicKeyInfo or PKCS#1). Bad Base64 or an unreadable key is
/// `false`.
pub fn rsa_verify_b64(public_pem: &str, message: &[u8], signature_b64: &str) -> bool {
    let Ok(signature) = BASE64.decode(signature_b64.trim()) else {
        return false;
    };
    rsa_verify(public_pem, message, &signature).unwrap_or(false)
}

fn rsa_verify(
    public_pem: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, openssl::error::ErrorStack> {
    let key = match PKey::public_key_from_pem(public_pem.as_bytes()) {
        Ok(key) => key,
        Err(_) => PKey::from_rsa(openssl::rsa::Rsa::public_key_from_pem_pkcs1(
            public_pem.as_bytes(),
        )?)?,
    };
    let mut verifier = openssl::sign::Verifier::new(MessageDigest::sha256(), &key)?;
    verifier.update(message)?;
    verifier.verify(signature)
}

const WIB_SECONDS: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
);
const UTC_SECONDS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
const NO_OFFSET: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]");

/// The current time as an `X-TIMESTAMP`, whole seconds: `2024-01-01T10:00:00+07:00` (WIB)
/// or, when `utc`, `2024-01-01T03:00:00Z` (what DOKU's SDK sends).
pub fn timestamp(utc: bool) -> String {
    format_timestamp(OffsetDateTime::now_utc(), utc)
}

fn format_timestamp(at: OffsetDateTime, utc: bool) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    // Formatting a valid date with a fixed, literal description cannot fail.
    if utc {
        at.to_offset(time::UtcOffset::UTC)
            .format(UTC_SECONDS)
            .unwrap_or_default()
    } else {
        at.to_offset(wib::OFFSET)
            .format(WIB_SECONDS)
            .unwrap_or_default()
    }
}

/// Parses an `X-TIMESTAMP` in any form the SDKs send: `…Z`, `….SSSZ`, `…+07:00`,
/// microseconds, or no offset at all (taken as WIB, the standard's local time).
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    if let Ok(at) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Some(at);
    }
    time::PrimitiveDateTime::parse(text, NO_OFFSET)
        .ok()
        .map(|at| at.assume_offset(wib::OFFSET))
}

/// A SNAP `responseCode` (B.6): HTTP status, service code and case code, e.g.
/// `response_code(401, 27, 0)` = `"4012700"`.
pub fn response_code(http: u16, service: u8, case: u8) -> String {
    format!("{http:03}{service:02}{case:02}")
}

/// A SNAP amount object for whole rupiah: `{"value":"150000.00","currency":"IDR"}`.
pub fn amount(rupiah: i64) -> Value {
    json!({"value": format!("{rupiah}.00"), "currency": "IDR"})
}

/// Reads a SNAP amount object as whole rupiah: `value` must be a string of digits with
/// exactly two decimals, both zero (rupiah have no cents here), and `currency` `IDR`.
pub fn parse_amount(value: &Value) -> Option<i64> {
    let text = value.get("value")?.as_str()?;
    if value.get("currency")?.as_str()? != "IDR" {
        return None;
    }
    let (whole, cents) = text.split_once('.')?;
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || cents != "00" || whole.len() > 16 {
        return None;
    }
    whole.parse().ok()
}

/// A SNAP error (or any) answer: `{"responseCode": …, "responseMessage": …}` with the HTTP
/// status of the code's first three digits.
pub fn error_answer(http: u16, service: u8, case: u8, message: &str) -> (StatusCode, Value) {
    let status = StatusCode::from_u16(http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({
        "responseCode": response_code(http, service, case),
        "responseMessage": message,
    });
    (status, body)
}

/// A fresh numeric `X-EXTERNAL-ID`: 16 random digits + Unix seconds (as DOKU's SDK does).
pub fn external_id() -> String {
    let mut rng = rand::rng();
    let mut id: String = (0..16)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    id.push_str(&OffsetDateTime::now_utc().unix_timestamp().to_string());
    id
}

fn random_token() -> String {
    let mut rng = rand::rng();
    (0..48)
        .map(|_| char::from(rng.sample(rand::distr::Alphanumeric)))
        .collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a [`SnapProvider`] expects from its client (the merchant).
#[derive(Clone)]
pub struct SnapProviderConfig {
    /// Expected `X-CLIENT-KEY` on token requests.
    pub client_key: String,
    /// Expected `X-PARTNER-ID` on service calls.
    pub partner_id: String,
    /// HMAC-SHA512 key of service signatures.
    pub client_secret: String,
    /// The merchant's public key (PEM), verifying token requests.
    pub merchant_public_key_pem: String,
    /// Lifetime of issued tokens, in seconds (SNAP: 900).
    pub token_ttl_secs: u64,
    /// Answer `expiresIn` as a JSON number (DOKU: `900`) instead of a string (`"900"`).
    pub expires_in_as_number: bool,
}

impl fmt::Debug for SnapProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapProviderConfig")
            .field("client_key", &self.client_key)
            .field("partner_id", &self.partner_id)
            .field("client_secret", &"<redacted>")
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("expires_in_as_number", &self.expires_in_as_number)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct ProviderState {
    /// Token → expiry.
    tokens: HashMap<String, Instant>,
    issued: usize,
    /// (WIB date `YYYYMMDD`, partner id, `X-EXTERNAL-ID`) seen.
    external_ids: HashSet<(String, String, String)>,
}

/// The provider's half of SNAP: issues B2B tokens and checks service calls like the provider
/// does. Cloning shares the state.
#[derive(Clone)]
pub struct SnapProvider {
    config: Arc<SnapProviderConfig>,
    state: Arc<Mutex<ProviderState>>,
}

impl fmt::Debug for SnapProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapProvider")
            .field("config", &self.config)
            .field("tokens_issued", &self.tokens_issued())
            .finish_non_exhaustive()
    }
}

impl SnapProvider {
    /// A provider with no token issued yet.
    pub fn new(config: SnapProviderConfig) -> Self {
        Self {
            config: Arc::new(config),
            state: Arc::new(Mutex::new(ProviderState::default())),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SnapProviderConfig {
        &self.config
    }

    /// POST …/access-token/b2b: verifies `X-CLIENT-KEY`, the `X-TIMESTAMP` form and the RSA
    /// `X-SIGNATURE` over `client_key|timestamp` with the merchant's public key (B.3.1); takes
    /// any `additionalInfo` type; no rate limit; several tokens valid at once. Answers 200
    /// `2007300` `{accessToken, tokenType:"Bearer", expiresIn}`, 400 `40073xx` or 401
    /// `4017300`.
    pub fn token_answer(&self, headers: &HeaderMap, body: &[u8]) -> (StatusCode, Value) {
        match self.issue_token(headers, body) {
            Ok(answer) => (StatusCode::OK, answer),
            Err(refusal) => refusal,
        }
    }

    fn issue_token(&self, headers: &HeaderMap, body: &[u8]) -> Result<Value, (StatusCode, Value)> {
        let svc = TOKEN_SERVICE;
        let mandatory = |name: &str| {
            header(headers, name).ok_or_else(|| {
                error_answer(400, svc, 2, &format!("Invalid Mandatory Field [{name}]"))
            })
        };
        let client_key = mandatory("x-client-key")?;
        let stamp = mandatory("x-timestamp")?;
        let signature = mandatory("x-signature")?;
        if parse_timestamp(stamp).is_none() {
            return Err(error_answer(
                400,
                svc,
                1,
                "Invalid Field Format [X-TIMESTAMP]",
            ));
        }
        check_token_body(body)?;
        if client_key != self.config.client_key {
            return Err(error_answer(401, svc, 0, "Unauthorized. [Unknown client]"));
        }
        let string_to_sign = format!("{client_key}|{stamp}");
        if !rsa_verify_b64(
            &self.config.merchant_public_key_pem,
            string_to_sign.as_bytes(),
            signature,
        ) {
            return Err(error_answer(401, svc, 0, "Unauthorized. [Signature]"));
        }
        let token = random_token();
        let ttl = self.config.token_ttl_secs;
        {
            let mut state = lock(&self.state);
            state
                .tokens
                .insert(token.clone(), Instant::now() + Duration::from_secs(ttl));
            state.issued += 1;
        }
        let expires_in = if self.config.expires_in_as_number {
            json!(ttl)
        } else {
            json!(ttl.to_string())
        };
        Ok(json!({
            "responseCode": response_code(200, svc, 0),
            "responseMessage": "Successful",
            "accessToken": token,
            "tokenType": "Bearer",
            "expiresIn": expires_in,
        }))
    }

    /// Checks a service call as the provider does, in this order: mandatory headers
    /// (`Authorization`, `X-TIMESTAMP`, `X-SIGNATURE`, `X-PARTNER-ID`, `X-EXTERNAL-ID`, and
    /// `CHANNEL-ID` when `channel_id` is `Some`) → 400{svc}02; `X-TIMESTAMP` form or a
    /// `CHANNEL-ID` other than `channel_id` → 400{svc}01; token known and unexpired →
    /// 401{svc}01; `X-PARTNER-ID` → 401{svc}00; HMAC-SHA512 over
    /// `METHOD:path_signed:token:body_hash(received body):X-TIMESTAMP` → 401{svc}00;
    /// `X-EXTERNAL-ID` not used before today (WIB) by this partner → 409{svc}00. An accepted
    /// call's `X-EXTERNAL-ID` is recorded. `Err` is the answer to send as is.
    pub fn check(
        &self,
        method: &str,
        path_signed: &str,
        headers: &HeaderMap,
        body: &[u8],
        service: u8,
        channel_id: Option<&str>,
    ) -> Result<(), (StatusCode, Value)> {
        let mandatory = |name: &str, shown: &str| {
            header(headers, name).ok_or_else(|| {
                error_answer(
                    400,
                    service,
                    2,
                    &format!("Invalid Mandatory Field [{shown}]"),
                )
            })
        };
        let authorization = mandatory("authorization", "Authorization")?;
        let stamp = mandatory("x-timestamp", "X-TIMESTAMP")?;
        let signature = mandatory("x-signature", "X-SIGNATURE")?;
        let partner_id = mandatory("x-partner-id", "X-PARTNER-ID")?;
        let external_id = mandatory("x-external-id", "X-EXTERNAL-ID")?;
        if let Some(expected) = channel_id
            && mandatory("channel-id", "CHANNEL-ID")? != expected
        {
            return Err(error_answer(
                400,
                service,
                1,
                "Invalid Field Format [CHANNEL-ID]",
            ));
        }
        if parse_timestamp(stamp).is_none() {
            return Err(error_answer(
                400,
                service,
                1,
                "Invalid Field Format [X-TIMESTAMP]",
            ));
        }
        let token = bearer(authorization)
            .filter(|token| self.token_is_valid(token))
            .ok_or_else(|| error_answer(401, service, 1, "Invalid Token (B2B)"))?;
        if partner_id != self.config.partner_id {
            return Err(error_answer(
                401,
                service,
                0,
                "Unauthorized. [Unknown partner]",
            ));
        }
        let string_to_sign = format!(
            "{}:{path_signed}:{token}:{}:{stamp}",
            method.to_ascii_uppercase(),
            body_hash(body)
        );
        let expected = hmac_sha512(self.config.client_secret.as_bytes(), &string_to_sign);
        let received = BASE64.decode(signature).unwrap_or_default();
        if !bool::from(expected.ct_eq(&received)) {
            return Err(error_answer(401, service, 0, "Unauthorized. [Signature]"));
        }
        let key = (
            wib::date(wib::now()),
            partner_id.to_owned(),
            external_id.to_owned(),
        );
        if !lock(&self.state).external_ids.insert(key) {
            return Err(error_answer(409, service, 0, "Conflict"));
        }
        Ok(())
    }

    fn token_is_valid(&self, token: &str) -> bool {
        lock(&self.state)
            .tokens
            .get(token)
            .is_some_and(|expiry| Instant::now() < *expiry)
    }

    /// Every token issued so far is now expired (the next service call with one answers
    /// 401xx01).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for expiry in lock(&self.state).tokens.values_mut() {
            *expiry = now;
        }
    }

    /// How many tokens were issued so far.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.state).issued
    }
}

fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The token request body: a JSON object with `grantType` `client_credentials`;
/// `additionalInfo` of any type or absent.
fn check_token_body(body: &[u8]) -> Result<(), (StatusCode, Value)> {
    let svc = TOKEN_SERVICE;
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(error_answer(400, svc, 0, "Bad Request"));
    };
    match fields.get("grantType") {
        None | Some(Value::Null) => Err(error_answer(
            400,
            svc,
            2,
            "Invalid Mandatory Field [grantType]",
        )),
        Some(Value::String(grant)) if grant == "client_credentials" => Ok(()),
        Some(_) => Err(error_answer(
            400,
            svc,
            1,
            "Invalid Field Format [grantType]",
        )),
    }
}

/// How a [`SnapNotifier`] presents itself to the merchant.
#[derive(Clone)]
pub struct SnapNotifierConfig {
    /// `X-CLIENT-KEY` the provider presents to the merchant's token endpoint.
    pub client_key: String,
    /// `X-PARTNER-ID` on notifications.
    pub partner_id: String,
    /// HMAC key shared with the merchant.
    pub client_secret: String,
    /// The provider's private key (PEM): signs token requests (and asymmetric notifications).
    pub provider_private_key_pem: String,
    /// `CHANNEL-ID` on notifications.
    pub channel_id: String,
    /// `X-TIMESTAMP` in UTC (`…Z`) instead of WIB (`…+07:00`).
    pub utc_timestamps: bool,
    /// B.3.3 RSA-signed notifications without a token.
    pub asymmetric: bool,
}

impl fmt::Debug for SnapNotifierConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapNotifierConfig")
            .field("client_key", &self.client_key)
            .field("partner_id", &self.partner_id)
            .field("client_secret", &"<redacted>")
            .field("channel_id", &self.channel_id)
            .field("utc_timestamps", &self.utc_timestamps)
            .field("asymmetric", &self.asymmetric)
            .finish_non_exhaustive()
    }
}

/// The merchant-issued token a notifier holds.
struct HeldToken {
    token: String,
    expiry: Instant,
}

/// Lifetime assumed for a token handed over with [`SnapNotifier::use_token`] (SNAP: 900 s).
const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(900);

/// The provider's client half: notifies the merchant (the gateway). In the symmetric set-up
/// it first asks the merchant's token URL for a B2B token (RSA-signed request), keeps it until
/// expiry, then posts with `Authorization: Bearer`, HMAC-SHA512 signed over the path (and
/// query) of the URL it posts to. Cloning shares the held token.
#[derive(Clone)]
pub struct SnapNotifier {
    config: Arc<SnapNotifierConfig>,
    token: Arc<Mutex<Option<HeldToken>>>,
    client: reqwest::Client,
}

impl fmt::Debug for SnapNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapNotifier")
            .field("config", &self.config)
            .field("holds_token", &lock(&self.token).is_some())
            .finish_non_exhaustive()
    }
}

impl SnapNotifier {
    /// A notifier holding no token.
    pub fn new(config: SnapNotifierConfig) -> Self {
        Self {
            config: Arc::new(config),
            token: Arc::new(Mutex::new(None)),
            client: callback::http_client(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SnapNotifierConfig {
        &self.config
    }

    /// The B2B token request to the merchant's `token_url` (B.3.1, signed with the provider's
    /// private key), built but not posted.
    pub fn token_request(&self, token_url: &str) -> CapturedCallback {
        let stamp = timestamp(self.config.utc_timestamps);
        let string_to_sign = format!("{}|{stamp}", self.config.client_key);
        let signature = rsa_sign_b64(
            &self.config.provider_private_key_pem,
            string_to_sign.as_bytes(),
        );
        let body = json!({"grantType": "client_credentials", "additionalInfo": {}});
        CapturedCallback {
            url: Some(token_url.to_owned()).filter(|url| !url.is_empty()),
            method: "POST".to_owned(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-client-key".to_owned(), self.config.client_key.clone()),
                ("x-timestamp".to_owned(), stamp),
                ("x-signature".to_owned(), signature),
            ],
            body: Bytes::from(body.to_string()),
        }
    }

    /// Holds `token` (obtained elsewhere, e.g. by a test feeding [`Self::token_request`] to the
    /// merchant) for the next notifications, assuming SNAP's 900 s lifetime.
    pub fn use_token(&self, token: &str) {
        self.hold(token, DEFAULT_TOKEN_TTL);
    }

    fn hold(&self, token: &str, ttl: Duration) {
        *lock(&self.token) = Some(HeldToken {
            token: token.to_owned(),
            expiry: Instant::now() + ttl,
        });
    }

    /// Forgets the held token: the next [`Self::post`] asks for a new one.
    pub fn forget_token(&self) {
        *lock(&self.token) = None;
    }

    fn current_token(&self) -> Option<String> {
        lock(&self.token)
            .as_ref()
            .filter(|held| Instant::now() < held.expiry)
            .map(|held| held.token.clone())
    }

    /// The notification posting `body` (compact JSON) to `url`, signed with the held token
    /// (symmetric; without a token the signature uses an empty token and no `Authorization`
    /// is sent, which the merchant refuses) or with the provider's key (asymmetric); built,
    /// not posted. Tampering: `FlipByte` changes one byte inside a string of the body after
    /// signing; `WrongKey` signs with another secret (another RSA key when asymmetric);
    /// `StaleTimestamp` signs an `X-TIMESTAMP` 10 minutes old.
    pub fn notification(&self, url: &str, body: &Value, tamper: Tamper) -> CapturedCallback {
        let token = if self.config.asymmetric {
            None
        } else {
            self.current_token()
        };
        self.notification_with(url, body, tamper, token.as_deref())
    }

    fn notification_with(
        &self,
        url: &str,
        body: &Value,
        tamper: Tamper,
        token: Option<&str>,
    ) -> CapturedCallback {
        let mut bytes = body.to_string().into_bytes();
        let at = match tamper {
            Tamper::StaleTimestamp => OffsetDateTime::now_utc() - time::Duration::minutes(10),
            _ => OffsetDateTime::now_utc(),
        };
        let stamp = format_timestamp(at, self.config.utc_timestamps);
        let path = signed_path(url);
        let hash = body_hash(&bytes);
        let wrong = tamper == Tamper::WrongKey;
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        let signature = if self.config.asymmetric {
            let string_to_sign = format!("POST:{path}:{hash}:{stamp}");
            let key = if wrong {
                other_private_key(&self.config.provider_private_key_pem)
            } else {
                &self.config.provider_private_key_pem
            };
            rsa_sign_b64(key, string_to_sign.as_bytes())
        } else {
            let token_text = token.unwrap_or_default();
            if let Some(token) = token {
                headers.push(("authorization".to_owned(), format!("Bearer {token}")));
            }
            let string_to_sign = format!("POST:{path}:{token_text}:{hash}:{stamp}");
            let secret = if wrong {
                format!("{}-not-the-shared-secret", self.config.client_secret)
            } else {
                self.config.client_secret.clone()
            };
            hmac_sha512_b64(secret.as_bytes(), &string_to_sign)
        };
        if tamper == Tamper::FlipByte {
            flip_one_byte(&mut bytes);
        }
        headers.extend([
            ("x-timestamp".to_owned(), stamp),
            ("x-signature".to_owned(), signature),
            ("x-partner-id".to_owned(), self.config.partner_id.clone()),
            ("x-external-id".to_owned(), external_id()),
            ("channel-id".to_owned(), self.config.channel_id.clone()),
        ]);
        CapturedCallback {
            url: Some(url.to_owned()).filter(|url| !url.is_empty()),
            method: "POST".to_owned(),
            headers,
            body: Bytes::from(bytes),
        }
    }

    /// Gets a token from `token_url` when it holds none (or it expired; symmetric set-up
    /// only), then posts `body` to `url` `options.times` times (concurrently if asked),
    /// tampered as asked, each post with its own `X-EXTERNAL-ID` and timestamp. A post
    /// answered 401xx01 (token refused) drops the token, gets a new one and is sent once
    /// more. Returns every final answer; `times = 0` posts nothing.
    pub async fn post(
        &self,
        token_url: &str,
        url: &str,
        body: &Value,
        options: &CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        if options.times == 0 {
            return Ok(Vec::new());
        }
        if url.is_empty() {
            return Err(SimError::NoCallbackUrl);
        }
        if !self.config.asymmetric && self.current_token().is_none() {
            self.fetch_token(token_url).await?;
        }
        let one = || self.post_once(token_url, url, body, options.tamper);
        if options.concurrent {
            let posts = (0..options.times).map(|_| one());
            return futures::future::join_all(posts).await.into_iter().collect();
        }
        let mut outcomes = Vec::new();
        for _ in 0..options.times {
            outcomes.push(one().await?);
        }
        Ok(outcomes)
    }

    async fn post_once(
        &self,
        token_url: &str,
        url: &str,
        body: &Value,
        tamper: Tamper,
    ) -> Result<CallbackOutcome, SimError> {
        let outcome = self.send(url, body, tamper).await?;
        if self.config.asymmetric || !answers_invalid_token(&outcome) {
            return Ok(outcome);
        }
        self.forget_token();
        self.fetch_token(token_url).await?;
        self.send(url, body, tamper).await
    }

    async fn send(
        &self,
        url: &str,
        body: &Value,
        tamper: Tamper,
    ) -> Result<CallbackOutcome, SimError> {
        let captured = self.notification(url, body, tamper);
        callback::send_captured(&self.client, &captured).await
    }

    /// Asks the merchant's token URL for a token and holds it for the `expiresIn` it
    /// answers (number or string).
    pub async fn fetch_token(&self, token_url: &str) -> Result<String, SimError> {
        if token_url.is_empty() {
            return Err(SimError::NoCallbackUrl);
        }
        let request = self.token_request(token_url);
        let outcome = callback::send_captured(&self.client, &request).await?;
        let answer: Value = serde_json::from_str(&outcome.body).unwrap_or(Value::Null);
        let token = answer
            .get("accessToken")
            .and_then(Value::as_str)
            .filter(|token| outcome.status == 200 && !token.is_empty())
            .ok_or_else(|| {
                SimError::Delivery(format!(
                    "the token request was refused with HTTP {}",
                    outcome.status
                ))
            })?;
        let ttl = answer
            .get("expiresIn")
            .and_then(|value| match value {
                Value::Number(number) => number.as_u64(),
                Value::String(text) => text.trim().parse().ok(),
                _ => None,
            })
            .map_or(DEFAULT_TOKEN_TTL, Duration::from_secs);
        self.hold(token, ttl);
        Ok(token.to_owned())
    }
}

/// Whether a merchant's answer refuses the token (`401xx01`).
fn answers_invalid_token(outcome: &CallbackOutcome) -> bool {
    if outcome.status != 401 {
        return false;
    }
    serde_json::from_str::<Value>(&outcome.body)
        .ok()
        .and_then(|answer| answer.get("responseCode")?.as_str().map(str::to_owned))
        .is_some_and(|code| code.len() == 7 && code.starts_with("401") && code.ends_with("01"))
}

/// The path and query of `url`, what SNAP signs (B.3.2); `url` itself when it is already a
/// path.
pub fn signed_path(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => match parsed.query() {
            Some(query) => format!("{}?{query}", parsed.path()),
            None => parsed.path().to_owned(),
        },
        Err(_) => url.to_owned(),
    }
}

/// A private key other than `configured`, for `Tamper::WrongKey`.
fn other_private_key(configured: &str) -> &'static str {
    if configured == crate::keys::SNAP_DEMO.private_pem {
        crate::keys::MERCHANT.private_pem
    } else {
        crate::keys::SNAP_DEMO.private_pem
    }
}

/// Changes the last digit (else the last letter) inside a JSON string of `body`, keeping it
/// valid JSON.
fn flip_one_byte(body: &mut [u8]) {
    let mut in_string = false;
    let mut escaped = false;
    let mut last_digit = None;
    let mut last_letter = None;
    for (index, &byte) in body.iter().enumerate() {
        if !in_string {
            in_string = byte == b'"';
            continue;
        }
        if escaped {
            escaped = false;
        } else if byte == b'\\' {
            escaped = true;
        } else if byte == b'"' {
            in_string = false;
        } else if byte.is_ascii_digit() {
            last_digit = Some(index);
        } else if byte.is_ascii_alphabetic() {
            last_letter = Some(index);
        }
    }
    if let Some(index) = last_digit.or(last_letter) {
        body[index] = match body[index] {
            b'9' => b'8',
            b'z' => b'y',
            b'Z' => b'Y',
            other => other + 1,
        };
    }
}

#[cfg(test)]
mod tests;
