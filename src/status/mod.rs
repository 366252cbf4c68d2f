//! Pure status computation: from (spec, previous status, poll outcome, now) to the new status,
//! whether it must be written, and the transition events. No I/O and no clock reads: the caller
//! passes the time in.

pub mod compact;
pub mod compute;
pub mod conditions;
pub mod events;
pub mod hosts;
pub mod kept;
pub mod node_status;
pub mod quota;
pub mod summary;
pub mod targets;

pub use compute::{
    compute_status, compute_status_for, compute_status_with_quota, differs_ignoring_timestamps,
    PollFailure, PollOutcome, StatusInput, StatusUpdate,
};
pub use events::{EventType, TransitionEvent};
pub use targets::{HostTarget, NodeView, Targets};
