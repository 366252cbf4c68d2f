//! CEL rules (`x-kubernetes-validations`) of the schema. Kept as constants so the schema, the
//! code-side validation and the tests quote the same text.

/// Spec rule: `region` and `endpoint` are mutually exclusive.
pub const REGION_AND_ENDPOINT_RULE: &str = "!(has(self.region) && has(self.endpoint))";
/// Message of [`REGION_AND_ENDPOINT_RULE`].
pub const REGION_AND_ENDPOINT_MESSAGE: &str =
    "spec.region and spec.endpoint are mutually exclusive: set exactly one of them";

/// Spec rule: one of `region` or `endpoint` is present.
pub const REGION_OR_ENDPOINT_RULE: &str = "has(self.region) || has(self.endpoint)";
/// Message of [`REGION_OR_ENDPOINT_RULE`].
pub const REGION_OR_ENDPOINT_MESSAGE: &str =
    "set exactly one of spec.region (a Huawei Cloud region such as ap-southeast-1) or spec.endpoint (a URL)";

/// Spec rule: the hosts come from exactly one of `hostIds` and `nodeSelector`.
pub const HOSTS_SOURCE_RULE: &str = "has(self.hostIds) != has(self.nodeSelector)";
/// Message of [`HOSTS_SOURCE_RULE`].
pub const HOSTS_SOURCE_MESSAGE: &str =
    "set exactly one of spec.hostIds (ECS server ids) or spec.nodeSelector (a label selector over Nodes; {} selects every node)";

/// Spec rule: `nodeHostIdFrom` only means something for a node-backed watch.
pub const HOST_ID_FROM_NEEDS_NODES_RULE: &str =
    "!has(self.nodeHostIdFrom) || has(self.nodeSelector)";
/// Message of [`HOST_ID_FROM_NEEDS_NODES_RULE`].
pub const HOST_ID_FROM_NEEDS_NODES_MESSAGE: &str =
    "spec.nodeHostIdFrom applies to node-backed watches only: set spec.nodeSelector, or remove it";

/// `nodeHostIdFrom` rule: exactly one key source.
pub const HOST_ID_FROM_ONE_RULE: &str = "has(self.label) != has(self.annotation)";
/// Message of [`HOST_ID_FROM_ONE_RULE`].
pub const HOST_ID_FROM_ONE_MESSAGE: &str =
    "spec.nodeHostIdFrom sets exactly one of label or annotation";

/// Requirement rule: `In` and `NotIn` need values, `Exists` and `DoesNotExist` take none (as
/// the API server validates a `metav1.LabelSelector`).
pub const REQUIREMENT_VALUES_RULE: &str =
    "(self.operator == 'In' || self.operator == 'NotIn') == (has(self.values) && size(self.values) > 0)";
/// Message of [`REQUIREMENT_VALUES_RULE`].
pub const REQUIREMENT_VALUES_MESSAGE: &str =
    "values must be non-empty for operators In and NotIn, and empty for Exists and DoesNotExist";

/// Spec rule: exactly one way to the credentials.
pub const ONE_CREDENTIALS_SOURCE_RULE: &str =
    "has(self.credentialsSecretRef) != has(self.workloadIdentity)";
/// Message of [`ONE_CREDENTIALS_SOURCE_RULE`].
pub const ONE_CREDENTIALS_SOURCE_MESSAGE: &str =
    "set exactly one of spec.credentialsSecretRef (a Secret of this namespace) or spec.workloadIdentity (a ServiceAccount of this namespace)";

/// Endpoint rule: an http(s) URL. The operator narrows this further at run time
/// (`--allowed-endpoints`, loopback-only plain http).
pub const ENDPOINT_SCHEME_RULE: &str = "self.startsWith('https://') || self.startsWith('http://')";
/// Message of [`ENDPOINT_SCHEME_RULE`].
pub const ENDPOINT_SCHEME_MESSAGE: &str =
    "spec.endpoint must be an https:// URL (http:// only for loopback test endpoints)";

/// Interval rule: at least one minute. The guard (the schema's `pattern`, see
/// [`super::duration::DURATION_PATTERN`], and not empty) keeps a malformed value from turning into
/// a CEL evaluation error: the `pattern` and `minLength` of the schema report it more clearly.
pub const INTERVAL_FLOOR_RULE: &str =
    "self == '' || !self.matches('^([0-9]+h)?([0-9]+m)?([0-9]+s)?$') || duration(self) >= duration('1m')";
/// Message of [`INTERVAL_FLOOR_RULE`].
pub const INTERVAL_FLOOR_MESSAGE: &str =
    "spec.interval must be at least 1m (HSS allows 5 calls per minute per user)";

/// A rule with its message, as written into the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CelRule {
    pub rule: &'static str,
    pub message: &'static str,
}

/// Rules on the spec object itself.
pub const SPEC_RULES: &[CelRule] = &[
    CelRule {
        rule: REGION_AND_ENDPOINT_RULE,
        message: REGION_AND_ENDPOINT_MESSAGE,
    },
    CelRule {
        rule: REGION_OR_ENDPOINT_RULE,
        message: REGION_OR_ENDPOINT_MESSAGE,
    },
    CelRule {
        rule: HOSTS_SOURCE_RULE,
        message: HOSTS_SOURCE_MESSAGE,
    },
    CelRule {
        rule: HOST_ID_FROM_NEEDS_NODES_RULE,
        message: HOST_ID_FROM_NEEDS_NODES_MESSAGE,
    },
    CelRule {
        rule: ONE_CREDENTIALS_SOURCE_RULE,
        message: ONE_CREDENTIALS_SOURCE_MESSAGE,
    },
];

/// Rules on `spec.nodeHostIdFrom`.
pub const HOST_ID_FROM_RULES: &[CelRule] = &[CelRule {
    rule: HOST_ID_FROM_ONE_RULE,
    message: HOST_ID_FROM_ONE_MESSAGE,
}];

/// Rules on each `spec.nodeSelector.matchExpressions` requirement.
pub const REQUIREMENT_RULES: &[CelRule] = &[CelRule {
    rule: REQUIREMENT_VALUES_RULE,
    message: REQUIREMENT_VALUES_MESSAGE,
}];

/// Rules on `spec.endpoint`.
pub const ENDPOINT_RULES: &[CelRule] = &[CelRule {
    rule: ENDPOINT_SCHEME_RULE,
    message: ENDPOINT_SCHEME_MESSAGE,
}];

/// Rules on `spec.interval`.
pub const INTERVAL_RULES: &[CelRule] = &[CelRule {
    rule: INTERVAL_FLOOR_RULE,
    message: INTERVAL_FLOOR_MESSAGE,
}];

/// The JSON form of `rules` for `x-kubernetes-validations`.
pub fn validations_json(rules: &[CelRule]) -> serde_json::Value {
    serde_json::Value::Array(
        rules
            .iter()
            .map(|r| serde_json::json!({ "rule": r.rule, "message": r.message }))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_guard_is_the_duration_grammar() {
        let quoted = format!("'{}'", crate::crd::duration::DURATION_PATTERN);
        assert!(
            INTERVAL_FLOOR_RULE.contains(&quoted),
            "{INTERVAL_FLOOR_RULE}"
        );
    }
}
