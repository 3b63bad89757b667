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
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

DEFAULT_LOCATION = "eastus"
DEFAULT_TENANT_ID = "72f988bf-0000-41af-91ab-2d7cd011db47"

AML_WORKSPACE_TYPE = "Microsoft.MachineLearningServices/workspaces"
AML_PEC_TYPE = "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections"
SYNAPSE_WORKSPACE_TYPE = "Microsoft.Synapse/workspaces"
MPE_TYPE = "Microsoft.Synapse/workspaces/managedVirtualNetworks/managedPrivateEndpoints"
PRIVATE_ENDPOINT_TYPE = "Microsoft.Network/privateEndpoints"
AML_COMPUTE_TYPE = "Microsoft.MachineLearningServices/workspaces/computes"
ROLE_ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"
STORAGE_ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"
KEY_VAULT_TYPE = "Microsoft.KeyVault/vaults"
CONTAINER_REGISTRY_TYPE = "Microsoft.ContainerRegistry/registries"


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


def now_iso() -> str:
    """The current UTC time as ARM writes it, with seven fractional digits and a ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _short(name: str, fallback: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())[:24] or fallback


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
    identity: JSON | None = None,
) -> JSON:
    """An AML workspace shaped on ``aml_workspaces_get.json``.

    ``properties.privateEndpointConnections`` is filled in when the workspace
    is served, from the connections stored as its children. ``identity``
    replaces the default system-assigned identity block.
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
        "identity": identity
        if identity is not None
        else {
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
    status: str | None = None,
) -> JSON:
    """A private endpoint shaped on ``network_privateendpoints_get_manualapproval.json``.

    A manual connection starts Pending (it waits for the target's owner); an
    automatic one is Approved at once, as in ``network_privateendpoints_get.json``.
    ``status`` overrides that starting status.
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
    if status is not None and status != state["status"]:
        state = connection_state(status, "", "None")
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


def _node_state_counts(idle: int, running: int = 0) -> JSON:
    return {
        "preparingNodeCount": 0,
        "runningNodeCount": running,
        "idleNodeCount": idle,
        "unusableNodeCount": 0,
        "leavingNodeCount": 0,
        "preemptedNodeCount": 0,
    }


def compute(
    workspace_id: str,
    name: str,
    *,
    compute_type: str,
    vm_size: str,
    subnet_id: str | None,
    disable_local_auth: bool | None,
    max_node_count: int | None,
    min_node_count: int | None,
    remote_login_port_public_access: str | None,
    location: str,
    current_node_count: int | None = None,
    target_node_count: int | None = None,
) -> JSON:
    """An AML compute shaped on ``aml_compute_get_amlcompute.json`` (AKS: ``aml_compute_list``).

    ``properties.disableLocalAuth`` sits on the compute itself, next to
    ``computeType`` (the Compute base of the spec), not in the nested
    type-specific ``properties.properties``. Arguments that are None leave
    their key out, the way ARM omits unset fields.

    * ``AmlCompute``: nested ``vmSize``, ``subnet.id``, ``scaleSettings``,
      ``remoteLoginPortPublicAccess`` and the allocation fields of the example;
      ``currentNodeCount``/``targetNodeCount`` are the minimum (idle) unless
      given (a cluster running jobs), ``allocationState`` ``Resizing`` while
      they differ, and ``nodeStateCounts`` counts the nodes above the minimum
      as running.
    * ``ComputeInstance``: nested ``vmSize``, ``subnet.id`` and
      ``sshSettings.sshPublicAccess`` (its remote-login switch).
    * ``AKS`` / ``Kubernetes``: the list example's shape (``resourceId`` of the
      cluster, no nested properties); an AKS compute with a subnet also gets
      ``properties.properties.aksNetworkingConfiguration.subnetId``.
    """
    now = now_iso()
    outer: JSON = {
        "description": "",
        "createdOn": now,
        "modifiedOn": now,
        "computeType": compute_type,
        "provisioningState": "Succeeded",
    }
    if disable_local_auth is not None:
        outer["disableLocalAuth"] = disable_local_auth
    kind = compute_type.lower()
    inner: JSON | None
    if kind == "amlcompute":
        idle = min_node_count or 0
        current = idle if current_node_count is None else current_node_count
        target = current if target_node_count is None else target_node_count
        scale: JSON = {"nodeIdleTimeBeforeScaleDown": "PT2M"}
        if max_node_count is not None:
            scale["maxNodeCount"] = max_node_count
        if min_node_count is not None:
            scale["minNodeCount"] = min_node_count
        inner = {
            "vmSize": vm_size,
            "vmPriority": "Dedicated",
            "osType": "Linux",
            "virtualMachineImage": None,
            "isolatedNetwork": False,
            "subnet": {"id": subnet_id},
            "scaleSettings": scale,
            "remoteLoginPortPublicAccess": remote_login_port_public_access,
            "allocationState": "Steady" if current == target else "Resizing",
            "allocationStateTransitionTime": now,
            "errors": None,
            "currentNodeCount": current,
            "targetNodeCount": target,
            # Nodes above the idle minimum are running jobs.
            "nodeStateCounts": _node_state_counts(min(current, idle), max(current - idle, 0)),
            "enableNodePublicIp": True,
        }
    elif kind == "computeinstance":
        ssh = (
            {"sshPublicAccess": remote_login_port_public_access, "adminUserName": "azureuser"}
            if remote_login_port_public_access in ("Enabled", "Disabled")
            else None
        )
        inner = {
            "vmSize": vm_size,
            "subnet": {"id": subnet_id},
            "applicationSharingPolicy": "Personal",
            "sshSettings": ssh,
            "computeInstanceAuthorizationType": "personal",
            "state": "Running",
            "errors": None,
            "enableNodePublicIp": True,
        }
    else:
        sub, rg = scope_of(workspace_id)
        suffix = stable_uuid(workspace_id, name).replace("-", "")[:13]
        outer["resourceId"] = (
            f"/subscriptions/{sub}/resourcegroups/{rg}/providers/"
            f"Microsoft.ContainerService/managedClusters/{name}-{suffix}"
        )
        inner = (
            {"agentVmSize": vm_size, "aksNetworkingConfiguration": {"subnetId": subnet_id}}
            if kind == "aks" and subnet_id is not None
            else None
        )
    if inner is not None:
        if subnet_id is None:
            inner.pop("subnet", None)
        outer["properties"] = {
            k: v
            for k, v in inner.items()
            if v is not None or k in ("virtualMachineImage", "errors")
        }
    return {
        "id": f"{workspace_id}/computes/{name}",
        "type": AML_COMPUTE_TYPE,
        "name": name,
        "location": location,
        "properties": outer,
    }


def role_assignment(
    scope: str,
    name: str,
    *,
    principal_id: str,
    role_definition_id: str,
    principal_type: str,
    updated_by: str,
    description: str | None = None,
    condition: str | None = None,
    condition_version: str | None = None,
) -> JSON:
    """A role assignment shaped on ``authz_roleassignments_create_resource.json`` (201 body).

    API 2022-04-01 also returns the audit fields (``createdOn``, ``updatedOn``,
    ``createdBy``, ``updatedBy``) and the nullable ``condition`` fields.
    """
    now = now_iso()
    scope = "/" + scope.strip("/") if scope.strip("/") else "/"
    prefix = "" if scope == "/" else scope
    return {
        "properties": {
            "roleDefinitionId": role_definition_id,
            "principalId": principal_id,
            "principalType": principal_type,
            "scope": scope,
            "condition": condition,
            "conditionVersion": condition_version,
            "createdOn": now,
            "updatedOn": now,
            "createdBy": None,
            "updatedBy": updated_by,
            "delegatedManagedIdentityResourceId": None,
            "description": description,
        },
        "id": f"{prefix}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "type": ROLE_ASSIGNMENT_TYPE,
        "name": name,
    }


def _network_acls() -> JSON:
    return {
        "bypass": "AzureServices",
        "virtualNetworkRules": [],
        "ipRules": [],
        "defaultAction": "Allow",
    }


def storage_account(
    resource_id: str, *, location: str = DEFAULT_LOCATION, properties_overrides: JSON | None = None
) -> JSON:
    """A minimal ``Microsoft.Storage/storageAccounts`` (StorageV2) as ARM's GET returns it."""
    name = last_segment(resource_id)
    host = _short(name, "sa")
    properties: JSON = {
        "provisioningState": "Succeeded",
        "creationTime": now_iso(),
        "primaryLocation": location,
        "statusOfPrimary": "available",
        "primaryEndpoints": {
            kind: f"https://{host}.{kind}.core.windows.net/"
            for kind in ("blob", "dfs", "file", "queue", "table", "web")
        },
        "accessTier": "Hot",
        "allowBlobPublicAccess": False,
        "minimumTlsVersion": "TLS1_2",
        "supportsHttpsTrafficOnly": True,
        "publicNetworkAccess": "Enabled",
        "networkAcls": _network_acls(),
        "encryption": {
            "keySource": "Microsoft.Storage",
            "services": {"blob": {"enabled": True}, "file": {"enabled": True}},
        },
        "privateEndpointConnections": [],
    }
    properties.update(properties_overrides or {})
    return {
        "id": resource_id,
        "name": name,
        "type": STORAGE_ACCOUNT_TYPE,
        "location": location,
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "tags": {},
        "properties": properties,
    }


