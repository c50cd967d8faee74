//! The payments conformance suite: what every [`Payments`] adapter (and the
//! [`InboundNotifications`] half that reads its payment notifications) must do for one
//! payment method, checked through the provider's simulator.
//!
//! Every check starts its own payments under fresh references, so the checks are
//! independent and may run in any order against one simulator; [`run_all`] runs them for
//! one `method` (the suite is run once per method an adapter serves) in the order below
//! and returns a [`Report`]:
//!
//! 1. [`create_returns_the_action_of_the_method_and_the_provider_holds_one_payment`]
//! 2. [`status_is_pending_before_completion_and_not_found_for_an_unknown_reference`]
//! 3. [`completion_shows_as_paid_with_the_charged_amount`]
//! 4. [`failure_shows_as_failed_never_paid`]
//! 5. [`create_timing_out_after_the_effect_is_ambiguous_and_resolved_by_status`]
//! 6. [`provider_outage_is_retryable_and_a_garbled_answer_is_ambiguous`]
//! 7. [`duplicate_create_never_starts_a_second_payment`]
//! 8. [`refunds_follow_the_remaining_amount_or_say_not_supported`]
//! 9. [`completion_gives_one_verified_notification_event`]
//! 10. [`an_expired_token_costs_no_failed_request`]
//!
//! The adapter under test must time out well below [`HANG_MS`] (the workspace tests use
//! 500 ms), or check 5 cannot observe a timeout.
//!
//! Notifications reach [`InboundNotifications::verify_and_parse`] as the gateway's
//! callback route would hand them over: a URL path under `/v1/callbacks/{instance}/` gives
//! that `sub_path`, any other path is taken whole as the `sub_path`; the whole path is
//! kept as `InboundRequest::path` (what SNAP providers sign). When the simulator's
//! provider first asks the merchant for a token ([`PaymentSimulator::token_request`]),
//! that request goes through `verify_and_parse` first and the token it answers is handed
//! back with [`PaymentSimulator::use_token`].

use std::future::Future;
use std::time::Duration;

use contracts::inbound::{EventKind, Inbound, InboundEvent, ResourceRef};
use contracts::payment::{
    CreatePayment, PaymentAction, PaymentHandle, PaymentStatusReport, ProviderPaymentState,
    RefundOutcome, RefundRequest, RefundState, StartedPayment,
};
use contracts::{
    Amount, Customer, ErrorKind, InboundNotifications, OurReference, Payments, ProviderError,
};
use rand::Rng;
use time::OffsetDateTime;

use super::{
    CheckResult, Report, amount, expect_acknowledgements, expect_refused, expect_same_event_id,
    inbound_request, one_event, sim_failed,
};
use crate::callback::{CapturedCallback, SimError, Tamper};
use crate::faults::{Fault, FaultRule, Faults};

/// How long a [`Fault::HangAfterEffect`] holds the provider's answer back.
pub const HANG_MS: u64 = 2_000;

/// How long one check may take before it counts as failed (a hung adapter).
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// The charged amount of every payment the suite starts, in rupiah.
const CHARGED: i64 = 150_000;

/// The first, partial refund of check 8, in rupiah.
const PARTIAL_REFUND: i64 = 50_000;

/// The operations a check may inject faults into or count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentOp {
    /// Start a payment.
    Create,
    /// Ask for a payment's status.
    Status,
    /// Refund a payment.
    Refund,
}

/// What the checks need from the provider's side. Implemented by every simulator whose
/// provider takes payments.
pub trait PaymentSimulator: Send + Sync + std::fmt::Debug {
    /// The simulator's own name of `op`, as its [`Faults`] and [`Self::calls`] know it.
    fn op_name(&self, op: PaymentOp) -> &'static str;

    /// The fault rules the simulator's requests consult.
    fn faults(&self) -> Faults;

    /// How many requests of `op_name` (an [`Self::op_name`]) reached the provider's logic.
    fn calls(&self, op_name: &str) -> usize;

    /// The customer pays `reference` (our reference: AstraPay `partnerReferenceNo`, DOKU
    /// `invoice_number`).
    fn complete(&self, reference: &str) -> Result<(), SimError>;

    /// The payment of `reference` fails at the provider.
    fn fail(&self, reference: &str) -> Result<(), SimError>;

