"""How a batch scoring job the app started ended, end to end: the registered functions
(`on_ml_event`, `reconcile_all`, `start_scoring`), real SDK clients over HTTPS against the
simulator, the ledger in Azurite.

The job's completion event (or, when it was lost, the sweep's backstop) reads the job and records
`BatchScoring.Completed` or `BatchScoring.Failed` (Canceled too) once: in the ledger, in the
job's scoring-jobs row, as an outcome event. A job is the app's only if its scoring-jobs row says
so: a user's job tagged like the app's costs no Azure call and is never announced.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.eventgrid import SystemEventNames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.errors import TransientAzureError
from shared.ledger import partition_rows
from shared.ml_events import APP_TAG
from shared.reconcilers.scoring_outcomes import BACKSTOP_LIMIT, BACKSTOP_WINDOW
from shared.runtime import runtime
from shared.scoring.records import JOBS_PARTITION, JobRecord, ScoringRecords
from tests.conftest import App, at_once
from tests.test_ledger import ledger_fails_on, once_rows_age
from tools import host, scene
from tools import retraining_scene as rs
from tools import scoring_scene as ss

pytestmark = pytest.mark.slow

COMPLETED = "SynapseAmlAutomation.BatchScoring.Completed"
FAILED = "SynapseAmlAutomation.BatchScoring.Failed"
UNFOLLOWED = "SynapseAmlAutomation.BatchScoring.Unfollowed"

RUN_STATUS_CHANGED = SystemEventNames.MachineLearningServicesRunStatusChangedEventName.value


@pytest.fixture
def rapp(app: App) -> App:
    rs.seed_retraining(app.sim)
    app.set_settings(**rs.retraining_settings())
    return app


def _scoring_job(app: App) -> dict[str, Any]:
    """A scoring job the app started after a retrain (drift -> retrain -> completed -> scoring)."""
    app.deliver(rs.monitor_breach_event(), "on_ml_event")
    [retrain] = _jobs(app, "retraining")
    app.sim.ml.set_job_status(scene.PROD, retrain["name"], "Completed")
    app.deliver(rs.job_finished_event(retrain["name"], tags=retrain["properties"]["tags"]),
                "on_ml_event")  # fmt: skip
    [job] = _jobs(app, "scoring")
    app.sim.reset_counts()
    return job


def _jobs(app: App, purpose: str, workspace: str = scene.PROD) -> list[dict[str, Any]]:
    return [
        j for j in app.sim.ml.jobs(workspace) if j["properties"]["tags"].get(APP_TAG) == purpose
    ]


def _finish(app: App, job: dict[str, Any], ends: str, **event: Any) -> dict[str, Any]:
    """Azure ML ends the job; its completion event (not yet delivered)."""
    error = "disk full" if ends == "Failed" else None
    app.sim.ml.set_job_status(scene.PROD, job["name"], ends, error=error)
    return rs.job_finished_event(job["name"], tags=job["properties"]["tags"], **event)


def _announced(app: App) -> list[dict[str, Any]]:
    return [
        e
        for e in app.sim.eventgrid.published_events
        if e["eventType"].startswith("SynapseAmlAutomation.BatchScoring.")
        and e["eventType"].split(".")[2] in ("Completed", "Failed")
    ]


def _outcomes(workspace: str = scene.PROD) -> list[dict[str, Any]]:
    return [
        a
        for a in runtime().ledger.actions(workspace)
        if a["Kind"] == "batch-scoring" and a["Verdict"] in ("completed", "failed")
    ]


def _event_outcome(event_id: str) -> str:
    row = runtime().ledger.event(event_id)
    assert row is not None
    return str(row["Outcome"])


def _row(name: str) -> dict[str, Any]:
    jobs = partition_rows(runtime().ledger.table, JOBS_PARTITION)
    [row] = [dict(r) for r in jobs if r["JobName"] == name]
    return row


def _records(clock: Any = None) -> ScoringRecords:
    table = runtime().ledger.table
    return ScoringRecords(table) if clock is None else ScoringRecords(table, clock)


def _job_reads(app: App, name: str) -> int:
    return sum(1 for r in app.sim.requests if r.route == "ml.job.get" and r.path.endswith(name))


def _azure_writes(app: App) -> list[Any]:
    return [r for r in app.sim.writes() if r.route != "eventgrid.publish"]


def _sweep() -> None:
    host.fire_timer("reconcile_all")


# ----------------------------------------------------------------------- the event


def test_a_completed_scoring_job_is_recorded_and_announced_once(rapp: App) -> None:
    job = _scoring_job(rapp)
    event = _finish(rapp, job, "Completed")

    rapp.deliver(event, "on_ml_event")

    [announced] = _announced(rapp)
    assert announced["eventType"] == COMPLETED
    assert announced["subject"] == job["name"]
    assert announced["data"]["workspaceId"] == scene.PROD
    assert _event_outcome(event["id"]) == "scoring-completed"
    [recorded] = _outcomes()
    assert (recorded["Subject"], recorded["Verdict"], recorded["Outcome"]) == (
        job["name"],
        "completed",
        "ended Completed",
    )
    assert '"endpoint": "' + rs.ENDPOINT in recorded["Evidence"]
    row = _row(job["name"])
    assert (row["Status"], bool(row["AnnouncedAt"])) == ("Completed", True)
    assert _job_reads(rapp, job["name"]) == 1
    assert _azure_writes(rapp) == []


@pytest.mark.parametrize("status", ["Failed", "Canceled"])
def test_a_failed_or_canceled_scoring_job_is_announced_as_failed(
    rapp: App, status: str, caplog: pytest.LogCaptureFixture
) -> None:
    job = _scoring_job(rapp)
    event = _finish(rapp, job, status, event_type=RUN_STATUS_CHANGED, status=status)

    with caplog.at_level(logging.INFO):
        rapp.deliver(event, "on_ml_event")

    [announced] = _announced(rapp)
    assert announced["eventType"] == FAILED
    assert announced["data"]["outcome"] == f"ended {status}"
    [recorded] = _outcomes()
    assert recorded["Verdict"] == "failed"
    assert recorded["Reason"].startswith(f"scoring job {job['name']} ended {status}")
    assert ("disk full" in recorded["Reason"]) is (status == "Failed")
    assert _row(job["name"])["Status"] == status
    assert _event_outcome(event["id"]) == f"scoring-{status.lower()}"
    [line] = [r for r in caplog.records if getattr(r, "verdict", "") == "failed"]
    assert line.levelno == logging.WARNING
    assert (line.kind, line.subject_id) == ("batch-scoring", job["name"])  # type: ignore[attr-defined]


def test_a_redelivered_or_twin_event_announces_nothing_more_and_reads_nothing(rapp: App) -> None:
    job = _scoring_job(rapp)
    event = _finish(rapp, job, "Completed")
    rapp.deliver(event, "on_ml_event")
    rapp.sim.reset_counts()

    rapp.deliver(event, "on_ml_event")  # redelivered
    twin = rs.job_finished_event(job["name"], tags=job["properties"]["tags"],
                                 event_type=RUN_STATUS_CHANGED, status="Completed")  # fmt: skip
    rapp.deliver(twin, "on_ml_event")

    assert len(_announced(rapp)) == 1
    assert len(_outcomes()) == 1
    assert _event_outcome(twin["id"]) == "already-recorded"
    assert rapp.non_token_requests() == []


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tags=st.one_of(
        st.sampled_from([{}, {APP_TAG: "retraining"}, {APP_TAG: "Scoring"}]),
        st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=3),
    ),
    status_changed=st.booleans(),
)
def test_the_apps_scoring_job_is_announced_whatever_its_tags_say(
    rapp: App, tags: dict[str, str], status_changed: bool
) -> None:
    # Its scoring-jobs row proves the job is the app's; its tags are any workspace user's to
    # edit, so they never make its end someone else's (announced only by the sweep, later).
    if not (rows := list(partition_rows(runtime().ledger.table, JOBS_PARTITION))):
        _finish(rapp, _scoring_job(rapp), "Completed")
        rows = list(partition_rows(runtime().ledger.table, JOBS_PARTITION))
    name = str(rows[0]["JobName"])
    kind = {"event_type": RUN_STATUS_CHANGED, "status": "Completed"} if status_changed else {}
    event = rs.job_finished_event(name, tags=tags, **kind)

    rapp.deliver(event, "on_ml_event")

    assert _event_outcome(event["id"]) in ("scoring-completed", "already-recorded")
    assert len(_announced(rapp)) == 1


def test_instances_handling_one_jobs_end_at_once_announce_it_once(rapp: App) -> None:
    """Event Grid is at least once, and a job's end comes as RunCompleted and as RunStatusChanged:
    instances may handle one end at the same moment. All can read the job's row before any marks
    it announced: only the ledger's create-only `first_time` row holds them to one announcement
    (`test_instances_asking_first_time_at_once_get_one_true`)."""
    job = _scoring_job(rapp)
    event = _finish(rapp, job, "Completed")
    twin = rs.job_finished_event(job["name"], tags=job["properties"]["tags"],
                                 event_type=RUN_STATUS_CHANGED, status="Completed")  # fmt: skip
    deliveries = [functools.partial(rapp.deliver, one, "on_ml_event") for one in (event, twin) * 2]
    host.indexed()  # the host indexes the app once, before any invocation

    assert at_once(deliveries) == [None] * 4  # none raised
    assert [e["eventType"] for e in _announced(rapp)] == [COMPLETED]
    assert len(_outcomes()) == 1
    assert {_event_outcome(event["id"]), _event_outcome(twin["id"])} <= {
        "scoring-completed",
        "already-recorded",
    }
    assert bool(_row(job["name"])["AnnouncedAt"])


def test_the_job_is_read_not_the_event(rapp: App) -> None:
    job = _scoring_job(rapp)
    event = _finish(rapp, job, "Running")

    # Azure ML still says Running: nothing is announced; Event Grid redelivers the event.
    with pytest.raises(TransientAzureError, match="read again on redelivery"):
        rapp.deliver(event, "on_ml_event")
    assert _announced(rapp) == []
    assert _event_outcome(event["id"]) == "failed"

    rapp.sim.ml.set_job_status(scene.PROD, job["name"], "Failed")
    rapp.deliver(event, "on_ml_event")
    assert [e["eventType"] for e in _announced(rapp)] == [FAILED]


def test_an_unavailable_read_is_recorded_and_redelivered(rapp: App) -> None:
    job = _scoring_job(rapp)
    event = _finish(rapp, job, "Completed")
    rapp.sim.inject("ml.job.get", status=503, times=20, retry_after=0)

    with pytest.raises(TransientAzureError):
        rapp.deliver(event, "on_ml_event")
    assert _announced(rapp) == []
    [retry] = [a for a in runtime().ledger.actions(scene.PROD) if a["Verdict"] == "retry"]
    assert retry["Outcome"].startswith("failed (will retry)")

    rapp.sim.clear_faults()
    rapp.deliver(event, "on_ml_event")
    assert [e["eventType"] for e in _announced(rapp)] == [COMPLETED]


def test_a_users_job_tagged_like_the_apps_costs_no_azure_call(rapp: App) -> None:
    _scoring_job(rapp)
    tags = {APP_TAG: "scoring", "trigger": "retraining-completed"}
    rapp.sim.ml.add_job(
        scene.PROD,
        {
            "id": f"{scene.PROD}/jobs/users-scoring",
            "name": "users-scoring",
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {"jobType": "Pipeline", "status": "Failed", "tags": tags},
        },
    )
    event = rs.job_finished_event("users-scoring", tags=tags)

    rapp.deliver(event, "on_ml_event")
    _sweep()

    assert _event_outcome(event["id"]) == "ignored"
    assert _job_reads(rapp, "users-scoring") == 0
    assert _announced(rapp) == []


def test_the_apps_job_name_in_another_workspace_is_not_the_apps(rapp: App) -> None:
    job = _scoring_job(rapp)
    _finish(rapp, job, "Completed")
    event = rs.job_finished_event(job["name"], workspace_id=scene.DEV,
                                  tags=job["properties"]["tags"])  # fmt: skip

    rapp.deliver(event, "on_ml_event")

    assert _event_outcome(event["id"]) == "ignored"
    assert rapp.non_token_requests() == []
    assert _announced(rapp) == []


def test_an_event_from_a_listed_workspace_that_is_excluded_costs_no_azure_call(
    rapp: App,
) -> None:
    # ML_SCOPE_EXCLUDE applies to listed workspaces too: the event of a job the app started there
    # before the exclusion is out of scope, by its topic's ID alone, as any other event.
    import json

    job = _scoring_job(rapp)
    event = _finish(rapp, job, "Completed")
    excluded = json.dumps([scene.PROD.rsplit("/providers/", 1)[0]])
    rapp.set_settings(RETRAIN_WORKSPACE_IDS="", ML_SCOPE_EXCLUDE=excluded)

    rapp.deliver(event, "on_ml_event")

    assert _event_outcome(event["id"]) == "out-of-scope"
    assert rapp.non_token_requests() == []
    assert _announced(rapp) == []


def test_a_read_answered_with_another_workspaces_job_of_the_name_announces_nothing(
    rapp: App,
) -> None:
    job = _scoring_job(rapp)
    event = _finish(rapp, job, "Running")  # the event is early: the app's job still runs

    def elsewhere(body: dict[str, Any]) -> None:
        # Asked for the app's job, Azure answers with a job of that name elsewhere, ended.
        body["id"] = body["id"].replace(scene.PROD, scene.DEV)
        body["properties"]["status"] = "Failed"

    rapp.sim.rewrite_reply("ml.job.get", elsewhere, times=2)
    rapp.deliver(event, "on_ml_event")
    _sweep()  # the backstop reads it again, answered the same

    assert _announced(rapp) == []
    assert _row(job["name"])["Status"] != "Failed"
    assert _event_outcome(event["id"]) == "failed"
    # Its own end is announced when Azure answers about it.
    rapp.sim.ml.set_job_status(scene.PROD, job["name"], "Completed")
    _sweep()
    assert [e["eventType"] for e in _announced(rapp)] == [COMPLETED]


# ---------------------------------------------------------------------- the backstop


def test_the_sweep_announces_a_job_whose_event_was_lost_once(rapp: App) -> None:
    job = _scoring_job(rapp)
    late = _finish(rapp, job, "Canceled")

    _sweep()
    assert [e["eventType"] for e in _announced(rapp)] == [FAILED]
    [recorded] = _outcomes()
    assert recorded["Trigger"].startswith("sweep:")
    assert _row(job["name"])["Status"] == "Canceled"

    rapp.sim.reset_counts()
    _sweep()  # the next sweep does not read it again
    rapp.deliver(late, "on_ml_event")  # nor does its event, should it come after all
    assert len(_announced(rapp)) == 1
    assert _job_reads(rapp, job["name"]) == 0
    assert _event_outcome(late["id"]) == "already-recorded"


def test_the_sweep_after_the_event_announces_nothing_more(rapp: App) -> None:
    job = _scoring_job(rapp)
    rapp.deliver(_finish(rapp, job, "Completed"), "on_ml_event")
    rapp.sim.reset_counts()

    _sweep()

    assert len(_announced(rapp)) == 1
    assert _job_reads(rapp, job["name"]) == 0


def test_the_sweep_leaves_a_running_job_for_later(rapp: App) -> None:
    job = _scoring_job(rapp)
    rapp.sim.ml.set_job_status(scene.PROD, job["name"], "Running")

    _sweep()
    assert _announced(rapp) == []
    assert _job_reads(rapp, job["name"]) == 1

    rapp.sim.ml.set_job_status(scene.PROD, job["name"], "Completed")
    _sweep()
    assert [e["eventType"] for e in _announced(rapp)] == [COMPLETED]


def test_an_unavailable_read_fails_the_sweep_after_it_reconciled_every_workspace(
    rapp: App,
) -> None:
    job = _scoring_job(rapp)
    _finish(rapp, job, "Completed")
    rapp.sim.inject("ml.job.get", status=503, times=20, retry_after=0)

    with pytest.raises(TransientAzureError, match=job["name"]):
        _sweep()
    assert _announced(rapp) == []
    assert rapp.sim.count("aml.workspace.get") >= 2  # the workspaces still had their turn

    rapp.sim.clear_faults()
    _sweep()
    assert [e["eventType"] for e in _announced(rapp)] == [COMPLETED]


def test_the_backstop_is_bounded_by_count_and_age(rapp: App) -> None:
    # Jobs the app recorded: one older than the window, then more than a run reads.
    now = datetime.now(UTC)
    clock = {"now": now - BACKSTOP_WINDOW - timedelta(hours=1)}
    records = _records(lambda: clock["now"])
    names = [f"batchjob-{i:03d}" for i in range(BACKSTOP_LIMIT + 6)]
    for i, name in enumerate(names):
        if i == 1:
            clock["now"] = now - timedelta(hours=1)
        rapp.sim.ml.add_job(
            scene.PROD,
            {
                "id": f"{scene.PROD}/jobs/{name}",
                "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/jobs",
                "properties": {"jobType": "Pipeline", "status": "Completed", "tags": {}},
            },
        )
        records.record_job(
            JobRecord(
                name,
                scene.PROD,
                rs.ENDPOINT,
                None,
                "uri_folder",
                rs.SCORING_INPUT,
                "",
                None,
                None,
                None,
                "Running",
            )
        )
        clock["now"] += timedelta(seconds=1)
    rapp.sim.reset_counts()

    _sweep()

    assert _job_reads(rapp, names[0]) == 0  # older than the window
    read = [name for name in names if _job_reads(rapp, name)]
    assert read == names[1 : BACKSTOP_LIMIT + 1]  # the oldest first, at most the limit
    _sweep()
    assert {e["subject"] for e in _announced(rapp)} == set(names[1:])


def test_jobs_deleted_in_azure_leave_the_backstop_and_hold_no_newer_job_back(rapp: App) -> None:
    """A job deleted in Azure never ends: left unannounced, BACKSTOP_LIMIT of them would keep
    every newer job whose event was lost from being announced for the whole window."""
    clock = {"now": datetime.now(UTC) - timedelta(hours=2)}
    records = _records(lambda: clock["now"])
    gone = [f"batchjob-gone-{i:03d}" for i in range(BACKSTOP_LIMIT)]
    for name in gone:
        fields = (rs.ENDPOINT, None, "uri_folder", rs.SCORING_INPUT, "", None, None, None)
        records.record_job(JobRecord(name, scene.PROD, *fields, "Running"))
        clock["now"] += timedelta(seconds=1)
    job = _scoring_job(rapp)
    _finish(rapp, job, "Completed")  # its event is lost

    _sweep()
    _sweep()

    assert [e["subject"] for e in _announced(rapp)] == [job["name"]]
    assert {_row(name)["Status"] for name in gone} == {"Deleted"}
    noted = [a for a in runtime().ledger.actions(scene.PROD) if a["Verdict"] == "gone"]
    assert sorted(a["Subject"] for a in noted) == gone
    rapp.sim.reset_counts()
    _sweep()
    assert sum(_job_reads(rapp, name) for name in gone) == 0


def _submitted(name: str, ago: timedelta) -> None:
    """The job's scoring-jobs row says it was submitted `ago`."""
    row = {"PartitionKey": JOBS_PARTITION, "RowKey": _row(name)["RowKey"]}
    runtime().ledger.table.update_entity(
        row | {"SubmittedAt": (datetime.now(UTC) - ago).isoformat()}
    )


