//! Simulator of PrivyID's v3 merchant API: signer registration with identity verification,
//! re-registration, document upload and document status, and the callbacks PrivyID posts
//! (provider notes, section 2, and the shared decisions that fill its gaps).
//!
//! Every route requires `Authorization: Basic base64(username:password)` and
//! `Merchant-Key` (2.2); either missing or wrong is `401`
//! `{"code":401,"errors":[{"field":"authorization","messages":["Invalid credentials"]}],"message":"Unauthorized"}`.
//! Bodies are `multipart/form-data` (2.1); `application/x-www-form-urlencoded` is read too,
//! because `privy-python-sdk` sends the calls without a file that way. Routes:
//! - `POST /v3/merchant/registration` (2.3): `email`, `phone` (`08…`, `+628…` or `628…`),
//!   `identity` (JSON `{"nik","nama","tanggalLahir"}`), files `selfie` and `ktp` (JPEG or
//!   PNG by their first bytes, at most 2 MiB). Every bad field is one `errors[]` entry of
//!   a `422` (`identity.nik`, `identity.nama`, … for the JSON's keys); an e-mail or NIK of
//!   a registration that is not `rejected` `has already been taken`. `201` answers a
//!   64-hex `userToken`, status `waiting`.
//! - `POST /v3/merchant/registration/status` (2.4), part `token`: `404` for an unknown
//!   token, else the registration with `privyId` once verified and `reject` once invalid
//!   or rejected.
//! - `POST /v3/user/merchant/reregister/{ktp,selfie,file-support}` (2.5) with header
//!   `Token: <userToken>`: accepted while the user is `invalid` and, after a first accepted
//!   one, while `waiting` for the next verdict (so every handler asked for can be sent, one
//!   request each); otherwise `422` `token` `User is not in invalid state`. The first
//!   accepted one moves the user to `waiting` and clears the verdict.
//! - `POST /v3/merchant/document/upload` (2.6): `documentTitle`, `docType`
//!   (`Serial`/`Parallel`), `owner` (must be the configured merchant), `recipients`
//!   (verified users of this merchant; placement `signPage`/`posX`/`posY`, all three or
//!   none), file `document` (`%PDF-`, at most 10 MiB), optional `templateId`.
//! - `GET /v3/merchant/document/status/{docToken}` (2.7), and the `privy-python-sdk` form
//!   of it: `POST /v3/merchant/document/status/docToken` with part `token`.
//! - Unauthenticated pages behind the links PrivyID hands out: `GET /doc/{docToken}`
//!   (`urlDocument`), `GET /sign/{docToken}/{privyId}` (`magicLink`) and
//!   `GET /doc/{docToken}/download` (`download.url`, the PDF once completed). Their root is
//!   the scheme and `Host` the upload was sent to.
//!
//! It can **act**: [`PrivyIdSimulator::verify`], [`PrivyIdSimulator::invalidate`],
//! [`PrivyIdSimulator::reject`] decide a `waiting` registration;
//! [`PrivyIdSimulator::sign`], [`PrivyIdSimulator::reject_document`] and
//! [`PrivyIdSimulator::expire_document`] move a document. Each changes state first, then
//! posts the callback of the new state (2.9) to the URL set with
//! [`PrivyIdSimulator::set_callback_url`] as the [`CallbackPolicy`] says; without a URL it
//! only changes state (callbacks are optional: polling finds the change). Callbacks carry
//! no signature; the URL's last path segment is the merchant's only proof. With
//! [`Schedule::After`], verdicts and signatures come by themselves (see [`Schedule`]).
//!
//! Choices where the notes are silent:
//! - A resubmission that takes a user out of `invalid` is announced with a `register`
//!   callback, status `waiting`, message `User Waiting`; `registered` is announced as
//!   `Data Verified`.
//! - A `Signer` may come without placement (`privy-python-sdk` sends none); a document needs
//!   at least one `Signer`, and no recipient twice. Reviewers act in any order; in a
//!   `Serial` document a signer acts only after every earlier signer signed.
//! - The last signature's callback is the one that reports `Completed` (one callback per
//!   act).
//! - Faults answer in the shared formats: text bodies for statuses and outages (a proxy's),
//!   and a JSON body cut short for [`crate::faults::Fault::Malformed`].
//! - Fault and counter operations: `registration`, `registration_status`, `reregister`,
//!   `document_upload`, `document_status`.

