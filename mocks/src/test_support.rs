//! Helpers for the unit tests: a request runner and a callback catcher.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::routing::post;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::server::{self, Running};

/// Sends one POST through `router` and returns the status and the body as JSON
/// (`Value::String` of the raw text when it is not JSON).
pub(crate) async fn post_json(
    router: Router,
    path: &str,
    content_type: Option<&str>,
    body: String,
) -> (StatusCode, Value) {
    let mut request = Request::post(path);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let request = request.body(Body::from(body)).expect("request");
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// One request a [`Catcher`] got.
#[derive(Clone, Debug)]
pub(crate) struct Caught {
    pub(crate) content_type: String,
    pub(crate) user_agent: String,
    pub(crate) body: String,
}

/// A tiny merchant endpoint that records what it is sent and answers a fixed body.
#[derive(Clone)]
pub(crate) struct Catcher {
    caught: Arc<Mutex<Vec<Caught>>>,
    answer: &'static str,
}

impl Catcher {
    /// Serves on a free loopback port; returns the catcher, its URL and the server guard.
    pub(crate) async fn spawn(answer: &'static str) -> (Self, String, Running) {
        let catcher = Self {
            caught: Arc::default(),
            answer,
        };
        let router = Router::new()
            .route("/callback", post(catch))
            .with_state(catcher.clone());
        let running = server::spawn(router, server::any_local_port())
            .await
            .expect("bind");
        let url = format!("{}/callback", running.base_url);
        (catcher, url, running)
    }

    pub(crate) fn caught(&self) -> Vec<Caught> {
        self.caught.lock().expect("lock").clone()
    }
}

async fn catch(
    State(catcher): State<Catcher>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let text = |name| {
        let value = headers.get(name).and_then(|v| v.to_str().ok());
        value.unwrap_or_default().to_owned()
    };
    let caught = Caught {
        content_type: text(header::CONTENT_TYPE),
        user_agent: text(header::USER_AGENT),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    catcher.caught.lock().expect("lock").push(caught);
    (StatusCode::OK, catcher.answer)
}
