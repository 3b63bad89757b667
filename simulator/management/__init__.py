"""Microsoft.Management in the simulator: the management group hierarchy (``sim.management``)
and the one read the app makes of it, a group's descendants."""

from .models import ManagementGroups

__all__ = ["ManagementGroups"]
