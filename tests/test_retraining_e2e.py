"""`on_ml_event` end to end: the registered function, real SDK clients (azure-ai-ml included) over
HTTPS against the simulator, the ledger and its claims in Azurite.

Drift submits one pipeline job from the configured component; duplicates, the cooldown, an active
job and concurrent deliveries (threads and processes) submit nothing more; a completed retraining
job starts batch scoring once; failures are recorded and announced; dry-run writes nothing.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.errors import TransientAzureError
from shared.arm import ArmId
from shared.ml_events import (
    APP_TAG,
    MONITOR_BREACH_TAG,
)
from shared.runtime import runtime
from simulator.tokens import claims_of
from tests.conftest import App, at_once
from tests.retraining import (
    LOOKALIKE_WORKSPACES,
    add_completed_job,
    deliver_ml_event,
    event_outcome,
    our_jobs,
    recorded_actions,
    submit_and_finish,
    submitted_job,
)
from tools import host, scene
from tools import retraining_scene as rs

ROOT = Path(__file__).resolve().parent.parent


def _routes(app: App) -> list[str]:
    return [r.route for r in app.non_token_requests()]


# ------------------------------------------------------------------------------- drift


def test_drift_submits_one_pipeline_job_from_the_configured_component(rapp: App) -> None:
    event = rs.monitor_breach_event(message="feature tenure drifted: 0.41 > 0.3")
    deliver_ml_event(rapp, event)

    [(name, body, headers)] = rapp.sim.ml.job_puts
    properties = body["properties"]
    assert properties["jobType"] == "Pipeline"
    [step] = properties["jobs"].values()
    # train_churn_model@latest resolves to version 2, the last one registered.
    assert step["componentId"] == f"{scene.PROD}/components/{rs.COMPONENT}/versions/2"
    assert properties["computeId"] == f"{scene.PROD}/computes/cpu-cluster"
    assert properties["experimentName"] == "churn-retraining"
    assert step["inputs"]["training_data"]["uri"] == rs.TRAINING_DATA
    assert step["inputs"]["learning_rate"]["value"] == "0.05"
    assert properties["tags"] == {
        APP_TAG: "retraining",
        "trigger": "drift:model-monitor",
        "trigger-event-id": event["id"],
        "drift-message": "feature tenure drifted: 0.41 > 0.3",
    }
    assert claims_of(headers["x-azureml-token"])["aud"] == "https://ml.azure.com"
    assert _routes(rapp).count("ml.job.put") == 1
    assert event_outcome(event["id"]) == "retraining-submitted"
    [action] = recorded_actions("retraining")
    assert (action["Verdict"], action["Subject"], action["Outcome"]) == (
        "submit",
        name,
        "applied: submitted",
    )
    published = [e["eventType"] for e in rapp.sim.eventgrid.published_events]
    assert published == ["SynapseAmlAutomation.Retraining.Submit.Applied"]


def test_a_component_by_version_is_read_by_version(rapp: App) -> None:
    rapp.set_settings(**rs.retraining_settings(RETRAIN_COMPONENT=f"{rs.COMPONENT}:1"))
    deliver_ml_event(rapp, rs.monitor_breach_event())

    [(_, body, _)] = rapp.sim.ml.job_puts
    [step] = body["properties"]["jobs"].values()
    assert step["componentId"].endswith(f"/components/{rs.COMPONENT}/versions/1")
    assert "ml.component.version.get" in _routes(rapp)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    label=st.booleans(),
    workspace=LOOKALIKE_WORKSPACES,
    component=st.sampled_from(
        [f"/components/{rs.COMPONENT}", f"/components/{rs.COMPONENT}x", "/components/other"]
    ),
    version=st.sampled_from(["/versions/1", "/versions/2", "/versions/1/x", ""]),
)
def test_a_job_runs_only_the_component_asked_for(
    rapp: App, label: bool, workspace: str, component: str, version: str
) -> None:
    # The step runs the component Azure answered with: another's (another workspace's of that
    # name, another component, another version than the one asked for) is never submitted.
    from shared.adapters.answers import UnexpectedAnswerError
    from shared.adapters.retraining_jobs import RetrainingJobsAdapter
    from shared.config import get_settings

    ref = f"{rs.COMPONENT}@latest" if label else f"{rs.COMPONENT}:1"
    rapp.set_settings(**rs.retraining_settings(RETRAIN_COMPONENT=ref))
    config = get_settings().retraining
    assert config is not None
    answered = workspace + component + version
    route = "ml.component.version.list" if label else "ml.component.version.get"

    def answer(body: dict[str, Any]) -> None:
        for item in body.get("value", [body]):
            item["id"] = answered

    rapp.sim.rewrite_reply(route, answer)
    rapp.sim.reset_counts()
    name = f"retrain-{uuid.uuid4().hex[:8]}"
    submit = functools.partial(RetrainingJobsAdapter(runtime().clients).submit, ArmId(scene.PROD))

    ours = workspace.lower() == scene.PROD.lower() and component.endswith(rs.COMPONENT)
    if ours and version == ("/versions/2" if label else "/versions/1"):
        submit(name, config, {})
        assert rapp.sim.count("ml.job.put") == 1
    else:
        with pytest.raises(UnexpectedAnswerError, match=f"asked for component {ref}"):
            submit(name, config, {})
        assert rapp.sim.count("ml.job.put") == 0


def test_v1_dataset_drift_submits_a_job(rapp: App) -> None:
    event = rs.dataset_drift_event()
    deliver_ml_event(rapp, event)
    [job] = our_jobs(rapp)
    assert job["properties"]["tags"]["trigger"] == "drift:dataset-drift"
    assert event_outcome(event["id"]) == "retraining-submitted"


def test_a_monitor_message_with_control_characters_is_tagged_printable(rapp: App) -> None:
    deliver_ml_event(rapp, rs.monitor_breach_event(message="tenure\x00 drifted\udc80 \x1b[31m0.41"))
    [job] = our_jobs(rapp)
    assert job["properties"]["tags"]["drift-message"] == "tenure drifted [31m0.41"


def test_a_duplicate_drift_event_costs_no_azure_call(rapp: App) -> None:
    event = rs.monitor_breach_event()
    deliver_ml_event(rapp, event)
    rapp.sim.reset_counts()

    deliver_ml_event(rapp, event)

    assert _routes(rapp) == ["ml.job.get"]  # finds its own job, submits nothing
    assert len(our_jobs(rapp)) == 1
    assert event_outcome(event["id"]) == "already-submitted"


def test_another_drift_within_the_cooldown_is_debounced_without_azure_calls(rapp: App) -> None:
    submitted_job(rapp)
    rapp.sim.reset_counts()
    second = rs.dataset_drift_event()

    deliver_ml_event(rapp, second)

    assert _routes(rapp) == []
    assert len(our_jobs(rapp)) == 1
    assert event_outcome(second["id"]) == "debounced"
    assert sorted(a["Verdict"] for a in recorded_actions("retraining")) == [
        "debounce-cooldown",
        "submit",
    ]


def test_an_active_retraining_job_debounces_after_the_cooldown(rapp: App) -> None:
    rapp.set_settings(**rs.retraining_settings(RETRAIN_COOLDOWN_MINUTES="0"))
    job = submitted_job(rapp)
    rapp.sim.ml.set_job_status(scene.PROD, job["name"], "Running")
    rapp.sim.reset_counts()
    second = rs.monitor_breach_event()

    deliver_ml_event(rapp, second)

    assert _routes(rapp) == ["ml.job.get"]  # the claim's job: still running
    assert len(our_jobs(rapp)) == 1
    assert event_outcome(second["id"]) == "debounced"


def test_a_finished_job_and_no_cooldown_let_the_next_drift_retrain(rapp: App) -> None:
    rapp.set_settings(**rs.retraining_settings(RETRAIN_COOLDOWN_MINUTES="0"))
    job = submitted_job(rapp)
    rapp.sim.ml.set_job_status(scene.PROD, job["name"], "Failed")

    deliver_ml_event(rapp, rs.monitor_breach_event())

    assert len(our_jobs(rapp)) == 2


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=LOOKALIKE_WORKSPACES, v1=st.booleans())
def test_a_cloudevents_drift_retrains_only_the_workspace_its_source_names(
    rapp: App, source: str, v1: bool
) -> None:
    # CloudEvents 1.0 names the system topic `source`: the workspace the event is about, trusted
    # as the Event Grid schema's `topic` is (set by Event Grid, not by the run's owner).
    event = rs.dataset_drift_event(source) if v1 else rs.monitor_breach_event(source)
    before = len(our_jobs(rapp))

    deliver_ml_event(rapp, host.as_cloud_event(event))

    assert all(our_jobs(rapp, workspace=other) == [] for other in (scene.DEV, scene.SANDBOX))
    outcome = event_outcome(event["id"])
    if source.lower() == scene.PROD.lower():
        assert outcome in ("retraining-submitted", "debounced")
        assert len(our_jobs(rapp)) == before + (outcome == "retraining-submitted")
    else:
        assert outcome in ("out-of-scope", "ignored", "invalid")
        assert len(our_jobs(rapp)) == before


def test_an_event_from_a_workspace_out_of_scope_costs_no_azure_call(rapp: App) -> None:
    event = rs.monitor_breach_event(scene.SANDBOX)
    deliver_ml_event(rapp, event)
    assert _routes(rapp) == []
    assert event_outcome(event["id"]) == "out-of-scope"


def test_an_in_scope_workspace_without_retraining_is_ignored(rapp: App) -> None:
    event = rs.monitor_breach_event(scene.DEV)
    deliver_ml_event(rapp, event)
    assert _routes(rapp) == []
    assert event_outcome(event["id"]) == "ignored"


@pytest.mark.parametrize(
    ("changed", "outcome", "reason"),
    [
        ({"RETRAIN_WORKSPACE_IDS": scene.DEV}, "ignored", f"{scene.PROD} is not in "
         "RETRAIN_WORKSPACE_IDS"),
        ({"RETRAIN_WORKSPACE_IDS": ""}, "ignored", "retraining is off (RETRAIN_WORKSPACE_IDS)"),
        ({"ML_SCOPE_TAG": "automation=on"}, "out-of-scope", f"{scene.PROD} is not in scope "
         "(ML_SCOPES, ML_WORKSPACE_IDS)"),
    ],
    ids=["retraining-elsewhere", "retraining-off", "untagged"],
)  # fmt: skip
def test_a_retrain_completed_after_its_workspace_left_retraining_is_recorded_never_scored(
    rapp: App, changed: dict[str, str], outcome: str, reason: str
) -> None:
    """The job ran while an operator took its workspace out of retraining or out of scope (the
    host restarted with the new settings): its completion event, nor the timer's backstop,
    scores it; the event's record says why, not that the app's job is nobody's."""
    _, event = submit_and_finish(rapp)
    rapp.set_settings(**rs.retraining_settings(**changed))
    rapp.sim.reset_counts()

    deliver_ml_event(rapp, event)
    host.fire_timer("scheduled_retrain")

    assert rapp.sim.ml.scoring_posts == []
    assert [w.route for w in rapp.sim.writes() if scene.PROD.lower() in w.path.lower()] == []
    row = runtime().ledger.event(event["id"])
    assert row is not None
    assert (row["Outcome"], row["Reason"]) == (outcome, reason)


