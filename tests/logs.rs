//! The operator's logs as `kubectl logs` and a log collector get them: `run` as a process against
//! the Kubernetes API stand-in and the HSS simulator, stderr to a file (not a terminal).
//!
//! With `--log-format json`, every line of a full run (start, first polls, a broken Secret,
//! hosts turning risky and offline, the Secret fixed, shutdown on SIGTERM) is one JSON object with
//! unique keys, read with a parser that refuses a repeated key. Text logs carry no escape codes.

#[path = "support/strict_json.rs"]
mod strict_json;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hostrisk_operator::crd::{HostRiskWatch, REFRESH_ANNOTATION};
use hostrisk_operator::hss::model::{AgentStatus, DetectResult};
use hostrisk_sim::hss::{
    Faults, HssSimulator, SimConfig, DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY,
};
use hostrisk_sim::kube::StandinApiServer;
use kube::api::{Patch, PatchParams};
use kube::Api;
use serde_json::{json, Value};

use strict_json::parse_strict;

const BIN: &str = env!("CARGO_BIN_EXE_hostrisk-operator");
const CRD_YAML: &str = include_str!("../crds/hostriskwatch.yaml");
const NAMESPACE: &str = "logs";
/// Long enough for a debug build on two shared cores.
const WAIT: Duration = Duration::from_secs(30);

struct World {
    kube: StandinApiServer,
    sim: HssSimulator,
    kubeconfig: tempfile::NamedTempFile,
}

async fn world() -> World {
    let kube = StandinApiServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    kube.apply_yaml_documents(CRD_YAML).await.unwrap();
    let sim = HssSimulator::start(SimConfig {
        faults: Faults::none(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let endpoint = sim.base_url().as_str().trim_end_matches('/').to_string();
    let watch = |name: &str, secret: &str| {
        format!(
            "apiVersion: hostrisk.io/v1alpha1\nkind: HostRiskWatch\nmetadata: {{name: {name}, namespace: {NAMESPACE}}}\n\
             spec: {{projectId: {DEMO_PROJECT_ID}, endpoint: '{endpoint}', hostIds: [demo-web-01, demo-db-01, missing-01], \
             credentialsSecretRef: {{name: {secret}}}}}\n"
        )
    };
    let documents = [
        format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NAMESPACE}}}\n"),
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: keys, namespace: {NAMESPACE}}}\n\
             stringData: {{accessKey: {DEMO_ACCESS_KEY}, secretKey: {DEMO_SECRET_KEY}}}\n"
        ),
        // Lacks its secretKey until the test adds it: a credentials problem, then a recovery.
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: broken, namespace: {NAMESPACE}}}\n\
             stringData: {{accessKey: {DEMO_ACCESS_KEY}}}\n"
        ),
        watch("good", "keys"),
        watch("bad", "broken"),
    ];
    kube.apply_yaml_documents(&documents.join("---\n"))
        .await
        .unwrap();
    let kubeconfig = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        kubeconfig.path(),
        serde_yaml::to_string(&kube.kubeconfig()).unwrap(),
    )
    .unwrap();
    World {
        kube,
        sim,
        kubeconfig,
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `run` with stderr into `log`, configured through flags and environment like a Deployment.
fn operator(world: &World, log: &Path, format: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .args([
            "run",
            "--health-addr",
            &format!("127.0.0.1:{}", free_port()),
            "--allowed-endpoints",
            world.sim.base_url().as_str().trim_end_matches('/'),
            "--log-format",
            format,
        ])
        .env_clear()
        .env("KUBECONFIG", world.kubeconfig.path())
        // Every library's debug lines too: their fields could repeat a key as well.
        .env("HOSTRISK_LOG_LEVEL", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()));
    command
}

/// Reads the watch until `check` holds on its status (as JSON).
async fn wait_for(
    watches: &Api<HostRiskWatch>,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let watch = watches.get(name).await.unwrap();
        let status = serde_json::to_value(watch.status).unwrap();
        if check(&status) {
            return;
        }
        assert!(Instant::now() < deadline, "{name}: no {what} in {status:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn host_field(status: &Value, host: &str, field: &str) -> Option<String> {
    status["hosts"]
        .as_array()?
        .iter()
        .find(|h| h["hostId"] == host)
        .and_then(|h| h[field].as_str())
        .map(str::to_string)
}

fn ready(status: &Value) -> Option<String> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str())
        .map(str::to_string)
}

