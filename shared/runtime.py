"""Wiring: settings → clients → adapters → reconcilers, built once per process on first use.

Handlers ask for `runtime()`; nothing Azure-related is created at import time, which keeps
the cold start of every function (including the HTTP ones) short.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from shared.adapters.aml import MachineLearningAdapter
from shared.adapters.clients import AzureClients, clients_for
from shared.adapters.network import NetworkAdapter
from shared.adapters.synapse import SynapseAdapter
from shared.config import Settings, get_settings
from shared.ledger import Ledger, open_ledger
from shared.reconcilers.private_endpoints import PrivateEndpointReconciler


@dataclass(frozen=True)
class Runtime:
    """Everything a handler needs, for one settings value."""

    settings: Settings
    clients: AzureClients
    ledger: Ledger
    network: NetworkAdapter
    private_endpoints: PrivateEndpointReconciler


@functools.cache
def runtime_for(settings: Settings) -> Runtime:
    clients = clients_for(settings)
    ledger = open_ledger(settings.ledger, clients.token_credential)  # type: ignore[arg-type]
    return Runtime(
        settings=settings,
        clients=clients,
        ledger=ledger,
        network=NetworkAdapter(clients),
        private_endpoints=PrivateEndpointReconciler(
            settings, MachineLearningAdapter(clients), SynapseAdapter(clients), ledger
        ),
    )


def runtime() -> Runtime:
    """The process's runtime, from the app settings."""
    return runtime_for(get_settings())
