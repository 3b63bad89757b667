"""`reconcile_all`: the timer backstop over every workspace in scope, and over the app's scoring
jobs whose end was never announced (their event lost). Over `SWEEP_FAN_OUT_WORKSPACES` workspaces
it only enqueues each in-scope subscription for `sweep_partition` (own timeout, any instance)."""

from __future__ import annotations

import logging
import typing
import uuid

import azure.functions as func
from azure.core.exceptions import AzureError

from shared.adapters.errors import TransientAzureError
from shared.ledger import EventRecord
from shared.logs import decision_log
from shared.reconcilers.sweep import PARTITION_QUEUE, SweepReport, partition_of, partitions, sweep
from shared.runtime import runtime
from shared.telemetry import operation

log = logging.getLogger(__name__)

bp = func.Blueprint()

# host.json's extensions.queues.maxDequeueCount: the last delivery before the poison queue.
MAX_DEQUEUE_COUNT = 3
PARTITION_FUNCTION = "sweep_partition"


@bp.function_name("reconcile_all")
@bp.queue_output(arg_name="fan_out", queue_name=PARTITION_QUEUE, connection="AzureWebJobsStorage")
@bp.timer_trigger(arg_name="timer", schedule="%RECONCILE_SCHEDULE%", run_on_startup=False)
@operation
def reconcile_all(
    timer: func.TimerRequest,
    fan_out: func.Out[typing.List[str]],  # noqa: UP006 - the worker refuses list[str] (so the app)
) -> None:
    """Raise at the end if any workspace failed transiently, after every other had its turn;
    when fanning out, never (the host enqueues only what a function that returned set)."""
    trigger = f"sweep:{uuid.uuid4().hex[:12]}"
    if timer.past_due:
        decision_log(log, "running late", trigger=trigger, kind="sweep", verdict="past-due")
    messages = partitions(runtime(), trigger)
    report = SweepReport((), ()) if messages else sweep(runtime(), trigger=trigger)
    retry = list(report.transient_failures)
    try:
        runtime().scoring_outcomes.backstop(trigger)
    except (TransientAzureError, AzureError) as error:  # counted in the sweep's line
        retry.append(str(error))
    if messages:
        fan_out.set(messages)
        text = f"fanned out to {len(messages)} subscriptions ({PARTITION_QUEUE})"
        text += f"; scoring backstop to retry: {'; '.join(retry)}" if retry else ""
        verdict = "retry" if retry else "fan-out"  # the backstop's failure, for on-call's alert
        decision_log(log, text, trigger=trigger, kind="sweep", verdict=verdict)
        return
    _done(report, retry, trigger)


@bp.function_name(PARTITION_FUNCTION)
@bp.queue_trigger(arg_name="message", queue_name=PARTITION_QUEUE, connection="AzureWebJobsStorage")
@operation
def sweep_partition(message: func.QueueMessage) -> None:
    """One subscription of a fanned-out sweep, as one run. A message naming anything else is
    recorded as invalid and changes nothing; a transient failure raises, so the queue delivers
    it again, up to `MAX_DEQUEUE_COUNT` times, then moves it to `<queue>-poison`."""
    rt = runtime()
    trigger = f"sweep:{uuid.uuid4().hex[:12]}"
    try:
        subscription = partition_of(rt, message.get_body())
    except ValueError as error:
        text, level = str(error), logging.WARNING
        decision_log(log, text, trigger=trigger, kind="partition", verdict="invalid", level=level)
        row = (str(message.id or ""), PARTITION_QUEUE, "", "invalid", text, PARTITION_FUNCTION)
        rt.ledger.record_event(EventRecord(*row))
        return
    except TransientAzureError as error:  # its scope unread: said and retried as a sweep's
        subscription, report = "?", SweepReport((), (str(error),), f"unread ({error})")
    else:
        report = sweep(rt, trigger=trigger, subscription=subscription)
    retry = list(report.transient_failures)
    if retry and (message.dequeue_count or 0) >= MAX_DEQUEUE_COUNT:
        text = f"subscription {subscription}: giving up, to {PARTITION_QUEUE}-poison"
        level = logging.ERROR
        decision_log(log, text, trigger=trigger, kind="partition", verdict="poison", level=level)
    _done(report, retry, trigger, f"subscription {subscription}: ")


def _done(report: SweepReport, retry: list[str], trigger: str, prefix: str = "") -> None:
    text = (
        f"{prefix}{len(report.workspaces)} workspaces reconciled, {report.unchanged} unchanged, "
        f"{len(retry)} to retry; inventory: {report.inventory}"
    )
    error = TransientAzureError("; ".join(retry)) if retry else None
    verdict = "retry" if retry else "done"
    decision_log(log, text, trigger=trigger, kind="sweep", verdict=verdict, error=error)
    if error is not None:
        raise error
