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
    let _ = Duration::ZERO;
    let _ = (
        AgentStatus::Online,
        DEMO_ENTERPRISE_PROJECT_ID,
        DEMO_STATIC_TOKEN,
    );
    let _ = (DEMO_IAM_USER, DEMO_IAM_PASSWORD, DEMO_IAM_DOMAIN);
    let _: Option<SimHost> = None;
}
