//! HSS rows of the fault matrix.

use std::time::Duration;

use hostrisk_operator::hss::model::AgentStatus;
use hostrisk_operator::hss::{Credentials, HssClient, Scope};
use hostrisk_sim::hss::{
    HssSimulator, SimConfig, DEMO_ACCESS_KEY, DEMO_IAM_DOMAIN, DEMO_IAM_PASSWORD, DEMO_IAM_USER,
    DEMO_PROJECT_ID, DEMO_SECRET_KEY,
};
use serde_json::json;

use super::harness::{
    condition_is, eventually, fast_client, is_ready, with_reason, Harness, Options, NS,
};
use super::rows::{
    hold_fault, ready_watch, recover, Window, HOSTS, INTERVAL, INTERVAL_TEXT, POLL_SLACK,
};

/// The client's retry budget within one poll (`max_retry_elapsed` of the harness's client).
const RETRY_BUDGET: Duration = Duration::from_secs(2);

/// Waits (at most one interval plus one poll with its retries) until a False condition with
/// `reason` appears and Ready is False; returns that condition's message.
async fn wait_failure(h: &Harness, name: &str, reason: &str) -> String {
    wait_failure_within(h, name, reason, INTERVAL + RETRY_BUDGET + POLL_SLACK).await
}

async fn wait_failure_within(h: &Harness, name: &str, reason: &str, limit: Duration) -> String {
    let watch = h
        .wait_within(limit, NS, name, reason, |_, s| {
            with_reason(s, reason).is_some_and(|c| c.status == "False")
                && s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "False")
        })
        .await;
    let status = watch.status.unwrap();
    let message = with_reason(&status, reason).unwrap().message.clone();
    eprintln!("{name}: {reason}: {message}");
    message
}

#[tokio::test]
async fn condition_names_the_request_id_once() {
    let h = Harness::start(Options::faults()).await;
    ready_watch(&h, "once", "hss-creds").await;
    h.sim.update_faults(|f| f.error_rate = 1.0).unwrap();
    let message = wait_failure(&h, "once", "ApiUnavailable").await;
    assert_eq!(message.matches("(request id ").count(), 1, "{message}");
    h.stop().await;
}

/// The common body of the HSS rows whose fault is a simulator switch.
async fn simulator_fault_row(
    name: &str,
    set: impl FnOnce(&mut hostrisk_sim::hss::Faults),
    reason: &str,
    request_id_expected: bool,
) {
    let h = Harness::start(Options::faults()).await;
    let good = ready_watch(&h, name, "hss-creds").await;
    let window = Window::open(&h);
    h.sim.update_faults(set).unwrap();
    let message = wait_failure(&h, name, reason).await;
    assert_eq!(
        message.contains("(request id "),
        request_id_expected,
        "request id in the condition: {message}"
    );
    // The PollFailed Event is published just after the status write that shows the failure:
    // count from when it is there, so only Events per retry would add to the count.
    eventually(Duration::from_secs(5), "PollFailed Event", || async {
        h.events_for(NS, name)
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("PollFailed"))
    })
    .await;
    let events_at_failure = events_published(&h);
    hold_fault(&h, name, &good, Duration::from_secs(2)).await;
    window.assert_backed_off(&h, 1, name);
    assert_eq!(
        events_published(&h),
        events_at_failure,
        "{name}: Events on transitions only, none per failed retry"
    );
    let failed = h.events_for(NS, name).await;
    assert!(
        failed
            .iter()
            .any(|e| e.reason.as_deref() == Some("PollFailed")),
        "{name}: {failed:#?}"
    );
    recover(&h, name, async {
        h.sim
            .update_faults(|f| *f = hostrisk_sim::hss::Faults::none())
            .unwrap()
    })
    .await;
    eventually(Duration::from_secs(5), "PollRecovered Event", || async {
        h.events_for(NS, name)
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("PollRecovered"))
    })
    .await;
    h.stop().await;
}

fn events_published(h: &Harness) -> u64 {
    h.ctx.metrics.events_published_total()
}

#[tokio::test]
async fn row_hss_5xx_burst() {
    simulator_fault_row("five-xx", |f| f.error_rate = 1.0, "ApiUnavailable", true).await;
}

#[tokio::test]
async fn row_hss_read_timeout() {
    // 1.5 s of latency against an 800 ms request timeout: no answer, so no request id.
    simulator_fault_row("slow", |f| f.latency_ms = 1500, "Timeout", false).await;
}

