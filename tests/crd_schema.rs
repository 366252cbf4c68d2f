//! The generated CRD: committed file in sync with the types, a valid apiextensions v1 CRD with a
//! structural schema, and CEL rules that accept and refuse what they should (evaluated with
//! kube-cel, the client-side port of the API server's CEL libraries).
//!
//! Regenerate the committed file with
//! `HOSTRISK_UPDATE_CRD=1 cargo test --test crd_schema committed_crd_matches_the_types`.

use hostrisk_operator::crd::cel;
use hostrisk_operator::crd::render::crd_yaml;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::cel::{compile_schema, estimate_rule_cost, Validator};
use serde_json::{json, Value};

const CRD_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/hostriskwatch.yaml");

fn crd() -> CustomResourceDefinition {
    serde_yaml::from_str(&crd_yaml()).expect("crd_yaml() parses as a CustomResourceDefinition")
}

fn root_schema() -> Value {
    let crd = crd();
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("openAPIV3Schema");
    serde_json::to_value(schema).expect("schema to JSON")
}

fn object(spec: Value) -> Value {
    json!({
        "apiVersion": "hostrisk.io/v1alpha1",
        "kind": "HostRiskWatch",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": spec,
    })
}

fn valid_spec() -> Value {
    json!({
        "projectId": "0123456789abcdef",
        "region": "ap-southeast-1",
        "hostIds": ["h1", "h2"],
        "credentialsSecretRef": {"name": "hss-credentials"},
        "interval": "5m",
    })
}

fn cel_errors(spec: Value) -> Vec<String> {
    match Validator::new().validate(&root_schema(), &object(spec), None) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(|e| e.message.clone()).collect(),
    }
}

#[test]
fn committed_crd_matches_the_types() {
    let generated = crd_yaml();
    if std::env::var_os("HOSTRISK_UPDATE_CRD").is_some() {
        std::fs::write(CRD_PATH, &generated).expect("write crds/hostriskwatch.yaml");
    }
    let committed = std::fs::read_to_string(CRD_PATH).expect("read crds/hostriskwatch.yaml");
    assert!(
        committed == generated,
        "crds/hostriskwatch.yaml is out of date with the Rust types: regenerate it with \
         `hostrisk-operator crd > crds/hostriskwatch.yaml` (or HOSTRISK_UPDATE_CRD=1 cargo test --test crd_schema)"
    );
}

#[test]
fn crd_is_a_namespaced_v1alpha1_crd_with_status_and_columns() {
    let crd = crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("hostriskwatches.hostrisk.io")
    );
    assert_eq!(crd.spec.group, "hostrisk.io");
    assert_eq!(crd.spec.scope, "Namespaced");
    let names = &crd.spec.names;
    assert_eq!(names.kind, "HostRiskWatch");
    assert_eq!(names.plural, "hostriskwatches");
    assert_eq!(names.singular.as_deref(), Some("hostriskwatch"));
    assert_eq!(names.short_names.as_deref(), Some(&["hrw".to_string()][..]));
    assert_eq!(names.categories.as_deref(), Some(&["hss".to_string()][..]));
    assert_eq!(crd.spec.versions.len(), 1);
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    assert!(version.served && version.storage);
    assert!(version
        .subresources
        .as_ref()
        .and_then(|s| s.status.as_ref())
        .is_some());
    let columns: Vec<_> = version
        .additional_printer_columns
        .as_ref()
        .expect("printer columns")
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.json_path.as_str(),
                c.priority.unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        columns,
        vec![
            (
                "Ready",
                r#".status.conditions[?(@.type=="Ready")].status"#,
                0
            ),
            ("Source", ".status.source", 0),
            ("Hosts", ".status.summary.hostsRequested", 0),
            ("At Risk", ".status.summary.detectRisk", 0),
            ("Unprotected", ".status.summary.protectionClosed", 0),
            ("Offline", ".status.summary.agentOffline", 0),
            ("Last Sync", ".status.lastSyncTime", 0),
            ("Age", ".metadata.creationTimestamp", 0),
            ("Vulnerabilities", ".status.summary.vulnerabilityTotal", 1),
            ("Baseline", ".status.summary.baselineTotal", 1),
            ("Intrusions", ".status.summary.intrusionTotal", 1),
            ("Unresolved", ".status.nodes.unresolved", 1),
        ]
    );
}

