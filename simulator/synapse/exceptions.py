"""The Synapse data plane's error bodies, worded as the service words them."""

from __future__ import annotations

from ..server import Reply, arm_error


def workspace_not_found(name: str) -> Reply:
    return arm_error(404, "WorkspaceNotFound", f"Workspace '{name}' not found.")


def managed_vnet_not_found(name: str, vnet: str) -> Reply:
    return arm_error(
        404,
        "ManagedVirtualNetworkNotFound",
        f"Managed virtual network '{vnet}' was not found in workspace "
        f"'{name}'. The workspace has no managed virtual network.",
    )


def managed_private_endpoint_not_found(name: str) -> Reply:
    message = f"Managed private endpoint '{name}' was not found."
    return arm_error(404, "ManagedPrivateEndpointNotFound", message)
