//! The rules against what a running operator really exports: the stand-in world polls watches in
//! every state the alerts cover ([`every_state`]), `/metrics` is scraped, and every metric, label and
//! label value the rules select (and every `$labels.x` their annotations print) must be in that
//! scrape; `promtool check metrics` finds nothing wrong with it.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Stdio;

use super::every_state::every_state;
use super::promql::{parse, read_exposition, Exposition};
use super::promtool::promtool;
use super::rules::{prometheus_rule, rules};

/// Series Prometheus makes itself for every target, and the labels a ServiceMonitor's target gets
/// (prometheus-operator's relabelling): the rules are checked as rendered with the ServiceMonitor.
const SYNTHESIZED: [&str; 1] = ["up"];
const TARGET_LABELS: [&str; 7] = [
    "job",
    "instance",
    "namespace",
    "service",
    "pod",
    "container",
    "endpoint",
];

/// `(metric, label, value)` a rule selects whose series is exported (at 0) but whose state the
/// world cannot hold still: Ready=Unknown lasts from a watch's creation to its first answer.
const TRANSIENT: [(&str, &str, &str); 1] = [("hostrisk_watch_condition", "status", "Unknown")];

fn labels_of(exposition: &Exposition, metric: &str) -> BTreeSet<String> {
    let mut labels: BTreeSet<String> = TARGET_LABELS.iter().map(|l| l.to_string()).collect();
    labels.extend(
        exposition
            .labels
            .get(metric)
            .into_iter()
            .flat_map(|l| l.keys().cloned()),
    );
    labels
}

/// Problems of one alert rule against the exposition.
fn check_rule(rule: &serde_json::Value, exposition: &Exposition) -> Vec<String> {
    let name = rule["alert"].as_str().expect("alert");
    let expr = parse(rule["expr"].as_str().expect("expr"));
    let mut problems = vec![];
    let mut available: BTreeSet<String> = TARGET_LABELS.iter().map(|l| l.to_string()).collect();
    for selector in &expr.selectors {
        let metric = selector.metric.as_str();
        if !SYNTHESIZED.contains(&metric) && !exposition.labels.contains_key(metric) {
            problems.push(format!("{name}: no series {metric} on /metrics"));
            continue;
        }
        let labels = labels_of(exposition, metric);
        available.extend(labels.iter().cloned());
        for (label, op, value) in &selector.matchers {
            if !labels.contains(label) {
                problems.push(format!("{name}: {metric} has no label {label}"));
            } else if op == "="
                && !TARGET_LABELS.contains(&label.as_str())
                && !TRANSIENT.contains(&(metric, label.as_str(), value.as_str()))
            {
                // Not only exported (every known category is, at 0): some watch was in that state.
                let seen = (metric.to_owned(), label.clone(), value.clone());
                if !exposition.nonzero.contains(&seen) {
                    let values = &exposition.labels[metric][label];
                    problems.push(format!(
                        "{name}: no non-zero {metric}{{{label}=\"{value}\"}} (values: {values:?})"
                    ));
                }
            }
        }
    }
    for label in &expr.grouping {
        if !available.contains(label) {
            problems.push(format!(
                "{name}: grouping by {label}, which no selected series has"
            ));
        }
    }
    for text in rule["annotations"]
        .as_object()
        .into_iter()
        .flat_map(|a| a.values())
    {
        for part in text.as_str().unwrap_or_default().split("$labels.").skip(1) {
            let label: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !available.contains(&label) {
                problems.push(format!(
                    "{name}: annotation prints $labels.{label}, which its series lack"
                ));
            }
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_series_label_and_value_the_rules_use_is_exported() {
    let world = every_state().await;
    let text = world.scrape().await;
    world.stop().await;
    let exposition = read_exposition(&text);
    let all_rules = prometheus_rule("promtool");
    let mut problems = vec![];
    for rule in rules(&all_rules) {
        problems.extend(check_rule(&rule, &exposition));
    }
    assert!(problems.is_empty(), "{problems:#?}\n/metrics:\n{text}");

    // promtool's own linter finds nothing wrong with the exposition.
    let mut child = promtool()
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool check metrics");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write exposition");
    let output = child.wait_with_output().expect("promtool");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );
}

/// The check itself catches a misspelt metric, a label the series lack, a state never seen and an
/// annotation printing a label that is not there.
#[test]
fn the_check_flags_what_does_not_exist() {
    let exposition = read_exposition(
        "hostrisk_watch_risks{namespace=\"a\",name=\"w\",kind=\"vulnerability\"} 3\n\
         hostrisk_watch_risks{namespace=\"a\",name=\"w\",kind=\"intrusion\"} 0\n",
    );
    let rule = |expr: &str, description: &str| serde_json::json!({"alert": "X", "expr": expr, "annotations": {"description": description}});
    let problems =
        |expr: &str, description: &str| check_rule(&rule(expr, description), &exposition).len();
    assert_eq!(
        problems(
            "hostrisk_watch_risks{kind=\"vulnerability\"} > 0",
            "{{ $labels.name }}"
        ),
        0
    );
    assert_eq!(
        problems("hostrisk_watch_risk{kind=\"vulnerability\"} > 0", ""),
        1
    );
    assert_eq!(problems("hostrisk_watch_risks{sort=\"asset\"} > 0", ""), 1);
    assert_eq!(
        problems("hostrisk_watch_risks{kind=\"intrusion\"} > 0", ""),
        1
    );
    assert_eq!(
        problems("hostrisk_watch_risks > 0", "{{ $labels.host }}"),
        1
    );
    assert_eq!(problems("sum by (host) (hostrisk_watch_risks) > 0", ""), 1);
    assert_eq!(
        problems("max without (pod) (hostrisk_watch_risks) > 0", ""),
        0,
        "aggregating away a label the series lack is harmless"
    );
}
