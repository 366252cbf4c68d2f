//! Where HSS and IAM live: the region table of the official SDKs, and the scope of a call.

use url::Url;

/// Regions the official SDK (huaweicloudsdkhss 3.1.219) knows for HSS.
pub const REGIONS: &[&str] = &[
    "cn-north-9",
    "cn-north-1",
    "cn-north-4",
    "cn-southwest-2",
    "cn-east-2",
    "cn-east-3",
    "cn-east-4",
    "cn-south-1",
    "cn-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "na-mexico-1",
    "af-south-1",
    "sa-brazil-1",
    "la-south-2",
    "cn-south-4",
    "la-north-2",
    "tr-west-1",
    "cn-north-2",
    "ap-southeast-4",
    "ae-ad-1",
    "me-east-1",
    "cn-east-5",
    "my-kualalumpur-1",
    "eu-west-101",
    "ru-moscow-1",
    "cn-north-12",
    "cn-southwest-3",
    "cn-north-11",
    "af-north-1",
    "ap-southeast-5",
];

/// `eu-west-101` is the one region served under the `.eu` domain.
fn domain_for(region: &str) -> &'static str {
    if region == "eu-west-101" {
        "myhuaweicloud.eu"
    } else {
        "myhuaweicloud.com"
    }
}

pub fn is_known_region(region: &str) -> bool {
    REGIONS.contains(&region)
}

/// `https://hss.{region}.myhuaweicloud.com` (or `.eu`), `None` for a region the SDK does not know.
pub fn hss_endpoint_for_region(region: &str) -> Option<Url> {
    service_endpoint("hss", region)
}

/// `https://iam.{region}.myhuaweicloud.com` (or `.eu`).
pub fn iam_endpoint_for_region(region: &str) -> Option<Url> {
    service_endpoint("iam", region)
}

/// Why no IAM endpoint is known for a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamEndpointMissing {
    /// A region the SDK's table does not know.
    UnknownRegion(String),
    /// An explicit HSS endpoint and no IAM endpoint configured for it.
    NotConfigured,
}

/// The IAM that password logins and id-token exchanges for a scope go to: the region's IAM for
/// a scope named by its region; for an explicit HSS endpoint (a private cloud, where no region
/// names one) the IAM endpoint configured by whoever runs the client, never one a request names.
pub fn iam_endpoint_for_scope(
    region: Option<&str>,
    configured: Option<&Url>,
) -> Result<Url, IamEndpointMissing> {
    match (region, configured) {
        (Some(region), _) => iam_endpoint_for_region(region)
            .ok_or_else(|| IamEndpointMissing::UnknownRegion(region.to_string())),
        (None, Some(url)) => Ok(url.clone()),
        (None, None) => Err(IamEndpointMissing::NotConfigured),
    }
}

fn service_endpoint(service: &str, region: &str) -> Option<Url> {
    if !is_known_region(region) {
        return None;
    }
    Url::parse(&format!(
        "https://{service}.{region}.{}",
        domain_for(region)
    ))
    .ok()
}

/// True when `url` is exactly an official HSS or IAM endpoint of a known region
/// (https, default port, no path beyond `/`, no credentials, query or fragment).
pub fn is_official_endpoint(url: &Url) -> bool {
    if url.scheme() != "https"
        || url.port().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
        || !matches!(url.path(), "" | "/")
    {
        return false;
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    REGIONS.iter().any(|region| {
        let domain = domain_for(region);
        host == format!("hss.{region}.{domain}") || host == format!("iam.{region}.{domain}")
    })
}

/// True for `127.0.0.0/8`, `::1` and `localhost`: the only hosts where plain http is accepted.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_has_its_region_s_iam_or_the_configured_one() {
        let private = Url::parse("https://iam.cloud.example.com/").expect("url");
        assert!(iam_endpoint_for_scope(Some("cn-north-4"), Some(&private))
            .expect("region")
            .as_str()
            .starts_with("https://iam.cn-north-4."));
        assert_eq!(
            iam_endpoint_for_scope(None, Some(&private)),
            Ok(private.clone())
        );
        assert_eq!(
            iam_endpoint_for_scope(None, None),
            Err(IamEndpointMissing::NotConfigured)
        );
        assert_eq!(
            iam_endpoint_for_scope(Some("xx-nowhere-1"), Some(&private)),
            Err(IamEndpointMissing::UnknownRegion("xx-nowhere-1".into()))
        );
    }

    #[test]
    fn regions_map_to_their_domain() {
        assert_eq!(
            hss_endpoint_for_region("ap-southeast-1").map(|u| u.to_string()),
            Some("https://hss.ap-southeast-1.myhuaweicloud.com/".to_string())
        );
        assert_eq!(
            iam_endpoint_for_region("eu-west-101").map(|u| u.to_string()),
            Some("https://iam.eu-west-101.myhuaweicloud.eu/".to_string())
        );
        assert!(hss_endpoint_for_region("mars-north-1").is_none());
    }

    #[test]
    fn official_endpoints_are_exact() {
        let ok = |s: &str| is_official_endpoint(&Url::parse(s).expect("url"));
        assert!(ok("https://hss.cn-north-4.myhuaweicloud.com"));
        assert!(ok("https://hss.eu-west-101.myhuaweicloud.eu/"));
        assert!(!ok("http://hss.cn-north-4.myhuaweicloud.com"));
        assert!(!ok("https://hss.cn-north-4.myhuaweicloud.com.evil.example"));
        assert!(!ok("https://hss.cn-north-4.myhuaweicloud.com:8443"));
        assert!(!ok("https://user@hss.cn-north-4.myhuaweicloud.com"));
        assert!(!ok("https://hss.eu-west-101.myhuaweicloud.com"));
    }

    #[test]
    fn loopback_detection() {
        let lb = |s: &str| is_loopback(&Url::parse(s).expect("url"));
        assert!(lb("http://127.0.0.1:8080"));
        assert!(lb("http://127.1.2.3"));
        assert!(lb("http://[::1]:9"));
        assert!(lb("http://localhost:1"));
        assert!(!lb("http://10.0.0.1"));
        assert!(!lb("http://localhost.evil.example"));
    }
}
