//! Child processes of this executable (`bench` with the same options): the restarted operator
//! runs in one, so its RSS figures do not start from the heap the first controller left behind
//! (the allocator keeps freed memory mapped).

use std::process::Stdio;

use tokio::process::Command;

use super::{BenchError, BenchOptions, WorldPlacement};
use hostrisk_operator::crd::duration::format_duration;

/// The flags that make a child run with `options`.
pub fn child_args(options: &BenchOptions) -> Vec<String> {
    vec![
        "bench".to_string(),
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
    .chain(
        options
            .policy_reports
            .iter()
            .map(|format| format!("--policy-reports={}", format.as_str())),
    )
    .collect()
}

/// Runs this executable with `args` (its stderr passed on once it ends); its stdout, or an error naming
/// `what` when it fails.
pub async fn run_child(args: Vec<String>, what: &str) -> Result<String, BenchError> {
    let output = Command::new(std::env::current_exe()?)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stderr}");
    if !output.status.success() {
        let last = stderr.lines().last().unwrap_or_default();
        return Err(BenchError::World(format!(
            "{what} failed ({}): {last}",
            output.status
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
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
            policy_reports: Some(hostrisk_operator::reports::ReportFormat::WgPolicyK8s),
        };
        let args = child_args(&options);
        for expected in [
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
            "--policy-reports=wgpolicyk8s",
        ] {
            assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
        }
    }
}
