//! The five vectors produced by the official Python SDK signer (`tests/hss-sign-vectors.json`,
//! copied from the team's shared test data), reproduced byte for byte.

use hostrisk_hss::sign::{canonical_query, sign, SigningRequest};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let text = include_str!("hss-sign-vectors.json");
    serde_json::from_str(text).expect("vector file is JSON")
}

/// The query pairs of a vector: either a map (`host_id_list` as an array) or a list of pairs.
fn query_pairs(input: &Value) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    match input {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::Array(items) => pairs.extend(
                        items
                            .iter()
                            .map(|v| (key.clone(), v.as_str().expect("string").to_string())),
                    ),
                    other => pairs.push((key.clone(), other.as_str().expect("string").to_string())),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                let pair = item.as_array().expect("pair");
                pairs.push((
                    pair[0].as_str().expect("key").to_string(),
                    pair[1].as_str().expect("value").to_string(),
                ));
            }
        }
        other => panic!("unexpected query_input {other}"),
    }
    pairs
}

#[test]
fn all_five_official_vectors_reproduce_exactly() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 5);
    for v in &vectors {
        let id = v["id"].as_str().expect("id");
        let header = |name: &str| -> Option<String> {
            v["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .find(|h| h[0].as_str() == Some(name))
                .map(|h| h[1].as_str().expect("value").to_string())
        };
        let project_id = v["url"]
            .as_str()
            .expect("url")
            .split("/v5/")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .expect("project id in url")
            .to_string();
        let wire_path = v["path_template"]
            .as_str()
            .expect("path")
            .replace("{project_id}", &project_id);
        let query = canonical_query(&query_pairs(&v["query_input"]));
        let url = format!(
            "{}{}?{}",
            v["endpoint"].as_str().expect("endpoint"),
            wire_path,
            query
        );
        assert_eq!(url, v["url"].as_str().expect("url"), "vector {id}: url");

        let headers: Vec<(String, String)> = v["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .filter(|h| h[0].as_str() != Some("Authorization"))
            .map(|h| {
                (
                    h[0].as_str().expect("name").to_string(),
                    h[1].as_str().expect("value").to_string(),
                )
            })
            .collect();
        let request = SigningRequest {
            method: v["method"].as_str().expect("method"),
            wire_path: &wire_path,
            canonical_query: &query,
            headers: &headers,
            body: b"",
        };
        let date = v["x_sdk_date"].as_str().expect("date");
        let parts = sign(
            v["ak"].as_str().expect("ak"),
            v["sk"].as_str().expect("sk").as_bytes(),
            date,
            &request,
        );
        let signed: Vec<&str> = v["signed_headers"]
            .as_array()
            .expect("signed")
            .iter()
            .map(|s| s.as_str().expect("name"))
            .collect();
        assert_eq!(
            parts.signed_headers,
            signed.join(";"),
            "vector {id}: signed headers"
        );
        assert_eq!(
            parts.canonical_request,
            v["canonical_request"].as_str().expect("cr"),
            "vector {id}: canonical request"
        );
        assert_eq!(
            parts.string_to_sign,
            v["string_to_sign"].as_str().expect("sts"),
            "vector {id}: string to sign"
        );
        assert_eq!(
            parts.authorization,
            v["authorization"].as_str().expect("auth"),
            "vector {id}: authorization"
        );
        assert_eq!(
            Some(parts.authorization.clone()),
            header("Authorization"),
            "vector {id}: header"
        );
    }
}