@pytest.mark.parametrize(
    "event",
    [
        rs.monitor_breach_event(message=""),
        rs.job_finished_event("someone-elses-job", tags={"team": "data"}),
        rs.job_finished_event(
            "retrain-x",
            tags={APP_TAG: "retraining"},
            event_type="Microsoft.MachineLearningServices.RunStatusChanged",
            status="Running",
        ),
        {
            **rs.dataset_drift_event(),
            "eventType": "Microsoft.MachineLearningServices.ModelDeployed",
        },
        {**rs.dataset_drift_event(), "topic": "/subscriptions/{subscription-id}"},
    ],
    ids=["empty-breach-tag", "not-this-app", "still-running", "model-deployed", "bad-topic"],
)
def test_events_the_app_does_not_act_on_cost_no_azure_call(
    rapp: App, event: dict[str, Any]
) -> None:
    deliver_ml_event(rapp, event)
    assert _routes(rapp) == []
    assert event_outcome(event["id"]) in ("ignored", "invalid")


def test_retraining_off_ignores_drift(app: App) -> None:
    event = rs.monitor_breach_event()
    app.deliver(event, "on_ml_event")
    assert [r.route for r in app.non_token_requests()] == []
    assert event_outcome(event["id"]) == "ignored"


# ---------------------------------------------------------------------------- races


@pytest.mark.parametrize("cooldown", ["360", "0"])
def test_concurrent_deliveries_in_threads_submit_one_job(rapp: App, cooldown: str) -> None:
    # Without a cooldown only the claim (and the submission it marks in flight) holds them back.
    rapp.set_settings(**rs.retraining_settings(RETRAIN_COOLDOWN_MINUTES=cooldown))
    events = [rs.monitor_breach_event() for _ in range(6)]
    host.indexed()  # the host indexes the app once, before any invocation

    assert at_once([functools.partial(deliver_ml_event, rapp, e) for e in events]) == [None] * 6
    assert len(our_jobs(rapp)) == 1
    assert _routes(rapp).count("ml.job.put") == 1
    outcomes = sorted(event_outcome(event["id"]) for event in events)
    assert outcomes == ["debounced"] * 5 + ["retraining-submitted"]