    /// How many payments the provider holds for `reference` (0 or 1; 2 would be a double
    /// charge).
    fn payments_for(&self, reference: &str) -> usize;

    /// The token request the provider sends before notifying (SNAP symmetric set-up), or
    /// `None` when its notifications need no token.
    fn token_request(&self) -> Option<CapturedCallback> {
        None
    }

    /// Hands the simulator the token the adapter issued (from [`Self::token_request`]'s
    /// answer).
    fn use_token(&self, _token: &str) {}

    /// Makes every token the provider issued so far expired.
    fn expire_tokens(&self) {}

    /// The notification the provider would send now about `reference`, spoiled as
    /// `tamper` says, built but not posted.
    fn notification_for(
        &self,
        reference: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError>;
}

/// Runs every check in order for `method` against `payments` and `inbound` (usually one
/// adapter) through `sim`, and reports which passed and which failed.
pub async fn run_all(
    payments: &dyn Payments,
    inbound: &dyn InboundNotifications,
    sim: &dyn PaymentSimulator,
    method: &str,
) -> Report {
    let mut report = Report::new(format!(
        "payments conformance of {payments:?}, method {method}"
    ));
    report.record(
        "create_returns_the_action_of_the_method_and_the_provider_holds_one_payment",
        guarded(
            sim,
            create_returns_the_action_of_the_method_and_the_provider_holds_one_payment(
                payments, sim, method,
            ),
        )
        .await,
    );
    report.record(
        "status_is_pending_before_completion_and_not_found_for_an_unknown_reference",
        guarded(
            sim,
            status_is_pending_before_completion_and_not_found_for_an_unknown_reference(
                payments, sim, method,
            ),
        )
        .await,
    );
    report.record(
        "completion_shows_as_paid_with_the_charged_amount",
        guarded(
            sim,
            completion_shows_as_paid_with_the_charged_amount(payments, sim, method),
        )
        .await,
    );
    report.record(
        "failure_shows_as_failed_never_paid",
        guarded(
            sim,
            failure_shows_as_failed_never_paid(payments, sim, method),
        )
        .await,
    );
    report.record(
        "create_timing_out_after_the_effect_is_ambiguous_and_resolved_by_status",
        guarded(
            sim,
            create_timing_out_after_the_effect_is_ambiguous_and_resolved_by_status(
                payments, sim, method,
            ),
        )
        .await,
    );
    report.record(
        "provider_outage_is_retryable_and_a_garbled_answer_is_ambiguous",
        guarded(
            sim,
            provider_outage_is_retryable_and_a_garbled_answer_is_ambiguous(payments, sim, method),
        )
        .await,
    );
    report.record(
        "duplicate_create_never_starts_a_second_payment",
        guarded(
            sim,
            duplicate_create_never_starts_a_second_payment(payments, sim, method),
        )
        .await,
    );
    report.record(
        "refunds_follow_the_remaining_amount_or_say_not_supported",
        guarded(
            sim,
            refunds_follow_the_remaining_amount_or_say_not_supported(payments, sim, method),
        )
        .await,
    );
    report.record(
        "completion_gives_one_verified_notification_event",
        guarded(
            sim,
            completion_gives_one_verified_notification_event(payments, inbound, sim, method),
        )
        .await,
    );
    report.record(
        "an_expired_token_costs_no_failed_request",
        guarded(
            sim,
            an_expired_token_costs_no_failed_request(payments, sim, method),
        )
        .await,
    );
    report
}

/// Runs one check with no faults left over from another, within [`CHECK_TIMEOUT`].
async fn guarded(
    sim: &dyn PaymentSimulator,
    check: impl Future<Output = CheckResult>,
) -> CheckResult {
    sim.faults().clear();
    let result = tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(format!("did not finish within {CHECK_TIMEOUT:?}")));
    sim.faults().clear();
    result
}

/// `create` answers what the method implies — a redirect or deeplink with an `http(s)` or
/// app URL for e-wallets and checkouts, a non-empty QR string for `qris` — and the
/// provider holds exactly one payment under our reference.
pub async fn create_returns_the_action_of_the_method_and_the_provider_holds_one_payment(
    payments: &dyn Payments,
    sim: &dyn PaymentSimulator,
    method: &str,
) -> CheckResult {
    let (request, started) = create_one(payments, method, "NEW").await?;
    expect_action_of_method(&started.action, method)?;
    expect_held_once(sim, &request.reference)
}

