//! The HSS simulator over real HTTP on loopback, driven by hand-built signed requests
//! (the signer from `src/hss/sign.rs`), checking the behaviour it copies from hss-api.md.

use std::time::Duration;

use hostrisk_operator::hss::model::{AgentStatus, ApiErrorBody, ListHostsRiskResponse};
use hostrisk_operator::hss::sign::{self, canonical_query, SigningRequest};
use hostrisk_operator::sim::hss::{
    Faults, FleetSpec, HssSimulator, SimConfig, SimHost, DEMO_ACCESS_KEY,
    DEMO_ENTERPRISE_PROJECT_ID, DEMO_IAM_DOMAIN, DEMO_IAM_PASSWORD, DEMO_IAM_USER, DEMO_PROJECT_ID,
    DEMO_SECRET_KEY, DEMO_SECURITY_TOKEN, DEMO_STATIC_TOKEN, DEMO_TEMP_ACCESS_KEY,
    DEMO_TEMP_SECRET_KEY,
};
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;

/// A request to sign and send; fields left default give a correct demo-key call.
struct Call<'a> {
    project: &'a str,
    /// Pairs that are signed.
    pairs: Vec<(&'a str, &'a str)>,
    /// The query actually sent; `None` = the canonical query of `pairs`.
    wire_query: Option<String>,
    access_key: &'a str,
    secret_key: &'a str,
    date_offset: SignedDuration,
    /// Extra headers, signed.
    signed: Vec<(&'a str, String)>,
    /// Header values replacing the signed ones on the wire.
    sent_instead: Vec<(&'a str, String)>,
}

impl<'a> Call<'a> {
    fn ids(ids: &[&'a str]) -> Self {
        Self {
            project: DEMO_PROJECT_ID,
            pairs: ids.iter().map(|id| ("host_id_list", *id)).collect(),
            wire_query: None,
            access_key: DEMO_ACCESS_KEY,
            secret_key: DEMO_SECRET_KEY,
            date_offset: SignedDuration::ZERO,
            signed: Vec::new(),
            sent_instead: Vec::new(),
        }
    }

    async fn send(&self, sim: &HssSimulator) -> reqwest::Response {
        let base = sim.base_url();
        let authority = format!("127.0.0.1:{}", sim.local_addr().port());
        let path = format!(
            "/v5/{}/host-management/hosts-risk",
            sign::percent_encode(self.project)
        );
        let query = canonical_query(&self.pairs);
        let date = Timestamp::now()
            .checked_add(self.date_offset)
            .expect("date in range")
            .strftime(sign::SDK_DATE_FORMAT)
            .to_string();
        let mut headers = vec![
            ("Host".to_string(), authority),
            ("X-Sdk-Date".to_string(), date.clone()),
        ];
        headers.extend(self.signed.iter().map(|(n, v)| (n.to_string(), v.clone())));
        let parts = sign::sign(
            self.access_key,
            self.secret_key.as_bytes(),
            &date,
            &SigningRequest {
                method: "GET",
                wire_path: &path,
                canonical_query: &query,
                headers: &headers,
                body: b"",
            },
        );
        let wire_query = self.wire_query.clone().unwrap_or(query);
        let url = format!(
            "{}{}?{}",
            base.as_str().trim_end_matches('/'),
            &path,
            wire_query
        );
        let mut request = reqwest::Client::new()
            .get(url)
            .header("Authorization", parts.authorization);
        for (name, value) in headers.iter().filter(|(n, _)| n != "Host") {
            let replaced = self.sent_instead.iter().find(|(n, _)| n == name);
            let value = replaced.map(|(_, v)| v.clone()).unwrap_or(value.clone());
            request = request.header(name.as_str(), value);
        }
        request.send().await.expect("request sent")
    }
}

async fn start(config: SimConfig) -> HssSimulator {
    HssSimulator::start(config).await.expect("simulator starts")
}

/// Demo setup without generated hosts and without quota, so tests may call freely.
fn unlimited() -> SimConfig {
    SimConfig {
        fleet: FleetSpec { hosts: 0, seed: 1 },
        faults: Faults::none(),
        ..SimConfig::default()
    }
}

async fn ok_body(response: reqwest::Response) -> ListHostsRiskResponse {
    assert_eq!(response.status(), StatusCode::OK);
    assert_request_id(&response);
    response.json().await.expect("valid answer")
}

fn assert_request_id(response: &reqwest::Response) -> String {
    let id = response
        .headers()
        .get("x-request-id")
        .expect("X-Request-Id header")
        .to_str()
        .expect("ascii")
        .to_string();
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    id
}

/// Checks status, code, and that the body's request id equals the header's.
async fn assert_error(response: reqwest::Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    let header_id = assert_request_id(&response);
    let body: ApiErrorBody = response.json().await.expect("error body");
    assert_eq!(body.error_code.as_deref(), Some(code));
    assert_eq!(body.request_id.as_deref(), Some(header_id.as_str()));
    body.error_msg.expect("error message")
}

fn ids_of(answer: &ListHostsRiskResponse) -> Vec<String> {
    let list = answer.data_list.as_ref().expect("data_list");
    assert_eq!(answer.total_num, Some(list.len() as u64));
    let mut ids: Vec<String> = list
        .iter()
        .map(|h| h.host_id.clone().expect("host_id"))
        .collect();
    // The order of data_list is undocumented: compare sorted.
    ids.sort();
    ids
}

#[tokio::test]
async fn good_signature_answers_known_ids_and_omits_unknown_ones() {
    let sim = start(unlimited()).await;
    let answer = ok_body(
        Call::ids(&["demo-web-01", "no-such-host", "demo-db-01"])
            .send(&sim)
            .await,
    )
    .await;
    assert_eq!(ids_of(&answer), ["demo-db-01", "demo-web-01"]);
    let list = answer.data_list.expect("list");
    let web = list
        .iter()
        .find(|h| h.host_id.as_deref() == Some("demo-web-01"))
        .expect("web");
    assert_eq!(web, &sim.host("demo-web-01").expect("known").risk);
    assert_eq!(sim.counters().calls_by(&format!("ak:{DEMO_ACCESS_KEY}")), 1);
}

#[tokio::test]
async fn wrong_secret_key_is_401_apigw_0301() {
    let sim = start(unlimited()).await;
    let mut call = Call::ids(&["demo-web-01"]);
    call.secret_key = "not-the-secret";
    assert_error(
        call.send(&sim).await,
        StatusCode::UNAUTHORIZED,
        "APIGW.0301",
    )
    .await;
    let mut call = Call::ids(&["demo-web-01"]);
    call.access_key = "UNKNOWNACCESSKEY0000";
    assert_error(
        call.send(&sim).await,
        StatusCode::UNAUTHORIZED,
        "APIGW.0301",
    )
    .await;
    assert_eq!(sim.counters().auth_failures.get("APIGW.0301"), Some(&2));
    assert!(sim.counters().calls_by_identity.is_empty());
}

#[tokio::test]
async fn quota_answers_429_on_the_sixth_call_in_a_minute() {
    let sim = start(SimConfig::default()).await;
    for _ in 0..5 {
        ok_body(Call::ids(&["demo-web-01"]).send(&sim).await).await;
    }
    let msg = assert_error(
        Call::ids(&["demo-web-01"]).send(&sim).await,
        StatusCode::TOO_MANY_REQUESTS,
        "APIGW.0308",
    )
    .await;
    assert!(msg.contains("limit:5"), "{msg}");
    let identity = format!("ak:{DEMO_ACCESS_KEY}");
    let counters = sim.counters();
    assert_eq!(counters.calls_by(&identity), 6);
    assert_eq!(counters.throttled, 1);
    assert_eq!(counters.throttled_by_identity.get(&identity), Some(&1));
    // Another credential has its own quota.
    let mut other = Call::ids(&["demo-web-01"]);
    other.access_key = DEMO_TEMP_ACCESS_KEY;
    other.secret_key = DEMO_TEMP_SECRET_KEY;
    other.signed = vec![("X-Security-Token", DEMO_SECURITY_TOKEN.to_string())];
    ok_body(other.send(&sim).await).await;
}

#[tokio::test]
async fn temporary_keys_need_their_signed_security_token() {
    let sim = start(unlimited()).await;
    let temp = |token: Option<&str>| {
        let mut call = Call::ids(&["demo-web-01"]);
        call.access_key = DEMO_TEMP_ACCESS_KEY;
        call.secret_key = DEMO_TEMP_SECRET_KEY;
        call.signed = token
            .map(|t| vec![("X-Security-Token", t.to_string())])
            .unwrap_or_default();
        call
    };
    ok_body(temp(Some(DEMO_SECURITY_TOKEN)).send(&sim).await).await;
    for call in [temp(None), temp(Some("another-token"))] {
        assert_error(
            call.send(&sim).await,
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
        )
        .await;
    }
}

#[tokio::test]
async fn query_changed_after_signing_is_401_but_reordering_is_not() {
    let sim = start(unlimited()).await;
    let mut added = Call::ids(&["demo-web-01"]);
    added.wire_query = Some("host_id_list=demo-web-01&host_id_list=demo-db-01".into());
    assert_error(
        added.send(&sim).await,
        StatusCode::UNAUTHORIZED,
        "APIGW.0301",
    )
    .await;
    let mut changed = Call::ids(&["demo-web-01"]);
    changed.wire_query = Some("host_id_list=demo-db-01".into());
    assert_error(
        changed.send(&sim).await,
        StatusCode::UNAUTHORIZED,
        "APIGW.0301",
    )
    .await;
    // The gateway canonicalises what it received: same pairs in another order still verify.
    let mut reordered = Call::ids(&["demo-web-01", "demo-db-01"]);
    reordered.wire_query = Some("host_id_list=demo-web-01&host_id_list=demo-db-01".into());
    let answer = ok_body(reordered.send(&sim).await).await;
    assert_eq!(ids_of(&answer), ["demo-db-01", "demo-web-01"]);
}

#[tokio::test]
async fn signed_header_changed_after_signing_is_401() {
    let sim = start(unlimited()).await;
    let mut call = Call::ids(&["demo-web-01"]);
    call.signed = vec![("X-Project-Id", DEMO_PROJECT_ID.to_string())];
    ok_body(call.send(&sim).await).await;
    call.signed = vec![("X-Trace", "a".to_string())];
    call.sent_instead = vec![("X-Trace", "b".to_string())];
    assert_error(
        call.send(&sim).await,
        StatusCode::UNAUTHORIZED,
        "APIGW.0301",
    )
    .await;
    let mut date = Call::ids(&["demo-web-01"]);
    date.sent_instead = vec![("X-Sdk-Date", "20000101T000000Z".to_string())];
    assert_error(
        date.send(&sim).await,
        StatusCode::UNAUTHORIZED,
        "APIGW.0301",
    )
    .await;
}

#[tokio::test]
async fn dates_more_than_15_minutes_off_are_401_and_14_minutes_pass() {
    let sim = start(unlimited()).await;
    for minutes in [16, -16] {
        let mut call = Call::ids(&["demo-web-01"]);
        call.date_offset = SignedDuration::from_mins(minutes);
        let msg = assert_error(
            call.send(&sim).await,
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
        )
        .await;
        assert!(msg.contains("15 minutes"), "{msg}");
    }
    for minutes in [14, -14] {
        let mut call = Call::ids(&["demo-web-01"]);
        call.date_offset = SignedDuration::from_mins(minutes);
        ok_body(call.send(&sim).await).await;
    }
    // The simulator's own clock can be moved instead.
    sim.update_faults(|f| f.clock_offset_seconds = 20 * 60)
        .expect("valid faults");
    let msg = assert_error(
        Call::ids(&["demo-web-01"]).send(&sim).await,
        StatusCode::UNAUTHORIZED,
        "APIGW.0301",
    )
    .await;
    assert!(msg.contains("15 minutes"), "{msg}");
}

#[tokio::test]
async fn x_project_id_must_match_the_path_and_other_projects_see_nothing() {
    let sim = start(unlimited()).await;
    let mut call = Call::ids(&["demo-web-01"]);
    call.signed = vec![(
        "X-Project-Id",
        "ffffffffffffffffffffffffffffffff".to_string(),
    )];
    assert_error(call.send(&sim).await, StatusCode::FORBIDDEN, "APIGW.0310").await;
    let mut other = Call::ids(&["demo-web-01"]);
    other.project = "ffffffffffffffffffffffffffffffff";
    assert!(ids_of(&ok_body(other.send(&sim).await).await).is_empty());
}

#[tokio::test]
async fn repeated_keys_and_ids_with_commas_and_odd_characters() {
    let sim = start(unlimited()).await;
    let odd = ["a,b", "a", "b", "web server 01", "db/primary+1", "ünï~%&="];
    for id in odd {
        let mut host = sim.host("demo-db-01").expect("demo host");
        host.risk.host_id = Some(id.to_string());
        sim.set_host(host);
    }
    let comma = ok_body(Call::ids(&["a,b"]).send(&sim).await).await;
    assert_eq!(ids_of(&comma), ["a,b"]);
    let pair = ok_body(Call::ids(&["b", "a", "a"]).send(&sim).await).await;
    assert_eq!(ids_of(&pair), ["a", "b"], "duplicates answered once");
    let all = ok_body(Call::ids(&odd).send(&sim).await).await;
    let mut expected: Vec<String> = odd.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(ids_of(&all), expected);
}

#[tokio::test]
async fn missing_or_empty_host_id_list_is_400_hss_0001() {
    let sim = start(unlimited()).await;
    let none = Call::ids(&[]);
    assert_error(none.send(&sim).await, StatusCode::BAD_REQUEST, "HSS.0001").await;
    let mut only_ep = Call::ids(&[]);
    only_ep.pairs = vec![("enterprise_project_id", "all_granted_eps")];
    assert_error(
        only_ep.send(&sim).await,
        StatusCode::BAD_REQUEST,
        "HSS.0001",
    )
    .await;
}

#[tokio::test]
async fn enterprise_project_filtering() {
    let sim = start(unlimited()).await;
    let ids = ["demo-web-01", "demo-ep-01"];
    let default = ok_body(Call::ids(&ids).send(&sim).await).await;
    assert_eq!(ids_of(&default), ["demo-web-01"]);
    let with_ep = |ep: &'static str| {
        let mut call = Call::ids(&ids);
        call.pairs.push(("enterprise_project_id", ep));
        call
    };
    let zero = ok_body(with_ep("0").send(&sim).await).await;
    assert_eq!(ids_of(&zero), ["demo-web-01"]);
    let specific = ok_body(with_ep(DEMO_ENTERPRISE_PROJECT_ID).send(&sim).await).await;
    assert_eq!(ids_of(&specific), ["demo-ep-01"]);
    let all = ok_body(with_ep("all_granted_eps").send(&sim).await).await;
    assert_eq!(ids_of(&all), ["demo-ep-01", "demo-web-01"]);
}

#[tokio::test]
async fn server_error_rate_one_answers_5xx_with_an_error_body() {
    let sim = start(unlimited()).await;
    sim.update_faults(|f| f.error_rate = 1.0)
        .expect("valid faults");
    for _ in 0..6 {
        let response = Call::ids(&["demo-web-01"]).send(&sim).await;
        let status = response.status();
        let code = if status == StatusCode::SERVICE_UNAVAILABLE {
            "APIGW.0203"
        } else {
            "HSS.0004"
        };
        assert!(status.is_server_error(), "{status}");
        assert_error(response, status, code).await;
    }
    let counters = sim.counters();
    assert_eq!(
        counters.injected("server_error_500") + counters.injected("server_error_503"),
        6
    );
    assert_eq!(counters.hss_successes, 0);
}

#[tokio::test]
async fn malformed_and_truncated_bodies() {
    let sim = start(unlimited()).await;
    sim.update_faults(|f| f.malformed_rate = 1.0)
        .expect("valid faults");
    let response = Call::ids(&["demo-web-01"]).send(&sim).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_request_id(&response);
    let body = response.bytes().await.expect("body");
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
    sim.update_faults(|f| {
        f.malformed_rate = 0.0;
        f.truncated_rate = 1.0;
    })
    .expect("valid faults");
    let body = Call::ids(&["demo-web-01"])
        .send(&sim)
        .await
        .bytes()
        .await
        .expect("body");
    assert!(body.starts_with(br#"{"total_num":1,"data_list":[{"host_id":"demo-web-01""#));
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
    let counters = sim.counters();
    assert_eq!(
        (
            counters.injected("malformed"),
            counters.injected("truncated")
        ),
        (1, 1)
    );
}

#[tokio::test]
async fn latency_and_retry_after_when_configured() {
    let mut config = SimConfig::default();
    config.faults.latency_ms = 150;
    config.faults.quota_per_minute = 1;
    config.faults.retry_after_seconds = Some(7);
    let sim = start(config).await;
    let began = std::time::Instant::now();
    ok_body(Call::ids(&["demo-web-01"]).send(&sim).await).await;
    assert!(began.elapsed() >= Duration::from_millis(150));
    let response = Call::ids(&["demo-web-01"]).send(&sim).await;
    assert_eq!(response.headers().get("retry-after").expect("header"), "7");
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "APIGW.0308").await;
}

#[tokio::test]
async fn unknown_api_is_404_apigw_0101() {
    let sim = start(unlimited()).await;
    let url = sim
        .base_url()
        .join("v5/p/host-management/nothing")
        .expect("url");
    let response = reqwest::get(url).await.expect("sent");
    assert_error(response, StatusCode::NOT_FOUND, "APIGW.0101").await;
}

fn token_request(user: &str, password: &str, project: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {
                    "name": user, "password": password, "domain": {"name": DEMO_IAM_DOMAIN}
                }}
            },
            "scope": {"project": project}
        }
    })
}

