"""The routes of Microsoft.MachineLearningServices, in match order: ARM's (``aml.*``: workspaces,
computes, their operations, private endpoint connections), the workspace's (``ml.*``: components,
jobs, batch endpoints) and the scoring URIs of batch endpoints.

They are mounted before the network's ``arm.pec.*`` routes, which match any resource's
connections: the first match wins. Patterns match the lower-cased path. The scoring URI is a data
plane: it takes a token for ``https://ml.azure.com`` and no ``api-version``.
"""

from __future__ import annotations

from ..server import Route, route
from .models import MachineLearning
from .responses import MachineLearningResponses

_SEG = r"[^/]+"
_WS = (
    rf"(?P<ws>/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers/"
    rf"microsoft\.machinelearningservices/workspaces/{_SEG})"
)
_OPERATION = (
    rf"/subscriptions/{_SEG}/providers/microsoft\.machinelearningservices/locations/{_SEG}"
    rf"/computeoperationsstatus/(?P<op>{_SEG})"
)
_NAME = rf"(?P<name>{_SEG})"
# The workspaces of a subscription or of one resource group (Workspaces_ListBySubscription,
# Workspaces_ListByResourceGroup).
_WS_LIST = (
    rf"^(?P<scope>/subscriptions/{_SEG}(?:/resourcegroups/{_SEG})?)"
    r"/providers/microsoft\.machinelearningservices/workspaces$"
)
_ENDPOINT = rf"{_WS}/batchendpoints/(?P<ep>{_SEG})"


def routes(ml: MachineLearning) -> list[Route]:
    """The route table, in match order."""
    r, serve = MachineLearningResponses(ml), ml.sim.arm.serve
    return [
        route("GET", _WS_LIST, "aml.workspace.list", r.workspace_list),
        route("GET", rf"^{_WS}$", "aml.workspace.get", r.workspace_get),
        route("PATCH", rf"^{_WS}$", "aml.workspace.patch", r.workspace_patch),
        route("GET", rf"^{_WS}/computes$", "aml.compute.list", r.compute_list),
        route("GET", rf"^{_WS}/computes/{_SEG}$", "aml.compute.get", serve),
        route("PATCH", rf"^{_WS}/computes/{_SEG}$", "aml.compute.patch", r.compute_patch),
        route("GET", rf"^{_OPERATION}$", "aml.compute.operation", r.compute_operation),
        route("GET", rf"^{_WS}/privateendpointconnections$", "aml.pec.list", r.connection_list),
        route("GET", rf"^{_WS}/privateendpointconnections/{_SEG}$", "aml.pec.get", serve),
        route(
            "PUT", rf"^{_WS}/privateendpointconnections/{_SEG}$", "aml.pec.put", r.connection_put
        ),
        route(
            "GET",
            rf"^{_WS}/components/{_NAME}/versions/(?P<version>{_SEG})$",
            "ml.component.version.get",
            r.component_version_get,
        ),
        route(
            "GET",
            rf"^{_WS}/components/{_NAME}/versions$",
            "ml.component.version.list",
            r.component_version_list,
        ),
        route("GET", rf"^{_WS}/jobs$", "ml.job.list", r.job_list),
        route("GET", rf"^{_WS}/jobs/{_NAME}$", "ml.job.get", r.job_get),
        route("PUT", rf"^{_WS}/jobs/{_NAME}$", "ml.job.put", r.job_put),
        route("GET", rf"^{_ENDPOINT}$", "ml.batch_endpoint.get", r.batch_endpoint_get),
        route(
            "GET",
            rf"^{_ENDPOINT}/deployments$",
            "ml.batch_deployment.list",
            r.batch_deployment_list,
        ),
        route(
            "GET",
            rf"^{_ENDPOINT}/deployments/(?P<dep>{_SEG})$",
            "ml.batch_deployment.get",
            r.batch_deployment_get,
        ),
        route(
            "POST",
            rf"^/inference/(?P<key>{_SEG})/jobs$",
            "ml.scoring.invoke",
            r.scoring_invoke,
            "ml",
            needs_api_version=False,
        ),
    ]
