"""Synapse in the simulator: workspaces (ARM) and the data plane's managed private endpoints."""

from .models import DATA_PLANE_PATH, Synapse

__all__ = ["DATA_PLANE_PATH", "Synapse"]