def _unfollowed(app: App) -> tuple[list[str], list[str]]:
    """The subjects of the `unfollowed` ledger rows, and of their outcome events."""
    rows = [a for a in runtime().ledger.actions(scene.PROD) if a["Verdict"] == "unfollowed"]
    events = [e for e in app.sim.eventgrid.published_events if e["eventType"] == UNFOLLOWED]
    return [a["Subject"] for a in rows], [e["subject"] for e in events]


def test_a_job_about_to_leave_the_backstop_is_said_once_and_its_end_still_announced(
    rapp: App, caplog: pytest.LogCaptureFixture
) -> None:
    """A job still running when its row leaves the window would drop out of the backstop
    silently: its last day in it, on-call hears once that only its end event will announce it."""
    job = _scoring_job(rapp)
    rapp.sim.ml.set_job_status(scene.PROD, job["name"], "Running")
    _submitted(job["name"], timedelta(days=6, hours=12))

    with caplog.at_level(logging.INFO):
        _sweep()
        _sweep()

    assert _unfollowed(rapp) == ([job["name"]], [job["name"]])
    [line] = [r for r in caplog.records if getattr(r, "verdict", "") == "unfollowed"]
    assert line.levelno == logging.WARNING
    assert "still Running after 6 days" in line.getMessage()
    assert _announced(rapp) == []
    assert not _row(job["name"]).get("AnnouncedAt")  # its end event still announces it

    rapp.deliver(_finish(rapp, job, "Completed"), "on_ml_event")
    assert [e["eventType"] for e in _announced(rapp)] == [COMPLETED]
    assert len(_unfollowed(rapp)[1]) == 1


