//! The demo's script: eight transitions and an idle refresh ([`demo_steps`]), played by
//! [`super::script::play`].

use super::manifests::{batch_secret_fix, joining_node, names, DemoHosts};
use super::nodes::NodeExpect;
use super::script::{expect_host, Action, Expect, Step};
use super::DemoError;
use hostrisk_operator::hss::model::{AgentStatus, DetectResult, HssEdition, ProtectStatus};
use hostrisk_sim::hss::{HssSimulator, SimHost};

/// The simulator's counter key for data-tier's credentials (the first static token).
const DATA_IDENTITY: &str = "static-token:0";

fn host(hss: &HssSimulator, id: &str) -> Result<SimHost, DemoError> {
    hss.host(id)
        .ok_or_else(|| DemoError::Fleet(format!("the simulator has no host {id}")))
}

/// Eight transitions and an idle refresh, built from the simulator's current hosts (the last two
/// restore the host changes, and demo-web-01 gets patched too). The hosts of the worker Nodes
/// (demo-web-01 on cce-node-1, demo-db-01 on cce-node-2) are refreshed on the node-backed watch
/// as well, so their Nodes' conditions follow; the operator runs with `--node-taints at-risk
/// --node-taint-max 1`, and cce-node-1 starts at risk, so it carries the one taint the budget
/// allows.
pub fn demo_steps(hss: &HssSimulator, hosts: &DemoHosts) -> Result<Vec<Step>, DemoError> {
    let web = host(hss, "demo-web-01")?;
    let db = host(hss, "demo-db-01")?;
    let flip_id = hosts
        .data
        .first()
        .ok_or_else(|| DemoError::Fleet("data-tier has no hosts".into()))?;
    let flip = host(hss, flip_id)?;
    let short = &flip_id[..flip_id.len().min(8)];

    let mut db_risky = db.clone();
    db_risky.risk.detect_result = Some(DetectResult::Risk);
    db_risky.risk.vulnerability = Some(4);
    db_risky.risk.baseline = Some(1);

    // Switching protection off releases the edition and stops detection (the simulator's
    // consistency rules, see sim::hss::fleet).
    let mut unprotected = flip.clone();
    unprotected.risk.protect_status = Some(ProtectStatus::Closed);
    unprotected.risk.version = Some(HssEdition::Null);
    unprotected.risk.detect_result = Some(DetectResult::Undetected);
    unprotected.risk.asset = Some(0);
    unprotected.risk.vulnerability = Some(0);
    unprotected.risk.baseline = Some(0);
    unprotected.risk.intrusion = Some(0);

    let mut web_offline = web.clone();
    web_offline.risk.agent_status = Some(AgentStatus::Offline);

    let mut web_patched = web.clone();
    web_patched.risk.detect_result = Some(DetectResult::Clean);
    web_patched.risk.vulnerability = Some(0);
    web_patched.risk.baseline = Some(0);

    let condition = |node, type_, status| NodeExpect::Condition {
        node,
        type_,
        status,
    };

    Ok(vec![
        Step {
            title: "demo-db-01: HSS finds 4 vulnerabilities and a baseline risk".into(),
            watch: names::WEB,
            action: Action::SetHosts {
                hosts: vec![db_risky],
                also: vec![names::WORKERS],
            },
            expect: vec![expect_host("demo-db-01", "detectResult", "risk")],
            // At risk, but the budget's one taint is cce-node-1's: held back.
            nodes: vec![
                condition(names::LEAVING_NODE, "HostSecurityAtRisk", "True"),
                NodeExpect::Untainted {
                    node: names::LEAVING_NODE,
                },
            ],
        },
        Step {
            title: format!(
                "{short}…: HSS protection switched off (HSS stops scanning it: detect result \
                 undetected, counts 0)"
            ),
            watch: names::DATA,
            action: Action::SetHosts {
                hosts: vec![unprotected],
                also: Vec::new(),
            },
            expect: vec![expect_host(flip_id, "protectStatus", "closed")],
            nodes: Vec::new(),
        },
        Step {
            title: "demo-web-01: the HSS agent stops reporting".into(),
            watch: names::WEB,
            action: Action::SetHosts {
                hosts: vec![web_offline],
                also: vec![names::WORKERS],
            },
            expect: vec![expect_host("demo-web-01", "agentStatus", "offline")],
            nodes: vec![condition(
                names::STAYING_NODE,
                "HostSecurityAgentOffline",
                "True",
            )],
        },
        Step {
            title: format!(
                "Secret {}: the missing secretKey and securityToken are added",
                names::BATCH_SECRET
            ),
            watch: names::BATCH,
            action: Action::PatchSecret {
                name: names::BATCH_SECRET.into(),
                patch: batch_secret_fix(),
            },
            expect: vec![Expect::Ready("True")],
            nodes: Vec::new(),
        },
        Step {
            title: format!(
                "Node {} joins the cluster (providerID huaweicloud:///{})",
                names::JOINING_NODE,
                hosts.joining
            ),
            watch: names::WORKERS,
            action: Action::AddNode(joining_node(&hosts.joining)),
            expect: vec![expect_host(&hosts.joining, "nodeName", names::JOINING_NODE)],
            // Its agent's install failed: offline and unprotected (only at-risk taints).
            nodes: vec![
                condition(names::JOINING_NODE, "HostSecurityAgentOffline", "True"),
                condition(names::JOINING_NODE, "HostSecurityUnprotected", "True"),
            ],
        },
        Step {
            title: format!("Node {} leaves the cluster", names::LEAVING_NODE),
            watch: names::WORKERS,
            action: Action::DeleteNode(names::LEAVING_NODE),
            expect: vec![Expect::NoHost(hosts.nodes.get(1).cloned().ok_or_else(
                || DemoError::Fleet("fewer than two worker Nodes".into()),
            )?)],
            nodes: Vec::new(),
        },
        Step {
            title: "demo-web-01 back online and patched, demo-db-01 patched".into(),
            watch: names::WEB,
            action: Action::SetHosts {
                hosts: vec![web_patched, db],
                also: vec![names::WORKERS],
            },
            expect: vec![
                expect_host("demo-web-01", "agentStatus", "online"),
                expect_host("demo-web-01", "detectResult", "clean"),
                expect_host("demo-db-01", "detectResult", "clean"),
            ],
            // The problem cleared: the taint goes at once.
            nodes: vec![
                condition(names::STAYING_NODE, "HostSecurityAgentOffline", "False"),
                condition(names::STAYING_NODE, "HostSecurityAtRisk", "False"),
                NodeExpect::Untainted {
                    node: names::STAYING_NODE,
                },
            ],
        },
        Step {
            title: format!("{short}…: HSS protection switched back on"),
            watch: names::DATA,
            action: Action::SetHosts {
                hosts: vec![flip],
                also: Vec::new(),
            },
            expect: vec![expect_host(flip_id, "protectStatus", "opened")],
            nodes: Vec::new(),
        },
        Step {
            title: "nothing changes in HSS; data-tier is refreshed anyway".into(),
            watch: names::DATA,
            action: Action::RefreshUnchanged {
                identity: DATA_IDENTITY,
            },
            expect: Vec::new(),
            nodes: Vec::new(),
        },
    ])
}
