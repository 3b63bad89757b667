"""The drift gate's query: KQL over a Log Analytics workspace with azure-monitor-query, read as
a `GateReading` (full, partial or failed); transient failures are raised for the timer to retry."""

from __future__ import annotations

from datetime import timedelta

from azure.core.exceptions import AzureError

from shared.adapters import transport
from shared.adapters.errors import describe, is_transient
from shared.planning.retraining import GateReading, GateStatus

# The query says its own time range (KQL `ago()`); this bounds what it may read at all.
QUERY_TIMESPAN = timedelta(days=7)
# Below the transport's read timeout (30 s): a slow query ends in the service's own clear error
# rather than a dropped read retried four times.
QUERY_TIMEOUT_SECONDS = 25


class DriftQueryAdapter(transport.ArmAdapter):
    def read(self, workspace_id: str, query: str) -> GateReading:
        try:
            return self._query(workspace_id, query)
        except AzureError as error:
            if is_transient(error):
                raise
            return GateReading(GateStatus.FAILED, error=describe(error))

    @transport.malformed_is_permanent
    def _query(self, workspace_id: str, query: str) -> GateReading:
        from azure.monitor.query import LogsQueryPartialResult, LogsQueryStatus

        result = self._clients.logs_query().query_workspace(
            workspace_id, query, timespan=QUERY_TIMESPAN, server_timeout=QUERY_TIMEOUT_SECONDS
        )
        if isinstance(result, LogsQueryPartialResult) or result.status == LogsQueryStatus.PARTIAL:
            partial = getattr(result, "partial_error", None)
            return GateReading(GateStatus.PARTIAL, error=str(getattr(partial, "message", partial)))
        if not result.tables:
            # A query always answers its primary table: none is the wrong shape, not "no drift".
            raise transport.MalformedResponseError("drift query: the answer has no table")
        table = result.tables[0]
        rows, kinds = [list(row) for row in table.rows], [str(k) for k in table.columns_types]
        return GateReading(GateStatus.SUCCESS, rows, column_types=kinds)
