"""Local stand-ins for Azure used by the tests, the bench, the offline demo and the sandbox:
:class:`AzureSimulator` (one HTTPS server with one service object per Azure provider mounted on
it) and :class:`Azurite` (a throwaway Azurite Table storage emulator). :class:`Call`,
:class:`Reply`, :func:`route` and :func:`arm_error` are what a route handler takes and gives.
"""

from .azure_simulator import AzureSimulator
from .azurite import Azurite
from .server import Call, Reply, Request, Route, Service, arm_error, route

__all__ = [
    "AzureSimulator",
    "Azurite",
    "Call",
    "Reply",
    "Request",
    "Route",
    "Service",
    "arm_error",
    "route",
]
