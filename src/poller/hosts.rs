//! The host table of a group: every id some watch lists, who lists it and what the service last
//! said about it. Sized for 1,000,000 ids: an answer is the record's 16 bytes of [`HostData`];
//! when and under which request id it was fetched is kept once per call ([`CallRecord`]), not
//! once per host; who lists it is a four-byte [`WatcherSet`]. A slot is 24 bytes, 32 with its
//! id.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use tokio::time::Instant;

use super::sharded::ShardedMap;
use super::types::WatchKey;
use super::watchers::{SharedKey, WatchIndex, WatcherSet, Watchers};
use crate::hss::HostsRiskResult;
use crate::status::{HostData, HostId};

/// One call whose answers are in the table: a call's data is as old as its start.
#[derive(Debug)]
pub(crate) struct CallRecord {
    pub started: Instant,
    pub started_wall: jiff::Timestamp,
    pub request_id: Option<Box<str>>,
    /// Hosts whose latest answer came from this call; the record goes with the last of them.
    hosts: u32,
}

/// `HostSlot::call` of an id no call answered yet.
const UNANSWERED: u32 = u32::MAX;

/// One id: who lists it, and its latest answer with the call it came from ([`UNANSWERED`]
/// before the first).
#[derive(Debug)]
struct HostSlot {
    answer: HostData,
    call: u32,
    watchers: WatcherSet,
}

