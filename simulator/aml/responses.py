"""HTTP in, model calls, HTTP out for AML workspaces (GET, PATCH), computes (list, get, scale
update with its Azure-AsyncOperation) and private endpoint connections (list, get, PUT).

Handlers run with the simulator's lock held.
"""

from __future__ import annotations

import copy
import urllib.parse
import uuid

from .. import shapes
from ..arm.exceptions import bad_request, invalid_content, not_found
from ..arm.models import ResourceStore
from ..arm.responses import page
from ..network.models import CONNECTION_STATUSES
from ..server import Call, Reply, SimulatorServer, arm_error
from .models import PUBLIC_NETWORK_ACCESS, WORKSPACE_READ_ONLY, MachineLearningWorkspaces


class MachineLearningWorkspacesResponses:
    """Handlers over the workspaces model."""

    def __init__(
        self, server: SimulatorServer, store: ResourceStore, model: MachineLearningWorkspaces
    ) -> None:
        self._server = server
        self._store = store
        self._model = model

    def get(self, call: Call) -> Reply:
        """GET of a compute or a connection: the stored body."""
        found = self._store.stored(call.path)
        if found is None:
            return not_found(call.path)
        return Reply(200, copy.deepcopy(found))

    def workspace_get(self, call: Call) -> Reply:
        """GET of a workspace, its connections embedded."""
        found = self._store.stored(call.path)
        if found is None:
            return not_found(call.path)
        return Reply(200, self._model.workspace_view(call.path, found))

    def workspace_patch(self, call: Call) -> Reply:
        """PATCH of a workspace: what the caller may write is merged in."""
        stored = self._store.stored(call.path)
        if stored is None:
            return not_found(call.path)
        body = call.body
        if not isinstance(body, dict):
            return invalid_content("The request body must be a JSON object.")
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            return invalid_content("properties must be a JSON object.")
        access = properties.get("publicNetworkAccess")
        if access is not None and access not in PUBLIC_NETWORK_ACCESS:
            return bad_request(
                f"publicNetworkAccess '{access}' is not one of {sorted(PUBLIC_NETWORK_ACCESS)}."
            )
        target = stored.setdefault("properties", {})
        for key, value in properties.items():
            if value is not None and key not in WORKSPACE_READ_ONLY:
                target[key] = copy.deepcopy(value)
        for key in ("tags", "sku"):
            if body.get(key) is not None:
                stored[key] = copy.deepcopy(body[key])
        identity = body.get("identity")
        if isinstance(identity, dict):
            merged = copy.deepcopy(identity)
            old = stored.get("identity") or {}
            if "systemassigned" in str(merged.get("type", "")).lower():
                # The system-assigned identity survives an update that keeps it.
                for key in ("principalId", "tenantId"):
                    if key in old:
                        merged.setdefault(key, old[key])
            stored["identity"] = merged
        return Reply(200, self._model.workspace_view(call.path, stored))

    def compute_list(self, call: Call) -> Reply:
        """A page of the workspace's computes (``$skip``)."""
        workspace_id = call.group("ws")
        if not self._store.exists(workspace_id):
            return not_found(workspace_id)
        return page(self._server, call, self._store.children(workspace_id, "computes"), "$skip")

    def compute_patch(self, call: Call) -> Reply:
        """Update of an AmlCompute's scale settings; answered as an operation already done."""
        workspace_id = call.group("ws")
        if not self._store.exists(workspace_id):
            return not_found(workspace_id)
        stored = self._store.stored(call.path)
        if stored is None:
            return not_found(call.path)
        body = call.body if isinstance(call.body, dict) else {}
        outer = body.get("properties")
        inner = outer.get("properties") if isinstance(outer, dict) else None
        scale = inner.get("scaleSettings") if isinstance(inner, dict) else None
        if not isinstance(scale, dict):
            hint = (
                " The body has a top-level 'scaleSettings': that is a ScaleSettingsInformation "
                "sent without its ClusterUpdateParameters(properties=...) envelope."
                if "scaleSettings" in body
                else ""
            )
            return bad_request(
                "ClusterUpdateParameters need properties.properties.scaleSettings." + hint
            )
        properties = stored.setdefault("properties", {})
        compute_type = str(properties.get("computeType", ""))
        if compute_type.lower() != "amlcompute":
            return bad_request(
                f"Compute '{shapes.last_segment(call.path)}' is of type '{compute_type}'; only "
                "AmlCompute scale settings can be updated."
            )
        current = properties.setdefault("properties", {}).setdefault("scaleSettings", {})
        merged = {**current, **{k: v for k, v in scale.items() if v is not None}}
        maximum, minimum = merged.get("maxNodeCount"), merged.get("minNodeCount", 0)
        for key, value in (("maxNodeCount", maximum), ("minNodeCount", minimum)):
            if value is not None and (not isinstance(value, int) or value < 0):
                return bad_request(f"{key} must be a non-negative integer, not {value!r}.")
        if isinstance(maximum, int) and isinstance(minimum, int) and maximum < minimum:
            return bad_request(
                f"maxNodeCount ({maximum}) must be greater than or equal to "
                f"minNodeCount ({minimum})."
            )
        current.clear()
        current.update(merged)
        properties["modifiedOn"] = shapes.now_iso()
        properties["provisioningState"] = "Succeeded"
        # As in the spec's Compute/patch.json: 200, provisioningState Updating
        # and an Azure-AsyncOperation to poll. The operation is already done,
        # and Retry-After: 0 keeps the SDK's poller from waiting 30 s; it then
        # GETs the compute for its result (a fresh body: azure-mgmt-
        # machinelearningservices 2.0.0b2 loses the computeType discriminator
        # when it deserializes the same response twice, as it does for an LRO
        # that ends on its initial response).
        operation = str(uuid.uuid4())
        now = shapes.now_iso()
        self._model.operations[operation] = {
            "id": operation,
            "name": operation,
            "status": "Succeeded",
            "startTime": now,
            "endTime": now,
        }
        subscription, _ = shapes.scope_of(call.path)
        location = urllib.parse.quote(str(stored.get("location") or shapes.DEFAULT_LOCATION))
        api = urllib.parse.quote(call.query.get("api-version", ""), safe="")
        status_url = (
            f"{self._server.url}/subscriptions/{subscription}/providers/Microsoft.MachineLearningServices"
            f"/locations/{location}/computeOperationsStatus/{operation}?api-version={api}"
        )
        reply = copy.deepcopy(stored)
        reply["properties"]["provisioningState"] = "Updating"
        return Reply(200, reply, {"Azure-AsyncOperation": status_url, "Retry-After": "0"})

    def compute_operation(self, call: Call) -> Reply:
        """The status of a compute update (its Azure-AsyncOperation)."""
        found = self._model.operations.get(call.group("op").lower())
        if found is None:
            return arm_error(404, "NotFound", f"Operation '{call.group('op')}' was not found.")
        return Reply(200, copy.deepcopy(found))

    def connection_list(self, call: Call) -> Reply:
        """The workspace's private endpoint connections."""
        workspace_id = call.group("ws")
        if not self._store.exists(workspace_id):
            return not_found(workspace_id)
        return Reply(200, {"value": self._model.connections(workspace_id)})

    def connection_put(self, call: Call) -> Reply:
        """A decision on a connection (approve, reject): only its state changes."""
        workspace_id = call.group("ws")
        if not self._store.exists(workspace_id):
            return not_found(workspace_id)
        stored = self._store.stored(call.path)
        if stored is None:
            return not_found(call.path)
        properties = call.body.get("properties") if isinstance(call.body, dict) else None
        state = properties.get("privateLinkServiceConnectionState") if properties else None
        if not isinstance(state, dict):
            return arm_error(
                400,
                "InvalidRequestContent",
                "properties.privateLinkServiceConnectionState is required.",
            )
        status = state.get("status")
        if status is not None and status not in CONNECTION_STATUSES:
            return arm_error(
                400,
                "InvalidPrivateEndpointConnectionStatus",
                f"Status '{status}' is not one of {sorted(CONNECTION_STATUSES)}.",
            )
        self._model.set_connection_state(workspace_id, stored, state)
        return Reply(200, copy.deepcopy(stored))
