"""The offline main job: the app's real handlers against the local Azure simulator and Azurite.

Seeds a realistic scene and plays it as Event Grid and the timer would, through the registered
functions exactly as the host calls them:

1. the AML workspaces are written (created): `on_workspace_event` wires Synapse identities that
   already have an approved connection, and audits the policy set;
2. Synapse creates managed private endpoints: `on_private_endpoint_event` approves the verified
   connections (and wires the identity), and nothing else; a duplicate and a malformed event too;
3. an operator switches `POLICY_MODE` to `remediate`; the `reconcile_all` sweep remediates;
4. the sweep runs again and writes nothing.

Prints the decisions, their reasons, the role assignments, the findings and the final state of
every connection; exits 1 if anything is not what the rules call for.

    python -m tools.offline_run
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from simulator import AzureSimulator, Azurite
from tools import host, scene
from tools.table import render


@contextmanager
def local_azure() -> Iterator[tuple[AzureSimulator, Azurite]]:
    """The simulator and Azurite, both on 127.0.0.1, stopped (Azurite by its PID) on exit."""
    with Azurite() as azurite, AzureSimulator() as sim:
        yield sim, azurite


def _short(resource_id: object) -> str:
    return str(resource_id).rsplit("/", 1)[-1]


def _resource_writes(sim: AzureSimulator) -> list[Any]:
    # Outcome events are records for people, like the ledger: not writes to the estate.
    return [w for w in sim.writes() if w.route != "eventgrid.publish"]


class Checks:
    """What the run expects; each failure is printed and makes the exit code 1."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def expect(self, ok: bool, what: str) -> None:
        print(f"  [{'ok' if ok else 'FAILED'}] {what}")
        if not ok:
            self.failures.append(what)


def _print_events(ledger: Any, events: list[tuple[str, dict[str, Any]]]) -> None:
    rows = []
    for label, event in events:
        row = ledger.event(event["id"]) or {}
        rows.append([event["id"][:8], label, row.get("Outcome", "?"), row.get("Reason", "")])
    print(render(["event", "what", "outcome", "summary"], rows, width=90))


def _print_actions(ledger: Any, kinds: set[str], trigger_prefix: str = "") -> None:
    rows = [
        [
            _short(action["TargetId"]),
            action["Kind"],
            _short(action["Subject"]),
            action["Verdict"],
            action["Outcome"],
            action["Reason"],
        ]
        for workspace in (scene.PROD, scene.DEV)
        for action in ledger.actions(workspace)
        if action["Kind"] in kinds and action["Trigger"].startswith(trigger_prefix)
    ]
    print(render(["workspace", "kind", "resource", "decision", "outcome", "reason"], rows))


def _print_findings(ledger: Any, trigger: str) -> None:
    rows = [
        [
            _short(action["TargetId"]),
            action["Evidence"],
            _short(action["Subject"]),
            action["Verdict"],
            action["Outcome"],
            action["Reason"].split(": ", 1)[-1],
        ]
        for workspace in (scene.PROD, scene.DEV)
        for action in ledger.actions(workspace)
        if action["Kind"] == "policy-finding"
        and action["Trigger"] == trigger
        and action["Verdict"] != "compliant"
    ]
    print(render(["workspace", "rule", "resource", "status", "outcome", "finding"], rows, width=70))


