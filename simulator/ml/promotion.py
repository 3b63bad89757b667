"""Model promotion in `sim.ml` (API 2023-10-01, azure-rest-api-specs examples): model versions are
immutable (another `modelUri` is a 409); a batch deployment PUT answers 201 `Creating`, then
`Succeeded` (or `Failed`, when a test says so) after `provisioning_polls` reads; DELETE refuses the
default deployment; the endpoint PUT moves `defaults.deploymentName` only to a deployment that
succeeded; run history (recorded file 10) and the metric service (`MetricV2`).
"""

from __future__ import annotations

import copy

from ..arm.models import key
from ..server import Call, Reply, Route, arm_error, route
from ..shapes import JSON, PERSON, now_iso, system_data
from ..tokens import creator
from . import shapes
from .models import BatchEndpoint, MachineLearning, versioned
from .responses import endpoint_not_found
from .urls import ENDPOINT, SEG, WS

MODEL_TYPE = f"{shapes.WORKSPACE_TYPE}/models"
_NO_MORE: JSON = {"continuationToken": None, "nextLink": None}


class PromotionService:
    """The routes and state model promotion needs; tests seed and drive it as `sim.ml.promotion`."""

    def __init__(self, ml: MachineLearning) -> None:
        self._ml = ml
        self.reset()

    def routes(self) -> list[Route]:
        """Model versions, batch deployment writes, endpoint PUT and run metrics."""
        model, dep = rf"^{WS}/models/(?P<name>{SEG})", rf"^{ENDPOINT}/deployments/(?P<dep>{SEG})"
        version = rf"{model}/versions/(?P<v>{SEG})$"
        run, op = rf"{WS}/runs/(?P<run>{SEG})", rf"/operations/(?P<op>{SEG})$"
        metric = rf"^/metric/v2\.0{run}/full$"
        return [
            route("GET", rf"{model}$", "ml.model.get", self.model_get),
            route("GET", version, "ml.model.version.get", self.version_get),
            route("PUT", version, "ml.model.version.put", self.version_put),
            route("PUT", rf"^{ENDPOINT}$", "ml.batch_endpoint.put", self.endpoint_put),
            route("GET", rf"{dep}$", "ml.batch_deployment.get", self.deployment_get),
            route("GET", dep + op, "ml.batch_deployment.operation", self.deployment_operation),
            route("PUT", rf"{dep}$", "ml.batch_deployment.put", self.deployment_put),
            route("DELETE", rf"{dep}$", "ml.batch_deployment.delete", self.deployment_delete),
            route("GET", rf"^/history/v1\.0{run}/children$", "ml.run.children", self.run_children),
            # The metric service is a data plane: no api-version, as azure-ai-ml calls it.
            route("POST", metric, "ml.run.metric", self.run_metric, needs_api_version=False),
        ]

    def reset(self) -> None:
        with self._ml.lock:
            self.models: dict[tuple[str, str], dict[str, JSON]] = {}
            self.children: dict[tuple[str, str], list[JSON]] = {}
            self.metrics: dict[tuple[str, str], dict[str, list[float]]] = {}
            self.polls: dict[tuple[str, str], int] = {}
            self.failing: set[tuple[str, str]] = set()
            self.provisioning_polls = 1

    def add_model_version(
        self,
        workspace_id: str,
        name: str,
        version: str,
        *,
        properties: dict[str, str],
        model_uri: str | None = None,
    ) -> JSON:
        """Register a model version (as a person or another pipeline would)."""
        submitted: JSON = {"properties": properties}
        if model_uri is not None:
            submitted["modelUri"] = model_uri
        body = _model_version(workspace_id, name, version, submitted)
        with self._ml.lock:
            self.models.setdefault((key(workspace_id), name.lower()), {})[version] = body
        return copy.deepcopy(body)

    def model_versions(self, workspace_id: str, name: str) -> dict[str, JSON]:
        with self._ml.lock:
            return copy.deepcopy(self.models.get((key(workspace_id), name.lower()), {}))

    def log_metric(self, workspace_id: str, job_name: str, metric: str, value: float) -> None:
        """A step of the pipeline job logs `metric` (its child run, as run history lists it)."""
        child = f"{job_name}_train"
        with self._ml.lock:
            runs = self.children.setdefault((key(workspace_id), job_name.lower()), [])
            if not any(run["runId"] == child for run in runs):
                runs.append(_child_run(child, job_name))
            values = self.metrics.setdefault((key(workspace_id), child.lower()), {})
            values.setdefault(metric, []).append(value)

    def fail_provisioning(self, endpoint_id: str, deployment: str) -> None:
        """The next deployment of that name ends `Failed` instead of `Succeeded`."""
        with self._ml.lock:
            self.failing.add((key(endpoint_id), deployment.lower()))

    def model_get(self, call: Call) -> Reply:
        ws, name = call.group("ws"), call.group("name")
        versions = self.models.get((key(ws), name.lower()))
        if not versions:
            return arm_error(404, "ResourceNotFound", f"Model container {name} not found.")
        numbers = [int(v) for v in versions if v.isdigit()]
        latest = str(max(numbers)) if numbers else list(versions)[-1]
        following = str(max(numbers) + 1) if numbers else None
        container = {"latestVersion": latest, "nextVersion": following}
        return Reply(200, _asset(f"{ws}/models/{name}", name, MODEL_TYPE, container, {}))

    def version_get(self, call: Call) -> Reply:
        ws, name, version = call.group("ws"), call.group("name"), call.group("v")
        found = self.models.get((key(ws), name.lower()), {}).get(version)
        if found is None:
            return arm_error(404, "ResourceNotFound", f"Model {name}:{version} not found.")
        return Reply(200, copy.deepcopy(found))

    def version_put(self, call: Call) -> Reply:
        ws, name, version = call.group("ws"), call.group("name"), call.group("v")
        properties = call.at("properties")
        if not isinstance(properties, dict) or not properties.get("modelUri"):
            return arm_error(400, "BadArgument", "properties.modelUri is required.")
        versions = self.models.setdefault((key(ws), name.lower()), {})
        existing = versions.get(version)
        if existing is not None:
            if existing["properties"].get("modelUri") != properties["modelUri"]:
                return arm_error(
                    409, "Conflict", f"Model {name}:{version} exists; versions are immutable."
                )
            return Reply(200, copy.deepcopy(existing))
        versions[version] = _model_version(ws, name, version, properties, creator(call.headers))
        return Reply(201, copy.deepcopy(versions[version]))

    def _endpoint(self, call: Call) -> tuple[str, BatchEndpoint | None]:
        endpoint_id = f"{call.group('ws')}/batchEndpoints/{call.group('ep')}"
        return endpoint_id, self._ml.endpoint(endpoint_id)

    def endpoint_put(self, call: Call) -> Reply:
        endpoint_id, endpoint = self._endpoint(call)
        if endpoint is None:
            return endpoint_not_found(call)
        wanted = call.at("properties", "defaults", "deploymentName")
        if wanted:
            deployment = endpoint.deployments.get(str(wanted).lower())
            if deployment is None:
                return arm_error(400, "BadArgument", f"Deployment {wanted} does not exist.")
            if deployment["properties"].get("provisioningState") != "Succeeded":
                message = f"Deployment {wanted} has not provisioned successfully."
                return arm_error(400, "BadArgument", message)
            endpoint.default_deployment = str(deployment["name"])
        return Reply(200, self._ml.endpoint_view(endpoint_id))

    def _read(self, call: Call) -> JSON | None:
        """The deployment the path names, read once more: a provisioning deployment ends after
        `provisioning_polls` reads."""
        endpoint_id, endpoint = self._endpoint(call)
        name = call.group("dep").lower()
        deployment = endpoint.deployments.get(name) if endpoint else None
        slot = (key(endpoint_id), name)
        if deployment is not None and slot in self.polls:
            self.polls[slot] -= 1
            if self.polls[slot] <= 0:
                del self.polls[slot]
                failed = slot in self.failing
                self.failing.discard(slot)
                deployment["properties"]["provisioningState"] = "Failed" if failed else "Succeeded"
        return deployment

    def deployment_get(self, call: Call) -> Reply:
        deployment = self._read(call)
        if deployment is None:
            return _deployment_not_found(call)
        return Reply(200, copy.deepcopy(deployment))

    def deployment_operation(self, call: Call) -> Reply:
        """The `Azure-AsyncOperation` of a deployment PUT (its status), or the `Location` of a
        DELETE (200 once done), as ARM's pollers read them."""
        if call.group("op").startswith("delete-"):
            return Reply(200, {})
        deployment = self._read(call)
        if deployment is None:
            return _deployment_not_found(call)
        state = str(deployment["properties"].get("provisioningState"))
        status = "InProgress" if state not in ("Succeeded", "Failed", "Canceled") else state
        return Reply(200, {"name": call.group("op"), "status": status})

    def deployment_put(self, call: Call) -> Reply:
        endpoint_id, endpoint = self._endpoint(call)
        if endpoint is None:
            return endpoint_not_found(call)
        body = call.body if isinstance(call.body, dict) else {}
        properties = body.get("properties")
        if not isinstance(properties, dict):
            return arm_error(400, "BadArgument", "The request body must have properties.")
        asset = call.at("properties", "model", "assetId")
        if not isinstance(asset, str) or not self._model_exists(asset):
            return arm_error(400, "BadArgument", f"Model {asset!r} is not registered.")
        name = call.group("dep")
        earlier = endpoint.deployments.get(name.lower())
        stored = {
            "id": f"{endpoint_id}/deployments/{name}",
            "name": name,
            "type": shapes.BATCH_DEPLOYMENT_TYPE,
            "location": body.get("location") or endpoint.location,
            "tags": copy.deepcopy(body.get("tags") or {}),
            "properties": {**copy.deepcopy(properties), "provisioningState": "Creating"},
            # ARM keeps who created a resource when someone else updates it.
            "systemData": {
                **system_data(creator(call.headers)),
                **{
                    field: value
                    for field, value in (earlier or {}).get("systemData", {}).items()
                    if field.startswith("created")
                },
            },
        }
        created = earlier is None
        endpoint.deployments[name.lower()] = stored
        self.polls[(key(endpoint_id), name.lower())] = self.provisioning_polls
        operation = f"{self._ml.sim.url}{call.path}/operations/create-{name}?api-version=2023-10-01"
        return Reply(
            201 if created else 200,
            copy.deepcopy(stored),
            {"Azure-AsyncOperation": operation, "Retry-After": "0"},
        )

    def deployment_delete(self, call: Call) -> Reply:
        _, endpoint = self._endpoint(call)
        name = call.group("dep").lower()
        if endpoint is None or name not in endpoint.deployments:
            return Reply(204)
        if (endpoint.default_deployment or "").lower() == name:
            message = f"Deployment {name} is the endpoint's default; not deleted."
            return arm_error(400, "BadArgument", message)
        del endpoint.deployments[name]
        location = f"{self._ml.sim.url}{call.path}/operations/delete-{name}?api-version=2023-10-01"
        return Reply(202, None, {"Location": location, "Retry-After": "0"})

    def _model_exists(self, asset_id: str) -> bool:
        ws, name, version = versioned(asset_id, "models") or ("", "", "")
        return version in self.models.get((key(ws), name.lower()), {})

    def run_children(self, call: Call) -> Reply:
        runs = self.children.get((key(call.group("ws")), call.group("run").lower()), [])
        return Reply(200, {"value": copy.deepcopy(runs), **_NO_MORE})

    def run_metric(self, call: Call) -> Reply:
        run = call.group("run")
        metric = call.at("metricName")
        values = self.metrics.get((key(call.group("ws")), run.lower()), {}).get(str(metric))
        if not values:
            return arm_error(404, "NotFound", f"Run {run} has no metric {metric!r}.")
        body: JSON = {
            "dataContainerId": f"dcid.{run}",
            "name": metric,
            "columns": {metric: "Double"},
        }
        body["properties"] = {"uxMetricType": "azureml.v1.scalar", "dataLocation": None}
        body |= {"namespace": None, "standardSchemaId": None}
        body["value"] = [
            {"metricId": f"{run}-{metric}-{step}", "createdUtc": now_iso(), "step": step}
            | {"data": {metric: value}}
            for step, value in enumerate(values)
        ]
        return Reply(200, body | _NO_MORE)


