"""The sweep at estate scale under ARM's read throttling, and an event during it (issue 17).

1. N unchanged workspaces (default 1,000), 10 computes each (6 clusters, 4 instances, all
   compliant, hardened like a landing zone's), in scope by their resource group (`ML_SCOPES`);
   the simulator throttles ARM reads as ARM does (a bucket of 250 refilled at 25 per second:
   429 + Retry-After when empty, `x-ms-ratelimit-remaining-subscription-reads` on every read);
   the app runs with its default read budget (`ARM_READS_BURST` 200, `ARM_READS_PER_SECOND` 20).
   A first sweep (unthrottled) finds every workspace new and records it; then the measured
   `reconcile_all` timer (through `tools.host`): ARM reads per unchanged workspace, Resource Graph
   queries, 429s answered and surfaced, time against the function timeout (host.json). It
   measures whatever inventory the app uses.
2. While the sweep runs (once its reads have had to yield), a private endpoint connection from
   the allow-listed Synapse workspace's managed private endpoint appears on a workspace the sweep
   has passed, and its event is delivered: its latency, against the same event on an idle app
   before the sweep, and the time its reads waited for the read budget (the target: none).
3. Over `SWEEP_FAN_OUT_WORKSPACES` (2,000 by default; `--workspaces 10000`), the estate spans one
   subscription per 1,000 workspaces and the timer fans out: the messages it sets on its queue
   output are delivered to `sweep_partition` one after another (as the host would, on as many
   instances as it likes), each timed against the function timeout. The first sweep is then not
   run (10,000 workspaces x 14 ARM reads is over 20 minutes here): the digests a settled first
   sweep would keep are computed by the app's inventory, partition by partition, and kept in
   the ledger instead.

    python -m bench.estate_sweep [--json] [--check] [--workspaces N]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench._common import (
    REPO_ROOT,
    LocalAzure,
    Target,
    apply_settings,
    change_settings,
    emit,
    local_azure,
    machine,
    quiet_logging,
    render,
    targets_text,
)
from simulator import AzureSimulator
from simulator.server import Request
from tools import host, scene

WORKSPACES = 1_000
# Workspaces per subscription when the estate spans several.
PER_SUBSCRIPTION = 1_000
CLUSTERS, INSTANCES = 6, 4


def subscriptions(workspaces: int) -> list[str]:
    """The scene's ML subscription, then more (stable IDs) for each further 1,000 workspaces."""
    more = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"estate-{n}")) for n in range(1, 1 + workspaces)]
    return [scene.ML_SUBSCRIPTION, *more][: max(1, -(-workspaces // PER_SUBSCRIPTION))]


SUBNET = (
    f"/subscriptions/{scene.ML_SUBSCRIPTION}/resourceGroups/rg-network/providers/"
    "Microsoft.Network/virtualNetworks/vnet-ml/subnets/snet-compute"
)
# A warm-up event (tokens, clients), the idle one measured, the one during the sweep.
WARM_EVENT, IDLE_EVENT, SWEEP_EVENT = (
    scene.workspace_id(f"mlw-event-{n}", group="rg-estate") for n in "wab"
)
# In the paths of what the event workspaces are and hold.
EVENT_PATHS = ("mlw-event-", "mlwevent", "synapse")
# ARM's own read bucket, per principal, and the app's defaults below it.
ARM_BURST, ARM_PER_SECOND = 250, 25.0
APP_BURST, APP_PER_SECOND = 200, 20
READS_PER_WORKSPACE_TARGET = 0.05


def _workspace(number: int, spread: list[str]) -> str:
    subscription = spread[number // PER_SUBSCRIPTION]
    return scene.workspace_id(f"mlw-estate-{number:05d}", subscription, "rg-estate")


def seed(sim: AzureSimulator, workspaces: int) -> None:
    """The event workspaces first (the sweep passes them first), then the estate."""
    sim.synapse.add_workspace(scene.ANALYTICS, principal_id=scene.ANALYTICS_PRINCIPAL)
    events = (WARM_EVENT, IDLE_EVENT, SWEEP_EVENT)
    spread = subscriptions(workspaces)
    for workspace_id in (*events, *(_workspace(n, spread) for n in range(workspaces))):
        scene.seed_workspace(sim, workspace_id, hardened=True)
        for index in range(CLUSTERS):
            sim.ml.add_compute(
                workspace_id,
                f"cluster-{index}",
                vm_size="Standard_DS3_v2",
                subnet_id=SUBNET,
                max_node_count=4,
                remote_login_port_public_access="Disabled",
            )
        for index in range(INSTANCES):
            sim.ml.add_compute(
                workspace_id,
                f"ci-{index}",
                compute_type="ComputeInstance",
                vm_size="Standard_DS3_v2",
                subnet_id=SUBNET,
                disable_local_auth=True,
                max_node_count=None,
                min_node_count=None,
                remote_login_port_public_access=None,
            )


def pending_connection(sim: AzureSimulator, workspace_id: str) -> tuple[str, dict[str, Any]]:
    """A managed private endpoint of the allow-listed Synapse workspace to `workspace_id`, its
    connection pending (as Azure makes them), and the connection write's event."""
    mpe = f"mpe-{workspace_id.rsplit('/', 1)[-1]}"
    pe_id = scene.managed_endpoint_id("syn-analytics", mpe, scene.SYNAPSE_MANAGED_SUBSCRIPTION)
    sim.synapse.add_managed_private_endpoint(
        scene.ANALYTICS, mpe, private_link_resource_id=workspace_id, resource_id=pe_id
    )
    name = f"{mpe}-{uuid.uuid4().hex[:8]}"
    sim.ml.add_private_endpoint_connection(workspace_id, name, pe_id, status="Pending")
    event = scene.resource_write_event(
        f"{workspace_id}/privateEndpointConnections/{name}", scene.CONNECTION_WRITE
    )
    return name, event


def is_arm_read(request: Request) -> bool:
    return request.method in ("GET", "HEAD") and request.path.lower().startswith(
        ("/subscriptions/", "/providers/")
    )


def is_graph_query(request: Request) -> bool:
    return request.method == "POST" and "microsoft.resourcegraph" in request.path.lower()


@dataclass
class EventRun:
    seconds: float
    arm_reads: int
    budget_wait: float
    approved: bool


def deliver(sim: AzureSimulator, workspace_id: str) -> EventRun:
    from shared.runtime import runtime

    budget = runtime().clients._budget
    name, event = pending_connection(sim, workspace_id)
    waited = budget.waited[False]
    before = len(sim.requests)
    began = time.perf_counter()
    host.deliver_event("on_private_endpoint_event", event)
    seconds = time.perf_counter() - began
    # During the sweep, requests of both interleave: the event's are those naming its workspace
    # or the Synapse workspace it checks.
    mine = [
        r
        for r in sim.requests[before:]
        if is_arm_read(r) and (workspace_id.lower() in r.path.lower() or "synapse" in r.path)
    ]
    return EventRun(
        seconds,
        len(mine),
        budget.waited[False] - waited,
        sim.ml.connection_status(workspace_id, name) == "Approved",
    )


def function_timeout_seconds() -> float:
    text = json.loads((REPO_ROOT / "host.json").read_text(encoding="utf-8"))["functionTimeout"]
    hours, minutes, seconds = (float(part) for part in text.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def fire_sweep(outcome: dict[str, Any]) -> None:
    """`reconcile_all`, then each partition it fanned out to, one after another: the times and
    the transient failure raised, if any."""
    from shared.adapters.errors import TransientAzureError

    began = time.perf_counter()
    outputs: dict[str, Any] = {}
    outcome["partitions"] = []
    try:
        host.fire_timer("reconcile_all", outputs=outputs)
        outcome["timer_seconds"] = time.perf_counter() - began
        for message in outputs.get("fan_out", []):
            started = time.perf_counter()
            host.deliver_queue_message("sweep_partition", message.encode())
            outcome["partitions"].append(round(time.perf_counter() - started, 3))
    except TransientAzureError as error:
        outcome["error"] = str(error)[:300]
    outcome["seconds"] = time.perf_counter() - began


def record_as_settled() -> None:
    """What a first sweep that settled every workspace keeps: each one's digest, from the app's
    own inventory (Resource Graph) and settings, as the partition that sweeps it computes it
    (the same digest as a whole sweep's; a partition at a time keeps each answer to a page)."""
    from shared.reconcilers.sweep import settings_digest
    from shared.runtime import runtime

    rt = runtime()
    for subscription in rt.inventory.partitions():
        survey = rt.inventory.changed_workspaces({}, settings_digest(rt.settings), subscription)
        rt.ledger.keep_fingerprints(survey.fingerprints)


def prepare(local: LocalAzure, workspaces: int) -> tuple[float, list[str], bool, dict[str, Any]]:
    """Seed the estate, in scope by its resource groups; record what each workspace looks like.
    Returns the seeding time, the subscriptions, whether the sweep fans out, the first sweep."""
    sim = local.sim
    began = time.perf_counter()
    seed(sim, workspaces)
    seeded = time.perf_counter() - began
    spread = subscriptions(workspaces)
    groups = [f"/subscriptions/{s}/resourceGroups/rg-estate" for s in spread]
    apply_settings(local, ML_SCOPES=json.dumps(groups), ML_WORKSPACE_IDS="")
    change_settings()
    from shared.config import get_settings

    fans_out = workspaces + 3 > get_settings().sweep_fan_out_workspaces
    first: dict[str, Any] = {}
    if fans_out:
        began = time.perf_counter()
        record_as_settled()
        first["seconds"] = time.perf_counter() - began
    else:
        # The first sweep finds every workspace new (nothing recorded of it yet): unthrottled,
        # with the scene's budget, it records what each one looks like.
        fire_sweep(first)
    return seeded, spread, fans_out, first


def run(local: LocalAzure, workspaces: int) -> tuple[list[str], dict[str, Any], list[Target]]:
    sim = local.sim
    seeded, spread, fans_out, first = prepare(local, workspaces)
    first_reads = sum(1 for r in sim.requests if is_arm_read(r))

    # Then ARM's throttling, and the app's default budget (not a rule: nothing changes).
    change_settings(ARM_READS_BURST=str(APP_BURST), ARM_READS_PER_SECOND=str(APP_PER_SECOND))
    from shared.runtime import runtime

    budget = runtime().clients._budget
    sim.throttle_arm_reads(ARM_BURST, ARM_PER_SECOND)
    deliver(sim, WARM_EVENT)
    idle = deliver(sim, IDLE_EVENT)
    time.sleep(ARM_BURST / ARM_PER_SECOND)  # both buckets full again

    sim.reset_counts()
    outcome: dict[str, Any] = {}
    sweeping = threading.Thread(target=fire_sweep, args=(outcome,), name="sweep")
    sweeping.start()
    # The event comes once the sweep's reads yield, or once it has its inventory from Resource
    # Graph (then it has few reads to make).
    while sweeping.is_alive() and budget.waited[True] == 0 and len(sim.requests) < 60:
        if any(is_graph_query(r) for r in sim.requests):
            break
        time.sleep(0.01)
    during = deliver(sim, SWEEP_EVENT) if sweeping.is_alive() else None
    sweeping.join()
    requests = sim.requests
    sim.read_throttle = None

    reads = sum(1 for r in requests if is_arm_read(r)) - (during.arm_reads if during else 0)
    # The event workspaces changed (their connections were approved): the sweep reads them again,
    # with their dependencies and the Synapse workspace their connections come from.
    changed = sum(
        1 for r in requests if is_arm_read(r) and any(k in r.path.lower() for k in EVENT_PATHS)
    ) - (during.arm_reads if during else 0)
    per_workspace = (reads - changed) / workspaces
    graph = sum(1 for r in requests if is_graph_query(r))
    throttled = sum(1 for r in requests if r.status == 429)
    seconds = outcome["seconds"]
    partitions = outcome["partitions"]
    # One invocation each: the timer, and each partition (fanned out), else the sweep itself.
    longest = max([outcome.get("timer_seconds", seconds), *partitions])
    timeout = function_timeout_seconds()
    targets = [
        Target(
            "ARM reads per unchanged workspace",
            f"{per_workspace:.3f} ({reads - changed} reads; {changed} more for the 3 changed)",
            f"<= {READS_PER_WORKSPACE_TARGET}",
            per_workspace <= READS_PER_WORKSPACE_TARGET,
        ),
        Target(
            "Resource Graph queries",
            str(graph),
            "<= 10" if not fans_out else f"<= 10 per 1,000 workspaces ({10 * len(spread)})",
            graph <= 10 * len(spread),
        ),
        Target(
            "429s surfaced by the sweep",
            outcome.get("error", "none") + f" ({throttled} answered, absorbed by retries)",
            "none",
            "error" not in outcome,
        ),
        Target(
            "longest invocation" if fans_out else "sweep time",
            f"{longest:.1f} s"
            + (f" (all {len(partitions)} partitions: {seconds:.1f} s)" * fans_out),
            f"well within the function timeout ({timeout:.0f} s)",
            longest < timeout / 2,
        ),
        Target(
            "the event's reads waiting for the budget during the sweep",
            f"{during.budget_wait:.3f} s" if during else "no event: the sweep ended first",
            "0 s",
            during is not None and during.budget_wait == 0 and during.approved,
        ),
    ]
    rows = [
        ["idle app", f"{idle.seconds * 1000:.0f}", idle.arm_reads, f"{idle.budget_wait:.3f}"],
    ]
    if during:
        rows.append(
            [
                "during the sweep",
                f"{during.seconds * 1000:.0f}",
                during.arm_reads,
                f"{during.budget_wait:.3f}",
            ]
        )
    lines = [
        f"== Estate sweep: {workspaces} unchanged workspaces (+3 for the events), "
        f"{CLUSTERS + INSTANCES} computes each, ARM read throttling on "
        f"({ARM_BURST}, {ARM_PER_SECOND:g}/s), the app's budget {APP_BURST} at "
        f"{APP_PER_SECOND}/s ==",
        "",
        f"Seeded in {seeded:.1f} s; {len(spread)} subscriptions; "
        + (
            f"first sweep not run: digests recorded as settled in {first['seconds']:.1f} s"
            if fans_out
            else f"first sweep (every workspace new, unthrottled): {first['seconds']:.1f} s, "
            f"{first_reads} ARM reads" + (f", failed: {first['error']}" if "error" in first else "")
        ),
        f"Sweep: {seconds:.1f} s, {reads} ARM reads ({changed} of them for the 3 changed "
        f"workspaces, {per_workspace:.3f} per unchanged one), "
        f"{graph} Resource Graph queries, {throttled} answered 429, "
        f"the sweep's reads waited {budget.waited[True]:.1f} s for the budget",
        *(
            [
                f"Fanned out to {len(partitions)} partitions (one per subscription): timer "
                f"{outcome.get('timer_seconds', 0):.1f} s; partitions (s, in turn): "
                + ", ".join(f"{p:.1f}" for p in partitions)
            ]
            if fans_out
            else []
        ),
        "",
        "Private endpoint connection event (approve + Contributor)",
        render(["when", "ms", "ARM reads", "s waited for the budget"], rows),
        "",
        targets_text(targets),
    ]
    data = {
        "workspaces": workspaces + 3,
        "computes_per_workspace": CLUSTERS + INSTANCES,
        "arm_throttle": {"burst": ARM_BURST, "per_second": ARM_PER_SECOND},
        "app_budget": {"burst": APP_BURST, "per_second": APP_PER_SECOND},
        "seed_seconds": round(seeded, 3),
        "first_sweep": {
            "seconds": round(first["seconds"], 3),
            "arm_reads": first_reads,
            "recorded_as_settled": fans_out,
        },
        "sweep": {
            "seconds": round(seconds, 3),
            "arm_reads": reads,
            "arm_reads_for_the_changed": changed,
            "arm_reads_per_unchanged_workspace": round(per_workspace, 4),
            "resource_graph_queries": graph,
            "answered_429": throttled,
            "budget_wait_seconds": round(budget.waited[True], 3),
            "error": outcome.get("error"),
            "fan_out": fans_out,
            "subscriptions": len(spread),
            "timer_seconds": round(outcome.get("timer_seconds", seconds), 3),
            "partition_seconds": partitions,
        },
        "event_idle": idle.__dict__,
        "event_during_sweep": during.__dict__ if during else None,
        "function_timeout_seconds": timeout,
        "targets": [t.as_json() for t in targets],
    }
    return lines, data, targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The sweep at estate scale, ARM throttling on.")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--check", action="store_true", help="exit non-zero on a missed target")
    parser.add_argument("--workspaces", type=int, default=WORKSPACES, help="unchanged workspaces")
    args = parser.parse_args(argv)
    quiet_logging()
    with local_azure() as local:
        lines, data, targets = run(local, args.workspaces)
    emit(args.json, "\n".join(lines), {"benchmark": "estate_sweep", "machine": machine(), **data})
    return 1 if args.check and not all(t.ok for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
