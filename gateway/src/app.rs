//! Assembly: settings → database → registry → state → router and background workers.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Router;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::config::{ClientConfig, Settings};
use crate::registry::Registry;
use crate::store::{Db, DbOptions};

/// A product as the running gateway knows it.
#[derive(Debug)]
pub struct ClientRuntime {
    /// Request-signing secrets (one or two).
    pub secrets: Vec<Vec<u8>>,
    /// Its rate limiter.
    pub limiter: DefaultDirectRateLimiter,
    /// Its configuration.
    pub config: ClientConfig,
}

/// Shared state of the running gateway.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    settings: Settings,
    db: Db,
    registry: Registry,
    clients: HashMap<String, ClientRuntime>,
    wake_outbox: Notify,
    wake_confirm: Notify,
    vault: crate::vault::Vault,
    console_logins: crate::console::guard::LoginGuard,
    #[cfg(feature = "sandbox")]
    sandbox: Option<Arc<crate::sandbox::Sandbox>>,
}

impl AppState {
    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.0.db
    }

    /// The provider registry.
    pub fn registry(&self) -> &Registry {
        &self.0.registry
    }

    /// The console login form's per-address limit and hashing bound.
    pub fn console_logins(&self) -> &crate::console::guard::LoginGuard {
        &self.0.console_logins
    }

    /// The personal-data vault (e-signature identities).
    pub fn vault(&self) -> &crate::vault::Vault {
        &self.0.vault
    }

    /// The product `id`, if configured.
    pub fn client(&self, id: &str) -> Option<&ClientRuntime> {
        self.0.clients.get(id)
    }

    /// Every configured product.
    pub fn clients(&self) -> impl Iterator<Item = (&String, &ClientRuntime)> {
        self.0.clients.iter()
    }

    /// Wakes the dispatcher (new events were committed).
    pub fn wake_outbox(&self) {
        self.0.wake_outbox.notify_one();
    }

    /// Waits until woken or `timeout` passes.
    pub async fn outbox_woken(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.0.wake_outbox.notified()).await;
    }

    /// Wakes the callback confirmer (unconfirmed callbacks were stored).
    pub fn wake_confirm(&self) {
        self.0.wake_confirm.notify_one();
    }

    /// Waits until the confirmer is woken or `timeout` passes.
    pub async fn confirm_woken(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.0.wake_confirm.notified()).await;
    }

    /// The sandbox, when running as one.
    #[cfg(feature = "sandbox")]
    pub fn sandbox(&self) -> Option<Arc<crate::sandbox::Sandbox>> {
        self.0.sandbox.clone()
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A provider instance.
    #[error(transparent)]
    Registry(#[from] crate::registry::BuildError),
    /// A client.
    #[error("client {0}: {1}")]
    Client(String, String),
}

/// A built gateway: state, router and OpenAPI document.
pub struct App {
    /// Shared state.
    pub state: AppState,
    /// The HTTP router.
    pub router: Router,
    /// The OpenAPI document the router serves.
    pub openapi: utoipa::openapi::OpenApi,
}

impl App {
    /// Connects the database (running migrations), builds the registry and the router.
    pub async fn build(settings: Settings) -> Result<App, StartError> {
        let registry = Registry::build(&settings)?;
        Self::build_with(settings, registry, None).await
    }

    /// As [`App::build`], with a given registry and sandbox (tests, sandbox mode).
    pub async fn build_with(
        settings: Settings,
        registry: Registry,
        #[allow(unused_variables)] sandbox: Option<Arc<dyn std::any::Any + Send + Sync>>,
    ) -> Result<App, StartError> {
        let db = Db::connect(&DbOptions {
            url: settings.database.url.clone(),
            max_connections: settings.database.max_connections,
            max_batch: settings.database.max_batch,
        })
        .await?;
        crate::store::switches::load(&db, registry.switches()).await?;
        let clients = build_clients(&settings)?;
        #[cfg(feature = "sandbox")]
        let sandbox = sandbox.and_then(|s| s.downcast::<crate::sandbox::Sandbox>().ok());
        let vault = crate::vault::Vault::new(
            settings.esign.data_key.as_ref(),
            &settings.esign.previous_data_keys,
        );
        let console_logins = crate::console::guard::LoginGuard::new(&settings.console);
        let state = AppState(Arc::new(Inner {
            vault,
            console_logins,
            settings,
            db,
            registry,
            clients,
            wake_outbox: Notify::new(),
            wake_confirm: Notify::new(),
            #[cfg(feature = "sandbox")]
            sandbox,
        }));
        let (router, openapi) = crate::http::router(state.clone());
        Ok(App {
            state,
            router,
            openapi,
        })
    }

    /// Starts the background workers: dispatcher, scheduler, callback confirmer, batch jobs.
    pub fn spawn_workers(&self) -> Vec<JoinHandle<()>> {
        vec![
            tokio::spawn(crate::outbox::dispatcher::run(self.state.clone())),
            tokio::spawn(crate::scheduler::run(self.state.clone())),
            tokio::spawn(crate::service::callbacks::run_confirmer(self.state.clone())),
            tokio::spawn(crate::service::jobs::run(self.state.clone())),
        ]
    }

    /// Serves the operations console on `listener` until `shutdown` resolves.
    pub async fn serve_console(
        state: AppState,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = crate::console::router(state);
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn build_clients(settings: &Settings) -> Result<HashMap<String, ClientRuntime>, StartError> {
    let mut clients = HashMap::new();
    for (id, config) in &settings.clients {
        let per_second = NonZeroU32::new(config.rate_limit.per_second).ok_or_else(|| {
            StartError::Client(id.clone(), "rate_limit.per_second must be positive".into())
        })?;
        let burst = NonZeroU32::new(config.rate_limit.burst).ok_or_else(|| {
            StartError::Client(id.clone(), "rate_limit.burst must be positive".into())
        })?;
        let limiter = RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst));
        let secrets = config
            .secrets
            .iter()
            .map(|s| s.expose_secret().as_bytes().to_vec())
            .collect();
        clients.insert(
            id.clone(),
            ClientRuntime {
                secrets,
                limiter,
                config: config.clone(),
            },
        );
    }
    Ok(clients)
}