mod form;
mod state;
mod validate;
mod wire;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::callback::{self, CallbackOutcome, CapturedCallback, SimError};
use crate::conformance::esign::{EsignOp, EsignSimulator};
use crate::faults::{self, Faults};
use crate::server::{self, Running};
use form::Form;
use state::Book;
use wire::{PrivyError, Problems};

pub use state::{
    DocType, DocumentState, Handler, Placement, RecipientType, Reject, SignatoryStatus,
    SimDocument, SimRecipient, SimUser, UserStatus,
};
pub use validate::{MAX_IMAGE_BYTES, MAX_PDF_BYTES};

/// Registration (2.3).
pub const REGISTRATION_PATH: &str = "/v3/merchant/registration";
/// Registration status (2.4).
pub const REGISTRATION_STATUS_PATH: &str = "/v3/merchant/registration/status";
/// Re-registration of the KTP photo (2.5).
pub const REREGISTER_KTP_PATH: &str = "/v3/user/merchant/reregister/ktp";
/// Re-registration of the selfie (2.5).
pub const REREGISTER_SELFIE_PATH: &str = "/v3/user/merchant/reregister/selfie";
/// Re-registration of a supporting document (2.5).
pub const REREGISTER_FILE_SUPPORT_PATH: &str = "/v3/user/merchant/reregister/file-support";
/// Document upload (2.6).
pub const DOCUMENT_UPLOAD_PATH: &str = "/v3/merchant/document/upload";
/// Document status (2.7); `POST` with part `token` on the literal `docToken` too.
pub const DOCUMENT_STATUS_PATH: &str = "/v3/merchant/document/status/{doc_token}";

/// `reject.code` of an `invalid` verdict.
pub const INVALID_CODE: &str = "PRVS003";
/// `reject.code` of a `rejected` verdict.
pub const REJECTED_CODE: &str = "PRVS006";
/// `reject.reason` of a scheduled `rejected` verdict.
pub const FAMILY_CARD_REASON: &str = "NIK is not in the family card";
/// `reject.reason` of every `invalid` verdict.
pub const INVALID_REASON: &str = "The submitted data could not be verified";

/// What a [`crate::faults::Fault::Malformed`] answers: cut off mid-string.
const MALFORMED: &str = r#"{"code":201,"data":{"userToken":"5f1c"#;

/// The `User-Agent` of callbacks.
const USER_AGENT: &str = "PrivyID-Callback/1.0";

/// The transport limit of a request body: above every file limit, so an oversized file is
/// reported on its field.
const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// How each state change is announced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackPolicy {
    /// One callback per change.
    #[default]
    Once,
    /// None: the merchant must poll.
    Never,
    /// The same callback twice in a row (duplicates must de-duplicate).
    Twice,
}

impl CallbackPolicy {
    fn times(self) -> usize {
        match self {
            Self::Once => 1,
            Self::Never => 0,
            Self::Twice => 2,
        }
    }
}

/// Whether verdicts and signatures wait for a test or come by themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Schedule {
    /// Only the act methods change anything.
    #[default]
    Manual,
    /// Each new registration, and each accepted re-registration, is decided this long
    /// after the request, by the e-mail's local part: `+invalid` → `invalid` asking for a
    /// new KTP photo and selfie (`PRVS003`), but verified once it was resubmitted;
    /// `+rejected` → `rejected` (`PRVS006`, [`FAMILY_CARD_REASON`]); anything else →
    /// `verified`. Each uploaded document is signed by every recipient in order this long
    /// after the upload, or refused by its first signer when its title contains
    /// `[reject]`. Runs on tokio tasks the simulator spawns; a test that acted first wins.
    After(Duration),
}

/// The simulated merchant account.
#[derive(Clone)]
pub struct PrivyIdConfig {
    /// Basic auth user name.
    pub username: String,
    /// Basic auth password.
    pub password: String,
    /// The `Merchant-Key` header.
    pub merchant_key: String,
    /// The merchant's `privyId`: what `owner.privyId` must say.
    pub merchant_privy_id: String,
    /// What `owner.enterpriseToken` must say.
    pub enterprise_token: String,
    /// Scripted verdicts and signatures.
    pub schedule: Schedule,
    /// How state changes are announced at first ([`PrivyIdSimulator::set_callback_policy`]
    /// changes it).
    pub callbacks: CallbackPolicy,
}

impl PrivyIdConfig {
    /// A merchant with these credentials, [`Schedule::Manual`] and
    /// [`CallbackPolicy::Once`].
    pub fn new(
        username: &str,
        password: &str,
        merchant_key: &str,
        merchant_privy_id: &str,
        enterprise_token: &str,
    ) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
            merchant_key: merchant_key.to_owned(),
            merchant_privy_id: merchant_privy_id.to_owned(),
            enterprise_token: enterprise_token.to_owned(),
            schedule: Schedule::Manual,
            callbacks: CallbackPolicy::Once,
        }
    }
}

