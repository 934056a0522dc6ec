//! The `vigil` command.

use clap::{Parser, Subcommand};
use server::config::{Config, ServeArgs};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Vigil: a multi-server management console for managed products"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a node (defaults: SQLite in ./data, http://127.0.0.1:3000).
    Serve(ServeArgs),
    /// Bring a standalone node's database (users, content, products) into the
    /// cluster's database, by the merge rules; --dry-run only shows how.
    Centralize(CentralizeArgs),
}

#[derive(clap::Args)]
struct CentralizeArgs {
    /// The standalone node's database, e.g. sqlite://old/vigil.db.
    #[arg(long)]
    from: String,
    /// The source node's name (default: the node that ran on it last).
    #[arg(long)]
    node: Option<String>,
    /// Print the plan; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// The cluster: the same settings as `serve` (file, VIGIL_*, flags).
    #[command(flatten)]
    cluster: ServeArgs,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("VIGIL_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let done = match Cli::parse().command {
        Command::Serve(args) => run(args).await,
        Command::Centralize(args) => centralize(args).await,
    };
    if let Err(e) = done {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(args: ServeArgs) -> Result<(), anyhow::Error> {
    let config = Config::load(args)?;
    tracing::info!(?config, "starting");
    server::listener::raise_open_file_limit();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    server::serve(listener, config, shutdown_signal()).await
}

async fn centralize(args: CentralizeArgs) -> Result<(), anyhow::Error> {
    let config = Config::load(args.cluster)?;
    let target = server::db::Db::connect(config.database_url.expose()).await?;
    let outcome = server::centralize::centralize(
        &target,
        &args.from,
        args.node.as_deref(),
        args.dry_run,
        i64::from(config.log_retention),
    )
    .await?;
    print!("{}", server::centralize::render(&outcome));
    Ok(())
}

/// Completes on ctrl-c or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
