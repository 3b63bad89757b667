"""The cost of reconciling whole workspaces: one workspace event, and the sweep over 50.

1. `on_workspace_event` (through `tools.host`, as the Functions host would) for one workspace
   shaped like the scene's mlw-prod: storage account, key vault and container registry with
   private endpoints, three computes, an approved connection from the allow-listed Synapse
   workspace's managed private endpoint. The Synapse identity's role assignment and all twelve
   policy rules, POLICY_MODE=audit, the scene's other settings (the outcome topic set): requests
   per route of a warm event (after one warm-up event), reads vs writes, and the warm time per
   event over 100 events.
2. The `reconcile_all` timer (through `tools.host`) over 50 in-scope workspaces with 10 computes
   each, POLICY_MODE=remediate, seeded here (not by `tools.scene.seed`). The first sweep approves
   the pending connections of the allow-listed Synapse workspace's managed private endpoints (to
   half of the workspaces), gives its identity Contributor there and remediates; the second sweep
   must write nothing. Exits 1 when the second sweep writes, a verified connection is not
   Approved, or a workspace with one has other than exactly one Contributor assignment for the
   Synapse principal, with or without --check.

Both parts share the simulator and Azurite started in this process; each has its own settings
(so its own runtime) and ledger table.

    python -m bench.workspace_cost [--json] [--check]
"""

from __future__ import annotations

import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench._common import (
    OUTCOME_ROUTE,
    HttpRequestCounter,
    LocalAzure,
    Target,
    apply_settings,
    arguments,
    change_settings,
    emit,
    is_resource_write,
    ledger_request,
    local_azure,
    machine,
    published_types,
    quiet_logging,
    render,
    request_kind,
    route_counts,
    summary_ms,
    targets_text,
)
from simulator import AzureSimulator
from simulator.server import Request
from tools import host, scene

WORKSPACE_FUNCTION = "on_workspace_event"
SWEEP_FUNCTION = "reconcile_all"
WARM_EVENTS = 100
SWEEP_WORKSPACES = 50
CLUSTERS_PER_WORKSPACE = 6
INSTANCES_PER_WORKSPACE = 4
# The scene's MAX_CLUSTER_NODES: what an oversized cluster is lowered to in remediate mode.
MAX_CLUSTER_NODES = 4

SINGLE = scene.workspace_id("mlw-bench")
SWEEP_SYNAPSE = scene.synapse_id("syn-sweep")
SWEEP_PRINCIPAL = "5b3c9e2a-7d41-4f8e-a6b2-c0d1e2f3a4b5"
CONTRIBUTOR_ROLE_ID = "b24988ac-6180-42a0-ab88-20f7382dd24c"
SUBNET = (
    f"/subscriptions/{scene.ML_SUBSCRIPTION}/resourceGroups/rg-network/providers/"
    "Microsoft.Network/virtualNetworks/vnet-ml/subnets/snet-compute"
)
_KIND_ORDER = {"read": 0, "write": 1, "publish": 2, "token": 3}


# -- seeding -------------------------------------------------------------------------------


def _add_instance(sim: AzureSimulator, workspace_id: str, name: str, *, loose: bool) -> None:
    """A compute instance; `loose`: no subnet and local auth on (like the scene's ci-alice)."""
    sim.ml.add_compute(
        workspace_id,
        name,
        compute_type="ComputeInstance",
        vm_size="Standard_DS3_v2",
        subnet_id=None if loose else SUBNET,
        disable_local_auth=not loose,
        max_node_count=None,
        min_node_count=None,
        remote_login_port_public_access=None,
    )


def _connect(
    sim: AzureSimulator, workspace_id: str, pe_id: str, status: str, description: str = ""
) -> str:
    """A private endpoint connection on the workspace, named as Azure names them."""
    name = f"{pe_id.rsplit('/', 1)[-1]}-{uuid.uuid5(uuid.NAMESPACE_URL, pe_id).hex[:8]}"
    sim.ml.add_private_endpoint_connection(
        workspace_id, name, pe_id, status=status, description=description
    )
    return name


