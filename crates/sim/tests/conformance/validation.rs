//! Schema validation of custom resources: what a real kube-apiserver refuses (422 with
//! causes), prunes (silently) and accepts, with the policy-report CRDs as published, the
//! repository's HostRiskWatch CRD and a test CRD touching every schema keyword.

use hostrisk_sim::kube::PolicyReportApi;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{json, Value};

use super::support::{causes, dynamic, install_crds, namespace, object, status, HOSTRISKWATCH_CRD};
use super::{Cluster, Row};

/// Every row of this module.
pub const ROWS: &[Row] = crate::rows![
    report_enum_is_refused_with_the_real_message,
    report_types_and_required_fields_are_checked,
    unknown_report_fields_are_pruned_silently,
    each_version_is_validated_and_stored_by_its_own_schema,
    hostriskwatch_cel_rules_refuse_with_their_message,
    blocking_schema_errors_skip_cel_rules,
    list_sets_refuse_duplicates,
    status_writes_validate_the_status,
    schema_keywords_answer_like_the_api_server,
    unchanged_invalid_values_are_ratcheted,
];

async fn install_openreports(c: &dyn Cluster) {
    for crd in PolicyReportApi::OpenReports.crds() {
        install_crds(&c.admin(), crd.yaml).await;
    }
}

fn report(name: &str, result: Value) -> Value {
    json!({
        "apiVersion": "openreports.io/v1alpha1", "kind": "Report",
        "metadata": {"name": name},
        "source": "hostrisk-operator",
        "summary": {"pass": 0, "fail": 1, "warn": 0, "error": 0, "skip": 0},
        "results": [result],
    })
}

fn result(outcome: &str) -> Value {
    json!({"policy": "hss-agent-online", "result": outcome, "severity": "high",
           "timestamp": {"seconds": 1_700_000_000, "nanos": 0}, "properties": {"hostId": "h-1"}})
}

