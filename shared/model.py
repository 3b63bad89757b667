"""Domain types: what the app observes in Azure and what it decides about it.

Adapters build these from Azure responses; planners read them; nothing here talks to Azure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from shared.arm import ArmId


class JudgedAnswerError(ValueError):
    """The app read an Azure answer and refused it on purpose (another resource than asked, a
    status other than asked, a target that is not a child of the configured workspace).

    Distinct from a malformed body: the transport layer lets it through unchanged, so the
    reconciler records the app's own reason rather than "malformed response".
    """


class ConnectionStatus(StrEnum):
    """`privateLinkServiceConnectionState.status` of a private endpoint connection."""

    PENDING = "Pending"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    DISCONNECTED = "Disconnected"
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, value: object) -> ConnectionStatus:
        if isinstance(value, str):
            for member in cls:
                if member.value.lower() == value.lower():
                    return member
        return cls.UNKNOWN


@dataclass(frozen=True)
class PrivateEndpointConnection:
    """A private endpoint connection on an AML workspace, as ARM reports it.

    `name` and `description` are chosen by whoever requested the connection: they are shown to
    people, never used as evidence.
    """

    id: str
    name: str
    workspace_id: ArmId
    private_endpoint_id: str | None
    status: ConnectionStatus
    description: str = ""


@dataclass(frozen=True)
class ManagedPrivateEndpoint:
    """A managed private endpoint as the Synapse data plane lists it.

    `resource_id` is the ARM ID of the private endpoint the Synapse service created for it: the
    field that ties a connection on the target to this Synapse workspace. The Python SDK's model
    drops it, which is why the adapter reads the raw JSON.
    """

    name: str
    private_link_resource_id: str | None
    resource_id: str | None
    group_id: str | None = None


@dataclass(frozen=True)
class SynapseWorkspace:
    """What ARM says about an allow-listed Synapse workspace.

    The flags are read fail-closed (`shared.planning.synapse_facts`): a managed virtual network
    counts only when ARM says exactly "default", and exfiltration protection counts as off only
    when ARM says exactly `false`; `network_note` says why a flag was assumed.
    """

    id: ArmId
    principal_id: str | None
    managed_virtual_network: bool
    prevent_data_exfiltration: bool
    # `identity.type` and `identity.tenantId` as ARM reports them (None when absent).
    identity_type: str | None = None
    tenant_id: str | None = None
    # `properties.workspaceUID`: which incarnation of the workspace name this read saw.
    workspace_uid: str | None = None
    # `properties.connectivityEndpoints.dev`: where this workspace's data plane answers.
    dev_endpoint: str | None = None
    network_note: str | None = None

    @property
    def has_system_identity(self) -> bool:
        """Whether `identity.type` names SystemAssigned ("SystemAssigned,UserAssigned" too)."""
        if not isinstance(self.identity_type, str):
            return False
        parts = {part.strip().lower() for part in self.identity_type.split(",")}
        return "systemassigned" in parts


@dataclass(frozen=True)
class SynapseEvidence:
    """Everything the app could learn about one allow-listed Synapse workspace.

    `error` is set when the workspace or its managed private endpoints could not be read; then
    the evidence is incomplete and nothing may be rejected on the strength of it.
    """

    workspace_id: ArmId
    workspace: SynapseWorkspace | None = None
    managed_private_endpoints: tuple[ManagedPrivateEndpoint, ...] = ()
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.error is None and self.workspace is not None


class Verdict(StrEnum):
    """What the planner decided for one connection."""

    APPROVE = "approve"
    REJECT = "reject"
    LEAVE_PENDING = "leave-pending"
    ALREADY_APPROVED = "already-approved"
    NOT_PENDING = "not-pending"
    OUT_OF_SCOPE = "out-of-scope"

    @property
    def writes(self) -> bool:
        """Whether carrying out this verdict writes to Azure."""
        return self in (Verdict.APPROVE, Verdict.REJECT)


@dataclass(frozen=True)
class ConnectionDecision:
    """One planned decision about one private endpoint connection, with its reason."""

    verdict: Verdict
    workspace_id: ArmId
    connection_id: str
    connection_name: str
    reason: str
    # The state description written to Azure when the verdict writes; says what verified it.
    description: str = ""
    evidence: str | None = None


@dataclass(frozen=True)
class ConnectionPlan:
    """The decisions for one AML workspace's private endpoint connections."""

    workspace_id: ArmId
    decisions: tuple[ConnectionDecision, ...] = field(default_factory=tuple)

    @property
    def writes(self) -> tuple[ConnectionDecision, ...]:
        return tuple(decision for decision in self.decisions if decision.verdict.writes)
