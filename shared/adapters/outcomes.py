"""Recording outcomes: in the ledger, then as outcome events on an Event Grid custom topic, typed
`SynapseAmlAutomation.<Kind>.<Verdict>[.<State>]`: the type never claims what did not happen."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError

from shared.adapters.errors import describe
from shared.adapters.transport import client_options
from shared.bounds import bounded
from shared.ledger import ActionRecord, Ledger, batches
from shared.logs import decision_log
from shared.outcome import Outcome, Status

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.data.tables import TableClient

log = logging.getLogger(__name__)

EVENT_TYPE_PREFIX = "SynapseAmlAutomation"
DATA_VERSION = "1.0"
# Per data field, in UTF-16 units: the nine fields of one event stay far below 1 MB.
_FIELD_LIMIT = 8_000


def _pascal(value: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in value.replace("_", "-").split("-"))


def event_type(record: ActionRecord) -> str:
    base = f"{EVENT_TYPE_PREFIX}.{_pascal(record.kind)}.{_pascal(record.verdict)}"
    state = record.outcome.state
    return f"{base}.{state}" if state else base


def event_data(record: ActionRecord) -> dict[str, Any]:
    names = ("kind", "verdict", "reason", "mode", "outcome", "trigger", "evidence")
    data = {"workspaceId": record.target_id, "resourceId": record.subject}
    data |= {name: str(getattr(record, name)) for name in names}
    return {name: bounded(value, _FIELD_LIMIT) for name, value in data.items()}


class Recorder(Ledger):
    """The ledger first: a failed publish never loses a decision, and is itself recorded."""

    def __init__(self, table: TableClient, topic: str | None, credential: TokenCredential) -> None:
        super().__init__(table)
        self.endpoint = topic or ""
        self._credential = credential

    @functools.cached_property
    def _publisher(self) -> Any:
        # The public client drops every keyword argument for basic topics: guard and retries.
        from azure.eventgrid._legacy import EventGridPublisherClient

        return EventGridPublisherClient(
            self.endpoint, self._credential, **client_options(self.endpoint)
        )

    def record_actions(self, records: Sequence[ActionRecord]) -> None:
        super().record_actions(records)
        notify = [record for record in records if record.notify]
        if not self.endpoint or not notify:
            return
        from azure.eventgrid import EventGridEvent

        events = [
            EventGridEvent(
                subject=bounded(record.subject or record.target_id, _FIELD_LIMIT),
                event_type=event_type(record),
                data=event_data(record),
                data_version=DATA_VERSION,
            )
            for record in notify
        ]
        # Event Grid accepts up to 1 MB per publish: at most 200 events, and 900 KB, as sent (JSON:
        # a character outside ASCII is `\uXXXX`).
        weight = lambda event: 512 + len(json.dumps([event.data, event.subject]))  # noqa: E731
        sent = 0  # a failure part-way: the batches before it went out
        try:
            for batch in batches(events, weight, 200, 900_000):
                self._publisher.send(batch)
                sent += len(batch)
        except AzureError as error:
            first, failed = notify[sent], Outcome(Status.FAILED, describe(error))
            why = f"{len(notify) - sent} of {len(notify)} outcome event(s) not published; the "
            why += "decisions are in the ledger"
            decision_log(
                log,
                why,
                trigger=first.trigger,
                workspace_id=first.target_id,
                kind="outcome-event",
                verdict="publish",
                outcome=failed,
                level=logging.WARNING,
            )
            row = (first.target_id, "outcome-event", "publish", self.endpoint, why, first.mode)
            super().record_actions([ActionRecord(*row, failed, first.trigger, notify=False)])
