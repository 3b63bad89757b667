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
    from shared.events import PRIVATE_ENDPOINT_OPERATIONS

    operation = str((event.get("data") or {}).get("operationName", "")).lower()
    if operation in PRIVATE_ENDPOINT_OPERATIONS:
        return "on_private_endpoint_event"
    raise SystemExit(
        f"event {event.get('id')}: no function handles operation {operation!r}; "
        "name one with --function"
    )


def cmd_plan(args: argparse.Namespace) -> int:
    from shared.adapters.aml import MachineLearningAdapter
    from shared.adapters.clients import clients_for
    from shared.adapters.synapse import SynapseAdapter
    from shared.config import get_settings
    from shared.reconcilers.private_endpoints import EvidenceCache, PrivateEndpointReconciler

    settings = get_settings()
    clients = clients_for(settings)
    # No ledger: planning reads Azure and writes nothing anywhere.
    reconciler = PrivateEndpointReconciler(
        settings, MachineLearningAdapter(clients), SynapseAdapter(clients), ledger=None
    )
    cache = EvidenceCache()
    reports = [reconciler.observe_and_plan(ws, cache) for ws in settings.ml_workspace_ids]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "workspace": report.workspace_id,
                        "error": report.error,
                        "decisions": [
                            asdict(d) for d in (report.plan.decisions if report.plan else ())
                        ],
                    }
                    for report in reports
                ],
                indent=2,
            )
        )
        return 0
    rows = []
    for report in reports:
        if report.plan is None:
            rows.append([report.workspace_id.rsplit("/", 1)[-1], "-", "not read", "", report.error])
            continue
        for decision in report.plan.decisions:
            rows.append(
                [
                    report.workspace_id.rsplit("/", 1)[-1],
                    decision.connection_name,
                    decision.verdict.value,
                    "write" if decision.verdict.writes else "",
                    decision.reason,
                ]
            )
    print(render(["workspace", "connection", "decision", "", "reason"], rows, width=90))
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    from shared.reconcilers.sweep import sweep
    from shared.runtime import runtime

    rt = runtime()
    trigger = f"cli:{uuid.uuid4().hex[:12]}"
    report = sweep(rt, trigger=trigger)
    rows = [
        [
            r.workspace_id.rsplit("/", 1)[-1],
            o.decision.connection_name,
            o.decision.verdict.value,
            o.outcome,
        ]
        for r in report.connections
        for o in r.outcomes
    ]
    print(f"mode: {rt.settings.automation_mode.value}; recorded in the ledger as {trigger}")
    print(render(["workspace", "connection", "decision", "outcome"], rows, width=90))
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
