"""What every benchmark shares: the machine description, arguments, statistics, output, and the
local Azure (simulator and Azurite) the app is pointed at through its settings.

The simulator sets TCP_NODELAY on its connections itself (`disable_nagle_algorithm` on its request
handler): its responses go out in two sends, and with Nagle's algorithm each would wait ~40 ms for
a delayed ACK, so the figures would measure the simulator rather than the app.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from simulator import AzureSimulator
from simulator.server import POST_READS, WRITE_METHODS, Request
from tools.local_azure import LocalAzure, local_azure
from tools.table import render

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENT_FUNCTION = "on_private_endpoint_event"
# azure-core's HttpLoggingPolicy logs every request here (every client the app builds has one).
HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"

__all__ = [
    "EVENT_FUNCTION",
    "OUTCOME_ROUTE",
    "REPO_ROOT",
    "HttpRequestCounter",
    "LocalAzure",
    "Target",
    "apply_settings",
    "arguments",
    "change_settings",
    "emit",
    "is_resource_write",
    "ledger_request",
    "local_azure",
    "machine",
    "machine_text",
    "published_types",
    "quiet_logging",
    "render",
    "request_kind",
    "resource_writes",
    "route_counts",
    "route_rows",
    "summary_ms",
    "targets_text",
]


# -- the machine ---------------------------------------------------------------------------


def _first_line_value(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            name, _, value = line.partition(":" if ":" in line else "=")
            if name.strip() == key:
                return value.strip().strip('"')
    except OSError:
        return None
    return None


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, Python and OS of this machine."""
    memory_kib = _first_line_value("/proc/meminfo", "MemTotal")
    memory_gib = (
        round(int(memory_kib.split()[0]) / 1024 / 1024, 1) if memory_kib is not None else None
    )
    os_name = _first_line_value("/etc/os-release", "PRETTY_NAME") or platform.system()
    try:
        load = " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    except OSError:
        load = "unknown"
    return {
        "cpu_model": _first_line_value("/proc/cpuinfo", "model name") or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{os_name} (kernel {platform.release()}, {platform.machine()})",
        # Other work on the machine skews timings: worth knowing when reading them.
        "load_average_1_5_15_min": load,
    }


def machine_text(description: Mapping[str, Any]) -> str:
    return "\n".join(
        [
            f"CPU     {description['cpu_model']}",
            f"Cores   {description['cores']}",
            f"Memory  {description['memory_gib']} GiB",
            f"Python  {description['python']}",
            f"OS      {description['os']}",
            f"Load    {description['load_average_1_5_15_min']} (1, 5, 15 min, at start)",
        ]
    )


# -- arguments, targets, output -------------------------------------------------------------


def arguments(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--check", action="store_true", help="exit non-zero when a target is missed"
    )
    return parser.parse_args(argv)


@dataclass(frozen=True)
class Target:
    """A figure and the value it should stay within."""

    name: str
    measured: str
    target: str
    ok: bool

    @property
    def verdict(self) -> str:
        return "PASS" if self.ok else "FAIL"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "measured": self.measured,
            "target": self.target,
            "verdict": self.verdict,
        }


def targets_text(targets: Iterable[Target]) -> str:
    return render(
        ["target", "measured", "wanted", "verdict"],
        [[t.name, t.measured, t.target, t.verdict] for t in targets],
        width=100,
    )


def emit(as_json: bool, text: str, data: Mapping[str, Any]) -> None:
    print(json.dumps(data, indent=2) if as_json else text, flush=True)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Median, p90, min, max and mean of durations given in seconds, in milliseconds."""
    values = sorted(value * 1000 for value in seconds)
    p90 = statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else 0.0
    return {
        "n": len(values),
        "median_ms": round(statistics.median(values), 3),
        "p90_ms": round(p90 if len(values) > 1 else values[0], 3),
        "min_ms": round(values[0], 3),
        "max_ms": round(values[-1], 3),
        "mean_ms": round(statistics.fmean(values), 3),
    }


def quiet_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.WARNING)


# -- requests --------------------------------------------------------------------------------


def route_rows(
    requests: Iterable[Request], *, events: int = 1, wanted: Mapping[str, int] | None = None
) -> list[list[object]]:
    """Rows of (route, method, count, per event, note), token requests listed last.

    With `wanted` (requests per route that the target allows), the note says where a route
    is off target.
    """
    counts = Counter((r.route, r.method) for r in requests)
    ordered = sorted(counts.items(), key=lambda item: (item[0][0] == "token", item[0]))

    def note(route: str, count: int) -> str:
        if wanted is None:
            return "managed identity tokens" if route == "token" else ""
        if route == "token":
            return "tokens: not counted against the target"
        if route not in wanted:
            return "NOT IN THE TARGET"
        return "" if wanted[route] == count else f"target: {wanted[route]}"

    return [
        [route, method, count, f"{count / events:.2f}", note(route, count)]
        for (route, method), count in ordered
    ]


# Publishing outcome events to the Event Grid topic is a POST, but it changes no resource.
OUTCOME_ROUTE = "eventgrid.publish"


def is_resource_write(request: Request) -> bool:
    """A write to an Azure resource (ARM or data plane): not a token or a Resource Graph query
    (POSTs that read), not outcome publishing."""
    return request.method in WRITE_METHODS and request.route not in POST_READS | {OUTCOME_ROUTE}


def resource_writes(sim: AzureSimulator) -> list[Request]:
    """Writes to Azure resources (ARM and data plane), not counting outcome-event publishing."""
    return [w for w in sim.writes() if is_resource_write(w)]


def published_types(events: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Published outcome events per event type."""
    return dict(sorted(Counter(str(e.get("eventType")) for e in events).items()))


