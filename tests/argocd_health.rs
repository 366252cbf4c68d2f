//! deploy/argocd/health.lua against the cases in deploy/argocd/health_test.yaml, run by a Lua 5.1
//! interpreter the way Argo CD runs it (tests/argocd/run_health_tests.sh).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run_cases(test_file: &Path) -> Output {
    let lua_found = Command::new("sh")
        .args(["-c", "command -v lua5.1"])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        lua_found,
        "lua5.1 not found: run `bash .ci/setup-tools.sh` (Debian package lua5.1)"
    );
    Command::new("bash")
        .arg(repo().join("tests/argocd/run_health_tests.sh"))
        .arg(test_file)
        .output()
        .expect("run tests/argocd/run_health_tests.sh")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn health_script_passes_every_case_in_health_test_yaml() {
    let test_file = repo().join("deploy/argocd/health_test.yaml");
    let output = run_cases(&test_file);
    let report = text(&output);
    assert!(output.status.success(), "{report}");
    let cases = std::fs::read_to_string(&test_file)
        .expect("health_test.yaml")
        .matches("inputPath:")
        .count();
    assert!(
        report.contains(&format!("{cases} passed, 0 failed")),
        "{report}"
    );
    for status in ["Healthy", "Progressing", "Degraded", "Suspended"] {
        assert!(
            report.contains(&format!(": {status} (")),
            "no case ends {status}:\n{report}"
        );
    }
}

#[test]
fn runner_fails_when_an_expectation_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = repo().join("deploy/argocd");
    std::fs::create_dir(dir.path().join("testdata")).expect("mkdir");
    for entry in std::fs::read_dir(source.join("testdata")).expect("testdata") {
        let path = entry.expect("entry").path();
        let target = dir
            .path()
            .join("testdata")
            .join(path.file_name().expect("name"));
        std::fs::copy(&path, target).expect("copy");
    }
    let original = std::fs::read_to_string(source.join("health_test.yaml")).expect("read");
    for (from, to) in [
        ("status: Healthy", "status: Degraded"),
        (
            "message: Secret team-a/hss-credentials not found",
            "message: something else",
        ),
    ] {
        assert!(original.contains(from), "{from}");
        let test_file = dir.path().join("health_test.yaml");
        std::fs::write(&test_file, original.replacen(from, to, 1)).expect("write");
        let output = run_cases(&test_file);
        let report = text(&output);
        assert!(
            !output.status.success(),
            "a wrong {from:?} passed:\n{report}"
        );
        assert!(report.contains("1 failed"), "{report}");
    }
}

/// The argocd-cm snippet in the docs carries health.lua unchanged, so users copy the tested script.
#[test]
fn documented_argocd_snippet_is_the_tested_script() {
    let key = "resource.customizations.health.hostrisk.io_HostRiskWatch";
    let script =
        std::fs::read_to_string(repo().join("deploy/argocd/health.lua")).expect("health.lua");
    let mut checked = 0;
    for doc in ["README.md", "docs/install.md"] {
        let Ok(text) = std::fs::read_to_string(repo().join(doc)) else {
            continue;
        };
        for block in text.split("```yaml\n").skip(1) {
            let block = block.split("```").next().unwrap_or_default();
            if !block.contains(key) {
                continue;
            }
            let config_map: serde_yaml::Value = serde_yaml::from_str(block)
                .unwrap_or_else(|err| panic!("{doc}: argocd-cm snippet is not YAML: {err}"));
            let embedded = config_map["data"][key].as_str().expect("script in data");
            assert_eq!(
                embedded, script,
                "{doc}: snippet differs from deploy/argocd/health.lua"
            );
            checked += 1;
        }
    }
    assert!(
        checked > 0,
        "no argocd-cm snippet with {key} in README.md or docs/install.md"
    );
}
