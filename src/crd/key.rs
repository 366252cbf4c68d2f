//! The identity of a `HostRiskWatch` inside the operator: its namespace and name. One type for
//! the controller, its state table, the poller and the metrics.

use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;

use super::spec::HostRiskWatch;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatchKey {
    pub namespace: String,
    pub name: String,
}

impl WatchKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of `watch`; `None` for an object without namespace (the resource is namespaced,
    /// so only a malformed event has none).
    pub fn of(watch: &HostRiskWatch) -> Option<Self> {
        Some(Self::new(watch.namespace()?, watch.name_any()))
    }

    /// The reference kube-runtime schedules reconciles by.
    pub fn object_ref(&self) -> ObjectRef<HostRiskWatch> {
        ObjectRef::new(&self.name).within(&self.namespace)
    }
}

impl std::fmt::Display for WatchKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}
