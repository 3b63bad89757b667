"""shared/telemetry.py: Azure Monitor export configured once, only with a connection string, never
at import; Azure SDK calls recorded as dependencies; `extra` fields of decision log lines exported
as custom dimensions.

Each case runs in a fresh interpreter: OpenTelemetry's providers are process-wide and can be set
only once. Telemetry goes nowhere: the ingestion endpoint is a closed local port, and the spans and
log records are read from in-memory exporters added beside the distro's own, then turned into
Application Insights envelopes with the distro's exporter, exactly as they would be sent.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.errors import TransientAzureError
from tests.conftest import App
from tests.credentials import SECRET, SHAPES, leaked

REPO = Path(__file__).resolve().parent.parent

CONNECTION_STRING = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
    "IngestionEndpoint=https://127.0.0.1:9/;LiveEndpoint=https://127.0.0.1:9/"
)
QUIET = {
    # No statsbeat, no background calls to Microsoft from a test.
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    "PATH": "/usr/bin:/bin",
}


def run_child(code: str, env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**QUIET, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def test_without_a_connection_string_nothing_is_configured_or_imported() -> None:
    result = run_child(
        """
import json, sys
import function_app
from shared.telemetry import configure_telemetry
states = [configure_telemetry().value, configure_telemetry().value]
print(json.dumps({"states": states,
                  "distro": "azure.monitor.opentelemetry" in sys.modules,
                  "otel": "opentelemetry.sdk.trace" in sys.modules}))
""",
        {},
    )
    assert result == {"states": ["off", "off"], "distro": False, "otel": False}


def test_import_function_app_does_not_configure_telemetry_even_with_a_connection_string() -> None:
    result = run_child(
        """
import json, sys
import function_app
print(json.dumps({"distro": "azure.monitor.opentelemetry" in sys.modules}))
""",
        {"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION_STRING},
    )
    assert result == {"distro": False}


def test_the_worker_s_own_configuration_is_not_doubled() -> None:
    result = run_child(
        """
import json, sys
from shared.telemetry import configure_telemetry
print(json.dumps({"state": configure_telemetry().value,
                  "distro": "azure.monitor.opentelemetry" in sys.modules}))
""",
        {
            "APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION_STRING,
            "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true",
        },
    )
    assert result == {"state": "by-worker", "distro": False}


# Telemetry configured, in-memory exporters beside the distro's, and a local server standing in
# for Azure (answering `status`) behind an azure-core pipeline, built as the app's raw clients are.
CHILD_SETUP = """
import http.server, json, logging, threading
from opentelemetry import trace, _logs
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor, InMemoryLogRecordExporter
from shared.telemetry import DECISION_LOG_FIELDS, configure_telemetry, operation

first = configure_telemetry().value
second = configure_telemetry().value
spans, records = InMemorySpanExporter(), InMemoryLogRecordExporter()
trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(spans))
_logs.get_logger_provider().add_log_record_processor(SimpleLogRecordProcessor(records))

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(%(status)d); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
from azure.core import PipelineClient
from azure.core.pipeline import policies
from azure.core.rest import HttpRequest
client = PipelineClient(base_url=f"http://127.0.0.1:{server.server_port}",
                        policies=[policies.RetryPolicy(), policies.DistributedTracingPolicy()])
"""

CONFIGURED_CHILD = (
    CHILD_SETUP
    + """
client.send_request(HttpRequest("GET", f"http://127.0.0.1:{server.server_port}/ping"))
server.shutdown()

extra = {name: f"value-of-{name}" for name in DECISION_LOG_FIELDS}
logging.getLogger("shared.decisions").warning("approved a connection", extra=extra)

from azure.monitor.opentelemetry.exporter import (
    AzureMonitorLogExporter, AzureMonitorTraceExporter)
log_exporter = AzureMonitorLogExporter(connection_string=%(cs)r)
trace_exporter = AzureMonitorTraceExporter(connection_string=%(cs)r)
log_envelopes = [log_exporter._log_to_envelope(r) for r in records.get_finished_logs()]
span_envelopes = [trace_exporter._span_to_envelope(s) for s in spans.get_finished_spans()]
dimensions = [e.data.base_data.properties for e in log_envelopes
              if e.data.base_data.message == "approved a connection"]
