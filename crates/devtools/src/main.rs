//! `hostrisk-dev`: parses the command line and dispatches into `hostrisk_devtools::cli`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hostrisk_devtools::cli;

#[derive(Debug, Parser)]
#[command(name = "hostrisk-dev", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the operator at work: in-process HSS simulator, Kubernetes API stand-in and
    /// controller, with a live `kubectl get hrw -w` style table, for a short while.
    Demo(cli::demo::DemoArgs),
    /// Benchmark the real controller against the HSS simulator and the Kubernetes API
    /// stand-in at a chosen scale, against the one-call-per-watch baseline; one figure per line.
    Bench(cli::bench::BenchArgs),
    /// Run the HSS simulator (ListHostsRisk + IAM tokens) until Ctrl-C.
    Simulate(cli::simulate::SimulateArgs),
    /// One ListHostsRisk query against an in-process HSS simulator.
    Query(cli::query::SimQueryArgs),
}

/// Counts live heap bytes for the bench's `heap_*` figures (two relaxed atomics per call).
#[global_allocator]
static ALLOCATOR: hostrisk_devtools::bench::heap::CountingAllocator<std::alloc::System> =
    hostrisk_devtools::bench::heap::CountingAllocator(std::alloc::System);

/// The allocator is set up like the operator's (`hostrisk_operator::allocator`), so the bench's
/// memory figures are those of the operator as it runs.
fn main() -> ExitCode {
    hostrisk_operator::allocator::run_tuned(|| run(Cli::parse()))
}

async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Demo(args) => ExitCode::from(cli::demo::run(args).await),
        Command::Bench(args) => ExitCode::from(cli::bench::run(args).await),
        Command::Query(args) => ExitCode::from(cli::query::run(args).await),
        Command::Simulate(args) => ExitCode::from(cli::simulate::run(args).await),
    }
}
