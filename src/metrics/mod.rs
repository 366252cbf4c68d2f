//! Prometheus / OpenMetrics metrics of the operator.
//!
//! One [`Metrics`] value (cheap to clone) is created at startup and handed to the controller,
//! the HSS client wiring and the health server; [`metrics_router`] serves it on `GET /metrics`.
//! The README's "Metrics" section lists every family with its type and labels.
//!
//! Families (all prefixed `hostrisk_`):
//! - operator health: `reconciles_total{result}`, `reconcile_errors_total{reason}`,
//!   `reconcile_duration_seconds`, `status_writes_total`, `status_writes_skipped_total`,
//!   `status_write_errors_total`, `events_total{result}`, `leader`, `ready`, `build_info{version}`;
//! - policy reports (with `--policy-reports`): `policy_report_writes_total{result}`,
//!   `policy_report_write_errors_total{reason}`;
//! - outbound HSS and IAM: `hss_requests_total{operation,outcome,code}`,
//!   `hss_request_duration_seconds{operation}` (answered requests other than 429s),
//!   `hss_retries_total`, `hss_quota_wait_seconds`; read at scrape time (see `live.rs`):
//!   `hss_quota_calls{credential}`, `hss_quota_limit{credential}`, `hss_quota_window_seconds`,
//!   and per poller group `poller_queue_depth`, `poller_watches`, `poller_hosts`,
//!   `poller_sweep_duration_seconds` (`{group}`);
//! - per watch `{namespace,name}`: `watch_condition{type,status}` (the five condition types),
//!   `watch_ready_reason{reason}`, `watch_interval_seconds`, `watch_effective_interval_seconds`,
//!   `watch_interval_lag_seconds`, `watch_last_success_timestamp_seconds`,
//!   `watch_hosts_by_agent_status{agent_status}`, `watch_hosts_by_protect_status{protect_status}`,
//!   `watch_hosts_by_detect_result{detect_result}`, `watch_risks{kind}`, `watch_assets`,
//!   `watch_hosts_requested`, `watch_hosts_found`, `watch_hosts_not_found`;
//! - per host, only with [`MetricsOptions::per_host`]: `host_risks{namespace,name,host_id,kind}`,
//!   `host_assets{namespace,name,host_id}`,
//!   `host_status{namespace,name,host_id,agent_status,protect_status,detect_result}`; hosts of
//!   node-backed watches add `node` (the Node's name) after `host_id`. Only these carry `node`.
//!
//! - Node conditions and taints, over the cluster (see `nodes.rs`): `node_conditions{type,status}`,
//!   `node_taints{problem,mode}`, `node_taints_held_back{problem}`,
//!   `node_taint_changes_total{problem,action,mode}`, `node_writes_total{kind,result}`; closed
//!   label sets, never a Node name.
//!
//! Cardinality: per-watch series are bounded by the number of watches times the small HSS
//! enums, and go away with [`Metrics::forget_watch`]; a watch has one `watch_ready_reason`
//! series at a time. Host ids are unbounded in principle, so they appear only behind the opt-in
//! flag. Reason labels are forced into a closed CamelCase shape ([`reason_label`]). Poller
//! groups and credential identities are as many as the distinct credentials in use.
//!
//! Per-watch series are one compact record per watch (`record.rs`) written out at scrape time
//! (`collector.rs`). `/metrics` answers OpenMetrics 1.0 when the scraper asks for it
//! (Prometheus does) and Prometheus text 0.0.4 otherwise, see [`ExpositionFormat`], streamed
//! in chunks of about 64 KiB (`stream.rs`). A labelled family without series is omitted (HELP
//! and TYPE too); `reconciles_total{result="ok"|"error"}` start at zero so ratios work.
//!
//! Wiring, in order of a request's life: the rate limiter calls [`Metrics::record_quota_wait`],
//! the HSS client calls [`Metrics::record_hss_request`] once per HTTP attempt (an IAM request
//! buying a token is an attempt of its own operation) and [`Metrics::record_retry`] before each
//! repeat; the controller calls [`Metrics::record_status_write`] per status decision,
//! [`Metrics::record_status_write_error`] per refused patch and [`Metrics::record_reconcile`]
//! per reconcile. Its metrics output seeds a watch's series from the status the object carries
//! when the watch table takes the watch up ([`Metrics::seed_watch`]: operator start, a new
//! leader), sets them after each reconcile ([`Metrics::set_watch_status`], and after a complete
//! poll [`Metrics::set_watch_gauges`]) and drops them when the table lets the watch go
//! ([`Metrics::forget_watch`]); the poller sets [`Metrics::set_watch_schedule`] for the watches
//! registered with it (a registration goes with the watch too); leader election calls
//! [`Metrics::set_leader`].

mod collector;
mod exposition;
mod families;
mod http;
mod labels;
mod live;
mod nodes;
mod record;
#[cfg(test)]
mod sample;
mod status;
mod stream;
mod watch;
mod watch_families;

