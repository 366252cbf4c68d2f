//! Request counters and run-time fault switches.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// What a counted request did: audit-style verb, resource plural, subresource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestKey {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`.
    pub verb: String,
    /// Resource plural (or `discovery`).
    pub resource: String,
    /// `status`, or "" for the main resource.
    pub subresource: String,
}

#[derive(Default)]
struct Switches {
    unavailable_until: Option<Instant>,
    expire_next_watches: u32,
    conflicts: HashMap<String, u32>,
    /// Pending 429 answers per `resource` or `resource/subresource`, with their Retry-After.
    throttles: HashMap<String, (u32, u32)>,
    /// Verbs refused (403) per `resource` or `resource/subresource`, as RBAC without a rule
    /// for them would.
    forbidden: HashMap<String, BTreeSet<String>>,
}

/// Shared counters and fault switches.
pub struct Faults {
    counts: Mutex<BTreeMap<RequestKey, u64>>,
    /// Requests answered 403 by the authorizer or [`Faults::forbid`].
    refused: Mutex<BTreeMap<RequestKey, u64>>,
    switches: Mutex<Switches>,
    /// Bumped to end every open watch stream.
    pub drop_epoch: watch::Sender<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            counts: Mutex::default(),
            refused: Mutex::default(),
            switches: Mutex::default(),
            drop_epoch: watch::channel(0).0,
        }
    }
}

impl Faults {
    /// Counts one request.
    pub fn count(&self, verb: &str, resource: &str, subresource: &str) {
        if let Ok(mut c) = self.counts.lock() {
            let key = RequestKey {
                verb: verb.into(),
                resource: resource.into(),
                subresource: subresource.into(),
            };
            *c.entry(key).or_default() += 1;
        }
    }

    /// Counts one request refused (403).
    pub fn count_refused(&self, verb: &str, resource: &str, subresource: &str) {
        if let Ok(mut c) = self.refused.lock() {
            let key = RequestKey {
                verb: verb.into(),
                resource: resource.into(),
                subresource: subresource.into(),
            };
            *c.entry(key).or_default() += 1;
        }
    }

    /// Refused requests so far.
    pub fn refused(&self) -> BTreeMap<RequestKey, u64> {
        self.refused.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// All counts so far.
    pub fn counts(&self) -> BTreeMap<RequestKey, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Ends every open watch stream (the clients see the response body end).
    pub fn drop_watches(&self) {
        self.drop_epoch.send_modify(|e| *e += 1);
    }

    /// The next `n` watch requests that resume from a resourceVersion get a 410 ERROR event.
    pub fn expire_next_watches(&self, n: u32) {
        if let Ok(mut s) = self.switches.lock() {
            s.expire_next_watches += n;
        }
    }

    /// Takes one pending forced expiry, if any.
    pub fn take_expiry(&self) -> bool {
        let Ok(mut s) = self.switches.lock() else {
            return false;
        };
        if s.expire_next_watches > 0 {
            s.expire_next_watches -= 1;
            return true;
        }
        false
    }

    /// The next `n` writes to `resource` (plural) answer 409 Conflict.
    pub fn conflict_next_writes(&self, resource: &str, n: u32) {
        if let Ok(mut s) = self.switches.lock() {
            *s.conflicts.entry(resource.to_string()).or_default() += n;
        }
    }

    /// Takes one pending forced conflict for `resource`, if any.
    pub fn take_conflict(&self, resource: &str) -> bool {
        let Ok(mut s) = self.switches.lock() else {
            return false;
        };
        match s.conflicts.get_mut(resource) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// The next `n` requests to `resource` (a plural: any verb and subresource; or
    /// `plural/subresource`) answer 429 with `Retry-After: retry_after_seconds`.
    pub fn throttle_next(&self, resource: &str, n: u32, retry_after_seconds: u32) {
        if let Ok(mut s) = self.switches.lock() {
            let entry = s
                .throttles
                .entry(resource.to_string())
                .or_insert((0, retry_after_seconds));
            entry.0 += n;
            entry.1 = retry_after_seconds;
        }
    }

    /// Takes one pending 429 for this request, if any: its Retry-After.
    pub fn take_throttle(&self, _verb: &str, resource: &str, subresource: &str) -> Option<u32> {
        let mut s = self.switches.lock().ok()?;
        let keys = [format!("{resource}/{subresource}"), resource.to_string()];
        for key in keys.iter().filter(|k| !k.ends_with('/')) {
            if let Some((n, after)) = s.throttles.get_mut(key) {
                if *n > 0 {
                    *n -= 1;
                    return Some(*after);
                }
            }
        }
        None
    }

    /// Requests with one of `verbs` on `resource` (a plural, or `plural/subresource`: `nodes`
    /// does not cover `nodes/status`, as in RBAC) answer 403 Forbidden from now on (an empty
    /// list allows them again). Open watches go on, as with RBAC: authorization is checked when
    /// a request starts.
    pub fn forbid(&self, resource: &str, verbs: &[&str]) {
        if let Ok(mut s) = self.switches.lock() {
            let verbs: BTreeSet<String> = verbs.iter().map(|v| v.to_string()).collect();
            if verbs.is_empty() {
                s.forbidden.remove(resource);
            } else {
                s.forbidden.insert(resource.to_string(), verbs);
            }
        }
    }

    /// Whether `verb` on `resource` (`subresource` "" for the main resource) is refused.
    pub fn is_forbidden(&self, verb: &str, resource: &str, subresource: &str) -> bool {
        let key = if subresource.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}/{subresource}")
        };
        self.switches
            .lock()
            .map(|s| s.forbidden.get(&key).is_some_and(|v| v.contains(verb)))
            .unwrap_or(false)
    }

    /// Every request answers 503 for `d`, and open watches are dropped now.
    pub fn unavailable_for(&self, d: Duration) {
        if let Ok(mut s) = self.switches.lock() {
            s.unavailable_until = Some(Instant::now() + d);
        }
        self.drop_watches();
    }

    /// Whether the server currently plays unavailable.
    pub fn is_unavailable(&self) -> bool {
        self.switches
            .lock()
            .map(|s| s.unavailable_until.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false)
    }
}
