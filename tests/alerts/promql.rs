//! Just enough PromQL and exposition-format reading to list what an alert expression selects and what
//! a scrape contains: metric names, label matchers, grouping labels.

use std::collections::{BTreeMap, BTreeSet};

/// One `metric{label op "value", ...}` in an expression.
#[derive(Debug, PartialEq)]
pub struct Selector {
    pub metric: String,
    /// (label, operator, value)
    pub matchers: Vec<(String, String, String)>,
}

/// The selectors of an expression, the labels of its `by`/`on`/`ignoring`/`group_*` clauses (which
/// must exist to mean anything) and those of its `without` clauses (which may not: aggregating
/// away a label a setup does not have is harmless).
#[derive(Debug, Default, PartialEq)]
pub struct Expr {
    pub selectors: Vec<Selector>,
    pub grouping: BTreeSet<String>,
    pub dropped: BTreeSet<String>,
}

const GROUPING: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
const KEYWORDS: [&str; 5] = ["and", "or", "unless", "bool", "offset"];
const AGGREGATIONS: [&str; 12] = [
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
];

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Index after the quoted string starting at `start`, and its unescaped content.
fn string_at(chars: &[char], start: usize) -> (usize, String) {
    let quote = chars[start];
    let (mut i, mut out) = (start + 1, String::new());
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && i + 1 < chars.len() {
            i += 1;
        }
        out.push(chars[i]);
        i += 1;
    }
    (i + 1, out)
}

fn skip_space(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    i
}

pub fn parse(expr: &str) -> Expr {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Expr::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            i = string_at(&chars, i).0;
            continue;
        } else if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (is_ident(chars[i]) || chars[i] == '.') {
                i += 1;
            }
            continue;
        } else if is_ident(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = skip_space(&chars, i);
            if GROUPING.contains(&word.as_str()) && chars.get(next) == Some(&'(') {
                let close = (next..chars.len())
                    .find(|&j| chars[j] == ')')
                    .expect("closing )");
                let labels: String = chars[next + 1..close].iter().collect();
                let labels = labels
                    .split(',')
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned);
                if word == "without" {
                    out.dropped.extend(labels);
                } else {
                    out.grouping.extend(labels);
                }
                i = close + 1;
            } else if KEYWORDS.contains(&word.as_str())
                || AGGREGATIONS.contains(&word.as_str())
                || chars.get(next) == Some(&'(')
            {
                // An operator, or a function call (its arguments are scanned next).
            } else {
                let mut selector = Selector {
                    metric: word,
                    matchers: vec![],
                };
                if chars.get(next) == Some(&'{') {
                    i = matchers(&chars, next + 1, &mut selector.matchers);
                }
                out.selectors.push(selector);
            }
            continue;
        }
        i += 1;
    }
    out
}

/// Reads `label op "value"` pairs from just after `{` to the closing `}`; returns the index after it.
fn matchers(chars: &[char], mut i: usize, out: &mut Vec<(String, String, String)>) -> usize {
    loop {
        i = skip_space(chars, i);
        match chars.get(i) {
            Some('}') | None => return i + 1,
            Some(',') => i += 1,
            Some(_) => {
                let start = i;
                while is_ident(chars[i]) {
                    i += 1;
                }
                let label: String = chars[start..i].iter().collect();
                i = skip_space(chars, i);
                let op_start = i;
                while matches!(chars[i], '=' | '!' | '~') {
                    i += 1;
                }
                let op: String = chars[op_start..i].iter().collect();
                let (after, value) = string_at(chars, skip_space(chars, i));
                out.push((label, op, value));
                i = after;
            }
        }
    }
}

/// What a scrape (Prometheus text exposition) holds.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Metric name -> label name -> values.
    pub labels: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// (metric, label, value) of the samples whose value is not 0.
    pub nonzero: BTreeSet<(String, String, String)>,
}

pub fn read_exposition(text: &str) -> Exposition {
    let mut out = Exposition::default();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let chars: Vec<char> = line.chars().collect();
        let end = chars
            .iter()
            .position(|&c| c == '{' || c == ' ')
            .expect("sample");
        let name: String = chars[..end].iter().collect();
        let labels = out.labels.entry(name.clone()).or_default();
        let mut pairs = vec![];
        let value_start = if chars[end] == '{' {
            matchers(&chars, end + 1, &mut pairs)
        } else {
            end
        };
        let value: String = chars[value_start..].iter().collect();
        let value: f64 = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        for (label, _, label_value) in pairs {
            if value != 0.0 {
                out.nonzero
                    .insert((name.clone(), label.clone(), label_value.clone()));
            }
            labels.entry(label).or_default().insert(label_value);
        }
    }
    out
}

#[test]
fn reads_selectors_grouping_and_skips_functions_strings_and_numbers() {
    let expr = parse(
        "max by (job) (up{job=\"a-b\"}) == 0 or absent(up{job=\"a-b\"}) \
         and time() - x_seconds{n!~\"q\\\"}\"} > 2 * max without (pod) (y[5m] offset 1m)",
    );
    let names: Vec<&str> = expr.selectors.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(names, ["up", "up", "x_seconds", "y"]);
    assert_eq!(
        expr.selectors[2].matchers,
        [("n".to_owned(), "!~".to_owned(), "q\"}".to_owned())]
    );
    assert_eq!(expr.grouping, BTreeSet::from(["job".to_owned()]));
    assert_eq!(expr.dropped, BTreeSet::from(["pod".to_owned()]));
    let exposition =
        read_exposition("# HELP a x\na_total{k=\"v\",l=\"w\"} 1\na_total{k=\"z\"} 0\nb 2\n");
    assert_eq!(
        exposition.labels["a_total"]["l"],
        BTreeSet::from(["w".to_owned()])
    );
    assert_eq!(exposition.labels["a_total"]["k"].len(), 2);
    assert!(exposition.labels["b"].is_empty());
    let nonzero = |v: &str| {
        exposition
            .nonzero
            .contains(&("a_total".into(), "k".into(), v.into()))
    };
    assert!(nonzero("v") && !nonzero("z"));
}
