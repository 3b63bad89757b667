"""ARM in the simulator: the resource store every ARM service keeps its resources in (seed any
type with ``sim.arm.put(id, body)``), its catch-all GET and ARM's error bodies."""

from .models import GENERIC_GET, ResourceStore, key

__all__ = ["GENERIC_GET", "ResourceStore", "key"]
