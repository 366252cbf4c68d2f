//! Keyless credentials (spec.workloadIdentity) end to end on the stand-in world: the operator mints
//! ServiceAccount tokens with the stand-in's TokenRequest API (RS256, its key published at
//! /openid/v1/jwks), the simulator's IAM verifies them against that key set and exchanges them
//! for IAM tokens, and HSS answers with those. The same rows run against a real kube-apiserver in
//! tests/real_apiserver/workload_identity.rs.

#[path = "support/controller_harness/mod.rs"]
mod harness;

use std::time::Duration;

use harness::{condition_is, is_synced, Harness, Options, NS};
use hostrisk_operator::controller::WorkloadIdentityPolicy;
use hostrisk_sim::hss::oidc::{IdentityProviderConfig, JwksSource, JwksUrl};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::PostParams;
use kube::Api;
use serde_json::json;

const IDP: &str = "cce-oidc";
const AUDIENCE: &str = "hss-client";
const ISSUER: &str = "https://kubernetes.default.svc";

fn options() -> Options {
    Options {
        iam_via_simulator: true,
        workload_identity: WorkloadIdentityPolicy {
            audiences: vec![AUDIENCE.into()],
            identity_providers: vec![IDP.into()],
        },
        ..Options::controller()
    }
}

/// The identity provider an administrator registers: the stand-in's issuer and keys, the
/// audience, and a rule mapping the ServiceAccounts of `NS` to a group.
async fn register_identity_provider(h: &Harness, rule_subject: &str) {
    let jwks = JwksSource::Url(JwksUrl::new(format!("{}/openid/v1/jwks", h.kube.url())));
    let mut idp = IdentityProviderConfig::new(IDP, ISSUER, AUDIENCE, json!({"keys": []}));
    idp.jwks = jwks;
    h.sim
        .set_identity_provider(idp.with_rule(rule_subject, "hss-readers"))
        .await
        .expect("identity provider");
}

async fn create_service_account(h: &Harness, name: &str) {
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<ServiceAccount>::namespaced(h.client.clone(), NS)
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
}

async fn create_keyless_watch(h: &Harness, name: &str, account: &str, audience: &str) {
    h.create_watch_json(
        NS,
        json!({
            "apiVersion": "hostrisk.io/v1alpha1",
            "kind": "HostRiskWatch",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "projectId": hostrisk_sim::hss::DEMO_PROJECT_ID,
                "endpoint": h.endpoint(),
                "hostIds": ["demo-web-01", "demo-db-01"],
                "workloadIdentity": {
                    "serviceAccountName": account,
                    "identityProviderId": IDP,
                    "audience": audience,
                },
                "interval": "1h",
            }
        }),
    )
    .await;
}

#[tokio::test]
async fn a_keyless_watch_polls_as_its_namespaces_service_account() {
    let h = Harness::start(options()).await;
    register_identity_provider(&h, &format!("system:serviceaccount:{NS}:*")).await;
    create_service_account(&h, "hss-reader").await;
    create_keyless_watch(&h, "keyless", "hss-reader", AUDIENCE).await;
    create_keyless_watch(&h, "keyless-2", "hss-reader", AUDIENCE).await;
    let ready = h.wait_for(NS, "keyless", "Ready", is_synced).await;
    assert_eq!(ready.status.unwrap().hosts.len(), 2);
    h.wait_for(NS, "keyless-2", "Ready", is_synced).await;
    let counters = h.sim.counters();
    assert_eq!(
        counters.id_token_exchanges, 1,
        "one exchange serves both watches of the ServiceAccount"
    );
    // The two watches of one identity share one poller group (one quota).
    let stats = h.poller_stats();
    assert_eq!(stats.groups.len(), 1, "{stats:?}");
    assert!(stats.groups.keys().all(|g| g
        .identity
        .contains("system:serviceaccount:default:hss-reader")));

    // An IAM token that expires mid-run leads to exactly one new exchange.
    assert!(h.sim.expire_tokens() >= 1);
    h.request_refresh(NS, "keyless", "after-expiry").await;
    h.wait_for(NS, "keyless", "polled again", |w, s| {
        is_synced(w, s) && h.sim.counters().id_token_exchanges >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.sim.counters().id_token_exchanges, 2);
    assert_eq!(h.sim.counters().id_token_refusals.values().sum::<u64>(), 0);
    h.stop().await;
}

#[tokio::test]
async fn every_refusal_is_a_credentials_condition_naming_the_fix() {
    let h = Harness::start(options()).await;
    register_identity_provider(&h, &format!("system:serviceaccount:{NS}:mapped")).await;
    create_service_account(&h, "mapped").await;
    create_service_account(&h, "unmapped").await;

    // No such ServiceAccount.
    create_keyless_watch(&h, "no-account", "nobody", AUDIENCE).await;
    // An audience the administrator did not allow: refused before any token is minted.
    create_keyless_watch(&h, "other-audience", "mapped", "someone-else").await;
    // A ServiceAccount the identity provider maps to nothing.
    create_keyless_watch(&h, "unmapped", "unmapped", AUDIENCE).await;
    let credentials_false = |reason: &'static str| {
        move |_: &hostrisk_operator::crd::HostRiskWatch,
              s: &hostrisk_operator::crd::HostRiskWatchStatus| {
            condition_is(s, "CredentialsValid", "False", reason)
        }
    };
    let message = |watch: hostrisk_operator::crd::HostRiskWatch| {
        watch
            .status
            .unwrap()
            .conditions
            .into_iter()
            .find(|c| c.type_ == "CredentialsValid")
            .unwrap()
            .message
    };
    let missing = h
        .wait_for(
            NS,
            "no-account",
            "ServiceAccountNotFound",
            credentials_false("ServiceAccountNotFound"),
        )
        .await;
    assert!(message(missing).contains("\"nobody\""));
    let audience = h
        .wait_for(
            NS,
            "other-audience",
            "AudienceNotAllowed",
            credentials_false("AudienceNotAllowed"),
        )
        .await;
    assert!(
        message(audience).contains("allowed: hss-client"),
        "the message names what is allowed"
    );
    let unmapped = h
        .wait_for(
            NS,
            "unmapped",
            "IdentityExchangeRefused",
            credentials_false("IdentityExchangeRefused"),
        )
        .await;
    assert!(!message(unmapped).is_empty());

    // A refused exchange is not retried in a loop: a few seconds later, at most a handful.
    let refusals = h.sim.counters().id_token_refusals.values().sum::<u64>();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = h.sim.counters().id_token_refusals.values().sum::<u64>();
    assert!(
        later <= refusals + 1,
        "refusals went from {refusals} to {later} in 3 s"
    );

    // A disabled identity provider refuses a mapped account too.
    assert!(h.sim.set_identity_provider_enabled(IDP, false));
    create_keyless_watch(&h, "disabled", "mapped", AUDIENCE).await;
    h.wait_for(
        NS,
        "disabled",
        "IdentityExchangeRefused",
        credentials_false("IdentityExchangeRefused"),
    )
    .await;
    h.stop().await;
}
