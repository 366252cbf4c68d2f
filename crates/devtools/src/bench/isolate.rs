//! `--mode both` runs each mode in a fresh process (this executable with `bench --mode <m>`),
//! so a mode's RSS figures do not start from the heap the previous mode left behind (the
//! allocator keeps freed memory mapped), and prints the child's `<mode>.*` lines.

use std::process::Stdio;

use tokio::process::Command;

use super::{BenchError, BenchOptions, Mode, WorldPlacement};
use hostrisk_operator::crd::duration::format_duration;

/// The flags that make a child run `mode` with `options`.
pub fn mode_args(options: &BenchOptions, mode: Mode) -> Vec<String> {
    vec![
        "bench".to_string(),
        format!(
            "--mode={}",
            match mode {
                Mode::Batched => "batched",
                Mode::PerWatch => "per-watch",
            }
        ),
        format!("--watches={}", options.watches),
        format!("--hosts-per-watch={}", options.hosts_per_watch),
        format!("--shared-fraction={}", options.shared_fraction),
        format!("--hss-calls-per-minute={}", options.calls_per_minute()),
        format!("--interval={}", format_duration(options.interval)),
        format!("--watches-per-namespace={}", options.watches_per_namespace),
        format!("--concurrency={}", options.concurrency),
        format!("--timeout={}", format_duration(options.timeout)),
        format!(
            "--world={}",
            match options.world {
                WorldPlacement::Subprocess => "subprocess",
                WorldPlacement::InProcess => "in-process",
            }
        ),
        format!("--probes={}", options.probes),
        format!("--log-level={}", options.log_level),
        format!("--namespace-prefix={}", options.namespace_prefix),
    ]
    .into_iter()
    .chain(
        options
            .kubeconfig
            .iter()
            .map(|path| format!("--kubeconfig={}", path.display())),
    )
    .chain(
        options
            .soak
            .iter()
            .map(|soak| format!("--soak={}", format_duration(*soak))),
    )
    .collect()
}

/// Runs `mode` in a child process; returns its `<mode>.*` lines.
pub async fn run_mode_in_child(
    options: &BenchOptions,
    mode: Mode,
) -> Result<Vec<String>, BenchError> {
    let output = Command::new(std::env::current_exe()?)
        .args(mode_args(options, mode))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await?;
    if !output.status.success() {
        return Err(BenchError::World(format!(
            "the {} run failed ({})",
            mode.label(),
            output.status
        )));
    }
    let prefix = format!("{}.", mode.label());
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.starts_with(&prefix))
        .map(str::to_string)
        .collect())
}

/// The value of `<mode>.hss_calls_per_sweep` among `lines`.
pub fn calls_per_sweep(lines: &[String], mode: Mode) -> Option<u64> {
    let name = format!("{}.hss_calls_per_sweep: ", mode.label());
    lines.iter().find_map(|line| {
        line.strip_prefix(&name)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn child_flags_carry_every_option() {
        let options = BenchOptions {
            watches: 7,
            hosts_per_watch: 3,
            shared_fraction: 0.25,
            calls_per_minute: None,
            interval: Duration::from_secs(90),
            modes: vec![Mode::Batched, Mode::PerWatch],
            watches_per_namespace: 2,
            concurrency: 8,
            timeout: Duration::from_secs(120),
            world: WorldPlacement::InProcess,
            probes: 4,
            log_level: "warn".into(),
            kubeconfig: Some("/tmp/kc".into()),
            namespace_prefix: "hostrisk-bench-7".into(),
            soak: Some(Duration::from_secs(600)),
            envtest: false,
        };
        let args = mode_args(&options, Mode::PerWatch);
        for expected in [
            "--mode=per-watch",
            "--watches=7",
            "--hosts-per-watch=3",
            "--shared-fraction=0.25",
            "--hss-calls-per-minute=60",
            "--interval=1m30s",
            "--watches-per-namespace=2",
            "--concurrency=8",
            "--timeout=2m",
            "--world=in-process",
            "--probes=4",
            "--log-level=warn",
            "--kubeconfig=/tmp/kc",
            "--namespace-prefix=hostrisk-bench-7",
            "--soak=10m",
        ] {
            assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
        }
    }

    #[test]
    fn calls_are_read_from_the_mode_lines() {
        let lines = vec![
            "per_watch.min_calls_per_sweep: 9 calls".to_string(),
            "per_watch.hss_calls_per_sweep: 100 calls".to_string(),
        ];
        assert_eq!(calls_per_sweep(&lines, Mode::PerWatch), Some(100));
        assert_eq!(calls_per_sweep(&lines, Mode::Batched), None);
    }
}
