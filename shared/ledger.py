"""The ledger: an Azure Table of every event seen and every action's outcome, so an operator can
answer "why was this approved?", and where a decision survives when publishing it fails."""

from __future__ import annotations

import functools
import hashlib
import math
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from shared.bounds import CLOCK_SKEW, aware_time, bounded_entity, entity_bytes, held, table_key
from shared.config import STORAGE_AUDIENCE, LedgerSettings
from shared.outcome import Outcome

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.data.tables import TableClient, TableEntity

EVENTS_PARTITION = "events"
# Things reported once ever (not once per run), keyed by a digest of what was reported.
ONCE_PARTITION = "once"
# The sweep's digest of each workspace's Resource Graph rows, as of its last settled reconcile.
FINGERPRINTS_PARTITION = "fingerprints"
# A digest counts for 12 to 24 hours (spread by workspace, so they do not lapse together): what no
# row shows (Synapse's data plane, an exemption's expiry) is reconciled at least that often.
FINGERPRINT_SECONDS = 12 * 3600
# How long the caller that took a `first_time` report has to record it before another takes over.
ONCE_LEASE = timedelta(minutes=5)
T = TypeVar("T")


def column(field_name: str) -> str:
    return "".join(part.title() for part in field_name.split("_"))


def record_row(
    keys: tuple[str, str], record: Any, *, leave_out: tuple[str, ...] = (), **more: Any
) -> dict[str, Any]:
    """A dataclass record as a table row (`field_name` as `FieldName`, None as ""), then `more`;
    bounded: the table refuses a property over 64 KiB, and senders choose IDs and subjects."""
    row = {
        column(item.name): "" if (value := getattr(record, item.name)) is None else value
        for item in fields(record)
        if item.name not in leave_out
    }
    return bounded_entity({"PartitionKey": keys[0], "RowKey": keys[1]} | row | more)


def newest_first_key() -> str:
    """A row key for rows read newest first: they come back in key order, so an inverted clock."""
    return f"{(1 << 63) - 1 - time.time_ns():019d}:{uuid.uuid4().hex[:12]}"


def actions_partition(target_id: str, rows: str = "actions") -> str:
    """The partition of a resource's (an AML workspace's) actions, newest first, or other `rows`
    (claims). ARM IDs are case-insensitive; table_key makes any text a valid key, injectively. The
    slashes at the ends go as before, so the rows of a configured (validated) ID keep their key."""
    return f"{rows}:" + table_key(target_id.lower().strip("/"))


@dataclass(frozen=True)
class EventRecord:
    event_id: str
    event_type: str
    subject: str
    outcome: str
    reason: str
    function: str


@dataclass(frozen=True)
class ActionRecord:
    target_id: str
    kind: str
    verdict: str
    subject: str
    reason: str
    mode: str
    outcome: Outcome
    trigger: str
    evidence: str = ""
    # Whether the outcome is worth an event for people (a Logic App): decisions and problems
    # are; compliant findings and no-ops are not.
    notify: bool = True


class ActionSink(Protocol):
    def record_actions(self, records: Sequence[ActionRecord]) -> None: ...


def batches(
    items: Sequence[T], weight: Callable[[T], int], count: int, size: int
) -> Iterator[list[T]]:
    batch: list[T] = []
    total = 0
    for item in items:
        if batch and (len(batch) == count or total + weight(item) > size):
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += weight(item)
    if batch:
        yield batch


def read_row(table: TableClient, partition: str, row: str) -> TableEntity | None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return table.get_entity(partition, row)
    except ResourceNotFoundError:
        return None


def write_row(
    table: TableClient,
    keys: tuple[str, str],
    values: Mapping[str, Any],
    etag: str | None,
    *,
    merge: bool = False,
) -> str | None:
    """Create the row (`etag` None), or replace it (`merge`: merge `values` into it) if
    unchanged since read: the new ETag, or None when it changed."""
    from azure.core import MatchConditions
    from azure.core.exceptions import (
        ResourceExistsError,
        ResourceModifiedError,
        ResourceNotFoundError,
    )
    from azure.data.tables import UpdateMode

    entity = bounded_entity({"PartitionKey": keys[0], "RowKey": keys[1], **values})
    try:
        if etag is None:
            metadata = table.create_entity(entity)
        else:
            metadata = table.update_entity(
                entity,
                mode=UpdateMode.MERGE if merge else UpdateMode.REPLACE,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            )
    except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
        # Another instance wrote first (or the row read was removed since): not ours.
        return None
    return str(metadata["etag"])


