"""JSON bodies of AML workspaces, their private endpoint connections and computes, each shaped on
the example under ``/work/shared/reference`` its docstring names (``aml_*.json``)."""

from __future__ import annotations

from ..shapes import (
    DEFAULT_LOCATION,
    JSON,
    connection_state,
    last_segment,
    now_iso,
    scope_of,
    stable_uuid,
)

AML_WORKSPACE_TYPE = "Microsoft.MachineLearningServices/workspaces"
AML_PEC_TYPE = "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections"
AML_COMPUTE_TYPE = "Microsoft.MachineLearningServices/workspaces/computes"


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
        # WorkspaceProperties.tenantId (read-only) of the 2023-04-01 API the app speaks.
        "tenantId": tenant_id,
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
