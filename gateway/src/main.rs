//! `gateway`: serve, sandbox, migrate, sign, config check.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gateway::{App, Settings};
use tokio::net::TcpListener;

// The request path allocates small, short-lived buffers across threads; mimalloc handles
// that with far less contention than glibc's allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "gateway",
    version,
    about = "Integration gateway for Indonesian payment and identity providers"
)]
struct Cli {
    /// Configuration files, merged in order (default: config/gateway.toml when present).
    #[arg(long = "config", global = true)]
    config: Vec<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway.
    Serve,
    /// Run the gateway on SQLite with every provider simulated in-process.
    #[cfg(feature = "sandbox")]
    Sandbox(gateway::sandbox::SandboxArgs),
    /// Apply database migrations and exit.
    Migrate {
        /// Database URL (default: from the configuration).
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Print the authentication headers for a request (for curl).
    Sign(SignArgs),
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Operations console accounts.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
}

#[derive(Subcommand, Debug)]
enum OperatorCommand {
    /// Create an operator; the password is read from GATEWAY_OPERATOR_PASSWORD or, when
    /// unset, from the first line of standard input.
    Add {
        /// Login name: 3-64 of a-z, 0-9, . _ -.
        #[arg(long)]
        username: String,
        /// `admin` (everything) or `staff` (read-only).
        #[arg(long)]
        role: String,
        /// WhatsApp number for login codes, +628….
        #[arg(long)]
        phone: String,
        /// Database URL (default: from the configuration).
        #[arg(long)]
        database_url: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Validate the configuration and print it resolved, secrets redacted.
    Check,
}

#[derive(clap::Args, Debug)]
struct SignArgs {
    /// Client id.
    #[arg(long)]
    client: String,
    /// The client's secret (or set GATEWAY_CLIENT_SECRET).
    #[arg(long, env = "GATEWAY_CLIENT_SECRET", hide_env_values = true)]
    secret: String,
    /// HTTP method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// Path and query, e.g. /v1/virtual-accounts?status=active
    #[arg(long)]
    path: String,
    /// Request body (exactly as sent), or @file to read it from a file.
    #[arg(long, default_value = "")]
    body: String,
    /// Print as curl -H arguments (usable as `curl $(gateway sign --curl ...)`).
    #[arg(long)]
    curl: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => serve(Settings::load(&cli.config)?).await,
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => gateway::sandbox::run(args, &cli.config).await,
        Command::Migrate { database_url } => {
            let url = match database_url {
                Some(url) => url,
                None => Settings::load(&cli.config)?.database.url,
            };
            let n = gateway::store::migrate(&url)
                .await
                .context("migration failed")?;
            println!("database is at schema version {n}");
            Ok(())
        }
        Command::Sign(args) => sign(args),
        Command::Operator {
            command:
                OperatorCommand::Add {
                    username,
                    role,
                    phone,
                    database_url,
                },
        } => {
            let url = match database_url {
                Some(url) => url,
                None => Settings::load(&cli.config)?.database.url,
            };
            add_operator(&url, &username, &role, &phone).await
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            let settings = Settings::load(&cli.config)?;
            gateway::registry::Registry::build(&settings)?;
            println!("{}", serde_json::to_string_pretty(&settings.redacted())?);
            eprintln!("configuration is valid");
            Ok(())
        }
    }
}

/// Creates an operator account and writes it to the audit log.
async fn add_operator(url: &str, username: &str, role: &str, phone: &str) -> anyhow::Result<()> {
    use gateway::console::accounts::{self, Role};
    let role = Role::parse(role).context("role must be admin or staff")?;
    let password = match std::env::var("GATEWAY_OPERATOR_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    gateway::store::migrate(url)
        .await
        .context("migration failed")?;
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await?;
    let operator = accounts::create(&mut conn, username, &password, role, phone).await?;
    gateway::console::audit(
        &mut conn,
        Some(&operator),
        "cli",
        "operator_created",
        Some(&operator.username),
        Some(role.as_str()),
        "cli",
    )
    .await?;
    println!("operator {} ({}) created", operator.username, role.as_str());
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listen = settings.server.listen;
    let console = settings.console.listen;
    let app = App::build(settings).await?;
    let _workers = app.spawn_workers();
    if let Some(at) = console {
        let listener = TcpListener::bind(at)
            .await
            .with_context(|| format!("cannot listen on {at} (console)"))?;
        tracing::info!(listen = %at, "console listening");
        tokio::spawn(App::serve_console(
            app.state.clone(),
            listener,
            shutdown_signal(),
        ));
    }
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(%listen, "gateway listening");
    app.serve(listener, shutdown_signal()).await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn sign(args: SignArgs) -> anyhow::Result<()> {
    let body = match args.body.strip_prefix('@') {
        Some(file) => std::fs::read(file).with_context(|| format!("cannot read {file}"))?,
        None => args.body.into_bytes(),
    };
    let method = args.method.to_ascii_uppercase();
    let headers = gateway::auth::SignedHeaders::new(
        &args.client,
        args.secret.as_bytes(),
        &method,
        &args.path,
        &body,
    );
    for (name, value) in headers.pairs() {
        if args.curl {
            // No spaces or quotes, so `$(gateway sign --curl …)` splits into arguments.
            print!("-H {name}:{value} ");
        } else {
            println!("{name}: {value}");
        }
    }
    if args.curl {
        println!();
    }
    Ok(())
}
