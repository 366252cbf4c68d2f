//! `hostrisk-dev bench` at a tiny scale (5 watches × 4 hosts, 4 s interval): the binary runs
//! the real controller against the in-process simulator and stand-in, and its figures must show
//! what the design guarantees: the batched poller spends the physical minimum of calls per
//! sweep (its first sweep after a restart too), against a per-watch baseline of one call per
//! watch, no 429s, no status write and no request but watches while nothing changes, and at
//! most one reconcile per watch and sweep.

use std::collections::BTreeMap;
use std::process::Command;

fn run_bench(args: &[&str]) -> (BTreeMap<String, (String, String)>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hostrisk-dev"))
        .arg("bench")
        .args(args)
        .output()
        .expect("run hostrisk-dev bench");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "bench failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let mut figures = BTreeMap::new();
    for line in stdout.lines() {
        let (name, rest) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("not `name: value unit`: {line:?}"));
        let (value, unit) = rest
            .split_once(' ')
            .unwrap_or_else(|| panic!("no unit: {line:?}"));
        assert!(!unit.contains(' '), "one word of unit: {line:?}");
        let previous = figures.insert(name.to_string(), (value.to_string(), unit.to_string()));
        assert!(previous.is_none(), "printed twice: {name}");
    }
    (figures, stdout)
}

fn number(figures: &BTreeMap<String, (String, String)>, name: &str, stdout: &str) -> f64 {
    let (value, _) = figures
        .get(name)
        .unwrap_or_else(|| panic!("no line {name} in:\n{stdout}"));
    value
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number: {value}\n{stdout}"))
}

#[test]
fn tiny_bench_prints_every_figure_and_meets_the_design_invariants() {
    let (figures, stdout) = run_bench(&[
        "--watches=5",
        "--hosts-per-watch=4",
        "--interval=4s",
        "--probes=2",
        // Two namespaces: the second, one-namespace restart gives `bytes_per_host`.
        "--watches-per-namespace=3",
    ]);
    let n = |name: &str| number(&figures, name, &stdout);
    // 5 watches × 4 hosts, 1 shared id each in pairs: 3 pooled + 15 private ids, one call.
    assert_eq!(n("bench.unique_host_ids"), 18.0);
    {
        let mode = "batched";
        for figure in [
            "hss_calls_per_sweep",
            "min_calls_per_sweep",
            "hss_429s",
            "status_writes_per_idle_sweep",
            "create_to_status_p50",
            "create_to_status_p99",
            "peak_rss",
            "rss_growth",
            // hostrisk-dev installs the counting allocator: live heap is measured, not "n/a".
            "heap_at_end",
            "heap_peak",
            "heap_blocks_at_end",
            "cpu_seconds_per_1000_reconciles",
            "wall_time",
            "operator_peak_rss",
            "small_restart_peak_rss",
            "bytes_per_host",
            "restart_all_ready_time",
            "idle_cpu_millicores",
        ] {
            n(&format!("{mode}.{figure}"));
        }
        assert_eq!(
            figures[&format!("{mode}.sweep_window_valid")].0,
            "true",
            "{stdout}"
        );
        assert_eq!(n(&format!("{mode}.watches_with_data")), 5.0, "{stdout}");
        assert_eq!(n(&format!("{mode}.min_calls_per_sweep")), 1.0, "{stdout}");
        assert_eq!(n(&format!("{mode}.probes")), 2.0, "{stdout}");
        n(&format!("{mode}.probe_create_to_status_p99"));
        assert_eq!(n(&format!("{mode}.hss_429s")), 0.0, "{stdout}");
        assert_eq!(
            n(&format!("{mode}.status_writes_per_idle_sweep")),
            0.0,
            "{stdout}"
        );
        assert_eq!(
            n(&format!("{mode}.api_requests_per_idle_sweep")),
            0.0,
            "only watches while idle: {stdout}"
        );
        assert!(
            n(&format!("{mode}.reconciles_per_idle_sweep")) <= 5.0,
            "one poll result costs at most one reconcile per watch: {stdout}"
        );
        assert_eq!(
            n(&format!("{mode}.first_sweep_calls")),
            n(&format!("{mode}.first_sweep_min_calls")),
            "the first sweep after a restart is at the minimum: {stdout}"
        );
        assert_eq!(
            n(&format!("{mode}.restart_status_writes")),
            0.0,
            "a restart with nothing changed writes nothing: {stdout}"
        );
        assert!(n(&format!("{mode}.peak_rss")) > 0.0);
        // 3 + 2 probes of 7 watches in the first namespace.
        assert_eq!(n(&format!("{mode}.small_restart_watches")), 5.0, "{stdout}");
        assert!(
            n(&format!("{mode}.restart_list_requests")) >= 2.0,
            "the watches' and the Secrets' first lists: {stdout}"
        );
        // The default quota leaves room for every call: latency holds no quota wait.
        assert_eq!(
            n(&format!("{mode}.quota_waits_over_100ms")),
            0.0,
            "{stdout}"
        );
    }
    binary_figures_hold_the_same_invariants(&figures, &stdout);
    assert_eq!(n("per_watch.hss_calls_per_sweep"), 5.0, "{stdout}");
    assert_eq!(
        n("batched.hss_calls_per_sweep"),
        n("batched.min_calls_per_sweep"),
        "{stdout}"
    );
    assert_eq!(n("ratio.per_watch_over_batched_calls"), 5.0, "{stdout}");
}

