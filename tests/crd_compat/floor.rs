//! What a Kubernetes 1.30 API server accepts in a CustomResourceDefinition, as allow-lists, and a
//! walk of a whole CRD that names every key, extension, validation-rule field, format and CEL call
//! outside them. The facts and their sources are in docs/compatibility.md; the comments here say
//! where each list comes from.

use serde_json::Value;

use super::cel_scan::{calls, Call};

/// The Kubernetes minor these lists describe. Chart.yaml's floor must be this one.
pub const FLOOR_MINOR: u32 = 30;

/// Features that exist in newer API servers, with when they became usable: a finding names them.
const NEWER: &[(&str, &str)] = &[
    (
        "optionalOldSelf",
        "CRD validation ratcheting (KEP-4008): beta in 1.30, GA in 1.33",
    ),
    (
        "selectableFields",
        "custom resource field selectors: alpha in 1.30, beta in 1.31, GA in 1.32",
    ),
];

/// Top-level and `spec` keys of an `apiextensions.k8s.io/v1` CustomResourceDefinition.
const CRD_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
const METADATA_KEYS: &[&str] = &["name", "labels", "annotations"];
const SPEC_KEYS: &[&str] = &[
    "group",
    "names",
    "scope",
    "versions",
    "conversion",
    "preserveUnknownFields",
];
const NAMES_KEYS: &[&str] = &[
    "plural",
    "singular",
    "kind",
    "listKind",
    "shortNames",
    "categories",
];
/// `CustomResourceDefinitionVersion` of 1.30 without `selectableFields` (not GA there).
const VERSION_KEYS: &[&str] = &[
    "name",
    "served",
    "storage",
    "deprecated",
    "deprecationWarning",
    "schema",
    "subresources",
    "additionalPrinterColumns",
];
const SUBRESOURCE_KEYS: &[&str] = &["status", "scale"];
const COLUMN_KEYS: &[&str] = &[
    "name",
    "type",
    "format",
    "description",
    "priority",
    "jsonPath",
];

/// `JSONSchemaProps` keywords a structural schema may use (apiextensions v1 refuses `$ref`,
/// `definitions`, `dependencies`, `patternProperties`, `additionalItems` and `id` in CRDs, or
/// drops them from structural schemas).
const SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "default",
    "example",
    "externalDocs",
    "nullable",
    "enum",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "multipleOf",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "items",
    "properties",
    "additionalProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
];

/// The vendor extensions of `JSONSchemaProps` a 1.30 server knows: all GA since 1.16/1.17 except
/// `x-kubernetes-validations` (CEL rules, KEP-2876, GA in 1.29).
const EXTENSIONS: &[&str] = &[
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
];

/// Fields of a `ValidationRule` GA by 1.30: `rule`, `message`, `messageExpression` (beta 1.27)
/// and `reason`, `fieldPath` (added in 1.28 by kubernetes/kubernetes#118041) all became GA with
/// the CustomResourceValidationExpressions gate in 1.29. `optionalOldSelf` is in [`NEWER`].
const RULE_KEYS: &[&str] = &[
    "rule",
    "message",
    "messageExpression",
    "reason",
    "fieldPath",
];
/// The values `reason` may take.
const RULE_REASONS: &[&str] = &[
    "FieldValueInvalid",
    "FieldValueForbidden",
    "FieldValueRequired",
    "FieldValueDuplicate",
];

/// String formats a 1.30 server validates (`supportedFormats` of apiextensions-apiserver's
/// validation/formats.go, compared with `-` removed). Any other format is silently dropped there,
/// so a newer server could validate what 1.30 lets through.
const STRING_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
];
/// Number formats: documentation for clients, never validated, on every version.
const NUMBER_FORMATS: &[&str] = &["int32", "int64", "float", "double"];

