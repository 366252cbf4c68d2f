//! Keyless credentials (spec.workloadIdentity) against a real kube-apiserver, which signs real
//! ServiceAccount tokens (`--service-account-issuer=https://kubernetes.default.svc`). The
//! simulator's IAM is set up the way an administrator registers a cluster: the issuer from
//! `/.well-known/openid-configuration`, the keys fetched from `<server>/openid/v1/jwks` over
//! HTTPS with the control plane's CA and a ServiceAccount bearer token (the default
//! `system:service-account-issuer-discovery` binding lets any ServiceAccount read them).
//!
//! Rows: the happy path with two watches of one ServiceAccount sharing one poller group and one
//! exchange, an expired IAM token leading to exactly one new exchange, every refusal as its
//! CredentialsValid reason, and the chart's RBAC with `workloadIdentity.enabled` (true: the
//! operator binary as the chart's ServiceAccount, no 403 in the audit log, cluster-wide and
//! with watchNamespaces; false: TokenRequestForbidden).

use std::sync::Arc;
use std::time::Duration;

use hostrisk_envtest::{create_namespace, ControlPlane};
use hostrisk_operator::controller::{
    run_controllers, Context, ControllerSettings, WorkloadIdentityPolicy,
};
use hostrisk_operator::crd::validation::ValidationPolicy;
use hostrisk_operator::crd::{HostRiskWatch, HostRiskWatchStatus};
use hostrisk_operator::hss::{ClientConfig, HssClient};
use hostrisk_sim::hss::{
    service_account_subject, HssSimulator, IdentityProviderConfig, JwksSource, JwksUrl, TestIssuer,
    DEMO_PROJECT_ID,
};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::PostParams;
use kube::Api;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::e2e_story::{condition_is, is_ready, refresh, simulator, wait_for};
use crate::least_privilege::{assert_no_403, deploy_until, Deployed, Wait};
use crate::support::*;

const IDP: &str = "envtest-cluster";
/// Same issuer and client id as [`IDP`], another key under the API server's key id: the
/// operator's tokens fail its signature check.
const FOREIGN_IDP: &str = "envtest-foreign-keys";
/// Same as [`IDP`] but disabled.
const DISABLED_IDP: &str = "envtest-disabled";
const AUDIENCE: &str = "hss-client";
/// The issuer crates/envtest starts kube-apiserver with.
const ISSUER: &str = "https://kubernetes.default.svc";
const GROUP: &str = "hss-readers";

async fn create_account(client: &kube::Client, namespace: &str, name: &str) {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    accounts
        .create(&PostParams::default(), &account)
        .await
        .unwrap_or_else(|e| panic!("creating ServiceAccount {namespace}/{name}: {e}"));
}

