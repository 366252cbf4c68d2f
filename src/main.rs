//! `hostrisk-operator`: parses the command line and dispatches into `hostrisk_operator::cli`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hostrisk_operator::cli;

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
    /// Run the controller: mirror HSS risk status into HostRiskWatch resources.
    Run(cli::run::RunArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let code = match Cli::parse().command {
        Command::Query(args) => cli::query::run(args).await,
        Command::Run(args) => cli::run::run(args).await,
    };
    ExitCode::from(code)
}
