"""Enforcing the policy set on one AML workspace: observe facts, evaluate rules, spare what
`POLICY_EXEMPTIONS` exempts, remediate (only in `remediate` mode, only what the table allows, only
what its guard says is safe, within the run's budget, never in dry-run), record findings."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from azure.core.exceptions import AzureError
from azure.mgmt.core.tools import parse_resource_id

from shared.adapters.aml import MachineLearningAdapter
from shared.adapters.answers import (
    GuardNoLongerHoldsError,
    RefusedTargetError,
    UnexpectedAnswerError,
)
from shared.adapters.errors import describe, is_transient
from shared.adapters.synapse import SynapseAdapter
from shared.adapters.workspace_facts import WorkspaceFactsAdapter, workspace_identity
from shared.arm import ArmId, is_arm_id, same_arm_id, subscription_of
from shared.claims import Claims
from shared.config import Settings
from shared.ledger import ActionRecord, ActionSink, ReportsOnce
from shared.logs import decision_log
from shared.model import ConnectionStatus, PrivateEndpointConnection, SynapseWorkspace
from shared.planning.synapse_facts import SynapseAnswerError
from shared.policy.budget import RemediationBudget, Stop, explain_hourly, hourly_slot
from shared.policy.engine import Candidate, evaluate, guarded_remediations, summarize
from shared.policy.exemptions import Exemption, apply_exemptions
from shared.policy.facts import DependencyKind, PolicyParameters, WorkspaceFacts
from shared.policy.rules import Finding, Remediation, RemediationKind, Status
from shared.reconcilers.intent import NOT_APPLIED, record_intent
from shared.reconcilers.transient import for_workspace

log = logging.getLogger(__name__)

FINDING = "policy-finding"
REMEDIATION = "policy-remediation"
EXEMPTION = "policy-exemption"
DEFERRED = "deferred"
# Why a remediation was deferred, besides the run's budget (`Stop`).
GUARD = "guard"


@dataclass(frozen=True)
class RemediationOutcome:
    """What became of one remediation. `deferred_by` is set when it was not attempted: "guard",
    or the run's stop ("limit reached", "too many failures"); `announce` says whether its record
    is announced (a guard deferral as findings are, a stop once per run)."""

    remediation: Remediation
    outcome: str
    deferred_by: str | None = None
    announce: bool = True

    @property
    def deferred(self) -> bool:
        return self.deferred_by is not None


@dataclass(frozen=True)
class PolicyReport:
    """Findings and remediation outcomes for one workspace."""

    workspace_id: ArmId
    findings: tuple[Finding, ...] = ()
    remediations: tuple[RemediationOutcome, ...] = ()
    error: str | None = None
    # Exemptions that matched a finding but had expired: they counted for nothing.
    expired_exemptions: tuple[Exemption, ...] = field(default=())

    def summary(self) -> str:
        if self.error is not None:
            return f"policies not evaluated: {self.error}"
        text = status_counts(self.findings)
        fixed = sum(1 for item in self.remediations if item.outcome.startswith("applied"))
        deferred = sum(1 for item in self.remediations if item.deferred)
        return (
            text
            + (f", {fixed} remediated" if fixed else "")
            + (f", {deferred} remediation(s) deferred" if deferred else "")
        )


@dataclass(frozen=True)
class PlannedRemediation:
    """One remediation as `plan` shows it: what a run would do with it now, and why."""

    rule_id: str
    target_id: str
    description: str
    disposition: str
    reason: str


@dataclass(frozen=True)
class PolicyPlan:
    """What `plan` shows for one workspace's policies; nothing written, nothing recorded."""

    findings: tuple[Finding, ...]
    remediations: tuple[PlannedRemediation, ...]
    expired_exemptions: tuple[Exemption, ...]


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


def _private_endpoint_subscription(
    connection: PrivateEndpointConnection, workspace_id: ArmId
) -> str | None:
    """The subscription (lower-cased) of the private endpoint behind an Approved connection of
    this workspace; None when the connection gives no private path at all. Approved (any casing,
    as parsed) is not enough on its own: a connection listed for another workspace, or whose
    endpoint is missing or not a private endpoint, gives none."""
    if connection.status is not ConnectionStatus.APPROVED:
        return None
    prefix = f"{workspace_id}/privateEndpointConnections/".lower()
    if not connection.id.lower().startswith(prefix) or "/" in connection.id[len(prefix) :]:
        return None
    endpoint = connection.private_endpoint_id
    if not endpoint or not is_arm_id(endpoint):
        return None
    parts = parse_resource_id(endpoint)
    if (
        str(parts.get("namespace", "")).lower() == "microsoft.network"
        and str(parts.get("type", "")).lower() == "privateendpoints"
        and not parts.get("children")
        and bool(parts.get("name"))
    ):
        return str(parts["subscription"]).lower()
    return None


