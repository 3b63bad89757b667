"""ARM's error bodies for the simulator's ARM routes, worded as ARM words them."""

from __future__ import annotations

from .. import shapes
from ..server import Reply, arm_error


def bad_request(message: str) -> Reply:
    return arm_error(400, "BadRequest", message)


def invalid_content(message: str) -> Reply:
    """400 ``InvalidRequestContent``: a body of the wrong shape."""
    return arm_error(400, "InvalidRequestContent", message)


def not_found(arm_id: str) -> Reply:
    _, rg = shapes.scope_of(arm_id)
    where = f" under resource group '{rg}'" if rg else ""
    return arm_error(
        404,
        "ResourceNotFound",
        f"The Resource '{shapes.arm_type_of(arm_id)}/{shapes.last_segment(arm_id)}'{where} "
        "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )
