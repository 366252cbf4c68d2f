//! The leader election record (client-go `LeaderElectionRecord`) and its mapping onto a
//! Lease spec (client-go `LeaseSpecToLeaderElectionRecord` / `LeaderElectionRecordToLeaseSpec`).

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

/// What the lock stores. Equality of two records is what client-go's comparison of raw
/// record bytes decides: any change (a renewal moves `renew_time`) counts as activity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LeaderElectionRecord {
    /// Empty when nobody holds the lease (absent field or released).
    pub holder_identity: String,
    pub lease_duration_seconds: i32,
    pub acquire_time: Option<Timestamp>,
    pub renew_time: Option<Timestamp>,
    pub leader_transitions: i32,
}

impl LeaderElectionRecord {
    /// Reads a Lease spec; absent fields become empty / zero, as in client-go.
    pub fn from_spec(spec: Option<&LeaseSpec>) -> Self {
        let Some(spec) = spec else {
            return Self::default();
        };
        Self {
            holder_identity: spec.holder_identity.clone().unwrap_or_default(),
            lease_duration_seconds: spec.lease_duration_seconds.unwrap_or(0),
            acquire_time: spec.acquire_time.as_ref().map(|t| t.0),
            renew_time: spec.renew_time.as_ref().map(|t| t.0),
            leader_transitions: spec.lease_transitions.unwrap_or(0),
        }
    }

    /// Writes this record into `spec`, keeping the fields the record does not own
    /// (`preferredHolder`, `strategy`, used by coordinated leader election).
    pub fn write_to(&self, spec: &mut LeaseSpec) {
        spec.holder_identity = Some(self.holder_identity.clone());
        spec.lease_duration_seconds = Some(self.lease_duration_seconds);
        spec.acquire_time = self.acquire_time.map(MicroTime);
        spec.renew_time = self.renew_time.map(MicroTime);
        spec.lease_transitions = Some(self.leader_transitions);
    }
}

/// Now, truncated to the microseconds a MicroTime carries on the wire, so a record we
/// wrote compares equal to the same record read back.
pub(crate) fn now_micro() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_spec_reads_as_unheld() {
        let r = LeaderElectionRecord::from_spec(None);
        assert!(r.holder_identity.is_empty());
        assert_eq!(r.leader_transitions, 0);
        let r = LeaderElectionRecord::from_spec(Some(&LeaseSpec::default()));
        assert_eq!(r, LeaderElectionRecord::default());
    }

    #[test]
    fn record_round_trips_through_json_spec() {
        let t = now_micro();
        let record = LeaderElectionRecord {
            holder_identity: "a".into(),
            lease_duration_seconds: 15,
            acquire_time: Some(t),
            renew_time: Some(t),
            leader_transitions: 3,
        };
        let mut spec = LeaseSpec {
            preferred_holder: Some("p".into()),
            ..LeaseSpec::default()
        };
        record.write_to(&mut spec);
        let json = serde_json::to_value(&spec).expect("serialize");
        assert_eq!(json["holderIdentity"], "a");
        assert_eq!(json["leaseTransitions"], 3);
        assert_eq!(json["preferredHolder"], "p");
        let back: LeaseSpec = serde_json::from_value(json).expect("deserialize");
        assert_eq!(LeaderElectionRecord::from_spec(Some(&back)), record);
    }

    #[test]
    fn renewal_changes_the_record() {
        let a = LeaderElectionRecord {
            holder_identity: "a".into(),
            renew_time: Some(now_micro()),
            ..Default::default()
        };
        let mut b = a.clone();
        b.renew_time = b
            .renew_time
            .map(|t| t + jiff::SignedDuration::from_millis(1));
        assert_ne!(a, b);
    }
}
