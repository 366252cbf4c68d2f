//! The schema's rules again in code (defense in depth: a CRD applied without them, an older
//! CRD version, or a stand-in API server must not let a bad spec reach HSS), plus the run-time
//! endpoint policy the schema cannot know (`--allowed-endpoints`).

use std::collections::BTreeSet;
use std::time::Duration;

use url::Url;

use super::duration::parse_duration;
use super::host_ids::HostIdList;
use super::schema::{
    is_dns1123_subdomain, AUDIENCE_MAX_LEN, ENDPOINT_MAX_LEN, ENTERPRISE_PROJECT_ID_MAX_LEN,
    HOST_IDS_MAX, HOST_ID_MAX_LEN, IDENTITY_PROVIDER_ID_MAX_LEN, INTERVAL_MAX_LEN,
    PROJECT_ID_MAX_LEN, SECRET_NAME_MAX_LEN,
};
use super::selector::{check_node_source, NodeSource};
use super::spec::{HostRiskWatchSpec, WorkloadIdentity};
pub use super::spec_error::{SpecError, SpecErrorKind};
use crate::crd::duration::format_duration;
use crate::hss::endpoint::{hss_endpoint_for_region, is_loopback, is_official_endpoint};

/// Operator-wide settings that shape validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationPolicy {
    /// Shortest interval accepted (`--min-interval`).
    pub min_interval: Duration,
    /// Interval used when `spec.interval` is absent (`--default-interval`); raised to
    /// `min_interval` if below it.
    pub default_interval: Duration,
    /// URL prefixes accepted for `spec.endpoint` besides official endpoints (`--allowed-endpoints`).
    /// A prefix matches on scheme, host and port exactly and on whole path segments, so
    /// `https://hss.example.com` does not admit `https://hss.example.com.evil.test`. Prefixes that
    /// do not parse as URLs match nothing.
    pub allowed_endpoint_prefixes: Vec<String>,
}

impl Default for ValidationPolicy {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(60),
            default_interval: Duration::from_secs(600),
            allowed_endpoint_prefixes: Vec::new(),
        }
    }
}

/// A spec that passed validation, with everything resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedSpec {
    /// The HSS endpoint: from the region table, or `spec.endpoint`.
    pub endpoint: Url,
    /// The region, when the spec named one.
    pub region: Option<String>,
    pub project_id: String,
    pub enterprise_project_id: Option<String>,
    /// The requested ids, in spec order (empty for a node-backed watch).
    pub host_ids: HostIdList,
    /// A node-backed watch's Nodes and where their ids are read (`None`: `host_ids` is the list).
    pub nodes: Option<NodeSource>,
    /// Where the credentials come from, in the resource's namespace.
    pub credentials: CredentialsSource,
    /// The interval in force.
    pub interval: Duration,
    pub suspend: bool,
}

/// Where a watch's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsSource {
    /// A Secret of the watch's namespace, by name.
    Secret(String),
    /// A ServiceAccount token of the watch's namespace, exchanged at IAM.
    WorkloadIdentity(WorkloadIdentity),
}

/// What a set of errors amounts to: `EndpointNotAllowed` when that is the only problem, else
/// `Invalid`.
pub fn condition_reason(errors: &[SpecError]) -> SpecErrorKind {
    if !errors.is_empty()
        && errors
            .iter()
            .all(|e| e.kind == SpecErrorKind::EndpointNotAllowed)
    {
        SpecErrorKind::EndpointNotAllowed
    } else {
        SpecErrorKind::Invalid
    }
}

