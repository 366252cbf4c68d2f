//! What structured-merge-diff needs to know of a schema: which nodes are maps (granular or
//! atomic), which lists are atomic, sets or maps (with their keys), and where fields are not
//! declared.
//!
//! copies (kube-openapi `schemaconv` / apiextensions' type converter): `x-kubernetes-list-type`
//! (`atomic` when absent, also for built-in lists without the marker), `x-kubernetes-list-map-keys`,
//! `x-kubernetes-map-type: atomic` (granular otherwise), `x-kubernetes-int-or-string` (a scalar),
//! `x-kubernetes-preserve-unknown-fields` (undeclared fields are "deduced": maps granular, lists
//! atomic), and every other undeclared field is "not declared in schema".

use serde_json::Value;

use super::super::meta::string_list;

/// How a list's items relate.
#[derive(Debug, Clone, PartialEq)]
pub enum ListKind {
    /// Replaced as a whole.
    Atomic,
    /// Items are scalars, unique, owned one by one.
    Set,
    /// Items are objects keyed by these fields, owned one by one.
    Map(Vec<String>),
}

/// The shape of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A leaf.
    Scalar,
    /// An object; `atomic` ones are replaced as a whole.
    Map { atomic: bool },
    /// A list.
    List(ListKind),
}

/// A schema node, or a deduced one (no schema: shaped by the value).
#[derive(Debug, Clone, Copy)]
pub enum Node<'a> {
    /// Described by this (OpenAPI v3 JSON) schema.
    Typed(&'a Value),
    /// Under `x-kubernetes-preserve-unknown-fields`.
    Deduced,
}

fn is_true(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

impl<'a> Node<'a> {
    /// The node's shape, given the value found there (deduced nodes follow the value).
    pub fn shape(self, value: Option<&Value>) -> Shape {
        let deduced = |v: Option<&Value>| match v {
            Some(Value::Object(_)) => Shape::Map { atomic: false },
            Some(Value::Array(_)) => Shape::List(ListKind::Atomic),
            _ => Shape::Scalar,
        };
        let s = match self {
            Node::Deduced => return deduced(value),
            Node::Typed(s) => s,
        };
        if is_true(s, "x-kubernetes-int-or-string") {
            return Shape::Scalar;
        }
        let ty = s.get("type").and_then(Value::as_str);
        if ty == Some("array") {
            let kind = match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => ListKind::Set,
                Some("map") => ListKind::Map(string_list(s.get("x-kubernetes-list-map-keys"))),
                _ => ListKind::Atomic,
            };
            return Shape::List(kind);
        }
        if ty == Some("object")
            || s.get("properties").is_some()
            || s.get("additionalProperties").is_some()
        {
            let atomic = s.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
            return Shape::Map { atomic };
        }
        if ty.is_none() && is_true(s, "x-kubernetes-preserve-unknown-fields") {
            return deduced(value);
        }
        Shape::Scalar
    }

    /// The node of field or key `key` of a map node: Err when not declared.
    pub fn child(self, key: &str) -> Result<(Node<'a>, bool), ()> {
        let s = match self {
            Node::Deduced => return Ok((Node::Deduced, false)),
            Node::Typed(s) => s,
        };
        if let Some(p) = s.get("properties").and_then(|p| p.get(key)) {
            return Ok((Node::Typed(p), true));
        }
        match s.get("additionalProperties") {
            Some(a @ Value::Object(_)) => return Ok((Node::Typed(a), false)),
            Some(Value::Bool(true)) => return Ok((Node::Deduced, false)),
            _ => {}
        }
        if is_true(s, "x-kubernetes-preserve-unknown-fields") || s.get("type").is_none() {
            return Ok((Node::Deduced, false));
        }
        Err(())
    }

    /// The node of a list's items.
    pub fn items(self) -> Node<'a> {
        match self {
            Node::Typed(s) => s.get("items").map(Node::Typed).unwrap_or(Node::Deduced),
            Node::Deduced => Node::Deduced,
        }
    }

    /// A list-map key field's default, if the items schema declares one.
    pub fn key_default(self, key: &str) -> Option<&'a Value> {
        match self {
            Node::Typed(s) => s.get("properties")?.get(key)?.get("default"),
            Node::Deduced => None,
        }
    }
}
