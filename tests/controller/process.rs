//! The `run` subcommand as a process: readiness over HTTP, SIGTERM, a taken health port.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hostrisk_sim::kube::StandinApiServer;

use super::harness::CRD_YAML;

const BIN: &str = env!("CARGO_BIN_EXE_hostrisk-operator");

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn standin_with_kubeconfig() -> (StandinApiServer, tempfile::NamedTempFile) {
    let kube = StandinApiServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    kube.apply_yaml_documents(CRD_YAML).await.unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        serde_yaml::to_string(&kube.kubeconfig()).unwrap(),
    )
    .unwrap();
    (kube, file)
}

fn run_command(kubeconfig: &std::path::Path, port: u16) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["run", "--health-addr", &format!("127.0.0.1:{port}")])
        .env("KUBECONFIG", kubeconfig)
        .env("HOSTRISK_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

#[tokio::test]
async fn run_becomes_ready_and_exits_zero_on_sigterm() {
    let (_kube, kubeconfig) = standin_with_kubeconfig().await;
    let port = free_port();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = run_command(kubeconfig.path(), port)
        .env("HOSTRISK_LOG_LEVEL", "info")
        .stderr(Stdio::from(log.reopen().unwrap()))
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string());
        if ready == Ok(200) {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let logs = std::fs::read_to_string(log.path()).unwrap_or_default();
            panic!("not ready in 20 s: {ready:?}; operator log:\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let live = http
        .get(format!("http://127.0.0.1:{port}/livez"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let metrics = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("hostrisk_ready 1"), "{metrics}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit 10 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn run_exits_with_usage_code_when_the_health_port_is_taken() {
    let (_kube, kubeconfig) = standin_with_kubeconfig().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let output =
        tokio::task::spawn_blocking(move || run_command(kubeconfig.path(), port).output().unwrap())
            .await
            .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--health-addr"), "{stderr}");
}

async fn wait_ready(http: &reqwest::Client, port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
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

async fn lease_holder(leases: &kube::Api<k8s_openapi::api::coordination::v1::Lease>) -> String {
    leases
        .get_opt("hostrisk-operator")
        .await
        .unwrap()
        .and_then(|lease| lease.spec)
        .and_then(|spec| spec.holder_identity)
        .unwrap_or_default()
}

fn sigterm_and_wait(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Two replicas with `--leader-elect`: both report ready (the follower as a standby), exactly
/// one holds the Lease, and when the leader stops it releases the Lease and the other takes over.
/// Multi-threaded: `sigterm_and_wait` blocks its thread, and the stand-in API server must keep
/// answering meanwhile (the stopping leader releases the Lease through it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_election_hands_over_when_the_leader_stops() {
    let (kube, kubeconfig) = standin_with_kubeconfig().await;
    let client = kube.client().await.unwrap();
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(client, "hostrisk-system");
    let ports = [free_port(), free_port()];
    let mut children: Vec<_> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            run_command(kubeconfig.path(), *port)
                .args(["--leader-elect", "--lease-namespace", "hostrisk-system"])
                .env("POD_NAME", format!("replica-{i}"))
                .spawn()
                .unwrap()
        })
        .collect();
    let http = reqwest::Client::new();
    for port in ports {
        assert!(
            wait_ready(&http, port, Duration::from_secs(20)).await,
            "replica on {port} not ready"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        let holder = lease_holder(&leases).await;
        if !holder.is_empty() {
            break holder;
        }
        assert!(Instant::now() < deadline, "nobody took the Lease");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let leader = usize::from(first.starts_with("replica-1_"));
    assert!(
        first.starts_with(&format!("replica-{leader}_")),
        "holder {first}"
    );

    let code = sigterm_and_wait(&mut children[leader], Duration::from_secs(15));
    assert_eq!(code, Some(0), "the leader exits cleanly on SIGTERM");
    let follower = 1 - leader;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let holder = lease_holder(&leases).await;
        if holder.starts_with(&format!("replica-{follower}_")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no takeover; holder is {holder:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(wait_ready(&http, ports[follower], Duration::from_secs(20)).await);
    assert_eq!(
        sigterm_and_wait(&mut children[follower], Duration::from_secs(15)),
        Some(0)
    );
}