/// Status right after create says `Pending`; status by a reference the provider never saw
/// is `NotFound`, and creates nothing.
pub async fn status_is_pending_before_completion_and_not_found_for_an_unknown_reference(
    payments: &dyn Payments,
    sim: &dyn PaymentSimulator,
    method: &str,
) -> CheckResult {
    let (request, started) = create_one(payments, method, "STS").await?;
    let report = status(payments, &handle(&request, Some(&started))).await?;
    expect_state(
        &report,
        &[ProviderPaymentState::Pending],
        "right after create",
    )?;
    let unknown = PaymentHandle::new(new_reference("UNK"), None, method, charged()?);
    match payments.status(&unknown).await {
        Err(err) if err.kind == ErrorKind::NotFound => {}
        Err(err) => {
            return Err(format!(
                "status of an unknown reference: want NotFound, got {err}"
            ));
        }
        Ok(report) => {
            return Err(format!(
                "status of an unknown reference answered {report:?}"
            ));
        }
    }
    if sim.payments_for(unknown.reference.as_str()) != 0 {
        return Err("status created a payment at the provider".to_owned());
    }
    Ok(())
}

/// Once the customer pays, status says `Paid` with `paid_amount` equal to the charged
/// amount.
pub async fn completion_shows_as_paid_with_the_charged_amount(
    payments: &dyn Payments,
    sim: &dyn PaymentSimulator,
    method: &str,
) -> CheckResult {
    let (request, started) = create_one(payments, method, "PAY").await?;
    sim.complete(request.reference.as_str())
        .map_err(sim_failed)?;
    let report = status(payments, &handle(&request, Some(&started))).await?;
    expect_state(&report, &[ProviderPaymentState::Paid], "after payment")?;
    if report.paid_amount != Some(request.amount) {
        return Err(format!(
            "status reports paid_amount {:?}, want {CHARGED}",
            report.paid_amount
        ));
    }
    Ok(())
}

/// A payment that fails at the provider reads `Failed` — never `Paid`.
pub async fn failure_shows_as_failed_never_paid(
    payments: &dyn Payments,
    sim: &dyn PaymentSimulator,
    method: &str,
) -> CheckResult {
    let (request, started) = create_one(payments, method, "FAI").await?;
    sim.fail(request.reference.as_str()).map_err(sim_failed)?;
    let report = status(payments, &handle(&request, Some(&started))).await?;
    expect_state(&report, &[ProviderPaymentState::Failed], "after a failure")
}

/// A create whose answer never arrives (the provider acted, then hung) is ambiguous
/// (`Timeout` or `Protocol`) — never success, never `Unavailable` (which would let the
/// gateway start a second payment elsewhere). Status by our reference alone then finds
/// it; the provider saw exactly one create and holds one payment.
pub async fn create_timing_out_after_the_effect_is_ambiguous_and_resolved_by_status(
    payments: &dyn Payments,
    sim: &dyn PaymentSimulator,
    method: &str,
) -> CheckResult {
    let op = sim.op_name(PaymentOp::Create);
    let before = sim.calls(op);
    sim.faults()
        .push(FaultRule::once(op, Fault::HangAfterEffect { ms: HANG_MS }));
    let request = create_request(method, "HANG")?;
    match payments.create(&request).await {
        Err(err) if err.kind.is_ambiguous() => {}
        Err(err) => {
            return Err(format!(
                "create that hung after the effect: want Timeout or Protocol, got {err}"
            ));
        }
        Ok(started) => {
            return Err(format!(
                "create that hung after the effect answered Ok ({:?})",
                started.action
            ));
        }
    }
    // What the gateway has after a timeout: our reference, the method and the amount.
    let by_reference = handle(&request, None);
    let report = status(payments, &by_reference).await?;
    expect_state(
        &report,
        &[ProviderPaymentState::Pending],
        "after a timed-out create",
    )?;
    let creates = sim.calls(op) - before;
    if creates != 1 {
        return Err(format!(
            "the provider saw {creates} creates, want exactly 1"
        ));
    }
    expect_held_once(sim, &request.reference)
}

