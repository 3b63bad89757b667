"""Deciding one AML workspace's private endpoint connections (DESIGN §3.1): approved only when an
allow-listed, supported Synapse workspace's data plane lists a managed private endpoint of this
connection's endpoint to this workspace. Requester-chosen names and messages are never evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.arm import ArmId, is_arm_id, name_of, same_arm_id
from shared.bounds import excerpt
from shared.model import (
    ConnectionDecision,
    ConnectionPlan,
    ConnectionStatus,
    ManagedPrivateEndpoint,
    PrivateEndpointConnection,
    SynapseEvidence,
    SynapseWorkspace,
    Verdict,
)
from shared.scope import Scope

_Match = tuple[SynapseWorkspace, ManagedPrivateEndpoint]

APP_NAME = "synapse-aml-automation"
# The state description is shown in the portal; requester-chosen names inside it stay bounded.
DESCRIPTION_LIMIT = 1000


@dataclass(frozen=True)
class ApprovalRules:
    scope: Scope
    synapse_workspace_ids: tuple[ArmId, ...]
    reject_unverified: bool

    def in_scope(self, workspace_id: str) -> bool:
        return self.scope.may_cover(workspace_id)

    def allow_listed(self, synapse_workspace_id: str) -> bool:
        return any(same_arm_id(synapse_workspace_id, known) for known in self.synapse_workspace_ids)


def unsupported_reason(workspace: SynapseWorkspace) -> str | None:
    note = f" ({workspace.network_note})" if workspace.network_note else ""
    if not workspace.managed_virtual_network:
        return f"Synapse workspace {workspace.id} has no managed virtual network{note}"
    if workspace.prevent_data_exfiltration:
        return (
            f"Synapse workspace {workspace.id} has data exfiltration protection on{note}, with "
            "which the Azure ML integration is unsupported"
        )
    return None


class EvidenceIndex:
    """The managed private endpoints that target one workspace, by their endpoint's ID."""

    def __init__(self, workspace_id: ArmId, evidence: Sequence[SynapseEvidence]) -> None:
        self.workspace_id, self.evidence = workspace_id, evidence
        self._by_endpoint: dict[str, list[_Match]] = {}
        # To this workspace, naming no private endpoint yet: Synapse fills `resourceId` in once
        # it is provisioned, so any connection that just appeared may be one of theirs.
        self.unnamed: list[str] = []
        for item in evidence:
            if not item.complete or item.workspace is None:
                continue
            for endpoint in item.managed_private_endpoints:
                target, resource = endpoint.private_link_resource_id, endpoint.resource_id
                if not (is_arm_id(target) and same_arm_id(target, workspace_id)):
                    continue
                if is_arm_id(resource):
                    key = str(resource).lower()
                    self._by_endpoint.setdefault(key, []).append((item.workspace, endpoint))
                else:
                    self.unnamed.append(f"{endpoint.name!r} of {name_of(item.workspace.id)!r}")

    def matches(self, private_endpoint_id: str | None) -> list[_Match]:
        if not is_arm_id(private_endpoint_id):
            return []
        return list(self._by_endpoint.get(str(private_endpoint_id).lower(), ()))


