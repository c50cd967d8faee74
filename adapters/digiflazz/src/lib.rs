//! Digiflazz adapter: PPOB through Digiflazz's buyer API (Indonesia): prepaid purchases
//! (PLN tokens, pulsa, data, e-money), postpaid bills (inquiry, payment, status), the
//! deposit balance and price list, and Digiflazz's signed webhooks.
//!
//! Written to the project's protocol reference `ppob-billers.md` section 1; section numbers
//! in comments (§1.3.4, …) are that document's. Where it is silent (HTTP status of business
//! errors, status-pasca's "not found", number types, the webhook acknowledgement) the
//! adapter follows the decisions shared with the Digiflazz simulator.
//!
//! What it covers:
//! - [`contracts::Biller`]:
//!   - `balance` (`/v1/cek-saldo`), `products` (two `/v1/price-list` calls, `prepaid` and
//!     `pasca`; an item that cannot be read is left out and logged by SKU).
//!   - `validate_customer` (`/v1/inquiry-pln`): name, meter number, subscriber id and
//!     segment/power of a PLN prepaid customer.
//!   - `purchase`: the prepaid topup, with `max_price` when the order caps it. `cb_url` is
//!     never sent: the webhook is configured in Digiflazz's member panel.
//!   - `inquire` (`inq-pasca`) → the bill with its sheets; `pay` (`pay-pasca`, same
//!     `ref_id`).
//!   - `status`: postpaid asks `status-pasca` (rc 50 / `Data belum ada` is `NotFound`).
//!     Prepaid has no status command: the identical topup is sent again (§1.3.4), which
//!     Digiflazz books as a *new purchase* for a `ref_id` it does not know or older than 90
//!     days. It is therefore refused, unsent, for an order without `sent_at` or sent
//!     [`Config::status_horizon_days`] or more ago.
//!   - `settlement`: `NotSupported` (Digiflazz publishes no daily records).
//! - [`contracts::InboundNotifications`] (trust [`contracts::inbound::Trust::Strong`]):
//!   `X-Hub-Signature` HMAC-SHA1 over the raw body; one `BillUpdate` per webhook; the ping
//!   sent when the webhook is saved is answered 200.
//! - [`Digiflazz::deposit_ticket`] (`/v1/deposit`): a deposit top-up ticket, for treasury
//!   tooling.
//!
//! Outcomes (§1.4, §5.3): `Sukses` is `Success`, `Pending` (rc 03, 99) is `Pending`. A
//! `Gagal` whose transaction is not formed (rc 40–49, 56, 61–69, 80–83, 87, 88) booked
//! nothing and is an error (44 [`contracts::ErrorKind::InsufficientBalance`], 49
//! `Duplicate`, …); any other `Gagal` of a purchase, payment or status is a final `Failed`
//! (01 is Digiflazz's own final timeout, 74 a refund). Inquiries have no `Failed`: every
//! `Gagal` is an error. A lost, unreadable or 5xx answer is `Timeout` for purchase and
//! payment (money may have moved) and `Unavailable` for everything else; a refused
//! connection is always `Unavailable`.
//!
//! Before anything is sent, `ref_id` must be 1–26 upper-case letters and digits and the
//! product code and customer number non-empty visible ASCII. Request and answer bodies,
//! customer numbers, names and tokens are never logged: logs carry the operation, rc,
//! HTTP status and error kind.
//!
//! # Layout
//! - `lib.rs`: [`Digiflazz`] and its contracts impls; each call is convert → sign and
//!   send → classify → convert back.
//! - `config.rs`: [`Config`], [`ConfigError`] and `validate`.
//! - `client.rs`: URLs, JSON `POST`s, deadline, capped read, the first reading of `data`.
//! - `signature.rs`: the MD5 request `sign` and the webhook HMAC-SHA1, with the vectors.
//! - `wire.rs`: requests and answers as Digiflazz spells them.
//! - `convert.rs`: request bodies and checks, the status table, amounts, bill sheets, the
//!   PLN token.
//! - `webhook.rs`: signature check, parse, acknowledge.
//! - `error.rs`: the private error, the rc table and the mapping onto
//!   [`contracts::ErrorKind`].
#![deny(missing_docs)]

