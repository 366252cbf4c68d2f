//! The id-token exchange `POST /v3.0/OS-AUTH/id-token/tokens` over HTTP: a ServiceAccount
//! shaped JWT from the test issuer becomes an IAM token HSS accepts, and every way a token
//! or provider can be wrong is refused with IAM's status and error body, counted by reason.

use std::sync::OnceLock;

use hostrisk_sim::hss::{IdentityProviderConfig, TestIssuer};
use serde_json::{json, Value};

use super::support::*;
use super::*;

pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
pub const CLIENT_ID: &str = "hss-simulator";
pub const IDP: &str = "cce-cluster-1";
const GROUP: &str = "hss-readers";

/// One key per test binary: generating RSA keys takes a moment.
pub fn issuer() -> &'static TestIssuer {
    static ISSUER_KEY: OnceLock<TestIssuer> = OnceLock::new();
    ISSUER_KEY.get_or_init(|| TestIssuer::generate(ISSUER).expect("key"))
}

/// Same issuer name, another key: what a forged or foreign token looks like.
fn impostor() -> &'static TestIssuer {
    static IMPOSTOR_KEY: OnceLock<TestIssuer> = OnceLock::new();
    IMPOSTOR_KEY.get_or_init(|| TestIssuer::generate(ISSUER).expect("key"))
}

pub fn idp_config() -> IdentityProviderConfig {
    IdentityProviderConfig::new(IDP, ISSUER, CLIENT_ID, issuer().jwks())
        .with_rule("system:serviceaccount:team-a:*", GROUP)
}

pub async fn sim_with_idp() -> HssSimulator {
    start(SimConfig {
        identity_providers: vec![idp_config()],
        ..unlimited()
    })
    .await
}

fn claims() -> Value {
    issuer().service_account_claims("team-a", "reader", CLIENT_ID, Duration::from_secs(600))
}

fn signed(claims: &Value) -> String {
    issuer().sign(claims).expect("signed")
}

pub async fn exchange(
    sim: &HssSimulator,
    idp: Option<&str>,
    jwt: &str,
    project: Value,
) -> reqwest::Response {
    let url = sim
        .iam_url()
        .join("v3.0/OS-AUTH/id-token/tokens")
        .expect("url");
    let mut request = reqwest::Client::new().post(url).json(&json!({
        "auth": {"id_token": {"id": jwt}, "scope": {"project": project}}
    }));
    if let Some(idp) = idp {
        request = request.header("X-Idp-Id", idp);
    }
    request.send().await.expect("sent")
}

fn project() -> Value {
    json!({"id": DEMO_PROJECT_ID})
}

