//! A JSON parser that refuses a repeated key in any object, at any depth. serde_json keeps the
//! last of two equal keys without a word, and so do many log pipelines: a log line with a
//! repeated key loses data there, so the tests hold every line to this stricter reading.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Parses `text` as one JSON value; an error names the first repeated key.
pub fn parse_strict(text: &str) -> Result<serde_json::Value, String> {
    let checked: Checked = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(checked.0)
}

/// A JSON value read with the uniqueness check.
struct Checked(serde_json::Value);

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor).map(Checked)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Checked(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(items.into())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = HashSet::new();
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let Checked(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(object.into())
    }
}

#[test]
fn repeated_keys_are_refused_at_any_depth() {
    assert!(parse_strict(r#"{"a":1,"b":[{"c":2}]}"#).is_ok());
    let top = parse_strict(r#"{"message":"cannot start","message":"no configuration"}"#);
    assert!(top.is_err_and(|e| e.contains("duplicate key \"message\"")));
    assert!(parse_strict(r#"{"spans":[{"name":"a","name":"b"}]}"#).is_err());
    assert!(parse_strict("not json").is_err());
    // What serde_json alone would have let through.
    assert!(serde_json::from_str::<serde_json::Value>(r#"{"a":1,"a":2}"#).is_ok());
}
