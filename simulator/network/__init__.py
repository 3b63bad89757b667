"""Microsoft.Network in the simulator: private endpoints (route ``network.pe.get``, shaped on
``network_privateendpoints_get*.json``) and the private endpoint connections of the resources an
AML workspace depends on, storage accounts, key vaults and container registries (routes
``arm.pec.list`` and ``arm.pec.get``).
"""

from __future__ import annotations

from .models import CONNECTION_STATUSES, Network, check_status

__all__ = ["CONNECTION_STATUSES", "Network", "check_status"]
