"""HTTP in, store calls, HTTP out for the generic ARM GET, and ARM's paging.

Handlers run with the simulator's lock held.
"""

from __future__ import annotations

import copy
import urllib.parse

from ..server import Call, Reply, SimulatorServer
from ..shapes import JSON
from .exceptions import bad_request, not_found
from .models import ResourceStore


def page(server: SimulatorServer, call: Call, items: list[JSON], token: str) -> Reply:
    """One page of ``items``; the nextLink carries the offset in query parameter ``token``."""
    try:
        skip = int(call.query.get(token, "0"))
    except ValueError:
        return bad_request(f"Invalid {token}.")
    size = max(1, server.page_size)
    body: JSON = {"value": items[skip : skip + size]}
    if skip + size < len(items):
        api = urllib.parse.quote(call.query.get("api-version", ""), safe="")
        path = urllib.parse.quote(call.path)
        body["nextLink"] = f"{server.url}{path}?api-version={api}&{token}={skip + size}"
    return Reply(200, body)


class ArmResponses:
    """Handlers over the resource store."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store

    def get(self, call: Call) -> Reply:
        """GET of any stored resource by its ID (the path)."""
        found = self._store.stored(call.path)
        if found is None:
            return not_found(call.path)
        return Reply(200, copy.deepcopy(found))