#[tokio::test]
async fn row_hss_malformed_json() {
    simulator_fault_row("malformed", |f| f.malformed_rate = 1.0, "DecodeError", true).await;
}

#[tokio::test]
async fn row_hss_truncated_json() {
    simulator_fault_row("truncated", |f| f.truncated_rate = 1.0, "DecodeError", true).await;
}

#[tokio::test]
async fn row_hss_clock_skew_rejection() {
    // The gateway refuses an X-Sdk-Date more than 15 minutes away from its clock.
    simulator_fault_row(
        "skew",
        |f| f.clock_offset_seconds = 3600,
        "InvalidCredentials",
        true,
    )
    .await;
}

#[tokio::test]
async fn row_hss_429_storm_backs_off_and_honours_retry_after() {
    let h = Harness::start(Options::faults()).await;
    let good = ready_watch(&h, "storm", "hss-creds").await;
    let window = Window::open(&h);
    // Quota 1 per minute: one more call is admitted, then everything is 429 with Retry-After.
    h.sim
        .update_faults(|f| {
            f.quota_per_minute = 1;
            f.retry_after_seconds = Some(1);
        })
        .unwrap();
    // The next poll is still admitted (the window holds no call yet); the one after is throttled.
    let message = wait_failure_within(
        &h,
        "storm",
        "Throttled",
        2 * INTERVAL + RETRY_BUDGET + POLL_SLACK,
    )
    .await;
    assert!(message.contains("(request id "), "{message}");
    hold_fault(&h, "storm", &good, Duration::from_secs(3)).await;
    let calls = window.assert_backed_off(&h, 1, "storm");
    // The server asked for 1 s between calls; the client's own retries honour it, and the
    // controller's backoff keeps the rest paced: at most one call per Retry-After plus the
    // retries of the polls already running.
    let elapsed = window.started.elapsed().as_secs_f64();
    let throttled = h.sim.counters().throttled;
    eprintln!("storm: {throttled} throttled answers, {calls} calls in {elapsed:.1} s");
    recover(&h, "storm", async {
        h.sim
            .update_faults(|f| {
                f.quota_per_minute = 0;
                f.retry_after_seconds = None;
            })
            .unwrap()
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn row_hss_429_with_retry_after_within_the_client_budget() {
    // Retry-After 2 s fits the client's 2 s retry budget: the client waits it out inside a poll.
    let h = Harness::start(Options::faults()).await;
    let good = ready_watch(&h, "patient", "hss-creds").await;
    h.sim
        .update_faults(|f| {
            f.quota_per_minute = 1;
            f.retry_after_seconds = Some(2);
        })
        .unwrap();
    wait_failure_within(&h, "patient", "Throttled", 2 * INTERVAL + 2 * RETRY_BUDGET).await;
    let window = Window::open(&h);
    let throttled_before = h.sim.counters().throttled;
    hold_fault(&h, "patient", &good, Duration::from_secs(4)).await;
    window.assert_backed_off(&h, 1, "patient");
    let throttled = h.sim.counters().throttled - throttled_before;
    eprintln!("patient: {throttled} throttled calls in 4 s with Retry-After 2 s");
    h.stop().await;
}

/// Retry-After 3 s is more than the client's 2 s retry budget, so the client gives up at once and
/// the next call is the operator's to schedule: its backoff alone (floor 200 ms here) would call
/// again far sooner, so only honouring the header keeps the calls within one per 3 s.
#[tokio::test]
async fn row_hss_429_next_poll_waits_for_retry_after() {
    let h = Harness::start(Options::faults()).await;
    let good = ready_watch(&h, "patient", "hss-creds").await;
    h.sim
        .update_faults(|f| {
            f.quota_per_minute = 1;
            f.retry_after_seconds = Some(3);
        })
        .unwrap();
    wait_failure_within(&h, "patient", "Throttled", 2 * INTERVAL + 2 * RETRY_BUDGET).await;
    let started = std::time::Instant::now();
    let throttled_before = h.sim.counters().throttled;
    hold_fault(&h, "patient", &good, Duration::from_secs(6)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let throttled = h.sim.counters().throttled - throttled_before;
    // At most one call per Retry-After, plus one in flight when the window opened.
    let bound = (elapsed / 3.0).ceil() as u64 + 1;
    assert!(
        throttled <= bound,
        "{throttled} throttled calls in {elapsed:.1} s; Retry-After 3 s allows {bound}"
    );
    h.stop().await;
}

#[tokio::test]
async fn row_hss_quota_never_exceeded() {
    // The client is configured with the documented quota (3/min here, like the simulator's), and
    // the watch asks every second: the limiter holds the 4th call instead of sending it.
    let h = Harness::start(Options {
        client: hostrisk_operator::hss::ClientConfig {
            calls_per_minute: 3,
            ..fast_client()
        },
        sim_faults: hostrisk_sim::hss::Faults {
            quota_per_minute: 3,
            ..hostrisk_sim::hss::Faults::none()
        },
        ..Options::faults()
    })
    .await;
    h.create_demo_secret(NS, "hss-creds").await;
    h.create_watch(NS, "eager", &["demo-web-01"], "hss-creds", "1s")
        .await;
    h.wait_for(NS, "eager", "Ready", is_ready).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let counters = h.sim.counters();
    let identity = format!("ak:{DEMO_ACCESS_KEY}");
    assert!(
        counters.calls_by(&identity) <= 3,
        "{} calls with a quota of 3",
        counters.calls_by(&identity)
    );
    assert_eq!(
        counters.throttled, 0,
        "the operator never ran into the quota"
    );
    // Still Ready: `Synced` when polls wait in the limiter, `QuotaLimited` when a batched
    // poller plans around the quota and says so.
    let status = h.status(NS, "eager").await;
    assert!(
        condition_is(&status, "Ready", "True", "Synced")
            || condition_is(&status, "Ready", "True", "QuotaLimited"),
        "{status:#?}"
    );
    h.abandon().await;
}

#[tokio::test]
async fn row_hss_unknown_enum_values_are_kept() {
    let h = Harness::start(Options::faults()).await;
    ready_watch(&h, "enums", "hss-creds").await;
    assert!(h.sim.update_host("demo-web-01", |host| {
        host.risk.agent_status = Some(AgentStatus::Other("hibernating".into()))
    }));
    h.request_refresh(NS, "enums", "unknown-enum").await;
    let watch = h
        .wait_for(NS, "enums", "unknown agent status kept", |w, s| {
            is_ready(w, s)
                && s.hosts.iter().any(|x| {
                    x.host_id == "demo-web-01" && x.agent_status.as_deref() == Some("hibernating")
                })
        })
        .await;
    let summary = watch.status.unwrap().summary.unwrap();
    assert_eq!(summary.agent_other, 1, "{summary:?}");
    assert!(h.is_running());
    h.stop().await;
}

#[tokio::test]
async fn row_hss_partial_results() {
    let h = Harness::start(Options::faults()).await;
    let good = ready_watch(&h, "partial", "hss-creds").await;
    h.sim.remove_host("demo-db-01").expect("host existed");
    h.request_refresh(NS, "partial", "partial").await;
    let watch = h
        .wait_for(NS, "partial", "missing host reported", |w, s| {
            is_ready(w, s)
                && s.hosts
                    .iter()
                    .any(|x| x.host_id == "demo-db-01" && !x.found)
        })
        .await;
    let status = watch.status.unwrap();
    let web = status.hosts.iter().find(|x| x.host_id == "demo-web-01");
    assert_eq!(web, good.iter().find(|x| x.host_id == "demo-web-01"));
    assert_eq!(status.summary.unwrap().hosts_not_found, 1);
    let events = h.events_for(NS, "partial").await;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("HostNotFound")),
        "{events:#?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn row_hss_wrong_signature_is_not_retried() {
    let h = Harness::start(Options::faults()).await;
    let good = ready_watch(&h, "badsig", "hss-creds").await;
    let retries_before = h.ctx.hss.stats().retries;
    let window = Window::open(&h);
    h.replace_secret(
        NS,
        "hss-creds",
        &[("accessKey", DEMO_ACCESS_KEY), ("secretKey", "not-the-key")],
    )
    .await;
    let message = wait_failure(&h, "badsig", "InvalidCredentials").await;
    assert!(message.contains("(request id "), "{message}");
    hold_fault(&h, "badsig", &good, Duration::from_secs(2)).await;
    let calls = window.calls(&h);
    let failures: u64 = h.sim.counters().auth_failures.values().sum();
    assert_eq!(
        h.ctx.hss.stats().retries,
        retries_before,
        "a 401 is never retried by the client"
    );
    assert_eq!(
        calls, failures,
        "every call in the window was one refused attempt"
    );
    // Without retries, one request per poll: the backoff bound with one attempt per poll.
    let bound = super::harness::max_polls_in(window.started.elapsed(), h.options_backoff);
    assert!(calls <= bound, "{calls} refused calls, bound {bound}");
    recover(
        &h,
        "badsig",
        h.replace_secret(
            NS,
            "hss-creds",
            &[
                ("accessKey", DEMO_ACCESS_KEY),
                ("secretKey", DEMO_SECRET_KEY),
            ],
        ),
    )
    .await;
    h.stop().await;
}

#[tokio::test]
async fn row_hss_expired_iam_token_mid_run_through_the_controller() {
    // A password Secret with spec.endpoint: the operator runs with --iam-endpoint (here the
    // simulator's IAM). The token expires mid-run; the next poll is refused once, logs in once
    // more and succeeds within the same poll, so the watch never reports a failure.
    let h = Harness::start(Options {
        iam_via_simulator: true,
        ..Options::faults()
    })
    .await;
    h.create_secret(
        NS,
        "iam-creds",
        &[
            ("username", DEMO_IAM_USER),
            ("password", DEMO_IAM_PASSWORD),
            ("domainName", DEMO_IAM_DOMAIN),
        ],
    )
    .await;
    h.create_watch(NS, "iam", &HOSTS, "iam-creds", INTERVAL_TEXT)
        .await;
    h.wait_for(NS, "iam", "Ready with password credentials", is_ready)
        .await;
    let settled = h.sim.counters();
    assert_eq!(settled.iam_tokens_issued, 1, "one login");
    let successes_reach = |at_least: u64| {
        let sim = &h.sim;
        move || async move { sim.counters().hss_successes >= at_least }
    };
    eventually(
        2 * INTERVAL + POLL_SLACK,
        "polling goes on",
        successes_reach(settled.hss_successes + 1),
    )
    .await;
    assert_eq!(h.sim.counters().iam_tokens_issued, 1, "the token is reused");

    assert!(h.sim.expire_tokens() >= 1);
    let before = h.sim.counters();
    eventually(
        3 * INTERVAL + POLL_SLACK,
        "polls succeed after the expiry",
        successes_reach(before.hss_successes + 2),
    )
    .await;
    let after = h.sim.counters();
    assert_eq!(
        after.iam_tokens_issued,
        before.iam_tokens_issued + 1,
        "exactly one refresh"
    );
    let refused: u64 =
        after.auth_failures.values().sum::<u64>() - before.auth_failures.values().sum::<u64>();
    assert_eq!(refused, 1, "one call refused with the expired token");
    let status = h.status(NS, "iam").await;
    assert!(
        super::harness::condition(&status, "Ready").is_some_and(|c| c.status == "True"),
        "{status:?}"
    );
    assert!(
        !h.events_for(NS, "iam")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("PollFailed")),
        "the refresh happened within one poll: no failure was announced"
    );
    h.stop().await;
}

#[tokio::test]
async fn row_hss_expired_iam_token_mid_run_refreshes_once() {
    // The same at the client level, counting every request: the HssClient the controller
    // uses, against the simulator's IAM and HSS directly.
    let sim = HssSimulator::start(SimConfig::default()).await.unwrap();
    let mut faults = sim.faults();
    faults.quota_per_minute = 0;
    sim.set_faults(faults).unwrap();
    let client = HssClient::new(fast_client()).unwrap();
    let scope = Scope::for_endpoint(sim.base_url(), DEMO_PROJECT_ID, None).unwrap();
    let credentials = Credentials::Iam {
        username: DEMO_IAM_USER.into(),
        password: DEMO_IAM_PASSWORD.into(),
        domain_name: DEMO_IAM_DOMAIN.into(),
        iam_endpoint: sim.iam_url(),
    };
    let ids = ["demo-web-01"];
    let first = client
        .list_hosts_risk(&scope, &credentials, &ids)
        .await
        .unwrap();
    assert_eq!(first.hosts.len(), 1);
    assert_eq!(sim.counters().iam_tokens_issued, 1);
    let second = client
        .list_hosts_risk(&scope, &credentials, &ids)
        .await
        .unwrap();
    assert_eq!(second.hosts.len(), 1);
    assert_eq!(sim.counters().iam_tokens_issued, 1, "the token is cached");

    assert!(sim.expire_tokens() >= 1);
    let before = sim.counters();
    let third = client
        .list_hosts_risk(&scope, &credentials, &ids)
        .await
        .unwrap();
    assert_eq!(third.hosts.len(), 1, "success after one refresh");
    let after = sim.counters();
    assert_eq!(
        after.iam_tokens_issued,
        before.iam_tokens_issued + 1,
        "one refresh"
    );
    assert_eq!(
        after.hss_requests,
        before.hss_requests + 2,
        "one refused call, one successful call"
    );
    let refused: u64 =
        after.auth_failures.values().sum::<u64>() - before.auth_failures.values().sum::<u64>();
    assert_eq!(refused, 1);
    // And the token stays in use afterwards.
    client
        .list_hosts_risk(&scope, &credentials, &ids)
        .await
        .unwrap();
    assert_eq!(sim.counters().iam_tokens_issued, after.iam_tokens_issued);
    sim.shutdown().await;
}

/// A listener whose accept queue is full: the kernel drops further SYNs, so a connect hangs
/// until the client's connect timeout (what a black-holed address or a dead load balancer does).
async fn black_hole() -> (tokio::net::TcpListener, Vec<std::net::TcpStream>, String) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    // Fill the backlog with connections nobody accepts.
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
        {
            fillers.push(stream);
        }
    }
    (listener, fillers, format!("http://{addr}/"))
}

