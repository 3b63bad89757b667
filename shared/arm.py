"""ARM resource IDs: what the app adds to `azure.mgmt.core.tools`: how two IDs compare, which
top-level resource a child belongs to, whether a value is a GUID."""

from __future__ import annotations

import re
from typing import NewType

from azure.mgmt.core.tools import is_valid_resource_id, parse_resource_id, resource_id

ArmId = NewType("ArmId", str)
ML_WORKSPACE_TYPE = ("Microsoft.MachineLearningServices", "workspaces")
# An Azure ML name (job, component, deployment, model, compute...): what AML accepts. Use with
# `fullmatch`: `$` would let a final newline through.
ML_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
# ARM nests child resources five levels deep, an extension resource adds a provider's few: no
# ID it holds has this many segments. azure-mgmt-core's parsing takes the square of their count.
MAX_ID_SEGMENTS = 64
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def plain_name(value: object) -> str | None:
    """`value` when it is text that is an Azure ML name (a URL segment that stays one), else None:
    what a row of the app's tables may name (a number there is no name the app wrote)."""
    return value if isinstance(value, str) and ML_NAME.fullmatch(value) else None


def same_arm_id(left: object, right: object) -> bool:
    """Whether two ARM IDs name the same resource: case-insensitive, as ARM, nothing else
    loosened. ASCII text only (an answer's `id` may be any JSON): `str.lower()` would fold
    lookalikes (the Kelvin sign) onto ASCII."""
    if not isinstance(left, str) or not isinstance(right, str):
        return False
    return bool(left) and left.isascii() and right.isascii() and left.lower() == right.lower()


def is_arm_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and value.isascii()
        and value.lower().startswith("/subscriptions/")
        and value.count("/") <= MAX_ID_SEGMENTS
        and is_valid_resource_id(value)
    )


def is_guid(value: str | None) -> bool:
    """The form ARM and Entra write: 8-4-4-4-12 hex digits, any case, nothing around them (not
    the braces, `urn:uuid:` or whitespace that `uuid.UUID` also reads)."""
    return bool(_GUID.fullmatch(value or ""))


def top_level_resource(value: str) -> tuple[str, str, ArmId] | None:
    """(namespace, type, ID) of the top-level resource `value` is or belongs to, or None."""
    parts = name_parts(value) if is_arm_id(value) else {}
    keys = ("subscription", "resource_group", "namespace", "type", "name")
    if not all(parts.get(key) for key in keys[2:]):
        return None
    return parts["namespace"], parts["type"], ArmId(resource_id(**{k: parts.get(k) for k in keys}))


def is_resource_type(value: str, namespace: str, type_name: str) -> bool:
    parts = name_parts(value) if is_arm_id(value) else {}
    found = parts.get("namespace", "").lower(), parts.get("type", "").lower()
    wanted = namespace.lower(), type_name.lower()
    return bool(parts) and found == wanted and "child_name_1" not in parts


def is_workspace(value: str) -> bool:
    return is_resource_type(value, *ML_WORKSPACE_TYPE)


def name_parts(value: str) -> dict[str, str]:
    """`parse_resource_id`'s names (it mixes in an int, `last_child_num`, which this leaves out)."""
    return {key: item for key, item in parse_resource_id(value).items() if isinstance(item, str)}


def name_of(value: str) -> str:
    return str(parse_resource_id(value)["resource_name"])


def subscription_of(value: str) -> str:
    return str(parse_resource_id(value)["subscription"])


def resource_group_of(value: str) -> str:
    return str(parse_resource_id(value)["resource_group"])
