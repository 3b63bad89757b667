"""Microsoft.Authorization's error bodies, worded as ARM and Entra ID word them."""

from __future__ import annotations

from ..server import Reply, arm_error


def principal_not_found(principal_id: str, tenant_id: str) -> Reply:
    """400 ``PrincipalNotFound``: the directory does not (yet) know the principal."""
    return arm_error(
        400,
        "PrincipalNotFound",
        f"Principal {principal_id.replace('-', '')} does not exist in the directory "
        f"{tenant_id}. Check that you have the correct principal ID. If you are "
        "creating this principal and then immediately assigning a role, this error might "
        "be related to a replication delay. In this case, set the role assignment "
        "principalType property to a value, such as ServicePrincipal, User, or Group.  "
        "See https://aka.ms/docs-principaltype",
    )
