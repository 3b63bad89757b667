"""Claims in the ledger's table (who submits the next retraining job, starts a scoring job,
promotes a model; each workspace's remediation slots), race-free across Flex Consumption's
instances by ETags: the table accepts only the first of two writes (create, or replace if the ETag
still matches), the other learns it lost. A claim fixes the job name: a retry finds its job."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from shared.arm import plain_name
from shared.bounds import aware_time, held, table_key
from shared.ledger import actions_partition, column, partition_rows, read_row, write_row
from shared.planning.retraining import SCORING_IN_FLIGHT, scoring_request_id
from shared.policy.budget import hourly_slot

if TYPE_CHECKING:
    from azure.data.tables import TableClient

RETRAINING_ROW = "retraining"
# HTTP scoring: how long an Idempotency-Key returns the first request's job; how long a request
# that died before settling holds its key (longer than a submission with its retries takes), and
# a run its write (longer than the write takes, and runs that read the state before it).
SCORING_CLAIMS_PARTITION = "scoring-claims"
KEY_LIFETIME = timedelta(hours=24)
CLAIM_LEASE = timedelta(minutes=2)
# Writes held at once per workspace, at most: their row stays within a property's bound.
_HOLDS = 200
# Reading, deciding and writing again, at most this many times per scoring claim or slot.
_TAKEOVER_ATTEMPTS = 3
_SLOT_ATTEMPTS = 5
_NEVER = datetime.min.replace(tzinfo=UTC)
T = TypeVar("T")


def _keys(workspace_id: str, kind: str, retraining_job: str | None = None) -> tuple[str, str]:
    # The job name comes from an event or Azure's answer: a key that cannot collide or break.
    row = kind if retraining_job is None else f"{kind}:" + table_key(retraining_job.lower())
    return actions_partition(workspace_id, "claims"), row


class ClaimState:
    CLAIMED = "claimed"  # won, submission not yet confirmed
    SUBMITTED = "submitted"  # the job exists
    FAILED = "failed"  # the submission failed permanently: the claim does not debounce
    RETRY = "retry"  # a scoring start failed: the next holder takes it over at once


@dataclass(frozen=True)
class RetrainingClaim:
    workspace_id: str
    job_name: str
    claim_key: str  # the event ID or timer run that made it
    trigger: str
    claimed_at: datetime
    state: str
    etag: str


@dataclass(frozen=True)
class PromotionClaim:
    workspace_id: str
    retraining_job: str
    state: str
    version: str
    deployment: str
    previous: str
    detail: str  # JSON: the metric values and the reason
    trigger: str
    claimed_at: datetime
    etag: str
    holder: str = ""  # the attempt that wrote it last (`Trail.attempt`)


def _promotion_claim(workspace_id: str, found: Any) -> PromotionClaim:
    try:
        claimed_at = aware_time(found.get("ClaimedAt"))
    except (ValueError, TypeError):
        claimed_at = _NEVER
    names = ("retraining_job", "state", "version", "deployment", "previous", "detail", "trigger")
    values = {name: str(found.get(column(name), "")) for name in (*names, "holder")}
    # URL segments (and the job whose output becomes the model): plain names, or none.
    steered = ("version", "deployment", "previous", "retraining_job")
    if not all(plain_name(v := found.get(column(n))) or v in ("", None) for n in steered):
        # A row edited by hand: the promotion ends (failed), naming nothing to write or read.
        values |= dict.fromkeys(steered, "") | {"state": ClaimState.FAILED}
    etag = str(found.metadata["etag"])
    return PromotionClaim(workspace_id, claimed_at=claimed_at, etag=etag, **values)


@dataclass(frozen=True)
class ScoringKey:
    """A scoring start to happen once, and who claims it. `holder`: a delivery's trigger (its
    redelivery takes its own claim back at once) or a unique request. `lease`: how long a claim
    holds others back. `lifetime`: after it the key starts afresh (None: never). `redelivered`:
    after a transient failure the holder comes again (Event Grid, the timer): its claim stays."""

    keys: tuple[str, str]  # partition and row
    request_id: str
    holder: str
    lease: timedelta
    lifetime: timedelta | None = None
    fingerprint: str = ""
    redelivered: bool = False
    columns: Mapping[str, str] = field(default_factory=dict)


def retraining_scoring(workspace_id: str, retraining_job: str, trigger: str) -> ScoringKey:
    return ScoringKey(
        _keys(workspace_id, "scoring", retraining_job),
        scoring_request_id(workspace_id, retraining_job),
        trigger,
        SCORING_IN_FLIGHT,
        redelivered=True,
        columns={"RetrainingJob": retraining_job},
    )


def idempotent_scoring(caller: str, key: str, fingerprint: str) -> ScoringKey:
    """One caller's Idempotency-Key. Hashed into the row key: any key is a valid one, and one
    caller's key never meets another caller's."""
    return ScoringKey(
        (SCORING_CLAIMS_PARTITION, hashlib.sha256(f"{caller}\n{key}".encode()).hexdigest()),
        str(uuid.uuid4()),
        str(uuid.uuid4()),
        CLAIM_LEASE,
        KEY_LIFETIME,
        fingerprint,
        columns={"Caller": caller, "IdempotencyKey": key},
    )


@dataclass(frozen=True)
class Owned:
    """This holder holds the claim: start with `request_id` (the repeatability ID, kept by a
    takeover so that Azure drops a duplicate of a start that went through)."""

    key: ScoringKey
    request_id: str
    etag: str
    # Whether an earlier holder may already have sent `request_id` (a takeover).
    attempted: bool = False


@dataclass(frozen=True)
class Replay:
    job_name: str
    workspace_id: str
    endpoint_id: str


@dataclass(frozen=True)
class Busy:
    holder: str = ""


@dataclass(frozen=True)
class Mismatch:
    """The key was used, within its lifetime, for a different request."""


ScoringClaimOutcome = Owned | Replay | Busy | Mismatch


def _scoring_decision(
    key: ScoringKey, found: Any, now: datetime
) -> Replay | Busy | Mismatch | dict[str, str] | None:
    """What a claim found in the table means for `key`: an outcome, the changes of a takeover
    (keeping the request ID), or None: start afresh (expired, or a row edited by hand)."""
    try:
        # Rows written before the scoring claims were one mechanism: `Trigger`, `ScoringJob`.
        named = found.get("JobName") or found.get("ScoringJob") or ""
        job = plain_name(named) or ""
        state = str(found.get("State") or (ClaimState.SUBMITTED if named else ClaimState.CLAIMED))
        holder = str(found.get("Holder") or found.get("Trigger") or "")
        claimed_at = aware_time(found["ClaimedAt"])
        leased_at = aware_time(found.get("LeasedAt") or found["ClaimedAt"])
        str(found["RequestId"])
        if state == ClaimState.SUBMITTED and not job:
            raise ValueError(named)  # answered as the job's URL: a plain name only
    except (KeyError, ValueError, TypeError):
        return None
    if key.lifetime is not None and not held(now - claimed_at, key.lifetime):
        return None
    # Rows of the release before keep the JSON text of which the fingerprint is now a digest.
    kept = str(found.get("Fingerprint") or "")
    if key.fingerprint not in (kept, hashlib.sha256(kept.encode("utf-8", "replace")).hexdigest()):
        return Mismatch()
    if state == ClaimState.SUBMITTED:
        return Replay(job, str(found.get("WorkspaceId", "")), str(found.get("EndpointId", "")))
    if state == ClaimState.CLAIMED and holder != key.holder and held(now - leased_at, key.lease):
        return Busy(holder)
    return {"State": ClaimState.CLAIMED, "Holder": key.holder, "LeasedAt": now.isoformat()}


def _at(seconds: Any) -> datetime:
    return datetime.fromtimestamp(float(seconds), UTC)


def _stored(found: Any, name: str, parse: Callable[[Any], T]) -> T | None:
    """A JSON column of a row, parsed; missing, or edited into another shape: None."""
    errors = (KeyError, ValueError, TypeError, AttributeError, OverflowError, OSError)
    try:
        return parse(json.loads(str(found[name]))) if found is not None else None
    except (*errors, RecursionError):
        return None


def _digest(hold: tuple[str, str]) -> str:
    return hashlib.sha256(hold[0].encode(errors="surrogatepass")).hexdigest()[:16]


def _holds(found: Any, now: datetime) -> dict[str, tuple[Any, datetime]]:
    """The writes runs hold (`Holds`: {digest: [run, seconds]}), those still in their lease."""
    stored = _stored(found, "Holds", lambda v: {k: (h, _at(t)) for k, (h, t) in v.items()})
    return {k: h for k, h in (stored or {}).items() if held(now - h[1], CLAIM_LEASE)}


def _holds_value(holds: Mapping[str, tuple[Any, datetime]]) -> str:
    newest = sorted(holds.items(), key=lambda item: item[1][1])[-_HOLDS:]
    kept = {k: [str(h), math.ceil(t.timestamp())] for k, (h, t) in newest}
    return json.dumps(kept, separators=(",", ":"))


def slot_times_value(window: Sequence[datetime]) -> str:
    """Whole seconds since the epoch, rounded up (a slot is held a little longer, never shorter),
    compact: the largest window (MAX_REMEDIATIONS_PER_HOUR) stays well within a property's bound."""
    return json.dumps([math.ceil(t.timestamp()) for t in window], separators=(",", ":"))


