"""Operator CLI: see what the app would do, make it so, or replay a dead-lettered event.

    python -m tools.cli plan [--json]          # read-only: what the rules call for, now
    python -m tools.cli apply                  # reconcile every workspace in scope
    python -m tools.cli replay EVENT.json      # deliver saved events to the right function

Settings come from the environment, or from a Functions `local.settings.json` (`--settings`).
Credentials are `DefaultAzureCredential`'s: `az login` on a laptop, the managed identity in Azure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tools.table import render

SETTINGS_FILE = "local.settings.json"


def load_settings_file(path: Path) -> None:
    """Put a local.settings.json's `Values` into the environment (the environment wins)."""
    values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    for name, value in values.items():
        os.environ.setdefault(name, str(value))


def _function_for(event: dict[str, Any]) -> str:
    from shared.events import PRIVATE_ENDPOINT_OPERATIONS, WORKSPACE_OPERATIONS

    operation = str((event.get("data") or {}).get("operationName", "")).lower()
    if operation in PRIVATE_ENDPOINT_OPERATIONS:
        return "on_private_endpoint_event"
    if operation in WORKSPACE_OPERATIONS:
        return "on_workspace_event"
    raise SystemExit(
        f"event {event.get('id')}: no function handles operation {operation!r}; "
        "name one with --function"
    )


def _short(resource_id: object) -> str:
    return str(resource_id).rsplit("/", 1)[-1]


def _print_plan(item: dict[str, Any]) -> None:
    print(f"\n== {item['workspace']}")
    if item["error"]:
        print(f"   could not be read: {item['error']}")
    writes = {"approve", "reject", "assign"}
    rows: list[list[object]] = [
        [d["connection_name"], d["verdict"], d["verdict"] in writes, d["reason"]]
        for d in item["connections"]
    ]
    rows += [
        [
            f"Contributor: {_short(d['synapse_workspace_id'])}",
            d["verdict"],
            d["verdict"] in writes,
            d["reason"],
        ]
        for d in item["roleAssignments"]
    ]
    print(render(["connection / role", "decision", "writes", "reason"], rows, width=90))
    findings: list[list[object]] = [
        [
            f["rule_id"],
            f["severity"],
            f["status"],
            _short(f["target_id"]),
            bool(f["remediation"]),
            f["message"],
        ]
        for f in item["findings"]
    ]
    print()
    print(render(["rule", "severity", "status", "resource", "remediable", "message"], findings))
    # Guarded, deferred and exempt findings, each with its reason.
    held: list[list[object]] = [
        [r["rule_id"], _short(r["target_id"]), r["disposition"], r["reason"]]
        for r in item.get("remediations", [])
    ]
    held += [
        [
            f["rule_id"],
            _short(f["target_id"]),
            "exempt",
            f"until {f['exemption']['expires']}: {f['exemption']['reason']}",
        ]
        for f in item["findings"]
        if f.get("exemption")
    ]
    held += [
        [e["rule_id"], _short(e["scope"]), "exemption expired", f"at {e['expires']}: not applied"]
        for e in item.get("expiredExemptions", [])
    ]
    if held:
        print()
        print(render(["rule", "resource", "remediation", "reason"], held, width=90))


def cmd_plan(args: argparse.Namespace) -> int:
    from azure.core.exceptions import AzureError

    from shared.adapters.errors import describe
    from shared.config import get_settings
    from shared.policy.budget import RemediationBudget
    from shared.reconcilers.evidence import EvidenceCache
    from shared.runtime import build

    settings = get_settings()
    # No ledger and no sink: planning reads Azure and writes nothing anywhere.
    rt = build(settings, sink=None)
    cache = EvidenceCache()
    # The plan is one run: its remediations share one budget, as `apply` would.
    budget = RemediationBudget(settings.max_remediations_per_run)
    result: list[dict[str, Any]] = []
    for workspace_id in settings.ml_workspace_ids:
        report = rt.private_endpoints.observe_and_plan(workspace_id, cache)
        item: dict[str, Any] = {
            "workspace": workspace_id,
            "error": report.error,
            "connections": [asdict(d) for d in (report.plan.decisions if report.plan else ())],
            "roleAssignments": [],
            "findings": [],
            "remediations": [],
            "expiredExemptions": [],
        }
        if report.plan is not None:
            # Later concerns see the connections as the plan would leave them.
            current = report.current_connections_if_planned()
            try:
                roles = rt.role_assignments.plan(workspace_id, cache=cache, connections=current)
                policies = rt.policies.plan(workspace_id, budget, current)
            except AzureError as failure:
                item["error"] = describe(failure)
            else:
                item["roleAssignments"] = [asdict(d) for d in roles]
                item["findings"] = [asdict(f) for f in policies.findings]
                item["remediations"] = [asdict(r) for r in policies.remediations]
                item["expiredExemptions"] = [asdict(e) for e in policies.expired_exemptions]
        result.append(item)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        for item in result:
            _print_plan(item)
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    from shared.reconcilers.sweep import sweep
    from shared.runtime import runtime

    rt = runtime()
    trigger = f"cli:{uuid.uuid4().hex[:12]}"
    report = sweep(rt, trigger=trigger)
    print(
        f"mode: {rt.settings.automation_mode.value}, policy: {rt.settings.policy_mode.value}; "
        f"recorded in the ledger as {trigger}"
    )
    for workspace in report.workspaces:
        print(f"  {workspace.summary()}")
    for failure in report.transient_failures:
        print(f"retry later: {failure}", file=sys.stderr)
    return 1 if report.transient_failures else 0


def cmd_replay(args: argparse.Namespace) -> int:
    from shared.runtime import runtime
    from tools import host

    events = host.load_events(Path(args.event_file))
    for event in events:
        name = args.function or _function_for(event)
        host.deliver_event(name, event)
        row = runtime().ledger.event(str(event.get("id"))) or {}
        print(f"{event.get('id')} → {name}: {row.get('Outcome', '?')}: {row.get('Reason', '')}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m tools.cli", description=__doc__.splitlines()[0])
    top.add_argument(
        "--settings",
        type=Path,
        default=None,
        help=f"a Functions settings file to read (default: ./{SETTINGS_FILE} when present)",
    )
    commands = top.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="print what would be done; writes nothing")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.set_defaults(run=cmd_plan)
    apply = commands.add_parser("apply", help="reconcile every workspace in scope")
    apply.set_defaults(run=cmd_apply)
    replay = commands.add_parser("replay", help="deliver events from a file (e.g. dead-lettered)")
    replay.add_argument("event_file", help="an Event Grid event, or an array of them, as JSON")
    replay.add_argument("--function", help="the function to deliver to (default: by operation)")
    replay.set_defaults(run=cmd_replay)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings_file = args.settings or (Path(SETTINGS_FILE) if Path(SETTINGS_FILE).exists() else None)
    if settings_file is not None:
        load_settings_file(settings_file)
    from shared.config import SettingsError

    try:
        return int(args.run(args))
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
