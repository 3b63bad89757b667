"""The cost of one private endpoint event: requests per route, and warm time per event.

Runs the registered `on_private_endpoint_event` function (through `tools.host`, as the Functions
host would) against the Azure simulator and Azurite, both started in this process, with the
seeded scene of `tools.scene`.

    python -m bench.event_cost [--json] [--check]
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from bench._common import (
    EVENT_FUNCTION,
    HttpRequestCounter,
    LocalAzure,
    Target,
    arguments,
    emit,
    local_azure,
    machine,
    published_types,
    quiet_logging,
    render,
    resource_writes,
    route_counts,
    route_rows,
    summary_ms,
    targets_text,
)
from simulator.azure_simulator import Request
from tools import host, scene

NO_OP_EVENTS = 200
APPROVING_EVENTS = 50


def _timed(action: Callable[[], None]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def _deliver(payload: dict[str, Any]) -> Callable[[], None]:
    return lambda: host.deliver_event(EVENT_FUNCTION, payload)


def _connection_event(workspace_id: str, name: str) -> dict[str, Any]:
    return scene.resource_write_event(
        f"{workspace_id}/privateEndpointConnections/{name}", scene.CONNECTION_WRITE
    )


def _ledger_request(method: str, url: str, table: str) -> str:
    path = unquote(urlsplit(url).path)
    if path.endswith("/$batch"):
        return f"{method} $batch (record_actions: one entity group transaction)"
    if "(PartitionKey=" in path:
        return f"{method} {table}(PartitionKey=…,RowKey=…) (record_event: upsert)"
    return f"{method} {path}"


def _per_event(requests: Sequence[Request], events: int) -> dict[str, float]:
    counts = Counter(r.route for r in requests)
    return {route: round(count / events, 3) for route, count in sorted(counts.items())}


def run(local: LocalAzure) -> tuple[list[str], dict[str, Any], list[Target]]:
    sim = local.sim
    seeded = scene.seed(sim)
    settings = local.apply_settings()
    table = settings["LEDGER_TABLE_NAME"]
    verified = next(
        c
        for c in seeded.connections
        if c.workspace_id == scene.PROD and c.why.startswith("listed by allow-listed")
    )
    payload = _connection_event(verified.workspace_id, verified.name)

    # 1. The first event of the process: builds the runtime, gets tokens, reads Synapse's ARM.
    first_seconds = _timed(_deliver(payload))
    first_routes = Counter(r.route for r in sim.requests)

    # 2. One more pending connection from the same verified endpoint; one counted event.
    sim.add_private_endpoint_connection(
        verified.workspace_id, "bench-second", verified.private_endpoint_id
    )
    sim.reset_counts()
    published_before = len(sim.published_events)
    counter = HttpRequestCounter()
    with counter.counting():
        host.deliver_event(EVENT_FUNCTION, payload)
    counted = sim.requests
    counted_published = published_types(sim.published_events[published_before:])
    approved = sim.connection_status(verified.workspace_id, "bench-second") == "Approved"
    ledger = Counter(
        _ledger_request(method, url, table) for method, url in counter.to(local.azurite_netloc)
    )
    sdk_to_simulator = sum(
        n for netloc, n in counter.by_host().items() if netloc != local.azurite_netloc
    )
    allow_listed = len(settings["SYNAPSE_WORKSPACE_IDS"].split(","))
    wanted = Counter({"aml.pec.list": 1, "synapse.mpe.list": allow_listed, "aml.pec.put": 1})
    got = Counter(r.route for r in counted if r.route != "token")

    # 3. The same event again and again: nothing left to approve.
    sim.reset_counts()
    published_before = len(sim.published_events)
    no_op = [_timed(_deliver(payload)) for _ in range(NO_OP_EVENTS)]
    no_op_routes = _per_event(sim.requests, NO_OP_EVENTS)
    no_op_writes = len(resource_writes(sim))
    no_op_published = published_types(sim.published_events[published_before:])

    # 4. Events that each approve one freshly seeded verified connection.
    sim.reset_counts()
    approving: list[float] = []
    approvals = 0
    for index in range(APPROVING_EVENTS):
        name = f"bench-approve-{index:03d}"
        sim.add_private_endpoint_connection(
            verified.workspace_id, name, verified.private_endpoint_id
        )
        approving.append(_timed(_deliver(_connection_event(verified.workspace_id, name))))
        approvals += sim.connection_status(verified.workspace_id, name) == "Approved"
    approving_routes = _per_event(sim.requests, APPROVING_EVENTS)

    no_op_summary, approving_summary = summary_ms(no_op), summary_ms(approving)
    targets = [
        Target(
            "requests of one approving event (tokens aside)",
            ", ".join(f"{route}={n}" for route, n in sorted(got.items())),
            ", ".join(f"{route}={n}" for route, n in sorted(wanted.items())) + ", nothing else",
            got == wanted,
        ),
        Target("the new verified connection is Approved", str(approved), "True", approved),
        Target(
            "repeated events write no resource",
            f"{no_op_writes} resource writes in {NO_OP_EVENTS} events",
            "0 resource writes",
            no_op_writes == 0,
        ),
        Target(
            "every approving event approved its connection",
            f"{approvals}/{APPROVING_EVENTS}",
            f"{APPROVING_EVENTS}/{APPROVING_EVENTS}",
            approvals == APPROVING_EVENTS,
        ),
    ]
    lines = [
        "== Event cost: one private endpoint event (simulator + Azurite, in-process) ==",
        local.note,
        "",
        f"First event in the process (runtime, clients, tokens, Synapse ARM read): "
        f"{first_seconds * 1000:.0f} ms; requests: "
        + ", ".join(f"{route}={n}" for route, n in sorted(first_routes.items())),
        "",
        "One warm event for mlw-prod, with one more pending verified connection to approve",
        "(the workspace also holds a pending lookalike and an approved connection):",
        render(
            ["route", "method", "requests", "per event", "note"],
            route_rows(counted, wanted=wanted),
        ),
        "",
        f"Ledger requests to Azurite for that event ({sum(ledger.values())}):",
        render(["request", "count"], [[k, v] for k, v in sorted(ledger.items())], width=90),
        f"(the SDK clients logged {sdk_to_simulator} requests to the simulator, "
        f"which recorded {len(counted)})",
        "Outcome events published for that event: "
        + (", ".join(f"{k}={v}" for k, v in counted_published.items()) or "none"),
        "",
        "Warm time per event",
        render(
            ["event", "n", "median ms", "p90 ms", "min ms", "max ms", "requests per event"],
            [
                [
                    "same event again (nothing to approve)",
                    no_op_summary["n"],
                    f"{no_op_summary['median_ms']:.2f}",
                    f"{no_op_summary['p90_ms']:.2f}",
                    f"{no_op_summary['min_ms']:.2f}",
                    f"{no_op_summary['max_ms']:.2f}",
                    ", ".join(f"{k}={v:g}" for k, v in no_op_routes.items()),
                ],
                [
                    "approves one fresh connection",
                    approving_summary["n"],
                    f"{approving_summary['median_ms']:.2f}",
                    f"{approving_summary['p90_ms']:.2f}",
                    f"{approving_summary['min_ms']:.2f}",
                    f"{approving_summary['max_ms']:.2f}",
                    ", ".join(f"{k}={v:g}" for k, v in approving_routes.items()),
                ],
            ],
            width=100,
        ),
        "(mlw-prod keeps a pending lookalike, so every event also lists Synapse's managed "
        "private endpoints and records a leave-pending row)",
        f"Outcome events published by the {NO_OP_EVENTS} repeated events: "
        + (", ".join(f"{k}={v}" for k, v in no_op_published.items()) or "none"),
        "",
        targets_text(targets),
    ]
    data = {
        "benchmark": "event_cost",
        "machine": machine(),
        "simulator_nagle": local.nagle,
        "first_event_ms": round(first_seconds * 1000, 3),
        "first_event_requests": dict(first_routes),
        "counted_event": {
            "requests_by_route": route_counts(counted),
            "target_requests": dict(wanted),
            "ledger_requests": dict(ledger),
            "outcome_events_published": counted_published,
        },
        "no_op_event": {
            **no_op_summary,
            "requests_per_event": no_op_routes,
            "resource_writes": no_op_writes,
            "outcome_events_published": no_op_published,
        },
        "approving_event": {**approving_summary, "requests_per_event": approving_routes},
        "targets": [t.as_json() for t in targets],
    }
    return lines, data, targets


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0] if __doc__ else "event cost", argv, simulator=True)
    quiet_logging()
    with local_azure(nagle=args.simulator_nagle) as local:
        lines, data, targets = run(local)
    emit(args.json, "\n".join(lines), data)
    return 1 if args.check and not all(t.ok for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