def test_twin_deliveries_of_one_event_make_one_job(rapp: App) -> None:
    """Event Grid is at least once: the same event may reach two instances at the same moment.

    Twins share one claim key, so the claim does not hold them apart (by design: the same trigger
    again resumes, and a twin that loses the claim's write reads the winner's job name). What makes
    one job is the name the claim key fixes and Azure ML refusing a second job of one name, read
    back as the twin's (`_ensure_submitted`). So this passes without the claim's ETags; without
    that read-back, a twin refused by Azure ML records a failure. The claim's ETags alone hold
    apart deliveries of different events: `test_concurrent_deliveries_in_threads_submit_one_job`."""
    event = rs.monitor_breach_event()
    host.indexed()

    assert at_once([functools.partial(deliver_ml_event, rapp, event)] * 3) == [None] * 3
    assert len(our_jobs(rapp)) == 1
    assert event_outcome(event["id"]) in ("retraining-submitted", "already-submitted")
    # Each twin's own record (the event's row holds only the last one's outcome): one submitted,
    # the others found it, whether before submitting or by Azure ML's refusal.
    [name] = [job["name"] for job in our_jobs(rapp)]
    records = [(a["Verdict"], a["Subject"], a["Outcome"]) for a in recorded_actions("retraining")]
    assert sorted(records) == [
        ("resume", name, "not attempted: already submitted, nothing new"),
        ("resume", name, "not attempted: already submitted, nothing new"),
        ("submit", name, "applied: submitted"),
    ]


_DELIVER_ON_GO = """
import json, pathlib, sys
from tools import host
host.indexed()
pathlib.Path(sys.argv[1]).touch()
sys.stdin.readline()
host.deliver_event("on_ml_event", json.loads(sys.argv[2]))
"""


def _deliver_in_processes(events: list[dict[str, Any]], ready: Path) -> None:
    """Each event delivered by a host process of its own, sharing Azurite and the simulator:
    every process imports and says so (a file in `ready`), then all are told at once to deliver
    (a start time on the clock let a process still importing at that time deliver alone).
    Each must exit 0."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    flags = [ready / f"ready-{index}" for index in range(len(events))]
    processes = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", _DELIVER_ON_GO, str(flag), json.dumps(event)],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag, event in zip(flags, events, strict=True)
    ]
    deadline = time.monotonic() + 120
    while not all(f.exists() for f in flags) and time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            break
        time.sleep(0.05)
    all_ready = all(f.exists() for f in flags)
    for process in processes:
        assert process.stdin is not None
        if not all_ready:
            process.kill()  # our own children, by their PIDs
        with contextlib.suppress(BrokenPipeError):
            process.stdin.write("go\n")
            process.stdin.flush()
    results = [process.communicate(timeout=180) for process in processes]
    assert all_ready, f"not every process got ready to deliver: {results}"
    assert [p.returncode for p in processes] == [0] * len(events), results


def test_concurrent_deliveries_in_processes_sharing_azurite_submit_one_job(
    rapp: App, tmp_path: Path
) -> None:
    events = [rs.monitor_breach_event() for _ in range(4)]
    _deliver_in_processes(events, tmp_path)

    assert len(our_jobs(rapp)) == 1
    assert _routes(rapp).count("ml.job.put") == 1
    outcomes = sorted(event_outcome(event["id"]) for event in events)
    assert outcomes == ["debounced"] * 3 + ["retraining-submitted"]


def test_completion_events_in_separate_processes_post_once(rapp: App, tmp_path: Path) -> None:
    _job, event = submit_and_finish(rapp)
    events = [{**event, "id": str(uuid.uuid4())} for _ in range(3)]
    _deliver_in_processes(events, tmp_path)

    assert len(rapp.sim.ml.scoring_posts) == 1
    assert len(our_jobs(rapp, "scoring")) == 1
    outcomes = [event_outcome(e["id"]) for e in events]
    assert outcomes.count("scoring-started") == 1
    assert set(outcomes) - {"scoring-started"} <= {"scoring-in-progress", "scoring-already-started"}
    assert len(recorded_actions("batch-scoring")) == 1


# ------------------------------------------------------------------- transient failures


@pytest.mark.parametrize("status", [429, 503])
def test_a_throttled_or_unavailable_submission_still_makes_one_job(rapp: App, status: int) -> None:
    rapp.sim.inject("ml.job.put", status=status, retry_after=0)
    deliver_ml_event(rapp, rs.monitor_breach_event())
    assert len(our_jobs(rapp)) == 1


def _submitted_once(rapp: App, event: dict[str, Any]) -> None:
    """One job, recorded and announced as this event's submission (not another's, found)."""
    [name] = [job["name"] for job in our_jobs(rapp)]
    assert event_outcome(event["id"]) == "retraining-submitted"
    records = [(a["Verdict"], a["Subject"], a["Outcome"]) for a in recorded_actions("retraining")]
    assert ("submit", name, "applied: submitted") in records
    assert next(r for r in records if r[0] in ("submit", "resume"))[0] == "submit"  # newest
    published = [e["eventType"] for e in rapp.sim.eventgrid.published_events]
    assert published == ["SynapseAmlAutomation.Retraining.Submit.Applied"]


def test_a_lost_submission_response_is_retried_into_the_same_job(rapp: App) -> None:
    """Azure ML made the job but its answer was lost: azure-core's retry meets the job's name
    taken (409). The job is this request's own submission: submitted, and announced so."""
    rapp.sim.lose_response("ml.job.put", status=503)
    event = rs.monitor_breach_event()
    deliver_ml_event(rapp, event)
    assert [r.status for r in rapp.sim.requests if r.route == "ml.job.put"] == [503, 409]
    _submitted_once(rapp, event)


def test_a_submission_whose_answers_were_all_lost_is_recorded_by_the_redelivery(
    rapp: App,
) -> None:
    """The job was made but every answer was lost: the delivery fails for redelivery, which finds
    the job its claim names that no delivery recorded, and records it as submitted, once."""
    from shared.adapters.transport import RETRY_TOTAL

    # Unavailable, then a last attempt that takes effect but whose answer is lost: the retries
    # (azure-core's retry_status, 3 by default) are spent and the app cannot tell the job exists.
    attempts = 1 + min(RETRY_TOTAL, 3)
    rapp.sim.inject("ml.job.put", status=503, times=attempts - 1, retry_after=0)
    rapp.sim.lose_response("ml.job.put", status=503)
    event = rs.monitor_breach_event()
    with pytest.raises(TransientAzureError):
        deliver_ml_event(rapp, event)
    assert len(our_jobs(rapp)) == 1

    deliver_ml_event(rapp, event)  # Event Grid's redelivery
    _submitted_once(rapp, event)
    deliver_ml_event(rapp, event)  # and again: now recorded, it is found
    assert event_outcome(event["id"]) == "already-submitted"
    assert [a["Verdict"] for a in recorded_actions("retraining")].count("submit") == 1


