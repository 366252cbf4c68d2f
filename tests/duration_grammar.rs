//! The operator's one duration grammar, held against the shared table `tests/chart/durations.txt`
//! (the chart's schema is held against the same table in tests/chart/schema.rs): the parser every
//! duration flag and `spec.interval` use, and the CRD's `spec.interval` schema (`pattern` with
//! `minLength`), read from the committed manifest as the API server would get it.

use hostrisk_operator::crd::duration::{parse_duration, parse_duration_flag, DURATION_PATTERN};
use serde_json::Value;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// `(value, valid?)` for every case line of the table.
fn table() -> Vec<(String, bool)> {
    let path = format!("{REPO}/tests/chart/durations.txt");
    let text = std::fs::read_to_string(&path).expect("tests/chart/durations.txt");
    let cases: Vec<(String, bool)> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (value, verdict) = line.split_once('\t').expect("VALUE<TAB>verdict");
            let value = if value == "\"\"" { "" } else { value };
            let valid = match verdict {
                "valid" => true,
                "invalid" => false,
                other => panic!("durations.txt: verdict {other:?} in {line:?}"),
            };
            (value.to_string(), valid)
        })
        .collect();
    assert!(cases.len() > 30, "{cases:?}");
    cases
}

#[test]
fn the_parser_gives_every_case_its_verdict() {
    let wrong: Vec<String> = table()
        .into_iter()
        .filter(|(value, valid)| {
            parse_duration("spec.interval", value).is_ok() != *valid
                || parse_duration_flag(value).is_ok() != *valid
        })
        .map(|(value, valid)| format!("{value:?}: want valid={valid}"))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The `spec.interval` schema of the committed CRD (what `kubectl apply -f crds/` installs).
fn committed_interval_schema() -> Value {
    let text = std::fs::read_to_string(format!("{REPO}/crds/hostriskwatch.yaml")).expect("CRD");
    let crd: Value = serde_yaml::from_str(&text).expect("CRD YAML");
    crd.pointer("/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/interval")
        .cloned()
        .expect("spec.interval schema")
}

#[test]
fn the_crd_pattern_gives_every_case_its_verdict() {
    let schema = committed_interval_schema();
    let pattern = schema["pattern"].as_str().expect("pattern");
    assert_eq!(pattern, DURATION_PATTERN);
    let min_length = schema["minLength"].as_u64().expect("minLength") as usize;
    let regex = regex::Regex::new(pattern).expect("the pattern compiles");
    let wrong: Vec<String> = table()
        .into_iter()
        .filter(|(value, valid)| {
            let admitted = value.chars().count() >= min_length && regex.is_match(value);
            admitted != *valid
        })
        .map(|(value, valid)| format!("{value:?}: want valid={valid}"))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}
