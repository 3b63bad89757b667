"""Builders for the JSON bodies the simulator serves.

Every builder follows one of the real Azure REST examples kept in
``/work/shared/reference`` (named in each docstring), so code tested against
the simulator sees the same field names, nesting and casing as in Azure.
Generated identifiers are derived from the resource id with ``uuid5`` so that
a seeded world looks the same on every run, which keeps test failures
reproducible.
"""

from __future__ import annotations

import uuid
from typing import Any

JSON = dict[str, Any]

DEFAULT_LOCATION = "eastus"
DEFAULT_TENANT_ID = "72f988bf-0000-41af-91ab-2d7cd011db47"

AML_WORKSPACE_TYPE = "Microsoft.MachineLearningServices/workspaces"
AML_PEC_TYPE = "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections"
SYNAPSE_WORKSPACE_TYPE = "Microsoft.Synapse/workspaces"
MPE_TYPE = "Microsoft.Synapse/workspaces/managedVirtualNetworks/managedPrivateEndpoints"
PRIVATE_ENDPOINT_TYPE = "Microsoft.Network/privateEndpoints"


def stable_uuid(*parts: str) -> str:
    """Return a GUID that depends only on ``parts`` (case-insensitive)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(p.lower() for p in parts)))


def last_segment(arm_id: str) -> str:
    """Return the last path segment of an ARM id (the resource name)."""
    return arm_id.rstrip("/").rsplit("/", 1)[-1]


def scope_of(arm_id: str) -> tuple[str, str]:
    """Return ``(subscription_id, resource_group)`` of an ARM id.

    Missing parts come back as empty strings; callers only use them to make
    realistic-looking sibling ids.
    """
    parts = arm_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    sub = parts[lowered.index("subscriptions") + 1] if "subscriptions" in lowered else ""
    rg = parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else ""
    return sub, rg


def arm_type_of(arm_id: str) -> str:
    """Best-effort resource type of an ARM id, e.g. ``Microsoft.Network/privateEndpoints``."""
    parts = arm_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return "resource"
    # The last "providers" segment wins: extension resources such as role
    # assignments live under another resource's id.
    index = len(lowered) - 1 - lowered[::-1].index("providers")
    rest = parts[index + 1 :]
    if not rest:
        return "resource"
    # rest = [namespace, type, name, childType, childName, ...]
    types = [rest[0], *rest[1::2]]
    return "/".join(types)


def connection_state(status: str, description: str, actions_required: str) -> JSON:
    """A ``privateLinkServiceConnectionState`` object."""
    return {"status": status, "description": description, "actionsRequired": actions_required}


def ml_workspace(
    workspace_id: str,
    *,
    public_network_access: str,
    tenant_id: str,
    location: str = DEFAULT_LOCATION,
    properties_overrides: JSON | None = None,
) -> JSON:
    """An AML workspace shaped on ``aml_workspaces_get.json``.

    ``properties.privateEndpointConnections`` is filled in when the workspace
    is served, from the connections stored as its children.
    """
    name = last_segment(workspace_id)
    sub, rg = scope_of(workspace_id)
    rg_prefix = f"/subscriptions/{sub}/resourceGroups/{rg}/providers"
    short = "".join(ch for ch in name.lower() if ch.isalnum())[:16] or "ws"
    properties: JSON = {
        "friendlyName": name,
        "description": "",
        "storageAccount": f"{rg_prefix}/Microsoft.Storage/storageAccounts/{short}sa",
        "keyVault": f"{rg_prefix}/Microsoft.KeyVault/vaults/{short}kv",
        "applicationInsights": f"{rg_prefix}/microsoft.insights/components/{short}ai",
        "containerRegistry": f"{rg_prefix}/Microsoft.ContainerRegistry/registries/{short}acr",
        "discoveryUrl": f"https://{location}.api.azureml.ms/discovery",
        "workspaceId": stable_uuid(workspace_id, "workspaceId"),
        "hbiWorkspace": False,
        "allowPublicAccessWhenBehindVnet": False,
        "publicNetworkAccess": public_network_access,
        "privateLinkCount": 0,
        "provisioningState": "Succeeded",
        "managedNetwork": {"isolationMode": "Disabled"},
        "privateEndpointConnections": [],
    }
    properties.update(properties_overrides or {})
    return {
        "id": workspace_id,
        "name": name,
        "type": AML_WORKSPACE_TYPE,
        "location": location,
        "identity": {
            "type": "SystemAssigned",
            "principalId": stable_uuid(workspace_id, "principalId"),
            "tenantId": tenant_id,
        },
        "sku": {"name": "Basic", "tier": "Basic"},
        "properties": properties,
    }


def private_endpoint_connection(
    workspace_id: str,
    name: str,
    *,
    private_endpoint_id: str,
    status: str,
    description: str,
    actions_required: str,
) -> JSON:
    """An AML private endpoint connection shaped on ``aml_privateendpointconnections_get.json``."""
    return {
        "id": f"{workspace_id}/privateEndpointConnections/{name}",
        "name": name,
        "type": AML_PEC_TYPE,
        "properties": {
            "provisioningState": "Succeeded",
            "privateEndpoint": {"id": private_endpoint_id},
            "privateLinkServiceConnectionState": connection_state(
                status, description, actions_required
            ),
        },
    }


def synapse_workspace(
    workspace_id: str,
    *,
    principal_id: str,
    tenant_id: str,
    managed_vnet: bool,
    prevent_data_exfiltration: bool,
    location: str = DEFAULT_LOCATION,
) -> JSON:
    """A Synapse workspace shaped on the 200 body of ``synapse_workspaces_createorupdate.json``.

    Without a managed virtual network ``properties.managedVirtualNetwork`` is
    left out, as ARM does for such workspaces.
    """
    name = last_segment(workspace_id)
    short = "".join(ch for ch in name.lower() if ch.isalnum())[:16] or "syn"
    properties: JSON = {
        "defaultDataLakeStorage": {
            "accountUrl": f"https://{short}adls.dfs.core.windows.net",
            "filesystem": "default",
        },
        "connectivityEndpoints": {
            "web": f"https://web.azuresynapse.net?workspace={workspace_id}",
            "dev": f"https://{name}.dev.azuresynapse.net",
            "sqlOnDemand": f"{name}-ondemand.sql.azuresynapse.net",
            "sql": f"{name}.sql.azuresynapse.net",
        },
        "managedVirtualNetworkSettings": {
            "preventDataExfiltration": prevent_data_exfiltration,
            "linkedAccessCheckOnTargetResource": False,
            "allowedAadTenantIdsForLinking": [],
        },
        "sqlAdministratorLogin": "sqladminuser",
        "managedResourceGroupName": f"synapseworkspace-managedrg-{stable_uuid(workspace_id)}",
        "provisioningState": "Succeeded",
        "privateEndpointConnections": [],
        "workspaceUID": stable_uuid(workspace_id, "workspaceUID"),
        "encryption": {"doubleEncryptionEnabled": False},
        "publicNetworkAccess": "Enabled",
    }
    if managed_vnet:
        properties["managedVirtualNetwork"] = "default"
    return {
        "id": workspace_id,
        "name": name,
        "type": SYNAPSE_WORKSPACE_TYPE,
        "location": location,
        "identity": {"type": "SystemAssigned", "principalId": principal_id, "tenantId": tenant_id},
        "properties": properties,
        "tags": {},
    }


def managed_private_endpoint(
    name: str,
    *,
    private_link_resource_id: str,
    resource_id: str | None,
    group_id: str,
    status: str,
    ip_address: str,
) -> JSON:
    """A Synapse data-plane MPE shaped on ``synapse_dataplane_managedprivateendpoints_list.json``.

    ``properties.resourceId`` (the ARM id of the private endpoint Synapse made
    in its managed network) is left out when ``resource_id`` is None, the way
    older responses look.
    """
    target = last_segment(private_link_resource_id).lower()
    fqdn = (
        f"{stable_uuid(private_link_resource_id)}.workspace.{DEFAULT_LOCATION}.api.azureml.ms"
        if group_id.lower() == "amlworkspace"
        else f"{target}.{group_id.lower()}.core.windows.net"
    )
    properties: JSON = {
        "privateLinkResourceId": private_link_resource_id,
        "groupId": group_id,
        "provisioningState": "Succeeded",
        "connectionState": {"status": status, "description": "", "actionsRequired": ""},
        "fqdns": [fqdn],
    }
    if resource_id is not None:
        properties["resourceId"] = resource_id
    properties["ipAddress"] = ip_address
    return {"type": MPE_TYPE, "name": name, "properties": properties}


def private_endpoint(
    pe_id: str,
    *,
    private_link_service_id: str,
    group_ids: list[str],
    manual: bool,
    location: str = DEFAULT_LOCATION,
) -> JSON:
    """A private endpoint shaped on ``network_privateendpoints_get_manualapproval.json``.

    A manual connection starts Pending (it waits for the target's owner); an
    automatic one is Approved at once, as in ``network_privateendpoints_get.json``.
    """
    name = last_segment(pe_id)
    sub, rg = scope_of(pe_id)
    collection = (
        "manualPrivateLinkServiceConnections" if manual else "privateLinkServiceConnections"
    )
    state = (
        connection_state("Pending", "Awaiting approval", "None")
        if manual
        else connection_state("Approved", "Auto-approved", "None")
    )
    connection: JSON = {
        "id": f"{pe_id}/{collection}/{name}",
        "name": name,
        "properties": {
            "privateLinkServiceId": private_link_service_id,
            "groupIds": list(group_ids),
            "requestMessage": "Please approve my connection.",
            "privateLinkServiceConnectionState": state,
        },
    }
    nic_suffix = stable_uuid(pe_id, "nic").replace("-", "")[:8]
    network = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network"
    return {
        "name": name,
        "id": pe_id,
        "type": PRIVATE_ENDPOINT_TYPE,
        "location": location,
        "properties": {
            "provisioningState": "Succeeded",
            "privateLinkServiceConnections": [] if manual else [connection],
            "manualPrivateLinkServiceConnections": [connection] if manual else [],
            "subnet": {"id": f"{network}/virtualNetworks/{name}-vnet/subnets/default"},
            "networkInterfaces": [
                {"id": f"{network}/networkInterfaces/{name}.nic.{nic_suffix}"},
            ],
            "customDnsConfigs": [],
            "applicationSecurityGroups": [],
            "ipConfigurations": [],
            "customNetworkInterfaceName": "",
        },
    }
