"""The Log Analytics query API: `POST {endpoint}/workspaces/{id}/query` (recorded file 19)."""

from __future__ import annotations

from ..server import Call, Reply
from ..shapes import JSON
from .models import LogsBackend


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


class LogsResponses:
    def __init__(self, backend: LogsBackend) -> None:
        self._backend = backend

    def query(self, call: Call) -> Reply:
        workspace_id = call.group("ws")
        body = call.body
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _error(400, "BadArgumentError", "The request had some invalid properties")
        with self._backend.lock:
            self._backend.queries.append((workspace_id, dict(body)))
        result = self._backend.result(workspace_id)
        if result is None:
            return _error(
                404, "WorkspaceNotFoundError", f"The workspace {workspace_id} could not be found"
            )
        reply: JSON = {
            "tables": [
                {
                    "name": "PrimaryResult",
                    "columns": [{"name": n, "type": t} for n, t in result.columns],
                    "rows": result.rows,
                }
            ]
        }
        if result.partial_error is not None:
            reply["error"] = {
                "code": "PartialError",
                "message": "There were some errors when processing your query.",
                "details": [
                    {
                        "code": "EngineError",
                        "message": result.partial_error,
                        "innererror": {"code": "E_QUERY_RESULT_SET_TOO_LARGE"},
                    }
                ],
            }
        return Reply(200, reply)
