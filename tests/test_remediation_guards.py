"""Remediation guards and the per-run budget, pure: no Azure, no simulator.

Each remediable rule declares a guard next to it; the registry refuses a remediation without
one. The guards: public network access is disabled only with an approved private endpoint
connection; a cluster's maximum is lowered only when its current and target node counts fit
under the new maximum. The budget caps a run's remediations and stops it after 3 failures.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.policy.budget import FAILURE_LIMIT, RemediationBudget, Stop
from shared.policy.engine import evaluate, remediations
from shared.policy.facts import ComputeFacts, WorkspaceFacts
from shared.policy.rules import RULES, RemediationKind, Rule, Severity, Status
from tests.test_policy_rules import (
    PARAMS,
    PROPERTY,
    cluster,
    compute_id,
    workspace,
    workspace_facts,
)


def candidates(facts: WorkspaceFacts) -> dict[RemediationKind, tuple[bool, str]]:
    found = remediations(evaluate(facts, PARAMS), facts)
    return {c.remediation.kind: (c.guard.safe, c.guard.reason) for c in found}


def big_cluster(current: int | None, target: int | None) -> ComputeFacts:
    """A cluster over the limit (10 > 4), with these node counts."""
    return cluster(max_node_count=10, current_node_count=current, target_node_count=target)


# --- declared next to each remediation --------------------------------------------------------


def test_every_remediable_rule_declares_its_guard() -> None:
    remediable = [declared for declared in RULES.values() if declared.remediation is not None]

    assert {declared.remediation for declared in remediable} == set(RemediationKind)
    for declared in remediable:
        assert declared.guard is not None, declared.id
        assert (declared.guard.__doc__ or "").strip(), f"{declared.id}'s guard is undocumented"
    assert all(d.guard is None for d in RULES.values() if d.remediation is None)


def test_a_remediation_without_a_guard_cannot_be_declared() -> None:
    with pytest.raises(ValueError, match="without a guard"):
        Rule(
            "unguarded",
            severity=Severity.LOW,
            reads=(),
            remediation=RemediationKind.LOWER_MAX_NODES,
        )
    assert "unguarded" not in RULES


def test_every_remediation_comes_with_its_guards_verdict() -> None:
    facts = workspace(public_network_access="Enabled", computes=(big_cluster(0, 0),))
    findings = evaluate(facts, PARAMS)

    found = remediations(findings, facts)
    fixable = [f for f in findings if f.status is Status.NON_COMPLIANT and f.remediation]

    assert [(c.rule_id, c.remediation) for c in found] == [
        (f.rule_id, f.remediation) for f in fixable
    ]
    assert all(c.guard.reason for c in found)


# --- workspace-public-access ------------------------------------------------------------------


@pytest.mark.parametrize("approved", [1, 2, 7])
def test_public_access_is_disabled_when_a_private_path_exists(approved: int) -> None:
    facts = workspace(
        public_network_access="Enabled",
        approved_private_endpoint_connections=approved,
        customer_private_endpoint_connections=approved,
    )

    safe, reason = candidates(facts)[RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS]

    assert safe
    assert f"{approved} approved private endpoint connection" in reason


@pytest.mark.parametrize("approved", [0, -1])
def test_public_access_is_deferred_without_an_approved_connection(approved: int) -> None:
    facts = workspace(
        public_network_access="Enabled",
        approved_private_endpoint_connections=approved,
        customer_private_endpoint_connections=approved,
    )

    safe, reason = candidates(facts)[RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS]

    assert not safe
    assert "no approved private endpoint connection" in reason
    assert "cut off" in reason


# --- compute-max-nodes ------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "target"), [(0, 0), (4, 4), (3, 4), (4, 0), (2, 1)])
def test_cluster_maximum_is_lowered_when_its_nodes_fit(current: int, target: int) -> None:
    facts = workspace(computes=(big_cluster(current, target),))

    safe, reason = candidates(facts)[RemediationKind.LOWER_MAX_NODES]

    assert safe
    assert f"{current} current and {target} target node(s)" in reason


@pytest.mark.parametrize(("current", "target"), [(5, 5), (6, 2), (0, 5), (10, 10)])
def test_cluster_maximum_is_deferred_while_nodes_run_above_it(current: int, target: int) -> None:
    facts = workspace(computes=(big_cluster(current, target),))

    safe, reason = candidates(facts)[RemediationKind.LOWER_MAX_NODES]

    assert not safe
    assert "above the new maximum 4" in reason
    assert "until it scales down" in reason


@pytest.mark.parametrize(("current", "target"), [(None, 0), (0, None), (None, None)])
def test_cluster_without_node_counts_is_deferred(current: int | None, target: int | None) -> None:
    facts = workspace(computes=(big_cluster(current, target),))

    safe, reason = candidates(facts)[RemediationKind.LOWER_MAX_NODES]

    assert not safe
    assert "does not report a valid currentNodeCount and targetNodeCount" in reason


@pytest.mark.parametrize(
    ("current", "target"), [(-1, 0), (0, -3), (True, 0), (0, False), (2.5, 1), ("3", 1)]
)
def test_cluster_with_node_counts_of_the_wrong_shape_is_deferred(
    current: object, target: object
) -> None:
    # A negative, boolean, fractional or text count is not a count: the guard never guesses.
    facts = workspace(computes=(big_cluster(current, target),))  # type: ignore[arg-type]

    safe, reason = candidates(facts)[RemediationKind.LOWER_MAX_NODES]

    assert not safe
    assert "does not report a valid currentNodeCount and targetNodeCount" in reason


# As often at most PARAMS' maximum (4) as not: drawn over 0-12, both counts of a cluster fit a
# lowered maximum so rarely that no lowering was ever judged safe, and its checks never ran.
node_counts = (
    st.none() | st.integers(min_value=0, max_value=4) | st.integers(min_value=0, max_value=12)
)


@PROPERTY
@given(workspace_facts(), node_counts, node_counts)
def test_no_guard_ever_lets_an_unsafe_write_through(
    facts: WorkspaceFacts, current: int | None, target: int | None
) -> None:
    # Any facts, with node counts drawn for every compute: a remediation judged safe must be one
    # that cannot cut anyone off or take nodes from running work. The facts also hold a cluster
    # of the workspace over the maximum: drawn computes alone almost never get a lowering at all.
    over = replace(big_cluster(None, None), id=compute_id("big", facts.id), name="big")
    facts = replace(
        facts,
        computes=tuple(
            replace(c, current_node_count=current, target_node_count=target)
            for c in (*facts.computes, over)
        ),
    )
    for candidate in remediations(evaluate(facts, PARAMS), facts):
        if not candidate.guard.safe:
            continue
        if candidate.remediation.kind is RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS:
            assert facts.customer_private_endpoint_connections >= 1
        else:
            assert isinstance(candidate.remediation.value, int)
            assert current is not None
            assert target is not None
            assert max(current, target) <= candidate.remediation.value


# --- the budget of one run --------------------------------------------------------------------


def test_budget_allows_exactly_the_limit() -> None:
    budget = RemediationBudget(3)
    allowed = 0
    while budget.stop() is None:
        budget.spend(failed=False)
        allowed += 1

    assert allowed == 3
    assert budget.stop() is Stop.LIMIT_REACHED
    assert "MAX_REMEDIATIONS_PER_RUN=3" in budget.explain(Stop.LIMIT_REACHED)


def test_budget_stops_after_three_failures_before_the_limit() -> None:
    budget = RemediationBudget(10)
    budget.spend(failed=False)
    for _ in range(FAILURE_LIMIT - 1):
        budget.spend(failed=True)
        assert budget.stop() is None
    budget.spend(failed=True)

    assert FAILURE_LIMIT == 3
    assert budget.stop() is Stop.TOO_MANY_FAILURES
    assert budget.attempted == 4
    assert "3 remediations failed" in budget.explain(Stop.TOO_MANY_FAILURES)


def test_each_stop_is_announced_once_per_budget() -> None:
    budget = RemediationBudget(0)

    assert budget.stop() is Stop.LIMIT_REACHED
    assert budget.first_announcement(Stop.LIMIT_REACHED)
    assert not budget.first_announcement(Stop.LIMIT_REACHED)
    assert budget.first_announcement(Stop.TOO_MANY_FAILURES)
    # A new run has a new budget, and announces again.
    assert RemediationBudget(0).first_announcement(Stop.LIMIT_REACHED)


@given(st.integers(min_value=0, max_value=30), st.lists(st.booleans(), max_size=60))
def test_budget_never_admits_more_than_the_limit_or_after_the_failure_limit(
    limit: int, failures: list[bool]
) -> None:
    budget = RemediationBudget(limit)
    admitted = 0
    failed = 0
    for fails in failures:
        if budget.stop() is not None:
            continue
        assert failed < FAILURE_LIMIT
        admitted += 1
        failed += fails
        budget.spend(failed=fails)

    assert admitted <= limit
    stop = budget.stop()
    if stop is None:
        assert admitted == len(failures)  # nothing was turned away
    elif stop is Stop.LIMIT_REACHED:
        assert admitted == limit
    else:
        assert failed == FAILURE_LIMIT