impl std::fmt::Debug for PrivyIdConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivyIdConfig")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("merchant_key", &"<redacted>")
            .field("merchant_privy_id", &self.merchant_privy_id)
            .field("enterprise_token", &"<redacted>")
            .field("schedule", &self.schedule)
            .field("callbacks", &self.callbacks)
            .finish()
    }
}

/// A simulated PrivyID merchant account. Clones share state.
#[derive(Clone)]
pub struct PrivyIdSimulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: PrivyIdConfig,
    state: Mutex<SimState>,
    faults: Faults,
    client: reqwest::Client,
}

struct SimState {
    book: Book,
    callback_url: String,
    policy: CallbackPolicy,
    calls: HashMap<String, usize>,
}

impl SimState {
    /// The `register` callback for the registration's current state.
    fn register_callback(&self, user_token: &str) -> Result<CapturedCallback, SimError> {
        let user = self
            .book
            .user(user_token)
            .ok_or_else(|| SimError::NotFound(format!("registration {user_token}")))?;
        Ok(captured(&self.callback_url, &wire::register_callback(user)))
    }

    /// The document callback for the document's current state.
    fn document_callback(&self, doc_token: &str) -> Result<CapturedCallback, SimError> {
        let document = self
            .book
            .document(doc_token)
            .ok_or_else(|| SimError::NotFound(format!("document {doc_token}")))?;
        Ok(captured(
            &self.callback_url,
            &wire::document_callback(document),
        ))
    }
}

impl std::fmt::Debug for PrivyIdSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivyIdSimulator")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// What a handler gets once the request passed authentication and its body was read.
struct Call {
    headers: HeaderMap,
    form: Form,
    /// `http://<Host>`: the root of the links the answer hands out.
    base_url: String,
}

/// Which re-registration endpoint was called (2.5).
#[derive(Clone, Copy, Debug)]
enum Reregister {
    Ktp,
    Selfie,
    FileSupport,
}

/// A scheduled or manual verdict on a waiting registration.
#[derive(Clone, Debug)]
enum Verdict {
    Verify(UserStatus),
    Refuse(UserStatus, Reject),
}

