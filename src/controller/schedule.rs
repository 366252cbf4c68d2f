//! When to poll HSS for each resource: per-object poll state kept in memory, the ±10 % jitter on
//! the interval, and exponential backoff with full jitter after failures.
//!
//! The state lives in this process only. After a restart every resource is "first seen" and
//! polls once, which is what we want: the status may be stale from before the restart.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::hss::retry::MAX_RETRY_AFTER;

/// Identity of a watched resource in the poll table. The uid tells a re-created resource (same
/// name, new object) from the old one, so it counts as first seen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatchKey {
    pub namespace: String,
    pub name: String,
}

/// What the reconciler observed on the object that decides whether a poll is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub uid: Option<String>,
    pub generation: Option<i64>,
    /// Value of the `hostrisk.io/refresh-requested-at` annotation.
    pub refresh_requested_at: Option<String>,
}

/// Why a poll happens now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollReason {
    FirstSeen,
    GenerationChanged,
    RefreshRequested,
    SecretChanged,
    IntervalElapsed,
}

impl PollReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstSeen => "first_seen",
            Self::GenerationChanged => "generation_changed",
            Self::RefreshRequested => "refresh_requested",
            Self::SecretChanged => "secret_changed",
            Self::IntervalElapsed => "interval_elapsed",
        }
    }
}

/// The answer of [`PollScheduler::due`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Now(PollReason),
    /// Nothing asks for a poll yet; reconcile again after this long.
    NotBefore(Duration),
}

#[derive(Debug, Clone)]
struct PollState {
    observed: Observed,
    next_due: Instant,
    consecutive_failures: u32,
    /// No call before this: the service throttled and said when to come back (`Retry-After`).
    /// Holds whatever triggers a poll, and outlives failures that carry no Retry-After (a
    /// failed status write, say) until a poll succeeds.
    throttled_until: Option<Instant>,
}

/// Backoff settings after a failed poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Ceiling of the first retry delay; doubles with each consecutive failure.
    pub base: Duration,
    /// Shortest delay ever chosen, so full jitter cannot produce a tight loop.
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

/// Interval with ±10 % jitter, so resources created together (or all seen together after a
/// restart) do not poll in lock-step.
pub fn jittered_interval(interval: Duration) -> Duration {
    let factor = rand::rng().random_range(0.9..=1.1);
    interval.mul_f64(factor)
}

/// Exponential backoff with full jitter: a uniform delay in `[floor, min(interval, base·2^(n-1))]`
/// for the `n`-th consecutive failure. Capped at the interval: a failing resource never waits
/// longer than a healthy one would.
pub fn backoff_delay(policy: BackoffPolicy, failures: u32, interval: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(20);
    let ceiling = policy
        .base
        .saturating_mul(1u32 << exponent)
        .min(interval)
        .max(policy.floor);
    let floor = policy.floor.min(ceiling);
    let secs = rand::rng().random_range(floor.as_secs_f64()..=ceiling.as_secs_f64());
    Duration::from_secs_f64(secs)
}

/// Per-object poll state for every resource this process reconciles.
#[derive(Debug, Default)]
pub struct PollScheduler {
    backoff: BackoffPolicy,
    states: Mutex<HashMap<WatchKey, PollState>>,
    /// Resources whose credentials Secret was seen by the Secret watch, with the Secret's
    /// `resourceVersion` (`None` = deleted), not yet looked at by a reconcile.
    secret_changed: Mutex<HashMap<WatchKey, Option<String>>>,
    /// `resourceVersion` of the Secret each resource's last poll read (absent = none found).
    secret_used: Mutex<HashMap<WatchKey, String>>,
}

impl PollScheduler {
    pub fn new(backoff: BackoffPolicy) -> Self {
        Self {
            backoff,
            ..Self::default()
        }
    }

    pub fn backoff_policy(&self) -> BackoffPolicy {
        self.backoff
    }

