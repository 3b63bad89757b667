"""Log Analytics in the simulator: the query API of azure-monitor-query's ``LogsQueryClient``,
which keeps only the endpoint's origin (so its token is the simulator's own audience) and puts
the API version (``/v1``) in the path instead of an ``api-version``."""

from .models import LogAnalytics, QueryResult

__all__ = ["LogAnalytics", "QueryResult"]
