"""Resource Graph's query (route ``resourcegraph.query``): not KQL, the app's queries only (the
shape ``<table> | where type =~ '<type>' | project <columns>``, and :data:`GROUPED`, one row per
workspace, the endpoints' narrowed to a subscription by :data:`_PARTITION`) over the resource
store, for the request's subscriptions or management groups, paged by ``$top``/``$skipToken``; a
quota (:attr:`quota` requests a :attr:`window`, 429 once spent); with :attr:`lag` set, rows are a
snapshot renewed once older than that many seconds."""

from __future__ import annotations

import copy
import re
import time
from collections import deque
from collections.abc import Container
from typing import TYPE_CHECKING

from ..authorization.models import assignment_view
from ..server import Call, Reply, Route, arm_error, route
from ..shapes import JSON, arm_type_of

if TYPE_CHECKING:
    from ..azure_simulator import AzureSimulator

_QUERY = re.compile(
    r"^(?P<table>resources|authorizationresources) \| where type =~ '(?P<type>[\w./]+)' "
    r"\| project (?P<columns>\w+(?:, \w+)*)$"
)
_CONNECTIONS = "/privateendpointconnections/"
_ML = "microsoft.machinelearningservices/workspaces"
# The endpoints query's workspace side, narrowed to a partition's subscription.
_PARTITION = re.compile(
    rf"(?<=^resources \| where type =~ '{re.escape(_ML)}') and subscriptionId =~ '([\w-]+)'"
)
_ENDPOINTS = "microsoft.network/privateendpoints"
_DEPENDENCIES = ("storageAccount", "keyVault", "containerRegistry", "applicationInsights")


def _packed(row: JSON) -> JSON:
    return {"id": row.get("id"), "properties": row.get("properties")}


def _computes(rows: list[JSON]) -> dict[str, JSON]:
    grouped: dict[str, JSON] = {}
    for row in rows:
        if row["type"] == f"{_ML}/computes":
            key = str(row.get("id", "")).split("/computes/")[0].lower()
            grouped.setdefault(key, {"id": key, "computes": []})["computes"].append(_packed(row))
    return grouped


def _endpoints(rows: list[JSON]) -> dict[str, JSON]:
    """Workspaces joined (inner) with the endpoints linked to them or their dependencies."""
    targets: dict[str, list[str]] = {}
    for row in rows:
        if row["type"] == _ML:
            properties = row.get("properties") or {}
            for target in [row.get("id"), *(properties.get(d) for d in _DEPENDENCIES)]:
                targets.setdefault(str(target).lower(), []).append(str(row.get("id")).lower())
    grouped: dict[str, JSON] = {}
    for row in rows:
        properties = (row.get("properties") or {}) if row["type"] == _ENDPOINTS else {}
        links = (properties.get("privateLinkServiceConnections") or []) + (
            properties.get("manualPrivateLinkServiceConnections") or []
        )
        for link in links:
            target = str((link.get("properties") or {}).get("privateLinkServiceId")).lower()
            for key in targets.get(target, []):
                found = grouped.setdefault(key, {"id": key, "endpoints": []})["endpoints"]
                if _packed(row) not in found:  # make_set
                    found.append(_packed(row))
    return grouped


def _assignments(rows: list[JSON]) -> dict[str, JSON]:
    grouped: dict[str, JSON] = {}
    for row in rows:
        scope = str((row.get("properties") or {}).get("scope", "")).lower()
        if (
            row["type"] == "microsoft.authorization/roleassignments"
            and f"/providers/{_ML}/" in scope
        ):
            key = "/".join(scope.split("/")[:9])
            found = grouped.setdefault(key, {"id": key, "assignments": []})
            found["assignments"].append(_packed(row))
    return grouped


def _subscriptions(rows: list[JSON]) -> dict[str, JSON]:
    grouped: dict[str, JSON] = {}
    for row in rows:
        if row["type"] == _ML:
            key = row["subscriptionId"]
            grouped.setdefault(key, {"id": key, "workspaces": 0})["workspaces"] += 1
    return grouped


#: The app's summarizing queries, word for word (tests/test_inventory.py): one row per workspace,
#: or per subscription.
GROUPED = {
    f"resources | where type =~ '{_ML}' "
    "| summarize workspaces = count() by id = subscriptionId": _subscriptions,
    f"resources | where type =~ '{_ML}/computes' "
    "| summarize computes = make_list(pack('id', id, 'properties', properties)) "
    "by id = tolower(tostring(split(id, '/computes/')[0]))": _computes,
    f"resources | where type =~ '{_ML}' | mv-expand target = pack_array(id, "
    "properties.storageAccount, properties.keyVault, properties.containerRegistry, "
    "properties.applicationInsights) | extend target = tolower(tostring(target)) "
    f"| join kind=inner (resources | where type =~ '{_ENDPOINTS}' "
    "| mv-expand link = array_concat(properties.privateLinkServiceConnections, "
    "properties.manualPrivateLinkServiceConnections) "
    "| extend target = tolower(tostring(link.properties.privateLinkServiceId)) "
    "| project target, endpoint = pack('id', id, 'properties', properties)) on target "
    "| summarize endpoints = make_set(endpoint) by id = tolower(id)": _endpoints,
    "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' "
    "| extend scope = tolower(tostring(properties.scope)) "
    f"| where scope contains '/providers/{_ML}/' "
    "| summarize assignments = make_list(pack('id', id, 'properties', properties)) "
    "by id = strcat_array(array_slice(split(scope, '/'), 0, 8), '/')": _assignments,
}


