//! Create / update / delete semantics, applied under the store lock.

use serde_json::{json, Value};

use super::defaults::{apply_type_defaults, check_update};
use super::meta::{
    finalizers, fold_string_data, generated_name, meta_str, new_uid, now_timestamp, remove_meta,
    set_meta, set_rv, valid_name,
};
use super::resources::{validate_crd, ResourceType};
use super::schema::prune_and_default;
use super::status::{ApiError, Subject};
use super::store::{ObjKey, State};

/// Which object a write addresses.
pub struct Target<'a> {
    /// Resource type.
    pub rt: &'a ResourceType,
    /// Namespace from the URL ("" for cluster-scoped).
    pub namespace: &'a str,
    /// `fieldValidation=Strict`: unknown fields are an error instead of being pruned.
    pub strict_fields: bool,
}

impl Target<'_> {
    /// Storage key of `name`.
    pub fn key(&self, name: &str) -> ObjKey {
        ObjKey {
            group: self.rt.group.clone(),
            plural: self.rt.plural.clone(),
            namespace: self.namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// Error subject for `name`.
    pub fn subject<'b>(&'b self, name: &'b str) -> Subject<'b> {
        Subject {
            group: &self.rt.group,
            plural: &self.rt.plural,
            name,
        }
    }
}

/// copies: the custom-resource / CRD storage strategy. With a status subresource, status
/// is dropped on create; Namespaces get phase Active, finalizer `kubernetes` and the
/// `kubernetes.io/metadata.name` label; Secrets default `type: Opaque` and fold `stringData`.
/// CRDs are validated and immediately marked `Established` + `NamesAccepted` (the real
/// server does this a moment later from a controller, as a separate MODIFIED event).
/// Custom resources are pruned and defaulted by their CRD schema (see schema.rs).
/// Not copied: OpenAPI schema validation (types, required, enums, CEL); the namespace of a
/// namespaced object need not exist (the real server answers 404).
pub fn create(state: &mut State, t: &Target<'_>, mut obj: Value) -> Result<Value, ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "Object 'Kind' is missing in request body",
        ));
    }
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or(&t.rt.kind)
        .to_string();
    if kind != t.rt.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            t.rt.kind
        )));
    }
    if t.rt.namespaced {
        let ns = meta_str(&obj, "namespace").unwrap_or(t.namespace);
        if ns != t.namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        set_meta(&mut obj, "namespace", json!(t.namespace));
    } else {
        remove_meta(&mut obj, "namespace");
    }
    let name = match (meta_str(&obj, "name"), meta_str(&obj, "generateName")) {
        (Some(n), _) if !n.is_empty() => n.to_string(),
        (_, Some(g)) if !g.is_empty() => generated_name(g),
        _ => {
            return Err(ApiError::invalid(
                &t.subject(""),
                &t.rt.kind,
                "metadata.name: Required value: name or generateName is required",
            ))
        }
    };
    if !valid_name(&name) {
        return Err(ApiError::invalid(
            &t.subject(&name),
            &t.rt.kind,
            format!("metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"),
        ));
    }
    let key = t.key(&name);
    if state.objects.contains_key(&key) {
        return Err(ApiError::already_exists(&t.subject(&name)));
    }
    obj["apiVersion"] = json!(t.rt.api_version(t.rt.storage_version()));
    obj["kind"] = json!(t.rt.kind);
    set_meta(&mut obj, "name", json!(name));
    set_meta(&mut obj, "uid", json!(new_uid()));
    set_meta(&mut obj, "creationTimestamp", json!(now_timestamp()));
    for f in [
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        remove_meta(&mut obj, f);
    }
    if t.rt.tracks_generation() {
        set_meta(&mut obj, "generation", json!(1));
    } else {
        remove_meta(&mut obj, "generation");
    }
    if t.rt.status_subresource {
        if let Some(m) = obj.as_object_mut() {
            m.remove("status");
        }
    }
    apply_type_defaults(t.rt, &mut obj, &name)?;
    prune(t, &mut obj)?;
    let rv = state.next_rv();
    set_rv(&mut obj, rv);
    state.commit(rv, key, Some(obj.clone()));
    Ok(obj)
}

