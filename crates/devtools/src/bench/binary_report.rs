//! The figures of the production binary's run ([`super::binary`]), as `batched.binary_*`
//! lines in the report's style (`name: value unit`).

use std::time::Duration;

use super::report::{count, mib, seconds, IdleCpu};

/// Prefix of the lines, as the rest of the operator's run.
const RUN: &str = "batched";

/// Whether the production binary ran.
#[derive(Debug, Clone, PartialEq)]
pub enum BinaryOutcome {
    Measured(Box<BinaryReport>),
    /// No `hostrisk-operator` next to this executable: its figures are skipped.
    Missing,
}

/// `hostrisk-operator run` as shipped, measured from outside its process.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryReport {
    /// Watches it serves (every watch and probe of the world).
    pub watches: u64,
    /// `ListHostsRisk` calls until every watch was refreshed once, and the minimum for the
    /// hosts its poller registered (its groups' hosts in calls of 100).
    pub first_sweep_calls: u64,
    pub min_calls: u64,
    /// Process start to every poller group done with a full sweep.
    pub first_sweep: Duration,
    /// Process start to every watch shown with data it fetched (its metrics updated by the
    /// reconcile that applied the refresh).
    pub all_ready: Duration,
    /// Status writes from the start to every watch ready.
    pub startup_status_writes: u64,
    /// The next sweep (every watch refreshed again, nothing changed in HSS): its calls, its
    /// status writes, and start to its end.
    pub idle_sweep_calls: Option<u64>,
    pub idle_sweep_status_writes: Option<u64>,
    pub idle_sweep_done: Option<Duration>,
    /// CPU between the first sweep and the next (`None`: no quiet stretch).
    pub idle_cpu: Option<IdleCpu>,
    /// CPU from the start to every watch ready, and over the whole run.
    pub cpu_to_ready: Option<Duration>,
    pub cpu_total: Option<Duration>,
    /// Peak RSS (`VmHWM` and the 200 ms samples of `VmRSS`), the largest file-backed part
    /// (`RssFile`: the binary's code paged in) and anonymous part (`RssAnon`) sampled, and RSS
    /// at the end.
    pub peak_rss: Option<u64>,
    pub rss_file: Option<u64>,
    pub peak_rss_anon: Option<u64>,
    pub rss_end: Option<u64>,
    /// `/metrics` scrapes the benchmark made (they count in the figures, as a Prometheus
    /// server's do) and the size of the last exposition.
    pub scrapes: u64,
    pub exposition_bytes: Option<u64>,
}

