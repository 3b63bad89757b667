"""The remediation rate per workspace: `MAX_REMEDIATIONS_PER_HOUR`, kept in the ledger's claims,
besides the limit per run.

Every event is a run of its own: five compute writes by a user would be five budgets. The rate
bounds what all runs and instances do to one workspace in any hour; over it a remediation is
deferred with the reason, recorded, announced, and shown by `plan`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.bounds import bounded
from shared.claims import slot_times_value
from shared.config import MAX_REMEDIATIONS_PER_HOUR
from shared.policy.budget import HOUR, hourly_slot
from tests.conftest import App
from tests.test_policy_rules import PROPERTY
from tests.test_remediation_e2e import (
    DEFERRED_EVENT,
    WORKSPACE_PATCH,
    add_cluster,
    deferred,
    patched_computes,
    remediation_rows,
    remediation_writes,
    sweep,
)
from tools import cli, scene

WS = scene.PROD
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
COMPUTE_WRITE = "Microsoft.MachineLearningServices/workspaces/computes/write"


# --- the window, pure -------------------------------------------------------------------------


@PROPERTY
@given(
    st.lists(st.integers(min_value=0, max_value=3 * 3600), max_size=40),
    st.integers(min_value=1, max_value=6),
)
def test_no_hour_ever_holds_more_than_the_limit_and_a_free_slot_is_taken(
    offsets: list[int], limit: int
) -> None:
    # Attempts at any instants, in order: the ones taken never exceed `limit` in any hour,
    # and an attempt is refused only when `limit` were taken in the hour before it.
    window: tuple[datetime, ...] = ()
    taken: list[datetime] = []
    for offset in sorted(offsets):
        now = NOW + timedelta(seconds=offset)
        window, free_at = hourly_slot(window, now, limit)
        recent = [t for t in taken if now - HOUR < t <= now]
        if free_at is None:
            taken.append(now)
            assert len(recent) < limit
        else:
            assert len(recent) >= limit
            assert free_at > now
            # At `free_at` the oldest of those has left the hour: a slot is free again.
            assert hourly_slot(window, free_at, limit)[1] is None
    for start in taken:
        assert sum(1 for t in taken if start <= t < start + HOUR) <= limit


def test_times_far_in_the_future_hold_no_slot() -> None:
    # Not a time the app wrote: a row edited by hand cannot block a workspace for a year.
    window, free_at = hourly_slot([NOW + timedelta(days=365)], NOW, 1)

    assert free_at is None
    assert window == (NOW,)


def test_the_largest_window_is_stored_whole() -> None:
    # A cut value would read as an empty hour: the bound on the setting keeps it whole.
    latest = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    value = slot_times_value([latest] * MAX_REMEDIATIONS_PER_HOUR)

    assert bounded(value) == value
    assert len(json.loads(value)) == MAX_REMEDIATIONS_PER_HOUR


# --- end to end -------------------------------------------------------------------------------


def compute_event(app: App, name: str) -> None:
    payload = scene.resource_write_event(f"{WS}/computes/{name}", COMPUTE_WRITE)
    app.deliver(payload, function="on_workspace_event")


@pytest.mark.slow
def test_five_compute_writes_are_not_five_budgets(app: App) -> None:
    # Each write by a user is an event, each event a run with a budget of its own (10): the
    # workspace's hour allows 3 remediations, whatever the number of events.
    app.set_settings(POLICY_MODE="remediate", MAX_REMEDIATIONS_PER_HOUR="3")
    for number in range(5):
        add_cluster(app, WS, f"burst-{number}")
        compute_event(app, f"burst-{number}")

    # The first event disables public access and lowers cpu-cluster and burst-0: three.
    assert len(remediation_writes(app)) == 3
    assert patched_computes(app) == ["burst-0", "cpu-cluster"]
    held = deferred(app, WS)
    assert sorted(held) == ["burst-1", "burst-2", "burst-3", "burst-4"]
    for row in held.values():
        assert "hourly limit reached: MAX_REMEDIATIONS_PER_HOUR=3" in row["Outcome"]
        assert row["Evidence"] == "lower-max-nodes: hourly limit reached"
    announced = [e for e in app.sim.eventgrid.published_events if e["eventType"] == DEFERRED_EVENT]
    assert len(announced) == 4  # one per event: each is a run of its own


@pytest.mark.slow
def test_the_sweep_after_an_event_counts_the_same_hour(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate", MAX_REMEDIATIONS_PER_HOUR="2")
    add_cluster(app, WS, "burst-0")
    compute_event(app, "burst-0")  # public access and cpu-cluster: the hour is spent

    sweep()  # a new run with a budget of its own

    assert len(remediation_writes(app)) == 2
    assert patched_computes(app) == ["cpu-cluster"]
    assert "hourly limit reached" in deferred(app, WS)["burst-0"]["Outcome"]


@pytest.mark.slow
def test_plan_shows_what_the_rate_would_defer(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    app.set_settings(POLICY_MODE="remediate", MAX_REMEDIATIONS_PER_HOUR="1")

    assert cli.main(["plan", "--json"]) == 0

    (prod,) = [item for item in json.loads(capsys.readouterr().out) if item["workspace"] == WS]
    shown = {r["target_id"].rsplit("/", 1)[-1]: r for r in prod["remediations"]}
    assert shown["mlw-prod"]["disposition"] == "apply"
    assert shown["cpu-cluster"]["disposition"] == "deferred"
    assert "MAX_REMEDIATIONS_PER_HOUR=1" in shown["cpu-cluster"]["reason"]
    assert app.sim.writes() == []


@pytest.mark.slow
def test_a_dry_run_takes_no_slot_of_the_hour(app: App) -> None:
    # Dry-run plans public access and cpu-cluster (the hour's two) on every sweep, and applies
    # neither: no later run, dry or enforced, finds the hour spent by what was never written.
    app.set_settings(
        POLICY_MODE="remediate", MAX_REMEDIATIONS_PER_HOUR="2", AUTOMATION_MODE="dry-run"
    )
    sweep()
    sweep()
    assert deferred(app, WS) == {}

    app.set_settings(
        POLICY_MODE="remediate", MAX_REMEDIATIONS_PER_HOUR="2", AUTOMATION_MODE="enforce"
    )
    sweep()

    assert len(remediation_writes(app)) == 2
    assert deferred(app, WS) == {}


@pytest.mark.slow
def test_runs_reconciling_one_workspace_at_once_apply_each_remediation_once(app: App) -> None:
    # An event is redelivered while its first delivery still runs (or the sweep comes at once):
    # both plan cpu-cluster's remediation. One run applies, records and announces it and spends
    # its slot of the hour; the other records it as taken by another run.
    app.set_settings(POLICY_MODE="remediate", MAX_REMEDIATIONS_PER_HOUR="10")
    payload = scene.resource_write_event(WS, scene.WORKSPACE_WRITE)
    second: list[BaseException] = []

    def redelivered(body: object) -> None:
        # While the first delivery disables public access, before it reaches cpu-cluster.
        try:
            app.deliver(payload, function="on_workspace_event")
        except BaseException as error:
            second.append(error)

    app.sim.rewrite_reply(WORKSPACE_PATCH, redelivered)
    app.deliver(payload, function="on_workspace_event")

    assert second == []
    assert patched_computes(app) == ["cpu-cluster"]
    rows = [r for r in remediation_rows(app, WS) if r["Subject"].endswith("/cpu-cluster")]
    outcomes = sorted(row["Outcome"].split(":")[0] for row in rows)
    assert outcomes == ["applied", "intent", "not attempted"]  # one intent: one write
    (taken,) = [row for row in rows if row["Outcome"].startswith("not attempted")]
    assert "taken by another run" in taken["Outcome"]
    applied = [e for e in app.sim.eventgrid.published_events if e["eventType"].endswith(".Applied")]
    assert sorted(e["data"]["resourceId"].rsplit("/", 1)[-1] for e in applied) == [
        "cpu-cluster",
        "mlw-prod",
    ]
    (slots,) = [row for row in app.ledger.table.list_entities() if row["RowKey"] == "remediations"]
    assert len(json.loads(slots["Times"])) == 2  # public access and cpu-cluster, once each
