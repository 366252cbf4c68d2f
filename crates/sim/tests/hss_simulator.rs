//! The HSS simulator over real HTTP on loopback, driven by hand-built signed requests
//! (the signer from `src/hss/sign.rs`), checking the behaviour it copies from hss-api.md.

use std::time::Duration;

use hostrisk_hss::model::{AgentStatus, ApiErrorBody, ListHostsRiskResponse};
use hostrisk_hss::sign::{self, canonical_query, SigningRequest};
use hostrisk_sim::hss::{
    Faults, FleetSpec, HssSimulator, SimConfig, SimHost, DEMO_ACCESS_KEY,
    DEMO_ENTERPRISE_PROJECT_ID, DEMO_IAM_DOMAIN, DEMO_IAM_PASSWORD, DEMO_IAM_USER, DEMO_PROJECT_ID,
    DEMO_SECRET_KEY, DEMO_SECURITY_TOKEN, DEMO_STATIC_TOKEN, DEMO_TEMP_ACCESS_KEY,
    DEMO_TEMP_SECRET_KEY,
};
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;

#[path = "hss_simulator/id_tokens.rs"]
mod id_tokens;
#[path = "hss_simulator/idp_admin.rs"]
mod idp_admin;
#[path = "hss_simulator/support.rs"]
mod support;
#[path = "hss_simulator/tokens_admin.rs"]
mod tokens_admin;

use support::*;

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
    let counters = sim.counters();
    assert_eq!(counters.host_ids_requested, 4);
    assert_eq!(counters.largest_host_id_list, 3);
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

/// The five requests the official Python SDK signed (tests/hss-sign-vectors.json), replayed
/// byte for byte with the simulator's clock set to their pinned date: all verify, and the
/// same request with one header byte changed does not.
#[tokio::test]
async fn official_sdk_vectors_verify() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../hss/tests/hss-sign-vectors.json"
    );
    let vectors: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors file"))
            .expect("vectors json");
    assert_eq!(vectors.len(), 5);
    for vector in vectors {
        let text = |key: &str| vector[key].as_str().expect(key).to_string();
        let config = SimConfig {
            access_keys: vec![hostrisk_sim::hss::AccessKeyCredential {
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
