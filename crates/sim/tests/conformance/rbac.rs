//! RBAC per verb and subresource: a ServiceAccount does exactly what its Roles and
//! ClusterRoles let it, with the API server's 403 messages.

use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

use super::support::{
    apply_objects, dynamic, install_crds, install_policy_reports, namespace, object, status,
    unique, HOSTRISKWATCH_CRD,
};
use super::{Cluster, Row};

/// Every row of this module.
pub const ROWS: &[Row] = crate::rows![
    status_rules_do_not_cover_the_main_resource,
    nodes_and_nodes_status_are_authorized_apart,
    resource_names_limit_gets_and_exactly_filtered_lists,
    a_binding_to_a_missing_role_names_it,
    role_bindings_grant_in_their_namespace_only,
    service_account_tokens_need_their_rules_too,
    an_apply_that_creates_is_authorized_as_a_create_too,
];

async fn account(c: &dyn Cluster, ns: &str, name: &str) -> kube::Client {
    let accounts: Api<ServiceAccount> = Api::namespaced(c.admin(), ns);
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    accounts.create(&PostParams::default(), &sa).await.unwrap();
    c.service_account_client(ns, name).await
}

fn user(ns: &str, name: &str) -> String {
    format!("system:serviceaccount:{ns}:{name}")
}

async fn watch(c: &dyn Cluster, ns: &str) {
    let watches = dynamic(
        &c.admin(),
        "hostrisk.io/v1alpha1",
        "HostRiskWatch",
        "hostriskwatches",
        ns,
    );
    let body = json!({"apiVersion": "hostrisk.io/v1alpha1", "kind": "HostRiskWatch", "metadata": {"name": "w"},
        "spec": {"projectId": "0a1b2c3d4e5f40718293a4b5c6d7e8f9", "region": "ap-southeast-1",
                 "hostIds": ["h-1"], "credentialsSecretRef": {"name": "creds"}}});
    watches
        .create(&PostParams::default(), &object(body))
        .await
        .unwrap();
}

async fn status_rules_do_not_cover_the_main_resource(c: &dyn Cluster) {
    install_crds(&c.admin(), HOSTRISKWATCH_CRD).await;
    let ns = namespace(&c.admin(), "rbac-status").await;
    watch(c, &ns).await;
    apply_objects(&c.admin(), &[
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "operator", "namespace": ns},
               "rules": [{"apiGroups": ["hostrisk.io"], "resources": ["hostriskwatches"], "verbs": ["get", "list", "watch"]},
                         {"apiGroups": ["hostrisk.io"], "resources": ["hostriskwatches/status"], "verbs": ["patch", "update"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "operator", "namespace": ns},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "operator"},
               "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": ns}]}),
    ]).await;
    let client = account(c, &ns, "operator").await;
    let watches = dynamic(
        &client,
        "hostrisk.io/v1alpha1",
        "HostRiskWatch",
        "hostriskwatches",
        &ns,
    );
    watches.get("w").await.unwrap();
    assert_eq!(
        watches
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let status_patch = json!({"status": {"observedGeneration": 1}});
    watches
        .patch_status("w", &PatchParams::default(), &Patch::Merge(&status_patch))
        .await
        .unwrap();
    let refused = status(
        watches
            .patch(
                "w",
                &PatchParams::default(),
                &Patch::Merge(&json!({"metadata": {"labels": {"a": "b"}}})),
            )
            .await,
    );
    assert_eq!((refused.code, refused.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        refused.message,
        format!(
            "hostriskwatches.hostrisk.io \"w\" is forbidden: User \"{}\" cannot patch resource \"hostriskwatches\" in API group \"hostrisk.io\" in the namespace \"{ns}\"",
            user(&ns, "operator")
        )
    );
    let details = refused.details.unwrap();
    assert_eq!(
        (
            details.kind.as_str(),
            details.group.as_str(),
            details.name.as_str()
        ),
        ("hostriskwatches", "hostrisk.io", "w")
    );
    let refused = status(watches.delete("w", &Default::default()).await);
    assert_eq!(refused.code, 403);
}

async fn nodes_and_nodes_status_are_authorized_apart(c: &dyn Cluster) {
    let ns = namespace(&c.admin(), "rbac-nodes").await;
    let role = unique("node-conditions");
    let node_name = unique("rbac-node");
    let nodes: Api<Node> = Api::all(c.admin());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": node_name}})).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    apply_objects(&c.admin(), &[
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": role},
               "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
                         {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": role},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
               "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": ns}]}),
    ]).await;
    let client = account(c, &ns, "operator").await;
    let as_sa: Api<Node> = Api::all(client);
    let condition = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node_name},
        "status": {"conditions": [{"type": "HostSecurityAtRisk", "status": "False", "reason": "Clean", "message": "ok"}]}});
    as_sa
        .patch_status(
            &node_name,
            &PatchParams::apply("hostrisk-operator"),
            &Patch::Apply(&condition),
        )
        .await
        .unwrap();
    let taint =
        json!({"spec": {"taints": [{"key": "hostrisk.io/at-risk", "effect": "PreferNoSchedule"}]}});
    let refused = status(
        as_sa
            .patch(&node_name, &PatchParams::default(), &Patch::Merge(&taint))
            .await,
    );
    assert_eq!(
        refused.message,
        format!(
            "nodes \"{node_name}\" is forbidden: User \"{}\" cannot patch resource \"nodes\" in API group \"\" at the cluster scope",
            user(&ns, "operator")
        )
    );
    let current = as_sa.get(&node_name).await.unwrap();
    let refused = status(
        as_sa
            .replace_status(&node_name, &PostParams::default(), &current)
            .await,
    );
    assert!(
        refused
            .message
            .contains("cannot update resource \"nodes/status\""),
        "{}",
        refused.message
    );
}

