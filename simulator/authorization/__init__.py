"""Microsoft.Authorization in the simulator: role assignments (``authz.ra.*``, API 2022-04-01) and
the directory's principals they name (with Entra ID's replication delay)."""

from __future__ import annotations

from .models import Authorization

__all__ = ["Authorization"]
