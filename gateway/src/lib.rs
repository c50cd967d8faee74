//! The integration gateway: one unified API over Indonesian payment and identity providers.
//!
//! Products call the unified API (signed requests, idempotent POSTs, problem+json errors);
//! providers post callbacks, which are verified, stored once and forwarded to the owning
//! product as Standard Webhooks events through a transactional outbox.
//!
//! # Layout
//! - [`config`]: settings (figment layers) and the closed provider enum.
//! - [`registry`]: provider instance → capabilities, with decorators.
//! - [`app`]: assembly of state, router and workers.
//! - [`http`]: router, auth, idempotency, handlers, problem documents.
//! - [`service`]: domain rules for VAs, callbacks and batch jobs.
//! - [`store`]: persistence (SQLite group commit / PostgreSQL).
//! - [`outbox`]: Standard Webhooks signing and the dispatcher.
//! - [`scheduler`]: expiry, inquiries for unknown outcomes, clean-up.
//! - [`auth`]: the client request signature (shared with the CLI and load generator).
//! - [`metrics`]: Prometheus metrics.
//! - [`console`]: the operations console (operators, two-factor login, audit log).
//! - [`vault`]: personal data sealed at rest (AES-256-GCM) and keyed fingerprints.
//! - `sandbox`: every simulator in-process, for trying the API by hand.

pub mod app;
pub mod auth;
pub mod config;
pub mod console;
pub mod http;
pub mod metrics;
pub mod outbox;
pub mod registry;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod scheduler;
pub mod service;
pub mod store;
pub mod vault;

pub use app::{App, AppState};
pub use config::Settings;