/// A provider that is down (or answers HTTP 503) on create is `Unavailable` and
/// retryable, and holds nothing; the retried create then succeeds. A garbled 200 answer to
/// create is ambiguous (`Protocol` or `Timeout`), never success.
pub async fn provider_outage_is_retryable_and_a_garbled_answer_is_ambiguous(
    payments: &dyn Payments,
    sim: &dyn PaymentSimulator,
    method: &str,
) -> CheckResult {
    let op = sim.op_name(PaymentOp::Create);
    for (fault, what) in [
        (Fault::Down, "create during an outage"),
        (Fault::Status { code: 503 }, "create answered HTTP 503"),
    ] {
        let request = create_request(method, "DOWN")?;
        sim.faults().push(FaultRule::once(op, fault));
        expect_unavailable(payments.create(&request).await, what)?;
        if sim.payments_for(request.reference.as_str()) != 0 {
            return Err(format!("{what}: the provider holds a payment anyway"));
        }
        create(payments, &request).await?;
        expect_held_once(sim, &request.reference)?;
    }
    sim.faults().push(FaultRule::once(op, Fault::Malformed));
    match payments.create(&create_request(method, "GARB")?).await {
        Err(err) if err.kind.is_ambiguous() => Ok(()),
        Err(err) => Err(format!(
            "create with a garbled answer: want Protocol or Timeout, got {err}"
        )),
        Ok(started) => Err(format!(
            "create with a garbled answer answered Ok ({:?})",
            started.action
        )),
    }
}

/// Creating again with the same reference is `Duplicate` (or, if the adapter resolves it,
/// an `Ok` about the same payment: the same provider reference); the provider never holds
/// a second payment for it.
pub async fn duplicate_create_never_starts_a_second_payment(
    payments: &dyn Payments,
    sim: &dyn PaymentSimulator,
    method: &str,
) -> CheckResult {
    let (request, started) = create_one(payments, method, "DUP").await?;
    match payments.create(&request).await {
        Err(err) if err.kind == ErrorKind::Duplicate => {}
        Ok(again) if again.provider_reference == started.provider_reference => {}
        Ok(again) => {
            return Err(format!(
                "second create answered another payment ({:?} after {:?})",
                again.provider_reference, started.provider_reference
            ));
        }
        Err(err) => return Err(format!("second create: want Duplicate, got {err}")),
    }
    expect_held_once(sim, &request.reference)
}

/// When the adapter refunds `method`: a partial refund, then the rest, each succeed (or
/// are pending), and status reads `PartiallyRefunded`, then `Refunded`; a refund above
/// what remains is refused (`Rejected` or `Conflict`) and moves no money (status still
/// reads as before). When it does not, refund answers `NotSupported`.
pub async fn refunds_follow_the_remaining_amount_or_say_not_supported(
    payments: &dyn Payments,
    sim: &dyn PaymentSimulator,
    method: &str,
) -> CheckResult {
    let (request, started) = create_one(payments, method, "RFD").await?;
    sim.complete(request.reference.as_str())
        .map_err(sim_failed)?;
    let paid = handle(&request, Some(&started));
    if !payments.refunds(method) {
        let result = refund(payments, &paid, "RFN", PARTIAL_REFUND).await;
        return match result {
            Err(err) if err.kind == ErrorKind::NotSupported => Ok(()),
            Err(err) => Err(format!(
                "refunds({method}) is false, so refund must be NotSupported, got {err}"
            )),
            Ok(outcome) => Err(format!(
                "refunds({method}) is false but refund answered {outcome:?}"
            )),
        };
    }
    expect_refund_done(
        refund(payments, &paid, "RFA", PARTIAL_REFUND).await,
        "the partial refund",
    )?;
    let partly = [ProviderPaymentState::PartiallyRefunded];
    expect_state(
        &status(payments, &paid).await?,
        &partly,
        "after a partial refund",
    )?;

    let remaining = CHARGED - PARTIAL_REFUND;
    match refund(payments, &paid, "RFX", remaining + 1).await {
        Err(err) if matches!(err.kind, ErrorKind::Rejected | ErrorKind::Conflict) => {}
        Err(err) => {
            return Err(format!(
                "a refund above what remains: want Rejected or Conflict, got {err}"
            ));
        }
        Ok(outcome) => {
            return Err(format!("a refund above what remains answered {outcome:?}"));
        }
    }
    let report = status(payments, &paid).await?;
    expect_state(&report, &partly, "after a refused refund")?;

    expect_refund_done(
        refund(payments, &paid, "RFB", remaining).await,
        "the refund of the rest",
    )?;
    let report = status(payments, &paid).await?;
    expect_state(
        &report,
        &[ProviderPaymentState::Refunded],
        "after refunding everything",
    )
}

