//! The rules against what a running operator really exports: the stand-in world polls watches in
//! every state the alerts cover, `/metrics` is scraped, and every metric, label and label value the
//! rules select (and every `$labels.x` their annotations print) must be in that scrape.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Stdio;

use super::harness::{condition_is, is_synced, NS};
use super::promql::{parse, read_exposition, Exposition};
use super::promtool::promtool;
use super::rules::{prometheus_rule, rules};
use super::world::World;

/// Series Prometheus makes itself for every target, and the labels it adds to every scraped series.
const SYNTHESIZED: [&str; 1] = ["up"];
const TARGET_LABELS: [&str; 2] = ["job", "instance"];

/// A scrape taken after the operator polled watches in each state the alerts are about.
async fn scrape_every_state() -> String {
    let world = World::start().await;
    let h = &world.harness;
    h.create_demo_secret(NS, "hss").await;
    let states = [
        ("at-risk", "online", "opened", "risk"),
        ("offline", "offline", "opened", "clean"),
        ("not-installed", "not_installed", "closed", "undetected"),
        ("unprotected", "online", "closed", "clean"),
    ];
    for (name, agent, protect, detect) in states {
        let host = format!("alerts-{name}");
        world.put_host(&host, agent, protect, detect).await;
        // 1s: the schedule series appear with a watch's second poll (the first measured interval).
        h.create_watch(NS, name, &[host.as_str()], "hss", "1s")
            .await;
    }
    h.create_watch(NS, "failing", &["alerts-at-risk"], "no-such-secret", "10m")
        .await;
    for (name, ..) in states {
        h.wait_for(NS, name, "synced", is_synced).await;
    }
    h.wait_for(NS, "failing", "Ready=False", |_, s| {
        condition_is(s, "Ready", "False", "SecretNotFound")
    })
    .await;
    let scheduled = |text: &str| {
        states.iter().all(|(name, ..)| {
            text.contains(&format!(
                "hostrisk_watch_interval_lag_seconds{{namespace=\"{NS}\",name=\"{name}\"}}"
            ))
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut text = world.scrape().await;
    while !scheduled(&text) {
        assert!(
            std::time::Instant::now() < deadline,
            "no schedule series after 60 s:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        text = world.scrape().await;
    }
    world.stop().await;
    text
}

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
            } else if op == "=" && !TARGET_LABELS.contains(&label.as_str()) {
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
            // `node` comes with node-backed watches, printed only when present ({{ with $labels.node }}).
            if label != "node" && !available.contains(&label) {
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
    let text = scrape_every_state().await;
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
        "hostrisk_watch_risks{namespace=\"a\",name=\"w\",kind=\"asset\"} 3\n\
         hostrisk_watch_risks{namespace=\"a\",name=\"w\",kind=\"intrusion\"} 0\n",
    );
    let rule = |expr: &str, description: &str| serde_json::json!({"alert": "X", "expr": expr, "annotations": {"description": description}});
    let problems =
        |expr: &str, description: &str| check_rule(&rule(expr, description), &exposition).len();
    assert_eq!(
        problems(
            "hostrisk_watch_risks{kind=\"asset\"} > 0",
            "{{ $labels.name }}"
        ),
        0
    );
    assert_eq!(problems("hostrisk_watch_risk{kind=\"asset\"} > 0", ""), 1);
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
}
