//! The stand-in apiserver, driven by the real kube client and kube-runtime: one binary, a
//! module per area, so the set-up compiles once.

mod support;

mod apply;
mod builtins;
mod crud;
mod discovery;
mod faults;
mod list;
mod policy_reports;
mod watch;
