//! The virtual-account conformance suite: what every [`VirtualAccounts`] adapter (and the
//! [`InboundNotifications`] half that reads its payment callbacks) must do, checked
//! through the provider's simulator.
//!
//! Every check creates its own VA under a fresh reference, so the checks are independent
//! and may run in any order against one simulator; [`run_all`] runs them in the order
//! below and returns a [`Report`]:
//!
//! 1. [`create_issues_a_va_the_provider_holds`]
//! 2. [`inquiry_finds_an_active_va_and_not_an_unknown_one`]
//! 3. [`create_timing_out_after_the_effect_is_ambiguous_and_resolved_by_inquiry`]
//! 4. [`provider_outage_is_retryable_and_a_garbled_answer_is_ambiguous`]
//! 5. [`duplicate_create_never_issues_a_second_va`]
//! 6. [`payment_shows_in_inquiry_and_in_one_verified_callback_event`]
//! 7. [`cancel_closes_an_unpaid_va_and_refuses_a_paid_one`]
//! 8. [`update_changes_the_amount_or_says_not_supported`]
//! 9. [`an_expired_token_costs_no_failed_request`]
//!
//! For adapters whose [`VirtualAccounts::numbering`] has a serial, every create carries a
//! fresh random serial below `10^digits` ([`CreateVa::with_serial`]). For providers that
//! ask the gateway for a token before notifying (SNAP's symmetric set-up), the suite first
//! hands [`VaSimulator::token_request`] to the adapter, expects an HTTP 200 reply with an
//! `accessToken`, and gives that token to the simulator ([`VaSimulator::use_token`]).
//!
//! The adapter under test must time out well below [`HANG_MS`] (the workspace tests use
//! 500 ms), or check 3 cannot observe a timeout.

use std::future::Future;
use std::time::Duration;

use contracts::inbound::{EventKind, Inbound, InboundEvent, ResourceRef};
use contracts::va::{CreateVa, IssuedVa, ProviderVaState, UpdateVa, VaHandle, VaStatusReport};
use contracts::{
    Amount, Customer, ErrorKind, InboundNotifications, OurReference, ProviderError, VirtualAccounts,
};
use rand::Rng;
use time::OffsetDateTime;

use super::{
    CheckResult, Report, amount, expect_acknowledgements, expect_refused, expect_same_event_id,
    inbound_request, one_event, sim_failed,
};
use crate::bni::{BillingState, BniSimulator};
use crate::callback::{CapturedCallback, SimError, Tamper};
use crate::faults::{Fault, FaultRule, Faults};
use crate::nicepay::{NicepaySimulator, TransactionState};

/// How long a [`Fault::HangAfterEffect`] holds the provider's answer back.
pub const HANG_MS: u64 = 2_000;

/// How long one check may take before it counts as failed (a hung adapter).
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// The billed amount of every VA the suite creates, in rupiah.
const BILLED: i64 = 150_000;

/// The operations a check may inject faults into or count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VaOp {
    /// Issue a VA.
    Create,
    /// Ask for a VA's status.
    Inquire,
    /// Deactivate a VA.
    Cancel,
}

/// A VA as the simulated provider holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulatedVa {
    /// The number the customer pays to.
    pub va_number: String,
    /// The billed amount, in rupiah.
    pub amount: i64,
    /// Whether it still takes payments.
    pub open: bool,
}

/// What the checks need from the provider's side. Implemented here for every simulator
/// whose provider offers virtual accounts.
pub trait VaSimulator: Send + Sync + std::fmt::Debug {
    /// The simulator's own name of `op`, as its [`Faults`] and [`Self::calls`] know it.
    fn op_name(&self, op: VaOp) -> &'static str;

    /// The fault rules the simulator's requests consult.
    fn faults(&self) -> Faults;

    /// How many requests of `op` (an [`Self::op_name`]) reached the provider's logic.
    fn calls(&self, op: &str) -> usize;

    /// The VA created under our `reference`, if the provider holds one.
    fn va(&self, reference: &str) -> Option<SimulatedVa>;

    /// How many VAs the provider holds in all.
    fn va_count(&self) -> usize;

    /// Records a payment of `amount` into the VA of `reference` and returns the callback
    /// the provider would send for it, without sending it.
    fn pay(&self, reference: &str, amount: i64) -> Result<CapturedCallback, SimError>;

