"""The ledger against Azurite (Azure Table storage's emulator), through azure-data-tables."""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceResponseError
from azure.data.tables import TableClient
from azure.identity import ManagedIdentityCredential
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.bounds import CLOCK_SKEW
from shared.config import LedgerSettings
from shared.ledger import (
    EVENTS_PARTITION,
    FINGERPRINT_SECONDS,
    FINGERPRINTS_PARTITION,
    ONCE_LEASE,
    ONCE_PARTITION,
    ActionRecord,
    EventRecord,
    Ledger,
    open_ledger,
    partition_rows,
)
from shared.outcome import Outcome, Status
from shared.runtime import runtime
from simulator import AzureSimulator, Azurite, arm_error, route
from tests.conftest import at_once

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
        outcome=Outcome(Status.APPLIED, "now Approved"),
        trigger="event:e1",
    )


def test_an_event_redelivered_updates_its_row(azurite: Azurite) -> None:
    ledger = _ledger(azurite)
    record = EventRecord("evt/1#?", "T", "/subscriptions/s", "reconciled", "first", "fn")

    ledger.record_event(record)
    ledger.record_event(
        EventRecord("evt/1#?", "T", "/subscriptions/s", "reconciled", "again", "fn")
    )

    rows = list(partition_rows(ledger.table, EVENTS_PARTITION))
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


@pytest.mark.parametrize(
    "target",
    [
        "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/r1",
        f"{WORKSPACES}/authorization=x",
    ],
)
def test_a_key_is_written_as_it_is_read_whatever_redaction_makes_of_its_text(
    azurite: Azurite, target: str
) -> None:
    # '/' is ':' in a key: `authorization:roleassignments` reads as a header to `redacted`.
    ledger = _ledger(azurite)

    ledger.record_actions([_action(target, 1)])
    ledger.record_event(EventRecord(target, "T", target, "reconciled", "why", "fn"))

    assert [row["Reason"] for row in ledger.actions(target)] == ["reason 1"]
    assert (ledger.event(target) or {}).get("Reason") == "why"


def test_opening_the_ledger_twice_reuses_the_table(azurite: Azurite) -> None:
    settings = LedgerSettings(None, azurite.connection_string, f"t{uuid.uuid4().hex[:16]}")
    first = open_ledger(settings, None)
    first.record_event(EventRecord("a", "T", "s", "ok", "r", "fn"))
    open_ledger.cache_clear()  # a new process opening an existing table

    second = open_ledger(settings, None)

    assert second.event("a") is not None


def test_first_time_is_true_once_per_key_across_ledger_clients(azurite: Azurite) -> None:
    name = f"t{uuid.uuid4().hex[:16]}"
    ledger = open_ledger(LedgerSettings(None, azurite.connection_string, name), None)
    # A client of its own on the same table stands for another instance of the app.
    other = Ledger(TableClient.from_connection_string(azurite.connection_string, name))

    assert ledger.first_time("exemption-expired:a/b#c?")
    assert ledger.first_time("exemption-expired:a/b#c?") is None  # being reported
    assert other.first_time("exemption-expired:a/b#c?") is None
    ledger.reported("exemption-expired:a/b#c?")
    assert ledger.first_time("exemption-expired:a/b#c?") is False
    assert other.first_time("exemption-expired:another")


@contextlib.contextmanager
def ledger_fails_on(when: Callable[[ActionRecord], bool]) -> Iterator[None]:
    """The block fails as the app's ledger fails (its table unavailable) to record rows of which
    one meets `when`: the instance fails, or dies, right as it records them."""
    sink = runtime().sink
    record_actions = sink.record_actions

    def failing(records: Sequence[ActionRecord]) -> None:
        if any(when(record) for record in records):
            raise ServiceResponseError("the ledger's table is unavailable")
        record_actions(records)

    sink.record_actions = failing  # type: ignore[method-assign]
    try:
        with pytest.raises(ServiceResponseError, match="the ledger's table is unavailable"):
            yield
    finally:
        del sink.record_actions  # the class's own again


