"""Microsoft.Authorization in the simulator: role assignments (routes ``authz.ra.list``,
``authz.ra.get``, ``authz.ra.put``, shaped on ``authz_roleassignments_*.json``, API 2022-04-01)
and the directory's principals they name (with Entra ID's replication delay); Azure Policy
exemptions (``authz.pe.list``, API 2022-07-01-preview, ``exemptions.py``).
"""

from __future__ import annotations

from .models import Authorization

__all__ = ["Authorization"]