    /// The callback of the last payment into the VA of `reference` again, built afresh
    /// and spoiled as `tamper` says (each simulator documents what its tampering
    /// changes), without sending it.
    fn callback_for_last_payment(
        &self,
        reference: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError>;

    /// The token request the provider sends before notifying (SNAP symmetric set-up), or
    /// `None` when it notifies without one.
    fn token_request(&self) -> Option<CapturedCallback> {
        None
    }

    /// Hands the simulator the token the adapter issued (from [`Self::token_request`]'s
    /// answer), for the callbacks it builds next.
    fn use_token(&self, _token: &str) {}

    /// Every access token the provider issued to the adapter so far expires now (SNAP);
    /// nothing for providers without tokens.
    fn expire_tokens(&self) {}
}

impl VaSimulator for BniSimulator {
    fn op_name(&self, op: VaOp) -> &'static str {
        match op {
            VaOp::Create => "createbilling",
            VaOp::Inquire => "inquirybilling",
            VaOp::Cancel => "inactivebilling",
        }
    }

    fn faults(&self) -> Faults {
        BniSimulator::faults(self)
    }

    fn calls(&self, op: &str) -> usize {
        BniSimulator::calls(self, op)
    }

    fn va(&self, reference: &str) -> Option<SimulatedVa> {
        self.billing(reference).map(|billing| SimulatedVa {
            va_number: billing.virtual_account,
            amount: billing.trx_amount,
            open: billing.state == BillingState::Active,
        })
    }

    fn va_count(&self) -> usize {
        self.billings().len()
    }

    fn pay(&self, reference: &str, amount: i64) -> Result<CapturedCallback, SimError> {
        self.pay_and_capture(reference, amount)
    }

    fn callback_for_last_payment(
        &self,
        reference: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        BniSimulator::callback_for_last_payment(self, reference, tamper)
    }
}

impl VaSimulator for NicepaySimulator {
    fn op_name(&self, op: VaOp) -> &'static str {
        match op {
            VaOp::Create => "registration",
            VaOp::Inquire => "inquiry",
            VaOp::Cancel => "cancel",
        }
    }

    fn faults(&self) -> Faults {
        NicepaySimulator::faults(self)
    }

    fn calls(&self, op: &str) -> usize {
        NicepaySimulator::calls(self, op)
    }

    fn va(&self, reference: &str) -> Option<SimulatedVa> {
        // `transaction` also finds by tXid or VA number; only our referenceNo counts here.
        let found = self.transaction(reference)?;
        (found.reference_no == reference).then(|| SimulatedVa {
            va_number: found.vacct_no,
            amount: found.amt,
            open: found.state == TransactionState::Unpaid,
        })
    }

    fn va_count(&self) -> usize {
        self.transactions().len()
    }

    fn pay(&self, reference: &str, amount: i64) -> Result<CapturedCallback, SimError> {
        self.pay_and_capture(reference, amount)
    }

    fn callback_for_last_payment(
        &self,
        reference: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError> {
        NicepaySimulator::callback_for_last_payment(self, reference, tamper)
    }
}

/// Runs every check in order against `va` and `inbound` (usually one adapter) through
/// `sim`, and reports which passed and which failed.
pub async fn run_all(
    va: &dyn VirtualAccounts,
    inbound: &dyn InboundNotifications,
    sim: &dyn VaSimulator,
) -> Report {
    let mut report = Report::new(format!("virtual-account conformance of {va:?}"));
    report.record(
        "create_issues_a_va_the_provider_holds",
        guarded(sim, create_issues_a_va_the_provider_holds(va, sim)).await,
    );
    report.record(
        "inquiry_finds_an_active_va_and_not_an_unknown_one",
        guarded(
            sim,
            inquiry_finds_an_active_va_and_not_an_unknown_one(va, sim),
        )
        .await,
    );
    report.record(
        "create_timing_out_after_the_effect_is_ambiguous_and_resolved_by_inquiry",
        guarded(
            sim,
            create_timing_out_after_the_effect_is_ambiguous_and_resolved_by_inquiry(va, sim),
        )
        .await,
    );
    report.record(
        "provider_outage_is_retryable_and_a_garbled_answer_is_ambiguous",
        guarded(
            sim,
            provider_outage_is_retryable_and_a_garbled_answer_is_ambiguous(va, sim),
        )
        .await,
    );
    report.record(
        "duplicate_create_never_issues_a_second_va",
        guarded(sim, duplicate_create_never_issues_a_second_va(va, sim)).await,
    );
    report.record(
        "payment_shows_in_inquiry_and_in_one_verified_callback_event",
        guarded(
            sim,
            payment_shows_in_inquiry_and_in_one_verified_callback_event(va, inbound, sim),
        )
        .await,
    );
    report.record(
        "cancel_closes_an_unpaid_va_and_refuses_a_paid_one",
        guarded(
            sim,
            cancel_closes_an_unpaid_va_and_refuses_a_paid_one(va, sim),
        )
        .await,
    );
    report.record(
        "update_changes_the_amount_or_says_not_supported",
        guarded(
            sim,
            update_changes_the_amount_or_says_not_supported(va, sim),
        )
        .await,
    );
    report.record(
        "an_expired_token_costs_no_failed_request",
        guarded(sim, an_expired_token_costs_no_failed_request(va, sim)).await,
    );
    report
}

