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
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("VIGIL_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let Command::Serve(args) = Cli::parse().command;
    if let Err(e) = run(args).await {
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
