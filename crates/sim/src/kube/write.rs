//! Create / update semantics, applied under the store lock.

use std::borrow::Cow;

use serde_json::{json, Value};

use super::defaults::apply_type_defaults;
use super::fields::managed;
use super::meta::{
    finalizers, fold_string_data, generated_name, meta_str, new_uid, now_timestamp, remove_meta,
    set_meta, set_rv,
};
use super::status::ApiError;
use super::store::State;
use super::strategy::{check_type_meta, decode, main_write, status_write, validate};
pub use super::target::Target;
use super::validation::field::FieldError;
use super::validation::meta;

/// copies: the custom-resource / CRD storage strategy. With a status subresource, status
/// is dropped on create by custom resources (Nodes keep it: their strategy allows every field
/// on create); Namespaces get phase Active, finalizer `kubernetes` and the
/// `kubernetes.io/metadata.name` label; Secrets default `type: Opaque` and fold `stringData`.
/// CRDs are validated and immediately marked `Established` + `NamesAccepted` (the real
/// server does this a moment later from a controller, as a separate MODIFIED event).
/// Custom resources are pruned, defaulted and validated by the schema of the version written,
/// then converted to the storage version. Validation comes before the existence check, as the
/// strategy runs before storage.
/// Not copied: the namespace of a namespaced object need not exist (the real server answers
/// 404).
pub fn create(state: &mut State, t: &Target<'_>, mut obj: Value) -> Result<Value, ApiError> {
    check_type_meta(t, &obj)?;
    decode(t, &mut obj)?;
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
            return Err(t.invalid(
                "",
                &[FieldError::required(
                    "metadata.name",
                    "name or generateName is required",
                )],
            ))
        }
    };
    let name_errors =
        meta::validate_name(&name, t.rt.group.is_empty() && t.rt.plural == "namespaces");
    if !name_errors.is_empty() {
        return Err(t.invalid(&name, &name_errors));
    }
    obj["apiVersion"] = json!(t.rt.api_version(t.version));
    obj["kind"] = json!(t.rt.kind);
    set_meta(&mut obj, "name", json!(name));
    set_meta(&mut obj, "uid", json!(new_uid()));
    set_meta(&mut obj, "creationTimestamp", json!(now_timestamp()));
    for f in [
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "resourceVersion",
    ] {
        remove_meta(&mut obj, f);
    }
    if t.rt.tracks_generation() {
        set_meta(&mut obj, "generation", json!(1));
    } else {
        remove_meta(&mut obj, "generation");
    }
    if let Some(manager) = t.manager {
        // copies: the empty object a create is compared with is a typed one for built-ins,
        // whose `spec` and `status` structs are there (empty) already.
        let empty = if t.rt.custom {
            json!({})
        } else {
            json!({"metadata": {}, "spec": {}, "status": {}})
        };
        managed::update(&empty, &mut obj, &t.field_request(manager, false));
    }
    if t.rt.custom && t.rt.status_subresource {
        if let Some(m) = obj.as_object_mut() {
            m.remove("status");
        }
    }
    apply_type_defaults(t.rt, &mut obj, &name);
    let errors = validate(t, &obj, None, false);
    if !errors.is_empty() {
        return Err(t.invalid(&name, &errors));
    }
    let key = t.key(&name);
    if state.objects.contains_key(&key) {
        return Err(ApiError::already_exists(&t.subject(&name)));
    }
    let mut obj = stored_form(t, obj);
    let rv = state.next_rv();
    set_rv(&mut obj, rv);
    state.commit(rv, key, Some(obj.clone()));
    Ok(obj)
}

/// `obj` converted to the storage version (itself when it is at it already).
fn stored_form(t: &Target<'_>, obj: Value) -> Value {
    match t.rt.convert_cow(&obj, t.rt.storage_version()) {
        Cow::Owned(converted) => converted,
        Cow::Borrowed(_) => obj,
    }
}

/// copies: `rest.BeforeUpdate` + the registry strategies.
/// - `metadata.resourceVersion` in the body must equal the stored one (409 Conflict);
///   custom resources and CRDs require it (422), built-ins allow unconditional updates.
/// - name/namespace/uid/creationTimestamp/deletionTimestamp/generation cannot be changed.
/// - With a status subresource, writes to the main resource keep the old `.status`, and
///   writes to `/status` keep what the type's status strategy keeps (see `status_write`).
/// - `generation` is bumped when anything outside `metadata` (and outside `status`, when
///   there is a status subresource) changes.
/// - Validation as on create, with the stored object for update rules and ratcheting.
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
    let Some(stored) = state.objects.get(&key).cloned() else {
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
    check_type_meta(t, &obj)?;
    if let Some(body_name) = meta_str(&obj, "name") {
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
    }
    decode(t, &mut obj)?;
    match meta_str(&obj, "resourceVersion").filter(|s| !s.is_empty()) {
        Some(rv) if Some(rv) != meta_str(&stored, "resourceVersion") => {
            return Err(ApiError::conflict(&subject))
        }
        Some(_) => {}
        None if t.rt.custom || t.rt.is_crd() => {
            return Err(t.invalid(
                name,
                &[FieldError::invalid(
                    "metadata.resourceVersion",
                    json!(0),
                    "must be specified for an update",
                )],
            ))
        }
        None => {}
    }
    let old = t.rt.convert_cow(&stored, t.version);
    if let Some(manager) = t.manager {
        managed::update(&old, &mut obj, &t.field_request(manager, status_sub));
    }
    let managed_fields = obj.pointer("/metadata/managedFields").cloned();
    if status_sub {
        obj = status_write(t.rt, &old, obj);
    } else if t.rt.status_subresource {
        obj = main_write(&old, obj);
    }
    match managed_fields {
        Some(m) => set_meta(&mut obj, "managedFields", m),
        None => {
            remove_meta(&mut obj, "managedFields");
        }
    }
    obj["apiVersion"] = json!(t.rt.api_version(t.version));
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
    let deleting = old.pointer("/metadata/deletionTimestamp").is_some();
    let old_fin = finalizers(&old);
    let new_fin = finalizers(&obj);
    if deleting && new_fin.iter().any(|f| !old_fin.contains(f)) {
        return Err(t.invalid(
            name,
            &[FieldError::forbidden(
                "metadata.finalizers",
                "no new finalizers can be added if the object is being deleted",
            )],
        ));
    }
    let errors = validate(t, &obj, Some(&old), status_sub);
    if !errors.is_empty() {
        return Err(t.invalid(name, &errors));
    }
    let mut obj = stored_form(t, obj);
    if t.rt.tracks_generation() && spec_changed(&stored, &obj, t.rt.status_subresource) {
        let gen = stored
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        set_meta(&mut obj, "generation", json!(gen + 1));
    }
    if obj == stored {
        return Ok(stored);
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

fn spec_changed(old: &Value, new: &Value, ignore_status: bool) -> bool {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return old != new;
    };
    let counted = |k: &String| k != "metadata" && !(ignore_status && k == "status");
    let fields = |m: &serde_json::Map<String, Value>| m.keys().filter(|k| counted(k)).count();
    fields(old) != fields(new)
        || old
            .iter()
            .filter(|(k, _)| counted(k))
            .any(|(k, v)| new.get(k) != Some(v))
}
