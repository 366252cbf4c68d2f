//! Tenancy: a HostRiskWatch reaches only a Secret of its own namespace, whatever the spelling of
//! the reference, and only official Huawei Cloud endpoints plus `--allowed-endpoints`; anything
//! else is never contacted (a local listener counts every connection, and must count zero).

#[path = "support/controller_harness/mod.rs"]
mod harness;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hostrisk_sim::hss::{
    DEMO_PROJECT_ID, DEMO_SECURITY_TOKEN, DEMO_STATIC_TOKEN, DEMO_TEMP_ACCESS_KEY,
    DEMO_TEMP_SECRET_KEY,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::PostParams;
use kube::Api;
use serde_json::json;

use harness::{condition, Harness, Options, CRD_YAML, NS};

/// Spellings that try to name a Secret of another namespace (or anything but a plain name).
const FOREIGN_REFERENCES: &[&str] = &[
    "other/creds",
    "/other/creds",
    "other/secrets/creds",
    "namespaces/other/secrets/creds",
    "/api/v1/namespaces/other/secrets/creds",
    "../other/creds",
    "./creds",
    "creds/../../other/creds",
    "other%2Fcreds",
    "other%2fcreds",
    "other\\creds",
    "other:creds",
    "other.creds",
    "creds.other",
    "creds.other.svc",
    "creds?namespace=other",
    "creds#other",
    "creds;namespace=other",
    "creds namespace=other",
    " creds",
    "creds ",
    "CREDS",
    "Creds",
    "creds\u{0}other",
    "créds",
    "other／creds",
    "",
];

async fn create_namespace(h: &Harness, name: &str) {
    let namespaces: Api<Namespace> = Api::all(h.client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    // The stand-in may not need namespaces created first; an AlreadyExists is fine too.
    let _ = namespaces.create(&PostParams::default(), &ns).await;
}

fn watch_doc(name: &str, secret: &str, endpoint: &str) -> serde_json::Value {
    json!({
        "apiVersion": "hostrisk.io/v1alpha1",
        "kind": "HostRiskWatch",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "projectId": DEMO_PROJECT_ID,
            "endpoint": endpoint,
            "hostIds": ["demo-web-01"],
            "credentialsSecretRef": {"name": secret},
            "interval": "1s",
        }
    })
}

#[tokio::test]
async fn a_secret_reference_cannot_leave_the_namespace_by_any_spelling() {
    let h = Harness::start(Options::faults()).await;
    create_namespace(&h, "other").await;
    // Valid credentials exist only in the other namespace; this namespace has none at all.
    h.create_secret(
        "other",
        "creds",
        &[
            ("accessKey", DEMO_TEMP_ACCESS_KEY),
            ("secretKey", DEMO_TEMP_SECRET_KEY),
            ("securityToken", DEMO_SECURITY_TOKEN),
        ],
    )
    .await;
    let endpoint = h.endpoint();
    let mut names = Vec::new();
    for (i, reference) in FOREIGN_REFERENCES.iter().enumerate() {
        let name = format!("ref-{i}");
        h.create_watch_json(NS, watch_doc(&name, reference, &endpoint))
            .await;
        names.push((name, *reference));
    }
    for (name, reference) in &names {
        let watch = h
            .wait_for(NS, name, "refusal", |_, s| {
                condition(s, "Ready").is_some_and(|c| c.status == "False")
            })
            .await;
        let status = watch.status.unwrap();
        let ready = condition(&status, "Ready").unwrap();
        assert!(
            matches!(ready.reason.as_str(), "InvalidSpec" | "SecretNotFound"),
            "{reference:?}: {ready:?}"
        );
        if ready.reason == "InvalidSpec" {
            assert!(
                ready.message.contains("spec.credentialsSecretRef.name"),
                "{reference:?}: names the field: {}",
                ready.message
            );
        }
        assert!(status.hosts.is_empty(), "{reference:?}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        h.sim.counters().total_requests,
        0,
        "no credentials of another namespace were used to call HSS"
    );
    h.stop().await;
}

/// The CRD schema refuses every foreign spelling too: there is no namespace field, and the
/// `pattern` admits DNS-1123 subdomains only (checked here by mirroring the pattern).
#[test]
fn crd_schema_allows_only_plain_secret_names() {
    let crd: serde_yaml::Value = serde_yaml::from_str(CRD_YAML).unwrap();
    let reference = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"]["credentialsSecretRef"];
    let properties = reference["properties"].as_mapping().expect("properties");
    assert_eq!(properties.len(), 1, "only `name`, no namespace field");
    let name = &reference["properties"]["name"];
    assert_eq!(
        name["pattern"].as_str(),
        Some(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    );
    assert_eq!(name["maxLength"].as_u64(), Some(253));
    for reference in FOREIGN_REFERENCES {
        let plain = !reference.is_empty()
            && reference.split('.').all(|label| {
                let b = label.as_bytes();
                !b.is_empty()
                    && b.iter()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                    && b[0] != b'-'
                    && b[b.len() - 1] != b'-'
            });
        // Only dotted names pass the pattern, and those are names in the watch's own namespace
        // (a Secret may be called `other.creds`; it is not `creds` of `other`).
        let separator = reference.contains(['/', '\\', '%', ' ', '?', '#', ';', ':', '\0']);
        if separator || reference.is_empty() || !reference.is_ascii() {
            assert!(!plain, "{reference:?} passes the name pattern");
        }
        if plain {
            assert!(reference.contains('.'), "{reference:?}");
        }
    }
}

/// Counts TCP connections to a local address that stands for "a host a namespace user
/// controls".
async fn counting_listener() -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (addr.to_string(), count)
}

#[tokio::test]
async fn only_official_and_allowed_endpoints_are_ever_called() {
    let (trap, connections) = counting_listener().await;
    let port = trap.rsplit(':').next().unwrap().to_string();
    // The operator allows the simulator and one https prefix on the trap's port, path /allowed.
    let h = Harness::start(Options {
        extra_allowed: vec![format!("https://127.0.0.1:{port}/allowed")],
        ..Options::faults()
    })
    .await;
    h.create_secret(NS, "token", &[("authToken", DEMO_STATIC_TOKEN)])
        .await;
    let sim = h.endpoint();
    let sim_authority = sim
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let endpoints = vec![
        format!("http://{trap}/"),
        format!("https://{trap}/"),
        format!("http://localhost:{port}/"),
        format!("HTTP://127.0.0.1:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f.0.0.1:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://user:pw@127.0.0.1:{port}/"),
        format!("https://hss.ap-southeast-1.myhuaweicloud.com@127.0.0.1:{port}/"),
        format!("http://127.0.0.1:{port}/#hss.ap-southeast-1.myhuaweicloud.com"),
        format!("http://127.0.0.1:{port}/?h=hss.ap-southeast-1.myhuaweicloud.com"),
        format!("https://127.0.0.1:{port}/allowedx"),
        format!("https://127.0.0.1:{port}/other/allowed"),
        format!("http://127.0.0.1:{port}/allowed"),
        format!("https://127.0.0.1:{port}/allowed/../../"),
        format!("http://{sim_authority}.127.0.0.1:{port}/"),
        format!("http://{sim_authority}@127.0.0.1:{port}/"),
        format!("ftp://127.0.0.1:{port}/"),
        format!("//127.0.0.1:{port}/"),
        format!("127.0.0.1:{port}"),
        "file:///etc/passwd".to_string(),
    ];
    let mut names = Vec::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        let name = format!("ep-{i}");
        h.create_watch_json(NS, watch_doc(&name, "token", endpoint))
            .await;
        names.push((name, endpoint.clone()));
    }
    // A watch on the allowed simulator works as usual: the operator is polling while the trap
    // stays silent.
    h.create_watch_json(NS, watch_doc("allowed", "token", &sim))
        .await;
    h.wait_for(NS, "allowed", "Ready", harness::is_ready).await;
    for (name, endpoint) in &names {
        let watch = h
            .wait_for(NS, name, "refusal", |_, s| {
                condition(s, "Ready").is_some_and(|c| c.status == "False")
            })
            .await;
        let status = watch.status.unwrap();
        let ready = condition(&status, "Ready").unwrap();
        eprintln!("{endpoint}: {} {}", ready.reason, ready.message);
        assert!(
            matches!(ready.reason.as_str(), "EndpointNotAllowed" | "InvalidSpec"),
            "{endpoint}: {ready:?}"
        );
        assert!(ready.message.contains("spec.endpoint"), "{}", ready.message);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the operator connected to an endpoint it must not call"
    );
    h.stop().await;
}

#[tokio::test]
async fn an_allowed_https_prefix_is_called() {
    // The positive control for the trap: an allowed https prefix on the trap's port IS
    // contacted (the TLS handshake then fails against a plain listener), so a zero count above
    // means "not called", not "not countable".
    let (trap, connections) = counting_listener().await;
    let h = Harness::start(Options {
        extra_allowed: vec![format!("https://{trap}/allowed")],
        ..Options::faults()
    })
    .await;
    h.create_secret(NS, "token", &[("authToken", DEMO_STATIC_TOKEN)])
        .await;
    h.create_watch_json(
        NS,
        watch_doc("inside", "token", &format!("https://{trap}/allowed/v5")),
    )
    .await;
    harness::eventually(
        Duration::from_secs(10),
        "the allowed prefix is called",
        || async { connections.load(Ordering::SeqCst) > 0 },
    )
    .await;
    h.stop().await;
}
