"""One AML workspace, every concern: connections, then role assignments, then policies.

Observations flow from one concern to the next within a run (the connections as just approved,
the Synapse evidence), so a single event wires a Synapse workspace completely without reading
anything twice.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from azure.core.exceptions import AzureError

from shared.arm import ArmId
from shared.reconcilers.evidence import EvidenceCache

if TYPE_CHECKING:
    # Types only: the reconcilers themselves load with the runtime, on first use.
    from shared.model import PrivateEndpointConnection
    from shared.policy.budget import RemediationBudget
    from shared.reconcilers.policies import PolicyReport
    from shared.reconcilers.private_endpoints import ConnectionReport
    from shared.reconcilers.role_assignments import RoleReport
    from shared.runtime import Reconcilers


class Concern(StrEnum):
    CONNECTIONS = "connections"
    ROLES = "roles"
    POLICIES = "policies"


ALL_CONCERNS = frozenset(Concern)


@dataclass(frozen=True)
class WorkspaceReport:
    """What one run did to one workspace, per concern (None: not run)."""

    workspace_id: ArmId
    connections: ConnectionReport | None = None
    roles: RoleReport | None = None
    policies: PolicyReport | None = None

    def summary(self) -> str:
        name = self.workspace_id.rsplit("/", 1)[-1]
        parts = [
            f"{label}: {report.summary()}"
            for label, report in (
                ("connections", self.connections),
                ("roles", self.roles),
                ("policies", self.policies),
            )
            if report is not None
        ]
        return f"{name}: " + "; ".join(parts)


def reconcile_workspace(
    runtime: Reconcilers,
    workspace_id: ArmId,
    *,
    trigger: str,
    concerns: frozenset[Concern] = ALL_CONCERNS,
    cache: EvidenceCache | None = None,
    focus: str | None = None,
    budget: RemediationBudget | None = None,
) -> WorkspaceReport:
    """Reconcile the given concerns; an approval also brings in role assignments. `focus` is
    the resource the triggering event was about (see `PrivateEndpointReconciler.reconcile`).
    `budget` is the run's remediation budget; None makes this call a run of its own."""
    cache = cache if cache is not None else EvidenceCache()
    connection_report: ConnectionReport | None = None
    connections: tuple[PrivateEndpointConnection, ...] | None = None
    if Concern.CONNECTIONS in concerns:
        connection_report = runtime.private_endpoints.reconcile(
            workspace_id, trigger=trigger, cache=cache, focus=focus
        )
        if connection_report.plan is not None:
            connections = connection_report.current_connections()
        if connection_report.approved_any:
            concerns = concerns | {Concern.ROLES}
    elif {Concern.ROLES, Concern.POLICIES} <= concerns:
        # Both read the connections: read them once. A failure here is left to each
        # reconciler, which reads again and classifies and records it.
        with contextlib.suppress(AzureError):
            connections = tuple(runtime.machine_learning.list_connections(workspace_id))
    role_report = (
        runtime.role_assignments.reconcile(
            workspace_id, trigger=trigger, cache=cache, connections=connections
        )
        if Concern.ROLES in concerns
        else None
    )
    policy_report = (
        runtime.policies.reconcile(
            workspace_id, trigger=trigger, connections=connections, budget=budget
        )
        if Concern.POLICIES in concerns
        else None
    )
    return WorkspaceReport(workspace_id, connection_report, role_report, policy_report)
