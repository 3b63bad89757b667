"""The local HTTPS stand-in for the Azure endpoints the app talks to: :class:`AzureSimulator`.

The real Azure SDK clients run unchanged against it: they only see other base URLs, a managed
identity endpoint and a CA bundle, all given by :meth:`AzureSimulator.env`. It is the one HTTPS
server (:mod:`simulator.server`) with one service object per Azure provider mounted on it, each an
attribute that tests seed and inspect directly (``sim.identity``, ``sim.arm``, ``sim.ml``,
``sim.synapse``, ``sim.authorization``, ``sim.network``, ``sim.eventgrid``, ``sim.logs``,
``sim.management``, ``sim.resourcegraph``: see docs/ARCHITECTURE.md section 10).
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
from .resourcegraph import ResourceGraph
from .server import ML_AUDIENCE, SYNAPSE_AUDIENCE, SimulatorServer
from .synapse import Synapse


class AzureSimulator(SimulatorServer):
    """Local HTTPS simulator of ARM, the Synapse data plane, Azure ML, Log Analytics, Event Grid
    and managed identity; a context manager (or :meth:`start` / :meth:`stop`)."""

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
        self.resourcegraph = ResourceGraph(self)
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
            self.resourcegraph,
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
