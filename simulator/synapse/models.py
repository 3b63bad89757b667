"""Synapse in the simulator: workspaces (ARM) and the managed private endpoints of their managed
virtual network (data plane).

Rules kept here as Synapse applies them: a workspace's data-plane name is its ARM name; only a
workspace with a managed virtual network has managed private endpoints; a target's decision on
the private endpoint behind a managed private endpoint shows in its ``connectionState``;
deleting the workspace deletes its managed private endpoints.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from ..arm.models import ResourceStore
from ..network.models import check_status
from ..shapes import JSON, last_segment
from . import shapes


class Synapse:
    """Synapse workspaces (in the resource store) and their managed private endpoints."""

    def __init__(
        self, store: ResourceStore, *, tenant_id: str, dev_endpoint: Callable[[str], str | None]
    ) -> None:
        """Over ``store``; ``dev_endpoint(name)`` is a workspace's data-plane URL (None while the
        simulator is not serving)."""
        self._store = store
        self.tenant_id = tenant_id
        self._dev_endpoint = dev_endpoint
        #: ``nextLink`` value on the last MPE page; None leaves the field out.
        #: The published Synapse example sends ``""`` there, which this can mimic.
        self.last_page_next_link: str | None = None
        # Lower-cased workspace name -> lower-cased MPE name -> body.
        self.mpes: dict[str, dict[str, JSON]] = {}
        store.on_delete(self._forget_managed_private_endpoints)

    def reset(self) -> None:
        """Forget every managed private endpoint; the last page has no nextLink again."""
        with self._store.lock:
            self.mpes.clear()
            self.last_page_next_link = None

    # --------------------------------------------------------------------- seeding

    def add_synapse_workspace(
        self,
        workspace_id: str,
        *,
        principal_id: str,
        managed_vnet: bool = True,
        prevent_data_exfiltration: bool = False,
        tenant_id: str | None = None,
        workspace_uid: str | None = None,
    ) -> JSON:
        """Seed a Synapse workspace; see :meth:`simulator.AzureSimulator.add_synapse_workspace`."""
        body = shapes.synapse_workspace(
            workspace_id,
            principal_id=principal_id,
            tenant_id=tenant_id or self.tenant_id,
            managed_vnet=managed_vnet,
            prevent_data_exfiltration=prevent_data_exfiltration,
        )
        if workspace_uid is not None:
            body["properties"]["workspaceUID"] = workspace_uid
        dev = self._dev_endpoint(last_segment(workspace_id))
        if dev is not None:
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
        """Seed a managed private endpoint in a Synapse workspace's managed network.

        ``resource_id`` is the ARM id of the private endpoint behind it (None
        leaves ``properties.resourceId`` out, as older data has it).
        """
        self._store.require(synapse_workspace_id)
        check_status(status)
        with self._store.lock:
            mpes = self.mpes.setdefault(last_segment(synapse_workspace_id).lower(), {})
            body = shapes.managed_private_endpoint(
                name,
                private_link_resource_id=private_link_resource_id,
                resource_id=resource_id,
                group_id=group_id,
                status=status,
                ip_address=f"10.250.0.{10 + len(mpes) % 240}",
            )
            mpes[name.lower()] = body
            return copy.deepcopy(body)

    # ----------------------------------------------------------------------- rules

    def workspace_named(self, name: str) -> JSON | None:
        """The stored Synapse workspace whose name is ``name`` (case-insensitive), or None."""
        return next(
            (
                body
                for body in self._store.resources.values()
                if body.get("type", "").lower() == shapes.SYNAPSE_WORKSPACE_TYPE.lower()
                and str(body.get("name", "")).lower() == name.lower()
            ),
            None,
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
        if str(stored.get("type", "")).lower() == shapes.SYNAPSE_WORKSPACE_TYPE.lower():
            self.mpes.pop(last_segment(resource_id).lower(), None)
