use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::crd::{HostRiskWatchSpec, HostRiskWatchStatus, HostStatus};
use crate::hss::{ClientConfig, Credentials, Scope};

/// Records what the table tells it.
#[derive(Default)]
struct Forgotten(Mutex<Vec<WatchKey>>);

impl WatchScoped for Forgotten {
    fn forget(&self, key: &WatchKey) {
        self.0.lock().expect("lock").push(key.clone());
    }
}

fn table() -> (WatchTable, Arc<Forgotten>) {
    let forgotten = Arc::new(Forgotten::default());
    let scoped = Arc::clone(&forgotten) as Arc<dyn WatchScoped>;
    (WatchTable::new(vec![scoped]), forgotten)
}

fn key(name: &str) -> WatchKey {
    WatchKey::new("ns", name)
}

fn watch(
    name: &str,
    uid: &str,
    version: &str,
    status: Option<HostRiskWatchStatus>,
) -> HostRiskWatch {
    let spec: HostRiskWatchSpec = serde_json::from_value(serde_json::json!({
        "projectId": "p", "region": "ap-southeast-1",
        "credentialsSecretRef": {"name": "s"}, "hostIds": ["h1"],
    }))
    .expect("spec");
    let mut w = HostRiskWatch::new(name, spec);
    w.metadata.namespace = Some("ns".into());
    w.metadata.uid = Some(uid.into());
    w.metadata.resource_version = Some(version.into());
    w.status = status;
    w
}

