"""Retraining decisions, pure: whether a drift signal or the schedule submits a job, what the job
is called and tagged, what the drift gate says, and what a finished job leads to.

No Azure client here: the reconciler reads the claim and the jobs, asks these functions, and
applies the answer.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.ml_events import APP_TAG, RETRAINING, SCORING, bounded

# uuid5 namespace for names derived from claims (job names, repeatability IDs).
_NAMESPACE = uuid.UUID("5b0e8f1e-6c1f-4a8e-9a53-3c8f0f3e2a71")
FINISHED = frozenset({"Completed", "Failed", "Canceled"})


class Verdict(StrEnum):
    """What happens to a request to retrain."""

    SUBMIT = "submit"  # claim and submit a new job
    RESUME = "resume"  # the same trigger again: make sure its job exists, submit nothing new
    COOLDOWN = "debounce-cooldown"  # the last submission is too recent
    ACTIVE = "debounce-active"  # a retraining job of this app is still running


@dataclass(frozen=True)
class ClaimView:
    """What the decision needs to know of the workspace's latest claim."""

    job_name: str
    claim_key: str
    claimed_at: datetime
    counts: bool  # False when its submission failed for good: it debounces nothing


@dataclass(frozen=True)
class JobView:
    """A retraining job of this app, as read from Azure."""

    name: str
    status: str

    @property
    def active(self) -> bool:
        return self.status not in FINISHED


@dataclass(frozen=True)
class Decision:
    """The verdict, the job it concerns and why."""

    verdict: Verdict
    job_name: str
    reason: str


def job_name_for(workspace_id: str, claim_key: str) -> str:
    """The retraining job name fixed by a claim: the same trigger always names the same job."""
    digest = uuid.uuid5(_NAMESPACE, f"{workspace_id.lower()}|{claim_key}").hex[:20]
    return f"retrain-{digest}"


def scoring_request_id(workspace_id: str, retraining_job: str) -> str:
    """The repeatability ID of the scoring that follows a retraining job (stable on retries)."""
    return str(uuid.uuid5(_NAMESPACE, f"scoring|{workspace_id.lower()}|{retraining_job}"))


def decide_from_claim(
    claim: ClaimView | None, *, claim_key: str, now: datetime, cooldown: timedelta
) -> Decision | None:
    """The decision the claim alone settles (no Azure call), or None when the running jobs must
    be read first."""
    if claim is not None and claim.claim_key == claim_key:
        return Decision(
            Verdict.RESUME,
            claim.job_name,
            f"{claim_key} already claimed job {claim.job_name}: making sure it was submitted",
        )
    if claim is not None and claim.counts and now - claim.claimed_at < cooldown:
        until = claim.claimed_at + cooldown
        return Decision(
            Verdict.COOLDOWN,
            claim.job_name,
            f"last retraining job {claim.job_name} was submitted at "
            f"{claim.claimed_at.isoformat(timespec='seconds')}; cooldown until "
            f"{until.isoformat(timespec='seconds')}",
        )
    return None


def decide_with_jobs(jobs: Sequence[JobView], *, workspace_id: str, claim_key: str) -> Decision:
    """After the claim: no submission while a retraining job of this app is active."""
    active = [job for job in jobs if job.active]
    if active:
        names = ", ".join(f"{job.name} ({job.status})" for job in active[:3])
        return Decision(Verdict.ACTIVE, active[0].name, f"retraining job still active: {names}")
    name = job_name_for(workspace_id, claim_key)
    return Decision(Verdict.SUBMIT, name, "no active retraining job and no cooldown")


def retraining_tags(*, trigger: str, event_id: str, message: str) -> dict[str, str]:
    """Tags of a retraining job: that this app submitted it, and what started it."""
    tags = {APP_TAG: RETRAINING, "trigger": bounded(trigger), "trigger-event-id": bounded(event_id)}
    if message:
        tags["drift-message"] = bounded(message)
    return tags


def scoring_tags(*, retraining_job: str) -> dict[str, str]:
    """Tags of the scoring job that follows a retraining job."""
    return {APP_TAG: SCORING, "retraining-job": retraining_job, "trigger": "retraining-completed"}


# --------------------------------------------------------------------------- drift gate


class GateStatus(StrEnum):
    """How the drift query went, as azure-monitor-query reports it."""

    SUCCESS = "success"
    PARTIAL = "partial"
    FAILED = "failed"


@dataclass(frozen=True)
class GateReading:
    """The drift query's outcome: the first table's rows, or why there are none."""

    status: GateStatus
    rows: Sequence[Sequence[Any]] = ()
    error: str = ""


@dataclass(frozen=True)
class GateVerdict:
    """Whether the gate opens, the value it read and why."""

    retrain: bool
    reason: str
    value: float | None = None


def evaluate_gate(reading: GateReading, threshold: float) -> GateVerdict:
    """Retrain when the first column of the first row is a number at least `threshold`.

    A partial result, an empty table, a value that is not a number, or a failed query retrain
    nothing: an uncertain gate stays shut, and the reason is recorded.
    """
    if reading.status is GateStatus.FAILED:
        return GateVerdict(False, f"drift query failed: {bounded(reading.error)}")
    if reading.status is GateStatus.PARTIAL:
        return GateVerdict(
            False, f"drift query returned a partial result: {bounded(reading.error)}"
        )
    if not reading.rows or not reading.rows[0]:
        return GateVerdict(False, "drift query returned no rows")
    value = reading.rows[0][0]
    # bool is an int in Python, but not a drift score.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return GateVerdict(
            False, f"drift query's first value {bounded(repr(value), 60)} is not a number"
        )
    if value >= threshold:
        return GateVerdict(
            True, f"drift {value:g} is at or above the threshold {threshold:g}", value
        )
    return GateVerdict(False, f"drift {value:g} is below the threshold {threshold:g}", value)


def string_tags(value: object) -> dict[str, str]:
    """Tags as a plain mapping of strings."""
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}
