//! Simulator of the WhatsApp Business Platform Cloud API (Meta Graph API) for template
//! messages: one-time codes and reminders (provider notes, section 3).
//!
//! Serves `POST /{version}/{phone_number_id}/messages` for any `vNN.N` version (3.1), and
//! checks it in this order:
//! 1. `Authorization: Bearer <access token>`: missing or not the configured token is
//!    `401`, code 190 (3.4, 3.9);
//! 2. a version segment other than `vNN.N` or an unknown phone-number id is `400`, code 100;
//! 3. a pending [`WhatsAppSimulator::throttle`] or [`WhatsAppSimulator::pair_limit`] is
//!    `400`, code 130429 or 131056 (3.4 lists 400 for both);
//! 4. the body: `messaging_product` must be `whatsapp`; a read receipt (3.2a) answers
//!    `{"success":true}`; otherwise `type` must be `template`, `recipient_type` is optional
//!    (`individual` when present), `to` is 8 to 15 digits with an optional leading `+`
//!    (131009; absent fields 131008); the template's name **and** language must be
//!    registered (`404`, 132001); the body parameter count must match (`400`, 132000; no
//!    component or `components: []` counts as zero parameters, as `heyoo` 0.1.2 sends); an
//!    authentication template needs its copy-code button (`sub_type` `url`, `index` `"0"`,
//!    one text parameter) carrying the same code as the body (132000 otherwise); a template
//!    without that button refuses button parameters (132000).
//!
//! Accepted sends answer 3.3's shape with a fresh `wamid.` id and are kept as [`Message`]s
//! (state `sent`). Every refusal is the Graph error envelope of 3.4 with an `fbtrace_id`.
//!
//! It can **act**: [`WhatsAppSimulator::deliver`], [`WhatsAppSimulator::read`] and
//! [`WhatsAppSimulator::fail`] post a status webhook (3.7) to the URL set with
//! [`WhatsAppSimulator::set_webhook_url`], signed `X-Hub-Signature-256: sha256=<hex
//! HMAC-SHA256(app secret, exact body bytes)>` (3.6); [`WhatsAppSimulator::post_statuses`]
//! posts several statuses in any order, each as often as the options say; and
//! [`WhatsAppSimulator::handshake`] performs the subscription GET of 3.5.
//!
//! Choices where the notes are silent:
//! - Webhook bodies escape `/` as `\/` like Meta's JSON (3.6), so a receiver that
//!   re-serialises before verifying fails.
//! - `conversation` rides on `sent` only, `pricing` on `sent`, `delivered` and `read`,
//!   `errors` on `failed` only (3.7); the category is `authentication` for templates with
//!   a copy-code button, `utility` otherwise.
//! - A message's [`MessageStatus`] moves up the rank sent < delivered < read and stays at
//!   `failed` once failed, whatever order statuses are posted in (3.7); the webhook carries
//!   exactly the status asked for.
//! - Tampering ([`Tamper`]): `FlipByte` changes the last digit of the signed body after
//!   signing; `WrongKey` signs with a secret other than the app secret; `StaleTimestamp`
//!   dates the status 10 minutes back but signs it genuinely (the protocol has no replay
//!   window, so a receiver should accept it).
//! - Fault and counter operations: `send` (template sends) and `mark_read` (read
//!   receipts).

mod send;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::callback::{self, CallbackOptions, CallbackOutcome, CapturedCallback, SimError, Tamper};
use crate::faults::{self, Faults};
use crate::server::{self, Running};
use send::{GraphError, Request};

/// The route of template sends and read receipts (3.1).
pub const MESSAGES_PATH: &str = "/{version}/{phone_number_id}/messages";

/// The header carrying the webhook signature (3.6).
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// What a [`crate::faults::Fault::Malformed`] answers: cut off mid-string.
const MALFORMED: &str = r#"{"messaging_product":"whatsapp","contacts":[{"input":"62"#;

/// The `User-Agent` Meta's webhook deliveries carry.
const USER_AGENT: &str = "facebookexternalua";

