//! What every reconcile shares: the Kubernetes and HSS clients, the settings, the watch table
//! (the one owner of each watch's life), the host and credential sources, the outputs, and the
//! health and metrics the operator reports. Tests build it with the stand-in API server's
//! client and an HSS client pointed at the simulator.

use std::sync::Arc;

use kube::runtime::events::Reporter;

use super::credentials::CredentialSources;
use super::health::Health;
use super::hosts::HostSources;
use super::outputs::events::EventPublisher;
use super::outputs::metrics::WatchMetrics;
use super::outputs::node_conditions::NodeConditions;
use super::outputs::reports::ReportWriter;
use super::outputs::status::StatusWriter;
use super::outputs::{Output, Outputs};
use super::settings::{ControllerSettings, CONTROLLER_NAME};
use super::watches::{WatchScoped, WatchTable};
use crate::hss::HssClient;
use crate::metrics::{Metrics, MetricsOptions};
use crate::poller::PollerOptions;

pub struct Context {
    pub client: kube::Client,
    pub hss: HssClient,
    pub settings: ControllerSettings,
    /// Each watch's life, its kept status and credentials data, and the running poller.
    pub watches: Arc<WatchTable>,
    /// Where watches' hosts come from (their ids, or the cluster's Nodes).
    pub hosts: HostSources,
    /// Where watches' credentials come from (Secrets, workload identity).
    pub credentials: CredentialSources,
    /// Where watches' state goes (status, metrics, Events, policy reports), in order.
    pub outputs: Outputs,
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
        let hosts = HostSources::new(settings.node_watches);
        // Node conditions: fed by the reconciles and by the Node watch.
        let node_conditions = Arc::new(NodeConditions::new(
            settings.node_conditions.clone(),
            settings.status_heartbeat,
            Arc::clone(&hosts.nodes),
            reporter(&settings),
            metrics.clone(),
        ));
        hosts.nodes.observe(node_conditions.clone());
        // The series follow the status as soon as it is written; Events, a round trip to the
        // API server each, come after them (the Nodes' writer only queues), and the policy
        // report (bigger, and retried on its own when it fails) last.
        let outputs = Outputs::new(vec![
            Arc::new(StatusWriter::new(client.clone(), metrics.clone())) as Arc<dyn Output>,
            Arc::new(WatchMetrics::new(metrics.clone(), settings.policy.clone())),
            Arc::new(EventPublisher::new(
                client.clone(),
                reporter(&settings),
                metrics.clone(),
            )),
            node_conditions,
            Arc::new(ReportWriter::new(
                client.clone(),
                settings.policy_reports,
                metrics.clone(),
            )),
        ]);
        let mut scoped = outputs.scoped();
        scoped.push(Arc::clone(&hosts.nodes) as Arc<dyn WatchScoped>);
        let watches = Arc::new(WatchTable::new(scoped));
        let credentials = CredentialSources::new(&client, &watches, &settings.workload_identity);
        Self {
            client,
            hss,
            watches,
            hosts,
            credentials,
            outputs,
            health: Arc::new(Health::default()),
            metrics,
            settings,
        }
    }

    /// How the poller is set up for these settings: the client's quota, the controller's
    /// retry timing and `--concurrency` calls in flight.
    pub fn poller_options(&self) -> PollerOptions {
        PollerOptions {
            metrics: Some(self.metrics.clone()),
            backoff_base: self.settings.backoff.base,
            backoff_floor: self.settings.backoff.floor,
            max_calls_in_flight: usize::from(self.settings.concurrency.max(1)),
            ..PollerOptions::matching(self.hss.config())
        }
    }

    /// The reporter stamped on every Event.
    pub fn reporter(&self) -> Reporter {
        reporter(&self.settings)
    }
}

fn reporter(settings: &ControllerSettings) -> Reporter {
    Reporter {
        controller: CONTROLLER_NAME.to_string(),
        instance: Some(settings.instance.clone()),
    }
}
