//! The gateway child process (`gateway sandbox`) and what `/proc` tells about it and about
//! the generator itself: CPU time per process and per thread name, peak RSS.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A running `gateway sandbox`.
#[derive(Debug)]
pub struct Gateway {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Its log (stdout and stderr).
    pub log: PathBuf,
}

/// How to start the gateway.
#[derive(Debug)]
pub struct Launch<'a> {
    pub binary: &'a Path,
    pub database_url: &'a str,
    pub webhook_url: &'a str,
    pub workdir: &'a Path,
    pub log: PathBuf,
    /// `GATEWAY_LOG` for the child, when set.
    pub log_filter: Option<&'a str>,
}

/// A free loopback port (bound, then released for the child).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Gateway {
    /// Starts the sandbox with a rate limit high enough not to matter and the demo
    /// client's webhooks pointed at the sink, then waits until `/readyz` answers 200.
    pub async fn start(launch: Launch<'_>, http: &reqwest::Client) -> anyhow::Result<Gateway> {
        if !launch.binary.is_file() {
            bail!(
                "{} not found: build it first with `cargo build --release -p gateway` (or use bench/run.sh)",
                launch.binary.display()
            );
        }
        // The child runs in its own working directory: a relative path would not resolve.
        let binary = std::fs::canonicalize(launch.binary)?;
        let port = free_port()?;
        let log = File::create(&launch.log)
            .with_context(|| format!("cannot create {}", launch.log.display()))?;
        let mut command = Command::new(&binary);
        command
            .args(["sandbox", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", launch.database_url])
            .current_dir(launch.workdir)
            .env("GATEWAY__CLIENTS__DEMO__RATE_LIMIT__PER_SECOND", "1000000")
            .env("GATEWAY__CLIENTS__DEMO__RATE_LIMIT__BURST", "1000000")
            .env("GATEWAY__CLIENTS__DEMO__WEBHOOK_URL", launch.webhook_url)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(filter) = launch.log_filter {
            command.env("GATEWAY_LOG", filter);
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut gateway = Gateway {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log: launch.log,
        };
        gateway.wait_ready(http).await?;
        Ok(gateway)
    }

    async fn wait_ready(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/readyz", self.base_url);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "gateway exited ({status}) before it was ready; see {}",
                    self.log.display()
                );
            }
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("gateway not ready after 60 s; see {}", self.log.display())
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it with SIGINT (the sandbox's shutdown signal), killing it after 10 s.
    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clock ticks per second for `/proc/*/stat` times.
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// `utime + stime` (ticks) from a `/proc/.../stat` line; the command name may hold spaces,
/// so fields are counted after its closing parenthesis.
fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 of the line, so utime (14) and stime (15) are 11, 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU time of a process and of each of its threads, grouped by thread name.
#[derive(Clone, Debug, Default)]
pub struct CpuSample {
    pub total: u64,
    pub by_thread: BTreeMap<String, u64>,
}

/// Samples `/proc/<pid>` (`self` for the generator).
pub fn cpu_sample(pid: &str) -> CpuSample {
    let total = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| stat_ticks(&s))
        .unwrap_or(0);
    let mut by_thread = BTreeMap::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let dir = task.path();
            let name = std::fs::read_to_string(dir.join("comm"))
                .map(|s| thread_group(s.trim()))
                .unwrap_or_default();
            let ticks = std::fs::read_to_string(dir.join("stat"))
                .ok()
                .and_then(|s| stat_ticks(&s))
                .unwrap_or(0);
            *by_thread.entry(name).or_insert(0) += ticks;
        }
    }
    CpuSample { total, by_thread }
}

/// Thread names without their per-thread number (`sqlx-sqlite-worker-3` → `sqlx-sqlite-worker`).
fn thread_group(name: &str) -> String {
    name.trim_end_matches(|c: char| c.is_ascii_digit())
        .trim_end_matches(['-', '_', '#'])
        .to_owned()
}

impl CpuSample {
    /// CPU seconds between `earlier` and `self`, in total and per thread group.
    pub fn since(&self, earlier: &CpuSample, ticks: f64) -> (f64, BTreeMap<String, f64>) {
        let total = self.total.saturating_sub(earlier.total) as f64 / ticks;
        let threads = self
            .by_thread
            .iter()
            .map(|(name, t)| {
                let before = earlier.by_thread.get(name).copied().unwrap_or(0);
                (name.clone(), t.saturating_sub(before) as f64 / ticks)
            })
            .filter(|(_, s)| *s > 0.0)
            .collect();
        (total, threads)
    }
}

/// CPU ticks of every process named `postgres` (the server and its backends), so a
/// PostgreSQL run's database work is counted too.
pub fn postgres_ticks() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| stat.contains("(postgres)"))
        .filter_map(|stat| stat_ticks(&stat))
        .sum()
}

/// Busy ticks of the whole machine (all cores, `/proc/stat`: everything but idle and
/// iowait), to tell how much CPU went to processes outside the run.
pub fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let fields: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    fields.iter().take(8).sum::<u64>().saturating_sub(idle)
}

/// `VmHWM` (peak resident set) and `VmRSS`, in MiB.
pub fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}
