"""`scheduled_retrain` end to end: the drift gate over the simulator's Log Analytics query API with
azure-monitor-query, retraining on schedule without a query, and the scoring backstop for a
completed retrain whose event was lost."""

from __future__ import annotations

import functools
import logging
import threading
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from shared.adapters.errors import TransientAzureError
from shared.ml_events import (
    APP_TAG,
)
from shared.runtime import runtime
from tests.conftest import App, at_once
from tests.credentials import fail_holding, leaked
from tests.retraining import (
    DRIFT_QUERY,
    deliver_ml_event,
    event_outcome,
    our_jobs,
    recorded_actions,
    submit_and_finish,
)
from tools import host, scene
from tools import retraining_scene as rs


def _fire() -> None:
    host.fire_timer("scheduled_retrain")


def _retraining_jobs(app: App) -> list[dict[str, Any]]:
    return [
        job
        for job in app.sim.ml.jobs(scene.PROD)
        if job["properties"]["tags"].get(APP_TAG) == "retraining"
    ]


def _gate_records() -> list[dict[str, Any]]:
    return [a for a in runtime().ledger.actions(scene.PROD) if a["Kind"] == "drift-gate"]


@pytest.mark.parametrize("value", [0.41, 0.3, 7])
def test_the_gate_at_or_above_the_threshold_retrains(gated: App, value: float) -> None:
    gated.sim.logs.set_result(rs.DRIFT_WORKSPACE, [[value]])
    _fire()

    [job] = _retraining_jobs(gated)
    assert job["properties"]["tags"]["trigger"] == "schedule:drift-gate"
    assert f"drift {value:g}" in job["properties"]["tags"]["drift-message"]
    [(workspace, body)] = gated.sim.logs.queries
    assert workspace == rs.DRIFT_WORKSPACE
    assert body["query"] == DRIFT_QUERY
    [record] = _gate_records()
    assert record["Verdict"] == "retrain"


@pytest.mark.parametrize(
    ("rows", "partial", "reason"),
    [
        ([[0.29]], None, "below the threshold"),
        ([[0.9]], "Query exceeded result size limit", "partial result"),
        ([], None, "no rows"),
        ([["high"]], None, "not a number"),
        ([[None]], None, "not a number"),
    ],
    ids=["below", "partial", "empty", "non-numeric", "null"],
)
def test_an_unconvinced_gate_retrains_nothing_and_says_why(
    gated: App, rows: list[list[Any]], partial: str | None, reason: str
) -> None:
    gated.sim.logs.set_result(rs.DRIFT_WORKSPACE, rows, partial_error=partial)
    _fire()

    assert _retraining_jobs(gated) == []
    assert "ml.job.put" not in [r.route for r in gated.sim.requests]
    [record] = _gate_records()
    assert record["Verdict"] == "hold"
    assert reason in record["Reason"]


def test_a_failed_query_retrains_nothing_and_is_recorded(gated: App) -> None:
    # Unknown Log Analytics workspace: the query API answers 404, a permanent failure.
    _fire()
    assert _retraining_jobs(gated) == []
    [record] = _gate_records()
    assert record["Verdict"] == "hold"
    assert "drift query failed" in record["Reason"]


def test_an_unavailable_query_api_fails_the_timer_without_retraining(gated: App) -> None:
    gated.sim.logs.set_result(rs.DRIFT_WORKSPACE, [[0.9]])
    gated.sim.inject("logs.query", status=503, times=20, retry_after=0)
    with pytest.raises(TransientAzureError):
        _fire()
    assert _retraining_jobs(gated) == []


def test_without_a_query_the_timer_retrains_on_schedule(app: App) -> None:
    rs.seed_retraining(app.sim)
    app.set_settings(**rs.retraining_settings())
    _fire()

    [job] = _retraining_jobs(app)
    assert job["properties"]["tags"]["trigger"] == "schedule"
    assert app.sim.logs.queries == []

    _fire()  # the next run is inside the cooldown
    assert len(_retraining_jobs(app)) == 1