/// The endpoint row: the watch is pointed at `bad` (a spec change), then back.
async fn endpoint_fault_row(name: &str, bad: String, reasons: &[&str]) {
    let h = Harness::start(Options {
        extra_allowed: vec![bad.clone()],
        ..Options::faults()
    })
    .await;
    let good = ready_watch(&h, name, "hss-creds").await;
    let good_endpoint = h.endpoint();
    let window = Window::open(&h);
    h.patch_watch(NS, name, json!({"spec": {"endpoint": bad}}))
        .await;
    let watch = h
        .wait_within(
            INTERVAL + POLL_SLACK + Duration::from_secs(1),
            NS,
            name,
            "endpoint failure",
            |w, s| {
                s.observed_generation == w.metadata.generation
                    && s.conditions.iter().any(|c| {
                        c.type_ == "Ready"
                            && c.status == "False"
                            && reasons.contains(&c.reason.as_str())
                    })
            },
        )
        .await;
    let status = watch.status.unwrap();
    eprintln!("{name}: {:?}", status.conditions);
    assert_eq!(status.hosts, good, "last good host data kept");
    hold_fault(&h, name, &good, Duration::from_secs(2)).await;
    assert_eq!(window.calls(&h), 0, "the simulator is not the endpoint now");
    assert!(h.is_running());
    recover(
        &h,
        name,
        h.patch_watch(NS, name, json!({"spec": {"endpoint": good_endpoint}})),
    )
    .await;
    h.stop().await;
}

