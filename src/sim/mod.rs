//! Stand-ins for the real services, for tests and demos.
pub mod kube;
