"""What the policy rules read: facts observed about one AML workspace, independent of the SDKs.

Adapters fill these from ARM; rules only read them. `None` means "ARM did not say": rules treat
a missing property as non-compliant unless the rule says otherwise, and say so in the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from shared.arm import ArmId
from shared.model import SynapseWorkspace


class DependencyKind(StrEnum):
    """The workspace dependencies that need private endpoints, and their sub-resources."""

    STORAGE = "storage"
    KEY_VAULT = "keyvault"
    CONTAINER_REGISTRY = "containerregistry"

    @property
    def required_groups(self) -> frozenset[str]:
        """Private link sub-resources (group IDs) that must each have an approved endpoint."""
        return _REQUIRED_GROUPS[self]


_REQUIRED_GROUPS = {
    DependencyKind.STORAGE: frozenset({"blob", "file", "dfs", "queue", "table"}),
    DependencyKind.KEY_VAULT: frozenset({"vault"}),
    DependencyKind.CONTAINER_REGISTRY: frozenset({"registry"}),
}


@dataclass(frozen=True)
class ComputeFacts:
    """One compute target of the workspace."""

    id: str
    name: str
    compute_type: str
    vm_size: str | None = None
    subnet_id: str | None = None
    disable_local_auth: bool | None = None
    max_node_count: int | None = None
    min_node_count: int | None = None
    remote_login_port_public_access: str | None = None
    # Nodes the cluster has now and is scaling to (`properties.properties.currentNodeCount`,
    # `targetNodeCount`): what the cluster-size guard reads.
    current_node_count: int | None = None
    target_node_count: int | None = None


@dataclass(frozen=True)
class DependencyFacts:
    """A storage account, key vault or container registry the workspace depends on.

    `approved_groups` are the group IDs covered by approved private endpoint connections.
    `error` is set when the resource could not be read (then nothing is known of its endpoints).
    """

    kind: DependencyKind
    resource_id: str | None
    approved_groups: frozenset[str] = frozenset()
    error: str | None = None


@dataclass(frozen=True)
class WorkspaceFacts:
    """Everything the policy set reads about one AML workspace."""

    id: ArmId
    public_network_access: str | None = None
    hbi_workspace: bool | None = None
    identity_type: str | None = None
    user_assigned_identities: tuple[str, ...] = ()
    approved_private_endpoint_connections: int = 0
    # Of those, the ones whose private endpoint lives in a customer subscription (one of
    # ML_WORKSPACE_IDS'): the private paths people can use. A managed private endpoint (a
    # Synapse workspace's) counts above, not here.
    customer_private_endpoint_connections: int = 0
    computes: tuple[ComputeFacts, ...] = ()
    dependencies: tuple[DependencyFacts, ...] = ()
    # The allow-listed Synapse workspaces as ARM reports them; `synapse_errors` for unreadable.
    synapse_workspaces: tuple[SynapseWorkspace, ...] = ()
    synapse_errors: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class PolicyParameters:
    """The settings that parameterise rules (`ALLOWED_COMPUTE_VM_SIZES`, `MAX_CLUSTER_NODES`,
    `HBI_REQUIRED`). An unset parameter makes its rule not applicable, never silently pass."""

    allowed_vm_sizes: frozenset[str] | None = None
    max_cluster_nodes: int | None = None
    hbi_required: bool = False
