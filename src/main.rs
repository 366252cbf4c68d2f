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
    /// One-shot HSS ListHostsRisk query (exit codes: 0 ok, 2 usage, 3 authentication, 4 throttled, 5 other failure).
    Query(cli::query::QueryArgs),
    /// Run the HSS simulator (ListHostsRisk + IAM tokens) until Ctrl-C.
    Simulate(cli::simulate::SimulateArgs),
    /// Print the HostRiskWatch CustomResourceDefinition (YAML); `crds/hostriskwatch.yaml` is this output.
    Crd,
    /// Run the controller: mirror HSS risk status into HostRiskWatch resources.
    Run(cli::run::RunArgs),
    /// Show the operator at work: in-process HSS simulator, Kubernetes API stand-in and
    /// controller, with a live `kubectl get hrw -w` style table, for a short while.
    Demo(cli::demo::DemoArgs),
    /// Benchmark the real controller (in this process) against the HSS simulator and the
    /// Kubernetes API stand-in at a chosen scale, batched and per-watch polling; one figure per line.
    Bench(cli::bench::BenchArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Crd => {
            print!("{}", hostrisk_operator::crd::render::crd_yaml());
            ExitCode::SUCCESS
        }
        Command::Query(args) => ExitCode::from(cli::query::run(args).await),
        Command::Run(args) => ExitCode::from(cli::run::run(args).await),
        Command::Simulate(args) => {
            let level = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string());
            if let Err(error) = telemetry::init_logging(&level, telemetry::LogFormat::Text) {
                eprintln!("error: {error}");
                return ExitCode::from(cli::exit::USAGE);
            }
            match cli::simulate::run(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Demo(args) => ExitCode::from(cli::demo::run(args).await),
        Command::Bench(args) => ExitCode::from(cli::bench::run(args).await),
    }
}