/// After the customer pays, the provider's notification (after the token handshake when
/// the provider asks for one) verifies into exactly one `PaymentUpdate { state: Paid }`
/// about our payment, with a `provider_event_id` that is the same when the same request is
/// parsed twice and when the provider sends it again; a notification with a flipped byte,
/// the wrong key or a stale timestamp is refused (`InvalidSignature` or `Rejected`); the
/// acknowledgement of an accepted notification is 2xx and of a rejected one is not.
pub async fn completion_gives_one_verified_notification_event(
    payments: &dyn Payments,
    inbound: &dyn InboundNotifications,
    sim: &dyn PaymentSimulator,
    method: &str,
) -> CheckResult {
    let (request, started) = create_one(payments, method, "NTF").await?;
    let reference = request.reference.as_str();
    sim.complete(reference).map_err(sim_failed)?;
    token_handshake(inbound, sim).await?;
    let notification = sim
        .notification_for(reference, Tamper::None)
        .map_err(sim_failed)?;
    let event = one_event(inbound, &notification).await?;
    expect_paid_update_of_our_payment(&event, &request, &started)?;
    let again = one_event(inbound, &notification).await?;
    expect_same_event_id(&event, &again, "the same request parsed twice")?;
    let resent = sim
        .notification_for(reference, Tamper::None)
        .map_err(sim_failed)?;
    expect_same_event_id(
        &event,
        &one_event(inbound, &resent).await?,
        "a resent notification",
    )?;
    for tamper in [Tamper::FlipByte, Tamper::WrongKey, Tamper::StaleTimestamp] {
        let spoiled = sim
            .notification_for(reference, tamper)
            .map_err(sim_failed)?;
        expect_refused(inbound, &spoiled, tamper).await?;
    }
    expect_acknowledgements(inbound, &inbound_request(&notification))
}

/// A provider token that expires between two calls (SNAP B2B tokens last 15 minutes)
/// costs no failed request: after [`PaymentSimulator::expire_tokens`] the next create
/// succeeds without an error.
pub async fn an_expired_token_costs_no_failed_request(
    payments: &dyn Payments,
    sim: &dyn PaymentSimulator,
    method: &str,
) -> CheckResult {
    create_one(payments, method, "TK1").await?;
    sim.expire_tokens();
    let (request, _) = create_one(payments, method, "TK2")
        .await
        .map_err(|why| format!("after the provider's tokens expired: {why}"))?;
    expect_held_once(sim, &request.reference)
}

// ---- helpers ----------------------------------------------------------------------------

/// A reference no other check (or earlier run) uses: `CP` + tag + 8 random digits, short
/// enough for every provider's merchant reference field.
fn new_reference(tag: &str) -> OurReference {
    let suffix: u32 = rand::rng().random_range(0..100_000_000);
    OurReference(format!("CP{tag}{suffix:08}"))
}

fn charged() -> Result<Amount, String> {
    amount(CHARGED)
}

fn create_request(method: &str, tag: &str) -> Result<CreatePayment, String> {
    let customer = Customer {
        name: "Budi Santoso".to_owned(),
        phone: Some("081234567890".to_owned()),
        email: Some("budi@example.com".to_owned()),
    };
    // Ten minutes: inside every provider's window (AstraPay debit takes 3 to 15 minutes).
    let expires_at = OffsetDateTime::now_utc() + time::Duration::minutes(10);
    let request = CreatePayment::new(
        new_reference(tag),
        charged()?,
        method,
        customer,
        Some("https://merchant.example/return".to_owned()),
        expires_at,
    );
    Ok(request.with_description(Some("Conformance test".to_owned())))
}

async fn create(
    payments: &dyn Payments,
    request: &CreatePayment,
) -> Result<StartedPayment, String> {
    payments
        .create(request)
        .await
        .map_err(|err| format!("create {} failed: {err}", request.reference))
}

