//! The writes to Nodes and the Events about them.
//!
//! - Conditions: server-side apply of exactly the operator's three conditions on `nodes/status`
//!   under its field manager (forced: the types are the operator's). The kubelet's conditions
//!   (strategic merge patches of its own entries) and other writers' stay, and the operator's
//!   stay when they write. Removing them is an apply without them (the server drops what the
//!   manager no longer applies), then, should another writer have touched them, a strategic
//!   merge patch deleting them by type.
//! - Taints: `spec.taints` is one atomic list under server-side apply, so applying it would
//!   take every taint over; the operator reads the Node and sends a JSON patch guarded by a
//!   `test` of the list it read (or of the resourceVersion when there is none), retried from a
//!   fresh read when someone wrote in between. Only taints with the operator's value are
//!   replaced or removed.

use k8s_openapi::api::core::v1::{Node, ObjectReference};
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::events::Reporter;
use kube::Api;
use serde_json::{json, Value};

use crate::controller::outputs::events::publish_events_as;
use crate::controller::settings::CONTROLLER_NAME;
use crate::crd::WatchKey;
use crate::metrics::Metrics;
use crate::nodes::conditions::{NodeCondition, NodeConditionType};
use crate::nodes::marks::NodeMarks;
use crate::nodes::taints::{Problem, ProblemSet, TaintEffect, TAINT_VALUE};
use crate::nodes::SlimNode;
use crate::status::TransitionEvent;

/// Attempts of a taint change when other writers keep changing the Node in between.
const TAINT_ATTEMPTS: usize = 5;

/// The `action` of the Events about taints.
pub const TAINT_ACTION: &str = "Taint";

/// A Node as a write left it.
#[derive(Debug, Clone)]
pub struct Written {
    pub marks: NodeMarks,
    pub version: Option<String>,
    pub uid: Option<String>,
}

impl Written {
    fn of(node: &SlimNode) -> Self {
        Self {
            marks: node.marks(),
            version: node.metadata.resource_version.clone(),
            uid: node.metadata.uid.clone(),
        }
    }
}

pub struct NodeWriter {
    client: kube::Client,
    reporter: Reporter,
    metrics: Metrics,
}

fn is_code(error: &kube::Error, codes: &[u16]) -> bool {
    matches!(error, kube::Error::Api(status) if codes.contains(&status.code))
}