/// One approved message template (3.2).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The template's name, e.g. `otp_login`.
    pub name: String,
    /// Its exact locale, e.g. `id` or `en_US` (a different `language.code` is 132001).
    pub language: String,
    /// How many body parameters a send must carry (132000 otherwise).
    pub body_params: usize,
    /// An authentication template with a copy-code button: the send must carry the button
    /// component with the same code as its one body parameter.
    #[serde(default)]
    pub copy_code_button: bool,
}

impl Template {
    /// An authentication template: one body parameter (the code) and a copy-code button.
    pub fn authentication(name: &str, language: &str) -> Self {
        Self {
            name: name.to_owned(),
            language: language.to_owned(),
            body_params: 1,
            copy_code_button: true,
        }
    }

    /// A utility (or marketing) template with `body_params` text parameters and no
    /// button.
    pub fn utility(name: &str, language: &str, body_params: usize) -> Self {
        Self {
            name: name.to_owned(),
            language: language.to_owned(),
            body_params,
            copy_code_button: false,
        }
    }

    fn category(&self) -> &'static str {
        if self.copy_code_button {
            "authentication"
        } else {
            "utility"
        }
    }
}

/// The simulated business phone number and its app.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppConfig {
    /// The expected `Authorization: Bearer` token.
    pub access_token: String,
    /// The phone-number id of the request path.
    pub phone_number_id: String,
    /// The app secret: HMAC-SHA256 key of webhook signatures (3.6).
    pub app_secret: String,
    /// The approved templates.
    #[serde(default = "default_templates")]
    pub templates: Vec<Template>,
    /// The WhatsApp Business Account id: `entry[0].id` of webhooks (3.7).
    #[serde(default = "default_waba_id")]
    pub waba_id: String,
    /// `metadata.display_phone_number` of webhooks (3.7).
    #[serde(default = "default_display_phone_number")]
    pub display_phone_number: String,
}

fn default_templates() -> Vec<Template> {
    vec![
        Template::authentication("otp_login", "id"),
        Template::utility("payment_reminder", "id", 2),
    ]
}

fn default_waba_id() -> String {
    "102290129340398".to_owned()
}

fn default_display_phone_number() -> String {
    "15550783881".to_owned()
}

impl WhatsAppConfig {
    /// A phone number with the given credentials, a sample WABA id and display number,
    /// and two templates: `otp_login` (authentication, `id`, one body parameter,
    /// copy-code button) and `payment_reminder` (utility, `id`, two body parameters).
    pub fn new(access_token: &str, phone_number_id: &str, app_secret: &str) -> Self {
        Self {
            access_token: access_token.to_owned(),
            phone_number_id: phone_number_id.to_owned(),
            app_secret: app_secret.to_owned(),
            templates: default_templates(),
            waba_id: default_waba_id(),
            display_phone_number: default_display_phone_number(),
        }
    }
}

impl std::fmt::Debug for WhatsAppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppConfig")
            .field("access_token", &"<redacted>")
            .field("phone_number_id", &self.phone_number_id)
            .field("app_secret", &"<redacted>")
            .field("templates", &self.templates)
            .field("waba_id", &self.waba_id)
            .finish_non_exhaustive()
    }
}

/// Where a message stands, and the status a webhook reports (3.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    /// Accepted and sent to WhatsApp.
    Sent,
    /// Reached the recipient's device.
    Delivered,
    /// Opened by the recipient.
    Read,
    /// Could not be delivered; the Graph error code (e.g. 131026 undeliverable, 131047
    /// re-engagement).
    Failed(u32),
}

impl MessageStatus {
    /// The wire value of `statuses[].status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed(_) => "failed",
        }
    }

    /// The state after `next` is reported: up the rank sent < delivered < read, failed
    /// terminal (3.7).
    fn advance(self, next: Self) -> Self {
        match (self, next) {
            (Self::Failed(_), _) => self,
            (_, Self::Failed(_)) => next,
            _ if next.rank() > self.rank() => next,
            _ => self,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Self::Sent => 0,
            Self::Delivered => 1,
            Self::Read => 2,
            Self::Failed(_) => 3,
        }
    }
}

