"""Enforcing the policy set on one AML workspace: observe facts, evaluate rules, remediate
(only in `remediate` mode, only what the table allows, never in dry-run), record findings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from azure.core.exceptions import AzureError

from shared.adapters.aml import MachineLearningAdapter
from shared.adapters.answers import RefusedTargetError, UnexpectedAnswerError
from shared.adapters.errors import describe, is_transient
from shared.adapters.synapse import SynapseAdapter
from shared.adapters.workspace_facts import WorkspaceFactsAdapter, workspace_identity
from shared.arm import ArmId, same_arm_id
from shared.config import Settings
from shared.ledger import ActionRecord, ActionSink
from shared.model import ConnectionStatus, PrivateEndpointConnection, SynapseWorkspace
from shared.planning.synapse_facts import SynapseAnswerError
from shared.policy.engine import evaluate, remediations, summarize
from shared.policy.facts import DependencyKind, PolicyParameters, WorkspaceFacts
from shared.policy.rules import Finding, Remediation, RemediationKind, Status
from shared.reconcilers.intent import NOT_APPLIED, record_intent
from shared.reconcilers.transient import apply_in_order, for_workspace

log = logging.getLogger(__name__)

FINDING = "policy-finding"
REMEDIATION = "policy-remediation"


@dataclass(frozen=True)
class RemediationOutcome:
    remediation: Remediation
    outcome: str


@dataclass(frozen=True)
class PolicyReport:
    """Findings and remediation outcomes for one workspace."""

    workspace_id: ArmId
    findings: tuple[Finding, ...] = ()
    remediations: tuple[RemediationOutcome, ...] = ()
    error: str | None = None

    def summary(self) -> str:
        if self.error is not None:
            return f"policies not evaluated: {self.error}"
        text = status_counts(self.findings)
        fixed = sum(1 for item in self.remediations if item.outcome.startswith("applied"))
        return text + (f", {fixed} remediated" if fixed else "")


def status_counts(findings: Sequence[Finding]) -> str:
    """'8 compliant, 9 non-compliant': the statuses that occur, in name order."""
    return ", ".join(f"{n} {status}" for status, n in sorted(summarize(findings).items()) if n)


def policy_parameters(settings: Settings) -> PolicyParameters:
    return PolicyParameters(
        allowed_vm_sizes=settings.allowed_compute_vm_sizes,
        max_cluster_nodes=settings.max_cluster_nodes,
        hbi_required=settings.hbi_required,
    )


def _compute_name(target_id: str) -> str:
    """The compute's own name: the last segment of an ID that `_belongs_to` accepted."""
    return target_id.rsplit("/", 1)[-1]


def _belongs_to(target_id: str, workspace_id: str) -> bool:
    """Remediation targets: the workspace itself or one of its computes, nothing else."""
    if same_arm_id(target_id, workspace_id):
        return True
    prefix = f"{workspace_id}/computes/".lower()
    rest = target_id.lower()[len(prefix) :] if target_id.lower().startswith(prefix) else ""
    return bool(rest) and "/" not in rest and target_id.isascii()