def partition_rows(table: TableClient, key: str, lo: str = "", hi: str = "") -> Iterator[Any]:
    """A partition's rows (dicts, with their ETags); with `hi`, those keyed from `lo` up to it."""
    query = "PartitionKey eq @pk" + (" and RowKey ge @lo and RowKey lt @hi" if hi else "")
    return table.query_entities(query, parameters={"pk": key, "lo": lo, "hi": hi})


def _once_keys(key: str) -> tuple[str, str]:
    return ONCE_PARTITION, hashlib.sha256(key.encode("utf-8")).hexdigest()


def _transactions(operations: Sequence[tuple[str, Any]]) -> Iterator[list[tuple[str, Any]]]:
    # A transaction holds at most 100 operations, all in one partition, and at most 4 MiB.
    return batches(operations, lambda op: entity_bytes(op[1]), 100, 3 * 1024 * 1024)


def insert_rows(table: TableClient, operations: Sequence[tuple[str, Any]]) -> None:
    """Create rows of one partition under keys of their own (`newest_first_key`): one row a plain
    insert (a transaction costs a multipart round trip), more in transactions."""
    from azure.core.exceptions import HttpResponseError

    for batch in _transactions(operations):
        try:
            if len(batch) == 1:
                table.create_entity(batch[0][1])
            else:
                table.submit_transaction(batch)
        except HttpResponseError as error:
            # The keys are unique and a transaction all or nothing: rows that exist are this
            # write's own, retried after its answer was lost. (A plain insert's 409 carries the
            # code in its text only; a table being deleted is a 409 too, and no such answer.)
            if "EntityAlreadyExists" not in str(error):
                raise


