//! Watching the group tasks: a group task that panics would otherwise stop polling for its
//! watches without a word (its slot stays, so no new task is started for it). The poller
//! reports the first such death instead, and the controller ends the process (exit 1, the
//! pod restarts), as it does when a controller stream dies.

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The first group task that died, by group name (`None` while all are well).
#[derive(Debug)]
pub(crate) struct Deaths {
    first: watch::Sender<Option<String>>,
}

impl Default for Deaths {
    fn default() -> Self {
        Self {
            first: watch::channel(None).0,
        }
    }
}

impl Deaths {
    fn report(&self, group: String) {
        self.first.send_if_modified(|first| {
            if first.is_some() {
                return false;
            }
            *first = Some(group);
            true
        });
    }

    /// Resolves with the name of the first group whose task died (now, if one already has).
    pub fn first(&self) -> impl std::future::Future<Output = String> + Send + 'static {
        let mut seen = self.first.subscribe();
        async move {
            let first = seen
                .wait_for(Option::is_some)
                .await
                .map(|group| group.clone().unwrap_or_default());
            match first {
                Ok(group) => group,
                // The poller is gone: nothing can die any more.
                Err(_) => std::future::pending().await,
            }
        }
    }
}

/// Awaits `task` (the task of `group`) and reports it to `deaths` when it panicked or was
/// aborted while the poller was not stopping. A task that returns has simply run out of
/// watches.
pub(crate) async fn supervise(
    task: JoinHandle<()>,
    group: String,
    cancel: CancellationToken,
    deaths: std::sync::Arc<Deaths>,
) {
    if let Err(error) = task.await {
        if cancel.is_cancelled() {
            return;
        }
        tracing::error!(%group, panicked = error.is_panic(), "poller group task died; its watches are no longer polled");
        deaths.report(group);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_panicking_group_task_is_reported_once_by_name() {
        let deaths = Arc::new(Deaths::default());
        let cancel = CancellationToken::new();
        let first = deaths.first();
        let panicking = tokio::spawn(async { panic!("planner bug") });
        supervise(panicking, "g1".into(), cancel.clone(), deaths.clone()).await;
        let again = tokio::spawn(async { panic!("another") });
        supervise(again, "g2".into(), cancel, deaths.clone()).await;
        assert_eq!(first.await, "g1");
        assert_eq!(deaths.first().await, "g1", "a late waiter hears of it too");
    }

    #[tokio::test]
    async fn tasks_that_end_or_die_during_shutdown_are_not_deaths() {
        let deaths = Arc::new(Deaths::default());
        let cancel = CancellationToken::new();
        supervise(
            tokio::spawn(async {}),
            "done".into(),
            cancel.clone(),
            deaths.clone(),
        )
        .await;
        cancel.cancel();
        let aborted = tokio::spawn(std::future::pending::<()>());
        aborted.abort();
        supervise(aborted, "stopping".into(), cancel, deaths.clone()).await;
        let heard = tokio::time::timeout(Duration::from_millis(50), deaths.first()).await;
        assert!(heard.is_err(), "no death reported");
    }
}