def test_a_job_whose_reads_are_refused_in_its_last_day_is_said_once_too(
    rapp: App, caplog: pytest.LogCaptureFixture
) -> None:
    """A 403 on every read leaves the job's end unknown: it too leaves the look said, once."""
    job = _scoring_job(rapp)
    rapp.sim.ml.set_job_status(scene.PROD, job["name"], "Running")
    _submitted(job["name"], timedelta(days=6, hours=12))
    rapp.sim.inject("ml.job.get", status=403, times=20)

    with caplog.at_level(logging.INFO):
        _sweep()
        _sweep()

    assert _unfollowed(rapp) == ([job["name"]], [job["name"]])
    [line] = [r for r in caplog.records if getattr(r, "verdict", "") == "unfollowed"]
    assert "could not be read after 6 days" in line.getMessage()
    assert not _row(job["name"]).get("AnnouncedAt")


def test_only_an_unfinished_job_in_its_last_day_in_the_backstop_is_said(rapp: App) -> None:
    records = _records()
    for name, status in (("batchjob-old", "Running"), ("batchjob-young", "Running"),
                         ("batchjob-ended", "Completed")):  # fmt: skip
        rapp.sim.ml.add_job(
            scene.PROD,
            {
                "id": f"{scene.PROD}/jobs/{name}",
                "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/jobs",
                "properties": {"jobType": "Pipeline", "status": status, "tags": {}},
            },
        )
        fields = (rs.ENDPOINT, None, "uri_folder", rs.SCORING_INPUT, "", None, None, None)
        records.record_job(JobRecord(name, scene.PROD, *fields, "Running"))
    _submitted("batchjob-old", timedelta(days=6, hours=12))
    _submitted("batchjob-young", timedelta(days=3))
    _submitted("batchjob-ended", timedelta(days=6, hours=12))

    _sweep()

    assert _unfollowed(rapp) == (["batchjob-old"], ["batchjob-old"])
    assert [e["subject"] for e in _announced(rapp)] == ["batchjob-ended"]