/// CEL a 1.30 server compiles in a new rule: the environment of compatibility version 1.29
/// (`DefaultCompatibilityVersion` is n-1, k8s.io/apiserver/pkg/cel/environment/base.go).
/// Standard macros and functions; Kubernetes list, regex and URL libraries; extended strings
/// version 2 (`format`, `strings.quote` came with version 1); quantity library and optional
/// types (introduced 1.28); sets (introduced 1.29). Names with a `.` prefix are methods.
const CEL_1_30: &[&str] = &[
    // standard macros
    "has",
    ".all",
    ".exists",
    ".exists_one",
    ".map",
    ".filter",
    // standard functions: conversions, size, strings, regex, time accessors
    "size",
    ".size",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "bool",
    "duration",
    "timestamp",
    "type",
    "dyn",
    "matches",
    ".matches",
    ".contains",
    ".startsWith",
    ".endsWith",
    ".getDate",
    ".getDayOfMonth",
    ".getDayOfWeek",
    ".getDayOfYear",
    ".getFullYear",
    ".getHours",
    ".getMilliseconds",
    ".getMinutes",
    ".getMonth",
    ".getSeconds",
    // extended strings, version 2
    ".charAt",
    ".indexOf",
    ".lastIndexOf",
    ".lowerAscii",
    ".upperAscii",
    ".replace",
    ".split",
    ".substring",
    ".trim",
    ".join",
    ".format",
    "strings.quote",
    // Kubernetes list library
    ".isSorted",
    ".sum",
    ".min",
    ".max",
    // Kubernetes regex library
    ".find",
    ".findAll",
    // Kubernetes URL library
    "url",
    "isURL",
    ".getScheme",
    ".getHost",
    ".getHostname",
    ".getPort",
    ".getEscapedPath",
    ".getQuery",
    // Kubernetes quantity library
    "quantity",
    "isQuantity",
    ".sign",
    ".isGreaterThan",
    ".isLessThan",
    ".compareTo",
    ".add",
    ".sub",
    ".asInteger",
    ".isInteger",
    ".asApproximateFloat",
    // optional types
    "optional.of",
    "optional.ofNonZeroValue",
    "optional.none",
    ".hasValue",
    ".value",
    ".orValue",
    ".or",
    // sets
    "sets.contains",
    "sets.equivalent",
    "sets.intersects",
];

/// Newer CEL, with the first version whose API server accepts it in a new rule.
const CEL_NEWER: &[(&str, &str)] = &[
    ("isIP", "the IP library: 1.31"),
    ("ip", "the IP library: 1.31"),
    ("isCIDR", "the CIDR library: 1.31"),
    ("cidr", "the CIDR library: 1.31"),
    (".containsIP", "the CIDR library: 1.31"),
    (".containsCIDR", "the CIDR library: 1.31"),
    (".prefixLength", "the CIDR library: 1.31"),
    (".masked", "the CIDR library: 1.31"),
    (".family", "the IP library: 1.31"),
    (".isCanonical", "the IP library: 1.31"),
    (".isLoopback", "the IP library: 1.31"),
    (".isGlobalUnicast", "the IP library: 1.31"),
    (".validate", "the Kubernetes format library: 1.32"),
    (".transformList", "two-variable comprehensions: 1.33"),
    (".transformMap", "two-variable comprehensions: 1.33"),
    (".transformMapEntry", "two-variable comprehensions: 1.33"),
    (".existsOne", "two-variable comprehensions: 1.33"),
    ("isSemver", "the semver library: 1.34"),
    ("semver", "the semver library: 1.34"),
    (
        ".reverse",
        "extended strings version 3: not in Kubernetes' CEL",
    ),
];

/// Every finding of `crd`: `path: problem`, empty when a 1.30 API server takes it as it is.
pub fn check_crd(crd: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut walk = Walk { out: &mut out };
    walk.keys(crd, "", CRD_KEYS);
    if crd["apiVersion"] != "apiextensions.k8s.io/v1" {
        walk.refuse("apiVersion", "must be apiextensions.k8s.io/v1");
    }
    walk.keys(&crd["metadata"], "metadata", METADATA_KEYS);
    let spec = &crd["spec"];
    walk.keys(spec, "spec", SPEC_KEYS);
    walk.keys(&spec["names"], "spec.names", NAMES_KEYS);
    for (i, version) in items(&spec["versions"]) {
        let path = format!("spec.versions[{i}]");
        walk.keys(version, &path, VERSION_KEYS);
        walk.keys(
            &version["schema"],
            &format!("{path}.schema"),
            &["openAPIV3Schema"],
        );
        walk.keys(
            &version["subresources"],
            &format!("{path}.subresources"),
            SUBRESOURCE_KEYS,
        );
        for (j, column) in items(&version["additionalPrinterColumns"]) {
            walk.keys(
                column,
                &format!("{path}.additionalPrinterColumns[{j}]"),
                COLUMN_KEYS,
            );
        }
        walk.schema(
            &version["schema"]["openAPIV3Schema"],
            &format!("{path}.schema.openAPIV3Schema"),
        );
    }
    out
}

/// The CEL calls of one expression that a 1.30 server would refuse.
pub fn check_cel(expression: &str) -> Vec<String> {
    let found = match calls(expression) {
        Ok(found) => found,
        Err(problem) => return vec![problem],
    };
    found.iter().filter_map(refused_call).collect()
}

