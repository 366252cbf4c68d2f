//! The HTTP front: one axum fallback handler that routes like the apiserver.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::apply::patch;
use super::auth::rbac::{forbidden, forbidden_create_on_patch, Attributes};
use super::auth::selected_name;
use super::delete::{delete, success_status, Deleted};
use super::discovery;
use super::fields::manager_from_user_agent;
use super::list::list;
use super::patch::PatchKind;
use super::query::{Query, Shape};
use super::route::{parse, ResourcePath, Route};
use super::status::{json_response, ApiError};
use super::watch::{self, WatchScope};
use super::write::{create, update, Target};
use super::Shared;

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn not_served() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

/// Entry point for every request.
pub async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match dispatch(&shared, &method, &uri, &headers, &body) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn dispatch(
    shared: &Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let route = parse(uri.path()).ok_or_else(not_served)?;
    let q = Query::parse(uri.query());
    let accept = header(headers, "accept");
    if let Route::Resource(rp) = route {
        return resource(shared, method, &rp, &q, headers, body);
    }
    {
        let state = shared.lock()?;
        let who = shared.auth.authenticate(headers, &state, &shared.tokens)?;
        shared.auth.authorize_path(&who, uri.path())?;
    }
    match route {
        Route::Jwks if method == Method::GET => return shared.tokens.jwks(),
        Route::OidcDiscovery if method == Method::GET => {
            let host = header(headers, "host").unwrap_or("127.0.0.1");
            return shared.tokens.discovery(&format!("http://{host}"));
        }
        _ => {}
    }
    shared.faults.count("get", "discovery", "");
    if shared.faults.is_unavailable() {
        return Err(ApiError::unavailable());
    }
    if method != Method::GET {
        return Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource: {method}"),
        ));
    }
    let types = shared.lock()?.resource_types();
    let aggregated = discovery::wants_aggregated(accept);
    let doc = match route {
        Route::Version => {
            json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-standin", "platform": "linux/amd64"})
        }
        Route::CoreVersions if aggregated => {
            return Ok(aggregated_response(discovery::aggregated(&types, true)))
        }
        Route::Groups if aggregated => {
            return Ok(aggregated_response(discovery::aggregated(&types, false)))
        }
        Route::CoreVersions => discovery::core_versions(),
        Route::CoreResources(v) => {
            discovery::resource_list(&types, "", &v).ok_or_else(not_served)?
        }
        Route::Groups => discovery::group_list(&types),
        Route::Group(g) => discovery::group(&types, &g).ok_or_else(not_served)?,
        Route::GroupResources(g, v) => {
            discovery::resource_list(&types, &g, &v).ok_or_else(not_served)?
        }
        Route::Resource(_) | Route::Jwks | Route::OidcDiscovery => return Err(not_served()),
    };
    Ok(json_response(StatusCode::OK, &doc))
}

fn aggregated_response(doc: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", discovery::AGGREGATED_CONTENT_TYPE)],
        doc.to_string(),
    )
        .into_response()
}

fn verb_of(method: &Method, rp: &ResourcePath, q: &Query) -> &'static str {
    match (method.as_str(), rp.name.is_some()) {
        ("GET", false) if q.is_watch() => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    }
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

