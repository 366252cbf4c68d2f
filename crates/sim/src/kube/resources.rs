//! The resource types the stand-in serves: a fixed set of built-ins plus every
//! custom resource whose CustomResourceDefinition has been created.

use serde_json::Value;

/// One servable resource type (a group + plural, with its served versions).
#[derive(Debug, Clone, PartialEq)]
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
    /// The CRD's `openAPIV3Schema` of the storage version (custom resources only).
    pub schema: Option<Value>,
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
            schema: None,
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
    vec![
        ResourceType::builtin("", "v1", "secrets", "Secret", true, false),
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
    let mut schema = None;
    for v in spec.get("versions")?.as_array()? {
        let served = v.get("served").and_then(Value::as_bool).unwrap_or(false);
        let storage = v.get("storage").and_then(Value::as_bool).unwrap_or(false);
        let status = v.pointer("/subresources/status").is_some();
        if storage {
            schema = v.pointer("/schema/openAPIV3Schema").cloned();
        }
        if served {
            versions.push((storage, v.get("name")?.as_str()?.to_string(), status));
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
        short_names: names
            .get("shortNames")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        namespaced: spec.get("scope").and_then(Value::as_str) == Some("Namespaced"),
        status_subresource,
        custom: true,
        schema,
    })
}

/// Validates a CRD the way the apiserver's most basic checks do; returns a field message.
/// copies: `metadata.name` must be `<plural>.<group>`; group, names.plural, names.kind,
/// scope and exactly one storage version are required.
pub fn validate_crd(crd: &Value) -> Result<(), String> {
    let spec = crd.get("spec").ok_or("spec: Required value")?;
    let group = spec
        .get("group")
        .and_then(Value::as_str)
        .ok_or("spec.group: Required value")?;
    let plural = spec
        .pointer("/names/plural")
        .and_then(Value::as_str)
        .ok_or("spec.names.plural: Required value")?;
    spec.pointer("/names/kind")
        .and_then(Value::as_str)
        .ok_or("spec.names.kind: Required value")?;
    match spec.get("scope").and_then(Value::as_str) {
        Some("Namespaced") | Some("Cluster") => {}
        _ => return Err("spec.scope: Unsupported value: must be Namespaced or Cluster".into()),
    }
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name != format!("{plural}.{group}") {
        return Err(format!(
            "metadata.name: Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
        ));
    }
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .ok_or("spec.versions: Required value")?;
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 {
        return Err(
            "spec.versions: Invalid value: must have exactly one version marked as storage version"
                .into(),
        );
    }
    Ok(())
}
