//! list: selectors, resourceVersion semantics and limit/continue pagination.

use serde_json::{json, Value};

use super::meta::parse_rv;
use super::query::{Query, Shape};
use super::resources::ResourceType;
use super::status::ApiError;
use super::store::{ObjKey, State};

/// copies: the apiserver answers 504 Timeout "Too large resource version" (after waiting
/// up to 3s; the stand-in answers at once since nothing else can advance its revision).
pub fn too_large(want: u64, current: u64) -> ApiError {
    let mut e = ApiError::new(
        504,
        "Timeout",
        format!("Too large resource version: {want}, current: {current}"),
    );
    e.details = json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1});
    e
}

/// copies: the 410 answer for a compacted revision.
pub fn too_old(want: u64, compacted: u64) -> ApiError {
    ApiError::expired(format!("too old resource version: {want} ({compacted})"))
}

fn encode_continue(rv: u64, key: &ObjKey) -> String {
    format!("{rv}|{}|{}", key.namespace, key.name)
}

fn decode_continue(token: &str) -> Option<(u64, String, String)> {
    let mut parts = token.splitn(3, '|');
    let rv = parts.next()?.parse().ok()?;
    Some((rv, parts.next()?.to_string(), parts.next()?.to_string()))
}

/// Lists one resource.
///
/// copies:
/// - no resourceVersion: the most recent state; `resourceVersion=0` or `=N` with
///   `resourceVersionMatch` unset/`NotOlderThan`: any state not older than N (the stand-in
///   always serves the latest); `Exact`: the state at exactly N, 410 Expired when history
///   since N is compacted; N newer than the current revision: 504 Too large resource version.
/// - `resourceVersionMatch` without `resourceVersion` answers 422.
/// - `limit` returns at most that many items plus `metadata.continue`; the continue token
///   lists the rest of the same snapshot (410 Expired once that snapshot is compacted);
///   `remainingItemCount` is set only when no selector is used.
///   The token's format differs from the real server's (it is opaque to clients anyway).
/// - items are in etcd key order (namespace, then name).
pub fn list(
    state: &State,
    rt: &ResourceType,
    version: &str,
    namespace: Option<&str>,
    q: &Query,
    shape: Shape,
) -> Result<Value, ApiError> {
    let selectors = q.selectors(rt)?;
    let limit = q.limit()?;
    let (at, start_after) = if let Some(token) = q.get("continue") {
        let (rv, ns, name) = decode_continue(token)
            .ok_or_else(|| ApiError::bad_request(format!("continue key is not valid: {token}")))?;
        if rv < state.compacted_rv {
            return Err(ApiError::expired(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
            ));
        }
        (rv, Some((ns, name)))
    } else {
        let rv = q.get("resourceVersion");
        let rv_match = q.get("resourceVersionMatch");
        match (rv, rv_match) {
            (None, Some(_)) => {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
                ))
            }
            (None, None) => (state.rv, None),
            (Some(s), m) => {
                let want = parse_rv(s)
                    .ok_or_else(|| ApiError::bad_request(format!("invalid resource version: {s}")))?;
                if want > state.rv {
                    return Err(too_large(want, state.rv));
                }
                match m {
                    None | Some("NotOlderThan") => (state.rv, None),
                    Some("Exact") if want == 0 => {
                        return Err(ApiError::new(
                            422,
                            "Invalid",
                            "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                        ))
                    }
                    Some("Exact") => (want, None),
                    Some(other) => {
                        return Err(ApiError::new(
                            422,
                            "Invalid",
                            format!("resourceVersionMatch: Unsupported value: \"{other}\""),
                        ))
                    }
                }
            }
        }
    };
    // The latest state is read in place (a page copies only its items); an older one is rebuilt.
    let older;
    let objects: Vec<(&ObjKey, &Value)> = if at == state.rv {
        state.resource_entries(&rt.group, &rt.plural).collect()
    } else {
        older = state
            .snapshot(&rt.group, &rt.plural, at)
            .ok_or_else(|| too_old(at, state.compacted_rv))?;
        older.iter().map(|(k, o)| (k, o)).collect()
    };
    let matching: Vec<(&ObjKey, &Value)> = objects
        .into_iter()
        .filter(|(k, o)| {
            namespace.is_none_or(|ns| k.namespace == ns)
                && start_after
                    .as_ref()
                    .is_none_or(|(ns, n)| (&k.namespace, &k.name) > (ns, n))
                && selectors.matches(o)
        })
        .collect();
    let take = limit.unwrap_or(usize::MAX).min(matching.len());
    let items: Vec<Value> = matching[..take]
        .iter()
        .map(|(_, o)| shape.render(o, rt, version))
        .collect();
    let mut metadata = json!({"resourceVersion": at.to_string()});
    if take < matching.len() && take > 0 {
        metadata["continue"] = json!(encode_continue(at, matching[take - 1].0));
        if selectors.labels.is_empty() && selectors.fields.is_empty() {
            metadata["remainingItemCount"] = json!(matching.len() - take);
        }
    }
    let (kind, api_version) = shape.list_type(rt, version);
    Ok(json!({"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": items}))
}