impl PrivyIdSimulator {
    /// A simulator holding nothing, with no callback URL yet.
    pub fn new(config: PrivyIdConfig) -> Self {
        let policy = config.callbacks;
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(SimState {
                    book: Book::default(),
                    callback_url: String::new(),
                    policy,
                    calls: HashMap::new(),
                }),
                faults: Faults::default(),
                client: callback::http_client(),
            }),
        }
    }

    /// The v3 routes and the link pages.
    pub fn router(&self) -> Router {
        Router::new()
            .route(REGISTRATION_PATH, post(registration))
            .route(REGISTRATION_STATUS_PATH, post(registration_status))
            .route(REREGISTER_KTP_PATH, post(reregister_ktp))
            .route(REREGISTER_SELFIE_PATH, post(reregister_selfie))
            .route(REREGISTER_FILE_SUPPORT_PATH, post(reregister_file_support))
            .route(DOCUMENT_UPLOAD_PATH, post(document_upload))
            .route(
                DOCUMENT_STATUS_PATH,
                get(document_status_get).post(document_status_post),
            )
            .route("/doc/{doc_token}", get(document_page))
            .route("/doc/{doc_token}/download", get(download))
            .route("/sign/{doc_token}/{privy_id}", get(sign_page))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(self.clone())
    }

    /// Serves [`Self::router`] on `addr`.
    pub async fn spawn(&self, addr: SocketAddr) -> io::Result<Running> {
        server::spawn(self.router(), addr).await
    }

    /// The configuration.
    pub fn config(&self) -> &PrivyIdConfig {
        &self.inner.config
    }

    /// The fault rules requests consult (operations `registration`,
    /// `registration_status`, `reregister`, `document_upload`, `document_status`).
    pub fn faults(&self) -> Faults {
        self.inner.faults.clone()
    }

    /// How many requests of `op` reached the provider's logic, refused ones included;
    /// those answered by a fault other than latency or hang-after-effect do not count.
    pub fn calls(&self, op: &str) -> usize {
        let state = self.state();
        state
            .calls
            .get(&op.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// Where callbacks go: the merchant's registered URL
    /// (`<gateway>/v1/callbacks/<instance>/<callback_token>`).
    pub fn set_callback_url(&self, url: &str) {
        url.clone_into(&mut self.state().callback_url);
    }

    /// How state changes are announced from now on.
    pub fn set_callback_policy(&self, policy: CallbackPolicy) {
        self.state().policy = policy;
    }

    /// Every registration, oldest first.
    pub fn users(&self) -> Vec<SimUser> {
        self.state().book.users.clone()
    }

    /// The registration with `user_token`.
    pub fn user(&self, user_token: &str) -> Option<SimUser> {
        self.state().book.user(user_token).cloned()
    }

    /// Every document, oldest first.
    pub fn documents(&self) -> Vec<SimDocument> {
        self.state().book.documents.clone()
    }

    /// The document with `doc_token`.
    pub fn document(&self, doc_token: &str) -> Option<SimDocument> {
        self.state().book.document(doc_token).cloned()
    }

    /// `waiting` → `verified` with a new `privyId`; posts the `register` callback.
    pub async fn verify(&self, user_token: &str) -> Result<Vec<CallbackOutcome>, SimError> {
        self.decide_and_announce(user_token, Verdict::Verify(UserStatus::Verified))
            .await
    }

    /// `waiting` → `registered` (already registered at Privy) with a new `privyId`; posts
    /// the `register` callback.
    pub async fn mark_registered(
        &self,
        user_token: &str,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        self.decide_and_announce(user_token, Verdict::Verify(UserStatus::Registered))
            .await
    }

    /// `waiting` → `invalid` (`PRVS003`) asking for `handlers`; posts the `register`
    /// callback.
    pub async fn invalidate(
        &self,
        user_token: &str,
        handlers: &[Handler],
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        self.decide_and_announce(user_token, invalid_verdict(handlers))
            .await
    }

    /// `waiting` → `rejected` (`PRVS006`) for `reason`; posts the `register` callback.
    pub async fn reject(
        &self,
        user_token: &str,
        reason: &str,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        self.decide_and_announce(user_token, rejected_verdict(reason))
            .await
    }

    /// `privy_id` signs (a reviewer: approves) the document; in a `Serial` document only
    /// after every earlier signer. Posts `document-signed` (reporting `Completed` once
    /// every signer signed).
    pub async fn sign(
        &self,
        doc_token: &str,
        privy_id: &str,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let callback = self.change_document(doc_token, |book| book.sign(doc_token, privy_id))?;
        self.announce(callback).await
    }

    /// `privy_id` refuses the document, which is `Rejected`; posts `document-rejected`.
    pub async fn reject_document(
        &self,
        doc_token: &str,
        privy_id: &str,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let callback =
            self.change_document(doc_token, |book| book.refuse_document(doc_token, privy_id))?;
        self.announce(callback).await
    }

    /// An `In Progress` document expires; posts `document-expired`.
    pub async fn expire_document(&self, doc_token: &str) -> Result<Vec<CallbackOutcome>, SimError> {
        let callback = self.change_document(doc_token, |book| book.expire(doc_token))?;
        self.announce(callback).await
    }

    /// The `register` callback for the registration's current state, built, not posted.
    pub fn registration_callback(&self, user_token: &str) -> Result<CapturedCallback, SimError> {
        self.state().register_callback(user_token)
    }

    /// The document callback for the document's current state, built, not posted.
    pub fn document_callback(&self, doc_token: &str) -> Result<CapturedCallback, SimError> {
        self.state().document_callback(doc_token)
    }

    async fn decide_and_announce(
        &self,
        user_token: &str,
        verdict: Verdict,
    ) -> Result<Vec<CallbackOutcome>, SimError> {
        let callback = self.decide(user_token, verdict, None)?;
        self.announce(callback).await
    }

    /// Applies `verdict` to a waiting registration (only if no resubmission came after
    /// `expected_resubmissions`, when given) and builds the callback of the new state.
    fn decide(
        &self,
        user_token: &str,
        verdict: Verdict,
        expected_resubmissions: Option<u32>,
    ) -> Result<CapturedCallback, SimError> {
        let now = OffsetDateTime::now_utc();
        let mut state = self.state();
        match verdict {
            Verdict::Verify(status) => {
                state
                    .book
                    .verify(user_token, status, expected_resubmissions, now)?;
            }
            Verdict::Refuse(status, reject) => {
                state
                    .book
                    .refuse_user(user_token, status, reject, expected_resubmissions, now)?;
            }
        }
        state.register_callback(user_token)
    }

    fn change_document(
        &self,
        doc_token: &str,
        change: impl FnOnce(&mut Book) -> Result<(), SimError>,
    ) -> Result<CapturedCallback, SimError> {
        let mut state = self.state();
        change(&mut state.book)?;
        state.document_callback(doc_token)
    }

    /// Posts `callback` as the policy says; nothing without a callback URL.
    async fn announce(&self, callback: CapturedCallback) -> Result<Vec<CallbackOutcome>, SimError> {
        if callback.url.is_none() {
            return Ok(Vec::new());
        }
        let times = self.state().policy.times();
        let mut outcomes = Vec::with_capacity(times);
        for _ in 0..times {
            outcomes.push(callback::send_captured(&self.inner.client, &callback).await?);
        }
        Ok(outcomes)
    }

    /// Posts `callback` from a task of its own (a request's answer does not wait for it).
    fn announce_later(&self, callback: CapturedCallback) {
        let sim = self.clone();
        tokio::spawn(async move {
            if let Err(err) = sim.announce(callback).await {
                tracing::debug!(error = %err, "privyid simulator callback not delivered");
            }
        });
    }

    /// Decides the registration by the magic rules of [`Schedule::After`], `delay` from
    /// now, unless it was decided or resubmitted in between.
    fn schedule_verdict(&self, user_token: String, resubmissions: u32) {
        let Schedule::After(delay) = self.inner.config.schedule else {
            return;
        };
        let sim = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let Some(user) = sim.user(&user_token) else {
                return;
            };
            let verdict = scheduled_verdict(&user);
            let decided = sim.decide(&user_token, verdict, Some(resubmissions));
            match decided {
                Ok(callback) => {
                    if let Err(err) = sim.announce(callback).await {
                        tracing::debug!(error = %err, "privyid simulator callback not delivered");
                    }
                }
                Err(err) => tracing::debug!(error = %err, "scheduled verdict not applied"),
            }
        });
    }

    /// Signs (or refuses) the document by the rules of [`Schedule::After`], `delay` from
    /// now.
    fn schedule_signing(&self, doc_token: String) {
        let Schedule::After(delay) = self.inner.config.schedule else {
            return;
        };
        let sim = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Err(err) = sim.scheduled_signing(&doc_token).await {
                tracing::debug!(error = %err, "scheduled signing stopped");
            }
        });
    }

    async fn scheduled_signing(&self, doc_token: &str) -> Result<(), SimError> {
        let document = self
            .document(doc_token)
            .ok_or_else(|| SimError::NotFound(format!("document {doc_token}")))?;
        if document.title.contains("[reject]") {
            let first_signer = document
                .recipients
                .iter()
                .find(|r| r.kind == RecipientType::Signer)
                .ok_or_else(|| SimError::NotFound(format!("a signer of {doc_token}")))?;
            self.reject_document(doc_token, &first_signer.privy_id)
                .await?;
            return Ok(());
        }
        for recipient in &document.recipients {
            let pending = self.document(doc_token).is_some_and(|d| {
                d.recipients.iter().any(|r| {
                    r.privy_id == recipient.privy_id && r.status == SignatoryStatus::InProgress
                })
            });
            if pending {
                self.sign(doc_token, &recipient.privy_id).await?;
            }
        }
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

    /// Basic credentials and `Merchant-Key`, both compared in constant time.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let config = &self.inner.config;
        let credentials = format!("{}:{}", config.username, config.password);
        let basic = header_text(headers, header::AUTHORIZATION.as_str())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .and_then(|(_, encoded)| STANDARD.decode(encoded.trim()).ok())
            .is_some_and(|decoded| bool::from(decoded.ct_eq(credentials.as_bytes())));
        let key = header_text(headers, "merchant-key")
            .is_some_and(|key| bool::from(key.as_bytes().ct_eq(config.merchant_key.as_bytes())));
        basic & key
    }

    /// The common path of every API request: fault, count, authentication, body, then
    /// `act`.
    async fn serve<F>(self, op: &'static str, request: Request, act: F) -> Response
    where
        F: FnOnce(&Self, Call) -> Result<Response, PrivyError> + Send + 'static,
    {
        let fault = self.inner.faults.take(op);
        faults::apply(fault, MALFORMED, || async move {
            self.count(op);
            let headers = request.headers().clone();
            if !self.authorized(&headers) {
                tracing::debug!(op, "privyid simulator refused credentials");
                return PrivyError::unauthorized().into_response();
            }
            let base_url = base_url(&headers);
            let answer = match form::read(request).await {
                Ok(form) => act(
                    &self,
                    Call {
                        headers,
                        form,
                        base_url,
                    },
                ),
                Err(error) => Err(error),
            };
            answer.unwrap_or_else(|error| {
                tracing::debug!(op, status = %error.status, "privyid simulator refused request");
                error.into_response()
            })
        })
        .await
    }

    fn register(&self, call: &Call) -> Result<Response, PrivyError> {
        let today = crate::wib::now().date();
        let user = {
            let mut state = self.state();
            let new = validate::registration(&call.form, today, &state.book)?;
            state.book.register(new, OffsetDateTime::now_utc())
        };
        self.schedule_verdict(user.user_token.clone(), 0);
        let data = json!({
            "email": user.email,
            "phone": user.phone,
            "userToken": user.user_token,
            "status": user.status.as_str(),
        });
        Ok(wire::success(
            StatusCode::CREATED,
            data,
            "Registration success",
        ))
    }

    fn registration_status(&self, call: &Call) -> Result<Response, PrivyError> {
        let token = call.form.text("token").map(str::trim).unwrap_or_default();
        let state = self.state();
        let user = state
            .book
            .user(token)
            .ok_or_else(PrivyError::user_not_found)?;
        Ok(wire::success(
            StatusCode::OK,
            wire::registration_status(user),
            "Success",
        ))
    }

    fn reregister(&self, call: &Call, endpoint: Reregister) -> Result<Response, PrivyError> {
        let token = header_text(&call.headers, "token")
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        let (left_invalid, resubmissions) = {
            let mut state = self.state();
            state.book.check_resubmission_open(&token)?;
            let sent = resubmitted(&call.form, endpoint)?;
            let left_invalid = state
                .book
                .resubmit(&token, sent, OffsetDateTime::now_utc())?;
            let resubmissions = state.book.user(&token).map_or(0, |u| u.resubmissions);
            (left_invalid, resubmissions)
        };
        if left_invalid {
            match self.registration_callback(&token) {
                Ok(callback) => self.announce_later(callback),
                Err(err) => tracing::debug!(error = %err, "no callback for the resubmission"),
            }
        }
        self.schedule_verdict(token.clone(), resubmissions);
        Ok(wire::success(
            StatusCode::CREATED,
            json!({"userToken": token, "status": UserStatus::Waiting.as_str()}),
            "Re-registration success",
        ))
    }

    fn upload(&self, call: Call) -> Result<Response, PrivyError> {
        let config = &self.inner.config;
        let owner = validate::Owner {
            privy_id: &config.merchant_privy_id,
            enterprise_token: &config.enterprise_token,
        };
        let document = {
            let mut state = self.state();
            let upload = validate::upload(&call.form, &owner, &state.book)?;
            let document = SimDocument {
                doc_token: hex::encode(rand::random::<[u8; 32]>()),
                title: upload.title,
                doc_type: upload.doc_type,
                status: DocumentState::InProgress,
                recipients: upload.recipients,
                template_id: upload.template_id,
                pdf: upload.pdf,
                uploaded_at: OffsetDateTime::now_utc(),
                base_url: call.base_url,
            };
            state.book.documents.push(document.clone());
            document
        };
        self.schedule_signing(document.doc_token.clone());
        Ok(wire::success(
            StatusCode::CREATED,
            wire::uploaded(&document),
            "Document successfully upload and shared",
        ))
    }

    fn document_status(&self, doc_token: &str) -> Result<Response, PrivyError> {
        let state = self.state();
        let document = state
            .book
            .document(doc_token)
            .ok_or_else(PrivyError::document_not_found)?;
        Ok(wire::success(
            StatusCode::OK,
            wire::document_status(document),
            "Success",
        ))
    }
}

