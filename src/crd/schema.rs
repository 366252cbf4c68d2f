//! Bounds of the schema and the schemars transforms that attach what derive attributes cannot
//! express (the region enum from the endpoint table, CEL rules, list types).
//!
//! Every string and list a CEL rule reads has a `maxLength` / `maxItems`: the API server refuses
//! CRDs whose estimated rule cost is unbounded.

use schemars::Schema;
use serde_json::{json, Value};

use super::cel;
use crate::hss::endpoint::REGIONS;

/// `spec.projectId` length bounds (HSS path parameter limit).
pub const PROJECT_ID_MAX_LEN: usize = 256;
/// `spec.enterpriseProjectId` length bounds (HSS query parameter limit).
pub const ENTERPRISE_PROJECT_ID_MAX_LEN: usize = 256;
/// Most hosts one resource may watch. See [`super::status::HostRiskWatchStatus::hosts`] for the
/// size estimate this cap guarantees.
pub const HOST_IDS_MAX: usize = 1000;
/// Longest host id (HSS ids are 36-char UUIDs; 64 leaves room).
pub const HOST_ID_MAX_LEN: usize = 64;
/// Longest `spec.endpoint`.
pub const ENDPOINT_MAX_LEN: usize = 2048;
/// Longest Secret name (DNS-1123 subdomain).
pub const SECRET_NAME_MAX_LEN: usize = 253;
/// Longest IAM identity provider id accepted (IAM's own limit is 64 characters).
pub const IDENTITY_PROVIDER_ID_MAX_LEN: usize = 64;
/// Longest token audience (an identity provider's client id) accepted.
pub const AUDIENCE_MAX_LEN: usize = 255;
/// DNS-1123 subdomain, as Kubernetes validates object names.
pub const DNS1123_SUBDOMAIN_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// One label of a DNS-1123 subdomain ([`DNS1123_SUBDOMAIN_PATTERN`] between dots): lower-case
/// alphanumerics and `-`, alphanumeric at both ends. Length bounds are the caller's.
pub fn is_dns1123_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
        }
        _ => false,
    }
}

/// A DNS-1123 subdomain of at most 253 characters, as Kubernetes requires of object names (so a
/// name cannot carry a path separator into a request URL).
pub fn is_dns1123_subdomain(name: &str) -> bool {
    !name.is_empty() && name.len() <= SECRET_NAME_MAX_LEN && name.split('.').all(is_dns1123_label)
}

/// Longest `spec.interval` string; also keeps CEL's `duration()` away from overflow-sized input.
pub const INTERVAL_MAX_LEN: usize = 16;
/// `spec.interval` syntax: the operator's one duration grammar (`90s`, `10m`, `1h30m`; see
/// [`super::duration`]), a subset of Go's, so CEL's `duration()` accepts every value that matches.
pub const INTERVAL_PATTERN: &str = super::duration::DURATION_PATTERN;
/// Longest label or annotation key: a DNS-1123 subdomain prefix (253), `/`, a name (63).
pub const LABEL_KEY_MAX_LEN: usize = 317;
/// Longest label value.
pub const LABEL_VALUE_MAX_LEN: usize = 63;
/// A label or annotation key (Kubernetes' qualified name); the lengths of its two parts are
/// checked in code (`crd::validation`).
pub const QUALIFIED_NAME_PATTERN: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$";
/// A label value (empty allowed).
pub const LABEL_VALUE_PATTERN: &str = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";
/// Most `matchLabels` entries of `spec.nodeSelector`.
pub const SELECTOR_LABELS_MAX: usize = 64;
/// Most `matchExpressions` of `spec.nodeSelector`.
pub const SELECTOR_EXPRESSIONS_MAX: usize = 32;
/// Most values of one `matchExpressions` requirement.
pub const SELECTOR_VALUES_MAX: usize = 64;
/// The operators of a `matchExpressions` requirement.
pub const SELECTOR_OPERATORS: [&str; 4] = ["In", "NotIn", "Exists", "DoesNotExist"];
/// Longest Node name (a DNS-1123 subdomain).
pub const NODE_NAME_MAX_LEN: usize = 253;
/// Longest string kept for an API-provided value in status (enum values, versions). Longer values
/// are cut so a misbehaving service cannot grow status without bound.
pub const STATUS_VALUE_MAX_LEN: usize = 64;

fn append_validations(schema: &mut Schema, rules: &[cel::CelRule]) {
    let Value::Array(new) = cel::validations_json(rules) else {
        return;
    };
    match schema.get_mut("x-kubernetes-validations") {
        Some(Value::Array(existing)) => existing.extend(new),
        _ => {
            schema.insert("x-kubernetes-validations".into(), Value::Array(new));
        }
    }
}

