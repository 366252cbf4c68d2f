//! `hostrisk-dev query`: the operator's `query` against an HSS simulator started in this
//! process, with its demo credentials. Nothing from the environment is used (a project id or
//! credentials exported for a real account would only find nothing here), and stderr says so
//! when such variables are set.

use hostrisk_hss::{ClientConfig, Credentials, Scope};
use hostrisk_operator::cli::env_credentials::VARIABLES;
use hostrisk_operator::cli::fail_on::FailOn;
use hostrisk_operator::cli::host_ids::collect_host_ids;
use hostrisk_operator::cli::output::QueryReport;
use hostrisk_operator::cli::query::{finish, query_report, OutputFormat, QueryError};
use hostrisk_operator::telemetry::{init_logging, LogArgs};
use hostrisk_sim::hss::{HssSimulator, SimConfig, DEMO_ACCESS_KEY, DEMO_SECRET_KEY};

use super::exit;

/// Query the in-process HSS simulator (demo fleet; without host ids, its demo hosts).
#[derive(Debug, Clone, clap::Args)]
pub struct SimQueryArgs {
    /// A host id, 1 to 64 characters; repeat for several.
    #[arg(long = "host-id", value_name = "ID")]
    pub host_ids: Vec<String>,
    /// File with one host id per line; blank lines and lines starting with # are skipped.
    #[arg(long, value_name = "FILE")]
    pub hosts_file: Option<std::path::PathBuf>,
    /// Output format: a table for people, or JSON for scripts.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Exit with code 6 when a host is in one of these states (comma-separated or repeated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "STATES")]
    pub fail_on: Vec<FailOn>,
    /// HSS calls per minute for the demo credential (the simulator enforces the same quota).
    #[arg(long, env = "HOSTRISK_HSS_CALLS_PER_MINUTE", default_value_t = hostrisk_hss::config::DEFAULT_CALLS_PER_MINUTE, value_parser = clap::value_parser!(u32).range(1..))]
    pub hss_calls_per_minute: u32,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Runs the query and prints the result; returns the exit code.
pub async fn run(args: SimQueryArgs) -> u8 {
    if let Err(error) = init_logging(&args.log) {
        eprintln!("error: {error}");
        return exit::USAGE;
    }
    if let Some(note) = ignored_environment(&|name| std::env::var_os(name).is_some()) {
        eprintln!("{note}");
    }
    let outcome = execute(&args).await;
    finish(outcome, args.output, &args.fail_on)
}

/// The note printed when variables of `hostrisk-operator query` are set (their names only).
pub fn ignored_environment(is_set: &dyn Fn(&str) -> bool) -> Option<String> {
    let set: Vec<&str> = VARIABLES.into_iter().filter(|name| is_set(name)).collect();
    (!set.is_empty()).then(|| {
        format!(
            "note: ignoring {} from the environment: hostrisk-dev query asks its in-process HSS \
             simulator, with the simulator's project and demo credentials (hostrisk-operator \
             query is the one that uses them)",
            set.join(", ")
        )
    })
}

async fn execute(args: &SimQueryArgs) -> Result<QueryReport, QueryError> {
    // The simulator enforces the quota the client paces itself to, like HSS would.
    let mut config = SimConfig::default();
    config.faults.quota_per_minute = args.hss_calls_per_minute;
    let sim = HssSimulator::start(config)
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
    let config = ClientConfig {
        calls_per_minute: args.hss_calls_per_minute,
        ..ClientConfig::default()
    };
    let mut progress = |line: String| eprintln!("{line}");
    let outcome = query_report(config, &scope, &credentials, &ids, &mut progress).await;
    sim.shutdown().await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_names_only_the_variables_set() {
        assert_eq!(ignored_environment(&|_| false), None);
        let note = ignored_environment(&|name| {
            matches!(name, "HUAWEICLOUD_SDK_PROJECT_ID" | "HOSTRISK_AUTH_TOKEN")
        })
        .expect("a note");
        assert!(
            note.starts_with("note: ignoring HUAWEICLOUD_SDK_PROJECT_ID, HOSTRISK_AUTH_TOKEN from the environment"),
            "{note}"
        );
    }
}
