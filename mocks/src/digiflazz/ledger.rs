//! What the simulated account holds — the deposit, the transactions by `ref_id`, the
//! postpaid inquiries waiting for payment — and the rules of §1.3.4–1.3.7 that change it.
//! No I/O: the routes and the act methods call it under the simulator's lock.

use std::collections::HashMap;

use serde_json::Value;
use time::Date;

use super::SimTransaction;
use super::catalogue::{
    self, Bill, Outcome, PostpaidScript, SimProduct, postpaid_script, prepaid_outcome,
};
use super::wire::{self, Refusal, Webhook};
use crate::callback::SimError;

/// How long Digiflazz keeps a transaction findable by `ref_id` (§1.3.4, §1.3.7).
const HORIZON_DAYS: i64 = 90;

/// A purchase, inquiry, payment or status request, as checked by the route.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Order<'a> {
    pub(crate) ref_id: &'a str,
    pub(crate) sku: &'a str,
    pub(crate) customer_no: &'a str,
    pub(crate) max_price: Option<i64>,
    pub(crate) cb_url: Option<&'a str>,
}

/// What a request did.
#[derive(Debug)]
pub(crate) enum Done {
    /// Nothing new: the answer about an existing transaction or an inquiry's bill.
    Answer(Value),
    /// A new transaction: its answer, its `trx_id`, and how a pending one ends.
    Booked {
        data: Value,
        trx_id: String,
        pending_end: Option<bool>,
    },
}

/// One transaction and what the simulator needs to move it on.
#[derive(Clone, Debug)]
struct Record {
    tx: SimTransaction,
    bill: Option<Bill>,
    /// The `sn` a success carries.
    success_sn: String,
    /// How a pending transaction ends by itself.
    scripted_end: Option<bool>,
    /// What the deposit was debited and not yet credited back.
    debited: i64,
    cb_url: Option<String>,
    /// How many times it changed after it was created (`update` vs `create`).
    changes: u32,
    /// False once a re-submission past the horizon replaced it (§1.3.4).
    live: bool,
}

/// A postpaid inquiry waiting for its payment.
#[derive(Clone, Debug)]
struct Inquiry {
    sku: String,
    customer_no: String,
    day: Date,
    bill: Bill,
}

/// What a new record books.
struct Booking<'a> {
    order: Order<'a>,
    postpaid: bool,
    price: i64,
    bill: Option<Bill>,
    success_sn: String,
    outcome: Booked,
    foreign: bool,
}

/// How a new record starts.
#[derive(Clone, Copy)]
enum Booked {
    As(Outcome),
    SellerUnavailable,
}

/// The account.
#[derive(Debug)]
pub(crate) struct Ledger {
    pub(crate) deposit: i64,
    records: Vec<Record>,
    inquiries: HashMap<String, Inquiry>,
    day_offset: i64,
}

impl Ledger {
    pub(crate) fn new(deposit: i64) -> Self {
        Self {
            deposit,
            records: Vec::new(),
            inquiries: HashMap::new(),
            day_offset: 0,
        }
    }

    /// The simulated calendar day (WIB), moved on by [`Self::pass_days`].
    pub(crate) fn today(&self) -> Date {
        let today = crate::wib::now().date();
        today
            .checked_add(time::Duration::days(self.day_offset))
            .unwrap_or(today)
    }

    pub(crate) fn pass_days(&mut self, days: u32) {
        self.day_offset += i64::from(days);
    }

    /// A prepaid purchase, or the status check that re-submits it (§1.3.4).
    pub(crate) fn topup(
        &mut self,
        products: &[SimProduct],
        order: Order<'_>,
    ) -> Result<Done, Refusal> {
        if let Some(index) = self.live_index(order.ref_id) {
            let record = &self.records[index];
            if record.tx.postpaid || !same_order(&record.tx, order) {
                return Err(wire::REF_ID_TAKEN);
            }
            if !self.past_horizon(&record.tx) {
                return Ok(Done::Answer(answer(record)));
            }
            // Past 90 days the ref_id is forgotten: the re-submission buys again.
            self.records[index].live = false;
        }
        if self.inquiries.contains_key(order.ref_id) {
            return Err(wire::REF_ID_TAKEN);
        }
        let product = product(products, order.sku, false)?;
        if order.max_price.is_some_and(|max| product.price > max) {
            return Err(wire::OVER_MAX_PRICE);
        }
        if self.deposit < product.price {
            return Err(wire::LOW_DEPOSIT);
        }
        let outcome = if product.seller_product_status {
            Booked::As(prepaid_outcome(order.customer_no))
        } else {
            Booked::SellerUnavailable
        };
        Ok(self.book(Booking {
            order,
            postpaid: false,
            price: product.price,
            bill: None,
            success_sn: catalogue::prepaid_sn(product, order.customer_no),
            outcome,
            foreign: false,
        }))
    }

