"""Local stand-ins for Azure (tests, bench, demo, sandbox): :class:`AzureSimulator`, one HTTPS
server with one service object per Azure provider, and :class:`Azurite` (Table storage)."""

from .azure_simulator import AzureSimulator as AzureSimulator
from .azurite import Azurite as Azurite
from .server import Request as Request
from .server import Service as Service
from .server import arm_error as arm_error
from .server import route as route
