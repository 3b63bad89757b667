"""ARM in the simulator: the case-insensitive resource store every ARM service keeps its resources
in (any type can be seeded with ``sim.arm.put(id, body)``), its catch-all GET (``arm.generic.get``,
matched last), and ARM's error bodies (``exceptions``).
"""

from __future__ import annotations

from .models import GENERIC_GET, ResourceStore, key

__all__ = ["GENERIC_GET", "ResourceStore", "key"]
