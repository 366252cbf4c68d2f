//! Defense in depth: a HostRiskWatch stored without the schema's checks (the stand-in validates
//! no values, like an API server holding a resource stored before a rule existed) that breaks a
//! bound gets `Ready=False`, reason `InvalidSpec`, a message naming the field and the fix, and
//! no HSS call at all.

#[path = "support/controller_harness/mod.rs"]
mod harness;

use std::time::Duration;

use hostrisk_sim::hss::DEMO_PROJECT_ID;
use serde_json::{json, Value};

use harness::{condition, Harness, Options, NS};

/// One broken bound: the spec fields to set over a valid spec, the field the message must name,
/// and a word of the fix it must give.
struct Case {
    name: &'static str,
    spec: Value,
    field: &'static str,
    fix: &'static str,
}

fn cases() -> Vec<Case> {
    let many: Vec<String> = (0..1001).map(|i| format!("host-{i}")).collect();
    vec![
        Case {
            name: "too-many-ids",
            spec: json!({"hostIds": many}),
            field: "spec.hostIds",
            fix: "split the hosts",
        },
        Case {
            name: "duplicate-ids",
            spec: json!({"hostIds": ["demo-web-01", "demo-web-01"]}),
            field: "spec.hostIds",
            fix: "list each id once",
        },
        Case {
            name: "too-long-id",
            spec: json!({"hostIds": ["x".repeat(65)]}),
            field: "spec.hostIds",
            fix: "64 characters",
        },
        Case {
            name: "empty-id",
            spec: json!({"hostIds": [""]}),
            field: "spec.hostIds",
            fix: "1 to 64",
        },
        Case {
            name: "no-ids",
            spec: json!({"hostIds": []}),
            field: "spec.hostIds",
            fix: "list at least one",
        },
        Case {
            name: "interval-in-ms",
            spec: json!({"interval": "500ms"}),
            field: "spec.interval",
            fix: "write",
        },
        Case {
            name: "interval-below-floor",
            spec: json!({"interval": "0s"}),
            field: "spec.interval",
            fix: "minimum",
        },
        Case {
            name: "interval-garbage",
            spec: json!({"interval": "soon"}),
            field: "spec.interval",
            fix: "write",
        },
        Case {
            name: "interval-overflow",
            spec: json!({"interval": "9999999999h"}),
            field: "spec.interval",
            fix: "write at most",
        },
        Case {
            name: "region-and-endpoint",
            spec: json!({"region": "ap-southeast-1"}),
            field: "spec.region",
            fix: "remove one",
        },
        Case {
            name: "neither-region-nor-endpoint",
            spec: json!({"endpoint": null}),
            field: "spec.region",
            fix: "set spec.region",
        },
        Case {
            name: "bad-region",
            spec: json!({"endpoint": null, "region": "mars-north-1"}),
            field: "spec.region",
            fix: "use one of the regions",
        },
        Case {
            name: "long-project-id",
            spec: json!({"projectId": "p".repeat(257)}),
            field: "spec.projectId",
            fix: "shorten",
        },
        Case {
            name: "empty-project-id",
            spec: json!({"projectId": ""}),
            field: "spec.projectId",
            fix: "set",
        },
        Case {
            name: "long-enterprise-project",
            spec: json!({"enterpriseProjectId": "e".repeat(257)}),
            field: "spec.enterpriseProjectId",
            fix: "shorten",
        },
        Case {
            name: "bad-secret-name",
            spec: json!({"credentialsSecretRef": {"name": "Not_A_Name"}}),
            field: "spec.credentialsSecretRef.name",
            fix: "use 1 to 253",
        },
        Case {
            name: "endpoint-not-a-url",
            spec: json!({"endpoint": "hss endpoint"}),
            field: "spec.endpoint",
            fix: "write e.g.",
        },
        Case {
            name: "endpoint-too-long",
            spec: json!({"endpoint": format!("https://hss.example.com/{}", "a".repeat(2048))}),
            field: "spec.endpoint",
            fix: "characters",
        },
        Case {
            name: "endpoint-with-credentials",
            spec: json!({"endpoint": "https://user:pw@hss.example.com/"}),
            field: "spec.endpoint",
            fix: "credentials belong in the Secret",
        },
    ]
}

fn merge(base: &mut Value, patch: &Value) {
    if let (Some(base), Some(patch)) = (base.as_object_mut(), patch.as_object()) {
        for (k, v) in patch {
            if v.is_null() {
                base.remove(k);
            } else {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

#[tokio::test]
async fn every_bound_is_enforced_again_in_code() {
    let h = Harness::start(Options::faults()).await;
    h.create_demo_secret(NS, "hss-creds").await;
    let endpoint = h.endpoint();
    let cases = cases();
    for case in &cases {
        let mut spec = json!({
            "projectId": DEMO_PROJECT_ID,
            "endpoint": endpoint,
            "hostIds": ["demo-web-01"],
            "credentialsSecretRef": {"name": "hss-creds"},
            "interval": "1s",
        });
        merge(&mut spec, &case.spec);
        h.create_watch_json(
            NS,
            json!({
                "apiVersion": "hostrisk.io/v1alpha1",
                "kind": "HostRiskWatch",
                "metadata": {"name": case.name, "namespace": NS},
                "spec": spec,
            }),
        )
        .await;
    }
    for case in &cases {
        let watch = h
            .wait_for(NS, case.name, "InvalidSpec", |_, s| {
                condition(s, "Ready").is_some_and(|c| c.reason == "InvalidSpec")
            })
            .await;
        let status = watch.status.unwrap();
        let ready = condition(&status, "Ready").unwrap();
        assert_eq!(ready.status, "False", "{}", case.name);
        assert!(
            ready.message.contains(case.field),
            "{}: the message names {}: {}",
            case.name,
            case.field,
            ready.message
        );
        assert!(
            ready.message.contains(case.fix),
            "{}: the message gives the fix ({}): {}",
            case.name,
            case.fix,
            ready.message
        );
        assert_eq!(status.observed_generation, watch.metadata.generation);
        assert!(status.hosts.is_empty());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        h.sim.counters().total_requests,
        0,
        "no HSS call for an invalid spec"
    );
    h.stop().await;
}
