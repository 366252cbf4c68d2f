use std::time::Duration;

use super::*;
use crate::hss::{ClientConfig, Credentials, Scope};
use crate::metrics::MetricsOptions;

fn table() -> WatchTable {
    WatchTable::new(Metrics::new(MetricsOptions::default()))
}

fn key(name: &str) -> WatchKey {
    WatchKey::new("ns", name)
}

fn status(generation: i64) -> HostRiskWatchStatus {
    HostRiskWatchStatus {
        observed_generation: Some(generation),
        ..Default::default()
    }
}

fn secret(name: &str) -> SecretKey {
    SecretKey {
        namespace: "ns".into(),
        name: name.into(),
    }
}

fn read(version: &str) -> SecretRead {
    SecretRead {
        version: Some(version.into()),
        data: BTreeMap::new(),
    }
}

fn registration(name: &str, revision: &str) -> WatchRegistration {
    WatchRegistration {
        key: key(name),
        scope: Scope::for_region("ap-southeast-1", "p", None).expect("scope"),
        credentials: Credentials::ak_sk("AK", "SK"),
        host_ids: vec!["h1".into()],
        interval: Duration::from_secs(60),
        revision: revision.into(),
    }
}

#[test]
fn kept_statuses_belong_to_one_object_and_seeds_never_replace_writes() {
    let table = table();
    let key = key("w");
    assert_eq!(table.kept_status(&key, Some("u1")), None);
    table.seed(&key, Some("u1"), Some("1"), &status(1));
    assert_eq!(table.kept_status(&key, Some("u1")), Some(status(1)));
    table.seed(&key, Some("u1"), Some("2"), &status(2));
    assert_eq!(
        table.kept_status(&key, Some("u1")),
        Some(status(2)),
        "a seen status follows the watch"
    );
    table.remember_write(&key, Some("u1"), Some("4".into()), &status(4));
    table.seed(&key, Some("u1"), Some("3"), &status(3));
    assert_eq!(
        table.kept_status(&key, Some("u1")),
        Some(status(4)),
        "a stale watch event does not replace what was written"
    );
    table.seed(&key, Some("u1"), Some("4"), &status(99));
    assert_eq!(
        table.kept_status(&key, Some("u1")),
        Some(status(4)),
        "caught up"
    );
    table.seed(&key, Some("u1"), Some("5"), &status(5));
    assert_eq!(
        table.kept_status(&key, Some("u1")),
        Some(status(5)),
        "newer than the write"
    );
    // A re-created object (new uid) has nothing kept until its own status is seen.
    assert_eq!(table.kept_status(&key, Some("u2")), None);
    table.seed(&key, Some("u2"), Some("9"), &status(7));
    assert_eq!(table.kept_status(&key, Some("u2")), Some(status(7)));
    table.forget(&key);
    assert_eq!(table.kept_status(&key, Some("u2")), None);
    assert!(table.is_empty());
}

#[test]
fn a_secret_is_read_once_per_version_and_changes_reach_the_watches_that_read_it() {
    let table = table();
    let creds = secret("creds");
    // Nothing kept: the first use reads.
    let ticket = table
        .cached_secret(&key("a"), Some("ua"), &creds)
        .expect_err("nothing kept yet");
    table.store_secret(creds.clone(), read("5"), ticket);
    assert_eq!(
        table.cached_secret(&key("a"), Some("ua"), &creds),
        Ok(read("5"))
    );
    assert_eq!(
        table.cached_secret(&key("b"), Some("ub"), &creds),
        Ok(read("5")),
        "a second watch of the Secret shares the read"
    );
    // The same version seen again (a re-list) is no change.
    assert!(table.secret_seen(&creds, Some("5")).is_empty());
    // Another Secret of the namespace, or one nobody read, triggers nothing.
    assert!(table.secret_seen(&secret("other"), Some("1")).is_empty());
    // A new version: both watches are triggered, and the next use reads again.
    let mut touched = table.secret_seen(&creds, Some("6"));
    touched.sort();
    assert_eq!(touched, vec![key("a"), key("b")]);
    assert!(
        table.secret_seen(&creds, Some("7")).is_empty(),
        "already outdated: the triggered reconciles read the newest"
    );
    let ticket = table
        .cached_secret(&key("a"), Some("ua"), &creds)
        .expect_err("outdated");
    table.store_secret(creds.clone(), read("7"), ticket);
    assert_eq!(
        table.cached_secret(&key("b"), Some("ub"), &creds),
        Ok(read("7"))
    );
    // A deletion is a change too.
    assert_eq!(table.secret_seen(&creds, None).len(), 2);
}

#[test]
fn a_change_reported_while_a_read_runs_is_not_lost() {
    let table = table();
    let creds = secret("creds");
    let ticket = table
        .cached_secret(&key("a"), Some("ua"), &creds)
        .expect_err("nothing kept yet");
    // The Secret changes after the GET was served but before its answer is stored.
    assert_eq!(
        table.secret_seen(&creds, Some("6")),
        vec![key("a")],
        "the reconcile is triggered again"
    );
    table.store_secret(creds.clone(), read("5"), ticket);
    assert!(
        table.cached_secret(&key("a"), Some("ua"), &creds).is_err(),
        "the read that may have missed the change is outdated at once"
    );
}

