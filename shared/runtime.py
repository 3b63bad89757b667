"""Wiring: settings → clients → adapters → reconcilers, built once per process on first use.

Handlers ask for `runtime()`; nothing Azure-related is created at import time, which keeps
the cold start of every function (including the HTTP ones) short.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from shared.config import Settings, get_settings

if TYPE_CHECKING:
    from shared.adapters.aml import MachineLearningAdapter
    from shared.adapters.clients import AzureClients
    from shared.adapters.network import NetworkAdapter
    from shared.claims import Claims
    from shared.inventory import Inventory
    from shared.ledger import ActionSink, Ledger
    from shared.reconcilers.policies import PolicyReconciler
    from shared.reconcilers.private_endpoints import PrivateEndpointReconciler
    from shared.reconcilers.role_assignments import RoleAssignmentReconciler


@dataclass(frozen=True)
class Reconcilers:
    """The adapters and reconcilers for one settings value."""

    settings: Settings
    clients: AzureClients
    machine_learning: MachineLearningAdapter
    network: NetworkAdapter
    inventory: Inventory
    private_endpoints: PrivateEndpointReconciler
    role_assignments: RoleAssignmentReconciler
    policies: PolicyReconciler
    # Where runs record (None: a plan records nothing).
    sink: ActionSink | None
    # Where runs count each workspace's remediations of the hour (None: only the run's own).
    claims: Claims | None


@dataclass(frozen=True)
class Runtime(Reconcilers):
    """Everything a handler needs: the reconcilers, recording into the ledger."""

    ledger: Ledger


def build(settings: Settings, sink: ActionSink | None, claims: Claims | None = None) -> Reconcilers:
    """Adapters and reconcilers over one set of clients. `sink` None: record nothing (plan).
    `claims`: the ledger's, where each workspace's remediations of the hour are counted."""
    # Imported on first use, not when a handler module loads: every function's cold start,
    # including those that never reconcile, would otherwise pay for all of them.
    from shared.adapters.aml import MachineLearningAdapter
    from shared.adapters.authorization import AuthorizationAdapter
    from shared.adapters.clients import clients_for
    from shared.adapters.estate import EstateAdapter
    from shared.adapters.network import NetworkAdapter
    from shared.adapters.synapse import SynapseAdapter
    from shared.adapters.workspace_facts import WorkspaceFactsAdapter
    from shared.inventory import Inventory
    from shared.reconcilers.evidence import EvidenceGatherer
    from shared.reconcilers.policies import PolicyReconciler
    from shared.reconcilers.private_endpoints import PrivateEndpointReconciler
    from shared.reconcilers.role_assignments import RoleAssignmentReconciler

    clients = clients_for(settings)
    machine_learning = MachineLearningAdapter(clients)
    synapse = SynapseAdapter(clients)
    evidence = EvidenceGatherer(synapse, settings.synapse_workspace_ids)
    return Reconcilers(
        settings=settings,
        clients=clients,
        machine_learning=machine_learning,
        network=NetworkAdapter(clients),
        inventory=Inventory(settings.scope, EstateAdapter(clients)),
        private_endpoints=PrivateEndpointReconciler(settings, machine_learning, evidence),
        role_assignments=RoleAssignmentReconciler(
            settings, machine_learning, AuthorizationAdapter(clients), evidence
        ),
        policies=PolicyReconciler(
            settings, WorkspaceFactsAdapter(clients), machine_learning, synapse
        ),
        sink=sink,
        claims=claims,
    )


@functools.cache
def runtime_for(settings: Settings) -> Runtime:
    from shared.adapters.clients import clients_for
    from shared.adapters.outcomes import OutcomePublisher
    from shared.claims import Claims
    from shared.ledger import open_ledger
    from shared.recorder import Recorder
    from shared.telemetry import configure_telemetry

    # Once per process, on the first runtime build rather than at import: cold start.
    configure_telemetry()
    clients = clients_for(settings)
    ledger = open_ledger(settings.ledger, clients.token_credential)  # type: ignore[arg-type]
    publisher = (
        OutcomePublisher(settings.outcome_topic_endpoint, clients.token_credential)
        if settings.outcome_topic_endpoint
        else None
    )
    reconcilers = build(settings, Recorder(ledger, publisher), Claims(ledger.table))
    return Runtime(
        **{field.name: getattr(reconcilers, field.name) for field in fields(reconcilers)},
        ledger=ledger,
    )


def runtime() -> Runtime:
    """The process's runtime, from the app settings."""
    return runtime_for(get_settings())
