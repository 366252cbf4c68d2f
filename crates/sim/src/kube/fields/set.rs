//! Field sets and paths as structured-merge-diff keeps them, and their `FieldsV1` encoding.
//!
//! copies (sigs.k8s.io/structured-merge-diff `fieldpath`): a path is a list of elements — a
//! field name, a list-map item's key values, a set item's value, or an index; a set holds
//! "member" paths in a tree. `FieldsV1` is that tree as JSON: `f:<field>`, `k:<key object
//! JSON>`, `v:<value JSON>`, `i:<index>`, and `".": {}` where a path with children is itself a
//! member. Printed paths look like `.status.conditions[type="Ready"].status`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One path element.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pe {
    /// A named field or a map key.
    Field(String),
    /// A list-map item: its key fields as a JSON object (sorted keys).
    Key(String),
    /// A set item: its JSON value.
    Value(String),
    /// A list index (lists without a schema relationship only).
    Index(usize),
}

/// A path.
pub type Path = Vec<Pe>;

impl Pe {
    fn encode(&self) -> String {
        match self {
            Pe::Field(f) => format!("f:{f}"),
            Pe::Key(k) => format!("k:{k}"),
            Pe::Value(v) => format!("v:{v}"),
            Pe::Index(i) => format!("i:{i}"),
        }
    }

    fn decode(s: &str) -> Option<Pe> {
        let (kind, rest) = s.split_at_checked(2)?;
        Some(match kind {
            "f:" => Pe::Field(rest.to_string()),
            "k:" => {
                let v: Value = serde_json::from_str(rest).ok()?;
                Pe::Key(serde_json::to_string(&v).ok()?)
            }
            "v:" => {
                let v: Value = serde_json::from_str(rest).ok()?;
                Pe::Value(serde_json::to_string(&v).ok()?)
            }
            "i:" => Pe::Index(rest.parse().ok()?),
            _ => return None,
        })
    }

    /// copies: `PathElement.String()`.
    pub fn display(&self) -> String {
        match self {
            Pe::Field(f) => format!(".{f}"),
            Pe::Key(k) => {
                let v: Value = serde_json::from_str(k).unwrap_or(Value::Null);
                let parts: Vec<String> = v
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                    .unwrap_or_default();
                format!("[{}]", parts.join(","))
            }
            Pe::Value(v) => format!("[={v}]"),
            Pe::Index(i) => format!("[{i}]"),
        }
    }
}

/// `.a.b[k="v"]`
pub fn display(path: &[Pe]) -> String {
    path.iter().map(Pe::display).collect()
}

/// A set of paths, as a tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet {
    /// Whether the path leading here is in the set.
    pub member: bool,
    /// Paths below.
    pub children: BTreeMap<Pe, FieldSet>,
}

impl FieldSet {
    /// Adds `path`.
    pub fn insert(&mut self, path: &[Pe]) {
        let mut cur = self;
        for pe in path {
            cur = cur.children.entry(pe.clone()).or_default();
        }
        cur.member = true;
    }

    /// Whether no path is in the set.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    fn prune_empty(&mut self) {
        for c in self.children.values_mut() {
            c.prune_empty();
        }
        self.children.retain(|_, c| !c.is_empty());
    }

    /// `self ∪ other`
    pub fn union(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (pe, c) in &other.children {
            self.children.entry(pe.clone()).or_default().union(c);
        }
    }

    /// `self \ other` (members only: a path stays when only its children are in `other`).
    pub fn difference(&mut self, other: &FieldSet) {
        if other.member {
            self.member = false;
        }
        for (pe, c) in &other.children {
            if let Some(mine) = self.children.get_mut(pe) {
                mine.difference(c);
            }
        }
        self.prune_empty();
    }

    /// `self \ other`, also dropping everything below a member of `other`.
    pub fn recursive_difference(&mut self, other: &FieldSet) {
        for (pe, c) in &other.children {
            if c.member {
                self.children.remove(pe);
            } else if let Some(mine) = self.children.get_mut(pe) {
                mine.recursive_difference(c);
            }
        }
        self.prune_empty();
    }

    /// `self ∩ other`
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (pe, c) in &self.children {
            if let Some(o) = other.children.get(pe) {
                let i = c.intersection(o);
                if !i.is_empty() {
                    out.children.insert(pe.clone(), i);
                }
            }
        }
        out
    }

    /// Every member path, in order.
    pub fn paths(&self) -> Vec<Path> {
        fn walk(s: &FieldSet, prefix: &mut Path, out: &mut Vec<Path>) {
            if s.member {
                out.push(prefix.clone());
            }
            for (pe, c) in &s.children {
                prefix.push(pe.clone());
                walk(c, prefix, out);
                prefix.pop();
            }
        }
        let mut out = Vec::new();
        walk(self, &mut Vec::new(), &mut out);
        out
    }

    /// The `FieldsV1` JSON of the set.
    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (pe, c) in &self.children {
            m.insert(pe.encode(), c.to_fields_v1());
        }
        Value::Object(m)
    }

    /// Reads `FieldsV1` JSON; None when malformed.
    pub fn from_fields_v1(v: &Value) -> Option<FieldSet> {
        fn read(v: &Value) -> Option<FieldSet> {
            let m = v.as_object()?;
            let mut s = FieldSet {
                member: m.is_empty(),
                children: BTreeMap::new(),
            };
            for (k, c) in m {
                if k == "." {
                    s.member = true;
                    continue;
                }
                s.children.insert(Pe::decode(k)?, read(c)?);
            }
            Some(s)
        }
        let mut root = read(v)?;
        // The root itself is never a member.
        root.member = false;
        Some(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trips_and_prints_paths() {
        let v = json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:status": {"f:conditions": {"k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}, "f:type": {}}}}});
        let set = FieldSet::from_fields_v1(&v).unwrap();
        assert_eq!(set.to_fields_v1(), v);
        let paths: Vec<String> = set.paths().iter().map(|p| display(p)).collect();
        assert_eq!(
            paths,
            [
                ".metadata.labels",
                ".metadata.labels.app",
                ".status.conditions[type=\"Ready\"]",
                ".status.conditions[type=\"Ready\"].status",
                ".status.conditions[type=\"Ready\"].type",
            ]
        );
        let mut other = FieldSet::default();
        other.insert(&[Pe::Field("status".into())]);
        let mut rest = set.clone();
        rest.recursive_difference(&other);
        assert_eq!(rest.paths().len(), 2);
    }
}
