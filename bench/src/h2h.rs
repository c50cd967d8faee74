//! Host-to-host VA bills (SNAP BI, the gateway holds the bill): the bank's side, as BNI
//! drives it against the gateway's callback URLs of `bni_h2h_sandbox`
//! (/work/shared/providers/bni-and-snap.md B.4; the simulator's `pay_h2h` is the same
//! client).
//!
//! The bank gets one B2B token (RSA-signed request with BNI's key, B.3.1) and reuses it.
//! One bill is then two requests, both HMAC-SHA512-signed with the secret the gateway
//! issued (B.3.2): the inquiry (svc 24, `…/v1.0/transfer-va/inquiry`), answered `2002400`
//! with what the VA owes, and the payment of that amount (svc 25,
//! `…/v1.0/transfer-va/payment`), answered `2002500`. The bank holds its customer at the
//! ATM or teller meanwhile, so each answer's latency is measured on its own: the inquiry
//! from the bill's start (in an open loop its *scheduled* start), the payment from its send.
//!
//! Every bill is a fresh VA, paid once in full. What each VA went through is remembered
//! ([`Fate`]), and after the run the database must show exactly that ([`check`]): every
//! acknowledged payment made its VA `paid` exactly once, and no VA was paid twice.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sqlx::{Connection as _, Row as _};

use crate::load::{self, Percentiles};
use crate::workload::{IssuedVa, Outcome, transport_kind};

/// The sandbox's host-to-host BNI instance (config/sandbox.toml).
pub const INSTANCE: &str = "bni_h2h_sandbox";
/// The gateway's route for SNAP sub-paths, as its metrics label it.
pub const ROUTE: &str = "/v1/callbacks/{instance}/{*rest}";
/// The id the gateway gave the bank: `X-CLIENT-KEY` of the token request, `X-PARTNER-ID`
/// of the service calls (`notify_client_key`).
const CLIENT_KEY: &str = "GATEWAY-FOR-BNI";
/// The HMAC secret the gateway issued the bank (`notify_client_secret`; a public sandbox
/// value).
const CLIENT_SECRET: &str = "gateway-issued-bni-sandbox-secret";
/// `CHANNEL-ID` BNI sends.
const CHANNEL_ID: &str = "95221";
/// The instance's `partner_service_id`: the leading digits of its VA numbers.
const PARTNER_SERVICE_ID: &str = "8124";
/// `channelCode` (ISO 18245) of the payments: an ATM.
const CHANNEL_CODE: u32 = 6011;
/// The inquiry's success code (svc 24).
pub const INQUIRY_OK: &str = "2002400";
/// The payment's success code (svc 25).
pub const PAYMENT_OK: &str = "2002500";

const TOKEN_PATH: &str = "v1.0/access-token/b2b";
const INQUIRY_PATH: &str = "v1.0/transfer-va/inquiry";
const PAYMENT_PATH: &str = "v1.0/transfer-va/payment";

/// A signed SNAP service call, ready to send.
pub struct SignedCall {
    /// The compact JSON body, exactly as signed.
    pub body: String,
    /// Header name (lower case) and value.
    pub headers: Vec<(&'static str, String)>,
}

impl fmt::Debug for SignedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| *name).collect();
        f.debug_struct("SignedCall")
            .field("body_len", &self.body.len())
            .field("headers", &names)
            .finish()
    }
}

/// Signs `body` for `POST path` with `token` (B.3.2): `X-SIGNATURE` = Base64
/// HMAC-SHA512(`secret`, `POST:<path>:<token>:<lowerhex sha256(minified body)>:<timestamp>`),
/// with `Authorization: Bearer <token>` and the bank's `X-PARTNER-ID`, `X-EXTERNAL-ID` and
/// `CHANNEL-ID`.
pub fn sign(
    path: &str,
    token: &str,
    secret: &str,
    body: &Value,
    timestamp: &str,
    external_id: &str,
) -> SignedCall {
    let body = body.to_string();
    let hash = mocks::snap::body_hash(body.as_bytes());
    let string_to_sign = format!("POST:{path}:{token}:{hash}:{timestamp}");
    let signature = mocks::snap::hmac_sha512_b64(secret.as_bytes(), &string_to_sign);
    SignedCall {
        body,
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("authorization", format!("Bearer {token}")),
            ("x-timestamp", timestamp.to_owned()),
            ("x-signature", signature),
            ("x-partner-id", CLIENT_KEY.to_owned()),
            ("x-external-id", external_id.to_owned()),
            ("channel-id", CHANNEL_ID.to_owned()),
        ],
    }
}

