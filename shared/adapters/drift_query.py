"""The drift gate's query: KQL over a Log Analytics workspace with azure-monitor-query.

`LogsQueryClient.query_workspace` answers a full result (`LogsQueryResult`), a partial one
(`LogsQueryPartialResult`, from a 200 whose body carries a `PartialError`, recorded file 19), or
raises. The answer becomes a `GateReading` for the pure gate; transient failures are raised for
the timer to retry, anything else is a failed reading, recorded.
"""

from __future__ import annotations

from datetime import timedelta

from shared.adapters import transport
from shared.adapters.clients import AzureClients
from shared.adapters.errors import describe, is_transient
from shared.planning.retraining import GateReading, GateStatus

# The query says its own time range (KQL `ago()`); this bounds what it may read at all.
QUERY_TIMESPAN = timedelta(days=7)
# Server-side limit for one query, in seconds: below the transport's socket read timeout
# (transport.READ_TIMEOUT_SECONDS, 30 s), so a slow query ends in the service's own clear
# timeout error rather than a dropped read retried four times.
QUERY_TIMEOUT_SECONDS = 25


class DriftQueryAdapter:
    """Runs the drift query."""

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    def read(self, workspace_id: str, query: str) -> GateReading:
        """The query's first table, or why there is none. Raises transient Azure errors; a
        refused request, an answer of the wrong shape or any other permanent error is a failed
        reading (recorded by the caller, never raised)."""
        from azure.core.exceptions import AzureError
        from azure.monitor.query import LogsQueryPartialResult, LogsQueryStatus

        @transport.malformed_is_permanent
        def query_once() -> GateReading:
            result = self._clients.logs_query().query_workspace(
                workspace_id,
                query,
                timespan=QUERY_TIMESPAN,
                server_timeout=QUERY_TIMEOUT_SECONDS,
            )
            if (
                isinstance(result, LogsQueryPartialResult)
                or result.status == LogsQueryStatus.PARTIAL
            ):
                partial = getattr(result, "partial_error", None)
                return GateReading(
                    GateStatus.PARTIAL, error=str(getattr(partial, "message", partial))
                )
            tables = result.tables
            if not tables:
                # A query always answers at least its primary table (rows or not): an answer
                # without one is of the wrong shape, not "no drift".
                raise transport.MalformedResponseError("drift query: the answer has no table")
            return GateReading(
                GateStatus.SUCCESS,
                rows=[list(row) for row in tables[0].rows],
                column_types=[str(kind) for kind in tables[0].columns_types],
            )

        try:
            return query_once()
        except AzureError as error:
            if is_transient(error):
                raise
            return GateReading(GateStatus.FAILED, error=describe(error))