async fn issue_token(sim: &HssSimulator, body: &serde_json::Value) -> reqwest::Response {
    let url = sim
        .iam_url()
        .join("v3/auth/tokens?nocatalog=true")
        .expect("url");
    reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .expect("sent")
}

async fn with_token(sim: &HssSimulator, token: &str, ids: &[&str]) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = ids.iter().map(|id| ("host_id_list", *id)).collect();
    let url = format!(
        "{}v5/{DEMO_PROJECT_ID}/host-management/hosts-risk?{}",
        sim.base_url(),
        canonical_query(&pairs)
    );
    reqwest::Client::new()
        .get(url)
        .header("X-Auth-Token", token)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn iam_token_flow_expiry_and_refresh() {
    let sim = start(unlimited()).await;
    let wrong = issue_token(
        &sim,
        &token_request(
            DEMO_IAM_USER,
            "wrong",
            serde_json::json!({"id": DEMO_PROJECT_ID}),
        ),
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_request_id(&wrong);
    let good = token_request(
        DEMO_IAM_USER,
        DEMO_IAM_PASSWORD,
        serde_json::json!({"id": DEMO_PROJECT_ID}),
    );
    let response = issue_token(&sim, &good).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let token = response
        .headers()
        .get("x-subject-token")
        .expect("X-Subject-Token")
        .to_str()
        .expect("ascii")
        .to_string();
    let body: serde_json::Value = response.json().await.expect("json");
    let expires: Timestamp = body["token"]["expires_at"]
        .as_str()
        .expect("expires_at")
        .parse()
        .expect("RFC 3339");
    let ttl = expires.duration_since(Timestamp::now());
    assert!(ttl > SignedDuration::from_hours(23) && ttl <= SignedDuration::from_hours(24));
    let answer = ok_body(with_token(&sim, &token, &["demo-web-01"]).await).await;
    assert_eq!(ids_of(&answer), ["demo-web-01"]);
    let identity = format!("token:{DEMO_IAM_USER}@{DEMO_IAM_DOMAIN}");
    assert_eq!(sim.counters().calls_by(&identity), 1);

    assert_eq!(sim.expire_tokens(), 1);
    let expired = with_token(&sim, &token, &["demo-web-01"]).await;
    assert_error(expired, StatusCode::UNAUTHORIZED, "APIGW.0307").await;
    // A fresh token (scoped by project name this time) works again.
    let by_name = token_request(
        DEMO_IAM_USER,
        DEMO_IAM_PASSWORD,
        serde_json::json!({"name": sim_project_name()}),
    );
    let fresh = issue_token(&sim, &by_name).await;
    assert_eq!(fresh.status(), StatusCode::CREATED);
    let fresh = fresh.headers()["x-subject-token"]
        .to_str()
        .expect("ascii")
        .to_string();
    ok_body(with_token(&sim, &fresh, &["demo-web-01"]).await).await;
    // Moving the clock past the lifetime expires it too.
    sim.update_faults(|f| f.clock_offset_seconds = 25 * 3600)
        .expect("valid faults");
    let late = with_token(&sim, &fresh, &["demo-web-01"]).await;
    assert_error(late, StatusCode::UNAUTHORIZED, "APIGW.0307").await;
    let counters = sim.counters();
    assert_eq!((counters.iam_tokens_issued, counters.iam_failures), (2, 1));
}

fn sim_project_name() -> &'static str {
    hostrisk_operator::sim::hss::DEMO_PROJECT_NAME
}

