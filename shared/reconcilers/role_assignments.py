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
from shared.model import JudgedAnswerError, PrivateEndpointConnection
from shared.outcome import NO_CHANGE, Outcome, noted
from shared.planning.role_assignments import (
    RoleAssignmentDecision,
    RoleVerdict,
    assignment_description,
    plan_role_assignments,
)
from shared.reconcilers.private_endpoints import EvidenceGatherer, approval_rules
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
                evidence = self.evidence.gather(run.cache, run.trigger)
                existing = self.authorization.list_at_scope(workspace_id)
                rules, app = approval_rules(self.settings), self.authorization.app_identity()
                # The workspace's tenant: read only when an assignment is about to be planned.
                tenant = functools.cache(lambda: self.ml.workspace_tenant(workspace_id))
                planned = plan_role_assignments(
                    workspace_id, connections, evidence, existing, rules, tenant, app
                )
        except (AzureError, JudgedAnswerError) as error:  # the latter: an answer about another
            mode = self.settings.automation_mode.value
            text = run.not_reconciled(workspace_id, KIND, error, mode=mode)
            return RoleReport(workspace_id, error=text)
        outcomes = run.settle(workspace_id, [self._decision(d, run) for d in planned])
        return RoleReport(workspace_id, tuple(zip(planned, outcomes, strict=True)))

    def _decision(self, decision: RoleAssignmentDecision, run: Run) -> Decision:
        mode, verdict = self.settings.automation_mode.value, decision.verdict
        synapse_id, stale = decision.synapse_workspace_id, verdict is RoleVerdict.STALE
        # A stale one is announced, except by the sweep (which repeats).
        notify = verdict.writes or (stale and run.announces)
        fields = (decision.scope, KIND, verdict.value, synapse_id, decision.reason, mode)
        return Decision(
            run.row(*fields, decision.principal_id or "", notify=notify),
            functools.partial(self._write, decision) if verdict.writes else None,
            noted("reported: not deleted") if stale else NO_CHANGE,
            ledger=verdict is not RoleVerdict.ALREADY_ASSIGNED,
            message=f"Contributor for {synapse_id}: {decision.reason}",
        )

    def _write(self, decision: RoleAssignmentDecision) -> str:
        # The planner only emits ASSIGN with all three set; checked again at the write.
        name, role = decision.assignment_name, decision.role_definition_id
        principal = decision.principal_id
        if not (name and role and principal):
            raise RefusedTargetError("incomplete decision")
        description = assignment_description(decision.synapse_workspace_id)
        result = self.authorization.create(decision.scope, name, role, principal, description)
        return "created" if result == "created" else "already existed"
