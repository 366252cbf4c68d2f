//! Delete semantics, applied under the store lock.

use serde_json::{json, Value};

use super::meta::{finalizers, meta_str, now_timestamp, set_meta, set_rv};
use super::status::ApiError;
use super::store::State;
use super::write::Target;

/// The finalizer of a delete with `propagationPolicy: Orphan`.
pub const ORPHAN: &str = "orphan";
/// The finalizer of a delete with `propagationPolicy: Foreground`.
pub const FOREGROUND: &str = "foregroundDeletion";

/// Outcome of a delete.
pub enum Deleted {
    /// Removed now (the object as last stored, with the deletion's resourceVersion).
    Gone(Value),
    /// Has finalizers: marked with deletionTimestamp and kept.
    Pending(Value),
}

/// copies: `rest.BeforeDelete` + the generic registry delete.
/// - `preconditions.uid` / `preconditions.resourceVersion` in the DeleteOptions body must
///   match (409 Conflict).
/// - With finalizers: `deletionTimestamp` and `deletionGracePeriodSeconds: 0` are set once,
///   `generation` is bumped (for types that track it), the object stays until an update
///   empties its finalizers. A repeated delete changes nothing.
/// - Without finalizers: removed now; watchers get DELETED with the deletion's resourceVersion.
/// - Answers (see `success_status`) 200 with a `Success` Status when the object is gone
///   (the generic registry without `ReturnDeletedObject`, as for custom resources; a few
///   built-in registries answer the object instead, kube's `Api::delete` accepts both), and
///   200 with the object when it waits for finalizers (202 only when the DeleteOptions say
///   `orphanDependents: false`).
///
/// - `propagationPolicy: Orphan` (or `orphanDependents: true`) adds the `orphan` finalizer,
///   `Foreground` the `foregroundDeletion` finalizer (the API server's `--enable-garbage-collector`
///   default); `Background` (the default) adds none. Only the garbage collector removes them: on
///   a server without kube-controller-manager (envtest, and the stand-in until
///   `enable_garbage_collector`), such an object stays, being deleted, for good.
///
/// - Deleting a CRD removes its custom resources (DELETED events), then the CRD; its resource
///   stops being served and discovered and its open watches end (watch.rs).
///
/// Not copied: deleting a Namespace (needs the namespace lifecycle controller) is refused with
/// 501. A CRD is removed at once rather than through its `customresourcecleanup` finalizer (the
/// end state is the same); deleting one is refused (501) while any of its custom resources has
/// finalizers.
pub fn delete(
    state: &mut State,
    t: &Target<'_>,
    name: &str,
    options: &Value,
) -> Result<Deleted, ApiError> {
    let key = t.key(name);
    let subject = t.subject(name);
    let Some(old) = state.objects.get(&key).cloned() else {
        return Err(ApiError::not_found(&subject));
    };
    for (field, path) in [
        ("uid", "/preconditions/uid"),
        ("resourceVersion", "/preconditions/resourceVersion"),
    ] {
        if let Some(want) = options.pointer(path).and_then(Value::as_str) {
            if meta_str(&old, field) != Some(want) {
                let mut e = ApiError::conflict(&subject);
                e.message = format!(
                    "Operation cannot be fulfilled on {} \"{}\": Precondition failed: {field} in precondition: {want}, {field} in object meta: {}",
                    subject.qualified(),
                    name,
                    meta_str(&old, field).unwrap_or("")
                );
                return Err(e);
            }
        }
    }
    let orphan = options.get("orphanDependents").and_then(Value::as_bool);
    let gc_finalizer = match (options.get("propagationPolicy").and_then(Value::as_str), orphan) {
        (Some("Orphan"), _) | (None, Some(true)) => Some(ORPHAN),
        (Some("Foreground"), _) => Some(FOREGROUND),
        (None | Some("Background"), _) => None,
        (Some(other), _) => {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""),
            ))
        }
    };
    if t.rt.group.is_empty() && t.rt.plural == "namespaces" {
        return Err(ApiError::not_implemented("deleting namespaces"));
    }
    let mut old = old;
    if let Some(f) = gc_finalizer {
        let mut list = finalizers(&old);
        if !list.iter().any(|x| x == f) {
            list.push(f.to_string());
            set_meta(&mut old, "finalizers", json!(list));
        }
    }
    if !finalizers(&old).is_empty() {
        if old.pointer("/metadata/deletionTimestamp").is_some() {
            if Some(&old) != state.objects.get(&key) {
                let rv = state.next_rv();
                set_rv(&mut old, rv);
                state.commit(rv, key, Some(old.clone()));
            }
            return Ok(Deleted::Pending(old));
        }
        let mut obj = old.clone();
        set_meta(&mut obj, "deletionTimestamp", json!(now_timestamp()));
        set_meta(&mut obj, "deletionGracePeriodSeconds", json!(0));
        if t.rt.tracks_generation() {
            let gen = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            set_meta(&mut obj, "generation", json!(gen + 1));
        }
        let rv = state.next_rv();
        set_rv(&mut obj, rv);
        state.commit(rv, key, Some(obj.clone()));
        return Ok(Deleted::Pending(obj));
    }
    if t.rt.is_crd() {
        delete_custom_resources(state, &old)?;
    }
    let rv = state.next_rv();
    let mut gone = old;
    set_rv(&mut gone, rv);
    state.commit(rv, key, None);
    Ok(Deleted::Gone(gone))
}

fn delete_custom_resources(state: &mut State, crd: &Value) -> Result<(), ApiError> {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let plural = crd
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let objs = state.resource_objects(group, plural);
    if objs.iter().any(|(_, o)| !finalizers(o).is_empty()) {
        return Err(ApiError::not_implemented(
            "deleting a CRD while its custom resources have finalizers",
        ));
    }
    for (key, _) in objs {
        let rv = state.next_rv();
        state.commit(rv, key, None);
    }
    Ok(())
}

/// copies: the `Success` Status of an immediate delete.
pub fn success_status(t: &Target<'_>, gone: &Value) -> Value {
    let mut details = json!({
        "name": meta_str(gone, "name").unwrap_or(""),
        "kind": t.rt.plural,
        "uid": meta_str(gone, "uid").unwrap_or(""),
    });
    if !t.rt.group.is_empty() {
        details["group"] = json!(t.rt.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}
