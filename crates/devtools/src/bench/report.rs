//! The benchmark's figures, one per line as `name: value unit` (value `n/a` when it could not
//! be measured), so scripts can grep them. Names are `bench.*` for the setup, `batched.*` for
//! the operator's run (its shared, batched poller), `per_watch.*` for the naive baseline
//! computed from the workload and `ratio.*` between the two.

use std::collections::BTreeMap;
use std::time::Duration;

use super::scale::ScaleReport;
use super::workload::Workload;
use super::WorldPlacement;

/// Prefix of the run's lines: the operator polls through its shared, batched poller.
const RUN: &str = "batched";

/// What the run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// `ListHostsRisk` requests the simulator received during the measured sweep.
    pub hss_calls_per_sweep: u64,
    /// ceil(unique host ids / 100) of the one scope.
    pub min_calls_per_sweep: u64,
    /// Requests during the creation wave (first status of every watch).
    pub startup_calls: u64,
    /// 429 answers the simulator sent during the whole run.
    pub throttled: u64,
    /// Status writes the operator sent during the measured sweep.
    pub idle_status_writes: u64,
    /// The operator's requests to the API server during the measured sweep, by
    /// `verb.resource[/subresource]` (watch requests included).
    pub idle_requests: BTreeMap<String, u64>,
    /// Reconciles during the measured sweep.
    pub idle_reconciles: u64,
    /// Status writes during the creation wave.
    pub startup_status_writes: u64,
    /// Policy-report writes, with `--policy-reports`.
    pub report_writes: Option<ReportWrites>,
    pub watches_with_data: u64,
    pub latency_p50: Option<Duration>,
    pub latency_p99: Option<Duration>,
    pub latency_max: Option<Duration>,
    /// Probe watches (created one at a time after the sweep) that showed data, the ones that
    /// did not in time, and their create → first data latency.
    pub probes: u64,
    pub probes_missing: u64,
    pub probe_p50: Option<Duration>,
    pub probe_p99: Option<Duration>,
    /// The operator's own `hostrisk_hss_quota_wait_seconds` (whole run): the poller's planning
    /// waits.
    pub quota_wait: QuotaWait,
    /// Time calls spent in the HSS client's own limiter (after the poller's).
    pub client_limiter_wait: Duration,
    /// First create to the last watch showing data.
    pub creation_wave: Duration,
    pub sweep_window: Duration,
    /// Whether the window holds exactly one sweep (see `run`).
    pub sweep_window_valid: bool,
    /// The restart of the controller with every watch there.
    pub restart: RestartReport,
    /// Peak RSS over the run and memory per watched host from two scales.
    pub scale: ScaleReport,
    pub rss_start: Option<u64>,
    pub rss_setup: Option<u64>,
    /// RSS once every watch of the creation wave showed data, and its peak until then.
    pub rss_after_creation: Option<u64>,
    pub peak_rss_creation: Option<u64>,
    pub peak_rss: Option<u64>,
    /// RSS after the probes, before the controller stops (steady state, all watches polled).
    pub rss_end: Option<u64>,
    /// Of `rss_end`, the file mappings: the executable's code paged in (this bench binary
    /// carries the simulator, the stand-in and the harness next to the operator).
    pub rss_file_end: Option<u64>,
    /// Live heap bytes once every watch showed data, at the end, and their peak (`None` unless
    /// the counting allocator is installed): RSS above the peak is the allocator's retention.
    pub heap_after_creation: Option<u64>,
    pub heap_blocks_end: Option<u64>,
    pub heap_end: Option<u64>,
    pub heap_peak: Option<u64>,
    /// Whether the kernel's peak-RSS mark was reset at the start of the run.
    pub peak_reset: bool,
    /// Where the simulator and stand-in ran (in this process, they are in the RSS figures).
    pub world: WorldPlacement,
    /// Peak RSS of the world process when it is a child.
    pub world_peak_rss: Option<u64>,
    /// Process CPU time (user + system) from controller start to stop.
    pub cpu: Option<Duration>,
    pub reconciles: u64,
    pub wall_time: Duration,
    /// `stand-in` or `kube-apiserver`.
    pub api_server: &'static str,
}

/// Policy-report writes (apply, delete) of the first controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportWrites {
    /// By the creation wave: one per watch with data.
    pub startup: u64,
    /// During the measured sweep: none, as nothing changed.
    pub idle_sweep: u64,
}

