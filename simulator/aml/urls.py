"""Routes of AML workspaces, computes and private endpoint connections (ARM paths).

They are mounted before the network package's ``arm.pec.*`` routes, which match any resource's
connections: the first match wins.
"""

from __future__ import annotations

import re

from ..server import Route
from .responses import MachineLearningWorkspacesResponses

_SEG = r"[^/]+"
_RG = rf"/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers"
_AML_WS = rf"{_RG}/microsoft\.machinelearningservices/workspaces/{_SEG}"
_COMPUTES = rf"(?P<ws>{_AML_WS})/computes"
_COMPUTE_OPERATION = (
    rf"/subscriptions/{_SEG}/providers/microsoft\.machinelearningservices/locations/{_SEG}"
    rf"/computeoperationsstatus/(?P<op>{_SEG})"
)
_PECS = rf"(?P<ws>{_AML_WS})/privateendpointconnections"


def routes(responses: MachineLearningWorkspacesResponses) -> list[Route]:
    """The route table, in match order."""
    r = responses
    table = [
        ("GET", rf"^(?P<id>{_AML_WS})$", "aml.workspace.get", r.workspace_get),
        ("PATCH", rf"^(?P<id>{_AML_WS})$", "aml.workspace.patch", r.workspace_patch),
        ("GET", rf"^{_COMPUTES}$", "aml.compute.list", r.compute_list),
        ("GET", rf"^{_COMPUTES}/{_SEG}$", "aml.compute.get", r.get),
        ("PATCH", rf"^{_COMPUTES}/{_SEG}$", "aml.compute.patch", r.compute_patch),
        ("GET", rf"^{_COMPUTE_OPERATION}$", "aml.compute.operation", r.compute_operation),
        ("GET", rf"^{_PECS}$", "aml.pec.list", r.connection_list),
        ("GET", rf"^{_PECS}/{_SEG}$", "aml.pec.get", r.get),
        ("PUT", rf"^{_PECS}/{_SEG}$", "aml.pec.put", r.connection_put),
    ]
    return [
        Route(method, re.compile(p), name, handler, "arm") for method, p, name, handler in table
    ]