def main() -> int:  # noqa: PLR0915 - a script that tells a story, step by step
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    checks = Checks()
    with local_azure() as (sim, azurite):
        seeded = scene.seed(sim)
        os.environ.update(scene.settings_env(sim, azurite.connection_string))
        from shared.config import get_settings
        from shared.runtime import runtime  # after the settings are in place

        print("1. The AML workspaces are written: on_workspace_event (POLICY_MODE=audit)\n")
        workspace_events = [
            (f"{_short(e['subject'])} written", e) for e in scene.workspace_events()
        ]
        for _, event in workspace_events:
            host.deliver_event("on_workspace_event", event)
        ledger = runtime().ledger
        _print_events(ledger, workspace_events)
        print("\nNon-compliant findings (audit: recorded and published, nothing changed)")
        dev_trigger = f"event:{workspace_events[1][1]['id']}"
        prod_trigger = f"event:{workspace_events[0][1]['id']}"
        _print_findings(ledger, prod_trigger)
        _print_findings(ledger, dev_trigger)
        checks.expect(
            len(sim.role_assignments(scene.DEV)) == 1,
            "mlw-dev: syn-analytics' identity got Contributor (connection approved by hand)",
        )
        checks.expect(
            not [w for w in _resource_writes(sim) if w.route != "authz.ra.put"],
            "audit mode: no remediation written",
        )

        print("\n2. Synapse creates managed private endpoints: on_private_endpoint_event\n")
        events = [
            (f"connection {c.name} written", e)
            for c, e in zip(seeded.connections, scene.connection_events(seeded), strict=True)
        ]
        hub = next(c for c in seeded.connections if c.name.startswith("pe-mlw-prod-hub"))
        sim.add_private_endpoint(hub.private_endpoint_id, private_link_service_id=scene.PROD)
        events.append(
            (
                "private endpoint pe-mlw-prod-hub written",
                scene.resource_write_event(
                    hub.private_endpoint_id, "Microsoft.Network/privateEndpoints/write"
                ),
            )
        )
        events.append(("duplicate delivery of the first event", dict(events[0][1])))
        malformed = scene.resource_write_event(scene.PROD, scene.CONNECTION_WRITE)
        del malformed["data"]
        events.append(("malformed: no data", malformed))
        for _, event in events:
            host.deliver_event("on_private_endpoint_event", event)
        print("Events (the ledger keeps the last delivery's outcome per event ID)")
        _print_events(ledger, events)
        print("\nDecisions about connections and identities (ledger, newest first)")
        _print_actions(ledger, {"private-endpoint-connection", "role-assignment"}, "event:")

        print("\n3. POLICY_MODE=remediate; the reconcile_all timer fires\n")
        os.environ["POLICY_MODE"] = "remediate"
        get_settings.cache_clear()
        sim.reset_counts()
        host.fire_timer("reconcile_all")
        remediations = sorted(w.route for w in _resource_writes(sim))
        ledger = runtime().ledger
        _print_actions(ledger, {"policy-remediation"}, "sweep:")
        sweep_trigger = next(
            row["Trigger"]
            for row in ledger.actions(scene.PROD)
            if row["Kind"] == "policy-finding" and row["Trigger"].startswith("sweep:")
        )
        print("\nNon-compliant findings of the remediate sweep (observed before the fixes)")
        _print_findings(ledger, sweep_trigger)
        checks.expect(
            remediations == ["aml.compute.patch", "aml.workspace.patch"],
            f"remediate: exactly the allowed writes ({', '.join(remediations) or 'none'})",
        )

        print("\n4. The sweep runs again\n")
        sim.reset_counts()
        host.fire_timer("reconcile_all")
        again = _resource_writes(sim)
        checks.expect(not again, f"second sweep wrote nothing ({len(again)} writes)")

        print("\nRole assignments (simulator state)")
        rows = [
            [
                _short(ws),
                _short(a["properties"]["principalId"]),
                _short(a["properties"]["roleDefinitionId"]),
                a["name"],
            ]
            for ws in (scene.PROD, scene.DEV, scene.SANDBOX)
            for a in sim.role_assignments(ws)
        ]
        print(render(["workspace", "principal", "role definition", "assignment name"], rows))
        for ws in (scene.PROD, scene.DEV):
            assigned = sim.role_assignments(ws)
            checks.expect(
                len(assigned) == 1
                and assigned[0]["properties"]["principalId"] == scene.ANALYTICS_PRINCIPAL,
                f"{_short(ws)}: exactly one Contributor, for syn-analytics' identity",
            )
        checks.expect(not sim.role_assignments(scene.SANDBOX), "mlw-sandbox: untouched")

        print("\nFinal connection states")
        states = []
        for item in seeded.connections:
            final = sim.connection_status(item.workspace_id, item.name)
            ok = final == item.expected
            states.append(
                [
                    _short(item.workspace_id),
                    item.name,
                    item.initial,
                    final,
                    "ok" if ok else f"EXPECTED {item.expected}",
                    item.why,
                ]
            )
            if not ok:
                checks.failures.append(f"{item.name} is {final}, expected {item.expected}")
        print(render(["workspace", "connection", "was", "now", "check", "why"], states, width=70))
        workspace = sim.get_resource(scene.PROD) or {}
        checks.expect(
            workspace["properties"]["publicNetworkAccess"] == "Disabled",
            "mlw-prod: public network access disabled by remediation",
        )
        print(f"\nOutcome events published for people: {len(sim.published_events)}")

        # Scoring over HTTP is a step of its own (tools/offline_scoring.py).
        from tools import offline_scoring

        print("\nScoring over HTTP: a Logic App starts batch scoring and follows it\n")
        offline_scoring.run(sim, checks)
        print(
            "RESULT:",
            "everything as the rules call for"
            if not checks.failures
            else f"{len(checks.failures)} check(s) failed: {'; '.join(checks.failures)}",
        )
        return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
