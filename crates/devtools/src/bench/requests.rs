//! The operator's requests to the Kubernetes API, counted on its own client by verb, resource
//! and subresource: the same figures against the stand-in and a real API server, whatever
//! else (the benchmark's driver, other clients of a real cluster) talks to the server.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Method, Request};
use kube::client::{Body, ClientBuilder};

/// What one request did: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, on a
/// resource (plural) and an optional subresource (`status`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestKind {
    pub verb: &'static str,
    pub resource: String,
    pub subresource: Option<String>,
}

impl RequestKind {
    /// `verb resource[/subresource]`, as the report prints it.
    pub fn label(&self) -> String {
        match &self.subresource {
            Some(sub) => format!("{}.{}/{}", self.verb, self.resource, sub),
            None => format!("{}.{}", self.verb, self.resource),
        }
    }

    pub fn is_watch(&self) -> bool {
        self.verb == "watch"
    }
}

/// Counts of the requests sent so far.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<RequestKind, u64>>>,
}

impl RequestCounter {
    /// A client from `config` (with the operator's `User-Agent`) whose every request is counted
    /// here.
    pub fn client(&self, mut config: kube::Config) -> Result<kube::Client, kube::Error> {
        config.headers.push((
            http::header::USER_AGENT,
            http::HeaderValue::from_static(hostrisk_operator::controller::USER_AGENT),
        ));
        let counts = Arc::clone(&self.counts);
        let counting = tower::util::MapRequestLayer::new(move |request: Request<Body>| {
            let kind = classify(request.method(), request.uri());
            let mut counts = counts.lock().unwrap_or_else(|p| p.into_inner());
            *counts.entry(kind).or_default() += 1;
            request
        });
        Ok(ClientBuilder::try_from(config)?
            .with_layer(&counting)
            .build())
    }

    /// The counts so far.
    pub fn snapshot(&self) -> BTreeMap<RequestKind, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Requests made between two snapshots.
pub fn since(
    before: &BTreeMap<RequestKind, u64>,
    after: &BTreeMap<RequestKind, u64>,
) -> BTreeMap<RequestKind, u64> {
    after
        .iter()
        .filter_map(|(kind, n)| {
            let delta = n - before.get(kind).copied().unwrap_or(0);
            (delta > 0).then(|| (kind.clone(), delta))
        })
        .collect()
}

/// The verb and resource of a Kubernetes API request from its method and path:
/// `/api/v1/namespaces/{ns}/secrets/{name}`, `/apis/{group}/{version}/{resource}/{name}/status`.
pub fn classify(method: &Method, uri: &http::Uri) -> RequestKind {
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let rest: &[&str] = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => &[],
    };
    let rest = match rest {
        ["namespaces", _ns, rest @ ..] if !rest.is_empty() => rest,
        other => other,
    };
    let (resource, name, subresource) = match rest {
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some(*name), None),
        [resource, name, sub, ..] => (*resource, Some(*name), Some(*sub)),
        [] => (uri.path(), None, None),
    };
    let watching = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair == "watch=true" || pair == "watch=1");
    let verb = match *method {
        Method::GET if watching => "watch",
        Method::GET if name.is_some() => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "other",
    };
    RequestKind {
        verb,
        resource: resource.to_string(),
        subresource: subresource.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(method: Method, uri: &str) -> String {
        classify(&method, &uri.parse().expect("uri")).label()
    }

    #[test]
    fn paths_map_to_verbs_and_resources() {
        assert_eq!(
            kind(Method::GET, "/api/v1/namespaces/a/secrets/creds"),
            "get.secrets"
        );
        assert_eq!(
            kind(Method::GET, "/api/v1/secrets?labelSelector=x"),
            "list.secrets"
        );
        assert_eq!(
            kind(
                Method::GET,
                "/apis/hostrisk.io/v1alpha1/hostriskwatches?watch=true&resourceVersion=5"
            ),
            "watch.hostriskwatches"
        );
        assert_eq!(
            kind(
                Method::PATCH,
                "/apis/hostrisk.io/v1alpha1/namespaces/a/hostriskwatches/w/status?fieldManager=x"
            ),
            "patch.hostriskwatches/status"
        );
        assert_eq!(
            kind(Method::POST, "/apis/events.k8s.io/v1/namespaces/a/events"),
            "create.events"
        );
        assert_eq!(
            kind(Method::GET, "/api/v1/namespaces/a"),
            "get.namespaces",
            "a namespace itself"
        );
    }
}
