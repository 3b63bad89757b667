"""One AML workspace, every concern: connections, then role assignments, then policies; what
one concern observed flows to the next, so one event wires a workspace without reading twice.
Its plan is the same reconciliation previewed (`plan_workspace`)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from azure.core.exceptions import AzureError

from shared.adapters.errors import permanent
from shared.arm import ArmId
from shared.ledger import ActionRecord
from shared.model import ConnectionStatus, JudgedAnswerError
from shared.outcome import Outcome, Status
from shared.reconcilers.run import Change, Run, change

if TYPE_CHECKING:
    # Types only: the reconcilers themselves load with the runtime, on first use.
    from shared.model import ConnectionDecision, PrivateEndpointConnection
    from shared.planning.role_assignments import RoleAssignmentDecision
    from shared.policy.exemptions import Exemption
    from shared.policy.rules import Finding
    from shared.reconcilers.policies import PlannedRemediation, PolicyReport
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
        return [(c.value, report) for c in Concern if (report := getattr(self, c)) is not None]

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
    runtime: Runtime, trigger: str, *, preview: bool = False, only: frozenset[Change] | None = None
) -> Run:
    """One remediation budget (per run, and each workspace's hour) and one evidence cache for
    every workspace the run reconciles. `preview`: the CLI's `plan`: writes and records nothing."""
    from shared.policy.budget import RemediationBudget

    settings = runtime.settings
    per_run, per_hour = settings.max_remediations_per_run, settings.max_remediations_per_hour
    budget = RemediationBudget(per_run, per_hour=per_hour)
    # A preview reads no ledger and takes no slot: it counts only its own; so does a dry run,
    # whose planned writes are never made (a slot of the hour is for a write Azure saw).
    sink = None if preview else runtime.sink
    claims = None if preview or settings.dry_run else runtime.claims
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
        connections = current if connection_report.error is None else None
        # Whoever approved it: roles go only to an allow-listed workspace that provably owns it.
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


@dataclass(frozen=True)
class WorkspacePlan:
    """What reconciling the workspace now would do. `changes`: the writes it calls for, each the
    ledger row a dry-run records (its `change()` is what `apply FILE` may write); the rest: what
    they were decided on, as `plan` shows it. `promotion`: a retraining workspace's batch endpoint
    (empty without promotion settings), None for any other or when unread (`error` says why)."""

    workspace_id: ArmId
    changes: tuple[ActionRecord, ...] = ()
    error: str | None = None
    connections: tuple[ConnectionDecision, ...] = ()
    role_assignments: tuple[RoleAssignmentDecision, ...] = ()
    findings: tuple[Finding, ...] = ()
    remediations: tuple[PlannedRemediation, ...] = ()
    expired_exemptions: tuple[Exemption, ...] = ()
    promotion: Mapping[str, str] | None = None
    gone: bool = False  # deleted: its reads answered 404

    @property
    def keys(self) -> frozenset[Change]:
        return frozenset(change(record) for record in self.changes)


def plan_workspace(runtime: Runtime, workspace_id: ArmId, run: Run | None = None) -> WorkspacePlan:
    """The workspace reconciled by a preview run (nothing written or recorded; `run`: one shared by
    several workspaces, one remediation budget, as a sweep's); Azure's errors that stop it raise."""
    from shared.reconcilers.policies import planned

    run = run or start_run(runtime, "plan", preview=True)
    assert run.preview, "a plan is made by a preview run"
    start = len(run.changes)
    report = reconcile_workspace(runtime, workspace_id, run)
    connections, roles, policies = report.connections, report.roles, report.policies
    promotion, unread = _promotion(runtime, workspace_id)
    return WorkspacePlan(
        workspace_id,
        changes=tuple(r for r, o in run.changes[start:] if o.status is Status.PLANNED),
        error=report.error() or unread,
        gone=run.found_gone(workspace_id),
        connections=tuple(d for d, _ in connections.outcomes) if connections else (),
        role_assignments=tuple(d for d, _ in roles.outcomes) if roles else (),
        findings=policies.findings if policies else (),
        remediations=tuple(planned(c, o) for c, o in policies.outcomes) if policies else (),
        expired_exemptions=policies.expired_exemptions if policies else (),
        promotion=promotion,
    )


def _promotion(runtime: Runtime, workspace_id: ArmId) -> tuple[dict[str, str] | None, str | None]:
    """The retraining workspace's batch endpoint as promotion left it, read-only; or None and why
    unread (a transient error raises). No rollback: that is the ledger's, which a plan does not read
    (the model's `previous-deployment` is any workspace user's to write)."""
    if (config := runtime.settings.retraining) is None or not config.retrains(workspace_id):
        return None, None
    if config.promotion is None or config.batch_endpoint_name is None:
        return {}, None
    name = config.batch_endpoint_name
    endpoint_id = ArmId(f"{workspace_id}/batchEndpoints/{name}")
    try:
        default, asset, model = runtime.promotion_adapter.serving(workspace_id, endpoint_id)
    except (AzureError, JudgedAnswerError) as error:  # the latter: an answer about another
        return None, f"promotion: {permanent(workspace_id, error)}"
    metric = config.promotion.metric
    return {
        "endpoint": name,
        "default": default or "",
        "model": asset or "",
        "metric": f"{metric}={(model.get('properties') or {}).get(metric, 'not recorded')}",
        "rollback": "in the ledger: the model's promote row, evidence `rollback` (plan reads none)",
    }, None
