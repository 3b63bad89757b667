"""The offline main job's retraining chapter: drift -> retraining job -> completion -> scoring, a
duplicate and a racing drift event that change nothing, and the timer's drift gate below and
above the threshold. Played through the registered functions, as Event Grid and the timer would.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from simulator import AzureSimulator
from tools import host, scene
from tools import retraining_scene as rs
from tools.plan_view import short
from tools.report import Column, Report

Expect = Callable[[bool, str], None]
GATE_QUERY = "AmlModelMonitorResults | where TimeGenerated > ago(7d) | summarize max(DriftScore)"


def _jobs(sim: AzureSimulator, workspace_id: str, purpose: str) -> list[dict[str, Any]]:
    return [
        job
        for job in sim.ml.jobs(workspace_id)
        if job["properties"]["tags"].get("synapse-aml-automation") == purpose
    ]


def play(sim: AzureSimulator, expect: Expect, report: Report) -> None:
    """Chapter 5 of the offline run (after the connection and policy chapters)."""
    from shared.config import get_settings
    from shared.runtime import runtime

    rs.seed_retraining(sim)
    sim.ml.add_compute(scene.DEV, "cpu-cluster", vm_size="Standard_DS3_v2", max_node_count=4)
    os.environ.update(
        rs.retraining_settings(
            RETRAIN_WORKSPACE_IDS=f"{scene.PROD},{scene.DEV}",
            DRIFT_LOG_ANALYTICS_WORKSPACE_ID=rs.DRIFT_WORKSPACE,
            DRIFT_QUERY=GATE_QUERY,
            DRIFT_THRESHOLD="0.3",
        )
    )
    get_settings.cache_clear()
    report.heading("5. Retraining (RETRAIN_WORKSPACE_IDS=mlw-prod,mlw-dev): on_ml_event")
    ledger = runtime().ledger
    rows: list[list[str]] = []

    def deliver(label: str, event: dict[str, Any]) -> None:
        host.deliver_event("on_ml_event", event)
        row = ledger.event(event["id"]) or {}
        rows.append([event["id"][:8], label, row.get("Outcome", "?"), row.get("Reason", "")])

    drift = rs.monitor_breach_event(message="feature tenure drifted: 0.41 > 0.3")
    deliver("model monitor: threshold breached", drift)
    [job] = _jobs(sim, scene.PROD, "retraining")
    expect(True, f"mlw-prod: retraining job {job['name']} submitted")
    deliver("duplicate delivery of the drift event", dict(drift))
    deliver("racing drift (dataset monitor)", rs.dataset_drift_event())
    expect(
        len(_jobs(sim, scene.PROD, "retraining")) == 1,
        "duplicate and racing drift events submitted nothing more",
    )
    sim.ml.set_job_status(scene.PROD, job["name"], "Completed")
    completed = rs.job_finished_event(job["name"], tags=job["properties"]["tags"])
    deliver("retraining job completed", completed)
    deliver("completion redelivered", completed)
    scoring = _jobs(sim, scene.PROD, "scoring")
    expect(
        len(scoring) == 1 and len(sim.ml.scoring_posts) == 1,
        "one batch scoring job after the retrain, "
        f"tagged with it ({scoring[0]['name'] if scoring else 'none'})",
    )
    report.table(
        "Events delivered to on_ml_event",
        ["event", "what", "outcome", Column("summary", wrap=True)],
        rows,
    )

    report.line("The scheduled_retrain timer, drift gate (DRIFT_THRESHOLD=0.3)")
    report.line()
    sim.logs.set_result(rs.DRIFT_WORKSPACE, [[0.12]])
    host.fire_timer("scheduled_retrain")
    expect(
        not _jobs(sim, scene.DEV, "retraining") and len(_jobs(sim, scene.PROD, "retraining")) == 1,
        "gate below the threshold (0.12): nothing submitted",
    )
    sim.logs.set_result(rs.DRIFT_WORKSPACE, [[0.41]])
    host.fire_timer("scheduled_retrain")
    expect(
        len(_jobs(sim, scene.DEV, "retraining")) == 1
        and len(_jobs(sim, scene.PROD, "retraining")) == 1,
        "gate above the threshold (0.41): mlw-dev retrains, mlw-prod is in its cooldown",
    )
    actions = [
        [
            short(workspace),
            action["Kind"],
            short(action["Subject"]),
            action["Verdict"],
            action["Outcome"],
            action["Reason"],
        ]
        for workspace in (scene.PROD, scene.DEV)
        for action in ledger.actions(workspace)
        if action["Kind"] in ("retraining", "batch-scoring", "drift-gate")
    ]
    report.table(
        "Retraining decisions in mlw-prod and mlw-dev (ledger, newest first)",
        [
            "workspace",
            "kind",
            "subject",
            "decision",
            Column("outcome", wrap=True),
            Column("reason", wrap=True),
        ],
        actions,
    )