async fn resource_names_limit_gets_and_exactly_filtered_lists(c: &dyn Cluster) {
    let ns = namespace(&c.admin(), "rbac-names").await;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(c.admin(), &ns);
    for name in ["mine", "other"] {
        let s =
            serde_json::from_value(json!({"metadata": {"name": name}, "stringData": {"k": "v"}}))
                .unwrap();
        secrets.create(&PostParams::default(), &s).await.unwrap();
    }
    apply_objects(&c.admin(), &[
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "one", "namespace": ns},
               "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["mine"], "verbs": ["get", "list", "watch"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "one", "namespace": ns},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "one"},
               "subjects": [{"kind": "ServiceAccount", "name": "reader"}]}),
    ]).await;
    let client = account(c, &ns, "reader").await;
    let as_sa: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client, &ns);
    as_sa.get("mine").await.unwrap();
    let refused = status(as_sa.get("other").await);
    assert_eq!(refused.code, 403);
    let refused = status(as_sa.list(&ListParams::default()).await);
    assert_eq!(
        refused.message,
        format!("secrets is forbidden: User \"{}\" cannot list resource \"secrets\" in API group \"\" in the namespace \"{ns}\"", user(&ns, "reader"))
    );
    let listed = as_sa
        .list(&ListParams::default().fields("metadata.name=mine"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
}

async fn a_binding_to_a_missing_role_names_it(c: &dyn Cluster) {
    let ns = namespace(&c.admin(), "rbac-missing").await;
    let missing = unique("missing");
    apply_objects(&c.admin(), &[json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "dangling", "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": missing},
        "subjects": [{"kind": "ServiceAccount", "name": "lost", "namespace": ns}]})]).await;
    let client = account(c, &ns, "lost").await;
    let as_sa: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client, &ns);
    let refused = status(as_sa.list(&ListParams::default()).await);
    assert!(
        refused.message.ends_with(&format!(
            ": RBAC: clusterrole.rbac.authorization.k8s.io \"{missing}\" not found"
        )),
        "{}",
        refused.message
    );
}