async fn report_enum_is_refused_with_the_real_message(c: &dyn Cluster) {
    install_openreports(c).await;
    let ns = namespace(&c.admin(), "enum").await;
    let reports = dynamic(
        &c.admin(),
        "openreports.io/v1alpha1",
        "Report",
        "reports",
        &ns,
    );
    let refused = status(
        reports
            .create(
                &PostParams::default(),
                &object(report("r", result("bogus"))),
            )
            .await,
    );
    assert_eq!((refused.code, refused.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        refused.message,
        "Report.openreports.io \"r\" is invalid: results[0].result: Unsupported value: \"bogus\": supported values: \"pass\", \"fail\", \"warn\", \"error\", \"skip\""
    );
    let details = refused.details.clone().unwrap();
    assert_eq!(
        (
            details.kind.as_str(),
            details.group.as_str(),
            details.name.as_str()
        ),
        ("Report", "openreports.io", "r")
    );
    assert_eq!(
        causes(&refused),
        [(
            "results[0].result".to_string(),
            "FieldValueNotSupported".to_string()
        )]
    );
    assert_eq!(
        details.causes[0].message,
        "Unsupported value: \"bogus\": supported values: \"pass\", \"fail\", \"warn\", \"error\", \"skip\""
    );
    // A valid report is stored, then an update to an unknown value is refused the same way.
    reports
        .create(&PostParams::default(), &object(report("r", result("fail"))))
        .await
        .unwrap();
    let patch = json!({"results": [result("maybe")]});
    let refused = status(
        reports
            .patch("r", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    );
    assert_eq!(
        causes(&refused),
        [(
            "results[0].result".to_string(),
            "FieldValueNotSupported".to_string()
        )]
    );
}

async fn report_types_and_required_fields_are_checked(c: &dyn Cluster) {
    install_openreports(c).await;
    let ns = namespace(&c.admin(), "types").await;
    let reports = dynamic(
        &c.admin(),
        "openreports.io/v1alpha1",
        "Report",
        "reports",
        &ns,
    );
    let mut bad = report(
        "t",
        json!({"result": "pass", "timestamp": {"seconds": 1, "nanos": "0"}}),
    );
    bad["summary"]["pass"] = json!("one");
    bad["configuration"] = json!({});
    let refused = status(reports.create(&PostParams::default(), &object(bad)).await);
    assert_eq!(
        causes(&refused),
        [
            (
                "configuration.limits".to_string(),
                "FieldValueRequired".to_string()
            ),
            (
                "results[0].policy".to_string(),
                "FieldValueRequired".to_string()
            ),
            (
                "results[0].timestamp.nanos".to_string(),
                "FieldValueTypeInvalid".to_string()
            ),
            (
                "summary.pass".to_string(),
                "FieldValueTypeInvalid".to_string()
            ),
        ]
    );
    assert!(
        refused.message.contains("summary.pass: Invalid value: \"string\": summary.pass in body must be of type integer: \"string\""),
        "{}",
        refused.message
    );
    assert!(
        refused
            .message
            .contains("results[0].policy: Required value"),
        "{}",
        refused.message
    );
}

async fn unknown_report_fields_are_pruned_silently(c: &dyn Cluster) {
    install_openreports(c).await;
    let ns = namespace(&c.admin(), "prune").await;
    let reports = dynamic(
        &c.admin(),
        "openreports.io/v1alpha1",
        "Report",
        "reports",
        &ns,
    );
    let mut body = report("p", result("pass"));
    body["results"][0]["bogus"] = json!(1);
    body["extra"] = json!({"a": 1});
    let created = reports
        .create(&PostParams::default(), &object(body))
        .await
        .unwrap();
    assert!(created.data.get("extra").is_none());
    assert!(created.data["results"][0].get("bogus").is_none());
    assert_eq!(created.data["results"][0]["properties"]["hostId"], "h-1");
    let patched = reports
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(&json!({"summary": {"pass": 3, "other": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(
        patched.data["summary"],
        json!({"pass": 3, "fail": 1, "warn": 0, "error": 0, "skip": 0})
    );
}

async fn each_version_is_validated_and_stored_by_its_own_schema(c: &dyn Cluster) {
    for crd in PolicyReportApi::WgPolicyK8s.crds() {
        install_crds(&c.admin(), crd.yaml).await;
    }
    let ns = namespace(&c.admin(), "versions").await;
    let at = |v: &str| {
        dynamic(
            &c.admin(),
            &format!("wgpolicyk8s.io/{v}"),
            "PolicyReport",
            "policyreports",
            &ns,
        )
    };
    // v1alpha2 (and the storage version v1beta1) calls the outcome `result`; this CRD has
    // `results[].source` but no report-level `source` (OpenReports added it): that one is pruned.
    let body = json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport", "metadata": {"name": "a2"},
        "source": "hostrisk-operator",
        "results": [{"policy": "p", "result": "fail", "source": "hostrisk-operator"}]});
    let created = at("v1alpha2")
        .create(&PostParams::default(), &object(body))
        .await
        .unwrap();
    assert!(created.data.get("source").is_none());
    assert_eq!(
        created.data["results"][0],
        json!({"policy": "p", "result": "fail", "source": "hostrisk-operator"})
    );
    let bad = json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport", "metadata": {"name": "bad"},
        "results": [{"policy": "p", "result": "bogus"}]});
    let refused = status(
        at("v1alpha2")
            .create(&PostParams::default(), &object(bad))
            .await,
    );
    assert_eq!(
        causes(&refused),
        [(
            "results[0].result".to_string(),
            "FieldValueNotSupported".to_string()
        )]
    );
    // v1alpha1 calls it `status`: validated by v1alpha1's enum...
    let bad = json!({"apiVersion": "wgpolicyk8s.io/v1alpha1", "kind": "PolicyReport", "metadata": {"name": "bad1"},
        "results": [{"policy": "p", "status": "bogus"}]});
    let refused = status(
        at("v1alpha1")
            .create(&PostParams::default(), &object(bad))
            .await,
    );
    assert_eq!(
        causes(&refused),
        [(
            "results[0].status".to_string(),
            "FieldValueNotSupported".to_string()
        )]
    );
    // ... accepted there, but the storage version has no such field: it is not stored, and
    // v1alpha1's `result`-less schema does not keep v1alpha2's `result` either.
    let ok = json!({"apiVersion": "wgpolicyk8s.io/v1alpha1", "kind": "PolicyReport", "metadata": {"name": "a1"},
        "results": [{"policy": "p", "status": "pass", "result": "fail"}]});
    let created = at("v1alpha1")
        .create(&PostParams::default(), &object(ok))
        .await
        .unwrap();
    assert_eq!(created.data["results"][0], json!({"policy": "p"}));
    let read = at("v1alpha2").get("a2").await.unwrap();
    assert_eq!(read.types.unwrap().api_version, "wgpolicyk8s.io/v1alpha2");
    let read = at("v1alpha1").get("a2").await.unwrap();
    assert_eq!(
        read.data["results"][0],
        json!({"policy": "p"}),
        "v1alpha1 has no `result` nor `source`"
    );
}

fn watch(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "hostrisk.io/v1alpha1", "kind": "HostRiskWatch", "metadata": {"name": name}, "spec": spec})
}