def key_vault(
    resource_id: str,
    *,
    tenant_id: str,
    location: str = DEFAULT_LOCATION,
    properties_overrides: JSON | None = None,
) -> JSON:
    """A minimal ``Microsoft.KeyVault/vaults`` (RBAC authorization) as ARM's GET returns it."""
    name = last_segment(resource_id)
    properties: JSON = {
        "sku": {"family": "A", "name": "standard"},
        "tenantId": tenant_id,
        "accessPolicies": [],
        "enabledForDeployment": False,
        "enabledForDiskEncryption": False,
        "enabledForTemplateDeployment": False,
        "enableSoftDelete": True,
        "softDeleteRetentionInDays": 90,
        "enableRbacAuthorization": True,
        "enablePurgeProtection": True,
        "vaultUri": f"https://{name.lower()}.vault.azure.net/",
        "provisioningState": "Succeeded",
        "publicNetworkAccess": "Enabled",
        "networkAcls": _network_acls(),
        "privateEndpointConnections": [],
    }
    properties.update(properties_overrides or {})
    return {
        "id": resource_id,
        "name": name,
        "type": KEY_VAULT_TYPE,
        "location": location,
        "tags": {},
        "properties": properties,
    }


def container_registry(
    resource_id: str, *, location: str = DEFAULT_LOCATION, properties_overrides: JSON | None = None
) -> JSON:
    """A minimal Premium ``Microsoft.ContainerRegistry/registries`` as ARM's GET returns it."""
    name = last_segment(resource_id)
    properties: JSON = {
        "loginServer": f"{_short(name, 'acr')}.azurecr.io",
        "creationDate": now_iso(),
        "provisioningState": "Succeeded",
        "adminUserEnabled": False,
        "publicNetworkAccess": "Enabled",
        "networkRuleBypassOptions": "AzureServices",
        "networkRuleSet": {"defaultAction": "Allow", "ipRules": []},
        "zoneRedundancy": "Disabled",
        "anonymousPullEnabled": False,
        "dataEndpointEnabled": False,
        "encryption": {"status": "disabled"},
        "privateEndpointConnections": [],
    }
    properties.update(properties_overrides or {})
    return {
        "id": resource_id,
        "name": name,
        "type": CONTAINER_REGISTRY_TYPE,
        "location": location,
        "sku": {"name": "Premium", "tier": "Premium"},
        "tags": {},
        "properties": properties,
    }


def dependency_connection(
    resource_id: str, resource_type: str, *, pe_id: str, status: str, description: str
) -> JSON:
    """A private endpoint connection as embedded in a storage account, vault or registry.

    Same layout as the AML one (``aml_privateendpointconnections_get.json``),
    typed ``<resource type>/privateEndpointConnections``.
    """
    name = f"{last_segment(pe_id)}.{stable_uuid(resource_id, pe_id)}"
    return {
        "id": f"{resource_id}/privateEndpointConnections/{name}",
        "name": name,
        "type": f"{resource_type}/privateEndpointConnections",
        "properties": {
            "privateEndpoint": {"id": pe_id},
            "privateLinkServiceConnectionState": connection_state(status, description, "None"),
            "provisioningState": "Succeeded",
        },
    }
