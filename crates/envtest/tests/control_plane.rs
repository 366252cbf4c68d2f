//! The harness against the real binaries: each test skips (one SKIP line) without
//! KUBEBUILDER_ASSETS and must pass with it.

use std::path::Path;
use std::time::{Duration, Instant};

use hostrisk_envtest::{create_namespace, ControlPlane, EnvtestError, Options};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::Api;
use serde_json::json;

async fn start(test: &str, options: Options) -> Option<ControlPlane> {
    match ControlPlane::start_from_env(test, options).await {
        Ok(plane) => plane,
        Err(error) => {
            panic!("KUBEBUILDER_ASSETS is set but the control plane did not start: {error}")
        }
    }
}

fn object<K: serde::de::DeserializeOwned>(value: serde_json::Value) -> K {
    serde_json::from_value(value).unwrap()
}

async fn create_service_account(client: &kube::Client, namespace: &str, name: &str) {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    accounts
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": name}})),
        )
        .await
        .unwrap();
}

fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

#[tokio::test]
async fn rbac_is_on_and_token_requests_give_service_account_identities() {
    let Some(plane) = start(
        "rbac_is_on_and_token_requests_give_service_account_identities",
        Options::default(),
    )
    .await
    else {
        return;
    };
    assert!(plane.version().starts_with("v1."), "{}", plane.version());
    assert!(plane.server_url().starts_with("https://127.0.0.1:"));
    assert!(plane.ca_pem().contains("BEGIN CERTIFICATE"));
    let admin = plane.client();
    let ready = admin
        .request_text(http::Request::get("/readyz").body(Vec::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(ready, "ok");

    // The admin is system:masters.
    let whoami: SelfSubjectReview = Api::all(admin.clone())
        .create(&PostParams::default(), &object(json!({})))
        .await
        .unwrap();
    let admin_user = whoami.status.unwrap().user_info.unwrap();
    assert!(
        admin_user
            .groups
            .unwrap_or_default()
            .contains(&"system:masters".to_string()),
        "admin identity"
    );

    let namespace = create_namespace(&admin, "rbac").await.unwrap();
    create_service_account(&admin, &namespace, "reader").await;
    let token = plane
        .service_account_token(&namespace, "reader", &[], 600)
        .await
        .unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT");
    let header = token.split('.').next().unwrap();
    let header = String::from_utf8(base64url(header)).unwrap();
    assert!(header.contains("\"RS256\""), "signed RS256: {header}");

    // Its identity is the ServiceAccount's.
    let as_sa = plane.client_for_token(&token).await.unwrap();
    let review: SelfSubjectReview = Api::all(as_sa.clone())
        .create(&PostParams::default(), &object(json!({})))
        .await
        .unwrap();
    let user = review.status.unwrap().user_info.unwrap();
    assert_eq!(
        user.username.as_deref(),
        Some(format!("system:serviceaccount:{namespace}:reader").as_str())
    );

    // Without a binding: 403 on listing Secrets, through the client and through the kubeconfig file.
    let secrets: Api<Secret> = Api::namespaced(as_sa.clone(), &namespace);
    let denied = secrets.list(&ListParams::default()).await.unwrap_err();
    assert_eq!(status_code(&denied), Some(403), "{denied}");
    let path = plane
        .write_kubeconfig_for_token(&token, "reader.kubeconfig")
        .unwrap();
    assert!(path.starts_with(plane.dir()));
    let config = kube::Config::from_custom_kubeconfig(
        Kubeconfig::read_from(&path).unwrap(),
        &KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let from_file = kube::Client::try_from(config).unwrap();
    let denied = Api::<Secret>::namespaced(from_file.clone(), &namespace)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(status_code(&denied), Some(403), "{denied}");

    // With a Role and RoleBinding: allowed, so the 403 was RBAC and not a broken token.
    Api::<Role>::namespaced(admin.clone(), &namespace)
        .create(
            &PostParams::default(),
            &object(json!({
                "metadata": {"name": "read-secrets"},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]
            })),
        )
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), &namespace)
        .create(
            &PostParams::default(),
            &object(json!({
                "metadata": {"name": "read-secrets"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-secrets"},
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}]
            })),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Api::<Secret>::namespaced(from_file.clone(), &namespace)
            .list(&ListParams::default())
            .await
        {
            Ok(_) => break,
            Err(error) => {
                assert!(Instant::now() < deadline, "binding not effective: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    plane.stop().await;
}

fn base64url(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.bytes() {
        let value = ALPHABET.iter().position(|&c| c == byte).unwrap() as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

#[tokio::test]
async fn restart_keeps_data_and_the_same_url() {
    let Some(mut plane) = start("restart_keeps_data_and_the_same_url", Options::default()).await
    else {
        return;
    };
    let client = plane.client();
    let namespace = create_namespace(&client, "restart").await.unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    maps.create(
        &PostParams::default(),
        &object(json!({"metadata": {"name": "kept"}, "data": {"k": "v"}})),
    )
    .await
    .unwrap();
    let url = plane.server_url().to_string();
    let started = Instant::now();
    plane.restart().await.unwrap();
    eprintln!("restart took {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(plane.server_url(), url);
    // The client made before the restart works again against the same URL.
    let kept = maps.get("kept").await.unwrap();
    assert_eq!(kept.data.unwrap()["k"], "v");
    plane.stop().await;
}

#[tokio::test]
async fn audit_log_records_user_verb_object_code_and_user_agent() {
    let Some(plane) = start(
        "audit_log_records_user_verb_object_code_and_user_agent",
        Options {
            audit_log: true,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let admin = plane.client();
    let namespace = create_namespace(&admin, "audit").await.unwrap();
    create_service_account(&admin, &namespace, "nobody").await;
    let token = plane
        .service_account_token(&namespace, "nobody", &[], 600)
        .await
        .unwrap();
    let nobody = plane.client_for_token(&token).await.unwrap();
    let _ = Api::<Secret>::namespaced(nobody, &namespace)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    Api::<ConfigMap>::namespaced(admin.clone(), &namespace)
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "audited"}})),
        )
        .await
        .unwrap();

    let events = plane.audit_events().unwrap();
    assert!(events.iter().all(|e| e.stage == "ResponseComplete"));
    let created = events
        .iter()
        .find(|e| e.verb == "create" && e.resource() == "configmaps" && e.name() == Some("audited"))
        .unwrap_or_else(|| panic!("no create configmaps/audited in {} events", events.len()));
    assert_eq!(created.namespace(), Some(namespace.as_str()));
    assert_eq!(created.code(), 201);
    assert_eq!(created.user_agent.as_deref(), Some("hostrisk-envtest"));
    assert!(created.request_received_timestamp.is_some());
    let token_request = events
        .iter()
        .find(|e| e.resource() == "serviceaccounts/token")
        .expect("the TokenRequest is audited");
    assert_eq!(token_request.verb, "create");
    let forbidden = events
        .iter()
        .find(|e| e.username() == format!("system:serviceaccount:{namespace}:nobody"))
        .expect("the ServiceAccount's request is audited");
    assert_eq!(
        (
            forbidden.verb.as_str(),
            forbidden.resource().as_str(),
            forbidden.code()
        ),
        ("list", "secrets", 403),
        "{}",
        forbidden.summary()
    );
    assert_eq!(
        forbidden.user_agent.as_deref(),
        Some("hostrisk-envtest (token)")
    );
    plane.stop().await;
}

#[tokio::test]
async fn two_control_planes_run_at_once_and_leave_nothing_behind() {
    let (a, b) = tokio::join!(
        start(
            "two_control_planes_run_at_once_and_leave_nothing_behind",
            Options::default()
        ),
        start(
            "two_control_planes_run_at_once_and_leave_nothing_behind",
            Options::default()
        ),
    );
    let (Some(a), Some(b)) = (a, b) else {
        return;
    };
    assert_ne!(a.server_url(), b.server_url());
    assert_ne!(a.dir(), b.dir());
    let in_a: Api<ConfigMap> = Api::namespaced(a.client(), "default");
    in_a.create(
        &PostParams::default(),
        &object(json!({"metadata": {"name": "only-in-a"}})),
    )
    .await
    .unwrap();
    let in_b: Api<ConfigMap> = Api::namespaced(b.client(), "default");
    assert!(in_b.get_opt("only-in-a").await.unwrap().is_none());
    assert!(in_a.get_opt("only-in-a").await.unwrap().is_some());

    // Drop (no explicit stop): processes gone, directory removed.
    let (dir_a, url_a) = (a.dir().to_path_buf(), a.server_url().to_string());
    assert!(dir_a.join("pki/ca.crt").exists());
    drop(a);
    assert!(!dir_a.exists(), "{} left behind", dir_a.display());
    assert!(
        !listening(&url_a),
        "kube-apiserver still listening on {url_a}"
    );
    // b is untouched by a's end.
    assert!(in_b.list(&ListParams::default()).await.is_ok());
    let dir_b = b.dir().to_path_buf();
    b.stop().await;
    assert!(!dir_b.exists());
}

#[test]
fn a_panicking_test_still_stops_its_control_plane() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None::<(std::path::PathBuf, String)>));
    let record = seen.clone();
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let Some(plane) = start(
                "a_panicking_test_still_stops_its_control_plane",
                Options::default(),
            )
            .await
            else {
                return;
            };
            *record.lock().unwrap() =
                Some((plane.dir().to_path_buf(), plane.server_url().to_string()));
            panic!("deliberate panic with a running control plane");
        });
    })
    .join();
    let Some((dir, url)) = seen.lock().unwrap().clone() else {
        return; // skipped
    };
    assert!(outcome.is_err(), "the thread panicked");
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(!listening(&url));
}

#[tokio::test]
async fn unusable_assets_are_an_error_not_a_skip() {
    let missing =
        ControlPlane::start(Path::new("/nonexistent/envtest-assets"), Options::default()).await;
    match missing {
        Err(EnvtestError::Assets { problem, .. }) => {
            assert!(problem.contains("kube-apiserver"), "{problem}")
        }
        other => panic!("expected an assets error, got {other:?}"),
    }
}

fn listening(url: &str) -> bool {
    let address = url.trim_start_matches("https://");
    std::net::TcpStream::connect_timeout(&address.parse().unwrap(), Duration::from_millis(300))
        .is_ok()
}
