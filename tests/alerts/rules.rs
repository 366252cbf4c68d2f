//! The PrometheusRule the chart renders (Helm's engine through scripts/render-chart.py), as a plain
//! Prometheus rules file, and what its rendered text must say.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with helm-python-sdk: `HOSTRISK_PYTHON`, else the checkout's `.venv` (.ci/setup-tools.sh).
pub fn python() -> PathBuf {
    let python = std::env::var_os("HOSTRISK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "{} not found: run `bash .ci/setup-tools.sh`",
        python.display()
    );
    python
}

/// Every document the chart renders with the values file `values`.
pub fn render(values: &Path) -> Vec<Value> {
    let output = Command::new(python())
        .arg(repo().join("scripts/render-chart.py"))
        .args(["render", "-f"])
        .arg(values)
        .output()
        .expect("run render-chart.py");
    let stream = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}: {}",
        values.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stream
        .split("\n---\n")
        .filter_map(|doc| serde_yaml::from_str::<Value>(doc).ok())
        .filter(|doc| doc.is_object())
        .collect()
}

/// The documents of one kind.
pub fn of_kind(docs: &[Value], kind: &str) -> Vec<Value> {
    docs.iter().filter(|d| d["kind"] == kind).cloned().collect()
}

/// The PrometheusRule rendered with `tests/alerts/values/<set>.yaml`.
pub fn prometheus_rule(set: &str) -> Value {
    let docs = render(&repo().join(format!("tests/alerts/values/{set}.yaml")));
    let rules = of_kind(&docs, "PrometheusRule");
    assert_eq!(rules.len(), 1, "{set}: one PrometheusRule");
    rules.into_iter().next().expect("rule")
}

/// Every rule of every group.
pub fn rules(rule: &Value) -> Vec<Value> {
    let groups = rule["spec"]["groups"].as_array().expect("groups");
    groups
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules").clone())
        .collect()
}

pub fn alert_names(rule: &Value) -> BTreeSet<String> {
    rules(rule)
        .iter()
        .map(|r| r["alert"].as_str().expect("alert").to_owned())
        .collect()
}

/// Writes `spec` of the PrometheusRule as a Prometheus rules file `<dir>/rules.yaml`.
pub fn write_rules_file(rule: &Value, dir: &Path) -> PathBuf {
    let path = dir.join("rules.yaml");
    let file = serde_json::json!({ "groups": rule["spec"]["groups"] });
    std::fs::write(&path, serde_yaml::to_string(&file).expect("yaml")).expect("write rules");
    path
}

pub const ALL_ALERTS: [&str; 15] = [
    "HostRiskAgentNotInstalled",
    "HostRiskAgentOffline",
    "HostRiskHostAtRisk",
    "HostRiskHostsNotFound",
    "HostRiskHssAuthFailures",
    "HostRiskHssServerErrors",
    "HostRiskIntrusionDetected",
    "HostRiskNoLeader",
    "HostRiskOperatorDown",
    "HostRiskProtectionClosed",
    "HostRiskReconcileErrors",
    "HostRiskWatchDataStale",
    "HostRiskWatchNotReady",
    "HostRiskWatchQuotaLimited",
    "HostRiskWatchReadyUnknown",
];

/// The alerts about the operator itself (the others are about one watch).
pub const OPERATOR_ALERTS: [&str; 5] = [
    "HostRiskHssAuthFailures",
    "HostRiskHssServerErrors",
    "HostRiskNoLeader",
    "HostRiskOperatorDown",
    "HostRiskReconcileErrors",
];