#[tokio::test]
async fn a_service_account_token_becomes_an_iam_token_hss_accepts() {
    let sim = sim_with_idp().await;
    let jwt = signed(&claims());
    let response = exchange(&sim, Some(IDP), &jwt, project()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_request_id(&response);
    let token = response.headers()["x-subject-token"]
        .to_str()
        .expect("ascii")
        .to_string();
    let body: Value = response.json().await.expect("json");
    let expires: Timestamp = body["token"]["expires_at"]
        .as_str()
        .expect("expires_at")
        .parse()
        .expect("RFC 3339");
    assert!(expires.duration_since(Timestamp::now()) > SignedDuration::from_hours(23));
    assert_eq!(body["token"]["methods"], json!(["mapped"]));
    let federation = &body["token"]["user"]["OS-FEDERATION"];
    assert_eq!(federation["identity_provider"]["id"], IDP);
    assert_eq!(federation["groups"][0]["name"], GROUP);
    assert_eq!(body["token"]["project"]["id"], DEMO_PROJECT_ID);
    assert!(!body.to_string().contains(&jwt));

    let answer = ok_body(with_token(&sim, &token, &["demo-web-01"]).await).await;
    assert_eq!(ids_of(&answer), ["demo-web-01"]);
    let identity = format!("idtoken:{IDP}/system:serviceaccount:team-a:reader");
    assert_eq!(sim.counters().calls_by(&identity), 1);
    // What was exchanged for what, for tests that search logs for them.
    assert_eq!(sim.received_id_tokens(), vec![jwt.clone()]);
    assert_eq!(
        sim.issued_tokens(&format!("idtoken:{IDP}/")),
        vec![token.clone()]
    );
    assert!(sim.issued_tokens("token:").is_empty());

    // Exchanged tokens expire like any other IAM token.
    assert_eq!(sim.expire_tokens(), 1);
    let expired = with_token(&sim, &token, &["demo-web-01"]).await;
    assert_error(expired, StatusCode::UNAUTHORIZED, "APIGW.0307").await;
    let counters = sim.counters();
    assert_eq!(counters.id_token_exchanges, 1);
    assert_eq!(counters.total_refusals(), 0);
}

#[tokio::test]
async fn leeway_kidless_tokens_project_names_and_user_overrides() {
    let sim = sim_with_idp().await;
    // Expired 10 s ago: within the 30 s leeway.
    let mut recent = claims();
    recent["exp"] = json!(Timestamp::now().as_second() - 10);
    let response = exchange(&sim, Some(IDP), &signed(&recent), project()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // No kid: the provider's only key is used.
    let kidless = issuer().sign_with_kid(&claims(), None).expect("signed");
    let by_name = json!({"name": hostrisk_sim::hss::DEMO_PROJECT_NAME});
    let response = exchange(&sim, Some(IDP), &kidless, by_name).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // A rule may name the federated user.
    let mut idp = idp_config();
    idp.rules[0].user = Some("team-a-bot".into());
    sim.set_identity_provider(idp).await.expect("configured");
    let response = exchange(&sim, Some(IDP), &signed(&claims()), project()).await;
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token"]["user"]["name"], "team-a-bot");
    assert_eq!(sim.counters().id_token_exchanges, 3);
}

struct Row {
    name: &'static str,
    idp: Option<&'static str>,
    jwt: String,
    project: Value,
    status: StatusCode,
    reason: &'static str,
}

fn row(name: &'static str, jwt: String, status: u16, reason: &'static str) -> Row {
    Row {
        name,
        idp: Some(IDP),
        jwt,
        project: project(),
        status: StatusCode::from_u16(status).expect("status"),
        reason,
    }
}

fn with(change: impl FnOnce(&mut Value)) -> String {
    let mut c = claims();
    change(&mut c);
    signed(&c)
}

fn refusal_rows() -> Vec<Row> {
    let now = Timestamp::now().as_second();
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(b"public key bytes used as an HMAC secret"),
    )
    .expect("signed");
    vec![
        row(
            "bad signature",
            impostor()
                .sign_with_kid(&claims(), Some(issuer().kid()))
                .expect("signed"),
            401,
            "bad_signature",
        ),
        row(
            "wrong kid",
            issuer()
                .sign_with_kid(&claims(), Some("no-such-kid"))
                .expect("signed"),
            401,
            "unknown_kid",
        ),
        row(
            "wrong iss",
            with(|c| c["iss"] = json!("https://other.example")),
            401,
            "wrong_issuer",
        ),
        row(
            "wrong aud",
            with(|c| c["aud"] = json!(["sts.amazonaws.com"])),
            401,
            "wrong_audience",
        ),
        row(
            "expired",
            with(|c| {
                c["iat"] = json!(now - 1200);
                c["nbf"] = json!(now - 1200);
                c["exp"] = json!(now - 600);
            }),
            401,
            "expired",
        ),
        row(
            "nbf in the future",
            with(|c| c["nbf"] = json!(now + 600)),
            401,
            "not_yet_valid",
        ),
        row(
            "unmapped subject",
            with(|c| c["sub"] = json!("system:serviceaccount:team-b:reader")),
            403,
            "unmapped_subject",
        ),
        row(
            "no sub",
            with(|c| {
                c.as_object_mut().expect("object").remove("sub");
            }),
            401,
            "missing_claim",
        ),
        row("not a JWT", "not-a-jwt".into(), 401, "malformed_token"),
        row("HS256", hs256, 401, "unsupported_algorithm"),
        Row {
            idp: Some("no-such-idp"),
            ..row(
                "unknown IdP",
                signed(&claims()),
                404,
                "unknown_identity_provider",
            )
        },
        Row {
            idp: None,
            ..row("no X-Idp-Id", signed(&claims()), 400, "malformed_request")
        },
        Row {
            project: json!({"id": "another-project"}),
            ..row("other project", signed(&claims()), 400, "unknown_project")
        },
    ]
}

/// Checks an IAM refusal: status, request id, both error body shapes, no token in it.
pub async fn assert_refused(response: reqwest::Response, status: StatusCode, jwt: &str) -> String {
    assert_eq!(response.status(), status);
    let request_id = assert_request_id(&response);
    let text = response.text().await.expect("body");
    assert!(!text.contains(jwt), "the refusal echoes the token: {text}");
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["error"]["code"], json!(status.as_u16()));
    assert!(body["error"]["title"].is_string());
    assert_eq!(body["request_id"], json!(request_id));
    body["error"]["message"]
        .as_str()
        .expect("message")
        .to_string()
}

#[tokio::test]
async fn every_refusal_has_its_status_message_and_counter() {
    let sim = sim_with_idp().await;
    let rows = refusal_rows();
    for row in &rows {
        let response = exchange(&sim, row.idp, &row.jwt, row.project.clone()).await;
        assert!(
            response.headers().get("x-subject-token").is_none(),
            "{}",
            row.name
        );
        let message = assert_refused(response, row.status, &row.jwt).await;
        assert!(!message.is_empty(), "{}", row.name);
        assert_eq!(sim.counters().refusals(row.reason), 1, "{}", row.name);
    }
    let counters = sim.counters();
    assert_eq!(counters.total_refusals(), rows.len() as u64);
    assert_eq!(counters.id_token_exchanges, 0);
    // Nothing was issued: there is nothing to expire.
    assert_eq!(sim.expire_tokens(), 0);

    // A disabled provider refuses even a perfect token; enabled again, it accepts it.
    let jwt = signed(&claims());
    assert!(sim.set_identity_provider_enabled(IDP, false));
    let message = assert_refused(
        exchange(&sim, Some(IDP), &jwt, project()).await,
        StatusCode::FORBIDDEN,
        &jwt,
    )
    .await;
    assert!(message.contains("disabled"), "{message}");
    assert_eq!(sim.counters().refusals("identity_provider_disabled"), 1);
    assert!(sim.set_identity_provider_enabled(IDP, true));
    let response = exchange(&sim, Some(IDP), &jwt, project()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_simulator_clock_decides_token_expiry() {
    let sim = sim_with_idp().await;
    let jwt = signed(&claims());
    // Ten minutes tokens; the simulated clock twenty minutes ahead.
    sim.update_faults(|f| f.clock_offset_seconds = 1200)
        .expect("faults");
    let response = exchange(&sim, Some(IDP), &jwt, project()).await;
    assert_refused(response, StatusCode::UNAUTHORIZED, &jwt).await;
    assert_eq!(sim.counters().refusals("expired"), 1);
}
