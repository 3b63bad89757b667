"""Microsoft.Network in the simulator: private endpoints, and the private endpoint connections of
an AML workspace's dependencies (embedded in the resource, readable as children). A target's
decision shows on the private endpoint too, as in Azure."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from ..arm.exceptions import not_found
from ..server import Call, Reply, Route, route
from ..shapes import DEFAULT_LOCATION, JSON, arm_type_of
from . import shapes

if TYPE_CHECKING:
    from ..azure_simulator import AzureSimulator

_SEG = r"[^/]+"
_PE = rf"/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers/microsoft\.network/privateendpoints"
_PECS = r"(?P<res>/subscriptions/.+)/privateendpointconnections"
CONNECTION_STATUSES: Final = frozenset(
    {"Pending", "Approved", "Rejected", "Disconnected", "Timeout"}
)


def check_status(status: str) -> None:
    """Raise ValueError unless ``status`` is a private link connection status."""
    if status not in CONNECTION_STATUSES:
        raise ValueError(f"status must be one of {sorted(CONNECTION_STATUSES)}")


class Network:
    """``sim.network``: private endpoints and dependencies' connections, in the resource store."""

    def __init__(self, sim: AzureSimulator) -> None:
        self.sim = sim
        self._store = sim.arm

    def routes(self) -> list[Route]:
        """``arm.pec.*`` match any resource's connections: ``ml`` is mounted first, so an AML
        workspace's own (``aml.pec.*``) win."""
        return [
            route("GET", rf"^{_PE}/{_SEG}$", "network.pe.get", self.sim.arm.serve),
            route("GET", rf"^{_PECS}$", "arm.pec.list", self.dependency_connection_list),
            route("GET", rf"^{_PECS}/(?P<name>{_SEG})$", "arm.pec.get", self.connection_get),
        ]

    def reset(self) -> None:
        """Nothing to forget: its resources live in the store."""

    def add_private_endpoint(
        self,
        pe_id: str,
        *,
        private_link_service_id: str,
        group_ids: tuple[str, ...] | list[str] = ("amlworkspace",),
        manual: bool = True,
    ) -> JSON:
        body = shapes.private_endpoint(pe_id, private_link_service_id, list(group_ids), manual)
        return self._store.put(pe_id, body)

    def add_storage_account(self, resource_id: str, **options: Any) -> JSON:
        """Seed a storage account (the options of :meth:`_add_dependency`); returns it."""
        return self._add_dependency(shapes.storage_account, resource_id, **options)

    def add_key_vault(self, resource_id: str, **options: Any) -> JSON:
        build = functools.partial(shapes.key_vault, tenant_id=self.sim.tenant_id)
        return self._add_dependency(build, resource_id, **options)

    def add_container_registry(self, resource_id: str, **options: Any) -> JSON:
        return self._add_dependency(shapes.container_registry, resource_id, **options)

    def _add_dependency(
        self,
        build: Callable[..., JSON],
        resource_id: str,
        *,
        private_endpoints: Iterable[tuple[str, str, str]] = (),
        location: str = DEFAULT_LOCATION,
        **properties_overrides: Any,
    ) -> JSON:
        """Keyword overrides replace keys of ``properties``; each ``(pe_id, group_id, status)`` of
        ``private_endpoints`` is added with :meth:`add_dependency_private_endpoint`."""
        body = build(resource_id, location=location, properties_overrides=properties_overrides)
        with self._store.lock:
            self._store.put(resource_id, body)
            for pe_id, group_id, status in private_endpoints:
                self.add_dependency_private_endpoint(resource_id, pe_id, group_id, status)
            return self._store.get(resource_id) or {}

    def add_dependency_private_endpoint(
        self,
        resource_id: str,
        pe_id: str,
        group_id: str,
        status: str = "Approved",
        description: str | None = None,
    ) -> JSON:
        """Connect an automatically approved private endpoint to a stored resource (a storage
        account, vault, registry...); returns the connection as the resource embeds it."""
        check_status(status)
        with self._store.lock:
            self._store.require(resource_id)
            stored = self._store.stored(resource_id) or {}
            if description is None:
                description = "Auto-Approved" if status == "Approved" else ""
            kind = str(stored.get("type") or arm_type_of(resource_id))
            connection = shapes.dependency_connection(
                str(stored.get("id", resource_id)), kind, pe_id, status, description
            )
            properties = stored.setdefault("properties", {})
            connections = properties.setdefault("privateEndpointConnections", [])
            connections[:] = [c for c in connections if _endpoint_of(c) != pe_id.lower()]
            connections.append(connection)
            pe = shapes.private_endpoint(pe_id, resource_id, [group_id], False, status)
            self._store.put(pe_id, pe)
            return copy.deepcopy(connection)

    def dependency_connections(self, resource_id: str, stored: JSON) -> list[JSON]:
        """A dependency's connections: the embedded ones, then children not embedded."""
        embedded = (
            copy.deepcopy(stored.get("properties", {}).get("privateEndpointConnections")) or []
        )
        seen = {str(c.get("id", "")).lower() for c in embedded}
        children = self._store.children(resource_id, "privateendpointconnections")
        return embedded + [c for c in children if str(c.get("id", "")).lower() not in seen]

    def mirror_connection_state(self, target_id: str, pe_id: str, state: JSON) -> None:
        """Show a target's decision on the private endpoint's connection to it, as Azure does."""
        pe = self._store.stored(pe_id)
        if pe is None:
            return
        for collection in ("manualPrivateLinkServiceConnections", "privateLinkServiceConnections"):
            for conn in pe.get("properties", {}).get(collection, []):
                props = conn.get("properties", {})
                if str(props.get("privateLinkServiceId", "")).lower() == target_id.lower():
                    props["privateLinkServiceConnectionState"] = dict(state)

    def dependency_connection_list(self, call: Call) -> Reply:
        resource_id = call.group("res")
        if (stored := self._store.stored(resource_id)) is None:
            return not_found(resource_id)
        return Reply(200, {"value": self.dependency_connections(resource_id, stored)})

    def connection_get(self, call: Call) -> Reply:
        """One connection of a dependency: a stored child, else one embedded in the resource."""
        if (found := self._store.stored(call.path)) is not None:
            return Reply(200, copy.deepcopy(found))
        resource_id, name = call.group("res"), call.group("name").lower()
        stored = self._store.stored(resource_id) or {}
        for connection in self.dependency_connections(resource_id, stored):
            if str(connection.get("name", "")).lower() == name:
                return Reply(200, connection)
        return not_found(call.path)


def _endpoint_of(connection: JSON) -> str:
    return str(connection.get("properties", {}).get("privateEndpoint", {}).get("id", "")).lower()
