//! The chart's alert rules (issue 15): rendered by Helm's engine, checked and unit-tested by
//! `promtool`, held against what a running operator really exports, and fired by a real Prometheus.
//! Needs `.venv` (helm-python-sdk) and Debian's prometheus package: `bash .ci/setup-tools.sh`.

#[path = "support/controller_harness/mod.rs"]
mod harness;

#[path = "alerts/exposition.rs"]
mod exposition;
#[path = "alerts/prometheus.rs"]
mod prometheus;
#[path = "alerts/promql.rs"]
mod promql;
#[path = "alerts/promtool.rs"]
mod promtool;
#[path = "alerts/rules.rs"]
mod rules;
#[path = "alerts/world.rs"]
mod world;
