"""Local stand-ins for Azure used by the tests, the offline demo and the sandbox.

* :class:`AzureSimulator`: one HTTPS server (:mod:`simulator.server`) with a package per Azure
  service mounted on it, moto style: the managed identity endpoint (:mod:`simulator.identity`),
  the ARM resource store (:mod:`simulator.arm`), AML workspaces and computes
  (:mod:`simulator.aml`), role assignments (:mod:`simulator.authorization`), private endpoints
  (:mod:`simulator.network`), Synapse and its data plane (:mod:`simulator.synapse`), an Event
  Grid topic (:mod:`simulator.eventgrid`), Azure ML jobs and batch endpoints (:mod:`simulator.ml`)
  and the Log Analytics query API (:mod:`simulator.logs`), driven by the real Azure SDKs.
* :class:`Azurite`: launcher for a throwaway Azurite Table storage emulator.

:class:`Call`, :class:`Reply`, :class:`Route` and :func:`arm_error` are what a route handler
takes and gives (``sim.add_route``); :class:`Request` is one recorded request.
"""

from .azure_simulator import AzureSimulator
from .azurite import Azurite
from .server import Call, Reply, Request, Route, arm_error

__all__ = ["AzureSimulator", "Azurite", "Call", "Reply", "Request", "Route", "arm_error"]
