//! `hostrisk-operator query`: one ListHostsRisk query from the command line.

use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;
use url::Url;

use super::env_credentials::{credentials_from_env, refused_message, EnvCredentialsError};
use super::exit;
use super::fail_on::{findings, FailOn};
use super::host_ids::{collect_host_ids, HostIdError};
use super::output::QueryReport;
use crate::hss::endpoint::iam_endpoint_for_scope;
use crate::hss::{ClientConfig, Credentials, HostsRiskResult, HssClient, HssError, Scope};
use crate::telemetry::LogArgs;

const AFTER_HELP: &str = "\
Credentials come from the environment, exactly one kind:
  HUAWEICLOUD_SDK_AK + HUAWEICLOUD_SDK_SK (+ HUAWEICLOUD_SDK_SECURITY_TOKEN for temporary keys)
  HOSTRISK_AUTH_TOKEN (a static IAM token)
  HOSTRISK_IAM_USERNAME + HOSTRISK_IAM_PASSWORD + HOSTRISK_IAM_DOMAIN (IAM login; IAM endpoint
    from --region or --iam-endpoint)

Host ids are 1 to 64 characters, as in spec.hostIds. HSS answers 100 ids per call and allows
5 calls per minute per credential: more than 500 ids wait for the quota (a line on stderr says
how long).

To try it without an account, `hostrisk-dev query` (crates/devtools) runs the same query against
an in-process HSS simulator.

Exit codes: 0 ok, 2 usage error, 3 authentication failed, 4 throttled, 5 other API or
transport failure, 6 a host matched --fail-on (the result is printed all the same).";

/// The least wait for the quota worth a progress line.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
}

/// Query the risk status of hosts from Huawei Cloud HSS (ListHostsRisk).
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct QueryArgs {
    /// Huawei Cloud region (e.g. ap-southeast-1); selects the HSS and IAM endpoints.
    #[arg(long, conflicts_with = "endpoint")]
    pub region: Option<String>,
    /// Explicit HSS endpoint URL (https; http only for loopback addresses).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Project ID the hosts belong to.
    #[arg(long, env = "HUAWEICLOUD_SDK_PROJECT_ID")]
    pub project_id: Option<String>,
    /// Enterprise project (default: the service default "0"; "all_granted_eps" for all).
    #[arg(long)]
    pub enterprise_project_id: Option<String>,
    /// A host (ECS) ID, 1 to 64 characters; repeat for several.
    #[arg(long = "host-id", value_name = "ID")]
    pub host_ids: Vec<String>,
    /// File with one host ID per line; blank lines and lines starting with # are skipped.
    #[arg(long, value_name = "FILE")]
    pub hosts_file: Option<PathBuf>,
    /// Output format: a table for people, or JSON for scripts.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Exit with code 6 when a host is in one of these states (comma-separated or repeated),
    /// after printing the result; stderr names the hosts.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "STATES")]
    pub fail_on: Vec<FailOn>,
    /// IAM endpoint for username/password credentials (default: the region's).
    #[arg(long)]
    pub iam_endpoint: Option<String>,
    /// Extra PEM CA bundle trusted for HSS and IAM (TLS verification is always on).
    #[arg(long, value_name = "PATH")]
    pub ca_bundle: Option<PathBuf>,
    /// HSS calls per minute for this credential (the service allows 5).
    #[arg(long, env = "HOSTRISK_HSS_CALLS_PER_MINUTE", default_value_t = crate::hss::config::DEFAULT_CALLS_PER_MINUTE, value_parser = clap::value_parser!(u32).range(1..))]
    pub hss_calls_per_minute: u32,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Why a query did not print a result; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Hss(#[from] HssError),
    /// HSS or IAM refused the credentials from the environment; the message names the
    /// variables to check.
    #[error("{message}")]
    Refused {
        message: String,
        source: Box<HssError>,
    },
}

impl From<EnvCredentialsError> for QueryError {
    fn from(error: EnvCredentialsError) -> Self {
        Self::Usage(error.0)
    }
}

impl From<HostIdError> for QueryError {
    fn from(error: HostIdError) -> Self {
        Self::Usage(error.0)
    }
}

impl QueryError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => exit::USAGE,
            Self::Hss(error) => hss_exit_code(error),
            Self::Refused { source, .. } => hss_exit_code(source),
        }
    }

    /// An HSS error, reworded when it is about the credentials from the environment.
    fn from_hss(error: HssError, credentials: &Credentials) -> Self {
        match refused_message(&error, credentials) {
            Some(message) => Self::Refused {
                message,
                source: Box::new(error),
            },
            None => Self::Hss(error),
        }
    }
}

/// Runs the query and prints the result to stdout; returns the exit code.
pub async fn run(args: QueryArgs) -> u8 {
    if let Err(e) = crate::telemetry::init_logging(&args.log) {
        eprintln!("error: {e}");
        return exit::USAGE;
    }
    let mut progress = |line: String| eprintln!("{line}");
    let outcome = execute(&args, &|name| std::env::var(name).ok(), &mut progress).await;
    finish(outcome, args.output, &args.fail_on)
}