/// All errors in one line, for a condition message.
pub fn describe(errors: &[SpecError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks `spec` against the schema's bounds and `policy`, reporting every problem at once.
pub fn validate_spec(
    spec: &HostRiskWatchSpec,
    policy: &ValidationPolicy,
) -> Result<ValidatedSpec, Vec<SpecError>> {
    let mut errors = Vec::new();
    check_length(
        &mut errors,
        "spec.projectId",
        &spec.project_id,
        PROJECT_ID_MAX_LEN,
    );
    if let Some(eps) = &spec.enterprise_project_id {
        check_length(
            &mut errors,
            "spec.enterpriseProjectId",
            eps,
            ENTERPRISE_PROJECT_ID_MAX_LEN,
        );
    }
    let nodes = check_node_source(
        &mut errors,
        &spec.host_ids,
        spec.node_selector.as_ref(),
        spec.node_host_id_from.as_ref(),
    );
    if spec.node_selector.is_none() {
        check_host_ids(&mut errors, &spec.host_ids);
    }
    let credentials = resolve_credentials(&mut errors, spec);
    let endpoint = resolve_endpoint(&mut errors, spec, policy);
    let interval = resolve_interval(&mut errors, spec.interval.as_deref(), policy);
    match (endpoint, interval, credentials) {
        (Some(endpoint), Some(interval), Some(credentials)) if errors.is_empty() => {
            Ok(ValidatedSpec {
                endpoint,
                region: spec.region.clone(),
                project_id: spec.project_id.clone(),
                enterprise_project_id: spec.enterprise_project_id.clone(),
                host_ids: spec.host_ids.clone(),
                nodes,
                credentials,
                interval,
                suspend: spec.suspend,
            })
        }
        _ => Err(errors),
    }
}

fn check_length(errors: &mut Vec<SpecError>, field: &'static str, value: &str, max: usize) {
    // The API server counts characters (code points), not bytes.
    let len = value.chars().count();
    if len == 0 {
        errors.push(SpecError::invalid(
            field,
            "must not be empty: set it, or remove the field if it is optional",
        ));
    } else if len > max {
        errors.push(SpecError::invalid(
            field,
            format!("is {len} characters long; at most {max} are allowed: shorten it"),
        ));
    }
}

/// Whether `id` is a host id `spec.hostIds` admits: 1 to [`HOST_ID_MAX_LEN`] characters (the
/// schema's `minLength`/`maxLength`, which count characters). `hostrisk-operator query` holds its
/// ids to the same rule.
pub fn is_valid_host_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= HOST_ID_MAX_LEN
}

fn check_host_ids(errors: &mut Vec<SpecError>, host_ids: &HostIdList) {
    const FIELD: &str = "spec.hostIds";
    if host_ids.is_empty() {
        errors.push(SpecError::invalid(
            FIELD,
            "list at least one host id, or watch the cluster's Nodes with spec.nodeSelector",
        ));
    }
    if host_ids.len() > HOST_IDS_MAX {
        errors.push(SpecError::invalid(
            FIELD,
            format!(
                "lists {} ids; at most {HOST_IDS_MAX} are allowed per resource: split the hosts over several HostRiskWatch resources",
                host_ids.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut duplicates = BTreeSet::new();
    for id in host_ids.iter() {
        if !seen.insert(id) {
            duplicates.insert(id);
        }
    }
    if !duplicates.is_empty() {
        let list: Vec<_> = duplicates.into_iter().collect();
        errors.push(SpecError::invalid(
            FIELD,
            format!(
                "lists {} more than once; list each id once",
                list.join(", ")
            ),
        ));
    }
    let bad: Vec<_> = host_ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !is_valid_host_id(id))
        .map(|(i, _)| i.to_string())
        .collect();
    if !bad.is_empty() {
        errors.push(SpecError::invalid(
            FIELD,
            format!(
                "entries at index {} must be 1 to {HOST_ID_MAX_LEN} characters long: use the host ids HSS shows",
                bad.join(", ")
            ),
        ));
    }
}

fn resolve_credentials(
    errors: &mut Vec<SpecError>,
    spec: &HostRiskWatchSpec,
) -> Option<CredentialsSource> {
    match (&spec.credentials_secret_ref, &spec.workload_identity) {
        (Some(secret), None) => {
            check_object_name(
                errors,
                "spec.credentialsSecretRef.name",
                "a Secret",
                &secret.name,
            );
            Some(CredentialsSource::Secret(secret.name.clone()))
        }
        (None, Some(identity)) => {
            check_object_name(
                errors,
                "spec.workloadIdentity.serviceAccountName",
                "a ServiceAccount",
                &identity.service_account_name,
            );
            check_length(
                errors,
                "spec.workloadIdentity.identityProviderId",
                &identity.identity_provider_id,
                IDENTITY_PROVIDER_ID_MAX_LEN,
            );
            check_length(
                errors,
                "spec.workloadIdentity.audience",
                &identity.audience,
                AUDIENCE_MAX_LEN,
            );
            Some(CredentialsSource::WorkloadIdentity(identity.clone()))
        }
        _ => {
            errors.push(SpecError::invalid(
                "spec",
                super::cel::ONE_CREDENTIALS_SOURCE_MESSAGE,
            ));
            None
        }
    }
}

fn check_object_name(errors: &mut Vec<SpecError>, field: &'static str, what: &str, name: &str) {
    if !is_dns1123_subdomain(name) {
        errors.push(SpecError::invalid(
            field,
            format!(
                "`{name}` is not {what} name: use 1 to {SECRET_NAME_MAX_LEN} lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
            ),
        ));
    }
}

fn resolve_endpoint(
    errors: &mut Vec<SpecError>,
    spec: &HostRiskWatchSpec,
    policy: &ValidationPolicy,
) -> Option<Url> {
    match (&spec.region, &spec.endpoint) {
        (Some(_), Some(_)) => {
            errors.push(SpecError::invalid(
                "spec.region",
                "spec.region and spec.endpoint are mutually exclusive: remove one of them",
            ));
            None
        }
        (None, None) => {
            errors.push(SpecError::invalid(
                "spec.region",
                "set spec.region (e.g. ap-southeast-1) or spec.endpoint (a URL)",
            ));
            None
        }
        (Some(region), None) => {
            let url = hss_endpoint_for_region(region);
            if url.is_none() {
                errors.push(SpecError::invalid(
                    "spec.region",
                    format!("`{region}` is not a known HSS region; use one of the regions listed in the CRD schema, or spec.endpoint"),
                ));
            }
            url
        }
        (None, Some(endpoint)) => check_endpoint(errors, endpoint, policy),
    }
}

fn check_endpoint(
    errors: &mut Vec<SpecError>,
    endpoint: &str,
    policy: &ValidationPolicy,
) -> Option<Url> {
    const FIELD: &str = "spec.endpoint";
    // The API server counts characters (code points), not bytes.
    let len = endpoint.chars().count();
    if len == 0 || len > ENDPOINT_MAX_LEN {
        errors.push(SpecError::invalid(
            FIELD,
            format!("is {len} characters long; write a URL of 1 to {ENDPOINT_MAX_LEN} characters such as https://hss.example.com, or use spec.region"),
        ));
        return None;
    }
    let url = match Url::parse(endpoint) {
        Ok(url) => url,
        Err(err) => {
            errors.push(SpecError::invalid(
                FIELD,
                format!("`{endpoint}` is not a URL ({err}); write e.g. https://hss.example.com"),
            ));
            return None;
        }
    };
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        errors.push(SpecError::invalid(
            FIELD,
            "must be an https:// URL with a host (http:// only for loopback test endpoints)",
        ));
        return None;
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        errors.push(SpecError::invalid(
            FIELD,
            "must not carry credentials, a query or a fragment: credentials belong in the Secret",
        ));
        return None;
    }
    if is_official_endpoint(&url) {
        return Some(url);
    }
    let listed = policy
        .allowed_endpoint_prefixes
        .iter()
        .filter_map(|prefix| Url::parse(prefix).ok())
        .any(|prefix| matches_prefix(&url, &prefix));
    let allowed = listed && (url.scheme() == "https" || is_loopback(&url));
    if !allowed {
        let why = if url.scheme() == "http" && !is_loopback(&url) {
            "plain http:// is only accepted for loopback addresses; use https://"
        } else {
            "it is neither an official Huawei Cloud endpoint nor under a prefix the operator's --allowed-endpoints lists; use spec.region, or ask the operator's administrator to allow it"
        };
        errors.push(SpecError {
            field: FIELD,
            message: format!("`{url}` is not allowed: {why}"),
            kind: SpecErrorKind::EndpointNotAllowed,
        });
        return None;
    }
    Some(url)
}

/// Same scheme, host and port; the prefix's path is a whole-segment prefix of the URL's path.
fn matches_prefix(url: &Url, prefix: &Url) -> bool {
    if url.scheme() != prefix.scheme()
        || url.host_str() != prefix.host_str()
        || url.port_or_known_default() != prefix.port_or_known_default()
    {
        return false;
    }
    let base = prefix.path().trim_end_matches('/');
    match url.path().strip_prefix(base) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

fn resolve_interval(
    errors: &mut Vec<SpecError>,
    interval: Option<&str>,
    policy: &ValidationPolicy,
) -> Option<Duration> {
    const FIELD: &str = "spec.interval";
    let Some(text) = interval else {
        return Some(policy.default_interval.max(policy.min_interval));
    };
    if text.chars().count() > INTERVAL_MAX_LEN {
        errors.push(SpecError::invalid(
            FIELD,
            format!("must be at most {INTERVAL_MAX_LEN} characters long: write a duration such as 30s, 5m, 1h or 1h30m"),
        ));
        return None;
    }
    match parse_duration(FIELD, text) {
        Ok(value) if value < policy.min_interval => {
            errors.push(SpecError::invalid(
                FIELD,
                format!(
                    "`{text}` is below the minimum of {}; poll at most that often",
                    format_duration(policy.min_interval)
                ),
            ));
            None
        }
        Ok(value) => Some(value),
        Err(err) => {
            errors.push(SpecError::invalid(
                FIELD,
                err.to_string()
                    .trim_start_matches(FIELD)
                    .trim_start()
                    .to_string(),
            ));
            None
        }
    }
}

#[cfg(test)]
#[path = "validation_tests.rs"]
mod tests;
