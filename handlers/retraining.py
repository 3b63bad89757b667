"""`scheduled_retrain`, the retraining timer: per workspace, the scoring a completed retrain is
still owed (its event may have been lost), then the drift gate (no `DRIFT_QUERY`: on schedule)."""

from __future__ import annotations

import functools
import logging
import uuid

import azure.functions as func
from azure.core.exceptions import AzureError

from shared.adapters.errors import TransientAzureError, describe, redact_in_place
from shared.logs import decision_log, escape
from shared.runtime import runtime
from shared.telemetry import operation

log = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.function_name("scheduled_retrain")
@bp.timer_trigger(arg_name="timer", schedule="%RETRAIN_SCHEDULE%", run_on_startup=False)
@operation
def scheduled_retrain(timer: func.TimerRequest) -> None:
    run_id = uuid.uuid4().hex[:12]
    trigger = f"schedule:{run_id}"
    say = functools.partial(decision_log, log, trigger=trigger, kind="scheduled-retrain")
    rt = runtime()
    if rt.retraining is None or rt.settings.retraining is None:
        say("retraining is off (RETRAIN_WORKSPACE_IDS)", verdict="off")
        return
    failures: list[str] = []
    for workspace_id in rt.settings.retraining.workspace_ids:
        try:
            # Checked at start-up as far as the ID tells; its tag and management group: ARM's now.
            if rt.inventory.admit(workspace_id) is None:
                outcome, summary = "out-of-scope", f"{workspace_id} is not in scope"
            else:
                outcome, summary = rt.retraining.on_schedule(workspace_id, run_id)
        except TransientAzureError as error:
            why = failure = str(error)
            cause: Exception = error
        except Exception as error:
            # An AzureError is the drift query's (through its retries), else the app's own fault:
            # the other workspaces still get their turn; the run fails at the end so that it shows.
            if not isinstance(error, AzureError):
                redact_in_place(error)  # the traceback is logged as its text reads
                log.exception("scheduled_retrain %s: %s", run_id, escape(workspace_id))
            why, cause = describe(error), error
            failure = f"workspace {workspace_id}: {why}"
        else:
            say(summary, workspace_id=workspace_id, verdict=outcome)
            continue
        failures.append(failure)
        then, warn = "failed: the next run asks again", logging.WARNING
        say(why, workspace_id=workspace_id, verdict="failed", outcome=then, level=warn, error=cause)
    if failures:  # from the last: reported, as each was
        raise TransientAzureError("; ".join(failures)) from cause
