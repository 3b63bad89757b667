"""Event intake for the Event Grid handlers: a malformed or foreign event costs no Azure call,
leaves a log line and a ledger row, and never crashes the function (Event Grid would redeliver)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import azure.functions as func
from azure.core.exceptions import AzureError

from shared.adapters.errors import describe, is_transient
from shared.events import Ignored, ResourceWrite, parse_resource_write
from shared.ledger import EventRecord
from shared.logs import decision_log
from shared.reconcilers.transient import TransientAzureError
from shared.reconcilers.workspace import Concern, reconcile_workspace, start_run
from shared.runtime import Runtime

log = logging.getLogger(__name__)


def event_data(event: func.EventGridEvent) -> Any:
    try:
        return event.get_json()
    except ValueError:
        return None


def receive_resource_write(
    runtime: Runtime, event: func.EventGridEvent, *, function: str, operations: frozenset[str]
) -> ResourceWrite | None:
    """The validated event, or None after logging and recording why it was not acted on."""
    event_id, event_type, subject = _sent(event)
    data = event_data(event)
    parsed = parse_resource_write(
        event_id=event_id, event_type=event_type, subject=subject, data=data, operations=operations
    )
    if isinstance(parsed, Ignored):
        record(runtime, event, function, "invalid" if parsed.invalid else "ignored", parsed.reason)
        return None
    return parsed


def read_failed(
    runtime: Runtime, event: func.EventGridEvent, function: str, error: AzureError, why: str
) -> None:
    """Records a read that failed; a transient failure is raised again (redelivery)."""
    transient = is_transient(error)
    text = f"{'will be redelivered' if transient else why}: {describe(error)}"
    record(runtime, event, function, "failed", text)
    if transient:
        raise error


def reconcile_event(
    runtime: Runtime,
    event: func.EventGridEvent,
    function: str,
    candidates: Sequence[str] | str,
    concerns: frozenset[Concern],
    focus: str | None = None,
) -> None:
    """`concerns` of the in-scope workspaces among `candidates` (a text: why there are none), once
    each; records the event's outcome. A transient failure is raised once recorded (redelivery)."""
    if isinstance(candidates, str):
        return record(runtime, event, function, "invalid", candidates)
    try:
        admitted = [runtime.inventory.admit(candidate) for candidate in candidates]
    except AzureError as error:
        return read_failed(runtime, event, function, error, "scope could not be decided")
    workspaces = list(dict.fromkeys(found for found in admitted if found is not None))
    if not workspaces:
        why = f"{', '.join(candidates)} is not in scope (ML_SCOPES, ML_WORKSPACE_IDS)"
        return record(runtime, event, function, "out-of-scope", why)
    summaries = []
    for workspace_id in workspaces:
        run = start_run(runtime, f"event:{event.id}")
        try:
            report = reconcile_workspace(runtime, workspace_id, run, concerns=concerns, focus=focus)
        except TransientAzureError as error:
            text = f"will be redelivered: {error}"
            record(runtime, event, function, "failed", text, workspace_id=workspace_id)
            raise
        summaries.append(report.summary())
    text = "; ".join(summaries)
    return record(runtime, event, function, "reconciled", text, workspace_id=",".join(workspaces))


def record(
    runtime: Runtime,
    event: func.EventGridEvent,
    function: str,
    outcome: str,
    reason: str,
    *,
    workspace_id: str = "",
    kind: str = "event",
) -> None:
    """One event's outcome: the sender's text escaped in the log, bounded in the ledger."""
    level = logging.WARNING if outcome in ("invalid", "failed") else logging.INFO
    decision_log(
        log,
        f"{function}: {event.event_type} about {event.subject}: {reason}",
        trigger=f"event:{event.id}",
        workspace_id=workspace_id,
        kind=kind,
        verdict=outcome,
        level=level,
    )
    runtime.ledger.record_event(EventRecord(*_sent(event), outcome, reason, function))


def _sent(event: func.EventGridEvent) -> tuple[str, str, str]:
    # str(): a hand-made or replayed event may carry a number where a string belongs.
    return str(event.id or ""), str(event.event_type or ""), str(event.subject or "")
