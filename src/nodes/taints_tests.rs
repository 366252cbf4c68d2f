use std::time::Duration;

use jiff::Timestamp;

use super::*;

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + second).expect("time")
}

fn policy(problems: &[Problem], budget: TaintBudget) -> TaintPolicy {
    TaintPolicy {
        problems: ProblemSet::of(problems.iter().copied()),
        effect: TaintEffect::PreferNoSchedule,
        after: Duration::from_secs(600),
        budget,
        control_plane: false,
        dry_run: false,
    }
}

fn node(name: &str) -> TaintCandidate {
    TaintCandidate {
        node: name.into(),
        covered: true,
        true_since: [None; 3],
        control_plane: false,
        ours: ProblemSet::EMPTY,
        stale: ProblemSet::EMPTY,
        manual: ProblemSet::EMPTY,
    }
}

fn with(mut node: TaintCandidate, problem: Problem, since: i64) -> TaintCandidate {
    node.true_since[problem as usize] = Some(at(since));
    node
}

fn unprotected(name: &str, since: i64) -> TaintCandidate {
    with(node(name), Problem::Unprotected, since)
}

fn changed(plan: &TaintPlan) -> Vec<(String, String, String)> {
    plan.changes
        .iter()
        .map(|c| {
            (
                c.node.to_string(),
                c.added.to_string(),
                c.removed.to_string(),
            )
        })
        .collect()
}

fn names(held: &[HeldBack]) -> Vec<String> {
    held.iter().map(|h| h.node.to_string()).collect()
}

#[test]
fn a_problem_taints_only_once_it_held_for_the_delay_and_wakes_up_then() {
    let policy = policy(&[Problem::Unprotected], TaintBudget::Nodes(10));
    let nodes = [unprotected("a", 0)];
    let early = plan_taints(&policy, &nodes, at(599));
    assert!(early.changes.is_empty());
    assert_eq!(early.next_due, Some(at(600)));
    let ripe = plan_taints(&policy, &nodes, at(600));
    assert_eq!(
        changed(&ripe),
        [("a".into(), "unprotected".into(), String::new())]
    );
    assert_eq!(ripe.next_due, None);
    let zero = TaintPolicy {
        after: Duration::ZERO,
        ..policy.clone()
    };
    assert_eq!(plan_taints(&zero, &nodes, at(0)).changes.len(), 1);
}

#[test]
fn a_taint_is_removed_as_soon_as_its_problem_clears_even_over_budget() {
    let policy = policy(
        &[Problem::Unprotected, Problem::AtRisk],
        TaintBudget::Nodes(0),
    );
    let mut cleared = node("a");
    cleared.ours = ProblemSet::of([Problem::Unprotected, Problem::AtRisk]);
    let cleared = with(cleared, Problem::AtRisk, 0);
    let plan = plan_taints(&policy, &[cleared], at(10_000));
    assert_eq!(
        changed(&plan),
        [("a".into(), String::new(), "unprotected".into())]
    );
    assert_eq!(plan.changes[0].taints, ProblemSet::of([Problem::AtRisk]));
}

#[test]
fn the_budget_takes_the_oldest_problems_first_and_holds_the_rest_back() {
    // 3 of 20 Nodes unprotected, a budget of 2.
    let policy = policy(&[Problem::Unprotected], TaintBudget::Nodes(2));
    let mut nodes: Vec<TaintCandidate> = (0..20).map(|i| node(&format!("n{i:02}"))).collect();
    nodes[3] = unprotected("n03", 30);
    nodes[7] = unprotected("n07", 10);
    nodes[12] = unprotected("n12", 20);
    let plan = plan_taints(&policy, &nodes, at(10_000));
    assert_eq!(
        changed(&plan),
        [
            ("n07".into(), "unprotected".into(), String::new()),
            ("n12".into(), "unprotected".into(), String::new())
        ]
    );
    assert_eq!(names(&plan.held_back), ["n03"]);
    assert_eq!((plan.covered, plan.limit, plan.tainted), (20, 2, 2));
    // Once they are tainted, nothing changes and n03 stays held back.
    nodes[7].ours = ProblemSet::of([Problem::Unprotected]);
    nodes[12].ours = ProblemSet::of([Problem::Unprotected]);
    let steady = plan_taints(&policy, &nodes, at(10_001));
    assert!(steady.changes.is_empty());
    assert_eq!(names(&steady.held_back), ["n03"]);
    // One clears: its taint goes and the held-back Node gets the freed place.
    nodes[7].true_since = [None; 3];
    let freed = plan_taints(&policy, &nodes, at(10_002));
    assert_eq!(
        changed(&freed),
        [
            ("n03".into(), "unprotected".into(), String::new()),
            ("n07".into(), String::new(), "unprotected".into())
        ]
    );
    assert!(freed.held_back.is_empty());
}

