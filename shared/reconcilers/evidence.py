"""Synapse evidence: what each allow-listed Synapse workspace says about itself and its
managed private endpoints. Gathered once per run and shared by every reconciler that needs it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from azure.core.exceptions import AzureError

from shared.adapters.errors import describe, is_transient
from shared.adapters.synapse import SynapseAdapter
from shared.arm import ArmId
from shared.logs import decision_log
from shared.model import SynapseEvidence
from shared.reconcilers.transient import TransientAzureError

log = logging.getLogger(__name__)


@dataclass
class EvidenceCache:
    """Evidence per Synapse workspace for one run (one event, one sweep), and that run's
    trigger for the log lines about it."""

    items: dict[str, SynapseEvidence] = field(default_factory=dict)
    trigger: str = ""


class EvidenceGatherer:
    """Asks allow-listed Synapse workspaces, through ARM and their own data plane."""

    def __init__(self, synapse: SynapseAdapter, allow_listed: tuple[ArmId, ...]) -> None:
        self._synapse = synapse
        self._allow_listed = allow_listed

    def gather_one(self, synapse_id: ArmId, *, trigger: str = "") -> SynapseEvidence:
        """Permanent failures (403, 404) become incomplete evidence; transient ones are raised."""
        try:
            workspace = self._synapse.get_workspace(synapse_id)
            if not workspace.managed_virtual_network:
                # No managed VNet, no managed private endpoints: nothing to list.
                return SynapseEvidence(workspace_id=synapse_id, workspace=workspace)
            endpoints = self._synapse.list_managed_private_endpoints(synapse_id)
        except AzureError as error:
            if is_transient(error):
                raise TransientAzureError(
                    f"Synapse workspace {synapse_id}: {describe(error)}"
                ) from error
            decision_log(
                log,
                describe(error),
                trigger=trigger,
                kind="synapse-evidence",
                verdict="incomplete",
                subject_id=synapse_id,
                level=logging.WARNING,
            )
            return SynapseEvidence(workspace_id=synapse_id, error=describe(error))
        return SynapseEvidence(
            workspace_id=synapse_id, workspace=workspace, managed_private_endpoints=tuple(endpoints)
        )

    def gather(self, cache: EvidenceCache) -> list[SynapseEvidence]:
        """Evidence for every allow-listed workspace, reading only what the cache lacks."""
        evidence = []
        for synapse_id in self._allow_listed:
            key = synapse_id.lower()
            if key not in cache.items:
                cache.items[key] = self.gather_one(synapse_id, trigger=cache.trigger)
            evidence.append(cache.items[key])
        return evidence