def seed_single(sim: AzureSimulator) -> None:
    """mlw-bench, like the scene's mlw-prod, and the allow-listed Synapse workspace whose
    managed private endpoint's connection to it was approved earlier (by a connection event)."""
    scene.seed_workspace(sim, SINGLE, hardened=False, registry_endpoint=True)
    # Too many nodes for MAX_CLUSTER_NODES; an instance outside any subnet; a compliant cluster.
    sim.ml.add_compute(
        SINGLE, "cpu-cluster", vm_size="STANDARD_DS3_V2", subnet_id=SUBNET, max_node_count=10
    )
    _add_instance(sim, SINGLE, "ci-alice", loose=True)
    sim.ml.add_compute(
        SINGLE, "gpu-cluster", vm_size="Standard_E4s_v3", subnet_id=SUBNET, max_node_count=4
    )
    sim.synapse.add_workspace(scene.ANALYTICS, principal_id=scene.ANALYTICS_PRINCIPAL)
    verified = scene.managed_endpoint_id(
        "syn-analytics", "mpe-aml-bench", scene.SYNAPSE_MANAGED_SUBSCRIPTION
    )
    lookalike = scene.managed_endpoint_id(
        "syn-analytics", "mpe-aml-bench", scene.LOOKALIKE_SUBSCRIPTION
    )
    sim.synapse.add_managed_private_endpoint(
        scene.ANALYTICS,
        "mpe-aml-bench",
        private_link_resource_id=SINGLE,
        resource_id=verified,
        status="Approved",
    )
    _connect(sim, SINGLE, verified, "Approved")
    _connect(sim, SINGLE, scene.private_endpoint_id("pe-mlw-bench-hub"), "Approved")
    _connect(
        sim,
        SINGLE,
        lookalike,
        "Pending",
        description="Requested by syn-analytics (managed private endpoint mpe-aml-bench)",
    )


@dataclass(frozen=True)
class SweepWorkspace:
    """A seeded sweep workspace and what the first sweep must do to it."""

    workspace_id: str
    public: bool
    oversized: tuple[str, ...]
    synapse_connection: str | None


def _seed_sweep_computes(sim: AzureSimulator, workspace_id: str, number: int) -> tuple[str, ...]:
    """6 clusters and 4 instances; some non-compliant. Returns the oversized clusters."""
    oversized: list[str] = []
    for index in range(CLUSTERS_PER_WORKSPACE):
        name = f"cluster-{index}"
        nodes, remote = MAX_CLUSTER_NODES, "Disabled"
        vm_size = "Standard_DS3_v2" if index % 2 == 0 else "Standard_E4s_v3"
        if index == 0 and number % 3 == 0:
            nodes = 10  # remediated: lowered to MAX_CLUSTER_NODES
            oversized.append(name)
        if index == 1 and number % 4 == 1:
            vm_size = "Standard_NC24"  # not allowed; reported only
        if index == 2 and number % 6 == 2:
            remote = "Enabled"  # reported only
        sim.ml.add_compute(
            workspace_id,
            name,
            vm_size=vm_size,
            subnet_id=SUBNET,
            max_node_count=nodes,
            remote_login_port_public_access=remote,
        )
    for index in range(INSTANCES_PER_WORKSPACE):
        _add_instance(sim, workspace_id, f"ci-{index}", loose=index == 0 and number % 2 == 1)
    return tuple(oversized)


def seed_sweep(sim: AzureSimulator) -> list[SweepWorkspace]:
    """50 workspaces (every fifth with the usual gaps), each with an approved hub connection;
    the allow-listed syn-sweep has a managed private endpoint to every other one, whose
    connection is pending."""
    sim.synapse.add_workspace(SWEEP_SYNAPSE, principal_id=SWEEP_PRINCIPAL)
    seeded: list[SweepWorkspace] = []
    for number in range(SWEEP_WORKSPACES):
        name = f"mlw-sweep-{number:02d}"
        workspace_id = scene.workspace_id(name)
        public = number % 5 == 0
        scene.seed_workspace(sim, workspace_id, hardened=not public, registry_endpoint=True)
        oversized = _seed_sweep_computes(sim, workspace_id, number)
        _connect(sim, workspace_id, scene.private_endpoint_id(f"pe-{name}-hub"), "Approved")
        connection = None
        if number % 2 == 0:
            mpe = f"mpe-{name}"
            pe_id = scene.managed_endpoint_id("syn-sweep", mpe, scene.SYNAPSE_MANAGED_SUBSCRIPTION)
            sim.synapse.add_managed_private_endpoint(
                SWEEP_SYNAPSE, mpe, private_link_resource_id=workspace_id, resource_id=pe_id
            )
            connection = _connect(sim, workspace_id, pe_id, "Pending")
        seeded.append(SweepWorkspace(workspace_id, public, oversized, connection))
    return seeded


# -- helpers -------------------------------------------------------------------------------


