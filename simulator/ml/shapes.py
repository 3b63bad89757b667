"""JSON bodies of Microsoft.MachineLearningServices: ARM's side shaped on the examples under
``/work/shared/reference`` each docstring names (``aml_*.json``), what runs inside a workspace on
the recorded exchanges of azure-ai-ml 1.35.2 (``reference/recorded/``): component versions (01,
02), pipeline jobs (03-05), batch endpoints and deployments (11, 12), batch jobs (12, 13, 17).
"""

from __future__ import annotations

import copy
from typing import Any

from .. import shapes as common
from ..shapes import DEFAULT_LOCATION, JSON, last_segment, now_iso, scope_of, stable_uuid

WORKSPACE_TYPE = "Microsoft.MachineLearningServices/workspaces"
JOB_TYPE = f"{WORKSPACE_TYPE}/jobs"
BATCH_ENDPOINT_TYPE = f"{WORKSPACE_TYPE}/batchEndpoints"
BATCH_DEPLOYMENT_TYPE = f"{BATCH_ENDPOINT_TYPE}/deployments"


def ml_workspace(
    workspace_id: str,
    *,
    public_network_access: str,
    tenant_id: str,
    location: str = DEFAULT_LOCATION,
    properties_overrides: JSON | None = None,
    identity: JSON | None = None,
) -> JSON:
    """An AML workspace shaped on ``aml_workspaces_get.json`` (its ``privateEndpointConnections``
    are filled in when it is served, from its stored children)."""
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
        **(properties_overrides or {}),
    }
    return {
        "id": workspace_id,
        "name": name,
        "type": WORKSPACE_TYPE,
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
    workspace_id: str, name: str, private_endpoint_id: str, state: JSON
) -> JSON:
    """An AML private endpoint connection shaped on ``aml_privateendpointconnections_get.json``."""
    return {
        "id": f"{workspace_id}/privateEndpointConnections/{name}",
        "name": name,
        "type": f"{WORKSPACE_TYPE}/privateEndpointConnections",
        "properties": {
            "provisioningState": "Succeeded",
            "privateEndpoint": {"id": private_endpoint_id},
            "privateLinkServiceConnectionState": state,
        },
    }


def compute(
    workspace_id: str,
    name: str,
    *,
    location: str,
    compute_type: str = "AmlCompute",
    vm_size: str = "STANDARD_DS3_V2",
    subnet_id: str | None = None,
    disable_local_auth: bool | None = True,
    max_node_count: int | None = 4,
    min_node_count: int | None = 0,
    remote_login_port_public_access: str | None = "Disabled",
    current_node_count: int | None = None,
    target_node_count: int | None = None,
) -> JSON:
    """A compute shaped on ``aml_compute_get_amlcompute.json`` (AKS: ``aml_compute_list``); None
    leaves a key out, as ARM does. ``disableLocalAuth`` sits beside ``computeType`` (the spec's
    Compute base); a cluster is idle at its minimum unless node counts are given."""
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
            "nodeStateCounts": {
                "preparingNodeCount": 0,
                "runningNodeCount": max(current - idle, 0),
                "idleNodeCount": min(current, idle),
                **dict.fromkeys(("unusableNodeCount", "leavingNodeCount", "preemptedNodeCount"), 0),
            },
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
        "type": f"{WORKSPACE_TYPE}/computes",
        "name": name,
        "location": location,
        "properties": outer,
    }


def component_version(
    workspace_id: str, name: str, version: str, *, inputs: dict[str, Any] | None = None
) -> JSON:
    """A registered command component version (recorded file 01)."""
    ws_id = workspace_id.rstrip("/")
    spec_inputs = inputs or {
        "training_data": {"type": "uri_folder", "optional": False},
        "learning_rate": {"type": "number", "default": "0.01", "optional": True},
    }
    return {
        "id": f"{ws_id}/components/{name}/versions/{version}",
        "name": version,
        "type": f"{WORKSPACE_TYPE}/components/versions",
        "properties": {
            "description": f"Retrains the model ({name})",
            "tags": {},
            "properties": {},
            "isArchived": False,
            "isAnonymous": False,
            "provisioningState": "Succeeded",
            "componentSpec": {
                "$schema": "https://azuremlschemas.azureedge.net/development/commandComponent.schema.json",
                "name": name,
                "version": version,
                "display_name": name,
                "type": "command",
                "description": f"Retrains the model ({name})",
                "tags": {},
                "is_deterministic": True,
                "inputs": copy.deepcopy(spec_inputs),
                "outputs": {"model_output": {"type": "uri_folder"}},
                "code": f"azureml:{ws_id}/codes/0a1b2c3d-0000-4444-8888-123456789abc/versions/1",
                "environment": f"azureml:{ws_id}/environments/sklearn-env/versions/7",
                "command": "python train.py",
            },
        },
        "systemData": common.system_data(),
    }


def job_services(workspace_id: str, name: str, location: str = DEFAULT_LOCATION) -> JSON:
    ws_id = workspace_id.rstrip("/")
    endpoints = {
        "Tracking": f"azureml://{location}.api.azureml.ms/mlflow/v1.0{ws_id}?",
        "Studio": f"https://ml.azure.com/runs/{name}?wsid={ws_id}",
    }
    empty = dict.fromkeys(("status", "errorMessage", "properties", "nodes"))
    return {
        kind: {"jobServiceType": kind, "port": None, "endpoint": endpoint, **empty}
        for kind, endpoint in endpoints.items()
    }