def request_kind(request: Request) -> str:
    """read, write (to a resource), publish (outcome events) or token."""
    if request.route == "token":
        return "token"
    if request.route == OUTCOME_ROUTE:
        return "publish"
    return "write" if is_resource_write(request) else "read"


def ledger_request(method: str, url: str, table: str) -> str:
    """A request of the ledger's table client to Azurite, named for what the ledger does."""
    path = unquote(urlsplit(url).path)
    if path.endswith("/$batch"):
        return f"{method} $batch (record_actions: one entity group transaction)"
    if "(PartitionKey=" in path:
        # A claim, a once row or a write's hold: read, then replaced if unchanged (ETag).
        what = {"GET": "a row read", "PUT": "a row replaced"}.get(method)
        return f"{method} {table}(PartitionKey=…,RowKey=…) ({what or 'record_event: upsert'})"
    if method == "POST" and path.rstrip("/").endswith(f"/{table}"):
        return f"{method} {table} (record_actions: one entity inserted)"
    return f"{method} {path}"


def route_counts(requests: Iterable[Request]) -> dict[str, int]:
    """Requests per "route METHOD", for JSON output."""
    counts = Counter(f"{r.route} {r.method}" for r in requests)
    return dict(sorted(counts.items()))


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.urls: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith("Request URL: "):
            return
        url = message.split("\n", 1)[0].removeprefix("Request URL: ").strip("'\"")
        method = ""
        for line in message.splitlines():
            if line.startswith("Request method: "):
                method = line.removeprefix("Request method: ").strip("'\"")
        self.urls.append((method, url))


@dataclass
class HttpRequestCounter:
    """Counts the requests the app's Azure SDK clients send, from azure-core's HTTP logging.

    The simulator counts its own requests; this also sees the ledger's (Azurite) requests.
    Formatting the log records costs time: use it around counted runs, not timed ones.
    """

    collector: _Collector = field(default_factory=_Collector)

    @contextmanager
    def counting(self) -> Iterator[HttpRequestCounter]:
        logger = logging.getLogger(HTTP_LOGGER)
        level, propagate = logger.level, logger.propagate
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger.addHandler(self.collector)
        try:
            yield self
        finally:
            logger.removeHandler(self.collector)
            logger.setLevel(level)
            logger.propagate = propagate

    def by_host(self) -> Counter[str]:
        return Counter(urlsplit(url).netloc for _, url in self.collector.urls)

    def to(self, netloc: str) -> list[tuple[str, str]]:
        return [
            (method, url) for method, url in self.collector.urls if urlsplit(url).netloc == netloc
        ]


# -- the local Azure -------------------------------------------------------------------------


def apply_settings(local: LocalAzure, **overrides: str) -> dict[str, str]:
    """Put the scene's app settings (with a ledger table of this run's own) in os.environ.

    Must run before the app first calls `shared.runtime.runtime()`: settings are read once
    (`change_settings` changes them later).
    """
    settings = local.settings(table_prefix="bench", **overrides)
    os.environ.update(settings)
    return settings


def change_settings(**overrides: str) -> None:
    """Change app settings in os.environ mid-process ("" unsets one) and read them again now
    (not inside the next timed event). `shared.runtime.runtime()` is cached per settings value:
    new values get a runtime of their own (new clients, so new tokens), earlier values get
    theirs back."""
    from shared.config import get_settings

    os.environ.update(overrides)
    get_settings.cache_clear()
    get_settings()
