//! IAM tokens, static tokens, the admin API and fleet determinism, over real HTTP.

use super::support::*;
use super::*;

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
    hostrisk_sim::hss::DEMO_PROJECT_NAME
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
