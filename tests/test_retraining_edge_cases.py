"""Retraining at its edges, through the registered functions over the simulator and Azurite: tag
values that say nothing, drift values Log Analytics sends as text or beyond a float, claim rows
edited by hand or dated by a clock far off, completions racing each other and the timer, refused
scoring starts, settings that could only fail at run time, and dry-run leaving no claim behind."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.arm import ArmId
from shared.config import SettingsError, load_settings
from shared.events import Ignored
from shared.ml_events import (
    APP_TAG,
    MESSAGE_LIMIT,
    MONITOR_BREACH_TAG,
    Drift,
    bounded,
    classify_ml_event,
)
from shared.planning.retraining import GateReading, GateStatus, evaluate_gate
from shared.reconcilers.intent import INTENT
from shared.runtime import runtime
from tests import test_retraining_config as config_cases
from tests.conftest import App
from tools import host, scene
from tools import retraining_scene as rs

WORKSPACE = ArmId(scene.PROD)
REFERENCE = Path(__file__).resolve().parent / "fixtures"
QUERY = "AmlModelMonitorResults | summarize max(DriftScore)"


@pytest.fixture
def rapp(app: App) -> App:
    rs.seed_retraining(app.sim)
    app.set_settings(**rs.retraining_settings())
    app.sim.reset_counts()
    return app


@pytest.fixture
def gated(app: App) -> App:
    rs.seed_retraining(app.sim)
    app.set_settings(
        **rs.retraining_settings(
            DRIFT_LOG_ANALYTICS_WORKSPACE_ID=rs.DRIFT_WORKSPACE,
            DRIFT_QUERY=QUERY,
            DRIFT_THRESHOLD="0.3",
        )
    )
    app.sim.reset_counts()
    return app


def _deliver(event: dict[str, Any]) -> None:
    host.deliver_event("on_ml_event", event)


def _jobs(app: App, purpose: str = "retraining") -> list[dict[str, Any]]:
    return [
        job
        for job in app.sim.ml.jobs(scene.PROD)
        if job["properties"]["tags"].get(APP_TAG) == purpose
    ]


def _outcome(event_id: str) -> str:
    row = runtime().ledger.event(event_id)
    assert row is not None, f"event {event_id} was not recorded"
    return str(row["Outcome"])


def _actions(kind: str) -> list[dict[str, Any]]:
    return [
        a
        for a in runtime().ledger.actions(scene.PROD)
        if a["Kind"] == kind and a["Outcome"] != INTENT
    ]


def _claim_rows() -> list[dict[str, Any]]:
    table = runtime().ledger.table
    return [dict(row) for row in table.list_entities() if row["PartitionKey"].startswith("claims:")]


def _edit_retraining_claim(**values: str) -> None:
    table = runtime().ledger.table
    [row] = [r for r in table.list_entities() if r["RowKey"] == "retraining"]
    row.update(values)
    table.upsert_entity(row)


def _submit_and_finish(
    app: App, status: str = "Completed"
) -> tuple[dict[str, Any], dict[str, Any]]:
    _deliver(rs.monitor_breach_event())
    [job] = _jobs(app)
    app.sim.ml.set_job_status(scene.PROD, job["name"], status)
    app.sim.reset_counts()
    return job, rs.job_finished_event(job["name"], tags=job["properties"]["tags"])


def _at_once(calls: list[Callable[[], None]]) -> list[BaseException]:
    host.indexed()  # the host indexes the app once, before any invocation
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], None]) -> None:
        try:
            barrier.wait()
            call()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


# ------------------------------------------------------------------------ event parsing


def _breach(value: object, key: str = MONITOR_BREACH_TAG) -> Drift | Ignored | object:
    event = rs.monitor_breach_event()
    event["data"]["runTags"] = {key: value}
    return classify_ml_event(
        event_id=event["id"],
        event_type=event["eventType"],
        workspace_id=WORKSPACE,
        data=event["data"],
    )


@pytest.mark.parametrize("value", [False, None, [], {}, ["breached"], {"a": "b"}, "", " \t"])
def test_a_breach_tag_value_that_carries_no_message_is_not_drift(value: object) -> None:
    # `false` says "not breached"; null, containers and blanks are no monitor's message.
    assert isinstance(_breach(value), Ignored)


@pytest.mark.parametrize(("value", "message"), [(True, "true"), (0, "0"), (0.41, "0.41")])
def test_a_breach_tag_value_that_is_a_number_or_true_is_drift(value: object, message: str) -> None:
    parsed = _breach(value)
    assert isinstance(parsed, Drift)
    assert parsed.message == message


def test_a_breach_key_with_surrounding_spaces_is_not_the_monitors_tag() -> None:
    # Casing is the only loosening: tag keys are exact in Azure ML, and a key with spaces is a
    # tag someone else set.
    assert isinstance(_breach("drifted", key=f" {MONITOR_BREACH_TAG} "), Ignored)
    assert isinstance(_breach("drifted", key=MONITOR_BREACH_TAG.upper()), Drift)


def test_a_false_breach_tag_submits_nothing_end_to_end(rapp: App) -> None:
    event = rs.monitor_breach_event()
    event["data"]["runTags"] = {MONITOR_BREACH_TAG: False}
    _deliver(event)
    assert _outcome(event["id"]) == "ignored"
    assert [r.route for r in rapp.non_token_requests()] == []


def test_a_job_tagged_as_ours_only_in_the_event_starts_nothing(rapp: App) -> None:
    rapp.sim.ml.add_job(
        scene.PROD,
        {
            "id": f"{scene.PROD}/jobs/someone-elses",
            "name": "someone-elses",
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {"jobType": "Pipeline", "status": "Completed", "tags": {}},
            "systemData": {"createdAt": "2026-11-25T00:00:00Z"},
        },
    )
    event = rs.job_finished_event("someone-elses", tags={APP_TAG: "retraining"})
    _deliver(event)
    assert _outcome(event["id"]) == "ignored"
    assert rapp.sim.ml.scoring_posts == []


# ---------------------------------------------------------------------------- drift gate


def test_a_decimal_column_sent_as_text_is_a_drift_value(gated: App) -> None:
    # Log Analytics sends `decimal` values as JSON strings, to keep their precision.
    gated.sim.logs.set_result(rs.DRIFT_WORKSPACE, [["0.35"]], columns=[("Drift", "decimal")])
    host.fire_timer("scheduled_retrain")
    [job] = _jobs(gated)
    assert (
        "drift 0.35 is at or above the threshold 0.3" in job["properties"]["tags"]["drift-message"]
    )


def test_text_that_looks_like_a_number_in_a_string_column_is_not_a_drift_value() -> None:
    reading = GateReading(GateStatus.SUCCESS, rows=[["0.9"]], column_types=["string"])
    verdict = evaluate_gate(reading, 0.3)
    assert not verdict.retrain
    assert "not a number" in verdict.reason


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "high"])
def test_a_real_column_that_is_not_a_finite_number_keeps_the_gate_shut(text: str) -> None:
    verdict = evaluate_gate(
        GateReading(GateStatus.SUCCESS, rows=[[text]], column_types=["real"]), 0
    )
    assert not verdict.retrain
    assert "not a number" in verdict.reason


def test_a_drift_value_beyond_any_float_opens_the_gate_and_is_recorded(gated: App) -> None:
    gated.sim.logs.set_result(rs.DRIFT_WORKSPACE, [[10**400]], columns=[("Drift", "long")])
    host.fire_timer("scheduled_retrain")
    assert len(_jobs(gated)) == 1
    [gate] = _actions("drift-gate")
    assert gate["Verdict"] == "retrain"


def test_a_huge_negative_drift_value_keeps_the_gate_shut() -> None:
    verdict = evaluate_gate(
        GateReading(GateStatus.SUCCESS, rows=[[-(10**400)]], column_types=["long"]), 0.3
    )
    assert not verdict.retrain
    assert "below the threshold" in verdict.reason


def test_rows_wider_than_their_columns_are_a_recorded_malformed_answer(gated: App) -> None:
    gated.sim.logs.set_result(rs.DRIFT_WORKSPACE, [[0.9, 1]], columns=[("Drift", "real")])
    host.fire_timer("scheduled_retrain")  # recorded, not raised
    assert _jobs(gated) == []
    [gate] = _actions("drift-gate")
    assert gate["Verdict"] == "hold"
    assert "malformed" in gate["Reason"]


# -------------------------------------------------------------------------------- claims


def test_a_claim_time_edited_without_an_offset_is_read_as_utc(rapp: App) -> None:
    _job, _ = _submit_and_finish(rapp)
    naive_now = datetime.now(UTC).replace(tzinfo=None).isoformat()
    _edit_retraining_claim(ClaimedAt=naive_now)
    within = rs.monitor_breach_event()
    _deliver(within)  # within the cooldown: debounced, not a crash redelivered for ever
    assert _outcome(within["id"]) == "debounced"

    _edit_retraining_claim(
        ClaimedAt=(datetime.now(UTC) - timedelta(days=1)).replace(tzinfo=None).isoformat()
    )
    after = rs.monitor_breach_event()
    _deliver(after)
    assert _outcome(after["id"]) == "retraining-submitted"
    assert len(_jobs(rapp)) == 2


@pytest.mark.parametrize("claimed_at", ["9999-12-31T23:59:59+00:00", "2999-01-01T00:00:00"])
def test_a_claim_dated_in_the_future_holds_nothing_back(rapp: App, claimed_at: str) -> None:
    _submit_and_finish(rapp)
    _edit_retraining_claim(ClaimedAt=claimed_at, State="submitted")
    event = rs.monitor_breach_event()
    _deliver(event)
    assert _outcome(event["id"]) == "retraining-submitted"
    assert len(_jobs(rapp)) == 2


def test_a_claim_a_few_minutes_ahead_still_debounces() -> None:
    # Another instance's clock a little ahead is not a claim "from the future".
    from shared.planning.retraining import ClaimView, Verdict, decide_from_claim

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    claim = ClaimView("retrain-x", "event:a", now + timedelta(minutes=3), counts=True)
    decision = decide_from_claim(claim, claim_key="event:b", now=now, cooldown=timedelta(hours=6))
    assert decision is not None
    assert decision.verdict is Verdict.COOLDOWN


def test_a_retraining_job_that_failed_quickly_still_holds_the_cooldown(rapp: App) -> None:
    _, finished = _submit_and_finish(rapp, "Failed")
    _deliver(finished)
    event = rs.monitor_breach_event()
    _deliver(event)
    assert _outcome(event["id"]) == "debounced"
    assert len(_jobs(rapp)) == 1


def test_an_active_job_of_another_app_does_not_hold_retraining_back(rapp: App) -> None:
    for name, tags in [("theirs-1", {APP_TAG: "something-else"}), ("theirs-2", {})]:
        rapp.sim.ml.add_job(
            scene.PROD,
            {
                "id": f"{scene.PROD}/jobs/{name}",
                "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/jobs",
                "properties": {"jobType": "Pipeline", "status": "Running", "tags": tags},
                "systemData": {"createdAt": "2026-11-25T00:00:00Z"},
            },
        )
    event = rs.monitor_breach_event()
    _deliver(event)
    assert _outcome(event["id"]) == "retraining-submitted"


# ------------------------------------------------------------------- scoring after retrain


def test_completions_racing_each_other_and_the_timer_post_once_and_announce_once(
    rapp: App,
) -> None:
    _job, event = _submit_and_finish(rapp)
    events = [{**event, "id": str(uuid.uuid4())} for _ in range(5)]
    published_before = len(rapp.sim.eventgrid.published_events)
    calls: list[Callable[[], None]] = [functools.partial(_deliver, e) for e in events]
    calls.append(functools.partial(host.fire_timer, "scheduled_retrain"))

    assert _at_once(calls) == []

    assert len(rapp.sim.ml.scoring_posts) == 1
    assert len(_jobs(rapp, "scoring")) == 1
    [started] = _actions("batch-scoring")
    assert started["Outcome"].startswith("applied: started")
    announced = [
        e["eventType"]
        for e in rapp.sim.eventgrid.published_events[published_before:]
        if e["eventType"].startswith("SynapseAmlAutomation.BatchScoring")
    ]
    assert announced == ["SynapseAmlAutomation.BatchScoring.Start.Applied"]
    assert {_outcome(e["id"]) for e in events} <= {"scoring-started", "scoring-in-progress"}


def test_a_late_completion_event_after_the_timers_backstop_starts_nothing(rapp: App) -> None:
    _job, event = _submit_and_finish(rapp)
    host.fire_timer("scheduled_retrain")
    assert len(rapp.sim.ml.scoring_posts) == 1

    _deliver(event)

    assert len(rapp.sim.ml.scoring_posts) == 1
    assert _outcome(event["id"]) == "scoring-already-started"


def test_a_redelivery_of_the_claiming_event_after_a_transient_failure_starts_scoring(
    rapp: App,
) -> None:
    # The claim holds other deliveries back, never the redelivery of the one that made it.
    _job, event = _submit_and_finish(rapp)
    rapp.sim.inject("ml.batch_endpoint.get", status=503, times=20)
    with pytest.raises(Exception, match="503"):
        _deliver(event)
    twin = {**event, "id": str(uuid.uuid4())}
    rapp.sim.clear_faults()
    _deliver(twin)
    assert _outcome(twin["id"]) == "scoring-in-progress"

    _deliver(event)  # Event Grid's redelivery

    assert len(_jobs(rapp, "scoring")) == 1
    assert _outcome(event["id"]) == "scoring-started"


def test_a_refused_scoring_start_leaves_no_claim_that_holds_the_next_attempt(app: App) -> None:
    rs.seed_retraining(app.sim)
    app.set_settings(**rs.retraining_settings(BATCH_ENDPOINT_NAME="churn-batch-next"))
    _job, event = _submit_and_finish(app)
    _deliver(event)
    assert _outcome(event["id"]) == "failed"
    [refused] = _actions("batch-scoring")
    assert refused["Outcome"].startswith("failed: HTTP 404")

    # The endpoint is created a minute later; the next completion event (a twin) starts it.
    app.sim.ml.add_batch_endpoint(
        f"{scene.PROD}/batchEndpoints/churn-batch-next", deployments=["blue"]
    )
    twin = {**event, "id": str(uuid.uuid4())}
    _deliver(twin)
    assert _outcome(twin["id"]) == "scoring-started"
    assert len(_jobs(app, "scoring")) == 1


# ------------------------------------------------------------------------------ dry-run


def test_dry_run_writes_no_claim_row(rapp: App) -> None:
    rapp.set_settings(**rs.retraining_settings(AUTOMATION_MODE="dry-run"))
    _deliver(rs.monitor_breach_event())
    host.fire_timer("scheduled_retrain")
    assert _claim_rows() == []
    assert rapp.sim.ml.job_puts == []


# ----------------------------------------------------------------------------- settings

_BASE = {**config_cases.BASE, **config_cases.RETRAINING}


@pytest.mark.parametrize("minutes", ["525601", "99999999999999999999"])
def test_a_cooldown_beyond_a_year_is_a_settings_error(minutes: str) -> None:
    with pytest.raises(SettingsError, match="RETRAIN_COOLDOWN_MINUTES"):
        load_settings({**_BASE, "RETRAIN_COOLDOWN_MINUTES": minutes})


def test_a_cooldown_of_a_year_is_accepted() -> None:
    settings = load_settings({**_BASE, "RETRAIN_COOLDOWN_MINUTES": "525600"})
    assert settings.retraining is not None
    assert settings.retraining.cooldown_minutes == 525600


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_retrain_inputs_with_a_non_json_number_is_a_settings_error(constant: str) -> None:
    with pytest.raises(SettingsError, match="RETRAIN_INPUTS"):
        load_settings({**_BASE, "RETRAIN_INPUTS": '{"learning_rate": ' + constant + "}"})


@given(st.text())
def test_tag_text_from_an_event_is_one_bounded_line_of_printable_characters(text: str) -> None:
    value = bounded(text)
    assert len(value) <= MESSAGE_LIMIT
    assert all(ch.isprintable() for ch in value)
    assert value == value.strip()


def test_a_monitor_message_with_control_characters_is_tagged_printable(rapp: App) -> None:
    _deliver(rs.monitor_breach_event(message="tenure\x00 drifted\udc80 \x1b[31m0.41"))
    [job] = _jobs(rapp)
    assert job["properties"]["tags"]["drift-message"] == "tenure drifted [31m0.41"


def test_a_claim_in_flight_from_a_fast_clock_still_holds_a_twin_back() -> None:
    # Another instance's clock 20 minutes fast, its submission not yet confirmed, and no
    # cooldown: releasing the claim as "from the future" could let a second job through.
    from shared.planning.retraining import ClaimView, Verdict, decide_from_claim

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    claim = ClaimView(
        "retrain-x", "event:a", now + timedelta(minutes=20), counts=True, in_flight=True
    )
    decision = decide_from_claim(claim, claim_key="event:b", now=now, cooldown=timedelta(0))
    assert decision is not None
    assert decision.verdict is Verdict.ACTIVE


def test_completion_events_in_separate_processes_post_once(rapp: App) -> None:
    from tests.test_retraining_e2e import _DELIVER_AT, ROOT

    _job, event = _submit_and_finish(rapp)
    events = [{**event, "id": str(uuid.uuid4())} for _ in range(3)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start_at = time.time() + 6
    processes = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", _DELIVER_AT, str(start_at), json.dumps(e)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for e in events
    ]
    results = [process.communicate(timeout=180) for process in processes]

    assert [p.returncode for p in processes] == [0] * len(events), results
    assert len(rapp.sim.ml.scoring_posts) == 1
    assert len(_jobs(rapp, "scoring")) == 1
    outcomes = [_outcome(e["id"]) for e in events]
    assert outcomes.count("scoring-started") == 1
    assert set(outcomes) - {"scoring-started"} <= {"scoring-in-progress", "scoring-already-started"}
    assert len(_actions("batch-scoring")) == 1


def test_a_finished_job_named_for_another_workspace_is_read_in_the_topics_and_not_found(
    rapp: App,
) -> None:
    # The job exists in DEV only; the event's topic (PROD) decides where it is read. (PROD's
    # claim names it, else it would be ignored unread: see the tests of the trust rule.)
    rs.claim_job("dev-retrain")
    rapp.sim.ml.add_job(
        scene.DEV,
        {
            "id": f"{scene.DEV}/jobs/dev-retrain",
            "name": "dev-retrain",
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {
                "jobType": "Pipeline",
                "status": "Completed",
                "tags": {APP_TAG: "retraining"},
            },
        },
    )
    event = rs.job_finished_event("dev-retrain", tags={APP_TAG: "retraining"})
    _deliver(event)
    assert _outcome(event["id"]) == "invalid"
    assert rapp.sim.ml.scoring_posts == []


def test_the_subscription_validation_event_costs_no_azure_call(rapp: App) -> None:
    [validation] = json.loads(
        (REFERENCE / "eventgrid_subscriptionvalidationevent.json").read_text(encoding="utf-8")
    )
    validation["topic"] = scene.PROD
    _deliver(validation)
    assert _outcome(validation["id"]) == "invalid"
    assert [r.route for r in rapp.non_token_requests()] == []


@pytest.mark.parametrize("data", [{}, {"DataDriftName": {"odd": 1}, "DriftCoefficient": "high"}])
def test_a_dataset_drift_event_with_sparse_data_is_still_drift(data: dict[str, Any]) -> None:
    parsed = classify_ml_event(
        event_id="e",
        event_type="Microsoft.MachineLearningServices.DatasetDriftDetected",
        workspace_id=WORKSPACE,
        data=data,
    )
    assert isinstance(parsed, Drift)
    assert "coefficient" not in parsed.message


def test_a_backstop_that_stays_unavailable_still_lets_the_timer_retrain(app: App) -> None:
    rs.seed_retraining(app.sim)
    app.set_settings(**rs.retraining_settings(RETRAIN_COOLDOWN_MINUTES="0"))
    _submit_and_finish(app)
    app.sim.inject("ml.scoring.invoke", status=503, times=50)

    with pytest.raises(Exception, match="503"):
        host.fire_timer("scheduled_retrain")  # fails, so that it shows and runs again

    assert len(_jobs(app)) == 2  # the schedule's retrain was not held back by the backstop
    assert _jobs(app, "scoring") == []
