//! SNAP call overhead, measured in process with no gateway: what
//! [`adapter_snap::SnapClient`] adds to a plain JSON POST while its B2B token is cached,
//! what a provider-side check adds on top, and what one token fetch costs.
//!
//! The endpoints are axum routes on 127.0.0.1 served by this process. The provider side is
//! [`mocks::snap::SnapProvider`], a reading of SNAP (`bni-and-snap.md` B.2, B.3) written
//! independently of `adapter-snap`, so the client's signatures are really verified in
//! phase 3 and a signing mistake shows up as errors, not as a fast figure.
//!
//! Phases 1–3 are closed loops for `--snap-duration` seconds each, after `--snap-warmup`
//! seconds unmeasured, split into `--snap-rounds` rounds that alternate 1, 2, 3, 1, 2, 3…
//! (so load from outside the process falls on all three alike). They run twice: with
//! `--snap-concurrency` tasks (throughput; latency then includes queueing for the cores),
//! then with one task (latency of a call on an otherwise idle process). Phase 4 is
//! sequential:
//! 1. `baseline`: a reqwest POST of the same JSON body to a route that answers a fixed
//!    SNAP create-VA answer without looking at the request;
//! 2. `client_cached`: [`SnapClient::call`] to the same kind of route, the token fetched
//!    once before: timestamp, body hash, HMAC-SHA512, the SNAP headers, reading the
//!    answer's `responseCode`;
//! 3. `client_verified`: the same client, the route running [`SnapProvider::check`]
//!    (mandatory headers, token lookup, HMAC-SHA512 over the minified received body,
//!    `X-EXTERNAL-ID` once per day);
//! 4. `token_miss`: `--snap-token-samples` calls, the cached token dropped before each,
//!    so each call first fetches a B2B token (RSA-2048 signature on our side, RSA
//!    verification on the provider's) and then makes a phase-2 call.
//!
//! The token route counts its requests: phases 2 and 3 must cause none (the one request is
//! the priming call's), phase 4 exactly one per sample. [`SnapResult::check`] fails the
//! run otherwise.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use adapter_snap::{
    ClientConfig, ResponseCode, ServiceCall, SnapClient, TimestampStyle, codec, sign,
};
use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use clap::Args;
use mocks::snap::{SnapProvider, SnapProviderConfig};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::load::{self, Measured};
use crate::proc;
use crate::workload::{Outcome, Work};

/// B2B token route (B.3.1).
const TOKEN_PATH: &str = "/v1.0/access-token/b2b";
/// Create-VA, checked by the provider.
const CHECKED_PATH: &str = "/v1.0/transfer-va/create-va";
/// Create-VA, answered without any check.
const UNCHECKED_PATH: &str = "/unchecked/v1.0/transfer-va/create-va";
/// SNAP service code of create-VA (B.1).
const SERVICE: u8 = 27;
/// `CHANNEL-ID` sent and expected (BI's example value, B.2).
const CHANNEL_ID: &str = "95221";
const CLIENT_KEY: &str = "bench-snap-client";
const PARTNER_ID: &str = "bench-snap-partner";
/// A benchmark-only HMAC key, shared by the client and the simulated provider.
const CLIENT_SECRET: &str = "bench-snap-secret-for-local-measurement-only";
/// Cores used by other processes above which a phase is flagged as disturbed.
pub const INTERFERENCE: f64 = 0.25;

/// Settings of the SNAP phases (`loadgen snap`, and `loadgen all` after the backends).
#[derive(Args, Debug, Clone, Serialize)]
pub struct SnapOptions {
    /// Measured seconds of each SNAP phase 1–3, at each concurrency.
    #[arg(long, default_value_t = 5.0)]
    pub snap_duration: f64,
    /// Seconds of unmeasured warm-up before each SNAP closed loop.
    #[arg(long, default_value_t = 1.0)]
    pub snap_warmup: f64,
    /// Concurrent tasks of the SNAP closed loops.
    #[arg(long, default_value_t = 16)]
    pub snap_concurrency: usize,
    /// Rounds each SNAP phase 1–3 is split into, alternating with the other two.
    #[arg(long, default_value_t = 5)]
    pub snap_rounds: u32,
    /// Sequential token-miss calls (phase 4).
    #[arg(long, default_value_t = 500)]
    pub snap_token_samples: u64,
}

