//! The RBAC authorizer over the Roles, ClusterRoles and bindings stored in the stand-in.
//!
//! copies (k8s.io/kubernetes `plugin/pkg/auth/authorizer/rbac`): ClusterRoleBindings grant their
//! ClusterRole's rules everywhere; RoleBindings grant their Role's (or ClusterRole's) rules in
//! the binding's namespace only; subjects are `User` (by name), `Group`, `ServiceAccount`
//! (namespace defaulting to the binding's); a rule matches when its `verbs`, `apiGroups` and
//! `resources` name the request (`*` wildcards; `resource/subresource`, `*/subresource`: `nodes`
//! does not cover `nodes/status`) and, if it has `resourceNames`, the request's name (so never a
//! create or an unfiltered list); a binding to a missing role adds `RBAC: <kind> "<name>" not
//! found` to the answer. The 403 Status: `<resource>[ "<name>"] is forbidden: User "<user>"
//! cannot <verb> resource "<resource>[/<subresource>]" in API group "<group>" in the namespace
//! "<ns>"` (or `at the cluster scope`), details `{name, group, kind: <resource>}`.
//! Not copied: ClusterRole aggregation (done by kube-controller-manager; an envtest server does
//! not do it either), escalation checks on writes of RBAC objects, bootstrap roles.

use serde_json::{json, Value};

use super::super::meta::string_list;
use super::super::status::ApiError;
use super::super::store::State;
use super::Identity;

/// What a request asks, as the authorizer sees it.
pub struct Attributes<'a> {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: &'a str,
    /// API group ("" for core).
    pub group: &'a str,
    /// Resource plural.
    pub resource: &'a str,
    /// Subresource ("" for none).
    pub subresource: &'a str,
    /// Object name ("" for none).
    pub name: &'a str,
    /// Namespace ("" for cluster scope).
    pub namespace: &'a str,
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    string_list(v.get(key))
}

fn has(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == "*" || x == want)
}

fn rule_allows(rule: &Value, r: &Attributes<'_>) -> bool {
    if !has(&strings(rule, "verbs"), r.verb) || !has(&strings(rule, "apiGroups"), r.group) {
        return false;
    }
    let combined = if r.subresource.is_empty() {
        r.resource.to_string()
    } else {
        format!("{}/{}", r.resource, r.subresource)
    };
    let resources = strings(rule, "resources");
    let resource_ok = resources.iter().any(|res| {
        res == "*"
            || *res == combined
            || (!r.subresource.is_empty() && *res == format!("*/{}", r.subresource))
    });
    if !resource_ok {
        return false;
    }
    let names = strings(rule, "resourceNames");
    names.is_empty() || (!r.name.is_empty() && names.iter().any(|n| n == r.name))
}

fn subject_matches(subject: &Value, who: &Identity, binding_namespace: &str) -> bool {
    let name = subject.get("name").and_then(Value::as_str).unwrap_or("");
    match subject.get("kind").and_then(Value::as_str) {
        Some("User") => who.user == name,
        Some("Group") => who.groups.iter().any(|g| g == name),
        Some("ServiceAccount") => {
            let ns = subject
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            who.user == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

fn role_rules(
    state: &State,
    kind: &str,
    namespace: &str,
    name: &str,
    errors: &mut Vec<String>,
) -> Vec<Value> {
    let (plural, ns, printed) = match kind {
        "ClusterRole" => ("clusterroles", "", "clusterrole"),
        _ => ("roles", namespace, "role"),
    };
    let key = super::super::store::ObjKey {
        group: "rbac.authorization.k8s.io".into(),
        plural: plural.into(),
        namespace: ns.into(),
        name: name.into(),
    };
    match state.objects.get(&key) {
        Some(role) => role
            .get("rules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        None => {
            errors.push(format!(
                "{printed}.rbac.authorization.k8s.io \"{name}\" not found"
            ));
            Vec::new()
        }
    }
}

/// Decides a request of a user RBAC applies to.
pub fn authorize(who: &Identity, r: &Attributes<'_>, state: &State) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    let bindings = state
        .resource_objects("rbac.authorization.k8s.io", "clusterrolebindings")
        .into_iter()
        .map(|(_, b)| (b, String::new()))
        .chain(
            state
                .resource_objects("rbac.authorization.k8s.io", "rolebindings")
                .into_iter()
                .filter(|(k, _)| !r.namespace.is_empty() && k.namespace == r.namespace)
                .map(|(k, b)| (b, k.namespace)),
        );
    for (binding, ns) in bindings {
        let subjects = binding
            .get("subjects")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !subjects.iter().any(|s| subject_matches(s, who, &ns)) {
            continue;
        }
        let kind = binding
            .pointer("/roleRef/kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = binding
            .pointer("/roleRef/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if role_rules(state, kind, &ns, name, &mut errors)
            .iter()
            .any(|rule| rule_allows(rule, r))
        {
            return Ok(());
        }
    }
    Err(forbidden(who, r, &errors))
}

/// copies: the patch handler's `withAuthorization`, which authorizes an apply that would create
/// the object as a `create` too and answers `errors.NewForbidden` with the authorizer's reason
/// (empty for an RBAC denial without evaluation errors).
pub fn forbidden_create_on_patch(r: &Attributes<'_>) -> ApiError {
    let mut e = forbidden(
        &Identity {
            user: String::new(),
            groups: Vec::new(),
        },
        r,
        &[],
    );
    let qualified = if r.group.is_empty() {
        r.resource.to_string()
    } else {
        format!("{}.{}", r.resource, r.group)
    };
    e.message = format!("{qualified} \"{}\" is forbidden: ", r.name);
    e
}

/// copies: `responsewriters.Forbidden` for a resource request.
pub fn forbidden(who: &Identity, r: &Attributes<'_>, rbac_errors: &[String]) -> ApiError {
    let resource = if r.subresource.is_empty() {
        r.resource.to_string()
    } else {
        format!("{}/{}", r.resource, r.subresource)
    };
    let place = if r.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", r.namespace)
    };
    let mut reason = format!(
        "User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {place}",
        who.user, r.verb, r.group
    );
    match rbac_errors {
        [] => {}
        [one] => reason.push_str(&format!(": RBAC: {one}")),
        many => reason.push_str(&format!(": RBAC: [{}]", many.join(", "))),
    }
    let qualified = if r.group.is_empty() {
        r.resource.to_string()
    } else {
        format!("{}.{}", r.resource, r.group)
    };
    let message = if r.name.is_empty() {
        format!("{qualified} is forbidden: {reason}")
    } else {
        format!("{qualified} \"{}\" is forbidden: {reason}", r.name)
    };
    let mut e = ApiError::new(403, "Forbidden", message);
    let mut details = json!({"kind": r.resource});
    if !r.group.is_empty() {
        details["group"] = json!(r.group);
    }
    if !r.name.is_empty() {
        details["name"] = json!(r.name);
    }
    e.details = details;
    e
}