/// Runs one check with no faults left over from another, within [`CHECK_TIMEOUT`].
async fn guarded(sim: &dyn VaSimulator, check: impl Future<Output = CheckResult>) -> CheckResult {
    sim.faults().clear();
    let result = tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(format!("did not finish within {CHECK_TIMEOUT:?}")));
    sim.faults().clear();
    result
}

/// `create` answers a VA number, and the provider holds an open VA with that number and
/// the billed amount under our reference.
pub async fn create_issues_a_va_the_provider_holds(
    va: &dyn VirtualAccounts,
    sim: &dyn VaSimulator,
) -> CheckResult {
    let (request, issued) = create_one(va, "NEW").await?;
    if issued.va_number.trim().is_empty() {
        return Err("create answered an empty VA number".to_owned());
    }
    let held = held_by_provider(sim, &request.reference)?;
    if held.va_number != issued.va_number {
        return Err(format!(
            "create answered VA {} but the provider issued {}",
            issued.va_number, held.va_number
        ));
    }
    if held.amount != BILLED || !held.open {
        return Err(format!(
            "the provider holds {held:?}, not an open VA for {BILLED}"
        ));
    }
    Ok(())
}

/// Inquiry right after create says `Active` (with the issued VA number when it reports
/// one); inquiry by a reference the provider never saw is `NotFound`.
///
/// [`VaStatusReport`] carries no reference of its own: "with our reference" means the
/// inquiry was made by our reference and answered about the VA created under it.
pub async fn inquiry_finds_an_active_va_and_not_an_unknown_one(
    va: &dyn VirtualAccounts,
    sim: &dyn VaSimulator,
) -> CheckResult {
    let (request, issued) = create_one(va, "INQ").await?;
    let report = inquire(va, &handle(va, &request, Some(&issued))).await?;
    expect_state(&report, &[ProviderVaState::Active], "right after create")?;
    expect_same_va_number(&report, &issued)?;
    // With gateway-allocated numbers the gateway always knows the number it asks about.
    let number = new_serial(va).and_then(|serial| va.va_number_for(serial));
    let unknown = VaHandle::new(new_reference("UNK"), None, number, billed()?);
    match va.inquire(&unknown).await {
        Err(err) if err.kind == ErrorKind::NotFound => {}
        Err(err) => {
            return Err(format!(
                "inquiry of an unknown reference: want NotFound, got {err}"
            ));
        }
        Ok(report) => {
            return Err(format!(
                "inquiry of an unknown reference answered {report:?}"
            ));
        }
    }
    if sim.va(unknown.reference.as_str()).is_some() {
        return Err("inquiry created a VA at the provider".to_owned());
    }
    Ok(())
}