dependencies = [{"type": e.data.base_type, "kind": str(s.kind), "name": s.name}
                for e, s in zip(span_envelopes, spans.get_finished_spans())]
print(json.dumps({"states": [first, second], "dimensions": dimensions,
                  "dependencies": dependencies,
                  "azure_level": logging.getLogger("azure").level}))
"""
)


def test_with_a_connection_string_it_configures_once_and_exports_what_the_readme_queries() -> None:
    result = run_child(
        CONFIGURED_CHILD % {"cs": CONNECTION_STRING, "status": 200},
        {"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION_STRING},
    )
    assert result["states"] == ["configured", "configured"]
    # The decision log line's extra fields, as Application Insights custom dimensions.
    [dimensions] = result["dimensions"]
    from shared.telemetry import DECISION_LOG_FIELDS

    for name in DECISION_LOG_FIELDS:
        assert dimensions.get(name) == f"value-of-{name}", (name, dimensions)
    # The Azure SDK call, as a dependency (RemoteDependencyData), and only once: no second span
    # from the requests/urllib3 instrumentations underneath.
    client_calls = [d for d in result["dependencies"] if d["kind"] == "SpanKind.CLIENT"]
    assert len(client_calls) == 1, result["dependencies"]
    assert client_calls[0]["type"] == "RemoteDependencyData"
    # azure-core's per-request INFO logging is not exported.
    assert result["azure_level"] == 30


@pytest.mark.parametrize("part", ["private_endpoints", "retraining", "scoring"])
def test_every_function_s_first_build_configures_telemetry(
    app: App, part: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A process may only ever run ML events or HTTP scoring: their first build must configure
    # telemetry as the reconcilers' does, or those functions' traces are never exported.
    from shared import telemetry
    from shared.config import get_settings

    monkeypatch.setattr(telemetry, "_state", None)
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    from shared.runtime import runtime_for

    getattr(runtime_for.__wrapped__(get_settings()), part)

    # Asked once, and found nothing to export to: the builder did ask.
    assert telemetry._state is telemetry.TelemetryState.OFF


OPERATION_CHILD = (
    CHILD_SETUP
    + """
from shared.logs import decision_log

def invocation(name):
    # A function's body: an Azure call Azure refuses, then the decision line saying so.
    client.send_request(HttpRequest("GET", f"http://127.0.0.1:{server.server_port}/{name}"))
    decision_log(logging.getLogger("shared.x"), name, trigger="event:" + name, kind="k",
                 verdict="approve", outcome="failed: HTTP 403", level=logging.ERROR)

operation(invocation)("one")
operation(invocation)("two")
server.shutdown()

from azure.monitor.opentelemetry.exporter import (
    AzureMonitorLogExporter, AzureMonitorTraceExporter)
log_exporter = AzureMonitorLogExporter(connection_string=%(cs)r)
trace_exporter = AzureMonitorTraceExporter(connection_string=%(cs)r)
lines = [log_exporter._log_to_envelope(r) for r in records.get_finished_logs()]
telemetry = [trace_exporter._span_to_envelope(s) for s in spans.get_finished_spans()]
print(json.dumps({
    "lines": {e.data.base_data.message.split(": ")[-1]: e.tags["ai.operation.id"] for e in lines
              if e.data.base_data.message.startswith("[event:")},
    "calls": [[e.data.base_type, e.tags["ai.operation.id"], e.data.base_data.name]
              for e in telemetry],
}))
"""
)


def test_each_invocation_is_one_operation_its_lines_and_calls_share() -> None:
    # The failed-actions query joins a decision line to the failed Azure call by operation_Id,
    # and the README follows an event through `operation_Id` to its calls and its request.
    from tests.test_infra_monitoring import queries

    assert "on operation_Id" in queries()["failedActions"]
    result = run_child(
        OPERATION_CHILD % {"cs": CONNECTION_STRING, "status": 403},
        {"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION_STRING},
    )
    lines, calls = result["lines"], result["calls"]
    assert set(lines) == {"one", "two"}
    assert lines["one"] != lines["two"], "two invocations, one operation"
    for name, operation_id in lines.items():
        assert operation_id != "0" * 32, f"the line of {name} is in no operation"
        mine = [(kind, called) for kind, op, called in calls if op == operation_id]
        assert ("RemoteDependencyData", f"GET /{name}") in mine, (name, calls)
        assert ("RequestData", "invocation") in mine, (name, calls)


def test_every_function_runs_as_one_operation() -> None:
    from shared.telemetry import operation
    from tools import host

    wrapper = operation(lambda: None).__code__
    for name, fn in host.indexed().items():
        assert fn.get_user_function().__code__ is wrapper, name


class _Body:
    """An answer's body as azure-core reads it for `HttpResponseError.__str__` (not OData JSON)."""

    reason, status_code = "Forbidden", 403

    def __init__(self, text: str) -> None:
        self.body = text

    def text(self) -> str:
        return self.body