/// One accepted template message.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// The `wamid.` id returned to the sender.
    pub id: String,
    /// The recipient, digits only (the `wa_id`).
    pub to: String,
    /// The template's name.
    pub template: String,
    /// The template's language code.
    pub language: String,
    /// The body parameters, in order (text parameters as their text).
    pub params: Vec<String>,
    /// The copy-code button's code, for authentication templates.
    pub button_code: Option<String>,
    /// Whether the template is an authentication (copy-code) template.
    pub authentication: bool,
    /// `biz_opaque_callback_data` as sent, echoed in status webhooks.
    pub biz_opaque_callback_data: Option<String>,
    /// The furthest status reached.
    pub state: MessageStatus,
    /// When it was accepted, Unix seconds.
    pub sent_at: i64,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("to", &"<redacted>")
            .field("template", &self.template)
            .field("language", &self.language)
            .field("params", &format_args!("<{} redacted>", self.params.len()))
            .field("state", &self.state)
            .field("sent_at", &self.sent_at)
            .finish_non_exhaustive()
    }
}

/// A simulated WhatsApp Cloud API phone number. Clones share state.
#[derive(Clone)]
pub struct WhatsAppSimulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: WhatsAppConfig,
    state: Mutex<SimState>,
    faults: Faults,
    client: reqwest::Client,
}

#[derive(Default)]
struct SimState {
    messages: Vec<Message>,
    webhook_url: String,
    calls: HashMap<String, usize>,
    throttled: u32,
    pair_limited: u32,
    sequence: u64,
}

