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

use std::fmt;

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