    /// `inq-pasca` (§1.3.5): finds the bill and keeps it for a payment the same day.
    pub(crate) fn inquire(
        &mut self,
        products: &[SimProduct],
        order: Order<'_>,
    ) -> Result<Done, Refusal> {
        let other_inquiry = self.inquiries.get(order.ref_id).is_some_and(|earlier| {
            !earlier.sku.eq_ignore_ascii_case(order.sku) || earlier.customer_no != order.customer_no
        });
        if other_inquiry || self.live_index(order.ref_id).is_some() {
            return Err(wire::REF_ID_TAKEN);
        }
        let product = product(products, order.sku, true)?;
        let PostpaidScript::Bill(sheets, _) = postpaid_script(order.sku, order.customer_no) else {
            return Err(wire::INQUIRY_FAILED);
        };
        let today = self.today();
        let bill = Bill::new(product, order.customer_no, sheets, today);
        let data = wire::inquiry(
            order.ref_id,
            order.sku,
            order.customer_no,
            &bill,
            self.deposit,
        );
        self.inquiries.insert(
            order.ref_id.to_owned(),
            Inquiry {
                sku: order.sku.to_owned(),
                customer_no: order.customer_no.to_owned(),
                day: today,
                bill,
            },
        );
        Ok(Done::Answer(data))
    }

    /// `pay-pasca` (§1.3.6): pays the same day's inquiry of the same `ref_id`, or answers
    /// the payment already made.
    pub(crate) fn pay(
        &mut self,
        products: &[SimProduct],
        order: Order<'_>,
    ) -> Result<Done, Refusal> {
        if let Some(record) = self.live(order.ref_id) {
            if !record.tx.postpaid || !same_order(&record.tx, order) {
                return Err(wire::REF_ID_TAKEN);
            }
            return Ok(Done::Answer(answer(record)));
        }
        let today = self.today();
        let bill = match self.inquiries.get(order.ref_id) {
            Some(inquiry)
                if inquiry.sku.eq_ignore_ascii_case(order.sku)
                    && inquiry.customer_no == order.customer_no
                    && inquiry.day == today =>
            {
                inquiry.bill.clone()
            }
            _ => return Err(wire::NO_INQUIRY),
        };
        product(products, order.sku, true)?;
        if self.deposit < bill.price() {
            return Err(wire::LOW_DEPOSIT);
        }
        let outcome = match postpaid_script(order.sku, order.customer_no) {
            PostpaidScript::Bill(_, outcome) => outcome,
            PostpaidScript::InquiryFails => Outcome::Failure,
        };
        self.inquiries.remove(order.ref_id);
        Ok(self.book(Booking {
            order,
            postpaid: true,
            price: bill.price(),
            success_sn: catalogue::postpaid_sn(bill.style),
            bill: Some(bill),
            outcome: Booked::As(outcome),
            foreign: false,
        }))
    }

    /// `status-pasca` (§1.3.7): the payment as it stands, or `Data belum ada`.
    pub(crate) fn status(&self, order: Order<'_>) -> Result<Done, Refusal> {
        match self.live(order.ref_id) {
            Some(record)
                if record.tx.postpaid
                    && same_order(&record.tx, order)
                    && !self.past_horizon(&record.tx) =>
            {
                Ok(Done::Answer(answer(record)))
            }
            _ => Err(wire::NO_DATA),
        }
    }

