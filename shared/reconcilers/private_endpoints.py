"""Reconciling an AML workspace's private endpoint connections: observe, plan, apply, record.

The same reconciler serves the Event Grid handler, the timer sweep and the operator CLI, so a
duplicate, late or replayed event can only ever lead to the plan the current state calls for.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from azure.core.exceptions import AzureError

from shared.adapters.aml import MachineLearningAdapter
from shared.adapters.answers import RefusedTargetError, UnexpectedAnswerError
from shared.adapters.errors import describe, is_transient
from shared.arm import ArmId, same_arm_id
from shared.config import Settings
from shared.ledger import ActionRecord, ActionSink
from shared.logs import decision_log
from shared.model import (
    ConnectionDecision,
    ConnectionPlan,
    ConnectionStatus,
    PrivateEndpointConnection,
    Verdict,
)
from shared.planning.private_endpoints import ApprovalRules, plan_connections
from shared.reconcilers.evidence import EvidenceCache, EvidenceGatherer
from shared.reconcilers.intent import NOT_APPLIED, record_intent
from shared.reconcilers.transient import apply_in_order, for_workspace

log = logging.getLogger(__name__)

_TARGET_STATUS = {
    Verdict.APPROVE: ConnectionStatus.APPROVED,
    Verdict.REJECT: ConnectionStatus.REJECTED,
}


_RECORDED = frozenset({Verdict.APPROVE, Verdict.REJECT, Verdict.LEAVE_PENDING})


@dataclass(frozen=True)
class Outcome:
    """What happened to one decision."""

    decision: ConnectionDecision
    outcome: str


@dataclass(frozen=True)
class ConnectionReport:
    """The result of reconciling one workspace's connections."""

    workspace_id: ArmId
    plan: ConnectionPlan | None
    outcomes: tuple[Outcome, ...] = ()
    error: str | None = None
    connections: tuple[PrivateEndpointConnection, ...] = ()

    def any_approved(self) -> bool:
        """Whether any connection is Approved after this run, whoever approved it."""
        return any(c.status is ConnectionStatus.APPROVED for c in self.current_connections())

    def current_connections_if_planned(self) -> tuple[PrivateEndpointConnection, ...]:
        """The connections as they would be if the plan were applied (for `plan`)."""
        planned = tuple(Outcome(d, "planned") for d in (self.plan.decisions if self.plan else ()))
        return replace(self, outcomes=planned).current_connections()

    def current_connections(self) -> tuple[PrivateEndpointConnection, ...]:
        """The connections as they are after this run (planned states in dry-run), so the next
        reconciler in the same run need not read them again."""
        changed = {
            item.decision.connection_id.lower(): _TARGET_STATUS[item.decision.verdict]
            for item in self.outcomes
            if item.decision.verdict.writes and item.outcome.startswith(("applied", "planned"))
        }
        return tuple(
            replace(c, status=changed.get(c.id.lower(), c.status)) for c in self.connections
        )

    def summary(self) -> str:
        """One line for logs and the event ledger: '2 approve, 1 leave-pending'."""
        if self.error is not None:
            return f"not reconciled: {self.error}"
        counts = Counter(item.decision.verdict.value for item in self.outcomes)
        failed = sum(1 for item in self.outcomes if item.outcome.startswith("failed"))
        text = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
        return (text or "no connections") + (f" ({failed} failed)" if failed else "")


def approval_rules(settings: Settings) -> ApprovalRules:
    return ApprovalRules(
        scope=settings.scope,
        synapse_workspace_ids=settings.synapse_workspace_ids,
        reject_unverified=settings.reject_unverified,
    )


