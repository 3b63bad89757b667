"""Claims (`shared.claims`, the app's one claim store) in Azurite's table: only one writer wins a
claim, a stale read can neither take nor change it, a scoring claim is taken once per retraining
job, and an HTTP caller's idempotency key starts one job, even in a race."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import ResourceModifiedError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.claims import (
    CLAIM_LEASE,
    KEY_LIFETIME,
    Busy,
    Claims,
    ClaimState,
    Mismatch,
    Owned,
    Replay,
    RetrainingClaim,
    ScoringClaimOutcome,
    idempotent_scoring,
    retraining_scoring,
)
from shared.planning.retraining import scoring_request_id
from shared.policy.budget import HOUR
from shared.runtime import runtime
from shared.scoring.records import JobRecord
from simulator import Azurite
from tests.conftest import App, at_once
from tests.test_scoring_records import CALLER, Clock, _job
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


def test_a_settle_after_a_twin_took_the_claim_over_leaves_the_start_to_the_twin(
    claims: Claims,
) -> None:
    """Twins (one event delivered twice: one holder, one request ID, so one job): the one whose
    claim the other took over settles nothing (False) while the other holds it or has settled
    it; once the other failed (released), or after another holder's takeover, it raises."""
    key = retraining_scoring(WS, "retrain-a", "event:1")
    first = claims.claim_scoring(key, now=NOW)
    twin = claims.claim_scoring(key, now=NOW)  # the same holder takes its claim back at once
    assert isinstance(first, Owned)
    assert isinstance(twin, Owned)
    assert claims.settle_scoring(first, "batchjob-1", WS, "") is False  # the twin is posting
    assert claims.settle_scoring(twin, "batchjob-1", WS, "") is True
    assert claims.settle_scoring(twin, "batchjob-1", WS, "") is True  # its own write, again
    assert claims.settle_scoring(first, "batchjob-1", WS, "") is False  # the twin's, settled
    assert claims.scored(key) == "batchjob-1"

    other = retraining_scoring(WS, "retrain-b", "event:1")
    first, twin = claims.claim_scoring(other, now=NOW), claims.claim_scoring(other, now=NOW)
    assert isinstance(first, Owned)
    assert isinstance(twin, Owned)
    claims.release_scoring(twin)  # the twin's start failed
    with pytest.raises(ResourceModifiedError):
        claims.settle_scoring(first, "batchjob-2", WS, "")
    taken = claims.claim_scoring(retraining_scoring(WS, "retrain-b", "timer"), now=NOW)
    assert isinstance(taken, Owned)  # released: another holder takes it over
    with pytest.raises(ResourceModifiedError):
        claims.settle_scoring(twin, "batchjob-2", WS, "")


@pytest.mark.slow
def test_scoring_claims_of_lookalike_job_names_never_share_a_row(rapp: App) -> None:
    from datetime import UTC, datetime

    from shared.claims import Owned, retraining_scoring

    claims = runtime().claims
    now = datetime.now(UTC)
    names = ["job/1", "job:1", "job#1", "job~3A1", "j" * 2000]
    for i, name in enumerate(names):
        claim = claims.claim_scoring(retraining_scoring(scene.PROD, name, "t"), now=now)
        assert isinstance(claim, Owned)
        claims.settle_scoring(claim, f"batchjob-{i}", scene.PROD, "")
    for i, name in enumerate(names):
        assert claims.scored(retraining_scoring(scene.PROD, name, "t")) == f"batchjob-{i}"


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


