"""The ARM side of Azure Machine Learning in the simulator: workspaces, their computes and their
private endpoint connections.

Rules kept here as the service applies them: a workspace embeds its private endpoint connections
(built from the stored children, so both views agree); a PATCH changes only what the caller may
write (:data:`WORKSPACE_READ_ONLY` is left as it is) and keeps the system-assigned identity; only
an AmlCompute's scale settings can be updated, never to fewer nodes at most than at least; a
connection's decision shows on the private endpoint and on Synapse's managed private endpoint
(the ``on_connection_state`` hooks).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Final

from ..arm.models import ResourceStore
from ..network.models import check_status
from ..shapes import DEFAULT_LOCATION, JSON
from . import shapes

# Properties of an AML workspace that only the service writes; a PATCH that
# carries them is not an error, they are just not taken over (as in ARM).
WORKSPACE_READ_ONLY: Final = frozenset(
    {
        "provisioningState",
        "workspaceId",
        "discoveryUrl",
        "privateEndpointConnections",
        "privateLinkCount",
        "serviceProvisionedResourceGroup",
        "mlFlowTrackingUri",
        "notebookInfo",
        "tenantId",
        "storageHnsEnabled",
    }
)
PUBLIC_NETWORK_ACCESS: Final = frozenset({"Enabled", "Disabled"})

#: ``hook(workspace_id, private_endpoint_id, connection_state)`` after a connection's decision.
ConnectionStateHook = Callable[[str, str, JSON], None]


class MachineLearningWorkspaces:
    """AML workspaces, computes and connections (in the resource store), and compute operations."""

    def __init__(self, store: ResourceStore, *, tenant_id: str) -> None:
        """Over ``store``; ``tenant_id`` goes into seeded workspaces."""
        self._store = store
        self.tenant_id = tenant_id
        #: Azure-AsyncOperation status bodies of compute updates, by operation id.
        self.operations: dict[str, JSON] = {}
        self._connection_state_hooks: list[ConnectionStateHook] = []

    def on_connection_state(self, hook: ConnectionStateHook) -> None:
        """Call ``hook`` when a connection's state is set (the consumer side mirrors it)."""
        self._connection_state_hooks.append(hook)

    def reset(self) -> None:
        """Forget compute operations (the resources live in the store)."""
        with self._store.lock:
            self.operations.clear()

    # --------------------------------------------------------------------- seeding

    def add_ml_workspace(
        self,
        workspace_id: str,
        *,
        public_network_access: str = "Enabled",
        identity: JSON | None = None,
        **properties_overrides: Any,
    ) -> JSON:
        """Seed an AML workspace; keyword overrides replace keys of ``properties``.

        ``identity`` replaces the whole identity block (default: system-assigned,
        with a principal id derived from the workspace id).
        """
        body = shapes.ml_workspace(
            workspace_id,
            public_network_access=public_network_access,
            tenant_id=self.tenant_id,
            properties_overrides=properties_overrides,
            identity=identity,
        )
        return self._store.put(workspace_id, body)

    def add_compute(
        self,
        workspace_id: str,
        name: str,
        *,
        compute_type: str = "AmlCompute",
        vm_size: str = "STANDARD_DS3_V2",
        subnet_id: str | None = None,
        disable_local_auth: bool | None = True,
        max_node_count: int | None = 4,
        min_node_count: int | None = 0,
        remote_login_port_public_access: str | None = "Disabled",
        location: str | None = None,
        current_node_count: int | None = None,
        target_node_count: int | None = None,
    ) -> JSON:
        """Seed a compute of an AML workspace (which must exist); see :func:`shapes.compute`.

        ``compute_type`` is ``AmlCompute``, ``ComputeInstance``, ``AKS`` or
        ``Kubernetes``; None arguments leave their key out. ``location``
        defaults to the workspace's. A cluster's ``current_node_count`` and
        ``target_node_count`` default to its minimum (idle); set them for a
        cluster running jobs.
        """
        self._store.require(workspace_id)
        workspace = self._store.get(workspace_id) or {}
        body = shapes.compute(
            workspace_id,
            name,
            compute_type=compute_type,
            vm_size=vm_size,
            subnet_id=subnet_id,
            disable_local_auth=disable_local_auth,
            max_node_count=max_node_count,
            min_node_count=min_node_count,
            remote_login_port_public_access=remote_login_port_public_access,
            location=location or str(workspace.get("location") or DEFAULT_LOCATION),
            current_node_count=current_node_count,
            target_node_count=target_node_count,
        )
        return self._store.put(body["id"], body)

    def compute(self, workspace_id: str, name: str) -> JSON:
        """A copy of a stored compute (KeyError when there is none)."""
        found = self._store.get(f"{workspace_id}/computes/{name}")
        if found is None:
            raise KeyError(f"no compute {name!r} in {workspace_id}")
        return found

    def add_private_endpoint_connection(
        self,
        workspace_id: str,
        name: str,
        private_endpoint_id: str,
        status: str = "Pending",
        description: str = "",
        actions_required: str = "None",
    ) -> JSON:
        """Seed a private endpoint connection on an AML workspace (which must exist)."""
        self._store.require(workspace_id)
        check_status(status)
        body = shapes.private_endpoint_connection(
            workspace_id,
            name,
            private_endpoint_id=private_endpoint_id,
            status=status,
            description=description,
            actions_required=actions_required,
        )
        return self._store.put(body["id"], body)

    def connection_status(self, workspace_id: str, name: str) -> str:
        """Current status of an AML private endpoint connection."""
        found = self._store.get(f"{workspace_id}/privateEndpointConnections/{name}")
        if found is None:
            raise KeyError(f"no private endpoint connection {name!r} on {workspace_id}")
        return str(found["properties"]["privateLinkServiceConnectionState"]["status"])

    # ----------------------------------------------------------------------- rules

    def connections(self, workspace_id: str) -> list[JSON]:
        """Copies of the workspace's private endpoint connections."""
        return self._store.children(workspace_id, "privateendpointconnections")

    def workspace_view(self, workspace_id: str, stored: JSON) -> JSON:
        """The workspace as ARM serves it, its connections embedded."""
        body = copy.deepcopy(stored)
        # ARM embeds the workspace's connections in the workspace; build them
        # from the stored children so both views always agree.
        body.setdefault("properties", {})["privateEndpointConnections"] = self.connections(
            workspace_id
        )
        return body

    def set_connection_state(self, workspace_id: str, connection: JSON, state: JSON) -> None:
        """Take over a new state (status, description, actions required); mirror it."""
        current = connection["properties"]["privateLinkServiceConnectionState"]
        # Only the state can change; the private endpoint id is fixed by the
        # endpoint's owner, so anything else in the body is ignored.
        for name in ("status", "description", "actionsRequired"):
            if state.get(name) is not None:
                current[name] = state[name]
        connection["properties"]["provisioningState"] = "Succeeded"
        # In Azure the target's decision shows up on the private endpoint and
        # on Synapse's managed private endpoint; mirror that so the app sees a
        # consistent world after approving.
        pe_id = connection["properties"]["privateEndpoint"]["id"]
        for hook in self._connection_state_hooks:
            hook(workspace_id, pe_id, current)
