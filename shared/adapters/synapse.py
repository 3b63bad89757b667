"""Azure Synapse workspaces: their identity and network settings (ARM) and their managed
private endpoints (the workspace's own data plane)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from shared.adapters.clients import AzureClients
from shared.adapters.transport import MalformedResponseError, json_pages, malformed_is_permanent
from shared.arm import ArmId, name_of, subscription_of
from shared.model import ManagedPrivateEndpoint, SynapseWorkspace

SYNAPSE_ARM_API_VERSION = "2021-06-01"
SYNAPSE_DEV_API_VERSION = "2020-12-01"
# A workspace's managed virtual network and exfiltration protection are fixed when it is
# created, and its identity rarely changes: caching the ARM read for a while saves a call per
# event. Managed private endpoints are never cached: a new one is exactly what we wait for.
WORKSPACE_CACHE_SECONDS = 600.0


class SynapseAdapter:
    """Reads what the approval and identity rules need to know about Synapse workspaces."""

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients
        self._workspaces: dict[str, tuple[float, SynapseWorkspace]] = {}

    @malformed_is_permanent
    def get_workspace(self, workspace_id: ArmId) -> SynapseWorkspace:
        """The workspace as ARM reports it (identity, managed VNet, exfiltration protection)."""
        key = workspace_id.lower()
        cached = self._workspaces.get(key)
        if cached and time.monotonic() - cached[0] < WORKSPACE_CACHE_SECONDS:
            return cached[1]
        resource = self._clients.resources(subscription_of(workspace_id)).resources.get_by_id(
            workspace_id, api_version=SYNAPSE_ARM_API_VERSION
        )
        if not isinstance(resource.properties, dict | None):
            raise MalformedResponseError(
                f"Synapse workspace {workspace_id}: 'properties' is a "
                f"{type(resource.properties).__name__}, not an object"
            )
        workspace = _workspace(workspace_id, resource)
        self._workspaces[key] = (time.monotonic(), workspace)
        return workspace

    @malformed_is_permanent
    def list_managed_private_endpoints(self, workspace_id: ArmId) -> list[ManagedPrivateEndpoint]:
        """Every managed private endpoint of the workspace's managed VNet, from the raw JSON."""
        return [_endpoint(item) for item in self._pages(name_of(workspace_id))]

    def _pages(self, workspace_name: str) -> Iterator[dict[str, Any]]:
        client = self._clients.synapse_dev(workspace_name)
        # Bounded, same-origin paging; a body of the wrong shape is a MalformedResponseError,
        # so the whole read fails and nothing is approved on part of it.
        return json_pages(
            client,
            client.format_url("/managedVirtualNetworks/default/managedPrivateEndpoints"),
            {"api-version": SYNAPSE_DEV_API_VERSION},
            what=f"Synapse workspace {workspace_name}: managed private endpoints",
        )


def _workspace(workspace_id: ArmId, resource: Any) -> SynapseWorkspace:
    properties = resource.properties or {}
    settings = properties.get("managedVirtualNetworkSettings") or {}
    identity = resource.identity
    return SynapseWorkspace(
        id=workspace_id,
        principal_id=getattr(identity, "principal_id", None) if identity else None,
        managed_virtual_network=bool(properties.get("managedVirtualNetwork")),
        prevent_data_exfiltration=settings.get("preventDataExfiltration") is True,
    )


def _endpoint(item: dict[str, Any]) -> ManagedPrivateEndpoint:
    properties = item.get("properties") or {}
    if not isinstance(properties, dict):
        raise MalformedResponseError(
            f"managed private endpoint {str(item.get('name'))[:100]!r}: 'properties' is a "
            f"{type(properties).__name__}, not an object"
        )

    def text(key: str) -> str | None:
        value = properties.get(key)
        return value if isinstance(value, str) else None

    return ManagedPrivateEndpoint(
        name=str(item.get("name") or ""),
        private_link_resource_id=text("privateLinkResourceId"),
        resource_id=text("resourceId"),
        group_id=text("groupId"),
    )
