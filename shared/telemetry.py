"""Telemetry to Application Insights: azure-monitor-opentelemetry, configured once, not at import.

With `APPLICATIONINSIGHTS_CONNECTION_STRING` set (infra/ sets it, with
`APPLICATIONINSIGHTS_AUTHENTICATION_STRING` so that the exporter authenticates with the app's
managed identity), the first runtime build (shared/runtime.py) calls `configure_telemetry()`:
- Azure SDK calls become dependencies: the distro turns on azure-core's OpenTelemetry tracing, and
  every client (management SDKs, the raw azure-core pipelines) carries the distributed tracing
  policy. The requests/urllib/urllib3/httpx instrumentations are off: they would record each SDK
  call a second time, one level down;
- log records become traces, and every `extra` field of a record becomes a custom dimension (the
  distro's logging handler exports record attributes as-is). The decision log's fields
  (DECISION_LOG_FIELDS) are therefore queryable as `customDimensions.<field>` (README, KQL).

Not at import: the distro costs hundreds of milliseconds to import (bench/cold_start.py measures
it), and `import function_app` must stay cheap. Not twice: the Functions Python worker configures
the distro itself when `PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true` (Microsoft Learn, "Use
OpenTelemetry with Azure Functions"); then, or when another OpenTelemetry SDK tracer provider is
already installed, this does nothing rather than export everything twice.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from enum import Enum

from shared.logs import DECISION_FIELDS

CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
WORKER_TELEMETRY = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"

# Fields a decision log line carries in `extra`: exported as custom dimensions. Listed for the
# README's queries and the tests; the export itself needs no list (every `extra` field goes).
DECISION_LOG_FIELDS = (
    *DECISION_FIELDS,
    # the Logic Apps tracking headers of an HTTP call (x-ms-workflow-run-id,
    # x-ms-client-tracking-id), when a log line passes them in `extra`
    "workflow_run_id",
    "client_tracking_id",
    # the rule of a policy finding's line (the README's "findings by rule" query)
    "rule_id",
)

# The distro instruments these libraries by default; the app uses none of the web frameworks, and
# the HTTP client libraries sit under the Azure SDK spans.
_INSTRUMENTATIONS_OFF = (
    "django",
    "fastapi",
    "flask",
    "psycopg2",
    "requests",
    "urllib",
    "urllib3",
    "httpx",
)

_lock = threading.Lock()
_state: TelemetryState | None = None


class TelemetryState(Enum):
    """What `configure_telemetry` found or did."""

    OFF = "off"  # no connection string: nothing to export to
    CONFIGURED = "configured"  # this process configured the distro
    BY_WORKER = "by-worker"  # the Functions worker (or another library) already did


def _sdk_tracer_provider_installed() -> bool:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    return isinstance(trace.get_tracer_provider(), TracerProvider)


def configure_telemetry(environ: Mapping[str, str] | None = None) -> TelemetryState:
    """Configure Azure Monitor export once per process; later calls return the first answer."""
    global _state  # noqa: PLW0603 - one configuration per process, by design
    settings = os.environ if environ is None else environ
    with _lock:
        if _state is not None:
            return _state
        if not settings.get(CONNECTION_STRING):
            _state = TelemetryState.OFF
        elif settings.get(WORKER_TELEMETRY, "").lower() == "true" or (
            _sdk_tracer_provider_installed()
        ):
            _state = TelemetryState.BY_WORKER
        else:
            from azure.monitor.opentelemetry import configure_azure_monitor

            # No sampling unless the operator chose a sampler (OTEL_TRACES_SAMPLER): the app's
            # volume is low (events, sweeps) and every dependency belongs to a decision's trail;
            # the distro's default, 5 traces per second rate-limited, drops a burst's first calls.
            sampling = {} if settings.get("OTEL_TRACES_SAMPLER") else {"sampling_ratio": 1.0}
            configure_azure_monitor(
                connection_string=settings[CONNECTION_STRING],
                # The root logger: the app's modules log under their own names (shared.*,
                # handlers.*), and their `extra` fields become custom dimensions.
                logger_name="",
                instrumentation_options={
                    name: {"enabled": False} for name in _INSTRUMENTATIONS_OFF
                },
                **sampling,
            )
            # azure-core logs every request and response at INFO; the dependency spans already
            # record them. Kept at WARNING unless someone chose a level on purpose.
            azure_logger = logging.getLogger("azure")
            if azure_logger.level == logging.NOTSET:
                azure_logger.setLevel(logging.WARNING)
            _state = TelemetryState.CONFIGURED
        return _state