async fn get_raw(client: &kube::Client, path: &str) -> Value {
    let text = client
        .request_text(http::Request::get(path).body(Vec::new()).unwrap())
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The identity provider an administrator registers for the control plane: its issuer (read
/// from discovery) and its keys at `/openid/v1/jwks`, fetched by the simulator over HTTPS as a
/// ServiceAccount of `default`; `subjects` are mapped to [`GROUP`].
async fn cluster_identity_provider(
    plane: &ControlPlane,
    id: &str,
    subjects: &[String],
) -> IdentityProviderConfig {
    let admin = plane.client();
    let discovery = get_raw(&admin, "/.well-known/openid-configuration").await;
    assert_eq!(discovery["issuer"], ISSUER, "{discovery}");
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
    if accounts.get_opt("jwks-reader").await.unwrap().is_none() {
        create_account(&admin, "default", "jwks-reader").await;
    }
    let reader = plane
        .service_account_token("default", "jwks-reader", &[], 3600)
        .await
        .unwrap();
    let mut idp = IdentityProviderConfig::new(id, ISSUER, AUDIENCE, json!({}));
    for subject in subjects {
        idp = idp.with_rule(subject.clone(), GROUP);
    }
    idp.jwks = JwksSource::Url(JwksUrl {
        ca_pem: Some(plane.ca_pem().to_string()),
        bearer_token: Some(reader),
        ..JwksUrl::new(format!(
            "{}/openid/v1/jwks",
            plane.server_url().trim_end_matches('/')
        ))
    });
    idp
}

/// [`IDP`] with another RSA key published under the API server's key id.
async fn foreign_key_provider(plane: &ControlPlane, subjects: &[String]) -> IdentityProviderConfig {
    let published = get_raw(&plane.client(), "/openid/v1/jwks").await;
    let kid = published["keys"][0]["kid"].clone();
    assert!(
        kid.is_string(),
        "the API server's key has a kid: {published}"
    );
    let mut keys = TestIssuer::generate(ISSUER).unwrap().jwks();
    keys["keys"][0]["kid"] = kid;
    let mut idp = IdentityProviderConfig::new(FOREIGN_IDP, ISSUER, AUDIENCE, keys);
    for subject in subjects {
        idp = idp.with_rule(subject.clone(), GROUP);
    }
    idp
}

fn keyless_watch(
    name: &str,
    sim: &HssSimulator,
    account: &str,
    idp: &str,
    audience: &str,
) -> HostRiskWatch {
    serde_json::from_value(json!({
        "apiVersion": "hostrisk.io/v1alpha1",
        "kind": "HostRiskWatch",
        "metadata": {"name": name},
        "spec": {
            "projectId": DEMO_PROJECT_ID,
            "endpoint": sim.base_url().to_string(),
            "hostIds": ["demo-web-01", "demo-db-01"],
            "workloadIdentity": {
                "serviceAccountName": account,
                "identityProviderId": idp,
                "audience": audience,
            },
            "interval": "1h",
        }
    }))
    .unwrap()
}

async fn create_watch(client: &kube::Client, namespace: &str, watch: &HostRiskWatch) {
    Api::<HostRiskWatch>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), watch)
        .await
        .unwrap_or_else(|e| panic!("creating watch {namespace}/{:?}: {e}", watch.metadata.name));
}

fn credentials_false(
    reason: &'static str,
) -> impl Fn(&HostRiskWatch, &HostRiskWatchStatus) -> bool {
    move |_, s| condition_is(s, "CredentialsValid", "False", reason)
}

fn credentials_message(watch: &HostRiskWatch) -> String {
    watch
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "CredentialsValid")
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// The in-process controller for one namespace, allowed [`AUDIENCE`] and `providers`, its IAM
/// the simulator.
struct Controller {
    ctx: Arc<Context>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), hostrisk_operator::controller::RunError>>,
}

