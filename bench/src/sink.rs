//! The webhook sink: answers 200 to every request and counts them, so the gateway's
//! dispatcher delivers each event once during the run instead of retrying.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use tokio::net::TcpListener;

/// A running sink.
#[derive(Debug)]
pub struct Sink {
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
    received: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

async fn accept(State(received): State<Arc<AtomicU64>>) -> StatusCode {
    received.fetch_add(1, Ordering::Relaxed);
    StatusCode::OK
}

impl Sink {
    /// Serves on a free loopback port.
    pub async fn start() -> anyhow::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/", listener.local_addr()?);
        let received = Arc::new(AtomicU64::new(0));
        let router = Router::new().fallback(accept).with_state(received.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Sink {
            url,
            received,
            task,
        })
    }

    /// Requests received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
