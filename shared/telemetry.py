"""Telemetry to Application Insights (azure-monitor-opentelemetry): configured once, not at import
(the distro costs hundreds of milliseconds), and not at all when the Functions worker or another
SDK tracer provider already did (everything would be exported twice)."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable
from enum import Enum
from typing import ParamSpec, TypeVar

from shared.adapters.errors import describe, redact_in_place
from shared.logs import DECISION_FIELDS, decision_log, reported

CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
WORKER_TELEMETRY = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"

# Custom dimensions of decision lines, for the README's queries (every `extra` field is exported):
# the Logic Apps tracking headers of an HTTP call, and a policy finding's rule.
DECISION_LOG_FIELDS = (*DECISION_FIELDS, "workflow_run_id", "client_tracking_id", "rule_id")
# The distro instruments these by default: no web framework here, and HTTP sits under SDK spans.
_INSTRUMENTATIONS_OFF = (
    "django", "fastapi", "flask", "psycopg2", "requests", "urllib", "urllib3", "httpx"
)  # fmt: skip

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger(__name__)
_lock = threading.Lock()
_state: TelemetryState | None = None


def _sdk_tracer_installed() -> bool:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    return isinstance(trace.get_tracer_provider(), TracerProvider)


class TelemetryState(Enum):
    OFF = "off"  # no connection string: nothing to export to
    CONFIGURED = "configured"  # this process configured the distro
    BY_WORKER = "by-worker"  # the Functions worker (or another library) already did


def configure_telemetry() -> TelemetryState:
    """Configure Azure Monitor export once per process; later calls return the first answer."""
    global _state  # noqa: PLW0603 - one configuration per process, by design
    settings = os.environ
    with _lock:
        if _state is not None:
            return _state
        if not settings.get(CONNECTION_STRING):
            _state = TelemetryState.OFF
        elif settings.get(WORKER_TELEMETRY, "").lower() == "true" or _sdk_tracer_installed():
            _state = TelemetryState.BY_WORKER
        else:
            from azure.monitor.opentelemetry import configure_azure_monitor

            # No sampling unless the operator chose a sampler: the volume is low and the distro's
            # default (5 traces per second) drops a burst's first calls from a decision's trail.
            sampling = {} if settings.get("OTEL_TRACES_SAMPLER") else {"sampling_ratio": 1.0}
            off = {name: {"enabled": False} for name in _INSTRUMENTATIONS_OFF}
            configure_azure_monitor(
                connection_string=settings[CONNECTION_STRING],
                logger_name="",  # the root: shared.* and handlers.* log under their own names
                instrumentation_options=off,
                **sampling,
            )
            # azure-core logs every request at INFO, as the spans do: WARNING unless chosen.
            azure_logger = logging.getLogger("azure")
            if azure_logger.level == logging.NOTSET:
                azure_logger.setLevel(logging.WARNING)
            _state = TelemetryState.CONFIGURED
        return _state


def operation(function: Callable[P, R]) -> Callable[P, R]:
    """One invocation, one operation (a request): its log lines and Azure calls share its
    operation_Id, which the on-call queries join on. Without it, every line has none and every
    call its own. Configured first: the first invocation's span is then a real one. A failure
    no decision line told of (the ledger unreachable before any) gets one, `failed`, for on-call's
    alerts: a timer has no dead-letter, nothing else would show it."""

    @functools.wraps(function)
    def invocation(*args: P.args, **kwargs: P.kwargs) -> R:
        name = function.__name__
        with contextlib.ExitStack() as span:
            if configure_telemetry() is not TelemetryState.OFF:
                from opentelemetry import trace

                tracer, kind = trace.get_tracer(__name__), trace.SpanKind.SERVER
                span.enter_context(tracer.start_as_current_span(name, kind=kind))
            try:
                return function(*args, **kwargs)
            except Exception as error:
                redact_in_place(error)  # before the span records it and the host logs it
                if not reported(error):
                    why, trigger, level = describe(error), f"function:{name}", logging.ERROR
                    decision_log(
                        log, why, trigger=trigger, kind="invocation", verdict="failed", level=level
                    )
                raise

    return invocation
