//! The election loop (client-go `leaderelection.LeaderElector`): acquire, renew, release.

use std::future::Future;
use std::time::Duration;

use kube::Client;
use tokio::sync::watch;
use tokio::time::{sleep, timeout, timeout_at, Instant};

use super::config::JITTER_FACTOR;
use super::lock::LeaseLock;
use super::record::{now_micro, LeaderElectionRecord};
use super::{LeaderElectionConfig, LeaderError, LeadershipState};

/// The record as last seen (read or written) and when, by the local monotonic clock.
/// client-go decides expiry from this observation time, never from the remote
/// `renewTime`, so clock skew between contenders does not matter.
struct Observed {
    record: LeaderElectionRecord,
    at: Instant,
}

/// Outcome of one `try_acquire_or_renew`.
enum Attempt {
    /// We hold the lease now (created, acquired or renewed).
    Holding,
    /// Someone else holds an unexpired lease.
    HeldBy(String),
}

/// Publishes [`LeadershipState`]. If it is dropped while `Leading` (the `run` future was
/// dropped, e.g. its task aborted), it publishes `Lost`: nothing renews the lease any
/// more, so whoever acts on our leadership must stop.
struct Publisher(watch::Sender<LeadershipState>);

impl Publisher {
    fn set(&self, state: LeadershipState) {
        self.0.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        });
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.0.send_if_modified(|current| {
            let leading = *current == LeadershipState::Leading;
            if leading {
                *current = LeadershipState::Lost;
            }
            leading
        });
    }
}

/// Takes part in the election for one Lease. Create with [`LeaderElector::new`], take a
/// state receiver with [`LeaderElector::subscribe`], then drive it with
/// [`LeaderElector::run`].
pub struct LeaderElector {
    config: LeaderElectionConfig,
    lock: LeaseLock,
    observed: Option<Observed>,
    state: Publisher,
}

impl LeaderElector {
    /// Validates `config` (see [`LeaderElectionConfig::validate`]); no request is made yet.
    pub fn new(client: Client, config: LeaderElectionConfig) -> Result<Self, LeaderError> {
        config.validate()?;
        let lock = LeaseLock::new(client, &config.lease_namespace, &config.lease_name);
        let (tx, _) = watch::channel(LeadershipState::Following { holder: None });
        Ok(Self {
            config,
            lock,
            observed: None,
            state: Publisher(tx),
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &LeaderElectionConfig {
        &self.config
    }

    /// A receiver of the leadership state; it starts as `Following { holder: None }`.
    /// When the elector is gone the channel closes (`changed()` errs): treat that as not
    /// leading.
    pub fn subscribe(&self) -> watch::Receiver<LeadershipState> {
        self.state.0.subscribe()
    }

    /// Runs the election until `shutdown` completes or leadership is lost.
    ///
    /// - Acquire: one attempt, then a jittered wait of `retry_period × [1, 2.2)` (client-go
    ///   `JitterUntil`), until we hold the lease; each attempt is cut off after
    ///   `renew_deadline` so a hanging request (kube retries 503s by itself) cannot
    ///   stall the loop. Publishes `Following { holder }` meanwhile, then `Leading`.
    /// - Renew: an attempt every `retry_period`. If no attempt started within the last
    ///   `renew_deadline` succeeds, or another holder is seen, publishes `Lost` and
    ///   returns [`LeaderError::Lost`]; the process must stop leading. The deadline is
    ///   counted from the *start* of the last successful renewal (client-go counts from
    ///   the start of the renewal round, slightly later): the write happened after that
    ///   instant and followers wait `lease_duration` from when they saw it, so with
    ///   `lease_duration > renew_deadline` we give up before anyone may take over.
    /// - Shutdown: publishes `Following { .. }` first, then, if we were leading and
    ///   `release_on_cancel` is set, releases the lease (holder "", duration 1s, like
    ///   client-go `release()`), giving that write at most `renew_deadline`. Returns `Ok`.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), LeaderError> {
        tokio::pin!(shutdown);
        let acquired = tokio::select! {
            biased;
            () = &mut shutdown => None,
            started = self.acquire() => Some(started),
        };
        let Some(renewed_at) = acquired else {
            self.state.set(self.following());
            return Ok(());
        };
        tracing::info!(lease = %self.config.lease_name, namespace = %self.config.lease_namespace,
            identity = %self.config.identity, "became leader");
        self.state.set(LeadershipState::Leading);
        let lost = tokio::select! {
            biased;
            () = &mut shutdown => None,
            lost = self.renew(renewed_at) => Some(lost),
        };
        if let Some(lost) = lost {
            tracing::warn!(lease = %self.config.lease_name, namespace = %self.config.lease_namespace,
                identity = %self.config.identity, "leadership lost");
            self.state.set(LeadershipState::Lost);
            return Err(lost);
        }
        self.state.set(LeadershipState::Following { holder: None });
        if self.config.release_on_cancel {
            match timeout(self.config.renew_deadline, self.release()).await {
                Ok(Ok(())) => tracing::info!(lease = %self.config.lease_name,
                    namespace = %self.config.lease_namespace, "released lease"),
                Ok(Err(error)) => tracing::warn!(%error, lease = %self.config.lease_name,
                    "failed to release lease; it expires on its own"),
                Err(_) => tracing::warn!(lease = %self.config.lease_name,
                    "releasing lease timed out; it expires on its own"),
            }
        }
        Ok(())
    }

    /// Loops until we hold the lease; returns when the successful attempt started.
    async fn acquire(&mut self) -> Instant {
        loop {
            let started = Instant::now();
            match timeout(self.config.renew_deadline, self.try_acquire_or_renew()).await {
                Ok(Ok(Attempt::Holding)) => return started,
                Ok(Ok(Attempt::HeldBy(holder))) => {
                    tracing::debug!(%holder, lease = %self.config.lease_name, "lease held by another");
                    self.state.set(self.following());
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, lease = %self.config.lease_name, "failed to acquire lease");
                    self.state.set(self.following());
                }
                Err(_) => tracing::warn!(lease = %self.config.lease_name,
                    "acquiring lease timed out after the renew deadline"),
            }
            sleep(jittered(self.config.retry_period)).await;
        }
    }

    /// Renews every retry period; returns only when leadership is lost.
    async fn renew(&mut self, mut renewed_at: Instant) -> LeaderError {
        loop {
            sleep(self.config.retry_period).await;
            let deadline = renewed_at + self.config.renew_deadline;
            let started = Instant::now();
            if started >= deadline {
                return self.lost();
            }
            match timeout_at(deadline, self.try_acquire_or_renew()).await {
                Ok(Ok(Attempt::Holding)) => renewed_at = started,
                Ok(Ok(Attempt::HeldBy(holder))) => {
                    // client-go keeps polling until the deadline here; giving up at once
                    // is safer since someone else already acts as leader.
                    tracing::warn!(%holder, lease = %self.config.lease_name, "lease taken by another");
                    return self.lost();
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, lease = %self.config.lease_name, "failed to renew lease");
                }
                Err(_) => return self.lost(),
            }
        }
    }