    /// Whether `key` should poll at `now`. Consumes a pending Secret-change mark (so a Secret
    /// that changes again while this poll runs marks the resource anew and polls once more);
    /// otherwise does not change the state, so a poll that is due but fails before recording
    /// stays due.
    pub fn due(&self, key: &WatchKey, observed: &Observed, now: Instant) -> Due {
        if let Some(seen) = self.lock_secret_changed().remove(key) {
            // The Secret watch also reports Secrets it merely lists (at start, after a re-list):
            // only a version other than the one the last poll read is a change.
            if self.lock_secret_used().get(key) != seen.as_ref() {
                return Due::Now(PollReason::SecretChanged);
            }
        }
        let states = self.lock_states();
        let Some(state) = states.get(key) else {
            return Due::Now(PollReason::FirstSeen);
        };
        if state.observed.uid != observed.uid {
            return Due::Now(PollReason::FirstSeen);
        }
        if let Some(wait) = state
            .throttled_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|wait| !wait.is_zero())
        {
            return Due::NotBefore(wait);
        }
        if state.observed.generation != observed.generation {
            return Due::Now(PollReason::GenerationChanged);
        }
        if state.observed.refresh_requested_at != observed.refresh_requested_at {
            return Due::Now(PollReason::RefreshRequested);
        }
        match state.next_due.checked_duration_since(now) {
            None => Due::Now(PollReason::IntervalElapsed),
            Some(wait) if wait.is_zero() => Due::Now(PollReason::IntervalElapsed),
            Some(wait) => Due::NotBefore(wait),
        }
    }

    /// Notes that the Secret watch saw the resource's Secret at `resource_version` (`None` when
    /// deleted): the next reconcile polls unless its last poll read that very version.
    pub fn mark_secret_changed(&self, key: WatchKey, resource_version: Option<String>) {
        self.lock_secret_changed().insert(key, resource_version);
    }

    /// Records the `resourceVersion` of the Secret a poll read (`None`: there was none).
    pub fn record_secret_used(&self, key: &WatchKey, resource_version: Option<String>) {
        let mut used = self.lock_secret_used();
        match resource_version {
            Some(version) => used.insert(key.clone(), version),
            None => used.remove(key),
        };
    }

    /// Records a finished poll cycle that reached HSS with an answer and wrote what it had to;
    /// returns the delay until the next poll (interval ±10 %).
    pub fn record_success(
        &self,
        key: &WatchKey,
        observed: Observed,
        interval: Duration,
        now: Instant,
    ) -> Duration {
        let delay = jittered_interval(interval);
        self.store(key, observed, now + delay, 0, None);
        delay
    }

    /// Records a failed poll cycle (HSS error, credentials problem, or a failed status write);
    /// returns the backoff delay until the next attempt: never shorter than `retry_after`, the
    /// wait a throttling service asked for (it may exceed the interval: calling sooner would
    /// only be refused again and spend quota).
    pub fn record_failure(
        &self,
        key: &WatchKey,
        observed: Observed,
        interval: Duration,
        retry_after: Option<Duration>,
        now: Instant,
    ) -> Duration {
        let (failures, held) = self
            .lock_states()
            .get(key)
            .filter(|s| s.observed.uid == observed.uid)
            .map_or((0, None), |s| (s.consecutive_failures, s.throttled_until));
        let failures = failures.saturating_add(1);
        let asked = retry_after
            .map(|wait| wait.min(MAX_RETRY_AFTER))
            .and_then(|wait| now.checked_add(wait));
        let throttled_until = asked.max(held);
        let hold =
            throttled_until.map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
        let delay = backoff_delay(self.backoff, failures, interval).max(hold);
        self.store(key, observed, now + delay, failures, throttled_until);
        delay
    }

    /// Records that nothing is to be polled for this spec (invalid spec, suspended): the object
    /// is "seen" at this generation and annotation, and the next check is after `recheck`.
    pub fn record_idle(&self, key: &WatchKey, observed: Observed, recheck: Duration, now: Instant) {
        self.store(key, observed, now + recheck, 0, None);
    }

    /// Number of consecutive failures recorded for `key`.
    pub fn failures(&self, key: &WatchKey) -> u32 {
        self.lock_states()
            .get(key)
            .map_or(0, |s| s.consecutive_failures)
    }

    /// Drops the state of a deleted resource.
    pub fn forget(&self, key: &WatchKey) {
        self.lock_states().remove(key);
        self.lock_secret_changed().remove(key);
        self.lock_secret_used().remove(key);
    }

    /// Number of resources with poll state (for metrics and tests).
    pub fn len(&self) -> usize {
        self.lock_states().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn store(
        &self,
        key: &WatchKey,
        observed: Observed,
        next_due: Instant,
        failures: u32,
        throttled_until: Option<Instant>,
    ) {
        self.lock_states().insert(
            key.clone(),
            PollState {
                observed,
                next_due,
                consecutive_failures: failures,
                throttled_until,
            },
        );
    }

    // A poisoned lock only means another reconcile panicked mid-update; the map is still usable.
    fn lock_states(&self) -> std::sync::MutexGuard<'_, HashMap<WatchKey, PollState>> {
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_secret_used(&self) -> std::sync::MutexGuard<'_, HashMap<WatchKey, String>> {
        self.secret_used.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_secret_changed(&self) -> std::sync::MutexGuard<'_, HashMap<WatchKey, Option<String>>> {
        self.secret_changed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> WatchKey {
        WatchKey {
            namespace: "ns".into(),
            name: "w".into(),
        }
    }

    fn observed(uid: &str, generation: i64, refresh: Option<&str>) -> Observed {
        Observed {
            uid: Some(uid.into()),
            generation: Some(generation),
            refresh_requested_at: refresh.map(Into::into),
        }
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let interval = Duration::from_secs(600);
        for _ in 0..1000 {
            let d = jittered_interval(interval);
            assert!(
                d >= Duration::from_secs(540) && d <= Duration::from_secs(660),
                "{d:?}"
            );
        }
    }

    #[test]
    fn backoff_grows_and_is_capped_at_the_interval() {
        let policy = BackoffPolicy::default();
        let interval = Duration::from_secs(60);
        for _ in 0..500 {
            let first = backoff_delay(policy, 1, interval);
            assert!(first >= Duration::from_secs(1) && first <= Duration::from_secs(10));
            let third = backoff_delay(policy, 3, interval);
            assert!(third <= Duration::from_secs(40));
            let many = backoff_delay(policy, 30, interval);
            assert!(many <= interval && many >= Duration::from_secs(1));
        }
        // Full jitter: over many draws the delays spread over the whole range.
        let draws: Vec<_> = (0..500)
            .map(|_| backoff_delay(policy, 10, interval))
            .collect();
        assert!(draws.iter().any(|d| *d < Duration::from_secs(20)));
        assert!(draws.iter().any(|d| *d > Duration::from_secs(40)));
    }

    #[test]
    fn backoff_with_interval_below_floor_uses_the_interval() {
        let policy = BackoffPolicy::default();
        let d = backoff_delay(policy, 1, Duration::from_millis(300));
        assert!(d <= Duration::from_secs(1));
    }

    #[test]
    fn first_seen_then_interval_then_triggers() {
        let scheduler = PollScheduler::default();
        let now = Instant::now();
        let obs = observed("u1", 1, None);
        assert_eq!(
            scheduler.due(&key(), &obs, now),
            Due::Now(PollReason::FirstSeen)
        );
        let delay = scheduler.record_success(&key(), obs.clone(), Duration::from_secs(100), now);
        assert!(matches!(scheduler.due(&key(), &obs, now), Due::NotBefore(d) if d == delay));
        assert_eq!(
            scheduler.due(&key(), &obs, now + delay),
            Due::Now(PollReason::IntervalElapsed)
        );
        assert_eq!(
            scheduler.due(&key(), &observed("u1", 2, None), now),
            Due::Now(PollReason::GenerationChanged)
        );
        assert_eq!(
            scheduler.due(&key(), &observed("u1", 1, Some("t1")), now),
            Due::Now(PollReason::RefreshRequested)
        );
        assert_eq!(
            scheduler.due(&key(), &observed("u2", 1, None), now),
            Due::Now(PollReason::FirstSeen)
        );
        scheduler.mark_secret_changed(key(), Some("7".into()));
        assert_eq!(
            scheduler.due(&key(), &obs, now),
            Due::Now(PollReason::SecretChanged)
        );
        scheduler.record_secret_used(&key(), Some("7".into()));
        // The same version seen again (a re-list) is no change.
        scheduler.mark_secret_changed(key(), Some("7".into()));
        assert!(matches!(
            scheduler.due(&key(), &obs, now),
            Due::NotBefore(_)
        ));
        // A change arriving while that poll runs is not lost when the poll records its result.
        scheduler.mark_secret_changed(key(), Some("8".into()));
        scheduler.record_success(&key(), obs.clone(), Duration::from_secs(100), now);
        assert_eq!(
            scheduler.due(&key(), &obs, now),
            Due::Now(PollReason::SecretChanged)
        );
        assert!(matches!(
            scheduler.due(&key(), &obs, now),
            Due::NotBefore(_)
        ));
    }

    #[test]
    fn a_retry_after_beyond_the_backoff_sets_the_next_poll() {
        let scheduler = PollScheduler::default();
        let now = Instant::now();
        let obs = observed("u1", 1, None);
        let interval = Duration::from_secs(10);
        let asked = Duration::from_secs(45);
        let delay = scheduler.record_failure(&key(), obs.clone(), interval, Some(asked), now);
        assert_eq!(
            delay, asked,
            "Retry-After wins over the backoff and the interval"
        );
        assert!(matches!(
            scheduler.due(&key(), &obs, now + Duration::from_secs(44)),
            Due::NotBefore(_)
        ));
        // A later failure without Retry-After (a failed status write) keeps the hold, and so
        // does a spec change: calling sooner would only be refused again.
        let later = scheduler.record_failure(&key(), obs.clone(), interval, None, now);
        assert_eq!(later, asked);
        let changed = observed("u1", 2, None);
        assert!(matches!(
            scheduler.due(&key(), &changed, now + Duration::from_secs(10)),
            Due::NotBefore(_)
        ));
        assert!(matches!(
            scheduler.due(&key(), &changed, now + asked),
            Due::Now(_)
        ));
        // A success ends the hold; an absurd Retry-After is bounded.
        scheduler.record_success(&key(), obs.clone(), interval, now);
        let short = scheduler.record_failure(&key(), obs.clone(), interval, None, now);
        assert!(short <= interval);
        let huge = scheduler.record_failure(&key(), obs, interval, Some(Duration::MAX), now);
        assert_eq!(huge, MAX_RETRY_AFTER);
    }

    #[test]
    fn failures_count_up_and_reset_on_success() {
        let scheduler = PollScheduler::default();
        let now = Instant::now();
        let obs = observed("u1", 1, None);
        let interval = Duration::from_secs(600);
        scheduler.record_failure(&key(), obs.clone(), interval, None, now);
        scheduler.record_failure(&key(), obs.clone(), interval, None, now);
        assert_eq!(scheduler.failures(&key()), 2);
        let delay = scheduler.record_failure(&key(), obs.clone(), interval, None, now);
        assert!(delay <= Duration::from_secs(40));
        assert_eq!(
            scheduler.due(&key(), &obs, now + delay),
            Due::Now(PollReason::IntervalElapsed)
        );
        scheduler.record_success(&key(), obs, interval, now);
        assert_eq!(scheduler.failures(&key()), 0);
        scheduler.forget(&key());
        assert!(scheduler.is_empty());
    }
}
