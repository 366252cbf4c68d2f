//! Opt-in: the simulated IAM against a real kube-apiserver. Set `HOSTRISK_E2E_KUBECONFIG` to
//! a kubeconfig (kind, k3d, minikube...) whose user may create ServiceAccount tokens in the
//! `default` namespace; otherwise the test prints a skip message and passes.
//!
//! The identity provider is configured the way an administrator registers a cluster: issuer
//! from `/.well-known/openid-configuration`, keys fetched from `<apiserver>/openid/v1/jwks`
//! over HTTPS with the cluster's CA and a ServiceAccount bearer token (readable through the
//! default `system:service-account-issuer-discovery` binding). Then real ServiceAccount
//! tokens, minted with the TokenRequest API, are exchanged: the right audience is accepted,
//! HSS answers with the IAM token, another audience is refused. The `IdTokenSource` here is
//! the shape the operator's implementation takes.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hostrisk_hss::{
    ClientConfig, Credentials, HssClient, IdTokenError, IdTokenFuture, IdTokenSource, Scope, Secret,
};
use hostrisk_sim::hss::{
    HssSimulator, IdentityProviderConfig, JwksSource, JwksUrl, SimConfig, DEMO_PROJECT_ID,
};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

const ENV: &str = "HOSTRISK_E2E_KUBECONFIG";
const AUDIENCE: &str = "hostrisk-sim-e2e";
const IDP: &str = "e2e-cluster";
const SUBJECT: &str = "system:serviceaccount:default:default";

/// ServiceAccount tokens from the TokenRequest API.
struct TokenRequestSource {
    accounts: Api<ServiceAccount>,
    name: String,
    audience: String,
}

impl TokenRequestSource {
    async fn mint(&self) -> Result<String, IdTokenError> {
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec![self.audience.clone()],
                expiration_seconds: Some(600),
                ..TokenRequestSpec::default()
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
                    format!("ServiceAccount {} not found", self.name),
                ),
                other => IdTokenError::transient("TokenRequestFailed", other.to_string()),
            })?;
        answer
            .status
            .map(|s| s.token)
            .ok_or_else(|| IdTokenError::transient("TokenRequestFailed", "no token in the answer"))
    }
}

impl IdTokenSource for TokenRequestSource {
    fn id_token(&self) -> IdTokenFuture<'_> {
        Box::pin(async move { self.mint().await.map(Secret::new) })
    }

    fn describe(&self) -> String {
        format!(
            "serviceaccount default/{} audience={}",
            self.name, self.audience
        )
    }
}

fn pem_of(der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[tokio::test]
async fn real_service_account_tokens_are_exchanged_with_keys_fetched_from_the_api_server() {
    let Ok(path) = std::env::var(ENV) else {
        eprintln!("skipped: set {ENV} to a kubeconfig to run against a real API server");
        return;
    };
    let kubeconfig = Kubeconfig::read_from(&path).expect("readable kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("usable kubeconfig");
    let cluster_url = config.cluster_url.to_string();
    let ca_pem: Option<String> = config
        .root_cert
        .as_ref()
        .map(|certs| certs.iter().map(|der| pem_of(der)).collect());
    let client = kube::Client::try_from(config).expect("client");

    let discovery = client
        .request_text(
            http::Request::get("/.well-known/openid-configuration")
                .body(Vec::new())
                .expect("request"),
        )
        .await
        .expect("discovery document");
    let discovery: serde_json::Value = serde_json::from_str(&discovery).expect("json");
    let issuer = discovery["issuer"].as_str().expect("issuer").to_string();

    let accounts: Api<ServiceAccount> = Api::namespaced(client, "default");
    let source = |audience: &str| TokenRequestSource {
        accounts: accounts.clone(),
        name: "default".into(),
        audience: audience.into(),
    };
    // Any ServiceAccount may read the JWKS; the API server's own audience is the default.
    let reader = TokenRequest {
        spec: TokenRequestSpec::default(),
        ..TokenRequest::default()
    };
    let reader = accounts
        .create_token_request("default", &PostParams::default(), &reader)
        .await
        .expect("reader token")
        .status
        .expect("status")
        .token;
    let jwks = JwksUrl {
        ca_pem,
        bearer_token: Some(reader),
        ..JwksUrl::new(format!(
            "{}/openid/v1/jwks",
            cluster_url.trim_end_matches('/')
        ))
    };
    let mut idp = IdentityProviderConfig::new(IDP, issuer, AUDIENCE, serde_json::json!({}))
        .with_rule(SUBJECT, "hss-readers");
    idp.jwks = JwksSource::Url(jwks);
    let sim = HssSimulator::start(SimConfig {
        identity_providers: vec![idp],
        ..SimConfig::default()
    })
    .await
    .expect("simulator with keys from the API server");

    let hss = HssClient::new(ClientConfig {
        calls_per_minute: 1000,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(50),
        ..ClientConfig::default()
    })
    .expect("client");
    let scope = Scope::for_endpoint(sim.base_url(), DEMO_PROJECT_ID, None).expect("scope");
    let credentials = |audience: &str| Credentials::IdToken {
        source: Arc::new(source(audience)),
        identity_provider_id: IDP.into(),
        subject: SUBJECT.into(),
        iam_endpoint: sim.iam_url(),
    };
    let result = hss
        .list_hosts_risk(&scope, &credentials(AUDIENCE), &["demo-web-01"])
        .await
        .expect("a real ServiceAccount token is exchanged");
    assert_eq!(result.hosts.len(), 1);
    assert_eq!(sim.counters().id_token_exchanges, 1);

    let err = hss
        .list_hosts_risk(
            &scope,
            &credentials("some-other-audience"),
            &["demo-web-01"],
        )
        .await
        .expect_err("another audience is refused");
    assert_eq!(err.reason(), "IdentityExchangeRefused");
    assert_eq!(sim.counters().refusals("wrong_audience"), 1);
}
