//! The spec fields of node-backed watches: `spec.nodeSelector` (a label selector over Nodes, in
//! the shape of `metav1.LabelSelector`) and `spec.nodeHostIdFrom` (where a Node's ECS server id
//! is read when it is not `spec.providerID`).
//!
//! Own types rather than k8s-openapi's `LabelSelector`: the spec derives `Eq`, and the schema
//! needs bounds on every list and string (the API server refuses CEL rules of unbounded cost).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::{
    self, LABEL_KEY_MAX_LEN, LABEL_VALUE_MAX_LEN, LABEL_VALUE_PATTERN, QUALIFIED_NAME_PATTERN,
    SELECTOR_EXPRESSIONS_MAX, SELECTOR_VALUES_MAX,
};

/// Which Nodes a watch covers: the labels a Node must carry (`matchLabels`) and the
/// requirements its labels must meet (`matchExpressions`), all of them. `{}` selects every Node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelector {
    /// Labels a Node must carry with exactly these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(transform = schema::selector_labels)]
    pub match_labels: BTreeMap<String, String>,

    /// Requirements on a Node's labels (at most 32), all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = SELECTOR_EXPRESSIONS_MAX))]
    pub match_expressions: Vec<NodeSelectorRequirement>,
}

/// One requirement of the node selector, as in `metav1.LabelSelectorRequirement`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = schema::requirement_rules)]
pub struct NodeSelectorRequirement {
    /// The label key, e.g. `node.kubernetes.io/instance-type`.
    #[schemars(length(min = 1, max = LABEL_KEY_MAX_LEN), regex(pattern = QUALIFIED_NAME_PATTERN))]
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[schemars(schema_with = "schema::operator_schema")]
    pub operator: String,
    /// Label values (at most 64): non-empty for `In` and `NotIn`, empty for `Exists` and
    /// `DoesNotExist`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = SELECTOR_VALUES_MAX),
        inner(length(max = LABEL_VALUE_MAX_LEN), regex(pattern = LABEL_VALUE_PATTERN))
    )]
    pub values: Vec<String>,
}

/// Where a Node's ECS server id is read instead of `spec.providerID`: exactly one of `label`
/// and `annotation`, naming a key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = schema::host_id_from_rules)]
pub struct NodeHostIdFrom {
    /// A Node label whose value is the ECS server id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = LABEL_KEY_MAX_LEN), regex(pattern = QUALIFIED_NAME_PATTERN))]
    pub label: Option<String>,
    /// A Node annotation whose value is the ECS server id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = LABEL_KEY_MAX_LEN), regex(pattern = QUALIFIED_NAME_PATTERN))]
    pub annotation: Option<String>,
}

/// Where the operator reads each selected Node's ECS server id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostIdSource {
    /// `Node.spec.providerID` (Huawei Cloud's cloud provider sets it).
    #[default]
    ProviderId,
    /// The value of this Node label.
    Label(String),
    /// The value of this Node annotation.
    Annotation(String),
}

impl std::fmt::Display for HostIdSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ProviderId => write!(f, "spec.providerID"),
            Self::Label(key) => write!(f, "label {key}"),
            Self::Annotation(key) => write!(f, "annotation {key}"),
        }
    }
}
