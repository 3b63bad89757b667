"""Private endpoints (Microsoft.Network): which resources a private endpoint connects to.

Read through the generic resources API: importing azure-mgmt-network for one GET would cost
about 0.35 s of cold start.
"""

from __future__ import annotations

from shared.adapters.clients import AzureClients
from shared.arm import ArmId, subscription_of

NETWORK_API_VERSION = "2024-05-01"


class NetworkAdapter:
    """Reads private endpoints."""

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    def private_link_targets(self, private_endpoint_id: ArmId) -> list[str]:
        """The `privateLinkServiceId` of every connection (automatic or manual) of an endpoint."""
        resource = self._clients.resources(
            subscription_of(private_endpoint_id)
        ).resources.get_by_id(private_endpoint_id, api_version=NETWORK_API_VERSION)
        properties = resource.properties or {}
        targets: list[str] = []
        for key in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
            for connection in properties.get(key) or []:
                target = (connection.get("properties") or {}).get("privateLinkServiceId")
                if isinstance(target, str):
                    targets.append(target)
        return targets
