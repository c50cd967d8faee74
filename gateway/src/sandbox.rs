//! `gateway sandbox`: the gateway on SQLite with every provider simulated in-process, two
//! demo clients, and `/sandbox/...` endpoints that drive the simulators (pay a VA, complete
//! or fail a payment, decide a signer, sign a document, settle a bill, set a biller's
//! deposit, inject a fault). These paths exist only here.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mocks::astrapay::{AstraPayConfig, AstraPaySimulator};
use mocks::bni::{BniConfig, BniSimulator};
use mocks::bni_snap::{BniSnapConfig, BniSnapNotify, BniSnapSimulator};
use mocks::digiflazz::{DigiflazzConfig, DigiflazzSimulator};
use mocks::doku::{DokuConfig, DokuSimulator};
use mocks::nicepay::{NicepayConfig, NicepaySimulator};
use mocks::privyid::{Handler, PrivyIdConfig, PrivyIdSimulator, Schedule};
use mocks::webhook_receiver::WebhookReceiver;
use mocks::whatsapp::{WhatsAppConfig, WhatsAppSimulator};
use mocks::{CallbackOptions, FaultRule, Running};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::app::{App, AppState};
use crate::config::{ProviderConfig, Settings};
use crate::http::ApiError;
use crate::registry::{Registry, callback_url};
use crate::store::bills as bill_store;
use crate::store::esign as esign_store;
use crate::store::messages as message_store;
use crate::store::payments as payment_store;
use crate::store::va;

/// The embedded sandbox profile.
pub const PROFILE: &str = include_str!("../../config/sandbox.toml");

/// `gateway sandbox` options.
#[derive(clap::Args, Debug, Clone)]
pub struct SandboxArgs {
    /// Where the gateway listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Also run a webhook receiver that prints every event it gets (demo's webhook_url).
    #[arg(long)]
    pub webhook_echo: bool,
    /// Where the webhook receiver listens.
    #[arg(long, default_value = "127.0.0.1:8089")]
    pub echo_listen: SocketAddr,
    /// Database URL (default: a SQLite file under data/).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Where the operations console listens.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub console_listen: SocketAddr,
    /// Event delivery retries, seconds between attempts, comma-separated (default: the
    /// profile's 2,5,15,30,60,120,300). A short ladder dead-letters an undeliverable event
    /// quickly, to try replay.
    #[arg(long, value_delimiter = ',')]
    pub retry_schedule_secs: Option<Vec<f64>>,
}

/// The sandbox's operators: (username, password, role, WhatsApp number).
pub const DEMO_OPERATORS: [(&str, &str, &str, &str); 2] = [
    (
        "ops-admin",
        "sandbox-admin-password",
        "admin",
        "+6281100000001",
    ),
    (
        "ops-staff",
        "sandbox-staff-password",
        "staff",
        "+6281100000002",
    ),
];

