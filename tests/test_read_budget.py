"""The ARM read budget: the bucket's arithmetic, events before the sweep, ARM's count
of reads left honoured, and ARM's own throttling (the simulator's bucket) absorbed by the
app's retries without surfacing."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.adapters.read_budget import ReadBudget, read_budget, yielding_reads
from shared.config import SettingsError, load_settings
from shared.runtime import runtime
from tests.conftest import App
from tools import host, scene

steps = st.lists(
    st.tuples(st.floats(min_value=0, max_value=2, allow_nan=False), st.booleans()),
    max_size=300,
)
budgets = st.tuples(st.integers(min_value=1, max_value=300), st.integers(min_value=1, max_value=50))


@settings(max_examples=300)
@given(budgets, steps)
def test_reads_never_outrun_the_burst_plus_the_refill(
    budget: tuple[int, int], sequence: list[tuple[float, bool]]
) -> None:
    burst, per_second = budget
    bucket = ReadBudget(burst, per_second)
    now = start = 1000.0
    granted = 0
    for gap, yielding in sequence:
        now += gap
        granted += bucket.take(now, yielding=yielding) == 0
        assert granted <= burst + (now - start) * per_second + 1e-6


@settings(max_examples=300)
@given(budgets, steps)
def test_the_sweep_never_spends_the_reserve_and_an_event_read_never_waits_for_it(
    budget: tuple[int, int], sequence: list[tuple[float, bool]]
) -> None:
    burst, per_second = budget
    bucket = ReadBudget(burst, per_second)
    now = 1000.0
    for gap, _ in sequence:
        now += gap
        bucket.take(now, yielding=True)
        assert bucket.available(now) >= bucket.reserve - 1e-6
    if bucket.reserve >= 1:
        assert bucket.take(now, yielding=False) == 0


@settings(max_examples=300)
@given(budgets, steps, st.booleans())
def test_a_read_waits_exactly_what_it_is_told_and_never_longer_than_its_floor(
    budget: tuple[int, int], sequence: list[tuple[float, bool]], yielding: bool
) -> None:
    burst, per_second = budget
    bucket = ReadBudget(burst, per_second)
    now = 1000.0
    for gap, other in sequence:
        now += gap
        bucket.take(now, yielding=other)
    wait = bucket.take(now, yielding=yielding)
    floor = bucket.reserve + 1 if yielding else 1
    assert wait <= floor / per_second + 1e-9
    if wait:
        assert bucket.take(now + wait, yielding=yielding) == 0


@settings(max_examples=200)
@given(budgets, st.floats(min_value=-5, max_value=500, allow_nan=False), st.floats(0, 5))
def test_arms_count_of_reads_left_caps_the_bucket(
    budget: tuple[int, int], remaining: float, later: float
) -> None:
    burst, per_second = budget
    bucket = ReadBudget(burst, per_second)
    bucket.observe(1000.0, remaining)
    assert bucket.available(1000.0) <= max(remaining, 0)
    assert bucket.available(1000.0 + later) <= max(remaining, 0) + later * per_second + 1e-6


@pytest.mark.parametrize("name", ["ARM_READS_BURST", "ARM_READS_PER_SECOND"])
@pytest.mark.parametrize("value", ["0", "-1", "2.5", "many"])
def test_a_budget_setting_is_a_whole_number_of_at_least_one(name: str, value: str) -> None:
    environ = {
        "ML_WORKSPACE_IDS": scene.PROD,
        "SYNAPSE_WORKSPACE_IDS": scene.ANALYTICS,
        "LEDGER_CONNECTION_STRING": "UseDevelopmentStorage=true",
    }
    defaults = load_settings(environ)
    assert (defaults.arm_reads_burst, defaults.arm_reads_per_second) == (200, 20)
    with pytest.raises(SettingsError, match=name):
        load_settings({**environ, name: value})


def test_the_budget_is_no_rule_changing_it_leaves_every_workspace_unchanged() -> None:
    from shared.reconcilers.sweep import settings_digest

    environ = {
        "ML_WORKSPACE_IDS": scene.PROD,
        "SYNAPSE_WORKSPACE_IDS": scene.ANALYTICS,
        "LEDGER_CONNECTION_STRING": "UseDevelopmentStorage=true",
    }
    paced = {**environ, "ARM_READS_BURST": "10", "ARM_READS_PER_SECOND": "1"}
    assert settings_digest(load_settings(environ)) == settings_digest(load_settings(paced))
    assert settings_digest(load_settings(environ)) != settings_digest(
        load_settings({**environ, "MAX_CLUSTER_NODES": "3"})
    )


# --- through the app's clients and the simulator ---------------------------------------------


def _prod_event(app: App) -> dict[str, Any]:
    verified = app.connection("listed by allow-listed")
    return scene.resource_write_event(
        f"{verified.workspace_id}/privateEndpointConnections/{verified.name}",
        scene.CONNECTION_WRITE,
    )


class _Clock:
    """The read budget's clock (its module's `time`): it stands still but for the waits the
    budget tells, slept for real, so what the bucket holds never depends on how fast the machine
    ran the reads between. The thread `held` is held at its first wait, the clock still, until
    `released`: a sweep that outlasts the event however slowly the event runs."""

    def __init__(self) -> None:
        self.now = time.monotonic()
        self.held: threading.Thread | None = None
        self.holding, self.released = threading.Event(), threading.Event()
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        if threading.current_thread() is self.held and not self.released.is_set():
            self.holding.set()
            self.released.wait()
        time.sleep(seconds)
        with self._lock:
            # However short the wait asked, the sleep takes a moment (a wait below the
            # clock's float resolution would leave it still, and the bucket empty, for ever).
            self.now += max(seconds, 1e-6)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    stopped = _Clock()
    monkeypatch.setattr("shared.adapters.read_budget.time", stopped)
    return stopped


def _budget(app: App, burst: int, per_second: int, clock: _Clock | None = None) -> ReadBudget:
    """The process's budget for these settings, full (one per settings value in the process:
    an earlier test's may have spent it), its waits counted from 0, its `clock` (if stopped)
    standing from now: after the bucket's last refill, so that the refill fills it."""
    app.set_settings(ARM_READS_BURST=str(burst), ARM_READS_PER_SECOND=str(per_second))
    budget = runtime().clients._budget
    assert budget is read_budget(burst, per_second)
    time.sleep((burst - budget.available(time.monotonic())) / per_second)
    budget.waited.update({True: 0.0, False: 0.0})
    if clock is not None:
        clock.now = time.monotonic()
    return budget


