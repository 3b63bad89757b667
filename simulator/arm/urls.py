"""The generic ARM route: a GET of any stored resource, matched last (first match wins)."""

from __future__ import annotations

import re

from ..server import Route
from .responses import ArmResponses

#: Name of the catch-all GET; services' routes are mounted ahead of it.
GENERIC_GET = "arm.generic.get"


def routes(responses: ArmResponses) -> list[Route]:
    """The route table, in match order."""
    return [
        Route(
            "GET",
            re.compile(r"^/(?:subscriptions|providers)/.+$"),
            GENERIC_GET,
            responses.get,
            "arm",
        )
    ]
