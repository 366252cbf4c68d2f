//! The `query` subcommand as a user runs it: the real binary against the HSS simulator on
//! loopback, with a clean environment per run.

use std::process::Output;

use hostrisk_sim::hss::{
    Faults, HssSimulator, SimConfig, DEMO_ACCESS_KEY, DEMO_IAM_DOMAIN, DEMO_IAM_PASSWORD,
    DEMO_IAM_USER, DEMO_PROJECT_ID, DEMO_SECRET_KEY, DEMO_STATIC_TOKEN,
};

const BIN: &str = env!("CARGO_BIN_EXE_hostrisk-operator");

async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    tokio::process::Command::new(BIN)
        .arg("query")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .await
        .expect("binary runs")
}

async fn simulator(faults: Faults) -> HssSimulator {
    HssSimulator::start(SimConfig {
        faults,
        ..SimConfig::default()
    })
    .await
    .expect("simulator")
}

fn aksk_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("HUAWEICLOUD_SDK_AK", DEMO_ACCESS_KEY),
        ("HUAWEICLOUD_SDK_SK", DEMO_SECRET_KEY),
        ("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID),
    ]
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn table_from_endpoint_with_aksk_and_hosts_file() {
    let sim = simulator(Faults::none()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("hosts.txt");
    std::fs::write(
        &file,
        "# production\ndemo-db-01\n\nmissing-01  # retired\ndemo-web-01\n",
    )
    .expect("write");
    let endpoint = sim.base_url().to_string();
    let out = run(
        &[
            "--endpoint",
            &endpoint,
            "--host-id",
            "demo-web-01",
            "--hosts-file",
            file.to_str().expect("path"),
        ],
        &aksk_env(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines[0].starts_with("HOST ID") && lines[0].contains("INTRUSION"));
    assert!(lines[1].starts_with("demo-web-01") && lines[1].contains("hss.version.enterprise"));
    assert!(lines[2].starts_with("demo-db-01"));
    assert!(lines[3].starts_with("missing-01") && lines[3].contains("NOT FOUND"));
    assert!(lines[4].starts_with("3 requested, 2 found, 1 not found"));
    assert_eq!(sim.counters().hss_requests, 1);
}

#[tokio::test]
async fn static_token_from_the_environment() {
    let sim = simulator(Faults::none()).await;
    let endpoint = sim.base_url().to_string();
    let out = run(
        &[
            "--endpoint",
            &endpoint,
            "--project-id",
            DEMO_PROJECT_ID,
            "--host-id",
            "demo-db-01",
            "--output",
            "json",
        ],
        &[("HOSTRISK_AUTH_TOKEN", DEMO_STATIC_TOKEN)],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[tokio::test]
async fn usage_errors_exit_2_and_name_the_variables() {
    let none = run(
        &[
            "--region",
            "cn-north-4",
            "--project-id",
            "p",
            "--host-id",
            "h",
        ],
        &[],
    )
    .await;
    assert_eq!(none.status.code(), Some(2));
    let stderr = text(&none.stderr);
    assert!(
        stderr.contains("HUAWEICLOUD_SDK_AK")
            && stderr.contains("HOSTRISK_AUTH_TOKEN")
            && stderr.contains("HOSTRISK_IAM_USERNAME"),
        "{stderr}"
    );
    let mut both = aksk_env();
    both.push(("HOSTRISK_AUTH_TOKEN", "t"));
    let several = run(&["--region", "cn-north-4", "--host-id", "h"], &both).await;
    assert_eq!(several.status.code(), Some(2));
    assert!(text(&several.stderr).contains("several kinds"));
    let plain_http = run(
        &["--endpoint", "http://hss.example.com", "--host-id", "h"],
        &aksk_env(),
    )
    .await;
    assert_eq!(plain_http.status.code(), Some(2));
    assert!(text(&plain_http.stderr).contains("loopback"));
    let no_ids = run(&["--region", "cn-north-4"], &aksk_env()).await;
    assert_eq!(no_ids.status.code(), Some(2));
    let both_targets = run(
        &[
            "--region",
            "cn-north-4",
            "--endpoint",
            "https://x.example",
            "--host-id",
            "h",
        ],
        &aksk_env(),
    )
    .await;
    assert_eq!(both_targets.status.code(), Some(2));
}

#[tokio::test]
async fn wrong_key_exits_3_with_request_id_and_no_secret() {
    let sim = simulator(Faults::none()).await;
    let endpoint = sim.base_url().to_string();
    let env = [
        ("HUAWEICLOUD_SDK_AK", DEMO_ACCESS_KEY),
        ("HUAWEICLOUD_SDK_SK", "definitely-wrong-secret"),
        ("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID),
    ];
    let out = run(
        &[
            "--endpoint",
            &endpoint,
            "--host-id",
            "demo-db-01",
            "--log-level",
            "debug",
        ],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("APIGW.0301") && stderr.contains("request id"),
        "{stderr}"
    );
    assert!(!stderr.contains("definitely-wrong-secret"));
    // The fix names what the user set, not a Secret they do not have.
    assert!(
        stderr.contains("check HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"),
        "{stderr}"
    );
    assert!(!stderr.contains("Secret"), "{stderr}");
    assert_eq!(sim.counters().hss_requests, 1);
}

#[tokio::test]
async fn throttling_exits_4() {
    let sim = simulator(Faults {
        quota_per_minute: 1,
        ..Faults::none()
    })
    .await;
    let endpoint = sim.base_url().to_string();
    let args = ["--endpoint", endpoint.as_str(), "--host-id", "demo-db-01"];
    assert_eq!(run(&args, &aksk_env()).await.status.code(), Some(0));
    let out = run(&args, &aksk_env()).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("throttled"));
}

#[tokio::test]
async fn server_failures_exit_5() {
    let sim = simulator(Faults {
        error_rate: 1.0,
        ..Faults::none()
    })
    .await;
    let endpoint = sim.base_url().to_string();
    let out = run(
        &["--endpoint", &endpoint, "--host-id", "demo-db-01"],
        &aksk_env(),
    )
    .await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(sim.counters().hss_requests, 4, "default 4 attempts");
}

#[tokio::test]
async fn help_documents_credentials_and_exit_codes() {
    let out = run(&["--help"], &[]).await;
    let help = text(&out.stdout);
    for needle in [
        "HUAWEICLOUD_SDK_AK",
        "HOSTRISK_IAM_DOMAIN",
        "Exit codes",
        "3 authentication",
        "6 a host matched --fail-on",
        "-o, --output",
        "--fail-on",
        "--hss-calls-per-minute",
        "--log-format",
        "hostrisk-dev query",
    ] {
        assert!(help.contains(needle), "{needle} missing from help");
    }
}

#[tokio::test]
async fn iam_login_with_explicit_iam_endpoint() {
    let sim = simulator(Faults::none()).await;
    let endpoint = sim.base_url().to_string();
    let iam = sim.iam_url().to_string();
    let env = [
        ("HOSTRISK_IAM_USERNAME", DEMO_IAM_USER),
        ("HOSTRISK_IAM_PASSWORD", DEMO_IAM_PASSWORD),
        ("HOSTRISK_IAM_DOMAIN", DEMO_IAM_DOMAIN),
        ("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID),
    ];
    let args = ["--endpoint", endpoint.as_str(), "--host-id", "demo-db-01"];
    let missing_iam = run(&args, &env).await;
    assert_eq!(
        missing_iam.status.code(),
        Some(2),
        "no IAM endpoint without --region"
    );
    let mut with_iam = args.to_vec();
    with_iam.extend(["--iam-endpoint", iam.as_str()]);
    let out = run(&with_iam, &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(sim.counters().iam_tokens_issued, 1);
    let wrong = [
        ("HOSTRISK_IAM_USERNAME", DEMO_IAM_USER),
        ("HOSTRISK_IAM_PASSWORD", "nope"),
        ("HOSTRISK_IAM_DOMAIN", DEMO_IAM_DOMAIN),
        ("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID),
    ];
    let refused = run(&with_iam, &wrong).await;
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused.stderr));
    let stderr = text(&refused.stderr);
    assert!(!stderr.contains("nope"));
    assert!(
        stderr.contains("HOSTRISK_IAM_USERNAME, HOSTRISK_IAM_PASSWORD and HOSTRISK_IAM_DOMAIN"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Secret") && !stderr.contains("domainName"),
        "{stderr}"
    );
}

#[tokio::test]
async fn ids_follow_the_crd_bounds_before_anything_is_sent() {
    let sim = simulator(Faults::none()).await;
    let endpoint = sim.base_url().to_string();
    let empty = run(
        &[
            "--endpoint",
            &endpoint,
            "--host-id",
            "demo-db-01",
            "--host-id",
            "",
        ],
        &aksk_env(),
    )
    .await;
    assert_eq!(empty.status.code(), Some(2), "{}", text(&empty.stderr));
    assert!(
        text(&empty.stderr).contains("--host-id \"\": the host id is empty"),
        "{}",
        text(&empty.stderr)
    );
    let long_id = "h".repeat(65);
    let long = run(
        &["--endpoint", &endpoint, "--host-id", &long_id],
        &aksk_env(),
    )
    .await;
    assert_eq!(long.status.code(), Some(2));
    assert!(
        text(&long.stderr).contains("65 characters long")
            && text(&long.stderr).contains("1 to 64 characters"),
        "{}",
        text(&long.stderr)
    );
    let longest = "h".repeat(64);
    let ok = run(
        &["--endpoint", &endpoint, "--host-id", &longest, "-o", "json"],
        &aksk_env(),
    )
    .await;
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let json: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("-o json");
    assert_eq!(json["summary"]["notFound"], 1);
    assert_eq!(
        sim.counters().hss_requests,
        1,
        "the refused ids sent nothing"
    );
}

#[tokio::test]
async fn fail_on_exits_6_after_printing_the_result() {
    let sim = simulator(Faults::none()).await;
    let endpoint = sim.base_url().to_string();
    let args = [
        "--endpoint",
        endpoint.as_str(),
        "--host-id",
        "demo-web-01",
        "--host-id",
        "missing-01",
        "-o",
        "json",
    ];
    let gate = |conditions: &'static str| {
        let mut argv = args.to_vec();
        argv.extend(["--fail-on", conditions]);
        argv
    };
    let plain = run(&args, &aksk_env()).await;
    assert_eq!(plain.status.code(), Some(0), "no --fail-on, no gate");
    let flagged = run(&gate("offline,not-found"), &aksk_env()).await;
    assert_eq!(flagged.status.code(), Some(6), "{}", text(&flagged.stderr));
    let json: serde_json::Value = serde_json::from_slice(&flagged.stdout).expect("result printed");
    assert_eq!(json["hosts"].as_array().map(Vec::len), Some(2));
    assert!(
        text(&flagged.stderr).contains("--fail-on: 1 host not found: missing-01"),
        "{}",
        text(&flagged.stderr)
    );
    // demo-web-01 is online and protected: nothing to fail on.
    let passed = run(
        &[
            "--endpoint",
            endpoint.as_str(),
            "--host-id",
            "demo-web-01",
            "--fail-on",
            "offline",
            "--fail-on",
            "unprotected,not-found",
        ],
        &aksk_env(),
    )
    .await;
    assert_eq!(passed.status.code(), Some(0), "{}", text(&passed.stderr));
    let unknown = run(&gate("sometimes"), &aksk_env()).await;
    assert_eq!(unknown.status.code(), Some(2));
}

/// 650 ids are 7 calls; with 5 calls per (shortened) window the sixth waits for the quota, and
/// the progress line says so before the wait. The window is 4 s so that the first five calls,
/// a few milliseconds each on loopback, leave a wait well over the line's 1 s threshold.
#[tokio::test]
async fn waiting_for_the_quota_is_announced() {
    use hostrisk_operator::cli::query::query_report;
    use hostrisk_operator::hss::{ClientConfig, Credentials, Scope};
    let sim = simulator(Faults::none()).await;
    let scope =
        Scope::for_endpoint(sim.base_url(), DEMO_PROJECT_ID.to_string(), None).expect("scope");
    let credentials = Credentials::ak_sk(DEMO_ACCESS_KEY, DEMO_SECRET_KEY);
    let ids: Vec<String> = (0..650).map(|i| format!("host-{i:03}")).collect();
    let config = ClientConfig {
        calls_per_minute: 5,
        rate_window: std::time::Duration::from_secs(4),
        ..ClientConfig::default()
    };
    let mut lines = Vec::new();
    let report = query_report(config, &scope, &credentials, &ids, &mut |line| {
        lines.push(line)
    })
    .await
    .expect("query");
    assert_eq!(report.hosts.len(), 650);
    assert_eq!(sim.counters().hss_requests, 7);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("query: 500 of 650 hosts asked; waiting ")
            && lines[0].contains(
                "for the HSS quota (5 calls per minute per credential, --hss-calls-per-minute"
            ),
        "{lines:?}"
    );
}
