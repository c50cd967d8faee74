//! Settings: built-in defaults < TOML files (`config/gateway.toml`, or `--config`) <
//! `GATEWAY__SECTION__KEY` environment variables. The closed [`ProviderConfig`] enum is
//! the one place that lists adapter kinds.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// Everything the gateway needs to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTP server.
    #[serde(default)]
    pub server: ServerSettings,
    /// Database.
    #[serde(default)]
    pub database: DatabaseSettings,
    /// Event delivery to products.
    #[serde(default)]
    pub outbox: OutboxSettings,
    /// Background jobs: expiry, inquiries, confirmations, clean-up.
    #[serde(default)]
    pub scheduler: SchedulerSettings,
    /// Provider instances by name (used in callback URLs and routes).
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Products that call the unified API, by client id.
    #[serde(default)]
    pub clients: BTreeMap<String, ClientConfig>,
    /// One-time passwords.
    #[serde(default)]
    pub otp: OtpSettings,
    /// Click-to-chat support links.
    #[serde(default)]
    pub support: SupportSettings,
    /// E-signature: identity encryption, size limits, status polling.
    #[serde(default)]
    pub esign: EsignSettings,
    /// PPOB: catalogue refresh, inquiry life, pending checks, deposit watch, reconciliation.
    #[serde(default)]
    pub bills: BillsSettings,
    /// The operations console.
    #[serde(default)]
    pub console: ConsoleSettings,
}

/// The operations console: a separate listener serving `/console`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSettings {
    /// Where the console listens; none: no console.
    pub listen: Option<SocketAddr>,
    /// The client whose WhatsApp route and OTP policy send operators their login codes.
    pub otp_client: Option<String>,
    /// The OTP purpose of console logins (in `otp.purposes`).
    pub otp_purpose: String,
    /// A session unused this long ends.
    pub idle_timeout_secs: i64,
    /// A session ends this long after login, used or not.
    pub absolute_timeout_secs: i64,
    /// Wrong passwords or codes in a row before an account is locked.
    pub max_failed_logins: i64,
    /// How long a locked account stays locked.
    pub lockout_secs: i64,
    /// Marks cookies `Secure` (browsers then send them only over HTTPS, or to localhost).
    pub secure_cookies: bool,
    /// Password attempts one address may make a minute, whichever usernames it tries.
    pub login_attempts_per_minute: u32,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            listen: None,
            otp_client: None,
            otp_purpose: "console_login".to_owned(),
            idle_timeout_secs: 1_800,
            absolute_timeout_secs: 12 * 3_600,
            max_failed_logins: 5,
            lockout_secs: 900,
            secure_cookies: true,
            login_attempts_per_minute: 20,
        }
    }
}

/// PPOB (biller host-to-host) settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillsSettings {
    /// How often each biller's price list is fetched again.
    pub catalogue_refresh_secs: f64,
    /// How long a postpaid inquiry (or a prepaid customer check) can be paid; never past
    /// the end of its day in Asia/Jakarta (billers want payment on the inquiry's day).
    pub inquiry_ttl_secs: i64,
    /// First status check of a pending payment, seconds after it was sent; later ones back
    /// off (doubling, up to `check_max_secs`). Digiflazz asks for no more than one a minute.
    pub check_secs: f64,
    /// Longest wait between status checks of one pending payment.
    pub check_max_secs: f64,
    /// A payment still pending this long after it was sent is flagged `needs_review`.
    pub review_after_secs: i64,
    /// A payment whose send was ambiguous and that the biller still does not know this long
    /// after it was sent is closed as failed (the send never arrived).
    pub not_found_after_secs: i64,
    /// How often each biller's deposit balance is read.
    pub balance_check_secs: f64,
    /// Below this deposit balance (whole rupiah) a biller instance is low: an event
    /// `biller.balance.low` and `gateway_biller_balance_low` = 1. Per instance.
    pub low_balance: BTreeMap<String, i64>,
    /// Hour (Asia/Jakarta, 0-23) at which yesterday is reconciled with every biller; none
    /// turns the nightly run off.
    pub reconcile_at_hour: Option<u8>,
}

impl Default for BillsSettings {
    fn default() -> Self {
        BillsSettings {
            catalogue_refresh_secs: 3_600.0,
            inquiry_ttl_secs: 900,
            check_secs: 60.0,
            check_max_secs: 1_800.0,
            review_after_secs: 1_800,
            not_found_after_secs: 900,
            balance_check_secs: 300.0,
            low_balance: BTreeMap::new(),
            reconcile_at_hour: Some(2),
        }
    }
}