mod client;
mod config;
mod convert;
mod error;
mod signature;
mod webhook;
mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use contracts::biller::{
    BillInquiry, BillerOrder, BillerProduct, BillerTransaction, BillerTxState, CustomerInfo,
    SettlementRecord,
};
use contracts::inbound::{AckOutcome, Inbound, InboundRequest, InboundResponse, Trust};
use contracts::{Amount, Biller, Capabilities, InboundNotifications, ProviderError};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;
use time::{Date, OffsetDateTime};

pub use config::{Config, ConfigError};

use client::Client;
use convert::Command;
use error::{Error, Operation};

/// One Digiflazz buyer account: buys, pays and reads Digiflazz's webhooks. `Debug` shows
/// the base URL and username only.
pub struct Digiflazz {
    client: Client,
    webhook_secret: SecretString,
    status_horizon_days: i64,
}

impl std::fmt::Debug for Digiflazz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Digiflazz")
            .field("base_url", &self.client.base_url().as_str())
            .field("username", &self.client.username())
            .finish()
    }
}

/// A deposit top-up ticket (§1.3.3): transfer exactly `amount` (the amount asked plus
/// Digiflazz's unique digits) to `account_no` with `notes` as the transfer note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepositTicket {
    /// The bank asked for, as Digiflazz echoes it.
    pub bank: String,
    /// `Bank Transfer` or `Virtual Account`.
    pub payment_method: String,
    /// The account to transfer to.
    pub account_no: String,
    /// The transfer note to use.
    pub notes: String,
    /// The exact amount to transfer.
    pub amount: Amount,
}

impl Digiflazz {
    /// Builds the adapter from `config` on the gateway's `http` client. Validates; no I/O,
    /// no spawned tasks.
    pub fn new(config: Config, http: reqwest::Client) -> Result<Digiflazz, ConfigError> {
        config.validate()?;
        Ok(Digiflazz {
            client: Client::new(&config, http),
            webhook_secret: config.webhook_secret,
            status_horizon_days: config.status_horizon_days,
        })
    }

    /// What this instance offers: biller and inbound notifications, one shared adapter.
    pub fn capabilities(self) -> Capabilities {
        let adapter = Arc::new(self);
        Capabilities {
            biller: Some(adapter.clone()),
            inbound: Some(adapter),
            ..Capabilities::default()
        }
    }

    /// Creates a deposit top-up ticket (§1.3.3): treasury tooling, not on the transaction
    /// path. `bank` is one Digiflazz accepts (`BCA`, `MANDIRI`, `BRI`, `BNI` for companies;
    /// `Flip`, `ShopeePay` for individuals); `owner_name` is the name on the sending
    /// account.
    pub async fn deposit_ticket(
        &self,
        amount: Amount,
        bank: &str,
        owner_name: &str,
    ) -> Result<DepositTicket, ProviderError> {
        let request = convert::deposit(&self.client, amount, bank, owner_name);
        self.call(
            Operation::DepositTicket,
            client::DEPOSIT,
            request,
            convert::deposit_ticket,
        )
        .await
    }

    /// Sends a built request and converts its `data` back; a request that could not be
    /// built is refused unsent. Logs the operation and the error kind, never a body.
    async fn call<R, T>(
        &self,
        operation: Operation,
        path: &str,
        request: Result<R, Error>,
        back: impl FnOnce(Value) -> Result<T, Error> + Send,
    ) -> Result<T, ProviderError>
    where
        R: Serialize + Send + Sync,
    {
        let result = match request {
            Ok(request) => self
                .client
                .post(operation, path, &request)
                .await
                .and_then(back),
            Err(err) => Err(err),
        };
        result.map_err(|err| failed(operation, err))
    }

    /// A prepaid status check: the identical topup, sent again within the horizon.
    async fn prepaid_status(&self, order: &BillerOrder) -> Result<BillerTransaction, Error> {
        let operation = Operation::Status;
        convert::status_horizon(order, self.status_horizon_days, OffsetDateTime::now_utc())?;
        let request = convert::topup(&self.client, order)?;
        let data = self
            .client
            .post(operation, client::TRANSACTION, &request)
            .await?;
        convert::transaction(order, data, true)
    }
}

/// Normalizes and logs a failure.
fn failed(operation: Operation, err: Error) -> ProviderError {
    let err = error::classify(operation, err);
    tracing::warn!(
        operation = operation.name(),
        kind = err.kind.as_str(),
        rc = err.provider_code.as_deref().unwrap_or(""),
        "digiflazz call failed"
    );
    err
}