#[tokio::test]
async fn row_hss_connect_timeout() {
    let (_listener, _fillers, url) = black_hole().await;
    endpoint_fault_row("blackhole", url, &["Timeout", "ApiUnavailable"]).await;
}

#[tokio::test]
async fn row_hss_connection_refused() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    endpoint_fault_row("refused", url, &["ApiUnavailable"]).await;
}

#[tokio::test]
async fn after_a_fault_ready_says_synced_again_when_the_quota_is_not_limiting() {
    // The client allows 10,000 calls a minute; the watch asks every 2 s. Once HSS answers again,
    // nothing but the interval paces the polls, so Ready must come back as `Synced` (not a
    // quota-related reason blaming the failure's backoff gap on the quota) within two intervals,
    // and stay there without a status write per poll.
    let h = Harness::start(Options::faults()).await;
    ready_watch(&h, "after", "hss-creds").await;
    h.sim.update_faults(|f| f.error_rate = 1.0).unwrap();
    wait_failure(&h, "after", "ApiUnavailable").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    h.sim.update_faults(|f| f.error_rate = 0.0).unwrap();
    h.wait_within(2 * INTERVAL + POLL_SLACK, NS, "after", "Synced", |w, s| {
        condition_is(s, "Ready", "True", "Synced") && s.observed_generation == w.metadata.generation
    })
    .await;
    let writes = h.kube.status_writes("hostriskwatches");
    tokio::time::sleep(3 * INTERVAL).await;
    let status = h.status(NS, "after").await;
    assert!(
        condition_is(&status, "Ready", "True", "Synced"),
        "{:?}",
        status.conditions
    );
    assert_eq!(
        h.kube.status_writes("hostriskwatches"),
        writes,
        "idle polls after the recovery write nothing"
    );
    h.stop().await;
}
