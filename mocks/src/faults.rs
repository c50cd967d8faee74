//! Faults on demand, shared by every simulator.
//!
//! A test (or the sandbox's `POST /sandbox/...` endpoint) pushes [`FaultRule`]s onto a
//! simulator's [`Faults`]; each incoming request takes the first rule that matches its
//! operation and then behaves as the [`Fault`] says. The JSON form of a rule is what the
//! sandbox passes straight through:
//!
//! ```json
//! {"op": "createbilling", "fault": {"kind": "hang_after_effect", "ms": 3000}, "times": 1}
//! ```

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// One way a simulated provider misbehaves.
///
/// Serialized as an internally tagged object, e.g. `{"kind": "latency", "ms": 250}` or
/// `{"kind": "down"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Wait `ms` milliseconds, then handle the request normally.
    Latency {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// Answer with this HTTP status and a short text body; nothing happens.
    Status {
        /// HTTP status code (an invalid code becomes 500).
        code: u16,
    },
    /// Sleep `ms` milliseconds without acting, then answer 504: a timeout where nothing
    /// happened.
    HangBeforeEffect {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// Perform the operation, then sleep `ms` milliseconds before answering: the caller
    /// times out although the effect exists (resolve by inquiry, never by blind retry).
    HangAfterEffect {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// HTTP 200 with a truncated, unparseable body; nothing happens.
    Malformed,
    /// HTTP 503; nothing happens.
    Down,
}

/// A fault and the requests it applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Operation the rule applies to (`"createbilling"`, `"registration"`, ...), compared
    /// case-insensitively; `None` applies to every operation.
    #[serde(default)]
    pub op: Option<String>,
    /// What happens to a matching request.
    pub fault: Fault,
    /// How many matching requests it affects; `None` = until [`Faults::clear`].
    #[serde(default)]
    pub times: Option<u32>,
}

impl FaultRule {
    /// A rule for every operation, until cleared.
    pub fn always(fault: Fault) -> Self {
        Self {
            op: None,
            fault,
            times: None,
        }
    }

    /// A rule for the next request of `op` only.
    pub fn once(op: &str, fault: Fault) -> Self {
        Self {
            op: Some(op.to_owned()),
            fault,
            times: Some(1),
        }
    }

    /// A rule for the next `times` requests of `op`.
    pub fn times(op: &str, fault: Fault, times: u32) -> Self {
        Self {
            op: Some(op.to_owned()),
            fault,
            times: Some(times),
        }
    }

    fn matches(&self, op: &str) -> bool {
        self.op
            .as_deref()
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(op))
    }
}

/// The fault rules of one simulator; clones share the same rules.
#[derive(Clone, Debug, Default)]
pub struct Faults(Arc<Mutex<Vec<FaultRule>>>);

impl Faults {
    /// Adds a rule after the existing ones (earlier rules win).
    pub fn push(&self, rule: FaultRule) {
        self.lock().push(rule);
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The rules still in force.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.lock().clone()
    }

    /// The fault for one request of `op`, if a rule matches; uses up one of its `times`.
    pub(crate) fn take(&self, op: &str) -> Option<Fault> {
        let mut rules = self.lock();
        let index = rules.iter().position(|rule| rule.matches(op))?;
        let rule = &mut rules[index];
        let fault = rule.fault.clone();
        match rule.times {
            Some(left) if left <= 1 => {
                rules.remove(index);
            }
            Some(left) => rule.times = Some(left - 1),
            None => {}
        }
        Some(fault)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<FaultRule>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `act` (the request's real handling) as `fault` dictates.
///
/// `malformed` is the garbled body a [`Fault::Malformed`] answers with; each simulator
/// passes a truncated answer in its own format.
pub(crate) async fn apply<F, Fut>(fault: Option<Fault>, malformed: &'static str, act: F) -> Response
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Response>,
{
    let Some(fault) = fault else {
        return act().await;
    };
    tracing::debug!(fault = ?fault, "simulated fault");
    match fault {
        Fault::Latency { ms } => {
            sleep_ms(ms).await;
            act().await
        }
        Fault::Status { code } => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, "simulated fault").into_response()
        }
        Fault::HangBeforeEffect { ms } => {
            sleep_ms(ms).await;
            (StatusCode::GATEWAY_TIMEOUT, "simulated timeout").into_response()
        }
        Fault::HangAfterEffect { ms } => {
            let response = act().await;
            sleep_ms(ms).await;
            response
        }
        Fault::Malformed => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            malformed,
        )
            .into_response(),
        Fault::Down => (StatusCode::SERVICE_UNAVAILABLE, "simulated outage").into_response(),
    }
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_rule_is_used_up_and_then_removed() {
        let faults = Faults::default();
        faults.push(FaultRule::times("createbilling", Fault::Down, 2));
        assert_eq!(faults.take("inquirybilling"), None);
        assert_eq!(faults.take("CreateBilling"), Some(Fault::Down));
        assert_eq!(faults.take("createbilling"), Some(Fault::Down));
        assert_eq!(faults.take("createbilling"), None);
        assert!(faults.rules().is_empty());
    }

    #[test]
    fn a_rule_without_op_or_times_applies_until_cleared() {
        let faults = Faults::default();
        faults.push(FaultRule::always(Fault::Malformed));
        for op in ["registration", "inquiry", "cancel"] {
            assert_eq!(faults.take(op), Some(Fault::Malformed));
        }
        faults.clear();
        assert_eq!(faults.take("registration"), None);
    }

    #[test]
    fn earlier_rules_win() {
        let faults = Faults::default();
        faults.push(FaultRule::once("inquiry", Fault::Status { code: 500 }));
        faults.push(FaultRule::always(Fault::Latency { ms: 1 }));
        assert_eq!(faults.take("inquiry"), Some(Fault::Status { code: 500 }));
        assert_eq!(faults.take("inquiry"), Some(Fault::Latency { ms: 1 }));
    }

    #[test]
    fn rules_read_the_sandbox_json() -> Result<(), serde_json::Error> {
        let rule: FaultRule = serde_json::from_str(
            r#"{"op":"createbilling","fault":{"kind":"hang_after_effect","ms":3000},"times":1}"#,
        )?;
        assert_eq!(
            rule,
            FaultRule::once("createbilling", Fault::HangAfterEffect { ms: 3000 })
        );
        let rule: FaultRule = serde_json::from_str(r#"{"fault":{"kind":"down"}}"#)?;
        assert_eq!(rule, FaultRule::always(Fault::Down));
        Ok(())
    }
}
