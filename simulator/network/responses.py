"""HTTP in, model calls, HTTP out for private endpoints and dependencies' connections.

Handlers run with the simulator's lock held.
"""

from __future__ import annotations

import copy

from ..arm.exceptions import not_found
from ..arm.models import ResourceStore
from ..server import Call, Reply
from .models import Network


class NetworkResponses:
    """Handlers over the network model and the resource store."""

    def __init__(self, store: ResourceStore, network: Network) -> None:
        self._store = store
        self._network = network

    def private_endpoint_get(self, call: Call) -> Reply:
        """GET of a private endpoint."""
        found = self._store.stored(call.path)
        if found is None:
            return not_found(call.path)
        return Reply(200, copy.deepcopy(found))

    def dependency_connection_list(self, call: Call) -> Reply:
        """The private endpoint connections of any stored resource (a dependency)."""
        resource_id = call.group("res")
        stored = self._store.stored(resource_id)
        if stored is None:
            return not_found(resource_id)
        return Reply(200, {"value": self._network.dependency_connections(resource_id, stored)})

    def dependency_connection_get(self, call: Call) -> Reply:
        """One connection of a dependency: a stored child, else one embedded in the resource."""
        found = self._store.stored(call.path)
        if found is not None:
            return Reply(200, copy.deepcopy(found))
        resource_id = call.group("res")
        stored = self._store.stored(resource_id)
        name = call.group("name").lower()
        for connection in self._network.dependency_connections(resource_id, stored or {}):
            if str(connection.get("name", "")).lower() == name:
                return Reply(200, connection)
        return not_found(call.path)