/// One request of phases 1–3.
#[derive(Debug)]
pub enum SnapWork {
    /// Phase 1: the JSON body POSTed with reqwest, answer read, nothing else.
    Plain {
        http: reqwest::Client,
        url: String,
        body: Value,
    },
    /// Phases 2 and 3: the body sent by the SNAP client to `path`.
    Client {
        client: Arc<SnapClient>,
        path: &'static str,
        body: Value,
    },
}

impl SnapWork {
    /// Sends one request; `Ok` only for HTTP 200 (phase 1) or `2002700` (phases 2, 3).
    pub async fn execute(&self) -> Outcome {
        match self {
            SnapWork::Plain { http, url, body } => plain_post(http, url, body).await,
            SnapWork::Client { client, path, body } => snap_call(client, path, body).await,
        }
    }
}

async fn plain_post(http: &reqwest::Client, url: &str, body: &Value) -> Outcome {
    let response = match http.post(url).json(body).send().await {
        Ok(r) => r,
        Err(_) => return Outcome::Failed("transport".to_owned()),
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(_) if status == 200 => Outcome::Ok,
        Ok(_) => Outcome::Failed(format!("http_{status}")),
        Err(_) => Outcome::Failed("transport".to_owned()),
    }
}

async fn snap_call(client: &SnapClient, path: &str, body: &Value) -> Outcome {
    let call = ServiceCall {
        method: reqwest::Method::POST,
        path,
        channel_id: CHANNEL_ID,
        body,
        headers: &[],
    };
    match client.call(&call).await {
        Ok(answer) if answer.code == success() => Outcome::Ok,
        Ok(answer) => Outcome::Failed(format!("snap_{}", answer.code)),
        Err(err) => Outcome::Failed(format!("{:?}", err.kind).to_ascii_lowercase()),
    }
}

fn success() -> ResponseCode {
    ResponseCode::new(200, SERVICE, 0)
}

/// The create-VA body every phase sends (the fields of TV-S5).
fn request_body() -> Value {
    json!({
        "partnerServiceId": "    8123",
        "customerNo": "000000000001",
        "virtualAccountNo": "    8123000000000001",
        "virtualAccountName": "Bench Customer",
        "trxId": "BENCH-0001",
        "totalAmount": {"value": "150000.00", "currency": "IDR"},
        "virtualAccountTrxType": "C",
        "expiredDate": "2030-01-02T10:00:00+07:00",
        "additionalInfo": {}
    })
}

/// The fixed answer of the service routes: a SNAP create-VA success.
fn fixed_answer() -> Bytes {
    let answer = json!({
        "responseCode": success().to_string(),
        "responseMessage": "Successful",
        "virtualAccountData": request_body(),
    });
    Bytes::from(answer.to_string())
}

/// The simulated provider and its counters.
#[derive(Debug)]
struct Endpoints {
    provider: SnapProvider,
    answer: Bytes,
    token_requests: AtomicU64,
}

impl Endpoints {
    fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }
}