#[tokio::test]
async fn short_token_ttl_expires_on_its_own() {
    let config = SimConfig {
        token_ttl: Duration::from_millis(300),
        ..unlimited()
    };
    let sim = start(config).await;
    let good = token_request(
        DEMO_IAM_USER,
        DEMO_IAM_PASSWORD,
        serde_json::json!({"id": DEMO_PROJECT_ID}),
    );
    let response = issue_token(&sim, &good).await;
    let token = response.headers()["x-subject-token"]
        .to_str()
        .expect("ascii")
        .to_string();
    ok_body(with_token(&sim, &token, &["demo-web-01"]).await).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let expired = with_token(&sim, &token, &["demo-web-01"]).await;
    assert_error(expired, StatusCode::UNAUTHORIZED, "APIGW.0307").await;
}

#[tokio::test]
async fn static_tokens_work_and_unknown_tokens_are_401() {
    let sim = start(unlimited()).await;
    ok_body(with_token(&sim, DEMO_STATIC_TOKEN, &["demo-web-01"]).await).await;
    let unknown = with_token(&sim, "MIIforged", &["demo-web-01"]).await;
    assert_error(unknown, StatusCode::UNAUTHORIZED, "APIGW.0301").await;
    assert_eq!(sim.counters().calls_by("static-token:0"), 1);
}

