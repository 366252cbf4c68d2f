//! Every metric family the operator exports, with its name, help text and buckets.
//!
//! Names are registered without the `hostrisk_` prefix (the registry adds it), without
//! `_total` on counters (the encoder adds it) and without `_seconds` where a unit is given
//! (the encoder appends the unit). The per-watch, Node and per-host families are written by a
//! collector (`collector.rs`, `watch_families.rs`), registered after these: their help texts end with the period
//! the registry adds to the others.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use super::labels::{HssRequestLabels, OperationLabels, ReasonLabels, ResultLabels};
use super::nodes::NodeFamilies;

pub(crate) const PREFIX: &str = "hostrisk";

/// A gauge holding seconds as a float.
pub(crate) type SecondsGauge = Gauge<f64, AtomicU64>;

// A reconcile is mostly Kubernetes round trips on loopback-ish latency; the tail covers a
// reconcile that also waited on HSS.
const RECONCILE_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
// One HTTPS call to HSS or IAM from inside or outside Huawei Cloud.
const HSS_REQUEST_BUCKETS: [f64; 11] =
    [0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
// At the default 5 calls per minute a caller can wait from nothing to several minutes.
const QUOTA_WAIT_BUCKETS: [f64; 12] = [
    0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 12.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// A histogram per operation, all with the HSS request buckets.
pub(crate) type OperationHistograms = Family<OperationLabels, Histogram, fn() -> Histogram>;

fn hss_request_histogram() -> Histogram {
    Histogram::new(HSS_REQUEST_BUCKETS)
}

#[derive(Debug)]
pub(crate) struct Families {
    pub reconciles: Family<ResultLabels, Counter>,
    pub reconcile_errors: Family<ReasonLabels, Counter>,
    pub reconcile_duration: Histogram,
    pub status_writes: Counter,
    pub status_writes_skipped: Counter,
    pub status_write_errors: Counter,
    pub events: Family<ResultLabels, Counter>,
    pub hss_requests: Family<HssRequestLabels, Counter>,
    pub hss_request_duration: OperationHistograms,
    pub hss_retries: Counter,
    pub hss_quota_wait: Histogram,
    pub leader: Gauge,
    pub ready: Gauge,
    /// Node conditions and taints.
    pub nodes: NodeFamilies,
    // Policy reports (`--policy-reports`).
    pub policy_report_writes: Family<ResultLabels, Counter>,
    pub policy_report_write_errors: Family<ReasonLabels, Counter>,
}

impl Families {
    fn new() -> Self {
        Families {
            reconciles: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_duration: Histogram::new(RECONCILE_BUCKETS),
            status_writes: Counter::default(),
            status_writes_skipped: Counter::default(),
            status_write_errors: Counter::default(),
            events: Family::default(),
            hss_requests: Family::default(),
            hss_request_duration: Family::new_with_constructor(hss_request_histogram),
            hss_retries: Counter::default(),
            hss_quota_wait: Histogram::new(QUOTA_WAIT_BUCKETS),
            leader: Gauge::default(),
            ready: Gauge::default(),
            nodes: NodeFamilies::default(),
            policy_report_writes: Family::default(),
            policy_report_write_errors: Family::default(),
        }
    }

    /// Creates the families and a registry that exports them. The registry holds clones that
    /// share their values with the returned families.
    pub(crate) fn registered(version: &str) -> (Self, Registry) {
        let families = Families::new();
        // Both results exist from the start so `rate()` and ratios work before the first error.
        for result in ["ok", "error"] {
            let _created = families.reconciles.get_or_create(&ResultLabels { result });
        }
        let mut registry = Registry::with_prefix(PREFIX);
        let r = &mut registry;

        r.register(
            "build",
            "Build of the running operator (value always 1)",
            Info::new(vec![("version".to_owned(), version.to_owned())]),
        );
        r.register(
            "leader",
            "1 while this instance holds the leader lease (or runs without leader election), else 0",
            families.leader.clone(),
        );
        r.register(
            "ready",
            "1 while /readyz answers 200 (CRD found and watches synced, or a standby replica), else 0",
            families.ready.clone(),
        );

        r.register(
            "reconciles",
            "Reconciles of HostRiskWatch resources, by result (ok|error)",
            families.reconciles.clone(),
        );
        r.register(
            "reconcile_errors",
            "Failed reconciles, by short CamelCase reason",
            families.reconcile_errors.clone(),
        );
        r.register_with_unit(
            "reconcile_duration",
            "Wall time of one reconcile",
            Unit::Seconds,
            families.reconcile_duration.clone(),
        );
        r.register(
            "status_writes",
            "HostRiskWatch status patches sent to the API server",
            families.status_writes.clone(),
        );
        r.register(
            "status_write_errors",
            "HostRiskWatch status patches the API server did not accept (conflict, refusal, \
             no answer); the reconcile is retried",
            families.status_write_errors.clone(),
        );
        r.register(
            "status_writes_skipped",
            "Status patches not sent because nothing but timestamps would have changed",
            families.status_writes_skipped.clone(),
        );
        r.register(
            "events",
            "Kubernetes Events of transitions the operator sent, by result (published|failed)",
            families.events.clone(),
        );

        r.register(
            "hss_requests",
            "Outbound HSS/IAM HTTP requests, by operation (list_hosts_risk|iam_token|\
             id_token_exchange), outcome and HTTP code (code=none: no HTTP answer)",
            families.hss_requests.clone(),
        );
        r.register_with_unit(
            "hss_request_duration",
            "Wall time of one answered outbound HSS/IAM HTTP request, by operation (429 answers \
             and requests without an answer are only counted in hss_requests_total)",
            Unit::Seconds,
            families.hss_request_duration.clone(),
        );
        r.register(
            "hss_retries",
            "Outbound HSS requests repeated after a failed attempt",
            families.hss_retries.clone(),
        );
        r.register_with_unit(
            "hss_quota_wait",
            "Time a call waited for the per-credential HSS rate limiter",
            Unit::Seconds,
            families.hss_quota_wait.clone(),
        );

        // Policy reports (`--policy-reports`): series appear when they are on.
        r.register(
            "policy_report_writes",
            "Policy reports of watches, by result: written (applied), skipped (unchanged: \
             nothing sent), deleted (the watch is suspended), failed (refused or unanswered)",
            families.policy_report_writes.clone(),
        );
        r.register(
            "policy_report_write_errors",
            "Policy report requests that failed, by reason (Forbidden|ApiNotInstalled|WriteFailed)",
            families.policy_report_write_errors.clone(),
        );

        (families, registry)
    }
}