impl Default for HostSlot {
    fn default() -> Self {
        Self {
            watchers: WatcherSet::default(),
            answer: HostData::not_found(),
            call: UNANSWERED,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct HostTable {
    /// Sharded: at a million ids a plain map's growth step would briefly hold the old and
    /// the doubled table at once.
    slots: ShardedMap<HostId, HostSlot>,
    watchers: Watchers,
    calls: HashMap<u32, CallRecord>,
    next_call: u32,
}

impl HostTable {
    /// Makes `key` known to the table, to list ids with [`HostTable::watch`].
    pub fn add_watch(&mut self, key: SharedKey) -> WatchIndex {
        self.watchers.add_watch(key)
    }

    /// Forgets `watch`, once [`HostTable::unwatch`] took it off each of its ids: its index
    /// may then name another watch.
    pub fn remove_watch(&mut self, watch: WatchIndex) {
        self.watchers.remove_watch(watch);
    }

    /// Notes that `watch` lists `id`; returns the id the table shares (`id` itself when it is
    /// new here).
    pub fn watch(&mut self, id: &HostId, watch: WatchIndex) -> HostId {
        let shared = match self.slots.get_key_value(&**id) {
            Some((shared, _)) => shared.clone(),
            None => id.clone(),
        };
        let slot = self.slots.entry(shared.clone()).or_default();
        self.watchers.push(&mut slot.watchers, watch);
        shared
    }

    /// Notes that `watch` no longer lists `id`; the id leaves with its last watcher.
    pub fn unwatch(&mut self, id: &HostId, watch: WatchIndex) {
        let Some(slot) = self.slots.get_mut(id) else {
            return;
        };
        if self.watchers.remove(&mut slot.watchers, watch) {
            if let Some(slot) = self.slots.remove(id) {
                self.release(slot.call);
            }
        }
    }

    /// Stores what a call started at `started` answered for `ids` (absent from `answer`: not
    /// found). Ids nobody lists any more (their last watch went while the call ran) are skipped.
    pub fn record(
        &mut self,
        ids: &[String],
        answer: &HostsRiskResult,
        started: Instant,
        started_wall: jiff::Timestamp,
    ) {
        let call = self.next_call;
        // Ids are reused only after four billion calls, when the old one is long gone.
        self.next_call = match self.next_call.wrapping_add(1) {
            UNANSWERED => 0,
            next => next,
        };
        let mut hosts = 0;
        let mut released = Vec::new();
        for id in ids {
            let Some(slot) = self.slots.get_mut(id.as_str()) else {
                continue;
            };
            slot.answer = HostData::of(answer.hosts.get(id));
            let old = std::mem::replace(&mut slot.call, call);
            if old != UNANSWERED {
                released.push(old);
            }
            hosts += 1;
        }
        if hosts > 0 {
            self.calls.insert(
                call,
                CallRecord {
                    started,
                    started_wall,
                    request_id: answer.request_ids.last().map(|r| r.as_str().into()),
                    hosts,
                },
            );
        }
        for old in released {
            self.release(old);
        }
    }

    fn release(&mut self, call: u32) {
        if let Some(record) = self.calls.get_mut(&call) {
            record.hosts = record.hosts.saturating_sub(1);
            if record.hosts == 0 {
                self.calls.remove(&call);
            }
        }
    }

    /// The latest answer for `id` and the call it came from, if any.
    pub fn latest(&self, id: &str) -> Option<(&HostData, &CallRecord)> {
        let slot = self.slots.get(id)?;
        Some((&slot.answer, self.calls.get(&slot.call)?))
    }

    /// Whether `id` has an answer from a call started at or after `since`.
    pub fn fresh(&self, id: &str, since: Instant) -> bool {
        self.latest(id)
            .is_some_and(|(_, call)| call.started >= since)
    }

    /// Watches listing any of `ids`.
    pub fn watchers_of(&self, ids: &[String]) -> BTreeSet<WatchKey> {
        ids.iter()
            .filter_map(|id| self.slots.get(id.as_str()))
            .flat_map(|slot| self.watchers.iter(slot.watchers))
            .filter_map(|watch| self.watchers.key(watch))
            .map(|key| WatchKey::clone(key))
            .collect()
    }

    /// Ids listed.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Calls whose answers are still in the table.
    #[cfg(test)]
    pub fn calls_kept(&self) -> usize {
        self.calls.len()
    }
}

/// `ids` without repeats, in order: `ids` itself when it has none.
pub(crate) fn dedup_ids(ids: &Arc<[HostId]>) -> Arc<[HostId]> {
    let mut seen = HashSet::with_capacity(ids.len());
    if ids.iter().all(|id| seen.insert(&**id)) {
        return Arc::clone(ids);
    }
    seen.clear();
    ids.iter()
        .filter(|id| seen.insert(&***id))
        .cloned()
        .collect()
}

/// Whether two lists hold the very same id allocations, in the same order.
pub(crate) fn same_allocations(a: &[HostId], b: &[HostId]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| HostId::ptr_eq(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hss::HostRisk;

    fn answer(found: &[&str], request_id: &str) -> HostsRiskResult {
        let mut result = HostsRiskResult::default();
        for id in found {
            result.hosts.insert(
                id.to_string(),
                HostRisk {
                    host_id: Some(id.to_string()),
                    asset: Some(1),
                    ..HostRisk::default()
                },
            );
        }
        result.request_ids.push(request_id.into());
        result
    }

    fn key(name: &str) -> SharedKey {
        std::sync::Arc::new(WatchKey::new("ns", name))
    }

    fn names(keys: BTreeSet<WatchKey>) -> Vec<String> {
        keys.into_iter().map(|k| k.name).collect()
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_call_record_lives_as_long_as_one_host_answers_from_it() {
        let mut table = HostTable::default();
        let a = table.add_watch(key("a"));
        let b = table.add_watch(key("b"));
        let h1 = table.watch(&"h1".into(), a);
        let h2 = table.watch(&"h2".into(), a);
        table.watch(&"h2".into(), b);
        let t0 = Instant::now();
        let now = jiff::Timestamp::now();
        table.record(&ids(&["h1", "h2"]), &answer(&["h1"], "r1"), t0, now);
        assert_eq!(table.calls_kept(), 1);
        let (found, call) = table.latest("h1").expect("answered");
        assert!(found.is_found());
        assert_eq!(call.request_id.as_deref(), Some("r1"));
        assert!(
            !table.latest("h2").expect("answered").0.is_found(),
            "not found"
        );
        assert!(
            table.fresh("h1", t0) && !table.fresh("h1", t0 + std::time::Duration::from_secs(1))
        );
        // A newer call for h1 only: the first call still answers h2.
        let t1 = t0 + std::time::Duration::from_secs(5);
        table.record(&ids(&["h1"]), &answer(&["h1"], "r2"), t1, now);
        assert_eq!(table.calls_kept(), 2);
        table.record(&ids(&["h2"]), &answer(&["h2"], "r3"), t1, now);
        assert_eq!(
            table.calls_kept(),
            2,
            "the first call answers nothing any more"
        );
        // h2 stays while b lists it; h1 goes with a.
        assert_eq!(table.watchers_of(&ids(&["h2"])).len(), 2);
        table.unwatch(&h1, a);
        table.unwatch(&h2, a);
        assert_eq!(table.len(), 1);
        assert_eq!(table.watchers_of(&ids(&["h2"])).len(), 1);
        assert_eq!(table.calls_kept(), 1);
    }

    #[test]
    fn an_id_listed_twice_by_one_watch_goes_with_it_once() {
        let mut table = HostTable::default();
        let a = table.add_watch(key("a"));
        let first = table.watch(&"h1".into(), a);
        let again = table.watch(&"h1".into(), a);
        assert!(HostId::ptr_eq(&first, &again), "the table's id is shared");
        assert_eq!(names(table.watchers_of(&ids(&["h1"]))), ["a"]);
        table.unwatch(&"h1".into(), a);
        assert!(table.is_empty());
        table.unwatch(&"h1".into(), a);
        assert!(table.is_empty(), "unwatching an absent id is no harm");
    }

    #[test]
    fn a_removed_watch_index_names_the_next_watch_only() {
        let mut table = HostTable::default();
        let a = table.add_watch(key("a"));
        let b = table.add_watch(key("b"));
        for id in ["h1", "h2"] {
            table.watch(&id.into(), a);
        }
        table.watch(&"h2".into(), b);
        for id in ["h1", "h2"] {
            table.unwatch(&id.into(), a);
        }
        table.remove_watch(a);
        assert_eq!(table.len(), 1);
        let c = table.add_watch(key("c"));
        table.watch(&"h3".into(), c);
        assert_eq!(
            names(table.watchers_of(&ids(&["h1", "h2", "h3"]))),
            ["b", "c"]
        );
    }

    #[test]
    fn an_id_shared_by_many_watches_stays_until_the_last_goes() {
        let mut table = HostTable::default();
        let watches: Vec<WatchIndex> = (0..200)
            .map(|i| table.add_watch(key(&format!("w{i:03}"))))
            .collect();
        let now = jiff::Timestamp::now();
        for w in &watches {
            table.watch(&"shared".into(), *w);
        }
        table.record(
            &ids(&["shared"]),
            &answer(&["shared"], "r1"),
            Instant::now(),
            now,
        );
        assert_eq!(table.watchers_of(&ids(&["shared"])).len(), 200);
        for w in &watches[1..] {
            table.unwatch(&"shared".into(), *w);
            table.remove_watch(*w);
        }
        assert_eq!(names(table.watchers_of(&ids(&["shared"]))), ["w000"]);
        assert!(
            table.latest("shared").is_some(),
            "the answer stays with the id"
        );
        table.unwatch(&"shared".into(), watches[0]);
        assert!(table.is_empty());
        assert_eq!(table.calls_kept(), 0, "the call goes with its last host");
    }

    #[test]
    fn a_slot_is_small() {
        assert_eq!(std::mem::size_of::<HostSlot>(), 24);
        assert_eq!(std::mem::size_of::<(HostId, HostSlot)>(), 32);
    }
}