#[test]
fn a_relist_that_misses_a_read_secret_outdates_it() {
    let table = table();
    let (creds, other) = (secret("creds"), secret("other"));
    for (watch, secret) in [("a", &creds), ("b", &other)] {
        let ticket = table
            .cached_secret(&key(watch), None, secret)
            .expect_err("first read");
        table.store_secret(secret.clone(), read("1"), ticket);
    }
    let listed: HashSet<SecretKey> = [other.clone()].into_iter().collect();
    table.secrets_listed(|ns| ns == "ns", &listed);
    assert!(table.cached_secret(&key("a"), None, &creds).is_err());
    assert!(table.cached_secret(&key("b"), None, &other).is_ok());
}

#[test]
fn forgetting_the_last_reader_of_a_secret_drops_its_data() {
    let table = table();
    let creds = secret("creds");
    for watch in ["a", "b"] {
        if let Err(ticket) = table.cached_secret(&key(watch), None, &creds) {
            table.store_secret(creds.clone(), read("1"), ticket);
        }
    }
    table.forget(&key("a"));
    assert_eq!(table.secrets_kept(), 1);
    table.forget(&key("b"));
    assert_eq!(table.secrets_kept(), 0);
    // A watch moving to another Secret lets go of the old one as well.
    if let Err(ticket) = table.cached_secret(&key("c"), None, &creds) {
        table.store_secret(creds.clone(), read("1"), ticket);
    }
    let _ = table.cached_secret(&key("c"), None, &secret("new"));
    assert!(table.cached_secret(&key("d"), None, &creds).is_err());
}

#[tokio::test]
async fn registrations_are_made_once_per_revision_and_updates_of_other_revisions_dropped() {
    let table = table();
    let hss = HssClient::new(ClientConfig::default()).expect("client");
    let poller = table.start_poller(&hss, PollerOptions::default(), 1);
    table.register(Some("u"), registration("w", "r1"));
    assert_eq!(poller.handle().registered(), vec![key("w")]);
    assert_eq!(
        table.registered_interval(&key("w")),
        Some(Duration::from_secs(60))
    );
    let update = |revision: &str, at: tokio::time::Instant| WatchUpdate {
        key: key("w"),
        revision: revision.into(),
        outcome: Ok(Default::default()),
        at,
        oldest_data: None,
        target_interval: Duration::from_secs(60),
        effective_interval: None,
        smoothed_interval: None,
        lag: Duration::ZERO,
    };
    let t0 = tokio::time::Instant::now();
    table.keep_unapplied(&key("w"), update("r1", t0));
    assert_eq!(table.next_update(&key("w")).map(|u| u.at), Some(t0));
    assert!(table.next_update(&key("w")).is_none(), "applied once");
    table.keep_unapplied(&key("w"), update("r1", t0));
    table.register(Some("u"), registration("w", "r2"));
    assert!(
        table.next_update(&key("w")).is_none(),
        "an update of an older revision is dropped"
    );
    table.unregister(&key("w"));
    assert!(poller.handle().registered().is_empty());
    table.stop_poller();
}

#[tokio::test]
async fn the_poller_is_held_until_every_listed_watch_was_looked_at() {
    let table = table();
    let hss = HssClient::new(ClientConfig::default()).expect("client");
    let poller = table.start_poller(&hss, PollerOptions::default(), 2);
    let held = || poller.handle().is_held();
    assert!(held());
    // A reconcile may finish before its scope's list is reported.
    table.settled(&key("early"));
    table.initial_list([key("early"), key("a"), key("b")]);
    assert!(held(), "one scope still to list");
    table.initial_list(Vec::<WatchKey>::new());
    assert!(held(), "a and b not looked at yet");
    table.settled(&key("a"));
    table.forget(&key("b"));
    assert!(
        !held(),
        "released once every listed watch was looked at or is gone"
    );
    // A later start is held again; its bound ends the hold whatever is missing.
    let poller = table.start_poller(&hss, PollerOptions::default(), 1);
    assert!(poller.handle().is_held());
    table.end_startup_hold();
    assert!(!poller.handle().is_held());
    table.stop_poller();
}

#[tokio::test]
async fn prune_forgets_what_a_late_reconcile_left_of_a_deleted_watch() {
    let table = table();
    let metrics = table.metrics.clone();
    for name in ["kept", "deleted"] {
        metrics.set_watch_schedule("ns", name, Duration::from_secs(60), Duration::ZERO);
        table.remember_write(&key(name), None, None, &status(1));
    }
    table.prune(|_| true, |k| k.name == "kept");
    assert_eq!(metrics.watches(), vec![("ns".into(), "kept".into())]);
    assert_eq!(table.keys(), vec![key("kept")]);
    // Another namespace's controller leaves this one's watches alone.
    metrics.set_watch_schedule("ns", "deleted", Duration::from_secs(60), Duration::ZERO);
    table.prune(|k| k.namespace == "other", |_| false);
    assert_eq!(metrics.watches().len(), 2);
}

#[tokio::test]
async fn other_host_ids_under_the_same_revision_register_again() {
    let table = table();
    let hss = HssClient::new(ClientConfig::default()).expect("client");
    let poller = table.start_poller(&hss, PollerOptions::default(), 0);
    table.register(Some("u1"), registration("w", "r1"));
    let group = poller.handle().group_of(&key("w")).expect("registered");
    let ids = || {
        poller
            .handle()
            .stats()
            .groups
            .get(&group)
            .map(|g| g.unique_ids)
    };
    assert_eq!(ids(), Some(1));
    let mut more = registration("w", "r1");
    more.host_ids.push("h2".into());
    table.register(Some("u1"), more);
    assert_eq!(
        ids(),
        Some(2),
        "the same revision with another id reaches the poller"
    );
    table.stop_poller();
}
