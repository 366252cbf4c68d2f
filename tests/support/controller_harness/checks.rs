//! Predicates over a watch's status and the simulator's counters, and a generic wait.

use std::future::Future;
use std::time::{Duration, Instant};

use hostrisk_operator::controller::BackoffPolicy;
use hostrisk_operator::crd::{HostRiskWatch, HostRiskWatchStatus};
use hostrisk_sim::hss::HssSimulator;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

pub fn condition<'a>(status: &'a HostRiskWatchStatus, type_: &str) -> Option<&'a Condition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

pub fn condition_is(status: &HostRiskWatchStatus, type_: &str, value: &str, reason: &str) -> bool {
    condition(status, type_).is_some_and(|c| c.status == value && c.reason == reason)
}

/// Any condition has `reason`.
pub fn has_reason(status: &HostRiskWatchStatus, reason: &str) -> bool {
    status.conditions.iter().any(|c| c.reason == reason)
}

/// The condition carrying `reason`, if any.
pub fn with_reason<'a>(status: &'a HostRiskWatchStatus, reason: &str) -> Option<&'a Condition> {
    status.conditions.iter().find(|c| c.reason == reason)
}

/// Ready=True for the current generation. Any reason: `Synced`, or a design-specific one such as
/// the batched poller's `QuotaLimited` (data current, refreshed less often than asked). The fault
/// rows use this: a row is about surviving the fault, not about why the data is current.
pub fn is_ready(watch: &HostRiskWatch, status: &HostRiskWatchStatus) -> bool {
    condition(status, "Ready").is_some_and(|c| c.status == "True")
        && status.observed_generation == watch.metadata.generation
}

/// Ready=True with reason `Synced` for the current generation. The controller suite's readiness
/// check: outside its quota tests (which wait for `QuotaLimited` by name) nothing there limits a
/// poll, so Ready for any other reason would be a bug it must catch.
pub fn is_synced(watch: &HostRiskWatch, status: &HostRiskWatchStatus) -> bool {
    condition_is(status, "Ready", "True", "Synced")
        && status.observed_generation == watch.metadata.generation
}

/// Simulator `ListHostsRisk` requests so far.
pub fn hss_calls(sim: &HssSimulator) -> u64 {
    sim.counters().hss_requests
}

/// The most polls a backing-off controller may start in `window` for one call site: one per
/// backoff floor, plus the one in flight when the window opened.
pub fn max_polls_in(window: Duration, backoff: BackoffPolicy) -> u64 {
    (window.as_secs_f64() / backoff.floor.as_secs_f64()).ceil() as u64 + 1
}

/// Polls `probe` every 25 ms until it returns true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !probe().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
