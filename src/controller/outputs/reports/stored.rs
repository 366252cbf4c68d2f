//! What the report output knows of the API server's side: whether the report kind's CRD is
//! served, and per report (in the namespaces watched) the digest of what is stored, from a
//! metadata-only watch of the operator's reports and from its own writes. A mirror of the
//! server: an entry lives as long as its report, whatever happens to the watch.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

/// Whether the report kind can be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrdState {
    /// The CRD watch has not answered yet.
    Unknown,
    /// Not installed, not established, or without the version written.
    Missing,
    Served,
    /// The CRD cannot be read (the API server refuses it): writes are tried, and their answers
    /// tell.
    Unreadable(String),
}

impl CrdState {
    pub fn writable(&self) -> bool {
        matches!(self, Self::Served | Self::Unreadable(_))
    }
}

/// What is known of the reports stored in one namespace scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    /// Not listed yet (or the CRD is missing).
    Listing,
    /// Listed, and followed since.
    Listed,
    /// The list is refused or fails: only this process's own writes are known.
    Unusable(String),
}

/// A report, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportKey {
    pub namespace: String,
    pub name: String,
}

/// What a publish needs to know about one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub crd: CrdState,
    /// Its scope was listed (every stored report is known).
    pub listed: bool,
    /// Listed, or known not to be listable: deciding can go on.
    pub indexed: bool,
    /// `Some(digest)` when the report is stored (`Some(None)`: without a digest of ours).
    pub stored: Option<Option<u64>>,
}

#[derive(Default)]
struct Inner {
    scopes: Vec<(Option<String>, IndexState)>,
    stored: HashMap<ReportKey, Option<u64>>,
}

impl Inner {
    fn scope_of(&self, namespace: &str) -> Option<&IndexState> {
        self.scopes
            .iter()
            .find(|(scope, _)| scope.as_deref().is_none_or(|ns| ns == namespace))
            .map(|(_, state)| state)
    }

    fn scope_mut(&mut self, scope: Option<&str>) -> Option<&mut IndexState> {
        self.scopes
            .iter_mut()
            .find(|(s, _)| s.as_deref() == scope)
            .map(|(_, state)| state)
    }
}

fn in_scope(scope: Option<&str>, key: &ReportKey) -> bool {
    scope.is_none_or(|ns| ns == key.namespace)
}

pub struct StoredReports {
    inner: Mutex<Inner>,
    crd: watch::Sender<CrdState>,
}

impl Default for StoredReports {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            crd: watch::channel(CrdState::Unknown).0,
        }
    }
}

impl StoredReports {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Plain map updates: a panic cannot leave one half done.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets everything for a new run over `scopes`.
    pub fn reset(&self, scopes: &[Option<String>]) {
        let mut inner = self.lock();
        inner.stored.clear();
        inner.scopes = scopes
            .iter()
            .map(|scope| (scope.clone(), IndexState::Listing))
            .collect();
        self.crd.send_replace(CrdState::Unknown);
    }

    pub fn crd(&self) -> CrdState {
        self.crd.borrow().clone()
    }

    /// Sets what the CRD watch says; true when it changed.
    pub fn set_crd(&self, state: CrdState) -> bool {
        self.crd.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        })
    }

    pub fn crd_changes(&self) -> watch::Receiver<CrdState> {
        self.crd.subscribe()
    }

    pub fn lookup(&self, namespace: &str, name: &str) -> Lookup {
        let inner = self.lock();
        let index = inner.scope_of(namespace);
        let key = ReportKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        Lookup {
            crd: self.crd(),
            listed: matches!(index, Some(IndexState::Listed)),
            indexed: matches!(
                index,
                Some(IndexState::Listed) | Some(IndexState::Unusable(_))
            ),
            stored: inner.stored.get(&key).copied(),
        }
    }

    /// A report is stored with `digest` (seen, or written by this process).
    pub fn stored(&self, key: ReportKey, digest: Option<u64>) {
        self.lock().stored.insert(key, digest);
    }

    /// A report is gone.
    pub fn removed(&self, key: &ReportKey) {
        self.lock().stored.remove(key);
    }

    /// A list of `scope` ended with the reports `seen`: the others of the scope are gone.
    /// True when the scope was not listed before (every watch of it may decide now).
    pub fn listed(&self, scope: Option<&str>, seen: &HashSet<ReportKey>) -> bool {
        let mut inner = self.lock();
        inner
            .stored
            .retain(|key, _| !in_scope(scope, key) || seen.contains(key));
        let Some(state) = inner.scope_mut(scope) else {
            return false;
        };
        let first = *state != IndexState::Listed;
        *state = IndexState::Listed;
        first
    }

    /// The list of `scope` is refused or failing; true when that is news. What was listed before
    /// stays known (the watch may come back).
    pub fn unusable(&self, scope: Option<&str>, message: &str) -> bool {
        let mut inner = self.lock();
        match inner.scope_mut(scope) {
            Some(state @ IndexState::Listing) => {
                *state = IndexState::Unusable(message.to_string());
                true
            }
            _ => false,
        }
    }

    /// The CRD went away: nothing of `scope` is stored any more, and nothing is to be listed
    /// until it is back.
    pub fn cleared(&self, scope: Option<&str>) {
        let mut inner = self.lock();
        inner.stored.retain(|key, _| !in_scope(scope, key));
        if let Some(state) = inner.scope_mut(scope) {
            *state = IndexState::Listing;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, name: &str) -> ReportKey {
        ReportKey {
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn a_list_replaces_what_its_scope_held_and_only_that() {
        let stored = StoredReports::default();
        stored.reset(&[Some("a".into()), Some("b".into())]);
        assert!(!stored.lookup("a", "r").indexed, "not listed yet");
        stored.stored(key("a", "old"), Some(1));
        stored.stored(key("b", "kept"), Some(2));
        let seen = HashSet::from([key("a", "r")]);
        stored.stored(key("a", "r"), Some(3));
        assert!(stored.listed(Some("a"), &seen), "first list of a");
        assert!(!stored.listed(Some("a"), &seen), "a again is no news");
        let a = stored.lookup("a", "r");
        assert!(a.listed && a.indexed);
        assert_eq!(a.stored, Some(Some(3)));
        assert_eq!(
            stored.lookup("a", "old").stored,
            None,
            "gone while unwatched"
        );
        assert_eq!(
            stored.lookup("b", "kept").stored,
            Some(Some(2)),
            "b untouched"
        );
        assert!(!stored.lookup("b", "kept").indexed);
        assert!(stored.unusable(Some("b"), "forbidden"));
        assert!(!stored.unusable(Some("b"), "forbidden"));
        let b = stored.lookup("b", "kept");
        assert!(b.indexed && !b.listed);
        stored.cleared(Some("a"));
        assert_eq!(stored.lookup("a", "r").stored, None);
        assert!(!stored.lookup("a", "r").indexed);
    }

    #[test]
    fn crd_changes_are_reported_once() {
        let stored = StoredReports::default();
        assert_eq!(stored.crd(), CrdState::Unknown);
        assert!(stored.set_crd(CrdState::Missing));
        assert!(!stored.set_crd(CrdState::Missing));
        assert!(stored.set_crd(CrdState::Served));
        assert!(stored.crd().writable());
    }
}
