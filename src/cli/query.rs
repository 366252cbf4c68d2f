//! `hostrisk-operator query`: one ListHostsRisk query from the command line.

use std::path::PathBuf;

use url::Url;

use super::env_credentials::{credentials_from_env, EnvCredentialsError};
use super::exit;
use super::output::QueryReport;
use crate::hss::endpoint::iam_endpoint_for_region;
use crate::hss::{dedup_ids, ClientConfig, Credentials, HssClient, HssError, Scope};

const AFTER_HELP: &str = "\
Credentials come from the environment, exactly one kind:
  HUAWEICLOUD_SDK_AK + HUAWEICLOUD_SDK_SK (+ HUAWEICLOUD_SDK_SECURITY_TOKEN for temporary keys)
  HOSTRISK_AUTH_TOKEN (a static IAM token)
  HOSTRISK_IAM_USERNAME + HOSTRISK_IAM_PASSWORD + HOSTRISK_IAM_DOMAIN (IAM login; IAM endpoint
    from --region or --iam-endpoint)

To try it without an account, `hostrisk-dev query` (crates/devtools) runs the same query against
an in-process HSS simulator.

Exit codes: 0 ok, 2 usage error, 3 authentication failed, 4 throttled, 5 other API or
transport failure.";

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
    /// A host (ECS) ID; repeat for several.
    #[arg(long = "host-id", value_name = "ID")]
    pub host_ids: Vec<String>,
    /// File with one host ID per line; blank lines and lines starting with # are skipped.
    #[arg(long, value_name = "FILE")]
    pub hosts_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// IAM endpoint for username/password credentials (default: the region's).
    #[arg(long)]
    pub iam_endpoint: Option<String>,
    /// Extra PEM CA bundle trusted for HSS and IAM (TLS verification is always on).
    #[arg(long, value_name = "PATH")]
    pub ca_bundle: Option<PathBuf>,
    /// HSS calls per minute for this credential (the service allows 5).
    #[arg(long, default_value_t = crate::hss::config::DEFAULT_CALLS_PER_MINUTE)]
    pub calls_per_minute: u32,
    /// Log level (tracing EnvFilter syntax); logs go to stderr.
    #[arg(long, default_value = "warn")]
    pub log_level: String,
}

/// Why a query did not print a result; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Hss(#[from] HssError),
}

impl From<EnvCredentialsError> for QueryError {
    fn from(error: EnvCredentialsError) -> Self {
        Self::Usage(error.0)
    }
}

impl QueryError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => exit::USAGE,
            Self::Hss(HssError::InvalidScope { .. } | HssError::InvalidConfig { .. }) => {
                exit::USAGE
            }
            Self::Hss(err) if err.is_authentication() => exit::AUTHENTICATION,
            Self::Hss(HssError::Throttled { .. }) => exit::THROTTLED,
            Self::Hss(_) => exit::API,
        }
    }
}

/// Runs the query and prints the result to stdout; returns the exit code.
pub async fn run(args: QueryArgs) -> u8 {
    if let Err(e) = crate::telemetry::init_logging(&args.log_level, Default::default()) {
        eprintln!("error: {e}");
        return exit::USAGE;
    }
    match execute(&args, &|name| std::env::var(name).ok()).await {
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

/// Everything but printing: returns the rendered output.
pub async fn execute(
    args: &QueryArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, QueryError> {
    let scope = scope_from_args(args)?;
    let ids = host_ids(args)?;
    let iam_endpoint = iam_endpoint_from_args(args)?;
    let credentials = credentials_from_env(env, iam_endpoint)?;
    let mut config = ClientConfig {
        calls_per_minute: args.calls_per_minute,
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
    query_and_render(args.output, config, &scope, &credentials, &ids).await
}

/// Queries `ids` with `credentials` and renders the report in the chosen output format.
pub async fn query_and_render(
    output: OutputFormat,
    config: ClientConfig,
    scope: &Scope,
    credentials: &Credentials,
    ids: &[String],
) -> Result<String, QueryError> {
    let client = HssClient::new(config)?;
    let result = client.list_hosts_risk(scope, credentials, ids).await?;
    let report = QueryReport::new(ids, &result);
    Ok(match output {
        OutputFormat::Table => report.to_table(),
        OutputFormat::Json => report.to_json() + "\n",
    })
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
    if let Some(explicit) = &args.iam_endpoint {
        return parse_url("--iam-endpoint", explicit).map(Some);
    }
    Ok(args.region.as_deref().and_then(iam_endpoint_for_region))
}

/// `--host-id` values then `--hosts-file` lines, duplicates removed, first order kept.
pub fn host_ids(args: &QueryArgs) -> Result<Vec<String>, QueryError> {
    collect_host_ids(&args.host_ids, args.hosts_file.as_deref())
}

/// The ids of `--host-id` and `--hosts-file`, deduplicated.
pub fn collect_host_ids(
    given: &[String],
    hosts_file: Option<&std::path::Path>,
) -> Result<Vec<String>, QueryError> {
    let mut ids: Vec<String> = given.iter().map(|s| s.trim().to_string()).collect();
    if let Some(path) = hosts_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            QueryError::Usage(format!("cannot read --hosts-file {}: {e}: give the path of a readable file with one host id per line", path.display()))
        })?;
        ids.extend(parse_hosts_file(&text));
    }
    ids.retain(|id| !id.is_empty());
    if ids.is_empty() {
        return Err(QueryError::Usage(
            "no host ids: give --host-id ID (repeatable) or --hosts-file FILE".to_string(),
        ));
    }
    Ok(dedup_ids(&ids))
}

/// One id per line; blank lines and `#` comments (whole line or trailing) are skipped.
pub fn parse_hosts_file(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn hosts_file_skips_comments_and_blanks() {
        let ids = parse_hosts_file("# fleet\nh1\n\n  h2  # web\n#h3\nh1\n");
        assert_eq!(ids, vec!["h1", "h2", "h1"]);
    }

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
    }
}
