//! Digiflazz's bytes: the `sign` of requests (§1.2), the `data` of answers (§1.3), the
//! refusal codes (§1.4), and webhooks with their `X-Hub-Signature` (§1.5).

use axum::body::Bytes;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde_json::{Value, json};

use super::SimTransaction;
use super::catalogue::Bill;
use crate::callback::{CapturedCallback, Tamper};

/// The header carrying a webhook's signature (§1.5).
pub const SIGNATURE_HEADER: &str = "x-hub-signature";
/// The header saying `create`, `update` (or `ping`).
pub const EVENT_HEADER: &str = "x-digiflazz-event";
/// The header carrying a delivery's UUID.
pub const DELIVERY_HEADER: &str = "x-digiflazz-delivery";
/// The `User-Agent` of prepaid webhooks and pings.
pub const PREPAID_USER_AGENT: &str = "DigiFlazz-Hookshot/1.0";
/// The `User-Agent` of postpaid webhooks.
pub const POSTPAID_USER_AGENT: &str = "DigiFlazz-Pasca-Hookshot/1.0";

/// The seller contacts prepaid answers carry (`tele`, `wa`).
const TELE: &str = "digiflazz_seller";
const WA: &str = "081200000000";

/// `md5(username + api_key + suffix)` as lowercase hex (§1.2).
pub fn sign(username: &str, api_key: &str, suffix: &str) -> String {
    let message = format!("{username}{api_key}{suffix}");
    openssl::hash::hash(MessageDigest::md5(), message.as_bytes())
        .map(hex::encode)
        .unwrap_or_default()
}

/// `sha1=` + lowercase hex HMAC-SHA1(secret, body) (§1.5).
pub fn hub_signature(secret: &[u8], body: &[u8]) -> String {
    let digest = PKey::hmac(secret).and_then(|key| {
        let mut signer = Signer::new(MessageDigest::sha1(), &key)?;
        signer.update(body)?;
        signer.sign_to_vec()
    });
    format!("sha1={}", hex::encode(digest.unwrap_or_default()))
}

/// A request refused with a `Gagal` answer and nothing booked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) rc: &'static str,
    pub(crate) message: &'static str,
}

const fn refusal(rc: &'static str, message: &'static str) -> Refusal {
    Refusal { rc, message }
}

pub(crate) const PAYLOAD_ERROR: Refusal = refusal("40", "Payload Error");
pub(crate) const BAD_SIGN: Refusal = refusal("41", "Signature Anda salah");
pub(crate) const BAD_USERNAME: Refusal = refusal("42", "Gagal memproses API Buyer");
pub(crate) const UNKNOWN_SKU: Refusal = refusal("43", "SKU tidak di temukan atau Non-Aktif");
pub(crate) const LOW_DEPOSIT: Refusal = refusal("44", "Saldo tidak cukup");
pub(crate) const REF_ID_TAKEN: Refusal = refusal("49", "Ref ID tidak unik");
pub(crate) const NO_DATA: Refusal = refusal("50", "Data belum ada");
pub(crate) const WRONG_NUMBER: Refusal = refusal("54", "Nomor tujuan salah");
pub(crate) const OVER_MAX_PRICE: Refusal =
    refusal("69", "Harga Seller lebih besar dari ketentuan harga Buyer");
pub(crate) const NO_INQUIRY: Refusal = refusal("02", "Inquiry tidak ditemukan");
pub(crate) const INQUIRY_FAILED: Refusal = refusal("02", "Transaksi Gagal");

/// The `rc` and `message` of a transaction's states.
pub(crate) const SUCCESS: (&str, &str) = ("00", "Transaksi Sukses");
pub(crate) const FAILURE: (&str, &str) = ("02", "Transaksi Gagal");
pub(crate) const PENDING: (&str, &str) = ("03", "Transaksi Pending");
pub(crate) const SELLER_UNAVAILABLE: (&str, &str) = ("53", "Produk Seller sedang tidak tersedia");
pub(crate) const REFUND: (&str, &str) = ("74", "Transaksi Refund");

/// What the request said about the transaction, echoed in a refusal.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Echo<'a> {
    pub(crate) ref_id: &'a str,
    pub(crate) customer_no: &'a str,
    pub(crate) sku: &'a str,
}

/// The `data` of a refused `/v1/transaction` request; the deposit is told only to a caller
/// who signed correctly.
pub(crate) fn refused_transaction(refusal: Refusal, echo: Echo<'_>, saldo: Option<i64>) -> Value {
    if refusal == NO_DATA {
        // status-pasca of an unknown ref_id: exactly these fields (shared decisions).
        return json!({
            "ref_id": echo.ref_id, "customer_no": echo.customer_no,
            "buyer_sku_code": echo.sku, "message": refusal.message,
            "status": "Gagal", "rc": refusal.rc,
        });
    }
    let mut data = json!({
        "ref_id": echo.ref_id, "customer_no": echo.customer_no, "buyer_sku_code": echo.sku,
        "message": refusal.message, "status": "Gagal", "rc": refusal.rc, "sn": "", "price": 0,
    });
    if let Some(saldo) = saldo {
        data["buyer_last_saldo"] = json!(saldo);
    }
    data
}

/// The `data` of any other refused request.
pub(crate) fn refused(refusal: Refusal) -> Value {
    json!({"rc": refusal.rc, "message": refusal.message, "status": "Gagal"})
}

/// The prepaid answer `data` (§1.3.4).
pub(crate) fn prepaid(tx: &SimTransaction) -> Value {
    json!({
        "ref_id": tx.ref_id, "customer_no": tx.customer_no, "buyer_sku_code": tx.sku,
        "message": tx.message, "status": tx.status, "rc": tx.rc, "sn": tx.sn,
        "buyer_last_saldo": tx.buyer_last_saldo, "price": tx.price, "tele": TELE, "wa": WA,
    })
}