impl BinaryOutcome {
    pub fn lines(&self) -> Vec<String> {
        let m = RUN;
        let BinaryOutcome::Measured(report) = self else {
            return vec![format!("{m}.binary_measured: false bool")];
        };
        let over = (report.min_calls > 0).then(|| {
            (report.first_sweep_calls as f64 - report.min_calls as f64) * 100.0
                / report.min_calls as f64
        });
        vec![
            format!("{m}.binary_measured: true bool"),
            format!("{m}.binary_watches: {} watches", report.watches),
            format!("{m}.binary_peak_rss: {} MiB", mib(report.peak_rss)),
            format!("{m}.binary_rss_file: {} MiB", mib(report.rss_file)),
            format!(
                "{m}.binary_peak_rss_anon: {} MiB",
                mib(report.peak_rss_anon)
            ),
            format!("{m}.binary_rss_at_end: {} MiB", mib(report.rss_end)),
            format!(
                "{m}.binary_first_sweep_calls: {} calls",
                report.first_sweep_calls
            ),
            format!(
                "{m}.binary_first_sweep_min_calls: {} calls",
                report.min_calls
            ),
            format!(
                "{m}.binary_first_sweep_over_min: {} %",
                over.map_or_else(|| "n/a".to_string(), |o| format!("{o:.2}"))
            ),
            format!(
                "{m}.binary_first_sweep_time: {} s",
                seconds(Some(report.first_sweep))
            ),
            format!(
                "{m}.binary_all_ready_time: {} s",
                seconds(Some(report.all_ready))
            ),
            format!(
                "{m}.binary_startup_status_writes: {} writes",
                report.startup_status_writes
            ),
            format!(
                "{m}.binary_hss_calls_per_idle_sweep: {} calls",
                count(report.idle_sweep_calls)
            ),
            format!(
                "{m}.binary_status_writes_per_idle_sweep: {} writes",
                count(report.idle_sweep_status_writes)
            ),
            format!(
                "{m}.binary_idle_sweep_done_time: {} s",
                seconds(report.idle_sweep_done)
            ),
            format!(
                "{m}.binary_idle_cpu_millicores: {} millicores",
                report
                    .idle_cpu
                    .and_then(|idle| idle.millicores())
                    .map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}"))
            ),
            format!(
                "{m}.binary_idle_cpu_window: {} s",
                seconds(report.idle_cpu.map(|idle| idle.wall))
            ),
            format!(
                "{m}.binary_cpu_seconds_to_ready: {} s",
                seconds(report.cpu_to_ready)
            ),
            format!("{m}.binary_cpu_seconds: {} s", seconds(report.cpu_total)),
            format!("{m}.binary_metrics_scrapes: {} scrapes", report.scrapes),
            format!(
                "{m}.binary_metrics_exposition: {} KiB",
                report.exposition_bytes.map_or_else(
                    || "n/a".to_string(),
                    |b| format!("{:.1}", b as f64 / 1024.0)
                )
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn report() -> BinaryReport {
        BinaryReport {
            watches: 1010,
            first_sweep_calls: 800,
            min_calls: 800,
            first_sweep: Duration::from_millis(9_500),
            all_ready: Duration::from_millis(10_250),
            startup_status_writes: 0,
            idle_sweep_calls: Some(800),
            idle_sweep_status_writes: Some(0),
            idle_sweep_done: None,
            idle_cpu: Some(IdleCpu {
                cpu: Duration::ZERO,
                wall: Duration::from_secs(40),
            }),
            cpu_to_ready: Some(Duration::from_millis(3_200)),
            cpu_total: None,
            peak_rss: Some(44 * MIB + MIB / 2),
            rss_file: Some(14 * MIB + MIB / 5),
            peak_rss_anon: Some(30 * MIB),
            rss_end: None,
            scrapes: 12,
            exposition_bytes: Some(4 * MIB),
        }
    }

    #[test]
    fn every_line_is_name_value_unit() {
        let lines = BinaryOutcome::Measured(Box::new(report())).lines();
        for line in &lines {
            let (name, rest) = line.split_once(": ").expect(line);
            assert!(name.starts_with("batched.binary_"), "{line}");
            assert_eq!(rest.split(' ').count(), 2, "{line}");
        }
        for expected in [
            "batched.binary_measured: true bool",
            "batched.binary_peak_rss: 44.5 MiB",
            "batched.binary_rss_file: 14.2 MiB",
            "batched.binary_rss_at_end: n/a MiB",
            "batched.binary_first_sweep_over_min: 0.00 %",
            "batched.binary_all_ready_time: 10.250 s",
            "batched.binary_status_writes_per_idle_sweep: 0 writes",
            "batched.binary_idle_sweep_done_time: n/a s",
            "batched.binary_idle_cpu_millicores: 0.00 millicores",
            "batched.binary_metrics_scrapes: 12 scrapes",
            "batched.binary_metrics_exposition: 4096.0 KiB",
        ] {
            assert!(
                lines.iter().any(|l| l == expected),
                "{expected} in {lines:?}"
            );
        }
        let names: std::collections::BTreeSet<_> =
            lines.iter().filter_map(|l| l.split_once(':')).collect();
        assert_eq!(names.len(), lines.len(), "no figure twice");
    }

    #[test]
    fn a_missing_binary_says_so_in_one_line() {
        assert_eq!(
            BinaryOutcome::Missing.lines(),
            ["batched.binary_measured: false bool"]
        );
    }
}
