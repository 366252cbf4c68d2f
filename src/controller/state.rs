//! The one owner of what the controller keeps about each watch: its status as last written or
//! seen, its poller registration and an update still to apply, its consecutive failures, the
//! Nodes it selects (node-backed watches, so a Node change reaches exactly the watches it may
//! concern), and (per Secret) the credentials data read with the Secret's `resourceVersion`. Its metric
//! series and its registration in the poller are dropped with it: [`WatchTable::forget`] is the
//! only way anything about a watch goes away, and [`WatchTable::prune`] calls it for every
//! watch that is gone.
//!
//! Reads and writes go through short critical sections on one lock; nothing here awaits, and
//! the poller is called after the table's lock is released.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::ByteString;

use kube::core::SelectorExt;

use crate::crd::selector::NodeSource;
use crate::crd::{HostRiskWatchStatus, WatchKey};
use crate::hss::HssClient;
use crate::metrics::Metrics;
use crate::nodes::NodeInfo;
use crate::poller::{Poller, PollerOptions, WatchRegistration, WatchUpdate};
use crate::status::kept::KeptStatus;

/// A Secret, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretKey {
    pub namespace: String,
    pub name: String,
}

/// What a GET of a Secret found: its `resourceVersion` and the credential keys of its data
/// (`version: None`: there was no such Secret).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretRead {
    pub version: Option<String>,
    pub data: BTreeMap<String, ByteString>,
}

#[derive(Debug, Default)]
struct SecretEntry {
    read: Option<SecretRead>,
    /// The Secret watch reported another version (or the deletion) since the read, or a
    /// re-list could not confirm it: the next use reads it again.
    outdated: bool,
    /// Reports of the Secret watch so far; a read started before a report may have missed it.
    reports: u64,
}

/// Where a read of a Secret started, so that a change reported while it ran is not lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTicket(u64);

#[derive(Debug, Clone)]
struct Registered {
    revision: String,
    interval: Duration,
    /// A digest of the host ids (a node-backed watch's change with its Nodes, not its revision).
    ids: u64,
}

fn ids_digest(ids: &[String]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    ids.hash(&mut hasher);
    hasher.finish()
}

#[derive(Debug)]
struct Kept {
    status: KeptStatus,
    /// `Some(resourceVersion)` of this process's own write until the watch delivers that very
    /// version: events before it are older than the write and must not replace it. `None` once
    /// the watch caught up (or for a status first seen on the watch): every later event is
    /// newer (a watch delivers in order), e.g. the write of a previous leader still draining.
    awaiting: Option<String>,
}

#[derive(Debug, Default)]
struct WatchEntry {
    uid: Option<String>,
    /// The Secret this watch's credentials were last read from.
    secret: Option<SecretKey>,
    failures: u32,
    registered: Option<Registered>,
    /// An update whose status write failed, to apply on the retry.
    unapplied: Option<WatchUpdate>,
    kept: Option<Kept>,
    /// The Nodes a node-backed watch selects, as its last reconcile validated them.
    nodes: Option<NodeSource>,
}

impl WatchEntry {
    /// The entry as it stands for the object with `uid`: a re-created object (another uid)
    /// starts from nothing.
    fn for_uid(&mut self, uid: Option<&str>) -> &mut Self {
        if self.uid.as_deref() != uid {
            *self = WatchEntry {
                uid: uid.map(str::to_string),
                ..WatchEntry::default()
            };
        }
        self
    }
}

/// While the poller is held at start: the scopes whose first list is still to come, and the
/// watches of the lists that came that no reconcile has looked at yet.
#[derive(Debug, Default)]
struct StartupHold {
    scopes_pending: usize,
    waiting: HashSet<WatchKey>,
    settled: HashSet<WatchKey>,
}

#[derive(Debug, Default)]
struct Inner {
    watches: HashMap<WatchKey, WatchEntry>,
    secrets: HashMap<SecretKey, SecretEntry>,
    startup: Option<StartupHold>,
}

