"""The remediation budget of one run (`MAX_REMEDIATIONS_PER_RUN`), like Azure Policy's resource
count and failure threshold per remediation task; and the rate per workspace over time
(`MAX_REMEDIATIONS_PER_HOUR`).

A run is one event, one sweep or one CLI run: whoever starts it creates one budget and hands it
to every workspace it reconciles, so the limit holds across the whole run, and a new run starts
afresh (the budget is never kept by the process). A run's limit alone lets every event be a new
budget (five compute writes by a user, five runs): the hourly rate bounds what any number of runs
do to one workspace. Its window is kept in the ledger (`shared/claims.py`); here, only the
arithmetic. No Azure here: counters with reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

# After this many failed remediations in a run, the run applies no more: something is wrong
# (permissions, a policy denying the write, a service problem) and more writes would not help.
FAILURE_LIMIT = 3


class Stop(StrEnum):
    """Why a run defers the rest of its remediations."""

    LIMIT_REACHED = "limit reached"
    TOO_MANY_FAILURES = "too many failures"
    # Defers one workspace's remediations, not the rest of the run.
    HOURLY_LIMIT = "hourly limit reached"


class RemediationBudget:
    """How many remediations this run may still attempt, and how many failed.

    A slot is spent by every attempted write, applied or failed, and by every write a dry run
    plans, so that a dry run defers exactly what the real run would.
    """

    def __init__(
        self, limit: int, failure_limit: int = FAILURE_LIMIT, *, per_hour: int | None = None
    ) -> None:
        """`per_hour`: `MAX_REMEDIATIONS_PER_HOUR` (None: no rate); the run counts each
        workspace's hour in the ledger, or, without one (`plan`), in `hour_slot`'s windows."""
        if limit < 0 or failure_limit < 1:
            raise ValueError("the limit must be >= 0 and the failure limit >= 1")
        self.limit = limit
        self.failure_limit = failure_limit
        self.per_hour = per_hour
        self.attempted = 0
        self.failed = 0
        self._announced: set[Stop] = set()
        self._hours: dict[str, tuple[datetime, ...]] = {}

    def stop(self) -> Stop | None:
        """Why no further remediation may be attempted in this run, or None when one may."""
        if self.failed >= self.failure_limit:
            return Stop.TOO_MANY_FAILURES
        if self.attempted >= self.limit:
            return Stop.LIMIT_REACHED
        return None

    def explain(self, stop: Stop) -> str:
        """The deferral reason for people, with the setting to change."""
        if stop is Stop.TOO_MANY_FAILURES:
            return (
                f"{Stop.TOO_MANY_FAILURES}: {self.failed} remediations failed in this run, "
                "which applies no more; deferred to a later run"
            )
        return (
            f"{Stop.LIMIT_REACHED}: MAX_REMEDIATIONS_PER_RUN={self.limit} remediations were "
            "attempted in this run; deferred to a later run"
        )

    def spend(self, *, failed: bool) -> None:
        """Count one attempted (or, in a dry run, planned) remediation."""
        self.attempted += 1
        if failed:
            self.failed += 1

    def hour_slot(self, workspace_id: str, limit: int, now: datetime) -> datetime | None:
        """Take one of the workspace's slots of the hour counting this run's remediations only
        (no ledger): None when taken, else the instant from which one frees."""
        window, free_at = hourly_slot(self._hours.get(workspace_id.lower(), ()), now, limit)
        self._hours[workspace_id.lower()] = window
        return free_at

    def first_announcement(self, stop: Stop) -> bool:
        """True the first time this run defers for `stop`: it is announced once per run."""
        if stop in self._announced:
            return False
        self._announced.add(stop)
        return True


HOUR = timedelta(hours=1)


def hourly_slot(
    times: Iterable[datetime], now: datetime, limit: int
) -> tuple[tuple[datetime, ...], datetime | None]:
    """One workspace's remediations of the past hour (`times`, in any order), judged at `now`.

    Returns the window with `now` added and None when one more may be attempted; otherwise the
    window unchanged and the instant from which one may be attempted again. A sliding window,
    not a clock hour: no hour ever holds more than `limit`. A time more than an hour ahead of
    `now` cannot be one the app wrote (instances' clocks differ by seconds): it holds nothing.
    """
    window = tuple(sorted(t for t in times if now - HOUR < t <= now + HOUR))
    if len(window) < limit:
        return (*window, now), None
    return window, window[len(window) - limit] + HOUR


def explain_hourly(limit: int, free_at: datetime) -> str:
    """The deferral reason for people, with the setting to change."""
    return (
        f"{Stop.HOURLY_LIMIT}: MAX_REMEDIATIONS_PER_HOUR={limit} remediations of this workspace "
        f"in the past hour; deferred to a run from {free_at.isoformat(timespec='seconds')}"
    )
