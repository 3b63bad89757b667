"""Reading what the policy rules need about an AML workspace, and applying the two remediations.

Workspace and computes through the ML SDK; the storage account, key vault and container
registry (and their private endpoints) through the generic resources API, so that three more
management SDKs stay out of the cold start.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import AzureError

from shared.adapters.clients import AzureClients
from shared.adapters.errors import describe, is_transient
from shared.arm import ArmId, is_arm_id, name_of, resource_group_of, same_arm_id, subscription_of
from shared.policy.facts import ComputeFacts, DependencyFacts, DependencyKind

NETWORK_API_VERSION = "2024-05-01"
DEPENDENCY_API_VERSIONS = {
    DependencyKind.STORAGE: "2023-05-01",
    DependencyKind.KEY_VAULT: "2023-07-01",
    DependencyKind.CONTAINER_REGISTRY: "2023-07-01",
}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class WorkspaceFactsAdapter:
    """Reads workspace properties, computes and dependencies; patches what remediation allows."""

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    def _ml(self, workspace_id: str) -> Any:
        return self._clients.machine_learning(subscription_of(workspace_id))

    def workspace(self, workspace_id: ArmId) -> Any:
        """The workspace model (2023-04-01)."""
        return self._ml(workspace_id).workspaces.get(
            resource_group_of(workspace_id), name_of(workspace_id)
        )

    def computes(self, workspace_id: ArmId) -> list[ComputeFacts]:
        """Every compute of the workspace, in one paged list."""
        pages = self._ml(workspace_id).compute.list(
            resource_group_of(workspace_id), name_of(workspace_id)
        )
        return [_compute(item) for item in pages]

    def dependency(self, kind: DependencyKind, resource_id: str | None) -> DependencyFacts:
        """Which private link groups of a dependency have approved private endpoints."""
        if not resource_id or not is_arm_id(resource_id):
            return DependencyFacts(kind, None)
        resources = self._clients.resources(subscription_of(resource_id)).resources
        try:
            resource = resources.get_by_id(resource_id, api_version=DEPENDENCY_API_VERSIONS[kind])
            groups: set[str] = set()
            for connection in (resource.properties or {}).get("privateEndpointConnections") or []:
                properties = connection.get("properties") or {}
                state = properties.get("privateLinkServiceConnectionState") or {}
                endpoint_id = _text((properties.get("privateEndpoint") or {}).get("id"))
                if str(state.get("status", "")).lower() != "approved" or not endpoint_id:
                    continue
                # The connection does not say which sub-resource it serves; the endpoint does.
                groups |= self._groups_of(endpoint_id, resource_id)
        except AzureError as error:
            if is_transient(error):
                raise
            return DependencyFacts(kind, resource_id, error=describe(error))
        return DependencyFacts(kind, resource_id, approved_groups=frozenset(groups))

    def _groups_of(self, endpoint_id: str, target_id: str) -> set[str]:
        endpoint = self._clients.resources(subscription_of(endpoint_id)).resources.get_by_id(
            endpoint_id, api_version=NETWORK_API_VERSION
        )
        groups: set[str] = set()
        properties = endpoint.properties or {}
        for key in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
            for link in properties.get(key) or []:
                link_properties = link.get("properties") or {}
                if same_arm_id(link_properties.get("privateLinkServiceId"), target_id):
                    groups |= {str(g).lower() for g in link_properties.get("groupIds") or []}
        return groups

    def disable_public_network_access(self, workspace_id: ArmId) -> str:
        from azure.mgmt.machinelearningservices.models import WorkspaceUpdateParameters

        poller = self._ml(workspace_id).workspaces.begin_update(
            resource_group_of(workspace_id),
            name_of(workspace_id),
            WorkspaceUpdateParameters(public_network_access="Disabled"),
        )
        return str(poller.result().public_network_access)

    def set_max_nodes(self, compute_id: str, max_nodes: int) -> int | None:
        from azure.mgmt.machinelearningservices.models import (
            ClusterUpdateParameters,
            ScaleSettings,
            ScaleSettingsInformation,
        )

        workspace_id = compute_id.rsplit("/computes/", 1)[0]
        current = self._ml(workspace_id).compute.get(
            resource_group_of(workspace_id), name_of(workspace_id), name_of(compute_id)
        )
        scale = getattr(getattr(current.properties, "properties", None), "scale_settings", None)
        poller = self._ml(workspace_id).compute.begin_update(
            resource_group_of(workspace_id),
            name_of(workspace_id),
            name_of(compute_id),
            ClusterUpdateParameters(
                properties=ScaleSettingsInformation(
                    scale_settings=ScaleSettings(
                        max_node_count=max_nodes,
                        # Keep what else is set: a PATCH of scale settings replaces them whole.
                        min_node_count=getattr(scale, "min_node_count", 0) or 0,
                        node_idle_time_before_scale_down=getattr(
                            scale, "node_idle_time_before_scale_down", None
                        ),
                    )
                )
            ),
        )
        updated = _compute(poller.result())
        return updated.max_node_count


def workspace_identity(model: Any) -> tuple[str | None, tuple[str, ...]]:
    identity = getattr(model, "identity", None)
    if identity is None:
        return None, ()
    assigned = getattr(identity, "user_assigned_identities", None) or {}
    return _text(getattr(identity, "type", None)), tuple(sorted(assigned))


def _compute(item: Any) -> ComputeFacts:
    compute = item.properties
    inner = getattr(compute, "properties", None)
    scale = getattr(inner, "scale_settings", None)
    subnet = getattr(inner, "subnet", None)
    local_auth = getattr(compute, "disable_local_auth", None)
    return ComputeFacts(
        id=str(item.id or ""),
        name=str(item.name or ""),
        compute_type=str(getattr(compute, "compute_type", "") or ""),
        vm_size=_text(getattr(inner, "vm_size", None)),
        subnet_id=_text(getattr(subnet, "id", None)),
        disable_local_auth=local_auth if isinstance(local_auth, bool) else None,
        max_node_count=getattr(scale, "max_node_count", None),
        min_node_count=getattr(scale, "min_node_count", None),
        remote_login_port_public_access=_text(
            getattr(inner, "remote_login_port_public_access", None)
        ),
        current_node_count=_count(getattr(inner, "current_node_count", None)),
        target_node_count=_count(getattr(inner, "target_node_count", None)),
    )


def _count(value: object) -> int | None:
    # A node count of the wrong shape is not a count: the guard then defers, it never guesses.
    return value if isinstance(value, int) and not isinstance(value, bool) else None
