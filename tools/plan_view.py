"""What `plan` shows: each workspace's decisions, findings, remediations and promotion, as
tables for people and as the objects `plan --json` prints (and a saved plan keeps)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from shared.reconcilers.workspace import WorkspaceReport


def one_line(text: object) -> str:
    """The first line of `text`, escaped and bounded for a terminal."""
    from shared.logs import escape

    lines = str(text).strip().splitlines()
    return escape(lines[0] if lines else "", limit=400)


def _rows(item: dict[str, Any]) -> tuple[list[list[object]], list[list[object]]]:
    writes = {"approve", "reject", "assign"}
    decisions: list[list[object]] = [
        [d["connection_name"], d["verdict"], "yes" if d["verdict"] in writes else "", d["reason"]]
        for d in item["connections"]
    ]
    decisions += [
        [
            f"Contributor: {short(d['synapse_workspace_id'])}",
            d["verdict"],
            "yes" if d["verdict"] in writes else "",
            d["reason"],
        ]
        for d in item["roleAssignments"]
    ]
    findings: list[list[object]] = [
        [
            f["rule_id"],
            f["severity"],
            f["status"],
            short(f["target_id"]),
            "yes" if f["remediation"] else "",
            f["message"],
        ]
        for f in item["findings"]
    ]
    return decisions, findings


def _held_rows(item: dict[str, Any]) -> list[list[object]]:
    """Guarded, deferred and exempt findings, and expired exemptions, each with its reason."""
    held: list[list[object]] = [
        [r["rule_id"], short(r["target_id"]), r["disposition"], r["reason"]]
        for r in item.get("remediations", [])
    ]
    held += [
        [
            f["rule_id"],
            short(f["target_id"]),
            "exempt",
            f"until {instant(f['exemption']['expires'])}: {f['exemption']['reason']}",
        ]
        for f in item["findings"]
        if f.get("exemption")
    ]
    held += [
        [
            e["rule_id"],
            short(e["scope"]),
            "exemption expired",
            f"at {instant(e['expires'])}: not applied",
        ]
        for e in item.get("expiredExemptions", [])
    ]
    return held


def instant(value: object) -> str:
    """A date-time as ISO 8601 (what `POLICY_EXEMPTIONS` takes), anything else as text."""
    from datetime import datetime

    return value.isoformat() if isinstance(value, datetime) else str(value)


def short(resource_id: object) -> str:
    return str(resource_id).rsplit("/", 1)[-1]


def print_plan(console: Console, item: dict[str, Any]) -> None:
    from tools.terminal import show, table

    name = short(item["workspace"])
    console.print()
    if item["error"]:
        console.print(
            f"{name}: could not be read: {one_line(item['error'])}", markup=False, soft_wrap=True
        )
    decisions, findings = _rows(item)
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
    if item.get("promotion"):
        promotion = item["promotion"]
        show(
            console,
            table(
                f"{name}: model promotion",
                ["batch endpoint", "default deployment", "model", "metric", "rollback"],
                [[promotion[k] for k in ("endpoint", "default", "model", "metric", "rollback")]],
                wrap="rollback",
            ),
        )
    held = _held_rows(item)
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


def plan_item(report: WorkspaceReport) -> dict[str, Any]:
    """One workspace's plan as `plan --json` prints it."""
    from shared.reconcilers.policies import disposition as disposition_of

    connections, roles, policies = report.connections, report.roles, report.policies
    remediations = []
    for candidate, outcome in policies.outcomes if policies else ():
        disposition, reason = disposition_of(candidate, outcome)
        remediations.append(
            {
                "rule_id": candidate.rule_id,
                "target_id": candidate.remediation.target_id,
                "description": candidate.remediation.description,
                "disposition": disposition,
                "reason": reason,
            }
        )
    return {
        "workspace": report.workspace_id,
        "error": report.error(),
        "connections": [
            asdict(d)
            for d in (connections.plan.decisions if connections and connections.plan else ())
        ],
        "roleAssignments": [asdict(d) for d, _ in (roles.outcomes if roles else ())],
        "findings": [asdict(f) for f in (policies.findings if policies else ())],
        "remediations": remediations,
        "expiredExemptions": [asdict(e) for e in (policies.expired_exemptions if policies else ())],
    }


def promotion(rt: Any, workspace_id: str) -> dict[str, str]:
    """The retraining workspace's batch endpoint as promotion left it: its default deployment,
    the model behind it and its metric, and how to switch back. Read-only. The deployment to
    switch back to is the one the model was promoted over (the app registers it with the model):
    advice to an operator, never a decision of the app's."""
    from shared.adapters.promotion import PromotionAdapter
    from shared.arm import ArmId
    from shared.planning.promotion import rollback
    from shared.reconcilers.promotion import default_of, model_of

    config = rt.settings.retraining
    if config.promotion is None or config.batch_endpoint_name is None:
        return {}
    adapter = PromotionAdapter(rt.clients)
    name = config.batch_endpoint_name
    endpoint_id = ArmId(f"{workspace_id}/batchEndpoints/{name}")
    default = default_of(adapter.endpoint(endpoint_id))
    asset = model_of(adapter.deployment(endpoint_id, default)) if default else None
    model = adapter.model(ArmId(workspace_id), asset) if asset else None
    values = (model or {}).get("properties") or {}
    previous = values.get("previous-deployment")
    metric = config.promotion.metric
    return {
        "endpoint": name,
        "default": default or "",
        "model": asset or "",
        "metric": f"{metric}={values.get(metric, 'not recorded')}",
        "rollback": rollback(name, previous if isinstance(previous, str) else None),
    }
