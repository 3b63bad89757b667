"""ARM in the simulator: the generic, case-insensitive resource store the ARM services share
(``models``), the generic GET of any stored resource (``responses``, ``urls``: route
``arm.generic.get``), ARM's paging and its error bodies (``exceptions``).

Resources of any type can be seeded with ``sim.put_resource(id, body)``; the services
(``aml``, ``authorization``, ``network``, ``synapse``) keep theirs in the same store.
"""

from __future__ import annotations

from .models import ResourceStore, key
from .responses import ArmResponses, page
from .urls import GENERIC_GET, routes

__all__ = ["GENERIC_GET", "ArmResponses", "ResourceStore", "key", "page", "routes"]
