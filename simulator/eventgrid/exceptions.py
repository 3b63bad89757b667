"""Event Grid's error bodies."""

from __future__ import annotations

from ..server import Reply, arm_error


def invalid_events(message: str) -> Reply:
    """400 ``BadRequest`` with an ``InputJsonInvalid`` detail, as Event Grid answers bad events."""
    reply = arm_error(400, "BadRequest", message)
    reply.body["error"]["details"] = [{"code": "InputJsonInvalid", "message": message}]
    return reply


def too_large(length: str) -> Reply:
    """413 ``RequestEntityTooLarge``: more than 1 MB in one request."""
    message = f"The request is {length} bytes; Event Grid accepts at most 1 MB per request."
    return arm_error(413, "RequestEntityTooLarge", message)
