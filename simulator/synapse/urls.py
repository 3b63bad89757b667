"""Synapse routes: the workspace on ARM, managed private endpoints on the data plane.

The data plane is served under ``/synapse-dev/{workspace}`` (``SYNAPSE_DEV_ENDPOINT`` with a
``{workspace}`` placeholder) and takes a token for ``https://dev.azuresynapse.net``.
"""

from __future__ import annotations

import re

from ..server import Route
from .responses import SynapseResponses

_SEG = r"[^/]+"
_WS = rf"/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers/microsoft\.synapse/workspaces/{_SEG}"
#: Path prefix of the data plane; the workspace's name follows.
DATA_PLANE_PATH = "/synapse-dev"
_MPES = (
    rf"{DATA_PLANE_PATH}/(?P<ws>{_SEG})/managedvirtualnetworks/(?P<vnet>{_SEG})"
    r"/managedprivateendpoints"
)


def workspace_routes(responses: SynapseResponses) -> list[Route]:
    """The ARM route of the workspace."""
    return [
        Route(
            "GET", re.compile(rf"^{_WS}$"), "synapse.workspace.get", responses.workspace_get, "arm"
        )
    ]


def data_plane_routes(responses: SynapseResponses) -> list[Route]:
    """The data plane's routes, in match order."""
    r = responses
    return [
        Route("GET", re.compile(rf"^{_MPES}$"), "synapse.mpe.list", r.mpe_list, "synapse"),
        Route(
            "GET",
            re.compile(rf"^{_MPES}/(?P<name>{_SEG})$"),
            "synapse.mpe.get",
            r.mpe_get,
            "synapse",
        ),
    ]
