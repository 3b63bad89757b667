"""Synapse in the simulator: the ARM workspace (``synapse.workspace.get``) and the data plane's
managed private endpoints (``synapse.mpe.list``, paged by ``$skipToken``; ``synapse.mpe.get``).
"""

from __future__ import annotations

from .models import DATA_PLANE_PATH, Synapse

__all__ = ["DATA_PLANE_PATH", "Synapse"]
