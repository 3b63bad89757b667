"""Synapse evidence: what each allow-listed Synapse workspace says about itself and its
managed private endpoints. Gathered once per run and shared by every reconciler that needs it."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

from azure.core.exceptions import AzureError

from shared.adapters.errors import describe, is_transient
from shared.adapters.synapse import SynapseAdapter
from shared.arm import ArmId, name_of
from shared.logs import decision_log
from shared.model import SynapseEvidence
from shared.planning.synapse_facts import SynapseAnswerError, data_plane_mismatch
from shared.reconcilers.transient import TransientAzureError

log = logging.getLogger(__name__)


@dataclass
class EvidenceCache:
    items: dict[str, SynapseEvidence] = field(default_factory=dict)
    trigger: str = ""


class EvidenceGatherer:
    def __init__(self, synapse: SynapseAdapter, allow_listed: tuple[ArmId, ...]) -> None:
        self._synapse = synapse
        self._allow_listed = allow_listed

    def gather_one(self, synapse_id: ArmId, *, trigger: str = "") -> SynapseEvidence:
        """Permanent failures become incomplete evidence; transient ones are raised. Read afresh:
        this read decides, and its data plane must be the endpoint the app asks."""
        evidence = functools.partial(SynapseEvidence, synapse_id)
        try:
            workspace = self._synapse.get_workspace(synapse_id, fresh=True)
            if not workspace.managed_virtual_network:
                return evidence(workspace)
            mismatch = data_plane_mismatch(
                workspace, self._synapse.data_plane_endpoint(name_of(synapse_id))
            )
            if mismatch is not None:
                log.warning("Synapse evidence not taken: %s", mismatch)
                return evidence(workspace, error=mismatch)
            endpoints = self._synapse.list_managed_private_endpoints(synapse_id)
        except SynapseAnswerError as error:
            log.warning("Synapse workspace %s: %s", synapse_id, error)
            return evidence(error=str(error))
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
            return evidence(error=describe(error))
        return evidence(workspace, tuple(endpoints))

    def gather(self, cache: EvidenceCache) -> list[SynapseEvidence]:
        for synapse_id in self._allow_listed:
            if synapse_id.lower() not in cache.items:
                cache.items[synapse_id.lower()] = self.gather_one(synapse_id, trigger=cache.trigger)
        return [cache.items[synapse_id.lower()] for synapse_id in self._allow_listed]