def _raised(kind: type[Exception], text: str) -> Exception:
    if kind is HttpResponseError:
        # What its `str` reads of an answer: no request needed.
        return HttpResponseError(response=_Body(text))  # type: ignore[arg-type]
    return kind(text)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    secret=SECRET,
    shapes=st.tuples(st.sampled_from(SHAPES), st.sampled_from(SHAPES)),
    kind=st.sampled_from(
        [RuntimeError, TransientAzureError, AzureError, ServiceRequestError, HttpResponseError]
    ),
    chained=st.booleans(),
)
def test_a_failure_leaves_its_operation_with_its_type_and_frames_and_no_credential(
    secret: str,
    shapes: tuple[str, str],
    kind: type[Exception],
    chained: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The Functions host logs what an invocation raised whole (its text, its traceback, the
    # errors it was raised from or while handling); raised, the host retries, Event Grid redelivers.
    from shared.telemetry import operation

    outer, inner = (shape.format(secret) for shape in shapes)

    def connect() -> None:
        # A wrapper holding the error it wraps, as requests' ConnectionError holds urllib3's.
        raise OSError(ValueError(f"max retries exceeded with url: {inner}"))

    def invocation() -> None:
        try:
            connect()
        except OSError as error:
            if chained:
                raise _raised(kind, f"could not read {outer}") from error
            raise _raised(kind, f"could not read {outer}")  # noqa: B904 - while handling it

    caplog.clear()
    with caplog.at_level(logging.INFO), pytest.raises(kind) as failure:
        operation(invocation)()

    shown = "".join(traceback.format_exception(failure.value))
    assert leaked(secret, shown) is None, shown
    assert "in invocation" in shown, shown  # on-call's frames
    assert "in connect" in shown, shown
    # Nor its text attributes, read by whatever reports it next (an AzureError's `message`).
    assert leaked(secret, str(vars(failure.value))) is None
    assert caplog.records
    for record in caplog.records:
        assert leaked(secret, logging.Formatter().format(record)) is None


FAILING_CHILD = (
    CHILD_SETUP
    + """
def invocation():
    try:
        raise ValueError("https://svc:%(secret)s@host.example/")
    except ValueError as error:
        sas = "https://acct.blob.core.windows.net/c/x?sv=2022&sig=%(secret)s"
        raise RuntimeError(sas) from error

try:
    operation(invocation)()
except RuntimeError:
    pass
from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter
trace_exporter = AzureMonitorTraceExporter(connection_string=%(cs)r)
sent = [trace_exporter._span_to_envelope(s).as_dict() for s in spans.get_finished_spans()]
print(json.dumps({"spans": [s.to_json() for s in spans.get_finished_spans()], "sent": sent}))
"""
)


def test_a_failed_invocation_s_span_records_the_error_without_its_credentials() -> None:
    # The span records what left the function (its message, its traceback) for Application
    # Insights, beside the host's own record of it.
    secret = "Zq7Wm3Kx9Pv2Ln5T"
    result = run_child(
        FAILING_CHILD % {"cs": CONNECTION_STRING, "status": 200, "secret": secret},
        {"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION_STRING},
    )
    text = json.dumps(result)
    assert "RuntimeError" in text
    assert "in invocation" in text
    assert secret not in text