impl std::fmt::Debug for WhatsAppSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppSimulator")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl WhatsAppSimulator {
    /// A simulator holding no message, with no webhook URL yet.
    pub fn new(config: WhatsAppConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(SimState::default()),
                faults: Faults::default(),
                client: callback::http_client(),
            }),
        }
    }

    /// The messages endpoint, [`MESSAGES_PATH`].
    pub fn router(&self) -> Router {
        Router::new()
            .route(MESSAGES_PATH, post(messages))
            .with_state(self.clone())
    }

    /// Serves [`Self::router`] on `addr`.
    pub async fn spawn(&self, addr: SocketAddr) -> io::Result<Running> {
        server::spawn(self.router(), addr).await
    }

    /// The configuration.
    pub fn config(&self) -> &WhatsAppConfig {
        &self.inner.config
    }

    /// The fault rules requests consult (operations `send` and `mark_read`).
    pub fn faults(&self) -> Faults {
        self.inner.faults.clone()
    }

    /// How many requests of `op` (`send`, `mark_read`) reached the provider's logic,
    /// refused ones included; those answered by a fault other than latency or
    /// hang-after-effect do not count.
    pub fn calls(&self, op: &str) -> usize {
        let state = self.state();
        state
            .calls
            .get(&op.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// The next `n` template sends that pass authentication answer 130429 (throughput
    /// reached) and are not kept.
    pub fn throttle(&self, n: u32) {
        self.state().throttled = n;
    }

    /// The next `n` template sends that pass authentication answer 131056 (pair rate
    /// limit) and are not kept.
    pub fn pair_limit(&self, n: u32) {
        self.state().pair_limited = n;
    }

    /// Where status webhooks and the handshake go.
    pub fn set_webhook_url(&self, url: &str) {
        url.clone_into(&mut self.state().webhook_url);
    }

    /// Every accepted message, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        self.state().messages.clone()
    }

    /// The message with `wamid`.
    pub fn message(&self, message_id: &str) -> Option<Message> {
        let state = self.state();
        state.messages.iter().find(|m| m.id == message_id).cloned()
    }

    /// The code (body parameter) of the last authentication template sent to `to`
    /// (digits, a leading `+` ignored).
    pub fn last_code_for(&self, to: &str) -> Option<String> {
        let to = to.strip_prefix('+').unwrap_or(to);
        let state = self.state();
        state
            .messages
            .iter()
            .rev()
            .find(|m| m.authentication && m.to == to)
            .and_then(|m| m.params.first().cloned())
    }

    /// The message reached the recipient: posts a `delivered` status once.
    pub async fn deliver(&self, message_id: &str) -> Result<CallbackOutcome, SimError> {
        first(
            self.deliver_with(message_id, CallbackOptions::default())
                .await?,
        )
    }

    /// The message reached the recipient; the `delivered` status is posted as `options`
    /// say (`times = 0` records it only).
    pub async fn deliver_with(
        &self,
        message_id: &str,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        self.post_statuses(message_id, &[MessageStatus::Delivered], options)
            .await
    }

    /// The recipient read the message: posts a `read` status once.
    pub async fn read(&self, message_id: &str) -> Result<CallbackOutcome, SimError> {
        first(
            self.read_with(message_id, CallbackOptions::default())
                .await?,
        )
    }

    /// The recipient read the message; the `read` status is posted as `options` say.
    pub async fn read_with(
        &self,
        message_id: &str,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        self.post_statuses(message_id, &[MessageStatus::Read], options)
            .await
    }

    /// The message failed with Graph error `code` (e.g. 131026, 131047): posts a `failed`
    /// status carrying `errors[]` once.
    pub async fn fail(&self, message_id: &str, code: u32) -> Result<CallbackOutcome, SimError> {
        first(
            self.fail_with(message_id, code, CallbackOptions::default())
                .await?,
        )
    }

    /// The message failed with `code`; the `failed` status is posted as `options` say.
    pub async fn fail_with(
        &self,
        message_id: &str,
        code: u32,
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        self.post_statuses(message_id, &[MessageStatus::Failed(code)], options)
            .await
    }

    /// Records and posts `statuses` for the message in the given order (out of order
    /// and repeated statuses allowed), each as `options` say: `times` copies (0 = record
    /// only), concurrently or not, tampered or not. Returns every outcome in posting
    /// order.
    pub async fn post_statuses(
        &self,
        message_id: &str,
        statuses: &[MessageStatus],
        options: CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        if self.message(message_id).is_none() {
            return Err(SimError::NotFound(message_id.to_owned()));
        }
        if options.times > 0 && self.state().webhook_url.is_empty() {
            return Err(SimError::NoCallbackUrl);
        }
        let mut outcomes = Vec::new();
        for &status in statuses {
            self.record(message_id, status)?;
            let captured = self.status_webhook(message_id, status, options.tamper)?;
            outcomes.extend(self.send(&captured, &options).await?);
        }
        Ok(outcomes)
    }

    /// The status webhook reporting `status` for the message (3.7), signed (3.6) and
    /// spoiled as `tamper` says, built, not posted, and not recorded.
    pub fn status_webhook(
        &self,
        message_id: &str,
        status: MessageStatus,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        let message = self
            .message(message_id)
            .ok_or_else(|| SimError::NotFound(message_id.to_owned()))?;
        let mut timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        if tamper == Tamper::StaleTimestamp {
            timestamp -= 600;
        }
        let payload = self.status_payload(&message, status, timestamp);
        // Meta's JSON escapes `/` (3.6); `/` only occurs inside strings here.
        let mut body = payload.to_string().replace('/', "\\/");
        let key = match tamper {
            Tamper::WrongKey => format!("{}-not-the-app-secret", self.inner.config.app_secret),
            Tamper::None | Tamper::FlipByte | Tamper::StaleTimestamp => {
                self.inner.config.app_secret.clone()
            }
        };
        let signature = signature(key.as_bytes(), body.as_bytes());
        if tamper == Tamper::FlipByte {
            body = flip_last_digit(&body);
        }
        let url = self.state().webhook_url.clone();
        Ok(CapturedCallback {
            url: Some(url).filter(|url| !url.is_empty()),
            method: "POST".to_owned(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("user-agent".to_owned(), USER_AGENT.to_owned()),
                (SIGNATURE_HEADER.to_owned(), signature),
            ],
            body: Bytes::from(body),
        })
    }

    /// The subscription check of 3.5, built, not sent: `GET <webhook
    /// URL>?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`.
    pub fn handshake_request(&self, verify_token: &str, challenge: &str) -> CapturedCallback {
        let url = self.state().webhook_url.clone();
        let url = (!url.is_empty()).then(|| {
            let query = serde_urlencoded::to_string([
                ("hub.mode", "subscribe"),
                ("hub.verify_token", verify_token),
                ("hub.challenge", challenge),
            ])
            .unwrap_or_default();
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}{query}")
        });
        CapturedCallback {
            url,
            method: "GET".to_owned(),
            headers: vec![("user-agent".to_owned(), USER_AGENT.to_owned())],
            body: Bytes::new(),
        }
    }

    /// Performs the subscription check of 3.5 against the webhook URL and returns the
    /// answer (a receiver that accepts answers `200` with the bare challenge).
    pub async fn handshake(
        &self,
        verify_token: &str,
        challenge: &str,
    ) -> Result<CallbackOutcome, SimError> {
        let request = self.handshake_request(verify_token, challenge);
        callback::send_captured(&self.inner.client, &request).await
    }

    fn status_payload(&self, message: &Message, status: MessageStatus, timestamp: i64) -> Value {
        let config = &self.inner.config;
        let category = config
            .templates
            .iter()
            .find(|t| t.name == message.template && t.language == message.language)
            .map_or("utility", Template::category);
        let mut entry = json!({
            "id": message.id,
            "status": status.as_str(),
            "timestamp": timestamp.to_string(),
            "recipient_id": message.to,
        });
        if let Some(data) = &message.biz_opaque_callback_data {
            entry["biz_opaque_callback_data"] = json!(data);
        }
        match status {
            MessageStatus::Sent => {
                entry["conversation"] = json!({
                    "id": hex::encode(rand::random::<[u8; 16]>()),
                    "expiration_timestamp": (timestamp + 86_400).to_string(),
                    "origin": {"type": category},
                });
                entry["pricing"] = pricing(category);
            }
            MessageStatus::Delivered | MessageStatus::Read => {
                entry["pricing"] = pricing(category);
            }
            MessageStatus::Failed(code) => {
                let title = failure_title(code);
                entry["errors"] = json!([{
                    "code": code,
                    "title": title,
                    "message": title,
                    "error_data": {"details": failure_details(code)},
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
                }]);
            }
        }
        json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": config.waba_id,
                "changes": [{
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": config.display_phone_number,
                            "phone_number_id": config.phone_number_id,
                        },
                        "statuses": [entry],
                    },
                }],
            }],
        })
    }

    async fn send(
        &self,
        captured: &CapturedCallback,
        options: &CallbackOptions,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let client = &self.inner.client;
        if options.concurrent {
            let posts = (0..options.times).map(|_| callback::send_captured(client, captured));
            return futures::future::join_all(posts).await.into_iter().collect();
        }
        let mut outcomes = Vec::new();
        for _ in 0..options.times {
            outcomes.push(callback::send_captured(client, captured).await?);
        }
        Ok(outcomes)
    }

    fn record(&self, message_id: &str, status: MessageStatus) -> Result<(), SimError> {
        let mut state = self.state();
        let message = state
            .messages
            .iter_mut()
            .find(|m| m.id == message_id)
            .ok_or_else(|| SimError::NotFound(message_id.to_owned()))?;
        message.state = message.state.advance(status);
        Ok(())
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, op: &str) {
        *self.state().calls.entry(op.to_owned()).or_default() += 1;
    }

    /// Path and token checks, the scripted limits, then the body.
    fn handle(
        &self,
        version: &str,
        phone_number_id: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Response {
        let fbtrace_id = fbtrace_id();
        match self.answer(version, phone_number_id, headers, body) {
            Ok(answer) => (StatusCode::OK, axum::Json(answer)).into_response(),
            Err(error) => {
                tracing::debug!(code = error.code, status = %error.status, "whatsapp simulator refused request");
                error.into_response(&fbtrace_id)
            }
        }
    }

    fn answer(
        &self,
        version: &str,
        phone_number_id: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value, GraphError> {
        let config = &self.inner.config;
        if !bearer_matches(headers, &config.access_token) {
            return Err(GraphError::bad_token());
        }
        if !is_version(version) {
            return Err(GraphError::invalid_parameter(&format!(
                "Unknown Graph API version {version}."
            )));
        }
        if phone_number_id != config.phone_number_id {
            return Err(GraphError::invalid_parameter(
                "Unsupported post request: the phone number id does not exist or cannot be used with this token.",
            ));
        }
        let json: Value = serde_json::from_slice(body)
            .map_err(|_| GraphError::invalid_parameter("The request body is not valid JSON."))?;
        if !send::is_read_receipt(&json) {
            let mut state = self.state();
            if state.throttled > 0 {
                state.throttled -= 1;
                return Err(GraphError::throughput());
            }
            if state.pair_limited > 0 {
                state.pair_limited -= 1;
                return Err(GraphError::pair_limit());
            }
        }
        match send::check(&config.templates, &json)? {
            Request::MarkRead => Ok(json!({"success": true})),
            Request::Template(accepted) => {
                let mut state = self.state();
                state.sequence += 1;
                let id = wamid(state.sequence);
                let answer = json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": accepted.input, "wa_id": accepted.wa_id}],
                    "messages": [{"id": id, "message_status": "accepted"}],
                });
                state.messages.push(Message {
                    id,
                    to: accepted.wa_id,
                    template: accepted.template,
                    language: accepted.language,
                    params: accepted.params,
                    button_code: accepted.button_code,
                    authentication: accepted.authentication,
                    biz_opaque_callback_data: accepted.biz_opaque_callback_data,
                    state: MessageStatus::Sent,
                    sent_at: time::OffsetDateTime::now_utc().unix_timestamp(),
                });
                Ok(answer)
            }
        }
    }
}

