"""Microsoft.MachineLearningServices in the simulator (``sim.ml``): ARM's side, workspaces
(routes ``aml.workspace.get``/``patch``, shaped on ``aml_workspaces_get.json``), their computes
(``aml.compute.list``/``get``/``patch``/``operation``, shaped on ``aml_compute_*.json`` and the
spec's Compute/patch example) and private endpoint connections (``aml.pec.list``/``get``/``put``,
shaped on ``aml_privateendpointconnections_*.json``); and what runs inside a workspace, jobs,
component versions, batch endpoints and their scoring URIs (``ml.*``, shaped on the recorded
exchanges of azure-ai-ml). Moto style: ``models`` holds the service object (state, rules,
seeding), ``responses`` the handlers, ``urls`` the routes, ``shapes`` the JSON bodies.

    sim.ml.add_workspace(workspace_id)
    sim.ml.add_component(workspace_id, "train_model", "3")
    sim.ml.add_batch_endpoint(endpoint_id, deployments=["blue"], default_deployment="blue")
    sim.ml.set_job_status(workspace_id, job_name, "Completed")
"""

from __future__ import annotations

from .models import TERMINAL, MachineLearning

__all__ = ["TERMINAL", "MachineLearning"]
