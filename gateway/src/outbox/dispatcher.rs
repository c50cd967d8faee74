//! The dispatcher: claims due events with a lease (so a crashed gateway's in-flight events
//! are retried once the lease lapses, and several instances never send one event at once),
//! POSTs them to the owning product, records every attempt, and schedules retries on the
//! configured ladder with jitter, a floor after timeouts and 429s, and `Retry-After`
//! honoured. Redirects are not followed. After the last retry the event is dead-lettered
//! and can be redelivered on request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;

use super::signing;
use crate::app::AppState;
use crate::config::OutboxSettings;
use crate::metrics;
use crate::store::events::{self, After, Attempt, EventRow};
use crate::store::{StoreError, now_ms};

/// Runs until the process ends.
pub async fn run(state: AppState) {
    let settings = state.settings().outbox.clone();
    let http = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(settings.attempt_timeout_ms))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "dispatcher cannot build its HTTP client");
            return;
        }
    };
    let permits = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut last_gauge = Instant::now() - Duration::from_secs(60);
    loop {
        if last_gauge.elapsed() > Duration::from_secs(5) {
            update_gauges(&state).await;
            last_gauge = Instant::now();
        }
        let claimed = match claim(&state, &settings).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "dispatcher cannot claim events");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            state
                .outbox_woken(Duration::from_millis(settings.poll_interval_ms))
                .await;
            // Let the wake-ups of a burst of commits coalesce into one claim.
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        for event in claimed {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let (state, http, settings) = (state.clone(), http.clone(), settings.clone());
            tokio::spawn(async move {
                deliver(&state, &http, &settings, event).await;
                drop(permit);
            });
        }
    }
}

async fn claim(state: &AppState, settings: &OutboxSettings) -> Result<Vec<EventRow>, StoreError> {
    let backend = state.db().backend();
    let lease = settings.attempt_timeout_ms as i64 + 30_000;
    let batch = settings.batch;
    state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                let now = now_ms();
                events::claim_due(conn, backend, now, now + lease, batch).await
            })
        })
        .await
}

async fn update_gauges(state: &AppState) {
    if let Ok((n, age_ms)) = events::backlog(state.db(), now_ms()).await {
        metrics::global().outbox_backlog.set(n);
        metrics::global().outbox_oldest_age.set(age_ms / 1000);
    }
}

/// How one attempt ended.
#[derive(Debug)]
struct Outcome {
    status: Option<u16>,
    error: Option<String>,
    retry_after: Option<f64>,
    overload: bool,
}

async fn deliver(
    state: &AppState,
    http: &reqwest::Client,
    settings: &OutboxSettings,
    event: EventRow,
) {
    let client = state.client(&event.client_id);
    let url = client.and_then(|c| c.config.webhook_url.clone());
    let attempt_no = event.attempts + 1;
    let started_at = now_ms();
    let started = Instant::now();
    let outcome = match (&url, client) {
        (Some(url), Some(client)) => {
            let keys: Vec<Vec<u8>> = client
                .config
                .webhook_secrets
                .iter()
                .filter_map(|s| signing::decode_secret(s.expose_secret()))
                .collect();
            post(http, url.as_str(), &keys, &event).await
        }
        _ => Outcome {
            status: None,
            error: Some("no webhook_url configured".into()),
            retry_after: None,
            overload: false,
        },
    };
    let delivered = outcome.status.is_some_and(|s| (200..300).contains(&s));
    let after = if delivered {
        After::Delivered
    } else if url.is_none() || attempt_no > settings.retry_schedule_secs.len() as i64 {
        After::DeadLetter
    } else {
        After::RetryAt(now_ms() + next_delay_ms(settings, attempt_no, &outcome))
    };
    let label = match after {
        After::Delivered => "delivered",
        After::RetryAt(_) => "retry",
        After::DeadLetter => "dead_letter",
    };
    metrics::global()
        .deliveries
        .get_or_create(&vec![("outcome", label.to_owned())])
        .inc();
    let attempt = Attempt {
        event_id: event.id.clone(),
        client_id: event.client_id.clone(),
        attempt: attempt_no,
        started_at,
        duration_ms: started.elapsed().as_millis() as i64,
        status_code: outcome.status.map(i64::from),
        error: outcome.error,
        url: url.map(|u| u.to_string()).unwrap_or_default(),
    };
    let recorded = state
        .db()
        .write(move |conn| {
            Box::pin(async move { events::record_attempt(conn, &attempt, after, now_ms()).await })
        })
        .await;
    if let Err(e) = recorded {
        // The lease lapses and the event is sent again: at-least-once, same webhook-id.
        tracing::error!(event = %event.id, error = %e, "delivery attempt not recorded");
    }
}

async fn post(http: &reqwest::Client, url: &str, keys: &[Vec<u8>], event: &EventRow) -> Outcome {
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature = signing::signature_header(keys, &event.id, timestamp, event.body.as_bytes());
    let sent = http
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "integration-gateway/1")
        .header("webhook-id", &event.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(event.body.clone())
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok());
            let error = (!(200..300).contains(&status)).then(|| format!("HTTP {status}"));
            Outcome {
                status: Some(status),
                error,
                retry_after,
                overload: status == 429,
            }
        }
        Err(e) => Outcome {
            status: None,
            error: Some(if e.is_timeout() {
                "timeout".to_owned()
            } else if e.is_connect() {
                "connection failed".to_owned()
            } else {
                "request failed".to_owned()
            }),
            retry_after: None,
            overload: e.is_timeout(),
        },
    }
}

/// The delay before attempt `attempt_no + 1`: the ladder's step with ±jitter, at least the
/// overload floor after a timeout or 429, at least `Retry-After`.
fn next_delay_ms(settings: &OutboxSettings, attempt_no: i64, outcome: &Outcome) -> i64 {
    let index = (attempt_no - 1).clamp(0, settings.retry_schedule_secs.len() as i64 - 1) as usize;
    let base = settings
        .retry_schedule_secs
        .get(index)
        .copied()
        .unwrap_or(0.0);
    let factor = if settings.jitter > 0.0 {
        rand::rng().random_range((1.0 - settings.jitter)..=(1.0 + settings.jitter))
    } else {
        1.0
    };
    let mut delay = base * factor;
    if outcome.overload {
        delay = delay.max(settings.overload_floor_secs);
    }
    if let Some(retry_after) = outcome.retry_after {
        delay = delay.max(retry_after);
    }
    (delay * 1000.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(overload: bool, retry_after: Option<f64>) -> Outcome {
        Outcome {
            status: Some(500),
            error: None,
            retry_after,
            overload,
        }
    }

    #[test]
    fn delays_follow_the_ladder_within_jitter() {
        let settings = OutboxSettings::default();
        for (attempt, base) in [(1, 5.0_f64), (2, 300.0), (3, 1800.0), (7, 36000.0)] {
            for _ in 0..200 {
                let d = next_delay_ms(&settings, attempt, &outcome(false, None)) as f64 / 1000.0;
                assert!(
                    d >= base.mul_add(0.8, -0.001) && d <= base.mul_add(1.2, 0.001),
                    "attempt {attempt}: {d}"
                );
            }
        }
    }

    #[test]
    fn timeouts_wait_at_least_the_floor_and_retry_after_is_honoured() {
        let settings = OutboxSettings::default();
        assert!(next_delay_ms(&settings, 1, &outcome(true, None)) >= 60_000);
        assert!(next_delay_ms(&settings, 1, &outcome(false, Some(120.0))) >= 120_000);
    }
}
