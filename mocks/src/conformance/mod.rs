//! Conformance suites: one per capability, run against every adapter of that capability
//! through its simulator. A new adapter is done when it passes its suite (DESIGN.md,
//! "Tests").
//!
//! Modelled on object_store's `integration.rs`: the checks are shared `pub async fn`s that
//! take the capability as a trait object (so they see only what the gateway sees), plus a
//! small trait per suite for what a check needs from the provider's side (pay a VA, inject
//! a fault, count the requests that reached the provider). The suites live here, beside
//! the simulators, because `mocks` depends on `contracts` only; the workspace test binary
//! (`tests/api/conformance.rs`) builds each adapter against its simulator and calls
//! `run_all`.
//!
//! **Style.** Every check returns [`CheckResult`]: `Ok(())`, or `Err` with a sentence that
//! says what the adapter did and what the contract wanted. Checks never panic, so
//! `run_all` can run every check of a suite and then report all failures at once in a
//! [`Report`]. Each check uses references of its own and clears the simulator's faults
//! before and after it runs, so one failing check does not spoil the next.
//!
//! **Layout**
//! - [`va`]: virtual accounts ([`contracts::VirtualAccounts`] and the payment callbacks
//!   of [`contracts::InboundNotifications`]), with [`va::VaSimulator`] implemented for
//!   [`crate::bni::BniSimulator`], [`crate::nicepay::NicepaySimulator`],
//!   [`crate::bni_snap::BniSnapSimulator`] and [`crate::doku::DokuSimulator`].
//! - [`payments`]: payments ([`contracts::Payments`] and the notifications about them),
//!   per method, with [`payments::PaymentSimulator`] implemented for
//!   [`crate::astrapay::AstraPaySimulator`] and [`crate::doku::DokuSimulator`] (Checkout).
//! - [`esign`]: e-signature ([`contracts::ESignature`] and the unsigned callbacks that only
//!   prompt a status inquiry), with [`esign::EsignSimulator`] implemented for
//!   [`crate::privyid::PrivyIdSimulator`].
//! - [`biller`]: billers ([`contracts::Biller`] and their signed webhooks), with
//!   [`biller::BillerSimulator`] implemented for [`crate::digiflazz::DigiflazzSimulator`].

use std::fmt;

use contracts::inbound::{AckOutcome, Inbound, InboundEvent, InboundRequest};
use contracts::{Amount, ErrorKind, InboundNotifications, ProviderError};
use time::OffsetDateTime;

use crate::callback::{CapturedCallback, SimError, Tamper};

pub mod biller;
pub mod esign;
pub mod payments;
pub mod va;

/// The outcome of one check: `Err` explains what the adapter got wrong.
pub type CheckResult = Result<(), String>;

/// What one run of a suite found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Which suite ran, and against what.
    pub suite: String,
    /// Every check's name and outcome, in the order they ran.
    pub outcomes: Vec<(&'static str, CheckResult)>,
}

impl Report {
    /// An empty report for `suite`.
    pub fn new(suite: impl Into<String>) -> Self {
        Self {
            suite: suite.into(),
            outcomes: Vec::new(),
        }
    }

    /// Records the outcome of the check `name`.
    pub fn record(&mut self, name: &'static str, result: CheckResult) {
        self.outcomes.push((name, result));
    }

    /// The checks that failed, each with its explanation.
    pub fn failures(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.outcomes
            .iter()
            .filter_map(|(name, result)| result.as_ref().err().map(|why| (*name, why.as_str())))
    }

    /// Whether every check passed.
    pub fn is_success(&self) -> bool {
        self.failures().next().is_none()
    }

