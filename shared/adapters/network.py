"""Which resources a private endpoint connects to, through the generic resources API (importing
azure-mgmt-network for one GET would cost about 0.35 s of cold start)."""

from __future__ import annotations

from shared.adapters.clients import AzureClients
from shared.adapters.transport import json_mapping, json_objects, malformed_is_permanent
from shared.arm import ArmId, subscription_of

NETWORK_API_VERSION = "2024-05-01"


class NetworkAdapter:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    @malformed_is_permanent
    def private_link_targets(self, private_endpoint_id: ArmId) -> list[str]:
        """The `privateLinkServiceId` of every connection (automatic or manual) of an endpoint."""
        resource = self._clients.resources(
            subscription_of(private_endpoint_id)
        ).resources.get_by_id(private_endpoint_id, api_version=NETWORK_API_VERSION)
        what = f"{private_endpoint_id}: properties"
        properties = json_mapping(resource.properties, what)
        targets: list[str] = []
        for key in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
            for connection in json_objects(properties.get(key), f"{what}.{key}"):
                target = json_mapping(connection.get("properties"), f"{what}.{key}").get(
                    "privateLinkServiceId"
                )
                if isinstance(target, str):
                    targets.append(target)
        return targets
