//! Results: the JSON written to `bench/results/latest.json` and the table printed at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::db::DbSize;
use crate::h2h::{H2hLatencies, H2hResult};
use crate::load::Percentiles;
use crate::prom::GatewayView;
use crate::snap::{self, SnapResult};

/// The issue's targets on the 2-core machine (SQLite).
pub const VA_TARGET: f64 = 1500.0;
pub const CALLBACK_TARGET: f64 = 3000.0;
pub const P99_TARGET_MS: f64 = 20.0;
/// Cores used by processes outside the run above which a phase is flagged.
const INTERFERENCE: f64 = 0.25;

/// One measured phase.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseResult {
    /// `va_create`, `callback`, `h2h` or `calibration`.
    pub workload: String,
    /// `closed` or `open`.
    pub shape: String,
    /// Closed loop: concurrent connections.
    pub connections: Option<usize>,
    /// Open loop: the scheduled rate, requests per second.
    pub offered_rate: Option<f64>,
    /// Open loop: requests the schedule called for.
    pub offered_requests: Option<u64>,
    /// Successful requests per second over the measured window.
    pub achieved_rate: f64,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub error_rate: f64,
    pub elapsed_s: f64,
    /// Latency of successful requests (open loop: from the scheduled send time).
    pub latency: Percentiles,
    /// Open loop: from the actual send.
    pub service_time: Option<Percentiles>,
    /// Open loop: sends more than 1 ms behind schedule.
    pub late_sends: u64,
    /// The phase ran out of unpaid VAs before its end.
    pub exhausted: bool,
    /// CPU used during the phase, in cores (CPU seconds / wall seconds).
    pub gateway_cores: f64,
    pub generator_cores: f64,
    /// CPU of the PostgreSQL server processes (whether or not the run uses them).
    pub postgres_cores: f64,
    /// CPU of everything else on the machine during the phase (interference: another
    /// build or benchmark makes the figures meaningless).
    pub other_cores: f64,
    /// Generator CPU per successful request, µs (includes the webhook sink).
    pub generator_us_per_request: f64,
    /// Gateway CPU per successful request, µs.
    pub gateway_us_per_request: f64,
    /// Gateway CPU by thread name, in cores.
    pub gateway_threads: BTreeMap<String, f64>,
    /// The gateway's own metrics over the phase.
    pub gateway_view: GatewayView,
    /// `perf record` output, when profiled.
    pub perf_data: Option<String>,
    /// Host-to-host phases (`h2h`): the inquiry's and the payment's latencies apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub h2h: Option<H2hLatencies>,
}

/// One backend's run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BackendResult {
    pub backend: String,
    /// Why it did not run, when it did not.
    pub skipped: Option<String>,
    pub phases: Vec<PhaseResult>,
    /// Gateway `VmHWM` at the end, MiB.
    pub peak_rss_mib: f64,
    /// Gateway `VmRSS` at the end, MiB.
    pub rss_end_mib: f64,
    pub db_size_after_va: DbSize,
    pub db_size_end: DbSize,
    pub vas_issued: usize,
    pub callbacks_ok: u64,
    /// Webhooks the sink received (deliveries of `virtual_account.paid`).
    pub webhooks_received: u64,
    pub gateway_log: String,
    /// The host-to-host workload (after the others; the figures above are taken before
    /// it, except with `loadgen h2h`, which runs it alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub h2h: Option<H2hResult>,
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub started_at: String,
    pub machine: Machine,
    pub settings: serde_json::Value,
    pub calibration: Option<PhaseResult>,
    pub backends: Vec<BackendResult>,
    /// The SNAP client overhead (`loadgen snap`, or `loadgen all` after the backends).
    pub snap: Option<SnapResult>,
}

/// Where it ran.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub kernel: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_default();
        Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
        }
    }
}