fn resource(
    shared: &Arc<Shared>,
    method: &Method,
    rp: &ResourcePath,
    q: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let verb = verb_of(method, rp, q);
    let sub = rp.subresource.as_deref().unwrap_or("");
    shared.faults.count(verb, &rp.plural, sub);
    tracing::debug!(verb, resource = %rp.plural, subresource = sub, namespace = ?rp.namespace, name = ?rp.name, "standin apiserver request");
    if shared.faults.is_unavailable() {
        return Err(ApiError::unavailable());
    }
    let mut state = shared.lock()?;
    let who = shared.auth.authenticate(headers, &state, &shared.tokens)?;
    let selected = match verb {
        "list" | "watch" => selected_name(q.get("fieldSelector")),
        _ => None,
    };
    let attributes = Attributes {
        verb,
        group: &rp.group,
        resource: &rp.plural,
        subresource: sub,
        name: rp.name.as_deref().or(selected.as_deref()).unwrap_or(""),
        namespace: rp.namespace.as_deref().unwrap_or(""),
    };
    if let Some(retry_after) = shared.faults.take_throttle(verb, &rp.plural, sub) {
        return Err(ApiError::too_many_requests(retry_after));
    }
    if shared.faults.is_forbidden(verb, &rp.plural, sub) {
        shared.faults.count_refused(verb, &rp.plural, sub);
        return Err(forbidden(&who, &attributes, &[]));
    }
    shared
        .auth
        .authorize(&who, &attributes, &state)
        .inspect_err(|_| shared.faults.count_refused(verb, &rp.plural, sub))?;
    let shape = Shape::from_accept(header(headers, "accept"))?;
    let rt = state
        .find_type(&rp.group, &rp.version, &rp.plural)
        .ok_or_else(not_served)?;
    // copies: namespaced objects are only addressable below `namespaces/{ns}` (collections may
    // also be listed across namespaces); cluster-scoped ones never are.
    if (rt.namespaced && rp.namespace.is_none() && rp.name.is_some())
        || (!rt.namespaced && rp.namespace.is_some())
    {
        return Err(not_served());
    }
    let status_sub = match rp.subresource.as_deref() {
        None => false,
        Some("status") if rt.status_subresource && rp.name.is_some() => true,
        Some("token") if rt.plural == "serviceaccounts" && verb == "create" => {
            let (Some(namespace), Some(name)) = (rp.namespace.as_deref(), rp.name.as_deref())
            else {
                return Err(not_served());
            };
            return shared
                .tokens
                .token_request(&state, namespace, name, &parse_body(body)?);
        }
        Some(_) => return Err(not_served()),
    };
    let namespace = rp.namespace.clone().unwrap_or_default();
    let strict_fields = q.get("fieldValidation") == Some("Strict");
    let manager = q
        .get("fieldManager")
        .map(str::to_string)
        .unwrap_or_else(|| manager_from_user_agent(header(headers, "user-agent").unwrap_or("")));
    let t = Target {
        rt: &rt,
        namespace: &namespace,
        strict_fields,
        version: &rp.version,
        unvalidated: false,
        manager: Some(&manager),
    };
    let is_write = matches!(verb, "create" | "update" | "patch" | "delete");
    if is_write && q.get("dryRun").is_some() {
        return Err(ApiError::not_implemented("dryRun"));
    }
    if is_write && shared.faults.take_conflict(&rt.plural) {
        let name = rp.name.clone().unwrap_or_default();
        return Err(ApiError::conflict(&t.subject(&name)));
    }
    let render = |o: &Value| shape.render(o, &rt, &rp.version);
    match (verb, rp.name.as_deref()) {
        ("list", _) => Ok(json_response(
            StatusCode::OK,
            &list(&state, &rt, &rp.version, rp.namespace.as_deref(), q, shape)?,
        )),
        ("watch", _) => {
            let scope = WatchScope {
                rt: rt.clone(),
                version: rp.version.clone(),
                namespace: rp.namespace.clone(),
                selectors: q.selectors(&rt)?,
                shape,
            };
            let start = watch::start(&state, &scope, q, &shared.faults)?;
            drop(state);
            Ok(watch::stream(
                scope,
                start,
                &shared.faults,
                shared.bookmark_interval(),
            ))
        }
        ("get", Some(name)) => {
            let obj = state
                .objects
                .get(&t.key(name))
                .ok_or_else(|| ApiError::not_found(&t.subject(name)))?;
            Ok(json_response(StatusCode::OK, &render(obj)))
        }
        ("create", None) if !status_sub => {
            let obj = create(&mut state, &t, parse_body(body)?)?;
            Ok(json_response(StatusCode::CREATED, &render(&obj)))
        }
        ("update", Some(name)) => {
            // copies: a PUT that creates (Leases, Events) answers 201.
            let existed = state.objects.contains_key(&t.key(name));
            let obj = update(&mut state, &t, name, status_sub, parse_body(body)?)?;
            let code = if existed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok(json_response(code, &render(&obj)))
        }
        ("patch", Some(name)) => {
            let ct = header(headers, "content-type").unwrap_or("");
            let kind = PatchKind::from_content_type(ct, &rt)?;
            // copies: an apply that creates the object is also authorized as a create.
            if kind == PatchKind::Apply && !status_sub && !state.objects.contains_key(&t.key(name))
            {
                let create = Attributes {
                    verb: "create",
                    ..attributes
                };
                if shared.auth.authorize(&who, &create, &state).is_err() {
                    shared.faults.count_refused("create", &rp.plural, sub);
                    return Err(forbidden_create_on_patch(&create));
                }
            }
            let (code, obj) = patch(
                &mut state,
                &t,
                name,
                status_sub,
                kind,
                q.get("fieldManager"),
                q.flag("force"),
                body,
            )?;
            Ok(json_response(code, &render(&obj)))
        }
        ("delete", Some(name)) => {
            let options = if body.is_empty() {
                json!({})
            } else {
                parse_body(body)?
            };
            match delete(&mut state, &t, name, &options)? {
                Deleted::Gone(o) => Ok(json_response(StatusCode::OK, &success_status(&t, &o))),
                Deleted::Pending(o) => {
                    let accepted = options.get("orphanDependents") == Some(&Value::Bool(false));
                    let code = if accepted {
                        StatusCode::ACCEPTED
                    } else {
                        StatusCode::OK
                    };
                    Ok(json_response(code, &render(&o)))
                }
            }
        }
        ("deletecollection", _) => Err(ApiError::not_implemented("deletecollection")),
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource: {method}"),
        )),
    }
}
