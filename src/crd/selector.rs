//! The node-backed half of spec validation: `spec.nodeSelector` and `spec.nodeHostIdFrom`
//! checked as the API server checks a `metav1.LabelSelector` and label keys (the schema's
//! patterns cannot bound the two parts of a key, nor reach map keys), then turned into the
//! matcher the controller runs against Nodes.

use kube::core::{Expression, Selector};

use super::host_ids::HostIdList;
use super::nodes::{HostIdSource, NodeHostIdFrom, NodeSelector, NodeSelectorRequirement};
use super::schema::{
    is_dns1123_label, LABEL_VALUE_MAX_LEN, SELECTOR_EXPRESSIONS_MAX, SELECTOR_LABELS_MAX,
    SELECTOR_VALUES_MAX,
};
use super::spec_error::SpecError;
use super::status::SOURCE_MAX_LEN;

/// Longest name part of a label key.
const KEY_NAME_MAX_LEN: usize = 63;
/// Longest prefix (DNS-1123 subdomain) of a label key.
const KEY_PREFIX_MAX_LEN: usize = 253;

/// A validated node-backed watch: which Nodes, and where their ECS server ids are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSource {
    pub selector: Selector,
    /// The selector as `kubectl get nodes -l` takes it; empty when it selects every Node.
    pub text: String,
    pub host_id: HostIdSource,
}

impl NodeSource {
    /// `status.source`: `nodes`, or `nodes: <selector>` (cut to fit the field).
    pub fn describe(&self) -> String {
        if self.text.is_empty() {
            return "nodes".to_string();
        }
        let full = format!("nodes: {}", self.text);
        if full.chars().count() <= SOURCE_MAX_LEN {
            return full;
        }
        let mut cut: String = full.chars().take(SOURCE_MAX_LEN - 1).collect();
        cut.push('…');
        cut
    }
}

fn is_name_part(name: &str) -> bool {
    let bytes = name.as_bytes();
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    name.len() <= KEY_NAME_MAX_LEN
        && match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                alnum(first)
                    && alnum(last)
                    && bytes
                        .iter()
                        .all(|b| alnum(b) || matches!(b, b'-' | b'_' | b'.'))
            }
            _ => false,
        }
}

/// A label or annotation key: `[prefix/]name`, prefix a DNS-1123 subdomain of at most 253
/// characters, name at most 63 alphanumerics, `-`, `_`, `.`, alphanumeric at both ends.
pub fn is_qualified_name(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => {
            !prefix.is_empty()
                && prefix.len() <= KEY_PREFIX_MAX_LEN
                && prefix.split('.').all(is_dns1123_label)
                && is_name_part(name)
        }
        None => is_name_part(key),
    }
}

/// A label value: empty, or at most 63 characters shaped like a key's name part.
pub fn is_label_value(value: &str) -> bool {
    value.is_empty() || (value.len() <= LABEL_VALUE_MAX_LEN && is_name_part(value))
}