/// The API server's structural-schema rules that a derive can break: every node typed, no
/// `$ref`, no value-dependent `anyOf`/`oneOf`/`allOf`/`not`, `nullable` only beside a type,
/// descriptions on every spec and status field.
fn assert_structural(node: &Value, path: &str) {
    let obj = node
        .as_object()
        .unwrap_or_else(|| panic!("{path}: not an object"));
    for forbidden in [
        "$ref",
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "definitions",
        "$defs",
    ] {
        assert!(!obj.contains_key(forbidden), "{path}: has {forbidden}");
    }
    let ty = obj.get("type").and_then(Value::as_str);
    assert!(
        ty.is_some() || obj.contains_key("x-kubernetes-preserve-unknown-fields"),
        "{path}: no single type: {node}"
    );
    if let Some(Value::Object(props)) = obj.get("properties") {
        assert_eq!(ty, Some("object"), "{path}");
        for (name, child) in props {
            let child_path = format!("{path}.{name}");
            if path.starts_with(".spec") || path.starts_with(".status") {
                assert!(
                    child.get("description").is_some(),
                    "{child_path}: no description"
                );
            }
            assert_structural(child, &child_path);
        }
    }
    if let Some(items) = obj.get("items") {
        assert_eq!(ty, Some("array"), "{path}");
        assert_structural(items, &format!("{path}[]"));
    }
}

#[test]
fn schema_is_structural_and_documented() {
    let schema = root_schema();
    assert_structural(&schema, "");
    let spec = &schema["properties"]["spec"];
    // hostIds or nodeSelector, credentialsSecretRef or workloadIdentity: exactly one of each, by
    // CEL rules, so none of them is required.
    assert_eq!(spec["required"], json!(["projectId"]));
    // Optional spec fields are not nullable, so an explicit null is pruned, not stored (and
    // `has()` in the rules means "set").
    for field in [
        "region",
        "endpoint",
        "interval",
        "enterpriseProjectId",
        "nodeSelector",
        "nodeHostIdFrom",
    ] {
        assert!(
            spec["properties"][field].get("nullable").is_none(),
            "{field}"
        );
    }
    let from = &spec["properties"]["nodeHostIdFrom"]["properties"];
    for field in ["label", "annotation"] {
        assert!(from[field].get("nullable").is_none(), "{field}");
        assert_eq!(from[field]["maxLength"], 317);
    }
    let selector = &spec["properties"]["nodeSelector"]["properties"];
    assert_eq!(selector["matchLabels"]["maxProperties"], 64);
    assert_eq!(
        selector["matchLabels"]["additionalProperties"]["maxLength"],
        63
    );
    assert_eq!(selector["matchExpressions"]["maxItems"], 32);
    let requirement = &selector["matchExpressions"]["items"];
    assert_eq!(
        requirement["properties"]["operator"]["enum"],
        json!(["In", "NotIn", "Exists", "DoesNotExist"])
    );
    assert_eq!(requirement["properties"]["values"]["maxItems"], 64);
    let host_ids = &spec["properties"]["hostIds"];
    assert_eq!(host_ids["maxItems"], 1000);
    assert_eq!(host_ids["minItems"], 1);
    assert_eq!(host_ids["items"]["maxLength"], 64);
    assert_eq!(host_ids["x-kubernetes-list-type"], "set");
    assert!(spec["properties"]["credentialsSecretRef"]["properties"]
        .get("namespace")
        .is_none());
    let status = &schema["properties"]["status"]["properties"];
    assert_eq!(status["conditions"]["x-kubernetes-list-type"], "map");
    assert_eq!(
        status["conditions"]["x-kubernetes-list-map-keys"],
        json!(["type"])
    );
    assert_eq!(status["hosts"]["x-kubernetes-list-type"], "map");
    assert_eq!(
        status["hosts"]["x-kubernetes-list-map-keys"],
        json!(["hostId"])
    );
    assert_eq!(
        status["hosts"]["items"]["required"],
        json!(["found", "hostId"])
    );
    assert_eq!(
        status["hosts"]["items"]["properties"]["nodeName"]["maxLength"],
        253
    );
    assert_eq!(status["unresolvedNodes"]["x-kubernetes-list-type"], "map");
    assert_eq!(
        status["unresolvedNodes"]["x-kubernetes-list-map-keys"],
        json!(["nodeName"])
    );
    assert_eq!(status["unresolvedNodes"]["maxItems"], 100);
    let regions = spec["properties"]["region"]["enum"]
        .as_array()
        .expect("region enum");
    assert_eq!(
        regions.len(),
        hostrisk_operator::hss::endpoint::REGIONS.len()
    );
}

