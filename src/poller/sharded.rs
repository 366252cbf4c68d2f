//! A hash map split into [`SHARDS`] maps picked by the key's hash. A `HashMap` grows by
//! allocating the doubled table while the old one is still live, so at a million entries one
//! growth step briefly holds three times the table; split, a step doubles only one shard and
//! the peak stays close to the steady size.

use std::borrow::Borrow;
use std::collections::hash_map::{Entry, HashMap, RandomState};
use std::hash::{BuildHasher, Hash};

/// Shards per map: a power of two, so the shard is the top bits of the hash.
const SHARDS: usize = 64;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();

#[derive(Debug)]
pub(crate) struct ShardedMap<K, V> {
    /// Picks the shard; each shard hashes with its own keys, so the bits used here do not
    /// cluster entries inside a shard.
    picker: RandomState,
    shards: Box<[HashMap<K, V>]>,
}

impl<K, V> Default for ShardedMap<K, V> {
    fn default() -> Self {
        Self {
            picker: RandomState::new(),
            shards: (0..SHARDS).map(|_| HashMap::new()).collect(),
        }
    }
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    /// `K: Borrow<Q>` promises equal hashes for `k` and `k.borrow()`, so a key and its borrowed
    /// form pick the same shard.
    fn shard_index<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        (self.picker.hash_one(key) >> (u64::BITS - SHARD_BITS)) as usize
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &HashMap<K, V> {
        &self.shards[self.shard_index(key)]
    }

    fn shard_mut<Q: Hash + ?Sized>(&mut self, key: &Q) -> &mut HashMap<K, V> {
        let index = self.shard_index(key);
        &mut self.shards[index]
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(key).get(key)
    }

    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(key).get_key_value(key)
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard_mut(key).get_mut(key)
    }

    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        self.shard_mut(&key).entry(key)
    }

    #[cfg(test)]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.shard_mut(&key).insert(key, value)
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard_mut(key).remove(key)
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(HashMap::len).sum()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(HashMap::is_empty)
    }

    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards.iter().flat_map(HashMap::iter)
    }

    #[cfg(test)]
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.shards.iter().flat_map(HashMap::values)
    }

    /// The largest shard's capacity: what one growth step can at most double.
    #[cfg(test)]
    fn largest_shard_capacity(&self) -> usize {
        self.shards.iter().map(HashMap::capacity).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn filled(n: usize) -> ShardedMap<String, usize> {
        let mut map = ShardedMap::default();
        for i in 0..n {
            assert_eq!(map.insert(format!("i-{i:08x}"), i), None);
        }
        map
    }

    #[test]
    fn entries_spread_over_every_shard() {
        let map = filled(SHARDS * 200);
        let sizes: Vec<usize> = map.shards.iter().map(HashMap::len).collect();
        assert!(sizes.iter().all(|&n| n > 100 && n < 300), "{sizes:?}");
        assert!(
            map.largest_shard_capacity() * 16 < map.len(),
            "one growth step doubles a small part: {} of {}",
            map.largest_shard_capacity(),
            map.len()
        );
    }

    #[test]
    fn a_key_and_its_borrowed_form_find_the_same_entry() {
        let mut map = filled(1000);
        assert_eq!(map.get("i-0000002a"), Some(&42));
        assert_eq!(
            map.get_key_value("i-0000002a").map(|(k, _)| k.as_str()),
            Some("i-0000002a")
        );
        *map.get_mut("i-0000002a").expect("present") += 1;
        assert_eq!(map.get(&"i-0000002a".to_string()), Some(&43));
        assert_eq!(map.get("absent"), None);
        assert_eq!(map.insert("i-0000002a".into(), 7), Some(43));
        *map.entry("i-0000002a".into()).or_default() += 1;
        *map.entry("new".into()).or_default() += 1;
        assert_eq!(map.get("i-0000002a"), Some(&8));
        assert_eq!(map.get("new"), Some(&1));
        assert_eq!(map.len(), 1001);
    }

    #[test]
    fn len_iter_and_remove_stay_consistent() {
        let mut map = filled(5000);
        assert_eq!(map.len(), 5000);
        assert_eq!(map.iter().count(), 5000);
        for i in (0..5000).step_by(2) {
            assert_eq!(map.remove(format!("i-{i:08x}").as_str()), Some(i));
        }
        assert_eq!(map.remove("i-00000000"), None, "already gone");
        assert_eq!(map.len(), 2500);
        let keys: HashSet<&str> = map.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys.len(), 2500);
        assert!(map.iter().all(|(k, v)| *k == format!("i-{v:08x}")));
        assert!(map.values().all(|v| v % 2 == 1));
        for i in (1..5000).step_by(2) {
            map.remove(format!("i-{i:08x}").as_str());
        }
        assert!(map.is_empty());
        assert_eq!(map.len(), 0);
        assert_eq!(map.iter().count(), 0);
    }
}