async fn create_one(
    payments: &dyn Payments,
    method: &str,
    tag: &str,
) -> Result<(CreatePayment, StartedPayment), String> {
    let request = create_request(method, tag)?;
    let started = create(payments, &request).await?;
    Ok((request, started))
}

/// The handle the gateway keeps for a payment: everything create answered, when it did.
fn handle(request: &CreatePayment, started: Option<&StartedPayment>) -> PaymentHandle {
    PaymentHandle::new(
        request.reference.clone(),
        started.and_then(|s| s.provider_reference.clone()),
        request.method.clone(),
        request.amount,
    )
}

async fn status(
    payments: &dyn Payments,
    handle: &PaymentHandle,
) -> Result<PaymentStatusReport, String> {
    payments
        .status(handle)
        .await
        .map_err(|err| format!("status of {} failed: {err}", handle.reference))
}

async fn refund(
    payments: &dyn Payments,
    paid: &PaymentHandle,
    tag: &str,
    rupiah: i64,
) -> Result<RefundOutcome, ProviderError> {
    let refund_amount = Amount::new(rupiah)
        .map_err(|err| ProviderError::new(ErrorKind::Misconfigured, err.to_string()))?;
    let request = RefundRequest::new(
        paid.clone(),
        new_reference(tag),
        refund_amount,
        "conformance refund",
    );
    payments.refund(&request).await
}

fn expect_refund_done(result: Result<RefundOutcome, ProviderError>, what: &str) -> CheckResult {
    match result {
        Ok(outcome) if matches!(outcome.state, RefundState::Succeeded | RefundState::Pending) => {
            Ok(())
        }
        Ok(outcome) => Err(format!("{what} answered {outcome:?}")),
        Err(err) => Err(format!("{what} failed: {err}")),
    }
}

fn expect_held_once(sim: &dyn PaymentSimulator, reference: &OurReference) -> CheckResult {
    match sim.payments_for(reference.as_str()) {
        1 => Ok(()),
        0 => Err(format!("the provider holds no payment for {reference}")),
        n => Err(format!(
            "the provider holds {n} payments for {reference}: a double charge"
        )),
    }
}

/// `qris` must answer a QR string; every other method a redirect or deeplink URL.
fn expect_action_of_method(action: &PaymentAction, method: &str) -> CheckResult {
    let wants_qr = method.eq_ignore_ascii_case("qris");
    match action {
        PaymentAction::Qr { qr_string } if wants_qr && !qr_string.trim().is_empty() => Ok(()),
        PaymentAction::Redirect { url } | PaymentAction::Deeplink { url }
            if !wants_qr && is_followable_url(url) =>
        {
            Ok(())
        }
        other => Err(format!(
            "create for method {method} answered {other:?}, want {}",
            if wants_qr {
                "a non-empty QR string"
            } else {
                "a redirect or deeplink with an http(s) or app URL"
            }
        )),
    }
}

/// `http://` or `https://` with a host, or an app link `scheme://…`.
fn is_followable_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let scheme_ok = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    scheme_ok && !rest.is_empty() && (!web || !host.is_empty())
}

fn expect_state(
    report: &PaymentStatusReport,
    allowed: &[ProviderPaymentState],
    when: &str,
) -> CheckResult {
    if allowed.contains(&report.state) {
        return Ok(());
    }
    Err(format!(
        "status {when} says {:?} (provider status {:?}), want one of {allowed:?}",
        report.state, report.provider_status
    ))
}

fn expect_unavailable(result: Result<StartedPayment, ProviderError>, what: &str) -> CheckResult {
    match result {
        Err(err) if err.kind == ErrorKind::Unavailable && err.is_retryable() => Ok(()),
        Err(err) => Err(format!("{what}: want Unavailable (retryable), got {err}")),
        Ok(started) => Err(format!("{what}: answered Ok ({:?})", started.action)),
    }
}

