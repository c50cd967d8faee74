//! One backend's run, phase by phase, and the measurements around each phase.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Options;
use crate::db::{Backend, Prepared};
use crate::h2h::{self, Bank, Fate, H2hResult, H2hWork};
use crate::load::{self, Measured, Percentiles};
use crate::proc::{self, Gateway, Launch};
use crate::prom::{GatewayView, Scrape};
use crate::report::{BackendResult, PhaseResult};
use crate::sink::Sink;
use crate::workload::{self, Callbacks, CreateVa, IssuedVa, NullPost, Work};

/// Closed loop with so many connections, or open loop at so many requests per second.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Closed(usize),
    Open(f64),
}

/// What every phase needs.
#[derive(Debug)]
pub struct Context<'a> {
    pub options: &'a Options,
    pub http: reqwest::Client,
    pub sink: &'a Sink,
    pub ticks: f64,
    /// Only the host-to-host workload (`loadgen h2h`).
    pub h2h_only: bool,
}

/// The gateway being measured, if any (calibration has none).
#[derive(Clone, Copy, Debug)]
struct Target<'a> {
    pid: u32,
    base_url: &'a str,
    tag: &'a str,
}

const VA_ROUTE: &str = "/v1/virtual-accounts";
const CALLBACK_ROUTE: &str = "/v1/callbacks/{instance}";

