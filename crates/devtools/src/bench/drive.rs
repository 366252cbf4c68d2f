//! The benchmark's client side, run next to the world (in the child process by default): it
//! creates the watches, observes their status and times create → first data. Kept out of the
//! operator's process so its caches do not count in the operator's RSS.
//!
//! Probes: after the measured sweep, `probes` more watches are created one at a time (each
//! after the previous one showed data), listing the hosts of an existing watch so the unique
//! ids and the minimum stay the same. Their latency is that of a watch created into a
//! running system at full scale, without the queue of the initial creation wave.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::observe::{start_observer, Timeline};
use super::workload::Workload;
use super::world::{create_probe, create_watches, namespace_of, probe_name, HssTarget};
use super::BenchError;

/// What the creation wave showed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CreationResult {
    /// Watches whose status showed HSS data before the timeout.
    pub with_data: u64,
    /// Create → first data of each of them, seconds, sorted.
    pub latencies: Vec<f64>,
}

/// Latencies of the probe watches, seconds, sorted; `missing` did not show data in time.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProbeResult {
    pub latencies: Vec<f64>,
    pub missing: u64,
}

/// The observer and what the driver needs to create watches.
pub struct Driver {
    client: kube::Client,
    target: HssTarget,
    workload: Workload,
    per_namespace: usize,
    interval: String,
    timeout: Duration,
    timeline: Timeline,
    stop: CancellationToken,
    observer: JoinHandle<()>,
}

impl Driver {
    /// Starts the observer and waits until its first list is done.
    pub async fn start(
        client: kube::Client,
        target: HssTarget,
        workload: Workload,
        per_namespace: usize,
        interval: String,
        timeout: Duration,
    ) -> Self {
        let timeline = Timeline::default();
        let stop = CancellationToken::new();
        let (observer, synced) = start_observer(client.clone(), timeline.clone(), stop.clone());
        // A watcher that fails to list keeps retrying; creating anyway only delays first sight.
        let _ = tokio::time::timeout(Duration::from_secs(30), synced).await;
        Self {
            client,
            target,
            workload,
            per_namespace,
            interval,
            timeout,
            timeline,
            stop,
            observer,
        }
    }

    /// Creates every watch and waits until each shows data (or the timeout).
    pub async fn create_all(&self) -> Result<CreationResult, BenchError> {
        let deadline = Instant::now() + self.timeout;
        create_watches(
            &self.client,
            &self.target,
            &self.workload,
            self.per_namespace,
            &self.interval,
            &self.timeline,
        )
        .await?;
        self.timeline
            .wait_for_data(self.workload.watches, deadline)
            .await;
        Ok(CreationResult {
            with_data: self.timeline.with_data() as u64,
            latencies: seconds(&self.timeline.latencies()),
        })
    }

    /// Creates `count` probe watches one after the other.
    pub async fn probe(&self, count: usize) -> Result<ProbeResult, BenchError> {
        let namespace = namespace_of(&self.target.namespace_prefix, 0, self.per_namespace);
        let mut latencies = Vec::new();
        let mut missing = 0;
        for p in 0..count {
            let created = create_probe(
                &self.client,
                &self.target,
                &self.workload,
                p,
                self.per_namespace,
                &self.interval,
                &self.timeline,
            )
            .await?;
            let name = probe_name(p);
            let seen = self
                .timeline
                .wait_for_watch(&namespace, &name, created + self.timeout)
                .await;
            match self.timeline.latency_of(&namespace, &name) {
                Some(latency) if seen => latencies.push(latency),
                _ => missing += 1,
            }
        }
        latencies.sort();
        Ok(ProbeResult {
            latencies: seconds(&latencies),
            missing,
        })
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.observer.await;
    }
}

fn seconds(durations: &[Duration]) -> Vec<f64> {
    durations.iter().map(Duration::as_secs_f64).collect()
}
