//! Checks on the chart's and the image's files that need no rendering.

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