impl Context<'_> {
    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.options.duration)
    }

    fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.options.warmup)
    }

    async fn drive(&self, work: Arc<Work>, shape: Shape, duration: Duration) -> Measured {
        match shape {
            Shape::Closed(c) => load::closed_loop(work, c, duration).await,
            Shape::Open(rate) => {
                load::open_loop(
                    work,
                    rate,
                    duration,
                    self.options.max_in_flight,
                    Duration::from_secs_f64(self.options.drain),
                )
                .await
            }
        }
    }

    /// Runs one measured phase and gathers CPU, metrics and (optionally) a profile.
    async fn phase(
        &self,
        workload: &str,
        route: &str,
        work: Arc<Work>,
        shape: Shape,
        target: Option<Target<'_>>,
    ) -> PhaseResult {
        let (shape_name, connections, offered) = match shape {
            Shape::Closed(c) => ("closed", Some(c), None),
            Shape::Open(r) => ("open", None, Some(r)),
        };
        eprintln!(
            "  {workload} {shape_name} loop for {:.0} s ...",
            self.options.duration
        );
        let before = match target {
            Some(t) => Scrape::fetch(&self.http, t.base_url).await,
            None => Scrape::default(),
        };
        let pid = target.map_or("0".to_owned(), |t| t.pid.to_string());
        let (gw0, gen0) = (proc::cpu_sample(&pid), proc::cpu_sample("self"));
        let pg0 = proc::postgres_ticks();
        let machine0 = proc::machine_busy_ticks();
        let perf = target.and_then(|t| self.start_perf(t, workload, shape_name));
        let started = Instant::now();
        let measured = self.drive(work, shape, self.duration()).await;
        let wall = started.elapsed().as_secs_f64().max(1e-9);
        let perf_data = perf.map(|(child, path)| stop_perf(child, path));
        let (gw1, gen1) = (proc::cpu_sample(&pid), proc::cpu_sample("self"));
        let pg_cpu = proc::postgres_ticks().saturating_sub(pg0) as f64 / self.ticks;
        let machine_cpu = proc::machine_busy_ticks().saturating_sub(machine0) as f64 / self.ticks;
        let after = match target {
            Some(t) => Scrape::fetch(&self.http, t.base_url).await,
            None => Scrape::default(),
        };
        let (gw_cpu, gw_threads) = gw1.since(&gw0, self.ticks);
        let (gen_cpu, _) = gen1.since(&gen0, self.ticks);
        summarize(
            measured,
            Summary {
                workload,
                shape: shape_name,
                connections,
                offered,
                wall,
                gw_cpu,
                gen_cpu,
                pg_cpu,
                machine_cpu,
                gw_threads,
                view: GatewayView::between(&before, &after, route),
                perf_data,
            },
        )
    }

    fn start_perf(&self, t: Target<'_>, workload: &str, shape: &str) -> Option<(Child, PathBuf)> {
        let dir = self.options.perf_dir.as_ref()?;
        let _ = std::fs::create_dir_all(dir);
        let path = dir.join(format!("{}-{workload}-{shape}.data", t.tag));
        let child = Command::new("perf")
            .args([
                "record",
                "-e",
                "cpu-clock",
                "-F",
                "499",
                "--call-graph",
                "dwarf,16384",
            ])
            .args(["-p", &t.pid.to_string(), "-o"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| eprintln!("warning: perf not started: {e}"))
            .ok()?;
        Some((child, path))
    }

    /// The generator's own ceiling: signed VA bodies POSTed to the null sink.
    pub async fn calibrate(&self) -> PhaseResult {
        eprintln!("calibration: the generator against its own null sink");
        let work = Arc::new(Work::Null(NullPost::new(self.http.clone(), &self.sink.url)));
        let shape = Shape::Closed(self.options.connections);
        self.phase("calibration", "", work, shape, None).await
    }

    /// One backend, start to finish; the gateway is stopped and the database removed
    /// whatever happens.
    pub async fn backend(&self, backend: Backend) -> anyhow::Result<BackendResult> {
        let prepared = match backend {
            Backend::Sqlite => Prepared::sqlite()?,
            Backend::Postgres => match Prepared::postgres(&self.options.postgres_url).await? {
                Ok(p) => p,
                Err(why) => {
                    let why = format!(
                        "PostgreSQL at {} unreachable: {why}",
                        self.options.postgres_url
                    );
                    eprintln!("skipping postgres: {why}");
                    return Ok(BackendResult {
                        backend: backend.name().to_owned(),
                        skipped: Some(why),
                        ..BackendResult::default()
                    });
                }
            },
        };
        let workdir = prepared.workdir()?;
        let result = self.backend_in(backend, &prepared, &workdir).await;
        prepared.cleanup(&workdir).await;
        result
    }

    async fn backend_in(
        &self,
        backend: Backend,
        prepared: &Prepared,
        workdir: &Path,
    ) -> anyhow::Result<BackendResult> {
        eprintln!(
            "{}: starting the gateway on {}",
            backend.name(),
            prepared.url()
        );
        let log = self
            .options
            .out
            .with_file_name(format!("{}-gateway.log", backend.name()));
        let gateway = Gateway::start(
            Launch {
                binary: self.options.gateway_binary(),
                database_url: &prepared.url(),
                webhook_url: &self.sink.url,
                workdir,
                log: log.clone(),
                log_filter: self.options.gateway_log.as_deref(),
            },
            &self.http,
        )
        .await?;
        // Ctrl-C still stops the gateway and removes the database.
        let result = tokio::select! {
            r = self.measure(backend, &gateway, prepared) => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        };
        gateway.stop().await;
        let mut result = result?;
        result.gateway_log = log.display().to_string();
        Ok(result)
    }

    async fn measure(
        &self,
        backend: Backend,
        gateway: &Gateway,
        prepared: &Prepared,
    ) -> anyhow::Result<BackendResult> {
        let o = self.options;
        let target = Target {
            pid: gateway.pid(),
            base_url: &gateway.base_url,
            tag: backend.name(),
        };
        if self.h2h_only {
            return Ok(self
                .measure_h2h_only(backend, gateway, target, prepared)
                .await);
        }
        let sink_before = self.sink.received();
        let creating = CreateVa::new(
            self.http.clone(),
            &gateway.base_url,
            &run_id(),
            o.payments_per_va,
        );
        let create = Arc::new(Work::CreateVa(creating));
        let closed = Shape::Closed(o.connections);
        let mut phases = Vec::new();
        self.drive(create.clone(), closed, self.warmup()).await;
        phases.push(
            self.phase("va_create", VA_ROUTE, create.clone(), closed, Some(target))
                .await,
        );
        let va_open = Shape::Open(o.va_rate());
        phases.push(
            self.phase("va_create", VA_ROUTE, create.clone(), va_open, Some(target))
                .await,
        );
        let db_size_after_va = prepared.size().await;

        let (for_closed, for_open) = self.callback_pool(&create).await;
        let vas_issued = issued(&create).len();
        let cb_closed = Arc::new(Work::Callback(Callbacks::new(
            self.http.clone(),
            &gateway.base_url,
            for_closed,
            o.payments_per_va,
        )));
        self.drive(cb_closed.clone(), closed, self.warmup()).await;
        phases.push(
            self.phase("callback", CALLBACK_ROUTE, cb_closed, closed, Some(target))
                .await,
        );
        let cb_open = Arc::new(Work::Callback(Callbacks::new(
            self.http.clone(),
            &gateway.base_url,
            for_open,
            o.payments_per_va,
        )));
        let open = Shape::Open(o.callback_rate());
        phases.push(
            self.phase("callback", CALLBACK_ROUTE, cb_open, open, Some(target))
                .await,
        );

        self.wait_for_deliveries().await;
        let (peak_rss_mib, rss_end_mib) = proc::memory_mib(gateway.pid());
        let callbacks_ok = phases
            .iter()
            .filter(|p| p.workload == "callback")
            .map(|p| p.ok)
            .sum();
        let mut result = BackendResult {
            backend: backend.name().to_owned(),
            skipped: None,
            phases,
            peak_rss_mib,
            rss_end_mib,
            db_size_after_va,
            db_size_end: prepared.size().await,
            vas_issued,
            callbacks_ok,
            webhooks_received: self.sink.received() - sink_before,
            gateway_log: String::new(),
            h2h: None,
        };
        // Host-to-host last: the figures above are taken before it, as without it.
        let (phases, h2h) = self.h2h(gateway, target, prepared).await;
        result.phases.extend(phases);
        result.h2h = Some(h2h);
        Ok(result)
    }

    /// `loadgen h2h`: the host-to-host workload alone.
    async fn measure_h2h_only(
        &self,
        backend: Backend,
        gateway: &Gateway,
        target: Target<'_>,
        prepared: &Prepared,
    ) -> BackendResult {
        let sink_before = self.sink.received();
        let (phases, h2h) = self.h2h(gateway, target, prepared).await;
        let (peak_rss_mib, rss_end_mib) = proc::memory_mib(gateway.pid());
        BackendResult {
            backend: backend.name().to_owned(),
            skipped: None,
            phases,
            peak_rss_mib,
            rss_end_mib,
            db_size_end: prepared.size().await,
            webhooks_received: self.sink.received() - sink_before,
            h2h: Some(h2h),
            ..BackendResult::default()
        }
    }

    /// The host-to-host workload: issues H2H VAs (unmeasured), gets the bank's token once,
    /// warms up, then a closed loop and an open loop of bills (inquiry, then payment of a
    /// fresh VA); then checks the database against what each VA went through. A failure
    /// before the phases (no token, …) is reported in the result, not raised, so the
    /// other workloads' figures are kept.
    async fn h2h(
        &self,
        gateway: &Gateway,
        target: Target<'_>,
        prepared: &Prepared,
    ) -> (Vec<PhaseResult>, H2hResult) {
        let mut result = H2hResult::default();
        let mut phases = Vec::new();
        if let Err(e) = self
            .h2h_phases(gateway, target, prepared, &mut phases, &mut result)
            .await
        {
            eprintln!("  h2h failed: {e:#}");
            result.failed = Some(format!("{e:#}"));
        }
        (phases, result)
    }

    async fn h2h_phases(
        &self,
        gateway: &Gateway,
        target: Target<'_>,
        prepared: &Prepared,
        phases: &mut Vec<PhaseResult>,
        result: &mut H2hResult,
    ) -> anyhow::Result<()> {
        let o = self.options;
        let sink_before = self.sink.received();
        let creating = CreateVa::new(self.http.clone(), &gateway.base_url, &run_id(), 1)
            .at_provider(h2h::INSTANCE);
        let create = Arc::new(Work::CreateVa(creating));
        let per_second = o.h2h_target * 1.25;
        let warm_need = (per_second * o.warmup).ceil() as usize;
        let closed_need = o
            .h2h_pool
            .unwrap_or((per_second * o.duration).ceil() as usize);
        let open_need = (o.h2h_rate * o.duration * 1.05).ceil() as usize;
        let started = Instant::now();
        self.issue(
            &create,
            warm_need + closed_need + open_need,
            "the H2H phases",
        )
        .await;
        result.issue_seconds = started.elapsed().as_secs_f64();
        let mut vas = issued(&create);
        result.vas_issued = vas.len();

        let bank = Arc::new(Bank::connect(self.http.clone(), &gateway.base_url, &run_id()).await?);
        result.token_requests = 1;
        let open_vas = vas.split_off(vas.len().saturating_sub(open_need));
        let closed_vas = vas.split_off(warm_need.min(vas.len()));
        let bills = |vas: Vec<IssuedVa>| {
            Arc::new(Work::H2h(H2hWork::new(
                bank.clone(),
                vas,
                workload::PAYMENT,
            )))
        };
        let (warm, closed_work, open_work) = (bills(vas), bills(closed_vas), bills(open_vas));

        let closed = Shape::Closed(o.connections);
        let warmed = self.drive(warm.clone(), closed, self.warmup()).await;
        merge_errors(&mut result.errors, &warmed.errors);
        let open = Shape::Open(o.h2h_rate);
        for (work, shape) in [(&closed_work, closed), (&open_work, open)] {
            let mut phase = self
                .phase("h2h", h2h::ROUTE, work.clone(), shape, Some(target))
                .await;
            phase.h2h = bills_of(work).map(H2hWork::latencies);
            merge_errors(&mut result.errors, &phase.errors);
            phases.push(phase);
        }

        self.wait_for_deliveries().await;
        result.webhooks_received = self.sink.received() - sink_before;
        let fates: std::collections::HashMap<String, Fate> = [&warm, &closed_work, &open_work]
            .into_iter()
            .filter_map(|w| bills_of(w))
            .flat_map(H2hWork::fates)
            .collect();
        let db = h2h::read_db(&prepared.url()).await?;
        result.check = h2h::check(&fates, &db);
        eprintln!(
            "  h2h check: {} of {} acknowledged payments found paid exactly once, {} violation(s)",
            result.check.acknowledged_paid_once, result.check.acknowledged, result.check.violations
        );
        Ok(())
    }

    /// Issues VAs (unmeasured) until there are enough unpaid ones for both callback
    /// phases: the closed loop gets enough for `--callback-target` × 1.25 over warm-up
    /// and phase, the open loop its schedule plus 5 %.
    async fn callback_pool(&self, create: &Arc<Work>) -> (Vec<IssuedVa>, Vec<IssuedVa>) {
        let o = self.options;
        let per_va = f64::from(o.payments_per_va.max(1));
        let closed_need =
            (o.callback_target * 1.25 * (o.warmup + o.duration) / per_va).ceil() as usize;
        let open_need = (o.callback_rate() * o.duration * 1.05 / per_va).ceil() as usize;
        let need = closed_need + open_need;
        self.issue(create, need, "the callback phases").await;
        let mut all = issued(create);
        let open = all.split_off(all.len().saturating_sub(open_need));
        all.truncate(closed_need);
        (all, open)
    }

    /// Issues VAs (unmeasured closed loops of 5 s) until `create` has issued `need`, or
    /// three rounds in a row issued none.
    async fn issue(&self, create: &Arc<Work>, need: usize, what: &str) {
        let Work::CreateVa(c) = create.as_ref() else {
            return;
        };
        let started = Instant::now();
        let mut stalled = 0;
        while c.issued_count() < need && stalled < 3 {
            eprintln!("  issuing VAs for {what}: {} of {need}", c.issued_count());
            let before = c.issued_count();
            self.drive(
                create.clone(),
                Shape::Closed(self.options.connections),
                Duration::from_secs(5),
            )
            .await;
            stalled = if c.issued_count() == before {
                stalled + 1
            } else {
                0
            };
        }
        eprintln!(
            "  {} VAs ready ({:.0} s spent issuing extra ones)",
            c.issued_count(),
            started.elapsed().as_secs_f64()
        );
    }

    /// Lets the dispatcher deliver what the callbacks enqueued: waits until the sink has
    /// been quiet for 2 s (at most 60 s).
    async fn wait_for_deliveries(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = self.sink.received();
        let mut quiet_since = Instant::now();
        while Instant::now() < deadline && quiet_since.elapsed() < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = self.sink.received();
            if now != last {
                last = now;
                quiet_since = Instant::now();
            }
        }
    }
}

