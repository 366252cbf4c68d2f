//! The resource types the stand-in serves: a fixed set of built-ins plus every
//! custom resource whose CustomResourceDefinition has been created.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::meta::string_list;
use super::schema::prune;
use super::validation::VersionSchema;

/// One servable resource type (a group + plural, with its served versions).
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// API group, "" for core.
    pub group: String,
    /// Served versions; the first is the storage version.
    pub versions: Vec<String>,
    /// Plural name used in URLs.
    pub plural: String,
    /// Singular name (discovery).
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// Short names (discovery).
    pub short_names: Vec<String>,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether a `/status` subresource exists.
    pub status_subresource: bool,
    /// Whether this is a custom resource (behaviour differs in a few places, see write.rs).
    pub custom: bool,
    /// Per served version, the CRD's `openAPIV3Schema` and compiled rules (custom resources).
    pub schemas: Arc<BTreeMap<String, VersionSchema>>,
}

impl ResourceType {
    fn builtin(
        group: &str,
        version: &str,
        plural: &str,
        kind: &str,
        namespaced: bool,
        status: bool,
    ) -> Self {
        Self {
            group: group.to_string(),
            versions: vec![version.to_string()],
            plural: plural.to_string(),
            singular: kind.to_lowercase(),
            kind: kind.to_string(),
            short_names: Vec::new(),
            namespaced,
            status_subresource: status,
            custom: false,
            schemas: Arc::default(),
        }
    }

    /// `v1` or `group/version`.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    /// The storage version (first served version).
    pub fn storage_version(&self) -> &str {
        self.versions.first().map(String::as_str).unwrap_or("v1")
    }

    /// Whether this is the CRD resource itself.
    pub fn is_crd(&self) -> bool {
        self.group == "apiextensions.k8s.io" && self.plural == "customresourcedefinitions"
    }

    /// The schema of `version` (custom resources).
    pub fn schema(&self, version: &str) -> Option<&VersionSchema> {
        self.schemas.get(version)
    }

    /// copies: CRD conversion strategy `None`: an object converted to another version changes
    /// only its `apiVersion`, and is then pruned by that version's schema (the API server's
    /// schema-coercing converter), on the way to storage and on the way back to a reader.
    pub fn convert(&self, obj: &Value, version: &str) -> Value {
        self.convert_cow(obj, version).into_owned()
    }

    /// [`ResourceType::convert`], borrowing `obj` when it is already at `version` (the common
    /// case: a copy of a 100-host status per write and per watch event was most of the
    /// stand-in's time at 10,000 watches).
    pub fn convert_cow<'a>(&self, obj: &'a Value, version: &str) -> Cow<'a, Value> {
        let target = self.api_version(version);
        if obj.get("apiVersion").and_then(Value::as_str) == Some(target.as_str()) {
            return Cow::Borrowed(obj);
        }
        let mut out = obj.clone();
        out["apiVersion"] = json!(target);
        if let Some(schema) = self.schema(version).and_then(|v| v.schema.as_ref()) {
            prune(&mut out, schema);
        }
        Cow::Owned(out)
    }

    /// Served versions the way discovery lists them: Kubernetes-aware order, the preferred
    /// (highest: GA over beta over alpha, higher numbers first) first.
    pub fn discovery_versions(&self) -> Vec<String> {
        let mut v = self.versions.clone();
        v.sort_by(|a, b| compare_kube_aware(b, a));
        v
    }

    /// Whether metadata.generation is maintained. copies: the apiserver sets and bumps
    /// `generation` for custom resources and CRDs (and some built-ins such as Deployments),
    /// but not for Secrets, Namespaces, Events or Leases.
    pub fn tracks_generation(&self) -> bool {
        self.custom || self.is_crd()
    }
}

