"""Enforcing the policy set on one AML workspace: observe facts, evaluate rules, spare what
`POLICY_EXEMPTIONS` exempts, remediate (only in `remediate` mode, only what the table allows, only
what its guard says is safe, within the run's budget, never in dry-run), record findings."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from azure.core.exceptions import AzureError

from shared.adapters.aml import MachineLearningAdapter
from shared.adapters.answers import GuardNoLongerHoldsError
from shared.adapters.errors import permanent
from shared.adapters.synapse import SynapseAdapter
from shared.adapters.workspace_facts import WorkspaceFactsAdapter
from shared.arm import ArmId, is_resource_type, name_of, same_arm_id, subscription_of
from shared.config import Settings
from shared.ledger import Ledger
from shared.model import (
    ConnectionStatus,
    JudgedAnswerError,
    PrivateEndpointConnection,
)
from shared.outcome import RECORDED, Outcome, Status, noted
from shared.planning.synapse_facts import SynapseAnswerError, text
from shared.policy.engine import Candidate, evaluate, remediations
from shared.policy.exemptions import Exemption, apply_exemptions, native_exemptions
from shared.policy.facts import DependencyKind, PolicyParameters, WorkspaceFacts
from shared.policy.rules import Finding, Remediation, RemediationKind
from shared.policy.rules import Status as FindingStatus
from shared.reconcilers.run import DEFERRED, GUARD, Decision, Run, tally

FINDING = "policy-finding"
REMEDIATION = "policy-remediation"
EXEMPTION = "policy-exemption"
Row = tuple[Decision, Outcome]
# The workspace's connections as the caller read them; None: read them here.
Connections = Sequence[PrivateEndpointConnection] | None


_SHOWN = {Status.DEFERRED: DEFERRED, Status.NOTED: "audit", Status.REFUSED: "refused"}


@dataclass(frozen=True)
class PlannedRemediation:
    """What `plan` shows of a remediation: apply, guarded, deferred, audit or refused, and why."""

    rule_id: str
    target_id: str
    description: str
    disposition: str
    reason: str


def planned(candidate: Candidate, outcome: Outcome) -> PlannedRemediation:
    fix = candidate.remediation
    shown = "guarded" if outcome.by == GUARD else _SHOWN.get(outcome.status)
    why = outcome.detail if shown else candidate.guard.reason
    return PlannedRemediation(
        candidate.rule_id, fix.target_id, fix.description, shown or "apply", why
    )


@dataclass(frozen=True)
class PolicyReport:
    workspace_id: ArmId
    findings: tuple[Finding, ...] = ()
    outcomes: tuple[tuple[Candidate, Outcome], ...] = ()
    error: str | None = None
    # Exemptions that matched a finding but had expired: they counted for nothing.
    expired_exemptions: tuple[Exemption, ...] = ()

    def summary(self) -> str:
        if self.error is not None:
            return f"policies not evaluated: {self.error}"
        done = Counter(outcome.status for _, outcome in self.outcomes)
        fixed, deferred = done[Status.APPLIED], done[Status.DEFERRED]
        return (
            tally(f.status.value for f in self.findings)
            + (f", {fixed} remediated" if fixed else "")
            + (f", {deferred} remediation(s) deferred" if deferred else "")
        )


def customer_subscriptions(settings: Settings, workspace_id: str) -> frozenset[str]:
    """The scope's subscriptions and the workspace's own: a private endpoint there is a path
    people can use; a managed one (Synapse's...) lives in a Microsoft-managed subscription. Azure
    sets `privateEndpoint.id`, so this allow-list is complete, where a deny-list could not be."""
    return settings.scope.subscriptions | {subscription_of(workspace_id).lower()}


def private_paths(
    connections: Sequence[PrivateEndpointConnection], workspace_id: ArmId, customers: frozenset[str]
) -> tuple[int, int]:
    """(Approved connections of the workspace from a private endpoint, those of them from a
    `customers` subscription). One listed for another workspace, or without one, is neither."""
    approved = [
        subscription_of(endpoint).lower()
        for c in connections
        if c.status is ConnectionStatus.APPROVED
        and c.of_workspace(workspace_id)
        and (endpoint := c.private_endpoint_id)
        and is_resource_type(endpoint, "Microsoft.Network", "privateEndpoints")
    ]
    return len(approved), sum(1 for s in approved if s in customers)


@dataclass(frozen=True)
class PolicyReconciler:
    _settings: Settings
    _facts: WorkspaceFactsAdapter
    _ml: MachineLearningAdapter
    _synapse: SynapseAdapter

    @property
    def _mode(self) -> str:
        return f"{self._settings.automation_mode.value}/{self._settings.policy_mode.value}"

    def observe(self, workspace_id: ArmId, connections: Connections = None) -> WorkspaceFacts:
        """Read everything the rules need. Raises AzureError when the workspace is unreadable."""
        model = self._facts.workspace(workspace_id)
        if connections is None:
            connections = self._ml.list_connections(workspace_id)
        identity, hbi = getattr(model, "identity", None), getattr(model, "hbi_workspace", None)
        identities = getattr(identity, "user_assigned_identities", None) or {}
        registry = getattr(model, "container_registry", None)
        dependencies = (model.storage_account, model.key_vault, registry)
        synapse, errors = [], []
        for synapse_id in self._settings.synapse_workspace_ids:
            try:
                synapse.append(self._synapse.get_workspace(synapse_id))
            except (AzureError, SynapseAnswerError) as error:  # transient: raised for the workspace
                errors.append(f"{synapse_id}: {permanent(workspace_id, error)}")
        customers = customer_subscriptions(self._settings, workspace_id)
        approved, customer = private_paths(connections, workspace_id, customers)
        return WorkspaceFacts(
            id=workspace_id,
            public_network_access=getattr(model, "public_network_access", None),
            hbi_workspace=hbi if isinstance(hbi, bool) else None,
            identity_type=text(getattr(identity, "type", None)),
            user_assigned_identities=tuple(sorted(identities)),
            approved_private_endpoint_connections=approved,
            customer_private_endpoint_connections=customer,
            computes=tuple(self._facts.computes(workspace_id)),
            dependencies=tuple(
                self._facts.dependency(kind, resource, customers)
                for kind, resource in zip(DependencyKind, dependencies, strict=True)
            ),
            synapse_workspaces=tuple(synapse),
            synapse_errors=tuple(errors),
        )

    def _remediation(self, workspace_id: ArmId, candidate: Candidate, run: Run) -> Decision:
        """Each remediation's fate, decided once: deferred, shown only, refused or written."""
        fix, guard = candidate.remediation, candidate.guard
        kind, target = fix.kind.value, fix.target_id
        record = run.row(workspace_id, REMEDIATION, kind, target, fix.description, self._mode)
        if not guard.safe:
            deferred = Outcome(Status.DEFERRED, guard.reason, GUARD)
            return Decision(record, outcome=deferred, budgeted=True)
        if not self._settings.remediate:
            audit = f"POLICY_MODE=audit: reported only; guard: {guard.reason}"
            return Decision(record, outcome=noted(audit), ledger=False, logged=False)
        # Remediation targets: the workspace itself (in scope: `reconcile`) or one of its computes.
        parent, _, compute = target.rpartition("/")
        own = same_arm_id(target, workspace_id) or (
            target.isascii() and bool(compute) and same_arm_id(parent, f"{workspace_id}/computes")
        )
        if not own:
            refused = "target is not this in-scope workspace or one of its computes"
            return Decision(record, outcome=Outcome(Status.REFUSED, refused), budgeted=True)
        return Decision(record, write=lambda: self._write(workspace_id, fix), budgeted=True)

    def _write(self, workspace_id: ArmId, remediation: Remediation) -> str:
        if remediation.kind is RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS:
            # Read again just before the write: a path rejected since the guard leaves it on.
            connections = self._ml.list_connections(workspace_id)
            customers = customer_subscriptions(self._settings, workspace_id)
            if not private_paths(connections, workspace_id, customers)[1]:
                raise GuardNoLongerHoldsError(
                    "read again just before the write, the workspace has no approved private "
                    "endpoint connection from a subscription in scope: disabling public "
                    "network access would cut off every user and pipeline"
                )
            value = self._facts.disable_public_network_access(workspace_id)
            return f"publicNetworkAccess is now {value}"
        # The configured workspace plus the compute's name, never the listed ID (which may name
        # another workspace's compute).
        name = name_of(remediation.target_id)
        nodes = self._facts.set_max_nodes(workspace_id, name, int(remediation.value))
        return f"maxNodeCount is now {nodes}"

    def reconcile(
        self, workspace_id: ArmId, run: Run, *, connections: Connections = None
    ) -> PolicyReport:
        """Observe, evaluate, spare the exempt; `run` remediates and records; transients raise."""
        if not self._settings.in_scope(workspace_id):
            return PolicyReport(workspace_id, error="workspace is not in scope")
        settings, assignments = self._settings, self._settings.policy_assignment_ids
        try:
            facts = self.observe(workspace_id, connections)
            # POLICY_EXEMPTIONS and Azure Policy's own exemptions: one mechanism.
            existing = self._facts.policy_exemptions(workspace_id) if assignments else ()
        except (AzureError, JudgedAnswerError) as error:  # the latter: an answer about another
            verdicts = {"verdict": "not-evaluated", "outcome": "not evaluated"}
            why = run.not_reconciled(workspace_id, FINDING, error, mode=self._mode, **verdicts)
            return PolicyReport(workspace_id, error=why)
        parameters = PolicyParameters(
            settings.allowed_compute_vm_sizes, settings.max_cluster_nodes, settings.hbi_required
        )
        native = native_exemptions(existing, assignments, workspace_id)
        exemptions, now = (*settings.policy_exemptions, *native), datetime.now(UTC)
        findings, expired = apply_exemptions(evaluate(facts, parameters), exemptions, now)
        # Audit mode plans no remediation, but `plan` shows what remediate mode would do.
        candidates = remediations(findings, facts) if settings.remediate or run.preview else []
        self._report_expired(workspace_id, expired, run)
        decisions = [self._remediation(workspace_id, c, run) for c in candidates]
        done = list(zip(decisions, run.execute(decisions), strict=True))
        rows = self._finding_rows(workspace_id, findings, done, run)
        run.record(workspace_id, [*rows, *done])
        outcomes = tuple(zip(candidates, (o for _, o in done), strict=True))
        return PolicyReport(workspace_id, findings, outcomes, expired_exemptions=expired)

    def _finding_rows(
        self, workspace_id: ArmId, findings: Sequence[Finding], done: Sequence[Row], run: Run
    ) -> list[Row]:
        """Problems one by one, what passed in one summary row; exempt findings are recorded,
        never announced. A row says what became of its finding (observed before the fix)."""
        fixed = {(d.record.verdict, d.record.subject.lower()): o for d, o in done}
        problems = (FindingStatus.NON_COMPLIANT, FindingStatus.UNKNOWN, FindingStatus.EXEMPT)
        rows = []
        for finding in (f for f in findings if f.status in problems):
            reason = f"{finding.rule_id} ({finding.severity.value}): {finding.message}"
            fix, exempt = finding.remediation, finding.exemption
            if exempt is not None:
                reason += f"; exempt until {exempt.until} (scope {exempt.scope}): {exempt.reason}"
                outcome = Outcome(Status.EXEMPT, exempt.until)
            elif fix and (key := (fix.kind.value, fix.target_id.lower())) in fixed:
                outcome = noted(f"remediation {fixed[key]}")
            else:
                outcome = RECORDED
            notify = run.announces and finding.status is not FindingStatus.EXEMPT
            row = run.row(workspace_id, FINDING, finding.status.value, finding.target_id, reason,
                          self._mode, finding.rule_id, notify=notify)  # fmt: skip
            # The README's "findings by rule" query counts lines by this field.
            rows.append((Decision(row, extra={"rule_id": finding.rule_id}), outcome))
        if findings:
            rules = ",".join(sorted({f.rule_id for f in findings}))
            counts = tally(f.status.value for f in findings)
            summary = run.row(workspace_id, "policy-summary", "evaluated", workspace_id, counts,
                              self._mode, rules, notify=False)  # fmt: skip
            rows.append((Decision(summary, bare=True), RECORDED))
        return rows

    def _report_expired(self, workspace_id: ArmId, expired: Sequence[Exemption], run: Run) -> None:
        """One row per expired exemption, the first time any run meets it; recorded, not logged.
        Before the remediations, whose transient failure `record` would raise instead."""
        memory = run.sink
        if not isinstance(memory, Ledger) or run.preview:
            return
        rows, keys = [], []
        for exemption in expired:
            scope, rule, expires = exemption.scope, exemption.rule_id, exemption.expires.isoformat()
            key = f"{rule}|{scope.lower()}|{expires}|{exemption.reason}".encode()
            once = f"exemption-expired:{hashlib.sha256(key).hexdigest()}"
            if not memory.first_time(once):
                continue
            reason = (
                f"the exemption from {rule} on {scope} expired at {expires} and counts for "
                f"nothing now (its reason was: {exemption.reason})"
            )
            record = run.row(workspace_id, EXEMPTION, "expired", scope, reason, self._mode, rule)
            rows.append((Decision(record, logged=False), noted("reported once")))
            keys.append(once)
        run.record(workspace_id, rows)
        for once in keys:
            memory.reported(once)
