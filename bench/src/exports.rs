//! `loadgen exports`: how long the console's report downloads take to write and to read
//! back, and how much memory they take, in process (no gateway, no database).
//!
//! For each row count, ascending, the table is a synthetic daily-transactions report, the
//! shape `gateway/src/console/reports.rs` downloads: `kind, id, product, provider,
//! reference, status, amount, paid_amount, created_at, completed_at`, with ids like
//! `va_01…`, references like `INV-2026-000123`, amounts of 10,000–5,000,000 rupiah and
//! RFC 3339 times over one Asia/Jakarta day. The same seed gives the same table.
//!
//! Each operation (write CSV, read CSV, write XLSX, …) runs in a fresh `loadgen` process
//! (the same binary, with hidden `--op`, `--format` and `--file`), which builds the table
//! (not timed), then times `--repeat` runs with [`Instant`] and keeps the best and the
//! median. A write leaves its last file in a temporary directory; the read of that format
//! loads it from there (not timed) and times the reader on it. Every reader must give back
//! the header and every row exactly as the table holds them ([`Table::display_rows`]), so
//! the three formats agree; anything else fails the run before a result is written, since a
//! wrong export is not a measurement.
//!
//! Memory comes from `/proc/self/status` of that process. `VmHWM` is a high-water mark and
//! the allocator keeps freed memory resident, so operations sharing one process would hide
//! each other's peaks: hence one process each. Before the timed runs the mark is reset to
//! the resident set (`5` written to `/proc/self/clear_refs`, Linux ≥ 4.0), so the peak of
//! an operation is its `VmHWM` after − `VmRSS` before: what it needs on top of the table
//! (a write) or the file (a read). The process's whole peak, table included, is kept too.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ::exports::{Cell, Column, ReadError, Table};
use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::proc::{clock_ticks, cpu_sample, machine_busy_ticks, memory_mib};
use crate::report::Machine;

/// Settings of `loadgen exports`.
#[derive(Args, Debug, Clone, Serialize)]
pub struct ExportsCommand {
    /// Row counts to measure (run in ascending order).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    pub rows: Vec<usize>,
    /// Timed runs of each write and each read.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Seed of the synthetic rows.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Where the JSON result goes.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results/exports.json"))]
    pub out: PathBuf,
    /// Internal: run this one operation in this process (with --format and --file).
    #[arg(long, value_enum, hide = true, requires_all = ["format", "file"])]
    #[serde(skip)]
    pub op: Option<Op>,
    /// Internal: the format of --op.
    #[arg(long, value_enum, hide = true)]
    #[serde(skip)]
    pub format: Option<Format>,
    /// Internal: the file --op writes or reads.
    #[arg(long, hide = true)]
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

/// A download format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `exports::csv` / `read_csv`.
    Csv,
    /// `exports::xlsx` / `read_xlsx`.
    Xlsx,
    /// `exports::pdf` / `read_pdf`.
    Pdf,
}

impl Format {
    const ALL: [Format; 3] = [Format::Csv, Format::Xlsx, Format::Pdf];

    /// The crate's own value for it.
    fn of(self) -> ::exports::Format {
        match self {
            Format::Csv => ::exports::Format::Csv,
            Format::Xlsx => ::exports::Format::Xlsx,
            Format::Pdf => ::exports::Format::Pdf,
        }
    }

    fn name(self) -> &'static str {
        self.of().extension()
    }
}

/// What one process measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Op {
    /// Write the file from the table.
    Write,
    /// Read the rows back from the file.
    Read,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Write => "write",
            Op::Read => "read",
        }
    }
}

/// The whole run, as written to `bench/results/exports.json`.
#[derive(Clone, Debug, Serialize)]
pub struct ExportsReport {
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// Where it ran.
    pub machine: Machine,
    /// The command's settings.
    pub settings: serde_json::Value,
    /// What every size was checked for before its figures were kept.
    pub check: &'static str,
    /// One entry per row count, ascending.
    pub sizes: Vec<SizeResult>,
}