    /// client-go `tryAcquireOrRenew`.
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, LeaderError> {
        let now = Instant::now();
        let stamp = now_micro();
        let mut desired = LeaderElectionRecord {
            holder_identity: self.config.identity.clone(),
            lease_duration_seconds: self.config.lease_duration_seconds(),
            acquire_time: Some(stamp),
            renew_time: Some(stamp),
            leader_transitions: 0,
        };

        // 1. Fast path: the leader updates against the Lease it last wrote.
        if let Some(observed) = self
            .observed
            .as_ref()
            .filter(|_| self.is_leader() && self.lease_valid(now))
        {
            desired.acquire_time = observed.record.acquire_time;
            desired.leader_transitions = observed.record.leader_transitions;
            match self.lock.update(&desired).await {
                Ok(()) => {
                    self.observe(desired);
                    return Ok(Attempt::Holding);
                }
                Err(error) => tracing::debug!(%error, lease = %self.config.lease_name,
                    "optimistic renewal failed, reading the lease"),
            }
        }

        // 2. Read the lease; create it when absent.
        let Some(current) = self.lock.get().await? else {
            self.lock.create(&desired).await?;
            self.observe(desired);
            return Ok(Attempt::Holding);
        };

        // 3. Any change restarts the expiry clock; an unexpired foreign holder wins.
        if self.observed.as_ref().map(|o| &o.record) != Some(&current) {
            self.observe(current.clone());
        }
        if !current.holder_identity.is_empty() && self.lease_valid(now) && !self.is_leader() {
            return Ok(Attempt::HeldBy(current.holder_identity));
        }

        // 4. Take over (counting a transition) or renew, conditional on resourceVersion.
        if self.is_leader() {
            desired.acquire_time = current.acquire_time;
            desired.leader_transitions = current.leader_transitions;
        } else {
            desired.leader_transitions = current.leader_transitions.saturating_add(1);
        }
        self.lock.update(&desired).await?;
        self.observe(desired);
        Ok(Attempt::Holding)
    }

    /// client-go `release()`: keep the transitions, empty the holder, 1s duration.
    async fn release(&mut self) -> Result<(), LeaderError> {
        let Some(observed) = self.observed.as_ref().filter(|_| self.is_leader()) else {
            return Ok(());
        };
        let stamp = now_micro();
        let record = LeaderElectionRecord {
            holder_identity: String::new(),
            lease_duration_seconds: 1,
            acquire_time: Some(stamp),
            renew_time: Some(stamp),
            leader_transitions: observed.record.leader_transitions,
        };
        self.lock.update(&record).await?;
        self.observe(record);
        Ok(())
    }

    fn observe(&mut self, record: LeaderElectionRecord) {
        self.observed = Some(Observed {
            record,
            at: Instant::now(),
        });
    }

    fn is_leader(&self) -> bool {
        self.observed
            .as_ref()
            .is_some_and(|o| o.record.holder_identity == self.config.identity)
    }

    /// Valid while `observed at + leaseDurationSeconds` (of the observed record) is after `now`.
    fn lease_valid(&self, now: Instant) -> bool {
        self.observed.as_ref().is_some_and(|o| {
            let secs = u64::from(o.record.lease_duration_seconds.max(0).unsigned_abs());
            o.at + Duration::from_secs(secs) > now
        })
    }

    fn following(&self) -> LeadershipState {
        let holder = self
            .observed
            .as_ref()
            .map(|o| o.record.holder_identity.clone())
            .filter(|h| !h.is_empty() && *h != self.config.identity);
        LeadershipState::Following { holder }
    }

    fn lost(&self) -> LeaderError {
        LeaderError::Lost {
            namespace: self.config.lease_namespace.clone(),
            name: self.config.lease_name.clone(),
            renew_deadline: self.config.renew_deadline,
        }
    }
}

/// client-go `wait.Jitter(period, 1.2)`: `period + random[0, 1.2) × period`, so
/// contenders do not hit the API server in lockstep.
fn jittered(period: Duration) -> Duration {
    period.mul_f64(1.0 + rand::random::<f64>() * JITTER_FACTOR)
}
