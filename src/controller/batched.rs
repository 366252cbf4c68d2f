//! Reconcile in [`PollingMode::Batched`](super::PollingMode::Batched): the reconcile registers
//! the watch with the shared poller ([`crate::poller`]) and applies the poller's updates; it
//! never calls HSS itself.
//!
//! - A registration is (re)made when the poll scheduler says something changed: first seen,
//!   new generation, refresh annotation, Secret change, or the periodic re-check after the
//!   interval (which re-reads the Secret; an equal registration is a no-op for the poller).
//!   Its revision (uid, generation, refresh annotation, Secret `resourceVersion`) makes the
//!   poller refresh a new or changed watch with its next call.
//! - Suspended, refused and credential-less watches are removed from the poller.
//! - Each poller update (the subscription stream triggers the reconcile) goes through the same
//!   pure status computation as a per-watch poll, with the interval the poller measured, so a
//!   watch the quota cannot serve as often as asked says so. Updates of an older revision are
//!   dropped; an update is marked applied only once its status is written, so a failed write
//!   applies it again on the retry.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kube::runtime::controller::Action;

use super::context::Context;
use super::health::Counters;
use super::poller_link::poller_key;
use super::prepare::{finish_unpolled, prepare, Prepared, ReadyToPoll};
use super::reconcile::{finish, ReconcileError};
use super::schedule::{Due, Observed, WatchKey};
use crate::crd::{HostRiskWatch, HostRiskWatchStatus};
use crate::poller::{Poller, WatchRegistration, WatchUpdate};
use crate::status::PollOutcome;

/// The registration revision: what, when it changes, asks for a prompt refresh.
pub fn revision(observed: &Observed, secret_version: Option<&str>) -> String {
    format!(
        "uid={};generation={};refresh={};secret={}",
        observed.uid.as_deref().unwrap_or_default(),
        observed.generation.unwrap_or_default(),
        observed.refresh_requested_at.as_deref().unwrap_or_default(),
        secret_version.unwrap_or_default(),
    )
}

#[derive(Debug, Clone)]
struct Registered {
    revision: String,
    interval: Duration,
}

#[derive(Debug)]
struct Entry {
    registered: Registered,
    /// An update whose status write failed, to apply on the retry.
    unapplied: Option<WatchUpdate>,
}

/// What each watch registered with the poller, and an update still to apply.
#[derive(Debug, Default)]
pub struct BatchedState {
    entries: Mutex<HashMap<WatchKey, Entry>>,
}

impl BatchedState {
    fn register(&self, key: &WatchKey, revision: String, interval: Duration) {
        let mut entries = self.lock();
        let unapplied = entries
            .remove(key)
            .and_then(|e| e.unapplied)
            .filter(|u| u.revision == revision);
        entries.insert(
            key.clone(),
            Entry {
                registered: Registered { revision, interval },
                unapplied,
            },
        );
    }

    fn get(&self, key: &WatchKey) -> Option<Registered> {
        self.lock().get(key).map(|e| e.registered.clone())
    }

    /// The update to apply now: `newest` from the poller if any (it supersedes one kept from
    /// a failed write), else the kept one; only for the registered revision.
    fn next_update(&self, key: &WatchKey, newest: Option<WatchUpdate>) -> Option<WatchUpdate> {
        let mut entries = self.lock();
        let entry = entries.get_mut(key)?;
        let kept = entry.unapplied.take();
        newest
            .or(kept)
            .filter(|u| u.revision == entry.registered.revision)
    }

    /// Keeps an update whose status could not be written (unless a newer one is kept).
    fn keep_unapplied(&self, key: &WatchKey, update: WatchUpdate) {
        if let Some(entry) = self.lock().get_mut(key) {
            if entry.unapplied.as_ref().is_none_or(|u| u.at < update.at) {
                entry.unapplied = Some(update);
            }
        }
    }

    /// Watches with a registration.
    pub fn keys(&self) -> Vec<WatchKey> {
        self.lock().keys().cloned().collect()
    }