/// A fresh operator process starting with every watch already there.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RestartReport {
    /// HSS calls until every watch was refreshed once, as the operator's poller counted them.
    pub first_sweep_calls: u64,
    /// The minimum for the watches registered: ceil(unique ids / 100) per group.
    pub min_calls: u64,
    /// Controller start to every watch refreshed.
    pub first_sweep: Duration,
    /// Controller start to every watch refreshed and its refresh shown (applied by its
    /// reconcile): every watch Ready with current data.
    pub all_shown: Duration,
    /// List requests of the start (the first lists of watches, Secrets...).
    pub list_requests: u64,
    /// CPU between the first sweep and the second (`None`: no such quiet stretch).
    pub idle_cpu: Option<IdleCpu>,
    /// Watches the restarted operator serves.
    pub watches: u64,
    /// Status writes of the restarted controller up to the end of its first sweep (and soak).
    pub status_writes: u64,
    /// Policy-report writes of the restarted controller (with `--policy-reports`).
    #[serde(default)]
    pub report_writes: Option<u64>,
    pub reconciles: u64,
    /// Peak RSS of the restarted operator's process, and its peak of live heap bytes.
    pub peak_rss: Option<u64>,
    #[serde(default)]
    pub heap_peak: Option<u64>,
    pub soak: Option<SoakReport>,
}

/// CPU time used over a stretch of wall time.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IdleCpu {
    pub cpu: Duration,
    pub wall: Duration,
}

impl IdleCpu {
    /// Thousandths of a core, on average.
    pub fn millicores(&self) -> Option<f64> {
        (!self.wall.is_zero()).then(|| self.cpu.as_secs_f64() * 1000.0 / self.wall.as_secs_f64())
    }
}

/// The restarted controller kept running (`--soak`): RSS sampled once per interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SoakReport {
    pub duration: Duration,
    pub rss_after_first_sweep: Option<u64>,
    pub rss_max: Option<u64>,
    pub rss_end: Option<u64>,
    pub reconciles: u64,
    pub status_writes: u64,
}

impl RestartReport {
    fn lines(&self, m: &str) -> Vec<String> {
        let over = (self.min_calls > 0).then(|| {
            (self.first_sweep_calls as f64 - self.min_calls as f64) * 100.0 / self.min_calls as f64
        });
        let mut lines = vec![
            format!("{m}.first_sweep_calls: {} calls", self.first_sweep_calls),
            format!("{m}.first_sweep_min_calls: {} calls", self.min_calls),
            format!(
                "{m}.first_sweep_over_min: {} %",
                over.map_or_else(|| "n/a".to_string(), |o| format!("{o:.2}"))
            ),
            format!(
                "{m}.first_sweep_time: {} s",
                seconds(Some(self.first_sweep))
            ),
            format!(
                "{m}.restart_all_ready_time: {} s",
                seconds(Some(self.all_shown))
            ),
            format!("{m}.restart_list_requests: {} requests", self.list_requests),
            format!(
                "{m}.idle_cpu_millicores: {} millicores",
                self.idle_cpu
                    .and_then(|idle| idle.millicores())
                    .map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}"))
            ),
            format!(
                "{m}.idle_cpu_window: {} s",
                seconds(self.idle_cpu.map(|idle| idle.wall))
            ),
            format!("{m}.restart_peak_rss: {} MiB", mib(self.peak_rss)),
            format!("{m}.restart_heap_peak: {} MiB", mib(self.heap_peak)),
            format!("{m}.restart_status_writes: {} writes", self.status_writes),
            format!("{m}.restart_reconciles: {} reconciles", self.reconciles),
        ];
        if let Some(writes) = self.report_writes {
            lines.push(format!("{m}.restart_report_writes: {writes} writes"));
        }
        if let Some(soak) = &self.soak {
            let growth = match (soak.rss_after_first_sweep, soak.rss_max) {
                (Some(first), Some(max)) if first > 0 => {
                    Some((max.saturating_sub(first)) as f64 * 100.0 / first as f64)
                }
                _ => None,
            };
            lines.extend([
                format!("{m}.soak_duration: {} s", seconds(Some(soak.duration))),
                format!(
                    "{m}.soak_rss_after_first_sweep: {} MiB",
                    mib(soak.rss_after_first_sweep)
                ),
                format!("{m}.soak_rss_max: {} MiB", mib(soak.rss_max)),
                format!("{m}.soak_rss_end: {} MiB", mib(soak.rss_end)),
                format!(
                    "{m}.soak_rss_growth: {} %",
                    growth.map_or_else(|| "n/a".to_string(), |g| format!("{g:.2}"))
                ),
                format!("{m}.soak_reconciles: {} reconciles", soak.reconciles),
                format!("{m}.soak_status_writes: {} writes", soak.status_writes),
            ]);
        }
        lines
    }
}

