"""One AML workspace, every concern: connections, then role assignments, then policies; what
one concern observed flows to the next, so one event wires a workspace without reading twice."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from azure.core.exceptions import AzureError

from shared.arm import ArmId
from shared.model import ConnectionStatus
from shared.outcome import Outcome, Status
from shared.reconcilers.run import Change, Run

if TYPE_CHECKING:
    # Types only: the reconcilers themselves load with the runtime, on first use.
    from shared.model import PrivateEndpointConnection
    from shared.reconcilers.policies import PolicyReport
    from shared.reconcilers.private_endpoints import ConnectionReport
    from shared.reconcilers.role_assignments import RoleReport
    from shared.runtime import Runtime


class Concern(StrEnum):
    CONNECTIONS = "connections"
    ROLES = "roles"
    POLICIES = "policies"


@dataclass(frozen=True)
class WorkspaceReport:
    workspace_id: ArmId
    connections: ConnectionReport | None = None
    roles: RoleReport | None = None
    policies: PolicyReport | None = None

    def _concerns(self) -> list[tuple[str, ConnectionReport | RoleReport | PolicyReport]]:
        reports = {"connections": self.connections, "roles": self.roles, "policies": self.policies}
        return [(label, report) for label, report in reports.items() if report is not None]

    def summary(self) -> str:
        shown = "; ".join(f"{label}: {report.summary()}" for label, report in self._concerns())
        return f"{self.workspace_id.rsplit('/', 1)[-1]}: {shown}"

    def error(self) -> str | None:
        return next((r.error for _, r in self._concerns() if r.error is not None), None)

    def _outcomes(self) -> list[tuple[str, Outcome]]:
        return [(label, o) for label, report in self._concerns() for _, o in report.outcomes]

    def problems(self) -> list[tuple[str, str]]:
        errors = [(label, r.error) for label, r in self._concerns() if r.error is not None]
        return errors + [(label, str(o)) for label, o in self._outcomes() if o.failed]

    def settled(self) -> bool:
        """Nothing left for a later run: no problem, no write deferred or not attempted."""
        waiting = (Status.DEFERRED, Status.SKIPPED)
        return not self.problems() and all(o.status not in waiting for _, o in self._outcomes())


def start_run(
    runtime: Runtime,
    trigger: str,
    *,
    preview: bool = False,
    only: frozenset[Change] | None = None,
) -> Run:
    """One remediation budget (per run, and each workspace's hour) and one evidence cache for
    every workspace the run reconciles. `preview`: the CLI's `plan`: writes and records nothing."""
    from shared.policy.budget import RemediationBudget

    settings = runtime.settings
    per_run, per_hour = settings.max_remediations_per_run, settings.max_remediations_per_hour
    budget = RemediationBudget(per_run, per_hour=per_hour)
    # A preview reads no ledger and takes no slot: it counts only its own.
    sink, claims = (None, None) if preview else (runtime.sink, runtime.claims)
    return Run(trigger, settings.dry_run, budget, sink, preview=preview, claims=claims, only=only)


def reconcile_workspace(
    runtime: Runtime,
    workspace_id: ArmId,
    run: Run,
    *,
    concerns: frozenset[Concern] = frozenset(Concern),
    focus: str | None = None,
) -> WorkspaceReport:
    """An Approved connection also brings in role assignments. In a preview (the CLI's plan),
    later concerns see the connections as the plan would leave them."""
    connection_report: ConnectionReport | None = None
    connections: tuple[PrivateEndpointConnection, ...] | None = None
    if Concern.CONNECTIONS in concerns:
        connection_report = runtime.private_endpoints.reconcile(workspace_id, run, focus=focus)
        current = connection_report.current_connections()
        connections = current if connection_report.plan is not None else None
        # Whoever approved it: the role planner assigns only for a connection an allow-listed
        # workspace provably owns.
        if any(c.status is ConnectionStatus.APPROVED for c in current):
            concerns = concerns | {Concern.ROLES}
    elif {Concern.ROLES, Concern.POLICIES} <= concerns:
        # Read once for both; a failure is left to each reconciler, which reads again.
        with contextlib.suppress(AzureError):
            connections = tuple(runtime.machine_learning.list_connections(workspace_id))
    role_report: RoleReport | None = None
    policy_report: PolicyReport | None = None
    if Concern.ROLES in concerns:
        role_report = runtime.role_assignments.reconcile(workspace_id, run, connections=connections)
    if Concern.POLICIES in concerns:
        policy_report = runtime.policies.reconcile(workspace_id, run, connections=connections)
    return WorkspaceReport(workspace_id, connection_report, role_report, policy_report)
