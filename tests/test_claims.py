"""Claims in Azurite's table: only one writer wins a claim, a stale read can neither take nor
change it, and a scoring claim is taken once per retraining job."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient, UpdateMode

from shared.claims import (
    Busy,
    Claims,
    ClaimState,
    Owned,
    Replay,
    RetrainingClaim,
    retraining_scoring,
)
from shared.planning.retraining import scoring_request_id
from shared.policy.budget import HOUR
from simulator import Azurite
from tools import scene

WS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def claims(azurite: Azurite) -> Iterator[Claims]:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    table = service.create_table(f"claims{uuid.uuid4().hex[:12]}")
    yield Claims(table)
    service.delete_table(table.table_name)


def _claim(claims: Claims, key: str, previous: RetrainingClaim | None = None) -> bool:
    return claims.claim_retraining(
        WS,
        job_name=f"retrain-{key}",
        claim_key=key,
        trigger="drift",
        now=NOW,
        previous=previous,
    )


def test_the_first_claim_wins_and_a_second_create_loses(claims: Claims) -> None:
    assert claims.retraining(WS) is None
    assert _claim(claims, "a") is True
    assert _claim(claims, "b") is False
    current = claims.retraining(WS)
    assert current is not None
    assert (current.job_name, current.claim_key, current.state) == (
        "retrain-a",
        "a",
        ClaimState.CLAIMED,
    )
    assert current.claimed_at == NOW


def test_a_stale_read_cannot_take_over(claims: Claims) -> None:
    _claim(claims, "a")
    stale = claims.retraining(WS)
    assert _claim(claims, "b", previous=stale) is True  # the first to replace wins
    assert _claim(claims, "c", previous=stale) is False  # the same read, now stale
    current = claims.retraining(WS)
    assert current is not None
    assert current.claim_key == "b"


def test_a_state_change_applies_only_to_the_claim_read(claims: Claims) -> None:
    _claim(claims, "a")
    read = claims.retraining(WS)
    assert read is not None
    assert claims.set_retraining_state(read, ClaimState.SUBMITTED) is True
    # `read` is stale now (its ETag changed with the state): it can change nothing more.
    assert claims.set_retraining_state(read, ClaimState.FAILED) is False
    current = claims.retraining(WS)
    assert current is not None
    assert current.state == ClaimState.SUBMITTED


def test_a_scoring_claim_is_taken_once_per_retraining_job(claims: Claims) -> None:
    first = claims.claim_scoring(retraining_scoring(WS, "retrain-a", "event:1"), now=NOW)
    assert isinstance(first, Owned)
    assert first.request_id == scoring_request_id(WS, "retrain-a")
    assert claims.claim_scoring(retraining_scoring(WS, "retrain-a", "event:2"), now=NOW) == Busy(
        "event:1"
    )
    assert isinstance(
        claims.claim_scoring(retraining_scoring(WS, "retrain-b", "event:2"), now=NOW), Owned
    )
    claims.settle_scoring(first, "batchjob-1", WS, f"{WS}/batchEndpoints/e")
    assert claims.scored(retraining_scoring(WS, "retrain-a", "event:3")) == "batchjob-1"
    assert claims.claim_scoring(retraining_scoring(WS, "retrain-a", "event:3"), now=NOW) == Replay(
        "batchjob-1", WS, f"{WS}/batchEndpoints/e"
    )
    assert claims.scored(retraining_scoring(WS, "retrain-c", "event:3")) is None


def test_a_claim_row_edited_by_hand_holds_nothing_back_and_is_replaced(claims: Claims) -> None:
    _claim(claims, "a")
    table = claims._table  # the test plays the operator with a table editor
    table.upsert_entity(
        {"PartitionKey": claims_partition(), "RowKey": "retraining", "Junk": 1},
        mode=UpdateMode.REPLACE,
    )
    broken = claims.retraining(WS)
    assert broken is not None
    assert broken.state == ClaimState.FAILED
    assert _claim(claims, "b", previous=broken) is True
    current = claims.retraining(WS)
    assert current is not None
    assert current.claim_key == "b"


def claims_partition() -> str:
    from shared.claims import _partition

    return _partition(WS)


# --- remediation slots of the hour (MAX_REMEDIATIONS_PER_HOUR) -----------------------------------


@pytest.mark.slow
def test_the_ledger_keeps_the_hour_across_runs(claims: Claims) -> None:
    assert claims.take_remediation_slot(WS, limit=2, now=NOW) is None
    assert claims.take_remediation_slot(WS, limit=2, now=NOW + timedelta(minutes=10)) is None

    # A new run (a new event, another instance) finds the hour spent.
    free_at = claims.take_remediation_slot(WS, limit=2, now=NOW + timedelta(minutes=20))

    assert free_at == NOW + HOUR
    assert claims.take_remediation_slot(WS.upper(), limit=2, now=NOW + timedelta(minutes=30))
    assert claims.take_remediation_slot(WS + "2", limit=2, now=NOW) is None  # per workspace
    assert claims.take_remediation_slot(WS, limit=2, now=NOW + HOUR) is None


@pytest.mark.slow
def test_instances_racing_for_the_hours_slots_take_no_more_than_the_limit(
    claims: Claims,
) -> None:
    results: list[datetime | None] = []
    start = threading.Barrier(8)

    def instance() -> None:
        start.wait()
        results.append(claims.take_remediation_slot(WS, limit=3, now=NOW))

    threads = [threading.Thread(target=instance) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(1 for result in results if result is None) == 3
    assert claims.take_remediation_slot(WS, limit=3, now=NOW) == NOW + HOUR


def test_claim_keys_of_configured_workspaces_are_the_ones_written_before() -> None:
    from shared.claims import _keys

    # Rows written before keys went through table_key stay found after an upgrade.
    partition = "claims:" + scene.PROD.lower().strip("/").replace("/", ":")
    assert _keys(scene.PROD, "scoring", "retrain-0a1b2c") == (partition, "scoring:retrain-0a1b2c")