def test_a_claim_move_whose_answer_was_lost_still_records_the_submission(
    rapp: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Table storage moved the claim to `submitted` but its answer was lost (a 500 timeout,
    which azure-core retries for a PATCH): the retry meets the row changed, 412. The move is this
    request's own (`Holder`): the submission is recorded and announced, not left to nobody."""
    from shared.claims import ClaimState

    table = runtime().ledger.table
    original, lost = table.update_entity, list[Any]()

    def answer_lost(entity: dict[str, Any], **options: Any) -> Any:
        if entity.get("State") == ClaimState.SUBMITTED and not lost:
            lost.append(original(entity, **options))  # took effect; the retry follows
        return original(entity, **options)

    monkeypatch.setattr(table, "update_entity", answer_lost)
    event = rs.monitor_breach_event()
    deliver_ml_event(rapp, event)
    assert lost, "the claim was never moved"
    _submitted_once(rapp, event)


def test_a_submission_that_keeps_failing_is_redelivered_and_then_makes_one_job(rapp: App) -> None:
    rapp.sim.inject("ml.job.put", status=503, times=20, retry_after=0)
    event = rs.monitor_breach_event()
    with pytest.raises(TransientAzureError):
        deliver_ml_event(rapp, event)
    assert our_jobs(rapp) == []
    assert event_outcome(event["id"]) == "failed"
    # A racing drift event while the first one waits for redelivery changes nothing.
    rapp.sim.clear_faults()
    racing = rs.dataset_drift_event()
    deliver_ml_event(rapp, racing)
    assert event_outcome(racing["id"]) == "debounced"

    deliver_ml_event(rapp, event)  # Event Grid's redelivery

    assert len(our_jobs(rapp)) == 1
    assert event_outcome(event["id"]) == "retraining-submitted"


def test_a_refused_submission_is_recorded_and_releases_the_claim(rapp: App) -> None:
    rapp.set_settings(**rs.retraining_settings(RETRAIN_COMPONENT="no_such_component:1"))
    event = rs.monitor_breach_event()
    deliver_ml_event(rapp, event)
    assert our_jobs(rapp) == []
    assert event_outcome(event["id"]) == "failed"
    [action] = recorded_actions("retraining")
    assert action["Outcome"].startswith("failed:")

    # The component is registered later: the next drift is not held back by the failed claim.
    rapp.set_settings(**rs.retraining_settings())
    deliver_ml_event(rapp, rs.monitor_breach_event())
    assert len(our_jobs(rapp)) == 1


# -------------------------------------------------------------------- after retraining


def _complete(app: App, status: str = "Completed") -> tuple[dict[str, Any], dict[str, Any]]:
    job = submitted_job(app)
    app.sim.ml.set_job_status(
        scene.PROD, job["name"], status, error="OOM" if status == "Failed" else None
    )
    app.sim.reset_counts()
    event = rs.job_finished_event(job["name"], tags=job["properties"]["tags"])
    return job, event


def test_a_completed_retrain_starts_batch_scoring_once(rapp: App) -> None:
    job, event = _complete(rapp)
    deliver_ml_event(rapp, event)

    [(headers, body)] = rapp.sim.ml.scoring_posts
    assert claims_of(headers["authorization"].removeprefix("Bearer "))["aud"] == (
        "https://ml.azure.com"
    )
    assert body["properties"]["inputData"] == {
        "UriFolder": {"jobInputType": "UriFolder", "uri": rs.SCORING_INPUT}
    }
    assert body["properties"]["tags"]["retraining-job"] == job["name"]
    [scoring] = our_jobs(rapp, "scoring")
    assert scoring["properties"]["properties"]["azureml.deploymentname"] == "blue"
    assert event_outcome(event["id"]) == "scoring-started"
    assert [a["Subject"] for a in recorded_actions("batch-scoring")] == [scoring["name"]]

    rapp.sim.reset_counts()
    deliver_ml_event(rapp, event)  # redelivered
    deliver_ml_event(rapp, {**event, "id": str(uuid.uuid4())})  # RunStatusChanged twin, say
    assert "ml.scoring.invoke" not in _routes(rapp)
    assert len(our_jobs(rapp, "scoring")) == 1


def test_the_job_is_read_not_the_event(rapp: App) -> None:
    job = submitted_job(rapp)
    rapp.sim.ml.set_job_status(scene.PROD, job["name"], "Running")
    event = rs.job_finished_event(job["name"], tags=job["properties"]["tags"])
    # Azure ML still says Running: nothing starts, and the event goes back to Event Grid so that
    # its redelivery reads the job again (its status can lag the event).
    with pytest.raises(TransientAzureError, match="read again on redelivery"):
        deliver_ml_event(rapp, event)
    assert rapp.sim.ml.scoring_posts == []
    assert event_outcome(event["id"]) == "failed"

    rapp.sim.ml.set_job_status(scene.PROD, job["name"], "Completed")
    deliver_ml_event(rapp, event)  # the redelivery
    assert len(rapp.sim.ml.scoring_posts) == 1
    assert event_outcome(event["id"]) == "scoring-started"


def test_a_retrain_deleted_before_its_completion_is_read_starts_nothing_and_is_not_raised(
    rapp: App,
) -> None:
    # The job ended, then was deleted before the event was handled: ARM answers its read 404.
    job, event = _complete(rapp)
    rapp.sim.inject("ml.job.get", status=404, code="ResourceNotFound", times=10)

    deliver_ml_event(rapp, event)  # not raised: no redelivery would find it

    assert event_outcome(event["id"]) == "invalid"
    row = runtime().ledger.event(event["id"])
    assert row is not None
    assert row["Reason"] == f"job {job['name']} does not exist in the workspace"
    assert rapp.sim.count(route="ml.job.get") == 1
    assert rapp.sim.ml.scoring_posts == []
    assert recorded_actions("batch-scoring") == recorded_actions("model") == []


def test_a_pipeline_step_carrying_the_tags_starts_nothing(rapp: App) -> None:
    rapp.sim.ml.add_job(
        scene.PROD,
        {
            "id": f"{scene.PROD}/jobs/step-run-1",
            "name": "step-run-1",
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {
                "jobType": "Command",
                "status": "Completed",
                "tags": {APP_TAG: "retraining"},
            },
        },
    )
    event = rs.job_finished_event("step-run-1", tags={APP_TAG: "retraining"})
    deliver_ml_event(rapp, event)
    assert rapp.sim.ml.scoring_posts == []
    assert event_outcome(event["id"]) == "ignored"


def test_a_configured_deployment_is_used(rapp: App) -> None:
    rapp.set_settings(**rs.retraining_settings(BATCH_DEPLOYMENT_NAME="green"))
    _, event = _complete(rapp)
    deliver_ml_event(rapp, event)
    [(headers, _)] = rapp.sim.ml.scoring_posts
    assert headers["azureml-model-deployment"] == "green"


def test_scoring_after_a_retrain_is_refused_before_any_post_when_the_deployment_is_missing(
    rapp: App,
) -> None:
    # The one scoring starter checks the endpoint as it does for HTTP callers: a deployment the
    # endpoint does not have is refused before a token or a POST goes to the scoring URI.
    rapp.set_settings(**rs.retraining_settings(BATCH_DEPLOYMENT_NAME="purple"))
    _job, event = _complete(rapp)

    deliver_ml_event(rapp, event)

    assert rapp.sim.ml.scoring_posts == []
    [record] = recorded_actions("batch-scoring")
    assert record["Outcome"] == "failed: the endpoint has no deployment of that name"
    assert event_outcome(event["id"]) == "failed"
    # The refusal started nothing, so it holds nothing back: once the deployment exists, the
    # next delivery starts the scoring.
    rapp.sim.ml.add_batch_endpoint(rs.ENDPOINT, deployments=["blue", "green", "purple"])
    retry = {**event, "id": "retry-after-the-fix"}
    deliver_ml_event(rapp, retry)
    assert len(rapp.sim.ml.scoring_posts) == 1
    assert event_outcome(retry["id"]) == "scoring-started"


def test_scoring_after_a_retrain_on_an_endpoint_without_a_default_is_refused_before_any_post(
    rapp: App,
) -> None:
    rapp.sim.ml.add_batch_endpoint(rs.ENDPOINT, default_deployment=None)
    _job, event = _complete(rapp)

    deliver_ml_event(rapp, event)

    assert rapp.sim.ml.scoring_posts == []
    [record] = recorded_actions("batch-scoring")
    assert "no default deployment" in record["Outcome"]


@pytest.mark.parametrize("status", ["Failed", "Canceled"])
def test_a_failed_or_canceled_retrain_is_recorded_and_announced(rapp: App, status: str) -> None:
    job, event = _complete(rapp, status)
    deliver_ml_event(rapp, event)

    assert rapp.sim.ml.scoring_posts == []
    assert event_outcome(event["id"]) == f"retraining-{status.lower()}"
    [announced] = [a for a in recorded_actions("retraining") if a["Verdict"] == status.lower()]
    assert announced["Subject"] == job["name"]
    assert f"SynapseAmlAutomation.Retraining.{status}" in [
        e["eventType"] for e in rapp.sim.eventgrid.published_events
    ]


@pytest.mark.parametrize("status", [429, 503])
def test_a_throttled_or_unavailable_invoke_still_makes_one_scoring_job(
    rapp: App, status: int
) -> None:
    _, event = _complete(rapp)
    rapp.sim.inject("ml.scoring.invoke", status=status, retry_after=0)
    deliver_ml_event(rapp, event)
    assert len(our_jobs(rapp, "scoring")) == 1


def test_an_invoke_that_keeps_failing_is_redelivered_into_one_scoring_job(rapp: App) -> None:
    _, event = _complete(rapp)
    # The first POST creates the job; its answer, and those of every retry, are lost.
    rapp.sim.lose_response("ml.scoring.invoke", status=503, times=20)
    with pytest.raises(TransientAzureError):
        deliver_ml_event(rapp, event)
    # The job exists already (the answers were lost): the redelivery's POST, with the same
    # repeatability ID, gets that job back rather than a second one.
    assert len(our_jobs(rapp, "scoring")) == 1
    rapp.sim.clear_faults()

    deliver_ml_event(rapp, event)

    assert len(our_jobs(rapp, "scoring")) == 1
    assert event_outcome(event["id"]) == "scoring-started"
    [started] = [a for a in recorded_actions("batch-scoring")]
    assert started["Subject"] == our_jobs(rapp, "scoring")[0]["name"]


@pytest.mark.parametrize("begun", [True, False])
def test_a_completion_whose_scoring_began_is_carried_on_though_a_newer_retrain_holds_the_claim(
    rapp: App, begun: bool
) -> None:
    """A short cooldown lets the next drift claim a new retrain while the last one's scoring waits
    for redelivery (the invoke failed through its retries): that scoring is the app's, begun for
    the job of its claim then, and is not lost. A completion the app never began to follow up
    is the claim's job's only: the newest retrain is the one scored."""
    rapp.set_settings(**rs.retraining_settings(RETRAIN_COOLDOWN_MINUTES="0"))
    first, event = _complete(rapp)
    if begun:
        rapp.sim.inject("ml.scoring.invoke", status=503, times=20, retry_after=0)
        with pytest.raises(TransientAzureError):
            deliver_ml_event(rapp, event)
        rapp.sim.clear_faults()
    deliver_ml_event(rapp, rs.monitor_breach_event())  # a newer retrain claims the workspace
    assert len(our_jobs(rapp)) == 2

    deliver_ml_event(rapp, event)

    if begun:
        assert event_outcome(event["id"]) == "scoring-started"
        (scoring,) = our_jobs(rapp, "scoring")
        assert first["name"] in json.dumps(scoring["properties"]["tags"])
    else:
        assert event_outcome(event["id"]) == "ignored"
        assert our_jobs(rapp, "scoring") == []


def test_a_scoring_uri_outside_the_inference_domain_gets_no_token(rapp: App) -> None:
    rapp.set_settings(**rs.retraining_settings(AML_INFERENCE_DOMAIN="inference.ml.azure.com"))
    _, event = _complete(rapp)
    deliver_ml_event(rapp, event)
    assert rapp.sim.ml.scoring_posts == []
    assert "https://ml.azure.com" not in [t["resource"] for t in rapp.sim.identity.token_requests]
    [refused] = recorded_actions("batch-scoring")
    assert "AML_INFERENCE_DOMAIN" in refused["Outcome"]


# ---------------------------------------------------------------------------- dry-run


def test_dry_run_submits_and_invokes_nothing_and_records_the_plan(rapp: App) -> None:
    rapp.set_settings(**rs.retraining_settings(AUTOMATION_MODE="dry-run"))
    # A retraining job the app submitted two days ago (its claim says so) completes.
    rs.claim_job("retrain-by-hand")
    drift = rs.monitor_breach_event()
    deliver_ml_event(rapp, drift)
    add_completed_job(rapp, "retrain-by-hand")
    deliver_ml_event(rapp, rs.job_finished_event("retrain-by-hand", tags={APP_TAG: "retraining"}))

    writes = [r.route for r in rapp.sim.writes() if r.route != "eventgrid.publish"]
    assert writes == []
    assert rapp.sim.ml.job_puts == []
    assert rapp.sim.ml.scoring_posts == []
    [plan] = recorded_actions("retraining")
    assert plan["Outcome"] == "planned (dry-run)"
    assert json.loads(plan["Evidence"])["component"] == f"{rs.COMPONENT}@latest"
    [scoring_plan] = recorded_actions("batch-scoring")
    assert scoring_plan["Outcome"] == "planned (dry-run)"
    assert event_outcome(drift["id"]) == "dry-run"


def test_dry_run_writes_no_claim_row(rapp: App) -> None:
    rapp.set_settings(**rs.retraining_settings(AUTOMATION_MODE="dry-run"))
    deliver_ml_event(rapp, rs.monitor_breach_event())
    host.fire_timer("scheduled_retrain")
    assert _claim_rows() == []
    assert rapp.sim.ml.job_puts == []


# ---------------------------------------- trust: a tag or a name is not proof of ownership


def _users_job(app: App, name: str, status: str, tags: dict[str, str]) -> None:
    """A pipeline job a workspace user made, with whatever name and tags they chose."""
    app.sim.ml.add_job(
        scene.PROD,
        {
            "id": f"{scene.PROD}/jobs/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {"jobType": "Pipeline", "status": status, "tags": tags},
            "systemData": {"createdAt": "2099-01-01T00:00:00Z"},
        },
    )


USERS_TAGS = [
    {APP_TAG: "retraining"},
    {APP_TAG: "retraining", "trigger": "drift:model-monitor", "trigger-event-id": "x"},
]


@pytest.mark.parametrize("tags", USERS_TAGS)
@pytest.mark.parametrize("name", ["retrain-0123456789abcdef0123", "mine"])
def test_a_users_completed_job_tagged_as_ours_is_never_scored(
    rapp: App, tags: dict[str, str], name: str
) -> None:
    submitted_job(rapp)  # the app's own claim names another job
    _users_job(rapp, name, "Completed", tags)
    rapp.sim.reset_counts()
    event = rs.job_finished_event(name, tags=tags)

    deliver_ml_event(rapp, event)
    assert _routes(rapp) == []  # judged from the ledger's claim: no Azure read
    host.fire_timer("scheduled_retrain")  # the backstop scores only the claim's job either

    assert rapp.sim.ml.scoring_posts == []
    assert event_outcome(event["id"]) == "ignored"


@pytest.mark.parametrize("status", ["NotStarted", "Queued", "Running", "Paused"])
def test_a_users_job_tagged_as_ours_holds_no_retraining_back(rapp: App, status: str) -> None:
    rapp.set_settings(**rs.retraining_settings(RETRAIN_COOLDOWN_MINUTES="0"))
    _users_job(rapp, "stuck-for-ever", status, {APP_TAG: "retraining"})
    first = rs.monitor_breach_event()
    deliver_ml_event(rapp, first)
    assert event_outcome(first["id"]) == "retraining-submitted"
    [ours] = [j for j in our_jobs(rapp) if j["name"] != "stuck-for-ever"]
    rapp.sim.ml.set_job_status(scene.PROD, ours["name"], "Completed")

    second = rs.monitor_breach_event()
    deliver_ml_event(rapp, second)

    assert event_outcome(second["id"]) == "retraining-submitted"


def test_a_flood_of_jobs_tagged_as_ours_neither_blocks_nor_steers_retraining(rapp: App) -> None:
    from shared.adapters.transport import MAX_PAGES

    # A workspace user makes more jobs carrying the app's tag than any paged read is allowed
    # to read (one a page): running, and the newest of the workspace.
    rapp.set_settings(**rs.retraining_settings(RETRAIN_COOLDOWN_MINUTES="0"))
    for index in range(MAX_PAGES + 1):
        _users_job(rapp, f"flood-{index}", "Running", {APP_TAG: "retraining"})
    rapp.sim.page_size = 1
    try:
        drift = rs.monitor_breach_event()
        deliver_ml_event(rapp, drift)
        [(ours, _, _)] = rapp.sim.ml.job_puts
        rapp.sim.ml.set_job_status(scene.PROD, ours, "Completed")  # its event is lost
        host.fire_timer("scheduled_retrain")
    finally:
        rapp.sim.page_size = 50

    # The drift retrained; the timer scored the app's completed retrain and retrained again.
    assert event_outcome(drift["id"]) == "retraining-submitted"
    assert len(rapp.sim.ml.job_puts) == 2
    [scoring] = our_jobs(rapp, "scoring")
    assert scoring["properties"]["tags"]["retraining-job"] == ours


@pytest.mark.parametrize("status", ["NotStarted", "Queued", "NotResponding", "Paused", "Unknown"])
def test_a_stuck_job_of_the_app_holds_retraining_only_until_the_timeout(
    rapp: App, status: str
) -> None:
    from datetime import UTC, datetime, timedelta

    rapp.set_settings(
        **rs.retraining_settings(RETRAIN_COOLDOWN_MINUTES="0", RETRAIN_JOB_TIMEOUT_HOURS="2")
    )
    job = submitted_job(rapp)
    rapp.sim.ml.set_job_status(scene.PROD, job["name"], status)
    held = rs.monitor_breach_event()
    deliver_ml_event(rapp, held)
    assert event_outcome(held["id"]) == "debounced"

    table = runtime().ledger.table
    [row] = [r for r in table.list_entities() if r["RowKey"] == "retraining"]
    row["ClaimedAt"] = (datetime.now(UTC) - timedelta(hours=2, minutes=1)).isoformat()
    table.upsert_entity(row)
    lapsed = rs.monitor_breach_event()
    deliver_ml_event(rapp, lapsed)

    assert event_outcome(lapsed["id"]) == "retraining-submitted"
    assert len(our_jobs(rapp)) == 2
    [submit] = [a for a in recorded_actions("retraining") if "claim lapsed" in a["Reason"]]
    assert job["name"] in submit["Reason"]


@pytest.mark.parametrize("status", ["Completed", "Running"])
def test_a_job_pre_squatting_the_claims_name_is_never_the_apps_retraining(
    rapp: App, status: str
) -> None:
    from shared.bounds import table_key
    from shared.planning.retraining import job_name_for

    # A workspace user creates a job of the very name the app will derive from its claim.
    event = rs.monitor_breach_event(event_id=str(uuid.uuid4()))
    squatted = job_name_for(scene.PROD, f"event:{table_key(event['id'])}")
    _users_job(rapp, squatted, status, {APP_TAG: "retraining"})

    deliver_ml_event(rapp, event)

    # Refused, recorded with who made it, and the claim released: nothing submitted.
    assert rapp.sim.ml.job_puts == []
    assert event_outcome(event["id"]) == "failed"
    [refused] = recorded_actions("retraining")
    assert "the job name is taken" in refused["Outcome"]
    assert "automation@contoso.com (User)" in refused["Outcome"]
    # Its completion is not the app's retrain: no scoring, on the event or the backstop.
    rapp.sim.ml.set_job_status(scene.PROD, squatted, "Completed")
    finished = rs.job_finished_event(squatted, tags={APP_TAG: "retraining"})
    deliver_ml_event(rapp, finished)
    assert event_outcome(finished["id"]) == "ignored"
    host.fire_timer("scheduled_retrain")
    assert rapp.sim.ml.scoring_posts == []
    # The timer retrained under a name of its own claim.
    [ours] = [name for name, _, _ in rapp.sim.ml.job_puts]
    assert ours.lower() != squatted.lower()


# Tags a workspace user may leave on the app's job: none of the app's, another purpose, or any.
EDITED_TAGS = st.one_of(
    st.sampled_from([{}, {APP_TAG: "scoring"}, {APP_TAG: "Retraining"}, {"team": "data"}]),
    st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=3).filter(
        lambda tags: MONITOR_BREACH_TAG not in {key.lower() for key in tags}
    ),
)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tags=EDITED_TAGS, status_changed=st.booleans())
def test_the_apps_retraining_job_is_scored_whatever_its_tags_say(
    rapp: App, tags: dict[str, str], status_changed: bool
) -> None:
    # Its claim proves the job is the app's; its tags are any workspace user's to edit, so they
    # never make its completion someone else's (scoring would wait for the weekly timer).
    if runtime().claims.retraining(ArmId(scene.PROD)) is None:
        _complete(rapp)
    claim = runtime().claims.retraining(ArmId(scene.PROD))
    assert claim is not None
    edited = rapp.sim.ml.job(scene.PROD, claim.job_name)
    assert edited is not None
    edited["properties"]["tags"] = tags
    rapp.sim.ml.add_job(scene.PROD, edited)
    kind = "RunStatusChanged" if status_changed else "RunCompleted"
    event = rs.job_finished_event(
        claim.job_name, tags=tags, event_type=f"Microsoft.MachineLearningServices.{kind}",
        status="Completed",
    )  # fmt: skip

    deliver_ml_event(rapp, event)

    assert event_outcome(event["id"]) in ("scoring-started", "scoring-already-started")
    assert len(rapp.sim.ml.scoring_posts) == 1


