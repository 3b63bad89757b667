"""What `plan` shows of a `WorkspacePlan` (decisions, findings, remediations, promotion): as
tables for people and as the objects `plan --json` prints (and a saved plan keeps)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from shared.bounds import redacted, redacted_json

if TYPE_CHECKING:
    from rich.console import Console

    from shared.reconcilers.workspace import WorkspacePlan


def one_line(text: object) -> str:
    """The first line of `text`, escaped and bounded for a terminal."""
    from shared.logs import escape

    # Redacted whole first: a URL's user info may hold a line break, cut there it is not seen.
    lines = redacted(str(text)).strip().splitlines()
    return escape(lines[0] if lines else "", limit=400)


_PROMOTION = {
    "endpoint": "batch endpoint",
    "default": "default deployment",
    "model": "model",
    "metric": "metric",
    "rollback": "rollback",
}


def _rows(plan: WorkspacePlan) -> tuple[list[list[object]], list[list[object]]]:
    writes = {"approve", "reject", "assign"}
    decisions: list[list[object]] = [
        [d.connection_name, d.verdict, "yes" if d.verdict in writes else "", d.reason]
        for d in plan.connections
    ]
    decisions += [
        [
            f"Contributor: {short(d.synapse_workspace_id)}",
            d.verdict,
            "yes" if d.verdict in writes else "",
            d.reason,
        ]
        for d in plan.role_assignments
    ]
    findings: list[list[object]] = [
        [
            f.rule_id,
            f.severity,
            f.status,
            short(f.target_id),
            "yes" if f.remediation else "",
            f.message,
        ]
        for f in plan.findings
    ]
    return decisions, findings


def _held_rows(plan: WorkspacePlan) -> list[list[object]]:
    """Guarded, deferred and exempt findings, and expired exemptions, each with its reason."""
    held: list[list[object]] = [
        [r.rule_id, short(r.target_id), r.disposition, r.reason] for r in plan.remediations
    ]
    held += [
        [
            f.rule_id,
            short(f.target_id),
            "exempt",
            f"until {f.exemption.until}: {f.exemption.reason}",
        ]
        for f in plan.findings
        if f.exemption
    ]
    held += [
        [e.rule_id, short(e.scope), "exemption expired", f"at {instant(e.expires)}: not applied"]
        for e in plan.expired_exemptions
    ]
    return held


def instant(value: object) -> str:
    """A date-time as ISO 8601 (what `POLICY_EXEMPTIONS` takes), anything else as text."""
    from datetime import datetime

    return value.isoformat() if isinstance(value, datetime) else str(value)


def short(resource_id: object) -> str:
    return str(resource_id).rsplit("/", 1)[-1]


def print_plan(console: Console, plan: WorkspacePlan) -> None:
    from tools.terminal import show, table

    name = short(plan.workspace_id)
    console.print()
    if plan.error:
        console.print(
            f"{name}: could not be read: {one_line(plan.error)}", markup=False, soft_wrap=True
        )
    decisions, findings = _rows(plan)
    show(
        console,
        table(
            f"{name}: connections and roles",
            ["connection / role", "decision", "writes", "reason"],
            decisions,
            wrap="reason",
        ),
    )
    show(
        console,
        table(
            f"{name}: policy findings",
            ["rule", "severity", "status", "resource", "remediable", "message"],
            findings,
            wrap="message",
        ),
    )
    if promotion := plan.promotion:
        # One row per field: a model's ARM ID alone is wider than a piped line.
        rows = [[label, promotion[key]] for key, label in _PROMOTION.items()]
        show(console, table(f"{name}: model promotion", ["", "as read"], rows, wrap="as read"))
    held = _held_rows(plan)
    if held:
        show(
            console,
            table(
                f"{name}: remediations",
                ["rule", "resource", "remediation", "reason"],
                held,
                wrap="reason",
            ),
        )


def plan_item(plan: WorkspacePlan) -> dict[str, Any]:
    """One workspace's plan as `plan --json` prints it (and a saved plan keeps, for people)."""
    item: dict[str, Any] = {
        "workspace": plan.workspace_id,
        "error": plan.error,
        "connections": [asdict(d) for d in plan.connections],
        "roleAssignments": [asdict(d) for d in plan.role_assignments],
        "findings": [asdict(f) for f in plan.findings],
        "remediations": [asdict(r) for r in plan.remediations],
        "expiredExemptions": [asdict(e) for e in plan.expired_exemptions],
    }
    if plan.promotion is not None:
        item["promotion"] = dict(plan.promotion)
    # Reasons and errors repeat Azure's answers: shown as the ledger keeps them, no credential.
    return dict(redacted_json(item))
