//! values.schema.json against values.yaml, the nulls value set and the duration table.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::render::{repo, run_script, CHART};

pub fn values_yaml() -> String {
    std::fs::read_to_string(repo().join(CHART).join("values.yaml")).expect("values.yaml")
}

pub fn schema() -> Value {
    let text = std::fs::read_to_string(repo().join(CHART).join("values.schema.json"))
        .expect("values.schema.json");
    serde_json::from_str(&text).expect("values.schema.json is JSON")
}

/// `node`, or the definition its `$ref` points at.
fn resolve<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(pointer) => schema
            .pointer(pointer.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {pointer}")),
        None => node,
    }
}

fn admits_null(schema: &Value, node: &Value) -> bool {
    let types = &resolve(schema, node)["type"];
    types.as_array().is_some_and(|t| t.contains(&"null".into()))
}

/// The keys the chart defines in a block: every key of a chart-owned block (additionalProperties
/// false), or the ones it reads from a block it shares (`global`, whose other keys are a parent
/// chart's). Free-form Kubernetes values (resources, affinity, ...) have none.
fn block_properties(node: &Value) -> Option<&Map<String, Value>> {
    node.get("properties").and_then(Value::as_object)
}

/// Dotted paths of every key of a chart-owned block whose schema admits null (not below a nullable
/// key: nulling it covers its children).
fn nullable_paths(schema: &Value) -> BTreeSet<String> {
    fn walk(schema: &Value, node: &Value, path: &str, out: &mut BTreeSet<String>) {
        for (key, child) in block_properties(resolve(schema, node))
            .into_iter()
            .flatten()
        {
            let child_path = format!("{path}{key}");
            if admits_null(schema, child) {
                out.insert(child_path);
            } else {
                walk(schema, child, &format!("{child_path}."), out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(schema, schema, "", &mut out);
    out
}

/// Every key values.yaml sets in a chart-owned block has a schema entry and the other way round, so a
/// default can neither escape validation nor be documented only in the schema. A key is optional
/// exactly when it is nullable: Helm deletes a key set to null before validating, so a required key
/// could not be nulled, and a key that is neither would let a typo'd removal pass silently.
#[test]
fn schema_and_values_yaml_define_the_same_keys() {
    fn walk(path: &str, values: &Value, schema: &Value, node: &Value) {
        let node = resolve(schema, node);
        let Some(properties) = block_properties(node) else {
            return;
        };
        let values = values
            .as_object()
            .unwrap_or_else(|| panic!("{path} is a block"));
        let in_values: BTreeSet<&String> = values.keys().collect();
        let in_schema: BTreeSet<&String> = properties.keys().collect();
        assert_eq!(in_values, in_schema, "keys of {path}");
        let required: BTreeSet<&str> = node["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let not_nullable: BTreeSet<&str> = in_schema
            .iter()
            .filter(|k| !admits_null(schema, &properties[k.as_str()]))
            .map(|k| k.as_str())
            .collect();
        assert_eq!(required, not_nullable, "{path}: required = not nullable");
        for (key, value) in values {
            walk(&format!("{path}.{key}"), value, schema, &properties[key]);
        }
    }
    let values: Value = serde_yaml::from_str(&values_yaml()).expect("values.yaml parses");
    let schema = schema();
    walk("values", &values, &schema, &schema);
}

/// Every setting in a chart-owned block of values.yaml has a `# --` comment block right above it (the
/// README's values table is made from them), and a nullable one says so.
#[test]
fn values_yaml_documents_every_setting() {
    let schema = schema();
    let text = values_yaml();
    let lines: Vec<&str> = text.lines().collect();
    // (indent, schema node) of the enclosing keys.
    let mut stack: Vec<(usize, &Value)> = vec![];
    let mut undocumented = vec![];
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let Some((key, _)) = trimmed.split_once(':') else {
            continue;
        };
        if trimmed.starts_with('#') || trimmed.starts_with('-') || key.contains(' ') {
            continue;
        }
        while stack.last().is_some_and(|(level, _)| *level >= indent) {
            stack.pop();
        }
        let parent = stack.last().map_or(&schema, |(_, node)| *node);
        let Some(node) = block_properties(resolve(&schema, parent)).and_then(|p| p.get(key)) else {
            continue; // inside a free-form Kubernetes value (resources, affinity, ...)
        };
        let comment: Vec<&str> = lines[..index]
            .iter()
            .rev()
            .take_while(|l| l.trim_start().starts_with('#'))
            .map(|l| l.trim_start())
            .collect();
        let is_block = block_properties(resolve(&schema, node)).is_some();
        let described = comment.last().is_some_and(|l| l.starts_with("# -- "));
        let text = comment.join(" ");
        if (!is_block && !described)
            || (admits_null(&schema, node) && !(described && text.contains("Nullable")))
        {
            undocumented.push(format!("line {}: {}", index + 1, line.trim()));
        }
        stack.push((indent, node));
    }
    assert!(
        undocumented.is_empty(),
        "values without a `# --` description (nullable ones must say `Nullable`): {undocumented:#?}"
    );
}

/// tests/chart/values/nulls.yaml nulls exactly the values the schema lets be null (it renders and
/// lints like every value set; tests/chart/platform.rs checks what it renders).
#[test]
fn the_nulls_value_set_covers_every_nullable_value() {
    fn nulled(value: &Value, path: &str, out: &mut BTreeSet<String>) {
        for (key, child) in value.as_object().into_iter().flatten() {
            let child_path = format!("{path}{key}");
            if child.is_null() {
                out.insert(child_path);
            } else {
                nulled(child, &format!("{child_path}."), out);
            }
        }
    }
    let text =
        std::fs::read_to_string(repo().join("tests/chart/values/nulls.yaml")).expect("nulls");
    let mut in_file = BTreeSet::new();
    nulled(
        &serde_yaml::from_str(&text).expect("yaml"),
        "",
        &mut in_file,
    );
    let expected = nullable_paths(&schema());
    for path in ["podSecurityContext.runAsUser", "resources", "livenessProbe"] {
        assert!(expected.contains(path), "{path} must be nullable");
    }
    assert_eq!(in_file, expected);
}

const DURATION_PATTERN: &str = "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$";

/// The duration fields of the chart use one definition, whose pattern is the binary's grammar, and
/// no other pattern in the schema spells a duration grammar of its own.
#[test]
fn duration_fields_share_one_definition() {
    let schema = schema();
    let duration = &schema["definitions"]["duration"];
    assert_eq!(duration["pattern"], DURATION_PATTERN);
    assert_eq!(duration["minLength"], 1, "the non-empty guard");
    for field in ["defaultInterval", "minInterval", "statusHeartbeat"] {
        let node = &schema["properties"]["controller"]["properties"][field];
        assert_eq!(node["$ref"], "#/definitions/duration", "controller.{field}");
    }
    let mut duration_patterns = vec![];
    let mut stack = vec![("".to_owned(), &schema)];
    while let Some((path, node)) = stack.pop() {
        if let Some(pattern) = node.get("pattern").and_then(Value::as_str) {
            if pattern.contains("m)") || pattern.contains("(s|m|h)") {
                duration_patterns.push(path.clone());
            }
        }
        for (key, child) in node.as_object().into_iter().flatten() {
            stack.push((format!("{path}/{key}"), child));
        }
    }
    duration_patterns.sort();
    assert_eq!(
        duration_patterns,
        ["/definitions/duration", "/definitions/prometheusDuration"]
    );
}

/// Every line of tests/chart/durations.txt, given to every duration field, gets its verdict from
/// Helm's schema validation: `valid` renders, `invalid` is refused at that field.
#[test]
fn schema_durations_follow_the_shared_table() {
    let table = repo().join("tests/chart/durations.txt");
    let text = std::fs::read_to_string(&table).expect("durations.txt");
    let mut expected = vec![];
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (value, verdict) = line.split_once('\t').expect("VALUE<TAB>verdict");
        let value = if value == "\"\"" { "" } else { value };
        let verdict = match verdict {
            "valid" => "accepted",
            "invalid" => "rejected",
            other => panic!("durations.txt: verdict {other:?} in {line:?}"),
        };
        expected.push((value.to_owned(), verdict));
    }
    assert!(expected.len() > 30, "{expected:?}");
    for verdict in ["accepted", "rejected"] {
        assert!(
            expected.iter().any(|(_, v)| *v == verdict),
            "no {verdict} case"
        );
    }
    let output = run_script(&["durations", table.to_str().expect("utf-8")]).expect("durations");
    let mut checked = 0;
    let mut wrong = vec![];
    for (line, (value, verdict)) in output.lines().zip(expected.iter().flat_map(|e| [e, e, e])) {
        let mut columns = line.split('\t');
        let (got_value, field, got) = (columns.next(), columns.next(), columns.next());
        assert_eq!(
            got_value,
            Some(value.as_str()),
            "output out of step: {line}"
        );
        if got != Some(*verdict) {
            wrong.push(format!("{value:?} in {field:?}: {got:?}, want {verdict}"));
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        expected.len() * 3,
        "three duration fields per value"
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
}