/// E-signature settings. Identity data (NIK, name, birth date, e-mail, phone) is kept
/// encrypted with `data_key`; images and PDFs are forwarded and never stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EsignSettings {
    /// Base64 of 32 random bytes: the AES-256-GCM key of stored identity data and the HMAC
    /// key of NIK fingerprints. Required when a client routes e-signature.
    #[serde(serialize_with = "serialize_optional_secret")]
    pub data_key: Option<SecretString>,
    /// Keys replaced by `data_key`, still able to decrypt what they sealed (rotation).
    #[serde(serialize_with = "serialize_secrets")]
    pub previous_data_keys: Vec<SecretString>,
    /// Largest selfie, KTP or supporting-document image, in bytes (decoded).
    pub max_image_bytes: usize,
    /// Largest PDF, in bytes (decoded).
    pub max_pdf_bytes: usize,
    /// Largest request body on `/v1/esign` (base64 inflates by a third).
    pub body_limit_bytes: usize,
    /// Most signers on one document.
    pub max_signers: usize,
    /// First status inquiry of a pending signer or document, seconds after the last
    /// change; later ones back off (doubling, up to `poll_max_secs`).
    pub poll_secs: f64,
    /// Longest wait between status inquiries of one pending signer or document.
    pub poll_max_secs: f64,
    /// Days the encrypted identity of a verified or rejected signer is kept before it is
    /// erased (the signer record stays).
    pub identity_retention_days: i64,
}

impl Default for EsignSettings {
    fn default() -> Self {
        EsignSettings {
            data_key: None,
            previous_data_keys: Vec::new(),
            max_image_bytes: 2 * 1024 * 1024,
            max_pdf_bytes: 10 * 1024 * 1024,
            body_limit_bytes: 16 * 1024 * 1024,
            max_signers: 10,
            poll_secs: 60.0,
            poll_max_secs: 3_600.0,
            identity_retention_days: 30,
        }
    }
}

/// Click-to-chat support links (`POST /v1/support-links`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupportSettings {
    /// The customer-care WhatsApp number, international digits (`6281100000000`).
    pub number: Option<String>,
    /// Prefilled text per topic; `{name}` is replaced by the user's name in bold.
    pub topics: BTreeMap<String, String>,
}

/// The OTP policy (RELIABILITY.md §7.5) and what each purpose sends.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtpSettings {
    /// Derives codes from their stored seed and keys their stored hash (at least 32
    /// characters). Without it the OTP endpoints answer `otp_not_configured`.
    #[serde(serialize_with = "serialize_optional_secret")]
    pub key: Option<SecretString>,
    /// How long a code is valid.
    pub ttl_secs: i64,
    /// Wrong codes allowed before the OTP is locked.
    pub max_attempts: i64,
    /// Least wait between sends of one OTP.
    pub resend_after_secs: i64,
    /// Most sends to one recipient within `send_window_secs`.
    pub max_sends_per_recipient: i64,
    /// The window of that cap.
    pub send_window_secs: i64,
    /// Most sends by one client within an hour.
    pub max_sends_per_client_hour: i64,
    /// Most wrong codes for one number in a day before it gets no new OTP.
    pub max_failures_per_recipient_day: i64,
    /// Country calling codes OTPs may go to (Indonesia by default).
    pub allowed_country_codes: Vec<String>,
    /// Purposes products may ask for, each with the authentication template it sends.
    pub purposes: BTreeMap<String, OtpPurpose>,
}

impl Default for OtpSettings {
    fn default() -> Self {
        OtpSettings {
            key: None,
            ttl_secs: 600,
            max_attempts: 5,
            resend_after_secs: 60,
            max_sends_per_recipient: 5,
            send_window_secs: 600,
            max_sends_per_client_hour: 10_000,
            max_failures_per_recipient_day: 20,
            allowed_country_codes: vec!["62".to_owned()],
            purposes: BTreeMap::new(),
        }
    }
}