/// `va_number` as SNAP's identity pair: `partnerServiceId` (the instance's prefix,
/// left-padded with spaces to 8 characters) and `customerNo` (the rest). `None` unless
/// `va_number` is digits starting with the prefix, followed by 1–20 more.
pub fn split_va_number(va_number: &str) -> Option<(String, String)> {
    let customer_no = va_number.strip_prefix(PARTNER_SERVICE_ID)?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if customer_no.is_empty() || customer_no.len() > 20 || !digits(customer_no) {
        return None;
    }
    Some((format!("{PARTNER_SERVICE_ID:>8}"), customer_no.to_owned()))
}

/// The inquiry (svc 24) for `va_number`, as BNI sends it; `None` when the number is not one
/// of the instance's.
pub fn inquiry_body(va_number: &str, request_id: &str, at: &str) -> Option<Value> {
    let (service_id, customer_no) = split_va_number(va_number)?;
    Some(json!({
        "partnerServiceId": service_id,
        "customerNo": customer_no,
        "virtualAccountNo": format!("{service_id}{customer_no}"),
        "trxDateTime": at,
        "channelCode": CHANNEL_CODE,
        "inquiryRequestId": request_id,
        "additionalInfo": {},
    }))
}

/// The payment (svc 25, B.4) that follows an inquiry answered with `answer`: the identity
/// and name echoed from the answer, `paymentRequestId` = the inquiry's request id, and
/// `paidAmount` = `totalAmount` = what the answer says is owed. `None` without a
/// `virtualAccountData.totalAmount`.
pub fn payment_body(
    answer: &Value,
    request_id: &str,
    reference_no: &str,
    at: &str,
) -> Option<Value> {
    let data = answer.get("virtualAccountData")?;
    let total = data.get("totalAmount")?.clone();
    let mut body = Map::new();
    for key in ["partnerServiceId", "customerNo", "virtualAccountNo"] {
        body.insert(
            key.to_owned(),
            data.get(key).cloned().unwrap_or(Value::Null),
        );
    }
    for key in ["virtualAccountName", "trxId"] {
        if let Some(value) = data.get(key) {
            body.insert(key.to_owned(), value.clone());
        }
    }
    let rest = [
        ("paymentRequestId", json!(request_id)),
        ("channelCode", json!(CHANNEL_CODE)),
        ("paidAmount", total.clone()),
        ("totalAmount", total),
        ("trxDateTime", json!(at)),
        ("referenceNo", json!(reference_no)),
        ("flagAdvise", json!("N")),
        ("additionalInfo", json!({})),
    ];
    body.extend(rest.into_iter().map(|(k, v)| (k.to_owned(), v)));
    Some(Value::Object(body))
}

/// What an answer is, when it is not the expected success: its `responseCode`, else
/// `http_<status>`.
fn answer_kind(status: u16, answer: Option<&Value>) -> String {
    answer
        .and_then(|a| a.get("responseCode"))
        .and_then(Value::as_str)
        .map_or_else(|| format!("http_{status}"), str::to_owned)
}

/// Checks the inquiry's answer: HTTP 200, `2002400`, and a `totalAmount` of `billed`
/// rupiah. `Ok` is the parsed answer; `Err` the kind of failure (the `responseCode`,
/// `http_<status>`, or `2002400_wrong_total`).
pub fn check_inquiry(status: u16, body: &[u8], billed: i64) -> Result<Value, String> {
    let answer = serde_json::from_slice::<Value>(body).ok();
    let kind = answer_kind(status, answer.as_ref());
    let Some(answer) = answer.filter(|_| status == 200 && kind == INQUIRY_OK) else {
        return Err(kind);
    };
    let total = answer
        .get("virtualAccountData")
        .and_then(|d| d.get("totalAmount"))
        .and_then(mocks::snap::parse_amount);
    if total != Some(billed) {
        return Err(format!("{INQUIRY_OK}_wrong_total"));
    }
    Ok(answer)
}

/// Checks the payment's answer: HTTP 200 and `2002500`, with `paymentFlagStatus` `00` when
/// present. `Err` is the kind of failure (the `responseCode`, `http_<status>`, or
/// `2002500_flag_<flag>`).
pub fn check_payment(status: u16, body: &[u8]) -> Result<(), String> {
    let answer = serde_json::from_slice::<Value>(body).ok();
    let kind = answer_kind(status, answer.as_ref());
    if status != 200 || kind != PAYMENT_OK {
        return Err(kind);
    }
    let flag = answer
        .as_ref()
        .and_then(|a| a.get("virtualAccountData"))
        .and_then(|d| d.get("paymentFlagStatus"));
    match flag {
        None => Ok(()),
        Some(Value::String(f)) if f == "00" => Ok(()),
        Some(other) => Err(format!(
            "{PAYMENT_OK}_flag_{}",
            other.as_str().unwrap_or("invalid")
        )),
    }
}

