//! Checks on the chart's and the image's files that need no rendering.

use std::path::Path;

use super::render::{python, repo, ChartMetadata, CHART};

#[test]
fn chart_version_and_app_version_follow_cargo_toml() {
    let text = std::fs::read_to_string(repo().join(CHART).join("Chart.yaml")).expect("Chart.yaml");
    let chart: ChartMetadata = serde_yaml::from_str(&text).expect("Chart.yaml parses");
    assert_eq!(
        chart.version,
        env!("CARGO_PKG_VERSION"),
        "Chart.yaml version"
    );
    assert_eq!(
        chart.app_version,
        env!("CARGO_PKG_VERSION"),
        "Chart.yaml appVersion"
    );
}

/// The CRD the chart renders (templates/crd.yaml) comes from files/crds/hostriskwatch.yaml, a plain
/// copy of the repository's crds/hostriskwatch.yaml. The chart has no crds/ directory: Helm would
/// install that before the templates and the templated CRD would then collide with it.
#[test]
fn chart_crd_is_byte_for_byte_the_repository_crd() {
    let chart_crd = std::fs::read(repo().join(CHART).join("files/crds/hostriskwatch.yaml"))
        .expect("chart files/crds/hostriskwatch.yaml");
    let repo_crd =
        std::fs::read(repo().join("crds/hostriskwatch.yaml")).expect("crds/hostriskwatch.yaml");
    assert!(
        chart_crd == repo_crd,
        "{CHART}/files/crds/hostriskwatch.yaml differs from crds/hostriskwatch.yaml: \
         run `cp crds/hostriskwatch.yaml {CHART}/files/crds/`"
    );
    assert!(
        !repo().join(CHART).join("crds").exists(),
        "{CHART}/crds/ would be installed by Helm besides the templated CRD"
    );
}

/// The oldest Kubernetes minor the chart installs on: Chart.yaml's `kubeVersion: ">=1.NN.0-0"`.
pub fn kube_floor_minor() -> u32 {
    let chart: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo().join(CHART).join("Chart.yaml")).expect("Chart.yaml"),
    )
    .expect("Chart.yaml parses");
    let constraint = chart["kubeVersion"].as_str().expect("kubeVersion");
    constraint
        .strip_prefix(">=1.")
        .and_then(|rest| rest.strip_suffix(".0-0"))
        .and_then(|minor| minor.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "kubeVersion {constraint:?} is not \">=1.NN.0-0\" (a floor, pre-releases included)"
            )
        })
}

/// The floor in Chart.yaml is the one README, docs/install.md and the chart README state, and no
/// document states another; the real-API-server instructions test against that oldest minor; and
/// docs/compatibility.md explains the k8s-openapi feature the workspace really builds with (a type
/// set newer than the floor, which is why that page exists).
#[test]
fn kube_version_floor_is_the_one_the_docs_state() {
    let floor = kube_floor_minor();
    for doc in [
        "README.md",
        "docs/install.md",
        "charts/hostrisk-operator/README.md",
    ] {
        let text = std::fs::read_to_string(repo().join(doc)).expect(doc);
        assert!(
            text.contains(&format!("Kubernetes 1.{floor}")),
            "{doc} does not state Kubernetes 1.{floor}"
        );
        for other in (20..60).filter(|m| *m != floor) {
            assert!(
                !text.contains(&format!("Kubernetes 1.{other}+"))
                    && !text.contains(&format!("Kubernetes 1.{other} or newer")),
                "{doc} states another minimum, 1.{other}, than Chart.yaml's 1.{floor}"
            );
        }
    }
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    assert!(
        readme.contains(&format!("setup-envtest use 1.{floor}.x")),
        "README: the real-API-server instructions should start at the oldest supported minor"
    );

    let cargo = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    let k8s_openapi = cargo
        .lines()
        .find(|l| l.starts_with("k8s-openapi"))
        .expect("k8s-openapi dependency");
    let feature = k8s_openapi
        .split('"')
        .find(|part| part.starts_with("v1_"))
        .expect("a v1_NN feature of k8s-openapi");
    let compatibility =
        std::fs::read_to_string(repo().join("docs/compatibility.md")).expect("compatibility.md");
    assert!(
        compatibility.contains(&format!("`{feature}`")),
        "docs/compatibility.md explains why k8s-openapi's `{feature}` is safe against 1.{floor}: \
         it does not name the feature the workspace builds with"
    );
    assert!(compatibility.contains(&format!("Kubernetes 1.{floor} and newer")));
}

/// The chart README's values table is what scripts/chart-values-table.py makes of values.yaml now.
#[test]
fn chart_readme_values_table_matches_values_yaml() {
    let output = std::process::Command::new(python())
        .arg(repo().join("scripts/chart-values-table.py"))
        .arg("--check")
        .current_dir(repo())
        .output()
        .expect("run chart-values-table.py");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let readme = std::fs::read_to_string(repo().join(CHART).join("README.md")).expect("README");
    for key in [
        "`podSecurityContext.runAsUser`",
        "`crds.install`",
        "`prometheusRule.rules.hostAtRisk.for`",
    ] {
        assert!(readme.contains(key), "values table lacks {key}");
    }
}