class PrivateEndpointReconciler:
    """Brings one AML workspace's private endpoint connections to the state the rules ask for."""

    def __init__(
        self,
        settings: Settings,
        machine_learning: MachineLearningAdapter,
        evidence: EvidenceGatherer,
        sink: ActionSink | None,
    ) -> None:
        self._settings = settings
        self._ml = machine_learning
        self._evidence = evidence
        self._sink = sink
        self._rules = approval_rules(settings)

    # -- observe ---------------------------------------------------------------------------

    def observe_and_plan(
        self, workspace_id: ArmId, cache: EvidenceCache | None = None
    ) -> ConnectionReport:
        """Read the workspace's connections and, when any is pending, the Synapse evidence; plan.

        Writes nothing anywhere: this is what `plan` in the CLI shows.
        """
        if not self._settings.in_scope(workspace_id):
            # Never even read outside the scope: the planner would refuse anyway.
            return ConnectionReport(
                workspace_id, None, error="workspace is not in scope: nothing read"
            )
        try:
            connections = tuple(self._ml.list_connections(workspace_id))
        except AzureError as error:
            if is_transient(error):
                raise for_workspace(workspace_id, error) from error
            return ConnectionReport(workspace_id, None, error=describe(error))
        pending = any(c.status is ConnectionStatus.PENDING for c in connections)
        evidence = (
            self._evidence.gather(cache if cache is not None else EvidenceCache())
            if pending
            else []
        )
        plan = plan_connections(workspace_id, connections, evidence, self._rules)
        return ConnectionReport(workspace_id, plan, connections=connections)

    # -- apply and record ------------------------------------------------------------------

    def _apply(self, decision: ConnectionDecision, trigger: str) -> str:
        if not decision.verdict.writes:
            return "no change"
        if self._settings.dry_run:
            return "planned (dry-run)"
        record_intent(self._sink, self._action(decision, "", trigger))
        try:
            result = self._ml.set_connection_state(
                decision.workspace_id,
                decision.connection_name,
                _TARGET_STATUS[decision.verdict],
                decision.description,
            )
        except (UnexpectedAnswerError, RefusedTargetError) as error:
            log.error("%s of %s not applied: %s", decision.verdict, decision.connection_id, error)
            return f"{NOT_APPLIED}: {error}"
        except AzureError as error:
            if is_transient(error):
                raise
            # Logged with its trigger when the outcome is recorded.
            return f"failed: {describe(error)}"
        return f"applied: now {result.status.value}"

    def _action(
        self, decision: ConnectionDecision, outcome: str, trigger: str, *, focus: str | None = None
    ) -> ActionRecord:
        return ActionRecord(
            target_id=decision.workspace_id,
            kind="private-endpoint-connection",
            verdict=decision.verdict.value,
            subject=decision.connection_id,
            reason=decision.reason,
            mode=self._settings.automation_mode.value,
            outcome=outcome,
            trigger=trigger,
            evidence=decision.evidence or "",
            # Approvals and rejections change Azure and are always announced; a connection
            # left pending only when its own write triggered this run.
            notify=decision.verdict.writes or same_arm_id(decision.connection_id, focus),
        )

    def reconcile(
        self,
        workspace_id: ArmId,
        *,
        trigger: str,
        cache: EvidenceCache | None = None,
        focus: str | None = None,
    ) -> ConnectionReport:
        """Observe, plan, apply (unless dry-run) and record every decision in the ledger.

        `focus` is the connection the triggering event was about: a connection left pending is
        announced to people when it is the one just written, not again on every later event.

        Permanent failures (403, 404, validation) are recorded and returned; transient ones are
        recorded and raised as `TransientAzureError` so the trigger runs again later.
        """
        report = self.observe_and_plan(workspace_id, cache)
        if report.plan is None:
            self._record(workspace_id, [], trigger, error=report.error)
            return report
        applied, transient = apply_in_order(
            report.plan.decisions, lambda decision: self._apply(decision, trigger)
        )
        outcomes = [Outcome(decision, outcome) for decision, outcome in applied]
        self._record(workspace_id, outcomes, trigger, error=report.error, focus=focus)
        if transient is not None:
            raise for_workspace(workspace_id, transient) from transient
        return ConnectionReport(
            workspace_id, report.plan, tuple(outcomes), report.error, report.connections
        )

    def _record(
        self,
        workspace_id: ArmId,
        outcomes: Sequence[Outcome],
        trigger: str,
        *,
        error: str | None,
        focus: str | None = None,
    ) -> None:
        mode = self._settings.automation_mode.value
        # No-op verdicts (already approved, not pending) would add a row per connection per
        # event and say nothing: they are logged, not recorded.
        recorded = [item for item in outcomes if item.decision.verdict in _RECORDED]
        records = [
            self._action(item.decision, item.outcome, trigger, focus=focus) for item in recorded
        ]
        if error is not None:
            records.append(
                ActionRecord(
                    target_id=workspace_id,
                    kind="private-endpoint-connection",
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
                f"{item.decision.reason} [{mode}]",
                trigger=trigger,
                workspace_id=workspace_id,
                kind="private-endpoint-connection",
                verdict=item.decision.verdict.value,
                outcome=item.outcome,
                subject_id=item.decision.connection_id,
                level=logging.ERROR if item.outcome.startswith("failed") else logging.INFO,
            )
        if error is not None:
            decision_log(
                log,
                error,
                trigger=trigger,
                workspace_id=workspace_id,
                kind="private-endpoint-connection",
                verdict="not-reconciled",
                level=logging.WARNING,
            )
        if records and self._sink is not None:
            self._sink.record_actions(records)