/// One row count.
#[derive(Clone, Debug, Serialize)]
pub struct SizeResult {
    /// Data rows (the header not counted).
    pub rows: usize,
    /// Columns of the table.
    pub columns: usize,
    /// CSV, XLSX, PDF, in that order.
    pub formats: Vec<FormatResult>,
    /// Pages of the PDF (`/Type /Page` objects).
    pub pdf_pages: usize,
}

/// One format at one row count.
#[derive(Clone, Debug, Serialize)]
pub struct FormatResult {
    /// The format.
    pub format: Format,
    /// Size of the file written.
    pub bytes: usize,
    /// `bytes` per data row.
    pub bytes_per_row: f64,
    /// Writing the file from the table.
    pub write: Measured,
    /// Reading the rows back from the file.
    pub read: Measured,
}

/// One operation, measured in its own process.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measured {
    /// The fastest run, ms.
    pub best_ms: f64,
    /// The median run (the mean of the middle two for an even count), ms.
    pub median_ms: f64,
    /// Every run in order, ms.
    pub runs_ms: Vec<f64>,
    /// `VmRSS` before the runs: the process with the table (write) or the file (read), MiB.
    pub base_mib: f64,
    /// Peak resident memory of the runs above `base_mib`, MiB (absent when `VmHWM` could
    /// not be reset and the runs did not raise it).
    pub peak_mib: Option<f64>,
    /// The process's `VmHWM` over its whole life (table building included), MiB.
    pub process_peak_mib: f64,
    /// CPU of other processes on the machine during the runs, in cores (interference);
    /// absent when the runs took under [`MIN_INTERFERENCE_WINDOW`] seconds in all, too short
    /// for the kernel's tick counts.
    pub other_cores: Option<f64>,
}

/// What one operation's process prints on its standard output, as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct OpOutput {
    measured: Measured,
    /// A write: the file's size.
    bytes: usize,
    /// A PDF write: its pages.
    pdf_pages: Option<usize>,
}

/// What each size is checked for.
const CHECK: &str = "read_csv, read_xlsx and read_pdf each returned rows + 1 rows (the header first), equal cell for cell to the table's display rows, so the three agree";

/// The daily report's columns, as `gateway/src/console/reports.rs` builds them.
const COLUMNS: [(&str, bool); 10] = [
    ("kind", false),
    ("id", false),
    ("product", false),
    ("provider", false),
    ("reference", false),
    ("status", false),
    ("amount", true),
    ("paid_amount", true),
    ("created_at", false),
    ("completed_at", false),
];

/// 2026-11-21 00:00 in Asia/Jakarta (UTC+7), Unix ms: the synthetic day's start.
const DAY_START_MS: i64 = 1_795_194_000_000;
const DAY_MS: i64 = 86_400_000;
/// Cores of other processes above which an operation is flagged.
const INTERFERENCE: f64 = 0.25;
/// The shortest window, in seconds, over which other processes' CPU is worth reporting:
/// `/proc/stat` counts in ticks of 10 ms per core.
pub const MIN_INTERFERENCE_WINDOW: f64 = 0.5;

/// Runs the benchmark (or, with `--op`, one operation), writes the JSON and prints the
/// table; fails on a wrong export.
pub fn run(command: &ExportsCommand) -> anyhow::Result<()> {
    if let (Some(op), Some(format), Some(file)) = (command.op, command.format, &command.file) {
        return run_op(command, op, format, file);
    }
    let started_at = crate::now_rfc3339();
    let mut sizes = command.rows.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let dir = crate::db::temp_dir("exports")?;
    let mut results = Vec::with_capacity(sizes.len());
    println!("{HEADER}");
    for rows in sizes {
        let result = measure_size(command, rows, &dir);
        let result = match result {
            Ok(result) => result,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e.context(format!("{rows} rows")));
            }
        };
        println!("{}", size_lines(&result));
        results.push(result);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let report = ExportsReport {
        started_at,
        machine: Machine::detect(),
        settings: serde_json::to_value(command)?,
        check: CHECK,
        sizes: results,
    };
    write_report(&report, &command.out)?;
    println!("{}", report.table());
    println!("JSON result: {}", command.out.display());
    Ok(())
}