    /// A transaction the merchant never sent, booked `Sukses` (someone else with our key).
    pub(crate) fn foreign(
        &mut self,
        products: &[SimProduct],
        order: Order<'_>,
    ) -> Result<String, SimError> {
        if self.live(order.ref_id).is_some() || self.inquiries.contains_key(order.ref_id) {
            return Err(SimError::NotPayable {
                reference: order.ref_id.to_owned(),
                state: "already used",
            });
        }
        let product = products
            .iter()
            .find(|p| p.sku.eq_ignore_ascii_case(order.sku))
            .ok_or_else(|| SimError::NotFound(format!("product {}", order.sku)))?;
        let (price, bill, success_sn) = if product.postpaid {
            let sheets = match postpaid_script(order.sku, order.customer_no) {
                PostpaidScript::Bill(sheets, _) => sheets,
                PostpaidScript::InquiryFails => 1,
            };
            let bill = Bill::new(product, order.customer_no, sheets, self.today());
            (
                bill.price(),
                Some(bill.clone()),
                catalogue::postpaid_sn(bill.style),
            )
        } else {
            let sn = catalogue::prepaid_sn(product, order.customer_no);
            (product.price, None, sn)
        };
        if self.deposit < price {
            return Err(SimError::AmountRefused {
                amount: price,
                reason: format!("the deposit holds only {}", self.deposit),
            });
        }
        let booked = self.book(Booking {
            order,
            postpaid: product.postpaid,
            price,
            bill,
            success_sn,
            outcome: Booked::As(Outcome::Success),
            foreign: true,
        });
        match booked {
            Done::Booked { trx_id, .. } => Ok(trx_id),
            Done::Answer(_) => Err(SimError::NotFound(order.ref_id.to_owned())),
        }
    }

    fn book(&mut self, booking: Booking<'_>) -> Done {
        let (status, (rc, message), debit) = match booking.outcome {
            Booked::As(Outcome::Success) => ("Sukses", wire::SUCCESS, true),
            Booked::As(Outcome::Failure) => ("Gagal", wire::FAILURE, false),
            Booked::As(Outcome::Pending(_)) => ("Pending", wire::PENDING, true),
            Booked::SellerUnavailable => ("Gagal", wire::SELLER_UNAVAILABLE, false),
        };
        let debited = if debit { booking.price } else { 0 };
        self.deposit -= debited;
        let order = booking.order;
        let tx = SimTransaction {
            ref_id: order.ref_id.to_owned(),
            sku: order.sku.to_owned(),
            customer_no: order.customer_no.to_owned(),
            postpaid: booking.postpaid,
            status,
            rc,
            message: message.to_owned(),
            price: booking.price,
            selling_price: booking.bill.as_ref().map(Bill::selling_price),
            sn: if status == "Sukses" {
                booking.success_sn.clone()
            } else {
                String::new()
            },
            trx_id: wire::trx_id(),
            created: self.today(),
            buyer_last_saldo: self.deposit,
            foreign: booking.foreign,
        };
        let pending_end = match booking.outcome {
            Booked::As(Outcome::Pending(end)) => Some(end),
            Booked::As(Outcome::Success | Outcome::Failure) | Booked::SellerUnavailable => None,
        };
        let record = Record {
            tx,
            bill: booking.bill,
            success_sn: booking.success_sn,
            scripted_end: pending_end,
            debited,
            cb_url: order.cb_url.map(str::to_owned),
            changes: 0,
            live: true,
        };
        let done = Done::Booked {
            data: answer(&record),
            trx_id: record.tx.trx_id.clone(),
            pending_end,
        };
        self.records.push(record);
        done
    }

    /// A pending transaction ends: `Sukses` with its serial number, or `Gagal` (rc 02)
    /// with the deposit credited back.
    pub(crate) fn end(&mut self, trx_id: &str, success: bool) -> Result<(), SimError> {
        let record = self.by_trx_id(trx_id)?;
        if record.tx.status != "Pending" {
            return Err(SimError::NotPayable {
                reference: record.tx.ref_id.clone(),
                state: record.tx.status,
            });
        }
        if success {
            set_state(&mut record.tx, "Sukses", wire::SUCCESS);
            record.tx.sn = record.success_sn.clone();
        } else {
            set_state(&mut record.tx, "Gagal", wire::FAILURE);
        }
        self.after_change(trx_id, !success)
    }

    /// A successful transaction is refunded (rc 74) and its debit credited back.
    pub(crate) fn refund(&mut self, trx_id: &str) -> Result<(), SimError> {
        let record = self.by_trx_id(trx_id)?;
        if record.tx.status != "Sukses" {
            return Err(SimError::NotPayable {
                reference: record.tx.ref_id.clone(),
                state: record.tx.status,
            });
        }
        set_state(&mut record.tx, "Gagal", wire::REFUND);
        self.after_change(trx_id, true)
    }

    /// Records a change: credits the debit back when it failed, notes the balance after.
    fn after_change(&mut self, trx_id: &str, credit: bool) -> Result<(), SimError> {
        let mut deposit = self.deposit;
        let record = self.by_trx_id(trx_id)?;
        if credit {
            deposit += record.debited;
            record.debited = 0;
        }
        record.tx.buyer_last_saldo = deposit;
        record.changes += 1;
        self.deposit = deposit;
        Ok(())
    }

