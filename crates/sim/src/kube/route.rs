//! URL path parsing.

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/version`
    Version,
    /// `/api`
    CoreVersions,
    /// `/api/{version}`
    CoreResources(String),
    /// `/apis`
    Groups,
    /// `/apis/{group}`
    Group(String),
    /// `/apis/{group}/{version}`
    GroupResources(String, String),
    /// A resource collection, object or subresource.
    Resource(ResourcePath),
    /// `/openid/v1/jwks`: the ServiceAccount token signing keys.
    Jwks,
    /// `/.well-known/openid-configuration`: OIDC discovery of the ServiceAccount issuer.
    OidcDiscovery,
}

/// `/api/v1/...` or `/apis/{group}/{version}/...` below the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    /// Group ("" for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace from `namespaces/{ns}/...`, None otherwise.
    pub namespace: Option<String>,
    /// Resource plural.
    pub plural: String,
    /// Object name.
    pub name: Option<String>,
    /// Subresource.
    pub subresource: Option<String>,
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Option<Route> {
    // `/namespaces/{name}/status|finalize` are Namespace subresources, not a namespaced collection.
    let namespaced = rest.len() >= 3
        && rest[0] == "namespaces"
        && !(rest.len() == 3 && matches!(rest[2], "status" | "finalize"));
    let (namespace, rest) = if namespaced {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    if rest.is_empty() || rest.len() > 3 {
        return None;
    }
    Some(Route::Resource(ResourcePath {
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        plural: rest[0].to_string(),
        name: rest.get(1).map(|s| s.to_string()),
        subresource: rest.get(2).map(|s| s.to_string()),
    }))
}

/// Parses a request path; None: not a path the apiserver serves.
pub fn parse(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => Some(Route::Version),
        ["openid", "v1", "jwks"] => Some(Route::Jwks),
        [".well-known", "openid-configuration"] => Some(Route::OidcDiscovery),
        ["api"] => Some(Route::CoreVersions),
        ["api", v] => Some(Route::CoreResources(v.to_string())),
        ["api", v, rest @ ..] => resource("", v, rest),
        ["apis"] => Some(Route::Groups),
        ["apis", g] => Some(Route::Group(g.to_string())),
        ["apis", g, v] => Some(Route::GroupResources(g.to_string(), v.to_string())),
        ["apis", g, v, rest @ ..] => resource(g, v, rest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(path: &str) -> Option<ResourcePath> {
        match parse(path) {
            Some(Route::Resource(r)) => Some(r),
            _ => None,
        }
    }

    #[test]
    fn namespace_paths_are_disambiguated() {
        let ns_status = rp("/api/v1/namespaces/foo/status")
            .map(|r| (r.plural, r.name, r.subresource, r.namespace));
        assert_eq!(
            ns_status,
            Some((
                "namespaces".into(),
                Some("foo".into()),
                Some("status".into()),
                None
            ))
        );
        let secrets = rp("/api/v1/namespaces/foo/secrets").map(|r| (r.plural, r.name, r.namespace));
        assert_eq!(secrets, Some(("secrets".into(), None, Some("foo".into()))));
        let cr = rp("/apis/g.io/v1/namespaces/d/things/x/status")
            .map(|r| (r.group, r.name, r.subresource));
        assert_eq!(
            cr,
            Some(("g.io".into(), Some("x".into()), Some("status".into())))
        );
        assert_eq!(rp("/apis/g.io/v1/things").map(|r| r.namespace), Some(None));
    }
}