def _decide(
    connection: PrivateEndpointConnection, index: EvidenceIndex, rules: ApprovalRules
) -> ConnectionDecision:
    workspace_id, evidence, name = index.workspace_id, index.evidence, connection.name

    def decision(verdict: Verdict, reason: str, **extra: str) -> ConnectionDecision:
        return ConnectionDecision(verdict, workspace_id, connection.id, name, reason, **extra)

    def unverified(reason: str, *, may_reject: bool) -> ConnectionDecision:
        if not (may_reject and rules.reject_unverified):
            return decision(Verdict.LEAVE_PENDING, reason)
        description = excerpt(f"Rejected by {APP_NAME}: {reason}", DESCRIPTION_LIMIT)
        return decision(Verdict.REJECT, reason, description=description)

    if not rules.in_scope(workspace_id):
        why = f"workspace {workspace_id} is not in scope (ML_SCOPES, ML_WORKSPACE_IDS)"
        return decision(Verdict.OUT_OF_SCOPE, why)
    if connection.status is ConnectionStatus.APPROVED:
        return decision(Verdict.ALREADY_APPROVED, "connection is already approved")
    if connection.status is not ConnectionStatus.PENDING:
        why = f"connection is {connection.status.value}, not Pending: left alone"
        return decision(Verdict.NOT_PENDING, why)
    # Writes go to the configured workspace and the name: an ID saying otherwise is never written.
    if not connection.of_workspace(workspace_id):
        why = f"connection ID {connection.id!r} is not this workspace's connection {name!r}"
        return unverified(f"{why}: never written", may_reject=False)
    if not is_arm_id(connection.private_endpoint_id):
        return unverified(
            "connection names no private endpoint ARM ID, so nothing can verify it", may_reject=True
        )

    matches = index.matches(connection.private_endpoint_id)
    if supported := [(s, e) for s, e in matches if unsupported_reason(s) is None]:
        synapse, endpoint = supported[0]
        verified_by = (
            f"managed private endpoint '{endpoint.name}' of allow-listed Synapse workspace "
            f"'{name_of(synapse.id)}' (workspaceUID {synapse.workspace_uid or 'unknown'}) lists "
            "this private endpoint for this workspace"
        )
        return decision(
            Verdict.APPROVE,
            f"verified: {verified_by}",
            description=excerpt(f"Approved by {APP_NAME}: {verified_by}", DESCRIPTION_LIMIT),
            evidence=f"{synapse.id}/managedVirtualNetworks/default/"
            f"managedPrivateEndpoints/{endpoint.name}",
        )
    if matches:
        # Provably from an allow-listed workspace, but one the integration cannot work with.
        reasons = sorted({str(unsupported_reason(synapse)) for synapse, _ in matches})
        return unverified("; ".join(reasons), may_reject=True)

    # The connection may come from a workspace we could not ask: never reject on that.
    if unreadable := sorted(
        (item.workspace_id, item.error or "not read") for item in evidence if not item.complete
    ):
        shown = ", ".join(f"{synapse_id} ({error})" for synapse_id, error in unreadable)
        text = f"not verified, and evidence from allow-listed Synapse workspace(s) {shown} "
        text += "could not be read: left pending"
        return unverified(excerpt(text, DESCRIPTION_LIMIT), may_reject=False)
    if index.unnamed:
        shown = ", ".join(sorted(index.unnamed))
        text = f"not verified, and managed private endpoint(s) {shown} to this workspace name no "
        text += "private endpoint yet (provisioning): left pending"
        return unverified(excerpt(text, DESCRIPTION_LIMIT), may_reject=False)
    # Workspaces that cannot have made it (no managed VNet, exfiltration protection): say so.
    workspaces = (item.workspace for item in evidence if item.workspace is not None)
    unsupported = sorted({reason for w in workspaces if (reason := unsupported_reason(w))})
    text = "no allow-listed Synapse workspace lists a managed private endpoint with this private "
    text += "endpoint for this workspace" + "".join(f"; {reason}" for reason in unsupported)
    return unverified(text[:DESCRIPTION_LIMIT], may_reject=True)


def plan_connections(
    workspace_id: ArmId,
    connections: Sequence[PrivateEndpointConnection],
    evidence: Sequence[SynapseEvidence],
    rules: ApprovalRules,
) -> ConnectionPlan:
    """An allow-listed Synapse workspace without `evidence` counts as unreadable."""
    considered = [item for item in evidence if rules.allow_listed(item.workspace_id)]
    considered += [
        SynapseEvidence(workspace_id=synapse_id, error="no evidence gathered")
        for synapse_id in rules.synapse_workspace_ids
        if not any(same_arm_id(synapse_id, item.workspace_id) for item in considered)
    ]
    index = EvidenceIndex(workspace_id, considered)
    return ConnectionPlan(workspace_id, tuple(_decide(c, index, rules) for c in connections))
