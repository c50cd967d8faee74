//! What one request is: a signed VA creation, a BNI payment callback, (calibration) a
//! signed POST to the null sink, a SNAP overhead call ([`crate::snap`]), or a host-to-host
//! bill (inquiry then payment, [`crate::h2h`]).
//!
//! Every callback is a real state change, never a replay: each carries a fresh
//! `payment_ntb` for a VA that is still active. With `payments_per_va = 1` (the default)
//! every callback pays one VA in full, so it stores the provider event, marks the VA paid
//! and enqueues a `virtual_account.paid` event in one transaction; with `k > 1` a VA gets
//! `k - 1` partial payments first (provider event + VA update, no event) and the `k`-th
//! completes it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The sandbox's demo client (config/sandbox.toml).
pub const CLIENT_ID: &str = "demo";
/// Its public sandbox secret.
pub const CLIENT_SECRET: &str = "demo-sandbox-secret-0001";
/// The sandbox's BNI instance and its public sandbox credentials.
pub const BNI_INSTANCE: &str = "bni_sandbox";
const BNI_CLIENT: &str = "123";
const BNI_SECRET: &str = "0123456789abcdef0123456789abcdef";
/// Each payment, rupiah; a VA is billed `payments_per_va` times this.
pub const PAYMENT: i64 = 50_000;

const VA_PATH: &str = "/v1/virtual-accounts";

/// The result of one request.
#[derive(Debug)]
pub enum Outcome {
    /// Answered as expected.
    Ok,
    /// Anything else, by kind.
    Failed(String),
    /// Nothing left to send.
    Exhausted,
}

/// An issued VA, as the callbacks need it.
#[derive(Clone, Debug, Deserialize)]
pub struct IssuedVa {
    pub id: String,
    pub va_number: Option<String>,
}

/// One kind of request, with its shared state.
#[derive(Debug)]
pub enum Work {
    CreateVa(CreateVa),
    Callback(Callbacks),
    Null(NullPost),
    /// A SNAP overhead call (no gateway involved).
    Snap(crate::snap::SnapWork),
    /// A host-to-host bill: the bank's inquiry, then its payment.
    H2h(crate::h2h::H2hWork),
}

impl Work {
    /// Builds, sends and checks one request.
    pub async fn execute(&self) -> Outcome {
        match self {
            Work::CreateVa(w) => w.execute().await,
            Work::Callback(w) => w.execute().await,
            Work::Null(w) => w.execute().await,
            Work::Snap(w) => w.execute().await,
            Work::H2h(w) => w.execute(std::time::Instant::now()).await,
        }
    }

    /// As [`Work::execute`], for a request an open loop scheduled at `scheduled` (work that
    /// times parts of itself measures them from there; the rest ignores it).
    pub async fn execute_scheduled(&self, scheduled: std::time::Instant) -> Outcome {
        match self {
            Work::H2h(w) => w.execute(scheduled).await,
            other => other.execute().await,
        }
    }
}

fn failed(e: &reqwest::Error) -> Outcome {
    Outcome::Failed(transport_kind(e).to_owned())
}

/// How a request failed before any answer: `timeout`, `connect` or `transport`.
pub fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    }
}

fn signed(
    client: &reqwest::Client,
    url: &str,
    path: &str,
    body: String,
) -> reqwest::RequestBuilder {
    let headers = gateway::auth::SignedHeaders::new(
        CLIENT_ID,
        CLIENT_SECRET.as_bytes(),
        "POST",
        path,
        body.as_bytes(),
    );
    client
        .post(url)
        .header("content-type", "application/json")
        .header("x-client-id", headers.client_id)
        .header("x-timestamp", headers.timestamp)
        .header("x-nonce", headers.nonce)
        .header("x-signature", headers.signature)
        .body(body)
}

/// `POST /v1/virtual-accounts`, each with a unique reference; issued VAs are kept for the
/// callback phases.
#[derive(Debug)]
pub struct CreateVa {
    client: reqwest::Client,
    url: String,
    run: String,
    amount: i64,
    expires_at: String,
    /// Issue at this provider instance with the default (exact) payment rule, instead of
    /// the route's first instance with `"partial"`.
    provider: Option<String>,
    next: AtomicU64,
    /// VAs issued so far.
    pub issued: Mutex<Vec<IssuedVa>>,
}

impl CreateVa {
    pub fn new(
        client: reqwest::Client,
        base_url: &str,
        run: &str,
        payments_per_va: u32,
    ) -> CreateVa {
        let expires_at = (OffsetDateTime::now_utc() + time::Duration::days(2))
            .replace_nanosecond(0)
            .unwrap_or_else(|_| OffsetDateTime::now_utc())
            .format(&Rfc3339)
            .unwrap_or_default();
        CreateVa {
            client,
            url: format!("{base_url}{VA_PATH}"),
            run: run.to_owned(),
            amount: PAYMENT * i64::from(payments_per_va.max(1)),
            expires_at,
            provider: None,
            next: AtomicU64::new(0),
            issued: Mutex::new(Vec::new()),
        }
    }

    /// The same, issuing at provider instance `provider` with the default payment rule
    /// (`exact`: the bill is paid once, in full).
    pub fn at_provider(mut self, provider: &str) -> CreateVa {
        self.provider = Some(provider.to_owned());
        self
    }

    /// How many VAs were issued.
    pub fn issued_count(&self) -> usize {
        self.issued.lock().map(|v| v.len()).unwrap_or(0)
    }

