"""Microsoft.ResourceGraph in the simulator (``sim.resourcegraph``): the app's queries."""

from .models import ResourceGraph

__all__ = ["ResourceGraph"]
