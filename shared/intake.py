"""Event intake for the Event Grid handlers: a malformed or foreign event costs no Azure call,
leaves a log line and a ledger row, and never crashes the function (Event Grid would redeliver)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import azure.functions as func
from azure.core.exceptions import AzureError

from shared.adapters.errors import TransientAzureError, describe, is_transient
from shared.arm import ArmId
from shared.events import Ignored, ResourceWrite, parse_resource_write
from shared.ledger import EventRecord
from shared.logs import decision_log
from shared.reconcilers.workspace import Concern, reconcile_workspace, start_run
from shared.runtime import Runtime, runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One event delivered to `function`: every outcome of it is logged and recorded."""

    event: func.EventGridEvent | func.CloudEvent
    function: str
    kind: str = "event"
    rt: Runtime = field(default_factory=runtime)

    @property
    def sent(self) -> tuple[str, str, str]:
        """ID, type and subject. str(): a hand-made or replayed event may carry a number."""
        event = self.event
        kind = event.type if isinstance(event, func.CloudEvent) else event.event_type
        return str(event.id or ""), str(kind or ""), str(event.subject or "")

    @property
    def topic(self) -> str:
        """The topic Event Grid says sent it: `source` in the CloudEvents 1.0 delivery schema,
        which the worker hands over as a `func.CloudEvent`."""
        event = self.event
        return event.source if isinstance(event, func.CloudEvent) else event.topic

    def record(
        self, outcome: str, reason: str, workspace_id: str = "", error: Exception | None = None
    ) -> None:
        """One outcome (of `error`, reported): the sender's text escaped in the log, bounded in
        the ledger."""
        event = self.event
        decision_log(
            log,
            f"{self.function}: {self.sent[1]} about {event.subject}: {reason}",
            trigger=f"event:{event.id}",
            workspace_id=workspace_id,
            kind=self.kind,
            verdict=outcome,
            level=logging.WARNING if outcome in ("invalid", "failed") else logging.INFO,
            error=error,
        )
        self.rt.ledger.record_event(EventRecord(*self.sent, outcome, reason, self.function))

    def read_failed(self, error: Exception, why: str) -> None:
        transient = is_transient(error)
        why = f"{'will be redelivered' if transient else why}: {describe(error)}"
        self.record("failed", why, error=error)
        if transient:
            raise error

    def resource_write(self, operations: frozenset[str]) -> ResourceWrite | None:
        """The validated event, or None after recording why it was not acted on."""
        parsed = parse_resource_write(*self.sent, self.event.get_json(), operations, self.topic)
        if isinstance(parsed, Ignored):
            self.record("invalid" if parsed.invalid else "ignored", parsed.reason)
            return None
        return parsed

    def admit(self, candidates: Sequence[str]) -> list[ArmId]:
        """The in-scope workspaces among `candidates`, once each, as ARM tells now (tags, groups);
        none: recorded why. A transient failure is raised once recorded (redelivery)."""
        try:
            admitted = [self.rt.inventory.admit(candidate) for candidate in candidates]
        except AzureError as error:
            self.read_failed(error, "scope could not be decided")
            return []
        workspaces = list(dict.fromkeys(found for found in admitted if found is not None))
        if not workspaces:
            why = f"{', '.join(candidates)} is not in scope (ML_SCOPES, ML_WORKSPACE_IDS)"
            self.record("out-of-scope", why)
        return workspaces

    def reconcile(
        self,
        candidates: Sequence[str] | str,
        concerns: frozenset[Concern],
        focus: str | None = None,
    ) -> None:
        """`concerns` of the in-scope workspaces among `candidates` (a text: why there are none),
        once each. A transient failure is raised once recorded (redelivery)."""
        if isinstance(candidates, str):
            return self.record("invalid", candidates)
        if not (workspaces := self.admit(candidates)):
            return None
        summaries = []
        for workspace_id in workspaces:
            run = start_run(self.rt, f"event:{self.event.id}")
            try:
                report = reconcile_workspace(
                    self.rt, workspace_id, run, concerns=concerns, focus=focus
                )
            except TransientAzureError as error:
                self.record("failed", f"will be redelivered: {error}", workspace_id, error)
                raise
            summaries.append(report.summary())
        return self.record("reconciled", "; ".join(summaries), ",".join(workspaces))
