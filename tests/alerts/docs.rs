//! The docs say what the chart renders: the README's install command gives a ServiceMonitor and a
//! PrometheusRule that one Prometheus selects and an HostRiskOperatorDown that watches the job the
//! ServiceMonitor creates; every alert's runbook_url lands on a section of docs/runbooks.md; the
//! README's and the chart README's alert tables show the rendered defaults.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::rules::{expr, of_kind, prometheus_rule, render, repo, rules, ALL_ALERTS};

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text of the Markdown section under `heading` (up to the next heading of the same level).
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let level = heading.split(' ').next().expect("#s");
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no {heading}"));
    let body = &text[start + heading.len() + 2..];
    let end = body
        .find(&format!("\n{level} "))
        .map_or(body.len(), |i| i + 1);
    &body[..end]
}

/// `--set a.b=c` of the README's `helm upgrade --install` command in `text`, as a values tree.
fn set_values(text: &str) -> Value {
    let command: String = text
        .lines()
        .skip_while(|l| !l.starts_with("helm upgrade --install"))
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("kubectl"))
        .map(|l| l.trim_end_matches('\\').to_owned() + " ")
        .collect();
    assert!(!command.is_empty(), "no helm command in:\n{text}");
    let mut values = Map::new();
    let mut words = command.split_whitespace();
    while let Some(word) = words.next() {
        if word != "--set" {
            continue;
        }
        let (key, value) = words
            .next()
            .expect("--set value")
            .split_once('=')
            .expect("k=v");
        let value = match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => Value::String(other.to_owned()),
        };
        let mut node = &mut values;
        let parts: Vec<&str> = key.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            node = node
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("map");
        }
        node.insert(parts[parts.len() - 1].to_owned(), value);
    }
    Value::Object(values)
}

/// Following the README makes both objects selectable by the same Prometheus (kube-prometheus-stack
/// selects ServiceMonitors and PrometheusRules by the same `release` label) and points
/// HostRiskOperatorDown at the job and namespace the ServiceMonitor's target really has: it does not
/// fire on a healthy operator installed as documented.
#[test]
fn the_readme_install_is_selected_by_one_prometheus_and_operator_down_watches_its_job() {
    let readme = read("README.md");
    let alerting = section(&readme, "## Alerting");
    let values = set_values(alerting);
    let labels = values["monitoringLabels"]
        .as_object()
        .expect("monitoringLabels set");
    assert!(!labels.is_empty());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("readme.yaml");
    std::fs::write(&file, serde_yaml::to_string(&values).expect("yaml")).expect("write");
    let docs = render(&file);
    let monitors = of_kind(&docs, "ServiceMonitor");
    let rule_objects = of_kind(&docs, "PrometheusRule");
    assert_eq!((monitors.len(), rule_objects.len()), (1, 1));
    assert_eq!(of_kind(&docs, "ConfigMap").len(), 1, "the dashboard");
    for (key, value) in labels {
        for object in [&monitors[0], &rule_objects[0]] {
            assert_eq!(
                &object["metadata"]["labels"][key], value,
                "{}",
                object["kind"]
            );
        }
    }
    // prometheus-operator names a ServiceMonitor target's job after the Service it selects.
    let services = of_kind(&docs, "Service");
    assert_eq!(services.len(), 1);
    let service = services[0]["metadata"]["name"].as_str().expect("name");
    let namespace = services[0]["metadata"]["namespace"].as_str().expect("ns");
    assert_eq!(
        monitors[0]["spec"]["namespaceSelector"]["matchNames"],
        serde_json::json!([namespace])
    );
    let up = format!("up{{job=\"{service}\",namespace=\"{namespace}\"}}");
    let down = expr(&rule_objects[0], "HostRiskOperatorDown");
    assert!(
        down.contains(&format!("({up}) == 0")) && down.contains(&format!("absent({up})")),
        "{down}"
    );
    assert_eq!(service, "hostrisk-operator-metrics");
    assert!(
        alerting.contains("`<fullname>-metrics`"),
        "the job the README names"
    );
    assert!(!readme.contains("<release>-metrics"));
}

/// Advice older READMEs gave (the kube-prometheus `release` label on the PrometheusRule only) still
/// gets the ServiceMonitor selected: it carries the rule's selector labels.
#[test]
fn the_rule_selector_labels_reach_the_service_monitor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("older.yaml");
    std::fs::write(
        &file,
        "serviceMonitor:\n  enabled: true\nprometheusRule:\n  enabled: true\n  additionalLabels:\n    release: prometheus\n",
    )
    .expect("write");
    let docs = render(&file);
    for kind in ["ServiceMonitor", "PrometheusRule"] {
        assert_eq!(
            of_kind(&docs, kind)[0]["metadata"]["labels"]["release"],
            "prometheus",
            "{kind}"
        );
    }
}

/// GitHub's anchor of a Markdown heading.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_alert_links_its_runbook_section_which_says_what_to_do() {
    let runbooks = read("docs/runbooks.md");
    let headings: Vec<&str> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .collect();
    let anchors: BTreeSet<String> = headings.iter().map(|h| anchor(h)).collect();
    let rule = prometheus_rule("promtool");
    let mut documented = BTreeSet::new();
    for alert in rules(&rule) {
        let name = alert["alert"].as_str().expect("alert");
        let url = alert["annotations"]["runbook_url"].as_str().expect("url");
        let (base, fragment) = url.split_once('#').expect("a #fragment");
        assert!(base.ends_with("/docs/runbooks.md"), "{url}");
        assert!(anchors.contains(fragment), "{name}: no section #{fragment}");
        let text = section(&runbooks, &format!("## {name}"));
        for part in [
            "**What it means.**",
            "**Confirm.**",
            "**What to do.**",
            "kubectl ",
        ] {
            assert!(text.contains(part), "{name}'s runbook lacks {part}");
        }
        documented.insert(name.to_owned());
    }
    let sections: BTreeSet<String> = headings
        .iter()
        .filter(|h| h.starts_with("HostRisk"))
        .map(|h| h.to_string())
        .collect();
    assert_eq!(sections, documented, "one section per alert, no more");
    assert_eq!(
        documented,
        ALL_ALERTS.iter().map(|a| a.to_string()).collect()
    );
}

/// The alert tables of both READMEs show each alert's rendered default `for` and severity.
#[test]
fn the_readme_tables_show_the_rendered_defaults() {
    let readme = read("README.md");
    let chart = read("charts/hostrisk-operator/README.md");
    let alerting = section(&readme, "## Alerting");
    let monitoring = section(&chart, "## Monitoring and alerts");
    for alert in rules(&prometheus_rule("promtool")) {
        let name = alert["alert"].as_str().expect("alert");
        let defaults = format!(
            "| {}, {} |",
            alert["for"].as_str().expect("for"),
            alert["labels"]["severity"].as_str().expect("severity")
        );
        for (doc, row_start) in [
            (alerting, format!("| `{name}` |")),
            (monitoring, format!("| {name} (`")),
        ] {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&row_start))
                .unwrap_or_else(|| panic!("no row {row_start}"));
            assert!(row.ends_with(&defaults), "{row} vs {defaults}");
        }
    }
}
