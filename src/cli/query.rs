//! `hostrisk-operator query`: one ListHostsRisk query from the command line.

use std::path::PathBuf;

use url::Url;

use super::exit;
use super::output::QueryReport;
use crate::hss::endpoint::iam_endpoint_for_region;
use crate::hss::{dedup_ids, ClientConfig, Credentials, HssClient, HssError, Scope, Secret};

const AFTER_HELP: &str = "\
Credentials come from the environment, exactly one kind:
  HUAWEICLOUD_SDK_AK + HUAWEICLOUD_SDK_SK (+ HUAWEICLOUD_SDK_SECURITY_TOKEN for temporary keys)
  HOSTRISK_AUTH_TOKEN (a static IAM token)
  HOSTRISK_IAM_USERNAME + HOSTRISK_IAM_PASSWORD + HOSTRISK_IAM_DOMAIN (IAM login; IAM endpoint
    from --region or --iam-endpoint)

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
            QueryError::Usage(format!("cannot read --ca-bundle {}: {e}", path.display()))
        })?);
    }
    let client = HssClient::new(config)?;
    let result = client.list_hosts_risk(&scope, &credentials, &ids).await?;
    let report = QueryReport::new(&ids, &result);
    Ok(match args.output {
        OutputFormat::Table => report.to_table(),
        OutputFormat::Json => report.to_json() + "\n",
    })
}

fn parse_url(flag: &str, value: &str) -> Result<Url, QueryError> {
    Url::parse(value).map_err(|e| QueryError::Usage(format!("{flag} {value:?} is not a URL: {e}")))
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
    let mut ids: Vec<String> = args.host_ids.iter().map(|s| s.trim().to_string()).collect();
    if let Some(path) = &args.hosts_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            QueryError::Usage(format!("cannot read --hosts-file {}: {e}", path.display()))
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

const AKSK_VARS: &str = "HUAWEICLOUD_SDK_AK + HUAWEICLOUD_SDK_SK";
const TOKEN_VAR: &str = "HOSTRISK_AUTH_TOKEN";
const IAM_VARS: &str = "HOSTRISK_IAM_USERNAME + HOSTRISK_IAM_PASSWORD + HOSTRISK_IAM_DOMAIN";

/// Exactly one kind of credentials from the environment (empty variables count as unset).
pub fn credentials_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    iam_endpoint: Option<Url>,
) -> Result<Credentials, QueryError> {
    let get = |name: &str| env(name).filter(|v| !v.is_empty());
    let ak = get("HUAWEICLOUD_SDK_AK");
    let sk = get("HUAWEICLOUD_SDK_SK");
    let security_token = get("HUAWEICLOUD_SDK_SECURITY_TOKEN");
    let token = get(TOKEN_VAR);
    let username = get("HOSTRISK_IAM_USERNAME");
    let password = get("HOSTRISK_IAM_PASSWORD");
    let domain = get("HOSTRISK_IAM_DOMAIN");
    let aksk_any = ak.is_some() || sk.is_some() || security_token.is_some();
    let iam_any = username.is_some() || password.is_some() || domain.is_some();
    let kinds = [aksk_any, token.is_some(), iam_any]
        .iter()
        .filter(|k| **k)
        .count();
    if kinds == 0 {
        return Err(QueryError::Usage(format!(
            "no credentials in the environment: set {AKSK_VARS} (+ HUAWEICLOUD_SDK_SECURITY_TOKEN), \
             or {TOKEN_VAR}, or {IAM_VARS}"
        )));
    }
    if kinds > 1 {
        return Err(QueryError::Usage(format!(
            "several kinds of credentials in the environment: set only one of {AKSK_VARS}, \
             {TOKEN_VAR}, or {IAM_VARS}"
        )));
    }
    if aksk_any {
        return match (ak, sk) {
            (Some(ak), Some(sk)) => Ok(Credentials::AkSk {
                access_key: ak,
                secret_key: Secret::new(sk),
                security_token: security_token.map(Secret::new),
            }),
            _ => Err(QueryError::Usage(format!(
                "incomplete access keys: {AKSK_VARS} must both be set"
            ))),
        };
    }
    if let Some(token) = token {
        return Ok(Credentials::Token(Secret::new(token)));
    }
    match (username, password, domain) {
        (Some(username), Some(password), Some(domain_name)) => {
            let iam_endpoint = iam_endpoint.ok_or_else(|| {
                QueryError::Usage(
                    "IAM credentials need an IAM endpoint: give --region or --iam-endpoint"
                        .to_string(),
                )
            })?;
            Ok(Credentials::Iam {
                username,
                password: Secret::new(password),
                domain_name,
                iam_endpoint,
            })
        }
        _ => Err(QueryError::Usage(format!(
            "incomplete IAM credentials: {IAM_VARS} must all be set"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn exactly_one_kind_of_credentials() {
        let none = credentials_from_env(&env_of(&[]), None).expect_err("none");
        assert!(none.to_string().contains("HUAWEICLOUD_SDK_AK"));
        assert_eq!(none.exit_code(), exit::USAGE);
        let both = credentials_from_env(
            &env_of(&[
                ("HUAWEICLOUD_SDK_AK", "a"),
                ("HUAWEICLOUD_SDK_SK", "s"),
                ("HOSTRISK_AUTH_TOKEN", "t"),
            ]),
            None,
        )
        .expect_err("both");
        assert!(both.to_string().contains("several kinds"));
        let half = credentials_from_env(&env_of(&[("HUAWEICLOUD_SDK_AK", "a")]), None);
        assert!(half.is_err());
        let temp = credentials_from_env(
            &env_of(&[
                ("HUAWEICLOUD_SDK_AK", "a"),
                ("HUAWEICLOUD_SDK_SK", "s"),
                ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "st"),
            ]),
            None,
        )
        .expect("temporary keys");
        assert!(matches!(
            temp,
            Credentials::AkSk {
                security_token: Some(_),
                ..
            }
        ));
        let iam_env = env_of(&[
            ("HOSTRISK_IAM_USERNAME", "u"),
            ("HOSTRISK_IAM_PASSWORD", "p"),
            ("HOSTRISK_IAM_DOMAIN", "d"),
        ]);
        assert!(credentials_from_env(&iam_env, None).is_err());
        let iam = Url::parse("https://iam.example").expect("url");
        assert!(matches!(
            credentials_from_env(&iam_env, Some(iam)),
            Ok(Credentials::Iam { .. })
        ));
    }

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
                code: None,
                message: None,
                request_id: None
            }),
            exit::AUTHENTICATION
        );
        assert_eq!(
            hss(HssError::Throttled {
                retry_after: None,
                code: None,
                message: None,
                request_id: None
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