/// The quota-wait histogram of the operator's metrics, read from its exposition.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QuotaWait {
    pub total: Option<Duration>,
    pub waits: Option<u64>,
    /// Waits longer than the timer's wake-up noise: a call that really waited for quota.
    pub over_100ms: Option<u64>,
}

const QUOTA_WAIT: &str = "hostrisk_hss_quota_wait_seconds";

impl QuotaWait {
    /// Reads `hostrisk_hss_quota_wait_seconds` from Prometheus / OpenMetrics text.
    pub fn from_exposition(text: &str) -> Self {
        let sample = |series: &str| -> Option<f64> {
            text.lines().find_map(|line| {
                let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
                rest.split_whitespace().next()?.parse().ok()
            })
        };
        let waits = sample(&format!("{QUOTA_WAIT}_count"));
        let within = sample(&format!("{QUOTA_WAIT}_bucket{{le=\"0.1\"}}"));
        QuotaWait {
            total: sample(&format!("{QUOTA_WAIT}_sum"))
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64),
            waits: waits.map(|w| w as u64),
            over_100ms: waits.zip(within).map(|(w, b)| (w - b).max(0.0) as u64),
        }
    }
}

const MIB: f64 = 1024.0 * 1024.0;

pub(super) fn count(value: Option<u64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| v.to_string())
}

pub(super) fn seconds(d: Option<Duration>) -> String {
    d.map_or_else(|| "n/a".to_string(), |d| format!("{:.3}", d.as_secs_f64()))
}

pub(super) fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "n/a".to_string(), |b| format!("{:.1}", b as f64 / MIB))
}

impl RunReport {
    /// CPU seconds per 1,000 reconciles.
    pub fn cpu_per_1000_reconciles(&self) -> Option<f64> {
        let cpu = self.cpu?;
        (self.reconciles > 0).then(|| cpu.as_secs_f64() * 1000.0 / self.reconciles as f64)
    }

    /// The lines of the run.
    pub fn lines(&self) -> Vec<String> {
        let m = RUN;
        let growth = match (self.rss_setup, self.peak_rss) {
            (Some(setup), Some(peak)) => Some(peak.saturating_sub(setup)),
            _ => None,
        };
        let idle_non_watch: u64 = self
            .idle_requests
            .iter()
            .filter(|(kind, _)| !kind.starts_with("watch."))
            .map(|(_, n)| n)
            .sum();
        let mut lines = vec![
            format!("{m}.api_server: {} server", self.api_server),
            format!(
                "{m}.hss_calls_per_sweep: {} calls",
                self.hss_calls_per_sweep
            ),
            format!(
                "{m}.min_calls_per_sweep: {} calls",
                self.min_calls_per_sweep
            ),
            format!("{m}.startup_calls: {} calls", self.startup_calls),
            format!("{m}.hss_429s: {} responses", self.throttled),
            format!(
                "{m}.status_writes_per_idle_sweep: {} writes",
                self.idle_status_writes
            ),
            format!("{m}.api_requests_per_idle_sweep: {idle_non_watch} requests"),
            format!(
                "{m}.reconciles_per_idle_sweep: {} reconciles",
                self.idle_reconciles
            ),
            format!(
                "{m}.startup_status_writes: {} writes",
                self.startup_status_writes
            ),
            format!("{m}.watches_with_data: {} watches", self.watches_with_data),
            format!("{m}.create_to_status_p50: {} s", seconds(self.latency_p50)),
            format!("{m}.create_to_status_p99: {} s", seconds(self.latency_p99)),
            format!("{m}.create_to_status_max: {} s", seconds(self.latency_max)),
            format!("{m}.probes: {} watches", self.probes),
            format!("{m}.probes_missing: {} watches", self.probes_missing),
            format!(
                "{m}.probe_create_to_status_p50: {} s",
                seconds(self.probe_p50)
            ),
            format!(
                "{m}.probe_create_to_status_p99: {} s",
                seconds(self.probe_p99)
            ),
            format!("{m}.quota_wait_total: {} s", seconds(self.quota_wait.total)),
            format!("{m}.quota_waits: {} waits", count(self.quota_wait.waits)),
            format!(
                "{m}.quota_waits_over_100ms: {} waits",
                count(self.quota_wait.over_100ms)
            ),
            format!(
                "{m}.client_limiter_wait: {} s",
                seconds(Some(self.client_limiter_wait))
            ),
            format!("{m}.creation_wave: {} s", seconds(Some(self.creation_wave))),
            format!("{m}.sweep_window: {} s", seconds(Some(self.sweep_window))),
            format!("{m}.sweep_window_valid: {} bool", self.sweep_window_valid),
            format!("{m}.rss_at_start: {} MiB", mib(self.rss_start)),
            format!("{m}.rss_after_setup: {} MiB", mib(self.rss_setup)),
            format!(
                "{m}.rss_after_creation: {} MiB",
                mib(self.rss_after_creation)
            ),
            format!(
                "{m}.peak_rss_during_creation: {} MiB",
                mib(self.peak_rss_creation)
            ),
            format!("{m}.peak_rss: {} MiB", mib(self.peak_rss)),
            format!("{m}.peak_rss_reset: {} bool", self.peak_reset),
            format!("{m}.rss_at_end: {} MiB", mib(self.rss_end)),
            format!("{m}.rss_growth: {} MiB", mib(growth)),
            format!(
                "{m}.heap_after_creation: {} MiB",
                mib(self.heap_after_creation)
            ),
            format!("{m}.heap_at_end: {} MiB", mib(self.heap_end)),
            format!(
                "{m}.heap_blocks_at_end: {} blocks",
                self.heap_blocks_end
                    .map_or_else(|| "n/a".to_string(), |b| b.to_string())
            ),
            format!("{m}.rss_file_at_end: {} MiB", mib(self.rss_file_end)),
            format!("{m}.heap_peak: {} MiB", mib(self.heap_peak)),
            format!(
                "{m}.peak_rss_includes_world: {} bool",
                self.world == WorldPlacement::InProcess
            ),
            format!("{m}.world_peak_rss: {} MiB", mib(self.world_peak_rss)),
            format!("{m}.reconciles: {} reconciles", self.reconciles),
            format!("{m}.cpu_seconds: {} s", seconds(self.cpu)),
            format!(
                "{m}.cpu_seconds_per_1000_reconciles: {} s",
                self.cpu_per_1000_reconciles()
                    .map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"))
            ),
            format!("{m}.wall_time: {} s", seconds(Some(self.wall_time))),
        ];
        if let Some(writes) = self.report_writes {
            lines.extend([
                format!("{m}.startup_report_writes: {} writes", writes.startup),
                format!(
                    "{m}.report_writes_per_idle_sweep: {} writes",
                    writes.idle_sweep
                ),
            ]);
        }
        lines.extend(
            self.idle_requests
                .iter()
                .map(|(kind, n)| format!("{m}.api_requests_per_idle_sweep.{kind}: {n} requests")),
        );
        lines.extend(self.restart.lines(m));
        lines.extend(self.scale.lines(m));
        lines
    }
}