/// The error's HTTP status, if the API server answered.
pub fn code_of(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

impl NodeWriter {
    pub fn new(client: kube::Client, reporter: Reporter, metrics: Metrics) -> Self {
        Self {
            client,
            reporter,
            metrics,
        }
    }

    fn slim(&self) -> Api<SlimNode> {
        Api::all(self.client.clone())
    }

    /// Applies `conditions` (or, with `None`, none: removes the operator's). `Ok(None)`: the
    /// Node is gone.
    pub async fn conditions(
        &self,
        name: &str,
        conditions: Option<&[NodeCondition; 3]>,
    ) -> Result<Option<Written>, kube::Error> {
        let result = self.apply_conditions(name, conditions).await;
        self.metrics.record_node_write("conditions", result.is_ok());
        result
    }

    async fn apply_conditions(
        &self,
        name: &str,
        conditions: Option<&[NodeCondition; 3]>,
    ) -> Result<Option<Written>, kube::Error> {
        let mut config = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}});
        if let Some(conditions) = conditions {
            let list: Vec<Value> = conditions.iter().map(NodeCondition::to_json).collect();
            config["status"] = json!({"conditions": list});
        }
        let params = PatchParams::apply(CONTROLLER_NAME).force();
        let node = match self
            .slim()
            .patch_status(name, &params, &Patch::Apply(&config))
            .await
        {
            Ok(node) => node,
            Err(error) if is_code(&error, &[404]) => return Ok(None),
            Err(error) => return Err(error),
        };
        let written = Written::of(&node);
        if conditions.is_some() || !written.marks.conditions.any() {
            return Ok(Some(written));
        }
        // Another writer co-owns them: delete them by type.
        let delete: Vec<Value> = NodeConditionType::ALL
            .iter()
            .map(|t| json!({"type": t.as_str(), "$patch": "delete"}))
            .collect();
        let patch = json!({"status": {"conditions": delete}});
        let params = PatchParams {
            field_manager: Some(CONTROLLER_NAME.to_string()),
            ..PatchParams::default()
        };
        match self
            .slim()
            .patch_status(name, &params, &Patch::Strategic(&patch))
            .await
        {
            Ok(node) => Ok(Some(Written::of(&node))),
            Err(error) if is_code(&error, &[404]) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Makes the operator's taints on `name` exactly `taints` with `effect`, leaving every
    /// other taint as it is. `Ok(None)`: the Node is gone.
    pub async fn taints(
        &self,
        name: &str,
        taints: ProblemSet,
        effect: TaintEffect,
    ) -> Result<Option<Written>, kube::Error> {
        let result = self.set_taints(name, taints, effect).await;
        self.metrics.record_node_write("taints", result.is_ok());
        result
    }

    async fn set_taints(
        &self,
        name: &str,
        taints: ProblemSet,
        effect: TaintEffect,
    ) -> Result<Option<Written>, kube::Error> {
        let raw: Api<DynamicObject> =
            Api::all_with(self.client.clone(), &ApiResource::erase::<Node>(&()));
        let params = PatchParams {
            field_manager: Some(CONTROLLER_NAME.to_string()),
            ..PatchParams::default()
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Some(node) = raw.get_opt(name).await? else {
                return Ok(None);
            };
            let current = node.data.pointer("/spec/taints").cloned();
            let list = current.as_ref().and_then(Value::as_array).cloned();
            let next = next_taints(list.as_deref().unwrap_or(&[]), taints, effect);
            if list.as_deref().unwrap_or(&[]) == next.as_slice() {
                let slim: SlimNode = serde_json::to_value(&node)
                    .and_then(serde_json::from_value)
                    .map_err(kube::Error::SerdeError)?;
                return Ok(Some(Written::of(&slim)));
            }
            let guard = match &current {
                Some(list) => json!({"op": "test", "path": "/spec/taints", "value": list}),
                None => json!({"op": "test", "path": "/metadata/resourceVersion",
                               "value": node.metadata.resource_version}),
            };
            let change = if next.is_empty() {
                json!({"op": "remove", "path": "/spec/taints"})
            } else {
                json!({"op": "add", "path": "/spec/taints", "value": next})
            };
            let patch: json_patch::Patch =
                serde_json::from_value(json!([guard, change])).map_err(kube::Error::SerdeError)?;
            match self
                .slim()
                .patch(name, &params, &Patch::Json::<()>(patch))
                .await
            {
                Ok(node) => return Ok(Some(Written::of(&node))),
                Err(error) if is_code(&error, &[404]) => return Ok(None),
                // Someone wrote the Node since it was read: read it again.
                Err(error) if is_code(&error, &[409, 422]) && attempt < TAINT_ATTEMPTS => {
                    tracing::debug!(node = name, %error, "Node changed while tainting; reading it again");
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Publishes `events` about Node `name` (`uid`: the Node's, when known; the kubelet's
    /// convention of the name otherwise, which `kubectl describe node` finds too).
    pub async fn node_events(&self, name: &str, uid: Option<&str>, events: &[TransitionEvent]) {
        let regarding = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(name.into()),
            uid: Some(uid.unwrap_or(name).into()),
            ..ObjectReference::default()
        };
        self.publish(&regarding, events).await;
    }

    /// Publishes `events` about the watch `key`.
    pub async fn watch_events(
        &self,
        key: &WatchKey,
        uid: Option<&str>,
        events: &[TransitionEvent],
    ) {
        let regarding = ObjectReference {
            api_version: Some("hostrisk.io/v1alpha1".into()),
            kind: Some("HostRiskWatch".into()),
            name: Some(key.name.clone()),
            namespace: Some(key.namespace.clone()),
            uid: uid.map(str::to_string),
            ..ObjectReference::default()
        };
        self.publish(&regarding, events).await;
    }

    async fn publish(&self, regarding: &ObjectReference, events: &[TransitionEvent]) {
        publish_events_as(
            &self.client,
            &self.reporter,
            regarding,
            TAINT_ACTION,
            events,
            &self.metrics,
        )
        .await;
    }
}

/// `current` with the operator's taints (its value, its keys) replaced by `taints` with
/// `effect`; a problem whose key already carries someone else's taint gets none of ours.
fn next_taints(current: &[Value], taints: ProblemSet, effect: TaintEffect) -> Vec<Value> {
    let key = |t: &Value| t.get("key").and_then(Value::as_str).map(str::to_string);
    let ours = |t: &Value| {
        key(t).is_some_and(|k| Problem::of_key(&k).is_some())
            && t.get("value").and_then(Value::as_str) == Some(TAINT_VALUE)
    };
    let mut next: Vec<Value> = current.iter().filter(|t| !ours(t)).cloned().collect();
    for problem in taints.iter() {
        let taken = next
            .iter()
            .any(|t| key(t).as_deref() == Some(problem.key()));
        if !taken {
            next.push(
                json!({"key": problem.key(), "value": TAINT_VALUE, "effect": effect.as_str()}),
            );
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_operators_taints_are_replaced_and_a_manual_one_blocks_ours() {
        let current = vec![
            json!({"key": "dedicated", "value": "db", "effect": "NoSchedule"}),
            json!({"key": "hostrisk.io/unprotected", "effect": "NoSchedule"}),
            json!({"key": "hostrisk.io/at-risk", "value": "hostrisk-operator", "effect": "NoSchedule"}),
        ];
        let next = next_taints(
            &current,
            ProblemSet::of([Problem::Unprotected, Problem::AgentOffline]),
            TaintEffect::PreferNoSchedule,
        );
        assert_eq!(
            next,
            vec![
                json!({"key": "dedicated", "value": "db", "effect": "NoSchedule"}),
                json!({"key": "hostrisk.io/unprotected", "effect": "NoSchedule"}),
                json!({"key": "hostrisk.io/agent-offline", "value": "hostrisk-operator", "effect": "PreferNoSchedule"}),
            ]
        );
        let cleared = next_taints(&next, ProblemSet::EMPTY, TaintEffect::PreferNoSchedule);
        assert_eq!(cleared, current[..2]);
    }
}
