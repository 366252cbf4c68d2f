//! The values that cross the poller's API: keys, registrations, options, updates, statistics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::hss::config::MAX_CHUNK_SIZE;
use crate::hss::{ClientConfig, Credentials, Scope};
use crate::metrics::Metrics;
use crate::status::{HostId, PollAnswer, PollFailure};

pub use crate::crd::WatchKey;

/// What watches must share to be served by one group: same endpoint, project, enterprise
/// project and credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub endpoint: String,
    pub project_id: String,
    pub enterprise_project_id: Option<String>,
    /// [`crate::hss::CredentialIdentity`] as text: `ak:<AK>`, `iam:...`, `token:<hash>`.
    pub identity: String,
    /// [`Credentials::material_digest`]: two Secrets naming one identity with different keys
    /// (one of them wrong, or mid-rotation) get groups of their own instead of taking turns at
    /// the group's credentials. Never shown (not in `Display`); quota stays shared, since the
    /// rate limiter is keyed by `identity` alone.
    pub material: u64,
}

impl GroupKey {
    pub fn new(scope: &Scope, credentials: &Credentials) -> Self {
        Self {
            endpoint: scope.endpoint.as_str().to_string(),
            project_id: scope.project_id.clone(),
            enterprise_project_id: scope.enterprise_project_id.clone(),
            identity: credentials.identity().to_string(),
            material: credentials.material_digest(),
        }
    }
}

impl std::fmt::Display for GroupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} project={} eps={} identity={}",
            self.endpoint,
            self.project_id,
            self.enterprise_project_id.as_deref().unwrap_or("-"),
            self.identity
        )
    }
}

/// Everything the poller needs to serve one watch. Registering again with an equal
/// registration is a no-op; a new `revision`, other ids or another group polls it promptly.
#[derive(Debug, Clone)]
pub struct WatchRegistration {
    pub key: WatchKey,
    pub scope: Scope,
    pub credentials: Credentials,
    /// Duplicates are ignored; order is kept (it decides how ids are packed into calls). A new
    /// id's allocation is the one the table keeps, shared with the watch's status; a list of
    /// the table's ids without repeats is kept as it is, shared with the spec that gave it.
    pub host_ids: Arc<[HostId]>,
    /// Target time between two complete refreshes.
    pub interval: Duration,
    /// Opaque token of what the controller saw (uid, generation, refresh annotation, Secret
    /// version...): a different value asks for a prompt refresh.
    pub revision: String,
}

impl WatchRegistration {
    /// The group serving this watch.
    pub fn group_key(&self) -> GroupKey {
        GroupKey::new(&self.scope, &self.credentials)
    }
}

/// Tunables of [`super::Poller`].
#[derive(Debug, Clone)]
pub struct PollerOptions {
    /// HSS calls in flight at once over all groups (0: no bound). Calls within a group are
    /// sequential anyway; this bounds the operator's outbound concurrency (`--concurrency`).
    pub max_calls_in_flight: usize,
    /// Ids per call, 1..=100 (clamped to the client's `chunk_size`).
    pub max_ids_per_call: usize,
    /// Calls per credential identity per `window`, used to plan; the client's limiter enforces.
    /// Keep it equal to (or below) the client's `calls_per_minute`.
    pub calls_per_window: u32,
    /// The planning window: the client's `rate_window` (one minute in production) plus a small
    /// margin ([`planning_window`]).
    pub window: Duration,
    /// Fill the room left in a call with ids of the watches due soonest, so no call is half
    /// empty while work is coming up.
    pub fill_ahead: bool,
    /// When a new or changed watch is due and its call would not be full, wait this long first
    /// so registrations arriving together (operator start, `kubectl apply` of many watches)
    /// share calls instead of each spending a permit. Zero disables.
    pub gather: Duration,
    /// Ids answered this long (at most) before a watch is due still count for its refresh, as a
    /// share of its interval (0.1 = 10 %). Lets a call serve watches due moments apart.
    pub early_tolerance: f64,
    /// Backoff of a group after a failed call: ceiling `base * 2^(n-1)`, capped at the smallest
    /// interval of the group; full jitter, never below `backoff_floor`.
    pub backoff_base: Duration,
    pub backoff_floor: Duration,
    /// When set, the poller records its quota waits (`hss_quota_wait_seconds`) and each
    /// refreshed watch's effective interval and excess over target
    /// (`watch_effective_interval_seconds`, `watch_interval_lag_seconds`). Forgetting a deleted
    /// watch's series stays with the controller, which owns its other series too.
    pub metrics: Option<Metrics>,
}

impl Default for PollerOptions {
    fn default() -> Self {
        Self::matching(&ClientConfig::default())
    }
}

