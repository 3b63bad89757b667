"""The offline main job: the app's real handlers against the local Azure simulator and Azurite.

Seeds a realistic scene, delivers the events Event Grid would send through the registered
functions exactly as the host would, fires the timer sweep, and prints the decisions, their
reasons and the final state of every connection. Exits 1 if any final state is not the one the
rules call for.

    python -m tools.offline_run
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from simulator import AzureSimulator, Azurite
from tools import host, scene
from tools.table import render


@contextmanager
def local_azure() -> Iterator[tuple[AzureSimulator, Azurite]]:
    """The simulator and Azurite, both on 127.0.0.1, stopped (Azurite by its PID) on exit."""
    with Azurite() as azurite, AzureSimulator() as sim:
        yield sim, azurite


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with local_azure() as (sim, azurite):
        seeded = scene.seed(sim)
        os.environ.update(scene.settings_env(sim, azurite.connection_string))
        from shared.runtime import runtime  # after the settings are in place

        events = scene.connection_events(seeded)
        labels = [f"connection {c.name} written" for c in seeded.connections]
        hub_pe = next(c for c in seeded.connections if c.name.startswith("pe-mlw-prod-hub"))
        sim.add_private_endpoint(hub_pe.private_endpoint_id, private_link_service_id=scene.PROD)
        events.append(
            scene.resource_write_event(
                hub_pe.private_endpoint_id, "Microsoft.Network/privateEndpoints/write"
            )
        )
        labels.append("private endpoint pe-mlw-prod-hub written")
        events.append(dict(events[0]))  # Event Grid delivers at least once: a duplicate
        labels.append("duplicate delivery of the first event")
        malformed = scene.resource_write_event(scene.PROD, scene.CONNECTION_WRITE)
        del malformed["data"]
        events.append(malformed)
        labels.append("malformed: no data")

        print(f"Delivering {len(events)} Event Grid events to on_private_endpoint_event …")
        host.deliver_events("on_private_endpoint_event", events)
        print("Firing the reconcile_all timer (the backstop sweep) …\n")
        host.fire_timer("reconcile_all")

        ledger = runtime().ledger
        rows = []
        for event, label in zip(events, labels, strict=True):
            row = ledger.event(event["id"]) or {}
            rows.append([event["id"][:8], label, row.get("Outcome", "?"), row.get("Reason", "")])
        print("Events (the ledger keeps the last delivery's outcome per event ID)")
        print(render(["event", "what", "outcome", "reason"], rows, width=70))

        print("\nDecisions (ledger, newest first)")
        decisions = [
            [
                action["TargetId"].rsplit("/", 1)[-1],
                action["Subject"].rsplit("/", 1)[-1],
                action["Verdict"],
                action["Outcome"],
                action["Trigger"].split(":")[0],
                action["Reason"],
            ]
            for workspace in scene.Scene().in_scope
            for action in ledger.actions(workspace)
        ]
        print(
            render(
                ["workspace", "connection", "verdict", "outcome", "by", "reason"],
                decisions,
                width=80,
            )
        )

        print("\nFinal connection states")
        failures = 0
        states = []
        for item in seeded.connections:
            final = sim.connection_status(item.workspace_id, item.name)
            ok = final == item.expected
            failures += not ok
            states.append(
                [
                    item.workspace_id.rsplit("/", 1)[-1],
                    item.name,
                    item.initial,
                    final,
                    "ok" if ok else f"EXPECTED {item.expected}",
                    item.why,
                ]
            )
        print(render(["workspace", "connection", "was", "now", "check", "why"], states, width=70))

        writes = sim.writes()
        print(
            f"\nARM and data-plane requests: {len(sim.requests)} "
            f"({sum(1 for r in sim.requests if r.route != 'token')} excluding tokens), "
            f"writes: {len(writes)} "
            f"({', '.join(sorted({w.path.rsplit('/', 1)[-1] for w in writes})) or 'none'})"
        )
        print(
            "RESULT:",
            "all connections in the expected state"
            if not failures
            else f"{failures} connection(s) wrong",
        )
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
