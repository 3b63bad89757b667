"""The run: one write path for every concern (dry-run, intent, the call, Azure's answer, transient
or permanent, the ledger row, the decision line), typed outcomes, and the plan as the same run
previewed."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceResponseError
from hypothesis import given
from hypothesis import strategies as st

from shared.adapters.answers import GuardNoLongerHoldsError, UnexpectedAnswerError
from shared.adapters.errors import TransientAzureError
from shared.adapters.outcomes import event_type
from shared.arm import ArmId
from shared.ledger import ActionRecord
from shared.outcome import INTENT, NO_CHANGE, Outcome, Status
from shared.policy.budget import RemediationBudget
from shared.reconcilers.run import Decision, Run, Trail, change
from tests.conftest import App
from tools import cli, host, scene


class Rows:
    """An in-memory ledger: what the run recorded, in order."""

    def __init__(self) -> None:
        self.records: list[ActionRecord] = []

    def record_actions(self, records: Sequence[ActionRecord]) -> None:
        self.records += records


def _record(verdict: str = "lower-max-nodes", subject: str = "c") -> ActionRecord:
    return ActionRecord(
        "/w", "policy-remediation", verdict, subject, "why", "enforce", NO_CHANGE, "t"
    )


def _run(rows: Rows, *, limit: int = 10, dry_run: bool = False, trigger: str = "t") -> Run:
    return Run(trigger, dry_run=dry_run, budget=RemediationBudget(limit), sink=rows)


def _fails(error: Exception) -> Any:
    def write() -> str:
        raise error

    return write


@given(st.sampled_from(list(Status)), st.text(max_size=40))
def test_the_event_state_is_the_typed_one_whatever_the_detail_says(
    status: Status, detail: str
) -> None:
    # Nothing reads an outcome's words: a detail such as "failed" changes no state.
    typed = replace(_record(), outcome=Outcome(status, detail))
    state = f".{status.state}" if status.state else ""
    assert event_type(typed) == f"SynapseAmlAutomation.PolicyRemediation.LowerMaxNodes{state}"


def test_an_event_type_comes_from_the_typed_outcome() -> None:
    record = _record()
    for status, state in (
        (Status.APPLIED, ".Applied"),
        (Status.NOT_APPLIED, ".Failed"),
        (Status.REFUSED, ".Skipped"),
        (Status.NOTED, ""),
    ):
        typed = ActionRecord(**{**record.__dict__, "outcome": Outcome(status, "x")})
        assert event_type(typed) == f"SynapseAmlAutomation.PolicyRemediation.LowerMaxNodes{state}"


def test_a_transient_failure_stops_the_rest_and_is_raised_after_everything_is_recorded() -> None:
    rows = Rows()
    run = _run(rows)
    decisions = [
        Decision(_record(subject="a"), write=_fails(ServiceResponseError("reset"))),
        Decision(_record(subject="b"), write=lambda: "done"),
        Decision(_record(subject="c")),
    ]

    with pytest.raises(TransientAzureError):
        run.settle("/w", decisions)

    outcomes = [str(r.outcome) for r in rows.records if r.outcome != INTENT]
    assert outcomes == [
        "failed (will retry): ServiceResponseError: reset",
        "not attempted: an earlier write failed transiently",
        "not attempted: an earlier write failed transiently",
    ]
    # The next workspace of the run starts afresh.
    assert run.settle("/w2", [Decision(_record(), write=lambda: "done")]) == [
        Outcome(Status.APPLIED, "done")
    ]


@pytest.mark.parametrize("stop", [RuntimeError("the app's own fault"), KeyboardInterrupt()])
def test_a_run_stopped_mid_way_records_the_writes_it_made_before_it_raises(
    stop: BaseException,
) -> None:
    """Anything but Azure's answers (the app's own fault, Ctrl-C in `apply`) ends the run where it
    is: the writes already made are in the ledger as made, not as intents only."""
    rows = Rows()
    decisions = [
        Decision(_record(subject="a"), write=lambda: "done"),
        Decision(_record(subject="b"), write=_fails(stop)),  # type: ignore[arg-type]
        Decision(_record(subject="c"), write=lambda: "done"),
    ]

    with pytest.raises(type(stop)):
        _run(rows).settle("/w", decisions)

    made = [(r.subject, str(r.outcome)) for r in rows.records if r.outcome != INTENT]
    assert made == [("a", "applied: done")]


_CHANGE_FIELDS = ("target_id", "kind", "verdict", "subject", "reason", "evidence")


@given(st.sampled_from(_CHANGE_FIELDS), st.text(min_size=1, max_size=20))
def test_a_saved_plans_run_writes_only_its_changes_and_refuses_any_other(
    field: str, extra: str
) -> None:
    """`apply FILE`: a write whose target, kind, verdict, subject, or what it was decided on
    (reason, evidence) is not exactly a saved change is refused before its intent or call."""
    saved = _record(subject="/w/computes/a")
    other = replace(saved, **{field: getattr(saved, field) + extra})
    rows, calls = Rows(), list[str]()

    def write(name: str) -> Any:
        def call() -> str:
            calls.append(name)
            return "done"

        return call

    # A budget of one: the refusal must not spend it.
    run = Run(
        "t", dry_run=False, budget=RemediationBudget(1), sink=rows, only=frozenset({change(saved)})
    )
    # ARM IDs compare case-insensitively: the same change, spelt otherwise, is still the plan's.
    same = replace(saved, target_id="/W", subject="/W/COMPUTES/A")

    outcomes = run.settle(
        "/w",
        [
            Decision(other, write=write("other"), budgeted=True),
            Decision(same, write=write("saved"), budgeted=True),
        ],
    )

    assert calls == ["saved"]
    assert outcomes[0] == Outcome(
        Status.REFUSED, "not in the saved plan: the state changed; plan again"
    )
    assert outcomes[1].status is Status.APPLIED
    assert run.changes == [(other, outcomes[0]), (same, outcomes[1])]
    assert [r.outcome for r in rows.records] == [INTENT, *outcomes]


def test_each_write_records_its_intent_first_and_a_dry_run_none() -> None:
    rows = Rows()
    _run(rows).settle("/w", [Decision(_record(), write=lambda: "now 4")])
    assert [str(r.outcome) for r in rows.records] == [str(INTENT), "applied: now 4"]
    assert rows.records[0].notify is False

    dry = Rows()
    _run(dry, dry_run=True).settle("/w", [Decision(_record(), write=_fails(AssertionError()))])
    assert [str(r.outcome) for r in dry.records] == ["planned (dry-run)"]


def test_answers_and_permanent_errors_become_outcomes_not_exceptions() -> None:
    rows = Rows()
    outcomes = _run(rows).settle(
        "/w",
        [
            Decision(_record(), write=_fails(UnexpectedAnswerError("shows 10, not 4"))),
            Decision(_record(), write=_fails(HttpResponseError("denied"))),
        ],
    )
    assert [o.status for o in outcomes] == [Status.NOT_APPLIED, Status.FAILED]
    assert all(o.failed for o in outcomes)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (GuardNoLongerHoldsError("no longer holds"), Status.DEFERRED),
        (UnexpectedAnswerError("shows 10, not 4"), Status.NOT_APPLIED),
        (HttpResponseError("denied"), Status.FAILED),
        (ServiceResponseError("reset"), Status.RETRY),
    ],
)
def test_a_run_and_a_trail_class_a_failed_call_alike(error: Exception, status: Status) -> None:
    rows = Rows()
    trail = Trail(rows, logging.getLogger("t"), "enforce", ArmId("/w"), "t")
    [outcome] = _run(Rows()).execute([Decision(_record(), write=_fails(error))])
    assert outcome.status is status
    if status is not Status.RETRY:
        assert trail.failure("k", "s", error) == outcome
        assert rows.records == []
        return
    # A trail's transient failure is recorded (not announced) and raised at once.
    with pytest.raises(TransientAzureError, match="workspace /w: ServiceResponseError: reset"):
        trail.failure("k", "s", error)
    [retry] = rows.records
    assert (retry.verdict, str(retry.outcome), retry.notify) == ("retry", str(outcome), False)


def test_a_trails_failed_read_is_one_failed_row_and_its_detail() -> None:
    rows = Rows()
    trail = Trail(rows, logging.getLogger("t"), "enforce", ArmId("/w"), "t")
    detail = trail.read_failed("k", "s", UnexpectedAnswerError("another job"), "read failed")
    [row] = rows.records
    assert (detail, row.verdict, row.reason) == ("another job", "read", "read failed")
    assert row.outcome == Outcome(Status.FAILED, "another job")


def test_the_budget_defers_the_rest_once_spent_and_announces_the_stop_once() -> None:
    rows = Rows()
    run = _run(rows, limit=1)
    decisions = [Decision(_record(subject=s), write=lambda: "ok", budgeted=True) for s in "abc"]

    outcomes = run.settle("/w", decisions)

    assert [o.status for o in outcomes] == [Status.APPLIED, Status.DEFERRED, Status.DEFERRED]
    deferred = [r for r in rows.records if r.verdict == "deferred"]
    assert [r.evidence for r in deferred] == ["lower-max-nodes: limit reached"] * 2
    assert [r.notify for r in deferred] == [True, False]


def _hourly(rows: Rows, *, limit: int, per_hour: int, trigger: str = "t") -> Run:
    return Run(trigger, False, RemediationBudget(limit, per_hour=per_hour), rows)


def test_the_hours_slot_is_taken_only_for_a_write_the_runs_budget_allows() -> None:
    # The run's limit defers the second write before any slot is taken; a refusal and a guard's
    # deferral write nothing and take none: the hour of one is left for the next workspace run.
    rows = Rows()
    run = _hourly(rows, limit=1, per_hour=1)
    refused = Outcome(Status.REFUSED, "not this workspace")
    outcomes = run.settle(
        "/w",
        [
            Decision(_record(subject="r"), outcome=refused, budgeted=True),
            Decision(
                _record(subject="g"), outcome=Outcome(Status.DEFERRED, "no", "guard"), budgeted=True
            ),
            Decision(_record(subject="a"), write=lambda: "ok", budgeted=True),
            Decision(_record(subject="b"), write=lambda: "ok", budgeted=True),
        ],
    )
    assert [o.status for o in outcomes[2:]] == [Status.APPLIED, Status.DEFERRED]
    assert outcomes[3].by == "limit reached"


@pytest.mark.parametrize(
    ("trigger", "announced"), [("event:x", [True, False]), ("sweep:x", [False, False])]
)
def test_the_hour_defers_each_workspace_apart_announced_once_and_never_by_the_sweep(
    trigger: str, announced: list[bool]
) -> None:
    rows = Rows()
    run = _hourly(rows, limit=10, per_hour=1, trigger=trigger)
    writes = [Decision(_record(subject=s), write=lambda: "ok", budgeted=True) for s in "abc"]

    outcomes = run.settle("/w", writes)
    other = run.settle(
        "/other", [replace(writes[0], record=replace(_record(), target_id="/other"))]
    )

    assert [o.status for o in [*outcomes, *other]] == [
        Status.APPLIED,
        Status.DEFERRED,
        Status.DEFERRED,
        Status.APPLIED,
    ]
    assert "MAX_REMEDIATIONS_PER_HOUR=1 remediations of this workspace" in outcomes[1].detail
    deferred = [r for r in rows.records if r.verdict == "deferred"]
    assert [r.evidence for r in deferred] == ["lower-max-nodes: hourly limit reached"] * 2
    assert [r.notify for r in deferred] == announced


def test_a_ledger_that_cannot_count_the_hour_defers_the_write() -> None:
    # Nothing listens on the ledger's port: the limit is never assumed, nothing is written.
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.data.tables import TableClient

    from shared.claims import Claims

    table = TableClient(
        "https://127.0.0.1:1",
        "ledger",
        credential=AzureNamedKeyCredential("account", "a2V5"),
        retry_total=0,
    )
    rows = Rows()
    run = _hourly(rows, limit=10, per_hour=10)
    run.claims = Claims(table)

    (outcome,) = run.settle(
        "/w", [Decision(_record(), write=_fails(AssertionError()), budgeted=True)]
    )

    assert outcome.status is Status.DEFERRED
    assert outcome.by == "hourly limit reached"
    assert "the ledger could not count this workspace's remediations" in outcome.detail
    assert [r.outcome for r in rows.records if r.outcome == INTENT] == []


def test_a_preview_writes_and_records_nothing_but_spends_the_budget_as_a_run_would() -> None:
    rows = Rows()
    run = Run("t", dry_run=False, budget=RemediationBudget(1), sink=rows, preview=True)
    decisions = [
        Decision(_record(subject=s), write=_fails(AssertionError()), budgeted=True) for s in "ab"
    ]

    outcomes = run.settle("/w", decisions)

    assert [o.status for o in outcomes] == [Status.PLANNED, Status.DEFERRED]
    assert rows.records == []


@pytest.mark.slow
def test_a_write_azure_did_not_confirm_is_one_decision_line_at_error_level(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    app.set_settings(POLICY_MODE="remediate", MAX_CLUSTER_NODES="4")
    app.sim.ml.add_compute(scene.PROD, "wide", max_node_count=10)

    def unchanged(body: dict[str, Any]) -> None:
        if body["name"] == "wide":
            body["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = 10

    app.sim.rewrite_reply("aml.compute.get", unchanged, times=20)
    with caplog.at_level(logging.INFO):
        app.deliver(
            scene.resource_write_event(scene.PROD, scene.WORKSPACE_WRITE),
            function="on_workspace_event",
        )

    lines = [
        r
        for r in caplog.records
        if "not applied" in r.getMessage() and getattr(r, "kind", None) != "policy-finding"
    ]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].levelno == logging.ERROR
    assert getattr(lines[0], "kind", None) == "policy-remediation"


@pytest.mark.slow
def test_a_dry_run_records_exactly_the_writes_the_plan_shows(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    app.set_settings(AUTOMATION_MODE="dry-run", POLICY_MODE="remediate")
    assert cli.main(["plan", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)

    host.fire_timer("reconcile_all")

    # Both workspaces in scope: an empty plan would compare nothing below.
    assert sorted(item["workspace"].lower() for item in plan) == sorted(
        w.lower() for w in (scene.PROD, scene.DEV)
    )
    for item in plan:
        planned = {
            ("private-endpoint-connection", d["connection_id"].lower())
            for d in item["connections"]
            if d["verdict"] in ("approve", "reject")
        }
        planned |= {
            ("role-assignment", d["synapse_workspace_id"].lower())
            for d in item["roleAssignments"]
            if d["verdict"] == "assign"
        }
        planned |= {
            ("policy-remediation", r["target_id"].lower())
            for r in item["remediations"]
            if r["disposition"] == "apply"
        }
        recorded = {
            (row["Kind"], row["Subject"].lower())
            for row in app.ledger.actions(item["workspace"])
            if row["Outcome"] == "planned (dry-run)"
        }
        assert recorded == planned, item["workspace"]
        assert planned


@pytest.mark.slow
def test_a_plan_is_exactly_the_writes_a_dry_run_records_for_the_same_state(app: App) -> None:
    from shared.reconcilers.workspace import plan_workspace
    from shared.runtime import runtime

    app.set_settings(AUTOMATION_MODE="dry-run", POLICY_MODE="remediate", MAX_CLUSTER_NODES="4")
    app.sim.ml.add_compute(scene.PROD, "wide", max_node_count=10)
    plans = [plan_workspace(runtime(), ArmId(w)) for w in (scene.PROD, scene.DEV)]

    host.fire_timer("reconcile_all")

    for plan in plans:
        recorded = [
            change(
                ActionRecord(
                    row["TargetId"],
                    row["Kind"],
                    row["Verdict"],
                    row["Subject"],
                    row["Reason"],
                    "",
                    NO_CHANGE,
                    "",
                    row["Evidence"],
                )
            )
            for row in app.ledger.actions(plan.workspace_id)
            if row["Outcome"] == "planned (dry-run)"
        ]
        assert sorted(recorded) == sorted(change(r) for r in plan.changes), plan.workspace_id
    kinds = {r.kind for plan in plans for r in plan.changes}
    assert kinds == {"private-endpoint-connection", "role-assignment", "policy-remediation"}
