//! The poller's start-up hold: the first sweep waits until every watch of the first lists was
//! looked at once (registered, refused or failed), so it packs all of them into the fewest
//! calls instead of sending whatever registered first half empty. Plain data: the watch table
//! holds it under its lock and releases the poller when it is done.

use std::collections::HashSet;

use crate::crd::WatchKey;

#[derive(Debug)]
pub(crate) struct StartupHold {
    /// First lists still to come: one per scope's primary watch, one for the Nodes when they
    /// are served.
    lists_pending: usize,
    /// Watches of the lists that came that no reconcile has looked at yet.
    waiting: HashSet<WatchKey>,
    /// Watches a reconcile looked at before their list was reported.
    settled: HashSet<WatchKey>,
}

impl StartupHold {
    pub fn new(lists: usize) -> Self {
        Self {
            lists_pending: lists,
            waiting: HashSet::new(),
            settled: HashSet::new(),
        }
    }

    /// A first list ended with `keys` in it.
    pub fn listed(&mut self, keys: impl IntoIterator<Item = WatchKey>) {
        let settled = &self.settled;
        self.waiting
            .extend(keys.into_iter().filter(|key| !settled.contains(key)));
        self.lists_pending = self.lists_pending.saturating_sub(1);
    }

    /// A first list ended after these watches were looked at in vain (they wait for it): they
    /// hold the sweep back again until their next reconcile.
    pub fn listed_again(&mut self, keys: &[WatchKey]) {
        for key in keys {
            self.settled.remove(key);
            self.waiting.insert(key.clone());
        }
        self.lists_pending = self.lists_pending.saturating_sub(1);
    }

    /// A reconcile of `key` ended.
    pub fn settled(&mut self, key: &WatchKey) {
        self.waiting.remove(key);
        self.settled.insert(key.clone());
    }

    /// `key` is gone.
    pub fn gone(&mut self, key: &WatchKey) {
        self.waiting.remove(key);
    }

    /// Nothing left to wait for.
    pub fn done(&self) -> bool {
        self.lists_pending == 0 && self.waiting.is_empty()
    }
}
