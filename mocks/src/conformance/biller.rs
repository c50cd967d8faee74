//! The biller conformance suite: what every [`Biller`] adapter (and the
//! [`InboundNotifications`] half that reads its webhooks) must do, checked through the
//! biller's simulator.
//!
//! Every check buys under fresh references (`CB` + a tag + ten digits: upper-case
//! alphanumerics, as billers want them), so the checks are independent and may run in any
//! order against one simulator; a check that changes the simulator's deposit puts it back.
//! [`run_all`] runs them in the order below and returns a [`Report`]:
//!
//! 1. [`balance_is_the_deposit_the_biller_holds`]
//! 2. [`products_show_prepaid_prices_postpaid_admin_fees_and_what_is_unavailable`]
//! 3. [`a_prepaid_purchase_succeeds_with_a_serial_number_and_costs_what_the_deposit_lost`]
//! 4. [`a_pln_token_purchase_gives_the_twenty_digit_token`]
//! 5. [`a_failed_purchase_is_a_failed_transaction_not_an_error_and_costs_nothing`]
//! 6. [`a_pending_purchase_is_resolved_by_status_once_the_biller_settles_it`]
//! 7. [`an_insufficient_deposit_is_refused_and_books_nothing`]
//! 8. [`a_purchase_timing_out_after_the_effect_is_ambiguous_and_found_by_status`]
//! 9. [`an_outage_before_the_effect_books_nothing_and_is_never_a_failure`]
//! 10. [`postpaid_inquiries_give_the_bill_and_payments_follow_the_script`]
//! 11. [`postpaid_status_of_an_unknown_reference_is_not_found`]
//! 12. [`prepaid_status_without_a_recent_send_is_refused_without_a_request`]
//! 13. [`webhooks_verify_into_one_bill_update_and_forgeries_are_refused`]
//!
//! The simulator's pending transactions must stay pending for the first two calls of
//! check 6 (Digiflazz: `pending_after` of a second or more, or zero). The adapter under
//! test must time out well below [`HANG_MS`] (the workspace tests use 500 ms), or check 8
//! cannot observe a timeout. Webhooks reach [`InboundNotifications::verify_and_parse`] as
//! the gateway's callback route hands them over: a URL path under
//! `/v1/callbacks/{instance}/` gives that `sub_path`, any other path is taken whole.

use std::future::Future;
use std::time::Duration;

use contracts::biller::{BillInquiry, BillerOrder, BillerTransaction, BillerTxState};
use contracts::inbound::{EventKind, Inbound, InboundEvent, ResourceRef};
use contracts::{Biller, ErrorKind, InboundNotifications, OurReference, ProviderError};
use rand::Rng;
use time::OffsetDateTime;

use super::{
    CheckResult, Report, expect_acknowledgements, expect_same_event_id, inbound_request, one_event,
    sim_failed,
};
use crate::callback::{CapturedCallback, SimError, Tamper};
use crate::faults::{Fault, FaultRule, Faults};

/// How long a [`Fault::HangAfterEffect`] holds the biller's answer back.
pub const HANG_MS: u64 = 2_000;

/// How long one check may take before it counts as failed (a hung adapter).
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// The operations a check may inject faults into or count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BillerOp {
    /// The deposit balance.
    Balance,
    /// The price list.
    Products,
    /// A prepaid customer check (PLN meter).
    ValidateCustomer,
    /// A prepaid purchase.
    Purchase,
    /// A prepaid status check (Digiflazz: the purchase re-submitted).
    PrepaidStatus,
    /// A postpaid inquiry.
    Inquiry,
    /// A postpaid payment.
    Pay,
    /// A postpaid status check.
    PostpaidStatus,
}

impl BillerOp {
    /// Every operation.
    pub const ALL: [BillerOp; 8] = [
        BillerOp::Balance,
        BillerOp::Products,
        BillerOp::ValidateCustomer,
        BillerOp::Purchase,
        BillerOp::PrepaidStatus,
        BillerOp::Inquiry,
        BillerOp::Pay,
        BillerOp::PostpaidStatus,
    ];
}

/// Customer numbers of prepaid products whose outcome the simulator scripts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrepaidNumbers {
    /// Succeeds at once.
    pub success: String,
    /// Fails at once (the biller books the failure).
    pub failure: String,
    /// Pending, later a success.
    pub pending_success: String,
    /// Pending, later a failure.
    pub pending_failure: String,
}

/// Customer numbers of the postpaid product whose outcome the simulator scripts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostpaidNumbers {
    /// One bill sheet, paid.
    pub one_sheet: String,
    /// Two bill sheets, paid.
    pub two_sheets: String,
    /// The inquiry fails.
    pub inquiry_fails: String,
    /// The inquiry finds a bill; its payment fails.
    pub payment_fails: String,
}

/// The amounts of one bill sheet of the postpaid product.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SheetAmounts {
    /// The bill.
    pub amount: i64,
    /// The admin fee.
    pub admin_fee: i64,
    /// The penalty.
    pub penalty: i64,
    /// What the biller debits us for it.
    pub biller_cost: i64,
}

/// The simulator's test data: which products and customer numbers do what.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BillerScript {
    /// A prepaid product on sale.
    pub prepaid_sku: String,
    /// Its price.
    pub prepaid_price: i64,
    /// A PLN prepaid (token) product.
    pub pln_sku: String,
    /// A meter that buys a token.
    pub pln_meter: String,
    /// A product listed but not on sale.
    pub unavailable_sku: String,
    /// A postpaid product.
    pub postpaid_sku: String,
    /// The prepaid numbers (for `prepaid_sku`).
    pub prepaid: PrepaidNumbers,
    /// The postpaid numbers (for `postpaid_sku`).
    pub postpaid: PostpaidNumbers,
    /// One sheet of `postpaid_sku`'s bills.
    pub sheet: SheetAmounts,
    /// Whether a prepaid status check re-submits the purchase (Digiflazz): then an adapter
    /// must refuse it for an order without a recent `sent_at`.
    pub status_resubmits: bool,
}