/// Transform of the spec object: the region/endpoint rules, and optional fields made
/// non-nullable.
///
/// Without `nullable`, the API server prunes an explicit `null` (`region: null`) instead of
/// storing it, so `has(self.region)` in the rules means "set to a value".
pub fn spec_rules(schema: &mut Schema) {
    append_validations(schema, cel::SPEC_RULES);
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for property in properties.values_mut() {
            strip_null_type(property);
        }
    }
}

/// `"type": ["string", "null"]` (schemars' form of an `Option`) becomes `"type": "string"`.
fn strip_null_type(property: &mut Value) {
    let Some(Value::Array(types)) = property.get_mut("type") else {
        return;
    };
    types.retain(|t| t != "null");
    if types.len() == 1 {
        let only = types.remove(0);
        if let Some(object) = property.as_object_mut() {
            object.insert("type".into(), only);
        }
    }
}

/// Schema of `spec.region`: an enum of the regions the official SDK knows.
pub fn region_schema(_: &mut schemars::SchemaGenerator) -> Schema {
    let mut schema = Schema::default();
    schema.insert("type".into(), json!("string"));
    schema.insert("enum".into(), json!(REGIONS));
    schema.insert(
        "description".into(),
        json!("Huawei Cloud region of the HSS service, e.g. ap-southeast-1. Mutually exclusive with endpoint."),
    );
    schema
}

/// Transform of `spec.endpoint`: the scheme rule.
pub fn endpoint_rules(schema: &mut Schema) {
    append_validations(schema, cel::ENDPOINT_RULES);
}

/// Transform of `spec.interval`: the floor rule.
pub fn interval_rules(schema: &mut Schema) {
    append_validations(schema, cel::INTERVAL_RULES);
}

/// Transform of `nodeSelector.matchLabels`: bounded, values shaped like label values.
pub fn selector_labels(schema: &mut Schema) {
    schema.insert("maxProperties".into(), json!(SELECTOR_LABELS_MAX));
    schema.insert(
        "additionalProperties".into(),
        json!({
            "type": "string",
            "maxLength": LABEL_VALUE_MAX_LEN,
            "pattern": LABEL_VALUE_PATTERN,
        }),
    );
}

/// Schema of a requirement's `operator`: the four operators of a label selector.
pub fn operator_schema(_: &mut schemars::SchemaGenerator) -> Schema {
    let mut schema = Schema::default();
    schema.insert("type".into(), json!("string"));
    schema.insert("enum".into(), json!(SELECTOR_OPERATORS));
    schema.insert(
        "description".into(),
        json!("`In`, `NotIn`, `Exists` or `DoesNotExist`."),
    );
    schema
}

/// Transform of a `matchExpressions` requirement: values present exactly for `In` / `NotIn`.
pub fn requirement_rules(schema: &mut Schema) {
    append_validations(schema, cel::REQUIREMENT_RULES);
}

/// Transform of `spec.nodeHostIdFrom`: exactly one of `label` and `annotation`, neither
/// nullable (an explicit null is pruned, so `has()` means "set").
pub fn host_id_from_rules(schema: &mut Schema) {
    append_validations(schema, cel::HOST_ID_FROM_RULES);
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for property in properties.values_mut() {
            strip_null_type(property);
        }
    }
}

/// Transform of `status.unresolvedNodes`: a list-map keyed by `nodeName`.
pub fn nodes_list_map(schema: &mut Schema) {
    schema.insert("x-kubernetes-list-type".into(), json!("map"));
    schema.insert("x-kubernetes-list-map-keys".into(), json!(["nodeName"]));
}

/// Transform of `spec.hostIds`: a set (the API server rejects duplicates).
pub fn list_set(schema: &mut Schema) {
    schema.insert("x-kubernetes-list-type".into(), json!("set"));
}

/// Transform of `status.conditions`: a list-map keyed by `type`.
pub fn conditions_list_map(schema: &mut Schema) {
    schema.insert("x-kubernetes-list-type".into(), json!("map"));
    schema.insert("x-kubernetes-list-map-keys".into(), json!(["type"]));
}

/// Transform of `status.hosts`: a list-map keyed by `hostId`.
pub fn hosts_list_map(schema: &mut Schema) {
    schema.insert("x-kubernetes-list-type".into(), json!("map"));
    schema.insert("x-kubernetes-list-map-keys".into(), json!(["hostId"]));
}
