"""What an ARM answer says about a Synapse workspace, read fail-closed (DESIGN §3.1): anything but
the documented value that allows an approval counts as forbidding it, and data-plane evidence
counts only when ARM reports the configured endpoint as this workspace's (`workspaceUID`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from shared.arm import ArmId, is_guid, same_arm_id
from shared.model import JudgedAnswerError, SynapseWorkspace

MANAGED_VIRTUAL_NETWORK = "default"


class SynapseAnswerError(JudgedAnswerError):
    """ARM's body does not describe the workspace asked for."""


def text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def managed_virtual_network(properties: object) -> tuple[bool, str | None]:
    """(has a managed VNet, why it was assumed absent). Only exactly "default" counts."""
    value = _object(properties).get("managedVirtualNetwork")
    if value == MANAGED_VIRTUAL_NETWORK and isinstance(value, str):
        return True, None
    if value is None or value == "":
        return False, None  # ARM leaves the property out for workspaces without one
    return False, (
        f"managedVirtualNetwork is {value!r}, not {MANAGED_VIRTUAL_NETWORK!r}: no managed "
        "virtual network assumed"
    )


def exfiltration_protection(properties: object) -> tuple[bool, str | None]:
    """(protection on, why it was assumed on). Off only when the field is exactly JSON false."""
    settings = _object(properties).get("managedVirtualNetworkSettings")
    field = "managedVirtualNetworkSettings.preventDataExfiltration"
    if not isinstance(settings, dict):
        field = "managedVirtualNetworkSettings"
        shown = "missing" if settings is None else f"{type(settings).__name__}, not an object"
    elif "preventDataExfiltration" not in settings:
        shown = "missing"
    elif isinstance(value := settings["preventDataExfiltration"], bool):
        return value, None
    else:
        shown = f"{value!r} ({type(value).__name__}), not a JSON boolean"
    return True, f"{field} is {shown}: data exfiltration protection assumed on"


def read_synapse_workspace(workspace_id: ArmId, body: object) -> SynapseWorkspace:
    if not isinstance(body, dict):
        raise SynapseAnswerError(f"ARM answered {type(body).__name__}, not a JSON object")
    reported = body.get("id")
    if not same_arm_id(reported if isinstance(reported, str) else None, workspace_id):
        raise SynapseAnswerError(f"ARM answered for {reported!r}, not for {workspace_id}")
    properties, identity = _object(body.get("properties")), _object(body.get("identity"))
    endpoints = _object(properties.get("connectivityEndpoints"))
    vnet, vnet_note = managed_virtual_network(properties)
    protection, protection_note = exfiltration_protection(properties)
    return SynapseWorkspace(
        id=workspace_id,
        principal_id=text(identity.get("principalId")),
        managed_virtual_network=vnet,
        prevent_data_exfiltration=protection,
        identity_type=text(identity.get("type")),
        tenant_id=text(identity.get("tenantId")),
        workspace_uid=text(properties.get("workspaceUID")),
        dev_endpoint=text(endpoints.get("dev")),
        # A workspace without a managed VNet cannot have the settings: say nothing about them then.
        network_note=protection_note if vnet else vnet_note,
    )


def _object(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _origin_and_path(url: str) -> tuple[str, str, int, str] | None:
    # ARM's examples give the dev endpoint both with and without a scheme.
    try:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return None
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port, parts.path.rstrip("/")


def data_plane_mismatch(workspace: SynapseWorkspace, configured_endpoint: str) -> str | None:
    if not is_guid(workspace.workspace_uid):
        return (
            f"ARM reports no workspaceUID for Synapse workspace {workspace.id}: cannot tell which "
            "workspace its data plane speaks for"
        )
    if workspace.dev_endpoint is None:
        return f"ARM reports no data-plane endpoint (connectivityEndpoints.dev) for {workspace.id}"
    reported = _origin_and_path(workspace.dev_endpoint)
    if reported is None or reported != _origin_and_path(configured_endpoint):
        return (
            f"Synapse workspace {workspace.id} (workspaceUID {workspace.workspace_uid}) reports "
            f"its data plane at {workspace.dev_endpoint!r}, not at the configured "
            f"{configured_endpoint!r}: its evidence is not taken"
        )
    return None
