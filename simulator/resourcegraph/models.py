"""``POST /providers/Microsoft.ResourceGraph/resources`` (route ``resourcegraph.query``, API
2021-03-01): not a KQL engine, the one query shape the app sends,
``<table> | where type =~ '<type>' | project <columns>``, over the resource store.

As Resource Graph: rows of the request's subscriptions (or those under its management groups),
``$top`` and ``$skipToken`` paging (at most :attr:`page_size` rows a page), a per-user quota
(:attr:`quota` requests a :attr:`window`, told in ``x-ms-user-quota-remaining`` and
``x-ms-user-quota-resets-after``; 429 once spent), and a lag behind ARM: with :attr:`lag` set,
rows are a snapshot renewed only once older than that many seconds (:meth:`snapshot` takes one
now).
"""

from __future__ import annotations

import re
import time
from collections import deque
from typing import TYPE_CHECKING

from ..authorization.models import assignment_view
from ..server import Call, Reply, Route, arm_error, route
from ..shapes import JSON

if TYPE_CHECKING:
    from ..azure_simulator import AzureSimulator

_QUERY = re.compile(
    r"^(?P<table>resources|authorizationresources) \| where type =~ '(?P<type>[\w./]+)' "
    r"\| project (?P<columns>\w+(?:, \w+)*)$"
)
_WORKSPACE = "microsoft.machinelearningservices/workspaces"
_ASSIGNMENT = "microsoft.authorization/roleassignments"


def arm_type(stored_key: str) -> str:
    """``namespace/type[/child type...]`` of a resource's (lower-cased) ID."""
    tail = stored_key.rsplit("/providers/", 1)[-1].split("/")
    return "/".join([tail[0], *tail[1::2]]) if len(tail) > 1 else ""


class ResourceGraph:
    """The query route and its knobs; every knob back to its default on :meth:`reset`."""

    def __init__(self, sim: AzureSimulator) -> None:
        self.sim = sim
        self.reset()

    def routes(self) -> list[Route]:
        pattern = r"^/providers/microsoft\.resourcegraph/resources$"
        return [route("POST", pattern, "resourcegraph.query", self.query)]

    def reset(self) -> None:
        with self.sim.lock:
            #: Rows a page at most (Resource Graph's own limit is 1,000).
            self.page_size = 1000
            #: Requests per :attr:`window` seconds (Resource Graph's default: 15 per 5 s).
            self.quota, self.window = 15, 5.0
            #: Seconds the rows may lag behind ARM (None: they never do).
            self.lag: float | None = None
            #: Every query text received, in order.
            self.queries: list[str] = []
            self._spent: deque[float] = deque()
            self._snapshot: tuple[float, dict[str, JSON]] | None = None

    def snapshot(self) -> None:
        """Rows as ARM has it now, kept until :attr:`lag` seconds have passed."""
        with self.sim.lock:
            self._snapshot = (time.monotonic(), self._rows())

    def _rows(self) -> dict[str, JSON]:
        """Every resource as a row (lower-cased ID -> row), with its type and subscription."""
        found: dict[str, JSON] = {}
        for stored_key, body in self.sim.arm.resources.items():
            view = assignment_view(stored_key, body) or body
            if arm_type(stored_key) == _WORKSPACE:
                view = self.sim.ml.workspace_view(stored_key, body)
            subscription = (
                stored_key.split("/")[2] if stored_key.startswith("/subscriptions/") else ""
            )
            found[stored_key] = {
                **view,
                "type": arm_type(stored_key),
                "subscriptionId": subscription,
            }
        return found

    def _current(self) -> dict[str, JSON]:
        now = time.monotonic()
        if self.lag is None:
            return self._rows()
        if self._snapshot is None or now - self._snapshot[0] >= self.lag:
            self.snapshot()
        assert self._snapshot is not None
        return self._snapshot[1]

    def _quota_headers(self) -> dict[str, str]:
        now = time.monotonic()
        while self._spent and now - self._spent[0] >= self.window:
            self._spent.popleft()
        resets = self.window - (now - self._spent[0]) if self._spent else 0.0
        return {
            "x-ms-user-quota-remaining": str(max(0, self.quota - len(self._spent))),
            # Whole seconds, rounded up: a client that waits that long finds the quota back.
            "x-ms-user-quota-resets-after": time.strftime("%H:%M:%S", time.gmtime(-(-resets // 1))),
        }

    def _subscriptions(self, body: JSON) -> set[str]:
        found = {str(s).lower() for s in body.get("subscriptions") or []}
        for group in body.get("managementGroups") or []:
            found |= self.sim.management.subscriptions_under(str(group))
        return found

    def query(self, call: Call) -> Reply:
        headers = self._quota_headers()
        if headers["x-ms-user-quota-remaining"] == "0":
            message = "Please provide below info when asking for support: ... (quota exceeded)"
            return arm_error(429, "RateLimiting", message, headers)
        self._spent.append(time.monotonic())
        headers = self._quota_headers()
        body = call.body if isinstance(call.body, dict) else {}
        text = str(body.get("query", ""))
        self.queries.append(text)
        shape = _QUERY.match(text)
        if shape is None:
            message = f"The simulator answers only the app's query shape, not: {text[:200]}"
            return arm_error(400, "BadRequest", message, headers)
        options = body.get("options") or {}
        token = str(options.get("$skipToken") or "0")
        if not token.isdigit():
            return arm_error(400, "BadRequest", "Invalid $skipToken.", headers)
        wanted = shape["type"].lower()
        # Role assignments are rows of `authorizationresources` only.
        authorization = shape["table"] == "authorizationresources"
        subscriptions = self._subscriptions(body)
        rows = [
            {column: row.get(column) for column in shape["columns"].split(", ")}
            for _, row in sorted(self._current().items())
            if row["type"] == wanted
            and row["subscriptionId"] in subscriptions
            and (wanted == _ASSIGNMENT) == authorization
        ]
        skip, size = int(token), min(int(options.get("$top") or 100), self.page_size)
        page = rows[skip : skip + size]
        answer: JSON = {
            "totalRecords": len(rows),
            "count": len(page),
            "resultTruncated": "false",
            "data": page,
            "facets": [],
        }
        if skip + size < len(rows):
            answer["$skipToken"] = str(skip + size)
        return Reply(200, answer, headers)
