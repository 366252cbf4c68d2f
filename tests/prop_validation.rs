//! Property tests (issue 6, "Bad input") that tests/prop_{sign,duration,model}.rs lack: spec
//! validation never panics and accepts every valid spec, errors name a spec field and a fix;
//! `sign()` is deterministic, its header parses back, and any change to what is signed changes
//! the signature.

use std::time::Duration;

use hostrisk_operator::crd::validation::{validate_spec, ValidationPolicy};
use hostrisk_operator::crd::{CredentialsSecretRef, HostRiskWatchSpec};
use hostrisk_operator::hss::sign::{
    canonical_query, parse_authorization, sign, SigningRequest, SDK_DATE_HEADER,
};
use proptest::prelude::*;

const REGIONS: &[&str] = &["ap-southeast-1", "cn-north-4", "cn-east-3", "af-south-1"];

fn policy() -> ValidationPolicy {
    ValidationPolicy {
        min_interval: Duration::from_secs(60),
        default_interval: Duration::from_secs(600),
        allowed_endpoint_prefixes: vec!["https://hss.example.com/base".into()],
    }
}

fn dns_label() -> impl Strategy<Value = String> {
    "[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?"
}

/// Specs that satisfy every schema rule.
fn valid_spec() -> impl Strategy<Value = HostRiskWatchSpec> {
    (
        "[A-Za-z0-9]{1,256}",
        prop::option::of(prop::sample::select(REGIONS)),
        prop::option::of("[a-z0-9-]{1,40}"),
        prop::collection::btree_set("[A-Za-z0-9._-]{1,64}", 1..50),
        prop::collection::vec(dns_label(), 1..4),
        prop::option::of((1u64..=48, prop::sample::select(vec!["m", "h"]))),
        any::<bool>(),
        "(/[a-z0-9]{1,10}){0,3}",
    )
        .prop_map(
            |(project, region, eps, ids, labels, interval, suspend, path)| HostRiskWatchSpec {
                project_id: project,
                endpoint: region
                    .is_none()
                    .then(|| format!("https://hss.example.com/base{path}")),
                region: region.map(str::to_string),
                enterprise_project_id: eps,
                host_ids: ids.into_iter().collect(),
                node_selector: None,
                node_host_id_from: None,
                credentials_secret_ref: Some(CredentialsSecretRef {
                    name: labels.join("."),
                }),
                workload_identity: None,
                interval: interval.map(|(n, unit)| format!("{n}{unit}")),
                suspend,
            },
        )
}

/// Anything at all in every field.
fn any_spec() -> impl Strategy<Value = HostRiskWatchSpec> {
    (
        any::<String>(),
        prop::option::of(any::<String>()),
        prop::option::of(any::<String>()),
        prop::option::of(any::<String>()),
        prop::collection::vec(any::<String>(), 0..20),
        any::<String>(),
        prop::option::of(any::<String>()),
        any::<bool>(),
    )
        .prop_map(
            |(project, region, endpoint, eps, ids, secret, interval, suspend)| HostRiskWatchSpec {
                project_id: project,
                region,
                endpoint,
                enterprise_project_id: eps,
                host_ids: ids.into(),
                node_selector: None,
                node_host_id_from: None,
                credentials_secret_ref: Some(CredentialsSecretRef { name: secret }),
                workload_identity: None,
                interval,
                suspend,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every spec within the schema's bounds is accepted, resolved to an https endpoint, and
    /// keeps its ids in order.
    #[test]
    fn valid_specs_are_accepted(spec in valid_spec()) {
        let validated = validate_spec(&spec, &policy());
        let validated = validated.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(validated.endpoint.scheme(), "https");
        prop_assert_eq!(&validated.host_ids, &spec.host_ids);
        prop_assert!(validated.interval >= policy().min_interval);
        prop_assert_eq!(validated.suspend, spec.suspend);
    }

    /// No input panics; every refusal names a spec field and carries a message with a fix
    /// (a `:` or `;` separated explanation).
    #[test]
    fn arbitrary_specs_never_panic_and_errors_name_the_field(spec in any_spec()) {
        if let Err(errors) = validate_spec(&spec, &policy()) {
            prop_assert!(!errors.is_empty());
            for e in errors {
                prop_assert!(e.field.starts_with("spec."), "{:?}", e);
                prop_assert!(!e.message.is_empty());
            }
        }
    }

    /// Small edits of a valid spec: never a panic, and a valid result is always within bounds.
    #[test]
    fn mutated_specs_stay_within_bounds(
        spec in valid_spec(),
        dup in any::<bool>(),
        extra in "[ -~]{0,80}",
    ) {
        let mut spec = spec;
        if dup {
            let first = spec.host_ids.get(0).unwrap_or_default().to_string();
            spec.host_ids.push(first);
        }
        spec.host_ids.push(extra);
        if let Ok(v) = validate_spec(&spec, &policy()) {
            let unique: std::collections::BTreeSet<_> = v.host_ids.iter().collect();
            prop_assert_eq!(unique.len(), v.host_ids.len());
            prop_assert!(v.host_ids.iter().all(|id| (1..=64).contains(&id.chars().count())));
            prop_assert!(v.host_ids.len() <= 1000);
        }
    }

    /// Signing is a pure function of its inputs, and its Authorization header parses back.
    #[test]
    fn sign_is_deterministic_and_parses_back(
        access_key in "[A-Z0-9]{8,32}",
        secret_key in prop::collection::vec(any::<u8>(), 1..64),
        pairs in prop::collection::vec(("[ -~]{0,12}", any::<String>()), 0..6),
        path in "(/[A-Za-z0-9._~-]{1,12}){1,4}",
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let query = canonical_query(&pairs);
        let date = "20260101T000000Z";
        let headers = vec![
            ("Host".to_string(), "hss.example.com".to_string()),
            (SDK_DATE_HEADER.to_string(), date.to_string()),
        ];
        let request = SigningRequest {
            method: "GET",
            wire_path: &path,
            canonical_query: &query,
            headers: &headers,
            body: &body,
        };
        let a = sign(&access_key, &secret_key, date, &request);
        let b = sign(&access_key, &secret_key, date, &request);
        prop_assert!(a == b, "same inputs, same signature");
        let parsed = parse_authorization(&a.authorization).expect("own header parses");
        prop_assert_eq!(&parsed.access_key, &access_key);
        prop_assert_eq!(&parsed.signature, &a.signature);
        prop_assert_eq!(parsed.signed_headers.join(";"), a.signed_headers.clone());
        prop_assert_eq!(a.signature.len(), 64);

        // Changing the secret, the date, the body or the path changes the signature.
        let mut other_key = secret_key.clone();
        other_key[0] ^= 1;
        prop_assert_ne!(&sign(&access_key, &other_key, date, &request).signature, &a.signature);
        let later = "20260101T000001Z";
        let later_headers = vec![
            ("Host".to_string(), "hss.example.com".to_string()),
            (SDK_DATE_HEADER.to_string(), later.to_string()),
        ];
        let moved = SigningRequest { headers: &later_headers, ..request.clone() };
        prop_assert_ne!(&sign(&access_key, &secret_key, later, &moved).signature, &a.signature);
        let mut other_body = body.clone();
        other_body.push(0);
        let fed = SigningRequest { body: &other_body, ..request.clone() };
        prop_assert_ne!(&sign(&access_key, &secret_key, date, &fed).signature, &a.signature);
        let other_path = format!("{path}/x");
        let elsewhere = SigningRequest { wire_path: &other_path, ..request.clone() };
        prop_assert_ne!(&sign(&access_key, &secret_key, date, &elsewhere).signature, &a.signature);
    }
}