def once_rows_age(table: TableClient, hours: float) -> None:
    """Time passes for the ledger's once rows (who reports a thing): taken `hours` ago."""
    for row in partition_rows(table, ONCE_PARTITION):
        taken = datetime.fromisoformat(str(row["RecordedAt"])) - timedelta(hours=hours)
        table.update_entity({**row, "RecordedAt": taken.isoformat()})


def test_a_report_not_recorded_within_its_lease_is_taken_over_once(
    azurite: Azurite, table: TableClient
) -> None:
    """Its taker died, or could not record it: the report is made again rather than lost; by one
    of racing instances (ETag), and never once it is `reported`."""
    ledgers = [
        Ledger(TableClient.from_connection_string(azurite.connection_string, table.table_name))
        for _ in range(4)
    ]
    assert ledgers[0].first_time("scoring-outcome:w|j")
    once_rows_age(table, ONCE_LEASE.total_seconds() / 3600)

    outcomes = at_once(
        [functools.partial(one.first_time, "scoring-outcome:w|j") for one in ledgers]
    )

    assert sorted(outcomes, key=str) == [None] * 3 + [True]  # none raised
    ledgers[1].reported("scoring-outcome:w|j")
    once_rows_age(table, 1)
    assert [one.first_time("scoring-outcome:w|j") for one in ledgers] == [False] * 4


@pytest.mark.parametrize(
    ("ahead", "taken_over"),
    [(CLOCK_SKEW + timedelta(minutes=1), False), (ONCE_LEASE + CLOCK_SKEW * 2, True)],
)
def test_a_once_row_dated_ahead_holds_as_the_claims_do(
    table: TableClient, ahead: timedelta, taken_over: bool
) -> None:
    """Its taker's clock was ahead (by more than the skew): still held for its lease, not taken
    over at once and reported twice; dated ahead beyond lease and skew (a hand edit), taken."""
    ledger, other = Ledger(table), Ledger(table)
    assert ledger.first_time("scoring-outcome:w|j") is True
    once_rows_age(table, -ahead.total_seconds() / 3600)

    assert other.first_time("scoring-outcome:w|j") is (True if taken_over else None)


def _answer_lost(
    table: TableClient,
    method: str,
    monkeypatch: pytest.MonkeyPatch,
    partition: str = ONCE_PARTITION,
) -> list[Any]:
    """Table storage takes the first `method` write (a row, or a transaction's rows) to a
    partition starting with `partition`, but its answer is lost (a 500 timeout, which azure-core
    retries): the retry meets the rows it wrote, 409 or 412."""
    original, lost = getattr(table, method), list[Any]()

    def answer_lost(written: Any, **options: Any) -> Any:
        entity = written[0][1] if isinstance(written, list) else written
        if entity["PartitionKey"].startswith(partition) and not lost:
            lost.append(original(written, **options))  # took effect; the retry follows
        return original(written, **options)

    monkeypatch.setattr(table, method, answer_lost)
    return lost


