//! The stand-in apiserver, driven by the real kube client and kube-runtime: one binary, a
//! module per area, so the set-up compiles once.

mod support;

#[path = "../conformance/mod.rs"]
mod conformance;

mod apply;
mod auth;
mod builtins;
#[path = "conformance.rs"]
mod conformance_standin;
mod crud;
mod discovery;
mod faults;
mod gc;
mod list;
mod policy_reports;
mod watch;