fn json_response(status: StatusCode, body: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn refusal(status: StatusCode, body: &Value) -> Response {
    json_response(status, Bytes::from(body.to_string()))
}

async fn token(State(e): State<Arc<Endpoints>>, headers: HeaderMap, body: Bytes) -> Response {
    e.token_requests.fetch_add(1, Ordering::Relaxed);
    let (status, answer) = e.provider.token_answer(&headers, &body);
    refusal(status, &answer)
}

/// Reads the whole request body, as the checked route does (so the difference between
/// them is the check, not the wait for the body's bytes), and answers without looking.
async fn unchecked(State(e): State<Arc<Endpoints>>, _body: Bytes) -> Response {
    json_response(StatusCode::OK, e.answer.clone())
}

async fn checked(
    State(e): State<Arc<Endpoints>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match e.provider.check(
        "POST",
        uri.path(),
        &headers,
        &body,
        SERVICE,
        Some(CHANNEL_ID),
    ) {
        Ok(()) => json_response(StatusCode::OK, e.answer.clone()),
        Err((status, answer)) => refusal(status, &answer),
    }
}

/// The routes, served on a free loopback port until dropped.
#[derive(Debug)]
struct Server {
    base_url: url::Url,
    endpoints: Arc<Endpoints>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start() -> anyhow::Result<Server> {
        let provider = SnapProvider::new(SnapProviderConfig {
            client_key: CLIENT_KEY.to_owned(),
            partner_id: PARTNER_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            merchant_public_key_pem: mocks::keys::MERCHANT.public_pem.to_owned(),
            token_ttl_secs: 900,
            expires_in_as_number: false,
        });
        let endpoints = Arc::new(Endpoints {
            provider,
            answer: fixed_answer(),
            token_requests: AtomicU64::new(0),
        });
        let router = Router::new()
            .route(TOKEN_PATH, post(token))
            .route(CHECKED_PATH, post(checked))
            .route(UNCHECKED_PATH, post(unchecked))
            .with_state(endpoints.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base_url = url::Url::parse(&format!("http://{}", listener.local_addr()?))?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Server {
            base_url,
            endpoints,
            task,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Latency percentiles, µs.
#[derive(Clone, Debug, Serialize)]
pub struct Micros {
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
}

impl Micros {
    fn of(h: &hdrhistogram::Histogram<u64>) -> Micros {
        if h.is_empty() {
            return Micros {
                p50_us: 0.0,
                p90_us: 0.0,
                p99_us: 0.0,
                max_us: 0.0,
                mean_us: 0.0,
            };
        }
        let at = |q: f64| h.value_at_quantile(q) as f64;
        Micros {
            p50_us: at(0.50),
            p90_us: at(0.90),
            p99_us: at(0.99),
            max_us: h.max() as f64,
            mean_us: h.mean(),
        }
    }
}

/// One SNAP phase.
#[derive(Clone, Debug, Serialize)]
pub struct SnapPhase {
    /// `baseline`, `client_cached`, `client_verified` or `token_miss`.
    pub name: String,
    /// Concurrent tasks (1: sequential).
    pub concurrency: usize,
    /// Successful calls per second over the measured window.
    pub calls_per_s: f64,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub elapsed_s: f64,
    /// Latency of successful calls, from send to answer read.
    pub latency: Micros,
    /// CPU of this whole process (client and endpoints), in cores.
    pub process_cores: f64,
    /// Process CPU per successful call, µs: both sides of the call.
    pub cpu_us_per_call: f64,
    /// CPU of everything else on the machine during the phase, in cores.
    pub other_cores: f64,
    /// Requests the token route received during the phase (warm-up included).
    pub token_requests: u64,
}

/// The per-call cost of SNAP over the baseline.
#[derive(Clone, Debug, Serialize)]
pub struct Overhead {
    /// The client's signing work alone, no I/O, µs per call: `X-TIMESTAMP`, body hash,
    /// string to sign, HMAC-SHA512, `X-EXTERNAL-ID`.
    pub signing_us: f64,
    /// Sequential loops: phase 2 median − phase 1 median, µs (the client, cached token).
    pub client_p50_us: f64,
    /// Sequential loops: phase 3 median − phase 1 median, µs (client + provider check).
    pub verified_p50_us: f64,
    /// The same at `--snap-concurrency`, µs: includes queueing for the cores, so about
    /// concurrency × the CPU difference ÷ the cores used.
    pub client_p50_loaded_us: f64,
    /// Phase 3 − phase 1 at `--snap-concurrency`, µs.
    pub verified_p50_loaded_us: f64,
    /// Phase 2 − phase 1 CPU per call at `--snap-concurrency`, µs (both sides).
    pub client_cpu_us: f64,
    /// Phase 3 − phase 1 CPU per call at `--snap-concurrency`, µs (both sides).
    pub verified_cpu_us: f64,
    /// Phase 4 median − sequential phase 2 median, µs: one token fetch.
    pub token_fetch_p50_us: f64,
    /// Phase 4 − sequential phase 2 CPU per call, µs (both sides).
    pub token_fetch_cpu_us: f64,
}

/// Whether the cache-hit phases really hit the cache.
#[derive(Clone, Debug, Serialize)]
pub struct TokenCheck {
    /// Token requests from the priming call through phases 2 and 3 (expected 1: the
    /// priming call's).
    pub through_hit_phases: u64,
    /// Token requests during phase 4 (expected: one per sample).
    pub in_miss_phase: u64,
    /// Calls made in phase 4.
    pub miss_samples: u64,
    /// Tokens the simulated provider issued in the whole run.
    pub tokens_issued: usize,
    /// Both expectations held.
    pub ok: bool,
}

/// The SNAP part of a run.
#[derive(Clone, Debug, Serialize)]
pub struct SnapResult {
    pub settings: SnapOptions,
    pub phases: Vec<SnapPhase>,
    pub overhead: Overhead,
    pub token_endpoint: TokenCheck,
}

impl SnapResult {
    /// Fails when the token route was hit other than expected.
    pub fn check(&self) -> anyhow::Result<()> {
        let t = &self.token_endpoint;
        anyhow::ensure!(
            t.ok,
            "SNAP token cache check failed: {} token requests through phases 2-3 (expected 1), {} in phase 4 for {} calls",
            t.through_hit_phases,
            t.in_miss_phase,
            t.miss_samples
        );
        Ok(())
    }
}

/// CPU counters at one instant.
#[derive(Clone, Copy, Debug)]
struct CpuMark {
    process: u64,
    machine: u64,
    at: Instant,
}

impl CpuMark {
    fn now() -> CpuMark {
        CpuMark {
            process: proc::cpu_sample("self").total,
            machine: proc::machine_busy_ticks(),
            at: Instant::now(),
        }
    }
}

/// One phase's measurements, summed over its rounds.
#[derive(Debug)]
struct Tally {
    latency: hdrhistogram::Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
    elapsed: Duration,
    /// Process and machine CPU ticks, wall time between the marks.
    process_ticks: u64,
    machine_ticks: u64,
    wall: Duration,
    token_requests: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: load::histogram(),
            ok: 0,
            errors: BTreeMap::new(),
            elapsed: Duration::ZERO,
            process_ticks: 0,
            machine_ticks: 0,
            wall: Duration::ZERO,
            token_requests: 0,
        }
    }

    fn add(&mut self, m: Measured, from: CpuMark, to: CpuMark) {
        let _ = self.latency.add(&m.latency);
        self.ok += m.ok;
        for (kind, n) in m.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        self.elapsed += m.elapsed;
        self.process_ticks += to.process.saturating_sub(from.process);
        self.machine_ticks += to.machine.saturating_sub(from.machine);
        self.wall += to.at.duration_since(from.at);
    }

    fn phase(self, name: &str, concurrency: usize, ticks: f64) -> SnapPhase {
        let wall = self.wall.as_secs_f64().max(1e-9);
        let process = self.process_ticks as f64 / ticks;
        let machine = self.machine_ticks as f64 / ticks;
        SnapPhase {
            name: name.to_owned(),
            concurrency,
            calls_per_s: self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9),
            ok: self.ok,
            errors: self.errors,
            elapsed_s: self.elapsed.as_secs_f64(),
            latency: Micros::of(&self.latency),
            process_cores: process / wall,
            cpu_us_per_call: process * 1e6 / self.ok.max(1) as f64,
            other_cores: (machine - process).max(0.0) / wall,
            token_requests: self.token_requests,
        }
    }
}

/// Everything a phase needs.
#[derive(Debug)]
struct Runner<'a> {
    options: &'a SnapOptions,
    server: Server,
    ticks: f64,
}

impl Runner<'_> {
    fn tokens(&self) -> u64 {
        self.server.endpoints.token_requests()
    }

    /// Closed loops of the named works at one concurrency: each warmed up, then measured
    /// in `--snap-rounds` interleaved rounds, so a disturbance from outside the process
    /// falls on every phase alike.
    async fn interleaved(
        &self,
        concurrency: usize,
        works: Vec<(&'static str, SnapWork)>,
    ) -> Vec<SnapPhase> {
        let o = self.options;
        let rounds = o.snap_rounds.max(1);
        eprintln!(
            "  snap c={concurrency}: {} for {:.0} s each, in {rounds} rounds ...",
            works
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", "),
            o.snap_duration
        );
        let mut works: Vec<_> = works
            .into_iter()
            .map(|(name, work)| (name, Arc::new(Work::Snap(work)), Tally::new()))
            .collect();
        let warmup = Duration::from_secs_f64(o.snap_warmup);
        for (_, work, tally) in &mut works {
            let tokens = self.tokens();
            load::closed_loop(work.clone(), concurrency, warmup).await;
            tally.token_requests += self.tokens() - tokens;
        }
        let round = Duration::from_secs_f64(o.snap_duration / rounds as f64);
        for _ in 0..rounds {
            for (_, work, tally) in &mut works {
                let tokens = self.tokens();
                let from = CpuMark::now();
                let measured = load::closed_loop(work.clone(), concurrency, round).await;
                tally.add(measured, from, CpuMark::now());
                tally.token_requests += self.tokens() - tokens;
            }
        }
        works
            .into_iter()
            .map(|(name, _, tally)| tally.phase(name, concurrency, self.ticks))
            .collect()
    }

    /// Phase 4: sequential calls, the token dropped before each (outside the timing).
    async fn token_misses(&self, client: &SnapClient, body: &Value) -> SnapPhase {
        let samples = self.options.snap_token_samples;
        eprintln!("  snap token_miss: {samples} sequential calls ...");
        let tokens = self.tokens();
        let from = CpuMark::now();
        let mut latency = load::histogram();
        let (mut ok, mut errors) = (0, BTreeMap::new());
        for _ in 0..samples {
            client.invalidate_token().await;
            let sent = Instant::now();
            match snap_call(client, UNCHECKED_PATH, body).await {
                Outcome::Ok => {
                    ok += 1;
                    let _ = latency.record(load::micros(sent.elapsed()));
                }
                Outcome::Failed(kind) => *errors.entry(kind).or_default() += 1,
                Outcome::Exhausted => {}
            }
        }
        let measured = Measured {
            latency,
            service: None,
            ok,
            errors,
            elapsed: from.at.elapsed(),
            offered: None,
            late_sends: 0,
            exhausted: false,
        };
        let mut tally = Tally::new();
        tally.add(measured, from, CpuMark::now());
        tally.token_requests = self.tokens() - tokens;
        tally.phase("token_miss", 1, self.ticks)
    }
}