/// The shipped `hostrisk-operator` measured from outside, when cargo built it next to
/// `hostrisk-dev` (it builds it for the root package's tests only): else the bench says it
/// skipped those figures.
fn binary_figures_hold_the_same_invariants(
    figures: &BTreeMap<String, (String, String)>,
    stdout: &str,
) {
    let n = |name: &str| number(figures, name, stdout);
    let built = std::path::Path::new(env!("CARGO_BIN_EXE_hostrisk-dev"))
        .with_file_name("hostrisk-operator")
        .is_file();
    let measured = &figures["batched.binary_measured"].0;
    if !built {
        assert_eq!(measured, "false", "{stdout}");
        eprintln!("no hostrisk-operator binary: its figures were skipped");
        return;
    }
    assert_eq!(measured, "true", "{stdout}");
    assert_eq!(
        n("batched.binary_watches"),
        7.0,
        "5 watches and 2 probes: {stdout}"
    );
    assert!(
        n("batched.binary_peak_rss") >= n("batched.binary_rss_file"),
        "{stdout}"
    );
    assert!(n("batched.binary_rss_file") > 0.0, "{stdout}");
    assert_eq!(
        n("batched.binary_first_sweep_calls"),
        n("batched.binary_first_sweep_min_calls"),
        "{stdout}"
    );
    assert_eq!(n("batched.binary_first_sweep_min_calls"), 1.0, "{stdout}");
    assert!(
        n("batched.binary_all_ready_time") >= n("batched.binary_first_sweep_time"),
        "{stdout}"
    );
    assert_eq!(n("batched.binary_startup_status_writes"), 0.0, "{stdout}");
    assert_eq!(
        n("batched.binary_hss_calls_per_idle_sweep"),
        1.0,
        "{stdout}"
    );
    assert_eq!(
        n("batched.binary_status_writes_per_idle_sweep"),
        0.0,
        "{stdout}"
    );
    assert!(n("batched.binary_metrics_scrapes") >= 2.0, "{stdout}");
    n("batched.binary_idle_cpu_millicores");
}

#[test]
fn tiny_bench_with_policy_reports_writes_one_per_watch_and_none_while_idle() {
    let (figures, stdout) = run_bench(&[
        "--watches=5",
        "--hosts-per-watch=4",
        "--interval=4s",
        "--probes=1",
        "--policy-reports=openreports",
    ]);
    let n = |name: &str| number(&figures, name, &stdout);
    assert_eq!(figures["bench.policy_reports"].0, "openreports", "{stdout}");
    assert_eq!(n("batched.watches_with_data"), 5.0, "{stdout}");
    assert!(
        n("batched.startup_report_writes") >= 5.0,
        "a report per watch: {stdout}"
    );
    assert_eq!(
        n("batched.report_writes_per_idle_sweep"),
        0.0,
        "an idle poll writes no report: {stdout}"
    );
    assert_eq!(
        n("batched.api_requests_per_idle_sweep"),
        0.0,
        "only watches while idle, reports on: {stdout}"
    );
    assert_eq!(
        n("batched.restart_report_writes"),
        0.0,
        "a restart with nothing changed rewrites no report: {stdout}"
    );
}
