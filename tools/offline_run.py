"""The offline main job: the app's real handlers against the local Azure simulator and Azurite.

Seeds a realistic scene and plays it as Event Grid and the timer would, through the registered
functions exactly as the host calls them:

1. the AML workspaces are written (created): `on_workspace_event` wires Synapse identities that
   already have an approved connection, and audits the policy set;
2. Synapse creates managed private endpoints: `on_private_endpoint_event` approves the verified
   connections (and wires the identity), and nothing else; a duplicate and a malformed event too;
3. an operator switches `POLICY_MODE` to `remediate`; the `reconcile_all` sweep remediates;
4. the sweep runs again and writes nothing;
5. retraining (`tools/offline_retraining.py`): drift -> retraining job -> completion -> batch
   scoring, a duplicate and a racing drift event that change nothing, the timer's drift gate.

Prints, in titled tables (tools/report.py), the decisions and their reasons, the role
assignments, the findings, the final state of every connection, the outcome events published,
and where the ledger was; exits 1 if anything is not what the rules call for.

    python -m tools.offline_run
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from simulator import AzureSimulator, Azurite
from tools import host, offline_retraining, offline_scoring, scene
from tools.local_azure import local_azure
from tools.plan_view import short
from tools.report import Column, Report

IN_SCOPE = (scene.PROD, scene.DEV)


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


def _print_events(
    report: Report, title: str, ledger: Any, events: list[tuple[str, dict[str, Any]]]
) -> None:
    rows = []
    for label, event in events:
        row = ledger.event(event["id"]) or {}
        rows.append([event["id"][:8], label, row.get("Outcome", "?"), row.get("Reason", "")])
    report.table(title, ["event", "what", "outcome", Column("summary", wrap=True)], rows)


def _print_actions(
    report: Report, what: str, ledger: Any, kinds: set[str], trigger_prefix: str = ""
) -> None:
    """One table per workspace in scope: `what in <workspace>`."""
    for workspace in IN_SCOPE:
        rows = [
            [
                action["Kind"],
                short(action["Subject"]),
                action["Verdict"],
                action["Outcome"],
                action["Reason"],
            ]
            for action in ledger.actions(workspace)
            if action["Kind"] in kinds and action["Trigger"].startswith(trigger_prefix)
        ]
        report.table(
            what.format(workspace=short(workspace)),
            [
                "kind",
                Column("resource", wrap=True),
                "decision",
                "outcome",
                Column("reason", wrap=True),
            ],
            rows,
        )


def _print_findings(report: Report, what: str, ledger: Any, triggers: set[str]) -> None:
    """The non-compliant findings the given triggers recorded, one table per workspace."""
    for workspace in IN_SCOPE:
        rows = [
            [
                action["Evidence"],
                short(action["Subject"]),
                action["Verdict"],
                action["Outcome"],
                action["Reason"].split(": ", 1)[-1],
            ]
            for action in ledger.actions(workspace)
            if action["Kind"] == "policy-finding"
            and action["Trigger"] in triggers
            and action["Verdict"] != "compliant"
        ]
        report.table(
            what.format(workspace=short(workspace)),
            [
                "rule",
                "resource",
                "status",
                Column("outcome", wrap=True),
                Column("finding", wrap=True),
            ],
            rows,
        )


def _print_outcome_events(report: Report, sim: AzureSimulator) -> None:
    prefix = "SynapseAmlAutomation."
    rows = [
        [
            str(event.get("eventType", "?")).removeprefix(prefix),
            short((event.get("data") or {}).get("workspaceId", "")),
            short(event.get("subject", "")),
            (event.get("data") or {}).get("reason", ""),
        ]
        for event in sim.eventgrid.published_events
    ]
    report.table(
        f"Outcome events published to OUTCOME_TOPIC_ENDPOINT for people: {len(rows)} "
        f"(event types without their {prefix} prefix)",
        ["event type", "workspace", Column("subject", wrap=True), Column("reason", wrap=True)],
        rows,
    )


def _print_ledger_location(report: Report, azurite: Azurite, table_name: str) -> None:
    report.line(
        f"The ledger was table '{table_name}' in the Azurite this run started "
        f"({azurite.table_endpoint}), in memory: it is gone now that the run ends."
    )
    report.line(
        "To keep a ledger you can query, run `make sandbox` (the simulator and Azurite with this "
        "scene, until Ctrl-C) and drive it from another shell with `python -m tools.cli` "
        '(README: "Try it locally: make sandbox").'
    )


def main() -> int:  # noqa: PLR0915 - a script that tells a story, step by step
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    checks = Checks()
    report = Report()
    with local_azure() as local:
        sim, azurite = local.sim, local.azurite
        seeded = scene.seed(sim)
        os.environ.update(local.settings())
        from shared.config import get_settings
        from shared.runtime import runtime  # after the settings are in place

        report.heading("1. The AML workspaces are written: on_workspace_event (POLICY_MODE=audit)")
        workspace_events = [(f"{short(e['subject'])} written", e) for e in scene.workspace_events()]
        for _, event in workspace_events:
            host.deliver_event("on_workspace_event", event)
        ledger = runtime().ledger
        _print_events(report, "Events delivered to on_workspace_event", ledger, workspace_events)
        dev_trigger = f"event:{workspace_events[1][1]['id']}"
        prod_trigger = f"event:{workspace_events[0][1]['id']}"
        _print_findings(
            report,
            "Non-compliant findings in {workspace} "
            "(audit: recorded and published, nothing changed)",
            ledger,
            {prod_trigger, dev_trigger},
        )
        checks.expect(
            len(sim.authorization.role_assignments(scene.DEV)) == 1,
            "mlw-dev: syn-analytics' identity got Contributor (connection approved by hand)",
        )
        checks.expect(
            not [w for w in _resource_writes(sim) if w.route != "authz.ra.put"],
            "audit mode: no remediation written",
        )

        report.heading("2. Synapse creates managed private endpoints: on_private_endpoint_event")
        events = [
            (f"connection {c.name} written", e)
            for c, e in zip(seeded.connections, scene.connection_events(seeded), strict=True)
        ]
        hub = next(c for c in seeded.connections if c.name.startswith("pe-mlw-prod-hub"))
        sim.network.add_private_endpoint(
            hub.private_endpoint_id, private_link_service_id=scene.PROD
        )
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
        _print_events(
            report,
            "Events delivered to on_private_endpoint_event "
            "(the ledger keeps the last delivery's outcome per event ID)",
            ledger,
            events,
        )
        _print_actions(
            report,
            "Decisions about connections and identities in {workspace} (ledger, newest first)",
            ledger,
            {"private-endpoint-connection", "role-assignment"},
            "event:",
        )

        report.heading("3. POLICY_MODE=remediate; the reconcile_all timer fires")
        os.environ["POLICY_MODE"] = "remediate"
        get_settings.cache_clear()
        sim.reset_counts()
        host.fire_timer("reconcile_all")
        remediations = sorted(w.route for w in _resource_writes(sim))
        ledger = runtime().ledger
        _print_actions(
            report,
            "Remediations in {workspace} (the sweep)",
            ledger,
            {"policy-remediation"},
            "sweep:",
        )
        sweep_trigger = next(
            row["Trigger"]
            for row in ledger.actions(scene.PROD)
            if row["Kind"] == "policy-finding" and row["Trigger"].startswith("sweep:")
        )
        _print_findings(
            report,
            "Non-compliant findings in {workspace} of the remediate sweep "
            "(observed before the fixes)",
            ledger,
            {sweep_trigger},
        )
        checks.expect(
            remediations == ["aml.compute.patch", "aml.workspace.patch"],
            f"remediate: exactly the allowed writes ({', '.join(remediations) or 'none'})",
        )

        report.heading("4. The sweep runs again")
        sim.reset_counts()
        host.fire_timer("reconcile_all")
        again = _resource_writes(sim)
        checks.expect(not again, f"second sweep wrote nothing ({len(again)} writes)")

        report.line()
        rows = [
            [
                short(ws),
                short(a["properties"]["principalId"]),
                short(a["properties"]["roleDefinitionId"]),
                a["name"],
            ]
            for ws in (scene.PROD, scene.DEV, scene.SANDBOX)
            for a in sim.authorization.role_assignments(ws)
        ]
        report.table(
            "Role assignments on mlw-prod, mlw-dev and mlw-sandbox (simulator state)",
            ["workspace", "principal", "role definition", "assignment name"],
            rows,
        )
        for ws in (scene.PROD, scene.DEV):
            assigned = sim.authorization.role_assignments(ws)
            checks.expect(
                len(assigned) == 1
                and assigned[0]["properties"]["principalId"] == scene.ANALYTICS_PRINCIPAL,
                f"{short(ws)}: exactly one Contributor, for syn-analytics' identity",
            )
        checks.expect(
            not sim.authorization.role_assignments(scene.SANDBOX), "mlw-sandbox: untouched"
        )

        report.line()
        states = []
        for item in seeded.connections:
            final = sim.ml.connection_status(item.workspace_id, item.name)
            ok = final == item.expected
            states.append(
                [
                    short(item.workspace_id),
                    item.name,
                    item.initial,
                    final,
                    "ok" if ok else f"EXPECTED {item.expected}",
                    item.why,
                ]
            )
            if not ok:
                checks.failures.append(f"{item.name} is {final}, expected {item.expected}")
        report.table(
            "Final connection states on mlw-prod, mlw-dev and mlw-sandbox (simulator state)",
            ["workspace", "connection", "was", "now", "check", Column("why", wrap=True)],
            states,
        )
        workspace = sim.arm.get(scene.PROD) or {}
        checks.expect(
            workspace["properties"]["publicNetworkAccess"] == "Disabled",
            "mlw-prod: public network access disabled by remediation",
        )
        offline_retraining.play(sim, checks.expect, report)
        # Scoring over HTTP is a step of its own (tools/offline_scoring.py).
        offline_scoring.run(sim, checks, report)
        report.line()
        _print_outcome_events(report, sim)
        _print_ledger_location(report, azurite, get_settings().ledger.table_name)
        report.line()
        print(
            "RESULT:",
            "everything as the rules call for"
            if not checks.failures
            else f"{len(checks.failures)} check(s) failed: {'; '.join(checks.failures)}",
        )
        return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
