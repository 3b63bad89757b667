"""Retraining decisions, pure: whether a drift signal or the schedule submits a job, what the job
is called and tagged, and what the drift gate says. The reconciler reads and applies."""

from __future__ import annotations

import math
import sys
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from shared.bounds import CLOCK_SKEW, held
from shared.config import decimal_number
from shared.ml_events import APP_TAG, RETRAINING, SCORING, bounded

# How long an unconfirmed retraining (scoring) claim holds others back: a submission takes
# seconds, and an instance that died mid-way must not block for ever.
IN_FLIGHT_WINDOW = timedelta(minutes=15)
SCORING_IN_FLIGHT = timedelta(minutes=10)
# uuid5 namespace for names derived from claims (job names, repeatability IDs).
_NAMESPACE = uuid.UUID("5b0e8f1e-6c1f-4a8e-9a53-3c8f0f3e2a71")
FINISHED = frozenset({"Completed", "Failed", "Canceled"})


class Verdict(StrEnum):
    SUBMIT = "submit"  # claim and submit a new job
    RESUME = "resume"  # the same trigger again: make sure its job exists, submit nothing new
    COOLDOWN = "debounce-cooldown"  # the last submission is too recent
    ACTIVE = "debounce-active"  # a retraining job of this app is still running
    CONCURRENT = "debounce-concurrent"  # another delivery claimed the retraining first


class ClaimView(NamedTuple):
    job_name: str
    claim_key: str
    claimed_at: datetime
    counts: bool  # False when its submission failed for good: it debounces nothing
    # Claimed, its submission not yet confirmed (its run may have died before it was made).
    in_flight: bool = False


class JobView(NamedTuple):
    name: str
    status: str
    by_app: bool  # Azure records this app as its creator (`shared.ownership`)

    @property
    def active(self) -> bool:
        return self.status not in FINISHED


class Decision(NamedTuple):
    verdict: Verdict
    job_name: str
    reason: str


def job_name_for(workspace_id: str, claim_key: str) -> str:
    return "retrain-" + uuid.uuid5(_NAMESPACE, f"{workspace_id.lower()}|{claim_key}").hex[:20]


def scoring_request_id(workspace_id: str, retraining_job: str) -> str:
    """The repeatability ID of the scoring that follows a retraining job (stable on retries)."""
    return str(uuid.uuid5(_NAMESPACE, f"scoring|{workspace_id.lower()}|{retraining_job}"))


def decide_from_claim(
    claim: ClaimView | None, claim_key: str, now: datetime, cooldown: timedelta
) -> Decision | None:
    """The decision the claim alone settles, or None when the running jobs must be read."""
    if claim is None:
        return None
    job, age = claim.job_name, now - claim.claimed_at
    if claim.claim_key == claim_key:
        reason = f"{claim_key} already claimed job {job}: making sure it was submitted"
        return Decision(Verdict.RESUME, job, reason)
    if -age > max(cooldown, IN_FLIGHT_WINDOW) + CLOCK_SKEW:
        # Further ahead than any clock skew (a row edited by hand): it holds nothing back. One
        # less far ahead still debounces, or a second job could pass while the first is submitted.
        return None
    if claim.in_flight and age < IN_FLIGHT_WINDOW:
        # Even without a cooldown: the job may not be found yet, so it cannot look active.
        reason = f"retraining job {job} is being submitted (claimed by {claim.claim_key})"
        return Decision(Verdict.ACTIVE, job, reason)
    # A claim never confirmed: a cooldown only once its job is found (`ClaimView.in_flight`).
    if claim.counts and not claim.in_flight and age < cooldown:
        until = (claim.claimed_at + cooldown).isoformat(timespec="seconds")
        at = claim.claimed_at.isoformat(timespec="seconds")
        reason = f"last retraining job {job} was submitted at {at}; cooldown until {until}"
        return Decision(Verdict.COOLDOWN, job, reason)
    return None


def names_claimed_job(claim: ClaimView | None, name: str) -> bool:
    """Whether `name` is the job of the app's claim (case-insensitive, as Azure ML compares)."""
    return claim is not None and bool(claim.job_name) and name.lower() == claim.job_name.lower()


