//! The chart's Grafana dashboard (charts/hostrisk-operator/files/dashboards/hostrisk-operator.json, made
//! by scripts/grafana-dashboard.py): well-formed for Grafana, rendered into a ConfigMap only when asked
//! for, and proven against a real Prometheus scraping a running operator: every panel query and
//! every variable returns data, and every alert expression of the chart evaluates, returning exactly
//! the watches in the state it is about.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

use super::every_state::every_state;
use super::prometheus::{until, Prometheus, JOB};
use super::promtool::promtool;
use super::rules::{expr, of_kind, prometheus_rule, python, render, repo, rules};

const CHART: &str = "charts/hostrisk-operator";
const DATASOURCE: &str = r#"{"type":"prometheus","uid":"${datasource}"}"#;

/// Panels whose queries return nothing unless the operator is started with an option, and why.
pub const OPT_IN: [(&str, &str); 1] = [(
    "Hosts",
    "per-host series (hostrisk_host_*) exist only with --metrics-per-host \
     (controller.metricsPerHost): one series per watched host",
)];

fn dashboard() -> Value {
    let path = repo()
        .join(CHART)
        .join("files/dashboards/hostrisk-operator.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard")).expect("JSON")
}

/// Every panel that queries, with its targets' expressions.
fn queries(dashboard: &Value) -> Vec<(String, Vec<String>)> {
    let panels = dashboard["panels"].as_array().expect("panels");
    panels
        .iter()
        .filter(|p| p["type"] != "row")
        .map(|p| {
            let targets = p["targets"].as_array().expect("targets");
            let exprs = targets
                .iter()
                .map(|t| t["expr"].as_str().expect("expr").to_owned())
                .collect();
            (p["title"].as_str().expect("title").to_owned(), exprs)
        })
        .collect()
}

/// A query as Grafana sends it with the job picked and every namespace and watch selected.
fn resolved(expr: &str, job: &str) -> String {
    expr.replace("$job", job)
        .replace("$namespace", ".*")
        .replace("$watch", ".*")
        .replace("$__rate_interval", "1m")
}

/// A query variable's `label_values(selector, label)` as the PromQL Grafana asks Prometheus.
fn variable_query(query: &str) -> String {
    let inner = query
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .expect("label_values(...)");
    let (selector, label) = inner.rsplit_once(',').expect("selector, label");
    format!("group by ({}) ({})", label.trim(), selector.trim())
}

