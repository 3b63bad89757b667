"""The Azure ML routes: ARM paths under a workspace, and the scoring URIs of batch endpoints.

Patterns match the lower-cased path (ARM paths are case-insensitive). The scoring URI is a data
plane: it takes a token for `https://ml.azure.com` and no `api-version`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..server import Call, Reply
from .responses import MachineLearningResponses

_SEG = r"[^/]+"
_WS = (
    rf"(?P<ws>/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers/"
    rf"microsoft\.machinelearningservices/workspaces/{_SEG})"
)


class RouteSpec(NamedTuple):
    method: str
    pattern: str
    name: str
    handler: Callable[[Call], Reply]
    audience: str
    needs_api_version: bool


def routes(responses: MachineLearningResponses) -> list[RouteSpec]:
    """The route table, in match order."""
    r = responses
    return [
        RouteSpec(
            "GET",
            rf"^{_WS}/components/(?P<name>{_SEG})/versions/(?P<version>{_SEG})$",
            "ml.component.version.get",
            r.component_version_get,
            "arm",
            True,
        ),
        RouteSpec(
            "GET",
            rf"^{_WS}/components/(?P<name>{_SEG})/versions$",
            "ml.component.version.list",
            r.component_version_list,
            "arm",
            True,
        ),
        RouteSpec("GET", rf"^{_WS}/jobs$", "ml.job.list", r.job_list, "arm", True),
        RouteSpec("GET", rf"^{_WS}/jobs/(?P<name>{_SEG})$", "ml.job.get", r.job_get, "arm", True),
        RouteSpec("PUT", rf"^{_WS}/jobs/(?P<name>{_SEG})$", "ml.job.put", r.job_put, "arm", True),
        RouteSpec(
            "GET",
            rf"^{_WS}/batchendpoints/(?P<ep>{_SEG})$",
            "ml.batch_endpoint.get",
            r.batch_endpoint_get,
            "arm",
            True,
        ),
        RouteSpec(
            "GET",
            rf"^{_WS}/batchendpoints/(?P<ep>{_SEG})/deployments$",
            "ml.batch_deployment.list",
            r.batch_deployment_list,
            "arm",
            True,
        ),
        RouteSpec(
            "GET",
            rf"^{_WS}/batchendpoints/(?P<ep>{_SEG})/deployments/(?P<dep>{_SEG})$",
            "ml.batch_deployment.get",
            r.batch_deployment_get,
            "arm",
            True,
        ),
        RouteSpec(
            "POST",
            rf"^/inference/(?P<key>{_SEG})/jobs$",
            "ml.scoring.invoke",
            r.scoring_invoke,
            "ml",
            False,
        ),
    ]
