"""Which resources a private endpoint connects to, through the generic resources API (importing
azure-mgmt-network for one GET would cost about 0.35 s of cold start)."""

from __future__ import annotations

from typing import Any

from shared.adapters.clients import AzureClients
from shared.adapters.transport import ArmAdapter, json_mapping, json_objects, resource_properties
from shared.arm import ArmId

NETWORK_API_VERSION = "2024-05-01"


class NetworkAdapter(ArmAdapter):
    def private_link_targets(self, private_endpoint_id: ArmId) -> list[str]:
        links = private_links(self._clients, private_endpoint_id)
        return [t for link in links if isinstance(t := link.get("privateLinkServiceId"), str)]


def private_links(clients: AzureClients, endpoint_id: str) -> list[dict[str, Any]]:
    """The `properties` of every connection (automatic or manual) of a private endpoint."""
    what = f"{endpoint_id}: properties"
    properties = resource_properties(clients, endpoint_id, NETWORK_API_VERSION)
    return [
        json_mapping(connection.get("properties"), f"{what}.{key}")
        for key in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections")
        for connection in json_objects(properties.get(key), f"{what}.{key}")
    ]
