//! Every schema keyword on a test CRD with two versions, and ratcheting: the stand-in's
//! validator against the real one, message by message.

use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{json, Value};

use super::support::{assert_causes, dynamic, install_crds, namespace, object, status};
use super::{Cluster, Row};

/// Every row of this module.
pub const ROWS: &[Row] = crate::rows![
    schema_keywords_answer_like_the_api_server,
    unchanged_invalid_values_are_ratcheted,
];

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
    assert_causes(&refused, &[("spec.mode", "FieldValueRequired")]);
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
    assert_causes(&refused, &[("spec.size", "FieldValueInvalid")]);
}
