"""What the scope rule reads from ARM (issue 17): the subscriptions under a management group,
the AML workspaces of a subscription or resource group, and one workspace's tags.

Raw ARM reads through the app's guarded pipeline (`AzureClients.arm_pipeline`), bounded paging:
a read that fails part-way raises, so nothing is decided on half a list.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError

from shared.adapters.clients import AzureClients
from shared.adapters.transport import json_mapping, json_object, json_pages, malformed_is_permanent
from shared.scope import group_name

# Management groups' descendants (Microsoft.Management, stable).
MANAGEMENT_API_VERSION = "2020-05-01"
# Azure ML workspaces, as the management SDK the app uses.
WORKSPACES_API_VERSION = "2023-04-01"
WORKSPACES = "/providers/Microsoft.MachineLearningServices/workspaces"


class EstateAdapter:
    """Reads the estate the scope names."""

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    @malformed_is_permanent
    def subscriptions_under(self, management_group: str) -> frozenset[str]:
        """The subscriptions (lower case) anywhere under a management group: its descendants
        (`GET .../managementGroups/{id}/descendants`, which needs
        `Microsoft.Management/managementGroups/descendants/read` there)."""
        client = self._clients.arm_pipeline()
        path = f"/providers/Microsoft.Management/managementGroups/{group_name(management_group)}"
        found = set()
        for item in json_pages(
            client,
            client.format_url(f"{path}/descendants"),
            {"api-version": MANAGEMENT_API_VERSION},
            what=f"descendants of {management_group}",
        ):
            if str(item.get("id", "")).lower().startswith("/subscriptions/"):
                found.add(str(item.get("name", "")).lower())
        return frozenset(found)

    @malformed_is_permanent
    def workspaces_in(self, container: str) -> list[tuple[str, dict[str, Any]]]:
        """(ID, tags) of every AML workspace in a subscription or resource group."""
        client = self._clients.arm_pipeline()
        return [
            (str(item.get("id", "")), json_mapping(item.get("tags"), "workspace tags"))
            for item in json_pages(
                client,
                client.format_url(f"{container}{WORKSPACES}"),
                {"api-version": WORKSPACES_API_VERSION},
                what=f"Azure ML workspaces in {container}",
            )
        ]

    @malformed_is_permanent
    def workspace_tags(self, workspace_id: str) -> dict[str, Any]:
        """The workspace's tags as ARM reports them now."""
        from azure.core.rest import HttpRequest

        client = self._clients.arm_pipeline()
        response = client.send_request(
            HttpRequest(
                "GET",
                client.format_url(workspace_id),
                params={"api-version": WORKSPACES_API_VERSION},
            )
        )
        if response.status_code != 200:
            raise HttpResponseError(response=response)
        body = json_object(response, f"workspace {workspace_id}")
        return json_mapping(body.get("tags"), f"workspace {workspace_id}: tags")
