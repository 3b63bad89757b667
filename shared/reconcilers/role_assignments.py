"""Reconciling the Synapse identities' Contributor assignments on one AML workspace."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from azure.core.exceptions import AzureError

from shared.adapters.aml import MachineLearningAdapter
from shared.adapters.authorization import AuthorizationAdapter
from shared.adapters.errors import describe, is_transient
from shared.arm import ArmId
from shared.config import Settings
from shared.ledger import ActionRecord, ActionSink
from shared.logs import decision_log
from shared.model import PrivateEndpointConnection
from shared.planning.role_assignments import (
    RoleAssignmentDecision,
    RoleVerdict,
    plan_role_assignments,
)
from shared.reconcilers.evidence import EvidenceCache, EvidenceGatherer
from shared.reconcilers.private_endpoints import approval_rules
from shared.reconcilers.transient import apply_in_order, for_workspace

log = logging.getLogger(__name__)

KIND = "role-assignment"


@dataclass(frozen=True)
class RoleOutcome:
    decision: RoleAssignmentDecision
    outcome: str


@dataclass(frozen=True)
class RoleReport:
    """The result of reconciling one workspace's role assignments."""

    workspace_id: ArmId
    outcomes: tuple[RoleOutcome, ...] = ()
    error: str | None = None

    def summary(self) -> str:
        if self.error is not None:
            return f"roles not reconciled: {self.error}"
        counts = Counter(item.decision.verdict.value for item in self.outcomes)
        return ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items())) or "none"


class RoleAssignmentReconciler:
    """Ensures each verified Synapse identity holds Contributor on the workspace, exactly once."""

    def __init__(
        self,
        settings: Settings,
        machine_learning: MachineLearningAdapter,
        authorization: AuthorizationAdapter,
        evidence: EvidenceGatherer,
        sink: ActionSink | None,
    ) -> None:
        self._settings = settings
        self._ml = machine_learning
        self._authorization = authorization
        self._evidence = evidence
        self._sink = sink
        self._rules = approval_rules(settings)

    def plan(
        self,
        workspace_id: ArmId,
        *,
        cache: EvidenceCache,
        connections: Sequence[PrivateEndpointConnection] | None = None,
    ) -> tuple[RoleAssignmentDecision, ...]:
        """Read what is needed (connections unless given, evidence, existing assignments)."""
        if not self._settings.in_scope(workspace_id):
            return ()
        if connections is None:
            connections = self._ml.list_connections(workspace_id)
        evidence = self._evidence.gather(cache)
        existing = self._authorization.list_at_scope(workspace_id)
        return plan_role_assignments(workspace_id, connections, evidence, existing, self._rules)

    def _apply(self, decision: RoleAssignmentDecision) -> str:
        if not decision.verdict.writes:
            return "no change"
        if self._settings.dry_run:
            return "planned (dry-run)"
        # The planner only emits ASSIGN with all three set; checked again at the write.
        if not (decision.assignment_name and decision.role_definition_id and decision.principal_id):
            return "failed: incomplete decision"
        try:
            result = self._authorization.create(
                decision.scope,
                decision.assignment_name,
                decision.role_definition_id,
                decision.principal_id,
            )
        except AzureError as error:
            if is_transient(error):
                raise
            # Logged with its trigger when the outcome is recorded.
            return f"failed: {describe(error)}"
        return "applied: created" if result == "created" else "applied: already existed"

    def reconcile(
        self,
        workspace_id: ArmId,
        *,
        trigger: str,
        cache: EvidenceCache | None = None,
        connections: Sequence[PrivateEndpointConnection] | None = None,
    ) -> RoleReport:
        """Plan, apply (unless dry-run) and record; transient failures raised after recording."""
        try:
            decisions = self.plan(
                workspace_id,
                cache=cache if cache is not None else EvidenceCache(trigger=trigger),
                connections=connections,
            )
        except AzureError as error:
            if is_transient(error):
                raise for_workspace(workspace_id, error) from error
            self._record(workspace_id, [], trigger, error=describe(error))
            return RoleReport(workspace_id, error=describe(error))
        applied, transient = apply_in_order(decisions, self._apply)
        outcomes = [RoleOutcome(decision, outcome) for decision, outcome in applied]
        self._record(workspace_id, outcomes, trigger, error=None)
        if transient is not None:
            raise for_workspace(workspace_id, transient) from transient
        return RoleReport(workspace_id, tuple(outcomes))

    def _record(
        self,
        workspace_id: ArmId,
        outcomes: Sequence[RoleOutcome],
        trigger: str,
        *,
        error: str | None,
    ) -> None:
        mode = self._settings.automation_mode.value
        records = [
            ActionRecord(
                target_id=workspace_id,
                kind=KIND,
                verdict=item.decision.verdict.value,
                subject=item.decision.synapse_workspace_id,
                reason=item.decision.reason,
                mode=mode,
                outcome=item.outcome,
                trigger=trigger,
                evidence=item.decision.principal_id or "",
                notify=item.decision.verdict is RoleVerdict.ASSIGN,
            )
            for item in outcomes
            if item.decision.verdict is not RoleVerdict.ALREADY_ASSIGNED
        ]
        if error is not None:
            records.append(
                ActionRecord(
                    target_id=workspace_id,
                    kind=KIND,
                    verdict="not-reconciled",
                    subject=workspace_id,
                    reason=error,
                    mode=mode,
                    outcome="not reconciled",
                    trigger=trigger,
                )
            )
        for item in outcomes:
            decision_log(
                log,
                f"Contributor for {item.decision.synapse_workspace_id}: {item.decision.reason}",
                trigger=trigger,
                workspace_id=workspace_id,
                kind=KIND,
                verdict=item.decision.verdict.value,
                outcome=item.outcome,
                subject_id=item.decision.synapse_workspace_id,
                level=logging.ERROR if item.outcome.startswith("failed") else logging.INFO,
            )
        if error is not None:
            decision_log(
                log,
                error,
                trigger=trigger,
                workspace_id=workspace_id,
                kind=KIND,
                verdict="not-reconciled",
                level=logging.WARNING,
            )
        if records and self._sink is not None:
            self._sink.record_actions(records)
