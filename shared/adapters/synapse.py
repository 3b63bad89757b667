"""Azure Synapse workspaces: their identity and network settings (ARM) and their managed
private endpoints (the workspace's own data plane)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from shared.adapters.clients import AzureClients
from shared.arm import ArmId, name_of, subscription_of
from shared.model import ManagedPrivateEndpoint, SynapseWorkspace
from shared.planning.synapse_facts import read_synapse_workspace

SYNAPSE_ARM_API_VERSION = "2021-06-01"
SYNAPSE_DEV_API_VERSION = "2020-12-01"
# The policy rule about Synapse workspaces may use a read this old: it reports, never approves.
# Evidence for approvals and role assignments always reads afresh (`fresh=True`), because a
# workspace can be deleted and its name taken by someone else within any cache lifetime.
WORKSPACE_CACHE_SECONDS = 600.0


class SynapseAdapter:
    """Reads what the approval and identity rules need to know about Synapse workspaces."""

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients
        self._workspaces: dict[str, tuple[float, SynapseWorkspace]] = {}

    def data_plane_endpoint(self, workspace_name: str) -> str:
        """The configured data-plane endpoint of one workspace (what the app asks)."""
        return self._clients.settings.synapse_endpoint_for(workspace_name)

    def get_workspace(self, workspace_id: ArmId, *, fresh: bool = False) -> SynapseWorkspace:
        """The workspace as ARM reports it (identity, managed VNet, exfiltration protection).

        Raises `SynapseAnswerError` when ARM's body does not describe this workspace.
        """
        key = workspace_id.lower()
        cached = self._workspaces.get(key)
        if not fresh and cached and time.monotonic() - cached[0] < WORKSPACE_CACHE_SECONDS:
            return cached[1]
        body = self._clients.resources(subscription_of(workspace_id)).resources.get_by_id(
            workspace_id,
            api_version=SYNAPSE_ARM_API_VERSION,
            # The raw JSON: the flags are judged on their exact JSON values, not on a model's
            # reading of them.
            cls=lambda pipeline_response, _deserialized, _headers: (
                pipeline_response.http_response.json()
            ),
        )
        workspace = read_synapse_workspace(workspace_id, body)
        self._workspaces[key] = (time.monotonic(), workspace)
        return workspace

    def list_managed_private_endpoints(self, workspace_id: ArmId) -> list[ManagedPrivateEndpoint]:
        """Every managed private endpoint of the workspace's managed VNet, from the raw JSON."""
        return [_endpoint(item) for item in self._pages(name_of(workspace_id))]

    def _pages(self, workspace_name: str) -> Iterator[dict[str, Any]]:
        from azure.core.exceptions import HttpResponseError

        client = self._clients.synapse_dev(workspace_name)
        url: str | None = client.format_url(
            "/managedVirtualNetworks/default/managedPrivateEndpoints"
        )
        params: dict[str, str] | None = {"api-version": SYNAPSE_DEV_API_VERSION}
        while url:
            from azure.core.rest import HttpRequest

            response = client.send_request(HttpRequest("GET", url, params=params))
            if response.status_code != 200:
                raise HttpResponseError(response=response)
            body = response.json()
            yield from body.get("value") or []
            # nextLink already carries the query string, api-version included.
            url, params = body.get("nextLink") or None, None


def _endpoint(item: dict[str, Any]) -> ManagedPrivateEndpoint:
    properties = item.get("properties") or {}

    def text(key: str) -> str | None:
        value = properties.get(key)
        return value if isinstance(value, str) else None

    return ManagedPrivateEndpoint(
        name=str(item.get("name") or ""),
        private_link_resource_id=text("privateLinkResourceId"),
        resource_id=text("resourceId"),
        group_id=text("groupId"),
    )
