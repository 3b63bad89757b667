"""HTTP in, model calls, HTTP out: the handlers of the Azure ML routes.

Handlers run with the simulator's lock held. Errors use ARM's error body (`arm_error`), as the ML
management API and the scoring URI do.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..server import ML_AUDIENCE, Call, Reply, arm_error
from ..shapes import JSON
from . import shapes
from .models import MachineLearningBackend, key

if TYPE_CHECKING:
    from ..azure_simulator import AzureSimulator

_INPUT_TYPES = frozenset({"urifolder", "urifile", "uri_folder", "uri_file"})


def _get(mapping: Any, *names: str) -> Any:
    """The first of `names` in `mapping` (the docs use PascalCase, azure-ai-ml camelCase)."""
    if not isinstance(mapping, dict):
        return None
    for name in names:
        if name in mapping:
            return mapping[name]
    return None


def _user_error(status: int, message: str, code: str = "UserError") -> Reply:
    return arm_error(status, code, message)


class MachineLearningResponses:
    """Route handlers over one backend."""

    def __init__(self, sim: AzureSimulator, backend: MachineLearningBackend) -> None:
        self._sim = sim
        self._backend = backend

    def scoring_uri(self, scoring_key: str) -> str:
        return f"{self._sim.url}/inference/{scoring_key}/jobs"

    def _lost(self, route: str, reply: Reply) -> Reply:
        status = self._backend.take_lost(route)
        if status is None:
            return reply
        return arm_error(status, "ServiceUnavailable", "The response was lost (simulated).")

    def _workspace_missing(self, workspace_id: str) -> Reply | None:
        if self._sim.get_resource(workspace_id) is None:
            return arm_error(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.MachineLearningServices/workspaces/"
                f"{workspace_id.rsplit('/', 1)[-1]}' was not found.",
            )
        return None

    # ------------------------------------------------------------------ components

    def component_version_get(self, call: Call) -> Reply:
        ws, name, version = call.group("ws"), call.group("name"), call.group("version")
        found = self._backend.component_version(ws, name, version)
        if found is None:
            return _user_error(404, f"Could not find component {name} version {version}.")
        return Reply(200, found)

    def component_version_list(self, call: Call) -> Reply:
        ws, name = call.group("ws"), call.group("name")
        versions = self._backend.component_versions(ws, name)
        order = call.query.get("$orderBy", call.query.get("$orderby", ""))
        if order and order.lower() != "createdtime desc":
            return _user_error(400, f"Unsupported $orderBy {order!r}.", "BadArgument")
        top = call.query.get("$top")
        if top is not None:
            if not top.isdigit():
                return _user_error(400, f"Invalid $top {top!r}.", "BadArgument")
            versions = versions[: int(top)]
        return Reply(200, {"value": versions})

    # ------------------------------------------------------------------------ jobs

    def job_put(self, call: Call) -> Reply:
        ws, name = call.group("ws"), call.group("name")
        missing = self._workspace_missing(ws)
        if missing:
            return missing
        body = call.body
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict) or not properties.get("jobType"):
            return _user_error(400, "The request body must have properties.jobType.", "BadArgument")
        self._backend.job_puts.append((name, copy.deepcopy(body), dict(call.headers)))
        aml_token = call.headers.get("x-azureml-token")
        if aml_token is not None:
            audience = self._sim.token_audience(aml_token) or ""
            if audience.rstrip("/").lower() != ML_AUDIENCE:
                return arm_error(
                    401, "InvalidAuthenticationToken", "x-azureml-token is not an Azure ML token."
                )
        if self._backend.job(ws, name) is not None:
            return arm_error(
                409,
                "Conflict",
                f"A job named '{name}' already exists in this workspace; job names are unique.",
            )
        if properties.get("jobType") == "Pipeline":
            problem = self._pipeline_problem(ws, properties)
            if problem:
                return _user_error(400, problem)
        created = shapes.submitted_job(ws, name, properties)
        self._backend.store_job(ws, created)
        return self._lost("ml.job.put", Reply(201, created))

    def _pipeline_problem(self, workspace_id: str, properties: JSON) -> str | None:
        steps = properties.get("jobs")
        if not isinstance(steps, dict) or not steps:
            return "A pipeline job needs at least one step in properties.jobs."
        for step_name, step in steps.items():
            component_id = step.get("componentId") if isinstance(step, dict) else None
            if (
                not isinstance(component_id, str)
                or self._backend.component_by_id(component_id) is None
            ):
                return f"Step {step_name!r}: component {component_id!r} is not registered."
        compute = (properties.get("settings") or {}).get("default_compute") or properties.get(
            "computeId"
        )
        if compute and self._sim.get_resource(compute) is None:
            return f"Compute {compute!r} was not found in the workspace."
        if compute and not key(compute).startswith(key(workspace_id) + "/computes/"):
            return f"Compute {compute!r} is not a compute of this workspace."
        return None

    def job_get(self, call: Call) -> Reply:
        ws, name = call.group("ws"), call.group("name")
        found = self._backend.job(ws, name)
        if found is None:
            return _user_error(404, f"Could not find job {name}.", "ResourceNotFound")
        return Reply(200, found)

    def job_list(self, call: Call) -> Reply:
        ws = call.group("ws")
        missing = self._workspace_missing(ws)
        if missing:
            return missing
        jobs = self._backend.all_jobs(ws)
        tag = call.query.get("tag")
        if tag:
            tag_key, has_value, tag_value = tag.partition("=")
            jobs = [
                j
                for j in jobs
                if tag_key in (j["properties"].get("tags") or {})
                and (not has_value or j["properties"]["tags"][tag_key] == tag_value)
            ]
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
            return _user_error(400, f"Invalid listViewType {view!r}.", "BadArgument")
        wanted = call.query.get("properties")
        if wanted:
            for item in wanted.split(","):
                prop, has_value, value = item.partition("=")
                jobs = [
                    j
                    for j in jobs
                    if prop in (j["properties"].get("properties") or {})
                    and (not has_value or j["properties"]["properties"][prop] == value)
                ]
        return self._page(call, jobs)

    def _page(self, call: Call, items: list[JSON]) -> Reply:
        token = call.query.get("$skipToken", "0")
        if not token.isdigit():
            return _user_error(400, "Invalid $skipToken.", "BadArgument")
        skip, size = int(token), self._sim.page_size
        body: JSON = {"value": items[skip : skip + size]}
        if skip + size < len(items):
            query = {k: v for k, v in call.query.items() if k != "$skipToken"}
            query["$skipToken"] = str(skip + size)
            body["nextLink"] = f"{self._sim.url}{call.path}?{urlencode(query)}"
        return Reply(200, body)

    # -------------------------------------------------------------- batch endpoints

    def _endpoint_view(self, endpoint_id: str) -> JSON | None:
        endpoint = self._backend.endpoint(endpoint_id)
        if endpoint is None:
            return None
        return shapes.batch_endpoint(
            endpoint.id,
            scoring_uri=self.scoring_uri(endpoint.scoring_key),
            default_deployment=endpoint.default_deployment,
            location=endpoint.location,
        )

    def batch_endpoint_get(self, call: Call) -> Reply:
        endpoint_id = f"{call.group('ws')}/batchEndpoints/{call.group('ep')}"
        view = self._endpoint_view(endpoint_id)
        if view is None:
            return _user_error(404, f"Batch endpoint {call.group('ep')} not found.", "NotFound")
        return Reply(200, view)

    def batch_deployment_list(self, call: Call) -> Reply:
        endpoint = self._backend.endpoint(f"{call.group('ws')}/batchEndpoints/{call.group('ep')}")
        if endpoint is None:
            return _user_error(404, f"Batch endpoint {call.group('ep')} not found.", "NotFound")
        return self._page(call, [copy.deepcopy(d) for d in endpoint.deployments.values()])

    def batch_deployment_get(self, call: Call) -> Reply:
        endpoint = self._backend.endpoint(f"{call.group('ws')}/batchEndpoints/{call.group('ep')}")
        deployment = endpoint.deployments.get(call.group("dep").lower()) if endpoint else None
        if deployment is None:
            return _user_error(404, f"Deployment {call.group('dep')} not found.", "NotFound")
        return Reply(200, copy.deepcopy(deployment))

    def scoring_invoke(self, call: Call) -> Reply:
        endpoint = self._backend.endpoint_by_scoring_key(call.group("key"))
        if endpoint is None:
            return _user_error(404, "No batch endpoint at this scoring URI.", "NotFound")
        body = call.body
        self._backend.scoring_posts.append(
            (dict(call.headers), copy.deepcopy(body) if isinstance(body, dict) else {})
        )
        request_id = call.headers.get("repeatability-request-id") or call.headers.get(
            "repeatability_request-id"
        )
        if request_id:
            earlier = self._backend.repeatability.get((endpoint.scoring_key, request_id))
            if earlier is not None:
                stored = self._backend.job(endpoint.workspace_id, earlier)
                if stored is not None:
                    reply = self._scoring_reply(endpoint.id, stored)
                    reply.headers["Repeatability-Result"] = "accepted"
                    return self._lost("ml.scoring.invoke", reply)
        properties = _get(body, "properties")
        if not isinstance(properties, dict):
            return _user_error(400, "The request body must have 'properties'.", "BadArgument")
        inputs = _get(properties, "inputData", "InputData")
        problem = _inputs_problem(inputs)
        if problem:
            return _user_error(400, problem, "BadArgument")
        deployment = call.headers.get("azureml-model-deployment") or endpoint.default_deployment
        if not deployment:
            return _user_error(400, "The endpoint has no default deployment; name one.")
        if deployment.lower() not in endpoint.deployments:
            return _user_error(404, f"Deployment {deployment!r} not found.", "NotFound")
        deployment = str(endpoint.deployments[deployment.lower()]["name"])
        tags = _get(properties, "tags", "Tags") or {}
        if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
        ):
            return _user_error(400, "tags must be an object of strings.", "BadArgument")
        name = _get(properties, "name", "Name") or self._backend.new_batch_job_name()
        if self._backend.job(endpoint.workspace_id, str(name)) is not None:
            return arm_error(409, "Conflict", f"A job named '{name}' already exists.")
        run_properties = _get(properties, "properties", "Properties") or {}
        experiment = str(_get(run_properties, "experimentName") or endpoint.name)
        stored = shapes.batch_job_as_workspace_job(
            endpoint.workspace_id,
            str(name),
            endpoint_name=endpoint.name,
            deployment=deployment,
            experiment=experiment,
            inputs={
                input_name: {
                    "jobInputType": "uri_folder"
                    if str(_get(item, "jobInputType", "JobInputType")).lower()
                    in ("urifolder", "uri_folder")
                    else "uri_file",
                    "uri": _get(item, "uri", "Uri"),
                }
                for input_name, item in inputs.items()
            },
            tags=tags,
        )
        self._backend.store_job(endpoint.workspace_id, stored)
        self._backend.batch_submitted[(key(endpoint.workspace_id), str(name).lower())] = (
            copy.deepcopy(properties)
        )
        if request_id:
            self._backend.repeatability[(endpoint.scoring_key, request_id)] = str(name)
        return self._lost("ml.scoring.invoke", self._scoring_reply(endpoint.id, stored))

    def _scoring_reply(self, endpoint_id: str, stored: JSON) -> Reply:
        properties = stored["properties"]
        workspace_id = endpoint_id.rsplit("/batchEndpoints/", 1)[0]
        submitted = self._backend.batch_submitted.get(
            (key(workspace_id), stored["name"].lower()), {}
        )
        return Reply(
            200,
            shapes.batch_job_reply(
                endpoint_id,
                properties["properties"]["azureml.deploymentname"],
                stored["name"],
                submitted,
                properties["status"],
            ),
        )


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
