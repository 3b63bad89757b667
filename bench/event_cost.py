"""The cost of one private endpoint event: requests per route, and warm time per event.

Runs the registered `on_private_endpoint_event` function (through `tools.host`, as the Functions
host would) against the Azure simulator and Azurite, both started in this process, with the
seeded scene of `tools.scene`.

The request budget is measured with OUTCOME_TOPIC_ENDPOINT unset. Outcome publishing is measured
apart, with the topic set (the settings change mid-process; each value has a runtime of its own):
each reconcile that records something worth notifying publishes once. Every approving event adds
a connection to mlw-prod, and a longer connection list costs time, so the repeated events are
timed before any approving one and the approving events alternate between the two settings.

    python -m bench.event_cost [--json] [--check]
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench._common import (
    EVENT_FUNCTION,
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
    route_counts,
    route_rows,
    summary_ms,
    targets_text,
)
from simulator import AzureSimulator
from simulator.server import Request
from tools import host, scene

NO_OP_EVENTS = 200
APPROVING_EVENTS = 50
# With the outcome topic set: enough to see what publishing adds per event.
PUBLISHING_NO_OP_EVENTS = 100
PUBLISHING_APPROVING_EVENTS = 50
UNSET, SET = "unset", "set"


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


def _joined(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{key}={n}" for key, n in sorted(counts.items())) or "none"


@dataclass
class Timed:
    """Timed events of one kind under one setting of the outcome topic."""

    label: str
    topic: str
    durations: list[float] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    published: list[dict[str, Any]] = field(default_factory=list)
    approvals: int = 0

    def deliver(self, sim: AzureSimulator, payload: dict[str, Any]) -> None:
        sim.reset_counts()
        before = len(sim.eventgrid.published_events)
        self.durations.append(_timed(_deliver(payload)))
        self.requests += sim.requests
        self.published += sim.eventgrid.published_events[before:]

    @property
    def events(self) -> int:
        return len(self.durations)

    @property
    def routes_per_event(self) -> dict[str, float]:
        counts = Counter(r.route for r in self.requests)
        return {route: round(n / self.events, 3) for route, n in sorted(counts.items())}

    @property
    def resource_writes(self) -> int:
        return sum(1 for r in self.requests if is_resource_write(r))

    @property
    def posts(self) -> int:
        return sum(1 for r in self.requests if r.route == OUTCOME_ROUTE)

    def row(self) -> list[object]:
        figures = summary_ms(self.durations)
        return [
            self.label,
            self.topic,
            figures["n"],
            f"{figures['median_ms']:.2f}",
            f"{figures['p90_ms']:.2f}",
            f"{figures['min_ms']:.2f}",
            f"{figures['max_ms']:.2f}",
            ", ".join(f"{k}={v:g}" for k, v in self.routes_per_event.items()),
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            **summary_ms(self.durations),
            "outcome_topic": self.topic,
            "requests_per_event": self.routes_per_event,
            "resource_writes": self.resource_writes,
            "publish_posts": self.posts,
            "outcome_events_published": published_types(self.published),
            **({"approvals": self.approvals} if self.approvals else {}),
        }


@dataclass(frozen=True)
class Counted:
    """One warm approving event, every request counted."""

    requests: list[Request]
    approved: bool
    published: dict[str, int]
    ledger: Counter[str]
    sdk_to_simulator: int

    @property
    def routes(self) -> Counter[str]:
        return Counter(r.route for r in self.requests if r.route != "token")


def _counted_approval(
    local: LocalAzure, verified: scene.Connection, name: str, payload: dict[str, Any], table: str
) -> Counted:
    """One more pending connection from the verified endpoint, then one counted event."""
    sim = local.sim
    sim.ml.add_private_endpoint_connection(
        verified.workspace_id, name, verified.private_endpoint_id
    )
    sim.reset_counts()
    before = len(sim.eventgrid.published_events)
    counter = HttpRequestCounter()
    with counter.counting():
        host.deliver_event(EVENT_FUNCTION, payload)
    return Counted(
        requests=sim.requests,
        approved=sim.ml.connection_status(verified.workspace_id, name) == "Approved",
        published=published_types(sim.eventgrid.published_events[before:]),
        ledger=Counter(
            ledger_request(method, url, table) for method, url in counter.to(local.azurite_netloc)
        ),
        sdk_to_simulator=sum(
            n for netloc, n in counter.by_host().items() if netloc != local.azurite_netloc
        ),
    )


def _approve_alternately(
    sim: AzureSimulator, verified: scene.Connection, unset: Timed, topic_set: Timed
) -> None:
    """Events that each approve one freshly seeded verified connection, alternating between
    the topic unset and set, so that both see the connection list grow alike."""
    topic = sim.eventgrid.endpoint
    for index in range(max(APPROVING_EVENTS, PUBLISHING_APPROVING_EVENTS)):
        for timed, value, count in (
            (unset, "", APPROVING_EVENTS),
            (topic_set, topic, PUBLISHING_APPROVING_EVENTS),
        ):
            if index >= count:
                continue
            change_settings(OUTCOME_TOPIC_ENDPOINT=value)
            name = f"bench-approve-{timed.topic}-{index:03d}"
            sim.ml.add_private_endpoint_connection(
                verified.workspace_id, name, verified.private_endpoint_id
            )
            timed.deliver(sim, _connection_event(verified.workspace_id, name))
            timed.approvals += sim.ml.connection_status(verified.workspace_id, name) == "Approved"


def _targets(
    budget: Counted,
    wanted: Counter[str],
    publishing: Counted,
    publishing_wanted: Counter[str],
    timed: Mapping[str, Timed],
    published_unset: int,
) -> list[Target]:
    no_op, approving = timed["no_op"], timed["approving"]
    no_op_set, approving_set = timed["no_op_set"], timed["approving_set"]
    approving_set_events = 1 + approving_set.events
    approving_set_posts = publishing.routes[OUTCOME_ROUTE] + approving_set.posts
    approvals = budget.approved + publishing.approved + approving.approvals
    approvals += approving_set.approvals
    approving_events = 2 + approving.events + approving_set.events
    no_op_writes = no_op.resource_writes + no_op_set.resource_writes
    no_op_events = no_op.events + no_op_set.events
    return [
        Target(
            "requests of one approving event, topic unset (tokens aside)",
            _joined(budget.routes),
            _joined(wanted) + ", nothing else",
            budget.routes == wanted,
        ),
        Target(
            "every approving event approved its connection",
            f"{approvals}/{approving_events}",
            f"{approving_events}/{approving_events}",
            approvals == approving_events,
        ),
        Target(
            "repeated events write no resource",
            f"{no_op_writes} resource writes in {no_op_events} events",
            "0 resource writes",
            no_op_writes == 0,
        ),
        Target(
            "outcome events published, topic unset",
            str(published_unset),
            "0",
            published_unset == 0,
        ),
        Target(
            "requests of one approving event, topic set (tokens aside)",
            _joined(publishing.routes),
            _joined(publishing_wanted) + ", nothing else",
            publishing.routes == publishing_wanted,
        ),
        Target(
            "outcome publishes, topic set",
            f"{approving_set_posts} in {approving_set_events} approving events, "
            f"{no_op_set.posts} in {no_op_set.events} repeated events",
            "one per approving event (the approval); none for a repeated event (nothing worth "
            "notifying)",
            approving_set_posts == approving_set_events and no_op_set.posts == 0,
        ),
    ]


def run(local: LocalAzure) -> tuple[list[str], dict[str, Any], list[Target]]:
    sim = local.sim
    seeded = scene.seed(sim)
    # The request budget: no outcome publishing ("" is unset for the app's settings).
    settings = apply_settings(local, OUTCOME_TOPIC_ENDPOINT="")
    table = settings["LEDGER_TABLE_NAME"]
    verified = next(
        c
        for c in seeded.connections
        if c.workspace_id == scene.PROD and c.why.startswith("listed by allow-listed")
    )
    payload = _connection_event(verified.workspace_id, verified.name)
    allow_listed = len(settings["SYNAPSE_WORKSPACE_IDS"].split(","))
    timed = {
        "no_op": Timed("same event again (nothing to approve)", UNSET),
        "approving": Timed("approves one fresh connection", UNSET),
        "no_op_set": Timed("same event again (nothing to approve)", SET),
        "approving_set": Timed("approves one fresh connection", SET),
    }

    # 1. The first event of the process: builds the runtime, gets tokens, reads Synapse's ARM,
    #    approves the scene's verified connection and gives the Synapse identity Contributor.
    first_seconds = _timed(_deliver(payload))
    first_routes = Counter(r.route for r in sim.requests)

    # 2. One counted approving event. The approval triggers the role check, which reads the
    #    assignments; the assignment exists since the first event, so no authz.ra.put. The
    #    Synapse ARM read that decides is fresh on every event (never a cached one).
    budget = _counted_approval(local, verified, "bench-second", payload, table)
    wanted = Counter(
        {
            "aml.pec.list": 1,
            "synapse.workspace.get": allow_listed,
            "synapse.mpe.list": allow_listed,
            "aml.pec.put": 1,
            "authz.ra.list": 1,
        }
    )

    # 3. The topic set: a runtime of its own, warmed up by one event; one counted approving event.
    change_settings(OUTCOME_TOPIC_ENDPOINT=sim.eventgrid.endpoint)
    host.deliver_event(EVENT_FUNCTION, payload)
    publishing = _counted_approval(local, verified, "bench-publish", payload, table)
    publishing_wanted = wanted + Counter({OUTCOME_ROUTE: 1})

    # 4. The same event again and again (nothing left to approve), topic set, then unset.
    for _ in range(PUBLISHING_NO_OP_EVENTS):
        timed["no_op_set"].deliver(sim, payload)
    change_settings(OUTCOME_TOPIC_ENDPOINT="")
    for _ in range(NO_OP_EVENTS):
        timed["no_op"].deliver(sim, payload)

    # 5. Approving events, alternating between the two settings.
    _approve_alternately(sim, verified, timed["approving"], timed["approving_set"])
    published_unset = len(timed["no_op"].published) + len(timed["approving"].published)
    published_unset += sum(budget.published.values())

    targets = _targets(budget, wanted, publishing, publishing_wanted, timed, published_unset)
    lines = [
        "== Event cost: one private endpoint event (simulator + Azurite, in-process) ==",
        "",
        "Request budget with OUTCOME_TOPIC_ENDPOINT unset (outcome publishing is measured apart, "
        "below).",
        f"First event in the process (runtime, clients, tokens, Synapse ARM read, the Synapse "
        f"identity's Contributor assignment): {first_seconds * 1000:.0f} ms; requests: "
        + _joined(first_routes),
        "",
        "One warm event for mlw-prod, with one more pending verified connection to approve",
        "(the workspace also holds a pending lookalike and an approved connection):",
        render(
            ["route", "method", "requests", "per event", "note"],
            route_rows(budget.requests, wanted=wanted),
        ),
        "",
        f"Ledger requests to Azurite for that event ({sum(budget.ledger.values())}):",
        render(["request", "count"], [[k, v] for k, v in sorted(budget.ledger.items())], width=90),
        f"(the SDK clients logged {budget.sdk_to_simulator} requests to the simulator, "
        f"which recorded {len(budget.requests)})",
        "",
        "Outcome publishing, OUTCOME_TOPIC_ENDPOINT set (a runtime of its own, warmed up by one "
        "event): the same kind of event",
        render(
            ["route", "method", "requests", "per event", "note"],
            route_rows(publishing.requests, wanted=publishing_wanted),
        ),
        "Outcome events in that publish: " + _joined(publishing.published),
        f"Outcome events published by the {timed['no_op_set'].events} repeated events (their "
        "connection is already approved; the lookalike left pending is not announced again): "
        f"{_joined(published_types(timed['no_op_set'].published))} in "
        f"{timed['no_op_set'].posts} POSTs",
        "",
        "Warm time per event (repeated events first; approving events alternate unset/set)",
        render(
            [
                "event",
                "outcome topic",
                "n",
                "median ms",
                "p90 ms",
                "min ms",
                "max ms",
                "requests per event",
            ],
            [timed[key].row() for key in ("no_op", "no_op_set", "approving", "approving_set")],
            width=110,
        ),
        "(mlw-prod keeps a pending lookalike, so every event also lists Synapse's managed "
        "private endpoints and records a leave-pending row)",
        "",
        targets_text(targets),
    ]
    data = {
        "benchmark": "event_cost",
        "machine": machine(),
        "first_event_ms": round(first_seconds * 1000, 3),
        "first_event_requests": dict(first_routes),
        "counted_event": {
            "outcome_topic": UNSET,
            "requests_by_route": route_counts(budget.requests),
            "target_requests": dict(wanted),
            "ledger_requests": dict(budget.ledger),
        },
        "counted_event_topic_set": {
            "outcome_topic": SET,
            "requests_by_route": route_counts(publishing.requests),
            "target_requests": dict(publishing_wanted),
            "outcome_events_published": publishing.published,
        },
        "no_op_event": timed["no_op"].as_json(),
        "approving_event": timed["approving"].as_json(),
        "no_op_event_topic_set": timed["no_op_set"].as_json(),
        "approving_event_topic_set": timed["approving_set"].as_json(),
        "outcome_events_published_topic_unset": published_unset,
        "targets": [t.as_json() for t in targets],
    }
    return lines, data, targets


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0] if __doc__ else "event cost", argv)
    quiet_logging()
    with local_azure() as local:
        lines, data, targets = run(local)
    emit(args.json, "\n".join(lines), data)
    return 1 if args.check and not all(t.ok for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