use std::sync::Arc;
use std::time::Duration;

use hostrisk_hss::Operation;
use prometheus_client::registry::Registry;

pub use exposition::{ExpositionFormat, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_TEXT_CONTENT_TYPE};
pub use http::metrics_router;
pub use labels::{reason_label, HssOutcome, ReconcileOutcome, OTHER_REASON};
pub use live::{GroupFigures, PollerView};
pub use nodes::NodePostureFigures;
pub use status::watch_snapshot;
pub use watch::{HostSnapshot, RiskTotals, WatchSnapshot, RISK_KINDS};

use collector::WatchCollector;
use families::Families;
use labels::{
    code_label, HssRequestLabels, OperationLabels, ReasonLabels, ResultLabels, WatchLabels,
};
use live::LiveSources;

/// The `result` values of `hostrisk_policy_report_writes_total`.
pub const POLICY_REPORT_RESULTS: [&str; 4] = ["written", "skipped", "deleted", "failed"];

/// Errors of the metrics layer.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("encoding the metrics registry failed")]
    Encode(#[from] std::fmt::Error),
}

/// Choices made once at startup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsOptions {
    /// Export per-host series (label `host_id`). Off by default: one series per host and
    /// risk kind grows with the fleet, not with the number of watches.
    pub per_host: bool,
}

/// Handle to the operator's metrics. Clones share the same registry and values.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: MetricsOptions,
    registry: Registry,
    families: Families,
    live: Arc<LiveSources>,
    // The per-watch records behind one lock, so a `forget_watch` racing a late
    // `set_watch_gauges` leaves either all or none of the watch's series.
    watches: Arc<WatchCollector>,
}

impl Metrics {
    pub fn new(options: MetricsOptions) -> Self {
        Self::with_version(options, env!("CARGO_PKG_VERSION"))
    }

    /// Like [`Metrics::new`] with an explicit `build_info{version}` value (e.g. a git describe).
    pub fn with_version(options: MetricsOptions, version: &str) -> Self {
        let (families, mut registry) = Families::registered(version);
        let watches = Arc::new(WatchCollector::new(
            families.nodes.clone(),
            options.per_host,
        ));
        registry.register_collector(Box::new(watches.clone()));
        let live = Arc::new(LiveSources::default());
        registry.register_collector(Box::new(live.clone()));
        Metrics {
            inner: Arc::new(Inner {
                options,
                registry,
                families,
                live,
                watches,
            }),
        }
    }

    pub fn options(&self) -> MetricsOptions {
        self.inner.options
    }

    /// One finished reconcile: `reconciles_total{result}`, its duration, and on error
    /// `reconcile_errors_total{reason}`.
    pub fn record_reconcile(&self, outcome: ReconcileOutcome<'_>, duration: Duration) {
        let f = &self.inner.families;
        let result = match outcome {
            ReconcileOutcome::Ok => "ok",
            ReconcileOutcome::Error(reason) => {
                let labels = ReasonLabels {
                    reason: reason_label(reason).to_owned(),
                };
                f.reconcile_errors.get_or_create(&labels).inc();
                "error"
            }
        };
        f.reconciles.get_or_create(&ResultLabels { result }).inc();
        f.reconcile_duration.observe(duration.as_secs_f64());
    }

    /// One outbound HSS/IAM HTTP request (each attempt, retries included). `code` is the HTTP
    /// status, `None` when no answer arrived. Only answered requests other than 429s are timed:
    /// a 429 comes back at once and a timeout after the client's limit, and either would bend
    /// the latency of the calls HSS served; both stay counted by outcome.
    pub fn record_hss_request(
        &self,
        operation: Operation,
        outcome: HssOutcome,
        code: Option<u16>,
        duration: Duration,
    ) {
        let f = &self.inner.families;
        let labels = HssRequestLabels {
            operation: operation.as_str(),
            outcome: outcome.as_str(),
            code: code_label(code),
        };
        f.hss_requests.get_or_create(&labels).inc();
        if code.is_some() && outcome != HssOutcome::Throttled {
            f.hss_request_duration
                .get_or_create(&OperationLabels {
                    operation: operation.as_str(),
                })
                .observe(duration.as_secs_f64());
        }
    }

    /// A request is about to be repeated after a failed attempt.
    pub fn record_retry(&self) {
        self.inner.families.hss_retries.inc();
    }

    /// Time one call spent waiting for the per-credential rate limiter (record zero waits too,
    /// so the histogram's count is the number of calls that went through the limiter).
    pub fn record_quota_wait(&self, waited: Duration) {
        self.inner
            .families
            .hss_quota_wait
            .observe(waited.as_secs_f64());
    }

    /// A status update was decided: `written` = a patch was sent, `false` = skipped because
    /// nothing but timestamps changed.
    pub fn record_status_write(&self, written: bool) {
        let f = &self.inner.families;
        if written {
            f.status_writes.inc();
        } else {
            f.status_writes_skipped.inc();
        }
    }