/// Creates the sandbox's operators where they do not exist yet.
async fn ensure_demo_operators(state: &AppState) -> anyhow::Result<()> {
    use crate::console::accounts::{self, AccountError, Role};
    for (username, password, role, phone) in DEMO_OPERATORS {
        let role = Role::parse(role).unwrap_or(Role::Staff);
        let mut conn = state.db().pool().acquire().await?;
        match accounts::create(&mut conn, username, password, role, phone).await {
            Ok(_) | Err(AccountError::Exists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A running simulator, by provider kind.
#[derive(Clone, Debug)]
pub enum Simulator {
    /// BNI eCollection.
    Bni(BniSimulator),
    /// BNI SNAP virtual accounts (bank-held or host-to-host).
    BniSnap(BniSnapSimulator),
    /// NICEPAY V2.
    Nicepay(NicepaySimulator),
    /// DOKU: SNAP VAs and Checkout.
    Doku(DokuSimulator),
    /// AstraPay: direct debit and QRIS.
    AstraPay(AstraPaySimulator),
    /// WhatsApp Cloud API.
    WhatsApp(WhatsAppSimulator),
    /// PrivyID e-signature.
    PrivyId(PrivyIdSimulator),
    /// Digiflazz PPOB.
    Digiflazz(DigiflazzSimulator),
}

impl Simulator {
    fn kind(&self) -> &'static str {
        match self {
            Simulator::Bni(_) => "bni",
            Simulator::BniSnap(_) => "bni_snap",
            Simulator::Nicepay(_) => "nicepay",
            Simulator::Doku(_) => "doku",
            Simulator::AstraPay(_) => "astrapay",
            Simulator::WhatsApp(_) => "whatsapp",
            Simulator::PrivyId(_) => "privyid",
            Simulator::Digiflazz(_) => "digiflazz",
        }
    }

    fn faults(&self) -> mocks::Faults {
        match self {
            Simulator::Bni(sim) => sim.faults(),
            Simulator::BniSnap(sim) => sim.faults(),
            Simulator::Nicepay(sim) => sim.faults(),
            Simulator::Doku(sim) => sim.faults(),
            Simulator::AstraPay(sim) => sim.faults(),
            Simulator::WhatsApp(sim) => sim.faults(),
            Simulator::PrivyId(sim) => sim.faults(),
            Simulator::Digiflazz(sim) => sim.faults(),
        }
    }
}

/// The sandbox's simulators, by provider instance.
#[derive(Debug)]
pub struct Sandbox {
    simulators: BTreeMap<String, (Simulator, String)>,
}

impl Sandbox {
    /// The simulator behind `instance`.
    pub fn simulator(&self, instance: &str) -> Option<&Simulator> {
        self.simulators.get(instance).map(|(s, _)| s)
    }
}

/// A running sandbox.
#[derive(Debug)]
pub struct Started {
    /// The gateway.
    pub app: App,
    /// The simulators.
    pub sandbox: Arc<Sandbox>,
    /// The gateway's listener, already bound.
    pub listener: TcpListener,
    /// The gateway's base URL.
    pub base_url: String,
    /// Servers kept alive for the sandbox's lifetime.
    pub servers: Vec<Running>,
    /// The webhook receiver, when started.
    pub receiver: Option<(WebhookReceiver, String)>,
}

/// Starts simulators and builds the gateway around them. `settings` is the sandbox
/// profile (possibly adjusted by the caller).
pub async fn start(
    mut settings: Settings,
    listen: SocketAddr,
    echo: Option<SocketAddr>,
) -> anyhow::Result<Started> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    settings.server.listen = addr;
    settings.server.public_url = url::Url::parse(&base_url)?;
    let mut simulators = BTreeMap::new();
    let mut servers = Vec::new();
    for (name, provider) in settings.providers.iter_mut() {
        let (simulator, running) = start_simulator(provider).await?;
        set_base_url(provider, &running.base_url)?;
        simulators.insert(name.clone(), (simulator, running.base_url.clone()));
        servers.push(running);
    }
    for (name, (simulator, _)) in &simulators {
        let root = callback_url(&settings, name)
            .map_err(anyhow::Error::msg)?
            .to_string();
        connect_simulator(simulator, &root, settings.providers.get(name));
    }
    let receiver = match echo {
        Some(at) => Some(start_receiver(&mut settings, at).await?),
        None => None,
    };
    let sandbox = Arc::new(Sandbox { simulators });
    let registry = Registry::build(&settings)?;
    let app = App::build_with(settings, registry, Some(sandbox.clone())).await?;
    let receiver = receiver.map(|(r, running)| {
        let url = running.base_url.clone();
        servers.push(running);
        (r, url)
    });
    Ok(Started {
        app,
        sandbox,
        listener,
        base_url,
        servers,
        receiver,
    })
}

/// Tells a simulator where the gateway takes its callbacks (`root` is the instance's
/// callback URL; SNAP endpoints are below it; PrivyID posts to the secret token below it).
fn connect_simulator(simulator: &Simulator, root: &str, provider: Option<&ProviderConfig>) {
    match simulator {
        Simulator::Bni(sim) => sim.set_callback_url(root),
        Simulator::BniSnap(sim) => sim.set_urls(
            format!("{root}/v1.0/access-token/b2b"),
            format!("{root}/v1.0/transfer-va/inquiry"),
            format!("{root}/v1.0/transfer-va/payment"),
        ),
        Simulator::Nicepay(_) => {}
        Simulator::Doku(sim) => sim.set_urls(
            &format!("{root}/authorization/v1/access-token/b2b"),
            &format!("{root}/v1.0/transfer-va/payment"),
            root,
        ),
        Simulator::AstraPay(sim) => sim.set_urls(
            &format!("{root}/v1.0/access-token/b2b"),
            &format!("{root}/v1.0/debit/notify"),
            &format!("{root}/v1.0/qr/qr-mpm-notify"),
        ),
        Simulator::WhatsApp(sim) => sim.set_webhook_url(root),
        Simulator::PrivyId(sim) => {
            if let Some(ProviderConfig::Privyid(c)) = provider {
                sim.set_callback_url(&format!("{root}/{}", c.callback_token.expose_secret()));
            }
        }
        Simulator::Digiflazz(sim) => sim.set_webhook_url(root),
    }
}

fn secret(s: Option<&secrecy::SecretString>) -> String {
    s.map(|s| s.expose_secret().to_owned()).unwrap_or_default()
}

async fn start_simulator(provider: &ProviderConfig) -> anyhow::Result<(Simulator, Running)> {
    let any = mocks::server::any_local_port();
    match provider {
        ProviderConfig::Bni(c) if c.protocol == adapter_bni::Protocol::Snap => {
            let notify_key = c.notify_client_key.clone().unwrap_or_default();
            let notify = match c.notify_auth {
                Some(adapter_snap::NotifyAuth::Asymmetric) => {
                    BniSnapNotify::asymmetric(&notify_key)
                }
                _ => {
                    BniSnapNotify::symmetric(&notify_key, &secret(c.notify_client_secret.as_ref()))
                }
            };
            let mut config = BniSnapConfig::new(
                c.client_key.as_deref().unwrap_or_default(),
                c.partner_id.as_deref().unwrap_or_default(),
                &secret(c.client_secret.as_ref()),
                notify,
            );
            if let Some(channel) = &c.channel_id {
                config.channel_id = Some(channel.clone());
            }
            if let Some(path) = &c.token_path {
                config.token_path = path.clone();
            }
            if let Some(prefix) = &c.service_prefix {
                config.service_prefix = prefix.clone();
            }
            let sim = BniSnapSimulator::new(config);
            let running = sim.spawn(any).await?;
            Ok((Simulator::BniSnap(sim), running))
        }
        ProviderConfig::Bni(c) => {
            let mut config = BniConfig::new(&c.client_id, c.secret_key.expose_secret());
            config.prefix = c.prefix.clone();
            let sim = BniSimulator::new(config);
            let running = sim.spawn(any).await?;
            Ok((Simulator::Bni(sim), running))
        }
        ProviderConfig::Nicepay(c) => {
            let sim =
                NicepaySimulator::new(NicepayConfig::new(&c.imid, c.merchant_key.expose_secret()));
            let running = sim.spawn(any).await?;
            Ok((Simulator::Nicepay(sim), running))
        }
        ProviderConfig::Doku(c) => {
            let sim =
                DokuSimulator::new(DokuConfig::new(&c.client_id, c.secret_key.expose_secret()));
            let running = sim.spawn(any).await?;
            Ok((Simulator::Doku(sim), running))
        }
        ProviderConfig::Astrapay(c) => {
            let mut config = AstraPayConfig::new(
                &c.client_id,
                c.client_secret.expose_secret(),
                &c.notify_client_key,
                c.notify_client_secret.expose_secret(),
            );
            config.merchant_id = c.merchant_id.clone();
            if let (Some(merchant), Some(terminal)) = (&c.qris_merchant_id, &c.qris_terminal_id) {
                config.qris_merchant_id = merchant.clone();
                config.qris_terminal_id = terminal.clone();
            }
            let sim = AstraPaySimulator::new(config);
            let running = sim.spawn(any).await?;
            Ok((Simulator::AstraPay(sim), running))
        }
        ProviderConfig::Whatsapp(c) => {
            let sim = WhatsAppSimulator::new(WhatsAppConfig::new(
                c.access_token.expose_secret(),
                &c.phone_number_id,
                c.app_secret.expose_secret(),
            ));
            let running = sim.spawn(any).await?;
            Ok((Simulator::WhatsApp(sim), running))
        }
        ProviderConfig::Privyid(c) => {
            let adapter_privyid::AuthConfig::Basic { username, password } = &c.auth else {
                anyhow::bail!("the sandbox simulates PrivyID with basic authentication only");
            };
            let mut config = PrivyIdConfig::new(
                username,
                password.expose_secret(),
                c.merchant_key.expose_secret(),
                &c.merchant_privy_id,
                c.enterprise_token.expose_secret(),
            );
            // Signers are decided and documents signed a few seconds after they arrive
            // (e-mail `+invalid` / `+rejected` and titles with `[reject]` pick the other
            // outcomes); the /sandbox/esign endpoints decide sooner.
            config.schedule =
                Schedule::After(std::time::Duration::from_secs(SCRIPTED_DECISION_SECS));
            let sim = PrivyIdSimulator::new(config);
            let running = sim.spawn(any).await?;
            Ok((Simulator::PrivyId(sim), running))
        }
        ProviderConfig::Digiflazz(c) => {
            let sim = DigiflazzSimulator::new(DigiflazzConfig::new(
                &c.username,
                c.api_key.expose_secret(),
                c.webhook_secret.expose_secret(),
            ));
            let running = sim.spawn(any).await?;
            Ok((Simulator::Digiflazz(sim), running))
        }
    }
}

/// How long the simulated PrivyID takes to decide a registration or have a document signed.
const SCRIPTED_DECISION_SECS: u64 = 20;

fn set_base_url(provider: &mut ProviderConfig, base: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(base)?;
    match provider {
        ProviderConfig::Bni(c) => c.base_url = url,
        ProviderConfig::Nicepay(c) => c.base_url = url,
        ProviderConfig::Doku(c) => c.base_url = url,
        ProviderConfig::Astrapay(c) => c.base_url = url,
        ProviderConfig::Whatsapp(c) => c.base_url = url,
        ProviderConfig::Privyid(c) => c.base_url = url,
        ProviderConfig::Digiflazz(c) => c.base_url = url,
    }
    Ok(())
}

async fn start_receiver(
    settings: &mut Settings,
    at: SocketAddr,
) -> anyhow::Result<(WebhookReceiver, Running)> {
    let secrets: Vec<String> = settings
        .clients
        .values()
        .flat_map(|c| {
            c.webhook_secrets
                .iter()
                .map(|s| s.expose_secret().to_owned())
        })
        .collect();
    let receiver = WebhookReceiver::try_new(secrets)?.with_echo(true);
    let running = receiver.spawn(at).await?;
    for (id, client) in settings.clients.iter_mut() {
        let path = if id == "demo" {
            String::new()
        } else {
            id.clone()
        };
        client.webhook_url = Some(url::Url::parse(&format!("{}/{path}", running.base_url))?);
    }
    Ok((receiver, running))
}

/// `gateway sandbox`: start everything, print how to use it, serve until stopped.
pub async fn run(args: SandboxArgs, extra_config: &[PathBuf]) -> anyhow::Result<()> {
    let mut settings = Settings::from_toml(PROFILE)?;
    if !extra_config.is_empty() {
        tracing::warn!("--config is ignored by the sandbox; it runs the embedded profile");
    }
    if let Some(url) = args.database_url {
        settings.database.url = url;
    }
    if let Some(schedule) = args.retry_schedule_secs {
        settings.outbox.retry_schedule_secs = schedule;
    }
    let echo = args.webhook_echo.then_some(args.echo_listen);
    let started = start(settings, args.listen, echo).await?;
    print_banner(&started);
    ensure_demo_operators(&started.app.state).await?;
    match TcpListener::bind(args.console_listen).await {
        Ok(listener) => {
            println!(
                "console at http://{}/console: {} / {} (admin), {} / {} (staff); the login code arrives at the simulated WhatsApp: GET {}/sandbox/otp/last?recipient=<number>",
                args.console_listen,
                DEMO_OPERATORS[0].0,
                DEMO_OPERATORS[0].1,
                DEMO_OPERATORS[1].0,
                DEMO_OPERATORS[1].1,
                started.base_url
            );
            tokio::spawn(App::serve_console(
                started.app.state.clone(),
                listener,
                shutdown(),
            ));
        }
        Err(e) => tracing::warn!(listen = %args.console_listen, error = %e, "console not started"),
    }
    let _workers = started.app.spawn_workers();
    let _servers = started.servers;
    started.app.serve(started.listener, shutdown()).await?;
    Ok(())
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}

fn print_banner(started: &Started) {
    let settings = started.app.state.settings();
    println!("gateway sandbox listening on {}", started.base_url);
    println!("database: {}", settings.database.url);
    for (name, (_, url)) in &started.sandbox.simulators {
        println!("simulator {name}: {url}");
    }
    for (id, client) in &settings.clients {
        let secret = client
            .secrets
            .first()
            .map(|s| s.expose_secret().to_owned())
            .unwrap_or_default();
        let hook = client
            .webhook_url
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_default();
        println!("client {id}: secret {secret} (sandbox only), webhook {hook}");
    }
    if let Some((_, url)) = &started.receiver {
        println!("webhook receiver printing events at {url}");
    }
}

/// The sandbox routes.
pub fn routes(sandbox: Arc<Sandbox>) -> Router<AppState> {
    Router::new()
        .route("/sandbox/providers", get(providers))
        .route("/sandbox/virtual-accounts/{id}/pay", post(pay))
        .route("/sandbox/payments/{id}/{outcome}", post(settle_payment))
        .route("/sandbox/messages/{id}/{outcome}", post(settle_message))
        .route("/sandbox/otp/last", get(last_otp))
        .route("/sandbox/esign/signers/{id}/{verdict}", post(decide_signer))
        .route(
            "/sandbox/esign/documents/{id}/{outcome}",
            post(settle_document),
        )
        .route("/sandbox/bills/payments/{id}/{outcome}", post(settle_bill))
        .route("/sandbox/billers/{instance}/deposit", post(set_deposit))
        .route(
            "/sandbox/providers/{instance}/faults",
            post(add_fault).delete(clear_faults),
        )
        .layer(axum::Extension(sandbox))
}

#[derive(Serialize)]
struct ProviderView {
    instance: String,
    kind: &'static str,
    base_url: String,
}

async fn providers(axum::Extension(sandbox): axum::Extension<Arc<Sandbox>>) -> Response {
    let data: Vec<ProviderView> = sandbox
        .simulators
        .iter()
        .map(|(name, (sim, url))| ProviderView {
            instance: name.clone(),
            kind: sim.kind(),
            base_url: url.clone(),
        })
        .collect();
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({ "data": data })),
    )
        .into_response()
}

