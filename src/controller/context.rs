//! What every reconcile shares: the Kubernetes and HSS clients, the settings, the watch table
//! and the health and metrics the operator reports. Tests build it with the stand-in API
//! server's client and an HSS client pointed at the simulator.

use std::sync::Arc;

use kube::runtime::events::Reporter;

use super::health::Health;
use super::node_cache::NodeCache;
use super::settings::{ControllerSettings, PollingMode, CONTROLLER_NAME};
use super::state::WatchTable;
use crate::hss::HssClient;
use crate::metrics::{Metrics, MetricsOptions};
use crate::poller::{Grouping, PollerOptions};

pub struct Context {
    pub client: kube::Client,
    pub hss: HssClient,
    pub settings: ControllerSettings,
    /// Everything kept about each watch, the running poller included.
    pub state: WatchTable,
    /// The cluster's Nodes, for node-backed watches (refusing them unless a Node watch runs).
    pub nodes: NodeCache,
    pub health: Arc<Health>,
    /// The Prometheus registry served on `/metrics`.
    pub metrics: Metrics,
}

impl Context {
    /// A context with default metrics options (no per-host series).
    pub fn new(client: kube::Client, hss: HssClient, settings: ControllerSettings) -> Self {
        Self::with_metrics(
            client,
            hss,
            settings,
            Metrics::new(MetricsOptions::default()),
        )
    }

    /// A context reporting to `metrics`. The HSS client reports its requests there too (the
    /// first metrics attached to a client win), and its rate limiter's use per credential is
    /// read at each scrape; the poller records the quota waits.
    pub fn with_metrics(
        client: kube::Client,
        hss: HssClient,
        settings: ControllerSettings,
        metrics: Metrics,
    ) -> Self {
        hss.attach_observer(Arc::new(metrics.clone()), false);
        metrics.observe_quota(hss.rate_limiter().clone());
        Self {
            client,
            hss,
            state: WatchTable::new(metrics.clone()),
            nodes: NodeCache::default(),
            health: Arc::new(Health::default()),
            metrics,
            settings,
        }
    }

    /// How the poller is set up for these settings: the client's quota, the controller's
    /// retry timing, `--concurrency` calls in flight, and the grouping of the polling mode.
    pub fn poller_options(&self) -> PollerOptions {
        let grouping = match self.settings.polling {
            PollingMode::Batched => Grouping::Shared,
            PollingMode::PerWatch => Grouping::PerWatch,
        };
        let base = PollerOptions::matching(self.hss.config());
        PollerOptions {
            metrics: Some(self.metrics.clone()),
            backoff_base: self.settings.backoff.base,
            backoff_floor: self.settings.backoff.floor,
            max_calls_in_flight: usize::from(self.settings.concurrency.max(1)),
            grouping,
            // One call per watch: nothing to gather or fill ahead with.
            gather: match grouping {
                Grouping::Shared => base.gather,
                Grouping::PerWatch => std::time::Duration::ZERO,
            },
            fill_ahead: grouping == Grouping::Shared,
            ..base
        }
    }

    /// The reporter stamped on every Event.
    pub fn reporter(&self) -> Reporter {
        Reporter {
            controller: CONTROLLER_NAME.to_string(),
            instance: Some(self.settings.instance.clone()),
        }
    }
}
