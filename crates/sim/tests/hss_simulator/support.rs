//! Helpers of the simulator tests: hand-signed requests and answer checks.

use super::*;

/// A request to sign and send; fields left default give a correct demo-key call.
pub struct Call<'a> {
    pub project: &'a str,
    /// Pairs that are signed.
    pub pairs: Vec<(&'a str, &'a str)>,
    /// The query actually sent; `None` = the canonical query of `pairs`.
    pub wire_query: Option<String>,
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub date_offset: SignedDuration,
    /// Extra headers, signed.
    pub signed: Vec<(&'a str, String)>,
    /// Header values replacing the signed ones on the wire.
    pub sent_instead: Vec<(&'a str, String)>,
}

impl<'a> Call<'a> {
    pub fn ids(ids: &[&'a str]) -> Self {
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

    pub async fn send(&self, sim: &HssSimulator) -> reqwest::Response {
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

pub async fn start(config: SimConfig) -> HssSimulator {
    HssSimulator::start(config).await.expect("simulator starts")
}

/// Demo setup without generated hosts and without quota, so tests may call freely.
pub fn unlimited() -> SimConfig {
    SimConfig {
        fleet: FleetSpec { hosts: 0, seed: 1 },
        faults: Faults::none(),
        ..SimConfig::default()
    }
}

pub async fn ok_body(response: reqwest::Response) -> ListHostsRiskResponse {
    assert_eq!(response.status(), StatusCode::OK);
    assert_request_id(&response);
    response.json().await.expect("valid answer")
}

pub fn assert_request_id(response: &reqwest::Response) -> String {
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
pub async fn assert_error(response: reqwest::Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    let header_id = assert_request_id(&response);
    let body: ApiErrorBody = response.json().await.expect("error body");
    assert_eq!(body.error_code.as_deref(), Some(code));
    assert_eq!(body.request_id.as_deref(), Some(header_id.as_str()));
    body.error_msg.expect("error message")
}

pub fn ids_of(answer: &ListHostsRiskResponse) -> Vec<String> {
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

pub fn token_request(user: &str, password: &str, project: serde_json::Value) -> serde_json::Value {
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

pub async fn issue_token(sim: &HssSimulator, body: &serde_json::Value) -> reqwest::Response {
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

pub async fn with_token(sim: &HssSimulator, token: &str, ids: &[&str]) -> reqwest::Response {
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

pub async fn admin(
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