/// The Cargo profile the Dockerfile builds the image's binary with.
const IMAGE_PROFILE: &str = "image";

/// The image's profile is `release` without symbols; both link the whole program in one codegen
/// unit, so what a user builds with `--release` (and the benchmark measures) is the image's code:
/// ~21 % smaller, and most of a small install's memory.
#[test]
fn the_image_profile_strips_and_links_the_whole_program() {
    let cargo = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    // `key = value` lines of one `[section]` of Cargo.toml.
    let section = |name: &str| -> Vec<(String, String)> {
        let header = format!("[{name}]");
        cargo
            .lines()
            .skip_while(|l| l.trim() != header)
            .skip(1)
            .take_while(|l| !l.starts_with('['))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    };
    let image = section(&format!("profile.{IMAGE_PROFILE}"));
    for (key, value) in [
        ("inherits", "\"release\""),
        ("strip", "true"),
        ("lto", "\"fat\""),
        ("codegen-units", "1"),
    ] {
        assert!(
            image.contains(&(key.to_owned(), value.to_owned())),
            "[profile.{IMAGE_PROFILE}] {key} = {value}: {image:?}"
        );
    }
    let release = section("profile.release");
    for (key, value) in [("lto", "\"fat\""), ("codegen-units", "1")] {
        assert!(
            release.contains(&(key.to_owned(), value.to_owned())),
            "[profile.release] {key} = {value}: {release:?}"
        );
    }
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    assert!(
        readme.contains("--profile image"),
        "README's image section names the profile and the binary's size"
    );
}

/// The image builds for linux/amd64 and linux/arm64: BuildKit's TARGETARCH picks the musl target of
/// the stage's platform, any other architecture stops the build, and the binary installed is the one
/// the single build command writes for that target, under the [[bin]] name.
#[test]
fn dockerfile_builds_the_binary_for_amd64_and_arm64() {
    let binary = Path::new(env!("CARGO_BIN_EXE_hostrisk-operator"))
        .file_name()
        .and_then(|n| n.to_str())
        .expect("binary name")
        .to_owned();
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let from_lines: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(from_lines.len(), 2, "one build stage, one runtime stage");
    assert!(from_lines[1].ends_with(":nonroot"), "{}", from_lines[1]);
    for from in &from_lines {
        // A stage pinned to one platform would put an amd64 binary into the arm64 image.
        assert!(
            !from.contains("--platform=linux/"),
            "{from}: the stages follow the platform being built"
        );
    }
    let build_stage = dockerfile.split(from_lines[1]).next().expect("build stage");
    assert!(
        build_stage.contains("\nARG TARGETARCH\n"),
        "TARGETARCH declared in the build stage"
    );
    let arch_cases: Vec<&str> = build_stage
        .lines()
        .map(str::trim)
        .filter(|l| l.contains(") target="))
        .collect();
    assert_eq!(
        arch_cases,
        [
            "amd64) target=x86_64-unknown-linux-musl ;; \\",
            "arm64) target=aarch64-unknown-linux-musl ;; \\",
        ]
    );
    assert!(
        build_stage.contains("*) echo") && build_stage.contains("exit 1 ;;"),
        "an unknown TARGETARCH fails the build"
    );
    assert!(build_stage.contains("rustup target add \"${target}\""));
    let build_commands: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.contains("cargo build"))
        .collect();
    assert_eq!(
        build_commands,
        [format!(
            "ARG BUILD_COMMAND=\"cargo build --profile {IMAGE_PROFILE} --locked -p {} --bin {binary}\"",
            env!("CARGO_PKG_NAME")
        )],
        "one line holds the build command"
    );
    assert!(build_stage.contains("${BUILD_COMMAND} --target \"${target}\""));
    assert!(build_stage.contains(&format!("\"target/${{target}}/{IMAGE_PROFILE}/{binary}\"")));
    assert!(build_stage.contains("id=hostrisk-target-${TARGETARCH}"));
    assert!(dockerfile.contains(&format!("ENTRYPOINT [\"/{binary}\"]")));
    assert!(dockerfile.contains("USER 65532:65532"));
    assert!(dockerfile.contains("org.opencontainers.image.version"));
}

/// The upgrade commands the docs give work across chart versions: none reuses the old release's
/// values wholesale (`--reuse-values` drops every value a new chart version adds).
#[test]
fn upgrade_docs_never_reuse_values() {
    let mut upgrades = 0;
    for doc in [
        "README.md",
        "docs/install.md",
        "charts/hostrisk-operator/README.md",
    ] {
        let text = std::fs::read_to_string(repo().join(doc)).expect(doc);
        // A command with its continuation lines.
        let joined = text.replace("\\\n", " ");
        for line in joined
            .lines()
            .filter(|l| l.trim_start().starts_with("helm upgrade"))
        {
            upgrades += 1;
            assert!(!line.contains("--reuse-values"), "{doc}: {line}");
            assert!(
                line.contains(" -f ")
                    || line.contains("--reset-then-reuse-values")
                    || line.contains("--set"),
                "{doc}: an upgrade should carry its values: {line}"
            );
        }
    }
    assert!(upgrades >= 2, "the docs show how to upgrade");
}
