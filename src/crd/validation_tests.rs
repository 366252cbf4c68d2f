use super::*;
use crate::crd::spec::CredentialsSecretRef;

fn spec() -> HostRiskWatchSpec {
    HostRiskWatchSpec {
        project_id: "0123456789abcdef".into(),
        region: Some("ap-southeast-1".into()),
        endpoint: None,
        enterprise_project_id: None,
        host_ids: ["h1", "h2"].into(),
        node_selector: None,
        node_host_id_from: None,
        credentials_secret_ref: Some(CredentialsSecretRef {
            name: "hss-credentials".into(),
        }),
        workload_identity: None,
        interval: None,
        suspend: false,
    }
}

fn policy(prefixes: &[&str]) -> ValidationPolicy {
    ValidationPolicy {
        allowed_endpoint_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        ..ValidationPolicy::default()
    }
}

fn errors_of(spec: &HostRiskWatchSpec, policy: &ValidationPolicy) -> Vec<SpecError> {
    validate_spec(spec, policy).expect_err("spec must be refused")
}

fn with_endpoint(url: &str) -> HostRiskWatchSpec {
    HostRiskWatchSpec {
        region: None,
        endpoint: Some(url.into()),
        ..spec()
    }
}

#[test]
fn valid_region_spec_resolves_endpoint_and_default_interval() {
    let ok = validate_spec(&spec(), &ValidationPolicy::default()).expect("valid");
    assert_eq!(
        ok.endpoint.as_str(),
        "https://hss.ap-southeast-1.myhuaweicloud.com/"
    );
    assert_eq!(ok.interval, Duration::from_secs(600));
    assert_eq!(ok.host_ids, vec!["h1", "h2"]);
    assert_eq!(
        ok.credentials,
        crate::crd::validation::CredentialsSource::Secret("hss-credentials".into())
    );
}

#[test]
fn explicit_interval_is_parsed_and_floor_enforced() {
    let mut s = spec();
    s.interval = Some("1h30m".into());
    let ok = validate_spec(&s, &ValidationPolicy::default()).expect("valid");
    assert_eq!(ok.interval, Duration::from_secs(5400));

    s.interval = Some("30s".into());
    let errs = errors_of(&s, &ValidationPolicy::default());
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "spec.interval");
    assert!(
        errs[0].message.contains("below the minimum of 1m"),
        "{errs:?}"
    );
    assert_eq!(condition_reason(&errs).as_str(), "InvalidSpec");

    s.interval = Some("1m".into());
    assert!(validate_spec(&s, &ValidationPolicy::default()).is_ok());

    s.interval = Some("ten minutes".into());
    let errs = errors_of(&s, &ValidationPolicy::default());
    assert!(errs[0]
        .to_string()
        .starts_with("spec.interval: `ten minutes` is not a duration"));
}

#[test]
fn default_interval_below_floor_is_raised() {
    let p = ValidationPolicy {
        min_interval: Duration::from_secs(120),
        default_interval: Duration::from_secs(60),
        allowed_endpoint_prefixes: vec![],
    };
    assert_eq!(
        validate_spec(&spec(), &p).expect("valid").interval,
        Duration::from_secs(120)
    );
}

#[test]
fn region_and_endpoint_are_exclusive_and_one_is_required() {
    let mut s = spec();
    s.endpoint = Some("https://hss.ap-southeast-1.myhuaweicloud.com".into());
    let errs = errors_of(&s, &ValidationPolicy::default());
    assert!(errs[0].message.contains("mutually exclusive"));

    s.region = None;
    s.endpoint = None;
    let errs = errors_of(&s, &ValidationPolicy::default());
    assert!(errs[0].message.contains("set spec.region"));

    s.region = Some("mars-north-1".into());
    let errs = errors_of(&s, &ValidationPolicy::default());
    assert!(errs[0].message.contains("not a known HSS region"));
}

#[test]
fn host_id_bounds_and_duplicates() {
    let mut s = spec();
    s.host_ids = HostIdList::default();
    assert!(errors_of(&s, &ValidationPolicy::default())[0]
        .message
        .contains("at least one"));

    s.host_ids = ["a", "b", "a", "b", "c"].into();
    let errs = errors_of(&s, &ValidationPolicy::default());
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].message.contains("lists a, b more than once"),
        "{errs:?}"
    );

    s.host_ids = (0..1001).map(|i| format!("host-{i}")).collect();
    let errs = errors_of(&s, &ValidationPolicy::default());
    assert!(errs[0].message.contains("lists 1001 ids; at most 1000"));

    s.host_ids = (0..1000).map(|i| format!("host-{i}")).collect();
    assert!(validate_spec(&s, &ValidationPolicy::default()).is_ok());

    s.host_ids = vec!["ok".to_string(), String::new(), "x".repeat(65)].into();
    let errs = errors_of(&s, &ValidationPolicy::default());
    assert!(errs[0].message.contains("index 1, 2"), "{errs:?}");
}

