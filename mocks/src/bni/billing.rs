//! A BNI billing and the rules of its billing types (A.3).

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::Code;
use crate::wib;

/// `billing_type` (A.3): how a billing takes payments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingType {
    /// `c`: pay exactly `trx_amount`, once.
    Fixed,
    /// `o`: any amount, any number of times while active; `trx_amount` is `0`.
    Open,
    /// `i`: several payments until the cumulative amount reaches `trx_amount`.
    Installment,
    /// `m`: one payment of at least `trx_amount`.
    Minimum,
    /// `n`: several payments, each at least `trx_amount`.
    OpenMinimum,
    /// `x`: several payments, each at most `trx_amount`.
    OpenMaximum,
}

impl BillingType {
    /// Reads the one-letter code; `j`, `z` and `d` exist but this simulated client is not
    /// entitled to them (`801`), anything else is `016`.
    pub(crate) fn parse(code: &str) -> Result<Self, Code> {
        match code {
            "c" => Ok(Self::Fixed),
            "o" => Ok(Self::Open),
            "i" => Ok(Self::Installment),
            "m" => Ok(Self::Minimum),
            "n" => Ok(Self::OpenMinimum),
            "x" => Ok(Self::OpenMaximum),
            "j" | "z" | "d" => Err(Code::TypeNotSupported),
            _ => Err(Code::InvalidBillingType),
        }
    }

    /// The one-letter code BNI uses.
    pub fn code(self) -> &'static str {
        match self {
            Self::Fixed => "c",
            Self::Open => "o",
            Self::Installment => "i",
            Self::Minimum => "m",
            Self::OpenMinimum => "n",
            Self::OpenMaximum => "x",
        }
    }

    /// `011`: open payment needs amount `0`, every other type a positive amount.
    pub(crate) fn check_amount(self, amount: i64) -> Result<(), Code> {
        let fits = match self {
            Self::Open => amount == 0,
            _ => amount > 0,
        };
        if fits {
            Ok(())
        } else {
            Err(Code::TypeAmountMismatch)
        }
    }
}

/// Where a billing stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingState {
    /// Takes payments (`va_status` `"1"`).
    Active,
    /// Closed by payment (`c`, `m` after one payment; `i` once fully paid).
    Paid,
    /// `datetime_expired` has passed.
    Expired,
    /// Deactivated by `inactivebilling`.
    Inactive,
}

impl BillingState {
    /// Name used in errors.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paid => "paid",
            Self::Expired => "expired",
            Self::Inactive => "inactive",
        }
    }
}

/// One payment into a billing.
#[derive(Clone, Debug)]
pub(crate) struct Payment {
    pub(crate) amount: i64,
    pub(crate) cumulative: i64,
    pub(crate) ntb: String,
    pub(crate) at: OffsetDateTime,
    /// The decrypted callback of this payment, as posted (ASCII JSON).
    pub(crate) callback_json: String,
}

/// What create sets and update replaces.
#[derive(Clone, Debug)]
pub(crate) struct Details {
    pub(crate) trx_amount: i64,
    pub(crate) customer_name: String,
    pub(crate) customer_email: Option<String>,
    pub(crate) customer_phone: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) expires_at: Option<OffsetDateTime>,
}

/// A billing as the simulated bank keeps it.
#[derive(Clone, Debug)]
pub(crate) struct Billing {
    pub(crate) trx_id: String,
    pub(crate) virtual_account: String,
    pub(crate) trx_amount: i64,
    pub(crate) billing_type: BillingType,
    pub(crate) customer_name: String,
    pub(crate) customer_email: Option<String>,
    pub(crate) customer_phone: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) expires_at: Option<OffsetDateTime>,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) updated_at: OffsetDateTime,
    pub(crate) deactivated: bool,
    pub(crate) payments: Vec<Payment>,
}

impl Billing {
    pub(crate) fn new(
        trx_id: String,
        virtual_account: String,
        billing_type: BillingType,
        details: Details,
        now: OffsetDateTime,
    ) -> Self {
        let mut billing = Self {
            trx_id,
            virtual_account,
            trx_amount: 0,
            billing_type,
            customer_name: String::new(),
            customer_email: None,
            customer_phone: None,
            description: None,
            expires_at: None,
            created_at: now,
            updated_at: now,
            deactivated: false,
            payments: Vec::new(),
        };
        billing.apply(details, now);
        billing
    }

    /// Replaces every changeable field (omitted ones become blank).
    pub(crate) fn apply(&mut self, details: Details, now: OffsetDateTime) {
        self.trx_amount = details.trx_amount;
        self.customer_name = details.customer_name;
        self.customer_email = details.customer_email;
        self.customer_phone = details.customer_phone;
        self.description = details.description;
        self.expires_at = details.expires_at;
        self.updated_at = now;
    }

    pub(crate) fn paid_total(&self) -> i64 {
        self.payments.iter().map(|p| p.amount).sum()
    }

    fn closed_by_payment(&self) -> bool {
        match self.billing_type {
            BillingType::Fixed | BillingType::Minimum => !self.payments.is_empty(),
            BillingType::Installment => self.paid_total() >= self.trx_amount,
            BillingType::Open | BillingType::OpenMinimum | BillingType::OpenMaximum => false,
        }
    }

    /// Payment closes a billing for good; then deactivation, then the clock.
    pub(crate) fn state(&self, now: OffsetDateTime) -> BillingState {
        if self.closed_by_payment() {
            BillingState::Paid
        } else if self.deactivated {
            BillingState::Inactive
        } else if self.expires_at.is_some_and(|at| now >= at) {
            BillingState::Expired
        } else {
            BillingState::Active
        }
    }

