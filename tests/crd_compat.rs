//! The generated CRD keeps to what a Kubernetes 1.30 API server accepts: every key of the
//! document and of its OpenAPI schema, every `x-kubernetes-*` extension, every field of the
//! validation rules, every string format and every CEL function and macro (tests/crd_compat/floor.rs
//! has the allow-lists and where each fact comes from; docs/compatibility.md says it in prose). A
//! derive change that reaches for a newer feature fails here instead of on a user's 1.30 cluster;
//! the cases below feed such features in, to show that it does.

#[path = "crd_compat/cel_scan.rs"]
mod cel_scan;
#[path = "crd_compat/floor.rs"]
mod floor;

use floor::{check_cel, check_crd, FLOOR_MINOR};
use hostrisk_operator::crd::render::crd_yaml;
use serde_json::{json, Value};

fn generated_crd() -> Value {
    serde_yaml::from_str(&crd_yaml()).expect("the generated CRD parses")
}

fn spec_schema(crd: &mut Value) -> &mut Value {
    crd.pointer_mut("/spec/versions/0/schema/openAPIV3Schema/properties/spec")
        .expect("the spec's schema")
}

/// Every node of the schema with its `x-kubernetes-validations`, to show the walk reaches them.
fn rules(node: &Value, out: &mut Vec<String>) {
    for rule in node["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.push(rule["rule"].as_str().unwrap_or_default().to_owned());
    }
    match node {
        Value::Object(map) => map.values().for_each(|child| rules(child, out)),
        Value::Array(list) => list.iter().for_each(|child| rules(child, out)),
        _ => {}
    }
}

#[test]
fn the_generated_crd_uses_only_what_kubernetes_1_30_accepts() {
    let crd = generated_crd();
    let findings = check_crd(&crd);
    assert!(
        findings.is_empty(),
        "the CRD needs a newer API server than 1.{FLOOR_MINOR}:\n{}",
        findings.join("\n")
    );
    let mut all = Vec::new();
    rules(&crd, &mut all);
    assert!(
        all.len() >= 8,
        "the walk should meet every CEL rule: {all:?}"
    );
    for rule in &all {
        assert!(
            !cel_scan::calls(rule).expect("lexes").is_empty(),
            "{rule}: no call found; is the scanner blind?"
        );
    }
}

/// The lists describe 1.30; a floor moved in Chart.yaml without revisiting them fails here.
#[test]
fn the_lists_describe_the_charts_floor() {
    let chart: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/charts/hostrisk-operator/Chart.yaml"
        ))
        .expect("Chart.yaml"),
    )
    .expect("Chart.yaml parses");
    assert_eq!(
        chart["kubeVersion"].as_str(),
        Some(format!(">=1.{FLOOR_MINOR}.0-0").as_str()),
        "Chart.yaml's floor moved: review tests/crd_compat/floor.rs and docs/compatibility.md"
    );
}

#[test]
fn optional_old_self_and_selectable_fields_are_refused() {
    let mut crd = generated_crd();
    spec_schema(&mut crd)["x-kubernetes-validations"][0]["optionalOldSelf"] = json!(true);
    crd["spec"]["versions"][0]["selectableFields"] = json!([{"jsonPath": ".spec.region"}]);
    let findings = check_crd(&crd);
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert!(findings[0].contains("selectableFields") && findings[0].contains("GA in 1.32"));
    assert!(findings[1].contains("optionalOldSelf") && findings[1].contains("GA in 1.33"));
}

/// `reason` and `fieldPath` are GA by 1.30 (with the validation rules, 1.29): accepted, with a
/// reason from the closed list only.
#[test]
fn reason_and_field_path_are_accepted_with_a_known_reason() {
    let mut crd = generated_crd();
    let rule = &mut spec_schema(&mut crd)["x-kubernetes-validations"][0];
    rule["reason"] = json!("FieldValueForbidden");
    rule["fieldPath"] = json!(".region");
    rule["messageExpression"] = json!("'region ' + self.region + ' and an endpoint'");
    assert_eq!(check_crd(&crd), Vec::<String>::new());
    spec_schema(&mut crd)["x-kubernetes-validations"][0]["reason"] = json!("FieldValueTooLong");
    let findings = check_crd(&crd);
    assert!(
        findings.len() == 1 && findings[0].contains(".reason"),
        "{findings:#?}"
    );
}