# ---------------------------------------------------------- HTTP jobs, modes, off


def test_a_job_started_over_http_is_announced_with_retraining_off(scoring: App) -> None:
    response = host.call_http(
        "start_scoring",
        method="POST",
        url=f"{ss.APP_URL}/scoring-jobs",
        headers={"Content-Type": "application/json", **ss.caller_headers(ss.LOGIC_APP)},
        body=b'{"endpoint": "fraud-scoring", "input": {"type": "uri_folder", "path": "'
        + ss.INPUT.encode()
        + b'"}}',
    )
    assert response.status_code == 202
    [job] = _jobs(scoring, "scoring")
    assert runtime().retraining is None

    scoring.deliver(_finish(scoring, job, "Failed"), "on_ml_event")

    [announced] = _announced(scoring)
    assert (announced["eventType"], announced["subject"]) == (FAILED, job["name"])
    assert _row(job["name"])["Status"] == "Failed"


def test_dry_run_records_and_announces_the_end_once_and_writes_nothing(rapp: App) -> None:
    job = _scoring_job(rapp)
    rapp.set_settings(**rs.retraining_settings(AUTOMATION_MODE="dry-run"))
    event = _finish(rapp, job, "Completed")

    rapp.deliver(event, "on_ml_event")
    rapp.deliver(event, "on_ml_event")
    _sweep()

    [announced] = _announced(rapp)
    assert announced["data"]["mode"] == "dry-run"
    [recorded] = _outcomes()
    assert recorded["Mode"] == "dry-run"
    assert _azure_writes(rapp) == []
    assert _row(job["name"])["Status"] == "Completed"