/// What the checks need from the biller's side. Its acts change state only: the checks
/// hand webhooks to the adapter themselves.
pub trait BillerSimulator: Send + Sync + std::fmt::Debug {
    /// The simulator's own name of `op`, as its [`Faults`] and [`Self::calls`] know it.
    fn op_name(&self, op: BillerOp) -> &'static str;

    /// The fault rules the simulator's requests consult.
    fn faults(&self) -> Faults;

    /// How many requests of `op_name` (an [`Self::op_name`]) reached the biller's logic.
    fn calls(&self, op_name: &str) -> usize;

    /// The test data.
    fn script(&self) -> BillerScript;

    /// Our deposit at the biller, in rupiah.
    fn deposit(&self) -> i64;

    /// Sets our deposit at the biller.
    fn set_deposit(&self, rupiah: i64);

    /// The pending transaction of `reference` ends, a success or a failure (`Ok` also when
    /// it already ended that way).
    fn settle(&self, reference: &str, success: bool) -> Result<(), SimError>;

    /// How many transactions the biller booked under `reference` (2 would be a double
    /// purchase).
    fn transactions_for(&self, reference: &str) -> usize;

    /// The webhook the biller would send now about `reference`, built, not posted.
    fn webhook_for(&self, reference: &str) -> Result<CapturedCallback, SimError>;

    /// [`Self::webhook_for`], spoiled as `tamper` says.
    fn tampered_webhook_for(
        &self,
        reference: &str,
        tamper: Tamper,
    ) -> Result<CapturedCallback, SimError>;

    /// The ping the biller sends when the webhook is saved.
    fn ping(&self) -> CapturedCallback;
}

/// Runs every check in order against `biller` and `inbound` (usually one adapter) through
/// `sim`, and reports which passed and which failed.
pub async fn run_all(
    biller: &dyn Biller,
    inbound: &dyn InboundNotifications,
    sim: &dyn BillerSimulator,
) -> Report {
    let mut report = Report::new(format!("biller conformance of {biller:?}"));
    report.record(
        "balance_is_the_deposit_the_biller_holds",
        guarded(sim, balance_is_the_deposit_the_biller_holds(biller, sim)).await,
    );
    report.record(
        "products_show_prepaid_prices_postpaid_admin_fees_and_what_is_unavailable",
        guarded(
            sim,
            products_show_prepaid_prices_postpaid_admin_fees_and_what_is_unavailable(biller, sim),
        )
        .await,
    );
    report.record(
        "a_prepaid_purchase_succeeds_with_a_serial_number_and_costs_what_the_deposit_lost",
        guarded(
            sim,
            a_prepaid_purchase_succeeds_with_a_serial_number_and_costs_what_the_deposit_lost(
                biller, sim,
            ),
        )
        .await,
    );
    report.record(
        "a_pln_token_purchase_gives_the_twenty_digit_token",
        guarded(
            sim,
            a_pln_token_purchase_gives_the_twenty_digit_token(biller, sim),
        )
        .await,
    );
    report.record(
        "a_failed_purchase_is_a_failed_transaction_not_an_error_and_costs_nothing",
        guarded(
            sim,
            a_failed_purchase_is_a_failed_transaction_not_an_error_and_costs_nothing(biller, sim),
        )
        .await,
    );
    report.record(
        "a_pending_purchase_is_resolved_by_status_once_the_biller_settles_it",
        guarded(
            sim,
            a_pending_purchase_is_resolved_by_status_once_the_biller_settles_it(biller, sim),
        )
        .await,
    );
    report.record(
        "an_insufficient_deposit_is_refused_and_books_nothing",
        guarded(
            sim,
            an_insufficient_deposit_is_refused_and_books_nothing(biller, sim),
        )
        .await,
    );
    report.record(
        "a_purchase_timing_out_after_the_effect_is_ambiguous_and_found_by_status",
        guarded(
            sim,
            a_purchase_timing_out_after_the_effect_is_ambiguous_and_found_by_status(biller, sim),
        )
        .await,
    );
    report.record(
        "an_outage_before_the_effect_books_nothing_and_is_never_a_failure",
        guarded(
            sim,
            an_outage_before_the_effect_books_nothing_and_is_never_a_failure(biller, sim),
        )
        .await,
    );
    report.record(
        "postpaid_inquiries_give_the_bill_and_payments_follow_the_script",
        guarded(
            sim,
            postpaid_inquiries_give_the_bill_and_payments_follow_the_script(biller, sim),
        )
        .await,
    );
    report.record(
        "postpaid_status_of_an_unknown_reference_is_not_found",
        guarded(
            sim,
            postpaid_status_of_an_unknown_reference_is_not_found(biller, sim),
        )
        .await,
    );
    report.record(
        "prepaid_status_without_a_recent_send_is_refused_without_a_request",
        guarded(
            sim,
            prepaid_status_without_a_recent_send_is_refused_without_a_request(biller, sim),
        )
        .await,
    );
    report.record(
        "webhooks_verify_into_one_bill_update_and_forgeries_are_refused",
        guarded(
            sim,
            webhooks_verify_into_one_bill_update_and_forgeries_are_refused(biller, inbound, sim),
        )
        .await,
    );
    report
}

/// Runs one check with no faults left over from another, within [`CHECK_TIMEOUT`].
async fn guarded(
    sim: &dyn BillerSimulator,
    check: impl Future<Output = CheckResult>,
) -> CheckResult {
    sim.faults().clear();
    let result = tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(format!("did not finish within {CHECK_TIMEOUT:?}")));
    sim.faults().clear();
    result
}

