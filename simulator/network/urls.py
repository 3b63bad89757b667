"""Routes of private endpoints and of the private endpoint connections of any other resource.

The ``arm.pec.*`` patterns match any resource's connections: they are mounted after the AML
workspace's own (``aml.pec.*``), since the first match wins.
"""

from __future__ import annotations

import re

from ..server import Route
from .responses import NetworkResponses

_SEG = r"[^/]+"
_PE = (
    rf"/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers"
    rf"/microsoft\.network/privateendpoints/{_SEG}"
)


def private_endpoint_routes(responses: NetworkResponses) -> list[Route]:
    """The private endpoint's route."""
    return [
        Route(
            "GET", re.compile(rf"^{_PE}$"), "network.pe.get", responses.private_endpoint_get, "arm"
        )
    ]


def dependency_routes(responses: NetworkResponses) -> list[Route]:
    """The routes of dependencies' connections, in match order."""
    r = responses
    return [
        Route(
            "GET",
            re.compile(r"^(?P<res>/subscriptions/.+)/privateendpointconnections$"),
            "arm.pec.list",
            r.dependency_connection_list,
            "arm",
        ),
        Route(
            "GET",
            re.compile(
                rf"^(?P<res>/subscriptions/.+)/privateendpointconnections/(?P<name>{_SEG})$"
            ),
            "arm.pec.get",
            r.dependency_connection_get,
            "arm",
        ),
    ]
