"""`on_ml_event`: an Azure ML workspace's system topic. Drift starts retraining (debounced); a
retraining job of this app that completed starts scoring; a finished scoring job is announced."""

from __future__ import annotations

import azure.functions as func

from shared.adapters.errors import TransientAzureError
from shared.events import Ignored
from shared.intake import Delivery
from shared.ml_events import Drift, classify_ml_event, scoped_workspace, workspace_of_topic
from shared.outcome import RequestOutcome
from shared.telemetry import operation

FUNCTION = "on_ml_event"

bp = func.Blueprint()


@bp.function_name(FUNCTION)
@bp.event_grid_trigger(arg_name="event")
@operation
def on_ml_event(event: func.EventGridEvent) -> None:
    delivery = Delivery(event, FUNCTION, kind="ml-event")
    rt, record = delivery.rt, delivery.record
    settings, topic = rt.settings, delivery.topic or ""
    if (workspace := workspace_of_topic(topic)) is None:
        return record("invalid", f"topic {topic!r} is not an AML workspace")
    # In scope as far as its ID tells (exclusions apply to listed workspaces too), in the
    # settings' spelling when listed; retraining asks ARM for the rest before it writes.
    if not settings.in_scope(workspace):
        text = f"{workspace} is not in scope (ML_SCOPES, ML_WORKSPACE_IDS)"
        return record("out-of-scope", text, workspace)
    configured = scoped_workspace(topic, settings.ml_workspace_ids) or workspace
    parsed = classify_ml_event(*delivery.sent[:2], configured, event.get_json())
    if isinstance(parsed, Ignored):
        return record("invalid" if parsed.invalid else "ignored", parsed.reason, configured)
    result: tuple[str, str]
    try:
        # A scoring job's row, else the retraining claim, says whose job ended: never its tags.
        # Scoring jobs started over HTTP too: any workspace in scope, retraining on or off.
        scored = None if isinstance(parsed, Drift) else rt.scoring_outcomes.on_finished(parsed)
        if scored is not None and scored.outcome is not RequestOutcome.IGNORED:
            result = scored
        # Not a scoring job's: why retraining is not asked (its job may have run before).
        elif rt.retraining is None or settings.retraining is None:
            result = ("ignored", "retraining is off (RETRAIN_WORKSPACE_IDS)")
        # Write targets come from RETRAIN_WORKSPACE_IDS itself (the same ARM ID, its spelling).
        elif (ours := scoped_workspace(configured, settings.retraining.workspace_ids)) is None:
            result = ("ignored", f"{configured} is not in RETRAIN_WORKSPACE_IDS")
        elif not delivery.admit([ours]):  # its tag, its management group: as ARM tells now
            return None
        elif isinstance(parsed, Drift):
            result = rt.retraining.on_drift(parsed._replace(workspace_id=ours))
        else:
            result = rt.retraining.on_finished(parsed._replace(workspace_id=ours))
    except TransientAzureError as error:
        record("failed", f"will be redelivered: {error}", configured, error)
        raise
    return record(*result, configured)
