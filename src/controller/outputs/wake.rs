//! Reconcile triggers an output raises outside a reconcile (what it watches changed): each
//! controller subscribes with its namespace scope, and every key is delivered to the
//! subscribers whose scope holds it, at most once until read.

use std::sync::{Arc, Mutex, MutexGuard};

use futures::stream::{BoxStream, StreamExt};
use kube::runtime::reflector::ObjectRef;

use crate::crd::{HostRiskWatch, WatchKey};
use crate::poller::KeyQueue;

#[derive(Default)]
pub struct Wake {
    subscribers: Mutex<Vec<(Option<String>, Arc<KeyQueue>)>>,
}

impl Wake {
    fn lock(&self) -> MutexGuard<'_, Vec<(Option<String>, Arc<KeyQueue>)>> {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The watches of `scope` (`None`: all namespaces) to reconcile, until [`Wake::close`].
    pub fn subscribe(&self, scope: Option<&str>) -> BoxStream<'static, ObjectRef<HostRiskWatch>> {
        let queue = Arc::new(KeyQueue::default());
        self.lock()
            .push((scope.map(str::to_string), Arc::clone(&queue)));
        queue.stream().map(|key| key.object_ref()).boxed()
    }

    /// Asks for a reconcile of `key`.
    pub fn wake(&self, key: &WatchKey) {
        for (scope, queue) in self.lock().iter() {
            if scope.as_ref().is_none_or(|ns| *ns == key.namespace) {
                queue.push(key);
            }
        }
    }

    /// Ends every subscription (the controllers stopped).
    pub fn close(&self) {
        for (_, queue) in self.lock().drain(..) {
            queue.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_reach_the_subscribers_of_their_namespace() {
        let wake = Wake::default();
        let mut all = wake.subscribe(None);
        let mut team_a = wake.subscribe(Some("team-a"));
        wake.wake(&WatchKey::new("team-b", "w"));
        wake.wake(&WatchKey::new("team-a", "w"));
        wake.close();
        let all: Vec<_> = all.by_ref().collect::<Vec<_>>().await;
        let team_a: Vec<_> = team_a.by_ref().collect::<Vec<_>>().await;
        assert_eq!(all.len(), 2);
        assert_eq!(team_a, vec![WatchKey::new("team-a", "w").object_ref()]);
    }
}
