"""Role assignments and the directory's principals, with ARM's and Entra ID's rules: a GUID name;
a role definition ID; a principal the directory knows (``PrincipalNotFound`` also during a
replication delay) of the stated type; one assignment of a role per principal and scope; principal,
role and scope never change. Assignments live in the resource store and are served normalized."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Final

from ..arm.models import key as store_key
from ..server import Route
from ..shapes import JSON, last_segment
from . import shapes

if TYPE_CHECKING:
    from ..azure_simulator import AzureSimulator

PRINCIPAL_TYPES: Final = frozenset({"User", "Group", "ServicePrincipal", "ForeignGroup", "Device"})
ROLE_DEFINITION_ID: Final = re.compile(
    r"^(?:/subscriptions/[^/]+)?/providers/microsoft\.authorization/roledefinitions/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    re.IGNORECASE,
)
RA_SEGMENT: Final = "/providers/microsoft.authorization/roleassignments/"
#: The object ID of the person who makes seeded role assignments.
PERSON: Final = "5e7d1c3b-2a4f-4b6e-8d9c-0f1e2d3c4b5a"


def at_or_above(candidate: str, scope: str) -> bool:
    """Whether the scope ``candidate`` is ``scope`` or one of its ancestors (both normalized)."""
    return candidate in ("/", scope) or scope.startswith(candidate + "/")


def role_guid(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def assignment_view(stored_key: str, body: JSON) -> JSON | None:
    """The served form of a stored body if ``stored_key`` is a role assignment's, else None."""
    index = stored_key.rfind(RA_SEGMENT)
    if index < 0 or "/" in stored_key[index + len(RA_SEGMENT) :]:
        return None
    view = copy.deepcopy(body)
    stored_id = str(view.get("id") or stored_key)
    cut = stored_id.lower().rfind(RA_SEGMENT)
    properties = view.setdefault("properties", {})
    properties.setdefault("scope", (stored_id[:cut] if cut >= 0 else stored_key[:index]) or "/")
    view.setdefault("type", shapes.ROLE_ASSIGNMENT_TYPE)
    view.setdefault("name", last_segment(stored_id))
    return view


class Authorization:
    """``sim.authorization``: role assignments (in the resource store) and the directory."""

    def __init__(self, sim: AzureSimulator) -> None:
        self.sim = sim
        self._store = sim.arm
        #: Directory objects: lower-cased principal id -> principal type.
        self.principals: dict[str, str] = {}
        #: Lower-cased principal id -> PUTs left that still answer PrincipalNotFound.
        self.replication_delays: dict[str, int] = {}

    def routes(self) -> list[Route]:
        from .urls import routes

        return routes(self)

    def updated_by(self) -> str:
        """The object ID that writes assignments: the app's managed identity."""
        return self.sim.identity.principal_id

    def reset(self) -> None:
        """Forget principals and delays (assignments live in the store)."""
        with self._store.lock:
            self.principals.clear()
            self.replication_delays.clear()

    def add_principal(self, principal_id: str, principal_type: str = "ServicePrincipal") -> None:
        """Make a principal known (stored identities' and seeded assignments' already are)."""
        if principal_type not in PRINCIPAL_TYPES:
            raise ValueError(f"principal_type must be one of {sorted(PRINCIPAL_TYPES)}")
        with self._store.lock:
            self.principals[principal_id.lower()] = principal_type

    def principal_replication_delay(self, principal_id: str, *, times: int = 1) -> None:
        """Entra ID's replication delay: the next ``times`` role assignment PUTs for the (now
        known) principal answer PrincipalNotFound; injected faults come first."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._store.lock:
            if self.principal_type(principal_id) is None:
                self.principals[principal_id.lower()] = "ServicePrincipal"
            self.replication_delays[principal_id.lower()] = times

    def add_role_assignment(
        self,
        scope: str,
        name: str,
        principal_id: str,
        role_definition_id: str,
        principal_type: str = "ServicePrincipal",
        *,
        created_by: str = PERSON,
        description: str | None = None,
    ) -> JSON:
        """Seed a role assignment at ``scope`` (no duplicate or principal checks; the principal
        becomes known), made by ``created_by`` (a person, unless the app's ``updated_by()``)."""
        body = shapes.role_assignment(
            scope,
            name,
            principal_id=principal_id,
            role_definition_id=role_definition_id,
            principal_type=principal_type,
            created_by=created_by,
            description=description,
        )
        with self._store.lock:
            self.principals.setdefault(principal_id.lower(), principal_type)
            return self._store.put(body["id"], body)

    def add_policy_exemption(
        self,
        scope: str,
        name: str,
        *,
        assignment_id: str,
        category: str = "Waiver",
        reference_ids: list[str] | None = None,
        expires_on: str | None = None,
        description: str | None = None,
        resource_selectors: list[JSON] | None = None,
    ) -> JSON:
        """Seed an Azure Policy exemption at ``scope`` (listed by ``authz.pe.list``)."""
        properties: JSON = {"policyDefinitionReferenceIds": reference_ids, "expiresOn": expires_on}
        properties["resourceSelectors"] = resource_selectors
        body = shapes.policy_exemption(
            scope, name, assignment_id, category, description, properties
        )
        return self._store.put(body["id"], body)

    def role_assignments(self, scope: str | None = None) -> list[JSON]:
        """Copies of the stored role assignments made exactly at ``scope`` (all when None)."""
        with self._store.lock:
            return [
                copy.deepcopy(body)
                for _, body in self.assignment_items()
                if scope is None or store_key(body["properties"]["scope"]) == store_key(scope)
            ]

    def assignment_items(self) -> list[tuple[str, JSON]]:
        """(store key, served view) of every stored role assignment."""
        items = ((k, assignment_view(k, body)) for k, body in self._store.resources.items())
        return [(k, view) for k, view in items if view is not None]

    def principal_type(self, principal_id: str) -> str | None:
        """The type of a principal the directory knows, or None."""
        key = principal_id.lower()
        if key in self.principals:
            return self.principals[key]
        for body in self._store.resources.values():
            identity = body.get("identity")
            if not isinstance(identity, dict):
                continue
            ids = [identity.get("principalId")] + [
                uai.get("principalId")
                for uai in (identity.get("userAssignedIdentities") or {}).values()
                if isinstance(uai, dict)
            ]
            if any(str(i or "").lower() == key for i in ids):
                return "ServicePrincipal"
        return None
