"""Microsoft.Network in the simulator: private endpoints (``network.pe.get``) and the connections of
an AML workspace's dependencies (``arm.pec.list``, ``arm.pec.get``)."""

from .models import CONNECTION_STATUSES, Network, check_status

__all__ = ["CONNECTION_STATUSES", "Network", "check_status"]
