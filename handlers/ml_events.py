"""`on_ml_event`: an Azure ML workspace's system topic (run status changes, runs completed, v1
dataset drift). Drift starts retraining (debounced); a finished retraining job of this app is read
and, when it completed, batch scoring starts; a finished scoring job of this app is announced."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import azure.functions as func

from shared import intake
from shared.arm import ArmId
from shared.events import Ignored
from shared.intake import event_data
from shared.ml_events import (
    SCORING,
    Drift,
    JobFinished,
    classify_ml_event,
    scoped_workspace,
    workspace_of_topic,
)
from shared.reconcilers.transient import TransientAzureError
from shared.runtime import runtime

if TYPE_CHECKING:
    from shared.reconcilers.retraining import Outcome
    from shared.runtime import Runtime

FUNCTION = "on_ml_event"
KIND = "ml-event"

bp = func.Blueprint()


@bp.function_name(FUNCTION)
@bp.event_grid_trigger(arg_name="event")
def on_ml_event(event: func.EventGridEvent) -> None:
    rt = runtime()
    settings = rt.settings
    topic = event.topic or ""
    workspace = workspace_of_topic(topic)
    if workspace is None:
        text = f"topic {topic!r} is not an AML workspace"
        intake.record(rt, event, FUNCTION, "invalid", text, kind=KIND)
        return
    # A listed workspace keeps the settings' spelling; one that a container scope holds (as far
    # as its ID tells: retraining acts only on RETRAIN_WORKSPACE_IDS, checked against the scope).
    configured = scoped_workspace(topic, settings.ml_workspace_ids) or (
        workspace if settings.in_scope(workspace) else None
    )
    if configured is None:
        text = f"{workspace} is not in scope (ML_SCOPES, ML_WORKSPACE_IDS)"
        intake.record(rt, event, FUNCTION, "out-of-scope", text, workspace_id=workspace, kind=KIND)
        return

    def record(outcome: str, text: str) -> None:
        intake.record(rt, event, FUNCTION, outcome, text, workspace_id=configured, kind=KIND)

    parsed = classify_ml_event(
        event_id=event.id or "",
        event_type=event.event_type or "",
        workspace_id=configured,
        data=event_data(event),
    )
    if isinstance(parsed, Ignored):
        record("invalid" if parsed.invalid else "ignored", parsed.reason)
        return
    try:
        if isinstance(parsed, JobFinished) and parsed.purpose == SCORING:
            # Scoring jobs started over HTTP too: any workspace in scope, retraining on or off.
            result = rt.scoring_outcomes.on_finished(parsed)
        else:
            result = _retrain(rt, parsed, configured)
    except TransientAzureError as error:
        record("failed", f"will be redelivered: {error}")
        raise
    record(result.outcome, result.summary)


def _retrain(rt: Runtime, parsed: Drift | JobFinished, configured: ArmId) -> Outcome:
    from shared.reconcilers.retraining import Outcome

    if rt.retraining is None or rt.settings.retraining is None:
        return Outcome("ignored", "retraining is off (RETRAIN_WORKSPACE_IDS)")
    # Write targets come from RETRAIN_WORKSPACE_IDS itself (the same ARM ID, its spelling).
    retrain_workspace = scoped_workspace(configured, rt.settings.retraining.workspace_ids)
    if retrain_workspace is None:
        return Outcome("ignored", f"{configured} is not in RETRAIN_WORKSPACE_IDS")
    parsed = replace(parsed, workspace_id=retrain_workspace)
    if isinstance(parsed, Drift):
        return rt.retraining.on_drift(parsed)
    return rt.retraining.on_finished(parsed)