/// `POST /sandbox/virtual-accounts/{id}/pay`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct PayRequest {
    /// Amount to pay (default: what is still owed).
    amount: Option<i64>,
    /// Callback options: times, concurrent, tamper.
    #[serde(flatten)]
    callback: Option<CallbackOptions>,
}

async fn pay(
    State(state): State<AppState>,
    axum::Extension(sandbox): axum::Extension<Arc<Sandbox>>,
    Path(id): Path<String>,
    body: Option<axum::Json<PayRequest>>,
) -> Result<Response, ApiError> {
    let request = body.map(|b| b.0).unwrap_or_default();
    let va_id = id.clone();
    let row = state
        .db()
        .write(move |conn| Box::pin(async move { va::get_unscoped(conn, &va_id).await }))
        .await?
        .ok_or_else(|| ApiError::not_found("virtual account"))?;
    let simulator = row
        .provider
        .as_deref()
        .and_then(|p| sandbox.simulator(p))
        .ok_or_else(|| ApiError::not_found("simulator for this virtual account"))?;
    let amount = request
        .amount
        .unwrap_or((row.amount - row.paid_amount).max(1));
    let options = request.callback.unwrap_or_default();
    let outcomes = match simulator {
        Simulator::Bni(sim) => sim.pay_with(&row.id, amount, options).await,
        Simulator::Nicepay(sim) => sim.pay_with(&row.id, amount, options).await,
        Simulator::Doku(sim) => sim.pay_va_with(&row.id, amount, options).await,
        Simulator::BniSnap(sim) if sim.va(&row.id).is_some() => {
            sim.pay_with(&row.id, amount, options).await
        }
        Simulator::BniSnap(sim) => {
            // A VA the gateway holds: the bank asks what it owes, then pays.
            let number = row.va_number.clone().unwrap_or_default();
            let prefix = partner_service_id_len(&state, &row);
            return match sim.pay_h2h(&number, amount, prefix).await {
                Ok(h2h) => Ok((
                    StatusCode::OK,
                    axum::Json(serde_json::json!({
                        "inquiry": h2h.inquiry.body,
                        "payment": h2h.payment.map(|p| p.body),
                    })),
                )
                    .into_response()),
                Err(e) => Err(refused(&e)),
            };
        }
        Simulator::AstraPay(_)
        | Simulator::WhatsApp(_)
        | Simulator::PrivyId(_)
        | Simulator::Digiflazz(_) => {
            return Err(ApiError::not_found("virtual accounts at this provider"));
        }
    };
    match outcomes {
        Ok(outcomes) => Ok((
            StatusCode::OK,
            axum::Json(serde_json::json!({ "callbacks": outcomes })),
        )
            .into_response()),
        Err(e) => Err(refused(&e)),
    }
}

