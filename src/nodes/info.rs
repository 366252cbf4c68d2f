//! What the operator keeps of a Node: its name, labels, `spec.providerID` and the annotations a
//! watch reads ids from. A Node object is large (status with images, conditions, addresses;
//! `managedFields`), so the watch decodes Nodes into [`SlimNode`], which skips the rest of
//! `status` and `spec` without allocating it, and keeps [`NodeInfo`] only (and, for the Node
//! conditions, the few bytes of [`super::marks::NodeMarks`]).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::marks::{NodeMarks, SlimCondition, SlimTaint};

/// A Node as the watch decodes it: metadata, `spec.providerID`, and the operator's own
/// conditions and taint keys; every other field is skipped by the decoder.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimNode {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Option<SlimNodeSpec>,
    /// Node conditions: the operator's condition types only.
    #[serde(default)]
    pub status: Option<SlimNodeStatus>,
}

/// The part of `NodeSpec` the operator reads.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimNodeSpec {
    #[serde(default, rename = "providerID")]
    pub provider_id: Option<String>,
    /// Node conditions: the taints of the operator's keys only.
    #[serde(default, deserialize_with = "super::marks::our_taints")]
    pub taints: Vec<SlimTaint>,
}

/// The part of `NodeStatus` the operator reads (Node conditions).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimNodeStatus {
    #[serde(default, deserialize_with = "super::marks::our_conditions")]
    pub conditions: Vec<SlimCondition>,
}

impl SlimNode {
    /// The operator's marks on the Node (its conditions and taints, the control-plane label).
    pub fn marks(&self) -> NodeMarks {
        let taints = self.spec.as_ref().map(|s| &s.taints[..]).unwrap_or(&[]);
        let conditions = self
            .status
            .as_ref()
            .map(|s| &s.conditions[..])
            .unwrap_or(&[]);
        NodeMarks::read(conditions, taints, self.metadata.labels.as_ref())
    }
}

impl k8s_openapi::Resource for SlimNode {
    const API_VERSION: &'static str = "v1";
    const GROUP: &'static str = "";
    const KIND: &'static str = "Node";
    const VERSION: &'static str = "v1";
    const URL_PATH_SEGMENT: &'static str = "nodes";
    type Scope = k8s_openapi::ClusterResourceScope;
}

impl k8s_openapi::ListableResource for SlimNode {
    const LIST_KIND: &'static str = "NodeList";
}

impl k8s_openapi::Metadata for SlimNode {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The Node facts node-backed watches depend on. Two values compare equal exactly when no
/// watch could resolve the Node differently.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub provider_id: Option<String>,
    /// Only the annotations some watch reads an id from.
    pub annotations: BTreeMap<String, String>,
}

impl NodeInfo {
    /// The facts of `node`, keeping the annotations named in `annotation_keys`.
    pub fn of(node: SlimNode, annotation_keys: &BTreeSet<String>) -> Self {
        let metadata = node.metadata;
        let annotations = metadata
            .annotations
            .unwrap_or_default()
            .into_iter()
            .filter(|(key, _)| annotation_keys.contains(key))
            .collect();
        Self {
            name: metadata.name.unwrap_or_default(),
            labels: metadata.labels.unwrap_or_default(),
            provider_id: node
                .spec
                .and_then(|spec| spec.provider_id)
                .filter(|id| !id.is_empty()),
            annotations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_node_decodes_to_its_name_labels_provider_id_and_wanted_annotations() {
        let node: SlimNode = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {
                "name": "worker-1",
                "labels": {"pool": "web"},
                "annotations": {"example.com/ecs-id": "id-1", "node.alpha.kubernetes.io/ttl": "0"},
                "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:status": {}}}],
            },
            "spec": {"providerID": "huaweicloud:///id-1", "podCIDR": "10.0.0.0/24"},
            "status": {"images": [{"names": ["big"], "sizeBytes": 1}], "capacity": {"cpu": "4"}},
        }))
        .expect("a Node decodes");
        let keys = BTreeSet::from(["example.com/ecs-id".to_string()]);
        let info = NodeInfo::of(node, &keys);
        assert_eq!(
            info,
            NodeInfo {
                name: "worker-1".into(),
                labels: BTreeMap::from([("pool".into(), "web".into())]),
                provider_id: Some("huaweicloud:///id-1".into()),
                annotations: BTreeMap::from([("example.com/ecs-id".into(), "id-1".into())]),
            }
        );
        let bare: SlimNode = serde_json::from_value(json!({"metadata": {"name": "n"}, "spec": {}}))
            .expect("decodes");
        assert_eq!(NodeInfo::of(bare, &keys).provider_id, None);
    }
}