def test_an_end_the_ledger_failed_to_record_is_announced_later_not_taken_as_announced(
    rapp: App,
) -> None:
    """The instance that takes the announcement fails to record it (its ledger write fails, or it
    dies right then): a redelivery meanwhile neither says it is recorded nor marks the job's row,
    and once the taker's lease lapses the sweep's backstop records and announces it, once."""
    job = _scoring_job(rapp)
    event = _finish(rapp, job, "Completed")
    with ledger_fails_on(lambda r: r.verdict == "completed"):
        rapp.deliver(event, "on_ml_event")

    rapp.deliver(event, "on_ml_event")  # redelivered within the taker's lease
    assert _outcomes() == []
    assert not _row(job["name"]).get("AnnouncedAt")  # the backstop still looks at it

    once_rows_age(runtime().ledger.table, 1)
    _sweep()
    assert [e["eventType"] for e in _announced(rapp)] == [COMPLETED]
    [recorded] = _outcomes()
    assert recorded["Trigger"].startswith("sweep:")
    assert bool(_row(job["name"])["AnnouncedAt"])

    once_rows_age(runtime().ledger.table, 1)
    _sweep()
    rapp.deliver(event, "on_ml_event")
    assert len(_announced(rapp)) == 1
    assert len(_outcomes()) == 1
