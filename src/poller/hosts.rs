//! The host table of a group: every id some watch lists, who lists it and what the service last
//! said about it. Sized for 1,000,000 ids: an answer is the record's 16 bytes of [`HostData`];
//! when and under which request id it was fetched is kept once per call ([`CallRecord`]), not
//! once per host.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tokio::time::Instant;

use super::sharded::ShardedMap;
use super::types::WatchKey;
use crate::hss::HostsRiskResult;
use crate::status::{HostData, HostId};

/// A watch key shared by the watch table and the host table's back references.
pub(crate) type SharedKey = Arc<WatchKey>;

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

/// The watches listing one id: nearly always one or two.
#[derive(Debug, Default)]
enum Watchers {
    #[default]
    None,
    One(SharedKey),
    /// Boxed (a thin pointer) so the enum stays two words: 100,000 slots pay for it.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<SharedKey>>),
}

impl Watchers {
    fn push(&mut self, key: SharedKey) {
        *self = match std::mem::take(self) {
            Watchers::None => Watchers::One(key),
            Watchers::One(first) => Watchers::Many(Box::new(vec![first, key])),
            Watchers::Many(mut all) => {
                all.push(key);
                Watchers::Many(all)
            }
        };
    }

    /// Removes `key` (by identity); true when no watcher is left.
    fn remove(&mut self, key: &SharedKey) -> bool {
        *self = match std::mem::take(self) {
            Watchers::One(only) if Arc::ptr_eq(&only, key) => Watchers::None,
            Watchers::Many(mut all) => {
                all.retain(|w| !Arc::ptr_eq(w, key));
                match all.len() {
                    0 => Watchers::None,
                    1 => Watchers::One(all.swap_remove(0)),
                    _ => Watchers::Many(all),
                }
            }
            other => other,
        };
        matches!(self, Watchers::None)
    }

    fn iter(&self) -> impl Iterator<Item = &SharedKey> {
        let (one, many): (Option<&SharedKey>, &[SharedKey]) = match self {
            Watchers::None => (None, &[]),
            Watchers::One(key) => (Some(key), &[]),
            Watchers::Many(all) => (None, all.as_slice()),
        };
        one.into_iter().chain(many)
    }
}

/// One id: who lists it, and its latest answer with the call it came from ([`UNANSWERED`]
/// before the first).
#[derive(Debug)]
struct HostSlot {
    watchers: Watchers,
    answer: HostData,
    call: u32,
}

impl Default for HostSlot {
    fn default() -> Self {
        Self {
            watchers: Watchers::None,
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
    calls: HashMap<u32, CallRecord>,
    next_call: u32,
}

impl HostTable {
    /// Notes that `watch` lists `id`; returns the id the table shares (`id` itself when it is
    /// new here).
    pub fn watch(&mut self, id: &HostId, watch: &SharedKey) -> HostId {
        let shared = match self.slots.get_key_value(&**id) {
            Some((shared, _)) => shared.clone(),
            None => id.clone(),
        };
        self.slots
            .entry(shared.clone())
            .or_default()
            .watchers
            .push(watch.clone());
        shared
    }

    /// Notes that `watch` no longer lists `id`; the id leaves with its last watcher.
    pub fn unwatch(&mut self, id: &HostId, watch: &SharedKey) {
        let Some(slot) = self.slots.get_mut(id) else {
            return;
        };
        if slot.watchers.remove(watch) {
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
            .flat_map(|slot| slot.watchers.iter())
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

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_call_record_lives_as_long_as_one_host_answers_from_it() {
        let mut table = HostTable::default();
        let a = Arc::new(WatchKey::new("ns", "a"));
        let b = Arc::new(WatchKey::new("ns", "b"));
        let h1 = table.watch(&"h1".into(), &a);
        let h2 = table.watch(&"h2".into(), &a);
        table.watch(&"h2".into(), &b);
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
        table.unwatch(&h1, &a);
        table.unwatch(&h2, &a);
        assert_eq!(table.len(), 1);
        assert_eq!(table.watchers_of(&ids(&["h2"])).len(), 1);
        assert_eq!(table.calls_kept(), 1);
    }

    #[test]
    fn a_slot_is_small() {
        let _ = std::mem::size_of::<HostData>();
        assert!(
            std::mem::size_of::<HostSlot>() <= 40,
            "{}",
            std::mem::size_of::<HostSlot>()
        );
    }
}
