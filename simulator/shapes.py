"""What every service's JSON bodies (each package's ``shapes``) share: ARM ID helpers, ARM's time
format, ``systemData``, identifiers derived from the resource ID (:func:`stable_uuid`, so a seeded
world, and a failure, is the same each run)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

DEFAULT_LOCATION = "eastus"
DEFAULT_TENANT_ID = "72f988bf-0000-41af-91ab-2d7cd011db47"


def stable_uuid(*parts: str) -> str:
    """Return a GUID that depends only on ``parts`` (case-insensitive)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(p.lower() for p in parts)))


def last_segment(arm_id: str) -> str:
    return arm_id.rstrip("/").rsplit("/", 1)[-1]


def scope_of(arm_id: str) -> tuple[str, str]:
    """``(subscription_id, resource_group)`` of an ARM id (empty strings when missing)."""
    parts = arm_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    sub = parts[lowered.index("subscriptions") + 1] if "subscriptions" in lowered else ""
    rg = parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else ""
    return sub, rg


def arm_type_of(arm_id: str) -> str:
    """Best-effort resource type of an ARM id, e.g. ``Microsoft.Network/privateEndpoints``, from
    its last ``providers`` (an extension resource, a role assignment say, is under another's)."""
    parts = arm_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return "resource"
    rest = parts[len(lowered) - lowered[::-1].index("providers") :]  # namespace, type, name...
    return "/".join([rest[0], *rest[1::2]]) if rest else "resource"


def now_iso() -> str:
    """The current UTC time as ARM writes it, with seven fractional digits and a ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


#: Who made what is seeded (a workspace user): ``(createdBy, createdByType)``.
PERSON = ("automation@contoso.com", "User")


def system_data(creator: tuple[str, str] = PERSON) -> JSON:
    """ARM's ``systemData``: ``creator`` made it (``tokens.creator`` of the request, or a
    person) and changed it last."""
    stamp = now_iso()
    return {
        f"{prefix}{field}": value
        for prefix in ("created", "lastModified")
        for field, value in (("At", stamp), ("By", creator[0]), ("ByType", creator[1]))
    }


def connection_state(status: str, description: str, actions_required: str) -> JSON:
    return {"status": status, "description": description, "actionsRequired": actions_required}