/// A reqwest client set up like the generator's.
fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(30))
        .build()?)
}

fn snap_client(base_url: url::Url, http: reqwest::Client) -> anyhow::Result<SnapClient> {
    client_with_secret(base_url, http, CLIENT_SECRET)
}

fn client_with_secret(
    base_url: url::Url,
    http: reqwest::Client,
    secret: &str,
) -> anyhow::Result<SnapClient> {
    let config = ClientConfig {
        base_url,
        token_path: TOKEN_PATH.to_owned(),
        client_key: CLIENT_KEY.to_owned(),
        partner_id: PARTNER_ID.to_owned(),
        client_secret: SecretString::from(secret),
        private_key_pem: SecretString::from(mocks::keys::MERCHANT.private_pem),
        timestamp_style: TimestampStyle::Jakarta,
        timeout: Duration::from_secs(30),
    };
    SnapClient::new(config, http).context("SNAP client configuration")
}

/// Phases 1, 2 and 3 at one concurrency.
#[derive(Debug)]
struct Trio {
    baseline: SnapPhase,
    cached: SnapPhase,
    verified: SnapPhase,
}

impl Runner<'_> {
    async fn trio(
        &self,
        concurrency: usize,
        http: &reqwest::Client,
        client: &Arc<SnapClient>,
        body: &Value,
    ) -> anyhow::Result<Trio> {
        let plain = SnapWork::Plain {
            http: http.clone(),
            url: self.server.base_url.join(UNCHECKED_PATH)?.to_string(),
            body: body.clone(),
        };
        let cached = SnapWork::Client {
            client: client.clone(),
            path: UNCHECKED_PATH,
            body: body.clone(),
        };
        let verified = SnapWork::Client {
            client: client.clone(),
            path: CHECKED_PATH,
            body: body.clone(),
        };
        let works = vec![
            ("baseline", plain),
            ("client_cached", cached),
            ("client_verified", verified),
        ];
        let mut phases = self.interleaved(concurrency, works).await.into_iter();
        match (phases.next(), phases.next(), phases.next()) {
            (Some(baseline), Some(cached), Some(verified)) => Ok(Trio {
                baseline,
                cached,
                verified,
            }),
            _ => anyhow::bail!("a SNAP phase is missing"),
        }
    }
}

