//! The one owner of a watch's life. An entry is created only when the primary watch delivers
//! the object ([`WatchTable::observe_decoded`]: its watch event or list) and removed in one place
//! ([`WatchTable::remove`] on its Delete event, [`WatchTable::relisted`] for an object a
//! re-list no longer has). Everything else that keeps state per watch — its registration in the
//! poller, its Node selection, every output's per-watch state (metric series, ...) — follows
//! that add and remove: the table calls them ([`WatchScoped::began`], [`WatchScoped::forget`],
//! `Poller::remove`), and reconciles change them only through the table, for a watch it still
//! holds ([`WatchTable::while_present`], [`WatchTable::register`]). So a reconcile that finishes
//! after its watch was deleted finds no entry and leaves nothing behind, and no periodic sweep
//! is needed.
//!
//! Per watch the table keeps its uid, its status as last written or seen, and its consecutive
//! failures; per credentials Secret what its last read found ([`SecretCache`]); and the poller
//! with its start-up hold.
//!
//! Lock order: the table's lock, then the poller's, then whatever a [`WatchScoped`] holds.
//! Nothing called under the table's lock calls back into the table, and nothing awaits.

use std::collections::hash_map::Entry as Slot;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use super::secret_cache::{ReadTicket, SecretCache, SecretKey, SecretRead};
use super::startup::StartupHold;
use crate::crd::{HostRiskWatch, WatchKey};
use crate::hss::HssClient;
use crate::poller::{Poller, PollerOptions, WatchRegistration};
use crate::status::{HostId, HostRecord, WatchStatus};

/// Something that keeps state per watch besides the table (an output, the Node selections).
pub trait WatchScoped: Send + Sync {
    /// The table took up `watch`, which it did not hold: the primary watch delivered it for the
    /// first time in this process (at start, or on becoming leader), or re-created under
    /// another uid; `hosts` are the records of its `status.hosts`. Called under the table's
    /// lock like [`WatchScoped::forget`], which drops whatever this sets: quick, never
    /// blocking, never calling back into the table.
    fn began(&self, _watch: &HostRiskWatch, _hosts: &[HostRecord]) {}

    /// Drops everything kept for `key`. Called by the table, under its lock, when the watch
    /// goes: quick, never blocking, never calling back into the table.
    fn forget(&self, key: &WatchKey);
}

#[derive(Debug)]
struct Kept {
    status: Arc<WatchStatus>,
    /// `Some(resourceVersion)` of this process's own write until the watch delivers that very
    /// version: events before it are older than the write and must not replace it. `None` once
    /// the watch caught up (or for a status first seen on the watch): every later event is
    /// newer (a watch delivers in order), e.g. the write of a previous leader still draining.
    awaiting: Option<String>,
}

#[derive(Debug)]
struct Entry {
    uid: Option<String>,
    kept: Option<Kept>,
    failures: u32,
    /// The Secret the watch's credentials were last read from.
    secret: Option<SecretKey>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<WatchKey, Entry>,
    secrets: SecretCache,
    poller: Option<Arc<Poller>>,
    startup: Option<StartupHold>,
    /// True once this run's start-up hold ended (see [`WatchTable::startup_settled`]).
    settled: Option<tokio::sync::watch::Sender<bool>>,
}

impl Inner {
    /// The entry of `key` if it is the object `uid`.
    fn entry(&mut self, key: &WatchKey, uid: Option<&str>) -> Option<&mut Entry> {
        self.entries
            .get_mut(key)
            .filter(|entry| entry.uid.as_deref() == uid)
    }

    /// Drops what was read of `secret` when no watch reads it any more.
    fn drop_if_unread(&mut self, secret: &SecretKey) {
        if !self
            .entries
            .values()
            .any(|entry| entry.secret.as_ref() == Some(secret))
        {
            self.secrets.unread(secret);
        }
    }

    /// Ends the start-up hold when nothing is left to wait for.
    fn release_if_settled(&mut self, why: &str) {
        if self.startup.as_ref().is_some_and(StartupHold::done) {
            self.startup = None;
            if let Some(poller) = &self.poller {
                tracing::debug!(why, "poller released");
                poller.release();
            }
            self.announce_settled();
        }
    }

