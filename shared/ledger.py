"""The ledger: an Azure Table recording every event seen and every planned action's outcome.

It is how an operator answers "why was this connection approved?" or "what did the dry run
plan?", and where a decision survives when publishing it elsewhere fails. Identity-based in
Azure (`LEDGER_TABLE_ENDPOINT`), Azurite locally (`LEDGER_CONNECTION_STRING`).
"""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from shared.config import LedgerSettings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.data.tables import TableClient

EVENTS_PARTITION = "events"
# Table keys may not hold '/', '\', '#', '?' or control characters.
_KEY_UNSAFE = str.maketrans({"/": ":", "\\": ":", "#": ":", "?": ":"})
# A transaction holds at most 100 operations, all in one partition.
_BATCH_LIMIT = 100


def _key(value: str) -> str:
    cleaned = "".join(ch for ch in value.translate(_KEY_UNSAFE) if ch.isprintable())
    return cleaned[:512] or "-"


def actions_partition(target_id: str) -> str:
    """Actions are partitioned by the resource reconciled (an AML workspace), newest first."""
    return "actions:" + _key(target_id.lower().strip("/"))


def _newest_first_row_key() -> str:
    # Table queries return rows in key order: inverting the clock puts the newest first.
    inverted = (1 << 63) - 1 - time.time_ns()
    return f"{inverted:019d}:{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class EventRecord:
    """One Event Grid event as the app saw it."""

    event_id: str
    event_type: str
    subject: str
    outcome: str
    reason: str
    function: str


@dataclass(frozen=True)
class ActionRecord:
    """One planned action and what came of it."""

    target_id: str
    kind: str
    verdict: str
    subject: str
    reason: str
    mode: str
    outcome: str
    trigger: str
    evidence: str = ""
    # Whether the outcome is worth an event for people (a Logic App): decisions and problems
    # are; compliant findings and no-ops are not.
    notify: bool = True


class ActionSink(Protocol):
    """Where reconcilers record what they did: the ledger, or the ledger plus outcome events."""

    def record_actions(self, records: Sequence[ActionRecord]) -> None: ...


class Ledger:
    """Writes and reads ledger entries in one table."""

    def __init__(self, table: TableClient) -> None:
        self._table = table

    @property
    def table(self) -> TableClient:
        """The ledger's table; retraining and scoring claims (`shared/claims.py`) live in it,
        in partitions of their own."""
        return self._table

    def record_event(self, record: EventRecord) -> None:
        """Upsert by event ID: a redelivered event updates its row rather than adding one."""
        from azure.data.tables import UpdateMode

        entity: dict[str, Any] = {
            "PartitionKey": EVENTS_PARTITION,
            "RowKey": _key(record.event_id),
            "EventId": record.event_id,
            "EventType": record.event_type,
            "Subject": record.subject,
            "Outcome": record.outcome,
            "Reason": record.reason,
            "Function": record.function,
            "SeenAt": datetime.now(UTC).isoformat(),
        }
        self._table.upsert_entity(entity, mode=UpdateMode.MERGE)

    def record_actions(self, records: Sequence[ActionRecord]) -> None:
        """Record a reconcile's actions, in as few transactions as the table allows."""
        now = datetime.now(UTC).isoformat()
        by_partition: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for record in records:
            partition = actions_partition(record.target_id)
            entity = {
                "PartitionKey": partition,
                "RowKey": _newest_first_row_key(),
                "TargetId": record.target_id,
                "Kind": record.kind,
                "Verdict": record.verdict,
                "Subject": record.subject,
                "Reason": record.reason,
                "Mode": record.mode,
                "Outcome": record.outcome,
                "Trigger": record.trigger,
                "Evidence": record.evidence,
                "RecordedAt": now,
            }
            by_partition.setdefault(partition, []).append(("create", entity))
        for operations in by_partition.values():
            if len(operations) == 1:
                # A transaction costs a multipart round trip: one row is a plain insert.
                self._table.create_entity(operations[0][1])
                continue
            for start in range(0, len(operations), _BATCH_LIMIT):
                self._table.submit_transaction(operations[start : start + _BATCH_LIMIT])

    def event(self, event_id: str) -> dict[str, Any] | None:
        """The ledger row of one event, or None."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return dict(self._table.get_entity(EVENTS_PARTITION, _key(event_id)))
        except ResourceNotFoundError:
            return None

    def events(self) -> Iterator[dict[str, Any]]:
        return (
            dict(row)
            for row in self._table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": EVENTS_PARTITION}
            )
        )

    def actions(self, target_id: str) -> Iterator[dict[str, Any]]:
        """The actions recorded for one resource, newest first."""
        return (
            dict(row)
            for row in self._table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": actions_partition(target_id)}
            )
        )


@functools.cache
def open_ledger(settings: LedgerSettings, credential: TokenCredential | None) -> Ledger:
    """Connect to the ledger table, creating it on first use (once per process)."""
    from azure.core.exceptions import ResourceExistsError
    from azure.data.tables import TableServiceClient

    from shared.adapters.clients import RETRY_SETTINGS

    if settings.connection_string:
        service = TableServiceClient.from_connection_string(
            settings.connection_string, **RETRY_SETTINGS
        )
    else:
        if settings.table_endpoint is None:
            raise ValueError(
                "ledger settings name neither a table endpoint nor a connection string"
            )
        service = TableServiceClient(
            settings.table_endpoint, credential=credential, **RETRY_SETTINGS
        )
    table = service.get_table_client(settings.table_name)
    with contextlib.suppress(ResourceExistsError):
        table.create_table()
    return Ledger(table)
