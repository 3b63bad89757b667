"""Which AML workspaces the app looks after, as a pure rule: under a scope (`ML_SCOPES`,
`ML_WORKSPACE_IDS`), under no exclusion (`ML_SCOPE_EXCLUDE`), carrying `ML_SCOPE_TAG` when set.
"Lies under" is the exemptions' matcher (whole segments); the caller brings the management groups
and tags as ARM reports them (an event's copy is whatever its sender wrote)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from shared.arm import is_workspace, same_arm_id, subscription_of
from shared.bounds import excerpt
from shared.policy.exemptions import is_scope, json_array, scopes_of, within_scope

MANAGEMENT_GROUPS = "/providers/Microsoft.Management/managementGroups/"
# Management group IDs and resource group names: 1-90 letters, digits and '-_().', not ending '.'.
GROUP_ID = re.compile(r"^[A-Za-z0-9_\-().]{0,89}[A-Za-z0-9_\-()]$")
# Tag names ARM accepts: no '<', '>', '%', '&', '\', '?', '/'; at most 512 characters.
_TAG_NAME = re.compile(r"^[^<>%&\\?/]{1,512}$")


def is_management_group(scope: str) -> bool:
    head = scope[: len(MANAGEMENT_GROUPS)]
    return same_arm_id(head, MANAGEMENT_GROUPS) and bool(GROUP_ID.fullmatch(group_name(scope)))


def group_name(scope: str) -> str:
    return scope[len(MANAGEMENT_GROUPS) :]


@dataclass(frozen=True)
class Scope:
    scopes: tuple[str, ...]
    excluded: tuple[str, ...] = ()
    tag: tuple[str, str] | None = None

    @property
    def management_groups(self) -> tuple[str, ...]:
        """Those among the scopes (what Resource Graph is asked over); an excluded one narrows."""
        return tuple(filter(is_management_group, self.scopes))

    @property
    def subscriptions(self) -> frozenset[str]:
        return frozenset(
            subscription_of(s).lower() for s in self.scopes if not is_management_group(s)
        )

    def in_scope(
        self,
        workspace_id: str,
        management_groups: Collection[str] = (),
        tags: Mapping[str, str] | None = None,
    ) -> bool:
        """`tags` None: not read, which no tag rule accepts."""

        def under(scopes: tuple[str, ...]) -> bool:
            return any(
                any(same_arm_id(s, group) for group in management_groups)
                if is_management_group(s)
                else within_scope(workspace_id, s)
                for s in scopes
            )

        return (
            is_workspace(workspace_id)
            and under(self.scopes)
            and not under(self.excluded)
            and (self.tag is None or carries(tags, self.tag))
        )

    def may_cover(self, workspace_id: str) -> bool:
        """What the ID alone tells: out of scope here is out whatever ARM says."""
        known = tuple(s for s in self.excluded if not is_management_group(s))
        return Scope(self.scopes, known).in_scope(workspace_id, self.management_groups)


def carries(tags: Mapping[str, str] | None, tag: tuple[str, str]) -> bool:
    """Whether `tags` hold `tag`: names compare case-insensitively in ASCII (as ARM's; the Kelvin
    sign is not k), values exactly."""
    name, value = tag
    return isinstance(tags, Mapping) and any(
        (key == name or same_arm_id(key, name)) and found == value for key, found in tags.items()
    )


def parse_scopes(text: str) -> tuple[str, ...]:
    found: list[str] = []
    for position, item in enumerate(json_array(text, "ARM scopes"), start=1):
        value = item.strip() if isinstance(item, str) else ""
        # A subscription or resource group has a chain of one or two; a workspace is one itself.
        if not is_management_group(value) and not (
            is_scope(value) and (len(scopes_of(value)) <= 2 or is_workspace(value))
        ):
            raise ValueError(
                f"item {position} ({excerpt(json.dumps(item), 200)}) is not a management group "
                f"({MANAGEMENT_GROUPS}<id>), a subscription (/subscriptions/<guid>), a resource "
                "group or an Azure ML workspace ID"
            )
        if any(same_arm_id(value, seen) for seen in found):
            raise ValueError(f"item {position} ({value!r}) is listed twice")
        found.append(value)
    return tuple(found)


def parse_tag(text: str) -> tuple[str, str]:
    """`name=value` (the value may hold '='); ValueError when the name is not a tag name."""
    name, separator, value = text.partition("=")
    name = name.strip()
    if not separator or not _TAG_NAME.fullmatch(name) or len(value) > 256:
        raise ValueError(
            f"{excerpt(text, 200)!r} is not name=value (a tag name without < > % & \\ ? /, a "
            "value of at most 256 characters)"
        )
    return name, value.strip()