def test_a_users_scoring_job_tagged_for_our_retrain_does_not_stop_its_scoring(rapp: App) -> None:
    job, event = _complete(rapp)
    decoy = {APP_TAG: "scoring", "retraining-job": job["name"], "trigger": "retraining-completed"}
    _users_job(rapp, "decoy-scoring", "Canceled", decoy)

    deliver_ml_event(rapp, event)

    assert len(rapp.sim.ml.scoring_posts) == 1
    assert event_outcome(event["id"]) == "scoring-started"
    [started] = recorded_actions("batch-scoring")
    assert started["Subject"] != "decoy-scoring"


def test_scoring_after_a_retrain_is_in_the_one_record_and_tag_scheme_of_scoring_jobs(
    rapp: App,
) -> None:
    from shared.ledger import partition_rows
    from shared.scoring.records import JOBS_PARTITION

    job, event = _complete(rapp)
    deliver_ml_event(rapp, event)

    [(_, body)] = rapp.sim.ml.scoring_posts
    assert body["properties"]["tags"] == {
        APP_TAG: "scoring",
        "trigger": "retraining-completed",
        "retraining-job": job["name"],
    }
    [scoring] = our_jobs(rapp, "scoring")
    [row] = partition_rows(runtime().ledger.table, JOBS_PARTITION)
    assert (row["JobName"], row["WorkspaceId"], row["Caller"]) == (scoring["name"], scene.PROD, "")
    assert row["InputPath"] == rs.SCORING_INPUT


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(principal=st.text(max_size=40))
def test_no_http_caller_sees_a_scoring_job_started_after_a_retrain(
    rapp: App, principal: str
) -> None:
    from shared.runtime import runtime
    from shared.scoring.requests import RefusedError

    if not rapp.sim.ml.scoring_posts:
        _, event = _complete(rapp)
        deliver_ml_event(rapp, event)
    [scoring] = our_jobs(rapp, "scoring")
    rapp.sim.reset_counts()
    with pytest.raises(RefusedError) as refused:
        runtime().scoring.status(scoring["name"], principal)
    assert refused.value.problem.status == 404
    assert _routes(rapp) == []


