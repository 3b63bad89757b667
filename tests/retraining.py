"""Helpers of the retraining tests: deliver Azure ML events, read the jobs the app started and
what it recorded. Shared by every unit whose tests drive retraining end to end."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from shared.ml_events import APP_TAG
from shared.outcome import INTENT
from shared.runtime import runtime
from tests.conftest import App
from tools import retraining_scene as rs
from tools import scene

DRIFT_QUERY = "AmlModelMonitorResults | summarize max(DriftScore)"
# The workspace part of an ID Azure could answer for PROD's resources: PROD's own in any case,
# and lookalikes (one whose name begins with PROD's, others, another resource group).
LOOKALIKE_WORKSPACES = st.one_of(
    st.sampled_from([scene.PROD, scene.PROD.upper(), scene.PROD.lower()]),
    st.text("abz-_.()0", min_size=1, max_size=8).map(lambda tail: scene.PROD + tail),
    st.sampled_from([scene.DEV, scene.SANDBOX, scene.PROD.replace("rg-", "rg-x")]),
)

# What float() reads as a number but Azure never writes: another script's digits, or '_' between
# digits (Python's own digit grouping).
_DIGITS = [0x660, 0x6F0, 0x966, 0xFF10, 0x1D7CE]  # Arabic-Indic, Persian, Devanagari, full width
LOOKALIKE_NUMBERS = st.one_of(
    st.tuples(st.floats(allow_nan=False), st.sampled_from(_DIGITS)).map(
        lambda pair: repr(pair[0]).translate({48 + d: pair[1] + d for d in range(10)})
    ),
    st.integers(1_000, 10**12).map(lambda number: f"{number:_}"),
)


def deliver_ml_event(app: App, event: dict[str, Any]) -> None:
    app.deliver(event, "on_ml_event")


def our_jobs(
    app: App, purpose: str = "retraining", workspace: str = scene.PROD
) -> list[dict[str, Any]]:
    """The jobs in `workspace` the app tagged with `purpose`."""
    return [
        job
        for job in app.sim.ml.jobs(workspace)
        if job["properties"]["tags"].get(APP_TAG) == purpose
    ]


def event_outcome(event_id: str) -> str:
    row = runtime().ledger.event(event_id)
    assert row is not None, f"event {event_id} was not recorded"
    return str(row["Outcome"])


def recorded_actions(
    kind: str, workspace: str = scene.PROD, *, intents: bool = False
) -> list[dict[str, Any]]:
    """The decisions of `kind` recorded for `workspace` (the intent rows written before each
    write only when asked for)."""
    return [
        a
        for a in runtime().ledger.actions(workspace)
        if a["Kind"] == kind and (intents or a["Outcome"] != str(INTENT))
    ]


def add_completed_job(app: App, name: str) -> None:
    """A retraining job in PROD, Completed, tagged and submitted as the app does: the app's own
    once the ledger's claim names it (`rs.claim_job`)."""
    app.sim.ml.add_job(
        scene.PROD,
        {
            "id": f"{scene.PROD}/jobs/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {
                "jobType": "Pipeline",
                "status": "Completed",
                "tags": {APP_TAG: "retraining"},
            },
            "systemData": {"createdAt": "2026-11-25T00:00:00Z"},
        },
        by_app=True,
    )


def submitted_job(app: App) -> dict[str, Any]:
    """The retraining job a monitor's drift event makes the app submit."""
    deliver_ml_event(app, rs.monitor_breach_event())
    [job] = our_jobs(app)
    return job


def completed_event(app: App) -> dict[str, Any]:
    """A retraining job of the app, completed in Azure, and its RunCompleted event."""
    job = submitted_job(app)
    app.sim.ml.set_job_status(scene.PROD, job["name"], "Completed")
    app.sim.reset_counts()
    return rs.job_finished_event(job["name"], tags=job["properties"]["tags"])


def submit_and_finish(app: App, status: str = "Completed") -> tuple[dict[str, Any], dict[str, Any]]:
    """A retraining job submitted on drift and finished in Azure with `status`, and its event."""
    deliver_ml_event(app, rs.monitor_breach_event())
    [job] = our_jobs(app)
    app.sim.ml.set_job_status(scene.PROD, job["name"], status)
    app.sim.reset_counts()
    return job, rs.job_finished_event(job["name"], tags=job["properties"]["tags"])