def test_a_completed_retrain_whose_event_was_lost_gets_its_scoring_from_the_timer(
    gated: App,
) -> None:
    gated.deliver(rs.monitor_breach_event(), "on_ml_event")
    [job] = _retraining_jobs(gated)
    gated.sim.ml.set_job_status(scene.PROD, job["name"], "Completed")  # no event arrives
    gated.sim.logs.set_result(rs.DRIFT_WORKSPACE, [[0.1]])

    _fire()

    [(_, body)] = gated.sim.ml.scoring_posts
    assert body["properties"]["tags"]["retraining-job"] == job["name"]

    _fire()
    gated.deliver(rs.job_finished_event(job["name"], tags=job["properties"]["tags"]), "on_ml_event")
    assert len(gated.sim.ml.scoring_posts) == 1


def test_the_timer_does_nothing_when_retraining_is_off(app: App) -> None:
    _fire()
    assert app.non_token_requests() == []


def test_dry_run_timer_asks_the_gate_and_submits_nothing(gated: App) -> None:
    gated.set_settings(
        **rs.retraining_settings(
            AUTOMATION_MODE="dry-run",
            DRIFT_LOG_ANALYTICS_WORKSPACE_ID=rs.DRIFT_WORKSPACE,
            DRIFT_QUERY=DRIFT_QUERY,
            DRIFT_THRESHOLD="0.3",
        )
    )
    gated.sim.logs.set_result(rs.DRIFT_WORKSPACE, [[0.9]])
    _fire()

    assert _retraining_jobs(gated) == []
    # The query is a read, by POST (the query API has no GET): not a write.
    assert [r.route for r in gated.sim.writes() if r.route != "eventgrid.publish"] == []
    assert gated.sim.count("logs.query") == 1
    [plan] = [a for a in runtime().ledger.actions(scene.PROD) if a["Kind"] == "retraining"]
    assert plan["Outcome"] == "planned (dry-run)"


# ---------------------------------------------------------------------------- drift gate


def test_a_decimal_column_sent_as_text_is_a_drift_value(gated: App) -> None:
    # Log Analytics sends `decimal` values as JSON strings, to keep their precision.
    gated.sim.logs.set_result(rs.DRIFT_WORKSPACE, [["0.35"]], columns=[("Drift", "decimal")])
    host.fire_timer("scheduled_retrain")
    [job] = our_jobs(gated)
    assert (
        "drift 0.35 is at or above the threshold 0.3" in job["properties"]["tags"]["drift-message"]
    )


def test_a_drift_value_beyond_any_float_opens_the_gate_and_is_recorded(gated: App) -> None:
    gated.sim.logs.set_result(rs.DRIFT_WORKSPACE, [[10**400]], columns=[("Drift", "long")])
    host.fire_timer("scheduled_retrain")
    assert len(our_jobs(gated)) == 1
    [gate] = recorded_actions("drift-gate")
    assert gate["Verdict"] == "retrain"


def test_rows_wider_than_their_columns_are_a_recorded_malformed_answer(gated: App) -> None:
    gated.sim.logs.set_result(rs.DRIFT_WORKSPACE, [[0.9, 1]], columns=[("Drift", "real")])
    host.fire_timer("scheduled_retrain")  # recorded, not raised
    assert our_jobs(gated) == []
    [gate] = recorded_actions("drift-gate")
    assert gate["Verdict"] == "hold"
    assert "malformed" in gate["Reason"]


# ------------------------------------------------------------------- scoring after retrain


def _started_and_announced_once(app: App, published_before: int) -> None:
    assert len(our_jobs(app, "scoring")) == 1
    [started] = recorded_actions("batch-scoring")
    assert started["Outcome"].startswith("applied: started")
    announced = [
        e["eventType"]
        for e in app.sim.eventgrid.published_events[published_before:]
        if e["eventType"].startswith("SynapseAmlAutomation.BatchScoring")
    ]
    assert announced == ["SynapseAmlAutomation.BatchScoring.Start.Applied"]