async fn refresh(watches: &Api<HostRiskWatch>, name: &str, nonce: &str) {
    let patch = json!({"metadata": {"annotations": {REFRESH_ANNOTATION: nonce}}});
    watches
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

fn sigterm_and_wait(child: &mut std::process::Child) -> Option<i32> {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every line parsed strictly; a failure lists each offending line.
fn parse_every_line(text: &str) -> Vec<BTreeMap<String, Value>> {
    let mut lines = Vec::new();
    let mut wrong = Vec::new();
    for line in text.lines() {
        match parse_strict(line) {
            Ok(Value::Object(object)) => lines.push(object.into_iter().collect()),
            Ok(other) => wrong.push(format!("not an object: {other}")),
            Err(error) => wrong.push(format!("{error}: {line}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} bad lines:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    lines
}

fn messages(lines: &[BTreeMap<String, Value>]) -> Vec<&str> {
    lines
        .iter()
        .filter_map(|l| l.get("message").and_then(Value::as_str))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_line_of_a_full_run_has_unique_keys() {
    let world = world().await;
    let client = world.kube.client().await.unwrap();
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), NAMESPACE);
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = operator(&world, log.path(), "json").spawn().unwrap();

    wait_for(&watches, "good", "first data", |s| {
        host_field(s, "demo-db-01", "detectResult").is_some()
    })
    .await;
    wait_for(&watches, "bad", "Ready=False", |s| {
        ready(s).as_deref() == Some("False")
    })
    .await;

    let mut db = world.sim.host("demo-db-01").unwrap();
    db.risk.detect_result = Some(DetectResult::Risk);
    db.risk.vulnerability = Some(3);
    world.sim.set_host(db);
    refresh(&watches, "good", "1").await;
    wait_for(&watches, "good", "risk", |s| {
        host_field(s, "demo-db-01", "detectResult").as_deref() == Some("risk")
    })
    .await;

    let mut web = world.sim.host("demo-web-01").unwrap();
    web.risk.agent_status = Some(AgentStatus::Offline);
    world.sim.set_host(web);
    refresh(&watches, "good", "2").await;
    wait_for(&watches, "good", "offline agent", |s| {
        host_field(s, "demo-web-01", "agentStatus").as_deref() == Some("offline")
    })
    .await;

    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client, NAMESPACE);
    let fix = json!({"stringData": {"secretKey": DEMO_SECRET_KEY}});
    secrets
        .patch("broken", &PatchParams::default(), &Patch::Merge(&fix))
        .await
        .unwrap();
    wait_for(&watches, "bad", "Ready=True", |s| {
        ready(s).as_deref() == Some("True")
    })
    .await;

    assert_eq!(sigterm_and_wait(&mut child), Some(0));
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(!text.contains('\x1b'), "escape codes in JSON logs");
    let lines = parse_every_line(&text);
    assert!(lines.len() > 20, "only {} lines:\n{text}", lines.len());
    for line in &lines {
        for key in ["timestamp", "level", "target"] {
            assert!(line.contains_key(key), "no {key}: {line:?}");
        }
    }
    let said = messages(&lines);
    for expected in [
        "starting hostrisk-operator",
        "status written",
        "event published",
        "shutdown signal received",
        "stopped",
    ] {
        assert!(said.contains(&expected), "no {expected:?} line in:\n{text}");
    }
}

#[tokio::test]
async fn a_refused_start_is_one_json_line_with_the_reason() {
    let world = world().await;
    let log = tempfile::NamedTempFile::new().unwrap();
    let status = operator(&world, log.path(), "json")
        .args(["--kubeconfig", "/nonexistent/kubeconfig"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
    let text = std::fs::read_to_string(log.path()).unwrap();
    let lines = parse_every_line(&text);
    let refusal = lines
        .iter()
        .find(|l| l.get("message") == Some(&json!("cannot start")))
        .unwrap_or_else(|| panic!("no `cannot start` line:\n{text}"));
    assert_eq!(refusal["level"], "ERROR");
    let reason = refusal["reason"].as_str().expect("a reason field");
    assert!(
        reason.contains("--kubeconfig /nonexistent/kubeconfig"),
        "{reason}"
    );
}

#[tokio::test]
async fn text_logs_to_a_file_or_pipe_have_no_escape_codes() {
    let world = world().await;
    let log = tempfile::NamedTempFile::new().unwrap();
    let status = operator(&world, log.path(), "text")
        .args(["--kubeconfig", "/nonexistent/kubeconfig"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(text.contains("cannot start"), "{text}");
    assert!(!text.contains('\x1b'), "escape codes: {text:?}");
}
