"""Outcome events: decisions and findings published to an Event Grid custom topic.

Event types are `SynapseAmlAutomation.<Kind>.<Verdict>` (for example
`SynapseAmlAutomation.PrivateEndpointConnection.Approve`,
`SynapseAmlAutomation.PolicyFinding.NonCompliant`), subject the resource concerned, data the
ledger record. A Logic App subscribes with a filter on event type and notifies people.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError

from shared.adapters.errors import describe
from shared.adapters.transport import client_options
from shared.ledger import ActionRecord

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

log = logging.getLogger(__name__)

EVENT_TYPE_PREFIX = "SynapseAmlAutomation"
DATA_VERSION = "1.0"
# Event Grid accepts up to 1 MB per publish; decisions are small, so a few hundred per call.
_BATCH = 200


def _pascal(value: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in value.replace("_", "-").split("-"))


def event_type(record: ActionRecord) -> str:
    return f"{EVENT_TYPE_PREFIX}.{_pascal(record.kind)}.{_pascal(record.verdict)}"


def event_data(record: ActionRecord) -> dict[str, Any]:
    return {
        "workspaceId": record.target_id,
        "resourceId": record.subject,
        "kind": record.kind,
        "verdict": record.verdict,
        "reason": record.reason,
        "mode": record.mode,
        "outcome": record.outcome,
        "trigger": record.trigger,
        "evidence": record.evidence,
    }


class OutcomePublisher:
    """Publishes ledger records as Event Grid events (Event Grid schema), identity-based."""

    def __init__(self, endpoint: str, credential: TokenCredential) -> None:
        self._endpoint = endpoint
        self._credential = credential
        self._client: Any = None

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def _publisher(self) -> Any:
        if self._client is None:
            # The basic-topic client itself: azure.eventgrid's public EventGridPublisherClient
            # builds it for basic topics without passing on any keyword argument, so retry
            # settings and the endpoint guard would be silently dropped.
            from azure.eventgrid._legacy import EventGridPublisherClient

            self._client = EventGridPublisherClient(
                self._endpoint, self._credential, **client_options(self._endpoint)
            )
        return self._client

    def publish(self, records: Sequence[ActionRecord]) -> str | None:
        """Publish; returns None on success, or what went wrong. Never raises for Azure errors:
        the records are already in the ledger, and a retry storm would not help people."""
        from azure.eventgrid import EventGridEvent

        events = [
            EventGridEvent(
                subject=record.subject or record.target_id,
                event_type=event_type(record),
                data=event_data(record),
                data_version=DATA_VERSION,
            )
            for record in records
        ]
        try:
            for start in range(0, len(events), _BATCH):
                self._publisher().send(events[start : start + _BATCH])
        except AzureError as error:
            log.warning("publishing %d outcome events failed: %s", len(events), describe(error))
            return describe(error)
        return None
