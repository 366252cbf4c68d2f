//! What the operator reads of its own work on a Node: its conditions (compact, see
//! [`ObservedConditions`]), its taints and other writers' taints of its keys, and whether the
//! Node is a control-plane Node. A few bytes per Node, read from the Node watch's
//! `SlimNode` (which keeps only the operator's condition types and taint keys of a Node's
//! status and spec, see `SlimNode::marks`) or from the answer to the operator's own writes.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

use super::conditions::{NodeConditionType, ObservedConditions, SeenCondition};
use super::taints::{Problem, ProblemSet, TaintEffect, TAINT_KEY_PREFIX, TAINT_VALUE};

/// Labels that make a Node a control-plane Node (the second is the pre-1.24 name some
/// installers still set).
pub const CONTROL_PLANE_LABELS: [&str; 2] = [
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
];

/// A condition of the operator's types as the Node watch decodes it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlimCondition {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub last_transition_time: Option<String>,
    #[serde(default)]
    pub last_heartbeat_time: Option<String>,
}

/// A taint of one of the operator's keys as the Node watch decodes it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimTaint {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub effect: String,
}

/// The effect of one of the operator's taints on a Node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SeenEffect {
    #[default]
    None,
    Is(TaintEffect),
    /// Another effect (NoExecute, set by hand on the operator's taint): replaced.
    Other,
}

/// The operator's marks on one Node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeMarks {
    pub conditions: ObservedConditions,
    /// The effect of the operator's taint of each problem (by [`Problem::ALL`] index).
    pub ours: [SeenEffect; 3],
    /// Problems whose key carries a taint someone else set (another value).
    pub manual: ProblemSet,
    pub control_plane: bool,
}

fn time(text: Option<&str>) -> Option<Timestamp> {
    text.and_then(|t| t.parse().ok())
}

impl NodeMarks {
    /// The marks of a Node's conditions, taints and labels.
    pub fn read(
        conditions: &[SlimCondition],
        taints: &[SlimTaint],
        labels: Option<&BTreeMap<String, String>>,
    ) -> Self {
        let seen = conditions.iter().filter_map(|c| {
            Some(SeenCondition {
                type_: NodeConditionType::of_str(&c.type_)?,
                status: &c.status,
                reason: &c.reason,
                message: &c.message,
                last_transition: time(c.last_transition_time.as_deref()),
                last_heartbeat: time(c.last_heartbeat_time.as_deref()),
            })
        });
        let mut marks = Self {
            conditions: ObservedConditions::of(seen),
            control_plane: labels
                .is_some_and(|l| CONTROL_PLANE_LABELS.iter().any(|k| l.contains_key(*k))),
            ..Self::default()
        };
        for taint in taints {
            let Some(problem) = Problem::of_key(&taint.key) else {
                continue;
            };
            if taint.value.as_deref() == Some(TAINT_VALUE) {
                marks.ours[problem as usize] = match TaintEffect::parse(&taint.effect) {
                    Ok(effect) => SeenEffect::Is(effect),
                    Err(_) => SeenEffect::Other,
                };
            } else {
                marks.manual.insert(problem);
            }
        }
        marks
    }

    /// Nothing of the operator's on the Node, and nothing that matters for it later.
    pub fn is_blank(&self) -> bool {
        *self == Self::default()
    }

    /// The operator's taints on the Node.
    pub fn our_taints(&self) -> ProblemSet {
        ProblemSet::of(
            Problem::ALL
                .into_iter()
                .filter(|p| self.ours[*p as usize] != SeenEffect::None),
        )
    }

    /// The operator's taints whose effect is not `effect`.
    pub fn stale_taints(&self, effect: TaintEffect) -> ProblemSet {
        ProblemSet::of(
            Problem::ALL
                .into_iter()
                .filter(|p| match self.ours[*p as usize] {
                    SeenEffect::None => false,
                    SeenEffect::Is(seen) => seen != effect,
                    SeenEffect::Other => true,
                }),
        )
    }

