"""Event intake shared by the Event Grid handlers: a malformed or foreign event costs no Azure
call, leaves a log line and a ledger row, and never crashes the function (Event Grid would
redeliver it)."""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func
from azure.core.exceptions import AzureError

from shared.adapters.errors import describe, is_transient
from shared.arm import ArmId
from shared.events import Ignored, ResourceWrite, parse_resource_write
from shared.ledger import EventRecord
from shared.logs import decision_log
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
    parsed = parse_resource_write(
        event_id=str(event.id or ""),
        event_type=str(event.event_type or ""),
        subject=str(event.subject or ""),
        data=event_data(event),
        operations=operations,
    )
    if isinstance(parsed, Ignored):
        record(runtime, event, function, "invalid" if parsed.invalid else "ignored", parsed.reason)
        return None
    return parsed


def scope_workspaces(
    runtime: Runtime, event: func.EventGridEvent, function: str, candidates: list[str]
) -> list[ArmId] | None:
    """The in-scope workspaces among `candidates`, once each, as `Inventory.admit` names them;
    None after recording why there are none. A transient read failure is raised (redelivery)."""
    found: list[ArmId] = []
    try:
        for candidate in candidates:
            admitted = runtime.inventory.admit(candidate)
            if admitted is not None and admitted not in found:
                found.append(admitted)
    except AzureError as error:
        transient = is_transient(error)
        why = "will be redelivered" if transient else "scope could not be decided"
        record(runtime, event, function, "failed", f"{why}: {describe(error)}")
        if transient:
            raise
        return None
    if not found:
        why = f"{', '.join(candidates)} is not in scope (ML_SCOPES, ML_WORKSPACE_IDS)"
        record(runtime, event, function, "out-of-scope", why)
        return None
    return found


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
    """Log and record one event's outcome: the sender's text, escaped in the log, bounded in
    the ledger. Invalid input is a warning, not an error."""
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
    runtime.ledger.record_event(
        EventRecord(
            # str(): a hand-made or replayed event may carry a number where a string belongs.
            event_id=str(event.id or ""),
            event_type=str(event.event_type or ""),
            subject=str(event.subject or ""),
            outcome=outcome,
            reason=reason,
            function=function,
        )
    )
