"""HTTP in, model calls, HTTP out for Synapse workspaces and managed private endpoints.

Handlers run with the simulator's lock held.
"""

from __future__ import annotations

import copy
import urllib.parse

from ..arm.exceptions import not_found
from ..arm.models import ResourceStore
from ..server import Call, Reply, SimulatorServer, arm_error
from ..shapes import JSON
from .exceptions import (
    managed_private_endpoint_not_found,
    managed_vnet_not_found,
    workspace_not_found,
)
from .models import Synapse


class SynapseResponses:
    """Handlers over the Synapse model."""

    def __init__(self, server: SimulatorServer, store: ResourceStore, synapse: Synapse) -> None:
        self._server = server
        self._store = store
        self._synapse = synapse

    def workspace_get(self, call: Call) -> Reply:
        """ARM GET of a Synapse workspace."""
        found = self._store.stored(call.path)
        if found is None:
            return not_found(call.path)
        return Reply(200, copy.deepcopy(found))

    def _scope(self, call: Call) -> tuple[dict[str, JSON] | None, Reply | None]:
        name = call.group("ws")
        workspace = self._synapse.workspace_named(name)
        if workspace is None:
            return None, workspace_not_found(name)
        vnet = workspace.get("properties", {}).get("managedVirtualNetwork")
        if not vnet or str(vnet).lower() != call.group("vnet").lower():
            return None, managed_vnet_not_found(name, call.group("vnet"))
        return self._synapse.mpes.setdefault(name.lower(), {}), None

    def mpe_list(self, call: Call) -> Reply:
        """A page of a managed virtual network's managed private endpoints (``$skipToken``)."""
        mpes, error = self._scope(call)
        if error is not None or mpes is None:
            return error or arm_error(500, "InternalServerError", "no scope")
        try:
            skip = int(call.query.get("$skipToken", "0"))
        except ValueError:
            return arm_error(400, "BadRequest", "Invalid $skipToken.")
        items = list(mpes.values())
        size = max(1, self._server.page_size)
        body: JSON = {"value": copy.deepcopy(items[skip : skip + size])}
        if skip + size < len(items):
            api = urllib.parse.quote(call.query.get("api-version", ""), safe="")
            path = urllib.parse.quote(call.path)
            body["nextLink"] = (
                f"{self._server.url}{path}?api-version={api}&$skipToken={skip + size}"
            )
        elif self._synapse.last_page_next_link is not None:
            body["nextLink"] = self._synapse.last_page_next_link
        return Reply(200, body)

    def mpe_get(self, call: Call) -> Reply:
        """One managed private endpoint."""
        mpes, error = self._scope(call)
        if error is not None or mpes is None:
            return error or arm_error(500, "InternalServerError", "no scope")
        found = mpes.get(call.group("name").lower())
        if found is None:
            return managed_private_endpoint_not_found(call.group("name"))
        return Reply(200, copy.deepcopy(found))
