"""Local stand-ins for Azure used by the tests and the offline demo.

* :class:`AzureSimulator`: HTTPS simulator of ARM, the Synapse data plane and
  the App Service managed identity endpoint, driven by the real Azure SDKs.
* :class:`Azurite`: launcher for a throwaway Azurite Table storage emulator.
"""

from .azure_simulator import AzureSimulator
from .azurite import Azurite
from .server import Call, Reply, Request, Route, arm_error

__all__ = ["AzureSimulator", "Azurite", "Call", "Reply", "Request", "Route", "arm_error"]
