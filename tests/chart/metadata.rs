//! Chart.yaml's public metadata (home, sources, maintainers, Artifact Hub annotations) against what
//! it describes: Cargo.toml's repository and license, the documents it links to, the images the
//! chart renders, the CRD and the examples of examples/.
//!
//! `HOSTRISK_UPDATE_CHART=1 cargo test --test chart crds_examples` rewrites
//! `artifacthub.io/crdsExamples` from examples/.

use serde_json::Value;

use super::render::{render, repo, CHART};

fn chart_yaml() -> String {
    std::fs::read_to_string(repo().join(CHART).join("Chart.yaml")).expect("Chart.yaml")
}

fn chart() -> Value {
    serde_yaml::from_str(&chart_yaml()).expect("Chart.yaml parses")
}

/// An annotation holding a YAML document (Artifact Hub's list annotations are YAML in a string).
fn annotation(chart: &Value, key: &str) -> Value {
    let text = chart["annotations"][key]
        .as_str()
        .unwrap_or_else(|| panic!("Chart.yaml lacks annotation {key}"));
    serde_yaml::from_str(text).unwrap_or_else(|err| panic!("{key} is not YAML: {err}"))
}

const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

#[test]
fn home_sources_maintainers_and_license_match_cargo_toml() {
    assert!(REPOSITORY.starts_with("https://"), "Cargo.toml repository");
    let chart = chart();
    assert_eq!(chart["home"], REPOSITORY);
    assert_eq!(chart["sources"], serde_json::json!([REPOSITORY]));
    let maintainers = chart["maintainers"].as_array().expect("maintainers");
    assert!(!maintainers.is_empty());
    for maintainer in maintainers {
        assert!(maintainer["name"].as_str().is_some_and(|n| !n.is_empty()));
        assert!(maintainer["url"].is_string() || maintainer["email"].is_string());
    }
    assert_eq!(
        chart["annotations"]["artifacthub.io/license"],
        env!("CARGO_PKG_LICENSE")
    );
    assert_eq!(chart["annotations"]["artifacthub.io/operator"], "true");
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    assert!(
        dockerfile.contains(&format!("org.opencontainers.image.source=\"{REPOSITORY}\"")),
        "the image names the same source repository"
    );
}

/// Every link points into the repository, and a link to a file names one that exists.
#[test]
fn artifact_hub_links_point_at_files_of_this_repository() {
    let links = annotation(&chart(), "artifacthub.io/links");
    let links = links.as_array().expect("a list");
    assert!(links.len() >= 2, "{links:?}");
    for link in links {
        assert!(link["name"].as_str().is_some_and(|n| !n.is_empty()));
        let url = link["url"].as_str().expect("url");
        let rest = url
            .strip_prefix(REPOSITORY)
            .unwrap_or_else(|| panic!("{url} is outside {REPOSITORY}"));
        if let Some(path) = rest.strip_prefix("/blob/main/") {
            assert!(repo().join(path).is_file(), "{url}: {path} does not exist");
        } else {
            assert_eq!(rest, "", "{url}");
        }
    }
}

/// `artifacthub.io/images` lists exactly the images the chart's defaults run, so Artifact Hub scans
/// what users get.
#[test]
fn artifact_hub_images_are_the_ones_the_defaults_render() {
    let rendered = render("defaults");
    let mut rendered_images: Vec<String> = rendered
        .pod_spec()
        .containers
        .iter()
        .chain(
            rendered
                .test_pods
                .iter()
                .flat_map(|p| &p.spec.as_ref().expect("spec").containers),
        )
        .filter_map(|c| c.image.clone())
        .collect();
    rendered_images.sort();
    let listed = annotation(&chart(), "artifacthub.io/images");
    let mut images: Vec<String> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|entry| {
            assert!(
                entry["name"].as_str().is_some_and(|n| !n.is_empty()),
                "{entry}"
            );
            entry["image"].as_str().expect("image").to_owned()
        })
        .collect();
    images.sort();
    assert_eq!(images, rendered_images);
}

#[test]
fn artifact_hub_changes_use_its_kinds() {
    let changes = annotation(&chart(), "artifacthub.io/changes");
    let changes = changes.as_array().expect("a list");
    assert!(!changes.is_empty());
    for change in changes {
        let kind = change["kind"].as_str().expect("kind");
        assert!(
            [
                "added",
                "changed",
                "deprecated",
                "removed",
                "fixed",
                "security"
            ]
            .contains(&kind),
            "{change}"
        );
        assert!(
            change["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{change}"
        );
    }
}

/// `artifacthub.io/crds` describes the CRD the chart installs.
#[test]
fn artifact_hub_crds_name_the_crd() {
    let crds = annotation(&chart(), "artifacthub.io/crds");
    let crd = &render("defaults").crds[0];
    let entry = &crds[0];
    assert_eq!(crds.as_array().map(Vec::len), Some(1));
    assert_eq!(entry["kind"], crd.spec.names.kind.as_str());
    assert_eq!(entry["version"], crd.spec.versions[0].name.as_str());
    assert_eq!(entry["name"], crd.metadata.name.as_deref().expect("name"));
}

/// The HostRiskWatch documents of examples/*.yaml (files in name order), as objects.
fn example_watches() -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(repo().join("examples"))
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut watches = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("example");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc).expect("example YAML");
            if value["kind"] == "HostRiskWatch" {
                watches.push(value);
            }
        }
    }
    watches
}

/// `artifacthub.io/crdsExamples` is examples/' HostRiskWatches, all of them and nothing else (the
/// examples are held to the CRD's schema and the operator's checks by tests/crd_schema.rs).
#[test]
fn artifact_hub_crds_examples_are_the_examples() {
    let examples = example_watches();
    assert!(examples.len() >= 3, "{examples:?}");
    if std::env::var_os("HOSTRISK_UPDATE_CHART").is_some() {
        write_crds_examples(&examples);
    }
    let listed = annotation(&chart(), "artifacthub.io/crdsExamples");
    assert_eq!(
        listed,
        Value::Array(examples),
        "artifacthub.io/crdsExamples differs from examples/: \
         HOSTRISK_UPDATE_CHART=1 cargo test --test chart crds_examples"
    );
}

/// Replaces the block of `artifacthub.io/crdsExamples` (the last annotation) in Chart.yaml.
fn write_crds_examples(examples: &[Value]) {
    const KEY: &str = "  artifacthub.io/crdsExamples: |";
    let text = chart_yaml();
    let start = text.find(KEY).expect("the annotation") + KEY.len() + 1;
    let end = text[start..]
        .lines()
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .map(|l| l.len() + 1)
        .sum::<usize>()
        + start;
    let body = serde_yaml::to_string(examples).expect("YAML");
    let indented: String = body.lines().map(|l| format!("    {l}\n")).collect();
    let updated = format!(
        "{}{indented}{}",
        &text[..start],
        &text[end.min(text.len())..]
    );
    std::fs::write(repo().join(CHART).join("Chart.yaml"), updated).expect("write Chart.yaml");
}
