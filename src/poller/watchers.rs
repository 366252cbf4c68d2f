//! Who lists each id of a group's host table, in four bytes per id: a [`WatcherSet`] is no
//! watch, one watch's [`WatchIndex`], or the index of a list kept here for the ids several
//! watches share. The watches themselves are kept once, by index, instead of a pointer per id.

use super::types::WatchKey;
use std::sync::Arc;

/// A watch key shared by the watch table and the host table.
pub(crate) type SharedKey = Arc<WatchKey>;

/// A watch as the host table knows it, from [`Watchers::add_watch`] to
/// [`Watchers::remove_watch`]; reused after that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct WatchIndex(u32);

/// The watches listing one id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WatcherSet(u32);

/// [`WatcherSet`] of no watch.
const NO_WATCH: u32 = u32::MAX;
/// Set in a [`WatcherSet`] that is a list index; clear in one that is a watch index.
const LIST: u32 = 1 << 31;

impl Default for WatcherSet {
    fn default() -> Self {
        Self(NO_WATCH)
    }
}

impl WatcherSet {
    pub fn is_empty(self) -> bool {
        self.0 == NO_WATCH
    }
}

/// The watches of a group by index, and the watcher lists of ids with more than one.
#[derive(Debug, Default)]
pub(crate) struct Watchers {
    keys: Vec<Option<SharedKey>>,
    free_keys: Vec<u32>,
    lists: Vec<Vec<WatchIndex>>,
    free_lists: Vec<u32>,
}

impl Watchers {
    /// Gives `key` an index (a group holds far fewer than 2^31 watches: each is an allocation
    /// of its own, and its index is never taken for a list index).
    pub fn add_watch(&mut self, key: SharedKey) -> WatchIndex {
        match self.free_keys.pop() {
            Some(free) => {
                self.keys[free as usize] = Some(key);
                WatchIndex(free)
            }
            None => {
                self.keys.push(Some(key));
                WatchIndex((self.keys.len() - 1) as u32 & !LIST)
            }
        }
    }

    /// Frees `watch`'s index; the caller removed it from every id first.
    pub fn remove_watch(&mut self, watch: WatchIndex) {
        if let Some(slot) = self.keys.get_mut(watch.0 as usize) {
            if slot.take().is_some() {
                self.free_keys.push(watch.0);
            }
        }
        if self.keys.len() == self.free_keys.len() {
            // No watch left: nothing refers to an index any more.
            *self = Self::default();
        }
    }

    pub fn key(&self, watch: WatchIndex) -> Option<&SharedKey> {
        self.keys.get(watch.0 as usize)?.as_ref()
    }

    /// Watches the group knows.
    #[cfg(test)]
    pub fn watches(&self) -> usize {
        self.keys.len() - self.free_keys.len()
    }

    /// Adds `watch` to `set` (once: adding it again changes nothing).
    pub fn push(&mut self, set: &mut WatcherSet, watch: WatchIndex) {
        match set.0 {
            NO_WATCH => set.0 = watch.0,
            one if one & LIST == 0 => {
                if one != watch.0 {
                    set.0 = self.new_list(vec![WatchIndex(one), watch]);
                }
            }
            list => {
                if let Some(all) = self.lists.get_mut((list & !LIST) as usize) {
                    if !all.contains(&watch) {
                        all.push(watch);
                    }
                }
            }
        }
    }

    fn new_list(&mut self, list: Vec<WatchIndex>) -> u32 {
        match self.free_lists.pop() {
            Some(free) => {
                self.lists[free as usize] = list;
                free | LIST
            }
            None => {
                self.lists.push(list);
                (self.lists.len() - 1) as u32 | LIST
            }
        }
    }

    /// Removes `watch` from `set`; true when no watch is left in it.
    pub fn remove(&mut self, set: &mut WatcherSet, watch: WatchIndex) -> bool {
        match set.0 {
            NO_WATCH => {}
            one if one & LIST == 0 => {
                if one == watch.0 {
                    set.0 = NO_WATCH;
                }
            }
            list => {
                let at = (list & !LIST) as usize;
                if let Some(all) = self.lists.get_mut(at) {
                    all.retain(|w| *w != watch);
                    if all.len() <= 1 {
                        set.0 = all.first().map_or(NO_WATCH, |w| w.0);
                        self.lists[at] = Vec::new();
                        self.free_lists.push(at as u32);
                    }
                }
            }
        }
        set.is_empty()
    }