fn refused(e: &mocks::SimError) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "payment_refused",
        "Payment refused",
        e.to_string(),
    )
}

/// How many leading digits of a host-to-host VA number are the bank's prefix.
fn partner_service_id_len(state: &AppState, row: &va::VaRow) -> usize {
    match row
        .provider
        .as_deref()
        .and_then(|p| state.settings().providers.get(p))
    {
        Some(ProviderConfig::Bni(c)) => c.partner_service_id.as_deref().map_or(0, str::len),
        _ => 0,
    }
}

/// `POST /sandbox/payments/{id}/{complete|fail|expire}`: callback options as for `pay`.
async fn settle_payment(
    State(state): State<AppState>,
    axum::Extension(sandbox): axum::Extension<Arc<Sandbox>>,
    Path((id, outcome)): Path<(String, String)>,
    body: Option<axum::Json<CallbackOptions>>,
) -> Result<Response, ApiError> {
    let options = body.map(|b| b.0).unwrap_or_default();
    let payment_id = id.clone();
    let row = state
        .db()
        .write(move |conn| {
            Box::pin(async move { payment_store::get_unscoped(conn, &payment_id).await })
        })
        .await?
        .ok_or_else(|| ApiError::not_found("payment"))?;
    let simulator = row
        .provider
        .as_deref()
        .and_then(|p| sandbox.simulator(p))
        .ok_or_else(|| ApiError::not_found("simulator for this payment"))?;
    let outcomes = match (simulator, outcome.as_str()) {
        (Simulator::AstraPay(sim), "complete") => sim.complete_with(&row.id, options).await,
        (Simulator::AstraPay(sim), "fail") => sim.fail_with(&row.id, options).await,
        (Simulator::AstraPay(sim), "expire") => sim.expire_with(&row.id, options).await,
        (Simulator::Doku(sim), "complete") => sim.complete_checkout_with(&row.id, options).await,
        (Simulator::Doku(sim), "fail") => sim.fail_checkout_with(&row.id, options).await,
        (Simulator::Doku(sim), "expire") => sim.expire_checkout_with(&row.id, options).await,
        (_, "complete" | "fail" | "expire") => {
            return Err(ApiError::not_found("payments at this provider"));
        }
        _ => return Err(ApiError::not_found("sandbox action")),
    };
    match outcomes {
        Ok(outcomes) => Ok((
            StatusCode::OK,
            axum::Json(serde_json::json!({ "callbacks": outcomes })),
        )
            .into_response()),
        Err(e) => Err(refused(&e)),
    }
}