impl Inner {
    /// Drops the kept data of `secret` when no watch reads it any more.
    fn drop_unread_secret(&mut self, secret: &SecretKey) {
        let still_read = self
            .watches
            .values()
            .any(|entry| entry.secret.as_ref() == Some(secret));
        if !still_read {
            self.secrets.remove(secret);
        }
    }

    /// True when the startup hold just ended (the caller releases the poller).
    fn startup_done(&mut self) -> bool {
        let done = self
            .startup
            .as_ref()
            .is_some_and(|hold| hold.scopes_pending == 0 && hold.waiting.is_empty());
        if done {
            self.startup = None;
        }
        done
    }
}

pub struct WatchTable {
    inner: Mutex<Inner>,
    poller: Mutex<Option<Arc<Poller>>>,
    metrics: Metrics,
}

impl WatchTable {
    pub fn new(metrics: Metrics) -> Self {
        Self {
            inner: Mutex::default(),
            poller: Mutex::default(),
            metrics,
        }
    }

    // A poisoned lock only means a reconcile panicked mid-update of plain map operations.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn poller_slot(&self) -> MutexGuard<'_, Option<Arc<Poller>>> {
        self.poller.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- statuses ----

    /// The full status kept for this object (same uid), if any.
    pub fn kept_status(&self, key: &WatchKey, uid: Option<&str>) -> Option<HostRiskWatchStatus> {
        let inner = self.lock();
        let entry = inner.watches.get(key)?;
        if entry.uid.as_deref() != uid {
            return None;
        }
        entry.kept.as_ref().map(|kept| kept.status.to_status())
    }

    /// The status the watch shows at `resource_version`: kept unless it is older than this
    /// process's own last write for the same object.
    pub fn seed(
        &self,
        key: &WatchKey,
        uid: Option<&str>,
        resource_version: Option<&str>,
        status: &HostRiskWatchStatus,
    ) {
        let mut inner = self.lock();
        let entry = inner.watches.entry(key.clone()).or_default().for_uid(uid);
        if let Some(kept) = entry.kept.as_mut() {
            match kept.awaiting.as_deref() {
                // The watch reached our write: from now on it reports newer statuses.
                Some(written) if Some(written) == resource_version => {
                    kept.awaiting = None;
                    return;
                }
                // Older than our write.
                Some(_) => return,
                None => {}
            }
        }
        entry.kept = Some(Kept {
            status: KeptStatus::new(status),
            awaiting: None,
        });
    }

    /// Keeps the status this process wrote, which the API server stored at `resource_version`.
    pub fn remember_write(
        &self,
        key: &WatchKey,
        uid: Option<&str>,
        resource_version: Option<String>,
        status: &HostRiskWatchStatus,
    ) {
        let mut inner = self.lock();
        let entry = inner.watches.entry(key.clone()).or_default().for_uid(uid);
        entry.kept = Some(Kept {
            status: KeptStatus::new(status),
            // Without a version to wait for, nothing tells older events from newer ones: keep
            // the write until the next one.
            awaiting: Some(resource_version.unwrap_or_default()),
        });
    }

    /// Drops the kept status of a watch, nothing else: its next reconcile reads the status back
    /// from the API server (the path a missed seed takes; the fault matrix forces it this way).
    pub fn forget_kept_status(&self, key: &WatchKey) {
        if let Some(entry) = self.lock().watches.get_mut(key) {
            entry.kept = None;
        }
    }

    // ---- secrets ----

    /// Notes that watch `key` reads its credentials from `secret`, and returns what the last
    /// read of that Secret found, unless the Secret changed since; else the ticket to store a
    /// new read with.
    pub fn cached_secret(
        &self,
        key: &WatchKey,
        uid: Option<&str>,
        secret: &SecretKey,
    ) -> Result<SecretRead, ReadTicket> {
        let mut inner = self.lock();
        let entry = inner.watches.entry(key.clone()).or_default().for_uid(uid);
        if entry.secret.as_ref() != Some(secret) {
            if let Some(old) = entry.secret.replace(secret.clone()) {
                inner.drop_unread_secret(&old);
            }
        }
        let cached = inner.secrets.entry(secret.clone()).or_default();
        match &cached.read {
            Some(read) if !cached.outdated => Ok(read.clone()),
            _ => Err(ReadTicket(cached.reports)),
        }
    }

