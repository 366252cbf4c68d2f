//! A watch's id list: one list for the spec and the poller when it can be, a copy of its own
//! when it cannot (repeats, ids another watch brought first).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::group::GroupState;
use super::types::{PollerOptions, WatchKey, WatchRegistration};
use crate::hss::{Credentials, Scope};
use crate::status::HostId;

fn reg(name: &str, ids: &Arc<[HostId]>) -> WatchRegistration {
    WatchRegistration {
        key: WatchKey::new("ns", name),
        scope: Scope::for_region("ap-southeast-1", "p", None).expect("scope"),
        credentials: Credentials::ak_sk("AK", "SK"),
        host_ids: Arc::clone(ids),
        interval: Duration::from_secs(60),
        revision: "1".into(),
    }
}

fn list(ids: &[&str]) -> Arc<[HostId]> {
    ids.iter().map(|id| HostId::from(*id)).collect()
}

fn group(first: &WatchRegistration) -> GroupState {
    GroupState::new(first.group_key(), first, PollerOptions::default())
}

fn kept(g: &GroupState, name: &str) -> Arc<[HostId]> {
    let watch = g.watches.get(&WatchKey::new("ns", name)).expect("watch");
    Arc::clone(&watch.ids)
}

#[test]
fn a_list_of_new_ids_without_repeats_is_kept_as_given() {
    let ids = list(&["h1", "h2", "h3"]);
    let first = reg("a", &ids);
    let mut g = group(&first);
    g.upsert(first, Instant::now());
    assert!(Arc::ptr_eq(&kept(&g, "a"), &ids));
}

#[test]
fn repeats_make_a_list_of_its_own_without_them() {
    let ids = list(&["h1", "h2", "h1"]);
    let first = reg("a", &ids);
    let mut g = group(&first);
    g.upsert(first, Instant::now());
    let own = kept(&g, "a");
    assert!(!Arc::ptr_eq(&own, &ids));
    assert_eq!(
        own.iter().map(|id| id.as_str()).collect::<Vec<_>>(),
        ["h1", "h2"]
    );
    assert!(
        HostId::ptr_eq(&own[0], &ids[0]),
        "the ids themselves are shared"
    );
}

#[test]
fn an_id_another_watch_brought_first_is_the_table_s_and_the_list_adopted_later() {
    let now = Instant::now();
    let a = list(&["s", "a1"]);
    let first = reg("a", &a);
    let mut g = group(&first);
    g.upsert(first, now);
    // b's copy of "s" is not the table's allocation: b gets a list of the table's ids.
    let b = list(&["s", "b1"]);
    assert!(g.upsert(reg("b", &b), now));
    let own = kept(&g, "b");
    assert!(!Arc::ptr_eq(&own, &b));
    assert!(HostId::ptr_eq(&own[0], &a[0]));
    // The spec then holds the table's ids (its status shares them): that list is taken, and
    // the registration is still no change.
    let spec: Arc<[HostId]> = own.iter().cloned().collect();
    assert!(!g.upsert(reg("b", &spec), now));
    assert!(Arc::ptr_eq(&kept(&g, "b"), &spec));
    // Equal ids of other allocations are no change either, and the list stays.
    assert!(!g.upsert(reg("b", &list(&["s", "b1"])), now));
    assert!(Arc::ptr_eq(&kept(&g, "b"), &spec));
}

#[test]
fn a_removed_watch_leaves_the_shared_ids_to_the_others() {
    let now = Instant::now();
    let a = list(&["s", "a1"]);
    let first = reg("a", &a);
    let mut g = group(&first);
    g.upsert(first, now);
    g.upsert(reg("b", &list(&["s", "b1"])), now);
    assert!(g.remove(&WatchKey::new("ns", "a")));
    assert_eq!(g.hosts.len(), 2);
    assert_eq!(g.hosts.watchers_of(&["s".into()]).len(), 1);
    // Dropping an id (a Node left) keeps the rest, in a list of its own.
    assert!(!g.upsert(reg("b", &list(&["b1"])), now));
    assert_eq!(g.hosts.len(), 1);
    assert_eq!(kept(&g, "b").len(), 1);
}
