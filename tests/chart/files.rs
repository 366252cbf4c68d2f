//! Checks on the chart's and the image's files that need no rendering.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Map, Value};

use super::render::{repo, ChartMetadata};

const CHART: &str = "charts/hostrisk-operator";

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

#[test]
fn chart_crd_is_byte_for_byte_the_repository_crd() {
    let chart_crd = std::fs::read(repo().join(CHART).join("crds/hostriskwatch.yaml"))
        .expect("chart crds/hostriskwatch.yaml");
    let repo_crd =
        std::fs::read(repo().join("crds/hostriskwatch.yaml")).expect("crds/hostriskwatch.yaml");
    assert!(
        chart_crd == repo_crd,
        "{CHART}/crds/hostriskwatch.yaml differs from crds/hostriskwatch.yaml: \
         run `cp crds/hostriskwatch.yaml {CHART}/crds/`"
    );
}

fn values_yaml() -> String {
    std::fs::read_to_string(repo().join(CHART).join("values.yaml")).expect("values.yaml")
}

fn schema() -> Value {
    let text = std::fs::read_to_string(repo().join(CHART).join("values.schema.json"))
        .expect("values.schema.json");
    serde_json::from_str(&text).expect("values.schema.json is JSON")
}

/// The schema of a chart-owned block: an object whose keys the chart defines (additionalProperties false).
fn owned_properties(node: &Value) -> Option<&Map<String, Value>> {
    let closed = node.get("additionalProperties") == Some(&Value::Bool(false));
    node.get("properties")
        .and_then(Value::as_object)
        .filter(|_| closed)
}

/// Every key values.yaml sets in a chart-owned block has a schema entry and the other way round,
/// so a default can neither escape validation nor be documented only in the schema.
#[test]
fn schema_and_values_yaml_define_the_same_keys() {
    fn walk(path: &str, values: &Value, schema: &Value) {
        let Some(properties) = owned_properties(schema) else {
            return;
        };
        let values = values
            .as_object()
            .unwrap_or_else(|| panic!("{path} is a block"));
        let in_values: BTreeSet<&String> = values.keys().collect();
        let in_schema: BTreeSet<&String> = properties.keys().filter(|k| *k != "global").collect();
        assert_eq!(in_values, in_schema, "keys of {path}");
        // Blocks with a `required` list require every key they define; the others (resources) are open.
        let required: Option<BTreeSet<&str>> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect());
        for (key, value) in values {
            if let Some(required) = &required {
                assert!(required.contains(key.as_str()), "{path}.{key} not required");
            }
            walk(&format!("{path}.{key}"), value, &properties[key]);
        }
    }
    let values: Value = serde_yaml::from_str(&values_yaml()).expect("values.yaml parses");
    walk("values", &values, &schema());
}

/// Every setting in a chart-owned block of values.yaml has a comment right above it.
#[test]
fn values_yaml_documents_every_setting() {
    let schema = schema();
    let text = values_yaml();
    let lines: Vec<&str> = text.lines().collect();
    // (indent, schema node) of the enclosing keys.
    let mut stack: Vec<(usize, Value)> = vec![];
    let mut undocumented = vec![];
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let Some((key, _)) = trimmed.split_once(':') else {
            continue;
        };
        if trimmed.starts_with('#') || trimmed.starts_with('-') || key.contains(' ') {
            continue;
        }
        while stack.last().is_some_and(|(level, _)| *level >= indent) {
            stack.pop();
        }
        let parent = stack.last().map_or(&schema, |(_, node)| node);
        let Some(node) = owned_properties(parent).and_then(|p| p.get(key)) else {
            continue; // inside a free-form Kubernetes value (resources, affinity, ...)
        };
        let is_block = owned_properties(node).is_some();
        let commented = index > 0 && lines[index - 1].trim_start().starts_with('#');
        if !is_block && !commented {
            undocumented.push(format!("line {}: {}", index + 1, line.trim()));
        }
        stack.push((indent, node.clone()));
    }
    assert!(
        undocumented.is_empty(),
        "undocumented values: {undocumented:#?}"
    );
}

/// The image copies the binary `cargo build --release --target <triple>` writes, under the [[bin]] name.
#[test]
fn dockerfile_copies_the_binary_cargo_builds() {
    let binary = Path::new(env!("CARGO_BIN_EXE_hostrisk-operator"))
        .file_name()
        .and_then(|n| n.to_str())
        .expect("binary name")
        .to_owned();
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    assert!(dockerfile.contains("ARG TARGET=x86_64-unknown-linux-musl"));
    assert!(dockerfile.contains("cargo build --release --locked --target \"${TARGET}\""));
    assert!(dockerfile.contains(&format!("\"target/${{TARGET}}/release/{binary}\"")));
    assert!(dockerfile.contains(&format!("ENTRYPOINT [\"/{binary}\"]")));
    assert!(dockerfile.contains("USER 65532:65532"));
    assert!(dockerfile.contains("org.opencontainers.image.version"));
    let from_lines: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(from_lines.len(), 2, "one build stage, one runtime stage");
    assert!(from_lines[1].ends_with(":nonroot"), "{}", from_lines[1]);
}