# What a row edited by hand may hold where the app writes a job, version or deployment name: a
# name becomes a URL segment, and these would make it another URL (`..`: the parent) or none.
# 7: text as the app writes it, or no name (a number would be read as its digits).
NOT_NAMES = st.sampled_from(["..", ".", "../../../x", "1/../../x", "a b", "j\ud800", "-x", 7])


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    job=st.one_of(st.just("retrain-a"), NOT_NAMES),
    names=st.dictionaries(
        st.sampled_from(["Version", "Deployment", "Previous", "RetrainingJob"]), NOT_NAMES
    ),
)
def test_a_claim_naming_what_is_not_a_name_names_nothing_and_holds_nothing(
    claims: Claims, job: str | int, names: dict[str, str | int]
) -> None:
    # The retraining claim's job is read by its name, a scoring claim's job answered as a URL;
    # the promotion's version is PUT (its model the output of the job it names), its deployments
    # read and written by theirs: a row saying
    # `..` must not steer those to the workspace or another path, or block retraining with a
    # read that can never succeed.
    table, keys = claims._table, {"PartitionKey": claims_partition()}
    _claim(claims, "a")  # the first example's; the same row for the others
    table.upsert_entity(keys | {"RowKey": "retraining", "JobName": job}, mode=UpdateMode.MERGE)
    scoring = retraining_scoring(WS, "retrain-a", "t")
    if isinstance(started := claims.claim_scoring(scoring, now=NOW), Owned):
        claims.settle_scoring(started, "batchjob-1", WS, "")
    scored = {"PartitionKey": scoring.keys[0], "RowKey": scoring.keys[1], "JobName": job}
    table.upsert_entity(scored, mode=UpdateMode.MERGE)
    row = {"State": "claimed", "Version": "3", "Deployment": "churn-3", "Previous": "blue"}
    row |= {"RetrainingJob": "retrain-a", "ClaimedAt": NOW.isoformat()}
    table.upsert_entity(keys | {"RowKey": "promotion:retrain-a"} | row | names)

    claim, [promoted] = claims.retraining(WS), claims.promotions(WS)

    assert claim is not None
    assert (claim.job_name, claim.state) == (
        ("retrain-a", ClaimState.CLAIMED) if job == "retrain-a" else ("", ClaimState.FAILED)
    )
    # The scoring it started, answered to an HTTP caller as a job URL: none but a job's name.
    assert claims.scored(scoring) == (job if job == "retrain-a" else None)
    named = (promoted.version, promoted.deployment, promoted.previous, promoted.retraining_job)
    assert (promoted.state, named) == (
        ("failed", ("", "", "", ""))
        if names
        else ("claimed", ("3", "churn-3", "blue", "retrain-a"))
    )


def claims_partition() -> str:
    from shared.ledger import actions_partition

    return actions_partition(WS, "claims")


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
    results = at_once([lambda: claims.take_remediation_slot(WS, limit=3, now=NOW)] * 8)
    assert sum(1 for result in results if result is None) == 3
    # None raised, and none gave up (that returns `now`): each loss of a write is another's win,
    # so after 3 wins the rest read the hour full and learn when its first slot frees.
    assert results.count(NOW + HOUR) == 5, results
    assert claims.take_remediation_slot(WS, limit=3, now=NOW) == NOW + HOUR


FIX = "lower-max-nodes\n" + WS.lower() + "/computes/cpu"


def _slots(claims: Claims) -> list[int]:
    row = claims._table.get_entity(claims_partition(), "remediations")
    return list(json.loads(row["Times"]))


@pytest.mark.slow
def test_a_remediation_another_run_holds_is_its_own_and_spends_no_slot(claims: Claims) -> None:
    assert claims.take_remediation_slot(WS, 10, NOW, (FIX, "run-a")) is None
    # Another run (a twin delivery, the sweep) planning the same write meanwhile learns who
    # holds it; the hour counts the remediation once.
    assert claims.take_remediation_slot(WS, 10, NOW + timedelta(seconds=30), (FIX, "run-b")) == (
        "run-a"
    )
    assert len(_slots(claims)) == 1
    # The holder's own hold, found again (its write's answer lost, retried): taken, once.
    assert claims.take_remediation_slot(WS, 10, NOW + timedelta(seconds=31), (FIX, "run-a")) is None
    assert len(_slots(claims)) == 1
    # Another remediation of the workspace, held apart.
    other = (FIX.replace("/cpu", "/gpu"), "run-b")
    assert claims.take_remediation_slot(WS, 10, NOW + timedelta(seconds=32), other) is None
    # A holder that died holds it only for its lease: a later run takes it over.
    later = NOW + CLAIM_LEASE
    assert claims.take_remediation_slot(WS, 10, later, (FIX, "run-c")) is None
    assert claims.take_remediation_slot(WS, 10, later, (FIX, "run-a")) == "run-c"
    assert len(_slots(claims)) == 3


