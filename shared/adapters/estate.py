"""What the scope rule reads from ARM, and the sweep's inventory from Resource Graph; a read
that fails part-way raises, so nothing is decided on half a list."""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Mapping
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError

from shared.adapters.transport import (
    RETRY_AFTER_CAP_SECONDS,
    ArmAdapter,
    MalformedResponseError,
    check_next_page,
    json_mapping,
    json_objects,
)
from shared.arm import same_arm_id
from shared.bounds import excerpt
from shared.scope import MANAGEMENT_GROUPS, Scope, group_name, is_management_group

MANAGEMENT_API_VERSION = "2020-05-01"
WORKSPACES_API_VERSION = "2023-04-01"
WORKSPACES = "/providers/Microsoft.MachineLearningServices/workspaces"

# The sweep's Resource Graph queries: what the reconcilers read from ARM about a workspace. One
# row per workspace (`id`: Resource Graph pages only what projects one), so 1,000 workspaces are a
# page per query. The simulator answers exactly these (tests/test_inventory.py).
_ML = "microsoft.machinelearningservices/workspaces"
GRAPH_QUERIES = {
    "workspaces": f"resources | where type =~ '{_ML}' "
    "| project id, tags, identity, sku, properties",
    "computes": f"resources | where type =~ '{_ML}/computes' "
    "| summarize computes = make_list(pack('id', id, 'properties', properties)) "
    "by id = tolower(tostring(split(id, '/computes/')[0]))",
    # The endpoints to a workspace or to its dependencies: joined on what they link to.
    "private_endpoints": f"resources | where type =~ '{_ML}' | mv-expand target = pack_array(id, "
    "properties.storageAccount, properties.keyVault, properties.containerRegistry, "
    "properties.applicationInsights) | extend target = tolower(tostring(target)) "
    "| join kind=inner (resources | where type =~ 'microsoft.network/privateendpoints' "
    "| mv-expand link = array_concat(properties.privateLinkServiceConnections, "
    "properties.manualPrivateLinkServiceConnections) "
    "| extend target = tolower(tostring(link.properties.privateLinkServiceId)) "
    "| project target, endpoint = pack('id', id, 'properties', properties)) on target "
    "| summarize endpoints = make_set(endpoint) by id = tolower(id)",
    # Those at or under a workspace, by the workspace (a scope's first 9 segments).
    "role_assignments": "authorizationresources "
    "| where type =~ 'microsoft.authorization/roleassignments' "
    "| extend scope = tolower(tostring(properties.scope)) "
    "| where scope contains '/providers/microsoft.machinelearningservices/workspaces/' "
    "| summarize assignments = make_list(pack('id', id, 'properties', properties)) "
    "by id = strcat_array(array_slice(split(scope, '/'), 0, 8), '/')",
}
# The fan-out's question: how many workspaces each subscription holds.
SUBSCRIPTIONS_QUERY = (
    f"resources | where type =~ '{_ML}' | summarize workspaces = count() by id = subscriptionId"
)
GRAPH_PAGE_ROWS, GRAPH_MAX_PAGES = 1000, 500
# Subscriptions a request may name (learn.microsoft.com, Resource Graph troubleshooting: "Too many
# subscriptions"). More go in batches, sorted; a join sees only its own request's resources.
GRAPH_MAX_SUBSCRIPTIONS = 1000
QUOTA_REMAINING = "x-ms-user-quota-remaining"
QUOTA_RESETS = "x-ms-user-quota-resets-after"
# Resource Graph's request sets: (subscriptions, management groups).
Targets = list[tuple[list[str] | None, list[str] | None]]
Rows = list[dict[str, Any]]