def submitted_job(workspace_id: str, name: str, properties: JSON, creator: tuple[str, str]) -> JSON:
    """A job as ARM answers the PUT that created it (recorded file 03): the submitted properties
    plus the service's own (status, run properties, services)."""
    body = copy.deepcopy(properties)
    body.setdefault("tags", {})
    body.setdefault("isArchived", False)
    run_properties = body.setdefault("properties", {})
    if body.get("jobType") == "Pipeline":
        run_properties.update(
            {
                "azureml.DevPlatv2": "true",
                "azureml.runsource": "azureml.PipelineRun",
                "runSource": "MFE",
                "runType": "HTTP",
                "azureml.pipelineComponent": "pipelinerun",
            }
        )
    body["status"] = "NotStarted"
    body["services"] = job_services(workspace_id, name)
    return {
        "id": f"{workspace_id.rstrip('/')}/jobs/{name}",
        "name": name,
        "type": JOB_TYPE,
        "properties": body,
        "systemData": common.system_data(creator),
    }


def batch_endpoint(
    endpoint_id: str, *, scoring_uri: str, default_deployment: str | None, location: str
) -> JSON:
    """A batch endpoint at API 2023-10-01 (recorded file 11)."""
    return {
        "id": endpoint_id,
        "name": last_segment(endpoint_id),
        "type": BATCH_ENDPOINT_TYPE,
        "location": location,
        "kind": "",
        "tags": {},
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "description": "Batch scoring endpoint",
            "properties": {"BatchEndpointCreationApiVersion": "2022-05-01"},
            "scoringUri": scoring_uri,
            "swaggerUri": None,
            "authMode": "AADToken",
            "defaults": {"deploymentName": default_deployment},
            "provisioningState": "Succeeded",
        },
        "systemData": common.system_data(),
    }


def batch_deployment(endpoint_id: str, name: str, *, location: str) -> JSON:
    """A batch deployment (recorded file 12, the deployments list)."""
    workspace_id = endpoint_id.rsplit("/batchEndpoints/", 1)[0]
    return {
        "id": f"{endpoint_id}/deployments/{name}",
        "name": name,
        "type": BATCH_DEPLOYMENT_TYPE,
        "location": location,
        "tags": {},
        "properties": {
            "description": None,
            "properties": {},
            "model": {
                "referenceType": "Id",
                "assetId": f"{workspace_id}/models/drift-model/versions/2",
            },
            "codeConfiguration": {
                "codeId": f"{workspace_id}/codes/c0de/versions/1",
                "scoringScript": "batch_driver.py",
            },
            "environmentId": f"{workspace_id}/environments/sklearn-env/versions/7",
            "compute": f"{workspace_id}/computes/cpu-cluster",
            "errorThreshold": -1,
            "retrySettings": {"maxRetries": 3, "timeout": "PT5M"},
            "miniBatchSize": 10,
            "loggingLevel": "Info",
            "maxConcurrencyPerInstance": 1,
            "outputAction": "AppendRow",
            "outputFileName": "predictions.csv",
            "resources": {"instanceCount": 2},
            "provisioningState": "Succeeded",
        },
        "systemData": common.system_data(),
    }


def batch_job_reply(
    endpoint_id: str, deployment: str, name: str, properties: JSON, status: str
) -> JSON:
    """What the scoring URI answers to a POST (recorded files 12, 13, 17): the submitted
    properties echoed, with the job's status and interaction endpoints."""
    workspace_id = endpoint_id.rsplit("/batchEndpoints/", 1)[0]
    body = copy.deepcopy(properties)
    tracking = f"azureml://{DEFAULT_LOCATION}.api.azureml.ms/mlflow/v1.0{workspace_id}"
    studio = f"https://ml.azure.com/runs/{name}?wsid={workspace_id}"
    endpoints = {"Studio": {"endpoint": studio}, "Tracking": {"endpoint": tracking}}
    body |= {"status": status, "interactionEndpoints": endpoints}
    body |= {"output": None, "outputDataset": None}
    return {
        "id": f"{endpoint_id}/deployments/{deployment}/jobs/{name}",
        "name": name,
        "type": f"{BATCH_DEPLOYMENT_TYPE}/jobs",
        "properties": body,
        "systemData": common.system_data(),
    }


def batch_job_as_workspace_job(
    workspace_id: str,
    name: str,
    endpoint_name: str,
    deployment: str,
    experiment: str,
    inputs: JSON,
    tags: dict[str, str],
    creator: tuple[str, str],
) -> JSON:
    """The same batch job as ARM lists it among the workspace's jobs: a pipeline job whose tags
    mark it as a batch run (azure-ai-ml reads `azureml.batchrun`), with its output folder."""
    return {
        "id": f"{workspace_id.rstrip('/')}/jobs/{name}",
        "name": name,
        "type": JOB_TYPE,
        "properties": {
            "jobType": "Pipeline",
            "displayName": name,
            "experimentName": experiment,
            "tags": {**tags, "azureml.batchrun": "true", "azureml.jobtype": "azureml.batchjob"},
            "properties": {
                "azureml.batchrun": "true",
                "azureml.endpointname": endpoint_name,
                "azureml.deploymentname": deployment,
                "runSource": "BatchEndpoint",
            },
            "inputs": copy.deepcopy(inputs),
            "outputs": {
                "score": {
                    "jobOutputType": "uri_folder",
                    "mode": "Upload",
                    "uri": f"azureml://datastores/workspaceblobstore/paths/azureml/{name}/score/",
                }
            },
            "status": "NotStarted",
            "isArchived": False,
            "services": job_services(workspace_id, name),
        },
        "systemData": common.system_data(creator),
    }
