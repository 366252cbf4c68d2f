//! Credential rotation at length: a Secret holding a temporary access key (accessKey +
//! secretKey + securityToken) replaced over and over, as an STS refresher does every hour for
//! the life of the operator. Every rotation moves the watch to a poller group of its own (the
//! group key includes a digest of the secret material), so what the poller keeps must follow
//! the groups that run now, not every group there ever was.

use std::time::{Duration, Instant};

use hostrisk_operator::crd::WatchKey;
use hostrisk_operator::poller::GroupKey;
use hostrisk_sim::hss::AccessKeyCredential;

use super::harness::{is_synced, Harness, Options, NS};

/// Rotations of the temporary key.
const ROTATIONS: usize = 200;

/// The poller's quota window in this test (the client's window plus the planning margin is
/// about 1.1 s): after it, a rotated key no longer counts as in use.
const QUOTA_WINDOW: Duration = Duration::from_secs(1);

/// The `i`-th temporary key, as the simulator accepts it.
fn temporary_key(i: usize) -> AccessKeyCredential {
    AccessKeyCredential {
        access_key: format!("SIMROTATEDKEY{i:05}"),
        secret_key: format!("rotated-secret-key-{i:05}-0000000000000000"),
        security_token: Some(format!("rotated-security-token-{i:05}")),
    }
}

fn secret_keys(key: &AccessKeyCredential) -> [(&str, &str); 3] {
    [
        ("accessKey", key.access_key.as_str()),
        ("secretKey", key.secret_key.as_str()),
        (
            "securityToken",
            key.security_token.as_deref().unwrap_or_default(),
        ),
    ]
}

fn group_of(h: &Harness, key: &WatchKey) -> Option<GroupKey> {
    h.ctx.watches.poller()?.handle().group_of(key)
}

/// Waits until the watch is served with access key `access_key`; returns its group.
async fn served_with(h: &Harness, key: &WatchKey, access_key: &str) -> GroupKey {
    let identity = format!("ak:{access_key}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(group) = group_of(h, key).filter(|g| g.identity == identity) {
            return group;
        }
        assert!(Instant::now() < deadline, "never served with {identity}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until the group has completed a refresh (its call was made and answered).
async fn refreshed(h: &Harness, group: &GroupKey) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while h
        .poller_stats()
        .groups
        .get(group)
        .is_none_or(|g| g.refreshes == 0)
    {
        assert!(Instant::now() < deadline, "group {group} never refreshed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn rotating_a_temporary_key_200_times_keeps_the_poller_bounded() {
    let keys: Vec<AccessKeyCredential> = (0..=ROTATIONS).map(temporary_key).collect();
    let h = Harness::start(Options {
        sim_access_keys: keys.clone(),
        ..Options::controller().hss_quota(10_000, QUOTA_WINDOW)
    })
    .await;
    h.create_secret(NS, "sts-creds", &secret_keys(&keys[0]))
        .await;
    h.create_watch(NS, "rotated", &["demo-web-01"], "sts-creds", "1h")
        .await;
    h.wait_for(NS, "rotated", "Ready", is_synced).await;
    let key = WatchKey::new(NS, "rotated");
    let mut most_groups = 0;
    for (i, rotated) in keys.iter().enumerate().skip(1) {
        h.replace_secret(NS, "sts-creds", &secret_keys(rotated))
            .await;
        let group = served_with(&h, &key, &rotated.access_key).await;
        // Every tenth key is also used for a call, so rotated keys hold quota windows too.
        if i % 10 == 0 {
            refreshed(&h, &group).await;
        }
        most_groups = most_groups.max(h.poller_stats().groups.len());
    }
    let last = served_with(&h, &key, &keys[ROTATIONS].access_key).await;
    refreshed(&h, &last).await;
    tokio::time::sleep(QUOTA_WINDOW + Duration::from_millis(300)).await;

    let stats = h.poller_stats();
    eprintln!(
        "after {ROTATIONS} rotations: {} groups (at most {most_groups} at once), {} credentials \
         with quota in use, {} calls ({} by groups gone)",
        stats.groups.len(),
        stats.quota_used.len(),
        stats.total_calls(),
        stats.retired.calls,
    );
    assert_eq!(
        stats.groups.keys().collect::<Vec<_>>(),
        vec![&last],
        "only the group of the current key is kept"
    );
    assert_eq!(stats.watches(), 1);
    assert!(
        most_groups <= 2,
        "groups of rotated keys end with their last watch: {most_groups} at once"
    );
    assert!(
        stats.quota_used.len() <= 1,
        "only keys used within the quota window: {:?}",
        stats.quota_used
    );
    assert!(
        stats.retired.calls >= (ROTATIONS / 10) as u64,
        "the rotated keys' calls are still counted: {stats:?}"
    );
    let status = h.status(NS, "rotated").await;
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True"),
        "{status:#?}"
    );
    h.stop().await;
}