fn valid_spec() -> Value {
    json!({"projectId": "0a1b2c3d4e5f40718293a4b5c6d7e8f9", "region": "ap-southeast-1",
           "hostIds": ["h-1", "h-2"], "credentialsSecretRef": {"name": "creds"}})
}

async fn hostriskwatch_cel_rules_refuse_with_their_message(c: &dyn Cluster) {
    install_crds(&c.admin(), HOSTRISKWATCH_CRD).await;
    let ns = namespace(&c.admin(), "cel").await;
    let watches = dynamic(
        &c.admin(),
        "hostrisk.io/v1alpha1",
        "HostRiskWatch",
        "hostriskwatches",
        &ns,
    );
    let mut spec = valid_spec();
    spec["endpoint"] = json!("https://hss.example.internal");
    let refused = status(
        watches
            .create(&PostParams::default(), &object(watch("both", spec)))
            .await,
    );
    assert_eq!(
        refused.message,
        "HostRiskWatch.hostrisk.io \"both\" is invalid: spec: Invalid value: \"object\": spec.region and spec.endpoint are mutually exclusive: set exactly one of them"
    );
    assert_eq!(
        causes(&refused),
        [("spec".to_string(), "FieldValueInvalid".to_string())]
    );
    watches
        .create(&PostParams::default(), &object(watch("ok", valid_spec())))
        .await
        .unwrap();
    // Rules hold on update too (a merge patch adding the endpoint).
    let patch = json!({"spec": {"endpoint": "https://hss.example.internal"}});
    let refused = status(
        watches
            .patch("ok", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    );
    assert_eq!(
        causes(&refused),
        [("spec".to_string(), "FieldValueInvalid".to_string())]
    );
}

async fn blocking_schema_errors_skip_cel_rules(c: &dyn Cluster) {
    install_crds(&c.admin(), HOSTRISKWATCH_CRD).await;
    let ns = namespace(&c.admin(), "blocking").await;
    let watches = dynamic(
        &c.admin(),
        "hostrisk.io/v1alpha1",
        "HostRiskWatch",
        "hostriskwatches",
        &ns,
    );
    let mut spec = valid_spec();
    spec["endpoint"] = json!("https://hss.example.internal");
    spec["interval"] = json!(600);
    let refused = status(
        watches
            .create(&PostParams::default(), &object(watch("typed", spec)))
            .await,
    );
    assert_eq!(
        causes(&refused),
        [
            ("<nil>".to_string(), "FieldValueInvalid".to_string()),
            (
                "spec.interval".to_string(),
                "FieldValueTypeInvalid".to_string()
            ),
        ]
    );
    assert!(
        refused.message.contains("<nil>: Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"),
        "{}",
        refused.message
    );
}

async fn list_sets_refuse_duplicates(c: &dyn Cluster) {
    install_crds(&c.admin(), HOSTRISKWATCH_CRD).await;
    let ns = namespace(&c.admin(), "sets").await;
    let watches = dynamic(
        &c.admin(),
        "hostrisk.io/v1alpha1",
        "HostRiskWatch",
        "hostriskwatches",
        &ns,
    );
    let mut spec = valid_spec();
    spec["hostIds"] = json!(["h-1", "h-2", "h-1"]);
    let refused = status(
        watches
            .create(&PostParams::default(), &object(watch("dup", spec)))
            .await,
    );
    assert!(
        refused
            .message
            .contains("spec.hostIds[2]: Duplicate value: \"h-1\""),
        "{}",
        refused.message
    );
}

async fn status_writes_validate_the_status(c: &dyn Cluster) {
    install_crds(&c.admin(), HOSTRISKWATCH_CRD).await;
    let ns = namespace(&c.admin(), "status").await;
    let watches = dynamic(
        &c.admin(),
        "hostrisk.io/v1alpha1",
        "HostRiskWatch",
        "hostriskwatches",
        &ns,
    );
    watches
        .create(&PostParams::default(), &object(watch("w", valid_spec())))
        .await
        .unwrap();
    let condition = json!({"type": "Ready", "status": "True", "reason": "Synced", "message": "ok",
                           "lastTransitionTime": "not a time"});
    let patch = json!({"status": {"conditions": [condition]}});
    let refused = status(
        watches
            .patch_status("w", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    );
    // A type error blocks the CRD's CEL rules: they are reported as not checked.
    assert_eq!(
        causes(&refused),
        [
            ("<nil>".to_string(), "FieldValueInvalid".to_string()),
            (
                "status.conditions[0].lastTransitionTime".to_string(),
                "FieldValueTypeInvalid".to_string()
            ),
        ]
    );
    let mut fixed = condition.clone();
    fixed["lastTransitionTime"] = json!("2024-05-01T10:00:00Z");
    let missing = json!({"type": "CredentialsValid", "status": "True"});
    let patch = json!({"status": {"conditions": [fixed, missing]}});
    let refused = status(
        watches
            .patch_status("w", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    );
    assert_eq!(
        causes(&refused),
        [
            ("<nil>".to_string(), "FieldValueInvalid".to_string()),
            (
                "status.conditions[1].lastTransitionTime".to_string(),
                "FieldValueRequired".to_string()
            ),
            (
                "status.conditions[1].message".to_string(),
                "FieldValueRequired".to_string()
            ),
            (
                "status.conditions[1].reason".to_string(),
                "FieldValueRequired".to_string()
            ),
        ]
    );
    let patch = json!({"status": {"conditions": [fixed]}});
    let written = watches
        .patch_status("w", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(written.data["status"]["conditions"][0]["reason"], "Synced");
}

/// A CRD touching each schema keyword, with two versions whose schemas differ.
const GADGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.conformance.standin.io}
spec:
  group: conformance.standin.io
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 1, maximum: 10, default: 3}
              ratio: {type: number, exclusiveMaximum: true, maximum: 1}
              port: {x-kubernetes-int-or-string: true}
              name: {type: string, minLength: 2, maxLength: 8, pattern: '^[a-z]+$'}
              mode: {type: string, enum: [fast, slow]}
              when: {type: string, format: date-time}
              small: {type: integer, format: int32}
              note: {type: string, nullable: true}
              dropped: {type: string}
              tags: {type: array, maxItems: 2, items: {type: string}, x-kubernetes-list-type: set}
              labels: {type: object, minProperties: 1, maxProperties: 2, additionalProperties: {type: string}}
              free: {type: object, x-kubernetes-preserve-unknown-fields: true}
              template: {type: object, x-kubernetes-embedded-resource: true, x-kubernetes-preserve-unknown-fields: true}
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items: {type: object, required: [name], properties: {name: {type: string}, number: {type: integer}}}
  - name: v2
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [mode]
            properties:
              size: {type: integer, minimum: 1, maximum: 100}
              mode: {type: string, enum: [fast, slow, auto]}
"#;

async fn schema_keywords_answer_like_the_api_server(c: &dyn Cluster) {
    install_crds(&c.admin(), GADGET_CRD).await;
    let ns = namespace(&c.admin(), "gadgets").await;
    let v1 = dynamic(
        &c.admin(),
        "conformance.standin.io/v1",
        "Gadget",
        "gadgets",
        &ns,
    );
    let v2 = dynamic(
        &c.admin(),
        "conformance.standin.io/v2",
        "Gadget",
        "gadgets",
        &ns,
    );
    let gadget = |name: &str, api: &str, spec: Value| {
        object(
            json!({"apiVersion": format!("conformance.standin.io/{api}"), "kind": "Gadget", "metadata": {"name": name}, "spec": spec}),
        )
    };
    let refused = status(
        v1.create(
            &PostParams::default(),
            &gadget("bad", "v1", json!({
                "size": 11, "ratio": 1.0, "port": true, "name": "X", "mode": "turbo",
                "when": "yesterday", "tags": ["a", "b", "a"], "labels": {},
                "template": {"kind": "Pod"}, "ports": [{"name": "a"}, {"name": "a"}, {"number": 1}]
            })),
        )
        .await,
    );
    let mut messages: Vec<String> = refused
        .details
        .unwrap()
        .causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    messages.sort();
    assert_eq!(
        messages,
        [
            "spec.labels: Invalid value: 0: spec.labels in body should have at least 1 properties",
            "spec.mode: Unsupported value: \"turbo\": supported values: \"fast\", \"slow\"",
            "spec.name: Invalid value: \"X\": spec.name in body should be at least 2 chars long",
            "spec.name: Invalid value: \"X\": spec.name in body should match '^[a-z]+$'",
            "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
            "spec.ports[1]: Duplicate value: map[string]interface {}{\"name\":\"a\"}",
            "spec.ports[2].name: Required value",
            "spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1",
            "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10",
            "spec.tags: Too many: 3: must have at most 2 items",
            "spec.tags[2]: Duplicate value: \"a\"",
            "spec.template.apiVersion: Required value: must not be empty",
            "spec.when: Invalid value: \"yesterday\": spec.when in body must be of type date-time: \"yesterday\"",
        ]
    );
    // Accepted: int32 is not range-checked, nulls of non-nullable fields are dropped, nullable
    // ones kept, defaults set, unknown fields pruned except where preserved.
    let created = v1
        .create(
            &PostParams::default(),
            &gadget("ok", "v1", json!({
                "port": "http", "small": 99_999_999_999_i64, "dropped": null, "note": null,
                "when": "2024-05-01T10:00:00.5+02:00", "free": {"any": {"thing": [1]}}, "unknown": 1,
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": 1}}
            })),
        )
        .await
        .unwrap();
    let spec = &created.data["spec"];
    assert_eq!(spec["size"], 3, "defaulted");
    assert_eq!(spec["small"], 99_999_999_999_i64);
    assert!(spec.get("dropped").is_none() && spec.get("unknown").is_none());
    assert_eq!(spec["note"], Value::Null);
    assert_eq!(spec["free"]["any"]["thing"], json!([1]));
    assert_eq!(spec["template"]["spec"]["x"], 1);
    // v2 is validated by v2's schema (required mode, size up to 100), not v1's.
    let refused = status(
        v2.create(
            &PostParams::default(),
            &gadget("v2bad", "v2", json!({"size": 50})),
        )
        .await,
    );
    assert_eq!(
        causes(&refused),
        [("spec.mode".to_string(), "FieldValueRequired".to_string())]
    );
    v2.create(
        &PostParams::default(),
        &gadget("v2ok", "v2", json!({"size": 50, "mode": "auto"})),
    )
    .await
    .unwrap();
    let read = v1.get("v2ok").await.unwrap();
    assert_eq!(
        read.data["spec"]["size"], 50,
        "stored as written; v1's bounds are not applied on read"
    );
}

async fn unchanged_invalid_values_are_ratcheted(c: &dyn Cluster) {
    install_crds(&c.admin(), GADGET_CRD).await;
    let ns = namespace(&c.admin(), "ratchet").await;
    let v2 = dynamic(
        &c.admin(),
        "conformance.standin.io/v2",
        "Gadget",
        "gadgets",
        &ns,
    );
    let v1 = dynamic(
        &c.admin(),
        "conformance.standin.io/v1",
        "Gadget",
        "gadgets",
        &ns,
    );
    // Written through v2, size 50 is out of v1's bounds; an update through v1 that leaves
    // size alone is accepted, one that changes it to another bad value is not.
    v2.create(
        &PostParams::default(),
        &object(json!({"apiVersion": "conformance.standin.io/v2", "kind": "Gadget", "metadata": {"name": "r"}, "spec": {"size": 50, "mode": "fast"}})),
    )
    .await
    .unwrap();
    v1.patch(
        "r",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"name": "abc"}})),
    )
    .await
    .unwrap();
    let refused = status(
        v1.patch(
            "r",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"size": 60}})),
        )
        .await,
    );
    assert_eq!(
        causes(&refused),
        [("spec.size".to_string(), "FieldValueInvalid".to_string())]
    );
}
