//! `metadata.managedFields`: who owns which field, updated on every write and enforced by
//! server-side apply.
//!
//! copies (k8s.io/apimachinery `util/managedfields` + structured-merge-diff `merge.Updater`):
//! - one entry per manager, operation (`Apply` / `Update`), subresource and, for `Update`,
//!   apiVersion; entries sorted Apply before Update, then by time, manager, apiVersion,
//!   subresource; entries owning nothing are dropped;
//! - identity fields are never owned (`apiVersion`, `kind`, `metadata.name`, `namespace`,
//!   `uid`, `resourceVersion`, `generation`, `creationTimestamp`, `selfLink`, `managedFields`);
//!   nor are the fields the subresource resets (`status` through the main resource of a type
//!   with a status subresource, `spec` through `/status`);
//! - an update (create, PUT, merge / JSON / strategic patch) takes the fields it adds or
//!   changes from everyone else and gives up the ones it removes; its time moves only when it
//!   changed something; the manager is `fieldManager`, else the User-Agent up to the first `/`;
//!   `managedFields` sent with a main-resource update replace the stored ones, `[{}]` clears them;
//! - an apply merges the configuration (list maps by key, sets by value, atomic lists and maps
//!   whole), conflicts (409, `Apply failed with N conflict(s): conflict with "m" using v1: .path`,
//!   causes `FieldManagerConflict`) with every other manager owning a field it changes unless
//!   `force=true` (then ownership moves), owns exactly its configuration, and removes what it
//!   applied before and no longer applies when no other manager owns it; an object without
//!   managed fields is first owned by `before-first-apply`; a configuration that does not fit
//!   the schema (undeclared field, list-map item without its key, duplicate keys) answers 500
//!   `failed to create typed patch object (...)` as the real server does.

use serde_json::{json, Value};

use super::super::meta::now_timestamp;
use super::conflicts::{conflict_error, ApplyError};
use super::entries::{decode, encode, Entry};
use super::merge::{merge, prune, remove_items};
use super::set::{display, FieldSet, Pe};
use super::types::Node;
use super::walk::{check_typed, compare, set_of, to_set, Comparison};

/// What a write is, for the field manager.
pub struct Request<'a> {
    /// The manager.
    pub manager: &'a str,
    /// "" or "status".
    pub subresource: &'a str,
    /// `group/version` of the request.
    pub api_version: String,
    /// The object's type.
    pub root: Node<'a>,
    /// What the subresource resets (never owned through it).
    pub reset: FieldSet,
}

fn strip_set() -> FieldSet {
    let mut s = FieldSet::default();
    let f = |x: &str| Pe::Field(x.to_string());
    s.insert(&[f("apiVersion")]);
    s.insert(&[f("kind")]);
    s.insert(&[f("metadata")]);
    for m in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        s.insert(&[f("metadata"), f(m)]);
    }
    s
}

/// The reset set of a write: `status` through the main resource of a type with a status
/// subresource, `spec` through `/status`.
pub fn reset_fields(status_subresource: bool, via_status: bool) -> FieldSet {
    let mut s = FieldSet::default();
    if via_status {
        s.insert(&[Pe::Field("spec".into())]);
    } else if status_subresource {
        s.insert(&[Pe::Field("status".into())]);
    }
    s
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    o
}

/// What a write from `live` to `new` changes, less the fields never owned through it; and
/// the added or modified paths alone (what the writer takes from others).
fn changes(live: &Value, new: &Value, req: &Request<'_>) -> (Comparison, FieldSet) {
    let mut cmp = Comparison::default();
    compare(Some(live), Some(new), req.root, &mut Vec::new(), &mut cmp);
    let strip = strip_set();
    for s in [&mut cmp.added, &mut cmp.modified, &mut cmp.removed] {
        s.recursive_difference(&req.reset);
        s.difference(&strip);
    }
    let mut changed = cmp.added.clone();
    changed.union(&cmp.modified);
    (cmp, changed)
}