class ResourceGraph:
    def __init__(self, sim: AzureSimulator) -> None:
        self.sim = sim
        self.reset()

    def routes(self) -> list[Route]:
        pattern = r"^/providers/microsoft\.resourcegraph/resources$"
        return [route("POST", pattern, "resourcegraph.query", self.query)]

    def reset(self) -> None:
        with self.sim.lock:
            self.page_size = 1000  # Resource Graph's own limit
            self.quota, self.window = 15, 5.0  # Resource Graph's default per user
            self.lag: float | None = None
            #: Every query text received, in order.
            self.queries: list[str] = []
            self._spent: deque[float] = deque()
            self._snapshot: tuple[float, list[JSON]] | None = None

    def snapshot(self) -> None:
        with self.sim.lock:
            self._snapshot = (time.monotonic(), copy.deepcopy(self._rows()))

    def _rows(self, subscriptions: Container[str] | None = None) -> list[JSON]:
        """Every resource (of `subscriptions`, lower case, when given) as a row, by ID:
        lower-cased type, subscription; a workspace with its connections embedded and a role
        assignment with its scope, as ARM serves them. Only the subscriptions' are built: a
        partition's query costs its subscription's rows, not the whole store's."""
        resources = self.sim.arm.resources
        if subscriptions is not None:
            resources = {
                k: v
                for k, v in resources.items()
                if k.startswith("/subscriptions/") and k.split("/", 3)[2] in subscriptions
            }
        connections: dict[str, list[JSON]] = {}
        for stored_key, body in resources.items():
            parent, _, name = stored_key.rpartition(_CONNECTIONS)
            if parent and "/" not in name:
                connections.setdefault(parent, []).append(body)
        rows = []
        for stored_key, body in sorted(resources.items()):
            row = {**(assignment_view(stored_key, body) or body), "type": arm_type_of(stored_key)}
            under = stored_key.startswith("/subscriptions/")
            row["subscriptionId"] = stored_key.split("/")[2] if under else ""
            if row["type"] == "microsoft.machinelearningservices/workspaces":
                row["properties"] = {
                    **row.get("properties", {}),
                    "privateEndpointConnections": connections.get(stored_key, []),
                }
            rows.append(row)
        return rows

    def _current(self, subscriptions: Container[str]) -> list[JSON]:
        if self.lag is None:
            return self._rows(subscriptions)
        if self._snapshot is None or time.monotonic() - self._snapshot[0] >= self.lag:
            self.snapshot()
        assert self._snapshot is not None
        return self._snapshot[1]

    def query(self, call: Call) -> Reply:
        now = time.monotonic()
        while self._spent and now - self._spent[0] >= self.window:
            self._spent.popleft()
        spent = len(self._spent) >= self.quota
        if not spent:
            self._spent.append(now)
        # Whole seconds, rounded up: a client that waits that long finds the quota back.
        resets = -((now - self._spent[0] - self.window) // 1) if self._spent else 0
        headers = {
            "x-ms-user-quota-remaining": str(max(0, self.quota - len(self._spent))),
            "x-ms-user-quota-resets-after": time.strftime("%H:%M:%S", time.gmtime(resets)),
        }
        if spent:
            return arm_error(429, "RateLimiting", "Too many requests (quota spent).", headers)
        body = call.body if isinstance(call.body, dict) else {}
        self.queries.append(text := str(body.get("query", "")))
        options = body.get("options") or {}
        token = str(options.get("$skipToken") or "0")
        partition = _PARTITION.search(text)
        shape, grouped = _QUERY.match(text), GROUPED.get(_PARTITION.sub("", text, count=1))
        if partition and grouped is not _endpoints:
            shape = grouped = None
        if (shape is None and grouped is None) or not token.isdigit():
            message = f"The simulator answers only the app's queries: {text[:200]}"
            return arm_error(400, "BadRequest", message, headers)
        subscriptions = {str(s).lower() for s in body.get("subscriptions") or []}
        for group in body.get("managementGroups") or []:
            subscriptions |= self.sim.management.subscriptions_under(str(group))
        rows = [r for r in self._current(subscriptions) if r["subscriptionId"] in subscriptions]
        if grouped is not None:
            by_workspace = grouped(rows)
            rows = [by_workspace[key] for key in sorted(by_workspace)]
            rows = [r for r in rows if not partition or r["id"].split("/")[2] == partition[1]]
            columns = list(rows[0]) if rows else []
        else:
            assert shape is not None
            wanted = shape["type"].lower()
            # Role assignments are rows of `authorizationresources` only.
            if (wanted == "microsoft.authorization/roleassignments") != (
                shape["table"] == "authorizationresources"
            ):
                wanted = ""
            rows = [row for row in rows if row["type"] == wanted]
            columns = shape["columns"].split(", ")
        skip, size = int(token), min(int(options.get("$top") or 100), self.page_size)
        page = [{c: row.get(c) for c in columns} for row in rows[skip:][:size]]
        answer: JSON = {"totalRecords": len(rows), "count": len(page), "data": page}
        answer |= {"resultTruncated": "false", "facets": []}
        if skip + size < len(rows):
            answer["$skipToken"] = str(skip + size)
        return Reply(200, copy.deepcopy(answer), headers)