/// A create whose answer never arrives (the provider acted, then hung) is ambiguous —
/// never success, never `Unavailable` (which would let the gateway fail over and issue a
/// second VA). Inquiry by the same reference alone (with the number the gateway recorded
/// beforehand, for adapters that take gateway-allocated numbers) then finds it `Active`,
/// which is how the gateway resolves the timeout without a second create; the provider
/// saw exactly one create.
pub async fn create_timing_out_after_the_effect_is_ambiguous_and_resolved_by_inquiry(
    va: &dyn VirtualAccounts,
    sim: &dyn VaSimulator,
) -> CheckResult {
    let op = sim.op_name(VaOp::Create);
    let before = sim.calls(op);
    sim.faults()
        .push(FaultRule::once(op, Fault::HangAfterEffect { ms: HANG_MS }));
    let request = create_request(va, "HANG")?;
    match va.create(&request).await {
        Err(err) if err.kind.is_ambiguous() => {}
        Err(err) => {
            return Err(format!(
                "create that hung after the effect: want Timeout or Protocol, got {err}"
            ));
        }
        Ok(issued) => {
            return Err(format!(
                "create that hung after the effect answered Ok ({})",
                issued.va_number
            ));
        }
    }
    // What the gateway has after a timeout: our reference and the amount, plus the number
    // it recorded before calling when it allocates numbers; nothing the provider answered.
    let by_reference = handle(va, &request, None);
    let report = inquire(va, &by_reference).await?;
    expect_state(
        &report,
        &[ProviderVaState::Active],
        "after a timed-out create",
    )?;
    let creates = sim.calls(op) - before;
    if creates != 1 {
        return Err(format!(
            "the provider saw {creates} creates, want exactly 1"
        ));
    }
    held_by_provider(sim, &request.reference).map(|_| ())
}

/// A provider answering 503 is `Unavailable` and retryable (and the retried create then
/// succeeds, since nothing happened); a garbled 200 answer to create is ambiguous
/// (`Protocol` or `Timeout`), never success.
pub async fn provider_outage_is_retryable_and_a_garbled_answer_is_ambiguous(
    va: &dyn VirtualAccounts,
    sim: &dyn VaSimulator,
) -> CheckResult {
    let create_op = sim.op_name(VaOp::Create);
    let request = create_request(va, "DOWN")?;
    sim.faults().push(FaultRule::once(create_op, Fault::Down));
    expect_unavailable(
        va.create(&request).await.map(|_| ()),
        "create during an outage",
    )?;
    create(va, &request).await?;

    let inquire_op = sim.op_name(VaOp::Inquire);
    sim.faults()
        .push(FaultRule::once(inquire_op, Fault::Status { code: 503 }));
    let result = va.inquire(&handle(va, &request, None)).await.map(|_| ());
    expect_unavailable(result, "inquiry answered HTTP 503")?;

    sim.faults()
        .push(FaultRule::once(create_op, Fault::Malformed));
    match va.create(&create_request(va, "GARB")?).await {
        Err(err) if err.kind.is_ambiguous() => Ok(()),
        Err(err) => Err(format!(
            "create with a garbled answer: want Protocol or Timeout, got {err}"
        )),
        Ok(issued) => Err(format!(
            "create with a garbled answer answered Ok ({})",
            issued.va_number
        )),
    }
}

/// Creating again with the same reference is `Duplicate` (or, if the adapter resolves it,
/// an `Ok` naming the same VA number); the provider never holds a second VA for it.
pub async fn duplicate_create_never_issues_a_second_va(
    va: &dyn VirtualAccounts,
    sim: &dyn VaSimulator,
) -> CheckResult {
    let (request, issued) = create_one(va, "DUP").await?;
    let count = sim.va_count();
    match va.create(&request).await {
        Err(err) if err.kind == ErrorKind::Duplicate => {}
        Ok(again) if again.va_number == issued.va_number => {}
        Ok(again) => {
            return Err(format!(
                "second create answered another VA ({} after {})",
                again.va_number, issued.va_number
            ));
        }
        Err(err) => return Err(format!("second create: want Duplicate, got {err}")),
    }
    if sim.va_count() != count {
        return Err("the second create made the provider hold another VA".to_owned());
    }
    let held = held_by_provider(sim, &request.reference)?;
    if held.va_number != issued.va_number {
        return Err(format!("the provider now holds VA {}", held.va_number));
    }
    Ok(())
}

