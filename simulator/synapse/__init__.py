"""Synapse in the simulator: the ARM workspace (route ``synapse.workspace.get``, shaped on
``synapse_workspaces_get.json``) and the data plane's managed private endpoints of its managed
virtual network (routes ``synapse.mpe.list`` and ``synapse.mpe.get``, shaped on
``synapse_dataplane_managedprivateendpoints_list.json`` and ``..._get.json``; paged with
``$skipToken``).
"""

from __future__ import annotations

from .models import DATA_PLANE_PATH, Synapse

__all__ = ["DATA_PLANE_PATH", "Synapse"]
