//! The benchmark's workload: which host ids each watch lists, and the physical minimum of HSS
//! calls one sweep over them needs. Pure, so the sharing rule is tested without I/O.
//!
//! Sharing rule, exactly: every watch lists `hosts_per_watch` ids. The first
//! `shared = round(hosts_per_watch × shared_fraction)` of them come from a shared pool of
//! `ceil(watches × shared / 2)` ids and the rest are private to the watch. Watch `w` takes the
//! pool entries `(w × shared + j) mod pool` for `j` in `0..shared`: walking the watches in order
//! goes twice round the pool, so every shared id is listed by exactly two different watches
//! (one id by a single watch when `watches × shared` is odd). With 20 % of 10 hosts that is 2
//! shared ids per watch, each also listed by the watch half-way round.

/// HSS answers at most this many ids per `ListHostsRisk` call (hss-api.md "Limits").
pub const IDS_PER_CALL: usize = 100;

/// The host lists of the benchmark's watches, as indices into the simulator's fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub watches: usize,
    pub hosts_per_watch: usize,
    /// Ids per watch taken from the shared pool.
    pub shared_per_watch: usize,
    /// Size of the shared pool.
    pub shared_pool: usize,
}

impl Workload {
    /// Rejects a workload whose shared slots would repeat an id inside one watch.
    pub fn new(
        watches: usize,
        hosts_per_watch: usize,
        shared_fraction: f64,
    ) -> Result<Self, String> {
        if watches == 0 || hosts_per_watch == 0 {
            return Err("--watches and --hosts-per-watch must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&shared_fraction) {
            return Err(format!(
                "--shared-fraction must be between 0 and 1, got {shared_fraction}"
            ));
        }
        let shared_per_watch = (hosts_per_watch as f64 * shared_fraction).round() as usize;
        let shared_pool = (watches * shared_per_watch).div_ceil(2);
        if shared_per_watch > shared_pool {
            return Err(format!(
                "{watches} watches cannot share {shared_per_watch} ids each in pairs; \
                 use more watches or a smaller --shared-fraction"
            ));
        }
        Ok(Self {
            watches,
            hosts_per_watch,
            shared_per_watch,
            shared_pool,
        })
    }

    /// Private ids per watch.
    pub fn private_per_watch(&self) -> usize {
        self.hosts_per_watch - self.shared_per_watch
    }

    /// Distinct ids over all watches: the shared pool plus every private id.
    pub fn unique_hosts(&self) -> usize {
        self.shared_pool + self.watches * self.private_per_watch()
    }

    /// Fleet indices listed by watch `w`: shared ones first (`0..shared_pool`), then its
    /// private ones (after the pool).
    pub fn host_indices(&self, w: usize) -> Vec<usize> {
        let shared = (0..self.shared_per_watch)
            .map(|j| (w * self.shared_per_watch + j) % self.shared_pool.max(1));
        let private_start = self.shared_pool + w * self.private_per_watch();
        shared
            .chain(private_start..private_start + self.private_per_watch())
            .collect()
    }

    /// [`Workload::per_watch_calls_per_sweep`] of `watches` × `hosts_per_watch`:
    /// Σ per watch ⌈hosts / 100⌉.
    pub fn naive_calls_per_sweep(watches: usize, hosts_per_watch: usize) -> usize {
        watches.saturating_mul(hosts_per_watch.div_ceil(IDS_PER_CALL))
    }

    /// The physical minimum of calls for one sweep of the one scope: every distinct id asked
    /// once, 100 per call.
    pub fn min_calls_per_sweep(&self) -> usize {
        self.unique_hosts().div_ceil(IDS_PER_CALL)
    }

    /// The naive baseline: what polling each watch on its own (one call per watch, per 100 of
    /// its hosts, and interval) spends on one sweep.
    pub fn per_watch_calls_per_sweep(&self) -> usize {
        Self::naive_calls_per_sweep(self.watches, self.hosts_per_watch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn listings(w: &Workload) -> BTreeMap<usize, BTreeSet<usize>> {
        let mut by_id: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for watch in 0..w.watches {
            let ids = w.host_indices(watch);
            assert_eq!(ids.len(), w.hosts_per_watch, "watch {watch}");
            let distinct: BTreeSet<_> = ids.iter().collect();
            assert_eq!(distinct.len(), ids.len(), "watch {watch} repeats an id");
            for id in ids {
                by_id.entry(id).or_default().insert(watch);
            }
        }
        by_id
    }

    #[test]
    fn twenty_percent_of_hosts_are_each_shared_by_two_watches() {
        let w = Workload::new(100, 10, 0.2).unwrap();
        assert_eq!((w.shared_per_watch, w.shared_pool), (2, 100));
        assert_eq!(w.unique_hosts(), 900);
        assert_eq!(w.min_calls_per_sweep(), 9);
        assert_eq!(w.per_watch_calls_per_sweep(), 100);
        let by_id = listings(&w);
        assert_eq!(by_id.len(), w.unique_hosts());
        for (id, watches) in &by_id {
            let expected = if *id < w.shared_pool { 2 } else { 1 };
            assert_eq!(watches.len(), expected, "id {id}");
        }
    }

    #[test]
    fn the_large_size_needs_900_calls_against_1000() {
        let w = Workload::new(1000, 100, 0.2).unwrap();
        assert_eq!(w.unique_hosts(), 90_000);
        assert_eq!(w.min_calls_per_sweep(), 900);
        assert_eq!(w.per_watch_calls_per_sweep(), 1000);
        assert_eq!(listings(&w).len(), 90_000);
    }

    #[test]
    fn an_odd_count_of_shared_slots_leaves_one_id_to_a_single_watch() {
        let w = Workload::new(5, 4, 0.2).unwrap();
        assert_eq!((w.shared_per_watch, w.shared_pool), (1, 3));
        let by_id = listings(&w);
        let counts: Vec<usize> = (0..3).map(|id| by_id[&id].len()).collect();
        assert_eq!(counts.iter().sum::<usize>(), 5);
        assert_eq!(counts.iter().filter(|c| **c == 1).count(), 1);
        assert_eq!(w.unique_hosts(), 3 + 5 * 3);
    }

    #[test]
    fn no_sharing_and_bad_inputs() {
        let w = Workload::new(3, 150, 0.0).unwrap();
        assert_eq!(w.unique_hosts(), 450);
        assert_eq!(w.per_watch_calls_per_sweep(), 6);
        assert_eq!(w.min_calls_per_sweep(), 5);
        assert!(Workload::new(0, 1, 0.2).is_err());
        assert!(Workload::new(1, 10, 1.5).is_err());
        // One watch cannot share with anyone.
        assert!(Workload::new(1, 10, 0.5).is_err());
    }
}
