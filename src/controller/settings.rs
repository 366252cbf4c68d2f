//! The operator-wide settings of the controller (from `run`'s flags), and the names it goes by.

use std::time::Duration;

use crate::crd::validation::ValidationPolicy;
use crate::hss::retry::Backoff;
use crate::nodes::policy::NodeConditionPolicy;
use crate::reports::ReportSettings;

/// Name under which the operator reports Events, manages fields and identifies itself.
pub const CONTROLLER_NAME: &str = "hostrisk-operator";

/// `User-Agent` of every request the operator sends to the Kubernetes API (and to HSS, see
/// `hostrisk_hss::config::DEFAULT_USER_AGENT`), so audit logs and API server metrics tell it
/// apart.
pub const USER_AGENT: &str = concat!("hostrisk-operator/", env!("CARGO_PKG_VERSION"));

/// A Kubernetes client from `config` that names the operator in its `User-Agent`.
pub fn kube_client(mut config: kube::Config) -> Result<kube::Client, kube::Error> {
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(USER_AGENT),
    ));
    kube::Client::try_from(config)
}

/// Retry timing after a failed reconcile or HSS call: exponential from `base` with full jitter,
/// capped at the watch's interval, never below `floor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    pub base: Duration,
    pub floor: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(10),
            floor: Duration::from_secs(1),
        }
    }
}

impl BackoffPolicy {
    /// The backoff for a watch polled every `interval`.
    pub fn capped_at(self, interval: Duration) -> Backoff {
        Backoff {
            base: self.base,
            max: interval,
            floor: self.floor,
        }
    }
}

/// What the administrator allows (`run --workload-identity-*`). Empty lists: workload identity
/// is off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkloadIdentityPolicy {
    pub audiences: Vec<String>,
    pub identity_providers: Vec<String>,
}

impl WorkloadIdentityPolicy {
    pub fn is_enabled(&self) -> bool {
        !self.audiences.is_empty() && !self.identity_providers.is_empty()
    }
}

/// Operator-wide settings of the reconciler.
#[derive(Debug, Clone)]
pub struct ControllerSettings {
    /// Spec validation: interval floor and default, allowed endpoints.
    pub policy: ValidationPolicy,
    /// Longest time `status.lastSyncTime` may lag a successful poll (`--status-heartbeat`).
    pub status_heartbeat: Duration,
    /// Reconciles running at once, and HSS calls in flight at once, over all namespaces.
    pub concurrency: u16,
    /// Retry timing after a failed poll or reconcile.
    pub backoff: BackoffPolicy,
    /// `reportingInstance` of the Events (the pod name, else the host name).
    pub instance: String,
    /// IAM endpoint for username/password Secrets of watches that set `spec.endpoint` (a
    /// private cloud, where no region names the IAM endpoint). Set by the administrator
    /// (`--iam-endpoint`), never by a watch: a namespace user cannot send a password elsewhere.
    pub iam_endpoint: Option<url::Url>,
    /// Serve node-backed watches (`spec.nodeSelector`) with a watch of the cluster's Nodes
    /// (`--node-watches`; needs get/list/watch on nodes and an operator watching all namespaces).
    pub node_watches: bool,
    /// Which audiences and identity providers watches may use for keyless credentials.
    pub workload_identity: WorkloadIdentityPolicy,
    /// Node conditions and taints from node-backed watches (`--node-conditions`,
    /// `--node-taint*`; off by default).
    pub node_conditions: NodeConditionPolicy,
    /// Policy reports: which API (if any), how many results, what to remove at start.
    pub policy_reports: ReportSettings,
}

impl Default for ControllerSettings {
    fn default() -> Self {
        Self {
            policy: ValidationPolicy::default(),
            status_heartbeat: Duration::from_secs(30 * 60),
            concurrency: 4,
            backoff: BackoffPolicy::default(),
            instance: default_instance(),
            iam_endpoint: None,
            node_watches: false,
            workload_identity: WorkloadIdentityPolicy::default(),
            node_conditions: NodeConditionPolicy::default(),
            policy_reports: ReportSettings::default(),
        }
    }
}

/// The instance name for Events: env `POD_NAME`, else `HOSTNAME`, else `/etc/hostname`.
pub fn default_instance() -> String {
    std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| CONTROLLER_NAME.to_string())
}
