"""The handlers of the Azure ML routes (``urls``), run with the simulator's lock held."""

from __future__ import annotations

import copy
import re
import secrets
import urllib.parse
import uuid
from typing import Any

from .. import shapes as common
from ..arm.exceptions import bad_request, invalid_content, not_found
from ..arm.models import key as ml_key
from ..network.models import CONNECTION_STATUSES
from ..server import ML_AUDIENCE, Call, Reply, arm_error
from ..shapes import JSON
from ..tokens import creator
from . import shapes
from .models import PUBLIC_NETWORK_ACCESS, WORKSPACE_READ_ONLY, MachineLearning, versioned

_INPUT_TYPES = frozenset({"urifolder", "urifile", "uri_folder", "uri_file"})


def endpoint_not_found(call: Call) -> Reply:
    return arm_error(404, "NotFound", f"Batch endpoint {call.group('ep')} not found.")


def _get(mapping: Any, *names: str) -> Any:
    """The first of ``names`` in ``mapping`` (the docs use PascalCase, azure-ai-ml camelCase)."""
    found = (mapping[name] for name in names if isinstance(mapping, dict) and name in mapping)
    return next(found, None)


class MachineLearningResponses:
    def __init__(self, ml: MachineLearning) -> None:
        self._ml = ml
        self._store = ml.sim.arm

    def workspace_get(self, call: Call) -> Reply:
        found = self._store.stored(call.path)
        if found is None:
            return not_found(call.path)
        return Reply(200, self._ml.workspace_view(call.path, found))

    def workspace_list(self, call: Call) -> Reply:
        """The workspaces of a subscription or resource group, a page at a time (``$skip``)."""
        scope = call.match["scope"]
        under = re.compile(
            re.escape(scope)
            + ("/resourcegroups/[^/]+" if "/resourcegroups/" not in scope else "")
            + r"/providers/microsoft\.machinelearningservices/workspaces/[^/]+$"
        )
        found = sorted(key for key in self._store.resources if under.match(key))
        items = [self._ml.workspace_view(key, self._store.resources[key]) for key in found]
        return self._ml.sim.page(call, items, "$skip")

    def workspace_patch(self, call: Call) -> Reply:
        """PATCH of a workspace: what the caller may write is merged in."""
        stored = self._store.stored(call.path)
        if stored is None:
            return not_found(call.path)
        body = call.body
        if not isinstance(body, dict):
            return invalid_content("The request body must be a JSON object.")
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            return invalid_content("properties must be a JSON object.")
        access = properties.get("publicNetworkAccess")
        if access is not None and access not in PUBLIC_NETWORK_ACCESS:
            return bad_request(
                f"publicNetworkAccess '{access}' is not one of {sorted(PUBLIC_NETWORK_ACCESS)}."
            )
        target = stored.setdefault("properties", {})
        for key, value in properties.items():
            if value is not None and key not in WORKSPACE_READ_ONLY:
                target[key] = copy.deepcopy(value)
        for key in ("tags", "sku"):
            if body.get(key) is not None:
                stored[key] = copy.deepcopy(body[key])
        identity = body.get("identity")
        if isinstance(identity, dict):
            merged = copy.deepcopy(identity)
            old = stored.get("identity") or {}
            if "systemassigned" in str(merged.get("type", "")).lower():
                # The system-assigned identity survives an update that keeps it.
                kept = {k: old[k] for k in ("principalId", "tenantId") if k in old}
                merged.update({k: v for k, v in kept.items() if k not in merged})
            stored["identity"] = merged
        return Reply(200, self._ml.workspace_view(call.path, stored))

    def compute_list(self, call: Call) -> Reply:
        workspace_id = call.group("ws")
        if not self._store.exists(workspace_id):
            return not_found(workspace_id)
        return self._ml.sim.page(call, self._store.children(workspace_id, "computes"), "$skip")

    def _child(self, call: Call) -> JSON | Reply:
        """The stored child of a workspace that the path names, or ARM's 404 (its workspace's
        first); the stored body itself, for rules that change it."""
        workspace_id = call.group("ws")
        if not self._store.exists(workspace_id):
            return not_found(workspace_id)
        stored = self._store.stored(call.path)
        return not_found(call.path) if stored is None else stored

    def compute_patch(self, call: Call) -> Reply:
        """Update of an AmlCompute's scale settings; answered as an operation already done."""
        if isinstance(stored := self._child(call), Reply):
            return stored
        scale = call.at("properties", "properties", "scaleSettings")
        if not isinstance(scale, dict):
            hint = (
                " The body has a top-level 'scaleSettings': that is a ScaleSettingsInformation "
                "sent without its ClusterUpdateParameters(properties=...) envelope."
                if isinstance(call.body, dict) and "scaleSettings" in call.body
                else ""
            )
            return bad_request(
                "ClusterUpdateParameters need properties.properties.scaleSettings." + hint
            )
        properties = stored.setdefault("properties", {})
        compute_type = str(properties.get("computeType", ""))
        if compute_type.lower() != "amlcompute":
            return bad_request(
                f"Compute '{common.last_segment(call.path)}' is of type '{compute_type}'; only "
                "AmlCompute scale settings can be updated."
            )
        current = properties.setdefault("properties", {}).setdefault("scaleSettings", {})
        merged = {**current, **{k: v for k, v in scale.items() if v is not None}}
        maximum, minimum = merged.get("maxNodeCount"), merged.get("minNodeCount", 0)
        for key, value in (("maxNodeCount", maximum), ("minNodeCount", minimum)):
            if value is not None and (not isinstance(value, int) or value < 0):
                return bad_request(f"{key} must be a non-negative integer, not {value!r}.")
        if isinstance(maximum, int) and isinstance(minimum, int) and maximum < minimum:
            return bad_request(
                f"maxNodeCount ({maximum}) must be greater than or equal to "
                f"minNodeCount ({minimum})."
            )
        current.clear()
        current.update(merged)
        properties["modifiedOn"] = common.now_iso()
        properties["provisioningState"] = "Succeeded"
        # As in the spec's Compute/patch.json: 200, provisioningState Updating and an
        # Azure-AsyncOperation, already done (Retry-After: 0 spares the poller 30 s); the SDK then
        # GETs the compute (a fresh body: azure-mgmt-machinelearningservices 2.0.0b2 loses the
        # computeType discriminator when it deserializes one response twice).
        operation, now = str(uuid.uuid4()), common.now_iso()
        self._ml.operations[operation] = {"id": operation, "name": operation, "status": "Succeeded"}
        self._ml.operations[operation].update(startTime=now, endTime=now)
        subscription, _ = common.scope_of(call.path)
        location = urllib.parse.quote(str(stored.get("location") or common.DEFAULT_LOCATION))
        api = urllib.parse.quote(call.query.get("api-version", ""), safe="")
        status_url = (
            f"{self._ml.sim.url}/subscriptions/{subscription}/providers/Microsoft.MachineLearningServices"
            f"/locations/{location}/computeOperationsStatus/{operation}?api-version={api}"
        )
        reply = copy.deepcopy(stored)
        reply["properties"]["provisioningState"] = "Updating"
        return Reply(200, reply, {"Azure-AsyncOperation": status_url, "Retry-After": "0"})

    def compute_operation(self, call: Call) -> Reply:
        found = self._ml.operations.get(call.group("op").lower())
        if found is None:
            return arm_error(404, "NotFound", f"Operation '{call.group('op')}' was not found.")
        return Reply(200, copy.deepcopy(found))

    def connection_list(self, call: Call) -> Reply:
        workspace_id = call.group("ws")
        if not self._store.exists(workspace_id):
            return not_found(workspace_id)
        return Reply(200, {"value": self._ml.connections(workspace_id)})

    def connection_put(self, call: Call) -> Reply:
        """A decision on a connection (approve, reject): only its state changes."""
        if isinstance(stored := self._child(call), Reply):
            return stored
        state = call.at("properties", "privateLinkServiceConnectionState")
        if not isinstance(state, dict):
            return invalid_content("properties.privateLinkServiceConnectionState is required.")
        status = state.get("status")
        if status is not None and status not in CONNECTION_STATUSES:
            message = f"Status '{status}' is not one of {sorted(CONNECTION_STATUSES)}."
            return arm_error(400, "InvalidPrivateEndpointConnectionStatus", message)
        self._ml.set_connection_state(call.group("ws"), stored, state)
        return Reply(200, copy.deepcopy(stored))

    def _workspace_missing(self, workspace_id: str) -> Reply | None:
        if self._store.exists(workspace_id):
            return None
        name = f"{shapes.WORKSPACE_TYPE}/{common.last_segment(workspace_id)}"
        return arm_error(404, "ResourceNotFound", f"The Resource '{name}' was not found.")

    def component_version_get(self, call: Call) -> Reply:
        ws, name, version = call.group("ws"), call.group("name"), call.group("version")
        if (found := self._ml.component_version(ws, name, version)) is None:
            message = f"Could not find component {name} version {version}."
            return arm_error(404, "UserError", message)
        return Reply(200, found)

    def component_version_list(self, call: Call) -> Reply:
        versions = self._ml.component_versions(call.group("ws"), call.group("name"))
        order = call.query.get("$orderBy", call.query.get("$orderby", ""))
        if order and order.lower() != "createdtime desc":
            return arm_error(400, "BadArgument", f"Unsupported $orderBy {order!r}.")
        top = call.query.get("$top")
        if top is not None:
            if not top.isdigit():
                return arm_error(400, "BadArgument", f"Invalid $top {top!r}.")
            versions = versions[: int(top)]
        return Reply(200, {"value": versions})

    def job_put(self, call: Call) -> Reply:
        ws, name = call.group("ws"), call.group("name")
        if missing := self._workspace_missing(ws):
            return missing
        properties = call.at("properties")
        if not isinstance(properties, dict) or not properties.get("jobType"):
            return arm_error(400, "BadArgument", "The request body must have properties.jobType.")
        self._ml._job_puts.append((name, copy.deepcopy(call.body), dict(call.headers)))
        aml_token = call.headers.get("x-azureml-token")
        audience = self._ml.sim.identity.token_audience(aml_token or "") or ""
        if aml_token is not None and audience.rstrip("/").lower() != ML_AUDIENCE:
            message = "x-azureml-token is not an Azure ML token."
            return arm_error(401, "InvalidAuthenticationToken", message)
        if self._ml.job(ws, name) is not None:
            message = (
                f"A job named '{name}' already exists in this workspace; job names are unique."
            )
            return arm_error(409, "Conflict", message)
        problem = properties.get("jobType") == "Pipeline" and self._pipeline_problem(ws, properties)
        if problem:
            return arm_error(400, "UserError", problem)
        created = shapes.submitted_job(ws, name, properties, creator(call.headers))
        self._ml.add_job(ws, created)
        return Reply(201, created)

    def _pipeline_problem(self, workspace_id: str, properties: JSON) -> str | None:
        steps = properties.get("jobs")
        if not isinstance(steps, dict) or not steps:
            return "A pipeline job needs at least one step in properties.jobs."
        for step_name, step in steps.items():
            component_id = step.get("componentId") if isinstance(step, dict) else None
            parts = versioned(component_id, "components") if isinstance(component_id, str) else None
            if not parts or self._ml.component_version(*parts) is None:
                return f"Step {step_name!r}: component {component_id!r} is not registered."
        settings = properties.get("settings") or {}
        compute = settings.get("default_compute") or properties.get("computeId")
        if compute and not self._store.exists(compute):
            return f"Compute {compute!r} was not found in the workspace."
        if compute and not ml_key(compute).startswith(ml_key(workspace_id) + "/computes/"):
            return f"Compute {compute!r} is not a compute of this workspace."
        return None

    def job_get(self, call: Call) -> Reply:
        ws, name = call.group("ws"), call.group("name")
        if (found := self._ml.job(ws, name)) is None:
            return arm_error(404, "ResourceNotFound", f"Could not find job {name}.")
        return Reply(200, found)

    def job_list(self, call: Call) -> Reply:
        ws = call.group("ws")
        if missing := self._workspace_missing(ws):
            return missing
        jobs = _having(self._ml.jobs(ws), "tags", call.query.get("tag"))
        job_type = call.query.get("jobType")
        if job_type:
            jobs = [
                j for j in jobs if j["properties"].get("jobType", "").lower() == job_type.lower()
            ]
        view = (call.query.get("listViewType") or "ActiveOnly").lower()
        if view == "activeonly":
            jobs = [j for j in jobs if not j["properties"].get("isArchived")]
        elif view == "archivedonly":
            jobs = [j for j in jobs if j["properties"].get("isArchived")]
        elif view != "all":
            return arm_error(400, "BadArgument", f"Invalid listViewType {view!r}.")
        for wanted in (call.query.get("properties") or "").split(","):
            jobs = _having(jobs, "properties", wanted)
        return self._page(call, jobs)

    def _page(self, call: Call, items: list[JSON]) -> Reply:
        return self._ml.sim.page(call, items, "$skipToken", error_code="BadArgument")

    def batch_endpoint_get(self, call: Call) -> Reply:
        endpoint_id = f"{call.group('ws')}/batchEndpoints/{call.group('ep')}"
        view = self._ml.endpoint_view(endpoint_id)
        return endpoint_not_found(call) if view is None else Reply(200, view)

    def deployment_list(self, call: Call) -> Reply:
        endpoint = self._ml.endpoint(f"{call.group('ws')}/batchEndpoints/{call.group('ep')}")
        if endpoint is None:
            return endpoint_not_found(call)
        return self._page(call, [copy.deepcopy(d) for d in endpoint.deployments.values()])

    def scoring_invoke(self, call: Call) -> Reply:
        endpoint = self._ml.endpoint_by_scoring_key(call.group("key"))
        if endpoint is None:
            return arm_error(404, "NotFound", "No batch endpoint at this scoring URI.")
        body, headers = call.body, call.headers
        posted = copy.deepcopy(body) if isinstance(body, dict) else {}
        self._ml._scoring_posts.append((dict(headers), posted))
        request_id = headers.get("repeatability-request-id") or headers.get(
            "repeatability_request-id"
        )
        if request_id:
            earlier = self._ml.repeatability.get((endpoint.scoring_key, request_id))
            if earlier is not None:
                stored = self._ml.job(endpoint.workspace_id, earlier)
                if stored is not None:
                    reply = self._scoring_reply(endpoint.id, stored)
                    reply.headers["Repeatability-Result"] = "accepted"
                    return reply
        properties = _get(body, "properties")
        if not isinstance(properties, dict):
            return arm_error(400, "BadArgument", "The request body must have 'properties'.")
        inputs = _get(properties, "inputData", "InputData")
        if problem := _inputs_problem(inputs):
            return arm_error(400, "BadArgument", problem)
        deployment = call.headers.get("azureml-model-deployment") or endpoint.default_deployment
        if not deployment:
            return arm_error(400, "UserError", "The endpoint has no default deployment; name one.")
        if deployment.lower() not in endpoint.deployments:
            return arm_error(404, "NotFound", f"Deployment {deployment!r} not found.")
        deployment = str(endpoint.deployments[deployment.lower()]["name"])
        tags = _get(properties, "tags", "Tags") or {}
        if not isinstance(tags, dict) or not all(
            isinstance(t, str) for t in (*tags, *tags.values())
        ):
            return arm_error(400, "BadArgument", "tags must be an object of strings.")
        name = _get(properties, "name", "Name") or f"batchjob-{secrets.token_hex(4)}"
        if self._ml.job(endpoint.workspace_id, str(name)) is not None:
            return arm_error(409, "Conflict", f"A job named '{name}' already exists.")
        run_properties = _get(properties, "properties", "Properties") or {}
        experiment = str(_get(run_properties, "experimentName") or endpoint.name)
        job_inputs = {key: _job_input(item) for key, item in inputs.items()}
        stored = shapes.batch_job_as_workspace_job(
            endpoint.workspace_id,
            str(name),
            endpoint.name,
            deployment,
            experiment,
            job_inputs,
            tags,
            creator=creator(call.headers),
        )
        self._ml.add_job(endpoint.workspace_id, stored)
        submitted = (ml_key(endpoint.workspace_id), str(name).lower())
        self._ml.batch_submitted[submitted] = copy.deepcopy(properties)
        if request_id:
            self._ml.repeatability[(endpoint.scoring_key, request_id)] = str(name)
        return self._scoring_reply(endpoint.id, stored)

    def _scoring_reply(self, endpoint_id: str, stored: JSON) -> Reply:
        properties, name = stored["properties"], stored["name"]
        workspace_id = endpoint_id.rsplit("/batchEndpoints/", 1)[0]
        submitted = self._ml.batch_submitted.get((ml_key(workspace_id), name.lower()), {})
        deployment = properties["properties"]["azureml.deploymentname"]
        reply = shapes.batch_job_reply(
            endpoint_id, deployment, name, submitted, properties["status"]
        )
        return Reply(200, reply)


def _inputs_problem(inputs: Any) -> str | None:
    if not isinstance(inputs, dict) or not inputs:
        return "properties.inputData must name at least one input."
    for name, item in inputs.items():
        kind = _get(item, "jobInputType", "JobInputType")
        uri = _get(item, "uri", "Uri")
        if not isinstance(kind, str) or kind.lower() not in _INPUT_TYPES:
            return f"Input {name!r}: unsupported jobInputType {kind!r}."
        if not isinstance(uri, str) or not uri:
            return f"Input {name!r}: uri is required."
    return None


def _job_input(item: Any) -> JSON:
    folder = str(_get(item, "jobInputType", "JobInputType")).lower() in ("urifolder", "uri_folder")
    return {"jobInputType": "uri_folder" if folder else "uri_file", "uri": _get(item, "uri", "Uri")}


def _having(jobs: list[JSON], field: str, wanted: str | None) -> list[JSON]:
    """The jobs whose ``properties.<field>`` has ``wanted`` (``key`` or ``key=value``)."""
    if not wanted:
        return jobs
    name, has_value, value = wanted.partition("=")
    return [
        j
        for j in jobs
        if name in (j["properties"].get(field) or {})
        and (not has_value or j["properties"][field][name] == value)
    ]
