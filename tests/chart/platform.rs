//! What platform teams set: nulls, subchart `enabled`, extraArgs, commonLabels, revisionHistoryLimit,
//! the container securityContext, the ServiceMonitor's options and the chart-managed CRD.

use std::path::Path;

use serde_json::Value;

use super::render::{
    parse_stream, pod_labels, render, repo, run_script, values_file, Rendered, CHART,
    RELEASE_NAMESPACE,
};

/// `podSecurityContext.runAsUser: null` and the other documented nulls render: the nulled field is
/// left out, everything the chart always sets stays.
#[test]
fn nulls_leave_their_fields_out() {
    let rendered = render("nulls");
    let pod = rendered.pod_spec();
    let pod_sc = pod.security_context.clone().expect("pod securityContext");
    assert_eq!(
        (pod_sc.run_as_user, pod_sc.run_as_group, pod_sc.fs_group),
        (None, None, None)
    );
    assert_eq!(pod_sc.run_as_non_root, Some(true));
    let container = rendered.container();
    assert!(container.resources.is_none(), "resources: null");
    assert!(container.liveness_probe.is_none() && container.readiness_probe.is_none());
    assert!(container.security_context.is_some());
    let spec = rendered.deployment().spec.clone().expect("spec");
    assert_eq!(spec.revision_history_limit, None);
    assert_eq!(
        render("defaults")
            .deployment()
            .spec
            .clone()
            .expect("spec")
            .revision_history_limit,
        Some(10)
    );
    assert_eq!(
        render("platform")
            .deployment()
            .spec
            .clone()
            .expect("spec")
            .revision_history_limit,
        Some(3)
    );
    assert!(pod.node_selector.is_none() && pod.tolerations.is_none() && pod.affinity.is_none());
    assert_eq!(rendered.args(), render("defaults").args());
}

