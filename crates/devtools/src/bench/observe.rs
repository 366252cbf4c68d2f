//! Watching the benchmark's resources from the outside, like `kubectl get hrw -w`: a kube
//! watcher over HTTP records when each watch first shows HSS data in its status, and the
//! creator records when it asked to create each one. Latency = the difference.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, ResourceExt};
use tokio::sync::oneshot;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use hostrisk_operator::crd::HostRiskWatch;

type Key = (String, String);

#[derive(Debug, Default)]
struct Times {
    created: HashMap<Key, Instant>,
    first_data: HashMap<Key, Instant>,
}

/// Create and first-data times of every watch, shared by the creator and the observer.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    times: Arc<Mutex<Times>>,
    progress: Arc<Notify>,
}

impl Timeline {
    fn lock(&self) -> MutexGuard<'_, Times> {
        // Every mutation is a single insert: a poisoned lock still holds consistent maps.
        self.times.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called just before the create request is sent.
    pub fn created(&self, namespace: &str, name: &str, at: Instant) {
        self.lock()
            .created
            .insert((namespace.to_string(), name.to_string()), at);
    }

    fn first_data(&self, key: Key, at: Instant) {
        let mut times = self.lock();
        if let std::collections::hash_map::Entry::Vacant(entry) = times.first_data.entry(key) {
            entry.insert(at);
            drop(times);
            self.progress.notify_waiters();
        }
    }

    /// Watches that showed data so far.
    pub fn with_data(&self) -> usize {
        self.lock().first_data.len()
    }

    /// Waits until `count` watches showed data or `deadline` passes; returns whether they did.
    pub async fn wait_for_data(&self, count: usize, deadline: Instant) -> bool {
        self.wait_until(|times| times.first_data.len() >= count, deadline)
            .await
    }

    /// Waits until watch `namespace/name` showed data or `deadline` passes.
    pub async fn wait_for_watch(&self, namespace: &str, name: &str, deadline: Instant) -> bool {
        let key = (namespace.to_string(), name.to_string());
        self.wait_until(|times| times.first_data.contains_key(&key), deadline)
            .await
    }

    async fn wait_until(&self, done: impl Fn(&Times) -> bool, deadline: Instant) -> bool {
        loop {
            let notified = self.progress.notified();
            if done(&self.lock()) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            // A short cap covers a notification sent between the check and the wait.
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }

    /// Create → first data of one watch, if it has both.
    pub fn latency_of(&self, namespace: &str, name: &str) -> Option<Duration> {
        let key = (namespace.to_string(), name.to_string());
        let times = self.lock();
        Some(
            times
                .first_data
                .get(&key)?
                .saturating_duration_since(*times.created.get(&key)?),
        )
    }

    /// Create → first data of every watch that has both, sorted.
    pub fn latencies(&self) -> Vec<Duration> {
        let times = self.lock();
        let mut all: Vec<Duration> = times
            .first_data
            .iter()
            .filter_map(|(key, seen)| {
                let created = times.created.get(key)?;
                Some(seen.saturating_duration_since(*created))
            })
            .collect();
        all.sort();
        all
    }
}

/// True once the controller wrote what HSS answered: a summary only comes from a successful
/// poll (the first status the controller writes says Pending and has none).
fn has_data(watch: &HostRiskWatch) -> bool {
    watch
        .status
        .as_ref()
        .is_some_and(|s| s.summary.is_some() && s.last_sync_time.is_some())
}

/// Starts a watcher over every namespace; stops at `stop`. The receiver completes once the
/// watcher finished its first list, so nothing created afterwards is seen late.
pub fn start_observer(
    client: kube::Client,
    timeline: Timeline,
    stop: CancellationToken,
) -> (JoinHandle<()>, oneshot::Receiver<()>) {
    let api: Api<HostRiskWatch> = Api::all(client);
    let (synced_tx, synced_rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut synced = Some(synced_tx);
        let stream = watcher(api, watcher::Config::default()).default_backoff();
        futures::pin_mut!(stream);
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => return,
                next = stream.next() => next,
            };
            match next {
                None => return,
                Some(Ok(watcher::Event::Apply(watch) | watcher::Event::InitApply(watch))) => {
                    if has_data(&watch) {
                        let key = (watch.namespace().unwrap_or_default(), watch.name_any());
                        timeline.first_data(key, Instant::now());
                    }
                }
                Some(Ok(watcher::Event::InitDone)) => {
                    if let Some(tx) = synced.take() {
                        let _ = tx.send(());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => tracing::warn!(%error, "benchmark observer watch error"),
            }
        }
    });
    (task, synced_rx)
}

/// Nearest-rank percentile of sorted durations (`p` in 0-100); `None` when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|m| Duration::from_millis(*m)).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let data = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&data, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&data, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&ms(&[7]), 99.0), Some(Duration::from_millis(7)));
        assert_eq!(
            percentile(&ms(&[1, 2, 3]), 0.0),
            Some(Duration::from_millis(1))
        );
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn only_the_first_data_counts_and_needs_a_create_time() {
        let timeline = Timeline::default();
        let t0 = Instant::now();
        timeline.created("ns", "a", t0);
        timeline.first_data(("ns".into(), "a".into()), t0 + Duration::from_millis(30));
        timeline.first_data(("ns".into(), "a".into()), t0 + Duration::from_millis(90));
        timeline.first_data(("ns".into(), "b".into()), t0 + Duration::from_millis(10));
        assert_eq!(timeline.with_data(), 2);
        assert_eq!(timeline.latencies(), ms(&[30]));
    }
}
