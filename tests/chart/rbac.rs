//! What the rendered RBAC lets the operator's ServiceAccount do, flattened to single grants so that it can
//! be compared with an allow-list.

use std::collections::BTreeSet;

use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};

use super::render::{Rendered, RELEASE_NAMESPACE};

/// Where a grant applies: everywhere (ClusterRoleBinding) or in one namespace (RoleBinding).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Cluster,
    Namespace(String),
}

/// One verb on one resource (optionally one named object) in one scope.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub scope: Scope,
    pub api_group: String,
    pub resource: String,
    pub verb: String,
    pub resource_name: Option<String>,
}

pub fn grant(scope: &Scope, group: &str, resource: &str, verb: &str, name: Option<&str>) -> Grant {
    Grant {
        scope: scope.clone(),
        api_group: group.to_owned(),
        resource: resource.to_owned(),
        verb: verb.to_owned(),
        resource_name: name.map(str::to_owned),
    }
}

/// Everything the operator needs, for HostRiskWatches watched in `scope`, plus Leases when it elects a leader
/// and the Nodes (cluster-wide) when it serves node-backed watches.
pub fn allow_list(watch_scopes: &[Scope], leader_election: bool, nodes: bool) -> BTreeSet<Grant> {
    let mut allowed = BTreeSet::new();
    for scope in watch_scopes {
        for verb in ["get", "list", "watch"] {
            allowed.insert(grant(scope, "hostrisk.io", "hostriskwatches", verb, None));
            allowed.insert(grant(scope, "", "secrets", verb, None));
        }
        for verb in ["get", "patch", "update"] {
            allowed.insert(grant(
                scope,
                "hostrisk.io",
                "hostriskwatches/status",
                verb,
                None,
            ));
        }
        for verb in ["create", "patch"] {
            allowed.insert(grant(scope, "events.k8s.io", "events", verb, None));
        }
    }
    allowed.insert(grant(
        &Scope::Cluster,
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        "get",
        Some("hostriskwatches.hostrisk.io"),
    ));
    if nodes {
        for verb in ["get", "list", "watch"] {
            allowed.insert(grant(&Scope::Cluster, "", "nodes", verb, None));
        }
    }
    if leader_election {
        let release = Scope::Namespace(RELEASE_NAMESPACE.to_owned());
        for verb in ["get", "create", "update"] {
            allowed.insert(grant(&release, "coordination.k8s.io", "leases", verb, None));
        }
    }
    allowed
}

/// What `workloadIdentity.enabled` adds, in each scope where watches are: minting tokens for the
/// ServiceAccounts there (TokenRequest), nothing else (no get/list on ServiceAccounts, no Secrets).
pub fn workload_identity_grants(watch_scopes: &[Scope]) -> BTreeSet<Grant> {
    watch_scopes
        .iter()
        .map(|scope| grant(scope, "", "serviceaccounts/token", "create", None))
        .collect()
}

/// What `policyReports` adds: with `format` (`openreports` or `wgpolicyk8s`), list/watch on its
/// CRD by name (cluster-wide) and, in each scope where watches are, everything the operator does
/// with that kind plus list/delete on the other one (its reports are removed at start); with
/// `None` (off, `cleanupWhenOff`), list/delete on both kinds.
pub fn policy_report_grants(watch_scopes: &[Scope], format: Option<&str>) -> BTreeSet<Grant> {
    let kinds = [
        ("openreports", "openreports.io", "reports"),
        ("wgpolicyk8s", "wgpolicyk8s.io", "policyreports"),
    ];
    let mut grants = BTreeSet::new();
    for (name, group, resource) in kinds {
        let written = format == Some(name);
        if written {
            for verb in ["list", "watch"] {
                let crd = format!("{resource}.{group}");
                grants.insert(grant(
                    &Scope::Cluster,
                    "apiextensions.k8s.io",
                    "customresourcedefinitions",
                    verb,
                    Some(&crd),
                ));
            }
        }
        let verbs: &[&str] = if written {
            &["list", "watch", "create", "patch", "delete"]
        } else {
            &["list", "delete"]
        };
        for scope in watch_scopes {
            for verb in verbs {
                grants.insert(grant(scope, group, resource, verb, None));
            }
        }
    }
    grants
}

fn is_operator(subject: &Subject, service_account: &str) -> bool {
    subject.kind == "ServiceAccount"
        && subject.name == service_account
        && subject.namespace.as_deref() == Some(RELEASE_NAMESPACE)
}

/// Every grant that reaches the operator's ServiceAccount through the rendered bindings.
/// Panics on wildcards and on bindings to roles the chart does not render.
pub fn operator_grants(rendered: &Rendered) -> BTreeSet<Grant> {
    let service_account = rendered.service_accounts[0]
        .metadata
        .name
        .clone()
        .expect("service account name");
    let mut grants = BTreeSet::new();
    for binding in &rendered.cluster_role_bindings {
        let subjects = binding.subjects.clone().unwrap_or_default();
        if subjects.iter().any(|s| is_operator(s, &service_account)) {
            let rules = rules_of(rendered, &binding.role_ref, None);
            flatten(&Scope::Cluster, &rules, &mut grants);
        }
    }
    for binding in &rendered.role_bindings {
        let subjects = binding.subjects.clone().unwrap_or_default();
        if subjects.iter().any(|s| is_operator(s, &service_account)) {
            let namespace = binding
                .metadata
                .namespace
                .clone()
                .expect("RoleBinding namespace");
            let rules = rules_of(rendered, &binding.role_ref, Some(&namespace));
            flatten(&Scope::Namespace(namespace), &rules, &mut grants);
        }
    }
    grants
}

fn rules_of(rendered: &Rendered, role_ref: &RoleRef, namespace: Option<&str>) -> Vec<PolicyRule> {
    let found = match role_ref.kind.as_str() {
        "ClusterRole" => rendered
            .cluster_roles
            .iter()
            .find(|role| role.metadata.name.as_deref() == Some(&role_ref.name))
            .map(|role| role.rules.clone().unwrap_or_default()),
        "Role" => rendered
            .roles
            .iter()
            .find(|role| {
                role.metadata.name.as_deref() == Some(&role_ref.name)
                    && role.metadata.namespace.as_deref() == namespace
            })
            .map(|role| role.rules.clone().unwrap_or_default()),
        other => panic!("roleRef of kind {other}"),
    };
    found.unwrap_or_else(|| {
        panic!(
            "{}: binding to {} {} ({namespace:?}) that the chart does not render",
            rendered.set, role_ref.kind, role_ref.name
        )
    })
}

fn flatten(scope: &Scope, rules: &[PolicyRule], grants: &mut BTreeSet<Grant>) {
    for rule in rules {
        assert!(
            rule.non_resource_urls.is_none(),
            "nonResourceURLs granted: {rule:?}"
        );
        let groups = rule.api_groups.clone().unwrap_or_default();
        let resources = rule.resources.clone().unwrap_or_default();
        let names: Vec<Option<String>> = match &rule.resource_names {
            Some(names) if !names.is_empty() => names.iter().cloned().map(Some).collect(),
            _ => vec![None],
        };
        for field in groups.iter().chain(&resources).chain(&rule.verbs) {
            assert!(!field.contains('*'), "wildcard in rule {rule:?}");
        }
        for group in &groups {
            for resource in &resources {
                for verb in &rule.verbs {
                    for name in &names {
                        grants.insert(grant(scope, group, resource, verb, name.as_deref()));
                    }
                }
            }
        }
    }
}