fn write_report(report: &ExportsReport, out: &Path) -> anyhow::Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(out, serde_json::to_string_pretty(report)?)
        .with_context(|| format!("cannot write {}", out.display()))
}

/// One row count: each format written, then read back, each in its own process.
fn measure_size(command: &ExportsCommand, rows: usize, dir: &Path) -> anyhow::Result<SizeResult> {
    let mut formats = Vec::with_capacity(Format::ALL.len());
    let mut pdf_pages = 0;
    for format in Format::ALL {
        let file = dir.join(format!("{rows}.{}", format.name()));
        let written = spawn_op(command, rows, Op::Write, format, &file)?;
        let read = spawn_op(command, rows, Op::Read, format, &file)?;
        let _ = std::fs::remove_file(&file);
        pdf_pages = written.pdf_pages.unwrap_or(pdf_pages);
        formats.push(FormatResult {
            format,
            bytes: written.bytes,
            bytes_per_row: written.bytes as f64 / rows.max(1) as f64,
            write: written.measured,
            read: read.measured,
        });
    }
    Ok(SizeResult {
        rows,
        columns: COLUMNS.len(),
        formats,
        pdf_pages,
    })
}

/// Runs one operation in a fresh `loadgen` process and takes its JSON answer.
fn spawn_op(
    command: &ExportsCommand,
    rows: usize,
    op: Op,
    format: Format,
    file: &Path,
) -> anyhow::Result<OpOutput> {
    let exe = std::env::current_exe().context("cannot find the loadgen binary")?;
    let output = Command::new(&exe)
        .arg("exports")
        .args(["--rows", &rows.to_string()])
        .args(["--repeat", &command.repeat.to_string()])
        .args(["--seed", &command.seed.to_string()])
        .args(["--op", op.name(), "--format", format.name(), "--file"])
        .arg(file)
        .output()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    if !output.status.success() {
        bail!(
            "{} {}: {} ({})",
            op.name(),
            format.name(),
            String::from_utf8_lossy(&output.stderr).trim(),
            output.status
        );
    }
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("{} {}: unreadable answer", op.name(), format.name()))
}

/// The `--op` process: one write or read, measured, answered as JSON on stdout.
fn run_op(command: &ExportsCommand, op: Op, format: Format, file: &Path) -> anyhow::Result<()> {
    let rows = match command.rows.as_slice() {
        [rows] => *rows,
        other => bail!("--op takes one row count, got {other:?}"),
    };
    let output = match op {
        Op::Write => write_op(rows, command, format, file)?,
        Op::Read => read_op(rows, command, format, file)?,
    };
    println!("{}", serde_json::to_string(&output)?);
    Ok(())
}

fn write_op(
    rows: usize,
    command: &ExportsCommand,
    format: Format,
    file: &Path,
) -> anyhow::Result<OpOutput> {
    let table = daily_table(rows, command.seed)?;
    let (measured, bytes) = timed(command.repeat, || format.of().write(&table));
    std::fs::write(file, &bytes).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(OpOutput {
        measured,
        bytes: bytes.len(),
        pdf_pages: (format == Format::Pdf).then(|| count_pages(&bytes)),
    })
}

fn read_op(
    rows: usize,
    command: &ExportsCommand,
    format: Format,
    file: &Path,
) -> anyhow::Result<OpOutput> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (measured, read) = timed(command.repeat, || format.of().read(&bytes));
    let table = daily_table(rows, command.seed)?;
    check_rows(format.name(), &table, read)?;
    Ok(OpOutput {
        measured,
        bytes: bytes.len(),
        pdf_pages: None,
    })
}

