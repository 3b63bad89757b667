"""Role assignment routes: the scope of an assignment is any ARM ID, or nothing (tenant root)."""

from __future__ import annotations

import re

from ..server import Route
from .responses import AuthorizationResponses

_SEG = r"[^/]+"
_RAS = r"(?P<scope>(?:/.+?)?)/providers/microsoft\.authorization/roleassignments"


def routes(responses: AuthorizationResponses) -> list[Route]:
    """The route table, in match order."""
    r = responses
    return [
        Route("GET", re.compile(rf"^{_RAS}$"), "authz.ra.list", r.list_for_scope, "arm"),
        Route("GET", re.compile(rf"^{_RAS}/(?P<name>{_SEG})$"), "authz.ra.get", r.get, "arm"),
        Route("PUT", re.compile(rf"^{_RAS}/(?P<name>{_SEG})$"), "authz.ra.put", r.put, "arm"),
    ]