pub fn find(rule: &Value, name: &str) -> Value {
    rules(rule)
        .into_iter()
        .find(|r| r["alert"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

pub fn expr(rule: &Value, name: &str) -> String {
    find(rule, name)["expr"].as_str().expect("expr").to_owned()
}

#[test]
fn turning_rules_on_gives_every_alert_that_can_know_its_job() {
    let all: BTreeSet<String> = ALL_ALERTS.iter().map(|a| a.to_string()).collect();
    assert_eq!(alert_names(&prometheus_rule("promtool")), all);
    assert_eq!(alert_names(&prometheus_rule("e2e")), all);
    // No ServiceMonitor and no prometheusRule.job: the job is unknown, so HostRiskOperatorDown (whose
    // absent() would fire forever on a job nobody scrapes) is left out, and nothing selects a job.
    let defaults = prometheus_rule("defaults");
    let mut without_down = all.clone();
    without_down.remove("HostRiskOperatorDown");
    assert_eq!(alert_names(&defaults), without_down);
    for alert in rules(&defaults) {
        let text = alert["expr"].as_str().expect("expr");
        assert!(!text.contains("job="), "{}: {text}", alert["alert"]);
    }
}

/// Prometheus' template variables reach Prometheus untouched (Helm must not eat `{{ $labels... }}`);
/// every alert has a severity of the closed set, a `for`, a summary and a description naming what it
/// is about (the watch's namespace/name, or the operator's namespace/job; never a `node` label the
/// series lack), and a runbook_url to its section of docs/runbooks.md.
#[test]
fn every_alert_has_severity_summary_description_and_runbook() {
    let rule = prometheus_rule("promtool");
    assert_eq!(rule["metadata"]["namespace"], "hostrisk-system");
    for alert in rules(&rule) {
        let name = alert["alert"].as_str().expect("alert");
        let severity = alert["labels"]["severity"].as_str().expect("severity");
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{name}: {severity}"
        );
        assert!(alert["for"].is_string(), "{name}: for");
        // Alerts about a watch outlive the seconds without per-watch series at a leader
        // change; the operator's own (its target, its leader) must resolve as soon as it is back.
        let keep = if OPERATOR_ALERTS.contains(&name) {
            serde_json::Value::Null
        } else {
            "5m".into()
        };
        assert_eq!(alert["keep_firing_for"], keep, "{name}: keep_firing_for");
        assert_eq!(
            alert["annotations"]["runbook_url"],
            format!(
                "https://github.com/hostrisk-io/hostrisk-operator/blob/main/docs/runbooks.md#{}",
                name.to_lowercase()
            )
        );
        let needle = if OPERATOR_ALERTS.contains(&name) {
            "{{ $labels.namespace }}/{{ $labels.job }}"
        } else {
            "{{ $labels.namespace }}/{{ $labels.name }}"
        };
        for key in ["summary", "description"] {
            let text = alert["annotations"][key].as_str().expect(key);
            assert!(
                !text.contains("{{ \"{{\" }}"),
                "{name}.{key}: Helm escape left in: {text}"
            );
            assert!(!text.contains("$labels.node"), "{name}.{key}: {text}");
            if name != "HostRiskOperatorDown" || key == "summary" {
                assert!(text.contains(needle), "{name}.{key} lacks {needle}: {text}");
            }
        }
    }
}

/// Intrusions page; posture findings and the operator's own troubles that do not stop it warn.
#[test]
fn only_intrusions_and_a_stopped_operator_page_by_default() {
    let rule = prometheus_rule("promtool");
    let critical: BTreeSet<String> = rules(&rule)
        .into_iter()
        .filter(|a| a["labels"]["severity"] == "critical")
        .map(|a| a["alert"].as_str().expect("alert").to_owned())
        .collect();
    let expected = [
        "HostRiskIntrusionDetected",
        "HostRiskNoLeader",
        "HostRiskOperatorDown",
    ];
    assert_eq!(critical, expected.iter().map(|a| a.to_string()).collect());
}

/// Thresholds, `for`, severity, on/off, the alerts' extra labels, the runbook base and the object's
/// metadata follow the values.
#[test]
fn values_set_thresholds_for_severity_labels_and_runbooks() {
    let changed = prometheus_rule("overrides");
    assert_eq!(changed["metadata"]["namespace"], "monitoring");
    assert_eq!(
        changed["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    assert_eq!(changed["metadata"]["labels"]["prometheus"], "main");
    let at_risk = find(&changed, "HostRiskHostAtRisk");
    assert_eq!(
        (
            at_risk["for"].as_str(),
            at_risk["labels"]["severity"].as_str()
        ),
        (Some("5m"), Some("critical"))
    );
    let text = expr(&changed, "HostRiskHostAtRisk");
    assert!(
        text.contains(" > 0.5\nand\n") && text.ends_with("> 2"),
        "{text}"
    );
    assert!(text.contains("job=\"hrw-metrics\""), "{text}");
    let quota = expr(&changed, "HostRiskWatchQuotaLimited");
    assert!(
        quota.contains("> 120\nand\n") && quota.contains("> 0.2 * "),
        "{quota}"
    );
    assert!(expr(&changed, "HostRiskWatchDataStale").contains("> 3 * max without"));
    for alert in rules(&changed) {
        assert_eq!(alert["labels"]["team"], "platform", "{}", alert["alert"]);
        let url = alert["annotations"]["runbook_url"].as_str().expect("url");
        assert!(
            url.starts_with("https://wiki.example.com/hostrisk/runbooks#hostrisk"),
            "{url}"
        );
    }
    assert!(!alert_names(&changed).contains("HostRiskOperatorDown"));
}

/// HostRiskOperatorDown selects the job of the chart's ServiceMonitor (the metrics Service's name) in
/// the release namespace, carries that namespace, and with another scrape job (prometheusRule.job,
/// no ServiceMonitor) selects that job alone.
#[test]
fn operator_down_watches_the_job_that_scrapes_the_operator() {
    let with_monitor = prometheus_rule("promtool");
    let down = find(&with_monitor, "HostRiskOperatorDown");
    assert_eq!(down["labels"]["namespace"], "hostrisk-system");
    let text = down["expr"].as_str().expect("expr");
    let up = "up{job=\"hostrisk-operator-metrics\",namespace=\"hostrisk-system\"}";
    assert_eq!(
        text,
        format!(
            "max without (instance, pod, container, endpoint, service) ({up}) == 0\nor\nabsent({up})"
        )
    );
    let own_job = expr(&prometheus_rule("e2e"), "HostRiskOperatorDown");
    assert!(
        own_job.contains("absent(up{job=\"hostrisk-e2e\"})"),
        "{own_job}"
    );
}
