"""Synapse workspaces: identity and network settings (ARM), managed private endpoints (dev)."""

from __future__ import annotations

import time
from typing import Any

from shared.adapters import transport
from shared.adapters.clients import AzureClients
from shared.arm import ArmId, name_of, subscription_of
from shared.bounds import excerpt
from shared.model import ManagedPrivateEndpoint, SynapseWorkspace
from shared.planning.synapse_facts import read_synapse_workspace

SYNAPSE_ARM_API_VERSION = "2021-06-01"
SYNAPSE_DEV_API_VERSION = "2020-12-01"
# For the policy rule, which only reports. Approvals read afresh: a name can be retaken meanwhile.
WORKSPACE_CACHE_SECONDS = 600.0


class SynapseAdapter(transport.ArmAdapter):
    def __init__(self, clients: AzureClients) -> None:
        super().__init__(clients)
        self._workspaces: dict[str, tuple[float, SynapseWorkspace]] = {}

    def data_plane_endpoint(self, workspace_name: str) -> str:
        return self._clients.settings.synapse_endpoint_for(workspace_name)

    def get_workspace(self, workspace_id: ArmId, *, fresh: bool = False) -> SynapseWorkspace:
        key = workspace_id.lower()
        cached = self._workspaces.get(key)
        if not fresh and cached and time.monotonic() - cached[0] < WORKSPACE_CACHE_SECONDS:
            return cached[1]
        body = self._clients.resources(subscription_of(workspace_id)).resources.get_by_id(
            workspace_id,
            api_version=SYNAPSE_ARM_API_VERSION,
            # The raw JSON: the flags are judged on their exact values, not a model's reading.
            cls=lambda response, _model, _headers: response.http_response.json(),
        )
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict | None):
            # Not the shape of a resource at all: malformed, not merely another answer.
            raise transport.MalformedResponseError(
                f"Synapse workspace {workspace_id}: the body or its 'properties' is not an object"
            )
        workspace = read_synapse_workspace(workspace_id, body)
        self._workspaces[key] = (time.monotonic(), workspace)
        return workspace

    def list_managed_private_endpoints(self, workspace_id: ArmId) -> list[ManagedPrivateEndpoint]:
        name = name_of(workspace_id)
        client = self._clients.synapse_dev(name)
        # A page of the wrong shape fails the whole read: nothing is approved on part of it.
        url = client.format_url("/managedVirtualNetworks/default/managedPrivateEndpoints")
        what = f"Synapse workspace {name}: managed private endpoints"
        query = {"api-version": SYNAPSE_DEV_API_VERSION}
        return [_endpoint(item) for item in transport.json_pages(client, url, query, what=what)]


def _endpoint(item: dict[str, Any]) -> ManagedPrivateEndpoint:
    what = f"managed private endpoint {excerpt(item.get('name'), 100)!r}: 'properties'"
    properties = transport.json_mapping(item.get("properties") or None, what)
    text = {key: value for key, value in properties.items() if isinstance(value, str)}.get
    return ManagedPrivateEndpoint(
        name=str(item.get("name") or ""),
        private_link_resource_id=text("privateLinkResourceId"),
        resource_id=text("resourceId"),
    )
