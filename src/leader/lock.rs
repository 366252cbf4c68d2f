//! The Lease lock (client-go `resourcelock.LeaseLock`): get / create / update of one
//! coordination.k8s.io/v1 Lease, remembering the last Lease seen so that every update
//! is a PUT carrying its resourceVersion (optimistic concurrency: a concurrent writer
//! makes it fail with 409 Conflict instead of being overwritten).

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use super::record::LeaderElectionRecord;
use super::LeaderError;

pub(crate) struct LeaseLock {
    api: Api<Lease>,
    namespace: String,
    name: String,
    /// The Lease as last read or written; its resourceVersion guards the next update.
    lease: Option<Lease>,
}

impl LeaseLock {
    pub fn new(client: Client, namespace: &str, name: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            name: name.to_string(),
            lease: None,
        }
    }

    /// Reads the Lease; `None` when it does not exist (404).
    pub async fn get(&mut self) -> Result<Option<LeaderElectionRecord>, LeaderError> {
        let lease = self.api.get_opt(&self.name).await?;
        let record = lease
            .as_ref()
            .map(|l| LeaderElectionRecord::from_spec(l.spec.as_ref()));
        self.lease = lease;
        Ok(record)
    }

    /// Creates the Lease holding `record` (409 AlreadyExists when someone was faster).
    pub async fn create(&mut self, record: &LeaderElectionRecord) -> Result<(), LeaderError> {
        let mut spec = LeaseSpec::default();
        record.write_to(&mut spec);
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(spec),
        };
        self.lease = Some(self.api.create(&PostParams::default(), &lease).await?);
        Ok(())
    }

    /// Replaces the record in the Lease last seen, conditional on its resourceVersion.
    pub async fn update(&mut self, record: &LeaderElectionRecord) -> Result<(), LeaderError> {
        let Some(mut lease) = self.lease.clone() else {
            return Err(LeaderError::LockNotInitialized {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
            });
        };
        record.write_to(lease.spec.get_or_insert_with(LeaseSpec::default));
        self.lease = Some(
            self.api
                .replace(&self.name, &PostParams::default(), &lease)
                .await?,
        );
        Ok(())
    }
}
