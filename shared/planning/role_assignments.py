"""Role assignments an AML workspace needs (DESIGN §3.2): only Contributor at its scope, for the
system-assigned identity (of its own tenant) of each allow-listed Synapse workspace with an
approved, verified connection. A stale one is reported, never deleted: that is a person's call."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from shared.arm import ArmId, is_guid, name_of, same_arm_id, subscription_of
from shared.model import ConnectionStatus, PrivateEndpointConnection, SynapseEvidence
from shared.ownership import AppIdentity
from shared.planning.private_endpoints import (
    APP_NAME,
    ApprovalRules,
    EvidenceIndex,
    unsupported_reason,
)

CONTRIBUTOR_ROLE_ID = "b24988ac-6180-42a0-ab88-20f7382dd24c"
# Names are UUIDv5 in a namespace of our own, like Bicep's guid(scope, principal, role): the same
# inputs always give the same name, so a retried PUT can only ever target the same assignment.
_NAMESPACE = uuid.UUID("8f4d2c6e-3b1a-5e7f-9c0d-2a4b6c8e0f13")


def contributor_role_definition_id(scope: str) -> str:
    authorization = f"/subscriptions/{subscription_of(scope)}/providers/Microsoft.Authorization"
    return f"{authorization}/roleDefinitions/{CONTRIBUTOR_ROLE_ID}"


def assignment_name(scope: str, principal_id: str, role_id: str = CONTRIBUTOR_ROLE_ID) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{scope.lower()}|{principal_id.lower()}|{role_id.lower()}"))


def assignment_description(synapse_workspace_id: str) -> str:
    """Which Synapse workspace's identity an assignment is for: its name cannot say it."""
    workspace = f"Synapse workspace {synapse_workspace_id}"
    return f"Contributor for the managed identity of {workspace} ({APP_NAME})"


@dataclass(frozen=True)
class ExistingAssignment:
    name: str
    scope: str
    principal_id: str
    role_definition_id: str
    description: str = ""
    # Object IDs of who created and last changed it, as ARM records them.
    created_by: str = ""
    updated_by: str = ""

    def made_for(self, synapse_workspace_id: str, app: AppIdentity) -> bool:
        """Made by this app for that Synapse workspace: only ARM's `createdBy` says so (any role
        writer can write a description), its description the app's while nobody else changed it."""
        return (
            app.is_principal(self.created_by)
            and app.is_principal(self.updated_by)
            and self.description.isascii()
            and self.description.lower() == assignment_description(synapse_workspace_id).lower()
        )

    def is_contributor(self, scope: str) -> bool:
        return (
            same_arm_id(self.scope, scope)
            and self.role_definition_id.lower().rsplit("/", 1)[-1] == CONTRIBUTOR_ROLE_ID
        )


class RoleVerdict(StrEnum):
    ASSIGN = "assign"
    ALREADY_ASSIGNED = "already-assigned"
    SKIP = "skip"
    # An assignment this app made for an identity the Synapse workspace no longer has.
    STALE = "stale-assignment"

    @property
    def writes(self) -> bool:
        return self is RoleVerdict.ASSIGN


@dataclass(frozen=True)
class RoleAssignmentDecision:
    verdict: RoleVerdict
    scope: ArmId
    synapse_workspace_id: ArmId
    reason: str
    principal_id: str | None = None
    role_definition_id: str | None = None
    assignment_name: str | None = None


def plan_role_assignments(
    workspace_id: ArmId,
    connections: Sequence[PrivateEndpointConnection],
    evidence: Sequence[SynapseEvidence],
    existing: Sequence[ExistingAssignment],
    rules: ApprovalRules,
    workspace_tenant: Callable[[], str | None],
    app: AppIdentity,
) -> tuple[RoleAssignmentDecision, ...]:
    """One decision per allow-listed Synapse workspace, and a STALE one per assignment `app` made
    for an identity it no longer has. `workspace_tenant` is asked only before an ASSIGN."""
    if not rules.in_scope(workspace_id):
        return ()
    decisions: list[RoleAssignmentDecision] = []
    for item in evidence:
        if not rules.allow_listed(item.workspace_id):
            continue  # evidence about anything else is not ours to act on
        if item.workspace is not None and item.error is None:
            # Identity changes are reported whatever else holds.
            current = item.workspace.principal_id if item.workspace.has_system_identity else None
            decisions += [
                RoleAssignmentDecision(
                    RoleVerdict.STALE,
                    workspace_id,
                    item.workspace_id,
                    f"Contributor assignment {assignment.name} was made for principal "
                    f"{assignment.principal_id}, which is no longer the workspace's identity "
                    f"({current or 'none now'}): reported, not deleted; remove it if it is not "
                    "needed",
                    principal_id=assignment.principal_id,
                    assignment_name=assignment.name,
                )
                for assignment in existing
                if assignment.is_contributor(workspace_id)
                and assignment.made_for(item.workspace_id, app)
                and (current is None or assignment.principal_id.lower() != current.lower())
            ]
        decisions.append(_decide(workspace_id, connections, item, existing, workspace_tenant))
    return tuple(decisions)


def _decide(
    workspace_id: ArmId,
    connections: Sequence[PrivateEndpointConnection],
    item: SynapseEvidence,
    existing: Sequence[ExistingAssignment],
    workspace_tenant: Callable[[], str | None],
) -> RoleAssignmentDecision:
    def decide(
        reason: str, verdict: RoleVerdict = RoleVerdict.SKIP, **found: str
    ) -> RoleAssignmentDecision:
        return RoleAssignmentDecision(verdict, workspace_id, item.workspace_id, reason, **found)

    synapse = item.workspace
    if not item.complete or synapse is None:
        return decide(f"Synapse workspace could not be read: {item.error}")
    if unsupported := unsupported_reason(synapse):
        return decide(unsupported)
    # An approved connection of this workspace that this Synapse workspace provably owns.
    index = EvidenceIndex(workspace_id, [item])
    ours = (c for c in connections if c.of_workspace(workspace_id))
    approved = (c for c in ours if c.status is ConnectionStatus.APPROVED)
    connection = next((c.name for c in approved if index.matches(c.private_endpoint_id)), None)
    if connection is None:
        return decide(
            f"no approved connection from {name_of(item.workspace_id)}'s managed private "
            "endpoints to this workspace"
        )
    if not (principal := synapse.principal_id) or not is_guid(principal):
        return decide("ARM reports no managed identity (principalId) for it")
    if not synapse.has_system_identity:
        return decide(
            f"its identity type is {synapse.identity_type!r}, not SystemAssigned: "
            "principalId is not its system-assigned identity"
        )
    mine = (a for a in existing if a.principal_id.lower() == principal.lower())
    if any(a.is_contributor(workspace_id) for a in mine):
        already = "its identity already has Contributor on the workspace"
        return decide(already, RoleVerdict.ALREADY_ASSIGNED, principal_id=principal)
    tenant = workspace_tenant()
    if not tenant or not synapse.tenant_id or synapse.tenant_id.lower() != tenant.lower():
        return decide(
            f"its identity's tenant ({synapse.tenant_id or 'not reported'}) is not "
            f"the AML workspace's tenant ({tenant or 'not reported'})"
        )
    return decide(
        f"approved connection {connection} is one of its managed private endpoints",
        RoleVerdict.ASSIGN,
        principal_id=principal,
        role_definition_id=contributor_role_definition_id(workspace_id),
        assignment_name=assignment_name(workspace_id, principal),
    )