async fn role_bindings_grant_in_their_namespace_only(c: &dyn Cluster) {
    let home = namespace(&c.admin(), "rbac-home").await;
    let away = namespace(&c.admin(), "rbac-away").await;
    let role = unique("secret-reader");
    apply_objects(&c.admin(), &[
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": role},
               "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "read", "namespace": home},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
               "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": home}]}),
    ]).await;
    let client = account(c, &home, "app").await;
    let at = |ns: &str| -> Api<k8s_openapi::api::core::v1::Secret> {
        Api::namespaced(client.clone(), ns)
    };
    at(&home).list(&ListParams::default()).await.unwrap();
    assert_eq!(
        status(at(&away).list(&ListParams::default()).await).code,
        403
    );
    let all: Api<k8s_openapi::api::core::v1::Secret> = Api::all(client.clone());
    let refused = status(all.list(&ListParams::default()).await);
    assert!(
        refused.message.ends_with("at the cluster scope"),
        "{}",
        refused.message
    );
}

async fn service_account_tokens_need_their_rules_too(c: &dyn Cluster) {
    let ns = namespace(&c.admin(), "rbac-token").await;
    let client = account(c, &ns, "idle").await;
    let accounts: Api<ServiceAccount> = Api::namespaced(client, &ns);
    let request: Value = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"audiences": ["x"]}});
    let request = serde_json::from_value(request).unwrap();
    let refused = status(
        accounts
            .create_token_request("idle", &PostParams::default(), &request)
            .await,
    );
    assert!(
        refused
            .message
            .contains("cannot create resource \"serviceaccounts/token\" in API group \"\""),
        "{}",
        refused.message
    );
}

/// Server-side apply creates a missing object: the patch handler authorizes that as a `create`
/// too (`withAuthorization`), so a writer of reports needs `create` besides `patch`.
async fn an_apply_that_creates_is_authorized_as_a_create_too(c: &dyn Cluster) {
    install_policy_reports(&c.admin(), hostrisk_sim::kube::PolicyReportApi::OpenReports).await;
    let ns = namespace(&c.admin(), "rbac-apply").await;
    let role = |verbs: Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "writer", "namespace": ns},
               "rules": [{"apiGroups": ["openreports.io"], "resources": ["reports"], "verbs": verbs}]})
    };
    apply_objects(&c.admin(), &[
        role(json!(["patch"])),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "writer", "namespace": ns},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "writer"},
               "subjects": [{"kind": "ServiceAccount", "name": "writer"}]}),
    ]).await;
    let client = account(c, &ns, "writer").await;
    let reports = dynamic(&client, "openreports.io/v1alpha1", "Report", "reports", &ns);
    let report = |source: &str| {
        json!({"apiVersion": "openreports.io/v1alpha1", "kind": "Report", "metadata": {"name": "r"},
               "source": source})
    };
    let apply = PatchParams::apply("writer");
    let refused = status(
        reports
            .patch("r", &apply, &Patch::Apply(&report("a")))
            .await,
    );
    assert_eq!((refused.code, refused.reason.as_str()), (403, "Forbidden"));
    assert!(
        refused
            .message
            .starts_with("reports.openreports.io \"r\" is forbidden"),
        "{}",
        refused.message
    );
    // A real server's authorizer follows Role changes through an informer: a moment late.
    let until_allowed = |body: Value| {
        let reports = reports.clone();
        let apply = apply.clone();
        async move {
            for _ in 0..50 {
                match reports.patch("r", &apply, &Patch::Apply(&body)).await {
                    Ok(object) => return object,
                    Err(kube::Error::Api(s)) if s.code == 403 => {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await
                    }
                    Err(error) => panic!("{error}"),
                }
            }
            panic!("still refused after the Role allows it")
        }
    };
    apply_objects(&c.admin(), &[role(json!(["create", "patch"]))]).await;
    until_allowed(report("a")).await;
    // Once it exists, changing it is a patch alone.
    apply_objects(&c.admin(), &[role(json!(["patch"]))]).await;
    let changed = until_allowed(report("b")).await;
    assert_eq!(changed.data["source"], "b");
}