/// The built-in resource types.
pub fn builtins() -> Vec<ResourceType> {
    let mut ns = ResourceType::builtin("", "v1", "namespaces", "Namespace", false, true);
    ns.short_names = vec!["ns".into()];
    let mut crd = ResourceType::builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        true,
    );
    crd.short_names = vec!["crd".into(), "crds".into()];
    let mut ev = ResourceType::builtin("events.k8s.io", "v1", "events", "Event", true, false);
    ev.short_names = vec!["ev".into()];
    let mut nodes = ResourceType::builtin("", "v1", "nodes", "Node", false, true);
    nodes.short_names = vec!["no".into()];
    let mut sa = ResourceType::builtin("", "v1", "serviceaccounts", "ServiceAccount", true, false);
    sa.short_names = vec!["sa".into()];
    let rbac = |plural: &str, kind: &str, namespaced: bool| {
        ResourceType::builtin(
            "rbac.authorization.k8s.io",
            "v1",
            plural,
            kind,
            namespaced,
            false,
        )
    };
    vec![
        ResourceType::builtin("", "v1", "secrets", "Secret", true, false),
        rbac("clusterroles", "ClusterRole", false),
        rbac("clusterrolebindings", "ClusterRoleBinding", false),
        rbac("roles", "Role", true),
        rbac("rolebindings", "RoleBinding", true),
        sa,
        ns,
        nodes,
        ev,
        ResourceType::builtin("coordination.k8s.io", "v1", "leases", "Lease", true, false),
        crd,
    ]
}

/// Reads a CRD object into the resource type it defines. Returns None for malformed CRDs
/// (creation validates, so stored CRDs are well formed).
pub fn from_crd(crd: &Value) -> Option<ResourceType> {
    let spec = crd.get("spec")?;
    let names = spec.get("names")?;
    let mut versions: Vec<(bool, String, bool)> = Vec::new();
    let mut schemas = BTreeMap::new();
    for v in spec.get("versions")?.as_array()? {
        let served = v.get("served").and_then(Value::as_bool).unwrap_or(false);
        let storage = v.get("storage").and_then(Value::as_bool).unwrap_or(false);
        let status = v.pointer("/subresources/status").is_some();
        let name = v.get("name")?.as_str()?.to_string();
        if served {
            let schema = v.pointer("/schema/openAPIV3Schema").cloned();
            schemas.insert(name.clone(), VersionSchema::new(schema));
            versions.push((storage, name, status));
        } else if storage {
            // Served or not, the storage version's schema prunes what is stored.
            let schema = v.pointer("/schema/openAPIV3Schema").cloned();
            schemas.insert(name, VersionSchema::new(schema));
        }
    }
    // storage version first
    versions.sort_by_key(|(storage, _, _)| !*storage);
    let status_subresource = versions.first().map(|v| v.2).unwrap_or(false);
    let kind = names.get("kind")?.as_str()?.to_string();
    Some(ResourceType {
        group: spec.get("group")?.as_str()?.to_string(),
        versions: versions.into_iter().map(|v| v.1).collect(),
        plural: names.get("plural")?.as_str()?.to_string(),
        singular: names
            .get("singular")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_lowercase()),
        kind,
        short_names: string_list(names.get("shortNames")),
        namespaced: spec.get("scope").and_then(Value::as_str) == Some("Namespaced"),
        status_subresource,
        custom: true,
        schemas: Arc::new(schemas),
    })
}

/// `(major, stage, minor)` of `v1`, `v2beta1`, `v1alpha3`; stage 2 GA, 1 beta, 0 alpha.
fn kube_version(v: &str) -> Option<(u32, u8, u32)> {
    let rest = v.strip_prefix('v')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let major: u32 = rest[..digits].parse().ok()?;
    let rest = &rest[digits..];
    if rest.is_empty() {
        return Some((major, 2, 0));
    }
    let (stage, minor) = if let Some(m) = rest.strip_prefix("beta") {
        (1, m)
    } else if let Some(m) = rest.strip_prefix("alpha") {
        (0, m)
    } else {
        return None;
    };
    Some((major, stage, minor.parse().ok()?))
}

/// copies: `version.CompareKubeAwareVersionStrings`: GA > beta > alpha, higher numbers
/// greater, and any Kubernetes-looking version greater than other strings (those compare
/// reversed alphabetically, so they list alphabetically).
pub fn compare_kube_aware(a: &str, b: &str) -> Ordering {
    match (kube_version(a), kube_version(b)) {
        (Some((ma, sa, na)), Some((mb, sb, nb))) => sa.cmp(&sb).then(ma.cmp(&mb)).then(na.cmp(&nb)),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => b.cmp(a),
    }
}
