"""Local stand-ins for Azure used by the tests, the bench, the offline demo and the sandbox.

* :class:`AzureSimulator`: one HTTPS server (:mod:`simulator.server`) with one service object
  per Azure provider mounted on it, moto style, each seeded and inspected directly:
  ``sim.identity`` (:mod:`simulator.identity`, the managed identity endpoint), ``sim.arm``
  (:mod:`simulator.arm`, the ARM resource store), ``sim.ml`` (:mod:`simulator.ml`, Azure ML:
  workspaces, computes, connections, jobs, batch endpoints), ``sim.authorization``
  (:mod:`simulator.authorization`, role assignments), ``sim.network`` (:mod:`simulator.network`,
  private endpoints), ``sim.synapse`` (:mod:`simulator.synapse`, Synapse and its data plane),
  ``sim.eventgrid`` (:mod:`simulator.eventgrid`, a topic) and ``sim.logs``
  (:mod:`simulator.logs`, the Log Analytics query API), driven by the real Azure SDKs.
* :class:`Azurite`: launcher for a throwaway Azurite Table storage emulator.

:class:`Call`, :class:`Reply`, :func:`route` and :func:`arm_error` are what a route handler
takes and gives (``sim.add_route``); a :class:`Service` is what the server mounts;
:class:`Request` is one recorded request.
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
