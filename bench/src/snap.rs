//! SNAP call overhead, measured in process with no gateway: what
//! [`adapter_snap::SnapClient`] adds to a plain JSON POST while its B2B token is cached,
//! what a provider-side check adds on top, and what one token fetch costs.
//!
//! The endpoints are axum routes on 127.0.0.1 served by this process. The provider side is
//! [`mocks::snap::SnapProvider`], a reading of SNAP (`bni-and-snap.md` B.2, B.3) written
//! independently of `adapter-snap`, so the client's signatures are really verified in
//! phase 3 and a signing mistake shows up as errors, not as a fast figure.
//!
//! Phases 1–3 are closed loops of `--snap-concurrency` tasks for `--snap-duration`
//! seconds, each after `--snap-warmup` seconds unmeasured; phase 4 is sequential:
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

use adapter_snap::{ClientConfig, ResponseCode, ServiceCall, SnapClient, TimestampStyle};
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
    /// Seconds of each measured SNAP closed loop (phases 1–3).
    #[arg(long, default_value_t = 5.0)]
    pub snap_duration: f64,
    /// Seconds of unmeasured warm-up before each SNAP closed loop.
    #[arg(long, default_value_t = 1.0)]
    pub snap_warmup: f64,
    /// Concurrent tasks of the SNAP closed loops.
    #[arg(long, default_value_t = 16)]
    pub snap_concurrency: usize,
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

async fn unchecked(State(e): State<Arc<Endpoints>>) -> Response {
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
    /// Phase 2 median − phase 1 median, µs: the client with a cached token.
    pub client_p50_us: f64,
    /// Phase 2 − phase 1 CPU per call, µs.
    pub client_cpu_us: f64,
    /// Phase 3 median − phase 1 median, µs: client plus provider-side check.
    pub verified_p50_us: f64,
    /// Phase 3 − phase 1 CPU per call, µs.
    pub verified_cpu_us: f64,
    /// Phase 4 median − phase 2 median, µs: one token fetch.
    pub token_fetch_p50_us: f64,
    /// Phase 4 − phase 2 CPU per call, µs.
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

    /// Warm-up, then a measured closed loop.
    async fn closed(&self, name: &str, work: SnapWork) -> SnapPhase {
        let o = self.options;
        eprintln!(
            "  snap {name}: closed loop c={} for {:.0} s ...",
            o.snap_concurrency, o.snap_duration
        );
        let work = Arc::new(Work::Snap(work));
        let concurrency = o.snap_concurrency.max(1);
        let tokens = self.tokens();
        load::closed_loop(
            work.clone(),
            concurrency,
            Duration::from_secs_f64(o.snap_warmup),
        )
        .await;
        let mark = CpuMark::now();
        let measured =
            load::closed_loop(work, concurrency, Duration::from_secs_f64(o.snap_duration)).await;
        self.summarize(name, concurrency, measured, mark, tokens)
    }

    /// Phase 4: sequential calls, the token dropped before each (outside the timing).
    async fn token_misses(&self, client: &SnapClient, body: &Value) -> SnapPhase {
        let samples = self.options.snap_token_samples;
        eprintln!("  snap token_miss: {samples} sequential calls ...");
        let tokens = self.tokens();
        let mark = CpuMark::now();
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
            elapsed: mark.at.elapsed(),
            offered: None,
            late_sends: 0,
            exhausted: false,
        };
        self.summarize("token_miss", 1, measured, mark, tokens)
    }

    fn summarize(
        &self,
        name: &str,
        concurrency: usize,
        m: Measured,
        mark: CpuMark,
        tokens_before: u64,
    ) -> SnapPhase {
        let end = CpuMark::now();
        let wall = end.at.duration_since(mark.at).as_secs_f64().max(1e-9);
        let process = end.process.saturating_sub(mark.process) as f64 / self.ticks;
        let machine = end.machine.saturating_sub(mark.machine) as f64 / self.ticks;
        SnapPhase {
            name: name.to_owned(),
            concurrency,
            calls_per_s: m.ok as f64 / m.elapsed.as_secs_f64().max(1e-9),
            ok: m.ok,
            errors: m.errors,
            elapsed_s: m.elapsed.as_secs_f64(),
            latency: Micros::of(&m.latency),
            process_cores: process / wall,
            cpu_us_per_call: process * 1e6 / m.ok.max(1) as f64,
            other_cores: (machine - process).max(0.0) / wall,
            token_requests: self.tokens() - tokens_before,
        }
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
    let config = ClientConfig {
        base_url,
        token_path: TOKEN_PATH.to_owned(),
        client_key: CLIENT_KEY.to_owned(),
        partner_id: PARTNER_ID.to_owned(),
        client_secret: SecretString::from(CLIENT_SECRET),
        private_key_pem: SecretString::from(mocks::keys::MERCHANT.private_pem),
        timestamp_style: TimestampStyle::Jakarta,
        timeout: Duration::from_secs(30),
    };
    SnapClient::new(config, http).context("SNAP client configuration")
}

/// Runs the four phases.
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
    let base = &runner.server.base_url;

    let plain = SnapWork::Plain {
        http,
        url: base.join(UNCHECKED_PATH)?.to_string(),
        body: body.clone(),
    };
    let baseline = runner.closed("baseline", plain).await;

    // The priming call fetches the token and proves the provider accepts our signatures.
    let tokens_before_hits = runner.tokens();
    if let Outcome::Failed(kind) = snap_call(&client, CHECKED_PATH, &body).await {
        anyhow::bail!("the simulated SNAP provider refused the priming call: {kind}");
    }
    let cached = SnapWork::Client {
        client: client.clone(),
        path: UNCHECKED_PATH,
        body: body.clone(),
    };
    let cached = runner.closed("client_cached", cached).await;
    let verified = SnapWork::Client {
        client: client.clone(),
        path: CHECKED_PATH,
        body: body.clone(),
    };
    let verified = runner.closed("client_verified", verified).await;
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
    let overhead = Overhead {
        client_p50_us: cached.latency.p50_us - baseline.latency.p50_us,
        client_cpu_us: cached.cpu_us_per_call - baseline.cpu_us_per_call,
        verified_p50_us: verified.latency.p50_us - baseline.latency.p50_us,
        verified_cpu_us: verified.cpu_us_per_call - baseline.cpu_us_per_call,
        token_fetch_p50_us: miss.latency.p50_us - cached.latency.p50_us,
        token_fetch_cpu_us: miss.cpu_us_per_call - cached.cpu_us_per_call,
    };
    Ok(SnapResult {
        settings: options.clone(),
        phases: vec![baseline, cached, verified, miss],
        overhead,
        token_endpoint,
    })
}
