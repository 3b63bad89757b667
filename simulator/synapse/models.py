"""Synapse workspaces (ARM) and their managed private endpoints (data plane), as Synapse keeps
them: only a workspace with a managed virtual network has them; a decision on the private endpoint
behind one shows in its ``connectionState``; deleting the workspace deletes them."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from ..network.models import check_status
from ..server import Call, Reply, Route, route
from ..shapes import JSON, last_segment
from . import shapes
from .exceptions import (
    managed_private_endpoint_not_found,
    managed_vnet_not_found,
    workspace_not_found,
)

if TYPE_CHECKING:
    from ..azure_simulator import AzureSimulator

#: Path of the data plane (``SYNAPSE_DEV_ENDPOINT``); the workspace's name follows.
DATA_PLANE_PATH = "/synapse-dev"
_SEG = r"[^/]+"
_WS = rf"/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers/microsoft\.synapse/workspaces/{_SEG}"
_MPES = (
    rf"{DATA_PLANE_PATH}/(?P<ws>{_SEG})/managedvirtualnetworks/(?P<vnet>{_SEG})"
    r"/managedprivateendpoints"
)


class Synapse:
    """``sim.synapse``: workspaces (in the resource store) and their managed private endpoints."""

    def __init__(self, sim: AzureSimulator) -> None:
        self.sim = sim
        self._store = sim.arm
        # Lower-cased workspace name -> lower-cased MPE name -> body.
        self.mpes: dict[str, dict[str, JSON]] = {}
        sim.arm.on_delete(self._forget_managed_private_endpoints)

    def routes(self) -> list[Route]:
        mpe = rf"^{_MPES}/(?P<name>{_SEG})$"
        return [
            route("GET", rf"^{_WS}$", "synapse.workspace.get", self.sim.arm.serve),
            route("GET", rf"^{_MPES}$", "synapse.mpe.list", self.mpe_list, "synapse"),
            route("GET", mpe, "synapse.mpe.get", self.mpe_get, "synapse"),
        ]

    @property
    def dev_endpoint_template(self) -> str:
        """The data plane (``SYNAPSE_DEV_ENDPOINT``) with a literal ``{workspace}`` placeholder."""
        return f"{self.sim.url}{DATA_PLANE_PATH}/{{workspace}}"

    def reset(self) -> None:
        with self._store.lock:
            self.mpes.clear()

    def add_workspace(
        self,
        workspace_id: str,
        *,
        principal_id: str,
        managed_vnet: bool = True,
        prevent_data_exfiltration: bool = False,
        tenant_id: str | None = None,
        workspace_uid: str | None = None,
    ) -> JSON:
        """Seed a Synapse workspace, its name also its data-plane name; ``workspace_uid`` (default:
        from the ID) changes in Azure when a workspace is created again."""
        tenant = tenant_id or self.sim.tenant_id
        body = shapes.synapse_workspace(
            workspace_id, principal_id, tenant, managed_vnet, prevent_data_exfiltration
        )
        if workspace_uid is not None:
            body["properties"]["workspaceUID"] = workspace_uid
        if self.sim.started:
            dev = self.dev_endpoint_template.replace("{workspace}", last_segment(workspace_id))
            body["properties"]["connectivityEndpoints"]["dev"] = dev
        with self._store.lock:
            self.mpes.setdefault(last_segment(workspace_id).lower(), {})
            return self._store.put(workspace_id, body)

    def add_managed_private_endpoint(
        self,
        synapse_workspace_id: str,
        name: str,
        *,
        private_link_resource_id: str,
        resource_id: str | None,
        group_id: str = "amlworkspace",
        status: str = "Pending",
    ) -> JSON:
        """Seed a managed private endpoint; ``resource_id`` is the private endpoint behind it (None
        leaves ``properties.resourceId`` out, as older data has it)."""
        self._store.require(synapse_workspace_id)
        check_status(status)
        with self._store.lock:
            mpes = self.mpes.setdefault(last_segment(synapse_workspace_id).lower(), {})
            ip = f"10.250.0.{10 + len(mpes) % 240}"
            target = private_link_resource_id
            body = shapes.managed_private_endpoint(name, target, resource_id, group_id, status, ip)
            mpes[name.lower()] = body
            return copy.deepcopy(body)

    def workspace_named(self, name: str) -> JSON | None:
        """The stored Synapse workspace whose name is ``name`` (case-insensitive), or None."""
        wanted = (shapes.SYNAPSE_WORKSPACE_TYPE.lower(), name.lower())
        found = self._store.resources.values()
        return next(
            (b for b in found if (_type(b), str(b.get("name", "")).lower()) == wanted), None
        )

    def mirror_connection_state(self, target_id: str, pe_id: str, state: JSON) -> None:
        """Show a target's decision on every managed private endpoint behind ``pe_id``."""
        del target_id  # a managed private endpoint is found by its private endpoint alone
        for mpes in self.mpes.values():
            for mpe in mpes.values():
                props = mpe["properties"]
                if str(props.get("resourceId", "")).lower() == pe_id.lower():
                    props["connectionState"]["status"] = state.get("status", "")
                    props["connectionState"]["description"] = state.get("description", "")

    def _forget_managed_private_endpoints(self, resource_id: str, stored: JSON) -> None:
        if _type(stored) == shapes.SYNAPSE_WORKSPACE_TYPE.lower():
            self.mpes.pop(last_segment(resource_id).lower(), None)

    def _mpes(self, call: Call) -> dict[str, JSON] | Reply:
        name = call.group("ws")
        workspace = self.workspace_named(name)
        if workspace is None:
            return workspace_not_found(name)
        vnet = workspace.get("properties", {}).get("managedVirtualNetwork")
        if not vnet or str(vnet).lower() != call.group("vnet").lower():
            return managed_vnet_not_found(name, call.group("vnet"))
        return self.mpes.setdefault(name.lower(), {})

    def mpe_list(self, call: Call) -> Reply:
        """A page of a managed virtual network's managed private endpoints (``$skipToken``)."""
        if isinstance(mpes := self._mpes(call), Reply):
            return mpes
        return self.sim.page(call, list(mpes.values()), "$skipToken")

    def mpe_get(self, call: Call) -> Reply:
        if isinstance(mpes := self._mpes(call), Reply):
            return mpes
        if (found := mpes.get(call.group("name").lower())) is None:
            return managed_private_endpoint_not_found(call.group("name"))
        return Reply(200, copy.deepcopy(found))


def _type(body: JSON) -> str:
    return str(body.get("type", "")).lower()