/// `GET /sandbox/otp/last?recipient=62…`: the last code a simulated WhatsApp delivered to
/// that number (sandbox only: the gateway itself never stores or shows a code).
#[derive(Debug, Deserialize)]
struct LastOtp {
    recipient: String,
}

async fn last_otp(
    axum::Extension(sandbox): axum::Extension<Arc<Sandbox>>,
    axum::extract::Query(query): axum::extract::Query<LastOtp>,
) -> Result<Response, ApiError> {
    let code = sandbox.simulators.values().find_map(|(sim, _)| match sim {
        Simulator::WhatsApp(sim) => sim.last_code_for(&query.recipient),
        _ => None,
    });
    match code {
        Some(code) => Ok((
            StatusCode::OK,
            axum::Json(serde_json::json!({ "code": code })),
        )
            .into_response()),
        None => Err(ApiError::not_found("code sent to this number")),
    }
}

/// `POST /sandbox/messages/{id}/{deliver|read|fail}`: the provider posts the status
/// webhook; callback options as for `pay`.
async fn settle_message(
    State(state): State<AppState>,
    axum::Extension(sandbox): axum::Extension<Arc<Sandbox>>,
    Path((id, outcome)): Path<(String, String)>,
    body: Option<axum::Json<CallbackOptions>>,
) -> Result<Response, ApiError> {
    let options = body.map(|b| b.0).unwrap_or_default();
    let message_id = id.clone();
    let row = state
        .db()
        .write(move |conn| {
            Box::pin(async move { message_store::get_unscoped(conn, &message_id).await })
        })
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    let (Some(Simulator::WhatsApp(sim)), Some(wamid)) = (
        row.provider.as_deref().and_then(|p| sandbox.simulator(p)),
        row.provider_reference.as_deref(),
    ) else {
        return Err(ApiError::not_found(
            "a sent message at a simulated provider",
        ));
    };
    let outcomes = match outcome.as_str() {
        "deliver" => sim.deliver_with(wamid, options).await,
        "read" => sim.read_with(wamid, options).await,
        // 131026: message undeliverable.
        "fail" => sim.fail_with(wamid, 131_026, options).await,
        _ => return Err(ApiError::not_found("sandbox action")),
    };
    match outcomes {
        Ok(outcomes) => Ok((
            StatusCode::OK,
            axum::Json(serde_json::json!({ "callbacks": outcomes })),
        )
            .into_response()),
        Err(e) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "simulator_refused",
            "The simulated provider refused",
            e.to_string(),
        )),
    }
}

