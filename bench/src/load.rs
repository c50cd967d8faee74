//! The two load shapes: a closed loop (N connections, each sending its next request as soon
//! as the previous one is answered: the most the system takes) and an open loop (requests
//! sent on a fixed schedule whatever the answers do, latency measured from each request's
//! *scheduled* send time, so a stall shows up in the percentiles instead of silently
//! slowing the generator: no coordinated omission).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::workload::{Outcome, Work};

/// Latencies are recorded in microseconds, 1 µs to 5 min, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 300_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable_histogram()))
}

#[allow(clippy::unwrap_used)]
fn unreachable_histogram() -> Histogram<u64> {
    // Two significant digits with auto-resize always builds; never reached in practice.
    Histogram::new(2).unwrap()
}

/// What one phase measured.
#[derive(Debug)]
pub struct Measured {
    /// Latency of successful requests, µs (open loop: from the scheduled send time).
    pub latency: Histogram<u64>,
    /// Open loop only: from the actual send to the answer, µs.
    pub service: Option<Histogram<u64>>,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests by kind (`http_503`, `transport`, …).
    pub errors: BTreeMap<String, u64>,
    /// Wall time of the measured window.
    pub elapsed: Duration,
    /// Requests the schedule called for (open loop).
    pub offered: Option<u64>,
    /// Open loop: requests sent more than 1 ms after their scheduled time (generator lag).
    pub late_sends: u64,
    /// The workload ran out of items (callbacks: no unpaid VA left) before the end.
    pub exhausted: bool,
}

/// Percentiles of a histogram, in milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Percentiles {
                p50_ms: 0.0,
                p90_ms: 0.0,
                p99_ms: 0.0,
                p999_ms: 0.0,
                max_ms: 0.0,
                mean_ms: 0.0,
            };
        }
        Percentiles {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

#[derive(Debug)]
struct Tally {
    latency: Histogram<u64>,
    service: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
    late_sends: u64,
    exhausted: bool,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: histogram(),
            service: histogram(),
            ok: 0,
            errors: BTreeMap::new(),
            late_sends: 0,
            exhausted: false,
        }
    }

    fn record(&mut self, outcome: Outcome, latency: Duration) {
        match outcome {
            Outcome::Ok => {
                self.ok += 1;
                let _ = self.latency.record(micros(latency));
            }
            Outcome::Failed(kind) => *self.errors.entry(kind).or_default() += 1,
            Outcome::Exhausted => self.exhausted = true,
        }
    }

    fn merge(&mut self, other: Tally) {
        let _ = self.latency.add(&other.latency);
        let _ = self.service.add(&other.service);
        self.ok += other.ok;
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        self.late_sends += other.late_sends;
        self.exhausted |= other.exhausted;
    }
}

/// A latency as recorded: whole microseconds, at least 1.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// `connections` workers, each one request at a time, for `duration` (or until the work
/// runs out).
pub async fn closed_loop(work: Arc<Work>, connections: usize, duration: Duration) -> Measured {
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let work = work.clone();
            tokio::spawn(async move {
                let mut tally = Tally::new();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let outcome = work.execute().await;
                    let done = matches!(outcome, Outcome::Exhausted);
                    tally.record(outcome, sent.elapsed());
                    if done {
                        break;
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::new();
    for worker in workers {
        if let Ok(tally) = worker.await {
            total.merge(tally);
        }
    }
    Measured {
        latency: total.latency,
        service: None,
        ok: total.ok,
        errors: total.errors,
        elapsed: started.elapsed(),
        offered: None,
        late_sends: 0,
        exhausted: total.exhausted,
    }
}

/// Requests at `rate` per second for `duration`, at most `max_in_flight` outstanding (a
/// request waiting for a slot still counts its wait: latency runs from the schedule).
/// The schedule is kept by a dedicated thread (finer than tokio's 1 ms timer). Requests
/// not answered `drain` after the last scheduled send are abandoned and counted as
/// `unfinished` errors, so an overloaded gateway cannot stretch the run without bound.
pub async fn open_loop(
    work: Arc<Work>,
    rate: f64,
    duration: Duration,
    max_in_flight: usize,
    drain: Duration,
) -> Measured {
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let tally = Arc::new(Mutex::new(Tally::new()));
    let start = Instant::now() + Duration::from_millis(5);
    let runtime = tokio::runtime::Handle::current();
    let dispatch = {
        let tally = tally.clone();
        tokio::task::spawn_blocking(move || {
            let mut tasks = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
            for i in 0..total {
                let scheduled = start + interval.mul_f64(i as f64);
                let now = Instant::now();
                if scheduled > now {
                    std::thread::sleep(scheduled - now);
                }
                let (work, slots, tally) = (work.clone(), slots.clone(), tally.clone());
                tasks.push(runtime.spawn(send_scheduled(work, slots, tally, scheduled)));
            }
            tasks
        })
    };
    let tasks = dispatch.await.unwrap_or_default();
    let deadline = tokio::time::Instant::now() + drain;
    let mut unfinished = 0u64;
    for mut task in tasks {
        if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
            task.abort();
            unfinished += 1;
        }
    }
    let elapsed = start.elapsed();
    let mut tally = std::mem::replace(
        &mut *tally.lock().unwrap_or_else(|p| p.into_inner()),
        Tally::new(),
    );
    if unfinished > 0 {
        tally.errors.insert("unfinished".to_owned(), unfinished);
    }
    Measured {
        latency: tally.latency,
        service: Some(tally.service),
        ok: tally.ok,
        errors: tally.errors,
        elapsed,
        offered: Some(total),
        late_sends: tally.late_sends,
        exhausted: tally.exhausted,
    }
}

async fn send_scheduled(
    work: Arc<Work>,
    slots: Arc<Semaphore>,
    tally: Arc<Mutex<Tally>>,
    scheduled: Instant,
) {
    let Ok(_slot) = slots.acquire_owned().await else {
        return;
    };
    let sent = Instant::now();
    let outcome = work.execute_scheduled(scheduled).await;
    let done = Instant::now();
    let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
    if sent.duration_since(scheduled) > Duration::from_millis(1) {
        t.late_sends += 1;
    }
    if matches!(outcome, Outcome::Ok) {
        let _ = t.service.record(micros(done - sent));
    }
    t.record(outcome, done - scheduled);
}
