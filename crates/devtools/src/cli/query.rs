//! `hostrisk-dev query`: the operator's `query` against an HSS simulator started in this
//! process, with its demo credentials. Nothing from the environment is used: a project id or
//! credentials exported for a real account would only find nothing here.

use hostrisk_hss::{ClientConfig, Credentials, Scope};
use hostrisk_operator::cli::query::{collect_host_ids, query_and_render, OutputFormat, QueryError};
use hostrisk_sim::hss::{HssSimulator, SimConfig, DEMO_ACCESS_KEY, DEMO_SECRET_KEY};

use super::exit;

/// Query the in-process HSS simulator (demo fleet; without host ids, its demo hosts).
#[derive(Debug, Clone, clap::Args)]
pub struct SimQueryArgs {
    /// A host id; repeat for several.
    #[arg(long = "host-id", value_name = "ID")]
    pub host_ids: Vec<String>,
    /// File with one host id per line; blank lines and lines starting with # are skipped.
    #[arg(long, value_name = "FILE")]
    pub hosts_file: Option<std::path::PathBuf>,
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Runs the query and prints the result; returns the exit code.
pub async fn run(args: SimQueryArgs) -> u8 {
    match execute(&args).await {
        Ok(text) => {
            print!("{text}");
            exit::OK
        }
        Err(err) => {
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}

async fn execute(args: &SimQueryArgs) -> Result<String, QueryError> {
    let sim = HssSimulator::start(SimConfig::default())
        .await
        .map_err(|e| QueryError::Usage(format!("cannot start the simulator: {e}")))?;
    let scope = Scope::for_endpoint(sim.base_url(), sim.project_id().to_string(), None)
        .map_err(|e| QueryError::Usage(e.to_string()))?;
    let ids = if args.host_ids.is_empty() && args.hosts_file.is_none() {
        SimConfig::demo_hosts()
            .iter()
            .map(|h| h.host_id().to_string())
            .collect()
    } else {
        collect_host_ids(&args.host_ids, args.hosts_file.as_deref())?
    };
    let credentials = Credentials::ak_sk(DEMO_ACCESS_KEY, DEMO_SECRET_KEY);
    let outcome = query_and_render(
        args.output,
        ClientConfig::default(),
        &scope,
        &credentials,
        &ids,
    )
    .await;
    sim.shutdown().await;
    outcome
}