/// `balance` says what the biller holds, and follows it when it changes (no cached or
/// made-up figure).
pub async fn balance_is_the_deposit_the_biller_holds(
    biller: &dyn Biller,
    sim: &dyn BillerSimulator,
) -> CheckResult {
    expect_balance(biller, sim.deposit(), "at first").await?;
    let saved = SavedDeposit::new(sim);
    sim.set_deposit(saved.rupiah + 12_345);
    expect_balance(biller, saved.rupiah + 12_345, "after a top-up").await
}

/// The price list shows the prepaid product with its price, the postpaid product with
/// its admin fee, both available, and the product not on sale as unavailable.
pub async fn products_show_prepaid_prices_postpaid_admin_fees_and_what_is_unavailable(
    biller: &dyn Biller,
    sim: &dyn BillerSimulator,
) -> CheckResult {
    let script = sim.script();
    let products = biller
        .products()
        .await
        .map_err(|err| format!("products failed: {err}"))?;
    let find = |sku: &str| {
        products
            .iter()
            .find(|p| p.code.eq_ignore_ascii_case(sku))
            .ok_or_else(|| format!("the price list has no {sku}"))
    };
    let prepaid = find(&script.prepaid_sku)?;
    if prepaid.postpaid || !prepaid.available {
        return Err(format!(
            "{} should be prepaid and available: {prepaid:?}",
            prepaid.code
        ));
    }
    if prepaid.price.map(contracts::Amount::rupiah) != Some(script.prepaid_price) {
        return Err(format!(
            "{} has price {:?}, want {}",
            prepaid.code, prepaid.price, script.prepaid_price
        ));
    }
    let postpaid = find(&script.postpaid_sku)?;
    let admin = postpaid.admin_fee.map(contracts::Amount::rupiah);
    if !postpaid.postpaid || !postpaid.available || admin != Some(script.sheet.admin_fee) {
        return Err(format!(
            "{} should be postpaid, available, admin fee {}: {postpaid:?}",
            postpaid.code, script.sheet.admin_fee
        ));
    }
    let unavailable = find(&script.unavailable_sku)?;
    if unavailable.available {
        return Err(format!(
            "{} is not on sale but listed available",
            unavailable.code
        ));
    }
    Ok(())
}

/// A purchase of a number that succeeds is `Success` with a serial number; its
/// `biller_cost` is what the deposit lost and its `balance_after` the deposit now.
pub async fn a_prepaid_purchase_succeeds_with_a_serial_number_and_costs_what_the_deposit_lost(
    biller: &dyn Biller,
    sim: &dyn BillerSimulator,
) -> CheckResult {
    let script = sim.script();
    let before = sim.deposit();
    let order = order(&script.prepaid_sku, &script.prepaid.success, false, "PRE");
    let tx = purchase(biller, &order).await?;
    expect_state(&tx, &order, Want::Success, "a purchase that succeeds")?;
    expect_serial_number(&tx)?;
    let after = sim.deposit();
    let spent = before - after;
    if spent <= 0 || tx.biller_cost.map(contracts::Amount::rupiah) != Some(spent) {
        return Err(format!(
            "biller_cost is {:?} but the deposit went from {before} to {after}",
            tx.biller_cost
        ));
    }
    if tx.balance_after.map(contracts::Amount::rupiah) != Some(after) {
        return Err(format!(
            "balance_after is {:?}, want {after}",
            tx.balance_after
        ));
    }
    Ok(())
}

/// The PLN meter validates to a named customer, and a PLN prepaid purchase gives the
/// 20-digit token, the first twenty digits of its serial number.
pub async fn a_pln_token_purchase_gives_the_twenty_digit_token(
    biller: &dyn Biller,
    sim: &dyn BillerSimulator,
) -> CheckResult {
    let script = sim.script();
    let customer = biller
        .validate_customer(&script.pln_sku, &script.pln_meter)
        .await
        .map_err(|err| format!("validating the meter failed: {err}"))?;
    if customer.name.trim().is_empty() {
        return Err("the validated meter carries no customer name".to_owned());
    }
    let order = order(&script.pln_sku, &script.pln_meter, false, "PLN");
    let tx = purchase(biller, &order).await?;
    expect_state(&tx, &order, Want::Success, "a PLN token purchase")?;
    let serial = expect_serial_number(&tx)?;
    let Some(token) = &tx.token else {
        return Err(format!("no token out of serial number {serial:?}"));
    };
    let digits: String = serial
        .chars()
        .filter(char::is_ascii_digit)
        .take(20)
        .collect();
    if token.len() != 20 || !token.chars().all(|c| c.is_ascii_digit()) || *token != digits {
        return Err(format!(
            "token {token:?}, want the first 20 digits of {serial:?}"
        ));
    }
    Ok(())
}

/// A purchase the biller fails is `Ok` with a `Failed` state carrying the biller's code —
/// not an error, which would leave it ambiguous — and the deposit does not move.
pub async fn a_failed_purchase_is_a_failed_transaction_not_an_error_and_costs_nothing(
    biller: &dyn Biller,
    sim: &dyn BillerSimulator,
) -> CheckResult {
    let script = sim.script();
    let before = sim.deposit();
    let order = order(&script.prepaid_sku, &script.prepaid.failure, false, "FAI");
    let tx = purchase(biller, &order).await?;
    expect_state(&tx, &order, Want::Failed, "a purchase the biller fails")?;
    expect_deposit(sim, before, "after a failed purchase")
}

