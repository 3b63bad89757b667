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


@dataclass(frozen=True)
class RoleAssignmentReconciler:
    """Ensures each verified Synapse identity holds Contributor on the workspace, exactly once."""

    settings: Settings
    ml: MachineLearningAdapter
    authorization: AuthorizationAdapter
    evidence: EvidenceGatherer

    def reconcile(
        self,
        workspace_id: ArmId,
        run: Run,
        *,
        connections: Sequence[PrivateEndpointConnection] | None = None,
    ) -> RoleReport:
        planned: tuple[RoleAssignmentDecision, ...] = ()
        try:
            if self.settings.in_scope(workspace_id):
                if connections is None:
                    connections = self.ml.list_connections(workspace_id)
                evidence = self.evidence.gather(run.cache)
                existing = self.authorization.list_at_scope(workspace_id)
                rules, app = approval_rules(self.settings), self.authorization.app_identity()
                # The workspace's tenant: read only when an assignment is about to be planned.
                tenant = functools.cache(lambda: self.ml.workspace_tenant(workspace_id))
                planned = plan_role_assignments(
                    workspace_id, connections, evidence, existing, rules, tenant, app
                )
        except AzureError as error:
            mode = self.settings.automation_mode.value
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
                    mode=self.settings.automation_mode.value,
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
        result = self.authorization.create(decision.scope, name, role, principal, description)
        return "created" if result == "created" else "already existed"