    /// Records what a read of `secret` found; outdated at once when the Secret watch reported
    /// something while the read ran.
    pub fn store_secret(&self, secret: SecretKey, read: SecretRead, ticket: ReadTicket) {
        let mut inner = self.lock();
        let entry = inner.secrets.entry(secret).or_default();
        entry.outdated = entry.reports != ticket.0;
        entry.read = Some(read);
    }

    /// The Secret watch saw `secret` at `version` (`None`: deleted). Returns the watches that
    /// read it at another version: their credentials must be read again. A Secret no watch
    /// reads, or one seen again at the version read (a re-list), triggers nothing.
    pub fn secret_seen(&self, secret: &SecretKey, version: Option<&str>) -> Vec<WatchKey> {
        let mut inner = self.lock();
        let Some(entry) = inner.secrets.get_mut(secret) else {
            return Vec::new();
        };
        entry.reports += 1;
        let (changed, reading) = match &entry.read {
            Some(read) => (read.version.as_deref() != version, false),
            // A first read is in flight: it may have missed this.
            None => (true, true),
        };
        let known = entry.outdated && !reading;
        entry.outdated |= changed;
        if !changed || known {
            // Unchanged, or already to be read again by the reconciles triggered before.
            return Vec::new();
        }
        inner
            .watches
            .iter()
            .filter(|(_, watch)| watch.secret.as_ref() == Some(secret))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// A re-list of Secrets in scope ended: a read Secret it did not list was deleted while the
    /// watch was away (a re-list reports no deletions), so it is read again at next use.
    pub fn secrets_listed(&self, in_scope: impl Fn(&str) -> bool, listed: &HashSet<SecretKey>) {
        let mut inner = self.lock();
        for (key, entry) in inner.secrets.iter_mut() {
            let was_there = entry.read.as_ref().is_some_and(|r| r.version.is_some());
            if in_scope(&key.namespace) && !listed.contains(key) && was_there {
                entry.outdated = true;
            }
        }
    }

    // ---- the poller ----

    /// Starts a poller (stopping any previous one), held until the watches of every scope's
    /// first list were looked at once ([`WatchTable::initial_list`], [`WatchTable::settled`]);
    /// `scopes` counts the Node list too when node-backed watches are served
    /// ([`WatchTable::nodes_listed`]).
    /// Registrations made with an earlier poller are void.
    pub fn start_poller(
        &self,
        hss: &HssClient,
        options: PollerOptions,
        scopes: usize,
    ) -> Arc<Poller> {
        let (poller, handle) = Poller::new(hss.clone(), options);
        let poller = Arc::new(poller);
        poller.hold();
        self.metrics.observe_poller(Some(Arc::new(handle)));
        {
            let mut inner = self.lock();
            for entry in inner.watches.values_mut() {
                entry.registered = None;
                entry.unapplied = None;
            }
            inner.startup = Some(StartupHold {
                scopes_pending: scopes,
                ..StartupHold::default()
            });
        }
        if let Some(old) = self.poller_slot().replace(Arc::clone(&poller)) {
            old.shutdown();
        }
        poller
    }

    /// Stops the poller (its group tasks end, subscription streams close).
    pub fn stop_poller(&self) {
        if let Some(poller) = self.poller_slot().take() {
            poller.shutdown();
        }
        self.metrics.observe_poller(None);
    }

    pub fn poller(&self) -> Option<Arc<Poller>> {
        self.poller_slot().clone()
    }

    /// The first list of one scope ended with these watches in it.
    pub fn initial_list(&self, keys: impl IntoIterator<Item = WatchKey>) {
        let release = {
            let mut inner = self.lock();
            let Some(hold) = inner.startup.as_mut() else {
                return;
            };
            let settled = std::mem::take(&mut hold.settled);
            hold.waiting
                .extend(keys.into_iter().filter(|key| !settled.contains(key)));
            hold.settled = settled;
            hold.scopes_pending = hold.scopes_pending.saturating_sub(1);
            inner.startup_done()
        };
        if release {
            self.release_poller("every watch of the first list registered");
        }
    }

    /// A reconcile of `key` ended (registered, refused, or failed): it no longer holds the
    /// first sweep back.
    pub fn settled(&self, key: &WatchKey) {
        let release = {
            let mut inner = self.lock();
            let Some(hold) = inner.startup.as_mut() else {
                return;
            };
            hold.waiting.remove(key);
            hold.settled.insert(key.clone());
            inner.startup_done()
        };
        if release {
            self.release_poller("every watch of the first list registered");
        }
    }

    /// Ends the startup hold whatever is still missing (a bound on how long a slow start may
    /// hold polling back).
    pub fn end_startup_hold(&self) {
        let held = self.lock().startup.take().is_some();
        if held {
            self.release_poller("start-up hold timed out");
        }
    }

    fn release_poller(&self, why: &str) {
        if let Some(poller) = self.poller() {
            tracing::debug!(why, "poller released");
            poller.release();
        }
    }

    /// Registers the watch with the poller unless it is registered with this very revision,
    /// interval and host ids already.
    pub fn register(&self, uid: Option<&str>, registration: WatchRegistration) {
        let Some(poller) = self.poller() else {
            return;
        };
        {
            let mut inner = self.lock();
            let entry = inner
                .watches
                .entry(registration.key.clone())
                .or_default()
                .for_uid(uid);
            let ids = ids_digest(&registration.host_ids);
            if entry.registered.as_ref().is_some_and(|r| {
                r.revision == registration.revision
                    && r.interval == registration.interval
                    && r.ids == ids
            }) {
                return;
            }
            if entry
                .unapplied
                .as_ref()
                .is_some_and(|u| u.revision != registration.revision)
            {
                entry.unapplied = None;
            }
            entry.registered = Some(Registered {
                revision: registration.revision.clone(),
                interval: registration.interval,
                ids,
            });
        }
        poller.upsert(registration);
    }

    /// The watch is not polled (suspended, refused, no usable credentials).
    pub fn unregister(&self, key: &WatchKey) {
        if let Some(entry) = self.lock().watches.get_mut(key) {
            entry.registered = None;
            entry.unapplied = None;
        }
        if let Some(poller) = self.poller() {
            poller.remove(key);
        }
    }

    /// The interval the watch is registered with, if it is.
    pub fn registered_interval(&self, key: &WatchKey) -> Option<Duration> {
        self.lock()
            .watches
            .get(key)?
            .registered
            .as_ref()
            .map(|r| r.interval)
    }

    /// The update to apply now: the poller's newest (it supersedes one kept from a failed
    /// write), else the kept one; only for the registered revision.
    pub fn next_update(&self, key: &WatchKey) -> Option<WatchUpdate> {
        let newest = self.poller()?.handle().take_update(key);
        let mut inner = self.lock();
        let entry = inner.watches.get_mut(key)?;
        let kept = entry.unapplied.take();
        let revision = &entry.registered.as_ref()?.revision;
        newest.or(kept).filter(|u| &u.revision == revision)
    }

    /// Keeps an update whose status could not be written (unless a newer one is kept).
    pub fn keep_unapplied(&self, key: &WatchKey, update: WatchUpdate) {
        if let Some(entry) = self.lock().watches.get_mut(key) {
            if entry.unapplied.as_ref().is_none_or(|u| u.at < update.at) {
                entry.unapplied = Some(update);
            }
        }
    }

    // ---- Nodes ----

    /// Notes which Nodes watch `key` selects (`None`: it is not node-backed).
    pub fn set_node_source(&self, key: &WatchKey, uid: Option<&str>, source: Option<&NodeSource>) {
        let mut inner = self.lock();
        let entry = inner.watches.entry(key.clone()).or_default().for_uid(uid);
        if entry.nodes.as_ref() != source {
            entry.nodes = source.cloned();
        }
    }

    /// The node-backed watches that select `before` or `after` (a Node that changed, appeared
    /// or went away), or all of them when both are `None`.
    pub fn watches_selecting(
        &self,
        before: Option<&NodeInfo>,
        after: Option<&NodeInfo>,
    ) -> Vec<WatchKey> {
        let selects = |source: &NodeSource, node: Option<&NodeInfo>| {
            node.is_some_and(|n| source.selector.matches(&n.labels))
        };
        let all = before.is_none() && after.is_none();
        let mut keys: Vec<WatchKey> =
            self.lock()
                .watches
                .iter()
                .filter(|(_, entry)| {
                    entry.nodes.as_ref().is_some_and(|source| {
                        all || selects(source, before) || selects(source, after)
                    })
                })
                .map(|(key, _)| key.clone())
                .collect();
        keys.sort();
        keys
    }

    /// The Node list (or its refusal) came: the node-backed watches reconciled before it, which
    /// could not register, hold the first sweep back again until their next reconcile.
    pub fn nodes_listed(&self, reconcile_again: &[WatchKey]) {
        let release = {
            let mut inner = self.lock();
            let Some(hold) = inner.startup.as_mut() else {
                return;
            };
            for key in reconcile_again {
                hold.settled.remove(key);
                hold.waiting.insert(key.clone());
            }
            hold.scopes_pending = hold.scopes_pending.saturating_sub(1);
            inner.startup_done()
        };
        if release {
            self.release_poller("every watch of the first lists registered");
        }
    }

    // ---- failures ----

    /// Counts a failed reconcile; returns the number of consecutive failures.
    pub fn record_failure(&self, key: &WatchKey) -> u32 {
        let mut inner = self.lock();
        let entry = inner.watches.entry(key.clone()).or_default();
        entry.failures = entry.failures.saturating_add(1);
        entry.failures
    }

    pub fn record_success(&self, key: &WatchKey) {
        if let Some(entry) = self.lock().watches.get_mut(key) {
            entry.failures = 0;
        }
    }

    // ---- lifecycle ----

    /// Drops everything about a watch: its entry, its registration in the poller, its metric
    /// series, and the Secrets no remaining watch reads.
    pub fn forget(&self, key: &WatchKey) {
        let release = {
            let mut inner = self.lock();
            let forgotten = inner.watches.remove(key);
            if let Some(secret) = forgotten.and_then(|entry| entry.secret) {
                inner.drop_unread_secret(&secret);
            }
            match inner.startup.as_mut() {
                Some(hold) => {
                    hold.waiting.remove(key);
                    inner.startup_done()
                }
                None => false,
            }
        };
        if release {
            self.release_poller("every watch of the first list registered or gone");
        }
        if let Some(poller) = self.poller() {
            poller.remove(key);
        }
        self.metrics.forget_watch(&key.namespace, &key.name);
    }

    /// Forgets every watch of the scope known here, to the poller or to the metrics that is
    /// not `present` (deleted while the watch was re-listing, or touched by a reconcile that
    /// finished after its deletion was handled).
    pub fn prune(&self, in_scope: impl Fn(&WatchKey) -> bool, present: impl Fn(&WatchKey) -> bool) {
        let mut known: Vec<WatchKey> = self.keys();
        if let Some(poller) = self.poller() {
            known.extend(poller.handle().registered());
        }
        known.extend(
            self.metrics
                .watches()
                .into_iter()
                .map(|(namespace, name)| WatchKey { namespace, name }),
        );
        known.sort();
        known.dedup();
        for key in known.into_iter().filter(|k| in_scope(k) && !present(k)) {
            tracing::debug!(namespace = %key.namespace, name = %key.name, "watch gone; forgotten");
            self.forget(&key);
        }
    }

    /// Watches with an entry.
    pub fn keys(&self) -> Vec<WatchKey> {
        self.lock().watches.keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.lock().watches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Secrets whose credentials data is kept.
    pub fn secrets_kept(&self) -> usize {
        self.lock().secrets.len()
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