async fn admin(
    sim: &HssSimulator,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let url = sim.base_url().join(path).expect("url");
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("sent")
}

#[tokio::test]
async fn admin_host_changes_show_in_the_next_answer() {
    use reqwest::Method;
    let sim = start(unlimited()).await;
    let patched = admin(
        &sim,
        Method::PATCH,
        "_sim/hosts/demo-web-01",
        Some(serde_json::json!({"agent_status": "offline", "vulnerability": 9})),
    )
    .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let answer = ok_body(Call::ids(&["demo-web-01"]).send(&sim).await).await;
    let host = &answer.data_list.expect("list")[0];
    assert_eq!(host.agent_status, Some(AgentStatus::Offline));
    assert_eq!(host.vulnerability, Some(9));

    let mut new_host = sim.host("demo-db-01").expect("demo host");
    new_host.risk.host_id = None;
    new_host.enterprise_project_id = "0".into();
    let created = admin(
        &sim,
        Method::PUT,
        "_sim/hosts/brand-new",
        Some(serde_json::to_value(&new_host).expect("json")),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let deleted = admin(&sim, Method::DELETE, "_sim/hosts/demo-web-01", None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let answer = ok_body(Call::ids(&["demo-web-01", "brand-new"]).send(&sim).await).await;
    assert_eq!(ids_of(&answer), ["brand-new"]);

    let missing = admin(&sim, Method::GET, "_sim/hosts/demo-web-01", None).await;
    assert_error(missing, StatusCode::NOT_FOUND, "SIM.0404").await;
    let counters: serde_json::Value = admin(&sim, Method::GET, "_sim/counters", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        counters["calls_by_identity"][format!("ak:{DEMO_ACCESS_KEY}")],
        2
    );
}

#[tokio::test]
async fn admin_faults_switch_at_run_time() {
    use reqwest::Method;
    let sim = start(unlimited()).await;
    let set = admin(
        &sim,
        Method::PATCH,
        "_sim/faults",
        Some(serde_json::json!({"error_rate": 1.0})),
    )
    .await;
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(sim.faults().error_rate, 1.0);
    assert_eq!(sim.faults().quota_per_minute, 0, "PATCH keeps other fields");
    assert!(Call::ids(&["demo-web-01"])
        .send(&sim)
        .await
        .status()
        .is_server_error());
    let bad = admin(
        &sim,
        Method::PUT,
        "_sim/faults",
        Some(serde_json::json!({"error_rate": 2.0})),
    )
    .await;
    assert_error(bad, StatusCode::BAD_REQUEST, "SIM.0400").await;
    let reset = admin(
        &sim,
        Method::PUT,
        "_sim/faults",
        Some(serde_json::json!({})),
    )
    .await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(sim.faults(), Faults::default());
    ok_body(Call::ids(&["demo-web-01"]).send(&sim).await).await;
}

async fn fleet_over_http(seed: u64) -> Vec<SimHost> {
    let sim = start(SimConfig {
        fleet: FleetSpec { hosts: 30, seed },
        ..SimConfig::empty()
    })
    .await;
    let hosts = admin(&sim, reqwest::Method::GET, "_sim/hosts", None)
        .await
        .json()
        .await
        .expect("json");
    sim.shutdown().await;
    hosts
}

#[tokio::test]
async fn same_seed_same_fleet_different_seed_different_fleet() {
    let first = fleet_over_http(7).await;
    assert_eq!(first.len(), 30);
    assert_eq!(first, fleet_over_http(7).await);
    assert_ne!(first, fleet_over_http(8).await);
}

#[tokio::test]
async fn generated_hosts_are_served() {
    let sim = start(SimConfig {
        faults: Faults::none(),
        ..SimConfig::default()
    })
    .await;
    let generated: Vec<SimHost> = sim
        .hosts()
        .into_iter()
        .filter(|h| h.enterprise_project_id == "0" && !h.host_id().starts_with("demo-"))
        .take(3)
        .collect();
    assert_eq!(generated.len(), 3);
    let ids: Vec<&str> = generated.iter().map(SimHost::host_id).collect();
    let answer = ok_body(Call::ids(&ids).send(&sim).await).await;
    let mut list = answer.data_list.expect("list");
    list.sort_by(|a, b| a.host_id.cmp(&b.host_id));
    let mut expected: Vec<_> = generated.into_iter().map(|h| h.risk).collect();
    expected.sort_by(|a, b| a.host_id.cmp(&b.host_id));
    assert_eq!(list, expected);
}

/// The five requests the official Python SDK signed (tests/hss-sign-vectors.json), replayed
/// byte for byte with the simulator's clock set to their pinned date: all verify, and the
/// same request with one header byte changed does not.
#[tokio::test]
async fn official_sdk_vectors_verify() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hss-sign-vectors.json");
    let vectors: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors file"))
            .expect("vectors json");
    assert_eq!(vectors.len(), 5);
    for vector in vectors {
        let text = |key: &str| vector[key].as_str().expect(key).to_string();
        let config = SimConfig {
            access_keys: vec![hostrisk_operator::sim::hss::AccessKeyCredential {
                access_key: text("ak"),
                secret_key: text("sk"),
                security_token: vector["security_token"].as_str().map(str::to_string),
            }],
            ..unlimited()
        };
        let sim = start(config).await;
        let signed_at = jiff::civil::DateTime::strptime(sign::SDK_DATE_FORMAT, text("x_sdk_date"))
            .expect("date")
            .to_zoned(jiff::tz::TimeZone::UTC)
            .expect("utc")
            .timestamp();
        let offset = signed_at.duration_since(Timestamp::now()).as_secs();
        sim.update_faults(|f| f.clock_offset_seconds = offset)
            .expect("valid faults");
        let url = url::Url::parse(&text("url")).expect("vector url");
        let wire = format!(
            "{}{}?{}",
            sim.base_url().as_str().trim_end_matches('/'),
            url.path(),
            url.query().expect("query")
        );
        let headers: Vec<(String, String)> = vector["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .map(|pair| {
                let pair = pair.as_array().expect("pair");
                (
                    pair[0].as_str().expect("name").to_string(),
                    pair[1].as_str().expect("value").to_string(),
                )
            })
            .collect();
        let send = |tamper: bool| {
            let mut request = reqwest::Client::new().get(&wire);
            for (name, value) in &headers {
                let value = if tamper && name == "X-Sdk-Date" {
                    value.replace("05Z", "06Z")
                } else {
                    value.clone()
                };
                request = request.header(name.as_str(), value);
            }
            request.send()
        };
        let id = text("id");
        let response = send(false).await.expect("sent");
        assert_eq!(response.status(), StatusCode::OK, "vector {id}");
        let tampered = send(true).await.expect("sent");
        assert_error(tampered, StatusCode::UNAUTHORIZED, "APIGW.0301").await;
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn tokens_are_scoped_to_their_project() {
    let sim = start(unlimited()).await;
    let url = format!(
        "{}v5/ffffffffffffffffffffffffffffffff/host-management/hosts-risk?host_id_list=demo-web-01",
        sim.base_url()
    );
    let response = reqwest::Client::new()
        .get(url)
        .header("X-Auth-Token", DEMO_STATIC_TOKEN)
        .send()
        .await
        .expect("sent");
    assert_error(response, StatusCode::FORBIDDEN, "APIGW.0310").await;
    let unknown_scope = token_request(
        DEMO_IAM_USER,
        DEMO_IAM_PASSWORD,
        serde_json::json!({"id": "ffffffffffffffffffffffffffffffff"}),
    );
    assert_eq!(
        issue_token(&sim, &unknown_scope).await.status(),
        StatusCode::BAD_REQUEST
    );
    // Admin answers carry a request id too.
    let hosts = admin(&sim, reqwest::Method::GET, "_sim/hosts", None).await;
    assert_request_id(&hosts);
}
