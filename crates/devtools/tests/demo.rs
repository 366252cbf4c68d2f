//! `hostrisk-dev demo`, run in-process for a short duration: the simulator, the stand-in
//! API server and the real controller, with the table and Events read back over HTTP.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hostrisk_devtools::demo::manifests::names;
use hostrisk_devtools::demo::{run_demo, DemoOptions};

/// Collects what the demo prints.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The kubectl of the test tools (`.ci/setup-tools.sh` installs it into `.venv`).
fn kubectl() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/kubectl");
    assert!(
        path.exists(),
        "{} is missing: run .ci/setup-tools.sh, which installs kubectl into .venv",
        path.display()
    );
    path
}

/// The first printed line that starts (after spaces) with `prefix`, without it.
fn printed_after(captured: &Captured, prefix: &str) -> Option<String> {
    captured.text().lines().find_map(|line| {
        line.trim_start()
            .strip_prefix(prefix)
            .map(|rest| rest.trim().to_string())
    })
}

/// The series of the at-risk taints the operator set (the demo's budget allows one).
const AT_RISK_TAINTED: &str = "hostrisk_node_taints{problem=\"at-risk\",mode=\"applied\"} 1";

/// What the demo offers to look at from outside, tried while it runs: `/readyz` and
/// `/metrics` of the controller (read until it shows the first taint, or 15 s), and the printed
/// kubectl command with the real kubectl.
async fn look_from_outside(captured: Captured) -> (u16, String, String) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let (endpoints, kubeconfig) = loop {
        let endpoints = printed_after(&captured, "operator endpoints");
        let kubeconfig = printed_after(&captured, "KUBECONFIG=");
        if let (Some(e), Some(k)) = (endpoints, kubeconfig) {
            break (e, k);
        }
        assert!(
            Instant::now() < deadline,
            "no endpoints or kubectl line:\n{}",
            captured.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // `http://127.0.0.1:PORT/metrics, /livez, /readyz`
    let metrics_url = endpoints.split(',').next().expect("a URL").to_string();
    let base = metrics_url.trim_end_matches("/metrics").to_string();
    let http = reqwest::Client::new();
    let mut ready = 0;
    while Instant::now() < deadline {
        ready = http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        if ready == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = loop {
        let metrics = http
            .get(&metrics_url)
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body");
        if metrics.contains(AT_RISK_TAINTED) || Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // `/path/kubeconfig kubectl get hrw -A`
    let kubectl_out = run_printed(&kubeconfig).await;
    // `/path/kubeconfig kubectl get reports -A`: the reports appear after the first polls.
    let reports_line = captured
        .text()
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("KUBECONFIG="))
        .map(|l| l.trim().to_string())
        .find(|l| l.ends_with("kubectl get reports -A"))
        .expect("a kubectl get reports line");
    let mut reports_out = run_printed(&reports_line).await;
    while !reports_out.contains("hostrisk-web-tier") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        reports_out = run_printed(&reports_line).await;
    }
    (ready, metrics, format!("{kubectl_out}{reports_out}"))
}

/// Runs a printed `/path/kubeconfig kubectl ...` line with the real kubectl; its output.
async fn run_printed(line: &str) -> String {
    let (path, command) = line.split_once(' ').expect("path and command");
    let args: Vec<&str> = command
        .strip_prefix("kubectl ")
        .expect("a kubectl command")
        .split_whitespace()
        .collect();
    let output = tokio::process::Command::new(kubectl())
        .args(&args)
        .env("KUBECONFIG", path)
        .output()
        .await
        .expect("kubectl runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_demo_shows_ready_watches_transitions_a_fixed_secret_and_node_posture() {
    let duration = Duration::from_secs(18);
    let captured = Captured::default();
    let files = tempfile::tempdir().expect("tmp");
    let started = Instant::now();
    let demo = run_demo(
        DemoOptions {
            duration,
            color: false,
            width: 80,
            files_dir: files.path().to_path_buf(),
            log_file: None,
        },
        Box::new(captured.clone()),
    );
    let (report, (ready, metrics, kubectl_out)) =
        tokio::join!(demo, look_from_outside(captured.clone()));
    let report = report.expect("the demo runs to its end");
    let took = started.elapsed();
    let text = captured.text();

    // Exits on time.
    assert!(took >= duration, "ended early after {took:?}");
    assert!(
        took < duration + Duration::from_secs(8),
        "took {took:?}\n{text}"
    );

    // While it ran, the controller's endpoints answered and kubectl read the stand-in.
    assert_eq!(ready, 200, "/readyz\n{text}");
    assert!(metrics.contains("hostrisk_ready 1"), "{metrics}");
    for name in [
        names::WEB,
        names::DATA,
        names::BATCH,
        names::KEYLESS,
        names::WORKERS,
    ] {
        assert!(kubectl_out.contains(name), "kubectl: {kubectl_out}");
    }
    assert!(
        !files.path().join("kubeconfig").exists(),
        "the kubeconfig of a stopped server is removed"
    );

    // At 80 columns: the compact table with the CRD's printer columns, nothing wider than the
    // terminal, no colours.
    let headers: Vec<&str> = text
        .lines()
        .find(|l| l.trim_start().starts_with("NAME "))
        .expect("a header")
        .split_whitespace()
        .collect();
    assert_eq!(
        headers,
        ["NAME", "READY", "HOSTS", "RISK", "UNPROT", "OFFLINE", "SYNC", "AGE"]
    );
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "wider than 80 columns: {line:?}"
        );
    }
    assert!(!text.contains('\x1b'), "colour codes with color off");

    // After each host change, the changed host's entry of status.hosts, and every Event's cause.
    assert!(
        text.contains("status.hosts[demo-db-01]: found=true"),
        "{text}"
    );
    assert!(text.contains("detectResult=risk"), "{text}");
    assert!(
        text.contains("protectStatus=closed detectResult=undetected"),
        "{text}"
    );
    assert!(
        text.contains("why: HSS protection was switched off"),
        "{text}"
    );
    assert!(text.contains("turns to undetected"), "{text}");

    // The good watches became Ready and stayed Ready (a stale cache once rewrote the first
    // Pending status over real data; the table would show True -> Unknown).
    for name in [names::WEB, names::DATA, names::KEYLESS, names::WORKERS] {
        let history = report.ready_history(name);
        let first_true = history
            .iter()
            .position(|r| *r == Some("True"))
            .unwrap_or_else(|| panic!("{name} never showed Ready=True:\n{text}"));
        assert!(
            history[first_true..].iter().all(|r| *r == Some("True")),
            "{name} left Ready=True: {history:?}\n{text}"
        );
    }

    // The bad-secret watch was False, then True after the fix.
    let batch = report.ready_history(names::BATCH);
    let first_false = batch
        .iter()
        .position(|r| *r == Some("False"))
        .unwrap_or_else(|| panic!("batch-jobs never showed Ready=False:\n{text}"));
    assert!(
        batch[first_false..].contains(&Some("True")),
        "batch-jobs did not recover: {batch:?}\n{text}"
    );
    assert!(text.contains("SecretKeyMissing"), "{text}");

    // Every transition reached the status (and the idle refresh polled HSS without a status
    // write), and the operator said so in Events.
    assert_eq!(report.steps.len(), 9, "{text}");
    for step in &report.steps {
        assert!(step.seen_after.is_some(), "not seen: {step:?}\n{text}");
    }
    let reasons: Vec<&str> = report.events.iter().map(|e| e.reason.as_str()).collect();
    for reason in [
        "HostNotFound",
        "BecameAtRisk",
        "ProtectionClosed",
        "AgentOffline",
        "PollRecovered",
        "AgentOnline",
        "BecameClean",
        "ProtectionOpened",
    ] {
        assert!(
            reasons.contains(&reason),
            "no {reason} Event in {reasons:?}"
        );
    }
    assert!(report
        .events
        .iter()
        .all(|e| e.reporter == "hostrisk-operator"));

    // An at-risk count moved in the table itself: web-tier's AT RISK went up then down.
    let at_risk: Vec<Option<&str>> = report
        .rows
        .iter()
        .filter(|r| r.name == names::WEB)
        .map(|r| r.value(&report.columns, "At Risk"))
        .collect();
    assert!(
        at_risk
            .windows(2)
            .any(|w| w[0] == Some("2") && w[1] == Some("3")),
        "web-tier AT RISK history {at_risk:?}"
    );
    assert!(
        text.contains("HSS polled, nothing changed: no status write"),
        "{text}"
    );
    assert!(text.contains("demo finished after"), "{text}");

    // The node-backed watch followed a Node joining and one leaving (both steps were confirmed
    // above by reading back), showed the joining Node's host with its name, and reports the
    // Node of another cloud instead of dropping it.
    assert!(text.contains("Node cce-node-3 joins the cluster"), "{text}");
    assert!(text.contains("nodeName=cce-node-3"), "{text}");
    assert!(
        text.contains("Node cce-node-2 leaves the cluster"),
        "{text}"
    );
    assert!(
        text.contains("not watched: edge-1 (ForeignProviderId)"),
        "{text}"
    );

    // The keyless watch read HSS with a ServiceAccount token exchanged at the simulated IAM
    // (the identity provider the banner names), once: its IAM token is cached.
    assert!(text.contains("IAM identity provider"), "{text}");
    assert!(
        text.contains("ServiceAccount security/hss-reader"),
        "{text}"
    );
    assert_eq!(report.id_token_exchanges, 1, "{text}");
    assert!(report.hss_calls >= 7, "{} HSS calls", report.hss_calls);

    // The node-backed watch drives its Nodes' conditions, and taints at-risk Nodes one at a time
    // (--node-taints at-risk --node-taint-after 0s --node-taint-max 1): cce-node-1 starts at risk
    // and is tainted; cce-node-2 turns at risk and is held back by the budget; the joining
    // Node's failed agent install shows; once demo-web-01 is patched, cce-node-1's conditions
    // clear and its taint goes. Every step's Nodes were confirmed above (seen_after).
    let node_event = |reason: &str, object: &str| {
        report
            .events
            .iter()
            .any(|e| e.reason == reason && e.object == object)
    };
    for (reason, object) in [
        ("TaintAdded", "node/cce-node-1"),
        ("TaintHeldBack", "node/cce-node-2"),
        ("NodeTaintsHeldBack", "security/workers"),
        ("TaintRemoved", "node/cce-node-1"),
    ] {
        assert!(
            node_event(reason, object),
            "no {reason} Event on {object}:\n{text}"
        );
    }
    assert!(
        !report
            .events
            .iter()
            .any(|e| e.reason == "TaintAdded" && e.object != "node/cce-node-1"),
        "a second Node tainted over the budget of one:\n{text}"
    );
    let nodes_after = |title: &str| -> Vec<String> {
        report
            .steps
            .iter()
            .find(|s| s.title.starts_with(title))
            .unwrap_or_else(|| panic!("no step {title}"))
            .nodes
            .clone()
    };
    assert_eq!(
        nodes_after("demo-db-01: HSS finds"),
        ["Node cce-node-2: HostSecurityAtRisk=True (RisksFound); no taints"]
    );
    assert_eq!(
        nodes_after("demo-web-01: the HSS agent stops"),
        ["Node cce-node-1: HostSecurityAgentOffline=True (AgentOffline), HostSecurityAtRisk=True \
          (RisksFound); taints hostrisk.io/at-risk:PreferNoSchedule"]
    );
    assert_eq!(
        nodes_after("demo-web-01 back online"),
        ["Node cce-node-1: no HostSecurity* problem; no taints"]
    );
    assert_eq!(
        report.nodes,
        [
            "Node cce-node-1: no HostSecurity* problem; no taints",
            "Node cce-node-3: HostSecurityAgentOffline=True (AgentInstallFailed), \
             HostSecurityUnprotected=True (ProtectionClosed), HostSecurityAtRisk=Unknown \
             (NotScanned); no taints",
        ],
        "{text}"
    );
    assert!(metrics.contains(AT_RISK_TAINTED), "{metrics}");
    // The real kubectl found the OpenReports kind in the stand-in's discovery and listed the
    // reports the banner says to look at.
    for name in [names::WEB, names::DATA, names::WORKERS] {
        assert!(
            kubectl_out.contains(&format!("hostrisk-{name}")),
            "kubectl get reports: {kubectl_out}"
        );
    }
    // Every watch with data has its OpenReports Report, as `kubectl get reports` counts it.
    assert!(
        text.contains("policy reports (kubectl get reports)"),
        "{text}"
    );
    for name in [names::WEB, names::DATA, names::WORKERS] {
        let report = format!("hostrisk-{name} ");
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(&report)),
            "no report line for {name}: {text}"
        );
    }
}
