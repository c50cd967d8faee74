//! The gateway's own view, from `GET /metrics` before and after a phase: SQLite
//! group-commit batch sizes, server-side request latency per route, provider call latency,
//! event deliveries.

use std::collections::BTreeMap;

use serde::Serialize;

/// One scrape: `name{labels}` → value.
#[derive(Clone, Debug, Default)]
pub struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    /// Fetches and parses `/metrics` (empty on any failure).
    pub async fn fetch(http: &reqwest::Client, base_url: &str) -> Scrape {
        let text = match http.get(format!("{base_url}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        Scrape::parse(&text)
    }

    fn parse(text: &str) -> Scrape {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let (key, value) = l.rsplit_once(' ')?;
                Some((key.to_owned(), value.parse().ok()?))
            })
            .collect();
        Scrape(samples)
    }

    /// Sum of the samples named `name` whose labels contain every one of `labels`.
    fn sum(&self, name: &str, labels: &[&str]) -> f64 {
        self.0
            .iter()
            .filter(|(key, _)| {
                let (n, rest) = key.split_once('{').unwrap_or((key.as_str(), ""));
                n == name && labels.iter().all(|l| rest.contains(l))
            })
            .map(|(_, v)| v)
            .sum()
    }
}

/// What the gateway saw during one phase.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GatewayView {
    /// SQLite group commits during the phase and mean writes per commit.
    pub group_commits: f64,
    pub mean_group_commit_size: Option<f64>,
    /// Requests the gateway answered on the phase's route, and their mean latency as the
    /// gateway measured it (inside the server, after parsing).
    pub server_requests: f64,
    pub server_mean_ms: Option<f64>,
    /// Provider calls (VA creation against the simulator) and their mean latency.
    pub provider_calls: f64,
    pub provider_mean_ms: Option<f64>,
    /// Webhook deliveries that succeeded.
    pub deliveries_ok: f64,
}

fn mean(sum: f64, count: f64) -> Option<f64> {
    (count > 0.0).then(|| sum / count)
}

impl GatewayView {
    /// The difference between two scrapes, for requests on `route`.
    pub fn between(before: &Scrape, after: &Scrape, route: &str) -> GatewayView {
        let delta =
            |name: &str, labels: &[&str]| after.sum(name, labels) - before.sum(name, labels);
        let route_label = format!("route=\"{route}\"");
        let commits = delta("gateway_db_group_commit_size_count", &[]);
        let requests = delta(
            "gateway_http_request_duration_seconds_count",
            &[&route_label],
        );
        let provider = delta(
            "gateway_provider_call_duration_seconds_count",
            &["va.create"],
        );
        GatewayView {
            group_commits: commits,
            mean_group_commit_size: mean(delta("gateway_db_group_commit_size_sum", &[]), commits),
            server_requests: requests,
            server_mean_ms: mean(
                delta("gateway_http_request_duration_seconds_sum", &[&route_label]) * 1000.0,
                requests,
            ),
            provider_calls: provider,
            provider_mean_ms: mean(
                delta("gateway_provider_call_duration_seconds_sum", &["va.create"]) * 1000.0,
                provider,
            ),
            deliveries_ok: delta("gateway_event_deliveries_total", &["delivered"]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_samples_by_name_and_labels() {
        let s = Scrape::parse(
            "# HELP x\ngateway_db_group_commit_size_sum 30.0\ngateway_db_group_commit_size_count 3\n\
             gateway_http_request_duration_seconds_sum{route=\"/a\"} 0.5\n\
             gateway_http_request_duration_seconds_count{route=\"/a\"} 5\n\
             gateway_http_request_duration_seconds_count{route=\"/b\"} 7\n",
        );
        let v = GatewayView::between(&Scrape::default(), &s, "/a");
        assert_eq!(v.group_commits, 3.0);
        assert_eq!(v.mean_group_commit_size, Some(10.0));
        assert_eq!(v.server_requests, 5.0);
        assert_eq!(v.server_mean_ms, Some(100.0));
    }
}