    /// `Ok(())` when every check passed, else the whole report as text.
    pub fn into_result(self) -> Result<(), String> {
        if self.is_success() {
            Ok(())
        } else {
            Err(self.to_string())
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures().count();
        let total = self.outcomes.len();
        writeln!(f, "{}: {failed} of {total} checks failed", self.suite)?;
        for (name, result) in &self.outcomes {
            match result {
                Ok(()) => writeln!(f, "  ok    {name}")?,
                Err(why) => writeln!(f, "  FAIL  {name}: {why}")?,
            }
        }
        Ok(())
    }
}

// Checks and helpers both suites use.

pub(crate) fn sim_failed(err: SimError) -> String {
    format!("the simulator could not act: {err}")
}

pub(crate) fn amount(rupiah: i64) -> Result<Amount, String> {
    Amount::new(rupiah).map_err(|err| format!("amount {rupiah}: {err}"))
}

pub(crate) fn expect_same_event_id(
    first: &InboundEvent,
    second: &InboundEvent,
    what: &str,
) -> CheckResult {
    if first.provider_event_id == second.provider_event_id {
        return Ok(());
    }
    Err(format!(
        "{what} gave provider_event_id {:?}, then {:?}: de-duplication would apply it twice",
        first.provider_event_id, second.provider_event_id
    ))
}

pub(crate) fn expect_acknowledgements(
    inbound: &dyn InboundNotifications,
    request: &InboundRequest,
) -> CheckResult {
    let accepted = inbound.acknowledge(request, &AckOutcome::Accepted);
    if !(200..300).contains(&accepted.status) {
        return Err(format!("acknowledge(Accepted) is HTTP {}", accepted.status));
    }
    let refusal = ProviderError::new(ErrorKind::InvalidSignature, "conformance check");
    let rejected = inbound.acknowledge(request, &AckOutcome::Rejected(refusal));
    if (200..300).contains(&rejected.status) {
        return Err(format!("acknowledge(Rejected) is HTTP {}", rejected.status));
    }
    Ok(())
}

pub(crate) async fn one_event(
    inbound: &dyn InboundNotifications,
    callback: &CapturedCallback,
) -> Result<InboundEvent, String> {
    let parsed = inbound
        .verify_and_parse(&inbound_request(callback))
        .await
        .map_err(|err| format!("a genuine notification was refused: {err}"))?;
    match parsed {
        Inbound::Events(mut n) if n.events.len() == 1 => Ok(n.events.remove(0)),
        Inbound::Events(n) => Err(format!(
            "a notification gave {} events, want exactly 1",
            n.events.len()
        )),
        other => Err(format!("a notification gave {other:?}, want one event")),
    }
}

pub(crate) async fn expect_refused(
    inbound: &dyn InboundNotifications,
    spoiled: &CapturedCallback,
    tamper: Tamper,
) -> CheckResult {
    match inbound.verify_and_parse(&inbound_request(spoiled)).await {
        Err(err) if matches!(err.kind, ErrorKind::InvalidSignature | ErrorKind::Rejected) => Ok(()),
        Err(err) => Err(format!(
            "a {tamper:?} notification: want InvalidSignature or Rejected, got {err}"
        )),
        Ok(parsed) => Err(format!(
            "a {tamper:?} notification was accepted: {parsed:?}"
        )),
    }
}

/// The raw request as it would reach the gateway's callback endpoint: `path` is the path
/// (and query) of the URL the simulator posts to, `sub_path` what follows
/// `/v1/callbacks/{instance}/` in it (the whole path without its leading `/` when the URL
/// has another shape).
pub(crate) fn inbound_request(callback: &CapturedCallback) -> InboundRequest {
    let path = callback
        .url
        .as_deref()
        .map_or_else(|| "/".to_owned(), crate::snap::signed_path);
    let sub_path = callback_sub_path(&path);
    InboundRequest::new(
        callback.method.clone(),
        sub_path,
        callback.headers.clone(),
        callback.body.clone(),
        OffsetDateTime::now_utc(),
    )
    .with_path(path)
}

pub(crate) fn callback_sub_path(path: &str) -> String {
    let without_query = path.split('?').next().unwrap_or_default();
    let relative = without_query.trim_start_matches('/');
    match relative.strip_prefix("v1/callbacks/") {
        Some(rest) => rest
            .split_once('/')
            .map_or_else(String::new, |(_, sub)| sub.to_owned()),
        None => relative.to_owned(),
    }
}
