//! Inbound notifications: the provider calls us. An adapter verifies the raw request in the
//! provider's own scheme, parses it into normalized events, and renders the acknowledgement
//! the provider expects — in the provider's own format, also for rejections.

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::messaging::DeliveryState;
use crate::payment::ProviderPaymentState;
use crate::{Amount, OurReference, ProviderError, ProviderReference};

/// A raw request as it reached `/v1/callbacks/{instance}[/{sub_path}]`, before any parsing.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct InboundRequest {
    /// HTTP method, upper case.
    pub method: String,
    /// The path below the instance's callback root without a leading `/`
    /// (`"v1.0/transfer-va/payment"`), `""` for the root itself.
    pub sub_path: String,
    /// The whole path as received, with the query string if any
    /// (`"/v1/callbacks/bni_snap/v1.0/transfer-va/payment"`): what a provider signs when it
    /// signs our URL's path.
    pub path: String,
    /// Headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte (signatures are over raw bytes).
    pub body: Bytes,
    /// When the gateway received it.
    pub received_at: OffsetDateTime,
}

impl InboundRequest {
    /// A request.
    pub fn new(
        method: impl Into<String>,
        sub_path: impl Into<String>,
        headers: Vec<(String, String)>,
        body: Bytes,
        received_at: OffsetDateTime,
    ) -> Self {
        let sub_path = sub_path.into();
        InboundRequest {
            method: method.into(),
            path: format!("/{sub_path}"),
            sub_path,
            headers,
            body,
            received_at,
        }
    }

    /// Sets the whole path as received (by default `"/" + sub_path`).
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How far a verified callback can be trusted on its own (RELIABILITY.md §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// Timestamped signature over the body: the callback is processed as it is.
    Strong,
    /// Weak or no signature: confirm with a status inquiry before changing anything.
    ConfirmByInquiry,
}

/// The resource a callback is about.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourceRef {
    /// A virtual account.
    VirtualAccount {
        /// Our reference, when the callback carries it.
        reference: Option<OurReference>,
        /// The provider's id, when the callback carries it.
        provider_reference: Option<ProviderReference>,
        /// The VA number, when the callback carries it.
        va_number: Option<String>,
    },
    /// A message (WhatsApp template or OTP).
    Message {
        /// The provider's message id (`wamid.…`).
        provider_reference: ProviderReference,
    },
    /// A payment (e-wallet, checkout, QRIS).
    Payment {
        /// Our reference, when the callback carries it.
        reference: Option<OurReference>,
        /// The provider's id, when the callback carries it.
        provider_reference: Option<ProviderReference>,
    },
    /// An e-signature signer registration.
    Signer {
        /// The provider's handle on the registration (PrivyID `userToken`).
        provider_reference: ProviderReference,
    },
    /// A bill payment or prepaid purchase (PPOB).
    BillPayment {
        /// Our reference (the `ref_id` we sent).
        reference: OurReference,
        /// The biller's id (Digiflazz `trx_id`), when the callback carries it.
        provider_reference: Option<ProviderReference>,
    },
    /// A document sent for e-signature.
    Document {
        /// The provider's id (PrivyID `docToken`).
        provider_reference: ProviderReference,
    },
}

/// What happened, normalized.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// Money arrived in a VA.
    VaPayment {
        /// The amount of this payment.
        amount: Amount,
        /// The total paid so far including this payment, when the provider says.
        cumulative: Option<Amount>,
        /// The amount billed, as the provider understands it.
        billed: Option<Amount>,
        /// When it was paid.
        paid_at: Option<OffsetDateTime>,
        /// The provider's reference of this payment (BNI `payment_ntb`).
        payment_reference: Option<String>,
    },
    /// A payment previously notified was reversed by the provider.
    VaReversal {
        /// The amount reversed.
        amount: Amount,
    },
    /// The provider reports how far a message got.
    MessageStatus {
        /// Sent, delivered, read or failed.
        state: DeliveryState,
        /// When, as the provider says.
        at: Option<OffsetDateTime>,
        /// Why it failed (the provider's code and title), for failures.
        error: Option<String>,
    },
    /// The provider reports a payment's state.
    PaymentUpdate {
        /// The provider's view, mapped; unknown codes are [`ProviderPaymentState::Unknown`].
        state: ProviderPaymentState,
        /// The amount the provider says was charged, when it says.
        amount: Option<Amount>,
        /// When it was paid, when paid.
        paid_at: Option<OffsetDateTime>,
        /// The provider's raw status, for operators.
        provider_status: String,
    },
    /// A biller reports a transaction's outcome.
    BillUpdate {
        /// The transaction as reported (state, serial number, token, cost, balance).
        transaction: Box<crate::biller::BillerTransaction>,
    },
    /// The provider says the resource's status changed, in a callback that proves nothing
    /// (PrivyID signs none): the gateway asks the provider for the status and only that
    /// answer changes its records.
    StatusChanged {
        /// The status the callback claims, for operators.
        provider_status: String,
    },
}

/// One normalized event out of a provider callback.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboundEvent {
    /// What it is about.
    pub resource: ResourceRef,
    /// What happened.
    pub kind: EventKind,
    /// A key unique per real-world event at this provider, used to de-duplicate: a
    /// replayed callback carries the same key and changes nothing.
    pub provider_event_id: String,
    /// The decoded payload (decrypted / form-decoded), kept for audit. Adapters remove
    /// nothing from it; the gateway stores it and never logs it.
    pub payload: serde_json::Value,
}

