"""`reconcile_all`: the timer backstop over every workspace in scope, and over the scoring jobs the
app started whose end was never announced (their event lost)."""

from __future__ import annotations

import logging
import uuid

import azure.functions as func
from azure.core.exceptions import AzureError

from shared.logs import decision_log
from shared.reconcilers.sweep import sweep
from shared.reconcilers.transient import TransientAzureError
from shared.runtime import runtime

log = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.function_name("reconcile_all")
@bp.timer_trigger(arg_name="timer", schedule="%RECONCILE_SCHEDULE%", run_on_startup=False)
def reconcile_all(timer: func.TimerRequest) -> None:
    """Raise at the end if any workspace failed transiently, after every other had its turn."""
    trigger = f"sweep:{uuid.uuid4().hex[:12]}"
    if timer.past_due:
        decision_log(log, "running late", trigger=trigger, kind="sweep", verdict="past-due")
    report = sweep(runtime(), trigger=trigger)
    retry = list(report.transient_failures)
    try:
        runtime().scoring_outcomes.backstop(trigger)
    except (TransientAzureError, AzureError) as error:  # counted in the sweep's line
        retry.append(str(error))
    text = (
        f"{len(report.workspaces)} workspaces reconciled, {report.unchanged} unchanged, "
        f"{len(retry)} to retry; inventory: {report.inventory}"
    )
    decision_log(log, text, trigger=trigger, kind="sweep", verdict="retry" if retry else "done")
    if retry:
        raise TransientAzureError("; ".join(retry))