#[test]
fn a_percentage_budget_is_of_the_covered_nodes_rounded_down_and_a_tainted_node_may_get_more() {
    let policy = policy(
        &[Problem::Unprotected, Problem::AtRisk],
        TaintBudget::Percent(10),
    );
    let mut nodes: Vec<TaintCandidate> = (0..19).map(|i| node(&format!("n{i:02}"))).collect();
    // 10 % of 19 is 1.
    nodes[0] = unprotected("n00", 0);
    nodes[0].ours = ProblemSet::of([Problem::Unprotected]);
    nodes[0] = with(nodes[0].clone(), Problem::AtRisk, 0);
    nodes[1] = unprotected("n01", 0);
    let mut uncovered = unprotected("x", 0);
    uncovered.covered = false;
    nodes.push(uncovered);
    let plan = plan_taints(&policy, &nodes, at(10_000));
    assert_eq!((plan.covered, plan.limit), (19, 1));
    assert_eq!(
        changed(&plan),
        [("n00".into(), "at-risk".into(), String::new())]
    );
    assert_eq!(names(&plan.held_back), ["n01"]);
    assert_eq!(TaintBudget::Percent(10).limit(9), 0);
    assert_eq!(TaintBudget::Percent(100).limit(9), 9);
}

#[test]
fn control_plane_nodes_are_left_alone_unless_allowed_and_their_taints_removed() {
    let mut plain = policy(&[Problem::Unprotected], TaintBudget::Nodes(10));
    let mut control = unprotected("cp", 0);
    control.control_plane = true;
    let mut tainted = unprotected("cp-old", 0);
    tainted.control_plane = true;
    tainted.ours = ProblemSet::of([Problem::Unprotected]);
    let nodes = [control, tainted];
    let plan = plan_taints(&plain, &nodes, at(10_000));
    assert_eq!(
        changed(&plan),
        [("cp-old".into(), String::new(), "unprotected".into())]
    );
    assert!(plan.held_back.is_empty());
    plain.control_plane = true;
    let allowed = plan_taints(&plain, &nodes, at(10_000));
    assert_eq!(
        changed(&allowed),
        [("cp".into(), "unprotected".into(), String::new())]
    );
}

#[test]
fn an_administrators_taint_of_the_same_key_blocks_ours_and_is_never_planned_away() {
    let policy = policy(
        &[Problem::Unprotected, Problem::AtRisk],
        TaintBudget::Nodes(10),
    );
    let mut node = with(unprotected("a", 0), Problem::AtRisk, 0);
    node.manual = ProblemSet::of([Problem::Unprotected]);
    let plan = plan_taints(&policy, &[node.clone()], at(10_000));
    assert_eq!(
        changed(&plan),
        [("a".into(), "at-risk".into(), String::new())]
    );
    // Problems clear: only the operator's own taint is removed.
    node.true_since = [None; 3];
    node.ours = ProblemSet::of([Problem::AtRisk]);
    let plan = plan_taints(&policy, &[node], at(10_001));
    assert_eq!(plan.changes[0].removed, ProblemSet::of([Problem::AtRisk]));
    assert!(plan.changes[0].taints.is_empty());
}

#[test]
fn only_the_problems_asked_for_taint_and_a_node_leaving_every_watch_is_untainted() {
    let policy = policy(&[Problem::AgentOffline], TaintBudget::Nodes(10));
    let nodes = [unprotected("a", 0)];
    assert!(plan_taints(&policy, &nodes, at(10_000)).changes.is_empty());
    let mut left = with(node("b"), Problem::AgentOffline, 0);
    left.covered = false;
    left.ours = ProblemSet::of([Problem::AgentOffline]);
    let plan = plan_taints(&policy, &[left], at(10_000));
    assert_eq!(
        changed(&plan),
        [("b".into(), String::new(), "agent-offline".into())]
    );
}

#[test]
fn a_taint_of_another_effect_is_rewritten_without_counting_as_added() {
    let policy = policy(&[Problem::Unprotected], TaintBudget::Nodes(10));
    let mut node = unprotected("a", 0);
    node.ours = ProblemSet::of([Problem::Unprotected]);
    node.stale = ProblemSet::of([Problem::Unprotected]);
    let plan = plan_taints(&policy, &[node], at(10_000));
    assert_eq!(changed(&plan), [("a".into(), String::new(), String::new())]);
    assert_eq!(
        plan.changes[0].taints,
        ProblemSet::of([Problem::Unprotected])
    );
}

#[test]
fn flags_parse_and_refuse_clearly() {
    assert_eq!(TaintBudget::parse("10%"), Ok(TaintBudget::Percent(10)));
    assert_eq!(TaintBudget::parse("3"), Ok(TaintBudget::Nodes(3)));
    assert_eq!(TaintBudget::parse("0"), Ok(TaintBudget::Nodes(0)));
    for bad in ["101%", "-1", "x", "", "+3", "1.5%"] {
        let error = TaintBudget::parse(bad).expect_err(bad);
        assert!(error.contains("e.g. 3 or 10%"), "{error}");
    }
    assert_eq!(
        TaintEffect::parse("NoSchedule"),
        Ok(TaintEffect::NoSchedule)
    );
    let refused = TaintEffect::parse("NoExecute").expect_err("refused");
    assert!(refused.contains("NoExecute is refused"), "{refused}");
    assert!(TaintEffect::parse("Sometimes").is_err());
    assert_eq!(
        Problem::of_name("agent-offline"),
        Some(Problem::AgentOffline)
    );
    assert_eq!(
        Problem::of_key("hostrisk.io/at-risk"),
        Some(Problem::AtRisk)
    );
    assert!(Problem::ALL
        .iter()
        .all(|p| p.key().starts_with(TAINT_KEY_PREFIX)));
}
