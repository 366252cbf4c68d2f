//! The writing walks of structured-merge-diff: the merge of a configuration into an object,
//! the removal of items, and the pruning of what a manager stopped applying.
//!
//! copies (structured-merge-diff `typed` / `merge`): `Merge` (the configuration wins on leaves
//! and atomic nodes, granular maps merge key by key, set and map lists item by item in
//! structured-merge-diff's order), `RemoveItems`.

use serde_json::{Map, Value};

use super::set::{FieldSet, Pe};
use super::types::{ListKind, Node, Shape};
use super::walk::item_pe;

/// copies: the merging walker's list order: shared items in the configuration's order, items
/// only in the object kept in place, items only in the configuration placed where it puts them.
fn merge_list(kind: &ListKind, items: Node<'_>, l: &[Value], r: &[Value]) -> Vec<Value> {
    let lhs: Vec<(Pe, &Value)> = l
        .iter()
        .filter_map(|v| item_pe(kind, items, v).ok().map(|p| (p, v)))
        .collect();
    let rhs: Vec<(Pe, &Value)> = r
        .iter()
        .filter_map(|v| item_pe(kind, items, v).ok().map(|p| (p, v)))
        .collect();
    let in_l = |pe: &Pe| lhs.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
    let in_r = |pe: &Pe| rhs.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
    let mut shared: std::collections::VecDeque<Pe> = rhs
        .iter()
        .filter(|(p, _)| in_l(p).is_some())
        .map(|(p, _)| p.clone())
        .collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: Vec<Pe> = Vec::new();
    let mut out = Vec::new();
    let merge_item = |pe: &Pe| match (in_l(pe), in_r(pe)) {
        (Some(a), Some(b)) => merge(a, b, items),
        (Some(a), None) => a.clone(),
        (None, Some(b)) => b.clone(),
        (None, None) => Value::Null,
    };
    let (mut li, mut ri) = (0, 0);
    while li < lhs.len() || ri < rhs.len() {
        if li < lhs.len() && ri < rhs.len() {
            let pe = &lhs[li].0;
            if *pe == rhs[ri].0 {
                merged_rhs.push(pe.clone());
                out.push(merge_item(pe));
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if in_r(pe).is_some() && next_shared.as_ref().is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lhs.len() {
            let pe = &lhs[li].0;
            if in_r(pe).is_none() {
                out.push(lhs[li].1.clone());
                li += 1;
                continue;
            } else if merged_rhs.contains(pe) {
                li += 1;
                continue;
            }
        }
        if ri < rhs.len() {
            let pe = rhs[ri].0.clone();
            merged_rhs.push(pe.clone());
            out.push(merge_item(&pe));
            ri += 1;
            if next_shared.as_ref() == Some(&pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    out
}

/// copies: `TypedValue.Merge()`: `r` (an apply configuration) merged into `l`.
pub fn merge(l: &Value, r: &Value, node: Node<'_>) -> Value {
    match node.shape(Some(r)) {
        Shape::Map { atomic: false } => {
            let (Some(lm), Some(rm)) = (l.as_object(), r.as_object()) else {
                return r.clone();
            };
            let mut out = lm.clone();
            for (k, rv) in rm {
                let child = node.child(k).map(|(c, _)| c).unwrap_or(Node::Deduced);
                let v = match lm.get(k) {
                    Some(lv) => merge(lv, rv, child),
                    None => rv.clone(),
                };
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Shape::List(kind @ (ListKind::Set | ListKind::Map(_))) => {
            let (Some(la), Some(ra)) = (l.as_array(), r.as_array()) else {
                return r.clone();
            };
            Value::Array(merge_list(&kind, node.items(), la, ra))
        }
        _ => r.clone(),
    }
}

/// copies: `TypedValue.RemoveItems(set)`: removes every member of `set` (fields, list items).
pub fn remove_items(value: &mut Value, set: &FieldSet, node: Node<'_>) {
    match node.shape(Some(value)) {
        Shape::Map { atomic: false } => {
            let Some(map) = value.as_object_mut() else {
                return;
            };
            for (pe, child_set) in &set.children {
                let Pe::Field(k) = pe else { continue };
                if child_set.member {
                    map.remove(k);
                } else if let Some(v) = map.get_mut(k) {
                    let child = node.child(k).map(|(c, _)| c).unwrap_or(Node::Deduced);
                    remove_items(v, child_set, child);
                }
            }
        }
        Shape::List(kind @ (ListKind::Set | ListKind::Map(_))) => {
            let items = node.items();
            let Some(list) = value.as_array_mut() else {
                return;
            };
            list.retain(|item| {
                item_pe(&kind, items, item)
                    .map(|pe| !set.children.get(&pe).is_some_and(|c| c.member))
                    .unwrap_or(true)
            });
            for item in list.iter_mut() {
                if let Ok(pe) = item_pe(&kind, items, item) {
                    if let Some(c) = set.children.get(&pe) {
                        remove_items(item, c, items);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Removes what `last` (a manager's previous apply) holds and `owned` (every manager's set
/// now) does not, nor anything below it; named fields left empty by that go too.
/// copies the outcome of structured-merge-diff's `prune` + `addBackOwnedItems` +
/// `addBackDanglingItems` for what the stand-in's callers apply.
pub fn prune(value: &mut Value, last: &FieldSet, owned: Option<&FieldSet>, node: Node<'_>) {
    let owned_child = |pe: &Pe| {
        owned
            .and_then(|o| o.children.get(pe))
            .filter(|c| !c.is_empty())
    };
    match node.shape(Some(value)) {
        Shape::Map { atomic: false } => {
            let Some(map) = value.as_object_mut() else {
                return;
            };
            for (pe, last_child) in &last.children {
                let Pe::Field(k) = pe else { continue };
                let kept = owned_child(pe);
                if last_child.member && kept.is_none() {
                    map.remove(k);
                } else if let Some(v) = map.get_mut(k) {
                    let (child, declared) = node.child(k).unwrap_or((Node::Deduced, false));
                    prune(v, last_child, kept, child);
                    if declared && kept.is_none() && v.as_object().is_some_and(Map::is_empty) {
                        map.remove(k);
                    }
                }
            }
        }
        Shape::List(kind @ (ListKind::Set | ListKind::Map(_))) => {
            let items = node.items();
            let Some(list) = value.as_array_mut() else {
                return;
            };
            let gone: Vec<Pe> = last
                .children
                .iter()
                .filter(|(pe, c)| c.member && owned_child(pe).is_none())
                .map(|(pe, _)| pe.clone())
                .collect();
            list.retain(|item| {
                item_pe(&kind, items, item)
                    .map(|pe| !gone.contains(&pe))
                    .unwrap_or(true)
            });
            for item in list.iter_mut() {
                if let Ok(pe) = item_pe(&kind, items, item) {
                    if let Some(c) = last.children.get(&pe) {
                        prune(item, c, owned_child(&pe), items);
                    }
                }
            }
        }
        _ => {}
    }
}