/// The naive baseline's calls per sweep, computed from the workload, and
/// `ratio.per_watch_over_batched_calls` against the run's measured calls.
pub fn baseline_lines(workload: &Workload, batched_calls: u64) -> Vec<String> {
    let naive = workload.per_watch_calls_per_sweep() as u64;
    let ratio = if batched_calls == 0 {
        "n/a".to_string()
    } else {
        format!("{:.2}", naive as f64 / batched_calls as f64)
    };
    vec![
        format!("per_watch.hss_calls_per_sweep: {naive} calls"),
        format!("ratio.per_watch_over_batched_calls: {ratio} x"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(calls: u64) -> RunReport {
        RunReport {
            hss_calls_per_sweep: calls,
            min_calls_per_sweep: 9,
            startup_calls: 20,
            throttled: 0,
            idle_status_writes: 0,
            idle_requests: [("watch.hostriskwatches".to_string(), 1)].into(),
            idle_reconciles: 100,
            startup_status_writes: 200,
            report_writes: Some(ReportWrites {
                startup: 100,
                idle_sweep: 0,
            }),
            watches_with_data: 100,
            latency_p50: Some(Duration::from_millis(120)),
            latency_p99: None,
            latency_max: None,
            probes: 10,
            probes_missing: 0,
            probe_p50: None,
            probe_p99: None,
            quota_wait: QuotaWait::default(),
            client_limiter_wait: Duration::ZERO,
            creation_wave: Duration::from_secs(2),
            sweep_window: Duration::from_secs(50),
            sweep_window_valid: true,
            restart: RestartReport {
                first_sweep_calls: 9,
                min_calls: 9,
                peak_rss: Some(30 * 1024 * 1024),
                heap_peak: None,
                first_sweep: Duration::from_secs(1),
                all_shown: Duration::from_secs(2),
                list_requests: 3,
                idle_cpu: Some(IdleCpu {
                    cpu: Duration::from_millis(20),
                    wall: Duration::from_secs(40),
                }),
                watches: 110,
                status_writes: 0,
                report_writes: Some(0),
                reconciles: 100,
                soak: Some(SoakReport {
                    duration: Duration::from_secs(600),
                    rss_after_first_sweep: Some(40 * 1024 * 1024),
                    rss_max: Some(41 * 1024 * 1024),
                    rss_end: Some(40 * 1024 * 1024),
                    reconciles: 1000,
                    status_writes: 0,
                }),
            },
            scale: ScaleReport {
                hosts_per_watch: 10,
                operator_peak_rss: Some(52 * 1024 * 1024 + 512 * 1024),
                full_peak_rss: Some(30 * 1024 * 1024),
                full_watches: 110,
                small: None,
            },
            rss_start: Some(10 * 1024 * 1024),
            rss_setup: Some(20 * 1024 * 1024),
            rss_after_creation: Some(30 * 1024 * 1024),
            peak_rss_creation: Some(31 * 1024 * 1024),
            peak_rss: Some(52 * 1024 * 1024 + 512 * 1024),
            rss_end: Some(40 * 1024 * 1024),
            rss_file_end: None,
            heap_after_creation: None,
            heap_blocks_end: None,
            heap_end: None,
            heap_peak: None,
            peak_reset: true,
            world: WorldPlacement::Subprocess,
            world_peak_rss: None,
            cpu: Some(Duration::from_millis(1500)),
            reconciles: 3000,
            wall_time: Duration::from_secs(90),
            api_server: "stand-in",
        }
    }

    #[test]
    fn every_line_is_name_value_unit() {
        let lines = report(9).lines();
        for line in &lines {
            let (name, rest) = line.split_once(": ").expect(line);
            assert!(name.starts_with("batched."), "{line}");
            assert_eq!(rest.split(' ').count(), 2, "{line}");
        }
        assert!(lines.contains(&"batched.peak_rss: 52.5 MiB".to_string()));
        assert!(lines.contains(&"batched.rss_growth: 32.5 MiB".to_string()));
        assert!(lines.contains(&"batched.create_to_status_p50: 0.120 s".to_string()));
        assert!(lines.contains(&"batched.create_to_status_p99: n/a s".to_string()));
        assert!(lines.contains(&"batched.cpu_seconds_per_1000_reconciles: 0.500 s".to_string()));
        assert!(lines.contains(&"batched.api_requests_per_idle_sweep: 0 requests".to_string()));
        assert!(lines.contains(
            &"batched.api_requests_per_idle_sweep.watch.hostriskwatches: 1 requests".to_string()
        ));
        assert!(lines.contains(&"batched.first_sweep_over_min: 0.00 %".to_string()));
        assert!(lines.contains(&"batched.soak_rss_growth: 2.50 %".to_string()));
        assert!(lines.contains(&"batched.startup_report_writes: 100 writes".to_string()));
        assert!(lines.contains(&"batched.report_writes_per_idle_sweep: 0 writes".to_string()));
        assert!(lines.contains(&"batched.restart_report_writes: 0 writes".to_string()));
        assert!(lines.contains(&"batched.idle_cpu_millicores: 0.50 millicores".to_string()));
        assert!(lines.contains(&"batched.restart_list_requests: 3 requests".to_string()));
    }

    #[test]
    fn quota_wait_is_read_from_the_exposition() {
        let text = "# TYPE hostrisk_hss_quota_wait_seconds histogram\n\
            hostrisk_hss_quota_wait_seconds_sum 12.5\n\
            hostrisk_hss_quota_wait_seconds_count 40\n\
            hostrisk_hss_quota_wait_seconds_bucket{le=\"0.01\"} 30\n\
            hostrisk_hss_quota_wait_seconds_bucket{le=\"0.1\"} 37\n\
            hostrisk_hss_quota_wait_seconds_bucket{le=\"0.5\"} 38\n";
        assert_eq!(
            QuotaWait::from_exposition(text),
            QuotaWait {
                total: Some(Duration::from_millis(12_500)),
                waits: Some(40),
                over_100ms: Some(3),
            }
        );
        assert_eq!(QuotaWait::from_exposition(""), QuotaWait::default());
    }

    #[test]
    fn the_baseline_is_one_call_per_watch_and_100_hosts() {
        let workload = Workload::new(100, 10, 0.2).expect("workload");
        assert_eq!(
            baseline_lines(&workload, 9),
            [
                "per_watch.hss_calls_per_sweep: 100 calls",
                "ratio.per_watch_over_batched_calls: 11.11 x"
            ]
        );
        let large = Workload::new(5, 250, 0.0).expect("workload");
        assert_eq!(
            baseline_lines(&large, 0),
            [
                "per_watch.hss_calls_per_sweep: 15 calls",
                "ratio.per_watch_over_batched_calls: n/a x"
            ]
        );
    }
}
