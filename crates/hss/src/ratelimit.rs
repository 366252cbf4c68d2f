//! Pacing of HSS calls per credential identity.
//!
//! A sliding window: at most `calls` permits in any `window` (one minute by default). This is
//! stricter than a token bucket of the same rate (which would allow a 6th call 12 s after a
//! burst of 5) and never exceeds a per-minute quota however the service counts it (fixed or
//! sliding minute). Permits are reserved in order: each caller takes the next free slot and
//! sleeps until it, so concurrent callers queue fairly instead of racing.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::credentials::CredentialIdentity;

#[derive(Debug)]
struct Window {
    /// Times of the most recent `calls` permits (granted or reserved), oldest first.
    slots: VecDeque<Instant>,
}

/// Rate limiter shared by every caller of one client, keyed by credential identity.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    calls: usize,
    window: Duration,
    windows: Arc<Mutex<HashMap<CredentialIdentity, Window>>>,
}

impl RateLimiter {
    pub fn new(calls: u32, window: Duration) -> Self {
        Self {
            calls: calls.max(1) as usize,
            window,
            windows: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Reserves the next permit for `identity` and returns when it is due, without waiting.
    pub fn reserve(&self, identity: &CredentialIdentity) -> Instant {
        let now = Instant::now();
        let mut windows = match self.windows.lock() {
            Ok(guard) => guard,
            // A panic while holding this lock cannot leave the map inconsistent (every
            // mutation is a single push/pop), so keep using it.
            Err(poisoned) => poisoned.into_inner(),
        };
        // A window whose every permit is older than the window is as good as none: dropping it
        // keeps the map at the identities in use, however many rotated keys came and went.
        windows.retain(|_, w| w.slots.back().is_some_and(|last| *last + self.window > now));
        // The window grows with the calls actually made: a generous quota (say 100,000 a
        // minute) must not cost megabytes per credential up front.
        let window = windows.entry(identity.clone()).or_insert_with(|| Window {
            slots: VecDeque::new(),
        });
        let due = if window.slots.len() < self.calls {
            now
        } else {
            let oldest = window.slots.front().copied().unwrap_or(now);
            (oldest + self.window).max(now)
        };
        if window.slots.len() >= self.calls {
            window.slots.pop_front();
        }
        window.slots.push_back(due);
        due
    }

    /// When the next permit for `identity` would be due, without reserving it: lets a caller
    /// say that it is about to wait for the quota (the CLI's progress line) before it does.
    pub fn next_due(&self, identity: &CredentialIdentity) -> Instant {
        let now = Instant::now();
        let windows = match self.windows.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        match windows.get(identity) {
            Some(window) if window.slots.len() >= self.calls => window
                .slots
                .front()
                .map_or(now, |oldest| (*oldest + self.window).max(now)),
            _ => now,
        }
    }

    /// Permits per window, and the window.
    pub fn limit(&self) -> (usize, Duration) {
        (self.calls, self.window)
    }

    /// The permits granted or reserved within the window that ends now, per identity that has
    /// any, ordered by identity. While callers queue for the quota (a permit reserved for later)
    /// every slot kept lies within the window, so a full window reads as the limit. Read-only,
    /// for the metrics of quota use and the poller's statistics; identities gone quiet are not
    /// listed (their windows go at the next reservation).
    pub fn usage(&self) -> Vec<(CredentialIdentity, usize)> {
        let now = Instant::now();
        let windows = match self.windows.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut usage: Vec<(CredentialIdentity, usize)> = windows
            .iter()
            .map(|(identity, w)| {
                let recent = w.slots.iter().filter(|at| **at + self.window > now).count();
                (identity.clone(), recent)
            })
            .filter(|(_, used)| *used > 0)
            .collect();
        usage.sort_by(|a, b| a.0.cmp(&b.0));
        usage
    }

    /// Identities with a window kept.
    pub fn identities(&self) -> usize {
        match self.windows.lock() {
            Ok(guard) => guard.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }

    /// Waits for a permit; returns how long the caller waited (for logs and metrics).
    pub async fn acquire(&self, identity: &CredentialIdentity) -> Duration {
        let start = Instant::now();
        let due = self.reserve(identity);
        tokio::time::sleep_until(due).await;
        start.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Credentials;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn reservations_fill_the_window_then_wait_for_its_oldest_slot() {
        let limiter = RateLimiter::new(5, Duration::from_secs(60));
        let id = Credentials::ak_sk("AK", "SK").identity();
        let other = Credentials::ak_sk("AK2", "SK").identity();
        let start = Instant::now();
        let dues: Vec<Duration> = (0..12).map(|_| limiter.reserve(&id) - start).collect();
        for (i, due) in dues.iter().enumerate() {
            let expected = Duration::from_secs(60 * (i as u64 / 5));
            assert!(
                *due >= expected && *due < expected + 50 * MS,
                "permit {i}: {due:?}"
            );
        }
        assert!(limiter.reserve(&other) - start < 50 * MS);
    }

    #[test]
    fn next_due_foretells_the_next_reservation_without_taking_it() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        let id = Credentials::ak_sk("AK", "SK").identity();
        let start = Instant::now();
        assert!(limiter.next_due(&id) - start < 50 * MS, "free window");
        limiter.reserve(&id);
        limiter.reserve(&id);
        let foretold = limiter.next_due(&id);
        assert!(foretold - start >= Duration::from_secs(60), "full window");
        assert_eq!(limiter.next_due(&id), foretold, "peeking takes nothing");
        assert_eq!(limiter.reserve(&id), foretold);
    }

    #[tokio::test]
    async fn windows_of_identities_gone_quiet_are_dropped() {
        let limiter = RateLimiter::new(5, 40 * MS);
        for i in 0..200 {
            let rotated = Credentials::temporary_ak_sk(format!("AK{i}"), "SK", "T").identity();
            limiter.reserve(&rotated);
        }
        assert_eq!(limiter.usage().len(), 200, "all within the window");
        tokio::time::sleep(60 * MS).await;
        assert!(limiter.usage().is_empty());
        let current = Credentials::temporary_ak_sk("AK-new", "SK", "T").identity();
        limiter.reserve(&current);
        assert_eq!(limiter.identities(), 1, "the quiet ones are gone");
        assert_eq!(limiter.usage(), vec![(current, 1)]);
    }

    #[tokio::test]
    async fn usage_counts_the_permits_sent_in_the_current_window() {
        let limiter = RateLimiter::new(2, 150 * MS);
        let id = Credentials::ak_sk("AK", "SK").identity();
        assert!(limiter.usage().is_empty(), "no identity seen yet");
        limiter.reserve(&id);
        assert_eq!(limiter.usage(), vec![(id.clone(), 1)]);
        limiter.reserve(&id);
        limiter.reserve(&id); // due when the window has passed: the window is full
        assert_eq!(limiter.usage(), vec![(id.clone(), 2)]);
        tokio::time::sleep(200 * MS).await;
        assert_eq!(
            limiter.usage(),
            vec![(id, 1)],
            "the first two left the window, the third was sent"
        );
        assert_eq!(limiter.limit(), (2, 150 * MS));
    }

    #[tokio::test]
    async fn concurrent_callers_share_the_window() {
        let limiter = RateLimiter::new(2, 150 * MS);
        let id = Credentials::ak_sk("AK", "SK").identity();
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let limiter = limiter.clone();
            let id = id.clone();
            tasks.push(tokio::spawn(async move { limiter.acquire(&id).await }));
        }
        let mut waits = Vec::new();
        for t in tasks {
            waits.push(t.await.expect("task"));
        }
        waits.sort();
        let windows: Vec<u128> = waits.iter().map(|w| w.as_millis() / 150).collect();
        assert_eq!(windows, vec![0, 0, 1, 1, 2, 2]);
    }
}
