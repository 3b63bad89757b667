"""The local HTTPS stand-in for the Azure endpoints the app talks to: the real SDK clients run
unchanged against it, given other base URLs, an identity endpoint and a CA bundle (:meth:`env`).
Each Azure provider is a service attribute tests seed and inspect (docs/ARCHITECTURE.md, 10)."""

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
    """The server with every service mounted; a context manager (or ``start()``/``stop()``)."""

    def __init__(self, *, tenant_id: str = shapes.DEFAULT_TENANT_ID) -> None:
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