def test_completions_racing_each_other_and_the_timer_post_once_and_announce_once(
    rapp: App,
) -> None:
    _job, event = submit_and_finish(rapp)
    events = [{**event, "id": str(uuid.uuid4())} for _ in range(5)]
    published_before = len(rapp.sim.eventgrid.published_events)
    calls: list[Callable[[], None]] = [functools.partial(deliver_ml_event, rapp, e) for e in events]
    calls.append(functools.partial(host.fire_timer, "scheduled_retrain"))
    host.indexed()  # the host indexes the app once, before any invocation

    assert at_once(calls) == [None] * len(calls)  # none raised

    assert len(rapp.sim.ml.scoring_posts) == 1
    _started_and_announced_once(rapp, published_before)
    # An event handled after the winner started scoring finds its claim: already started.
    outcomes = {"scoring-started", "scoring-in-progress", "scoring-already-started"}
    assert {event_outcome(e["id"]) for e in events} <= outcomes


@pytest.mark.parametrize("twin_settled", [True, False])
def test_twin_deliveries_of_one_completion_start_and_announce_scoring_once(
    rapp: App, twin_settled: bool
) -> None:
    """Event Grid delivers one completion event to two instances (at least once; a redelivery
    after its delivery timed out while the first still runs). Twins share the claim's holder (the
    event), so the twin takes the claim over while the first is posting; both post with one
    repeatability ID: one job. The twin (having settled the claim, or still posting) starts it:
    the first records nothing, fails nothing, and the start is recorded and announced once."""
    _job, event = submit_and_finish(rapp)
    published_before = len(rapp.sim.eventgrid.published_events)
    host.indexed()
    twin_posting, first_done = threading.Event(), threading.Event()
    twin = threading.Thread(target=deliver_ml_event, args=(rapp, event), daemon=True)

    def meanwhile(_body: Any) -> None:
        if twin_settled:
            deliver_ml_event(rapp, event)  # the twin's whole delivery, as the first's POST ends
        elif not twin.is_alive():
            twin.start()
            assert twin_posting.wait(60)  # the twin took the claim over and is posting
        else:
            twin_posting.set()  # the twin's POST: answered once the first is done
            assert first_done.wait(60)

    rapp.sim.rewrite_reply("ml.scoring.invoke", meanwhile, times=1 if twin_settled else 2)
    deliver_ml_event(rapp, event)
    first_done.set()
    if twin.is_alive():
        twin.join(60)

    _started_and_announced_once(rapp, published_before)


def test_a_late_completion_event_after_the_timers_backstop_starts_nothing(rapp: App) -> None:
    _job, event = submit_and_finish(rapp)
    host.fire_timer("scheduled_retrain")
    assert len(rapp.sim.ml.scoring_posts) == 1

    deliver_ml_event(rapp, event)

    assert len(rapp.sim.ml.scoring_posts) == 1
    assert event_outcome(event["id"]) == "scoring-already-started"


def test_a_backstop_that_stays_unavailable_still_lets_the_timer_retrain(app: App) -> None:
    rs.seed_retraining(app.sim)
    app.set_settings(**rs.retraining_settings(RETRAIN_COOLDOWN_MINUTES="0"))
    submit_and_finish(app)
    app.sim.inject("ml.scoring.invoke", status=503, times=50)

    with pytest.raises(Exception, match="503"):
        host.fire_timer("scheduled_retrain")  # fails, so that it shows and runs again

    assert len(our_jobs(app)) == 2  # the schedule's retrain was not held back by the backstop
    assert our_jobs(app, "scoring") == []


def test_the_apps_own_fault_is_logged_and_fails_the_run_with_its_frames_and_no_credential(
    rapp: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A bug, its text holding credentials: its traceback is logged for the fix, and the run fails
    # so that it shows (the host logs what it raised, chained causes too).
    from shared.reconcilers.retraining import RetrainingReconciler

    secret = "Zq7Wm3Kx9Pv2Ln5Tr8Yb4Hc"
    monkeypatch.setattr(RetrainingReconciler, "on_schedule", lambda *_: fail_holding(secret))

    with caplog.at_level(logging.INFO), pytest.raises(TransientAzureError) as failure:
        _fire()

    [logged] = [record for record in caplog.records if record.exc_info]
    shown = [logging.Formatter().format(record) for record in caplog.records]
    shown.append("".join(traceback.format_exception(failure.value)))
    assert "in fail_holding" in shown[caplog.records.index(logged)]
    assert "RuntimeError" in shown[-1]
    assert "in fail_holding" in shown[-1]
    assert [text for text in shown if leaked(secret, text)] == []
