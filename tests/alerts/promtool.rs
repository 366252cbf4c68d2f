//! `promtool check rules` and `promtool test rules` (Debian's prometheus package, installed by
//! .ci/setup-tools.sh) on the rules the chart renders.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use super::rules::{prometheus_rule, repo, write_rules_file, ALL_ALERTS};

pub fn promtool() -> Command {
    assert!(
        which("promtool").is_some(),
        "promtool not found: run `bash .ci/setup-tools.sh` (it installs Debian's prometheus package)"
    );
    Command::new("promtool")
}

pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(tool))
            .find(|candidate| candidate.is_file())
    })
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

#[test]
fn promtool_check_rules_accepts_every_rendering() {
    for set in ["defaults", "promtool", "overrides", "e2e"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write_rules_file(&prometheus_rule(set), dir.path());
        let out = run(promtool().args(["check", "rules"]).arg(&file));
        assert!(out.contains("SUCCESS"), "{set}: {out}");
    }
}

/// The unit tests in tests/alerts/promtool/*.yaml (promtool's format, `rule_files: [rules.yaml]`).
fn unit_test_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/alerts/promtool"))
        .expect("tests/alerts/promtool")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Alert names with a test where they fire, and with a test where they must not.
fn covered(files: &[PathBuf]) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut firing, mut silent) = (BTreeSet::new(), BTreeSet::new());
    for file in files {
        let text = std::fs::read_to_string(file).expect("unit test file");
        let doc: Value = serde_yaml::from_str(&text).expect("yaml");
        assert_eq!(
            doc["rule_files"],
            serde_json::json!(["rules.yaml"]),
            "{file:?}"
        );
        for test in doc["tests"].as_array().expect("tests") {
            for case in test["alert_rule_test"].as_array().into_iter().flatten() {
                let name = case["alertname"].as_str().expect("alertname").to_owned();
                let expected = case["exp_alerts"].as_array().map_or(0, Vec::len);
                if expected > 0 {
                    firing.insert(name);
                } else {
                    silent.insert(name);
                }
            }
        }
    }
    (firing, silent)
}

/// Every alert the chart can render has promtool unit tests in which it fires (with its exact labels
/// and annotations) and in which it stays silent (the false pages it once sent among them), and they
/// all pass against the rules rendered with the ServiceMonitor on, as the README installs them.
#[test]
fn promtool_unit_tests_cover_every_alert_and_pass() {
    let files = unit_test_files();
    let (firing, silent) = covered(&files);
    let all: BTreeSet<String> = ALL_ALERTS.iter().map(|a| a.to_string()).collect();
    assert_eq!(firing, all, "alerts with a firing test");
    assert_eq!(silent, all, "alerts with a silent test");

    let dir = tempfile::tempdir().expect("tempdir");
    write_rules_file(&prometheus_rule("promtool"), dir.path());
    let mut names = vec![];
    for file in &files {
        let name = file.file_name().expect("name").to_owned();
        std::fs::copy(file, dir.path().join(&name)).expect("copy");
        names.push(name);
    }
    let out = run(promtool()
        .args(["test", "rules"])
        .args(&names)
        .current_dir(dir.path()));
    assert_eq!(
        out.matches("SUCCESS").count(),
        files.len(),
        "every file passes:\n{out}"
    );
}
