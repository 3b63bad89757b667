"""Local stand-ins for Azure (tests, bench, demo, sandbox): :class:`AzureSimulator`, one HTTPS
server with one service object per Azure provider, and :class:`Azurite` (Table storage)."""

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