REFERENCE = Path(__file__).resolve().parent / "fixtures"


def _claim_rows() -> list[dict[str, Any]]:
    table = runtime().ledger.table
    return [dict(row) for row in table.list_entities() if row["PartitionKey"].startswith("claims:")]


def _edit_retraining_claim(**values: str) -> None:
    table = runtime().ledger.table
    [row] = [r for r in table.list_entities() if r["RowKey"] == "retraining"]
    row.update(values)
    table.upsert_entity(row)


def test_a_false_breach_tag_submits_nothing_end_to_end(rapp: App) -> None:
    event = rs.monitor_breach_event()
    event["data"]["runTags"] = {MONITOR_BREACH_TAG: False}
    deliver_ml_event(rapp, event)
    assert event_outcome(event["id"]) == "ignored"
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
    deliver_ml_event(rapp, event)
    assert event_outcome(event["id"]) == "ignored"
    assert rapp.sim.ml.scoring_posts == []


# -------------------------------------------------------------------------------- claims


def test_a_claim_time_edited_without_an_offset_is_read_as_utc(rapp: App) -> None:
    _job, _ = submit_and_finish(rapp)
    naive_now = datetime.now(UTC).replace(tzinfo=None).isoformat()
    _edit_retraining_claim(ClaimedAt=naive_now)
    within = rs.monitor_breach_event()
    deliver_ml_event(
        rapp, within
    )  # within the cooldown: debounced, not a crash redelivered for ever
    assert event_outcome(within["id"]) == "debounced"

    _edit_retraining_claim(
        ClaimedAt=(datetime.now(UTC) - timedelta(days=1)).replace(tzinfo=None).isoformat()
    )
    after = rs.monitor_breach_event()
    deliver_ml_event(rapp, after)
    assert event_outcome(after["id"]) == "retraining-submitted"
    assert len(our_jobs(rapp)) == 2


