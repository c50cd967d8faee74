//! `loadgen`: the load generator for the sandbox gateway (RELIABILITY.md §6.3).
//!
//! For each backend (a SQLite file in a temp dir; a fresh PostgreSQL database, skipped when
//! the server is unreachable) it starts `target/release/gateway sandbox` as a child
//! process with zero-latency in-process simulators, a rate limit too high to matter and the
//! demo client's webhooks pointed at a null sink, then measures:
//!
//! 1. **VA creation** (`POST /v1/virtual-accounts`, signed): a closed loop (N connections,
//!    max throughput), then an open loop at half the target rate, latency from the
//!    scheduled send time (no coordinated omission);
//! 2. **callback ingestion** (`POST /v1/callbacks/bni_sandbox`, BNI-encrypted payments of
//!    the VAs issued before; each a real state change): the same two phases;
//! 3. CPU per phase of the gateway (by thread name) and of the generator, the gateway's
//!    own metrics (group-commit sizes, server-side latency), peak RSS (`VmHWM`), DB size;
//! 4. last, **host-to-host bills** ([`h2h`], VAs the gateway holds at `bni_h2h_sandbox`):
//!    the bank's inquiry then payment of a fresh VA, in a closed loop and an open loop at
//!    `--h2h-rate`, each answer's latency apart; then a database check that every paid VA
//!    was paid exactly once. `loadgen h2h` runs only this workload.
//!
//! `loadgen all` then measures the SNAP client's per-call overhead in process ([`snap`]:
//! no gateway, local endpoints); `loadgen snap` runs only that part.
//!
//! `loadgen exports` is apart from the rest: in process, it times the console's report
//! downloads (CSV, XLSX, PDF) written and read back, and their memory ([`exports`]); it
//! writes `bench/results/exports.json`.
//!
//! It prints a table and writes `bench/results/latest.json` (`loadgen snap`:
//! `bench/results/snap.json`). It builds nothing: run `cargo build --release -p gateway`
//! first, or use `bench/run.sh`, which does both.
//!
//! # Layout
//! - `main.rs`: command line and the run over backends.
//! - [`runner`]: one backend's phases and the measurements around each.
//! - [`load`]: closed- and open-loop drivers, latency histograms.
//! - [`workload`]: the requests (signed VA creation, BNI callbacks, null calibration).
//! - [`proc`]: the gateway child process; CPU and memory from `/proc`.
//! - [`prom`]: the gateway's `/metrics`, before and after each phase.
//! - [`db`]: temporary SQLite file or PostgreSQL database.
//! - [`h2h`]: the bank's side of host-to-host bills, and the check afterwards.
//! - [`sink`]: the webhook sink.
//! - [`snap`]: the SNAP client overhead phases and their local endpoints.
//! - [`exports`]: the report exports benchmark (`loadgen exports`).
//! - [`report`]: the JSON result and the printed table.

mod db;
mod exports;
mod h2h;
mod load;
mod proc;
mod prom;
mod report;
mod runner;
mod sink;
mod snap;
mod workload;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::db::Backend;
use crate::report::{Machine, Report};
use crate::runner::Context;
use crate::sink::Sink;
use crate::snap::SnapOptions;

#[derive(Parser, Debug)]
#[command(name = "loadgen", about = "Load generator for the sandbox gateway")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// SQLite, then PostgreSQL (skipped when unreachable), then the SNAP client overhead.
    All {
        #[command(flatten)]
        options: Options,
        #[command(flatten)]
        snap: SnapOptions,
    },
    /// One backend.
    Run {
        /// Which backend.
        #[arg(long, value_enum)]
        backend: Backend,
        #[command(flatten)]
        options: Options,
    },
    /// Only the SNAP client overhead, in process (no gateway, no database).
    Snap(SnapCommand),
    /// Only the host-to-host bills (SQLite, then PostgreSQL, unless --backend).
    #[command(mut_arg("out", |a| a.default_value(H2H_OUT)))]
    H2h {
        /// Only this backend.
        #[arg(long, value_enum)]
        backend: Option<Backend>,
        #[command(flatten)]
        options: Options,
    },
    /// The report exports (CSV, XLSX, PDF written and read back), in process; not part of `all`.
    Exports(crate::exports::ExportsCommand),
}

/// Where `loadgen h2h` writes its JSON result by default.
const H2H_OUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/results/h2h.json");

