//! Memory per watched host, from two scales of one world: the restarted operator watching every
//! namespace, and one watching the first namespace only ([`super::restart::RestartScope`]). The
//! difference of their peak RSS over the difference of their watched hosts is what one more
//! host costs the operator (its records, its share of a watch's state, the allocator's share),
//! free of the fixed cost both pay alike (code, runtime, client, buffers).

const MIB: f64 = 1024.0 * 1024.0;

/// The two restarts and what they served.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleReport {
    pub hosts_per_watch: u64,
    /// Peak RSS of the operator process over the run (the first operator's or the restarted
    /// one's, the larger).
    pub operator_peak_rss: Option<u64>,
    /// The full restart's peak and watches.
    pub full_peak_rss: Option<u64>,
    pub full_watches: u64,
    /// The one-namespace restart; `None` when the world has a single namespace.
    pub small: Option<SmallScale>,
}

/// What the one-namespace restart served, and its peak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmallScale {
    pub watches: u64,
    pub peak_rss: Option<u64>,
}

impl ScaleReport {
    /// Marginal bytes of RSS per watched host between the two scales.
    pub fn bytes_per_host(&self) -> Option<f64> {
        let small = self.small.as_ref()?;
        let hosts = self
            .full_watches
            .checked_sub(small.watches)
            .filter(|w| *w > 0)?
            * self.hosts_per_watch;
        let full = self.full_peak_rss? as f64;
        let small_peak = small.peak_rss? as f64;
        Some((full - small_peak) / hosts as f64)
    }

    pub fn lines(&self, m: &str) -> Vec<String> {
        let mib = |bytes: Option<u64>| {
            bytes.map_or_else(|| "n/a".to_string(), |b| format!("{:.1}", b as f64 / MIB))
        };
        vec![
            format!("{m}.operator_peak_rss: {} MiB", mib(self.operator_peak_rss)),
            format!(
                "{m}.small_restart_watches: {} watches",
                self.small
                    .as_ref()
                    .map_or_else(|| "n/a".to_string(), |s| s.watches.to_string())
            ),
            format!(
                "{m}.small_restart_peak_rss: {} MiB",
                mib(self.small.as_ref().and_then(|s| s.peak_rss))
            ),
            format!(
                "{m}.bytes_per_host: {} bytes",
                self.bytes_per_host()
                    .map_or_else(|| "n/a".to_string(), |b| format!("{b:.0}"))
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restart(watches: u64, peak_mib: u64) -> SmallScale {
        SmallScale {
            watches,
            peak_rss: Some(peak_mib * 1024 * 1024),
        }
    }

    #[test]
    fn bytes_per_host_is_the_slope_between_the_two_scales() {
        let report = ScaleReport {
            hosts_per_watch: 100,
            operator_peak_rss: Some(40 << 20),
            full_peak_rss: Some(40 << 20),
            full_watches: 1010,
            small: Some(restart(110, 22)),
        };
        // 18 MiB over 90,000 hosts.
        let slope = report.bytes_per_host().expect("two scales");
        assert!((slope - 18.0 * 1024.0 * 1024.0 / 90_000.0).abs() < 0.01);
        assert!(report
            .lines("batched")
            .contains(&"batched.bytes_per_host: 210 bytes".to_string()));
        let single = ScaleReport {
            small: None,
            ..report
        };
        assert_eq!(single.bytes_per_host(), None);
        assert!(single
            .lines("batched")
            .contains(&"batched.bytes_per_host: n/a bytes".to_string()));
    }
}
