"""Microsoft.MachineLearningServices in the simulator (``sim.ml``): ARM's side (``aml.*`` routes:
workspaces, computes, private endpoint connections, shaped on ``aml_*.json``) and what runs inside
a workspace (``ml.*``: components, jobs, batch endpoints, scoring URIs, model promotion, shaped
on the recorded exchanges of azure-ai-ml). ``models`` holds the service object, ``responses`` the
handlers, ``urls`` the routes, ``shapes`` the JSON bodies, ``promotion`` the model registry.
"""

from __future__ import annotations

from .models import TERMINAL, MachineLearning

__all__ = ["TERMINAL", "MachineLearning"]