/// The bank: its token for one gateway, and the URLs it calls.
pub struct Bank {
    http: reqwest::Client,
    inquiry_url: String,
    inquiry_path: String,
    payment_url: String,
    payment_path: String,
    token: String,
    run: String,
    next_request: AtomicU64,
}

impl fmt::Debug for Bank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bank")
            .field("inquiry_url", &self.inquiry_url)
            .field("payment_url", &self.payment_url)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// One of the two service calls.
#[derive(Clone, Copy, Debug)]
enum Service {
    Inquiry,
    Payment,
}

impl Bank {
    /// Gets the bank's B2B token from the gateway at `base_url` (once; the run reuses it:
    /// the gateway's tokens last 900 s) and prepares the service URLs.
    pub async fn connect(http: reqwest::Client, base_url: &str, run: &str) -> anyhow::Result<Bank> {
        let root = format!("{base_url}/v1/callbacks/{INSTANCE}");
        let notifier = mocks::snap::SnapNotifier::new(mocks::snap::SnapNotifierConfig {
            client_key: CLIENT_KEY.to_owned(),
            partner_id: CLIENT_KEY.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            provider_private_key_pem: mocks::keys::BNI.private_pem.to_owned(),
            channel_id: CHANNEL_ID.to_owned(),
            utc_timestamps: false,
            asymmetric: false,
        });
        let token = notifier
            .fetch_token(&format!("{root}/{TOKEN_PATH}"))
            .await
            .map_err(|e| anyhow::anyhow!("the gateway refused the bank's token request: {e}"))?;
        let url = |path: &str| format!("{root}/{path}");
        let path = |path: &str| format!("/v1/callbacks/{INSTANCE}/{path}");
        Ok(Bank {
            http,
            inquiry_url: url(INQUIRY_PATH),
            inquiry_path: path(INQUIRY_PATH),
            payment_url: url(PAYMENT_PATH),
            payment_path: path(PAYMENT_PATH),
            token,
            run: run.to_owned(),
            next_request: AtomicU64::new(1),
        })
    }

    /// A request id never used before on this gateway (`inquiryRequestId`, reused as
    /// `paymentRequestId`), and a 6-digit `referenceNo`.
    fn request_ids(&self) -> (String, String) {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        (
            format!("BENCH{}{n:012}", self.run),
            format!("{:06}", n % 1_000_000),
        )
    }

    /// Signs and posts `body`; the answer's status and bytes, or the transport failure.
    async fn post(
        &self,
        service: Service,
        body: &Value,
    ) -> Result<(u16, bytes::Bytes), &'static str> {
        let (url, path) = match service {
            Service::Inquiry => (&self.inquiry_url, &self.inquiry_path),
            Service::Payment => (&self.payment_url, &self.payment_path),
        };
        let stamp = mocks::snap::timestamp(false);
        let call = sign(
            path,
            &self.token,
            CLIENT_SECRET,
            body,
            &stamp,
            &mocks::snap::external_id(),
        );
        let mut request = self.http.post(url.as_str());
        for (name, value) in call.headers {
            request = request.header(name, value);
        }
        let response = request
            .body(call.body)
            .send()
            .await
            .map_err(|e| transport_kind(&e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| transport_kind(&e))?;
        Ok((status, bytes))
    }
}

/// What happened to one VA during the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// No payment was sent for it (an inquiry may have been).
    NotSent,
    /// Its payment was sent, but not answered `2002500` (refused, failed or abandoned):
    /// it may or may not be paid, but at most once.
    PaymentSent,
    /// Its payment was answered `2002500`: it must be paid, exactly once.
    Acknowledged,
}

const NOT_SENT: u8 = 0;
const PAYMENT_SENT: u8 = 1;
const ACKNOWLEDGED: u8 = 2;

/// Latencies of one phase's answers.
#[derive(Debug)]
struct Timings {
    inquiry: Histogram<u64>,
    payment: Histogram<u64>,
}

/// One phase's bills: each call of [`H2hWork::execute`] takes the next unpaid VA, asks
/// the gateway what it owes, and pays that.
#[derive(Debug)]
pub struct H2hWork {
    bank: std::sync::Arc<Bank>,
    vas: Vec<IssuedVa>,
    billed: i64,
    cursor: AtomicUsize,
    fates: Vec<AtomicU8>,
    timings: Mutex<Timings>,
}