fn label(p: &PhaseResult) -> String {
    match (p.connections, p.offered_rate) {
        (Some(c), _) => format!("{} closed c={c}", p.workload),
        (_, Some(r)) => format!("{} open {r:.0}/s", p.workload),
        _ => p.workload.clone(),
    }
}

fn phase_row(out: &mut String, p: &PhaseResult) {
    let errors: u64 = p.errors.values().sum();
    let _ = writeln!(
        out,
        "{:<28} {:>9.0} {:>8} {:>5} {:>7.2} {:>7.2} {:>7.2} {:>8.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>7.0} {:>7.0}",
        label(p),
        p.achieved_rate,
        p.ok,
        errors,
        p.latency.p50_ms,
        p.latency.p90_ms,
        p.latency.p99_ms,
        p.latency.max_ms,
        p.gateway_cores,
        p.generator_cores,
        p.postgres_cores,
        p.other_cores,
        p.gateway_us_per_request,
        p.generator_us_per_request,
    );
}

const HEADER: &str = "backend  phase                            req/s       ok   err  p50 ms  p90 ms  p99 ms   max ms gw cpu gen cpu pg cpu other  gw µs/r gen µs/r";

fn detail_row(out: &mut String, p: &PhaseResult) {
    let v = &p.gateway_view;
    let opt = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{x:.2}"));
    let mut threads: Vec<_> = p.gateway_threads.iter().collect();
    threads.sort_by(|a, b| b.1.total_cmp(a.1));
    let threads: Vec<String> = threads
        .iter()
        .take(4)
        .map(|(n, c)| format!("{n} {c:.2}"))
        .collect();
    let _ = writeln!(
        out,
        "  {:<26} commits {:>6.0} (mean {} writes), server mean {} ms, provider mean {} ms{}; threads: {}",
        label(p),
        v.group_commits,
        opt(v.mean_group_commit_size),
        opt(v.server_mean_ms),
        opt(v.provider_mean_ms),
        p.service_time.as_ref().map_or(String::new(), |s| format!(
            ", service p99 {:.2} ms, late sends {}",
            s.p99_ms, p.late_sends
        )),
        threads.join(", "),
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FALL SHORT" }
}

fn targets(out: &mut String, b: &BackendResult) {
    let find = |workload: &str, shape: &str| {
        b.phases
            .iter()
            .find(|p| p.workload == workload && p.shape == shape)
    };
    if let Some(p) = find("va_create", "closed") {
        let _ = writeln!(
            out,
            "  VA creation max throughput  {:>7.0}/s vs target {VA_TARGET:.0}/s: {}",
            p.achieved_rate,
            verdict(p.achieved_rate >= VA_TARGET)
        );
    }
    if let Some(p) = find("callback", "closed") {
        let _ = writeln!(
            out,
            "  callback max throughput     {:>7.0}/s vs target {CALLBACK_TARGET:.0}/s: {}",
            p.achieved_rate,
            verdict(p.achieved_rate >= CALLBACK_TARGET)
        );
    }
    for workload in ["va_create", "callback"] {
        if let Some(p) = find(workload, "open") {
            let _ = writeln!(
                out,
                "  {workload} p99 at {:.0}/s   {:>7.2} ms vs target < {P99_TARGET_MS:.0} ms: {}",
                p.offered_rate.unwrap_or(0.0),
                p.latency.p99_ms,
                verdict(p.latency.p99_ms < P99_TARGET_MS && p.error_rate == 0.0)
            );
        }
    }
}

impl Report {
    /// The human-readable summary.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "\nmachine: {} cores, {}, kernel {}",
            m.cores, m.cpu_model, m.kernel
        );
        if self.calibration.is_some() || !self.backends.is_empty() {
            let _ = writeln!(out, "{HEADER}");
        }
        if let Some(c) = &self.calibration {
            let _ = write!(out, "{:<9}", "(null)");
            phase_row(&mut out, c);
        }
        for b in &self.backends {
            if let Some(why) = &b.skipped {
                let _ = writeln!(out, "{}: skipped ({why})", b.backend);
                continue;
            }
            for p in &b.phases {
                let _ = write!(out, "{:<9}", b.backend);
                phase_row(&mut out, p);
            }
        }
        for b in &self.backends {
            for p in b.phases.iter().filter(|p| p.other_cores > INTERFERENCE) {
                let _ = writeln!(
                    out,
                    "WARNING: {} {}: other processes used {:.2} cores during the phase; its figures are disturbed",
                    b.backend,
                    label(p),
                    p.other_cores
                );
            }
        }
        for b in self.backends.iter().filter(|b| b.skipped.is_none()) {
            let _ = writeln!(
                out,
                "\n{}: peak RSS {:.1} MiB (end {:.1} MiB); DB {:.1} MiB after VA phases, {:.1} MiB at end (WAL {:.1} MiB); {} VAs issued, {} callbacks stored, {} webhooks delivered to the sink",
                b.backend,
                b.peak_rss_mib,
                b.rss_end_mib,
                b.db_size_after_va.total_mib(),
                b.db_size_end.total_mib(),
                b.db_size_end.wal_bytes as f64 / (1024.0 * 1024.0),
                b.vas_issued,
                b.callbacks_ok,
                b.webhooks_received,
            );
            for p in &b.phases {
                detail_row(&mut out, p);
            }
            targets(&mut out, b);
        }
        h2h_table(&mut out, &self.backends);
        if let Some(s) = &self.snap {
            snap_table(&mut out, s);
        }
        out
    }

    /// Whether every host-to-host workload that ran passed its check (true when none ran).
    pub fn h2h_passed(&self) -> bool {
        self.backends
            .iter()
            .filter_map(|b| b.h2h.as_ref())
            .all(H2hResult::passed)
    }
}