/// Prints a query's outcome (the result on stdout, errors and `--fail-on` findings on stderr);
/// returns the exit code. Shared with `hostrisk-dev query`.
pub fn finish(
    outcome: Result<QueryReport, QueryError>,
    output: OutputFormat,
    fail_on: &[FailOn],
) -> u8 {
    match outcome {
        Ok(report) => {
            print!("{}", render(&report, output));
            let found = findings(&report, fail_on);
            if found.is_empty() {
                return exit::OK;
            }
            for finding in found {
                eprintln!("--fail-on: {finding}");
            }
            exit::HOSTS_FLAGGED
        }
        Err(err) => {
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}

/// Everything but printing: the report of the query. `progress` gets a line whenever the query
/// waits for the HSS quota.
pub async fn execute(
    args: &QueryArgs,
    env: &dyn Fn(&str) -> Option<String>,
    progress: &mut dyn FnMut(String),
) -> Result<QueryReport, QueryError> {
    let scope = scope_from_args(args)?;
    let ids = collect_host_ids(&args.host_ids, args.hosts_file.as_deref())?;
    let iam_endpoint = iam_endpoint_from_args(args)?;
    let credentials = credentials_from_env(env, iam_endpoint)?;
    let mut config = ClientConfig {
        calls_per_minute: args.hss_calls_per_minute,
        ..ClientConfig::default()
    };
    if let Some(path) = &args.ca_bundle {
        config.extra_ca_pem = Some(std::fs::read(path).map_err(|e| {
            QueryError::Usage(format!(
                "cannot read --ca-bundle {}: {e}: give the path of a readable PEM file",
                path.display()
            ))
        })?);
    }
    query_report(config, &scope, &credentials, &ids, progress).await
}

/// Queries `ids` (without duplicates) with `credentials`, one request per chunk of ids, and
/// tells `progress` before each wait for the quota.
pub async fn query_report(
    config: ClientConfig,
    scope: &Scope,
    credentials: &Credentials,
    ids: &[String],
    progress: &mut dyn FnMut(String),
) -> Result<QueryReport, QueryError> {
    let calls_per_minute = config.calls_per_minute;
    let client = HssClient::new(config)?;
    let identity = credentials.identity();
    let mut result = HostsRiskResult::default();
    let mut asked = 0;
    for chunk in ids.chunks(client.config().chunk_size) {
        let wait = client
            .rate_limiter()
            .next_due(&identity)
            .saturating_duration_since(Instant::now());
        if wait >= PROGRESS_AFTER {
            progress(format!(
                "query: {asked} of {} hosts asked; waiting {}s for the HSS quota ({calls_per_minute} \
                 calls per minute per credential, --hss-calls-per-minute; {} ids per call)",
                ids.len(),
                wait.as_secs_f64().ceil(),
                client.config().chunk_size,
            ));
        }
        let part = client
            .list_hosts_risk_chunk(scope, credentials, chunk)
            .await
            .map_err(|e| QueryError::from_hss(e, credentials))?;
        result.hosts.extend(part.hosts);
        result.not_found.extend(part.not_found);
        result.request_ids.extend(part.request_ids);
        asked += chunk.len();
    }
    Ok(QueryReport::new(ids, &result))
}

/// The report in the chosen output format.
pub fn render(report: &QueryReport, output: OutputFormat) -> String {
    match output {
        OutputFormat::Table => report.to_table(),
        OutputFormat::Json => report.to_json() + "\n",
    }
}

fn hss_exit_code(error: &HssError) -> u8 {
    match error {
        HssError::InvalidScope { .. } | HssError::InvalidConfig { .. } => exit::USAGE,
        error if error.is_authentication() => exit::AUTHENTICATION,
        HssError::Throttled { .. } => exit::THROTTLED,
        _ => exit::API,
    }
}

fn parse_url(flag: &str, value: &str) -> Result<Url, QueryError> {
    Url::parse(value).map_err(|e| {
        QueryError::Usage(format!(
            "{flag} {value:?} is not a URL: {e}: write e.g. https://hss.example.com"
        ))
    })
}

pub fn scope_from_args(args: &QueryArgs) -> Result<Scope, QueryError> {
    let project_id = args
        .project_id
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            QueryError::Usage(
                "--project-id (or HUAWEICLOUD_SDK_PROJECT_ID) is required".to_string(),
            )
        })?;
    let eps = args.enterprise_project_id.clone();
    let scope = match (&args.region, &args.endpoint) {
        (Some(region), None) => Scope::for_region(region, project_id, eps),
        (None, Some(endpoint)) => {
            Scope::for_endpoint(parse_url("--endpoint", endpoint)?, project_id, eps)
        }
        _ => {
            return Err(QueryError::Usage(
                "give exactly one of --region or --endpoint".to_string(),
            ))
        }
    };
    scope.map_err(|e| QueryError::Usage(e.to_string()))
}

fn iam_endpoint_from_args(args: &QueryArgs) -> Result<Option<Url>, QueryError> {
    // An explicit --iam-endpoint wins: the user at the keyboard chose it.
    if let Some(explicit) = &args.iam_endpoint {
        return parse_url("--iam-endpoint", explicit).map(Some);
    }
    Ok(iam_endpoint_for_scope(args.region.as_deref(), None).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_by_failure() {
        let hss = |e| QueryError::Hss(e).exit_code();
        assert_eq!(
            hss(HssError::Authentication {
                auth: crate::hss::AuthKind::AkSk,
                body: Default::default(),
            }),
            exit::AUTHENTICATION
        );
        assert_eq!(
            hss(HssError::Throttled {
                retry_after: None,
                body: Default::default(),
            }),
            exit::THROTTLED
        );
        assert_eq!(
            hss(HssError::Timeout {
                target: "t".into(),
                message: "m".into()
            }),
            exit::API
        );
        let refused = QueryError::from_hss(
            HssError::Authentication {
                auth: crate::hss::AuthKind::Token,
                body: Default::default(),
            },
            &Credentials::Token(crate::hss::Secret::new("t")),
        );
        assert!(matches!(refused, QueryError::Refused { .. }));
        assert_eq!(refused.exit_code(), exit::AUTHENTICATION);
    }
}
