//! The scope of a call: which HSS endpoint, which project, which enterprise project.

use url::Url;

use super::endpoint::{hss_endpoint_for_region, is_loopback};
use super::error::HssError;
use super::sign::percent_encode;

/// Where a `ListHostsRisk` call goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Base URL of HSS (scheme, host, optional port, optional path prefix for proxies).
    pub endpoint: Url,
    pub project_id: String,
    /// `None` = the service default (`0`); `all_granted_eps` = every visible enterprise project.
    pub enterprise_project_id: Option<String>,
}

impl Scope {
    /// Scope for a region of the official endpoint table.
    pub fn for_region(
        region: &str,
        project_id: impl Into<String>,
        enterprise_project_id: Option<String>,
    ) -> Result<Self, HssError> {
        let endpoint = hss_endpoint_for_region(region).ok_or_else(|| HssError::InvalidScope {
            message: format!(
                "unknown region {region:?}: use one of the regions the Huawei Cloud SDK knows, \
                 or give an explicit endpoint URL"
            ),
        })?;
        Self::for_endpoint(endpoint, project_id, enterprise_project_id)
    }

    /// Scope for an explicit endpoint URL (private clouds, proxies, the simulator).
    pub fn for_endpoint(
        endpoint: Url,
        project_id: impl Into<String>,
        enterprise_project_id: Option<String>,
    ) -> Result<Self, HssError> {
        let scope = Self {
            endpoint,
            project_id: project_id.into(),
            enterprise_project_id,
        };
        scope.validate()?;
        Ok(scope)
    }

    /// Checks what the service would reject anyway, before anything is signed or sent.
    pub fn validate(&self) -> Result<(), HssError> {
        let invalid = |message: String| Err(HssError::InvalidScope { message });
        if let Err(message) = check_transport_security(&self.endpoint) {
            return invalid(message);
        }
        if self.endpoint.query().is_some() || self.endpoint.fragment().is_some() {
            return invalid(format!(
                "endpoint {} must not carry a query or fragment",
                self.endpoint
            ));
        }
        if self.project_id.is_empty() || self.project_id.len() > 256 {
            return invalid("the project id must be 1 to 256 characters".into());
        }
        if let Some(eps) = &self.enterprise_project_id {
            if eps.is_empty() || eps.len() > 256 {
                return invalid("the enterprise project id must be 1 to 256 characters".into());
            }
        }
        Ok(())
    }

    /// The request path as sent: `{prefix}/v5/{enc(project_id)}/host-management/hosts-risk`.
    pub fn hosts_risk_path(&self) -> String {
        format!(
            "{}/v5/{}/host-management/hosts-risk",
            self.endpoint.path().trim_end_matches('/'),
            percent_encode(&self.project_id)
        )
    }

    /// The URL authority exactly as sent in `Host`: host plus a non-default port.
    pub fn authority(&self) -> String {
        authority_of(&self.endpoint)
    }
}

/// `host[:port]` of a URL, the port only when it is not the scheme's default.
pub fn authority_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// https everywhere; plain http only to a loopback address (tests, the simulator, a local proxy).
/// No user info in the URL: credentials travel in headers only.
pub fn check_transport_security(url: &Url) -> Result<(), String> {
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{url} has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{}://{}: credentials in the URL are not accepted",
            url.scheme(),
            authority_of(url)
        ));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "{url}: plain http is accepted only for loopback addresses; use https"
        )),
        other => Err(format!("{url}: unsupported scheme {other:?}; use https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn http_only_on_loopback() {
        assert!(Scope::for_endpoint(url("http://127.0.0.1:9000"), "p", None).is_ok());
        assert!(Scope::for_endpoint(url("http://10.1.2.3"), "p", None).is_err());
        assert!(Scope::for_endpoint(url("https://hss.example.net"), "p", None).is_ok());
        assert!(Scope::for_endpoint(url("ftp://hss.example.net"), "p", None).is_err());
        assert!(Scope::for_endpoint(url("https://u:p@hss.example.net"), "p", None).is_err());
    }

    #[test]
    fn region_scope_and_paths() {
        let scope = Scope::for_region("cn-north-4", "proj 1", Some("all_granted_eps".into()))
            .expect("scope");
        assert_eq!(scope.authority(), "hss.cn-north-4.myhuaweicloud.com");
        assert_eq!(
            scope.hosts_risk_path(),
            "/v5/proj%201/host-management/hosts-risk"
        );
        assert!(Scope::for_region("mars-1", "p", None).is_err());
        let proxied =
            Scope::for_endpoint(url("http://localhost:8080/hss/"), "p", None).expect("scope");
        assert_eq!(proxied.authority(), "localhost:8080");
        assert_eq!(
            proxied.hosts_risk_path(),
            "/hss/v5/p/host-management/hosts-risk"
        );
        let default_port =
            Scope::for_endpoint(url("https://h.example:443"), "p", None).expect("scope");
        assert_eq!(default_port.authority(), "h.example");
    }

    #[test]
    fn project_id_bounds() {
        assert!(Scope::for_endpoint(url("https://h.example"), "", None).is_err());
        assert!(Scope::for_endpoint(url("https://h.example"), "p".repeat(257), None).is_err());
        assert!(Scope::for_endpoint(url("https://h.example"), "p", Some(String::new())).is_err());
    }
}
