"""The local HTTPS stand-in for the Azure endpoints the app talks to: :class:`AzureSimulator`.

The real Azure SDK clients (azure-identity, azure-mgmt-*, azure-core, azure-ai-ml,
azure-monitor-query, azure-eventgrid) run unchanged against it: they only see other base URLs, a
managed identity endpoint and a CA bundle, all given by :meth:`AzureSimulator.env`.

:class:`AzureSimulator` is the one HTTPS server (:mod:`simulator.server`: TLS, routing,
recording, fault injection, authentication) with one service object per Azure provider mounted
on it, each an attribute that tests seed and inspect directly:

* ``sim.identity`` (:mod:`simulator.identity`): the App Service managed identity token endpoint;
* ``sim.arm`` (:mod:`simulator.arm`): the case-insensitive resource store every ARM service keeps
  its resources in (``put``, ``get``, ``delete``), and its catch-all GET;
* ``sim.ml`` (:mod:`simulator.ml`): Microsoft.MachineLearningServices, workspaces, computes and
  private endpoint connections on ARM, jobs, components, batch endpoints and scoring URIs;
* ``sim.synapse`` (:mod:`simulator.synapse`): Synapse workspaces and the data plane's managed
  private endpoints (``/synapse-dev/{workspace}/...``);
* ``sim.authorization`` (:mod:`simulator.authorization`): role assignments and the directory;
* ``sim.network`` (:mod:`simulator.network`): private endpoints and the connections of a
  workspace's dependencies (storage accounts, key vaults, container registries);
* ``sim.eventgrid`` (:mod:`simulator.eventgrid`): a custom topic that keeps what is published;
* ``sim.logs`` (:mod:`simulator.logs`): the Log Analytics query API.

Every request is recorded (``sim.requests``) and faults can be injected per route
(``sim.inject``), so tests can assert on what crossed the HTTP boundary.
"""

from __future__ import annotations

from . import shapes
from .arm import ResourceStore
from .authorization import Authorization
from .eventgrid import CustomTopic
from .identity import ManagedIdentity
from .logs import LogAnalytics
from .management import ManagementGroups
from .ml import MachineLearning
from .network import Network
from .server import ML_AUDIENCE, SYNAPSE_AUDIENCE, SimulatorServer
from .synapse import Synapse


class AzureSimulator(SimulatorServer):
    """Local HTTPS simulator of ARM, the Synapse data plane, Azure ML, Log Analytics, Event Grid
    and managed identity.

    Use it as a context manager (or call :meth:`start` / :meth:`stop`), seed state through its
    services (``sim.ml.add_workspace(...)``) and point the SDKs at it with :meth:`env`.
    """

    def __init__(self, *, tenant_id: str = shapes.DEFAULT_TENANT_ID) -> None:
        """Prepare an unstarted simulator; ``tenant_id`` is used in seeded identities."""
        super().__init__(tenant_id=tenant_id)
        self.identity = ManagedIdentity(self)
        self.arm = ResourceStore(self.lock)
        self.ml = MachineLearning(self)
        self.synapse = Synapse(self)
        self.authorization = Authorization(self)
        self.network = Network(self)
        self.eventgrid = CustomTopic(self)
        self.logs = LogAnalytics(self)
        self.management = ManagementGroups(self)
        self.ml.on_connection_state(self.network.mirror_connection_state)
        self.ml.on_connection_state(self.synapse.mirror_connection_state)
        # The first match wins: an AML workspace's connections (ml) before any resource's
        # (network); the store's catch-all GET is kept last whatever the order.
        self.mount(
            self.identity,
            self.ml,
            self.synapse,
            self.authorization,
            self.network,
            self.eventgrid,
            self.logs,
            self.management,
            self.arm,
        )

    def token_audience(self, token: str) -> str | None:
        """The resource a token issued by this simulator was issued for, or None."""
        return self.identity.token_audience(token)

    def reset_counts(self) -> None:
        """Forget recorded requests and token requests (state and tokens stay)."""
        super().reset_counts()
        self.identity.reset()

    def env(self) -> dict[str, str]:
        """Environment variables that point the app and the SDKs at the simulator."""
        return {
            "ARM_ENDPOINT": self.url,
            "SYNAPSE_DEV_ENDPOINT": self.synapse.dev_endpoint_template,
            # The data plane is served under a path of 127.0.0.1, a host of no Azure cloud:
            # its token audience is stated, as for any custom host.
            "SYNAPSE_DEV_AUDIENCE": SYNAPSE_AUDIENCE,
            "IDENTITY_ENDPOINT": self.identity.endpoint,
            "IDENTITY_HEADER": self.identity.header,
            "REQUESTS_CA_BUNDLE": self.ca_bundle_path,
            "SSL_CERT_FILE": self.ca_bundle_path,
            # Batch scoring URIs are served by this simulator's own host.
            "AML_INFERENCE_DOMAIN": "127.0.0.1",
            # ...and ARM too: Azure ML's data-plane audience is stated, as for any custom host.
            "AML_AUDIENCE": ML_AUDIENCE,
            "LOGS_QUERY_ENDPOINT": self.logs.endpoint,
        }


__all__ = ["AzureSimulator"]