/// Runs `work` `repeat` times (at least once), timing each run, with the memory and the
/// interference around them; returns the last run's output. Each output is dropped before
/// the next run, so two never coexist.
fn timed<T>(repeat: u32, mut work: impl FnMut() -> T) -> (Measured, T) {
    let ticks = clock_ticks();
    let (setup_peak, base_mib) = memory_mib(std::process::id());
    let reset = reset_peak();
    let (cpu_before, busy_before) = (cpu_sample("self").total, machine_busy_ticks());
    let window = Instant::now();
    let mut runs_ms = Vec::new();
    let mut started = Instant::now();
    let mut output = std::hint::black_box(work());
    runs_ms.push(started.elapsed().as_secs_f64() * 1_000.0);
    for _ in 1..repeat {
        drop(output);
        started = Instant::now();
        output = std::hint::black_box(work());
        runs_ms.push(started.elapsed().as_secs_f64() * 1_000.0);
    }
    let wall = window.elapsed().as_secs_f64();
    let own = cpu_sample("self").total.saturating_sub(cpu_before);
    let other = machine_busy_ticks()
        .saturating_sub(busy_before)
        .saturating_sub(own);
    let (hwm_after, _) = memory_mib(std::process::id());
    let peak_mib = (reset || hwm_after > setup_peak).then(|| (hwm_after - base_mib).max(0.0));
    let (best_ms, median_ms) = best_and_median(&runs_ms);
    let measured = Measured {
        best_ms,
        median_ms,
        runs_ms,
        base_mib,
        peak_mib,
        process_peak_mib: setup_peak.max(hwm_after),
        other_cores: (wall >= MIN_INTERFERENCE_WINDOW).then(|| other as f64 / ticks / wall),
    };
    (measured, output)
}

/// The fastest and the median of the runs (the mean of the middle two for an even count).
fn best_and_median(runs_ms: &[f64]) -> (f64, f64) {
    let mut sorted = runs_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => (0.0, 0.0),
        _ if n % 2 == 1 => (sorted[0], sorted[n / 2]),
        _ => (sorted[0], f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])),
    }
}

/// Resets `VmHWM` to the current resident set (Linux `clear_refs`, value 5).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Fails unless `read` (a reader's result) is the table's header and rows, cell for cell.
fn check_rows(
    format: &str,
    table: &Table,
    read: Result<Vec<Vec<String>>, ReadError>,
) -> anyhow::Result<()> {
    let read = read.with_context(|| format!("read_{format} refused the {format} written"))?;
    if read.len() != table.len() + 1 {
        bail!(
            "read_{format} returned {} rows, expected {} (the header and {} rows)",
            read.len(),
            table.len() + 1,
            table.len()
        );
    }
    let header = table.columns().iter().map(|c| c.name.as_str());
    if !read[0].iter().map(String::as_str).eq(header) {
        bail!("read_{format} returned the header {:?}", read[0]);
    }
    for (i, (got, row)) in read[1..].iter().zip(table.rows()).enumerate() {
        if got.len() != row.len() {
            bail!(
                "read_{format}: row {} has {} cells, expected {}",
                i + 1,
                got.len(),
                row.len()
            );
        }
        for (j, (text, cell)) in got.iter().zip(row).enumerate() {
            let expected = cell.display();
            if *text != expected {
                bail!(
                    "read_{format}: row {}, column {}: {text:?}, written {expected:?}",
                    i + 1,
                    table.columns()[j].name
                );
            }
        }
    }
    Ok(())
}

/// Pages of a PDF: `/Type /Page` not followed by `s` (`/Type /Pages` is the page tree).
fn count_pages(pdf: &[u8]) -> usize {
    const NEEDLE: &[u8] = b"/Type /Page";
    pdf.windows(NEEDLE.len())
        .enumerate()
        .filter(|(i, w)| *w == NEEDLE && pdf.get(i + NEEDLE.len()) != Some(&b's'))
        .count()
}

/// The synthetic daily table: `rows` transactions over one day, by creation time.
fn daily_table(rows: usize, seed: u64) -> anyhow::Result<Table> {
    let columns = COLUMNS
        .iter()
        .map(|&(name, integer)| {
            if integer {
                Column::integer(name)
            } else {
                Column::text(name)
            }
        })
        .collect();
    let mut table =
        Table::new("Transactions 2026-11-21", columns).with_subtitle("2026-11-21, Asia/Jakarta");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut created: Vec<i64> = (0..rows)
        .map(|_| DAY_START_MS + rng.random_range(0..DAY_MS))
        .collect();
    created.sort_unstable();
    for (n, created_at) in created.into_iter().enumerate() {
        table.push_row(synthetic_row(&mut rng, n + 1, created_at))?;
    }
    Ok(table)
}