@pytest.mark.slow
def test_an_event_during_a_sweep_reads_without_waiting_while_the_sweep_yields(
    app: App, clock: _Clock
) -> None:
    budget = _budget(app, burst=16, per_second=1, clock=clock)
    sweeping = threading.Thread(target=host.fire_timer, args=("reconcile_all",), daemon=True)
    clock.held = sweeping
    sweeping.start()
    # The sweep has spent all but the reserve, and waits (held there until the event is done).
    clock.holding.wait(timeout=60)
    assert budget.waited[True] > 0, "the sweep never had to wait: the test proves nothing"
    event_reads_before = app.sim.count(method="GET")

    app.deliver(_prod_event(app))

    assert app.status(app.connection("listed by allow-listed")) == "Approved"
    assert budget.waited[False] == 0
    assert app.sim.count(method="GET") - event_reads_before >= 3
    assert sweeping.is_alive(), "the sweep finished first: the event never competed with it"
    budget.per_second = 10_000  # let the sweep finish
    clock.released.set()
    sweeping.join(timeout=60)
    budget.per_second = 1
    assert not sweeping.is_alive(), "the sweep never finished"


@pytest.mark.slow
def test_a_yielding_read_stops_at_the_reserve_that_event_reads_spend(
    app: App, clock: _Clock
) -> None:
    budget = _budget(app, burst=8, per_second=4, clock=clock)
    reads = runtime().clients.arm_pipeline()
    from azure.core.rest import HttpRequest

    def read() -> None:
        reads.send_request(HttpRequest("GET", f"{app.sim.url}{scene.PROD}?api-version=2023-04-01"))

    with yielding_reads():
        for _ in range(budget.burst - budget.reserve):
            read()
    assert budget.waited[True] == 0
    with yielding_reads():
        read()
    assert budget.waited[True] > 0
    for _ in range(budget.reserve - 1):
        read()
    assert budget.waited[False] == 0


@pytest.mark.slow
def test_arms_count_of_reads_left_slows_the_next_read(app: App, clock: _Clock) -> None:
    budget = _budget(app, burst=200, per_second=2, clock=clock)
    from azure.core.rest import HttpRequest

    reads = runtime().clients.arm_pipeline()
    url = f"{app.sim.url}{scene.PROD}?api-version=2023-04-01"
    app.sim.inject_reply(
        "aml.workspace.get",
        body={"id": scene.PROD},
        headers={"x-ms-ratelimit-remaining-subscription-reads": "0"},
    )
    reads.send_request(HttpRequest("GET", url))
    assert budget.waited[False] == 0

    started = time.monotonic()
    reads.send_request(HttpRequest("GET", url))

    assert time.monotonic() - started >= 0.3
    assert 0.3 <= budget.waited[False] <= 0.5


@pytest.mark.slow
def test_arms_throttling_is_absorbed_by_the_retries_and_never_surfaces(app: App) -> None:
    _budget(app, burst=200, per_second=200)  # faster than the simulator's ARM allows
    # Other clients of the subscription have spent ARM's bucket, so the event's first read is
    # answered 429 however fast or slow the machine (a full bucket throttled only when the
    # event's reads came closer together than the refill; a bucket emptied before the event
    # refilled in time when its first read came later than half a second).
    app.sim.throttle_arm_reads(burst=3, per_second=2, spent=True)
    event = _prod_event(app)
    try:
        app.deliver(event)
    finally:
        app.sim.read_throttle = None

    throttled = [r for r in app.sim.requests if r.status == 429]
    assert throttled, "the simulator never throttled: the test proves nothing"
    assert {r.route for r in throttled} <= {r.route for r in app.sim.requests if r.status == 200}
    assert app.status(app.connection("listed by allow-listed")) == "Approved"
    assert (app.ledger.event(event["id"]) or {}).get("Outcome") == "reconciled"
