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
fn python() -> PathBuf {
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

/// The PrometheusRule rendered with `tests/alerts/values/<set>.yaml`.
pub fn prometheus_rule(set: &str) -> Value {
    let values = repo().join(format!("tests/alerts/values/{set}.yaml"));
    let output = Command::new(python())
        .arg(repo().join("scripts/render-chart.py"))
        .args(["render", "-f"])
        .arg(&values)
        .output()
        .expect("run render-chart.py");
    let stream = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{set}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rules: Vec<Value> = stream
        .split("\n---\n")
        .filter_map(|doc| serde_yaml::from_str::<Value>(doc).ok())
        .filter(|doc| doc["kind"] == "PrometheusRule")
        .collect();
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

pub const ALL_ALERTS: [&str; 8] = [
    "HostRiskAgentNotInstalled",
    "HostRiskAgentOffline",
    "HostRiskHostAtRisk",
    "HostRiskOperatorDown",
    "HostRiskProtectionClosed",
    "HostRiskWatchDataStale",
    "HostRiskWatchNotReady",
    "HostRiskWatchQuotaLimited",
];

#[test]
fn turning_rules_on_gives_every_alert() {
    let all: BTreeSet<String> = ALL_ALERTS.iter().map(|a| a.to_string()).collect();
    assert_eq!(alert_names(&prometheus_rule("defaults")), all);
    assert_eq!(alert_names(&prometheus_rule("promtool")), all);
}

/// Prometheus' template variables reach Prometheus untouched (Helm must not eat `{{ $labels... }}`),
/// every alert has a severity and names what it is about: the watch (namespace/name, plus the node
/// when a series has one) or, for the operator itself, its job.
#[test]
fn every_alert_has_severity_summary_and_description_naming_the_watch() {
    let rule = prometheus_rule("promtool");
    assert_eq!(rule["metadata"]["namespace"], "hostrisk-system");
    for alert in rules(&rule) {
        let name = alert["alert"].as_str().expect("alert");
        assert!(alert["labels"]["severity"].is_string(), "{name}: severity");
        assert!(alert["for"].is_string(), "{name}: for");
        for key in ["summary", "description"] {
            let text = alert["annotations"][key].as_str().expect(key);
            assert!(
                !text.contains("{{ \"{{\" }}"),
                "{name}.{key}: Helm escape left in: {text}"
            );
            if name == "HostRiskOperatorDown" {
                assert!(text.contains("{{ $labels.job }}"), "{name}.{key}: {text}");
                continue;
            }
            for needle in [
                "{{ $labels.namespace }}/{{ $labels.name }}",
                "{{ with $labels.node }} (node {{ . }}){{ end }}",
            ] {
                assert!(text.contains(needle), "{name}.{key} lacks {needle}: {text}");
            }
        }
    }
}

/// Thresholds, `for`, severity, on/off, the alerts' extra labels and the object's metadata follow the
/// values; the default job is the one a ServiceMonitor of this chart gives the operator's series.
#[test]
fn values_set_thresholds_for_severity_and_labels() {
    let find = |rule: &Value, name: &str| {
        rules(rule)
            .into_iter()
            .find(|r| r["alert"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let defaults = prometheus_rule("defaults");
    let at_risk = find(&defaults, "HostRiskHostAtRisk");
    assert_eq!(
        (
            at_risk["for"].as_str(),
            at_risk["labels"]["severity"].as_str()
        ),
        (Some("15m"), Some("warning"))
    );
    assert!(at_risk["expr"].as_str().expect("expr").ends_with("> 0"));
    let down = find(&defaults, "HostRiskOperatorDown");
    assert_eq!(
        down["expr"],
        "max by (job) (up{job=\"hostrisk-operator-metrics\"}) == 0 or absent(up{job=\"hostrisk-operator-metrics\"})"
    );

    let changed = prometheus_rule("overrides");
    assert_eq!(changed["metadata"]["namespace"], "monitoring");
    assert_eq!(changed["metadata"]["labels"]["release"], "prometheus");
    let at_risk = find(&changed, "HostRiskHostAtRisk");
    assert_eq!(
        (
            at_risk["for"].as_str(),
            at_risk["labels"]["severity"].as_str()
        ),
        (Some("5m"), Some("critical"))
    );
    assert!(at_risk["expr"].as_str().expect("expr").ends_with("> 2"));
    assert!(find(&changed, "HostRiskWatchQuotaLimited")["expr"]
        .as_str()
        .expect("expr")
        .ends_with("> 120"));
    assert!(find(&changed, "HostRiskWatchDataStale")["expr"]
        .as_str()
        .expect("expr")
        .contains("> 3 * hostrisk_watch_effective_interval_seconds"));
    for alert in rules(&changed) {
        assert_eq!(alert["labels"]["team"], "platform", "{}", alert["alert"]);
    }
    assert!(!alert_names(&changed).contains("HostRiskOperatorDown"));
    let job = prometheus_rule("e2e");
    assert!(find(&job, "HostRiskOperatorDown")["expr"]
        .as_str()
        .expect("expr")
        .contains("up{job=\"hostrisk-e2e\"}"));
}
