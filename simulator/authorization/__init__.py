"""Microsoft.Authorization in the simulator: role assignments (``authz.ra.*``, API 2022-04-01), the
directory's principals they name (with Entra ID's replication delay), and Azure Policy exemptions
(``authz.pe.list``, API 2022-07-01-preview, ``exemptions.py``)."""

from __future__ import annotations

from .models import Authorization

__all__ = ["Authorization"]