#[test]
fn string_bounds_count_characters() {
    let mut s = spec();
    s.project_id = "é".repeat(256);
    assert!(validate_spec(&s, &ValidationPolicy::default()).is_ok());
    s.project_id = "é".repeat(257);
    s.enterprise_project_id = Some(String::new());
    let errs = errors_of(&s, &ValidationPolicy::default());
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0].field, "spec.projectId");
    assert!(errs[0].message.contains("257 characters"));
    assert_eq!(errs[1].field, "spec.enterpriseProjectId");
}

#[test]
fn secret_name_must_be_dns_subdomain() {
    for good in ["a", "hss-credentials", "a.b-c.d1"] {
        let mut s = spec();
        s.credentials_secret_ref.as_mut().expect("a Secret").name = good.into();
        assert!(
            validate_spec(&s, &ValidationPolicy::default()).is_ok(),
            "{good}"
        );
    }
    for bad in [
        "",
        "Upper",
        "-a",
        "a-",
        "a..b",
        "a_b",
        "ns/name",
        &"a".repeat(254),
    ] {
        let mut s = spec();
        s.credentials_secret_ref.as_mut().expect("a Secret").name = bad.to_string();
        let errs = errors_of(&s, &ValidationPolicy::default());
        assert_eq!(errs[0].field, "spec.credentialsSecretRef.name", "{bad}");
    }
}

#[test]
fn official_endpoints_are_always_allowed() {
    let ok = validate_spec(
        &with_endpoint("https://hss.eu-west-101.myhuaweicloud.eu"),
        &ValidationPolicy::default(),
    )
    .expect("official");
    assert_eq!(
        ok.endpoint.host_str(),
        Some("hss.eu-west-101.myhuaweicloud.eu")
    );
}

#[test]
fn other_endpoints_need_a_listed_prefix_on_segment_boundaries() {
    let p = policy(&["https://hss.private.example/api", "not a url"]);
    assert!(validate_spec(&with_endpoint("https://hss.private.example/api"), &p).is_ok());
    assert!(validate_spec(&with_endpoint("https://hss.private.example/api/v5"), &p).is_ok());
    assert!(validate_spec(&with_endpoint("https://HSS.private.example:443/api"), &p).is_ok());
    for refused in [
        "https://hss.private.example/apix",
        "https://hss.private.example",
        "https://hss.private.example.evil.test/api",
        "https://hss.private.example:8443/api",
        "https://other.example",
    ] {
        let errs = errors_of(&with_endpoint(refused), &p);
        assert_eq!(
            condition_reason(&errs).as_str(),
            "EndpointNotAllowed",
            "{refused}"
        );
        assert!(errs[0].message.contains("--allowed-endpoints"), "{refused}");
    }
}

#[test]
fn plain_http_only_for_listed_loopback() {
    let p = policy(&["http://127.0.0.1:18080", "http://10.0.0.5"]);
    assert!(validate_spec(&with_endpoint("http://127.0.0.1:18080"), &p).is_ok());
    let errs = errors_of(&with_endpoint("http://127.0.0.1:18081"), &p);
    assert_eq!(condition_reason(&errs).as_str(), "EndpointNotAllowed");
    let errs = errors_of(&with_endpoint("http://10.0.0.5"), &p);
    assert_eq!(condition_reason(&errs).as_str(), "EndpointNotAllowed");
    assert!(errs[0].message.contains("only accepted for loopback"));
    let errs = errors_of(&with_endpoint("http://127.0.0.1:18080"), &policy(&[]));
    assert_eq!(condition_reason(&errs).as_str(), "EndpointNotAllowed");
}

