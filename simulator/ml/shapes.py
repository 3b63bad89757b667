"""JSON bodies of Azure ML's jobs, components and batch endpoints, as the simulator serves them.

Shaped on the recorded exchanges of azure-ai-ml 1.35.2 (`reference/recorded/`, files 01-18), whose
bodies follow the azure-rest-api-specs examples named there: component versions (01, 02), pipeline
jobs (03-05), batch endpoints and deployments (11, 12) and the scoring URI's batch job (12, 13, 17).
"""

from __future__ import annotations

import copy
from typing import Any

from ..shapes import DEFAULT_LOCATION, JSON, last_segment, now_iso

COMPONENT_VERSION_TYPE = "Microsoft.MachineLearningServices/workspaces/components/versions"
JOB_TYPE = "Microsoft.MachineLearningServices/workspaces/jobs"
BATCH_ENDPOINT_TYPE = "Microsoft.MachineLearningServices/workspaces/batchEndpoints"
BATCH_DEPLOYMENT_TYPE = "Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments"
BATCH_JOB_TYPE = "Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments/jobs"
SYSTEM_USER = "automation@contoso.com"


def system_data(created_at: str | None = None) -> JSON:
    stamp = created_at or now_iso()
    return {
        "createdAt": stamp,
        "createdBy": SYSTEM_USER,
        "createdByType": "User",
        "lastModifiedAt": stamp,
        "lastModifiedBy": SYSTEM_USER,
        "lastModifiedByType": "User",
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
        "type": COMPONENT_VERSION_TYPE,
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
        "systemData": system_data(),
    }


def job_services(workspace_id: str, name: str, location: str = DEFAULT_LOCATION) -> JSON:
    ws_id = workspace_id.rstrip("/")
    return {
        "Tracking": {
            "jobServiceType": "Tracking",
            "port": None,
            "endpoint": f"azureml://{location}.api.azureml.ms/mlflow/v1.0{ws_id}?",
            "status": None,
            "errorMessage": None,
            "properties": None,
            "nodes": None,
        },
        "Studio": {
            "jobServiceType": "Studio",
            "port": None,
            "endpoint": f"https://ml.azure.com/runs/{name}?wsid={ws_id}",
            "status": None,
            "errorMessage": None,
            "properties": None,
            "nodes": None,
        },
    }


def submitted_job(workspace_id: str, name: str, properties: JSON) -> JSON:
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
        "systemData": system_data(),
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
        "systemData": system_data(),
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
        "systemData": system_data(),
    }


def batch_job_reply(
    endpoint_id: str, deployment: str, name: str, properties: JSON, status: str
) -> JSON:
    """What the scoring URI answers to a POST (recorded files 12, 13, 17): the submitted
    properties echoed, with the job's status and interaction endpoints."""
    workspace_id = endpoint_id.rsplit("/batchEndpoints/", 1)[0]
    body = copy.deepcopy(properties)
    body.update(
        {
            "status": status,
            "interactionEndpoints": {
                "Studio": {"endpoint": f"https://ml.azure.com/runs/{name}?wsid={workspace_id}"},
                "Tracking": {
                    "endpoint": f"azureml://{DEFAULT_LOCATION}.api.azureml.ms/mlflow/v1.0"
                    f"{workspace_id}"
                },
            },
            "output": None,
            "outputDataset": None,
        }
    )
    return {
        "id": f"{endpoint_id}/deployments/{deployment}/jobs/{name}",
        "name": name,
        "type": BATCH_JOB_TYPE,
        "properties": body,
        "systemData": system_data(),
    }


def batch_job_as_workspace_job(
    workspace_id: str,
    name: str,
    *,
    endpoint_name: str,
    deployment: str,
    experiment: str,
    inputs: JSON,
    tags: dict[str, str],
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
        "systemData": system_data(),
    }