class PolicyReconciler:
    """Evaluates the policy set for one workspace and applies the allowed remediations."""

    def __init__(
        self,
        settings: Settings,
        facts: WorkspaceFactsAdapter,
        machine_learning: MachineLearningAdapter,
        synapse: SynapseAdapter,
        sink: ActionSink | None,
    ) -> None:
        self._settings = settings
        self._facts = facts
        self._ml = machine_learning
        self._synapse = synapse
        self._sink = sink
        self._parameters = policy_parameters(settings)

    def _synapse_facts(self) -> tuple[tuple[SynapseWorkspace, ...], tuple[str, ...]]:
        found: list[SynapseWorkspace] = []
        errors: list[str] = []
        for synapse_id in self._settings.synapse_workspace_ids:
            try:
                found.append(self._synapse.get_workspace(synapse_id))
            except SynapseAnswerError as error:
                errors.append(f"{synapse_id}: {error}")
            except AzureError as error:
                if is_transient(error):
                    raise
                errors.append(f"{synapse_id}: {describe(error)}")
        return tuple(found), tuple(errors)

    def observe(
        self,
        workspace_id: ArmId,
        connections: Sequence[PrivateEndpointConnection] | None = None,
    ) -> WorkspaceFacts:
        """Read everything the rules need. Raises AzureError when the workspace is unreadable."""
        model = self._facts.workspace(workspace_id)
        if connections is None:
            connections = self._ml.list_connections(workspace_id)
        identity_type, user_assigned = workspace_identity(model)
        hbi = getattr(model, "hbi_workspace", None)
        synapse, synapse_errors = self._synapse_facts()
        return WorkspaceFacts(
            id=workspace_id,
            public_network_access=getattr(model, "public_network_access", None),
            hbi_workspace=hbi if isinstance(hbi, bool) else None,
            identity_type=identity_type,
            user_assigned_identities=user_assigned,
            approved_private_endpoint_connections=sum(
                1 for c in connections if c.status is ConnectionStatus.APPROVED
            ),
            computes=tuple(self._facts.computes(workspace_id)),
            dependencies=(
                self._facts.dependency(DependencyKind.STORAGE, model.storage_account),
                self._facts.dependency(DependencyKind.KEY_VAULT, model.key_vault),
                self._facts.dependency(
                    DependencyKind.CONTAINER_REGISTRY, getattr(model, "container_registry", None)
                ),
            ),
            synapse_workspaces=synapse,
            synapse_errors=synapse_errors,
        )

    def evaluate(
        self,
        workspace_id: ArmId,
        connections: Sequence[PrivateEndpointConnection] | None = None,
    ) -> tuple[Finding, ...]:
        """Read and evaluate; writes nothing (what `plan` shows)."""
        return tuple(evaluate(self.observe(workspace_id, connections), self._parameters))

    def _apply(self, workspace_id: ArmId, remediation: Remediation, trigger: str) -> str:
        if not self._settings.in_scope(workspace_id) or not _belongs_to(
            remediation.target_id, workspace_id
        ):
            return "refused: target is not this in-scope workspace or one of its computes"
        if self._settings.dry_run:
            return "planned (dry-run)"
        record_intent(self._sink, self._action(workspace_id, remediation, "", trigger))
        try:
            if remediation.kind is RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS:
                value = self._facts.disable_public_network_access(workspace_id)
                return f"applied: publicNetworkAccess is now {value}"
            # The target is the configured workspace plus the compute's name: never the ID
            # Azure listed, whose casing or path may name another workspace's compute.
            nodes = self._facts.set_max_nodes(
                workspace_id, _compute_name(remediation.target_id), int(remediation.value)
            )
        except (UnexpectedAnswerError, RefusedTargetError) as error:
            return f"{NOT_APPLIED}: {error}"
        except AzureError as error:
            if is_transient(error):
                raise
            return f"failed: {describe(error)}"
        return f"applied: maxNodeCount is now {nodes}"

    def _action(
        self, workspace_id: ArmId, remediation: Remediation, outcome: str, trigger: str
    ) -> ActionRecord:
        return ActionRecord(
            target_id=workspace_id,
            kind=REMEDIATION,
            verdict=remediation.kind.value,
            subject=remediation.target_id,
            reason=remediation.description,
            mode=f"{self._settings.automation_mode.value}/{self._settings.policy_mode.value}",
            outcome=outcome,
            trigger=trigger,
        )

    def reconcile(
        self,
        workspace_id: ArmId,
        *,
        trigger: str,
        connections: Sequence[PrivateEndpointConnection] | None = None,
    ) -> PolicyReport:
        """Observe, evaluate, remediate (remediate mode), record; transient errors are raised."""
        if not self._settings.in_scope(workspace_id):
            return PolicyReport(workspace_id, error="workspace is not in ML_WORKSPACE_IDS")
        try:
            findings = self.evaluate(workspace_id, connections)
        except AzureError as error:
            if is_transient(error):
                raise for_workspace(workspace_id, error) from error
            self._record(workspace_id, (), (), trigger, error=describe(error))
            return PolicyReport(workspace_id, error=describe(error))
        applied, transient = apply_in_order(
            remediations(findings, remediate=self._settings.remediate),
            lambda remediation: self._apply(workspace_id, remediation, trigger),
        )
        outcomes = [RemediationOutcome(item, outcome) for item, outcome in applied]
        self._record(workspace_id, findings, outcomes, trigger, error=None)
        if transient is not None:
            raise for_workspace(workspace_id, transient) from transient
        return PolicyReport(workspace_id, findings, tuple(outcomes))

    def _record(
        self,
        workspace_id: ArmId,
        findings: Sequence[Finding],
        outcomes: Sequence[RemediationOutcome],
        trigger: str,
        *,
        error: str | None,
    ) -> None:
        mode = f"{self._settings.automation_mode.value}/{self._settings.policy_mode.value}"
        # A finding's row says what became of it, so that "non-compliant" next to "remediated"
        # reads right: the finding is what was observed before the fix.
        fixed = {
            (item.remediation.kind, item.remediation.target_id.lower()): item.outcome
            for item in outcomes
        }

        def finding_outcome(finding: Finding) -> str:
            remediation = finding.remediation
            if remediation is None:
                return "recorded"
            key = (remediation.kind, remediation.target_id.lower())
            return f"remediation {fixed[key]}" if key in fixed else "recorded"

        # Problems are recorded one by one; what passed (or did not apply) goes into one summary
        # row, so a sweep that changes nothing adds a row per problem, not one per rule.
        # The sweep repeats every few minutes: it records, but only an event (something was
        # written) or an operator's run announces findings to people again.
        announce = not trigger.startswith("sweep:")
        problems = [f for f in findings if f.status in (Status.NON_COMPLIANT, Status.UNKNOWN)]
        records = [
            ActionRecord(
                target_id=workspace_id,
                kind=FINDING,
                verdict=finding.status.value,
                subject=finding.target_id,
                reason=f"{finding.rule_id} ({finding.severity.value}): {finding.message}",
                mode=mode,
                outcome=finding_outcome(finding),
                trigger=trigger,
                evidence=finding.rule_id,
                notify=announce,
            )
            for finding in problems
        ]
        if findings:
            records.append(
                ActionRecord(
                    target_id=workspace_id,
                    kind="policy-summary",
                    verdict="evaluated",
                    subject=workspace_id,
                    reason=status_counts(findings),
                    mode=mode,
                    outcome="recorded",
                    trigger=trigger,
                    evidence=",".join(sorted({f.rule_id for f in findings})),
                    notify=False,
                )
            )
        records += [
            self._action(workspace_id, item.remediation, item.outcome, trigger) for item in outcomes
        ]
        if error is not None:
            records.append(
                ActionRecord(
                    target_id=workspace_id,
                    kind=FINDING,
                    verdict="not-evaluated",
                    subject=workspace_id,
                    reason=error,
                    mode=mode,
                    outcome="not evaluated",
                    trigger=trigger,
                )
            )
        for item in outcomes:
            log.info("%s %s: %s", item.remediation.kind, item.remediation.target_id, item.outcome)
        if records and self._sink is not None:
            self._sink.record_actions(records)