/// Every node with rules, with its path.
fn rule_nodes<'a>(node: &'a Value, path: String, out: &mut Vec<(String, &'a Value)>) {
    if node.get("x-kubernetes-validations").is_some() {
        out.push((path.clone(), node));
    }
    if let Some(Value::Object(props)) = node.get("properties") {
        for (name, child) in props {
            rule_nodes(child, format!("{path}.{name}"), out);
        }
    }
    if let Some(items) = node.get("items") {
        rule_nodes(items, format!("{path}[]"), out);
    }
}

#[test]
fn cel_rules_compile_and_have_bounded_cost() {
    let schema = root_schema();
    let mut nodes = Vec::new();
    rule_nodes(&schema, String::new(), &mut nodes);
    let paths: Vec<_> = nodes.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            ".spec",
            ".spec.endpoint",
            ".spec.interval",
            ".spec.nodeHostIdFrom",
            ".spec.nodeSelector.matchExpressions[]"
        ]
    );
    for (path, node) in nodes {
        let compiled = compile_schema(node);
        assert!(
            compiled.compilation_errors().is_empty(),
            "{path}: {:?}",
            compiled.compilation_errors()
        );
        for rule in node["x-kubernetes-validations"].as_array().expect("rules") {
            let rule = rule["rule"].as_str().expect("rule text");
            let warnings = estimate_rule_cost(rule, &compiled);
            assert!(warnings.is_empty(), "{path}: {rule}: {warnings:?}");
        }
        // Every string a rule reads is length-bounded.
        if node["type"] == "string" {
            assert!(node.get("maxLength").is_some(), "{path}: no maxLength");
        }
    }
}

#[test]
fn valid_specs_pass() {
    assert_eq!(cel_errors(valid_spec()), Vec::<String>::new());
    let mut endpoint = valid_spec();
    endpoint["region"] = Value::Null;
    endpoint.as_object_mut().expect("object").remove("region");
    endpoint["endpoint"] = json!("https://hss.private.example/api");
    assert_eq!(cel_errors(endpoint), Vec::<String>::new());
    let mut no_interval = valid_spec();
    no_interval
        .as_object_mut()
        .expect("object")
        .remove("interval");
    assert_eq!(cel_errors(no_interval), Vec::<String>::new());
}

fn node_spec(selector: Value) -> Value {
    let mut spec = valid_spec();
    spec.as_object_mut().expect("object").remove("hostIds");
    spec["nodeSelector"] = selector;
    spec
}

#[test]
fn a_node_backed_spec_passes_and_exactly_one_host_source_is_required() {
    assert_eq!(cel_errors(node_spec(json!({}))), Vec::<String>::new());
    let mut labelled = node_spec(json!({
        "matchLabels": {"pool": "web"},
        "matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["a", "b"]},
            {"key": "spot", "operator": "DoesNotExist"},
        ],
    }));
    labelled["nodeHostIdFrom"] = json!({"annotation": "example.com/ecs-id"});
    assert_eq!(cel_errors(labelled), Vec::<String>::new());
    let mut both = node_spec(json!({}));
    both["hostIds"] = json!(["h1"]);
    assert_eq!(
        cel_errors(both),
        vec![cel::HOSTS_SOURCE_MESSAGE.to_string()]
    );
    let mut neither = valid_spec();
    neither.as_object_mut().expect("object").remove("hostIds");
    assert_eq!(
        cel_errors(neither),
        vec![cel::HOSTS_SOURCE_MESSAGE.to_string()]
    );
}

