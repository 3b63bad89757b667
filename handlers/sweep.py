"""`reconcile_all`: the timer backstop over every workspace in scope."""

from __future__ import annotations

import logging
import uuid

import azure.functions as func

from shared.logs import decision_log
from shared.reconcilers.sweep import sweep
from shared.reconcilers.transient import TransientAzureError
from shared.runtime import runtime

log = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.function_name("reconcile_all")
@bp.timer_trigger(arg_name="timer", schedule="%RECONCILE_SCHEDULE%", run_on_startup=False)
def reconcile_all(timer: func.TimerRequest) -> None:
    """Reconcile everything in scope; raise at the end if any workspace failed transiently,
    so the failure shows in monitoring after every other workspace had its turn."""
    trigger = f"sweep:{uuid.uuid4().hex[:12]}"
    if timer.past_due:
        decision_log(log, "running late", trigger=trigger, kind="sweep", verdict="past-due")
    report = sweep(runtime(), trigger=trigger)
    retry = report.transient_failures
    text = (
        f"{len(report.workspaces)} workspaces reconciled, {report.unchanged} unchanged, "
        f"{len(retry)} to retry; inventory: {report.inventory}"
    )
    decision_log(log, text, trigger=trigger, kind="sweep", verdict="retry" if retry else "done")
    if report.transient_failures:
        raise TransientAzureError("; ".join(report.transient_failures))
