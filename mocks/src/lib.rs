//! Simulators of the payment providers the gateway speaks to, and a stand-in for the
//! products it delivers events to.
//!
//! Each simulator is an independent reading of its provider's protocol (it shares no code
//! with the adapters, so a misunderstanding shared by both sides cannot pass; the
//! providers' published test vectors pin both). It checks every request the way the real
//! provider does and answers with the provider's own error codes, keeps what was created,
//! can **act** (pay a VA and post the provider's real callback), and misbehaves on demand
//! through [`faults`]. The same simulators serve the adapters' tests, the gateway's
//! end-to-end tests and `gateway sandbox`, which runs them until stopped.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mocks::bni::{BniConfig, BniSimulator};
//!
//! let bni = BniSimulator::new(BniConfig::new("123", "0123456789abcdef0123456789abcdef"));
//! let running = bni.spawn(mocks::server::any_local_port()).await?;
//! // point the adapter at running.base_url; create a billing through it; then:
//! bni.set_callback_url("http://127.0.0.1:8080/v1/callbacks/bni_main");
//! let answer = bni.pay("INV-0001", 150_000).await?;
//! assert_eq!(answer.status, 200);
//! # Ok(()) }
//! ```
//!
//! **Layout**
//! - [`server`]: serve any simulator's `axum::Router` on a port ([`server::spawn`],
//!   [`server::Running`], stopped on drop unless detached).
//! - [`faults`]: latency, error statuses, hangs before or after the effect, malformed
//!   bodies, outages; shared by every simulator.
//! - [`callback`]: options and outcomes of the callbacks simulators post (duplicates,
//!   concurrency, tampering), callbacks captured without posting
//!   ([`callback::CapturedCallback`]), and [`callback::SimError`].
//! - [`bni`]: BNI eCollection (encrypted JSON on `POST /`), with the BniEnc codec in
//!   [`bni::crypto`].
//! - [`nicepay`]: NICEPAY V2 direct virtual accounts (`/nicepay/direct/v2/...`,
//!   `merchantToken`).
//! - [`snap`]: SNAP BI for simulators, an independent reading of the standard: the
//!   provider's half ([`snap::SnapProvider`]: B2B tokens, service-call checks) and its
//!   client half ([`snap::SnapNotifier`]: token from the merchant, then signed
//!   notifications).
//! - [`bni_snap`]: BNI SNAP virtual accounts, bank-held (create/update/delete/inquiry/status,
//!   payment notifications) and host-to-host (the bank asks the gateway, then pays).
//! - [`doku`]: DOKU SNAP virtual accounts and DOKU Checkout (`HMACSHA256=` signatures).
//! - [`astrapay`]: AstraPay SNAP direct debit and QRIS MPM, with refunds and notify.
//! - [`whatsapp`]: the WhatsApp Cloud API (`/{version}/{phone_number_id}/messages`,
//!   templates registered in its config, signed status webhooks, the handshake).
//! - [`privyid`]: PrivyID's v3 merchant API (signer registration with identity verdicts,
//!   re-registration, document upload and status, unsigned callbacks to a secret URL).
//! - [`digiflazz`]: Digiflazz's buyer API (PPOB: deposit, price list, prepaid purchases
//!   whose status check re-submits them, postpaid inquiry, payment and status, PLN meter
//!   checks, `X-Hub-Signature` webhooks) with the documented test numbers.
//! - [`keys`]: the public test key pairs of the gateway and the simulated providers.
//! - [`conformance`]: one suite per capability, run against every adapter of that
//!   capability through its simulator ([`conformance::va`] for virtual accounts,
//!   [`conformance::payments`] for payments, [`conformance::esign`] for e-signature,
//!   [`conformance::biller`] for billers).
//! - [`webhook_receiver`]: a product's endpoint for the gateway's Standard Webhooks events,
//!   verifying and recording them.

pub mod astrapay;
pub mod bni;
pub mod bni_snap;
pub mod callback;
pub mod conformance;
pub mod digiflazz;
pub mod doku;
pub mod faults;
pub mod keys;
pub mod nicepay;
pub mod privyid;
pub mod server;
pub mod snap;
pub mod webhook_receiver;
pub mod whatsapp;

mod wib;

#[cfg(test)]
mod test_support;

pub use callback::{CallbackOptions, CallbackOutcome, CapturedCallback, SimError, Tamper};
pub use faults::{Fault, FaultRule, Faults};
pub use server::Running;