def _asset(
    asset_id: str,
    name: str,
    kind: str,
    own: JSON,
    submitted: JSON,
    made_by: tuple[str, str] = PERSON,
) -> JSON:
    """A model container or version (ModelContainer/get.json, ModelVersion/createOrUpdate.json)."""
    common: JSON = {"description": None, "tags": {}, "properties": {}, "isArchived": False}
    properties = {**common, **own, "provisioningState": "Succeeded", **copy.deepcopy(submitted)}
    body = {"id": asset_id, "name": name, "type": kind, "properties": properties}
    return {**body, "systemData": system_data(made_by)}


def _model_version(
    workspace_id: str,
    name: str,
    version: str,
    submitted: JSON,
    made_by: tuple[str, str] = PERSON,
) -> JSON:
    uri = f"azureml://locations/eastus/workspaces/ws/models/{name}/versions/{version}"
    own = {"isAnonymous": False, "flavors": None, "modelType": "custom_model", "modelUri": uri}
    version_id = f"{workspace_id.rstrip('/')}/models/{name}/versions/{version}"
    own["jobName"] = None
    return _asset(version_id, version, f"{MODEL_TYPE}/versions", own, submitted, made_by)


def _child_run(run_id: str, parent: str) -> JSON:
    """A step run as run history lists it (recorded file 10)."""
    return {
        "runId": run_id,
        "parentRunId": parent,
        "status": "Completed",
        "runType": "azureml.StepRun",
        "displayName": "retrain",
        "tags": {},
        "properties": {},
        "experimentId": "e0e0e0e0-0000-0000-0000-000000000000",
    }


def _deployment_not_found(call: Call) -> Reply:
    return arm_error(404, "NotFound", f"Deployment {call.group('dep')} not found.")