impl Controller {
    fn start(
        client: &kube::Client,
        sim: &HssSimulator,
        namespace: &str,
        providers: &[&str],
    ) -> Self {
        let hss = HssClient::new(ClientConfig {
            calls_per_minute: 1000,
            ..ClientConfig::default()
        })
        .unwrap();
        let settings = ControllerSettings {
            policy: ValidationPolicy {
                allowed_endpoint_prefixes: vec![sim.base_url().to_string()],
                ..ValidationPolicy::default()
            },
            instance: "keyless".into(),
            iam_endpoint: Some(sim.iam_url()),
            workload_identity: WorkloadIdentityPolicy {
                audiences: vec![AUDIENCE.into()],
                identity_providers: providers.iter().map(|p| p.to_string()).collect(),
            },
            ..ControllerSettings::default()
        };
        let ctx = Arc::new(Context::new(client.clone(), hss, settings));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_controllers(
            ctx.clone(),
            vec![namespace.to_string()],
            shutdown.clone(),
        ));
        Controller {
            ctx,
            shutdown,
            task,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn real_service_account_tokens_poll_hss_and_one_identity_shares_one_exchange() {
    let test = "real_service_account_tokens_poll_hss_and_one_identity_shares_one_exchange";
    let Some(plane) = cluster(test, false).await else {
        return;
    };
    let admin = plane.client();
    let namespace = create_namespace(&admin, "keyless").await.unwrap();
    create_account(&admin, &namespace, "hss-reader").await;
    let subject = service_account_subject(&namespace, "hss-reader");
    let sim = simulator().await;
    sim.set_identity_provider(
        cluster_identity_provider(&plane, IDP, std::slice::from_ref(&subject)).await,
    )
    .await
    .expect("the simulator fetched the API server's keys");
    let controller = Controller::start(&admin, &sim, &namespace, &[IDP]);
    let watches: Api<HostRiskWatch> = Api::namespaced(admin.clone(), &namespace);
    for name in ["keyless", "keyless-2"] {
        create_watch(
            &admin,
            &namespace,
            &keyless_watch(name, &sim, "hss-reader", IDP, AUDIENCE),
        )
        .await;
    }
    let ready = wait_for(&watches, "keyless", "Ready", is_ready).await;
    assert_eq!(ready.status.unwrap().hosts.len(), 2, "data from HSS");
    wait_for(&watches, "keyless-2", "Ready", is_ready).await;

    // One identity: one exchange, one poller group, HSS called as the mapped subject.
    let counters = sim.counters();
    assert_eq!(counters.id_token_exchanges, 1, "{counters:?}");
    assert_eq!(counters.total_refusals(), 0, "{counters:?}");
    assert!(
        counters.calls_by(&format!("idtoken:{IDP}/{subject}")) >= 1,
        "{counters:?}"
    );
    let stats = controller
        .ctx
        .watches
        .poller()
        .expect("poller")
        .handle()
        .stats();
    assert_eq!(stats.groups.len(), 1, "{stats:?}");
    assert!(
        stats.groups.keys().all(|g| g.identity.contains(&subject)),
        "{stats:?}"
    );

    // The IAM token expires mid-run: the next poll mints a new ServiceAccount token and
    // exchanges it once, and nothing more.
    assert!(sim.expire_tokens() >= 1);
    let before = sim.counters();
    refresh(&watches, "keyless", "after-expiry").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = sim.counters();
        if now.id_token_exchanges >= 2 && now.hss_successes > before.hss_successes {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no poll with a new IAM token: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for(&watches, "keyless", "Ready", is_ready).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counters = sim.counters();
    assert_eq!(counters.id_token_exchanges, 2, "{counters:?}");
    assert_eq!(counters.total_refusals(), 0, "{counters:?}");
    let expired = |c: &hostrisk_sim::hss::SimCounters| c.auth_failures.values().sum::<u64>();
    assert!(
        expired(&counters) > expired(&before),
        "HSS refused the expired IAM token first: {counters:?}"
    );

    controller.stop().await;
    sim.shutdown().await;
    plane.stop().await;
}

#[tokio::test]
async fn every_refusal_on_a_real_api_server_is_its_credentials_condition() {
    let test = "every_refusal_on_a_real_api_server_is_its_credentials_condition";
    let Some(plane) = cluster(test, false).await else {
        return;
    };
    let admin = plane.client();
    let namespace = create_namespace(&admin, "refused").await.unwrap();
    for account in ["mapped", "unmapped"] {
        create_account(&admin, &namespace, account).await;
    }
    let mapped = vec![service_account_subject(&namespace, "mapped")];
    let sim = simulator().await;
    sim.set_identity_provider(cluster_identity_provider(&plane, IDP, &mapped).await)
        .await
        .unwrap();
    let mut disabled = cluster_identity_provider(&plane, DISABLED_IDP, &mapped).await;
    disabled.enabled = false;
    sim.set_identity_provider(disabled).await.unwrap();
    sim.set_identity_provider(foreign_key_provider(&plane, &mapped).await)
        .await
        .unwrap();
    let controller = Controller::start(&admin, &sim, &namespace, &[IDP, FOREIGN_IDP, DISABLED_IDP]);
    let watches: Api<HostRiskWatch> = Api::namespaced(admin.clone(), &namespace);
    let rows = [
        (
            "no-account",
            "nobody",
            IDP,
            AUDIENCE,
            "ServiceAccountNotFound",
        ),
        (
            "other-audience",
            "mapped",
            IDP,
            "someone-else",
            "AudienceNotAllowed",
        ),
        (
            "unmapped",
            "unmapped",
            IDP,
            AUDIENCE,
            "IdentityExchangeRefused",
        ),
        (
            "idp-disabled",
            "mapped",
            DISABLED_IDP,
            AUDIENCE,
            "IdentityExchangeRefused",
        ),
        (
            "bad-signature",
            "mapped",
            FOREIGN_IDP,
            AUDIENCE,
            "IdentityExchangeRefused",
        ),
    ];
    for (name, account, idp, audience, _) in rows {
        create_watch(
            &admin,
            &namespace,
            &keyless_watch(name, &sim, account, idp, audience),
        )
        .await;
    }
    for (name, _, _, _, reason) in rows {
        let watch = wait_for(&watches, name, reason, credentials_false(reason)).await;
        let status = watch.status.as_ref().unwrap();
        assert!(
            condition_is(status, "Ready", "False", reason),
            "{name}: {status:#?}"
        );
        let message = credentials_message(&watch);
        assert!(!message.is_empty(), "{name}: a message naming the fix");
        eprintln!("{name}: {reason}: {message}");
    }
    let message = |name: &str| {
        let watches = watches.clone();
        let name = name.to_string();
        async move { credentials_message(&watches.get(&name).await.unwrap()) }
    };
    assert!(message("no-account").await.contains("\"nobody\""));
    assert!(message("other-audience")
        .await
        .contains("allowed: hss-client"));
    // IAM said why, per row (the simulator counts its refusals by reason).
    let counters = sim.counters();
    for reason in [
        "unmapped_subject",
        "identity_provider_disabled",
        "bad_signature",
    ] {
        assert!(counters.refusals(reason) >= 1, "{reason}: {counters:?}");
    }
    assert_eq!(counters.id_token_exchanges, 0, "{counters:?}");
    assert_eq!(
        counters.hss_requests, 0,
        "nothing reached HSS: {counters:?}"
    );
    // Refused exchanges are held for the interval, not retried in a loop.
    let refusals = counters.total_refusals();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = sim.counters().total_refusals();
    assert!(
        later <= refusals + 1,
        "refusals went from {refusals} to {later} in 3 s"
    );

    controller.stop().await;
    sim.shutdown().await;
    plane.stop().await;
}

/// Chart values turning keyless credentials on for [`AUDIENCE`] and [`IDP`].
fn keyless_values() -> Value {
    json!({"workloadIdentity": {
        "enabled": true,
        "audiences": [AUDIENCE],
        "identityProviders": [IDP],
    }})
}

/// Registers [`IDP`] for `namespace`'s `hss-reader` with the deployed simulator, creates that
/// ServiceAccount and a keyless watch of it.
async fn keyless_watch_in(deployed: &Deployed, namespace: &str) {
    let client = deployed.plane.client();
    create_account(&client, namespace, "hss-reader").await;
    let mut subjects: Vec<String> = deployed
        .sim
        .identity_providers()
        .into_iter()
        .flat_map(|idp| idp.rules.into_iter().map(|r| r.subject))
        .collect();
    subjects.push(service_account_subject(namespace, "hss-reader"));
    deployed
        .sim
        .set_identity_provider(cluster_identity_provider(&deployed.plane, IDP, &subjects).await)
        .await
        .unwrap();
    create_watch(
        &client,
        namespace,
        &keyless_watch("keyless", &deployed.sim, "hss-reader", IDP, AUDIENCE),
    )
    .await;
}

/// The operator binary as the chart's ServiceAccount with the chart's RBAC for
/// `workloadIdentity.enabled=true` (value set `set`): keyless watches reach Ready in each of
/// `namespaces`, and the audit log shows the TokenRequests and no 403.
async fn chart_rbac_with_workload_identity_is_enough(test: &str, set: &str, namespaces: &[&str]) {
    let Some(mut deployed) = deploy_until(test, set, keyless_values(), |_| {}, Wait::Ready).await
    else {
        return;
    };
    let client = deployed.plane.client();
    for namespace in namespaces {
        if Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
            .get_opt(namespace)
            .await
            .unwrap()
            .is_none()
        {
            create_namespace_named(&client, namespace).await;
        }
        keyless_watch_in(&deployed, namespace).await;
    }
    for namespace in namespaces {
        let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), namespace);
        let ready = wait_for(&watches, "keyless", "Ready", is_ready).await;
        assert_eq!(ready.status.unwrap().hosts.len(), 2);
    }
    assert_eq!(
        deployed.sim.counters().id_token_exchanges,
        namespaces.len() as u64,
        "one exchange per namespace's ServiceAccount"
    );
    assert_eq!(deployed.operator.terminate(), Some(0));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mine = assert_no_403(&deployed);
    for namespace in namespaces {
        assert!(
            mine.iter().any(|e| e.verb == "create"
                && e.resource() == "serviceaccounts/token"
                && e.namespace() == Some(namespace)
                && e.code() == 201),
            "no TokenRequest in {namespace} by {}",
            deployed.user
        );
    }
    deployed.sim.shutdown().await;
    deployed.plane.stop().await;
}

#[tokio::test]
async fn chart_rbac_with_workload_identity_cluster_wide_is_enough() {
    chart_rbac_with_workload_identity_is_enough(
        "chart_rbac_with_workload_identity_cluster_wide_is_enough",
        "defaults",
        &["apps-one", "apps-two"],
    )
    .await;
}

#[tokio::test]
async fn chart_rbac_with_workload_identity_in_watch_namespaces_is_enough() {
    chart_rbac_with_workload_identity_is_enough(
        "chart_rbac_with_workload_identity_in_watch_namespaces_is_enough",
        "namespaced",
        &["team-a", "team-b"],
    )
    .await;
}

/// The operator started for keyless credentials (args of `workloadIdentity.enabled=true`) but
/// bound to the RBAC the chart renders with `workloadIdentity.enabled=false`: the watch says
/// the TokenRequest is forbidden, and names the fix.
#[tokio::test]
async fn without_the_charts_token_rule_a_keyless_watch_says_token_request_forbidden() {
    let without_tokens = rbac_documents(&render_chart(
        "defaults",
        &[&repo().join("tests/chart/values/defaults.yaml")],
    ));
    assert!(
        !serde_json::to_string(&without_tokens)
            .unwrap()
            .contains("serviceaccounts/token"),
        "the chart's RBAC with workloadIdentity.enabled=false has no token rule"
    );
    let Some(mut deployed) = deploy_until(
        "without_the_charts_token_rule_a_keyless_watch_says_token_request_forbidden",
        "defaults",
        keyless_values(),
        |objects| {
            assert!(serde_json::to_string(objects)
                .unwrap()
                .contains("serviceaccounts/token"));
            *objects = without_tokens.clone();
        },
        Wait::Ready,
    )
    .await
    else {
        return;
    };
    let client = deployed.plane.client();
    create_namespace_named(&client, "apps").await;
    keyless_watch_in(&deployed, "apps").await;
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), "apps");
    let watch = wait_for(
        &watches,
        "keyless",
        "TokenRequestForbidden",
        credentials_false("TokenRequestForbidden"),
    )
    .await;
    let message = credentials_message(&watch);
    assert!(
        message.contains("serviceaccounts/token") && message.contains("workloadIdentity.enabled"),
        "{message}"
    );
    assert_eq!(deployed.sim.counters().id_token_exchanges, 0);
    // Held for the interval: a few refused TokenRequests at most, the operator still running.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(deployed.operator.exited().is_none(), "the operator exited");
    assert_eq!(deployed.operator.terminate(), Some(0));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let events = deployed.plane.audit_events().unwrap();
    let refused: Vec<_> = events_of(&events, &deployed.user)
        .into_iter()
        .filter(|e| e.code() == 403)
        .map(|e| e.summary())
        .collect();
    assert!(
        (1..=3).contains(&refused.len())
            && refused
                .iter()
                .all(|s| s.contains("create serviceaccounts/token")),
        "403s: {refused:#?}"
    );
    deployed.sim.shutdown().await;
    deployed.plane.stop().await;
}