class Claims:
    def __init__(self, table: TableClient) -> None:
        self._table = table
        self._read = functools.partial(read_row, table)
        self._write = functools.partial(write_row, table)

    def retraining(self, workspace_id: str) -> RetrainingClaim | None:
        if (found := self._read(*_keys(workspace_id, RETRAINING_ROW))) is None:
            return None
        try:
            if (job := plain_name(found["JobName"])) is None:  # read by its name: a URL segment
                raise ValueError(found["JobName"])
            names = (job, str(found["ClaimKey"]), str(found.get("Trigger", "")))
            at, state = aware_time(found["ClaimedAt"]), str(found.get("State", ClaimState.CLAIMED))
        except (KeyError, ValueError, TypeError):
            # A row edited by hand: it holds nothing back and the next claim replaces it.
            names, at, state = ("", "", ""), _NEVER, ClaimState.FAILED
        return RetrainingClaim(workspace_id, *names, at, state, str(found.metadata["etag"]))

    def claim_retraining(
        self, workspace_id: str, *, now: datetime, previous: RetrainingClaim | None, **fields: str
    ) -> bool:
        """Take the claim (`job_name`, `claim_key`, `trigger`) over `previous` (None: there was
        none). False: another instance won."""
        values = {"WorkspaceId": workspace_id, **{column(name): v for name, v in fields.items()}}
        values |= {"ClaimedAt": now.isoformat(), "State": ClaimState.CLAIMED}
        keys = _keys(workspace_id, RETRAINING_ROW)
        return self._write(keys, values, previous.etag if previous else None) is not None

    def set_retraining_state(self, claim: RetrainingClaim, state: str, holder: str = "") -> bool:
        keys, values = _keys(claim.workspace_id, RETRAINING_ROW), {"State": state, "Holder": holder}
        return self._merged(keys, values, claim.etag)

    def _merged(self, keys: tuple[str, str], values: Mapping[str, str], etag: str) -> bool:
        """`values` merged into the row if unchanged since read (`etag`), or found holding them
        already: this writer's own write, whose answer was lost (a retry's 412)."""
        if self._write(keys, values, etag, merge=True) is not None:
            return True
        found = self._read(*keys)
        return found is not None and all(found.get(k) == v for k, v in values.items())

    def claim_scoring(self, key: ScoringKey, *, now: datetime) -> ScoringClaimOutcome:
        """Claim the scoring start `key` stands for, or say what its claim stands for. Inserted
        once (one of concurrent holders inserts it); taken over by an ETag-conditional replace (one
        of racing takeovers wins), keeping the request ID that finds a start that went through."""
        fresh = {**key.columns, "Fingerprint": key.fingerprint, "RequestId": key.request_id}
        fresh |= {"Holder": key.holder, "State": ClaimState.CLAIMED}
        fresh |= {"ClaimedAt": now.isoformat(), "LeasedAt": now.isoformat()}
        for _ in range(_TAKEOVER_ATTEMPTS):
            if (etag := self._write(key.keys, fresh, None)) is not None:
                return Owned(key, key.request_id, etag)
            if (found := self._read(*key.keys)) is None:
                continue  # released in between: insert again
            decision = _scoring_decision(key, found, now)
            if decision is not None and not isinstance(decision, dict):
                return decision
            takeover = fresh if decision is None else {**dict(found), **decision}
            if (etag := self._write(key.keys, takeover, str(found.metadata["etag"]))) is None:
                continue  # another holder changed it first: look again
            return Owned(key, str(takeover["RequestId"]), etag, attempted=takeover is not fresh)
        return Busy()

    def scored(self, key: ScoringKey) -> str | None:
        found = self._read(*key.keys)
        decision = _scoring_decision(key, found, datetime.now(UTC)) if found is not None else None
        return decision.job_name if isinstance(decision, Replay) else None

    def settle_scoring(self, claim: Owned, job_name: str, workspace_id: str, endpoint: str) -> bool:
        """The claim's job was started: the key now stands for it. False: a twin settles it."""
        values = {"State": ClaimState.SUBMITTED, "JobName": job_name}
        return self._settle(claim, values | {"WorkspaceId": workspace_id, "EndpointId": endpoint})

    def release_scoring(self, claim: Owned) -> None:
        """The start failed: the next holder may try again at once, with the same request ID."""
        self._settle(claim, {"State": ClaimState.RETRY})

    def _settle(self, claim: Owned, values: Mapping[str, str]) -> bool:
        """`values` merged into the claim unchanged since taken. Found so already: this holder's
        own write, whose answer was lost (a retry's 412; `TakenAs` tells it from a twin's). False:
        a twin (Event Grid's same event: holder and request ID, so the same job) took it over and
        has not failed: it settles and records the start. Anything else raises."""
        if self._merged(claim.key.keys, {**values, "TakenAs": claim.etag}, claim.etag):
            return True
        seen = dict(self._read(*claim.key.keys) or {}).get  # read again: only after a race
        twin = (seen("Holder"), seen("RequestId")) == (claim.key.holder, claim.request_id)
        if twin and seen("State") != ClaimState.RETRY:
            return False
        from azure.core.exceptions import ResourceModifiedError

        raise ResourceModifiedError("the scoring claim changed since it was taken")

    def forget_scoring(self, claim: Owned) -> None:
        """The start was refused before anything was sent with the claim's request ID: delete
        the claim, so the key is free at once. A claim taken over from an earlier attempt is
        released instead: that attempt may have started a job, found again only by its ID."""
        if claim.attempted:
            self.release_scoring(claim)
            return
        self._delete(claim.key.keys, claim.etag)

    def _delete(self, keys: tuple[str, str], etag: str) -> None:
        """The row deleted if unchanged since read. Taken over or gone in between: the other
        holder owns what is there (a retry after a lost answer finds it gone)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
            self._table.delete_entity(
                *keys, etag=etag, match_condition=MatchConditions.IfNotModified
            )

    def take_remediation_slot(
        self, workspace_id: str, limit: int | None, now: datetime, hold: tuple[str, str] = ("", "")
    ) -> datetime | str | None:
        """Take one of the workspace's `limit` remediation slots of the past hour: None when taken,
        else the instant from which one frees. Of instances racing for the last slot, one replaces
        the window's row (ETag), the others read it again and find it full; one that keeps losing
        (it never has, in practice) gives up for this run, as if full. `hold`: a write (limit None:
        not a remediation, no slot) and the run taking it, held with the slot for CLAIM_LEASE:
        held by another run, that run's ID (no slot taken); by this one, its own row write whose
        answer was lost: taken."""
        keys, (remediation, holder), key = _keys(workspace_id, "remediations"), hold, _digest(hold)
        for _ in range(_SLOT_ATTEMPTS):
            found = self._read(*keys)
            # A row edited into another shape: the slot taken replaces it.
            times = _stored(found, "Times", lambda v: [_at(t) for t in v]) or []
            holds = _holds(found, now)
            if remediation and key in holds:
                return None if holds[key][0] == holder else str(holds[key][0])
            window, free = hourly_slot(times, now, limit) if limit else (tuple(times), None)
            if free is not None:
                return free
            if remediation:
                holds[key] = (holder, now)
            row = {"WorkspaceId": workspace_id, "Times": slot_times_value(window)}
            row["Holds"] = _holds_value(holds)
            if self._write(keys, row, None if found is None else str(found.metadata["etag"])):
                return None
        return now

    def release_hold(self, workspace_id: str, hold: tuple[str, str], now: datetime) -> None:
        """The held write was not made (it failed, or its guard stopped it): the next run takes it
        at once, not after the lease (its slot stays spent: the write was attempted)."""
        keys, key = _keys(workspace_id, "remediations"), _digest(hold)
        for _ in range(_SLOT_ATTEMPTS):
            found = self._read(*keys)
            holds = _holds(found, now)
            if found is None or holds.pop(key, ("",))[0] != hold[1]:
                return  # not this run's (any more)
            etag = str(found.metadata["etag"])
            if self._write(keys, {"Holds": _holds_value(holds)}, etag, merge=True):
                return

    # --- promotion: a row per retraining job (`promotion:<job>`): the decision, how far its steps
    # got. Created once (its creator promotes, another delivery reads it), moved on if unchanged.

    def promotion(self, workspace_id: str, retraining_job: str) -> PromotionClaim | None:
        found = self._read(*_keys(workspace_id, "promotion", retraining_job))
        return _promotion_claim(workspace_id, found) if found is not None else None

    def claim_promotion(
        self, workspace_id: str, retraining_job: str, *, now: datetime, **fields: str
    ) -> bool:
        """Create the promotion row (`state`, `version`, `deployment`, `previous`, `detail`,
        `trigger`); False when another delivery created it first."""
        keys = _keys(workspace_id, "promotion", retraining_job)
        values = {"RetrainingJob": retraining_job, "ClaimedAt": now.isoformat()}
        values |= {column(name): value for name, value in fields.items()}
        return self._write(keys, values, None) is not None

    def advance_promotion(
        self, claim: PromotionClaim, state: str, holder: str
    ) -> PromotionClaim | None:
        """The claim moved to `state` by `holder` if unchanged since read; None if another moved it
        first. Found moved by this holder: its own write, whose answer was lost (a retry's 412)."""
        keys = _keys(claim.workspace_id, "promotion", claim.retraining_job)
        etag = self._write(keys, {"State": state, "Holder": holder}, claim.etag, merge=True)
        if etag is not None:
            return replace(claim, state=state, etag=etag, holder=holder)
        found = self.promotion(claim.workspace_id, claim.retraining_job)
        return found if found and (found.state, found.holder) == (state, holder) else None

    def followed_up(self, workspace_id: str, retraining_job: str) -> bool:
        """Whether the app began what follows `retraining_job` (its promotion or scoring row),
        which it does only for the job of its claim: still its own once a newer retrain holds it."""
        kinds = ("promotion", "scoring")
        return any(self._read(*_keys(workspace_id, k, retraining_job)) is not None for k in kinds)

    def withdraw_promotion(self, claim: PromotionClaim) -> None:
        """Its claim made before anything was written with it: deleted, to be decided again."""
        self._delete(_keys(claim.workspace_id, "promotion", claim.retraining_job), claim.etag)

    def promotions(self, workspace_id: str) -> list[PromotionClaim]:
        rows = partition_rows(self._table, *_keys(workspace_id, "promotion:"), "promotion;")
        return [_promotion_claim(workspace_id, row) for row in rows]