    /// Whether one more payment of `amount` fits the billing type.
    pub(crate) fn check_payment(&self, amount: i64) -> Result<(), String> {
        if amount <= 0 {
            return Err("payments must be positive".to_owned());
        }
        let due = self.trx_amount;
        let remaining = due - self.paid_total();
        match self.billing_type {
            BillingType::Fixed if amount != due => {
                Err(format!("fixed billing takes exactly {due}"))
            }
            BillingType::Installment if amount > remaining => {
                Err(format!("installment billing has {remaining} left to pay"))
            }
            BillingType::Minimum | BillingType::OpenMinimum if amount < due => {
                Err(format!("each payment must be at least {due}"))
            }
            BillingType::OpenMaximum if amount > due => {
                Err(format!("each payment must be at most {due}"))
            }
            _ => Ok(()),
        }
    }

    /// The `data` of an `inquirybilling` answer (A.3): strings or null.
    pub(crate) fn inquiry_data(&self, client_id: &str, now: OffsetDateTime) -> Value {
        let last = self.payments.last();
        let stamp = |at: Option<OffsetDateTime>| at.map(wib::spaced);
        let iso = |at: Option<OffsetDateTime>| at.map(wib::iso);
        let va_status = match self.state(now) {
            BillingState::Active => "1",
            _ => "2",
        };
        json!({
            "client_id": client_id,
            "trx_id": self.trx_id,
            "trx_amount": self.trx_amount.to_string(),
            "virtual_account": self.virtual_account,
            "customer_name": self.customer_name,
            "customer_email": self.customer_email,
            "customer_phone": self.customer_phone,
            "description": self.description,
            "billing_type": self.billing_type.code(),
            "va_status": va_status,
            "payment_amount": self.paid_total().to_string(),
            "payment_ntb": last.map(|p| p.ntb.clone()),
            "datetime_created": wib::spaced(self.created_at),
            "datetime_expired": stamp(self.expires_at),
            "datetime_last_updated": wib::spaced(self.updated_at),
            "datetime_payment": stamp(last.map(|p| p.at)),
            "datetime_created_iso8601": wib::iso(self.created_at),
            "datetime_expired_iso8601": iso(self.expires_at),
            "datetime_last_updated_iso8601": wib::iso(self.updated_at),
            "datetime_payment_iso8601": iso(last.map(|p| p.at)),
        })
    }

    /// The decrypted callback of a payment (A.5, in the order of TV-7); all strings.
    pub(crate) fn callback_data(
        &self,
        amount: i64,
        cumulative: i64,
        ntb: &str,
        at: OffsetDateTime,
    ) -> Value {
        json!({
            "trx_id": self.trx_id,
            "virtual_account": self.virtual_account,
            "customer_name": self.customer_name,
            "trx_amount": self.trx_amount.to_string(),
            "payment_amount": amount.to_string(),
            "cumulative_payment_amount": cumulative.to_string(),
            "payment_ntb": ntb,
            "datetime_payment": wib::spaced(at),
            "datetime_payment_iso8601": wib::iso(at),
        })
    }

    pub(crate) fn view(&self, now: OffsetDateTime) -> BillingView {
        let state = self.state(now);
        BillingView {
            trx_id: self.trx_id.clone(),
            virtual_account: self.virtual_account.clone(),
            trx_amount: self.trx_amount,
            billing_type: self.billing_type,
            customer_name: self.customer_name.clone(),
            customer_email: self.customer_email.clone(),
            customer_phone: self.customer_phone.clone(),
            description: self.description.clone(),
            expires_at: self.expires_at.map(wib::iso),
            state,
            va_status: if state == BillingState::Active {
                "1"
            } else {
                "2"
            },
            payment_amount: self.paid_total(),
            payments: self
                .payments
                .iter()
                .map(|p| PaymentView {
                    amount: p.amount,
                    cumulative: p.cumulative,
                    payment_ntb: p.ntb.clone(),
                    paid_at: wib::iso(p.at),
                })
                .collect(),
            created_at: wib::iso(self.created_at),
            updated_at: wib::iso(self.updated_at),
        }
    }
}

/// A read-only snapshot of a billing, for tests and the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BillingView {
    /// Merchant billing id.
    pub trx_id: String,
    /// 16-digit VA number.
    pub virtual_account: String,
    /// Billing amount in rupiah.
    pub trx_amount: i64,
    /// Billing type.
    pub billing_type: BillingType,
    /// Customer name.
    pub customer_name: String,
    /// Customer e-mail, if set.
    pub customer_email: Option<String>,
    /// Customer phone, if set.
    pub customer_phone: Option<String>,
    /// Description, if set.
    pub description: Option<String>,
    /// Expiry (`+07:00`), if set.
    pub expires_at: Option<String>,
    /// Where it stands now.
    pub state: BillingState,
    /// `"1"` active, `"2"` inactive, as `inquirybilling` reports it.
    pub va_status: &'static str,
    /// Total paid so far.
    pub payment_amount: i64,
    /// Every payment, oldest first.
    pub payments: Vec<PaymentView>,
    /// Creation time (`+07:00`).
    pub created_at: String,
    /// Last change (`+07:00`).
    pub updated_at: String,
}

/// One payment of a [`BillingView`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaymentView {
    /// Amount of this payment.
    pub amount: i64,
    /// Total paid including this payment.
    pub cumulative: i64,
    /// The bank's reference of this payment (unique per payment).
    pub payment_ntb: String,
    /// When it was paid (`+07:00`).
    pub paid_at: String,
}