/// copies: `FieldManager.UpdateNoErrors`: the managed fields of `new` after an update from
/// `live` (`{}` for a create).
pub fn update(live: &Value, new: &mut Value, req: &Request<'_>) {
    let sent = new.pointer("/metadata/managedFields").cloned();
    if req.subresource.is_empty() && sent == Some(json!([{}])) {
        encode(Vec::new(), new);
        return;
    }
    let mut entries = match sent
        .as_ref()
        .filter(|s| s.as_array().is_some_and(|a| !a.is_empty()))
    {
        Some(_) if req.subresource.is_empty() => decode(new).or_else(|_| decode(live)),
        _ => decode(live),
    }
    .unwrap_or_default();
    let (cmp, changed) = changes(
        &without_managed_fields(live),
        &without_managed_fields(new),
        req,
    );
    for e in entries.iter_mut() {
        e.set.difference(&changed);
        e.set.difference(&cmp.removed);
    }
    if !changed.is_empty() {
        let now = now_timestamp();
        match entries
            .iter_mut()
            .find(|e| e.is(req.manager, "Update", req.subresource, &req.api_version))
        {
            Some(e) => {
                e.set.union(&changed);
                e.time = Some(now);
            }
            None => entries.push(Entry {
                manager: req.manager.to_string(),
                operation: "Update".into(),
                api_version: req.api_version.clone(),
                time: Some(now),
                subresource: req.subresource.to_string(),
                set: changed,
            }),
        }
    }
    encode(entries, new);
}

/// copies: `FieldManager.Apply`: `config` applied by `req.manager` to `live` (None: the object
/// does not exist yet). Returns the new object with its managed fields.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    req: &Request<'_>,
    force: bool,
) -> Result<Value, ApplyError> {
    let mut entries = live
        .map(decode)
        .transpose()
        .map_err(|_| ApplyError::Typed("failed to decode managed fields".into()))?
        .unwrap_or_default();
    let live_clean = live
        .map(without_managed_fields)
        .unwrap_or_else(|| json!({}));
    let strip = strip_set();
    if let (Some(live), true) = (live, entries.is_empty()) {
        let mut set = set_of(&live_clean, req.root);
        set.difference(&strip);
        entries.push(Entry {
            manager: "before-first-apply".into(),
            operation: "Update".into(),
            api_version: live
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            time: None,
            subresource: String::new(),
            set,
        });
    }
    check_typed(config, req.root, &mut Vec::new()).map_err(ApplyError::Typed)?;
    let mut config_set = FieldSet::default();
    to_set(config, req.root, &mut Vec::new(), &mut config_set).map_err(ApplyError::Typed)?;
    let mut config = without_managed_fields(config);
    remove_items(&mut config, &req.reset, req.root);
    config_set.recursive_difference(&req.reset);
    config_set.difference(&strip);
    let mut merged = merge(&live_clean, &config, req.root);
    let (_, changed) = changes(&live_clean, &merged, req);
    let mine = |e: &Entry| e.is(req.manager, "Apply", req.subresource, &req.api_version);
    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| !mine(e)) {
        let inter = e.set.intersection(&changed);
        if !inter.is_empty() {
            let paths: Vec<String> = inter.paths().iter().map(|p| display(p)).collect();
            conflicts.push((e.clone(), paths));
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(ApplyError::Conflict(conflict_error(&conflicts)));
    }
    for e in entries.iter_mut().filter(|e| !mine(e)) {
        e.set.difference(&changed);
    }
    let last = entries.iter().find(|e| mine(e)).map(|e| e.set.clone());
    let now = now_timestamp();
    match entries.iter_mut().find(|e| mine(e)) {
        Some(e) => {
            if e.set != config_set {
                e.time = Some(now.clone());
            }
            e.set = config_set;
            e.api_version = req.api_version.clone();
        }
        None => entries.push(Entry {
            manager: req.manager.to_string(),
            operation: "Apply".into(),
            api_version: req.api_version.clone(),
            time: Some(now.clone()),
            subresource: req.subresource.to_string(),
            set: config_set,
        }),
    }
    if let Some(last) = last {
        let mut owned = FieldSet::default();
        for e in &entries {
            owned.union(&e.set);
        }
        prune(&mut merged, &last, Some(&owned), req.root);
    }
    if merged != live_clean {
        if let Some(e) = entries.iter_mut().find(|e| mine(e)) {
            e.time = Some(now);
        }
    }
    encode(entries, &mut merged);
    Ok(merged)
}
