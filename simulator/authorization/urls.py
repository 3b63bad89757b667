"""Role assignment and policy exemption routes: the scope of either is any ARM ID, or nothing
(tenant root)."""

from __future__ import annotations

from ..server import Route, route
from .models import Authorization
from .responses import AuthorizationResponses

_SEG = r"[^/]+"
_RAS = r"(?P<scope>(?:/.+?)?)/providers/microsoft\.authorization/roleassignments"
_EXEMPTIONS = r"(?P<scope>(?:/.+?)?)/providers/microsoft\.authorization/policyexemptions"


def routes(authorization: Authorization) -> list[Route]:
    r = AuthorizationResponses(authorization)
    return [
        route("GET", rf"^{_RAS}$", "authz.ra.list", r.list_for_scope),
        route("GET", rf"^{_RAS}/(?P<name>{_SEG})$", "authz.ra.get", r.get),
        route("PUT", rf"^{_RAS}/(?P<name>{_SEG})$", "authz.ra.put", r.put),
        route("GET", rf"^{_EXEMPTIONS}$", "authz.pe.list", r.list_policy_exemptions),
    ]