#[test]
fn node_host_id_from_needs_nodes_and_exactly_one_key() {
    let mut listed = valid_spec();
    listed["nodeHostIdFrom"] = json!({"label": "ecs-id"});
    assert_eq!(
        cel_errors(listed),
        vec![cel::HOST_ID_FROM_NEEDS_NODES_MESSAGE.to_string()]
    );
    for from in [json!({}), json!({"label": "a", "annotation": "b"})] {
        let mut spec = node_spec(json!({}));
        spec["nodeHostIdFrom"] = from.clone();
        assert_eq!(
            cel_errors(spec),
            vec![cel::HOST_ID_FROM_ONE_MESSAGE.to_string()],
            "{from}"
        );
    }
}

#[test]
fn selector_requirements_take_values_exactly_for_in_and_not_in() {
    for (requirement, ok) in [
        (json!({"key": "k", "operator": "In", "values": ["a"]}), true),
        (
            json!({"key": "k", "operator": "NotIn", "values": ["a"]}),
            true,
        ),
        (json!({"key": "k", "operator": "Exists"}), true),
        (json!({"key": "k", "operator": "In"}), false),
        (json!({"key": "k", "operator": "In", "values": []}), false),
        (
            json!({"key": "k", "operator": "Exists", "values": ["a"]}),
            false,
        ),
        (
            json!({"key": "k", "operator": "DoesNotExist", "values": ["a"]}),
            false,
        ),
    ] {
        let errors = cel_errors(node_spec(
            json!({"matchExpressions": [requirement.clone()]}),
        ));
        let expected = if ok {
            Vec::new()
        } else {
            vec![cel::REQUIREMENT_VALUES_MESSAGE.to_string()]
        };
        assert_eq!(errors, expected, "{requirement}");
    }
}

#[test]
fn region_and_endpoint_together_are_rejected_with_the_message() {
    let mut spec = valid_spec();
    spec["endpoint"] = json!("https://hss.ap-southeast-1.myhuaweicloud.com");
    assert_eq!(
        cel_errors(spec),
        vec![cel::REGION_AND_ENDPOINT_MESSAGE.to_string()]
    );
}

#[test]
fn neither_region_nor_endpoint_is_rejected_with_the_message() {
    let mut spec = valid_spec();
    spec.as_object_mut().expect("object").remove("region");
    assert_eq!(
        cel_errors(spec),
        vec![cel::REGION_OR_ENDPOINT_MESSAGE.to_string()]
    );
}

#[test]
fn interval_floor_is_one_minute() {
    for (interval, ok) in [
        ("30s", false),
        ("59s", false),
        ("0s", false),
        ("60s", true),
        ("1m", true),
        ("1h30m", true),
        ("10m", true),
    ] {
        let mut spec = valid_spec();
        spec["interval"] = json!(interval);
        let errors = cel_errors(spec);
        if ok {
            assert!(errors.is_empty(), "{interval}: {errors:?}");
        } else {
            assert_eq!(
                errors,
                vec![cel::INTERVAL_FLOOR_MESSAGE.to_string()],
                "{interval}"
            );
        }
    }
}

#[test]
fn malformed_interval_is_left_to_the_pattern() {
    // The guard keeps `duration()` from raising an evaluation error; the schema's `pattern`
    // (which the API server checks, kube-cel does not) refuses the value.
    for malformed in ["ten minutes", "30m1h", "1m1m", "500ms", ""] {
        let mut spec = valid_spec();
        spec["interval"] = json!(malformed);
        assert!(cel_errors(spec).is_empty(), "{malformed:?}");
    }
    let pattern = root_schema()["properties"]["spec"]["properties"]["interval"]["pattern"].clone();
    assert_eq!(
        pattern,
        json!(hostrisk_operator::crd::duration::DURATION_PATTERN)
    );
}

#[test]
fn endpoint_must_be_http_or_https() {
    let mut spec = valid_spec();
    spec.as_object_mut().expect("object").remove("region");
    for (endpoint, ok) in [
        ("https://hss.example", true),
        ("http://127.0.0.1:8080", true),
        ("ftp://hss.example", false),
        ("hss.example", false),
    ] {
        spec["endpoint"] = json!(endpoint);
        let errors = cel_errors(spec.clone());
        if ok {
            assert!(errors.is_empty(), "{endpoint}: {errors:?}");
        } else {
            assert_eq!(
                errors,
                vec![cel::ENDPOINT_SCHEME_MESSAGE.to_string()],
                "{endpoint}"
            );
        }
    }
}