fn h2h_table(out: &mut String, backends: &[BackendResult]) {
    let ran: Vec<_> = backends
        .iter()
        .filter_map(|b| b.h2h.as_ref().map(|h| (b, h)))
        .collect();
    if ran.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nhost-to-host VA bills ({}): inquiry (svc 24) then payment (svc 25) of a fresh VA; one B2B token per backend",
        crate::h2h::INSTANCE
    );
    let _ = writeln!(
        out,
        "backend  phase                    bills/s       ok   err | inquiry p50   p90     p99     max ms | payment p50   p90     p99     max ms"
    );
    for (b, _) in &ran {
        for p in &b.phases {
            let Some(l) = &p.h2h else { continue };
            let errors: u64 = p.errors.values().sum();
            let _ = writeln!(
                out,
                "{:<9}{:<22} {:>9.0} {:>8} {:>5} | {:>11.2} {:>7.2} {:>7.2} {:>7.2}    | {:>11.2} {:>7.2} {:>7.2} {:>7.2}",
                b.backend,
                label(p),
                p.achieved_rate,
                p.ok,
                errors,
                l.inquiry.p50_ms,
                l.inquiry.p90_ms,
                l.inquiry.p99_ms,
                l.inquiry.max_ms,
                l.payment.p50_ms,
                l.payment.p90_ms,
                l.payment.p99_ms,
                l.payment.max_ms,
            );
        }
    }
    for (b, h) in ran {
        let c = &h.check;
        let errors = if h.errors.is_empty() {
            "none".to_owned()
        } else {
            let codes: Vec<String> = h.errors.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
            codes.join(", ")
        };
        let _ = writeln!(
            out,
            "{}: {} H2H VAs issued in {:.0} s; {} token request(s); {} webhooks; errors (warm-up included): {errors}",
            b.backend, h.vas_issued, h.issue_seconds, h.token_requests, h.webhooks_received
        );
        if let Some(why) = &h.failed {
            let _ = writeln!(out, "  FAILED: {why}");
            continue;
        }
        let _ = writeln!(
            out,
            "  database check: {} of {} acknowledged payments paid exactly once; {} sent unanswered ({} of them paid once); {} never paid and untouched of {}; {} violation(s): {}",
            c.acknowledged_paid_once,
            c.acknowledged,
            c.sent_unacknowledged,
            c.sent_unacknowledged_paid,
            c.not_sent,
            c.vas_in_db,
            c.violations,
            if c.ok { "PASS" } else { "FAILED" }
        );
        for example in &c.examples {
            let _ = writeln!(out, "    {example}");
        }
    }
}

