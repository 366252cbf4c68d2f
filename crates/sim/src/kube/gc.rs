//! An opt-in garbage collector, as kube-controller-manager's runs beside a real API server.
//!
//! kube-apiserver alone collects nothing: on a cluster without kube-controller-manager (an
//! envtest control plane, the stand-in by default) dependents stay when their owner goes, and
//! objects deleted with `Orphan` / `Foreground` propagation keep their finalizer for good, so
//! there only the `ownerReferences` themselves can be checked.
//! `StandinApiServer::enable_garbage_collector` starts this collector: after every change it
//! settles what kube-controller-manager's garbage collector would, as its own writes (field
//! manager `kube-controller-manager`, watch events like any write).
//!
//! copies (pkg/controller/garbagecollector):
//! - an owner is an `ownerReferences` entry resolved by apiVersion + kind to a resource, in the
//!   dependent's namespace when namespaced, and present only with the same uid;
//! - a dependent none of whose owners is present (and none waits for its dependents) is deleted
//!   with background propagation, its own finalizers honoured; one with some owners gone and
//!   others present loses the references to the gone ones; owners of an unknown kind count as
//!   present (the real collector cannot resolve them either and keeps the dependent);
//! - `orphan` (Orphan propagation): the owner's references are removed from its dependents,
//!   then the finalizer from the owner;
//! - `foregroundDeletion` (Foreground): the owner's dependents are deleted; the finalizer goes
//!   once no dependent with `blockOwnerDeletion: true` is left.
//!
//! Not copied: the collector's timing (it acts right after each change, not after informer
//! resyncs), cluster-scoped dependents of namespaced owners (the real collector reports those
//! as invalid), and dependents left with `foregroundDeletion` of their own.

use serde_json::{json, Value};

use super::delete::{delete, FOREGROUND, ORPHAN};
use super::meta::finalizers;
use super::resources::ResourceType;
use super::store::{ObjKey, State};
use super::write::{update, Target};

const MANAGER: &str = "kube-controller-manager";

fn owner_refs(obj: &Value) -> Vec<Value> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some()
}

fn type_of(state: &State, group: &str, plural: &str) -> Option<ResourceType> {
    state
        .resource_types()
        .iter()
        .find(|t| t.group == group && t.plural == plural)
        .cloned()
}

/// Where an owner reference points: Some(present object) / Some(None) absent / None unknown kind.
fn resolve<'s>(
    state: &'s State,
    dependent: &ObjKey,
    reference: &Value,
) -> Option<Option<&'s Value>> {
    let api_version = reference.get("apiVersion").and_then(Value::as_str)?;
    let kind = reference.get("kind").and_then(Value::as_str)?;
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let types = state.resource_types();
    let rt = types.iter().find(|t| t.group == group && t.kind == kind)?;
    let key = ObjKey {
        group: rt.group.clone(),
        plural: rt.plural.clone(),
        namespace: if rt.namespaced {
            dependent.namespace.clone()
        } else {
            String::new()
        },
        name: reference.get("name").and_then(Value::as_str)?.to_string(),
    };
    let uid = reference.get("uid");
    Some(
        state
            .objects
            .get(&key)
            .filter(|o| o.pointer("/metadata/uid") == uid),
    )
}

/// Writes `obj` (the stored object of `key`, changed) as the collector.
fn write(state: &mut State, key: &ObjKey, obj: Value) {
    let Some(rt) = type_of(state, &key.group, &key.plural) else {
        return;
    };
    let t = target(&rt, &key.namespace);
    if let Err(e) = update(state, &t, &key.name, false, obj) {
        tracing::warn!(error = %e.message, object = %key.name, "stand-in garbage collector write refused");
    }
}

fn target<'a>(rt: &'a ResourceType, namespace: &'a str) -> Target<'a> {
    Target {
        rt,
        namespace,
        strict_fields: false,
        version: rt.storage_version(),
        unvalidated: false,
        manager: Some(MANAGER),
    }
}

fn remove_delete(state: &mut State, key: &ObjKey) {
    let Some(rt) = type_of(state, &key.group, &key.plural) else {
        return;
    };
    let t = target(&rt, &key.namespace);
    let options = json!({"propagationPolicy": "Background"});
    if let Err(e) = delete(state, &t, &key.name, &options) {
        tracing::warn!(error = %e.message, object = %key.name, "stand-in garbage collector delete refused");
    }
}

