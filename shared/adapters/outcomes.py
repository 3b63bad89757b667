"""Outcome events: ledger records published to an Event Grid custom topic, typed
`SynapseAmlAutomation.<Kind>.<Verdict>[.<State>]`: the type never claims what did not happen."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError

from shared.adapters.errors import describe
from shared.adapters.transport import client_options
from shared.bounds import bounded
from shared.ledger import ActionRecord
from shared.logs import decision_log
from shared.outcome import Outcome

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

log = logging.getLogger(__name__)

EVENT_TYPE_PREFIX = "SynapseAmlAutomation"
DATA_VERSION = "1.0"
# Event Grid accepts up to 1 MB per publish: at most this many events, and this many bytes.
_BATCH = 200
_BATCH_BYTES = 900_000
# Per data field, in UTF-16 units: the nine fields of one event stay far below 1 MB.
_FIELD_LIMIT = 8_000
# What a text outcome (retraining's and scoring's, not yet typed) starts with, and its state.
_STATES = (
    ("planned", "Planned"),
    ("applied", "Applied"),
    ("failed", "Failed"),
    # A write Azure's answer did not confirm (another resource, another status): not applied.
    ("not applied", "Failed"),
    ("refused", "Skipped"),
    ("skipped", "Skipped"),
    ("not attempted", "Skipped"),
)


def _pascal(value: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in value.replace("_", "-").split("-"))


def outcome_state(outcome: str) -> str | None:
    """The state of an action's outcome; None for an observation (`recorded`, `no change`)."""
    text = outcome.strip().lower()
    return next((state for prefix, state in _STATES if text.startswith(prefix)), None)


def event_type(record: ActionRecord) -> str:
    base = f"{EVENT_TYPE_PREFIX}.{_pascal(record.kind)}.{_pascal(record.verdict)}"
    outcome = record.outcome
    state = outcome.state if isinstance(outcome, Outcome) else outcome_state(outcome)
    return f"{base}.{state}" if state else base


def event_data(record: ActionRecord) -> dict[str, Any]:
    names = ("kind", "verdict", "reason", "mode", "outcome", "trigger", "evidence")
    data = {"workspaceId": record.target_id, "resourceId": record.subject}
    data |= {name: getattr(record, name) for name in names}
    data["outcome"] = str(record.outcome)
    return {name: bounded(value, _FIELD_LIMIT) for name, value in data.items()}


def _batches(events: Sequence[Any]) -> list[list[Any]]:
    import json

    batches: list[list[Any]] = []
    size = 0
    for event in events:
        weight = 512 + len(json.dumps(event.data)) + len(event.subject) * 4
        if not batches or len(batches[-1]) == _BATCH or size + weight > _BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += weight
    return batches


class OutcomePublisher:
    def __init__(self, endpoint: str, credential: TokenCredential) -> None:
        self.endpoint = endpoint
        self._credential = credential

    @functools.cached_property
    def _publisher(self) -> Any:
        # The basic-topic client itself: the public one drops every keyword argument for
        # basic topics, silently losing the retry settings and the endpoint guard.
        from azure.eventgrid._legacy import EventGridPublisherClient

        return EventGridPublisherClient(
            self.endpoint, self._credential, **client_options(self.endpoint)
        )

    def publish(self, records: Sequence[ActionRecord]) -> str | None:
        """None on success, else what went wrong; never raises for Azure errors (the records are
        in the ledger already)."""
        from azure.eventgrid import EventGridEvent

        events = [
            EventGridEvent(
                subject=bounded(record.subject or record.target_id, _FIELD_LIMIT),
                event_type=event_type(record),
                data=event_data(record),
                data_version=DATA_VERSION,
            )
            for record in records
        ]
        try:
            for batch in _batches(events):
                self._publisher.send(batch)
        except AzureError as error:
            first = records[0]
            decision_log(
                log,
                f"{len(events)} outcome event(s) not published; the decisions are in the ledger",
                trigger=first.trigger,
                workspace_id=first.target_id,
                kind="outcome-event",
                verdict="publish",
                outcome=f"failed: {describe(error)}",
                level=logging.WARNING,
            )
            return describe(error)
        return None