/// The answers' latencies over one phase (`h2h` in a phase of the JSON result).
#[derive(Clone, Debug, Serialize)]
pub struct H2hLatencies {
    /// Inquiries answered `2002400` with the billed amount.
    pub inquiries_ok: u64,
    /// Payments answered `2002500`.
    pub payments_ok: u64,
    /// Inquiry: from the bill's start (open loop: its scheduled time) to the answer.
    pub inquiry: Percentiles,
    /// Payment: from its send to its answer.
    pub payment: Percentiles,
}

impl H2hWork {
    /// Bills for `vas`, each billed `billed` rupiah.
    pub fn new(bank: std::sync::Arc<Bank>, vas: Vec<IssuedVa>, billed: i64) -> H2hWork {
        let fates = vas.iter().map(|_| AtomicU8::new(NOT_SENT)).collect();
        H2hWork {
            bank,
            vas,
            billed,
            cursor: AtomicUsize::new(0),
            fates,
            timings: Mutex::new(Timings {
                inquiry: load::histogram(),
                payment: load::histogram(),
            }),
        }
    }

    fn record(&self, service: Service, latency: std::time::Duration) {
        let mut t = self.timings.lock().unwrap_or_else(|p| p.into_inner());
        let h = match service {
            Service::Inquiry => &mut t.inquiry,
            Service::Payment => &mut t.payment,
        };
        let _ = h.record(load::micros(latency));
    }

    /// One bill, started at `started` (closed loop: now; open loop: its scheduled time).
    /// Only a bill whose two answers were both successes is `Ok`; a failure is named
    /// `inquiry:<kind>` or `payment:<kind>`.
    pub async fn execute(&self, started: Instant) -> Outcome {
        let i = self.cursor.fetch_add(1, Ordering::Relaxed);
        let (Some(va), Some(fate)) = (self.vas.get(i), self.fates.get(i)) else {
            return Outcome::Exhausted;
        };
        let (request_id, reference_no) = self.bank.request_ids();
        let Some(number) = va.va_number.as_deref() else {
            return Outcome::Failed("inquiry:no_va_number".to_owned());
        };
        let Some(inquiry) = inquiry_body(number, &request_id, &mocks::snap::timestamp(false))
        else {
            return Outcome::Failed("inquiry:foreign_va_number".to_owned());
        };
        let (status, bytes) = match self.bank.post(Service::Inquiry, &inquiry).await {
            Ok(answer) => answer,
            Err(kind) => return Outcome::Failed(format!("inquiry:{kind}")),
        };
        let answered = Instant::now();
        let answer = match check_inquiry(status, &bytes, self.billed) {
            Ok(answer) => answer,
            Err(kind) => return Outcome::Failed(format!("inquiry:{kind}")),
        };
        self.record(
            Service::Inquiry,
            answered.saturating_duration_since(started),
        );
        let at = mocks::snap::timestamp(false);
        let Some(payment) = payment_body(&answer, &request_id, &reference_no, &at) else {
            return Outcome::Failed(format!("inquiry:{INQUIRY_OK}_without_total"));
        };
        fate.store(PAYMENT_SENT, Ordering::Relaxed);
        let sent = Instant::now();
        let (status, bytes) = match self.bank.post(Service::Payment, &payment).await {
            Ok(answer) => answer,
            Err(kind) => return Outcome::Failed(format!("payment:{kind}")),
        };
        let answered = Instant::now();
        if let Err(kind) = check_payment(status, &bytes) {
            return Outcome::Failed(format!("payment:{kind}"));
        }
        fate.store(ACKNOWLEDGED, Ordering::Relaxed);
        self.record(Service::Payment, answered - sent);
        Outcome::Ok
    }

    /// The phase's answer latencies.
    pub fn latencies(&self) -> H2hLatencies {
        let t = self.timings.lock().unwrap_or_else(|p| p.into_inner());
        H2hLatencies {
            inquiries_ok: t.inquiry.len(),
            payments_ok: t.payment.len(),
            inquiry: Percentiles::of(&t.inquiry),
            payment: Percentiles::of(&t.payment),
        }
    }

    /// What happened to each VA (by id); VAs the phase never reached are `NotSent`.
    pub fn fates(&self) -> impl Iterator<Item = (String, Fate)> + '_ {
        self.vas.iter().zip(&self.fates).map(|(va, fate)| {
            let fate = match fate.load(Ordering::Relaxed) {
                ACKNOWLEDGED => Fate::Acknowledged,
                PAYMENT_SENT => Fate::PaymentSent,
                _ => Fate::NotSent,
            };
            (va.id.clone(), fate)
        })
    }
}

