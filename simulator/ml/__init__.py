"""Microsoft.MachineLearningServices in the simulator (``sim.ml``): ARM's side (``aml.*`` routes)
and what runs inside a workspace (``ml.*``: components, jobs, batch endpoints, scoring URIs, model
promotion)."""

from .models import TERMINAL, MachineLearning

__all__ = ["TERMINAL", "MachineLearning"]