def test_a_first_time_whose_answer_was_lost_is_the_callers_own_report(
    table: TableClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its create (or a takeover's replace) took effect but its answer was lost: the row is this
    caller's, which reports now rather than leave the report to whoever asks after the lease."""
    ledger, other = Ledger(table), Ledger(table)
    lost = _answer_lost(table, "create_entity", monkeypatch)
    assert ledger.first_time("scoring-outcome:w|j") is True
    assert lost, "the row was never created"
    assert other.first_time("scoring-outcome:w|j") is None  # being reported, by one caller

    once_rows_age(table, ONCE_LEASE.total_seconds() / 3600)
    lost = _answer_lost(table, "update_entity", monkeypatch)
    assert other.first_time("scoring-outcome:w|j") is True
    assert lost, "the row was never taken over"
    assert ledger.first_time("scoring-outcome:w|j") is None


@pytest.mark.parametrize("rows", [1, 150])
def test_actions_whose_write_answer_was_lost_are_recorded_once_and_raise_nothing(
    table: TableClient, monkeypatch: pytest.MonkeyPatch, rows: int
) -> None:
    """One row is a plain insert, more go in transactions: retried after its answer was lost, the
    write meets its own rows (409). They are recorded, not a ledger failure that fails the run."""
    ledger, target = Ledger(table), f"{WORKSPACES}/w"
    method = "create_entity" if rows == 1 else "submit_transaction"
    lost = _answer_lost(table, method, monkeypatch, "actions:")

    ledger.record_actions([_action(target, n) for n in range(rows)])

    assert lost, "no write was made"
    assert sorted(row["Reason"] for row in ledger.actions(target)) == sorted(
        f"reason {n}" for n in range(rows)
    )


def test_instances_asking_first_time_at_once_get_one_true(
    azurite: Azurite, table: TableClient
) -> None:
    # A client of its own for each racer, as each host has: only the create-only row holds them
    # to one winner (with an upsert, every racer would win).
    ledgers = [
        Ledger(TableClient.from_connection_string(azurite.connection_string, table.table_name))
        for _ in range(8)
    ]

    outcomes = at_once(
        [functools.partial(one.first_time, "scoring-outcome:w|j") for one in ledgers]
    )

    assert sorted(outcomes, key=str) == [None] * 7 + [True]  # none raised; the winner reports


def test_huge_actions_are_bounded_and_all_recorded(
    azurite: Azurite,
) -> None:
    from dataclasses import replace

    from shared.bounds import PROPERTY_LIMIT, utf16_units

    ledger = _ledger(azurite)
    target = f"{WORKSPACES}/w"
    # 120 rows of 70,000-character reasons: 8.4 M characters before bounding.
    records = [replace(_action(target, n), reason=f"{n}:" + "r" * 70_000) for n in range(120)]

    ledger.record_actions(records)

    rows = list(ledger.actions(target))
    assert len(rows) == 120
    assert all(utf16_units(row["Reason"]) <= PROPERTY_LIMIT for row in rows)
    assert {row["Reason"].split(":", 1)[0] for row in rows} == {str(n) for n in range(120)}


def test_actions_of_long_text_that_json_escapes_are_sent_within_a_transactions_size(
    azurite: Azurite,
) -> None:
    # The 4 MiB is of the request: JSON sends a character outside ASCII (or a control one) as
    # `\uXXXX`, six bytes, three times the two of its UTF-16 unit.
    from dataclasses import replace

    ledger = _ledger(azurite)
    target, text = f"{WORKSPACES}/w", "é\x01" * 35_000
    names = ("subject", "reason", "evidence", "trigger", "kind", "verdict", "mode")
    long: dict[str, Any] = dict.fromkeys(names, text)
    records = [replace(_action(target, n), **long) for n in range(40)]

    ledger.record_actions(records)

    assert len(list(ledger.actions(target))) == 40  # Azure (and Azurite) refuse 4 MiB and more


def test_transactions_stay_under_the_operation_and_size_limits() -> None:
    from shared.bounds import bounded_entity, entity_bytes
    from shared.ledger import _transactions

    small = [("create", {"PartitionKey": "p", "RowKey": str(n)}) for n in range(250)]
    large = [
        ("create", bounded_entity({"PartitionKey": "p", "RowKey": f"L{n}", "Reason": "r" * 70_000}))
        for n in range(120)
    ]

    for operations in (small, large, small[:5] + large + small[5:]):
        batches = list(_transactions(operations))
        assert [op for batch in batches for op in batch] == operations  # all, in order
        for batch in batches:
            assert len(batch) <= 100
            assert sum(entity_bytes(entity) for _, entity in batch) <= 4 * 1024 * 1024
    assert [len(b) for b in _transactions(small)] == [100, 100, 50]


@pytest.mark.parametrize(("status", "opens"), [(403, True), (500, False)])
def test_a_table_the_app_may_not_create_is_used_as_provisioned(
    sim: AzureSimulator, credential: ManagedIdentityCredential, status: int, opens: bool
) -> None:
    # In Azure the app's table role is scoped to the ledger table, which infra creates: creating
    # it again may answer 403 rather than 409. That must not stop the app; other errors must.
    name = f"test.tables.create.{status}"
    sim.add_route(
        route(
            "POST",
            rf"^/ledger{status}/tables$",
            name,
            lambda _call: arm_error(status, "AuthorizationPermissionMismatch", "not allowed"),
            None,
        )
    )
    settings = LedgerSettings(f"{sim.url}/ledger{status}", None, f"t{uuid.uuid4().hex[:16]}")

    if opens:
        assert isinstance(open_ledger(settings, credential), Ledger)
    else:
        with pytest.raises(HttpResponseError):
            open_ledger(settings, credential)
    assert sim.count(name, "POST") >= 1


def test_a_subscriptions_fingerprints_are_read_from_its_range_of_rows_only(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = _ledger(azurite)
    mine, other = "0b6a4a2c-1d3e-4f5a-8b7c-9d0e1f2a3b4c", "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
    ml = "providers/microsoft.machinelearningservices/workspaces"
    ids = {
        "mine": f"/subscriptions/{mine}/resourcegroups/rg/{ml}/w",
        # Its key hashed (too long once escaped): no prefix to range over.
        "mine, hashed": f"/subscriptions/{mine}/resourcegroups/{'é' * 80}/{ml}/w",
        # Its subscription's name starts with mine: a bound on text, not segments, would mix it.
        "longer": f"/subscriptions/{mine}0/resourcegroups/rg/{ml}/w",
        "other": f"/subscriptions/{other}/resourcegroups/rg/{ml}/w",
        "other, hashed": f"/subscriptions/{other}/resourcegroups/{'é' * 80}/{ml}/w",
    }
    ledger.keep_fingerprints({workspace: name for name, workspace in ids.items()})
    read: list[str] = []
    query = ledger.table.query_entities

    def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for row in query(*args, **kwargs):
            read.append(row["Fingerprint"])
            yield row

    monkeypatch.setattr(ledger.table, "query_entities", counted)

    assert ledger.fingerprints(mine) == {ids["mine"]: "mine", ids["mine, hashed"]: "mine, hashed"}
    # The hashed keys' range is read too (each kept by its ID); no other row is.
    assert sorted(read) == ["mine", "mine, hashed", "other, hashed"]
    read.clear()
    assert ledger.fingerprints() == {workspace: name for name, workspace in ids.items()}
    assert sorted(read) == sorted(ids)


KEPT_AT_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["nan", "inf", "1e400", "1" * 5000, "0" * 5000 + "1", "²", "٣", "x" * 30000]),
    st.floats(),
    st.integers(-(2**31), 2**31 - 1),
    st.booleans(),
    st.binary(max_size=8),
    st.datetimes(datetime(1601, 1, 1), timezones=st.just(UTC)),  # the table's Edm.DateTime
    # Times near now: an hour ago, and ahead of this clock by a minute, a day, a century.
    st.sampled_from([-3600, 60, 86400, 100 * 365 * 86400]).map(lambda ahead: time.time() + ahead),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kept_at=KEPT_AT_VALUES,
    # As the app writes it, or anything: text, a lone surrogate (the table keeps one), a number.
    named=st.one_of(
        st.just(f"{WORKSPACES}/w".lower()),
        st.text(max_size=20),
        st.sampled_from(["a\ud800b", "\udcff"]),
        st.integers(0, 9),
    ),
)
def test_a_fingerprint_row_of_any_shape_is_current_only_with_a_time_of_the_past_day(
    table: TableClient, kept_at: object, named: object
) -> None:
    # The sweep reads every fingerprint row before it reconciles anything: one row written by
    # hand or by another version (a KeptAt of text, a date, bytes, a time far ahead; any
    # WorkspaceId) must neither stop it nor spare a workspace for longer than the window.
    row = {"PartitionKey": FINGERPRINTS_PARTITION, "RowKey": "w"}
    table.upsert_entity(row | {"WorkspaceId": named, "Fingerprint": "f", "KeptAt": kept_at})

    current = Ledger(table).fingerprints()

    if current:
        assert isinstance(kept_at, float | int)
        assert not isinstance(kept_at, bool)
        assert time.time() - 2 * FINGERPRINT_SECONDS < kept_at <= time.time() + 300
        assert current == {str(named): "f"}
