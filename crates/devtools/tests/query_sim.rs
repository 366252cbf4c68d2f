//! `hostrisk-dev query`: the operator's query against an in-process HSS simulator.

use std::process::Output;

const BIN: &str = env!("CARGO_BIN_EXE_hostrisk-dev");

async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .await
        .expect("binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn answers_from_the_in_process_simulator_whatever_the_environment_says() {
    // A project id exported for a real account must not send the query elsewhere.
    let out = run(
        &["query", "-o", "json"],
        &[(
            "HUAWEICLOUD_SDK_PROJECT_ID",
            "0123456789abcdef0123456789abcdef",
        )],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let hosts = json["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 5);
    assert_eq!(hosts[0]["hostId"], "demo-web-01");
    assert_eq!(hosts[0]["agentStatus"], "online");
    assert_eq!(hosts[0]["asset"], 120);
    let ep = hosts
        .iter()
        .find(|h| h["hostId"] == "demo-ep-01")
        .expect("ep host");
    assert_eq!(ep["found"], false);
    assert_eq!(json["summary"]["found"], 4);
    assert_eq!(json["summary"]["notFound"], 1);
    assert_eq!(json["requestIds"].as_array().map(Vec::len), Some(1));
    // And it says so, naming the variable (never its value).
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("note: ignoring HUAWEICLOUD_SDK_PROJECT_ID from the environment"),
        "{stderr}"
    );
    assert!(!stderr.contains("0123456789abcdef"), "{stderr}");
}

#[tokio::test]
async fn a_clean_environment_gets_no_note_and_fail_on_gates() {
    let out = run(&["query", "--fail-on", "risk,not-found"], &[]).await;
    // The demo hosts: demo-web-01 and demo-batch-01 are at risk, demo-ep-01 is in another
    // enterprise project.
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("note:"), "{stderr}");
    assert!(
        stderr.contains("--fail-on: 2 hosts at risk: demo-web-01, demo-batch-01"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--fail-on: 1 host not found: demo-ep-01"),
        "{stderr}"
    );
    assert!(text(&out.stdout).starts_with("HOST ID"));
}