/// Feeds the provider's token request to the adapter, which must answer it itself (HTTP
/// 200 with `accessToken`), and hands the token to the simulator.
async fn token_handshake(
    inbound: &dyn InboundNotifications,
    sim: &dyn PaymentSimulator,
) -> CheckResult {
    let Some(token_request) = sim.token_request() else {
        return Ok(());
    };
    let parsed = inbound
        .verify_and_parse(&inbound_request(&token_request))
        .await
        .map_err(|err| format!("the provider's token request was refused: {err}"))?;
    let Inbound::Reply(reply) = parsed else {
        return Err(format!(
            "the provider's token request gave {parsed:?}, want a reply"
        ));
    };
    if reply.status != 200 {
        return Err(format!(
            "the provider's token request was answered HTTP {}",
            reply.status
        ));
    }
    let body: serde_json::Value = serde_json::from_slice(&reply.body)
        .map_err(|err| format!("the token answer is not JSON: {err}"))?;
    match body.get("accessToken").and_then(serde_json::Value::as_str) {
        Some(token) if !token.is_empty() => {
            sim.use_token(token);
            Ok(())
        }
        _ => Err("the token answer carries no accessToken".to_owned()),
    }
}

/// A `PaymentUpdate` saying `Paid` (with the charged amount when it says one), about our
/// payment and nothing else.
fn expect_paid_update_of_our_payment(
    event: &InboundEvent,
    request: &CreatePayment,
    started: &StartedPayment,
) -> CheckResult {
    let EventKind::PaymentUpdate { state, amount, .. } = &event.kind else {
        return Err(format!(
            "the notification event is {:?}, want PaymentUpdate",
            event.kind
        ));
    };
    if *state != ProviderPaymentState::Paid {
        return Err(format!("the notification event says {state:?}, want Paid"));
    }
    if amount.is_some_and(|a| a != request.amount) {
        return Err(format!(
            "the notification event says amount {amount:?}, want {CHARGED}"
        ));
    }
    if event.provider_event_id.trim().is_empty() {
        return Err("the notification event has an empty provider_event_id".to_owned());
    }
    expect_names_our_payment(&event.resource, request, started)
}

