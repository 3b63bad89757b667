"""Log Analytics in the simulator (``sim.logs``): ``POST {endpoint}/workspaces/{id}/query``
(recorded file 19) answered by the workspace's result set (the simulator runs no KQL), in full,
partial (HTTP 200 with a ``PartialError``, recorded file 19), or not at all for an unknown one.
azure-monitor-query's ``LogsQueryClient`` keeps only the endpoint's origin (its token is the
simulator's own audience) and puts the API version (``/v1``) in the path, not an api-version."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..server import Call, Reply, Route, arm_error, route
from ..shapes import JSON

if TYPE_CHECKING:
    from ..server import SimulatorServer

_PATH = "/v1"


@dataclass
class QueryResult:
    columns: list[tuple[str, str]]
    rows: list[list[Any]]
    partial_error: str | None = None


class LogAnalytics:
    def __init__(self, sim: SimulatorServer) -> None:
        self.sim = sim
        self.lock = sim.lock
        self.results: dict[str, QueryResult] = {}
        self._queries: list[tuple[str, JSON]] = []

    def routes(self) -> list[Route]:
        pattern = rf"^{_PATH}/workspaces/(?P<ws>[^/]+)/query$"
        return [route("POST", pattern, "logs.query", self.query, needs_api_version=False)]

    @property
    def endpoint(self) -> str:
        """``LOGS_QUERY_ENDPOINT`` for the app."""
        return f"{self.sim.url}{_PATH}"

    def reset(self) -> None:
        with self.lock:
            self.results.clear()
            self._queries.clear()

    def set_result(
        self,
        workspace_id: str,
        rows: list[list[Any]],
        *,
        columns: list[tuple[str, str]] | None = None,
        partial_error: str | None = None,
    ) -> None:
        """What queries on ``workspace_id`` (a Log Analytics workspace GUID) return."""
        result = QueryResult(columns or [("DriftScore", "real")], rows, partial_error)
        with self.lock:
            self.results[workspace_id.lower()] = result

    @property
    def queries(self) -> list[tuple[str, dict[str, Any]]]:
        """(workspace ID, request body) of every query received, in order."""
        with self.lock:
            return list(self._queries)

    def query(self, call: Call) -> Reply:
        workspace_id = call.group("ws")
        body = call.body
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return arm_error(400, "BadArgumentError", "The request had some invalid properties")
        self._queries.append((workspace_id, dict(body)))
        result = copy.deepcopy(self.results.get(workspace_id.lower()))
        if result is None:
            message = f"The workspace {workspace_id} could not be found"
            return arm_error(404, "WorkspaceNotFoundError", message)
        columns = [{"name": n, "type": t} for n, t in result.columns]
        table = {"name": "PrimaryResult", "columns": columns, "rows": result.rows}
        reply: JSON = {"tables": [table]}
        if result.partial_error is not None:
            detail: JSON = {"code": "EngineError", "message": result.partial_error}
            detail["innererror"] = {"code": "E_QUERY_RESULT_SET_TOO_LARGE"}
            message = "There were some errors when processing your query."
            reply["error"] = {"code": "PartialError", "message": message, "details": [detail]}
        return Reply(200, reply)
