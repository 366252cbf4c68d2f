//! In-memory object storage with a single global resourceVersion counter and a
//! bounded change history (the stand-in's "etcd" + "watch cache").
//!
//! copies: like etcd, every write bumps one global revision that becomes the
//! object's `metadata.resourceVersion`; like etcd compaction, old history is
//! dropped, after which reads/watches at those versions answer 410 Expired.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

use super::resources::{builtins, from_crd, ResourceType};

/// Storage key, ordered like the apiserver's etcd keys within one resource
/// (`/registry/<resource>/<namespace>/<name>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjKey {
    /// API group ("" for core).
    pub group: String,
    /// Resource plural.
    pub plural: String,
    /// Namespace, "" for cluster-scoped objects.
    pub namespace: String,
    /// Object name.
    pub name: String,
}

/// One committed write.
#[derive(Debug, Clone)]
pub struct Change {
    /// Revision of this write.
    pub rv: u64,
    /// Object written.
    pub key: ObjKey,
    /// State before (None: created).
    pub old: Option<Value>,
    /// State after (None: deleted).
    pub new: Option<Value>,
}

/// Everything behind the store lock.
pub struct State {
    /// Current objects.
    pub objects: BTreeMap<ObjKey, Value>,
    /// Current global revision.
    pub rv: u64,
    /// Changes newer than `compacted_rv`, oldest first.
    pub history: VecDeque<Arc<Change>>,
    /// Every change with rv <= this has been dropped from history.
    pub compacted_rv: u64,
    /// Maximum history length before the oldest changes are dropped.
    pub history_limit: usize,
    /// Committed writes (those that produced a new resourceVersion) per (group, plural).
    pub commits: BTreeMap<(String, String), u64>,
    /// Built-in types plus one per stored CRD, rebuilt when a CRD changes (compiling schemas
    /// once per CRD revision, not per request).
    types: Arc<Vec<ResourceType>>,
    changes: broadcast::Sender<Arc<Change>>,
}

impl State {
    /// Empty store.
    pub fn new(history_limit: usize, changes: broadcast::Sender<Arc<Change>>) -> Self {
        Self {
            objects: BTreeMap::new(),
            rv: 1,
            history: VecDeque::new(),
            compacted_rv: 1,
            history_limit,
            commits: BTreeMap::new(),
            types: Arc::new(builtins()),
            changes,
        }
    }

    /// Subscribes to changes committed after this call (callers hold the lock so no
    /// change can slip between a snapshot and the subscription).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    /// Allocates the next revision.
    pub fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Commits a write at revision `rv` (from `next_rv`): stores `new` (or removes the key),
    /// records history and notifies watchers.
    pub fn commit(&mut self, rv: u64, key: ObjKey, new: Option<Value>) {
        *self
            .commits
            .entry((key.group.clone(), key.plural.clone()))
            .or_default() += 1;
        let old = match &new {
            Some(v) => self.objects.insert(key.clone(), v.clone()),
            None => self.objects.remove(&key),
        };
        let crd_changed =
            key.group == "apiextensions.k8s.io" && key.plural == "customresourcedefinitions";
        let change = Arc::new(Change { rv, key, old, new });
        self.history.push_back(change.clone());
        self.trim_history();
        if crd_changed {
            self.rebuild_types();
        }
        // No receivers is fine.
        let _ = self.changes.send(change);
    }

    /// Drops the oldest changes beyond `history_limit`.
    pub fn trim_history(&mut self) {
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.compacted_rv = dropped.rv;
            }
        }
    }

    /// Drops all history (like an etcd compaction at the current revision).
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted_rv = self.rv;
    }

    /// Objects of one resource as they were at revision `at`, or None if that
    /// revision's history has been compacted away (or is in the future).
    pub fn snapshot(&self, group: &str, plural: &str, at: u64) -> Option<Vec<(ObjKey, Value)>> {
        if at < self.compacted_rv || at > self.rv {
            return None;
        }
        let mut objs: BTreeMap<ObjKey, Value> =
            self.resource_objects(group, plural).into_iter().collect();
        for change in self.history.iter().rev() {
            if change.rv <= at {
                break;
            }
            if change.key.group != group || change.key.plural != plural {
                continue;
            }
            match &change.old {
                Some(old) => objs.insert(change.key.clone(), old.clone()),
                None => objs.remove(&change.key),
            };
        }
        Some(objs.into_iter().collect())
    }

    /// Current objects of one resource, in key order.
    pub fn resource_objects(&self, group: &str, plural: &str) -> Vec<(ObjKey, Value)> {
        self.resource_entries(group, plural)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// [`State::resource_objects`] borrowed: a page of a list copies its own items only.
    pub fn resource_entries<'a>(
        &'a self,
        group: &'a str,
        plural: &'a str,
    ) -> impl Iterator<Item = (&'a ObjKey, &'a Value)> + 'a {
        let start = ObjKey {
            group: group.into(),
            plural: plural.into(),
            namespace: String::new(),
            name: String::new(),
        };
        self.objects
            .range(start..)
            .take_while(move |(k, _)| k.group == group && k.plural == plural)
    }

    fn rebuild_types(&mut self) {
        let mut types = builtins();
        for (_, crd) in self.resource_objects("apiextensions.k8s.io", "customresourcedefinitions") {
            if let Some(t) = from_crd(&crd) {
                types.push(t);
            }
        }
        self.types = Arc::new(types);
    }

    /// Built-in types plus one per stored CRD.
    pub fn resource_types(&self) -> Arc<Vec<ResourceType>> {
        self.types.clone()
    }

    /// Finds the type served at `group`/`version` under `plural`.
    pub fn find_type(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.types
            .iter()
            .find(|t| {
                t.group == group && t.plural == plural && t.versions.iter().any(|v| v == version)
            })
            .cloned()
    }
}