def _timed(action: Callable[[], None]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def _deliver(payload: dict[str, Any]) -> Callable[[], None]:
    return lambda: host.deliver_event(WORKSPACE_FUNCTION, payload)


def _joined(counts: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{key}={n}" for key, n in sorted(counts)) or "none"


def _contributors(sim: AzureSimulator, scope: str, principal_id: str) -> int:
    """Contributor assignments made exactly at `scope` for `principal_id`."""
    return sum(
        1
        for assignment in sim.authorization.role_assignments(scope)
        if str(assignment["properties"].get("principalId", "")).lower() == principal_id.lower()
        and str(assignment["properties"].get("roleDefinitionId", ""))
        .lower()
        .endswith(CONTRIBUTOR_ROLE_ID)
    )


def _repeats(requests: Sequence[Request]) -> int:
    """Requests for a URL already requested (same method and path, ignoring case)."""
    return len(requests) - len({(r.method, r.path.lower()) for r in requests})


def _grouped(requests: Iterable[Request]) -> dict[tuple[str, str], list[Request]]:
    groups: dict[tuple[str, str], list[Request]] = {}
    for request in requests:
        groups.setdefault((request.route, request.method), []).append(request)
    return dict(
        sorted(groups.items(), key=lambda item: (_KIND_ORDER[request_kind(item[1][0])], item[0]))
    )


def _note(requests: Sequence[Request]) -> str:
    kind = request_kind(requests[0])
    if kind == "token":
        return "managed identity tokens"
    if kind == "publish":
        return "outcome events (not a resource write)"
    repeats = _repeats(requests)
    return f"{repeats} repeat(s) of a URL already requested" if repeats else ""


def event_rows(requests: Sequence[Request]) -> list[list[object]]:
    """(route, method, kind, requests, note) for one event, reads first."""
    return [
        [route, method, request_kind(group[0]), len(group), _note(group)]
        for (route, method), group in _grouped(requests).items()
    ]


def _writes(requests: Iterable[Request]) -> Counter[str]:
    return Counter(r.route for r in requests if is_resource_write(r))


def _posts(requests: Iterable[Request]) -> int:
    return sum(1 for r in requests if r.route == OUTCOME_ROUTE)


def _recorded(event_id: str) -> str:
    """What the event's ledger row says the reconcile did."""
    from shared.runtime import runtime

    row = runtime().ledger.event(event_id) or {}
    return f"{row.get('Outcome', '?')}: {row.get('Reason', '?')}"


# -- 1. one workspace event ----------------------------------------------------------------


@dataclass
class Part:
    lines: list[str]
    data: dict[str, Any]
    targets: list[Target]
    # Targets that fail the run whatever --check says.
    required: list[Target] = field(default_factory=list)


def run_single(local: LocalAzure) -> Part:
    sim = local.sim
    seed_single(sim)
    settings = apply_settings(local, ML_WORKSPACE_IDS=SINGLE, POLICY_MODE="audit")
    table = settings["LEDGER_TABLE_NAME"]

    def event() -> dict[str, Any]:
        return scene.resource_write_event(SINGLE, scene.WORKSPACE_WRITE)

    # The first event of the process: runtime, clients, tokens, the Contributor assignment.
    sim.reset_counts()
    first_seconds = _timed(_deliver(event()))
    first = sim.requests

    # One warm event, every request counted (the ledger's too).
    sim.reset_counts()
    before = len(sim.eventgrid.published_events)
    counter = HttpRequestCounter()
    counted_event = event()
    with counter.counting():
        host.deliver_event(WORKSPACE_FUNCTION, counted_event)
    counted = sim.requests
    counted_published = published_types(sim.eventgrid.published_events[before:])
    ledger = Counter(
        ledger_request(method, url, table) for method, url in counter.to(local.azurite_netloc)
    )
    recorded = _recorded(counted_event["id"])

    # Warm events, timed.
    payloads = [event() for _ in range(WARM_EVENTS)]
    sim.reset_counts()
    durations = [_timed(_deliver(payload)) for payload in payloads]
    timed = sim.requests
    warm = summary_ms(durations)
    warm_writes = _writes(counted) + _writes(timed)
    contributors = _contributors(sim, SINGLE, scene.ANALYTICS_PRINCIPAL)
    per_event = Counter(r.route for r in timed)

    targets = [
        Target(
            "warm workspace events write no resource (audit mode)",
            f"{sum(warm_writes.values())} in {WARM_EVENTS + 1} events"
            + (f" ({_joined(warm_writes.items())})" if warm_writes else ""),
            "0",
            not warm_writes,
        ),
        Target(
            "Contributor assignments for syn-analytics' identity on mlw-bench",
            str(contributors),
            "1",
            contributors == 1,
        ),
    ]
    counted_reads = sum(1 for r in counted if request_kind(r) == "read")
    lines = [
        "== Workspace cost: one workspace event, then the sweep over "
        f"{SWEEP_WORKSPACES} workspaces (simulator + Azurite, in-process) ==",
        "",
        "1. on_workspace_event for mlw-bench (like the scene's mlw-prod: storage, key vault and",
        "registry with private endpoints, 3 computes, an approved connection from syn-analytics'",
        "managed private endpoint): role assignment + all twelve policy rules, POLICY_MODE=audit,",
        "outcome topic set",
        f"First event in the process (runtime, clients, tokens, Synapse ARM read, the Contributor "
        f"assignment): {first_seconds * 1000:.0f} ms; requests: "
        + _joined(Counter(r.route for r in first).items()),
        "",
        f"One warm event: {len(counted)} requests to the simulator, {counted_reads} of them "
        f"reads, {sum(_writes(counted).values())} resource writes",
        render(["route", "method", "kind", "requests", "note"], event_rows(counted), width=70),
        "",
        f"Ledger requests to Azurite for that event ({sum(ledger.values())}):",
        render(["request", "count"], [[k, v] for k, v in sorted(ledger.items())], width=90),
        "Outcome events published for that event: " + _joined(counted_published.items()),
        "What it recorded: " + recorded,
        "",
        f"Warm time per event ({WARM_EVENTS} events, audit mode)",
        render(
            ["event", "n", "median ms", "p90 ms", "min ms", "max ms", "requests per event"],
            [
                [
                    "workspace written (roles + policies)",
                    warm["n"],
                    f"{warm['median_ms']:.2f}",
                    f"{warm['p90_ms']:.2f}",
                    f"{warm['min_ms']:.2f}",
                    f"{warm['max_ms']:.2f}",
                    sum(per_event.values()) / WARM_EVENTS,
                ]
            ],
        ),
    ]
    data = {
        "workspace": SINGLE,
        "policy_mode": "audit",
        "first_event_ms": round(first_seconds * 1000, 3),
        "first_event_requests": route_counts(first),
        "counted_event": {
            "requests_by_route": route_counts(counted),
            "reads": counted_reads,
            "resource_writes": dict(_writes(counted)),
            "repeated_urls": _repeats(counted),
            "ledger_requests": dict(ledger),
            "outcome_events_published": counted_published,
            "recorded": recorded,
        },
        "warm_events": {
            **warm,
            "requests_per_event": {
                route: round(n / WARM_EVENTS, 3) for route, n in sorted(per_event.items())
            },
            "resource_writes": sum(_writes(timed).values()),
            "publish_posts": _posts(timed),
        },
        "contributor_assignments": contributors,
    }
    return Part(lines, data, targets)


# -- 2. the sweep --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    seconds: float
    requests: list[Request]
    published: dict[str, int]
    error: str | None

    @property
    def writes(self) -> Counter[str]:
        return _writes(self.requests)


def _sweep(sim: AzureSimulator) -> Sweep:
    from shared.adapters.errors import TransientAzureError

    sim.reset_counts()
    before = len(sim.eventgrid.published_events)
    error: str | None = None
    began = time.perf_counter()
    try:
        host.fire_timer(SWEEP_FUNCTION)
    except TransientAzureError as failure:
        error = str(failure)
    seconds = time.perf_counter() - began
    return Sweep(
        seconds, sim.requests, published_types(sim.eventgrid.published_events[before:]), error
    )


def _ledger_rows(workspaces: Sequence[SweepWorkspace]) -> int:
    from shared.runtime import runtime

    ledger = runtime().ledger
    return sum(sum(1 for _ in ledger.actions(w.workspace_id)) for w in workspaces)


def _sweep_route_rows(first: Sweep, second: Sweep, workspaces: int) -> list[list[object]]:
    one, two = _grouped(first.requests), _grouped(second.requests)
    keys = sorted(
        set(one) | set(two),
        key=lambda key: (_KIND_ORDER[request_kind((one.get(key) or two[key])[0])], key),
    )
    rows: list[list[object]] = []
    for key in keys:
        a, b = one.get(key, []), two.get(key, [])
        sample = (a or b)[0]
        notes = [f"sweep {n}: {_note(group)}" for n, group in ((1, a), (2, b)) if group]
        if request_kind(sample) == "publish":
            notes = [_note(a or b)]
        rows.append(
            [
                key[0],
                key[1],
                request_kind(sample),
                len(a),
                f"{len(a) / workspaces:.2f}",
                len(b),
                f"{len(b) / workspaces:.2f}",
                "; ".join(n for n in notes if not n.endswith(": ")),
            ]
        )
    return rows


def run_sweep(local: LocalAzure) -> Part:
    sim = local.sim
    workspaces = seed_sweep(sim)
    apply_settings(
        local,
        ML_WORKSPACE_IDS=",".join(w.workspace_id for w in workspaces),
        SYNAPSE_WORKSPACE_IDS=SWEEP_SYNAPSE,
        POLICY_MODE="remediate",
        # The first sweep is measured remediating everything at once (27 writes), not spread
        # over runs by the default limit of 10.
        MAX_REMEDIATIONS_PER_RUN="100",
    )
    change_settings()  # read the new settings: a runtime of their own
    from shared.runtime import runtime

    runtime()  # built outside the timing (its clients, its ledger table); tokens come lazily

    first = _sweep(sim)
    rows_after_first = _ledger_rows(workspaces)
    second = _sweep(sim)
    rows_after_second = _ledger_rows(workspaces)

    verified = [w for w in workspaces if w.synapse_connection is not None]
    not_approved = [
        f"{w.workspace_id.rsplit('/', 1)[-1]}: {status}"
        for w in verified
        if w.synapse_connection is not None
        and (status := sim.ml.connection_status(w.workspace_id, w.synapse_connection)) != "Approved"
    ]
    wrong_roles = [
        f"{w.workspace_id.rsplit('/', 1)[-1]}: {count}"
        for w in workspaces
        if (count := _contributors(sim, w.workspace_id, SWEEP_PRINCIPAL))
        != (1 if w.synapse_connection else 0)
    ]
    oversized = [(w.workspace_id, name) for w in workspaces for name in w.oversized]
    lowered = sum(
        1
        for workspace_id, name in oversized
        if sim.ml.compute(workspace_id, name)["properties"]["properties"]["scaleSettings"].get(
            "maxNodeCount"
        )
        == MAX_CLUSTER_NODES
    )
    public = [w for w in workspaces if w.public]
    closed = sum(
        1
        for w in public
        if (sim.arm.get(w.workspace_id) or {}).get("properties", {}).get("publicNetworkAccess")
        == "Disabled"
    )
    expected = Counter(
        {
            "aml.pec.put": len(verified),
            "authz.ra.put": len(verified),
            "aml.workspace.patch": len(public),
            "aml.compute.patch": len(oversized),
        }
    )
    computes = SWEEP_WORKSPACES * (CLUSTERS_PER_WORKSPACE + INSTANCES_PER_WORKSPACE)
    required = [
        Target(
            "second sweep writes nothing",
            f"{sum(second.writes.values())} resource writes"
            + (f" ({_joined(second.writes.items())})" if second.writes else ""),
            "0",
            not second.writes,
        ),
        Target(
            "every verified connection is Approved",
            f"{len(verified) - len(not_approved)}/{len(verified)}"
            + (f" (not: {'; '.join(not_approved[:3])})" if not_approved else ""),
            f"{len(verified)}/{len(verified)}",
            not not_approved,
        ),
        Target(
            "Contributor for syn-sweep's identity: exactly 1 where a verified connection is, "
            "0 elsewhere",
            "as wanted on all" if not wrong_roles else f"wrong on {'; '.join(wrong_roles[:3])}",
            f"1 on {len(verified)} workspaces, 0 on {len(workspaces) - len(verified)}",
            not wrong_roles,
        ),
    ]
    targets = [
        Target(
            "first sweep writes by route",
            _joined(first.writes.items()),
            _joined(expected.items()),
            first.writes == expected,
        ),
        *required,
        Target(
            "remediations took effect",
            f"{lowered}/{len(oversized)} clusters at {MAX_CLUSTER_NODES} nodes, "
            f"{closed}/{len(public)} workspaces closed to the public",
            f"{len(oversized)}/{len(oversized)}, {len(public)}/{len(public)}",
            lowered == len(oversized) and closed == len(public),
        ),
        Target(
            "sweeps without transient failures",
            "; ".join(e for e in (first.error, second.error) if e) or "none",
            "none",
            first.error is None and second.error is None,
        ),
    ]

    def sweep_row(label: str, sweep: Sweep, rows: int) -> list[object]:
        resource = sum(1 for r in sweep.requests if request_kind(r) in ("read", "write"))
        return [
            label,
            f"{sweep.seconds:.2f}",
            f"{sweep.seconds / SWEEP_WORKSPACES * 1000:.0f}",
            len(sweep.requests),
            f"{resource / SWEEP_WORKSPACES:.1f}",
            sum(sweep.writes.values()),
            _posts(sweep.requests),
            rows,
        ]

    write_rows = [
        [route, n, expected.get(route, 0), _WRITE_MEANING.get(route, "NOT EXPECTED")]
        for route, n in sorted(first.writes.items())
    ]
    lines = [
        "",
        f"2. reconcile_all over {SWEEP_WORKSPACES} in-scope workspaces, {computes} computes "
        f"({CLUSTERS_PER_WORKSPACE} clusters + {INSTANCES_PER_WORKSPACE} instances each, some "
        "non-compliant), POLICY_MODE=remediate, outcome topic set",
        f"syn-sweep (allow-listed) has managed private endpoints to {len(verified)} of them, "
        f"their connections pending; {len(public)} workspaces with public access, "
        f"{len(oversized)} clusters above MAX_CLUSTER_NODES",
        render(
            [
                "sweep",
                "total s",
                "ms per workspace",
                "requests",
                "reads+writes per workspace",
                "resource writes",
                "publishes",
                "ledger rows after",
            ],
            [
                sweep_row("first (approvals, roles, remediation)", first, rows_after_first),
                sweep_row("second (nothing to change)", second, rows_after_second),
            ],
        ),
        "(the first sweep also gets the new runtime's tokens)",
        "",
        "Writes of the first sweep",
        render(["route", "writes", "expected", "what"], write_rows, width=70),
        "Writes of the second sweep: " + _joined(second.writes.items()),
        "",
        "Requests by route",
        render(
            [
                "route",
                "method",
                "kind",
                "sweep 1",
                "per workspace",
                "sweep 2",
                "per workspace",
                "note",
            ],
            _sweep_route_rows(first, second, SWEEP_WORKSPACES),
            width=70,
        ),
        "Outcome events published: sweep 1 "
        + _joined((k.removeprefix("SynapseAmlAutomation."), v) for k, v in first.published.items())
        + f" in {_posts(first.requests)} POSTs; sweep 2 "
        + _joined((k.removeprefix("SynapseAmlAutomation."), v) for k, v in second.published.items())
        + f" in {_posts(second.requests)} POSTs",
    ]

    def as_json(sweep: Sweep, rows: int) -> dict[str, Any]:
        return {
            "seconds": round(sweep.seconds, 3),
            "requests_by_route": route_counts(sweep.requests),
            "writes_by_route": dict(sweep.writes),
            "publish_posts": _posts(sweep.requests),
            "outcome_events_published": sweep.published,
            "ledger_action_rows_after": rows,
            "error": sweep.error,
        }

    data = {
        "workspaces": SWEEP_WORKSPACES,
        "computes": computes,
        "verified_connections": len(verified),
        "public_workspaces": len(public),
        "oversized_clusters": len(oversized),
        "policy_mode": "remediate",
        "expected_first_sweep_writes": dict(expected),
        "first_sweep": as_json(first, rows_after_first),
        "second_sweep": as_json(second, rows_after_second),
        "not_approved": not_approved,
        "wrong_role_assignments": wrong_roles,
    }
    return Part(lines, data, targets, required)


_WRITE_MEANING = {
    "aml.pec.put": "approvals of verified connections",
    "authz.ra.put": "Contributor for the Synapse identity",
    "aml.workspace.patch": "remediation: publicNetworkAccess Disabled",
    "aml.compute.patch": "remediation: maxNodeCount lowered",
}


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0] if __doc__ else "workspace cost", argv)
    quiet_logging()
    with local_azure() as local:
        single = run_single(local)
        sweep = run_sweep(local)
    targets = single.targets + sweep.targets
    lines = [*single.lines, *sweep.lines, "", targets_text(targets)]
    data = {
        "benchmark": "workspace_cost",
        "machine": machine(),
        "single_workspace_event": single.data,
        "sweep": sweep.data,
        "targets": [t.as_json() for t in targets],
    }
    emit(args.json, "\n".join(lines), data)
    if not all(t.ok for t in single.required + sweep.required):
        return 1
    return 1 if args.check and not all(t.ok for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