@pytest.mark.parametrize(
    "edited",
    [
        {"ClaimedAt": "9999-12-31T23:59:59+00:00", "State": "submitted"},
        {"ClaimedAt": "2999-01-01T00:00:00", "State": "submitted"},
        # The claim's job is read by its name: `..` read the workspace, `.` the job list, each
        # refused as another job's answer, so every drift signal failed while the row stood.
        {"JobName": "..", "ClaimedAt": "2026-01-01T00:00:00+00:00"},
        {"JobName": ".", "ClaimedAt": "2026-01-01T00:00:00+00:00"},
    ],
)
def test_a_claim_dated_in_the_future_or_naming_a_path_holds_nothing_back(
    rapp: App, edited: dict[str, str]
) -> None:
    submit_and_finish(rapp)
    _edit_retraining_claim(**edited)
    event = rs.monitor_breach_event()
    deliver_ml_event(rapp, event)
    assert event_outcome(event["id"]) == "retraining-submitted"
    assert len(our_jobs(rapp)) == 2


def test_a_claim_whose_submission_died_holds_drift_back_only_while_in_flight(rapp: App) -> None:
    """The timer claimed a retraining and its run died before the job was submitted (a timer is
    not delivered again): once the claim is past its in-flight window, no job of it exists, so no
    cooldown holds: the next drift retrains (it was debounced for the whole cooldown, 'last
    retraining job ... was submitted at', with nothing submitted)."""
    rapp.sim.inject("ml.job.put", status=503, times=20, retry_after=0)
    with pytest.raises(TransientAzureError):
        host.fire_timer("scheduled_retrain")
    rapp.sim.clear_faults()
    assert our_jobs(rapp) == []
    racing = rs.monitor_breach_event()
    deliver_ml_event(rapp, racing)
    assert event_outcome(racing["id"]) == "debounced"  # within the window: it may be submitting

    _edit_retraining_claim(ClaimedAt=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    event = rs.monitor_breach_event()
    deliver_ml_event(rapp, event)
    assert event_outcome(event["id"]) == "retraining-submitted"
    assert len(our_jobs(rapp)) == 1


def test_a_claim_whose_job_was_submitted_but_not_confirmed_holds_the_cooldown(rapp: App) -> None:
    """The claim's run died after submitting, before marking the claim submitted: its job
    exists, so its cooldown holds as a confirmed claim's does."""
    submit_and_finish(rapp)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    _edit_retraining_claim(State="claimed", ClaimedAt=an_hour_ago)
    event = rs.monitor_breach_event()
    deliver_ml_event(rapp, event)
    assert event_outcome(event["id"]) == "debounced"
    assert len(our_jobs(rapp)) == 1


def test_a_retraining_job_that_failed_quickly_still_holds_the_cooldown(rapp: App) -> None:
    _, finished = submit_and_finish(rapp, "Failed")
    deliver_ml_event(rapp, finished)
    event = rs.monitor_breach_event()
    deliver_ml_event(rapp, event)
    assert event_outcome(event["id"]) == "debounced"
    assert len(our_jobs(rapp)) == 1


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
    deliver_ml_event(rapp, event)
    assert event_outcome(event["id"]) == "retraining-submitted"


def test_a_redelivery_of_the_claiming_event_after_a_transient_failure_starts_scoring(
    rapp: App,
) -> None:
    # The claim holds other deliveries back, never the redelivery of the one that made it.
    _job, event = submit_and_finish(rapp)
    rapp.sim.inject("ml.batch_endpoint.get", status=503, times=20)
    with pytest.raises(Exception, match="503"):
        deliver_ml_event(rapp, event)
    twin = {**event, "id": str(uuid.uuid4())}
    rapp.sim.clear_faults()
    deliver_ml_event(rapp, twin)
    assert event_outcome(twin["id"]) == "scoring-in-progress"

    deliver_ml_event(rapp, event)  # Event Grid's redelivery

    assert len(our_jobs(rapp, "scoring")) == 1
    assert event_outcome(event["id"]) == "scoring-started"


def test_a_refused_scoring_start_leaves_no_claim_that_holds_the_next_attempt(app: App) -> None:
    rs.seed_retraining(app.sim)
    app.set_settings(**rs.retraining_settings(BATCH_ENDPOINT_NAME="churn-batch-next"))
    _job, event = submit_and_finish(app)
    deliver_ml_event(app, event)
    assert event_outcome(event["id"]) == "failed"
    [refused] = recorded_actions("batch-scoring")
    assert refused["Outcome"].startswith("failed: HTTP 404")

    # The endpoint is created a minute later; the next completion event (a twin) starts it.
    app.sim.ml.add_batch_endpoint(
        f"{scene.PROD}/batchEndpoints/churn-batch-next", deployments=["blue"]
    )
    twin = {**event, "id": str(uuid.uuid4())}
    deliver_ml_event(app, twin)
    assert event_outcome(twin["id"]) == "scoring-started"
    assert len(our_jobs(app, "scoring")) == 1


# ---------------------- invalid events: recorded as invalid, read in no other workspace


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
    deliver_ml_event(rapp, event)
    assert event_outcome(event["id"]) == "invalid"
    assert rapp.sim.ml.scoring_posts == []


def test_the_subscription_validation_event_costs_no_azure_call(rapp: App) -> None:
    [validation] = json.loads(
        (REFERENCE / "eventgrid_subscriptionvalidationevent.json").read_text(encoding="utf-8")
    )
    validation["topic"] = scene.PROD
    deliver_ml_event(rapp, validation)
    assert event_outcome(validation["id"]) == "invalid"
    assert [r.route for r in rapp.non_token_requests()] == []


@pytest.mark.parametrize(
    "run_id", ["../../workspaces/other/jobs/x", "job?api-version=1", "j" * 300, "job\nname"]
)
def test_a_finished_run_whose_id_is_not_a_job_name_costs_no_azure_call(
    rapp: App, run_id: str
) -> None:
    event = rs.job_finished_event(run_id, tags={APP_TAG: "retraining"})

    deliver_ml_event(rapp, event)

    assert rapp.non_token_requests() == [] or all(
        r.route == "eventgrid.publish" for r in rapp.non_token_requests()
    )
    assert event_outcome(event["id"]) == "invalid"


# ------------------------ azure-ai-ml in the app's process: its notices and environment

_SUBMIT_IN_A_FRESH_PROCESS = """
import json, sys
from tools import host
host.indexed()
host.deliver_event("on_ml_event", json.loads(sys.argv[1]))
"""


def test_azure_ai_ml_prints_no_experimental_class_notices(rapp: App) -> None:
    # A fresh process: azure-ai-ml prints each notice once per process, so a test in this one
    # could pass only because an earlier test already had it printed.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    event = rs.monitor_breach_event()
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _SUBMIT_IN_A_FRESH_PROCESS, json.dumps(event)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert len(our_jobs(rapp, "retraining")) == 1  # the submission path did run
    assert "experimental class" not in result.stderr + result.stdout


def test_a_stale_current_cloud_in_the_environment_does_not_derail_submission(
    rapp: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # azure-ai-ml reads "the current cloud" from the environment; a name this process never
    # registered (inherited from a parent) must not send it to the public cloud's metadata.
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "custom:stale.example:443")
    event = rs.monitor_breach_event()

    deliver_ml_event(rapp, event)

    assert len(our_jobs(rapp)) == 1
    assert event_outcome(event["id"]) == "retraining-submitted"