def customer_subscriptions(settings: Settings, workspace_id: str) -> frozenset[str]:
    """The subscriptions the operator named as the customer's: those of the scope's
    subscriptions, resource groups and workspaces (`ML_SCOPES`, `ML_WORKSPACE_IDS`), and the
    in-scope workspace's own (which a management group scope puts there).

    A private endpoint there is the customer's own, in the customer's network: a private path
    people can use. A managed private endpoint (Synapse, Data Factory, Purview...) lives in the
    service's managed virtual network, in a Microsoft-managed subscription, and serves only that
    service. The subscription in the connection's `privateEndpoint.id` is set by Azure from the
    endpoint resource itself, so nothing a workspace user writes (a name, a description, a
    request message) moves it; to count, someone must create a real private endpoint in one of
    these subscriptions. The Synapse evidence is not consulted: it names only the allow-listed
    workspaces' managed endpoints, never a partner's or another service's, so as a deny-list it
    could never be complete, while this allow-list is by construction.
    """
    return settings.scope.subscriptions | {subscription_of(workspace_id).lower()}


def private_paths(
    connections: Sequence[PrivateEndpointConnection],
    workspace_id: ArmId,
    customers: frozenset[str],
) -> tuple[int, int]:
    """(approved connections of the workspace from a private endpoint, those of them whose
    endpoint is in a `customers` subscription: the private paths people can use)."""
    found = [_private_endpoint_subscription(c, workspace_id) for c in connections]
    approved = [subscription for subscription in found if subscription is not None]
    return len(approved), sum(1 for s in approved if s in customers)