/// What one re-registration request sends, checked like registration's files.
fn resubmitted(form: &Form, endpoint: Reregister) -> Result<Handler, PrivyError> {
    let mut problems = Problems::default();
    let sent = match endpoint {
        Reregister::Ktp => validate::image(form, "ktp", &mut problems).map(|_| Handler::Ktp),
        Reregister::Selfie => {
            validate::image(form, "selfie", &mut problems).map(|_| Handler::Selfie)
        }
        Reregister::FileSupport => {
            let category = validate::required_text(form, "fileSupport[][category]", &mut problems);
            let attachment = validate::image(form, "fileSupport[][attachment]", &mut problems);
            category
                .zip(attachment)
                .map(|(category, _)| Handler::FileSupport(vec![category]))
        }
    };
    match sent {
        Some(sent) if problems.is_empty() => Ok(sent),
        _ => Err(problems.into_error()),
    }
}

fn invalid_verdict(handlers: &[Handler]) -> Verdict {
    Verdict::Refuse(
        UserStatus::Invalid,
        Reject {
            code: INVALID_CODE.to_owned(),
            reason: INVALID_REASON.to_owned(),
            handlers: handlers.to_vec(),
        },
    )
}

fn rejected_verdict(reason: &str) -> Verdict {
    Verdict::Refuse(
        UserStatus::Rejected,
        Reject {
            code: REJECTED_CODE.to_owned(),
            reason: reason.to_owned(),
            handlers: Vec::new(),
        },
    )
}

