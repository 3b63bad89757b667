"""The remediation budget of one run (`MAX_REMEDIATIONS_PER_RUN`, shared by every workspace it
reconciles) and the rate per workspace over time (`MAX_REMEDIATIONS_PER_HOUR`: a run's limit alone
lets every event be a new budget). The hour's window is kept in the ledger; here, the arithmetic."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

# After this many failed remediations in a run, the run applies no more: something is wrong
# (permissions, a policy denying the write, a service problem) and more writes would not help.
FAILURE_LIMIT = 3


class Stop(StrEnum):
    LIMIT_REACHED = "limit reached"
    TOO_MANY_FAILURES = "too many failures"
    # Defers one workspace's remediations, not the rest of the run.
    HOURLY_LIMIT = "hourly limit reached"


class RemediationBudget:
    """A slot is spent by every attempted write and every write a dry run plans, so that a dry
    run defers exactly what the real run would."""

    def __init__(self, limit: int, *, per_hour: int | None = None) -> None:
        if limit < 0:
            raise ValueError("the limit must be >= 0")
        self.limit, self.per_hour = limit, per_hour
        self.attempted = self.failed = 0
        self._announced: set[Stop] = set()
        self._hours: dict[str, tuple[datetime, ...]] = {}

    def stop(self) -> Stop | None:
        if self.failed >= FAILURE_LIMIT:
            return Stop.TOO_MANY_FAILURES
        if self.attempted >= self.limit:
            return Stop.LIMIT_REACHED
        return None

    def explain(self, stop: Stop) -> str:
        if stop is Stop.TOO_MANY_FAILURES:
            why = f"{self.failed} remediations failed in this run, which applies no more"
        else:
            why = f"MAX_REMEDIATIONS_PER_RUN={self.limit} remediations were attempted in this run"
        return f"{stop}: {why}; deferred to a later run"

    def spend(self, *, failed: bool) -> None:
        self.attempted += 1
        self.failed += failed

    def hour_slot(self, workspace_id: str, limit: int, now: datetime) -> datetime | None:
        """`hourly_slot` over this run's own remediations (no ledger: `plan`)."""
        window, free_at = hourly_slot(self._hours.get(workspace_id.lower(), ()), now, limit)
        self._hours[workspace_id.lower()] = window
        return free_at

    def first_announcement(self, stop: Stop) -> bool:
        first = stop not in self._announced
        self._announced.add(stop)
        return first


HOUR = timedelta(hours=1)


def hourly_slot(
    times: Iterable[datetime], now: datetime, limit: int
) -> tuple[tuple[datetime, ...], datetime | None]:
    """The window with `now` added and None when one more may be attempted, else the window and
    the instant one frees. Sliding, so no hour holds more than `limit`; a time over an hour ahead
    cannot be one the app wrote."""
    window = tuple(sorted(t for t in times if now - HOUR < t <= now + HOUR))
    if len(window) < limit:
        return (*window, now), None
    return window, window[len(window) - limit] + HOUR


def explain_hourly(limit: int, free_at: datetime) -> str:
    return (
        f"{Stop.HOURLY_LIMIT}: MAX_REMEDIATIONS_PER_HOUR={limit} remediations of this workspace "
        f"in the past hour; deferred to a run from {free_at.isoformat(timespec='seconds')}"
    )