/// Logs the outcome of a transaction call.
fn settled(operation: Operation, transaction: &BillerTransaction) {
    let state = match transaction.state {
        BillerTxState::Success => "success",
        BillerTxState::Pending => "pending",
        BillerTxState::Failed { .. } => "failed",
        BillerTxState::NotFound => "not_found",
        _ => "other",
    };
    tracing::info!(
        operation = operation.name(),
        rc = %transaction.provider_status,
        state,
        "digiflazz transaction answered"
    );
}

#[async_trait]
impl Biller for Digiflazz {
    async fn balance(&self) -> Result<Amount, ProviderError> {
        let request = convert::balance(&self.client);
        self.call(
            Operation::Balance,
            client::BALANCE,
            request,
            convert::balance_of,
        )
        .await
    }

    /// The prepaid list, then the postpaid one.
    async fn products(&self) -> Result<Vec<BillerProduct>, ProviderError> {
        let mut products = Vec::new();
        for postpaid in [false, true] {
            let request = convert::price_list(&self.client, postpaid);
            let mut list = self
                .call(Operation::PriceList, client::PRICE_LIST, request, |data| {
                    convert::products(data, postpaid)
                })
                .await?;
            products.append(&mut list);
        }
        Ok(products)
    }

    /// `/v1/inquiry-pln`, whatever the product code (Digiflazz validates PLN prepaid
    /// numbers only).
    async fn validate_customer(
        &self,
        product_code: &str,
        customer_no: &str,
    ) -> Result<CustomerInfo, ProviderError> {
        let request = convert::pln_inquiry(&self.client, product_code, customer_no);
        self.call(
            Operation::ValidateCustomer,
            client::INQUIRY_PLN,
            request,
            |data| convert::customer(customer_no, data),
        )
        .await
    }

    async fn purchase(&self, order: &BillerOrder) -> Result<BillerTransaction, ProviderError> {
        let operation = Operation::Purchase;
        let request = convert::topup(&self.client, order);
        self.call(operation, client::TRANSACTION, request, |data| {
            convert::transaction(order, data, false)
        })
        .await
        .inspect(|transaction| settled(operation, transaction))
    }

    async fn inquire(&self, order: &BillerOrder) -> Result<BillInquiry, ProviderError> {
        let request = convert::postpaid(&self.client, Command::Inquire, order);
        self.call(Operation::Inquire, client::TRANSACTION, request, |data| {
            convert::inquiry(order, data)
        })
        .await
    }

    async fn pay(&self, order: &BillerOrder) -> Result<BillerTransaction, ProviderError> {
        let operation = Operation::Pay;
        let request = convert::postpaid(&self.client, Command::Pay, order);
        self.call(operation, client::TRANSACTION, request, |data| {
            convert::transaction(order, data, false)
        })
        .await
        .inspect(|transaction| settled(operation, transaction))
    }

    /// Postpaid: `status-pasca`. Prepaid: the identical topup sent again, only for an
    /// order with `sent_at` less than the horizon ago (else `Rejected`, nothing sent).
    async fn status(&self, order: &BillerOrder) -> Result<BillerTransaction, ProviderError> {
        let operation = Operation::Status;
        let result = if order.postpaid {
            let request = convert::postpaid(&self.client, Command::Status, order);
            self.call(operation, client::TRANSACTION, request, |data| {
                convert::transaction(order, data, true)
            })
            .await
        } else {
            self.prepaid_status(order)
                .await
                .map_err(|err| failed(operation, err))
        };
        result.inspect(|transaction| settled(operation, transaction))
    }

    async fn settlement(&self, _day: Date) -> Result<Vec<SettlementRecord>, ProviderError> {
        Err(ProviderError::not_supported("settlement"))
    }
}

#[async_trait]
impl InboundNotifications for Digiflazz {
    /// HMAC-SHA1 over the whole body under a shared secret (§1.5).
    fn trust(&self) -> Trust {
        Trust::Strong
    }

    async fn verify_and_parse(&self, request: &InboundRequest) -> Result<Inbound, ProviderError> {
        webhook::verify_and_parse(&self.webhook_secret, request)
    }

    fn acknowledge(&self, _request: &InboundRequest, outcome: &AckOutcome) -> InboundResponse {
        webhook::acknowledge(outcome)
    }
}
