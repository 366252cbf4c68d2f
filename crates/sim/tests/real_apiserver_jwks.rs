//! The simulated IAM against a real kube-apiserver (crates/envtest: skips with one SKIP line
//! without `KUBEBUILDER_ASSETS`, must pass with it).
//!
//! The identity provider is registered the way an administrator registers a cluster: the
//! issuer from `/.well-known/openid-configuration`, the keys fetched once from
//! `<apiserver>/openid/v1/jwks` over HTTPS with the cluster's CA and a ServiceAccount bearer
//! token (readable through the default `system:service-account-issuer-discovery` binding).
//! Then real ServiceAccount tokens from the TokenRequest API are exchanged by the real client:
//! the right audience reaches HSS, another audience and an unmapped ServiceAccount are
//! refused, and a missing ServiceAccount is the source's own error. `TokenRequestSource` is
//! the shape the operator's `IdTokenSource` takes.

use std::sync::Arc;
use std::time::Duration;

use hostrisk_envtest::{create_namespace, ControlPlane, Options};
use hostrisk_hss::{
    ClientConfig, Credentials, HssClient, HssError, IdTokenError, IdTokenFuture, IdTokenSource,
    Scope, Secret,
};
use hostrisk_sim::hss::{
    service_account_subject, HssSimulator, IdentityProviderConfig, JwksSource, JwksUrl, SimConfig,
    DEMO_PROJECT_ID,
};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use serde_json::json;

const AUDIENCE: &str = "hostrisk-sim-e2e";
const IDP: &str = "envtest-cluster";

/// ServiceAccount tokens from the TokenRequest API, minted on demand.
struct TokenRequestSource {
    accounts: Api<ServiceAccount>,
    namespace: String,
    name: String,
    audience: String,
}

impl TokenRequestSource {
    async fn mint(&self) -> Result<String, IdTokenError> {
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec![self.audience.clone()],
                expiration_seconds: Some(600),
                bound_object_ref: None,
            },
            ..TokenRequest::default()
        };
        let answer = self
            .accounts
            .create_token_request(&self.name, &PostParams::default(), &request)
            .await
            .map_err(|e| match e {
                kube::Error::Api(status) if status.code == 404 => IdTokenError::permanent(
                    "ServiceAccountNotFound",
                    format!(
                        "ServiceAccount {}/{} not found: create it",
                        self.namespace, self.name
                    ),
                ),
                other => IdTokenError::transient("TokenRequestFailed", other.to_string()),
            })?;
        answer
            .status
            .map(|s| s.token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| IdTokenError::transient("TokenRequestFailed", "no token in the answer"))
    }
}

impl IdTokenSource for TokenRequestSource {
    fn id_token(&self) -> IdTokenFuture<'_> {
        Box::pin(async move { self.mint().await.map(Secret::new) })
    }

    fn describe(&self) -> String {
        format!(
            "serviceaccount {}/{} audience={}",
            self.namespace, self.name, self.audience
        )
    }
}

async fn create_account(client: &kube::Client, namespace: &str, name: &str) {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("object");
    accounts
        .create(&PostParams::default(), &account)
        .await
        .expect("ServiceAccount created");
}

#[tokio::test]
async fn real_service_account_tokens_are_exchanged_with_keys_fetched_from_the_api_server() {
    let plane = match ControlPlane::start_from_env(
        "real_service_account_tokens_are_exchanged_with_keys_fetched_from_the_api_server",
        Options::default(),
    )
    .await
    {
        Ok(Some(plane)) => plane,
        Ok(None) => return,
        Err(error) => {
            panic!("KUBEBUILDER_ASSETS is set but the control plane did not start: {error}")
        }
    };
    let admin = plane.client();
    let namespace = create_namespace(&admin, "hss-wi").await.expect("namespace");
    for name in ["reader", "jwks-reader", "other"] {
        create_account(&admin, &namespace, name).await;
    }

    let discovery = admin
        .request_text(
            http::Request::get("/.well-known/openid-configuration")
                .body(Vec::new())
                .expect("request"),
        )
        .await
        .expect("discovery document");
    let discovery: serde_json::Value = serde_json::from_str(&discovery).expect("json");
    let issuer = discovery["issuer"].as_str().expect("issuer").to_string();
    // The API server's own audience: what the JWKS endpoint accepts as bearer.
    let reader = plane
        .service_account_token(&namespace, "jwks-reader", &[], 600)
        .await
        .expect("reader token");
    let jwks = JwksUrl {
        ca_pem: Some(plane.ca_pem().to_string()),
        bearer_token: Some(reader),
        ..JwksUrl::new(format!(
            "{}/openid/v1/jwks",
            plane.server_url().trim_end_matches('/')
        ))
    };
    let mapped = service_account_subject(&namespace, "reader");
    let mut idp = IdentityProviderConfig::new(IDP, issuer, AUDIENCE, json!({}))
        .with_rule(mapped.clone(), "hss-readers");
    idp.jwks = JwksSource::Url(jwks);
    let sim = HssSimulator::start(SimConfig {
        identity_providers: vec![idp],
        ..SimConfig::default()
    })
    .await
    .expect("simulator with the keys of the API server");

    let hss = HssClient::new(ClientConfig {
        calls_per_minute: 1000,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(50),
        ..ClientConfig::default()
    })
    .expect("client");
    let scope = Scope::for_endpoint(sim.base_url(), DEMO_PROJECT_ID, None).expect("scope");
    let credentials = |name: &str, audience: &str| Credentials::IdToken {
        source: Arc::new(TokenRequestSource {
            accounts: Api::namespaced(admin.clone(), &namespace),
            namespace: namespace.clone(),
            name: name.into(),
            audience: audience.into(),
        }),
        identity_provider_id: IDP.into(),
        subject: service_account_subject(&namespace, name),
        iam_endpoint: sim.iam_url(),
    };

    let result = hss
        .list_hosts_risk(&scope, &credentials("reader", AUDIENCE), &["demo-web-01"])
        .await
        .expect("a real ServiceAccount token is exchanged");
    assert_eq!(result.hosts.len(), 1);
    let counters = sim.counters();
    assert_eq!(counters.id_token_exchanges, 1);
    assert_eq!(counters.calls_by(&format!("idtoken:{IDP}/{mapped}")), 1);

    let refusal = |audience: &'static str, name: &'static str| {
        let creds = credentials(name, audience);
        let hss = hss.clone();
        let scope = scope.clone();
        async move {
            hss.list_hosts_risk(&scope, &creds, &["demo-web-01"])
                .await
                .expect_err("refused")
        }
    };
    let err = refusal("some-other-audience", "reader").await;
    assert_eq!(err.reason(), "IdentityExchangeRefused", "{err}");
    assert_eq!(sim.counters().refusals("wrong_audience"), 1);
    let err = refusal(AUDIENCE, "other").await;
    assert_eq!(err.reason(), "IdentityExchangeRefused", "{err}");
    assert_eq!(sim.counters().refusals("unmapped_subject"), 1);
    let err = refusal(AUDIENCE, "missing").await;
    assert!(matches!(err, HssError::IdTokenSource { .. }), "{err:?}");
    assert_eq!(err.reason(), "ServiceAccountNotFound");
    assert_eq!(
        sim.counters().total_refusals(),
        2,
        "nothing sent for a missing account"
    );
    plane.stop().await;
}
