//! Pure status computation: from (targets, previous status, poll outcome, now) to the new
//! status, whether it must be written, and the transition events. No I/O and no clock reads:
//! the caller passes the time in.
//!
//! One shape per concept: a host is a [`record::HostRecord`] from the poller's answer to the
//! written status; a status is a [`watch_status::WatchStatus`]; a condition is a
//! [`conditions::ConditionType`] with a typed [`conditions::Reason`].

pub mod compute;
pub mod conditions;
pub mod events;
pub mod hosts;
pub mod node_status;
pub mod outcome;
pub mod quota;
pub mod record;
pub mod summary;
pub mod targets;
pub mod watch_conditions;
pub mod watch_status;

pub use compute::{compute_status, PollFailure, PollOutcome, StatusInput, StatusUpdate};
pub use conditions::{ConditionType, ConditionUpdate, Reason};
pub use events::{EventType, TransitionEvent};
pub use hosts::PollAnswer;
pub use record::{HostData, HostId, HostRecord, NodeName};
pub use targets::{HostTarget, NodeView, Targets};
pub use watch_status::WatchStatus;