fn issued(create: &Work) -> Vec<IssuedVa> {
    match create {
        Work::CreateVa(c) => c.issued.lock().map(|v| v.clone()).unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn bills_of(work: &Work) -> Option<&H2hWork> {
    match work {
        Work::H2h(w) => Some(w),
        _ => None,
    }
}

fn merge_errors(
    into: &mut std::collections::BTreeMap<String, u64>,
    from: &std::collections::BTreeMap<String, u64>,
) {
    for (kind, n) in from {
        *into.entry(kind.clone()).or_default() += n;
    }
}

fn run_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

fn stop_perf(mut child: Child, path: PathBuf) -> String {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    path.display().to_string()
}

/// Everything a phase's numbers are computed from.
#[derive(Debug)]
struct Summary<'a> {
    workload: &'a str,
    shape: &'a str,
    connections: Option<usize>,
    offered: Option<f64>,
    wall: f64,
    gw_cpu: f64,
    gen_cpu: f64,
    pg_cpu: f64,
    machine_cpu: f64,
    gw_threads: std::collections::BTreeMap<String, f64>,
    view: GatewayView,
    perf_data: Option<String>,
}

fn summarize(m: Measured, s: Summary<'_>) -> PhaseResult {
    let errors: u64 = m.errors.values().sum();
    let attempts = (m.ok + errors).max(1) as f64;
    let per_request = |cpu: f64| cpu * 1e6 / (m.ok.max(1) as f64);
    PhaseResult {
        workload: s.workload.to_owned(),
        shape: s.shape.to_owned(),
        connections: s.connections,
        offered_rate: s.offered,
        offered_requests: m.offered,
        achieved_rate: m.ok as f64 / m.elapsed.as_secs_f64().max(1e-9),
        ok: m.ok,
        error_rate: errors as f64 / attempts,
        errors: m.errors,
        elapsed_s: m.elapsed.as_secs_f64(),
        latency: Percentiles::of(&m.latency),
        service_time: m.service.as_ref().map(Percentiles::of),
        late_sends: m.late_sends,
        exhausted: m.exhausted,
        gateway_cores: s.gw_cpu / s.wall,
        generator_cores: s.gen_cpu / s.wall,
        postgres_cores: s.pg_cpu / s.wall,
        other_cores: ((s.machine_cpu - s.gw_cpu - s.gen_cpu - s.pg_cpu) / s.wall).max(0.0),
        generator_us_per_request: per_request(s.gen_cpu),
        gateway_us_per_request: per_request(s.gw_cpu),
        gateway_threads: s
            .gw_threads
            .into_iter()
            .map(|(name, cpu)| (name, cpu / s.wall))
            .collect(),
        gateway_view: s.view,
        perf_data: s.perf_data,
        h2h: None,
    }
}
