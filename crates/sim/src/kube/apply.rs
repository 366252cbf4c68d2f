//! The PATCH verb: server-side apply, JSON merge patch, JSON patch and strategic merge patch,
//! each ending in the create or update path of write.rs.
//!
//! copies:
//! - a patch is applied to the current object (at the request's version) and then written
//!   like an update, so optimistic concurrency only applies when the patch itself sets
//!   `metadata.resourceVersion` (then a stale one answers 409 Conflict);
//! - server-side apply: `fieldManager` is required (422); the configuration must name the
//!   URL's apiVersion, kind and name (400) and carry no `managedFields` (400); field ownership,
//!   conflicts and removals are fields/managed.rs; applying to a missing object creates it
//!   (201), except through `/status` (404);
//! - JSON patch operations that fail (a `test` that does not hold, a missing path) answer 422
//!   `the server rejected our request due to an error in our request` with the patch library's
//!   message as a cause, and nothing is written.

use axum::body::Bytes;
use axum::http::StatusCode;
use serde_json::{json, Value};

use super::fields::conflicts::ApplyError;
use super::fields::managed;
use super::meta::{meta_str, set_meta};
use super::patch::{json_patch, merge_patch, PatchKind};
use super::smp::strategic_merge_patch;
use super::status::ApiError;
use super::store::State;
use super::write::{create, update, Target};

fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

/// copies: an apply configuration must carry the URL's apiVersion and kind, its name, and no
/// managedFields.
fn check_apply_identity(t: &Target<'_>, config: &Value, name: &str) -> Result<(), ApiError> {
    let api_version = config.get("apiVersion").and_then(Value::as_str);
    let kind = config.get("kind").and_then(Value::as_str);
    let want = t.rt.api_version(t.version);
    if api_version.is_none() || kind.is_none() {
        return Err(ApiError::bad_request(format!(
            "apply configuration must set apiVersion and kind {}",
            t.rt.kind
        )));
    }
    if api_version != Some(want.as_str()) || kind != Some(t.rt.kind.as_str()) {
        return Err(ApiError::bad_request(format!(
            "Incorrect version specified in apply patch. Specified patch version: {}, expected: {}",
            api_version.unwrap_or(""),
            want
        )));
    }
    if meta_str(config, "name").is_some_and(|n| n != name) {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            meta_str(config, "name").unwrap_or("")
        )));
    }
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    Ok(())
}

/// `ns/name; group/version, Kind=Kind`, as the field manager names an object in errors.
fn gvknn(t: &Target<'_>, name: &str) -> String {
    format!(
        "{}/{name}; {}/{}, Kind={}",
        t.namespace, t.rt.group, t.version, t.rt.kind
    )
}

/// Server-side apply of `body` by `manager`.
fn apply(
    state: &mut State,
    t: &Target<'_>,
    name: &str,
    status_sub: bool,
    manager: &str,
    force: bool,
    body: &Bytes,
) -> Result<(StatusCode, Value), ApiError> {
    let config: Value = serde_yaml::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    check_apply_identity(t, &config, name)?;
    let current = state
        .objects
        .get(&t.key(name))
        .map(|c| t.at_request_version(c));
    if current.is_none() && status_sub {
        return Err(ApiError::not_found(&t.subject(name)));
    }
    let req = t.field_request(manager, status_sub);
    let mut result =
        managed::apply(current.as_ref(), &config, &req, force).map_err(|e| match e {
            ApplyError::Conflict(e) => e,
            ApplyError::Typed(msg) => ApiError::new(
                500,
                "",
                format!(
                    "failed to create typed patch object ({}): {msg}",
                    gvknn(t, name)
                ),
            ),
        })?;
    let precomputed = Target {
        manager: None,
        ..*t
    };
    match current {
        None => {
            set_meta(&mut result, "name", json!(name));
            Ok((StatusCode::CREATED, create(state, &precomputed, result)?))
        }
        Some(cur) => {
            if meta_str(&config, "resourceVersion").is_none() {
                set_meta(
                    &mut result,
                    "resourceVersion",
                    json!(meta_str(&cur, "resourceVersion").unwrap_or("")),
                );
            }
            Ok((
                StatusCode::OK,
                update(state, &precomputed, name, status_sub, result)?,
            ))
        }
    }
}

/// copies: the 422 of a JSON patch the document does not satisfy.
fn json_patch_refused(message: String) -> ApiError {
    let mut e = ApiError::new(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
    );
    e.details = json!({"causes": [{"reason": "UnexpectedServerResponse", "message": message}]});
    e
}

/// A PATCH of `name` with a body of `kind`.
#[allow(clippy::too_many_arguments)]
pub fn patch(
    state: &mut State,
    t: &Target<'_>,
    name: &str,
    status_sub: bool,
    kind: PatchKind,
    field_manager: Option<&str>,
    force: bool,
    body: &Bytes,
) -> Result<(StatusCode, Value), ApiError> {
    if kind == PatchKind::Apply {
        let manager = field_manager.ok_or_else(|| {
            ApiError::new(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
        })?;
        return apply(state, t, name, status_sub, manager, force, body);
    }
    let cur = state
        .objects
        .get(&t.key(name))
        .map(|c| t.at_request_version(c))
        .ok_or_else(|| ApiError::not_found(&t.subject(name)))?;
    let patch_body = parse_json(body)?;
    let mut doc = cur.clone();
    match kind {
        PatchKind::Merge => merge_patch(&mut doc, &patch_body),
        PatchKind::Strategic => strategic_merge_patch(&mut doc, &patch_body, t.rt, t.version)?,
        PatchKind::Json => json_patch(&mut doc, &patch_body).map_err(json_patch_refused)?,
        PatchKind::Apply => {}
    }
    if meta_str(&doc, "resourceVersion").is_none_or(str::is_empty) {
        set_meta(
            &mut doc,
            "resourceVersion",
            json!(meta_str(&cur, "resourceVersion").unwrap_or("")),
        );
    }
    Ok((StatusCode::OK, update(state, t, name, status_sub, doc)?))
}