@pytest.mark.slow
def test_a_write_that_was_not_made_is_released_for_the_next_run_at_once(claims: Claims) -> None:
    assert claims.take_remediation_slot(WS, 10, NOW, (FIX, "run-a")) is None
    claims.release_hold(WS, (FIX, "run-b"), NOW)  # not its hold: nothing changes
    assert claims.take_remediation_slot(WS, 10, NOW, (FIX, "run-b")) == "run-a"

    claims.release_hold(WS, (FIX, "run-a"), NOW)  # its write failed: refused, guarded

    assert claims.take_remediation_slot(WS, 10, NOW, (FIX, "run-b")) is None
    assert len(_slots(claims)) == 2  # the failed attempt's slot stays spent
    # A write no hourly limit counts (an approval, an assignment) is held alone.
    approval = ("approve\n" + WS + "/privateEndpointConnections/c", "run-a")
    assert claims.take_remediation_slot(WS, None, NOW, approval) is None
    assert claims.take_remediation_slot(WS, None, NOW, (approval[0], "run-b")) == "run-a"
    assert len(_slots(claims)) == 2


@pytest.mark.slow
def test_runs_racing_for_one_remediation_have_one_holder_and_spend_one_slot(
    claims: Claims,
) -> None:
    runs = [f"run-{n}" for n in range(6)]
    take = functools.partial(claims.take_remediation_slot, WS, 10, NOW)
    results = at_once([functools.partial(take, (FIX, run)) for run in runs])
    (winner,) = [run for run, result in zip(runs, results, strict=True) if result is None]
    assert [r for r in results if r is not None] == [winner] * 5
    assert len(_slots(claims)) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "holds",
    ["[1]", '{"k": 1}', '{"k": ["a", 1e300]}', "nonsense", '{"k": ["a", "b", "c"]}', "[[[]]]"],
)
def test_holds_edited_into_another_shape_hold_nothing(claims: Claims, holds: str) -> None:
    claims._table.upsert_entity(  # the test plays the operator with a table editor
        {
            "PartitionKey": claims_partition(),
            "RowKey": "remediations",
            "Times": "[]",
            "Holds": holds,
        }
    )
    assert claims.take_remediation_slot(WS, 10, NOW, (FIX, "run-a")) is None
    assert claims.take_remediation_slot(WS, 10, NOW, (FIX, "run-b")) == "run-a"


def test_the_most_writes_held_at_once_are_stored_whole() -> None:
    # A cut value would read as no hold at all: the newest are kept, within a property's bound.
    from shared.bounds import bounded
    from shared.claims import _HOLDS, _holds_value

    holder = "f" * 16
    holds = {f"{n:016x}": (holder, NOW + timedelta(seconds=n)) for n in range(_HOLDS + 50)}
    value = _holds_value(holds)

    assert bounded(value) == value
    assert sorted(json.loads(value)) == sorted(holds)[50:]


def test_claim_keys_of_configured_workspaces_are_the_ones_written_before() -> None:
    from shared.claims import _keys

    # Rows written before keys went through table_key stay found after an upgrade.
    partition = "claims:" + scene.PROD.lower().strip("/").replace("/", ":")
    assert _keys(scene.PROD, "scoring", "retrain-0a1b2c") == (partition, "scoring:retrain-0a1b2c")


# --- idempotency keys of HTTP scoring requests (one job per caller and key) ----------------------


OTHER = "11111111-2222-3333-4444-555555555555"


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


@pytest.mark.slow
def test_the_first_request_owns_the_key_and_a_repeat_replays_its_job(table: TableClient) -> None:
    records = Records(table, Clock())
    claim = records.claim(CALLER, "run-1", "same")
    assert isinstance(claim, Owned)
    assert isinstance(records.claim(CALLER, "run-1", "same"), Busy)
    records.settle(claim, _job("batchjob-1"))
    replay = records.claim(CALLER, "run-1", "same")
    assert replay == Replay("batchjob-1", WS, f"{WS}/batchEndpoints/e")