fn bad_key(field: &'static str, key: &str) -> SpecError {
    SpecError::invalid(
        field,
        format!(
            "`{key}` is not a label key: use an optional DNS subdomain prefix and `/`, then up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ),
    )
}

fn bad_value(field: &'static str, value: &str) -> SpecError {
    SpecError::invalid(
        field,
        format!(
            "`{value}` is not a label value: use up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ),
    )
}

fn requirement(errors: &mut Vec<SpecError>, req: &NodeSelectorRequirement) -> Option<Expression> {
    const FIELD: &str = "spec.nodeSelector.matchExpressions";
    let before = errors.len();
    if !is_qualified_name(&req.key) {
        errors.push(bad_key(FIELD, &req.key));
    }
    if req.values.len() > SELECTOR_VALUES_MAX {
        errors.push(SpecError::invalid(
            FIELD,
            format!(
                "`{}` lists {} values; at most {SELECTOR_VALUES_MAX} are allowed",
                req.key,
                req.values.len()
            ),
        ));
    }
    for value in req.values.iter().filter(|v| !is_label_value(v)) {
        errors.push(bad_value(FIELD, value));
    }
    let key = req.key.clone();
    let values = || req.values.iter().cloned().collect();
    let expression = match (req.operator.as_str(), req.values.is_empty()) {
        ("In", false) => Some(Expression::In(key, values())),
        ("NotIn", false) => Some(Expression::NotIn(key, values())),
        ("Exists", true) => Some(Expression::Exists(key)),
        ("DoesNotExist", true) => Some(Expression::DoesNotExist(key)),
        ("In" | "NotIn", true) | ("Exists" | "DoesNotExist", false) => {
            errors.push(SpecError::invalid(
                FIELD,
                format!(
                    "`{}`: values must be non-empty for operators In and NotIn, and empty for Exists and DoesNotExist",
                    req.key
                ),
            ));
            None
        }
        (other, _) => {
            errors.push(SpecError::invalid(
                FIELD,
                format!(
                    "`{}`: operator `{other}` is not one of In, NotIn, Exists, DoesNotExist",
                    req.key
                ),
            ));
            None
        }
    };
    expression.filter(|_| errors.len() == before)
}

fn selector(errors: &mut Vec<SpecError>, spec: &NodeSelector) -> Option<Selector> {
    const LABELS: &str = "spec.nodeSelector.matchLabels";
    let before = errors.len();
    if spec.match_labels.len() > SELECTOR_LABELS_MAX {
        errors.push(SpecError::invalid(
            LABELS,
            format!(
                "has {} entries; at most {SELECTOR_LABELS_MAX} are allowed",
                spec.match_labels.len()
            ),
        ));
    }
    if spec.match_expressions.len() > SELECTOR_EXPRESSIONS_MAX {
        errors.push(SpecError::invalid(
            "spec.nodeSelector.matchExpressions",
            format!(
                "has {} requirements; at most {SELECTOR_EXPRESSIONS_MAX} are allowed",
                spec.match_expressions.len()
            ),
        ));
    }
    let mut expressions = Vec::new();
    for (key, value) in &spec.match_labels {
        if !is_qualified_name(key) {
            errors.push(bad_key(LABELS, key));
        }
        if !is_label_value(value) {
            errors.push(bad_value(LABELS, value));
        }
        expressions.push(Expression::Equal(key.clone(), value.clone()));
    }
    for req in &spec.match_expressions {
        if let Some(expression) = requirement(errors, req) {
            expressions.push(expression);
        }
    }
    (errors.len() == before).then(|| expressions.into_iter().collect())
}

fn host_id_source(errors: &mut Vec<SpecError>, from: Option<&NodeHostIdFrom>) -> HostIdSource {
    const FIELD: &str = "spec.nodeHostIdFrom";
    let Some(from) = from else {
        return HostIdSource::ProviderId;
    };
    let (source, key) = match (&from.label, &from.annotation) {
        (Some(key), None) => (HostIdSource::Label(key.clone()), key),
        (None, Some(key)) => (HostIdSource::Annotation(key.clone()), key),
        _ => {
            errors.push(SpecError::invalid(
                FIELD,
                "set exactly one of label or annotation",
            ));
            return HostIdSource::ProviderId;
        }
    };
    if !is_qualified_name(key) {
        errors.push(bad_key(FIELD, key));
    }
    source
}

/// Checks the hosts' source of `spec`: exactly one of a non-empty `hostIds` and a
/// `nodeSelector`, and `nodeHostIdFrom` only with the latter. Returns the node source of a
/// node-backed watch (`None` for a list, or when something is wrong).
pub fn check_node_source(
    errors: &mut Vec<SpecError>,
    host_ids: &HostIdList,
    node_selector: Option<&NodeSelector>,
    host_id_from: Option<&NodeHostIdFrom>,
) -> Option<NodeSource> {
    let Some(spec) = node_selector else {
        if host_id_from.is_some() {
            errors.push(SpecError::invalid(
                "spec.nodeHostIdFrom",
                "applies to node-backed watches only: set spec.nodeSelector, or remove it",
            ));
        }
        return None;
    };
    if !host_ids.is_empty() {
        errors.push(SpecError::invalid(
            "spec.nodeSelector",
            "spec.hostIds and spec.nodeSelector are mutually exclusive: remove one of them",
        ));
    }
    let before = errors.len();
    let matcher = selector(errors, spec);
    let host_id = host_id_source(errors, host_id_from);
    let selector = matcher.filter(|_| errors.len() == before)?;
    Some(NodeSource {
        text: selector.to_string(),
        selector,
        host_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn req(key: &str, operator: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn source(selector: NodeSelector) -> Result<NodeSource, Vec<SpecError>> {
        let mut errors = Vec::new();
        let found = check_node_source(&mut errors, &HostIdList::default(), Some(&selector), None);
        match found {
            Some(found) if errors.is_empty() => Ok(found),
            _ => Err(errors),
        }
    }

    #[test]
    fn keys_and_values_follow_the_api_servers_rules() {
        for good in [
            "role",
            "node.kubernetes.io/instance-type",
            "a/b",
            "x_y.z-1",
            &format!("{}/{}", "p".repeat(253), "n".repeat(63)),
        ] {
            assert!(is_qualified_name(good), "{good}");
        }
        for bad in [
            "",
            "-role",
            "role-",
            "/name",
            "prefix/",
            "Upper.Case/name",
            "a/b/c",
            &"n".repeat(64),
            &format!("{}/n", "p".repeat(254)),
            "has space",
        ] {
            assert!(!is_qualified_name(bad), "{bad}");
        }
        assert!(is_label_value(""));
        assert!(is_label_value("web_1.a-b"));
        assert!(!is_label_value(&"v".repeat(64)));
        assert!(!is_label_value("-v"));
    }

    #[test]
    fn an_empty_selector_selects_every_node() {
        let found = source(NodeSelector::default()).expect("valid");
        assert!(found.selector.selects_all());
        assert_eq!(found.describe(), "nodes");
        assert_eq!(found.host_id, HostIdSource::ProviderId);
    }

    #[test]
    fn labels_and_expressions_become_one_selector_in_kubectl_syntax() {
        let found = source(NodeSelector {
            match_labels: BTreeMap::from([("pool".into(), "web".into())]),
            match_expressions: vec![
                req("zone", "In", &["a", "b"]),
                req("spot", "DoesNotExist", &[]),
            ],
        })
        .expect("valid");
        assert_eq!(found.describe(), "nodes: pool=web,zone in (a,b),!spot");
    }

    #[test]
    fn operators_and_values_must_agree() {
        for bad in [
            req("zone", "In", &[]),
            req("zone", "NotIn", &[]),
            req("zone", "Exists", &["a"]),
            req("zone", "DoesNotExist", &["a"]),
            req("zone", "Gt", &["1"]),
            req("-zone", "Exists", &[]),
            req("zone", "In", &["-a"]),
        ] {
            let errors = source(NodeSelector {
                match_expressions: vec![bad.clone()],
                ..NodeSelector::default()
            })
            .expect_err("refused");
            assert_eq!(errors.len(), 1, "{bad:?}: {errors:?}");
            assert_eq!(errors[0].field, "spec.nodeSelector.matchExpressions");
        }
    }

    #[test]
    fn host_ids_and_node_selector_exclude_each_other_and_host_id_from_needs_nodes() {
        let mut errors = Vec::new();
        check_node_source(
            &mut errors,
            &["h1"].into(),
            Some(&NodeSelector::default()),
            None,
        );
        assert_eq!(errors[0].field, "spec.nodeSelector");
        let mut errors = Vec::new();
        let from = NodeHostIdFrom {
            label: Some("ecs-id".into()),
            annotation: None,
        };
        check_node_source(&mut errors, &["h1"].into(), None, Some(&from));
        assert_eq!(errors[0].field, "spec.nodeHostIdFrom");
        let mut errors = Vec::new();
        let both = NodeHostIdFrom {
            label: Some("a".into()),
            annotation: Some("b".into()),
        };
        check_node_source(
            &mut errors,
            &HostIdList::default(),
            Some(&NodeSelector::default()),
            Some(&both),
        );
        assert_eq!(errors.len(), 1);
        let mut errors = Vec::new();
        let annotation = NodeHostIdFrom {
            label: None,
            annotation: Some("example.com/ecs-id".into()),
        };
        let found = check_node_source(
            &mut errors,
            &HostIdList::default(),
            Some(&NodeSelector::default()),
            Some(&annotation),
        );
        assert_eq!(
            found.map(|f| f.host_id),
            Some(HostIdSource::Annotation("example.com/ecs-id".into()))
        );
    }

    #[test]
    fn a_long_selector_is_cut_to_fit_the_source_column() {
        let labels = (0..40)
            .map(|i| (format!("key-{i}"), "value".to_string()))
            .collect();
        let found = source(NodeSelector {
            match_labels: labels,
            ..NodeSelector::default()
        })
        .expect("valid");
        let text = found.describe();
        assert_eq!(text.chars().count(), SOURCE_MAX_LEN);
        assert!(text.starts_with("nodes: key-0=value,") && text.ends_with('…'));
    }
}
