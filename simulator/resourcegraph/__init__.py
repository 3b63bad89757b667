"""Microsoft.ResourceGraph in the simulator (``sim.resourcegraph``): the app's queries answered
from the simulator's own state, with Resource Graph's quota headers, paging and lag."""

from __future__ import annotations

from .models import ResourceGraph

__all__ = ["ResourceGraph"]