/// A pending purchase reads `Pending`, and so does its status; once the biller settles it,
/// status says `Success` (with a serial number). One that fails instead reads `Failed`
/// and the deposit is back where it was.
pub async fn a_pending_purchase_is_resolved_by_status_once_the_biller_settles_it(
    biller: &dyn Biller,
    sim: &dyn BillerSimulator,
) -> CheckResult {
    let script = sim.script();
    for (number, success) in [
        (&script.prepaid.pending_success, true),
        (&script.prepaid.pending_failure, false),
    ] {
        let before = sim.deposit();
        let order = order(&script.prepaid_sku, number, false, "PND");
        let tx = purchase(biller, &order).await?;
        expect_state(&tx, &order, Want::Pending, "a pending purchase")?;
        let tx = status(biller, &order).await?;
        expect_state(
            &tx,
            &order,
            Want::Pending,
            "status before the biller settles",
        )?;
        sim.settle(order.reference.as_str(), success)
            .map_err(sim_failed)?;
        let tx = status(biller, &order).await?;
        if success {
            expect_state(&tx, &order, Want::Success, "status after a success")?;
            expect_serial_number(&tx)?;
        } else {
            expect_state(&tx, &order, Want::Failed, "status after a failure")?;
            expect_deposit(sim, before, "after a pending purchase failed")?;
        }
    }
    Ok(())
}

/// A purchase the deposit cannot cover is `InsufficientBalance`, and the biller books
/// nothing.
pub async fn an_insufficient_deposit_is_refused_and_books_nothing(
    biller: &dyn Biller,
    sim: &dyn BillerSimulator,
) -> CheckResult {
    let script = sim.script();
    let _saved = SavedDeposit::new(sim);
    let low = script.prepaid_price - 1;
    sim.set_deposit(low);
    let order = order(&script.prepaid_sku, &script.prepaid.success, false, "LOW");
    let result = biller.purchase(&order).await;
    let booked = sim.transactions_for(order.reference.as_str());
    let left = sim.deposit();
    match result {
        Err(err) if err.kind == ErrorKind::InsufficientBalance => {}
        Err(err) => return Err(format!("want InsufficientBalance, got {err}")),
        Ok(tx) => {
            return Err(format!(
                "a purchase the deposit cannot cover answered {tx:?}"
            ));
        }
    }
    if booked != 0 || left != low {
        return Err(format!(
            "the biller booked {booked} transactions and the deposit went from {low} to {left}"
        ));
    }
    Ok(())
}

/// A purchase whose answer never arrives (the biller acted, then hung) is ambiguous
/// (`Timeout` or `Protocol`), never a success or a failure; status then finds the
/// transaction, and the biller holds exactly one under the reference.
pub async fn a_purchase_timing_out_after_the_effect_is_ambiguous_and_found_by_status(
    biller: &dyn Biller,
    sim: &dyn BillerSimulator,
) -> CheckResult {
    let script = sim.script();
    let op = sim.op_name(BillerOp::Purchase);
    sim.faults()
        .push(FaultRule::once(op, Fault::HangAfterEffect { ms: HANG_MS }));
    let order = order(&script.prepaid_sku, &script.prepaid.success, false, "HANG");
    expect_ambiguous(
        biller.purchase(&order).await,
        "a purchase that hung after the effect",
    )?;
    let tx = status(biller, &order).await?;
    expect_state(
        &tx,
        &order,
        Want::Success,
        "status after a timed-out purchase",
    )?;
    expect_booked_once(sim, &order)
}

/// During an outage, `balance` and `inquire` are `Unavailable` and retryable; a purchase
/// is `Unavailable` or ambiguous (an HTTP 5xx after sending cannot prove nothing
/// happened) and never a success or a failure, and the biller books nothing. The
/// gateway's next step — the retry after `Unavailable`, the status after an ambiguous
/// error — then books exactly one.
pub async fn an_outage_before_the_effect_books_nothing_and_is_never_a_failure(
    biller: &dyn Biller,
    sim: &dyn BillerSimulator,
) -> CheckResult {
    let script = sim.script();
    sim.faults()
        .push(FaultRule::once(sim.op_name(BillerOp::Balance), Fault::Down));
    expect_unavailable(biller.balance().await.map(drop), "balance during an outage")?;
    let bill = order(
        &script.postpaid_sku,
        &script.postpaid.one_sheet,
        true,
        "DWI",
    );
    sim.faults()
        .push(FaultRule::once(sim.op_name(BillerOp::Inquiry), Fault::Down));
    expect_unavailable(
        biller.inquire(&bill).await.map(drop),
        "an inquiry during an outage",
    )?;

    let op = sim.op_name(BillerOp::Purchase);
    for (fault, what) in [
        (Fault::Down, "a purchase during an outage"),
        (Fault::Status { code: 503 }, "a purchase answered HTTP 503"),
    ] {
        let order = order(&script.prepaid_sku, &script.prepaid.success, false, "DOWN");
        sim.faults().push(FaultRule::once(op, fault));
        let tx = match biller.purchase(&order).await {
            Err(err) if err.kind == ErrorKind::Unavailable && err.is_retryable() => {
                expect_nothing_booked(sim, &order, what)?;
                purchase(biller, &order).await?
            }
            Err(err) if err.kind.is_ambiguous() => {
                expect_nothing_booked(sim, &order, what)?;
                status(biller, &order).await?
            }
            Err(err) => return Err(format!("{what}: want Unavailable or ambiguous, got {err}")),
            Ok(tx) => return Err(format!("{what}: answered {tx:?}")),
        };
        expect_state(
            &tx,
            &order,
            Want::Success,
            &format!("the next step after {what}"),
        )?;
        expect_booked_once(sim, &order)?;
    }
    Ok(())
}

