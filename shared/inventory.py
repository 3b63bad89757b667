"""The workspaces in scope, as ARM reports them now (issue 17): the scope rule
(`shared.scope`) applied to what `EstateAdapter` reads.

Events ask `admit` about the workspaces they name; the sweep and the CLI ask `workspaces` for
all of them. The cheap checks come first: a workspace that no scope could hold costs no read.
Management group membership is read once per group and kept for a few minutes in the process
(a subscription moving between groups is rare, and the next read sees it); tags are read at
each decision, never taken from an event.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError
from azure.mgmt.core.tools import resource_id

from shared.adapters.errors import describe, is_transient
from shared.arm import ArmId, name_of, resource_group_of, subscription_of
from shared.config import ML_WORKSPACE_TYPE, name_problem
from shared.scope import Scope, is_management_group, is_workspace, listed_workspace

if TYPE_CHECKING:
    from shared.adapters.estate import EstateAdapter

# How long a management group's subscriptions are trusted in this process.
MEMBERSHIP_SECONDS = 300.0


def canonical_workspace(value: str) -> ArmId | None:
    """The workspace ID rebuilt by azure-mgmt-core from its parts, when it is a workspace ID
    within Azure's naming rules (a name outside them could change the URLs built from it)."""
    if not is_workspace(value) or name_problem(value, ML_WORKSPACE_TYPE) is not None:
        return None
    return ArmId(
        resource_id(
            subscription=subscription_of(value),
            resource_group=resource_group_of(value),
            namespace=ML_WORKSPACE_TYPE[0],
            type=ML_WORKSPACE_TYPE[1],
            name=name_of(value),
        )
    )


class Inventory:
    """Decides, with ARM's answers, which workspaces are in scope."""

    def __init__(self, scope: Scope, estate: EstateAdapter) -> None:
        self._scope = scope
        self._estate = estate
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    def _groups_of(self, subscription: str) -> list[str]:
        """The scope's management groups that `subscription` lies under."""
        found = []
        for group in self._scope.management_groups:
            cached = self._members.get(group.lower())
            if cached is None or time.monotonic() - cached[0] > MEMBERSHIP_SECONDS:
                cached = (time.monotonic(), self._estate.subscriptions_under(group))
                self._members[group.lower()] = cached
            if subscription.lower() in cached[1]:
                found.append(group)
        return found

    def admit(self, candidate: str, tags: Mapping[str, Any] | None = None) -> ArmId | None:
        """The ID the app uses for `candidate` (the settings' spelling when they list it) when
        it is in scope, else None. `tags`: as ARM listed them just now; read when needed and
        not given. Raises `AzureError` when a read fails."""
        workspace = canonical_workspace(candidate)
        if workspace is None or not self._scope.may_cover(workspace):
            return None
        groups = self._groups_of(subscription_of(workspace))
        if self._scope.tag is not None and tags is None:
            tags = self._estate.workspace_tags(workspace)
        if not self._scope.in_scope(workspace, groups, tags):
            return None
        return listed_workspace(self._scope, workspace) or workspace

    def workspaces(self) -> tuple[list[ArmId], list[tuple[str, AzureError]]]:
        """Every workspace in scope, once each (those named one by one first), and the
        containers that could not be read, with the error."""
        found: dict[str, ArmId] = {}
        problems: list[tuple[str, AzureError]] = []

        def add(candidate: str, tags: Mapping[str, Any] | None = None) -> None:
            admitted = self.admit(candidate, tags)
            if admitted is not None:
                found.setdefault(admitted.lower(), admitted)

        for scope in self._scope.scopes:
            try:
                if is_workspace(scope):
                    add(scope)
                    continue
                containers = (
                    [f"/subscriptions/{s}" for s in sorted(self._estate.subscriptions_under(scope))]
                    if is_management_group(scope)
                    else [scope]
                )
                for container in containers:
                    for workspace_id, tags in self._estate.workspaces_in(container):
                        add(workspace_id, tags)
            except AzureError as error:
                problems.append((scope, error))
        return list(found.values()), problems


def describe_problem(scope: str, error: AzureError) -> str:
    kind = "transient" if is_transient(error) else "permanent"
    return f"{scope} could not be read ({kind}): {describe(error)}"
