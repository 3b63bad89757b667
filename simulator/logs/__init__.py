"""Log Analytics in the simulator: the query API azure-monitor-query's `LogsQueryClient` calls.

Its endpoint (`LOGS_QUERY_ENDPOINT`) is `<simulator>/logs/v1`; LogsQueryClient derives its token
audience from the endpoint's origin, so the route takes the simulator's own audience, and no
`api-version`. Faults: `sim.inject("logs.query", status=...)`; partial results:
`set_result(..., partial_error=...)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .models import LogsBackend, QueryResult
from .responses import LogsResponses

if TYPE_CHECKING:
    from ..azure_simulator import AzureSimulator

__all__ = ["LogAnalyticsService", "QueryResult"]

_PATH = "/logs/v1"


class LogAnalyticsService:
    """The Log Analytics query API mounted into one simulator."""

    def __init__(self, sim: AzureSimulator) -> None:
        self._sim = sim
        self.backend = LogsBackend()
        responses = LogsResponses(self.backend)
        sim.add_route(
            "POST",
            rf"^{_PATH}/workspaces/(?P<ws>[^/]+)/query$",
            "logs.query",
            responses.query,
            audience="arm",
            needs_api_version=False,
        )

    @property
    def endpoint(self) -> str:
        """`LOGS_QUERY_ENDPOINT` for the app."""
        return f"{self._sim.url}{_PATH}"

    def reset(self) -> None:
        self.backend.reset()

    def set_result(
        self,
        workspace_id: str,
        rows: list[list[Any]],
        *,
        columns: list[tuple[str, str]] | None = None,
        partial_error: str | None = None,
    ) -> None:
        """What queries on `workspace_id` (a Log Analytics workspace GUID) return."""
        self.backend.set_result(
            workspace_id,
            QueryResult(
                columns=columns or [("DriftScore", "real")],
                rows=rows,
                partial_error=partial_error,
            ),
        )

    @property
    def queries(self) -> list[tuple[str, dict[str, Any]]]:
        """(workspace ID, request body) of every query received, in order."""
        with self.backend.lock:
            return list(self.backend.queries)