    /// The Node carries the operator's conditions or taints.
    pub fn has_ours(&self) -> bool {
        self.conditions.any() || !self.our_taints().is_empty()
    }
}

/// Keeps the elements of a JSON list that `keep` accepts; the others are decoded and dropped
/// at once (a Node's status carries the kubelet's conditions, its spec other taints).
fn filtered<'de, D, T>(deserializer: D, keep: fn(&T) -> bool) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Filter<T>(fn(&T) -> bool);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Filter<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list")
        }

        fn visit_unit<E>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut kept = Vec::new();
            while let Some(item) = seq.next_element::<T>()? {
                if (self.0)(&item) {
                    kept.push(item);
                }
            }
            Ok(kept)
        }
    }
    deserializer.deserialize_any(Filter(keep))
}

/// `status.conditions`, keeping the operator's types only.
pub(crate) fn our_conditions<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<SlimCondition>, D::Error> {
    filtered(deserializer, |c: &SlimCondition| {
        NodeConditionType::of_str(&c.type_).is_some()
    })
}

/// `spec.taints`, keeping the operator's keys only.
pub(crate) fn our_taints<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<SlimTaint>, D::Error> {
    filtered(deserializer, |t: &SlimTaint| {
        t.key.starts_with(TAINT_KEY_PREFIX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::SlimNode;
    use serde_json::json;

    #[test]
    fn a_node_keeps_only_the_operators_conditions_and_taint_keys() {
        let node: SlimNode = serde_json::from_value(json!({
            "metadata": {"name": "n", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"providerID": "huaweicloud:///id", "taints": [
                {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2024-05-01T10:00:00Z"},
                {"key": "hostrisk.io/unprotected", "value": "hostrisk-operator", "effect": "PreferNoSchedule"},
                {"key": "hostrisk.io/at-risk", "effect": "NoSchedule"},
                {"key": "hostrisk.io/agent-offline", "value": "hostrisk-operator", "effect": "NoExecute"},
            ]},
            "status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok",
                 "lastHeartbeatTime": "2024-05-01T10:00:00Z", "lastTransitionTime": "2024-05-01T10:00:00Z"},
                {"type": "HostSecurityAtRisk", "status": "True", "reason": "RisksFound", "message": "m",
                 "lastHeartbeatTime": "2024-05-01T10:05:00Z", "lastTransitionTime": "2024-05-01T09:00:00Z"},
            ], "images": [{"names": ["big"], "sizeBytes": 1}]},
        }))
        .expect("a Node decodes");
        let taints = &node.spec.as_ref().expect("spec").taints;
        assert_eq!(taints.len(), 3, "{taints:?}");
        let conditions = &node.status.as_ref().expect("status").conditions;
        assert_eq!(conditions.len(), 1);
        let marks = node.marks();
        assert!(marks.control_plane);
        assert_eq!(
            marks.our_taints(),
            ProblemSet::of([Problem::Unprotected, Problem::AgentOffline])
        );
        assert_eq!(marks.manual, ProblemSet::of([Problem::AtRisk]));
        assert_eq!(
            marks.stale_taints(TaintEffect::PreferNoSchedule),
            ProblemSet::of([Problem::AgentOffline])
        );
        assert_eq!(
            marks.stale_taints(TaintEffect::NoSchedule),
            ProblemSet::of([Problem::Unprotected, Problem::AgentOffline])
        );
        assert_eq!(
            marks.conditions.true_since(NodeConditionType::AtRisk),
            Some("2024-05-01T09:00:00Z".parse().expect("time"))
        );
        assert!(marks.has_ours());
    }

    #[test]
    fn a_plain_node_leaves_blank_marks() {
        let node: SlimNode = serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "spec": {"taints": null},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }))
        .expect("decodes");
        assert!(node.marks().is_blank());
        let bare: SlimNode =
            serde_json::from_value(json!({"metadata": {"name": "n"}})).expect("decodes");
        assert!(bare.marks().is_blank());
    }
}
