//! Server-side apply and `managedFields` on a custom resource (OpenReports `Report`), as the
//! operator writes reports.

use hostrisk_sim::kube::PolicyReportApi;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

use super::support::{dynamic, install_policy_reports, namespace, object, status};
use super::{Cluster, Row};

/// Every row of this module.
pub const ROWS: &[Row] = crate::rows![
    apply_creates_and_records_the_manager,
    identical_apply_writes_nothing,
    apply_conflicts_name_the_other_manager_and_field,
    apply_removes_what_its_manager_stopped_applying,
    updates_are_owned_by_their_field_manager,
    apply_of_an_undeclared_field_is_a_server_error,
    apply_needs_a_field_manager,
];

async fn reports(c: &dyn Cluster, prefix: &str) -> kube::Api<DynamicObject> {
    install_policy_reports(&c.admin(), PolicyReportApi::OpenReports).await;
    let ns = namespace(&c.admin(), prefix).await;
    dynamic(
        &c.admin(),
        "openreports.io/v1alpha1",
        "Report",
        "reports",
        &ns,
    )
}

fn config(summary: Value) -> Value {
    json!({"apiVersion": "openreports.io/v1alpha1", "kind": "Report", "metadata": {"name": "r"},
           "source": "hostrisk-operator", "summary": summary,
           "results": [{"policy": "hss-agent-online", "result": "pass"}]})
}

/// `(manager, operation, subresource)` of each managedFields entry.
fn managers(obj: &DynamicObject) -> Vec<(String, String, String)> {
    obj.metadata
        .managed_fields
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            (
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
                m.subresource.unwrap_or_default(),
            )
        })
        .collect()
}

fn fields_of(obj: &DynamicObject, manager: &str) -> Value {
    obj.metadata
        .managed_fields
        .clone()
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.manager.as_deref() == Some(manager))
        .and_then(|m| m.fields_v1)
        .map(|f| f.0)
        .unwrap_or(Value::Null)
}

async fn apply_creates_and_records_the_manager(c: &dyn Cluster) {
    let reports = reports(c, "ssa-create").await;
    let created = reports
        .patch(
            "r",
            &PatchParams::apply("hostrisk-operator"),
            &Patch::Apply(&config(json!({"pass": 1}))),
        )
        .await
        .unwrap();
    assert_eq!(
        managers(&created),
        [(
            "hostrisk-operator".to_string(),
            "Apply".to_string(),
            String::new()
        )]
    );
    let entry = created.metadata.managed_fields.clone().unwrap().remove(0);
    assert_eq!(
        entry.api_version.as_deref(),
        Some("openreports.io/v1alpha1")
    );
    assert_eq!(entry.fields_type.as_deref(), Some("FieldsV1"));
    assert!(entry.time.is_some());
    // `results` has no list type: it is atomic, owned as one field.
    assert_eq!(
        fields_of(&created, "hostrisk-operator"),
        json!({"f:results": {}, "f:source": {}, "f:summary": {"f:pass": {}}})
    );
}

async fn identical_apply_writes_nothing(c: &dyn Cluster) {
    let reports = reports(c, "ssa-idle").await;
    let pp = PatchParams::apply("hostrisk-operator");
    let first = reports
        .patch("r", &pp, &Patch::Apply(&config(json!({"pass": 1}))))
        .await
        .unwrap();
    let again = reports
        .patch("r", &pp, &Patch::Apply(&config(json!({"pass": 1}))))
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version,
        first.metadata.resource_version
    );
    assert_eq!(again.metadata.managed_fields, first.metadata.managed_fields);
}