/// An inquiry gives the bill of one sheet and of two (amount, admin fee, penalty, what
/// the customer pays, what the biller debits, one period per sheet); paying it is
/// `Success` with a serial number and costs what the deposit lost. A number whose inquiry
/// fails is `Rejected` (an inquiry moves no money); a bill whose payment fails is paid
/// `Ok` with a `Failed` state.
pub async fn postpaid_inquiries_give_the_bill_and_payments_follow_the_script(
    biller: &dyn Biller,
    sim: &dyn BillerSimulator,
) -> CheckResult {
    let script = sim.script();
    let numbers = &script.postpaid;
    let two = order(&script.postpaid_sku, &numbers.two_sheets, true, "BIL");
    expect_bill(&inquire(biller, &two).await?, &two, script.sheet, 2)?;
    let one = order(&script.postpaid_sku, &numbers.one_sheet, true, "BIL");
    expect_bill(&inquire(biller, &one).await?, &one, script.sheet, 1)?;

    let before = sim.deposit();
    let paid = pay(biller, &one).await?;
    expect_state(&paid, &one, Want::Success, "paying a bill")?;
    expect_serial_number(&paid)?;
    let spent = before - sim.deposit();
    if spent != script.sheet.biller_cost
        || paid.biller_cost.map(contracts::Amount::rupiah) != Some(spent)
    {
        return Err(format!(
            "paying cost the deposit {spent}, biller_cost says {:?}, the bill said {}",
            paid.biller_cost, script.sheet.biller_cost
        ));
    }

    let refused = order(&script.postpaid_sku, &numbers.inquiry_fails, true, "BIF");
    match biller.inquire(&refused).await {
        Err(err) if err.kind == ErrorKind::Rejected => {}
        Err(err) => {
            return Err(format!(
                "an inquiry the biller fails: want Rejected, got {err}"
            ));
        }
        Ok(bill) => return Err(format!("an inquiry the biller fails answered {bill:?}")),
    }

    let failing = order(&script.postpaid_sku, &numbers.payment_fails, true, "BPF");
    inquire(biller, &failing).await?;
    let tx = pay(biller, &failing).await?;
    expect_state(&tx, &failing, Want::Failed, "a payment the biller fails")
}

/// Status of a postpaid reference the biller never paid is `Ok` with state `NotFound`,
/// and books nothing.
pub async fn postpaid_status_of_an_unknown_reference_is_not_found(
    biller: &dyn Biller,
    sim: &dyn BillerSimulator,
) -> CheckResult {
    let script = sim.script();
    let order = order(
        &script.postpaid_sku,
        &script.postpaid.one_sheet,
        true,
        "UNK",
    );
    let tx = status(biller, &order).await?;
    if tx.state != BillerTxState::NotFound {
        return Err(format!(
            "status of an unknown reference says {:?}, want NotFound",
            tx.state
        ));
    }
    expect_nothing_booked(sim, &order, "a status of an unknown reference")
}

/// When a prepaid status check re-submits the purchase, status of an order without
/// `sent_at`, or sent more than 90 days ago, is `Rejected` and sends nothing: the biller
/// sees no request and books nothing.
pub async fn prepaid_status_without_a_recent_send_is_refused_without_a_request(
    biller: &dyn Biller,
    sim: &dyn BillerSimulator,
) -> CheckResult {
    let script = sim.script();
    if !script.status_resubmits {
        return Ok(());
    }
    let before = total_calls(sim);
    let unsent = order(&script.prepaid_sku, &script.prepaid.success, false, "NOS").sent_at(None);
    let old_send = OffsetDateTime::now_utc() - time::Duration::days(90) - time::Duration::hours(1);
    let old = unsent.clone().sent_at(Some(old_send));
    for (order, what) in [(&unsent, "without sent_at"), (&old, "sent 90 days ago")] {
        match biller.status(order).await {
            Err(err) if err.kind == ErrorKind::Rejected => {}
            Err(err) => return Err(format!("prepaid status {what}: want Rejected, got {err}")),
            Ok(tx) => return Err(format!("prepaid status {what} answered {tx:?}")),
        }
    }
    let sent = total_calls(sim) - before;
    if sent != 0 {
        return Err(format!(
            "the biller saw {sent} requests: a re-submission would buy"
        ));
    }
    expect_nothing_booked(sim, &unsent, "a refused status")
}

/// The biller's webhook verifies into exactly one `BillUpdate` about our reference, with
/// the transaction's state: `Pending`, then, after it settles, `Success` under a new
/// `provider_event_id`; a failure reads `Failed`. A redelivery (a new delivery id) keeps
/// the `provider_event_id`; a webhook with a flipped byte or signed with the wrong key is
/// `InvalidSignature`; the ping is answered 2xx by the adapter itself; the acknowledgement
/// of an accepted webhook is 2xx and of a rejected one is not.
pub async fn webhooks_verify_into_one_bill_update_and_forgeries_are_refused(
    biller: &dyn Biller,
    inbound: &dyn InboundNotifications,
    sim: &dyn BillerSimulator,
) -> CheckResult {
    let script = sim.script();
    let pending = order(
        &script.prepaid_sku,
        &script.prepaid.pending_success,
        false,
        "WHP",
    );
    purchase(biller, &pending).await?;
    let first = webhook_event(inbound, sim, &pending, Want::Pending).await?;
    sim.settle(pending.reference.as_str(), true)
        .map_err(sim_failed)?;
    let settled = webhook_event(inbound, sim, &pending, Want::Success).await?;
    if settled.provider_event_id == first.provider_event_id {
        return Err("the Pending and the Success webhooks share a provider_event_id: de-duplication would drop the Success".to_owned());
    }
    let again = webhook_event(inbound, sim, &pending, Want::Success).await?;
    expect_same_event_id(&settled, &again, "a redelivered webhook")?;

    let failed = order(&script.prepaid_sku, &script.prepaid.failure, false, "WHF");
    purchase(biller, &failed).await?;
    webhook_event(inbound, sim, &failed, Want::Failed).await?;

    let reference = pending.reference.as_str();
    for tamper in [Tamper::FlipByte, Tamper::WrongKey] {
        let spoiled = sim
            .tampered_webhook_for(reference, tamper)
            .map_err(sim_failed)?;
        match inbound.verify_and_parse(&inbound_request(&spoiled)).await {
            Err(err) if err.kind == ErrorKind::InvalidSignature => {}
            Err(err) => {
                return Err(format!(
                    "a {tamper:?} webhook: want InvalidSignature, got {err}"
                ));
            }
            Ok(parsed) => return Err(format!("a {tamper:?} webhook was accepted: {parsed:?}")),
        }
    }
    expect_ping_answered(inbound, &sim.ping()).await?;
    let genuine = sim.webhook_for(reference).map_err(sim_failed)?;
    expect_acknowledgements(inbound, &inbound_request(&genuine))
}