/// After the provider takes a payment: inquiry says `Paid` with the paid amount; the
/// provider's callback verifies into exactly one `VaPayment` for our VA and amount, with
/// a `provider_event_id` that is the same when the same request is parsed twice and when
/// the provider sends the callback again; a tampered or wrongly keyed callback is
/// refused (`InvalidSignature` or `Rejected`); the acknowledgement of an accepted
/// callback is 2xx and of a rejected one is not.
pub async fn payment_shows_in_inquiry_and_in_one_verified_callback_event(
    va: &dyn VirtualAccounts,
    inbound: &dyn InboundNotifications,
    sim: &dyn VaSimulator,
) -> CheckResult {
    let (request, issued) = create_one(va, "PAY").await?;
    let reference = request.reference.as_str();
    obtain_token(inbound, sim).await?;
    let callback = sim.pay(reference, BILLED).map_err(sim_failed)?;
    let report = inquire(va, &handle(va, &request, Some(&issued))).await?;
    expect_state(&report, &[ProviderVaState::Paid], "after the payment")?;
    if report.paid_amount != Some(billed()?) {
        return Err(format!(
            "inquiry reports paid_amount {:?}, want {BILLED}",
            report.paid_amount
        ));
    }
    let event = one_event(inbound, &callback).await?;
    expect_payment_of_our_va(&event, &request, &issued)?;
    let again = one_event(inbound, &callback).await?;
    expect_same_event_id(&event, &again, "the same request parsed twice")?;
    let resent = sim
        .callback_for_last_payment(reference, Tamper::None)
        .map_err(sim_failed)?;
    expect_same_event_id(
        &event,
        &one_event(inbound, &resent).await?,
        "a resent callback",
    )?;
    for tamper in [Tamper::FlipByte, Tamper::WrongKey] {
        let spoiled = sim
            .callback_for_last_payment(reference, tamper)
            .map_err(sim_failed)?;
        expect_refused(inbound, &spoiled, tamper).await?;
    }
    expect_acknowledgements(inbound, &inbound_request(&callback))
}

/// Cancel of an unpaid VA succeeds and inquiry no longer says `Active` (BNI reports
/// `Inactive`: `va_status` 2, unpaid, unexpired; NICEPAY `Expired`: a cancelled VA reads
/// as `status` 4, provider notes 1.15 #2); cancel of a paid VA is `Conflict` (or
/// `Rejected`), never success.
pub async fn cancel_closes_an_unpaid_va_and_refuses_a_paid_one(
    va: &dyn VirtualAccounts,
    sim: &dyn VaSimulator,
) -> CheckResult {
    let (request, issued) = create_one(va, "CNL").await?;
    let unpaid = handle(va, &request, Some(&issued));
    va.cancel(&unpaid)
        .await
        .map_err(|err| format!("cancel of an unpaid VA failed: {err}"))?;
    let report = inquire(va, &unpaid).await?;
    let closed = [
        ProviderVaState::Cancelled,
        ProviderVaState::Expired,
        ProviderVaState::Inactive,
        ProviderVaState::Unknown,
    ];
    expect_state(&report, &closed, "after cancel")?;
    if held_by_provider(sim, &request.reference)?.open {
        return Err("the provider still takes payments into the cancelled VA".to_owned());
    }

    let (request, issued) = create_one(va, "CNP").await?;
    sim.pay(request.reference.as_str(), BILLED)
        .map_err(sim_failed)?;
    match va.cancel(&handle(va, &request, Some(&issued))).await {
        Err(err) if matches!(err.kind, ErrorKind::Conflict | ErrorKind::Rejected) => Ok(()),
        Err(err) => Err(format!(
            "cancel of a paid VA: want Conflict or Rejected, got {err}"
        )),
        Ok(()) => Err("cancel of a paid VA answered Ok".to_owned()),
    }
}

/// Update either succeeds and the provider then holds the new amount, or answers
/// `NotSupported` explicitly (NICEPAY V2 has no update) and changes nothing.
pub async fn update_changes_the_amount_or_says_not_supported(
    va: &dyn VirtualAccounts,
    sim: &dyn VaSimulator,
) -> CheckResult {
    let (request, issued) = create_one(va, "UPD").await?;
    let new_amount = BILLED + 25_000;
    let update = UpdateVa::new(
        handle(va, &request, Some(&issued)),
        amount(new_amount)?,
        request.expires_at + time::Duration::days(1),
        request.customer.clone(),
        request.description.clone(),
    );
    let want = match va.update(&update).await {
        Ok(()) => new_amount,
        Err(err) if err.kind == ErrorKind::NotSupported => BILLED,
        Err(err) => return Err(format!("update: want Ok or NotSupported, got {err}")),
    };
    let held = held_by_provider(sim, &request.reference)?;
    if held.amount != want {
        return Err(format!(
            "the provider holds amount {}, want {want}",
            held.amount
        ));
    }
    Ok(())
}