def claimed_job(claim: ClaimView | None, jobs: Sequence[JobView]) -> JobView | None:
    """The job among `jobs` the app submitted under its claim, or None. Anyone can tag a job, or
    name one as the claim does first: only the name and Azure's record of its creator prove it."""
    return next((j for j in jobs if j.by_app and names_claimed_job(claim, j.name)), None)


def decide_with_jobs(
    jobs: Sequence[JobView],
    claim: ClaimView | None,
    workspace_id: str,
    claim_key: str,
    now: datetime,
    timeout: timedelta,
) -> Decision:
    """No submission while the claimed job is active, unless stuck past `timeout` (the claim
    lapses). Other jobs, whatever their tags, hold nothing back."""
    job = claimed_job(claim, jobs)
    name = job_name_for(workspace_id, claim_key)
    if job is None or not job.active or claim is None:
        return Decision(Verdict.SUBMIT, name, "no active retraining job and no cooldown")
    if held(now - claim.claimed_at, timeout):
        reason = f"retraining job still active: {job.name} ({job.status})"
        return Decision(Verdict.ACTIVE, job.name, reason)
    why = f"retraining job {job.name} is still {job.status} past RETRAIN_JOB_TIMEOUT_HOURS"
    return Decision(Verdict.SUBMIT, name, f"{why} ({timeout}): its claim lapsed")


def retraining_tags(trigger: str, event_id: str, message: str) -> dict[str, str]:
    tags = {APP_TAG: RETRAINING, "trigger": bounded(trigger), "trigger-event-id": bounded(event_id)}
    if message:
        tags["drift-message"] = bounded(message)
    return tags


def scoring_tags(trigger: str, **context: str | None) -> dict[str, str]:
    """Every scoring job's tags: a listing, never proof of who started it (`scoring-jobs` rows)."""
    extra = {key: bounded(value) for key, value in context.items() if value}
    return {APP_TAG: SCORING, "trigger": trigger, **extra}


class GateStatus(StrEnum):
    SUCCESS = "success"
    PARTIAL = "partial"
    FAILED = "failed"


class GateReading(NamedTuple):
    status: GateStatus
    rows: Sequence[Sequence[Any]] = ()
    error: str = ""
    column_types: Sequence[str] = ()


class GateVerdict(NamedTuple):
    retrain: bool
    reason: str
    value: float | None = None


def evaluate_gate(reading: GateReading, threshold: float) -> GateVerdict:
    failed = {GateStatus.FAILED: "failed", GateStatus.PARTIAL: "returned a partial result"}
    if reading.status in failed:
        return GateVerdict(False, f"drift query {failed[reading.status]}: {bounded(reading.error)}")
    if not reading.rows or not reading.rows[0]:
        return GateVerdict(False, "drift query returned no rows")
    first = reading.rows[0][0]
    value = _number(first, reading.column_types[0] if reading.column_types else "")
    if value is None:
        shown = bounded(repr(first), 60)
        return GateVerdict(False, f"drift query's first value {shown} is not a number")
    shown = f"{value:g}" if isinstance(value, float) else bounded(str(value), 40)
    above = value >= threshold
    where = "at or above" if above else "below"
    return GateVerdict(above, f"drift {shown} is {where} the threshold {threshold:g}", float(value))


# Log Analytics answers these column types with numbers, except `decimal` (a JSON string, to keep
# its precision) and a `real` NaN or infinity (the strings "NaN", "Infinity").
_NUMERIC_COLUMNS = frozenset({"decimal", "real", "long", "int"})


def _number(value: object, column_type: str) -> int | float | None:
    if isinstance(value, str) and column_type.lower() in _NUMERIC_COLUMNS:
        value = decimal_number(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and abs(value) > int(sys.float_info.max):
        # Beyond any float: the reason's formatting and the recorded value must not overflow.
        return sys.float_info.max if value > 0 else -sys.float_info.max
    return value if math.isfinite(value) else None