/// The magic rules of [`Schedule::After`], read from the e-mail's local part.
fn scheduled_verdict(user: &SimUser) -> Verdict {
    let local = user.email.split('@').next().unwrap_or_default();
    if local.contains("+rejected") {
        rejected_verdict(FAMILY_CARD_REASON)
    } else if local.contains("+invalid") && user.resubmissions == 0 {
        invalid_verdict(&[Handler::Ktp, Handler::Selfie])
    } else {
        Verdict::Verify(UserStatus::Verified)
    }
}

/// A callback to the merchant's URL (absent when none is set): JSON, no signature.
fn captured(url: &str, body: &Value) -> CapturedCallback {
    CapturedCallback {
        url: Some(url.to_owned()).filter(|url| !url.is_empty()),
        method: "POST".to_owned(),
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("user-agent".to_owned(), USER_AGENT.to_owned()),
        ],
        body: Bytes::from(body.to_string()),
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// `http://<Host>`, the root of the links handed out (`http://localhost` without a Host).
fn base_url(headers: &HeaderMap) -> String {
    let host = header_text(headers, header::HOST.as_str())
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .unwrap_or("localhost");
    format!("http://{host}")
}

async fn registration(State(sim): State<PrivyIdSimulator>, request: Request) -> Response {
    sim.serve("registration", request, |sim, call| sim.register(&call))
        .await
}

async fn registration_status(State(sim): State<PrivyIdSimulator>, request: Request) -> Response {
    sim.serve("registration_status", request, |sim, call| {
        sim.registration_status(&call)
    })
    .await
}

async fn reregister_ktp(State(sim): State<PrivyIdSimulator>, request: Request) -> Response {
    sim.serve("reregister", request, |sim, call| {
        sim.reregister(&call, Reregister::Ktp)
    })
    .await
}

async fn reregister_selfie(State(sim): State<PrivyIdSimulator>, request: Request) -> Response {
    sim.serve("reregister", request, |sim, call| {
        sim.reregister(&call, Reregister::Selfie)
    })
    .await
}

async fn reregister_file_support(
    State(sim): State<PrivyIdSimulator>,
    request: Request,
) -> Response {
    sim.serve("reregister", request, |sim, call| {
        sim.reregister(&call, Reregister::FileSupport)
    })
    .await
}

async fn document_upload(State(sim): State<PrivyIdSimulator>, request: Request) -> Response {
    sim.serve("document_upload", request, |sim, call| sim.upload(call))
        .await
}

async fn document_status_get(
    State(sim): State<PrivyIdSimulator>,
    Path(doc_token): Path<String>,
    request: Request,
) -> Response {
    sim.serve("document_status", request, move |sim, _| {
        sim.document_status(&doc_token)
    })
    .await
}

/// `privy-python-sdk` posts to the literal `docToken` (some clients `:docToken`) with the
/// token in part `token`; a real token in the path is taken when the part is absent.
async fn document_status_post(
    State(sim): State<PrivyIdSimulator>,
    Path(segment): Path<String>,
    request: Request,
) -> Response {
    sim.serve("document_status", request, move |sim, call| {
        let from_form = call.form.text("token").map(str::trim).unwrap_or_default();
        let placeholder = matches!(segment.as_str(), "docToken" | ":docToken");
        let doc_token = if from_form.is_empty() && !placeholder {
            segment.as_str()
        } else {
            from_form
        };
        sim.document_status(doc_token)
    })
    .await
}

/// `urlDocument`: what the document is and where it stands.
async fn document_page(
    State(sim): State<PrivyIdSimulator>,
    Path(doc_token): Path<String>,
) -> Response {
    let Some(document) = sim.document(&doc_token) else {
        return PrivyError::document_not_found().into_response();
    };
    let mut page = format!(
        "PrivyID simulator\ndocument {}\nstatus: {}\n",
        document.doc_token,
        document.status.as_str()
    );
    for recipient in &document.recipients {
        page.push_str(&format!(
            "{} {}: {}\n",
            recipient.kind.as_str(),
            recipient.privy_id,
            recipient.status.as_str()
        ));
    }
    page.into_response()
}

/// A recipient's `magicLink`.
async fn sign_page(
    State(sim): State<PrivyIdSimulator>,
    Path((doc_token, privy_id)): Path<(String, String)>,
) -> Response {
    let recipient = sim
        .document(&doc_token)
        .and_then(|d| d.recipients.into_iter().find(|r| r.privy_id == privy_id));
    match recipient {
        Some(recipient) => format!(
            "PrivyID simulator\ndocument {doc_token}\n{} {}: {}\n",
            recipient.kind.as_str(),
            recipient.privy_id,
            recipient.status.as_str()
        )
        .into_response(),
        None => PrivyError::document_not_found().into_response(),
    }
}

/// `download.url`: the PDF, once completed.
async fn download(State(sim): State<PrivyIdSimulator>, Path(doc_token): Path<String>) -> Response {
    match sim.document(&doc_token) {
        Some(document) if document.status == DocumentState::Completed => {
            ([(header::CONTENT_TYPE, "application/pdf")], document.pdf).into_response()
        }
        _ => PrivyError::document_not_found().into_response(),
    }
}

impl EsignSimulator for PrivyIdSimulator {
    fn op_name(&self, op: EsignOp) -> &'static str {
        match op {
            EsignOp::Register => "registration",
            EsignOp::SignerStatus => "registration_status",
            EsignOp::Resubmit => "reregister",
            EsignOp::Upload => "document_upload",
            EsignOp::DocumentStatus => "document_status",
        }
    }

    fn faults(&self) -> Faults {
        PrivyIdSimulator::faults(self)
    }

    fn calls(&self, op_name: &str) -> usize {
        PrivyIdSimulator::calls(self, op_name)
    }

    fn verify_signer(&self, provider_reference: &str) -> Result<(), SimError> {
        let verdict = Verdict::Verify(UserStatus::Verified);
        self.decide(provider_reference, verdict, None).map(drop)
    }

    fn invalidate_signer(&self, provider_reference: &str) -> Result<(), SimError> {
        let verdict = invalid_verdict(&[Handler::Ktp, Handler::Selfie]);
        self.decide(provider_reference, verdict, None).map(drop)
    }

    fn reject_signer(&self, provider_reference: &str, reason: &str) -> Result<(), SimError> {
        self.decide(provider_reference, rejected_verdict(reason), None)
            .map(drop)
    }

    fn registrations_for(&self, email: &str) -> usize {
        let state = self.state();
        state
            .book
            .users
            .iter()
            .filter(|u| u.email.eq_ignore_ascii_case(email))
            .count()
    }

    fn sign_document(&self, document: &str, signer_id: &str) -> Result<(), SimError> {
        self.change_document(document, |book| book.sign(document, signer_id))
            .map(drop)
    }

    fn refuse_document(&self, document: &str, signer_id: &str) -> Result<(), SimError> {
        self.change_document(document, |book| book.refuse_document(document, signer_id))
            .map(drop)
    }

    fn registration_callback(
        &self,
        provider_reference: &str,
    ) -> Result<CapturedCallback, SimError> {
        PrivyIdSimulator::registration_callback(self, provider_reference)
    }

    fn document_callback(&self, document: &str) -> Result<CapturedCallback, SimError> {
        PrivyIdSimulator::document_callback(self, document)
    }

    fn forged_callbacks(
        &self,
        provider_reference: &str,
    ) -> Result<Vec<CapturedCallback>, SimError> {
        let genuine = PrivyIdSimulator::registration_callback(self, provider_reference)?;
        let url = genuine.url.clone().ok_or(SimError::NoCallbackUrl)?;
        let (root, token) = url.rsplit_once('/').unwrap_or((url.as_str(), ""));
        // The genuine token with its last character changed: as long, one character off.
        let mut forged_token: Vec<char> = token.chars().collect();
        match forged_token.last_mut() {
            Some(last) => *last = if *last == 'x' { 'y' } else { 'x' },
            None => forged_token.push('x'),
        }
        let forged_token: String = forged_token.into_iter().collect();
        let with_url = |url: String| CapturedCallback {
            url: Some(url),
            ..genuine.clone()
        };
        Ok(vec![
            with_url(format!("{root}/{forged_token}")),
            with_url(format!(
                "{root}/{}",
                hex::encode(rand::random::<[u8; 16]>())
            )),
            with_url(format!("{root}/")),
        ])
    }
}

#[cfg(test)]
mod tests;
