//! `hostrisk-operator`: parses the command line and dispatches into `hostrisk_operator::cli`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hostrisk_operator::cli;

// `simulate` is written against the library's public API, so it is compiled with the binary.
#[path = "cli/simulate.rs"]
mod simulate;

#[derive(Debug, Parser)]
#[command(name = "hostrisk-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// One-shot HSS ListHostsRisk query (exit codes: 0 ok, 2 usage, 3 authentication, 4 throttled, 5 other failure).
    Query(cli::query::QueryArgs),
    /// Run the HSS simulator (ListHostsRisk + IAM tokens) until Ctrl-C.
    Simulate(simulate::SimulateArgs),
    /// Run the controller: mirror HSS risk status into HostRiskWatch resources.
    Run(cli::run::RunArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let code = match Cli::parse().command {
        Command::Query(args) => cli::query::run(args).await,
        Command::Simulate(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .init();
            match simulate::run(args).await {
                Ok(()) => cli::exit::OK,
                Err(error) => {
                    eprintln!("error: {error}");
                    1
                }
            }
        }
        Command::Run(args) => cli::run::run(args).await,
    };
    ExitCode::from(code)
}