    /// The watches in `set`.
    pub fn iter(&self, set: WatcherSet) -> impl Iterator<Item = WatchIndex> + '_ {
        let (one, many): (Option<WatchIndex>, &[WatchIndex]) = match set.0 {
            NO_WATCH => (None, &[]),
            one if one & LIST == 0 => (Some(WatchIndex(one)), &[]),
            list => (
                None,
                self.lists
                    .get((list & !LIST) as usize)
                    .map_or(&[][..], Vec::as_slice),
            ),
        };
        one.into_iter().chain(many.iter().copied())
    }

    /// Lists of ids with several watchers in use.
    #[cfg(test)]
    pub fn lists_in_use(&self) -> usize {
        self.lists.len() - self.free_lists.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> SharedKey {
        Arc::new(WatchKey::new("ns", name))
    }

    fn names(watchers: &Watchers, set: WatcherSet) -> Vec<String> {
        watchers
            .iter(set)
            .filter_map(|w| watchers.key(w))
            .map(|k| k.name.clone())
            .collect()
    }

    #[test]
    fn a_set_is_four_bytes() {
        assert_eq!(std::mem::size_of::<WatcherSet>(), 4);
    }

    #[test]
    fn one_two_and_many_watchers_of_an_id() {
        let mut watchers = Watchers::default();
        let [a, b, c] = ["a", "b", "c"].map(|n| watchers.add_watch(key(n)));
        let mut set = WatcherSet::default();
        assert!(set.is_empty());
        watchers.push(&mut set, a);
        watchers.push(&mut set, a);
        assert_eq!(names(&watchers, set), ["a"], "a watch is in a set once");
        watchers.push(&mut set, b);
        watchers.push(&mut set, c);
        watchers.push(&mut set, b);
        assert_eq!(names(&watchers, set), ["a", "b", "c"]);
        assert_eq!(watchers.lists_in_use(), 1);
        assert!(!watchers.remove(&mut set, b));
        assert!(!watchers.remove(&mut set, b), "already gone");
        assert!(!watchers.remove(&mut set, a));
        assert_eq!(names(&watchers, set), ["c"]);
        assert_eq!(watchers.lists_in_use(), 0, "one watcher needs no list");
        assert!(!watchers.remove(&mut set, a), "not a watcher");
        assert!(watchers.remove(&mut set, c));
        assert!(set.is_empty());
        assert!(watchers.remove(&mut set, c), "an empty set stays empty");
    }

    #[test]
    fn indexes_and_lists_are_reused_after_removal() {
        let mut watchers = Watchers::default();
        let a = watchers.add_watch(key("a"));
        let b = watchers.add_watch(key("b"));
        let mut first = WatcherSet::default();
        watchers.push(&mut first, a);
        watchers.push(&mut first, b);
        watchers.remove(&mut first, b);
        watchers.remove_watch(b);
        assert_eq!(watchers.watches(), 1);
        assert!(watchers.key(b).is_none());
        let d = watchers.add_watch(key("d"));
        assert_eq!(d, b, "the freed index is taken again");
        let mut second = WatcherSet::default();
        watchers.push(&mut second, a);
        watchers.push(&mut second, d);
        assert_eq!(watchers.lists.len(), 1, "the freed list is taken again");
        assert_eq!(names(&watchers, first), ["a"]);
        assert_eq!(names(&watchers, second), ["a", "d"]);
        watchers.remove(&mut first, a);
        watchers.remove(&mut second, a);
        watchers.remove(&mut second, d);
        watchers.remove_watch(a);
        watchers.remove_watch(a);
        watchers.remove_watch(d);
        assert_eq!(watchers.watches(), 0);
        assert!(watchers.keys.is_empty() && watchers.lists.is_empty());
    }

    #[test]
    fn an_id_shared_by_many_watches() {
        let mut watchers = Watchers::default();
        let all: Vec<WatchIndex> = (0..500)
            .map(|i| watchers.add_watch(key(&format!("w{i}"))))
            .collect();
        let mut set = WatcherSet::default();
        for w in &all {
            watchers.push(&mut set, *w);
        }
        assert_eq!(watchers.iter(set).count(), 500);
        for w in all.iter().rev().skip(1) {
            assert!(!watchers.remove(&mut set, *w));
        }
        assert_eq!(names(&watchers, set), ["w499"]);
        assert_eq!(watchers.lists_in_use(), 0);
    }
}