    fn announce_settled(&self) {
        if let Some(settled) = &self.settled {
            settled.send_replace(true);
        }
    }
}

pub struct WatchTable {
    inner: Mutex<Inner>,
    scoped: Vec<Arc<dyn WatchScoped>>,
}

impl WatchTable {
    /// A table whose watches' state in `scoped` follows their life.
    pub fn new(scoped: Vec<Arc<dyn WatchScoped>>) -> Self {
        Self {
            inner: Mutex::default(),
            scoped,
        }
    }

    // A poisoned lock only means a reconcile panicked mid-update of plain map operations.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- life ----

    /// [`WatchTable::observe_decoded`] of a whole object, its hosts still in its status.
    #[cfg(test)]
    pub fn observe(&self, watch: &HostRiskWatch) {
        let hosts = watch
            .status
            .as_ref()
            .map(|status| crate::status::record::records_of(&status.hosts))
            .unwrap_or_default();
        let _ = self.observe_decoded(watch, hosts);
    }

    /// The primary watch delivered `watch` (an event or an item of a list) with `hosts`, the
    /// records of its `status.hosts` (decoded apart: see `controller::slim`): its entry exists
    /// from now on, with its status as the object carries it unless that is older than this
    /// process's own last write. A re-created object (another uid) starts from nothing.
    /// Returns the status the entry keeps after this.
    pub fn observe_decoded(
        &self,
        watch: &HostRiskWatch,
        hosts: Vec<HostRecord>,
    ) -> Option<Arc<WatchStatus>> {
        let key = WatchKey::of(watch)?;
        let uid = watch.metadata.uid.as_deref();
        let version = watch.metadata.resource_version.as_deref();
        let mut inner = self.lock();
        if inner
            .entries
            .get(&key)
            .is_some_and(|e| e.uid.as_deref() != uid)
        {
            self.forget(&mut inner, &key);
        }
        let entry = match inner.entries.entry(key) {
            Slot::Occupied(held) => held.into_mut(),
            Slot::Vacant(free) => {
                let entry = free.insert(Entry {
                    uid: uid.map(str::to_string),
                    kept: None,
                    failures: 0,
                    secret: None,
                });
                for scoped in &self.scoped {
                    scoped.began(watch, &hosts);
                }
                entry
            }
        };
        let Some(status) = watch.status.as_ref() else {
            return entry.kept.as_ref().map(|k| Arc::clone(&k.status));
        };
        if let Some(kept) = entry.kept.as_mut() {
            match kept.awaiting.as_deref() {
                // The watch reached our write: from now on it reports newer statuses.
                Some(written) if Some(written) == version => {
                    kept.awaiting = None;
                    return Some(Arc::clone(&kept.status));
                }
                // Older than our write.
                Some(_) => return Some(Arc::clone(&kept.status)),
                None => {}
            }
        }
        let seen = {
            let known = entry
                .kept
                .as_ref()
                .map(|k| k.status.ids())
                .unwrap_or_default();
            WatchStatus::from_records(status, hosts, |id| {
                known.get(id).map(|id| HostId::clone(id))
            })
        };
        let seen = Arc::new(seen);
        entry.kept = Some(Kept {
            status: Arc::clone(&seen),
            awaiting: None,
        });
        Some(seen)
    }

    /// The primary watch reported `key` deleted (the object `uid`).
    pub fn remove(&self, key: &WatchKey, uid: Option<&str>) {
        let mut inner = self.lock();
        if inner.entry(key, uid).is_some() {
            self.forget(&mut inner, key);
        }
    }

    /// A re-list of the scope `in_scope` ended: the watches it no longer has were deleted while
    /// the watch was away (a re-list reports no deletions).
    pub fn relisted(
        &self,
        in_scope: impl Fn(&WatchKey) -> bool,
        present: impl Fn(&WatchKey) -> bool,
    ) {
        let mut inner = self.lock();
        let gone: Vec<WatchKey> = inner
            .entries
            .keys()
            .filter(|key| in_scope(key) && !present(key))
            .cloned()
            .collect();
        for key in gone {
            tracing::debug!(namespace = %key.namespace, name = %key.name, "watch gone while the watch was away");
            self.forget(&mut inner, &key);
        }
    }

