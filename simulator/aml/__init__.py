"""The ARM side of Azure Machine Learning in the simulator: workspaces (routes
``aml.workspace.get``/``patch``, shaped on ``aml_workspaces_get.json``), their computes
(``aml.compute.list``/``get``/``patch``/``operation``, shaped on ``aml_compute_*.json`` and the
spec's Compute/patch example) and their private endpoint connections (``aml.pec.list``/``get``/
``put``, shaped on ``aml_privateendpointconnections_*.json``).

What runs inside a workspace (jobs, components, batch endpoints) is the ``ml`` package.
"""

from __future__ import annotations

from .models import MachineLearningWorkspaces
from .responses import MachineLearningWorkspacesResponses
from .urls import routes

__all__ = ["MachineLearningWorkspaces", "MachineLearningWorkspacesResponses", "routes"]