class Ledger:
    def __init__(self, table: TableClient) -> None:
        # Claims and scoring records live in it too, in partitions of their own.
        self.table = table

    def record_event(self, record: EventRecord) -> None:
        """Upsert (merge) by event ID: a redelivered event updates its row."""
        from azure.data.tables import UpdateMode

        keys = (EVENTS_PARTITION, table_key(record.event_id))
        row = record_row(keys, record, SeenAt=datetime.now(UTC).isoformat())
        self.table.upsert_entity(row, mode=UpdateMode.MERGE)

    def record_actions(self, records: Sequence[ActionRecord]) -> None:
        now = datetime.now(UTC).isoformat()
        by_partition: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for record in records:
            keys = (actions_partition(record.target_id), newest_first_key())
            outcome = str(record.outcome)
            row = record_row(keys, record, leave_out=("notify",), Outcome=outcome, RecordedAt=now)
            by_partition.setdefault(keys[0], []).append(("create", row))
        for operations in by_partition.values():
            insert_rows(self.table, operations)

    def first_time(self, key: str) -> bool | None:
        """True for the caller to report `key`: the first to ask (created, never upserted, so of
        racing instances the table lets one win), or one taking over (by ETag) a report not
        `reported` within ONCE_LEASE (its taker died, or its record failed): a report is rather
        repeated than lost. False: reported; None: another caller is reporting it."""
        keys, now, holder = _once_keys(key), datetime.now(UTC), uuid.uuid4().hex
        # `Holder` tells this caller's write whose answer was lost (azure-core retried it, and met
        # the row it wrote: 409 or 412) from another caller's.
        values = {"Key": key[:1000], "RecordedAt": now.isoformat(), "Pending": True}
        values["Holder"] = holder
        if write_row(self.table, keys, values, None) is None:
            found = read_row(self.table, *keys)
            if found is None or found.get("Pending") is not True:
                return False  # rows from before the lease have no Pending: reported
            if found.get("Holder") != holder:
                try:
                    age = now - aware_time(found["RecordedAt"])
                except (KeyError, ValueError):
                    age = ONCE_LEASE  # a row edited by hand: taken over
                if held(age, ONCE_LEASE):
                    return None
                # Of racing takers, one replaces the row; the others find it being reported.
                if write_row(self.table, keys, values, str(found.metadata["etag"])) is None:
                    again = read_row(self.table, *keys)
                    return True if again is not None and again.get("Holder") == holder else None
        return True

    def reported(self, key: str) -> None:
        """`key`'s report is in the ledger: nobody takes it over."""
        write_row(self.table, _once_keys(key), {"Pending": False}, "*", merge=True)

    def event(self, event_id: str) -> dict[str, Any] | None:
        return read_row(self.table, EVENTS_PARTITION, table_key(event_id))

    def actions(self, target_id: str) -> Iterator[dict[str, Any]]:
        """The actions recorded for one resource, newest first."""
        return partition_rows(self.table, actions_partition(target_id))

    def fingerprints(self, subscription: str | None = None) -> dict[str, str]:
        """The sweep's fingerprints still current (lower-cased workspace ID -> digest); of one
        `subscription`'s workspaces, from their range of row keys, when given."""
        within = f"/subscriptions/{subscription}/".lower()
        prefix = table_key(within)
        # Whole segments (`/` is `:` in a key, `;` sorts next). A hashed key (an ID too long) has
        # no prefix: that range too, each row kept by its ID.
        ranges = [(prefix, prefix[:-1] + ";"), ("~h", "~i")] if subscription else [("", "")]
        now, found = time.time(), {}
        for lo, hi in ranges:
            for row in partition_rows(self.table, FINGERPRINTS_PARTITION, lo, hi):
                workspace = str(row.get("WorkspaceId", ""))
                # Any text the table holds (a lone surrogate too) digests.
                digest = hashlib.sha256(workspace.encode(errors="surrogatepass")).hexdigest()
                spread = int(digest[:8], 16) / 0xFFFFFFFF
                # The app keeps a number of seconds; of any other KeptAt, or one ahead of this
                # clock by more than its skew, the row is none of its own: not current.
                kept = row.get("KeptAt")
                age = now - kept if type(kept) in (float, int) else math.nan
                current = -CLOCK_SKEW.total_seconds() <= age < FINGERPRINT_SECONDS * (1 + spread)
                if current and (not subscription or workspace.startswith(within)):
                    found[workspace] = str(row.get("Fingerprint", ""))
        return found

    def keep_fingerprints(self, fingerprints: dict[str, str]) -> None:
        now, key = time.time(), {"PartitionKey": FINGERPRINTS_PARTITION}
        rows = [
            key | {"RowKey": table_key(ws), "WorkspaceId": ws, "Fingerprint": digest, "KeptAt": now}
            for ws, digest in fingerprints.items()
        ]
        for batch in _transactions([("upsert", row) for row in rows]):
            self.table.submit_transaction(batch)


@functools.cache
def open_ledger(settings: LedgerSettings, credential: TokenCredential | None) -> Ledger:
    """Connect to the ledger table, creating it on first use (once per process)."""
    from azure.core.exceptions import HttpResponseError, ResourceExistsError
    from azure.data.tables import TableClient

    from shared.adapters.transport import client_options

    # A TableClient of its own, not TableServiceClient.get_table_client: that one builds the
    # table's pipeline from the service's bare policy list, without the endpoint guard.
    name, connection = settings.table_name, settings.connection_string
    if connection:
        # The connection string names the table endpoint (Azurite's, locally): read it from a
        # client first, then build the guarded one, pinned to exactly that endpoint.
        url = TableClient.from_connection_string(connection, name).url
        table = TableClient.from_connection_string(connection, name, **client_options(url))
    elif settings.table_endpoint is None:
        raise ValueError("ledger settings name neither a table endpoint nor a connection string")
    else:
        from shared.adapters.clients import AudienceBoundCredential

        # Bound: the SDK would ask for any resource a 401 challenge names.
        audience = settings.table_audience or STORAGE_AUDIENCE
        table = TableClient(
            settings.table_endpoint,
            name,
            credential=AudienceBoundCredential(credential, audience) if credential else None,
            audience=audience,
            **client_options(settings.table_endpoint),
        )
    try:
        table.create_table()
    except HttpResponseError as error:
        # There already; or infra created it and the app's role may not create tables: 403 means
        # "not yours to create" (a table really missing shows on the first write).
        if not isinstance(error, ResourceExistsError) and error.status_code != 403:
            raise
    return Ledger(table)