    /// The one place a watch goes: its entry, its Secret's data when no other watch reads it,
    /// its registration, and what every [`WatchScoped`] keeps for it.
    fn forget(&self, inner: &mut Inner, key: &WatchKey) {
        let gone = inner.entries.remove(key);
        if let Some(secret) = gone.and_then(|entry| entry.secret) {
            inner.drop_if_unread(&secret);
        }
        if let Some(poller) = &inner.poller {
            poller.remove(key);
        }
        for scoped in &self.scoped {
            scoped.forget(key);
        }
        if let Some(hold) = inner.startup.as_mut() {
            hold.gone(key);
        }
        inner.release_if_settled("every watch of the first lists registered or gone");
    }

    /// Runs `change` (a change of per-watch state kept elsewhere) under the table's lock if the
    /// table still holds the object `uid` as `key`, so it cannot outlive the watch.
    pub fn while_present<R>(
        &self,
        key: &WatchKey,
        uid: Option<&str>,
        change: impl FnOnce() -> R,
    ) -> Option<R> {
        let mut inner = self.lock();
        inner.entry(key, uid)?;
        Some(change())
    }

    // ---- statuses ----

    /// The status kept for the object `uid` (`Some(None)`: it has none yet); `None` when the
    /// table does not hold it: a reconcile then has nothing to do.
    pub fn previous(&self, key: &WatchKey, uid: Option<&str>) -> Option<Option<Arc<WatchStatus>>> {
        let mut inner = self.lock();
        let entry = inner.entry(key, uid)?;
        Some(entry.kept.as_ref().map(|kept| Arc::clone(&kept.status)))
    }

    /// Keeps the status this process wrote, which the API server stored at `version`.
    pub fn remember_write(
        &self,
        key: &WatchKey,
        uid: Option<&str>,
        version: Option<String>,
        status: Arc<WatchStatus>,
    ) {
        if let Some(entry) = self.lock().entry(key, uid) {
            entry.kept = Some(Kept {
                status,
                // Without a version to wait for, nothing tells older events from newer ones:
                // keep the write until the next one.
                awaiting: Some(version.unwrap_or_default()),
            });
        }
    }

    // ---- failures ----

    /// Counts a failed reconcile; returns the number of consecutive failures.
    pub fn record_failure(&self, key: &WatchKey) -> u32 {
        match self.lock().entries.get_mut(key) {
            Some(entry) => {
                entry.failures = entry.failures.saturating_add(1);
                entry.failures
            }
            None => 1,
        }
    }

    pub fn record_success(&self, key: &WatchKey) {
        if let Some(entry) = self.lock().entries.get_mut(key) {
            entry.failures = 0;
        }
    }

    // ---- credentials Secrets ----

    /// Notes that the watch reads its credentials from `secret` and returns what the last read
    /// found, unless the Secret changed since (then the ticket to store a new read with);
    /// `None` when the table does not hold the watch.
    pub fn cached_secret(
        &self,
        key: &WatchKey,
        uid: Option<&str>,
        secret: &SecretKey,
    ) -> Option<Result<SecretRead, ReadTicket>> {
        let mut inner = self.lock();
        let entry = inner.entry(key, uid)?;
        if entry.secret.as_ref() != Some(secret) {
            if let Some(old) = entry.secret.replace(secret.clone()) {
                inner.drop_if_unread(&old);
            }
        }
        Some(inner.secrets.cached(secret))
    }

    /// Records what a read of `secret` found (see [`SecretCache::store`]).
    pub fn store_secret(&self, secret: SecretKey, read: SecretRead, ticket: ReadTicket) {
        self.lock().secrets.store(secret, read, ticket);
    }

    /// The Secret watch saw `secret` at `version` (`None`: deleted); returns the watches whose
    /// credentials must be read again.
    pub fn secret_seen(&self, secret: &SecretKey, version: Option<&str>) -> Vec<WatchKey> {
        let mut inner = self.lock();
        if !inner.secrets.seen(secret, version) {
            return Vec::new();
        }
        let mut readers: Vec<WatchKey> = inner
            .entries
            .iter()
            .filter(|(_, entry)| entry.secret.as_ref() == Some(secret))
            .map(|(key, _)| key.clone())
            .collect();
        readers.sort();
        readers
    }

