"""Log Analytics in the simulator: the query API azure-monitor-query's ``LogsQueryClient`` calls.

Its endpoint (``LOGS_QUERY_ENDPOINT``) is ``<simulator>/v1``: LogsQueryClient keeps only the
endpoint's origin, puts the API version (``/v1``) in the path and derives its token audience from
that origin, so the route takes the simulator's own audience, and no ``api-version``.
"""

from __future__ import annotations

from .models import LogAnalytics, QueryResult

__all__ = ["LogAnalytics", "QueryResult"]
