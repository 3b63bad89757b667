"""Management groups (``sim.management``): which groups hold which groups and subscriptions, and
``GET /providers/Microsoft.Management/managementGroups/{groupId}/descendants`` (route
``management.descendants``), shaped on the REST reference's GetDescendants example (2020-05-01):
every group and subscription anywhere below, each with its parent, a page at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..server import Call, Reply, Route, arm_error, route
from ..shapes import JSON

if TYPE_CHECKING:
    from ..server import SimulatorServer

GROUP_TYPE = "Microsoft.Management/managementGroups"
GROUPS = f"/providers/{GROUP_TYPE}"


def group_id(name: str) -> str:
    return f"{GROUPS}/{name}"


class ManagementGroups:
    """The hierarchy: each group's and subscription's parent group."""

    def __init__(self, sim: SimulatorServer) -> None:
        self.sim = sim
        self.lock = sim.lock
        # Lower-cased name -> (name as created, parent group name or None for a root).
        self._groups: dict[str, tuple[str, str | None]] = {}
        # Lower-cased subscription ID -> (ID, parent group name).
        self._subscriptions: dict[str, tuple[str, str]] = {}

    def routes(self) -> list[Route]:
        pattern = (
            r"^/providers/microsoft\.management/managementgroups/(?P<group>[^/]+)/descendants$"
        )
        return [route("GET", pattern, "management.descendants", self.descendants)]

    def reset(self) -> None:
        with self.lock:
            self._groups.clear()
            self._subscriptions.clear()

    def add_group(self, name: str, parent: str | None = None) -> str:
        """Seed a management group under ``parent`` (None: a root); returns its ID."""
        with self.lock:
            if parent is not None and parent.lower() not in self._groups:
                raise KeyError(f"seed management group {parent} first")
            self._groups[name.lower()] = (name, parent)
        return group_id(name)

    def place_subscription(self, subscription_id: str, group: str) -> None:
        """Put a subscription under ``group`` (a subscription has one parent: it moves)."""
        with self.lock:
            if group.lower() not in self._groups:
                raise KeyError(f"seed management group {group} first")
            self._subscriptions[subscription_id.lower()] = (subscription_id, group)

    def _below(self, group: str) -> list[JSON]:
        found: list[JSON] = []
        for name, parent in sorted(self._groups.values()):
            if parent is not None and parent.lower() == group.lower():
                found.append(_entry(group_id(name), GROUP_TYPE, name, parent))
                found += self._below(name)
        for sub, parent in sorted(self._subscriptions.values()):
            if parent.lower() == group.lower():
                kind = f"{GROUP_TYPE}/subscriptions"
                found.append(_entry(f"/subscriptions/{sub}", kind, sub, parent))
        return found

    def subscriptions_under(self, group: str) -> set[str]:
        """The (lower-cased) subscriptions anywhere under ``group``."""
        return {
            str(e["name"]).lower()
            for e in self._below(group)
            if e["type"].endswith("s/subscriptions")
        }

    def descendants(self, call: Call) -> Reply:
        group = call.group("group")
        if group.lower() not in self._groups:
            # What ARM answers for a group the caller cannot see, or that does not exist.
            return arm_error(
                403,
                "AuthorizationFailed",
                f"The client does not have authorization to perform action "
                f"'Microsoft.Management/managementGroups/descendants/read' over scope "
                f"'{group_id(group)}'.",
            )
        return self.sim.page(call, self._below(group), "$skiptoken")


def _entry(arm_id: str, arm_type: str, name: str, parent: str) -> JSON:
    return {
        "id": arm_id,
        "type": arm_type,
        "name": name,
        "properties": {"displayName": name, "parent": {"id": group_id(parent)}},
    }