impl InboundEvent {
    /// An event.
    pub fn new(
        resource: ResourceRef,
        kind: EventKind,
        provider_event_id: String,
        payload: serde_json::Value,
    ) -> Self {
        InboundEvent {
            resource,
            kind,
            provider_event_id,
            payload,
        }
    }
}

/// A verified notification: events to store and apply.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Notification {
    /// The events, in order.
    pub events: Vec<InboundEvent>,
    /// An id the provider promises never to reuse within a day (SNAP `X-EXTERNAL-ID`):
    /// the gateway remembers it and answers a reuse with [`AckOutcome::Replayed`],
    /// storing nothing. A provider's retry of the same event carries a fresh id and is
    /// de-duplicated by [`InboundEvent::provider_event_id`] instead.
    pub request_id: Option<String>,
}

impl Notification {
    /// A notification without a request id.
    pub fn new(events: Vec<InboundEvent>) -> Self {
        Notification {
            events,
            request_id: None,
        }
    }

    /// Sets the request id.
    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }
}

/// A verified question from the provider about a bill the gateway holds (SNAP
/// host-to-host VA inquiry): answer with [`AckOutcome::Bill`] or [`AckOutcome::Refused`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Lookup {
    /// Which bill.
    pub resource: ResourceRef,
    /// As [`Notification::request_id`].
    pub request_id: Option<String>,
}

impl Lookup {
    /// A lookup.
    pub fn new(resource: ResourceRef, request_id: Option<String>) -> Self {
        Lookup {
            resource,
            request_id,
        }
    }
}

/// What the adapter made of a request.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Inbound {
    /// Verified events to store and apply, then acknowledge with [`InboundNotifications::acknowledge`].
    Events(Notification),
    /// A verified question about a bill the gateway holds.
    Lookup(Lookup),
    /// A request the adapter answers itself (a handshake, a token request): send this.
    Reply(InboundResponse),
}

/// Why the gateway refuses a payment for, or an inquiry about, a bill it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No such bill (SNAP `4042512`).
    UnknownBill,
    /// The bill expired (SNAP `4042519`).
    Expired,
    /// The bill was cancelled (SNAP `4042512`, blocked).
    Cancelled,
    /// The bill is paid already (SNAP `4042514`).
    AlreadyPaid,
    /// The amount does not match what is owed (SNAP `4042513`).
    AmountMismatch,
    /// The same payment id arrived before with different content (SNAP `4042518`).
    Inconsistent,
}

/// What a bill the gateway holds owes, for the provider to show the payer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BillView {
    /// Our reference (SNAP `trxId`).
    pub reference: OurReference,
    /// The VA number.
    pub va_number: String,
    /// What is owed now.
    pub amount: Amount,
    /// The name on the bill. Personal data: never log it.
    pub customer_name: String,
    /// When it stops being payable.
    pub expires_at: OffsetDateTime,
}

impl BillView {
    /// A bill.
    pub fn new(
        reference: OurReference,
        va_number: String,
        amount: Amount,
        customer_name: String,
        expires_at: OffsetDateTime,
    ) -> Self {
        BillView {
            reference,
            va_number,
            amount,
            customer_name,
            expires_at,
        }
    }
}

/// An HTTP answer in the provider's own format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundResponse {
    /// HTTP status.
    pub status: u16,
    /// Content type of `body`.
    pub content_type: &'static str,
    /// The body.
    pub body: Bytes,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

impl InboundResponse {
    /// A JSON answer.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        InboundResponse {
            status,
            content_type: "application/json",
            body: Bytes::from(body.to_string()),
            headers: Vec::new(),
        }
    }

    /// A plain-text answer.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        InboundResponse {
            status,
            content_type: "text/plain; charset=utf-8",
            body: Bytes::from(body.into()),
            headers: Vec::new(),
        }
    }
}

/// How the gateway fared with a request, to be acknowledged in the provider's format.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AckOutcome {
    /// Stored durably (or a replay of something already stored): tell the provider to stop.
    Accepted,
    /// Verification or parsing failed; nothing was stored.
    Rejected(ProviderError),
    /// The gateway could not store it right now; the provider should try again.
    RetryLater,
    /// The request id ([`Notification::request_id`]) was used before within its window;
    /// nothing was stored (SNAP `409xx00`).
    Replayed,
    /// Verified, but the gateway, holding the bill, refuses it; nothing was stored.
    Refused(Refusal),
    /// The answer to a [`Lookup`]: what the bill owes.
    Bill(BillView),
}

/// Verifies, parses and acknowledges one provider's callbacks.
#[async_trait]
pub trait InboundNotifications: Send + Sync + std::fmt::Debug {
    /// How far a verified callback from this provider can be trusted.
    fn trust(&self) -> Trust;

    /// Verifies `request` in the provider's scheme (on raw bytes, constant-time) and parses
    /// it. Errors are [`crate::ErrorKind::InvalidSignature`] (failed verification) or
    /// [`crate::ErrorKind::Rejected`] (well signed but unusable); either way nothing is stored.
    async fn verify_and_parse(&self, request: &InboundRequest) -> Result<Inbound, ProviderError>;

    /// Renders the answer the provider expects to `request` for `outcome` (SNAP answers
    /// carry the service code of the endpoint called and echo fields of the request).
    fn acknowledge(&self, request: &InboundRequest, outcome: &AckOutcome) -> InboundResponse;
}
