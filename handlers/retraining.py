"""`scheduled_retrain`: the retraining timer. For each retraining workspace: start the scoring a
completed retrain is still owed (its event may have been lost), then ask the drift gate (or, with
no `DRIFT_QUERY`, retrain on schedule)."""

from __future__ import annotations

import logging
import uuid

import azure.functions as func
from azure.core.exceptions import AzureError

from shared.adapters.errors import describe
from shared.logs import decision_log, escape
from shared.reconcilers.transient import TransientAzureError
from shared.runtime import runtime

log = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.function_name("scheduled_retrain")
@bp.timer_trigger(arg_name="timer", schedule="%RETRAIN_SCHEDULE%", run_on_startup=False)
def scheduled_retrain(timer: func.TimerRequest) -> None:
    """Retrain where the gate says so; raise at the end if a workspace failed transiently."""
    run_id = uuid.uuid4().hex[:12]
    trigger = f"schedule:{run_id}"
    rt = runtime()
    if rt.retraining is None or rt.settings.retraining is None:
        decision_log(
            log,
            "retraining is off (RETRAIN_WORKSPACE_IDS)",
            trigger=trigger,
            kind="scheduled-retrain",
            verdict="off",
        )
        return
    failures: list[str] = []
    for workspace_id in rt.settings.retraining.workspace_ids:
        try:
            outcome = rt.retraining.on_schedule(workspace_id, run_id)
        except TransientAzureError as error:
            failures.append(str(error))
            _failed(trigger, workspace_id, str(error))
            continue
        except AzureError as error:  # the drift query, unavailable through its retries
            failures.append(f"workspace {workspace_id}: {describe(error)}")
            _failed(trigger, workspace_id, describe(error))
            continue
        except Exception as error:
            # A fault of the app's own: the other workspaces still get their turn, and the
            # run fails at the end so that it shows.
            log.exception("scheduled_retrain %s: %s", run_id, escape(workspace_id))
            failures.append(f"workspace {workspace_id}: {type(error).__name__}: {error}")
            _failed(trigger, workspace_id, f"{type(error).__name__}: {error}")
            continue
        decision_log(
            log,
            outcome.summary,
            trigger=trigger,
            workspace_id=workspace_id,
            kind="scheduled-retrain",
            verdict=outcome.outcome,
        )
    if failures:
        raise TransientAzureError("; ".join(failures))


def _failed(trigger: str, workspace_id: str, why: str) -> None:
    decision_log(
        log,
        why,
        trigger=trigger,
        workspace_id=workspace_id,
        kind="scheduled-retrain",
        verdict="failed",
        outcome="failed: the next run asks again",
        level=logging.WARNING,
    )