    pub fn forget(&self, key: &WatchKey) {
        self.lock().remove(key);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<WatchKey, Entry>> {
        // Plain map operations; a panic elsewhere leaves it usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The batched reconcile, after the first status was written.
pub(super) async fn reconcile_batched(
    watch: &HostRiskWatch,
    ctx: &Context,
    key: &WatchKey,
    observed: Observed,
    previous: Option<&HostRiskWatchStatus>,
    poller: &Poller,
) -> Result<Action, ReconcileError> {
    if let Due::Now(reason) = ctx.scheduler.due(key, &observed, Instant::now()) {
        match prepare(watch, ctx, key).await? {
            Prepared::Unpolled(unpolled) => {
                poller.remove(&poller_key(key));
                ctx.batched.forget(key);
                return finish_unpolled(watch, ctx, key, previous, observed, unpolled).await;
            }
            Prepared::Ready(ready) => {
                let ReadyToPoll {
                    spec,
                    scope,
                    credentials,
                    secret_version,
                } = *ready;
                let revision = revision(&observed, secret_version.as_deref());
                tracing::debug!(
                    namespace = %key.namespace,
                    name = %key.name,
                    trigger = reason.as_str(),
                    hosts = spec.host_ids.len(),
                    "registered with the poller"
                );
                poller.upsert(WatchRegistration {
                    key: poller_key(key),
                    scope,
                    credentials,
                    host_ids: spec.host_ids.clone(),
                    interval: spec.interval,
                    revision: revision.clone(),
                });
                ctx.batched.register(key, revision, spec.interval);
                // The poller polls from now on; the scheduler only brings the reconcile back
                // to re-read the Secret once per interval.
                ctx.scheduler
                    .record_idle(key, observed.clone(), spec.interval, Instant::now());
            }
        }
    }
    let Some(registered) = ctx.batched.get(key) else {
        return Ok(Action::requeue(next_check(ctx, key, &observed)));
    };
    let newest = poller.handle().take_update(&poller_key(key));
    match ctx.batched.next_update(key, newest) {
        Some(update) => {
            let outcome = match update.outcome.clone() {
                Ok(result) => PollOutcome::Success(result),
                Err(failure) => {
                    Counters::inc(&ctx.counters.poll_failures);
                    tracing::warn!(
                        namespace = %key.namespace,
                        name = %key.name,
                        reason = failure.reason,
                        request_id = failure.request_id.as_deref().unwrap_or_default(),
                        message = %failure.message,
                        "HSS poll failed"
                    );
                    PollOutcome::Failed(failure)
                }
            };
            let written = finish(
                watch,
                ctx,
                key,
                previous,
                outcome,
                registered.interval,
                update.smoothed_interval,
            )
            .await;
            if written.is_err() {
                ctx.batched.keep_unapplied(key, update);
            }
            written?;
        }
        None if previous.is_some_and(|p| p.observed_generation != watch.metadata.generation) => {
            // The spec changed and HSS has not answered for it yet: say so (Ready=Unknown,
            // reason Polling) instead of showing the old spec's data as current.
            finish(
                watch,
                ctx,
                key,
                previous,
                PollOutcome::Pending,
                registered.interval,
                None,
            )
            .await?;
        }
        None => {}
    }
    Ok(Action::requeue(next_check(ctx, key, &observed)))
}

/// When the reconcile should come back by itself (the poller's updates bring it back sooner).
fn next_check(ctx: &Context, key: &WatchKey, observed: &Observed) -> Duration {
    match ctx.scheduler.due(key, observed, Instant::now()) {
        Due::NotBefore(wait) => wait,
        Due::Now(_) => ctx.scheduler.backoff_policy().floor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_changes_with_each_trigger() {
        let base = Observed {
            uid: Some("u".into()),
            generation: Some(1),
            refresh_requested_at: None,
        };
        let r = revision(&base, Some("7"));
        assert_eq!(r, revision(&base.clone(), Some("7")));
        assert_ne!(r, revision(&base, Some("8")));
        assert_ne!(r, revision(&base, None));
        let mut other = base.clone();
        other.generation = Some(2);
        assert_ne!(r, revision(&other, Some("7")));
        let mut other = base.clone();
        other.refresh_requested_at = Some("now".into());
        assert_ne!(r, revision(&other, Some("7")));
        let mut other = base;
        other.uid = Some("v".into());
        assert_ne!(r, revision(&other, Some("7")));
    }

    fn update(revision: &str, at: tokio::time::Instant) -> WatchUpdate {
        WatchUpdate {
            key: crate::poller::WatchKey::new("ns", "w"),
            revision: revision.into(),
            outcome: Ok(Default::default()),
            at,
            oldest_data: None,
            target_interval: Duration::from_secs(60),
            effective_interval: None,
            smoothed_interval: None,
            lag: Duration::ZERO,
        }
    }

    #[test]
    fn an_unwritten_update_is_applied_later_unless_superseded_or_stale() {
        let state = BatchedState::default();
        let key = WatchKey {
            namespace: "ns".into(),
            name: "w".into(),
        };
        let t0 = tokio::time::Instant::now();
        let later = t0 + Duration::from_secs(1);
        assert!(
            state.next_update(&key, Some(update("r1", t0))).is_none(),
            "unregistered"
        );
        state.register(&key, "r1".into(), Duration::from_secs(60));
        assert!(
            state.next_update(&key, Some(update("r0", t0))).is_none(),
            "old revision"
        );
        state.keep_unapplied(&key, update("r1", t0));
        assert_eq!(state.next_update(&key, None).map(|u| u.at), Some(t0));
        assert!(state.next_update(&key, None).is_none(), "applied once");
        state.keep_unapplied(&key, update("r1", t0));
        assert_eq!(
            state
                .next_update(&key, Some(update("r1", later)))
                .map(|u| u.at),
            Some(later),
            "a newer update wins"
        );
        state.keep_unapplied(&key, update("r1", t0));
        state.register(&key, "r1".into(), Duration::from_secs(60));
        assert!(
            state.next_update(&key, None).is_some(),
            "same revision keeps it"
        );
        state.keep_unapplied(&key, update("r1", t0));
        state.register(&key, "r2".into(), Duration::from_secs(60));
        assert!(
            state.next_update(&key, None).is_none(),
            "a new revision drops it"
        );
        state.forget(&key);
        assert!(state.keys().is_empty());
    }
}
