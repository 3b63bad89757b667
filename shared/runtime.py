"""The app's one composition root, one `Runtime` per settings value, each part built and imported
on its first use (cold start: an HTTP scoring request never loads the reconcilers' SDKs)."""

from __future__ import annotations

import functools
import importlib
from functools import cached_property
from typing import TYPE_CHECKING, Any

from shared.config import Settings, get_settings

if TYPE_CHECKING:
    from shared.adapters.aml import MachineLearningAdapter
    from shared.adapters.batch_scoring import BatchScoringAdapter
    from shared.adapters.clients import AzureClients
    from shared.adapters.network import NetworkAdapter
    from shared.adapters.outcomes import Recorder
    from shared.adapters.promotion import PromotionAdapter
    from shared.adapters.synapse import SynapseAdapter
    from shared.claims import Claims
    from shared.inventory import Inventory
    from shared.ledger import Ledger
    from shared.reconcilers.policies import PolicyReconciler
    from shared.reconcilers.private_endpoints import PrivateEndpointReconciler
    from shared.reconcilers.retraining import RetrainingReconciler
    from shared.reconcilers.role_assignments import RoleAssignmentReconciler
    from shared.reconcilers.scoring_outcomes import ScoringOutcomes
    from shared.scoring.records import ScoringRecords
    from shared.scoring.service import ScoringStarter


def _adapter(module: str, name: str) -> Any:
    """A part that is `shared.adapters.<module>.<name>` on the clients, imported on first use."""
    path = f"shared.adapters.{module}"
    return cached_property(lambda rt: getattr(importlib.import_module(path), name)(rt.clients))


class Runtime:
    """A plan (the CLI's `plan`) uses the reconcilers and never the ledger: none is opened."""

    machine_learning: MachineLearningAdapter = _adapter("aml", "MachineLearningAdapter")
    network: NetworkAdapter = _adapter("network", "NetworkAdapter")
    _synapse: SynapseAdapter = _adapter("synapse", "SynapseAdapter")
    _batch_scoring: BatchScoringAdapter = _adapter("batch_scoring", "BatchScoringAdapter")
    # Model promotion's reads and writes; the CLI's `plan` reads with it too (no ledger).
    promotion_adapter: PromotionAdapter = _adapter("promotion", "PromotionAdapter")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def clients(self) -> AzureClients:
        from shared.adapters.clients import clients_for

        return clients_for(self.settings)

    @cached_property
    def ledger(self) -> Ledger:
        from shared.ledger import open_ledger

        return open_ledger(self.settings.ledger, self.clients.token_credential)  # type: ignore[arg-type]

    @cached_property
    def sink(self) -> Recorder:
        from shared.adapters.outcomes import Recorder

        topic = self.settings.outcome_topic_endpoint
        return Recorder(self.ledger.table, topic, self.clients.token_credential)

    @cached_property
    def claims(self) -> Claims:
        """The ledger's claims: retraining, scoring starts, each workspace's remediation slots."""
        from shared.claims import Claims

        return Claims(self.ledger.table)

    @cached_property
    def inventory(self) -> Inventory:
        from shared.adapters.estate import EstateAdapter
        from shared.inventory import Inventory

        return Inventory(self.settings.scope, EstateAdapter(self.clients))

    @cached_property
    def private_endpoints(self) -> PrivateEndpointReconciler:
        from shared.reconcilers.private_endpoints import EvidenceGatherer, PrivateEndpointReconciler

        evidence = EvidenceGatherer(self._synapse, self.settings.synapse_workspace_ids)
        return PrivateEndpointReconciler(self.settings, self.machine_learning, evidence)

    @cached_property
    def role_assignments(self) -> RoleAssignmentReconciler:
        from shared.adapters.authorization import AuthorizationAdapter
        from shared.reconcilers.role_assignments import RoleAssignmentReconciler

        # The connections' Synapse evidence: gathered once per run for both.
        ml, evidence = self.machine_learning, self.private_endpoints.evidence
        authorization = AuthorizationAdapter(self.clients)
        return RoleAssignmentReconciler(self.settings, ml, authorization, evidence)

    @cached_property
    def policies(self) -> PolicyReconciler:
        from shared.adapters.workspace_facts import WorkspaceFactsAdapter
        from shared.reconcilers.policies import PolicyReconciler

        facts = WorkspaceFactsAdapter(self.clients)
        return PolicyReconciler(self.settings, facts, self.machine_learning, self._synapse)

    @cached_property
    def _scoring_records(self) -> ScoringRecords:
        from shared.scoring.records import ScoringRecords

        return ScoringRecords(self.ledger.table)

    @cached_property
    def scoring(self) -> ScoringStarter:
        """The one scoring starter: HTTP scoring and the scoring after a retrain."""
        from shared.scoring.service import ScoringStarter

        inputs, dry = self.settings.scoring_allowed_inputs, self.settings.dry_run
        scoring, records, admit = self._batch_scoring, self._scoring_records, self.inventory.admit
        return ScoringStarter(scoring, self.claims, records, inputs, self.sink, admit, dry_run=dry)

    @cached_property
    def scoring_outcomes(self) -> ScoringOutcomes:
        """How the scoring jobs the app started ended (over HTTP too: built with retraining off)."""
        from shared.reconcilers.scoring_outcomes import ScoringOutcomes

        mode = self.settings.automation_mode.value
        return ScoringOutcomes(self._batch_scoring, self._scoring_records, self.sink, mode)

    @cached_property
    def retraining(self) -> RetrainingReconciler | None:
        if self.settings.retraining is None:
            return None
        from shared.adapters.drift_query import DriftQueryAdapter
        from shared.adapters.retraining_jobs import RetrainingJobsAdapter
        from shared.reconcilers.retraining import RetrainingReconciler

        jobs, drift = RetrainingJobsAdapter(self.clients), DriftQueryAdapter(self.clients)
        promotion = self.promotion_adapter if self.settings.retraining.promotion else None
        return RetrainingReconciler(
            self.settings, jobs, self.scoring, drift, self.claims, self.sink, promotion=promotion
        )


@functools.cache
def runtime_for(settings: Settings) -> Runtime:
    from shared.telemetry import configure_telemetry

    # Once per process, on every function's first build rather than at import: cold start.
    configure_telemetry()
    return Runtime(settings)


def runtime() -> Runtime:
    return runtime_for(get_settings())