/// A provider token expiring between two calls (SNAP B2B tokens live 900 s) costs no
/// failed request: after [`VaSimulator::expire_tokens`] the next create succeeds and the
/// provider holds its VA. Trivially true for providers without tokens.
pub async fn an_expired_token_costs_no_failed_request(
    va: &dyn VirtualAccounts,
    sim: &dyn VaSimulator,
) -> CheckResult {
    create_one(va, "TOK").await?;
    sim.expire_tokens();
    let (request, issued) = create_one(va, "TKX")
        .await
        .map_err(|why| format!("after the provider's token expired: {why}"))?;
    let held = held_by_provider(sim, &request.reference)?;
    if held.va_number != issued.va_number {
        return Err(format!(
            "create answered VA {} but the provider issued {}",
            issued.va_number, held.va_number
        ));
    }
    Ok(())
}

// ---- helpers ----------------------------------------------------------------------------

/// A reference no other check (or earlier run) uses: `CF` + tag + 8 random digits, short
/// enough for every provider (BNI `trx_id` takes 30 characters).
fn new_reference(tag: &str) -> OurReference {
    let suffix: u32 = rand::rng().random_range(0..100_000_000);
    OurReference(format!("CF{tag}{suffix:08}"))
}

fn billed() -> Result<Amount, String> {
    amount(BILLED)
}

/// A fresh serial below `10^digits` (never 0), for adapters whose numbering has one.
fn new_serial(va: &dyn VirtualAccounts) -> Option<u64> {
    let digits = va.numbering().serial_digits()?;
    let limit = 10u64.saturating_pow(u32::from(digits.min(19)));
    Some(rand::rng().random_range(1..limit.max(2)))
}

fn create_request(va: &dyn VirtualAccounts, tag: &str) -> Result<CreateVa, String> {
    let customer = Customer {
        name: "Budi Santoso".to_owned(),
        phone: Some("081234567890".to_owned()),
        email: Some("budi@example.com".to_owned()),
    };
    let expires_at = OffsetDateTime::now_utc() + time::Duration::days(1);
    let request = CreateVa::new(new_reference(tag), billed()?, customer, expires_at)
        .with_serial(new_serial(va));
    Ok(request.with_description(Some("Conformance test".to_owned())))
}

async fn create(va: &dyn VirtualAccounts, request: &CreateVa) -> Result<IssuedVa, String> {
    va.create(request)
        .await
        .map_err(|err| format!("create {} failed: {err}", request.reference))
}

async fn create_one(va: &dyn VirtualAccounts, tag: &str) -> Result<(CreateVa, IssuedVa), String> {
    let request = create_request(va, tag)?;
    let issued = create(va, &request).await?;
    Ok((request, issued))
}

/// The handle the gateway keeps for a VA: everything create answered, when it answered;
/// without an answer, the number the gateway recorded before calling the provider when it
/// allocates numbers ([`VirtualAccounts::va_number_for`] of the request's serial).
fn handle(va: &dyn VirtualAccounts, request: &CreateVa, issued: Option<&IssuedVa>) -> VaHandle {
    let recorded = || request.serial.and_then(|serial| va.va_number_for(serial));
    VaHandle::new(
        request.reference.clone(),
        issued.and_then(|i| i.provider_reference.clone()),
        issued.map(|i| i.va_number.clone()).or_else(recorded),
        request.amount,
    )
}

async fn inquire(va: &dyn VirtualAccounts, handle: &VaHandle) -> Result<VaStatusReport, String> {
    va.inquire(handle)
        .await
        .map_err(|err| format!("inquiry of {} failed: {err}", handle.reference))
}

fn held_by_provider(
    sim: &dyn VaSimulator,
    reference: &OurReference,
) -> Result<SimulatedVa, String> {
    sim.va(reference.as_str())
        .ok_or_else(|| format!("the provider holds no VA for {reference}"))
}

fn expect_state(report: &VaStatusReport, allowed: &[ProviderVaState], when: &str) -> CheckResult {
    if allowed.contains(&report.state) {
        return Ok(());
    }
    Err(format!(
        "inquiry {when} says {:?} (provider status {:?}), want one of {allowed:?}",
        report.state, report.provider_status
    ))
}

fn expect_same_va_number(report: &VaStatusReport, issued: &IssuedVa) -> CheckResult {
    match &report.va_number {
        Some(number) if *number != issued.va_number => Err(format!(
            "inquiry reports VA {number}, create answered {}",
            issued.va_number
        )),
        _ => Ok(()),
    }
}