    /// The biller loses the transaction (and any inquiry) of `ref_id`.
    pub(crate) fn forget(&mut self, ref_id: &str) -> Result<(), SimError> {
        let index = self.live_index(ref_id);
        let inquiry = self.inquiries.remove(ref_id);
        match index {
            Some(index) => {
                self.records.remove(index);
                Ok(())
            }
            None if inquiry.is_some() => Ok(()),
            None => Err(not_found(ref_id)),
        }
    }

    /// The biller's record of `ref_id` now says `price`.
    pub(crate) fn set_price(&mut self, ref_id: &str, price: i64) -> Result<(), SimError> {
        let index = self.live_index(ref_id).ok_or_else(|| not_found(ref_id))?;
        self.records[index].tx.price = price;
        Ok(())
    }

    /// The `trx_id` of the live transaction of `ref_id`.
    pub(crate) fn trx_id_of(&self, ref_id: &str) -> Result<String, SimError> {
        self.live(ref_id)
            .map(|r| r.tx.trx_id.clone())
            .ok_or_else(|| not_found(ref_id))
    }

    /// The webhook announcing the transaction as it stands, to its `cb_url` or `default_url`.
    pub(crate) fn webhook(&self, trx_id: &str, default_url: &str) -> Result<Webhook, SimError> {
        let record = self
            .records
            .iter()
            .find(|r| r.tx.trx_id == trx_id)
            .ok_or_else(|| not_found(trx_id))?;
        let url = record
            .cb_url
            .clone()
            .or_else(|| Some(default_url.to_owned()).filter(|url| !url.is_empty()));
        let event = if record.changes == 0 {
            "create"
        } else {
            "update"
        };
        Ok(Webhook::new(url, event, &record.tx, answer(record)))
    }

    /// How a pending transaction ends by itself, if it is still pending.
    pub(crate) fn scripted_end(&self, trx_id: &str) -> Option<bool> {
        self.records
            .iter()
            .find(|r| r.tx.trx_id == trx_id && r.tx.status == "Pending")
            .and_then(|r| r.scripted_end)
    }

    pub(crate) fn transactions(&self) -> Vec<SimTransaction> {
        self.records.iter().map(|r| r.tx.clone()).collect()
    }

    pub(crate) fn transaction(&self, ref_id: &str) -> Option<SimTransaction> {
        self.live(ref_id).map(|r| r.tx.clone())
    }

    /// Every transaction ever booked under `ref_id`, replaced ones included.
    pub(crate) fn count(&self, ref_id: &str) -> usize {
        self.records
            .iter()
            .filter(|r| r.tx.ref_id == ref_id)
            .count()
    }

    fn live_index(&self, ref_id: &str) -> Option<usize> {
        self.records
            .iter()
            .rposition(|r| r.live && r.tx.ref_id == ref_id)
    }

    fn live(&self, ref_id: &str) -> Option<&Record> {
        self.live_index(ref_id).map(|index| &self.records[index])
    }

    fn by_trx_id(&mut self, trx_id: &str) -> Result<&mut Record, SimError> {
        self.records
            .iter_mut()
            .find(|r| r.tx.trx_id == trx_id)
            .ok_or_else(|| not_found(trx_id))
    }

    fn past_horizon(&self, tx: &SimTransaction) -> bool {
        (self.today() - tx.created).whole_days() > HORIZON_DAYS
    }
}

/// The product `sku` of the right kind, sold to the buyer (rc 43 otherwise).
fn product<'p>(
    products: &'p [SimProduct],
    sku: &str,
    postpaid: bool,
) -> Result<&'p SimProduct, Refusal> {
    products
        .iter()
        .find(|p| {
            p.sku.eq_ignore_ascii_case(sku) && p.postpaid == postpaid && p.buyer_product_status
        })
        .ok_or(wire::UNKNOWN_SKU)
}

fn set_state(tx: &mut SimTransaction, status: &'static str, (rc, message): (&'static str, &str)) {
    tx.status = status;
    tx.rc = rc;
    message.clone_into(&mut tx.message);
}

fn same_order(tx: &SimTransaction, order: Order<'_>) -> bool {
    tx.sku.eq_ignore_ascii_case(order.sku) && tx.customer_no == order.customer_no
}

/// The answer `data` about a transaction: the prepaid or the payment shape.
fn answer(record: &Record) -> Value {
    match &record.bill {
        Some(bill) => wire::payment(&record.tx, bill),
        None => wire::prepaid(&record.tx),
    }
}

fn not_found(what: &str) -> SimError {
    SimError::NotFound(format!("transaction {what}"))
}
