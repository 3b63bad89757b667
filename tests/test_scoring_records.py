"""Idempotency claims (`shared.claims`, the app's one claim store) and scoring job records in the
ledger table (Azurite): one submission per key, even in a race."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import ResourceModifiedError
from azure.data.tables import TableClient, TableServiceClient

from shared.claims import (
    CLAIM_LEASE,
    KEY_LIFETIME,
    Busy,
    Claims,
    Mismatch,
    Owned,
    Replay,
    ScoringClaimOutcome,
    idempotent_scoring,
)
from shared.scoring.records import JobRecord, ScoringRecords
from simulator import Azurite

pytestmark = pytest.mark.slow

CALLER = "7f3c2b1a-0d4e-4f5a-8b6c-9d0e1f2a3b4c"
OTHER = "11111111-2222-3333-4444-555555555555"
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Clock:
    """Time that tests move by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def table(azurite: Azurite) -> Iterator[TableClient]:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    client = service.create_table(f"t{uuid.uuid4().hex[:20]}")
    yield client
    client.delete_table()


class Records:
    """The claims of one table, on a clock that tests move by hand."""

    def __init__(self, table: TableClient, clock: Clock) -> None:
        self.claims = Claims(table)
        self.clock = clock

    def claim(self, caller: str, key: str, fingerprint: str) -> ScoringClaimOutcome:
        return self.claims.claim_scoring(
            idempotent_scoring(caller, key, fingerprint), now=self.clock()
        )

    def settle(self, claim: Owned, job: JobRecord) -> None:
        self.claims.settle_scoring(claim, job.job_name, job.workspace_id, job.endpoint_id)

    def release(self, claim: Owned) -> None:
        self.claims.release_scoring(claim)


def _job(name: str) -> JobRecord:
    return JobRecord(name, "/ws", "/ws/batchEndpoints/e", None, "uri_folder",
                     "azureml:x:1", CALLER, None, None, "k", "NotStarted")  # fmt: skip


def test_the_first_request_owns_the_key_and_a_repeat_replays_its_job(table: TableClient) -> None:
    records = Records(table, Clock())
    claim = records.claim(CALLER, "run-1", "same")
    assert isinstance(claim, Owned)
    assert isinstance(records.claim(CALLER, "run-1", "same"), Busy)
    records.settle(claim, _job("batchjob-1"))
    replay = records.claim(CALLER, "run-1", "same")
    assert replay == Replay("batchjob-1", "/ws", "/ws/batchEndpoints/e")


def test_keys_belong_to_their_caller(table: TableClient) -> None:
    records = Records(table, Clock())
    assert isinstance(records.claim(CALLER, "run-1", "a"), Owned)
    assert isinstance(records.claim(OTHER, "run-1", "a"), Owned)


def test_a_key_reused_for_another_request_is_a_mismatch(table: TableClient) -> None:
    records = Records(table, Clock())
    claim = records.claim(CALLER, "run-1", "a")
    assert isinstance(claim, Owned)
    records.settle(claim, _job("batchjob-1"))
    assert isinstance(records.claim(CALLER, "run-1", "b"), Mismatch)


def test_a_released_claim_is_taken_over_with_the_same_request_id(table: TableClient) -> None:
    records = Records(table, Clock())
    first = records.claim(CALLER, "run-1", "a")
    assert isinstance(first, Owned)
    records.release(first)
    second = records.claim(CALLER, "run-1", "a")
    assert isinstance(second, Owned)
    assert second.request_id == first.request_id
    with pytest.raises(ResourceModifiedError):
        records.settle(first, _job("stale"))  # the first holder's ETag is no longer valid


def test_a_claim_abandoned_past_its_lease_is_taken_over(table: TableClient) -> None:
    clock = Clock()
    records = Records(table, clock)
    first = records.claim(CALLER, "run-1", "a")
    assert isinstance(first, Owned)
    clock.now += CLAIM_LEASE - timedelta(seconds=1)
    assert isinstance(records.claim(CALLER, "run-1", "a"), Busy)
    clock.now += timedelta(seconds=2)
    second = records.claim(CALLER, "run-1", "a")
    assert isinstance(second, Owned)
    assert second.request_id == first.request_id


def test_after_24_hours_the_key_starts_a_new_job(table: TableClient) -> None:
    clock = Clock()
    records = Records(table, clock)
    first = records.claim(CALLER, "run-1", "a")
    assert isinstance(first, Owned)
    records.settle(first, _job("batchjob-1"))
    clock.now += KEY_LIFETIME - timedelta(minutes=1)
    assert isinstance(records.claim(CALLER, "run-1", "a"), Replay)
    clock.now += timedelta(minutes=2)
    renewed = records.claim(CALLER, "run-1", "b")  # even for another body: the key expired
    assert isinstance(renewed, Owned)
    assert renewed.request_id != first.request_id
    records.settle(renewed, _job("batchjob-2"))
    assert records.claim(CALLER, "run-1", "b") == Replay(
        "batchjob-2", "/ws", "/ws/batchEndpoints/e"
    )


def test_concurrent_requests_with_one_key_have_exactly_one_owner(table: TableClient) -> None:
    records = Records(table, Clock())
    outcomes: list[object] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        outcomes.append(records.claim(CALLER, "race", "a"))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, Owned) for o in outcomes) == 1
    assert sum(isinstance(o, Busy) for o in outcomes) == 7


def test_concurrent_takeovers_of_a_released_claim_have_exactly_one_winner(
    table: TableClient,
) -> None:
    records = Records(table, Clock())
    first = records.claim(CALLER, "race", "a")
    assert isinstance(first, Owned)
    records.release(first)
    outcomes: list[object] = []
    barrier = threading.Barrier(6)

    def attempt() -> None:
        barrier.wait()
        outcomes.append(records.claim(CALLER, "race", "a"))

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, Owned) for o in outcomes) == 1


def test_jobs_are_found_by_name_whatever_the_case(table: TableClient) -> None:
    records = ScoringRecords(table, Clock())
    records.record_job(_job("BatchJob-7"))
    found = records.job("batchjob-7")
    assert found is not None
    assert found.caller == CALLER
    assert found.workspace_id == "/ws"
    assert records.job("batchjob-8") is None


def test_unannounced_jobs_are_those_of_the_window_not_yet_announced_oldest_first(
    table: TableClient,
) -> None:
    clock = Clock()
    records = ScoringRecords(table, clock)
    for name in ("before-window", "b-second", "a-third", "c-first-announced", "d-last"):
        records.record_job(_job(name))
        clock.now += timedelta(minutes=1)
    records.job_ended("c-first-announced", "Failed", announced=True)
    records.job_ended("d-last", "Completed")  # seen by polling, not announced
    # A row edited by hand into another shape is passed over.
    edited = (START + timedelta(minutes=2)).isoformat()
    table.upsert_entity({"PartitionKey": "scoring-jobs", "RowKey": "x", "SubmittedAt": edited})

    since = START + timedelta(seconds=30)
    assert [j.job_name for j in records.unannounced(since, 10)] == ["b-second", "a-third", "d-last"]
    assert [j.job_name for j in records.unannounced(since, 2)] == ["b-second", "a-third"]
    announced = records.job("c-first-announced")
    assert announced is not None
    assert (announced.status, announced.announced) == ("Failed", True)
    polled = records.job("d-last")
    assert polled is not None
    assert (polled.status, polled.announced) == ("Completed", False)