// ---- helpers ----------------------------------------------------------------------------

/// The simulator's deposit as a check found it, put back when the check ends (also when
/// its timeout cancels it).
struct SavedDeposit<'a> {
    sim: &'a dyn BillerSimulator,
    rupiah: i64,
}

impl<'a> SavedDeposit<'a> {
    fn new(sim: &'a dyn BillerSimulator) -> Self {
        Self {
            sim,
            rupiah: sim.deposit(),
        }
    }
}

impl Drop for SavedDeposit<'_> {
    fn drop(&mut self) {
        self.sim.set_deposit(self.rupiah);
    }
}

/// The state a check wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Success,
    Pending,
    Failed,
}

impl Want {
    fn matches(self, state: &BillerTxState) -> bool {
        match self {
            Want::Success => *state == BillerTxState::Success,
            Want::Pending => *state == BillerTxState::Pending,
            Want::Failed => {
                matches!(state, BillerTxState::Failed { code, .. } if !code.trim().is_empty())
            }
        }
    }
}

/// A reference no other check (or earlier run) uses: `CB` + tag + 10 random digits.
fn new_reference(tag: &str) -> OurReference {
    let suffix: u64 = rand::rng().random_range(0..10_000_000_000);
    OurReference(format!("CB{tag}{suffix:010}"))
}

/// An order under a fresh reference, sent now (the gateway stores `sent_at` before it
/// sends).
fn order(sku: &str, customer_no: &str, postpaid: bool, tag: &str) -> BillerOrder {
    BillerOrder::new(
        new_reference(tag),
        sku.to_owned(),
        customer_no.to_owned(),
        postpaid,
    )
    .sent_at(Some(OffsetDateTime::now_utc()))
}

async fn purchase(biller: &dyn Biller, order: &BillerOrder) -> Result<BillerTransaction, String> {
    biller
        .purchase(order)
        .await
        .map_err(|err| format!("purchase {} failed: {err}", order.reference))
}

async fn status(biller: &dyn Biller, order: &BillerOrder) -> Result<BillerTransaction, String> {
    biller
        .status(order)
        .await
        .map_err(|err| format!("status of {} failed: {err}", order.reference))
}

async fn inquire(biller: &dyn Biller, order: &BillerOrder) -> Result<BillInquiry, String> {
    biller
        .inquire(order)
        .await
        .map_err(|err| format!("inquiry {} failed: {err}", order.reference))
}

async fn pay(biller: &dyn Biller, order: &BillerOrder) -> Result<BillerTransaction, String> {
    biller
        .pay(order)
        .await
        .map_err(|err| format!("payment {} failed: {err}", order.reference))
}

fn expect_state(
    tx: &BillerTransaction,
    order: &BillerOrder,
    want: Want,
    what: &str,
) -> CheckResult {
    if tx.reference != order.reference {
        return Err(format!(
            "{what}: the transaction names {}, want {}",
            tx.reference, order.reference
        ));
    }
    if want.matches(&tx.state) {
        return Ok(());
    }
    Err(format!(
        "{what} says {:?} (biller status {:?}), want {want:?}",
        tx.state, tx.provider_status
    ))
}

fn expect_serial_number(tx: &BillerTransaction) -> Result<&str, String> {
    match tx.serial_number.as_deref() {
        Some(serial) if !serial.trim().is_empty() => Ok(serial),
        other => Err(format!("a success carries serial number {other:?}")),
    }
}

async fn expect_balance(biller: &dyn Biller, want: i64, when: &str) -> CheckResult {
    let balance = biller
        .balance()
        .await
        .map_err(|err| format!("balance {when} failed: {err}"))?;
    if balance.rupiah() != want {
        return Err(format!(
            "balance {when} is {}, the biller holds {want}",
            balance.rupiah()
        ));
    }
    Ok(())
}

fn expect_deposit(sim: &dyn BillerSimulator, want: i64, when: &str) -> CheckResult {
    let deposit = sim.deposit();
    if deposit != want {
        return Err(format!("the deposit {when} is {deposit}, want {want}"));
    }
    Ok(())
}

fn expect_booked_once(sim: &dyn BillerSimulator, order: &BillerOrder) -> CheckResult {
    match sim.transactions_for(order.reference.as_str()) {
        1 => Ok(()),
        n => Err(format!(
            "the biller booked {n} transactions under {}, want exactly 1",
            order.reference
        )),
    }
}

fn expect_nothing_booked(
    sim: &dyn BillerSimulator,
    order: &BillerOrder,
    what: &str,
) -> CheckResult {
    match sim.transactions_for(order.reference.as_str()) {
        0 => Ok(()),
        n => Err(format!("{what}: the biller booked {n} transactions anyway")),
    }
}

fn expect_ambiguous(result: Result<BillerTransaction, ProviderError>, what: &str) -> CheckResult {
    match result {
        Err(err) if err.kind.is_ambiguous() => Ok(()),
        Err(err) => Err(format!("{what}: want Timeout or Protocol, got {err}")),
        Ok(tx) => Err(format!("{what} answered {tx:?}")),
    }
}