async fn apply_conflicts_name_the_other_manager_and_field(c: &dyn Cluster) {
    let reports = reports(c, "ssa-conflict").await;
    reports
        .patch(
            "r",
            &PatchParams::apply("first"),
            &Patch::Apply(&config(json!({"pass": 1}))),
        )
        .await
        .unwrap();
    let refused = status(
        reports
            .patch(
                "r",
                &PatchParams::apply("second"),
                &Patch::Apply(&config(json!({"pass": 2}))),
            )
            .await,
    );
    assert_eq!((refused.code, refused.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        refused.message,
        "Apply failed with 1 conflict: conflict with \"first\": .summary.pass"
    );
    let cause = refused.details.unwrap().causes.remove(0);
    assert_eq!(
        (
            cause.reason.as_str(),
            cause.field.as_str(),
            cause.message.as_str()
        ),
        (
            "FieldManagerConflict",
            ".summary.pass",
            "conflict with \"first\""
        )
    );
    // The same value is no conflict: both managers own it then.
    let shared = reports
        .patch(
            "r",
            &PatchParams::apply("second"),
            &Patch::Apply(&config(json!({"pass": 1}))),
        )
        .await
        .unwrap();
    assert_eq!(
        fields_of(&shared, "second")["f:summary"],
        json!({"f:pass": {}})
    );
    // Forced, the value changes and ownership moves.
    let forced = reports
        .patch(
            "r",
            &PatchParams::apply("second").force(),
            &Patch::Apply(&config(json!({"pass": 2}))),
        )
        .await
        .unwrap();
    assert_eq!(forced.data["summary"]["pass"], 2);
    assert_eq!(fields_of(&forced, "first").get("f:summary"), None);
}

async fn apply_removes_what_its_manager_stopped_applying(c: &dyn Cluster) {
    let reports = reports(c, "ssa-remove").await;
    let pp = PatchParams::apply("hostrisk-operator");
    reports
        .patch(
            "r",
            &pp,
            &Patch::Apply(&config(json!({"pass": 1, "fail": 2, "warn": 3}))),
        )
        .await
        .unwrap();
    // Another manager also applies `warn` with the same value: it stays when we stop.
    let mut other = config(json!({"warn": 3}));
    other.as_object_mut().unwrap().remove("results");
    other.as_object_mut().unwrap().remove("source");
    reports
        .patch("r", &PatchParams::apply("other"), &Patch::Apply(&other))
        .await
        .unwrap();
    let after = reports
        .patch("r", &pp, &Patch::Apply(&config(json!({"pass": 1}))))
        .await
        .unwrap();
    assert_eq!(after.data["summary"], json!({"pass": 1, "warn": 3}));
}

async fn updates_are_owned_by_their_field_manager(c: &dyn Cluster) {
    let reports = reports(c, "ssa-update").await;
    let body = config(json!({"pass": 1}));
    let created = reports
        .create(
            &PostParams {
                field_manager: Some("creator".into()),
                ..Default::default()
            },
            &object(body),
        )
        .await
        .unwrap();
    assert_eq!(
        managers(&created),
        [("creator".to_string(), "Update".to_string(), String::new())]
    );
    let patched = reports
        .patch(
            "r",
            &PatchParams {
                field_manager: Some("editor".into()),
                ..Default::default()
            },
            &Patch::Merge(&json!({"summary": {"fail": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(
        fields_of(&patched, "editor"),
        json!({"f:summary": {"f:fail": {}}})
    );
    // An apply of a field an updater owns conflicts with it ("using <apiVersion>").
    let refused = status(
        reports
            .patch(
                "r",
                &PatchParams::apply("applier"),
                &Patch::Apply(&config(json!({"fail": 5}))),
            )
            .await,
    );
    assert_eq!(
        refused.message,
        "Apply failed with 1 conflict: conflict with \"editor\" using openreports.io/v1alpha1: .summary.fail"
    );
}

async fn apply_of_an_undeclared_field_is_a_server_error(c: &dyn Cluster) {
    let reports = reports(c, "ssa-undeclared").await;
    let mut body = config(json!({"pass": 1}));
    body["results"][0]["bogus"] = json!(true);
    let refused = status(
        reports
            .patch(
                "r",
                &PatchParams::apply("hostrisk-operator"),
                &Patch::Apply(&body),
            )
            .await,
    );
    // Unlike create and update (which prune the field), server-side apply refuses it: the
    // configuration cannot be converted to the schema's type (kubernetes/kubernetes#139253).
    assert_eq!(refused.code, 500, "{refused:?}");
    assert!(
        refused
            .message
            .starts_with("failed to create typed patch object (")
            && refused
                .message
                .ends_with(".results[0].bogus: field not declared in schema"),
        "{}",
        refused.message
    );
}

async fn apply_needs_a_field_manager(c: &dyn Cluster) {
    let reports = reports(c, "ssa-manager").await;
    let refused = status(
        reports
            .patch(
                "r",
                &PatchParams::default(),
                &Patch::Apply(&config(json!({"pass": 1}))),
            )
            .await,
    );
    assert_eq!(refused.code, 422);
    assert!(
        refused.message.contains("fieldManager: Required value"),
        "{}",
        refused.message
    );
}
