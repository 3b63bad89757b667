"""A burst of events: 1,000 deliveries over 20 in-scope AML workspaces and 200 pending connections.

Each workspace has 10 pending connections: 5 from private endpoints that the allow-listed Synapse
workspace lists as its managed private endpoints (verified), 5 lookalikes with the same names from
another subscription. Each connection gets 5 deliveries (3 distinct event IDs, 2 of them
redelivered as Event Grid does at least once), shuffled with a fixed seed and delivered one after
the other through `tools.host`. Exits 1 on a duplicate write or a wrong final state.

    python -m bench.burst [--json] [--check]
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench._common import (
    EVENT_FUNCTION,
    OUTCOME_ROUTE,
    LocalAzure,
    Target,
    apply_settings,
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
from tools import host, scene

SEED = 20261122
WORKSPACES = 20
VERIFIED_PER_WORKSPACE = 5
LOOKALIKES_PER_WORKSPACE = 5
EVENT_IDS_PER_CONNECTION = 3
DELIVERIES_PER_CONNECTION = 5


@dataclass(frozen=True)
class Pending:
    workspace_id: str
    name: str
    verified: bool


def seed_world(local: LocalAzure) -> list[Pending]:
    sim = local.sim
    sim.synapse.add_workspace(scene.ANALYTICS, principal_id=scene.ANALYTICS_PRINCIPAL)
    connections: list[Pending] = []
    for number in range(WORKSPACES):
        workspace_name = f"mlw-burst-{number:02d}"
        workspace_id = scene.workspace_id(workspace_name)
        sim.ml.add_workspace(workspace_id)
        for index in range(max(VERIFIED_PER_WORKSPACE, LOOKALIKES_PER_WORKSPACE)):
            mpe_name = f"mpe-{workspace_name}-{index}"
            verified_pe = scene.managed_endpoint_id(
                "syn-analytics", mpe_name, scene.SYNAPSE_MANAGED_SUBSCRIPTION
            )
            # Same resource group and name as the verified endpoint, another subscription.
            lookalike_pe = scene.managed_endpoint_id(
                "syn-analytics", mpe_name, scene.LOOKALIKE_SUBSCRIPTION
            )
            if index < VERIFIED_PER_WORKSPACE:
                sim.synapse.add_managed_private_endpoint(
                    scene.ANALYTICS,
                    mpe_name,
                    private_link_resource_id=workspace_id,
                    resource_id=verified_pe,
                )
                name = f"{mpe_name}-{uuid.uuid5(uuid.NAMESPACE_URL, verified_pe).hex[:8]}"
                sim.ml.add_private_endpoint_connection(workspace_id, name, verified_pe)
                connections.append(Pending(workspace_id, name, verified=True))
            if index < LOOKALIKES_PER_WORKSPACE:
                name = f"{mpe_name}-{uuid.uuid5(uuid.NAMESPACE_URL, lookalike_pe).hex[:8]}"
                sim.ml.add_private_endpoint_connection(
                    workspace_id,
                    name,
                    lookalike_pe,
                    description=f"Requested by syn-analytics (managed private endpoint {mpe_name})",
                )
                connections.append(Pending(workspace_id, name, verified=False))
    return connections


def burst_events(connections: list[Pending], rng: random.Random) -> list[dict[str, Any]]:
    """5 deliveries per connection (3 event IDs, 2 of them delivered twice), shuffled."""
    events: list[dict[str, Any]] = []
    for item in connections:
        distinct = [
            scene.resource_write_event(
                f"{item.workspace_id}/privateEndpointConnections/{item.name}",
                scene.CONNECTION_WRITE,
                event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            )
            for _ in range(EVENT_IDS_PER_CONNECTION)
        ]
        redelivered = rng.sample(distinct, DELIVERIES_PER_CONNECTION - EVENT_IDS_PER_CONNECTION)
        events += distinct + [dict(event) for event in redelivered]
    rng.shuffle(events)
    return events


def count_ledger_actions(workspace_ids: list[str]) -> int:
    from shared.runtime import runtime

    ledger = runtime().ledger
    return sum(sum(1 for _ in ledger.actions(workspace_id)) for workspace_id in workspace_ids)


def run(local: LocalAzure) -> tuple[list[str], dict[str, Any], list[Target]]:
    sim = local.sim
    connections = seed_world(local)
    workspace_ids = sorted({item.workspace_id for item in connections})
    apply_settings(local, ML_WORKSPACE_IDS=",".join(workspace_ids))
    rng = random.Random(SEED)
    events = burst_events(connections, rng)
    distinct_ids = len({event["id"] for event in events})
    sim.reset_counts()
    published_before = len(sim.eventgrid.published_events)

    durations: list[float] = []
    began = time.perf_counter()
    for payload in events:
        start = time.perf_counter()
        host.deliver_event(EVENT_FUNCTION, payload)
        durations.append(time.perf_counter() - start)
    total = time.perf_counter() - began

    requests = sim.requests
    writes = resource_writes(sim)
    publishes = sim.count(route=OUTCOME_ROUTE)
    published = published_types(sim.eventgrid.published_events[published_before:])
    writes_by_route = Counter(w.route for w in writes)
    puts = Counter(w.path.lower() for w in writes if w.route == "aml.pec.put")
    duplicate_writes = sum(n - 1 for n in puts.values() if n > 1)
    # Role assignments (an approval wires the Synapse identity): one per workspace expected.
    ra_scopes = Counter(
        w.path.lower().split("/providers/microsoft.authorization/", 1)[0].rsplit("/", 1)[-1]
        for w in writes
        if "/providers/microsoft.authorization/roleassignments/" in w.path.lower()
    )
    wrong: list[str] = []
    final = Counter[str]()
    for item in connections:
        status = sim.ml.connection_status(item.workspace_id, item.name)
        expected = "Approved" if item.verified else "Pending"
        final[f"{'verified' if item.verified else 'lookalike'}: {status}"] += 1
        if status != expected:
            wrong.append(f"{item.name}: {status}, expected {expected}")
    verified = sum(item.verified for item in connections)
    ledger_rows = count_ledger_actions(workspace_ids)

    first_ms = durations[0] * 1000
    steady = summary_ms(durations[1:])
    targets = [
        Target("duplicate writes", str(duplicate_writes), "0", duplicate_writes == 0),
        Target(
            "final state",
            ", ".join(f"{k}={v}" for k, v in sorted(final.items())),
            f"verified: Approved={verified}, lookalike: Pending={len(connections) - verified}",
            not wrong,
        ),
        Target(
            "connection writes",
            f"{writes_by_route['aml.pec.put']} aml.pec.put",
            f"{verified} (one per verified connection)",
            writes_by_route["aml.pec.put"] == verified,
        ),
    ]
    lines = [
        f"== Burst: {len(events)} events ({distinct_ids} distinct IDs) over {len(workspace_ids)} "
        f"workspaces, {len(connections)} pending connections, sequential ==",
        "",
        render(
            ["figure", "value"],
            [
                ["total time", f"{total:.2f} s"],
                ["events/s", f"{len(events) / total:.1f}"],
                ["first event (runtime, tokens, Synapse ARM read)", f"{first_ms:.0f} ms"],
                ["per event after the first: median", f"{steady['median_ms']:.2f} ms"],
                ["per event after the first: p90", f"{steady['p90_ms']:.2f} ms"],
                ["per event after the first: max", f"{steady['max_ms']:.2f} ms"],
                ["requests (tokens included)", len(requests)],
                [
                    "resource writes",
                    f"{len(writes)} ("
                    + ", ".join(f"{k}={v}" for k, v in sorted(writes_by_route.items()))
                    + ")",
                ],
                ["duplicate writes (PUTs to a connection already PUT)", duplicate_writes],
                [
                    "role assignment writes per workspace (max)",
                    f"{max(ra_scopes.values(), default=0)} "
                    f"({sum(ra_scopes.values())} over {len(ra_scopes)} workspaces)",
                ],
                ["ledger action rows recorded", ledger_rows],
                [
                    "outcome events published",
                    f"{sum(published.values())} in {publishes} POSTs ("
                    + ", ".join(
                        f"{kind.removeprefix('SynapseAmlAutomation.')}={n}"
                        for kind, n in published.items()
                    )
                    + ")",
                ],
            ],
            width=200,
        ),
        "",
        "Requests by route",
        render(
            ["route", "method", "requests", "per event", "note"],
            route_rows(requests, events=len(events)),
        ),
        "",
        "Final state: "
        + ", ".join(f"{k}={v}" for k, v in sorted(final.items()))
        + (f"; WRONG: {'; '.join(wrong[:5])}" if wrong else ""),
        "",
        targets_text(targets),
    ]
    data = {
        "benchmark": "burst",
        "machine": machine(),
        "seed": SEED,
        "events": len(events),
        "distinct_event_ids": distinct_ids,
        "workspaces": len(workspace_ids),
        "connections": len(connections),
        "total_seconds": round(total, 3),
        "events_per_second": round(len(events) / total, 2),
        "first_event_ms": round(first_ms, 3),
        "per_event_after_first": steady,
        "requests_by_route": route_counts(requests),
        "writes_by_route": dict(writes_by_route),
        "role_assignment_puts_by_scope": dict(ra_scopes),
        "resource_writes": len(writes),
        "outcome_event_posts": publishes,
        "outcome_events_published": published,
        "duplicate_writes": duplicate_writes,
        "ledger_action_rows": ledger_rows,
        "final_state": dict(final),
        "wrong": wrong,
        "targets": [t.as_json() for t in targets],
    }
    return lines, data, targets


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0] if __doc__ else "burst", argv)
    quiet_logging()
    with local_azure() as local:
        lines, data, targets = run(local)
    emit(args.json, "\n".join(lines), data)
    # A duplicate write or a wrong final state fails the run whether or not --check is given.
    duplicates, final_state = targets[0], targets[1]
    if not (duplicates.ok and final_state.ok):
        return 1
    return 1 if args.check and not all(t.ok for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
