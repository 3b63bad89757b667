"""ARM in the simulator: the generic, case-insensitive resource store every ARM service keeps its
resources in, with the generic GET of any stored resource (route ``arm.generic.get``, matched
last), and ARM's error bodies (``exceptions``).

Resources of any type can be seeded with ``sim.arm.put(id, body)``; the services (``ml``,
``authorization``, ``network``, ``synapse``) keep theirs in the same store.
"""

from __future__ import annotations

from .models import GENERIC_GET, ResourceStore, key

__all__ = ["GENERIC_GET", "ResourceStore", "key"]