/// The event must name our payment by our reference, and contradict nothing we know.
fn expect_names_our_payment(
    resource: &ResourceRef,
    request: &CreatePayment,
    started: &StartedPayment,
) -> CheckResult {
    let ResourceRef::Payment {
        reference,
        provider_reference,
    } = resource
    else {
        return Err(format!(
            "the notification event is about {resource:?}, not a payment"
        ));
    };
    let provider_contradicts = provider_reference
        .as_ref()
        .zip(started.provider_reference.as_ref())
        .is_some_and(|(got, ours)| got != ours);
    if reference.as_ref() != Some(&request.reference) || provider_contradicts {
        return Err(format!(
            "the notification event names {resource:?}, want our payment {}",
            request.reference
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::inbound::{AckOutcome, InboundRequest};

    fn captured(url: Option<&str>) -> CapturedCallback {
        CapturedCallback {
            url: url.map(str::to_owned),
            method: "POST".to_owned(),
            headers: Vec::new(),
            body: axum::body::Bytes::from_static(b"{}"),
        }
    }

    /// An adapter whose provider is always unreachable, and a simulator that holds nothing.
    #[derive(Debug)]
    struct Unreachable;

    /// What the `#[async_trait]` methods return, written out (mocks has no async-trait).
    type Answer<'a, T> =
        std::pin::Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

    fn down<'a, T: 'a>() -> Answer<'a, T> {
        Box::pin(async { Err(ProviderError::new(ErrorKind::Unavailable, "down")) })
    }

    impl Payments for Unreachable {
        fn methods(&self) -> &[&'static str] {
            &["astrapay"]
        }
        fn refunds(&self, _method: &str) -> bool {
            true
        }
        fn create<'a, 'b, 'c>(&'a self, _: &'b CreatePayment) -> Answer<'c, StartedPayment>
        where
            'a: 'c,
            'b: 'c,
        {
            down()
        }
        fn status<'a, 'b, 'c>(&'a self, _: &'b PaymentHandle) -> Answer<'c, PaymentStatusReport>
        where
            'a: 'c,
            'b: 'c,
        {
            down()
        }
        fn refund<'a, 'b, 'c>(&'a self, _: &'b RefundRequest) -> Answer<'c, RefundOutcome>
        where
            'a: 'c,
            'b: 'c,
        {
            down()
        }
    }

    impl InboundNotifications for Unreachable {
        fn trust(&self) -> contracts::inbound::Trust {
            contracts::inbound::Trust::Strong
        }
        fn verify_and_parse<'a, 'b, 'c>(&'a self, _: &'b InboundRequest) -> Answer<'c, Inbound>
        where
            'a: 'c,
            'b: 'c,
        {
            Box::pin(async { Err(ProviderError::new(ErrorKind::InvalidSignature, "no")) })
        }
        fn acknowledge(
            &self,
            _: &InboundRequest,
            _: &AckOutcome,
        ) -> contracts::inbound::InboundResponse {
            contracts::inbound::InboundResponse::text(200, "ok")
        }
    }

    #[derive(Debug, Default)]
    struct Empty(Faults);

    impl PaymentSimulator for Empty {
        fn op_name(&self, _: PaymentOp) -> &'static str {
            "create"
        }
        fn faults(&self) -> Faults {
            self.0.clone()
        }
        fn calls(&self, _: &str) -> usize {
            0
        }
        fn complete(&self, reference: &str) -> Result<(), SimError> {
            Err(SimError::NotFound(reference.to_owned()))
        }
        fn fail(&self, reference: &str) -> Result<(), SimError> {
            Err(SimError::NotFound(reference.to_owned()))
        }
        fn payments_for(&self, _: &str) -> usize {
            0
        }
        fn notification_for(
            &self,
            reference: &str,
            _: Tamper,
        ) -> Result<CapturedCallback, SimError> {
            Err(SimError::NotFound(reference.to_owned()))
        }
    }

    #[tokio::test]
    async fn a_broken_adapter_fails_every_check_without_a_panic_and_faults_are_cleared() {
        let sim = Empty::default();
        let report = run_all(&Unreachable, &Unreachable, &sim, "astrapay").await;
        assert_eq!(report.outcomes.len(), 10);
        assert_eq!(report.failures().count(), 10, "{report}");
        assert!(sim.0.rules().is_empty());
        let text = report.to_string();
        assert!(text.contains("10 of 10 checks failed"));
    }

    #[test]
    fn a_callback_url_under_the_gateway_root_gives_its_sub_path_and_whole_path() {
        let request = inbound_request(&captured(Some(
            "http://127.0.0.1:8080/v1/callbacks/astrapay_main/v1.0/debit/notify",
        )));
        assert_eq!(request.sub_path, "v1.0/debit/notify");
        assert_eq!(
            request.path,
            "/v1/callbacks/astrapay_main/v1.0/debit/notify"
        );

        let root = inbound_request(&captured(Some("https://gw.example/v1/callbacks/doku")));
        assert_eq!(root.sub_path, "");
        assert_eq!(root.path, "/v1/callbacks/doku");
    }

    #[test]
    fn any_other_url_is_taken_whole_and_no_url_gives_the_root() {
        let request = inbound_request(&captured(Some("http://h/notify/here?x=1")));
        assert_eq!(request.sub_path, "notify/here");
        assert_eq!(request.path, "/notify/here?x=1");
        let none = inbound_request(&captured(None));
        assert_eq!(none.sub_path, "");
        assert_eq!(none.path, "/");
    }

    #[test]
    fn actions_must_fit_the_method() {
        let qr = PaymentAction::Qr {
            qr_string: "000201".to_owned(),
        };
        let redirect = PaymentAction::Redirect {
            url: "https://sandbox.astrapay.com/merchant-service/payments/1".to_owned(),
        };
        let deeplink = PaymentAction::Deeplink {
            url: "astrapay://payment-channel/payment?id=1".to_owned(),
        };
        assert!(expect_action_of_method(&qr, "qris").is_ok());
        assert!(expect_action_of_method(&redirect, "qris").is_err());
        assert!(expect_action_of_method(&redirect, "astrapay").is_ok());
        assert!(expect_action_of_method(&deeplink, "astrapay").is_ok());
        assert!(expect_action_of_method(&qr, "astrapay").is_err());
        let empty_qr = PaymentAction::Qr {
            qr_string: " ".to_owned(),
        };
        assert!(expect_action_of_method(&empty_qr, "qris").is_err());
        for bad in ["", "/relative", "https://", "payment?id=1", "1http://x"] {
            let action = PaymentAction::Redirect {
                url: bad.to_owned(),
            };
            assert!(
                expect_action_of_method(&action, "astrapay").is_err(),
                "{bad:?} accepted"
            );
        }
    }
}