    /// A status patch the API server did not accept.
    pub fn record_status_write_error(&self) {
        self.inner.families.status_write_errors.inc();
    }

    /// One transition Event sent to the API server (`published`) or refused (`failed`).
    pub fn record_event(&self, published: bool) {
        let result = if published { "published" } else { "failed" };
        self.inner
            .families
            .events
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// Creates the policy-report series at zero, so that rates work before the first write.
    pub fn seed_policy_report_families(&self) {
        for result in POLICY_REPORT_RESULTS {
            let _created = self
                .inner
                .families
                .policy_report_writes
                .get_or_create(&ResultLabels { result });
        }
    }

    /// One decision on a watch's policy report: one of [`POLICY_REPORT_RESULTS`].
    pub fn record_policy_report(&self, result: &'static str) {
        self.inner
            .families
            .policy_report_writes
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// A failed policy-report request, by CamelCase reason.
    pub fn record_policy_report_error(&self, reason: &str) {
        self.inner
            .families
            .policy_report_write_errors
            .get_or_create(&ReasonLabels {
                reason: reason_label(reason).to_owned(),
            })
            .inc();
    }

    /// Policy-report decisions with `result` so far.
    pub fn policy_reports(&self, result: &'static str) -> u64 {
        self.inner
            .families
            .policy_report_writes
            .get_or_create(&ResultLabels { result })
            .get()
    }

    /// Reconciles so far (both results), for the benchmark's reconciles-per-sweep figure.
    pub fn reconciles_total(&self) -> u64 {
        self.reconciles("ok") + self.reconciles("error")
    }

    /// Transition Events published so far.
    pub fn events_published_total(&self) -> u64 {
        self.inner
            .families
            .events
            .get_or_create(&ResultLabels {
                result: "published",
            })
            .get()
    }

    /// Reconciles so far that failed.
    pub fn reconcile_errors_total(&self) -> u64 {
        self.reconciles("error")
    }

    fn reconciles(&self, result: &'static str) -> u64 {
        self.inner
            .families
            .reconciles
            .get_or_create(&ResultLabels { result })
            .get()
    }

    /// Whether this instance currently leads (set `true` once when leader election is off).
    pub fn set_leader(&self, leading: bool) {
        self.inner.families.leader.set(i64::from(leading));
    }

    /// Whether the instance is ready (what `/readyz` answers), set by the health server.
    pub fn set_ready(&self, ready: bool) {
        self.inner.families.ready.set(i64::from(ready));
    }

    /// Replaces the domain gauges of one watch with `snapshot`.
    pub fn set_watch_gauges(&self, namespace: &str, name: &str, snapshot: &WatchSnapshot) {
        let watch = WatchLabels::new(namespace, name);
        let collector = &self.inner.watches;
        collector.set_snapshot(&mut collector.store(), &watch, snapshot);
    }

    /// When the data of a watch's last successful poll was fetched.
    pub fn set_watch_last_success(&self, namespace: &str, name: &str, at: jiff::Timestamp) {
        let unix = at.as_millisecond() as f64 / 1000.0;
        let watch = WatchLabels::new(namespace, name);
        self.inner.watches.store().set_last_success(&watch, unix);
    }

    /// The poll interval a watch actually gets, and by how much it exceeds the one asked for
    /// (zero when the quota meets the target).
    pub fn set_watch_schedule(
        &self,
        namespace: &str,
        name: &str,
        effective: Duration,
        lag: Duration,
    ) {
        let watch = WatchLabels::new(namespace, name);
        self.inner
            .watches
            .store()
            .set_schedule(&watch, effective.as_secs_f64(), lag.as_secs_f64());
    }

    /// Removes every series of a deleted watch.
    pub fn forget_watch(&self, namespace: &str, name: &str) {
        let watch = WatchLabels::new(namespace, name);
        let collector = &self.inner.watches;
        let mut store = collector.store();
        let Some(record) = store.remove(&watch) else {
            return;
        };
        if let (Some(families), Some(series)) = (&collector.hosts, record.hosts) {
            families.forget(*series);
        }
    }

    /// The OpenMetrics 1.0 text of all families (ends with `# EOF`).
    pub fn encode(&self) -> Result<String, MetricsError> {
        self.encode_as(ExpositionFormat::OpenMetrics)
    }

    pub fn encode_as(&self, format: ExpositionFormat) -> Result<String, MetricsError> {
        Ok(format.encode(&self.inner.registry)?)
    }
}

/// The HSS client reports its HTTP attempts, retries and limiter waits here.
impl hostrisk_hss::HssObserver for Metrics {
    fn attempt(
        &self,
        operation: Operation,
        outcome: HssOutcome,
        status: Option<u16>,
        elapsed: Duration,
    ) {
        self.record_hss_request(operation, outcome, status, elapsed);
    }

    fn retry(&self) {
        self.record_retry();
    }

    fn quota_wait(&self, waited: Duration) {
        self.record_quota_wait(waited);
    }
}