@pytest.mark.slow
def test_a_key_the_previous_release_claimed_by_its_json_fingerprint_is_still_the_same_request(
    table: TableClient,
) -> None:
    """ced3d3a kept the request's JSON text as the fingerprint, now its SHA-256: within 24 hours
    of the upgrade, a retry of that request replays its job (or waits), another is a mismatch."""
    import json

    from shared.adapters.batch_scoring import ScoringInput
    from shared.arm import ArmId
    from shared.scoring.service import ScoringOrder

    endpoint, scoring = ArmId(f"{WS}/batchEndpoints/E"), ScoringInput("uri_folder", "azureml://x/")
    order = ScoringOrder(endpoint, "blue", scoring, "http", caller=CALLER, idempotency_key="run-1")
    old = json.dumps([endpoint.lower(), "blue", scoring.kind, scoring.path])  # as ced3d3a wrote it
    records = Records(table, Clock())
    claim = records.claim(CALLER, "run-1", old)
    assert isinstance(claim, Owned)
    assert isinstance(records.claim(CALLER, "run-1", order.fingerprint()), Busy)
    records.settle(claim, _job("batchjob-1"))
    replay = records.claim(CALLER, "run-1", order.fingerprint())
    assert replay == Replay("batchjob-1", WS, f"{WS}/batchEndpoints/e")
    other = ScoringOrder(endpoint, "green", scoring, "http", caller=CALLER)
    assert isinstance(records.claim(CALLER, "run-1", other.fingerprint()), Mismatch)


@pytest.mark.slow
def test_keys_belong_to_their_caller(table: TableClient) -> None:
    records = Records(table, Clock())
    assert isinstance(records.claim(CALLER, "run-1", "a"), Owned)
    assert isinstance(records.claim(OTHER, "run-1", "a"), Owned)


@pytest.mark.slow
def test_a_key_reused_for_another_request_is_a_mismatch(table: TableClient) -> None:
    records = Records(table, Clock())
    claim = records.claim(CALLER, "run-1", "a")
    assert isinstance(claim, Owned)
    records.settle(claim, _job("batchjob-1"))
    assert isinstance(records.claim(CALLER, "run-1", "b"), Mismatch)


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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
    assert records.claim(CALLER, "run-1", "b") == Replay("batchjob-2", WS, f"{WS}/batchEndpoints/e")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ahead", "replayed"), [(timedelta(minutes=3), True), (timedelta(days=36500), False)]
)
def test_a_key_dated_ahead_holds_only_for_its_lifetime_and_the_skew(
    table: TableClient, ahead: timedelta, replayed: bool
) -> None:
    """A key taken by an instance whose clock is a little fast holds as a fresh one; one dated
    further ahead than its lifetime and any skew (edited by hand) is none the app wrote: the key
    starts afresh rather than answering that job for ever."""
    clock = Clock()
    records = Records(table, clock)
    clock.now += ahead
    first = records.claim(CALLER, "run-1", "a")
    assert isinstance(first, Owned)
    records.settle(first, _job("batchjob-1"))
    clock.now -= ahead
    assert isinstance(records.claim(CALLER, "run-1", "a"), Replay if replayed else Owned)


@pytest.mark.slow
def test_concurrent_requests_with_one_key_have_exactly_one_owner(table: TableClient) -> None:
    records = Records(table, Clock())
    outcomes = at_once([lambda: records.claim(CALLER, "race", "a")] * 8)
    assert sum(isinstance(o, Owned) for o in outcomes) == 1
    assert sum(isinstance(o, Busy) for o in outcomes) == 7  # none raised
    [owner] = [o for o in outcomes if isinstance(o, Owned)]
    assert all(o == Busy(owner.key.holder) for o in outcomes if o is not owner)


@pytest.mark.slow
def test_concurrent_takeovers_of_a_released_claim_have_exactly_one_winner(
    table: TableClient,
) -> None:
    records = Records(table, Clock())
    first = records.claim(CALLER, "race", "a")
    assert isinstance(first, Owned)
    records.release(first)
    outcomes = at_once([lambda: records.claim(CALLER, "race", "a")] * 6)
    assert sum(isinstance(o, Owned) for o in outcomes) == 1
    # None raised: the losers find the winner's fresh lease. The winner keeps the request ID.
    [winner] = [o for o in outcomes if isinstance(o, Owned)]
    assert all(o == Busy(winner.key.holder) for o in outcomes if o is not winner), outcomes
    assert (winner.request_id, winner.attempted) == (first.request_id, True)