fn status(generation: i64, hosts: &[&str]) -> HostRiskWatchStatus {
    HostRiskWatchStatus {
        observed_generation: Some(generation),
        hosts: hosts
            .iter()
            .map(|id| HostStatus {
                host_id: id.to_string(),
                found: true,
                ..HostStatus::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn kept(table: &WatchTable, name: &str, uid: &str) -> Option<HostRiskWatchStatus> {
    table
        .previous(&key(name), Some(uid))
        .flatten()
        .map(|s| s.to_crd())
}

fn written(generation: i64, hosts: &[&str]) -> Arc<WatchStatus> {
    Arc::new(WatchStatus::from_crd(&status(generation, hosts), |_| None))
}

#[test]
fn entries_begin_with_the_watch_event_and_reconciles_never_make_one() {
    let (table, _) = table();
    assert_eq!(table.previous(&key("w"), Some("u1")), None);
    // What a reconcile of a watch the table does not hold would do: all refused.
    table.remember_write(&key("w"), Some("u1"), Some("1".into()), written(1, &["h1"]));
    assert_eq!(table.while_present(&key("w"), Some("u1"), || ()), None);
    let secret = SecretKey {
        namespace: "ns".into(),
        name: "s".into(),
    };
    assert!(table
        .cached_secret(&key("w"), Some("u1"), &secret)
        .is_none());
    assert_eq!(table.record_failure(&key("w")), 1);
    assert!(
        table.is_empty(),
        "nothing but the watch event makes an entry"
    );
    table.observe(&watch("w", "u1", "1", None));
    assert_eq!(table.previous(&key("w"), Some("u1")), Some(None));
    assert_eq!(table.while_present(&key("w"), Some("u1"), || 7), Some(7));
    assert_eq!(
        table.while_present(&key("w"), Some("u2"), || 7),
        None,
        "another object of the same name is not the one held"
    );
}

#[test]
fn kept_statuses_follow_the_watch_and_never_replace_this_process_writes() {
    let (table, _) = table();
    table.observe(&watch("w", "u1", "1", Some(status(1, &["a"]))));
    assert_eq!(kept(&table, "w", "u1"), Some(status(1, &["a"])));
    table.observe(&watch("w", "u1", "2", Some(status(2, &["b"]))));
    assert_eq!(
        kept(&table, "w", "u1"),
        Some(status(2, &["b"])),
        "a seen status follows the watch"
    );
    table.remember_write(
        &key("w"),
        Some("u1"),
        Some("4".into()),
        written(4, &["newer"]),
    );
    table.observe(&watch("w", "u1", "3", Some(status(3, &["older"]))));
    assert_eq!(
        kept(&table, "w", "u1"),
        Some(status(4, &["newer"])),
        "a stale watch event does not replace what was written"
    );
    table.observe(&watch("w", "u1", "4", Some(status(99, &[]))));
    assert_eq!(
        kept(&table, "w", "u1"),
        Some(status(4, &["newer"])),
        "caught up"
    );
    // What follows is newer, e.g. the last write of a previous leader still draining.
    table.observe(&watch("w", "u1", "5", Some(status(5, &["newest"]))));
    assert_eq!(kept(&table, "w", "u1"), Some(status(5, &["newest"])));
}

#[test]
fn a_re_created_object_starts_from_nothing_and_the_old_one_is_let_go() {
    let (table, forgotten) = table();
    table.observe(&watch("w", "u1", "1", Some(status(1, &["a"]))));
    table.observe(&watch("w", "u2", "9", Some(status(7, &["b"]))));
    assert_eq!(forgotten.0.lock().expect("lock").as_slice(), &[key("w")]);
    assert_eq!(kept(&table, "w", "u1"), None);
    assert_eq!(kept(&table, "w", "u2"), Some(status(7, &["b"])));
    // A late Delete of the old object leaves the new one alone.
    table.remove(&key("w"), Some("u1"));
    assert!(table.contains(&key("w")));
    table.remove(&key("w"), Some("u2"));
    assert!(table.is_empty());
    assert_eq!(forgotten.0.lock().expect("lock").len(), 2);
}

/// Records the objects the table takes up.
#[derive(Default)]
struct Begun(Mutex<Vec<(WatchKey, Option<String>)>>);

impl WatchScoped for Begun {
    fn began(&self, watch: &HostRiskWatch, _hosts: &[HostRecord]) {
        let taken = WatchKey::of(watch).map(|key| (key, watch.metadata.uid.clone()));
        self.0.lock().expect("lock").extend(taken);
    }

    fn forget(&self, _key: &WatchKey) {}
}

#[test]
fn what_follows_a_watch_begins_once_per_object_the_table_takes_up() {
    let begun = Arc::new(Begun::default());
    let table = WatchTable::new(vec![Arc::clone(&begun) as Arc<dyn WatchScoped>]);
    table.observe(&watch("w", "u1", "1", None));
    table.observe(&watch("w", "u1", "2", Some(status(1, &["a"]))));
    // Re-created under another uid, then deleted and created again.
    table.observe(&watch("w", "u2", "3", None));
    table.remove(&key("w"), Some("u2"));
    table.observe(&watch("w", "u3", "4", None));
    let taken = |uid: &str| (key("w"), Some(uid.to_string()));
    assert_eq!(
        begun.0.lock().expect("lock").as_slice(),
        &[taken("u1"), taken("u2"), taken("u3")]
    );
}

#[test]
fn a_relist_lets_go_of_what_it_no_longer_has_in_its_scope_only() {
    let (table, forgotten) = table();
    table.observe(&watch("kept", "u1", "1", None));
    table.observe(&watch("deleted", "u2", "1", None));
    let mut elsewhere = watch("other", "u3", "1", None);
    elsewhere.metadata.namespace = Some("other".into());
    table.observe(&elsewhere);
    table.relisted(|k| k.namespace == "ns", |k| k.name == "kept");
    assert_eq!(
        forgotten.0.lock().expect("lock").as_slice(),
        &[key("deleted")]
    );
    assert!(table.contains(&key("kept")) && table.contains(&WatchKey::new("other", "other")));
    assert_eq!(table.len(), 2);
}

fn read(version: &str) -> SecretRead {
    SecretRead {
        version: Some(version.into()),
        data: BTreeMap::new(),
    }
}

fn secret(name: &str) -> SecretKey {
    SecretKey {
        namespace: "ns".into(),
        name: name.into(),
    }
}

fn held(names: &[&str]) -> WatchTable {
    let (table, _) = table();
    for name in names {
        table.observe(&watch(name, &format!("u-{name}"), "1", None));
    }
    table
}

fn cached(table: &WatchTable, name: &str, secret: &SecretKey) -> Result<SecretRead, ReadTicket> {
    table
        .cached_secret(&key(name), Some(&format!("u-{name}")), secret)
        .expect("held")
}

#[test]
fn a_secret_is_read_once_per_version_and_changes_reach_the_watches_that_read_it() {
    let table = held(&["a", "b"]);
    let creds = secret("creds");
    let ticket = cached(&table, "a", &creds).expect_err("nothing kept yet");
    table.store_secret(creds.clone(), read("5"), ticket);
    assert_eq!(cached(&table, "a", &creds), Ok(read("5")));
    assert_eq!(
        cached(&table, "b", &creds),
        Ok(read("5")),
        "a second watch of the Secret shares the read"
    );
    // The same version seen again (a re-list) is no change.
    assert!(table.secret_seen(&creds, Some("5")).is_empty());
    // Another Secret of the namespace, or one nobody read, triggers nothing.
    assert!(table.secret_seen(&secret("other"), Some("1")).is_empty());
    // A new version: both watches are triggered, and the next use reads again.
    assert_eq!(
        table.secret_seen(&creds, Some("6")),
        vec![key("a"), key("b")]
    );
    assert!(
        table.secret_seen(&creds, Some("7")).is_empty(),
        "already outdated: the triggered reconciles read the newest"
    );
    let ticket = cached(&table, "a", &creds).expect_err("outdated");
    table.store_secret(creds.clone(), read("7"), ticket);
    assert_eq!(cached(&table, "b", &creds), Ok(read("7")));
    // A deletion is a change too.
    assert_eq!(table.secret_seen(&creds, None).len(), 2);
}

#[test]
fn a_change_reported_while_a_read_runs_is_not_lost() {
    let table = held(&["a"]);
    let creds = secret("creds");
    let ticket = cached(&table, "a", &creds).expect_err("nothing kept yet");
    // The Secret changes after the GET was served but before its answer is stored.
    assert_eq!(
        table.secret_seen(&creds, Some("6")),
        vec![key("a")],
        "the reconcile is triggered again"
    );
    table.store_secret(creds.clone(), read("5"), ticket);
    assert!(
        cached(&table, "a", &creds).is_err(),
        "the read that may have missed the change is outdated at once"
    );
}

#[test]
fn a_relist_that_misses_a_read_secret_outdates_it() {
    let table = held(&["a", "b"]);
    let (creds, other) = (secret("creds"), secret("other"));
    for (watch, secret) in [("a", &creds), ("b", &other)] {
        let ticket = cached(&table, watch, secret).expect_err("first read");
        table.store_secret(secret.clone(), read("1"), ticket);
    }
    let listed: HashSet<SecretKey> = [other.clone()].into_iter().collect();
    table.secrets_listed(|ns| ns == "ns", &listed);
    assert!(cached(&table, "a", &creds).is_err());
    assert!(cached(&table, "b", &other).is_ok());
}

#[test]
fn the_last_reader_of_a_secret_going_drops_its_data() {
    let table = held(&["a", "b", "c", "d"]);
    let creds = secret("creds");
    for watch in ["a", "b"] {
        if let Err(ticket) = cached(&table, watch, &creds) {
            table.store_secret(creds.clone(), read("1"), ticket);
        }
    }
    table.remove(&key("a"), Some("u-a"));
    assert_eq!(table.secrets_kept(), 1);
    table.remove(&key("b"), Some("u-b"));
    assert_eq!(table.secrets_kept(), 0);
    // A read that ends after its watch went keeps nothing.
    let ticket = cached(&table, "c", &creds).expect_err("first read");
    table.remove(&key("c"), Some("u-c"));
    table.store_secret(creds.clone(), read("1"), ticket);
    assert_eq!(table.secrets_kept(), 0);
    // A watch moving to another Secret lets go of the old one as well.
    if let Err(ticket) = cached(&table, "d", &creds) {
        table.store_secret(creds.clone(), read("1"), ticket);
    }
    let _ = cached(&table, "d", &secret("new"));
    assert_eq!(table.secrets_kept(), 1);
}

fn registration(name: &str, revision: &str) -> WatchRegistration {
    WatchRegistration {
        key: key(name),
        scope: Scope::for_region("ap-southeast-1", "p", None).expect("scope"),
        credentials: Credentials::ak_sk("AK", "SK"),
        host_ids: ["h1".into()].into(),
        interval: Duration::from_secs(60),
        revision: revision.into(),
    }
}

#[tokio::test]
async fn registrations_follow_the_entry_and_go_with_it() {
    let (table, _) = table();
    let hss = HssClient::new(ClientConfig::default()).expect("client");
    let poller = table.start_poller(&hss, PollerOptions::default(), 0);
    assert!(
        !table.register(Some("u"), registration("w", "r1")),
        "no entry: refused"
    );
    assert!(poller.handle().registered().is_empty());
    table.observe(&watch("w", "u", "1", None));
    assert!(!table.register(Some("other"), registration("w", "r1")));
    assert!(table.register(Some("u"), registration("w", "r1")));
    assert_eq!(poller.handle().registered(), vec![key("w")]);
    table.unregister(&key("w"));
    assert!(poller.handle().registered().is_empty());
    table.register(Some("u"), registration("w", "r2"));
    table.remove(&key("w"), Some("u"));
    assert!(
        poller.handle().registered().is_empty(),
        "gone with the watch"
    );
    table.stop_poller();
}

#[tokio::test]
async fn the_poller_is_held_until_every_listed_watch_was_looked_at() {
    let (table, _) = table();
    let hss = HssClient::new(ClientConfig::default()).expect("client");
    let poller = table.start_poller(&hss, PollerOptions::default(), 2);
    let is_held = || poller.handle().is_held();
    assert!(is_held());
    // A reconcile may finish before its scope's list is reported.
    table.settled(&key("early"));
    table.observe(&watch("b", "ub", "1", None));
    table.initial_list([key("early"), key("a"), key("b")]);
    assert!(is_held(), "one scope still to list");
    table.initial_list(Vec::<WatchKey>::new());
    assert!(is_held(), "a and b not looked at yet");
    table.settled(&key("a"));
    table.remove(&key("b"), Some("ub"));
    assert!(
        !is_held(),
        "released once every listed watch was looked at or is gone"
    );
    // A later start is held again; its bound ends the hold whatever is missing.
    let poller = table.start_poller(&hss, PollerOptions::default(), 1);
    assert!(poller.handle().is_held());
    table.end_startup_hold();
    assert!(!poller.handle().is_held());
    table.stop_poller();
}