/// `POST /sandbox/esign/signers/{id}/{verify|invalidate|reject}` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct VerdictRequest {
    /// For `reject`: the provider's reason.
    reason: Option<String>,
    /// For `invalidate`: what to send again: `ktp_image`, `selfie`, `supporting_document`
    /// (default: the first two).
    resubmit: Vec<String>,
    /// For a `supporting_document`: the categories accepted (default `KK`).
    categories: Vec<String>,
}

fn privyid_of<'a>(sandbox: &'a Sandbox, provider: &str) -> Result<&'a PrivyIdSimulator, ApiError> {
    match sandbox.simulator(provider) {
        Some(Simulator::PrivyId(sim)) => Ok(sim),
        _ => Err(ApiError::not_found("a simulated e-signature provider")),
    }
}

fn callbacks_posted(
    outcomes: Result<Vec<mocks::CallbackOutcome>, mocks::SimError>,
) -> Result<Response, ApiError> {
    match outcomes {
        Ok(outcomes) => Ok((
            StatusCode::OK,
            axum::Json(serde_json::json!({ "callbacks": outcomes })),
        )
            .into_response()),
        Err(e) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "simulator_refused",
            "The simulated provider refused",
            e.to_string(),
        )),
    }
}

/// `POST /sandbox/esign/signers/{id}/{verify|invalidate|reject}`: the provider decides the
/// registration and posts its callback (which the gateway confirms by status inquiry).
async fn decide_signer(
    State(state): State<AppState>,
    axum::Extension(sandbox): axum::Extension<Arc<Sandbox>>,
    Path((id, verdict)): Path<(String, String)>,
    body: Option<axum::Json<VerdictRequest>>,
) -> Result<Response, ApiError> {
    let request = body.map(|b| b.0).unwrap_or_default();
    let signer_id = id.clone();
    let row = state
        .db()
        .write(move |conn| {
            Box::pin(async move { esign_store::get_signer_unscoped(conn, &signer_id).await })
        })
        .await?
        .ok_or_else(|| ApiError::not_found("signer"))?;
    let sim = privyid_of(&sandbox, &row.provider)?;
    let Some(token) = row.provider_reference.as_deref() else {
        return Err(ApiError::not_found("a signer registered at the provider"));
    };
    let outcomes = match verdict.as_str() {
        "verify" => sim.verify(token).await,
        "invalidate" => {
            let wanted = if request.resubmit.is_empty() {
                vec!["ktp_image".to_owned(), "selfie".to_owned()]
            } else {
                request.resubmit
            };
            let categories = if request.categories.is_empty() {
                vec!["KK".to_owned()]
            } else {
                request.categories
            };
            let mut handlers = Vec::new();
            for item in wanted {
                handlers.push(match item.as_str() {
                    "ktp_image" => Handler::Ktp,
                    "selfie" => Handler::Selfie,
                    "supporting_document" => Handler::FileSupport(categories.clone()),
                    _ => {
                        return Err(ApiError::validation(vec![crate::service::fields::field(
                            "resubmit",
                            "items are ktp_image, selfie or supporting_document",
                        )]));
                    }
                });
            }
            sim.invalidate(token, &handlers).await
        }
        "reject" => {
            let reason = request
                .reason
                .unwrap_or_else(|| "The KTP image was found on the internet".to_owned());
            sim.reject(token, &reason).await
        }
        _ => return Err(ApiError::not_found("sandbox action")),
    };
    callbacks_posted(outcomes)
}

