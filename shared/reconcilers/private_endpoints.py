"""An AML workspace's private endpoint connections: one reconciler for events, the sweep and the
CLI, so a replayed event leads only to what the current state calls for. Its Synapse evidence (each
allow-listed workspace and its managed private endpoints) is read once a run, shared with roles."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace

from azure.core.exceptions import AzureError

from shared.adapters.aml import MachineLearningAdapter
from shared.adapters.errors import TransientAzureError, describe, is_transient
from shared.adapters.synapse import SynapseAdapter
from shared.arm import ArmId, name_of, same_arm_id
from shared.config import Settings
from shared.logs import decision_log
from shared.model import (
    ConnectionDecision,
    ConnectionStatus,
    PrivateEndpointConnection,
    SynapseEvidence,
    Verdict,
)
from shared.outcome import Outcome, Status
from shared.planning.private_endpoints import ApprovalRules, plan_connections
from shared.planning.synapse_facts import SynapseAnswerError, data_plane_mismatch
from shared.reconcilers.run import Decision, Run, tally

log = logging.getLogger(__name__)

KIND = "private-endpoint-connection"
_TARGET_STATUS = {
    Verdict.APPROVE: ConnectionStatus.APPROVED,
    Verdict.REJECT: ConnectionStatus.REJECTED,
}


@dataclass(frozen=True)
class ConnectionReport:
    workspace_id: ArmId
    outcomes: tuple[tuple[ConnectionDecision, Outcome], ...] = ()
    error: str | None = None
    connections: tuple[PrivateEndpointConnection, ...] = ()

    def current_connections(self) -> tuple[PrivateEndpointConnection, ...]:
        """The connections after this run (planned states in dry-run), for the next reconciler."""
        changed = {
            decision.connection_id.lower(): _TARGET_STATUS[decision.verdict]
            for decision, outcome in self.outcomes
            if decision.verdict.writes and outcome.written
        }
        return tuple(
            replace(c, status=changed.get(c.id.lower(), c.status)) for c in self.connections
        )

    def summary(self) -> str:
        if self.error is not None:
            return f"not reconciled: {self.error}"
        text = tally(decision.verdict.value for decision, _ in self.outcomes)
        failed = sum(1 for _, o in self.outcomes if o.status in (Status.FAILED, Status.RETRY))
        return (text or "no connections") + (f" ({failed} failed)" if failed else "")


@dataclass(frozen=True)
class EvidenceGatherer:
    synapse: SynapseAdapter
    allow_listed: tuple[ArmId, ...]

    def gather_one(self, synapse_id: ArmId, *, trigger: str = "") -> SynapseEvidence:
        """Permanent failures become incomplete evidence; transient ones are raised. Read afresh:
        this read decides, and its data plane must be the endpoint the app asks."""
        evidence = functools.partial(SynapseEvidence, synapse_id)
        try:
            workspace = self.synapse.get_workspace(synapse_id, fresh=True)
            if not workspace.managed_virtual_network:
                return evidence(workspace)
            asked = self.synapse.data_plane_endpoint(name_of(synapse_id))
            if (text := data_plane_mismatch(workspace, asked)) is None:
                endpoints = self.synapse.list_managed_private_endpoints(synapse_id)
                return evidence(workspace, tuple(endpoints))
        except SynapseAnswerError as error:
            text = str(error)
        except AzureError as error:
            if is_transient(error):
                # Not `permanent`: its text would call the Synapse workspace "workspace".
                text = f"Synapse workspace {synapse_id}: {describe(error)}"
                raise TransientAzureError(text) from error
            text = describe(error)
        # Every evidence not taken on one line on-call's query reads (escaped, no credential).
        decision_log(
            log,
            text,
            trigger=trigger,
            kind="synapse-evidence",
            verdict="incomplete",
            subject_id=synapse_id,
            level=logging.WARNING,
        )
        return evidence(error=text)

    def gather(self, cache: dict[str, SynapseEvidence], trigger: str) -> list[SynapseEvidence]:
        for synapse_id in self.allow_listed:
            if synapse_id.lower() not in cache:
                cache[synapse_id.lower()] = self.gather_one(synapse_id, trigger=trigger)
        return [cache[synapse_id.lower()] for synapse_id in self.allow_listed]


def approval_rules(settings: Settings) -> ApprovalRules:
    return ApprovalRules(settings.scope, settings.synapse_workspace_ids, settings.reject_unverified)


@dataclass(frozen=True)
class PrivateEndpointReconciler:
    settings: Settings
    ml: MachineLearningAdapter
    evidence: EvidenceGatherer

    def reconcile(
        self, workspace_id: ArmId, run: Run, *, focus: str | None = None
    ) -> ConnectionReport:
        """The Synapse evidence is read only when a connection is pending. `focus`: the event's."""
        connections: tuple[PrivateEndpointConnection, ...] | None = None
        error: AzureError | str = "workspace is not in scope: nothing read"
        try:
            if self.settings.in_scope(workspace_id):
                connections = tuple(self.ml.list_connections(workspace_id))
        except AzureError as failure:
            error = failure
        if connections is None:
            mode = self.settings.automation_mode.value
            text = run.not_reconciled(workspace_id, KIND, error, mode=mode)
            return ConnectionReport(workspace_id, error=text)
        pending = any(c.status is ConnectionStatus.PENDING for c in connections)
        rules, read_earlier = approval_rules(self.settings), bool(run.cache)
        evidence = self.evidence.gather(run.cache, run.trigger) if pending else []
        plan = plan_connections(workspace_id, connections, evidence, rules)
        # Evidence an earlier workspace of the run read predates these connections, and misses a
        # managed private endpoint made since (a sweep takes minutes): a reject is judged afresh.
        if read_earlier and any(d.verdict is Verdict.REJECT for d in plan.decisions):
            run.cache.clear()
            evidence = self.evidence.gather(run.cache, run.trigger)
            plan = plan_connections(workspace_id, connections, evidence, rules)
        outcomes = run.settle(workspace_id, [self._decision(d, run, focus) for d in plan.decisions])
        decided = tuple(zip(plan.decisions, outcomes, strict=True))
        return ConnectionReport(workspace_id, decided, connections=connections)

    def _decision(self, decision: ConnectionDecision, run: Run, focus: str | None) -> Decision:
        mode, verdict = self.settings.automation_mode.value, decision.verdict
        fields = (decision.workspace_id, KIND, verdict.value, decision.connection_id)
        # Left pending: announced only when its own write triggered this run.
        notify = verdict.writes or same_arm_id(decision.connection_id, focus)
        row = run.row(*fields, decision.reason, mode, decision.evidence or "", notify=notify)
        write = functools.partial(self._write, decision) if verdict.writes else None
        # No-op verdicts are logged, not recorded (a row per connection per event).
        recorded = verdict.writes or verdict is Verdict.LEAVE_PENDING
        return Decision(row, write, ledger=recorded, message=f"{decision.reason} [{mode}]")

    def _write(self, decision: ConnectionDecision) -> str:
        status = _TARGET_STATUS[decision.verdict]
        result = self.ml.set_connection_state(
            decision.workspace_id, decision.connection_name, status, decision.description
        )
        return f"now {result.status.value}"
