"""The workspaces in scope as ARM reports them now: `shared.scope`'s rule applied to what
`EstateAdapter` reads. Cheap checks first (a workspace no scope could hold costs no read); group
membership is kept a few minutes; tags are read at each decision, never taken from an event."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.mgmt.core.tools import resource_id

from shared.adapters.errors import describe, is_transient
from shared.adapters.transport import MalformedResponseError, json_mapping, json_objects
from shared.arm import (
    ML_WORKSPACE_TYPE,
    ArmId,
    is_workspace,
    name_parts,
    same_arm_id,
    subscription_of,
)
from shared.config import name_problem
from shared.model import ConnectionStatus
from shared.scope import Scope, is_management_group

if TYPE_CHECKING:
    from shared.adapters.estate import EstateAdapter

# How long a management group's subscriptions are trusted in this process.
MEMBERSHIP_SECONDS = 300.0
# One survey's failed management group reads, by group (lower case).
Unread = dict[str, AzureError]


@dataclass
class Survey:
    """The workspaces to reconcile, each one's digest (kept once settled), how many unchanged."""

    workspaces: list[ArmId]
    fingerprints: dict[str, str]
    unchanged: int
    problems: list[tuple[str, AzureError]] = field(default_factory=list)


def fingerprints(rows: Mapping[str, list[dict[str, Any]]], salt: str) -> dict[str, str]:
    """Per workspace (lower-cased ID), a digest of `salt` and its rows: its own, and the one of
    each other query (its computes, the private endpoints to it or its dependencies, the role
    assignments at or under it), their lists in a fixed order (Resource Graph keeps none)."""
    related: dict[str, list[Any]] = {str(r.get("id", "")).lower(): [r] for r in rows["workspaces"]}
    for name, found in rows.items():
        for row in found if name != "workspaces" else []:
            related.get(str(row.get("id", "")).lower(), []).append(
                {k: sorted(v, key=_canonical) if isinstance(v, list) else v for k, v in row.items()}
            )
    return {
        workspace: hashlib.sha256(_canonical([salt, found]).encode()).hexdigest()
        for workspace, found in related.items()
    }


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def canonical_workspace(value: str) -> ArmId | None:
    """The workspace ID rebuilt from its parts, when within Azure's naming rules."""
    if not is_workspace(value) or name_problem(value) is not None:
        return None
    parts, keys = name_parts(value), ("subscription", "resource_group", "name")
    namespace, type_name = ML_WORKSPACE_TYPE
    return ArmId(resource_id(namespace=namespace, type=type_name, **{k: parts[k] for k in keys}))


