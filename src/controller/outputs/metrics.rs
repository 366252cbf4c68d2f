//! The metrics output: a watch's per-watch series (`hostrisk_watch_*`, and per host with
//! `--metrics-per-host`) from its status. They are seeded from the status the object carries
//! when the watch table takes the watch up, so a new process (a rollout, a new leader) exports
//! them from its first scrape on, and dropped with the watch, seeded or not.

use futures::future::BoxFuture;

use super::{Output, WatchView};
use crate::controller::error::Result;
use crate::controller::watches::WatchScoped;
use crate::crd::validation::ValidationPolicy;
use crate::crd::{HostRiskWatch, WatchKey};
use crate::metrics::{watch_snapshot, Metrics};
use crate::status::HostRecord;

pub struct WatchMetrics {
    metrics: Metrics,
    /// How a seeded watch's interval is read from its spec.
    policy: ValidationPolicy,
}

impl WatchMetrics {
    pub fn new(metrics: Metrics, policy: ValidationPolicy) -> Self {
        Self { metrics, policy }
    }

    fn set(&self, view: &WatchView<'_>) {
        let key = view.key;
        let head = view.status.head();
        self.metrics
            .set_watch_status(&key.namespace, &key.name, head, view.interval);
        if view.complete {
            if let Some(summary) = &head.summary {
                self.metrics.set_watch_gauges(
                    &key.namespace,
                    &key.name,
                    &watch_snapshot(summary, &view.status.hosts),
                );
            }
        }
        if let Some(fetched) = view.fetched {
            self.metrics
                .set_watch_last_success(&key.namespace, &key.name, fetched);
        }
    }
}

impl WatchScoped for WatchMetrics {
    fn began(&self, watch: &HostRiskWatch, hosts: &[HostRecord]) {
        self.metrics
            .seed_watch_with_hosts(watch, hosts, &self.policy);
    }

    fn forget(&self, key: &WatchKey) {
        self.metrics.forget_watch(&key.namespace, &key.name);
    }
}

impl Output for WatchMetrics {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn publish<'a>(&'a self, view: &'a WatchView<'a>) -> BoxFuture<'a, Result<()>> {
        view.while_present(|| self.set(view));
        Box::pin(std::future::ready(Ok(())))
    }
}