class PolicyReconciler:
    """Evaluates the policy set for one workspace and applies the allowed remediations."""

    def __init__(
        self,
        settings: Settings,
        facts: WorkspaceFactsAdapter,
        machine_learning: MachineLearningAdapter,
        synapse: SynapseAdapter,
        sink: ActionSink | None,
        claims: Claims | None = None,
    ) -> None:
        """`claims` keep each workspace's remediations of the hour (`MAX_REMEDIATIONS_PER_HOUR`)
        in the ledger; None (`plan`, which reads no ledger) counts only this run's."""
        self._settings = settings
        self._claims = claims
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
        customers = customer_subscriptions(self._settings, workspace_id)
        approved, customer = private_paths(connections, workspace_id, customers)
        return WorkspaceFacts(
            id=workspace_id,
            public_network_access=getattr(model, "public_network_access", None),
            hbi_workspace=hbi if isinstance(hbi, bool) else None,
            identity_type=identity_type,
            user_assigned_identities=user_assigned,
            approved_private_endpoint_connections=approved,
            customer_private_endpoint_connections=customer,
            computes=tuple(self._facts.computes(workspace_id)),
            dependencies=(
                self._facts.dependency(DependencyKind.STORAGE, model.storage_account, customers),
                self._facts.dependency(DependencyKind.KEY_VAULT, model.key_vault, customers),
                self._facts.dependency(
                    DependencyKind.CONTAINER_REGISTRY,
                    getattr(model, "container_registry", None),
                    customers,
                ),
            ),
            synapse_workspaces=synapse,
            synapse_errors=synapse_errors,
        )

    def judge(
        self,
        workspace_id: ArmId,
        connections: Sequence[PrivateEndpointConnection] | None = None,
        *,
        now: datetime | None = None,
    ) -> tuple[WorkspaceFacts, tuple[Finding, ...], tuple[Exemption, ...]]:
        """Read and evaluate, exemptions applied at `now`; writes nothing.

        Returns the facts (what the guards judge), the findings, and the expired exemptions
        that matched a finding.
        """
        facts = self.observe(workspace_id, connections)
        judged = apply_exemptions(
            evaluate(facts, self._parameters),
            self._settings.policy_exemptions,
            now or datetime.now(UTC),
        )
        return facts, judged.findings, judged.expired

    def evaluate(
        self,
        workspace_id: ArmId,
        connections: Sequence[PrivateEndpointConnection] | None = None,
    ) -> tuple[Finding, ...]:
        """Read and evaluate, exemptions applied; writes nothing."""
        return self.judge(workspace_id, connections)[1]

    def plan(
        self,
        workspace_id: ArmId,
        budget: RemediationBudget,
        connections: Sequence[PrivateEndpointConnection] | None = None,
    ) -> PolicyPlan:
        """What a run would do now, for `plan`: findings (exempt ones with their exemption) and
        each remediation applied, guarded or deferred, with the reason. Spends `budget` as the
        run would; writes and records nothing. In `audit` mode remediations are shown with
        their guard's verdict, as a preview of `remediate`."""
        facts, findings, expired = self.judge(workspace_id, connections)
        planned: list[PlannedRemediation] = []
        # The hour's remediations of this plan only: `plan` reads no ledger and takes no slot.
        hour: tuple[datetime, ...] = ()
        limit = self._settings.max_remediations_per_hour
        for candidate in guarded_remediations(findings, facts, remediate=True):
            stop = budget.stop()
            if not candidate.guard.safe:
                disposition, reason = "guarded", candidate.guard.reason
            elif not self._settings.remediate:
                disposition = "audit"
                reason = f"POLICY_MODE=audit: reported only; guard: {candidate.guard.reason}"
            elif stop is not None:
                disposition, reason = DEFERRED, budget.explain(stop)
            else:
                window, free_at = hourly_slot(hour, datetime.now(UTC), limit)
                if free_at is not None:
                    disposition, reason = DEFERRED, explain_hourly(limit, free_at)
                else:
                    hour = window
                    budget.spend(failed=False)
                    disposition, reason = "apply", candidate.guard.reason
            remediation = candidate.remediation
            planned.append(
                PlannedRemediation(
                    rule_id=candidate.rule_id,
                    target_id=remediation.target_id,
                    description=remediation.description,
                    disposition=disposition,
                    reason=reason,
                )
            )
        return PolicyPlan(findings, tuple(planned), expired)

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
                # The guard was judged on the run's listing; this read is the last before the
                # write (as a cluster's node counts are): a path rejected or deleted in between
                # leaves public access on.
                connections = self._ml.list_connections(workspace_id)
                customers = customer_subscriptions(self._settings, workspace_id)
                if not private_paths(connections, workspace_id, customers)[1]:
                    return (
                        f"{DEFERRED}: read again just before the write, the workspace has no "
                        "approved private endpoint connection from a subscription in scope: "
                        "disabling public network access would cut off every "
                        "user and pipeline"
                    )
                value = self._facts.disable_public_network_access(workspace_id)
                return f"applied: publicNetworkAccess is now {value}"
            # The target is the configured workspace plus the compute's name: never the ID
            # Azure listed, whose casing or path may name another workspace's compute.
            nodes = self._facts.set_max_nodes(
                workspace_id, _compute_name(remediation.target_id), int(remediation.value)
            )
        except GuardNoLongerHoldsError as error:
            return f"{DEFERRED}: {error}"
        except (UnexpectedAnswerError, RefusedTargetError) as error:
            return f"{NOT_APPLIED}: {error}"
        except AzureError as error:
            if is_transient(error):
                raise
            return f"failed: {describe(error)}"
        return f"applied: maxNodeCount is now {nodes}"

    def _hourly_deferral(self, workspace_id: ArmId, taken: list[datetime]) -> str | None:
        """Take one of the workspace's remediation slots of the hour: None when taken, else why
        not. The ledger's window counts every run and instance; without claims, `taken` (this
        run's own) does. A ledger that cannot count defers: the limit is never assumed."""
        limit = self._settings.max_remediations_per_hour
        now = datetime.now(UTC)
        try:
            if self._claims is not None:
                free_at = self._claims.take_remediation_slot(workspace_id, limit=limit, now=now)
            else:
                window, free_at = hourly_slot(taken, now, limit)
                taken[:] = window
        except AzureError as error:
            return (
                f"{Stop.HOURLY_LIMIT}: the ledger could not count this workspace's remediations "
                f"of the hour ({describe(error)}); deferred to a later run"
            )
        return None if free_at is None else explain_hourly(limit, free_at)

    def _remediate(
        self,
        workspace_id: ArmId,
        candidates: Sequence[Candidate],
        budget: RemediationBudget,
        *,
        announce: bool,
        trigger: str,
    ) -> tuple[list[RemediationOutcome], AzureError | None]:
        """Apply the candidates in order: a guard that says no defers its remediation, the
        run's budget defers the rest once spent, the workspace's hourly limit defers what is
        over it (`MAX_REMEDIATIONS_PER_HOUR`), a transient failure stops the workspace (the
        rest are recorded as not attempted) and is returned to be raised after recording."""
        outcomes: list[RemediationOutcome] = []
        transient: AzureError | None = None
        taken: list[datetime] = []
        for candidate in candidates:
            remediation = candidate.remediation
            if transient is not None:
                outcomes.append(
                    RemediationOutcome(
                        remediation, "not attempted: an earlier write failed transiently"
                    )
                )
                continue
            if not candidate.guard.safe:
                outcomes.append(
                    RemediationOutcome(
                        remediation,
                        f"{DEFERRED}: {candidate.guard.reason}",
                        deferred_by=GUARD,
                        announce=announce,
                    )
                )
                continue
            stop = budget.stop()
            if stop is not None:
                outcomes.append(
                    RemediationOutcome(
                        remediation,
                        f"{DEFERRED}: {budget.explain(stop)}",
                        deferred_by=stop.value,
                        announce=budget.first_announcement(stop),
                    )
                )
                continue
            # Every run is a new budget (five compute writes, five events): the hour's slots,
            # kept in the ledger, bound what all of them do to one workspace.
            held = self._hourly_deferral(workspace_id, taken)
            if held is not None:
                outcomes.append(
                    RemediationOutcome(
                        remediation,
                        f"{DEFERRED}: {held}",
                        deferred_by=Stop.HOURLY_LIMIT.value,
                        announce=announce and budget.first_announcement(Stop.HOURLY_LIMIT),
                    )
                )
                continue
            try:
                outcome = self._apply(workspace_id, remediation, trigger)
            except AzureError as error:
                transient = error
                outcome = f"failed (will retry): {describe(error)}"
            # Refusals wrote nothing; a planned (dry-run) write counts as the real one would; a
            # write whose answer was not what was asked ("not applied") counts as a failure.
            if outcome.startswith(DEFERRED):
                # The guard no longer held when read again just before the write.
                outcomes.append(
                    RemediationOutcome(remediation, outcome, deferred_by=GUARD, announce=announce)
                )
                continue
            if outcome.startswith(("applied", "planned", "failed", NOT_APPLIED)):
                budget.spend(failed=outcome.startswith(("failed", NOT_APPLIED)))
            outcomes.append(RemediationOutcome(remediation, outcome))
        return outcomes, transient

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
        budget: RemediationBudget | None = None,
    ) -> PolicyReport:
        """Observe, evaluate, remediate (remediate mode), record; transient errors are raised.

        `budget` is the run's (a sweep or CLI run shares one across its workspaces); without
        one, this call is a run of its own (one event).
        """
        if budget is None:
            budget = RemediationBudget(self._settings.max_remediations_per_run)
        if not self._settings.in_scope(workspace_id):
            return PolicyReport(workspace_id, error="workspace is not in scope")
        try:
            facts, findings, expired = self.judge(workspace_id, connections)
        except AzureError as error:
            if is_transient(error):
                raise for_workspace(workspace_id, error) from error
            self._record(workspace_id, (), (), trigger, error=describe(error))
            return PolicyReport(workspace_id, error=describe(error))
        outcomes, transient = self._remediate(
            workspace_id,
            guarded_remediations(findings, facts, remediate=self._settings.remediate),
            budget,
            announce=_announces(trigger),
            trigger=trigger,
        )
        self._record(workspace_id, findings, outcomes, trigger, error=None, expired=expired)
        if transient is not None:
            raise for_workspace(workspace_id, transient) from transient
        return PolicyReport(workspace_id, findings, tuple(outcomes), expired_exemptions=expired)

    def _record(
        self,
        workspace_id: ArmId,
        findings: Sequence[Finding],
        outcomes: Sequence[RemediationOutcome],
        trigger: str,
        *,
        error: str | None,
        expired: Sequence[Exemption] = (),
    ) -> None:
        mode = f"{self._settings.automation_mode.value}/{self._settings.policy_mode.value}"
        # A finding's row says what became of it, so that "non-compliant" next to "remediated"
        # reads right: the finding is what was observed before the fix.
        fixed = {
            (item.remediation.kind, item.remediation.target_id.lower()): item.outcome
            for item in outcomes
        }

        def finding_outcome(finding: Finding) -> str:
            if finding.exemption is not None:
                return f"exempt until {finding.exemption.expires.isoformat()}"
            remediation = finding.remediation
            if remediation is None:
                return "recorded"
            key = (remediation.kind, remediation.target_id.lower())
            return f"remediation {fixed[key]}" if key in fixed else "recorded"

        def finding_reason(finding: Finding) -> str:
            reason = f"{finding.rule_id} ({finding.severity.value}): {finding.message}"
            if finding.exemption is not None:
                reason += (
                    f"; exempt until {finding.exemption.expires.isoformat()} "
                    f"(scope {finding.exemption.scope}): {finding.exemption.reason}"
                )
            return reason

        # Problems are recorded one by one; what passed (or did not apply) goes into one summary
        # row, so a sweep that changes nothing adds a row per problem, not one per rule.
        # The sweep repeats every few minutes: it records, but only an event (something was
        # written) or an operator's run announces findings to people again. Exempt findings
        # are recorded, never announced: someone accepted them until their expiry.
        announce = _announces(trigger)
        problems = [
            f for f in findings if f.status in (Status.NON_COMPLIANT, Status.UNKNOWN, Status.EXEMPT)
        ]
        records = [
            ActionRecord(
                target_id=workspace_id,
                kind=FINDING,
                verdict=finding.status.value,
                subject=finding.target_id,
                reason=finding_reason(finding),
                mode=mode,
                outcome=finding_outcome(finding),
                trigger=trigger,
                evidence=finding.rule_id,
                notify=announce and finding.status is not Status.EXEMPT,
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
            ActionRecord(
                target_id=workspace_id,
                kind=REMEDIATION,
                # A deferral is its own verdict (event type `PolicyRemediation.Deferred`), so a
                # Logic App can tell "not done, and why" from the writes.
                verdict=DEFERRED if item.deferred else item.remediation.kind.value,
                subject=item.remediation.target_id,
                reason=item.remediation.description,
                mode=mode,
                outcome=item.outcome,
                trigger=trigger,
                evidence=f"{item.remediation.kind.value}: {item.deferred_by}"
                if item.deferred
                else "",
                notify=item.announce,
            )
            for item in outcomes
        ]
        records += self._expiry_records(workspace_id, expired, mode, trigger)
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
            decision_log(
                log,
                item.remediation.description,
                trigger=trigger,
                workspace_id=workspace_id,
                kind=REMEDIATION,
                verdict=item.remediation.kind.value,
                outcome=item.outcome,
                subject_id=item.remediation.target_id,
                level=logging.ERROR if item.outcome.startswith("failed") else logging.INFO,
            )
        for finding in problems:
            # One line per finding (the README's "findings by rule" query counts them by
            # `customDimensions.rule_id`), like its ledger row.
            decision_log(
                log,
                finding_reason(finding),
                trigger=trigger,
                workspace_id=workspace_id,
                kind=FINDING,
                verdict=finding.status.value,
                outcome=finding_outcome(finding),
                subject_id=finding.target_id,
                extra={"rule_id": finding.rule_id},
            )
        if findings:
            decision_log(
                log,
                status_counts(findings),
                trigger=trigger,
                workspace_id=workspace_id,
                kind="policy-summary",
                verdict="evaluated",
            )
        if error is not None:
            decision_log(
                log,
                error,
                trigger=trigger,
                workspace_id=workspace_id,
                kind=FINDING,
                verdict="not-evaluated",
                level=logging.WARNING,
            )
        if records and self._sink is not None:
            self._sink.record_actions(records)

    def _expiry_records(
        self, workspace_id: ArmId, expired: Sequence[Exemption], mode: str, trigger: str
    ) -> list[ActionRecord]:
        """One record per expired exemption, the first time any run meets it (the ledger
        remembers, across runs and instances); never again after that."""
        memory: object = self._sink
        if not isinstance(memory, ReportsOnce):
            return []
        records = []
        for exemption in expired:
            key = (
                "exemption-expired:"
                + hashlib.sha256(
                    f"{exemption.rule_id}|{exemption.scope.lower()}|{exemption.expires.isoformat()}"
                    f"|{exemption.reason}".encode()
                ).hexdigest()
            )
            if not memory.first_time(key):
                continue
            records.append(
                ActionRecord(
                    target_id=workspace_id,
                    kind=EXEMPTION,
                    verdict="expired",
                    subject=exemption.scope,
                    reason=(
                        f"the exemption from {exemption.rule_id} on {exemption.scope} expired "
                        f"at {exemption.expires.isoformat()} and counts for nothing now "
                        f"(its reason was: {exemption.reason})"
                    ),
                    mode=mode,
                    outcome="reported once",
                    trigger=trigger,
                    evidence=exemption.rule_id,
                )
            )
        return records


def _announces(trigger: str) -> bool:
    """Findings and guard deferrals are announced by events and operators' runs; the sweep,
    which repeats every few minutes, only records them."""
    return not trigger.startswith("sweep:")
