"""The process's ARM read budget: a token bucket shared by every trigger, spent by a policy on
every ARM client, smaller than ARM's per-principal one (250, refilled at 25/s): the app waits
rather than be refused. Events first: the sweep's reads (`yielding_reads`) leave them a reserve.
ARM's count of reads left (other instances and tools as the same principal spend it) caps it."""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import functools
import math
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy

REMAINING_READS_HEADER = "x-ms-ratelimit-remaining-subscription-reads"
# The share of the bucket that only event reads may spend.
EVENT_RESERVE_SHARE = 0.25

_yielding: contextvars.ContextVar[bool] = contextvars.ContextVar("arm_reads_yield", default=False)


def header_number(headers: Mapping[str, str], name: str, *, dates: bool = False) -> float | None:
    """A header's number (NaN too), else None; `dates`: an HTTP date as the seconds until it."""
    if (value := headers.get(name)) is None:
        return None
    with contextlib.suppress(ValueError):
        return float(value)
    if not dates:
        return None
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return (when.replace(tzinfo=when.tzinfo or UTC) - datetime.now(UTC)).total_seconds()
    return None


@contextlib.contextmanager
def yielding_reads() -> Iterator[None]:
    """Within it (or a function it decorates), this thread's ARM reads yield to events'."""
    token = _yielding.set(True)
    try:
        yield
    finally:
        _yielding.reset(token)


class ReadBudget:
    """A token bucket of `burst` reads refilled at `per_second`, `reserve` of them for events:
    pure arithmetic over the times it is given (thread-safe); `ReadBudgetPolicy` waits."""

    def __init__(self, burst: int, per_second: float) -> None:
        self.burst, self.per_second = burst, per_second
        self.reserve = int(burst * EVENT_RESERVE_SHARE)
        self._tokens = float(burst)
        self._at: float | None = None
        self._lock = threading.Lock()
        # Waits told (and so slept by the policy), by whether the reads yielded (the sweep's).
        self.waited = {True: 0.0, False: 0.0}

    def _refill(self, now: float) -> None:
        if self._at is not None and now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_second)
        self._at = now if self._at is None else max(self._at, now)

    def available(self, now: float) -> float:
        with self._lock:
            self._refill(now)
            return self._tokens

    def take(self, now: float, *, yielding: bool) -> float:
        """Spend one read at `now` and return 0, or return how long to wait before asking
        again (nothing spent). A yielding read leaves the reserve untouched."""
        floor = self.reserve + 1 if yielding else 1
        with self._lock:
            self._refill(now)
            # The slack: a wait computed here, then added back by the refill, may round short.
            if self._tokens >= floor - 1e-9:
                self._tokens -= 1
                return 0.0
            wait = (floor - self._tokens) / self.per_second
            self.waited[yielding] += wait
            return wait

    def observe(self, now: float, remaining: float) -> None:
        with self._lock:
            self._refill(now)
            self._tokens = min(self._tokens, max(remaining, 0.0))


class ReadBudgetPolicy(SansIOHTTPPolicy[Any, Any]):
    """Waits for the budget before every ARM read attempt (per retry: each is a read to ARM),
    and takes ARM's count of reads left from every answer. Writes pass: ARM meters them apart."""

    def __init__(self, budget: ReadBudget) -> None:
        self.budget = budget

    def on_request(self, request: PipelineRequest[Any]) -> None:
        if request.http_request.method in ("GET", "HEAD"):
            yielding = _yielding.get()
            while (wait := self.budget.take(time.monotonic(), yielding=yielding)) > 0:
                time.sleep(wait)

    def on_response(
        self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]
    ) -> None:
        remaining = header_number(response.http_response.headers, REMAINING_READS_HEADER)
        # NaN would empty the bucket for good.
        if remaining is not None and not math.isnan(remaining):
            self.budget.observe(time.monotonic(), remaining)


# The process's budget: one per value of the settings (`read_budget(burst, per_second)`).
read_budget = functools.cache(ReadBudget)
