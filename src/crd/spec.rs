//! `HostRiskWatch` spec and the resource definition (printer columns, names, scope).

// Clippy mistakes the repeated `type_ = ...` of distinct printer columns for duplicates.
#![allow(clippy::duplicated_attributes)]

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::host_ids::HostIdList;
use super::nodes::{NodeHostIdFrom, NodeSelector};
use super::schema::{
    self, AUDIENCE_MAX_LEN, DNS1123_SUBDOMAIN_PATTERN, ENDPOINT_MAX_LEN,
    ENTERPRISE_PROJECT_ID_MAX_LEN, HOST_IDS_MAX, HOST_ID_MAX_LEN, IDENTITY_PROVIDER_ID_MAX_LEN,
    INTERVAL_MAX_LEN, INTERVAL_PATTERN, PROJECT_ID_MAX_LEN, SECRET_NAME_MAX_LEN,
};
use super::status::HostRiskWatchStatus;

/// Mirror the Huawei Cloud HSS risk status (`ListHostsRisk`) of a set of hosts into this
/// resource's status, polling every `interval`.
#[derive(CustomResource, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "hostrisk.io",
    version = "v1alpha1",
    kind = "HostRiskWatch",
    plural = "hostriskwatches",
    singular = "hostriskwatch",
    shortname = "hrw",
    category = "hss",
    namespaced,
    status = "HostRiskWatchStatus",
    derive = "PartialEq",
    doc = "Watches the Huawei Cloud HSS risk status of a set of hosts.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#,
        description = "Whether the last poll answered for the current spec"
    ),
    printcolumn(
        name = "Source",
        type_ = "string",
        json_path = ".status.source",
        description = "Where the hosts come from: hostIds, or nodes (with the node selector)"
    ),
    printcolumn(
        name = "Hosts",
        type_ = "integer",
        json_path = ".status.summary.hostsRequested",
        description = "Hosts watched: the ids of spec.hostIds, or those of the selected nodes"
    ),
    printcolumn(
        name = "At Risk",
        type_ = "integer",
        json_path = ".status.summary.detectRisk",
        description = "Hosts whose detect result is risk"
    ),
    printcolumn(
        name = "Unprotected",
        type_ = "integer",
        json_path = ".status.summary.protectionClosed",
        description = "Hosts whose protection is closed"
    ),
    printcolumn(
        name = "Offline",
        type_ = "integer",
        json_path = ".status.summary.agentOffline",
        description = "Hosts whose HSS agent is offline"
    ),
    printcolumn(
        name = "Last Sync",
        type_ = "date",
        json_path = ".status.lastSyncTime",
        description = "When the data was last confirmed by HSS"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Vulnerabilities",
        type_ = "integer",
        json_path = ".status.summary.vulnerabilityTotal",
        priority = 1,
        description = "Sum of vulnerability counts over found hosts"
    ),
    printcolumn(
        name = "Baseline",
        type_ = "integer",
        json_path = ".status.summary.baselineTotal",
        priority = 1,
        description = "Sum of baseline (configuration) risk counts over found hosts"
    ),
    printcolumn(
        name = "Intrusions",
        type_ = "integer",
        json_path = ".status.summary.intrusionTotal",
        priority = 1,
        description = "Sum of intrusion alarm counts over found hosts"
    ),
    printcolumn(
        name = "Unresolved",
        type_ = "integer",
        json_path = ".status.nodes.unresolved",
        priority = 1,
        description = "Selected nodes that are not watched (see status.unresolvedNodes)"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = schema::spec_rules)]
pub struct HostRiskWatchSpec {
    /// Huawei Cloud project id the hosts belong to (the `{project_id}` of the HSS API), 1 to 256
    /// characters.
    #[schemars(length(min = 1, max = PROJECT_ID_MAX_LEN))]
    pub project_id: String,

    /// Huawei Cloud region of the HSS service, e.g. `ap-southeast-1`; the endpoint is
    /// `https://hss.<region>.myhuaweicloud.com` (`.eu` for eu-west-101). Exactly one of `region`
    /// and `endpoint` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::region_schema")]
    pub region: Option<String>,

    /// Explicit HSS endpoint URL (private clouds, proxies, tests), at most 2048 characters.
    /// Exactly one of `region` and `endpoint` is set. The operator accepts official Huawei Cloud
    /// endpoints and the prefixes its administrator listed in `--allowed-endpoints`; plain
    /// `http://` only for loopback addresses that are listed. Anything else is refused with the
    /// condition reason `EndpointNotAllowed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(url, length(min = 1, max = ENDPOINT_MAX_LEN), transform = schema::endpoint_rules)]
    pub endpoint: Option<String>,