class EstateAdapter(ArmAdapter):
    def subscriptions_under(self, management_group: str) -> frozenset[str]:
        """The subscriptions (lower case) anywhere under a management group (its descendants)."""
        path = f"{MANAGEMENT_GROUPS}{group_name(management_group)}"
        what = f"descendants of {management_group}"
        items = list(self._list(f"{path}/descendants", MANAGEMENT_API_VERSION, what))
        # Each under the group or a group under it, as its parent says: else another group's.
        parents = {_key(item.get("id")): _key(_parent(item, what)) for item in items}
        groups = {i: p for i, p in parents.items() if i and is_management_group(i)}
        under: set[str | None] = {path.lower()}
        while more := {i for i, p in groups.items() if p in under} - under:
            under |= more
        if stray := [f"{i} under {p}" for i, p in parents.items() if p not in under]:
            raise MalformedResponseError(
                excerpt(f"asked for {what}, Azure answered {stray[0]}", 500)
            )
        return frozenset(
            str(item.get("name", "")).lower()
            for item in items
            if str(item.get("id", "")).lower().startswith("/subscriptions/")
        )

    def workspaces_in(self, container: str) -> list[tuple[str, dict[str, Any]]]:
        """(ID, tags) of every AML workspace in a subscription or resource group."""
        what = f"Azure ML workspaces in {container}"
        return [
            (str(item.get("id", "")), json_mapping(item.get("tags"), "workspace tags"))
            for item in self._list(f"{container}{WORKSPACES}", WORKSPACES_API_VERSION, what)
        ]

    def workspace_tags(self, workspace_id: str) -> dict[str, Any]:
        what = f"workspace {workspace_id}"
        body = self._json("GET", workspace_id, WORKSPACES_API_VERSION, what)
        if not same_arm_id(body.get("id"), workspace_id):
            # Another's tags say nothing of this one's scope: a read that failed (an AzureError).
            shown = excerpt(body.get("id"), 300)
            raise MalformedResponseError(f"asked for {what}, Azure answered {shown!r}")
        return json_mapping(body.get("tags"), f"{what}: tags")

    def graph(
        self, scope: Scope, joined: Collection[str] | None, subscription: str | None = None
    ) -> dict[str, Rows]:
        """The rows of every `GRAPH_QUERIES` query over the scope, or over one `subscription`
        of it. A join sees only its request's resources, and an endpoint may lie in any
        subscription of the scope (a landing zone's hub network), so the endpoints' join runs
        over `joined`, all of them, those under its management groups too (no request is
        documented to name both; `az graph query` never does): a partition's rows are a sweep's."""
        queries, quota = dict(GRAPH_QUERIES), dict[str, str]()
        if subscription:
            # Its workspace side (a UUID: nothing else goes into the text).
            where = f"'{_ML}' and subscriptionId =~ '{uuid.UUID(subscription)}' |"
            queries["private_endpoints"] = queries["private_endpoints"].replace(f"'{_ML}' |", where)
        own: Targets = [([subscription], None)] if subscription else _targets(scope)
        # Past one request's subscriptions (or `joined` unknown), the scope's own request sets:
        # each management group whole, so only a group's endpoint and a named subscription's
        # workspace (or the reverse) do not meet.
        fits = joined is not None and 0 < len(joined) <= GRAPH_MAX_SUBSCRIPTIONS
        joins: Targets = [(sorted(joined or ()), None)] if fits else _targets(scope)
        return {
            name: self._query(name, query, joins if "join" in query else own, quota)
            for name, query in queries.items()
        }

    def workspaces_by_subscription(self, scope: Scope) -> dict[str, int]:
        """AML workspaces (in scope or not) by subscription (lower case) of the scope: one query."""
        rows = self._query("subscriptions", SUBSCRIPTIONS_QUERY, _targets(scope), {})
        counts: dict[str, Any] = {str(r.get("id", "")).lower(): r.get("workspaces") for r in rows}
        if bad := [c for c in counts.values() if not isinstance(c, int) or isinstance(c, bool)]:
            raise MalformedResponseError(
                f"Resource Graph subscriptions: a count of {excerpt(repr(bad[0]), 40)}"
            )
        return counts

    def _query(self, name: str, query: str, targets: Targets, quota: dict[str, str]) -> Rows:
        """Every page of `query` over `targets` (`name` for errors), each row once (a subscription
        under a listed management group answers twice); `quota`: the last answer's headers."""
        from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

        client, what = self._clients.resource_graph(), f"Resource Graph {name}"
        rows: dict[str, dict[str, Any]] = {}
        for subscriptions, groups in targets:
            options = QueryRequestOptions(top=GRAPH_PAGE_ROWS, result_format="objectArray")
            request = QueryRequest(
                query=query, subscriptions=subscriptions, management_groups=groups, options=options
            )
            # Pages follow a $skipToken in the POST's body, not a nextLink: `PagingPolicy` sees no
            # chain of GETs, so the read checks each token itself, as that policy checks links.
            tokens: list[str | None] = [None]
            while True:
                _wait_for_quota(quota)
                options.skip_token = tokens[-1]
                try:
                    page, headers = client.resources(
                        request,
                        cls=lambda response, body, _: (body, response.http_response.headers),
                    )
                except HttpResponseError as error:
                    # Refused for a quota that other instances of the identity spent (partitions
                    # at once): its reset is waited for as above, once (`quota` still says 0).
                    said = _lowered(getattr(error.response, "headers", None) or {})
                    waited = quota.get(QUOTA_REMAINING) == "0"
                    if error.status_code != 429 or waited or said.get(QUOTA_REMAINING) != "0":
                        raise
                    quota.update(said)
                    continue
                quota.clear()
                quota.update(_lowered(headers))
                rows.update({str(r.get("id")).lower(): r for r in json_objects(page.data, what)})
                if not page.skip_token:
                    break
                check_next_page(what, page.skip_token, tokens, GRAPH_MAX_PAGES, "$skipToken")
                tokens.append(page.skip_token)
        return list(rows.values())


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers by lower-cased name: `quota` is a plain dict, azure-core's are case-insensitive."""
    return {name.lower(): value for name, value in headers.items()}


def _key(value: object) -> str | None:
    """An ID as ARM compares it (case aside); None for one that is not ASCII text."""
    return value.lower() if isinstance(value, str) and value.isascii() else None


def _parent(item: dict[str, Any], what: str) -> object:
    properties = json_mapping(item.get("properties"), f"{what}: properties")
    return json_mapping(properties.get("parent"), f"{what}: parent").get("id")


def _wait_for_quota(quota: dict[str, str]) -> None:
    """A spent quota is waited for when it resets within `RETRY_AFTER_CAP_SECONDS`, else raises
    (the sweep falls back to ARM)."""
    if quota.get(QUOTA_REMAINING) == "0":
        resets = quota.get(QUOTA_RESETS, "")
        try:
            h, m, s = (float(part) for part in resets.split(":"))
            wait = h * 3600 + m * 60 + s
        except ValueError:
            wait = float("inf")
        if not 0 <= wait <= RETRY_AFTER_CAP_SECONDS:
            raise AzureError(f"Resource Graph: quota spent ({QUOTA_RESETS}: {excerpt(resets, 20)})")
        time.sleep(wait)


def _targets(scope: Scope) -> Targets:
    """The subscriptions the scope names (sorted, in batches), and its management groups."""
    ordered, size = sorted(scope.subscriptions), GRAPH_MAX_SUBSCRIPTIONS
    groups = [group_name(g) for g in scope.management_groups]
    batches: Targets = [(ordered[i : i + size], None) for i in range(0, len(ordered), size)]
    return batches + ([(None, groups)] if groups else [])