    /// A re-list of the Secrets in scope ended (see [`SecretCache::listed`]).
    pub fn secrets_listed(&self, in_scope: impl Fn(&str) -> bool, listed: &HashSet<SecretKey>) {
        self.lock().secrets.listed(in_scope, listed);
    }

    /// Secrets whose credentials data is kept.
    #[cfg(test)]
    pub fn secrets_kept(&self) -> usize {
        self.lock().secrets.len()
    }

    // ---- the poller ----

    /// Starts a poller (stopping any previous one), held until the watches of `lists` first
    /// lists were looked at once ([`WatchTable::initial_list`], [`WatchTable::settled`]).
    pub fn start_poller(
        &self,
        hss: &HssClient,
        options: PollerOptions,
        lists: usize,
    ) -> Arc<Poller> {
        let (poller, _handle) = Poller::new(hss.clone(), options);
        let poller = Arc::new(poller);
        poller.hold();
        let mut inner = self.lock();
        if let Some(old) = inner.poller.replace(Arc::clone(&poller)) {
            old.shutdown();
        }
        inner.startup = Some(StartupHold::new(lists));
        inner.settled = Some(tokio::sync::watch::channel(false).0);
        poller
    }

    /// Turns true once the current run's start-up hold ended: every watch of the first lists
    /// was reconciled once with what the host sources first listed (or gone), or the hold
    /// timed out. Outputs that act on what no watch claims (the Node conditions' leftovers)
    /// wait for it. `None` before the poller of a run started.
    pub fn startup_settled(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
        self.lock().settled.as_ref().map(|s| s.subscribe())
    }

    /// Stops the poller (its group tasks end, subscription streams close).
    pub fn stop_poller(&self) {
        if let Some(poller) = self.lock().poller.take() {
            poller.shutdown();
        }
    }

    pub fn poller(&self) -> Option<Arc<Poller>> {
        self.lock().poller.clone()
    }

    /// Registers the object `uid` with the poller (a no-op when nothing changed); refused when
    /// the table does not hold it.
    pub fn register(&self, uid: Option<&str>, registration: WatchRegistration) -> bool {
        let mut inner = self.lock();
        if inner.entry(&registration.key, uid).is_none() {
            return false;
        }
        if let Some(poller) = &inner.poller {
            poller.upsert(registration);
        }
        true
    }

    /// The watch is not polled (suspended, refused, no usable credentials).
    pub fn unregister(&self, key: &WatchKey) {
        if let Some(poller) = &self.lock().poller {
            poller.remove(key);
        }
    }

    // ---- the start-up hold ----

    /// The first list of one scope ended with these watches in it.
    pub fn initial_list(&self, keys: impl IntoIterator<Item = WatchKey>) {
        let mut inner = self.lock();
        if let Some(hold) = inner.startup.as_mut() {
            hold.listed(keys);
            inner.release_if_settled("every watch of the first lists registered");
        }
    }

    /// A first list ended (the Nodes'): `again` are the watches reconciled before it, which
    /// could not register and hold the first sweep back again until their next reconcile.
    pub fn initial_list_again(&self, again: &[WatchKey]) {
        let mut inner = self.lock();
        if let Some(hold) = inner.startup.as_mut() {
            hold.listed_again(again);
            inner.release_if_settled("every watch of the first lists registered");
        }
    }

    /// A reconcile of `key` ended (registered, refused, or failed): it no longer holds the
    /// first sweep back.
    pub fn settled(&self, key: &WatchKey) {
        let mut inner = self.lock();
        if let Some(hold) = inner.startup.as_mut() {
            hold.settled(key);
            inner.release_if_settled("every watch of the first lists registered");
        }
    }

    /// Ends the start-up hold whatever is still missing (a bound on how long a slow start may
    /// hold polling back).
    pub fn end_startup_hold(&self) {
        let mut inner = self.lock();
        if inner.startup.take().is_some() {
            if let Some(poller) = &inner.poller {
                tracing::debug!("start-up hold timed out; poller released");
                poller.release();
            }
            inner.announce_settled();
        }
    }

    // ---- what is held ----

    /// Watches held.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a watch of `key` (any uid) is held.
    pub fn contains(&self, key: &WatchKey) -> bool {
        self.lock().entries.contains_key(key)
    }
}

#[cfg(test)]
#[path = "watches_tests.rs"]
mod tests;
