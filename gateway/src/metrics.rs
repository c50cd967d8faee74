//! Prometheus metrics: per provider instance and operation (latency histogram, outcome
//! counts), callbacks, HTTP requests, outbox backlog and age, group-commit batch sizes,
//! billers' deposit balances.

use std::sync::OnceLock;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// Every metric the gateway exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Provider calls by instance, operation and outcome.
    pub provider_calls: Family<Labels, Counter>,
    /// Provider call latency by instance and operation.
    pub provider_latency: Family<Labels, Histogram>,
    /// Callbacks by instance and outcome.
    pub callbacks: Family<Labels, Counter>,
    /// HTTP requests by route, method and status.
    pub http_requests: Family<Labels, Counter>,
    /// HTTP latency by route.
    pub http_latency: Family<Labels, Histogram>,
    /// Event deliveries by outcome.
    pub deliveries: Family<Labels, Counter>,
    /// Events waiting for delivery.
    pub outbox_backlog: Gauge,
    /// Age of the oldest waiting event, seconds.
    pub outbox_oldest_age: Gauge,
    /// Writes per SQLite group commit.
    pub db_batch_size: Histogram,
    /// Our deposit at each biller instance, whole rupiah.
    pub biller_balance: Family<Labels, Gauge>,
    /// 1 while a biller instance's deposit is below its low-balance threshold.
    pub biller_balance_low: Family<Labels, Gauge>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("gateway");
        let m = Metrics {
            provider_calls: Family::default(),
            provider_latency: Family::new_with_constructor(latency_histogram),
            callbacks: Family::default(),
            http_requests: Family::default(),
            http_latency: Family::new_with_constructor(latency_histogram),
            deliveries: Family::default(),
            outbox_backlog: Gauge::default(),
            outbox_oldest_age: Gauge::default(),
            db_batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            biller_balance: Family::default(),
            biller_balance_low: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "provider_calls",
            "Provider calls by instance, operation and outcome",
            m.provider_calls.clone(),
        );
        registry.register(
            "provider_call_duration_seconds",
            "Provider call latency",
            m.provider_latency.clone(),
        );
        registry.register(
            "biller_balance",
            "Our deposit at each biller instance, rupiah",
            m.biller_balance.clone(),
        );
        registry.register(
            "biller_balance_low",
            "1 while a biller's deposit is below its low-balance threshold",
            m.biller_balance_low.clone(),
        );
        registry.register(
            "callbacks",
            "Provider callbacks by instance and outcome",
            m.callbacks.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            m.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            m.http_latency.clone(),
        );
        registry.register(
            "event_deliveries",
            "Event delivery attempts by outcome",
            m.deliveries.clone(),
        );
        registry.register(
            "outbox_backlog",
            "Events waiting for delivery",
            m.outbox_backlog.clone(),
        );
        registry.register(
            "outbox_oldest_age_seconds",
            "Age of the oldest waiting event",
            m.outbox_oldest_age.clone(),
        );
        registry.register(
            "db_group_commit_size",
            "Writes per SQLite group commit",
            m.db_batch_size.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}