fn expect_unavailable(result: Result<(), ProviderError>, what: &str) -> CheckResult {
    match result {
        Err(err) if err.kind == ErrorKind::Unavailable && err.is_retryable() => Ok(()),
        Err(err) => Err(format!("{what}: want Unavailable (retryable), got {err}")),
        Ok(()) => Err(format!("{what} answered Ok")),
    }
}

/// Every request the biller's logic saw, whatever the operation.
fn total_calls(sim: &dyn BillerSimulator) -> usize {
    let mut names: Vec<&str> = BillerOp::ALL.iter().map(|op| sim.op_name(*op)).collect();
    names.sort_unstable();
    names.dedup();
    names.into_iter().map(|name| sim.calls(name)).sum()
}

/// The inquiry of `order` has `sheets` sheets of `sheet`.
fn expect_bill(
    bill: &BillInquiry,
    order: &BillerOrder,
    sheet: SheetAmounts,
    sheets: i64,
) -> CheckResult {
    if bill.reference != order.reference {
        return Err(format!(
            "the bill names {}, want {}",
            bill.reference, order.reference
        ));
    }
    let total = (sheet.amount + sheet.admin_fee + sheet.penalty) * sheets;
    let got = [
        bill.amount.rupiah(),
        bill.admin_fee.rupiah(),
        bill.penalty.rupiah(),
        bill.customer_total.rupiah(),
        bill.biller_cost.rupiah(),
    ];
    let want = [
        sheet.amount * sheets,
        sheet.admin_fee * sheets,
        sheet.penalty * sheets,
        total,
        sheet.biller_cost * sheets,
    ];
    if got != want {
        return Err(format!(
            "a bill of {sheets} sheets: [amount, admin, penalty, customer total, biller cost] \
             is {got:?}, want {want:?}"
        ));
    }
    let periods_ok = bill.periods.len() == usize::try_from(sheets).unwrap_or(0)
        && bill.periods.iter().all(|p| {
            !p.period.trim().is_empty()
                && p.amount == sheet.amount
                && p.admin_fee == sheet.admin_fee
                && p.penalty == sheet.penalty
        });
    if !periods_ok {
        return Err(format!(
            "a bill of {sheets} sheets has periods {:?}",
            bill.periods
        ));
    }
    if bill.customer_name.trim().is_empty() {
        return Err("the bill carries no customer name".to_owned());
    }
    Ok(())
}

/// The webhook about `order` now, verified into one `BillUpdate` about it in state `want`.
async fn webhook_event(
    inbound: &dyn InboundNotifications,
    sim: &dyn BillerSimulator,
    order: &BillerOrder,
    want: Want,
) -> Result<InboundEvent, String> {
    let webhook = sim
        .webhook_for(order.reference.as_str())
        .map_err(sim_failed)?;
    let event = one_event(inbound, &webhook).await?;
    let ResourceRef::BillPayment { reference, .. } = &event.resource else {
        return Err(format!(
            "the webhook event is about {:?}, not a bill payment",
            event.resource
        ));
    };
    if *reference != order.reference {
        return Err(format!(
            "the webhook event names {reference}, want {}",
            order.reference
        ));
    }
    let EventKind::BillUpdate { transaction } = &event.kind else {
        return Err(format!(
            "the webhook event is {:?}, want BillUpdate",
            event.kind
        ));
    };
    expect_state(transaction, order, want, "the webhook event")?;
    if event.provider_event_id.trim().is_empty() {
        return Err("the webhook event has an empty provider_event_id".to_owned());
    }
    Ok(event)
}