/// The chart as a dependency with `condition: hostrisk-operator.enabled`: the parent's `enabled`
/// decides, and the key passes the chart's schema.
#[test]
fn enabled_works_as_a_subchart_condition() {
    let parent = tempfile::tempdir().expect("tempdir");
    let chart_yaml = "apiVersion: v2\nname: platform\nversion: 1.0.0\ndependencies:\n  \
        - name: hostrisk-operator\n    version: 0.1.0\n    condition: hostrisk-operator.enabled\n";
    std::fs::write(parent.path().join("Chart.yaml"), chart_yaml).expect("Chart.yaml");
    copy_dir(
        &repo().join(CHART),
        &parent.path().join("charts/hostrisk-operator"),
    );
    let parent_chart = parent.path().to_str().expect("utf-8");
    for (enabled, objects) in [(true, true), (false, false)] {
        let values = parent.path().join(format!("values-{enabled}.yaml"));
        std::fs::write(
            &values,
            format!("hostrisk-operator:\n  enabled: {enabled}\n"),
        )
        .expect("values");
        let stream = run_script(&[
            "render",
            "--chart",
            parent_chart,
            "-f",
            values.to_str().expect("utf-8"),
        ])
        .unwrap_or_else(|err| panic!("enabled: {enabled}: {err}"));
        assert_eq!(
            stream.contains("kind: Deployment"),
            objects,
            "enabled: {enabled}\n{stream}"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

#[test]
fn extra_args_come_after_the_charts_own() {
    let args = render("platform").args();
    let defaults = render("defaults").args();
    assert_eq!(args[..defaults.len()], defaults[..]);
    assert_eq!(
        args[defaults.len()..],
        ["--ca-bundle=/etc/pki/tls/certs/ca-bundle.crt".to_owned()]
    );
}

/// commonLabels land on every object and on the pods, may override the chart's part-of label, and
/// never touch the selector.
#[test]
fn common_labels_are_on_every_object() {
    let rendered = render("platform");
    for doc in &rendered.docs {
        let labels = doc
            .value
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or_default();
        assert_eq!(labels["example.com/team"], "platform", "{}", doc.source);
        assert_eq!(
            labels["app.kubernetes.io/part-of"], "security-tooling",
            "{}",
            doc.source
        );
    }
    assert_eq!(
        pod_labels(&rendered)
            .get("example.com/team")
            .map(String::as_str),
        Some("platform")
    );
    let selector = |r: &Rendered| r.deployment().spec.clone().expect("spec").selector;
    assert_eq!(selector(&rendered), selector(&render("defaults")));
}

/// The container securityContext is merged key by key into the chart's restricted defaults.
#[test]
fn container_security_context_override_is_merged_into_the_defaults() {
    let merged = render("platform")
        .container()
        .security_context
        .clone()
        .expect("sc");
    let mut expected = render("defaults")
        .container()
        .security_context
        .clone()
        .expect("sc");
    assert_eq!(expected.run_as_user, None);
    expected.run_as_user = Some(1001);
    assert_eq!(merged, expected);
}

#[test]
fn service_monitor_options() {
    let defaults = render("platform");
    let monitor = &defaults.service_monitors[0];
    assert_eq!(
        monitor.pointer("/metadata/namespace"),
        Some(&Value::from(RELEASE_NAMESPACE))
    );
    let endpoint = monitor.pointer("/spec/endpoints/0").expect("endpoint");
    assert_eq!(
        endpoint["honorLabels"], true,
        "the watches' own namespace label wins"
    );
    assert_eq!(
        (
            endpoint["interval"].as_str(),
            endpoint["scrapeTimeout"].as_str()
        ),
        (Some("30s"), Some("10s"))
    );
    assert!(endpoint.get("relabelings").is_none() && endpoint.get("metricRelabelings").is_none());

    let set = render("monitoring");
    let monitor = &set.service_monitors[0];
    assert_eq!(
        monitor.pointer("/metadata/namespace"),
        Some(&Value::from("monitoring"))
    );
    assert_eq!(
        monitor.pointer("/spec/namespaceSelector/matchNames/0"),
        Some(&Value::from(RELEASE_NAMESPACE)),
        "it still selects the release namespace's Service"
    );
    let endpoint = monitor.pointer("/spec/endpoints/0").expect("endpoint");
    assert_eq!(
        (
            endpoint["interval"].as_str(),
            endpoint["scrapeTimeout"].as_str()
        ),
        (Some("1m"), Some("15s"))
    );
    assert_eq!(endpoint["relabelings"][0]["targetLabel"], "node_name");
    assert_eq!(endpoint["metricRelabelings"][0]["action"], "drop");
}

/// crds.install renders the CRD from the plain manifest: its spec is crds/hostriskwatch.yaml's, with
/// `helm.sh/resource-policy: keep` unless crds.keep is false; crds.install=false renders none.
#[test]
fn crd_is_rendered_from_the_plain_manifest_and_kept() {
    let plain: Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo().join("crds/hostriskwatch.yaml")).expect("crd"),
    )
    .expect("yaml");
    let rendered = render("defaults");
    let doc = rendered
        .docs
        .iter()
        .find(|d| d.kind().1 == "CustomResourceDefinition")
        .expect("a CRD");
    assert_eq!(rendered.crds.len(), 1);
    assert_eq!(doc.value["spec"], plain["spec"]);
    assert_eq!(doc.value["metadata"]["name"], plain["metadata"]["name"]);
    assert_eq!(
        doc.value
            .pointer("/metadata/annotations/helm.sh~1resource-policy"),
        Some(&Value::from("keep"))
    );
    let unkept = render("platform");
    assert_eq!(unkept.crds.len(), 1);
    assert_eq!(unkept.crds[0].metadata.annotations, None);
    assert!(render("namespaced").crds.is_empty(), "crds.install=false");
}

/// The scrape job the docs name is the one the chart renders: the metrics Service's name,
/// `<fullname>-metrics`, which is `<release>-metrics` only when the release name contains the
/// chart's. Rendered as release `prod` to tell the two apart.
#[test]
fn the_docs_name_the_scrape_job_the_chart_renders() {
    let stream = run_script(&[
        "render",
        "--release",
        "prod",
        "-f",
        values_file("platform").to_str().expect("utf-8"),
    ])
    .expect("renders as release prod");
    let rendered = parse_stream("platform as prod", &stream);
    let service = rendered.services[0].metadata.name.clone().expect("name");
    assert_eq!(service, "prod-hostrisk-operator-metrics");
    let rules = serde_json::to_string(&rendered.prometheus_rules).expect("json");
    assert!(
        rules.contains(&format!("up{{job=\\\"{service}\\\",")),
        "HostRiskOperatorDown should watch job {service}"
    );
    for doc in [
        "README.md",
        "docs/install.md",
        "charts/hostrisk-operator/README.md",
        "charts/hostrisk-operator/values.yaml",
    ] {
        let text = std::fs::read_to_string(repo().join(doc)).expect(doc);
        assert!(
            !text.contains("<release>-metrics"),
            "{doc} names the job <release>-metrics"
        );
    }
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    assert!(readme.contains("(default `<fullname>-metrics`"));
    // The README's example alert is of the default release, whose fullname is its name.
    let default_service = render("platform").services[0].metadata.name.clone();
    assert!(readme.contains(&format!("job={}", default_service.expect("name"))));
}