/// One OTP purpose (`login`, `reset_pin`, …).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpPurpose {
    /// The authentication template (code in the body and the copy-code button).
    pub template: String,
    /// Its language.
    #[serde(default = "default_otp_language")]
    pub language: String,
    /// This purpose's code life (default `otp.ttl_secs`).
    #[serde(default)]
    pub ttl_secs: Option<i64>,
    /// This purpose's checks per code (default `otp.max_attempts`).
    #[serde(default)]
    pub max_attempts: Option<i64>,
    /// This purpose's resend cooldown (default `otp.resend_after_secs`).
    #[serde(default)]
    pub resend_after_secs: Option<i64>,
}

impl OtpPurpose {
    /// The code life, the checks and the cooldown for this purpose, in seconds and counts.
    pub fn limits(&self, otp: &OtpSettings) -> (i64, i64, i64) {
        (
            self.ttl_secs.unwrap_or(otp.ttl_secs),
            self.max_attempts.unwrap_or(otp.max_attempts),
            self.resend_after_secs.unwrap_or(otp.resend_after_secs),
        )
    }
}

fn default_otp_language() -> String {
    "id".to_owned()
}

fn serialize_optional_secret<S: serde::Serializer>(
    secret: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    secret.as_ref().map(|_| "[redacted]").serialize(s)
}

/// HTTP server settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// How providers reach us: the base of callback URLs sent to providers.
    pub public_url: Url,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Whole-request deadline.
    pub request_timeout_ms: u64,
    /// Allowed clock difference for signed client requests (both directions).
    pub auth_window_secs: i64,
    /// How long idempotency records are kept.
    pub idempotency_retention_hours: i64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: Url::parse("http://127.0.0.1:8080").unwrap_or_else(|_| unreachable_url()),
            body_limit_bytes: 256 * 1024,
            request_timeout_ms: 30_000,
            auth_window_secs: 300,
            idempotency_retention_hours: 24,
        }
    }
}

fn unreachable_url() -> Url {
    // A literal that always parses; kept out of line so `Default` needs no unwrap.
    #[allow(clippy::unwrap_used)]
    Url::parse("http://localhost/").unwrap()
}

/// Database settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://data/gateway.db?mode=rwc` (default) or `postgres://…`.
    pub url: String,
    /// Connection pool size.
    pub max_connections: u32,
    /// Most writes one SQLite group commit takes.
    pub max_batch: usize,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sqlite://data/gateway.db?mode=rwc".to_owned(),
            max_connections: 8,
            max_batch: 256,
        }
    }
}

/// Outbound event delivery.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxSettings {
    /// Delay before each retry, seconds (Svix's ladder by default).
    pub retry_schedule_secs: Vec<f64>,
    /// Relative jitter on each delay (0.2 = ±20 %).
    pub jitter: f64,
    /// Least delay after a timeout or 429, seconds.
    pub overload_floor_secs: f64,
    /// Deadline of one delivery attempt.
    pub attempt_timeout_ms: u64,
    /// How often the dispatcher looks for due events when nothing wakes it.
    pub poll_interval_ms: u64,
    /// Most events claimed at once.
    pub batch: i64,
    /// Most deliveries in flight.
    pub concurrency: usize,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            retry_schedule_secs: vec![5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
            jitter: 0.2,
            overload_floor_secs: 60.0,
            attempt_timeout_ms: 15_000,
            poll_interval_ms: 1_000,
            batch: 64,
            concurrency: 32,
        }
    }
}

/// Background jobs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerSettings {
    /// How often the scheduler runs.
    pub interval_ms: u64,
    /// First inquiry for a VA whose creation outcome is unknown, seconds after.
    pub inquiry_delay_secs: f64,
    /// Most inquiries for one unknown outcome before an operator must look.
    pub inquiry_max_attempts: i64,
    /// An `issuing` VA older than this was left by a crash and is resolved by inquiry.
    pub stale_issuing_secs: f64,
    /// First status inquiry for a pending payment whose callback has not come, seconds
    /// after it started; later ones back off (doubling, up to `payment_poll_max_secs`).
    pub payment_poll_secs: f64,
    /// Longest wait between status inquiries of one pending payment.
    pub payment_poll_max_secs: f64,
    /// How long past its expiry a payment the provider still calls pending is asked about
    /// before the gateway closes it as expired.
    pub payment_expiry_grace_secs: f64,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings {
            interval_ms: 1_000,
            inquiry_delay_secs: 30.0,
            inquiry_max_attempts: 20,
            stale_issuing_secs: 120.0,
            payment_poll_secs: 60.0,
            payment_poll_max_secs: 900.0,
            payment_expiry_grace_secs: 300.0,
        }
    }
}