/// An H2H VA as the database holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbVa {
    pub id: String,
    pub status: String,
    pub amount: i64,
    pub paid_amount: i64,
}

/// What the database holds for the instance, after the run.
#[derive(Clone, Debug, Default)]
pub struct DbState {
    pub vas: Vec<DbVa>,
    /// VA id → stored `va.payment` provider events.
    pub payment_events: HashMap<String, i64>,
    /// VA id → `virtual_account.paid` events enqueued for the product.
    pub paid_events: HashMap<String, i64>,
}

/// Reads the instance's VAs, their payment provider events and their `paid` events from
/// the database at `url` (the gateway's, SQLite or PostgreSQL).
pub async fn read_db(url: &str) -> anyhow::Result<DbState> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .context("cannot open the gateway's database for the H2H check")?;
    let rows = sqlx::query(
        "SELECT id, status, amount, paid_amount FROM virtual_accounts WHERE provider = $1",
    )
    .bind(INSTANCE)
    .fetch_all(&mut conn)
    .await?;
    let vas = rows
        .iter()
        .map(|r| {
            Ok(DbVa {
                id: r.try_get(0)?,
                status: r.try_get(1)?,
                amount: r.try_get(2)?,
                paid_amount: r.try_get(3)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let counts = |rows: Vec<sqlx::any::AnyRow>| {
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            .collect::<Result<HashMap<_, _>, sqlx::Error>>()
    };
    let payment_events = counts(
        sqlx::query(
            "SELECT resource_id, COUNT(*) FROM provider_events \
             WHERE provider = $1 AND kind = 'va.payment' AND resource_id IS NOT NULL \
             GROUP BY resource_id",
        )
        .bind(INSTANCE)
        .fetch_all(&mut conn)
        .await?,
    )?;
    let paid_events = counts(
        sqlx::query(
            "SELECT e.resource_id, COUNT(*) FROM events e \
             JOIN virtual_accounts v ON v.id = e.resource_id \
             WHERE v.provider = $1 AND e.type = 'virtual_account.paid' \
             GROUP BY e.resource_id",
        )
        .bind(INSTANCE)
        .fetch_all(&mut conn)
        .await?,
    )?;
    let _ = conn.close().await;
    Ok(DbState {
        vas,
        payment_events,
        paid_events,
    })
}

/// The check after the run: every VA is in the state its [`Fate`] allows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct H2hCheck {
    /// The instance's VAs in the database.
    pub vas_in_db: usize,
    /// Payments answered `2002500`; each VA must be `paid`, in full, with one payment
    /// event and one `virtual_account.paid` event.
    pub acknowledged: usize,
    /// Of those, found so.
    pub acknowledged_paid_once: usize,
    /// Payments sent without a `2002500` answer: paid once or untouched, either is right.
    pub sent_unacknowledged: usize,
    /// Of those, found paid (once).
    pub sent_unacknowledged_paid: usize,
    /// VAs no payment was sent for; each must be untouched (`active`, nothing paid, no
    /// event).
    pub not_sent: usize,
    /// VAs in a state their fate does not allow.
    pub violations: usize,
    /// The first violations, described.
    pub examples: Vec<String>,
    /// No violation, and every acknowledged VA found.
    pub ok: bool,
}

/// Violations described in [`H2hCheck::examples`] at most.
const EXAMPLES: usize = 20;

/// Compares what the bench did (`fates`, by VA id; VAs it issued but never billed are
/// `NotSent`) with what the database holds.
pub fn check(fates: &HashMap<String, Fate>, db: &DbState) -> H2hCheck {
    let mut out = H2hCheck {
        vas_in_db: db.vas.len(),
        ..H2hCheck::default()
    };
    let violation = |out: &mut H2hCheck, text: String| {
        out.violations += 1;
        if out.examples.len() < EXAMPLES {
            out.examples.push(text);
        }
    };
    let mut seen = 0usize;
    for va in &db.vas {
        let payments = db.payment_events.get(&va.id).copied().unwrap_or(0);
        let paid_events = db.paid_events.get(&va.id).copied().unwrap_or(0);
        let paid_once =
            va.status == "paid" && va.paid_amount == va.amount && payments == 1 && paid_events == 1;
        let untouched =
            va.status == "active" && va.paid_amount == 0 && payments == 0 && paid_events == 0;
        let fate = fates.get(&va.id).copied();
        seen += usize::from(fate.is_some());
        let allowed = match fate.unwrap_or(Fate::NotSent) {
            Fate::Acknowledged => {
                out.acknowledged += 1;
                out.acknowledged_paid_once += usize::from(paid_once);
                paid_once
            }
            Fate::PaymentSent => {
                out.sent_unacknowledged += 1;
                out.sent_unacknowledged_paid += usize::from(paid_once);
                paid_once || untouched
            }
            Fate::NotSent => {
                out.not_sent += 1;
                untouched
            }
        };
        if !allowed {
            violation(
                &mut out,
                format!(
                    "{} ({:?}): status {}, paid {} of {}, {payments} payment event(s), {paid_events} paid event(s)",
                    va.id,
                    fate.unwrap_or(Fate::NotSent),
                    va.status,
                    va.paid_amount,
                    va.amount
                ),
            );
        }
    }
    let in_db: std::collections::HashSet<&str> = db.vas.iter().map(|v| v.id.as_str()).collect();
    let mut missing: Vec<&String> = fates
        .iter()
        .filter(|(id, fate)| **fate != Fate::NotSent && !in_db.contains(id.as_str()))
        .map(|(id, _)| id)
        .collect();
    missing.sort();
    for id in missing {
        violation(
            &mut out,
            format!("{id}: paid by the bench but not in the database"),
        );
    }
    out.ok = out.violations == 0 && seen == fates.len();
    if seen != fates.len() {
        let text = format!(
            "{} VA(s) the bench issued are not in the database",
            fates.len() - seen
        );
        out.examples.push(text);
    }
    out
}

/// The H2H workload's result for one backend (`h2h` of a backend in the JSON result).
#[derive(Clone, Debug, Default, Serialize)]
pub struct H2hResult {
    /// Why the workload stopped before its end, when it did (no token, database
    /// unreadable, …).
    pub failed: Option<String>,
    /// H2H VAs issued (unmeasured) before the phases.
    pub vas_issued: usize,
    /// Seconds spent issuing them.
    pub issue_seconds: f64,
    /// Token requests the bank made (one for the whole run).
    pub token_requests: u32,
    /// Webhooks the sink received from the H2H phases (`virtual_account.paid`).
    pub webhooks_received: u64,
    /// The check of the database after the run.
    pub check: H2hCheck,
    /// Codes of every failed answer, over warm-up and phases (`inquiry:<code>`, …).
    pub errors: BTreeMap<String, u64>,
}

impl H2hResult {
    /// Whether the workload ran to its end and the database check passed.
    pub fn passed(&self) -> bool {
        self.failed.is_none() && self.check.ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderName, HeaderValue};
    use base64::Engine as _;
    use hmac::Mac as _;
    use sha2::Digest as _;

    const NUMBER: &str = "8124000000000042";

    fn headers(call: &SignedCall) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in &call.headers {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
            );
        }
        map
    }

    fn header<'a>(call: &'a SignedCall, name: &str) -> Option<&'a str> {
        call.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn splits_and_pads_the_va_number() {
        assert_eq!(
            split_va_number(NUMBER),
            Some(("    8124".to_owned(), "000000000042".to_owned()))
        );
        assert_eq!(split_va_number("9124000000000042"), None);
        assert_eq!(split_va_number("8124"), None);
        assert_eq!(split_va_number("81240000x0000042"), None);
        assert_eq!(split_va_number(&format!("8124{}", "1".repeat(21))), None);
    }

    #[test]
    fn inquiry_carries_the_snap_identity() {
        let body = inquiry_body(NUMBER, "REQ1", "2026-11-22T10:00:00+07:00");
        let body = body.unwrap_or_default();
        assert_eq!(body["partnerServiceId"], "    8124");
        assert_eq!(body["customerNo"], "000000000042");
        assert_eq!(body["virtualAccountNo"], "    8124000000000042");
        assert_eq!(body["inquiryRequestId"], "REQ1");
        assert_eq!(body["channelCode"], 6011);
        assert_eq!(body["trxDateTime"], "2026-11-22T10:00:00+07:00");
        assert!(inquiry_body("123", "REQ1", "t").is_none());
    }

    fn inquiry_answer(total: &str) -> Value {
        json!({
            "responseCode": "2002400",
            "responseMessage": "Successful",
            "virtualAccountData": {
                "partnerServiceId": "    8124",
                "customerNo": "000000000042",
                "virtualAccountNo": "    8124000000000042",
                "virtualAccountName": "Budi",
                "trxId": "va_01",
                "totalAmount": {"value": total, "currency": "IDR"},
                "inquiryRequestId": "REQ1",
            },
        })
    }

    #[test]
    fn payment_echoes_the_inquiry_and_pays_what_is_owed() {
        let answer = inquiry_answer("50000.00");
        let body = payment_body(&answer, "REQ1", "000001", "2026-11-22T10:00:01+07:00");
        let body = body.unwrap_or_default();
        assert_eq!(body["partnerServiceId"], "    8124");
        assert_eq!(body["customerNo"], "000000000042");
        assert_eq!(body["virtualAccountNo"], "    8124000000000042");
        assert_eq!(body["virtualAccountName"], "Budi");
        assert_eq!(body["trxId"], "va_01");
        assert_eq!(body["paymentRequestId"], "REQ1");
        assert_eq!(
            body["paidAmount"],
            json!({"value": "50000.00", "currency": "IDR"})
        );
        assert_eq!(body["totalAmount"], body["paidAmount"]);
        assert_eq!(body["referenceNo"], "000001");
        assert_eq!(body["flagAdvise"], "N");
        let no_total = json!({"responseCode": "2002400", "virtualAccountData": {}});
        assert!(payment_body(&no_total, "REQ1", "000001", "t").is_none());
    }

    /// The signature recomputed independently of `mocks::snap` (B.3.2).
    #[test]
    fn signs_over_path_token_body_hash_and_timestamp() {
        let body = json!({"b": " 1", "a": 2});
        let call = sign(
            "/p/v1.0/x",
            "TOK",
            "secret",
            &body,
            "2026-11-22T10:00:00+07:00",
            "E1",
        );
        assert_eq!(call.body, body.to_string());
        assert!(!call.body.contains(": ") && call.body.contains(r#"" 1""#));
        let hash = hex::encode(sha2::Sha256::digest(call.body.as_bytes()));
        let text = format!("POST:/p/v1.0/x:TOK:{hash}:2026-11-22T10:00:00+07:00");
        let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(b"secret").unwrap_or_else(|_| {
            hmac::Hmac::<sha2::Sha512>::new_from_slice(b"x").unwrap_or_else(|_| unreachable!())
        });
        mac.update(text.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(header(&call, "x-signature"), Some(expected.as_str()));
        assert_eq!(header(&call, "authorization"), Some("Bearer TOK"));
        assert_eq!(header(&call, "x-partner-id"), Some("GATEWAY-FOR-BNI"));
        assert_eq!(header(&call, "x-external-id"), Some("E1"));
        assert_eq!(header(&call, "channel-id"), Some("95221"));
    }

    /// The simulators' own reading of SNAP accepts the bank's token request and the signed
    /// inquiry, and refuses a signature with another secret.
    #[test]
    fn the_snap_provider_check_accepts_the_calls() {
        let provider = mocks::snap::SnapProvider::new(mocks::snap::SnapProviderConfig {
            client_key: CLIENT_KEY.to_owned(),
            partner_id: CLIENT_KEY.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            merchant_public_key_pem: mocks::keys::BNI.public_pem.to_owned(),
            token_ttl_secs: 900,
            expires_in_as_number: false,
        });
        let notifier = mocks::snap::SnapNotifier::new(mocks::snap::SnapNotifierConfig {
            client_key: CLIENT_KEY.to_owned(),
            partner_id: CLIENT_KEY.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            provider_private_key_pem: mocks::keys::BNI.private_pem.to_owned(),
            channel_id: CHANNEL_ID.to_owned(),
            utc_timestamps: false,
            asymmetric: false,
        });
        let request = notifier.token_request("http://gateway/token");
        let mut token_headers = HeaderMap::new();
        for (name, value) in &request.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                token_headers.insert(n, v);
            }
        }
        let (status, answer) = provider.token_answer(&token_headers, &request.body);
        assert_eq!(status.as_u16(), 200, "{answer}");
        let token = answer["accessToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let path = "/v1/callbacks/bni_h2h_sandbox/v1.0/transfer-va/inquiry";
        let body = inquiry_body(NUMBER, "REQ1", &mocks::snap::timestamp(false)).unwrap_or_default();
        let stamp = mocks::snap::timestamp(false);
        let good = sign(path, &token, CLIENT_SECRET, &body, &stamp, "1");
        let checked = provider.check(
            "POST",
            path,
            &headers(&good),
            good.body.as_bytes(),
            24,
            Some("95221"),
        );
        assert!(checked.is_ok(), "{checked:?}");
        let bad = sign(path, &token, "another-secret", &body, &stamp, "2");
        let refused = provider.check(
            "POST",
            path,
            &headers(&bad),
            bad.body.as_bytes(),
            24,
            Some("95221"),
        );
        assert_eq!(
            refused.err().map(|(_, a)| a["responseCode"].clone()),
            Some(json!("4012400"))
        );
    }

    #[test]
    fn inquiry_answers_are_checked() {
        let ok = inquiry_answer("50000.00").to_string();
        assert!(check_inquiry(200, ok.as_bytes(), 50_000).is_ok());
        assert_eq!(
            check_inquiry(200, ok.as_bytes(), 60_000).err().as_deref(),
            Some("2002400_wrong_total")
        );
        let paid = r#"{"responseCode":"4042414","responseMessage":"Paid Bill"}"#;
        assert_eq!(
            check_inquiry(404, paid.as_bytes(), 50_000).err().as_deref(),
            Some("4042414")
        );
        assert_eq!(
            check_inquiry(503, b"busy", 50_000).err().as_deref(),
            Some("http_503")
        );
        // A success code on a non-200 answer is not a success.
        assert_eq!(
            check_inquiry(500, ok.as_bytes(), 50_000).err().as_deref(),
            Some("2002400")
        );
    }

    #[test]
    fn payment_answers_are_checked() {
        let ok = r#"{"responseCode":"2002500","virtualAccountData":{"paymentFlagStatus":"00"}}"#;
        assert_eq!(check_payment(200, ok.as_bytes()), Ok(()));
        assert_eq!(check_payment(200, br#"{"responseCode":"2002500"}"#), Ok(()));
        let flagged =
            r#"{"responseCode":"2002500","virtualAccountData":{"paymentFlagStatus":"01"}}"#;
        assert_eq!(
            check_payment(200, flagged.as_bytes()).err().as_deref(),
            Some("2002500_flag_01")
        );
        let replay = r#"{"responseCode":"4092500","responseMessage":"Conflict"}"#;
        assert_eq!(
            check_payment(409, replay.as_bytes()).err().as_deref(),
            Some("4092500")
        );
        assert_eq!(check_payment(200, b"").err().as_deref(), Some("http_200"));
    }

    fn va(id: &str, status: &str, paid: i64) -> DbVa {
        DbVa {
            id: id.to_owned(),
            status: status.to_owned(),
            amount: 50_000,
            paid_amount: paid,
        }
    }

    fn db(vas: Vec<DbVa>, payments: &[(&str, i64)], paid: &[(&str, i64)]) -> DbState {
        let map =
            |pairs: &[(&str, i64)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        DbState {
            vas,
            payment_events: map(payments),
            paid_events: map(paid),
        }
    }

    fn fates(pairs: &[(&str, Fate)]) -> HashMap<String, Fate> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn a_clean_run_passes() {
        let state = db(
            vec![
                va("a", "paid", 50_000),
                va("b", "active", 0),
                va("c", "paid", 50_000),
                va("d", "active", 0),
            ],
            &[("a", 1), ("c", 1)],
            &[("a", 1), ("c", 1)],
        );
        let f = fates(&[
            ("a", Fate::Acknowledged),
            ("b", Fate::NotSent),
            ("c", Fate::PaymentSent),
            ("d", Fate::PaymentSent),
        ]);
        let c = check(&f, &state);
        assert!(c.ok, "{c:?}");
        assert_eq!((c.acknowledged, c.acknowledged_paid_once), (1, 1));
        assert_eq!((c.sent_unacknowledged, c.sent_unacknowledged_paid), (2, 1));
        assert_eq!(c.not_sent, 1);
    }

    #[test]
    fn paid_twice_or_not_at_all_fails() {
        let twice = db(vec![va("a", "paid", 50_000)], &[("a", 2)], &[("a", 1)]);
        let c = check(&fates(&[("a", Fate::Acknowledged)]), &twice);
        assert!(!c.ok);
        assert_eq!(c.violations, 1);
        let unpaid = db(vec![va("a", "active", 0)], &[], &[]);
        assert!(!check(&fates(&[("a", Fate::Acknowledged)]), &unpaid).ok);
        let two_events = db(vec![va("a", "paid", 50_000)], &[("a", 1)], &[("a", 2)]);
        assert!(!check(&fates(&[("a", Fate::PaymentSent)]), &two_events).ok);
        let overpaid = db(vec![va("a", "paid", 100_000)], &[("a", 1)], &[("a", 1)]);
        assert!(!check(&fates(&[("a", Fate::Acknowledged)]), &overpaid).ok);
    }

    #[test]
    fn a_va_never_billed_must_be_untouched_and_acknowledged_ones_present() {
        let paid = db(vec![va("a", "paid", 50_000)], &[("a", 1)], &[("a", 1)]);
        assert!(!check(&fates(&[("a", Fate::NotSent)]), &paid).ok);
        let missing = db(vec![], &[], &[]);
        let c = check(&fates(&[("a", Fate::Acknowledged)]), &missing);
        assert!(!c.ok);
        assert_eq!(c.violations, 1);
    }
}