#[test]
fn malformed_endpoints_are_invalid_not_disallowed() {
    let p = policy(&["https://hss.private.example"]);
    for bad in [
        "hss.private.example",
        "ftp://hss.private.example",
        "https://user:pw@hss.private.example",
        "https://hss.private.example/?x=1",
        "https://hss.private.example/#f",
    ] {
        let errs = errors_of(&with_endpoint(bad), &p);
        assert_eq!(condition_reason(&errs).as_str(), "InvalidSpec", "{bad}");
        assert_eq!(errs[0].field, "spec.endpoint");
    }
    let errs = errors_of(
        &with_endpoint(&format!("https://a/{}", "x".repeat(2048))),
        &p,
    );
    assert!(errs[0].message.contains("2048"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let s = HostRiskWatchSpec {
        project_id: String::new(),
        region: None,
        endpoint: None,
        enterprise_project_id: None,
        host_ids: HostIdList::default(),
        node_selector: None,
        node_host_id_from: None,
        credentials_secret_ref: Some(CredentialsSecretRef { name: "Bad".into() }),
        workload_identity: None,
        interval: Some("5s".into()),
        suspend: false,
    };
    let errs = errors_of(&s, &ValidationPolicy::default());
    let fields: Vec<_> = errs.iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        vec![
            "spec.projectId",
            "spec.hostIds",
            "spec.credentialsSecretRef.name",
            "spec.region",
            "spec.interval"
        ]
    );
    assert_eq!(condition_reason(&errs).as_str(), "InvalidSpec");
    assert!(describe(&errs).contains("; spec.hostIds: list at least one host id"));
}

#[test]
fn endpoint_length_bound_counts_characters_not_bytes() {
    // 1500 two-byte characters: 3000+ bytes, but well under the 2048-character bound, on an
    // allowed prefix, so the spec is accepted like the API server would.
    let path: String = "é".repeat(1500);
    let url = format!("https://hss.example.com/{path}");
    assert!(url.len() > ENDPOINT_MAX_LEN && url.chars().count() < ENDPOINT_MAX_LEN);
    let ok = validate_spec(&with_endpoint(&url), &policy(&["https://hss.example.com"]))
        .expect("length is counted in characters");
    assert_eq!(ok.endpoint.host_str(), Some("hss.example.com"));

    let too_long = format!("https://hss.example.com/{}", "é".repeat(ENDPOINT_MAX_LEN));
    let errs = errors_of(
        &with_endpoint(&too_long),
        &policy(&["https://hss.example.com"]),
    );
    assert_eq!(errs[0].field, "spec.endpoint");
    assert!(
        errs[0].message.contains("characters long"),
        "{}",
        errs[0].message
    );
    assert!(errs[0].message.contains("spec.region"), "names the fix");
}

#[test]
fn every_message_names_a_fix() {
    let mut long_interval = spec();
    long_interval.interval = Some("99999999999999999999h".into());
    let mut overflow = spec();
    overflow.interval = Some("9999999999999999h".into());
    let mut long_project = spec();
    long_project.project_id = "p".repeat(PROJECT_ID_MAX_LEN + 1);
    let mut empty_project = spec();
    empty_project.project_id = String::new();
    let mut long_ids = spec();
    long_ids.host_ids = vec!["x".repeat(HOST_ID_MAX_LEN + 1)].into();
    for s in [
        long_interval,
        overflow,
        long_project,
        empty_project,
        long_ids,
    ] {
        for e in errors_of(&s, &ValidationPolicy::default()) {
            assert!(
                e.message.contains(':') || e.message.contains(';'),
                "{} has no fix hint: {}",
                e.field,
                e.message
            );
            let fix_words = ["write", "use", "shorten", "set", "list", "remove", "poll"];
            assert!(
                fix_words.iter().any(|w| e.message.contains(w)),
                "{} has no fix hint: {}",
                e.field,
                e.message
            );
        }
    }
}

#[test]
fn a_node_backed_spec_resolves_its_node_source_and_needs_no_host_ids() {
    use crate::crd::nodes::{HostIdSource, NodeHostIdFrom, NodeSelector};
    let s = HostRiskWatchSpec {
        host_ids: HostIdList::default(),
        node_selector: Some(NodeSelector {
            match_labels: [("pool".to_string(), "web".to_string())].into(),
            ..NodeSelector::default()
        }),
        node_host_id_from: Some(NodeHostIdFrom {
            label: Some("example.com/ecs-id".into()),
            annotation: None,
        }),
        ..spec()
    };
    let ok = validate_spec(&s, &ValidationPolicy::default()).expect("valid");
    assert!(ok.host_ids.is_empty());
    let nodes = ok.nodes.expect("node source");
    assert_eq!(nodes.text, "pool=web");
    assert_eq!(
        nodes.host_id,
        HostIdSource::Label("example.com/ecs-id".into())
    );
    assert_eq!(
        validate_spec(&spec(), &ValidationPolicy::default())
            .expect("valid")
            .nodes,
        None
    );
    let both = HostRiskWatchSpec {
        node_selector: Some(NodeSelector::default()),
        ..spec()
    };
    let errs = errors_of(&both, &ValidationPolicy::default());
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "spec.nodeSelector");
    let bad_key = HostRiskWatchSpec {
        host_ids: HostIdList::default(),
        node_selector: Some(NodeSelector {
            match_labels: [("-bad".to_string(), "x".to_string())].into(),
            ..NodeSelector::default()
        }),
        ..spec()
    };
    let errs = errors_of(&bad_key, &ValidationPolicy::default());
    assert_eq!(errs[0].field, "spec.nodeSelector.matchLabels");
    assert_eq!(condition_reason(&errs).as_str(), "InvalidSpec");
}