/// `POST /sandbox/esign/documents/{id}/{sign|reject|expire}` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct DocumentActionRequest {
    /// The signer who signs or refuses (default for `sign`: every signer still pending, in
    /// order; for `reject`: the first still pending).
    signer_id: Option<String>,
}

/// `POST /sandbox/esign/documents/{id}/{sign|reject|expire}`: signers act at the provider,
/// which posts its callbacks.
async fn settle_document(
    State(state): State<AppState>,
    axum::Extension(sandbox): axum::Extension<Arc<Sandbox>>,
    Path((id, outcome)): Path<(String, String)>,
    body: Option<axum::Json<DocumentActionRequest>>,
) -> Result<Response, ApiError> {
    let request = body.map(|b| b.0).unwrap_or_default();
    let document_id = id.clone();
    let (row, signers) = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                let row = esign_store::get_document_unscoped(conn, &document_id).await?;
                let signers = esign_store::document_signers(conn, &document_id).await?;
                Ok((row, signers))
            })
        })
        .await?;
    let row = row.ok_or_else(|| ApiError::not_found("document"))?;
    let sim = privyid_of(&sandbox, &row.provider)?;
    let Some(token) = row.provider_reference.as_deref() else {
        return Err(ApiError::not_found("a document uploaded to the provider"));
    };
    let chosen: Vec<&esign_store::DocumentSignerRow> = match &request.signer_id {
        Some(signer) => signers.iter().filter(|s| &s.signer_id == signer).collect(),
        None => signers.iter().filter(|s| s.status == "pending").collect(),
    };
    if chosen.is_empty() && outcome != "expire" {
        return Err(ApiError::not_found("a pending signer of this document"));
    }
    match outcome.as_str() {
        "sign" => {
            let mut all = Vec::new();
            for signer in chosen {
                match sim.sign(token, &signer.provider_signer_id).await {
                    Ok(outcomes) => all.extend(outcomes),
                    Err(e) => return callbacks_posted(Err(e)),
                }
            }
            callbacks_posted(Ok(all))
        }
        "reject" => callbacks_posted(
            sim.reject_document(token, &chosen[0].provider_signer_id)
                .await,
        ),
        "expire" => callbacks_posted(sim.expire_document(token).await),
        _ => Err(ApiError::not_found("sandbox action")),
    }
}