#[test]
fn unknown_extensions_keywords_and_formats_are_refused() {
    let mut crd = generated_crd();
    let spec = spec_schema(&mut crd);
    spec["x-kubernetes-future-thing"] = json!(true);
    spec["properties"]["region"]["$ref"] = json!("#/definitions/region");
    spec["properties"]["region"]["format"] = json!("k8s-short-name");
    spec["properties"]["hostIds"]["x-kubernetes-list-type"] = json!("ordered");
    let findings = check_crd(&crd).join("\n");
    for needle in [
        ".x-kubernetes-future-thing: an extension",
        ".region.$ref: not a keyword",
        ".region.format: \"k8s-short-name\"",
        ".hostIds.x-kubernetes-list-type: \"ordered\"",
    ] {
        assert!(
            findings.contains(needle),
            "{needle} missing in:\n{findings}"
        );
    }
}

/// One rule per library or language feature that arrived after 1.30, each refused with the
/// version that brought it; a rule in a `messageExpression` counts too.
#[test]
fn cel_newer_than_1_30_is_refused() {
    for (rule, expected) in [
        ("isIP(self.endpoint)", "1.31"),
        ("ip(self.endpoint).family() == 4", "1.31"),
        ("cidr('10.0.0.0/8').containsIP(self.endpoint)", "1.31"),
        (
            "!format.dns1123Label().validate(self.region).hasValue()",
            "1.32",
        ),
        ("self.hostIds.all(i, id, i < 1000 && id != '')", "1.33"),
        (
            "self.hostIds.transformList(i, id, id.lowerAscii()).size() > 0",
            "1.33",
        ),
        ("isSemver(self.region)", "1.34"),
        ("math.greatest(1, 2) == 2", "not in the CEL environment"),
        (
            "cel.bind(r, self.region, r != '')",
            "not in the CEL environment",
        ),
        ("self.region.reverse() != ''", "not in Kubernetes"),
    ] {
        let mut crd = generated_crd();
        spec_schema(&mut crd)["x-kubernetes-validations"][0]["rule"] = json!(rule);
        let findings = check_crd(&crd);
        assert!(
            !findings.is_empty() && findings.iter().all(|f| f.contains(".rule: ")),
            "{rule}: {findings:#?}"
        );
        assert!(
            findings.iter().any(|f| f.contains(expected)),
            "{rule}: expected {expected:?} in {findings:#?}"
        );
    }
    let mut crd = generated_crd();
    spec_schema(&mut crd)["x-kubernetes-validations"][0]["messageExpression"] =
        json!("'bad address ' + string(ip(self.endpoint))");
    let findings = check_crd(&crd);
    assert!(
        findings.len() == 1 && findings[0].contains(".messageExpression: ip: the IP library"),
        "{findings:#?}"
    );
}

/// What a 1.30 server compiles is accepted: the scanner must not refuse the 1.29-era libraries.
#[test]
fn cel_of_1_30_is_accepted() {
    for rule in [
        "has(self.region) && self.region.matches('^[a-z]+-[a-z]+-[0-9]+$')",
        "self.hostIds.all(id, id.size() <= 64) && self.hostIds.exists_one(id, id == 'a')",
        "self.hostIds.map(id, id.size() > 0, id.upperAscii()).size() == size(self.hostIds)",
        "sets.contains(self.hostIds, ['a']) || sets.intersects(self.hostIds, ['b'])",
        "isQuantity(self.interval) && quantity(self.interval).isGreaterThan(quantity('1'))",
        "self.?region.orValue('') != '' || optional.none().hasValue()",
        "'%s/%s'.format([self.region, self.projectId]) != strings.quote(self.region)",
        "isURL(self.endpoint) && url(self.endpoint).getScheme() == 'https'",
        "self.hostIds.isSorted() && self.interval.findAll('[0-9]+').size() < 4",
        "duration(self.interval) >= duration('1m') && self.region.split('-').join('') != ''",
        "self == 'ip(self) is text, not a call'",
    ] {
        assert_eq!(check_cel(rule), Vec::<String>::new(), "{rule}");
    }
}