@dataclass
class Inventory:
    _scope: Scope
    _estate: EstateAdapter
    _members: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)

    def _members_of(self, group: str, unread: Unread) -> frozenset[str]:
        """`unread`: the survey's failed reads, raised again, not retried per workspace."""
        key, cached = group.lower(), self._members.get(group.lower())
        if key in unread:
            raise unread[key].with_traceback(None)  # each raise would lengthen its traceback
        if cached is None or time.monotonic() - cached[0] > MEMBERSHIP_SECONDS:
            try:
                members = self._estate.subscriptions_under(group)
            except AzureError as error:
                unread[key] = error
                raise
            cached = self._members[key] = (time.monotonic(), members)
        return cached[1]

    def _groups_of(self, subscription: str, unread: Unread) -> list[str]:
        rule = (*self._scope.management_groups, *filter(is_management_group, self._scope.excluded))
        return [g for g in rule if subscription.lower() in self._members_of(g, unread)]

    def admit(
        self, candidate: str, tags: Mapping[str, Any] | None = None, unread: Unread | None = None
    ) -> ArmId | None:
        """The ID the app uses for `candidate` when in scope (the settings' spelling when a scope
        names it one by one), else None. `tags`: as ARM listed them just now; read when needed."""
        workspace = canonical_workspace(candidate)
        if workspace is None or not self._scope.may_cover(workspace):
            return None
        groups = self._groups_of(subscription_of(workspace), {} if unread is None else unread)
        if self._scope.tag is not None and tags is None:
            try:
                tags = self._estate.workspace_tags(workspace)
            except ResourceNotFoundError:  # deleted: in no scope, and no read failed (no alert)
                return None
        if not self._scope.in_scope(workspace, groups, tags):
            return None
        return next((ArmId(s) for s in self._scope.scopes if same_arm_id(s, workspace)), workspace)

    def covers(self, subscription: str) -> bool:
        """Whether a scope could hold workspaces of `subscription` (not carved out whole)."""
        whole = f"/subscriptions/{subscription}".lower()
        groups = {g.lower() for g in self._groups_of(subscription, {})}
        return whole not in {e.lower() for e in self._scope.excluded} and (
            subscription.lower() in self._scope.subscriptions
            or any(s.lower() in groups for s in self._scope.scopes)
        )

    def partitions(self) -> dict[str, int]:
        """In-scope subscriptions (lower case) and how many workspaces each holds (some of them
        may be out of scope): from Resource Graph, which raises `AzureError` when it fails."""
        counts = self._estate.workspaces_by_subscription(self._scope)
        return {s: n for s, n in sorted(counts.items()) if self.covers(s)}

    def workspaces(
        self, subscription: str | None = None
    ) -> tuple[list[ArmId], list[tuple[str, AzureError]]]:
        """Every workspace in scope (or in `subscription`), once each; the containers not read."""
        found: dict[str, ArmId] = {}
        problems: list[tuple[str, AzureError]] = []
        unread: Unread = {}
        under = f"/subscriptions/{subscription}/".lower() if subscription else "/"
        for scope in self._scope.scopes:
            try:
                containers = (
                    [f"/subscriptions/{s}" for s in sorted(self._members_of(scope, unread))]
                    if is_management_group(scope)
                    else [scope]
                )
                for container in filter(lambda c: f"{c}/".lower().startswith(under), containers):
                    whole = is_workspace(container)
                    listed = [(container, None)] if whole else self._estate.workspaces_in(container)
                    for candidate, tags in listed:
                        if (admitted := self.admit(candidate, tags, unread)) is not None:
                            found.setdefault(admitted.lower(), admitted)
            except AzureError as error:
                problems.append((scope, error))
        return list(found.values()), problems

    def changed_workspaces(
        self, known: Mapping[str, str], salt: str = "", subscription: str | None = None
    ) -> Survey:
        """Workspaces whose rows' digest is not `known`'s, or with a Pending connection (no row
        holds its evidence); of one `subscription` when given. Rows lag ARM: they choose what is
        read, never what is written. `AzureError`: Resource Graph failed (the caller falls back)."""
        unread: Unread = {}
        try:
            groups = (self._members_of(g, unread) for g in self._scope.management_groups)
            joined = self._scope.subscriptions.union(*groups)
        except AzureError:
            joined = None  # the join by the scope's request sets; `admit` reports the group
        rows = self._estate.graph(self._scope, joined, subscription)
        digests = fingerprints(rows, salt)
        survey = Survey([], {}, 0)
        for row in rows["workspaces"]:
            candidate = str(row.get("id", ""))
            try:
                admitted = self.admit(candidate, json_mapping(row.get("tags"), "tags"), unread)
            except AzureError as error:
                survey.problems.append((candidate, error))
                continue
            if admitted is None or admitted.lower() in survey.fingerprints:
                continue
            digest = survey.fingerprints[admitted.lower()] = digests[candidate.lower()]
            try:
                pending = _pending(row, f"Resource Graph row of {admitted}")
            except MalformedResponseError as error:
                survey.problems.append((candidate, error))
                pending = True  # the row cannot say: read from ARM
            if known.get(admitted.lower()) == digest and not pending:
                survey.unchanged += 1
            else:
                survey.workspaces.append(admitted)
        # Those named one by one first, in the settings' order, as `workspaces` lists them.
        order = {scope.lower(): position for position, scope in enumerate(self._scope.scopes)}
        survey.workspaces.sort(key=lambda w: order.get(w.lower(), len(order)))
        return survey


def _pending(row: Mapping[str, Any], what: str) -> bool:
    """Whether the row shows a Pending connection; `MalformedResponseError` for another shape."""
    properties = json_mapping(row.get("properties"), what)
    connections = json_objects(properties.get("privateEndpointConnections"), f"{what}: connections")
    links = (json_mapping(c.get("properties"), f"{what}: a connection") for c in connections)
    states = (json_mapping(p.get("privateLinkServiceConnectionState"), what) for p in links)
    return any(ConnectionStatus.parse(s.get("status")) is ConnectionStatus.PENDING for s in states)


def describe_problem(scope: str, error: AzureError) -> str:
    kind = "transient" if is_transient(error) else "permanent"
    return f"{scope} could not be read ({kind}): {describe(error)}"