fn refused_call(call: &Call) -> Option<String> {
    let spelled = call.spelled();
    let comprehension =
        call.method && matches!(call.name.as_str(), "all" | "exists" | "exists_one");
    if comprehension && call.args == 3 {
        return Some(format!(
            "{spelled} with two variables is a two-variable comprehension: 1.33"
        ));
    }
    if let Some((_, since)) = CEL_NEWER.iter().find(|(name, _)| *name == spelled) {
        return Some(format!("{spelled}: {since}"));
    }
    if call.namespace.as_deref() == Some("format") {
        return Some(format!("{spelled}: the Kubernetes format library: 1.32"));
    }
    (!CEL_1_30.contains(&spelled.as_str()))
        .then(|| format!("{spelled} is not in the CEL environment of a Kubernetes 1.30 API server"))
}

fn items(list: &Value) -> impl Iterator<Item = (usize, &Value)> {
    list.as_array().into_iter().flatten().enumerate()
}

struct Walk<'a> {
    out: &'a mut Vec<String>,
}

impl Walk<'_> {
    fn refuse(&mut self, path: &str, problem: &str) {
        self.out.push(format!("{path}: {problem}"));
    }

    /// The keys of `node` outside `allowed` (absent `node`: nothing to say).
    fn keys(&mut self, node: &Value, path: &str, allowed: &[&str]) {
        for key in node.as_object().into_iter().flatten().map(|(k, _)| k) {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            let at = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let problem = match NEWER.iter().find(|(name, _)| name == key) {
                Some((_, since)) => format!("newer than Kubernetes 1.{FLOOR_MINOR}: {since}"),
                None => format!("not a key a Kubernetes 1.{FLOOR_MINOR} API server knows here"),
            };
            self.refuse(&at, &problem);
        }
    }

    fn schema(&mut self, node: &Value, path: &str) {
        let Some(object) = node.as_object() else {
            return;
        };
        for key in object.keys() {
            let known = SCHEMA_KEYS.contains(&key.as_str()) || EXTENSIONS.contains(&key.as_str());
            if !known {
                let problem = if key.starts_with("x-kubernetes-") {
                    format!("an extension a Kubernetes 1.{FLOOR_MINOR} API server does not know")
                } else {
                    format!("not a keyword of a structural schema on Kubernetes 1.{FLOOR_MINOR}")
                };
                self.refuse(&format!("{path}.{key}"), &problem);
            }
        }
        self.format(node, path);
        self.enumerated(
            node,
            path,
            "x-kubernetes-list-type",
            &["atomic", "set", "map"],
        );
        self.enumerated(node, path, "x-kubernetes-map-type", &["atomic", "granular"]);
        for (i, rule) in items(&node["x-kubernetes-validations"]) {
            self.rule(rule, &format!("{path}.x-kubernetes-validations[{i}]"));
        }
        for (key, child) in node["properties"].as_object().into_iter().flatten() {
            self.schema(child, &format!("{path}.properties.{key}"));
        }
        self.schema(&node["items"], &format!("{path}.items"));
        self.schema(
            &node["additionalProperties"],
            &format!("{path}.additionalProperties"),
        );
        self.schema(&node["not"], &format!("{path}.not"));
        for combinator in ["allOf", "anyOf", "oneOf"] {
            for (i, branch) in items(&node[combinator]) {
                self.schema(branch, &format!("{path}.{combinator}[{i}]"));
            }
        }
    }

    fn format(&mut self, node: &Value, path: &str) {
        let Some(format) = node["format"].as_str() else {
            return;
        };
        let string = node["type"] == "string";
        let known = if string {
            STRING_FORMATS.contains(&format.replace('-', "").as_str())
        } else {
            NUMBER_FORMATS.contains(&format)
        };
        if !known {
            self.refuse(
                &format!("{path}.format"),
                &format!(
                    "{format:?} is not a format a Kubernetes 1.{FLOOR_MINOR} API server validates \
                     (it would be ignored there)"
                ),
            );
        }
    }

    fn enumerated(&mut self, node: &Value, path: &str, key: &str, values: &[&str]) {
        if let Some(value) = node.get(key) {
            if !value.as_str().is_some_and(|v| values.contains(&v)) {
                self.refuse(
                    &format!("{path}.{key}"),
                    &format!("{value} is not one of {values:?}"),
                );
            }
        }
    }

    fn rule(&mut self, rule: &Value, path: &str) {
        self.keys(rule, path, RULE_KEYS);
        if let Some(reason) = rule.get("reason") {
            if !reason.as_str().is_some_and(|r| RULE_REASONS.contains(&r)) {
                self.refuse(
                    &format!("{path}.reason"),
                    &format!("{reason} is not one of {RULE_REASONS:?}"),
                );
            }
        }
        for field in ["rule", "messageExpression"] {
            if let Some(expression) = rule[field].as_str() {
                for problem in check_cel(expression) {
                    self.refuse(&format!("{path}.{field}"), &problem);
                }
            }
        }
        if rule["rule"].as_str().is_none() {
            self.refuse(path, "a validation rule needs a `rule`");
        }
    }
}
