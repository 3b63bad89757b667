"""The routes of Microsoft.MachineLearningServices in match order: ARM's ``aml.*``, the
workspace's ``ml.*`` and the scoring URIs (a data plane: an ``ml`` token, no api-version)."""

from __future__ import annotations

from ..server import Route, route
from .models import MachineLearning
from .responses import MachineLearningResponses

SEG = r"[^/]+"
WS = (
    rf"(?P<ws>/subscriptions/{SEG}/resourcegroups/{SEG}/providers/"
    rf"microsoft\.machinelearningservices/workspaces/{SEG})"
)
_OPERATION = (
    rf"/subscriptions/{SEG}/providers/microsoft\.machinelearningservices/locations/{SEG}"
    rf"/computeoperationsstatus/(?P<op>{SEG})"
)
_NAME = rf"(?P<name>{SEG})"
# Workspaces_ListBySubscription and Workspaces_ListByResourceGroup.
_WS_LIST = (
    rf"^(?P<scope>/subscriptions/{SEG}(?:/resourcegroups/{SEG})?)"
    r"/providers/microsoft\.machinelearningservices/workspaces$"
)
ENDPOINT = rf"{WS}/batchendpoints/(?P<ep>{SEG})"


def routes(ml: MachineLearning) -> list[Route]:
    r, serve = MachineLearningResponses(ml), ml.sim.arm.serve
    pecs, component = rf"^{WS}/privateendpointconnections", rf"^{WS}/components/{_NAME}/versions"
    version, scoring = rf"{component}/(?P<version>{SEG})$", rf"^/inference/(?P<key>{SEG})/jobs$"
    return [
        route("GET", _WS_LIST, "aml.workspace.list", r.workspace_list),
        route("GET", rf"^{WS}$", "aml.workspace.get", r.workspace_get),
        route("PATCH", rf"^{WS}$", "aml.workspace.patch", r.workspace_patch),
        route("GET", rf"^{WS}/computes$", "aml.compute.list", r.compute_list),
        route("GET", rf"^{WS}/computes/{SEG}$", "aml.compute.get", serve),
        route("PATCH", rf"^{WS}/computes/{SEG}$", "aml.compute.patch", r.compute_patch),
        route("GET", rf"^{_OPERATION}$", "aml.compute.operation", r.compute_operation),
        route("GET", rf"{pecs}$", "aml.pec.list", r.connection_list),
        route("GET", rf"{pecs}/{SEG}$", "aml.pec.get", serve),
        route("PUT", rf"{pecs}/{SEG}$", "aml.pec.put", r.connection_put),
        route("GET", version, "ml.component.version.get", r.component_version_get),
        route("GET", rf"{component}$", "ml.component.version.list", r.component_version_list),
        route("GET", rf"^{WS}/jobs$", "ml.job.list", r.job_list),
        route("GET", rf"^{WS}/jobs/{_NAME}$", "ml.job.get", r.job_get),
        route("PUT", rf"^{WS}/jobs/{_NAME}$", "ml.job.put", r.job_put),
        route("GET", rf"^{ENDPOINT}$", "ml.batch_endpoint.get", r.batch_endpoint_get),
        route("GET", rf"^{ENDPOINT}/deployments$", "ml.batch_deployment.list", r.deployment_list),
        route(
            "POST", scoring, "ml.scoring.invoke", r.scoring_invoke, "ml", needs_api_version=False
        ),
    ]
