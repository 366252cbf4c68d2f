//! Delivery of "this watch has a new update" to subscribers without loss and without unbounded
//! growth: each subscriber has a queue that holds a key at most once until it is read, so a
//! slow reader sees each changed watch once (its latest update is read from the poller).

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::stream::{BoxStream, StreamExt};
use tokio::sync::Notify;

use super::types::WatchKey;

#[derive(Debug, Default)]
struct Inner {
    order: VecDeque<WatchKey>,
    pending: HashSet<WatchKey>,
    closed: bool,
}

/// The queue of one subscriber.
#[derive(Debug, Default)]
pub(crate) struct KeyQueue {
    inner: Mutex<Inner>,
    notify: Notify,
}

impl KeyQueue {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every mutation is a push/pop pair that cannot be left half done by a panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push(&self, key: &WatchKey) {
        let mut inner = self.lock();
        if inner.pending.insert(key.clone()) {
            inner.order.push_back(key.clone());
            drop(inner);
            self.notify.notify_one();
        }
    }

    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    fn pop(&self) -> Option<Option<WatchKey>> {
        let mut inner = self.lock();
        if let Some(key) = inner.order.pop_front() {
            inner.pending.remove(&key);
            return Some(Some(key));
        }
        inner.closed.then_some(None)
    }

    /// The keys as a stream; it ends when the poller stops.
    pub fn stream(self: Arc<Self>) -> BoxStream<'static, WatchKey> {
        futures::stream::unfold(self, |queue| async move {
            loop {
                match queue.pop() {
                    Some(Some(key)) => return Some((key, queue)),
                    Some(None) => return None,
                    // notify_one keeps a permit when nobody waits, so a push between pop and
                    // here is not missed.
                    None => queue.notify.notified().await,
                }
            }
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_delivered_once_until_read_and_the_stream_ends_on_close() {
        let queue = Arc::new(KeyQueue::default());
        let a = WatchKey::new("ns", "a");
        let b = WatchKey::new("ns", "b");
        queue.push(&a);
        queue.push(&b);
        queue.push(&a);
        let mut stream = Arc::clone(&queue).stream();
        assert_eq!(stream.next().await, Some(a.clone()));
        assert_eq!(stream.next().await, Some(b));
        queue.push(&a);
        assert_eq!(stream.next().await, Some(a));
        queue.close();
        assert_eq!(stream.next().await, None);
    }
}