/// Fails with the command's output unless it succeeded.
fn succeeded(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_chart_file_is_what_the_generator_makes() {
    let output = Command::new(python())
        .arg(repo().join("scripts/grafana-dashboard.py"))
        .arg("--check")
        .output()
        .expect("run grafana-dashboard.py");
    succeeded(&output);
}

/// Grafana's basics: unique panel ids, a grid position inside the 24 columns for every panel and no
/// two panels on the same cell, the datasource variable on every panel and target, the job,
/// namespace and watch variables, and every per-watch query filtered by them.
#[test]
fn the_dashboard_is_well_formed_and_queries_only_through_its_variables() {
    let board = dashboard();
    let datasource: Value = serde_json::from_str(DATASOURCE).expect("json");
    assert_eq!(board["uid"], "hostrisk-operator");
    let variables: BTreeMap<&str, &Value> = board["templating"]["list"]
        .as_array()
        .expect("variables")
        .iter()
        .map(|v| (v["name"].as_str().expect("name"), v))
        .collect();
    assert_eq!(
        variables.keys().copied().collect::<Vec<_>>(),
        ["datasource", "job", "namespace", "watch"]
    );
    assert_eq!(variables["datasource"]["type"], "datasource");
    assert_eq!(variables["datasource"]["query"], "prometheus");
    for name in ["job", "namespace", "watch"] {
        assert_eq!(variables[name]["datasource"], datasource, "{name}");
    }
    let mut ids = BTreeSet::new();
    let mut cells = BTreeSet::new();
    for panel in board["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("title");
        assert!(ids.insert(panel["id"].as_u64().expect("id")), "{title}: id");
        assert_eq!(panel["datasource"], datasource, "{title}");
        let grid = &panel["gridPos"];
        let [h, w, x, y] = ["h", "w", "x", "y"].map(|k| grid[k].as_u64().expect("gridPos"));
        assert!(h > 0 && w > 0 && x + w <= 24, "{title}: {grid}");
        for cx in x..x + w {
            for cy in y..y + h {
                assert!(cells.insert((cx, cy)), "{title} overlaps at {cx},{cy}");
            }
        }
        for target in panel["targets"].as_array().into_iter().flatten() {
            assert_eq!(target["datasource"], datasource, "{title}");
            let expr = target["expr"].as_str().expect("expr");
            assert!(expr.contains("job=~\"$job\""), "{title}: {expr}");
            if expr.contains("hostrisk_watch_") || expr.contains("hostrisk_host_") {
                for filter in ["namespace=~\"$namespace\"", "name=~\"$watch\""] {
                    assert!(expr.contains(filter), "{title}: {expr}");
                }
            }
        }
    }
    for (title, _) in OPT_IN {
        assert!(queries(&board).iter().any(|(t, _)| t == title), "{title}");
    }
}

/// Every query (variables resolved) is PromQL that Prometheus' own parser accepts: `promtool check
/// rules` on a rules file with one recording rule per query.
#[test]
fn promtool_parses_every_query() {
    let board = dashboard();
    let mut recorded = vec![];
    for (i, (_, exprs)) in queries(&board).iter().enumerate() {
        for (j, expr) in exprs.iter().enumerate() {
            recorded.push(serde_json::json!({
                "record": format!("dashboard:panel_{i}_{j}"),
                "expr": resolved(expr, "hostrisk-operator-metrics"),
            }));
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("dashboard.yaml");
    let rules = serde_json::json!({"groups": [{"name": "dashboard", "rules": recorded}]});
    std::fs::write(&file, serde_yaml::to_string(&rules).expect("yaml")).expect("write");
    let output = promtool()
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool");
    succeeded(&output);
}

/// `grafanaDashboard.enabled` renders one ConfigMap holding the file, labelled for the sidecar with
/// the configured key and value, in the folder the configured annotation names; off, none.
#[test]
fn the_chart_renders_the_dashboard_config_map_only_when_enabled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("values");
        path
    };
    let off = render(&write("off.yaml", "{}\n"));
    assert!(of_kind(&off, "ConfigMap").is_empty());

    let defaults = render(&write("on.yaml", "grafanaDashboard:\n  enabled: true\n"));
    let maps = of_kind(&defaults, "ConfigMap");
    assert_eq!(maps.len(), 1);
    let map = &maps[0];
    assert_eq!(map["metadata"]["labels"]["grafana_dashboard"], "1");
    assert!(
        map["metadata"]["annotations"].is_null(),
        "no folder by default"
    );
    let file = std::fs::read_to_string(
        repo()
            .join(CHART)
            .join("files/dashboards/hostrisk-operator.json"),
    )
    .expect("file");
    assert_eq!(
        map["data"]["hostrisk-operator.json"]
            .as_str()
            .map(str::trim_end),
        Some(file.trim_end())
    );

    let custom = render(&write(
        "custom.yaml",
        "grafanaDashboard:\n  enabled: true\n  namespace: monitoring\n  labelKey: example.com/dashboard\n  \
         labelValue: hostrisk\n  folderAnnotationKey: grafana_folder\n  folder: Security\n",
    ));
    let map = &of_kind(&custom, "ConfigMap")[0];
    assert_eq!(map["metadata"]["namespace"], "monitoring");
    assert_eq!(
        map["metadata"]["labels"]["example.com/dashboard"],
        "hostrisk"
    );
    assert!(map["metadata"]["labels"]["grafana_dashboard"].is_null());
    assert_eq!(map["metadata"]["annotations"]["grafana_folder"], "Security");
}

/// The names of the watches an instant vector is about.
fn watches(result: &[Value]) -> BTreeSet<String> {
    result
        .iter()
        .filter_map(|s| s["metric"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// The watches of the every-state world each per-watch alert expression returns (`for` aside).
fn expected_watches() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        ("HostRiskIntrusionDetected", vec!["at-risk", "gone"]),
        ("HostRiskHostAtRisk", vec!["at-risk", "gone"]),
        ("HostRiskAgentOffline", vec!["offline"]),
        ("HostRiskAgentNotInstalled", vec!["not-installed"]),
        // Not "not-installed", whose closed protection is its missing agent's.
        ("HostRiskProtectionClosed", vec!["unprotected"]),
        ("HostRiskHostsNotFound", vec!["gone"]),
        // Not "suspended", Ready=False on purpose.
        ("HostRiskWatchNotReady", vec!["failing", "refused"]),
        ("HostRiskWatchReadyUnknown", vec![]),
        ("HostRiskWatchQuotaLimited", vec![]),
        ("HostRiskOperatorDown", vec![]),
        ("HostRiskNoLeader", vec![]),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_and_alert_query_works_against_a_real_prometheus() {
    let world = every_state().await;
    let target = world.operator_url.trim_start_matches("http://").to_owned();
    let prometheus = Prometheus::start(&target);
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    // Enough scrapes for every rate() over the dashboard's window.
    let scrapes = format!("count_over_time(up{{job=\"{JOB}\"}}[1m]) >= 5");
    until("five scrapes of the operator", || async {
        !prometheus.query(&http, &scrapes).await.is_empty()
    })
    .await;

    let board = dashboard();
    let mut problems = vec![];
    for variable in board["templating"]["list"].as_array().expect("variables") {
        let Some(query) = variable["query"]["query"].as_str() else {
            continue;
        };
        let promql = resolved(&variable_query(query), JOB);
        match prometheus.evaluate(&http, &promql).await {
            Ok(values) if !values.is_empty() => {}
            other => problems.push(format!(
                "variable {}: {promql}: {other:?}",
                variable["name"]
            )),
        }
    }
    let opt_in: BTreeSet<&str> = OPT_IN.iter().map(|(title, _)| *title).collect();
    for (title, exprs) in queries(&board) {
        for expr in exprs {
            let promql = resolved(&expr, JOB);
            match prometheus.evaluate(&http, &promql).await {
                Err(error) => problems.push(format!("{title}: {promql}: {error}")),
                Ok(values) if values.is_empty() && !opt_in.contains(title.as_str()) => {
                    problems.push(format!("{title}: no series for {promql}"))
                }
                Ok(_) => {}
            }
        }
    }

    let alerts = prometheus_rule("e2e");
    let expected = expected_watches();
    for rule in rules(&alerts) {
        let name = rule["alert"].as_str().expect("alert");
        match prometheus.evaluate(&http, &expr(&alerts, name)).await {
            Err(error) => problems.push(format!("{name}: {error}")),
            Ok(values) => {
                if let Some(wanted) = expected.get(name) {
                    let wanted: BTreeSet<String> = wanted.iter().map(|w| w.to_string()).collect();
                    if watches(&values) != wanted || (wanted.is_empty() && !values.is_empty()) {
                        problems.push(format!("{name}: returns {values:?}, expected {wanted:?}"));
                    }
                }
            }
        }
    }
    drop(prometheus);
    world.stop().await;
    assert!(problems.is_empty(), "{problems:#?}");
}
