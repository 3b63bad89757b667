"""JSON bodies of Synapse workspaces (ARM) and managed private endpoints (data plane), each shaped
on the example under ``/work/shared/reference`` its docstring names (``synapse_*.json``)."""

from __future__ import annotations

from ..shapes import DEFAULT_LOCATION, JSON, last_segment, stable_uuid

SYNAPSE_WORKSPACE_TYPE = "Microsoft.Synapse/workspaces"
MPE_TYPE = "Microsoft.Synapse/workspaces/managedVirtualNetworks/managedPrivateEndpoints"


def synapse_workspace(
    workspace_id: str, principal_id: str, tenant_id: str, managed_vnet: bool, exfiltration: bool
) -> JSON:
    """A Synapse workspace shaped on the 200 body of ``synapse_workspaces_createorupdate.json``
    (without a managed virtual network, ``managedVirtualNetwork`` is left out, as ARM does)."""
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
            "preventDataExfiltration": exfiltration,
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
        "location": DEFAULT_LOCATION,
        "identity": {"type": "SystemAssigned", "principalId": principal_id, "tenantId": tenant_id},
        "properties": properties,
        "tags": {},
    }


def managed_private_endpoint(
    name: str,
    private_link_resource_id: str,
    resource_id: str | None,
    group_id: str,
    status: str,
    ip_address: str,
) -> JSON:
    """A Synapse data-plane MPE shaped on ``synapse_dataplane_managedprivateendpoints_list.json``
    (``resourceId``, the private endpoint Synapse made, left out when None, as in older data)."""
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
