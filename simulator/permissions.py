"""Azure RBAC in the simulator: a call whose action the app's roles lack is answered 403, so a
missing action fails a test instead of a production run. ``infra/permissions.json`` (the Bicep's
custom roles) maps each call (method and path template, or a data plane's audience) to actions;
an unmapped call is let through and kept in ``unmapped``. A role assignment write passes the
Contributor granter's ABAC condition only for Contributor, to a service principal of
``grantable`` (the Synapse identities the deployment read; None: not checked). Synapse, Event
Grid and Log Analytics have their own RBAC, not checked here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from . import tokens

if TYPE_CHECKING:
    from .server import Reply

PERMISSIONS_FILE: Final = Path(__file__).resolve().parent.parent / "infra" / "permissions.json"
#: Route audiences (simulator/server.py) whose calls Azure RBAC authorizes.
_CHECKED_AUDIENCES: Final = {"arm": None, "ml": "https://ml.azure.com"}
ASSIGNMENT_WRITE: Final = "Microsoft.Authorization/roleAssignments/write"
CONTRIBUTOR: Final = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def template_pattern(template: str) -> re.Pattern[str]:
    """A path template (``{name}`` is one path segment) as a case-insensitive, whole-path regex."""
    parts = re.split(r"\{[^}/]*\}", template)
    return re.compile("^" + "[^/]+".join(re.escape(p) for p in parts) + "$", re.IGNORECASE)


@dataclass(frozen=True)
class Operation:
    """One call the app makes and the actions ARM checks for it."""

    method: str
    actions: tuple[str, ...]
    pattern: re.Pattern[str] | None = None
    audience: str | None = None

    def matches(self, method: str, path: str, audience: str | None) -> bool:
        if method != self.method:
            return False
        if self.pattern is None:
            return audience is not None and audience == self.audience
        return audience is None and bool(self.pattern.match(path))


@dataclass
class Permissions:
    """The app's granted actions and the operation map; ``check`` answers a request."""

    operations: list[Operation]
    granted: set[str] = field(default_factory=set)
    #: Calls (``"GET /subscriptions/..."``) that no operation maps, in arrival order.
    unmapped: list[str] = field(default_factory=list)
    #: Principal IDs (lower case) the granter's condition names, as infra/ deploys it.
    grantable: frozenset[str] | None = None

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Permissions:
        operations = [
            Operation(
                entry["method"].upper(),
                tuple(entry["actions"]),
                template_pattern(entry["path"]) if entry["path"].startswith("/") else None,
                entry.get("audience"),
            )
            for entry in table["operations"]
        ]
        granted = {a for role in table["customRoles"].values() for a in role["actions"]}
        return cls(operations, granted)

    @classmethod
    def load(cls, path: Path = PERMISSIONS_FILE) -> Permissions:
        return cls.from_table(json.loads(path.read_text(encoding="utf-8")))

    def actions_for(self, method: str, path: str, audience: str | None = None) -> tuple[str, ...]:
        """The actions a call needs; KeyError when no operation maps it."""
        for operation in self.operations:
            if operation.matches(method.upper(), path, audience):
                return operation.actions
        raise KeyError(f"{method} {path}")

    def revoke(self, actions: Iterable[str]) -> None:
        """Take actions away from the app's roles (a test of what a missing action does)."""
        self.granted -= set(actions)

    def check(
        self, route: str | None, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Reply | None:
        """None when the call (on a route of that audience) is allowed; else ARM's 403
        ``AuthorizationFailed`` reply."""
        if route not in _CHECKED_AUDIENCES:
            return None
        try:
            needed = self.actions_for(method, path, _CHECKED_AUDIENCES[route])
        except KeyError:
            self.unmapped.append(f"{method} {path}")
            return None
        missing = [action for action in needed if action not in self.granted]
        if ASSIGNMENT_WRITE in needed and not self._condition_holds(body):
            missing.append(ASSIGNMENT_WRITE)
        if not missing:
            return None
        from .server import arm_error

        token = headers.get("authorization", "").partition(" ")[2]
        claims = tokens.claims_of(token)
        return arm_error(
            403,
            "AuthorizationFailed",
            f"The client '{claims.get('appid')}' with object id '{claims.get('oid')}' does not "
            f"have authorization to perform action '{missing[0]}' over scope '{path}' or the "
            "scope is invalid. If access was recently granted, please refresh your credentials.",
        )

    def _condition_holds(self, body: bytes) -> bool:
        """infra/app/access.bicep's `contributorForSynapseIdentitiesOnly` for this request."""
        try:
            asked = json.loads(body)["properties"]
            role, kind, who = (
                str(asked[k]).lower() for k in ("roleDefinitionId", "principalType", "principalId")
            )
        except (ValueError, KeyError, TypeError):
            return self.grantable is None
        contributor = role.rsplit("/", 1)[-1] == CONTRIBUTOR and kind == "serviceprincipal"
        return self.grantable is None or (contributor and who in self.grantable)