/// One product.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// One or two request-signing secrets (two during rotation).
    #[serde(serialize_with = "serialize_secrets")]
    pub secrets: Vec<SecretString>,
    /// Where events are delivered.
    #[serde(default)]
    pub webhook_url: Option<Url>,
    /// Standard Webhooks signing secrets, `whsec_…` (two during rotation).
    #[serde(default, serialize_with = "serialize_secrets")]
    pub webhook_secrets: Vec<SecretString>,
    /// Requests per second allowed, and burst.
    #[serde(default)]
    pub rate_limit: RateLimit,
    /// Provider instances per capability, in order of preference.
    #[serde(default)]
    pub routes: Routes,
}

fn serialize_secrets<S: serde::Serializer>(
    secrets: &[SecretString],
    s: S,
) -> Result<S::Ok, S::Error> {
    let shown: Vec<&str> = secrets.iter().map(|_| "[redacted]").collect();
    shown.serialize(s)
}

/// Per-client rate limit.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Burst size.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 100,
            burst: 200,
        }
    }
}

/// A client's routes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routes {
    /// Provider instances that issue this client's VAs: first is primary, then fallbacks.
    pub virtual_accounts: Vec<String>,
    /// Provider instances that take this client's payments, in order of preference: a
    /// payment goes to the first that offers its method (then the next, if that one is
    /// unavailable).
    pub payments: Vec<String>,
    /// Provider instances that send this client's messages, in order of preference.
    pub messages: Vec<String>,
    /// The provider instance that registers this client's signers (the first; documents
    /// go to the instance their signers were registered at). Empty: no e-signature.
    pub esign: Vec<String>,
    /// Biller instances this client sells through, in order of preference: a product is
    /// bought from the first whose catalogue has it. Empty: no PPOB.
    pub bills: Vec<String>,
}

/// A provider instance: the kind selects the adapter. The only place adapters are listed.
// Variants differ in size; the enum exists only while loading configuration.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProviderConfig {
    /// BNI eCollection.
    #[cfg(feature = "bni")]
    Bni(adapter_bni::Config),
    /// NICEPAY V2 direct.
    #[cfg(feature = "nicepay")]
    Nicepay(adapter_nicepay::Config),
    /// DOKU: SNAP virtual accounts and Checkout.
    #[cfg(feature = "doku")]
    Doku(adapter_doku::Config),
    /// AstraPay: SNAP direct debit and QRIS.
    #[cfg(feature = "astrapay")]
    Astrapay(adapter_astrapay::Config),
    /// WhatsApp Cloud API: template messages and OTPs.
    #[cfg(feature = "whatsapp")]
    Whatsapp(adapter_whatsapp::Config),
    /// PrivyID: certified e-signature.
    #[cfg(feature = "privyid")]
    Privyid(adapter_privyid::Config),
    /// Digiflazz: PPOB prepaid products and postpaid bills.
    #[cfg(feature = "digiflazz")]
    Digiflazz(adapter_digiflazz::Config),
}