/// One transaction: 55 % VAs, 30 % payments, 15 % bill payments, with the statuses and
/// the empty cells each kind has in the console's report.
fn synthetic_row(rng: &mut StdRng, n: usize, created_at: i64) -> Vec<Cell> {
    let amount = rng.random_range(20..10_000) * 500;
    let later = created_at + rng.random_range(5_000..6 * 3_600_000);
    let pick = rng.random_range(0..100);
    let (kind, prefix, provider, reference, status) = match pick {
        0..55 => (
            "virtual_account",
            "va",
            pick_one(rng, &["bni_modal", "bni_h2h"]),
            format!("INV-2026-{n:06}"),
            weighted(
                rng,
                &[
                    ("paid", 60),
                    ("active", 25),
                    ("expired", 12),
                    ("cancelled", 3),
                ],
            ),
        ),
        55..85 => (
            "payment",
            "pay",
            pick_one(rng, &["doku_main", "astrapay_main", "nicepay_main"]),
            format!("INV-2026-{n:06}"),
            weighted(
                rng,
                &[
                    ("paid", 65),
                    ("pending", 15),
                    ("expired", 12),
                    ("failed", 8),
                ],
            ),
        ),
        _ => (
            "bill_payment",
            "bill",
            "digiflazz_main",
            format!("PPOB-2026-{n:06}"),
            weighted(rng, &[("success", 85), ("pending", 5), ("failed", 10)]),
        ),
    };
    let done = matches!(status, "paid" | "success");
    let paid_amount = match kind {
        "virtual_account" => Some(if done { amount } else { 0 }),
        _ => done.then_some(amount),
    };
    let completed_at = (done || (kind == "bill_payment" && status == "failed")).then_some(later);
    let product = pick_one(rng, &["iki_modal", "toko_nusantara", "koperasi_maju"]);
    vec![
        kind.into(),
        ulid_like(rng, prefix, created_at).into(),
        product.into(),
        provider.into(),
        reference.into(),
        status.into(),
        Cell::Integer(amount),
        paid_amount.into(),
        rfc3339(created_at).into(),
        completed_at.map(rfc3339).into(),
    ]
}

fn pick_one<'a>(rng: &mut StdRng, choices: &[&'a str]) -> &'a str {
    choices[rng.random_range(0..choices.len())]
}

/// A choice by weight (the weights sum to 100).
fn weighted<'a>(rng: &mut StdRng, choices: &[(&'a str, u32)]) -> &'a str {
    let mut left = rng.random_range(0..100u32);
    for &(choice, weight) in choices {
        if left < weight {
            return choice;
        }
        left -= weight;
    }
    choices.last().map_or("", |c| c.0)
}

/// Crockford base 32, lower case, as the gateway's ids (`store::new_id`) are written.
const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// `{prefix}_` and 26 characters: the 48-bit creation time in ms, then 80 random bits.
fn ulid_like(rng: &mut StdRng, prefix: &str, ms: i64) -> String {
    let time = u128::from(u64::try_from(ms).unwrap_or(0) & 0xFFFF_FFFF_FFFF);
    let random = rng.random::<u128>() & ((1 << 80) - 1);
    let value = (time << 80) | random;
    let mut id = String::with_capacity(prefix.len() + 27);
    id.push_str(prefix);
    id.push('_');
    for i in (0..26).rev() {
        let digit = (value >> (5 * i)) & 31;
        id.push(char::from(CROCKFORD[digit as usize]));
    }
    id
}

/// Unix ms as RFC 3339 in UTC, as the console writes times.
fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The printed table's column heads.
const HEADER: &str = "    rows fmt    write ms  (median)   read ms  (median)        bytes  B/row  pages  wr peak  rd peak  wr proc  rd proc\n                                                                                 MiB      MiB      MiB      MiB";

/// Thousands separators for the printed table.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

fn peak(m: &Measured) -> String {
    m.peak_mib
        .map_or_else(|| "-".to_owned(), |p| format!("{p:.1}"))
}

