//! `hostrisk-operator`: parses the command line and dispatches into `hostrisk_operator::cli`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hostrisk_operator::{cli, telemetry};

#[derive(Debug, Parser)]
#[command(name = "hostrisk-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// One-shot HSS ListHostsRisk query (exit codes: 0 ok, 2 usage, 3 authentication, 4 throttled, 5 other failure, 6 --fail-on matched).
    Query(cli::query::QueryArgs),
    /// Print the HostRiskWatch CustomResourceDefinition (YAML); `crds/hostriskwatch.yaml` is this output.
    Crd(CrdArgs),
    /// Run the controller: mirror HSS risk status into HostRiskWatch resources.
    Run(cli::run::RunArgs),
}

/// Flags of `crd`: only the log flags every subcommand has (it logs nothing today).
#[derive(Debug, clap::Args)]
struct CrdArgs {
    #[command(flatten)]
    log: telemetry::LogArgs,
}

fn main() -> ExitCode {
    hostrisk_operator::allocator::run_tuned(|| run(Cli::parse()))
}

async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Crd(args) => {
            if let Err(error) = telemetry::init_logging(&args.log) {
                eprintln!("error: {error}");
                return ExitCode::from(cli::exit::USAGE);
            }
            print!("{}", hostrisk_operator::crd::render::crd_yaml());
            ExitCode::SUCCESS
        }
        Command::Query(args) => ExitCode::from(cli::query::run(args).await),
        Command::Run(args) => ExitCode::from(cli::run::run(args).await),
    }
}
