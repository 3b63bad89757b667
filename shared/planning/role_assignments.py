"""Deciding which role assignments an AML workspace needs (DESIGN §3.2).

For each allow-listed Synapse workspace with an approved, verified connection to an in-scope AML
workspace: exactly one Contributor assignment at the AML workspace's scope, for the Synapse
workspace's managed identity as ARM reports it, with a name derived from scope, principal and
role. Nothing else is ever planned: no other role, scope or principal.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from shared.arm import ArmId, name_of, same_arm_id, subscription_of
from shared.model import ConnectionStatus, PrivateEndpointConnection, SynapseEvidence
from shared.planning.private_endpoints import ApprovalRules, EvidenceIndex, unsupported_reason

CONTRIBUTOR_ROLE_ID = "b24988ac-6180-42a0-ab88-20f7382dd24c"
# Names are UUIDv5 in a namespace of our own, like Bicep's guid(scope, principal, role): the same
# inputs always give the same name, so a retried PUT can only ever target the same assignment.
_NAMESPACE = uuid.UUID("8f4d2c6e-3b1a-5e7f-9c0d-2a4b6c8e0f13")


def contributor_role_definition_id(scope: str) -> str:
    """The Contributor role definition as ARM names it in the scope's subscription."""
    return (
        f"/subscriptions/{subscription_of(scope)}/providers/Microsoft.Authorization/"
        f"roleDefinitions/{CONTRIBUTOR_ROLE_ID}"
    )


def assignment_name(scope: str, principal_id: str, role_id: str = CONTRIBUTOR_ROLE_ID) -> str:
    """The deterministic assignment name for (scope, principal, role)."""
    key = f"{scope.lower()}|{principal_id.lower()}|{role_id.lower()}"
    return str(uuid.uuid5(_NAMESPACE, key))


def _is_guid(value: str | None) -> bool:
    if not value:
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


@dataclass(frozen=True)
class ExistingAssignment:
    """A role assignment that exists at (or is inherited into) the workspace's scope."""

    name: str
    scope: str
    principal_id: str
    role_definition_id: str

    def is_contributor_for(self, scope: str, principal_id: str) -> bool:
        return (
            same_arm_id(self.scope, scope)
            and self.principal_id.lower() == principal_id.lower()
            and self.role_definition_id.lower().rsplit("/", 1)[-1] == CONTRIBUTOR_ROLE_ID
        )


class RoleVerdict(StrEnum):
    ASSIGN = "assign"
    ALREADY_ASSIGNED = "already-assigned"
    SKIP = "skip"

    @property
    def writes(self) -> bool:
        return self is RoleVerdict.ASSIGN


@dataclass(frozen=True)
class RoleAssignmentDecision:
    """One planned decision about one Synapse workspace's identity on one AML workspace."""

    verdict: RoleVerdict
    scope: ArmId
    synapse_workspace_id: ArmId
    reason: str
    principal_id: str | None = None
    role_definition_id: str | None = None
    assignment_name: str | None = None


def _verified_approved(
    workspace_id: ArmId,
    connections: Sequence[PrivateEndpointConnection],
    evidence: SynapseEvidence,
) -> str | None:
    """The name of an approved connection that this Synapse workspace provably owns, if any."""
    index = EvidenceIndex(workspace_id, [evidence])
    for connection in connections:
        if connection.status is ConnectionStatus.APPROVED and index.matches(
            connection.private_endpoint_id
        ):
            return connection.name
    return None


def plan_role_assignments(
    workspace_id: ArmId,
    connections: Sequence[PrivateEndpointConnection],
    evidence: Sequence[SynapseEvidence],
    existing: Sequence[ExistingAssignment],
    rules: ApprovalRules,
) -> tuple[RoleAssignmentDecision, ...]:
    """One decision per allow-listed Synapse workspace; ASSIGN only with proof and a principal."""
    if not rules.in_scope(workspace_id):
        return ()
    decisions: list[RoleAssignmentDecision] = []
    for item in evidence:
        if not rules.allow_listed(item.workspace_id):
            continue  # evidence about anything else is not ours to act on

        def skip(reason: str, synapse_id: ArmId = item.workspace_id) -> RoleAssignmentDecision:
            return RoleAssignmentDecision(RoleVerdict.SKIP, workspace_id, synapse_id, reason)

        if not item.complete or item.workspace is None:
            decisions.append(skip(f"Synapse workspace could not be read: {item.error}"))
            continue
        unsupported = unsupported_reason(item.workspace)
        if unsupported:
            decisions.append(skip(unsupported))
            continue
        connection_name = _verified_approved(workspace_id, connections, item)
        if connection_name is None:
            decisions.append(
                skip(
                    f"no approved connection from {name_of(item.workspace_id)}'s managed private "
                    "endpoints to this workspace"
                )
            )
            continue
        principal = item.workspace.principal_id
        if principal is None or not _is_guid(principal):
            decisions.append(skip("ARM reports no managed identity (principalId) for it"))
            continue
        if any(a.is_contributor_for(workspace_id, principal) for a in existing):
            decisions.append(
                RoleAssignmentDecision(
                    RoleVerdict.ALREADY_ASSIGNED,
                    workspace_id,
                    item.workspace_id,
                    "its identity already has Contributor on the workspace",
                    principal_id=principal,
                )
            )
            continue
        decisions.append(
            RoleAssignmentDecision(
                RoleVerdict.ASSIGN,
                workspace_id,
                item.workspace_id,
                f"approved connection {connection_name} is one of its managed private endpoints",
                principal_id=principal,
                role_definition_id=contributor_role_definition_id(workspace_id),
                assignment_name=assignment_name(workspace_id, principal),
            )
        )
    return tuple(decisions)