fn without_finalizer(obj: &Value, finalizer: &str) -> Value {
    let mut o = obj.clone();
    let rest: Vec<String> = finalizers(obj)
        .into_iter()
        .filter(|f| f != finalizer)
        .collect();
    o["metadata"]["finalizers"] = json!(rest);
    o
}

fn without_refs(obj: &Value, gone: &[Value]) -> Value {
    let mut o = obj.clone();
    let keep: Vec<Value> = owner_refs(obj)
        .into_iter()
        .filter(|r| !gone.iter().any(|g| g.get("uid") == r.get("uid")))
        .collect();
    if keep.is_empty() {
        if let Some(m) = o["metadata"].as_object_mut() {
            m.remove("ownerReferences");
        }
    } else {
        o["metadata"]["ownerReferences"] = json!(keep);
    }
    o
}

/// Dependents of `owner` (by uid), with their keys.
fn dependents(state: &State, owner: &Value) -> Vec<(ObjKey, Value)> {
    let Some(uid) = owner.pointer("/metadata/uid") else {
        return Vec::new();
    };
    state
        .objects
        .iter()
        .filter(|(_, o)| owner_refs(o).iter().any(|r| r.get("uid") == Some(uid)))
        .map(|(k, o)| (k.clone(), o.clone()))
        .collect()
}

/// One change the collector makes, if any is due.
fn step(state: &mut State) -> bool {
    let snapshot: Vec<(ObjKey, Value)> = state
        .objects
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, owner) in snapshot.iter().filter(|(_, o)| deleting(o)) {
        let fins = finalizers(owner);
        if fins.iter().any(|f| f == ORPHAN) {
            for (dk, d) in dependents(state, owner) {
                let refs: Vec<Value> = owner_refs(&d)
                    .into_iter()
                    .filter(|r| r.get("uid") == owner.pointer("/metadata/uid"))
                    .collect();
                write(state, &dk, without_refs(&d, &refs));
            }
            write(state, key, without_finalizer(owner, ORPHAN));
            return true;
        }
        if fins.iter().any(|f| f == FOREGROUND) {
            let deps = dependents(state, owner);
            if let Some((dk, _)) = deps.iter().find(|(_, d)| !deleting(d)) {
                remove_delete(state, dk);
                return true;
            }
            let blocked = deps.iter().any(|(_, d)| {
                owner_refs(d).iter().any(|r| {
                    r.get("uid") == owner.pointer("/metadata/uid")
                        && r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)
                })
            });
            if !blocked {
                write(state, key, without_finalizer(owner, FOREGROUND));
                return true;
            }
        }
    }
    for (key, dependent) in snapshot.iter().filter(|(_, o)| !deleting(o)) {
        let refs = owner_refs(dependent);
        if refs.is_empty() {
            continue;
        }
        let mut present = 0;
        let mut gone = Vec::new();
        for r in &refs {
            match resolve(state, key, r) {
                None => present += 1,
                Some(Some(_)) => present += 1,
                Some(None) => gone.push(r.clone()),
            }
        }
        if present == 0 {
            tracing::debug!(object = %key.name, "stand-in garbage collector deletes a dependent without owners");
            remove_delete(state, key);
            return true;
        }
        if !gone.is_empty() {
            write(state, key, without_refs(dependent, &gone));
            return true;
        }
    }
    false
}

/// Settles everything due (a refused write ends the pass); returns how many changes it made.
pub fn collect(state: &mut State) -> usize {
    let mut n = 0;
    loop {
        let before = state.rv;
        if !step(state) || state.rv == before || n >= 10_000 {
            break;
        }
        n += 1;
    }
    if n > 0 {
        tracing::debug!(changes = n, "stand-in garbage collector pass");
    }
    n
}

/// Runs the collector after every change until the server stops.
pub fn spawn(shared: std::sync::Arc<super::Shared>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(mut changes) = shared.lock().map(|mut s| {
            collect(&mut s);
            s.subscribe()
        }) else {
            return;
        };
        loop {
            match changes.recv().await {
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
            // A burst of changes is settled in one pass, a moment later, like the real
            // collector working from its informers.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            while changes.try_recv().is_ok() {}
            let Ok(mut state) = shared.lock() else { return };
            collect(&mut state);
        }
    })
}