    fn body(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some(provider) = &self.provider {
            return json!({
                "reference": format!("BENCH-{}-{n}", self.run),
                "amount": self.amount,
                "customer": {"name": "Budi"},
                "expires_at": self.expires_at,
                "provider": provider,
            })
            .to_string();
        }
        json!({
            "reference": format!("BENCH-{}-{n}", self.run),
            "amount": self.amount,
            "customer": {"name": "Budi"},
            "expires_at": self.expires_at,
            "payment_rule": "partial",
        })
        .to_string()
    }

    async fn execute(&self) -> Outcome {
        let request = signed(&self.client, &self.url, VA_PATH, self.body());
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return failed(&e),
        };
        let status = response.status().as_u16();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return failed(&e),
        };
        if status != 201 {
            return Outcome::Failed(format!("http_{status}"));
        }
        match serde_json::from_slice::<IssuedVa>(&body) {
            Ok(va) if va.va_number.is_some() => {
                if let Ok(mut issued) = self.issued.lock() {
                    issued.push(va);
                }
                Outcome::Ok
            }
            _ => Outcome::Failed("bad_response".to_owned()),
        }
    }
}

/// One payment to send: which VA, and which of its payments (1-based).
#[derive(Clone, Debug)]
struct Payment {
    va: usize,
    nth: u32,
}

/// BNI payment callbacks (`POST /v1/callbacks/bni_sandbox`), each a new payment of an
/// active VA, encrypted with the simulator's codec exactly as BNI would send it.
#[derive(Debug)]
pub struct Callbacks {
    client: reqwest::Client,
    url: String,
    vas: Vec<IssuedVa>,
    plan: Vec<Payment>,
    per_va: u32,
    cursor: AtomicUsize,
    ntb: AtomicU64,
    paid_wib: String,
    paid_iso: String,
}

/// VAs whose payments are interleaved together, so two payments of one VA are never
/// in flight at once (they are at least this many requests apart).
const CHUNK: usize = 1024;

impl Callbacks {
    pub fn new(
        client: reqwest::Client,
        base_url: &str,
        vas: Vec<IssuedVa>,
        per_va: u32,
    ) -> Callbacks {
        let per_va = per_va.max(1);
        let mut plan = Vec::with_capacity(vas.len() * per_va as usize);
        for start in (0..vas.len()).step_by(CHUNK) {
            let end = (start + CHUNK).min(vas.len());
            for nth in 1..=per_va {
                plan.extend((start..end).map(|va| Payment { va, nth }));
            }
        }
        let wib = OffsetDateTime::now_utc().to_offset(time::macros::offset!(+7));
        let paid_wib = wib
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .unwrap_or_default();
        let paid_iso = wib
            .replace_nanosecond(0)
            .unwrap_or(wib)
            .format(&Rfc3339)
            .unwrap_or_default();
        Callbacks {
            client,
            url: format!("{base_url}/v1/callbacks/{BNI_INSTANCE}"),
            vas,
            plan,
            per_va,
            cursor: AtomicUsize::new(0),
            ntb: AtomicU64::new(1),
            paid_wib,
            paid_iso,
        }
    }

    fn body(&self, payment: &Payment) -> Option<String> {
        let va = self.vas.get(payment.va)?;
        let billed = PAYMENT * i64::from(self.per_va);
        let ntb = self.ntb.fetch_add(1, Ordering::Relaxed);
        let payload = json!({
            "trx_id": va.id,
            "virtual_account": va.va_number,
            "customer_name": "Budi",
            "trx_amount": billed.to_string(),
            "payment_amount": PAYMENT.to_string(),
            "cumulative_payment_amount": (PAYMENT * i64::from(payment.nth)).to_string(),
            "payment_ntb": format!("{ntb:010}"),
            "datetime_payment": self.paid_wib,
            "datetime_payment_iso8601": self.paid_iso,
        });
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let data = mocks::bni::crypto::encrypt(BNI_CLIENT, BNI_SECRET, &payload.to_string(), now);
        Some(json!({"client_id": BNI_CLIENT, "data": data}).to_string())
    }

    async fn execute(&self) -> Outcome {
        let i = self.cursor.fetch_add(1, Ordering::Relaxed);
        let Some(body) = self.plan.get(i).and_then(|p| self.body(p)) else {
            return Outcome::Exhausted;
        };
        let request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body);
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return failed(&e),
        };
        let status = response.status().as_u16();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return failed(&e),
        };
        if status == 200 && body.as_ref() == br#"{"status":"000"}"# {
            Outcome::Ok
        } else {
            Outcome::Failed(format!("http_{status}"))
        }
    }
}

/// Calibration: a signed VA-creation body POSTed to the null sink, to measure what the
/// generator itself costs per request.
#[derive(Debug)]
pub struct NullPost {
    inner: CreateVa,
}

impl NullPost {
    pub fn new(client: reqwest::Client, sink_url: &str) -> NullPost {
        NullPost {
            inner: CreateVa::new(client, sink_url.trim_end_matches('/'), "null", 1),
        }
    }

    async fn execute(&self) -> Outcome {
        let request = signed(
            &self.inner.client,
            &self.inner.url,
            VA_PATH,
            self.inner.body(),
        );
        match request.send().await {
            Ok(r) => match r.bytes().await {
                Ok(_) => Outcome::Ok,
                Err(e) => failed(&e),
            },
            Err(e) => failed(&e),
        }
    }
}
