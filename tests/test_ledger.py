"""The ledger against Azurite (Azure Table storage's emulator), through azure-data-tables."""

from __future__ import annotations

import uuid

import pytest

from shared.config import LedgerSettings
from shared.ledger import ActionRecord, EventRecord, Ledger, open_ledger
from simulator import Azurite

pytestmark = pytest.mark.slow

WORKSPACES = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices"
WORKSPACES += "/workspaces"


def _ledger(azurite: Azurite) -> Ledger:
    settings = LedgerSettings(
        table_endpoint=None,
        connection_string=azurite.connection_string,
        table_name=f"t{uuid.uuid4().hex[:16]}",
    )
    return open_ledger(settings, None)


def _action(target: str, n: int) -> ActionRecord:
    return ActionRecord(
        target_id=target,
        kind="private-endpoint-connection",
        verdict="approve",
        subject=f"{target}/privateEndpointConnections/c{n}",
        reason=f"reason {n}",
        mode="enforce",
        outcome="applied: now Approved",
        trigger="event:e1",
    )


def test_an_event_redelivered_updates_its_row(azurite: Azurite) -> None:
    ledger = _ledger(azurite)
    record = EventRecord("evt/1#?", "T", "/subscriptions/s", "reconciled", "first", "fn")

    ledger.record_event(record)
    ledger.record_event(
        EventRecord("evt/1#?", "T", "/subscriptions/s", "reconciled", "again", "fn")
    )

    rows = list(ledger.events())
    assert len(rows) == 1
    assert rows[0]["EventId"] == "evt/1#?"  # unsafe key characters survive in the data
    assert rows[0]["Reason"] == "again"
    assert (ledger.event("evt/1#?") or {}).get("Reason") == "again"
    assert ledger.event("missing") is None


def test_actions_are_batched_past_the_transaction_limit_and_read_newest_first(
    azurite: Azurite,
) -> None:
    ledger = _ledger(azurite)
    target = f"{WORKSPACES}/w"

    ledger.record_actions([_action(target, n) for n in range(250)])
    ledger.record_actions([_action(target, 999)])

    rows = list(ledger.actions(target))
    assert len(rows) == 251
    assert rows[0]["Reason"] == "reason 999"
    assert {row["TargetId"] for row in rows} == {target}
    other = f"{WORKSPACES}/x"
    assert list(ledger.actions(other)) == []


def test_opening_the_ledger_twice_reuses_the_table(azurite: Azurite) -> None:
    settings = LedgerSettings(None, azurite.connection_string, f"t{uuid.uuid4().hex[:16]}")
    first = open_ledger(settings, None)
    first.record_event(EventRecord("a", "T", "s", "ok", "r", "fn"))
    open_ledger.cache_clear()  # a new process opening an existing table

    second = open_ledger(settings, None)

    assert second.event("a") is not None


def test_first_time_is_true_once_per_key_across_ledger_clients(azurite: Azurite) -> None:
    from azure.data.tables import TableClient

    name = f"t{uuid.uuid4().hex[:16]}"
    ledger = open_ledger(LedgerSettings(None, azurite.connection_string, name), None)
    # A client of its own on the same table stands for another instance of the app.
    other = Ledger(TableClient.from_connection_string(azurite.connection_string, name))

    assert ledger.first_time("exemption-expired:a/b#c?")
    assert not ledger.first_time("exemption-expired:a/b#c?")
    assert not other.first_time("exemption-expired:a/b#c?")
    assert other.first_time("exemption-expired:another")