/// copies: `rest.BeforeUpdate` + the custom resource strategies.
/// - `metadata.resourceVersion` in the body must equal the stored one (409 Conflict);
///   custom resources and CRDs require it (422), built-ins allow unconditional updates.
/// - name/namespace/uid/creationTimestamp/deletionTimestamp/generation cannot be changed.
/// - With a status subresource, writes to the main resource keep the old `.status`, and
///   writes to `/status` keep everything except `.status` (metadata included).
/// - `generation` is bumped when anything outside `metadata` (and outside `status`, when
///   there is a status subresource) changes.
/// - An update that changes nothing is not written: same resourceVersion, no watch event.
/// - No new finalizers may be added to an object being deleted (422); an update that
///   empties the finalizers of an object being deleted removes it (DELETED event).
pub fn update(
    state: &mut State,
    t: &Target<'_>,
    name: &str,
    status_sub: bool,
    mut obj: Value,
) -> Result<Value, ApiError> {
    let key = t.key(name);
    let subject = t.subject(name);
    let Some(old) = state.objects.get(&key).cloned() else {
        // copies: `AllowCreateOnUpdate` is true for Leases and Events only (among served types).
        let creatable = matches!(
            (t.rt.group.as_str(), t.rt.plural.as_str()),
            ("coordination.k8s.io", "leases") | ("events.k8s.io", "events")
        );
        if creatable && !status_sub {
            if meta_str(&obj, "name").is_some_and(|n| n != name) {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    meta_str(&obj, "name").unwrap_or("")
                )));
            }
            set_meta(&mut obj, "name", json!(name));
            remove_meta(&mut obj, "resourceVersion");
            return create(state, t, obj);
        }
        return Err(ApiError::not_found(&subject));
    };
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "Object 'Kind' is missing in request body",
        ));
    }
    if let Some(body_name) = meta_str(&obj, "name") {
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
    }
    match meta_str(&obj, "resourceVersion").filter(|s| !s.is_empty()) {
        Some(rv) if Some(rv) != meta_str(&old, "resourceVersion") => {
            return Err(ApiError::conflict(&subject))
        }
        Some(_) => {}
        None if t.rt.custom || t.rt.is_crd() => {
            return Err(ApiError::invalid(
                &subject,
                &t.rt.kind,
                "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
            ))
        }
        None => {}
    }
    if status_sub {
        let status = obj.get("status").cloned();
        obj = old.clone();
        match status {
            Some(s) => obj["status"] = s,
            None => {
                if let Some(m) = obj.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    } else if t.rt.status_subresource {
        match old.get("status") {
            Some(s) => obj["status"] = s.clone(),
            None => {
                if let Some(m) = obj.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    obj["apiVersion"] = json!(t.rt.api_version(t.rt.storage_version()));
    obj["kind"] = json!(t.rt.kind);
    for f in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
    ] {
        match old.pointer(&format!("/metadata/{f}")) {
            Some(v) => set_meta(&mut obj, f, v.clone()),
            None => {
                remove_meta(&mut obj, f);
            }
        }
    }
    if t.rt.plural == "secrets" && t.rt.group.is_empty() {
        fold_string_data(&mut obj);
    }
    prune(t, &mut obj)?;
    let deleting = old.pointer("/metadata/deletionTimestamp").is_some();
    let old_fin = finalizers(&old);
    let new_fin = finalizers(&obj);
    if deleting && new_fin.iter().any(|f| !old_fin.contains(f)) {
        return Err(ApiError::invalid(
            &subject,
            &t.rt.kind,
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted",
        ));
    }
    if t.rt.is_crd() {
        validate_crd(&obj).map_err(|m| {
            ApiError::invalid(&subject, "CustomResourceDefinition.apiextensions.k8s.io", m)
        })?;
    }
    check_update(t.rt, &old, &obj).map_err(|m| ApiError::invalid(&subject, &t.rt.kind, m))?;
    if t.rt.tracks_generation() && spec_changed(&old, &obj, t.rt.status_subresource) {
        let gen = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        set_meta(&mut obj, "generation", json!(gen + 1));
    }
    if obj == old {
        return Ok(old);
    }
    let rv = state.next_rv();
    set_rv(&mut obj, rv);
    if deleting && new_fin.is_empty() {
        state.commit(rv, key, None);
    } else {
        state.commit(rv, key, Some(obj.clone()));
    }
    Ok(obj)
}

/// Prunes a custom resource by its schema; with strict field validation, unknown fields are refused.
fn prune(t: &Target<'_>, obj: &mut Value) -> Result<(), ApiError> {
    let Some(schema) = &t.rt.schema else {
        return Ok(());
    };
    let removed = prune_and_default(obj, schema);
    if t.strict_fields && !removed.is_empty() {
        let fields: Vec<String> = removed
            .iter()
            .map(|p| format!("unknown field \"{}\"", p.trim_start_matches('.')))
            .collect();
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            fields.join(", ")
        )));
    }
    Ok(())
}

fn spec_changed(old: &Value, new: &Value, ignore_status: bool) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            if ignore_status {
                m.remove("status");
            }
        }
        v
    };
    strip(old) != strip(new)
}
