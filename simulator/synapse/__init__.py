"""Synapse in the simulator: the ARM workspace (route ``synapse.workspace.get``, shaped on
``synapse_workspaces_get.json``) and the data plane's managed private endpoints of its managed
virtual network (routes ``synapse.mpe.list`` and ``synapse.mpe.get``, shaped on
``synapse_dataplane_managedprivateendpoints_list.json`` and ``..._get.json``; paged with
``$skipToken``).
"""

from __future__ import annotations

from .models import Synapse
from .responses import SynapseResponses
from .urls import DATA_PLANE_PATH, data_plane_routes, workspace_routes

__all__ = [
    "DATA_PLANE_PATH",
    "Synapse",
    "SynapseResponses",
    "data_plane_routes",
    "workspace_routes",
]
