"""What the policy rules read about one AML workspace, independent of the SDKs.
`None` means "ARM did not say"."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeGuard

from shared.arm import ArmId
from shared.model import SynapseWorkspace


class DependencyKind(StrEnum):
    STORAGE = "storage"
    KEY_VAULT = "keyvault"
    CONTAINER_REGISTRY = "containerregistry"


# Sub-resources (group IDs) that must each have an approved private endpoint.
REQUIRED_GROUPS = {
    DependencyKind.STORAGE: frozenset({"blob", "file", "dfs", "queue", "table"}),
    DependencyKind.KEY_VAULT: frozenset({"vault"}),
    DependencyKind.CONTAINER_REGISTRY: frozenset({"registry"}),
}


@dataclass(frozen=True)
class ComputeFacts:
    id: str
    name: str
    compute_type: str
    vm_size: str | None = None
    subnet_id: str | None = None
    disable_local_auth: bool | None = None
    max_node_count: int | None = None
    min_node_count: int | None = None
    remote_login_port_public_access: str | None = None
    # `properties.properties.currentNodeCount` / `targetNodeCount`: the cluster-size guard's.
    current_node_count: int | None = None
    target_node_count: int | None = None


@dataclass(frozen=True)
class DependencyFacts:
    kind: DependencyKind
    resource_id: str | None
    approved_groups: frozenset[str] = frozenset()
    error: str | None = None


@dataclass(frozen=True)
class WorkspaceFacts:
    id: ArmId
    public_network_access: str | None = None
    hbi_workspace: bool | None = None
    identity_type: str | None = None
    user_assigned_identities: tuple[str, ...] = ()
    approved_private_endpoint_connections: int = 0
    # Of those, the ones from a customer subscription (ML_WORKSPACE_IDS'): paths people can use.
    customer_private_endpoint_connections: int = 0
    computes: tuple[ComputeFacts, ...] = ()
    dependencies: tuple[DependencyFacts, ...] = ()
    synapse_workspaces: tuple[SynapseWorkspace, ...] = ()
    synapse_errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyParameters:
    """Settings that parameterise rules; an unset one makes its rule not applicable."""

    allowed_vm_sizes: frozenset[str] | None = None
    max_cluster_nodes: int | None = None
    hbi_required: bool = False


def is_count(value: object) -> TypeGuard[int]:
    """A node count: a whole number >= 0 (a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