/// One line per format of one size.
fn size_lines(s: &SizeResult) -> String {
    let mut lines = Vec::with_capacity(s.formats.len());
    for f in &s.formats {
        let pages = if f.format == Format::Pdf {
            grouped(s.pdf_pages)
        } else {
            "-".to_owned()
        };
        lines.push(format!(
            "{:>8} {:<5} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>12} {:>6.0} {:>6} {:>8} {:>8} {:>8.1} {:>8.1}",
            grouped(s.rows),
            f.format.name(),
            f.write.best_ms,
            f.write.median_ms,
            f.read.best_ms,
            f.read.median_ms,
            grouped(f.bytes),
            f.bytes_per_row,
            pages,
            peak(&f.write),
            peak(&f.read),
            f.write.process_peak_mib,
            f.read.process_peak_mib,
        ));
    }
    lines.join("\n")
}

impl ExportsReport {
    /// The human-readable summary.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "\nmachine: {} cores, {}, kernel {}",
            m.cores, m.cpu_model, m.kernel
        );
        let runs = self
            .sizes
            .first()
            .and_then(|s| s.formats.first())
            .map_or(0, |f| f.write.runs_ms.len());
        let _ = writeln!(
            out,
            "report exports: daily transactions, {} columns; best / median of {runs} runs; each operation in its own process; peak = VmHWM above VmRSS before the runs (table resident for writes, file for reads); process = whole VmHWM",
            COLUMNS.len()
        );
        let _ = writeln!(out, "{HEADER}");
        for s in &self.sizes {
            let _ = writeln!(out, "{}", size_lines(s));
        }
        for s in &self.sizes {
            for f in &s.formats {
                for (op, m) in [("write", &f.write), ("read", &f.read)] {
                    if let Some(other) = m.other_cores.filter(|c| *c > INTERFERENCE) {
                        let _ = writeln!(
                            out,
                            "WARNING: {} rows {op} {}: other processes used {:.2} cores during the runs; its figures are disturbed",
                            s.rows,
                            f.format.name(),
                            other
                        );
                    }
                }
            }
        }
        let _ = write!(out, "check: {}", self.check);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_the_console_daily_columns_and_realistic_values() {
        let table = daily_table(500, 7).expect("builds");
        let names: Vec<&str> = table.columns().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "kind",
                "id",
                "product",
                "provider",
                "reference",
                "status",
                "amount",
                "paid_amount",
                "created_at",
                "completed_at"
            ]
        );
        assert_eq!(table.len(), 500);
        let rows = table.display_rows();
        let mut kinds = std::collections::BTreeSet::new();
        for row in &rows[1..] {
            kinds.insert(row[0].clone());
            let (prefix, ulid) = row[1].split_once('_').expect("prefixed id");
            assert!(["va", "pay", "bill"].contains(&prefix), "{}", row[1]);
            assert_eq!(ulid.len(), 26);
            assert!(ulid.bytes().all(|b| CROCKFORD.contains(&b)));
            assert!(row[4].starts_with("INV-2026-") || row[4].starts_with("PPOB-2026-"));
            let amount: i64 = row[6].parse().expect("integer amount");
            assert!((10_000..=5_000_000).contains(&amount), "{amount}");
            assert!(
                row[8].starts_with("2026-11-2") && row[8].ends_with('Z'),
                "{}",
                row[8]
            );
        }
        assert_eq!(kinds.len(), 3);
        let created: Vec<&String> = rows[1..].iter().map(|r| &r[8]).collect();
        assert!(created.is_sorted_by(|a, b| rfc_ms(a) <= rfc_ms(b)));
    }

    fn rfc_ms(text: &str) -> i128 {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339")
            .unix_timestamp_nanos()
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let mut rng = StdRng::seed_from_u64(1);
        let early = ulid_like(&mut rng, "va", DAY_START_MS);
        let late = ulid_like(&mut rng, "va", DAY_START_MS + 1);
        assert!(early < late);
        assert_eq!(early.len(), 3 + 26);
        assert!(early.starts_with("va_01"), "{early}");
    }

    #[test]
    fn the_same_seed_gives_the_same_table() {
        assert_eq!(
            daily_table(50, 3).expect("builds"),
            daily_table(50, 3).expect("builds")
        );
        assert_ne!(
            daily_table(50, 3).expect("builds"),
            daily_table(50, 4).expect("builds")
        );
    }

    #[test]
    fn pages_are_counted_without_the_page_tree() {
        let pdf = b"<< /Type /Catalog >> << /Type /Pages /Count 2 >> << /Type /Page /Parent 2 0 R >> << /Type /Page >>";
        assert_eq!(count_pages(pdf), 2);
        let table = daily_table(200, 1).expect("builds");
        let written = ::exports::pdf(&table);
        let text = String::from_utf8_lossy(&written);
        let count = text
            .split("/Count ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse::<usize>().ok())
            .expect("page tree count");
        assert!(count > 1);
        assert_eq!(count_pages(&written), count);
    }

    #[test]
    fn every_reader_gives_back_the_table() {
        let table = daily_table(300, 5).expect("builds");
        check_rows("csv", &table, ::exports::read_csv(&::exports::csv(&table))).expect("csv");
        check_rows(
            "xlsx",
            &table,
            ::exports::read_xlsx(&::exports::xlsx(&table)),
        )
        .expect("xlsx");
        check_rows("pdf", &table, ::exports::read_pdf(&::exports::pdf(&table))).expect("pdf");
    }

    #[test]
    fn each_format_written_by_one_operation_is_read_back_by_another() {
        let dir = crate::db::temp_dir("exports-test").expect("temp dir");
        let command = ExportsCommand {
            rows: vec![40],
            repeat: 2,
            seed: 9,
            out: dir.join("unused.json"),
            op: None,
            format: None,
            file: None,
        };
        for format in Format::ALL {
            let file = dir.join(format.name());
            let written = write_op(40, &command, format, &file).expect("written");
            assert_eq!(written.measured.runs_ms.len(), 2);
            assert_eq!(
                written.bytes,
                std::fs::metadata(&file).expect("file").len() as usize
            );
            assert_eq!(written.pdf_pages.is_some(), format == Format::Pdf);
            let read = read_op(40, &command, format, &file).expect("read back");
            assert!(read.measured.best_ms <= read.measured.median_ms);
            let other_seed = ExportsCommand {
                seed: 10,
                ..command.clone()
            };
            let error = read_op(40, &other_seed, format, &file).expect_err("another table");
            assert!(
                error
                    .to_string()
                    .contains(&format!("read_{}", format.name())),
                "{error}"
            );
        }
        std::fs::remove_dir_all(dir).expect("removed");
    }

    #[test]
    fn a_wrong_read_back_fails_the_check() {
        let table = daily_table(10, 5).expect("builds");
        let good = table.display_rows();
        assert!(check_rows("csv", &table, Ok(good.clone())).is_ok());
        let short = good[..10].to_vec();
        let error = check_rows("csv", &table, Ok(short)).expect_err("a row missing");
        assert!(
            error.to_string().contains("10 rows, expected 11"),
            "{error}"
        );
        let mut changed = good.clone();
        changed[4][6] = "1".into();
        let error = check_rows("pdf", &table, Ok(changed)).expect_err("an amount changed");
        assert!(
            error.to_string().contains("row 4, column amount"),
            "{error}"
        );
        let mut header = good;
        header[0][0] = "type".into();
        assert!(check_rows("xlsx", &table, Ok(header)).is_err());
    }

    #[test]
    fn best_and_median_come_from_the_sorted_runs() {
        assert_eq!(best_and_median(&[30.0, 10.0, 20.0]), (10.0, 20.0));
        assert_eq!(best_and_median(&[4.0, 1.0, 3.0, 2.0]), (1.0, 2.5));
        assert_eq!(best_and_median(&[7.0]), (7.0, 7.0));
    }

    #[test]
    fn the_synthetic_day_starts_at_midnight_in_jakarta() {
        assert_eq!(rfc3339(DAY_START_MS), "2026-11-20T17:00:00Z");
    }
}
