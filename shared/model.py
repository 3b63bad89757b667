"""Domain types: what the app observes in Azure and what it decides about it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.arm import ArmId, same_arm_id


class JudgedAnswerError(ValueError):
    """The app refused an Azure answer on purpose: its own reason is recorded, not "malformed"."""


class ConnectionStatus(StrEnum):
    PENDING = "Pending"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    DISCONNECTED = "Disconnected"
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, value: object) -> ConnectionStatus:
        text = value.lower() if isinstance(value, str) else None
        return next((member for member in cls if member.value.lower() == text), cls.UNKNOWN)


@dataclass(frozen=True)
class PrivateEndpointConnection:
    """`name` and `description` are the requester's: shown to people, never evidence."""

    id: str
    name: str
    workspace_id: ArmId
    private_endpoint_id: str | None
    status: ConnectionStatus
    description: str = ""

    def of_workspace(self, workspace_id: str) -> bool:
        """Whether its ID is `workspace_id`'s connection of its (plain) name: one listed there
        whose ID says otherwise is Azure's answer about something else, never written or counted."""
        name, odd = self.name, ("", ".", "..")
        plain = name.isascii() and name not in odd and not any(c in name for c in "/\\?#%")
        return plain and same_arm_id(self.id, f"{workspace_id}/privateEndpointConnections/{name}")


@dataclass(frozen=True)
class ManagedPrivateEndpoint:
    """As the Synapse data plane lists it, read raw: the SDK's model drops `resource_id`."""

    name: str
    private_link_resource_id: str | None
    resource_id: str | None


@dataclass(frozen=True)
class SynapseWorkspace:
    """Flags read fail-closed; `network_note` says why a flag was assumed."""

    id: ArmId
    principal_id: str | None
    managed_virtual_network: bool
    prevent_data_exfiltration: bool
    identity_type: str | None = None
    tenant_id: str | None = None
    # `workspaceUID`: which incarnation of the name; `connectivityEndpoints.dev`: its data plane.
    workspace_uid: str | None = None
    dev_endpoint: str | None = None
    network_note: str | None = None

    @property
    def has_system_identity(self) -> bool:
        kinds = self.identity_type.split(",") if isinstance(self.identity_type, str) else []
        return "systemassigned" in {kind.strip().lower() for kind in kinds}


@dataclass(frozen=True)
class SynapseEvidence:
    """With an `error`, incomplete: nothing may be rejected on its strength."""

    workspace_id: ArmId
    workspace: SynapseWorkspace | None = None
    managed_private_endpoints: tuple[ManagedPrivateEndpoint, ...] = ()
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.error is None and self.workspace is not None


class Verdict(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    LEAVE_PENDING = "leave-pending"
    ALREADY_APPROVED = "already-approved"
    NOT_PENDING = "not-pending"
    OUT_OF_SCOPE = "out-of-scope"

    @property
    def writes(self) -> bool:
        return self in (Verdict.APPROVE, Verdict.REJECT)


@dataclass(frozen=True)
class ConnectionDecision:
    verdict: Verdict
    workspace_id: ArmId
    connection_id: str
    connection_name: str
    reason: str
    # The state description written to Azure when the verdict writes.
    description: str = ""
    evidence: str | None = None


@dataclass(frozen=True)
class ConnectionPlan:
    workspace_id: ArmId
    decisions: tuple[ConnectionDecision, ...] = ()