async fn messages(
    State(sim): State<WhatsAppSimulator>,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let op = match serde_json::from_slice::<Value>(&body) {
        Ok(json) if send::is_read_receipt(&json) => "mark_read",
        _ => "send",
    };
    let fault = sim.inner.faults.take(op);
    faults::apply(fault, MALFORMED, || async move {
        sim.count(op);
        let mut response = sim.handle(&version, &phone_number_id, &headers, &body);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        response
    })
    .await
}

/// `Authorization: Bearer <token>` with exactly the configured token (constant time).
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, presented)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && !presented.is_empty()
        && bool::from(presented.as_bytes().ct_eq(token.as_bytes()))
}

/// `vNN.N`: `v`, digits, `.`, digits (3.1).
fn is_version(segment: &str) -> bool {
    let Some(number) = segment.strip_prefix('v') else {
        return false;
    };
    let Some((major, minor)) = number.split_once('.') else {
        return false;
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

/// `sha256=<lowercase hex of HMAC-SHA256(key, body)>` (3.6).
pub fn signature(key: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let digest = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(body);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    };
    format!("sha256={}", hex::encode(digest))
}

/// The body with its last ASCII digit changed (still valid JSON).
fn flip_last_digit(body: &str) -> String {
    let mut bytes = body.as_bytes().to_vec();
    if let Some(digit) = bytes.iter_mut().rev().find(|b| b.is_ascii_digit()) {
        *digit = if *digit == b'9' { b'0' } else { *digit + 1 };
    }
    String::from_utf8(bytes).unwrap_or_else(|_| body.to_owned())
}

/// A unique `wamid.` id: base64 of a marker, the sequence number and random bytes.
fn wamid(sequence: u64) -> String {
    let mut raw = vec![0x1c, 0x18];
    raw.extend_from_slice(&sequence.to_be_bytes());
    raw.extend_from_slice(&rand::random::<[u8; 16]>());
    format!("wamid.{}", STANDARD_NO_PAD.encode(raw))
}

/// A Graph `fbtrace_id`: `A` and 22 random base64 characters.
fn fbtrace_id() -> String {
    let raw = STANDARD_NO_PAD.encode(rand::random::<[u8; 16]>());
    format!("A{}", raw.replace(['+', '/'], "x"))
}

fn pricing(category: &str) -> Value {
    json!({"billable": true, "pricing_model": "PMP", "category": category})
}

fn failure_title(code: u32) -> &'static str {
    match code {
        131_026 => "Message undeliverable",
        131_047 => "Re-engagement message",
        131_048 => "Spam rate limit hit",
        131_051 => "Unsupported message type",
        131_042 => "Business eligibility payment issue",
        131_000 => "Something went wrong",
        _ => "Message failed to send",
    }
}

fn failure_details(code: u32) -> &'static str {
    match code {
        131_026 => {
            "Unable to deliver message: the number is not on WhatsApp, has not accepted the terms, or uses an outdated client."
        }
        131_047 => {
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
        }
        _ => "The message could not be delivered.",
    }
}

fn first(outcomes: Vec<CallbackOutcome>) -> Result<CallbackOutcome, SimError> {
    outcomes
        .into_iter()
        .next()
        .ok_or_else(|| SimError::Delivery("no webhook was posted".to_owned()))
}

#[cfg(test)]
mod tests;
