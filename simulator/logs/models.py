"""Log Analytics in the simulator: the tables a workspace's queries answer with.

A query is answered by the result set for its workspace (any query text: the simulator runs no
KQL), as a full result, a partial one (HTTP 200 with a `PartialError`, recorded file 19), or not at
all when the workspace is unknown.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from ..shapes import JSON


@dataclass
class QueryResult:
    """What one workspace's queries return."""

    columns: list[tuple[str, str]]
    rows: list[list[Any]]
    partial_error: str | None = None


@dataclass
class LogsBackend:
    lock: threading.RLock = field(default_factory=threading.RLock)
    results: dict[str, QueryResult] = field(default_factory=dict)
    queries: list[tuple[str, JSON]] = field(default_factory=list)

    def reset(self) -> None:
        with self.lock:
            self.results.clear()
            self.queries.clear()

    def set_result(self, workspace_id: str, result: QueryResult) -> None:
        with self.lock:
            self.results[workspace_id.lower()] = result

    def result(self, workspace_id: str) -> QueryResult | None:
        with self.lock:
            found = self.results.get(workspace_id.lower())
            return copy.deepcopy(found) if found is not None else None
