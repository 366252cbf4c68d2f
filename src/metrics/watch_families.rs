//! The per-watch families: name, help, unit and which numbers of a watch's record each writes
//! (see `collector.rs`). Help texts end with the period the registry adds to registered ones.

/// The series of one per-watch family, read from a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WatchSeries {
    Condition,
    ReadyReason,
    Interval,
    LastSuccess,
    EffectiveInterval,
    IntervalLag,
    /// Hosts by category, of `CATEGORIES[i]`.
    Category(usize),
    Risks,
    Assets,
    HostsRequested,
    HostsFound,
    HostsNotFound,
}

/// One per-watch family: name (without prefix and unit), help, unit, series.
pub(crate) struct WatchFamily {
    pub name: &'static str,
    pub help: &'static str,
    pub seconds: bool,
    pub series: WatchSeries,
}

/// The per-watch families, in the order they are written.
pub(crate) const WATCH_FAMILIES: [WatchFamily; 14] = [
    WatchFamily {
        name: "watch_condition",
        help: "Conditions of a watch's status (Ready, CredentialsValid, ApiReachable, and \
             NodesResolved and NodeConditionsDriven for node-backed watches): 1 for the current \
             status (True|False|Unknown) of each type, 0 for the other two.",
        seconds: false,
        series: WatchSeries::Condition,
    },
    WatchFamily {
        name: "watch_ready_reason",
        help:
            "Reason of a watch's Ready condition (one CamelCase word; value always 1, one series \
             per watch).",
        seconds: false,
        series: WatchSeries::ReadyReason,
    },
    WatchFamily {
        name: "watch_interval",
        help: "Poll interval a watch asks for (spec.interval, or the operator's default).",
        seconds: true,
        series: WatchSeries::Interval,
    },
    WatchFamily {
        name: "watch_last_success_timestamp",
        help: "Unix time of the data of a watch's last successful poll (start of its oldest call).",
        seconds: true,
        series: WatchSeries::LastSuccess,
    },
    WatchFamily {
        name: "watch_effective_interval",
        help: "Poll interval a watch actually gets under the shared HSS quota.",
        seconds: true,
        series: WatchSeries::EffectiveInterval,
    },
    WatchFamily {
        name: "watch_interval_lag",
        help: "How far a watch's effective interval exceeds the interval it asked for.",
        seconds: true,
        series: WatchSeries::IntervalLag,
    },
    WatchFamily {
        name: "watch_hosts_by_agent_status",
        help: "Hosts of a watch by HSS agent_status.",
        seconds: false,
        series: WatchSeries::Category(0),
    },
    WatchFamily {
        name: "watch_hosts_by_protect_status",
        help: "Hosts of a watch by HSS protect_status.",
        seconds: false,
        series: WatchSeries::Category(1),
    },
    WatchFamily {
        name: "watch_hosts_by_detect_result",
        help: "Hosts of a watch by HSS detect_result.",
        seconds: false,
        series: WatchSeries::Category(2),
    },
    WatchFamily {
        name: "watch_risks",
        help: "Risk totals over a watch's hosts, by kind (vulnerability|baseline|intrusion).",
        seconds: false,
        series: WatchSeries::Risks,
    },
    WatchFamily {
        name: "watch_assets",
        help:
            "Assets (inventory items HSS reports: accounts, ports, processes, software...) over a \
             watch's hosts.",
        seconds: false,
        series: WatchSeries::Assets,
    },
    WatchFamily {
        name: "watch_hosts_requested",
        help: "Host ids a watch lists in spec.hostIds.",
        seconds: false,
        series: WatchSeries::HostsRequested,
    },
    WatchFamily {
        name: "watch_hosts_found",
        help: "Hosts of a watch that HSS returned.",
        seconds: false,
        series: WatchSeries::HostsFound,
    },
    WatchFamily {
        name: "watch_hosts_not_found",
        help: "Host ids of a watch that HSS did not return.",
        seconds: false,
        series: WatchSeries::HostsNotFound,
    },
];
