"""Reconciling the Synapse identities' Contributor assignments on one AML workspace."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from azure.core.exceptions import AzureError

from shared.adapters.aml import MachineLearningAdapter
from shared.adapters.answers import RefusedTargetError
from shared.adapters.authorization import AuthorizationAdapter
from shared.arm import ArmId
from shared.config import Settings
from shared.model import PrivateEndpointConnection
from shared.outcome import NO_CHANGE, Outcome, noted
from shared.planning.role_assignments import (
    RoleAssignmentDecision,
    RoleVerdict,
    assignment_description,
    plan_role_assignments,
)
from shared.reconcilers.evidence import EvidenceGatherer
from shared.reconcilers.private_endpoints import approval_rules
from shared.reconcilers.run import Decision, Run, tally

KIND = "role-assignment"


@dataclass(frozen=True)
class RoleReport:
    workspace_id: ArmId
    outcomes: tuple[tuple[RoleAssignmentDecision, Outcome], ...] = ()
    error: str | None = None

    def summary(self) -> str:
        if self.error is not None:
            return f"roles not reconciled: {self.error}"
        return tally(decision.verdict.value for decision, _ in self.outcomes) or "none"


class RoleAssignmentReconciler:
    """Ensures each verified Synapse identity holds Contributor on the workspace, exactly once."""

    def __init__(
        self,
        settings: Settings,
        machine_learning: MachineLearningAdapter,
        authorization: AuthorizationAdapter,
        evidence: EvidenceGatherer,
    ) -> None:
        self._settings = settings
        self._ml = machine_learning
        self._authorization = authorization
        self._evidence = evidence
        self._rules = approval_rules(settings)

    def reconcile(
        self,
        workspace_id: ArmId,
        run: Run,
        *,
        connections: Sequence[PrivateEndpointConnection] | None = None,
    ) -> RoleReport:
        planned: tuple[RoleAssignmentDecision, ...] = ()
        try:
            if self._settings.in_scope(workspace_id):
                if connections is None:
                    connections = self._ml.list_connections(workspace_id)
                evidence = self._evidence.gather(run.cache)
                existing = self._authorization.list_at_scope(workspace_id)
                # The workspace's tenant: read only when an assignment is about to be planned.
                tenant = functools.cache(lambda: self._ml.workspace_tenant(workspace_id))
                app = self._authorization.app_identity()
                args = (workspace_id, connections, evidence, existing, self._rules)
                planned = plan_role_assignments(*args, workspace_tenant=tenant, app=app)
        except AzureError as error:
            mode = self._settings.automation_mode.value
            text = run.not_reconciled(workspace_id, KIND, error, mode=mode)
            return RoleReport(workspace_id, error=text)
        outcomes = run.settle(workspace_id, self.decisions(planned, run))
        return RoleReport(workspace_id, tuple(zip(planned, outcomes, strict=True)))

    def decisions(self, decisions: Sequence[RoleAssignmentDecision], run: Run) -> list[Decision]:
        return [
            Decision(
                run.row(
                    target_id=decision.scope,
                    kind=KIND,
                    verdict=decision.verdict.value,
                    subject=decision.synapse_workspace_id,
                    reason=decision.reason,
                    mode=self._settings.automation_mode.value,
                    evidence=decision.principal_id or "",
                    # A stale one is announced, except by the sweep (which repeats).
                    notify=decision.verdict is RoleVerdict.ASSIGN
                    or (decision.verdict is RoleVerdict.STALE and run.announces),
                ),
                write=functools.partial(self._write, decision) if decision.verdict.writes else None,
                outcome=noted("reported: not deleted")
                if decision.verdict is RoleVerdict.STALE
                else NO_CHANGE,
                ledger=decision.verdict is not RoleVerdict.ALREADY_ASSIGNED,
                message=f"Contributor for {decision.synapse_workspace_id}: {decision.reason}",
            )
            for decision in decisions
        ]

    def _write(self, decision: RoleAssignmentDecision) -> str:
        # The planner only emits ASSIGN with all three set; checked again at the write.
        name, role, principal = (
            decision.assignment_name,
            decision.role_definition_id,
            decision.principal_id,
        )
        if not (name and role and principal):
            raise RefusedTargetError("incomplete decision")
        description = assignment_description(decision.synapse_workspace_id)
        result = self._authorization.create(decision.scope, name, role, principal, description)
        return "created" if result == "created" else "already existed"