impl PollerOptions {
    /// Options that plan with exactly the quota the client enforces.
    pub fn matching(config: &ClientConfig) -> Self {
        Self {
            max_calls_in_flight: 0,
            max_ids_per_call: config.chunk_size.clamp(1, MAX_CHUNK_SIZE),
            calls_per_window: config.calls_per_minute.max(1),
            window: planning_window(config.rate_window),
            fill_ahead: true,
            gather: Duration::from_millis(200),
            early_tolerance: 0.1,
            backoff_base: Duration::from_secs(10),
            backoff_floor: Duration::from_secs(1),
            metrics: None,
        }
    }
}

/// The window the poller plans its calls in: the service's, plus a margin. The gateway counts a
/// call when it arrives, the planner when it is sent; a call sent exactly one window after the
/// oldest one in the window may arrive a little less than a window after that one's arrival (its
/// connection was already open) and be refused with a 429 that planning meant to avoid.
pub fn planning_window(window: Duration) -> Duration {
    let margin = (window / 50).clamp(Duration::from_millis(100), Duration::from_secs(1));
    window + margin.min(window)
}

/// What a watch gets when its refresh completes or a call carrying its ids fails.
#[derive(Debug, Clone)]
pub struct WatchUpdate {
    pub key: WatchKey,
    /// The registration revision this update answers.
    pub revision: String,
    /// Only this watch's ids, each a record found or not, with the request ids of the calls
    /// that answered them. On failure, the error of the failed call (the last good per-host
    /// data stays in the poller, see [`super::PollerHandle::cached`]).
    pub outcome: Result<PollAnswer, PollFailure>,
    /// When this update was made.
    pub at: Instant,
    /// Wall-clock start of the oldest call whose answer is in `outcome` (success only).
    pub oldest_data: Option<jiff::Timestamp>,
    /// The watch's target interval.
    pub target_interval: Duration,
    /// Time between its last two complete refreshes (`None` before the second one).
    pub effective_interval: Option<Duration>,
    /// Exponentially smoothed `effective_interval` (weight 0.3 on the newest).
    pub smoothed_interval: Option<Duration>,
    /// How late the refresh completed compared with when it was due.
    pub lag: Duration,
}

impl WatchUpdate {
    /// True when the quota does not let this watch be refreshed as often as asked (effective
    /// interval more than 10 % over target, as smoothed).
    pub fn is_lagging(&self) -> bool {
        self.smoothed_interval
            .is_some_and(|eff| eff > self.target_interval.mul_f64(1.1))
    }

    /// By how much the smoothed effective interval exceeds the target (zero when met).
    pub fn interval_excess(&self) -> Duration {
        self.smoothed_interval.map_or(Duration::ZERO, |eff| {
            eff.saturating_sub(self.target_interval)
        })
    }
}

/// Counters of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupStats {
    pub watches: usize,
    /// Distinct host ids over all watches of the group.
    pub unique_ids: usize,
    /// Calls started (failed ones included).
    pub calls: u64,
    pub failed_calls: u64,
    /// Ids sent over all calls.
    pub ids_requested: u64,
    /// Full sweeps: every watch of the group refreshed at least once since the previous one.
    pub sweeps: u64,
    /// Calls used by the last full sweep.
    pub last_sweep_calls: Option<u64>,
    /// The physical minimum per sweep: `ceil(unique_ids / max_ids_per_call)`.
    pub min_calls_per_sweep: u64,
    /// Watch refreshes completed.
    pub refreshes: u64,
}

/// Counters that only grow: those of the groups gone (their last watch left, or moved to
/// rotated credentials) summed into one, so totals never go backwards while what is kept stays
/// one value whatever the number of groups that came and went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallTotals {
    pub calls: u64,
    pub failed_calls: u64,
    pub ids_requested: u64,
    pub refreshes: u64,
}

impl CallTotals {
    pub(crate) fn add(&mut self, group: &GroupStats) {
        self.calls += group.calls;
        self.failed_calls += group.failed_calls;
        self.ids_requested += group.ids_requested;
        self.refreshes += group.refreshes;
    }
}

/// What the poller holds and has done, for metrics and the benchmark. Sized by what runs now:
/// one entry per live group and per credential that called within the quota window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollerStats {
    /// The groups polling now.
    pub groups: BTreeMap<GroupKey, GroupStats>,
    /// The counters of the groups that are gone.
    pub retired: CallTotals,
    /// Calls planned within the current quota window, per credential identity.
    pub quota_used: BTreeMap<String, usize>,
    /// Watches with an update the controller has not applied yet.
    pub unapplied: usize,
}

impl PollerStats {
    /// Calls started since the poller began, by live groups and gone ones.
    pub fn total_calls(&self) -> u64 {
        self.retired.calls + self.groups.values().map(|g| g.calls).sum::<u64>()
    }

    /// Watches registered.
    pub fn watches(&self) -> usize {
        self.groups.values().map(|g| g.watches).sum()
    }
}