fn digiflazz_of<'a>(
    sandbox: &'a Sandbox,
    provider: &str,
) -> Result<&'a DigiflazzSimulator, ApiError> {
    match sandbox.simulator(provider) {
        Some(Simulator::Digiflazz(sim)) => Ok(sim),
        _ => Err(ApiError::not_found("a simulated biller")),
    }
}

/// `POST /sandbox/bills/payments/{id}/{succeed|fail|refund}`: the biller settles a pending
/// payment (or refunds a successful one) and posts its webhook.
async fn settle_bill(
    State(state): State<AppState>,
    axum::Extension(sandbox): axum::Extension<Arc<Sandbox>>,
    Path((id, outcome)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let payment_id = id.clone();
    let row = state
        .db()
        .write(move |conn| {
            Box::pin(async move { bill_store::get_payment_unscoped(conn, &payment_id).await })
        })
        .await?
        .ok_or_else(|| ApiError::not_found("bill payment"))?;
    let sim = digiflazz_of(&sandbox, &row.provider)?;
    let outcomes = match outcome.as_str() {
        "succeed" => sim.settle(&row.ref_id, true).await,
        "fail" => sim.settle(&row.ref_id, false).await,
        "refund" => sim.refund(&row.ref_id).await,
        _ => return Err(ApiError::not_found("sandbox action")),
    };
    callbacks_posted(outcomes)
}

/// `POST /sandbox/billers/{instance}/deposit` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DepositRequest {
    /// The simulated biller's deposit from now on, whole rupiah.
    amount: i64,
}

/// `POST /sandbox/billers/{instance}/deposit`: sets our deposit at a simulated biller.
async fn set_deposit(
    axum::Extension(sandbox): axum::Extension<Arc<Sandbox>>,
    Path(instance): Path<String>,
    axum::Json(request): axum::Json<DepositRequest>,
) -> Result<Response, ApiError> {
    let sim = digiflazz_of(&sandbox, &instance)?;
    sim.set_deposit(request.amount);
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({ "deposit": sim.deposit() })),
    )
        .into_response())
}

fn faults_of(sandbox: &Sandbox, instance: &str) -> Result<mocks::Faults, ApiError> {
    Ok(sandbox
        .simulator(instance)
        .ok_or_else(|| ApiError::not_found("provider instance"))?
        .faults())
}

async fn add_fault(
    axum::Extension(sandbox): axum::Extension<Arc<Sandbox>>,
    Path(instance): Path<String>,
    axum::Json(rule): axum::Json<FaultRule>,
) -> Result<Response, ApiError> {
    let faults = faults_of(&sandbox, &instance)?;
    faults.push(rule);
    let body = serde_json::json!({ "faults": faults.rules() });
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

async fn clear_faults(
    axum::Extension(sandbox): axum::Extension<Arc<Sandbox>>,
    Path(instance): Path<String>,
) -> Result<Response, ApiError> {
    faults_of(&sandbox, &instance)?.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}