    /// Enterprise project to query, 1 to 256 characters; absent means the default enterprise
    /// project `0`, `all_granted_eps` means every enterprise project the credentials may see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = ENTERPRISE_PROJECT_ID_MAX_LEN))]
    pub enterprise_project_id: Option<String>,

    /// HSS host ids (ECS server ids) to watch: 1 to 1000 unique ids of 1 to 64 characters.
    /// The cap keeps the status under 1 MB (at most about 1 KB per host including
    /// `managedFields`), well below etcd's 1.5 MiB object limit; split larger fleets over several
    /// resources. Exactly one of `hostIds` and `nodeSelector` is set.
    #[serde(default, skip_serializing_if = "HostIdList::is_empty")]
    #[schemars(
        length(min = 1, max = HOST_IDS_MAX),
        inner(length(min = 1, max = HOST_ID_MAX_LEN)),
        transform = schema::list_set
    )]
    pub host_ids: HostIdList,

    /// Watch the hosts of this cluster's Nodes instead of a list of ids: a label selector over
    /// Nodes (`{}` selects every Node). Nodes joining or leaving change the watched hosts within
    /// seconds. A Node's ECS server id is read from `spec.providerID` (`huaweicloud:///<id>`,
    /// `huaweicloud://<id>`, or a bare id) unless `nodeHostIdFrom` says otherwise; Nodes without
    /// a usable id are listed in `status.unresolvedNodes`. At most 1000 hosts, as for `hostIds`.
    /// Exactly one of `hostIds` and `nodeSelector` is set. Needs an operator watching all
    /// namespaces and started with `--node-watches` (chart value `nodeWatches.enabled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<NodeSelector>,

    /// For node-backed watches whose Nodes carry the ECS server id elsewhere than
    /// `spec.providerID`: the Node label or annotation holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_host_id_from: Option<NodeHostIdFrom>,

    /// The Secret holding the HSS credentials, in the same namespace as this resource. Exactly
    /// one of `credentialsSecretRef` and `workloadIdentity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<CredentialsSecretRef>,

    /// Keyless credentials: the operator mints a short-lived token for this ServiceAccount of
    /// the resource's own namespace and exchanges it at IAM (an OpenID Connect identity provider
    /// trusting the cluster's ServiceAccount issuer) for an IAM token. No access key anywhere.
    /// Exactly one of `credentialsSecretRef` and `workloadIdentity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<WorkloadIdentity>,

    /// How often to poll HSS, Kubernetes-style: `90s`, `10m`, `1h` or `1h30m` (whole numbers, units
    /// h, m, s largest first, each at most once); at least `1m`.
    /// When absent the operator's `--default-interval` applies (10m unless changed). Resources
    /// sharing credentials are batched and paced together, so the interval achieved can be longer:
    /// see `status.effectiveInterval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 2, max = INTERVAL_MAX_LEN),
        regex(pattern = INTERVAL_PATTERN),
        transform = schema::interval_rules
    )]
    pub interval: Option<String>,

    /// Stop polling while true; the status keeps the last data and says `Suspended`.
    #[serde(default)]
    pub suspend: bool,
}

/// A ServiceAccount of the resource's namespace, the IAM identity provider that trusts the
/// cluster's ServiceAccount tokens, and the audience (the provider's client id) to mint them for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadIdentity {
    /// Name of the ServiceAccount (a DNS-1123 subdomain); there is deliberately no namespace
    /// field: a resource may only act as a ServiceAccount of its own namespace.
    #[schemars(length(min = 1, max = SECRET_NAME_MAX_LEN), regex(pattern = DNS1123_SUBDOMAIN_PATTERN))]
    pub service_account_name: String,
    /// Id of the IAM identity provider (sent as `X-Idp-Id`); the operator only uses the ones it
    /// was started with (`--workload-identity-providers`).
    #[schemars(length(min = 1, max = IDENTITY_PROVIDER_ID_MAX_LEN))]
    pub identity_provider_id: String,
    /// Audience of the minted token: the identity provider's client id. The operator only mints
    /// tokens for audiences it was started with (`--workload-identity-audiences`).
    #[schemars(length(min = 1, max = AUDIENCE_MAX_LEN))]
    pub audience: String,
}

/// Reference to a Secret in the resource's own namespace. Accepted key sets: `accessKey` +
/// `secretKey` (+ optional `securityToken`), or `authToken`, or `username` + `password` +
/// `domainName` (IAM token). Exactly one set may be present.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSecretRef {
    /// Name of the Secret (a DNS-1123 subdomain). There is deliberately no namespace field: a
    /// resource may only use a Secret of its own namespace.
    #[schemars(length(min = 1, max = SECRET_NAME_MAX_LEN), regex(pattern = DNS1123_SUBDOMAIN_PATTERN))]
    pub name: String,
}
