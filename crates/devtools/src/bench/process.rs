//! The process's own resource use, read from Linux procfs: resident memory (`VmRSS`), its peak
//! (`VmHWM`), and CPU time (user + system). Everything in this process counts, so the figures
//! include the in-process HSS simulator and stand-in API server next to the controller.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Linux reports `utime`/`stime` of `/proc/<pid>/stat` in `USER_HZ` ticks, which the kernel ABI
/// fixes at 100 per second on every architecture (`sysconf(_SC_CLK_TCK)` returns it).
const USER_HZ: f64 = 100.0;

/// Resident memory now and its peak, in bytes; of the resident memory now, the part that is
/// the program's file mappings (`RssFile`: its code and libraries, paged in as they run), when
/// the kernel says (4.5+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    pub rss: u64,
    pub peak_rss: u64,
    pub rss_file: Option<u64>,
    /// The anonymous part (`RssAnon`: heap, stacks), when the kernel says (4.5+).
    pub rss_anon: Option<u64>,
}

/// Reads `VmRSS` and `VmHWM` of `/proc/self/status`; `None` off Linux.
pub fn memory() -> Option<Memory> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_memory(&status)
}

/// The same for another process of ours (the benchmark's world server).
pub fn memory_of(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_memory(&status)
}

fn parse_memory(status: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    };
    Some(Memory {
        rss: field("VmRSS:")?,
        peak_rss: field("VmHWM:")?,
        rss_file: field("RssFile:"),
        rss_anon: field("RssAnon:"),
    })
}

/// Samples `VmRSS` every `every` until dropped, keeping the largest value: the kernel updates
/// `VmHWM` lazily (when mappings change), so it can read below the current RSS.
pub struct RssSampler {
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(every: Duration) -> Self {
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(m) = memory() {
                    seen.fetch_max(m.rss.max(m.peak_rss), std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(every).await;
            }
        });
        Self { peak, task }
    }

    /// The peak so far: the largest of the samples, `VmHWM` and `VmRSS` now.
    pub fn peak(&self) -> Option<u64> {
        let now = memory().map(|m| m.rss.max(m.peak_rss));
        let sampled = self.peak.load(std::sync::atomic::Ordering::Relaxed);
        now.map(|n| n.max(sampled))
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Samples the memory of another process of ours every `every`, keeping the largest RSS (and
/// `VmHWM`), `RssFile` and `RssAnon` seen.
pub struct PeakSampler {
    peaks: std::sync::Arc<[AtomicU64; 3]>,
    task: tokio::task::JoinHandle<()>,
}

impl PeakSampler {
    pub fn start(pid: u32, every: Duration) -> Self {
        let peaks = std::sync::Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
        let seen = peaks.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(m) = memory_of(pid) {
                    seen[0].fetch_max(m.rss.max(m.peak_rss), Ordering::Relaxed);
                    seen[1].fetch_max(m.rss_file.unwrap_or(0), Ordering::Relaxed);
                    seen[2].fetch_max(m.rss_anon.unwrap_or(0), Ordering::Relaxed);
                }
                tokio::time::sleep(every).await;
            }
        });
        Self { peaks, task }
    }

    /// Peak RSS, `RssFile` and `RssAnon` (`None` when never read).
    pub fn peaks(&self) -> (Option<u64>, Option<u64>, Option<u64>) {
        let read = |i: usize| Some(self.peaks[i].load(Ordering::Relaxed)).filter(|&v| v > 0);
        (read(0), read(1), read(2))
    }
}

impl Drop for PeakSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Resets `VmHWM` to the current RSS (writing `5` to `/proc/self/clear_refs`, Linux 4.0+), so
/// what follows in the same process gets its own peak. Returns whether it worked.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// User + system CPU time of the whole process so far (every thread).
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_cpu_time(&stat)
}

/// The same for another process of ours (the production binary under measurement).
pub fn cpu_time_of(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_time(&stat)
}

fn parse_cpu_time(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name come state (field 3) ... utime (field 14) and stime (field 15).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / USER_HZ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_fields_are_read_in_bytes() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n";
        assert_eq!(
            parse_memory(status),
            Some(Memory {
                rss: 1024 * 1024,
                peak_rss: 2048 * 1024,
                rss_file: None,
                rss_anon: None,
            })
        );
        let with_file = format!("{status}RssAnon:\t     900 kB\nRssFile:\t     124 kB\n");
        let split = parse_memory(&with_file);
        assert_eq!(split.and_then(|m| m.rss_file), Some(124 * 1024));
        assert_eq!(split.and_then(|m| m.rss_anon), Some(900 * 1024));
        assert_eq!(parse_memory("Name:\tx\n"), None);
    }

    #[test]
    fn cpu_time_skips_a_command_name_with_spaces() {
        let stat = "42 (tokio rt) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1 2 3";
        assert_eq!(parse_cpu_time(stat), Some(Duration::from_secs(3)));
    }

    #[test]
    fn this_process_reports_memory_and_cpu() {
        let memory = memory().expect("Linux procfs");
        assert!(memory.rss > 0 && memory.peak_rss >= memory.rss);
        assert!(cpu_time().is_some());
    }
}