#[test]
fn suspend_defaults_to_false() {
    let schema = root_schema();
    assert_eq!(
        schema["properties"]["spec"]["properties"]["suspend"]["default"],
        json!(false)
    );
}

fn typed_spec() -> hostrisk_operator::crd::HostRiskWatchSpec {
    hostrisk_operator::crd::HostRiskWatchSpec {
        project_id: "p".into(),
        region: Some("cn-north-4".into()),
        endpoint: None,
        enterprise_project_id: None,
        host_ids: ["h1"].into(),
        node_selector: None,
        node_host_id_from: None,
        credentials_secret_ref: Some(hostrisk_operator::crd::CredentialsSecretRef {
            name: "s".into(),
        }),
        workload_identity: None,
        interval: None,
        suspend: false,
    }
}

#[test]
fn rust_values_serialize_to_what_the_schema_accepts() {
    // `None` must be omitted, not sent as null: `has(self.endpoint)` would see a null.
    let resource = hostrisk_operator::crd::HostRiskWatch::new("w", typed_spec());
    let value = serde_json::to_value(&resource).expect("serializes");
    assert!(value["spec"].get("endpoint").is_none());
    assert!(Validator::new()
        .validate(&root_schema(), &value, None)
        .is_ok());
    let back: hostrisk_operator::crd::HostRiskWatch =
        serde_json::from_value(value).expect("deserializes");
    assert_eq!(back.spec, typed_spec());
}

#[test]
fn computed_status_round_trips_through_json() {
    use hostrisk_operator::hss::model::HostRisk;
    use hostrisk_operator::status::{
        compute_status, HostData, HostRecord, PollAnswer, PollOutcome, StatusInput, Targets,
    };
    let spec = typed_spec();
    let now = jiff::Timestamp::from_second(1_800_000_000)
        .and_then(|t| t.checked_add(jiff::SignedDuration::from_millis(250)))
        .expect("valid");
    let targets = Targets::listed(&spec.host_ids);
    let update = compute_status(StatusInput {
        generation: Some(1),
        previous: None,
        outcome: PollOutcome::Success(PollAnswer {
            hosts: vec![HostRecord::new(
                "h1".into(),
                HostData::from_risk(&HostRisk::default()),
            )],
            request_ids: vec!["r".into()],
        }),
        targets: &targets,
        contributed: Vec::new(),
        now,
        heartbeat: std::time::Duration::from_secs(1800),
        effective_interval: std::time::Duration::from_secs(600),
        achieved_interval: None,
    });
    let status = update.status.to_crd();
    let json = serde_json::to_string(&status).expect("serializes");
    let back: hostrisk_operator::crd::HostRiskWatchStatus =
        serde_json::from_str(&json).expect("deserializes");
    // Kubernetes stores times to the second; the computed status already is.
    assert_eq!(back, status);
}

#[test]
fn crd_subcommand_prints_the_committed_file() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hostrisk-operator"))
        .arg("crd")
        .output()
        .expect("run hostrisk-operator crd");
    assert!(output.status.success());
    let committed = std::fs::read_to_string(CRD_PATH).expect("read crds/hostriskwatch.yaml");
    assert_eq!(String::from_utf8_lossy(&output.stdout), committed);
}

/// Every HostRiskWatch in `examples/` passes the schema's rules and the code-side checks.
#[test]
fn every_example_watch_passes_the_schema_rules_and_the_code_checks() {
    use hostrisk_operator::crd::validation::{validate_spec, ValidationPolicy};
    use hostrisk_operator::crd::HostRiskWatchSpec;
    use serde::Deserialize;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dir).expect("examples/") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read example");
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(document).expect("YAML");
            if value["kind"] != "HostRiskWatch" {
                continue;
            }
            let spec = value["spec"].clone();
            assert_eq!(cel_errors(spec.clone()), Vec::<String>::new(), "{path:?}");
            let typed: HostRiskWatchSpec = serde_json::from_value(spec).expect("spec");
            validate_spec(&typed, &ValidationPolicy::default())
                .unwrap_or_else(|e| panic!("{path:?}: {e:?}"));
            seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    seen.sort();
    assert!(
        seen.contains(&"hostriskwatch-nodes.yaml".to_string()),
        "{seen:?}"
    );
}