/// Settings of `loadgen snap`.
#[derive(Args, Debug, Clone, serde::Serialize)]
struct SnapCommand {
    #[command(flatten)]
    snap: SnapOptions,
    /// Where the JSON result goes.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results/snap.json"))]
    out: PathBuf,
    /// Runtime worker threads (client and endpoints share them).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Settings shared by every command.
#[derive(Args, Debug, Clone, serde::Serialize)]
pub struct Options {
    /// The gateway binary (default: <workspace>/target/release/gateway, or under
    /// $CARGO_TARGET_DIR).
    #[arg(long)]
    gateway: Option<PathBuf>,
    /// Seconds of each measured phase.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of unmeasured closed-loop warm-up before each workload.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Connections of the closed loops.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Target VA creations per second (the open loop runs at half unless --va-rate).
    #[arg(long, default_value_t = report::VA_TARGET)]
    va_target: f64,
    /// Target callbacks per second (the open loop runs at half unless --callback-rate).
    #[arg(long, default_value_t = report::CALLBACK_TARGET)]
    callback_target: f64,
    /// Open-loop VA creations per second.
    #[arg(long)]
    va_rate: Option<f64>,
    /// Open-loop callbacks per second.
    #[arg(long)]
    callback_rate: Option<f64>,
    /// VAs issued for the closed-loop callback phase (default: enough for
    /// --callback-target × 1.25 over warm-up and phase). Every VA stays in the table, so
    /// this also sets the table size the callbacks run against.
    #[arg(long)]
    callback_pool: Option<usize>,
    /// Payments per VA: 1 = every callback pays a VA in full (VA update + outbox event);
    /// k > 1 = k-1 partial payments, then the completing one.
    #[arg(long, default_value_t = 1)]
    payments_per_va: u32,
    /// Most open-loop requests outstanding at once.
    #[arg(long, default_value_t = 2048)]
    max_in_flight: usize,
    /// Seconds an open loop waits for answers after its last scheduled send; requests
    /// still unanswered then count as `unfinished` errors.
    #[arg(long, default_value_t = 10.0)]
    drain: f64,
    /// PostgreSQL server where a fresh `bench_<random>` database is created and dropped.
    #[arg(
        long,
        env = "BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres_url: String,
    /// Where the JSON result goes (gateway logs are written beside it).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results/latest.json"))]
    out: PathBuf,
    /// Generator runtime worker threads (it shares the machine with the gateway).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// `GATEWAY_LOG` for the gateway (default: its own default filter).
    #[arg(long)]
    gateway_log: Option<String>,
    /// Record a `perf` profile of the gateway during each phase into this directory.
    #[arg(long)]
    perf_dir: Option<PathBuf>,
    /// Skip the generator's calibration against the null sink (`loadgen h2h` never runs
    /// it).
    #[arg(long)]
    no_calibration: bool,
    /// Open-loop host-to-host bills per second (inquiry + payment each).
    #[arg(long, default_value_t = 200.0)]
    h2h_rate: f64,
    /// Expected most host-to-host bills per second: sizes the VAs issued for the H2H
    /// warm-up and closed loop (× 1.25 over their durations).
    #[arg(long, default_value_t = 2000.0)]
    h2h_target: f64,
    /// VAs for the H2H closed loop (default: from --h2h-target); the phase ends early,
    /// flagged, when they run out.
    #[arg(long)]
    h2h_pool: Option<usize>,
}

impl Options {
    fn va_rate(&self) -> f64 {
        self.va_rate.unwrap_or(self.va_target / 2.0)
    }

    fn callback_rate(&self) -> f64 {
        self.callback_rate.unwrap_or(self.callback_target / 2.0)
    }

    fn gateway_binary(&self) -> &std::path::Path {
        self.gateway
            .as_deref()
            .unwrap_or(std::path::Path::new("gateway"))
    }

    fn resolve_gateway(&mut self) {
        if self.gateway.is_none() {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target"))
                });
            self.gateway = Some(target.join("release").join("gateway"));
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let both = || vec![Backend::Sqlite, Backend::Postgres];
    let (backends, mut options, snap, h2h_only) = match cli.command {
        Cmd::All { options, snap } => (both(), options, Some(snap), false),
        Cmd::Run { backend, options } => (vec![backend], options, None, false),
        Cmd::H2h { backend, options } => {
            (backend.map_or_else(both, |b| vec![b]), options, None, true)
        }
        Cmd::Snap(command) => return runtime(command.threads)?.block_on(run_snap(command)),
        Cmd::Exports(command) => return crate::exports::run(&command),
    };
    options.resolve_gateway();
    runtime(options.threads)?.block_on(run(backends, options, snap, h2h_only))
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?)
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Writes the JSON, prints the table, then fails if the SNAP token check or a
/// host-to-host check failed.
fn finish(report: &Report, out: &std::path::Path) -> anyhow::Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(out, serde_json::to_string_pretty(report)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("{}", report.table());
    println!("JSON result: {}", out.display());
    if !report.h2h_passed() {
        anyhow::bail!("a host-to-host check failed (see the table above)");
    }
    match &report.snap {
        Some(snap) => snap.check(),
        None => Ok(()),
    }
}

async fn run_snap(command: SnapCommand) -> anyhow::Result<()> {
    let started_at = now_rfc3339();
    let snap = snap::run(&command.snap).await?;
    let report = Report {
        started_at,
        machine: Machine::detect(),
        settings: serde_json::to_value(&command)?,
        calibration: None,
        backends: Vec::new(),
        snap: Some(snap),
    };
    finish(&report, &command.out)
}

async fn run(
    backends: Vec<Backend>,
    options: Options,
    snap: Option<SnapOptions>,
    h2h_only: bool,
) -> anyhow::Result<()> {
    let started_at = now_rfc3339();
    let http = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(30))
        .build()?;
    if let Some(dir) = options.out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let sink = Sink::start().await?;
    let context = Context {
        options: &options,
        http,
        sink: &sink,
        ticks: proc::clock_ticks(),
        h2h_only,
    };
    let calibration = if options.no_calibration || h2h_only {
        None
    } else {
        Some(context.calibrate().await)
    };
    let mut results = Vec::new();
    for backend in backends {
        results.push(context.backend(backend).await?);
    }
    let snap = match snap {
        Some(snap) => Some(snap::run(&snap).await?),
        None => None,
    };
    let report = Report {
        started_at,
        machine: Machine::detect(),
        settings: serde_json::to_value(&options)?,
        calibration,
        backends: results,
        snap,
    };
    finish(&report, &options.out)
}
