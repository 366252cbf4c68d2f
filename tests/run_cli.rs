//! `run`'s way to the API server and its health address, as a process: `--kubeconfig` and
//! `--context` (or HOSTRISK_KUBECONFIG / HOSTRISK_CONTEXT) pick the cluster whatever KUBECONFIG
//! says, and `--health-addr :PORT` listens on every interface.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hostrisk_sim::kube::StandinApiServer;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_hostrisk-operator");
const CRD_YAML: &str = include_str!("../crds/hostriskwatch.yaml");

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A kubeconfig with two contexts: `standin` (the running stand-in) and `elsewhere`, the
/// current one, whose server refuses connections.
async fn two_context_kubeconfig() -> (StandinApiServer, tempfile::NamedTempFile) {
    let kube = StandinApiServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    kube.apply_yaml_documents(CRD_YAML).await.unwrap();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "standin", "cluster": {"server": kube.url()}},
            {"name": "elsewhere", "cluster": {"server": dead}},
        ],
        "users": [{"name": "nobody", "user": {}}],
        "contexts": [
            {"name": "standin", "context": {"cluster": "standin", "user": "nobody"}},
            {"name": "elsewhere", "context": {"cluster": "elsewhere", "user": "nobody"}},
        ],
        "current-context": "elsewhere",
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_yaml::to_string(&config).unwrap()).unwrap();
    (kube, file)
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("run")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .env("HOSTRISK_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

async fn wait_ready(port: u16) -> bool {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let status = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16());
        if matches!(status, Ok(200)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn stop(mut child: std::process::Child) -> Option<i32> {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap().code()
}

#[tokio::test]
async fn kubeconfig_and_context_flags_pick_the_cluster() {
    let (_kube, kubeconfig) = two_context_kubeconfig().await;
    let path = kubeconfig.path().to_str().unwrap();
    let port = free_port();
    // KUBECONFIG points elsewhere on purpose: the flags win.
    let child = run(
        &[
            "--kubeconfig",
            path,
            "--context",
            "standin",
            "--health-addr",
            &format!(":{port}"),
        ],
        &[("KUBECONFIG", "/nonexistent/kubeconfig")],
    )
    .spawn()
    .unwrap();
    let ready = wait_ready(port).await;
    assert_eq!(stop(child), Some(0));
    assert!(ready, "not ready through --kubeconfig/--context on :{port}");
}

#[tokio::test]
async fn kubeconfig_and_context_come_from_the_environment_too() {
    let (_kube, kubeconfig) = two_context_kubeconfig().await;
    let port = free_port();
    let child = run(
        &["--health-addr", &format!("127.0.0.1:{port}")],
        &[
            ("HOSTRISK_KUBECONFIG", kubeconfig.path().to_str().unwrap()),
            ("HOSTRISK_CONTEXT", "standin"),
        ],
    )
    .spawn()
    .unwrap();
    let ready = wait_ready(port).await;
    assert_eq!(stop(child), Some(0));
    assert!(
        ready,
        "not ready through HOSTRISK_KUBECONFIG/HOSTRISK_CONTEXT"
    );
}

#[tokio::test]
async fn an_unknown_context_is_a_usage_error_naming_the_flag() {
    let (_kube, kubeconfig) = two_context_kubeconfig().await;
    let port = free_port();
    let path = kubeconfig.path().to_str().unwrap().to_string();
    let output = tokio::task::spawn_blocking(move || {
        run(
            &[
                "--kubeconfig",
                &path,
                "--context",
                "nosuch",
                "--health-addr",
                &format!("127.0.0.1:{port}"),
            ],
            &[],
        )
        .output()
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--context nosuch"), "{stderr}");
}

/// `<subcommand> --help` of this binary.
fn help(subcommand: &str) -> String {
    let output = Command::new(BIN)
        .args([subcommand, "--help"])
        .env_clear()
        .output()
        .unwrap();
    assert!(output.status.success(), "{subcommand} --help");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every subcommand has the same log flags, defaults and variables, and the HSS quota has one
/// name wherever it is a flag.
#[test]
fn every_subcommand_has_the_same_log_and_quota_flags() {
    for subcommand in ["run", "query", "crd"] {
        let help = help(subcommand);
        for needle in [
            "--log-level <LOG_LEVEL>",
            "[env: HOSTRISK_LOG_LEVEL=]",
            "[default: info]",
            "--log-format <LOG_FORMAT>",
            "[env: HOSTRISK_LOG_FORMAT=]",
            "[default: text]",
        ] {
            assert!(
                help.contains(needle),
                "{subcommand}: no {needle:?} in\n{help}"
            );
        }
        assert!(
            !help.contains("--calls-per-minute") && !help.contains("--quota-per-minute"),
            "{subcommand}: another name for the quota\n{help}"
        );
        if help.contains("per-minute") {
            assert!(
                help.contains("--hss-calls-per-minute <HSS_CALLS_PER_MINUTE>")
                    && help.contains("[env: HOSTRISK_HSS_CALLS_PER_MINUTE="),
                "{subcommand}\n{help}"
            );
        }
    }
}