/// Iterations of the signing-only measurement.
const SIGNING_ITERATIONS: u32 = 20_000;

/// What [`SnapClient::call`] computes per call before sending, without I/O, µs per call
/// (mean over [`SIGNING_ITERATIONS`] on one thread).
fn signing_us(body: &Value) -> f64 {
    let bytes = body.to_string().into_bytes();
    // A token as long as the simulated provider's (48 characters).
    let token = "0".repeat(48);
    let started = Instant::now();
    for _ in 0..SIGNING_ITERATIONS {
        let timestamp =
            codec::format_timestamp(time::OffsetDateTime::now_utc(), TimestampStyle::Jakarta);
        let message = sign::symmetric_string(
            "POST",
            CHECKED_PATH,
            &token,
            &codec::body_hash(&bytes),
            &timestamp,
        );
        std::hint::black_box(sign::hmac_sha512_b64(CLIENT_SECRET.as_bytes(), &message));
        std::hint::black_box(codec::external_id());
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(SIGNING_ITERATIONS)
}

/// Runs the phases: 1–3 at `--snap-concurrency`, then 1–3 sequentially, then 4.
pub async fn run(options: &SnapOptions) -> anyhow::Result<SnapResult> {
    eprintln!("snap: SNAP client overhead against in-process endpoints");
    let server = Server::start().await?;
    let http = http_client()?;
    let body = request_body();
    let client = Arc::new(snap_client(server.base_url.clone(), http.clone())?);
    let runner = Runner {
        options,
        server,
        ticks: proc::clock_ticks(),
    };

    // The priming call fetches the token and proves the provider accepts our signatures.
    let tokens_before_hits = runner.tokens();
    if let Outcome::Failed(kind) = snap_call(&client, CHECKED_PATH, &body).await {
        anyhow::bail!("the simulated SNAP provider refused the priming call: {kind}");
    }
    let loaded = runner
        .trio(options.snap_concurrency.max(1), &http, &client, &body)
        .await?;
    let sequential = runner.trio(1, &http, &client, &body).await?;
    let through_hit_phases = runner.tokens() - tokens_before_hits;

    let miss = runner.token_misses(&client, &body).await;
    let miss_samples = miss.ok + miss.errors.values().sum::<u64>();
    let token_endpoint = TokenCheck {
        through_hit_phases,
        in_miss_phase: miss.token_requests,
        miss_samples,
        tokens_issued: runner.server.endpoints.provider.tokens_issued(),
        ok: through_hit_phases == 1 && miss.token_requests == miss_samples,
    };
    let p50 = |phase: &SnapPhase| phase.latency.p50_us;
    let cpu = |phase: &SnapPhase| phase.cpu_us_per_call;
    let overhead = Overhead {
        signing_us: signing_us(&body),
        client_p50_us: p50(&sequential.cached) - p50(&sequential.baseline),
        verified_p50_us: p50(&sequential.verified) - p50(&sequential.baseline),
        client_p50_loaded_us: p50(&loaded.cached) - p50(&loaded.baseline),
        verified_p50_loaded_us: p50(&loaded.verified) - p50(&loaded.baseline),
        client_cpu_us: cpu(&loaded.cached) - cpu(&loaded.baseline),
        verified_cpu_us: cpu(&loaded.verified) - cpu(&loaded.baseline),
        token_fetch_p50_us: p50(&miss) - p50(&sequential.cached),
        token_fetch_cpu_us: cpu(&miss) - cpu(&sequential.cached),
    };
    let mut phases = Vec::new();
    for trio in [loaded, sequential] {
        phases.extend([trio.baseline, trio.cached, trio.verified]);
    }
    phases.push(miss);
    Ok(SnapResult {
        settings: options.clone(),
        phases,
        overhead,
        token_endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short() -> SnapOptions {
        SnapOptions {
            snap_duration: 0.3,
            snap_warmup: 0.1,
            snap_concurrency: 4,
            snap_rounds: 2,
            snap_token_samples: 3,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_phase_succeeds_and_only_the_miss_phase_fetches_tokens() {
        let result = run(&short()).await.expect("snap run");
        let names: Vec<_> = result
            .phases
            .iter()
            .map(|p| (p.name.as_str(), p.concurrency))
            .collect();
        assert_eq!(
            names,
            [
                ("baseline", 4),
                ("client_cached", 4),
                ("client_verified", 4),
                ("baseline", 1),
                ("client_cached", 1),
                ("client_verified", 1),
                ("token_miss", 1),
            ]
        );
        for phase in &result.phases {
            assert!(
                phase.errors.is_empty(),
                "{}: {:?}",
                phase.name,
                phase.errors
            );
            assert!(phase.ok > 0, "{} made no call", phase.name);
            let expected = if phase.name == "token_miss" { 3 } else { 0 };
            assert_eq!(phase.token_requests, expected, "{}", phase.name);
        }
        let tokens = &result.token_endpoint;
        assert_eq!(tokens.through_hit_phases, 1);
        assert_eq!((tokens.in_miss_phase, tokens.miss_samples), (3, 3));
        assert_eq!(tokens.tokens_issued, 4);
        assert!(tokens.ok);
        result.check().expect("token check");

        let report = crate::report::Report {
            started_at: String::new(),
            machine: crate::report::Machine::detect(),
            settings: Value::Null,
            calibration: None,
            backends: Vec::new(),
            snap: Some(result),
        };
        let table = report.table();
        assert!(table.contains("3 SNAP client + provider check"), "{table}");
        assert!(table.contains("cache hit path confirmed"), "{table}");
        assert!(
            !table.contains("gw cpu"),
            "no gateway header without phases: {table}"
        );
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["snap"]["token_endpoint"]["ok"], json!(true));
        assert_eq!(json["snap"]["phases"][6]["name"], json!("token_miss"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checked_route_refuses_a_wrong_signature_that_the_unchecked_one_takes() {
        let server = Server::start().await.expect("server");
        let http = http_client().expect("http");
        let body = request_body();
        let wrong = client_with_secret(server.base_url.clone(), http.clone(), "another-secret")
            .expect("client");
        assert!(matches!(
            snap_call(&wrong, UNCHECKED_PATH, &body).await,
            Outcome::Ok
        ));
        match snap_call(&wrong, CHECKED_PATH, &body).await {
            Outcome::Failed(kind) => assert_eq!(kind, "snap_4012700"),
            other => panic!("a wrong signature passed the check: {other:?}"),
        }
        let right = snap_client(server.base_url.clone(), http).expect("client");
        assert!(matches!(
            snap_call(&right, CHECKED_PATH, &body).await,
            Outcome::Ok
        ));
        assert_eq!(server.endpoints.token_requests(), 2);
    }

    #[test]
    fn a_failed_token_check_fails_the_run() {
        let result = SnapResult {
            settings: short(),
            phases: Vec::new(),
            overhead: Overhead {
                signing_us: 0.0,
                client_p50_us: 0.0,
                verified_p50_us: 0.0,
                client_p50_loaded_us: 0.0,
                verified_p50_loaded_us: 0.0,
                client_cpu_us: 0.0,
                verified_cpu_us: 0.0,
                token_fetch_p50_us: 0.0,
                token_fetch_cpu_us: 0.0,
            },
            token_endpoint: TokenCheck {
                through_hit_phases: 2,
                in_miss_phase: 3,
                miss_samples: 3,
                tokens_issued: 5,
                ok: false,
            },
        };
        assert!(result.check().is_err());
    }
}