async fn expect_ping_answered(
    inbound: &dyn InboundNotifications,
    ping: &CapturedCallback,
) -> CheckResult {
    match inbound.verify_and_parse(&inbound_request(ping)).await {
        Ok(Inbound::Reply(reply)) if (200..300).contains(&reply.status) => Ok(()),
        Ok(Inbound::Reply(reply)) => Err(format!("the ping was answered HTTP {}", reply.status)),
        Ok(other) => Err(format!("the ping gave {other:?}, want a reply")),
        Err(err) => Err(format!("the ping was refused: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::Amount;
    use contracts::biller::{BillerProduct, CustomerInfo, SettlementRecord};
    use contracts::inbound::{AckOutcome, InboundRequest, InboundResponse, Trust};
    use std::sync::Mutex;
    use time::Date;

    /// What the `#[async_trait]` methods return, written out (mocks has no async-trait).
    type Answer<'a, T> =
        std::pin::Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

    fn down<'a, T: 'a>() -> Answer<'a, T> {
        Box::pin(async { Err(ProviderError::new(ErrorKind::Unavailable, "down")) })
    }

    /// An adapter whose biller is always unreachable.
    #[derive(Debug)]
    struct Unreachable;

    impl Biller for Unreachable {
        fn balance<'a, 'c>(&'a self) -> Answer<'c, Amount>
        where
            'a: 'c,
        {
            down()
        }
        fn products<'a, 'c>(&'a self) -> Answer<'c, Vec<BillerProduct>>
        where
            'a: 'c,
        {
            down()
        }
        fn validate_customer<'a, 'b, 'd, 'c>(
            &'a self,
            _: &'b str,
            _: &'d str,
        ) -> Answer<'c, CustomerInfo>
        where
            'a: 'c,
            'b: 'c,
            'd: 'c,
        {
            down()
        }
        fn purchase<'a, 'b, 'c>(&'a self, _: &'b BillerOrder) -> Answer<'c, BillerTransaction>
        where
            'a: 'c,
            'b: 'c,
        {
            down()
        }
        fn inquire<'a, 'b, 'c>(&'a self, _: &'b BillerOrder) -> Answer<'c, BillInquiry>
        where
            'a: 'c,
            'b: 'c,
        {
            down()
        }
        fn pay<'a, 'b, 'c>(&'a self, _: &'b BillerOrder) -> Answer<'c, BillerTransaction>
        where
            'a: 'c,
            'b: 'c,
        {
            down()
        }
        fn status<'a, 'b, 'c>(&'a self, _: &'b BillerOrder) -> Answer<'c, BillerTransaction>
        where
            'a: 'c,
            'b: 'c,
        {
            down()
        }
        fn settlement<'a, 'c>(&'a self, _: Date) -> Answer<'c, Vec<SettlementRecord>>
        where
            'a: 'c,
        {
            down()
        }
    }

    impl InboundNotifications for Unreachable {
        fn trust(&self) -> Trust {
            Trust::Strong
        }
        fn verify_and_parse<'a, 'b, 'c>(&'a self, _: &'b InboundRequest) -> Answer<'c, Inbound>
        where
            'a: 'c,
            'b: 'c,
        {
            Box::pin(async { Err(ProviderError::new(ErrorKind::InvalidSignature, "no")) })
        }
        fn acknowledge(&self, _: &InboundRequest, _: &AckOutcome) -> InboundResponse {
            InboundResponse::text(200, "ok")
        }
    }

    /// A biller holding nothing, whose deposit a check may move.
    #[derive(Debug, Default)]
    struct Empty {
        faults: Faults,
        deposit: Mutex<i64>,
    }

    impl BillerSimulator for Empty {
        fn op_name(&self, _: BillerOp) -> &'static str {
            "all"
        }
        fn faults(&self) -> Faults {
            self.faults.clone()
        }
        fn calls(&self, _: &str) -> usize {
            0
        }
        fn script(&self) -> BillerScript {
            BillerScript {
                prepaid_price: 10_000,
                status_resubmits: true,
                ..BillerScript::default()
            }
        }
        fn deposit(&self) -> i64 {
            *self.deposit.lock().expect("lock")
        }
        fn set_deposit(&self, rupiah: i64) {
            *self.deposit.lock().expect("lock") = rupiah;
        }
        fn settle(&self, reference: &str, _: bool) -> Result<(), SimError> {
            Err(SimError::NotFound(reference.to_owned()))
        }
        fn transactions_for(&self, _: &str) -> usize {
            0
        }
        fn webhook_for(&self, reference: &str) -> Result<CapturedCallback, SimError> {
            Err(SimError::NotFound(reference.to_owned()))
        }
        fn tampered_webhook_for(
            &self,
            reference: &str,
            _: Tamper,
        ) -> Result<CapturedCallback, SimError> {
            Err(SimError::NotFound(reference.to_owned()))
        }
        fn ping(&self) -> CapturedCallback {
            CapturedCallback {
                url: None,
                method: "POST".to_owned(),
                headers: Vec::new(),
                body: axum::body::Bytes::from_static(b"{}"),
            }
        }
    }

    #[tokio::test]
    async fn a_broken_adapter_fails_every_check_without_a_panic_and_leaves_the_biller_as_it_was() {
        let sim = Empty::default();
        sim.set_deposit(777_000);
        sim.faults().push(FaultRule::always(Fault::Down));
        let report = run_all(&Unreachable, &Unreachable, &sim).await;
        assert_eq!(report.outcomes.len(), 13);
        assert_eq!(report.failures().count(), 13, "{report}");
        assert!(sim.faults().rules().is_empty());
        assert_eq!(sim.deposit(), 777_000);
        assert!(report.to_string().contains("13 of 13 checks failed"));
    }

    #[test]
    fn references_are_upper_case_alphanumerics_of_at_most_26() {
        let reference = new_reference("HANG");
        assert!(reference.as_str().len() <= 26);
        assert!(
            reference
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "{reference}"
        );
        assert_ne!(new_reference("X"), new_reference("X"));
    }

    #[test]
    fn a_saved_deposit_is_put_back_however_the_check_ends() {
        let sim = Empty::default();
        sim.set_deposit(5_000);
        {
            let _saved = SavedDeposit::new(&sim);
            sim.set_deposit(1);
        }
        assert_eq!(sim.deposit(), 5_000);
    }

    #[test]
    fn a_failure_must_carry_the_billers_code() {
        let failed = |code: &str| BillerTxState::Failed {
            code: code.to_owned(),
            reason: "Transaksi Gagal".to_owned(),
        };
        assert!(Want::Failed.matches(&failed("02")));
        assert!(!Want::Failed.matches(&failed(" ")));
        assert!(!Want::Failed.matches(&BillerTxState::Pending));
        assert!(!Want::Success.matches(&BillerTxState::NotFound));
    }

    #[test]
    fn a_bill_is_checked_sheet_by_sheet() {
        let sheet = SheetAmounts {
            amount: 8_000,
            admin_fee: 2_500,
            penalty: 500,
            biller_cost: 10_000,
        };
        let order = order("pln", "530000000001", true, "T");
        let amount = |n: i64| Amount::new(n).expect("amount");
        let mut bill = BillInquiry::new(
            order.reference.clone(),
            "BUDI".to_owned(),
            amount(8_000),
            amount(2_500),
            amount(500),
            amount(10_000),
            amount(11_000),
        );
        let mut period = contracts::biller::BillPeriod::default();
        period.period = "202604".to_owned();
        period.amount = 8_000;
        period.admin_fee = 2_500;
        period.penalty = 500;
        bill.periods = vec![period];
        assert_eq!(expect_bill(&bill, &order, sheet, 1), Ok(()));
        assert!(expect_bill(&bill, &order, sheet, 2).is_err());
        bill.biller_cost = amount(11_000);
        assert!(expect_bill(&bill, &order, sheet, 1).is_err());
    }
}