fn expect_unavailable(result: Result<(), ProviderError>, what: &str) -> CheckResult {
    match result {
        Err(err) if err.kind == ErrorKind::Unavailable && err.is_retryable() => Ok(()),
        Err(err) => Err(format!("{what}: want Unavailable (retryable), got {err}")),
        Ok(()) => Err(format!("{what}: answered Ok")),
    }
}

/// Hands the provider's token request (if it sends one) to the adapter and the adapter's
/// token to the simulator.
async fn obtain_token(inbound: &dyn InboundNotifications, sim: &dyn VaSimulator) -> CheckResult {
    let Some(request) = sim.token_request() else {
        return Ok(());
    };
    let parsed = inbound
        .verify_and_parse(&inbound_request(&request))
        .await
        .map_err(|err| format!("the provider's token request was refused: {err}"))?;
    let Inbound::Reply(reply) = parsed else {
        return Err(format!(
            "the provider's token request gave {parsed:?}, want a reply"
        ));
    };
    let answer: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    let token = answer
        .get("accessToken")
        .and_then(serde_json::Value::as_str);
    match token {
        Some(token) if reply.status == 200 && !token.is_empty() => {
            sim.use_token(token);
            Ok(())
        }
        _ => Err(format!(
            "the token reply is HTTP {} without an accessToken: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        )),
    }
}

/// A `VaPayment` of the billed amount, naming our VA and nothing else.
fn expect_payment_of_our_va(
    event: &InboundEvent,
    request: &CreateVa,
    issued: &IssuedVa,
) -> CheckResult {
    let EventKind::VaPayment {
        amount,
        cumulative,
        billed,
        ..
    } = &event.kind
    else {
        return Err(format!(
            "the callback event is {:?}, want VaPayment",
            event.kind
        ));
    };
    let want = request.amount;
    let amounts_ok =
        *amount == want && cumulative.is_none_or(|c| c == want) && billed.is_none_or(|b| b == want);
    if !amounts_ok {
        return Err(format!(
            "the payment event says amount {amount}, cumulative {cumulative:?}, billed \
             {billed:?}; want {want}"
        ));
    }
    if event.provider_event_id.trim().is_empty() {
        return Err("the payment event has an empty provider_event_id".to_owned());
    }
    expect_names_our_va(&event.resource, request, issued)
}

/// The event must name our VA by at least one identifier, and contradict none.
fn expect_names_our_va(
    resource: &ResourceRef,
    request: &CreateVa,
    issued: &IssuedVa,
) -> CheckResult {
    let ResourceRef::VirtualAccount {
        reference,
        provider_reference,
        va_number,
    } = resource
    else {
        return Err(format!("the payment event is about {resource:?}, not a VA"));
    };
    let reference_ok = reference.as_ref().map(|r| *r == request.reference);
    let provider_ok = provider_reference
        .as_ref()
        .zip(issued.provider_reference.as_ref())
        .map(|(got, ours)| got == ours);
    let number_ok = va_number.as_ref().map(|n| *n == issued.va_number);
    let verdicts = [reference_ok, provider_ok, number_ok];
    if verdicts.contains(&Some(false)) || !verdicts.contains(&Some(true)) {
        return Err(format!(
            "the payment event names {resource:?}, want our VA ({}, {})",
            request.reference, issued.va_number
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_paths_split_at_the_instance_root() {
        let cases = [
            (
                "/v1/callbacks/doku_main/v1.0/access-token/b2b",
                "v1.0/access-token/b2b",
            ),
            ("/v1/callbacks/doku_main", ""),
            ("/v1/callbacks/doku_main/payments?x=1", "payments"),
            ("/notify/here", "notify/here"),
            ("/", ""),
        ];
        for (path, sub_path) in cases {
            assert_eq!(super::super::callback_sub_path(path), sub_path, "{path}");
        }
        let captured = CapturedCallback {
            url: Some(
                "http://gw.test/v1/callbacks/doku_main/v1/transfer-va/payment?a=b".to_owned(),
            ),
            method: "POST".to_owned(),
            headers: Vec::new(),
            body: axum::body::Bytes::new(),
        };
        let request = inbound_request(&captured);
        assert_eq!(request.sub_path, "v1/transfer-va/payment");
        assert_eq!(
            request.path,
            "/v1/callbacks/doku_main/v1/transfer-va/payment?a=b"
        );
    }
}
