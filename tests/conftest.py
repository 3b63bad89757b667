"""Shared fixtures: one Azurite and one Azure simulator per test session, a fresh scene per test.

The app is configured only through the settings a real user has (endpoints, identity endpoint,
CA bundle), and the real SDK clients talk HTTPS to the simulator. `at_once` is the race tests'
one way to start instances together.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from azure.data.tables import TableClient, TableServiceClient
from azure.identity import ManagedIdentityCredential
from hypothesis import settings

from shared.config import get_settings
from simulator import AzureSimulator, Azurite
from tools import host, scene
from tools.local_azure import LocalAzure, local_azure
from tools.scene import Connection, Scene

T = TypeVar("T")

# Hypothesis fails an example slower than 200 ms, and again as flaky when its replay is fast: a
# garbage collection of the suite's heap or a loaded machine, not the app. Off for every property
# test, as most already said one by one.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


def at_once(calls: Sequence[Callable[[], T]], timeout: float = 120) -> list[T | BaseException]:
    """What each call returned or raised, in order: the calls run in threads a barrier releases
    together, as racing instances would. A call still running after `timeout` seconds fails the
    test (its thread is a daemon, so a hung call cannot hang the session)."""
    barrier = threading.Barrier(len(calls))
    outcomes: dict[int, T | BaseException] = {}

    def instance(index: int) -> None:
        try:
            barrier.wait()
            outcomes[index] = calls[index]()
        except BaseException as error:
            outcomes[index] = error

    threads = [
        threading.Thread(target=instance, args=(index,), daemon=True) for index in range(len(calls))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    running = [index for index, thread in enumerate(threads) if thread.is_alive()]
    assert running == [], f"calls {running} still running after {timeout} s"
    return [outcomes[index] for index in range(len(calls))]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port of 127.0.0.1 that refuses connections for the whole test: bound and never
    listening (a port found free and let go could be taken meanwhile, by an Azurite or a
    simulator of another run on the machine, and answer)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


@pytest.fixture(scope="session")
def local() -> Iterator[LocalAzure]:
    """The local Azure of the session: the harness of the bench, the demo and the sandbox."""
    with local_azure() as running:
        yield running


@pytest.fixture(scope="session")
def azurite(local: LocalAzure) -> Azurite:
    return local.azurite


@pytest.fixture
def table(azurite: Azurite) -> Iterator[TableClient]:
    """A fresh table in Azurite, deleted after the test."""
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    client = service.create_table(f"t{uuid.uuid4().hex[:20]}")
    yield client
    client.delete_table()


@pytest.fixture(scope="session")
def simulator(local: LocalAzure) -> AzureSimulator:
    return local.sim


@pytest.fixture(scope="module")
def sim() -> Iterator[AzureSimulator]:
    """A simulator of the test module's own, for the simulator's tests (state they seed stays
    for the module). Starting one (a new CA) is the slow part."""
    with AzureSimulator() as running:
        yield running


@pytest.fixture
def clean_sim(sim: AzureSimulator) -> Iterator[None]:
    """Counters and faults cleared around each test; seeded state kept."""
    sim.reset_counts()
    sim.clear_faults()
    yield
    sim.clear_faults()
    sim.page_size = 50


@pytest.fixture
def env(sim: AzureSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator's settings in the environment (identity endpoint, CA bundle)."""
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def credential(env: None) -> ManagedIdentityCredential:
    """azure-identity's managed identity credential, on the App Service path, as in Azure."""
    return ManagedIdentityCredential()


@dataclass
class App:
    """The app under test, wired to the simulator and Azurite through its settings."""

    sim: AzureSimulator
    scene: Scene
    set_settings: Callable[..., None]

    def deliver(self, payload: dict[str, Any], function: str = "on_private_endpoint_event") -> None:
        host.deliver_event(function, payload)

    def status(self, connection: Connection) -> str:
        return self.sim.ml.connection_status(connection.workspace_id, connection.name)

    def connection(self, why_startswith: str) -> Connection:
        return next(c for c in self.scene.connections if c.why.startswith(why_startswith))

    @property
    def ledger(self) -> Any:
        from shared.runtime import runtime

        return runtime().ledger

    def non_token_requests(self) -> list[Any]:
        return [r for r in self.sim.requests if r.route != "token"]


@pytest.fixture
def app(local: LocalAzure, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """The scene seeded in a clean simulator, settings in the environment, a fresh ledger table."""
    simulator = local.sim
    simulator.reset()
    seeded = scene.seed(simulator)
    # A table per test keeps ledger assertions about this test only.
    base = local.settings(table_prefix="t")

    def set_settings(**overrides: str) -> None:
        for name, value in {**base, **overrides}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    set_settings()
    simulator.reset_counts()
    yield App(simulator, seeded, set_settings)
    get_settings.cache_clear()


@pytest.fixture
def scoring(app: App) -> App:
    """The app with the scoring scene: batch endpoints, allowed callers, and what the platform
    sets in Azure (App Service authentication on, the app's host name)."""
    from tools import scoring_scene

    scoring_scene.seed(app.sim)
    app.set_settings(**scoring_scene.settings_env())
    app.sim.reset_counts()
    return app


@pytest.fixture
def rapp(app: App) -> App:
    """The app with the retraining scene: a component, a batch endpoint, retraining settings."""
    from tools import retraining_scene as rs

    rs.seed_retraining(app.sim)
    app.set_settings(**rs.retraining_settings())
    app.sim.reset_counts()
    return app


@pytest.fixture
def gated(app: App) -> App:
    """The retraining app whose timer retrains only past the drift gate (Log Analytics, 0.3)."""
    from tests.retraining import DRIFT_QUERY
    from tools import retraining_scene as rs

    rs.seed_retraining(app.sim)
    app.set_settings(
        **rs.retraining_settings(
            DRIFT_LOG_ANALYTICS_WORKSPACE_ID=rs.DRIFT_WORKSPACE,
            DRIFT_QUERY=DRIFT_QUERY,
            DRIFT_THRESHOLD="0.3",
        )
    )
    app.sim.reset_counts()
    return app