impl ProviderConfig {
    /// The adapter kind's name.
    pub fn kind(&self) -> &'static str {
        match self {
            #[cfg(feature = "bni")]
            ProviderConfig::Bni(_) => "bni",
            #[cfg(feature = "nicepay")]
            ProviderConfig::Nicepay(_) => "nicepay",
            #[cfg(feature = "doku")]
            ProviderConfig::Doku(_) => "doku",
            #[cfg(feature = "astrapay")]
            ProviderConfig::Astrapay(_) => "astrapay",
            #[cfg(feature = "whatsapp")]
            ProviderConfig::Whatsapp(_) => "whatsapp",
            #[cfg(feature = "privyid")]
            ProviderConfig::Privyid(_) => "privyid",
            #[cfg(feature = "digiflazz")]
            ProviderConfig::Digiflazz(_) => "digiflazz",
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The files or variables could not be read or parsed.
    #[error("cannot load configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// A value is not acceptable.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads settings: defaults, then `files` (or `config/gateway.toml` when present), then
    /// `GATEWAY__…` variables.
    pub fn load(files: &[PathBuf]) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::empty()));
        if files.is_empty() {
            figment = figment.merge(Toml::file("config/gateway.toml"));
        }
        for file in files {
            if !file.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} not found",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        Self::finish(figment)
    }

    /// Loads settings from a TOML text (the sandbox's embedded profile), then variables.
    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        let figment =
            Figment::from(Serialized::defaults(Settings::empty())).merge(Toml::string(text));
        Self::finish(figment)
    }

    fn finish(figment: Figment) -> Result<Settings, ConfigError> {
        let settings: Settings = figment
            .merge(Env::prefixed("GATEWAY__").split("__"))
            .extract()
            .map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Settings with every section at its default and no providers or clients.
    pub fn empty() -> Settings {
        Settings {
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            outbox: OutboxSettings::default(),
            scheduler: SchedulerSettings::default(),
            providers: BTreeMap::new(),
            clients: BTreeMap::new(),
            otp: OtpSettings::default(),
            support: SupportSettings::default(),
            esign: EsignSettings::default(),
            bills: BillsSettings::default(),
            console: ConsoleSettings::default(),
        }
    }

    /// Checks what serde cannot: references between sections, secret shapes, bounds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if !(1..=900).contains(&self.server.auth_window_secs) {
            return invalid("server.auth_window_secs must be 1..=900".into());
        }
        if self.server.idempotency_retention_hours < 24 {
            return invalid("server.idempotency_retention_hours must be at least 24".into());
        }
        if self
            .outbox
            .retry_schedule_secs
            .iter()
            .any(|d| !d.is_finite() || *d < 0.0)
        {
            return invalid("outbox.retry_schedule_secs must be non-negative".into());
        }
        if !(0.0..1.0).contains(&self.outbox.jitter) {
            return invalid("outbox.jitter must be in [0, 1)".into());
        }
        let otp = &self.otp;
        if otp
            .key
            .as_ref()
            .is_some_and(|k| k.expose_secret().len() < 32)
        {
            return invalid("otp.key must be at least 32 characters".into());
        }
        let purposes_ok = otp.purposes.values().all(|p| {
            let (ttl, attempts, cooldown) = p.limits(otp);
            ttl >= 60 && attempts >= 1 && cooldown >= 0
        });
        if !purposes_ok
            || otp.max_failures_per_recipient_day < 1
            || otp.ttl_secs < 60
            || otp.max_attempts < 1
            || otp.resend_after_secs < 0
            || otp.max_sends_per_recipient < 1
            || otp.send_window_secs < 1
            || otp.max_sends_per_client_hour < 1
        {
            return invalid("otp limits must be positive (ttl_secs at least 60)".into());
        }
        if let Some(number) = &self.support.number
            && (number.len() < 8
                || number.len() > 15
                || number.starts_with('0')
                || !number.bytes().all(|b| b.is_ascii_digit()))
        {
            return invalid(
                "support.number must be international digits without + or a leading 0".into(),
            );
        }
        let esign = &self.esign;
        if esign.max_image_bytes < 1024
            || esign.max_pdf_bytes < 1024
            || esign.max_signers < 1
            || esign.poll_secs <= 0.0
            || esign.poll_max_secs < esign.poll_secs
            || esign.identity_retention_days < 0
            || esign.body_limit_bytes
                < (esign.max_pdf_bytes.max(esign.max_image_bytes * 2) / 3 * 4 + 64 * 1024)
        {
            return invalid(
                "esign limits must be positive, and body_limit_bytes must fit the base64 of the largest PDF or two images".into(),
            );
        }
        for key in esign.data_key.iter().chain(&esign.previous_data_keys) {
            if crate::vault::decode_key(key.expose_secret()).is_none() {
                return invalid("esign data keys must be base64 of 32 bytes".into());
            }
        }
        if esign.data_key.is_none() && self.clients.values().any(|c| !c.routes.esign.is_empty()) {
            return invalid("esign.data_key is required when a client routes e-signature".into());
        }
        let bills = &self.bills;
        if bills.catalogue_refresh_secs <= 0.0
            || bills.inquiry_ttl_secs < 60
            || bills.check_secs <= 0.0
            || bills.check_max_secs < bills.check_secs
            || bills.review_after_secs < 1
            || bills.not_found_after_secs < 1
            || bills.balance_check_secs <= 0.0
            || bills.reconcile_at_hour.is_some_and(|h| h > 23)
            || bills.low_balance.values().any(|v| *v < 0)
        {
            return invalid(
                "bills settings must be positive (inquiry_ttl_secs at least 60, reconcile_at_hour 0-23)".into(),
            );
        }
        if let Some(unknown) = bills
            .low_balance
            .keys()
            .find(|k| !self.providers.contains_key(*k))
        {
            return invalid(format!(
                "bills.low_balance names unknown provider instance {unknown}"
            ));
        }
        let console = &self.console;
        if console.idle_timeout_secs < 60
            || console.absolute_timeout_secs < console.idle_timeout_secs
            || console.max_failed_logins < 1
            || console.lockout_secs < 1
        {
            return invalid(
                "console timeouts and lockout must be positive (idle at least 60 s, absolute at least idle)".into(),
            );
        }
        if console.listen.is_some() {
            match &console.otp_client {
                Some(client) if self.clients.contains_key(client) => {}
                _ => {
                    return invalid(
                        "console.otp_client must name a configured client (its WhatsApp route sends operators' codes)".into(),
                    );
                }
            }
            if !self.otp.purposes.contains_key(&console.otp_purpose) {
                return invalid(format!(
                    "console.otp_purpose {} is not in otp.purposes",
                    console.otp_purpose
                ));
            }
        }
        for (name, provider) in &self.providers {
            validate_name(name)?;
            provider
                .validate(self, name)
                .map_err(|e| ConfigError::Invalid(format!("providers.{name}: {e}")))?;
        }
        for (id, client) in &self.clients {
            validate_name(id)?;
            self.validate_client(id, client)?;
        }
        Ok(())
    }

    fn validate_client(&self, id: &str, client: &ClientConfig) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(format!("clients.{id}: {m}")));
        if client.secrets.is_empty() || client.secrets.len() > 2 {
            return invalid("secrets must hold one or two secrets".into());
        }
        if client.secrets.iter().any(|s| s.expose_secret().len() < 16) {
            return invalid("each secret must be at least 16 characters".into());
        }
        if client.webhook_secrets.len() > 2 {
            return invalid("webhook_secrets holds at most two secrets".into());
        }
        for secret in &client.webhook_secrets {
            if crate::outbox::signing::decode_secret(secret.expose_secret()).is_none() {
                return invalid("webhook secrets must be whsec_ + base64 of 24 to 64 bytes".into());
            }
        }
        if client.webhook_url.is_some() && client.webhook_secrets.is_empty() {
            return invalid("a webhook_url needs webhook_secrets".into());
        }
        if client.rate_limit.per_second == 0 || client.rate_limit.burst == 0 {
            return invalid("rate_limit values must be positive".into());
        }
        for route in client
            .routes
            .virtual_accounts
            .iter()
            .chain(&client.routes.payments)
            .chain(&client.routes.messages)
            .chain(&client.routes.esign)
            .chain(&client.routes.bills)
        {
            if !self.providers.contains_key(route) {
                return invalid(format!("route names unknown provider instance {route}"));
            }
        }
        Ok(())
    }

    /// The resolved settings as TOML-like JSON with every secret redacted.
    pub fn redacted(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl ProviderConfig {
    fn validate(&self, settings: &Settings, name: &str) -> Result<(), String> {
        let _ = (settings, name);
        match self {
            #[cfg(feature = "bni")]
            ProviderConfig::Bni(c) => c.validate().map_err(|e| e.to_string()),
            #[cfg(feature = "nicepay")]
            ProviderConfig::Nicepay(c) => {
                // The notification URL defaults to our own callback URL (filled at build).
                let mut c = c.clone();
                if c.notification_url.is_none() {
                    c.notification_url = Some(crate::registry::callback_url(settings, name)?);
                }
                c.validate().map_err(|e| e.to_string())
            }
            #[cfg(feature = "doku")]
            ProviderConfig::Doku(c) => c.validate().map_err(|e| e.to_string()),
            #[cfg(feature = "astrapay")]
            ProviderConfig::Astrapay(c) => c.validate().map_err(|e| e.to_string()),
            #[cfg(feature = "whatsapp")]
            ProviderConfig::Whatsapp(c) => c.validate().map_err(|e| e.to_string()),
            #[cfg(feature = "privyid")]
            ProviderConfig::Privyid(c) => c.validate().map_err(|e| e.to_string()),
            #[cfg(feature = "digiflazz")]
            ProviderConfig::Digiflazz(c) => c.validate().map_err(|e| e.to_string()),
        }
    }
}

fn validate_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid(format!(
            "name {name:?} must be 1-64 of [A-Za-z0-9_-]"
        )))
    }
}