fn snap_label(name: &str) -> &str {
    match name {
        "baseline" => "1 baseline: plain JSON POST",
        "client_cached" => "2 SNAP client, token cached",
        "client_verified" => "3 SNAP client + provider check",
        "token_miss" => "4 token miss: fetch + call",
        other => other,
    }
}

fn snap_table(out: &mut String, s: &SnapResult) {
    let o = &s.settings;
    let _ = writeln!(
        out,
        "\nSNAP call overhead, in process on 127.0.0.1 (phases 1-3: closed loops of {:.0} s at c={} and c=1; phase 4: {} sequential calls)",
        o.snap_duration, o.snap_concurrency, o.snap_token_samples
    );
    let _ = writeln!(
        out,
        "phase                              conc  calls/s       ok  err  p50 µs  p90 µs  p99 µs  max µs  cores  cpu µs/call  other  token reqs"
    );
    for p in &s.phases {
        let errors: u64 = p.errors.values().sum();
        let _ = writeln!(
            out,
            "{:<34} {:>4} {:>8.0} {:>8} {:>4} {:>7.0} {:>7.0} {:>7.0} {:>7.0} {:>6.2} {:>12.1} {:>6.2} {:>11}",
            snap_label(&p.name),
            p.concurrency,
            p.calls_per_s,
            p.ok,
            errors,
            p.latency.p50_us,
            p.latency.p90_us,
            p.latency.p99_us,
            p.latency.max_us,
            p.process_cores,
            p.cpu_us_per_call,
            p.other_cores,
            p.token_requests,
        );
    }
    let v = &s.overhead;
    let _ = writeln!(
        out,
        "overhead per call over the baseline (difference of medians):\n  sequential: SNAP client {:+.0} µs, client + provider check {:+.0} µs\n  c={}: SNAP client {:+.0} µs, client + provider check {:+.0} µs (queueing included)\n  CPU per call (both sides, c={}): SNAP client {:+.1} µs, client + provider check {:+.1} µs\n  token fetch over a cached call (sequential): {:+.0} µs median, {:+.1} µs CPU\n  the client's signing work alone, no I/O (timestamp, body hash, HMAC-SHA512, external id): {:.1} µs per call",
        v.client_p50_us,
        v.verified_p50_us,
        o.snap_concurrency,
        v.client_p50_loaded_us,
        v.verified_p50_loaded_us,
        o.snap_concurrency,
        v.client_cpu_us,
        v.verified_cpu_us,
        v.token_fetch_p50_us,
        v.token_fetch_cpu_us,
        v.signing_us,
    );
    let t = &s.token_endpoint;
    let _ = writeln!(
        out,
        "token endpoint: {} request(s) from the priming call through phases 2-3 (expected 1), {} in phase 4 for {} calls; {}",
        t.through_hit_phases,
        t.in_miss_phase,
        t.miss_samples,
        if t.ok {
            "cache hit path confirmed"
        } else {
            "FAILED: the cache-hit phases did not only hit the cache"
        }
    );
    for p in s
        .phases
        .iter()
        .filter(|p| p.other_cores > snap::INTERFERENCE)
    {
        let _ = writeln!(
            out,
            "WARNING: snap {} c={}: other processes used {:.2} cores during the phase; its figures are disturbed",
            p.name, p.concurrency, p.other_cores
        );
    }
}
