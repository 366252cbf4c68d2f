//! The chart's monitoring: alert rules rendered by Helm's engine, checked and unit-tested by
//! `promtool`, held against what a running operator really exports and fired by a real Prometheus;
//! the Grafana dashboard, every query of which a real Prometheus answers; per-watch series that
//! stay continuous across an operator restart; and the docs that describe them (README, runbooks).
//! Needs `.venv` (helm-python-sdk) and Debian's prometheus package: `bash .ci/setup-tools.sh`.

#[path = "support/controller_harness/mod.rs"]
mod harness;

#[path = "alerts/dashboard.rs"]
mod dashboard;
#[path = "alerts/docs.rs"]
mod docs;
#[path = "alerts/every_state.rs"]
mod every_state;
#[path = "alerts/exposition.rs"]
mod exposition;
#[path = "alerts/prometheus.rs"]
mod prometheus;
#[path = "alerts/promql.rs"]
mod promql;
#[path = "alerts/promtool.rs"]
mod promtool;
#[path = "alerts/restart.rs"]
mod restart;
#[path = "alerts/rules.rs"]
mod rules;
#[path = "alerts/world.rs"]
mod world;