/// The inquiry answer `data` (§1.3.5).
pub(crate) fn inquiry(
    ref_id: &str,
    sku: &str,
    customer_no: &str,
    bill: &Bill,
    saldo: i64,
) -> Value {
    json!({
        "ref_id": ref_id, "customer_no": customer_no, "customer_name": bill.customer_name,
        "buyer_sku_code": sku, "admin": bill.admin(), "message": SUCCESS.1,
        "status": "Sukses", "rc": SUCCESS.0, "buyer_last_saldo": saldo,
        "price": bill.price(), "selling_price": bill.selling_price(), "desc": bill.desc(false),
    })
}

/// The payment answer `data` (§1.3.6): the inquiry fields plus `sn` and the state.
pub(crate) fn payment(tx: &SimTransaction, bill: &Bill) -> Value {
    json!({
        "ref_id": tx.ref_id, "customer_no": tx.customer_no,
        "customer_name": bill.customer_name, "buyer_sku_code": tx.sku, "admin": bill.admin(),
        "message": tx.message, "status": tx.status, "rc": tx.rc, "sn": tx.sn,
        "buyer_last_saldo": tx.buyer_last_saldo, "price": tx.price,
        "selling_price": tx.selling_price.unwrap_or_else(|| bill.selling_price()),
        "desc": bill.desc(true),
    })
}

/// A webhook about one transaction, before it is given a delivery id and signed.
#[derive(Clone, Debug)]
pub(crate) struct Webhook {
    pub(crate) url: Option<String>,
    /// `create` (a new transaction) or `update` (it changed).
    pub(crate) event: &'static str,
    pub(crate) postpaid: bool,
    pub(crate) body: String,
}

impl Webhook {
    /// `{"data": …}` with `trx_id` added to the answer's `data`.
    pub(crate) fn new(
        url: Option<String>,
        event: &'static str,
        tx: &SimTransaction,
        data: Value,
    ) -> Self {
        let mut data = data;
        data["trx_id"] = json!(tx.trx_id);
        Self {
            url,
            event,
            postpaid: tx.postpaid,
            body: json!({ "data": data }).to_string(),
        }
    }

    /// One delivery (a fresh `X-Digiflazz-Delivery`), signed with `secret` and spoiled as
    /// `tamper` says: `FlipByte` changes the body's last digit after signing, `WrongKey`
    /// signs with another secret; `StaleTimestamp` is genuine (the protocol has no time).
    pub(crate) fn delivery(&self, secret: &str, tamper: Tamper) -> CapturedCallback {
        let user_agent = if self.postpaid {
            POSTPAID_USER_AGENT
        } else {
            PREPAID_USER_AGENT
        };
        signed(
            self.url.clone(),
            self.event,
            user_agent,
            self.body.clone(),
            secret,
            tamper,
        )
    }
}

/// The ping a webhook gets when it is saved (§1.5): no `data`, `X-Digiflazz-Event: ping`.
pub(crate) fn ping(url: Option<String>, hook_id: &str, secret: &str) -> CapturedCallback {
    let body = json!({
        "sed": hex::encode(rand::random::<[u8; 10]>()),
        "hook_id": hook_id,
        "hook": {"url": url.clone().unwrap_or_default(), "type": "json", "status": true},
    });
    signed(
        url,
        "ping",
        PREPAID_USER_AGENT,
        body.to_string(),
        secret,
        Tamper::None,
    )
}

fn signed(
    url: Option<String>,
    event: &str,
    user_agent: &str,
    body: String,
    secret: &str,
    tamper: Tamper,
) -> CapturedCallback {
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("user-agent".to_owned(), user_agent.to_owned()),
        (EVENT_HEADER.to_owned(), event.to_owned()),
        (DELIVERY_HEADER.to_owned(), uuid()),
    ];
    let key = match tamper {
        Tamper::WrongKey => format!("{secret}-not-the-webhook-secret"),
        Tamper::None | Tamper::FlipByte | Tamper::StaleTimestamp => secret.to_owned(),
    };
    // The signature is sent only when a secret is configured (§1.5).
    if !key.is_empty() {
        let signature = hub_signature(key.as_bytes(), body.as_bytes());
        headers.push((SIGNATURE_HEADER.to_owned(), signature));
    }
    let body = match tamper {
        Tamper::FlipByte => flip_last_digit(&body),
        Tamper::None | Tamper::WrongKey | Tamper::StaleTimestamp => body,
    };
    CapturedCallback {
        url: url.filter(|url| !url.is_empty()),
        method: "POST".to_owned(),
        headers,
        body: Bytes::from(body),
    }
}

/// The body with its last ASCII digit changed (still valid JSON).
fn flip_last_digit(body: &str) -> String {
    let mut bytes = body.as_bytes().to_vec();
    if let Some(digit) = bytes.iter_mut().rev().find(|b| b.is_ascii_digit()) {
        *digit = if *digit == b'9' { b'0' } else { *digit + 1 };
    }
    String::from_utf8(bytes).unwrap_or_else(|_| body.to_owned())
}

/// A random (version 4) UUID.
fn uuid() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A Digiflazz `trx_id`: 24 hex digits, like `5ca22497cc6d0f965d9f84ac` (§1.5).
pub(crate) fn trx_id() -> String {
    let seconds = time::OffsetDateTime::now_utc().unix_timestamp();
    let stamp = u32::try_from(seconds).unwrap_or(u32::MAX);
    format!("{stamp:08x}{}", hex::encode(rand::random::<[u8; 8]>()))
}
